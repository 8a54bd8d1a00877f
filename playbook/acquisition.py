"""Chapter 04: users, channels, retention and customer lifetime value (用户获取与增长, 000 §3).

The chapter's questions, each answered by one function (data first, options keyword-only):

- **Channel matrix** (渠道矩阵, 000 §3.1): :func:`channel_matrix`, :func:`monthly_channel_roi`,
  :func:`cut_list` (001 part 4: channels whose ROI stays under 1 are cut), :func:`ltv_curve`
  (payback month), all gathered by :func:`channel_report`.
- **New customers** (新客, 001 part 1): :func:`first_order_conversion`, :func:`second_order_rates`,
  gathered by :func:`new_customer_report`.
- **Cohorts and repurchase** (复购率, 复购周期; 001 part 1): :func:`cohort_matrix`,
  :func:`repurchase_trend`, gathered by :func:`cohort_report`.
- **Lifecycle stages** (用户生命周期, 000 §3.5): :func:`lifecycle_stages`, :func:`stage_mix`,
  :func:`stage_flow`, :func:`reactivation_rates`, :func:`wakeup_list`, :func:`churn_risk_list`,
  :func:`stage_vs_p_alive`, gathered by :func:`lifecycle_report`.
- **Lifetime value** (LTV): the BG/NBD repeat-buying model (Fader, Hardie & Lee 2005, "Counting
  your customers the easy way") and the Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and
  CLV"), fitted by maximum likelihood: :func:`customer_summary`, :func:`fit_bg_nbd`,
  :func:`fit_gamma_gamma`, :func:`customer_value`, :func:`holdout_check`, :func:`value_tiers`,
  :func:`member_comparison`, :func:`private_domain_share`.

Everything is a group-by or an array operation: no Python loop over orders or customers (loops run
over months, channels or stages only), so a shop a hundred times the sample stays fast. A section
whose table is missing returns a result carrying a ``note`` instead of raising, so the chapter also
runs on an orders-only source.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.colors import LogNorm
from scipy import optimize, special

from . import charts, i18n
from .exercises import exercise
from .derived import per_dataset, per_dataset_peek, positions as _positions
from .loading import read_columns, release_free_memory
from .metrics import paid_mask
from .threads import single_thread_blas

DAY = np.int64(86_400_000_000_000)  # nanoseconds in a day
#: length of the time units accepted by :func:`customer_summary`, in days
UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}
STAGES = ("potential", "new", "active", "dormant", "churned")
#: English stage names with the handbook's Chinese terms
STAGE_LABELS = {"potential": "potential 潜在", "new": "new 新客", "active": "active 活跃",
                "dormant": "dormant 沉睡", "churned": "churned 流失", "unregistered": "not yet registered"}
STAGE_COLORS = {"potential": "#BAB0AC", "new": "#4E79A7", "active": "#59A14F", "dormant": "#EDC948",
                "churned": "#E15759"}

#: the columns this chapter reads from each table: a prepared table is read with these only, for
#: the one calculation that needs them, and not kept in the dataset (``read_columns(keep=False)``):
#: what lasts is the cached result, as integer codes and arrays of the paid orders. The orders'
#: addresses, cities, coupons and hashes, the customers' personal columns and the products' titles
#: are never looked at here.
COLUMNS = {
    "orders": ("order_ts", "paid_amount", "shipping_fee", "order_id", "status", "customer_id", "channel"),
    "order_items": ("order_id", "sku", "qty", "unit_price"),
    "products": ("sku", "unit_cost"),
    "customers": ("customer_id", "signup_ts", "acquisition_channel", "member_tier"),
}


def _table(data, name: str, columns=None) -> pd.DataFrame:
    """``columns`` (by default all the :data:`COLUMNS`) of table ``name`` for one use: a prepared
    table not read yet is read with those of them its file has, and not kept in the dataset
    (:func:`playbook.loading.read_columns` with ``keep=False``); a table in memory (or a plain
    mapping of frames) gives its frame as it is."""
    return read_columns(data, name, COLUMNS[name] if columns is None else columns, keep=False)


def _has(data, name: str, column: str) -> bool:
    """Whether table ``name`` is in ``data`` and has ``column`` (a prepared file's schema, nothing read)."""
    from .loading import has_column

    return name in data and has_column(data, name, column)


def _orders(data, columns) -> pd.DataFrame:
    """The orders with those of ``columns`` they have, in that order, read for the caller alone
    (see :func:`_table`)."""
    cols = list(dict.fromkeys(columns))
    orders = _table(data, "orders", cols)
    return orders[[c for c in cols if c in orders.columns]]


def _summary_columns(data, columns: list[str]) -> pd.DataFrame | None:
    """Those of ``columns`` that the dataset's shared ``customer_summary`` (:mod:`playbook.derived`)
    has, in that order; for a prepared folder whose summary is not read yet, only them, read for
    this use and not kept (:func:`playbook.loading.read_derived_columns`). None for a plain mapping
    of tables."""
    if not hasattr(data, "derived"):
        return None
    from .loading import read_derived_columns

    try:
        return read_derived_columns(data, "customer_summary", columns)
    except KeyError:  # a column it lacks (no channel: no first_channel): the summary, read whole
        summary = data.derived("customer_summary")
        return summary[[c for c in columns if c in summary.columns]]


def _orders_columns(data) -> list[str]:
    """The columns of :data:`COLUMNS` the orders have (a prepared table's from its schema, nothing read)."""
    return [c for c in COLUMNS["orders"] if _has(data, "orders", c)]


# =============================================================================================
# Small helpers
# =============================================================================================

@dataclass
class Skipped:
    """A section that could not run on this source: displays as its note and is falsy."""

    section: str
    note: str

    def __bool__(self) -> bool:
        return False

    def _repr_markdown_(self) -> str:
        return f"*{self.section}: {self.note}*"


@dataclass
class _Html:
    text: str

    def _repr_html_(self) -> str:
        return self.text



def _settings(data, section: str) -> dict:
    try:
        return dict(data.settings[section])
    except (AttributeError, KeyError):
        from .settings import load_settings
        return dict(load_settings()[section])


def _require(frame: pd.DataFrame, table: str, *columns: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{table} has no column{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
                       f"this calculation needs {table}.{', {table}.'.join(columns)}")


def _note(data, *tables: str, columns: dict | None = None) -> str | None:
    try:
        return data.missing_note(*tables, columns=columns)
    except AttributeError:  # a plain dict of tables
        absent = [t for t in tables if t not in data]
        lacking = [f"{t}.{c}" for t, cols in (columns or {}).items() if t in data for c in cols
                   if c not in data[t].columns or data[t][c].isna().all()]
        if not absent and not lacking:
            return None
        return "Skipped: this section needs " + ", ".join(absent + lacking) + ", which the source does not provide."


def _report_month(data) -> pd.Period:
    """The report month, or the last month with orders when the data were loaded without one."""
    month = getattr(data, "month", None)
    if month:
        return pd.Period(month, "M")
    return _orders(data, ["order_ts"])["order_ts"].max().to_period("M")


def _as_of(data) -> pd.Timestamp:
    """End of the observation (exclusive): the day after the report month."""
    return (_report_month(data) + 1).start_time


def _first_data_month(data) -> pd.Period:
    """The month of the first order (paid or not) in the data."""
    return _first_order_ts(data).to_period("M")


#: month code of a missing time in :func:`_month_ints`
NO_MONTH = np.iinfo(np.int64).min
_EPOCH_MONTH = 1970 * 12


def _month_ints(values) -> np.ndarray:
    """Calendar month of each timestamp as an integer, ``year * 12 + month - 1`` (int64; a missing
    time gives :data:`NO_MONTH`): what :func:`playbook.metrics.month_codes` numbers, on arrays.
    Times of a few years are numbered by their day: each distinct day's month is looked up in a
    table of the days spanned (no calendar arithmetic per row)."""
    a = np.asarray(values)
    per_day = _UNIT_PER_DAY.get(np.datetime_data(a.dtype)[0]) if a.dtype.kind == "M" else None
    if per_day is not None and a.size:
        i = a.view("int64")
        nat = i == NO_MONTH  # NaT is the smallest int64
        day = i if per_day == 1 else np.floor_divide(i, per_day)
        has_nat = bool(nat.any())
        valid = day[~nat] if has_nat else day
        if len(valid):
            lo, hi = int(valid.min()), int(valid.max())
            if hi - lo <= 200_000 and -100_000 < lo and hi < 100_000:  # within 1700-2240: a day table
                table = (np.arange(lo, hi + 1, dtype="int64").astype("datetime64[D]").astype("datetime64[M]")
                         .astype("int64") + _EPOCH_MONTH)
                idx = day - lo if day is i else np.subtract(day, lo, out=day)  # in place: no third array
                if has_nat:
                    idx[nat] = 0
                out = table.take(idx)
                if has_nat:
                    out[nat] = NO_MONTH
                return out
    m = np.asarray(values, dtype="datetime64[ns]").astype("datetime64[M]").astype("int64")
    nat = m == NO_MONTH  # NaT is the smallest int64
    out = m + _EPOCH_MONTH
    if nat.any():
        out[nat] = NO_MONTH
    return out


#: ticks of a datetime64 unit in a day
_UNIT_PER_DAY = {"ns": 86_400_000_000_000, "us": 86_400_000_000, "ms": 86_400_000, "s": 86_400, "D": 1}


def _ns(values) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch (NaT: the smallest int64), what
    ``astype("datetime64[ns]").astype("int64")`` gives, without the checked conversion of every
    row when the times are stored in microseconds (the Parquet default)."""
    a = np.asarray(values)
    if a.dtype == "datetime64[ns]":
        return a.view("int64")
    unit = np.datetime_data(a.dtype)[0] if a.dtype.kind == "M" else None
    if unit in ("us", "ms", "s") and a.size:
        i = a.view("int64")
        nat = i == NO_MONTH
        has_nat = bool(nat.any())
        valid = i[~nat] if has_nat else i
        factor = _UNIT_PER_DAY["ns"] // _UNIT_PER_DAY[unit]
        bound = np.iinfo(np.int64).max // factor
        if not len(valid) or (-bound < int(valid.min()) and int(valid.max()) < bound):
            out = i * factor
            if has_nat:
                out[nat] = NO_MONTH
            return out
    return a.astype("datetime64[ns]").astype("int64")


def _month_text(codes) -> np.ndarray:
    """``YYYY-MM`` labels (None for :data:`NO_MONTH`) of month codes, formatting each distinct
    month once and picking the labels by position (no sort of the rows)."""
    codes = np.asarray(codes, dtype="int64")
    valid = codes != NO_MONTH
    if not valid.any():
        return np.full(len(codes), None, dtype=object)
    v = codes if valid.all() else codes[valid]
    lo, hi = int(v.min()), int(v.max())
    if hi - lo > 100_000:  # a few wild dates across millennia: number the distinct months instead
        uniq, inv = np.unique(v, return_inverse=True)
        out = np.full(len(codes), None, dtype=object)
        out[valid] = np.array([str(np.datetime64(int(u) - _EPOCH_MONTH, "M")) for u in uniq], dtype=object)[inv.reshape(-1)]
        return out
    present = np.zeros(hi - lo + 1, dtype=bool)
    present[v - lo] = True
    table = np.full(hi - lo + 2, None, dtype=object)  # the last cell: a missing month
    for k in np.flatnonzero(present):
        table[k] = str(np.datetime64(int(k) + lo - _EPOCH_MONTH, "M"))
    idx = codes - lo
    if not valid.all():
        idx[~valid] = hi - lo + 1
    return table[idx]


def _text_array(names, idx: np.ndarray):
    """``names[idx]`` as a text (``str``) array, missing where ``idx`` is -1: taken in Arrow from
    the few distinct names (no Python string per row, as a column of Python strings would need)."""
    import pyarrow as pa

    labels = pa.array([None if v is None else str(v) for v in names], type=pa.large_string())
    idx = np.asarray(idx, dtype=np.int64)
    taken = labels.take(pa.array(idx, mask=idx < 0) if (idx < 0).any() else pa.array(idx))
    return taken.to_pandas(types_mapper={pa.large_string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get).array


def _month_column(codes: np.ndarray):
    """:func:`_month_text` of month codes as a text (``str``) array (see :func:`_text_array`)."""
    codes = np.asarray(codes, dtype="int64")
    valid = codes != NO_MONTH
    v = codes if valid.all() else codes[valid]
    if not len(v) or int(v.max()) - int(v.min()) > 100_000:
        return pd.array(_month_text(codes), dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    lo, hi = int(v.min()), int(v.max())
    idx = codes - lo
    if not valid.all():
        idx[~valid] = -1
    return _text_array(_month_text(np.arange(lo, hi + 1)), idx)


def _month_str(values) -> np.ndarray:
    """``YYYY-MM`` labels of timestamps (None for a missing one; each distinct month formatted once)."""
    return _month_text(_month_ints(values))


def _month_code(month) -> int:
    """The month code (:func:`_month_ints`) of a ``YYYY-MM`` text or a Period."""
    p = pd.Period(month, "M")
    return p.year * 12 + p.month - 1


def _customer_codes(ids: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of customer ids (group-bys on integers are far faster than on strings)."""
    codes, uniques = pd.factorize(ids)
    return codes.astype("int64"), pd.Index(uniques)


_STR = pd.Series([], dtype="str").dtype


def _values(column: pd.Series):
    """A column's values for a new frame: a text column (the default ``str``) as it is, anything
    else as a NumPy array (a new frame infers the same type either way; text skips the slow round
    trip through Python objects)."""
    return column.reset_index(drop=True) if column.dtype == _STR else column.to_numpy()


def _same_ids(ids, keys) -> np.ndarray | None:
    """``arange(len(ids))`` when ``ids`` and ``keys`` hold the same text ids in the same order (a
    customer table looked up in its own order: one vectorised comparison instead of a hash join),
    else None."""
    import pyarrow.compute as pc

    from .derived import _arrow_text

    if len(ids) != len(keys) or not len(ids):
        return None
    a, b = _arrow_text(ids), _arrow_text(keys)
    if a is None or b is None or a.null_count or b.null_count:
        return None
    if a.type != b.type:
        a = a.cast(b.type)
    return np.arange(len(ids), dtype=np.intp) if pc.all(pc.equal(a, b)).as_py() else None


def _mapper(ids: pd.Series, table: pd.DataFrame):
    """A function ``col -> ids.map(table[col])`` for a ``table`` indexed by unique ids, that looks
    the ids up once (by :func:`_positions`) for all the columns it is asked for."""
    pos = _same_ids(ids, table.index)
    if pos is None:
        pos = _positions(ids, table.index)
    found = pos >= 0

    def lookup(col: str) -> pd.Series:
        out = table[col].take(np.where(found, pos, 0)).set_axis(ids.index).rename(ids.name)
        return out if found.all() else out.where(found)

    if not len(table):
        return lambda col: ids.map(table[col])
    return lookup


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})


def _paid_orders(data, columns: list[str] | None = None) -> pd.DataFrame:
    """Paid orders with a customer id; only ``columns`` of them when given (filtering every text
    column of a large orders table costs more than the calculation that follows)."""
    _require(pd.DataFrame(columns=_orders_columns(data)), "orders", "customer_id", "order_ts", "paid_amount")
    keep = _cached(data, "paid_rows", _paid_rows)
    orders = _orders(data, _orders_columns(data) if columns is None else columns)
    return orders.loc[keep]


def _paid_rows(data) -> np.ndarray:
    """True for the orders that are paid and carry a customer id (see :func:`_paid_orders`); for a
    dataset, from the read of the customer ids that :class:`_Keys` hashes (read once)."""
    if hasattr(data, "derived"):
        return _keys(data).paid_rows
    return _is_paid(data) & _orders(data, ["customer_id"])["customer_id"].notna().to_numpy()


def _is_paid(data) -> np.ndarray:
    """True for the orders that are paid (:func:`playbook.metrics.paid_mask`), once per dataset."""
    return _cached(data, "is_paid", lambda d: paid_mask(
        _orders(d, [c for c in ("status",) if c in _orders_columns(d)])).to_numpy(dtype=bool))


def _paid_column(data, column: str) -> np.ndarray:
    """``_paid_orders(data)[column]`` as an array, once per dataset: the amounts of the paid orders
    are read by most sections (their times: :func:`_paid_ts`)."""
    return _cached(data, f"paid.{column}", lambda d: _paid_orders(d, [column])[column].to_numpy())


def _paid_ns(data) -> np.ndarray:
    """The order times of :func:`_paid_orders` as int64 nanoseconds (:func:`_ns`), once per dataset."""
    return _cached(data, "paid.ns", lambda d: _ns(_paid_orders(d, ["order_ts"])["order_ts"].to_numpy()))


def _paid_ts(data) -> np.ndarray:
    """The order times of :func:`_paid_orders` as ``datetime64[ns]``: a view of :func:`_paid_ns`
    (the same instants as the stored times, NaT where missing; no second array of times kept)."""
    return _paid_ns(data).view("datetime64[ns]")


def _paid_months(data) -> np.ndarray:
    """The month codes (:func:`_month_ints`) of the order times of :func:`_paid_orders`, once per
    dataset: int32 when no time is missing (kept cached), else int64 with :data:`NO_MONTH`."""
    def build(d) -> np.ndarray:
        mi = _month_ints(_paid_ts(d))
        return mi.astype(np.int32) if len(mi) and mi.min() > np.iinfo(np.int32).min else mi

    return _cached(data, "paid.months", build)


def _days(ts: np.ndarray) -> np.ndarray:
    """Days since 1970 of ``datetime64`` times (``astype("datetime64[D]")`` as int64; NaT: the
    smallest int64)."""
    return ts.astype("datetime64[D]").view("int64")


def _first_order_ts(data) -> pd.Timestamp:
    """The time of the first order (paid or not) in the data, once per dataset."""
    return _cached(data, "first_order_ts", lambda d: _orders(d, ["order_ts"])["order_ts"].min())


def _paid_codes(data) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of the customer ids of :func:`_paid_orders` and the ids they stand for (every
    customer of :class:`_Keys`), once per dataset."""
    keys = _keys(data)
    return keys.paid, keys.ids


def _text_ids(values: pd.Series):
    """Customer ids as one Arrow text array (None when they cannot be)."""
    import pyarrow as pa

    try:
        arr = pa.array(values.astype("str").array)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # pragma: no cover
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or pa.types.is_string_view(arr.type)):
        return None  # pragma: no cover
    return arr.cast(pa.large_string())


class _Keys:
    """The customer ids of a dataset as integer codes, from one hash pass over the text ids.

    ``ids`` holds every customer: the ids of the ``customers`` table first, in its order, then the
    ids that only appear on paid orders, in order of appearance (what
    ``pd.Index(concat([customers ids, paid ids])).unique()`` gives). ``paid`` is the code of each
    row of :func:`_paid_orders`, ``registered`` the code of each ``customers`` row (None without the
    table). :meth:`rank` gives each code's place among the ids sorted as text, for results sorted
    by customer id. Every section joins and groups customers on these codes instead of text. The
    codes are int32 (Arrow's dictionary indices; kept for the dataset's life): arithmetic on them
    widens them to int64 first."""

    def __init__(self, data):
        import pyarrow as pa
        import pyarrow.compute as pc

        from .derived import _arrow_text

        _require(pd.DataFrame(columns=_orders_columns(data)), "orders", "customer_id", "order_ts", "paid_amount")
        orders = _orders(data, ["customer_id"])
        keep = self.paid_rows = _is_paid(data) & orders["customer_id"].notna().to_numpy()  # see _paid_rows
        self.has_customers = _has(data, "customers", "customer_id")
        reg = _table(data, "customers", ["customer_id"])["customer_id"] if self.has_customers else None
        n_reg = len(reg) if self.has_customers else 0
        # the ids as Arrow text, as stored (no copy into one array): the paid orders' filtered in Arrow
        arrays = [_arrow_text(p, one_chunk=False) for p in ([reg] if self.has_customers else []) + [orders["customer_id"]]]
        arrays = [a if a is not None else _text_ids(p)  # ids that are not text: as text
                  for a, p in zip(arrays, ([reg] if self.has_customers else []) + [orders["customer_id"]])]
        packed = self._packed(([reg] if self.has_customers else []) + [orders["customer_id"]], keep)
        self._ints = None
        if packed is not None:  # ids of one width as 64-bit integers: one hash pass over integers
            from .derived import unpack_ids

            ints, packing, width = packed
            enc = pc.dictionary_encode(pa.array(ints))
            del ints
            codes = enc.indices.to_numpy(zero_copy_only=False)  # int32: kept for the dataset's life
            found = np.asarray(enc.dictionary)
            del enc
            k = len(found)
            raw = np.ascontiguousarray(unpack_ids(found, packing, width))
            dictionary = pa.Array.from_buffers(pa.large_string(), k, [None, pa.py_buffer(np.arange(k + 1, dtype=np.int64) * width),
                                                                      pa.py_buffer(raw)])
            self.ids = pd.Index(dictionary.to_pandas())
            self._text = dictionary
            self._ints = found  # they sort as the ids do: :meth:`rank` sorts them instead of texts
        elif all(a is not None for a in arrays):
            chunks = []
            for i, a in enumerate(arrays):
                a = a.cast(pa.large_string()) if a.type != pa.large_string() else a
                if i == len(arrays) - 1:
                    a = a.filter(pa.array(keep))
                chunks += a.chunks if isinstance(a, pa.ChunkedArray) else [a]
            # one hash pass over every chunk: a dictionary shared by all of them
            enc = pc.dictionary_encode(pa.chunked_array(chunks, type=pa.large_string()), null_encoding="encode")
            # the dictionary's int32 indices as they are: kept for the dataset's life
            codes = (np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in enc.chunks])
                     if enc.num_chunks else np.empty(0, dtype=np.int32))
            dictionary = enc.chunk(0).dictionary if enc.num_chunks else pa.array([], type=pa.large_string())
            self.ids = pd.Index(dictionary.to_pandas())
            self._text = dictionary
        else:  # pragma: no cover - ids that Arrow cannot hold as text
            parts = ([reg] if self.has_customers else []) + [orders["customer_id"][keep]]
            codes, uniques = pd.factorize(pd.concat([p.astype("str") for p in parts], ignore_index=True),
                                          use_na_sentinel=False)
            codes = codes.astype(np.int32 if len(uniques) < np.iinfo(np.int32).max else np.int64)
            self.ids = pd.Index(uniques)
            self._text = None
        self.registered = codes[:n_reg] if self.has_customers else None
        self.paid = codes[n_reg:]
        self.n = len(self.ids)
        self._rank = None

    @staticmethod
    def _packed(parts: list, keep: np.ndarray):
        """The ids of ``parts`` (the customers' ids, then the orders' ids, of which the rows ``keep``)
        as order-preserving 64-bit integers (:func:`playbook.derived.id_integers`), one array in
        that order, with the packing and the width; None when they are not all present texts of one
        width that pack so (the texts are then hashed)."""
        from .derived import fixed_width_bytes, id_packing, pack_ids

        raws = []
        for i, p in enumerate(parts):
            fixed = fixed_width_bytes(p)
            last = i == len(parts) - 1
            if fixed is None or (fixed[1] is not None and not last):
                return None
            raw, present = fixed
            if last:  # the paid orders with a customer id: the missing ids are not among them
                raw = raw[keep if present is None else keep[present]]
            raws.append(raw)
        if not raws or any(r.shape[1] != raws[0].shape[1] for r in raws):
            return None
        packing = id_packing(*raws)
        if packing is None:
            return None
        ints = np.empty(sum(len(r) for r in raws), dtype=np.uint64)
        at = 0
        for r in raws:
            ints[at:at + len(r)] = pack_ids(r, packing)
            at += len(r)
        return ints, packing, raws[0].shape[1]

    def rank(self) -> np.ndarray:
        """Each code's position among the ids sorted as text (what ``pd.factorize(sort=True)`` numbers)."""
        if self._rank is None:
            if self._ints is not None:  # distinct integers that sort as their ids
                order = np.argsort(self._ints)
            elif self._text is not None:
                import pyarrow.compute as pc

                order = pc.sort_indices(self._text).to_numpy()
            else:  # pragma: no cover
                order = np.argsort(self.ids.to_numpy(dtype=object), kind="stable")
            small = np.int32 if self.n < np.iinfo(np.int32).max else np.int64  # kept cached: 32 bits
            order = order.astype(small)
            rank = np.empty(self.n, dtype=small)
            rank[order] = np.arange(self.n, dtype=small)
            self._rank, self._order = rank, order
            self._ints = None  # only the ranking needed them
        return self._rank

    def text_order(self) -> np.ndarray:
        """The codes in the order of their ids sorted as text (the inverse of :meth:`rank`)."""
        self.rank()
        return self._order


def _keys(data) -> _Keys:
    return _cached(data, "keys", _Keys)


def _margins(data, margins: pd.DataFrame | None = None) -> pd.DataFrame:
    """``margins`` when given, else the margins of ``data``: for a dataset, the ``gmv`` and
    ``gross_margin`` of :func:`order_gross_margin` computed once (its other columns are held as
    codes, see :func:`_margin_codes`); for a plain mapping of tables, :func:`order_gross_margin`."""
    if margins is not None:
        return margins
    parts = _margin_parts(data)
    return parts[0] if _own_margins(data) is parts else order_gross_margin(data)


def _margin_parts(data) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_gross_margin` of ``data``, once per dataset: held until the channel section lets
    go of it (:func:`_let_go_of_margins`), made again if asked for after that."""
    holder = _cached(data, "margins", lambda d: [None])  # a plain mapping of tables: a new one each time
    if holder[0] is None:
        holder[0] = _gross_margin(data)
    return holder[0]


def _own_margins(data) -> tuple | None:
    """The parts (:func:`_margin_parts`) the dataset holds, None when it holds none (nothing made)."""
    holder = _peek(data, "margins")
    return None if holder is None else holder[0]


def _let_go_of_margins(data) -> None:
    """Free the per-order margins of the dataset (millions of rows) once the sections that group
    them are done; the figure the later sections need is cached first (:func:`_margin_rate`)."""
    _margin_rate(data)
    holder = _peek(data, "margins")
    if holder is not None:
        holder[0] = None


def _cost_source_counts(data, m: pd.DataFrame) -> dict:
    """Rows of the margins ``m`` per cost source (``unit_cost``, ``estimated``, ``none``) and in
    all: from the cached codes for the dataset's own margins, else from the column."""
    parts = _own_margins(data)
    if parts is not None and parts[0] is m:
        counts = np.bincount(parts[4], minlength=3)
    else:
        src = m["cost_source"]
        counts = [int((src == k).sum()) for k in ("unit_cost", "estimated", "none")]
    return {"unit_cost": int(counts[0]), "estimated": int(counts[1]), "none": int(counts[2]), "all": len(m)}


def _margin_codes(data, m: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Month codes, channel codes and channel names of the rows of ``m`` when ``m`` is the dataset's
    cached :func:`order_gross_margin` (None for margins from elsewhere)."""
    parts = _own_margins(data)
    if parts is None or parts[0] is not m:
        return None
    return parts[1], parts[2], parts[3]


def _cached_margins(data) -> pd.DataFrame | None:
    """The dataset's cached :func:`order_gross_margin` when there is one, without computing it."""
    parts = _own_margins(data)
    return None if parts is None else parts[0]


def _placeholder(ax, text: str):
    ax = charts._get_ax(ax)
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=10, color="#666666",
            transform=ax.transAxes)
    return ax


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Round an action list for a spreadsheet: probabilities and purchase counts to 3 decimals,
    money to 2, days to whole numbers."""
    out = frame.copy()
    for c in out.columns:
        if not pd.api.types.is_float_dtype(out[c]):
            continue
        if c.startswith("days") or c.endswith("_days"):
            out[c] = out[c].round(0 if c.startswith("days") else 1)
        elif c.startswith(("p_alive", "expected_purchases", "roi", "rate")) or c.endswith(("_rate", "share")):
            out[c] = out[c].round(3)
        else:
            out[c] = out[c].round(2)
    return out


def _fmt_table(frame: pd.DataFrame, formats: dict, *, caption: str | None = None) -> str:
    """HTML of a table with money / pct / ratio / count columns formatted for a reader."""
    def f(kind):
        return {"money": lambda v: charts.money(v), "pct": lambda v: charts.pct(v),
                "ratio": lambda v: "—" if pd.isna(v) else f"{v:,.2f}",
                "count": lambda v: "—" if pd.isna(v) else f"{v:,.0f}",
                "days": lambda v: "—" if pd.isna(v) else f"{v:,.0f} d",
                "num": lambda v: "—" if pd.isna(v) else f"{v:,.3g}"}[kind]
    shown = i18n.localize(frame)  # Chinese headers under lang = zh
    names = dict(zip(frame.columns, shown.columns))
    styler = shown.style.format({names[c]: f(k) for c, k in formats.items() if c in names}).hide(axis="index")
    if caption:
        styler = styler.set_caption(html.escape(caption))
    return styler.to_html()


# =============================================================================================
# Gross margin per order
# =============================================================================================

def order_gross_margin(data) -> pd.DataFrame:
    """Gross margin (毛利) of every paid order: goods revenue minus the cost of the goods.

    ``gross_margin = paid_amount - shipping_fee - sum(qty x products.unit_cost)``, over orders that
    were not cancelled (the GMV definition; refunds are not subtracted, as in GMV). Lines whose SKU
    has no ``unit_cost``, and paid orders without lines, are costed at the shop's cost ratio (cost /
    line value of the lines that do have a cost). Without any cost the margin is NaN.

    Handbook: 000 §3.1 (channel ROI), 001 part 4.

    Parameters
    ----------
    data : Dataset or mapping of tables. Needs ``orders`` (order_id, order_ts, paid_amount;
        shipping_fee, channel, customer_id used when present); ``order_items`` (order_id, sku, qty,
        unit_price) and ``products`` (sku, unit_cost) for the cost.

    Returns
    -------
    DataFrame
        one row per paid order: order_id, customer_id, channel, order_ts, month (``YYYY-MM``), gmv,
        cogs, gross_margin and cost_source (``"unit_cost"``, ``"estimated"`` or ``"none"``).

    Examples
    --------
    >>> order_gross_margin(data).groupby("channel")["gross_margin"].sum()   # doctest: +SKIP
    """
    return _gross_margin(data, frame=True)[0]


def _order_channels(data) -> tuple[np.ndarray, np.ndarray] | None:
    """The channel of every order (``"unknown"`` when missing) as an integer code, and the names
    the codes stand for; None without a channel column. Once per dataset: every section groups
    channels on these codes instead of text."""
    return _cached(data, "order_channels", _encode_channels)


def _encode_channels(data) -> tuple[np.ndarray, np.ndarray] | None:
    import pyarrow.compute as pc

    from .derived import _arrow_text

    if "channel" not in _orders_columns(data):
        return None
    orders = _orders(data, ["channel"])
    arr = _arrow_text(orders["channel"])
    if arr is not None:  # one Arrow hash pass over the text
        enc = pc.dictionary_encode(pc.fill_null(arr, "unknown"))
        codes = enc.indices.to_numpy(zero_copy_only=False)  # int32: kept for the dataset's life
        names = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    else:  # pragma: no cover - a channel column that is not text
        codes, names = pd.factorize(orders["channel"].fillna("unknown"), use_na_sentinel=False)
        names = np.asarray(names, dtype=object)
    return codes.astype(np.int32, copy=False), names


def _line_orders(line_ids, order_ids) -> np.ndarray | None:
    """Row of each order line's order among ``order_ids`` when the lines follow the orders in long
    stretches (order by order, in the orders' order, perhaps in a few blocks written apart), by
    :func:`playbook.derived.aligned_positions` (no hash table), and the order ids strictly increase
    as text (so are unique); None otherwise (the caller then looks the lines up by hash)."""
    import pyarrow.compute as pc

    from .derived import _arrow_text, aligned_positions

    b = _arrow_text(order_ids, one_chunk=False)  # as stored: no copy into one array
    if b is None or b.null_count or not len(b):
        return None
    m = len(b)
    if m > 1 and not pc.all(pc.less(b.slice(0, m - 1), b.slice(1))).as_py():
        return None
    return aligned_positions(line_ids, order_ids)


def _hash_positions(values, keys) -> np.ndarray:
    """:func:`~playbook.derived.positions` by Arrow's hash lookup straight away: for a few keys
    (the SKUs of the products) looked up by many values that do not follow them in stretches."""
    import pyarrow.compute as pc

    from .derived import _arrow_text

    index = keys if isinstance(keys, pd.Index) else pd.Index(keys)
    v, k = _arrow_text(values, one_chunk=False), _arrow_text(keys)
    if v is None or k is None or not index.is_unique:
        return _positions(values, keys)
    if v.type != k.type:
        v = v.cast(k.type)
    return pc.fill_null(pc.index_in(v, value_set=k), -1).to_numpy().astype(np.intp)


def _gross_margin(data, *, frame: bool = False) -> tuple:
    """The parts of :func:`order_gross_margin`: a frame of the paid orders' ``gmv`` and
    ``gross_margin`` (with every column of :func:`order_gross_margin` when ``frame``), the month
    code (:func:`_month_ints`) and the channel code of each of its rows, the channel names of the
    codes, and the cost source of each row as a code (0 ``unit_cost``, 1 ``estimated``, 2 ``none``).
    Computed on arrays: the orders' text columns are not copied for the paid orders."""
    _require(pd.DataFrame(columns=_orders_columns(data)), "orders", "order_id", "order_ts", "paid_amount")
    orders = _orders(data, ["paid_amount", "shipping_fee", "order_ts"])  # read for this calculation alone
    is_paid = _is_paid(data)
    every = bool(is_paid.all())

    def paid_values(col: str, **kw) -> np.ndarray:  # a column of the paid orders (no copy of the frame)
        values = orders[col].to_numpy(**kw)
        return values if every else values[is_paid]

    gmv = paid_values("paid_amount", dtype="float64")
    ship = paid_values("shipping_fee", dtype="float64", na_value=0.0) if "shipping_fee" in orders.columns else 0.0
    goods = gmv - ship
    mi = _month_ints(paid_values("order_ts"))
    _cached(data, "first_order_ts", lambda d: orders["order_ts"].min())  # read here anyway: :func:`_first_order_ts`
    del orders, ship
    if len(mi) and mi.min() > np.iinfo(np.int32).min:  # no missing time: months fit 32 bits (kept cached)
        mi = mi.astype(np.int32)
    chan = _order_channels(data) if hasattr(data, "derived") else None
    if chan is None:
        if "channel" in _orders_columns(data):
            channel = _orders(data, ["channel"])["channel"]
            paid_channel = channel if every else channel[is_paid]
            codes, names = pd.factorize(paid_channel.fillna("unknown"), use_na_sentinel=False)
            chan = (codes.astype(np.int32), np.asarray(names, dtype=object))
        else:
            chan = (np.zeros(len(gmv), dtype=np.int32), np.array(["all"], dtype=object))
    elif len(chan[0]) == len(is_paid):
        chan = (chan[0] if every else chan[0][is_paid], chan[1])
    products = _table(data, "products") if "products" in data else None
    has_cost = ("order_items" in data and products is not None and "unit_cost" in products.columns
                and products["unit_cost"].notna().any())
    n = len(gmv)
    if not has_cost:
        cogs = gm = np.full(n, np.nan)
        source = np.full(n, 2, dtype=np.int8)
    else:
        cost_known, uncosted, has_lines, ratio = _line_costs(data, products.drop_duplicates("sku"), is_paid, n)
        cogs = np.where(has_lines, cost_known + uncosted * ratio, goods * ratio)
        gm = goods - cogs
        source = (~has_lines | (uncosted > 0)).astype(np.int8)
        del cost_known, has_lines
    m = pd.DataFrame({"gmv": gmv, "gross_margin": gm}, copy=False)
    if frame:  # every column, as order_gross_margin gives them
        paid = _orders(data, [c for c in ("order_id", "customer_id", "channel", "order_ts") if c in _orders_columns(data)])
        paid = paid if every else paid.loc[is_paid]
        m = pd.DataFrame({
            "order_id": _values(paid["order_id"]),
            "customer_id": _values(paid["customer_id"]) if "customer_id" in paid.columns else None,
            "channel": _values(paid["channel"].fillna("unknown")) if "channel" in paid.columns else "all",
            "order_ts": paid["order_ts"].to_numpy(),
            "month": _month_column(mi),
            "gmv": gmv,
            "cogs": cogs,
            "gross_margin": gm,
        })
        m["cost_source"] = "none" if not has_cost else _text_array(["unit_cost", "estimated"], source.astype(np.int64))
    return m, mi, chan[0], chan[1], source, is_paid


#: order lines costed at a time by :func:`_line_costs` (a prepared table is read this many lines at a time)
_LINE_CHUNK = 1 << 21


def _item_chunks(data, columns: list[str]):
    """``columns`` of ``order_items``, :data:`_LINE_CHUNK` lines at a time, in the table's order: a
    prepared table not read yet is read from its file batch by batch (the lines of a large shop are
    never all in memory); a table in memory is sliced."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .loading import file_columns

    file = data.table_file("order_items") if hasattr(data, "table_file") else None
    if file is None:
        items = _table(data, "order_items", columns)
        for i in range(0, max(len(items), 1), _LINE_CHUNK):
            yield items.iloc[i:i + _LINE_CHUNK]
        return
    cols = [c for c in columns if c in file_columns(file)]
    pf = pq.ParquetFile(file)
    empty = True
    for batch in pf.iter_batches(batch_size=_LINE_CHUNK, columns=cols):
        empty = False
        frame = pa.Table.from_batches([batch]).to_pandas(self_destruct=True)
        del batch  # the Arrow batch goes before the caller works on the frame
        yield frame
        del frame
    if empty:
        yield pf.schema_arrow.empty_table().select(cols).to_pandas()
    pa.default_memory_pool().release_unused()


def _line_costs(data, products: pd.DataFrame, is_paid: np.ndarray, n: int) -> tuple:
    """The order lines' cost summed per paid order (``n`` of them, the rows of ``is_paid`` that are
    True), read :data:`_LINE_CHUNK` lines at a time: per paid order the cost of its lines with a
    ``unit_cost`` (qty x unit_cost), the value (qty x unit_price) of its lines without one, whether
    it has lines, and the shop's cost ratio (cost / value of the costed lines of paid orders). Sums
    are made in the lines' order, as one pass over all the lines makes them (the same floats)."""
    import pyarrow.compute as pc

    from .derived import _arrow_text, aligned_positions

    order_ids = _orders(data, ["order_id"])["order_id"]
    every = bool(is_paid.all())
    b = _arrow_text(order_ids, one_chunk=False)  # as stored: no copy into one array
    # lines that follow the orders in stretches are placed without a hash table when the order ids
    # strictly increase (so are unique); the others are looked up among the paid orders' ids
    aligned = (b is not None and not b.null_count and len(b) > 0
               and (len(b) < 2 or pc.all(pc.less(b.slice(0, len(b) - 1), b.slice(1))).as_py()))
    small = np.int32 if n < np.iinfo(np.int32).max else np.intp
    paid_pos = np.where(is_paid, np.cumsum(is_paid, dtype=small) - 1, -1).astype(small, copy=False) if aligned else None
    paid_ids = None
    cost_of = np.append(products["unit_cost"].to_numpy(dtype="float64"), np.nan)
    cost_known, uncosted = np.zeros(n), np.zeros(n)
    has_lines = np.zeros(n, dtype=bool)
    file = data.table_file("order_items") if hasattr(data, "table_file") else None
    lines = data.rows("order_items") if file is not None else len(_table(data, "order_items", ["order_id"]))
    # the cost and value of the costed lines of paid orders, in the lines' order: summed once at the end
    known_cost, known_value, k = np.empty(lines), np.empty(lines), 0
    near = None  # the order of the last line placed: the next lines' orders follow it
    for items in _item_chunks(data, list(COLUMNS["order_items"])):
        _require(items, "order_items", "order_id", "sku", "qty", "unit_price")
        line_row = None
        if aligned and len(items):
            if near is not None:  # among the orders from there on first (a chunk of lines spans about as many)
                hi = min(len(order_ids), near + 2 * len(items) + 1024)
                local = aligned_positions(items["order_id"], order_ids.iloc[near:hi])
                line_row = None if local is None else local + near
            if line_row is None:
                line_row = aligned_positions(items["order_id"], order_ids)
            if line_row is not None:
                near = int(line_row[-1])
        if line_row is not None:  # the paid orders' rows; -1: a line of a cancelled order
            pos = paid_pos[line_row]
            del line_row
        else:  # -1: a line of a cancelled order
            if paid_ids is None:
                paid_ids = order_ids if every else order_ids[is_paid]
            pos = _positions(items["order_id"], paid_ids)
        sku_pos = _hash_positions(items["sku"], products["sku"])
        unit_cost = cost_of[sku_pos]  # sku_pos -1 picks the NaN appended last
        del sku_pos
        qty = items["qty"].astype("float64").to_numpy()
        value = qty * items["unit_price"].to_numpy(dtype="float64")
        del items
        live = pos >= 0
        costed = ~np.isnan(unit_cost)
        line_cost = np.where(costed, qty * np.nan_to_num(unit_cost), 0.0)
        del qty, unit_cost
        known = live & costed
        nk = int(np.count_nonzero(known))
        known_cost[k:k + nk] = line_cost[known]
        known_value[k:k + nk] = value[known]
        k += nk
        del known
        at = pos[live]
        # added line by line in the lines' order to what the earlier chunks summed (np.add.at is
        # unbuffered and sequential: the same additions as one bincount over all the lines)
        np.add.at(cost_known, at, line_cost[live])
        np.add.at(uncosted, at, np.where(costed, 0.0, value)[live])
        has_lines[at] = True
        del at, pos, live, costed, line_cost, value
    del paid_pos, paid_ids, order_ids, b
    cost_sum, value_sum = known_cost[:k].sum(), known_value[:k].sum()
    del known_cost, known_value
    ratio = cost_sum / value_sum if value_sum > 0 else np.nan
    return cost_known, uncosted, has_lines, ratio


# =============================================================================================
# Channel matrix, ROI, cut list, LTV curve and payback
# =============================================================================================

def monthly_channel_roi(data, *, margins: pd.DataFrame | None = None) -> pd.DataFrame:
    """Spend, GMV, gross margin, ROAS and ROI per month and channel.

    ``ROAS = GMV / spend``; ``ROI = gross margin / spend`` (投入产出比 on gross margin: above 1 the
    channel's orders earn back what was spent on it). Handbook 000 §3.1, 001 part 4.

    Parameters
    ----------
    data : needs ``orders`` and ``marketing_spend`` (date, channel, spend); the margin needs
        ``order_items`` and ``products.unit_cost`` (see :func:`order_gross_margin`).
    margins : the result of :func:`order_gross_margin`, when already computed.

    Returns
    -------
    DataFrame
        month, channel, spend, gmv, gross_margin, roas, roi (NaN where nothing was spent).
    """
    spend = data["marketing_spend"]
    _require(spend, "marketing_spend", "date", "channel", "spend")
    m = _margins(data, margins)
    codes = _margin_codes(data, m)
    if codes is not None:  # group on the cached month and channel codes, labelled afterwards
        sales = _month_channel_sums(m, *codes)
    else:
        sales = m.groupby(["month", "channel"], observed=True).agg(gmv=("gmv", "sum"),
                                                                   gross_margin=("gross_margin", "sum"))
    if m["gross_margin"].isna().all():
        sales["gross_margin"] = np.nan
    costs = (spend[["channel", "spend"]].assign(month=_month_str(spend["date"]))
             .groupby(["month", "channel"], observed=True)["spend"].sum().rename("spend"))
    out = pd.concat([costs, sales], axis=1).reset_index()
    out[["spend", "gmv"]] = out[["spend", "gmv"]].fillna(0.0)
    if m["gross_margin"].notna().any():  # a month with spend and no orders earned nothing
        out["gross_margin"] = out["gross_margin"].fillna(0.0)
    out = out[out["month"] <= str(_report_month(data))]
    pos = out["spend"].where(out["spend"] > 0)
    out["roas"] = out["gmv"] / pos
    out["roi"] = out["gross_margin"] / pos
    return out[["month", "channel", "spend", "gmv", "gross_margin", "roas", "roi"]].sort_values(
        ["month", "channel"]).reset_index(drop=True)


def _month_channel_sums(m: pd.DataFrame, mi: np.ndarray, chan: np.ndarray, names: np.ndarray) -> pd.DataFrame:
    """GMV and gross margin of the margins ``m`` per month and channel, as
    ``m.groupby(["month", "channel"]).agg(...)`` gives them (same sums: each group's rows in the
    table's order), grouped on the month codes ``mi`` and channel codes ``chan`` of its rows."""
    valid = mi != NO_MONTH
    every = bool(valid.all())
    lo = int(mi[valid].min()) if valid.any() else 0
    key = (mi.astype(np.int64) - lo) * len(names) + chan
    gmv, gm = m["gmv"].to_numpy(), m["gross_margin"].to_numpy()
    if not every:  # orders without a time have no month: left out, as a group-by leaves out NaN keys
        key, gmv, gm = key[valid], gmv[valid], gm[valid]
    sums = pd.DataFrame({"gmv": gmv, "gross_margin": gm}, copy=False).groupby(key).sum()  # no copy of the columns
    k = sums.index.to_numpy()
    index = pd.MultiIndex.from_arrays([pd.Index(list(_month_text(k // len(names) + lo))),
                                       pd.Index(list(names[k % len(names)]))], names=["month", "channel"])
    return pd.DataFrame({"gmv": sums["gmv"].to_numpy(), "gross_margin": sums["gross_margin"].to_numpy()}, index=index)


def ltv_curve(data, *, margins: pd.DataFrame | None = None, max_months: int | None = None) -> pd.DataFrame:
    """Cumulative gross margin per acquired customer by months since the first order, per channel.

    For each acquisition channel (channel of the customer's first paid order) and ``k`` months after
    the first-order month (0 = that month), ``cum_margin_per_customer(k)`` = gross margin of the
    cohorts' orders in months 0..k / customers of those cohorts, over the first-order cohorts whose
    month ``k`` is complete. The first month with orders is left out: customers who had bought before
    the data began would look new in it. Gives the historical LTV (000 §3.5) and the payback month.

    Returns
    -------
    DataFrame
        channel (``"all"`` for the whole shop), months_since, customers (in the cohorts that reach
        ``k``), cum_margin_per_customer, cum_gmv_per_customer.
    """
    cached_codes = margins is None or _cached_margins(data) is margins
    m = _margins(data, margins)
    parts = _margin_codes(data, m)
    own = parts is not None and hasattr(data, "derived")  # the dataset's own margins: its cached arrays
    if own:  # the margins' rows with a customer are those of _paid_orders, in the same order
        is_paid = _own_margins(data)[5]
        with_customer = _cached(data, "paid_rows", _paid_rows)
        with_customer = with_customer if bool(is_paid.all()) else with_customer[is_paid]
    else:
        with_customer = m["customer_id"].notna().to_numpy()
    every = bool(with_customer.all())

    def col(name: str) -> np.ndarray:  # a column of the rows with a customer (no copy of the frame)
        values = m[name].to_numpy()
        return values if every else values[with_customer]

    report = _report_month(data)
    first_month = _first_data_month(data)
    ts = _paid_ts(data) if own else col("order_ts")
    n_rows = len(ts)
    fast = bool(n_rows) and np.issubdtype(ts.dtype, np.datetime64) and not np.isnat(ts).any()
    if fast and own:  # the cached month codes of the paid orders
        mi = _paid_months(data)
    elif fast and parts is not None:  # the cached month codes of the margins
        mi = (parts[0] if every else parts[0][with_customer]).astype(np.int64)
    elif fast:
        mi = ts.astype("datetime64[M]").astype("int64") + 1970 * 12  # year x 12 + month - 1
    else:
        per = pd.PeriodIndex(pd.to_datetime(pd.Series(ts)), freq="M") if n_rows else pd.PeriodIndex([], freq="M")
        mi = per.year.to_numpy() * 12 + per.month.to_numpy() - 1
    # the rows of the cached margins with a customer are those of _paid_orders, in the same order
    codes, _ = (_paid_codes(data) if cached_codes and hasattr(data, "derived")
                else _customer_codes(pd.Series(col("customer_id"))))
    # channels as integer codes (a handful of names), compared and picked as integers
    if parts is not None:
        chan, chan_names = (parts[1] if every else parts[1][with_customer]), parts[2]
    else:
        chan, chan_names = pd.factorize(pd.Series(col("channel")), use_na_sentinel=False)
        chan_names = np.asarray(chan_names, dtype=object)
    n_codes = int(codes.max()) + 1 if n_rows else 0
    if fast and own:  # each customer's first order: the first of its rows sorted by time (the earlier row on a tie)
        order = _cached(data, "paid_sort", _paid_sort)
        sc = _sorted_codes(data)
        firsts = order[np.r_[True, sc[1:] != sc[:-1]]].astype(np.int64) if len(sc) else np.empty(0, dtype=np.int64)
    elif fast:  # each customer's first order: earliest time, the earlier row on a tie (no sort)
        t = ts.astype("datetime64[ns]").astype("int64")
        first_t = np.full(n_codes, np.iinfo(np.int64).max)
        np.minimum.at(first_t, codes, t)
        at_first = np.flatnonzero(t == first_t[codes])
        first_row = np.full(n_codes, n_rows, dtype=np.int64)
        np.minimum.at(first_row, codes[at_first], at_first)
        firsts = first_row[first_row < n_rows]
    else:
        order = np.lexsort((ts, codes))
        firsts = order[np.r_[True, codes[order][1:] != codes[order][:-1]]]  # each customer's first order
    first_mi_c = mi[firsts]
    # each customer's cohort (month of the first order) and acquisition channel, then each row's
    cohort_of = np.zeros(n_codes, dtype=mi.dtype)
    cohort_of[codes[firsts]] = first_mi_c
    chan_of = np.zeros(n_codes, dtype=np.int64)
    chan_of[codes[firsts]] = chan[firsts]
    cohort = cohort_of[codes]
    code_of = {name: i for i, name in enumerate(chan_names)}
    first_mi = first_month.year * 12 + first_month.month - 1
    report_mi = report.year * 12 + report.month - 1
    keep = cohort > first_mi
    cohorts = _cohort_sizes(chan[firsts], first_mi_c, chan_names, first_mi)
    # margin and GMV per cohort and month since, summed by one group-by on integer keys for the shop
    # and one for every channel (each group's orders in the table's order, as a group-by per channel)
    every_kept = bool(keep.all())
    gm, gmv = col("gross_margin"), col("gmv")
    ck = cohort.astype(np.int64)
    if not every_kept:
        gm, gmv, ck, kk = gm[keep], gmv[keep], ck[keep], mi[keep] - ck[keep]
    else:
        kk = mi - ck
    ck -= first_mi
    k_span = int(kk.max()) + 1 if len(kk) else 1
    n_ck = (int(ck.max()) + 1) * k_span if len(ck) else 1
    key = ck * k_span + kk
    del ck, kk
    sums = pd.DataFrame({"gm": gm, "gmv": gmv}, copy=False)  # the columns as they are (no copy of every order)
    by_all = sums.groupby(key).sum()
    kept_codes = codes if every_kept else codes[keep]
    by_chan = (sums.groupby(chan_of[kept_codes] * n_ck + key).sum() if len(cohorts) else by_all.iloc[0:0])

    def frame_of(by: pd.DataFrame, offset: int = 0) -> pd.DataFrame:
        idx = by.index.to_numpy() - offset
        index = pd.MultiIndex.from_arrays([idx // k_span + first_mi, idx % k_span], names=["cohort", "k"])
        return pd.DataFrame({"gm": by["gm"].to_numpy(), "gmv": by["gmv"].to_numpy()}, index=index)

    chan_of_row = by_chan.index.to_numpy() // n_ck
    rows = []
    groups = [("all", frame_of(by_all), cohorts.groupby("mi")["n"].sum().reset_index())]
    for c in sorted(cohorts["channel"].unique()):
        sel = chan_of_row == code_of[c]
        groups.append((c, frame_of(by_chan[sel], code_of[c] * n_ck), cohorts[cohorts["channel"] == c][["mi", "n"]]))
    kmax = report_mi - first_mi - 1 if max_months is None else max_months
    for name, by, sizes in groups:  # a handful of channels
        if sizes.empty:
            continue
        ks = np.arange(0, max(kmax, 0) + 1)
        cohort_ids = sizes["mi"].to_numpy()
        grid = pd.MultiIndex.from_product([cohort_ids, ks], names=["cohort", "k"])
        by = by.reindex(grid, fill_value=0.0)
        cum = by.groupby(level="cohort").cumsum()
        cum = cum.reset_index()
        cum["n"] = cum["cohort"].map(sizes.set_index("mi")["n"])
        cum = cum[cum["cohort"] + cum["k"] <= report_mi]
        agg = cum.groupby("k").agg(customers=("n", "sum"), gm=("gm", "sum"), gmv=("gmv", "sum"))
        agg = agg[agg["customers"] > 0]
        rows.append(pd.DataFrame({"channel": name, "months_since": agg.index.to_numpy(),
                                  "customers": agg["customers"].to_numpy(),
                                  "cum_margin_per_customer": (agg["gm"] / agg["customers"]).to_numpy(),
                                  "cum_gmv_per_customer": (agg["gmv"] / agg["customers"]).to_numpy()}))
    if not rows:
        return _empty(["channel", "months_since", "customers", "cum_margin_per_customer", "cum_gmv_per_customer"])
    out = pd.concat(rows, ignore_index=True)
    if np.isnan(col("gross_margin").astype("float64")).all():
        out["cum_margin_per_customer"] = np.nan
    return out


def _cohort_sizes(chan: np.ndarray, month: np.ndarray, names: np.ndarray, first_mi: int) -> pd.DataFrame:
    """New customers per acquisition channel and first-order month after ``first_mi`` (``chan``
    and ``month``: channel code and month code of each customer's first order), as
    ``groupby(["channel", "mi"]).size()`` gives them: channel, mi, n, sorted by channel and month."""
    sel = month > first_mi
    c, mo = chan[sel].astype(np.int64), month[sel]
    if not len(mo):
        return pd.DataFrame({"channel": pd.Series(dtype="str"), "mi": pd.Series(dtype="int64"),
                             "n": pd.Series(dtype="int64")})
    lo = int(mo.min())
    span = int(mo.max()) - lo + 1
    counts = np.bincount(c * span + (mo - lo), minlength=len(names) * span)
    cells = sorted((str(names[i // span]), int(i % span) + lo, int(counts[i])) for i in np.flatnonzero(counts))
    return pd.DataFrame({"channel": pd.array([x[0] for x in cells], dtype="str"),
                         "mi": np.array([x[1] for x in cells], dtype="int64"),
                         "n": np.array([x[2] for x in cells], dtype="int64")})


def _ltv_curve(data, margins: pd.DataFrame) -> pd.DataFrame:
    """:func:`ltv_curve` of ``data`` with its own ``margins`` (:func:`order_gross_margin` of it),
    once per dataset (a copy each time, so that a caller changing it changes no one else's)."""
    return _cached(data, "ltv_curve", lambda d: ltv_curve(d, margins=margins)).copy()


def _payback(curve: pd.DataFrame, channel: str, cac: float) -> float:
    c = curve[curve["channel"] == channel]
    if c.empty or pd.isna(cac):
        return np.nan
    hit = c.loc[c["cum_margin_per_customer"] >= cac, "months_since"]
    return float(hit.min() + 1) if len(hit) else np.nan


def channel_matrix(data, *, month: str | None = None, horizon_months: int | None = None,
                   margins: pd.DataFrame | None = None, curve: pd.DataFrame | None = None,
                   value: CustomerValue | None = None, roi: pd.DataFrame | None = None) -> pd.DataFrame:
    """The channel matrix (渠道矩阵) of one month: what each channel costs and brings.

    Per channel: spend, visitors (UV), paid orders, new buyers (customers whose first paid order
    was on this channel in the month), GMV, gross margin, ``CAC = spend / new buyers`` (获客成本),
    ``ROAS = GMV / spend``, ``ROI = gross margin / spend``, LTV = cumulative gross margin per
    acquired customer over ``horizon_months`` (see :func:`ltv_curve`), ``LTV:CAC`` and the payback
    month (the month after acquisition, 1 = the first-order month, in which the cumulative margin
    per customer first covers the CAC). A last row ``all`` holds the whole shop. Handbook 000 §3.1.

    Parameters
    ----------
    data : needs ``orders`` (with customer_id and channel) and ``marketing_spend``; ``traffic`` adds
        visitors, ``order_items`` + ``products.unit_cost`` the margin (ROI, LTV, payback).
    month : ``YYYY-MM``; the report month by default.
    horizon_months : LTV horizon; settings ``acquisition.ltv_horizon_months`` (12) by default.
    roi : the result of :func:`monthly_channel_roi` of the same ``margins``, when already computed.
    value : a :class:`CustomerValue` (see :func:`customer_value`). When the data are too short for the
        historical LTV (no cohort has been observed for the whole horizon), the LTV is predicted
        instead: the channel's first-month margin per new buyer plus the BG/NBD expected repeat
        purchases of a new customer over the rest of the horizon x the Gamma-Gamma mean spend x the
        shop's margin rate (``ltv_basis`` says which).

    Returns
    -------
    DataFrame
        channel, spend, visitors, paid_orders, new_buyers, gmv, gross_margin, cac, roas, roi, ltv,
        ltv_basis (``history`` / ``model``), ltv_cac, payback_months (NaN = not paid back within the
        months the data cover).

    Examples
    --------
    >>> channel_matrix(data).set_index("channel")[["cac", "roi"]]   # doctest: +SKIP
    """
    cfg = _settings(data, "acquisition")
    horizon = int(horizon_months or cfg["ltv_horizon_months"])
    month = str(month or _report_month(data))
    m = _margins(data, margins)
    roi = monthly_channel_roi(data, margins=m) if roi is None else roi
    roi = roi[roi["month"] == month].set_index("channel")
    codes = _margin_codes(data, m)
    try:
        code = _month_code(month) if str(pd.Period(month, "M")) == month else None
    except ValueError:
        code = None
    if codes is not None and code is not None:  # the month's orders picked and grouped on integer codes
        rows = np.flatnonzero(codes[0] == code)
        mm = pd.DataFrame({"gmv": m["gmv"].to_numpy()[rows], "gross_margin": m["gross_margin"].to_numpy()[rows]})
        by_channel = mm.groupby(codes[1][rows])
        size = by_channel.size()
        names = pd.Index(list(codes[2][size.index.to_numpy()]), name="channel")
        sales = size.to_frame("paid_orders").set_axis(names)
        gmv_by = by_channel["gmv"].sum().set_axis(names)
        gm_by = by_channel["gross_margin"].sum(min_count=1).set_axis(names)
    else:
        mm = m[m["month"] == month]
        sales = mm.groupby("channel").agg(paid_orders=("order_id", "size"))
        gmv_by = mm.groupby("channel")["gmv"].sum()
        gm_by = mm.groupby("channel")["gross_margin"].sum(min_count=1)
    summary = _summary_columns(data, ["first_order_ts", "first_channel"])
    if summary is None or "first_channel" not in summary.columns:
        firsts = m.sort_values("order_ts", kind="stable").drop_duplicates("customer_id")
        summary = pd.DataFrame({"first_order_ts": firsts["order_ts"].to_numpy(), "first_channel": firsts["channel"].to_numpy()})
    in_month = (_month_ints(summary["first_order_ts"]) == code) if code is not None else (
        _month_str(summary["first_order_ts"]) == month)
    new = summary[["first_channel"]][in_month].groupby("first_channel").size()
    visitors = pd.Series(dtype="float64")
    if "traffic" in data:
        t = data.derived("daily_kpis") if hasattr(data, "derived") else data["traffic"]  # the shared table when loaded
        t = t[t["visitors"].notna()] if "visitors" in t.columns else t.iloc[0:0]
        visitors = t[_month_str(t["date"]) == month].groupby("channel")["visitors"].sum().astype("float64")
    channels = sorted(set(roi.index) | set(sales.index) | set(visitors.index))
    out = pd.DataFrame(index=pd.Index(channels, name="channel"))
    out["spend"] = roi["spend"].reindex(channels).fillna(0.0)
    out["visitors"] = visitors.reindex(channels) if len(visitors) else np.nan
    out["paid_orders"] = sales["paid_orders"].reindex(channels).fillna(0).astype("int64")
    out["new_buyers"] = new.reindex(channels).fillna(0).astype("int64")
    out["gmv"] = gmv_by.reindex(channels).fillna(0.0)
    out["gross_margin"] = gm_by.reindex(channels)
    total = out.sum(numeric_only=True, min_count=1).to_frame("all").T
    total.index.name = "channel"
    out = pd.concat([out, total])
    spend = out["spend"].where(out["spend"] > 0)
    out["cac"] = spend / out["new_buyers"].where(out["new_buyers"] > 0)
    out["roas"] = out["gmv"] / spend
    out["roi"] = out["gross_margin"] / spend
    if curve is None:  # the default curve of the dataset's own margins is computed once per dataset
        curve = _ltv_curve(data, m) if m is _cached_margins(data) else ltv_curve(data, margins=m)
    at = curve[curve["months_since"] == horizon - 1].set_index("channel")["cum_margin_per_customer"]
    out["ltv"] = at.reindex(out.index)
    out["ltv_basis"] = np.where(out["ltv"].notna(), "history", "")
    if out["ltv"].isna().any() and value is not None and value.bg_nbd is not None and not np.isnan(value.margin_rate):
        first = curve[curve["months_since"] == 0].set_index("channel")["cum_margin_per_customer"].reindex(out.index)
        per_month = UNIT_DAYS["M"] / UNIT_DAYS[value.unit]
        repeat = float(value.bg_nbd.expected_purchases_new(horizon * per_month) - value.bg_nbd.expected_purchases_new(per_month))
        model = first + repeat * value.gamma_gamma.population_mean() * value.margin_rate
        fill = out["ltv"].isna() & model.notna()
        out.loc[fill, "ltv"] = model[fill]
        out.loc[fill, "ltv_basis"] = "model"
    out["ltv_cac"] = out["ltv"] / out["cac"]
    out["payback_months"] = [_payback(curve, c, cac) for c, cac in zip(out.index, out["cac"])]  # per channel
    out["paid_orders"] = out["paid_orders"].astype("int64")
    out["new_buyers"] = out["new_buyers"].astype("int64")
    return out.reset_index()


def cut_list(data, *, roi: pd.DataFrame | None = None, threshold: float | None = None,
             months: int | None = None, month: str | None = None) -> pd.DataFrame:
    """Channels whose ROI stayed under the line in each of the last ``months`` months (砍渠道).

    The handbook's monthly review (001 part 4) cuts a channel whose return stays below 1 (there:
    小红书素人笔记, ROI < 1) and moves its budget to a channel that earns more.

    Parameters
    ----------
    data : as :func:`monthly_channel_roi`.
    roi : the result of :func:`monthly_channel_roi`, when already computed.
    threshold, months : settings ``acquisition.roi_cut`` (1.0) and ``acquisition.roi_cut_months`` (3).
    month : the month the review is made in (``YYYY-MM``); the report month by default.

    Returns
    -------
    DataFrame
        one row per channel to cut: channel, months_below (consecutive months under the line up to the
        report month), roi_month (report month), roi_last_n (over the last ``months`` months), spend_last_n,
        gross_margin_last_n, shortfall_last_n (spend not earned back), best_channel (highest ROI this month,
        where the budget could go) and reason.
    """
    cfg = _settings(data, "acquisition")
    threshold = float(cfg["roi_cut"] if threshold is None else threshold)
    months = int(cfg["roi_cut_months"] if months is None else months)
    roi = monthly_channel_roi(data) if roi is None else roi
    cols = ["channel", "months_below", "roi_month", "roi_last_n", "spend_last_n", "gross_margin_last_n",
            "shortfall_last_n", "best_channel", "reason"]
    report = pd.Period(month, "M") if month else _report_month(data)
    wanted = [str(report - i) for i in range(months)]
    r = roi[(roi["spend"] > 0) & (roi["month"] <= str(report))]
    last = r[r["month"].isin(wanted)]
    if last["roi"].isna().all():
        return pd.DataFrame(columns=cols)
    g = last.groupby("channel").agg(n=("month", "nunique"), worst=("roi", "max"), spend=("spend", "sum"),
                                    gm=("gross_margin", "sum"))
    cut = g[(g["n"] == months) & (g["worst"] < threshold)]
    if cut.empty:
        return pd.DataFrame(columns=cols)
    wide = r.pivot_table(index="month", columns="channel", values="roi").sort_index()
    below = (wide < threshold).iloc[::-1]
    streak = below.cumprod().sum()  # consecutive months under the line, counted back from the report month
    this = r[r["month"] == str(report)].set_index("channel")["roi"]
    best = this.drop(cut.index, errors="ignore").idxmax() if this.drop(cut.index, errors="ignore").notna().any() else ""
    out = pd.DataFrame({
        "channel": cut.index, "months_below": streak.reindex(cut.index).astype("int64").to_numpy(),
        "roi_month": this.reindex(cut.index).to_numpy(), "roi_last_n": (cut["gm"] / cut["spend"]).to_numpy(),
        "spend_last_n": cut["spend"].to_numpy(), "gross_margin_last_n": cut["gm"].to_numpy(),
        "shortfall_last_n": (cut["spend"] - cut["gm"]).to_numpy(), "best_channel": best,
    })
    out["reason"] = [f"ROI under {threshold:g} for {n} months in a row (last {months}: {v:.2f}); "
                     f"cut or rework it, move budget to {best}" for n, v in zip(out["months_below"], out["roi_last_n"])]
    return _rounded(out.sort_values("shortfall_last_n", ascending=False).reset_index(drop=True))


@dataclass
class ChannelReport:
    """The channel section: matrix of the month, monthly ROI, cut list, LTV curves."""

    month: str
    matrix: pd.DataFrame
    monthly: pd.DataFrame
    cut: pd.DataFrame
    curve: pd.DataFrame
    threshold: float = 1.0
    cost_note: str = ""
    note: str | None = None

    @property
    def _channels(self) -> pd.DataFrame:
        return self.matrix[self.matrix["channel"] != "all"].set_index("channel")

    @property
    def _total(self) -> pd.Series | None:
        t = self.matrix[self.matrix["channel"] == "all"]
        return None if t.empty else t.iloc[0]

    @property
    def lowest_roi_channel(self) -> str | None:
        roi = self._channels["roi"] if not self.matrix.empty else pd.Series(dtype=float)
        return None if roi.dropna().empty else str(roi.idxmin())

    @property
    def lowest_roi(self) -> float | None:
        c = self.lowest_roi_channel
        return None if c is None else float(self._channels.loc[c, "roi"])

    def total(self, column: str) -> float | None:
        t = self._total
        return None if t is None or pd.isna(t[column]) else float(t[column])

    def show_cut(self):
        """The cut list formatted (or a sentence when no channel is to be cut)."""
        if self.note:
            return Skipped("Cut list", self.note)
        if self.cut.empty:
            return _Html(f"<p>No channel stayed under ROI {self.threshold:g} for the last months: nothing to cut.</p>")
        return _Html(_fmt_table(self.cut, {"roi_month": "ratio", "roi_last_n": "ratio", "spend_last_n": "money",
                                           "gross_margin_last_n": "money", "shortfall_last_n": "money"},
                                caption="Cut list 砍渠道清单"))

    def _repr_html_(self) -> str:
        if self.note:
            return f"<p><em>{html.escape(self.note)}</em></p>"
        fm = {"spend": "money", "visitors": "count", "paid_orders": "count", "new_buyers": "count", "gmv": "money",
              "gross_margin": "money", "cac": "money", "roas": "ratio", "roi": "ratio", "ltv": "money",
              "ltv_cac": "ratio", "payback_months": "count"}
        cap = f"Channel matrix 渠道矩阵, {self.month}" + (f" ({self.cost_note})" if self.cost_note else "")
        return _fmt_table(self.matrix, fm, caption=cap)


def channel_report(data, *, month: str | None = None) -> ChannelReport:
    """Everything the channel section shows, or a note when ``marketing_spend`` is missing.

    See :func:`channel_matrix`, :func:`monthly_channel_roi`, :func:`cut_list` and :func:`ltv_curve`.
    """
    cfg = _settings(data, "acquisition")
    month = str(month or _report_month(data))
    empty = ChannelReport(month, _empty(["channel"]), _empty(["month", "channel", "roi"]),
                          pd.DataFrame(columns=["channel", "months_below", "roi_month", "roi_last_n", "spend_last_n",
                                                "gross_margin_last_n", "shortfall_last_n", "best_channel", "reason"]),
                          _empty(["channel", "months_since", "cum_margin_per_customer"]), float(cfg["roi_cut"]))
    note = _note(data, "marketing_spend", columns={"orders": ["customer_id", "channel"]})
    if note:
        empty.note = note
        return empty
    margins = _margins(data)
    roi = monthly_channel_roi(data, margins=margins)
    curve = _ltv_curve(data, margins)
    horizon = int(cfg["ltv_horizon_months"])
    value = None
    if not (curve["months_since"] == horizon - 1).any() and margins["gross_margin"].notna().any():
        value = customer_value(data)  # too little history for a 12-month LTV: predict it
    matrix = channel_matrix(data, month=month, margins=margins, curve=curve, value=value, roi=roi)
    cut = cut_list(data, roi=roi)
    src = _cost_source_counts(data, margins)
    cost_note = ("no unit cost in the data: ROI, LTV and payback cannot be computed on gross margin"
                 if src["none"] == src["all"] else
                 f"{src['estimated'] / src['all']:.0%} of orders costed at the shop's cost ratio" if src["estimated"] else "")
    if (matrix.get("ltv_basis") == "model").any():
        cost_note = "; ".join(filter(None, [cost_note, f"LTV predicted by BG/NBD + Gamma-Gamma: no cohort observed for {horizon} months yet"]))
    del margins
    _let_go_of_margins(data)  # the later sections need the margin rate alone
    release_free_memory()
    return ChannelReport(month, matrix, roi, cut, curve, float(cfg["roi_cut"]), cost_note)


def plot_channel_roi(report: ChannelReport, *, ax=None):
    """ROI per channel by month, with the cut line (001 part 4: ROI under 1 is cut)."""
    if report.note or report.monthly["roi"].isna().all():
        return _placeholder(ax, report.note or "No gross margin: ROI needs products.unit_cost")
    ax = charts.line_chart(report.monthly.dropna(subset=["roi"]), x="month", y="roi", hue="channel", ax=ax,
                           title="ROI on gross margin by channel 渠道投入产出比")
    charts.annotate_threshold(ax, report.threshold, f"cut line ROI {report.threshold:g}")
    ax.set_ylabel("gross margin / spend")
    return ax


def plot_cac_ltv(report: ChannelReport, *, ax=None):
    """CAC against 12-month LTV per channel (bars side by side), LTV:CAC written above."""
    if report.note or report.matrix.empty:
        return _placeholder(ax, report.note or "no channel data")
    ax = charts._get_ax(ax)
    m = report.matrix.set_index("channel")
    x = np.arange(len(m))
    ax.bar(x - 0.2, m["cac"].fillna(0), width=0.4, label="CAC 获客成本", color=charts.PALETTE[0])
    ax.bar(x + 0.2, m["ltv"].fillna(0), width=0.4, label="LTV (gross margin) 用户价值", color=charts.PALETTE[4])
    for xi, (ratio, top) in enumerate(zip(m["ltv_cac"], np.fmax(m["cac"].fillna(0), m["ltv"].fillna(0)))):
        ax.text(xi, top, "—" if pd.isna(ratio) else f"{ratio:.1f}x", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, m.index, rotation=30, ha="right")
    charts.format_money_axis(ax)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"CAC and LTV per new buyer, {report.month} (label: LTV:CAC)")
    return ax


def plot_payback(report: ChannelReport, *, ax=None, months: int = 18):
    """Payback per channel: cumulative gross margin per acquired customer divided by the channel's
    CAC, by month since the first order. Where a line crosses 1 the channel has earned its
    acquisition cost back; a line that stays under 1 never does (within the months the data cover)."""
    if report.note or report.curve.empty or report.curve["cum_margin_per_customer"].isna().all():
        return _placeholder(ax, report.note or "No gross margin: the payback curve needs products.unit_cost")
    ax = charts._get_ax(ax)
    curve = report.curve[(report.curve["channel"] != "all") & (report.curve["months_since"] < months)]
    cac = report.matrix.set_index("channel")["cac"]
    for ch, c in curve.groupby("channel"):  # a handful of channels
        if pd.isna(cac.get(ch)):
            continue
        ax.plot(c["months_since"] + 1, c["cum_margin_per_customer"] / cac[ch], color=charts.channel_color(ch),
                label=ch, marker="o", ms=3)
    charts.annotate_threshold(ax, 1.0, "paid back (margin = CAC)")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_xlabel("months since the first order (1 = first-order month)")
    ax.set_ylabel("cumulative margin per customer / CAC")
    ax.set_ylim(bottom=0)
    ax.legend(ncol=3, fontsize=8, loc="upper left")
    ax.set_title(f"Payback 回本周期: margin earned per new buyer vs CAC of {report.month}")
    return ax


# =============================================================================================
# New customers: first-order conversion, second orders
# =============================================================================================

def first_order_conversion(data, *, window_days: int | None = None, by: str | None = None) -> pd.DataFrame:
    """New-customer first-order conversion (新客首单转化率) by sign-up month.

    ``conversion = registrants with a first paid order within window_days of sign-up / registrants``.
    Only sign-ups inside the loaded window count, and a month whose window runs past the end of the
    data is masked (NaN), so the latest months never look artificially low. Handbook 001 part 1.

    Parameters
    ----------
    data : needs ``customers`` (customer_id, signup_ts) and ``orders``.
    window_days : settings ``acquisition.first_order_window_days`` (30) by default.
    by : optional customers column to split by (e.g. ``"acquisition_channel"``).

    Returns
    -------
    DataFrame
        signup_month, [by], registrants, converted, conversion, complete (bool).
    """
    cfg = _settings(data, "acquisition")
    window = int(window_days or cfg["first_order_window_days"])
    ck = _keys(data)
    codes = ck.registered  # the code of each customers row: no lookup of text ids (nor read of them)
    cust = _table(data, "customers", (["customer_id"] if codes is None else []) + ["signup_ts"] + ([by] if by else []))
    _require(cust, "customers", *(["customer_id"] if codes is None else []), "signup_ts")
    if codes is None or len(codes) != len(cust):
        codes = _positions(_table(data, "customers", ["customer_id"])["customer_id"].astype("str"), ck.ids)
    # each customer's first paid order (ns since the epoch; none: the largest int64), on integer codes
    big = np.iinfo(np.int64).max
    ts = _paid_ns(data)
    first = np.full(ck.n + 1, big, dtype="int64")  # the last cell: ids not found (-1)
    if not len(ts) or ts.min() > np.iinfo(np.int64).min:  # no missing time: the first of the sorted rows
        first[:-1] = _first_paid_ns(data)
    else:
        known = ts != np.iinfo(np.int64).min
        np.minimum.at(first, ck.paid[known], ts[known])
    start = _first_order_ts(data).normalize()
    sel = (cust["signup_ts"].notna() & (cust["signup_ts"] >= start) & (cust["signup_ts"] < _as_of(data))).to_numpy()
    c = cust[["signup_ts"] + ([by] if by else [])][sel]
    fo = first[codes[sel]]
    signup = _ns(c["signup_ts"].to_numpy())
    converted = (fo != big) & (fo <= signup + np.int64(window) * DAY)
    keys = ["signup_month"] + ([by] if by else [])
    if not by or c[by].dtype == _STR:  # counted on integer month (and group) codes, labelled afterwards
        out = _conversion_counts(_month_ints(c["signup_ts"]), c[by] if by else None, converted, by)
    else:
        frame = pd.DataFrame({"signup_month": _month_str(c["signup_ts"]), "converted": converted})
        frame[by] = c[by].fillna("unknown").to_numpy()
        out = frame.groupby(keys).agg(registrants=("converted", "size"), converted=("converted", "sum")).reset_index()
    end = _as_of(data)
    month_end = pd.PeriodIndex(out["signup_month"], freq="M").end_time.normalize() + pd.Timedelta(days=1)
    out["complete"] = np.asarray(month_end + pd.Timedelta(days=window) <= end)
    out["conversion"] = (out["converted"] / out["registrants"]).where(out["complete"])
    return out[keys + ["registrants", "converted", "conversion", "complete"]]


def _conversion_counts(month: np.ndarray, group: pd.Series | None, converted: np.ndarray, by: str | None) -> pd.DataFrame:
    """Registrants and converted registrants per sign-up month (codes of :func:`_month_ints`, none
    missing) and text ``group`` (missing: ``"unknown"``), sorted by both: what a group-by of the
    month labels and the group gives (signup_month, [by], registrants, converted)."""
    if group is not None:
        gcode, gnames = pd.factorize(group.fillna("unknown"), sort=True)
        gnames = np.asarray(gnames, dtype=object)
    else:
        gcode, gnames = np.zeros(len(month), dtype=np.int64), np.array([None], dtype=object)
    lo = int(month.min()) if len(month) else 0
    ng = len(gnames)
    key = (month - lo) * ng + gcode
    size = int(key.max()) + 1 if len(key) else 0
    registrants = np.bincount(key, minlength=size)
    conv = np.bincount(key[converted], minlength=size)
    cells = np.flatnonzero(registrants)
    text = (lambda v: pd.array(list(v), dtype="str")) if len(cells) else (lambda v: np.asarray(v, dtype=object))
    out = pd.DataFrame({"signup_month": text(_month_text(cells // ng + lo))})  # none: object, as a group-by gives
    if by:
        out[by] = text(gnames[cells % ng])
    out["registrants"] = registrants[cells].astype("int64")
    out["converted"] = conv[cells].astype("int64")
    return out


def _customer_days(data) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Paid orders merged by customer and day, sorted by customer code and day: the customer code,
    the day (days since 1970) and the channel code of the first order of that day in the table
    (``names`` turns channel codes into names; ``"unknown"`` for a missing channel, ``"all"``
    without a channel column)."""
    channels = _order_channels(data)  # channel names as integer codes, turned back into names at the end
    order = _cached(data, "paid_sort", _paid_sort)  # by customer and time, so by customer and day
    c = _sorted_codes(data)
    d = _days(_paid_ts(data))[order]
    if len(d) and d.min() > np.iinfo(np.int32).min:  # no missing time: days fit 32 bits (kept cached)
        d = d.astype(np.int32)
    if channels is not None:
        chan, names = channels[0][_cached(data, "paid_rows", _paid_rows)], channels[1]
    else:
        chan, names = np.zeros(len(order), dtype="int64"), np.array(["all"], dtype=object)
    if not len(order):
        return c, d, chan[order], names
    keep = np.r_[True, (c[1:] != c[:-1]) | (d[1:] != d[:-1])]  # one row per customer and day
    first_row = np.minimum.reduceat(order, np.flatnonzero(keep))  # the day's first order in the table
    return c[keep], d[keep], chan[first_row], names


def _paid_sort(data) -> np.ndarray:
    """The rows of :func:`_paid_orders` sorted by customer code and order time (the table's order
    on a tie), shared by the customer history and the customer-day rows."""
    order = np.lexsort((_paid_ns(data), _keys(data).paid))
    return order.astype(np.int32) if len(order) < np.iinfo(np.int32).max else order  # kept cached: 32 bits


def _first_paid_ns(data) -> np.ndarray:
    """Per customer code (:class:`_Keys`), the time of the first paid order in int64 nanoseconds (the
    smallest of the customer's times, NaT counting as the smallest int64; none: the largest int64),
    from the sorted rows, once per dataset."""
    def build(d) -> np.ndarray:
        first = np.full(_keys(d).n, np.iinfo(np.int64).max, dtype="int64")
        sc = _sorted_codes(d)
        if len(sc):
            starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
            first[sc[starts]] = _paid_ns(d)[_cached(d, "paid_sort", _paid_sort)[starts]]
        return first

    return _cached(data, "first_paid_ns", build)


def _sorted_codes(data) -> np.ndarray:
    """The customer codes of the rows of :func:`_paid_orders` in :func:`_paid_sort` order (sorted),
    once per dataset."""
    return _cached(data, "paid_sorted_codes", lambda d: _keys(d).paid[_cached(d, "paid_sort", _paid_sort)])


def second_order_rates(data, *, windows=None, by: str | None = None) -> pd.DataFrame:
    """Share of new buyers who buy again within 30 / 60 / 90 days (二次购买率), by first-order month.

    A second order is a paid order on a later day than the first (same-day orders are one visit).
    ``rate_Nd = new buyers with a second order within N days of the first / new buyers``; a cell whose
    N days run past the end of the data is masked. The first month with orders is left out (customers
    who bought before the data began would look new there). Handbook 001 part 1.

    Parameters
    ----------
    data : needs ``orders`` with customer_id.
    windows : settings ``acquisition.second_order_windows`` ([30, 60, 90]) by default.
    by : ``"first_channel"`` to split by the channel of the first order.

    Returns
    -------
    DataFrame
        first_month, [first_channel], new_buyers, rate_30d, rate_60d, rate_90d (one per window).
    """
    cfg = _settings(data, "acquisition")
    windows = [int(w) for w in (windows or cfg["second_order_windows"])]
    c, d, ch, names = _cached(data, "customer_days", _customer_days)
    if ch is None:  # the channels were let go of (see new_customer_report): the rows made again
        _let_go(data, "customer_days")
        c, d, ch, names = _cached(data, "customer_days", _customer_days)
    start = np.r_[True, c[1:] != c[:-1]]
    first_i = np.flatnonzero(start)
    has_second = np.r_[~start[1:], False][first_i]  # the next row is the same customer's second day
    gap = np.where(has_second, d[np.minimum(first_i + 1, len(d) - 1)] - d[first_i], np.nan)
    mo = _month_ints(d[first_i].astype("datetime64[D]"))
    keep = mo > _month_code(_first_data_month(data))
    end = _as_of(data)
    if not keep.any():
        out = pd.DataFrame({"first": d[first_i].astype("datetime64[D]"), "gap": gap, "first_channel": names[ch[first_i]]})
        out["first_month"] = _month_str(out["first"])
        out = out[out["first_month"] > str(_first_data_month(data))]
        keys = ["first_month"] + (["first_channel"] if by else [])
        agg = {"new_buyers": ("gap", "size")}
        for w in windows:
            out[f"r{w}"] = (out["gap"] <= w).astype("float64")
            agg[f"rate_{w}d"] = (f"r{w}", "mean")
        res = out.groupby(keys).agg(**agg).reset_index()
    else:  # counted per month (and channel) code; the cells in the order of their labels
        mo, gap = mo[keep], gap[keep]
        lo = int(mo.min())
        k = len(names) if by else 1
        if by:
            name_rank = np.empty(len(names), dtype=np.int64)
            name_rank[np.argsort(np.array([str(v) for v in names], dtype=object), kind="stable")] = np.arange(len(names))
            key = (mo - lo) * k + name_rank[ch[first_i][keep]]
            by_rank = names[np.argsort(name_rank)]
        else:
            key = mo - lo
        size = int(key.max()) + 1
        n = np.bincount(key, minlength=size)
        cells = np.flatnonzero(n)
        res = pd.DataFrame({"first_month": pd.array(list(_month_text(cells // k + lo)), dtype="str")})
        if by:
            res["first_channel"] = pd.array([str(v) for v in by_rank[cells % k]], dtype="str")
        res["new_buyers"] = n[cells].astype("int64")
        for w in windows:  # the mean of 0/1 per cell: hits / customers
            hits = np.bincount(key[gap <= w], minlength=size)[cells]
            res[f"rate_{w}d"] = hits.astype("float64") / n[cells].astype("float64")
    month_end = pd.PeriodIndex(res["first_month"], freq="M").end_time.normalize() + pd.Timedelta(days=1)
    for w in windows:
        res[f"rate_{w}d"] = res[f"rate_{w}d"].where(np.asarray(month_end + pd.Timedelta(days=w) <= end))
    return res


@dataclass
class NewCustomerReport:
    """The new-customer section: first-order conversion and second-order rates."""

    conversion: pd.DataFrame
    conversion_by_channel: pd.DataFrame
    second_orders: pd.DataFrame
    second_by_channel: pd.DataFrame
    windows: list = field(default_factory=lambda: [30, 60, 90])
    note: str | None = None
    window_days: int = 30

    def _latest(self, frame, col, lag=0):
        f = frame.dropna(subset=[col]) if col in frame.columns else frame.iloc[0:0]
        if f.empty:
            return None, None
        key = "signup_month" if "signup_month" in f.columns else "first_month"
        latest = pd.Period(f[key].iloc[-1], "M")
        month = str(latest - lag)
        hit = f.loc[f[key] == month, col]
        return month, (None if hit.empty else float(hit.iloc[0]))

    @property
    def latest_conversion(self):
        """(sign-up month, conversion) of the latest complete month."""
        return self._latest(self.conversion, "conversion")

    @property
    def conversion_year_ago(self):
        return self._latest(self.conversion, "conversion", 12)

    def latest_second(self, window: int = 90):
        """(first-order month, rate) of the latest month whose window is complete."""
        return self._latest(self.second_orders, f"rate_{window}d")

    def second_year_ago(self, window: int = 90):
        return self._latest(self.second_orders, f"rate_{window}d", 12)

    def channel_conversion(self, months: int = 3) -> pd.DataFrame:
        """First-order conversion by acquisition channel over the last ``months`` complete sign-up months."""
        c = self.conversion_by_channel
        if c.empty or "acquisition_channel" not in c.columns:
            return pd.DataFrame(columns=["acquisition_channel", "registrants", "converted", "conversion"])
        done = c[c["complete"].astype(bool)]
        last = sorted(done["signup_month"].unique())[-months:]
        out = done[done["signup_month"].isin(last)].groupby("acquisition_channel")[["registrants", "converted"]].sum()
        out["conversion"] = out["converted"] / out["registrants"]
        out.attrs["months"] = f"{last[0]} .. {last[-1]}" if last else ""
        return out.reset_index().sort_values("conversion", ascending=False, ignore_index=True)

    def show_channel_conversion(self, months: int = 3):
        """:meth:`channel_conversion` formatted (or the note when sign-ups are unknown)."""
        t = self.channel_conversion(months)
        if t.empty:
            return Skipped("First-order conversion by channel", self.note or "no sign-ups")
        return _Html(_fmt_table(t, {"registrants": "count", "converted": "count", "conversion": "pct"},
                                caption=f"First-order conversion by acquisition channel, sign-ups {t.attrs['months']}"))

    def _repr_html_(self) -> str:
        parts = []
        if self.note:
            parts.append(f"<p><em>{html.escape(self.note)}</em></p>")
        if not self.second_orders.empty:
            fm = {"new_buyers": "count"} | {f"rate_{w}d": "pct" for w in self.windows}
            parts.append(_fmt_table(self.second_orders.tail(13), fm,
                                    caption="Second-order rate of new buyers by first-order month 二次购买率"))
        if not self.conversion.empty:
            parts.append(_fmt_table(self.conversion.tail(13).drop(columns="complete"),
                                    {"registrants": "count", "converted": "count", "conversion": "pct"},
                                    caption=f"First-order conversion 首单转化率 within {self.window_days} days, by sign-up month"))
        return "\n".join(parts)


def new_customer_report(data) -> NewCustomerReport:
    """First-order conversion (needs ``customers.signup_ts``; a note otherwise) and second-order rates."""
    cfg = _settings(data, "acquisition")
    windows = [int(w) for w in cfg["second_order_windows"]]
    note = _note(data, columns={"orders": ["customer_id"]})
    if note:
        e = _empty(["signup_month", "registrants", "converted", "conversion"])
        return NewCustomerReport(e, e, _empty(["first_month", "new_buyers"]), _empty(["first_month"]), windows, note)
    second = second_order_rates(data, windows=windows)
    second_ch = second_order_rates(data, windows=windows, by="first_channel")
    cnote = _note(data, "customers", columns={"customers": ["signup_ts"]})
    if cnote:
        e = _empty(["signup_month", "registrants", "converted", "conversion"])
        return NewCustomerReport(e, e, second, second_ch, windows,
                                 cnote.replace("this section", "first-order conversion"))
    conv = first_order_conversion(data)
    by = None
    if _has(data, "customers", "acquisition_channel"):
        by = first_order_conversion(data, by="acquisition_channel")
    by = by if by is not None else _empty(["signup_month", "acquisition_channel", "conversion"])
    _let_go(data, "order_channels")  # every order's channel: the customer-day rows carry what the later sections use
    days = _peek(data, "customer_days")
    if days is not None and days[2] is not None:  # the later sections use the customers and days alone
        _let_go(data, "customer_days")
        _cached(data, "customer_days", lambda d, kept=days: (kept[0], kept[1], None, kept[3]))
    del days
    release_free_memory()
    return NewCustomerReport(conv, by, second, second_ch, windows, window_days=int(cfg["first_order_window_days"]))


def plot_new_customers(report: NewCustomerReport, *, ax=None):
    """First-order conversion by sign-up month and the 30/60/90-day second-order rates by first-order
    month, on one percentage axis (masked months are left out)."""
    ax = charts._get_ax(ax)
    drawn = False
    if not report.conversion.dropna(subset=["conversion"]).empty:
        c = report.conversion.dropna(subset=["conversion"])
        ax.plot(pd.PeriodIndex(c["signup_month"], freq="M").to_timestamp(), c["conversion"], marker="o",
                color=charts.PALETTE[0], label=f"first order within {report.window_days} days of sign-up 首单转化率")
        drawn = True
    s = report.second_orders
    for i, w in enumerate(report.windows):  # three windows
        col = f"rate_{w}d"
        if col in s.columns and s[col].notna().any():
            ss = s.dropna(subset=[col])
            ax.plot(pd.PeriodIndex(ss["first_month"], freq="M").to_timestamp(), ss[col], marker="o", ms=3,
                    color=charts.PALETTE[[4, 1, 2][i % 3]], label=f"second order within {w} days 二次购买")
            drawn = True
    if not drawn:
        return _placeholder(ax, report.note or "no new customers to show")
    charts.format_pct_axis(ax)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="center right")
    ax.set_title("New customers: first-order conversion and second-order rates")
    return ax


# =============================================================================================
# Cohorts, repurchase rate and repurchase cycle
# =============================================================================================

def cohort_matrix(data, *, metric: str = "retention", include_first_month: bool = False) -> pd.DataFrame:
    """First-order-month cohorts (同期群) against months since the first order.

    ``metric``:

    - ``"retention"``: share of the cohort with a paid order in month k (month 0 = 100%);
    - ``"revenue"``: GMV of the cohort in month k per cohort customer;
    - ``"cumulative_revenue"``: GMV in months 0..k per cohort customer (historical LTV on GMV).

    Cells after the report month are incomplete and left NaN (masked in the heatmap). The first month
    with orders is left out unless ``include_first_month`` (customers who bought before the data
    began would look new there). Handbook 001 part 1, 002 part 05.

    Returns
    -------
    DataFrame
        index ``first_month`` (``YYYY-MM``), columns 0..K months since; ``.attrs["sizes"]`` holds the
        cohort sizes.
    """
    if metric not in ("retention", "revenue", "cumulative_revenue"):
        raise ValueError("metric must be 'retention', 'revenue' or 'cumulative_revenue'")
    base = _cached(data, f"cohort_base.{bool(include_first_month)}", lambda d: _cohort_base(d, include_first_month))
    mi, codes, cohort, lo, c0, nco, ncols, sizes, rows, retention = base
    report = _report_month(data)
    report_mi = report.year * 12 + report.month - 1
    if metric == "retention":
        cells = retention
    else:  # GMV summed per cohort and month in the orders' order (as a group-by does)
        oc = cohort[codes]
        sel = oc > lo if not include_first_month else np.ones(len(codes), dtype=bool)
        key = (oc[sel] - c0) * ncols + (mi[sel] - oc[sel])
        gmv = pd.Series(_paid_column(data, "paid_amount")[sel]).groupby(key).sum()
        cells = np.zeros(nco * ncols)
        cells[gmv.index.to_numpy()] = gmv.to_numpy()
        cells = cells.reshape(nco, ncols)[rows]
    cohorts = rows + c0
    mat = pd.DataFrame(cells.astype("float64") / sizes[rows][:, None].astype("float64"),
                       index=pd.Index(cohorts, name="cohort"), columns=pd.RangeIndex(ncols, name="k"))
    sizes = pd.Series(sizes[rows], index=mat.index)
    if metric == "cumulative_revenue":
        mat = mat.cumsum(axis=1)
    ks = np.asarray(mat.columns, dtype=int)
    complete = (mat.index.to_numpy()[:, None] + ks[None, :]) <= report_mi
    mat = mat.where(complete)
    label = [str(pd.Period(year=int(c) // 12, month=int(c) % 12 + 1, freq="M")) for c in mat.index]
    mat.index = pd.Index(label, name="first_month")
    mat.columns.name = "months_since"
    mat.attrs["sizes"] = pd.Series(sizes.to_numpy(), index=label, name="customers")
    return mat


def _cohort_base(data, include_first_month: bool) -> tuple:
    """What every metric of :func:`cohort_matrix` shares: the month code and customer code of each
    paid order, each customer's cohort (first month), the first month of data, the first cohort,
    the number of cohorts and of months since, the cohort sizes, the cohorts with customers and the
    retention counts (customers with a paid order per cohort and month since)."""
    mi = _paid_months(data)
    if len(mi) and mi.min() == NO_MONTH:  # a missing time: numbered as the calendar arithmetic does
        mi = _paid_ts(data).astype("datetime64[M]").astype("int64") + 1970 * 12
        days = None
    else:
        days = _peek(data, "customer_days")
    if _peek(data, "keys") is not None or not hasattr(data, "derived"):
        codes, _ = _paid_codes(data)
    else:  # alone on a fresh dataset: the buyers' codes suffice (no customers table read and hashed)
        codes = _cached(data, "paid_only_codes", lambda d: _customer_codes(_paid_orders(d, ["customer_id"])["customer_id"])[0])
    n = int(codes.max()) + 1 if len(codes) else 0
    lo = int(mi.min()) if len(mi) else 0
    cohort = np.full(n, np.iinfo(np.int64).max)
    if days is not None and len(days[0]) and _peek(data, "keys") is not None:
        # each customer once per month with a paid order, from the customer-day rows (sorted by
        # customer and day): where the customer or the month changes; the first is the cohort
        c, d = days[0], days[1]
        dm = _month_ints(d.astype("datetime64[D]"))
        new = np.r_[True, (c[1:] != c[:-1]) | (dm[1:] != dm[:-1])]
        pc_, pm = c[new], dm[new]
        del c, d, dm, new
        first = np.r_[True, pc_[1:] != pc_[:-1]]
        cohort[pc_[first]] = pm[first]
    else:
        span = int(mi.max()) - lo + 1 if len(mi) else 1
        # each customer once per month with a paid order: a customers x months bitmap (no sort, no hash)
        seen = np.zeros(n * span, dtype=bool)
        seen[codes.astype(np.int64) * span + (mi - lo)] = True
        pairs = np.flatnonzero(seen)
        del seen
        pc_, pm = pairs // span, pairs % span + lo
        if len(pc_):  # by customer, then month: a customer's first pair is the cohort
            first = np.r_[True, pc_[1:] != pc_[:-1]]
            cohort[pc_[first]] = pm[first]
    pco = cohort[pc_]
    keep = pco > lo if not include_first_month else np.ones(len(pc_), dtype=bool)
    pk = pm[keep] - pco[keep]
    pco = pco[keep]
    if len(pco):
        c0, nco = int(pco.min()), int(pco.max()) - int(pco.min()) + 1
        kmax = int(pk.max())
    else:
        c0, nco, kmax = 0, 0, 0
    ncols = kmax + 1
    sizes = np.bincount((pco - c0)[pk == 0], minlength=nco)  # month 0: every customer of the cohort
    rows = np.flatnonzero(sizes > 0)
    retention = np.bincount((pco - c0) * ncols + pk, minlength=nco * ncols).reshape(nco, ncols)[rows]
    return mi, codes, cohort, lo, c0, nco, ncols, sizes, rows, retention


def repurchase_trend(data, *, window_months: int | None = None) -> pd.DataFrame:
    """Repurchase rate (复购率) and repurchase cycle (复购周期) month by month.

    - ``repurchase_rate``: of the buyers of the trailing ``window_months`` months, the share who
      bought on two or more different days in those months;
    - ``returning_share``: of the month's buyers, the share with a repeat purchase in the month (an
      order day that follows an earlier one by at most the window);
    - ``cycle_median_days``: median days between a customer's consecutive order days, over the repeat
      orders placed in the month (gaps longer than the window are not counted, so early and late months
      compare fairly).

    Months whose trailing window reaches before the first month of data are NaN. Handbook 001 part 1 (复购
    周期 from 30 to 22 days with a member programme), 002 part 05.

    Returns
    -------
    DataFrame
        month, buyers, repeat_buyers, repurchase_rate, returning_share, repeat_orders,
        cycle_median_days, cycle_mean_days.
    """
    cfg = _settings(data, "acquisition")
    w = int(window_months or cfg["repurchase_window_months"])
    c, d, _, _ = _cached(data, "customer_days", _customer_days)  # one row per customer and order day
    same = np.r_[False, c[1:] == c[:-1]]
    gap = np.where(same, d - np.r_[d[0] if len(d) else 0, d[:-1]], np.nan)
    mon = _month_ints(d.astype("datetime64[D]")) - _EPOCH_MONTH  # months since 1970-01
    horizon = w * 365.25 / 12
    first_mi = int(mon.min())
    report = _report_month(data)
    report_mi = (report.year - 1970) * 12 + report.month - 1
    n_t = report_mi - first_mi + 1  # the months of the table, j = month - first_mi
    # The rows are sorted by customer and day, so each customer's months do not decrease. A customer
    # is a buyer of the window ending in month m when one of its rows has m in [mon, mon + w - 1], a
    # repeat buyer when two consecutive rows are both in the window: m in [mon of the second, mon
    # of the first + w - 1]. A customer's intervals have increasing starts and ends, so cutting each
    # one's start after the previous one's end leaves disjoint parts: customers per month are then
    # counted by differences (one pass, no loop over months).

    def covered(start: np.ndarray, end: np.ndarray, same_customer: np.ndarray) -> np.ndarray:
        # months as small integers from the first month (the window's months fit 32 bits)
        start, end = (start - first_mi).astype(np.int32), (end - first_mi).astype(np.int32)
        prev_end = np.empty_like(end)
        prev_end[0], prev_end[1:] = np.iinfo(np.int32).min + 1, end[:-1]
        start = np.where(same_customer, np.maximum(start, prev_end + 1), start)
        ok = start <= end
        lo_, hi_ = np.clip(start[ok], 0, n_t), np.clip(end[ok] + 1, 0, n_t)
        diff = np.bincount(lo_, minlength=n_t + 1) - np.bincount(hi_, minlength=n_t + 1)
        return np.cumsum(diff)[:n_t]

    buyers = covered(mon, mon + (w - 1), same)
    pair = np.flatnonzero(same)  # rows following a row of the same customer
    repeat = covered(mon[pair], mon[pair - 1] + (w - 1), np.r_[False, same[pair[1:]] & (pair[1:] - 1 == pair[:-1])])
    recent = gap <= horizon
    inside = mon <= report_mi

    def per_month(sel: np.ndarray) -> np.ndarray:  # rows of sel per month of the table
        return np.bincount(mon[sel] - first_mi, minlength=n_t)[:n_t]

    new_pair = np.r_[True, ~same[1:] | (mon[1:] != mon[:-1])]  # a customer's first row of a month
    month_buyers = per_month(new_pair & inside)
    r = np.flatnonzero(recent & inside)
    cr, mr = c[r], mon[r]
    returning = np.bincount(mr[np.r_[True, (cr[1:] != cr[:-1]) | (mr[1:] != mr[:-1])]] - first_mi, minlength=n_t)[:n_t] \
        if len(r) else np.zeros(n_t, dtype=np.int64)
    # the gaps are whole days up to the window: counted per month and gap, medians read off the counts
    g = gap[r].astype(np.int64)
    n_g = int(g.max()) + 1 if len(g) else 1
    hist = np.bincount((mr - first_mi) * n_g + g, minlength=n_t * n_g).reshape(n_t, n_g)
    n_rep = hist.sum(axis=1)
    total_gap = hist @ np.arange(n_g, dtype=np.int64)
    cum = np.cumsum(hist, axis=1)
    rows = []
    for j in range(n_t):  # one row per month of the window (25)
        m = first_mi + j
        k = int(n_rep[j])
        full = m - first_mi >= w - 1  # the trailing window lies inside the data
        if full and k:
            lo_v = float(np.searchsorted(cum[j], (k - 1) // 2, side="right"))
            hi_v = float(np.searchsorted(cum[j], k // 2, side="right"))
            median = (lo_v + hi_v) / 2 if k % 2 == 0 else hi_v
        year, month0 = divmod(m, 12)
        nb, nr, mb, ret = int(buyers[j]), int(repeat[j]), int(month_buyers[j]), int(returning[j])
        rows.append({
            "month": f"{1970 + year:04d}-{month0 + 1:02d}",
            "buyers": nb, "repeat_buyers": nr,
            "repurchase_rate": nr / nb if full and nb else np.nan,
            "returning_share": ret / mb if full and mb else np.nan,
            "repeat_orders": k,
            "cycle_median_days": median if full and k else np.nan,
            "cycle_mean_days": float(np.float64(total_gap[j]) / k) if full and k else np.nan,
        })
    return pd.DataFrame(rows)


@dataclass
class CohortReport:
    """The cohort section: retention and revenue per customer by cohort, repurchase trend."""

    retention: pd.DataFrame
    revenue: pd.DataFrame
    trend: pd.DataFrame
    month: str
    note: str | None = None

    def value(self, column: str, lag: int = 0) -> float | None:
        """``column`` of the repurchase trend in the report month (``lag`` months earlier)."""
        return self.point(column, lag)[1]

    def point(self, column: str, lag: int = 0) -> tuple[str, float | None]:
        """(month, value) of ``column`` in the report month minus ``lag`` months."""
        month = str(pd.Period(self.month, "M") - lag)
        if self.trend.empty:
            return month, None
        hit = self.trend.loc[self.trend["month"] == month, column]
        return month, (None if hit.empty or pd.isna(hit.iloc[0]) else float(hit.iloc[0]))

    def _repr_html_(self) -> str:
        if self.note:
            return f"<p><em>{html.escape(self.note)}</em></p>"
        t = self.trend.dropna(subset=["repurchase_rate"])
        fm = {"buyers": "count", "repeat_buyers": "count", "repurchase_rate": "pct", "returning_share": "pct",
              "repeat_orders": "count", "cycle_median_days": "days", "cycle_mean_days": "days"}
        return _fmt_table(t, fm, caption="Repurchase rate 复购率 (trailing window) and repurchase cycle 复购周期")


def cohort_report(data) -> CohortReport:
    """Retention and revenue-per-customer cohort matrices and the repurchase trend (a note when
    orders carry no customer_id)."""
    note = _note(data, columns={"orders": ["customer_id"]})
    month = str(_report_month(data))
    if note:
        return CohortReport(_empty([0]), _empty([0]), _empty(["month", "repurchase_rate"]), month, note)
    out = CohortReport(cohort_matrix(data, metric="retention"), cohort_matrix(data, metric="cumulative_revenue"),
                       repurchase_trend(data), month)
    _let_go(data, "paid.months", "cohort_base.False", "cohort_base.True")  # the later sections do not use them
    release_free_memory()
    return out


def plot_cohorts(report: CohortReport, *, metric: str = "retention", cohorts: int = 12, months: int = 12, ax=None):
    """Heatmap of the last ``cohorts`` cohorts over their first ``months`` months (incomplete cells blank)."""
    mat = report.retention if metric == "retention" else report.revenue
    if report.note or mat.empty or mat.isna().all().all():
        return _placeholder(ax, report.note or "no cohorts")
    mat = mat.iloc[-cohorts:, : months + 1]
    if metric == "retention":
        mat = mat.drop(columns=0, errors="ignore")  # month 0 is 100% by definition
        title = "Retention: share of the cohort buying in month k 留存率"
        return charts.heatmap(mat, ax=ax, fmt="pct", title=title, cmap="Blues", annot_kws={"fontsize": 7})
    title = "Cumulative GMV per customer by month since the first order 累计客户价值"
    return charts.heatmap(mat, ax=ax, fmt=lambda v: f"{v:,.0f}", title=title, cmap="Greens", annot_kws={"fontsize": 7})


def plot_repurchase_trend(report: CohortReport, *, ax=None):
    """Repurchase rate (left axis) and median repurchase cycle in days (right axis) by month."""
    t = report.trend.dropna(subset=["repurchase_rate"]) if not report.trend.empty else report.trend
    if report.note or t.empty:
        return _placeholder(ax, report.note or "Not enough history for a trailing repurchase rate")
    ax = charts._get_ax(ax)
    x = pd.PeriodIndex(t["month"], freq="M").to_timestamp()
    ax.plot(x, t["repurchase_rate"], marker="o", color=charts.PALETTE[0], label="repurchase rate 复购率 (left)")
    charts.format_pct_axis(ax)
    ax.set_ylim(0, max(0.05, float(t["repurchase_rate"].max()) * 1.3))
    ax2 = ax.twinx()
    ax2.plot(x, t["cycle_median_days"], marker="s", color=charts.PALETTE[1], label="median repurchase cycle, days (right)")
    ax2.set_ylim(0, max(10.0, float(t["cycle_median_days"].max()) * 1.3))
    ax2.grid(False)
    ax2.set_ylabel("days")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower left", fontsize=8)
    ax.set_title("Repurchase rate and repurchase cycle 复购率与复购周期")
    return ax


# =============================================================================================
# Lifecycle stages
# =============================================================================================

def _cached(data, name: str, build):
    """``build(data)`` once per loaded dataset (the customer history, the per-order gross margin)."""
    return per_dataset(data, f"acquisition.{name}", build)


def _peek(data, name: str):
    """The cached value ``name`` of ``data`` when there is one (None otherwise), without building it."""
    return per_dataset_peek(data, f"acquisition.{name}")


def _let_go(data, *names: str) -> None:
    """Forget the cached values ``names`` of ``data`` (order-level arrays that the later sections do
    not use: a shop of seventy million orders holds a few hundred MB in each); a later call that
    needs one builds it again."""
    from .derived import _CACHE

    for name in names:
        _CACHE.pop((id(data), f"acquisition.{name}"), None)


def _history(data) -> _History:
    return _cached(data, "history", _History)


class _History:
    """Customers and their paid orders as sorted arrays, for stage snapshots at any moment."""

    _step = 1 << 20  #: order rows per slice in :meth:`stage_counts`

    def __init__(self, data):
        keys = _keys(data)  # every customer: the customers table's ids first, then buyers not in it
        has_customers = keys.has_customers
        cust = _table(data, "customers", ["signup_ts"]) if has_customers else None
        self.ids = keys.ids
        self.n = keys.n
        order = _cached(data, "paid_sort", _paid_sort)  # by customer code and time
        self.code, self.ts = _sorted_codes(data), _paid_ns(data)[order]
        self.first_ts = _first_paid_ns(data)
        # the times in the table's order are these sorted back (:func:`_restore_paid_ns`): one copy held
        _let_go(data, "paid.ns")
        self.signup = np.full(self.n, np.iinfo(np.int64).min, dtype="int64")  # unknown = registered all along
        self.has_customers = has_customers
        if has_customers and "signup_ts" in cust.columns:
            s = cust["signup_ts"]
            known = s.notna().to_numpy()
            pos = keys.registered
            self.signup[pos[known]] = _ns(s.to_numpy())[known]

    @property
    def next_ts(self) -> np.ndarray:
        """Per row, the time of the same customer's next paid order (none: the largest int64);
        made when asked (a few times per notebook) rather than kept."""
        return self._next_ts(0, len(self.ts))

    def _next_ts(self, lo: int, hi: int) -> np.ndarray:
        """:attr:`next_ts` of the rows ``lo`` to ``hi`` (excluded)."""
        nxt_code, nxt_ts = self.code[lo + 1:hi + 1], self.ts[lo + 1:hi + 1]
        same = self.code[lo:lo + len(nxt_code)] == nxt_code
        if len(nxt_code) < hi - lo:  # the last row has no next row
            same, nxt_ts = np.r_[same, False], np.r_[nxt_ts, 0]
        return np.where(same, nxt_ts, np.iinfo(np.int64).max)

    def last_before(self, t: pd.Timestamp) -> np.ndarray:
        """Per customer, the time of the last paid order before ``t`` (none: the smallest int64):
        the row of each customer whose order is before ``t`` and whose next order is not, found a
        slice of order rows at a time (one row per customer, so the slices do not interact)."""
        tv = np.int64(pd.Timestamp(t).value)
        last = np.full(self.n, np.iinfo(np.int64).min, dtype="int64")
        step = self._step
        for i in range(0, len(self.ts), step):  # a handful of slices of order rows
            ts = self.ts[i:i + step]
            sel = (ts < tv) & (self._next_ts(i, i + len(ts)) >= tv)
            last[self.code[i:i + step][sel]] = ts[sel]
        return last

    def stages(self, t: pd.Timestamp, new_since: pd.Timestamp, dormant: int, churned: int,
               last: np.ndarray | None = None) -> np.ndarray:
        """Stage codes at ``t``: -1 not yet registered, then the index in :data:`STAGES` (``last``:
        :meth:`last_before` of ``t`` when already known)."""
        last = self.last_before(t) if last is None else last
        has = last != np.iinfo(np.int64).min
        tday = np.int64(pd.Timestamp(t).value) // DAY
        days = tday - np.floor_divide(last, DAY)  # meaningless where not has
        # churned past the churned line, dormant past the dormant line, else new or active
        stage = np.where(days > churned, np.int8(4), np.where(
            days > dormant, np.int8(3),
            np.where(self.first_ts >= np.int64(pd.Timestamp(new_since).value), np.int8(1), np.int8(2))))
        if self.has_customers:  # no paid order yet: potential once registered
            stage[~has] = np.where(self.signup[~has] < np.int64(pd.Timestamp(t).value), np.int8(0), np.int8(-1))
        else:
            stage[~has] = -1
        return stage.astype("int8", copy=False)


    def stage_counts(self, ends, new_since, dormant: int, churned: int) -> np.ndarray:
        """Customers in each stage (columns: the index in :data:`STAGES`) at each of the increasing
        times ``ends`` (rows), "new" counting first orders on or after the matching ``new_since``:
        ``bincount(stages(t, ...))`` for every ``t`` at once. Each order row is the customer's last
        order before the times between it and the customer's next order; within those, the stage
        changes at the days the 90 and 180 day lines are crossed and the month that makes a first
        order no longer new: ranges of snapshots, found by binary search and counted by differences.
        The order rows are taken in slices of a million (the counts add up; the arrays of each step
        stay small)."""
        t = np.asarray([pd.Timestamp(e).value for e in ends], dtype="int64")
        starts = np.asarray([pd.Timestamp(e).value for e in new_since], dtype="int64")
        n_t = len(t)
        tday = np.floor_divide(t, DAY)
        not_new = np.searchsorted(starts, self.first_ts, side="right")  # per customer: first snapshot where not new
        diff = np.zeros((len(STAGES), n_t + 1), dtype="int64")

        def add(stage: int, lo: np.ndarray, hi: np.ndarray) -> None:
            ok = lo < hi
            diff[stage] += np.bincount(lo[ok], minlength=n_t + 1)
            diff[stage] -= np.bincount(hi[ok], minlength=n_t + 1)

        step = self._step
        for i in range(0, len(self.ts), step):  # a handful of slices of order rows
            ts = self.ts[i:i + step]
            day = np.floor_divide(ts, DAY)
            a = np.searchsorted(t, ts, side="right")  # first snapshot after the order
            b = np.searchsorted(t, self._next_ts(i, i + len(ts)), side="right")  # first snapshot after the next order
            jd = np.searchsorted(tday, day + dormant, side="right")  # first snapshot past the dormant line
            jc = np.searchsorted(tday, day + churned, side="right")  # ... past the churned line
            jn = not_new[self.code[i:i + step]]
            live_end = np.minimum(b, jd)  # new or active up to here
            add(1, a, np.minimum(live_end, jn))
            add(2, np.maximum(a, jn), live_end)
            add(3, np.maximum(a, jd), np.minimum(b, jc))
            add(4, np.maximum(a, jc), b)
        if self.has_customers:  # registered, no paid order yet
            add(0, np.searchsorted(t, self.signup, side="right"), np.searchsorted(t, self.first_ts, side="left"))
        return np.cumsum(diff, axis=1)[:, :n_t].T


def _restore_paid_ns(data) -> None:
    """Cache the paid orders' times in the table's order (:func:`_paid_ns`) from the customer history's
    sorted copy, when the history holds the only one (see :class:`_History`): the same integers, not
    read from the file again."""
    h, order = _peek(data, "history"), _peek(data, "paid_sort")
    if h is None or order is None or _peek(data, "paid.ns") is not None or len(order) != len(h.ts):
        return
    ns = np.empty_like(h.ts)
    ns[order] = h.ts
    _cached(data, "paid.ns", lambda d: ns)


def _life_cfg(data) -> dict:
    return _settings(data, "lifecycle")


def lifecycle_stages(data, *, as_of: pd.Timestamp | str | None = None, new_since=None) -> pd.DataFrame:
    """Each customer's lifecycle stage (用户生命周期阶段, 000 §3.5) at ``as_of``.

    Absolute rules from settings ``[lifecycle]``:

    - potential (潜在): registered (``customers``) without a paid order yet;
    - new (新客): first paid order on or after ``new_since`` (default: the report month's first day, or
      ``as_of - new_days`` (30 days) when ``as_of`` is given);
    - active (活跃): last paid order at most ``dormant_days`` (90) days before ``as_of``;
    - dormant (沉睡): last paid order more than 90 days ago (001 part 1: "90 days without an order");
    - churned (流失): last paid order more than ``churned_days`` (180) days ago.

    Days count from the day of the last order to ``as_of`` (the end of the observation, exclusive;
    by default the day after the report month).

    Returns
    -------
    DataFrame
        customer_id, stage, first_order_ts, last_order_ts, days_since_last (NaN for potential customers).
        Customers who register after ``as_of`` are not listed.
    """
    cfg = _life_cfg(data)
    if new_since is None:  # default: the report month (as in the monthly flow), or the last new_days days
        new_since = _report_month(data).start_time if as_of is None else pd.Timestamp(as_of) - pd.Timedelta(days=int(cfg["new_days"]))
    as_of = _as_of(data) if as_of is None else pd.Timestamp(as_of)
    new_since = pd.Timestamp(new_since)
    return _lifecycle_stages(data, as_of, new_since, cfg)[0]


def _lifecycle_stages(data, as_of: pd.Timestamp, new_since: pd.Timestamp, cfg) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`lifecycle_stages` and the customer code (:class:`_Keys`) of each of its rows."""
    h = _history(data)
    last = h.last_before(as_of)
    st = h.stages(as_of, new_since, int(cfg["dormant_days"]), int(cfg["churned_days"]), last=last)
    rows = np.flatnonzero(st >= 0)  # the customers listed: registered or buying by as_of
    every = len(rows) == len(st)  # every customer (no copies of the customer arrays)
    first = h.first_ts
    if not every:
        last, first, st = last[rows], first[rows], st[rows]
    nat = np.iinfo(np.int64).min  # NaT as an int64: the times are viewed as datetimes, not converted
    first = np.where(first < np.int64(as_of.value), first, nat)
    # whole days from the last order's day to as_of's day (NaN without an order), in place
    days = np.floor_divide(last, DAY)
    np.subtract(np.int64(as_of.normalize().value) // DAY, days, out=days)
    days = np.where(last == nat, np.nan, days)
    ids = h.ids.array if every else (h.ids.array.take(rows) if isinstance(h.ids.dtype, pd.StringDtype)
                                     else h.ids.to_numpy()[rows])
    # the columns as they are (copy=False): a shop's thirty million customers, each column once
    out = pd.DataFrame({"customer_id": ids, "stage": _text_array(STAGES, st),
                        "first_order_ts": pd.to_datetime(first.view("datetime64[ns]")),
                        "last_order_ts": pd.to_datetime(last.view("datetime64[ns]")),
                        "days_since_last": days.astype("float64", copy=False)}, copy=False)
    return out, rows


def stage_mix(data, *, months: int | None = None) -> pd.DataFrame:
    """Customers in each lifecycle stage at the end of each month (阶段结构).

    "new" is a customer whose first paid order fell in that month. Months without ``churned_days``
    of order history before their end are left out (nobody could be churned yet).

    Returns
    -------
    DataFrame
        month, stage, customers, share (of all registered or buying customers at that month end).
    """
    cfg = _life_cfg(data)
    h = _history(data)
    report = _report_month(data)
    first = pd.Timestamp(h.ts.min()) if len(h.ts) else _as_of(data)
    rows = []
    span = int(months or _settings(data, "report")["history_months"])
    periods = [report - i for i in range(span - 1, -1, -1)]  # one snapshot per month
    periods = [p for p in periods if ((p + 1).start_time - first).days >= int(cfg["churned_days"])]
    if periods:
        table = h.stage_counts([(p + 1).start_time for p in periods], [p.start_time for p in periods],
                               int(cfg["dormant_days"]), int(cfg["churned_days"]))
        for p, counts in zip(periods, table):
            total = counts.sum()
            rows += [{"month": str(p), "stage": s, "customers": int(n), "share": n / total if total else np.nan}
                     for s, n in zip(STAGES, counts)]
    out = pd.DataFrame(rows, columns=["month", "stage", "customers", "share"])
    if not h.has_customers:
        out = out[out["stage"] != "potential"]
    return out.reset_index(drop=True)


def stage_flow(data, *, month: str | None = None) -> pd.DataFrame:
    """Movement between lifecycle stages from the end of the previous month to the end of ``month``.

    Rows are the stage at the start (``unregistered`` for customers who registered or first appeared
    during the month), columns the stage at the end; cells count customers. "new" at the end means
    first paid order during the month. Diagonal cells are customers who stayed.

    Returns
    -------
    DataFrame
        counts, index ``from_stage``, columns ``to_stage``.
    """
    cfg = _life_cfg(data)
    p = pd.Period(month, "M") if month else _report_month(data)
    h = _history(data)
    d, c = int(cfg["dormant_days"]), int(cfg["churned_days"])
    before = h.stages(p.start_time, (p - 1).start_time, d, c)
    after = h.stages((p + 1).start_time, p.start_time, d, c)
    keep = after >= 0
    k = len(STAGES) + 1
    counts = np.bincount((before[keep] + 1).astype("int64") * k + (after[keep] + 1), minlength=k * k).reshape(k, k)
    names = ["unregistered", *STAGES]
    out = pd.DataFrame(counts, index=pd.Index(names, name="from_stage"), columns=pd.Index(names, name="to_stage"))
    out = out.drop(columns="unregistered")
    if not h.has_customers:
        out = out.drop(index="potential", columns="potential")
    return out


def reactivation_rates(data, *, months: int | None = None) -> pd.DataFrame:
    """Of the customers dormant or churned at a snapshot ``months`` months before the end of the report
    month, the share who placed a paid order since (唤醒率 / 召回率).

    001 part 1 reports a 12% recall of churned customers with dedicated offers, and a wake-up message
    to customers silent for 90 days. NaN when the data do not reach far enough back.

    Returns
    -------
    DataFrame
        stage (dormant, churned), snapshot (date), customers, reactivated, rate.
    """
    cfg = _life_cfg(data)
    months = int(months or cfg["reactivation_window_months"])
    end = _as_of(data)
    snap = end - pd.DateOffset(months=months)
    h = _history(data)
    d, c = int(cfg["dormant_days"]), int(cfg["churned_days"])
    first = pd.Timestamp(h.ts.min()) if len(h.ts) else end
    enough = (snap - first).days > c
    st = h.stages(snap, snap - pd.Timedelta(days=int(cfg["new_days"])), d, c)
    later = h.last_before(end) >= np.int64(snap.value)
    rows = []
    for code, name in ((3, "dormant"), (4, "churned")):
        sel = st == code
        n = int(sel.sum()) if enough else 0
        r = int((sel & later).sum()) if enough else 0
        rows.append({"stage": name, "snapshot": snap.date(), "customers": n, "reactivated": r,
                     "rate": r / n if n else np.nan})
    return pd.DataFrame(rows)


# =============================================================================================
# Lifetime value: customer summary, BG/NBD, Gamma-Gamma
# =============================================================================================

def customer_summary(orders: pd.DataFrame, *, as_of, unit: str = "W", amount: str = "paid_amount") -> pd.DataFrame:
    """Per-customer repeat-buying summary for the BG/NBD and Gamma-Gamma models.

    Paid orders placed before ``as_of`` are merged by customer and day (several orders on one day are
    one purchase occasion), then:

    - ``frequency`` = purchase days - 1 (the number of repeat purchases, x);
    - ``recency`` = time from the first to the last purchase day (t_x);
    - ``T`` = time from the first purchase day to ``as_of`` (the customer's age);
    - ``monetary_value`` = mean spend per repeat purchase day, the first day left out (0 when
      frequency is 0), as the Gamma-Gamma model wants.

    Times are in ``unit``: ``"D"`` days, ``"W"`` weeks (default), ``"M"`` months of 30.44 days.

    Parameters
    ----------
    orders : contract ``orders``: customer_id, order_ts and ``amount``; status used when present
        (cancelled orders are left out).
    as_of : end of the observation (exclusive), e.g. ``"2026-11-01"`` for data up to 2026-10-31.
    unit : time unit.
    amount : money column summed per day.

    Returns
    -------
    DataFrame
        customer_id, frequency, recency, T, monetary_value (one row per customer with a paid order
        before ``as_of``, sorted by customer_id).

    Examples
    --------
    >>> orders = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...     "order_ts": pd.to_datetime(["2026-01-01 09:00", "2026-01-01 18:00", "2026-01-15 10:00", "2026-01-08 10:00"]),
    ...     "paid_amount": [10.0, 20.0, 40.0, 5.0]})
    >>> customer_summary(orders, as_of="2026-01-29", unit="W")
      customer_id  frequency  recency    T  monetary_value
    0           a          1      2.0  4.0            40.0
    1           b          0      0.0  3.0             0.0
    """
    if unit not in UNIT_DAYS:
        raise ValueError(f"unit must be one of {', '.join(UNIT_DAYS)}, not {unit!r}")
    _require(orders, "orders", "customer_id", "order_ts", amount)
    as_of = pd.Timestamp(as_of)
    ts = orders["order_ts"].to_numpy(dtype="datetime64[ns]")
    keep = paid_mask(orders).to_numpy(dtype=bool) & orders["customer_id"].notna().to_numpy() & (ts < as_of.to_datetime64())
    # factorize only the kept ids, sorted: the codes are then the output's row numbers
    codes, ids = pd.factorize(orders["customer_id"][keep], sort=True)
    amt = orders[amount].to_numpy(dtype="float64", na_value=np.nan)[keep]
    return _summary_frame(codes, ids, ts[keep], amt, as_of, unit)


def _summary(data, *, as_of, unit: str = "W", with_ids: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`customer_summary` of ``data["orders"]`` from the dataset's customer codes (no text ids
    hashed or sorted again), and the :class:`_Keys` code of each of its rows; without the
    ``customer_id`` column unless ``with_ids`` (a caller that works on the codes alone)."""
    if unit not in UNIT_DAYS:
        raise ValueError(f"unit must be one of {', '.join(UNIT_DAYS)}, not {unit!r}")
    as_of = pd.Timestamp(as_of)
    keys = _keys(data)
    ns = _paid_ns(data)
    keep = (ns < np.int64(as_of.value)) & (ns != np.iinfo(np.int64).min)  # NaT: never before as_of
    every = bool(keep.all())

    def kept(values: np.ndarray) -> np.ndarray:
        return values if every else values[keep]

    code = kept(keys.paid)
    present = np.zeros(keys.n, dtype=bool)
    present[code] = True
    order = keys.text_order()  # codes by their id's text order
    rows = order[present[order]]  # the customers of the summary, sorted by id: code of each row
    row_of = np.full(keys.n, -1, dtype=keys.paid.dtype)  # 32 bits, as the codes
    row_of[rows] = np.arange(len(rows), dtype=row_of.dtype)
    ids = keys.ids[rows] if with_ids else None
    amt = _paid_column(data, "paid_amount")
    amt = kept(amt if amt.dtype == np.float64 else _paid_orders(data, ["paid_amount"])["paid_amount"].to_numpy(
        dtype="float64", na_value=np.nan))
    days = on_first = None
    if as_of == as_of.normalize() and len(rows):  # the orders kept are those of the days before as_of:
        # each customer's order days from the shared customer-day rows (sorted by customer and day)
        c, d, _, _ = _cached(data, "customer_days", _customer_days)
        asof_day = as_of.to_datetime64().astype("datetime64[D]").astype("int64")
        if not (d < asof_day).all():
            inside = d < asof_day
            c, d = c[inside], d[inside]
        starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        ends = np.r_[starts[1:], len(c)] - 1
        at = row_of[c[starts]]
        n_days, first, last = (np.zeros(len(rows), dtype="int64"), np.zeros(len(rows), dtype="int64"),
                               np.zeros(len(rows), dtype="int64"))
        n_days[at], first[at], last[at] = ends - starts + 1, d[starts], d[ends]
        days = (n_days, first, last)
        # whether each order fell on its customer's first order day, a slice of orders at a time (no
        # array of every order's day; the rows not kept are left out afterwards)
        ts, paid, step = _paid_ts(data), keys.paid, 1 << 20
        flags = np.empty(len(ts), dtype=bool)
        for i in range(0, len(ts), step):  # a handful of slices
            flags[i:i + step] = _days(ts[i:i + step]) == first[row_of[paid[i:i + step]]]
        on_first = kept(flags)
        del flags
        day = None
    else:
        day = kept(_days(_paid_ts(data)))
    return _summary_frame(row_of[code], ids, None, amt, as_of, unit, days=days, day=day, on_first=on_first,
                          n_ids=len(rows)), rows


def _summary_frame(codes, ids, ts, amt, as_of: pd.Timestamp, unit: str, *, days=None, day=None,
                   on_first=None, n_ids: int | None = None) -> pd.DataFrame:
    """The frame of :func:`customer_summary` from the kept orders: ``codes`` (row number of each
    order's customer among ``ids``, sorted), order times (or ``day``, their days since 1970) and
    amounts; ``days``: each customer's number of order days, first and last order day when already
    known, and then ``on_first``: whether each order fell on its customer's first day, when known.
    ``ids`` None: no ``customer_id`` column (``n_ids`` customers)."""
    if on_first is None or days is None:
        day = ts.astype("datetime64[D]").astype("int64") if day is None else day
    missing = np.isnan(amt)
    if missing.any():  # a missing amount counts as 0 (no copy of the amounts when none is missing)
        amt = np.where(missing, 0.0, amt)
    del missing
    if len(codes) == 0:
        return pd.DataFrame({"customer_id": pd.Series(dtype="str"), "frequency": pd.Series(dtype="int64"),
                             "recency": [], "T": [], "monetary_value": []})
    n = len(ids) if ids is not None else int(n_ids)
    total = np.bincount(codes, weights=amt, minlength=n)
    if days is not None:
        n_days, first, last = days
        # the first day's amount: its orders summed in the table's order, as below
        on_first = day == first[codes] if on_first is None else on_first
        first_amt = np.bincount(codes[on_first], weights=amt[on_first], minlength=n)
    else:
        d0 = day.min()
        span = np.int64(day.max() - d0 + 1)
        # one purchase occasion per customer and day: hash the (customer, day) pairs (no sort needed)
        occ, pairs = pd.factorize(codes.astype("int64") * span + (day - d0))
        cust = pairs // span
        day_amt = np.bincount(occ, weights=amt, minlength=len(pairs))
        n_days = np.bincount(cust, minlength=n)
        first = np.full(n, np.iinfo(np.int64).max)
        last = np.full(n, np.iinfo(np.int64).min)
        np.minimum.at(first, codes, day)  # ufunc.at is fast since numpy 1.25
        np.maximum.at(last, codes, day)
        first_amt = np.bincount(cust, weights=np.where(pairs % span + d0 == first[cust], day_amt, 0.0), minlength=n)
    frequency = n_days - 1
    scale = UNIT_DAYS[unit]
    asof_day = as_of.to_datetime64().astype("datetime64[D]").astype("int64")
    recency = (last - first) / scale
    T = (asof_day - first) / scale
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, (total - first_amt) / np.maximum(frequency, 1), 0.0)
    out = {"customer_id": pd.Series(ids, copy=False)} if ids is not None else {}
    return pd.DataFrame({**out, "frequency": frequency.astype("int64"), "recency": recency, "T": T,
                         "monetary_value": monetary}, copy=False)  # the new arrays as they are


def _arrays(*cols) -> list[np.ndarray]:
    out = [np.asarray(c, dtype="float64") for c in cols]
    n = {a.shape for a in out if a.ndim}
    if len(n) > 1:
        raise ValueError("frequency, recency and T must have the same length")
    return out


def _check_rft(x, tx, T) -> None:
    if np.any(x < 0) or np.any(np.abs(x - np.round(x)) > 1e-9):
        raise ValueError("frequency must be a whole number of repeat purchases (>= 0)")
    if np.any(tx < 0) or np.any(T < tx - 1e-9):
        raise ValueError("need 0 <= recency <= T for every customer")
    if np.any((x == 0) & (tx > 0)):
        raise ValueError("a customer with frequency 0 must have recency 0")


def bg_nbd_log_likelihood(params, frequency, recency, T) -> np.ndarray:
    """Per-customer log-likelihood of the BG/NBD model (Fader, Hardie & Lee 2005, eq. 6).

    With ``A1 = ln Γ(r+x) - ln Γ(r) + r ln α``, ``A2 = ln B(a, b+x) - ln B(a, b)``,
    ``A3 = -(r+x) ln(α+T)`` and, for x > 0, ``A4 = ln a - ln(b+x-1) - (r+x) ln(α+t_x)``::

        LL = A1 + A2 + ln(exp(A3) + [x > 0] exp(A4))

    computed with ``logaddexp`` so that large x or T never overflow.

    Parameters
    ----------
    params : (r, alpha, a, b), all > 0.
    frequency, recency, T : arrays (x, t_x, T).

    Returns
    -------
    ndarray of log-likelihoods, one per customer.
    """
    r, alpha, a, b = (float(p) for p in params)
    x, tx, T = _arrays(frequency, recency, T)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.where(x > 0, b + x - 1, 1.0)) - (r + x) * np.log(alpha + tx), -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def _compress(*cols):
    """Merge identical (x, t_x, T) rows into one row with the summed weight (the last column).

    With times measured in days or weeks, many customers share the same triple, and the likelihood
    needs each distinct triple only once. Hash-based (no sort): linear in the number of rows."""
    *keys, w = cols
    codes, uniques = [], []
    for k in keys:
        c, u = pd.factorize(k)
        codes.append(c.astype("int64"))
        uniques.append(np.asarray(u))
    sizes = [max(len(u), 1) for u in uniques]
    if math.prod(sizes) >= 2**62:  # the combined key would overflow: keep the rows as they are
        return cols
    key = codes[0]
    for c, size in zip(codes[1:], sizes[1:]):
        key = key * size + c
    inv, distinct = pd.factorize(key)
    if len(distinct) > 0.8 * len(key):
        return cols
    out = []
    rest = np.asarray(distinct, dtype="int64")
    for u, size in zip(uniques[::-1], sizes[::-1]):  # decode the combined key, last column first
        out.append(u[rest % size])
        rest = rest // size
    return (*out[::-1], np.bincount(inv, weights=w, minlength=len(distinct)))


def _bg_nbd_args(x, tx, T, w):
    """The data of :func:`_bg_nbd_nll`, prepared once per fit: terms that depend on x alone are
    computed once per distinct x, and ``ln(α + T)``, ``ln(α + t_x)`` once per distinct T and t_x."""
    ux, inv = np.unique(x, return_inverse=True)
    wx = np.bincount(inv, weights=w, minlength=len(ux))
    z = x == 0
    p = ~z
    uT, iT = np.unique(T[p], return_inverse=True)
    ut, it = np.unique(tx[p], return_inverse=True)
    return ux, wx, (T[z], w[z]), (x[p], w[p], uT, iT, ut, it)


def _bg_nbd_nll(theta, ux, wx, zero, pos):
    """Negative mean log-likelihood of BG/NBD and its gradient in log-parameters.

    Vectorised over customers (arguments from :func:`_bg_nbd_args`); terms that depend only on x are
    computed once per distinct x, logarithms of α + T and α + t_x once per distinct value.
    ``zero`` = (T, w) of customers without repeat purchases, for whom the likelihood reduces to
    ``A1 + A2 + A3``; ``pos`` = (x, w, distinct T, their index, distinct t_x, their index) of the
    others."""
    r, alpha, a, b = np.exp(theta)
    wsum = wx.sum()
    # terms of each distinct x
    g1 = special.gammaln(r + ux) - special.gammaln(r) + r * np.log(alpha)
    g2 = special.betaln(a, b + ux) - special.betaln(a, b)
    ll = (wx * (g1 + g2)).sum()
    dr = (wx * (special.digamma(r + ux) - special.digamma(r) + np.log(alpha))).sum()
    dalpha = wsum * r / alpha
    psi_ab = special.digamma(a + b)
    psi_abx = special.digamma(a + b + ux)
    da = (wx * (psi_ab - psi_abx)).sum()
    db = (wx * (special.digamma(b + ux) - psi_abx - special.digamma(b) + psi_ab)).sum()
    # customers without repeat purchases: A3 = -r ln(alpha + T)
    T0, w0 = zero
    if T0.size:
        la = np.log(alpha + T0)
        ll -= r * (w0 * la).sum()
        dr -= (w0 * la).sum()
        dalpha -= r * (w0 / (alpha + T0)).sum()
    # repeat buyers: ln(exp(A3) + exp(A4)) = A3 + ln(1 + exp(d)), d = A4 - A3
    x, w, uT, iT, ut, it = pos
    if x.size:
        rx = r + x
        la_T = np.log(alpha + uT)[iT]
        la_t = np.log(alpha + ut)[it]
        d = np.log(a) - np.log(b + x - 1) - rx * (la_t - la_T)
        e = np.exp(-np.abs(d))
        pos_d = d > 0
        ll += (w * (np.where(pos_d, d, 0.0) + np.log1p(e) - rx * la_T)).sum()
        w4 = np.where(pos_d, 1.0, e) / (1.0 + e)  # expit(d), without overflow
        ww4 = w * w4
        ww3 = w - ww4
        dr -= (ww3 * la_T + ww4 * la_t).sum()
        dalpha -= (rx * (ww3 * (1.0 / (alpha + uT))[iT] + ww4 * (1.0 / (alpha + ut))[it])).sum()
        da += ww4.sum() / a
        db -= (ww4 / (b + x - 1)).sum()
    grad = np.array([dr * r, dalpha * alpha, da * a, db * b])
    return -ll / wsum, -grad / wsum


class BetaGeoModel:
    """The BG/NBD repeat-buying model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

    While alive a customer buys at a Poisson rate λ ~ Gamma(r, α); after each repeat purchase the
    customer drops out for good with probability p ~ Beta(a, b). Fitted by maximum likelihood on
    (frequency, recency, T) from :func:`customer_summary`.

    Attributes (after ``fit``)
    --------------------------
    params_ : Series r, alpha, a, b.
    standard_errors_ : Series, from the inverse Hessian of the log-likelihood.
    log_likelihood_ : total log-likelihood at the optimum.
    n_customers_ : customers fitted.
    converged_ : whether the optimiser reported success.

    Examples
    --------
    >>> s = customer_summary(data.orders, as_of=data.end)            # doctest: +SKIP
    >>> model = fit_bg_nbd(s["frequency"], s["recency"], s["T"])      # doctest: +SKIP
    >>> model.p_alive(s["frequency"], s["recency"], s["T"])          # doctest: +SKIP
    """

    names = ("r", "alpha", "a", "b")

    def __init__(self, params=None):
        self.params_ = None if params is None else pd.Series(np.asarray(params, dtype=float), index=list(self.names))

    def fit(self, frequency, recency, T, *, weights=None, start=None) -> BetaGeoModel:
        x, tx, T = _arrays(frequency, recency, T)
        _check_rft(x, tx, T)
        if x.size == 0:
            raise ValueError("no customers to fit")
        if not np.any(x > 0):
            raise ValueError("no customer bought twice: the BG/NBD model needs some repeat purchases")
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype="float64")
        if start is None:
            rate = max(float(np.average(x / np.maximum(T, 1e-9), weights=w)), 1e-3)
            start = (1.0, 1.0 / rate, 1.0, 1.0)
        x, tx, T, w = _compress(x, tx, T, w)  # identical customers become one weighted row
        wsum = w.sum()
        theta0 = np.log(np.asarray(start, dtype=float))
        args = _bg_nbd_args(x, tx, T, w)
        with single_thread_blas():
            res = optimize.minimize(_bg_nbd_nll, theta0, args=args, jac=True, method="L-BFGS-B",
                                    bounds=[(-15, 15)] * 4, options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9})
        self.params_ = pd.Series(np.exp(res.x), index=list(self.names))
        self.log_likelihood_ = float(-res.fun * wsum)
        self.n_customers_ = int(round(wsum))
        self.n_distinct_ = int(x.size)
        self.converged_ = bool(res.success)
        self.n_iter_ = int(res.nit)
        self.standard_errors_ = self._standard_errors(lambda th: _bg_nbd_nll(th, *args))
        return self

    def _standard_errors(self, fun) -> pd.Series:
        theta = np.log(self.params_.to_numpy())
        wsum = self.n_customers_
        h = np.zeros((len(theta), len(theta)))
        for i in range(len(theta)):  # 4 parameters
            e = np.zeros_like(theta)
            e[i] = 1e-5
            h[i] = (fun(theta + e)[1] - fun(theta - e)[1]) / 2e-5
        h = (h + h.T) / 2 * wsum
        try:
            cov = np.linalg.inv(h)
            se_log = np.sqrt(np.clip(np.diag(cov), 0, None))
        except np.linalg.LinAlgError:
            se_log = np.full(len(theta), np.nan)
        return pd.Series(se_log * np.exp(theta), index=self.params_.index)  # delta method

    def _p(self):
        if self.params_ is None:
            raise ValueError("fit the model first (or give params)")
        return (float(v) for v in self.params_.to_numpy())

    def log_likelihood(self, frequency, recency, T) -> np.ndarray:
        """Per-customer log-likelihood at the fitted parameters."""
        return bg_nbd_log_likelihood(tuple(self._p()), frequency, recency, T)

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """P(alive | x, t_x, T) = 1 / (1 + [x > 0] a / (b + x - 1) ((α + T) / (α + t_x))^(r + x))
        (FHL 2005 eq. 11); 1 for a customer without repeat purchases (the model lets customers
        drop out only after a repeat purchase)."""
        r, alpha, a, b = self._p()
        x, tx, T = _arrays(frequency, recency, T)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.log(a) - np.log(np.where(x > 0, b + x - 1, 1.0)) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return np.where(x > 0, special.expit(-z), 1.0)

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """Expected repeat purchases in the next ``t`` time units, given (x, t_x, T) (FHL 2005 eq. 10)::

            E[Y(t)] = (a+b+x-1)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))] P(alive)

        The bracket is ``1 - (1-z)^(r+x) 2F1(r+x, b+x; c; z)`` with ``z = t/(α+T+t)``, ``c = a+b+x-1``.
        It is evaluated first after Euler's transformation, ``(1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z)``,
        whose first two arguments do not grow with x (stable for heavy buyers); where that overflows
        (very large a and b, a model fitted on little history) the direct form and then Pfaff's
        transformation ``2F1(r+x, a-1; c; -t/(α+T))`` take over.
        """
        r, alpha, a, b = self._p()
        if abs(a - 1.0) < 1e-7:
            a = 1.0 + 1e-7
        x, tx, T = _arrays(frequency, recency, T)
        t = np.asarray(t, dtype="float64")
        shape = np.broadcast_shapes(x.shape, tx.shape, T.shape, t.shape)
        x, tx, T, t = (np.array(np.broadcast_to(v, shape), dtype="float64").reshape(-1) for v in (x, tx, T, t))
        z = t / (alpha + T + t)
        c = a + b + x - 1
        with np.errstate(all="ignore"):
            bracket = 1.0 - np.exp((a - 1) * np.log1p(-z)) * special.hyp2f1(a + b - 1 - r, a - 1, c, z)
            bad = ~np.isfinite(bracket)
            if bad.any():
                zb, xb, cb = z[bad], x[bad], c[bad]
                direct = 1.0 - np.exp((r + xb) * np.log1p(-zb)) * special.hyp2f1(r + xb, b + xb, cb, zb)
                still = ~np.isfinite(direct)
                if still.any():
                    direct[still] = 1.0 - special.hyp2f1(r + xb[still], a - 1, cb[still], -t[bad][still] / (alpha + T[bad][still]))
                bracket[bad] = direct
            unconditional = c / (a - 1) * bracket
        return (unconditional * self.p_alive(x, tx, T)).reshape(shape)

    def expected_purchases_new(self, t) -> np.ndarray:
        """Expected repeat purchases in (0, t] of a customer just acquired (FHL 2005 eq. 9)::

            E[X(t)] = (a+b-1)/(a-1) [1 - (α/(α+t))^r 2F1(r, b; a+b-1; t/(α+t))]
        """
        t = np.asarray(t, dtype="float64")
        zero = np.zeros_like(t)
        return self.expected_purchases(t, zero, zero, zero)

    def summary(self) -> pd.DataFrame:
        """Parameters with standard errors and what each means."""
        meaning = {"r": "shape of the purchase-rate distribution", "alpha": "scale of the purchase rate (time units)",
                   "a": "dropout probability Beta(a, b)", "b": "dropout probability Beta(a, b)"}
        return pd.DataFrame({"estimate": self.params_, "std_error": getattr(self, "standard_errors_", np.nan),
                             "meaning": pd.Series(meaning)})


def fit_bg_nbd(frequency, recency, T, *, weights=None) -> BetaGeoModel:
    """Fit the BG/NBD model by maximum likelihood (L-BFGS on log-parameters with the analytic gradient).

    Parameters
    ----------
    frequency, recency, T : per-customer x, t_x and T (see :func:`customer_summary`).
    weights : optional counts when each row stands for several identical customers.

    Returns
    -------
    BetaGeoModel
        fitted: ``params_`` (r, alpha, a, b), ``expected_purchases(t, frequency, recency, T)``,
        ``p_alive(frequency, recency, T)``.

    Examples
    --------
    >>> sim = simulate_bg_nbd(50_000, r=0.243, alpha=4.414, a=0.793, b=2.426, T=39, seed=1)
    >>> fit_bg_nbd(sim["frequency"], sim["recency"], sim["T"]).params_.round(1).tolist()  # doctest: +SKIP
    [0.2, 4.4, 0.8, 2.4]
    """
    return BetaGeoModel().fit(frequency, recency, T, weights=weights)


def gamma_gamma_log_likelihood(params, frequency, monetary_value) -> np.ndarray:
    """Per-customer log-likelihood of the Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and
    CLV"; Fader & Hardie 2013, note 025) for the mean spend m of x repeat purchases::

        LL = ln Γ(px+q) - ln Γ(px) - ln Γ(q) + q ln v + (px-1) ln m + px ln x - (px+q) ln(v + x m)
    """
    p, q, v = (float(z) for z in params)
    x, m = _arrays(frequency, monetary_value)
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(v)
            + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(v + x * m))


def _gg_nll(theta, x, m, w, wsum, ux, inv, wx, s1, s2):
    """Negative mean log-likelihood of Gamma-Gamma and its gradient in log-parameters. ``s1`` =
    sum w x (ln m + ln x) and ``s2`` = sum w ln m do not depend on the parameters."""
    p, q, v = np.exp(theta)
    px = p * ux
    vxm = v + x * m
    lvxm = np.log(vxm)
    wl = w * lvxm
    sum_xl = (wl * x).sum()
    sum_l = wl.sum()
    ll = ((wx * (special.gammaln(px + q) - special.gammaln(px))).sum() + wsum * (q * np.log(v) - special.gammaln(q))
          + p * s1 - s2 - p * sum_xl - q * sum_l)
    psi_pq = special.digamma(px + q)
    dp = (wx * ux * (psi_pq - special.digamma(px))).sum() + s1 - sum_xl
    dq = (wx * psi_pq).sum() + wsum * (np.log(v) - special.digamma(q)) - sum_l
    dv = wsum * q / v - (w * (p * x + q) / vxm).sum()
    grad = np.array([dp * p, dq * q, dv * v])
    return -ll / wsum, -grad / wsum


class GammaGammaModel:
    """The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV").

    A customer's transactions are Gamma(p, ν) around a personal mean p/ν, with ν ~ Gamma(q, v) across
    customers; spend is assumed independent of purchase frequency. Fitted on customers with at
    least one repeat purchase (their ``monetary_value`` from :func:`customer_summary`).

    Attributes (after ``fit``): ``params_`` (p, q, v), ``standard_errors_``, ``log_likelihood_``,
    ``n_customers_``, ``converged_``.
    """

    names = ("p", "q", "v")

    def __init__(self, params=None):
        self.params_ = None if params is None else pd.Series(np.asarray(params, dtype=float), index=list(self.names))

    def fit(self, frequency, monetary_value, *, weights=None) -> GammaGammaModel:
        x, m = _arrays(frequency, monetary_value)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype="float64")
        keep = (x > 0) & (m > 0)
        x, m, w = x[keep], m[keep], w[keep]
        if x.size < 3:
            raise ValueError("the Gamma-Gamma model needs customers with repeat purchases and positive spend")
        ux, inv = np.unique(x, return_inverse=True)
        wx = np.bincount(inv, weights=w)
        wsum = w.sum()
        mean = float(np.average(m, weights=w))
        lm = np.log(m)
        args = (x, m, w, wsum, ux, inv, wx, float((w * x * (lm + np.log(x))).sum()), float((w * lm).sum()))
        best = None
        for start in ((1.0, 2.0, mean), (5.0, 5.0, 4.0 * mean / 5.0)):  # a second start only if the first fails
            with single_thread_blas():
                res = optimize.minimize(_gg_nll, np.log(start), args=args, jac=True, method="L-BFGS-B",
                                        bounds=[(-15, 15)] * 3, options={"maxiter": 3000, "ftol": 1e-14, "gtol": 1e-10})
            if best is None or res.fun < best.fun:
                best = res
            if best.success:
                break
        self.params_ = pd.Series(np.exp(best.x), index=list(self.names))
        self.log_likelihood_ = float(-best.fun * wsum)
        self.n_customers_ = int(wsum)
        self.converged_ = bool(best.success)
        self.standard_errors_ = BetaGeoModel._standard_errors(self, lambda th: _gg_nll(th, *args))
        return self

    def log_likelihood(self, frequency, monetary_value) -> np.ndarray:
        return gamma_gamma_log_likelihood(tuple(self.params_), frequency, monetary_value)

    def expected_spend(self, frequency, monetary_value) -> np.ndarray:
        """Expected spend per future transaction::

            E(M | x, m) = (q - 1) / (px + q - 1) * pv / (q - 1) + px / (px + q - 1) * m

        a weighted average of the population mean ``pv / (q - 1)`` and the customer's own mean, the
        customer's weight growing with the number of repeat purchases. Customers without repeat
        purchases get the population mean. Needs q > 1.
        """
        p, q, v = (float(z) for z in self.params_)
        x, m = _arrays(frequency, monetary_value)
        m = np.where(x > 0, m, 0.0)
        return (p * (v + x * m)) / (p * x + q - 1)

    def population_mean(self) -> float:
        """Mean spend per transaction across customers, pv / (q - 1)."""
        p, q, v = (float(z) for z in self.params_)
        return p * v / (q - 1)

    def summary(self) -> pd.DataFrame:
        meaning = {"p": "shape of spend per transaction", "q": "shape of the spend-scale distribution",
                   "v": "scale of the spend-scale distribution (money)"}
        return pd.DataFrame({"estimate": self.params_, "std_error": getattr(self, "standard_errors_", np.nan),
                             "meaning": pd.Series(meaning)})


def fit_gamma_gamma(frequency, monetary_value, *, weights=None) -> GammaGammaModel:
    """Fit the Gamma-Gamma spend model by maximum likelihood (customers with frequency 0 or no spend
    are left out, as the model requires).

    Returns
    -------
    GammaGammaModel
        fitted: ``params_`` (p, q, v) and ``expected_spend(frequency, monetary_value)``.
    """
    return GammaGammaModel().fit(frequency, monetary_value, weights=weights)


def simulate_bg_nbd(n: int, *, r: float, alpha: float, a: float, b: float, T, seed: int = 0) -> pd.DataFrame:
    """Draw ``n`` customers from the BG/NBD process (for checking the fitter and teaching).

    Each customer gets λ ~ Gamma(r, rate α) and p ~ Beta(a, b); repeat purchases arrive as a Poisson
    process on (0, T]; after each one the customer drops out with probability p. Vectorised: the
    dropout purchase D ~ Geometric(p), N(T) ~ Poisson(λT), x = min(N, D), and the time of the x-th of
    N uniform arrivals is T · Beta(x, N - x + 1).

    Parameters
    ----------
    T : a number or an array of n ages.
    seed : random seed.

    Returns
    -------
    DataFrame
        frequency, recency, T (and the drawn ``lam`` and ``p``).
    """
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, dtype="float64"), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    d = rng.geometric(np.clip(p, 1e-12, 1.0))
    n_arr = rng.poisson(lam * T)
    x = np.minimum(n_arr, d)
    pos = x > 0
    tx = np.zeros(n)
    tx[pos] = T[pos] * rng.beta(x[pos], n_arr[pos] - x[pos] + 1)
    return pd.DataFrame({"frequency": x.astype("int64"), "recency": tx, "T": T, "lam": lam, "p": p})


def simulate_gamma_gamma(frequency, *, p: float, q: float, v: float, seed: int = 0) -> np.ndarray:
    """Mean spend of each customer's ``frequency`` transactions under the Gamma-Gamma model (0 when
    frequency is 0): ν ~ Gamma(q, rate v), each transaction ~ Gamma(p, rate ν), so the mean of x of
    them ~ Gamma(px, rate xν)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype="float64")
    nu = rng.gamma(q, 1.0 / v, x.size)
    pos = x > 0
    m = np.zeros(x.size)
    m[pos] = rng.gamma(p * x[pos], 1.0 / (x[pos] * nu[pos]))
    return m


# =============================================================================================
# Customer value: the two models applied to the shop
# =============================================================================================

def _margin_rate(data) -> float:
    """The shop's gross-margin rate: gross margin / GMV of the paid orders (NaN without a cost),
    once per dataset; from the margins the dataset holds, else from margins made for it alone."""
    def build(d) -> float:
        parts = _own_margins(d)
        m = parts[0] if parts is not None else _margins(d) if not hasattr(d, "derived") else _gross_margin(d)[0]
        gm = m["gross_margin"].sum(min_count=1)
        return float(gm / m["gmv"].sum()) if pd.notna(gm) and m["gmv"].sum() > 0 else np.nan

    return _cached(data, "margin_rate", build)


@dataclass
class CustomerValue:
    """Historical and predicted value of every customer, with the fitted models."""

    table: pd.DataFrame
    bg_nbd: BetaGeoModel | None
    gamma_gamma: GammaGammaModel | None
    as_of: pd.Timestamp | None
    unit: str = "W"
    horizon_months: int = 12
    margin_rate: float = float("nan")
    note: str | None = None

    def params(self) -> pd.DataFrame:
        """Both models' parameters with standard errors."""
        if self.bg_nbd is None:
            return _empty(["model", "parameter", "estimate", "std_error", "meaning"])
        parts = [self.bg_nbd.summary().assign(model="BG/NBD (purchases)")]
        if self.gamma_gamma is not None:
            parts.append(self.gamma_gamma.summary().assign(model="Gamma-Gamma (spend)"))
        out = pd.concat(parts).rename_axis("parameter").reset_index()
        return out[["model", "parameter", "estimate", "std_error", "meaning"]]

    def total(self, column: str) -> float | None:
        return None if self.table.empty or column not in self.table else float(self.table[column].sum())

    def _repr_html_(self) -> str:
        if self.note:
            return f"<p><em>{html.escape(self.note)}</em></p>"
        t = self.params()
        return _fmt_table(t, {"estimate": "num", "std_error": "num"},
                          caption=f"Fitted on {len(self.table):,} customers, time unit {self.unit}")


def customer_value(data, *, as_of=None, unit: str | None = None, horizon_months: int | None = None) -> CustomerValue:
    """Historical and predicted lifetime value (LTV, 用户生命周期价值) of every customer.

    Fits BG/NBD on (frequency, recency, T) and Gamma-Gamma on (frequency, monetary_value) from
    :func:`customer_summary` at ``as_of`` (default: the day after the report month), then per customer
    ``predicted_gmv = expected purchases in the next horizon x expected spend per purchase`` and
    ``predicted_margin = predicted_gmv x the shop's gross-margin rate`` (no discounting). Handbook
    000 §3.5 (LTV), 002 part 05.

    Parameters
    ----------
    data : needs ``orders`` with customer_id; ``order_items`` + ``products.unit_cost`` for the margin.
    unit : settings ``lifecycle.clv_unit`` ("W").
    horizon_months : settings ``acquisition.ltv_horizon_months`` (12).

    Returns
    -------
    CustomerValue
        ``.table``: customer_id, frequency, recency, T, monetary_value, p_alive, expected_purchases,
        expected_spend, predicted_gmv, predicted_margin, historical_gmv, paid_orders, first_order_ts,
        last_order_ts, days_since_last, first_channel; ``.bg_nbd`` and ``.gamma_gamma`` the models.
    """
    life = _settings(data, "lifecycle")
    acq = _settings(data, "acquisition")
    unit = unit or life["clv_unit"]
    horizon = int(horizon_months or acq["ltv_horizon_months"])
    note = _note(data, columns={"orders": ["customer_id"]})
    if note:
        return CustomerValue(_empty(["customer_id", "p_alive", "predicted_gmv"]), None, None, None, unit, horizon, note=note)
    as_of = _as_of(data) if as_of is None else pd.Timestamp(as_of)
    if hasattr(data, "derived"):  # a dataset: its customer codes, no text ids hashed again
        s, codes = _summary(data, as_of=as_of, unit=unit)
    else:
        s, codes = customer_summary(_orders(data, _orders_columns(data)), as_of=as_of, unit=unit), None
    bg = fit_bg_nbd(s["frequency"], s["recency"], s["T"])
    gg = fit_gamma_gamma(s["frequency"], s["monetary_value"])
    t = horizon * UNIT_DAYS["M"] / UNIT_DAYS[unit]
    # customer by customer, a slice at a time (see _by_slices)
    s["p_alive"] = _by_slices(bg.p_alive, s["frequency"], s["recency"], s["T"])
    s["expected_purchases"] = _by_slices(lambda x, tx, T_: bg.expected_purchases(t, x, tx, T_), s["frequency"], s["recency"], s["T"])
    s["expected_spend"] = _by_slices(gg.expected_spend, s["frequency"], s["monetary_value"])
    s["predicted_gmv"] = s["expected_purchases"] * s["expected_spend"]
    rate = _margin_rate(data)
    s["predicted_margin"] = s["predicted_gmv"] * rate
    _add_history(s, data, as_of)
    out = CustomerValue(s, bg, gg, as_of, unit, horizon, rate)
    if codes is not None:  # the dataset code of each table row, for lookups without text ids
        out._keys, out._codes = _keys(data), codes
    release_free_memory()
    return out


#: customers per slice in :func:`_by_slices`
_CUSTOMER_CHUNK = 1 << 21


def _by_slices(fn, *cols) -> np.ndarray:
    """``fn(*cols)`` for a function of the customers' columns that works customer by customer (the
    models' formulas), computed :data:`_CUSTOMER_CHUNK` customers at a time: the same values, with
    the formulas' temporary arrays of a slice rather than of thirty million customers."""
    arrays = [c.to_numpy() if isinstance(c, pd.Series) else np.asarray(c) for c in cols]
    n = len(arrays[0])
    if n <= _CUSTOMER_CHUNK:
        return fn(*arrays)
    out = None
    for i in range(0, n, _CUSTOMER_CHUNK):
        part = fn(*(a[i:i + _CUSTOMER_CHUNK] for a in arrays))
        if out is None:
            out = np.empty(n, dtype=part.dtype)
        out[i:i + len(part)] = part
    return out


def _add_history(s: pd.DataFrame, data, as_of: pd.Timestamp) -> None:
    """Add to the value table ``s`` each customer's past from the shared ``customer_summary``:
    historical_gmv, paid_orders, first_order_ts, last_order_ts, first_channel, days_since_last
    (nothing for a plain mapping of tables)."""
    head = _summary_columns(data, ["customer_id"])
    if head is None:
        return
    h = pd.DataFrame(index=pd.Index(head["customer_id"], name="customer_id"))
    del head
    lookup = _mapper(s["customer_id"], h)  # one lookup of the ids for the five columns
    # the summary's columns read one at a time (a shop's thirty million customers: a few hundred MB each)
    for name, col in (("historical_gmv", "gmv"), ("paid_orders", "paid_orders"), ("first_order_ts", "first_order_ts"),
                      ("last_order_ts", "last_order_ts"), ("first_channel", "first_channel")):
        part = _summary_columns(data, [col])
        if col not in part.columns:  # no channel: no first_channel
            continue
        h[col] = part[col].to_numpy() if part[col].dtype != _STR else part[col].array
        del part
        s[name] = lookup(col)
        del h[col]
    s["days_since_last"] = (as_of.normalize() - s["last_order_ts"].dt.normalize()).dt.days


def holdout_check(data, *, holdout_months: int | None = None, unit: str | None = None, max_bin: int = 7) -> pd.DataFrame:
    """How well the BG/NBD model forecasts: calibrate on the data before the last ``holdout_months``,
    predict each customer's repeat purchases in the holdout, and compare with what happened, by the
    number of repeat purchases in the calibration period (FHL 2005, figure 4 style).

    Returns
    -------
    DataFrame
        frequency_bin (``"0"`` .. ``"7+"``), customers, actual (mean holdout purchases), predicted;
        ``.attrs`` holds ``cut`` (the calibration end), ``total_actual``, ``total_predicted`` and
        ``error`` (predicted / actual - 1 over all customers).
    """
    life = _settings(data, "lifecycle")
    acq = _settings(data, "acquisition")
    unit = unit or life["clv_unit"]
    months = int(holdout_months or acq["holdout_months"])
    end = _as_of(data)
    cut = end - pd.DateOffset(months=months)
    if hasattr(data, "derived"):  # a dataset: its customer codes, no text ids hashed again
        cal, rows = _summary(data, as_of=cut, unit=unit, with_ids=False)  # joined on the codes: no text ids
    else:
        cal = customer_summary(_orders(data, _orders_columns(data)), as_of=cut, unit=unit)
        rows = None
    model = fit_bg_nbd(cal["frequency"], cal["recency"], cal["T"])
    t = (end - cut).days / UNIT_DAYS[unit]
    cal["predicted"] = _by_slices(lambda x, tx, T_: model.expected_purchases(t, x, tx, T_),
                                  cal["frequency"], cal["recency"], cal["T"])  # a slice of customers at a time
    keys = _keys(data)
    if cut == cut.normalize() and end == end.normalize():  # whole days: the shared customer-day rows
        c, d, _, _ = _cached(data, "customer_days", _customer_days)
        day0, day1 = (np.int64(x.to_datetime64().astype("datetime64[D]").astype("int64")) for x in (cut, end))
        per_code = np.bincount(c[(d >= day0) & (d < day1)], minlength=keys.n).astype("float64")
    else:
        paid = _paid_orders(data, ["order_ts"])
        ts = paid["order_ts"].to_numpy()
        inside = (ts >= cut.to_datetime64()) & (ts < end.to_datetime64())
        # holdout purchase days per customer: distinct (customer code, day) pairs, counted per code
        code = keys.paid[inside]
        day = ts[inside].astype("datetime64[D]").astype("int64")
        pairs = pd.unique(code * np.int64(1 << 32) + (day - (day.min() if len(day) else 0)))
        per_code = np.bincount(pairs >> 32, minlength=keys.n).astype("float64")
    if rows is None:
        rows = _positions(cal["customer_id"], keys.ids)
    cal["actual"] = np.where(rows >= 0, per_code[rows], 0.0)
    cal["frequency_bin"] = np.minimum(cal["frequency"], max_bin)
    out = cal.groupby("frequency_bin").agg(customers=("actual", "size"), actual=("actual", "mean"),
                                           predicted=("predicted", "mean")).reset_index()
    out["frequency_bin"] = [f"{b}+" if b == max_bin else str(b) for b in out["frequency_bin"]]
    out.attrs.update(cut=cut.date(), total_actual=float(cal["actual"].sum()), total_predicted=float(cal["predicted"].sum()),
                     error=float(cal["predicted"].sum() / cal["actual"].sum() - 1) if cal["actual"].sum() else np.nan,
                     params=model.params_.to_dict())
    return out


def plot_holdout(table: pd.DataFrame, *, ax=None):
    """Actual against predicted holdout purchases per customer, by calibration-period repeat purchases."""
    if table.empty:
        return _placeholder(ax, "no holdout")
    ax = charts._get_ax(ax)
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["actual"], width=0.4, label="actual 实际", color=charts.PALETTE[0])
    ax.bar(x + 0.2, table["predicted"], width=0.4, label="predicted by BG/NBD 预测", color=charts.PALETTE[1])
    ax.set_xticks(x, table["frequency_bin"])
    ax.set_xlabel(f"repeat purchases before {table.attrs.get('cut', 'the cut')} (calibration)")
    ax.set_ylabel("mean purchases per customer in the holdout")
    err = table.attrs.get("error")
    ax.set_title("Holdout check: forecast vs what happened" + (f" (total error {err:+.1%})" if err is not None else ""))
    ax.legend()
    return ax


def value_tiers(value: CustomerValue, *, cutoffs=None, data=None, tier_of: bool = True) -> pd.DataFrame:
    """Customers in value tiers (价值分层) by predicted value over the horizon.

    Customers are ranked by ``predicted_gmv`` (ties broken by customer id): the top ``cutoffs[0]``
    (20%) are **high**, up to ``cutoffs[1]`` (50%) **middle**, the rest **low**. Per tier: customers,
    their share of predicted and historical value, mean P(alive) and orders. Settings
    ``lifecycle.value_tier_cutoffs``.

    Returns
    -------
    DataFrame
        tier, customers, predicted_gmv, predicted_share, historical_gmv, historical_share,
        mean_p_alive, mean_paid_orders, predicted_per_customer. ``.attrs["tier_of"]`` maps customer ids
        to tiers (unless ``tier_of`` is False: a series as long as the customers, which the value
        report leaves out).
    """
    if cutoffs is None:
        cutoffs = _settings(data, "lifecycle")["value_tier_cutoffs"] if data is not None else (0.2, 0.5)
    t = value.table
    cols = ["tier", "customers", "predicted_gmv", "predicted_share", "historical_gmv", "historical_share",
            "mean_p_alive", "mean_paid_orders", "predicted_per_customer"]
    if value.note or t.empty:
        return pd.DataFrame(columns=cols)
    pred = t["predicted_gmv"].to_numpy(dtype="float64")
    if getattr(value, "_codes", None) is not None and len(value._codes) == len(t):
        # the table of customer_value is sorted by customer id: a stable sort on the value alone
        # keeps the ids of equal values in order (as sorting on both would; NaN last)
        idx = np.argsort(-pred, kind="stable")
    else:
        narrow = t[["predicted_gmv", "customer_id"]].reset_index(drop=True)
        idx = narrow.sort_values(["predicted_gmv", "customer_id"], ascending=[False, True], kind="stable").index.to_numpy()

    def ranked(col: str) -> np.ndarray:  # a column in rank order (no copy of the whole table)
        return t[col].to_numpy()[idx]

    n = len(idx)
    rank = np.arange(1, n + 1) / n
    lo, hi = float(cutoffs[0]), float(cutoffs[1])
    names = [f"high (top {lo:.0%})", f"middle (next {hi - lo:.0%})", f"low (bottom {1 - hi:.0%})"]
    tier_code = np.where(rank <= lo, 0, np.where(rank <= hi, 1, 2))
    # each column grouped by tier on its own (the sums and means a group-by of them all in one frame
    # gives): one ranked column of the customers at a time
    columns = {"predicted_gmv": (lambda: pred[idx], "sum"),
               "historical_gmv": (lambda: ranked("historical_gmv") if "historical_gmv" in t.columns else np.full(n, np.nan), "sum"),
               "mean_p_alive": (lambda: ranked("p_alive"), "mean"),
               "mean_paid_orders": (lambda: (ranked("paid_orders") if "historical_gmv" in t.columns
                                            else (t["frequency"] + 1).to_numpy()[idx]), "mean")}
    out = pd.DataFrame({"customers": pd.Series(tier_code).groupby(tier_code).size()})
    for name, (values, how) in columns.items():
        out[name] = getattr(pd.Series(values()).groupby(tier_code), how)()
    out.index = pd.Index(np.array(names, dtype=object)[out.index.to_numpy()], name="tier")
    out = out.reindex(names).reset_index()
    out["predicted_share"] = out["predicted_gmv"] / out["predicted_gmv"].sum()
    out["historical_share"] = out["historical_gmv"] / out["historical_gmv"].sum()
    out["predicted_per_customer"] = out["predicted_gmv"] / out["customers"]
    if tier_of:
        out.attrs["tier_of"] = pd.Series(_text_array(names, tier_code), index=pd.Index(t["customer_id"].take(idx)).rename(None))
    return out[cols]


def member_comparison(data, value: CustomerValue | None = None, *, window_months: int | None = None) -> pd.DataFrame:
    """Members against non-members (会员 vs 非会员) over the buyers of the trailing window.

    Per member tier, and for members (any tier other than ``none``) and non-members together:
    buyers, share of buyers, GMV and its share, AOV, orders per buyer, repurchase rate (buyers with two
    or more order days in the window) and, with ``value``, mean predicted value and P(alive).
    Handbook 002 part 01 (member repurchase rate up to 45%), 001 part 1 (gold members' repurchase cycle).

    Returns
    -------
    DataFrame
        group, buyers, buyer_share, gmv, gmv_share, aov, orders_per_buyer, repurchase_rate,
        predicted_per_customer, mean_p_alive. A note row when ``customers.member_tier`` is absent.
    """
    acq = _settings(data, "acquisition")
    w = int(window_months or acq["repurchase_window_months"])
    keys = _keys(data)
    own = keys.registered is not None  # the code of each customers row: the ids are not read again
    cust = _table(data, "customers", ([] if own else ["customer_id"]) + ["member_tier"])
    _require(cust, "customers", *([] if own else ["customer_id"]), "member_tier")
    end = _as_of(data)
    start = end - pd.DateOffset(months=w)
    ts = _paid_ts(data)
    inside = (ts >= start.to_datetime64()) & (ts < end.to_datetime64())
    code = keys.paid[inside]
    # buyers grouped on integer codes ranked as their ids sort: the rows come out in customer-id order
    ranked = keys.rank()[code]
    per = pd.DataFrame({"r": ranked, "gmv": _paid_column(data, "paid_amount")[inside]}).groupby("r").agg(
        orders=("gmv", "size"), gmv=("gmv", "sum"))
    buyer = keys.text_order()[per.index.to_numpy()]  # the code of each buyer
    if start == start.normalize() and end == end.normalize():  # whole days: the shared customer-day rows
        c, d, _, _ = _cached(data, "customer_days", _customer_days)
        day0, day1 = (np.int64(x.to_datetime64().astype("datetime64[D]").astype("int64")) for x in (start, end))
        per["days"] = np.bincount(c[(d >= day0) & (d < day1)], minlength=keys.n)[buyer]
    else:
        day = ts[inside].astype("datetime64[D]").astype("int64")
        pairs = pd.unique(code * np.int64(1 << 32) + (day - (day.min() if len(day) else 0)))
        per["days"] = np.bincount(pairs >> 32, minlength=keys.n)[buyer]
    # member tier of each buyer: the first customers row of the id ("none" when absent or blank)
    tier_codes, tier_names = pd.factorize(cust["member_tier"].fillna("none").astype("str"))
    tier_names = np.asarray(tier_names, dtype=object)
    tier_names = np.where(np.array([str(t).strip() == "" for t in tier_names], dtype=bool), "none", tier_names)
    reg = keys.registered if own and len(keys.registered) == len(cust) else \
        _positions(_table(data, "customers", ["customer_id"])["customer_id"].astype("str"), keys.ids)
    tier_of = np.full(keys.n + 1, -1, dtype="int64")  # the last cell: ids not found
    tier_of[reg[::-1]] = tier_codes[::-1]  # the first row of a repeated id wins
    labels = np.append(tier_names, "none").astype(object)
    # tiers and member groups as integer codes of their distinct names (a handful), named at the end
    label_code, label_names = pd.factorize(pd.Series(labels, dtype=object))
    label_names = [str(v) for v in label_names]
    tier = label_code[tier_of[buyer]]
    non_member = np.array([str(t).lower() == "none" for t in labels], dtype=bool)  # per tier, not per buyer
    member = non_member[tier_of[buyer]].astype(np.int64)  # 0: members, 1: non-members
    if value is not None and not value.table.empty:
        if getattr(value, "_keys", None) is keys:  # the value table's rows as codes: no text lookup
            row = np.full(keys.n, -1, dtype="int64")
            row[value._codes] = np.arange(len(value._codes), dtype="int64")
            at = row[buyer]
            found = at >= 0
            pick = (lambda col: np.where(found, value.table[col].to_numpy(dtype="float64")[np.where(found, at, 0)], np.nan))
        else:
            ids = pd.Series(keys.ids[buyer])
            lookup = _mapper(ids, value.table.set_index("customer_id"))
            pick = (lambda col: lookup(col).to_numpy(dtype="float64"))
        per["pred"] = pick("predicted_gmv")
        per["p_alive"] = pick("p_alive")
    else:
        per["pred"] = np.nan
        per["p_alive"] = np.nan
    known = ["none", "silver", "gold", "platinum", "diamond"]
    present = {label_names[i] for i in np.unique(tier)}
    tiers = [t for t in known if t in present] + sorted(present - set(known))
    per["repeat"] = (per["days"] >= 2).astype("float64")

    def agg(key: np.ndarray, names: list) -> pd.DataFrame:  # grouped on codes, each group's rows in order
        g = per.groupby(key)
        out = pd.DataFrame({"buyers": g.size(), "gmv": g["gmv"].sum(), "orders": g["orders"].sum(),
                            "repeat": g["repeat"].mean(),
                            "predicted_per_customer": g["pred"].mean(), "mean_p_alive": g["p_alive"].mean()})
        out.index = pd.Index([names[i] for i in out.index.to_numpy()])
        return out

    out = pd.concat([agg(tier, label_names).reindex(tiers),
                     agg(member, ["members (all tiers)", "non-members"]).reindex(["members (all tiers)", "non-members"])])
    out.index.name = "group"
    out["buyer_share"] = out["buyers"] / len(per)
    out["gmv_share"] = out["gmv"] / per["gmv"].sum()
    out["aov"] = out["gmv"] / out["orders"]
    out["orders_per_buyer"] = out["orders"] / out["buyers"]
    out = out.rename(columns={"repeat": "repurchase_rate"}).reset_index()
    return out[["group", "buyers", "buyer_share", "gmv", "gmv_share", "aov", "orders_per_buyer", "repurchase_rate",
                "predicted_per_customer", "mean_p_alive"]]


def private_domain_share(data) -> pd.DataFrame:
    """Private-domain share of GMV (私域GMV占比) by month: GMV of the shop's own channels (settings
    ``shop.private_domain_channels``: own site and WeChat mini program) / all GMV. Handbook 001 part 3:
    from 8% to 18% with WeCom groups. Uses the shared ``daily_kpis`` table.

    Returns
    -------
    DataFrame
        month, gmv, private_gmv, share.
    """
    channels = list(_settings(data, "shop")["private_domain_channels"])
    if "channel" not in _orders_columns(data):
        raise KeyError("orders has no channel column: the private-domain share needs it")
    kpis = data.derived("daily_kpis") if hasattr(data, "derived") else None
    if kpis is None:
        from .derived import daily_kpis
        kpis = daily_kpis(data)
    k = kpis.assign(month=_month_str(kpis["date"]), private=kpis["channel"].isin(channels))
    k = k[k["month"] <= str(_report_month(data))]
    g = k.groupby("month").agg(gmv=("gmv", "sum"))
    g["private_gmv"] = k[k["private"]].groupby("month")["gmv"].sum().reindex(g.index).fillna(0.0)
    g["share"] = g["private_gmv"] / g["gmv"].where(g["gmv"] > 0)
    return g.reset_index()


@dataclass
class ValueReport:
    """The lifetime-value section: models, holdout, tiers, members, private domain."""

    value: CustomerValue
    holdout: pd.DataFrame
    tiers: pd.DataFrame
    members: pd.DataFrame
    private: pd.DataFrame
    month: str
    notes: dict = field(default_factory=dict)

    @property
    def note(self) -> str | None:
        return self.value.note

    def private_share(self, lag: int = 0) -> float | None:
        if self.private.empty:
            return None
        month = str(pd.Period(self.month, "M") - lag)
        hit = self.private.loc[self.private["month"] == month, "share"]
        return None if hit.empty or pd.isna(hit.iloc[0]) else float(hit.iloc[0])

    def member_value(self, group: str, column: str) -> float | None:
        if self.members.empty:
            return None
        hit = self.members.loc[self.members["group"] == group, column]
        return None if hit.empty or pd.isna(hit.iloc[0]) else float(hit.iloc[0])

    def _repr_html_(self) -> str:
        return self.value._repr_html_()

    def show_tiers(self):
        """The value tiers formatted."""
        if self.tiers.empty:
            return Skipped("Value tiers", self.value.note or "no customers")
        return _Html(_fmt_table(self.tiers, {"customers": "count", "predicted_gmv": "money", "predicted_share": "pct",
                                             "historical_gmv": "money", "historical_share": "pct", "mean_p_alive": "pct",
                                             "mean_paid_orders": "ratio", "predicted_per_customer": "money"},
                                caption=f"Value tiers 价值分层 by predicted GMV over the next {self.value.horizon_months} months"))

    def show_members(self):
        """Members vs non-members formatted (or the note)."""
        if self.members.empty:
            return Skipped("Members vs non-members", self.notes.get("members", "no member data"))
        return _Html(_fmt_table(self.members, {"buyers": "count", "buyer_share": "pct", "gmv": "money", "gmv_share": "pct",
                                               "aov": "money", "orders_per_buyer": "ratio", "repurchase_rate": "pct",
                                               "predicted_per_customer": "money", "mean_p_alive": "pct"},
                                caption="Members vs non-members 会员 vs 非会员 (buyers of the trailing window)"))


def value_report(data, *, value: CustomerValue | None = None) -> ValueReport:
    """Customer value, holdout check, value tiers, members vs non-members and the private-domain share;
    each part that lacks its table carries a note instead."""
    month = str(_report_month(data))
    value = customer_value(data) if value is None else value
    release_free_memory()  # what the earlier cells freed: the parts below each build customer-level arrays
    notes = {}
    holdout = _empty(["frequency_bin", "customers", "actual", "predicted"])
    tiers = value_tiers(value, data=data, tier_of=False)  # the tier table alone: the report keeps no per-customer series
    release_free_memory()
    if not value.note:
        try:
            holdout = holdout_check(data)
        except ValueError as e:  # too little history before the cut
            notes["holdout"] = f"Skipped: {e}"
        release_free_memory()
    members = _empty(["group"])
    mnote = _note(data, "customers", columns={"customers": ["member_tier"], "orders": ["customer_id"]})
    if mnote:
        notes["members"] = mnote
    else:
        members = member_comparison(data, value)
    private = _empty(["month", "share"])
    pnote = _note(data, columns={"orders": ["channel"]})
    if pnote:
        notes["private"] = pnote
    else:
        private = private_domain_share(data)
    release_free_memory()
    return ValueReport(value, holdout, tiers, members, private, month, notes)


def plot_value_tiers(report: ValueReport, *, ax=None):
    """Share of customers against share of predicted and past GMV per value tier."""
    t = report.tiers
    if t.empty:
        return _placeholder(ax, report.value.note or "no customers")
    ax = charts._get_ax(ax)
    x = np.arange(len(t))
    share = t["customers"] / t["customers"].sum()
    for i, (col, label, color) in enumerate([(share, "customers 客户数", charts.PALETTE[9]),
                                             (t["historical_share"], "past GMV 历史GMV", charts.PALETTE[0]),
                                             (t["predicted_share"], "predicted GMV 预测GMV", charts.PALETTE[1])]):
        bars = ax.bar(x + (i - 1) * 0.27, col, width=0.27, label=label, color=color)
        ax.bar_label(bars, labels=[charts.pct(v, decimals=0) for v in col], fontsize=8)
    ax.set_xticks(x, t["tier"])
    charts.format_pct_axis(ax)
    ax.set_ylim(0, float(max(share.max(), t["historical_share"].max(), t["predicted_share"].max())) * 1.25)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Value tiers: who holds the value 价值分层")
    return ax


def plot_private_share(report: ValueReport, *, target: float | None = None, ax=None):
    """Private-domain share of GMV by month, with the handbook's 18% line."""
    p = report.private
    if p.empty:
        return _placeholder(ax, report.notes.get("private", "no channel data"))
    ax = charts.line_chart(p, x="month", y="share", ax=ax, fmt="pct", color=charts.CHANNEL_COLORS["wechat_mini"],
                           title="Private-domain share of GMV 私域GMV占比")
    if target is not None:
        charts.annotate_threshold(ax, target, f"{target:.0%} (001)", color=charts.ALERT_COLORS["good"])
    ax.set_ylim(bottom=0)
    return ax


# =============================================================================================
# Lifecycle section: stages with P(alive), wake-up and churn-risk lists
# =============================================================================================

def _value_rows(value: CustomerValue, codes: np.ndarray | None, data=None) -> np.ndarray | None:
    """The row of ``value.table`` of each customer code (-1: not in the table), when ``codes`` are
    the customer codes (:class:`_Keys`) of a stages table and ``value`` was computed on the same
    dataset's codes; None otherwise (the caller then joins on the text ids)."""
    keys = getattr(value, "_keys", None)
    vcodes = getattr(value, "_codes", None)
    if codes is None or keys is None or vcodes is None or len(vcodes) != len(value.table):
        return None
    if data is not None and _peek(data, "keys") is not keys:
        return None
    row_of = np.full(keys.n, -1, dtype=np.int64)
    row_of[vcodes] = np.arange(len(vcodes), dtype=np.int64)
    return row_of[codes]


def _take_column(table: pd.DataFrame, col: str, rows: np.ndarray) -> np.ndarray:
    """``table[col]`` at ``rows`` as an array, NaN where ``rows`` is -1 (what a map of ids gives)."""
    values = table[col].to_numpy()
    out = values[np.where(rows >= 0, rows, 0)] if len(values) else np.full(len(rows), np.nan)
    if (rows < 0).any():
        out = out.astype("float64")
        out[rows < 0] = np.nan
    return out


def _joined(table: pd.DataFrame, part: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The inner merge of ``table`` with ``part`` (stages rows whose ``table`` rows are ``rows``,
    -1 for none) on customer_id, ``part``'s columns replacing ``table``'s, in ``table``'s order."""
    found = np.flatnonzero(rows >= 0)
    order = found[np.argsort(rows[found], kind="stable")]
    out = table.take(rows[order]).reset_index(drop=True)
    for c in part.columns:
        if c != "customer_id":
            out[c] = part[c].to_numpy()[order]
    return out


def stage_vs_p_alive(stages: pd.DataFrame, value: CustomerValue, *, _codes: np.ndarray | None = None) -> pd.DataFrame:
    """The dormant rule and the model side by side: per lifecycle stage, customers, mean and median
    P(alive), and the share the model thinks likely gone (P(alive) < 0.5), for one-time and repeat
    buyers separately (BG/NBD lets a customer drop out only after a repeat purchase, so a one-time
    buyer's P(alive) is 1 however long ago the order was).

    Returns
    -------
    DataFrame
        stage, buyers (``one-time`` / ``repeat``), customers, mean_p_alive, median_p_alive,
        share_likely_gone, mean_expected_purchases.
    """
    cols = ["stage", "buyers", "customers", "mean_p_alive", "median_p_alive", "share_likely_gone", "mean_expected_purchases"]
    if value.note or value.table.empty:
        return pd.DataFrame(columns=cols)
    rows = _value_rows(value, _codes)
    if rows is not None and len(rows) == len(stages):  # the value rows of the stages from their codes
        # grouped on integer codes (stage x one-time/repeat), each group's rows in the table's order
        stage_code, stage_names = pd.factorize(stages["stage"])
        stage_names = [str(v) for v in stage_names]
        buying = stage_code != (stage_names.index("potential") if "potential" in stage_names else -2)
        rows = rows[buying]
        p = _take_column(value.table, "p_alive", rows).astype("float64")
        found = ~np.isnan(p)
        repeat = np.nan_to_num(_take_column(value.table, "frequency", rows).astype("float64")) > 0
        key = (stage_code[buying].astype(np.int64) * 2 + repeat)[found]
        f = pd.DataFrame({"p_alive": p[found], "gone": p[found] < 0.5,
                          "exp": _take_column(value.table, "expected_purchases", rows)[found]})
        g = f.groupby(key)
        agg = pd.DataFrame({"customers": g.size(), "mean_p_alive": g["p_alive"].mean(),
                            "median_p_alive": g["p_alive"].median(), "share_likely_gone": g["gone"].mean(),
                            "mean_expected_purchases": g["exp"].mean()})
        k = agg.index.to_numpy()
        order = sorted(range(len(k)), key=lambda i: (STAGES.index(stage_names[k[i] // 2])
                                                     if stage_names[k[i] // 2] in STAGES else len(STAGES), k[i] % 2))
        agg = agg.iloc[order]
        k = k[order]
        out = pd.DataFrame({"stage": pd.array([stage_names[c // 2] for c in k], dtype="str"),
                            "buyers": pd.array(["repeat" if c % 2 else "one-time" for c in k], dtype="str")})
        for c in ("customers", "mean_p_alive", "median_p_alive", "share_likely_gone", "mean_expected_purchases"):
            out[c] = agg[c].to_numpy()
        return out[cols]
    v = value.table.set_index("customer_id")
    s = stages[stages["stage"] != "potential"].copy()
    lookup = _mapper(s["customer_id"], v)
    s["p_alive"] = lookup("p_alive")
    s["exp"] = lookup("expected_purchases")
    s["buyers"] = np.where(lookup("frequency").fillna(0) > 0, "repeat", "one-time")
    s = s.dropna(subset=["p_alive"])
    out = s.groupby(["stage", "buyers"]).agg(customers=("p_alive", "size"), mean_p_alive=("p_alive", "mean"),
                                             median_p_alive=("p_alive", "median"),
                                             share_likely_gone=("p_alive", lambda p: (p < 0.5).mean()),
                                             mean_expected_purchases=("exp", "mean")).reset_index()
    out["stage"] = pd.Categorical(out["stage"], categories=STAGES, ordered=True)
    return out.sort_values(["stage", "buyers"]).reset_index(drop=True)[cols].assign(stage=lambda f: f["stage"].astype(str))


def wakeup_list(stages: pd.DataFrame, value: CustomerValue, *, horizon_days: int | None = None,
                max_rows: int | None = None, data=None, _codes: np.ndarray | None = None) -> pd.DataFrame:
    """Dormant customers worth winning back (沉睡用户唤醒名单), best first.

    For each customer dormant at ``as_of`` (90 to 180 days without an order), the model's expected
    value of the next ``horizon_days`` (default: the dormant line, 90 days) =
    expected purchases x expected spend. Worth winning back = at or above the median of the dormant
    customers; at most ``max_rows`` (settings ``lifecycle.wakeup_list_max``). 001 part 1: a
    three-day return gift plus recommendations from the customer's history beat a plain text message.
    Customer ids only: no names or phone numbers.

    Returns
    -------
    DataFrame
        customer_id, days_since_last, last_order_date, paid_orders, historical_gmv, p_alive,
        expected_purchases_next, expected_value_next, first_channel.
    """
    cfg = _settings(data, "lifecycle") if data is not None else {"dormant_days": 90, "wakeup_list_max": 500}
    horizon = int(horizon_days or cfg["dormant_days"])
    max_rows = int(max_rows or cfg["wakeup_list_max"])
    cols = ["customer_id", "days_since_last", "last_order_date", "paid_orders", "historical_gmv", "p_alive",
            "expected_purchases_next", "expected_value_next", "first_channel"]
    if value.note or value.table.empty:
        return pd.DataFrame(columns=cols)
    rows = _value_rows(value, _codes)
    if rows is not None and len(rows) == len(stages):  # joined on the customer codes, not the text ids
        sel = (stages["stage"] == "dormant").to_numpy()
        v = _joined(value.table, stages.loc[sel, ["customer_id", "days_since_last", "last_order_ts"]], rows[sel])
    else:
        dormant = stages.loc[stages["stage"] == "dormant", ["customer_id", "days_since_last", "last_order_ts"]]
        v = value.table.merge(dormant, on="customer_id", suffixes=("_v", ""))
    if v.empty:
        return pd.DataFrame(columns=cols)
    t = horizon / UNIT_DAYS[value.unit]
    v["expected_purchases_next"] = value.bg_nbd.expected_purchases(t, v["frequency"], v["recency"], v["T"])
    v["expected_value_next"] = v["expected_purchases_next"] * v["expected_spend"]
    v = v[v["expected_value_next"] >= v["expected_value_next"].median()]
    v = v.sort_values(["expected_value_next", "customer_id"], ascending=[False, True]).head(max_rows)
    v["last_order_date"] = v["last_order_ts"].dt.date
    if "paid_orders" not in v.columns:
        v["paid_orders"] = v["frequency"] + 1
        v["historical_gmv"] = np.nan
    if "first_channel" not in v.columns:
        v["first_channel"] = ""
    return _rounded(v[cols].reset_index(drop=True))


def churn_risk_list(stages: pd.DataFrame, value: CustomerValue, *, p_alive_max: float | None = None,
                    max_rows: int | None = None, data=None, _codes: np.ndarray | None = None) -> pd.DataFrame:
    """Customers still active by the 90-day rule whom the model already thinks likely gone (流失预警).

    Repeat buyers in stage active whose P(alive) is under ``p_alive_max`` (settings
    ``lifecycle.churn_risk_p_alive``, 0.5): their silence is long for someone who used to buy as often
    as they did. Sorted by past GMV (the most valuable first), at most ``max_rows``. Customer ids only.

    Returns
    -------
    DataFrame
        customer_id, days_since_last, paid_orders, typical_gap_days (recency / repeat purchases),
        historical_gmv, p_alive, predicted_gmv, first_channel.
    """
    cfg = _settings(data, "lifecycle") if data is not None else {"churn_risk_p_alive": 0.5, "wakeup_list_max": 500}
    limit = float(cfg["churn_risk_p_alive"] if p_alive_max is None else p_alive_max)
    max_rows = int(max_rows or cfg["wakeup_list_max"])
    cols = ["customer_id", "days_since_last", "paid_orders", "typical_gap_days", "historical_gmv", "p_alive",
            "predicted_gmv", "first_channel"]
    if value.note or value.table.empty:
        return pd.DataFrame(columns=cols)
    rows = _value_rows(value, _codes)
    if rows is not None and len(rows) == len(stages):  # joined on the customer codes, not the text ids
        sel = stages["stage"].isin(["active", "new"]).to_numpy()
        # only the rows the filter below keeps are joined (not every active customer's columns)
        at = np.where(rows >= 0, rows, 0)
        sel = sel & (rows >= 0) & (value.table["frequency"].to_numpy()[at] > 0) & (value.table["p_alive"].to_numpy()[at] < limit)
        del at
        v = _joined(value.table, stages.loc[sel, ["customer_id", "days_since_last"]], rows[sel])
    else:
        active = stages.loc[stages["stage"].isin(["active", "new"]), ["customer_id", "days_since_last"]]
        v = value.table.merge(active, on="customer_id", suffixes=("_v", ""))
    v = v[(v["frequency"] > 0) & (v["p_alive"] < limit)]
    v["typical_gap_days"] = v["recency"] * UNIT_DAYS[value.unit] / v["frequency"]
    if "paid_orders" not in v.columns:
        v["paid_orders"] = v["frequency"] + 1
        v["historical_gmv"] = np.nan
    if "first_channel" not in v.columns:
        v["first_channel"] = ""
    v = v.sort_values(["historical_gmv", "customer_id"], ascending=[False, True]).head(max_rows)
    return _rounded(v[cols].reset_index(drop=True))


@dataclass
class LifecycleReport:
    """The lifecycle section: stages now, mix over time, this month's flow, reactivation, lists."""

    stages: pd.DataFrame
    mix: pd.DataFrame
    flow: pd.DataFrame
    reactivation: pd.DataFrame
    side_by_side: pd.DataFrame
    wakeup: pd.DataFrame
    churn_risk: pd.DataFrame
    month: str
    note: str | None = None

    def count(self, stage: str) -> int | None:
        if self.stages.empty:
            return None
        return int((self.stages["stage"] == stage).sum())

    def rate(self, stage: str) -> float | None:
        hit = self.reactivation.loc[self.reactivation["stage"] == stage, "rate"] if not self.reactivation.empty else []
        return None if len(hit) == 0 or pd.isna(hit.iloc[0]) else float(hit.iloc[0])

    def moved(self, from_stage: str, to_stage: str) -> int | None:
        if self.flow.empty or from_stage not in self.flow.index or to_stage not in self.flow.columns:
            return None
        return int(self.flow.loc[from_stage, to_stage])

    def _repr_html_(self) -> str:
        if self.note:
            return f"<p><em>{html.escape(self.note)}</em></p>"
        counts = self.stages["stage"].value_counts().reindex(STAGES).dropna()
        t = pd.DataFrame({"stage": [STAGE_LABELS[s] for s in counts.index], "customers": counts.to_numpy(),
                          "share": (counts / counts.sum()).to_numpy()})
        return _fmt_table(t, {"customers": "count", "share": "pct"}, caption=f"Lifecycle stages at the end of {self.month}")


def lifecycle_report(data, *, value: CustomerValue | None = None) -> LifecycleReport:
    """Stages at the end of the report month, the monthly stage mix, the month's flow between stages,
    reactivation rates, the rule against P(alive), the wake-up list and the churn-risk list."""
    month = str(_report_month(data))
    note = _note(data, columns={"orders": ["customer_id"]})
    if note:
        e = _empty(["customer_id", "stage"])
        return LifecycleReport(e, _empty(["month", "stage", "customers", "share"]), _empty(["to"]),
                               _empty(["stage", "rate"]), _empty(["stage"]), _empty(["customer_id"]),
                               _empty(["customer_id"]), month, note)
    value = customer_value(data) if value is None else value
    stages, codes = _lifecycle_stages(data, _as_of(data), _report_month(data).start_time, _life_cfg(data))
    codes = codes if _value_rows(value, codes, data) is not None else None  # the value of this dataset
    out = LifecycleReport(stages, stage_mix(data), stage_flow(data), reactivation_rates(data),
                          stage_vs_p_alive(stages, value, _codes=codes), wakeup_list(stages, value, data=data, _codes=codes),
                          churn_risk_list(stages, value, data=data, _codes=codes), month)
    out._codes = codes  # the customer code of each stages row (not a field: for the charts' lookups)
    # the customer history and the sorted order rows: the value section does not use them
    _restore_paid_ns(data)
    _let_go(data, "history", "paid_sort", "paid_sorted_codes", "first_paid_ns")
    release_free_memory()
    return out


def plot_stage_mix(report: LifecycleReport, *, ax=None):
    """Customers per lifecycle stage at each month end (stacked bars)."""
    if report.note or report.mix.empty:
        return _placeholder(ax, report.note or "Not enough history for lifecycle stages")
    ax = charts._get_ax(ax)
    wide = report.mix.pivot(index="month", columns="stage", values="customers").reindex(columns=[s for s in STAGES if s in set(report.mix["stage"])])
    bottom = np.zeros(len(wide))
    x = np.arange(len(wide))
    for s in wide.columns:  # five stages
        ax.bar(x, wide[s], bottom=bottom, color=STAGE_COLORS[s], label=STAGE_LABELS[s], width=0.8)
        bottom += wide[s].to_numpy()
    ax.set_xticks(x, [m[2:] if i % 2 == 0 else "" for i, m in enumerate(wide.index)], rotation=0)
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.legend(ncol=5, fontsize=8, loc="upper left")
    ax.set_title("Lifecycle stages at each month end 用户生命周期结构")
    ax.set_ylabel("customers")
    return ax


def plot_stage_flow(report: LifecycleReport, *, ax=None):
    """Heatmap of customers moving between stages during the report month (rows: start, columns: end)."""
    if report.note or report.flow.empty:
        return _placeholder(ax, report.note or "no flow")
    f = report.flow.copy()
    f.index = [STAGE_LABELS.get(i, i) for i in f.index]
    f.columns = [STAGE_LABELS.get(c, c) for c in f.columns]
    ax = charts.heatmap(f.astype("float64").where(f > 0), ax=ax, fmt=lambda v: f"{v:,.0f}", cmap="Purples",
                        title=f"Flow between stages during {report.month} (from the row to the column)", cbar=False,
                        norm=LogNorm())  # log colours: the large 'stayed churned' cell does not wash out the rest
    ax.set_xlabel("stage at the end of the month")
    ax.set_ylabel("stage at the start")
    return ax


def plot_p_alive_by_stage(report: LifecycleReport, value: CustomerValue, *, ax=None):
    """P(alive) of repeat buyers per lifecycle stage (box plot): the dormant rule and the model side by side."""
    if report.note or value.note or value.table.empty:
        return _placeholder(ax, report.note or value.note or "no model")
    ax = charts._get_ax(ax)
    rows = _value_rows(value, getattr(report, "_codes", None))
    if rows is not None and len(rows) == len(report.stages):  # looked up by customer code
        sel = report.stages["stage"].isin(["new", "active", "dormant", "churned"]).to_numpy()
        rows = rows[sel]
        s = pd.DataFrame({"stage": report.stages["stage"][sel].reset_index(drop=True),
                          "p": _take_column(value.table, "p_alive", rows),
                          "x": _take_column(value.table, "frequency", rows)})
    else:
        v = value.table.set_index("customer_id")
        s = report.stages[report.stages["stage"].isin(["new", "active", "dormant", "churned"])]
        s = s.assign(p=s["customer_id"].map(v["p_alive"]), x=s["customer_id"].map(v["frequency"]))
    s = s[s["x"] > 0]
    groups = [st for st in ("new", "active", "dormant", "churned") if (s["stage"] == st).any()]
    ax.boxplot([s.loc[s["stage"] == g, "p"].to_numpy() for g in groups], showfliers=False, widths=0.5,
               patch_artist=True, boxprops={"facecolor": "#DDE6F0"}, medianprops={"color": charts.PALETTE[2]})
    ax.set_xticks(range(1, len(groups) + 1), [f"{STAGE_LABELS[g]}\n(n={int((s['stage'] == g).sum()):,})" for g in groups])
    charts.format_pct_axis(ax)
    charts.annotate_threshold(ax, 0.5, "P(alive) 0.5", color=charts.ALERT_COLORS["neutral"])
    ax.set_title("Repeat buyers: P(alive) from BG/NBD by rule-based stage")
    del s
    release_free_memory()  # the customers' stages and values looked up for the chart
    return ax


# =============================================================================================
# One call to record every skipped section; exercises
# =============================================================================================

def rule_vs_last_year(record, label: str, now: tuple, year_ago: tuple, *, kind: str = "min", unit: str = "pct",
                      tolerance: float = 0.05, severity: str = "medium"):
    """Check a figure against its value a year earlier, allowing ``tolerance`` (relative) of noise.

    The handbook's direction of travel (001 part 1: first-order perks lift conversion, a member
    programme shortens the repurchase cycle) is the rule; a month-on-year change smaller than 5% is
    noise rather than a signal (001 part 4 treats a 5% drop in conversion as the alarm). ``now`` and
    ``year_ago`` are (month, value) pairs as the section reports give them. With ``kind="min"`` the
    line is ``year_ago x (1 - tolerance)``, with ``"max"`` ``year_ago x (1 + tolerance)``. When either
    value is missing the check is recorded as skipped and the note returned instead of a rule.
    """
    (m1, v1), (m0, v0) = now, year_ago
    if m1 is None or v1 is None or pd.isna(v1):
        return record.skip(label, "no complete month to measure (the table is missing or the data are too short)")
    if v0 is None or pd.isna(v0):
        return record.skip(label, f"no value for {m0} to compare with (the data do not reach back far enough)")
    line = v0 * (1 - tolerance) if kind == "min" else v0 * (1 + tolerance)
    return record.rule(f"{label} {m1} (a year earlier, {m0}: {_plain(v0, unit)}; line {tolerance:.0%} "
                       f"{'below' if kind == 'min' else 'above'} it)", v1, line, kind=kind, unit=unit, severity=severity)


def _plain(v: float, unit: str) -> str:
    from .pack import format_value
    return format_value(v, unit)


def record_skips(record, *reports) -> list[str]:
    """Record on ``record`` every section note of the given reports (a skipped section or part)."""
    names = {ChannelReport: "Channel matrix", NewCustomerReport: "New customers", CohortReport: "Cohorts",
             LifecycleReport: "Lifecycle", ValueReport: "Lifetime value"}
    done = []
    for rep in reports:  # a handful of sections
        name = names.get(type(rep), type(rep).__name__)
        notes = [rep.note] if getattr(rep, "note", None) else []
        if isinstance(rep, ValueReport):
            notes += [f"{k}: {v}" for k, v in rep.notes.items()]
        for n in notes:
            done.append(record.skip(name, n))
    return done


@exercise("04.cac_douyin", "CAC (获客成本) of douyin in the report month: its spend / its new buyers")
def _cac_douyin(data) -> float:
    if _note(data, "marketing_spend", columns={"orders": ["customer_id", "channel"]}):
        return float("nan")  # nothing to compute on this source
    m = channel_matrix(data).set_index("channel")
    return float(m.loc["douyin", "cac"]) if "douyin" in m.index else float("nan")


@exercise("04.dormant_customers", "Number of dormant customers (沉睡, 90-180 days without a paid order) "
                                  "at the end of the report month")
def _dormant_customers(data) -> float:
    if _note(data, columns={"orders": ["customer_id"]}):
        return float("nan")
    return float((lifecycle_stages(data)["stage"] == "dormant").sum())


@exercise("04.second_order_rate_90", "Share of the new buyers of the month 4 months before the report month "
                                     "who placed a second order within 90 days")
def _second_order_rate_90(data) -> float:
    if _note(data, columns={"orders": ["customer_id"]}):
        return float("nan")
    s = second_order_rates(data, windows=[90])
    hit = s.loc[s["first_month"] == str(_report_month(data) - 4), "rate_90d"]
    return float(hit.iloc[0]) if len(hit) else float("nan")
