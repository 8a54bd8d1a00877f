"""The definitions every chapter shares (shared/DATA_CONTRACT.md, "Definitions used everywhere").

- GMV (成交额) = sum of ``paid_amount`` over orders that were not cancelled;
- net sales (净销售额) = GMV minus ``refund_amount``;
- paid orders = orders not cancelled (a refunded order was paid first);
- AOV (客单价) = GMV / paid orders;
- a buyer (买家) is a customer with a paid order.

Everything is a group-by over the orders table; nothing loops over orders. Months and customers
are grouped as integer codes (:func:`month_labels`): formatting or hashing ten million timestamps
and ids as text is what makes a large shop slow.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def paid_mask(orders: pd.DataFrame) -> pd.Series:
    """True for orders that were paid (status ``paid`` or ``refunded``)."""
    if "status" not in orders.columns:
        return pd.Series(True, index=orders.index)
    return orders["status"].ne("cancelled").fillna(True).astype(bool)


def _refunds(orders: pd.DataFrame) -> pd.Series:
    if "refund_amount" in orders.columns:
        return orders["refund_amount"].fillna(0.0).clip(upper=orders["paid_amount"])
    if "status" not in orders.columns:
        return pd.Series(0.0, index=orders.index)
    refunded = orders["status"].eq("refunded")
    return orders["paid_amount"].where(refunded, 0.0)


def gmv(orders: pd.DataFrame) -> float:
    """GMV (成交额): ``paid_amount`` summed over orders not cancelled."""
    return float(orders.loc[paid_mask(orders), "paid_amount"].sum())


def net_sales(orders: pd.DataFrame) -> float:
    """Net sales: GMV minus refunds (a refund counts at most what was paid; a refunded order
    without ``refund_amount`` counts its whole payment)."""
    paid = paid_mask(orders)
    return float((orders["paid_amount"] - _refunds(orders))[paid].sum())


def aov(orders: pd.DataFrame) -> float:
    """AOV (客单价): GMV per paid order; NaN when there is none."""
    n = int(paid_mask(orders).sum())
    return gmv(orders) / n if n else float("nan")


def buyers(orders: pd.DataFrame) -> int:
    """Distinct customers with a paid order."""
    if "customer_id" not in orders.columns:
        raise KeyError("orders has no customer_id, so buyers cannot be counted")
    return int(orders.loc[paid_mask(orders), "customer_id"].nunique())


#: the orders columns the KPIs read (the others are left unread in a prepared folder)
KPI_COLUMNS = ("order_ts", "paid_amount", "status", "refund_amount", "customer_id")


def kpi_orders(orders, extra: Iterable[str] = ()) -> pd.DataFrame:
    """``orders`` itself, or for a :class:`~playbook.loading.Dataset` its orders table with only the
    KPI columns (and ``extra``) read: a large shop's orders carry nineteen columns. The columns are
    read for the caller and not kept in the dataset (a KPI table is computed once; the seven million
    orders of a large shop would otherwise stay in memory for the rest of the notebook)."""
    if isinstance(orders, pd.DataFrame):
        return orders
    from .loading import read_columns

    return read_columns(orders, "orders", [*KPI_COLUMNS, *extra], keep=False)


def monthly_kpis(orders: pd.DataFrame, *, by: str | list[str] | None = None,
                 time_column: str = "order_ts") -> pd.DataFrame:
    """GMV, net sales, paid orders, buyers, AOV and refund rate per month (and per ``by``).

    Parameters
    ----------
    orders : contract ``orders`` (order_ts, paid_amount; status, refund_amount, customer_id used
        when present), or a :class:`~playbook.loading.Dataset` (its orders, only these columns read).
    by : optional column(s) to split by, e.g. ``"channel"``. A column the source lacks counts
        every order under ``"all"``, so a chart by channel still draws on a source without one.

    Returns
    -------
    DataFrame
        one row per month (``YYYY-MM``) and group with columns month, [by], gmv, net_sales,
        paid_orders, buyers (when customer_id is present), aov, refund_rate (refunds / GMV).

    Examples
    --------
    >>> monthly_kpis(data.orders, by="channel")   # doctest: +SKIP
    """
    keys = [by] if isinstance(by, str) else list(by or [])
    windows = None if isinstance(orders, pd.DataFrame) else order_windows(orders, time_column)
    if windows is None:
        return _monthly_kpis(kpi_orders(orders, [*keys, time_column]), keys, time_column)
    from .loading import read_window

    # a large prepared table, a few months at a time: each month's groups lie in one window, and
    # the windows come in month order, so the parts join into the table that one pass gives
    parts = [_monthly_kpis(read_window(orders, "orders", [*KPI_COLUMNS, *keys], time_column, lo, hi), keys, time_column)
             for lo, hi in windows]
    return pd.concat(parts, ignore_index=True)


def _monthly_kpis(orders: pd.DataFrame, keys: list[str], time_column: str) -> pd.DataFrame:
    """:func:`monthly_kpis` of an orders frame."""
    paid = paid_mask(orders)
    month = month_codes(orders[time_column])
    frame = pd.DataFrame({
        "month": month,
        "gmv": orders["paid_amount"].where(paid, 0.0),
        "refunds": _refunds(orders).where(paid, 0.0),
        "paid_orders": paid.astype("int64"),
        **{k: orders[k] if k in orders.columns else pd.Series("all", index=orders.index) for k in keys},
    })
    grouped = frame.groupby(["month", *keys], observed=True, dropna=False)
    out = grouped.agg(gmv=("gmv", "sum"), refunds=("refunds", "sum"), paid_orders=("paid_orders", "sum"))
    if "customer_id" in orders.columns:
        out["buyers"] = _distinct_per_group(grouped.ngroup().to_numpy(), orders["customer_id"], paid.to_numpy(),
                                            len(out))
    out = out.reset_index()
    out["month"] = _labels_of_codes(out["month"])
    out["net_sales"] = out["gmv"] - out["refunds"]
    out["aov"] = out["gmv"] / out["paid_orders"].where(out["paid_orders"] > 0)
    out["refund_rate"] = out["refunds"] / out["gmv"].where(out["gmv"] > 0)
    cols = ["month", *keys, "gmv", "net_sales", "paid_orders"] + (["buyers"] if "buyers" in out else []) + ["aov", "refund_rate"]
    return out[cols]


#: orders a KPI table of a prepared folder reads at a time (:func:`order_windows`)
WINDOW_ROWS = 8_000_000


def order_windows(data, time_column: str = "order_ts", *, max_rows: int | None = None) -> list[tuple] | None:
    """Windows ``[lo, hi)`` of whole calendar months that split a prepared orders file of more than
    ``max_rows`` (default :data:`WINDOW_ROWS`) rows into parts of about that many (from its row groups' statistics, nothing
    read), for a KPI table computed a part at a time: a large shop's 69M orders need not be in
    memory at once. None for a table in memory or a smaller one, or when ``time_column`` has
    missing values or no statistics (then the whole table is read)."""
    file = data.table_file("orders") if hasattr(data, "table_file") else None
    if file is None:
        return None
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(file).metadata
    max_rows = max_rows or WINDOW_ROWS
    if meta.num_rows <= max_rows:
        return None
    names = [meta.schema.column(i).path for i in range(meta.num_columns)]
    if time_column not in names:
        return None
    at = names.index(time_column)
    rows: dict[pd.Period, int] = {}
    first = last = None
    for g in range(meta.num_row_groups):
        st = meta.row_group(g).column(at).statistics
        if st is None or not st.has_min_max or not st.has_null_count or st.null_count:
            return None
        lo, hi = pd.Timestamp(st.min), pd.Timestamp(st.max)
        if lo.tz is not None:
            return None
        month = lo.to_period("M")
        rows[month] = rows.get(month, 0) + meta.row_group(g).num_rows  # a group counts in its first month
        first, last = min(first or lo, lo), max(last or hi, hi)
    windows, start, held = [], first.to_period("M"), 0
    for month in pd.period_range(first.to_period("M"), last.to_period("M"), freq="M"):
        held += rows.get(month, 0)
        if held >= max_rows or month == last.to_period("M"):
            windows.append((start.start_time, (month + 1).start_time))
            start, held = month + 1, 0
    return windows


def month_codes(ts: pd.Series) -> pd.Series:
    """Calendar month of each timestamp as an integer code, ``year * 12 + month - 1`` (NaN for a
    missing time); sorts like the month and turns into ``YYYY-MM`` with :func:`month_labels`."""
    return ts.dt.year * 12 + ts.dt.month - 1


def month_labels(ts: pd.Series) -> pd.Series:
    """``ts.dt.strftime("%Y-%m")`` (text ``str``, NaN for a missing time), formatting each distinct
    month once: strftime formats every row in Python, 9 s for seven million orders."""
    return _labels_of_codes(month_codes(ts))


def _labels_of_codes(codes: pd.Series) -> pd.Series:
    import pyarrow as pa

    positions, distinct = pd.factorize(codes, use_na_sentinel=True)
    labels = pa.array([f"{int(c) // 12:04d}-{int(c) % 12 + 1:02d}" for c in distinct], type=pa.large_string())
    text = labels.take(pa.array(positions, mask=positions < 0))
    values = text.to_pandas(types_mapper={pa.large_string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get).array
    return pd.Series(values, index=codes.index, name=codes.name)


def _distinct_per_group(group: np.ndarray, values: pd.Series, keep: np.ndarray, n_groups: int) -> np.ndarray:
    """Distinct non-missing ``values`` per group (``group``: each row's group number, -1 for none)
    over the rows where ``keep``: a groupby ``nunique`` on integer codes."""
    from .derived import text_codes

    codes, _ = text_codes(values, uniques=False)
    n = int(codes.max()) + 1 if len(codes) else 0
    rows = keep & (codes >= 0) & (group >= 0)
    pairs = pd.unique(group[rows].astype(np.int64) * (n + 1) + codes[rows])
    return np.bincount(pairs // (n + 1), minlength=n_groups).astype("int64")


KPI_LABELS = {
    "gmv": "GMV 成交额", "net_sales": "Net sales 净销售额", "paid_orders": "Paid orders 支付订单",
    "buyers": "Buyers 买家", "aov": "AOV 客单价", "refund_rate": "Refund rate 退款率",
}


def kpi_comparison(orders: pd.DataFrame, month: str) -> pd.DataFrame:
    """The month's KPIs against the previous month (MoM) and the same month last year (YoY).

    ``orders`` is the orders table or a :class:`~playbook.loading.Dataset`.

    Returns
    -------
    DataFrame
        one row per KPI (index: label) with columns ``this_month``, ``previous_month``, ``mom``
        (relative change), ``last_year``, ``yoy``; a comparison month without orders is NaN.
    """
    this = pd.Period(month, "M")
    months = {"this_month": this, "previous_month": this - 1, "last_year": this - 12}
    kpis = monthly_kpis(orders_in_months(orders, months.values())).set_index("month")  # the three months only
    cols = [c for c in KPI_LABELS if c in kpis.columns]
    table = pd.DataFrame({name: kpis.reindex([str(p)])[cols].iloc[0] for name, p in months.items()})
    table["mom"] = table["this_month"] / table["previous_month"] - 1
    table["yoy"] = table["this_month"] / table["last_year"] - 1
    table.index = [KPI_LABELS[c] for c in cols]
    return table[["this_month", "previous_month", "mom", "last_year", "yoy"]]


def first_order_ts(data) -> pd.Timestamp | None:
    """The earliest ``order_ts`` of the orders (of a prepared file not read yet, from its row
    groups' statistics); None without orders."""
    file = data.table_file("orders") if hasattr(data, "table_file") else None
    if file is not None:
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(file).metadata
        names = [meta.schema.column(i).path for i in range(meta.num_columns)]
        stats = ([meta.row_group(g).column(names.index("order_ts")).statistics for g in range(meta.num_row_groups)]
                 if "order_ts" in names else [])
        if stats and all(st is not None and st.has_min_max for st in stats):
            return min(pd.Timestamp(st.min) for st in stats)
    ts = kpi_orders(data)["order_ts"]
    return ts.min() if len(ts) else None


def orders_in_months(orders, months) -> pd.DataFrame:
    """The KPI columns of the orders placed in ``months`` (periods), in the table's order; of a
    large prepared table only those months are read (:func:`~playbook.loading.read_window`)."""
    if order_windows(orders) is not None:
        from .loading import read_window

        return pd.concat([read_window(orders, "orders", KPI_COLUMNS, "order_ts", p.start_time, (p + 1).start_time)
                          for p in sorted(set(months))], ignore_index=True)
    orders = kpi_orders(orders)
    wanted = [p.year * 12 + p.month - 1 for p in months]
    return orders[month_codes(orders["order_ts"]).isin(wanted).to_numpy()]


def repurchase_rate(orders: pd.DataFrame, month: str, *, window_months: int = 12, first_order=None) -> float:
    """Repurchase rate (复购率) of a month: of the customers who bought in the ``window_months``
    months ending with ``month``, the share who bought on two or more different days in them.

    The same definition as the acquisition chapter's trend (``acquisition.repurchase_trend``), so
    the pack's front page and chapter 04 show one number. NaN when the window reaches before the
    first order in ``orders`` (or ``first_order``, the first order time of the whole table when
    ``orders`` are the window's rows of it), when it holds no buyer, or when orders lack ``customer_id``.
    """
    if "customer_id" not in orders.columns or orders.empty:
        return float("nan")
    end = pd.Timestamp(month + "-01") + pd.offsets.MonthBegin(1)
    start = end - pd.DateOffset(months=window_months)
    if (orders["order_ts"].min() if first_order is None else pd.Timestamp(first_order)) >= start + pd.offsets.MonthBegin(1):
        return float("nan")  # the window starts before the data does
    ts = orders["order_ts"]
    inside = (paid_mask(orders) & orders["customer_id"].notna() & (ts >= start) & (ts < end)).to_numpy()
    if not inside.any():
        return float("nan")
    from .derived import text_codes

    customer, _ = text_codes(orders["customer_id"][inside], uniques=False)
    day = ts[inside].to_numpy().astype("datetime64[D]")
    # two different days: some order on another day than one of the customer's days (whichever
    # order's day the assignment keeps), with no table of distinct (customer, day) pairs
    some_day = np.empty(int(customer.max()) + 1, dtype=day.dtype)
    some_day[customer] = day
    again = np.zeros(len(some_day), dtype=bool)
    again[customer[day != some_day[customer]]] = True
    return float(again.mean())
