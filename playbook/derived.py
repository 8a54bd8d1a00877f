"""Derived tables that several chapters share, computed once per report run.

- :func:`daily_kpis`: per day and channel, visitors, orders, paid orders, buyers, GMV, net sales and
  conversion (chapters 01, 04, 05, 06);
- :func:`customer_summary`: per customer, first and last paid order, paid orders, GMV and channel of
  the first order (chapters 01, 04, 06, 07);
- :func:`sku_daily`: per day and SKU, units and revenue sold and the stock on hand (chapters 02, 03,
  05).

Each takes a :class:`~playbook.loading.Dataset` and returns a tidy DataFrame; ``Dataset.derived``
caches them, and the report runner writes them once into the run's folder so that chapters running
in parallel do not compute them again.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import _refunds, paid_mask

DERIVED = ("daily_kpis", "customer_summary", "sku_daily")


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


def daily_kpis(data) -> pd.DataFrame:
    """Per ``date`` and ``channel``: visitors (when traffic is present), orders, paid_orders,
    buyers (distinct customers with a paid order that day), gmv, net_sales and conversion
    (paid orders / visitors).

    Orders without a channel count under ``"unknown"``. Days with traffic but no order appear with
    zero orders, so a conversion outage shows as a low rate rather than a missing row.
    """
    orders = data["orders"]
    paid = paid_mask(orders)
    channel = orders["channel"].fillna("unknown") if "channel" in orders.columns else pd.Series("all", index=orders.index)
    frame = pd.DataFrame({
        "date": orders["order_ts"].dt.normalize(), "channel": channel,
        "orders": 1, "paid_orders": paid.astype("int64"),
        "gmv": orders["paid_amount"].where(paid, 0.0),
        "net_sales": (orders["paid_amount"] - _refunds(orders)).where(paid, 0.0),
    })
    agg = {"orders": ("orders", "sum"), "paid_orders": ("paid_orders", "sum"), "gmv": ("gmv", "sum"),
           "net_sales": ("net_sales", "sum")}
    if "customer_id" in orders.columns:
        frame["buyer"] = orders["customer_id"].where(paid)
        agg["buyers"] = ("buyer", "nunique")
    out = frame.groupby(["date", "channel"], observed=True).agg(**agg).reset_index()
    if "traffic" in data:
        visitors = (data["traffic"].assign(date=lambda t: t["date"].dt.normalize())
                    .groupby(["date", "channel"], observed=True)["visitors"].sum().astype("float64").reset_index())
        out = visitors.merge(out, on=["date", "channel"], how="outer")
        fill = {c: 0 for c in agg}
        out = out.fillna(fill)
        for c in ("orders", "paid_orders") + (("buyers",) if "buyers" in agg else ()):
            out[c] = out[c].astype("int64")
        out["conversion"] = out["paid_orders"] / out["visitors"].where(out["visitors"] > 0)
    return out.sort_values(["date", "channel"]).reset_index(drop=True)


def customer_summary(data) -> pd.DataFrame:
    """Per ``customer_id`` with a paid order in the loaded window: first_order_ts, last_order_ts,
    paid_orders, order_days (distinct days with a paid order), gmv, net_sales, aov and
    first_channel (channel of the first paid order, when orders carry one)."""
    orders = data["orders"]
    if "customer_id" not in orders.columns:
        raise KeyError("orders has no customer_id: a per-customer summary needs buyer identity")
    paid = orders.loc[paid_mask(orders) & orders["customer_id"].notna()]
    net = paid["paid_amount"] - _refunds(paid)
    frame = pd.DataFrame({"customer_id": paid["customer_id"], "ts": paid["order_ts"],
                          "day": paid["order_ts"].dt.normalize(), "gmv": paid["paid_amount"], "net": net})
    g = frame.groupby("customer_id", sort=True)
    out = pd.DataFrame({
        "first_order_ts": g["ts"].min(), "last_order_ts": g["ts"].max(), "paid_orders": g.size(),
        "order_days": g["day"].nunique(), "gmv": g["gmv"].sum(), "net_sales": g["net"].sum(),
    })
    out["aov"] = out["gmv"] / out["paid_orders"]
    if "channel" in paid.columns:
        first = paid.sort_values("order_ts", kind="stable").drop_duplicates("customer_id")
        out["first_channel"] = first.set_index("customer_id")["channel"]
    return out.reset_index()


def sku_daily(data) -> pd.DataFrame:
    """Per ``date`` and ``sku``: units and revenue of paid order lines (by order date), and the
    end-of-day ``on_hand`` when an inventory snapshot exists for that day (NaN otherwise).

    Needs order_items; inventory is optional.
    """
    orders = data["orders"]
    items = data["order_items"]
    paid = orders.loc[paid_mask(orders), ["order_id", "order_ts"]]
    lines = items.merge(paid, on="order_id", how="inner")
    lines = lines.assign(date=lines["order_ts"].dt.normalize(),
                         revenue=lines["qty"].astype("float64") * lines["unit_price"])
    out = (lines.groupby(["date", "sku"], observed=True)
           .agg(units=("qty", "sum"), revenue=("revenue", "sum")).reset_index())
    out["units"] = out["units"].astype("int64")
    if "inventory" in data:
        stock = (data["inventory"].assign(date=lambda t: t["date"].dt.normalize())
                 .groupby(["date", "sku"], observed=True)["on_hand"].sum().astype("float64").reset_index())
        out = stock.merge(out, on=["date", "sku"], how="outer")
        out["units"] = out["units"].fillna(0).astype("int64")
        out["revenue"] = out["revenue"].fillna(0.0)
    return out.sort_values(["date", "sku"]).reset_index(drop=True)


def compute(name: str, data) -> pd.DataFrame:
    """One derived table by name."""
    if name not in DERIVED:
        raise KeyError(f"unknown derived table {name!r}; known: {', '.join(DERIVED)}")
    return globals()[name](data)
