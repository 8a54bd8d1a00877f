"""Tests of playbook.charts: the bundled CJK font, the theme, formatters and plot helpers."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless, whatever MPLBACKEND says

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.ft2font import FT2Font  # noqa: E402

from playbook import charts  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PRODUCT = "户外折叠露营椅 便携轻量"
PROVINCES = ["广东", "浙江", "江苏"]


@pytest.fixture(autouse=True)
def _theme():
    """Every test starts from the playbook theme and leaves rcParams as it found them."""
    with matplotlib.rc_context():
        charts.use_theme()
        yield
    plt.close("all")


def _gb2312() -> set[int]:
    out = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return out


def _chinese_figure():
    """A figure with Chinese in the title, tick labels, legend, labels and free text."""
    fig, ax = plt.subplots()
    gmv = pd.DataFrame({"province": PROVINCES, "gmv": [1_860_000, 1_240_000, 980_000]})
    charts.bar_with_labels(gmv, "province", "gmv", ax=ax, fmt="money")
    ax.plot([0, 1, 2], [1_500_000, 1_300_000, 1_100_000], color="k", label="满减后 GMV")
    ax.plot([0, 1, 2], [1_000_000, 900_000, 800_000], label="客单价（元）")
    ax.legend(title="渠道：天猫、京东")
    ax.set_title("客单价 by 渠道")
    ax.set_xlabel("省份")
    ax.set_ylabel("GMV ¥")
    ax.text(0, 500_000, PRODUCT)
    charts.annotate_threshold(ax, 1_700_000, "5% 差评警戒线")
    fig.suptitle("【月报】《经营看板》¥１２３，－５％ — Latin text 0123")
    return fig


# --------------------------------------------------------------------------- font


def test_font_is_shipped_small_licensed_and_covers_gb2312():
    assert charts.FONT_PATH.is_file()
    assert charts.FONT_PATH.parent == REPO / "playbook" / "fonts"
    assert charts.FONT_PATH.stat().st_size < 3 * 1024 * 1024
    licence = (charts.FONT_PATH.parent / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0" in licence
    assert (charts.FONT_PATH.parent / "README.md").is_file()
    cmap = FT2Font(str(charts.FONT_PATH)).get_charmap()
    wanted = _gb2312() | set(range(0x20, 0x7F)) | {ord(c) for c in "¥￥，。、：（）【】《》％"}
    missing = sorted(wanted - set(cmap))
    assert not missing, "".join(map(chr, missing[:50]))


def test_font_is_registered_once_under_its_own_name():
    entries = [f for f in font_manager.fontManager.ttflist if Path(f.fname).resolve() == charts.FONT_PATH]
    assert entries and all(f.name == charts.CJK_FONT for f in entries)
    assert charts.register_font() == charts.CJK_FONT
    charts.register_font()
    again = [f for f in font_manager.fontManager.ttflist if Path(f.fname).resolve() == charts.FONT_PATH]
    assert len(again) == len(entries)


def test_matplotlib_resolves_cjk_to_the_package_font():
    found = font_manager.findfont(
        font_manager.FontProperties(family=charts.CJK_FONT), fallback_to_default=False
    )
    assert Path(found).resolve() == charts.FONT_PATH

    # The fallback chain of the theme, as matplotlib builds it (one font per family).
    family = matplotlib.rcParams["font.family"]
    assert family == [charts.LATIN_FONT, charts.CJK_FONT]
    chain = [
        Path(font_manager.findfont(font_manager.FontProperties(family=f), fallback_to_default=False)).resolve()
        for f in family
    ]
    cmaps = [FT2Font(str(p)).get_charmap() for p in chain]

    def first_with(ch: str) -> Path:
        return next(p for p, cm in zip(chain, cmaps) if ord(ch) in cm)

    assert first_with("A").name == "DejaVuSans.ttf"  # Latin stays in the Latin font
    for ch in "客单价渠道广东浙江苏满减露营椅，。【】":
        assert first_with(ch) == charts.FONT_PATH, ch


def test_chinese_renders_without_missing_glyph_warnings():
    fig = _chinese_figure()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any "Glyph ... missing from font(s)" fails
        fig.canvas.draw()
        for fmt in ("png", "svg"):
            fig.savefig(io.BytesIO(), format=fmt)
        pdf = io.BytesIO()
        fig.savefig(pdf, format="pdf")
    texts = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert texts == PROVINCES
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["满减后 GMV", "客单价（元）"]
    # The PDF embeds the packaged font: it really drew the Chinese glyphs.
    assert b"PlaybookCJK-Regular" in pdf.getvalue()
    assert b"DejaVuSans" in pdf.getvalue()


def test_the_missing_glyph_check_would_catch_a_missing_font():
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        fig, ax = plt.subplots()  # text takes its font when created
        ax.set_title("客单价")
        with pytest.warns(UserWarning, match="missing from font"):
            fig.canvas.draw()


def test_fresh_process_with_empty_font_cache_renders_chinese(tmp_path):
    """Like a fresh machine: new matplotlib cache, font registered only by importing the module."""
    script = textwrap.dedent(
        f"""
        import io, warnings
        warnings.filterwarnings("error", message="Glyph .* missing from font")
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import font_manager
        from playbook import charts
        charts.use_theme()
        fig, ax = plt.subplots()
        ax.bar({PROVINCES!r}, [3, 2, 1], label="客单价")
        ax.set_title("客单价 by 渠道 {PRODUCT}")
        ax.legend()
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="png")
        print(font_manager.findfont(font_manager.FontProperties(family=charts.CJK_FONT),
                                    fallback_to_default=False))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPL")}
    env.update(MPLCONFIGDIR=str(tmp_path), MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip().splitlines()[-1]).resolve() == charts.FONT_PATH


# --------------------------------------------------------------------------- theme


def test_use_theme_settings_and_idempotence():
    first = dict(matplotlib.rcParams)
    charts.use_theme()
    charts.use_theme()
    assert dict(matplotlib.rcParams) == first
    rc = matplotlib.rcParams
    assert rc["axes.unicode_minus"] is False
    assert rc["font.family"][0] == charts.LATIN_FONT
    assert rc["axes.facecolor"] == "white"
    cycle = [to_hex(c) for c in rc["axes.prop_cycle"].by_key()["color"]]
    assert cycle[:3] == [c.lower() for c in charts.PALETTE[:3]]



@pytest.mark.parametrize("context, font_scale", [("notebook", 1.0), ("talk", 1.3)])
def test_use_theme_matches_seaborn_whitegrid_without_importing_it(context, font_scale):
    """The theme is seaborn's whitegrid style and plotting context, written out so that kernels do
    not import seaborn (and scipy.stats); it must stay what ``sns.set_theme`` gives."""
    import seaborn as sns

    with matplotlib.rc_context():
        sns.set_theme(context=context, style="whitegrid", palette=charts.PALETTE, font_scale=font_scale,
                      rc=charts._theme_rc())
        expected = dict(matplotlib.rcParams)
    with matplotlib.rc_context():
        charts.use_theme(context=context, font_scale=font_scale)
        got = dict(matplotlib.rcParams)
    differ = {k: (got[k], expected[k]) for k in expected if got[k] != expected[k] and k != "image.cmap"}
    assert differ == {}
    with pytest.raises(ValueError, match="context"):
        charts.use_theme(context="billboard")


def test_importing_charts_does_not_import_seaborn_or_scipy_stats():
    code = "import sys, playbook.charts; print('seaborn' in sys.modules, 'scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]

def test_colours():
    assert set(charts.CHANNEL_COLORS) == {
        "tmall", "jd", "douyin", "xiaohongshu", "own_site", "wechat_mini", "other"
    }
    assert len(set(charts.CHANNEL_COLORS.values())) == len(charts.CHANNEL_COLORS)
    assert set(charts.ALERT_COLORS) == {"good", "bad", "neutral", "highlight"}
    assert charts.channel_color("douyin") == charts.CHANNEL_COLORS["douyin"]
    assert charts.channel_color("pinduoduo") == charts.CHANNEL_COLORS["other"]


# --------------------------------------------------------------------------- text formatters


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (1_234_567, {}, "¥123.5万"),
        (10_000, {}, "¥1.0万"),
        (9_999, {}, "¥9,999"),
        (8_650, {}, "¥8,650"),
        (89.9, {}, "¥89.90"),
        (1_234.5, {}, "¥1,234.50"),
        (0, {}, "¥0"),
        (-56_000, {}, "-¥5.6万"),
        (321_000_000, {}, "¥3.21亿"),
        (-321_000_000, {}, "-¥3.21亿"),
        (99_999_999, {}, "¥1.00亿"),  # 9999.99999万 rounds up into 亿
        (9_999.996, {}, "¥1.0万"),  # 9,999.996 rounds up into 万
        (52_000, {"signed": True}, "+¥5.2万"),
        (-52_000, {"signed": True}, "-¥5.2万"),
        (1_234_567, {"decimals": 2}, "¥123.46万"),
        (1_234_567, {"currency": "$"}, "$123.5万"),
        (np.int64(20_000), {}, "¥2.0万"),
        (None, {}, "—"),
        (float("nan"), {}, "—"),
        (pd.NA, {}, "—"),
    ],
)
def test_money(value, kwargs, expected):
    assert charts.money(value, **kwargs) == expected


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (0.031, {}, "3.1%"),
        (0.25, {"decimals": 0}, "25%"),
        (1.0, {}, "100.0%"),
        (-0.0042, {}, "-0.4%"),
        (0.004, {"signed": True}, "+0.4%"),
        (0.0, {"signed": True}, "0.0%"),
        (0.12345, {"decimals": 2}, "12.35%"),
        (None, {}, "—"),
        (np.nan, {}, "—"),
    ],
)
def test_pct(value, kwargs, expected):
    assert charts.pct(value, **kwargs) == expected


# --------------------------------------------------------------------------- axis formatters


def _ticklabels(ax: Axes, axis: str = "y") -> list[str]:
    ax.figure.canvas.draw()
    labels = ax.get_yticklabels() if axis == "y" else ax.get_xticklabels()
    return [t.get_text() for t in labels if t.get_text()]


@pytest.mark.parametrize(
    ("top", "unit"),
    [(8_000, ""), (1_860_000, "万"), (3.2e8, "亿")],
)
def test_money_axis_uses_one_unit_for_all_ticks(top, unit):
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [top / 3, top])
    assert charts.format_money_axis(ax) is ax
    labels = _ticklabels(ax)
    assert labels[0] == "¥0"
    assert all(s.startswith("¥") for s in labels)
    if unit:
        assert all(s.endswith(unit) for s in labels[1:])
    else:
        assert not any(s.endswith(("万", "亿")) for s in labels)
    assert len(set(labels)) == len(labels)


def test_money_axis_x_and_pct_axis():
    fig, ax = plt.subplots()
    ax.barh(["天猫", "京东"], [120_000, 90_000])
    charts.format_money_axis(ax, axis="x")
    assert all(s.endswith("万") for s in _ticklabels(ax, "x")[1:])
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [0.021, 0.034, 0.052])
    assert charts.format_pct_axis(ax) is ax
    labels = _ticklabels(ax)
    assert labels and all(s.endswith("%") for s in labels)
    with pytest.raises(ValueError):
        charts.format_pct_axis(ax, axis="z")


def test_annotate_threshold():
    fig, ax = plt.subplots()
    ax.plot(["1月", "2月", "3月"], [0.031, 0.042, 0.038], label="差评率")
    assert charts.annotate_threshold(ax, 0.05, "5% 差评警戒线") is ax
    line = ax.lines[-1]
    assert list(line.get_ydata()) == [0.05, 0.05]
    assert to_hex(line.get_color()) == charts.ALERT_COLORS["bad"].lower()
    assert [t.get_text() for t in ax.texts] == ["5% 差评警戒线"]
    assert ax.get_ylim()[1] >= 0.05  # the line is in view even above the data
    legend = ax.legend()
    assert [t.get_text() for t in legend.get_texts()] == ["差评率"]
    charts.annotate_threshold(ax, 1, "春节", axis="x")
    assert list(ax.lines[-1].get_xdata()) == [1, 1]
    with pytest.raises(ValueError):
        charts.annotate_threshold(ax, 1, "x", axis="z")


# --------------------------------------------------------------------------- plot helpers


def test_bar_with_labels():
    df = pd.DataFrame({"province": PROVINCES, "gmv": [980_000, 1_860_000, 1_240_000]})
    before = df.copy(deep=True)
    fig, ax = plt.subplots()
    out = charts.bar_with_labels(df, "province", "gmv", ax=ax, fmt="money", sort=True, highlight=["浙江"])
    assert out is ax
    pd.testing.assert_frame_equal(df, before)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["浙江", "江苏", "广东"]
    assert [t.get_text() for t in ax.texts] == ["¥186.0万", "¥124.0万", "¥98.0万"]
    assert [p.get_height() for p in ax.patches] == [1_860_000, 1_240_000, 980_000]
    colors = [to_hex(p.get_facecolor()) for p in ax.patches]
    assert colors[0] == charts.ALERT_COLORS["highlight"].lower()
    assert colors[1] == colors[2] == charts.ALERT_COLORS["neutral"].lower()
    assert all(s.endswith("万") for s in _ticklabels(ax)[1:])


def test_bar_with_labels_channels_horizontal_and_pct():
    df = pd.DataFrame({"channel": ["tmall", "douyin", "jd"], "rate": [0.031, 0.052, 0.018]})
    fig, ax = plt.subplots()
    charts.bar_with_labels(df, "channel", "rate", ax=ax, horizontal=True, fmt="pct")
    assert [to_hex(p.get_facecolor()) for p in ax.patches] == [
        charts.CHANNEL_COLORS[c].lower() for c in df["channel"]
    ]
    assert [t.get_text() for t in ax.texts] == ["3.1%", "5.2%", "1.8%"]
    assert ax.yaxis_inverted()  # first row on top
    assert [p.get_width() for p in ax.patches] == [0.031, 0.052, 0.018]
    assert all(s.endswith("%") for s in _ticklabels(ax, "x"))
    fig, ax = plt.subplots()
    charts.bar_with_labels(df, "channel", "rate", ax=ax, color="#123456", fmt="{:.3f}")
    assert {to_hex(p.get_facecolor()) for p in ax.patches} == {"#123456"}
    assert [t.get_text() for t in ax.texts] == ["0.031", "0.052", "0.018"]


def test_bar_with_labels_rejects_bad_input():
    df = pd.DataFrame({"province": ["广东", "广东"], "gmv": [1, 2]})
    with pytest.raises(ValueError, match="duplicate"):
        charts.bar_with_labels(df, "province", "gmv")
    with pytest.raises(KeyError):
        charts.bar_with_labels(df, "province", "revenue")


def test_line_chart_channels():
    months = pd.period_range("2024-01", periods=3, freq="M")
    df = pd.DataFrame({
        "month": list(months) * 2,
        "channel": ["douyin"] * 3 + ["tmall"] * 3,
        "aov": [120.0, 131.5, 128.0, 182.0, 190.0, 201.0],
    })
    df = df.sample(frac=1, random_state=0)  # unsorted input
    before = df.copy(deep=True)
    fig, ax = plt.subplots()
    out = charts.line_chart(df, "month", "aov", hue="channel", ax=ax, fmt="money",
                            hue_order=["tmall", "douyin"])
    assert out is ax
    pd.testing.assert_frame_equal(df, before)
    assert [line.get_label() for line in ax.lines] == ["tmall", "douyin"]
    assert [to_hex(line.get_color()) for line in ax.lines] == [
        charts.CHANNEL_COLORS["tmall"].lower(), charts.CHANNEL_COLORS["douyin"].lower()
    ]
    assert list(ax.lines[0].get_ydata()) == [182.0, 190.0, 201.0]  # sorted by month
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["tmall", "douyin"]
    assert ax.get_legend().get_title().get_text() == "channel"
    assert all(s.startswith("¥") for s in _ticklabels(ax))


def test_line_chart_month_text_sorts_as_dates_and_takes_a_title():
    """Monthly KPI tables hold months as "YYYY-MM" text; a channel that starts later stays in place."""
    df = pd.DataFrame({
        "month": ["2025-03", "2025-04", "2024-12", "2025-01", "2025-02", "2025-03", "2025-04"],
        "channel": ["own_site"] * 2 + ["tmall"] * 5,
        "gmv": [5.0, 6.0, 1.0, 2.0, 3.0, 4.0, 5.0],
    })
    before = df.copy(deep=True)
    fig, ax = plt.subplots()
    charts.line_chart(df, x="month", y="gmv", hue="channel", ax=ax, title="GMV 成交额 by channel")
    pd.testing.assert_frame_equal(df, before)
    assert ax.get_title(loc="left") == "GMV 成交额 by channel"  # the theme left-aligns titles
    own_site, tmall = ax.lines
    xs_tmall = [pd.Timestamp(v).strftime("%Y-%m") for v in tmall.get_xdata()]
    xs_own = [pd.Timestamp(v).strftime("%Y-%m") for v in own_site.get_xdata()]
    assert xs_tmall == ["2024-12", "2025-01", "2025-02", "2025-03", "2025-04"]
    assert xs_own == ["2025-03", "2025-04"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()
    assert ax.get_xlim()[0] < matplotlib.dates.date2num(pd.Timestamp("2024-12-01"))


def test_line_chart_text_categories_keep_order_of_appearance():
    df = pd.DataFrame({"stage": ["浏览", "加购", "下单", "支付"], "rate": [1.0, 0.2, 0.08, 0.07]})
    fig, ax = plt.subplots()
    charts.line_chart(df, "stage", "rate", ax=ax, fmt="pct")
    assert list(ax.lines[0].get_xdata()) == [0, 1, 2, 3]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["浏览", "加购", "下单", "支付"]


def test_line_chart_single_line_and_duplicates():
    df = pd.DataFrame({"week": [3, 1, 2], "rate": [0.03, 0.01, 0.02]})
    fig, ax = plt.subplots()
    charts.line_chart(df, "week", "rate", ax=ax, fmt="pct", marker=None)
    assert list(ax.lines[0].get_xdata()) == [1, 2, 3]
    assert ax.get_legend() is None
    dup = pd.DataFrame({"week": [1, 1], "rate": [0.1, 0.2]})
    with pytest.raises(ValueError, match="aggregate"):
        charts.line_chart(dup, "week", "rate")
    with pytest.raises(ValueError):
        charts.line_chart(df, "week", "rate", fmt="{:.1f}")


def test_waterfall_bars_end_at_the_end_total():
    steps = pd.Series({"上月 GMV": 1_000_000, "新客": 200_000, "退款": -50_000, "客单价": 30_000})
    before = steps.copy(deep=True)
    fig, ax = plt.subplots()
    out = charts.waterfall(steps, ax=ax, end_label="本月 GMV", end=1_180_000)
    assert out is ax
    pd.testing.assert_series_equal(steps, before)

    bars = ax.patches
    assert len(bars) == len(steps) + 1
    spans = [(p.get_y(), p.get_y() + p.get_height()) for p in bars]
    assert spans == [
        (0, 1_000_000),  # start total from zero
        (1_000_000, 1_200_000),  # +200k floats on the start
        (1_150_000, 1_200_000),  # -50k hangs down from 1.2M
        (1_150_000, 1_180_000),  # +30k
        (0, 1_180_000),  # end total from zero
    ]
    # The last contribution ends exactly where the end bar's top is.
    assert spans[-2][1] == spans[-1][1] == 1_180_000
    assert [round(p.get_x() + p.get_width() / 2, 9) for p in bars] == [0, 1, 2, 3, 4]
    colours = [to_hex(p.get_facecolor()) for p in bars]
    assert colours[1] == colours[3] == charts.ALERT_COLORS["good"].lower()
    assert colours[2] == charts.ALERT_COLORS["bad"].lower()
    assert colours[0] == colours[4]
    assert [t.get_text() for t in ax.texts] == ["¥100.0万", "+¥20.0万", "-¥5.0万", "+¥3.0万", "¥118.0万"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["上月 GMV", "新客", "退款", "客单价", "本月 GMV"]


def test_waterfall_checks_and_negative_totals():
    steps = pd.Series({"start": 100.0, "loss": -250.0})
    with pytest.raises(ValueError, match="reconcile"):
        charts.waterfall(steps, end=0)
    with pytest.raises(ValueError):
        charts.waterfall(pd.Series(dtype=float))
    with pytest.raises(ValueError):
        charts.waterfall(pd.Series({"start": 1.0, "x": np.nan}))
    fig, ax = plt.subplots()
    charts.waterfall(steps, ax=ax, fmt=None, end=-150)
    spans = [(p.get_y(), p.get_y() + p.get_height()) for p in ax.patches]
    assert spans == [(0, 100), (-150, 100), (-150, 0)]
    assert [t.get_text() for t in ax.texts] == ["100", "-250", "-150"]


def test_heatmap_masks_missing_cells():
    cohort = pd.DataFrame(
        [[1.0, 0.32, 0.21], [1.0, 0.29, np.nan], [1.0, np.nan, np.nan]],
        index=pd.period_range("2024-01", periods=3, freq="M"),
        columns=pd.Index([0, 1, 2], name="距首购月数"),
    )
    cohort.index.name = "首购月"
    before = cohort.copy(deep=True)
    fig, ax = plt.subplots()
    out = charts.heatmap(cohort, ax=ax)
    assert out is ax
    pd.testing.assert_frame_equal(cohort, before)
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(["100.0%"] * 3 + ["32.0%", "21.0%", "29.0%"])  # no text for NaN cells
    mesh = ax.collections[0]
    assert np.ma.getmaskarray(mesh.get_array()).sum() == cohort.isna().to_numpy().sum()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2024-01", "2024-02", "2024-03"]
    assert ax.get_ylabel() == "首购月"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="png")
    cbar_labels = [t.get_text() for t in mesh.colorbar.ax.get_yticklabels() if t.get_text()]
    assert cbar_labels and all(s.endswith("%") for s in cbar_labels)


def test_heatmap_money_and_all_missing():
    m = pd.DataFrame({"天猫": [1_250_000.0, 56.0], "京东": [np.nan, 830_000.0]},
                     index=pd.to_datetime(["2024-01-01", "2024-02-01"]))
    fig, ax = plt.subplots()
    charts.heatmap(m, ax=ax, fmt="money", cbar=False)
    assert sorted(t.get_text() for t in ax.texts) == sorted(["¥125.0万", "¥56", "¥83.0万"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2024-01", "2024-02"]
    with pytest.raises(ValueError):
        charts.heatmap(pd.DataFrame({"a": [np.nan]}))


def test_helpers_draw_on_current_axes_and_never_show_or_save(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("helpers must not show or save")

    monkeypatch.setattr(plt, "show", forbidden)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", forbidden)
    fig, ax = plt.subplots()
    df = pd.DataFrame({"k": ["a", "b"], "v": [1.0, 2.0]})
    assert charts.bar_with_labels(df, "k", "v") is ax
    assert charts.line_chart(df, "k", "v") is ax
    assert charts.waterfall(pd.Series({"a": 1.0, "b": 2.0})) is ax
    assert charts.heatmap(pd.DataFrame([[0.1, 0.2]])) is ax
    assert charts.annotate_threshold(ax, 1.5, "目标") is ax


def test_chinese_axis_labels_under_zh():
    import pandas as pd

    from playbook import i18n

    frame = pd.DataFrame({"month": ["2026-09", "2026-10"], "gmv": [1.0, 2.0], "channel": ["tmall", "tmall"]})
    try:
        i18n.set_language("zh")
        ax = charts.line_chart(frame, x="month", y="gmv", hue="channel")
        assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_legend().get_title().get_text()) == ("月份", "成交额", "渠道")
        assert list(i18n.localize(frame).columns) == ["月份", "成交额", "渠道"]
    finally:
        i18n.set_language("en")
    ax = charts.line_chart(frame, x="month", y="gmv", hue="channel")
    assert ax.get_ylabel() == "gmv"


def test_draw_note_says_why_a_chart_is_empty():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    out = charts.draw_note(ax, "needs the inventory table", title="Stock 库存")
    assert out is ax and not ax.axison and ax.texts[0].get_text() == "needs the inventory table"
    assert list(charts.note_frame("skipped")["note"]) == ["skipped"]
    plt.close(fig)
