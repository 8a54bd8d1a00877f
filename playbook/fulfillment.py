"""Fulfillment and service (履约与客服): shipping within 48 hours of payment, the unshipped backlog,
carrier on-time delivery, service tickets, refunds and returns by SKU and reason.

Chapter 08 of the playbook; handbook 003 stage 4 (订单履约: ship at the promised time, "48小时内发货";
choose carriers with agreed delivery times and review how often they keep them, 定期考核物流达标率;
contact and compensate buyers when a parcel is late) and stage 5 (客户服务), and 004's logistics and
after-sales sections (物流及售后服务).

Everything is measured *as of the end of the report month* (the cut-off, ``data.end``): a parcel
shipped or a ticket resolved after it counts as not yet shipped or resolved, so a past month reads
the way it looked on its last evening.

The building blocks work on plain DataFrames (orders, shipments, service_tickets, order_items) and
are tested on hand-built tables; the ``*_report(data)`` functions run a whole section on a loaded
:class:`~playbook.loading.Dataset` and return a result that carries either the section's tables or
a note saying which table is missing, so the notebook never needs an ``if``.

Example::

    data = playbook.load("data/samples", month="2026-10")
    ship = fulfillment.shipping_report(data)
    ship.month_rate            # share of the month's paid orders shipped within 48 hours
    carriers = fulfillment.carrier_report(data)
    carriers.flagged           # yunda, with its worst provinces
"""
from __future__ import annotations

import math
import re
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import probability
from .exercises import exercise
from .metrics import month_codes, month_labels, paid_mask
from .derived import compact_codes, isin_ids as _isin, per_dataset, unique_positions
from .charts import draw_note as _draw_note, note_frame as _note_frame
from .loading import release_free_memory

__all__ = [
    "SPRING_FESTIVALS", "PROVINCE_REGIONS", "REFUND_REASONS",
    "settings_table", "region_of", "logistics_pauses", "shipping_status", "ship_rates", "shipping_backlog",
    "backlog_age_buckets", "backlog_trend", "ship_anomalies",
    "parcel_outcomes", "carrier_scorecard", "carrier_cells", "carrier_monthly", "late_parcels",
    "ticket_times", "ticket_summary", "ticket_category_spikes", "satisfaction_by_resolution",
    "response_by_hour", "refund_reasons", "sku_event_spikes", "sku_refunds",
    "ShippingResult", "CarrierResult", "TicketResult", "RefundResult",
    "shipping_report", "carrier_report", "ticket_report", "refund_report",
    "plot_ship_rate_by_month", "plot_daily_ship_rate", "plot_backlog", "plot_carrier_trend",
    "plot_carrier_regions", "plot_delivery_days", "plot_ticket_categories", "plot_satisfaction",
    "plot_response_by_hour", "plot_refund_reasons",
]

HOUR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)

#: Chinese New Year's day (春节, first day of the lunar year). Warehouses and couriers stop for
#: about a week around it: days without shipments close to these dates are the seasonal pause.
SPRING_FESTIVALS = pd.to_datetime([
    "2015-02-19", "2016-02-08", "2017-01-28", "2018-02-16", "2019-02-05", "2020-01-25",
    "2021-02-12", "2022-02-01", "2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17",
    "2027-02-06", "2028-01-26", "2029-02-13", "2030-02-03", "2031-01-23", "2032-02-11",
    "2033-01-31", "2034-02-19", "2035-02-08",
])

#: The seven customary regions (大区) of mainland China, plus Hong Kong, Macau and Taiwan.
PROVINCE_REGIONS = {
    **dict.fromkeys(["上海", "江苏", "浙江", "安徽", "福建", "江西", "山东", "台湾"], "华东"),
    **dict.fromkeys(["广东", "广西", "海南", "香港", "澳门"], "华南"),
    **dict.fromkeys(["河南", "湖北", "湖南"], "华中"),
    **dict.fromkeys(["北京", "天津", "河北", "山西", "内蒙古"], "华北"),
    **dict.fromkeys(["辽宁", "吉林", "黑龙江"], "东北"),
    **dict.fromkeys(["重庆", "四川", "贵州", "云南", "西藏"], "西南"),
    **dict.fromkeys(["陕西", "甘肃", "青海", "宁夏", "新疆"], "西北"),
}
_PROVINCE_SUFFIX = re.compile(r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$")

#: Refund reasons, from the most specific evidence to the least (a ticket's category first, then
#: what happened to the parcel).
REFUND_REASONS = {
    "quality": "quality 质量问题",
    "size": "size 尺码不合适",
    "logistics": "logistics 物流问题",
    "other": "other ticket 其他",
    "lost": "lost parcel 丢件",
    "late": "late delivery 延迟送达",
    "before_shipping": "refunded before shipping 未发货退款",
    "returned": "returned, no reason given 退货(未注明)",
    "after_delivery": "refund after delivery, no reason given 仅退款(未注明)",
    "unknown": "reason not recorded 原因未记录",
}
_TICKET_PRIORITY = ["quality", "size", "logistics", "other"]


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


def _col(frame: pd.DataFrame, name: str, default=pd.NA) -> pd.Series:
    """A column, or a constant series when the (optional) column is absent."""
    if name in frame.columns:
        return frame[name]
    return pd.Series(default, index=frame.index)


_STR = pd.Series([], dtype="str").dtype


def _values(column: pd.Series):
    """A column's values for a new frame: a text column (the default ``str``) as it is, anything
    else as a NumPy array (a new frame infers the same type either way; text skips the slow round
    trip through Python objects)."""
    return column.reset_index(drop=True) if column.dtype == _STR else column.to_numpy()


def _arrow_text(values: pd.Series):
    """The Arrow array behind a text column (the default ``str`` type), one chunk."""
    import pyarrow as pa

    arr = pa.array(values.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _id_positions(ids: pd.Series, keys: pd.Series | pd.Index) -> np.ndarray | None:
    """Position of each of ``ids`` among ``keys`` (-1: absent; :func:`playbook.derived.positions`),
    or None when this cannot stand in for pandas' own join: ids or keys not text, keys missing or
    repeated."""
    if ids.dtype != _STR or keys.dtype != _STR or not len(keys) or keys.hasnans:
        return None
    return unique_positions(ids, keys)


def _has_id(ids: pd.Series, values: pd.Series) -> np.ndarray:
    """``ids.isin(values)`` as a boolean array (see :func:`playbook.derived.isin_ids`), straight
    on the Arrow arrays when both are text (no copy and no deduplication of ``values``)."""
    import pyarrow.compute as pc

    values = values if isinstance(values, pd.Series) else pd.Series(values)
    if not isinstance(ids, pd.Series) or ids.dtype != _STR or values.dtype != _STR:
        return _isin(ids, values)
    hit = pc.is_in(_arrow_text(ids), value_set=_arrow_text(values.dropna()))
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


#: the columns this chapter reads from each table: a prepared table is read with these only, once
#: per dataset (:func:`playbook.loading.read_columns`); the orders' city, device, coupon, campaign,
#: amounts other than paid and refunded, and contact and address hashes are never looked at here;
#: the buyer (customer_id) is read for the late-parcel list alone, and order_items for the refund
#: section alone (neither is kept). When the order ids are unique text (the usual case) the reports
#: do not read the orders, shipments or lines as frames at all: each section reads the columns it
#: counts one at a time (:func:`_read_column`; text as codes, :func:`_codes`), reaches the orders
#: by row positions (:func:`_order_rows`) and reads the text of the rows it shows alone
#: (:func:`_take_rows`): seventy million orders' ids, statuses, channels and provinces as text
#: are several gigabytes
COLUMNS = {
    "orders": ("order_id", "order_ts", "paid_ts", "paid_amount", "status", "channel", "province", "refund_amount"),
    "shipments": ("order_id", "carrier", "shipped_ts", "delivered_ts", "promised_date", "status"),
    "service_tickets": ("ticket_id", "customer_id", "order_id", "opened_ts", "first_response_ts", "resolved_ts",
                        "category", "satisfaction"),
    "order_items": ("order_id", "sku", "qty", "unit_price"),
    "products": ("sku", "title", "category"),
}


def _table(data, name: str) -> pd.DataFrame:
    """``data[name]``, or, for a prepared table not read yet, only its :data:`COLUMNS` (read once
    per dataset; see :func:`playbook.loading.read_columns`)."""
    from .loading import read_columns

    return read_columns(data, name, COLUMNS[name])


def _shipments(data, columns: Sequence[str] = COLUMNS["shipments"]) -> pd.DataFrame:
    """The shipments' ``columns`` for one section, not kept in the dataset: the shipping and
    carrier sections each read what they need, and the seven million parcels' text is gone once
    they are done (the refund section reads the carriers' outcome flags instead)."""
    from .loading import read_columns

    return read_columns(data, "shipments", columns, keep=False)


def _order_rows(data, name: str, frame: pd.DataFrame | None = None) -> np.ndarray | None:
    """Row of each row's order in the chapter's orders table (``_table(data, "orders")``; -1: not
    there) for table ``name`` (shipments, order_items): one lookup of the text order ids per loaded
    dataset, shared by the sections, which then reach any subset of the orders through integer
    positions instead of looking the ids up again. None when the ids are not unique text (the
    sections then join by id as before). ``frame``: table ``name`` as the caller read it (when
    it is not kept in the dataset), whose ids are looked up if the rows are not cached yet."""
    def build(d):
        if frame is None:  # the keys packed into integers, the ids placed a row group at a time
            index = _IdIndex.build(_read_column(d, "orders", "order_id"))
            if index is not None:
                found = index.place(_id_batches(d, name))
                if found is not None:
                    return found
        ids = frame["order_id"] if frame is not None else _read_column(d, name, "order_id")
        return _row_positions(ids, _read_column(d, "orders", "order_id"))

    return per_dataset(data, f"fulfillment.{name}_rows", build, tables=("orders", name))


def _id_batches(data, name: str, rows: int = 1 << 20):
    """Table ``name``'s order ids, ``rows`` at a time (a prepared file's row groups read one after
    the other: the column of a hundred million lines is never held as text at once)."""
    file = data.table_file(name) if hasattr(data, "table_file") else None
    if file is None:
        ids = data[name]["order_id"]
        for s in range(0, len(ids), rows):
            yield ids.iloc[s:s + rows]
        return
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(file).iter_batches(batch_size=rows, columns=["order_id"]):
        yield batch.column(0).to_pandas()


class _IdIndex:
    """Unique text ids of one width that ascend (the orders, stored in id order), packed into
    64-bit integers that sort as the texts do (each byte position a digit of a mixed-radix number
    over the byte values seen there, as :func:`playbook.derived.id_integers` packs them), so that
    other ids are placed among them by a binary search: no hash table and no text of the other
    table held at once."""

    _BLOCK = 1 << 20

    def __init__(self, lo: np.ndarray, hi: np.ndarray, ints: np.ndarray):
        self.lo, self.hi, self.ints = lo, hi, ints
        self.radix = hi.astype(np.int64) - lo.astype(np.int64) + 1

    @classmethod
    def build(cls, keys: pd.Series) -> "_IdIndex | None":
        """The index of ``keys``; None unless they are text of one width, without gaps, that pack
        into 64 bits and strictly ascend."""
        from .derived import fixed_width_bytes

        if keys.dtype != _STR or not len(keys):
            return None
        fixed = fixed_width_bytes(keys)
        if fixed is None or fixed[1] is not None:
            return None
        raw = fixed[0]
        w = raw.shape[1]
        lo, hi = np.full(w, 255, dtype=np.uint8), np.zeros(w, dtype=np.uint8)
        for s in range(0, len(raw), cls._BLOCK):
            block = raw[s:s + cls._BLOCK]
            lo, hi = np.minimum(lo, block.min(axis=0)), np.maximum(hi, block.max(axis=0))
        if math.prod(int(h) - int(x) + 1 for x, h in zip(lo, hi)) > 2 ** 64:
            return None
        index = cls(lo, hi, np.empty(0, dtype=np.uint64))
        index.ints = index._pack(raw)
        del raw, fixed
        if len(index.ints) > 1 and not bool((index.ints[1:] > index.ints[:-1]).all()):
            return None
        return index

    def _pack(self, raw: np.ndarray) -> np.ndarray:
        """Byte rows within the keys' ranges as their integers."""
        out = np.empty(len(raw), dtype=np.uint64)
        for s in range(0, len(raw), self._BLOCK):
            block = np.ascontiguousarray(raw[s:s + self._BLOCK].T)
            acc = np.zeros(block.shape[1], dtype=np.uint64)
            for j in np.flatnonzero(self.radix > 1):
                acc *= np.uint64(self.radix[j])
                acc += block[j] - self.lo[j]
            out[s:s + self._BLOCK] = acc
        return out

    def positions(self, ids: pd.Series) -> np.ndarray | None:
        """Each of ``ids`` as a position among the keys (-1: absent or missing); None when the
        ids are not text of one width."""
        from .derived import fixed_width_bytes

        kind = np.int32 if len(self.ints) < 2 ** 31 - 1 else np.int64
        out = np.full(len(ids), -1, dtype=kind)
        if not len(ids) or not ids.notna().any():  # nothing to place
            return out
        fixed = fixed_width_bytes(ids) if ids.dtype == _STR else None
        if fixed is None:
            return None
        raw, present = fixed
        if raw.shape[1] != len(self.lo):  # another width: none of them is a key
            return out
        inside = ((raw >= self.lo) & (raw <= self.hi)).all(axis=1)  # a byte outside the keys' range: absent
        ints = self._pack(raw[inside] if not inside.all() else raw)
        pos = np.searchsorted(self.ints, ints)
        np.minimum(pos, len(self.ints) - 1, out=pos)
        found = np.where(self.ints[pos] == ints, pos, -1).astype(kind)
        where = np.flatnonzero(present) if present is not None else None
        at = np.flatnonzero(inside) if not inside.all() else None
        if where is not None and at is not None:
            out[where[at]] = found
        elif where is not None:
            out[where] = found
        elif at is not None:
            out[at] = found
        else:
            out = found
        return out

    def place(self, batches) -> np.ndarray | None:
        """:meth:`positions` of ids given in batches, as one array; None when a batch cannot be placed."""
        parts = []
        for ids in batches:
            pos = self.positions(ids)
            if pos is None:
                return None
            parts.append(pos)
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)


def _read_column(data, name: str, column: str) -> pd.Series:
    """One column of table ``name`` for one use (not kept in the dataset): a prepared table's
    column is read from its file alone (see :func:`playbook.loading.read_columns`)."""
    from .loading import read_columns

    return read_columns(data, name, [column], keep=False)[column]


def _has_column(data, name: str, column: str) -> bool:
    from .loading import has_column

    return has_column(data, name, column)


def _row_positions(ids: pd.Series, keys: pd.Series) -> np.ndarray | None:
    """:func:`_id_positions` (each of ``ids`` as a row of ``keys``, -1: absent; None when it cannot
    stand in for a join), as 32-bit integers when they fit. Ids of one width that pack into 64-bit
    integers (:func:`playbook.derived.id_integers`) against keys that ascend (orders stored in id
    order) are placed by a binary search of the integers: no hash table of seventy million keys."""
    from .derived import fixed_width_bytes, id_integers

    out = None
    if ids.dtype == _STR and keys.dtype == _STR and len(keys):
        k, v = fixed_width_bytes(keys), fixed_width_bytes(ids)
        if k is not None and v is not None and k[1] is None and k[0].shape[1] == v[0].shape[1]:
            ints = id_integers(k[0], v[0])
            del k
            if ints is not None and (len(ints[0]) < 2 or bool((ints[0][1:] > ints[0][:-1]).all())):
                key, val = ints
                pos = np.searchsorted(key, val)
                np.minimum(pos, len(key) - 1, out=pos)
                out = np.where(key[pos] == val, pos, -1)
                del pos, key, val, ints
                if v[1] is not None:  # missing ids: -1
                    full = np.full(len(v[1]), -1, dtype=out.dtype)
                    full[v[1]] = out
                    out = full
    if out is None:
        out = _id_positions(ids, keys)
    if out is not None and len(keys) < 2 ** 31 - 1:
        out = out.astype(np.int32)
    return out


def _take_rows(data, name: str, columns: Sequence[str], rows: np.ndarray) -> pd.DataFrame:
    """``columns`` (those the table has) of table ``name`` at ``rows`` (any order; -1: missing,
    NaN / NaT there), on a new 0..n-1 index: of a prepared table not read yet, only the row
    groups holding those rows are read (:func:`playbook.loading.read_rows`)."""
    from .loading import read_columns, read_rows

    rows = np.asarray(rows, dtype=np.int64)
    found = rows >= 0
    uniq, inverse = np.unique(rows[found], return_inverse=True)
    cols = [c for c in dict.fromkeys(columns) if _has_column(data, name, c)]
    file = data.table_file(name) if hasattr(data, "table_file") else None
    if file is not None and not len(uniq):  # no row to read: the columns' types from the schema
        import pyarrow.parquet as pq

        part = pq.read_schema(file).empty_table().select(cols).to_pandas()
    elif file is not None:
        part = read_rows(data, name, cols, uniq)
    else:
        part = read_columns(data, name, cols, keep=False)[cols].take(uniq).reset_index(drop=True)
    at = np.full(len(rows), -1, dtype=np.int64)
    at[found] = inverse
    if found.all():
        return part.take(at).reset_index(drop=True)
    if not len(part):  # every row missing
        return pd.DataFrame({c: part[c].reindex(range(len(rows))) for c in cols})
    return pd.DataFrame({c: _take_found(part[c], at) for c in cols})


def _text_column(data, name: str, column: str) -> bool:
    """Whether a table's column holds text of the default ``str`` type (a prepared file's column
    judged by its schema, nothing read)."""
    file = data.table_file(name) if hasattr(data, "table_file") else None
    if file is None:
        return data[name][column].dtype == _STR
    import pyarrow as pa
    import pyarrow.parquet as pq

    kind = pq.read_schema(file).field(column).type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _codes(data, name: str, column: str) -> tuple[np.ndarray, pd.Index] | None:
    """``pd.factorize(column, sort=True)`` of a table's text column (codes in a small integer type,
    -1: missing), once per dataset (:func:`playbook.derived.column_codes`: a prepared column is
    read as its file's dictionary, no text per row); None without the column."""
    from .derived import column_codes

    if not _has_column(data, name, column):
        return None
    return column_codes(data, name, column)


def _file_codes(file, column: str) -> tuple[np.ndarray, pd.Index]:
    """:func:`playbook.derived.column_codes` of a Parquet file's text column (sorted used values,
    codes in the smallest integer type, -1: missing), read a row group at a time as dictionaries:
    a hundred million lines' SKUs never exist as 64-bit integers at once."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(file, read_dictionary=[column])
    parts, values = [], {}
    for g in range(pf.metadata.num_row_groups):
        col = pf.read_row_group(g, columns=[column]).column(0)
        for chunk in col.chunks:
            idx = chunk.indices.to_numpy(zero_copy_only=False) if chunk.null_count == 0 else \
                chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            idx = idx.astype(np.int32, copy=False)
            names = chunk.dictionary.to_pylist()
            used = np.bincount(idx[idx >= 0], minlength=len(names)) > 0
            for i in np.flatnonzero(used):
                values.setdefault(names[i], None)
            parts.append((idx, names))
    labels = sorted(values)
    rank = {v: i for i, v in enumerate(labels)}
    kind = compact_codes(np.empty(0, dtype=np.intp), len(labels)).dtype
    codes = np.empty(sum(len(p[0]) for p in parts), dtype=kind)
    at = 0
    while parts:
        idx, names = parts.pop(0)
        lookup = np.array([rank.get(v, -1) for v in names] + [-1], dtype=kind)  # the last slot: missing
        codes[at:at + len(idx)] = lookup[idx]
        at += len(idx)
    return codes, pd.Index(pd.array(labels, dtype="str"))


def _is_code(codes: tuple[np.ndarray, pd.Index] | None, value: str, n: int, *, missing: bool = False) -> np.ndarray:
    """Rows whose text (``codes`` of :func:`_codes`) is ``value``; a missing text counts as
    ``missing``; without the column every row counts as ``missing``."""
    if codes is None:
        return np.full(n, missing, dtype=bool)
    c, labels = codes
    hit = c == (labels.get_loc(value) if value in labels else -2)
    return hit | (c < 0) if missing else hit


def _data_province_parts(data) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_province_parts` of the orders' provinces from the column's codes (the names cleaned
    once per distinct name), once per loaded dataset; None without the column."""
    def build(d):
        codes, labels = _codes(d, "orders", "province")
        mapped = _province_key(pd.Series(np.asarray(labels, dtype=object), dtype="object")).to_numpy(dtype=object)
        labels = pd.Series(np.append(mapped, None), dtype="object").fillna("unknown").to_numpy(dtype=object)
        small = compact_codes(np.where(codes >= 0, codes, len(mapped)), len(labels))
        return small, labels

    if not _has_column(data, "orders", "province"):
        return None
    return per_dataset(data, "fulfillment.provinces", build, tables=("orders",))


def _subset_rows(keep: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Position of each ``rows`` (rows of a table, -1: none) among the rows where ``keep`` is True
    (a row filter of that table): -1 where the row is filtered out or absent."""
    kind = np.int32 if len(keep) < 2 ** 31 - 1 else np.intp
    at = np.full(len(keep) + 1, -1, dtype=kind)  # the last slot answers -1 for -1
    at[np.flatnonzero(keep)] = np.arange(int(np.count_nonzero(keep)), dtype=kind)
    return at[rows]


def _join_orders(items: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """``items.merge(orders, on="order_id", how="inner")`` (lines in their own order, each with its
    order's columns), by an Arrow hash lookup of the order ids when they are unique text ids of one
    type: a merge on a million text ids is several times slower."""
    pos = None if set(items.columns) & (set(orders.columns) - {"order_id"}) else _id_positions(items["order_id"], orders["order_id"])
    if pos is None:
        return items.merge(orders, on="order_id", how="inner")
    keep = pos >= 0
    out = items.loc[keep].reset_index(drop=True)
    pos = pos[keep]
    for c in orders.columns:
        if c != "order_id":
            out[c] = orders[c].take(pos).reset_index(drop=True)
    return out


def _lookup(ids: pd.Series, mapping: pd.Series) -> pd.Series:
    """``ids.map(mapping)`` for text ids (``mapping`` indexed by unique ids), by an Arrow hash
    lookup: pandas' own map on text builds one Python object per id, slow on a million."""
    pos = _id_positions(ids, mapping.index)
    if pos is None:
        return ids.map(mapping)
    return _take_found(mapping, pos).set_axis(ids.index).rename(ids.name)


def _take_found(values: pd.Series, pos: np.ndarray) -> pd.Series:
    """``values`` at positions ``pos`` (a new 0..n-1 index), missing (NaN / NaT) where ``pos`` is -1."""
    found = pos >= 0
    out = values.take(np.where(found, pos, 0)).reset_index(drop=True)
    return out if found.all() else out.where(found)


def _left_join(frame: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """``frame.merge(right, on="order_id", how="left")`` for a ``right`` with one row per order id,
    by one Arrow hash lookup of the ids (no merge on text ids)."""
    pos = None if set(frame.columns) & (set(right.columns) - {"order_id"}) else _id_positions(frame["order_id"], right["order_id"])
    if pos is None:
        return frame.merge(right, on="order_id", how="left")
    out = frame.reset_index(drop=True)
    for c in right.columns:
        if c != "order_id":
            out[c] = _take_found(right[c], pos)
    return out


def _narrow(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Only ``columns`` of ``frame`` (those it has): taken before a row filter, so that the filter
    copies no other (text) column."""
    return frame[[c for c in columns if c in frame.columns]]


def _month(ts: pd.Series) -> pd.Series:
    """``YYYY-MM`` of each timestamp (formatted once per distinct month, not once per row)."""
    return month_labels(ts).rename(None)


def _cutoff(data) -> pd.Timestamp:
    """The end of the report month (exclusive), or the day after the last order when the data
    were loaded without a month."""
    if getattr(data, "end", None) is not None:
        return pd.Timestamp(data.end)
    return _table(data, "orders")["order_ts"].max().normalize() + DAY


def _report_month(data) -> str:
    if getattr(data, "month", None):
        return data.month
    return (_cutoff(data) - DAY).strftime("%Y-%m")


def _settings(data) -> dict:
    section = data.settings["fulfillment"]
    return section.to_dict() if hasattr(section, "to_dict") else dict(section)


def _month_bounds(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(month + "-01")
    return start, start + pd.offsets.MonthBegin(1)


def _rate(num, den):
    num = pd.Series(num, dtype="float64") if not isinstance(num, pd.Series) else num.astype("float64")
    den = pd.Series(den, dtype="float64") if not isinstance(den, pd.Series) else den.astype("float64")
    return num / den.where(den > 0)


def _binom_sf(k, n, p) -> np.ndarray:
    """P(X >= k) for X ~ Binomial(n, p), vectorised; 1.0 where there is nothing to test."""
    k = np.asarray(k, dtype="float64")
    n = np.asarray(n, dtype="float64")
    p = np.clip(np.asarray(p, dtype="float64"), 1e-6, 1 - 1e-6)
    out = probability.binom_sf(k - 1, n, p)
    return np.where((n > 0) & np.isfinite(p), out, 1.0)


def _per_value(series: pd.Series, func) -> pd.Series:
    """Apply a vectorised text function to the distinct values only, then spread back."""
    codes, uniq = pd.factorize(series, use_na_sentinel=True)
    mapped = func(pd.Series(uniq, dtype="object")).to_numpy(dtype=object)
    out = np.where(codes >= 0, mapped[np.clip(codes, 0, None)] if len(mapped) else None, None)
    return pd.Series(out, index=series.index, dtype="object")


def region_of(province: pd.Series) -> pd.Series:
    """The region (大区: 华东, 华南, 华中, 华北, 东北, 西南, 西北) of each province.

    Province names may carry their suffix (四川省, 重庆市, 广西壮族自治区); unknown names map to
    ``"其他"`` and missing ones to ``"unknown"``.

    Examples
    --------
    >>> region_of(pd.Series(["四川省", "上海", None])).tolist()
    ['西南', '华东', 'unknown']
    """
    def one(u: pd.Series) -> pd.Series:
        key = u.astype("string").str.strip().str.replace(_PROVINCE_SUFFIX, "", regex=True)
        return key.map(PROVINCE_REGIONS).astype("object").fillna("其他")

    return _per_value(province, one).fillna("unknown")


def _province_key(u: pd.Series) -> pd.Series:
    return u.astype("string").str.strip().str.replace(_PROVINCE_SUFFIX, "", regex=True).astype("object")


def _province(series: pd.Series) -> pd.Series:
    return _per_value(series, _province_key).fillna("unknown")


def _province_parts(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_province` as codes and labels, ``labels[codes]`` (an object array): the province
    of each row, cleaned once per distinct name; the last label is ``"unknown"`` (missing), so a
    code of -1 reads it too."""
    codes, uniq = pd.factorize(series, use_na_sentinel=True)
    mapped = _province_key(pd.Series(uniq, dtype="object")).to_numpy(dtype=object)
    labels = pd.Series(np.append(mapped, None), dtype="object").fillna("unknown").to_numpy(dtype=object)
    return np.where(codes >= 0, codes, len(mapped)), labels


def _order_provinces(data, orders: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_province_parts` of the orders' provinces, once per loaded dataset (None without
    the column)."""
    if "province" not in orders.columns:
        return None
    return per_dataset(data, "fulfillment.provinces", lambda d: _province_parts(orders["province"]),
                       tables=("orders",))


def _text_take(labels, codes: np.ndarray):
    """``labels[codes]`` as a text (``str``) array, missing where a code is -1: built in Arrow, so
    a few labels spread over millions of rows make no Python string per row."""
    import pyarrow as pa

    lab = pa.array([str(v) for v in labels], type=pa.large_string())
    codes = np.asarray(codes, dtype=np.int64)
    arr = lab.take(pa.array(codes, mask=codes < 0))
    return arr.to_pandas(types_mapper={pa.large_string(): _STR}.get).array


def _select_text(conditions: Sequence, choices: Sequence[str], default: str):
    """``np.select(conditions, choices, default)`` as a text (``str``) array (what a frame makes of
    the NumPy strings), by codes instead of a string per row."""
    codes = np.select([np.asarray(c, dtype=bool) for c in conditions], list(range(len(choices))), len(choices))
    return _text_take(list(choices) + [default], codes)


def _alerts_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["severity", "subject", "message"])


# ---------------------------------------------------------------------------------------------
# 1. Shipping within 48 hours, the backlog, anomalies
# ---------------------------------------------------------------------------------------------

def logistics_pauses(shipments: pd.DataFrame, *, start=None, end=None, window_days: int = 15,
                     declared: Sequence[Sequence[str]] = ()) -> pd.DataFrame:
    """The seasonal logistics pauses (春节停发): runs of days without any parcel shipped that lie
    within ``window_days`` of a spring festival, plus the pauses the shop declared.

    A day counts only inside the span of the data's shipments (between the first and last day a
    parcel left) and inside ``[start, end)`` when given. Days without shipments elsewhere in the
    year are *not* pauses: they show up as shipping anomalies instead.

    Parameters
    ----------
    shipments : contract ``shipments`` (shipped_ts).
    start, end : optional window (end exclusive).
    window_days : how far from the spring festival (:data:`SPRING_FESTIVALS`) a pause may lie.
    declared : ``[["YYYY-MM-DD", "YYYY-MM-DD"], ...]`` pauses the shop announced (inclusive).

    Returns
    -------
    DataFrame
        start, end (dates, inclusive), days, reason.

    Examples
    --------
    >>> s = pd.DataFrame({"shipped_ts": pd.to_datetime(["2026-02-10 10:00", "2026-02-24 10:00"])})
    >>> logistics_pauses(s)[["start", "end", "days"]].astype(str).values.tolist()
    [['2026-02-11', '2026-02-23', '13']]
    """
    _require(shipments, "shipments", ["shipped_ts"])
    ts = shipments["shipped_ts"].dropna()
    rows = []
    if len(ts):
        lo, hi = ts.min().normalize(), ts.max().normalize()
        if start is not None:
            lo = max(lo, pd.Timestamp(start).normalize())
        if end is not None:
            hi = min(hi, pd.Timestamp(end).normalize() - DAY)
        if lo <= hi:
            cal = pd.date_range(lo, hi, freq="D")
            # parcels per calendar day: each parcel's day counted by position, no hashing of times
            day = (ts.to_numpy() - np.datetime64(lo, "us")) // np.timedelta64(1, "D")
            day = day[(day >= 0) & (day < len(cal))]
            counts = pd.Series(np.bincount(day, minlength=len(cal)), index=cal)
            sf = SPRING_FESTIVALS.values
            pos = np.searchsorted(sf, cal.values)
            before = sf[np.clip(pos - 1, 0, len(sf) - 1)]
            after = sf[np.clip(pos, 0, len(sf) - 1)]
            dist = np.minimum(np.abs(cal.values - before), np.abs(after - cal.values))
            seasonal = (counts.to_numpy() == 0) & (dist <= np.timedelta64(window_days, "D"))
            run = pd.Series(seasonal, index=cal)
            run_id = (run != run.shift()).cumsum()
            for _, block in run[run].groupby(run_id[run]):  # a handful of runs at most
                rows.append({"start": block.index[0], "end": block.index[-1], "days": len(block),
                             "reason": "spring festival 春节停发 (no parcel shipped)"})
    for pair in declared or ():
        a, b = pd.Timestamp(pair[0]), pd.Timestamp(pair[1])
        rows.append({"start": a, "end": b, "days": int((b - a) / DAY) + 1, "reason": "declared by the shop"})
    out = pd.DataFrame(rows, columns=["start", "end", "days", "reason"])
    out["days"] = out["days"].astype("int64")
    return out.sort_values("start").reset_index(drop=True)


def shipping_status(orders: pd.DataFrame, shipments: pd.DataFrame | None = None, *, cutoff,
                    ship_within_hours: float = 48, pauses: pd.DataFrame | None = None,
                    catch_up_days: int = 3, order_rows: np.ndarray | None = None) -> pd.DataFrame:
    """Each paid order's shipping state as of ``cutoff``: on time, late, overdue (unshipped past its
    deadline) or pending (unshipped, not yet due).

    The deadline is payment + ``ship_within_hours`` (003 stage 4: 48小时内发货). During a logistics
    pause (:func:`logistics_pauses`) the clock stops: an order whose 48 hours run into a pause, or
    that is paid during it, is due ``catch_up_days`` after the warehouse reopens. An order counts
    as shipped when its first parcel leaves (the tracking number reaches the buyer).

    Cancelled orders, orders paid at or after the cut-off and refunded orders whose parcel never
    left (refunded before shipping) are left out.

    Parameters
    ----------
    orders : contract ``orders`` (order_id, order_ts; paid_ts, status, channel, province used when
        present; without paid_ts the order time stands in for the payment time).
    shipments : contract ``shipments`` (order_id, shipped_ts); None = nothing shipped.
    cutoff : timestamp; what happens at or after it is not known yet.
    order_rows : optional, the row of each shipment's order among the rows of ``orders`` (-1: not
        there), e.g. from one lookup per dataset; saves looking the order ids up again.

    Returns
    -------
    DataFrame
        one row per order: order_id, channel, province, month (payment month), paid_ts, due_ts,
        paused, shipped_ts, carrier, hours_to_ship, state (on_time / late / overdue / pending),
        within_hours (raw clock: shipped within ``ship_within_hours``; NA while undecided).

    Examples
    --------
    >>> o = pd.DataFrame({"order_id": ["a", "b"], "order_ts": pd.to_datetime(["2026-10-01", "2026-10-30"]),
    ...                   "paid_ts": pd.to_datetime(["2026-10-01 10:00", "2026-10-30 10:00"])})
    >>> s = pd.DataFrame({"order_id": ["a"], "carrier": ["sf"], "shipped_ts": pd.to_datetime(["2026-10-02 09:00"])})
    >>> shipping_status(o, s, cutoff=pd.Timestamp("2026-11-01"))["state"].tolist()
    ['on_time', 'pending']
    """
    return _shipping_status(orders, shipments, cutoff=cutoff, ship_within_hours=ship_within_hours, pauses=pauses,
                            catch_up_days=catch_up_days, order_rows=order_rows)[0]


def _shipping_status(orders: pd.DataFrame, shipments: pd.DataFrame | None = None, *, cutoff,
                     ship_within_hours: float = 48, pauses: pd.DataFrame | None = None,
                     catch_up_days: int = 3, order_rows: np.ndarray | None = None,
                     provinces: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`shipping_status`, and the row of ``orders`` each of its rows comes from.

    With ``order_rows`` (each shipment's order as a row of ``orders``) every row filter is decided
    on the orders' rows first and each column is taken once (:func:`_ship_arrays`); ``provinces``
    (optional, :func:`_province_parts` of ``orders.province``) saves cleaning the names again."""
    core = _ship_arrays(orders, shipments, cutoff=cutoff, ship_within_hours=ship_within_hours, pauses=pauses,
                        catch_up_days=catch_up_days, order_rows=order_rows, provinces=provinces)
    if core is not None:
        return core.frame(), core.source
    _require(orders, "orders", ["order_id", "order_ts"])
    cutoff = pd.Timestamp(cutoff)
    paid = _narrow(orders, "order_id", "order_ts", "paid_ts", "channel", "province", "status")
    is_paid = np.asarray(paid_mask(paid), dtype=bool)
    paid = paid.loc[is_paid]
    pay = _col(paid, "paid_ts", pd.NaT)
    pay = pd.to_datetime(pay).fillna(paid["order_ts"])
    frame = pd.DataFrame({
        "order_id": _values(paid["order_id"]),
        "channel": _values(_col(paid, "channel", "all").fillna("unknown")),
        "province": _province(_col(paid, "province")).to_numpy(),
        "status": _values(_col(paid, "status", "paid").fillna("paid")),
        "paid_ts": pay.to_numpy(),
    })
    in_window = (frame["paid_ts"] < cutoff).to_numpy(dtype=bool)
    source = np.flatnonzero(is_paid)[in_window]
    frame = frame.loc[in_window]
    if shipments is not None and len(shipments):
        _require(shipments, "shipments", ["order_id", "shipped_ts"])
        sent = _narrow(shipments, "order_id", "shipped_ts", "carrier")
        sent = sent.loc[sent["shipped_ts"].notna()]
        # each parcel's order as a row of frame (one lookup of the ids), when the order ids are unique text
        pos = _id_positions(sent["order_id"], frame["order_id"])
        if pos is None:
            has_parcel = _has_id(frame["order_id"], sent["order_id"])
            sent = sent.loc[sent["shipped_ts"] < cutoff]
            first = (sent.sort_values("shipped_ts", kind="stable").drop_duplicates("order_id")
                     [["order_id", "shipped_ts"] + (["carrier"] if "carrier" in sent.columns else [])])
            frame = _left_join(frame, first)
        else:
            has_parcel = np.zeros(len(frame), dtype=bool)
            has_parcel[pos[pos >= 0]] = True
            ts = sent["shipped_ts"].to_numpy()
            pos = np.where(ts < np.datetime64(cutoff), pos, -1)
            chosen = _first_per_row(pos, ts, len(frame))
            frame = frame.reset_index(drop=True)
            for c in ["shipped_ts"] + (["carrier"] if "carrier" in sent.columns else []):
                frame[c] = _take_found(sent[c], chosen)
        kept = ~((frame["status"] == "refunded") & ~has_parcel).to_numpy(dtype=bool)
        frame, source = frame.loc[kept], source[kept]
    else:
        kept = (frame["status"] != "refunded").to_numpy(dtype=bool)
        frame, source = frame.loc[kept].assign(shipped_ts=pd.NaT), source[kept]
    if "carrier" not in frame.columns:
        frame["carrier"] = pd.NA
    frame["shipped_ts"] = pd.to_datetime(frame["shipped_ts"])
    clock = _ship_clock(frame["paid_ts"].to_numpy(), frame["shipped_ts"].to_numpy(), cutoff=cutoff,
                        ship_within_hours=ship_within_hours, pauses=pauses, catch_up_days=catch_up_days)
    frame["due_ts"] = clock["due"]
    frame["paused"] = clock["paused"]
    frame["hours_to_ship"] = clock["hours"]
    frame["state"] = _text_take(_SHIP_STATES, clock["state"])
    frame["within_hours"] = pd.arrays.BooleanArray(clock["w_yes"], ~clock["w_known"])
    frame["month"] = _month(frame["paid_ts"])
    return frame[_STATUS_COLUMNS].reset_index(drop=True), source


#: the states of :func:`shipping_status`, in the order of their codes in :class:`_ShipArrays`
_SHIP_STATES = ["on_time", "late", "overdue", "pending"]
_STATUS_COLUMNS = ["order_id", "channel", "province", "month", "paid_ts", "due_ts", "paused", "shipped_ts",
                   "carrier", "hours_to_ship", "state", "within_hours"]


def _ship_clock(paid: np.ndarray, shipped: np.ndarray, *, cutoff, ship_within_hours: float,
                pauses: pd.DataFrame | None, catch_up_days: int) -> dict:
    """The shipping clock of orders paid at ``paid`` and shipped at ``shipped`` (NaT: not yet), as
    arrays: due (deadline, stopped by the ``pauses``), paused, hours (payment to parcel), state
    (codes of :data:`_SHIP_STATES`), w_known and w_yes (shipped within the hours on the raw clock:
    known / yes).

    Counted on the arrays in place (one temporary at a time), when both are times of one unit in
    which the hours are a whole number of ticks; else on pandas Series (the same values)."""
    paid, shipped = np.asarray(paid), np.asarray(shipped)
    unit = np.datetime_data(paid.dtype)[0] if paid.dtype.kind == "M" else None
    ticks = None
    if unit in ("s", "ms", "us", "ns") and shipped.dtype == paid.dtype:
        per_hour = {"s": 3600, "ms": 3_600_000, "us": 3_600_000_000, "ns": 3_600_000_000_000}[unit]
        exact = float(ship_within_hours) * per_hour
        ticks = int(exact) if exact == int(exact) else None
        if pd.Timestamp(cutoff).as_unit(unit) != pd.Timestamp(cutoff):  # a cut-off finer than the times
            ticks = None
    if ticks is None:
        return _ship_clock_series(paid, shipped, cutoff=cutoff, ship_within_hours=ship_within_hours, pauses=pauses,
                                  catch_up_days=catch_up_days)
    cutoff = np.datetime64(pd.Timestamp(cutoff).as_unit(unit).to_datetime64())
    due = paid + np.timedelta64(ticks, unit)
    paused = np.zeros(len(paid), dtype=bool)
    for _, p in (pauses if pauses is not None else pd.DataFrame(columns=["start", "end"])).iterrows():
        p0 = pd.Timestamp(p["start"]).normalize()
        restart = pd.Timestamp(p["end"]).normalize() + DAY
        lowest = np.datetime64((restart + catch_up_days * DAY).as_unit(unit).to_datetime64())
        hit = (paid < np.datetime64(restart.as_unit(unit).to_datetime64())) & (due > np.datetime64(p0.as_unit(unit).to_datetime64()))
        np.maximum(due, lowest, out=due, where=hit)  # the deadline moves to the catch-up day
        paused |= hit
        del hit
    is_shipped = ~np.isnat(shipped)
    hours = (shipped - paid) / np.timedelta64(1, "h")
    state = np.full(len(paid), 3, dtype=np.int8)  # np.select's first condition wins: assigned last
    state[due <= cutoff] = 2
    state[is_shipped] = 1
    state[is_shipped & (shipped <= due)] = 0
    # within the hours on the raw clock: known once shipped, or once the hours have passed unshipped
    w_known = ((cutoff - paid) / np.timedelta64(1, "h")) > ship_within_hours
    w_known |= is_shipped
    return {"due": due, "paused": paused, "hours": hours, "state": state, "w_known": w_known,
            "w_yes": is_shipped & (hours <= ship_within_hours)}


def _ship_clock_series(paid: np.ndarray, shipped: np.ndarray, *, cutoff, ship_within_hours: float,
                       pauses: pd.DataFrame | None, catch_up_days: int) -> dict:
    """:func:`_ship_clock` on pandas Series (times of mixed units, or hours not a whole number of ticks)."""
    cutoff = pd.Timestamp(cutoff)
    paid_s, shipped_s = pd.Series(paid), pd.Series(shipped)
    due = paid_s + ship_within_hours * HOUR
    paused = np.zeros(len(paid), dtype=bool)
    for _, p in (pauses if pauses is not None else pd.DataFrame(columns=["start", "end"])).iterrows():
        p0 = pd.Timestamp(p["start"]).normalize()
        restart = pd.Timestamp(p["end"]).normalize() + DAY
        hit = ((paid_s < restart) & (due > p0)).to_numpy(dtype=bool)
        due = due.where(~hit, due.clip(lower=restart + catch_up_days * DAY))
        paused |= hit
    is_shipped = shipped_s.notna().to_numpy(dtype=bool)
    hours = ((shipped_s - paid_s) / HOUR).to_numpy()
    state = np.select([is_shipped & (shipped_s <= due).to_numpy(dtype=bool), is_shipped,
                       (due <= cutoff).to_numpy(dtype=bool)], [0, 1, 2], 3).astype(np.int8)
    # within the hours on the raw clock: known once shipped, or once the hours have passed unshipped
    w_known = is_shipped | ((cutoff - paid_s) / HOUR > ship_within_hours).to_numpy(dtype=bool)
    return {"due": due.to_numpy(), "paused": paused, "hours": hours, "state": state, "w_known": w_known,
            "w_yes": is_shipped & (hours <= ship_within_hours)}


class _ShipArrays:
    """The rows of :func:`shipping_status` as arrays (one entry per counted order, in the table's
    order) without its text columns: what the shipping report counts on. Seventy million orders
    make a status table of about ten gigabytes (ids, channels, provinces, months and states as
    text); these arrays hold a fraction of it, and :meth:`frame` builds the table's rows (all, or
    the backlog only) from the orders when they are shown.

    ``source`` is each entry's row in the orders, ``chosen`` the row in the shipments of its first
    parcel (-1: none), ``state`` codes :data:`_SHIP_STATES`. ``take_orders(columns, rows)`` and
    ``take_shipments(columns, rows)`` give those columns at those rows (a frame, -1: missing);
    ``channels`` is :func:`_codes` of the orders' channel (None without the column)."""

    def __init__(self, take_orders, take_shipments, channels, source, pay, chosen, clock, provinces, shipped):
        self.take_orders, self.take_shipments, self.channels = take_orders, take_shipments, channels
        self.source, self.paid, self.chosen = source, pay, chosen
        self.provinces, self.shipped = provinces, shipped
        self.due, self.paused, self.hours = clock["due"], clock["paused"], clock["hours"]
        self.state, self.w_known, self.w_yes = clock["state"], clock["w_known"], clock["w_yes"]

    def frame(self, idx: np.ndarray | None = None) -> pd.DataFrame:
        """The :func:`shipping_status` rows ``idx`` (all by default), as that function returns them."""
        sel = slice(None) if idx is None else idx
        src = self.source[sel]
        paid = self.take_orders(["order_id", "channel", "status"] + ([] if self.provinces is not None else ["province"]),
                                src)
        frame = pd.DataFrame({
            "order_id": _values(paid["order_id"]),
            "channel": _values(_col(paid, "channel", "all").fillna("unknown")),
            "province": (_text_take(self.provinces[1], self.provinces[0][src]) if self.provinces is not None
                         else _province(_col(paid, "province")).to_numpy()),
            "status": _values(_col(paid, "status", "paid").fillna("paid")),
            "paid_ts": self.paid[sel],
        })
        del paid
        chosen = self.chosen[sel]
        sent = self.take_shipments(["shipped_ts", "carrier"], chosen)
        frame["shipped_ts"] = pd.to_datetime(sent["shipped_ts"])
        frame["carrier"] = sent["carrier"] if "carrier" in sent.columns else pd.NA
        frame["due_ts"] = self.due[sel]
        frame["paused"] = self.paused[sel]
        frame["hours_to_ship"] = self.hours[sel]
        frame["state"] = _text_take(_SHIP_STATES, self.state[sel])
        frame["within_hours"] = pd.arrays.BooleanArray(self.w_yes[sel], ~self.w_known[sel])
        frame["month"] = _month(frame["paid_ts"])
        return frame[_STATUS_COLUMNS]

    def key_codes(self, key: str) -> tuple[np.ndarray, pd.Index]:
        """Codes of each entry's payment ``month`` or ``channel`` over sorted labels (what
        ``pd.factorize(status[key], sort=True)`` gives, labels without an entry included)."""
        if key == "month":
            m = self.paid.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
            lo, hi = int(m.min()), int(m.max())
            labels = [f"{(1970 * 12 + c) // 12:04d}-{(1970 * 12 + c) % 12 + 1:02d}" for c in range(lo, hi + 1)]
            m -= lo
            return compact_codes(m, len(labels)), pd.Index(labels, dtype=_STR)
        if self.channels is None:
            return np.zeros(len(self.source), dtype=np.intp), pd.Index(["all"], dtype=_STR)
        codes, names = self.channels
        codes, names = compact_codes(codes, len(names) + 1)[self.source], list(names)
        if (codes < 0).any():  # a missing channel counts as "unknown", sorted among the others
            if "unknown" not in names:
                old, names = names, sorted(names + ["unknown"])
                codes = np.where(codes >= 0, np.array([names.index(x) for x in old] + [0], dtype=np.intp)[codes], -1)
            codes = np.where(codes >= 0, codes, names.index("unknown"))
        return codes, pd.Index(names, dtype=_STR)

    def rates(self, keys: list[str]) -> pd.DataFrame:
        """:func:`ship_rates` of the rows by ``keys`` (``month`` and/or ``channel``)."""
        codes, levels = zip(*(self.key_codes(k) for k in keys))
        return _count_rates(keys, list(codes), list(levels), self.state, self.w_known, self.w_yes, self.hours)

    def daily(self) -> pd.DataFrame:
        """Orders, decided, on-time and paused orders per payment day, every day from the first
        to the last (what :func:`ship_anomalies` counts), by position instead of a groupby."""
        unit = np.datetime_data(self.paid.dtype)[0]
        day = self.paid.astype("datetime64[D]")
        lo, hi = day.min(), day.max()
        at = (day - lo).astype(np.int64)
        n = int((hi - lo).astype(np.int64)) + 1

        def count(mask=None):
            return np.bincount(at if mask is None else at[mask], minlength=n).astype("int64")

        index = pd.date_range(pd.Timestamp(lo).as_unit(unit), pd.Timestamp(hi).as_unit(unit), freq="D", name="date")
        return pd.DataFrame({"orders": count(), "decided": count(self.state <= 2), "on_time": count(self.state == 0),
                             "paused": count(self.paused)}, index=index)

    def backlog(self, cutoff) -> pd.DataFrame:
        """:func:`shipping_backlog` of the rows (only the unshipped rows are built as a table)."""
        return shipping_backlog(self.frame(np.flatnonzero(self.state >= 2)), cutoff=cutoff)

    def trend(self, month_ends) -> pd.DataFrame:
        """:func:`backlog_trend` of the rows."""
        return _backlog_trend(self.paid, self.shipped, self.due, month_ends=month_ends)


def _frame_taker(frame: pd.DataFrame):
    """``take(columns, rows)`` over an in-memory frame: those of ``columns`` it has at ``rows``
    (-1: missing), on a new index."""
    def take(columns, rows):
        cols = [c for c in dict.fromkeys(columns) if c in frame.columns]
        rows = np.asarray(rows)
        if len(rows) and (rows >= 0).all():
            return frame[cols].take(rows).reset_index(drop=True)
        return pd.DataFrame({c: _take_found(frame[c], rows) for c in cols})
    return take


def _ship_arrays(orders: pd.DataFrame, shipments: pd.DataFrame | None, *, cutoff, ship_within_hours: float = 48,
                 pauses: pd.DataFrame | None = None, catch_up_days: int = 3, order_rows: np.ndarray | None = None,
                 provinces: tuple[np.ndarray, np.ndarray] | None = None) -> _ShipArrays | None:
    """:func:`shipping_status` as :class:`_ShipArrays`, when ``order_rows`` (each shipment's order
    as a row of ``orders``) lets every row filter be decided on the orders' rows; None when it
    cannot (no rows, no shipments, or no paid order before the cut-off: the table path then
    gives the empty frame its types)."""
    _require(orders, "orders", ["order_id", "order_ts"])
    if (order_rows is None or shipments is None or not len(shipments) or "shipped_ts" not in shipments.columns
            or "order_id" not in shipments.columns):
        return None
    paid = _narrow(orders, "order_id", "order_ts", "paid_ts", "channel", "province", "status")
    is_paid = np.asarray(paid_mask(paid), dtype=bool)
    pay = pd.to_datetime(_col(paid, "paid_ts", pd.NaT)).fillna(paid["order_ts"]).to_numpy()
    refunded = _col(paid, "status", "paid").eq("refunded").fillna(False).to_numpy(dtype=bool)
    core = _ship_core(is_paid, refunded, pay, shipments["shipped_ts"].to_numpy(), order_rows, cutoff=cutoff,
                      ship_within_hours=ship_within_hours, pauses=pauses, catch_up_days=catch_up_days)
    if core is None:
        return None
    channels = pd.factorize(paid["channel"], sort=True) if "channel" in paid.columns else None
    source, pay, chosen, clock, shipped = core
    return _ShipArrays(_frame_taker(paid), _frame_taker(shipments), channels, source, pay, chosen, clock, provinces,
                       shipped)


def _ship_core(is_paid: np.ndarray, refunded: np.ndarray, pay: np.ndarray, shipped_ts: np.ndarray,
               order_rows: np.ndarray, *, cutoff, ship_within_hours: float, pauses: pd.DataFrame | None,
               catch_up_days: int):
    """The arrays of :class:`_ShipArrays` from each order's flags (paid, refunded) and payment
    time (``pay``) and each parcel's shipping time and order (``order_rows``: its row among the
    orders, -1: none): (source, pay, chosen, clock); None when no paid order is before the cut-off.
    The arrays being ``del``'d as soon as they are used keeps seventy million orders' peak low."""
    cutoff = pd.Timestamp(cutoff)
    n = len(pay)
    in_window = is_paid & (pay < np.datetime64(cutoff))
    if not in_window.any():
        return None
    small = np.int32 if max(n, len(shipped_ts)) < 2 ** 31 - 1 else np.int64
    rows = np.where(np.isnat(shipped_ts), -1, np.asarray(order_rows)).astype(small, copy=False)  # parcels sent
    has_parcel = np.zeros(n + 1, dtype=bool)  # the last slot takes the -1s
    has_parcel[rows] = True
    source = np.flatnonzero(in_window & ~(refunded & ~has_parcel[:-1])).astype(small)  # each entry's row in orders
    del has_parcel, in_window
    at = np.full(n + 1, -1, dtype=small)
    at[source] = np.arange(len(source), dtype=small)
    pos = at[rows]  # each parcel's entry (-1: none, or not sent)
    del at, rows
    pos[~(shipped_ts < np.datetime64(cutoff))] = -1  # sent at or after the cut-off: not known yet
    chosen = _first_per_row(pos, shipped_ts, len(source)).astype(small, copy=False)  # as rows of shipments
    del pos
    pay = pay[source]
    shipped = np.where(chosen >= 0, shipped_ts[np.maximum(chosen, 0)], np.datetime64("NaT"))
    clock = _ship_clock(pay, shipped, cutoff=cutoff, ship_within_hours=ship_within_hours, pauses=pauses,
                        catch_up_days=catch_up_days)
    return source, pay, chosen, clock, shipped


def _ship_arrays_data(data, *, cutoff, ship_within_hours: float = 48, pauses: pd.DataFrame | None = None,
                      catch_up_days: int = 3, order_rows: np.ndarray, shipped_ts: np.ndarray,
                      provinces: tuple[np.ndarray, np.ndarray] | None = None) -> _ShipArrays | None:
    """:func:`_ship_arrays` of a loaded dataset, from the orders' columns one at a time (status and
    channel as codes, the payment time as one array; no order-level frame): ``order_rows`` each
    shipment's order as a row of the orders, ``shipped_ts`` each shipment's time."""
    n = data.rows("orders")
    status = _codes(data, "orders", "status")
    is_paid = ~_is_code(status, "cancelled", n)  # paid_mask: a missing status counts as paid
    refunded = _is_code(status, "refunded", n)
    paid_ts = (_read_column(data, "orders", "paid_ts") if _has_column(data, "orders", "paid_ts")
               else pd.Series(pd.NaT, index=range(n)))
    pay = pd.to_datetime(paid_ts).fillna(_read_column(data, "orders", "order_ts")).to_numpy()
    del paid_ts
    core = _ship_core(is_paid, refunded, pay, shipped_ts, order_rows, cutoff=cutoff,
                      ship_within_hours=ship_within_hours, pauses=pauses, catch_up_days=catch_up_days)
    del is_paid, refunded, pay
    if core is None:
        return None
    source, pay, chosen, clock, shipped = core
    return _ShipArrays(lambda c, r: _take_rows(data, "orders", c, r), lambda c, r: _take_rows(data, "shipments", c, r),
                       _codes(data, "orders", "channel"), source, pay, chosen, clock, provinces, shipped)


def _first_per_row(pos: np.ndarray, ts: np.ndarray, n: int) -> np.ndarray:
    """For each of ``n`` rows, the parcel (index into ``pos``/``ts``) that left first, the earlier
    parcel on a tie; -1 for a row without one. ``pos``: each parcel's row (-1: none). Orders with
    a single parcel (nearly all) need no sort: only those with several are sorted by time."""
    kind = np.int32 if len(pos) < 2 ** 31 - 1 else np.int64
    idx = np.flatnonzero(pos >= 0).astype(kind)
    p = pos[idx]
    chosen = np.full(n, -1, dtype=kind)
    single = np.bincount(p, minlength=n)[p] == 1
    chosen[p[single]] = idx[single]
    many = idx[~single]
    del idx, p, single
    if len(many):
        order = many[np.lexsort((many, ts[many], pos[many]))]  # by row, then time, then parcel
        first = np.r_[True, pos[order][1:] != pos[order][:-1]]
        chosen[pos[order][first]] = order[first]
    return chosen


def ship_rates(status: pd.DataFrame, *, by: str | Sequence[str] | None = "month") -> pd.DataFrame:
    """On-time shipping rate per group of :func:`shipping_status` rows.

    ``on_time_rate`` = orders shipped by their deadline / orders whose fate is known (shipped, or
    unshipped past the deadline); pending orders are left out until they are due.
    ``within_hours_rate`` is the same on the raw clock (no pause allowance).

    Returns
    -------
    DataFrame
        [by], orders, shipped, on_time, late (shipped late or overdue), pending, on_time_rate,
        within_hours_rate, median_hours (payment to first parcel).

    Examples
    --------
    >>> st = pd.DataFrame({"month": ["2026-10"] * 3, "state": ["on_time", "late", "pending"],
    ...                    "within_hours": pd.array([True, False, pd.NA]), "hours_to_ship": [5.0, 60.0, np.nan]})
    >>> ship_rates(st)["on_time_rate"].tolist()
    [0.5]
    """
    keys = [by] if isinstance(by, str) else list(by or [])
    if keys and all(status[k].dtype == _STR for k in keys) and len(status):
        return _ship_rates_codes(status, keys)
    f = pd.DataFrame({
        "orders": 1, "shipped": status["state"].isin(["on_time", "late"]).astype("int64"),
        "on_time": status["state"].eq("on_time").astype("int64"),
        "late": status["state"].isin(["late", "overdue"]).astype("int64"),
        "pending": status["state"].eq("pending").astype("int64"),
        "w_known": status["within_hours"].notna().astype("int64"),
        "w_yes": status["within_hours"].fillna(False).astype("int64"),
        "hours": status["hours_to_ship"],
        **{k: status[k] for k in keys},
    })
    if keys:
        g = f.groupby(keys, observed=True, sort=True)
        out = g[["orders", "shipped", "on_time", "late", "pending", "w_known", "w_yes"]].sum()
        out["median_hours"] = g["hours"].median()
        out = out.reset_index()
    else:
        out = f[["orders", "shipped", "on_time", "late", "pending", "w_known", "w_yes"]].sum().to_frame().T
        out["median_hours"] = f["hours"].median()
    out["on_time_rate"] = _rate(out["on_time"], out["on_time"] + out["late"])
    out["within_hours_rate"] = _rate(out["w_yes"], out["w_known"])
    return out[keys + ["orders", "shipped", "on_time", "late", "pending", "on_time_rate",
                       "within_hours_rate", "median_hours"]]


def _ship_rates_codes(status: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """:func:`ship_rates` by text keys, counted on integer codes: each key factorized once (sorted,
    as a groupby sorts), the states read once, the counts by ``np.bincount``; the same table."""
    codes, levels = [], []
    for k in keys:
        c, u = pd.factorize(status[k], sort=True)
        codes.append(c)
        levels.append(u)
    sc, su = pd.factorize(status["state"])
    state = np.full(len(status), -1, dtype=np.int8)
    for i, name in enumerate(su):
        if name in _SHIP_STATES:
            state[sc == i] = _SHIP_STATES.index(name)
    within = status["within_hours"]
    return _count_rates(keys, codes, levels, state, within.notna().to_numpy(dtype=bool),
                        within.fillna(False).to_numpy(dtype=bool), status["hours_to_ship"].to_numpy())


def _count_rates(keys: list[str], codes: list[np.ndarray], levels: list[pd.Index], state: np.ndarray,
                 w_known: np.ndarray, w_yes: np.ndarray, hours: np.ndarray) -> pd.DataFrame:
    """The :func:`ship_rates` table from each row's key codes (over sorted ``levels``; -1:
    missing, dropped as a groupby drops it), state code (:data:`_SHIP_STATES`; -1: another),
    within-the-hours flags and hours to ship."""
    n = len(state)
    bound = math.prod(max(len(u), 1) for u in levels)
    group = np.zeros(n, dtype=np.int32 if bound < 2 ** 31 else np.int64)
    valid = np.ones(n, dtype=bool)
    size = 1
    for c, u in zip(codes, levels):  # the groups' mixed-radix number sorts like the keys
        valid &= c >= 0
        group = group * max(len(u), 1) + np.maximum(c, 0)
        size *= max(len(u), 1)
    if not valid.all():  # rows with a missing key are dropped (none usually: nothing is copied)
        group, state, w_known, w_yes, hours = group[valid], state[valid], w_known[valid], w_yes[valid], hours[valid]
    present, group = _dense_groups(group, size)
    m = len(present)
    on_time, late, overdue, pending = (state == i for i in range(4))

    def count(mask=None):
        return np.bincount(group if mask is None else group[mask], minlength=m).astype("int64")

    out = {}
    for i, k in enumerate(keys):  # each group's key values, from its number
        digit = present.copy()
        for later in levels[i + 1:]:
            digit //= max(len(later), 1)
        out[k] = levels[i].take(digit % max(len(levels[i]), 1))
    out.update({
        "orders": count(), "shipped": count(on_time | late), "on_time": count(on_time), "late": count(late | overdue),
        "pending": count(pending), "w_known": count(w_known), "w_yes": count(w_yes),
    })
    out = pd.DataFrame(out)
    out["median_hours"] = _group_median(hours, group, m)
    out["on_time_rate"] = _rate(out["on_time"], out["on_time"] + out["late"])
    out["within_hours_rate"] = _rate(out["w_yes"], out["w_known"])
    return out[keys + ["orders", "shipped", "on_time", "late", "pending", "on_time_rate",
                       "within_hours_rate", "median_hours"]]


def shipping_backlog(status: pd.DataFrame, *, cutoff) -> pd.DataFrame:
    """The unshipped backlog (待发货) at ``cutoff``: paid orders without a parcel, oldest first.

    Returns
    -------
    DataFrame
        order_id, channel, province, paid_ts, due_ts, age_hours (cut-off - payment), overdue
        (past its deadline), hours_overdue, paused.
    """
    cutoff = pd.Timestamp(cutoff)
    b = status.loc[status["state"].isin(["overdue", "pending"])].copy()
    b["age_hours"] = ((cutoff - b["paid_ts"]) / HOUR).round(1)
    b["overdue"] = b["state"].eq("overdue")
    b["hours_overdue"] = ((cutoff - b["due_ts"]) / HOUR).clip(lower=0).round(1)
    cols = ["order_id", "channel", "province", "paid_ts", "due_ts", "age_hours", "overdue", "hours_overdue", "paused"]
    return b.sort_values("age_hours", ascending=False)[cols].reset_index(drop=True)


def backlog_age_buckets(backlog: pd.DataFrame, *, ship_within_hours: float = 48) -> pd.DataFrame:
    """The backlog counted by age: under 24 hours, 24-48 hours, 2-3 days, 3-7 days, over 7 days
    (the cut at ``ship_within_hours``, 48 by default, separates orders still within the promise)."""
    h = float(ship_within_hours)
    edges = [0, min(24, h), h, max(72, h), max(168, h), np.inf]
    edges = sorted(set(edges))
    labels = []
    for a, b in zip(edges[:-1], edges[1:]):
        fa = f"{a:g}h" if a < 72 else f"{a / 24:g}d"
        labels.append(f"over {fa}" if np.isinf(b) else f"{fa}-{(f'{b:g}h' if b <= 72 else f'{b / 24:g}d')}")
    cut = pd.cut(backlog["age_hours"], edges, labels=labels, right=False)
    out = cut.value_counts(sort=False).rename_axis("age").reset_index(name="orders")
    out["age"] = out["age"].astype(str)
    out["past_promise"] = [a >= h for a in edges[:-1]]
    return out


def backlog_trend(status: pd.DataFrame, *, month_ends: Sequence | pd.DatetimeIndex) -> pd.DataFrame:
    """The backlog at each month end: orders paid before it and not shipped by it, and how many
    of them were already past their deadline.

    Counted with sorted searches (no loop over orders): backlog(m) = #paid before m - #shipped
    before m; overdue(m) = #due before m - #(due and shipped) before m.
    """
    return _backlog_trend(*(status[c].to_numpy() for c in ("paid_ts", "shipped_ts", "due_ts")), month_ends=month_ends)


def _backlog_trend(paid: np.ndarray, shipped: np.ndarray, due: np.ndarray, *, month_ends) -> pd.DataFrame:
    """:func:`backlog_trend` of orders paid at ``paid``, shipped at ``shipped`` (NaT: not yet) and
    due at ``due`` (arrays in their own unit)."""
    me = pd.DatetimeIndex(month_ends)
    m = me.to_numpy("datetime64[ns]")
    ends = np.sort(m)
    where = np.searchsorted(ends, m)  # each month end's place among the sorted ends

    def before(values: np.ndarray) -> np.ndarray:
        """How many ``values`` lie before each month end (a missing time never does): each value
        is placed among the few month ends, no sort of the values."""
        at = ends.astype(values.dtype) if values.dtype.kind == "M" else None
        if at is None or not np.array_equal(at.astype(ends.dtype), ends):  # ends not exact in the values' unit
            values, at = np.asarray(values, dtype="datetime64[ns]"), ends
        after = np.searchsorted(at, values, side="right")  # month ends at or before the value
        return np.cumsum(np.bincount(after, minlength=len(ends) + 1))[:len(ends)][where]

    both = np.where(np.isnat(shipped), shipped, np.maximum(due, shipped))  # due and shipped: the later of the two
    out = pd.DataFrame({
        "month": (me - DAY).strftime("%Y-%m"),
        "backlog": before(paid) - before(shipped),
        "overdue": before(due) - before(both),
    })
    return out


def ship_anomalies(status: pd.DataFrame, *, pauses: pd.DataFrame | None = None,
                   baseline_days: int = 28, min_drop: float = 0.10, alpha: float = 0.0001,
                   min_orders: int = 20, peak_ratio: float = 1.5,
                   campaigns: pd.DataFrame | None = None) -> pd.DataFrame:
    """Daily on-time shipping rate (by payment day) against its expectation, with the days that
    fall far below it and why.

    Expected rate = median of the ordinary days in the ``baseline_days`` before (days whose orders
    were mostly caught by a pause are left out of the baseline). A day is **flagged** when at least
    ``min_orders`` orders are decided, the rate is ``min_drop`` or more below expectation, and a
    one-sided binomial test gives p < ``alpha``. Flagged days are then explained:

    - ``seasonal pause``: most of the day's orders waited out the spring-festival pause (the clock
      already stops then, so these rarely flag);
    - ``volume peak``: the day (or the day before) paid ``peak_ratio`` times the usual orders (the
      median of the days before) - a festival or presale peak straining the warehouse, expected
      and planned for rather than an anomaly; named after the campaign when ``campaigns`` covers it;
    - ``unexplained``: an anomaly to investigate.

    Returns
    -------
    DataFrame
        date, orders, decided, on_time, rate, expected, p_value, volume_ratio, paused_share,
        flagged, explanation, campaign.
    """
    d = status.assign(date=status["paid_ts"].dt.normalize())
    d = d.assign(dec=d["state"].isin(["on_time", "late", "overdue"]).astype("int64"),
                 ok=d["state"].eq("on_time").astype("int64"), paused=d["paused"].astype("int64"))
    g = d.groupby("date").agg(orders=("order_id", "size"), decided=("dec", "sum"), on_time=("ok", "sum"),
                              paused=("paused", "sum"))
    return _ship_anomalies(g, baseline_days=baseline_days, min_drop=min_drop, alpha=alpha, min_orders=min_orders,
                           peak_ratio=peak_ratio, campaigns=campaigns)


def _ship_anomalies(g: pd.DataFrame, *, baseline_days: int = 28, min_drop: float = 0.10, alpha: float = 0.0001,
                    min_orders: int = 20, peak_ratio: float = 1.5,
                    campaigns: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`ship_anomalies` from the counts per payment day ``g`` (index: date; orders,
    decided, on_time, paused)."""
    if g.empty:
        return pd.DataFrame(columns=["date", "orders", "decided", "on_time", "rate", "expected", "p_value",
                                     "volume_ratio", "paused_share", "flagged", "explanation", "campaign"])
    cal = pd.date_range(g.index.min(), g.index.max(), freq="D")
    g = g.reindex(cal, fill_value=0)
    g.index.name = "date"
    g["rate"] = _rate(g["on_time"], g["decided"])
    g["paused_share"] = _rate(g["paused"], g["orders"]).fillna(0.0)
    ordinary = g["rate"].where((g["decided"] >= min_orders) & (g["paused_share"] < 0.5))
    expected = ordinary.rolling(f"{baseline_days}D", closed="left", min_periods=7).median()
    g["expected"] = expected.fillna(ordinary.median())
    usual = g["orders"].where(g["paused_share"] < 0.5).rolling(f"{baseline_days}D", closed="left",
                                                                 min_periods=7).median()
    usual = usual.fillna(g["orders"].median())
    g["volume_ratio"] = _rate(g["orders"], usual)
    peak = g["volume_ratio"] >= peak_ratio
    peak = peak | peak.shift(1, fill_value=False)
    p = probability.binom_cdf(g["on_time"].to_numpy(), g["decided"].to_numpy(),
                        np.clip(g["expected"].to_numpy(dtype="float64"), 1e-6, 1 - 1e-6))
    g["p_value"] = np.where(g["decided"] > 0, p, 1.0)
    g["flagged"] = ((g["decided"] >= min_orders) & (g["expected"] - g["rate"] >= min_drop)
                    & (g["p_value"] < alpha)).fillna(False).astype(bool)
    g["explanation"] = np.where(~g["flagged"], "",
                                np.where(g["paused_share"] >= 0.5, "seasonal pause",
                                         np.where(peak, "volume peak", "unexplained")))
    g["campaign"] = ""
    if campaigns is not None and len(campaigns) and {"start_date", "end_date"} <= set(campaigns.columns):
        label = _col(campaigns, "festival", "").fillna("").astype(str)
        name = _col(campaigns, "name", "").fillna("").astype(str)
        label = label.where(label != "", name)
        camp = campaigns.assign(_label=label).sort_values("start_date")
        idx = g.index
        for _, c in camp.iterrows():  # campaigns: a few dozen rows
            inside = (idx >= c["start_date"]) & (idx <= c["end_date"] + 2 * DAY) & (g["campaign"] == "")
            g.loc[inside, "campaign"] = c["_label"]
    g = g.reset_index()
    return g[["date", "orders", "decided", "on_time", "rate", "expected", "p_value", "volume_ratio",
              "paused_share", "flagged", "explanation", "campaign"]]


# ---------------------------------------------------------------------------------------------
# 2. Carriers: on-time delivery and delivery time
# ---------------------------------------------------------------------------------------------

def parcel_outcomes(shipments: pd.DataFrame, orders: pd.DataFrame | None = None, *, cutoff,
                    ship_due: pd.Series | None = None, ship_within_hours: float = 48,
                    order_rows: np.ndarray | None = None) -> pd.DataFrame:
    """Each parcel shipped before ``cutoff``: delivered on time (on or before ``promised_date``),
    late, overdue (not delivered and the promised day has passed: lost parcels end here) or
    pending; its transit time and its province and region.

    The promised date counts from the payment, so a parcel can be late because the warehouse sent
    it late, not because the carrier was slow. ``dispatched_late`` marks parcels that left after
    the order's shipping deadline (``ship_due``: order_id -> deadline, e.g. ``due_ts`` of
    :func:`shipping_status`; by default payment + ``ship_within_hours`` from ``orders.paid_ts``),
    and ``carrier_late`` the late parcels that had left on time: the carrier's own share, on
    which carriers are judged (a festival backlog in the warehouse is not the carrier's fault).

    ``order_rows`` (optional) is the row of each shipment's order among the rows of ``orders`` (-1:
    not there), e.g. from one lookup per dataset: it saves looking the order ids up again.

    Returns
    -------
    DataFrame
        order_id, carrier, province, region, shipped_ts, ship_month, promised_date, delivered_ts,
        transit_days, state (on_time / late / overdue / pending / no_promise), late (bool, NA while
        pending), dispatched_late, carrier_late (bool, NA while pending), days_late, lost, returned.
    """
    return _parcel_outcomes(shipments, orders, cutoff=cutoff, ship_due=ship_due, ship_within_hours=ship_within_hours,
                            order_rows=order_rows)


def _parcel_outcomes(shipments: pd.DataFrame, orders: pd.DataFrame | None = None, *, cutoff,
                     ship_due: pd.Series | None = None, ship_within_hours: float = 48,
                     order_rows: np.ndarray | None = None, order_due: np.ndarray | None = None,
                     provinces: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """:func:`parcel_outcomes`; with ``order_rows``, ``order_due`` (optional) gives each orders
    row's shipping deadline (NaT: none) in place of ``ship_due``, and ``provinces`` (optional,
    :func:`_province_parts` of ``orders.province``) saves cleaning the names again."""
    return _Parcels(shipments, orders, cutoff=cutoff, ship_due=ship_due, ship_within_hours=ship_within_hours,
                    order_rows=order_rows, order_due=order_due, provinces=provinces).frame()


def _sorted_codes(codes: np.ndarray, labels) -> tuple[np.ndarray, pd.Index]:
    """``codes`` into ``labels`` (which may repeat a value) renumbered over the sorted distinct
    labels, as ``pd.factorize(labels[codes], sort=True)`` numbers them (labels of any type)."""
    inverse, uniq = pd.factorize(pd.Index(labels), sort=True)
    return inverse[codes], uniq


def _filled_codes(column: pd.Series, fill: str, rows: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(column.take(rows).fillna(fill), sort=True)`` without taking the text: the
    whole column factorized once (an integer code per row), the missing ones put under ``fill``
    among the sorted labels; labels no row of ``rows`` has are kept (unused)."""
    codes, names = pd.factorize(column, sort=True)
    return _fill_codes(codes[rows], names, fill)


def _fill_codes(codes: np.ndarray, names: pd.Index, fill: str) -> tuple[np.ndarray, pd.Index]:
    """:func:`_filled_codes` from the codes of the rows and the column's sorted labels."""
    codes = np.asarray(codes)
    if (codes < 0).any():
        if fill not in names:
            merged = pd.Index(sorted(list(names) + [fill]), dtype=names.dtype)
            codes = np.where(codes >= 0, merged.get_indexer(names)[np.maximum(codes, 0)], -1)
            names = merged
        codes = np.where(codes >= 0, codes, names.get_loc(fill))
    return codes, names


def _label_take(labels: pd.Index, codes: np.ndarray) -> pd.Series:
    """``labels[codes]`` as a column of the labels' own type (text ``str`` built in Arrow)."""
    if labels.dtype == _STR:
        return pd.Series(_text_take(list(labels), codes))
    return pd.Series(labels.take(codes).to_numpy(), dtype=labels.dtype)


#: the parcel states of :func:`parcel_outcomes`, in the order of their codes in :class:`_Parcels`
_PARCEL_STATES = ["no_promise", "on_time", "late", "overdue", "pending"]


class _Parcels:
    """:func:`parcel_outcomes` as arrays, one entry per parcel shipped before the cut-off (in the
    shipments' order), without its text columns: the carrier, province, region and ship month as
    codes over sorted labels (``labels``) and the state as a code of :data:`_PARCEL_STATES`.
    Seven million parcels make an outcome table of about a gigabyte (ids, names and states as
    text, provinces as Python objects); the sections count on these arrays, and :meth:`frame`
    builds the table's rows (all, or the few late parcels of a month) when they are shown.

    ``sid`` is each entry's row in ``shipments``, ``rows`` its order's row in ``orders`` (-1:
    not there; None without ``order_rows``)."""

    def __init__(self, shipments: pd.DataFrame, orders: pd.DataFrame | None = None, *, cutoff,
                 ship_due: pd.Series | None = None, ship_within_hours: float = 48,
                 order_rows: np.ndarray | None = None, order_due: np.ndarray | None = None,
                 provinces: tuple[np.ndarray, np.ndarray] | None = None):
        _require(shipments, "shipments", ["order_id", "carrier", "shipped_ts"])
        cutoff = pd.Timestamp(cutoff)
        self.order_id = shipments["order_id"]  # for the rows shown (the other columns are not held)
        sent = (shipments["shipped_ts"].notna() & (shipments["shipped_ts"] < cutoff)).to_numpy(dtype=bool)
        sid = np.flatnonzero(sent)
        self.sid = sid.astype(np.int32) if len(shipments) < 2 ** 31 - 1 else sid
        self.labels = {}
        self.codes = {}
        self.codes["carrier"], self.labels["carrier"] = _filled_codes(shipments["carrier"], "unknown", sid)
        shipped = shipments["shipped_ts"].to_numpy()[sid]
        self.shipped = shipped
        self.promised = pd.to_datetime(_col(shipments, "promised_date", pd.NaT)[sent]).dt.normalize().to_numpy()
        delivered = pd.to_datetime(_col(shipments, "delivered_ts", pd.NaT)[sent]).to_numpy()
        delivered = np.where(delivered >= np.datetime64(cutoff), np.datetime64("NaT"), delivered)
        self.delivered = delivered
        status = _col(shipments, "status")
        self.lost = status.eq("lost").fillna(False).to_numpy(dtype=bool)[sid]
        self.returned = status.eq("returned").fillna(False).to_numpy(dtype=bool)[sid]
        del status, sent
        opos = None  # each parcel's order as a row of orders: one lookup, when the order ids are unique text
        rows = None if order_rows is None or orders is None else np.asarray(order_rows)[sid]
        self.rows = rows if rows is None or len(orders) >= 2 ** 31 - 1 else rows.astype(np.int32)
        ids = None  # the parcels' order ids, taken only where a path joins by id

        def order_ids():
            nonlocal ids
            if ids is None:
                ids = shipments["order_id"].take(sid).reset_index(drop=True)
            return ids

        if orders is not None and "province" in orders.columns:
            opos = rows if rows is not None else _id_positions(order_ids(), orders["order_id"])
        if opos is not None and provinces is not None:  # the names cleaned once per dataset, spread by codes
            codes, labels = provinces
            self._area_codes(np.where(opos >= 0, codes[opos], len(labels) - 1), labels)  # the last label: unknown
        else:
            if opos is not None:
                province = _province(_take_found(orders["province"], opos))
            elif orders is not None and "province" in orders.columns:
                prov = orders[["order_id", "province"]].drop_duplicates("order_id").set_index("order_id")["province"]
                province = _province(_lookup(order_ids(), prov))
            else:
                province = pd.DataFrame(index=range(len(sid))).assign(province="unknown")["province"]
            region = region_of(province.replace("unknown", pd.NA))
            self.codes["province"], self.labels["province"] = pd.factorize(province, sort=True)
            self.codes["region"], self.labels["region"] = pd.factorize(region, sort=True)
        self._outcomes(shipped, delivered, cutoff)
        if ship_due is None and opos is not None and "paid_ts" in orders.columns and order_due is None:
            due = _take_found(orders["paid_ts"], opos) + ship_within_hours * HOUR
        elif rows is not None and order_due is not None:
            due = pd.Series(np.where(rows >= 0, order_due[rows], np.datetime64("NaT")), name="order_id")
        else:
            if ship_due is None and orders is not None and "paid_ts" in orders.columns:
                ship_due = (orders[["order_id", "paid_ts"]].drop_duplicates("order_id").set_index("order_id")["paid_ts"]
                            + ship_within_hours * HOUR)
            due = pd.to_datetime(_lookup(order_ids(), ship_due)) if ship_due is not None else None
        self.dispatched_late = ((pd.Series(shipped) > due).fillna(False).astype(bool).to_numpy() if due is not None
                                else np.zeros(len(sid), dtype=bool))
        self.carrier_late = self.late & ~self.dispatched_late  # meaningful where decided
        self.codes = {k: compact_codes(np.asarray(c), len(self.labels[k])) for k, c in self.codes.items()}


    def _area_codes(self, at: np.ndarray, labels, *, compact: bool = False) -> None:
        """Province and region codes of the parcels from each one's position ``at`` among the
        cleaned province ``labels`` (in the smallest integer type when ``compact``)."""
        regions = region_of(pd.Series(labels, dtype="object").replace("unknown", pd.NA)).to_numpy(dtype=object)
        for key, names in (("province", labels), ("region", regions)):
            codes, self.labels[key] = _sorted_codes(at, pd.Index(names, dtype="object"))
            self.codes[key] = compact_codes(codes, len(self.labels[key])) if compact else codes

    def _outcomes(self, shipped: np.ndarray, delivered: np.ndarray, cutoff: pd.Timestamp) -> None:
        """The ship month, transit days and state of each entry (``promised`` set before)."""
        month = shipped.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
        lo = int(month.min()) if len(month) else 0
        self.labels["ship_month"] = pd.Index(
            [f"{(1970 * 12 + c) // 12:04d}-{(1970 * 12 + c) % 12 + 1:02d}" for c in range(lo, int(month.max()) + 1 if len(month) else lo)],
            dtype=_STR)
        month -= lo
        self.codes["ship_month"] = compact_codes(month, len(self.labels["ship_month"]))
        del month
        self.transit = (pd.Series(delivered) - pd.Series(shipped)) / DAY
        self.transit = self.transit.to_numpy()
        dday = pd.Series(delivered).dt.normalize()
        prom = pd.Series(self.promised)
        today = cutoff.normalize()
        is_delivered = dday.notna().to_numpy(dtype=bool)
        # np.select([no promise, delivered by it, delivered, past it], [0, 1, 2, 3], 4) in one byte
        # per parcel: the later assignments win, as select's earlier conditions do
        code = np.full(len(shipped), 4, dtype=np.int8)
        code[(prom < today).to_numpy(dtype=bool)] = 3
        code[is_delivered] = 2
        code[is_delivered & (dday <= prom).to_numpy(dtype=bool)] = 1
        code[prom.isna().to_numpy(dtype=bool)] = 0
        self.state = code
        self.decided = (code >= 1) & (code <= 3)
        self.late = code >= 2  # meaningful where decided
        self.today = today
        del dday, prom, code

    @classmethod
    def from_data(cls, data, *, cutoff, order_rows: np.ndarray, ship_within_hours: float = 48,
                  dispatched_late: np.ndarray | None = None,
                  provinces: tuple[np.ndarray, np.ndarray] | None = None) -> "_Parcels":
        """The parcels of a loaded dataset with their orders known by row (``order_rows``, each
        shipment's order as a row of the orders): the shipments' columns are read one at a time
        (carrier and status as codes; the order ids only for the rows shown), the orders' only for
        the provinces (``provinces``, :func:`_data_province_parts`) and, without
        ``dispatched_late`` (each shipment left after its order's deadline, from the shipping
        section), the payment time. The same arrays as ``_Parcels(shipments, orders, ...)``."""
        self = cls.__new__(cls)
        cutoff = pd.Timestamp(cutoff)
        self.order_id = None
        self._data = weakref.ref(data)
        shipped = pd.to_datetime(_read_column(data, "shipments", "shipped_ts"))
        n = len(shipped)
        sent = (shipped.notna() & (shipped < cutoff)).to_numpy(dtype=bool)
        shipped = shipped.to_numpy()
        sid = np.flatnonzero(sent)
        self.sid = sid.astype(np.int32) if n < 2 ** 31 - 1 else sid
        self.labels, self.codes = {}, {}
        if not _has_column(data, "shipments", "carrier"):
            raise KeyError("table shipments lacks column(s) carrier")
        codes, names = _codes(data, "shipments", "carrier")
        self.codes["carrier"], self.labels["carrier"] = _fill_codes(codes[sid], names, "unknown")
        shipped = shipped[sid]
        self.shipped = shipped

        def column(name):  # the sent parcels' times (NaT without the column)
            if not _has_column(data, "shipments", name):
                return pd.to_datetime(pd.Series(pd.NaT, index=range(len(sid))))
            return pd.to_datetime(_read_column(data, "shipments", name)[sent]).reset_index(drop=True)

        self.promised = column("promised_date").dt.normalize().to_numpy()
        delivered = column("delivered_ts").to_numpy()
        delivered = np.where(delivered >= np.datetime64(cutoff), np.datetime64("NaT"), delivered)
        self.delivered = delivered
        status = _codes(data, "shipments", "status")
        self.lost = _is_code(status, "lost", n)[sid]
        self.returned = _is_code(status, "returned", n)[sid]
        del status, sent
        rows = np.asarray(order_rows)[sid]
        n_orders = data.rows("orders")
        self.rows = rows if n_orders >= 2 ** 31 - 1 else rows.astype(np.int32)
        if provinces is not None:  # the names cleaned once per dataset, spread by codes
            codes, labels = provinces
            self._area_codes(np.where(rows >= 0, codes[rows], len(labels) - 1), labels, compact=True)  # last: unknown
        else:
            province = pd.DataFrame(index=range(len(sid))).assign(province="unknown")["province"]
            region = region_of(province.replace("unknown", pd.NA))
            self.codes["province"], self.labels["province"] = pd.factorize(province, sort=True)
            self.codes["region"], self.labels["region"] = pd.factorize(region, sort=True)
        self._outcomes(shipped, delivered, cutoff)
        if dispatched_late is not None:
            self.dispatched_late = np.asarray(dispatched_late, dtype=bool)[sid]
        elif _has_column(data, "orders", "paid_ts"):  # the deadline counted from the payment
            paid = pd.to_datetime(_read_column(data, "orders", "paid_ts")).to_numpy()
            due = np.where(rows >= 0, paid[np.maximum(rows, 0)], np.datetime64("NaT")) + np.timedelta64(
                int(round(ship_within_hours * 3600 * 1e6)), "us")
            del paid
            self.dispatched_late = shipped > due
            del due
        else:
            self.dispatched_late = np.zeros(len(sid), dtype=bool)
        self.carrier_late = self.late & ~self.dispatched_late  # meaningful where decided
        self.codes = {k: compact_codes(np.asarray(c), len(self.labels[k])) for k, c in self.codes.items()}
        return self

    def _order_ids(self, sid: np.ndarray) -> pd.Series:
        """The order ids of shipments rows ``sid`` (read for the rows shown)."""
        if self.order_id is not None:
            return self.order_id.take(sid)
        return _take_rows(self._data(), "shipments", ["order_id"], sid)["order_id"]

    def __len__(self) -> int:
        return len(self.sid)

    def window(self, start, end) -> np.ndarray:
        """The entries shipped in [start, end)."""
        ts = pd.Series(self.shipped)
        return ((ts >= start) & (ts < end)).to_numpy(dtype=bool)

    def counts(self, keys: list[str], keep: np.ndarray | None = None, *, p90: bool = True) -> pd.DataFrame:
        """:func:`_late_counts` of the entries ``keep`` (all by default), grouped on the codes."""
        sel = slice(None) if keep is None else keep
        bound = math.prod(len(self.labels[k]) for k in keys)
        group = np.zeros(len(self.sid) if keep is None else int(np.count_nonzero(keep)),
                         dtype=np.int32 if bound < 2 ** 31 else np.int64)
        if not len(group):  # nothing to count: the table path gives the empty frame its types
            return _late_counts(self.frame(np.flatnonzero(keep)), keys)
        size = 1
        for k in keys:  # each entry's group as a mixed-radix number, which sorts like the keys
            group = group * len(self.labels[k]) + self.codes[k][sel]
            size *= len(self.labels[k])
        present, group = _dense_groups(group, size)
        m = len(present)
        decided = self.decided[sel]

        def count(mask=None):
            return np.bincount(group if mask is None else group[mask], minlength=m).astype("int64")

        out = {}
        for i, k in enumerate(keys):  # the labels as a groupby on them gives them (text inferred as str)
            digit = present.copy()
            for later in keys[i + 1:]:
                digit //= len(self.labels[later])
            out[k] = pd.Series(self.labels[k].take(digit % len(self.labels[k])).to_numpy(dtype=object))
        transit = self.transit[sel]
        out = pd.DataFrame({**out, "parcels": count(), "decided": count(decided),
                            "late": count(decided & self.carrier_late[sel]), "late_all": count(decided & self.late[sel]),
                            "median_days": _group_median(transit, group, m)})
        if p90:  # pandas' quantile sorts every value: only where it is shown
            out["p90_days"] = pd.Series(transit).groupby(group).quantile(0.9).reindex(range(m)).to_numpy()
        out["late_rate"] = _rate(out["late"], out["decided"])
        out["on_time_rate"] = 1 - out["late_rate"]
        out["late_all_rate"] = _rate(out["late_all"], out["decided"])
        return out

    def flags(self, orders: pd.DataFrame | int) -> "_ParcelFlags | None":
        """What the refund section reads of the parcels (None without ``order_rows``); ``orders``:
        the orders, or their number."""
        if self.rows is None:
            return None
        small = np.int32 if (orders if isinstance(orders, int) else len(orders)) < 2 ** 31 - 1 else np.intp
        return _ParcelFlags(orders, self.rows.astype(small), self.lost, (self.state == 2) | (self.state == 3),
                            self.returned)

    def frame(self, idx: np.ndarray | None = None) -> pd.DataFrame:
        """The :func:`parcel_outcomes` rows ``idx`` (all by default), as that function returns them."""
        sel = slice(None) if idx is None else idx
        sid = self.sid[sel]
        out = pd.DataFrame({"order_id": _values(self._order_ids(sid))})
        for k in ("carrier", "province", "region"):
            out[k] = _label_take(self.labels[k], self.codes[k][sel])
        out["shipped_ts"] = self.shipped[sel]
        out["ship_month"] = _label_take(self.labels["ship_month"], self.codes["ship_month"][sel])
        out["promised_date"] = self.promised[sel]
        out["delivered_ts"] = self.delivered[sel]
        out["transit_days"] = self.transit[sel]
        out["state"] = _text_take(_PARCEL_STATES, self.state[sel])
        decided = self.decided[sel]
        late = pd.Series(pd.arrays.BooleanArray(self.late[sel], ~decided), index=out.index)  # NA while undecided
        out["late"] = late
        out["dispatched_late"] = self.dispatched_late[sel]
        out["carrier_late"] = late & ~out["dispatched_late"].astype("boolean")
        dday = pd.Series(self.delivered[sel]).dt.normalize()
        prom = pd.Series(self.promised[sel])
        state = self.state[sel]
        out["days_late"] = np.where(state == 2, ((dday - prom) / DAY).to_numpy(),
                                    np.where(state == 3, ((self.today - prom) / DAY).to_numpy(), 0.0))
        out["lost"] = self.lost[sel]
        out["returned"] = self.returned[sel]
        return out


class _ParcelFlags:
    """Per parcel shipped before the cut-off: its order's row in ``orders`` (-1: not there), and
    whether it was lost, is late (delivered late or out past the promise) or was returned: what
    the refund section reads of the parcels, a few bytes a parcel."""

    def __init__(self, orders, rows, lost, late, returned):
        self.orders, self.rows, self.lost, self.late, self.returned = orders, rows, lost, late, returned

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> np.ndarray:
        return {"lost": self.lost, "late": self.late, "returned": self.returned}[name]


def _group_median(values: np.ndarray, group: np.ndarray, m: int) -> np.ndarray:
    """``pd.Series(values).groupby(group).median()`` for groups ``0..m-1`` (NaN for a group
    without a value; NaN values skipped), by one counting sort of the groups and a median per
    slice: half the memory of pandas' grouped median on seventy million rows, the same numbers."""
    values = np.asarray(values, dtype="float64")
    out = np.full(m, np.nan)
    if not len(values):
        return out
    group = np.asarray(group)
    if m < 2 ** 15:  # a stable sort of 16-bit integers is a radix sort
        group = group.astype(np.int16)
    order = np.argsort(group, kind="stable")
    sorted_values = values[order]
    del order
    bounds = np.concatenate(([0], np.cumsum(np.bincount(group, minlength=m))))
    for i in range(m):  # a few hundred groups
        seg = sorted_values[bounds[i]:bounds[i + 1]]
        seg = seg[~np.isnan(seg)]
        if len(seg):
            out[i] = np.median(seg)
    return out


def _dense_groups(group: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The group numbers (below ``size``) that occur, ascending, and each entry's index among them:
    ``np.unique(group, return_inverse=True)``, by a bincount when the numbers are dense enough."""
    if size > 4 * len(group) + 1024:  # too many combinations to count densely
        return np.unique(group, return_inverse=True)
    seen = np.bincount(group, minlength=size) > 0
    index = (np.cumsum(seen) - 1).astype(np.int32 if size < 2 ** 31 else np.int64)
    return np.flatnonzero(seen), index[group]


def _late_counts(parcels, keys: list[str], keep: np.ndarray | None = None, *, p90: bool = True) -> pd.DataFrame:
    """Counts per group: ``late`` / ``late_rate`` / ``on_time_rate`` are the carrier's own (late
    although dispatched on time); ``late_all_rate`` is every late parcel (the buyer's view).
    ``parcels`` may be :class:`_Parcels` (grouped on codes; ``keep``: the entries counted)."""
    if isinstance(parcels, _Parcels):
        return parcels.counts(keys, keep, p90=p90)
    f = parcels.assign(decided=parcels["late"].notna().astype("int64"),
                       late_n=parcels["carrier_late"].fillna(False).astype("int64"),
                       late_all=parcels["late"].fillna(False).astype("int64"))
    return _count_late(f, keys, size="order_id")


def _count_late(f: pd.DataFrame, keys: list[str], *, size: str) -> pd.DataFrame:
    """:func:`_late_counts` of a frame with the keys, decided, late_n, late_all and transit_days."""
    g = f.groupby(keys, observed=True)
    out = g.agg(parcels=(size, "size"), decided=("decided", "sum"), late=("late_n", "sum"),
                late_all=("late_all", "sum"), median_days=("transit_days", "median"))
    out["p90_days"] = g["transit_days"].quantile(0.9)
    out["late_rate"] = _rate(out["late"], out["decided"])
    out["on_time_rate"] = 1 - out["late_rate"]
    out["late_all_rate"] = _rate(out["late_all"], out["decided"])
    return out.reset_index()


#: the parcel columns :func:`_late_counts` reads (besides its keys)
_COUNTED = ["order_id", "late", "carrier_late", "transit_days"]


def _in(parcels: pd.DataFrame, start, end, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The parcels shipped in [start, end); only ``columns`` when given (taken before the row
    filter, so that the other columns are not copied)."""
    keep = ((parcels["shipped_ts"] >= start) & (parcels["shipped_ts"] < end)).to_numpy(dtype=bool)
    return parcels.loc[keep] if columns is None else parcels.loc[keep, list(dict.fromkeys(columns))]


def _window_counts(parcels, keys: list[str], start, end, *, p90: bool = True) -> pd.DataFrame:
    """:func:`_late_counts` of the parcels shipped in [start, end) (a frame or :class:`_Parcels`)."""
    if isinstance(parcels, _Parcels):
        return parcels.counts(keys, parcels.window(start, end), p90=p90)
    return _late_counts(_in(parcels, start, end, keys + _COUNTED), keys)


def carrier_scorecard(parcels: pd.DataFrame, *, start, end, baseline_start=None, target: float = 0.90,
                      min_rise: float = 0.05, alpha: float = 0.001, min_parcels: int = 30) -> pd.DataFrame:
    """Each carrier over the review window [start, end) (by ship date) against the agreed delivery
    time (时效协议) and against its own past.

    - on_time_rate = 1 - late_rate, where late_rate = parcels delivered after ``promised_date`` (or
      still out past it) although the warehouse dispatched them on time, over parcels decided (see
      :func:`parcel_outcomes`; ``late_all_rate`` counts every late parcel, the buyer's view); a
      carrier under ``target`` by more than chance (one-sided
      binomial test of its late parcels against the 1 - ``target`` allowed, p < ``alpha`` divided
      by the number of carriers rated) is ``below target`` - a carrier at 89% in a festival
      quarter is not, one at 73% is;
    - late_rate against ``baseline_late_rate`` (the same carrier, ship dates from ``baseline_start``
      up to ``start``): a rise of ``min_rise`` or more that a one-sided binomial test finds
      significant (p < ``alpha`` divided by the number of carriers rated) is ``worsening``;
    - carriers with fewer than ``min_parcels`` decided parcels are not rated.

    Returns
    -------
    DataFrame
        carrier, parcels, decided, late, on_time_rate, late_rate, late_all_rate, median_days,
        p90_days, baseline_decided, baseline_late_rate, rise, p_value (rise), p_below (shortfall
        against the target), status, flagged; worst first.
    """
    win = _window_counts(parcels, ["carrier"], start, end)
    if baseline_start is not None:
        bs = pd.Timestamp(baseline_start)
    else:
        bs = pd.Series(parcels.shipped).min() if isinstance(parcels, _Parcels) else parcels["shipped_ts"].min()
    base = _window_counts(parcels, ["carrier"], bs, start, p90=False)[["carrier", "decided", "late"]]
    base = base.rename(columns={"decided": "baseline_decided", "late": "baseline_late"})
    out = win.merge(base, on="carrier", how="left")
    out["baseline_decided"] = out["baseline_decided"].fillna(0).astype("int64")
    out["baseline_late_rate"] = _rate(out["baseline_late"].fillna(0), out["baseline_decided"])
    out["rise"] = out["late_rate"] - out["baseline_late_rate"]
    out["p_value"] = _binom_sf(out["late"], out["decided"], out["baseline_late_rate"].fillna(np.nan))
    rated = out["decided"] >= min_parcels
    tested = max(1, int(rated.sum()))  # Bonferroni: every rated carrier is a test
    out["p_below"] = _binom_sf(out["late"], out["decided"], pd.Series(1 - target, index=out.index))
    below = rated & (out["on_time_rate"] < target) & (out["p_below"] * tested < alpha)
    worse = (rated & (out["rise"] >= min_rise) & (out["p_value"] * tested < alpha)
             & (out["baseline_decided"] >= min_parcels))
    out["status"] = np.select([~rated, below, worse], ["too few parcels", "below target", "worsening"], "ok")
    out["flagged"] = below | worse
    cols = ["carrier", "parcels", "decided", "late", "on_time_rate", "late_rate", "late_all_rate", "median_days",
            "p90_days", "baseline_decided", "baseline_late_rate", "rise", "p_value", "p_below", "status", "flagged"]
    return out.sort_values(["flagged", "late_rate"], ascending=[False, False])[cols].reset_index(drop=True)


def carrier_cells(parcels: pd.DataFrame, *, start, end, by: str = "province", min_parcels: int = 30) -> pd.DataFrame:
    """Carrier x area (``by`` = ``"province"`` or ``"region"``) over [start, end): parcels, the
    carrier's late share (dispatched on time, delivered after the promise) and every late parcel's
    share, on-time rate and median delivery days; ``rated`` when at least ``min_parcels`` parcels
    are decided. ``p_value`` tests whether the carrier is later in this area than in its other
    areas (one-sided binomial against the rest's late share): small = a real local problem.

    Returns
    -------
    DataFrame
        carrier, <by>, parcels, decided, late, late_rate, on_time_rate, late_all_rate, median_days,
        p90_days, rest_late_rate, p_value, rated.
    """
    cells = _window_counts(parcels, ["carrier", by], start, end)
    tot = cells.groupby("carrier")[["decided", "late"]].transform("sum")
    cells["rest_late_rate"] = _rate(tot["late"] - cells["late"], tot["decided"] - cells["decided"])
    cells["p_value"] = _binom_sf(cells["late"], cells["decided"], cells["rest_late_rate"])
    cells["rated"] = cells["decided"] >= min_parcels
    cols = ["carrier", by, "parcels", "decided", "late", "late_rate", "on_time_rate", "late_all_rate",
            "median_days", "p90_days", "rest_late_rate", "p_value", "rated"]
    return cells[cols].sort_values(["carrier", "late_rate"], ascending=[True, False]).reset_index(drop=True)


def carrier_monthly(parcels: pd.DataFrame, *, min_parcels: int = 20) -> pd.DataFrame:
    """Late share per carrier and ship month - the carrier's own (``late_rate``) and every late
    parcel (``late_all_rate``) - NaN where fewer than ``min_parcels`` are decided."""
    out = _late_counts(parcels, ["ship_month", "carrier"], p90=False).rename(columns={"ship_month": "month"})
    out.loc[out["decided"] < min_parcels, ["late_rate", "on_time_rate", "late_all_rate"]] = np.nan
    return out[["month", "carrier", "parcels", "decided", "late", "late_rate", "on_time_rate", "late_all_rate",
                "median_days"]]


def late_parcels(parcels: pd.DataFrame, *, start, end, orders: pd.DataFrame | None = None,
                 order_rows: np.ndarray | None = None) -> pd.DataFrame:
    """Parcels promised for [start, end) that arrived late or are still out past the promise, by
    carrier and days late: the list for contacting and compensating buyers (003 stage 4: 延迟时主动
    联系买家说明情况并补偿). ``order_rows`` (optional): the row of each parcel's order among the rows
    of ``orders`` (-1: none), which saves looking the order ids up."""
    chosen = ((parcels["promised_date"] >= start) & (parcels["promised_date"] < end)
              & parcels["state"].isin(["late", "overdue"])).to_numpy(dtype=bool)
    due = parcels.loc[chosen].copy()
    if orders is not None and "customer_id" in orders.columns and order_rows is not None:
        due.insert(1, "customer_id", _take_found(orders["customer_id"], np.asarray(order_rows)[chosen])
                   .set_axis(due.index))
    elif orders is not None and "customer_id" in orders.columns:
        cust = orders[["order_id", "customer_id"]].drop_duplicates("order_id").set_index("order_id")["customer_id"]
        due.insert(1, "customer_id", due["order_id"].map(cust))
    due["state"] = due["state"].map({"late": "delivered late", "overdue": "not delivered, past promise"})
    due["cause"] = np.where(due["dispatched_late"], "warehouse dispatched late", "carrier")
    cols = [c for c in ["order_id", "customer_id", "carrier", "province", "shipped_ts", "promised_date",
                        "delivered_ts", "days_late", "state", "cause", "lost"] if c in due.columns]
    return due.sort_values(["carrier", "days_late"], ascending=[True, False])[cols].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# 3. Service tickets
# ---------------------------------------------------------------------------------------------

def _clock(start: pd.Series, stop: pd.Series, cutoff, hours: float):
    done = stop.notna() & (stop < cutoff)
    taken = ((stop - start) / HOUR).where(done)
    state = np.select([done & (taken <= hours), done | ((cutoff - start) / HOUR > hours)],
                      ["within", "breached"], "pending")
    return taken, state


def ticket_times(tickets: pd.DataFrame, *, cutoff, first_response_hours: float = 24,
                 resolution_hours: float = 48) -> pd.DataFrame:
    """Each ticket opened before ``cutoff``: hours to the first response and to resolution, and
    whether each met its target (within / breached / pending while the clock still runs /
    unknown when the source has no such column).

    A response or resolution after the cut-off is not known yet: the ticket counts as open.

    Returns
    -------
    DataFrame
        ticket_id, order_id, customer_id, category, opened_ts, month, hour, response_hours,
        response_state, resolution_hours, resolution_state, open, satisfaction.

    Examples
    --------
    >>> t = pd.DataFrame({"ticket_id": ["t1"], "opened_ts": pd.to_datetime(["2026-10-01 22:00"]),
    ...                   "first_response_ts": pd.to_datetime(["2026-10-02 09:00"]),
    ...                   "resolved_ts": pd.to_datetime(["2026-10-04 09:00"])})
    >>> r = ticket_times(t, cutoff=pd.Timestamp("2026-11-01"))
    >>> r[["response_hours", "response_state", "resolution_hours", "resolution_state"]].values.tolist()
    [[11.0, 'within', 59.0, 'breached']]
    """
    _require(tickets, "service_tickets", ["ticket_id", "opened_ts"])
    cutoff = pd.Timestamp(cutoff)
    t = tickets.loc[tickets["opened_ts"] < cutoff]
    opened = t["opened_ts"]
    resp, resp_state = _clock(opened, pd.to_datetime(_col(t, "first_response_ts", pd.NaT)), cutoff, first_response_hours)
    res, res_state = _clock(opened, pd.to_datetime(_col(t, "resolved_ts", pd.NaT)), cutoff, resolution_hours)
    # a source without the column says nothing about the clock: unknown, not breached
    if "first_response_ts" not in t.columns or t["first_response_ts"].isna().all():
        resp_state = np.full(len(t), "unknown", dtype=object)
    if "resolved_ts" not in t.columns or t["resolved_ts"].isna().all():
        res_state = np.full(len(t), "unknown", dtype=object)
    sat = pd.to_numeric(_col(t, "satisfaction"), errors="coerce").astype("Float64")
    out = pd.DataFrame({
        "ticket_id": t["ticket_id"], "order_id": _col(t, "order_id"), "customer_id": _col(t, "customer_id"),
        "category": _col(t, "category").fillna("unknown"), "opened_ts": opened,
        "month": _month(opened), "hour": opened.dt.hour,
        "response_hours": resp, "response_state": resp_state,
        "resolution_hours": res, "resolution_state": res_state,
        "satisfaction": sat.where(res.notna()),
    })
    out["open"] = out["resolution_hours"].isna()
    return out.reset_index(drop=True)


def ticket_summary(times: pd.DataFrame, *, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Tickets, median hours and share within target for the first response and the resolution,
    open tickets, and satisfaction (CSAT: mean score, share scored 4-5, share scored 1-2) per group.

    Shares within target count only tickets whose clock has run out (pending ones are left out).
    """
    keys = [by] if isinstance(by, str) else list(by or [])
    f = times.assign(
        n=1, r_in=times["response_state"].eq("within").astype("int64"),
        r_due=times["response_state"].isin(["within", "breached"]).astype("int64"),
        s_in=times["resolution_state"].eq("within").astype("int64"),
        s_due=times["resolution_state"].isin(["within", "breached"]).astype("int64"),
        open_n=times["open"].astype("int64"),
        rated=times["satisfaction"].notna().astype("int64"),
        happy=(times["satisfaction"] >= 4).fillna(False).astype("int64"),
        unhappy=(times["satisfaction"] <= 2).fillna(False).astype("int64"),
        sat=times["satisfaction"].astype("float64"))
    agg = dict(tickets=("n", "sum"), median_response_hours=("response_hours", "median"),
               r_in=("r_in", "sum"), r_due=("r_due", "sum"), median_resolution_hours=("resolution_hours", "median"),
               s_in=("s_in", "sum"), s_due=("s_due", "sum"), open=("open_n", "sum"), rated=("rated", "sum"),
               csat=("sat", "mean"), happy=("happy", "sum"), unhappy=("unhappy", "sum"))
    if keys:
        out = f.groupby(keys, observed=True).agg(**agg).reset_index()
    else:
        out = f.assign(_all=1).groupby("_all").agg(**agg).reset_index(drop=True)
    out["response_within"] = _rate(out["r_in"], out["r_due"])
    out["resolution_within"] = _rate(out["s_in"], out["s_due"])
    out["satisfied_share"] = _rate(out["happy"], out["rated"])
    out["dissatisfied_share"] = _rate(out["unhappy"], out["rated"])
    total = out["tickets"].sum()
    out["share"] = out["tickets"] / total if total else np.nan
    cols = keys + ["tickets", "share", "median_response_hours", "response_within", "median_resolution_hours",
                   "resolution_within", "open", "rated", "csat", "satisfied_share", "dissatisfied_share"]
    return out[cols]


def ticket_category_spikes(times: pd.DataFrame, paid_orders: pd.Series, *, month: str, baseline_months: int = 12,
                           alpha: float = 0.001, min_events: int = 5, min_ratio: float = 1.5) -> pd.DataFrame:
    """Tickets per category in ``month`` against the ``baseline_months`` before, per 1,000 paid
    orders (``paid_orders``: a Series indexed by ``YYYY-MM``). Expected = baseline tickets per
    order x this month's orders; a category is a **spike** when the count is at least
    ``min_ratio`` x expected, at least ``min_events``, and a one-sided Poisson test gives p < alpha
    divided by the number of categories (Bonferroni).

    Returns
    -------
    DataFrame
        category, tickets, per_1000_orders, baseline_per_1000, expected, ratio, p_value, spike.
    """
    this = pd.Period(month, "M")
    base_months = [str(this - i) for i in range(baseline_months, 0, -1)]
    counts = times.groupby(["month", "category"]).size().unstack(fill_value=0)
    cats = counts.columns
    now = counts.reindex([month]).fillna(0).iloc[0] if len(counts) else pd.Series(0, index=cats)
    base = counts.reindex(base_months).fillna(0).sum()
    n_now = float(paid_orders.get(month, 0))
    n_base = float(paid_orders.reindex(base_months).fillna(0).sum())
    out = pd.DataFrame({"category": cats, "tickets": now.to_numpy().astype("int64")})
    out["per_1000_orders"] = 1000 * out["tickets"] / n_now if n_now else np.nan
    out["baseline_per_1000"] = 1000 * base.to_numpy() / n_base if n_base else np.nan
    out["expected"] = out["baseline_per_1000"] * n_now / 1000
    out["ratio"] = _rate(out["tickets"], out["expected"])
    lam = out["expected"].to_numpy(dtype="float64")
    out["p_value"] = np.where(lam > 0, probability.poisson_sf(out["tickets"].to_numpy() - 1, np.nan_to_num(lam)), 1.0)
    tested = max(1, len(out))  # Bonferroni: every category is a test
    out["spike"] = ((out["tickets"] >= min_events) & (out["ratio"] >= min_ratio)
                    & (out["p_value"] * tested < alpha)).fillna(False)
    return out.sort_values("ratio", ascending=False).reset_index(drop=True)


def satisfaction_by_resolution(times: pd.DataFrame, *, edges: Sequence[float] = (0, 4, 24, 48, 96, np.inf)) -> pd.DataFrame:
    """Mean satisfaction and share of 1-2 scores by how long the ticket took to resolve: does a
    slow resolution cost satisfaction?"""
    labels = [f"{a:g}-{b:g}h" if np.isfinite(b) else f"over {a:g}h" for a, b in zip(edges[:-1], edges[1:])]
    t = times.loc[times["satisfaction"].notna()]
    bucket = pd.cut(t["resolution_hours"], list(edges), labels=labels, right=False)
    s = t["satisfaction"].astype("float64")
    g = pd.DataFrame({"resolved_in": bucket, "sat": s, "unhappy": (s <= 2).astype("int64")}).groupby(
        "resolved_in", observed=False)
    out = g.agg(rated=("sat", "size"), csat=("sat", "mean"), dissatisfied_share=("unhappy", "mean")).reset_index()
    out["resolved_in"] = out["resolved_in"].astype(str)
    return out


def response_by_hour(times: pd.DataFrame) -> pd.DataFrame:
    """Tickets and median hours to the first response by the hour the ticket was opened: tickets
    opened at night wait for the morning shift."""
    g = times.groupby("hour")
    out = g.agg(tickets=("ticket_id", "size"), median_response_hours=("response_hours", "median")).reindex(range(24))
    out["tickets"] = out["tickets"].fillna(0).astype("int64")
    return out.reset_index()


# ---------------------------------------------------------------------------------------------
# 4. Refunds and returns by SKU and reason
# ---------------------------------------------------------------------------------------------

def refund_reasons(orders: pd.DataFrame, *, parcels: pd.DataFrame | None = None,
                   tickets: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each refunded order (in full, or in part on a paid order) with its refund value and reason.

    The reason comes from the most specific evidence: a service ticket on the order about quality,
    size, logistics or something else (in that order of precedence); otherwise what happened to the
    parcel (:func:`parcel_outcomes`): lost, delivered late, never shipped (refunded before
    shipping), returned or delivered. Without tickets and shipments the reason is not recorded.

    Returns
    -------
    DataFrame
        order_id, month (order month), refund_value, full_refund, reason_key, reason.
    """
    return _refund_reasons(orders, parcels=parcels, tickets=tickets)[0]


def _refund_reasons(orders: pd.DataFrame, *, parcels: pd.DataFrame | None = None,
                    tickets: pd.DataFrame | None = None,
                    parcel_rows: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`refund_reasons`, and the row of ``orders`` each of its rows comes from;
    ``parcel_rows`` (optional): each parcel's order as a row of ``orders`` (-1: none), which saves
    looking the refunded orders' ids up among the parcels."""
    _require(orders, "orders", ["order_id", "order_ts", "paid_amount"])
    paid = _narrow(orders, "order_id", "order_ts", "paid_amount", "status", "refund_amount")
    # decided on every order's row, then only the refunded paid orders are taken (no text column
    # of every paid order is copied)
    is_paid = np.asarray(paid_mask(paid), dtype=bool)
    full = _col(paid, "status", "paid").eq("refunded").fillna(False).to_numpy(dtype=bool)
    amount = pd.to_numeric(_col(paid, "refund_amount", 0.0), errors="coerce").fillna(0.0).to_numpy()
    pay = paid["paid_amount"].to_numpy()
    rows = np.flatnonzero(is_paid & (full | (amount > 0)))
    full, amount, pay = full[rows], amount[rows], pay[rows]
    sub = paid.take(rows)
    r = pd.DataFrame({"order_id": sub["order_id"], "month": _month(sub["order_ts"]),
                      "refund_value": np.where(full & (amount <= 0), pay, np.minimum(amount, pay)),
                      "full_refund": full}, index=sub.index)
    return _reasons_of(r, rows, len(orders), parcels=parcels, tickets=tickets, parcel_rows=parcel_rows), rows


def _refund_rows(is_paid: np.ndarray, full: np.ndarray, amount: np.ndarray, pay: np.ndarray):
    """The refunded paid orders (rows), whether each is a full refund, and its refund value."""
    rows = np.flatnonzero(is_paid & (full | (amount > 0)))
    full, amount, pay = full[rows], amount[rows], pay[rows]
    return rows, full, np.where(full & (amount <= 0), pay, np.minimum(amount, pay))


def _reasons_of(r: pd.DataFrame, rows: np.ndarray, n_orders: int, *, parcels=None, tickets=None,
                parcel_rows: np.ndarray | None = None) -> pd.DataFrame:
    """:func:`refund_reasons` of the refunded orders ``r`` (order_id, month, refund_value,
    full_refund; ``rows``: each one's row among the ``n_orders`` orders): the reason of each."""
    key = pd.Series(pd.NA, index=r.index, dtype="object")
    if tickets is not None and len(tickets) and "order_id" in tickets.columns and "category" in tickets.columns:
        t = tickets.loc[tickets["order_id"].notna() & tickets["category"].isin(_TICKET_PRIORITY), ["order_id", "category"]]
        rank = t["category"].map({c: i for i, c in enumerate(_TICKET_PRIORITY)})
        best = t.assign(rank=rank).sort_values("rank").drop_duplicates("order_id").set_index("order_id")["category"]
        key = r["order_id"].map(best).astype("object")
    if isinstance(parcels, _ParcelFlags):
        # each refunded order's most telling parcel (lost, late, returned, delivered: the lowest
        # rank among its parcels), by the orders' rows
        prow = np.asarray(parcel_rows if parcel_rows is not None else parcels.rows)
        mine = np.zeros(n_orders + 1, dtype=bool)  # the last slot answers False for -1
        mine[rows] = True
        hit = np.flatnonzero(mine[prow])
        rank = np.select([parcels.lost[hit], parcels.late[hit], parcels.returned[hit]], [0, 1, 2], 3)
        best = np.full(n_orders, 4, dtype=np.int8)  # 4: no parcel, refunded before shipping
        np.minimum.at(best, prow[hit], rank.astype(np.int8))
        fallback = pd.Series(_text_take(["lost", "late", "returned", "after_delivery", "before_shipping"], best[rows]),
                             index=r.index)
        key = key.where(key.notna(), fallback)
    elif parcels is not None:
        # only the parcels of refunded orders (the reason of one order does not depend on the others)
        if parcel_rows is not None:
            mine = np.zeros(n_orders + 1, dtype=bool)  # the last slot answers False for -1
            mine[rows] = True
            hit = mine[np.asarray(parcel_rows)]
        else:
            hit = _has_id(parcels["order_id"], r["order_id"])
        parcels = parcels.loc[hit, ["order_id", "lost", "state", "returned"]]
        p = parcels.assign(
            _k=np.select([parcels["lost"], parcels["state"].isin(["late", "overdue"]), parcels["returned"]],
                         ["lost", "late", "returned"], "after_delivery"))
        p = p.assign(rank=p["_k"].map({"lost": 0, "late": 1, "returned": 2, "after_delivery": 3}))
        by_order = p.sort_values("rank").drop_duplicates("order_id").set_index("order_id")["_k"]
        fallback = r["order_id"].map(by_order).fillna("before_shipping")
        key = key.where(key.notna(), fallback)
    r["reason_key"] = key.fillna("unknown").to_numpy()
    r["reason"] = r["reason_key"].map(REFUND_REASONS)
    return r.reset_index(drop=True)


def sku_event_spikes(order_skus: pd.DataFrame, events: pd.Series, *, alpha: float = 0.001, min_events: int = 5,
                     min_ratio: float = 2.0, prior: float = 100.0, max_rounds: int = 10) -> pd.DataFrame:
    """SKUs whose share of orders with an event (a refund, a quality ticket ...) jumped in the
    current period against their own baseline, with co-purchases explained away.

    ``order_skus`` has one row per (order_id, sku) with ``period`` = ``"current"`` or
    ``"baseline"``; ``events`` is a boolean Series indexed by order_id. For each SKU, x of its n
    current orders had the event; the baseline share p0 is shrunk towards the shop's share
    (``prior`` pseudo-orders) so that small SKUs are not judged on a handful of orders. A SKU is
    a spike when x >= ``min_events``, x/n >= ``min_ratio`` x p0 and P(X >= x | n, p0) < ``alpha``
    divided by the number of SKUs tested (Bonferroni: with a hundred SKUs tested every month, an
    uncorrected 0.1% level would still raise a false alarm every few months).

    An event is recorded on the order, not the line: when a bad batch of SKU A brings refunds, a
    SKU often bought together with A (a bundle) looks bad too. So spikes are found one at a time,
    most significant first, and after each one the orders containing it are set aside before the
    others are tested again. A SKU that was significant only through those orders is reported with
    ``explained_by`` naming the SKU(s) it shared them with.

    Returns
    -------
    DataFrame
        sku, orders, events, rate, baseline_orders, baseline_rate, ratio, p_value (all orders),
        spike, explained_by; sorted by p_value.

    Examples
    --------
    Hand-checked: 10 of A's 20 orders have the event against 1 of its 100 baseline orders; B sits
    in 6 of those event orders and in nothing else eventful; A is the spike, B is explained by A.

    >>> rows = ([("o%d" % i, "A", "current") for i in range(20)] + [("o%d" % i, "B", "current") for i in range(6)]
    ...         + [("b%d" % i, "A", "baseline") for i in range(100)] + [("c%d" % i, "B", "baseline") for i in range(100)]
    ...         + [("d%d" % i, "B", "current") for i in range(14)])
    >>> os_ = pd.DataFrame(rows, columns=["order_id", "sku", "period"])
    >>> ev = pd.Series(False, index=os_["order_id"].unique()); ev[["o%d" % i for i in range(10)] + ["b0", "c0"]] = True
    >>> sku_event_spikes(os_, ev, alpha=0.01)[["sku", "spike", "explained_by"]].values.tolist()
    [['A', True, ''], ['B', False, 'A']]
    """
    _require(order_skus, "order_skus", ["order_id", "sku", "period"])
    os_ = order_skus.drop_duplicates(["order_id", "sku", "period"])
    ev = _has_id(os_["order_id"], events.index[events.astype(bool).to_numpy()]) if len(events) else np.zeros(len(os_), bool)
    os_ = os_.assign(event=ev.astype("int64"))
    orders_per = os_.drop_duplicates(["order_id", "period"])
    shop = orders_per.loc[orders_per["period"] == "baseline", "event"]
    shop_rate = float(shop.mean()) if len(shop) else float(orders_per["event"].mean())
    tested = max(1, int(os_.loc[os_["period"] == "current", "sku"].nunique()))  # Bonferroni: every SKU is a test

    def _test(frame):
        g = frame.groupby(["sku", "period"]).agg(n=("order_id", "size"), x=("event", "sum")).unstack("period", fill_value=0)
        n = g[("n", "current")] if ("n", "current") in g.columns else pd.Series(0, index=g.index)
        x = g[("x", "current")] if ("x", "current") in g.columns else pd.Series(0, index=g.index)
        nb = g[("n", "baseline")] if ("n", "baseline") in g.columns else pd.Series(0, index=g.index)
        xb = g[("x", "baseline")] if ("x", "baseline") in g.columns else pd.Series(0, index=g.index)
        return _spike_scores(n, x, nb, xb, shop_rate=shop_rate, prior=prior, tested=tested,
                             min_events=min_events, min_ratio=min_ratio, alpha=alpha)

    first = _test(os_)
    flagged: list[str] = []
    current = first
    for _ in range(max_rounds):  # one round per spike found: a handful
        cand = current.loc[current["sig"] & ~current.index.isin(flagged)]
        if cand.empty:
            break
        flagged.append(cand["p_value"].idxmin())
        bad_orders = os_.loc[os_["sku"].isin(flagged), "order_id"].unique()
        rest = os_.loc[~_has_id(os_["order_id"], bad_orders) | os_["sku"].isin(flagged)]
        current = _test(rest)
    out = first.drop(columns=["sig", "p0"]).copy()
    out["spike"] = out.index.isin(flagged)
    out["explained_by"] = ""
    leftover = current["sig"].reindex(out.index).fillna(False).astype(bool)
    explained = first["sig"] & ~out["spike"] & ~leftover
    if explained.any() and flagged:
        cur = os_.loc[(os_["period"] == "current") & (os_["event"] == 1)]
        bad = cur.loc[cur["sku"].isin(flagged), ["order_id", "sku"]].rename(columns={"sku": "by"})
        pairs = cur.loc[cur["sku"].isin(out.index[explained]), ["order_id", "sku"]].merge(bad, on="order_id")
        names = pairs.drop_duplicates(["sku", "by"]).groupby("sku")["by"].agg(lambda s: ", ".join(sorted(s)))
        out.loc[names.index, "explained_by"] = names
    out.index.name = "sku"
    return out.reset_index().sort_values("p_value", kind="stable").reset_index(drop=True)


def _spike_scores(n, x, nb, xb, *, shop_rate, prior, tested, min_events, min_ratio, alpha) -> pd.DataFrame:
    """One round of the spike test per SKU: ``n``/``x`` orders and events this period, ``nb``/``xb``
    in the baseline; the expected rate shrinks the SKU's baseline toward the shop's (``prior``
    orders' worth), and a spike needs ``min_events``, ``min_ratio`` and a Bonferroni-corrected
    binomial p-value under ``alpha`` over ``tested`` SKUs."""
    p0 = (xb + prior * shop_rate) / (nb + prior)
    res = pd.DataFrame({"orders": n, "events": x, "rate": _rate(x, n), "baseline_orders": nb,
                        "baseline_rate": _rate(xb, nb), "p0": p0})
    res["ratio"] = _rate(res["rate"], p0)
    res["p_value"] = _binom_sf(x, n, p0)
    res["sig"] = (x >= min_events) & (res["ratio"] >= min_ratio) & (res["p_value"] * tested < alpha)
    return res


def _event_spikes_codes(order: np.ndarray, sku: np.ndarray, current: np.ndarray, event: np.ndarray,
                        skus: pd.Index, *, alpha: float = 0.001, min_events: int = 5, min_ratio: float = 2.0,
                        prior: float = 100.0, max_rounds: int = 10) -> pd.DataFrame:
    """:func:`sku_event_spikes` on integer codes, for millions of order lines: one row per distinct
    (order, SKU) pair, ``order`` its order code (0..), ``sku`` its SKU code (position in ``skus``,
    the SKU names sorted), ``current`` True for the current period (else baseline) and ``event``
    whether its order had the event. Same table, same order, as the text version."""
    k = len(skus)
    n_orders = int(order.max()) + 1 if len(order) else 0
    order_event = np.zeros(n_orders, dtype="int64")
    order_event[order] = event
    order_seen = np.zeros(n_orders, dtype=bool)
    base_orders = np.zeros(n_orders, dtype=bool)
    order_seen[order] = True
    base_orders[order[~current]] = True
    if base_orders.any():
        shop_rate = float(order_event[base_orders].mean())
    else:  # every distinct (order, period) pair: one per order
        shop_rate = float(order_event[order_seen].mean()) if order_seen.any() else float("nan")
    tested = max(1, int(np.count_nonzero(np.bincount(sku[current], minlength=k))))
    ev = event.astype(bool)

    def _test(rows):
        s_, c_, e_ = sku[rows], current[rows], ev[rows]
        present = np.flatnonzero(np.bincount(s_, minlength=k) > 0)
        idx = pd.Index(skus.take(present), name="sku")

        def count(mask):
            return pd.Series(np.bincount(s_[mask], minlength=k)[present].astype("int64"), index=idx)

        n, x, nb, xb = count(c_), count(c_ & e_), count(~c_), count(~c_ & e_)
        return _spike_scores(n, x, nb, xb, shop_rate=shop_rate, prior=prior, tested=tested,
                             min_events=min_events, min_ratio=min_ratio, alpha=alpha)

    first = _test(np.ones(len(order), dtype=bool))
    flagged: list[str] = []
    is_flagged = np.zeros(k, dtype=bool)
    current_res = first
    for _ in range(max_rounds):  # one round per spike found: a handful
        cand = current_res.loc[current_res["sig"] & ~current_res.index.isin(flagged)]
        if cand.empty:
            break
        flagged.append(cand["p_value"].idxmin())
        is_flagged[skus.get_loc(flagged[-1])] = True
        bad = np.zeros(n_orders, dtype=bool)
        bad[order[is_flagged[sku]]] = True
        current_res = _test(~bad[order] | is_flagged[sku])
    out = first.drop(columns=["sig", "p0"]).copy()
    out["spike"] = out.index.isin(flagged)
    out["explained_by"] = ""
    leftover = current_res["sig"].reindex(out.index).fillna(False).astype(bool)
    explained = first["sig"] & ~out["spike"] & ~leftover
    if explained.any() and flagged:
        rows = current & ev
        cur = pd.DataFrame({"order_id": order[rows], "sku": skus.take(sku[rows])})
        bad = cur.loc[cur["sku"].isin(flagged), ["order_id", "sku"]].rename(columns={"sku": "by"})
        pairs = cur.loc[cur["sku"].isin(out.index[explained]), ["order_id", "sku"]].merge(bad, on="order_id")
        names = pairs.drop_duplicates(["sku", "by"]).groupby("sku")["by"].agg(lambda s: ", ".join(sorted(s)))
        out.loc[names.index, "explained_by"] = names
    out.index.name = "sku"
    return out.reset_index().sort_values("p_value", kind="stable").reset_index(drop=True)


class _OrderLines:
    """What the SKU refund test reads of a loaded dataset's orders and lines, a column at a time:
    each order's time (``when``) and paid flag (``is_paid``), the lines' SKUs as codes (``sku``,
    :func:`_codes`), the lines at given rows (:meth:`take`) and the orders among given ids
    (:meth:`has_order`); :meth:`frames` reads the tables as frames when rows cannot be used."""

    def __init__(self, data, when: pd.Series, is_paid: np.ndarray, quality: np.ndarray | None = None):
        self.data, self.when, self.is_paid, self.n = data, when, is_paid, len(is_paid)
        self.quality = quality  #: orders with a quality ticket (a mask over the orders' rows), when known
        file = data.table_file("order_items") if hasattr(data, "table_file") else None
        self.sku = _file_codes(file, "sku") if file is not None else _codes(data, "order_items", "sku")

    def take(self, rows: np.ndarray) -> pd.DataFrame:
        return _take_rows(self.data, "order_items", ["order_id", "sku", "qty", "unit_price"], rows)

    def has_order(self, ids) -> np.ndarray:
        """``orders.order_id.isin(ids)`` (ids of some orders) as a mask over the orders' rows."""
        hit = np.zeros(self.n + 1, dtype=bool)  # the last slot takes the -1s
        ids = pd.Series(ids) if not isinstance(ids, pd.Series) else ids
        if len(ids):
            pos = _row_positions(ids.astype(_STR) if ids.dtype != _STR else ids,
                                 _read_column(self.data, "orders", "order_id"))
            if pos is None:
                return _has_id(_read_column(self.data, "orders", "order_id"), ids)
            hit[pos] = True
        return hit[:-1]

    def frames(self):
        from .loading import read_columns

        return (_table(self.data, "orders"), read_columns(self.data, "order_items", COLUMNS["order_items"], keep=False),
                None)


def sku_refunds(orders: pd.DataFrame, items: pd.DataFrame, *, month: str, reasons: pd.DataFrame,
                parcels: pd.DataFrame | None = None, tickets: pd.DataFrame | None = None,
                sku_revenue: pd.Series | None = None, products: pd.DataFrame | None = None,
                baseline_months: int = 12, alpha: float = 0.001, min_events: int = 5) -> pd.DataFrame:
    """Refunds, returns and quality tickets per SKU for the orders placed in ``month``, with spikes
    against the SKU's own previous ``baseline_months`` (see :func:`sku_event_spikes`): of full
    refunds (a partial refund is mostly a price adjustment or compensation, 保价/补偿) and of
    quality tickets.

    A refund's value is spread over the order's lines in proportion to their value; counts are
    orders (an order holding two SKUs counts for both). ``sku_revenue`` (SKU -> revenue of the
    month, e.g. from ``data.derived("sku_daily")``) gives the refund share of the SKU's sales.

    Returns
    -------
    DataFrame
        sku, [title, category], orders, refunded_orders, refund_rate, refund_value, revenue,
        refund_value_share, returned_orders, return_rate, quality_tickets, quality_rate, top_reason,
        full_refunds, full_refund_rate, baseline_full_refund_rate, refund_p_value, refund_spike,
        refund_explained_by, baseline_quality_rate, quality_p_value, quality_spike,
        quality_explained_by; sorted by refunded orders.
    """
    return _sku_refunds(orders, items, month=month, reasons=reasons, parcels=parcels, tickets=tickets,
                        sku_revenue=sku_revenue, products=products, baseline_months=baseline_months, alpha=alpha,
                        min_events=min_events)


def _sku_refunds(orders: pd.DataFrame, items: pd.DataFrame, *, month: str, reasons: pd.DataFrame,
                 parcels: pd.DataFrame | None = None, tickets: pd.DataFrame | None = None,
                 sku_revenue: pd.Series | None = None, products: pd.DataFrame | None = None,
                 baseline_months: int = 12, alpha: float = 0.001, min_events: int = 5,
                 item_rows: np.ndarray | None = None, reason_rows: np.ndarray | None = None,
                 parcel_rows: np.ndarray | None = None, lines: "_OrderLines | None" = None) -> pd.DataFrame:
    """:func:`sku_refunds`; ``item_rows`` (optional): each line's order as a row of ``orders`` (-1:
    none), ``reason_rows`` (optional): each row of ``reasons`` as a row of ``orders``, and
    ``parcel_rows`` (optional): each parcel's order as a row of ``orders``, from lookups made once
    per dataset: they save looking the order ids up again. ``lines`` (:class:`_OrderLines`, with
    ``item_rows``) stands for ``orders`` and ``items`` (then None): their columns are read one at
    a time from the dataset and the lines' text only for the report month's lines."""
    this = pd.Period(month, "M")
    start, end = _month_bounds(month)
    b_start = (this - baseline_months).to_timestamp()
    # the paid orders of the baseline and the month, as rows of orders (their ids are copied only
    # when they have to be joined by text)
    if lines is not None:
        when, is_paid, n_orders = lines.when, lines.is_paid, lines.n
    else:
        _require(items, "order_items", ["order_id", "sku", "qty", "unit_price"])
        when, is_paid, n_orders = orders["order_ts"], np.asarray(paid_mask(orders), dtype=bool), len(orders)
    in_window = is_paid & ((when >= b_start) & (when < end)).to_numpy(dtype=bool)
    paid_rows = np.flatnonzero(in_window)
    if lines is not None and not len(paid_rows):  # nothing to join on rows: the frames, as before
        orders, items, lines = lines.frames()
    narrow = None if lines is not None else _narrow(items, "order_id", "sku", "qty", "unit_price")
    # the spike test counts full refunds: a partial refund is mostly a price adjustment or a
    # compensation (保价, 补偿), not a product sent back
    refunded = pd.Series(True, index=reasons.loc[reasons["full_refund"], "order_id"].unique())
    quality = pd.Series(dtype=bool)
    if tickets is not None and "category" in tickets.columns and "order_id" in tickets.columns:
        quality = pd.Series(True, index=tickets.loc[tickets["category"] == "quality", "order_id"].dropna().unique())
    fast = lines is not None or ("order_ts" not in narrow.columns and item_rows is not None and len(paid_rows))
    pos = _subset_rows(in_window, np.asarray(item_rows)) if fast else None
    if not fast:
        paid = orders.loc[in_window, ["order_id", "order_ts"]]
        pos = None if "order_ts" in narrow.columns else _id_positions(narrow["order_id"], paid["order_id"])
    if pos is None:  # ids that are not unique text: pandas' own join and the text version of the test
        lines = _join_orders(items, paid)
        lines = lines.assign(value=lines["qty"].astype("float64") * lines["unit_price"],
                             period=np.where(lines["order_ts"] >= start, "current", "baseline"))
        order_skus = lines.groupby(["order_id", "sku", "period"], as_index=False)["value"].sum()
        ref_sp = sku_event_spikes(order_skus, refunded, alpha=alpha, min_events=min_events)
        q_sp = sku_event_spikes(order_skus, quality, alpha=alpha, min_events=min_events)
        cur = order_skus.loc[order_skus["period"] == "current"].copy()
    else:
        # the lines' orders as positions among the paid orders and SKUs as codes: the spike test
        # counts distinct (order, SKU) pairs on integers; only the month's lines are grouped by text
        found = pos >= 0
        at = pos[found]
        is_current = ((when.take(paid_rows) if fast else paid["order_ts"]) >= start).to_numpy(dtype=bool)
        # the SKUs of the lines found, as codes of their sorted names (factorized on the whole
        # column, without copying the found lines' text, then renumbered over the SKUs present)
        all_codes, all_names = lines.sku if lines is not None else pd.factorize(narrow["sku"], sort=True)
        all_codes = compact_codes(all_codes, len(all_names))
        sku_codes = all_codes[found]
        present = np.zeros(len(all_names) + 1, dtype=bool)  # the last slot takes the -1s
        present[sku_codes] = True
        renumber = np.cumsum(present[:-1]) - 1
        sku_codes = np.where(sku_codes >= 0, renumber[sku_codes], -1)
        sku_names = all_names[present[:-1]]
        ok = sku_codes >= 0
        k = max(len(sku_names), 1)
        pairs = at[ok].astype("int64") * k + sku_codes[ok]
        pairs.sort(kind="stable")  # lines come order by order: nearly sorted already
        pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs  # np.unique
        # the pairs' orders and SKUs in small integer types (the test only indexes and counts them)
        p_order = (pairs // k).astype(np.int32 if len(is_current) < 2 ** 31 - 1 else np.int64)
        p_sku = compact_codes(pairs % k, k)
        del pairs, sku_codes, ok
        p_current = is_current[p_order]
        for events, name in ((refunded, "ref_sp"), (quality, "q_sp")):
            if not len(events):
                hit = np.zeros(len(is_current), dtype=bool)
            elif name == "ref_sp" and fast and reason_rows is not None:
                full = np.zeros(n_orders, dtype=bool)
                full[np.asarray(reason_rows)[reasons["full_refund"].to_numpy(dtype=bool)]] = True
                hit = full[paid_rows]
            elif lines is not None and lines.quality is not None:  # the quality tickets' orders, by row
                hit = lines.quality[paid_rows]
            elif lines is not None:  # the event orders' ids as rows of orders
                hit = lines.has_order(events.index[events.astype(bool).to_numpy()])[paid_rows]
            elif fast:  # every order's id against the few event ids, then the paid ones
                hit = _has_id(orders["order_id"], events.index[events.astype(bool).to_numpy()])[paid_rows]
            else:
                hit = _has_id(paid["order_id"], events.index[events.astype(bool).to_numpy()])
            spikes = _event_spikes_codes(p_order, p_sku, p_current, hit[p_order].astype(np.int8),
                                         pd.Index(sku_names), alpha=alpha, min_events=min_events)
            if name == "ref_sp":
                ref_sp = spikes
            else:
                q_sp = spikes
        now = np.flatnonzero(found)[is_current[at]]
        lines = lines.take(now) if lines is not None else narrow.iloc[now].reset_index(drop=True)
        lines = lines.assign(value=lines["qty"].astype("float64") * lines["unit_price"], period="current")
        if item_rows is not None:  # each line's row in orders travels along (one per order: "first")
            cur = (lines.assign(_row=np.asarray(item_rows)[now])
                   .groupby(["order_id", "sku", "period"], as_index=False).agg(value=("value", "sum"), _row=("_row", "first")))
        else:
            cur = lines.groupby(["order_id", "sku", "period"], as_index=False)["value"].sum()
    rows = cur.pop("_row").to_numpy() if "_row" in cur.columns else None  # each (order, SKU)'s row in orders
    order_value = cur.groupby("order_id")["value"].transform("sum")
    rv = reasons.set_index("order_id")
    cur["refund_value"] = cur["order_id"].map(rv["refund_value"]).fillna(0.0) * _rate(cur["value"], order_value).fillna(0)
    def by_row(rows_of):  # an order-level flag as a mask over the orders' rows (last slot: -1)
        mask = np.zeros(n_orders + 1, dtype=bool)
        mask[rows_of] = True
        return mask

    if rows is not None and reason_rows is not None:
        reason_rows = np.asarray(reason_rows)
        cur["refunded"] = by_row(reason_rows)[rows].astype("int64")
        cur["full"] = by_row(reason_rows[reasons["full_refund"].to_numpy(dtype=bool)])[rows].astype("int64")
    else:
        cur["refunded"] = _has_id(cur["order_id"], rv.index).astype("int64")
        cur["full"] = _has_id(cur["order_id"], refunded.index).astype("int64")
    cur["reason"] = cur["order_id"].map(rv["reason"])
    cur["quality"] = _has_id(cur["order_id"], quality.index).astype("int64")
    if parcels is not None and rows is not None and parcel_rows is not None:
        parcel_rows = np.asarray(parcel_rows)
        cur["returned"] = by_row(parcel_rows[np.asarray(parcels["returned"], dtype=bool)])[rows].astype("int64")
        cur["shipped"] = by_row(parcel_rows)[rows].astype("int64")
    elif isinstance(parcels, _ParcelFlags):  # the parcels' orders by id (their rows in orders)
        known = parcels.rows >= 0
        ret = orders["order_id"].take(parcels.rows[known & parcels.returned]).unique()
        shipped = orders["order_id"].take(parcels.rows[known]).unique()
        cur["returned"] = _has_id(cur["order_id"], ret).astype("int64")
        cur["shipped"] = _has_id(cur["order_id"], shipped).astype("int64")
    elif parcels is not None:
        ret = parcels.loc[parcels["returned"], "order_id"].unique()
        shipped = parcels["order_id"].unique()
        cur["returned"] = _has_id(cur["order_id"], ret).astype("int64")
        cur["shipped"] = _has_id(cur["order_id"], shipped).astype("int64")
    else:
        cur["returned"] = 0
        cur["shipped"] = 0
    g = cur.groupby("sku")
    out = g.agg(orders=("order_id", "size"), refunded_orders=("refunded", "sum"), full_refunds=("full", "sum"),
                refund_value=("refund_value", "sum"),
                returned_orders=("returned", "sum"), shipped_orders=("shipped", "sum"), quality_tickets=("quality", "sum"))
    out["refund_rate"] = _rate(out["refunded_orders"], out["orders"])
    out["full_refund_rate"] = _rate(out["full_refunds"], out["orders"])
    out["return_rate"] = _rate(out["returned_orders"], out["shipped_orders"]) if parcels is not None else np.nan
    out["quality_rate"] = _rate(out["quality_tickets"], out["orders"])
    rev = sku_revenue.reindex(out.index) if sku_revenue is not None else g["value"].sum()
    out["revenue"] = rev
    out["refund_value_share"] = _rate(out["refund_value"], out["revenue"])
    top = (cur.dropna(subset=["reason"]).groupby(["sku", "reason"]).size().reset_index(name="n")
           .sort_values(["sku", "n"], ascending=[True, False]).drop_duplicates("sku").set_index("sku")["reason"])
    out["top_reason"] = top.reindex(out.index).fillna("")
    r = ref_sp.set_index("sku")
    q = q_sp.set_index("sku")
    out["baseline_full_refund_rate"] = r["baseline_rate"].reindex(out.index)
    out["refund_p_value"] = r["p_value"].reindex(out.index)
    out["refund_spike"] = r["spike"].reindex(out.index).fillna(False).astype(bool)
    out["refund_explained_by"] = r["explained_by"].reindex(out.index).fillna("")
    out["baseline_quality_rate"] = q["baseline_rate"].reindex(out.index) if len(q) else np.nan
    out["quality_p_value"] = q["p_value"].reindex(out.index) if len(q) else 1.0
    out["quality_spike"] = (q["spike"].reindex(out.index).fillna(False).astype(bool) if len(q)
                            else pd.Series(False, index=out.index))
    out["quality_explained_by"] = q["explained_by"].reindex(out.index).fillna("") if len(q) else ""
    out = out.reset_index()
    if products is not None and "sku" in products.columns:
        info = products.drop_duplicates("sku").set_index("sku")
        out.insert(1, "title", out["sku"].map(_col(info, "title", "")).fillna(""))
        out.insert(2, "category", out["sku"].map(_col(info, "category", "")).fillna(""))
    cols = [c for c in ["sku", "title", "category", "orders", "refunded_orders", "refund_rate", "refund_value",
                        "revenue", "refund_value_share", "returned_orders", "return_rate", "quality_tickets",
                        "quality_rate", "top_reason", "full_refunds", "full_refund_rate", "baseline_full_refund_rate",
                        "refund_p_value", "refund_spike",
                        "refund_explained_by", "baseline_quality_rate", "quality_p_value", "quality_spike",
                        "quality_explained_by"] if c in out.columns]
    return out.sort_values(["refunded_orders", "refund_value"], ascending=False)[cols].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Section results (what the notebook displays), one per section
# ---------------------------------------------------------------------------------------------

def settings_table(data) -> pd.DataFrame:
    """The chapter's thresholds (the ``[fulfillment]`` settings) as a two-column table."""
    cfg = _settings(data)
    return pd.DataFrame({"setting": list(cfg), "value": [str(v) for v in cfg.values()]})


def _skip(record, section: str, note: str) -> str:
    if record is not None:
        record.skip(section, note)
    return note


def _styled(frame: pd.DataFrame, *, pct: Sequence[str] = (), dec1: Sequence[str] = (), dec2: Sequence[str] = (),
            money: Sequence[str] = (), count: Sequence[str] = (), sci: Sequence[str] = (), dates: Sequence[str] = (),
            gradient: Sequence[str] = (), gradient_range: tuple = (None, None), cmap: str = "RdYlGn"):
    """A table formatted for reading (percentages, hours, money), or the frame itself when empty."""
    if frame is None or frame.empty:
        return frame
    from . import i18n

    frame = i18n.localize(frame)  # Chinese headers under lang="zh"
    lab = i18n.column_label
    pct, dec1, dec2, money, count, sci, dates, gradient = (
        [lab(c) for c in cols] for cols in (pct, dec1, dec2, money, count, sci, dates, gradient))
    fmt = {}
    for cols, f in ((pct, "{:.1%}"), (dec1, "{:,.1f}"), (dec2, "{:,.2f}"), (money, "¥{:,.0f}"), (count, "{:,.0f}"),
                    (sci, "{:.1e}"), (dates, lambda v: "" if pd.isna(v) else f"{v:%Y-%m-%d}")):
        fmt.update({c: f for c in cols if c in frame.columns})
    sty = frame.style.format(fmt, na_rep="–").hide(axis="index")
    grad = [c for c in gradient if c in frame.columns]
    if grad:
        sty = sty.background_gradient(cmap=cmap, subset=grad, vmin=gradient_range[0], vmax=gradient_range[1])
    return sty


@dataclass
class _Result:
    note: str | None = None  #: set when the section is skipped: which table or column is missing
    month: str = ""
    alerts: pd.DataFrame = field(default_factory=lambda: _alerts_frame([]))

    @property
    def skipped(self) -> bool:
        return self.note is not None

    def _summary(self) -> pd.DataFrame:  # pragma: no cover - overridden
        return pd.DataFrame()

    @property
    def summary(self) -> pd.DataFrame:
        """The section's figures for the report month as a small table (or the skip note)."""
        return _note_frame(self.note) if self.skipped else self._summary()

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


@dataclass
class ShippingResult(_Result):
    """Shipping within the promise for a month (see :func:`shipping_report`)."""

    hours: float = 48
    target: float = 0.9
    cutoff: pd.Timestamp | None = None
    caveat: str = ""  #: a limit of the data the reader should know (e.g. no payment time)
    pauses: pd.DataFrame = field(default_factory=pd.DataFrame)
    monthly: pd.DataFrame = field(default_factory=pd.DataFrame)  #: per payment month (all channels)
    by_channel_month: pd.DataFrame = field(default_factory=pd.DataFrame)
    channels: pd.DataFrame = field(default_factory=pd.DataFrame)  #: report month by channel
    daily: pd.DataFrame = field(default_factory=pd.DataFrame)
    anomalies: pd.DataFrame = field(default_factory=pd.DataFrame)  #: flagged days of the report month
    backlog: pd.DataFrame = field(default_factory=pd.DataFrame)
    backlog_ages: pd.DataFrame = field(default_factory=pd.DataFrame)
    backlog_by_month: pd.DataFrame = field(default_factory=pd.DataFrame)
    overdue: pd.DataFrame = field(default_factory=pd.DataFrame)  #: action list: overdue unshipped orders
    month_rate: float | None = None  #: on-time rate of the report month's paid orders
    month_within_hours: float | None = None  #: the same on the raw clock
    median_hours: float | None = None

    @property
    def unexplained_days(self) -> int | None:
        """Days of the report month whose shipping rate fell far below expectation without a volume
        peak or the spring-festival pause to explain it."""
        if self.skipped:
            return None
        return int((self.anomalies["explanation"] == "unexplained").sum()) if len(self.anomalies) else 0

    @property
    def overdue_count(self) -> int | None:
        return None if self.skipped else len(self.overdue)

    @property
    def backlog_count(self) -> int | None:
        return None if self.skipped else len(self.backlog)

    @property
    def channel_view(self):
        """The report month by channel, formatted."""
        if self.skipped:
            return _note_frame(self.note)
        return _styled(self.channels, pct=["on_time_rate", "within_hours_rate"], dec1=["median_hours"],
                       gradient=["on_time_rate"], gradient_range=(self.target - 0.1, 1.0))

    @property
    def anomaly_view(self):
        """Flagged days of the report month (or a sentence saying there were none)."""
        if self.skipped:
            return _note_frame(self.note)
        if self.anomalies.empty:
            return _note_frame(f"No day of {self.month} shipped far below its usual rate.")
        return _styled(self.anomalies[["date", "orders", "decided", "rate", "expected", "volume_ratio", "p_value",
                                       "explanation", "campaign"]],
                       pct=["rate", "expected"], dec1=["volume_ratio"], sci=["p_value"], dates=["date"])

    @property
    def pause_view(self):
        if self.skipped:
            return _note_frame(self.note)
        if self.pauses.empty:
            return _note_frame("No logistics pause in the loaded window.")
        return _styled(self.pauses, dates=["start", "end"])

    @property
    def backlog_view(self):
        """The backlog at each month end of the last year (orders paid, not shipped)."""
        if self.skipped:
            return _note_frame(self.note)
        return _styled(self.backlog_by_month.tail(13), count=["backlog", "overdue"])

    def _summary(self):
        m = self.monthly.set_index("month").reindex([self.month])
        row = m.iloc[0] if len(m) else pd.Series(dtype=float)
        unexplained = int((self.anomalies["explanation"] == "unexplained").sum()) if len(self.anomalies) else 0
        out = pd.DataFrame({
            "figure": ["paid orders of the month", f"shipped within the promise ({self.hours:g} h)",
                       f"shipped within {self.hours:g} h on the clock", "median hours to ship",
                       "still unshipped at month end", "of which past the deadline",
                       "days far below the usual rate", "of which unexplained"],
            "value": [f"{row.get('orders', 0):,.0f}", _pct(self.month_rate), _pct(self.month_within_hours),
                      f"{self.median_hours:.1f}" if self.median_hours is not None and pd.notna(self.median_hours) else "n/a",
                      f"{len(self.backlog):,}", f"{int(self.backlog['overdue'].sum()) if len(self.backlog) else 0:,}",
                      f"{len(self.anomalies):,}", f"{unexplained:,}"],
        })
        if self.caveat:
            out = pd.concat([out, pd.DataFrame({"figure": ["note"], "value": [self.caveat]})], ignore_index=True)
        return out


@dataclass
class CarrierResult(_Result):
    """Carrier on-time delivery over the review window (see :func:`carrier_report`)."""

    window: tuple = ()
    target: float = 0.9
    min_parcels: int = 30
    scorecard: pd.DataFrame = field(default_factory=pd.DataFrame)
    monthly: pd.DataFrame = field(default_factory=pd.DataFrame)
    provinces: pd.DataFrame = field(default_factory=pd.DataFrame)  #: carrier x province cells
    regions: pd.DataFrame = field(default_factory=pd.DataFrame)  #: carrier x region cells
    province_table: pd.DataFrame = field(default_factory=pd.DataFrame)  #: rated cells, on-time rate wide
    flagged: pd.DataFrame = field(default_factory=pd.DataFrame)  #: flagged carriers with worst areas
    late: pd.DataFrame = field(default_factory=pd.DataFrame)  #: action list: late parcels of the month
    on_time_rate: float | None = None  #: all carriers, report month (ship month)
    median_days: float | None = None

    @property
    def flagged_count(self) -> int | None:
        return None if self.skipped else len(self.flagged)

    @property
    def province_view(self):
        """Carrier x province on-time rates (the carrier's own) over the review window; provinces
        with the most parcels first, cells under the minimum volume blank."""
        if self.skipped:
            return _note_frame(self.note)
        t = self.province_table.reset_index()
        return _styled(t, pct=list(self.province_table.columns), gradient=list(self.province_table.columns),
                       gradient_range=(self.target - 0.2, 1.0))

    @property
    def flagged_view(self):
        if self.skipped:
            return _note_frame(self.note)
        if self.flagged.empty:
            return _note_frame(f"No carrier is below the {self.target:.0%} target or clearly worse than its own past.")
        return _styled(self.flagged, pct=["on_time_rate", "late_rate", "baseline_late_rate"], count=["decided"])

    def _summary(self):
        return _styled(self.scorecard[["carrier", "parcels", "on_time_rate", "late_rate", "late_all_rate",
                                       "baseline_late_rate", "median_days", "p90_days", "status"]],
                       pct=["on_time_rate", "late_rate", "late_all_rate", "baseline_late_rate"],
                       dec1=["median_days", "p90_days"], count=["parcels"],
                       gradient=["on_time_rate"], gradient_range=(self.target - 0.2, 1.0))


@dataclass
class TicketResult(_Result):
    """Service tickets of the month (see :func:`ticket_report`)."""

    response_hours: float = 24
    resolution_hours: float = 48
    target: float = 0.9
    times: pd.DataFrame = field(default_factory=pd.DataFrame)
    month_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_category: pd.DataFrame = field(default_factory=pd.DataFrame)
    monthly: pd.DataFrame = field(default_factory=pd.DataFrame)  #: per opened month
    category_monthly: pd.DataFrame = field(default_factory=pd.DataFrame)  #: tickets per 1,000 orders
    spikes: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_resolution: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_hour: pd.DataFrame = field(default_factory=pd.DataFrame)
    open_tickets: pd.DataFrame = field(default_factory=pd.DataFrame)  #: action list

    def _value(self, col):
        if self.month_summary.empty:
            return None
        v = self.month_summary[col].iloc[0]
        return None if pd.isna(v) else float(v)

    @property
    def response_within(self):
        return self._value("response_within")

    @property
    def resolution_within(self):
        return self._value("resolution_within")

    @property
    def median_response_hours(self):
        return self._value("median_response_hours")

    @property
    def median_resolution_hours(self):
        return self._value("median_resolution_hours")

    @property
    def csat(self):
        return self._value("csat")

    @property
    def dissatisfied_share(self):
        return self._value("dissatisfied_share")

    @property
    def tickets(self):
        return self._value("tickets")

    @property
    def spike_view(self):
        if self.skipped:
            return _note_frame(self.note)
        return _styled(self.spikes, dec1=["per_1000_orders", "baseline_per_1000", "expected"], dec2=["ratio"],
                       sci=["p_value"])

    def _summary(self):
        t = pd.concat([self.by_category, self.month_summary.assign(category="all tickets")], ignore_index=True)
        return _styled(t[["category", "tickets", "share", "median_response_hours", "response_within",
                          "median_resolution_hours", "resolution_within", "open", "csat", "dissatisfied_share"]],
                       pct=["share", "response_within", "resolution_within", "dissatisfied_share"],
                       dec1=["median_response_hours", "median_resolution_hours"], dec2=["csat"])


@dataclass
class RefundResult(_Result):
    """Refunds and returns of the month's orders by SKU and reason (see :func:`refund_report`)."""

    target: float = 0.05
    reasons: pd.DataFrame = field(default_factory=pd.DataFrame)  #: per refunded order
    reason_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    monthly: pd.DataFrame = field(default_factory=pd.DataFrame)
    skus: pd.DataFrame = field(default_factory=pd.DataFrame)
    sku_reasons: pd.DataFrame = field(default_factory=pd.DataFrame)  #: SKU x reason, refunded orders
    review: pd.DataFrame = field(default_factory=pd.DataFrame)  #: action list: SKUs to review
    refund_rate: float | None = None
    refund_value_share: float | None = None
    return_rate: float | None = None
    sku_note: str | None = None

    @property
    def sku_view(self):
        """The SKUs with the most refunds this month, and every SKU with a spike."""
        if self.skipped or self.sku_note:
            return _note_frame(self.note or self.sku_note)
        top = self.skus.head(12)
        extra = self.skus.loc[(self.skus["refund_spike"] | self.skus["quality_spike"]) & ~self.skus["sku"].isin(top["sku"])]
        t = pd.concat([top, extra])
        cols = [c for c in ["sku", "title", "orders", "refunded_orders", "refund_rate", "full_refund_rate",
                            "baseline_full_refund_rate", "refund_value", "return_rate", "quality_tickets", "top_reason",
                            "refund_spike", "quality_spike", "refund_explained_by", "quality_explained_by"] if c in t.columns]
        return _styled(t[cols], pct=["refund_rate", "full_refund_rate", "baseline_full_refund_rate", "return_rate"],
                       money=["refund_value"])

    @property
    def review_view(self):
        if self.skipped or self.sku_note:
            return _note_frame(self.note or self.sku_note)
        if self.review.empty:
            return _note_frame(f"No SKU's refunds or quality tickets jumped in {self.month}.")
        cols = [c for c in ["sku", "title", "orders", "full_refunds", "full_refund_rate", "baseline_full_refund_rate",
                            "quality_tickets", "quality_rate", "baseline_quality_rate", "top_reason", "why"]
                if c in self.review.columns]
        return _styled(self.review[cols], pct=["full_refund_rate", "baseline_full_refund_rate", "quality_rate",
                                               "baseline_quality_rate"])

    def _summary(self):
        if self.reason_summary.empty:
            return _note_frame(f"No refunded orders among the orders of {self.month}.")
        return _styled(self.reason_summary, pct=["share"], money=["refund_value"])


def _pct(v) -> str:
    return "n/a" if v is None or pd.isna(v) else f"{v:.1%}"


def shipping_report(data, *, record=None) -> ShippingResult:
    """Section 1: shipping within ``fulfillment.ship_within_hours`` of payment, by month and
    channel, the backlog at the end of the report month and its age, and the days whose rate fell
    far below expectation (the spring-festival pause excepted).

    Needs orders and shipments (shipped_ts); campaigns, when present, name the festival peaks.
    ``record`` (a :class:`~playbook.pack.ChapterRecord`) gets the skip note when tables are missing.
    """
    cfg = _settings(data)
    month = _report_month(data)
    res = ShippingResult(month=month, hours=float(cfg["ship_within_hours"]), target=float(cfg["ship_on_time_target"]))
    note = data.missing_note("shipments", columns={"shipments": ["shipped_ts"]})
    if note:
        res.note = _skip(record, "Shipping within 48 hours", note)
        return res
    cutoff = _cutoff(data)
    res.cutoff = cutoff
    if not _has_column(data, "orders", "paid_ts"):
        res.caveat = ("orders carry no paid_ts: the 48-hour clock starts at the order time, so orders paid later "
                      "(presale balances, bank transfers) look late")
    # the shipping times alone first (the pauses); the orders and parcels are then read a column
    # at a time, their text as codes, and joined by row positions (no order-level frame is held)
    shipped_ts = pd.to_datetime(_read_column(data, "shipments", "shipped_ts"))
    res.pauses = logistics_pauses(pd.DataFrame({"shipped_ts": shipped_ts}), start=getattr(data, "start", None),
                                  end=cutoff, window_days=int(cfg["pause_window_days"]),
                                  declared=cfg["declared_pauses"])
    shipped_ts = shipped_ts.to_numpy()
    clock = dict(cutoff=cutoff, ship_within_hours=res.hours, pauses=res.pauses,
                 catch_up_days=int(cfg["pause_catch_up_days"]))
    anomaly = dict(baseline_days=int(cfg["anomaly_baseline_days"]), min_drop=float(cfg["anomaly_min_drop"]),
                   alpha=float(cfg["anomaly_alpha"]), peak_ratio=float(cfg["peak_ratio"]),
                   campaigns=data["campaigns"] if data.has("campaigns") else None)
    ship_rows = _order_rows(data, "shipments")
    core = None
    if ship_rows is not None and len(shipped_ts) and (not _has_column(data, "orders", "channel")
                                                      or _text_column(data, "orders", "channel")):
        core = _ship_arrays_data(data, **clock, order_rows=ship_rows, shipped_ts=shipped_ts,
                                 provinces=_data_province_parts(data))
    if core is not None:
        # counted on the arrays: the order-level status table (ten gigabytes for seventy million
        # orders) is never built; only the backlog's rows are
        res.monthly = core.rates(["month"])
        res.by_channel_month = core.rates(["month", "channel"])
        res.daily = _ship_anomalies(core.daily(), **anomaly)
        res.backlog = core.backlog(cutoff)
        first_paid = pd.Timestamp(core.paid.min())
        m0, m1 = _month_bounds(month)
        ends = pd.date_range(first_paid.normalize() + pd.offsets.MonthBegin(1), cutoff, freq="MS")
        res.backlog_by_month = core.trend(ends)
        # whether each parcel left after its order's deadline, for the carrier section (not a
        # field: not shown); a parcel of an order not counted has no deadline
        order_due = np.full(data.rows("orders") + 1, np.datetime64("NaT"), dtype=core.due.dtype)
        order_due[core.source] = core.due
        del core
        res._dispatched_late = (weakref.ref(data), shipped_ts > order_due[ship_rows])
        del order_due
    else:
        orders = _table(data, "orders")
        shipments = _shipments(data, ("order_id", "shipped_ts", "carrier"))
        clock.update(order_rows=ship_rows, provinces=_order_provinces(data, orders))
        core = _ship_arrays(orders, shipments, **clock)
        if core is not None and ("channel" not in orders.columns or orders["channel"].dtype == _STR):
            source, due = core.source, core.due
            res.monthly = core.rates(["month"])
            res.by_channel_month = core.rates(["month", "channel"])
            res.daily = _ship_anomalies(core.daily(), **anomaly)
            res.backlog = core.backlog(cutoff)
            first_paid = pd.Timestamp(core.paid.min())
            trend = core.trend
        else:
            st, source = (core.frame(), core.source) if core is not None else _shipping_status(orders, shipments, **clock)
            due = st["due_ts"].to_numpy()
            res.monthly = ship_rates(st, by="month")
            res.by_channel_month = ship_rates(st, by=["month", "channel"])
            res.daily = ship_anomalies(st, pauses=res.pauses, **anomaly)
            res.backlog = shipping_backlog(st, cutoff=cutoff)
            first_paid = st["paid_ts"].min()
            trend = lambda ends: backlog_trend(st, month_ends=ends)  # noqa: E731
        # each order's shipping deadline by its row in the orders table (NaT: not counted), for the
        # carrier section (not a field: not shown)
        order_due = np.full(len(orders), np.datetime64("NaT"), dtype=due.dtype)
        order_due[source] = due
        res._order_due = (orders, order_due)
        ends = pd.date_range(first_paid.normalize() + pd.offsets.MonthBegin(1), cutoff, freq="MS")
        res.backlog_by_month = trend(ends)
        del core
    res.channels = res.by_channel_month.loc[res.by_channel_month["month"] == month].drop(columns="month").reset_index(drop=True)
    row = res.monthly.loc[res.monthly["month"] == month]
    if len(row):
        res.month_rate = None if pd.isna(row["on_time_rate"].iloc[0]) else float(row["on_time_rate"].iloc[0])
        res.month_within_hours = None if pd.isna(row["within_hours_rate"].iloc[0]) else float(row["within_hours_rate"].iloc[0])
        res.median_hours = float(row["median_hours"].iloc[0])
    m0, m1 = _month_bounds(month)
    in_month = (res.daily["date"] >= m0) & (res.daily["date"] < m1)
    res.anomalies = res.daily.loc[in_month & res.daily["flagged"]].reset_index(drop=True)
    res.backlog_ages = backlog_age_buckets(res.backlog, ship_within_hours=res.hours)
    res.overdue = res.backlog.loc[res.backlog["overdue"]].drop(columns=["overdue"]).reset_index(drop=True)
    alerts = []
    for _, r in res.channels.iterrows():  # a handful of channels
        if pd.notna(r["on_time_rate"]) and r["on_time_rate"] < res.target and (r["on_time"] + r["late"]) >= 30:
            alerts.append({"severity": "medium", "subject": r["channel"],
                           "message": f"{r['on_time_rate']:.1%} of {r['channel']} orders shipped within the "
                                      f"promise in {month} (target {res.target:.0%})"})
    un = res.anomalies.loc[res.anomalies["explanation"] == "unexplained"]
    for _, r in un.head(10).iterrows():  # at most a few days
        alerts.append({"severity": "high", "subject": r["date"].strftime("%Y-%m-%d"),
                       "message": f"only {r['rate']:.0%} of orders paid that day shipped on time against "
                                  f"{r['expected']:.0%} usually, with no volume peak to explain it"})
    if len(res.overdue):
        alerts.append({"severity": "medium", "subject": "backlog",
                       "message": f"{len(res.overdue):,} paid orders still unshipped past their deadline at "
                                  f"the end of {month} (oldest {res.overdue['age_hours'].max() / 24:.1f} days)"})
    res.alerts = _alerts_frame(alerts)
    release_free_memory()  # the orders' and parcels' arrays are gone: hand their memory back
    return res


def _worst(cells: pd.DataFrame, carrier: str, area: str, *, level: float = 0.05, top: int = 4) -> tuple[str, list]:
    """The carrier's rated areas that are later than its other areas beyond chance (one-sided
    binomial, p < ``level`` divided by the number of its rated areas), worst first."""
    mine = cells.loc[(cells["carrier"] == carrier) & cells["rated"]]
    c = mine.loc[mine["p_value"] * max(1, len(mine)) < level]
    c = c.sort_values("late_rate", ascending=False).head(top)
    names = c[area].tolist()
    text = ", ".join(f"{r[area]} {r['late_rate']:.0%} of {r['decided']:,}" for _, r in c.iterrows())
    return text, names


def _region_breakdown(provinces: pd.DataFrame, carrier: str, region: str, *, min_parcels: int = 10) -> str:
    """The provinces of a flagged region, with their late shares (small ones included, for reading)."""
    p = provinces.loc[(provinces["carrier"] == carrier) & (region_of(provinces["province"]) == region)
                      & (provinces["decided"] >= min_parcels)].sort_values("decided", ascending=False)
    return ", ".join(f"{r['province']} {r['late_rate']:.0%} of {r['decided']:,}" for _, r in p.iterrows())


def carrier_report(data, *, shipping: ShippingResult | None = None, record=None) -> CarrierResult:
    """Section 2: each carrier's on-time delivery against ``promised_date`` and its delivery time,
    by province and region, over the last ``fulfillment.carrier_window_months`` months; carriers
    below the target or clearly worse than their own previous 12 months are flagged with their
    worst provinces and region; the month's late parcels become an action list.

    Needs shipments (carrier, shipped_ts, delivered_ts, promised_date); orders.province for areas.
    ``shipping`` (the :func:`shipping_report` of the same data) supplies each order's shipping
    deadline, pause included, to tell a carrier's delay from the warehouse's.
    """
    cfg = _settings(data)
    month = _report_month(data)
    res = CarrierResult(month=month, target=float(cfg["carrier_on_time_target"]), min_parcels=int(cfg["min_parcels_per_cell"]))
    note = data.missing_note("shipments", columns={"shipments": ["shipped_ts", "delivered_ts", "promised_date"]})
    if note:
        res.note = _skip(record, "Carrier on-time delivery", note)
        return res
    cutoff = _cutoff(data)
    this = pd.Period(month, "M")
    w0 = (this - int(cfg["carrier_window_months"]) + 1).to_timestamp()
    b0 = (this - int(cfg["carrier_window_months"]) + 1 - int(cfg["baseline_months"])).to_timestamp()
    res.window = (w0, cutoff)
    ship_rows = _order_rows(data, "shipments")
    orders = None
    if ship_rows is not None:
        # the parcels' outcomes as arrays, read a column at a time: neither the shipments nor the
        # orders are held as frames; whether a parcel left late comes from the shipping section
        known = getattr(shipping, "_dispatched_late", None) if shipping is not None and not shipping.skipped else None
        late = known[1] if known is not None and known[0]() is data else None
        parcels = _Parcels.from_data(data, cutoff=cutoff, order_rows=ship_rows,
                                     ship_within_hours=float(cfg["ship_within_hours"]), dispatched_late=late,
                                     provinces=_data_province_parts(data))
        res._parcel_flags = parcels.flags(data.rows("orders"))
    else:
        orders, shipments = _table(data, "orders"), _shipments(data)
        due, order_due = None, None
        if shipping is not None and not shipping.skipped:
            known = getattr(shipping, "_order_due", None)
            if known is not None:  # by order id: the counted orders' deadlines
                counted = np.flatnonzero(~np.isnat(known[1]))
                due = pd.Series(known[1][counted], index=pd.Index(known[0]["order_id"].take(counted)), name="due_ts")
        # the parcels' outcomes as arrays: the outcome table of every parcel is never built (only the
        # month's late parcels are); the refund section gets what it reads of them (not fields: not shown)
        parcels = _Parcels(shipments, orders, cutoff=cutoff, ship_due=due,
                           ship_within_hours=float(cfg["ship_within_hours"]), order_rows=None, order_due=order_due,
                           provinces=_order_provinces(data, orders))
        del shipments  # the parcels hold their order ids only: the rest of the table goes now
        res._parcel_frame = parcels.frame()
    res.scorecard = carrier_scorecard(parcels, start=w0, end=cutoff, baseline_start=b0, target=res.target,
                                      min_rise=float(cfg["carrier_min_rise"]), alpha=float(cfg["spike_alpha"]),
                                      min_parcels=res.min_parcels)
    res.monthly = carrier_monthly(parcels)
    res.provinces = carrier_cells(parcels, start=w0, end=cutoff, by="province", min_parcels=res.min_parcels)
    res.regions = carrier_cells(parcels, start=w0, end=cutoff, by="region", min_parcels=res.min_parcels)
    rated = res.provinces.loc[res.provinces["rated"]]
    res.province_table = rated.pivot(index="province", columns="carrier", values="on_time_rate")
    if len(res.province_table):
        res.province_table = res.province_table.loc[rated.groupby("province")["decided"].sum()
                                                    .sort_values(ascending=False).index]
    m0, m1 = _month_bounds(month)
    mp = parcels.window(m0, m1)
    dec = parcels.late[mp & parcels.decided]
    res.on_time_rate = float(1 - dec.mean()) if len(dec) else None
    days = pd.Series(parcels.transit[mp])
    res.median_days = float(days.median()) if days.notna().any() else None
    flagged = res.scorecard.loc[res.scorecard["flagged"]].copy()
    rows, alerts = [], []
    window_text = f"{w0:%Y-%m}..{month}"
    for _, r in flagged.iterrows():  # flagged carriers: one or two
        prov_text, prov = _worst(res.provinces, r["carrier"], "province")
        reg_text, reg = _worst(res.regions, r["carrier"], "region", top=2)
        inside = _region_breakdown(res.provinces, r["carrier"], reg[0]) if reg else ""
        rows.append({"carrier": r["carrier"], "status": r["status"], "on_time_rate": r["on_time_rate"],
                     "late_rate": r["late_rate"], "baseline_late_rate": r["baseline_late_rate"],
                     "decided": r["decided"], "worst_provinces": ", ".join(prov), "worst_regions": ", ".join(reg),
                     "detail": "; ".join(x for x in [prov_text, reg_text] if x) or "late everywhere alike",
                     "inside_worst_region": inside})
        msg = (f"{r['late_rate']:.0%} of {r['decided']:,} parcels shipped {window_text} arrived after the promised "
               f"date although dispatched on time (on time {r['on_time_rate']:.0%} against the {res.target:.0%} "
               f"target; {r['baseline_late_rate']:.1%} late in the 12 months before)")
        if prov_text:
            msg += f"; worst provinces {prov_text}"
        if reg_text:
            msg += f"; region {reg_text}" + (f": {inside}" if inside else "")
        alerts.append({"severity": "high" if r["status"] == "below target" else "medium",
                       "subject": r["carrier"], "message": msg})
    res.flagged = pd.DataFrame(rows, columns=["carrier", "status", "on_time_rate", "late_rate", "baseline_late_rate",
                                              "decided", "worst_provinces", "worst_regions", "detail",
                                              "inside_worst_region"])
    promised = pd.Series(parcels.promised)
    due = np.flatnonzero(((promised >= m0) & (promised < m1)).to_numpy(dtype=bool)
                         & ((parcels.state == 2) | (parcels.state == 3)))  # late or overdue
    # the buyers of the late parcels: orders.customer_id is read for this list only (not kept)
    from .loading import has_column, read_columns

    if parcels.rows is not None:  # the late parcels' buyers alone, by their orders' rows
        buyers = _take_rows(data, "orders", ["customer_id"], parcels.rows[due])
        res.late = late_parcels(parcels.frame(due), start=m0, end=m1, orders=buyers, order_rows=np.arange(len(due)))
    else:
        buyers = orders
        if "customer_id" not in orders.columns and has_column(data, "orders", "customer_id"):
            buyers = read_columns(data, "orders", ["order_id", "customer_id"], keep=False)
        res.late = late_parcels(parcels.frame(due), start=m0, end=m1, orders=buyers)
    res.alerts = _alerts_frame(alerts)
    del parcels
    release_free_memory()
    return res


def ticket_report(data, *, record=None) -> TicketResult:
    """Section 3: the report month's service tickets - first response and resolution times (median
    and share within the targets), categories and their spikes against the previous 12 months (per
    1,000 paid orders), satisfaction by category and by resolution time; open and overdue tickets
    become an action list.

    Needs service_tickets (opened_ts; first_response_ts, resolved_ts, category, satisfaction used
    when present).
    """
    cfg = _settings(data)
    month = _report_month(data)
    res = TicketResult(month=month, response_hours=float(cfg["first_response_hours"]),
                       resolution_hours=float(cfg["resolution_hours"]), target=float(cfg["ticket_within_target"]))
    note = data.missing_note("service_tickets")
    if note:
        res.note = _skip(record, "Service tickets", note)
        return res
    cutoff = _cutoff(data)
    times = ticket_times(_table(data, "service_tickets"), cutoff=cutoff, first_response_hours=res.response_hours,
                         resolution_hours=res.resolution_hours)
    res.times = times
    cur = times.loc[times["month"] == month]
    res.month_summary = ticket_summary(cur)
    res.by_category = ticket_summary(cur, by="category").sort_values("tickets", ascending=False).reset_index(drop=True)
    res.monthly = ticket_summary(times, by="month")
    kpis = data.derived("daily_kpis")
    paid_orders = kpis.groupby(kpis["date"].dt.strftime("%Y-%m"))["paid_orders"].sum()
    cm = times.groupby(["month", "category"]).size().rename("tickets").reset_index()
    cm["per_1000_orders"] = 1000 * cm["tickets"] / cm["month"].map(paid_orders).astype("float64")
    res.category_monthly = cm
    res.spikes = ticket_category_spikes(times, paid_orders, month=month, baseline_months=int(cfg["baseline_months"]),
                                        alpha=float(cfg["spike_alpha"]), min_events=int(cfg["spike_min_events"]))
    res.by_resolution = satisfaction_by_resolution(cur if cur["satisfaction"].notna().sum() >= 50 else times)
    res.by_hour = response_by_hour(cur if len(cur) >= 100 else times)
    late = times.loc[times["open"] | ((times["resolution_state"] == "breached") & (times["month"] == month))].copy()
    late["hours_open"] = np.round(np.where(late["open"], (cutoff - late["opened_ts"]) / HOUR, late["resolution_hours"]), 1)
    late["response_hours"] = late["response_hours"].round(1)
    late["status"] = np.where(late["open"], np.where(late["resolution_state"] == "breached", "open, past target", "open"),
                              "resolved late")
    res.open_tickets = late.sort_values(["open", "hours_open"], ascending=[False, False])[
        ["ticket_id", "order_id", "customer_id", "category", "opened_ts", "response_hours", "hours_open", "status"]
    ].reset_index(drop=True)
    alerts = []
    for _, r in res.spikes.loc[res.spikes["spike"]].iterrows():  # a handful of categories
        alerts.append({"severity": "medium", "subject": f"tickets: {r['category']}",
                       "message": f"{r['tickets']} {r['category']} tickets in {month}, {r['ratio']:.1f}x the usual "
                                  f"{r['baseline_per_1000']:.1f} per 1,000 orders"})
    res.alerts = _alerts_frame(alerts)
    return res


def refund_report(data, *, carriers: CarrierResult | None = None, record=None) -> RefundResult:
    """Section 4: refunds and returns of the orders placed in the report month - the refund rate
    (orders refunded in full or in part), reasons (from tickets and parcels), and per SKU the
    refund, return and quality-ticket rates with spikes against the SKU's own previous 12 months.

    Needs orders (status or refund_amount); order_items for the SKU view; shipments and
    service_tickets for the reasons; products for titles. ``carriers`` (the :func:`carrier_report`
    of the same data) lends its parcel outcomes instead of computing them again.
    """
    cfg = _settings(data)
    month = _report_month(data)
    this_code = int(month[:4]) * 12 + int(month[5:7]) - 1  # its month code (metrics.month_codes)
    res = RefundResult(month=month, target=float(cfg["refund_rate_max"]))
    if not _has_column(data, "orders", "status") and not _has_column(data, "orders", "refund_amount"):
        res.note = _skip(record, "Refunds and returns", data.missing_note(columns={"orders": ["status", "refund_amount"]})
                         or "Skipped: orders carry neither status nor refund_amount.")
        return res
    cutoff = _cutoff(data)
    has_parcels = data.has("shipments", columns={"shipments": ["shipped_ts"]})
    has_lines = not data.missing_note("order_items")
    # the orders by row (their ids unique text): their columns are read one at a time, the parcels
    # and lines reach them by row positions, and no order-level frame is held
    ship_rows = _order_rows(data, "shipments") if has_parcels else None
    item_rows = _order_rows(data, "order_items") if has_lines else None
    by_row = (ship_rows is not None or not has_parcels) and (item_rows is not None or not has_lines)
    orders = None if by_row else _table(data, "orders")
    # the parcels: what this section reads of them (_ParcelFlags: each parcel's row in orders and
    # three flags) when their orders are known by row, else their outcome table
    parcels, parcel_rows = None, None  # parcel_rows: each parcel's row in orders, when known
    if carriers is not None and not carriers.skipped:
        flags = getattr(carriers, "_parcel_flags", None)
        parcels = getattr(carriers, "_parcel_frame", None) if flags is None else flags if by_row else None
    if parcels is None and has_parcels:
        if ship_rows is not None and by_row:
            found = _Parcels.from_data(data, cutoff=cutoff, order_rows=ship_rows,
                                       ship_within_hours=float(cfg["ship_within_hours"]),
                                       provinces=_data_province_parts(data))
            parcels = found.flags(data.rows("orders"))
        else:
            shipments = _shipments(data)
            found = _Parcels(shipments, orders, cutoff=cutoff, ship_within_hours=float(cfg["ship_within_hours"]),
                             order_rows=_order_rows(data, "shipments", shipments),
                             provinces=_order_provinces(data, orders))
            parcels = found.flags(orders)
            if parcels is None:
                parcels = found.frame()
        del found
    if isinstance(parcels, _ParcelFlags):
        parcel_rows = parcels.rows
    tickets = _table(data, "service_tickets") if data.has("service_tickets") else None
    quality = None  # the orders with a quality ticket, by row (placed before the large arrays are read)
    if by_row:
        n = data.rows("orders")
        if has_lines and tickets is not None and {"order_id", "category"} <= set(tickets.columns):
            ticket_rows = _order_rows(data, "service_tickets")
            if ticket_rows is not None and len(ticket_rows) == len(tickets):
                mark = (tickets["category"] == "quality").fillna(False).to_numpy(dtype=bool) & (ticket_rows >= 0)
                quality = np.zeros(n, dtype=bool)
                quality[ticket_rows[mark]] = True
                del mark
        status = _codes(data, "orders", "status")
        is_paid = ~_is_code(status, "cancelled", n)  # paid_mask: a missing status counts as paid
        full = _is_code(status, "refunded", n)
        amount = (pd.to_numeric(_read_column(data, "orders", "refund_amount"), errors="coerce").fillna(0.0).to_numpy()
                  if _has_column(data, "orders", "refund_amount") else np.zeros(n))
        pay = _read_column(data, "orders", "paid_amount").to_numpy()
        rows, full, value = _refund_rows(is_paid, full, amount, pay)
        del amount
        when = _read_column(data, "orders", "order_ts")
        r = pd.DataFrame({"order_id": _values(_take_rows(data, "orders", ["order_id"], rows)["order_id"]),
                          "month": _values(_month(when.take(rows).reset_index(drop=True))),
                          "refund_value": value, "full_refund": full})
        reasons = _reasons_of(r, rows, n, parcels=parcels, tickets=tickets, parcel_rows=parcel_rows)
        reason_rows = rows
        del r, value, full
    else:
        reasons, reason_rows = _refund_reasons(orders, parcels=parcels, tickets=tickets, parcel_rows=parcel_rows)
        n = len(orders)
        is_paid = np.asarray(paid_mask(_narrow(orders, "status")), dtype=bool)
        when, pay = orders["order_ts"], orders["paid_amount"].to_numpy()
    res.reasons = reasons
    code = month_codes(when).to_numpy()[is_paid]  # grouped on integers, labelled once per month
    per_month = (pd.DataFrame({"paid_amount": pay[is_paid]})
                 .groupby(code).agg(paid_orders=("paid_amount", "size"), gmv=("paid_amount", "sum")))
    del pay
    per_month.index = pd.Index([f"{int(c) // 12:04d}-{int(c) % 12 + 1:02d}" for c in per_month.index], dtype=_STR)
    rm = reasons.groupby("month").agg(refunded_orders=("order_id", "size"), refund_value=("refund_value", "sum"),
                                      full_refunds=("full_refund", "sum"))
    monthly = per_month.join(rm, how="left").fillna(0)
    monthly["refund_rate"] = _rate(monthly["refunded_orders"], monthly["paid_orders"])
    monthly["refund_value_share"] = _rate(monthly["refund_value"], monthly["gmv"])
    res.monthly = monthly.rename_axis("month").reset_index()
    cur = res.monthly.loc[res.monthly["month"] == month]
    if len(cur):
        res.refund_rate = float(cur["refund_rate"].iloc[0])
        res.refund_value_share = float(cur["refund_value_share"].iloc[0])
    if parcels is not None:
        of_month = code == this_code
        if parcel_rows is not None:  # the parcels of the month's paid orders, by their rows in orders
            hit = np.zeros(n + 1, dtype=bool)  # the last slot answers False for -1
            hit[np.flatnonzero(is_paid)[of_month]] = True
            mp = parcels["returned"][hit[parcel_rows]]
        else:
            mp = parcels.loc[_has_id(parcels["order_id"], orders["order_id"].loc[is_paid].loc[of_month]), "returned"]
        res.return_rate = float(mp.mean()) if len(mp) else None
    del code
    in_month = (reasons["month"] == month).to_numpy(dtype=bool)
    rmon = reasons.loc[in_month]
    rs = rmon.groupby("reason").agg(orders=("order_id", "size"), refund_value=("refund_value", "sum"))
    rs["share"] = rs["orders"] / rs["orders"].sum() if len(rs) else np.nan
    res.reason_summary = rs.sort_values("orders", ascending=False).reset_index()
    sku_note = data.missing_note("order_items")
    if sku_note:
        res.sku_note = _skip(record, "Refunds by SKU", sku_note)
        res.alerts = _alerts_frame([])
        return res
    from .loading import read_columns, read_derived_columns

    try:  # only the columns read here, and only for this use
        rev = read_derived_columns(data, "sku_daily", ["date", "sku", "revenue"])
        m0, m1 = _month_bounds(month)
        rev = rev.loc[(rev["date"] >= m0) & (rev["date"] < m1)].groupby("sku")["revenue"].sum()
    except KeyError:
        rev = None
    products = _table(data, "products") if data.has("products") else None
    spikes = dict(baseline_months=int(cfg["baseline_months"]), alpha=float(cfg["spike_alpha"]),
                  min_events=int(cfg["spike_min_events"]))
    if by_row:
        # the lines' orders as rows (looked up once per dataset), their SKUs as codes; the lines'
        # text is read for the report month's lines alone
        skus = _sku_refunds(None, None, month=month, reasons=reasons, parcels=parcels, tickets=tickets,
                            sku_revenue=rev, products=products, **spikes, item_rows=item_rows,
                            reason_rows=reason_rows, parcel_rows=parcel_rows,
                            lines=_OrderLines(data, when, is_paid, quality))
        del when, is_paid
    else:
        # the lines are read for this section alone (not kept in the dataset: nothing after it needs
        # them), their orders looked up once as rows of orders
        items = read_columns(data, "order_items", COLUMNS["order_items"], keep=False)
        item_rows = _id_positions(items["order_id"], orders["order_id"])
        if item_rows is not None and len(orders) < 2 ** 31 - 1:
            item_rows = item_rows.astype(np.int32)
        skus = _sku_refunds(orders, items, month=month, reasons=reasons, parcels=parcels, tickets=tickets,
                            sku_revenue=rev, products=products, **spikes, item_rows=item_rows,
                            reason_rows=reason_rows, parcel_rows=parcel_rows)
    res.skus = skus
    if item_rows is not None:  # the lines of the month's refunded orders, by their rows in orders
        mine = np.zeros(n + 1, dtype=bool)  # the last slot answers False for -1
        mine[reason_rows[in_month]] = True
        if by_row:
            items = _take_rows(data, "order_items", ["order_id", "sku"], np.flatnonzero(mine[item_rows]))
        else:
            items = items[["order_id", "sku"]].loc[mine[item_rows]]
        items = items.drop_duplicates()
    else:
        items = items[["order_id", "sku"]]
        items = items.loc[_has_id(items["order_id"], rmon["order_id"])].drop_duplicates()  # the month's refunded orders
    sr = rmon[["order_id", "reason"]].merge(items, on="order_id")
    res.sku_reasons = sr.groupby(["sku", "reason"]).size().rename("orders").reset_index()
    review = skus.loc[skus["refund_spike"] | skus["quality_spike"]].copy()
    review["why"] = np.where(review["refund_spike"] & review["quality_spike"], "refunds and quality tickets jumped",
                             np.where(review["refund_spike"], "refunds jumped", "quality tickets jumped"))
    keep = [c for c in ["sku", "title", "category", "orders", "refunded_orders", "full_refunds", "full_refund_rate",
                        "baseline_full_refund_rate", "refund_value", "returned_orders", "quality_tickets", "quality_rate",
                        "baseline_quality_rate", "top_reason", "why", "refund_spike", "quality_spike"] if c in review.columns]
    rates = [c for c in keep if c.endswith("_rate")]
    res.review = review[keep].round({**{c: 4 for c in rates}, "refund_value": 2}).reset_index(drop=True)
    alerts = []
    for _, r in review.iterrows():  # spikes: a handful of SKUs
        parts = []
        if r["refund_spike"]:
            parts.append(f"{r['full_refunds']} of {r['orders']} orders refunded in full ({r['full_refund_rate']:.0%} "
                         f"against {r['baseline_full_refund_rate']:.1%} before)")
        if r["quality_spike"]:
            parts.append(f"{r['quality_tickets']} quality tickets ({r['quality_rate']:.0%} of orders against "
                         f"{r['baseline_quality_rate']:.1%} before)")
        alerts.append({"severity": "high", "subject": r["sku"], "message": f"{month}: " + "; ".join(parts)
                       + (f"; top reason: {r['top_reason']}" if r["top_reason"] else "")})
    res.alerts = _alerts_frame(alerts)
    release_free_memory()
    return res


# ---------------------------------------------------------------------------------------------
# Plots (data first, ax=None, return the Axes; a skipped section draws its note)
# ---------------------------------------------------------------------------------------------

def _ax(ax):
    import matplotlib.pyplot as plt

    return ax if ax is not None else plt.gca()


def plot_ship_rate_by_month(ship: ShippingResult, *, ax=None):
    """Share of paid orders shipped within the promise, per payment month: the shop (thick) and each
    channel (thin, channel colours), with the target line."""
    from . import charts

    ax = _ax(ax)
    title = f"Shipped within {ship.hours:g} h of payment 48小时发货率"
    if ship.skipped:
        return _draw_note(ax, ship.note, title)
    bc = ship.by_channel_month.dropna(subset=["on_time_rate"])
    for ch, part in bc.groupby("channel"):  # a handful of channels
        ax.plot(pd.to_datetime(part["month"]), part["on_time_rate"], lw=1, alpha=0.7,
                color=charts.CHANNEL_COLORS.get(ch, charts.ALERT_COLORS["neutral"]), label=ch)
    m = ship.monthly.dropna(subset=["on_time_rate"])
    ax.plot(pd.to_datetime(m["month"]), m["on_time_rate"], lw=3, color="#333333", label="shop", marker="o", ms=4)
    charts.format_pct_axis(ax)
    charts.annotate_threshold(ax, ship.target, f"target {ship.target:.0%}")
    lo = float(bc["on_time_rate"].min()) if len(bc) else ship.target
    ax.set_ylim(max(0.0, min(lo, ship.target) - 0.04), 1.0)
    ax.legend(ncol=7, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    ax.set_title(title)
    return ax


def plot_daily_ship_rate(ship: ShippingResult, *, days: int | None = None, min_orders: int = 20, ax=None):
    """The daily on-time shipping rate (by payment day) against its expectation over the last
    ``days`` days (default: the whole loaded window); flagged days marked (orange: at a volume peak,
    red: unexplained), the spring-festival pause shaded, the report month framed. Days with fewer
    than ``min_orders`` decided orders are left out (their rate is noise)."""
    from . import charts

    ax = _ax(ax)
    title = "Daily on-time shipping rate against expectation 每日发货及时率"
    if ship.skipped:
        return _draw_note(ax, ship.note, title)
    d = ship.daily if days is None else ship.daily.loc[ship.daily["date"] >= ship.cutoff - days * DAY]
    rate = d["rate"].where(d["decided"] >= min_orders)
    ax.plot(d["date"], rate, lw=0.8, color=charts.PALETTE[0], label="shipped on time, by payment day")
    ax.plot(d["date"], d["expected"], lw=1.5, ls="--", color="#555555", label="expected (median of the 28 days before)")
    peak = d.loc[d["flagged"] & (d["explanation"] != "unexplained")]
    bad = d.loc[d["explanation"] == "unexplained"]
    if len(peak):
        ax.scatter(peak["date"], peak["rate"], color=charts.PALETTE[1], zorder=5, s=22, label="far below, at a volume peak")
    if len(bad):
        ax.scatter(bad["date"], bad["rate"], color=charts.ALERT_COLORS["bad"], zorder=6, s=45, label="far below, unexplained")
    first = True
    lo_date = d["date"].min() if len(d) else ship.cutoff
    for _, p in ship.pauses.iterrows():  # one or two pauses
        if p["end"] >= lo_date:
            ax.axvspan(p["start"], p["end"] + DAY, color="#D9D9D9", zorder=0,
                       label="spring-festival pause 春节停发" if first else None)
            first = False
    m0, m1 = _month_bounds(ship.month)
    ax.axvspan(m0, m1, color=charts.ALERT_COLORS["highlight"], alpha=0.08, zorder=0, label=f"report month {ship.month}")
    charts.format_pct_axis(ax)
    lo = float(rate.min()) if rate.notna().any() else 0.5
    ax.set_ylim(max(0.0, min(lo, 0.8) - 0.05), 1.02)
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
    ax.set_title(title)
    return ax


def plot_backlog(ship: ShippingResult, *, ax=None):
    """The unshipped backlog at month end by age; bars past the promise in red."""
    from . import charts

    ax = _ax(ax)
    title = f"Unshipped at the end of {ship.month}, by age 待发货订单"
    if ship.skipped:
        return _draw_note(ax, ship.note, title)
    b = ship.backlog_ages
    colors = {a: (charts.ALERT_COLORS["bad"] if late else charts.PALETTE[0]) for a, late in zip(b["age"], b["past_promise"])}
    charts.bar_with_labels(b, "age", "orders", ax=ax, palette=colors, title=title)
    ax.set_xlabel("hours (h) or days (d) since payment")
    return ax


def plot_carrier_trend(carriers: CarrierResult, *, ax=None):
    """Late share (delivered after promised_date) per carrier and ship month; flagged carriers drawn
    thick, with the line the target allows."""
    from . import charts

    ax = _ax(ax)
    title = "Late deliveries caused by the carrier (dispatched on time, delivered after the promise) 物流延误率"
    if carriers.skipped:
        return _draw_note(ax, carriers.note, title)
    flagged = set(carriers.flagged["carrier"])
    m = carriers.monthly.dropna(subset=["late_rate"])
    for i, (c, part) in enumerate(m.groupby("carrier")):  # a handful of carriers
        hot = c in flagged
        ax.plot(pd.to_datetime(part["month"]), part["late_rate"], lw=3 if hot else 1.2,
                color=charts.ALERT_COLORS["bad"] if hot else charts.PALETTE[(i + 3) % len(charts.PALETTE)],
                label=c + (" (flagged)" if hot else ""), marker="o" if hot else None, ms=4)
    charts.format_pct_axis(ax)
    charts.annotate_threshold(ax, 1 - carriers.target, f"{1 - carriers.target:.0%} late = the {carriers.target:.0%} target")
    ax.axvspan(carriers.window[0], carriers.window[1], color="#EEEEEE", zorder=0, label="review window")
    ax.legend(ncol=7, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    ax.set_title(title)
    return ax


def plot_carrier_regions(carriers: CarrierResult, *, by: str = "region", ax=None):
    """Heatmap of the late share per carrier and region (or province) over the review window;
    cells with fewer parcels than the minimum are left blank."""
    from . import charts

    ax = _ax(ax)
    title = (f"Carrier's own late share by {by}, {carriers.window[0]:%Y-%m}..{carriers.month}"
             if carriers.window else "Carrier's own late share")
    if carriers.skipped:
        return _draw_note(ax, carriers.note, title)
    cells = carriers.regions if by == "region" else carriers.provinces
    cells = cells.loc[cells["rated"]]
    if cells.empty:
        return _draw_note(ax, "No carrier and area has enough parcels to rate.", title)
    mat = cells.pivot(index="carrier", columns=by, values="late_rate")
    order = cells.groupby(by)["decided"].sum().sort_values(ascending=False).index
    mat = mat[order]
    charts.heatmap(mat, ax=ax, fmt="pct", cmap="Reds", vmin=0, vmax=max(0.3, float(np.nanmax(mat.to_numpy()))),
                   title=title)
    ax.set_xlabel("")
    ax.set_ylabel("")
    return ax


def plot_delivery_days(carriers: CarrierResult, *, ax=None):
    """Median days from shipment to delivery per carrier over the review window."""
    from . import charts

    ax = _ax(ax)
    title = "Median delivery time, days 配送时效"
    if carriers.skipped:
        return _draw_note(ax, carriers.note, title)
    sc = carriers.scorecard.dropna(subset=["median_days"]).sort_values("median_days")
    if sc.empty:
        return _draw_note(ax, "No parcel delivered in the review window.", title)
    charts.bar_with_labels(sc, "carrier", "median_days", ax=ax, fmt="{:.1f}", highlight=carriers.flagged["carrier"].tolist(),
                           title=title)
    ax.set_ylabel("days")
    return ax


def plot_ticket_categories(tickets: TicketResult, *, ax=None):
    """Tickets per 1,000 paid orders by category and month: a category that jumps is a problem to
    trace (a bad batch, a late carrier)."""
    from . import charts

    ax = _ax(ax)
    title = "Service tickets per 1,000 paid orders 客服工单"
    if tickets.skipped:
        return _draw_note(ax, tickets.note, title)
    if tickets.category_monthly["per_1000_orders"].notna().sum() == 0:
        return _draw_note(ax, "No tickets to count.", title)
    charts.line_chart(tickets.category_monthly, "month", "per_1000_orders", hue="category", ax=ax, title=title, marker=None)
    ax.set_ylabel("tickets per 1,000 orders")
    return ax


def plot_satisfaction(tickets: TicketResult, *, ax=None):
    """Mean satisfaction (1-5) by resolution time, with the share of 1-2 scores written on the bars."""
    from . import charts

    ax = _ax(ax)
    title = "Satisfaction by time to resolve 满意度"
    if tickets.skipped:
        return _draw_note(ax, tickets.note, title)
    b = tickets.by_resolution.dropna(subset=["csat"])
    if b.empty:
        return _draw_note(ax, "No satisfaction scores (service_tickets.satisfaction) to show.", title)
    charts.bar_with_labels(b, "resolved_in", "csat", ax=ax, fmt="{:.2f}", title=title)
    ax.set_ylim(1, 5)
    ax.set_ylabel("mean score (1-5)")
    ax.set_xlabel("resolved within")
    return ax


def plot_response_by_hour(tickets: TicketResult, *, ax=None):
    """Median hours to the first response by the hour the ticket was opened: night tickets wait
    for the morning shift."""
    from . import charts

    ax = _ax(ax)
    title = "First response by the hour a ticket is opened 首次响应时长"
    if tickets.skipped:
        return _draw_note(ax, tickets.note, title)
    h = tickets.by_hour
    if h["median_response_hours"].notna().sum() == 0:
        return _draw_note(ax, "No first responses (service_tickets.first_response_ts) to show.", title)
    ax.bar(h["hour"], h["median_response_hours"].fillna(0), color=charts.PALETTE[0], width=0.8)
    ax.set_xticks(range(0, 24, 3))
    ax.set_xticklabels([f"{x:02d}:00" for x in range(0, 24, 3)])
    ax.set_ylabel("median hours to the first response")
    ax.set_xlabel("hour the ticket was opened")
    ax.set_title(title)
    return ax


def plot_refund_reasons(refunds: RefundResult, *, top: int = 12, ax=None):
    """Refunded orders of the month for the SKUs with the most refunds, split by reason; SKUs with a
    refund or quality spike in red."""
    from . import charts

    ax = _ax(ax)
    title = f"Refunded orders by SKU and reason, {refunds.month} 退款原因"
    if refunds.skipped or refunds.sku_note:
        return _draw_note(ax, refunds.note or refunds.sku_note, title)
    sr = refunds.sku_reasons
    if sr.empty:
        return _draw_note(ax, "No refunded orders this month.", title)
    order = sr.groupby("sku")["orders"].sum().sort_values(ascending=False).head(top).index
    mat = sr.loc[sr["sku"].isin(order)].pivot(index="sku", columns="reason", values="orders").fillna(0).loc[order[::-1]]
    mat = mat[mat.sum().sort_values(ascending=False).index]
    left = np.zeros(len(mat))
    for i, reason in enumerate(mat.columns):  # a handful of reasons
        ax.barh(mat.index, mat[reason], left=left, color=charts.PALETTE[i % len(charts.PALETTE)], label=reason)
        left += mat[reason].to_numpy()
    spikes = set(refunds.review["sku"]) if len(refunds.review) else set()
    titles = refunds.skus.set_index("sku")["title"] if "title" in refunds.skus.columns else pd.Series(dtype=str)
    ax.set_yticks(range(len(mat)))
    ax.set_yticklabels([f"{s} {str(titles.get(s, ''))[:10]}".strip() for s in mat.index])
    for lbl, s in zip(ax.get_yticklabels(), mat.index):
        if s in spikes:
            lbl.set_color(charts.ALERT_COLORS["bad"])
    ax.set_xlabel("refunded orders")
    ax.legend(fontsize="small", loc="lower right")
    ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------------------

@exercise("08.yunda_late_share", "Share of the parcels yunda shipped in the report month, and delivered before it "
          "ended, that arrived after promised_date (delivery day later than the promised day)")
def _yunda_late_share(data) -> float:
    s = _table(data, "shipments")
    m0, m1 = _month_bounds(_report_month(data))
    s = s.loc[(s["carrier"] == "yunda") & (s["shipped_ts"] >= m0) & (s["shipped_ts"] < m1)
              & s["delivered_ts"].notna() & (s["delivered_ts"] < m1)]
    return float((s["delivered_ts"].dt.normalize() > s["promised_date"]).mean())


@exercise("08.median_first_response_hours", "Median hours from opened_ts to first_response_ts over the tickets "
          "opened in the report month that have a first response")
def _median_first_response(data) -> float:
    t = _table(data, "service_tickets")
    if getattr(data, "month", None):  # data.month_rows, on the columns the chapter reads
        m0, m1 = _month_bounds(data.month)
        t = t[(t["opened_ts"] >= m0) & (t["opened_ts"] < m1)]
    return float(((t["first_response_ts"] - t["opened_ts"]) / HOUR).median())
