"""Derived tables that several chapters share, computed once per report run.

- ``daily_kpis``: per day and channel, visitors, orders, paid orders, buyers, GMV, net sales and
  conversion (chapters 01, 04, 05, 06);
- ``customer_summary``: per customer, first and last paid order, paid orders, GMV and channel of
  the first order (chapters 01, 04, 06, 07);
- ``sku_daily``: per day and SKU, units and revenue sold and the stock on hand (chapters 02, 03,
  05).

Each table has one definition: a SQL query (:func:`sql`) written in the subset of SQL that DuckDB
and Spark SQL both run unchanged (``CAST``, ``CASE``, ``COALESCE``, ``LEAST``, ``COUNT(DISTINCT)``,
``ROW_NUMBER() OVER``, ``FULL OUTER JOIN ... USING``; unquoted snake_case names; no dialect
functions). The query is built from which input tables and columns are present, so a source
without ``channel``, ``status`` or ``traffic`` gets the same table it always did, with the same
fall-backs. :func:`finish` turns an engine's Arrow result into the pandas frame every chapter
reads (dtypes, order, zero-fill), whichever engine ran the query:

- :func:`compute` runs it on DuckDB over a :class:`~playbook.loading.Dataset`'s pandas frames
  (registered through Arrow, no copy of text columns); ``Dataset.derived`` caches the result and
  the report runner writes it once into the run's folder so that chapters running in parallel do
  not compute it again;
- :mod:`playbook.lake` runs the same text on Spark over a data lake's tables.

The definitions follow ``shared/DATA_CONTRACT.md`` (see :mod:`playbook.metrics`): an order is paid
unless cancelled (a missing status counts as paid), net sales subtract the refund capped at what
was paid (without ``refund_amount``, a refunded order's whole payment), and a buyer is a customer
with a paid order.
"""
from __future__ import annotations

import bisect
import math
import weakref
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd

DERIVED = ("daily_kpis", "customer_summary", "sku_daily")

#: the input tables each derived table reads (the first one is required)
INPUTS = {
    "daily_kpis": ("orders", "traffic"),
    "customer_summary": ("orders",),
    "sku_daily": ("orders", "order_items", "inventory"),
}

#: the columns of each input table that the definitions may read (others are not registered)
USED_COLUMNS = {
    "orders": ("order_id", "customer_id", "order_ts", "paid_amount", "status", "channel", "refund_amount"),
    "order_items": ("order_id", "sku", "qty", "unit_price"),
    "traffic": ("date", "channel", "visitors"),
    "inventory": ("date", "sku", "on_hand"),
}

#: a column the engine adds to ``orders``: the row's position, so that "first order" breaks ties
#: on equal timestamps the way a stable sort of the loaded table does
ROW = "_row"

_ZERO = "CAST(0 AS DOUBLE)"


def isin_ids(series: pd.Series, values) -> np.ndarray:
    """``series.isin(values)`` for text ids, through pyarrow: pandas' own ``isin`` on text builds
    one Python object per value, slow for a million order ids. Returns a boolean array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    vals = pd.Series(values).dropna()
    try:
        left = pa.array(series.astype("str"), from_pandas=True)
        right = pa.array(vals.astype("str").drop_duplicates(), from_pandas=True)
        return np.asarray(pc.is_in(left, value_set=right).to_numpy(zero_copy_only=False), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # pragma: no cover
        return series.isin(vals).to_numpy(dtype=bool)


# ---------------------------------------------------------------------------------------------
# The definitions
# ---------------------------------------------------------------------------------------------

def _paid(cols: Collection[str], alias: str = "") -> str:
    """SQL: the order was paid (not cancelled; no status or an empty one counts as paid)."""
    if "status" not in cols:
        return "TRUE"
    return f"({alias}status IS NULL OR {alias}status <> 'cancelled')"


def _refund(cols: Collection[str]) -> str:
    """SQL: the refund of an order, at most what was paid (metrics._refunds)."""
    if "refund_amount" in cols:
        return f"LEAST(COALESCE(refund_amount, {_ZERO}), paid_amount)"
    if "status" in cols:
        return f"CASE WHEN status = 'refunded' THEN paid_amount ELSE {_ZERO} END"
    return _ZERO


def _require(name: str, columns: Mapping[str, Collection[str]], *tables: str) -> None:
    for t in tables:
        if t not in columns:
            raise KeyError(f"the derived table {name} needs the table {t}, which the source does not provide")


def _daily_kpis_sql(columns: Mapping[str, Collection[str]]) -> tuple[str, dict[str, str]]:
    _require("daily_kpis", columns, "orders")
    oc = columns["orders"]
    channel = "COALESCE(channel, 'unknown')" if "channel" in oc else "'all'"
    has_buyers = "customer_id" in oc
    out = {"date": "date", "channel": "str"}
    if "traffic" in columns:
        out["visitors"] = "float64"
    out.update(orders="int64", paid_orders="int64", gmv="float64", net_sales="float64")
    if has_buyers:
        out["buyers"] = "int64"
    buyers = ",\n         COUNT(DISTINCT CASE WHEN paid THEN customer_id END) AS buyers" if has_buyers else ""
    kpis = f"""o AS (
  SELECT CAST(order_ts AS DATE) AS date, {channel} AS channel, {_paid(oc)} AS paid, paid_amount,
         {_refund(oc)} AS refund{', customer_id' if has_buyers else ''}
  FROM orders
  WHERE order_ts IS NOT NULL
), k AS (
  SELECT date, channel, COUNT(*) AS orders,
         CAST(SUM(CASE WHEN paid THEN 1 ELSE 0 END) AS BIGINT) AS paid_orders,
         COALESCE(SUM(CASE WHEN paid THEN paid_amount ELSE {_ZERO} END), {_ZERO}) AS gmv,
         COALESCE(SUM(CASE WHEN paid THEN paid_amount - refund ELSE {_ZERO} END), {_ZERO}) AS net_sales{buyers}
  FROM o
  GROUP BY date, channel
)"""
    if "traffic" not in columns:
        return f"WITH {kpis}\nSELECT {', '.join(out)}\nFROM k\nORDER BY date, channel", out
    out["conversion"] = "float64"
    counts = [c for c in ("orders", "paid_orders", "buyers") if c in out]
    select = ["date", "channel", "v.visitors"]
    select += [f"COALESCE(k.{c}, 0) AS {c}" for c in counts[:2]]
    select += [f"COALESCE(k.{c}, {_ZERO}) AS {c}" for c in ("gmv", "net_sales")]
    select += [f"COALESCE(k.{c}, 0) AS {c}" for c in counts[2:]]
    select.append("CASE WHEN v.visitors > 0 THEN COALESCE(k.paid_orders, 0) / v.visitors END AS conversion")
    text = f"""WITH {kpis}, v AS (
  SELECT CAST(date AS DATE) AS date, channel, CAST(COALESCE(SUM(visitors), 0) AS DOUBLE) AS visitors
  FROM traffic
  WHERE date IS NOT NULL AND channel IS NOT NULL
  GROUP BY CAST(date AS DATE), channel
)
SELECT {', '.join(select)}
FROM v FULL OUTER JOIN k USING (date, channel)
ORDER BY date, channel"""
    return text, out


def _customer_summary_sql(columns: Mapping[str, Collection[str]]) -> tuple[str, dict[str, str]]:
    _require("customer_summary", columns, "orders")
    oc = columns["orders"]
    if "customer_id" not in oc:
        raise KeyError("orders has no customer_id: a per-customer summary needs buyer identity")
    out = {"customer_id": "str", "first_order_ts": "timestamp", "last_order_ts": "timestamp",
           "paid_orders": "int64", "order_days": "int64", "gmv": "float64", "net_sales": "float64",
           "aov": "float64"}
    has_channel = "channel" in oc
    if has_channel:
        out["first_channel"] = "str"
    # rank the paid orders of each customer only when the first channel is wanted; then two
    # aggregations (per customer and day, per customer) count the order days without a
    # COUNT(DISTINCT), which is the slow part of a one-level query
    rank = (f",\n         ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY order_ts ASC NULLS LAST, {ROW} ASC) AS rank_"
            if has_channel else "")
    first = (",\n         MAX(CASE WHEN rank_ = 1 THEN channel END) AS first_channel" if has_channel else "")
    text = f"""WITH p AS (
  SELECT customer_id, order_ts, CAST(order_ts AS DATE) AS day_, paid_amount,
         {_refund(oc)} AS refund{', channel' if has_channel else ''}{rank}
  FROM orders
  WHERE {_paid(oc)} AND customer_id IS NOT NULL
), d AS (
  SELECT customer_id, day_, MIN(order_ts) AS first_ts, MAX(order_ts) AS last_ts, COUNT(*) AS n,
         SUM(paid_amount) AS gmv, SUM(paid_amount - refund) AS net{first}
  FROM p
  GROUP BY customer_id, day_
), s AS (
  SELECT customer_id, MIN(first_ts) AS first_order_ts, MAX(last_ts) AS last_order_ts,
         CAST(SUM(n) AS BIGINT) AS paid_orders, COUNT(day_) AS order_days,
         COALESCE(SUM(gmv), {_ZERO}) AS gmv, COALESCE(SUM(net), {_ZERO}) AS net_sales{', MAX(first_channel) AS first_channel' if has_channel else ''}
  FROM d
  GROUP BY customer_id
)
SELECT {', '.join(c if c != 'aov' else 'gmv / paid_orders AS aov' for c in out)}
FROM s
ORDER BY customer_id"""
    return text, out


def _sku_daily_sql(columns: Mapping[str, Collection[str]]) -> tuple[str, dict[str, str]]:
    _require("sku_daily", columns, "orders", "order_items")
    oc = columns["orders"]
    out = {"date": "date", "sku": "str"}
    if "inventory" in columns:
        out["on_hand"] = "float64"
    out.update(units="int64", revenue="float64")
    sold = f"""s AS (
  SELECT CAST(o.order_ts AS DATE) AS date, i.sku, CAST(COALESCE(SUM(i.qty), 0) AS BIGINT) AS units,
         COALESCE(SUM(CAST(i.qty AS DOUBLE) * i.unit_price), {_ZERO}) AS revenue
  FROM order_items i JOIN orders o ON i.order_id = o.order_id
  WHERE {_paid(oc, 'o.')} AND o.order_ts IS NOT NULL AND i.sku IS NOT NULL
  GROUP BY CAST(o.order_ts AS DATE), i.sku
)"""
    if "inventory" not in columns:
        return f"WITH {sold}\nSELECT date, sku, units, revenue\nFROM s\nORDER BY date, sku", out
    text = f"""WITH {sold}, st AS (
  SELECT CAST(date AS DATE) AS date, sku, CAST(COALESCE(SUM(on_hand), 0) AS DOUBLE) AS on_hand
  FROM inventory
  WHERE date IS NOT NULL AND sku IS NOT NULL
  GROUP BY CAST(date AS DATE), sku
)
SELECT date, sku, st.on_hand, COALESCE(s.units, 0) AS units, COALESCE(s.revenue, {_ZERO}) AS revenue
FROM st FULL OUTER JOIN s USING (date, sku)
ORDER BY date, sku"""
    return text, out


_BUILDERS = {"daily_kpis": _daily_kpis_sql, "customer_summary": _customer_summary_sql, "sku_daily": _sku_daily_sql}


def definition(name: str, columns: Mapping[str, Collection[str]]) -> tuple[str, dict[str, str]]:
    """The SQL text of derived table ``name`` and its output columns with their kinds
    (``date``, ``timestamp``, ``str``, ``int64``, ``float64``).

    ``columns`` maps each input table that is present to its column names. The text reads the
    tables by their contract names (``orders``, ``order_items``, ``traffic``, ``inventory``) and
    ``orders.{ROW}`` (the row position) when orders carry a channel. Raises ``KeyError`` when a
    needed table or column is absent (e.g. ``customer_summary`` without ``customer_id``).
    """
    if name not in DERIVED:
        raise KeyError(f"unknown derived table {name!r}; known: {', '.join(DERIVED)}")
    return _BUILDERS[name](columns)


def sql(name: str, columns: Mapping[str, Collection[str]]) -> str:
    """The SQL text of derived table ``name`` for the tables and columns present (see :func:`definition`)."""
    return definition(name, columns)[0]


def input_columns(name: str, data) -> dict[str, list[str]]:
    """The input tables of ``name`` present in ``data`` (a mapping of frames, or a Dataset whose
    prepared tables are not read for this), with the columns the definition may read."""
    from .loading import file_columns

    out = {}
    for t in INPUTS[name]:
        if t in data:
            file = data.table_file(t) if hasattr(data, "table_file") else None
            present = file_columns(file) if file is not None else data[t].columns
            out[t] = [c for c in USED_COLUMNS[t] if c in present]
    return out


def finish(table, kinds: Mapping[str, str]) -> pd.DataFrame:
    """A query result (a ``pyarrow.Table``) as the pandas frame the chapters read: dates and
    timestamps as naive ``datetime64[us]``, text as ``str``, counts as ``int64``, amounts as
    ``float64``, in the order of ``kinds``."""
    import pyarrow as pa

    arrays = {}
    for col, kind in kinds.items():
        a = table.column(col)
        if kind in ("date", "timestamp"):
            if pa.types.is_timestamp(a.type) and a.type.tz is not None:
                a = a.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))  # wall time as stored
            a = a.cast(pa.timestamp("us"))
        elif kind == "str":
            a = a.cast(pa.large_string()) if pa.types.is_large_string(a.type) else a.cast(pa.string())
        elif kind == "int64":
            a = a.cast(pa.int64())
        else:
            a = a.cast(pa.float64())
        arrays[col] = a
    frame = pa.table(arrays).to_pandas()
    for col, kind in kinds.items():
        if kind == "str" and frame[col].dtype != "str":
            frame[col] = frame[col].astype("str")
        elif kind in ("int64", "float64") and frame[col].dtype != kind:  # e.g. an empty result
            frame[col] = frame[col].astype(kind)
    return frame


# ---------------------------------------------------------------------------------------------
# The DuckDB engine (the default)
# ---------------------------------------------------------------------------------------------

def compute(name: str, data) -> pd.DataFrame:
    """Derived table ``name`` computed with DuckDB over ``data`` (a Dataset or a mapping of
    contract tables as pandas frames).

    Returns the tidy frame described in this module's docstring; raises ``KeyError`` when its
    inputs are absent (the report runner then skips it).
    """
    import duckdb
    import pyarrow as pa

    if name not in DERIVED:
        raise KeyError(f"unknown derived table {name!r}; known: {', '.join(DERIVED)}")
    columns = input_columns(name, data)
    text, kinds = definition(name, columns)
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        for table, cols in columns.items():
            file = data.table_file(table) if hasattr(data, "table_file") else None
            if file is not None:  # a prepared table not in memory: DuckDB scans its file
                row = f", file_row_number AS {ROW}" if table == "orders" else ""
                path = str(file).replace("'", "''")
                con.execute(f"CREATE VIEW {table} AS SELECT {', '.join(cols)}{row} "
                            f"FROM read_parquet('{path}', file_row_number = true)")
                continue
            frame = data[table]
            arrow = pa.Table.from_pandas(frame[cols], preserve_index=False)
            if table == "orders":
                arrow = arrow.append_column(ROW, pa.array(np.arange(len(frame), dtype=np.int64)))
            con.register(table, arrow)
        result = con.sql(text).to_arrow_table()
    finally:
        con.close()
    return finish(result, kinds)


def _arrow_text(values, *, one_chunk: bool = True):
    """``values`` as Arrow text (one array, or as chunked as they are stored when ``one_chunk`` is
    false), or None when they are not text."""
    import pyarrow as pa

    try:
        arr = pa.array(values.array if isinstance(values, (pd.Series, pd.Index)) else values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    if isinstance(arr, pa.ChunkedArray) and (one_chunk or arr.num_chunks == 0):
        arr = arr.combine_chunks()
    if pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.large_string())
    return arr if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) else None


def positions(values, keys) -> np.ndarray:
    """Position of each of ``values`` among ``keys`` (unique), -1 where absent: what
    ``pd.Index(keys).get_indexer(values)`` gives (and raises on repeated keys), by Arrow's hash
    lookup when both are text: pandas turns a million text ids into Python objects first; and
    without any hash table when the values follow the keys in long runs (order lines stored order
    by order, :func:`aligned_positions`); and by a hash of integers when both are ids of
    one width that pack into 64-bit integers (:func:`_integer_positions`). The chapters use it to join ids as
    integer positions instead of merging text columns."""
    import pyarrow.compute as pc

    found, repeated = _integer_positions(values, keys)
    if found is not None:
        return found
    index = keys if isinstance(keys, pd.Index) else pd.Index(keys)
    v, k = _arrow_text(values, one_chunk=False), _arrow_text(keys)
    if repeated or v is None or k is None or not (ascending_text(k) or index.is_unique):  # sorted keys need no hash check
        return index.get_indexer(values)
    if len(v) <= 16 * len(k):  # lines against their orders, not lines against a few hundred SKUs
        aligned = aligned_positions(values, keys)
        if aligned is not None:
            return aligned
    if v.type != k.type:
        v = v.cast(k.type)
    return pc.fill_null(pc.index_in(v, value_set=k), -1).to_numpy().astype(np.intp)


def unique_positions(values, keys) -> np.ndarray | None:
    """:func:`positions`, or None when ``keys`` repeat a value (a join would then repeat rows and
    the caller falls back to a merge)."""
    found, repeated = _integer_positions(values, keys)
    if found is not None or repeated:
        return found
    index = keys if isinstance(keys, pd.Index) else pd.Index(keys)
    if not (ascending_text(keys) or index.is_unique):  # sorted keys need no hash check
        return None
    return positions(values, index)


def aligned_positions(values: pd.Series, keys: pd.Series, *, max_blocks: int = 256) -> np.ndarray | None:
    """Position of each of ``values`` among ``keys`` when the values come in runs of equal ids that
    follow the keys one by one over long stretches (order lines stored order by order, in the
    orders' order, perhaps in a few blocks written apart): each stretch is found by looking up its
    first id and comparing the following ids with the following keys, without a hash table. None
    when the values do not follow the keys so (more than ``max_blocks`` stretches, a value not
    among the keys), or when either is not text or has gaps: then a hash lookup is needed. The
    keys' uniqueness is the caller's to check."""
    import pyarrow.compute as pc

    if not len(values) or not len(keys):
        return None
    v, k = _arrow_text(values, one_chunk=False), _arrow_text(keys, one_chunk=False)
    if v is None or k is None or v.null_count or k.null_count:
        return None
    if v.type != k.type:
        v = v.cast(k.type)
    change = np.asarray(pc.not_equal(v.slice(1), v.slice(0, len(v) - 1)))
    starts = np.concatenate([[0], np.flatnonzero(change) + 1])
    runs = v.take(starts)  # one id per run
    at = np.empty(len(starts), dtype=np.intp)
    ascending = ascending_text(k)
    i = 0
    for _ in range(max_blocks if ascending else 8):  # one stretch of consecutive keys per pass
        first = runs[i].as_py()
        if ascending:  # binary search of the sorted keys, a few dozen comparisons
            p = bisect.bisect_left(_TextAt(k), first)
            p = p if p < len(k) and k[p].as_py() == first else -1
        else:
            p = pc.index(k, first).as_py()
        if p < 0:
            return None
        n, width = 0, 4096
        while i + n < len(runs) and p + n < len(k):  # compare in growing windows up to the first mismatch
            w = min(width, len(runs) - i - n, len(k) - p - n)
            same = np.asarray(pc.equal(runs.slice(i + n, w), k.slice(p + n, w)))
            if not same.all():
                n += int(np.argmin(same))
                break
            n, width = n + w, width * 2
        at[i:i + n] = np.arange(p, p + n)
        i += n
        if i == len(runs):
            return np.repeat(at, np.diff(np.append(starts, len(v))))
    return None


def fixed_width_bytes(values):
    """The texts of ``values`` as an ``(n, width)`` array of their bytes, with the mask of the
    values present, when every present value has the same width in bytes (ids and hashes usually
    do); None when the widths differ or the values are not Arrow-backed or plain text."""
    import pyarrow as pa

    try:
        arr = pa.array(values.array if isinstance(values, (pd.Series, pd.Index)) else values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    present = None
    if arr.null_count:
        present = np.asarray(arr.is_valid())
        arr = arr.drop_null()
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    width, parts = None, []
    for chunk in chunks:
        n = len(chunk)
        if not n:
            continue
        large = pa.types.is_large_string(chunk.type)
        off = np.frombuffer(chunk.buffers()[1], dtype=np.int64 if large else np.int32, count=n + 1,
                            offset=chunk.offset * (8 if large else 4))
        w = int(off[1] - off[0])
        width = w if width is None else width
        if w != width or w == 0 or (np.diff(off) != w).any():
            return None
        parts.append(np.frombuffer(chunk.buffers()[2], dtype=np.uint8, count=n * w, offset=int(off[0])).reshape(n, w))
    if width is None:
        return None
    return (np.concatenate(parts) if len(parts) > 1 else parts[0]), present



def text_codes(values, *, sort: bool = False, uniques: bool = True) -> tuple[np.ndarray, pd.Index | None]:
    """``pd.factorize(values, sort=sort)``: an integer code per value (-1 for a missing one) and
    the distinct values (None when not ``uniques``), with the same codes and values. Text of one
    width (ids, hashes) is encoded by Arrow on its bytes, as 64-bit integers when they pack into
    them (:func:`id_integers`): two to four times faster than pandas hashing Arrow text, on
    millions of orders."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fixed = fixed_width_bytes(values)
    packing = None if fixed is None else id_packing(fixed[0])
    if fixed is None or (sort and packing is None):
        return pd.factorize(values, sort=sort)
    raw, present = fixed
    n, w = raw.shape
    if packing is not None:  # integers that order as the texts do
        keys = pa.array(pack_ids(raw, packing))
    else:
        keys = pa.Array.from_buffers(pa.binary(w), n, [None, pa.py_buffer(np.ascontiguousarray(raw))])
    enc = pc.dictionary_encode(keys)
    del keys
    codes = np.asarray(enc.indices).astype(np.intp)
    found = enc.dictionary
    if sort:  # integer keys: rank the distinct ones
        distinct = np.asarray(found)
        order = np.argsort(distinct, kind="stable")
        rank = np.empty(len(order), dtype=np.intp)
        rank[order] = np.arange(len(order))
        codes = rank[codes]
        found = pa.array(distinct[order])
    if present is not None:
        full = np.full(len(present), -1, dtype=np.intp)
        full[present] = codes
        codes = full
    if not uniques:
        return codes, None
    if packing is not None:
        data = unpack_ids(np.asarray(found), packing, w)
    else:
        data = np.frombuffer(found.buffers()[1], dtype=np.uint8, count=len(found) * w,
                             offset=found.offset * w).reshape(-1, w)
    k = len(found)
    text = pa.Array.from_buffers(pa.large_string(), k, [None, pa.py_buffer(np.arange(k + 1, dtype=np.int64) * w),
                                                        pa.py_buffer(np.ascontiguousarray(data))])
    dtype = values.dtype if isinstance(values, (pd.Series, pd.Index)) and values.dtype == "str" else None
    if dtype is not None:
        return codes, pd.Index(pd.array(text, dtype=dtype))
    return codes, pd.Index(text.to_pylist(), dtype=object)



def _u64(raw: np.ndarray) -> np.ndarray:
    """Texts of one width up to 8 bytes (an ``(n, width)`` byte array) as big-endian integers."""
    wide = np.zeros((len(raw), 8), dtype=np.uint8)
    wide[:, :raw.shape[1]] = raw
    return wide.view(">u8").ravel().astype(np.uint64)


#: rows encoded at a time by :func:`id_integers` (a block stays in the processor's cache)
_ID_BLOCK = 1 << 20


def id_integers(*raws: np.ndarray) -> list[np.ndarray] | None:
    """Texts of one width (``(n, width)`` byte arrays from :func:`fixed_width_bytes`, all of one
    width) as 64-bit integers that compare and sort as the texts do, one text one integer across
    all the arrays, so that ids are joined by a hash of integers instead of texts (see
    :func:`id_packing`). None when they do not fit in 64 bits."""
    packing = id_packing(*raws)
    return None if packing is None else [pack_ids(r, packing) for r in raws]


def id_packing(*raws: np.ndarray):
    """How :func:`pack_ids` turns texts of one width into 64-bit integers, or None when they do not fit.

    Up to 8 bytes, ``"bytes"``: the bytes as one big-endian integer (:func:`_u64`). Longer, the
    lowest byte seen at each position and the number of byte values from it to the highest: each
    position is a digit of one mixed-radix number, so a platform's 19-digit order numbers, or ids
    of a letter or two before up to seventeen digits, fit (hex hashes and UUIDs do not)."""
    width = raws[0].shape[1]
    if any(r.shape[1] != width for r in raws):
        raise ValueError("id_packing: the texts are not all of one width")
    if width <= 8:
        return "bytes"
    lo = np.full(width, 255, dtype=np.uint8)
    hi = np.zeros(width, dtype=np.uint8)
    for r in raws:
        for s in range(0, len(r), _ID_BLOCK):  # by blocks, transposed: positions as contiguous rows
            block = np.ascontiguousarray(r[s:s + _ID_BLOCK].T)
            lo, hi = np.minimum(lo, block.min(axis=1)), np.maximum(hi, block.max(axis=1))
    radix = [int(h) - int(low) + 1 if h >= low else 1 for low, h in zip(lo, hi)]
    return (lo, radix) if math.prod(radix) <= 2 ** 64 else None  # the largest number is prod - 1


def pack_ids(raw: np.ndarray, packing) -> np.ndarray:
    """Texts of one width (an ``(n, width)`` byte array) as the integers of ``packing`` (:func:`id_packing`)."""
    if packing == "bytes":
        return _u64(raw)
    lo, radix = packing
    ints = np.empty(len(raw), dtype=np.uint64)
    for s in range(0, len(raw), _ID_BLOCK):
        block = np.ascontiguousarray(raw[s:s + _ID_BLOCK].T)
        acc = np.zeros(block.shape[1], dtype=np.uint64)
        for j in (j for j, x in enumerate(radix) if x > 1):
            acc *= np.uint64(radix[j])
            acc += block[j] - lo[j]
        ints[s:s + _ID_BLOCK] = acc
    return ints


def unpack_ids(ints: np.ndarray, packing, width: int) -> np.ndarray:
    """The ``(n, width)`` bytes of the texts that :func:`pack_ids` turned into ``ints``."""
    ints = np.asarray(ints, dtype=np.uint64)
    if packing == "bytes":
        return ints.astype(">u8").view(np.uint8).reshape(-1, 8)[:, :width]
    lo, radix = packing
    out = np.empty((width, len(ints)), dtype=np.uint8)
    rest = ints.copy()
    for j in range(width - 1, -1, -1):
        out[j] = (rest % np.uint64(radix[j])).astype(np.uint8) + lo[j]
        rest //= np.uint64(radix[j])
    return np.ascontiguousarray(out.T)


def compact_codes(codes: np.ndarray, n: int) -> np.ndarray:
    """``codes`` (-1 .. n-1) in the smallest signed integer type that holds them: the codes of a
    few experiments over ten million units take a tenth of the memory of ``intp``."""
    for t in (np.int8, np.int16, np.int32):
        if n <= np.iinfo(t).max:
            return codes.astype(t, copy=False)
    return codes.astype(np.intp, copy=False)



def column_codes(data, name: str, column: str) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(data[name][column], sort=True)`` once per loaded dataset: integer codes (-1
    for a missing value, in the smallest integer type, see :func:`compact_codes`) and the sorted distinct
    values. A prepared table's column is read from its Parquet file as a dictionary (codes without a text value per row: the file stores it so), so
    a column of a few experiment or variant names over millions of units costs no text."""
    def build(data):
        file = data.table_file(name) if hasattr(data, "table_file") else None
        if file is None:
            codes, uniques = pd.factorize(data[name][column], sort=True)
            return compact_codes(codes, len(uniques)), uniques
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        col = pq.read_table(file, columns=[column], read_dictionary=[column]).unify_dictionaries().column(0)
        if col.num_chunks == 0:
            return np.empty(0, dtype=np.intp), pd.Index(pd.array([], dtype="str"))
        values = col.chunk(0).dictionary.to_pylist()
        idx = pc.fill_null(pa.chunked_array([c.indices for c in col.chunks]).cast(pa.int64()), -1)
        raw = idx.to_numpy().astype(np.intp, copy=False)
        used = np.bincount(raw[raw >= 0], minlength=len(values)) > 0  # a dictionary may list unused values
        keep = sorted((v, i) for i, v in enumerate(values) if used[i])
        rank = np.full(len(values) + 1, -1, dtype=np.intp)  # the last slot: a missing value (-1)
        rank[[i for _, i in keep]] = np.arange(len(keep))
        return compact_codes(rank[raw], len(keep)), pd.Index(pd.array([v for v, _ in keep], dtype="str"))
    return per_dataset(data, f"derived.codes.{name}.{column}", build, tables=(name,))




def _integer_positions(values, keys) -> tuple[np.ndarray | None, bool]:
    """:func:`positions` by a hash lookup of integers, when ``keys`` (without gaps) and ``values``
    are texts of one width that :func:`id_integers` packs into 64-bit integers (order and customer
    ids usually are): each id as one integer, no hash of millions of texts (and three times faster than a binary
    search, whose random reads miss the cache). Returns (positions, False); (None, True) when the
    keys repeat a value; (None, False) when the shortcut does not apply."""
    k, v = fixed_width_bytes(keys), fixed_width_bytes(values)
    if k is None or v is None or k[1] is not None or v[0].shape[1] != k[0].shape[1]:
        return None, False
    ints = id_integers(k[0], v[0])
    if ints is None:
        return None, False
    index = pd.Index(ints[0])
    if not index.is_unique:
        return None, True
    out = index.get_indexer(ints[1]).astype(np.intp)
    del ints
    if v[1] is not None:  # missing values: -1
        full = np.full(len(v[1]), -1, dtype=np.intp)
        full[v[1]] = out
        out = full
    return out, False


def unique_ids(values) -> bool:
    """``pd.Index(values).is_unique``, without a hash table of the texts when they are ids of one
    width that pack into integers (:func:`id_integers`) or strictly increase: pandas would first
    turn seventy million ids into Python strings."""
    fixed = fixed_width_bytes(values)
    if fixed is not None and fixed[1] is None:
        ints = id_integers(fixed[0])
        if ints is not None:
            return bool(pd.Index(ints[0]).is_unique)
    return ascending_text(values) or bool(pd.Index(values).is_unique)


def ascending_text(keys) -> bool:
    """True when text ``keys`` (a Series or Arrow text) strictly increase, so are unique: checked
    by comparing neighbours, without hashing."""
    import pyarrow.compute as pc

    k = keys if not isinstance(keys, (pd.Series, pd.Index)) else _arrow_text(keys, one_chunk=False)
    if k is None or k.null_count:
        return False
    return len(k) < 2 or bool(pc.all(pc.less(k.slice(0, len(k) - 1), k.slice(1))).as_py())


class _TextAt(Sequence):
    """The Python strings of an Arrow text array, read one at a time (for :mod:`bisect`)."""

    def __init__(self, array):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, i):
        return self.array[i].as_py()


_CACHE: dict = {}  # (id(dataset), name) -> (weak reference, ids of its tables, value)


def _cache_key(data, tables) -> tuple:
    """What a cached value depends on: each table's identity; a prepared table's file (so that the
    key reads no table, and stays the same once the table is read)."""
    files = getattr(data, "files", {})
    return tuple(None if t not in data else (str(files[t]) if t in files else id(data[t])) for t in tables)


def per_dataset(data, name: str, build, *, tables=("orders", "order_items", "products", "customers")):
    """``build(data)``, computed once per loaded dataset and reused by every section that needs it
    (order lines, a customer history, per-order margins); recomputed when one of ``tables`` was
    replaced. Held through a weak reference, so it goes with the dataset; plain dicts of tables are
    not cached. ``name`` should carry the module's name (``"acquisition.margins"``)."""
    key = _cache_key(data, tables)
    hit = _CACHE.get((id(data), name))
    if hit is not None and hit[0]() is data and hit[1] == key:
        return hit[2]
    value = build(data)
    try:
        ref = weakref.ref(data)
    except TypeError:
        return value
    for k in [k for k, v in _CACHE.items() if v[0]() is None]:  # forget datasets that are gone
        del _CACHE[k]
    _CACHE[(id(data), name)] = (ref, key, value)
    return value


def per_dataset_peek(data, name: str, *, tables=("orders", "order_items", "products", "customers")):
    """The value :func:`per_dataset` holds for ``name`` (None when there is none), without building it."""
    hit = _CACHE.get((id(data), name))
    if hit is None or hit[0]() is not data:
        return None
    return hit[2] if hit[1] == _cache_key(data, tables) else None


def daily_kpis(data) -> pd.DataFrame:
    """Per ``date`` and ``channel``: visitors (when traffic is present), orders, paid_orders,
    gmv, net_sales, buyers (distinct customers with a paid order that day, when orders carry
    customer_id) and conversion (paid orders / visitors; NaN without visitors).

    Orders without a channel count under ``"unknown"`` (every order under ``"all"`` when the
    source has no channel column). Days with traffic but no order appear with zero orders, so a
    conversion outage shows as a low rate rather than a missing row; days with orders but no
    traffic have NaN visitors. Sorted by date and channel.
    """
    return compute("daily_kpis", data)


def customer_summary(data) -> pd.DataFrame:
    """Per ``customer_id`` with a paid order in the loaded window, sorted by customer_id:
    first_order_ts, last_order_ts, paid_orders, order_days (distinct days with a paid order), gmv,
    net_sales, aov and first_channel (channel of the first paid order, the earlier row on a tie,
    when orders carry a channel)."""
    return compute("customer_summary", data)


def sku_daily(data) -> pd.DataFrame:
    """Per ``date`` and ``sku``: units and revenue (qty x unit_price) of paid order lines by
    order date, and the end-of-day ``on_hand`` summed over warehouses when an inventory snapshot
    exists for that day (NaN otherwise; days with stock and no sale have zero units). Sorted by
    date and sku.

    Needs order_items; inventory is optional.
    """
    return compute("sku_daily", data)
