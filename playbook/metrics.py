"""The definitions every chapter shares (shared/DATA_CONTRACT.md, "Definitions used everywhere").

- GMV (成交额) = sum of ``paid_amount`` over orders that were not cancelled;
- net sales (净销售额) = GMV minus ``refund_amount``;
- paid orders = orders not cancelled (a refunded order was paid first);
- AOV (客单价) = GMV / paid orders;
- a buyer (买家) is a customer with a paid order.

Everything is a group-by over the orders table; nothing loops over orders.
"""
from __future__ import annotations

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


def monthly_kpis(orders: pd.DataFrame, *, by: str | list[str] | None = None,
                 time_column: str = "order_ts") -> pd.DataFrame:
    """GMV, net sales, paid orders, buyers, AOV and refund rate per month (and per ``by``).

    Parameters
    ----------
    orders : contract ``orders`` (order_ts, paid_amount; status, refund_amount, customer_id used
        when present).
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
    paid = paid_mask(orders)
    frame = pd.DataFrame({
        "month": orders[time_column].dt.strftime("%Y-%m"),
        "gmv": orders["paid_amount"].where(paid, 0.0),
        "refunds": _refunds(orders).where(paid, 0.0),
        "paid_orders": paid.astype("int64"),
        **{k: orders[k] if k in orders.columns else pd.Series("all", index=orders.index) for k in keys},
    })
    agg = {"gmv": ("gmv", "sum"), "refunds": ("refunds", "sum"), "paid_orders": ("paid_orders", "sum")}
    if "customer_id" in orders.columns:
        frame["buyer"] = orders["customer_id"].where(paid)
        agg["buyers"] = ("buyer", "nunique")
    out = frame.groupby(["month", *keys], observed=True, dropna=False).agg(**agg).reset_index()
    out["net_sales"] = out["gmv"] - out["refunds"]
    out["aov"] = out["gmv"] / out["paid_orders"].where(out["paid_orders"] > 0)
    out["refund_rate"] = out["refunds"] / out["gmv"].where(out["gmv"] > 0)
    cols = ["month", *keys, "gmv", "net_sales", "paid_orders"] + (["buyers"] if "buyers" in out else []) + ["aov", "refund_rate"]
    return out[cols]


KPI_LABELS = {
    "gmv": "GMV 成交额", "net_sales": "Net sales 净销售额", "paid_orders": "Paid orders 支付订单",
    "buyers": "Buyers 买家", "aov": "AOV 客单价", "refund_rate": "Refund rate 退款率",
}


def kpi_comparison(orders: pd.DataFrame, month: str) -> pd.DataFrame:
    """The month's KPIs against the previous month (MoM) and the same month last year (YoY).

    Returns
    -------
    DataFrame
        one row per KPI (index: label) with columns ``this_month``, ``previous_month``, ``mom``
        (relative change), ``last_year``, ``yoy``; a comparison month without orders is NaN.
    """
    kpis = monthly_kpis(orders).set_index("month")
    this = pd.Period(month, "M")
    months = {"this_month": this, "previous_month": this - 1, "last_year": this - 12}
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
    paid = orders.loc[paid_mask(orders) & orders["customer_id"].notna(), ["customer_id", "order_ts"]]
    window = paid[(paid["order_ts"] >= start) & (paid["order_ts"] < end)]
    if window.empty:
        return float("nan")
    days = window.assign(day=window["order_ts"].dt.normalize()).groupby("customer_id")["day"].nunique()
    return float((days >= 2).mean())
