"""Campaigns (活动策划与执行): the lift of each campaign against a baseline without it, with the
pull-forward before a festival and the dip after it; campaign types compared (discount depth,
margin after discount, spend and ROI, new vs returning buyers); presale share of GMV, coupon and
full-reduction (满减) uptake and the bunching of baskets just above a threshold; the festival
calendar of the coming quarter with dates of the moving (lunar) festivals computed; promotion A/B
tests read with significance and power.

Chapter 05 of the playbook; handbook 000 §4 (营销活动: 限时折扣、满减满赠、秒杀、预售 ...), 001 part 3
(大促蓄水: presale 30 days before 618 reached 35% of GMV; 周二会员日), 002 part 04 (大促节点活动排期,
会员专属福利日) and part 05 (A/B测试: 促销策略验证), 003 stage 7 (平台活动: 618、双11, 限时秒杀、满减).

The building blocks work on plain DataFrames and are tested on hand-built tables; the
``*_report(data)`` functions run one notebook section on a loaded
:class:`~playbook.loading.Dataset` and return a result carrying the section's tables, or a note
saying which table is missing (so the notebook needs no ``if``).

Example::

    data = playbook.load("data/samples", month="2026-10")
    lift = campaigns.lift_report(data)
    lift.events            # one row per festival or campaign: pre, presale, main, post lifts
    cal = campaigns.calendar_report(data)
    cal.calendar           # the coming quarter's festivals with last year's result
"""
from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import probability
from .exercises import exercise
from .metrics import paid_mask
from .derived import isin_ids as _isin, positions, unique_positions
from .charts import draw_note as _draw_note, note_frame as _note_frame

__all__ = [
    "SPRING_FESTIVAL", "LUNAR_MONTH7", "LUNAR_MONTH8", "FESTIVALS", "mean_new_moon", "lunar_festival_date",
    "member_days", "festival_calendar",
    "daily_sales", "weekday_baseline", "seasonal_index", "campaign_events", "campaign_lift", "window_lift",
    "order_margins", "campaign_scorecard", "type_comparison",
    "presale_share", "coupon_uptake", "full_reduction_thresholds", "threshold_bunching",
    "ab_test",
    "LiftResult", "TypeResult", "MechanicsResult", "CalendarResult", "ABResult",
    "lift_report", "type_report", "mechanics_report", "calendar_report", "ab_report", "settings_table",
    "plot_event_lift", "plot_lift_bars", "plot_type_comparison", "plot_bunching", "plot_calendar", "plot_ab",
]

DAY = pd.Timedelta(days=1)

# ---------------------------------------------------------------------------------------------
# The lunar calendar, 2019-2036
# ---------------------------------------------------------------------------------------------
# First day of the first, seventh and eighth lunar months (Beijing time), from the published
# Chinese calendar (农历). A lunar month starts on the day of a new moon, so each date must lie within
# a day or so of an astronomical new moon: tests/test_campaigns.py checks every entry against
# :func:`mean_new_moon` and the month lengths (29 or 30 days between month 7 and month 8 here, as no
# leap month falls between them in these years).

#: 春节, first day of the first lunar month.
SPRING_FESTIVAL = {
    2019: "2019-02-05", 2020: "2020-01-25", 2021: "2021-02-12", 2022: "2022-02-01", 2023: "2023-01-22",
    2024: "2024-02-10", 2025: "2025-01-29", 2026: "2026-02-17", 2027: "2027-02-06", 2028: "2028-01-26",
    2029: "2029-02-13", 2030: "2030-02-03", 2031: "2031-01-23", 2032: "2032-02-11", 2033: "2033-01-31",
    2034: "2034-02-19", 2035: "2035-02-08", 2036: "2036-01-28",
}
#: First day of the seventh lunar month (七月初一); 七夕 is its seventh day.
LUNAR_MONTH7 = {
    2019: "2019-08-01", 2020: "2020-08-19", 2021: "2021-08-08", 2022: "2022-07-29", 2023: "2023-08-16",
    2024: "2024-08-04", 2025: "2025-08-23", 2026: "2026-08-13", 2027: "2027-08-02", 2028: "2028-08-20",
    2029: "2029-08-10", 2030: "2030-07-30", 2031: "2031-08-18", 2032: "2032-08-06", 2033: "2033-07-26",
    2034: "2034-08-14", 2035: "2035-08-04", 2036: "2036-08-22",
}
#: First day of the eighth lunar month (八月初一); 中秋 is its fifteenth day.
LUNAR_MONTH8 = {
    2019: "2019-08-30", 2020: "2020-09-17", 2021: "2021-09-07", 2022: "2022-08-27", 2023: "2023-09-15",
    2024: "2024-09-03", 2025: "2025-09-22", 2026: "2026-09-11", 2027: "2027-09-01", 2028: "2028-09-19",
    2029: "2029-09-08", 2030: "2030-08-29", 2031: "2031-09-17", 2032: "2032-09-05", 2033: "2033-08-25",
    2034: "2034-09-13", 2035: "2035-09-02", 2036: "2036-09-20",
}


def mean_new_moon(near) -> pd.Timestamp:
    """The astronomical new moon closest to ``near`` (Beijing time, to within about half a day).

    Formula: Meeus, *Astronomical Algorithms* ch. 49, the mean phase
    ``JDE = 2451550.09766 + 29.530588861 k + 0.00015437 T^2`` with the two largest periodic terms
    of the new moon (``-0.4072 sin M' + 0.17241 E sin M``); accurate to a few hours, enough to check
    that a lunar month starts on the right day.

    Examples
    --------
    >>> mean_new_moon("2025-01-29").strftime("%Y-%m-%d")
    '2025-01-29'
    """
    t = pd.Timestamp(near)
    jd = t.to_julian_date()
    k = np.round((jd - 2451550.09766) / 29.530588861)
    T = k / 1236.85
    jde = 2451550.09766 + 29.530588861 * k + 0.00015437 * T ** 2
    M = np.radians(2.5534 + 29.10535670 * k)
    Mp = np.radians(201.5643 + 385.81693528 * k)
    E = 1 - 0.002516 * T
    jde += -0.40720 * np.sin(Mp) + 0.17241 * E * np.sin(M)
    utc = pd.Timestamp("2000-01-01 12:00") + pd.Timedelta(days=float(jde - 2451545.0)) - pd.Timedelta(seconds=69)
    return utc + pd.Timedelta(hours=8)


_LUNAR = {  # festival -> (table, day of the lunar month - 1)
    "spring_festival": (SPRING_FESTIVAL, 0), "lantern": (SPRING_FESTIVAL, 14),
    "qixi": (LUNAR_MONTH7, 6), "mid_autumn": (LUNAR_MONTH8, 14),
}


def lunar_festival_date(festival: str, year: int) -> pd.Timestamp:
    """The Gregorian date of a lunar festival in ``year``: ``spring_festival`` (春节, 1st of the 1st
    month), ``lantern`` (元宵, 15th of the 1st), ``qixi`` (七夕, 7th of the 7th), ``mid_autumn`` (中秋,
    15th of the 8th). Covers 2019-2036.

    Examples
    --------
    >>> lunar_festival_date("mid_autumn", 2025).strftime("%Y-%m-%d")
    '2025-10-06'
    >>> lunar_festival_date("qixi", 2026).strftime("%Y-%m-%d")
    '2026-08-19'
    """
    if festival not in _LUNAR:
        raise KeyError(f"unknown lunar festival {festival!r}; known: {', '.join(_LUNAR)}")
    table, offset = _LUNAR[festival]
    if int(year) not in table:
        raise KeyError(f"the lunar table covers {min(table)}-{max(table)}, not {year}")
    return pd.Timestamp(table[int(year)]) + pd.Timedelta(days=offset)


#: China's retail festivals: key -> (name, how the window is set). Fixed festivals give month-day
#: start and end (and a presale); lunar ones give days before and after the festival day.
FESTIVALS = {
    "new_year_goods": {"name": "年货节 new-year goods festival", "lunar": "spring_festival", "window": (-24, -10)},
    "spring_festival": {"name": "春节 spring festival (logistics pause)", "lunar": "spring_festival", "window": (-4, 6)},
    "womens_day": {"name": "女神节 women's day", "fixed": ("03-01", "03-08")},
    "520": {"name": "520 表白日", "fixed": ("05-14", "05-20")},
    "618": {"name": "618 年中大促", "fixed": ("05-31", "06-18"), "presale": ("05-20", "05-30")},
    "qixi": {"name": "七夕 qixi", "lunar": "qixi", "window": (-6, 0)},
    "mid_autumn": {"name": "中秋 mid-autumn", "lunar": "mid_autumn", "window": (-10, 0)},
    "national_day": {"name": "国庆 national day", "fixed": ("10-01", "10-07")},
    "double11": {"name": "双11", "fixed": ("10-31", "11-11"), "presale": ("10-20", "10-30")},
    "double12": {"name": "双12", "fixed": ("12-10", "12-12")},
}


def member_days(start, end, *, weekday: int = 1, week: int = 1) -> pd.DatetimeIndex:
    """The member days (会员日) between ``start`` and ``end`` (inclusive): the ``week``-th
    ``weekday`` (Monday 0) of each month; 001 part 3's 周二会员日 is ``weekday=1``.

    Examples
    --------
    >>> [d.strftime("%m-%d") for d in member_days("2026-11-01", "2026-12-31")]
    ['11-03', '12-01']
    """
    first = pd.date_range(pd.Timestamp(start).to_period("M").to_timestamp(), end, freq="MS")
    days = first + pd.to_timedelta((weekday - first.day_of_week) % 7 + 7 * (week - 1), unit="D")
    return days[(days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))]


def festival_calendar(start, end, *, member_day_weekday: int = 1, member_day_week: int = 1,
                      post_days: int = 10) -> pd.DataFrame:
    """The retail festivals whose window overlaps ``start`` .. ``end`` (inclusive), with the dates
    of the moving festivals computed from the lunar tables.

    Returns columns festival (key of :data:`FESTIVALS` or ``member_day``), name, start, end (the
    selling window), day (the festival day itself), presale_start, presale_end (618 and 双11),
    sorted by start. A member day that falls inside a festival's selling window (or the
    ``post_days`` after 618 and 双11) moves to the same weekday of the next week, up to three times.

    Examples
    --------
    >>> cal = festival_calendar("2027-01-01", "2027-03-31")
    >>> cal.loc[cal["festival"] == "new_year_goods", "day"].dt.strftime("%Y-%m-%d").tolist()
    ['2027-02-06']
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    rows = []
    for year in range(start.year - 1, end.year + 2):  # a few years, a handful of festivals
        for key, f in FESTIVALS.items():
            if "lunar" in f:
                try:
                    day = lunar_festival_date(f["lunar"], year)
                except KeyError:
                    continue
                a, b = day + pd.Timedelta(days=f["window"][0]), day + pd.Timedelta(days=f["window"][1])
                ps = pe = pd.NaT
            else:
                a, b = pd.Timestamp(f"{year}-{f['fixed'][0]}"), pd.Timestamp(f"{year}-{f['fixed'][1]}")
                day = b
                ps, pe = ((pd.Timestamp(f"{year}-{f['presale'][0]}"), pd.Timestamp(f"{year}-{f['presale'][1]}"))
                          if "presale" in f else (pd.NaT, pd.NaT))
            lo = ps if pd.notna(ps) else a
            if lo <= end and b >= start:
                rows.append({"festival": key, "name": f["name"], "start": a, "end": b, "day": day,
                             "presale_start": ps, "presale_end": pe})
    busy = [(r["presale_start"] if pd.notna(r["presale_start"]) else r["start"],
             r["end"] + pd.Timedelta(days=post_days if pd.notna(r["presale_start"]) else 0)) for r in rows]
    for d in member_days(start, end, weekday=member_day_weekday, week=member_day_week):
        for _ in range(3):  # move a member day out of a festival's window, a week at a time
            if not any(a <= d <= b for a, b in busy):
                break
            d = d + pd.Timedelta(days=7)
        rows.append({"festival": "member_day", "name": "会员日 member day", "start": d, "end": d, "day": d,
                     "presale_start": pd.NaT, "presale_end": pd.NaT})
    cols = ["festival", "name", "start", "end", "day", "presale_start", "presale_end"]
    out = pd.DataFrame(rows, columns=cols)
    for c in cols[2:]:
        out[c] = pd.to_datetime(out[c])
    return out.sort_values(["start", "festival"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def _require(frame: pd.DataFrame | None, table: str, columns: Iterable[str]) -> None:
    if frame is None:
        raise KeyError(f"table {table} is needed here")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"table {table} lacks column(s) {', '.join(missing)}; "
                       f"it has {', '.join(map(str, frame.columns))}")


_DEFAULTS = {"baseline_days": 28, "pre_days": 12, "post_days": 10, "seasonal_adjust": True,
             "presale_share_target": 0.35, "new_buyer_history_days": 180, "roi_min": 1.0, "threshold_bin": 20,
             "bunching_min": 1.2, "calendar_months": 3, "member_day_weekday": 1, "member_day_week": 1,
             "ab_alpha": 0.05, "ab_power": 0.8, "ab_mde_relative": 0.10}


def _settings(data) -> dict:
    try:
        section = data.settings["campaigns"]
        section = section.to_dict() if hasattr(section, "to_dict") else dict(section)
    except (KeyError, AttributeError, TypeError):
        section = {}
    return {**_DEFAULTS, **section}


def settings_table(data) -> pd.DataFrame:
    """The chapter's thresholds (the ``[campaigns]`` settings) as a two-column table."""
    cfg = _settings(data)
    return pd.DataFrame({"setting": list(cfg), "value": [str(v) for v in cfg.values()]})


#: the columns this chapter reads from the large tables (a prepared table is read with these only)
COLUMNS = {
    "orders": ("order_ts", "paid_ts", "paid_amount", "status", "gross_amount", "discount_amount",
               "shipping_fee", "campaign_id", "coupon_code", "is_presale"),  # the channels: as codes
    "order_items": ("qty", "unit_price"),  # the skus: _line_skus
    "products": ("sku", "unit_cost"),
    "experiments": ("assigned_ts", "converted", "revenue", "pre_metric"),  # ids, variants: dataops._experiment_codes
}
#: long text ids read for one calculation only (joining the lines to their orders)
SECTION_IDS = {
    "order_items": ("order_id",),
}
#: the orders' columns each calculation reads. Every section runs once (the daily sales and the
#: margins are computed once per dataset), so a prepared file's columns are read for each use and
#: not kept: no section holds the orders of another (:func:`_orders`)
ORDER_COLUMNS = {
    "daily": ("order_ts", "paid_amount", "status", "is_presale"),
    "margins": ("order_id", "paid_amount", "status", "gross_amount", "discount_amount", "shipping_fee"),
    "types": ("order_ts", "paid_amount", "status", "gross_amount", "discount_amount", "shipping_fee",
              "campaign_id", "customer_id"),
    "mechanics": ("order_ts", "paid_ts", "paid_amount", "status", "gross_amount", "discount_amount",
                  "campaign_id", "coupon_code", "is_presale"),
}


def _table(data, name: str) -> pd.DataFrame:
    """``data[name]``, or for a prepared table not read yet only its :data:`COLUMNS`, kept in the
    dataset (see :func:`playbook.loading.read_columns`): addresses, cities and hashes of the
    orders, or the experiments' unit ids, are much of the text and never used here. The sections
    read the large tables through :func:`_orders`, :func:`_experiments` and the margins' own read
    instead, without keeping them."""
    from .loading import read_columns

    unread = hasattr(data, "table_file") and data.table_file(name) is not None
    frame = read_columns(data, name, COLUMNS[name])
    if unread:
        _release_arrow_memory()
    return frame


def _orders(data, columns: Iterable[str]) -> pd.DataFrame:
    """The orders of ``data`` for one calculation: of a prepared file, those of ``columns`` it has,
    read for this use and not kept (see :data:`ORDER_COLUMNS`); else the table in memory."""
    from .loading import read_columns

    return read_columns(data, "orders", columns, keep=False)


def _release_arrow_memory() -> None:
    """Hand the memory Arrow kept from reading a large table back to the system: its pool holds
    the freed buffers of the conversion (hundreds of MB for a table of millions of rows), which
    would otherwise sit under every later peak of the notebook."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


#: orders (and order lines) read at a time by the calculations that go through a prepared table
#: part by part (:func:`_order_parts`, :func:`_chunked_margins`): a few dozen MB of columns
_CHUNK_ROWS = 1 << 20
#: orders per time window of the calculations that need whole days together (:func:`_order_windows`):
#: a few months of a shop of a hundred million order lines, the whole history of a smaller one
_WINDOW_ROWS = 8_000_000


def _orders_file(data):
    """The orders' Parquet file when the sections may read it part by part: a prepared table not
    read (nor read in part) yet; else None (the table is in memory: it is used whole)."""
    file = data.table_file("orders") if hasattr(data, "table_file") else None
    if file is None or getattr(data, "_partial", {}).get("orders"):
        return None
    return file


def _file_parts(file, columns: Iterable[str], rows: int | None = None):
    """Those of ``columns`` a Parquet file has, ``rows`` rows at a time (default
    :data:`_CHUNK_ROWS`), each part a frame indexed by its rows' positions in the file (the index
    the whole table read by :func:`playbook.loading.read_parquet` has)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(file)
    cols = [c for c in dict.fromkeys(columns) if c in pf.schema_arrow.names]
    start = 0
    for batch in pf.iter_batches(batch_size=rows or _CHUNK_ROWS, columns=cols):
        frame = pa.Table.from_batches([batch]).to_pandas(split_blocks=True, self_destruct=True)
        del batch
        frame.index = pd.RangeIndex(start, start + len(frame))
        start += len(frame)
        yield frame


def _order_parts(data, columns: Iterable[str], reduce: Callable[[pd.DataFrame], object]) -> list:
    """``reduce`` applied to the orders (those of ``columns`` the table has): to the table when it
    is in memory, else to a prepared file's rows a part at a time (:func:`_file_parts`, each part
    indexed by row position), so that only the reduced parts are held. Returns the results in the
    table's order."""
    file = _orders_file(data)
    if file is None:
        return [reduce(_orders(data, columns))]
    out = [reduce(frame) for frame in _file_parts(file, columns)]
    _release_arrow_memory()
    return out


def _order_windows(data) -> list[tuple] | None:
    """Month-aligned windows ``[a, b)`` of order_ts covering every order, each holding about :data:`_WINDOW_ROWS` orders as the row groups' statistics of a
    prepared file count them (a group's rows spread evenly over its time span). None when the
    orders are in memory, or when the file's row groups are not in time order (a window would then
    read the whole file: the table is read whole instead)."""
    file = _orders_file(data)
    if file is None:
        return None
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(file).metadata
    names = [meta.schema.column(i).path for i in range(meta.num_columns)]
    if "order_ts" not in names:
        return None
    at = names.index("order_ts")
    spans = []
    for g in range(meta.num_row_groups):  # a hundred row groups at most
        rg = meta.row_group(g)
        if rg.num_rows == 0:
            continue
        st = rg.column(at).statistics
        if st is None or not st.has_min_max:
            return None
        try:
            a, b = pd.Timestamp(st.min), pd.Timestamp(st.max)
        except (TypeError, ValueError):
            return None
        if a.tz is not None:
            return None
        spans.append((a, b, rg.num_rows))
    if not spans or any(spans[i][1] > spans[i + 1][0] for i in range(len(spans) - 1)):
        return None
    first, last = spans[0][0], spans[-1][1]
    months = pd.date_range(first.to_period("M").to_timestamp(), last.to_period("M").to_timestamp() + pd.offsets.MonthBegin(1),
                           freq="MS")
    a_ = np.array([s[0].value for s in spans], dtype="float64")
    b_ = np.array([s[1].value for s in spans], dtype="float64") + 1e3  # a group's end, exclusive (1 µs on)
    n_ = np.array([s[2] for s in spans], dtype="float64")

    def rows(x0, x1):  # orders estimated in [x0, x1)
        over = np.clip(np.minimum(b_, x1) - np.maximum(a_, x0), 0, None)
        return float((n_ * over / (b_ - a_)).sum())

    cuts = [months[0]]
    for m0, m1 in zip(months[:-1], months[1:]):
        if m0 > cuts[-1] and rows(cuts[-1].value, m1.value) > _WINDOW_ROWS:
            cuts.append(m0)
    cuts.append(months[-1])
    return list(zip(cuts[:-1], cuts[1:]))


def _cutoff(data) -> pd.Timestamp:
    if getattr(data, "end", None) is not None:
        return pd.Timestamp(data.end)
    return _orders(data, ["order_ts"])["order_ts"].max().normalize() + DAY


def _month(data) -> str:
    return data.month if getattr(data, "month", None) else (_cutoff(data) - DAY).strftime("%Y-%m")


def _type(campaigns: pd.DataFrame) -> pd.Series:
    """The campaigns' type column, or an empty text where the table has none."""
    return campaigns["type"].fillna("").astype(str) if "type" in campaigns.columns else pd.Series("", index=campaigns.index)


def _skip(record, section: str, note: str) -> str:
    if record is not None:
        record.skip(section, note)
    return note


def _alerts_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["severity", "subject", "message"])


def _styled(frame: pd.DataFrame, *, pct: Sequence[str] = (), dec2: Sequence[str] = (), money: Sequence[str] = (),
            count: Sequence[str] = (), dates: Sequence[str] = (), sci: Sequence[str] = ()):
    """A table formatted for reading, or the frame itself when empty."""
    if frame is None or frame.empty:
        return frame
    from . import i18n

    frame = i18n.localize(frame)
    lab = i18n.column_label
    fmt = {}
    for cols, f in ((pct, "{:.1%}"), (dec2, "{:,.2f}"), (money, "¥{:,.0f}"), (count, "{:,.0f}"), (sci, "{:.2g}"),
                    (dates, lambda v: "" if pd.isna(v) else f"{v:%Y-%m-%d}")):
        fmt.update({lab(c): f for c in cols if lab(c) in frame.columns})
    return frame.style.format(fmt, na_rep="–").hide(axis="index")


_MEMO: dict = {}  # id(dataset) -> (weak reference, {name: (table ids, value)}); the last two datasets


def _memo(data, name: str, tables: Sequence[str], compute: Callable[[], object]):
    """``compute()`` once per loaded dataset (and per identity of its ``tables``), shared by the
    chapter's sections; the value is read-only for callers. Objects that cannot be weakly
    referenced are not cached."""
    key = tuple(_table_key(data, t) for t in tables)
    entry = _MEMO.get(id(data))
    if entry is None or entry[0]() is not data:
        try:
            ref = weakref.ref(data)
        except TypeError:
            return compute()
        while len(_MEMO) >= 2:
            _MEMO.pop(next(iter(_MEMO)))
        entry = _MEMO[id(data)] = (ref, {})
    hit = entry[1].get(name)
    if hit is None or hit[0] != key:
        hit = entry[1][name] = (key, compute())
    return hit[1]


def _table_key(data, name: str):
    """What a memoized value built from table ``name`` is checked against: a prepared table's
    file (nothing is read for the check), else the identity of the table in memory."""
    if not data.has(name):
        return None
    file = data.table_file(name) if hasattr(data, "table_file") else None
    return ("file", str(file)) if file is not None else id(_table(data, name))


def _by_row(values: pd.Series, rows: pd.Index) -> pd.Series:
    """``values.reindex(rows)`` for values indexed by ascending row numbers (the per-order margins):
    found by binary search instead of a hash table of millions of rows; NaN for a row not there."""
    idx = values.index
    if not (idx.dtype.kind in "iu" and rows.dtype.kind in "iu" and values.dtype.kind == "f"
            and idx.is_monotonic_increasing and idx.is_unique):
        return values.reindex(rows)
    keys, want = idx.to_numpy(), rows.to_numpy()
    at = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
    arr = values.to_numpy()
    if len(keys):
        out = arr[at]
        hit = keys[at] == want
        if not hit.all():
            out[~hit] = np.nan
    else:
        out = np.full(len(want), np.nan, dtype=arr.dtype)
    return pd.Series(out, index=rows, name=values.name)


def _narrow(orders: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """The ``columns`` of ``orders`` that exist: picked before a row filter, as filtering every
    text column of a big orders table is the costly part."""
    return orders[[c for c in dict.fromkeys(columns) if c in orders.columns]]


# ---------------------------------------------------------------------------------------------
# 1. Lift against a baseline without the campaign
# ---------------------------------------------------------------------------------------------

def daily_sales(orders: pd.DataFrame, *, _channels: tuple | None = None) -> pd.DataFrame:
    """Paid orders and GMV per day and channel, split into presale deposits and ordinary orders.

    A presale order counts on the day it was placed (the deposit), so the presale phase shows the
    demand it pulls forward. Required columns: orders.order_ts, paid_amount, status (via
    :func:`~playbook.metrics.paid_mask`); optional channel, is_presale.

    Returns columns date, channel, orders, gmv, presale_orders, presale_gmv (one row per day and
    channel with at least one paid order).
    """
    _require(orders, "orders", ["order_ts", "paid_amount"])
    paid = paid_mask(orders)
    if (orders["order_ts"].dtype.kind == "M" and "channel" in orders.columns
            and pd.api.types.is_string_dtype(orders["channel"])):
        return _daily_sales_codes(orders, paid.to_numpy(dtype=bool), channels=_channels)
    o = _narrow(orders, ["order_ts", "paid_amount", "channel", "is_presale"]).loc[paid]
    pre = (o["is_presale"].fillna(False).astype(bool) if "is_presale" in o.columns
           else pd.Series(False, index=o.index))
    frame = pd.DataFrame({"date": o["order_ts"].dt.normalize(),
                          "channel": o["channel"].fillna("unknown") if "channel" in o.columns else "all",
                          "orders": 1, "gmv": o["paid_amount"], "presale_orders": pre.astype("int64"),
                          "presale_gmv": o["paid_amount"].where(pre, 0.0)})
    return frame.groupby(["date", "channel"], observed=True).sum().reset_index()


def _daily_sales_codes(orders: pd.DataFrame, paid: np.ndarray, *, channels: tuple | None = None,
                       dtype=None) -> pd.DataFrame:
    """:func:`daily_sales` grouped on integer codes: day numbers and the channels' ranks by name
    (the same groups, in the same order, summed over the same rows in the same order).
    ``channels``: the rows' channel codes and names, when factorized already (any order of names);
    the frame then needs no channel column when ``dtype`` (the channel column's) is given."""
    ts = orders["order_ts"].to_numpy()
    day = ts.astype("datetime64[D]").view("int64")
    ok = paid & ~np.isnat(ts)
    code, names = channels if channels is not None else pd.factorize(orders["channel"])
    code = np.asarray(code, dtype=np.intp)
    names = [str(c) for c in names]
    if (code[ok] < 0).any():  # a missing channel counts as "unknown"
        if "unknown" not in names:
            names.append("unknown")
        code = np.where(code < 0, names.index("unknown"), code)
    rank = np.argsort(np.argsort(np.array(names, dtype=object), kind="stable"))  # each name's place in sorted order
    nc = len(names)
    lo = int(day[ok].min()) if ok.any() else 0
    key = np.where(ok, (day - lo) * nc + rank[code], -1)
    groups = pd.Categorical.from_codes(key, categories=pd.RangeIndex(int(key.max()) + 1 if ok.any() else 0))
    amount = orders["paid_amount"]
    pre = (orders["is_presale"].fillna(False).astype(bool) if "is_presale" in orders.columns
           else pd.Series(False, index=orders.index))
    frame = pd.concat({"orders": pd.Series(np.ones(len(orders), dtype="int64")), "gmv": pd.Series(amount.to_numpy()),
                       "presale_orders": pd.Series(pre.astype("int64").to_numpy()),
                       "presale_gmv": pd.Series(amount.where(pre, 0.0).to_numpy())}, axis=1)
    out = frame.groupby(groups, observed=True).sum()
    at = np.asarray(out.index, dtype="int64")
    by_rank = np.array(names, dtype=object)[np.argsort(rank)]
    out.insert(0, "channel", pd.array(by_rank[at % nc].tolist(), dtype=orders["channel"].dtype if dtype is None else dtype))
    out.insert(0, "date", (at // nc + lo).astype("datetime64[D]").astype(ts.dtype))
    return out.reset_index(drop=True)


def weekday_baseline(series: pd.Series, days: pd.DatetimeIndex) -> pd.Series:
    """The expected value of each of ``days`` from a baseline ``series`` (indexed by date): the
    mean of the baseline days of the same weekday (the overall mean where a weekday is missing).

    Formula: ``expected(d) = mean{ series(b) : b in baseline, weekday(b) = weekday(d) }``.

    Examples
    --------
    >>> base = pd.Series([10.0] * 5 + [20.0] * 2, index=pd.date_range("2026-01-05", periods=7))
    >>> weekday_baseline(base, pd.date_range("2026-01-12", periods=7)).tolist()
    [10.0, 10.0, 10.0, 10.0, 10.0, 20.0, 20.0]
    """
    by_wd = series.groupby(series.index.day_of_week).mean()
    exp = by_wd.reindex(days.day_of_week).to_numpy()
    exp = np.where(np.isnan(exp), series.mean(), exp)
    return pd.Series(exp, index=days, dtype="float64")


def _baseline_days(valid: pd.Series, before, n: int, *, lookback_factor: int = 3) -> pd.DatetimeIndex:
    """The last ``n`` valid days before ``before`` (looking back at most ``lookback_factor * n``)."""
    before = pd.Timestamp(before)
    cand = valid.loc[before - pd.Timedelta(days=lookback_factor * n):before - DAY]
    return cand.index[cand.to_numpy(dtype=bool)][-n:]


def seasonal_index(series: pd.Series, valid: pd.Series, window: tuple, baseline: pd.DatetimeIndex, *,
                   margin_days: int = 14, min_days: int = 7) -> float:
    """Last year's seasonal index: how much higher ordinary days around the same dates sold than
    the same baseline days, a year (52 weeks) earlier.

    Formula: ``mean(series over last year's ordinary days within margin_days of the window) /
    mean(series over the baseline days - 364)``; 1.0 when either side has fewer than ``min_days``
    ordinary days in the data (the first year, or a window full of campaigns).
    """
    shift = pd.Timedelta(days=364)
    a, b = pd.Timestamp(window[0]) - shift, pd.Timestamp(window[1]) - shift
    near = valid.loc[a - pd.Timedelta(days=margin_days):b + pd.Timedelta(days=margin_days)]
    near_days = near.index[near.to_numpy(dtype=bool)]
    base_days = (baseline - shift)
    base_days = base_days[base_days.isin(valid.index[valid.to_numpy(dtype=bool)])]
    if len(near_days) < min_days or len(base_days) < min_days:
        return 1.0
    den = series.reindex(base_days).mean()
    num = series.reindex(near_days).mean()
    return float(num / den) if den and np.isfinite(den) and den > 0 else 1.0


#: days around the spring festival (春节) that no baseline uses: orders fall and logistics stop
SPRING_FESTIVAL_WINDOW = (-10, 12)


def _spring_festival_mask(days: pd.DatetimeIndex) -> np.ndarray:
    mask = np.zeros(len(days), dtype=bool)
    for y in sorted({d.year for d in (days.min(), days.max())} | {days.min().year + 1}):  # two or three years
        if y in SPRING_FESTIVAL:
            sf = pd.Timestamp(SPRING_FESTIVAL[y])
            mask |= (days >= sf + pd.Timedelta(days=SPRING_FESTIVAL_WINDOW[0])) & (days <= sf + pd.Timedelta(days=SPRING_FESTIVAL_WINDOW[1]))
    return mask


def campaign_events(campaigns: pd.DataFrame) -> pd.DataFrame:
    """Campaigns grouped into events: a festival's presale and main phase (same ``festival``,
    less than 15 days apart) form one event; every other campaign is an event of its own.

    Returns the campaigns with added columns event (e.g. ``2025 double11`` or the campaign id),
    phase (``presale`` for type presale, else ``main``), event_start and event_end.
    """
    _require(campaigns, "campaigns", ["campaign_id", "start_date", "end_date"])
    c = campaigns.copy()
    fest = c["festival"].fillna("").astype(str) if "festival" in c.columns else pd.Series("", index=c.index)
    c["phase"] = np.where(c.get("type", pd.Series("", index=c.index)).astype(str) == "presale", "presale", "main")
    c = c.assign(_fest=fest).sort_values("start_date", kind="stable")
    # new group when the festival changes or the gap to the previous phase is 15 days or more
    prev_end = c.groupby("_fest")["end_date"].shift()
    new = (c["_fest"] == "") | prev_end.isna() | ((c["start_date"] - prev_end) >= pd.Timedelta(days=15))
    grp = new.groupby(c["_fest"]).cumsum()
    c["event"] = np.where(c["_fest"] == "", c["campaign_id"],
                          c["_fest"] + "#" + grp.astype(str))
    first = c.groupby("event")["start_date"].transform("min")
    c["event_start"] = first
    c["event_end"] = c.groupby("event")["end_date"].transform("max")
    c["event"] = np.where(c["_fest"] == "", c["event"], first.dt.strftime("%Y") + " " + c["_fest"])
    return c.drop(columns="_fest").sort_values(["event_start", "start_date"]).reset_index(drop=True)


def window_lift(series: pd.Series, start, end, *, valid: pd.Series | None = None, before=None,
                baseline_days: int = 28, seasonal: bool = False) -> dict:
    """The lift of ``series`` (a daily series indexed by date) over ``start`` .. ``end`` against a
    weekday-aware baseline from the ``baseline_days`` ordinary days before ``before`` (default the
    window's start).

    Formula: ``lift = sum(actual) / sum(expected)``, ``expected(d) = weekday mean of the baseline
    x seasonal index`` (:func:`weekday_baseline`, :func:`seasonal_index`).

    Returns a dict: actual, expected, lift, incremental (actual - expected), days, season.
    """
    idx = pd.date_range(start, end)
    if valid is None:
        valid = pd.Series(True, index=series.index)
    base = _baseline_days(valid, before if before is not None else start, baseline_days)
    if len(base) < 7:
        return {"actual": float(series.reindex(idx).fillna(0).sum()), "expected": np.nan, "lift": np.nan,
                "incremental": np.nan, "days": len(idx), "season": np.nan}
    season = seasonal_index(series, valid, (idx[0], idx[-1]), base) if seasonal else 1.0
    exp = weekday_baseline(series.reindex(base).fillna(0.0), idx) * season
    act = float(series.reindex(idx).fillna(0.0).sum())
    e = float(exp.sum())
    return {"actual": act, "expected": e, "lift": act / e if e > 0 else np.nan, "incremental": act - e,
            "days": len(idx), "season": season}


def campaign_lift(daily: pd.DataFrame, campaigns: pd.DataFrame, *, end=None, baseline_days: int = 28,
                  pre_days: int = 12, post_days: int = 10, seasonal: bool = True) -> pd.DataFrame:
    """The lift of each campaign event, phase by phase, against a baseline without it.

    For each event (:func:`campaign_events`) the phases are ``pre`` (the ``pre_days`` before its
    first phase: the pull-forward, buyers waiting for the festival), ``presale`` (deposits and
    ordinary orders counted apart), ``main`` and ``post`` (the ``post_days`` after: the hangover).
    The baseline is the weekday mean of the last ``baseline_days`` ordinary days before the pre
    phase (days of other events and their pre and post periods left out), scaled by last year's
    seasonal index when ``seasonal``. A campaign on one channel is measured on that channel.
    ``net`` sums pre through post: the event's effect after the pull-forward and the dip.

    Required columns: daily (from :func:`daily_sales`) date, channel, orders, gmv, presale_orders,
    presale_gmv; campaigns campaign_id, start_date, end_date (channel, festival, type optional).

    Returns one row per event and phase: event, phase, campaign_id, name, type, festival,
    channel, start, end, days, complete (the phase is over by ``end``), orders, expected_orders,
    lift (orders), incremental_orders, gmv, expected_gmv, gmv_lift, incremental_gmv,
    ordinary_lift (orders without presale deposits), season, control_lift (for a one-channel
    campaign: the lift of the untouched channels over the same days, a control: a campaign works
    when its lift clearly exceeds it), note (a phase overlapping the
    spring festival, whose days no baseline uses either).
    """
    _require(daily, "daily", ["date", "channel", "orders", "gmv"])
    ev = campaign_events(campaigns)
    end = pd.Timestamp(end) if end is not None else daily["date"].max() + DAY
    first_day = daily["date"].min()
    all_days = pd.date_range(first_day, end - DAY)
    chan = ev["channel"].fillna("").astype(str) if "channel" in ev.columns else pd.Series("", index=ev.index)
    ev = ev.assign(channel=chan)
    series = {}

    def get(ch: str):
        if ch not in series:
            if ch.startswith("!"):  # every channel but one: the control of a one-channel campaign
                d = daily.loc[daily["channel"] != ch[1:]]
            else:
                d = daily if ch == "" else daily.loc[daily["channel"] == ch]
            g = d.groupby("date")[["orders", "gmv", "presale_orders", "presale_gmv"]].sum().reindex(all_days, fill_value=0)
            # days that belong to an event touching this channel (with its pre and post periods for festivals)
            touch = ev.loc[(ev["channel"] == "") | (ev["channel"] == ch) | (ch == "")] if not ch.startswith("!") \
                else ev.loc[ev["channel"] != ch[1:]]
            busy = np.zeros(len(all_days), dtype=bool)
            pos = all_days.values
            is_fest = touch["event"] != touch["campaign_id"]
            lo = np.where(is_fest, touch["event_start"] - pd.Timedelta(days=pre_days), touch["start_date"])
            hi = np.where(is_fest, touch["event_end"] + pd.Timedelta(days=post_days), touch["end_date"])
            for a, b in zip(lo, hi):  # a few dozen campaigns
                busy |= (pos >= np.datetime64(a)) & (pos <= np.datetime64(b))
            busy |= _spring_festival_mask(all_days)
            series[ch] = (g, pd.Series(~busy, index=all_days))
        return series[ch]

    rows = []
    for name, e in ev.groupby("event", sort=False):  # one per event: a few dozen
        ch = e["channel"].iloc[0] if (e["channel"] == e["channel"].iloc[0]).all() else ""
        g, valid = get(ch)
        is_fest = name != e["campaign_id"].iloc[0]
        s0, s1 = e["event_start"].iloc[0], e["event_end"].iloc[0]
        if s0 >= end:
            continue
        anchor = s0 - pd.Timedelta(days=pre_days) if is_fest else s0
        phases = []
        if is_fest:
            phases.append(("pre", None, s0 - pd.Timedelta(days=pre_days), s0 - DAY))
        for _, r in e.iterrows():  # one or two phases
            phases.append((r["phase"], r, r["start_date"], r["end_date"]))
        if is_fest:
            phases.append(("post", None, s1 + DAY, s1 + pd.Timedelta(days=post_days)))
        for phase, r, a, b in phases:
            if a < first_day:
                continue
            b_in = min(b, end - DAY)
            if b_in < a:
                continue
            lo = window_lift(g["orders"], a, b_in, valid=valid, before=anchor, baseline_days=baseline_days,
                             seasonal=seasonal)
            lg = window_lift(g["gmv"], a, b_in, valid=valid, before=anchor, baseline_days=baseline_days,
                             seasonal=seasonal)
            ctrl = np.nan
            if ch:  # untouched channels over the same days, against their own baseline
                gc, vc = get("!" + ch)
                ctrl = window_lift(gc["orders"], a, b_in, valid=vc, before=anchor, baseline_days=baseline_days,
                                   seasonal=seasonal)["lift"]
            ordinary = g["orders"] - g["presale_orders"]
            lord = window_lift(ordinary, a, b_in, valid=valid, before=anchor, baseline_days=baseline_days,
                               seasonal=seasonal)
            rows.append({
                "event": name, "phase": phase, "campaign_id": r["campaign_id"] if r is not None else "",
                "name": r["name"] if r is not None and "name" in r else "",
                "type": r["type"] if r is not None and "type" in r else "",
                "festival": (e["festival"].iloc[0] if "festival" in e.columns and pd.notna(e["festival"].iloc[0]) else ""),
                "channel": ch, "start": a, "end": b, "days": (b - a).days + 1, "complete": bool(b < end),
                "orders": lo["actual"], "expected_orders": lo["expected"], "lift": lo["lift"],
                "incremental_orders": lo["incremental"], "gmv": lg["actual"], "expected_gmv": lg["expected"],
                "gmv_lift": lg["lift"], "incremental_gmv": lg["incremental"], "ordinary_lift": lord["lift"],
                "season": lo["season"], "control_lift": ctrl,
                "note": "overlaps the spring festival 春节" if _spring_festival_mask(pd.date_range(a, b)).any() else ""})
    cols = ["event", "phase", "campaign_id", "name", "type", "festival", "channel", "start", "end", "days",
            "complete", "orders", "expected_orders", "lift", "incremental_orders", "gmv", "expected_gmv",
            "gmv_lift", "incremental_gmv", "ordinary_lift", "season", "control_lift", "note"]
    out = pd.DataFrame(rows, columns=cols)
    if out.empty:
        return out
    # the event's net effect: pre + presale + main + post
    net = out.groupby("event", sort=False).agg(
        start=("start", "min"), end=("end", "max"), days=("days", "sum"), complete=("complete", "all"),
        orders=("orders", "sum"), expected_orders=("expected_orders", "sum"), gmv=("gmv", "sum"),
        expected_gmv=("expected_gmv", "sum"), festival=("festival", "first"), channel=("channel", "first"),
        season=("season", "first")).reset_index()
    multi = out.groupby("event", sort=False).size()
    net = net.loc[net["event"].map(multi) > 1].assign(phase="net", campaign_id="", name="", type="")
    net["lift"] = net["orders"] / net["expected_orders"]
    net["incremental_orders"] = net["orders"] - net["expected_orders"]
    net["gmv_lift"] = net["gmv"] / net["expected_gmv"]
    net["incremental_gmv"] = net["gmv"] - net["expected_gmv"]
    net["ordinary_lift"] = np.nan
    net["control_lift"] = np.nan
    net["note"] = net["event"].map(out.groupby("event")["note"].agg(lambda x: next((v for v in x if v), "")))
    out = pd.concat([out, net[cols]], ignore_index=True)
    order = {"pre": 0, "presale": 1, "main": 2, "post": 3, "net": 4}
    out["_o"] = out["phase"].map(order)
    out["_s"] = out.groupby("event")["start"].transform("min")
    return out.sort_values(["_s", "event", "_o"]).drop(columns=["_o", "_s"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# 2. Campaign types compared
# ---------------------------------------------------------------------------------------------

def order_margins(orders: pd.DataFrame, items: pd.DataFrame | None = None, products: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per paid order: goods value (lines at their selling price, before order-level discounts),
    cost of goods, gross margin after every discount and the discount depth.

    Formulas: ``cogs = sum(qty x unit_cost)``; ``margin = paid_amount - shipping_fee - cogs``
    (what is left after item discounts, 满减 and coupons); ``discount_depth = discount_amount /
    gross_amount``. Without order_items and products, cogs and margin are NaN and goods is
    gross_amount - discount_amount.

    Returns columns order_id, goods, cogs, margin, discount_depth, indexed like the paid rows of
    ``orders`` (index name ``row``), so callers align by index instead of hashing ids again.
    """
    return _margins(orders, items, products)


def _margins(orders: pd.DataFrame, items: pd.DataFrame | None, products: pd.DataFrame | None, *,
             ids: bool = True, skus: tuple | None = None, lines_at: tuple | None = None,
             columns: Sequence[str] = ("goods", "cogs", "margin", "discount_depth")) -> pd.DataFrame:
    """:func:`order_margins`; without the order_id column when not ``ids`` (the chapter's sections
    align by index); ``skus``: the lines' sku codes and their distinct skus (factorized once, see
    :func:`_line_skus`), so the lines need no sku column; ``lines_at``: each line's position among
    ``orders`` and among the products (deduplicated by sku), -1 where absent, found by the caller,
    so neither table needs its ids; ``columns``: the figures to return (the
    chapter keeps goods and margin). The lines are summed first and each array is let go once
    used: a shop of ten million lines never holds more than a few of them at once."""
    _require(orders, "orders", ["paid_amount"] if lines_at is not None else ["order_id", "paid_amount"])
    paid = paid_mask(orders).to_numpy(dtype=bool)
    rows = np.flatnonzero(paid)
    n = len(rows)
    line_goods = line_cogs = has = known = None
    has_sku = skus is not None or lines_at is not None or "sku" in getattr(items, "columns", ())
    if items is not None and "qty" in items.columns and ("order_id" in items.columns or lines_at is not None) and has_sku:
        try:  # each line's order among all orders (lines follow their orders: no hash), then among the paid
            at = positions(items["order_id"], orders["order_id"]) if lines_at is None else lines_at[0]
            slot = np.where(paid, np.cumsum(paid) - 1, -1)
            pos = np.append(slot, -1)[at]  # at -1: the last slot, -1
            del at, slot
        except pd.errors.InvalidIndexError:  # repeated order ids: among the paid orders only, as before
            pos = positions(items["order_id"], orders["order_id"].iloc[rows])
        keep = pos >= 0
        p = pos[keep]
        del pos
        qty = items["qty"].to_numpy(dtype="float64", na_value=0.0)[keep]
        has = np.bincount(p, minlength=n) > 0
        if "unit_price" in items.columns:
            val = items["unit_price"].to_numpy(dtype="float64", na_value=np.nan)[keep]
            np.multiply(qty, val, out=val)
            line_goods = np.bincount(p, weights=np.nan_to_num(val, copy=False), minlength=n)
            del val
        if products is not None and {"sku", "unit_cost"} <= set(products.columns):
            pr = products.drop_duplicates("sku")
            if lines_at is not None:
                ci = lines_at[1][keep]
            elif skus is None:
                ci = positions(items["sku"], pr["sku"])[keep]
            else:  # each distinct sku looked up once
                codes, names = skus
                ci = np.append(positions(names, pr["sku"]), -1)[codes[keep]]
            unit = np.where(ci >= 0, pr["unit_cost"].to_numpy(dtype="float64", na_value=np.nan)[ci], np.nan)
            del ci
            np.multiply(qty, unit, out=unit)  # the line's cost
            known = np.bincount(p, weights=np.isfinite(unit).astype(float), minlength=n) > 0
            line_cogs = np.bincount(p, weights=np.nan_to_num(unit, copy=False), minlength=n)
            del unit
        del keep, p, qty

    def col(name, fill=None):  # a numeric column of the paid orders (every column is picked, then filtered)
        v = orders[name] if fill is None else orders[name].fillna(fill)
        return v.to_numpy(dtype="float64", na_value=np.nan)[rows]
    amount = col("paid_amount")
    gross = col("gross_amount") if "gross_amount" in orders.columns else amount
    disc = col("discount_amount", 0.0) if "discount_amount" in orders.columns else np.zeros(n)
    out = {}
    if ids:
        oid = orders["order_id"]
        out["order_id"] = oid.array.take(rows) if isinstance(oid.dtype, pd.StringDtype) else oid.to_numpy()[rows]
    if "goods" in columns:
        goods = gross - disc
        out["goods"] = goods if line_goods is None else np.where(has, line_goods, goods)
        del goods, line_goods
    cogs = np.full(n, np.nan) if line_cogs is None else np.where(has & known, line_cogs, np.nan)
    del line_cogs
    if "cogs" in columns:
        out["cogs"] = cogs
    if "margin" in columns:
        if known is None:
            out["margin"] = np.full(n, np.nan)
        else:
            ship = col("shipping_fee", 0.0) if "shipping_fee" in orders.columns else np.zeros(n)
            m = amount - ship
            del ship
            np.subtract(m, cogs, out=m)
            out["margin"] = m
    del cogs, amount
    if "discount_depth" in columns:
        with np.errstate(divide="ignore", invalid="ignore"):
            out["discount_depth"] = disc / np.where(gross > 0, gross, np.nan)
    del gross, disc
    index = pd.Index(orders.index[rows], name="row")
    return pd.concat({c: pd.Series(v, index=index, copy=False) for c, v in out.items()}, axis=1)


def campaign_scorecard(orders: pd.DataFrame, campaigns: pd.DataFrame, *, margins: pd.DataFrame | None = None,
                       spend: pd.DataFrame | None = None, lift: pd.DataFrame | None = None,
                       first_orders: pd.Series | None = None, history_start=None,
                       new_buyer_history_days: int = 180) -> pd.DataFrame:
    """One row per campaign: its orders, GMV, discount depth, margin after discount, spend, ROI,
    incremental GMV and ROI on the increment, and the share of new buyers.

    An order belongs to a campaign by ``orders.campaign_id`` (or, without it, by date and channel).
    Formulas: discount depth = sum(discount_amount) / sum(gross_amount); margin rate = sum(margin)
    / sum(paid_amount - shipping_fee); ROI = sum(margin) / spend (001 part 4: cut what stays under
    1); incremental ROI = incremental GMV x margin rate / spend; new-buyer share = buyers whose
    first paid order is the campaign order / buyers (NaN when the data hold fewer than
    ``new_buyer_history_days`` days before the campaign, as everyone would look new).

    Required columns: orders order_id (not when ``margins`` come indexed by row, as
    :func:`order_margins` gives them), order_ts, paid_amount, gross_amount, discount_amount;
    campaigns campaign_id, start_date, end_date. ``spend``: marketing_spend with campaign_id and
    spend; ``lift``: :func:`campaign_lift` (main and presale phases give the increment);
    ``first_orders``: first paid order_ts per customer_id.
    """
    by_row = margins is not None and margins.index.name == "row"  # aligned by row: no order ids needed
    _require(orders, "orders", (["order_ts", "paid_amount"] if by_row else ["order_id", "order_ts", "paid_amount"]))
    _require(campaigns, "campaigns", ["campaign_id", "start_date", "end_date"])
    cols = ["order_id", "order_ts", "paid_amount", "gross_amount", "discount_amount", "shipping_fee", "campaign_id",
            "channel", "customer_id"]
    if "campaign_id" in orders.columns:  # the paid orders of the listed campaigns, in one row filter
        keep = paid_mask(orders).to_numpy(dtype=bool) & orders["campaign_id"].notna().to_numpy(dtype=bool)
        keep &= _isin(orders["campaign_id"], campaigns["campaign_id"])
        o = _narrow(orders, cols)
        if not keep.all():  # (orders picked already, as the chapter's own section gives them: no copy)
            o = o.loc[keep]
        cid = o["campaign_id"]
    else:  # by date (and channel)
        o = _narrow(orders, cols).loc[paid_mask(orders)]
        cid = pd.Series(pd.NA, index=o.index, dtype="object")
        day = o["order_ts"].dt.normalize()
        for _, c in campaigns.iterrows():  # a few dozen campaigns
            m = (day >= c["start_date"]) & (day <= c["end_date"])
            if "channel" in campaigns.columns and pd.notna(c.get("channel")) and c.get("channel"):
                m &= o["channel"] == c["channel"]
            cid = cid.where(~m | cid.notna(), c["campaign_id"])
        o = o.assign(campaign_id=cid).loc[cid.notna()]
        o = o.loc[_isin(o["campaign_id"], campaigns["campaign_id"])]
    if margins is None:
        margins = order_margins(o)
    if margins.index.name == "row":
        margin = _by_row(margins["margin"], o.index)
    else:
        margin = o["order_id"].map(margins.set_index("order_id")["margin"])
    gross = o["gross_amount"] if "gross_amount" in o.columns else o["paid_amount"]
    disc = o["discount_amount"].fillna(0.0) if "discount_amount" in o.columns else 0.0 * gross
    ship = o["shipping_fee"].fillna(0.0) if "shipping_fee" in o.columns else 0.0 * gross
    frame = pd.DataFrame({"campaign_id": o["campaign_id"], "orders": 1, "gmv": o["paid_amount"], "gross": gross,
                          "discount": disc, "sales_ex_ship": o["paid_amount"] - ship,
                          "margin": margin.astype("float64")})
    if first_orders is not None and "customer_id" in o.columns:
        at = unique_positions(o["customer_id"], first_orders.index)  # integer ids: a binary search; else one Arrow hash lookup
        if at is None:  # a customer on several rows: the map's own rules
            first = o["customer_id"].map(first_orders)
            buyer = o["customer_id"]
        else:
            ts = first_orders.to_numpy()
            first = pd.Series(np.where(at >= 0, ts[np.maximum(at, 0)], ts.dtype.type("NaT")) if ts.dtype.kind == "M"
                              else first_orders.reindex(first_orders.index[np.maximum(at, 0)]).where(at >= 0).to_numpy(),
                              index=o.index)
            # a buyer as an integer: the row in first_orders, or a code of its own after them
            code = at.astype("float64")
            miss = (at < 0) & o["customer_id"].notna().to_numpy()
            if miss.any():
                code[miss] = len(first_orders) + pd.factorize(o["customer_id"].to_numpy()[miss])[0]
            code[o["customer_id"].isna().to_numpy()] = np.nan
            buyer = pd.Series(code, index=o.index)
        frame["new"] = (first == o["order_ts"]).astype("float64")
        frame["buyer"] = buyer
    g = frame.groupby("campaign_id")
    card = pd.DataFrame({"orders": g["orders"].sum(), "gmv": g["gmv"].sum(), "aov": g["gmv"].mean(),
                         "discount_depth": g["discount"].sum() / g["gross"].sum(),
                         "margin": g["margin"].sum(min_count=1),
                         "margin_rate": g["margin"].sum(min_count=1) / g["sales_ex_ship"].sum()})
    if "new" in frame.columns:
        card["buyers"] = g["buyer"].nunique()
        card["new_buyer_share"] = frame.loc[frame["new"] == 1].groupby("campaign_id")["buyer"].nunique() / card["buyers"]
        card["new_buyer_share"] = card["new_buyer_share"].fillna(0.0)
    card = campaigns.set_index("campaign_id")[[c for c in ("name", "type", "festival", "channel", "start_date",
                                                           "end_date", "budget") if c in campaigns.columns]].join(card, how="inner")
    if "new_buyer_share" in card.columns and history_start is not None:
        young = card["start_date"] < pd.Timestamp(history_start) + pd.Timedelta(days=new_buyer_history_days)
        card.loc[young, "new_buyer_share"] = np.nan
    if spend is not None and {"campaign_id", "spend"} <= set(spend.columns):
        card["spend"] = spend.groupby("campaign_id")["spend"].sum().reindex(card.index).fillna(0.0)
    else:
        card["spend"] = np.nan
    card["roi"] = card["margin"] / card["spend"].where(card["spend"] > 0)
    if lift is not None and not lift.empty:
        inc = lift.loc[lift["campaign_id"] != ""].set_index("campaign_id")
        card["lift"] = inc["gmv_lift"].reindex(card.index)
        card["incremental_gmv"] = inc["incremental_gmv"].reindex(card.index)
        card["incremental_roi"] = card["incremental_gmv"] * card["margin_rate"] / card["spend"].where(card["spend"] > 0)
    return card.reset_index()


def type_comparison(scorecard: pd.DataFrame) -> pd.DataFrame:
    """Campaign types compared: per ``type``, campaigns, orders, GMV, discount depth and margin
    rate (GMV-weighted), spend, ROI (sum of margin / sum of spend), median GMV lift and the
    new-buyer share (mean over campaigns that have one). Sorted by ROI."""
    sc = scorecard.copy()
    if "type" not in sc.columns:
        sc["type"] = "other"
    sc["_w_disc"] = sc["discount_depth"] * sc["gmv"]
    sc["_ex"] = sc["margin"] / sc["margin_rate"]
    g = sc.groupby("type")
    out = pd.DataFrame({"campaigns": g.size(), "orders": g["orders"].sum(), "gmv": g["gmv"].sum(),
                        "aov": g["gmv"].sum() / g["orders"].sum(),
                        "discount_depth": g["_w_disc"].sum() / g["gmv"].sum(),
                        "margin_rate": g["margin"].sum(min_count=1) / g["_ex"].sum(min_count=1),
                        "spend": g["spend"].sum(min_count=1)})
    out["roi"] = g["margin"].sum(min_count=1) / out["spend"].where(out["spend"] > 0)
    if "lift" in sc.columns:
        out["median_lift"] = g["lift"].median()
    if "new_buyer_share" in sc.columns:
        out["new_buyer_share"] = g["new_buyer_share"].mean()
    return out.reset_index().sort_values("roi", ascending=False).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# 3. Presale, coupons, full reduction
# ---------------------------------------------------------------------------------------------

def presale_share(orders: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Presale share of each festival's GMV and the deposit-to-balance timing.

    For each event with a presale phase (from :func:`campaign_events`): presale GMV (paid
    orders flagged ``is_presale`` placed in the presale window) / GMV of the whole event (presale
    plus the main phase's orders). Handbook 001 part 3: presale reached 35% of GMV. The timing is
    the median days from placing the presale order (the deposit) to paying it (the balance), and
    the share of presale orders never paid (deposits lost).

    Returns columns event, presale_start, presale_end, main_end, presale_orders, presale_gmv,
    event_gmv, presale_share, median_days_to_balance, unpaid_share.
    """
    _require(orders, "orders", ["order_ts", "paid_amount", "is_presale"])
    return pd.DataFrame(_presale_rows(orders, events, events.loc[events["phase"] == "presale"]), columns=_PRESALE_COLUMNS)


_PRESALE_COLUMNS = ["event", "presale_start", "presale_end", "main_end", "presale_orders", "presale_gmv", "event_gmv",
                    "presale_share", "median_days_to_balance", "unpaid_share"]


def _presale_rows(orders: pd.DataFrame, events: pd.DataFrame, pre: pd.DataFrame) -> list[dict]:
    """:func:`presale_share`'s row of each presale phase of ``pre`` (rows of ``events``)."""
    rows = []
    paid = paid_mask(orders)
    day = orders["order_ts"].dt.normalize()
    is_pre = orders["is_presale"].fillna(False).astype(bool)
    for _, p in pre.iterrows():  # one per festival with a presale
        m_end = _main_end(events, p)
        in_pre = (day >= p["start_date"]) & (day <= p["end_date"]) & is_pre
        in_event = (day >= p["start_date"]) & (day <= m_end) & paid
        pre_paid = in_pre & paid
        timing = (orders.loc[pre_paid, "paid_ts"] - orders.loc[pre_paid, "order_ts"]).dt.total_seconds() / 86400 \
            if "paid_ts" in orders.columns else pd.Series(dtype="float64")
        ev_gmv = float(orders.loc[in_event, "paid_amount"].sum())
        pg = float(orders.loc[pre_paid, "paid_amount"].sum())
        rows.append({"event": p["event"], "presale_start": p["start_date"], "presale_end": p["end_date"],
                     "main_end": m_end, "presale_orders": int(pre_paid.sum()), "presale_gmv": pg,
                     "event_gmv": ev_gmv, "presale_share": pg / ev_gmv if ev_gmv > 0 else np.nan,
                     "median_days_to_balance": float(timing.median()) if len(timing) else np.nan,
                     "unpaid_share": float(1 - pre_paid.sum() / in_pre.sum()) if in_pre.sum() else np.nan})
    return rows


def _main_end(events: pd.DataFrame, p: pd.Series):
    """The last day of the main phase of presale phase ``p``'s event (the presale's own end without one)."""
    main = events.loc[(events["event"] == p["event"]) & (events["phase"] == "main")]
    return main["end_date"].max() if len(main) else p["end_date"]


def coupon_uptake(orders: pd.DataFrame, *, start=None, end=None) -> pd.DataFrame:
    """Coupon uptake between ``start`` and ``end`` (exclusive): per coupon code, paid orders, share
    of all paid orders, AOV with the coupon and AOV of the orders without any coupon; a ``(none)``
    row for the orders without. Required: orders.order_ts, paid_amount, coupon_code."""
    _require(orders, "orders", ["order_ts", "paid_amount", "coupon_code"])
    keep = paid_mask(orders).to_numpy(dtype=bool, copy=True)
    if start is not None:
        keep &= (orders["order_ts"] >= pd.Timestamp(start)).to_numpy(dtype=bool)
    if end is not None:
        keep &= (orders["order_ts"] < pd.Timestamp(end)).to_numpy(dtype=bool)
    if pd.api.types.is_string_dtype(orders["coupon_code"]):  # group on codes: the codes' text is not rewritten
        code, names = pd.factorize(orders["coupon_code"])
        names = np.array(["(none)" if c == "" else str(c) for c in names] + ["(none)"], dtype=object)
        label, at = np.unique(names, return_inverse=True)  # "" and missing read "(none)"; groups sorted by name
        group = pd.Categorical.from_codes(np.where(keep, at[code], -1), categories=pd.Index(label.tolist(), dtype="str"))
        g = orders["paid_amount"].groupby(group, observed=True)
        out = pd.DataFrame({"orders": g.size(), "gmv": g.sum(), "aov": g.mean()})
        out.index = pd.Index(out.index.astype("str"), name="coupon_code")
        return _coupon_table(out)
    o = _narrow(orders, ["paid_amount", "coupon_code"]).loc[keep]
    code = o["coupon_code"].fillna("").astype(str).replace("", "(none)")
    g = o["paid_amount"].groupby(code)
    out = pd.DataFrame({"orders": g.size(), "gmv": g.sum(), "aov": g.mean()})
    return _coupon_table(out)


def _coupon_table(out: pd.DataFrame) -> pd.DataFrame:
    """:func:`coupon_uptake`'s table from orders, gmv and aov per coupon code."""
    out["share"] = out["orders"] / out["orders"].sum() if len(out) else np.nan
    base = out["aov"].get("(none)", np.nan)
    out["aov_vs_none"] = out["aov"] / base - 1
    return out.reset_index(names="coupon_code").sort_values("orders", ascending=False).reset_index(drop=True)


_FR = re.compile(r"满\s*(\d+)\s*减\s*(\d+)")


def full_reduction_thresholds(campaigns: pd.DataFrame, orders: pd.DataFrame | None = None,
                              margins: pd.DataFrame | None = None) -> pd.DataFrame:
    """The 满减 threshold and reduction of each full_reduction campaign: read from its name
    (``满300减40``), or else inferred from its orders (the most common order-level reduction, and
    the smallest basket value that got it, rounded down to 10 yuan).

    Returns columns campaign_id, threshold, reduction, source (``name`` or ``orders``).
    """
    fr = campaigns.loc[_type(campaigns) == "full_reduction"]
    rows = []
    sub = None
    for _, c in fr.iterrows():  # a few campaigns
        m = _FR.search(str(c.get("name", "")))
        if m:
            rows.append({"campaign_id": c["campaign_id"], "threshold": float(m.group(1)),
                         "reduction": float(m.group(2)), "source": "name"})
            continue
        if orders is None or margins is None or "campaign_id" not in orders.columns:
            continue
        if sub is None:  # the paid orders of the full-reduction campaigns, once (only the columns used)
            sub = _narrow(orders, ["order_id", "campaign_id", "gross_amount", "discount_amount"]).loc[
                paid_mask(orders) & _isin(orders["campaign_id"], fr["campaign_id"])]
        o = sub.loc[sub["campaign_id"] == c["campaign_id"]]
        goods = (_by_row(margins["goods"], o.index) if margins.index.name == "row"
                 else o["order_id"].map(margins.set_index("order_id")["goods"]))
        gross = o["gross_amount"] - o["discount_amount"]  # paid before shipping, gross of item discounts
        order_disc = (goods - gross).round(0)
        pos = order_disc[order_disc > 0]
        if len(pos) < 20:
            continue
        red = float(pos.mode().iloc[0])
        thr = float(np.floor(goods[order_disc == red].min() / 10) * 10)
        rows.append({"campaign_id": c["campaign_id"], "threshold": thr, "reduction": red, "source": "orders"})
    out = pd.DataFrame(rows, columns=["campaign_id", "threshold", "reduction", "source"])
    if "festival" in campaigns.columns and len(out):
        # an inferred threshold takes the most common one of the same festival (a campaign that has
        # only begun has few orders to infer from)
        fest = out["campaign_id"].map(campaigns.set_index("campaign_id")["festival"]).fillna("")
        common = out.groupby(fest)["threshold"].agg(lambda s: s.mode().iloc[0])
        inferred = (out["source"] == "orders") & (fest != "")
        out.loc[inferred, "threshold"] = fest[inferred].map(common)
    return out


def threshold_bunching(goods: pd.Series, in_campaign: pd.Series, threshold: float, *, bin_width: float = 20) -> dict:
    """Bunching of basket values just above a 满减 threshold.

    Formula: ``ratio = n[T, T+w) / n[T-w, T)`` for baskets during the campaign and for ordinary
    baskets; ``bunching = ratio_campaign / ratio_ordinary`` (1 = no bunching; 1.5 = half again as
    many baskets just above the line as the ordinary shape of basket values would give). Also the
    share of baskets at or above T during the campaign and outside.

    ``goods``: the basket value the threshold applies to (lines at their selling price);
    ``in_campaign``: a boolean Series on the same index.
    """
    T, w = float(threshold), float(bin_width)
    inc = in_campaign.to_numpy(dtype=bool)
    g = goods.to_numpy(dtype="float64")
    above = (g >= T) & (g < T + w)
    below = (g >= T - w) & (g < T)
    a1, b1, a0, b0 = above[inc].sum(), below[inc].sum(), above[~inc].sum(), below[~inc].sum()
    r1 = a1 / b1 if b1 else np.nan
    r0 = a0 / b0 if b0 else np.nan
    # a test: is the above-share among the two bins higher during the campaign? (2x2 chi-square)
    p = np.nan
    if min(a1 + b1, a0 + b0, a1 + a0, b1 + b0) > 0:
        p = probability.contingency_p([[a1, b1], [a0, b0]])
    return {"threshold": T, "campaign_above": int(a1), "campaign_below": int(b1), "ordinary_above": int(a0),
            "ordinary_below": int(b0), "ratio_campaign": r1, "ratio_ordinary": r0,
            "bunching": r1 / r0 if r0 and np.isfinite(r0) and r0 > 0 else np.nan, "p_value": p,
            "share_over_campaign": float((g[inc] >= T).mean()) if inc.any() else np.nan,
            "share_over_ordinary": float((g[~inc] >= T).mean()) if (~inc).any() else np.nan}


# ---------------------------------------------------------------------------------------------
# 5. A/B tests
# ---------------------------------------------------------------------------------------------

def ab_test(experiments: pd.DataFrame, *, alpha: float = 0.05, power: float = 0.8, mde_relative: float = 0.10) -> pd.DataFrame:
    """Each test arm against the control, read with the data-ops helper
    (:func:`playbook.dataops.ab_readout`: two-proportion z-test on conversion, Welch's t-test on
    revenue per unit, CUPED with ``pre_metric``, sample-ratio check, planned size), plus the power
    the test had and a verdict that never reads "no difference" into a test too small to see one.

    Formulas: power = ``Phi(d / se - z_{1-a/2})`` at the planned effect ``d = p_c x mde_relative``
    with the unpooled ``se = sqrt(p_t q_t / n_t + p_c q_c / n_c)``; MDE (relative) =
    ``(z_{1-a/2} + z_power) se / p_c`` (002 part 05: test 满减, discounts and gifts against each
    other before a festival).

    Required columns: experiment_id, unit_id, variant (control named ``control``), converted;
    optional revenue, pre_metric. Returns one row per experiment and non-control variant: n_control,
    n_variant, conv_control, conv_variant, uplift, diff, ci_low, ci_high, p_value, power,
    mde_relative, needed_per_arm, srm_p, rev_control, rev_variant, rev_p, rev_p_cuped, warning,
    verdict (``variant wins``, ``control wins``, ``no difference (well powered)``,
    ``inconclusive (under-powered)``, ``invalid (SRM)``).
    """
    return _ab_test(experiments, alpha=alpha, power=power, mde_relative=mde_relative)


def _recode(codes: np.ndarray, uniques: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Sorted factorize codes of a subset of rows: the values no row keeps are dropped and the
    codes renumbered (what ``pd.factorize(subset, sort=True)`` gives)."""
    used = np.bincount(codes[codes >= 0], minlength=len(uniques)) > 0
    if used.all():
        return codes, uniques
    new = np.append(np.cumsum(used) - 1, -1)  # the last slot: code -1 stays -1
    return new[codes], uniques[used]


def _ab_test(experiments: pd.DataFrame, *, alpha: float, power: float, mde_relative: float,
             units_checked: bool = False, codes: tuple | None = None, arms_out: dict | None = None) -> pd.DataFrame:
    """:func:`ab_test`; ``units_checked``: the caller made sure the table has unit ids (each row
    is one unit), so the frame may come without the column; ``codes``: the rows' experiment and
    variant codes (see :func:`playbook.dataops._ab_readout`)."""
    from .dataops import _ab_readout, ab_readout

    if units_checked:
        r = _ab_readout(experiments, alpha=alpha, power=power, mde_relative=mde_relative, srm_p=0.001, planned=None,
                        codes=codes, arms_out=arms_out)
    else:
        r = ab_readout(experiments, alpha=alpha, power=power, mde_relative=mde_relative)
    r = r.rename(columns={"n_treatment": "n_variant", "conv_treatment": "conv_variant", "lift": "uplift",
                          "diff_low": "ci_low", "diff_high": "ci_high", "planned_per_arm": "needed_per_arm",
                          "rpu_control": "rev_control", "rpu_treatment": "rev_variant", "rpu_p": "rev_p",
                          "cuped_p": "rev_p_cuped"})
    za, zb = probability.norm_ppf(1 - alpha / 2), probability.norm_ppf(power)
    pc, pt = r["conv_control"].astype("float64"), r["conv_variant"].astype("float64")
    se = np.sqrt(pt * (1 - pt) / r["n_variant"] + pc * (1 - pc) / r["n_control"])
    r["power"] = probability.norm_cdf(pc * mde_relative / se - za)
    r["mde_relative"] = (za + zb) * se / pc
    sig = r["p_value"] < alpha
    r["verdict"] = np.select(
        [r["verdict"] == "invalid (SRM)", sig & (r["diff"] > 0), sig, r["power"] >= power],
        ["invalid (SRM)", "variant wins", "control wins", "no difference (well powered)"],
        default="inconclusive (under-powered)")
    return r


# ---------------------------------------------------------------------------------------------
# Section results
# ---------------------------------------------------------------------------------------------

@dataclass
class _Result:
    note: str | None = None
    month: str = ""
    alerts: pd.DataFrame = field(default_factory=lambda: _alerts_frame([]))

    @property
    def skipped(self) -> bool:
        return self.note is not None

    def _summary(self) -> pd.DataFrame:  # pragma: no cover
        return pd.DataFrame()

    @property
    def summary(self) -> pd.DataFrame:
        """The section's figures as a small table (or the skip note)."""
        return _note_frame(self.note) if self.skipped else self._summary()

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


_PHASE_LABEL = {"pre": "pre (pull-forward) 蓄水期", "presale": "presale 预售", "main": "main 正式期",
                "post": "post (dip) 返场/回落", "net": "net over the event 净效果"}


@dataclass
class LiftResult(_Result):
    """Section 1 (see :func:`lift_report`)."""

    lift: pd.DataFrame = field(default_factory=pd.DataFrame)  #: every event and phase
    daily: pd.DataFrame = field(default_factory=pd.DataFrame)  #: shop-wide daily orders with the focus event's baseline
    focus: str = ""  #: the event drawn: the last complete festival with a presale
    focus_rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    recent: pd.DataFrame = field(default_factory=pd.DataFrame)  #: events of the last 12 months (main phase)

    def _phase(self, phase: str, col: str = "lift"):
        f = self.focus_rows
        v = f.loc[f["phase"] == phase, col] if len(f) else pd.Series(dtype="float64")
        return float(v.iloc[0]) if len(v) and pd.notna(v.iloc[0]) else None

    @property
    def main_lift(self):
        """Main-phase lift (orders) of the focus festival."""
        return self._phase("main")

    @property
    def net_lift(self):
        """Net lift (orders) of the focus festival from pre-period to dip."""
        return self._phase("net")

    @property
    def net_incremental_gmv(self):
        """Incremental GMV of the focus festival over the whole event."""
        return self._phase("net", "incremental_gmv")

    @property
    def label(self) -> str:
        return self.focus or "last festival"

    def _summary(self) -> pd.DataFrame:
        f = self.focus_rows
        return pd.DataFrame({"figure": [f"{self.focus}: {_PHASE_LABEL[p]}" for p in f["phase"]],
                             "lift (orders)": [f"{v:.2f}" for v in f["lift"]],
                             "ordinary orders": [f"{v:.2f}" for v in f["ordinary_lift"]],
                             "incremental GMV": [f"¥{v:,.0f}" for v in f["incremental_gmv"]]})

    @property
    def focus_view(self):
        if self.skipped:
            return self.summary
        f = self.focus_rows.assign(phase=lambda x: x["phase"].map(_PHASE_LABEL))
        cols = ["phase", "campaign_id", "start", "end", "orders", "expected_orders", "lift", "ordinary_lift",
                "gmv", "expected_gmv", "incremental_gmv"]
        return _styled(f[cols], dates=["start", "end"], count=["orders", "expected_orders"],
                       dec2=["lift", "ordinary_lift"], money=["gmv", "expected_gmv", "incremental_gmv"])

    @property
    def recent_view(self):
        if self.skipped:
            return self.summary
        cols = ["event", "campaign_id", "name", "start", "end", "channel", "orders", "lift", "control_lift", "gmv_lift",
                "incremental_gmv", "pre_lift", "post_lift", "net_lift", "note"]
        return _styled(self.recent[[c for c in cols if c in self.recent.columns]], dates=["start", "end"], count=["orders"],
                       dec2=["lift", "control_lift", "gmv_lift", "pre_lift", "post_lift", "net_lift"], money=["incremental_gmv"])


def _orders_daily(data) -> pd.DataFrame:
    """:func:`daily_sales` of the dataset's orders, once per dataset (sections 1 and 4)."""
    from .derived import column_codes

    from .loading import has_column

    def compute():
        windows = _order_windows(data)
        if windows is not None and len(windows) > 1:  # a large shop: a few months at a time (whole days each)
            from .loading import read_window

            parts = []
            for a, b in windows:
                orders = read_window(data, "orders", [*ORDER_COLUMNS["daily"], "channel"], "order_ts", a, b)
                parts.append(daily_sales(orders))
                del orders
            _release_arrow_memory()
            return pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
        prepared = hasattr(data, "table_file") and data.table_file("orders") is not None
        orders = _orders(data, ORDER_COLUMNS["daily"])
        if prepared and has_column(data, "orders", "channel") and orders["order_ts"].dtype.kind == "M":
            # a prepared table's channels as codes from its file: no text column of millions of rows
            codes, names = column_codes(data, "orders", "channel")
            _require(orders, "orders", ["order_ts", "paid_amount"])
            out = _daily_sales_codes(orders, paid_mask(orders).to_numpy(dtype=bool), channels=(codes, names),
                                     dtype=names.dtype)
            del orders
            _release_arrow_memory()
            return out
        return daily_sales(orders)
    return _memo(data, "daily_sales", ["orders"], compute)


def _order_margins(data) -> pd.DataFrame:
    """:func:`order_margins` of the dataset's orders, lines and products, once per dataset
    (sections 2 and 3)."""
    from .loading import read_columns

    def compute():
        products = _table(data, "products") if data.has("products") else None
        out = _chunked_margins(data, products)  # a prepared shop: a part of the orders at a time
        if out is not None:
            _release_arrow_memory()
            return out
        # the lines are read for this once-per-dataset sum only (not kept): nothing else uses them
        items = (read_columns(data, "order_items", COLUMNS["order_items"] + SECTION_IDS["order_items"], keep=False)
                 if data.has("order_items") else None)
        products = _table(data, "products") if data.has("products") else None
        skus = _line_skus(data) if items is not None and products is not None else None
        orders = _orders(data, ORDER_COLUMNS["margins"])
        out = _margins(orders, items, products, ids=False, skus=skus, columns=("goods", "margin"))
        del items, orders
        _release_arrow_memory()
        return out
    return _memo(data, "order_margins", ["orders", "order_items", "products"], compute)


def _chunked_margins(data, products: pd.DataFrame | None) -> pd.DataFrame | None:
    """:func:`_margins` (goods and margin, indexed by row) of a prepared shop whose order ids
    strictly ascend and whose lines come in the order of their orders' ids (as
    :func:`playbook.loading.prepare` writes them): the orders are read :data:`_CHUNK_ROWS` at a
    time, each part with all the lines of its orders, so no join of every line with every order is
    held (at a hundred million lines that join and its ids are most of a kernel's memory); a
    line's order is found by a binary search of the part's sorted ids, its product from the
    file's dictionary of skus. Each order's lines are summed in the same order as over the whole
    tables: the same figures. None when the tables are not prepared files, lack a column this
    needs, or are not in that order (the caller joins the whole tables then)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from .loading import file_columns

    ofile = _orders_file(data)
    ifile = data.table_file("order_items") if data.has("order_items") else None
    if (ofile is None or ifile is None or products is None or getattr(data, "_partial", {}).get("order_items")
            or not {"sku", "unit_cost"} <= set(products.columns) or "order_id" not in file_columns(ofile)):
        return None
    icols = [c for c in ("order_id", "sku", "qty", "unit_price") if c in file_columns(ifile)]
    if not {"order_id", "sku", "qty"} <= set(icols):
        return None
    skus = products.drop_duplicates("sku")["sku"]  # as _margins keeps them
    if skus.isna().any() or not pd.api.types.is_string_dtype(skus):
        return None
    skus = pd.Index(skus)

    def ascending(ids, strict: bool) -> bool:  # text ids without gaps, each after (or equal to) the one before
        if ids.null_count or not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
            return False
        if len(ids) < 2:
            return True
        test = pc.less if strict else pc.less_equal
        return bool(pc.all(test(ids.slice(0, len(ids) - 1), ids.slice(1))).as_py())

    lines = pq.ParquetFile(ifile, read_dictionary=["sku"])
    batches = lines.iter_batches(batch_size=_CHUNK_ROWS, columns=icols)
    pending = None  # lines read and not handed to a part yet, with their product's position
    last_line = None  # the id of the last line read
    last_order = None
    start = 0
    parts = []
    for batch in pq.ParquetFile(ofile).iter_batches(batch_size=_CHUNK_ROWS,
                                                     columns=[c for c in ORDER_COLUMNS["margins"] if c in file_columns(ofile)]):
        if not batch.num_rows:
            continue
        ids = batch.column("order_id")
        if not ascending(ids, True) or (last_order is not None and ids[0].as_py() <= last_order):
            return None
        last_order = ids[-1].as_py()
        orders = pa.Table.from_batches([batch.drop_columns(["order_id"])]).to_pandas(split_blocks=True, self_destruct=True)
        orders.index = pd.RangeIndex(start, start + len(orders))
        start += len(orders)
        del batch
        while last_line is None or last_line <= last_order:  # read lines up to the first of a later order
            lb = next(batches, None)
            if lb is None:
                break
            if not lb.num_rows:
                continue
            lid = lb.column("order_id")
            if not ascending(lid, False) or (last_line is not None and lid[0].as_py() < last_line):
                return None
            last_line = lid[-1].as_py()
            sku = lb.column("sku")  # a dictionary: each distinct sku looked up once
            at = np.append(positions(sku.dictionary.to_pandas(), skus), -1)
            code = pc.fill_null(sku.indices, -1).to_numpy(zero_copy_only=False)
            table = pa.Table.from_batches([lb.drop_columns(["sku"])]).append_column("_sku_at", pa.array(at[code]))
            pending = table if pending is None else pa.concat_tables([pending, table])
            del lb, sku, code, table
        if pending is None:
            return None
        take = int(pc.sum(pc.less_equal(pending.column("order_id"), last_order)).as_py() or 0)
        mine, pending = pending.slice(0, take), pending.slice(take)
        at = _sorted_positions(mine.column("order_id"), ids)
        part = _margins(orders, mine.select([c for c in ("qty", "unit_price") if c in icols]).to_pandas(), products,
                        ids=False, lines_at=(at, mine.column("_sku_at").to_numpy()), columns=("goods", "margin"))
        parts.append([part.index.to_numpy(), part["goods"].to_numpy(), part["margin"].to_numpy()])
        del orders, mine, part, at, ids
    del pending
    if not parts:
        return None
    cols = [_joined_column(parts, i) for i in range(3)]
    index = pd.Index(cols[0], name="row")
    return pd.concat({"goods": pd.Series(cols[1], index=index, copy=False),
                      "margin": pd.Series(cols[2], index=index, copy=False)}, axis=1)


def _sorted_positions(values, keys) -> np.ndarray:
    """Position of each of ``values`` among ``keys`` (Arrow text, strictly ascending), -1 where
    absent: :func:`playbook.derived.positions`, by a binary search of the keys as the 64-bit
    integers :func:`playbook.derived.id_integers` packs them into (which sort as the texts do)."""
    import pyarrow as pa

    from .derived import fixed_width_bytes, id_integers

    values, keys = (x.combine_chunks() if isinstance(x, pa.ChunkedArray) else x for x in (values, keys))
    k, v = fixed_width_bytes(keys), fixed_width_bytes(values)
    ints = (id_integers(k[0], v[0]) if k is not None and v is not None and k[1] is None and v[1] is None
            and k[0].shape[1] == v[0].shape[1] else None)
    if ints is None:
        return positions(values.to_pandas(), keys.to_pandas())
    keys_i, vals_i = ints
    at = np.searchsorted(keys_i, vals_i)
    inside = np.minimum(at, max(len(keys_i) - 1, 0))
    found = (at < len(keys_i)) & (keys_i[inside] == vals_i) if len(keys_i) else np.zeros(len(vals_i), dtype=bool)
    return np.where(found, at, -1).astype(np.intp)


def _line_skus(data) -> tuple | None:
    """The order lines' sku codes and distinct skus (once per dataset, read as codes from a
    prepared file: no text per line), or None when the lines carry no sku."""
    from .derived import column_codes
    from .loading import has_column

    return column_codes(data, "order_items", "sku") if has_column(data, "order_items", "sku") else None


def lift_report(data, *, record=None) -> LiftResult:
    """Section 1: the lift of every campaign event against a weekday-aware baseline from its
    pre-period, with the pull-forward before and the dip after festivals (:func:`campaign_lift`).
    Needs orders and campaigns."""
    cfg = _settings(data)
    res = LiftResult(month=_month(data))
    note = data.missing_note("campaigns")
    if note:
        res.note = _skip(record, "Campaign lift", note)
        return res
    end = _cutoff(data)
    daily = _orders_daily(data)
    lift = campaign_lift(daily, data["campaigns"], end=end, baseline_days=int(cfg["baseline_days"]),
                         pre_days=int(cfg["pre_days"]), post_days=int(cfg["post_days"]),
                         seasonal=bool(cfg["seasonal_adjust"]))
    res.lift = lift
    if lift.empty:
        res.note = _skip(record, "Campaign lift", "no campaign ran within the loaded months")
        return res
    # the focus: the last complete festival event with a presale, else the last complete festival
    net = lift.loc[lift["phase"] == "net"]
    with_pre = set(lift.loc[lift["phase"] == "presale", "event"])
    done = net.loc[net["complete"]]
    pick = done.loc[done["event"].isin(with_pre)]
    # the next big festival (running or coming within half a year): show its last complete edition
    nxt = festival_calendar(end - pd.Timedelta(days=30), end + pd.Timedelta(days=183))
    nxt = nxt.loc[nxt["presale_start"].notna() & (nxt["end"] >= end)]
    recent = pick.loc[pick["end"] >= end - pd.Timedelta(days=60)]  # a festival just over is the story
    if len(recent):
        pick = recent
    elif len(nxt) and len(pick):
        same = pick.loc[pick["festival"] == nxt["festival"].iloc[0]]
        pick = same if len(same) else pick
    pick = pick if len(pick) else done
    pick = pick if len(pick) else net
    res.focus = pick["event"].iloc[-1] if len(pick) else lift["event"].iloc[-1]
    res.focus_rows = lift.loc[lift["event"] == res.focus].reset_index(drop=True)
    # shop-wide daily series around the focus event, with its baseline
    fr = res.focus_rows
    a, b = fr["start"].min() - pd.Timedelta(days=int(cfg["baseline_days"]) + 7), fr["end"].max() + pd.Timedelta(days=7)
    d = daily.groupby("date")[["orders", "presale_orders"]].sum()
    days = pd.date_range(max(a, d.index.min()), min(b, end - DAY))
    d = d.reindex(days, fill_value=0)
    ch = fr["channel"].iloc[0]
    res.daily = d.reset_index(names="date").assign(channel=ch or "all")
    base_end = fr["start"].min()
    base = d.loc[:base_end - DAY].tail(int(cfg["baseline_days"]))["orders"]
    season = float(fr["season"].iloc[0]) if pd.notna(fr["season"].iloc[0]) else 1.0
    res.daily["expected"] = weekday_baseline(base, days).to_numpy() * season
    res.daily.loc[res.daily["date"] < base_end, "expected"] = np.nan
    # events of the last 12 months: main phase with the event's pre, post and net lifts
    m0 = pd.Timestamp(res.month + "-01") - pd.DateOffset(months=11)
    main = lift.loc[(lift["phase"] == "main") & (lift["end"] >= m0)].copy()
    piv = lift.pivot_table(index="event", columns="phase", values="lift", aggfunc="first")
    for p in ("pre", "post", "net"):
        main[f"{p}_lift"] = main["event"].map(piv[p]) if p in piv.columns else np.nan
    ev_note = lift.loc[lift["phase"] == "net"].set_index("event")["note"]
    main["note"] = main["event"].map(ev_note).fillna(main["note"])
    res.recent = main.reset_index(drop=True)
    alerts = []
    for _, r in res.recent.iterrows():  # a few dozen events
        if r["complete"] and pd.notna(r["net_lift"]) and r["net_lift"] < 1 and r["festival"] and not r["note"]:
            alerts.append({"severity": "medium", "subject": r["campaign_id"],
                           "message": f"{r['event']} sold less over the whole event (pre-period to dip) than "
                                      f"its baseline: net lift {r['net_lift']:.2f}"})
    res.alerts = _alerts_frame(alerts)
    return res


@dataclass
class TypeResult(_Result):
    """Section 2 (see :func:`type_report`)."""

    scorecard: pd.DataFrame = field(default_factory=pd.DataFrame)
    types: pd.DataFrame = field(default_factory=pd.DataFrame)
    roi_min: float = 1.0
    caveat: str = ""
    losing: pd.DataFrame = field(default_factory=pd.DataFrame)  #: campaigns with ROI under roi_min

    @property
    def losing_count(self):
        """Campaigns with ROI under the line (None when the section is skipped)."""
        return None if self.skipped or self.scorecard.empty or self.scorecard["roi"].isna().all() else len(self.losing)

    def _summary(self) -> pd.DataFrame:
        return pd.DataFrame({"figure": ["campaigns compared", "types", f"campaigns with ROI under {self.roi_min:g}"],
                             "value": [len(self.scorecard), len(self.types), len(self.losing)]})

    @property
    def types_view(self):
        if self.skipped:
            return self.summary
        return _styled(self.types, count=["campaigns", "orders"], money=["gmv", "aov", "spend"],
                       pct=["discount_depth", "margin_rate", "new_buyer_share"], dec2=["roi", "median_lift"])

    @property
    def scorecard_view(self):
        if self.skipped:
            return self.summary
        cols = ["campaign_id", "name", "type", "start_date", "orders", "gmv", "discount_depth", "margin_rate", "spend",
                "roi", "lift", "incremental_roi", "new_buyer_share"]
        sc = self.scorecard.sort_values("start_date", ascending=False).head(15)
        return _styled(sc[[c for c in cols if c in sc.columns]], dates=["start_date"], count=["orders"],
                       money=["gmv", "spend"], pct=["discount_depth", "margin_rate", "new_buyer_share"],
                       dec2=["roi", "lift", "incremental_roi"])


def type_report(data, *, lift: LiftResult | None = None, record=None) -> TypeResult:
    """Section 2: campaign types compared (:func:`campaign_scorecard`, :func:`type_comparison`).
    Needs orders and campaigns; order_items and products give the margin, marketing_spend the ROI."""
    cfg = _settings(data)
    res = TypeResult(month=_month(data), roi_min=float(cfg["roi_min"]))
    note = data.missing_note("campaigns")
    if note:
        res.note = _skip(record, "Campaign types", note)
        return res
    from .loading import read_derived_columns

    camp = data["campaigns"]
    camp = camp.loc[camp["start_date"] < _cutoff(data)]
    margins = _order_margins(data)
    o, history_start = _campaign_orders(data, camp)
    spend = data["marketing_spend"] if data.has("marketing_spend") else None
    first = None
    if "customer_id" in o.columns:
        cs = read_derived_columns(data, "customer_summary", ["customer_id", "first_order_ts"])
        first = cs.set_index("customer_id")["first_order_ts"]
    caveats = []
    if not data.has("order_items") or not data.has("products"):
        caveats.append("no order_items/products: margin and ROI cannot be computed")
    if spend is None or "campaign_id" not in spend.columns:
        caveats.append("no marketing_spend by campaign_id: spend and ROI are missing")
    res.caveat = "; ".join(caveats)
    sc = campaign_scorecard(o, camp, margins=margins, spend=spend,
                            lift=lift.lift if lift is not None and not lift.skipped else None,
                            first_orders=first, history_start=history_start,
                            new_buyer_history_days=int(cfg["new_buyer_history_days"]))
    del o, first
    _release_arrow_memory()  # the section's ids, read for it only
    res.scorecard = sc
    res.types = type_comparison(sc) if len(sc) else pd.DataFrame()
    res.losing = sc.loc[sc["roi"] < res.roi_min].reset_index(drop=True)
    res.alerts = _alerts_frame([{"severity": "medium", "subject": r["campaign_id"],
                                 "message": f"{r['name']}: gross margin {r['margin']:,.0f} on spend {r['spend']:,.0f} "
                                            f"(ROI {r['roi']:.2f}, under {res.roi_min:g})"}
                                for _, r in res.losing.iterrows()])
    return res


def _campaign_orders(data, camp: pd.DataFrame) -> tuple[pd.DataFrame, pd.Timestamp]:
    """The orders :func:`campaign_scorecard` reads (:data:`ORDER_COLUMNS` ``types``) and the first
    day of the orders (``history_start``). Of a prepared table with campaign ids, only the paid
    orders of the campaigns ``camp`` lists, read a part at a time and indexed by row (the rows the
    scorecard would pick from the whole table, in the same order; a quarter of a shop's orders)."""
    from .loading import has_column

    cols = ORDER_COLUMNS["types"]
    if _orders_file(data) is None or not has_column(data, "orders", "campaign_id"):
        o = _orders(data, cols)
        return o, o["order_ts"].min().normalize()
    first = []

    def reduce(frame):
        first.append(frame["order_ts"].min())
        keep = paid_mask(frame).to_numpy(dtype=bool) & frame["campaign_id"].notna().to_numpy(dtype=bool)
        keep &= _isin(frame["campaign_id"], camp["campaign_id"])
        return frame.loc[keep, [c for c in frame.columns if c != "status"]]  # paid, all of them
    parts = _order_parts(data, cols, reduce)
    o = parts[0] if len(parts) == 1 else pd.concat(parts)
    return o, pd.Series(first, dtype=o["order_ts"].dtype).min().normalize()


@dataclass
class MechanicsResult(_Result):
    """Section 3 (see :func:`mechanics_report`)."""

    presale: pd.DataFrame = field(default_factory=pd.DataFrame)
    presale_latest: float | None = None
    presale_event: str = ""
    target: float = 0.35
    coupons: pd.DataFrame = field(default_factory=pd.DataFrame)  #: the last 12 months
    coupon_share: float | None = None
    thresholds: pd.DataFrame = field(default_factory=pd.DataFrame)
    bunching: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the histogram of basket values around each threshold (the chart's 20-yuan bins), per
    #: threshold and ``when`` (campaign, ordinary): bin_start, baskets in the bin, and ``total``
    #: baskets of that kind (the share's denominator); a histogram, not millions of basket values
    goods_bins: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list = field(default_factory=list)
    bunching_min: float = 1.2

    @property
    def bunching_max(self):
        """The largest bunching ratio over the thresholds (None without one)."""
        return None if self.bunching.empty else float(self.bunching["bunching"].max())

    def _summary(self) -> pd.DataFrame:
        rows = [("presale share of GMV, " + (self.presale_event or "–"),
                 "–" if self.presale_latest is None else f"{self.presale_latest:.1%}"),
                ("orders with a coupon (12 months)", "–" if self.coupon_share is None else f"{self.coupon_share:.1%}")]
        rows += [("skipped", n) for n in self.notes]
        for _, b in self.bunching.iterrows():  # one per threshold
            rows.append((f"满{b['threshold']:.0f}: baskets just above / just below, campaign vs ordinary",
                         f"{b['ratio_campaign']:.2f} vs {b['ratio_ordinary']:.2f} (bunching {b['bunching']:.2f})"))
        return pd.DataFrame(rows, columns=["figure", "value"])

    @property
    def presale_view(self):
        if self.skipped:
            return self.summary
        return _styled(self.presale, dates=["presale_start", "presale_end", "main_end"], count=["presale_orders"],
                       money=["presale_gmv", "event_gmv"], pct=["presale_share", "unpaid_share"],
                       dec2=["median_days_to_balance"])

    @property
    def coupon_view(self):
        if self.skipped:
            return self.summary
        return _styled(self.coupons, count=["orders"], money=["gmv", "aov"], pct=["share", "aov_vs_none"])

    @property
    def bunching_view(self):
        if self.skipped:
            return self.summary
        cols = ["threshold", "reduction", "campaigns", "campaign_below", "campaign_above", "ordinary_below",
                "ordinary_above", "ratio_campaign", "ratio_ordinary", "bunching", "p_value", "share_over_campaign",
                "share_over_ordinary", "aov_change"]
        return _styled(self.bunching[[c for c in cols if c in self.bunching.columns]], count=["campaign_above", "campaign_below", "ordinary_above", "ordinary_below"],
                       dec2=["threshold", "ratio_campaign", "ratio_ordinary", "bunching"], sci=["p_value"],
                       pct=["share_over_campaign", "share_over_ordinary", "aov_change"])


def mechanics_report(data, *, record=None) -> MechanicsResult:
    """Section 3: presale share of festival GMV (:func:`presale_share`), coupon uptake
    (:func:`coupon_uptake`) and 满减 thresholds with the bunching of baskets above them
    (:func:`threshold_bunching`), over the last 12 months (presale: every festival)."""
    res = _mechanics_report(data, record=record)
    _release_arrow_memory()  # the orders' columns, read for this section only
    return res


def _mechanics_report(data, *, record=None) -> MechanicsResult:
    from .loading import has_column

    cfg = _settings(data)
    res = MechanicsResult(month=_month(data), target=float(cfg["presale_share_target"]),
                          bunching_min=float(cfg["bunching_min"]))
    end = _cutoff(data)
    y0 = pd.Timestamp(res.month + "-01") - pd.DateOffset(months=11)
    with_coupons = has_column(data, "orders", "coupon_code")
    note = data.missing_note("campaigns")
    camp = data["campaigns"].loc[data["campaigns"]["start_date"] < end] if not note else None
    ev = campaign_events(camp) if camp is not None else None
    with_presale = camp is not None and has_column(data, "orders", "is_presale")
    with_ids = has_column(data, "orders", "campaign_id")
    margins = _order_margins(data) if camp is not None else None
    # what each part of the orders is reduced to, in one pass (a prepared table: a part at a time)
    windows = _presale_bounds(ev) if with_presale else []
    fr = camp.loc[_type(camp) == "full_reduction"] if camp is not None else None
    fr_named = fr is not None and all(_FR.search(str(n)) for n in (fr["name"] if "name" in fr.columns else [""] * len(fr)))
    fr_ids = list(dict.fromkeys(pd.Series(fr["campaign_id"]).dropna().astype("str"))) if fr is not None else []
    with_baskets = camp is not None and with_ids and len(fr_ids) > 0
    listed = (camp.loc[_type(camp).isin(["full_reduction", "presale", "discount", "flash_sale", "coupon"]), "campaign_id"]
              if camp is not None else None)
    lo = y0 - pd.DateOffset(months=12)

    def reduce(o) -> dict:
        out = {}
        paid = paid_mask(o).to_numpy(dtype=bool)
        ts = o["order_ts"]
        if with_coupons:  # the paid orders of the last 12 months
            keep = paid & (ts >= y0).to_numpy(dtype=bool) & (ts < end).to_numpy(dtype=bool)
            out["coupons"] = _narrow(o, ["order_ts", "paid_amount", "coupon_code"]).loc[keep]
        if windows:  # the orders of each festival with a presale, from its presale to the end of its main phase
            keep = np.zeros(len(o), dtype=bool)
            for a, b in windows:  # a few festivals
                keep |= (ts >= a).to_numpy(dtype=bool) & (ts < b).to_numpy(dtype=bool)
            out["presale"] = _narrow(o, ["order_ts", "paid_ts", "paid_amount", "status", "is_presale"]).loc[keep]
        if camp is not None and with_ids and not fr_named:  # the full-reduction campaigns' paid orders
            keep = paid & _isin(o["campaign_id"], fr["campaign_id"])
            out["fr"] = _narrow(o, ["campaign_id", "gross_amount", "discount_amount"]).loc[keep]
        if with_baskets:  # the paid orders of two years: basket value, payment, ordinary, which full-reduction campaign
            keep = paid & (ts >= lo).to_numpy(dtype=bool) & (ts < end).to_numpy(dtype=bool)
            p = _narrow(o, ["campaign_id", "paid_amount"]).loc[keep]
            cid = p["campaign_id"]  # a missing id reads as "" (no campaign), without rewriting the text column
            blank = (cid.isna() | cid.eq("")).to_numpy(dtype=bool)
            code = np.full(len(p), -1, dtype=np.int16 if len(fr_ids) < 2 ** 15 else np.int64)
            for j, f in enumerate(fr_ids):  # a few campaigns
                code[_isin(cid, [f])] = j
            out["baskets"] = (_by_row(margins["goods"], p.index).to_numpy(), p["paid_amount"].to_numpy(dtype="float64"),
                              blank, code, blank | ~_isin(cid, listed))
        return out
    cols = ["order_ts", "status", "paid_amount", "coupon_code", "paid_ts", "is_presale", "campaign_id",
            "gross_amount", "discount_amount"]
    parts = _order_parts(data, cols, reduce)

    def joined(key):
        frames = [p.pop(key) for p in parts]
        return frames[0] if len(frames) == 1 else pd.concat(frames)
    if with_coupons:
        res.coupons = coupon_uptake(joined("coupons"), start=y0, end=end)
        none = res.coupons.loc[res.coupons["coupon_code"] == "(none)", "share"]
        res.coupon_share = float(1 - none.iloc[0]) if len(none) else 1.0
    else:
        res.notes.append(_skip(record, "Coupon uptake", "orders carry no coupon_code"))
    if note:
        res.notes.append(_skip(record, "Presale share and 满减 thresholds", note))
        return res
    if with_presale:
        res.presale = presale_share(joined("presale") if windows else _orders(data, ["order_ts", "paid_amount", "is_presale"]).iloc[:0], ev)
        done = res.presale.loc[res.presale["main_end"] < end]
        if len(done):
            res.presale_latest = float(done["presale_share"].iloc[-1])
            res.presale_event = str(done["event"].iloc[-1])
    else:
        res.notes.append(_skip(record, "Presale share", "orders carry no is_presale flag"))
    fr_orders = joined("fr") if with_ids and not fr_named else None
    res.thresholds = full_reduction_thresholds(camp, fr_orders, margins)
    del fr_orders
    if res.thresholds.empty or not with_ids:
        res.notes.append(_skip(record, "满减 thresholds", "no full-reduction campaign with a known threshold"))
        return res
    baskets = [list(p.pop("baskets")) for p in parts]
    del parts
    goods, amount, blank, code, ordinary = (_joined_column(baskets, i) for i in range(5))
    del baskets
    rows = []
    frames = []
    for thr, t in res.thresholds.groupby("threshold"):  # one or two thresholds
        ids = t["campaign_id"]  # full-reduction campaigns: each among fr_ids
        inc = np.isin(code, [fr_ids.index(x) for x in pd.Series(ids).dropna().astype("str") if x in fr_ids])
        inc |= blank & bool((pd.Series(ids) == "").any())  # campaign id among ``ids`` (a blank one only if "" is listed)
        keep = inc | ordinary
        kept = goods[keep]
        b = threshold_bunching(pd.Series(kept), pd.Series(inc[keep]), thr, bin_width=float(cfg["threshold_bin"]))
        aov_c = float(pd.Series(amount[inc]).mean())
        aov_o = float(pd.Series(amount[ordinary]).mean())
        b.update({"reduction": float(t["reduction"].iloc[0]), "campaigns": ", ".join(t["campaign_id"]),
                  "aov_campaign": aov_c, "aov_ordinary": aov_o, "aov_change": aov_c / aov_o - 1})
        rows.append(b)
        frames += [_goods_bins(thr, kept[mask], when) for when, mask in (("campaign", inc[keep]), ("ordinary", ~inc[keep]))]
        del kept
    res.bunching = pd.DataFrame(rows)
    res.goods_bins = pd.concat(frames, ignore_index=True)
    return res


def _joined_column(parts: list[list], i: int) -> np.ndarray:
    """The ``i``-th arrays of ``parts`` put together, each let go once copied (the parts and one
    joined column are held at a time, not the parts and all the joined columns)."""
    out = np.concatenate([p[i] for p in parts]) if len(parts) != 1 else parts[0][i]
    for p in parts:
        p[i] = None
    return out


def _presale_bounds(events: pd.DataFrame) -> list[tuple]:
    """``[a, b)`` of order_ts holding every order :func:`presale_share` reads of each festival with
    a presale: from its presale's first day to the day after the later of the presale's and the main
    phase's last day (none for a phase without dates: it reads no order)."""
    out = []
    for _, p in events.loc[events["phase"] == "presale"].iterrows():  # a few festivals
        last = [d for d in (p["end_date"], _main_end(events, p)) if pd.notna(d)]
        if pd.notna(p["start_date"]) and last:
            out.append((pd.Timestamp(p["start_date"]).floor("D"), pd.Timestamp(max(last)).floor("D") + DAY))
    return out


#: width of the bins of :func:`plot_bunching` (yuan)
_CHART_BIN = 20.0


def _chart_bins(thr: float) -> np.ndarray:
    """The bin edges :func:`plot_bunching` draws around threshold ``thr``: ten bins either side."""
    w = _CHART_BIN
    return np.arange(max(thr - 10 * w, 0), thr + 10 * w + 1, w)


def _goods_bins(thr: float, values: np.ndarray, when: str) -> pd.DataFrame:
    """Baskets per chart bin around ``thr`` (``np.histogram`` over :func:`_chart_bins`), with the
    number of baskets of the kind in all (``total``)."""
    bins = _chart_bins(thr)
    h, e = np.histogram(values, bins=bins)
    return pd.DataFrame({"threshold": float(thr), "when": when, "bin_start": e[:-1], "baskets": h,
                         "total": len(values)})


@dataclass
class CalendarResult(_Result):
    """Section 4 (see :func:`calendar_report`)."""

    calendar: pd.DataFrame = field(default_factory=pd.DataFrame)
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None

    def _summary(self) -> pd.DataFrame:
        return pd.DataFrame({"figure": ["quarter", "festivals and member days", "with a planned campaign"],
                             "value": [f"{self.start:%Y-%m-%d} .. {self.end:%Y-%m-%d}", len(self.calendar),
                                       int((self.calendar["planned_campaign"] != "").sum())]})

    @property
    def action(self) -> pd.DataFrame:
        """The calendar as an action list (one row per festival or member day)."""
        cols = ["festival", "name", "prepare_by", "presale_start", "presale_end", "start", "end", "day",
                "planned_campaign", "planned_budget", "last_year_start", "last_year_gmv", "last_year_orders",
                "last_year_lift"]
        out = self.calendar[[c for c in cols if c in self.calendar.columns]].copy()
        for c in ("prepare_by", "presale_start", "presale_end", "start", "end", "day", "last_year_start"):
            if c in out.columns:
                out[c] = out[c].dt.strftime("%Y-%m-%d")
        return out.round({"last_year_gmv": 0, "last_year_lift": 2})

    @property
    def view(self):
        if self.skipped or self.calendar.empty:
            return self.summary
        cols = ["name", "prepare_by", "start", "end", "day", "presale_start", "planned_campaign", "planned_budget",
                "last_year_start", "last_year_gmv", "last_year_lift", "last_year_orders"]
        return _styled(self.calendar[cols], dates=["prepare_by", "start", "end", "day", "presale_start", "last_year_start"],
                       money=["planned_budget", "last_year_gmv"], dec2=["last_year_lift"], count=["last_year_orders"])


def calendar_report(data, *, lift: LiftResult | None = None, record=None) -> CalendarResult:
    """Section 4: the festivals and member days of the ``calendar_months`` after the report
    month (:func:`festival_calendar`), each with the campaign planned for it (from the campaigns
    table, when it lists the coming quarter) and last year's result: GMV, orders and lift against
    a weekday baseline over the same festival's window a year earlier, when the data hold it."""
    cfg = _settings(data)
    res = CalendarResult(month=_month(data))
    start = pd.Timestamp(res.month + "-01") + pd.DateOffset(months=1)
    end = start + pd.DateOffset(months=int(cfg["calendar_months"])) - DAY
    res.start, res.end = start, end
    cal = festival_calendar(start, end, member_day_weekday=int(cfg["member_day_weekday"]),
                            member_day_week=int(cfg["member_day_week"]), post_days=int(cfg["post_days"]))
    cutoff = _cutoff(data)
    # planned campaigns
    cal["planned_campaign"] = ""
    cal["planned_budget"] = np.nan
    if data.has("campaigns"):
        c = data["campaigns"]
        fest = c["festival"].fillna("") if "festival" in c.columns else pd.Series("", index=c.index)
        for i, r in cal.iterrows():  # a dozen rows
            lo = r["presale_start"] if pd.notna(r["presale_start"]) else r["start"]
            if r["festival"] == "member_day":
                m = (_type(c) == "member_day") & (c["start_date"].dt.to_period("M") == r["day"].to_period("M"))
                m &= c["end_date"] >= start
            else:
                m = (fest == r["festival"]) & (c["end_date"] >= lo - pd.Timedelta(days=10)) & (c["start_date"] <= r["end"] + pd.Timedelta(days=10))
            hit = c.loc[m]
            if len(hit):
                cal.at[i, "planned_campaign"] = ", ".join(hit["campaign_id"] + " " + hit["name"].fillna(""))
                cal.at[i, "planned_budget"] = hit["budget"].sum() if "budget" in hit.columns else np.nan
                if r["festival"] == "member_day":  # the shop's own member day, not the default
                    cal.at[i, "start"] = cal.at[i, "end"] = cal.at[i, "day"] = hit["start_date"].iloc[0]
    # last year's result over the same window
    daily = _orders_daily(data)
    tot = daily.groupby("date")[["orders", "gmv"]].sum()
    first_day = tot.index.min() if len(tot) else cutoff
    days = pd.date_range(first_day, cutoff - DAY)
    tot = tot.reindex(days, fill_value=0)
    ordinary = pd.Series(~_spring_festival_mask(days), index=days)
    if data.has("campaigns"):
        c = data["campaigns"]
        allch = c.loc[c["channel"].isna() | (c["channel"].astype(str) == "")] if "channel" in c.columns else c
        for a, b in zip(allch["start_date"], allch["end_date"]):  # a few dozen campaigns
            ordinary.loc[a - pd.Timedelta(days=int(cfg["pre_days"])):b + pd.Timedelta(days=int(cfg["post_days"]))] = False
    wm = daily.loc[daily["channel"] == "wechat_mini"].groupby("date")[["orders", "gmv"]].sum().reindex(days, fill_value=0)
    last = festival_calendar(start - pd.DateOffset(years=1), end - pd.DateOffset(years=1),
                             member_day_weekday=int(cfg["member_day_weekday"]), member_day_week=int(cfg["member_day_week"]),
                             post_days=int(cfg["post_days"]))
    # member days last year: the shop's actual member days where the campaigns table has them
    out = []
    for _, r in cal.iterrows():  # a dozen rows
        ly = last.loc[last["festival"] == r["festival"]]
        if r["festival"] == "member_day":
            target = r["day"] - pd.DateOffset(years=1)
            ly = ly.loc[ly["day"].dt.to_period("M") == target.to_period("M")]
            if data.has("campaigns"):
                c = data["campaigns"]
                md = c.loc[(_type(c) == "member_day") & (c["start_date"].dt.to_period("M") == target.to_period("M"))]
                if len(md):
                    ly = ly.assign(start=md["start_date"].iloc[0], end=md["start_date"].iloc[0], day=md["start_date"].iloc[0])
        rec = {"last_year_start": pd.NaT, "last_year_gmv": np.nan, "last_year_orders": np.nan, "last_year_lift": np.nan}
        if len(ly):
            a = ly["presale_start"].iloc[0] if pd.notna(ly["presale_start"].iloc[0]) else ly["start"].iloc[0]
            b = ly["end"].iloc[0]
            if a >= first_day and b < cutoff:
                s = wm if r["festival"] == "member_day" else tot
                lo = window_lift(s["orders"], a, b, baseline_days=int(cfg["baseline_days"]),
                                 valid=ordinary if r["festival"] != "member_day" else None,
                                 before=a - pd.Timedelta(days=int(cfg["pre_days"]) if r["festival"] != "member_day" else 0))
                rec = {"last_year_start": a, "last_year_gmv": float(s["gmv"].loc[a:b].sum()),
                       "last_year_orders": float(s["orders"].loc[a:b].sum()), "last_year_lift": lo["lift"]}
        out.append(rec)
    cal = pd.concat([cal, pd.DataFrame(out, index=cal.index)], axis=1)
    # 001 part 3: warm-up (蓄水) starts 30 days before the festival; a member day needs a week
    first = cal["presale_start"].fillna(cal["start"])
    lead = np.where(cal["festival"] == "member_day", 7, 30)
    cal["prepare_by"] = first - pd.to_timedelta(lead, unit="D")
    res.calendar = cal
    return res


@dataclass
class ABResult(_Result):
    """Section 5 (see :func:`ab_report`)."""

    tests: pd.DataFrame = field(default_factory=pd.DataFrame)
    alpha: float = 0.05
    power: float = 0.8
    experiments: pd.DataFrame = field(default_factory=pd.DataFrame)  #: per experiment and variant (for the chart)
    winners: int = 0

    @property
    def winner_count(self):
        """Tests with a significant winner (None when the section is skipped)."""
        return None if self.skipped else self.winners

    @property
    def underpowered(self):
        """Tests too small to detect the planned effect (None when skipped)."""
        return None if self.skipped or self.tests.empty else int(self.tests["verdict"].str.startswith("inconclusive").sum())

    def _summary(self) -> pd.DataFrame:
        return pd.DataFrame({"figure": ["tests read", "with a significant winner"],
                             "value": [len(self.tests), self.winners]})

    @property
    def view(self):
        if self.skipped:
            return self.summary
        cols = ["experiment_id", "variant", "n_control", "n_variant", "conv_control", "conv_variant", "uplift",
                "p_value", "power", "mde_relative", "rev_control", "rev_variant", "rev_p", "rev_p_cuped", "verdict"]
        return _styled(self.tests[[c for c in cols if c in self.tests.columns]], count=["n_control", "n_variant"],
                       pct=["conv_control", "conv_variant", "uplift", "power", "mde_relative"],
                       sci=["p_value", "rev_p", "rev_p_cuped"], dec2=["rev_control", "rev_variant"])


def _experiments(data) -> pd.DataFrame:
    """The experiments table of :data:`COLUMNS` for section 5, its only user; a prepared table is
    read column by column (one column's Arrow buffers at a time, not the table's) and not kept."""
    from .loading import has_column, read_columns

    if not (hasattr(data, "table_file") and data.table_file("experiments") is not None):
        return _table(data, "experiments")
    cols = [c for c in COLUMNS["experiments"] if has_column(data, "experiments", c)]
    if not cols:
        return read_columns(data, "experiments", cols, keep=False)
    return pd.concat({c: read_columns(data, "experiments", [c], keep=False)[c] for c in cols}, axis=1)


def _experiment_units(data, cutoff):
    """The experiments of a prepared table as :class:`playbook.dataops._ExperimentUnits`, which the
    readout reads one experiment at a time (not the table's four columns of every unit), when every
    unit was assigned before ``cutoff`` (or has no assigned_ts) by the file's statistics, so no
    row is left out; else None (the table is read and filtered)."""
    file = data.table_file("experiments") if hasattr(data, "table_file") else None
    if file is None or getattr(data, "_partial", {}).get("experiments"):
        return None
    import pyarrow.parquet as pq

    from .dataops import _ExperimentUnits

    pf = pq.ParquetFile(file)
    names = pf.schema_arrow.names
    if "converted" not in names:
        return None
    if "assigned_ts" in names:
        i = names.index("assigned_ts")
        for g in range(pf.metadata.num_row_groups):  # a hundred row groups at most
            rg = pf.metadata.row_group(g)
            st = rg.column(i).statistics
            if rg.num_rows and (st is None or not st.has_null_count):
                return None
            if rg.num_rows and st.null_count < rg.num_rows:  # some stamps: the latest must be before the cutoff
                try:
                    if not st.has_min_max or not pd.Timestamp(st.max) < pd.Timestamp(cutoff):
                        return None
                except (TypeError, ValueError):
                    return None
    return _ExperimentUnits(file=file)


def ab_report(data, *, record=None) -> ABResult:
    """Section 5: promotion A/B tests that started before the end of the report month
    (:func:`ab_test`)."""
    cfg = _settings(data)
    res = ABResult(month=_month(data), alpha=float(cfg["ab_alpha"]), power=float(cfg["ab_power"]))
    from .loading import column_has_values

    needed = ("unit_id", "variant", "converted")
    ready = data.has("experiments") and all(column_has_values(data, "experiments", c) for c in needed)
    note = None if ready else data.missing_note("experiments", columns={"experiments": list(needed)})
    if note:
        res.note = _skip(record, "Promotion A/B tests", note)
        return res
    from .dataops import _experiment_codes
    from .loading import has_column

    if not has_column(data, "experiments", "experiment_id"):
        raise KeyError("experiments lacks column(s) experiment_id needed here")
    ec, eids, vc, vids = _experiment_codes(data)  # the ids and variants as sorted codes, once per dataset
    ex = _experiment_units(data, _cutoff(data))
    if ex is not None:  # a prepared table whose every unit counts: read an experiment at a time
        import pyarrow.parquet as pq

        converted = pq.ParquetFile(ex.file).schema_arrow.empty_table().select(["converted"]).to_pandas()["converted"]
        empty = ex.rows == 0
    else:
        ex = _experiments(data)
        if "assigned_ts" in ex.columns:
            keep = ex["assigned_ts"].isna() | (ex["assigned_ts"] < _cutoff(data))
            if not keep.all():  # usually every unit: no copy of the table
                k = keep.to_numpy(dtype=bool)
                ex, ec, vc = ex.loc[keep], ec[k], vc[k]
                # codes of the experiments and variants left, as factorizing the kept rows gives them
                ec, eids = _recode(ec, eids)
                vc, vids = _recode(vc, vids)
        converted, empty = ex["converted"], ex.empty
    if empty:
        res.note = _skip(record, "Promotion A/B tests", "no experiment ran before the end of the report month")
        return res
    arms: dict = {}
    res.tests = _ab_test(ex, alpha=res.alpha, power=res.power, mde_relative=float(cfg["ab_mde_relative"]),
                         units_checked=True, codes=(ec, eids, vc, vids), arms_out=arms)
    del ex
    _release_arrow_memory()
    res.winners = int(res.tests["verdict"].str.endswith("wins").sum()) if len(res.tests) else 0
    # units and conversion per experiment and variant (the readout's arms, grouped on sorted codes)
    nv = max(len(vids), 1)
    at = arms["codes"]
    # the units in the type a group-by of the column gives (Int64 for a nullable column)
    n_type = converted.iloc[:0].groupby(np.zeros(0, dtype=np.intp)).size().dtype
    agg = pd.DataFrame({"experiment_id": eids.take(at // nv), "variant": vids.take(at % nv),
                        "n": pd.array(arms["n"], dtype=n_type), "conv": arms["conv"].astype("float64")})
    agg["se"] = np.sqrt(agg["conv"] * (1 - agg["conv"]) / agg["n"])
    res.experiments = agg
    alerts = []
    for _, r in res.tests.iterrows():  # a handful of tests
        if r["verdict"] == "invalid (SRM)":
            alerts.append({"severity": "high", "subject": r["experiment_id"],
                           "message": f"arm sizes {r['n_control']:,} vs {r['n_variant']:,} are too unequal for chance "
                                      "(sample-ratio mismatch): check the assignment before reading the result"})
        if r["verdict"].startswith("inconclusive"):
            alerts.append({"severity": "low", "subject": r["experiment_id"],
                           "message": f"{r['variant']}: under-powered ({r['power']:.0%} power for the planned effect); "
                                      "do not read 'no difference' into it"})
    res.alerts = _alerts_frame(alerts)
    return res


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------

def _ax(ax):
    import matplotlib.pyplot as plt

    return ax if ax is not None else plt.gca()


_PHASE_COLORS = {"pre": "#f2c14e", "presale": "#8fb8de", "main": "#5b9a68", "post": "#e07a5f"}


def plot_event_lift(lift: LiftResult, *, ax=None):
    """Daily paid orders around the focus festival against its weekday baseline, with the pre,
    presale, main and post phases shaded and presale deposits stacked apart."""
    ax = _ax(ax)
    if lift.skipped or lift.daily.empty:
        return _draw_note(ax, lift.note or "no festival to draw", "Festival lift")
    d = lift.daily
    ordinary = d["orders"] - d["presale_orders"]
    ax.bar(d["date"], ordinary, color="#4c72b0", width=0.85, label="ordinary orders")
    ax.bar(d["date"], d["presale_orders"], bottom=ordinary, color="#8172b3", width=0.85, label="presale deposits 预售")
    ax.plot(d["date"], d["expected"], color="black", lw=1.6, ls="--", label="baseline (weekday-aware)")
    for _, r in lift.focus_rows.loc[lift.focus_rows["phase"] != "net"].iterrows():  # four phases
        ax.axvspan(r["start"] - pd.Timedelta(hours=12), r["end"] + pd.Timedelta(hours=12),
                   color=_PHASE_COLORS.get(r["phase"], "#cccccc"), alpha=0.18, lw=0)
        ax.text(r["start"] + (r["end"] - r["start"]) / 2, 0.97, f"{r['phase']}\n×{r['lift']:.2f}",
                transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize="small")
    ax.set_title(f"{lift.focus}: paid orders per day against the baseline without the festival")
    ax.set_ylabel("paid orders")
    ax.legend(loc="upper left", fontsize="small")
    ax.margins(x=0.01)
    ax.set_ylim(0, d[["orders", "expected"]].max().max() * 1.25)
    return ax


def plot_lift_bars(lift: LiftResult, *, ax=None):
    """Main-phase GMV lift of each campaign of the last 12 months (1 = no effect)."""
    ax = _ax(ax)
    r = lift.recent
    if lift.skipped or r.empty:
        return _draw_note(ax, lift.note or "no campaign in the last 12 months", "Campaign lift")
    lab = (r["campaign_id"] + " " + r["name"].str.slice(0, 18)
           + np.where(r["complete"], "", " (running)") + " [" + r["orders"].round(0).astype(int).astype(str) + " orders]").to_numpy()
    colors = np.where(r["gmv_lift"] >= 1, "#5b9a68", "#e07a5f")
    ax.barh(np.arange(len(r)), r["gmv_lift"], color=colors)
    ax.set_yticks(np.arange(len(r)), lab, fontsize="small")
    ax.invert_yaxis()
    ax.axvline(1, color="black", lw=1)
    for i, v in enumerate(r["gmv_lift"].to_numpy()):  # a few dozen bars
        if np.isfinite(v):
            ax.text(v, i, f" {v:.2f}", va="center", fontsize="x-small")
    ax.set_xlabel("GMV lift against the baseline (1 = no effect)")
    ax.set_title("Campaigns of the last 12 months: main-phase GMV lift (few orders: a noisy ratio)")
    return ax


def plot_type_comparison(types: TypeResult, *, ax=None):
    """Discount depth against margin rate per campaign, sized by GMV and coloured by type."""
    ax = _ax(ax)
    sc = types.scorecard
    if types.skipped or sc.empty or sc["margin_rate"].isna().all():
        return _draw_note(ax, types.note or types.caveat or "nothing to compare", "Campaign types")
    palette = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3"]
    for i, (t, g) in enumerate(sc.groupby("type")):  # a handful of types
        ax.scatter(g["discount_depth"], g["margin_rate"], s=20 + 400 * g["gmv"] / sc["gmv"].max(),
                   color=palette[i % len(palette)], alpha=0.7, label=t, edgecolor="white")
    from .charts import format_pct_axis
    format_pct_axis(ax)
    ax.xaxis.set_major_formatter(__import__("matplotlib").ticker.PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("discount depth (discount / list value)")
    ax.set_ylabel("gross margin after discount")
    ax.set_title("Deeper discounts cost margin: each campaign, sized by GMV")
    ax.legend(fontsize="small", loc="best")
    return ax


def plot_bunching(mech: MechanicsResult, *, threshold: float | None = None, ax=None):
    """Distribution of basket values around a 满减 threshold, during the full-reduction campaigns
    and on ordinary days (share of baskets per bin)."""
    ax = _ax(ax)
    if mech.skipped or mech.goods_bins.empty:
        return _draw_note(ax, mech.note or "; ".join(mech.notes) or "no full-reduction threshold to draw", "满减 threshold")
    thr = threshold if threshold is not None else float(mech.bunching.sort_values("campaign_above")["threshold"].iloc[-1])
    g = mech.goods_bins.loc[mech.goods_bins["threshold"] == thr]
    bins = _chart_bins(thr)
    for when, color in (("ordinary", "#999999"), ("campaign", "#c44e52")):
        v = g.loc[g["when"] == when]
        h = v["baskets"].to_numpy() if len(v) == len(bins) - 1 else np.zeros(len(bins) - 1, dtype=np.intp)
        n = int(v["total"].iloc[0]) if len(v) else 0
        share = h / max(n, 1)
        ax.step(bins[:-1], share, where="post", color=color, lw=2, label=f"{when} ({n:,} baskets)")
    ax.axvline(thr, color="black", ls="--")
    ax.text(thr, 0.98, f" 满{thr:.0f}", transform=ax.get_xaxis_transform(), va="top")
    ax.set_xlabel("basket value at selling price (yuan)")
    ax.set_ylabel("share of baskets per 20-yuan bin")
    from .charts import format_pct_axis
    format_pct_axis(ax)
    ax.set_title(f"Baskets around the 满{thr:.0f} threshold")
    ax.legend(fontsize="small")
    return ax


def plot_calendar(cal: CalendarResult, *, ax=None):
    """The coming quarter as a timeline: one bar per festival window (presale lighter), member
    days as diamonds."""
    ax = _ax(ax)
    c = cal.calendar
    if cal.skipped or c.empty:
        return _draw_note(ax, cal.note or "no festival in the coming quarter", "Campaign calendar")
    fest = c.loc[c["festival"] != "member_day"].reset_index(drop=True)
    md = c.loc[c["festival"] == "member_day"]
    y = np.arange(len(fest))
    ax.barh(y, (fest["end"] - fest["start"]).dt.days + 1, left=fest["start"], color="#4c72b0", height=0.5)
    pre = fest["presale_start"].notna()
    ax.barh(y[pre], (fest.loc[pre, "presale_end"] - fest.loc[pre, "presale_start"]).dt.days + 1,
            left=fest.loc[pre, "presale_start"], color="#8fb8de", height=0.5, label="presale 预售")
    ax.scatter(md["day"], np.full(len(md), len(fest)), marker="D", color="#dd8452", label="member day 会员日", zorder=3)
    ax.set_yticks(list(y) + [len(fest)], list(fest["name"]) + ["会员日 member day"], fontsize="small")
    ax.invert_yaxis()
    ax.axvspan(cal.start, cal.end + DAY, color="#eeeeee", zorder=0)
    ax.set_xlim(min(cal.start, c["start"].min(), c["presale_start"].min() if pre.any() else cal.start) - pd.Timedelta(days=3),
                cal.end + pd.Timedelta(days=3))
    ax.set_title(f"Campaign calendar {cal.start:%Y-%m} .. {cal.end:%Y-%m}")
    ax.legend(fontsize="small", loc="lower right")
    return ax


def plot_ab(ab: ABResult, *, ax=None):
    """Conversion per arm with 95% intervals, one group per experiment."""
    ax = _ax(ax)
    e = ab.experiments
    if ab.skipped or e.empty:
        return _draw_note(ax, ab.note or "no experiment", "A/B tests")
    labels = (e["experiment_id"] + "\n" + e["variant"]).to_numpy()
    colors = np.where(e["variant"] == "control", "#999999", "#4c72b0")
    x = np.arange(len(e))
    ax.bar(x, e["conv"], yerr=1.96 * e["se"], color=colors, capsize=4)
    ax.set_xticks(x, labels, fontsize="small")
    for i, v in enumerate(e["conv"].to_numpy()):  # a few arms
        ax.text(i, v / 2, f"{v:.1%}", ha="center", color="white", fontsize="small")
    from .charts import format_pct_axis
    format_pct_axis(ax)
    ax.set_ylabel("conversion")
    ax.set_title("A/B tests: conversion per arm (bars: 95% interval)")
    return ax


# ---------------------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------------------

def _month_orders(data, columns: Sequence[str]) -> pd.DataFrame:
    """The report month's orders (by order_ts, as ``data.month_rows("orders")``), of ``columns``
    (those present)."""
    if getattr(data, "month", None) is None:
        return _narrow(_orders(data, [*columns, "order_ts"]), columns)
    from .loading import read_window

    ms = pd.Timestamp(data.month + "-01")
    return _narrow(read_window(data, "orders", list(columns), "order_ts", ms, ms + pd.offsets.MonthBegin(1)), columns)


@exercise("05.presale_orders", "Number of paid presale orders (is_presale) placed in the report month",
          rel_tol=0.0)
def _presale_orders(data) -> float:
    o = _month_orders(data, ["is_presale", "status"])
    return float((o["is_presale"].fillna(False).astype(bool) & paid_mask(o)).sum())


@exercise("05.coupon_share", "Share of the report month's paid orders that used a coupon (coupon_code not empty)")
def _coupon_share(data) -> float:
    o = _month_orders(data, ["coupon_code", "status"])
    o = o.loc[paid_mask(o)]
    return float(o["coupon_code"].fillna("").astype(str).ne("").mean())
