"""Product selection and range (选品与商品结构): demand and search-term growth, products bought
together and bundle candidates, listing quality, a selection scorecard per SKU and category, range
roles, the hot-product lifecycle and price position against competitors.

Chapter 02 of the playbook; handbook 000 §2.1 (选品), §2.2 (商品信息: titles with core keywords,
attributes), §2.4 (商品组合与捆绑: complementary products sold together to lift AOV); 001 part 2
(a term whose searches grew 300%; a related-product set that lifted AOV by 25%); 002 part 03
(爆款生命周期管理: introduction, growth, maturity, decline; new launches); 003 stages 1-2 (引流款 /
利润款 / 形象款; titles with core, attribute and promotion words; 渗透定价 vs 撇脂定价).

The building blocks work on plain DataFrames and are tested on hand-built tables; the
``*_report(data)`` functions run a whole section on a loaded :class:`~playbook.loading.Dataset`
and return a result whose tables are either the section's answer or a one-row note naming the
missing table, so the notebook never needs an ``if``.

Example::

    data = playbook.load("data/samples", month="2026-10")
    demand = selection.demand_report(data)
    demand.rising                      # 露营灯 with its growth against a year earlier
    rules = selection.association_rules(data.order_items, min_support=0.002, min_confidence=0.05)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from .derived import (column_codes, fixed_width_bytes, id_integers, isin_ids as _isin, per_dataset, positions,
                      unique_ids, unique_positions)
from .exercises import exercise
from .metrics import paid_mask
from .charts import draw_note as _draw_note, note_frame as _note_frame

__all__ = [
    "settings_table", "sales_lines", "growth_table", "association_rules", "bundle_candidates",
    "title_quality", "supply_capability", "competition", "selection_scorecard", "category_scorecard",
    "role_performance", "lifecycle_stages", "launch_curves", "price_bands", "price_position",
    "DemandResult", "BundleResult", "ListingResult", "ScorecardResult", "RoleResult", "LifecycleResult",
    "PriceResult", "demand_report", "bundle_report", "listing_report", "scorecard_report", "role_report",
    "lifecycle_report", "price_report", "plot_growth", "plot_term_trend", "plot_bundles", "plot_scorecard",
    "plot_roles", "plot_launch_curves", "plot_lifecycle", "plot_price_position",
]

DAY = pd.Timedelta(days=1)
STAGES = ["introduction", "growth", "maturity", "decline"]
STAGE_LABELS = {"introduction": "introduction 导入期", "growth": "growth 成长期",
                "maturity": "maturity 成熟期", "decline": "decline 衰退期"}
ROLE_LABELS = {"traffic": "traffic 引流款", "profit": "profit 利润款", "image": "image 形象款"}
_SPEC = re.compile(r"\d+(?:\.\d+)?\s*(?:cm|mm|m|米|l|ml|kg|g|w|v|寸|人|件套|件|只装|只|双装|双|层|号|码|p)?"
                   r"|[sml]码|xl|(?:大|中|小|特大)号", re.I)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def _require(frame: pd.DataFrame | None, table: str, columns) -> None:
    if frame is None:
        raise KeyError(f"table {table} is needed here")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"table {table} lacks column(s) {', '.join(missing)}; "
                       f"it has {', '.join(map(str, frame.columns))}")


def _settings(data) -> dict:
    section = data.settings["selection"]
    return section.to_dict() if hasattr(section, "to_dict") else dict(section)


#: the columns this chapter reads from the large tables (a prepared table is read with these only:
#: an orders table of a large shop carries nineteen, with addresses and hashes never used here)
COLUMNS = {
    "orders": ("order_id", "order_ts", "customer_id", "channel", "paid_amount", "status"),
    "order_items": ("order_id", "sku", "qty", "unit_price"),
}


def _table(data, name: str) -> pd.DataFrame:
    """``data[name]``, or for a prepared table not read yet only its :data:`COLUMNS` (once per
    dataset; see :func:`playbook.loading.read_columns`)."""
    from .loading import read_columns

    return read_columns(data, name, COLUMNS[name])


def _end(data) -> pd.Timestamp:
    if getattr(data, "end", None) is not None:
        return pd.Timestamp(data.end)
    return _table(data, "orders")["order_ts"].max().normalize() + DAY


def _styled(frame: pd.DataFrame, *, pct=(), dec=(), money=(), count=(), head: int | None = None):
    """A table formatted for reading (percentages, money, counts; Chinese headers under lang zh),
    or the frame itself when it is a note or empty."""
    if frame is None or frame.empty or "note" in frame.columns:
        return frame
    from . import i18n

    frame = frame.head(head) if head else frame
    frame = i18n.localize(frame.reset_index(drop=True))
    lab = i18n.column_label
    fmt = {}
    for cols, f in ((pct, "{:+.0%}"), (dec, "{:,.2f}"), (money, "¥{:,.0f}"), (count, "{:,.0f}")):
        fmt.update({lab(c): f for c in cols if lab(c) in frame.columns})
    fmt.update({c: "{:.1%}" for c in frame.columns if c in {lab(x) for x in _SHARE_COLUMNS}})
    fmt.update({c: (lambda v: "" if pd.isna(v) else f"{v:%Y-%m-%d}") for c in frame.columns
                if pd.api.types.is_datetime64_any_dtype(frame[c])})
    return frame.style.format(fmt, na_rep="–").hide(axis="index")


_SHARE_COLUMNS = ("share", "share_of_sales", "revenue_share", "margin_share", "margin_rate", "support",
                  "confidence", "attach_rate", "fill_rate", "expected_aov_effect", "on_time")


def _skip(record, section: str, note: str | None) -> str | None:
    """Record a skipped (part of a) section on the chapter record, when there is one."""
    if note and record is not None:
        record.skip(section, note)
    return note


def _alerts_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["severity", "subject", "message"])


def _rank_score(values: pd.Series, *, higher_is_better: bool = True) -> pd.Series:
    """0-100 percentile score (ties share the average rank); NaN stays NaN."""
    s = pd.to_numeric(values, errors="coerce").astype("float64")
    r = s.rank(pct=True, ascending=higher_is_better, method="average")
    n = s.notna().sum()
    if n <= 1:
        return pd.Series(np.where(s.notna(), 50.0, np.nan), index=s.index)
    # map ranks 1/n .. 1 onto 0 .. 100
    return ((r * n - 1) / (n - 1) * 100).astype("float64")


def _distinct_per(owner: np.ndarray, value: np.ndarray, n: int) -> np.ndarray:
    """The number of distinct ``value`` codes (>= 0) per ``owner`` code 0..n-1 (a sort of the
    code pairs, no hashing of text)."""
    ok = (owner >= 0) & (value >= 0)
    if not ok.any():
        return np.zeros(n, dtype="int64")
    width = int(value.max()) + 1
    keys = np.sort(owner[ok].astype("int64") * width + value[ok])
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return np.bincount(keys // width, minlength=n)


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Positions of the first row of each code, for codes numbered by first appearance (as
    ``pd.factorize`` gives them): a row is first when its code exceeds every code before it."""
    if not len(codes):
        return np.zeros(0, dtype="int64")
    before = np.maximum.accumulate(np.concatenate(([-1], codes[:-1])))
    return np.flatnonzero(codes > before)


def settings_table(data) -> pd.DataFrame:
    """The chapter's thresholds from the settings (``[selection]``), one row each."""
    s = _settings(data)
    return pd.DataFrame({"setting": list(s), "value": [str(v) for v in s.values()]})


def _sku_positions(values: pd.Series, skus: pd.Series) -> np.ndarray | None:
    """:func:`~playbook.derived.unique_positions` of many lines' SKUs among the products: the
    lines' distinct SKUs are looked up (an Arrow dictionary encoding of the text, no Python
    objects) and each line takes its SKU's position; -1 for a SKU not listed or missing, None
    when the products repeat a SKU."""
    import pyarrow as pa

    try:
        arr = pa.array(values.array)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return unique_positions(values, skus)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return unique_positions(values, skus)
    enc = arr.dictionary_encode()
    at = unique_positions(pd.Series(enc.dictionary.to_pandas(), dtype=values.dtype), skus)
    if at is None:
        return None
    idx = enc.indices.fill_null(-1).to_numpy().astype(np.intp)
    return np.where(idx >= 0, at[np.maximum(idx, 0)] if len(at) else -1, -1).astype(np.intp)


def _read_column(data, table: str, column: str) -> pd.Series:
    """``data[table][column]``; of a prepared table not read yet, that column alone, read for this
    use and not kept (:func:`playbook.loading.read_columns` with ``keep=False``)."""
    from .loading import read_columns

    return read_columns(data, table, [column], keep=False)[column]


def _table_file(data, table: str):
    """The Parquet file of a prepared table not read yet, else None (plain mappings of frames too)."""
    return data.table_file(table) if hasattr(data, "table_file") else None


def _columns_of(data, table: str) -> list[str]:
    """The columns of a table, from a prepared file's schema without reading it."""
    file = _table_file(data, table)
    if file is not None:
        from .loading import file_columns

        return list(file_columns(file))
    return list(data[table].columns)


def _id_bytes(data, table: str) -> np.ndarray | None:
    """The ``order_id`` column of ``table`` as an ``(n, width)`` byte array
    (:func:`~playbook.derived.fixed_width_bytes`); a prepared file's column is read row group by
    row group into that array, so the Arrow text of seventy million ids is never held at once.
    None when an id is missing or the ids differ in width (the caller then joins the texts)."""
    file = _table_file(data, table)
    if file is None:
        fixed = fixed_width_bytes(_read_column(data, table, "order_id"))
        return None if fixed is None or fixed[1] is not None else fixed[0]
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(file)
    meta = pf.metadata
    raw, at = None, 0
    for g in range(meta.num_row_groups):
        if not meta.row_group(g).num_rows:
            continue
        col = pf.read_row_group(g, columns=["order_id"]).column(0)
        fixed = fixed_width_bytes(pd.Series(pd.arrays.ArrowExtensionArray(col)))  # Arrow's buffers, no copy
        if fixed is None or fixed[1] is not None:
            return None
        part = fixed[0]
        if raw is None:
            raw = np.empty((meta.num_rows, part.shape[1]), dtype=np.uint8)
        elif part.shape[1] != raw.shape[1] or at + len(part) > len(raw):
            return None
        raw[at:at + len(part)] = part
        at += len(part)
    return raw if raw is not None and at == len(raw) else None


#: order lines looked up at a time among the sorted order ids (keeps the temporaries small)
_BLOCK = 1 << 23


def _packed_positions(data) -> np.ndarray | str | None:
    """Row in ``orders`` of each ``order_items`` row (-1: no such order), what
    :func:`~playbook.derived.positions` gives, with the ids packed into 64-bit integers
    (:func:`~playbook.derived.id_integers`) and, when the orders' ids increase (a prepared
    folder's do), looked up by binary search block by block, with no hash table. None when the
    order ids repeat; ``"text"`` when the ids do not pack (the caller joins the texts)."""
    ob = _id_bytes(data, "orders")
    ints = None
    if ob is not None:
        ib = _id_bytes(data, "order_items")
        if ib is not None and ib.shape[1] == ob.shape[1]:
            ints = id_integers(ob, ib)
        del ib
    del ob
    if ints is None:
        return "text"
    keys, values = ints
    del ints
    n = len(keys)
    if n >= 2 and not bool((keys[1:] > keys[:-1]).all()):  # not increasing: a hash of the integers
        index = pd.Index(keys)
        if not index.is_unique:
            return None
        return index.get_indexer(values).astype(np.intp)
    pos = np.full(len(values), -1, dtype=np.intp)
    if not n:
        return pos
    for s in range(0, len(values), _BLOCK):
        v = values[s:s + _BLOCK]
        at = np.minimum(np.searchsorted(keys, v), n - 1)
        pos[s:s + _BLOCK] = np.where(keys[at] == v, at, -1)
    return pos


def _paid_orders(data) -> np.ndarray:
    """:func:`~playbook.metrics.paid_mask` of the orders as a boolean array; of a prepared table,
    from the status column's codes (:func:`~playbook.derived.column_codes`, no text per order)."""
    if "status" not in _columns_of(data, "orders"):
        return np.ones(data.rows("orders") if hasattr(data, "rows") else len(data["orders"]), dtype=bool)
    if _table_file(data, "orders") is None:
        return paid_mask(_table(data, "orders")).to_numpy(dtype=bool)
    codes, values = column_codes(data, "orders", "status")
    cancelled = values.get_indexer(["cancelled"])[0]
    return codes != cancelled if cancelled >= 0 else np.ones(len(codes), dtype=bool)


def _item_products(data, skus: pd.Series) -> np.ndarray | None:
    """Position among the products (``skus``) of each order_items row's SKU (-1: not listed or
    missing), None when the products repeat a SKU (:func:`_sku_positions`); a prepared file's SKU
    column is read as a dictionary (its codes, the distinct SKUs looked up once)."""
    file = _table_file(data, "order_items")
    if file is None:
        return _sku_positions(_read_column(data, "order_items", "sku"), skus)
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    col = pq.read_table(file, columns=["sku"], read_dictionary=["sku"]).column(0)
    if col.num_chunks == 0 or not pa.types.is_dictionary(col.type):
        return _sku_positions(_read_column(data, "order_items", "sku"), skus)
    col = col.unify_dictionaries()
    dictionary = col.chunk(0).dictionary
    at = unique_positions(pd.Series(dictionary.to_pylist(), dtype=skus.dtype), skus)
    if at is None:
        return None
    at = np.append(at, -1).astype(np.int32)  # the last slot: a missing SKU
    idx = pc.fill_null(pa.chunked_array([c.indices for c in col.chunks]), len(dictionary))
    del col
    return at[idx.to_numpy()]


def _compact(codes: np.ndarray) -> np.ndarray:
    """Row positions (-1 .. n) in int32 when they fit (a hundred million lines take half the memory)."""
    if not len(codes) or (codes.max() < np.iinfo(np.int32).max and codes.min() >= -1):
        return codes.astype(np.int32, copy=False)
    return codes


class _Lines:
    """The paid order lines of a dataset as row positions: ``items`` (the order_items row of each
    line), ``orders`` (its order's row in ``orders``) and ``products`` (its product's row, or None),
    all in compact integer arrays, with each line's quantity and revenue and each order's time and
    paid amount. Nothing else of the source tables is held: a section's columns are taken for the
    rows it asks for (:meth:`frame`), text columns (ids, channel) read from the tables only then;
    a shop of a hundred million lines keeps about 30 bytes a line. When a join key repeats or a
    SKU is unknown, ``merged`` holds the whole frame made by merges instead."""

    def __init__(self, data):
        import weakref

        try:
            self._data = weakref.ref(data)
        except TypeError:  # a plain mapping of frames: held (it is not cached per dataset)
            self._data = lambda: data
        order_cols, item_cols = _columns_of(data, "orders"), _columns_of(data, "order_items")
        missing = [c for c in ["order_id", "sku", "qty", "unit_price"] if c not in item_cols]
        if missing:
            raise KeyError(f"table order_items lacks column(s) {', '.join(missing)}; "
                           f"it has {', '.join(map(str, item_cols))}")
        self.order_cols = [c for c in ["order_id", "order_ts", "customer_id", "channel", "paid_amount"]
                           if c in order_cols]
        self.prod_t = data["products"] if "products" in data else None
        self.prod_cols = ([c for c in ["sku", "category", "role", "unit_cost"] if c in self.prod_t.columns]
                          if self.prod_t is not None else [])
        self.merged = None
        self.ts = None  # each line's order time, when the lines are not in time order (see window)
        self.order_ts, self.by_rows = None, False  # each order's time; lines found by order rows (see window)
        self.codes: dict = {}
        paid = _paid_orders(data)
        pos = _packed_positions(data)
        if isinstance(pos, str):  # ids that do not pack into integers: look the texts up
            oid = _read_column(data, "orders", "order_id")
            iid = _read_column(data, "order_items", "order_id")
            if unique_ids(oid):
                pos = positions(iid, oid)
            else:
                pos = unique_positions(iid, oid.take(np.flatnonzero(paid)))
                if pos is not None:
                    rows = np.flatnonzero(paid)
                    pos = np.where(pos >= 0, rows[np.maximum(pos, 0)] if len(rows) else -1, -1)
            del oid, iid
        elif pos is None:  # order ids repeat: the paid orders may still be unique
            oid = _read_column(data, "orders", "order_id")
            rows = np.flatnonzero(paid)
            pos = unique_positions(_read_column(data, "order_items", "order_id"), oid.take(rows))
            if pos is not None:
                pos = np.where(pos >= 0, rows[np.maximum(pos, 0)] if len(rows) else -1, -1)
            del oid
        if pos is not None:
            found = pos >= 0
            pos[found] = np.where(paid[pos[found]], pos[found], -1)  # lines of paid orders only
            del found
        at = None
        if pos is not None and self.prod_t is not None:
            at = _item_products(data, self.prod_t["sku"])
            if at is not None and (at[pos >= 0] < 0).any():
                at = None
        if pos is None or (self.prod_t is not None and at is None):
            self.merged = _sales_lines_merged(data)
            self.ts = self.merged["order_ts"].to_numpy() if "order_ts" in self.merged else None
            self.sorted = self.ts is not None and bool((self.ts[1:] >= self.ts[:-1]).all())
            return
        hit = pos >= 0
        self.items = _compact(np.flatnonzero(hit))
        self.orders = _compact(pos[hit])
        del pos
        self.products = None
        if at is not None:
            at = at[hit]
            self.products = at.astype(np.int16) if len(self.prod_t) < np.iinfo(np.int16).max else at
        del at, hit
        from .loading import read_columns

        nums = read_columns(data, "order_items", ["qty", "unit_price"], keep=False)
        qty = np.asarray(nums["qty"].array.take(self.items), dtype="float64")
        self.revenue_ = qty * np.asarray(nums["unit_price"].array.take(self.items))
        self.qty_ = qty
        if nums["qty"].dtype.kind in "iu":  # whole numbers: kept in the smallest type that holds them
            for t in (np.int8, np.int16, np.int32):
                small = qty.astype(t)
                if bool((small == qty).all()):
                    self.qty_ = small
                    break
        del nums, qty
        #: each order's columns that the sections take per line (numbers: kept, a few bytes an order)
        self.order_values = {c: _read_column(data, "orders", c).array for c in ["order_ts", "paid_amount"]
                             if c in self.order_cols}
        self.order_ts = (np.asarray(self.order_values["order_ts"].to_numpy()) if "order_ts" in self.order_values
                         else None)
        # in time order: orders by time and lines by order, so a window is a slice found per order
        self.by_rows = self.order_ts is not None and bool((self.order_ts[1:] >= self.order_ts[:-1]).all()) \
            and bool((self.orders[1:] >= self.orders[:-1]).all())
        if self.order_ts is not None and not self.by_rows:
            self.ts = self.order_ts[self.orders]
        self.sorted = self.by_rows or (self.ts is not None and bool((self.ts[1:] >= self.ts[:-1]).all()))

    def __len__(self) -> int:
        return len(self.merged) if self.merged is not None else len(self.items)

    def _position(self, when, side: str = "left") -> int:
        """The first line whose order is placed at ``when`` or later (lines in time order)."""
        t = np.datetime64(pd.Timestamp(when))
        if self.merged is None and self.by_rows:
            return int(np.searchsorted(self.orders, np.searchsorted(self.order_ts, t, side), "left"))
        return int(np.searchsorted(self.ts, t, side))

    def window(self, start=None, end=None):
        """The lines of orders placed in ``[start, end)``: a slice when the lines come in time
        order, else the positions of the rows."""
        if start is None and end is None:
            return slice(0, len(self))
        if self.ts is None and not (self.merged is None and self.by_rows):
            raise KeyError("table orders lacks column order_ts, needed for a time window")
        if self.sorted:
            lo = 0 if start is None else self._position(start)
            hi = len(self) if end is None else self._position(end)
            return slice(lo, max(lo, hi))
        keep = np.ones(len(self), dtype=bool)
        if start is not None:
            keep &= self.ts >= np.datetime64(pd.Timestamp(start))
        if end is not None:
            keep &= self.ts < np.datetime64(pd.Timestamp(end))
        return np.flatnonzero(keep)

    def first_ts(self):
        """The earliest order time of the lines (NaT when there is none)."""
        if self.merged is None and self.by_rows:
            return pd.Timestamp(self.order_ts[self.orders[0]]) if len(self) else pd.NaT
        return pd.Series(self.ts).min()

    def frame(self, rows=slice(None), columns=None) -> pd.DataFrame:
        """The lines at ``rows`` (a :meth:`window`) with ``columns`` (default all), in the order of
        :func:`sales_lines`."""
        if self.merged is not None:
            f = self.merged[self.merged.columns if columns is None else
                            [c for c in self.merged.columns if c in columns]]
            return (f.iloc[rows] if isinstance(rows, slice) else f.take(rows)).reset_index(drop=True)
        want = (lambda c: True) if columns is None else (lambda c: c in columns or
                                                       (c == "qty" and ({"revenue", "cost"} & set(columns))) or
                                                       (c == "unit_price" and "revenue" in columns) or
                                                       (c == "unit_cost" and "cost" in columns))
        data = self._data()
        it, od = self.items[rows], self.orders[rows]
        pr = self.products[rows] if self.products is not None else None
        out: dict = {}
        for c in ["order_id", "sku", "qty", "unit_price"]:
            if want(c):
                out[c] = (self.qty_[rows].astype("float64") if c == "qty" else
                          _read_column(data, "order_items", c).array.take(it))
        for c in self.order_cols[1:]:
            if want(c):
                values = self.order_values[c] if c in self.order_values else _read_column(data, "orders", c).array
                out[c] = values.take(od)
        if want("revenue"):
            out["revenue"] = self.revenue_[rows]
        if pr is not None:
            for c in self.prod_cols[1:]:
                if want(c):
                    out[c] = self.prod_t[c].array.take(pr)
            if "unit_cost" in self.prod_cols and want("cost"):
                out["cost"] = out["qty"] * np.asarray(out["unit_cost"], dtype="float64")
        f = pd.DataFrame(out)
        if columns is not None:
            f = f[[c for c in f.columns if c in columns]]
        return f

    def revenue(self) -> np.ndarray:
        """qty x unit_price of every line."""
        if self.merged is None:
            return self.revenue_
        if "revenue" not in self.codes:
            self.codes["revenue"] = self.frame(columns=["revenue"])["revenue"].to_numpy()
        return self.codes["revenue"]

    def product_table_codes(self, column: str, *, fill=None):
        """The products' ``column`` as integer codes of its sorted distinct values (-1 for a missing
        value) and those values, once per lines; None when the lines were merged."""
        if self.merged is not None or self.products is None or column not in self.prod_cols:
            return None
        key = (column, fill)
        if key not in self.codes:
            values = self.prod_t[column]
            if fill is not None:
                values = values.fillna(fill)
            self.codes[key] = pd.factorize(values, sort=True)
        return self.codes[key]

    def product_codes(self, column: str, rows=slice(None), *, fill=None):
        """Each line's product ``column`` as integer codes of its sorted distinct values (-1 for a
        missing value), and those values: a group-by on text without hashing ten million texts.
        None when the lines were merged (the caller groups the text)."""
        found = self.product_table_codes(column, fill=fill)
        if found is None:
            return None
        codes, uniques = found
        return codes[self.products[rows]], uniques

    def order_codes(self, rows=slice(None)):
        """Each line's order as an integer code numbered by first appearance (what ``pd.factorize``
        of the order ids gives), and each line's row in ``orders``; None when merged."""
        if self.merged is not None:
            return None
        od = self.orders[rows]
        if len(od) and bool((od[1:] >= od[:-1]).all()):  # lines stored order by order
            codes = np.concatenate(([0], np.cumsum(od[1:] != od[:-1]))) if len(od) else od
        else:
            codes, _ = pd.factorize(od)
        return codes.astype(np.intp), od


def _lines_of(data) -> _Lines:
    """The :class:`_Lines` of a dataset, built once per loaded dataset."""
    return per_dataset(data, "selection.lines", _Lines, tables=("orders", "order_items", "products"))


def sales_lines(data, *, start=None, end=None) -> pd.DataFrame:
    """Paid order lines with the order's time (and customer, channel, category, unit cost when
    present): sku, order_id, order_ts, qty, revenue (qty x unit_price), cost (qty x unit_cost),
    for orders placed in ``[start, end)`` when given.

    Needs ``orders`` and ``order_items``; ``products`` adds category, role and cost. The join is
    made once per loaded dataset (as row positions) and reused by the chapter's sections (a big
    shop has millions of lines); the returned frame is new, so changing it never touches the cache.
    """
    lines = _lines_of(data)
    return lines.frame(lines.window(start, end))


def _sales_lines(data) -> pd.DataFrame:
    """Every line of :func:`sales_lines`, joined afresh: the lines of paid orders (in the lines'
    order) with the order's columns, then the product's. Both joins look the keys up once (a hash
    of the ids) and take rows by position; a key that repeats falls back to a merge."""
    return _Lines(data).frame()


def _sales_lines_merged(data) -> pd.DataFrame:
    """:func:`sales_lines` by merges, for keys that repeat or SKUs not among the products."""
    orders = _table(data, "orders")
    items = _table(data, "order_items")
    keep = [c for c in ["order_id", "order_ts", "customer_id", "channel", "paid_amount"] if c in orders.columns]
    paid = orders[keep].loc[paid_mask(orders)]
    left = items[["order_id", "sku", "qty", "unit_price"]]
    pos = unique_positions(left["order_id"], paid["order_id"])
    if pos is None:
        lines = left.merge(paid, on="order_id", how="inner")
    else:
        hit = pos >= 0
        lines = left.loc[hit].reset_index(drop=True)
        at = pos[hit]
        for c in keep[1:]:
            lines[c] = paid[c].take(at).reset_index(drop=True)
    lines["qty"] = lines["qty"].astype("float64")
    lines["revenue"] = lines["qty"] * lines["unit_price"]
    if "products" in data:
        prod = data["products"]
        cols = [c for c in ["sku", "category", "role", "unit_cost"] if c in prod.columns]
        at = unique_positions(lines["sku"], prod["sku"])
        if at is None or (at < 0).any():  # repeated or unknown SKUs: the merge's own rules
            lines = lines.merge(prod[cols], on="sku", how="left")
        else:
            for c in cols[1:]:
                lines[c] = prod[c].take(at).reset_index(drop=True)
        if "unit_cost" in lines.columns:
            lines["cost"] = lines["qty"] * lines["unit_cost"]
    return lines


# ---------------------------------------------------------------------------------------------
# 1. Demand: category and search-term growth
# ---------------------------------------------------------------------------------------------

def growth_table(frame: pd.DataFrame, *, key: str, date: str, value: str, end, months: int = 3,
                 rising: float = 0.5, fading: float = -0.3) -> pd.DataFrame:
    """Growth of ``value`` per ``key``: the last ``months`` full months before ``end`` against the
    same months a year earlier (seasonality-safe), or against the ``months`` before them when the
    data do not reach back a year.

    Formula: growth = recent / base - 1; a key is *rising* when growth >= ``rising``, *fading*
    when growth <= ``fading`` (001 part 2: a term whose searches grew 300% was a product to make).

    Parameters
    ----------
    frame : rows with ``key``, ``date`` (datetime) and ``value``.
    end : exclusive end of the recent window (the first day after the report month).

    Returns
    -------
    DataFrame: key, recent, base, growth, basis ('year over year' or 'previous months'), trend
    ('rising', 'fading', 'stable'), sorted by growth descending.

    Examples
    --------
    >>> f = pd.DataFrame({"k": ["a", "a"], "d": pd.to_datetime(["2025-10-05", "2026-10-05"]), "v": [1, 3]})
    >>> growth_table(f, key="k", date="d", value="v", end="2026-11-01", months=1)["growth"].tolist()
    [2.0]
    """
    end = pd.Timestamp(end).normalize().replace(day=1) if pd.Timestamp(end).day != 1 else pd.Timestamp(end)
    rec_start = end - pd.DateOffset(months=months)
    yoy_start, yoy_end = rec_start - pd.DateOffset(years=1), end - pd.DateOffset(years=1)
    prev_start = rec_start - pd.DateOffset(months=months)
    d = frame[date]
    first = d.min()
    v = pd.to_numeric(frame[value], errors="coerce").astype("float64")
    # the data reach back a year when they start within the first month of the year-earlier window
    basis = "year over year" if pd.notna(first) and first.to_period("M") <= yoy_start.to_period("M") else "previous months"
    b0, b1 = (yoy_start, yoy_end) if basis == "year over year" else (prev_start, rec_start)
    recent = v.where((d >= rec_start) & (d < end)).groupby(frame[key]).sum()
    base = v.where((d >= b0) & (d < b1)).groupby(frame[key]).sum()
    out = pd.DataFrame({"recent": recent, "base": base}).fillna(0.0)
    out["growth"] = out["recent"] / out["base"].where(out["base"] > 0) - 1
    out["basis"] = basis
    out["trend"] = np.select([out["growth"] >= rising, out["growth"] <= fading], ["rising", "fading"], "stable")
    out.index.name = key
    return out.reset_index().sort_values("growth", ascending=False, na_position="last").reset_index(drop=True)


def _growth_codes(lines: "_Lines", codes: np.ndarray, uniques: pd.Index, *, key: str, end, months: int = 3,
                  rising: float = 0.5, fading: float = -0.3) -> pd.DataFrame:
    """:func:`growth_table` of the lines' revenue at their order times, keyed by a product column
    given as integer codes per product (``codes``) of the sorted distinct ``uniques`` (-1: no key):
    the same table, grouped on integers, taking only the lines of the two windows (a slice each
    when the lines come in time order) and never a code per line of the whole history."""
    end = pd.Timestamp(end).normalize().replace(day=1) if pd.Timestamp(end).day != 1 else pd.Timestamp(end)
    rec_start = end - pd.DateOffset(months=months)
    yoy_start, yoy_end = rec_start - pd.DateOffset(years=1), end - pd.DateOffset(years=1)
    prev_start = rec_start - pd.DateOffset(months=months)
    first = lines.first_ts()
    basis = "year over year" if pd.notna(first) and first.to_period("M") <= yoy_start.to_period("M") else "previous months"
    b0, b1 = (yoy_start, yoy_end) if basis == "year over year" else (prev_start, rec_start)
    sold = np.bincount(lines.products, minlength=len(codes)) > 0  # every key seen: the keys of the products sold
    present = np.flatnonzero(np.bincount(codes[sold][codes[sold] >= 0], minlength=len(uniques)))
    revenue = lines.revenue()

    def total(a, b):  # the window's lines in their order: the sums of a mask over all lines
        rows = lines.window(a, b)
        c, x = codes[lines.products[rows]], revenue[rows]
        return pd.Series(x[c >= 0]).groupby(c[c >= 0]).sum().reindex(present, fill_value=0.0)
    sums = pd.DataFrame({"recent": total(rec_start, end).to_numpy(), "base": total(b0, b1).to_numpy()},
                        index=uniques.take(present))
    out = sums.fillna(0.0)
    out["growth"] = out["recent"] / out["base"].where(out["base"] > 0) - 1
    out["basis"] = basis
    out["trend"] = np.select([out["growth"] >= rising, out["growth"] <= fading], ["rising", "fading"], "stable")
    out.index.name = key
    return out.reset_index().sort_values("growth", ascending=False, na_position="last").reset_index(drop=True)


def _category_growth(data, *, end, months: int, **kw) -> pd.DataFrame:
    """:func:`growth_table` of the paid lines' revenue per product category, on category codes."""
    lines = _lines_of(data)
    cc = lines.product_table_codes("category")
    if cc is None or (lines.ts is None and not lines.by_rows):
        return growth_table(lines.frame(columns=["order_ts", "revenue", "category"]), key="category",
                            date="order_ts", value="revenue", end=end, months=months, **kw)
    return _growth_codes(lines, *cc, key="category", end=end, months=months, **kw)


@dataclass
class DemandResult:
    """Section 1: category growth and search-term growth."""
    categories: pd.DataFrame
    terms: pd.DataFrame
    term_monthly: pd.DataFrame
    months: int = 3
    note: str | None = None
    term_note: str | None = None
    alerts: pd.DataFrame = field(default_factory=lambda: _alerts_frame([]))

    @property
    def rising(self) -> pd.DataFrame:
        return self.terms[self.terms["trend"] == "rising"] if "trend" in self.terms else self.terms

    @property
    def fading(self) -> pd.DataFrame:
        return self.terms[self.terms["trend"] == "fading"] if "trend" in self.terms else self.terms

    @property
    def year_over_year(self) -> bool:
        return "basis" in self.terms and bool((self.terms["basis"] == "year over year").all())

    @property
    def basis_note(self) -> str | None:
        """A warning when growth could not be measured against a year earlier."""
        if "basis" not in self.terms or self.year_over_year:
            return None
        return ("The data do not reach back a year before these months: growth is measured against the "
                "months just before, which mixes the season with the trend (a winter term fades every "
                "spring). Read rising and fading with care; the fading-term rule is not checked.")

    @property
    def rising_count(self) -> int | None:
        return int((self.terms["trend"] == "rising").sum()) if "trend" in self.terms else None

    @property
    def fading_count(self) -> int | None:
        """Fading terms, counted only when measured year over year (None otherwise)."""
        return int((self.terms["trend"] == "fading").sum()) if self.year_over_year else None

    @property
    def categories_view(self):
        return _styled(self.categories, pct=["growth"], money=["recent", "base"])

    @property
    def rising_view(self):
        return _styled(self.rising, pct=["growth"], count=["recent", "base"])

    @property
    def fading_view(self):
        return _styled(self.fading, pct=["growth"], count=["recent", "base"])

    @property
    def top_term(self) -> str | None:
        return None if self.rising.empty or "term" not in self.rising else str(self.rising["term"].iloc[0])

    @property
    def top_growth(self) -> float:
        t = self.terms
        return float(t["growth"].max()) if "growth" in t and t["growth"].notna().any() else float("nan")


def demand_report(data, *, record=None) -> DemandResult:
    """Category growth (paid revenue by category) and search-term growth, recent months against a
    year earlier. Needs order_items + products for categories and search_terms for the terms;
    either part is replaced by a note when its tables are missing."""
    s = _settings(data)
    end = _end(data)
    months, rising, fading = int(s["growth_months"]), float(s["rising_growth"]), float(s["fading_growth"])
    note = _skip(record, "Category growth", data.missing_note("order_items", "products", columns={"products": ["category"]}))
    if note:
        cats = _note_frame(note)
    else:
        cats = _category_growth(data, end=end, months=months, rising=rising, fading=fading)
        cats["share_of_sales"] = cats["recent"] / cats["recent"].sum()
    term_note = _skip(record, "Search-term growth", data.missing_note("search_terms"))
    alerts = []
    if term_note:
        terms, monthly = _note_frame(term_note), _note_frame(term_note)
    else:
        st = data["search_terms"]
        _require(st, "search_terms", ["date", "term", "searches"])
        terms = growth_table(st, key="term", date="date", value="searches", end=end, months=months,
                             rising=rising, fading=fading)
        if "category" in st.columns:
            cat_of = st.dropna(subset=["category"]).drop_duplicates("term").set_index("term")["category"]
            terms.insert(1, "category", terms["term"].map(cat_of))
        monthly = (st.assign(month=st["date"].dt.to_period("M").dt.to_timestamp())
                   .groupby(["month", "term"], observed=True)["searches"].sum().astype("float64").reset_index())
        yoy = (terms["basis"] == "year over year").all()
        for r in terms[(terms["trend"] == "rising") & yoy].itertuples():  # a handful of terms
            alerts.append({"severity": "low", "subject": r.term,
                           "message": f"searches for {r.term} {r.growth:+.0%} ({r.basis}): rising demand, check range and stock"})
        for r in terms[(terms["trend"] == "fading") & yoy].itertuples():
            alerts.append({"severity": "low", "subject": r.term,
                           "message": f"searches for {r.term} {r.growth:+.0%} ({r.basis}): fading demand, plan to run down stock"})
    return DemandResult(cats, terms, monthly, months=months, note=note, term_note=term_note,
                        alerts=_alerts_frame(alerts))


def plot_growth(result: DemandResult, *, what: str = "terms", ax=None):
    """Horizontal bars of growth per search term (``what='terms'``) or category, rising in green,
    fading in red."""
    import matplotlib.pyplot as plt

    frame = result.terms if what == "terms" else result.categories
    key = "term" if what == "terms" else "category"
    if "growth" not in frame:
        return _draw_note(ax, frame["note"].iloc[0], title="Growth")
    ax = ax if ax is not None else plt.gca()
    f = frame.dropna(subset=["growth"]).sort_values("growth")
    colors = f["trend"].map({"rising": "#2a9d8f", "fading": "#e76f51"}).fillna("#adb5bd")
    ax.barh(f[key], f["growth"], color=colors)
    ax.axvline(0, color="#333333", lw=0.8)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:+.0%}"))
    basis = f["basis"].iloc[0] if len(f) else ""
    ax.set_title(f"{'Search-term' if what == 'terms' else 'Category'} growth, last {result.months} months ({basis})")
    ax.set_xlabel("growth")
    ax.tick_params(axis="y", labelsize=8 if len(f) > 20 else 10)
    return ax


def plot_term_trend(result: DemandResult, terms=None, *, ax=None):
    """Monthly searches of a few terms (default: the top rising and the most fading), indexed to
    the first month = 100, so that terms of different size share one axis."""
    import matplotlib.pyplot as plt

    if "searches" not in result.term_monthly:
        return _draw_note(ax, result.term_monthly["note"].iloc[0], title="Search terms")
    ax = ax if ax is not None else plt.gca()
    if terms is None:
        t = result.terms.dropna(subset=["growth"])
        terms = list(t["term"].head(2)) + list(t["term"].tail(2))
    m = result.term_monthly[result.term_monthly["term"].isin(terms)]
    wide = m.pivot_table(index="month", columns="term", values="searches", aggfunc="sum")
    idx = wide / wide.iloc[:3].mean() * 100
    idx.plot(ax=ax, lw=2)
    ax.axhline(100, color="#999999", lw=0.8, ls="--")
    ax.set_title("Monthly searches, first three months = 100")
    ax.set_xlabel("")
    ax.set_ylabel("index")
    ax.legend(title="")
    return ax


# ---------------------------------------------------------------------------------------------
# 2. Baskets: association rules and bundle candidates
# ---------------------------------------------------------------------------------------------

def association_rules(order_items: pd.DataFrame, *, min_support: float, min_confidence: float,
                      max_len: int = 3, order_col: str = "order_id", item_col: str = "sku") -> pd.DataFrame:
    """Association rules X -> Y between the items bought in one order (Apriori by group-by).

    Frequent itemsets are counted level by level on the (order, item) pairs themselves: items with
    support >= ``min_support`` are kept, pairs are formed by joining each order's frequent items
    with themselves (item a < item b), larger sets by extending each frequent (k-1)-set occurrence
    with a larger frequent item of the same order. No orders-by-items matrix is ever built, so the
    memory grows with the number of order lines, not orders x SKUs (a million orders is fine).

    Formulas (Agrawal & Srikant 1994; Tan, Steinbach & Kumar, *Introduction to Data Mining*, ch. 6)::

        support(X -> Y)    = orders containing X and Y / all orders
        confidence(X -> Y) = support(X u Y) / support(X)
        lift(X -> Y)       = confidence(X -> Y) / support(Y)

    Handbook: 000 §2.4 (商品组合与捆绑), 001 part 2 (a related set lifted AOV by 25%).

    Parameters
    ----------
    order_items : one row per order line; columns ``order_id`` and ``sku`` (others ignored;
        duplicate lines of one item in one order count once).
    min_support : least share of orders an itemset must appear in (0-1).
    min_confidence : least confidence of a rule (0-1).
    max_len : largest itemset (antecedent + consequent) considered.

    Returns
    -------
    DataFrame with antecedent (tuple of items), consequent (tuple), size (items in the rule),
    count (orders with both), support, confidence, lift, antecedent_support, consequent_support;
    sorted by lift, support and confidence, descending.

    Examples
    --------
    >>> baskets = pd.DataFrame({"order_id": ["1", "1", "2", "2", "3"], "sku": ["a", "b", "a", "b", "a"]})
    >>> association_rules(baskets, min_support=0.5, min_confidence=0.5)[["antecedent", "consequent", "confidence"]].values.tolist()
    [[('b',), ('a',), 1.0], [('a',), ('b',), 0.6666666666666666]]
    """
    _require(order_items, "order_items", [order_col, item_col])
    if not 0 < min_support <= 1 or not 0 <= min_confidence <= 1:
        raise ValueError("min_support must lie in (0, 1] and min_confidence in [0, 1]")
    pairs = order_items[[order_col, item_col]].dropna()
    o_codes, _ = pd.factorize(pairs[order_col])
    i_codes, items = pd.factorize(pairs[item_col], sort=True)
    return _rules_of_codes(o_codes, i_codes, items, min_support=min_support, min_confidence=min_confidence,
                           max_len=max_len)


def _rules_of_codes(o_codes: np.ndarray, i_codes: np.ndarray, items: pd.Index, *, min_support: float,
                    min_confidence: float, max_len: int = 3) -> pd.DataFrame:
    """:func:`association_rules` of (order, item) pairs given as integer codes: orders numbered
    0..n-1, items as positions in ``items`` in the items' sorted order (a set is kept as a < b)."""
    cols = ["antecedent", "consequent", "size", "count", "support", "confidence", "lift",
            "antecedent_support", "consequent_support"]
    n = int(o_codes.max()) + 1 if len(o_codes) else 0
    if n == 0:
        return pd.DataFrame(columns=cols)
    min_count = min_support * n
    o_codes, i_codes = np.asarray(o_codes, dtype=np.intp), np.asarray(i_codes, dtype=np.intp)
    n_items = int(i_codes.max()) + 1 if len(i_codes) else 1
    first = ~pd.Series(o_codes * n_items + i_codes).duplicated().to_numpy()  # one (order, item) pair each
    o_codes, i_codes = o_codes[first], i_codes[first]
    if bool((o_codes[1:] >= o_codes[:-1]).all()) and float(n_items) ** max_len < 2.0 ** 62:
        counts, k = _frequent_sets(o_codes, i_codes, n_items, min_count, max_len)
    else:
        counts, k = _frequent_sets_merged(pd.DataFrame({"o": o_codes, "i0": i_codes}), min_count, max_len)
    return _rules_of_counts(counts, k, n, items, min_confidence)


def _frequent_sets(o: np.ndarray, i: np.ndarray, n_items: int, min_count: float, max_len: int):
    """The itemsets bought in at least ``min_count`` orders, as ``{size: frame of i0.., count}``
    sorted by the items, and the largest size: level by level, each frequent (k-1)-set of an
    order extended with the order's larger frequent items. ``o`` must come order by order
    (non-decreasing) with distinct (order, item) pairs; a set is held as one integer (its items
    as digits base ``n_items``), so counting is a sort of integers."""
    counts: dict[int, pd.DataFrame] = {}
    c = np.bincount(i, minlength=n_items)
    freq = np.flatnonzero((c > 0) & (c >= min_count - 1e-9))
    counts[1] = pd.DataFrame({"i0": freq, "count": c[freq].astype("int64")})
    frequent = np.zeros(n_items, dtype=bool)
    frequent[freq] = True
    keep = frequent[i]
    bo, bx = o[keep], i[keep]  # the frequent items of each order, order by order
    lo, key, last = bo, bx, bx  # the current level: order, set (as an integer), largest item
    k = 1
    while k < max_len and len(counts[k]) and len(lo):
        start = np.searchsorted(bo, lo, "left")
        m = np.searchsorted(bo, lo, "right") - start
        rep = np.repeat(np.arange(len(lo)), m)
        partner = start[rep] + (np.arange(len(rep)) - np.repeat(np.cumsum(m) - m, m))
        x = bx[partner]
        up = x > last[rep]
        rep, x = rep[up], x[up]
        new_key = key[rep] * n_items + x
        sets, cnt = np.unique(new_key, return_counts=True)
        ok = cnt >= min_count - 1e-9
        if not ok.any():
            break
        k += 1
        sets = sets[ok]
        digits = {f"i{j}": (sets // n_items ** (k - 1 - j)) % n_items for j in range(k)}
        counts[k] = pd.DataFrame(digits | {"count": cnt[ok].astype("int64")})
        frequent_set = np.isin(new_key, sets)
        lo, key, last = lo[rep][frequent_set], new_key[frequent_set], x[frequent_set]
    return counts, k


def _frequent_sets_merged(occ: pd.DataFrame, min_count: float, max_len: int):
    """:func:`_frequent_sets` by merges of the (order ``o``, item ``i0``) pairs, in any row order."""
    counts: dict[int, pd.DataFrame] = {}
    c1 = occ.groupby("i0").size().rename("count").reset_index()
    c1 = c1[c1["count"] >= min_count - 1e-9]
    counts[1] = c1
    base = occ[occ["i0"].isin(c1["i0"])].rename(columns={"i0": "x"})  # frequent items per order
    level = occ.merge(c1[["i0"]], on="i0")
    k = 1
    while k < max_len and len(counts[k]) and len(level):
        last = f"i{k - 1}"
        ext = level.merge(base, on="o")
        ext = ext[ext["x"] > ext[last]].rename(columns={"x": f"i{k}"})
        keys = [f"i{j}" for j in range(k + 1)]
        ck = ext.groupby(keys).size().rename("count").reset_index()
        ck = ck[ck["count"] >= min_count - 1e-9]
        if ck.empty:
            break
        k += 1
        counts[k] = ck
        level = ext.merge(ck[keys], on=keys)
    return counts, k


def _rules_of_counts(counts: dict, k: int, n: int, items: pd.Index, min_confidence: float) -> pd.DataFrame:
    """The rules of :func:`association_rules` from the frequent itemsets' counts (``n`` orders)."""
    cols = ["antecedent", "consequent", "size", "count", "support", "confidence", "lift",
            "antecedent_support", "consequent_support"]
    rules = []
    for size in range(2, k + 1):
        sets = counts[size]
        keys = [f"i{j}" for j in range(size)]
        for r in range(1, size):
            for ante in combinations(range(size), r):  # a few split patterns per size, vectorised over sets
                cons = [j for j in range(size) if j not in ante]
                f = sets.copy()
                a_sup = counts[r].rename(columns={f"i{j}": f"a{j}" for j in range(r)} | {"count": "a_count"})
                f = f.merge(a_sup, left_on=[keys[j] for j in ante], right_on=[f"a{j}" for j in range(r)])
                c_sup = counts[size - r].rename(columns={f"i{j}": f"c{j}" for j in range(size - r)} | {"count": "c_count"})
                f = f.merge(c_sup, left_on=[keys[j] for j in cons], right_on=[f"c{j}" for j in range(size - r)])
                if f.empty:
                    continue
                a_items = np.column_stack([items.to_numpy()[f[keys[j]].to_numpy()] for j in ante])
                c_items = np.column_stack([items.to_numpy()[f[keys[j]].to_numpy()] for j in cons])
                rules.append(pd.DataFrame({
                    "antecedent": [tuple(x) for x in a_items.tolist()],
                    "consequent": [tuple(x) for x in c_items.tolist()],
                    "size": size, "count": f["count"].to_numpy(),
                    "support": f["count"].to_numpy() / n,
                    "confidence": f["count"].to_numpy() / f["a_count"].to_numpy(),
                    "antecedent_support": f["a_count"].to_numpy() / n,
                    "consequent_support": f["c_count"].to_numpy() / n,
                }))
    if not rules:
        return pd.DataFrame(columns=cols)
    out = pd.concat(rules, ignore_index=True)
    out["lift"] = out["confidence"] / out["consequent_support"]
    out = out[out["confidence"] >= min_confidence - 1e-12]
    out["count"] = out["count"].astype("int64")
    return out[cols].sort_values(["lift", "support", "confidence"], ascending=False, kind="stable").reset_index(drop=True)


def bundle_candidates(rules: pd.DataFrame, lines: pd.DataFrame, *, min_lift: float = 2.0,
                      uptake: float = 0.10, discount: float = 0.10, prices: pd.Series | None = None,
                      titles: pd.Series | None = None) -> pd.DataFrame:
    """Pairs worth selling as a bundle (组合套餐), with their expected AOV effect.

    One row per unordered pair among the two-item rules with lift >= ``min_lift``; the *anchor* is
    the item with more orders, the *partner* the other. Expected effect of offering the partner
    at ``discount`` to every order with the anchor but without the partner, of which ``uptake``
    take it::

        extra revenue = anchor-only orders x uptake x partner price x (1 - discount)
        AOV effect    = extra revenue / all orders / AOV

    The observed AOV of orders with both against orders with the anchor alone shows what a bundle
    order is worth (001 part 2: a related set lifted AOV by 25%).

    Parameters
    ----------
    rules : output of :func:`association_rules`.
    lines : paid order lines with order_id, sku, revenue and paid_amount (see :func:`sales_lines`).
    prices : list price per sku (default: average selling price in ``lines``).

    Returns
    -------
    DataFrame: anchor, partner, orders_both, attach_rate (confidence anchor -> partner), lift,
    aov_both, aov_anchor_only, aov_uplift, expected_extra_revenue, expected_aov_effect.
    """
    cols = ["anchor", "partner", "orders_both", "attach_rate", "lift", "aov_both", "aov_anchor_only",
            "aov_uplift", "expected_extra_revenue", "expected_aov_effect"]
    two = _bundle_pairs(rules, min_lift)
    if two.empty:
        return pd.DataFrame(columns=cols)
    # orders and SKUs as integer codes (orders by first appearance, as drop_duplicates keeps them)
    oc, _ = pd.factorize(lines["order_id"], use_na_sentinel=False)
    sc, skus = pd.factorize(lines["sku"], use_na_sentinel=False)
    na_order = bool(lines["order_id"].iloc[_first_rows(oc)].isna().any())
    return _bundle_table(two, lines, oc, sc, skus, na_order=na_order, uptake=uptake, discount=discount,
                         prices=prices, titles=titles)


def _bundle_table(two: pd.DataFrame, lines: pd.DataFrame, oc: np.ndarray, sc: np.ndarray, skus: pd.Index, *,
                  na_order: bool, uptake: float, discount: float, prices: pd.Series | None,
                  titles: pd.Series | None) -> pd.DataFrame:
    """The body of :func:`bundle_candidates` on integer codes: ``oc`` each line's order numbered
    by first appearance, ``sc`` its SKU as a position in ``skus``; ``lines`` needs only revenue,
    qty and paid_amount (order_id instead when there is no paid_amount)."""
    cols = ["anchor", "partner", "orders_both", "attach_rate", "lift", "aov_both", "aov_anchor_only",
            "aov_uplift", "expected_extra_revenue", "expected_aov_effect"]
    first = _first_rows(oc)  # each order's first line, in order of appearance
    if "paid_amount" in lines:
        value = lines["paid_amount"].to_numpy(dtype="float64", na_value=np.nan)[first]
        aov = float(pd.Series(value).mean())
    else:
        value = lines["revenue"].groupby(oc).sum().to_numpy(dtype="float64")
        aov = float(lines.groupby("order_id")["revenue"].sum().mean())
    n_orders = len(first) - int(na_order)
    if prices is None:
        prices = lines["revenue"].groupby(sc).sum() / lines["qty"].groupby(sc).sum()
        prices.index = skus.take(prices.index)
    sku_orders = pd.DataFrame({"o": oc, "sku": sc})
    sku_orders = sku_orders[~pd.Series(oc.astype("int64") * (int(sc.max()) + 1 if len(sc) else 1) + sc).duplicated().to_numpy()]
    code_of = pd.Series(np.arange(len(skus)), index=skus)
    pair_codes = pd.DataFrame({"a": code_of.reindex(two["a"]).fillna(-1).to_numpy(dtype="int64"),
                               "c": code_of.reindex(two["c"]).fillna(-1).to_numpy(dtype="int64")})
    sub = sku_orders[sku_orders["sku"].isin(np.union1d(pair_codes["a"], pair_codes["c"]))]
    pair_orders = sub.merge(sub, on="o", suffixes=("_a", "_c"))
    pair_orders = pair_orders.merge(pair_codes, left_on=["sku_a", "sku_c"], right_on=["a", "c"])
    pair_orders["value"] = value[pair_orders["o"].to_numpy()]
    both = pair_orders.groupby(["a", "c"]).agg(orders_both=("o", "size"), aov_both=("value", "mean"))
    both.index = pd.MultiIndex.from_arrays([skus.take(both.index.get_level_values(0)),
                                            skus.take(both.index.get_level_values(1))], names=["a", "c"])
    anchor_orders = sub.assign(value=value[sub["o"].to_numpy()]).groupby("sku").agg(
        n=("o", "size"), total=("value", "sum"))
    anchor_orders.index = skus.take(anchor_orders.index)
    out = two.set_index(["a", "c"])[["confidence", "lift"]].join(both, how="left").reset_index()
    an = anchor_orders.reindex(out["a"]).to_numpy()
    only_n = an[:, 0] - out["orders_both"].to_numpy()
    only_total = an[:, 1] - out["orders_both"].to_numpy() * out["aov_both"].to_numpy()
    out["aov_anchor_only"] = only_total / np.where(only_n > 0, only_n, np.nan)
    out["aov_uplift"] = out["aov_both"] / out["aov_anchor_only"] - 1
    p = out["c"].map(prices).astype("float64")
    out["expected_extra_revenue"] = only_n * uptake * p * (1 - discount)
    out["expected_aov_effect"] = out["expected_extra_revenue"] / n_orders / aov
    out = out.rename(columns={"a": "anchor", "c": "partner", "confidence": "attach_rate"})
    if titles is not None:
        out.insert(1, "anchor_title", out["anchor"].map(titles))
        out.insert(3, "partner_title", out["partner"].map(titles))
        cols = cols[:1] + ["anchor_title"] + cols[1:2] + ["partner_title"] + cols[2:]
    return out[cols].sort_values("expected_extra_revenue", ascending=False).reset_index(drop=True)


def _bundle_pairs(rules: pd.DataFrame, min_lift: float) -> pd.DataFrame:
    """The two-item rules anchor -> partner with lift >= ``min_lift`` (one per unordered pair)."""
    two = rules[(rules["size"] == 2) & (rules["lift"] >= min_lift)]
    if two.empty:
        return two
    two = two.assign(a=two["antecedent"].str[0], c=two["consequent"].str[0])
    # the anchor is the item sold more often: its rule is anchor -> partner, the smaller support side
    two = two[two["antecedent_support"] >= two["consequent_support"]]
    return two.drop_duplicates(subset=["a", "c"])


def _bundles_of_codes(rules, lines, oc, sc, skus, *, min_lift, uptake, discount, prices, titles) -> pd.DataFrame:
    """:func:`bundle_candidates` with orders and SKUs given as codes (see :func:`_bundle_table`)."""
    two = _bundle_pairs(rules, min_lift)
    if two.empty:
        return bundle_candidates(rules.iloc[:0], lines.iloc[:0], min_lift=min_lift, titles=titles)
    return _bundle_table(two, lines, oc, sc, skus, na_order=False, uptake=uptake, discount=discount,
                         prices=prices, titles=titles)


@dataclass
class BundleResult:
    """Section 2: products bought together and bundle candidates."""
    rules: pd.DataFrame
    bundles: pd.DataFrame
    orders: int = 0
    multi_item_share: float = float("nan")
    note: str | None = None
    alerts: pd.DataFrame = field(default_factory=lambda: _alerts_frame([]))

    @property
    def rules_view(self) -> pd.DataFrame:
        if "lift" not in self.rules:
            return self.rules
        v = self.rules.head(15).copy()
        v["antecedent"] = v["antecedent"].map(" + ".join)
        v["consequent"] = v["consequent"].map(" + ".join)
        return v[["antecedent", "consequent", "count", "support", "confidence", "lift"]]

    @property
    def rules_table(self):
        return _styled(self.rules_view, dec=["lift"], count=["count"])

    @property
    def bundles_view(self):
        return _styled(self.bundles, pct=["aov_uplift"], dec=["lift"], money=["aov_both", "aov_anchor_only",
                                                                               "expected_extra_revenue"])

    @property
    def bundle_count(self) -> int:
        return len(self.bundles) if "anchor" in self.bundles else 0

    @property
    def best_aov_uplift(self) -> float:
        return float(self.bundles["aov_uplift"].iloc[0]) if self.bundle_count else float("nan")

    @property
    def expected_aov_effect(self) -> float:
        return float(self.bundles["expected_aov_effect"].sum()) if self.bundle_count else float("nan")


def bundle_report(data, *, record=None) -> BundleResult:
    """Association rules over the paid orders of the last ``basket_days`` days and the bundle
    candidates with their expected AOV effect. Needs order_items."""
    s = _settings(data)
    note = _skip(record, "Baskets and bundles", data.missing_note("order_items"))
    if note:
        return BundleResult(_note_frame(note), _note_frame(note), note=note)
    end = _end(data)
    titles = data["products"].set_index("sku")["title"] if "products" in data and "title" in data["products"] else None
    prices = data["products"].set_index("sku")["list_price"] if "products" in data and "list_price" in data["products"] else None
    rule_args = dict(min_support=float(s["min_support"]), min_confidence=float(s["min_confidence"]),
                     max_len=int(s["max_itemset"]))
    bundle_args = dict(min_lift=float(s["bundle_min_lift"]), uptake=float(s["bundle_uptake"]),
                       discount=float(s["bundle_discount"]), prices=prices, titles=titles)
    all_lines = _lines_of(data)
    rows = all_lines.window(end - int(s["basket_days"]) * DAY, end)
    orders, skus = all_lines.order_codes(rows), all_lines.product_codes("sku", rows)
    if orders is None or skus is None:  # lines made by merges: group the ids themselves
        lines = all_lines.frame(rows)
        oc, _ = pd.factorize(lines["order_id"])
        sc, _ = pd.factorize(lines["sku"])
        rules = association_rules(lines, **rule_args)
        bundles = bundle_candidates(rules, lines, **bundle_args)
    else:  # orders by first appearance, SKUs as codes of the sorted SKUs: no text is hashed
        oc, sc = orders[0], skus[0]
        rules = _rules_of_codes(oc, sc, skus[1], **rule_args)
        # the order values come from paid_amount; revenue and qty only price the partners without list prices
        cols = (["paid_amount"] if prices is not None else ["qty", "revenue", "paid_amount"]) \
            if "paid_amount" in all_lines.order_cols else ["qty", "revenue", "order_id"]
        bundles = _bundles_of_codes(rules, all_lines.frame(rows, cols), oc, sc, skus[1], **bundle_args)
    n = int(oc.max()) + 1 if len(oc) and oc.max() >= 0 else 0
    per_order = _distinct_per(oc, sc, n)
    bundles = bundles.round({"attach_rate": 4, "lift": 2, "aov_both": 2, "aov_anchor_only": 2, "aov_uplift": 4,
                             "expected_extra_revenue": 2, "expected_aov_effect": 5})
    alerts = [{"severity": "low", "subject": f"{r.anchor}+{r.partner}",
               "message": f"bundle candidate: {r.attach_rate:.0%} of {r.anchor} orders add {r.partner} (lift {r.lift:.1f})"}
              for r in bundles.head(5).itertuples()]
    return BundleResult(rules, bundles, orders=n, multi_item_share=float((per_order > 1).mean()) if n else float("nan"),
                        alerts=_alerts_frame(alerts))


def plot_bundles(result: BundleResult, *, ax=None):
    """Bundle candidates: attach rate (bar) with the lift written beside each bar."""
    import matplotlib.pyplot as plt

    if not result.bundle_count:
        return _draw_note(ax, result.note or "No pair passes the support and lift lines.", title="Bundles")
    ax = ax if ax is not None else plt.gca()
    b = result.bundles.head(12).iloc[::-1]
    labels = b["anchor"] + " → " + b["partner"]
    ax.barh(labels, b["attach_rate"], color="#2a9d8f")
    for y, (rate, lift, up) in enumerate(zip(b["attach_rate"], b["lift"], b["aov_uplift"])):
        ax.text(rate, y, f"  lift {lift:.0f}, order value {up:+.0%}", va="center", fontsize=8)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xlim(0, b["attach_rate"].max() * 1.8)
    ax.set_title("Bundle candidates: share of the anchor's orders that add the partner")
    ax.set_xlabel("attach rate (confidence)")
    return ax


# ---------------------------------------------------------------------------------------------
# 3. Listing quality
# ---------------------------------------------------------------------------------------------

def title_quality(products: pd.DataFrame, *, keywords: pd.DataFrame | None = None, min_chars: int = 8,
                  attribute_words=(), top_terms: int = 5) -> pd.DataFrame:
    """Checks each listing title (商品标题) for the three faults of 000 §2.2 / 003 stage 2: too
    short, without the category's top search terms, without attributes.

    - ``chars``: characters without spaces; *too short* when under ``min_chars``.
    - ``has_keyword``: the title contains one of its category's ``top_terms`` most searched terms
      (``keywords``: term, category, searches) or its own subcategory name as a core word.
    - ``has_attribute``: a specification (a number with or without a unit: 175g, 3-4人, 90cm), one
      of ``attribute_words`` (material, function: 纯棉? no, see below), or at least two
      space-separated descriptor segments after the product word.

    Returns
    -------
    DataFrame: sku, category, title, chars, too_short, has_keyword, has_attribute, issues (count),
    problem (text), sorted by issues then chars.
    """
    _require(products, "products", ["sku", "category"])
    p = products[[c for c in ["sku", "category", "subcategory", "title"] if c in products.columns]].copy()
    title = p["title"].astype("string").fillna("") if "title" in p else pd.Series("", index=p.index, dtype="string")
    p["title"] = title
    compact = title.str.replace(r"\s+", "", regex=True)
    p["chars"] = compact.str.len().astype("int64")
    p["too_short"] = p["chars"] < min_chars
    # category keywords: top terms by searches
    has_kw = pd.Series(False, index=p.index)
    if keywords is not None and len(keywords) and "category" in keywords:
        top = (keywords.groupby(["category", "term"], observed=True)["searches"].sum().reset_index()
               .sort_values("searches", ascending=False).groupby("category").head(top_terms))
        for cat, terms in top.groupby("category")["term"]:  # one pass per category (a handful)
            rows = p["category"] == cat
            pattern = "|".join(re.escape(t) for t in terms)
            has_kw |= rows & compact.str.contains(pattern, regex=True)
    p["has_keyword"] = has_kw.astype(bool)
    segments = title.str.strip().str.split(r"\s+", regex=True).str.len().fillna(0)
    spec = compact.str.contains(_SPEC, regex=True)
    words = "|".join(re.escape(w) for w in attribute_words)
    attr_word = compact.str.contains(words, regex=True) if words else False
    p["has_attribute"] = ((segments >= 3) | spec | (attr_word & (segments >= 2))).astype(bool)
    p["issues"] = p["too_short"].astype(int) + (~p["has_keyword"]).astype(int) + (~p["has_attribute"]).astype(int)
    problem = np.where(p["too_short"], "title too short; ", "")
    problem = problem + np.where(~p["has_keyword"], "no top search term of its category; ", "")
    problem = problem + np.where(~p["has_attribute"], "no attributes (spec, material, function); ", "")
    p["problem"] = pd.Series(problem, index=p.index).str.rstrip("; ")
    cols = ["sku", "category", "title", "chars", "too_short", "has_keyword", "has_attribute", "issues", "problem"]
    return p[cols].sort_values(["issues", "chars"], ascending=[False, True]).reset_index(drop=True)


@dataclass
class ListingResult:
    """Section 3: listing quality."""
    listings: pd.DataFrame
    top_terms: pd.DataFrame
    min_chars: int = 8
    note: str | None = None

    @property
    def to_fix(self) -> pd.DataFrame:
        """Listings to rewrite: too short, or missing both the keywords and the attributes."""
        if "issues" not in self.listings:
            return self.listings
        l = self.listings
        return l[l["too_short"] | (~l["has_keyword"] & ~l["has_attribute"])].reset_index(drop=True)

    @property
    def summary_view(self):
        return _styled(self.summary)

    @property
    def to_fix_count(self) -> int | None:
        return len(self.to_fix) if "issues" in self.listings else None

    @property
    def to_fix_share(self) -> float:
        return len(self.to_fix) / len(self.listings) if "issues" in self.listings and len(self.listings) else float("nan")

    @property
    def short_count(self) -> int:
        return int(self.listings["too_short"].sum()) if "too_short" in self.listings else 0

    @property
    def keyword_share(self) -> float:
        return float(self.listings["has_keyword"].mean()) if "has_keyword" in self.listings else float("nan")

    @property
    def summary(self) -> pd.DataFrame:
        if "issues" not in self.listings:
            return self.listings
        l = self.listings
        return pd.DataFrame({"check": [f"titles under {self.min_chars} characters", "without a top search term of the category",
                                       "without attributes", "listings to fix"],
                             "listings": [int(l["too_short"].sum()), int((~l["has_keyword"]).sum()),
                                          int((~l["has_attribute"]).sum()), len(self.to_fix)],
                             "share": [l["too_short"].mean(), (~l["has_keyword"]).mean(), (~l["has_attribute"]).mean(),
                                       len(self.to_fix) / max(len(l), 1)]})


def listing_report(data, *, record=None) -> ListingResult:
    """Title checks for every active listing; needs products.title, uses search_terms when present."""
    s = _settings(data)
    note = _skip(record, "Listing quality", data.missing_note("products", columns={"products": ["title"]}))
    if note:
        return ListingResult(_note_frame(note), _note_frame(note), note=note)
    prod = data["products"]
    if "is_active" in prod:
        prod = prod[prod["is_active"].fillna(True).astype(bool)]
    kw = None
    top = _note_frame("no search_terms: the keyword check uses nothing")
    if "search_terms" in data and "category" in data["search_terms"]:
        end = _end(data)
        st = data["search_terms"]
        kw = st[st["date"] >= end - int(s["keyword_days"]) * DAY]
        top = (kw.groupby(["category", "term"], observed=True)["searches"].sum().reset_index()
               .sort_values("searches", ascending=False).groupby("category").head(int(s["keyword_top_terms"]))
               .groupby("category")["term"].agg(" ".join).rename("top search terms").reset_index())
    listings = title_quality(prod, keywords=kw, min_chars=int(s["min_title_chars"]),
                             attribute_words=s.get("attribute_words", []), top_terms=int(s["keyword_top_terms"]))
    return ListingResult(listings, top, min_chars=int(s["min_title_chars"]))


# ---------------------------------------------------------------------------------------------
# 4. Selection scorecard: demand, growth, margin, competition, supply
# ---------------------------------------------------------------------------------------------

def supply_capability(purchase_orders: pd.DataFrame, *, start=None, end=None,
                      suppliers: pd.DataFrame | None = None, products: pd.DataFrame | None = None) -> pd.DataFrame:
    """Supplier lead time and fill rate per SKU from its received purchase orders (000 §2.1:
    supply capability is part of the selection decision).

    lead_time_days = mean(received_date - order_date); fill_rate = sum(qty_received) /
    sum(qty_ordered); on_time = share received by expected_date. Only POs received in
    ``[start, end)`` count. A SKU without received POs gets its supplier's quoted lead time
    (``suppliers.lead_time_days`` via ``products.supplier_id``) and no fill rate.

    Returns
    -------
    DataFrame: sku, pos, lead_time_days, fill_rate, on_time, lead_time_source ('POs' or 'quoted').
    """
    _require(purchase_orders, "purchase_orders", ["sku", "order_date", "qty_ordered"])
    po = purchase_orders
    rec = po["received_date"] if "received_date" in po else pd.Series(pd.NaT, index=po.index)
    keep = rec.notna()
    if start is not None:
        keep &= rec >= pd.Timestamp(start)
    if end is not None:
        keep &= rec < pd.Timestamp(end)
    p = po[keep]
    lt = (p["received_date"] - p["order_date"]).dt.days.astype("float64")
    qty_r = p["qty_received"].astype("float64") if "qty_received" in p else p["qty_ordered"].astype("float64")
    on_time = (p["received_date"] <= p["expected_date"]).astype("float64") if "expected_date" in p else np.nan
    g = pd.DataFrame({"sku": p["sku"], "lt": lt, "qr": qty_r, "qo": p["qty_ordered"].astype("float64"),
                      "ot": on_time}).groupby("sku")
    out = pd.DataFrame({"pos": g.size(), "lead_time_days": g["lt"].mean(),
                        "fill_rate": g["qr"].sum() / g["qo"].sum(), "on_time": g["ot"].mean()})
    out["lead_time_source"] = "POs"
    if products is not None and suppliers is not None and "supplier_id" in products and "lead_time_days" in suppliers:
        quoted = products.set_index("sku")["supplier_id"].map(suppliers.set_index("supplier_id")["lead_time_days"])
        missing = quoted.index.difference(out.index)
        extra = pd.DataFrame({"pos": 0, "lead_time_days": quoted.reindex(missing).astype("float64"),
                              "fill_rate": np.nan, "on_time": np.nan, "lead_time_source": "quoted"}, index=missing)
        out = pd.concat([out, extra]) if len(extra) else out
    out.index.name = "sku"
    return out.reset_index()


def competition(competitor_prices: pd.DataFrame, our_prices: pd.Series, *, start=None, end=None) -> pd.DataFrame:
    """Competitor count and price gap per SKU over ``[start, end)``.

    price_gap = mean competitor price / our list price - 1 (negative: competitors sell cheaper).

    Returns
    -------
    DataFrame: sku, competitors, competitor_price, price_gap.
    """
    _require(competitor_prices, "competitor_prices", ["date", "sku", "competitor", "price"])
    cp = competitor_prices
    keep = pd.Series(True, index=cp.index)
    if start is not None:
        keep &= cp["date"] >= pd.Timestamp(start)
    if end is not None:
        keep &= cp["date"] < pd.Timestamp(end)
    cp = cp[keep]
    g = cp.groupby("sku")
    out = pd.DataFrame({"competitors": g["competitor"].nunique(), "competitor_price": g["price"].mean()})
    out["price_gap"] = out["competitor_price"] / our_prices.reindex(out.index).astype("float64") - 1
    out.index.name = "sku"
    return out.reset_index()


def selection_scorecard(metrics: pd.DataFrame, *, weights: dict) -> pd.DataFrame:
    """Score each SKU 0-100 on demand, growth, margin, competition and supply, and combine the
    scores with ``weights`` (re-normalised over the scores a SKU has).

    Each score is a percentile rank among the SKUs (100 = best):

    - demand: revenue; growth: revenue growth; margin: gross margin rate;
    - competition: mean of fewer competitor listings and a larger price gap (competitors dearer);
    - supply: mean of a shorter lead time and a higher fill rate.

    combined = sum(weight_i x score_i) / sum(weight_i over available scores).

    Parameters
    ----------
    metrics : one row per SKU with revenue, growth, margin_rate, competitors, price_gap,
        lead_time_days, fill_rate (missing columns or values are left out of the combination).

    Returns
    -------
    ``metrics`` with demand_score, growth_score, margin_score, competition_score, supply_score
    and score, sorted by score descending.
    """
    m = metrics.copy()

    def col(name):
        return m[name] if name in m else pd.Series(np.nan, index=m.index)

    m["demand_score"] = _rank_score(col("revenue"))
    m["growth_score"] = _rank_score(col("growth"))
    m["margin_score"] = _rank_score(col("margin_rate"))
    m["competition_score"] = pd.concat([_rank_score(col("competitors"), higher_is_better=False),
                                        _rank_score(col("price_gap"))], axis=1).mean(axis=1)
    m["supply_score"] = pd.concat([_rank_score(col("lead_time_days"), higher_is_better=False),
                                   _rank_score(col("fill_rate"))], axis=1).mean(axis=1)
    parts = ["demand", "growth", "margin", "competition", "supply"]
    scores = m[[f"{p}_score" for p in parts]].to_numpy(dtype="float64")
    w = np.array([float(weights.get(p, 0.0)) for p in parts])
    avail = ~np.isnan(scores)
    num = np.nansum(scores * w, axis=1)
    den = (avail * w).sum(axis=1)
    m["score"] = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    return m.sort_values("score", ascending=False).reset_index(drop=True)


def category_scorecard(scorecard: pd.DataFrame, *, category_growth: pd.DataFrame | None = None) -> pd.DataFrame:
    """Revenue-weighted mean of the SKU scores per category, with the category's own growth.

    Returns
    -------
    DataFrame: category, skus, revenue, share, the five scores, score, growth.
    """
    sc = scorecard.copy()
    w = sc["revenue"].fillna(0).clip(lower=0) + 1e-9
    cols = ["demand_score", "growth_score", "margin_score", "competition_score", "supply_score", "score"]
    out = sc.groupby("category").agg(skus=("sku", "size"), revenue=("revenue", "sum"))
    for c in cols:
        v = sc[c]
        out[c] = (v * w).groupby(sc["category"]).sum() / (w.where(v.notna())).groupby(sc["category"]).sum()
    out["share"] = out["revenue"] / out["revenue"].sum()
    if category_growth is not None and "growth" in category_growth:
        out["growth"] = category_growth.set_index("category")["growth"].reindex(out.index)
    return out.reset_index().sort_values("score", ascending=False).reset_index(drop=True)


@dataclass
class ScorecardResult:
    """Section 4: the selection scorecard."""
    skus: pd.DataFrame
    categories: pd.DataFrame
    weights: dict
    push: float = 70
    review: float = 40
    note: str | None = None
    missing: list = field(default_factory=list)
    alerts: pd.DataFrame = field(default_factory=lambda: _alerts_frame([]))

    @property
    def view(self) -> pd.DataFrame:
        if "score" not in self.skus:
            return self.skus
        cols = ["sku", "title", "category", "revenue", "growth", "margin_rate", "competitors", "price_gap",
                "lead_time_days", "fill_rate", "demand_score", "growth_score", "margin_score", "competition_score",
                "supply_score", "score", "verdict"]
        v = self.skus[[c for c in cols if c in self.skus]]
        return v.round({"revenue": 2, "growth": 4, "margin_rate": 4, "price_gap": 4, "lead_time_days": 1,
                        "fill_rate": 4, "demand_score": 1, "growth_score": 1, "margin_score": 1,
                        "competition_score": 1, "supply_score": 1, "score": 1})

    @property
    def weak_revenue_share(self) -> float:
        if "score" not in self.skus:
            return float("nan")
        s = self.skus
        return float(s.loc[s["score"] < self.review, "revenue"].sum() / s["revenue"].sum())

    @property
    def to_review(self) -> pd.DataFrame:
        """SKUs scored under the review line, largest revenue first (the list to work through)."""
        if "verdict" not in self.view:
            return self.view
        v = self.view
        return v[v["verdict"] == "review"].sort_values("revenue", ascending=False).reset_index(drop=True)

    @property
    def to_push(self) -> pd.DataFrame:
        return self.view[self.view["verdict"] == "push"] if "verdict" in self.view else self.view

    @property
    def push_view(self):
        return _styled(self.to_push, pct=["growth", "price_gap"], dec=["lead_time_days"], money=["revenue"],
                       count=["competitors", "demand_score", "growth_score", "margin_score", "competition_score",
                              "supply_score", "score"], head=10)

    @property
    def review_view(self):
        return _styled(self.to_review, pct=["growth", "price_gap"], dec=["lead_time_days"], money=["revenue"],
                       count=["competitors", "demand_score", "growth_score", "margin_score", "competition_score",
                              "supply_score", "score"], head=10)

    @property
    def push_count(self) -> int | None:
        return len(self.to_push) if "verdict" in self.view else None

    @property
    def review_count(self) -> int | None:
        return len(self.to_review) if "verdict" in self.view else None


def scorecard_report(data, *, record=None) -> ScorecardResult:
    """The selection scorecard per SKU and category over the last ``scorecard_days`` days; the
    competition and supply scores are left out (with a note in ``missing``) when competitor_prices
    or purchase_orders are absent."""
    s = _settings(data)
    weights = dict(s["scorecard_weights"])
    note = _skip(record, "Selection scorecard", data.missing_note("order_items", "products", columns={"products": ["category"]}))
    if note:
        return ScorecardResult(_note_frame(note), _note_frame(note), weights, note=note)
    end = _end(data)
    days = int(s["scorecard_days"])
    prod = data["products"]
    lines = _lines_of(data)
    rows = lines.window(end - days * DAY)
    sku_codes = lines.product_codes("sku", rows)
    recent = lines.frame(rows, ["qty", "revenue", "cost"] + (["sku"] if sku_codes is None else []))
    if sku_codes is None:
        g = recent.groupby("sku")
    else:  # SKUs as codes of the sorted SKUs: the same groups without hashing the text
        g = recent.groupby(sku_codes[0])
    m = pd.DataFrame({"revenue": g["revenue"].sum(), "units": g["qty"].sum()})
    if "cost" in recent:
        m["margin_rate"] = 1 - g["cost"].sum() / m["revenue"].where(m["revenue"] > 0)
    if sku_codes is not None:
        m.index = sku_codes[1].take(m.index.to_numpy()).rename("sku")
    life = lifecycle_stages(data.derived("sku_daily"), end=end,
                            launch_dates=prod.set_index("sku")["launch_date"] if "launch_date" in prod else None,
                            months=int(s["lifecycle_months"]), short_months=int(s["growth_months"]))
    growth = life[["sku", "trend"]].rename(columns={"trend": "growth"})
    m = prod[[c for c in ["sku", "title", "category", "list_price", "is_active"] if c in prod]].merge(
        m, left_on="sku", right_index=True, how="left")
    if "is_active" in m:
        m = m[m["is_active"].fillna(True).astype(bool)].drop(columns="is_active")
    m[["revenue", "units"]] = m[["revenue", "units"]].fillna(0.0)
    m = m.merge(growth[["sku", "growth"]], on="sku", how="left")
    missing = []
    if "competitor_prices" in data and "list_price" in prod:
        comp = competition(data["competitor_prices"], prod.set_index("sku")["list_price"],
                           start=end - days * DAY, end=end)
        m = m.merge(comp, on="sku", how="left")
        m["competitors"] = m["competitors"].fillna(0)
    else:
        missing.append(_skip(record, "Scorecard: competition score", data.missing_note("competitor_prices", columns={"products": ["list_price"]})))
    if "purchase_orders" in data:
        sup = supply_capability(data["purchase_orders"], start=end - int(s["supply_days"]) * DAY, end=end,
                                suppliers=data["suppliers"] if "suppliers" in data else None, products=prod)
        m = m.merge(sup[["sku", "lead_time_days", "fill_rate"]], on="sku", how="left")
    else:
        missing.append(_skip(record, "Scorecard: supply score", data.missing_note("purchase_orders")))
    sc = selection_scorecard(m, weights=weights)
    push, review = float(s["score_push"]), float(s["score_review"])
    sc["verdict"] = np.select([sc["score"] >= push, sc["score"] < review], ["push", "review"], "keep")
    cat_growth = _category_growth(data, end=end, months=int(s["growth_months"]))
    cats = category_scorecard(sc, category_growth=cat_growth)
    alerts = [{"severity": "low", "subject": r.sku,
               "message": f"selection score {r.score:.0f} (under {review:g}) with revenue {r.revenue:,.0f}: review the SKU"}
              for r in sc[(sc["verdict"] == "review")].sort_values("revenue", ascending=False).head(5).itertuples()]
    return ScorecardResult(sc, cats, weights, push=push, review=review, missing=[x for x in missing if x],
                           alerts=_alerts_frame(alerts))


def plot_scorecard(result: ScorecardResult, *, ax=None):
    """Heatmap of the five scores and the combined score per category (0-100, green = good)."""
    import matplotlib.pyplot as plt

    if "score" not in result.categories:
        return _draw_note(ax, result.categories["note"].iloc[0], title="Scorecard")
    ax = ax if ax is not None else plt.gca()
    cols = ["demand_score", "growth_score", "margin_score", "competition_score", "supply_score", "score"]
    mat = result.categories.set_index("category")[cols]
    mat.columns = ["demand", "growth", "margin", "competition", "supply", "combined"]
    im = ax.imshow(mat.to_numpy(dtype=float), cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(mat.shape[1]), mat.columns)
    ax.set_yticks(range(mat.shape[0]), mat.index)
    for (i, j), v in np.ndenumerate(mat.to_numpy(dtype=float)):
        ax.text(j, i, "" if np.isnan(v) else f"{v:.0f}", ha="center", va="center", fontsize=9)
    ax.figure.colorbar(im, ax=ax, fraction=0.03, label="score (100 = best)")
    ax.set_title("Selection scorecard by category (revenue-weighted SKU scores)")
    ax.grid(False)
    return ax


# ---------------------------------------------------------------------------------------------
# 5. Range roles: traffic, profit, image
# ---------------------------------------------------------------------------------------------

def role_performance(lines: pd.DataFrame, *, first_order_ids=None) -> pd.DataFrame:
    """Whether each range role (003 stage 1: 引流款 traffic, 利润款 profit, 形象款 image) plays its
    part.

    - traffic products bring first orders: first_order_index = the role's share of the lines of
      first orders / its share of all lines (above 1: over-represented in first orders);
    - profit products carry the margin: margin_share (of gross profit) against revenue_share;
    - image products lift AOV: aov_index = mean value of orders containing the role / shop AOV.

    Parameters
    ----------
    lines : paid order lines with order_id, sku, role, revenue, paid_amount and (optionally) cost.
    first_order_ids : the order ids that are a customer's first paid order.

    Returns
    -------
    DataFrame: role, skus, revenue_share, margin_rate, margin_share, first_order_index, aov_index,
    plays_role (bool for the role's own test).
    """
    _require(lines, "lines", ["order_id", "sku", "role", "revenue"])
    l = lines.assign(role=lines["role"].fillna("unassigned"))
    g = l.groupby("role")
    out = pd.DataFrame({"skus": g["sku"].nunique(), "revenue": g["revenue"].sum()})
    out["revenue_share"] = out["revenue"] / out["revenue"].sum()
    if "cost" in l:
        gp = (l["revenue"] - l["cost"]).groupby(l["role"]).sum()
        out["margin_rate"] = gp / out["revenue"]
        out["margin_share"] = gp / gp.sum()
    else:
        out["margin_rate"] = out["margin_share"] = np.nan
    share_all = g.size() / len(l)
    if first_order_ids is not None:
        is_first = _isin(l["order_id"], pd.Series(first_order_ids).astype("str"))
        fl = l["role"][is_first]
        share_first = fl.groupby(fl).size() / max(len(fl), 1)
        out["first_order_index"] = share_first.reindex(out.index).fillna(0) / share_all
    else:
        out["first_order_index"] = np.nan
    # orders and roles as integer codes: orders by first appearance (as drop_duplicates keeps them)
    oc, _ = pd.factorize(l["order_id"], use_na_sentinel=False)
    rc, roles = pd.factorize(l["role"])
    if "paid_amount" in l:
        value = l["paid_amount"].to_numpy(dtype="float64", na_value=np.nan)[_first_rows(oc)]
        aov = pd.Series(value).mean()
    else:
        value = l["revenue"].groupby(oc).sum().to_numpy(dtype="float64")
        aov = l.groupby("order_id")["revenue"].sum().mean()
    per = pd.DataFrame({"o": oc, "r": rc}).drop_duplicates()
    per_role = pd.Series(value[per["o"].to_numpy()]).groupby(per["r"].to_numpy()).mean()
    per_role.index = roles.take(per_role.index)
    out["aov_index"] = per_role / aov
    test = {"traffic": out["first_order_index"] >= 1, "profit": out["margin_share"] >= out["revenue_share"],
            "image": out["aov_index"] >= 1}
    out["plays_role"] = [bool(test[r].loc[r]) if r in test else pd.NA for r in out.index]
    out.index.name = "role"
    return out.reset_index()


@dataclass
class RoleResult:
    """Section 5: range roles."""
    roles: pd.DataFrame
    image_aov_min: float = 1.5
    note: str | None = None

    def value(self, role: str, column: str) -> float:
        r = self.roles
        if "role" not in r or role not in set(r["role"]):
            return float("nan")
        return float(r.loc[r["role"] == role, column].iloc[0])

    @property
    def view(self):
        if "role" not in self.roles:
            return self.roles
        v = self.roles.copy()
        v["role"] = v["role"].map(ROLE_LABELS).fillna(v["role"])
        return _styled(v.drop(columns=["revenue"]), dec=["first_order_index", "aov_index"])


def role_report(data, *, record=None) -> RoleResult:
    """Range roles over the last ``role_days`` days; needs products.role and order_items."""
    s = _settings(data)
    note = _skip(record, "Range roles", data.missing_note("order_items", "products", columns={"products": ["role"]}))
    if note:
        return RoleResult(_note_frame(note), note=note)
    end = _end(data)
    all_lines = _lines_of(data)
    start = end - int(s["role_days"]) * DAY
    rows = all_lines.window(start, end)
    codes = (all_lines.order_codes(rows), all_lines.product_codes("role", rows, fill="unassigned"),
             all_lines.product_codes("sku", rows))
    if "customer_id" not in _columns_of(data, "orders"):
        first = None, None
    elif all(c is not None for c in codes) and all_lines.order_ts is not None:
        first = _first_order_rows(data, all_lines, start)
    else:
        first = _first_orders(data, start)
    first_ids, first_rows = first
    if any(c is None for c in codes) or (first_ids is not None and first_rows is None):
        roles = role_performance(all_lines.frame(rows), first_order_ids=first_ids)
    else:
        flag = None
        if first_rows is not None:
            flag = np.zeros(len(all_lines.order_ts) if all_lines.order_ts is not None
                            else len(_table(data, "orders")), dtype=bool)
            flag[first_rows] = True
        roles = _role_performance_codes(all_lines.frame(rows, ["revenue", "cost", "paid_amount"]), *codes, flag)
    return RoleResult(roles, image_aov_min=float(s["image_aov_index_min"]))


def _first_orders(data, start) -> tuple:
    """The paid orders placed from ``start`` on that are their customer's first paid order (the
    customer summary's ``first_order_ts``): (their ids, their rows in ``orders`` or None when the
    orders' index repeats a label), on the whole orders table."""
    cs = data.derived("customer_summary")
    orders = _table(data, "orders")
    paid = orders[["order_id", "customer_id", "order_ts"]].loc[paid_mask(orders) & (orders["order_ts"] >= start)]
    at = unique_positions(paid["customer_id"], cs["customer_id"])
    if at is None:  # a customer on several rows: the merge's own rules
        firsts = paid.merge(cs[["customer_id", "first_order_ts"]], on="customer_id")
        return firsts.loc[firsts["order_ts"] == firsts["first_order_ts"], "order_id"], None
    # each paid order with its customer's first order time (inner: customers found)
    first_ts = cs["first_order_ts"].to_numpy()[np.where(at >= 0, at, 0)]
    is_first = (at >= 0) & (paid["order_ts"].to_numpy() == first_ts)
    rows = orders.index.get_indexer(paid.index[is_first]) if orders.index.is_unique else None
    return paid["order_id"][is_first], rows


def _first_order_rows(data, lines: _Lines, start) -> tuple:
    """:func:`_first_orders` as rows of ``orders`` only (ids None), reading the customer of the
    paid orders from ``start`` on and two columns of the customer summary, not the orders table:
    the lines hold each order's time. Falls back to :func:`_first_orders` when a customer is on
    several rows of the summary."""
    from .loading import read_derived_columns, read_rows

    ts = lines.order_ts
    lo = int(np.searchsorted(ts, np.datetime64(pd.Timestamp(start)), "left")) if lines.by_rows else 0
    keep = _paid_orders(data)[lo:] & (ts[lo:] >= np.datetime64(pd.Timestamp(start)))
    rows = lo + np.flatnonzero(keep)
    del keep
    cs = read_derived_columns(data, "customer_summary", ["customer_id", "first_order_ts"])
    at = unique_positions(read_rows(data, "orders", ["customer_id"], rows)["customer_id"], cs["customer_id"])
    if at is None:
        return _first_orders(data, start)
    first_ts = cs["first_order_ts"].to_numpy()[np.where(at >= 0, at, 0)]
    return None, rows[(at >= 0) & (ts[rows] == first_ts)]


def _role_performance_codes(l: pd.DataFrame, orders, roles, skus, first_flag) -> pd.DataFrame:
    """:func:`role_performance` on codes: ``orders`` (codes by first appearance, rows in orders),
    ``roles`` and ``skus`` (codes of the sorted values, roles missing filled as 'unassigned'),
    ``first_flag`` (True for the rows of orders that are a customer's first, or None); ``l`` has
    revenue, paid_amount and (optionally) cost."""
    (oc, od), (rc, role_names), (sc, _) = orders, roles, skus
    g = l["revenue"].groupby(rc)
    revenue = g.sum()
    out = pd.DataFrame({"skus": _distinct_per(rc, sc, len(role_names))[revenue.index.to_numpy()], "revenue": revenue},
                       index=revenue.index)
    out["revenue_share"] = out["revenue"] / out["revenue"].sum()
    if "cost" in l:
        gp = (l["revenue"] - l["cost"]).groupby(rc).sum()
        out["margin_rate"] = gp / out["revenue"]
        out["margin_share"] = gp / gp.sum()
    else:
        out["margin_rate"] = out["margin_share"] = np.nan
    share_all = g.size() / len(l)
    if first_flag is not None:
        fl = pd.Series(rc[first_flag[od]])
        share_first = fl.groupby(fl).size() / max(len(fl), 1)
        out["first_order_index"] = share_first.reindex(out.index).fillna(0) / share_all
    else:
        out["first_order_index"] = np.nan
    if "paid_amount" in l:
        value = l["paid_amount"].to_numpy(dtype="float64", na_value=np.nan)[_first_rows(oc)]
        aov = pd.Series(value).mean()
    else:
        value = l["revenue"].groupby(oc).sum().to_numpy(dtype="float64")
        aov = pd.Series(value).mean()
    per = ~pd.Series(oc.astype("int64") * len(role_names) + rc).duplicated().to_numpy()  # each (order, role) once
    per_role = pd.Series(value[oc[per]]).groupby(rc[per]).mean()
    out["aov_index"] = per_role / aov
    out.index = role_names.take(out.index.to_numpy())
    test = {"traffic": out["first_order_index"] >= 1, "profit": out["margin_share"] >= out["revenue_share"],
            "image": out["aov_index"] >= 1}
    out["plays_role"] = [bool(test[r].loc[r]) if r in test else pd.NA for r in out.index]
    out.index.name = "role"
    return out.reset_index()


def plot_roles(result: RoleResult, *, ax=None):
    """Grouped bars per role: revenue share, margin share, first-order index and AOV index."""
    import matplotlib.pyplot as plt

    if "role" not in result.roles:
        return _draw_note(ax, result.roles["note"].iloc[0], title="Range roles")
    ax = ax if ax is not None else plt.gca()
    r = result.roles.set_index("role")
    r.index = r.index.map(lambda x: ROLE_LABELS.get(x, x))
    cols = {"revenue_share": "share of revenue", "margin_share": "share of gross profit",
            "first_order_index": "first-order index", "aov_index": "AOV index"}
    r[list(cols)].rename(columns=cols).plot.bar(ax=ax, rot=0, color=["#8ecae6", "#219ebc", "#ffb703", "#fb8500"])
    ax.axhline(1, color="#333333", lw=0.8, ls="--")
    ax.set_title("Range roles: shares (of 1) and indices (1 = shop average)")
    ax.set_xlabel("")
    ax.legend(fontsize=8)
    return ax


# ---------------------------------------------------------------------------------------------
# 6. Lifecycle per SKU and launch curves
# ---------------------------------------------------------------------------------------------

def _monthly(sales: pd.DataFrame, value: str) -> pd.DataFrame:
    """SKU x month table of ``value`` (months as columns, zeros where nothing sold)."""
    m = sales.assign(month=sales["date"].dt.to_period("M"))
    return m.pivot_table(index="sku", columns="month", values=value, aggfunc="sum", fill_value=0.0).astype("float64")


def lifecycle_stages(sku_daily: pd.DataFrame, *, end, launch_dates: pd.Series | None = None,
                     groups: pd.Series | None = None, months: int = 12, short_months: int = 3, intro_months: int = 6, growth: float = 0.2,
                     decline: float = -0.2) -> pd.DataFrame:
    """The lifecycle stage (002 part 03 爆款生命周期) of each SKU from its sales curve.

    - age = months from the launch (``launch_dates``, else the first sale in the data) to ``end``;
    - trend = revenue of the last ``months`` months / the same months a year earlier - 1 for a SKU
      launched before that year-earlier window (and data that reach back so far); for a younger
      SKU, the last ``short_months`` months / the ``short_months`` before them - 1;
    - relative_trend = (1 + trend) / (1 + the trend of its group over the same months) - 1, the
      group being its category (``groups``: category per sku) or else the whole shop: a SKU that
      only grows with its category (or rides the category's season) is mature, not growing;
    - stage: *introduction* when age < ``intro_months``; else *decline* when relative_trend <=
      ``decline`` (or no sale in the recent months), *growth* when relative_trend >= ``growth``,
      *maturity* otherwise.

    Parameters
    ----------
    sku_daily : date, sku, revenue (e.g. ``data.derived("sku_daily")``).
    end : exclusive end of the report month.

    Returns
    -------
    DataFrame: sku, launch, age_months, recent, base, trend, group_trend, relative_trend, basis,
    peak_month, stage.

    Examples
    --------
    >>> d = pd.DataFrame({"date": pd.to_datetime(["2025-09-01", "2026-09-01", "2025-09-01", "2026-09-01"]),
    ...                   "sku": ["A", "A", "B", "B"], "revenue": [100.0, 50.0, 100.0, 150.0]})
    >>> lifecycle_stages(d, end="2026-10-01", months=1)["stage"].tolist()
    ['decline', 'growth']
    """
    end = pd.Timestamp(end)
    sd = sku_daily[sku_daily["date"] < end]
    wide = _monthly(sd, "revenue")
    last = (end - DAY).to_period("M")
    long_m = pd.period_range(last - months + 1, last, freq="M")
    yoy_m = long_m - 12
    short_m = pd.period_range(last - short_months + 1, last, freq="M")
    prev_m = short_m - short_months
    w = wide.reindex(columns=wide.columns.union(long_m).union(yoy_m).union(short_m).union(prev_m), fill_value=0.0)
    first_sale = sd[sd["revenue"] > 0].groupby("sku")["date"].min()
    launch = first_sale.reindex(w.index)
    if launch_dates is not None:
        ld = launch_dates.reindex(w.index)
        launch = ld.where(ld.notna(), launch)
    data_start = sd["date"].min()
    yoy_start = yoy_m[0].to_timestamp()
    age = ((end - launch).dt.days / 30.44).astype("float64")
    has_year = (launch <= yoy_start) & (data_start <= yoy_start)
    recent = np.where(has_year, w[long_m].sum(axis=1), w[short_m].sum(axis=1))
    base = np.where(has_year, w[yoy_m].sum(axis=1), w[prev_m].sum(axis=1))
    grp = groups.reindex(w.index).fillna("all") if groups is not None else pd.Series("all", index=w.index)
    g = w.groupby(grp).sum()

    def ratio(a, b):
        num, den = g[a].sum(axis=1), g[b].sum(axis=1)
        return (num / den.where(den > 0) - 1).reindex(grp).to_numpy()

    shop_trend = np.where(has_year, ratio(long_m, yoy_m), ratio(short_m, prev_m))
    trend = pd.Series(recent, index=w.index) / pd.Series(base, index=w.index).where(lambda b: b > 0) - 1
    rel = (1 + trend) / (1 + pd.Series(shop_trend, index=w.index).fillna(0)) - 1
    stage = np.select([age < intro_months, (recent <= 0) | (rel <= decline), rel >= growth],
                      ["introduction", "decline", "growth"], "maturity")
    out = pd.DataFrame({"launch": launch, "age_months": age.round(1), "recent": recent, "base": base,
                        "trend": trend, "group_trend": shop_trend, "relative_trend": rel,
                        "basis": np.where(has_year, f"{months} months, year over year",
                                          f"{short_months} months, against the {short_months} before"),
                        "peak_month": w.idxmax(axis=1).astype("str"), "stage": stage})
    out.index.name = "sku"
    return out.reset_index()


def launch_curves(sku_daily: pd.DataFrame, launch_dates: pd.Series, *, end, since=None, months: int = 12) -> pd.DataFrame:
    """Cumulative units of each launch by month since launch, against the launches before it.

    Month 0 is the launch month. For each launch and age, ``earlier_median`` is the median
    cumulative units of the SKUs launched earlier that had reached the same age (a full month
    before ``end``); index = cumulative / earlier_median.

    Parameters
    ----------
    sku_daily : date, sku, units.
    launch_dates : launch date per SKU (index sku).
    since : only launches on or after this date (default: the first day of the data).

    Returns
    -------
    DataFrame: sku, launch, age (months), units, cum_units, earlier_median, index.
    """
    end = pd.Timestamp(end)
    since = pd.Timestamp(since) if since is not None else sku_daily["date"].min()
    ld = launch_dates.dropna()
    ld = ld[(ld >= since) & (ld < end)]
    if ld.empty:
        return pd.DataFrame(columns=["sku", "launch", "age", "units", "cum_units", "earlier_median", "index"])
    sd = sku_daily[sku_daily["sku"].isin(ld.index) & (sku_daily["date"] < end)]
    sd = sd.assign(launch=sd["sku"].map(ld))
    sd = sd[sd["date"] >= sd["launch"]]
    # whole months from the launch month (vectorised: year x 12 + month differences)
    age = (sd["date"].dt.year - sd["launch"].dt.year) * 12 + (sd["date"].dt.month - sd["launch"].dt.month)
    curve = sd.assign(age=age.astype("int64")).groupby(["sku", "age"])["units"].sum()
    full = pd.MultiIndex.from_tuples([(s, a) for s in ld.index for a in range(months)], names=["sku", "age"])
    c = curve.reindex(full, fill_value=0).astype("float64").reset_index()
    c["launch"] = c["sku"].map(ld)
    # a month counts only when it has ended before ``end``
    month_end = (c["launch"].dt.to_period("M") + c["age"]).dt.to_timestamp(how="end")
    c = c[month_end < end].copy()
    c["cum_units"] = c.groupby("sku")["units"].cumsum()
    wide = c.pivot_table(index="sku", columns="age", values="cum_units")
    order = ld.sort_values()
    med = []
    for sku, launch in order.items():  # one row per launch (a handful), vectorised over ages
        earlier = order[order < launch].index
        med.append(wide.reindex(earlier).median(axis=0).rename(sku))
    med = pd.DataFrame(med)
    c["earlier_median"] = [med.at[s, a] if s in med.index and a in med.columns else np.nan
                           for s, a in zip(c["sku"], c["age"])]
    c["index"] = c["cum_units"] / c["earlier_median"].where(c["earlier_median"] > 0)
    return c[["sku", "launch", "age", "units", "cum_units", "earlier_median", "index"]].reset_index(drop=True)


@dataclass
class LifecycleResult:
    """Section 6: lifecycle stage per SKU and new launches."""
    stages: pd.DataFrame
    curves: pd.DataFrame
    note: str | None = None
    alerts: pd.DataFrame = field(default_factory=lambda: _alerts_frame([]))

    @property
    def summary(self) -> pd.DataFrame:
        if "stage" not in self.stages:
            return self.stages
        s = self.stages
        out = s.groupby("stage").agg(skus=("sku", "size"), revenue=("recent", "sum")).reindex(STAGES).fillna(0)
        out["revenue_share"] = out["revenue"] / out["revenue"].sum()
        out.index = out.index.map(STAGE_LABELS)
        return out.reset_index()

    @property
    def summary_view(self):
        return _styled(self.summary, money=["revenue"])

    @property
    def declining_view(self):
        cols = [c for c in ["sku", "title", "launch", "recent", "base", "trend", "relative_trend", "basis", "peak_month"]
                if c in self.declining]
        return _styled(self.declining[cols] if "stage" in self.stages else self.declining,
                       pct=["trend", "relative_trend"], money=["recent", "base"], head=12)

    @property
    def launches_view(self):
        return _styled(self.launches, dec=["index"], count=["units", "cum_units", "earlier_median"])

    @property
    def declining(self) -> pd.DataFrame:
        """The declining SKUs, largest revenue a year earlier first."""
        if "stage" not in self.stages:
            return self.stages
        s = self.stages
        return s[s["stage"] == "decline"].sort_values("base", ascending=False).reset_index(drop=True)

    @property
    def decline_revenue_share(self) -> float:
        if "stage" not in self.stages:
            return float("nan")
        s = self.stages
        return float(s.loc[s["stage"] == "decline", "recent"].sum() / max(s["recent"].sum(), 1e-9))

    @property
    def launches(self) -> pd.DataFrame:
        """Each launch at its latest full month: cumulative units against earlier launches."""
        if "cum_units" not in self.curves or self.curves.empty:
            return self.curves
        return (self.curves.sort_values("age").groupby("sku").tail(1).sort_values("launch")
                .reset_index(drop=True))

    def stage_of(self, sku: str) -> str | None:
        s = self.stages
        return None if "stage" not in s or sku not in set(s["sku"]) else str(s.loc[s["sku"] == sku, "stage"].iloc[0])


def lifecycle_report(data, *, record=None) -> LifecycleResult:
    """Lifecycle stages of the active SKUs and the launch curves; needs order_items (products
    adds launch dates and titles)."""
    s = _settings(data)
    note = _skip(record, "Lifecycle and launches", data.missing_note("order_items"))
    if note:
        return LifecycleResult(_note_frame(note), _note_frame(note), note=note)
    end = _end(data)
    sd = data.derived("sku_daily")
    launch = None
    titles = None
    if "products" in data:
        prod = data["products"].set_index("sku")
        launch = prod["launch_date"] if "launch_date" in prod else None
        titles = prod["title"] if "title" in prod else None
    stages = lifecycle_stages(sd, end=end, launch_dates=launch, months=int(s["lifecycle_months"]),
                              short_months=int(s["growth_months"]), intro_months=int(s["intro_months"]), growth=float(s["lifecycle_growth"]),
                              decline=float(s["lifecycle_decline"]))
    if titles is not None:
        stages.insert(1, "title", stages["sku"].map(titles))
    if launch is None:
        launch = sd[sd["units"] > 0].groupby("sku")["date"].min()
        since = sd["date"].min() + 30 * DAY  # SKUs selling from the first month were not launched in the window
    else:
        since = sd["date"].min()
    curves = launch_curves(sd, launch, end=end, since=since, months=int(s["launch_months"]))
    if titles is not None and len(curves):
        curves.insert(1, "title", curves["sku"].map(titles))
    alerts = [{"severity": "low", "subject": r.sku,
               "message": f"declining: revenue {r.trend:+.0%} ({r.basis}), {r.relative_trend:+.0%} against the shop; plan the run-down (衰退期: clearance or successor)"}
              for r in stages[stages["stage"] == "decline"].sort_values("base", ascending=False).head(5).itertuples()
              if pd.notna(r.trend)]
    return LifecycleResult(stages, curves, alerts=_alerts_frame(alerts))


def plot_lifecycle(result: LifecycleResult, *, ax=None):
    """Each SKU as a dot: recent revenue (log scale) against its trend, coloured by stage."""
    import matplotlib.pyplot as plt

    if "stage" not in result.stages:
        return _draw_note(ax, result.stages["note"].iloc[0], title="Lifecycle")
    ax = ax if ax is not None else plt.gca()
    colors = {"introduction": "#8ecae6", "growth": "#2a9d8f", "maturity": "#adb5bd", "decline": "#e76f51"}
    s = result.stages.assign(trend_plot=result.stages["relative_trend"].clip(-1, 3).fillna(-1))
    for stage in STAGES:  # four stages
        part = s[s["stage"] == stage]
        ax.scatter(part["recent"].clip(lower=1), part["trend_plot"], s=30, color=colors[stage],
                   label=f"{STAGE_LABELS[stage]} ({len(part)})")
    ax.set_xscale("log")
    ax.axhline(0, color="#333333", lw=0.8)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:+.0%}"))
    ax.set_xlabel("revenue in the comparison window (log scale)")
    ax.set_ylabel("trend against the shop's (capped at +300%)")
    ax.set_title("SKU lifecycle: size against trend")
    ax.legend(fontsize=8)
    return ax


def plot_launch_curves(result: LifecycleResult, *, ax=None):
    """Cumulative units by month since launch, one line per launch (the latest launch bold)."""
    import matplotlib.pyplot as plt

    c = result.curves
    if "cum_units" not in c or c.empty:
        return _draw_note(ax, c["note"].iloc[0] if "note" in c else "No launches in the window.", title="Launches")
    ax = ax if ax is not None else plt.gca()
    latest = c["launch"].max()
    for sku, part in c.groupby("sku"):  # one line per launch (a handful)
        bold = part["launch"].iloc[0] == latest
        ax.plot(part["age"], part["cum_units"], lw=3 if bold else 1.3, marker="o" if bold else None,
                label=f"{sku} ({part['launch'].iloc[0]:%Y-%m})")
    ax.set_xlabel("months since launch (0 = launch month)")
    ax.set_ylabel("cumulative units")
    ax.set_title("New launches against earlier launches")
    ax.legend(fontsize=8, ncol=2)
    return ax


# ---------------------------------------------------------------------------------------------
# 7. Price bands and price position
# ---------------------------------------------------------------------------------------------

def price_bands(products: pd.DataFrame, *, sales: pd.Series | None = None, bands: int = 3) -> pd.DataFrame:
    """Price bands (价格带) per category: the category's SKUs split into ``bands`` groups of list
    price (terciles by default: low, mid, high), with each band's price range, SKUs and share of
    the category's revenue (``sales``: revenue per SKU).

    Returns
    -------
    DataFrame: category, band, price_from, price_to, skus, revenue, revenue_share.
    """
    _require(products, "products", ["sku", "category", "list_price"])
    p = products[["sku", "category", "list_price"]].dropna(subset=["list_price"]).copy()
    pct = p.groupby("category")["list_price"].rank(pct=True, method="first")
    names = {3: ["low", "mid", "high"], 2: ["low", "high"]}.get(bands, [f"band {i + 1}" for i in range(bands)])
    p["band"] = pd.Categorical(np.array(names)[np.minimum((pct * bands).apply(np.ceil).astype(int) - 1, bands - 1)],
                               categories=names, ordered=True)
    p["revenue"] = p["sku"].map(sales).fillna(0.0) if sales is not None else 0.0
    out = p.groupby(["category", "band"], observed=True).agg(
        price_from=("list_price", "min"), price_to=("list_price", "max"), skus=("sku", "size"),
        revenue=("revenue", "sum")).reset_index()
    out["revenue_share"] = out["revenue"] / out.groupby("category")["revenue"].transform("sum").where(lambda x: x > 0)
    return out


def price_position(competitor_prices: pd.DataFrame, our_prices: pd.Series, *, start=None, end=None,
                   tolerance: float = 0.05, undercut: float = 0.15) -> pd.DataFrame:
    """Our list price against the competitors' prices per SKU over ``[start, end)``.

    price_index = our list price / mean competitor price; position *below* (渗透定价, penetration)
    when under 1 - ``tolerance``, *above* (撇脂定价, skimming) when over 1 + ``tolerance``, else
    *at market*. ``undercut_days`` = the most days any one competitor sold at ``undercut`` or more
    below our list price, ``undercut_by`` that competitor, ``lowest_ratio`` its lowest price / ours.

    Returns
    -------
    DataFrame: sku, our_price, competitor_price, competitors, price_index, position,
    undercut_days, undercut_by, lowest_ratio.
    """
    _require(competitor_prices, "competitor_prices", ["date", "sku", "competitor", "price"])
    cp = competitor_prices
    keep = pd.Series(True, index=cp.index)
    if start is not None:
        keep &= cp["date"] >= pd.Timestamp(start)
    if end is not None:
        keep &= cp["date"] < pd.Timestamp(end)
    cp = cp[keep].assign(ours=lambda t: t["sku"].map(our_prices).astype("float64"))
    cp = cp.assign(ratio=cp["price"] / cp["ours"])
    g = cp.groupby("sku")
    out = pd.DataFrame({"our_price": g["ours"].first(), "competitor_price": g["price"].mean(),
                        "competitors": g["competitor"].nunique()})
    out["price_index"] = out["our_price"] / out["competitor_price"]
    out["position"] = np.select([out["price_index"] < 1 - tolerance, out["price_index"] > 1 + tolerance],
                                ["below (penetration)", "above (skimming)"], "at market")
    under = cp.assign(u=cp["ratio"] <= 1 - undercut + 1e-9).groupby(["sku", "competitor"]).agg(
        days=("u", "sum"), low=("ratio", "min")).reset_index().sort_values(["days", "low"], ascending=[False, True])
    top = under.drop_duplicates("sku").set_index("sku")
    out["undercut_days"] = top["days"].reindex(out.index).fillna(0).astype("int64")
    out["undercut_by"] = top["competitor"].reindex(out.index).where(out["undercut_days"] > 0)
    out["lowest_ratio"] = g["ratio"].min()
    out.index.name = "sku"
    return out.reset_index().sort_values("price_index", ascending=False).reset_index(drop=True)


@dataclass
class PriceResult:
    """Section 7: price bands and price position."""
    bands: pd.DataFrame
    position: pd.DataFrame
    min_days: int = 3
    note: str | None = None
    position_note: str | None = None
    alerts: pd.DataFrame = field(default_factory=lambda: _alerts_frame([]))

    @property
    def undercut(self) -> pd.DataFrame:
        if "undercut_days" not in self.position:
            return self.position
        return self.position[self.position["undercut_days"] >= self.min_days].reset_index(drop=True)

    @property
    def bands_view(self):
        return _styled(self.bands, money=["price_from", "price_to", "revenue"])

    @property
    def undercut_view(self):
        return _styled(self.undercut, dec=["price_index", "lowest_ratio", "our_price", "competitor_price"])

    @property
    def undercut_count(self) -> int | None:
        return len(self.undercut) if "undercut_days" in self.position else None

    @property
    def position_summary(self) -> pd.DataFrame:
        if "position" not in self.position:
            return self.position
        return (self.position.groupby("position").agg(skus=("sku", "size"), mean_index=("price_index", "mean"))
                .reset_index())

    @property
    def median_index(self) -> float:
        return float(self.position["price_index"].median()) if "price_index" in self.position else float("nan")


def price_report(data, *, record=None) -> PriceResult:
    """Price bands per category (needs products.list_price; order_items adds revenue shares) and
    the price position against competitors over the last ``price_days`` days (competitor_prices)."""
    s = _settings(data)
    note = _skip(record, "Price bands and position", data.missing_note("products", columns={"products": ["list_price"]}))
    if note:
        return PriceResult(_note_frame(note), _note_frame(note), note=note, position_note=note)
    end = _end(data)
    prod = data["products"]
    sales = None
    if "order_items" in data:
        all_lines = _lines_of(data)
        rows = all_lines.window(end - int(s["scorecard_days"]) * DAY, end)
        skus = all_lines.product_codes("sku", rows)
        if skus is None:
            lines = all_lines.frame(rows, ["sku", "revenue"])
            sales = lines.groupby("sku")["revenue"].sum()
        else:  # SKUs as codes of the sorted SKUs: the same sums without hashing the text
            sales = all_lines.frame(rows, ["revenue"])["revenue"].groupby(skus[0]).sum()
            sales.index = skus[1].take(sales.index.to_numpy()).rename("sku")
    bands = price_bands(prod, sales=sales, bands=int(s["price_band_count"]))
    pnote = _skip(record, "Price position against competitors", data.missing_note("competitor_prices"))
    if pnote:
        return PriceResult(bands, _note_frame(pnote), position_note=pnote)
    pos = price_position(data["competitor_prices"], prod.set_index("sku")["list_price"],
                         start=end - int(s["price_days"]) * DAY, end=end,
                         tolerance=float(s["price_position_tolerance"]), undercut=float(s["undercut_alert"]))
    if "title" in prod:
        pos.insert(1, "title", pos["sku"].map(prod.set_index("sku")["title"]))
    pos = pos.round({"competitor_price": 2, "price_index": 4, "lowest_ratio": 4})
    res = PriceResult(bands, pos, min_days=int(s["undercut_min_days"]))
    alerts = [{"severity": "medium", "subject": r.sku,
               "message": f"{r.undercut_by} sold {r.sku} at {1 - r.lowest_ratio:.0%} under our list price on "
                          f"{r.undercut_days} days: answer with a bundle or a gift rather than a price war"}
              for r in res.undercut.itertuples()]
    res.alerts = _alerts_frame(alerts)
    return res


def plot_price_position(result: PriceResult, *, ax=None, max_labels: int = 60):
    """Our price index against competitors per matched SKU (1 = at market), undercut SKUs red;
    SKU names on the axis when there are at most ``max_labels`` of them."""
    import matplotlib.pyplot as plt

    p = result.position
    if "price_index" not in p:
        return _draw_note(ax, p["note"].iloc[0], title="Price position")
    ax = ax if ax is not None else plt.gca()
    f = p.sort_values("price_index").reset_index(drop=True)
    undercut = (f["undercut_days"] >= result.min_days).to_numpy()
    colors = np.where(undercut, "#e63946", "#457b9d")
    ax.bar(np.arange(len(f)), f["price_index"], color=colors, width=0.8)
    ax.axhline(1, color="#333333", lw=0.8)
    ax.set_ylim(max(0, f["price_index"].min() - 0.1), f["price_index"].max() + 0.05)
    if len(f) <= max_labels:
        ax.set_xticks(np.arange(len(f)), f["sku"], rotation=90, fontsize=7)
    else:  # too many SKUs to name: name only the undercut ones
        ax.set_xticks(np.flatnonzero(undercut), f.loc[undercut, "sku"], rotation=90, fontsize=7)
        ax.set_xlabel(f"{len(f)} matched SKUs, sorted by price index")
    ax.set_ylabel("our list price / competitors' mean")
    ax.set_title("Price position against competitors (red: undercut by a competitor)")
    return ax


# ---------------------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------------------

@exercise("02.term_growth", "Growth of searches for 露营灯 in the last three months against the same months a year earlier")
def _term_growth(data) -> float:
    st = data["search_terms"]
    t = growth_table(st, key="term", date="date", value="searches", end=_end(data),
                     months=int(_settings(data)["growth_months"]))
    return float(t.loc[t["term"] == "露营灯", "growth"].iloc[0])


@exercise("02.attach_rate", "Share of the last 365 days' paid orders with SKU0001 that also contain SKU0003")
def _attach_rate(data) -> float:
    end = _end(data)
    all_lines = _lines_of(data)
    rows = all_lines.window(end - 365 * DAY, end)
    skus, orders = all_lines.product_codes("sku", rows), all_lines.order_codes(rows)
    if skus is not None and orders is not None:  # orders as their rows in orders (ids are unique)
        code = {sku: skus[1].get_indexer([sku])[0] for sku in ("SKU0001", "SKU0003")}
        a = set(orders[1][skus[0] == code["SKU0001"]]) if code["SKU0001"] >= 0 else set()
        b = set(orders[1][skus[0] == code["SKU0003"]]) if code["SKU0003"] >= 0 else set()
        return len(a & b) / len(a) if a else float("nan")
    lines = all_lines.frame(rows)
    a = set(lines.loc[lines["sku"] == "SKU0001", "order_id"])
    b = set(lines.loc[lines["sku"] == "SKU0003", "order_id"])
    return len(a & b) / len(a) if a else float("nan")
