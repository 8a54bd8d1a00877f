"""Charts shared by every chapter: a theme that renders Chinese, colours, helpers.

Importing this module registers the bundled CJK font (``playbook/fonts``, a
subset of WenQuanYi Micro Hei, Apache-2.0) with matplotlib, so Chinese text
renders on a machine with no CJK system font. :func:`use_theme` then sets the
house style; call it once at the top of a notebook (after any
``sns.set_theme``, which would reset the fonts)::

    from playbook import charts
    charts.use_theme()
    ax = charts.bar_with_labels(gmv_by_province, "province", "gmv", fmt="money")
    ax.set_title("GMV 按省份")

Conventions
-----------
* Plot helpers take ``ax=None`` (meaning the current Axes, ``plt.gca()``, as
  seaborn does), return the Axes they drew on, never call ``show`` or
  ``savefig`` and never modify the frames they are given.
* Money is written in Chinese units: below 1万 in full with thousands
  separators (``¥8,650``, ``¥89.90``), from 1万 in 万 with one decimal
  (``¥123.5万``), from 1亿 in 亿 with two (``¥3.21亿``). Axes formatted by
  :func:`format_money_axis` use one unit for all their ticks.
* Percentages are fractions (0.031 is 3.1%).
* Missing values are written "—" by :func:`money` and :func:`pct`.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib import colors as mcolors
from matplotlib import font_manager, ticker
from matplotlib.axes import Axes

from .i18n import column_label

__all__ = [
    "ALERT_COLORS",
    "CHANNEL_COLORS",
    "CJK_FONT",
    "FONT_FAMILY",
    "FONT_PATH",
    "LATIN_FONT",
    "PALETTE",
    "MoneyFormatter",
    "annotate_threshold",
    "bar_with_labels",
    "channel_color",
    "format_money_axis",
    "format_pct_axis",
    "heatmap",
    "line_chart",
    "money",
    "pct",
    "register_font",
    "use_theme",
    "waterfall",
]

# --------------------------------------------------------------------------- fonts

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "PlaybookCJK-Regular.ttf"
"""The bundled CJK font file (see ``playbook/fonts/README.md``)."""

CJK_FONT = "Playbook CJK"
"""Family name of the bundled font, as matplotlib knows it."""

LATIN_FONT = "DejaVu Sans"
"""Latin font drawn first; matplotlib ships it, so it is always there."""

FONT_FAMILY = [LATIN_FONT, CJK_FONT]
"""``font.family`` set by :func:`use_theme`: Latin first, CJK as fallback."""


def register_font() -> str:
    """Register the bundled CJK font with matplotlib's font manager.

    Called when this module is imported; calling it again does nothing. The font
    is only made available: :func:`use_theme` is what puts it in ``font.family``.

    Returns
    -------
    str
        The family name to use in font properties, ``"Playbook CJK"``.

    Raises
    ------
    FileNotFoundError
        If the font file is missing (the package was installed without its
        package data).

    Examples
    --------
    >>> register_font()
    'Playbook CJK'
    """
    if not FONT_PATH.is_file():
        raise FileNotFoundError(
            f"bundled CJK font not found at {FONT_PATH}; reinstall the playbook package "
            "with its package data (playbook/fonts/*)"
        )
    registered = any(
        Path(entry.fname).resolve() == FONT_PATH for entry in font_manager.fontManager.ttflist
    )
    if not registered:
        font_manager.fontManager.addfont(str(FONT_PATH))
    return CJK_FONT


register_font()

# --------------------------------------------------------------------------- colours

PALETTE = [
    "#4E79A7",  # blue
    "#F28E2B",  # orange
    "#E15759",  # red
    "#76B7B2",  # teal
    "#59A14F",  # green
    "#EDC948",  # yellow
    "#B07AA1",  # purple
    "#FF9DA7",  # pink
    "#9C755F",  # brown
    "#BAB0AC",  # grey
]
"""Categorical palette (Tableau 10) for anything that is not a sales channel."""

CHANNEL_COLORS = {
    "tmall": "#E4393C",  # Tmall red
    "jd": "#4E79A7",  # blue
    "douyin": "#17BECF",  # Douyin cyan
    "xiaohongshu": "#FF7BAC",  # Xiaohongshu pink
    "own_site": "#F28E2B",  # orange
    "wechat_mini": "#59A14F",  # WeChat green
    "other": "#A0A0A0",  # grey
}
"""One fixed colour per sales channel, the same in every chapter."""

ALERT_COLORS = {
    "good": "#2E7D32",  # dark green: on target, an increase
    "bad": "#C62828",  # dark red: breach, a decrease
    "neutral": "#8C8C8C",  # grey: context, the rest
    "highlight": "#7B2CBF",  # purple: the one thing to look at
}
"""Colours for alert states and emphasis (thresholds, waterfall steps, highlights)."""

_TOTAL_COLOR = PALETTE[0]
_MISSING = "—"


def channel_color(channel: str) -> str:
    """Return the fixed colour of a sales channel.

    Parameters
    ----------
    channel : str
        A channel code: ``tmall``, ``jd``, ``douyin``, ``xiaohongshu``,
        ``own_site``, ``wechat_mini`` or ``other``. Unknown codes get the
        colour of ``other``.

    Returns
    -------
    str
        A hex colour.

    Examples
    --------
    >>> channel_color("tmall")
    '#E4393C'
    >>> channel_color("pinduoduo") == CHANNEL_COLORS["other"]
    True
    """
    return CHANNEL_COLORS.get(channel, CHANNEL_COLORS["other"])


# --------------------------------------------------------------------------- theme

# seaborn's "whitegrid" style and its plotting contexts (seaborn 0.13, ``sns.set_theme``), written
# out so that the theme does not import seaborn and scipy.stats in every report kernel (about 0.7 s
# of CPU each); tests/test_charts.py checks them against seaborn.
_WHITEGRID: dict[str, Any] = {
    "figure.facecolor": "white", "axes.facecolor": "white", "axes.labelcolor": ".15", "text.color": ".15",
    "xtick.direction": "out", "ytick.direction": "out", "xtick.color": ".15", "ytick.color": ".15",
    "axes.axisbelow": True, "axes.grid": True, "grid.linestyle": "-", "grid.color": ".8", "axes.edgecolor": ".8",
    "lines.solid_capstyle": "round", "patch.edgecolor": "w", "patch.force_edgecolor": True,
    "xtick.top": False, "ytick.right": False, "xtick.bottom": False, "ytick.left": False,
    "axes.spines.left": True, "axes.spines.bottom": True, "axes.spines.right": True, "axes.spines.top": True,
}
_CONTEXT_SCALE = {"paper": 0.8, "notebook": 1.0, "talk": 1.5, "poster": 2.0}
_CONTEXT_LINES = {
    "axes.linewidth": 1.25, "grid.linewidth": 1.0, "lines.linewidth": 1.5, "lines.markersize": 6.0,
    "patch.linewidth": 1.0, "xtick.major.width": 1.25, "ytick.major.width": 1.25, "xtick.minor.width": 1.0,
    "ytick.minor.width": 1.0, "xtick.major.size": 6.0, "ytick.major.size": 6.0, "xtick.minor.size": 4.0,
    "ytick.minor.size": 4.0,
}
_CONTEXT_FONTS = {
    "font.size": 12.0, "axes.labelsize": 12.0, "axes.titlesize": 12.0, "xtick.labelsize": 11.0,
    "ytick.labelsize": 11.0, "legend.fontsize": 11.0, "legend.title_fontsize": 12.0,
}


def _theme_rc() -> dict[str, Any]:
    return {
        "font.family": list(FONT_FAMILY),
        # For text asking for the generic "sans-serif" family, matplotlib uses only
        # the first font found, so the complete (Latin + CJK) font comes first.
        "font.sans-serif": [CJK_FONT, LATIN_FONT],
        "axes.unicode_minus": False,
        "figure.figsize": (8.0, 4.5),
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "savefig.bbox": "tight",
        "axes.titlelocation": "left",
        "axes.titlepad": 10.0,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.edgecolor": ".7",
        "grid.color": ".9",
        "legend.frameon": False,
        # Embed TrueType outlines in PDF/PS (text stays selectable, files smaller).
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
    }


def use_theme(*, context: str = "notebook", font_scale: float = 1.0) -> None:
    """Apply the playbook's chart style; safe to call any number of times.

    Sets seaborn's ``whitegrid`` style with light grid lines and no top/right
    spines, an 8 x 4.5 inch figure (800 x 450 px on screen, saved at 150 dpi),
    the categorical :data:`PALETTE`, left-aligned titles, ASCII minus signs and
    ``font.family = ["DejaVu Sans", "Playbook CJK"]``: Latin text is drawn in
    DejaVu Sans and every character it lacks (Chinese) in the bundled font.
    Text that asks for the generic ``"sans-serif"`` family gets the bundled font
    alone (it has Latin too). Titles are left-aligned: read them back with
    ``ax.get_title(loc="left")``.

    Tables get the house style too: a displayed DataFrame shows at most 25 rows
    (the first and last 10 beyond that) and cuts text cells at 60 characters, so
    a report page stays readable; action lists keep every row in their files.

    Parameters
    ----------
    context : {"notebook", "paper", "talk", "poster"}, default "notebook"
        Seaborn plotting context (sizes of text and lines).
    font_scale : float, default 1.0
        Extra scaling of all text sizes.

    Returns
    -------
    None

    Examples
    --------
    >>> use_theme()
    >>> import matplotlib as mpl
    >>> mpl.rcParams["font.family"]
    ['DejaVu Sans', 'Playbook CJK']
    """
    register_font()
    if context not in _CONTEXT_SCALE:
        raise ValueError(f"context must be one of {', '.join(_CONTEXT_SCALE)}, not {context!r}")
    scale = _CONTEXT_SCALE[context]
    rc = dict(_WHITEGRID)
    rc.update({k: v * scale for k, v in _CONTEXT_LINES.items()})
    rc.update({k: v * scale * font_scale for k, v in _CONTEXT_FONTS.items()})
    rc["axes.prop_cycle"] = cycler(color=[mcolors.to_rgb(c) for c in PALETTE])
    rc.update(_theme_rc())
    mpl.rcParams.update(rc)
    pd.set_option("display.max_rows", 25)
    pd.set_option("display.min_rows", 20)
    pd.set_option("display.max_colwidth", 60)


# --------------------------------------------------------------------------- text formatters

def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _money_parts(a: float, decimals: int | None) -> tuple[float, str, int]:
    """Scale a non-negative amount to (value, unit, decimals) in 万/亿 style."""
    if a >= 1e8:
        scaled, unit, d = a / 1e8, "亿", 2
    elif a >= 1e4:
        scaled, unit, d = a / 1e4, "万", 1
    else:
        scaled, unit = a, ""
        d = 0 if abs(a - round(a)) < 0.005 else 2
    if decimals is not None:
        d = decimals
    # Rounding can carry into the next unit: 9,999.996 -> 1.0万, 9,999.96万 -> 1.00亿.
    if unit == "" and round(scaled, d) >= 1e4:
        scaled, unit, d = a / 1e4, "万", 1 if decimals is None else decimals
    if unit == "万" and round(scaled, d) >= 1e4:
        scaled, unit, d = a / 1e8, "亿", 2 if decimals is None else decimals
    return scaled, unit, d


def money(
    x: float | None, *, currency: str = "¥", decimals: int | None = None, signed: bool = False
) -> str:
    """Format an amount of money as short text in 万/亿 units.

    Below 1万 the amount is written in full with thousands separators, with no
    decimals when it is whole and two otherwise; from 1万 it is written in 万 with
    one decimal; from 1亿 in 亿 with two decimals.

    Parameters
    ----------
    x : float or None
        The amount, in yuan. ``None`` and NaN give "—".
    currency : str, default "¥"
        Prefix written after the sign.
    decimals : int, optional
        Number of decimals, overriding the defaults above.
    signed : bool, default False
        Prefix positive amounts with "+" (for changes and bridge steps).

    Returns
    -------
    str

    Examples
    --------
    >>> money(1234567)
    '¥123.5万'
    >>> money(89.9)
    '¥89.90'
    >>> money(8650)
    '¥8,650'
    >>> money(-321_000_000)
    '-¥3.21亿'
    >>> money(52_000, signed=True)
    '+¥5.2万'
    """
    if _is_missing(x):
        return _MISSING
    x = float(x)
    scaled, unit, d = _money_parts(abs(x), decimals)
    rounded = round(scaled, d)
    sign = ""
    if rounded != 0:
        sign = "-" if x < 0 else ("+" if signed else "")
    return f"{sign}{currency}{rounded:,.{d}f}{unit}"


def pct(x: float | None, *, decimals: int = 1, signed: bool = False) -> str:
    """Format a fraction as a percentage.

    Parameters
    ----------
    x : float or None
        A fraction: 0.031 is 3.1%. ``None`` and NaN give "—".
    decimals : int, default 1
        Number of decimals of the percentage.
    signed : bool, default False
        Prefix positive values with "+" (for changes in rates).

    Returns
    -------
    str

    Examples
    --------
    >>> pct(0.031)
    '3.1%'
    >>> pct(0.25, decimals=0)
    '25%'
    >>> pct(0.004, signed=True)
    '+0.4%'
    """
    if _is_missing(x):
        return _MISSING
    value = float(x) * 100
    rounded = round(abs(value), decimals)
    sign = ""
    if rounded != 0:
        sign = "-" if value < 0 else ("+" if signed else "")
    return f"{sign}{rounded:.{decimals}f}%"


def _plain_number(v: float) -> str:
    if abs(v - round(v)) < 0.005 or abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.2f}".rstrip("0").rstrip(".")


class _Fmt(NamedTuple):
    label: Callable[[float, bool], str]  # (value, signed) -> text
    axis: str | None  # "money", "pct" or None


def _resolve_fmt(fmt: str | Callable[[float], str] | None, currency: str = "¥") -> _Fmt:
    """Turn a ``fmt`` argument into a label function and an axis kind."""

    def plus(text: str, v: float, signed: bool) -> str:
        return f"+{text}" if signed and v > 0 else text

    if fmt is None:
        return _Fmt(lambda v, s: plus(_plain_number(v), v, s), None)
    if fmt == "money":
        return _Fmt(lambda v, s: money(v, currency=currency, signed=s), "money")
    if fmt == "pct":
        return _Fmt(lambda v, s: pct(v, signed=s), "pct")
    if isinstance(fmt, str):
        if "{" in fmt:
            return _Fmt(lambda v, s: plus(fmt.format(v), v, s), None)
        return _Fmt(lambda v, s: plus(format(v, fmt), v, s), None)
    if callable(fmt):
        return _Fmt(lambda v, s: plus(fmt(v), v, s), None)
    raise TypeError(f"fmt must be None, 'money', 'pct', a format string or a callable, not {fmt!r}")


def _label(f: _Fmt, v: float, signed: bool = False) -> str:
    return "" if _is_missing(v) else f.label(float(v), signed)


# --------------------------------------------------------------------------- axis formatters

def _decimals_needed(values: np.ndarray, most: int = 3) -> int:
    """Fewest decimals that write every value exactly (tick values are round)."""
    if values.size == 0:
        return 0
    tol = 1e-6 * max(1.0, float(np.abs(values).max()))
    for d in range(most + 1):
        if np.all(np.abs(np.round(values, d) - values) <= tol):
            return d
    return most


class MoneyFormatter(ticker.Formatter):
    """Tick formatter writing money in 万/亿, one unit for all ticks of an axis.

    The unit is chosen from the largest visible tick: ticks 0, 50,000, 100,000,
    150,000 are written ¥0, ¥5万, ¥10万, ¥15万; decimals are as few as the ticks
    need. Used by :func:`format_money_axis`; can also be set on a colour bar.

    Parameters
    ----------
    currency : str, default "¥"
        Prefix of every label.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax.yaxis.set_major_formatter(MoneyFormatter())
    """

    def __init__(self, currency: str = "¥") -> None:
        self.currency = currency
        self._scale, self._unit, self._decimals = 1.0, "", 0

    def set_locs(self, locs: Sequence[float]) -> None:
        super().set_locs(locs)
        values = np.asarray(locs, dtype=float)
        values = values[np.isfinite(values)]
        if self.axis is not None and values.size:
            lo, hi = sorted(self.axis.get_view_interval())
            slack = 1e-9 * max(abs(lo), abs(hi), 1.0)
            inside = values[(values >= lo - slack) & (values <= hi + slack)]
            if inside.size:
                values = inside
        top = float(np.abs(values).max()) if values.size else 0.0
        if top >= 1e8:
            self._scale, self._unit = 1e8, "亿"
        elif top >= 1e4:
            self._scale, self._unit = 1e4, "万"
        else:
            self._scale, self._unit = 1.0, ""
        self._decimals = _decimals_needed(values / self._scale)

    def __call__(self, x: float, pos: int | None = None) -> str:
        v = round(x / self._scale, self._decimals)
        if v == 0:
            return f"{self.currency}0"
        sign = "-" if v < 0 else ""
        return f"{sign}{self.currency}{abs(v):,.{self._decimals}f}{self._unit}"

    def format_data_short(self, value: float) -> str:
        return money(value, currency=self.currency)


def _axes_of(ax: Axes, axis: str) -> list:
    if axis == "x":
        return [ax.xaxis]
    if axis == "y":
        return [ax.yaxis]
    if axis == "both":
        return [ax.xaxis, ax.yaxis]
    raise ValueError(f"axis must be 'x', 'y' or 'both', not {axis!r}")


def format_money_axis(ax: Axes, axis: str = "y", currency: str = "¥") -> Axes:
    """Label an axis's ticks as money in 万/亿 units (see :class:`MoneyFormatter`).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The Axes to change.
    axis : {"y", "x", "both"}, default "y"
        Which axis holds the amounts.
    currency : str, default "¥"
        Prefix of every tick label.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``, for chaining.

    Examples
    --------
    >>> fig, ax = plt.subplots()
    >>> _ = ax.bar(["天猫", "京东"], [1_250_000, 830_000])
    >>> format_money_axis(ax)  # ticks ¥0, ¥20万, ... ¥120万  # doctest: +SKIP
    """
    for a in _axes_of(ax, axis):
        a.set_major_formatter(MoneyFormatter(currency))
    return ax


def format_pct_axis(ax: Axes, axis: str = "y", *, xmax: float = 1.0, decimals: int | None = None) -> Axes:
    """Label an axis's ticks as percentages.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The Axes to change.
    axis : {"y", "x", "both"}, default "y"
        Which axis holds the rates.
    xmax : float, default 1.0
        The value that is 100%: 1.0 for fractions, 100 for data already in percent.
    decimals : int, optional
        Decimals of the labels; by default as few as the tick spacing needs.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``, for chaining.

    Examples
    --------
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([1, 2, 3], [0.021, 0.034, 0.052])
    >>> format_pct_axis(ax)  # ticks 2.0%, 2.5%, ...  # doctest: +SKIP
    """
    for a in _axes_of(ax, axis):
        a.set_major_formatter(ticker.PercentFormatter(xmax=xmax, decimals=decimals))
    return ax


def _format_value_axis(ax: Axes, kind: str | None, axis: str, currency: str = "¥") -> None:
    if kind == "money":
        format_money_axis(ax, axis, currency)
    elif kind == "pct":
        format_pct_axis(ax, axis)


# --------------------------------------------------------------------------- annotations

def annotate_threshold(
    ax: Axes,
    value: float,
    label: str,
    axis: str = "y",
    *,
    color: str = ALERT_COLORS["bad"],
    linestyle: str = "--",
    linewidth: float = 1.2,
) -> Axes:
    """Draw a rule-of-thumb line across the plot with a short label on it.

    For example the 5% bad-review line on a chart of bad-review rates, or a
    break-even ROI of 1.0. The line is kept out of legends.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The Axes to draw on.
    value : float
        Position of the line in data units of ``axis``.
    label : str
        Text written at the end of the line (right end of a horizontal line,
        top of a vertical one).
    axis : {"y", "x"}, default "y"
        ``"y"``: a horizontal line at y = ``value``; ``"x"``: a vertical line at
        x = ``value``.
    color : str, default ``ALERT_COLORS["bad"]``
        Colour of the line and the label.
    linestyle : str, default "--"
    linewidth : float, default 1.2

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.

    Examples
    --------
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot(["1月", "2月", "3月"], [0.031, 0.042, 0.058])
    >>> _ = format_pct_axis(ax)
    >>> _ = annotate_threshold(ax, 0.05, "5% 差评警戒线")
    """
    style = {"color": color, "linestyle": linestyle, "linewidth": linewidth, "zorder": 3}
    if axis == "y":
        ax.axhline(value, label=f"_{label}", **style)
        ax.annotate(
            label, xy=(1.0, value), xycoords=("axes fraction", "data"),
            xytext=(-4, 3), textcoords="offset points",
            ha="right", va="bottom", color=color, fontsize="small", zorder=4,
        )
    elif axis == "x":
        ax.axvline(value, label=f"_{label}", **style)
        ax.annotate(
            label, xy=(value, 1.0), xycoords=("data", "axes fraction"),
            xytext=(-3, -4), textcoords="offset points",
            ha="right", va="top", rotation=90, color=color, fontsize="small", zorder=4,
        )
    else:
        raise ValueError(f"axis must be 'x' or 'y', not {axis!r}")
    return ax


# --------------------------------------------------------------------------- plot helpers

def _get_ax(ax: Axes | None) -> Axes:
    return plt.gca() if ax is None else ax


def _set_title(ax: Axes, title: str | None) -> None:
    if title is not None:
        ax.set_title(title)


def _require_columns(data: pd.DataFrame, *columns: str | None) -> None:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    missing = [c for c in columns if c is not None and c not in data.columns]
    if missing:
        raise KeyError(f"columns not in data: {missing}; data has {list(data.columns)}")


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _level_colors(
    levels: Sequence[Any],
    palette: Mapping[Any, str] | Sequence[str] | str | None,
    single: str | None,
) -> list[str]:
    """Colours for category levels.

    ``palette`` may map levels to colours (missing levels are grey), list colours
    (cycled) or name a seaborn palette. Without it, levels that are all channel
    codes get :data:`CHANNEL_COLORS`; otherwise ``single`` (one colour for all) or,
    if that is None, :data:`PALETTE` cycled.
    """
    n = len(levels)
    if isinstance(palette, Mapping):
        return [palette.get(level, ALERT_COLORS["neutral"]) for level in levels]
    if isinstance(palette, str):
        import seaborn as sns  # named palettes only; imported here to keep kernels light

        return [mcolors.to_hex(c) for c in sns.color_palette(palette, n)]
    if palette is not None:
        colors = list(palette)
        return [colors[i % len(colors)] for i in range(n)]
    if n and all(isinstance(level, str) and level in CHANNEL_COLORS for level in levels):
        return [CHANNEL_COLORS[level] for level in levels]
    if single is not None:
        return [single] * n
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


def bar_with_labels(
    data: pd.DataFrame,
    x: str,
    y: str,
    *,
    ax: Axes | None = None,
    horizontal: bool = False,
    sort: bool = False,
    fmt: str | Callable[[float], str] | None = None,
    color: str | None = None,
    palette: Mapping[Any, str] | Sequence[str] | str | None = None,
    highlight: Iterable[Any] | None = None,
    title: str | None = None,
    currency: str = "¥",
) -> Axes:
    """Bar chart with each bar's value written on it.

    One bar per row of ``data``, in row order (or sorted by value). Bars of sales
    channels (``x`` values that are all channel codes) take their
    :data:`CHANNEL_COLORS`; other bars are one colour unless told otherwise.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per bar.
    x : str
        Column of category labels (province, channel, SKU title ...); must be unique.
    y : str
        Column of values.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; the current Axes by default.
    horizontal : bool, default False
        Horizontal bars, first row at the top (better for long product titles).
    sort : bool, default False
        Sort bars by value, largest first.
    fmt : {"money", "pct"}, str, callable or None
        How values are written: ``"money"`` (:func:`money`, and the value axis in
        万/亿), ``"pct"`` (:func:`pct`, and a percentage axis), a format string
        (``"{:.1f}"`` or ``".1f"``) or a function of the value. By default whole
        numbers with thousands separators.
    color : str, optional
        One colour for all bars. By default channel bars take their channel
        colours and other bars the first :data:`PALETTE` colour.
    palette : mapping, list of colours or palette name, optional
        Colours per category: a dict from ``x`` value to colour (unlisted values
        grey), or colours cycled in bar order.
    highlight : iterable, optional
        ``x`` values to draw in ``ALERT_COLORS["highlight"]``; all other bars are
        then ``ALERT_COLORS["neutral"]``. Overrides ``color`` and ``palette``.
    title : str, optional
        Axes title (Chinese is fine once :func:`use_theme` has run).
    currency : str, default "¥"
        Currency prefix when ``fmt="money"``.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    KeyError
        If ``x`` or ``y`` is not a column.
    ValueError
        If ``x`` has duplicates (aggregate first).

    Examples
    --------
    >>> df = pd.DataFrame({"province": ["广东", "浙江", "江苏"],
    ...                    "gmv": [1_860_000, 1_240_000, 980_000]})
    >>> fig, ax = plt.subplots()
    >>> ax = bar_with_labels(df, "province", "gmv", ax=ax, fmt="money", highlight=["浙江"])
    >>> [t.get_text() for t in ax.texts]
    ['¥186.0万', '¥124.0万', '¥98.0万']
    """
    _require_columns(data, x, y)
    frame = data[[x, y]].copy()
    if frame[x].duplicated().any():
        dupes = frame.loc[frame[x].duplicated(), x].unique().tolist()
        raise ValueError(f"{x!r} has duplicate values {dupes[:5]}; aggregate to one row per bar first")
    if sort:
        frame = frame.sort_values(y, ascending=False, kind="stable")
    ax = _get_ax(ax)
    f = _resolve_fmt(fmt, currency)
    categories = frame[x].tolist()
    values = frame[y].astype(float).to_numpy()
    labels = [str(c) for c in categories]

    if highlight is not None:
        marked = set(highlight)
        colors = [ALERT_COLORS["highlight"] if c in marked else ALERT_COLORS["neutral"] for c in categories]
    elif palette is None and color is not None:
        colors = [color] * len(categories)
    else:
        colors = _level_colors(categories, palette, PALETTE[0])

    positions = np.arange(len(categories))
    if horizontal:
        bars = ax.barh(positions, values, color=colors, height=0.7)
        ax.set_yticks(positions, labels)
        if not ax.yaxis_inverted():
            ax.invert_yaxis()
        ax.set_ylabel(column_label(x))
        ax.set_xlabel(column_label(y))
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.12)
        value_axis = "x"
    else:
        bars = ax.bar(positions, values, color=colors, width=0.7)
        ax.set_xticks(positions, labels)
        if len(labels) * max((_display_width(s) for s in labels), default=0) > 56:
            plt.setp(ax.get_xticklabels(), rotation=30, ha="right", rotation_mode="anchor")
        ax.set_xlabel(column_label(x))
        ax.set_ylabel(column_label(y))
        ax.grid(axis="x", visible=False)
        ax.margins(y=0.12)
        value_axis = "y"
    ax.bar_label(bars, labels=[_label(f, v) for v in values], padding=3, fontsize="small")
    _format_value_axis(ax, f.axis, value_axis, currency)
    _set_title(ax, title)
    return ax


def _x_values(values: pd.Series) -> tuple[pd.Series, list[str] | None]:
    """Plottable x values for a line chart, and the category labels if categorical.

    Periods become timestamps; text that is all ``YYYY-MM`` (as in monthly KPI
    tables) or all ``YYYY-MM-DD`` is parsed to timestamps, so months sort and
    space correctly; other text becomes positions 0, 1, 2 ... in order of
    appearance, labelled with the text.
    """
    if isinstance(values.dtype, pd.PeriodDtype):
        return values.dt.to_timestamp(), None
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return values, None
    text = values.astype(str)
    for pattern, fmt in ((r"\d{4}-\d{2}", "%Y-%m"), (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d")):
        if text.str.fullmatch(pattern).all():
            return pd.to_datetime(text, format=fmt), None
    categories = list(pd.unique(text))
    position = {c: i for i, c in enumerate(categories)}
    return text.map(position).astype(int), categories


def line_chart(
    data: pd.DataFrame,
    x: str,
    y: str,
    *,
    hue: str | None = None,
    ax: Axes | None = None,
    hue_order: Sequence[Any] | None = None,
    palette: Mapping[Any, str] | Sequence[str] | str | None = None,
    color: str | None = None,
    fmt: str | None = None,
    marker: str | None = "o",
    title: str | None = None,
    currency: str = "¥",
) -> Axes:
    """Line chart of ``y`` over ``x``, one line per ``hue`` level.

    Rows are sorted by ``x`` within each line. Datetime and period ``x``
    columns, and text columns of months (``"2024-01"``) or dates, make a date
    axis with concise labels; other text is placed in order of first appearance.
    Lines of sales channels (``hue`` levels that are all channel codes) take their
    :data:`CHANNEL_COLORS`.

    Parameters
    ----------
    data : pandas.DataFrame
        Long format: one row per point.
    x : str
        Column for the horizontal axis (month, date, week number ...).
    y : str
        Column of values.
    hue : str, optional
        Column splitting the data into lines (channel, category ...). A legend
        titled with the column name is drawn outside the plot, on the right.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; the current Axes by default.
    hue_order : sequence, optional
        Order of the lines (and legend); by default the order of appearance.
    palette : mapping, list of colours or palette name, optional
        Colours of the lines: a dict from level to colour (unlisted levels grey)
        or colours cycled in ``hue_order``.
    color : str, optional
        Colour of the line when there is no ``hue``.
    fmt : {"money", "pct"}, optional
        Format the y axis with :func:`format_money_axis` or :func:`format_pct_axis`.
    marker : str or None, default "o"
        Point marker; None for plain lines.
    title : str, optional
        Axes title (Chinese is fine once :func:`use_theme` has run).
    currency : str, default "¥"
        Currency prefix when ``fmt="money"``.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    KeyError
        If a named column is missing.
    ValueError
        If an ``x`` value repeats within a line (aggregate first).

    Examples
    --------
    >>> df = pd.DataFrame({
    ...     "month": pd.to_datetime(["2024-01-01", "2024-02-01"] * 2),
    ...     "channel": ["tmall", "tmall", "douyin", "douyin"],
    ...     "gmv": [820_000, 760_000, 310_000, 450_000],
    ... })
    >>> fig, ax = plt.subplots()
    >>> ax = line_chart(df, "month", "gmv", hue="channel", ax=ax, fmt="money")
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['tmall', 'douyin']
    """
    _require_columns(data, x, y, hue)
    if fmt not in (None, "money", "pct"):
        raise ValueError(f"fmt must be 'money', 'pct' or None, not {fmt!r}")
    cols = [x, y] if hue is None else [x, y, hue]
    frame = data[cols].copy()
    keys = [x] if hue is None else [hue, x]
    if frame.duplicated(subset=keys).any():
        raise ValueError(
            f"{x!r} repeats within a line (by {keys}); aggregate to one row per point first"
        )
    frame[x], categories = _x_values(frame[x])
    ax = _get_ax(ax)
    style = {"marker": marker, "markersize": 4, "linewidth": 2}

    if hue is None:
        frame = frame.sort_values(x, kind="stable")
        ax.plot(frame[x], frame[y], color=color or PALETTE[0], label=y, **style)
    else:
        levels = list(hue_order) if hue_order is not None else list(pd.unique(frame[hue]))
        colors = _level_colors(levels, palette, None)
        for level, c in zip(levels, colors):
            part = frame[frame[hue] == level].sort_values(x, kind="stable")
            ax.plot(part[x], part[y], color=c, label=str(level), **style)
        ax.legend(title=column_label(hue), loc="upper left", bbox_to_anchor=(1.01, 1.0))

    if categories is not None:
        step = max(1, math.ceil(len(categories) / 12))
        ticks = list(range(0, len(categories), step))
        ax.set_xticks(ticks, [categories[i] for i in ticks])
    elif pd.api.types.is_datetime64_any_dtype(frame[x]):
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel(column_label(x))
    ax.set_ylabel(column_label(y))
    _format_value_axis(ax, fmt, "y", currency)
    _set_title(ax, title)
    return ax


def waterfall(
    steps: pd.Series,
    *,
    ax: Axes | None = None,
    end_label: str = "End",
    end: float | None = None,
    fmt: str | Callable[[float], str] | None = "money",
    colors: Mapping[str, str] | None = None,
    connectors: bool = True,
    title: str | None = None,
    currency: str = "¥",
) -> Axes:
    """Waterfall (bridge) chart from a start total through contributions to an end total.

    ``steps`` holds the start total first and then the signed contributions, in
    order, e.g. a GMV bridge ``{"上月 GMV": 1_000_000, "新客": +200_000,
    "退款": -50_000, "客单价": +30_000}``. The end total (start + contributions)
    is added as a last bar. Totals are drawn from zero; each contribution floats
    from the running total, green up, red down, with dashed connectors. The
    patches of the returned Axes are, in order: start, each contribution, end.

    Parameters
    ----------
    steps : pandas.Series
        Start total, then contributions; the index gives the bar labels.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; the current Axes by default.
    end_label : str, default "End"
        Label of the end-total bar (e.g. "本月 GMV").
    end : float, optional
        The end total as known independently (e.g. this month's GMV). If given,
        it must equal start + contributions, or the bridge does not reconcile and
        ValueError is raised.
    fmt : {"money", "pct"}, str, callable or None, default "money"
        How bar values are written (contributions with a sign) and, for "money"
        and "pct", how the value axis is formatted.
    colors : mapping, optional
        Overrides for the keys ``"total"``, ``"increase"``, ``"decrease"``.
    connectors : bool, default True
        Draw dashed lines joining consecutive bars at the running total.
    title : str, optional
        Axes title (Chinese is fine once :func:`use_theme` has run).
    currency : str, default "¥"
        Currency prefix when ``fmt="money"``.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``steps`` is empty or has missing values, or ``end`` does not reconcile.

    Examples
    --------
    >>> bridge = pd.Series({"上月 GMV": 1_000_000, "新客": 200_000,
    ...                     "退款": -50_000, "客单价": 30_000})
    >>> fig, ax = plt.subplots()
    >>> ax = waterfall(bridge, ax=ax, end_label="本月 GMV", end=1_180_000)
    >>> float(ax.patches[-1].get_height())
    1180000.0
    """
    if not isinstance(steps, pd.Series):
        raise TypeError(f"steps must be a pandas Series, not {type(steps).__name__}")
    if steps.empty:
        raise ValueError("steps is empty: give at least the start total")
    if steps.isna().any():
        raise ValueError(f"steps has missing values at {steps.index[steps.isna()].tolist()}")
    values = steps.astype(float).to_numpy()
    start, deltas = values[0], values[1:]
    total = start + deltas.sum()
    if end is not None and not math.isclose(total, end, rel_tol=1e-9, abs_tol=1e-6):
        raise ValueError(
            f"bridge does not reconcile: start + contributions = {total:,.2f}, end = {end:,.2f} "
            f"(difference {end - total:,.2f})"
        )
    palette = {"total": _TOTAL_COLOR, "increase": ALERT_COLORS["good"], "decrease": ALERT_COLORS["bad"]}
    palette.update(colors or {})
    f = _resolve_fmt(fmt, currency)
    ax = _get_ax(ax)
    width = 0.6

    # (bottom, height, colour, label text, label above?) per bar
    bars: list[tuple[float, float, str, str, bool]] = []
    bars.append((min(0.0, start), abs(start), palette["total"], _label(f, start), start >= 0))
    running = start
    levels = [running]
    for d in deltas:
        colour = palette["increase"] if d >= 0 else palette["decrease"]
        bars.append((min(running, running + d), abs(d), colour, _label(f, d, signed=True), d >= 0))
        running += d
        levels.append(running)
    bars.append((min(0.0, total), abs(total), palette["total"], _label(f, total), total >= 0))

    for i, (bottom, height, colour, text, above) in enumerate(bars):
        ax.bar(i, height, bottom=bottom, width=width, color=colour, zorder=2)
        ax.annotate(
            text, xy=(i, bottom + height if above else bottom),
            xytext=(0, 3 if above else -3), textcoords="offset points",
            ha="center", va="bottom" if above else "top", fontsize="small",
        )
    if connectors:
        for i, level in enumerate(levels):
            ax.plot([i + width / 2, i + 1 - width / 2], [level, level],
                    color=".45", linewidth=0.8, linestyle="--", zorder=1)
    if min(min(levels), total) < 0:
        ax.axhline(0, color=".3", linewidth=0.8, zorder=1)

    labels = [str(k) for k in steps.index] + [end_label]
    ax.set_xticks(range(len(labels)), labels)
    if len(labels) * max(_display_width(s) for s in labels) > 56:
        plt.setp(ax.get_xticklabels(), rotation=30, ha="right", rotation_mode="anchor")
    ax.grid(axis="x", visible=False)
    ax.margins(y=0.12)
    _format_value_axis(ax, f.axis, "y", currency)
    _set_title(ax, title)
    return ax


def _index_labels(index: pd.Index) -> list[str]:
    if isinstance(index, pd.DatetimeIndex):
        if len(index) and (index.normalize() == index).all():
            fmt = "%Y-%m" if (index.day == 1).all() else "%Y-%m-%d"
            return list(index.strftime(fmt))
    return [str(v) for v in index]


def heatmap(
    matrix: pd.DataFrame,
    *,
    ax: Axes | None = None,
    fmt: str | Callable[[float], str] | None = "pct",
    cmap: str = "Blues",
    annot: bool = True,
    cbar: bool = True,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
    currency: str = "¥",
    **kwargs: Any,
) -> Axes:
    """Annotated heatmap of a matrix with missing cells left blank (cohort tables).

    Made for cohort matrices (first-order month x months since, repeat-purchase
    rates) where the lower-right triangle is NaN: NaN cells are masked, neither
    coloured nor written.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Numbers; its index and columns label the rows and columns (monthly
        timestamps are written ``YYYY-MM``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; the current Axes by default.
    fmt : {"pct", "money"}, str, callable or None, default "pct"
        How cells are written: :func:`pct`, :func:`money`, a format string
        (``".0f"`` or ``"{:.1f}"``) or a function of the value. "pct" and "money"
        also format the colour bar.
    cmap : str, default "Blues"
        Colour map.
    annot : bool, default True
        Write the value in each cell.
    cbar : bool, default True
        Draw a colour bar.
    vmin, vmax : float, optional
        Colour scale limits; the data's range by default.
    title : str, optional
        Axes title (Chinese is fine once :func:`use_theme` has run).
    currency : str, default "¥"
        Currency prefix when ``fmt="money"``.
    **kwargs
        ``annot_kws`` (text properties of the cell labels, e.g. ``{"fontsize": 7}``), ``norm`` (a
        matplotlib colour normalisation such as ``LogNorm()``), ``linewidths`` and ``linecolor``.
        Drawn like :func:`seaborn.heatmap` but with matplotlib alone, so that report kernels do
        not import seaborn and scipy.stats.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If every cell is missing.

    Examples
    --------
    >>> cohort = pd.DataFrame(
    ...     [[1.0, 0.32, 0.21], [1.0, 0.29, None], [1.0, None, None]],
    ...     index=pd.period_range("2024-01", periods=3, freq="M"), columns=[0, 1, 2])
    >>> fig, ax = plt.subplots()
    >>> ax = heatmap(cohort, ax=ax)
    >>> sorted(t.get_text() for t in ax.texts)[:3]
    ['100.0%', '100.0%', '100.0%']
    """
    if not isinstance(matrix, pd.DataFrame):
        raise TypeError(f"matrix must be a pandas DataFrame, not {type(matrix).__name__}")
    values = matrix.apply(pd.to_numeric, errors="coerce").astype(float)
    mask = values.isna()
    if mask.to_numpy().all():
        raise ValueError("every cell of the matrix is missing")
    f = _resolve_fmt(fmt, currency)
    ax = _get_ax(ax)
    labels = np.array([[_label(f, v) for v in row] for row in values.to_numpy()], dtype=object) if annot else None
    _draw_heatmap(ax, np.ma.masked_invalid(values.to_numpy()), labels, _index_labels(matrix.index),
                  _index_labels(matrix.columns), cmap=cmap, cbar=cbar, vmin=vmin, vmax=vmax, **kwargs)
    ax.set_ylabel(matrix.index.name or "")
    ax.set_xlabel(matrix.columns.name or "")
    ax.tick_params(axis="y", labelrotation=0)
    ax.grid(False)
    if cbar and f.axis is not None and ax.collections and ax.collections[0].colorbar is not None:
        cb_axis = ax.collections[0].colorbar.ax.yaxis
        if f.axis == "pct":
            cb_axis.set_major_formatter(ticker.PercentFormatter(xmax=1.0))
        else:
            cb_axis.set_major_formatter(MoneyFormatter(currency))
    _set_title(ax, title)
    return ax


def _draw_heatmap(ax: Axes, values: np.ma.MaskedArray, labels, rows: list[str], cols: list[str], *, cmap, cbar,
                  vmin, vmax, annot_kws: Mapping[str, Any] | None = None, norm=None, linewidths: float = 0.5,
                  linecolor: str = "white") -> None:
    """The cells (row 0 on top), their labels in a colour that reads on the cell, the tick labels
    and the colour bar: what ``seaborn.heatmap`` draws, in matplotlib."""
    n_rows, n_cols = values.shape
    mesh = ax.pcolormesh(np.arange(n_cols + 1), np.arange(n_rows + 1), values, cmap=cmap, norm=norm,
                         vmin=None if norm is not None else vmin, vmax=None if norm is not None else vmax,
                         edgecolors=linecolor, linewidth=linewidths)
    ax.set(xlim=(0, n_cols), ylim=(n_rows, 0))
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(left=False, bottom=False)
    step_x = _tick_step(ax, n_cols, "x")
    step_y = _tick_step(ax, n_rows, "y")
    ax.set_xticks(np.arange(0, n_cols, step_x) + 0.5, [cols[i] for i in range(0, n_cols, step_x)])
    ax.set_yticks(np.arange(0, n_rows, step_y) + 0.5, [rows[i] for i in range(0, n_rows, step_y)])
    if any(len(c) > 3 for c in cols) and n_cols > 6:
        ax.tick_params(axis="x", labelrotation=90)
    if labels is not None:
        mesh.update_scalarmappable()
        colours = mesh.get_facecolors()
        text_kws = {"fontsize": "small", **dict(annot_kws or {})}
        cells = ~np.ma.getmaskarray(values)
        flat = 0
        for i in range(n_rows):
            for j in range(n_cols):
                if cells[i, j]:
                    r, g, b = (_linear(c) for c in colours[flat][:3])
                    light = 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.408
                    ax.text(j + 0.5, i + 0.5, labels[i, j], ha="center", va="center",
                            color=".15" if light else "w", **text_kws)
                flat += 1
    if cbar:
        bar = ax.figure.colorbar(mesh, ax=ax)
        bar.outline.set_linewidth(0)


def _linear(c: float) -> float:
    """sRGB channel to linear light (for the relative luminance that picks the label colour)."""
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def _tick_step(ax: Axes, n: int, axis: str) -> int:
    """Label every cell when the labels fit along the axis, else every k-th (seaborn's "auto")."""
    bbox = ax.get_window_extent()
    length = (bbox.width if axis == "x" else bbox.height) / ax.figure.dpi * 72
    size = mpl.font_manager.FontProperties(size=mpl.rcParams[f"{axis}tick.labelsize"]).get_size_in_points()
    fits = max(1, int(length / (size * 1.3)))
    return max(1, int(np.ceil(n / fits)))


# --------------------------------------------------------------------------- skipped sections

def note_frame(message: str) -> pd.DataFrame:
    """A one-cell table carrying a note (what a skipped section shows instead of its table)."""
    return pd.DataFrame({"note": [message]})


def draw_note(ax=None, note: str = "", title: str | None = None) -> Axes:
    """An empty chart that says why it is empty (e.g. "needs the inventory table"); returns the Axes."""
    ax = ax if ax is not None else plt.gca()
    ax.text(0.5, 0.5, note, ha="center", va="center", wrap=True, transform=ax.transAxes,
            fontsize="small", color="#555555")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
