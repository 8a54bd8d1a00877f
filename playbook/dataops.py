"""Data operations (数据化运营): the daily KPI board and its alerts, RFM segments, A/B test
readouts and planning, the funnel, channel attribution and the monthly review table.

Handbook: 001 part 4 (数据化运营: UV x conversion x AOV x repurchase, daily monitoring, "conversion
down 5%" alerts), 002 part 05 (RFM segmentation, A/B tests, attribution), 003 stage 6 (review),
004 (data). Every function takes the loaded :class:`~playbook.loading.Dataset` (or plain tables)
and returns a tidy DataFrame, a number or a small result object; nothing loops over orders or
customers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import probability
from .derived import unique_positions
from .exercises import exercise
from .fulfillment import SPRING_FESTIVALS
from .loading import (has_column, read_columns, read_derived_columns, read_parquet, read_window,
                      release_free_memory)
from .metrics import paid_mask

__all__ = [
    "settings_table", "festival_calendar", "daily_board", "kpi_alerts", "KpiBoard", "kpi_board",
    "plot_kpi_board", "rfm_scores", "rfm_segments", "RFM_ACTIONS", "plot_rfm",
    "sample_size", "srm_check", "ab_readout", "AbResult", "ab_report", "paid_order_counts",
    "rfm_report", "RfmResult", "funnel_table", "funnel_leaks", "funnel_gaps", "FunnelResult", "funnel_report", "plot_funnel",
    "attribution_paths", "rule_based_attribution", "markov_attribution", "attribution_table",
    "AttributionResult", "attribution_report", "plot_attribution",
    "gmv_drivers", "review_table", "review_view", "plot_review",
]

DAY = pd.Timedelta(days=1)
METRICS = ("visitors", "conversion", "aov", "repurchase")
METRIC_LABELS = {"visitors": "Visitors UV 访客数", "conversion": "Conversion 转化率", "aov": "AOV 客单价",
                 "repurchase": "Repurchase 复购率"}
FUNNEL_STEPS = ("visitors", "product_views", "add_to_cart", "checkouts", "paid_orders")


# -- small helpers ----------------------------------------------------------------------------------
def _settings(data) -> dict:
    return dict(data.settings["dataops"])


def _month_bounds(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(month + "-01")
    return start, start + pd.offsets.MonthBegin(1)


def _require(frame: pd.DataFrame, table: str, columns) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{table} lacks column(s) {', '.join(missing)} needed here")


def _skip(record, section: str, note: str) -> str:
    if record is not None:
        record.skip(section, note)
    return note


def _note_ax(ax, note: str, title: str | None = None):
    import matplotlib.pyplot as plt
    ax = ax if ax is not None else plt.gca()
    ax.text(0.5, 0.5, note, ha="center", va="center", wrap=True, transform=ax.transAxes)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def _pretty(frame: pd.DataFrame, *, pct=(), pp=(), money=(), count=(), dec=(), pval=()) -> pd.DataFrame:
    """A copy with numbers written as a person reads them (for display only)."""
    out = frame.copy()

    def fmt(cols, f):
        for c in cols:
            if c in out.columns:
                out[c] = [("" if pd.isna(v) else f(v)) for v in out[c]]  # display of a short table
    fmt(pct, "{:.1%}".format)
    fmt(pp, lambda v: f"{v * 100:+.2f} pp")
    fmt(money, lambda v: f"¥{v:,.0f}" if abs(v) >= 100 else f"¥{v:,.2f}")
    fmt(count, "{:,.0f}".format)
    fmt(dec, "{:,.2f}".format)
    fmt(pval, lambda v: "<0.0001" if v < 1e-4 else f"{v:.4f}")
    return out


#: the columns this chapter reads from each large table (a prepared table is read with these only)
COLUMNS = {
    "orders": ("order_id", "customer_id", "order_ts", "status", "paid_amount", "channel", "device",
               "gross_amount", "discount_amount"),
    "experiments": ("assigned_ts", "converted", "revenue", "pre_metric"),  # ids and variants: _experiment_codes
}


def _table(data, name: str) -> pd.DataFrame:
    """``data[name]``, or, for a prepared table not read yet, only the :data:`COLUMNS` the chapter
    uses (kept in ``data``): orders' addresses, cities, coupons and hashes, or the experiments'
    unit ids, are a large share of the table's text and are never looked at here. The chapter's
    own sections read through :func:`_read` and :func:`~playbook.loading.read_window` instead, which keep nothing."""
    return read_columns(data, name, COLUMNS[name])


def _read(data, name: str, columns) -> pd.DataFrame:
    """``data[name]``, or, for a prepared table not read yet, only those of ``columns`` its file
    has, read for this one use (:func:`~playbook.loading.read_columns` with ``keep=False``): each
    section reads what it needs and lets it go, so a shop's ten million orders are not held for
    the whole chapter."""
    return read_columns(data, name, columns, keep=False)


def _with_columns(data, name: str, frame: pd.DataFrame, columns) -> pd.DataFrame:
    """``frame`` (table ``name`` as read for a chapter, see :func:`playbook.loading.read_columns`)
    with those of ``columns`` it lacks and the table has, read from the prepared file for this use
    only: long text ids needed by one section need not stay in memory for the whole notebook."""
    want = [c for c in dict.fromkeys(columns) if c not in frame.columns and has_column(data, name, c)]
    if not want:
        return frame
    file = data.table_file(name) if hasattr(data, "table_file") else None
    extra = read_parquet(file, columns=want) if file is not None else data[name][want]
    if len(extra) != len(frame):
        raise ValueError(f"{name}: {len(extra)} rows in the file, {len(frame)} read before")
    return frame.assign(**{c: extra[c].array for c in want})


def _column_codes(data, name: str, column: str) -> tuple[np.ndarray, pd.Index]:
    """:func:`playbook.derived.column_codes` (the same codes and values, cached under the same
    name once per dataset), built for a prepared table one row group at a time: each group's
    dictionary indices are mapped to codes of their own and written into a 32-bit array, then
    ranked into the sorted codes, so the tens of millions of rows of a large shop's orders or
    experiments cost a few bytes each rather than several 64-bit copies."""
    from .derived import column_codes as codes_of_column, compact_codes, per_dataset

    file = data.table_file(name) if hasattr(data, "table_file") else None
    if file is None:
        return codes_of_column(data, name, column)

    def build(data):
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(file, read_dictionary=[column])
        if pf.metadata.num_rows == 0:
            return np.empty(0, dtype=np.intp), pd.Index(pd.array([], dtype="str"))
        raw = np.empty(pf.metadata.num_rows, dtype=np.int32)  # codes in order of first use, -1: missing
        seen: dict = {}
        at = 0
        for g in range(pf.metadata.num_row_groups):  # a million rows at a time
            for chunk in pf.read_row_group(g, columns=[column]).column(0).chunks:
                if not len(chunk):
                    continue
                if not hasattr(chunk, "dictionary"):  # not stored as a dictionary: encode it here
                    chunk = pc.dictionary_encode(chunk)
                idx = np.asarray(pc.fill_null(chunk.indices.cast("int32"), -1))
                used = np.bincount(idx[idx >= 0], minlength=len(chunk.dictionary)) > 0
                words = chunk.dictionary.to_pylist()
                lut = np.full(len(words) + 1, -1, dtype=np.int32)  # the last slot: a missing value
                for i in np.flatnonzero(used):  # a few distinct values per group
                    lut[i] = seen.setdefault(words[i], len(seen))
                raw[at:at + len(idx)] = lut[idx]
                at += len(idx)
        keep = sorted((v, i) for v, i in seen.items())
        rank = np.full(len(seen) + 1, -1, dtype=np.int64)
        rank[[i for _, i in keep]] = np.arange(len(keep))
        rank = compact_codes(rank, len(keep))
        codes = np.empty(len(raw), dtype=rank.dtype)
        for s in range(0, len(raw), 1 << 22):  # ranked by blocks: no 64-bit copy of the rows
            codes[s:s + (1 << 22)] = rank[raw[s:s + (1 << 22)]]
        return codes, pd.Index(pd.array([v for v, _ in keep], dtype="str"))
    return per_dataset(data, f"derived.codes.{name}.{column}", build, tables=(name,))


def _experiment_codes(data) -> tuple:
    """(experiment codes, experiment ids, variant codes, variant names) of the experiments table's
    rows (:func:`~playbook.derived.column_codes`), for :func:`_ab_readout`."""
    return _column_codes(data, "experiments", "experiment_id") + _column_codes(data, "experiments", "variant")


def _orders_key(data) -> tuple:
    """What a per-dataset value built from the orders is checked against: the orders table when
    it is in memory (it may be replaced), nothing for a prepared file read by :func:`_table`."""
    prepared = hasattr(data, "table_file") and data.table_file("orders") is not None
    return () if prepared else ("orders",)


def _customer_positions(customer_ids: pd.Series, summary_ids: pd.Series) -> np.ndarray | None:
    """Row of each order's customer among the customer summary's ids (-1: not there, e.g. no paid
    order), by :func:`~playbook.derived.unique_positions` (integers or one Arrow hash lookup, no
    merge of text ids); None when the summary repeats a customer. Computed where it is used (the
    daily board, once per notebook) and not cached: an order-level array is not held for the
    rest of the chapter."""
    return unique_positions(customer_ids, summary_ids)


def settings_table(data) -> pd.DataFrame:
    """The chapter's thresholds (the ``[dataops]`` settings) as a two-column table."""
    cfg = _settings(data)
    return pd.DataFrame({"setting": list(cfg), "value": [str(v) for v in cfg.values()]})


# == 1. KPI board ===================================================================================
def festival_calendar(campaigns: pd.DataFrame | None, *, start, end, pre_days: int = 14,
                      post_days: int = 10, spring_days: int = 12) -> pd.DataFrame:
    """The days that belong to the festival calendar (大促日历), one row per day.

    A day is a festival day when it falls within ``pre_days`` before to ``post_days`` after a
    campaign tagged with a ``festival`` (618, 双11, 双12, 年货节, 女神节 ...), on the days of any
    other campaign (flash sale, member day: named by its type), or within
    ``spring_days`` of the spring festival (春节, :data:`playbook.fulfillment.SPRING_FESTIVALS`).
    Handbook 001 part 4: monitoring must not confuse a planned peak or its dip with an anomaly.

    Returns columns ``date`` and ``festival`` (the name; the first one when windows overlap).
    """
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    rows = []
    if campaigns is not None and len(campaigns) and "festival" in campaigns.columns:
        tagged = campaigns["festival"].notna() & (campaigns["festival"].astype(str) != "")
        fest = campaigns.loc[tagged]
        if len(fest):
            rows.append(pd.DataFrame({"from": fest["start_date"].dt.normalize() - pre_days * DAY,
                                      "to": fest["end_date"].dt.normalize() + post_days * DAY,
                                      "festival": fest["festival"].astype(str).to_numpy()}))
        other = campaigns.loc[~tagged]
        if len(other):  # flash sales, member days ...: their own days only
            name = other["type"].astype(str) if "type" in other.columns else pd.Series("campaign", index=other.index)
            rows.append(pd.DataFrame({"from": other["start_date"].dt.normalize(), "to": other["end_date"].dt.normalize(),
                                      "festival": name.to_numpy()}))
    sf = pd.Series(SPRING_FESTIVALS)
    sf = sf[(sf >= start - 60 * DAY) & (sf <= end + 60 * DAY)]
    if len(sf):
        rows.append(pd.DataFrame({"from": sf - spring_days * DAY, "to": sf + spring_days * DAY,
                                  "festival": "spring_festival"}))
    if not rows:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[us]"), "festival": pd.Series(dtype="str")})
    win = pd.concat(rows, ignore_index=True)
    n = ((win["to"] - win["from"]) // DAY + 1).astype(int).to_numpy()
    dates = np.repeat(win["from"].to_numpy(), n) + pd.to_timedelta(
        np.concatenate([np.arange(k) for k in n]), unit="D").to_numpy()
    out = pd.DataFrame({"date": pd.to_datetime(dates), "festival": np.repeat(win["festival"].to_numpy(), n)})
    out = out.loc[(out["date"] >= start) & (out["date"] < end)].drop_duplicates("date")
    return out.sort_values("date").reset_index(drop=True)


#: row groups of a prepared orders file that :func:`_orders_pass` reads at a time (a few million orders)
PASS_GROUPS = 4


def _summary_keys(data):
    """The customer summary's ids as sorted 64-bit integers (:func:`~playbook.derived.id_integers`'
    packing, which keeps their order), the packing and the ids' width, and each row's first order day
    (int64 day number; the largest integer for a missing stamp); None when the ids are not all of
    one width, do not pack, or do not strictly increase (the summary is written sorted by id)."""
    from .derived import fixed_width_bytes, id_packing, pack_ids

    summary = read_derived_columns(data, "customer_summary", ["customer_id", "first_order_ts"])
    fixed = fixed_width_bytes(summary["customer_id"])
    if fixed is None or fixed[1] is not None or not len(summary):
        return None
    packing = id_packing(fixed[0])
    if packing is None:
        return None
    ints = pack_ids(fixed[0], packing)
    width = fixed[0].shape[1]
    del fixed
    summary = summary.drop(columns="customer_id")
    if len(ints) > 1 and not (ints[1:] > ints[:-1]).all():
        return None
    stamp = summary["first_order_ts"].to_numpy()
    if stamp.dtype.kind != "M":
        return None
    first = stamp.astype("datetime64[D]").view("int64")
    first = np.where(np.isnat(stamp), np.iinfo("int64").max, first)
    return ints, packing, width, first


def _summary_rows(raw: np.ndarray, keys) -> np.ndarray | None:
    """Row in the customer summary (:func:`_summary_keys`) of each id (an ``(n, width)`` byte array);
    None when an id is not there."""
    from .derived import pack_ids

    ints, packing, width, _ = keys
    if raw.shape[1] != width:
        return None
    if packing != "bytes":  # an id with a byte outside the summary's range is not among its ids
        lo, radix = packing
        for j in range(width):
            if (raw[:, j].astype(np.int16) - int(lo[j]) >= radix[j]).any() or (raw[:, j] < lo[j]).any():
                return None
    q = pack_ids(raw, packing)
    order = np.argsort(q, kind="stable")  # sorted lookups: the binary searches stay in the cache
    at = np.searchsorted(ints, q[order])
    if len(at) and (at.max() >= len(ints) or (ints[at] != q[order]).any()):
        return None
    rows = np.empty(len(q), dtype=np.intp)
    rows[order] = at
    return rows


def _orders_pass(data, *, repurchase: bool):
    """One pass over a prepared orders file, :data:`PASS_GROUPS` row groups at a time, for what
    the chapter counts over every order: the paid orders per day, channel and device
    (:func:`paid_order_counts`), and with ``repurchase`` the buyers and repeat buyers per day
    (:func:`daily_board`: a buyer counts once per day, and repeats when the customer summary's
    first order day is earlier). Returns (paid counts, buyers: a frame of ``size`` and ``sum`` per
    day, or None). Only a few million orders and the summary's integer ids are held at once.

    None when the shortcut does not apply, and the caller reads the whole columns: order_ts not a
    plain timestamp; with ``repurchase``, customer ids not of one width, a paid order's customer
    not in the summary, or the file not in time order (a day's buyers are counted once the pass
    has left the day)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = data.table_file("orders")
    pf = pq.ParquetFile(file)
    schema = pf.schema_arrow
    if "order_ts" not in schema.names:
        return None
    tstype = schema.field("order_ts").type
    if not pa.types.is_timestamp(tstype) or tstype.tz is not None:
        return None
    repurchase = repurchase and "customer_id" in schema.names
    keys = _summary_keys(data) if repurchase else None
    if repurchase and keys is None:
        return None
    paid_all = _paid_orders(data)
    names = [(c, *_appearance_codes(*_column_codes(data, "orders", c))) for c in ("channel", "device")
             if c in schema.names]
    first = keys[3] if keys is not None else None
    meta = pf.metadata
    bounds = np.cumsum([0] + [meta.row_group(g).num_rows for g in range(meta.num_row_groups)])
    counted, days, sizes, repeats = [], [], [], []
    carry_code, carry_day = np.zeros(0, dtype=np.intp), np.zeros(0, dtype="int64")
    dtype = None
    for g0 in range(0, meta.num_row_groups, PASS_GROUPS):  # a few million orders at a time
        groups = list(range(g0, min(g0 + PASS_GROUPS, meta.num_row_groups)))
        r0, r1 = int(bounds[groups[0]]), int(bounds[groups[-1] + 1])
        t = pf.read_row_groups(groups, columns=["order_ts"] + (["customer_id"] if repurchase else []))
        stamp = t.column("order_ts").to_numpy()
        dtype = stamp.dtype
        paid = paid_all[r0:r1]
        counted.append(_paid_keys(stamp, paid, [(code[r0:r1], len(uniq)) for _, code, uniq in names]))
        if not repurchase:
            continue
        ids = t.column("customer_id")
        del t
        present = np.asarray(ids.is_valid()) if ids.null_count else np.ones(len(ids), dtype=bool)
        keep = paid & present & ~np.isnat(stamp)
        if not keep.any():
            continue
        from .derived import fixed_width_bytes

        fixed = fixed_width_bytes(ids.combine_chunks())  # an Arrow array (a chunked one goes through Python)
        if fixed is None:
            return None
        at = _summary_rows(fixed[0][keep[present]], keys)
        del fixed, ids
        if at is None:
            return None
        day = stamp[keep].astype("datetime64[D]").view("int64")
        if len(carry_day) and day.min() < carry_day[0]:
            return None  # not in time order
        code, day = np.r_[carry_code, at], np.r_[carry_day, day]
        lo = int(day.min())
        span = int(day.max()) - lo + 1
        pair = np.sort(code.astype("int64") * span + (day - lo))  # each buyer once per day: sorted, repeats dropped
        pair = pair[np.r_[True, pair[1:] != pair[:-1]]]
        code, day = pair // span, pair % span + lo
        last = day == day.max()  # the pass may not have left the last day: counted with the next orders
        carry_code, carry_day = code[last], day[last]
        code, day = code[~last], day[~last]
        if len(day):
            on = np.bincount(day - lo)
            rep = np.bincount(day - lo, weights=first[code] < day, minlength=len(on))
            found = np.flatnonzero(on)
            days.append(found + lo)
            sizes.append(on[found].astype("int64"))
            repeats.append(rep[found].astype("int64"))
    if dtype is None:
        return None
    counts = _paid_frame(*_add_counts(counted), [(c, uniq) for c, _, uniq in names], dtype)
    if not repurchase:
        return counts, None
    if len(carry_day):
        days.append(carry_day[:1])
        sizes.append(np.array([len(carry_day)], dtype="int64"))
        repeats.append(np.array([int((first[carry_code] < carry_day).sum())], dtype="int64"))
    day = np.concatenate(days) if days else np.zeros(0, dtype="int64")
    index = pd.DatetimeIndex(day.astype("datetime64[D]")).as_unit(np.datetime_data(dtype)[0])
    buyers = pd.DataFrame({"size": np.concatenate(sizes) if sizes else np.zeros(0, dtype="int64"),
                           "sum": np.concatenate(repeats) if repeats else np.zeros(0, dtype="int64")}, index=index)
    return counts, buyers


def _buyers_whole(data) -> pd.DataFrame:
    """Buyers (``size``) and repeat buyers (``sum``) per day for :func:`daily_board`, from the
    orders' whole columns (the in-memory table, or a prepared file :func:`_orders_pass` cannot
    stream)."""
    if _prepared_orders(data):  # status (and the funnel's channel, device) as the file's dictionary codes
        orders = _read(data, "orders", ("customer_id", "order_ts"))
        is_paid = _paid_orders(data)
        if orders["order_ts"].dtype.kind == "M":  # the funnel's paid counts from the same stamps
            _paid_counts(data, stamp=orders["order_ts"].to_numpy(), paid=is_paid)
    else:
        orders = _read(data, "orders", ("customer_id", "order_ts", "status"))
        is_paid = paid_mask(orders).to_numpy(dtype=bool)
    summary = read_derived_columns(data, "customer_summary", ["customer_id", "first_order_ts"])
    at = _customer_positions(orders["customer_id"], summary["customer_id"])
    ts = orders["order_ts"]
    if at is not None and ts.dtype.kind == "M":  # integer customer codes and day numbers
        days = ts.to_numpy().astype("datetime64[D]").view("int64")
        keep = is_paid & orders["customer_id"].notna().to_numpy() & ~np.isnat(ts.to_numpy())
        code, days = at[keep], days[keep]
        if (code < 0).any():  # customers not in the summary: codes of their own, after the summary's
            miss = code < 0
            code = code.copy()
            code[miss] = len(summary) + pd.factorize(orders["customer_id"].iloc[np.flatnonzero(keep)[miss]])[0]
        lo = days.min() if len(days) else 0
        span = int(days.max() - lo + 1) if len(days) else 1
        pair = np.sort(code * span + (days - lo))  # each buyer once per day: sorted, repeats dropped
        pair = pair[np.r_[True, pair[1:] != pair[:-1]]] if len(pair) else pair
        code, days = pair // span, pair % span + lo
        first = summary["first_order_ts"].to_numpy().astype("datetime64[D]").view("int64")
        known = code < len(summary)
        first_day = np.where(known, first[np.where(known, code, 0)], np.iinfo("int64").max)
        nat = np.isnat(summary["first_order_ts"].to_numpy())[np.where(known, code, 0)] & known
        repeat = (first_day < days) & ~nat
        counts = np.bincount(days - lo, minlength=span)
        repeats = np.bincount(days - lo, weights=repeat, minlength=span)
        on = counts > 0
        index = pd.DatetimeIndex((np.arange(span)[on] + lo).astype("datetime64[D]")).as_unit(ts.dt.unit)
        g = pd.DataFrame({"size": counts[on], "sum": repeats[on].astype("int64")}, index=index)
    else:  # a customer on several summary rows: the merge's own rules
        paid = orders[["customer_id", "order_ts"]].loc[is_paid & orders["customer_id"].notna().to_numpy()]
        paid = paid.assign(date=paid["order_ts"].dt.normalize()).drop_duplicates(["customer_id", "date"])
        paid = paid.merge(summary, on="customer_id", how="left")
        paid["repeat"] = paid["first_order_ts"].dt.normalize() < paid["date"]
        g = paid.groupby("date")["repeat"].agg(["size", "sum"])
    return g


def daily_board(data) -> pd.DataFrame:
    """Shop-wide daily KPIs: visitors (UV), paid orders, GMV, conversion, AOV and repurchase.

    Formulas (001 part 4, GMV = UV x conversion x AOV): conversion = paid orders / visitors; AOV
    (客单价) = GMV / paid orders; repurchase (复购率) = buyers of the day who had a paid order on an
    earlier day / buyers of the day. Built on ``data.derived("daily_kpis")`` and
    ``data.derived("customer_summary")``; visitors need ``traffic``, repurchase ``customer_id``.

    Returns one row per date: visitors, paid_orders, gmv, buyers, repeat_buyers, conversion, aov,
    repurchase (NaN where the inputs are missing).
    """
    kpis = data.derived("daily_kpis")
    cols = [c for c in ("visitors", "paid_orders", "gmv") if c in kpis.columns]
    day = kpis.groupby("date")[cols].sum(min_count=1)
    if "visitors" not in day.columns:
        day["visitors"] = np.nan
    day["buyers"] = np.nan
    day["repeat_buyers"] = np.nan
    if has_column(data, "orders", "customer_id"):
        passed = _orders_pass(data, repurchase=True) if _prepared_orders(data) else None
        if passed is not None:  # a few million orders at a time, the funnel's paid counts on the way
            counts, g = passed
            from .derived import per_dataset

            per_dataset(data, "dataops.paid_counts", lambda d: counts, tables=_orders_key(data))
            del passed, counts
        else:
            g = _buyers_whole(data)
        day["buyers"] = g["size"].reindex(day.index).astype("float64")
        day["repeat_buyers"] = g["sum"].reindex(day.index).astype("float64")
    day["conversion"] = day["paid_orders"] / day["visitors"].where(day["visitors"] > 0)
    day["aov"] = day["gmv"] / day["paid_orders"].where(day["paid_orders"] > 0)
    day["repurchase"] = day["repeat_buyers"] / day["buyers"].where(day["buyers"] > 0)
    return day.reset_index()


def _weekday_baseline(values: pd.Series, ordinary: pd.Series, weeks: int) -> pd.Series:
    """Median of the last ``weeks`` ordinary days of the same weekday strictly before each day
    (index: consecutive dates). Festival days are skipped, so the baseline reaches back past a long
    festival window instead of going blank; a baseline older than ten weeks is not used."""
    out = pd.Series(np.nan, index=values.index)
    weekday = values.index.day_of_week
    for wd in range(7):  # the seven weekdays
        s = values[weekday == wd].astype("float64")
        ok = s.where(ordinary[weekday == wd]).dropna()
        med = ok.rolling(weeks, min_periods=3).median().reindex(s.index)
        out.loc[s.index] = med.shift(1).ffill(limit=10).to_numpy()
    return out


def kpi_alerts(board: pd.DataFrame, festivals: pd.DataFrame | None = None, *, baseline_weeks: int = 8,
               alert_p: float = 0.001, conversion_min_pp: float = 0.005, conversion_min_rel: float = 0.05,
               repurchase_min_pp: float = 0.10, min_visitors: int = 500, min_buyers: int = 30,
               volume_min_change: float = 0.35, robust_z: float = 4.0) -> pd.DataFrame:
    """Expected value and abnormal-day test for each KPI and day.

    **Baseline.** The expected value of a day is the median of the same weekday over the
    ``baseline_weeks`` weeks before, counting only ordinary days (not on the festival calendar), so
    the weekly rhythm is kept and a festival never inflates the baseline.

    **Ratios** (conversion, repurchase) are tested as counts: the day's paid orders out of its
    visitors (repeat buyers out of buyers) against the expected rate, two-sided binomial test;
    an alert needs p < ``alert_p``, a move of at least ``conversion_min_pp`` points (and at least
    ``conversion_min_rel`` of the expected rate, the handbook's "down 5%"; ``repurchase_min_pp``
    for repurchase) and the minimum volume. **Levels** (visitors, AOV) alert when the day is
    ``volume_min_change`` or more off expected and ``robust_z`` robust standard deviations away
    (1.4826 x median absolute log deviation of the ordinary days).

    **Festival calendar.** On a festival day only a conversion drop alerts (a festival explains a
    peak and the dip around it, never a checkout that stops converting); other moves are marked
    ``festival``.

    Returns one row per date and metric: actual, expected, change (points for ratios, relative for
    levels), p_value, z, festival, status (``alert`` / ``festival`` / ``normal`` / ``no baseline``
    / ``low volume``) and direction.
    """
    b = board.set_index("date").sort_index()
    full = pd.date_range(b.index.min(), b.index.max(), freq="D")
    b = b.reindex(full)
    fest = pd.Series("", index=full)
    if festivals is not None and len(festivals):
        f = festivals.set_index("date")["festival"]
        fest.loc[f.index.intersection(full)] = f.reindex(f.index.intersection(full))
    on_calendar = fest != ""
    ordinary = ~on_calendar
    frames = []
    for metric in METRICS:  # four metrics
        actual = b[metric]
        if actual.notna().sum() == 0:
            continue
        expected = _weekday_baseline(actual, ordinary & actual.notna(), baseline_weeks)
        out = pd.DataFrame({"date": full, "metric": metric, "actual": actual.to_numpy(),
                            "expected": expected.to_numpy(), "festival": fest.to_numpy()})
        if metric in ("conversion", "repurchase"):
            n = (b["visitors"] if metric == "conversion" else b["buyers"]).to_numpy(dtype="float64")
            k = (b["paid_orders"] if metric == "conversion" else b["repeat_buyers"]).to_numpy(dtype="float64")
            p0 = expected.to_numpy().clip(1e-9, 1 - 1e-9)
            with np.errstate(all="ignore"):
                lo = probability.binom_cdf(k, n, p0)
                hi = probability.binom_sf(k - 1, n, p0)
                pval = np.minimum(1.0, 2 * np.minimum(lo, hi))
                z = (k / n - p0) / np.sqrt(p0 * (1 - p0) / n)
            change = out["actual"] - out["expected"]
            min_n = min_visitors if metric == "conversion" else min_buyers
            min_pp = conversion_min_pp if metric == "conversion" else repurchase_min_pp
            big = change.abs() >= min_pp
            if metric == "conversion":
                big &= change.abs() >= conversion_min_rel * out["expected"]
            sig = pd.Series(pval < alert_p, index=out.index) & big
            low = pd.Series(np.nan_to_num(n) < min_n, index=out.index)
            out["p_value"], out["z"] = pval, z
        else:
            la = np.log(out["actual"].where(out["actual"] > 0))
            le = np.log(out["expected"].where(out["expected"] > 0))
            resid = la - le
            mad = (resid.where(pd.Series(ordinary.to_numpy(), index=out.index)) - resid.where(
                pd.Series(ordinary.to_numpy(), index=out.index)).median()).abs().median() * 1.4826
            z = resid / mad if mad and mad > 0 else resid * np.nan
            change = out["actual"] / out["expected"] - 1
            sig = (change.abs() >= volume_min_change) & (z.abs() >= robust_z)
            n_col = b["paid_orders"] if metric == "aov" else b["visitors"]
            low = pd.Series(np.nan_to_num(n_col.to_numpy(dtype="float64")) < (min_buyers if metric == "aov" else 1),
                            index=out.index)
            out["p_value"], out["z"] = np.nan, z.to_numpy()
        out["change"] = change
        out["direction"] = np.where(change < 0, "down", "up")
        cal = pd.Series(on_calendar.to_numpy(), index=out.index)
        explained = cal & ~((out["metric"] == "conversion") & (change < 0))
        status = np.select(
            [out["actual"].isna(), out["expected"].isna(), low, sig & explained, sig, cal],
            ["no data", "no baseline", "low volume", "festival peak or dip", "alert", "festival"], default="normal")
        out["status"] = status
        frames.append(out)
    if not frames:
        return pd.DataFrame(columns=["date", "metric", "actual", "expected", "festival", "p_value", "z",
                                     "change", "direction", "status"])
    return pd.concat(frames, ignore_index=True)


def _fmt(metric: str, v: float) -> str:
    if pd.isna(v):
        return "n/a"
    if metric in ("conversion", "repurchase"):
        return f"{v:.2%}"
    if metric == "aov":
        return f"¥{v:,.0f}"
    return f"{v:,.0f}"


def _alert_rows(days: pd.DataFrame, *, per_metric: int) -> pd.DataFrame:
    a = days.loc[days["status"] == "alert"].copy()
    if a.empty:
        return pd.DataFrame(columns=["date", "subject", "metric", "severity", "actual", "expected", "change",
                                     "message"])
    a["month"] = a["date"].dt.strftime("%Y-%m")
    a["size"] = a["z"].abs()
    a = (a.sort_values("size", ascending=False).groupby(["metric", "month"], sort=False).head(per_metric)
         .sort_values(["date", "metric"]))
    ratio = a["metric"].isin(["conversion", "repurchase"])
    change_txt = np.where(ratio, (a["change"] * 100).map("{:+.2f} pp".format), a["change"].map("{:+.0%}".format))
    a["subject"] = a["date"].dt.strftime("%Y-%m-%d")
    a["severity"] = np.where(a["size"] >= 2 * a.groupby("metric")["size"].transform("min").clip(lower=4), "high",
                             "medium")
    a["severity"] = np.where((a["metric"] == "conversion") & (a["direction"] == "down"), "high", a["severity"])
    a["message"] = [f"{METRIC_LABELS[m]} {_fmt(m, x)} against {_fmt(m, e)} expected ({c}); "
                    f"{'festival: ' + f if f else 'ordinary day'}"
                    for m, x, e, c, f in zip(a["metric"], a["actual"], a["expected"], change_txt, a["festival"])]
    return a[["date", "subject", "metric", "severity", "actual", "expected", "change", "message"]].reset_index(drop=True)


@dataclass
class KpiBoard:
    """The KPI board of a report month (see :func:`kpi_board`)."""

    month: str
    days: pd.DataFrame  #: one row per date and metric (see :func:`kpi_alerts`)
    alerts: pd.DataFrame  #: capped alerts over the whole window: date, subject, metric, severity, ..., message
    month_alerts: pd.DataFrame  #: the report month's alerts
    summary: pd.DataFrame  #: the report month's KPIs against the previous month
    board_start: pd.Timestamp
    note: str | None = None

    @property
    def pack_alerts(self) -> pd.DataFrame:
        """Alerts for the month's pack: the report month's, plus the previous month's at low
        severity (the chapter's month-over-month figures read against that month)."""
        start, _ = _month_bounds(self.month)
        prev = self.alerts.loc[(self.alerts["date"] >= start - pd.offsets.MonthBegin(1)) & (self.alerts["date"] < start)]
        prev = prev.assign(severity="low", message="previous month: " + prev["message"])
        return pd.concat([prev, self.month_alerts], ignore_index=True)

    @property
    def conversion_alert_days(self) -> int:
        """Days of the report month with a conversion alert."""
        if self.days["metric"].eq("conversion").sum() == 0:
            return float("nan")
        return int((self.month_alerts["metric"] == "conversion").sum())

    @property
    def alert_view(self) -> pd.DataFrame:
        """Alerts on the board (the last ``board_days``), for display."""
        a = self.alerts.loc[self.alerts["date"] >= self.board_start]
        return a[["subject", "metric", "severity", "message"]].rename(columns={"subject": "date"})

    @property
    def summary_view(self) -> pd.DataFrame:
        """The month's four KPIs against the previous month, formatted."""
        rows = []
        for key, label in METRIC_LABELS.items():  # four metrics
            if label not in self.summary.index:
                continue
            r = self.summary.loc[label]
            f = (lambda v: _fmt(key, v))
            chg = (f"{(r['this_month'] - r['previous_month']) * 100:+.2f} pp" if key in ("conversion", "repurchase")
                   else ("" if pd.isna(r["change"]) else f"{r['change']:+.1%}"))
            rows.append({"KPI": label, "this month": f(r["this_month"]), "previous month": f(r["previous_month"]),
                         "change": chg})
        out = pd.DataFrame(rows).set_index("KPI")
        out.loc["Days with an alert"] = [f"{self.summary.iloc[-1]['this_month']:.0f}",
                                         f"{self.summary.iloc[-1]['previous_month']:.0f}", ""]
        return out

    def daily_view(self, days: int = 7) -> pd.DataFrame:
        """The last ``days`` days of the report month: each KPI as "actual (expected)", and the
        day's status (alert, festival, normal)."""
        _, end = _month_bounds(self.month)
        d = self.days.loc[(self.days["date"] >= end - days * DAY) & (self.days["date"] < end)]
        text = [f"{_fmt(m, a)} ({_fmt(m, e)})" for m, a, e in zip(d["metric"], d["actual"], d["expected"])]  # a week
        wide = d.assign(text=text).pivot(index="date", columns="metric", values="text")
        wide = wide[[m for m in METRICS if m in wide.columns]].rename(columns=METRIC_LABELS)
        status = d.groupby("date")["status"].agg(lambda s: "alert" if (s == "alert").any() else s.iloc[0])
        wide["status"] = status
        wide.index = wide.index.strftime("%Y-%m-%d %a")
        return wide

    @property
    def status_view(self) -> pd.DataFrame:
        """Days of the board by metric and status: how many were judged, explained or alerted."""
        d = self.days.loc[self.days["date"] >= self.board_start]
        return pd.crosstab(d["metric"].map(METRIC_LABELS), d["status"])


def kpi_board(data, *, record=None) -> KpiBoard:
    """Daily KPI board (数据看板) with abnormal-day alerts, 001 part 4: UV, conversion, AOV and
    repurchase per day, each against a weekday- and festival-aware expected value.

    Needs orders; visitors and conversion need ``traffic``; campaigns name the festivals. Alerts are
    capped at ``alerts_per_metric`` per metric and month (the largest first); each says expected
    vs actual. Returns a :class:`KpiBoard`.
    """
    cfg = _settings(data)
    month = data.month
    board = daily_board(data)
    campaigns = data["campaigns"] if data.has("campaigns") else None
    fest = festival_calendar(campaigns, start=data.start, end=data.end, pre_days=cfg["festival_pre_days"],
                             post_days=cfg["festival_post_days"], spring_days=cfg["spring_festival_days"])
    days = kpi_alerts(board, fest, baseline_weeks=cfg["baseline_weeks"], alert_p=cfg["alert_p"],
                      conversion_min_pp=cfg["conversion_min_pp"], conversion_min_rel=cfg["conversion_drop_alert"],
                      repurchase_min_pp=cfg["repurchase_min_pp"], min_visitors=cfg["min_visitors"],
                      min_buyers=cfg["min_buyers"], volume_min_change=cfg["volume_min_change"],
                      robust_z=cfg["robust_z"])
    alerts = _alert_rows(days, per_metric=cfg["alerts_per_metric"])
    start, end = _month_bounds(month)
    month_alerts = alerts.loc[(alerts["date"] >= start) & (alerts["date"] < end)].reset_index(drop=True)
    prev = start - pd.offsets.MonthBegin(1)
    b = board.set_index("date")

    def totals(lo, hi):
        s = b.loc[(b.index >= lo) & (b.index < hi)]
        v = s["visitors"].sum(min_count=1)
        return {"visitors": v, "conversion": s["paid_orders"].sum() / v if v else np.nan,
                "aov": s["gmv"].sum() / s["paid_orders"].sum() if s["paid_orders"].sum() else np.nan,
                "repurchase": s["repeat_buyers"].sum() / s["buyers"].sum() if s["buyers"].sum() else np.nan,
                "alert_days": int(((days["date"] >= lo) & (days["date"] < hi) & (days["status"] == "alert")).sum())}
    summary = pd.DataFrame({"this_month": totals(start, end), "previous_month": totals(prev, start)})
    summary["change"] = summary["this_month"] / summary["previous_month"] - 1
    summary.index = [METRIC_LABELS.get(i, "Metric-days with an alert") for i in summary.index]
    note = None
    if not data.has("traffic"):
        note = _skip(record, "KPI board: visitors and conversion",
                     data.missing_note("traffic") or "no traffic table: visitors and conversion are not monitored")
    release_free_memory()  # what the pass over the orders freed goes back to the system
    return KpiBoard(month, days, alerts, month_alerts, summary,
                    end - cfg["board_days"] * DAY, note)


def plot_kpi_board(board: KpiBoard, *, axes=None):
    """Four small panels (UV, conversion, AOV, repurchase) over the board's last days: actual
    (line), expected (dashed), festival days shaded, alerts as red dots. Returns the axes."""
    import matplotlib.pyplot as plt
    from . import charts
    if axes is None:
        _, axes = plt.subplots(4, 1, figsize=(11, 9), sharex=True)
    d = board.days.loc[board.days["date"] >= board.board_start]
    for ax, metric in zip(np.ravel(axes), METRICS):
        m = d.loc[d["metric"] == metric]
        if m.empty or m["actual"].notna().sum() == 0:
            _note_ax(ax, "not available", METRIC_LABELS[metric])
            continue
        ax.plot(m["date"], m["actual"], color="#4c72b0", lw=1.4, label="actual")
        ax.plot(m["date"], m["expected"], color="#999999", lw=1.1, ls="--", label="expected")
        fest = m.loc[m["festival"] != "", "date"]
        for x in fest:  # shading of at most ~90 days
            ax.axvspan(x - DAY / 2, x + DAY / 2, color="#f2d7a6", alpha=0.35, lw=0)
        al = m.loc[m["status"] == "alert"]
        ax.scatter(al["date"], al["actual"], color="#c0392b", zorder=5, s=36, label="alert")
        for x, y in zip(al["date"], al["actual"]):  # at most a few alerts per month
            ax.annotate(f"{x:%m-%d}", (x, y), xytext=(6, 0), textcoords="offset points", fontsize=8,
                        color="#c0392b", va="center")
        ax.fill_between([], [], color="#f2d7a6", alpha=0.35, label="festival calendar")
        ax.set_title(METRIC_LABELS[metric], loc="left", fontsize=10)
        if metric in ("conversion", "repurchase"):
            charts.format_pct_axis(ax)
        elif metric == "aov":
            charts.format_money_axis(ax)
    handles = [ax for ax in np.ravel(axes) if ax.get_legend_handles_labels()[0]]
    if handles:
        handles[0].legend(loc="upper left", ncols=4, fontsize=8)
    return axes


# == 2. RFM ===========================================================================================
RFM_ACTIONS = {
    "Champions 重要价值客户": "Reward and ask for reviews and referrals; early access to launches, no discounts needed.",
    "Loyal 忠诚客户": "Membership perks and bundles (upsell); invite to the private domain (私域) community.",
    "Potential loyalists 潜力客户": "Second-purchase nudges: a threshold coupon on a related category within 30 days.",
    "New 新客": "Onboarding: thank-you message, usage tips, a first-repurchase coupon (NEW-style).",
    "Need attention 需关注": "Personalised recommendation and a limited-time offer before they drift.",
    "At risk 重要挽留客户": "Win-back now: a personal message and a meaningful coupon (BACK-style, 90-day rule).",
    "Can't lose 重要召回客户": "High-value and slipping: one-to-one outreach by the service team, best offer.",
    "Hibernating 沉睡客户": "Low-cost reminders at festivals only (618, 双11); do not over-spend.",
    "Lost 流失客户": "Exclude from paid campaigns; one last festival reminder, then suppress.",
}


def _text(codes: np.ndarray, labels) -> pd.api.extensions.ExtensionArray:
    """``labels[codes]`` as the text column pandas reads (one Arrow take from the few labels,
    instead of formatting or copying a Python string per row)."""
    import pyarrow as pa

    codes = np.asarray(codes)
    if codes.dtype.kind != "i":
        codes = codes.astype("int64")
    taken = pa.array(list(labels), type=pa.large_string()).take(pa.array(codes))  # small codes as they are
    return pd.array(taken, dtype="str")


def _rank_min(values: np.ndarray) -> np.ndarray:
    """``Series.rank(method="min")`` of values without NaN: 1 + how many values are smaller (one
    sort; every value of a run of ties takes the run's first position)."""
    order = np.argsort(values)
    ordered = values[order]
    first = np.ones(len(values), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    start = np.maximum.accumulate(np.where(first, np.arange(len(values)), 0))
    rank = np.empty(len(values), dtype="float64")
    rank[order] = start + 1
    return rank


def _rfm_parts(summary: pd.DataFrame, *, asof, bins: int = 5) -> dict:
    """The columns of :func:`rfm_scores` in compact form: ``customer_id`` (the summary's ids),
    ``recency_days``, ``frequency``, ``monetary``, each customer's RFM ``cell`` (position in the
    ``bins``^3 grid, from which r, f and m follow) and ``segment`` (position in
    :data:`RFM_ACTIONS`) as small integers, and ``bins``: about 45 bytes a customer where the
    frame, with its score and text columns, takes about 160."""
    _require(summary, "customer_summary", ["customer_id", "last_order_ts", "paid_orders", "gmv"])
    asof = pd.Timestamp(asof)
    recency = ((asof - summary["last_order_ts"]) / DAY).to_numpy(dtype="float64")
    frequency = summary["paid_orders"].to_numpy(dtype="int64")
    monetary = summary["gmv"].to_numpy(dtype="float64")

    def score(v: np.ndarray, reverse: bool = False) -> np.ndarray:
        s = pd.Series(v, copy=False)
        if s.isna().any():  # pandas keeps NaN out of the ranks
            rank = (-s if reverse else s).rank(method="min").to_numpy()
        else:
            rank = _rank_min((-s if reverse else s).to_numpy())
        pr = rank / len(s)
        return np.clip(np.ceil(pr * bins), 1, bins).astype("int64")
    r = score(recency, reverse=True)
    f = score(frequency)
    m = score(monetary)
    cell = ((r - 1) * bins + (f - 1)) * bins + (m - 1)
    seg = _segment_codes(r, f, m)
    del r, f, m
    small = np.int16 if bins ** 3 < 2 ** 15 else np.int64
    return {"customer_id": summary["customer_id"].array, "recency_days": recency, "frequency": frequency,
            "monetary": monetary, "cell": cell.astype(small), "segment": seg.astype(np.int8), "bins": bins}


def _rfm_grid(bins: int) -> list[str]:
    """The RFM cells' names ("111" .. "555"), in cell order."""
    return [f"{i}{j}{k}" for i in range(1, bins + 1) for j in range(1, bins + 1) for k in range(1, bins + 1)]


def _rfm_frame(parts: dict) -> pd.DataFrame:
    """The frame of :func:`rfm_scores` from :func:`_rfm_parts`."""
    bins, cell = parts["bins"], parts["cell"].astype("int64")
    return pd.DataFrame({"customer_id": parts["customer_id"], "recency_days": parts["recency_days"],
                         "frequency": parts["frequency"], "monetary": parts["monetary"],
                         "r": cell // (bins * bins) + 1, "f": cell // bins % bins + 1, "m": cell % bins + 1,
                         "rfm": _text(cell, _rfm_grid(bins)), "segment": _text(parts["segment"], RFM_ACTIONS)})


def _rfm_scores(summary: pd.DataFrame, *, asof, bins: int = 5) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """:func:`rfm_scores`, with each customer's segment (position in :data:`RFM_ACTIONS`) and
    RFM cell (position in the ``bins``^3 grid) as integer codes."""
    parts = _rfm_parts(summary, asof=asof, bins=bins)
    return _rfm_frame(parts), parts["segment"].astype("int64"), parts["cell"].astype("int64")


def rfm_scores(summary: pd.DataFrame, *, asof, bins: int = 5) -> pd.DataFrame:
    """RFM scores by quintile (002 part 05, RFM模型).

    recency_days = days from the last paid order to ``asof``; frequency = paid orders; monetary =
    GMV. Each is ranked over all customers (ties take the lowest rank of their group, so the many
    one-order customers all score F1) and cut into ``bins`` equal groups: score = ceil(rank / n x
    bins), 1..5, **recency reversed** (the most recent fifth scores 5). Required columns: customer_id, last_order_ts, paid_orders, gmv (as in
    ``data.derived("customer_summary")``).

    Returns customer_id, recency_days, frequency, monetary, r, f, m, rfm (e.g. "545") and segment.

    >>> rfm_scores(summary, asof="2026-11-01")  # doctest: +SKIP
    """
    return _rfm_scores(summary, asof=asof, bins=bins)[0]


def _segment_codes(r, f, m) -> np.ndarray:
    """Position in :data:`RFM_ACTIONS` of each (R, F, M) triple's segment (see :func:`rfm_segments`)."""
    r = np.asarray(r)
    fm = (np.asarray(f) + np.asarray(m)) / 2
    conds = [(r >= 4) & (fm >= 4), (r >= 3) & (fm >= 3.5), (r >= 4) & (fm >= 2.5), r >= 4,
             (r <= 1) & (fm >= 4), (r <= 2) & (fm >= 3), r == 3, r == 2]
    return np.select(conds, [0, 1, 2, 3, 6, 5, 4, 7], default=8).astype("int64")


def rfm_segments(r, f, m) -> np.ndarray:
    """Named segment of each (R, F, M) score triple (vectorised), with FM = mean of F and M:

    Champions R>=4 & FM>=4; Loyal R>=3 & FM>=3.5; Potential loyalists R>=4 & FM>=2.5;
    New R>=4; Can't lose R<=1 & FM>=4; At risk R<=2 & FM>=3; Need attention R=3;
    Hibernating R=2; Lost otherwise.
    """
    return np.array(list(RFM_ACTIONS))[_segment_codes(r, f, m)]


@dataclass
class RfmResult:
    customers: pd.DataFrame | None = None  #: one row per customer (see :func:`rfm_scores`)
    segments: pd.DataFrame | None = None  #: one row per segment with its suggested action
    note: str | None = None
    #: each customer's segment as its position in RFM_ACTIONS (built with the scores; else from the names)
    segment_codes: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def view(self) -> pd.DataFrame:
        if self.segments is None:
            return pd.DataFrame({"note": [self.note]})
        return _pretty(self.segments, pct=("share", "gmv_share"), count=("customers",), dec=("frequency",),
                       money=("monetary",)).assign(
            recency_days=self.segments["recency_days"].round(0).astype("int64")).set_index("segment")

    @property
    def slipping_gmv_share(self) -> float:
        """Share of GMV in the at-risk and can't-lose segments."""
        if self.segments is None:
            return float("nan")
        seg = self.segments.set_index("segment")["gmv_share"]
        return float(seg.reindex([s for s in RFM_ACTIONS if s.startswith(("At risk", "Can't lose"))]).sum())

    def share(self, name: str) -> float:
        """Share of customers in the segment whose name starts with ``name``."""
        if self.segments is None:
            return float("nan")
        seg = self.segments.set_index("segment")["share"]
        return float(seg[[s for s in seg.index if s.startswith(name)]].sum())

    @property
    def action_list(self) -> pd.DataFrame:
        """Customers with their segment and suggested action, the most valuable segments first
        (then by GMV, largest first; ties keep the customers' order)."""
        if self.customers is None:
            return pd.DataFrame(columns=["customer_id", "segment", "action"])
        c = self.customers
        seg = self.segment_codes
        if seg is None or len(seg) != len(c):
            seg = pd.Categorical(c["segment"], categories=list(RFM_ACTIONS)).codes.astype("int64")
        if (seg < 0).any():
            raise ValueError("RFM customers: segment names outside RFM_ACTIONS: "
                             + ", ".join(map(str, c.loc[seg < 0, "segment"].unique()[:5])))
        return _rfm_action_list(c["customer_id"].array, c["recency_days"], c["frequency"].to_numpy(),
                                c["monetary"], seg, lambda order: c["rfm"].array.take(order))

    def rf_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """Each customer's R and F scores (for :func:`plot_rfm`)."""
        return self.customers["r"].to_numpy(), self.customers["f"].to_numpy()

    def has_customers(self) -> bool:
        """Whether there are customers (without building the frame where it is built on reading)."""
        return self.customers is not None


def _rfm_action_list(ids, recency, frequency: np.ndarray, monetary, seg: np.ndarray, rfm_at) -> pd.DataFrame:
    """:attr:`RfmResult.action_list` from the customers' columns: ``seg`` the segment codes,
    ``rfm_at(order)`` the RFM cells' names in that order."""
    monetary = pd.Series(monetary, copy=False).round(2).to_numpy()
    order = np.argsort(-monetary, kind="stable")  # by GMV, then by segment: stable sorts keep ties in order
    order = order[np.argsort(seg[order].astype(np.int16), kind="stable")]
    segment = seg[order]
    return pd.DataFrame({  # fresh arrays: not copied again into blocks
        "customer_id": ids.take(order),
        "segment": _text(segment, RFM_ACTIONS),
        "rfm": rfm_at(order),
        "recency_days": pd.Series(recency, copy=False).round(0).to_numpy()[order],
        "frequency": frequency[order],
        "monetary": monetary[order],
        "action": _text(segment, RFM_ACTIONS.values()),
    }, copy=False)


class _RfmOfParts(RfmResult):
    """The :class:`RfmResult` of :func:`rfm_report`: it keeps the customers in compact form
    (:func:`_rfm_parts`) and builds the ``customers`` frame (and ``segment_codes``) when they are
    read, so a shop of thirty million buyers does not hold its scores' text columns for the whole
    chapter; the action list and the heatmap are made from the compact columns."""

    def __init__(self, parts: dict, segments: pd.DataFrame):
        self._parts, self._frame, self._codes = parts, None, None
        super().__init__(None, segments)

    @property
    def customers(self) -> pd.DataFrame | None:
        return self._frame if self._parts is None else _rfm_frame(self._parts)

    @customers.setter
    def customers(self, value) -> None:
        if value is None and self._parts is not None:  # the dataclass's __init__: the parts stand
            return
        self._parts, self._frame = None, value  # a frame set later replaces them

    @property
    def segment_codes(self) -> np.ndarray | None:
        if self._codes is None and self._parts is not None:
            return self._parts["segment"].astype("int64")
        return self._codes

    @segment_codes.setter
    def segment_codes(self, value) -> None:
        self._codes = value

    @property
    def action_list(self) -> pd.DataFrame:
        if self._parts is None:
            return super().action_list
        p = self._parts
        cell, grid = p["cell"], _rfm_grid(p["bins"])
        return _rfm_action_list(p["customer_id"], p["recency_days"], p["frequency"], p["monetary"], p["segment"],
                                lambda order: _text(cell[order], grid))

    def has_customers(self) -> bool:
        return self._parts is not None or self._frame is not None

    def rf_scores(self) -> tuple[np.ndarray, np.ndarray]:
        if self._parts is None:
            return super().rf_scores()
        bins, cell = self._parts["bins"], self._parts["cell"].astype("int64")
        return cell // (bins * bins) + 1, cell // bins % bins + 1


def rfm_report(data, *, record=None) -> RfmResult:
    """Customers with a paid order in the loaded window, scored and segmented as of the end of the
    report month; segments carry customers, share, GMV share, mean recency / frequency / monetary
    and the suggested action. A note instead when orders carry no customer_id."""
    if not has_column(data, "orders", "customer_id"):
        return RfmResult(note=_skip(record, "RFM", "orders carry no customer_id: RFM needs buyer identity"))
    summary = read_derived_columns(data, "customer_summary", ["customer_id", "last_order_ts", "paid_orders", "gmv"])
    kept = (summary["last_order_ts"] < data.end).to_numpy(dtype=bool)
    if not kept.all():  # usually every customer: no copy of the summary
        summary = summary.loc[kept]
    parts = _rfm_parts(summary, asof=data.end)
    del summary
    codes = parts["segment"]
    names = np.array(list(RFM_ACTIONS), dtype=object)
    cust = pd.DataFrame({c: parts[c] for c in ("recency_days", "frequency", "monetary")}, copy=False)
    seg = cust.groupby(codes).agg(
        customers=("recency_days", "size"), recency_days=("recency_days", "mean"), frequency=("frequency", "mean"),
        monetary=("monetary", "mean"), gmv=("monetary", "sum"))  # segments in RFM_ACTIONS order
    seg.index = pd.Index(names[seg.index.to_numpy()].tolist())
    seg["share"] = seg["customers"] / seg["customers"].sum()
    seg["gmv_share"] = seg["gmv"] / seg["gmv"].sum()
    seg["action"] = [RFM_ACTIONS[s] for s in seg.index]
    seg = seg[["customers", "share", "gmv_share", "recency_days", "frequency", "monetary", "action"]]
    del cust
    release_free_memory()  # the ranks' and the summary's buffers
    return _RfmOfParts(parts, seg.rename_axis("segment").reset_index())


def plot_rfm(result: RfmResult, *, ax=None):
    """Heatmap of customers by R (rows) and F (columns) score."""
    import matplotlib.pyplot as plt
    from . import charts
    ax = ax if ax is not None else plt.gca()
    if not result.has_customers():
        return _note_ax(ax, result.note or "no RFM")
    r, f = result.rf_scores()
    if len(r) and r.dtype.kind == f.dtype.kind == "i" and max(np.ptp(r), np.ptp(f)) < 1000:
        # pd.crosstab(r, f) by one bincount of the score pairs (the observed scores as rows and columns)
        r0, f0 = r.min(), f.min()
        nf = int(f.max() - f0 + 1)
        n = np.bincount((r - r0) * nf + (f - f0), minlength=int(r.max() - r0 + 1) * nf).reshape(-1, nf)
        rows, cols = n.sum(axis=1) > 0, n.sum(axis=0) > 0
        grid = pd.DataFrame(n[rows][:, cols], index=np.flatnonzero(rows) + r0, columns=np.flatnonzero(cols) + f0)
    else:
        grid = pd.crosstab(pd.Series(r, name="r"), pd.Series(f, name="f"))
    grid = grid.sort_index(ascending=False)
    grid.index = [f"R{i}" for i in grid.index]
    grid.columns = [f"F{i}" for i in grid.columns]
    charts.heatmap(grid / grid.to_numpy().sum(), ax=ax, fmt="pct",
                   title="Customers by recency (R, 5 = most recent) and frequency (F)")
    return ax



# == 3. A/B tests ======================================================================================
def sample_size(baseline: float, mde: float, alpha: float = 0.05, power: float = 0.8, *,
                relative: bool = False) -> int:
    """Units needed **per arm** to detect a change of conversion from ``baseline`` (002 part 05).

    ``mde`` is **absolute** (percentage points as a fraction: 0.05 = 20% -> 25%) unless
    ``relative=True`` (0.10 = 3.0% -> 3.3%). Two-sided test at ``alpha`` with ``power``, the
    formula of Evan Miller's calculator (https://www.evanmiller.org/ab-testing/sample-size.html)::

        n = (z_{1-a/2} sqrt(2 p (1-p)) + z_{power} sqrt(p(1-p) + q(1-q)))^2 / (q - p)^2,  q = p + d

    rounded up. Example: baseline 20%, mde 5 points absolute -> 1,031 (the calculator shows 1,030,
    rounding 1,030.3 to the nearest).
    """
    p = float(baseline)
    d = float(mde) * p if relative else float(mde)
    if not 0 < p < 1 or d == 0 or not 0 < p + d < 1:
        raise ValueError("baseline must be in (0, 1) and baseline + mde too, with mde != 0")
    za, zb = probability.norm_ppf(1 - alpha / 2), probability.norm_ppf(power)
    q = p + d
    n = (za * np.sqrt(2 * p * (1 - p)) + zb * np.sqrt(p * (1 - p) + q * (1 - q))) ** 2 / d ** 2
    return int(np.ceil(n - 1e-9))


def srm_check(counts, expected_shares=None) -> float:
    """p-value of the sample-ratio-mismatch test: chi-square goodness of fit of the arm sizes
    against the planned split (equal by default). A tiny p (< 0.001) means the assignment is broken
    and the test must not be read."""
    counts = np.asarray(counts, dtype="float64")
    shares = np.full(len(counts), 1 / len(counts)) if expected_shares is None else np.asarray(expected_shares)
    return probability.chisquare_p(counts, counts.sum() * shares / shares.sum())


def _welch(x1, v1, n1, x0, v0, n0, alpha):
    diff = x1 - x0
    se = np.sqrt(v1 / n1 + v0 / n0)
    dof = (v1 / n1 + v0 / n0) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v0 / n0) ** 2 / (n0 - 1))
    t = diff / se
    p = 2 * probability.t_sf(np.abs(t), dof)
    h = probability.t_ppf(1 - alpha / 2, dof) * se
    return diff, diff - h, diff + h, p


def ab_readout(experiments: pd.DataFrame, *, alpha: float = 0.05, power: float = 0.8,
               mde_relative: float = 0.10, srm_p: float = 0.001, planned: dict | None = None) -> pd.DataFrame:
    """Readout of each experiment, treatment against ``control`` (002 part 05 A/B测试).

    Per experiment and non-control variant: units per arm and the SRM p-value (equal split);
    conversion of each arm, the absolute difference with its (1-alpha) confidence interval
    (unpooled normal) and the two-proportion z-test p-value (pooled); revenue per unit with Welch's
    t-test; when ``pre_metric`` exists, CUPED: y' = y - theta (x - mean x), theta = cov(x, y) /
    var(x) over both arms, and the Welch test on y' (``variance_reduction`` = 1 - var y'/var y).
    ``planned_per_arm`` = :func:`sample_size` for the control's conversion and ``mde_relative``
    (or ``planned[experiment_id]``); ``warning`` says when a test is read before it.

    Required columns: experiment_id, unit_id, variant, converted; revenue and pre_metric optional.
    """
    _require(experiments, "experiments", ["experiment_id", "unit_id", "variant", "converted"])
    return _ab_readout(experiments, alpha=alpha, power=power, mde_relative=mde_relative, srm_p=srm_p,
                       planned=planned)


class _ExperimentUnits:
    """The per-unit columns an A/B readout reads (converted, revenue, pre_metric, assigned_ts: those
    the table has), handed out one experiment at a time: :func:`_ab_readout` needs one experiment's
    units at once, never all of a large shop's (tens of millions of units and four columns).

    From a frame, or from a prepared Parquet file read row group by row group, each group's rows of
    the experiment written into arrays of the experiment's size (no table of them all is built
    before the arrays)."""

    WANT = ("converted", "revenue", "pre_metric", "assigned_ts")

    def __init__(self, frame: pd.DataFrame | None = None, file=None):
        self.frame, self.file = frame, file
        if file is not None:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(file)
            meta, schema = pf.metadata, pf.schema_arrow
            self.columns = [c for c in self.WANT if c in schema.names]
            self.bounds = np.cumsum([0] + [meta.row_group(g).num_rows for g in range(meta.num_row_groups)])
            self.rows = int(meta.num_rows)
            types = {c: schema.field(c).type for c in self.columns}
            # numbers and plain timestamps go straight into numpy; anything else through pandas
            self.direct = all(
                (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)) if c != "assigned_ts"
                else (pa.types.is_timestamp(t) and t.tz is None) for c, t in types.items())
            self.ts_dtype = (np.dtype(f"datetime64[{types['assigned_ts'].unit}]")
                             if self.direct and "assigned_ts" in types else None)
        else:
            self.columns = [c for c in self.WANT if c in frame.columns]
            self.rows = len(frame)

    def has_values(self, column: str) -> bool:
        """Whether ``column`` is there with at least one value (a file's statistics, not read)."""
        if column not in self.columns:
            return False
        if self.frame is not None:
            return bool(self.frame[column].notna().any())
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(self.file)
        i = pf.schema_arrow.names.index(column)
        stats = [pf.metadata.row_group(g).column(i).statistics for g in range(pf.metadata.num_row_groups)]
        if all(st is not None and st.has_null_count for st in stats):  # num_values: the non-null values
            return sum(st.num_values for st in stats) > 0
        return pf.read(columns=[column]).column(0).null_count < self.rows

    def take(self, mask: np.ndarray) -> dict:
        """The units where ``mask`` is true, in the table's order: ``converted`` (float64),
        ``xy`` (a 2 x n float64 block: pre_metric, revenue with 0 for a missing value; NaN rows
        for a column the table lacks) and, when the table has it, ``assigned_ts``."""
        n = int(np.count_nonzero(mask))
        xy = np.full((2, n), np.nan)
        out = {"xy": xy}
        if self.frame is not None or not self.direct:
            part = self._frame(mask)
            out["converted"] = part["converted"].astype("float64").to_numpy()
            if "pre_metric" in part.columns:
                xy[0] = part["pre_metric"].astype("float64").to_numpy()
            if "revenue" in part.columns:
                xy[1] = part["revenue"].astype("float64").fillna(0.0).to_numpy()
            if "assigned_ts" in part.columns:
                out["assigned_ts"] = part["assigned_ts"].array
            return out
        import pyarrow as pa
        import pyarrow.parquet as pq

        conv = np.empty(n)
        ts = np.empty(n, dtype=self.ts_dtype) if self.ts_dtype is not None else None
        rows = {"pre_metric": xy[0], "revenue": xy[1], "converted": conv, "assigned_ts": ts}
        pf = pq.ParquetFile(self.file)
        at = 0
        for g in range(len(self.bounds) - 1):  # a row group of about a million units at a time
            m = mask[self.bounds[g]:self.bounds[g + 1]]
            k = int(np.count_nonzero(m))
            if not k:
                continue
            t = pf.read_row_group(g, columns=self.columns)
            if k < len(m):
                t = t.filter(pa.array(m))
            for c in self.columns:
                col = t.column(c)
                if c != "assigned_ts":
                    col = col.cast(pa.float64(), safe=False)  # what astype("float64") gives; a null: NaN
                rows[c][at:at + k] = col.to_numpy()
            at += k
            del t
        if "revenue" in self.columns:
            y = xy[1]
            y[np.isnan(y)] = 0.0
        out["converted"] = conv
        if ts is not None:
            out["assigned_ts"] = pd.array(ts)
        return out

    def _frame(self, mask: np.ndarray) -> pd.DataFrame:
        if self.frame is not None:
            return pd.DataFrame({c: self.frame[c].array[mask] for c in self.columns})
        import pyarrow as pa
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(self.file)
        parts = [pf.read_row_group(g, columns=self.columns).filter(pa.array(mask[self.bounds[g]:self.bounds[g + 1]]))
                 for g in range(len(self.bounds) - 1) if mask[self.bounds[g]:self.bounds[g + 1]].any()]
        table = pa.concat_tables(parts) if parts else pf.schema_arrow.empty_table().select(self.columns)
        del parts
        return table.to_pandas(split_blocks=True, self_destruct=True)


def _ab_arms(units: _ExperimentUnits, ec, neids: int, vc, nv: int, *, has_rev: bool, has_pre: bool):
    """Per arm (experiment code x ``nv`` + variant code, ascending): n, conv, rpu, rpu_var, cup,
    cup_var (and start, end with ``assigned_ts``); per experiment code: the variance of revenue and
    of its CUPED version. Computed one experiment at a time with the group-bys the whole table
    would get (each group's mean and variance is reduced over its own rows, in order, so the
    figures are the same): the memory is one experiment's units."""
    has_ts = "assigned_ts" in units.columns
    cats = pd.RangeIndex(neids)
    arm_cats = pd.RangeIndex(max(neids * nv, 1))
    arm_type = np.int16 if neids * nv < 2 ** 15 else np.intp
    parts, y_var, cup_var = [], {}, {}
    todo = [e for e in range(neids) if (ec == e).any()] or [-1]  # -1: no unit in an experiment
    for e in todo:  # a few experiments
        mask = ec == e if e >= 0 else np.zeros(len(ec), dtype=bool)
        u = units.take(mask)
        n = int(np.count_nonzero(mask))
        xy = u.pop("xy")
        x, y = xy[0], xy[1]  # views of one block: the frame below takes it as it is
        if has_pre and n:
            by_exp = pd.Categorical.from_codes(np.full(n, e, dtype=np.int8 if neids < 128 else np.intp),
                                               categories=cats)
            xs = pd.Series(x, copy=False)
            if xs.isna().any():  # a unit without pre-period data gets its experiment's mean
                x[:] = xs.fillna(pd.Series(xs.groupby(by_exp, observed=True).transform("mean").to_numpy())).to_numpy()
            ys = pd.Series(y, copy=False)
            xg = xs.groupby(by_exp, observed=True)
            x_var, x_mean = xg.var().iloc[0], xg.mean().iloc[0]
            y_var[e] = ys.groupby(by_exp, observed=True).var().iloc[0]
            # theta = cov(x, y) / var(x), DataFrame.cov of the two columns (one block, not copied)
            cov = pd.DataFrame(xy.T, columns=["x", "y"], copy=False).cov().loc["x", "y"]
            theta = pd.Series([cov], dtype="float64") / pd.Series([x_var], dtype="float64")
            # y - theta (x - mean x), in x's buffer (x is not needed again)
            np.subtract(x, np.float64(x_mean), out=x)
            np.multiply(np.float64(theta.iloc[0]), x, out=x)
            np.subtract(y, x, out=x)
            cup = x
            cup_var[e] = pd.Series(cup, copy=False).groupby(by_exp, observed=True).var().iloc[0]
            del xs, ys, xg, by_exp
        else:
            cup = np.full(n, np.nan)
        vce = vc[mask]
        del mask
        arm = np.where(vce >= 0, arm_type(max(e, 0) * nv) + vce.astype(arm_type), arm_type(-1))
        by_arm = pd.Categorical.from_codes(arm, categories=arm_cats)
        del arm, vce
        conv = pd.Series(u.pop("converted"), copy=False).groupby(by_arm, observed=True)
        ys = pd.Series(y if has_rev else np.full(n, np.nan), copy=False).groupby(by_arm, observed=True)
        cs = pd.Series(cup, copy=False).groupby(by_arm, observed=True)
        arms = pd.DataFrame({"n": conv.size(), "conv": conv.mean(), "rpu": ys.mean(), "rpu_var": ys.var(),
                             "cup": cs.mean(), "cup_var": cs.var()})
        del conv, ys, cs, xy, x, y, cup
        if has_ts:
            ts = pd.Series(u.pop("assigned_ts"), copy=False).groupby(by_arm, observed=True)
            arms["start"], arms["end"] = ts.min(), ts.max()
            del ts
        arms.index = np.asarray(arms.index, dtype="int64")
        parts.append(arms)
        del u, by_arm
    arms = pd.concat(parts) if len(parts) > 1 else parts[0]
    return arms, pd.Series(y_var, dtype="float64"), pd.Series(cup_var, dtype="float64")


def _ab_readout(experiments, *, alpha, power, mde_relative, srm_p, planned,
                codes: tuple | None = None, arms_out: dict | None = None) -> pd.DataFrame:
    """:func:`ab_readout` once the columns are checked (each row is one unit: ``unit_id`` is not read).
    ``experiments``: the table (a frame) or :class:`_ExperimentUnits` (then ``codes`` are needed).
    ``codes``: (experiment codes, experiment ids, variant codes, variant names) of the rows, as
    ``pd.factorize(..., sort=True)`` gives them (see :func:`~playbook.derived.column_codes`); the frame then needs no
    experiment_id or variant column. ``arms_out``: a dict that receives the arms' codes
    (experiment code x variants + variant code), units ``n`` and conversion ``conv``.
    The units are read and reduced one experiment at a time (:func:`_ab_arms`)."""
    units = experiments if isinstance(experiments, _ExperimentUnits) else None
    if codes is None:
        _require(experiments, "experiments", ["experiment_id", "variant", "converted"])
        # experiments and variants as sorted integer codes (-1: missing); every group-by below groups
        # on them as categorical codes, so no key is hashed again
        ec, eids = pd.factorize(experiments["experiment_id"], sort=True)
        vc, vids = pd.factorize(experiments["variant"], sort=True)
    else:
        if units is None:
            _require(experiments, "experiments", ["converted"])
        ec, eids, vc, vids = codes
    if units is None:
        units = _ExperimentUnits(experiments)
    if "converted" not in units.columns:
        raise KeyError("experiments lacks column(s) converted needed here")
    has_rev = "revenue" in units.columns
    has_pre = units.has_values("pre_metric")
    nv = max(len(vids), 1)
    arms, y_var, cup_var = _ab_arms(units, ec, len(eids), vc, nv, has_rev=has_rev, has_pre=has_pre)
    if "start" not in arms.columns:
        arms["start"] = arms["end"] = pd.NaT
    codes = np.asarray(arms.index, dtype="int64")
    if arms_out is not None:
        arms_out.update(codes=codes, n=arms["n"].to_numpy(), conv=arms["conv"].to_numpy())
    arms.index = pd.MultiIndex.from_arrays([eids.take(codes // nv), vids.take(codes % nv)],
                                           names=["experiment_id", "variant"])
    arms = arms.reset_index()
    ctrl = arms.loc[arms["variant"] == "control"].set_index("experiment_id")
    trt = arms.loc[arms["variant"] != "control"].set_index("experiment_id")
    missing = sorted(set(arms["experiment_id"]) - set(ctrl.index))
    if missing:
        raise ValueError(f"experiments: no 'control' variant in {', '.join(map(str, missing))}")
    c = ctrl.reindex(trt.index)
    z = probability.norm_ppf(1 - alpha / 2)
    n1, n0, p1, p0 = trt["n"], c["n"], trt["conv"], c["conv"]
    diff = p1 - p0
    se = np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    pool = (p1 * n1 + p0 * n0) / (n1 + n0)
    zstat = diff / np.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n0))
    out = pd.DataFrame({"experiment_id": trt.index, "variant": trt["variant"].to_numpy(),
                        "start": c["start"].combine(trt["start"], min).to_numpy() if "start" in c else pd.NaT,
                        "end": c["end"].combine(trt["end"], max).to_numpy() if "end" in c else pd.NaT,
                        "n_control": n0.to_numpy(), "n_treatment": n1.to_numpy()})
    sizes = arms.groupby("experiment_id")["n"].agg(list)
    out["srm_p"] = [srm_check(sizes[x]) for x in out["experiment_id"]]  # one per experiment
    out["conv_control"], out["conv_treatment"] = p0.to_numpy(), p1.to_numpy()
    out["diff"] = diff.to_numpy()
    out["diff_low"], out["diff_high"] = (diff - z * se).to_numpy(), (diff + z * se).to_numpy()
    out["lift"] = (diff / p0).to_numpy()
    out["p_value"] = 2 * probability.norm_sf(np.abs(zstat.to_numpy()))
    if has_rev:
        d, lo, hi, p = _welch(trt["rpu"], trt["rpu_var"], n1, c["rpu"], c["rpu_var"], n0, alpha)
        out["rpu_control"], out["rpu_treatment"] = c["rpu"].to_numpy(), trt["rpu"].to_numpy()
        out["rpu_diff"], out["rpu_low"], out["rpu_high"], out["rpu_p"] = d.to_numpy(), lo.to_numpy(), hi.to_numpy(), p
    if has_pre and has_rev:
        d, lo, hi, p = _welch(trt["cup"], trt["cup_var"], n1, c["cup"], c["cup_var"], n0, alpha)
        out["cuped_diff"], out["cuped_low"], out["cuped_high"], out["cuped_p"] = (
            d.to_numpy(), lo.to_numpy(), hi.to_numpy(), p)
        red = 1 - cup_var / y_var
        red.index = eids.take(np.asarray(red.index, dtype="int64"))
        out["variance_reduction"] = red.reindex(out["experiment_id"]).to_numpy()
    planned = planned or {}
    out["planned_per_arm"] = [planned.get(x, sample_size(b, mde_relative, alpha, power, relative=True)
                                          if 0 < b < 1 else np.nan)
                              for x, b in zip(out["experiment_id"], out["conv_control"])]  # one per experiment
    out["significant"] = out["p_value"] < alpha
    small = np.minimum(out["n_control"], out["n_treatment"]) < out["planned_per_arm"]
    srm = out["srm_p"] < srm_p
    out["warning"] = np.select(
        [srm, small],
        ["sample-ratio mismatch: the arms are not the planned split; fix the assignment, do not read",
         "read before the planned size: " + (np.minimum(out["n_control"], out["n_treatment"]) / out["planned_per_arm"])
         .map("{:.0%}".format) + " of it; do not stop on this p-value (peeking)"],
        default="")
    out["verdict"] = np.select([srm, small, out["significant"] & (out["diff"] > 0), out["significant"]],
                               ["invalid (SRM)", "too early", "treatment wins", "treatment loses"],
                               default="no detectable difference")
    return out


@dataclass
class AbResult:
    readout: pd.DataFrame | None
    note: str | None = None
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def view(self) -> pd.DataFrame:
        if self.readout is None:
            return pd.DataFrame({"note": [self.note]})
        r = self.readout
        cols = ["experiment_id", "n_control", "n_treatment", "srm_p", "conv_control", "conv_treatment", "diff",
                "diff_low", "diff_high", "p_value", "planned_per_arm", "verdict"]
        return _pretty(r[[c for c in cols if c in r.columns]], count=("n_control", "n_treatment", "planned_per_arm"),
                       pct=("conv_control", "conv_treatment"), pp=("diff", "diff_low", "diff_high"),
                       pval=("srm_p", "p_value")).set_index("experiment_id")

    @property
    def significant(self) -> int:
        """Experiments with a significant conversion difference (and valid, full size)."""
        if self.readout is None:
            return float("nan")
        return int(self.readout["verdict"].isin(["treatment wins", "treatment loses"]).sum())

    @property
    def warnings(self) -> int:
        return 0 if self.readout is None else int((self.readout["warning"] != "").sum())

    @property
    def revenue_view(self) -> pd.DataFrame:
        if self.readout is None:
            return pd.DataFrame({"note": [self.note]})
        cols = ["experiment_id", "rpu_control", "rpu_treatment", "rpu_diff", "rpu_low", "rpu_high", "rpu_p",
                "cuped_diff", "cuped_low", "cuped_high", "cuped_p", "variance_reduction", "warning"]
        return _pretty(self.readout[[c for c in cols if c in self.readout.columns]],
                       dec=("rpu_control", "rpu_treatment", "rpu_diff", "rpu_low", "rpu_high", "cuped_diff",
                            "cuped_low", "cuped_high"), pval=("rpu_p", "cuped_p"),
                       pct=("variance_reduction",)).set_index("experiment_id")


def ab_report(data, *, record=None) -> AbResult:
    """A/B readout of the experiments assigned in the loaded window (up to the report month's end);
    a note when the table is missing or holds no experiment in the window."""
    cfg = _settings(data)
    if not data.has("experiments"):
        return AbResult(None, _skip(record, "A/B tests", data.missing_note("experiments") or "no experiments table"))
    file = data.table_file("experiments") if hasattr(data, "table_file") else None
    # a prepared table is read one experiment at a time by the readout, and nothing is kept
    units = _ExperimentUnits(file=file) if file is not None else _ExperimentUnits(data["experiments"])
    if units.rows == 0:
        return AbResult(None, _skip(record, "A/B tests", "no experiment was running in the loaded window"))
    if not has_column(data, "experiments", "unit_id"):
        raise KeyError("experiments lacks column(s) unit_id needed here")
    missing = [c for c in ("experiment_id", "variant", "converted") if not has_column(data, "experiments", c)]
    if missing:
        raise KeyError(f"experiments lacks column(s) {', '.join(missing)} needed here")
    r = _ab_readout(units, alpha=cfg["ab_alpha"], power=cfg["ab_power"], mde_relative=cfg["ab_mde_relative"],
                    srm_p=cfg["srm_p"], planned=None, codes=_experiment_codes(data))
    del units
    release_free_memory()  # the units' buffers, freed, go back to the system
    al = r.loc[r["warning"] != ""]
    alerts = pd.DataFrame({"severity": np.where(al["verdict"] == "invalid (SRM)", "high", "low"),
                           "subject": al["experiment_id"], "message": al["warning"]})
    return AbResult(r, None, alerts)


# == 4. Funnel ==========================================================================================
def funnel_table(traffic: pd.DataFrame, orders: pd.DataFrame, *, start, end, by=("channel", "device"),
                 paid_counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Funnel counts and step rates between ``start`` and ``end`` (exclusive) by ``by``.

    Steps (traffic table, unique visitors per day): visitors -> product_views -> add_to_cart ->
    checkouts, then paid orders from ``orders`` (by order date, paid_mask). Step rate = step /
    previous step; overall conversion = paid / visitors. Returns one row per group with the counts,
    ``rate_<step>`` for each step after visitors, and ``conversion``.

    ``paid_counts`` (optional, :func:`paid_order_counts` of the same orders) holds the paid orders
    per day, channel and device: with whole days as bounds the orders are then not read again.
    """
    by = [b for b in by if b in traffic.columns]
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    t = traffic.loc[(traffic["date"] >= start) & (traffic["date"] < end)]
    steps = [s for s in FUNNEL_STEPS[:-1] if s in t.columns]
    counts = t.groupby(by, observed=True)[steps].sum().astype("float64") if by else t[steps].sum().to_frame().T
    whole_days = start == start.normalize() and end == end.normalize()
    if paid_counts is not None and whole_days and all(b in paid_counts.columns for b in by
                                                      if b in orders.columns):
        okeys = [b for b in by if b in orders.columns]
        pc = paid_counts.loc[(paid_counts["date"] >= start) & (paid_counts["date"] < end)]
        if okeys == by and by:
            paid = pc.groupby(by, observed=True)["n"].sum().astype("float64")
            counts["paid_orders"] = paid.reindex(counts.index).fillna(0.0)
        elif not by:
            counts["paid_orders"] = float(pc["n"].sum())
    else:
        okeys = [b for b in by if b in orders.columns]
        # only the grouping columns are filtered: a month of orders with every text column is costly
        o = orders[okeys].loc[paid_mask(orders) & (orders["order_ts"] >= start) & (orders["order_ts"] < end)]
        if okeys == by and by:
            paid = o.groupby(by, observed=True).size().astype("float64")
            counts["paid_orders"] = paid.reindex(counts.index).fillna(0.0)
        elif not by:
            counts["paid_orders"] = float(len(o))
    prev = "visitors"
    for s in steps[1:] + (["paid_orders"] if "paid_orders" in counts.columns else []):
        counts[f"rate_{s}"] = counts[s] / counts[prev].where(counts[prev] > 0)
        prev = s
    if "paid_orders" in counts.columns:
        counts["conversion"] = counts["paid_orders"] / counts["visitors"].where(counts["visitors"] > 0)
    return counts.reset_index() if by else counts.reset_index(drop=True)


def paid_order_counts(orders: pd.DataFrame) -> pd.DataFrame | None:
    """Paid orders (paid_mask) per order day and, where orders have them, channel and device
    (missing values kept as their own group): columns date, channel, device, n; only the groups
    with an order. Grouped on integer codes (day numbers, factorized text). None when order_ts is
    not a plain datetime column."""
    ts = orders["order_ts"]
    if ts.dtype.kind != "M":
        return None
    return _paid_order_counts(ts.to_numpy(), paid_mask(orders).to_numpy(dtype=bool),
                              [(c, *pd.factorize(orders[c])) for c in ("channel", "device") if c in orders.columns])


def _paid_order_counts(stamp: np.ndarray, paid: np.ndarray, codes: list) -> pd.DataFrame:
    """:func:`paid_order_counts` from the orders' stamps (datetime64), paid mask and, for each of
    channel and device the orders have, (name, codes, distinct values) as ``pd.factorize`` gives
    them (in order of first appearance, -1 for a missing value)."""
    keys, n = _paid_keys(stamp, paid, [(code, len(uniq)) for _, code, uniq in codes])
    return _paid_frame(keys, n, [(c, uniq) for c, _, uniq in codes], stamp.dtype)


def _paid_keys(stamp: np.ndarray, paid: np.ndarray, codes: list) -> tuple[np.ndarray, np.ndarray]:
    """The paid orders with a stamp counted per (day, channel, device) key, ascending: key = (day
    number x (channels + 1) + channel code + 1) x (devices + 1) + device code + 1 (code -1, a
    missing value, is 0). ``codes``: (codes, number of distinct values) of each column. Counts of
    parts of the orders add up to the counts of all (see :func:`_add_counts`)."""
    ok = paid & ~np.isnat(stamp)
    if not ok.any():
        return np.zeros(0, dtype="int64"), np.zeros(0, dtype="int64")
    key = stamp[ok].astype("datetime64[D]").view("int64")
    for code, k in codes:  # two columns
        key = key * (k + 1) + (np.asarray(code)[ok].astype("int64") + 1)
    lo = int(key.min())
    n = np.bincount(key - lo)
    at = np.flatnonzero(n)
    return at.astype("int64") + lo, n[at].astype("int64")


def _add_counts(parts: list) -> tuple[np.ndarray, np.ndarray]:
    """(keys, counts) of several :func:`_paid_keys` results added up, keys ascending."""
    if not parts:
        return np.zeros(0, dtype="int64"), np.zeros(0, dtype="int64")
    keys = np.concatenate([k for k, _ in parts])
    found, at = np.unique(keys, return_inverse=True)
    total = np.zeros(len(found), dtype="int64")
    np.add.at(total, at, np.concatenate([n for _, n in parts]))
    return found, total


def _paid_frame(keys: np.ndarray, n: np.ndarray, names: list, dtype) -> pd.DataFrame:
    """The frame of :func:`paid_order_counts` from :func:`_paid_keys`' keys and counts: date (of
    ``dtype``), each column's value (``names``: (column, distinct values) in code order), n."""
    out, rest = {}, keys.copy()
    for c, uniq in names[::-1]:
        code = rest % (len(uniq) + 1) - 1
        rest = rest // (len(uniq) + 1)
        out[c] = pd.Series(uniq.take(np.maximum(code, 0)) if len(uniq) else np.full(len(code), np.nan)).where(code >= 0)
    frame = pd.DataFrame({"date": rest.astype("datetime64[D]").astype(dtype)})
    for c, _ in names:
        frame[c] = out[c].to_numpy() if len(frame) else out[c]
    frame["n"] = n.astype("int64")
    return frame


PAID_COUNT_COLUMNS = ("order_ts", "status", "channel", "device")  #: what paid_order_counts reads


def _appearance_codes(codes: np.ndarray, uniques: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Sorted codes (:func:`~playbook.derived.column_codes`) renumbered in order of first
    appearance, as ``pd.factorize(values)`` (without ``sort``) numbers them: (codes, distinct values).
    The codes keep their (small) integer type: a column of seventy million orders is not copied
    into 64-bit integers."""
    codes = np.asarray(codes)
    first = np.empty(len(uniques), dtype=np.int64)
    for c in range(len(uniques)):  # a few distinct values: where each occurs first
        hit = codes == c
        first[c] = hit.argmax() if hit.any() else -1
    del hit
    if (first < 0).any():  # a listed value that does not occur: number the codes that do
        seen, at = np.unique(codes, return_index=True)
        first, used = at[seen >= 0], seen[seen >= 0]
    else:
        used = np.arange(len(uniques))
    order = np.argsort(first, kind="stable")
    small = codes.dtype.kind == "i" and len(order) < np.iinfo(codes.dtype).max
    rank = np.full(max(len(uniques), int(used.max()) + 1 if len(used) else 0) + 1, -1,
                   dtype=codes.dtype if small else np.intp)
    rank[used[order]] = np.arange(len(order))  # the last slot: a missing value (-1) stays -1
    return (rank[codes] if small else rank[codes.astype(np.intp)]), uniques.take(used[order])


def _paid_orders(data) -> np.ndarray:
    """Whether each order of a prepared orders table is paid (:func:`~playbook.metrics.paid_mask`:
    not cancelled; a missing status counts as paid), from the status codes of the file's
    dictionary: no text value per order is read."""
    if not has_column(data, "orders", "status"):
        return np.ones(data.rows("orders"), dtype=bool)
    codes, values = _column_codes(data, "orders", "status")
    cancelled = [i for i, v in enumerate(values) if v == "cancelled"]
    return codes != cancelled[0] if cancelled else np.ones(len(codes), dtype=bool)


def _prepared_paid_counts(data, stamp: np.ndarray, paid: np.ndarray) -> pd.DataFrame:
    """:func:`paid_order_counts` of a prepared orders table whose ``order_ts`` (``stamp``) and paid
    mask are at hand, with channel and device as dictionary codes of the file (no text per order)."""
    codes = [(c, *_appearance_codes(*_column_codes(data, "orders", c))) for c in ("channel", "device")
             if has_column(data, "orders", c)]
    return _paid_order_counts(stamp, paid, codes)


def _prepared_orders(data) -> bool:
    """Whether the orders are a prepared table not read yet (read by columns, see :func:`_read`)."""
    return hasattr(data, "table_file") and data.table_file("orders") is not None


def _paid_counts(data, *, stamp: np.ndarray | None = None, paid: np.ndarray | None = None) -> pd.DataFrame | None:
    """:func:`paid_order_counts` of the dataset's orders, once per dataset. For a prepared orders
    table, from ``order_ts`` (``stamp`` with the ``paid`` mask when a section has them at hand,
    else read for it) and the dictionary codes of status, channel and device; otherwise from
    the orders' columns."""
    from .derived import per_dataset

    def build(d):
        if not _prepared_orders(d):
            return paid_order_counts(_read(d, "orders", PAID_COUNT_COLUMNS))
        if stamp is not None:
            return _prepared_paid_counts(d, stamp, paid)
        passed = _orders_pass(d, repurchase=False)
        if passed is not None:
            return passed[0]
        ts = _read(d, "orders", ("order_ts",))["order_ts"]
        return _prepared_paid_counts(d, ts.to_numpy(), _paid_orders(d)) if ts.dtype.kind == "M" else None
    return per_dataset(data, "dataops.paid_counts", build, tables=_orders_key(data))


def _funnel_orders(data, paid_counts: pd.DataFrame | None) -> pd.DataFrame:
    """The orders :func:`funnel_table` is given by the chapter's sections: with ``paid_counts``
    (bounds are whole days there) it reads only which columns the orders have, so an empty frame
    with those columns stands in; without them (order_ts not a plain datetime), the columns it
    reads, for this use."""
    if paid_counts is not None:
        return pd.DataFrame(columns=[c for c in PAID_COUNT_COLUMNS if has_column(data, "orders", c)])
    return _read(data, "orders", PAID_COUNT_COLUMNS)


def funnel_leaks(this: pd.DataFrame, previous: pd.DataFrame, *, by=("channel",)) -> pd.DataFrame:
    """Where each group's funnel leaks most and how each step moved against the previous period.

    For each group: the step with the lowest step rate (the biggest leak, share of visitors lost
    there), and the step whose rate fell most against ``previous`` (in points), with the change in
    overall conversion.
    """
    by = list(by)
    rates = [c for c in this.columns if c.startswith("rate_")]
    a = this.set_index(by)[rates + ["conversion", "visitors"]]
    b = previous.set_index(by)[rates + ["conversion"]].reindex(a.index)
    worst = a[rates].idxmin(axis=1).str.removeprefix("rate_")
    delta = a[rates] - b[rates]
    fell = delta.idxmin(axis=1).str.removeprefix("rate_")
    out = pd.DataFrame({"visitors": a["visitors"], "conversion": a["conversion"],
                        "conversion_prev": b["conversion"], "conversion_change_pp": (a["conversion"] - b["conversion"]),
                        "biggest_leak": worst, "leak_step_rate": a[rates].min(axis=1),
                        "step_fell_most": fell, "step_change_pp": delta.min(axis=1)})
    return out.reset_index()


def funnel_gaps(table: pd.DataFrame, shop: pd.DataFrame, *, by=("channel", "device"), top: int = 10) -> pd.DataFrame:
    """Where the funnel leaks most: each group's step rates against the shop's, as paid orders lost.

    For a group g and step s: gap = shop rate(s) - rate_g(s) (points; positive = g leaks more);
    lost orders = visitors of g entering s x gap x g's conversion from s to paid (paid / step s
    count), i.e. the paid orders g would have had with the shop's rate at that one step. Returns the
    ``top`` (group, step) pairs by lost orders: step, rate, shop_rate, gap_pp, lost_orders.
    """
    by = [b for b in by if b in table.columns]
    steps = [s for s in FUNNEL_STEPS if s in table.columns]
    frames = []
    for i in range(1, len(steps)):  # four steps
        s, prev = steps[i], steps[i - 1]
        rate = table[f"rate_{s}"]
        shop_rate = float(shop[f"rate_{s}"].iloc[0])
        downstream = table["paid_orders"] / table[s].where(table[s] > 0)
        f = table[by].copy()
        f["step"] = f"{prev} -> {s}"
        f["entering"] = table[prev]
        f["rate"], f["shop_rate"] = rate, shop_rate
        f["gap_pp"] = shop_rate - rate
        f["lost_orders"] = table[prev] * f["gap_pp"] * downstream.fillna(1.0)
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    return out.nlargest(top, "lost_orders").reset_index(drop=True)


@dataclass
class FunnelResult:
    month: pd.DataFrame | None = None  #: by channel and device
    previous: pd.DataFrame | None = None
    by_channel: pd.DataFrame | None = None
    by_device: pd.DataFrame | None = None
    shop: pd.DataFrame | None = None
    shop_previous: pd.DataFrame | None = None
    leaks: pd.DataFrame | None = None
    gaps: pd.DataFrame | None = None
    note: str | None = None

    def _view(self, frame):
        if frame is None:
            return pd.DataFrame({"note": [self.note]})
        rates = [c for c in frame.columns if c.startswith("rate_") or c == "conversion"]
        return _pretty(frame, pct=rates, count=[s for s in FUNNEL_STEPS if s in frame.columns])

    @property
    def channel_view(self) -> pd.DataFrame:
        return self._view(self.by_channel)

    @property
    def device_view(self) -> pd.DataFrame:
        return self._view(self.by_device)

    @property
    def gap_view(self) -> pd.DataFrame:
        if self.gaps is None:
            return pd.DataFrame({"note": [self.note]})
        return _pretty(self.gaps, pct=("rate", "shop_rate"), pp=("gap_pp",), count=("entering",), dec=("lost_orders",))

    @property
    def leak_view(self) -> pd.DataFrame:
        if self.leaks is None:
            return pd.DataFrame({"note": [self.note]})
        return _pretty(self.leaks, pct=("conversion", "conversion_prev", "leak_step_rate"),
                       pp=("conversion_change_pp", "step_change_pp"), count=("visitors",)).set_index("channel")

    @property
    def worst_change(self) -> float:
        """The largest relative fall of a channel's conversion against the previous month (negative)."""
        if self.leaks is None:
            return float("nan")
        return float((self.leaks["conversion"] / self.leaks["conversion_prev"] - 1).min())


def funnel_report(data, *, record=None) -> FunnelResult:
    """Funnel of the report month against the previous month by channel, by device and by both."""
    if not data.has("traffic"):
        return FunnelResult(note=_skip(record, "Funnel", data.missing_note("traffic") or "no traffic table"))
    t = data["traffic"]
    start, end = _month_bounds(data.month)
    pstart = start - pd.offsets.MonthBegin(1)
    pc = _paid_counts(data)  # paid orders per day, channel and device: the orders are read once
    o = _funnel_orders(data, pc)
    by = tuple(c for c in ("channel", "device") if c in t.columns and c in o.columns)
    res = FunnelResult()
    res.month = funnel_table(t, o, start=start, end=end, by=by, paid_counts=pc)
    res.previous = funnel_table(t, o, start=pstart, end=start, by=by, paid_counts=pc)
    res.by_channel = funnel_table(t, o, start=start, end=end, by=("channel",), paid_counts=pc)
    prev_ch = funnel_table(t, o, start=pstart, end=start, by=("channel",), paid_counts=pc)
    res.shop = funnel_table(t, o, start=start, end=end, by=(), paid_counts=pc)
    res.shop_previous = funnel_table(t, o, start=pstart, end=start, by=(), paid_counts=pc)
    if "device" in by:
        res.by_device = funnel_table(t, o, start=start, end=end, by=("device",), paid_counts=pc)
    res.gaps = funnel_gaps(res.month, res.shop, by=by)
    res.leaks = funnel_leaks(res.by_channel, prev_ch, by=("channel",)).sort_values("conversion_change_pp")
    return res


def plot_funnel(result: FunnelResult, *, ax=None):
    """Bars of the shop's funnel this month and the previous month, each step as a share of
    visitors, with the step rate written on each bar."""
    import matplotlib.pyplot as plt
    from . import charts
    ax = ax if ax is not None else plt.gca()
    if result.shop is None:
        return _note_ax(ax, result.note or "no funnel")
    steps = [s for s in FUNNEL_STEPS if s in result.shop.columns]
    cur = result.shop[steps].iloc[0] / result.shop["visitors"].iloc[0]
    prev = result.shop_previous[steps].iloc[0] / result.shop_previous["visitors"].iloc[0]
    x = np.arange(len(steps))
    ax.bar(x - 0.2, prev, 0.4, color="#bbbbbb", label="previous month")
    ax.bar(x + 0.2, cur, 0.4, color="#4c72b0", label="this month")
    for i, s in enumerate(steps):
        ax.text(x[i] + 0.2, cur[s], f"{cur[s]:.1%}", ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(x, [s.replace("_", " ") for s in steps])
    ax.set_ylabel("share of visitors (log scale)")
    charts.format_pct_axis(ax)
    ax.legend()
    ax.set_title("Funnel 漏斗: share of visitors reaching each step")
    return ax


# == 5. Attribution =====================================================================================
def attribution_paths(touchpoints: pd.DataFrame, orders: pd.DataFrame, *, start, end,
                      lookback_days: int = 30) -> pd.DataFrame:
    """Customer journeys (paths) of a period, one row per touchpoint with ``path_id``, ``step`` and
    ``n_steps``, ``converted`` and the order's ``value``.

    A touchpoint belongs to the first paid order of its customer placed after it within
    ``lookback_days`` (pd.merge_asof, forward). Paths ending in a paid order placed in [start,
    end) convert; touchpoints in the period that no order followed form one non-converting path per
    customer. Required: touchpoints customer_id, ts, channel; orders customer_id, order_ts, paid_amount.
    """
    _require(touchpoints, "touchpoints", ["customer_id", "ts", "channel"])
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    lo = start - lookback_days * DAY
    tp = touchpoints.loc[(touchpoints["ts"] >= lo) & (touchpoints["ts"] < end) & touchpoints["customer_id"].notna(),
                         ["customer_id", "ts", "channel"]].sort_values("ts", kind="stable")
    o = orders.loc[paid_mask(orders) & orders["customer_id"].notna() & (orders["order_ts"] >= lo)
                   & (orders["order_ts"] < end + lookback_days * DAY), ["order_id", "customer_id", "order_ts", "paid_amount"]]
    o = o.sort_values("order_ts", kind="stable")
    m = pd.merge_asof(tp, o.rename(columns={"order_ts": "ots"}), left_on="ts", right_on="ots", by="customer_id",
                      direction="forward", tolerance=pd.Timedelta(days=lookback_days))
    conv = m["order_id"].notna()
    in_period = conv & (m["ots"] >= start) & (m["ots"] < end)
    nonconv = ~conv & (m["ts"] >= start)
    m = m.loc[in_period | nonconv].copy()
    m["converted"] = m["order_id"].notna()
    m["path_id"] = np.where(m["converted"], "o:" + m["order_id"].astype(str), "c:" + m["customer_id"].astype(str))
    m["value"] = m["paid_amount"].fillna(0.0)
    # sort by path and time on integer codes (path ids ranked as text), then number the steps
    path, _ = pd.factorize(m["path_id"], sort=True)
    ts = m["ts"].to_numpy() if m["ts"].dtype.kind == "M" else pd.factorize(m["ts"], sort=True)[0]
    order = np.lexsort((ts, path))  # stable, like sort_values(["path_id", "ts"], kind="stable")
    m = m[["path_id", "customer_id", "ts", "channel", "converted", "value"]].take(order).reset_index(drop=True)
    path = path[order]
    first = np.ones(len(path), dtype=bool)
    first[1:] = path[1:] != path[:-1]
    starts = np.flatnonzero(first)
    at = np.cumsum(first) - 1  # which path (run) each row is in
    m.insert(4, "step", np.arange(len(path), dtype="int64") - starts[at])
    m.insert(5, "n_steps", np.diff(np.r_[starts, len(path)]).astype("int64")[at])
    return m


def rule_based_attribution(paths: pd.DataFrame, *, weights=(0.4, 0.2, 0.4)) -> pd.DataFrame:
    """Conversions and revenue credited to each channel by first touch, last touch, linear and
    position-based (U-shaped) rules, over converting paths (002 part 05, 归因模型).

    Position-based: a one-touch path gives 100% to it; two touches 50/50; longer paths give
    ``weights[0]`` to the first, ``weights[2]`` to the last and ``weights[1]`` spread evenly over
    the middle. Returns one row per channel and model: conversions, revenue.
    """
    p = paths.loc[paths["converted"]]
    n, s = p["n_steps"].to_numpy(), p["step"].to_numpy()
    first = (s == 0).astype(float)
    last = (s == n - 1).astype(float)
    linear = 1.0 / n
    w0, w1, w2 = weights
    mid = np.where(n > 2, w1 / np.maximum(n - 2, 1), 0.0)
    pos = np.select([n == 1, n == 2, s == 0, s == n - 1], [1.0, 0.5, w0, w2], default=mid)
    code, names = pd.factorize(p["channel"], sort=True)
    channel = pd.Categorical.from_codes(code, categories=pd.RangeIndex(len(names)))  # missing channel: left out
    value = p["value"].to_numpy()
    frames = []
    for model, w in (("first_touch", first), ("last_touch", last), ("linear", linear), ("position_based", pos)):
        g = pd.DataFrame({"c": w, "r": w * value}).groupby(channel, observed=True).agg(
            conversions=("c", "sum"), revenue=("r", "sum"))
        g.index = names.take(np.asarray(g.index, dtype="int64")).rename("channel")
        g = g.reset_index()
        g["model"] = model
        frames.append(g)
    return pd.concat(frames, ignore_index=True)


def markov_attribution(paths: pd.DataFrame) -> pd.DataFrame:
    """Data-driven attribution: first-order Markov chain with removal effects, computed exactly.

    States: start, each channel, conversion and null (absorbing). Transition probabilities are the
    observed transition counts over all paths (converting ones end in conversion, the others in
    null). With Q the transient block and R the block into the absorbing states, the fundamental
    matrix N = (I - Q)^-1 gives absorption probabilities B = N R; P(conv) is B[start, conversion].
    Removing channel c sends every transition into c to null; removal effect = 1 -
    P_without_c(conv) / P(conv). Conversions (and revenue) are shared in proportion to the removal
    effects. No simulation: the same paths give the same numbers every run.

    Returns channel, removal_effect, share, conversions, revenue.
    """
    if paths.empty:
        return pd.DataFrame(columns=["channel", "removal_effect", "share", "conversions", "revenue"])
    if paths["channel"].isna().any() or not pd.api.types.is_string_dtype(paths["channel"]):  # channels by name
        channels = sorted(paths["channel"].astype(str).unique())
        st = paths["channel"].astype(str).map({c: i + 1 for i, c in enumerate(channels)}).to_numpy()
    else:  # channels as sorted integer codes
        code, names = pd.factorize(paths["channel"], sort=True)
        channels, st = [str(c) for c in names], code + 1
    k = len(channels)
    START, CONV, NULL = 0, k + 1, k + 2
    s, n = paths["step"].to_numpy(), paths["n_steps"].to_numpy()
    frm = np.where(s == 0, START, np.r_[START, st[:-1]])
    to = st
    ends = s == n - 1
    end_from = st[ends]
    end_to = np.where(paths["converted"].to_numpy()[ends], CONV, NULL)
    frm = np.r_[frm, end_from]
    to = np.r_[to, end_to]
    size = k + 3
    counts = np.zeros((size, size))
    np.add.at(counts, (frm, to), 1.0)
    rows = counts.sum(axis=1, keepdims=True)
    P = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    P[CONV, CONV] = P[NULL, NULL] = 1.0

    def p_conv(P):
        Q = P[:CONV, :CONV]
        R = P[:CONV, CONV:]
        B = np.linalg.solve(np.eye(CONV) - Q, R)
        return B[START, 0]
    base = p_conv(P)
    effects = []
    for c in range(1, k + 1):  # one small linear solve per channel
        Pr = P.copy()
        Pr[:, NULL] += Pr[:, c]
        Pr[:, c] = 0.0
        Pr[c, :] = 0.0
        Pr[c, NULL] = 1.0
        effects.append(1 - p_conv(Pr) / base if base > 0 else 0.0)
    eff = np.array(effects)
    share = eff / eff.sum() if eff.sum() > 0 else np.zeros(k)
    conv = paths.loc[paths["converted"]].drop_duplicates("path_id")
    return pd.DataFrame({"channel": channels, "removal_effect": eff, "share": share,
                         "conversions": share * len(conv), "revenue": share * conv["value"].sum()})


def attribution_table(paths: pd.DataFrame, *, weights=(0.4, 0.2, 0.4)) -> pd.DataFrame:
    """One row per channel, the revenue credited by each model (first_touch, last_touch, linear,
    position_based, markov) and each model's share of conversions; sorted by the Markov revenue."""
    rb = rule_based_attribution(paths, weights=weights)
    mk = markov_attribution(paths).assign(model="markov")
    allm = pd.concat([rb, mk[["channel", "conversions", "revenue", "model"]]], ignore_index=True)
    rev = allm.pivot_table(index="channel", columns="model", values="revenue", aggfunc="sum").fillna(0.0)
    conv = allm.pivot_table(index="channel", columns="model", values="conversions", aggfunc="sum").fillna(0.0)
    order = ["first_touch", "last_touch", "linear", "position_based", "markov"]
    rev = rev.reindex(columns=order, fill_value=0.0)
    share = (conv / conv.sum()).reindex(columns=order, fill_value=0.0).add_prefix("share_")
    out = pd.concat([rev, share], axis=1)
    out["markov_removal_effect"] = mk.set_index("channel")["removal_effect"].reindex(out.index)
    out["last_vs_markov"] = out["share_last_touch"] - out["share_markov"]
    return out.sort_values("markov", ascending=False).reset_index()


@dataclass
class AttributionResult:
    paths: pd.DataFrame | None = None
    table: pd.DataFrame | None = None
    conversions: int = 0
    note: str | None = None

    @property
    def view(self) -> pd.DataFrame:
        if self.table is None:
            return pd.DataFrame({"note": [self.note]})
        t = self.table
        return _pretty(t, money=("first_touch", "last_touch", "linear", "position_based", "markov"),
                       pct=[c for c in t.columns if c.startswith("share_")] + ["markov_removal_effect"],
                       pp=("last_vs_markov",)).set_index("channel")

    @property
    def max_gap(self) -> float:
        """Largest absolute gap between a channel's last-touch and Markov shares."""
        return float("nan") if self.table is None else float(self.table["last_vs_markov"].abs().max())

    @property
    def action_list(self) -> pd.DataFrame:
        return pd.DataFrame() if self.table is None else self.table.round(4)


def attribution_report(data, *, record=None) -> AttributionResult:
    """Attribution of the report month's paid orders to the touchpoints before them."""
    cfg = _settings(data)
    if not data.has("touchpoints") or not has_column(data, "orders", "customer_id"):
        return AttributionResult(note=_skip(record, "Attribution", data.missing_note(
            "touchpoints", columns={"orders": ["customer_id"]}) or "no touchpoints"))
    start, end = _month_bounds(data.month)
    look = cfg["attribution_lookback_days"]
    # only the rows attribution_paths keeps: touchpoints from the lookback before the month to its
    # end, orders to a lookback after it (the same rows, in the same order, as filtering it all)
    tp = read_window(data, "touchpoints", ("customer_id", "ts", "channel"), "ts", start - look * DAY, end)
    orders = read_window(data, "orders", ("order_id", "customer_id", "order_ts", "paid_amount", "status"),
                          "order_ts", start - look * DAY, end + look * DAY)
    paths = attribution_paths(tp, orders, start=start, end=end, lookback_days=look)
    del tp, orders
    release_free_memory()
    n = int(paths.loc[paths["converted"], "path_id"].nunique())
    if n == 0:
        return AttributionResult(paths, None, 0, _skip(record, "Attribution", "no paid order of the month follows a touchpoint"))
    return AttributionResult(paths, attribution_table(paths, weights=tuple(cfg["position_weights"])), n)


def plot_attribution(result: AttributionResult, *, ax=None):
    """Grouped bars: share of conversions credited to each channel by each model."""
    import matplotlib.pyplot as plt
    from . import charts
    ax = ax if ax is not None else plt.gca()
    if result.table is None:
        return _note_ax(ax, result.note or "no attribution")
    t = result.table.set_index("channel")[[c for c in result.table.columns if c.startswith("share_")]]
    t.columns = [c.removeprefix("share_").replace("_", " ") for c in t.columns]
    t.plot.bar(ax=ax, width=0.8, colormap="tab10")
    charts.format_pct_axis(ax)
    ax.set_xlabel("")
    ax.tick_params(axis="x", rotation=0)
    ax.set_title("Share of the month's conversions credited to each channel, by model 归因")
    return ax


# == 6. Review table =======================================================================================
def _period_figures(data, lo, hi) -> pd.DataFrame:
    """GMV = visitors x conversion x AOV per channel and for the shop, between lo and hi."""
    k = data.derived("daily_kpis")
    k = k.loc[(k["date"] >= lo) & (k["date"] < hi)]
    cols = [c for c in ("visitors", "paid_orders", "gmv") if c in k.columns]
    ch = k.groupby("channel")[cols].sum()
    ch.loc["shop"] = ch.sum()
    if "visitors" not in ch.columns:
        ch["visitors"] = np.nan
    ch["conversion"] = ch["paid_orders"] / ch["visitors"].where(ch["visitors"] > 0)
    ch["aov"] = ch["gmv"] / ch["paid_orders"].where(ch["paid_orders"] > 0)
    return ch


def gmv_drivers(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Exact split of each row's GMV change into visitors, conversion and AOV (log decomposition).

    With GMV = V x C x A: ln(G1/G0) = ln(V1/V0) + ln(C1/C0) + ln(A1/A0), and factor f contributes
    (G1 - G0) x ln(f1/f0) / ln(G1/G0); the three contributions add up to G1 - G0 exactly. Both
    frames need gmv, visitors, conversion and aov on the same index. NaN where GMV did not change
    or a factor is missing.
    """
    with np.errstate(all="ignore"):
        lg = np.log(current["gmv"] / previous["gmv"])
        parts = pd.DataFrame({f: np.log(current[f] / previous[f]) for f in ("visitors", "conversion", "aov")})
    dg = current["gmv"] - previous["gmv"]
    return parts.div(lg.where(lg != 0), axis=0).mul(dg, axis=0)


def _other_drivers(data, lo, hi, plo, scopes) -> dict:
    """Short explanations per scope (shop and channels): for conversion, the funnel step whose rate
    moved most; for visitors, the device that added or lost most; for AOV, the list value and the
    discount per paid order; for paid orders, visitors vs conversion (log split)."""
    out: dict[str, pd.Series] = {}
    if not data.has("traffic"):
        return out
    t = data["traffic"]
    pc = _paid_counts(data)
    o = _funnel_orders(data, pc)
    frames = {}
    for name, (a, b) in {"cur": (lo, hi), "prev": (plo, lo)}.items():  # two periods
        ch = funnel_table(t, o, start=a, end=b, by=("channel",), paid_counts=pc).set_index("channel")
        shop = funnel_table(t, o, start=a, end=b, by=(), paid_counts=pc).set_index(pd.Index(["shop"]))
        frames[name] = pd.concat([ch, shop])
    rates = [c for c in frames["cur"].columns if c.startswith("rate_")]
    if rates:
        delta = (frames["cur"][rates] - frames["prev"][rates].reindex(frames["cur"].index))
        step = delta.abs().idxmax(axis=1)
        out["conversion"] = pd.Series([f"step to {st.removeprefix('rate_').replace('_', ' ')} {delta.loc[i, st] * 100:+.1f} pp"
                                       if isinstance(st, str) else "" for i, st in step.items()], index=delta.index)
    if "device" in t.columns:
        def by_device(a, b):
            x = t.loc[(t["date"] >= a) & (t["date"] < b)]
            g = x.groupby(["channel", "device"], observed=True)["visitors"].sum().unstack(fill_value=0)
            g.loc["shop"] = g.sum()
            return g
        d = by_device(lo, hi).subtract(by_device(plo, lo), fill_value=0)
        top = d.abs().idxmax(axis=1)
        out["visitors"] = pd.Series([f"{dev} visitors {d.loc[i, dev]:+,.0f}" for i, dev in top.items()], index=d.index)
    if all(has_column(data, "orders", c) for c in ("gross_amount", "discount_amount", "channel")):
        # the orders of the two periods only (plo .. hi), read for this use
        win = read_window(data, "orders", ("channel", "gross_amount", "discount_amount", "status"), "order_ts",
                           plo, hi)

        def per_order(a, b):
            x = win[["channel", "gross_amount", "discount_amount"]].loc[
                paid_mask(win) & (win["order_ts"] >= a) & (win["order_ts"] < b)]
            g = x.groupby("channel", observed=True)[["gross_amount", "discount_amount"]].mean()
            g.loc["shop"] = x[["gross_amount", "discount_amount"]].mean()
            return g
        g1, g0 = per_order(lo, hi), per_order(plo, lo)
        dg = g1 - g0.reindex(g1.index)
        out["aov"] = ("list value per order " + dg["gross_amount"].map("{:+,.0f}".format) + ", discount per order "
                      + dg["discount_amount"].map("{:+,.0f}".format))
    f0, f1 = frames["prev"].reindex(frames["cur"].index), frames["cur"]
    with np.errstate(all="ignore"):
        lv = np.log(f1["visitors"] / f0["visitors"])
        lc = np.log(f1["conversion"] / f0["conversion"])
    out["paid_orders"] = pd.Series(np.where(lv.abs() >= lc.abs(), "more/fewer visitors", "conversion"),
                                   index=f1.index)
    out["paid_orders"] = "driven by " + out["paid_orders"].str.replace(
        "more/fewer visitors", "visitors").astype(str) + (" (visitors " + (lv.map("{:+.1%}".format)) + ", conversion "
                                                          + lc.map("{:+.1%}".format) + " in log terms)")
    return out


def review_table(data, *, period: str = "month", top: int = 8) -> pd.DataFrame:
    """The figures that moved most (复盘表), with their driver.

    ``period="month"``: the report month against the previous month; ``"week"``: the last full
    week (Mon-Sun) of the report month against the week before. For the shop and each channel,
    GMV, visitors, conversion, AOV and paid orders are compared; GMV's change is split exactly into
    the contributions of visitors, conversion and AOV (log decomposition: ln(G1/G0) = ln(V1/V0) +
    ln(C1/C0) + ln(A1/A0), each share x (G1 - G0)), and the largest names the driver ("why");
    the other figures get a short reason when traffic allows (see :func:`_other_drivers`).
    Rows are ranked by the size of the move (GMV in yuan; the others by their relative change
    weighted by the channel's GMV share) and the ``top`` ups and ``top`` downs are returned.
    """
    start, end = _month_bounds(data.month)
    if period == "week":
        last_day = end - DAY
        hi = last_day - ((last_day.day_of_week + 1) % 7) * DAY + DAY
        lo, plo = hi - 7 * DAY, hi - 14 * DAY
        label = f"week {lo:%m-%d}..{hi - DAY:%m-%d} vs previous"
    else:
        lo, hi, plo = start, end, start - pd.offsets.MonthBegin(1)
        label = f"{data.month} vs {plo:%Y-%m}"
    cur, prev = _period_figures(data, lo, hi), _period_figures(data, plo, lo)
    why_other = _other_drivers(data, lo, hi, plo, cur.index)
    prev = prev.reindex(cur.index)
    contrib = gmv_drivers(cur, prev)
    driver = contrib.abs().idxmax(axis=1, skipna=True) if contrib.notna().any().any() else pd.Series("", index=cur.index)
    weight = cur["gmv"] / cur.loc["shop", "gmv"] if cur.loc["shop", "gmv"] else 1.0
    rows = []
    for metric in ("gmv", "visitors", "conversion", "aov", "paid_orders"):  # five figures
        if cur[metric].isna().all():
            continue
        ch = cur[metric] - prev[metric]
        rel = cur[metric] / prev[metric] - 1
        r = pd.DataFrame({"scope": cur.index, "metric": metric, "this": cur[metric].to_numpy(),
                          "previous": prev[metric].to_numpy(), "change": ch.to_numpy(), "change_pct": rel.to_numpy()})
        if metric == "gmv":
            r["size"] = ch.abs().to_numpy() / max(abs(cur.loc["shop", "gmv"]), 1.0)
            why = [", ".join(f"{f} {contrib.loc[s, f]:+,.0f}" for f in contrib.columns if pd.notna(contrib.loc[s, f]))
                   for s in cur.index]  # a handful of channels
            r["why"] = [f"driven by {driver.get(s, '')}: {w}" if w else "" for s, w in zip(cur.index, why)]
        else:
            r["size"] = (rel.abs() * (weight if isinstance(weight, float) else weight.reindex(cur.index))).to_numpy()
            r["why"] = why_other[metric].reindex(cur.index).fillna("").to_numpy() if metric in why_other else ""
        rows.append(r)
    t = pd.concat(rows, ignore_index=True).dropna(subset=["change"])
    t = t.loc[np.isfinite(t["size"])]
    t["direction"] = np.where(t["change"] >= 0, "up", "down")
    t["period"] = label
    ups = t.loc[t["direction"] == "up"].nlargest(top, "size")
    downs = t.loc[t["direction"] == "down"].nlargest(top, "size")
    out = pd.concat([ups, downs], ignore_index=True)
    return out[["period", "direction", "scope", "metric", "this", "previous", "change", "change_pct", "why"]]


def review_view(table: pd.DataFrame) -> pd.DataFrame:
    """The review table formatted for reading: values by metric (money, counts, shares), changes
    in percent (points for conversion)."""
    out = table.copy()
    money = out["metric"].isin(["gmv", "aov"])
    share = out["metric"] == "conversion"

    def value(v, m):
        if pd.isna(v):
            return ""
        return f"¥{v:,.0f}" if m in ("gmv", "aov") else (f"{v:.2%}" if m == "conversion" else f"{v:,.0f}")
    out["this"] = [value(v, m) for v, m in zip(table["this"], table["metric"])]  # a short table
    out["previous"] = [value(v, m) for v, m in zip(table["previous"], table["metric"])]
    out["change"] = np.where(share, (table["change"] * 100).map("{:+.2f} pp".format),
                             np.where(money, table["change"].map("{:+,.0f}".format), table["change"].map("{:+,.0f}".format)))
    out["change_pct"] = table["change_pct"].map("{:+.1%}".format)
    return out.drop(columns=["period"]).set_index(["direction", "scope", "metric"])


def plot_review(table: pd.DataFrame, *, ax=None):
    """Horizontal bars of the relative change of each listed figure (green up, red down)."""
    import matplotlib.pyplot as plt
    from . import charts
    ax = ax if ax is not None else plt.gca()
    if table.empty:
        return _note_ax(ax, "nothing moved")
    t = table.assign(label=table["scope"] + " · " + table["metric"]).sort_values("change_pct")
    ax.barh(t["label"], t["change_pct"], color=np.where(t["change_pct"] >= 0, "#2e8b57", "#c0392b"))
    charts.format_pct_axis(ax, axis="x")
    ax.axvline(0, color="#555555", lw=0.8)
    ax.set_title("Figures that moved most (relative change) 变化最大的指标")
    return ax


# == exercises =============================================================================================
@exercise("06.month_conversion", "Shop-wide conversion of the report month: paid orders / visitors")
def _ex_month_conversion(data) -> float:
    start, end = _month_bounds(data.month)
    k = data.derived("daily_kpis")
    k = k.loc[(k["date"] >= start) & (k["date"] < end)]
    return k["paid_orders"].sum() / k["visitors"].sum()


@exercise("06.sample_size_3pct", "Units per arm to detect 3.0% -> 3.3% (alpha 0.05, power 0.8)", rel_tol=0.01)
def _ex_sample_size(data) -> float:
    return sample_size(0.03, 0.003)
