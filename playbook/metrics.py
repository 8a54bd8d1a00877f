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
    orders = kpi_orders(orders, [*keys, time_column])
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
    orders = kpi_orders(orders)
    this = pd.Period(month, "M")
    months = {"this_month": this, "previous_month": this - 1, "last_year": this - 12}
    code = month_codes(orders["order_ts"])
    wanted = [p.year * 12 + p.month - 1 for p in months.values()]
    kpis = monthly_kpis(orders[code.isin(wanted).to_numpy()]).set_index("month")  # the three months only
    cols = [c for c in KPI_LABELS if c in kpis.columns]
    table = pd.DataFrame({name: kpis.reindex([str(p)])[cols].iloc[0] for name, p in months.items()})
    table["mom"] = table["this_month"] / table["previous_month"] - 1
    table["yoy"] = table["this_month"] / table["last_year"] - 1
    table.index = [KPI_LABELS[c] for c in cols]
    return table[["this_month", "previous_month", "mom", "last_year", "yoy"]]


def repurchase_rate(orders: pd.DataFrame, month: str, *, window_months: int = 12) -> float:
    """Repurchase rate (复购率) of a month: of the customers who bought in the ``window_months``
    months ending with ``month``, the share who bought on two or more different days in them.

    The same definition as the acquisition chapter's trend (``acquisition.repurchase_trend``), so
    the pack's front page and chapter 04 show one number. NaN when the window reaches before the
    first order in ``orders``, when it holds no buyer, or when orders lack ``customer_id``.
    """
    if "customer_id" not in orders.columns or orders.empty:
        return float("nan")
    end = pd.Timestamp(month + "-01") + pd.offsets.MonthBegin(1)
    start = end - pd.DateOffset(months=window_months)
    if orders["order_ts"].min() >= start + pd.offsets.MonthBegin(1):
        return float("nan")  # the window starts before the data does
    ts = orders["order_ts"]
    inside = (paid_mask(orders) & orders["customer_id"].notna() & (ts >= start) & (ts < end)).to_numpy()
    if not inside.any():
        return float("nan")
    customer, _ = pd.factorize(orders["customer_id"][inside])
    day = ts[inside].to_numpy().astype("datetime64[D]").astype(np.int64)
    day -= day.min()
    pairs = pd.unique(customer.astype(np.int64) * (int(day.max()) + 1) + day)  # distinct (customer, day)
    days = np.bincount(pairs // (int(day.max()) + 1))
    return float((days >= 2).mean())
