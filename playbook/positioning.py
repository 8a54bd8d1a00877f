"""Positioning and goals (平台定位与目标): the business model in numbers, personas and segments, the
GMV tree with an exact split of a change into its factors, and targets with month-end pacing.

Chapter 01 of the playbook; handbook 000 §1 (1.1 核心价值与商业模式, 1.2 用户画像与市场细分, 1.3
SMART 目标), 002 parts 01-02 (目标定位, 销售目标与渠道策略: GMV targets per platform, by quarter and
month, in step with the festival calendar) and 004's goals and market analysis.

The building blocks work on plain DataFrames and are tested on hand-built tables; the
``*_report(data)`` functions run a whole section on a loaded :class:`~playbook.loading.Dataset` and
return a result that carries the section's tables, or a note saying which table is missing, so the
notebook needs no ``if``.

Example::

    data = playbook.load("data/samples", month="2026-10")
    model = positioning.business_report(data)
    model.by_channel               # GMV, net sales, gross margin, share, MoM and YoY per channel
    tree = positioning.tree_report(data)
    tree.bridge_mom                # previous GMV, visitors, conversion, AOV contributions (exact)
    pace = positioning.pacing_report(data, as_of="2026-10-18")
    pace.table                     # projected month end per channel against the plan
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .exercises import exercise
from .derived import per_dataset, positions as _positions
from .loading import read_columns
from .metrics import _refunds, paid_mask

__all__ = [
    "AGE_BANDS", "settings_table", "order_lines", "business_table", "revenue_mix", "age_band",
    "segment_table", "category_preference", "log_mean", "lmdi", "gmv_tree", "gmv_bridge",
    "plan_vs_actual", "month_scorecard", "channel_share_vs_plan", "weekday_index", "daily_shape",
    "pacing", "BusinessResult", "SegmentResult", "TreeResult", "TargetResult", "PacingResult",
    "business_report", "segment_report", "tree_report", "target_report", "pacing_report",
    "plot_revenue_mix", "plot_category_margin", "plot_segments", "plot_preference", "plot_bridge",
    "plot_daily_conversion", "plot_plan_vs_actual", "plot_attainment", "plot_pacing", "channel_targets",
]

DAY = pd.Timedelta(days=1)

#: Age bands (年龄段) used for segments: lower bound inclusive, label.
AGE_BANDS = [(0, "<25"), (25, "25-34"), (35, "35-44"), (45, "45-54"), (55, "55+")]

_FACTOR_LABELS = {"visitors": "visitors\n访客数", "conversion": "conversion\n转化率", "aov": "AOV\n客单价",
                  "paid_orders": "paid orders\n订单数", "channels": "channels opened\nor closed 渠道增减"}


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


def _month_of(ts: pd.Series) -> pd.Series:
    """``YYYY-MM`` of each timestamp (formatted once per distinct month)."""
    m = ts.to_numpy("datetime64[ns]").astype("datetime64[M]")
    uniq, inv = np.unique(m, return_inverse=True)
    labels = np.array([None if np.isnat(u) else str(u)[:7] for u in uniq], dtype=object)
    return pd.Series(labels[inv.reshape(-1)], index=ts.index, dtype="str")


def _shift(month: str, n: int) -> str:
    return str(pd.Period(month, "M") + n)


#: the columns each table is read with: a prepared table's other columns (the orders' hashes,
#: addresses, coupons...; the customers' sign-up and contact details) are never read
COLUMNS = {
    "orders": ("order_id", "customer_id", "order_ts", "paid_amount", "status", "refund_amount", "channel"),
    "order_items": ("order_id", "sku", "qty", "unit_price"),
    "products": ("sku", "category", "unit_cost"),
    "customers": ("customer_id", "persona", "birth_year", "city_tier", "province", "member_tier"),
}
#: of a prepared folder, the columns :func:`_table` keeps (only when the report month is not
#: given); the sections read what they need for themselves and keep integer codes and arrays
#: (:func:`_paid_orders`, :func:`_lines`, :func:`_customers`), not the orders' columns
KEPT = {
    "orders": ("customer_id", "order_ts", "paid_amount", "status", "refund_amount"),
}


def _table(data, name: str) -> pd.DataFrame:
    """``data[name]``, or for a prepared table not read yet only its :data:`KEPT` columns (else its
    :data:`COLUMNS`), read once per dataset (:func:`playbook.loading.read_columns`)."""
    return read_columns(data, name, KEPT.get(name, COLUMNS[name]))


def _prepared(data, name: str) -> bool:
    """Whether table ``name`` of ``data`` is a prepared file not read as a whole."""
    return hasattr(data, "table_file") and data.table_file(name) is not None


def _report_month(data) -> str:
    if getattr(data, "month", None):
        return data.month
    return _table(data, "orders")["order_ts"].max().strftime("%Y-%m")


def _settings(data) -> dict:
    try:
        section = data.settings["positioning"]
    except (KeyError, TypeError):
        section = {}
    cfg = dict(DEFAULTS)
    cfg.update(section.to_dict() if hasattr(section, "to_dict") else dict(section))
    return cfg


#: Defaults used when the settings file has no ``[positioning]`` section (same values as the file).
DEFAULTS = {
    "attainment_min": 1.0, "channel_share_max": 0.5, "plan_share_tolerance": 0.05,
    "segment_months": 12, "min_segment_buyers": 30, "repurchase_target": 0.45, "weekday_weeks": 12,
    "conversion_drop_max": 0.05, "conversion_day_min_ratio": 0.6,
}


def settings_table(data) -> pd.DataFrame:
    """The chapter's thresholds (the ``[positioning]`` settings) as a two-column table."""
    cfg = _settings(data)
    return pd.DataFrame({"setting": list(cfg), "value": [str(v) for v in cfg.values()]})


_ALERT_COLUMNS = ["channel", "severity", "message"]


def _no_alerts() -> pd.DataFrame:
    return pd.DataFrame(columns=_ALERT_COLUMNS)


def _empty(ax, note: str | None):
    """Write a note on an empty Axes (a section whose table is missing)."""
    ax.text(0.5, 0.5, note or "nothing to show", ha="center", va="center", wrap=True, transform=ax.transAxes)
    ax.set_axis_off()
    return ax


def _skip(record, section: str, note: str) -> str:
    if record is not None:
        record.skip(section, note)
    return note


def _ratio(num, den):
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _styled(frame: pd.DataFrame, *, pct: Sequence[str] = (), money: Sequence[str] = (), count: Sequence[str] = (),
            dec2: Sequence[str] = (), signed_pct: Sequence[str] = ()):
    """A table formatted for reading, with Chinese headers under ``lang="zh"``."""
    if frame is None or frame.empty:
        return frame
    from . import i18n

    frame = i18n.localize(frame)
    lab = i18n.column_label
    fmt = {}
    for cols, f in ((pct, "{:.1%}"), (money, "¥{:,.0f}"), (count, "{:,.0f}"), (dec2, "{:,.2f}"),
                    (signed_pct, "{:+.1%}")):
        fmt.update({lab(c): f for c in cols if lab(c) in frame.columns})
    return frame.style.format(fmt, na_rep="–").hide(axis="index")


# ---------------------------------------------------------------------------------------------
# Paid orders and their lines as integer codes (built once per dataset)
# ---------------------------------------------------------------------------------------------

_NO_MONTH = np.iinfo(np.int64).min  #: month code of an order without order_ts (NaT as int64)


def _month_codes(ts: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of datetime64 values (``_NO_MONTH`` for NaT); they sort as the
    ``YYYY-MM`` labels do."""
    return np.asarray(ts).astype("datetime64[M]").astype(np.int64)


def _month_labels(codes: np.ndarray) -> np.ndarray:
    """``YYYY-MM`` of month codes (see :func:`_month_codes`), as an object array."""
    return np.datetime_as_string(np.asarray(codes, dtype=np.int64).astype("datetime64[M]"), unit="M").astype(object)


def _coded(values: pd.Series, missing: str) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of ``values.fillna(missing)`` numbered in the sorted order of the labels (the
    order a groupby on those labels gives), and the labels. The values are factorized once and the
    labels formed on the distinct values only."""
    codes, uniq = pd.factorize(values, use_na_sentinel=False)
    labels = pd.Series(uniq).fillna(missing)
    lab_codes, lab_uniq = pd.factorize(labels, sort=True)  # a missing value and a real `missing` merge here
    return lab_codes[codes], lab_uniq


def _coded_codes(codes: np.ndarray, names: pd.Index, missing: str) -> tuple[np.ndarray, pd.Index]:
    """:func:`_coded` of a column given as codes (-1: missing) into its distinct ``names``: the
    same codes and labels, formed on the few names instead of the rows' text."""
    names = pd.Series(names, dtype=names.dtype).reset_index(drop=True)
    if (codes < 0).any():
        names = pd.concat([names, pd.Series([None], dtype=names.dtype)], ignore_index=True)  # the last: missing
    lab_codes, lab_uniq = pd.factorize(names.fillna(missing), sort=True)
    return lab_codes[codes.astype(np.intp)], lab_uniq  # code -1 takes the last slot: the missing label


def _segment_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """:func:`_coded` for a segment label: ``values.astype("str").fillna("unknown")``."""
    codes, uniq = pd.factorize(values, use_na_sentinel=False)
    labels = pd.Series(uniq).astype("str").fillna("unknown")
    lab_codes, lab_uniq = pd.factorize(labels, sort=True)
    return lab_codes[codes], lab_uniq


def _group_sums(values: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Sum of ``values`` per integer code in ``[0, n)`` (0 for a code without rows), as a groupby
    sum computes it: each group adds its values in row order with pandas' compensated summation,
    so the sums are those of a groupby on the labels the codes stand for. The codes are passed as
    a categorical, so pandas groups on them directly instead of hashing them."""
    key = pd.Categorical.from_codes(codes, categories=pd.RangeIndex(n))
    return pd.Series(values).groupby(key, observed=False).sum().to_numpy()


def _pair_counts(group: np.ndarray, item: np.ndarray, n_groups: int, n_items: int) -> np.ndarray:
    """Number of distinct ``item`` values per ``group`` code (both non-negative integer codes)."""
    if len(group) == 0:
        return np.zeros(n_groups, dtype=np.int64)
    if n_groups * max(n_items, 1) < 2**62:
        key = pd.unique(group.astype(np.int64) * max(n_items, 1) + item)
        return np.bincount(key // max(n_items, 1), minlength=n_groups)
    pairs = pd.DataFrame({"g": group, "i": item}).drop_duplicates()
    return np.bincount(pairs["g"].to_numpy(), minlength=n_groups)


@dataclass
class _Orders:
    """The paid orders of :func:`order_lines` as arrays, with integer codes for the text columns."""

    orders: pd.DataFrame       #: the source orders (text columns are read from here when a frame is made)
    rows: np.ndarray           #: paid order -> its row among ``orders``
    ts: np.ndarray             #: paid order -> order_ts (datetime64)
    month: np.ndarray          #: paid order -> month code (:func:`_month_codes`)
    channel: np.ndarray        #: paid order -> code into ``channels``
    channels: pd.Index         #: channel labels (missing channel: "unknown"; no channel column: "all"), sorted
    gmv: np.ndarray            #: paid order -> paid_amount
    net: np.ndarray            #: paid order -> paid_amount - refund


def _build_orders(orders: pd.DataFrame, *, channels: tuple | None = None, ids: bool = True) -> _Orders:
    """:class:`_Orders` of ``orders``: the channels are factorized once, and only the paid rows'
    numbers are taken (no text column is copied). ``channels``: the rows' channel codes and
    sorted names (:func:`playbook.derived.column_codes` of a prepared file), so that ``orders``
    needs no channel column; ``ids``: whether ``orders`` must carry the order ids (the lines are
    joined to them; a prepared file's are read for the join, see :func:`_lines`)."""
    _require(orders, "orders", ["order_id", "order_ts", "paid_amount"] if ids else ["order_ts", "paid_amount"])
    narrow = orders[[c for c in ("paid_amount", "status", "refund_amount") if c in orders.columns]]
    rows = np.flatnonzero(paid_mask(narrow).to_numpy(dtype=bool))
    ts = orders["order_ts"].to_numpy()[rows]
    if channels is not None:
        codes, channels = _coded_codes(*channels, "unknown")
        channel = codes[rows]
    elif "channel" in orders.columns:
        codes, channels = _coded(orders["channel"], "unknown")
        channel = codes[rows]
    else:
        channel, channels = np.zeros(len(rows), dtype=np.intp), pd.Index(["all"], dtype="str")
    return _Orders(orders, rows, ts, _month_codes(ts), channel, channels,
                   gmv=narrow["paid_amount"].astype("float64").to_numpy()[rows],
                   net=(narrow["paid_amount"] - _refunds(narrow)).astype("float64").to_numpy()[rows])


def _paid_orders(data) -> _Orders:
    """:func:`_build_orders` of the dataset's orders, computed once per dataset. Of a prepared
    folder, the orders' columns are read for this only (not kept, nor referenced by the result:
    ``orders`` is None), the channels as codes."""
    from .derived import column_codes, compact_codes
    from .loading import has_column

    def build(d):
        if not _prepared(d, "orders"):
            return _build_orders(_table(d, "orders"))
        if not has_column(d, "orders", "order_id"):
            raise KeyError("table orders lacks column(s) order_id")
        codes = column_codes(d, "orders", "channel") if has_column(d, "orders", "channel") else None
        orders = read_columns(d, "orders", ("order_ts", "paid_amount", "status", "refund_amount"), keep=False)
        head = _build_orders(orders, channels=codes, ids=False)
        del orders
        _release()
        return replace(head, orders=None, rows=compact_codes(head.rows, d.rows("orders")),  # 4 bytes per order
                       channel=compact_codes(head.channel, len(head.channels)))  # a byte per order
    return per_dataset(data, "positioning.orders", build, tables=("orders",))


def _release() -> None:
    """Hand the memory a large read freed back to the system (:func:`playbook.loading.release_free_memory`)."""
    from .loading import release_free_memory

    release_free_memory()


def _sorted_id_positions(values, keys, *, missing: bool = False):
    """:func:`playbook.derived.positions` of ``values`` among ``keys`` when the keys are ids of one
    width, without gaps, that pack into 64-bit integers (:func:`playbook.derived.id_integers`) and
    strictly increase (a prepared file of orders or customers stored by id): a binary search of
    the sorted integers, or a table indexed by the integer when they are dense, so no hash table
    of tens of millions of ids is built (only for values scattered over sparse ids, whose binary
    search would miss the cache at every step). None when this does not apply (the caller then
    looks the ids up by hash), or when the two are of different types. ``values`` and ``keys`` are Series, or functions that read them: a text column read so
    is let go as soon as its bytes are taken, so the two columns' text is never held at once.
    With ``missing``, (positions, whether each value is missing) or None."""
    from .derived import fixed_width_bytes, id_integers

    def id_bytes(column):
        column = column() if callable(column) else column
        return fixed_width_bytes(column), column.dtype

    k, k_type = id_bytes(keys)
    if k is None or k[1] is not None:
        return None
    v, v_type = id_bytes(values)
    if v is None or v[0].shape[1] != k[0].shape[1] or v_type != k_type:
        return None
    ints = id_integers(k[0], v[0])
    present = v[1]
    del k, v
    if ints is None:
        return None
    key, val = ints
    del ints
    if len(key) > 1 and not (key[1:] > key[:-1]).all():
        return None
    if not len(key):
        at = np.full(len(val), -1, dtype=np.intp)
    elif int(key[-1]) - int(key[0]) < 4 * len(key) + 4096:  # dense ids: a table indexed by the id
        at = _dense_positions(key, val)
    elif len(val) < 2 or (val[1:] >= val[:-1]).all():  # values in the keys' order: a cache-friendly binary search
        at = np.searchsorted(key, val).astype(np.intp, copy=False)
        np.minimum(at, len(key) - 1, out=at)
        at[key[at] != val] = -1
    else:  # scattered values over sparse ids: a hash lookup of the integers is faster
        at = pd.Index(key).get_indexer(val).astype(np.intp, copy=False)
    del key, val
    if present is not None:  # missing values: -1
        full = np.full(len(present), -1, dtype=np.intp)
        full[present] = at
        at = full
    if missing:
        return at, (np.zeros(len(at), dtype=bool) if present is None else ~present)
    return at


#: values looked up at a time by :func:`_dense_positions` (bounds its temporary arrays)
_BLOCK = 1 << 23


def _dense_positions(key: np.ndarray, val: np.ndarray) -> np.ndarray:
    """Position of each of ``val`` among the strictly increasing ``key`` (64-bit integers spanning
    a range not much longer than their number), -1 where absent: through a table of the range,
    one slot per integer, so each value is found by one read (the keys' order of the values does
    not matter, unlike a binary search's)."""
    first, span = key[0], int(key[-1]) - int(key[0]) + 1
    dtype = np.int32 if len(key) < np.iinfo(np.int32).max else np.intp
    table = np.full(span + 1, -1, dtype=dtype)  # the last slot: outside the range
    table[(key - first).astype(np.intp)] = np.arange(len(key), dtype=dtype)
    at = np.empty(len(val), dtype=np.intp)
    for s in range(0, len(val), _BLOCK):
        off = val[s:s + _BLOCK] - first  # a value below the first key wraps around to a huge offset
        np.minimum(off, np.uint64(span), out=off)
        at[s:s + _BLOCK] = table[off.astype(np.intp)]
    return at


@dataclass
class _Lines:
    """What :func:`order_lines` computes, kept as arrays with integer codes for the text columns:
    the form in which the chapter holds the lines of all paid orders once per dataset, and groups
    and cuts them without touching text. :func:`_lines_frame` turns it into the public frame."""

    head: _Orders              #: the paid orders
    line_order: np.ndarray     #: line -> its paid order
    line_key: np.ndarray       #: line -> its order key (one per order id; -1 for a missing id)
    category: np.ndarray       #: line -> code into ``categories``
    categories: pd.Index       #: category labels, sorted
    gmv: np.ndarray
    net_sales: np.ndarray
    cogs: np.ndarray
    items: pd.DataFrame | None = None      #: the source order_items (None: one line per order)
    item_rows: np.ndarray | None = None    #: line -> its row among ``items``
    order_ids: pd.Series | None = None     #: line -> order_id, when the lines came from a merge
    sourced: bool = True                   #: False: the source tables were let go (no frame can be made)


def _build_lines(orders: pd.DataFrame | _Orders, items: pd.DataFrame | None = None,
                 products: pd.DataFrame | None = None, *, skus: tuple | None = None,
                 join: tuple | None = None) -> _Lines:
    """The arrays behind :func:`order_lines` (see there for the definitions) of ``orders`` (or of
    their :class:`_Orders`). Text is read once: categories are factorized, and the lines find
    their orders and products by position (an Arrow hash lookup of the ids). ``skus``: the
    lines' sku codes and distinct skus (:func:`playbook.derived.column_codes`), so the lines need
    no sku column; ``join``: :func:`_join_orders` of the lines, made already (the lines then need
    no order_id column, and the ids' text can go before the lines' arrays are built)."""
    head = orders if isinstance(orders, _Orders) else _build_orders(orders)
    rows, order_gmv, order_net = head.rows, head.gmv, head.net
    if items is None:
        every = np.arange(len(rows))
        return _Lines(head, line_order=every, line_key=every, category=np.zeros(len(rows), dtype=np.intp),
                      categories=pd.Index(["all"], dtype="str"), gmv=order_gmv, net_sales=order_net,
                      cogs=np.full(len(rows), np.nan))
    _require(items, "order_items", (["order_id"] if join is None else []) + ["qty", "unit_price"]
             + ([] if skus is not None else ["sku"]))
    item_rows, line_order, order_ids = _join_orders(head.orders, rows, items) if join is None else join
    del join
    every_item = order_ids is None and len(item_rows) == len(items)  # no line dropped: no need to take

    def of_lines(a: np.ndarray) -> np.ndarray:
        return a if every_item else a[item_rows]

    # the arrays are large (one value per line): built in place where the values stay the same
    qty = of_lines(items["qty"].astype("float64").to_numpy())
    value = qty * of_lines(items["unit_price"].to_numpy(dtype="float64"))
    if order_ids is None:  # one order per key: group on the paid order's position
        line_key = line_order
        total = _group_sums(value, line_order, len(rows))[line_order]
        share = 1.0 / np.bincount(line_order, minlength=len(rows))[line_order]
    else:  # ids repeat: the lines of one order id share its value, as pandas' merge joined them
        line_key = pd.factorize(order_ids)[0]
        grouped = pd.Series(value).groupby(order_ids)
        total = grouped.transform("sum").to_numpy()
        share = 1.0 / grouped.transform("size").to_numpy()
    np.divide(value, total, out=share, where=total > 0)  # by line value; equal parts when the order's value is 0
    del value, total
    gmv, net = order_gmv[line_order], order_net[line_order]
    kept = _ratio(net, gmv)
    kept[np.isnan(kept)] = 1.0
    cogs = np.full(len(line_order), np.nan)
    if products is not None and "category" in products.columns:
        prod = products.drop_duplicates("sku")
        if skus is None:
            at = of_lines(_positions(items["sku"], prod["sku"]))
        else:  # each distinct sku looked up once
            codes, names = skus
            at = of_lines(np.append(_positions(names, prod["sku"]), -1)[codes])
        missing = at < 0
        at[missing] = 0
        names = prod["category"].fillna("unknown")
        codes, categories = pd.factorize(pd.concat([names, pd.Series(["unknown"], dtype=names.dtype)],
                                                   ignore_index=True), sort=True)
        if len(prod):
            category = codes[:-1][at]
            category[missing] = codes[-1]
        else:
            category = np.full(len(line_order), codes[-1])
        if "unit_cost" in prod.columns and len(prod):
            cogs = prod["unit_cost"].to_numpy(dtype="float64")[at]
            cogs[missing] = np.nan
            np.multiply(qty, cogs, out=cogs)
            np.multiply(cogs, kept, out=cogs)
    else:
        category, categories = np.zeros(len(line_order), dtype=np.intp), pd.Index(["unknown"], dtype="str")
    del kept, qty
    gmv *= share
    net *= share
    return _Lines(head, line_order=line_order, line_key=line_key, category=category, categories=categories,
                  gmv=gmv, net_sales=net, cogs=cogs, items=items, item_rows=item_rows, order_ids=order_ids)


def _join_orders(orders: pd.DataFrame, rows: np.ndarray, items: pd.DataFrame
                 ) -> tuple[np.ndarray, np.ndarray, pd.Series | None]:
    """The inner join of order_items with the paid orders (``rows`` of ``orders``) on order_id:
    per line, its row among the items and its paid order, and (only when the ids repeat or are
    missing, or the two id columns differ in type) the line's order_id. Unique ids are looked up by
    position, keeping the items' order; otherwise pandas' merge decides, as it always did."""
    ids = orders["order_id"]
    if ids.dtype == items["order_id"].dtype:
        at = None
        if not ids.hasnans:  # all orders' ids: no text of the paid ones is copied
            try:  # by aligned runs when lines are stored order by order; repeated ids raise (no hash table of
                # millions of ids is built to check them first)
                at = _positions(items["order_id"], pd.Index(ids))
            except pd.errors.InvalidIndexError:
                at = None
        if at is not None:
            pos = np.full(len(ids), -1, dtype=np.intp)  # orders row -> paid order
            pos[rows] = np.arange(len(rows))
            pos = pos[at]
            pos[at < 0] = -1
        else:
            keys = pd.Index(ids.take(rows))
            pos = _positions(items["order_id"], keys) if not keys.hasnans and keys.is_unique else None
        if pos is not None:
            item_rows = np.flatnonzero(pos >= 0)
            return item_rows, (pos if len(item_rows) == len(pos) else pos[item_rows]), None
    left = pd.DataFrame({"order_id": items["order_id"].reset_index(drop=True), "_item": np.arange(len(items))})
    right = pd.DataFrame({"order_id": ids.take(rows).reset_index(drop=True), "_paid": np.arange(len(rows))})
    lines = left.merge(right, on="order_id", how="inner")
    return lines["_item"].to_numpy(), lines["_paid"].to_numpy(), lines["order_id"]


def _lines_frame(lines: _Lines, which: np.ndarray | None = None) -> pd.DataFrame:
    """The :func:`order_lines` frame of ``lines`` (of the lines at positions ``which``, all when
    None): the text columns are read from the source tables for those lines only."""
    if not lines.sourced:
        raise ValueError("these lines were computed without keeping their source tables: build them with "
                         "_build_lines from the tables to make a frame")
    which = np.arange(len(lines.line_order)) if which is None else np.asarray(which)
    head = lines.head
    paid = lines.line_order[which]
    source = head.rows[paid]
    if lines.order_ids is not None:
        order_id = lines.order_ids.take(which).reset_index(drop=True)
    elif lines.items is not None:
        order_id = lines.items["order_id"].take(lines.item_rows[which]).reset_index(drop=True)
    else:
        order_id = head.orders["order_id"].take(source).reset_index(drop=True)
    if "customer_id" in head.orders.columns:
        customer = head.orders["customer_id"].take(source).reset_index(drop=True)
    else:
        customer = pd.Series(pd.NA, index=range(len(which)), dtype="str")
    month = head.month[paid]
    uniq, inv = np.unique(month, return_inverse=True)
    labels = np.where(uniq == _NO_MONTH, None, _month_labels(np.where(uniq == _NO_MONTH, 0, uniq)))
    out = pd.DataFrame({
        "order_id": order_id, "customer_id": customer,
        "channel": pd.Series(head.channels.take(head.channel[paid])),
        "month": pd.Series(labels[inv.reshape(-1)], dtype="str"),
        "category": pd.Series(lines.categories.take(lines.category[which])),
        "gmv": lines.gmv[which], "net_sales": lines.net_sales[which], "cogs": lines.cogs[which],
    })
    if lines.items is None:  # one line per order: the orders' own index, as the paid orders had it
        out.index = head.orders.index.take(source)
    return out


#: months of lines a prepared folder's lines keep, the report month's included: the channel mix
#: shows thirteen months (the last of them the same month a year ago), the segments twelve
LINE_MONTHS = 13


def _lines(data, with_items: bool) -> _Lines:
    """:func:`_build_lines` of all the dataset's orders (with order_items and products when
    ``with_items``), computed once per dataset. Of a prepared folder with a report month, only
    the lines of orders placed in its last :data:`LINE_MONTHS` months (the report month's
    included) are kept: every section reads those months only."""
    from .derived import column_codes, compact_codes
    from .loading import has_column, read_rows

    def build(d):
        head = _paid_orders(d)
        if not _prepared(d, "orders"):  # the orders in memory, with their ids
            return _build_lines(head, _table(d, "order_items") if with_items else None,
                                _table(d, "products") if with_items else None)
        if not with_items:
            return replace(_build_lines(head), sourced=False)  # the orders' ids were not kept
        # a prepared folder: the order ids of the orders and of the lines are read for this
        # once-per-dataset join only (not kept), the skus as codes; the lines keep no reference to them
        skus = (column_codes(d, "order_items", "sku")
                if _prepared(d, "order_items") and has_column(d, "order_items", "sku") else None)
        if not has_column(d, "order_items", "order_id"):
            _require(read_columns(d, "order_items", ["order_id"], keep=False), "order_items", ["order_id"])
        at = _sorted_id_positions(lambda: read_columns(d, "order_items", ["order_id"], keep=False)["order_id"],
                                  lambda: read_columns(d, "orders", ["order_id"], keep=False)["order_id"])
        if at is None:
            ids = read_columns(d, "orders", ["order_id"], keep=False)
            items = read_columns(d, "order_items", ["order_id"], keep=False)
            join = _join_orders(ids, head.rows, items)  # the ids' text goes before the lines' arrays are made
            del ids, items
        else:  # the orders stored by id: the same join as _join_orders' lookup of unique ids
            pos = np.full(d.rows("orders"), -1, dtype=np.intp)  # orders row -> paid order
            pos[head.rows] = np.arange(len(head.rows))
            pos = pos[at]
            pos[at < 0] = -1
            del at
            item_rows = np.flatnonzero(pos >= 0)
            join = (item_rows, pos[item_rows], None)
            del pos
        _release()
        item_rows, line_order, order_ids = join
        del join
        if order_ids is None and getattr(d, "month", None):  # the lines of the months shown only
            last = _month_codes(np.array([d.month], dtype="datetime64[M]"))[0]
            month = head.month[line_order]
            shown = (month > last - LINE_MONTHS) & (month <= last)
            del month
            item_rows, line_order = item_rows[shown], line_order[shown]
            del shown
        cols = [c for c in COLUMNS["order_items"] if c not in ("order_id", "sku")] + (["sku"] if skus is None else [])
        if order_ids is None and _prepared(d, "order_items"):  # the kept lines' rows only
            items = read_rows(d, "order_items", [c for c in cols if has_column(d, "order_items", c)], item_rows)
            codes = None if skus is None else (skus[0][item_rows], skus[1])
            join = (np.arange(len(item_rows)), line_order, None)
        else:
            items = read_columns(d, "order_items", cols, keep=False)
            codes, join = skus, (item_rows, line_order, order_ids)
        del item_rows, line_order, order_ids
        lines = _build_lines(head, items, _table(d, "products"), skus=codes, join=join)
        del items, join, codes
        _release()
        line_order = compact_codes(lines.line_order, len(head.rows))  # 4 bytes per line
        line_key = line_order if lines.line_key is lines.line_order else lines.line_key
        return replace(lines, items=None, item_rows=None, order_ids=None, sourced=False, line_order=line_order,
                       line_key=line_key, category=compact_codes(lines.category, len(lines.categories)))  # a byte per line
    return per_dataset(data, f"positioning.lines:{with_items}", build, tables=("orders", "order_items", "products"))


def _in_period(lines: _Lines, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    """Positions of the lines whose order was placed in ``[start, end)``."""
    ts = lines.head.ts
    placed = (ts >= np.datetime64(start)) & (ts < np.datetime64(end))
    return np.flatnonzero(placed[lines.line_order])


@dataclass
class _Customers:
    """The customers with one row per customer_id (the first), and each paid order's customer."""

    frame: pd.DataFrame | None  #: customers, one row per customer_id (None: a prepared file, see ``rows``)
    of_paid: np.ndarray         #: paid order (of :func:`_paid_orders`) -> customer row (-1: no customer_id, or not in customers)
    missing: np.ndarray         #: paid order -> whether its customer_id is missing
    n: int = 0                  #: customers (rows, one per customer_id)
    rows: np.ndarray | None = None  #: of a prepared file: the rows of its customers kept (None: all)

    def column(self, data, name: str) -> pd.Series | None:
        """Column ``name`` of the customers (one row per customer_id), None when they lack it;
        of a prepared file read for this use (not kept)."""
        if self.frame is not None:
            return self.frame[name] if name in self.frame.columns else None
        from .loading import has_column

        if not has_column(data, "customers", name):
            return None
        values = read_columns(data, "customers", [name], keep=False)[name]
        return values if self.rows is None else values.take(self.rows).reset_index(drop=True)


def _customers(data) -> _Customers:
    """:class:`_Customers` of the dataset, computed once (one lookup of every order's customer_id
    among the customers). Of a prepared folder, the ids are read for this lookup only, and the
    customers' columns are read by each use (:meth:`_Customers.column`)."""
    from .derived import compact_codes

    def build(d):
        head = _paid_orders(d)
        if _prepared(d, "customers") and _prepared(d, "orders"):
            return _prepared_customers(d, head)
        customers = _table(d, "customers")
        orders = _table(d, "orders")
        of_order = None
        if "customer_id" in orders.columns:
            try:  # repeated customer ids raise: the uniqueness is not checked with a hash table first
                of_order = _positions(orders["customer_id"], pd.Index(customers["customer_id"]))
            except pd.errors.InvalidIndexError:
                of_order = None
        if of_order is None and not customers["customer_id"].is_unique:
            keep = ~customers["customer_id"].duplicated().to_numpy()
            customers = customers.loc[keep].reset_index(drop=True)
        if "customer_id" not in orders.columns:
            none = np.full(len(head.rows), -1, dtype=np.intp)
            return _Customers(customers, none, np.ones(len(head.rows), dtype=bool), len(customers))
        if of_order is None:
            of_order = _positions(orders["customer_id"], pd.Index(customers["customer_id"]))
        missing = orders["customer_id"].isna().to_numpy()
        of_order[missing] = -1  # a missing id is nobody, not a customer without id
        return _Customers(customers, compact_codes(of_order[head.rows], len(customers)), missing[head.rows],
                          len(customers))
    return per_dataset(data, "positioning.customers", build, tables=("orders", "customers"))


def _prepared_customers(d, head: _Orders) -> _Customers:
    """:class:`_Customers` of a prepared folder: the customer ids of the orders and of the
    customers are read for the lookup only (by binary search when the customers are stored by
    id, :func:`_sorted_id_positions`), and only the paid orders' customer rows are kept."""
    from .derived import compact_codes
    from .loading import has_column

    if not has_column(d, "customers", "customer_id"):
        _require(read_columns(d, "customers", ["customer_id"], keep=False), "customers", ["customer_id"])
    n, rows = d.rows("customers"), None
    if not has_column(d, "orders", "customer_id"):
        none = np.full(len(head.rows), -1, dtype=np.intp)
        return _Customers(None, none, np.ones(len(head.rows), dtype=bool), n)
    found = _sorted_id_positions(lambda: read_columns(d, "orders", ["customer_id"], keep=False)["customer_id"],
                                 lambda: read_columns(d, "customers", ["customer_id"], keep=False)["customer_id"],
                                 missing=True)
    if found is not None:  # the customers stored by id
        of_order, missing = found
        del found
        missing = missing[head.rows]
    else:
        orders = read_columns(d, "orders", ["customer_id"], keep=False)["customer_id"]
        ids = read_columns(d, "customers", ["customer_id"], keep=False)["customer_id"]
        of_order = None
        try:  # repeated customer ids raise: the uniqueness is not checked with a hash table first
            of_order = _positions(orders, pd.Index(ids))
        except pd.errors.InvalidIndexError:
            pass
        if of_order is None and not ids.is_unique:
            rows = np.flatnonzero(~ids.duplicated().to_numpy())
            ids = ids.take(rows).reset_index(drop=True)
            n = len(ids)
        if of_order is None:
            of_order = _positions(orders, pd.Index(ids))
        missing = orders.isna().to_numpy()[head.rows]
        del ids, orders
    of_paid = of_order[head.rows]
    del of_order
    of_paid[missing] = -1  # a missing id is nobody, not a customer without id
    _release()
    return _Customers(None, compact_codes(of_paid, n), missing, n, rows)


def _order_customers(data, head: _Orders) -> np.ndarray | None:
    """An integer code of each paid order's customer_id (-1: missing), equal for equal ids: the
    customer's row in customers when every id is found there, else a factorization of the ids.
    None when orders carry no customer_id."""
    from .loading import has_column

    if not has_column(data, "orders", "customer_id"):
        return None
    if data.has("customers") and has_column(data, "customers", "customer_id"):
        known = _customers(data)
        if not ((known.of_paid < 0) & ~known.missing).any():
            return known.of_paid
    ids = read_columns(data, "orders", ["customer_id"], keep=False)["customer_id"]
    return pd.factorize(ids)[0][head.rows]


# ---------------------------------------------------------------------------------------------
# 1. Business model in numbers
# ---------------------------------------------------------------------------------------------

def order_lines(orders: pd.DataFrame, items: pd.DataFrame | None = None,
                products: pd.DataFrame | None = None) -> pd.DataFrame:
    """Paid orders spread over their lines: GMV, net sales and cost of goods per line.

    Each paid order's ``paid_amount`` (goods after every discount, plus shipping) and its net sales
    (after refunds) are spread over its lines in proportion to the line value ``qty x unit_price``,
    so that category figures add up to the shop's GMV. The cost of goods is ``qty x unit_cost``,
    scaled by the share of the order that was kept (net / GMV: refunded goods come back), so that
    ``gross_profit = net_sales - cogs`` and ``gross_margin = 1 - cogs_sold / gmv``.
    Without ``order_items`` the frame has one row per order (category ``"all"``).

    Required columns: orders.order_id, order_ts, paid_amount (status, refund_amount, channel,
    customer_id used when present); order_items.order_id, sku, qty, unit_price; products.sku,
    category (unit_cost for the cost of goods).

    Returns
    -------
    DataFrame
        order_id, customer_id, channel, month, category, gmv, net_sales, cogs (NaN where no
        unit cost is known).

    Examples
    --------
    >>> lines = order_lines(data.orders, data.order_items, data.products)   # doctest: +SKIP
    """
    return _lines_frame(_build_lines(orders, items, products))


def business_table(lines: pd.DataFrame, month: str, *, by: str = "channel") -> pd.DataFrame:
    """GMV, net sales and gross margin of ``month`` per ``by``, with the share of GMV (the revenue
    mix, 收入结构) and the change against the previous month (环比) and the same month last year (同比).

    Formula: gross_profit = net_sales - cost of goods kept; gross_margin = gross_profit / net_sales
    (NaN where a group's unit costs are missing); share = group GMV / month GMV; mom = GMV / GMV of
    the previous month - 1; yoy likewise against the month twelve earlier. Handbook 000 §1.1.

    Parameters
    ----------
    lines : :func:`order_lines` output (columns month, ``by``, gmv, net_sales, cogs).
    month : report month ``YYYY-MM``.
    by : ``"channel"`` or ``"category"``.

    Returns
    -------
    DataFrame
        by, gmv, share, net_sales, gross_profit, gross_margin, gmv_prev, mom, gmv_ly, yoy, sorted by
        GMV, with a last row ``"total"``.
    """
    _require(lines, "order lines", ["month", by, "gmv", "net_sales", "cogs"])
    months = [month, _shift(month, -1), _shift(month, -12)]
    sub = lines.loc[lines["month"].isin(months)]
    sub = sub.assign(cost_known=sub["cogs"].notna())
    g = (sub.groupby(["month", by], observed=True)
         .agg(gmv=("gmv", "sum"), net_sales=("net_sales", "sum"), cogs=("cogs", "sum"),
              known=("cost_known", "all")).reset_index())
    return _business_from_sums(g, month, by)


def _monthly_sums(lines: _Lines, by: str) -> pd.DataFrame:
    """What :func:`business_table` sums per month and ``by`` (``"channel"`` or ``"category"``),
    over every month of ``lines``: month, by, gmv, net_sales, cogs, known (every line's unit cost
    known), sorted by month and ``by``. Grouped on one integer code (month x label), so each
    group adds its lines in the same order as a groupby of the text columns does."""
    month = lines.head.month[lines.line_order]
    if by == "channel":
        code, labels = lines.head.channel[lines.line_order], lines.head.channels
    else:
        code, labels = lines.category, lines.categories
    gmv, net, cogs = lines.gmv, lines.net_sales, lines.cogs
    dated = month != _NO_MONTH
    if not dated.all():
        gmv, net, cogs, month, code = gmv[dated], net[dated], cogs[dated], month[dated], code[dated]
    if not len(month):
        return pd.DataFrame({"month": pd.Series(dtype="str"), by: pd.Series(dtype=labels.dtype), "gmv": [], "net_sales": [],
                             "cogs": [], "known": pd.Series(dtype=bool)})
    first = int(month.min())
    n = (int(month.max()) - first + 1) * len(labels)
    key = (month - first) * len(labels) + code
    rows = np.bincount(key, minlength=n)
    g = pd.DataFrame({"gmv": _group_sums(gmv, key, n), "net_sales": _group_sums(net, key, n),
                      "cogs": _group_sums(cogs, key, n),
                      "known": np.bincount(key[np.isnan(cogs)], minlength=n) == 0}).loc[rows > 0]
    key = g.index.to_numpy()
    g.insert(0, "month", pd.array(_month_labels(key // len(labels) + first), dtype="str"))
    g.insert(1, by, labels.take(key % len(labels)))
    return g.reset_index(drop=True)


def _business_from_sums(g: pd.DataFrame, month: str, by: str) -> pd.DataFrame:
    """:func:`business_table` from the sums per month and ``by`` (month, by, gmv, net_sales, cogs,
    known) of any months including the three it compares."""
    months = [month, _shift(month, -1), _shift(month, -12)]
    g = g.loc[g["month"].isin(months)]
    wide = g.pivot(index=by, columns="month", values="gmv").reindex(columns=months)
    this = g.loc[g["month"] == month].set_index(by)
    out = pd.DataFrame(index=wide.index.union(this.index))
    out["gmv"] = this["gmv"].reindex(out.index).fillna(0.0)
    out["net_sales"] = this["net_sales"].reindex(out.index).fillna(0.0)
    cogs = this["cogs"].reindex(out.index).where(this["known"].reindex(out.index).fillna(False).astype(bool))
    out["gross_profit"] = out["net_sales"] - cogs
    out["gmv_prev"] = wide[months[1]].reindex(out.index)
    out["gmv_ly"] = wide[months[2]].reindex(out.index)
    total = out.sum(min_count=1)
    total["gross_profit"] = out["gross_profit"].sum(min_count=len(out)) if len(out) else np.nan
    out = out.sort_values("gmv", ascending=False)
    out.loc["total"] = total
    out["share"] = _ratio(out["gmv"], total["gmv"])
    out["gross_margin"] = _ratio(out["gross_profit"], out["net_sales"])
    out["mom"] = _ratio(out["gmv"], out["gmv_prev"]) - 1
    out["yoy"] = _ratio(out["gmv"], out["gmv_ly"]) - 1
    out = out.rename_axis(by).reset_index()
    return out[[by, "gmv", "share", "net_sales", "gross_profit", "gross_margin", "gmv_prev", "mom", "gmv_ly", "yoy"]]


def revenue_mix(lines: pd.DataFrame, month: str, *, by: str = "channel", months: int = 13) -> pd.DataFrame:
    """Share of GMV per ``by`` in each of the ``months`` months ending with ``month`` (收入结构).

    Returns a wide DataFrame: one row per month (index ``YYYY-MM``), one column per group, rows
    summing to 1; columns ordered by the report month's GMV. ``lines`` may also be GMV already
    summed per month and ``by`` (the same result).
    """
    wanted = [_shift(month, -i) for i in range(months - 1, -1, -1)]
    sub = lines.loc[lines["month"].isin(wanted)]
    wide = sub.pivot_table(index="month", columns=by, values="gmv", aggfunc="sum", fill_value=0.0, observed=True)
    wide = wide.reindex(index=[m for m in wanted if m in wide.index])
    if wide.empty:
        return wide
    order = wide.iloc[-1].sort_values(ascending=False).index
    share = wide[order].div(wide.sum(axis=1), axis=0)
    share.columns.name = by
    return share


@dataclass
class BusinessResult:
    """Section 1: the business model in numbers."""

    month: str
    note: str | None = None
    kpis: pd.DataFrame | None = None        #: shop KPIs this month, previous, MoM, last year, YoY
    by_channel: pd.DataFrame | None = None
    by_category: pd.DataFrame | None = None
    channel_mix: pd.DataFrame | None = None  #: month x channel GMV shares
    category_note: str | None = None
    top_channel: str | None = None
    top_channel_share: float = float("nan")
    gross_margin: float = float("nan")
    gmv: float = float("nan")
    net_sales: float = float("nan")
    mom: float = float("nan")
    yoy: float = float("nan")

    @property
    def kpi_view(self):
        """The shop's KPIs this month, last month and a year ago, formatted per row."""
        if self.kpis is None:
            return self.note
        t = self.kpis
        styler = t.style.format("{:+.1%}", subset=["mom", "yoy"], na_rep="–")
        cols = ["this_month", "previous_month", "last_year"]
        for row in t.index:  # six KPIs
            f = "{:.1%}" if "rate" in row.lower() else ("¥{:,.0f}" if any(k in row for k in ("GMV", "sales", "AOV"))
                                                        else "{:,.0f}")
            styler = styler.format(f, subset=pd.IndexSlice[[row], cols], na_rep="–")
        return styler

    @property
    def channel_view(self):
        return _styled(self.by_channel, money=["gmv", "net_sales", "gross_profit", "gmv_prev", "gmv_ly"],
                       pct=["share", "gross_margin"], signed_pct=["mom", "yoy"])

    @property
    def category_view(self):
        if self.by_category is None:
            return self.category_note
        return _styled(self.by_category, money=["gmv", "net_sales", "gross_profit", "gmv_prev", "gmv_ly"],
                       pct=["share", "gross_margin"], signed_pct=["mom", "yoy"])

def business_report(data, *, record=None) -> BusinessResult:
    """Section 1 on a Dataset: shop KPIs against last month and last year (metrics.kpi_comparison),
    GMV, net sales and gross margin by channel and category, and the channel mix over 13 months.
    Categories and margins need order_items and products (unit_cost); without them the channel
    table carries GMV and net sales only."""
    from .metrics import kpi_comparison

    month = _report_month(data)
    have_items = data.has("order_items", "products")
    lines = _lines(data, have_items)
    res = BusinessResult(month)
    # the KPIs of three months need only those months' orders and five columns
    if _prepared(data, "orders"):  # those months read from the file, a month at a time
        res.kpis = kpi_comparison(data, month)
    else:
        orders = _table(data, "orders")
        kcols = [c for c in ("order_ts", "paid_amount", "status", "refund_amount", "customer_id") if c in orders.columns]
        ts = orders["order_ts"]
        this = pd.Timestamp(month + "-01")
        near = ((ts >= this - pd.DateOffset(months=1)) & (ts < this + pd.offsets.MonthBegin(1))) | (
            (ts >= this - pd.DateOffset(months=12)) & (ts < this - pd.DateOffset(months=11)))
        res.kpis = kpi_comparison(orders[kcols].loc[near.fillna(False).to_numpy()], month)
    by_channel = _monthly_sums(lines, "channel")  # once for the table and the 13 months' mix
    res.by_channel = _business_from_sums(by_channel, month, "channel")
    res.channel_mix = revenue_mix(by_channel, month, by="channel")
    if have_items:
        res.by_category = _business_from_sums(_monthly_sums(lines, "category"), month, "category")
    else:
        res.category_note = _skip(record, "Business model by category",
                                  data.missing_note("order_items", "products") or "order_items and products are needed")
    total = res.by_channel.iloc[-1]
    res.gmv, res.net_sales, res.mom, res.yoy = (float(total[c]) for c in ("gmv", "net_sales", "mom", "yoy"))
    res.gross_margin = float(total["gross_margin"])
    top = res.by_channel.iloc[:-1]
    if len(top) and res.gmv > 0:
        res.top_channel = str(top.iloc[0]["channel"])
        res.top_channel_share = float(top.iloc[0]["share"])
    return res


def plot_revenue_mix(mix: pd.DataFrame, *, ax=None, title: str | None = None):
    """Stacked bars of the GMV share per channel (or category) per month."""
    import matplotlib.pyplot as plt

    from . import charts

    ax = ax or plt.gca()
    if mix is None or mix.empty:
        return _empty(ax, "no GMV to show")
    bottom = np.zeros(len(mix))
    x = np.arange(len(mix))
    for col in mix.columns:  # a handful of channels
        vals = mix[col].to_numpy(dtype="float64")
        ax.bar(x, vals, bottom=bottom, color=charts.channel_color(str(col)), label=str(col), width=0.8)
        bottom += vals
    ax.set_xticks(x, mix.index, rotation=45, ha="right")
    charts.format_pct_axis(ax)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(title or "Revenue mix: share of GMV by channel 渠道收入结构")
    return ax


def plot_category_margin(result: BusinessResult, *, ax=None, title: str | None = None):
    """Horizontal bars of GMV per category, labelled with the gross margin and YoY change (the
    result's note when categories are unknown)."""
    import matplotlib.pyplot as plt

    from . import charts

    ax = ax or plt.gca()
    table = result.by_category
    if table is None:
        return _empty(ax, result.category_note)
    body = table.loc[table.iloc[:, 0] != "total"].iloc[::-1]
    name = table.columns[0]
    ax.barh(body[name].astype(str), body["gmv"], color="#4C72B0")
    top = float(body["gmv"].max()) if len(body) else 0.0
    for i, (_, r) in enumerate(body.iterrows()):  # one bar per category
        margin = "" if pd.isna(r["gross_margin"]) else f"margin {r['gross_margin']:.0%}"
        yoy = "" if pd.isna(r["yoy"]) else f"YoY {r['yoy']:+.0%}"
        ax.text(r["gmv"] + top * 0.01, i, "  ".join(t for t in (margin, yoy) if t), va="center", fontsize=9)
    ax.set_xlim(0, top * 1.35 if top else 1)
    charts.format_money_axis(ax, axis="x")
    ax.set_title(title or "GMV by category, with gross margin and YoY 品类GMV与毛利率")
    return ax


# ---------------------------------------------------------------------------------------------
# 2. Personas and segments
# ---------------------------------------------------------------------------------------------

def age_band(birth_year: pd.Series, year: int) -> pd.Series:
    """Age band (年龄段) of each customer in ``year``: <25, 25-34, 35-44, 45-54, 55+; "unknown"
    when the birth year is missing.

    >>> age_band(pd.Series([2003, 1995, None], dtype="Int64"), 2026).tolist()
    ['<25', '25-34', 'unknown']
    """
    codes, labels = _age_band_codes(birth_year, year)
    return pd.Series(labels.take(codes), index=birth_year.index, name=birth_year.name)


def _age_band_codes(birth_year: pd.Series, year: int) -> tuple[np.ndarray, pd.Index]:
    """:func:`age_band` as codes into its sorted labels, banded once per distinct birth year."""
    codes, uniq = pd.factorize(birth_year, use_na_sentinel=False)
    age = year - pd.to_numeric(pd.Series(uniq), errors="coerce").astype("float64")
    bins = [b for b, _ in AGE_BANDS] + [np.inf]
    band = pd.cut(age, bins=[-np.inf] + bins[1:], right=False, labels=[lab for _, lab in AGE_BANDS])
    labels = band.astype("object").where(age.notna(), "unknown").astype("str")
    lab_codes, lab_uniq = pd.factorize(labels, sort=True)
    return lab_codes[codes], lab_uniq


def segment_table(lines: pd.DataFrame, customers: pd.DataFrame, *, by: str, min_buyers: int = 30) -> pd.DataFrame:
    """Size and value of each segment (细分人群) of customers over the lines' period.

    Per value of the customers' column ``by`` (persona, age_band, city_tier, province):
    customers (registered), buyers (with a paid order in the period), gmv and gmv_share, aov (GMV per
    paid order), orders_per_buyer, repurchase_rate (buyers with paid orders on two or more different
    days / buyers, 复购率), the preferred category (the largest share of the segment's GMV) with its
    share and its index against the shop (segment share / shop share x 100, the TGI), the
    signature category (the highest index among categories with at least 5% of the segment's GMV:
    what sets the segment apart) with its index, and ``small``
    when the segment has fewer than ``min_buyers`` buyers (read its rates with care).
    Handbook 000 §1.2, 002 part 01 (core personas).

    Required columns: lines (order_lines with an ``order_day`` column added, or without: each
    order counts as its own day) order_id, customer_id, category, gmv; customers.customer_id, ``by``.
    """
    _require(customers, "customers", ["customer_id", by])
    _require(lines, "order lines", ["order_id", "customer_id", "category", "gmv"])
    seg = customers[["customer_id", by]].drop_duplicates("customer_id")
    code, labels = _segment_codes(seg[by])
    lines = lines.loc[lines["customer_id"].notna()]
    customer = pd.Index(seg["customer_id"]).get_indexer(lines["customer_id"])
    keep = customer >= 0  # the lines of customers in the table (an inner join)
    day = lines["order_day"] if "order_day" in lines.columns else lines["order_id"]
    category, categories = pd.factorize(lines["category"], sort=True)
    period = _segment_lines(pd.factorize(lines["order_id"], use_na_sentinel=False)[0][keep], customer[keep],
                            pd.factorize(day)[0][keep], category[keep], categories,
                            np.asarray(lines["gmv"], dtype="float64")[keep], len(seg))
    return _segment_table(period, code, labels, by=by, min_buyers=min_buyers)[0]


@dataclass
class _PeriodLines:
    """The lines of a period for :func:`segment_table`, as codes (their orders and customers
    counted once, whichever dimension segments them)."""

    customer: np.ndarray    #: line -> customer (row of the customers table)
    category: np.ndarray    #: line -> code into ``categories`` (-1: missing)
    categories: pd.Index
    gmv: np.ndarray
    orders: np.ndarray      #: customer -> paid orders in the period
    repeat: np.ndarray      #: customer -> paid orders on two or more different days
    order_customer: np.ndarray  #: each order (its first line) -> customer


def _segment_lines(order: np.ndarray, customer: np.ndarray, day: np.ndarray, category: np.ndarray,
                   categories: pd.Index, gmv: np.ndarray, n_customers: int) -> _PeriodLines:
    """:class:`_PeriodLines` from per-line codes: ``order`` (an order key), ``customer`` (row of
    the customers table), ``day`` (a code of the order's day, -1: unknown). An order counts for
    the customer and day of its first line."""
    if len(order) > 1 and (order[1:] >= order[:-1]).all():  # lines grouped by order (as stored): no hash table
        first = np.empty(len(order), dtype=bool)
        first[0] = True
        np.not_equal(order[1:], order[:-1], out=first[1:])
    else:
        first = ~pd.Series(order).duplicated().to_numpy()
    who, when = customer[first], day[first]
    dated = when >= 0
    who, when = who[dated], when[dated]
    earliest = np.full(n_customers, np.iinfo(np.int64).max)
    latest = np.full(n_customers, -1, dtype=np.int64)
    np.minimum.at(earliest, who, when)  # two different days <=> the first and the last differ
    np.maximum.at(latest, who, when)
    return _PeriodLines(customer, category, categories, gmv, np.bincount(customer[first], minlength=n_customers),
                        latest > earliest, customer[first])


def _segment_table(period: _PeriodLines, code: np.ndarray, labels: pd.Index, *, by: str,
                   min_buyers: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`segment_table` of the customers segmented by ``code`` (customer -> code into the
    sorted ``labels``), and its :func:`category_preference`."""
    n = len(labels)
    buyer = period.orders > 0
    out = pd.DataFrame({
        "customers": np.bincount(code, minlength=n).astype("int64"),
        "buyers": np.bincount(code[buyer], minlength=n),
        "paid_orders": np.bincount(code[period.order_customer], minlength=n),
        "repeaters": np.bincount(code[period.repeat], minlength=n),
    }, index=pd.Index(labels, name=by))
    line_segment = code[period.customer]
    out["gmv"] = np.where(out["buyers"] > 0, _group_sums(period.gmv, line_segment, n), 0.0)  # no buyers: no GMV row
    out["customer_share"] = _ratio(out["customers"], out["customers"].sum())
    out["gmv_share"] = _ratio(out["gmv"], out["gmv"].sum())
    out["aov"] = _ratio(out["gmv"], out["paid_orders"])
    out["orders_per_buyer"] = _ratio(out["paid_orders"], out["buyers"])
    out["repurchase_rate"] = _ratio(out["repeaters"], out["buyers"])
    ncat = len(period.categories)
    pair, gmv = line_segment * ncat + period.category, period.gmv
    known = period.category >= 0
    if not known.all():  # lines without a category have no place in the preference
        pair, gmv = pair[known], gmv[known]
    key = np.flatnonzero(np.bincount(pair, minlength=n * ncat))  # the pairs with lines, in label order
    sums = _group_sums(gmv, pair, n * ncat)[key]
    pref = _preference_from_sums(pd.DataFrame({by: labels.take(key // ncat), "category": period.categories.take(key % ncat),
                                               "gmv": sums}), by=by)
    if not pref.empty:
        share = pref.pivot(index=by, columns="category", values="share")
        index = pref.pivot(index=by, columns="category", values="index")
        top = share.idxmax(axis=1)
        out["top_category"] = top.reindex(out.index)
        out["top_category_share"] = pd.Series(share.to_numpy()[np.arange(len(share)), share.columns.get_indexer(top)],
                                              index=share.index).reindex(out.index)
        out["top_category_index"] = pd.Series(index.to_numpy()[np.arange(len(index)), index.columns.get_indexer(top)],
                                              index=index.index).reindex(out.index)
        # the signature category: the most over-indexed one among those with at least 5% of the GMV
        sig = index.where(share >= 0.05)
        sig_cat = sig.idxmax(axis=1)
        out["signature_category"] = sig_cat.reindex(out.index)
        out["signature_index"] = pd.Series(index.to_numpy()[np.arange(len(index)), index.columns.get_indexer(sig_cat)],
                                           index=index.index).reindex(out.index)
    out["small"] = out["buyers"] < min_buyers
    out = out.sort_values("gmv", ascending=False).rename_axis(by).reset_index()
    for c in ("buyers", "paid_orders", "repeaters"):
        out[c] = out[c].astype("int64")
    return out, pref


def category_preference(lines: pd.DataFrame, *, by: str) -> pd.DataFrame:
    """Share of each segment's GMV per category, and its index (TGI) against the whole shop.

    Formula: share = segment GMV in the category / segment GMV; index = share / (shop GMV in the
    category / shop GMV) x 100 (100 = like the shop, 150 = half as much again).

    Returns a long DataFrame: by, category, gmv, share, index.
    """
    _require(lines, "order lines", [by, "category", "gmv"])
    g = lines.groupby([by, "category"], observed=True)["gmv"].sum().rename("gmv").reset_index()
    return _preference_from_sums(g, by=by)


def _preference_from_sums(g: pd.DataFrame, *, by: str) -> pd.DataFrame:
    """:func:`category_preference` from the GMV summed per segment and category (by, category,
    gmv; sorted by both)."""
    if g.empty:
        return g.assign(share=[], index=[])
    g["share"] = _ratio(g["gmv"], g.groupby(by, observed=True)["gmv"].transform("sum"))
    shop = g.groupby("category", observed=True)["gmv"].sum()
    shop_share = (shop / shop.sum()).reindex(g["category"]).to_numpy()
    g["index"] = g["share"].to_numpy() / shop_share * 100
    return g


@dataclass
class SegmentResult:
    """Section 2: personas and segments over the last ``months`` months."""

    month: str
    months: int = 12
    note: str | None = None
    tables: dict = field(default_factory=dict)  #: dimension -> segment_table
    preference: pd.DataFrame | None = None      #: persona x category index (TGI)
    preference_share: pd.DataFrame | None = None  #: persona x category share of GMV
    repurchase_rate: float = float("nan")       #: shop-wide, buyers with 2+ order days / buyers
    member_repurchase_rate: float = float("nan")  #: the same among members (member_tier not none)
    top_persona: str | None = None
    top_persona_gmv_share: float = float("nan")

    @property
    def persona_table(self) -> pd.DataFrame:
        """The persona table for the action list (empty when there are no personas)."""
        return _rounded(self.tables.get("persona", pd.DataFrame(columns=["persona"])).drop(columns=["repeaters"], errors="ignore"))

    def view(self, dimension: str):
        """The formatted table of one dimension (persona, age_band, city_tier, province)."""
        if dimension not in self.tables:
            return self.note or f"no {dimension} column in customers"
        table = self.tables[dimension]
        if dimension == "province":
            table = table.head(12)
        table = table.drop(columns=["repeaters"], errors="ignore")
        return _styled(table, count=["customers", "buyers", "paid_orders", "top_category_index", "signature_index"],
                       money=["gmv", "aov"], pct=["customer_share", "gmv_share", "repurchase_rate",
                                                  "top_category_share"], dec2=["orders_per_buyer"])


def segment_report(data, *, record=None) -> SegmentResult:
    """Section 2 on a Dataset: segment tables by persona, age band, city tier and province over the
    last ``segment_months`` months (settings), and the persona x category preference. Needs
    customers and orders.customer_id; the category preference needs order_items and products."""
    cfg = _settings(data)
    month = _report_month(data)
    res = SegmentResult(month, months=int(cfg["segment_months"]))
    note = data.missing_note("customers", columns={"orders": ["customer_id"]})
    if note:
        res.note = _skip(record, "Personas and segments", note)
        return res
    end = pd.Timestamp(month + "-01") + pd.offsets.MonthBegin(1)
    start = end - pd.DateOffset(months=res.months)
    have_items = data.has("order_items", "products")
    lines = _lines(data, have_items)
    known = _customers(data)
    # the period's lines of known customers as integer codes: orders, customers and days are
    # counted once here, and each dimension only relabels the customers
    which = _in_period(lines, start, end)
    paid = lines.line_order[which]
    customer = known.of_paid[paid]
    keep = customer >= 0
    which, paid, customer = which[keep], paid[keep], customer[keep]
    del keep
    day = lines.head.ts[paid].astype("datetime64[D]").astype(np.int64)
    del paid
    period = _segment_lines(lines.line_key[which], customer, day - day.min() if len(day) else day,
                            lines.category[which], lines.categories, lines.gmv[which], known.n)
    del which, customer, day
    min_buyers = int(cfg["min_segment_buyers"])
    prefs = {}
    for dim in ("persona", "age_band", "city_tier", "province", "member_tier"):  # five dimensions
        if dim == "age_band":
            values = known.column(data, "birth_year") if known.n else None
            if values is None:
                continue
            code, labels = _age_band_codes(values, end.year if end.month > 1 else end.year - 1)
        else:
            values = known.column(data, dim)
            if values is None or not values.notna().any():
                continue
            code, labels = _segment_codes(values)
        del values
        res.tables[dim], prefs[dim] = _segment_table(period, code, labels, by=dim, min_buyers=min_buyers)
        del code
    if not res.tables:
        res.note = _skip(record, "Personas and segments", "customers has none of persona, birth_year, city_tier, province")
        return res
    first = next(iter(res.tables.values()))
    res.repurchase_rate = float(_ratio(first["repeaters"].sum(), first["buyers"].sum()))
    if "member_tier" in res.tables:
        t = res.tables["member_tier"]
        members = t.loc[~t["member_tier"].isin(["none", "unknown", "nan"])]
        res.member_repurchase_rate = float(_ratio(members["repeaters"].sum(), members["buyers"].sum()))
    if "persona" in res.tables:
        t = res.tables["persona"]
        res.top_persona = str(t.iloc[0]["persona"])
        res.top_persona_gmv_share = float(t.iloc[0]["gmv_share"])
        if have_items:
            pref = prefs["persona"]  # the persona table's own category preference
            res.preference = pref.pivot(index="persona", columns="category", values="index").reindex(t["persona"])
            res.preference_share = pref.pivot(index="persona", columns="category", values="share").reindex(t["persona"])
    return res


def plot_segments(result: SegmentResult, dimension: str = "persona", *, ax=None, title: str | None = None):
    """Customers' share against GMV share per segment (paired bars), AOV and repurchase as labels:
    a segment whose GMV share exceeds its size share is worth more than its headcount."""
    import matplotlib.pyplot as plt

    from . import charts

    ax = ax or plt.gca()
    if dimension not in result.tables:
        return _empty(ax, result.note or f"no {dimension} in customers")
    table = result.tables[dimension]
    name = table.columns[0]
    body = table.head(10)
    x = np.arange(len(body))
    ax.bar(x - 0.2, body["customer_share"], width=0.4, color="#BBBBBB", label="share of customers 人数占比")
    ax.bar(x + 0.2, body["gmv_share"], width=0.4, color="#4C72B0", label="share of GMV GMV占比")
    for i, (_, r) in enumerate(body.iterrows()):  # at most ten segments
        ax.text(i, max(r["customer_share"], r["gmv_share"]) + 0.005,
                f"AOV ¥{r['aov']:,.0f}\nrepeat {r['repurchase_rate']:.0%}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, body[name].astype(str), rotation=20, ha="right")
    charts.format_pct_axis(ax)
    ax.set_ylim(0, float(np.nanmax(body[["customer_share", "gmv_share"]].to_numpy())) * 1.3)
    ax.legend(frameon=False, loc="upper right")
    ax.set_title(title or f"Segments by {name}: size, GMV, AOV and repurchase")
    return ax


def plot_preference(result: SegmentResult, *, ax=None, title: str | None = None):
    """Heatmap of the category index (TGI) per persona: 100 = like the shop, red above, blue below."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    index = result.preference
    if index is None:
        return _empty(ax, result.note or "category preference needs personas, order_items and products")
    vals = index.to_numpy(dtype="float64")
    im = ax.imshow(np.log2(np.clip(vals, 1, None) / 100), cmap="RdBu_r", vmin=-1.5, vmax=1.5, aspect="auto")
    ax.set_xticks(np.arange(index.shape[1]), index.columns, rotation=30, ha="right")
    ax.set_yticks(np.arange(index.shape[0]), index.index)
    for (i, j), v in np.ndenumerate(vals):  # persona x category cells (a few dozen)
        dark = np.isfinite(v) and abs(np.log2(max(v, 1) / 100)) > 0.9
        ax.text(j, i, "–" if np.isnan(v) else f"{v:.0f}", ha="center", va="center", fontsize=9,
                color="white" if dark else "black")
    ax.grid(False)
    ax.set_title(title or "Category preference by persona: index vs shop (100 = like the shop) 品类偏好TGI")
    plt.colorbar(im, ax=ax, shrink=0.8, label="log2(index / 100)")
    return ax


# ---------------------------------------------------------------------------------------------
# 3. The GMV tree and its exact decomposition
# ---------------------------------------------------------------------------------------------

def log_mean(a, b):
    """The logarithmic mean L(a, b) = (a - b) / (ln a - ln b), with L(a, a) = a.

    >>> round(float(log_mean(200.0, 100.0)), 4)
    144.2695
    """
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / (np.log(a) - np.log(b))
    return np.where(np.isclose(a, b, rtol=1e-12, atol=0), a, out)


def lmdi(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Split the change of a product of factors exactly into each factor's contribution (LMDI-I).

    For V = x1 * x2 * ... * xk, the additive log-mean Divisia index gives each factor the
    contribution ``C_i = L(V1, V0) * ln(x_i1 / x_i0)``, where L is the :func:`log_mean`. Because the
    logs of the ratios add up to ln(V1 / V0), the contributions add up to V1 - V0 exactly, with no
    residual (Ang 2005, "The LMDI approach to decomposition analysis: a practical guide").

    Parameters
    ----------
    before, after : DataFrames with the same index and the same factor columns, all values > 0.

    Returns
    -------
    DataFrame
        one column per factor (its contribution), plus ``change`` = V1 - V0.

    Examples
    --------
    >>> b = pd.DataFrame({"visitors": [1000.0], "conversion": [0.03], "aov": [300.0]})
    >>> a = pd.DataFrame({"visitors": [1200.0], "conversion": [0.025], "aov": [330.0]})
    >>> round(float(lmdi(b, a).drop(columns="change").sum(axis=1).iloc[0]), 6)
    900.0
    """
    if list(before.columns) != list(after.columns):
        raise ValueError("before and after need the same factor columns")
    v0 = before.prod(axis=1)
    v1 = after.prod(axis=1)
    if (before.to_numpy() <= 0).any() or (after.to_numpy() <= 0).any():
        raise ValueError("every factor must be positive in both periods for a log decomposition")
    weight = log_mean(v1.to_numpy(), v0.to_numpy())
    out = pd.DataFrame({c: weight * np.log(after[c].to_numpy() / before[c].to_numpy()) for c in before.columns},
                       index=before.index)
    out["change"] = v1 - v0
    return out


def gmv_tree(daily: pd.DataFrame, month: str, *, base: str) -> pd.DataFrame:
    """The GMV tree (GMV = visitors x conversion x AOV) per channel in ``base`` and ``month``, and
    each factor's exact contribution to the change (:func:`lmdi`).

    conversion = paid orders / visitors and AOV = GMV / paid orders, so the product is GMV. Without
    visitors (no traffic table) the tree is GMV = paid orders x AOV. A channel with nothing in one of
    the two months cannot be split by logs: its whole change goes to ``channels``.
    Handbook 002 part 05 (流量转化率, 客单价) and 000 §1.3.

    Parameters
    ----------
    daily : ``data.derived("daily_kpis")`` (date, channel, paid_orders, gmv; visitors when present).
    month, base : the month to explain and the month to compare with, ``YYYY-MM``.

    Returns
    -------
    DataFrame
        one row per channel and a last row ``total``: the factors in both months (suffix ``_0`` for
        base, ``_1`` for month), gmv_0, gmv_1, change, and the contributions ``c_visitors``,
        ``c_conversion``, ``c_aov`` (or ``c_paid_orders``, ``c_aov``) and ``c_channels``. On every row
        the contributions add up to ``change``.
    """
    _require(daily, "daily_kpis", ["date", "channel", "paid_orders", "gmv"])
    has_visitors = "visitors" in daily.columns and daily["visitors"].notna().any()
    months = _month_of(daily["date"])
    sub = daily.loc[months.isin([base, month])].assign(month=months)
    cols = {"paid_orders": ("paid_orders", "sum"), "gmv": ("gmv", "sum")}
    if has_visitors:
        cols["visitors"] = ("visitors", "sum")
    g = sub.groupby(["channel", "month"], observed=True).agg(**cols).reset_index()
    p0 = g.loc[g["month"] == base].drop(columns="month").set_index("channel")
    p1 = g.loc[g["month"] == month].drop(columns="month").set_index("channel")
    chans = p0.index.union(p1.index)
    p0, p1 = p0.reindex(chans).fillna(0.0), p1.reindex(chans).fillna(0.0)

    def factors(p):
        f = pd.DataFrame(index=p.index)
        if has_visitors:
            f["visitors"] = p["visitors"].astype("float64")
            f["conversion"] = _ratio(p["paid_orders"], p["visitors"])
        else:
            f["paid_orders"] = p["paid_orders"].astype("float64")
        f["aov"] = _ratio(p["gmv"], p["paid_orders"])
        return f

    f0, f1 = factors(p0), factors(p1)
    names = list(f0.columns)
    out = pd.DataFrame(index=chans)
    for c in names:
        out[f"{c}_0"], out[f"{c}_1"] = f0[c], f1[c]
    out["gmv_0"], out["gmv_1"] = p0["gmv"].astype("float64"), p1["gmv"].astype("float64")
    out["change"] = out["gmv_1"] - out["gmv_0"]
    ok = (f0.fillna(0) > 0).all(axis=1) & (f1.fillna(0) > 0).all(axis=1) & (out["gmv_0"] > 0) & (out["gmv_1"] > 0)
    for c in names:
        out[f"c_{c}"] = 0.0
    out["c_channels"] = np.where(ok, 0.0, out["change"])
    if ok.any():
        parts = lmdi(f0.loc[ok], f1.loc[ok])
        # the factors' product is GMV up to rounding of the inputs: rescale to the exact change
        scale = _ratio(out.loc[ok, "change"], parts["change"])
        scale = np.where(np.isnan(scale), 1.0, scale)
        for c in names:
            out.loc[ok, f"c_{c}"] = parts[c].to_numpy() * scale
    out = out.sort_values("gmv_1", ascending=False)
    total = out[["gmv_0", "gmv_1", "change"] + [f"c_{c}" for c in names] + ["c_channels"]].sum()
    p0t, p1t = p0.sum(), p1.sum()
    f0t, f1t = factors(p0t.to_frame().T), factors(p1t.to_frame().T)
    for c in names:
        total[f"{c}_0"], total[f"{c}_1"] = f0t[c].iloc[0], f1t[c].iloc[0]
    out.loc["total"] = total
    return out.rename_axis("channel").reset_index()


def gmv_bridge(tree: pd.DataFrame, *, start_label: str = "base GMV") -> pd.Series:
    """The steps of a waterfall from a :func:`gmv_tree`: the base month's GMV, then the summed
    contribution of each factor over all channels (and of channels opened or closed, when any).
    Start + steps = the month's GMV exactly."""
    total = tree.loc[tree["channel"] == "total"].iloc[0]
    steps = {start_label: float(total["gmv_0"])}
    for c in [c for c in tree.columns if c.startswith("c_")]:
        name = c[2:]
        if name == "channels" and abs(total[c]) < 0.005:
            continue
        steps[_FACTOR_LABELS.get(name, name)] = float(total[c])
    return pd.Series(steps)


@dataclass
class TreeResult:
    """Section 3: the GMV tree, month over month and year over year."""

    month: str
    note: str | None = None
    mom: pd.DataFrame | None = None
    yoy: pd.DataFrame | None = None
    bridge_mom: pd.Series | None = None
    bridge_yoy: pd.Series | None = None
    yoy_note: str | None = None
    daily: pd.DataFrame | None = None   #: shop-level daily visitors, conversion, AOV of the two months
    worst_day: pd.Timestamp | None = None
    worst_day_conversion: float = float("nan")
    worst_day_ratio: float = float("nan")  #: the worst day's conversion / median of the two months
    has_visitors: bool = False
    conversion_change: float = float("nan")  #: shop conversion this month / previous month - 1
    alerts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["severity", "subject", "message"]))

    def view(self, which: str = "mom"):
        table = self.mom if which == "mom" else self.yoy
        if table is None:
            return self.yoy_note or self.note
        keep = ["channel"] + [c for c in table.columns if c.endswith("_0") or c.endswith("_1")] + \
               ["change"] + [c for c in table.columns if c.startswith("c_")]
        t = table[keep]
        if (t["c_channels"].abs() < 0.005).all():
            t = t.drop(columns="c_channels")
        base = _shift(self.month, -1 if which == "mom" else -12)
        names = {c: c[:-2] + f" {base}" for c in t.columns if c.endswith("_0")}
        names.update({c: c[:-2] + f" {self.month}" for c in t.columns if c.endswith("_1")})
        names.update({c: f"from {c[2:]}" for c in t.columns if c.startswith("c_")})
        t = t.rename(columns=names)
        money = [c for c in t.columns if c.startswith(("gmv ", "aov ", "from ")) or c == "change"]
        return _styled(t, money=money, count=[c for c in t.columns if c.startswith(("visitors ", "paid_orders "))],
                       pct=[c for c in t.columns if c.startswith("conversion ")])


def tree_report(data, *, month: str | None = None, record=None) -> TreeResult:
    """Section 3 on a Dataset: the GMV tree of the report month (or of an earlier ``month`` of the
    loaded window) against the previous month and the same month last year, from ``daily_kpis``,
    and the shop's daily conversion over the two months (the worst day marked: an outage shows
    here)."""
    month = month or _report_month(data)
    daily = data.derived("daily_kpis")
    res = TreeResult(month)
    res.has_visitors = "visitors" in daily.columns and daily["visitors"].notna().any()
    if not res.has_visitors:
        res.note = _skip(record, "GMV tree: visitors",
                         (data.missing_note("traffic") or "traffic has no visitors") +
                         " The tree falls back to GMV = paid orders x AOV.")
    months = set(_month_of(daily["date"]))
    prev, ly = _shift(month, -1), _shift(month, -12)
    if month not in months or prev not in months:
        res.note = _skip(record, "GMV tree", f"no orders in {month} or {prev} to compare")
        return res
    res.mom = gmv_tree(daily, month, base=prev)
    res.bridge_mom = gmv_bridge(res.mom, start_label=f"GMV {prev}")
    if ly in months:
        res.yoy = gmv_tree(daily, month, base=ly)
        res.bridge_yoy = gmv_bridge(res.yoy, start_label=f"GMV {ly}")
    else:
        res.yoy_note = _skip(record, "GMV tree, year over year", f"the data hold no orders in {ly}")
    sub = daily.loc[_month_of(daily["date"]).isin([prev, month])]
    cols = {"paid_orders": ("paid_orders", "sum"), "gmv": ("gmv", "sum")}
    if res.has_visitors:
        cols["visitors"] = ("visitors", "sum")
    d = sub.groupby("date").agg(**cols).reset_index()
    d["aov"] = _ratio(d["gmv"], d["paid_orders"])
    if res.has_visitors:
        d["conversion"] = _ratio(d["paid_orders"], d["visitors"])
        i = d["conversion"].idxmin()
        res.worst_day = pd.Timestamp(d.loc[i, "date"])
        res.worst_day_conversion = float(d.loc[i, "conversion"])
        res.worst_day_ratio = float(res.worst_day_conversion / d["conversion"].median())
        total = res.mom.set_index("channel").loc["total"]
        res.conversion_change = float(total["conversion_1"] / total["conversion_0"] - 1)
        in_month = res.worst_day >= pd.Timestamp(month + "-01")  # a day of the previous month was last month's news
        if in_month and res.worst_day_ratio < float(_settings(data)["conversion_day_min_ratio"]):
            res.alerts = pd.DataFrame({
                "severity": ["high"], "subject": [f"{res.worst_day:%Y-%m-%d}"],
                "message": [f"conversion {res.worst_day_conversion:.2%}, {res.worst_day_ratio:.0%} of the two "
                            f"months' median: GMV lost that day (see chapter 06)"]})
    res.daily = d
    return res


def plot_bridge(result: TreeResult, which: str = "mom", *, ax=None, title: str | None = None):
    """A GMV bridge (waterfall, :func:`playbook.charts.waterfall`) of the tree against the previous
    month (``which="mom"``) or the same month last year (``"yoy"``)."""
    import matplotlib.pyplot as plt

    from . import charts

    ax = ax or plt.gca()
    steps = result.bridge_mom if which == "mom" else result.bridge_yoy
    if steps is None:
        return _empty(ax, (result.yoy_note if which == "yoy" else None) or result.note)
    default = "GMV against the previous month 环比拆解" if which == "mom" else "GMV against the same month last year 同比拆解"
    ax = charts.waterfall(steps, ax=ax, end_label=f"GMV {result.month}", title=title or default)
    ax.tick_params(axis="x", labelrotation=0)
    for label in ax.get_xticklabels():  # five bars
        label.set_horizontalalignment("center")
    return ax


def plot_daily_conversion(result: TreeResult, *, ax=None, title: str | None = None):
    """The shop's daily conversion over the two months of the tree, the worst day marked."""
    import matplotlib.pyplot as plt

    from . import charts

    ax = ax or plt.gca()
    d = result.daily
    if d is None or "conversion" not in d.columns:
        ax.text(0.5, 0.5, "no visitors: conversion cannot be drawn", ha="center", transform=ax.transAxes)
        return ax
    ax.plot(d["date"], d["conversion"], marker="o", ms=3, color="#4C72B0", label="conversion 转化率")
    if result.worst_day is not None:
        ax.scatter([result.worst_day], [result.worst_day_conversion], s=90, color="#C44E52", zorder=5)
        ax.annotate(f"{result.worst_day:%Y-%m-%d}: {result.worst_day_conversion:.2%}\n"
                    f"({result.worst_day_ratio:.0%} of the usual)", (result.worst_day, result.worst_day_conversion),
                    xytext=(15, -5), textcoords="offset points", color="#C44E52", fontsize=9)
    start = pd.Timestamp(result.month + "-01")
    ax.axvline(start, color="grey", ls=":", lw=1)
    charts.format_pct_axis(ax, decimals=1)
    ax.set_ylim(0, None)
    ax.set_title(title or "Daily conversion (paid orders / visitors), previous and report month 日转化率")
    return ax


# ---------------------------------------------------------------------------------------------
# 4. Targets and pacing
# ---------------------------------------------------------------------------------------------

def _actuals(daily: pd.DataFrame, counts: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Monthly actuals per channel and shop-wide ("all"): gmv, orders (paid), aov, conversion_rate,
    and with ``counts`` (:func:`_buyer_counts`) buyers and new_customers (first paid order in the
    window) in the months those cover (NaN in the others)."""
    d = daily.assign(month=_month_of(daily["date"]))
    cols = {"gmv": ("gmv", "sum"), "orders": ("paid_orders", "sum")}
    has_v = "visitors" in d.columns
    if has_v:
        cols["visitors"] = ("visitors", "sum")
    by_ch = d.groupby(["month", "channel"], observed=True).agg(**cols).reset_index()
    shop = d.groupby("month", observed=True).agg(**cols).reset_index().assign(channel="all")
    out = pd.concat([by_ch, shop], ignore_index=True)
    if counts is not None:
        buyers, new = counts
        out = out.merge(buyers.rename(columns={"customer_id": "buyers"}), on=["month", "channel"], how="left")
        out = out.merge(new.rename(columns={"customer_id": "new_customers"}), on=["month", "channel"], how="left")
    out["aov"] = _ratio(out["gmv"], out["orders"])
    if has_v:
        out["conversion_rate"] = _ratio(out["orders"], out["visitors"])
    return out


def _buyer_counts(head: _Orders, customer: np.ndarray, months: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Buyers (distinct customers with a paid order) and new customers (whose first paid order in
    the window, the earlier row on equal order_ts, falls there) per month and channel and per
    month (channel ``"all"``), for the ``months`` asked (``YYYY-MM``), from the paid orders
    ``head`` and their ``customer`` codes (-1: none). Two frames of month, channel, customer_id
    (the count), with a row for each month and channel that has one."""
    has = customer >= 0
    month, channel, who = head.month[has], head.channel[has], customer[has]
    wanted = np.unique(_month_codes(np.array(list(months), dtype="datetime64[M]")))
    n_ch, n_m, n_who = len(head.channels), len(wanted), int(who.max()) + 1 if len(who) else 1
    rel = np.searchsorted(wanted, month)  # the month's place among the wanted ones
    inside = (rel < n_m) & (wanted[np.minimum(rel, n_m - 1)] == month) if n_m else np.zeros(len(month), dtype=bool)
    first = _first_orders(head.ts[has], who, n_who)  # each customer's first paid order
    first = first[inside[first]]

    def frame(counts: np.ndarray, per_channel: bool) -> pd.DataFrame:
        key = np.flatnonzero(counts)
        m = wanted[key // n_ch if per_channel else key]
        return pd.DataFrame({"month": pd.array(_month_labels(m), dtype="str"),
                             "channel": (head.channels.take(key % n_ch) if per_channel
                                         else pd.array(["all"] * len(key), dtype="str")),
                             "customer_id": counts[key].astype("int64")})

    pair = rel * n_ch + channel
    buyers = pd.concat([frame(_pair_counts(pair[inside], who[inside], n_m * n_ch, n_who), True),
                        frame(_pair_counts(rel[inside], who[inside], n_m, n_who), False)], ignore_index=True)
    new = pd.concat([frame(np.bincount(pair[first], minlength=n_m * n_ch), True),
                     frame(np.bincount(rel[first], minlength=n_m), False)], ignore_index=True)
    return buyers, new


def _first_orders(ts: np.ndarray, who: np.ndarray, n_who: int) -> np.ndarray:
    """Position of each customer's first order (the earliest ``ts``, NaT last, the earlier
    position on a tie: what a stable sort of ``ts`` puts first), for the customers (codes
    ``who`` in ``[0, n_who)``) with an order; by two scatters of a minimum, without sorting the
    orders or hashing the customers."""
    if not len(who):
        return np.empty(0, dtype=np.intp)
    stamp = np.asarray(ts).astype("datetime64[ns]", copy=False).view(np.int64)
    if np.isnat(ts).any():
        stamp = np.where(np.isnat(ts), np.iinfo(np.int64).max, stamp)  # NaT last
    earliest = np.full(n_who, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(earliest, who, stamp)
    candidate = np.flatnonzero(stamp == earliest[who])  # every customer has one at least
    del stamp, earliest
    first = np.full(n_who, len(who), dtype=np.intp)
    np.minimum.at(first, who[candidate], candidate)
    return first[first < len(who)]


def plan_vs_actual(targets: pd.DataFrame, actuals: pd.DataFrame, *, metric: str = "gmv") -> pd.DataFrame:
    """Plan (计划) against actual (实际) per month and channel for one metric.

    attainment = actual / plan (达成率); gap = actual - plan (negative: short of the plan).
    A target without a channel is the whole shop (``channel = "all"``). Handbook 000 §1.3 (SMART:
    measurable, time-bound), 002 part 02 (GMV targets per platform, by month).

    Required columns: targets.month, metric, value (channel optional); actuals.month, channel and
    the metric (see :func:`month_scorecard` for the names).

    Returns
    -------
    DataFrame
        month, channel, plan, actual, attainment, gap; months with a plan only.
    """
    _require(targets, "targets", ["month", "metric", "value"])
    t = targets.loc[targets["metric"] == metric]
    ch = t["channel"].fillna("all") if "channel" in t.columns else pd.Series("all", index=t.index)
    plan = (t.assign(channel=ch.astype("str")).groupby(["month", "channel"], observed=True)["value"].sum()
            .rename("plan").reset_index())
    if metric not in actuals.columns:
        return plan.assign(actual=np.nan, attainment=np.nan, gap=np.nan)
    out = plan.merge(actuals[["month", "channel", metric]].rename(columns={metric: "actual"}),
                     on=["month", "channel"], how="left")
    out["attainment"] = _ratio(out["actual"], out["plan"])
    out["gap"] = out["actual"] - out["plan"]
    return out.sort_values(["month", "channel"]).reset_index(drop=True)


def month_scorecard(targets: pd.DataFrame, actuals: pd.DataFrame, month: str, *, channel: str = "all") -> pd.DataFrame:
    """Every planned metric of ``month`` for one channel (default the whole shop): plan, actual,
    attainment and gap. For rates and averages (aov, conversion_rate, repurchase_rate) the
    attainment reads the same way: above 100% is better than the plan."""
    rows = []
    for metric in targets.loc[targets["month"] == month, "metric"].dropna().unique():  # a few metrics
        pva = plan_vs_actual(targets, actuals, metric=metric)
        r = pva.loc[(pva["month"] == month) & (pva["channel"] == channel)]
        if len(r):
            rows.append(r.assign(metric=metric))
    if not rows:
        return pd.DataFrame(columns=["metric", "plan", "actual", "attainment", "gap"])
    return pd.concat(rows, ignore_index=True)[["metric", "plan", "actual", "attainment", "gap"]]


def channel_share_vs_plan(pva: pd.DataFrame, month: str) -> pd.DataFrame:
    """Each channel's share of GMV against its share of the plan (渠道GMV占比目标, 002 part 02).

    Returns channel, plan_share, actual_share, share_gap (actual - plan, in share points).
    """
    m = pva.loc[(pva["month"] == month) & (pva["channel"] != "all")]
    out = pd.DataFrame({"channel": m["channel"].to_numpy(),
                        "plan_share": _ratio(m["plan"], m["plan"].sum()),
                        "actual_share": _ratio(m["actual"].fillna(0), m["actual"].fillna(0).sum())})
    out["share_gap"] = out["actual_share"] - out["plan_share"]
    return out.sort_values("plan_share", ascending=False).reset_index(drop=True)


def _campaign_days(campaigns: pd.DataFrame | None, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Per day in [start, end): the name of the shop-wide festival campaign running (empty: none)."""
    days = pd.date_range(start, end - DAY, freq="D")
    out = pd.Series("", index=days, dtype="object")
    if campaigns is None or campaigns.empty:
        return out
    c = campaigns
    if "channel" in c.columns:
        c = c.loc[c["channel"].isna() | c["channel"].astype("str").eq("")]
    c = c.loc[(c["end_date"] >= start) & (c["start_date"] < end)]
    for _, r in c.iterrows():  # campaigns: a few dozen rows
        mask = (days >= r["start_date"]) & (days <= r["end_date"])
        label = r.get("festival") if pd.notna(r.get("festival", np.nan)) else r.get("type", "campaign")
        out[mask] = str(label)
    return out


def weekday_index(series: pd.Series, *, as_of: pd.Timestamp, weeks: int = 12,
                  exclude: pd.Series | None = None) -> pd.Series:
    """The weekday rhythm (周内节奏) over the ``weeks`` weeks up to ``as_of``.

    Each day's value is divided by the centred 7-day mean around it (one of each weekday, so the
    trend and the season drop out); the index of a weekday is the median of these ratios over its
    ordinary days (campaign days in ``exclude`` left out; the median also ignores a one-day outage),
    scaled to average 1.

    Returns a Series indexed 0 (Monday) .. 6 (Sunday) averaging 1; a weekday without data gets 1.
    """
    start = as_of - pd.Timedelta(weeks=weeks) + DAY
    s = series.loc[(series.index >= start - 3 * DAY) & (series.index <= as_of)].asfreq("D")
    ratio = s / s.rolling(7, center=True, min_periods=7).mean()
    ratio = ratio.loc[ratio.index >= start]
    if exclude is not None:
        ratio = ratio.loc[~ratio.index.isin(exclude.index[exclude.astype(bool)])]
    ratio = ratio.dropna()
    by = ratio.groupby(ratio.index.day_of_week).median().reindex(range(7))
    by = by / by.mean() if by.notna().any() and by.mean() > 0 else pd.Series(1.0, index=range(7))
    return by.fillna(1.0)


def daily_shape(series: pd.Series, month: str, *, as_of: pd.Timestamp, campaigns: pd.DataFrame | None = None,
                weeks: int = 12) -> pd.DataFrame:
    """The expected share of a month's total falling on each of its days, weekday- and
    festival-aware (the month-end projection's shape).

    Method: the weekday rhythm comes from the ``weeks`` weeks up to ``as_of`` (:func:`weekday_index`,
    campaign days left out). The festival pattern comes from the same calendar days a year earlier
    (618, 双11 and 双12 fall on fixed dates): last year's daily value divided by last year's weekday
    weight; on days of a shop-wide campaign that value is kept as it is, on ordinary days it is
    smoothed (7-day centred mean of ordinary days) to remove noise. The day's weight is then this
    year's weekday weight x that level. Without last year (fewer than 80% of the days), the level of
    a campaign's days is the lift it has shown so far this month against the ordinary days of the
    last eight weeks (``method = "weekday x festival lift so far"``; a campaign not yet started counts
    as an ordinary day), and with no campaign in the month the shape is the weekday rhythm alone
    (``method = "weekday"``). Handbook 002 part 02 (targets in step with the
    platforms' festival calendar).

    Parameters
    ----------
    series : daily values (e.g. GMV), indexed by date (midnight), with history before the month.
    month : ``YYYY-MM``.
    as_of : the last day counted as known.
    campaigns : contract ``campaigns`` (start_date, end_date; channel, festival, type optional).

    Returns
    -------
    DataFrame
        date, weekday_weight, ly_date, ly_value, festival, level, weight, share, cum_share, method.
    """
    start = pd.Timestamp(month + "-01")
    end = start + pd.offsets.MonthBegin(1)
    days = pd.date_range(start, end - DAY, freq="D")
    series = series.sort_index()
    cal_all = _campaign_days(campaigns, start - pd.DateOffset(years=1) - pd.Timedelta(weeks=weeks + 60), end)
    wd = weekday_index(series, as_of=min(as_of, end - DAY), weeks=weeks, exclude=cal_all.ne(""))
    ly_days = pd.DatetimeIndex([d - pd.DateOffset(years=1) for d in days])  # Feb 29 -> Feb 28
    ly_value = series.reindex(ly_days).to_numpy(dtype="float64")
    ly_fest = cal_all.reindex(ly_days).fillna("").to_numpy()
    this_fest = cal_all.reindex(days).fillna("").to_numpy()
    out = pd.DataFrame({"date": days, "weekday_weight": wd.reindex(days.day_of_week).to_numpy(),
                        "ly_date": ly_days, "ly_value": ly_value, "festival": this_fest})
    enough = np.isfinite(ly_value).mean() >= 0.8 and np.nansum(ly_value) > 0
    if enough:
        ly_wd = wd.reindex(ly_days.day_of_week).to_numpy()
        level = ly_value / ly_wd
        ordinary = pd.Series(np.where(ly_fest == "", level, np.nan))
        smooth = ordinary.rolling(7, center=True, min_periods=1).mean().to_numpy()
        level = np.where(ly_fest != "", level, smooth)
        level = np.where(np.isfinite(level), level, np.nanmean(level))
        out["level"] = level
        out["method"] = "last year x weekday"
    else:
        out["level"] = _festival_lift_so_far(series, days, this_fest, wd, as_of=as_of,
                                             campaign_days=cal_all.index[cal_all.ne("")])
        out["method"] = "weekday x festival lift so far" if (this_fest != "").any() else "weekday"
    out["weight"] = out["weekday_weight"] * out["level"]
    out["share"] = out["weight"] / out["weight"].sum()
    out["cum_share"] = out["share"].cumsum()
    return out


def _festival_lift_so_far(series: pd.Series, days: pd.DatetimeIndex, fest: np.ndarray, wd: pd.Series, *,
                          as_of: pd.Timestamp, campaign_days: pd.DatetimeIndex | None = None) -> np.ndarray:
    """Level per day when last year is missing: 1 on ordinary days; on the days of a campaign, the
    lift that campaign has shown so far this month (its elapsed days' weekday-adjusted mean over the
    ordinary days' of the eight weeks up to ``as_of``, every campaign day left out); 1 for a
    campaign that has not started."""
    level = np.ones(len(days))
    if not (fest != "").any():
        return level
    adj = series / wd.reindex(series.index.day_of_week).to_numpy()
    window = adj.loc[(adj.index > as_of - pd.Timedelta(weeks=8)) & (adj.index <= as_of)]
    skip = days[fest != ""] if campaign_days is None else days[fest != ""].union(campaign_days)
    ordinary = window.loc[~window.index.isin(skip)]
    base = float(ordinary.mean()) if len(ordinary) else np.nan
    if not np.isfinite(base) or base <= 0:
        return level
    for name in pd.unique(fest[fest != ""]):  # a few campaigns a month
        mask = fest == name
        seen = adj.reindex(days[mask & (days <= as_of)]).dropna()
        if len(seen):
            level[mask] = float(seen.mean()) / base
    return level


def pacing(daily: pd.DataFrame, month: str, *, as_of, targets: pd.DataFrame | None = None,
           campaigns: pd.DataFrame | None = None, weeks: int = 12) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pacing (进度) of a month in progress and its projected month end, per channel and shop-wide.

    projected = GMV to date / expected share of the month elapsed by ``as_of`` (from
    :func:`daily_shape` of the shop's daily GMV: weekday rhythm and last year's festival days),
    against the straight line GMV to date x days in month / days elapsed. gap = projected - plan;
    ``uplift_needed`` is how much the rest of the month must beat its expected pace to reach the
    plan ((plan - to date) / (projected - to date) - 1). When the data run past ``as_of`` (a past
    month replayed), ``actual`` is the real month end, for a back-test.

    Returns
    -------
    (table, curve)
        table: channel (``all`` last), to_date, expected_share, projected, straight_line, plan,
        projected_attainment, gap, uplift_needed, actual; curve: the shape of :func:`daily_shape`
        with the shop's actual and cumulative actual GMV per day.
    """
    _require(daily, "daily_kpis", ["date", "channel", "gmv"])
    as_of = pd.Timestamp(as_of).normalize()
    start = pd.Timestamp(month + "-01")
    end = start + pd.offsets.MonthBegin(1)
    if not (start <= as_of < end):
        raise ValueError(f"as_of {as_of:%Y-%m-%d} is not a day of {month}")
    shop = daily.groupby("date")["gmv"].sum()
    known = shop.loc[shop.index <= as_of]
    shape = daily_shape(known, month, as_of=as_of, campaigns=campaigns, weeks=weeks)
    elapsed = float(shape.loc[shape["date"] <= as_of, "share"].sum())
    n_days = len(shape)
    n_elapsed = int((shape["date"] <= as_of).sum())
    inmonth = daily.loc[(daily["date"] >= start) & (daily["date"] < end)]
    to_date = inmonth.loc[inmonth["date"] <= as_of].groupby("channel")["gmv"].sum()
    full = inmonth.groupby("channel")["gmv"].sum()
    table = pd.DataFrame({"to_date": to_date})
    table.loc["all"] = to_date.sum()
    table["expected_share"] = elapsed
    table["projected"] = table["to_date"] / elapsed if elapsed > 0 else np.nan
    table["straight_line"] = table["to_date"] * n_days / n_elapsed
    plan = pd.Series(dtype="float64")
    if targets is not None and not targets.empty:
        t = targets.loc[(targets["month"] == month) & (targets["metric"] == "gmv")]
        ch = t["channel"].fillna("all") if "channel" in t.columns else pd.Series("all", index=t.index)
        plan = t.assign(channel=ch.astype("str")).groupby("channel")["value"].sum()
    table["plan"] = plan.reindex(table.index)
    table["projected_attainment"] = _ratio(table["projected"], table["plan"])
    table["gap"] = table["projected"] - table["plan"]
    rest = table["projected"] - table["to_date"]
    table["uplift_needed"] = _ratio(table["plan"] - table["to_date"], rest) - 1
    last_data = daily["date"].max()
    table["actual"] = (full.reindex(table.index) if last_data >= end - DAY else np.nan)
    if last_data >= end - DAY:
        table.loc["all", "actual"] = full.sum()
    body = table.drop(index="all").sort_values("to_date", ascending=False)
    table = pd.concat([body, table.loc[["all"]]]).rename_axis("channel").reset_index()
    curve = shape.assign(gmv=shop.reindex(shape["date"]).to_numpy())
    curve["cum_gmv"] = curve["gmv"].cumsum()
    return table, curve


@dataclass
class TargetResult:
    """Section 4a: plan against actual."""

    month: str
    note: str | None = None
    pva: pd.DataFrame | None = None         #: GMV plan vs actual, month x channel
    scorecard: pd.DataFrame | None = None   #: the report month's metrics, shop-wide
    by_channel: pd.DataFrame | None = None  #: the report month's GMV plan vs actual per channel
    shares: pd.DataFrame | None = None      #: channel share of GMV vs the plan's
    attainment: float = float("nan")
    ytd_attainment: float = float("nan")
    max_share_gap: float = float("nan")
    max_share_gap_channel: str = "channels"
    behind: pd.DataFrame = field(default_factory=_no_alerts)  #: channels below the attainment line this month

    def attainment_matrix(self, months: int = 13) -> pd.DataFrame | None:
        """GMV attainment per channel (rows, the shop last) and month (columns), the last ``months``."""
        if self.pva is None:
            return None
        wide = self.pva.pivot(index="channel", columns="month", values="attainment")
        wide = wide[wide.columns[-months:]]
        rows = [c for c in wide.index if c != "all"] + (["all"] if "all" in wide.index else [])
        return wide.reindex(rows)

    @property
    def scorecard_view(self):
        if self.scorecard is None:
            return self.note
        return _styled(self.scorecard, dec2=["plan", "actual", "gap"], pct=["attainment"])

    @property
    def channel_view(self):
        if self.by_channel is None:
            return self.note
        t = self.by_channel.merge(self.shares[["channel", "plan_share", "actual_share", "share_gap"]],
                                  on="channel", how="left")
        return _styled(t.drop(columns="month"), money=["plan", "actual", "gap"],
                       pct=["attainment", "plan_share", "actual_share"], signed_pct=["share_gap"])


def target_report(data, *, record=None) -> TargetResult:
    """Section 4a on a Dataset: GMV plan vs actual by month and channel, the report month's
    scorecard of every planned metric, and each channel's share of GMV against the plan's."""
    cfg = _settings(data)
    month = _report_month(data)
    res = TargetResult(month)
    note = data.missing_note("targets")
    if note:
        res.note = _skip(record, "Targets", note)
        return res
    head = _paid_orders(data)
    customer = _order_customers(data, head)
    # buyers and new customers are read for the report month's scorecard only
    counts = None if customer is None else _buyer_counts(head, customer, [month])
    actuals = _actuals(data.derived("daily_kpis"), counts)
    pva = plan_vs_actual(data["targets"], actuals, metric="gmv")
    pva = pva.loc[pva["month"] <= month]
    res.pva = pva
    res.scorecard = month_scorecard(data["targets"], actuals, month)
    m = pva.loc[pva["month"] == month]
    if m.empty:
        res.note = _skip(record, "Targets", f"targets has no GMV plan for {month}")
        return res
    res.by_channel = pd.concat([m.loc[m["channel"] != "all"].sort_values("plan", ascending=False),
                                m.loc[m["channel"] == "all"]], ignore_index=True)
    res.shares = channel_share_vs_plan(pva, month)
    shop = m.loc[m["channel"] == "all"]
    if len(shop):
        res.attainment = float(shop["attainment"].iloc[0])
    ytd = pva.loc[(pva["channel"] == "all") & (pva["month"].str[:4] == month[:4])]
    res.ytd_attainment = float(_ratio(ytd["actual"].sum(), ytd["plan"].sum()))
    if len(res.shares):
        i = res.shares["share_gap"].abs().idxmax()
        res.max_share_gap = float(abs(res.shares.loc[i, "share_gap"]))
        res.max_share_gap_channel = str(res.shares.loc[i, "channel"])
    ch = m.loc[m["channel"] != "all"]
    behind = ch.loc[ch["attainment"] < float(cfg["attainment_min"])].sort_values("attainment")
    res.behind = behind.assign(
        severity=np.where(behind["attainment"] < 0.9, "medium", "low"),
        message=[f"GMV {a:.0%} of plan ({g:+,.0f})" for a, g in zip(behind["attainment"], behind["gap"])])
    return res


def plot_plan_vs_actual(result: TargetResult, *, channel: str = "all", months: int = 13, ax=None,
                        title: str | None = None):
    """Bars of actual GMV per month with the plan as a line, and the attainment above each bar."""
    import matplotlib.pyplot as plt

    from . import charts

    ax = ax or plt.gca()
    pva = result.pva
    if pva is None:
        return _empty(ax, result.note)
    d = pva.loc[pva["channel"] == channel].tail(months)
    x = np.arange(len(d))
    colors = np.where(d["attainment"] >= 1, "#55A868", "#C44E52")
    ax.bar(x, d["actual"], color=colors, alpha=0.85, label="actual 实际")
    ax.plot(x, d["plan"], color="black", marker="_", ms=18, lw=0, mew=2.5, label="plan 计划")
    for i, (_, r) in enumerate(d.iterrows()):  # 13 months
        if pd.notna(r["attainment"]):
            ax.text(i, max(r["actual"], r["plan"]) * 1.02, f"{r['attainment']:.0%}", ha="center", fontsize=8)
    ax.set_xticks(x, d["month"], rotation=45, ha="right")
    charts.format_money_axis(ax)
    ax.legend(frameon=False, loc="upper left")
    ax.set_title(title or "GMV against plan by month (green: plan met) 目标达成")
    return ax


def plot_attainment(result: TargetResult, *, months: int = 13, ax=None, title: str | None = None):
    """Heatmap of GMV attainment (达成率) by channel and month: green above plan, red below."""
    import matplotlib.pyplot as plt

    from . import charts

    ax = ax or plt.gca()
    matrix = result.attainment_matrix(months)
    if matrix is None or matrix.empty:
        return _empty(ax, result.note)
    return charts.heatmap(matrix, ax=ax, fmt="{:.0%}", cmap="RdYlGn", vmin=0.8, vmax=1.2,
                          title=title or "GMV attainment by channel and month (plan = 100%) 渠道月度达成率")


@dataclass
class PacingResult:
    """Section 4b: pacing of a month in progress."""

    month: str
    as_of: pd.Timestamp | None = None
    note: str | None = None
    table: pd.DataFrame | None = None
    curve: pd.DataFrame | None = None
    method: str = ""
    projected: float = float("nan")
    straight_line: float = float("nan")
    plan: float = float("nan")
    projected_attainment: float = float("nan")
    actual: float = float("nan")
    behind: pd.DataFrame = field(default_factory=_no_alerts)
    in_progress: bool = True   #: False when a complete month is replayed as of an earlier day

    @property
    def severity(self) -> str:
        """Severity of a projection below plan: medium for a month in progress, low for a replay
        (the month is over; the targets section judges it)."""
        return "medium" if self.in_progress else "low"

    @property
    def label(self) -> str:
        when = f"as of {self.as_of:%m-%d}" if self.as_of is not None else ""
        replay = ", replayed" if not self.in_progress else ""
        return f"Projected month end against plan ({when}{replay}) 月底预测达成率"

    @property
    def view(self):
        if self.table is None:
            return self.note
        return _styled(self.table, money=["to_date", "projected", "straight_line", "plan", "gap", "actual"],
                       pct=["expected_share", "projected_attainment"], signed_pct=["uplift_needed"])


def pacing_report(data, *, as_of=None, day: int = 0, record=None) -> PacingResult:
    """Section 4b on a Dataset: pace the report month as of ``as_of`` (a date), or as of its
    ``day``-th day (0: the last day with data). A complete month replayed this way shows how the
    projection would have done (``actual``)."""
    cfg = _settings(data)
    month = _report_month(data)
    res = PacingResult(month)
    daily = data.derived("daily_kpis")
    start = pd.Timestamp(month + "-01")
    end = start + pd.offsets.MonthBegin(1)
    inmonth = daily.loc[(daily["date"] >= start) & (daily["date"] < end)]
    if inmonth.empty:
        res.note = _skip(record, "Pacing", f"no orders in {month}")
        return res
    last = inmonth["date"].max()
    if as_of is None:
        as_of = min(start + pd.Timedelta(days=day - 1), last) if day > 0 else last
    res.as_of = pd.Timestamp(as_of)
    targets = data["targets"] if data.has("targets") else None
    campaigns = data["campaigns"] if data.has("campaigns") else None
    res.table, res.curve = pacing(daily, month, as_of=res.as_of, targets=targets, campaigns=campaigns,
                                  weeks=int(cfg["weekday_weeks"]))
    res.method = str(res.curve["method"].iloc[0])
    shop = res.table.iloc[-1]
    res.projected, res.straight_line, res.plan = float(shop["projected"]), float(shop["straight_line"]), float(shop["plan"])
    res.projected_attainment, res.actual = float(shop["projected_attainment"]), float(shop["actual"])
    res.in_progress = bool(np.isnan(res.actual))  # the data stop before the month's last day
    if targets is None:
        _skip(record, "Pacing against the plan", data.missing_note("targets"))
    if campaigns is None:
        _skip(record, "Pacing: festival calendar", data.missing_note("campaigns") +
              " Festivals in the shape come from last year's days alone, without smoothing the rest.")
    ch = res.table.loc[res.table["channel"] != "all"]
    if not res.in_progress:  # a replayed month: its channels are judged by the targets section
        return res
    behind = ch.loc[ch["projected_attainment"] < float(cfg["attainment_min"])].sort_values("projected_attainment")
    res.behind = behind.assign(
        severity=np.where(behind["projected_attainment"] < 0.9, "medium", "low"),
        message=[f"projected month end {p:.0%} of plan as of {res.as_of:%m-%d} ({g:+,.0f})"
                 for p, g in zip(behind["projected_attainment"], behind["gap"])])
    return res


def channel_targets(targets: TargetResult, pace: PacingResult) -> pd.DataFrame:
    """The action list of the monthly target review: per channel the month's plan, actual,
    attainment and gap, with the pacing as of the pacing day (projected, uplift needed)."""
    cols = ["channel", "plan", "actual", "attainment", "gap"]
    base = targets.by_channel[cols] if targets.by_channel is not None else pd.DataFrame(columns=cols)
    if pace.table is None:
        return base
    p = pace.table[["channel", "to_date", "projected", "projected_attainment", "uplift_needed"]].rename(
        columns={"to_date": f"to_{pace.as_of:%m_%d}"})
    if base.empty:
        return p
    out = base.merge(p, on="channel", how="outer")
    out = out.assign(_shop=out["channel"].eq("all")).sort_values(["_shop", "plan"], ascending=[True, False])
    return _rounded(out.drop(columns="_shop").reset_index(drop=True))


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Money to the fen and ratios to four places, for a spreadsheet."""
    out = frame.copy()
    for c in out.select_dtypes("number").columns:  # a dozen columns
        small = out[c].abs().max() <= 10 if out[c].notna().any() else True
        out[c] = out[c].round(4 if small else 2)
    return out


def plot_pacing(result: PacingResult, *, ax=None, title: str | None = None):
    """Cumulative GMV of the month: actual to the pacing day, the shaped projection and the straight
    line to month end, the plan, and (for a past month) what really happened; festival days shaded."""
    import matplotlib.pyplot as plt

    from . import charts

    ax = ax or plt.gca()
    if result.curve is None:
        return _empty(ax, result.note)
    c = result.curve
    known = c["date"] <= result.as_of
    to_date = float(c.loc[known, "gmv"].sum())
    proj = to_date + (c["share"].cumsum() - c.loc[known, "share"].sum()) / c.loc[known, "share"].sum() * to_date
    n_el = int(known.sum())
    straight = to_date / n_el * np.arange(1, len(c) + 1)
    ahead = ~known | (c["date"] == result.as_of)  # start the projections at the pacing day
    ax.plot(c.loc[ahead, "date"], proj[ahead], color="#4C72B0", ls="--", lw=2,
            label=f"projection (weekday and festival shape) {charts.money(result.projected)}")
    ax.plot(c.loc[ahead, "date"], straight[ahead], color="grey", ls=":", lw=2,
            label=f"straight line {charts.money(result.straight_line)}")
    if c["date"].max() <= c.dropna(subset=["gmv"])["date"].max() and np.isfinite(result.actual):
        ax.plot(c["date"], c["cum_gmv"], color="#BBBBBB", lw=1.5, label=f"what happened {charts.money(result.actual)}")
    ax.plot(c.loc[known, "date"], c.loc[known, "cum_gmv"], color="black", lw=2.5,
            label=f"actual to {result.as_of:%m-%d} {charts.money(to_date)}")
    if np.isfinite(result.plan):
        ax.axhline(result.plan, color="#C44E52", lw=1.2, label=f"plan {charts.money(result.plan)}")
    fest = c.loc[c["festival"] != ""]
    for _, r in fest.iterrows():  # at most a month of days
        ax.axvspan(r["date"] - pd.Timedelta(hours=12), r["date"] + pd.Timedelta(hours=12), color="#F2B134", alpha=0.15, lw=0)
    top = np.nanmax([float(np.nanmax(proj)), result.plan, result.actual, to_date])
    ax.set_ylim(0, top * 1.1)
    for name, days in fest.groupby("festival", sort=False)["date"]:  # a few festivals at most
        ax.text(days.iloc[0], top * 1.07, f" {name} 大促", color="#B07D10", fontsize=9, va="top")
    ax.axvline(result.as_of + pd.Timedelta(hours=12), color="black", lw=0.8, ls="-.")
    charts.format_money_axis(ax)
    ax.legend(frameon=False, loc="upper left", fontsize=9)
    ax.set_title(title or f"Pacing of {result.month} as of {result.as_of:%Y-%m-%d} 月度进度与月底预测")
    return ax


# ---------------------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------------------

@exercise("01.category_share", "Share of the report month's GMV from the category 露营装备 (camping gear)")
def _camping_share(data) -> float:
    lines = _lines(data, True)
    if getattr(data, "month", None):
        start = pd.Timestamp(_report_month(data) + "-01")
        which = _in_period(lines, start, start + pd.offsets.MonthBegin(1))
    else:
        which = np.arange(len(lines.gmv))
    gmv = pd.Series(lines.gmv[which])
    camping = lines.categories.get_indexer(["露营装备"])[0]
    return float(gmv.loc[lines.category[which] == camping].sum() / gmv.sum())


@exercise("01.conversion_contribution", "Contribution of conversion to the change of GMV against the previous month, in yuan")
def _conversion_contribution(data) -> float:
    tree = gmv_tree(data.derived("daily_kpis"), _report_month(data), base=_shift(_report_month(data), -1))
    return float(tree.loc[tree["channel"] == "total", "c_conversion"].iloc[0])
