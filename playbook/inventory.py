"""Chapter 03, inventory: classification, turnover, demand forecasting, safety stock, replenishment,
stock-out risk, slow movers and stock accuracy (handbook 000 §2.3, 001 part 2, 002 part 03, 003
stage 2).

The handbook's rules, as this module applies them:

- **ABC by sales, XYZ by variability** (001 part 2, 002 part 03): class A (the SKUs making the first
  80% of sales) is stocked deep (备足库存), class B is replenished weekly (按周补货), class C is kept
  thin and cleared (买一送一, 社群清仓). XYZ says how predictable each SKU's weekly demand is.
- **Turnover** (002): days of inventory (库存周转天数) under 30.
- **Forecast** (002 "smart forecasting", 智能预测与备货): smooth series with Holt-Winters
  exponential smoothing (statsmodels, weekly seasonality), intermittent ones with Croston, SBA or TSB
  (:func:`croston`). Days on which a SKU had no stock are *censored*: they say nothing about demand,
  so they are left out instead of being counted as zero sales.
- **Safety stock, warning level and reorder point** (003 stage 2: 安全库存, 预警库存): from the
  service level, demand variability and lead-time variability; lead times are measured from
  purchase orders, with the supplier's quoted lead time as fallback.
- **Stock-out risk, slow movers and overstock** (001 part 2, 002 part 03), with a clearance list.
- **Stock accuracy** (000 §2.3, 账实相符): snapshots against the movement sales and receipts imply.

Everything is computed across SKUs at once: classification and the Croston family are array
operations over a days x SKUs matrix (a loop over days, never over SKUs), so tens of thousands of
SKUs classify and forecast in seconds. The one per-SKU model, statsmodels' Holt-Winters fit, is
bounded: it runs only for smooth or erratic SKUs of the classes in ``inventory.ets_abc`` (A and B by
default), at most ``inventory.ets_max_skus`` of them (the largest by sales); every other smooth SKU
gets vectorised simple exponential smoothing.

Every function takes the loaded :class:`~playbook.loading.Dataset` (or a frame computed from it)
first and returns a tidy DataFrame or a number. When a table a section needs is absent the
functions return empty frames with the usual columns (and one-row summaries with missing values),
so a notebook runs on an orders-only source; :func:`section_note` says what was skipped.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy import stats

from . import charts
from .threads import single_thread_blas
from .exercises import exercise

__all__ = [
    "DEMAND_CLASSES",
    "DemandForecaster",
    "Note",
    "abc_class",
    "abc_xyz",
    "abc_xyz_matrix",
    "backtest",
    "backtest_wape",
    "class_policies",
    "clearance_list",
    "croston",
    "daily_demand",
    "demand_classes",
    "eoq",
    "example_sku",
    "forecast_demand",
    "in_stock_rate",
    "lead_time_demand_quantile",
    "lead_times",
    "plot_abc_xyz_matrix",
    "plot_backtest",
    "plot_clearance",
    "plot_cover_vs_lead_time",
    "plot_days_of_inventory",
    "plot_demand_classes",
    "plot_pareto",
    "plot_sku_demand",
    "plot_stock_accuracy",
    "plot_stock_position",
    "plot_turnover_trend",
    "reorder_list",
    "reorder_point",
    "replenishment_plan",
    "safety_stock",
    "section_count",
    "section_note",
    "section_sum",
    "service_z",
    "slow_movers",
    "stock_accuracy",
    "stock_accuracy_summary",
    "stockout_risk",
    "turnover",
    "turnover_trend",
    "xyz_class",
]

#: demand patterns of Syntetos, Boylan and Croston (2005), plus "none" for no demand at all
DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy", "none")
FORECAST_METHODS = ("ets", "ses", "croston", "sba", "tsb", "naive", "zero")
_DEFAULT_SERVICE = {"A": 0.98, "B": 0.95, "C": 0.90}
_DEFAULT_REVIEW = {"A": 1, "B": 7, "C": 28}

#: what each ABC and XYZ class means for the stock policy (handbook 001 part 2, in our words)
ABC_POLICY = {
    "A": "stock deep (备足库存), replenish continuously",
    "B": "replenish weekly (按周补货)",
    "C": "keep thin, clear the surplus (买一送一 / 社群清仓)",
}
XYZ_POLICY = {
    "X": "steady demand: order from the forecast automatically",
    "Y": "variable demand: safety stock carries the swings",
    "Z": "erratic demand: small lots, check orders by hand",
}

#: the tables (and columns) each section needs; the rest of a section's inputs are optional
REQUIREMENTS: dict[str, tuple[tuple[str, ...], dict]] = {
    "abc_xyz": (("order_items",), {}),
    "turnover": (("order_items", "inventory"), {}),
    "forecast": (("order_items",), {}),
    "replenishment": (("order_items", "inventory"), {}),
    "stockout_risk": (("order_items", "inventory"), {}),
    "slow_movers": (("order_items", "inventory"), {}),
    "stock_accuracy": (("order_items", "inventory", "purchase_orders"),
                       {"purchase_orders": ["received_date", "qty_received"]}),
}


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

class Note(str):
    """A sentence that a notebook displays as a highlighted Markdown line."""

    def _repr_markdown_(self) -> str:
        return f"> ⚠️ **{self}**"


def section_note(data, section: str, record=None) -> Note | None:
    """The note for a section whose tables are missing (and ``record.skip`` it), else ``None``.

    Parameters
    ----------
    data : Dataset
    section : one of ``abc_xyz``, ``turnover``, ``forecast``, ``replenishment``,
        ``stockout_risk``, ``slow_movers``, ``stock_accuracy``.
    record : pack.ChapterRecord, optional
        When given, a skipped section is recorded with ``record.skip``.

    Returns
    -------
    Note or None
        Displays as a highlighted line in a notebook; ``None`` displays nothing.

    Examples
    --------
    >>> section_note(data, "stock_accuracy", record)   # doctest: +SKIP
    """
    if section not in REQUIREMENTS:
        raise KeyError(f"unknown section {section!r}; known: {', '.join(REQUIREMENTS)}")
    tables, columns = REQUIREMENTS[section]
    note = data.missing_note(*tables, columns=columns)
    if note is None:
        return None
    if record is not None:
        record.skip(section, note)
    return Note(note)


def section_count(data, section: str, frame: pd.DataFrame, query: str | None = None) -> int | None:
    """Rows of ``frame`` (those matching ``query``) for a headline or a rule check; ``None`` when the
    section was skipped, so that a missing table reads "no data" rather than zero.

    Examples
    --------
    >>> section_count(data, "stockout_risk", risk, "risk == 'high'")   # doctest: +SKIP
    1
    """
    if not _has(data, section):
        return None
    return int(len(frame.query(query) if query else frame))


def section_sum(data, section: str, frame: pd.DataFrame, column: str) -> float | None:
    """Sum of ``frame[column]`` for a headline; ``None`` when the section was skipped."""
    if not _has(data, section):
        return None
    return float(frame[column].sum()) if len(frame) else 0.0


def _has(data, section: str) -> bool:
    tables, columns = REQUIREMENTS[section]
    return data.missing_note(*tables, columns=columns) is None


def _settings(data) -> Mapping:
    settings = getattr(data, "settings", None)
    if settings is None:
        from .settings import load_settings
        settings = load_settings()
    return settings["inventory"]


def _setting(data, key: str, default=None):
    s = _settings(data)
    return s[key] if key in s else default


def _class_setting(data, key: str, defaults: Mapping) -> dict:
    """A per-class table such as ``service_level`` with every class filled (a user's file may give
    only some classes: the others keep the playbook's default)."""
    given = dict(_setting(data, key, {}) or {})
    return {k: given.get(k, v) for k, v in defaults.items()}


def _as_of(data) -> pd.Timestamp:
    """The last day of the report month (or of the data, when loaded without a month)."""
    end = getattr(data, "end", None)
    if end is not None:
        return pd.Timestamp(end).normalize() - pd.Timedelta(days=1)
    return pd.Timestamp(data.derived("sku_daily")["date"].max()).normalize()


def _month_start(data) -> pd.Timestamp:
    month = getattr(data, "month", None)
    if month:
        return pd.Timestamp(f"{month}-01")
    return _as_of(data).replace(day=1)


def _sku_daily(data) -> pd.DataFrame:
    return data.derived("sku_daily")


def _products(data) -> pd.DataFrame:
    """Product attributes by SKU (title, category, unit_cost, supplier_id, is_active), whatever the
    source provides; an empty frame indexed by sku when products are absent."""
    if not data.has("products"):
        return pd.DataFrame(index=pd.Index([], name="sku", dtype="str"))
    p = data["products"].drop_duplicates("sku").set_index("sku")
    return p


def _all_skus(data) -> pd.Index:
    """SKUs with sales or stock in the window, plus listed products launched by the report month."""
    skus = set(_sku_daily(data)["sku"].unique())
    if data.has("products"):
        prod = data["products"]
        if "launch_date" in prod.columns:
            prod = prod[prod["launch_date"].isna() | (prod["launch_date"] <= _as_of(data))]
        skus |= set(prod["sku"])
    return pd.Index(sorted(skus), name="sku")


def _unit_cost(data, skus: pd.Index) -> pd.Series:
    """Cost per unit: products.unit_cost, else the average purchase-order cost, else the average
    selling price (value then reads at price, a documented overstatement), else 1 (units)."""
    cost = pd.Series(np.nan, index=skus, dtype="float64")
    prod = _products(data)
    if "unit_cost" in prod.columns:
        cost = cost.fillna(prod["unit_cost"].astype("float64").reindex(skus))
    if data.has("purchase_orders") and "unit_cost" in data["purchase_orders"].columns:
        po = data["purchase_orders"]
        cost = cost.fillna(po.groupby("sku")["unit_cost"].mean().astype("float64").reindex(skus))
    if cost.isna().any():
        sd = _sku_daily(data)
        g = sd.groupby("sku")[["revenue", "units"]].sum()
        price = (g["revenue"] / g["units"].where(g["units"] > 0)).reindex(skus)
        cost = cost.fillna(price)
    return cost.fillna(1.0)


def _attributes(data, skus: Iterable[str]) -> pd.DataFrame:
    """title and category for display, empty strings when products are absent."""
    skus = pd.Index(list(skus), name="sku")
    prod = _products(data)
    out = pd.DataFrame(index=skus)
    for col in ("title", "category"):
        out[col] = prod[col].reindex(skus).astype("str").fillna("") if col in prod.columns else ""
    return out


def _empty(columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})


def _ceil(x) -> np.ndarray:
    return np.ceil(np.round(np.asarray(x, dtype="float64"), 9))


# ---------------------------------------------------------------------------------------------
# Demand: the days x SKUs matrix, with stock-out days censored
# ---------------------------------------------------------------------------------------------

def _wide(data):
    """units and on_hand as days x SKUs over every day of ``sku_daily``, and each SKU's first
    listed day; computed once per Dataset and kept on it."""
    cached = getattr(data, "_inventory_wide", None)
    if cached is not None:
        return cached
    sd = _sku_daily(data)
    skus = _all_skus(data)
    if len(sd):
        dates = pd.date_range(sd["date"].min(), sd["date"].max(), freq="D", name="date")
    else:
        dates = pd.DatetimeIndex([], name="date")
    units = sd.pivot(index="date", columns="sku", values="units").reindex(index=dates, columns=skus)
    units = units.astype("float64").fillna(0.0)
    if "on_hand" in sd.columns:
        on_hand = sd.pivot(index="date", columns="sku", values="on_hand").reindex(index=dates, columns=skus)
        on_hand = on_hand.astype("float64")
        seen = sd[(sd["units"] > 0) | sd["on_hand"].notna()]
    else:
        on_hand = pd.DataFrame(np.nan, index=dates, columns=skus)
        seen = sd[sd["units"] > 0]
    first = seen.groupby("sku")["date"].min().reindex(skus)
    prod = _products(data)
    if "launch_date" in prod.columns:
        launch = prod["launch_date"].reindex(skus)
        first = first.where(first.notna() & (launch.isna() | (first <= launch)), launch)
    first = first.fillna(pd.Timestamp("2262-01-01"))
    if len(dates):  # no day before the data's first day counts, whatever the launch date
        first = first.clip(lower=dates[0])
    cached = (units, on_hand, first)
    try:
        object.__setattr__(data, "_inventory_wide", cached)
    except (AttributeError, TypeError):
        pass
    return cached


def _frames(data, start: pd.Timestamp, end: pd.Timestamp):
    """units, on_hand and listed (bool) as days x SKUs frames from ``start`` to ``end``."""
    units_all, on_hand_all, first = _wide(data)
    dates = pd.date_range(start, end, freq="D", name="date")
    units = units_all.reindex(dates).fillna(0.0)
    on_hand = on_hand_all.reindex(dates)
    listed = pd.DataFrame(dates.to_numpy()[:, None] >= first.to_numpy()[None, :], index=dates,
                          columns=units_all.columns)
    return units, on_hand, listed


def daily_demand(data, *, days: int | None = None, end=None, censor: bool = True) -> pd.DataFrame:
    """Units demanded per day and SKU, with stock-out days censored.

    A day counts as a stock-out (censored, NaN) when the SKU ended the day with nothing on hand
    and sold nothing: the shelf was empty, so the zero says nothing about demand. Days before a SKU
    was listed (its launch date, first snapshot or first sale) are NaN too. Counting those days as
    zero demand would teach the forecast that a sold-out best seller is not wanted.

    Handbook: 002 part 03 (智能预测与备货).

    Parameters
    ----------
    data : Dataset
        Uses the derived table ``sku_daily`` (units of paid order lines by order date and the
        end-of-day ``on_hand`` when inventory snapshots exist); ``products.launch_date`` if present.
    days : int, optional
        Length of the history, ending at ``end``; default ``inventory.forecast_history_days``.
    end : date, optional
        Last day; default the last day of the report month.
    censor : bool, default True
        False keeps stock-out days as zeros (to show what ignoring censoring does).

    Returns
    -------
    DataFrame
        index = date (every day), columns = SKU, float units; NaN = censored or not listed.

    Examples
    --------
    >>> daily_demand(data, days=90)["SKU0009"].isna().sum()   # doctest: +SKIP
    17
    """
    days = int(days or _setting(data, "forecast_history_days", 365))
    if not _has(data, "forecast"):
        return pd.DataFrame(index=pd.DatetimeIndex([], name="date"), columns=pd.Index([], name="sku"), dtype="float64")
    end = _as_of(data) if end is None else pd.Timestamp(end).normalize()
    start = end - pd.Timedelta(days=days - 1)
    units, on_hand, listed = _frames(data, start, end)
    demand = units.where(listed)
    if censor:
        stocked_out = on_hand.eq(0) & units.eq(0)
        demand = demand.mask(stocked_out)
    demand.columns.name = "sku"
    return demand


def demand_classes(demand: pd.DataFrame, *, adi_cutoff: float = 1.32, cv2_cutoff: float = 0.49) -> pd.DataFrame:
    """Classify each SKU's demand pattern by ADI and CV² (Syntetos, Boylan and Croston, 2005).

    ADI (average demand interval) = observed days / days with demand; CV² = squared coefficient of
    variation of the non-zero demand sizes. Censored days (NaN) are not observed. Classes:
    smooth (ADI < 1.32, CV² < 0.49), erratic (ADI < 1.32, CV² >= 0.49), intermittent
    (ADI >= 1.32, CV² < 0.49), lumpy (both above), and none (no demand in the window).

    Handbook: 002 part 03 (forecasting), intermittent demand handled properly.

    Parameters
    ----------
    demand : DataFrame
        days x SKUs, as from :func:`daily_demand`.
    adi_cutoff, cv2_cutoff : float
        The 1.32 and 0.49 lines.

    Returns
    -------
    DataFrame
        index sku; columns observed_days, demand_days, adi, cv2, mean (per observed day), std,
        demand_class.

    Examples
    --------
    >>> demand_classes(pd.DataFrame({"a": [1, 2, 1, 2], "b": [0, 0, 0, 6]}))["demand_class"].tolist()
    ['smooth', 'intermittent']
    """
    y = demand.astype("float64")
    observed = y.notna().sum()
    demand_days = (y > 0).sum()
    sizes = y.where(y > 0)
    size_mean = sizes.mean()
    size_std = sizes.std(ddof=1).fillna(0.0)
    adi = observed / demand_days.where(demand_days > 0)
    cv2 = (size_std / size_mean) ** 2
    cls = np.select(
        [demand_days.eq(0).to_numpy(),
         ((adi < adi_cutoff) & (cv2 < cv2_cutoff)).to_numpy(),
         (adi < adi_cutoff).to_numpy(),
         (cv2 < cv2_cutoff).to_numpy()],
        ["none", "smooth", "erratic", "intermittent"], "lumpy")
    out = pd.DataFrame({"observed_days": observed.astype("int64"), "demand_days": demand_days.astype("int64"),
                        "adi": adi, "cv2": cv2, "mean": y.mean(), "std": y.std(ddof=1), "demand_class": cls},
                       index=y.columns)
    out.index.name = "sku"
    return out


# ---------------------------------------------------------------------------------------------
# Croston, SBA, TSB and simple exponential smoothing, vectorised across SKUs
# ---------------------------------------------------------------------------------------------

def _smooth(y: np.ndarray, *, alpha: float, method: str, beta: float | None = None):
    """Run one smoothing method over a periods x series array (NaN = not observed).

    Returns (forecast, one-step squared-error sum, number of one-step errors), one per series.
    Loops over periods only; every step is an array operation across series.
    """
    arr = np.asarray(y, dtype="float64")
    n_t, n = arr.shape
    beta = alpha if beta is None else beta
    z = np.full(n, np.nan)  # demand size (Croston family) or level (SES)
    p = np.full(n, np.nan)  # smoothed interval (Croston, SBA) or demand probability (TSB)
    count = np.zeros(n)  # observed periods since the last demand
    sse = np.zeros(n)
    m = np.zeros(n)
    for t in range(n_t):
        row = arr[t]
        obs = ~np.isnan(row)
        ready = ~np.isnan(z)
        if method == "ses":
            f = z
        elif method == "tsb":
            f = z * p
        else:
            f = z / p
        err = obs & ready
        if err.any():
            e = row[err] - f[err]
            sse[err] += e * e
            m[err] += 1
        if method == "ses":
            new = obs & ~ready
            z[new] = row[new]
            z[err] += alpha * (row[err] - z[err])
            continue
        count += obs
        dem = obs & (row > 0)
        new = dem & ~ready
        if method == "tsb":
            upd = obs & ready
            p[upd] += beta * (dem[upd] - p[upd])
            grow = upd & dem
            z[grow] += alpha * (row[grow] - z[grow])
            z[new] = row[new]
            p[new] = 1.0 / count[new]
        else:
            upd = dem & ready
            z[upd] += alpha * (row[upd] - z[upd])
            p[upd] += alpha * (count[upd] - p[upd])
            z[new] = row[new]
            p[new] = count[new]
        count[dem] = 0
    if method == "ses":
        f = z
    elif method == "tsb":
        f = z * p
    else:
        f = z / p
        if method == "sba":
            f = f * (1 - alpha / 2)
    return np.nan_to_num(f, nan=0.0), sse, m


def croston(y, *, alpha: float = 0.1, method: str = "croston", beta: float | None = None):
    """Forecast intermittent demand per period with Croston's method or its SBA and TSB variants.

    - **croston** (Croston, 1972): exponentially smooth the non-zero demand sizes (z) and the
      intervals between them (p) with the same ``alpha``; forecast = z / p. Both start from the
      first demand and the first interval (leading zeros + 1), as R's ``forecast::croston``.
    - **sba** (Syntetos and Boylan, 2005): Croston times (1 - alpha / 2), which removes Croston's
      upward bias.
    - **tsb** (Teunter, Syntetos and Babai, 2011): smooth the demand probability every period with
      ``beta`` (default ``alpha``) and the size on demand periods; forecast = probability x size.
      The probability decays through runs of zeros, so a SKU that stopped selling fades out.

    NaN periods (censored stock-out days) are skipped: they neither count as zero demand nor
    lengthen an interval.

    Handbook: 002 part 03 (forecasting), for intermittent SKUs.

    Parameters
    ----------
    y : array-like
        One series (1-D) or periods x series (2-D, e.g. the values of :func:`daily_demand`).
    alpha : float, default 0.1
        Smoothing constant.
    method : {"croston", "sba", "tsb"}
    beta : float, optional
        TSB's smoothing constant for the demand probability (default ``alpha``).

    Returns
    -------
    float or ndarray
        The forecast demand per period (flat over the horizon); 0 for a series without demand.

    Examples
    --------
    >>> round(croston([0, 3, 0, 0, 2], alpha=0.5), 4)
    1.0
    >>> round(croston([0, 3, 0, 0, 2], alpha=0.5, method="tsb"), 4)
    1.4062
    """
    if method not in ("croston", "sba", "tsb"):
        raise ValueError(f"method must be 'croston', 'sba' or 'tsb', not {method!r}")
    if not 0 < alpha <= 1 or (beta is not None and not 0 < beta <= 1):
        raise ValueError("alpha and beta must be in (0, 1]")
    arr = np.asarray(y, dtype="float64")
    if arr.ndim not in (1, 2):
        raise ValueError("y must be one series (1-D) or periods x series (2-D)")
    single = arr.ndim == 1
    f, _, _ = _smooth(arr[:, None] if single else arr, alpha=alpha, method=method, beta=beta)
    return float(f[0]) if single else f


def _impute_censored(y: np.ndarray, period: int = 7) -> np.ndarray:
    """Fill NaN days inside a series with the mean of the same weekday over the last 8 weeks of
    observed days (else the series mean), so a seasonal model can be fitted."""
    out = y.copy()
    miss = np.flatnonzero(np.isnan(out))
    if miss.size == 0:
        return out
    overall = np.nanmean(out) if np.isfinite(out).any() else 0.0
    for i in miss:  # censored days of one SKU: a handful
        same = y[max(0, i - 8 * period):i][::-1][period - 1::period]
        same = same[np.isfinite(same)] if same.size else same
        out[i] = same.mean() if same.size else overall
    return out


def _ets_fit(y: np.ndarray, *, seasonal_periods: int = 7):
    """Holt-Winters (additive weekly seasonality, no trend) on one SKU; None when it cannot fit."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    first = np.flatnonzero(np.isfinite(y))
    if first.size == 0:
        return None
    series = _impute_censored(y[first[0]:], seasonal_periods)
    if series.size < 4 * seasonal_periods or np.nanmax(series) <= 0:
        return None
    try:
        with warnings.catch_warnings(), single_thread_blas():  # L-BFGS-B: see single_thread_blas
            warnings.simplefilter("ignore")
            return ExponentialSmoothing(series, seasonal="add", seasonal_periods=seasonal_periods,
                                        initialization_method="heuristic").fit()
    except (ValueError, np.linalg.LinAlgError):
        return None


class DemandForecaster:
    """Per-SKU demand forecaster: classify each SKU's pattern, then forecast it with the method
    its class calls for (fit / ``params_`` / predict, like statsmodels and scikit-learn).

    Methods by demand class come from ``methods`` (the settings' ``inventory.forecast_method``):
    by default smooth and erratic SKUs get Holt-Winters exponential smoothing with a weekly season
    (``ets``, statsmodels), intermittent ones SBA and lumpy ones TSB. Holt-Winters is fitted only
    for the SKUs in ``ets_skus`` (a bounded list, see the module docstring); the other smooth SKUs
    get simple exponential smoothing (``ses``), vectorised like the Croston family.

    Parameters
    ----------
    alpha : float, default 0.1
        Smoothing constant of Croston, SBA, TSB and SES.
    methods : mapping demand class -> method, optional
    ets_skus : iterable of SKUs allowed a Holt-Winters fit; default none.
    adi_cutoff, cv2_cutoff : float
        The classification lines (1.32 and 0.49).
    seasonal_periods : int, default 7
        Season of the Holt-Winters model (a week of daily data).

    Attributes
    ----------
    params_ : DataFrame
        per SKU: demand_class, adi, cv2, method, level (flat daily forecast), demand_std (standard
        deviation of the one-step-ahead errors), history_mean (mean per observed day), observed_days.
    models_ : dict
        SKU -> fitted statsmodels Holt-Winters results.
    end_ : Timestamp
        The last day of the history.

    Examples
    --------
    >>> model = DemandForecaster(ets_skus=["SKU0001"]).fit(daily_demand(data))   # doctest: +SKIP
    >>> model.predict(28)["SKU0001"].head()                                      # doctest: +SKIP
    """

    def __init__(self, *, alpha: float = 0.1, methods: Mapping[str, str] | None = None,
                 ets_skus: Iterable[str] = (), adi_cutoff: float = 1.32, cv2_cutoff: float = 0.49,
                 seasonal_periods: int = 7):
        self.alpha = alpha
        self.methods = dict(methods or {"smooth": "ets", "erratic": "ets", "intermittent": "sba", "lumpy": "tsb"})
        bad = {m for m in self.methods.values() if m not in FORECAST_METHODS}
        if bad:
            raise ValueError(f"unknown forecast method(s) {sorted(bad)}; known: {', '.join(FORECAST_METHODS)}")
        self.ets_skus = list(ets_skus)
        self.adi_cutoff = adi_cutoff
        self.cv2_cutoff = cv2_cutoff
        self.seasonal_periods = seasonal_periods

    def fit(self, demand: pd.DataFrame) -> DemandForecaster:
        """Fit on a days x SKUs demand frame (NaN = censored), e.g. :func:`daily_demand`."""
        if not isinstance(demand, pd.DataFrame) or not isinstance(demand.index, pd.DatetimeIndex):
            raise TypeError("demand must be a DataFrame of days (DatetimeIndex) x SKUs, as daily_demand returns")
        classes = demand_classes(demand, adi_cutoff=self.adi_cutoff, cv2_cutoff=self.cv2_cutoff)
        method = classes["demand_class"].map(lambda c: self.methods.get(c, "zero")).astype("str")
        allowed = set(self.ets_skus)
        method = method.where(~(method.eq("ets") & ~method.index.isin(list(allowed))), "ses")
        method[classes["demand_class"].eq("none")] = "zero"
        arr = demand.to_numpy(dtype="float64")
        level = pd.Series(0.0, index=demand.columns)
        std = pd.Series(np.nan, index=demand.columns)
        for name in ("ses", "croston", "sba", "tsb"):  # a handful of methods, each vectorised
            cols = np.flatnonzero(method.eq(name).to_numpy())
            if cols.size:
                f, sse, m = _smooth(arr[:, cols], alpha=self.alpha, method=name)
                level.iloc[cols] = f
                std.iloc[cols] = np.sqrt(sse / np.where(m > 1, m - 1, np.nan))
        naive = np.flatnonzero(method.eq("naive").to_numpy())
        if naive.size:
            level.iloc[naive] = _seasonal_naive(arr[:, naive], 7).mean(axis=0)
        self.models_ = {}
        self._ets_season = {}
        for sku in method.index[method.eq("ets")]:  # bounded list of SKUs (see module docstring)
            res = _ets_fit(demand[sku].to_numpy(dtype="float64"), seasonal_periods=self.seasonal_periods)
            if res is None:
                method[sku] = "ses"
                f, sse, m = _smooth(demand[[sku]].to_numpy(dtype="float64"), alpha=self.alpha, method="ses")
                level[sku], std[sku] = f[0], math.sqrt(sse[0] / max(m[0] - 1, 1))
                continue
            self.models_[sku] = res
            week = np.clip(res.forecast(self.seasonal_periods), 0, None)  # one season ahead
            self._ets_season[sku] = week
            level[sku] = float(week.mean())
            std[sku] = float(np.std(res.resid, ddof=1))
        fallback = demand.std(ddof=1)
        std = std.fillna(fallback).fillna(0.0)
        self.params_ = pd.DataFrame({
            "demand_class": classes["demand_class"], "adi": classes["adi"], "cv2": classes["cv2"],
            "method": method, "level": level, "demand_std": std,
            "history_mean": classes["mean"].fillna(0.0), "observed_days": classes["observed_days"],
        })
        self.params_.index.name = "sku"
        self.end_ = pd.Timestamp(demand.index[-1])
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        """Daily forecasts for the ``horizon`` days after the history: days x SKUs, never negative."""
        if not hasattr(self, "params_"):
            raise RuntimeError("call fit() before predict()")
        dates = pd.date_range(self.end_ + pd.Timedelta(days=1), periods=int(horizon), freq="D", name="date")
        values = np.repeat(self.params_["level"].to_numpy()[None, :], len(dates), axis=0)
        if self.models_:
            cols = self.params_.index.get_indexer(list(self.models_))
            values[:, cols] = self._ets_path(len(dates))
        return pd.DataFrame(values, index=dates, columns=self.params_.index)

    def _ets_path(self, horizon: int) -> np.ndarray:
        """horizon x Holt-Winters SKUs (in ``models_`` order): each SKU's forecast week repeated. With
        an additive season and no trend the forecast is periodic, so this equals (bit for bit)
        ``res.forecast(horizon)`` clipped at 0, without a statsmodels call per SKU."""
        reps = -(-int(horizon) // self.seasonal_periods)
        weeks = np.column_stack([self._ets_season[sku] for sku in self.models_])
        return np.tile(weeks, (reps, 1))[:int(horizon)]


def _seasonal_naive(arr: np.ndarray, period: int, horizon: int | None = None) -> np.ndarray:
    """The last ``period`` days repeated (a censored day takes the mean of the last 28 observed
    days, else 0): the naive benchmark of the backtest."""
    last = arr[-period:].copy()
    recent = arr[-4 * period:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fill = np.nan_to_num(np.nanmean(recent, axis=0), nan=0.0)
    last = np.where(np.isnan(last), fill[None, :], last)
    horizon = period if horizon is None else horizon
    reps = int(math.ceil(horizon / period))
    return np.tile(last, (reps, 1))[:horizon]


def _ets_skus(data, classes: pd.DataFrame | None, demand_class: pd.Series) -> list[str]:
    """The SKUs allowed a Holt-Winters fit: smooth or erratic, in the classes of
    ``inventory.ets_abc``, at most ``inventory.ets_max_skus`` of them, largest sales first."""
    smooth = demand_class.index[demand_class.isin(["smooth", "erratic"])]
    if classes is None or classes.empty:
        return []
    allowed = set(_setting(data, "ets_abc", ["A", "B"]))
    c = classes.set_index("sku").reindex(smooth)
    c = c[c["abc"].isin(allowed)].sort_values("revenue", ascending=False)
    return c.index[: int(_setting(data, "ets_max_skus", 100))].tolist()


def _forecaster(data, classes, demand) -> DemandForecaster:
    adi = float(_setting(data, "demand_adi_cutoff", 1.32))
    cv2 = float(_setting(data, "demand_cv2_cutoff", 0.49))
    dc = demand_classes(demand, adi_cutoff=adi, cv2_cutoff=cv2)["demand_class"]
    methods = dict(_setting(data, "forecast_method", {}) or {})
    return DemandForecaster(alpha=float(_setting(data, "croston_alpha", 0.1)), methods=methods or None,
                            ets_skus=_ets_skus(data, classes, dc), adi_cutoff=adi, cv2_cutoff=cv2)


FORECAST_COLUMNS = ["sku", "title", "category", "abc", "xyz", "demand_class", "adi", "cv2", "method",
                    "observed_days", "censored_days", "history_mean", "uncensored_zero_mean",
                    "daily_forecast", "demand_std", "forecast_units"]


def forecast_demand(data, *, classes: pd.DataFrame | None = None, horizon: int | None = None) -> pd.DataFrame:
    """Forecast each SKU's daily demand for the coming weeks, with the method its pattern calls for.

    The history is :func:`daily_demand` (stock-out days censored) over
    ``inventory.forecast_history_days``; patterns and methods as in :class:`DemandForecaster`.

    Handbook: 002 part 03 (智能预测与备货: forecast demand from sales history to set stock).

    Parameters
    ----------
    data : Dataset (order_items; inventory for censoring).
    classes : DataFrame, optional
        :func:`abc_xyz` (computed when omitted); decides which SKUs get Holt-Winters.
    horizon : int, optional
        Days ahead; default ``inventory.forecast_horizon_days`` (28).

    Returns
    -------
    DataFrame
        one row per SKU: sku, title, category, abc, xyz, demand_class, adi, cv2, method,
        observed_days, censored_days (stock-out days in the history), history_mean (mean per
        observed day), uncensored_zero_mean (what the mean would be with stock-out days counted as
        zero), daily_forecast (mean over the horizon), demand_std (one-step error), forecast_units
        (sum over the horizon).

    Examples
    --------
    >>> forecast_demand(data).set_index("sku").loc["SKU0009", "method"]   # doctest: +SKIP
    'ets'
    """
    if not _has(data, "forecast"):
        return _empty(FORECAST_COLUMNS)
    horizon = int(horizon or _setting(data, "forecast_horizon_days", 28))
    classes = abc_xyz(data) if classes is None else classes
    demand = daily_demand(data)
    raw = daily_demand(data, censor=False)
    model = _forecaster(data, classes, demand).fit(demand)
    path = model.predict(horizon)
    p = model.params_
    censored = (raw.notna() & demand.isna()).sum()
    out = pd.DataFrame({
        "demand_class": p["demand_class"], "adi": p["adi"], "cv2": p["cv2"], "method": p["method"],
        "observed_days": p["observed_days"],
        "censored_days": censored.astype("int64"),
        "history_mean": p["history_mean"], "uncensored_zero_mean": raw.mean().fillna(0.0),
        "daily_forecast": path.mean(), "demand_std": p["demand_std"], "forecast_units": path.sum(),
    })
    out = _attributes(data, out.index).join(out)
    cls = classes.set_index("sku")[["abc", "xyz"]] if not classes.empty else pd.DataFrame(columns=["abc", "xyz"])
    out = out.join(cls.reindex(out.index))
    out = out.reset_index()
    return out[FORECAST_COLUMNS]


BACKTEST_COLUMNS = ["demand_class", "method", "skus", "days", "actual_units", "mae", "wape", "bias"]


def backtest(data, *, classes: pd.DataFrame | None = None, days: int | None = None) -> pd.DataFrame:
    """Hold out the last ``days`` days, forecast them from the history before, and score every
    method against a naive forecast.

    Every method (SES, Croston, SBA, TSB; Holt-Winters on the SKUs allowed it, scored within their
    demand classes only) forecasts every SKU;
    ``chosen`` is the method each SKU's class gets in :func:`forecast_demand`; ``naive`` repeats the
    last observed week. Only observed (not censored) days are scored:

    - MAE = mean |forecast - actual| per SKU-day;
    - WAPE = sum |forecast - actual| / sum actual;
    - bias = sum (forecast - actual) / sum actual (negative = under-forecast).

    Handbook: 002 part 03 (forecasting); a forecast must beat the naive one to be worth using.

    Parameters
    ----------
    data : Dataset
    classes : DataFrame, optional
        :func:`abc_xyz`.
    days : int, optional
        Hold-out length; default ``inventory.backtest_days`` (28).

    Returns
    -------
    DataFrame
        demand_class (including ``all``), method, skus, days (SKU-days scored), actual_units, mae,
        wape, bias; one row per class and method.

    Examples
    --------
    >>> bt = backtest(data)                                                      # doctest: +SKIP
    >>> bt.query("demand_class == 'all'").set_index("method")["wape"]             # doctest: +SKIP
    """
    if not _has(data, "forecast"):
        return _empty(BACKTEST_COLUMNS)
    days = int(days or _setting(data, "backtest_days", 28))
    history = int(_setting(data, "forecast_history_days", 365))
    classes = abc_xyz(data) if classes is None else classes
    end = _as_of(data)
    cut = end - pd.Timedelta(days=days)
    train = daily_demand(data, days=history, end=cut)
    actual = daily_demand(data, days=days, end=end).reindex(columns=train.columns)
    model = _forecaster(data, classes, train).fit(train)
    p = model.params_
    arr = train.to_numpy(dtype="float64")
    fc: dict[str, np.ndarray] = {"naive": _seasonal_naive(arr, 7, days)}
    alpha = model.alpha
    for name in ("ses", "croston", "sba", "tsb"):  # four methods, each vectorised over SKUs
        f, _, _ = _smooth(arr, alpha=alpha, method=name)
        fc[name] = np.repeat(f[None, :], days, axis=0)
    ets = np.full((days, arr.shape[1]), np.nan)
    if model.models_:  # the bounded Holt-Winters list
        ets[:, train.columns.get_indexer(list(model.models_))] = model._ets_path(days)
    fc["ets"] = ets
    chosen = np.full((days, arr.shape[1]), np.nan)
    for name in set(p["method"]):
        cols = np.flatnonzero(p["method"].eq(name).to_numpy())
        src = fc.get(name, np.zeros((days, arr.shape[1])))
        chosen[:, cols] = src[:, cols]
    fc["chosen"] = chosen
    act = actual.to_numpy(dtype="float64")
    group = p["demand_class"].to_numpy()
    rows = []
    for method, f in fc.items():  # a handful of methods
        for cls in ["all", *DEMAND_CLASSES]:
            if cls == "all" and method == "ets":
                continue  # Holt-Winters covers only the SKUs allowed it: compared within their classes
            cols = np.ones(arr.shape[1], bool) if cls == "all" else group == cls
            sub_f, sub_a = f[:, cols], act[:, cols]
            ok = np.isfinite(sub_f) & np.isfinite(sub_a)
            if not ok.any():
                continue
            err = np.where(ok, sub_f - sub_a, 0.0)
            total = float(np.where(ok, sub_a, 0.0).sum())
            rows.append({"demand_class": cls, "method": method, "skus": int(ok.any(axis=0).sum()),
                         "days": int(ok.sum()), "actual_units": total,
                         "mae": float(np.abs(err).sum() / ok.sum()),
                         "wape": float(np.abs(err).sum() / total) if total else np.nan,
                         "bias": float(err.sum() / total) if total else np.nan})
    return pd.DataFrame(rows, columns=BACKTEST_COLUMNS)


def backtest_wape(bt: pd.DataFrame, method: str = "chosen", demand_class: str = "all") -> float | None:
    """WAPE of one method in :func:`backtest` (all SKUs by default) as a plain float; ``None`` when the
    backtest is empty or lacks the method."""
    row = bt[(bt["demand_class"] == demand_class) & (bt["method"] == method)] if not bt.empty else bt
    if row.empty or pd.isna(row["wape"].iloc[0]):
        return None
    return float(row["wape"].iloc[0])


# ---------------------------------------------------------------------------------------------
# ABC-XYZ
# ---------------------------------------------------------------------------------------------

def abc_class(values, *, cutoffs=(0.80, 0.95)) -> pd.Series:
    """ABC class of each item by its share of the total, largest first.

    An item is A while the items ranked above it make less than the first cut-off (80%) of the
    total, so the A items together make at least 80%; B likewise up to the second cut-off (95%);
    C is the rest. Items with no value are C.

    Handbook: 001 part 2 and 002 part 03 (ABC分类法), cut-offs from ``inventory.abc_cutoffs``.

    Parameters
    ----------
    values : Series (e.g. revenue by SKU)
    cutoffs : (float, float)

    Returns
    -------
    Series of "A" / "B" / "C", same index.

    Examples
    --------
    >>> abc_class(pd.Series([50, 30, 10, 6, 4], index=list("vwxyz"))).tolist()
    ['A', 'A', 'B', 'B', 'C']
    """
    a, b = cutoffs
    if not 0 < a < b <= 1:
        raise ValueError(f"ABC cut-offs must rise within (0, 1], e.g. [0.8, 0.95]; got {list(cutoffs)}")
    v = pd.Series(values, dtype="float64").fillna(0.0).clip(lower=0)
    total = v.sum()
    if total <= 0:
        return pd.Series("C", index=v.index, dtype="str")
    order = v.sort_values(ascending=False, kind="stable")
    before = (order.cumsum() - order) / total
    cls = pd.Series(np.select([before < a, before < b], ["A", "B"], "C"), index=order.index)
    cls[order <= 0] = "C"
    return cls.reindex(v.index).astype("str")


def xyz_class(cv, *, cutoffs=(0.5, 1.0)) -> pd.Series:
    """XYZ class from the coefficient of variation of weekly demand: X below the first cut-off
    (steady), Y below the second, Z above (erratic); an unknown CV (no demand, too short a
    history) is Z.

    Examples
    --------
    >>> xyz_class(pd.Series([0.2, 0.7, 1.5, np.nan])).tolist()
    ['X', 'Y', 'Z', 'Z']
    """
    x, y = cutoffs
    c = pd.Series(cv, dtype="float64")
    return pd.Series(np.select([c < x, c < y], ["X", "Y"], "Z"), index=c.index).astype("str")


ABC_COLUMNS = ["sku", "title", "category", "revenue", "units", "revenue_share", "cum_share", "rank",
               "abc", "weeks", "weekly_mean", "weekly_cv", "xyz", "abc_xyz", "service_level",
               "review_days", "policy"]


def abc_xyz(data, *, days: int | None = None) -> pd.DataFrame:
    """ABC class by sales value and XYZ class by the variability of weekly demand, with the stock
    policy each class gets.

    - ABC: revenue of paid order lines over the last ``days`` (``inventory.classification_days``,
      365) before the end of the report month, cut at ``inventory.abc_cutoffs`` (80% / 95%).
    - XYZ: coefficient of variation (std / mean) of weekly demand over the same days, in 7-day
      buckets ending on the report month's last day; a week's demand is its mean per observed day x 7
      (stock-out days censored), weeks with fewer than 4 observed days are left out; cut at
      ``inventory.xyz_cutoffs`` (0.5 / 1.0). Fewer than 8 weeks of history: Z.
    - Policy (001 part 2: stock A deep, replenish B weekly, clear C): service level
      ``inventory.service_level`` and review period ``inventory.review_days`` by ABC class.

    Parameters
    ----------
    data : Dataset (order_items; products for titles; inventory for censoring).
    days : int, optional

    Returns
    -------
    DataFrame
        one row per SKU, largest revenue first: sku, title, category, revenue, units,
        revenue_share, cum_share, rank, abc, weeks, weekly_mean, weekly_cv, xyz, abc_xyz,
        service_level, review_days, policy.

    Examples
    --------
    >>> abc_xyz(data).groupby("abc")["revenue_share"].sum()   # doctest: +SKIP
    """
    if not _has(data, "abc_xyz"):
        return _empty(ABC_COLUMNS)
    days = int(days or _setting(data, "classification_days", 365))
    end = _as_of(data)
    start = end - pd.Timedelta(days=days - 1)
    sd = _sku_daily(data)
    win = sd[(sd["date"] >= start) & (sd["date"] <= end)]
    skus = _all_skus(data)
    g = win.groupby("sku")[["revenue", "units"]].sum().reindex(skus).fillna(0.0)
    cutoffs = tuple(_setting(data, "abc_cutoffs", [0.8, 0.95]))
    out = g.copy()
    total = out["revenue"].sum()
    out = out.sort_values("revenue", ascending=False, kind="stable")
    out["revenue_share"] = out["revenue"] / total if total else 0.0
    out["cum_share"] = out["revenue_share"].cumsum()
    out["rank"] = np.arange(1, len(out) + 1)
    out["abc"] = abc_class(out["revenue"], cutoffs=cutoffs)
    # weekly demand, censored days out
    demand = daily_demand(data, days=days, end=end)
    week = (np.arange(len(demand))[::-1] // 7)  # 0 = the last 7 days
    obs = demand.notna().groupby(week).sum()
    tot = demand.fillna(0.0).groupby(week).sum()
    weekly = (tot / obs.where(obs >= 4)) * 7
    n_weeks = weekly.notna().sum()
    mean = weekly.mean()
    cv = (weekly.std(ddof=1) / mean.where(mean > 0)).where(n_weeks >= 8)
    out["weeks"] = n_weeks.reindex(out.index).fillna(0).astype("int64")
    out["weekly_mean"] = mean.reindex(out.index)
    out["weekly_cv"] = cv.reindex(out.index)
    out["xyz"] = xyz_class(out["weekly_cv"], cutoffs=tuple(_setting(data, "xyz_cutoffs", [0.5, 1.0])))
    out["abc_xyz"] = out["abc"] + out["xyz"]
    service = _class_setting(data, "service_level", _DEFAULT_SERVICE)
    review = _class_setting(data, "review_days", _DEFAULT_REVIEW)
    out["service_level"] = out["abc"].map(service).astype("float64")
    out["review_days"] = out["abc"].map(review).astype("int64")
    out["policy"] = out["abc"].map(ABC_POLICY) + "; " + out["xyz"].map(XYZ_POLICY)
    out = _attributes(data, out.index).join(out).reset_index()
    return out[ABC_COLUMNS]


def abc_xyz_matrix(classes: pd.DataFrame, *, value: str = "revenue_share") -> pd.DataFrame:
    """The 3 x 3 ABC-XYZ matrix: ``value`` summed per cell (``revenue_share``) or ``"skus"`` counted.

    Examples
    --------
    >>> abc_xyz_matrix(abc_xyz(data), value="skus")   # doctest: +SKIP
    """
    idx, cols = pd.Index(["A", "B", "C"], name="ABC"), pd.Index(["X", "Y", "Z"], name="XYZ")
    if classes.empty:
        return pd.DataFrame(np.nan, index=idx, columns=cols)
    if value == "skus":
        m = classes.groupby(["abc", "xyz"]).size()
    else:
        m = classes.groupby(["abc", "xyz"])[value].sum()
    return m.unstack().reindex(index=idx, columns=cols).fillna(0)


def plot_abc_xyz_matrix(classes: pd.DataFrame, *, value: str = "revenue_share", ax: Axes | None = None,
                        title: str | None = "Share of sales by ABC-XYZ cell") -> Axes:
    """The ABC-XYZ matrix as an annotated heatmap (:func:`abc_xyz_matrix`); a note when there is no
    sales data."""
    ax = plt.gca() if ax is None else ax
    if classes.empty:
        ax.text(0.5, 0.5, "no sales data", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    fmt = "pct" if value == "revenue_share" else ".0f"
    return charts.heatmap(abc_xyz_matrix(classes, value=value), ax=ax, fmt=fmt, title=title)


def class_policies(classes: pd.DataFrame) -> pd.DataFrame:
    """The stock policy of each ABC-XYZ cell: skus, revenue_share, service_level, review_days and the
    policy in words (001 part 2: stock A deep, replenish B weekly, clear C)."""
    cols = ["abc_xyz", "skus", "revenue_share", "service_level", "review_days", "policy"]
    if classes.empty:
        return _empty(cols)
    g = classes.groupby("abc_xyz").agg(skus=("sku", "size"), revenue_share=("revenue_share", "sum"),
                                       service_level=("service_level", "first"),
                                       review_days=("review_days", "first"), policy=("policy", "first"))
    return g.reset_index()[cols]


def example_sku(forecast: pd.DataFrame, sku: str = "") -> str:
    """The SKU to show in the forecasting section: ``sku`` when given, else the one with the most
    censored (stock-out) days, else the best seller."""
    if sku or forecast.empty:
        return sku
    f = forecast.sort_values(["censored_days", "history_mean"], ascending=False, kind="stable")
    return str(f["sku"].iloc[0])


def in_stock_rate(data, classes: pd.DataFrame) -> pd.DataFrame:
    """Share of listed SKU-days in the report month with stock available, by ABC class, against the
    class's service level (001 part 2: stock A deep, so an A SKU should almost never be out).

    A day counts as out of stock when the SKU ended it with nothing on hand and sold nothing
    (the censored days of :func:`daily_demand`).

    Returns
    -------
    DataFrame
        one row per class A, B, C: skus (listed in the month), listed_days, stockout_days,
        in_stock_rate, service_level, skus_stocked_out (at least one day out), skus_below_service
        (SKUs whose own in-stock rate is under the class's service level).
    """
    cols = ["abc", "skus", "listed_days", "stockout_days", "in_stock_rate", "service_level", "skus_stocked_out",
            "skus_below_service"]
    service = _class_setting(data, "service_level", _DEFAULT_SERVICE)
    if classes.empty or not _has(data, "turnover"):
        return pd.DataFrame({"abc": ["A", "B", "C"], "skus": np.nan, "listed_days": np.nan, "stockout_days": np.nan,
                             "in_stock_rate": np.nan, "service_level": [service[k] for k in "ABC"],
                             "skus_stocked_out": np.nan, "skus_below_service": np.nan})[cols]
    start, end = _month_start(data), _as_of(data)
    days = (end - start).days + 1
    raw = daily_demand(data, days=days, end=end, censor=False)
    cens = daily_demand(data, days=days, end=end)
    listed = raw.notna().sum()
    out_days = (raw.notna() & cens.isna()).sum()
    cls = classes.set_index("sku")["abc"].reindex(listed.index)
    rate = 1 - out_days / listed.where(listed > 0)
    frame = pd.DataFrame({"abc": cls, "listed": listed, "out": out_days, "on_list": (listed > 0).astype("int64"),
                          "stocked_out": (out_days > 0).astype("int64"),
                          "below": (rate < cls.map(service)).astype("int64")})
    g = frame.groupby("abc").agg(skus=("on_list", "sum"), listed_days=("listed", "sum"),
                                 stockout_days=("out", "sum"), skus_stocked_out=("stocked_out", "sum"),
                                 skus_below_service=("below", "sum"))
    g = g.reindex(["A", "B", "C"]).fillna(0).astype("int64")
    g["in_stock_rate"] = 1 - g["stockout_days"] / g["listed_days"].where(g["listed_days"] > 0)
    g["service_level"] = [service[k] for k in g.index]
    g.index.name = "abc"
    return g.reset_index()[cols]


def plot_pareto(classes: pd.DataFrame, *, cutoffs=(0.80, 0.95), ax: Axes | None = None,
                title: str | None = "ABC: cumulative share of sales 累计销售额占比") -> Axes:
    """Cumulative revenue share against SKU rank, coloured by ABC class, with the cut-off lines."""
    ax = plt.gca() if ax is None else ax
    if classes.empty:
        ax.text(0.5, 0.5, "no sales data", ha="center", va="center", transform=ax.transAxes)
        return ax
    colors = {"A": charts.ALERT_COLORS["good"], "B": charts.PALETTE[0], "C": charts.ALERT_COLORS["neutral"]}
    c = classes.sort_values("rank")
    ax.plot(c["rank"], c["cum_share"], color="#555555", linewidth=1, zorder=1)
    for k in ("A", "B", "C"):
        part = c[c["abc"] == k]
        ax.scatter(part["rank"], part["cum_share"], s=14, color=colors[k], zorder=2,
                   label=f"{k}: {len(part)} SKUs, {part['revenue_share'].sum():.0%} of sales")
    for cut in cutoffs:
        charts.annotate_threshold(ax, cut, f"{cut:.0%}", color=charts.ALERT_COLORS["neutral"])
    charts.format_pct_axis(ax)
    ax.set_xlabel("SKU rank by sales")
    ax.set_ylabel("cumulative share of sales")
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------------------------
# Turnover
# ---------------------------------------------------------------------------------------------

TURNOVER_COLUMNS = ["sku", "title", "category", "abc", "opening_on_hand", "closing_on_hand", "avg_on_hand",
                    "units_sold", "avg_inventory_value", "cogs", "days_of_inventory", "turnover",
                    "annual_turnover", "sell_through", "daily_rate", "weeks_of_cover", "over_target"]


def turnover(data, *, by: str = "sku", classes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Days of inventory, turnover rate, sell-through and weeks of cover in the report month.

    Over the report month's days:

    - days of inventory (库存周转天数) = average inventory value / COGS per day, at unit cost
      (average on hand / units sold per day for a single SKU);
    - turnover (周转率) = COGS / average inventory value in the month; annual_turnover scales it
      to a year (x 365 / days);
    - sell-through (售罄率) = units sold / (units sold + closing stock), i.e. of the stock that was
      available in the month (opening + received), the share that sold (for a category, the ABC
      class or the shop: at unit cost);
    - weeks of cover = closing stock / average weekly demand over the last
      ``inventory.cover_lookback_days`` (90, stock-out days censored);
    - over_target: days of inventory above ``inventory.turnover_target_days`` (30, handbook 002).

    Parameters
    ----------
    data : Dataset (order_items, inventory; products.unit_cost and category for value and grouping).
    by : {"sku", "category", "abc", "shop"}
    classes : DataFrame, optional
        :func:`abc_xyz`, to add the ABC class (and group by it).

    Returns
    -------
    DataFrame
        one row per ``by`` group with the columns of :data:`TURNOVER_COLUMNS` that apply; ``shop``
        always has one row (values missing when inventory is absent).

    Examples
    --------
    >>> turnover(data, by="shop")["days_of_inventory"].iloc[0]   # doctest: +SKIP
    51.1
    """
    if by not in ("sku", "category", "abc", "shop"):
        raise ValueError("by must be 'sku', 'category', 'abc' or 'shop'")
    target = float(_setting(data, "turnover_target_days", 30))
    keys = {"sku": ["sku", "title", "category", "abc"], "category": ["category"], "abc": ["abc"], "shop": []}[by]
    value_cols = [c for c in TURNOVER_COLUMNS if c not in ("sku", "title", "category", "abc")]
    if not _has(data, "turnover"):
        if by == "shop":
            return pd.DataFrame({c: [np.nan] for c in value_cols})
        return _empty(keys + value_cols)
    start, end = _month_start(data), _as_of(data)
    ndays = (end - start).days + 1
    units, on_hand, listed = _frames(data, start - pd.Timedelta(days=1), end)
    opening = on_hand.iloc[0]
    units, on_hand = units.iloc[1:], on_hand.iloc[1:]
    skus = units.columns
    cost = _unit_cost(data, skus)
    lookback = int(_setting(data, "cover_lookback_days", 90))
    rate = daily_demand(data, days=lookback, end=end).mean().reindex(skus).fillna(0.0)
    closing = on_hand.ffill().iloc[-1]
    frame = pd.DataFrame({
        "opening_on_hand": opening.fillna(on_hand.bfill().iloc[0]), "closing_on_hand": closing,
        "avg_on_hand": on_hand.mean(), "units_sold": units.sum(), "cost": cost, "daily_rate": rate,
    })
    frame = frame[frame["avg_on_hand"].notna() | frame["units_sold"].gt(0)]
    frame["avg_inventory_value"] = frame["avg_on_hand"] * frame["cost"]
    frame["cogs"] = frame["units_sold"] * frame["cost"]
    frame["closing_value"] = frame["closing_on_hand"] * frame["cost"]
    frame["weekly_value"] = frame["daily_rate"] * 7 * frame["cost"]
    frame = _attributes(data, frame.index).join(frame)
    cls = classes.set_index("sku")["abc"] if classes is not None and not classes.empty else pd.Series(dtype="str")
    frame["abc"] = cls.reindex(frame.index).fillna("")
    frame = frame.reset_index()
    if by == "shop":
        frame["_all"] = "shop"
        grouped = frame.groupby("_all")
    elif by == "sku":
        grouped = None
    else:
        grouped = frame.groupby(by)
    if grouped is not None:
        agg = grouped[["opening_on_hand", "closing_on_hand", "avg_on_hand", "units_sold", "avg_inventory_value",
                       "cogs", "closing_value", "weekly_value"]].sum()
        agg["daily_rate"] = grouped["daily_rate"].sum()
        frame = agg.reset_index().drop(columns=["_all"], errors="ignore")
        num_inv, num_flow = frame["avg_inventory_value"], frame["cogs"]
        closing_cover = frame["closing_value"] / frame["weekly_value"].where(frame["weekly_value"] > 0)
    else:
        num_inv, num_flow = frame["avg_on_hand"], frame["units_sold"]
        closing_cover = frame["closing_on_hand"] / (frame["daily_rate"] * 7).where(frame["daily_rate"] > 0)
        closing_cover = closing_cover.where(~(frame["daily_rate"].le(0) & frame["closing_on_hand"].gt(0)), np.inf)
    per_day = num_flow / ndays
    frame["days_of_inventory"] = (num_inv / per_day.where(per_day > 0)).where(
        ~(per_day.le(0) & num_inv.gt(0)), np.inf)
    frame["turnover"] = num_flow / num_inv.where(num_inv > 0)
    frame["annual_turnover"] = frame["turnover"] * 365 / ndays
    sold_value = frame["cogs"] if grouped is not None else frame["units_sold"]
    left = frame["closing_value"] if grouped is not None else frame["closing_on_hand"]
    frame["sell_through"] = sold_value / (sold_value + left).where((sold_value + left) > 0)
    frame["weeks_of_cover"] = closing_cover
    frame["over_target"] = frame["days_of_inventory"] > target
    out = frame[[c for c in keys + value_cols if c in frame.columns]]
    if by == "sku":
        out = out.sort_values("avg_inventory_value", ascending=False, kind="stable")
    elif by != "shop":
        out = out.sort_values("days_of_inventory", ascending=False, kind="stable")
    return out.reset_index(drop=True)


def turnover_trend(data) -> pd.DataFrame:
    """Days of inventory of the whole shop month by month over the loaded window (at unit cost):
    month, avg_inventory_value, cogs, days_of_inventory. Empty without inventory."""
    cols = ["month", "avg_inventory_value", "cogs", "days_of_inventory"]
    if not _has(data, "turnover"):
        return _empty(cols)
    sd = _sku_daily(data)
    sd = sd[sd["date"] <= _as_of(data)]
    cost = _unit_cost(data, _all_skus(data))
    c = sd["sku"].map(cost).astype("float64")
    frame = pd.DataFrame({"date": sd["date"], "inv": sd["on_hand"].astype("float64") * c,
                          "cogs": sd["units"].astype("float64") * c})
    daily = frame.groupby("date").agg(inv=("inv", "sum"), cogs=("cogs", "sum"), snaps=("inv", "count"))
    daily = daily[daily["snaps"] > 0]
    daily["month"] = daily.index.strftime("%Y-%m")
    g = daily.groupby("month").agg(avg_inventory_value=("inv", "mean"), cogs=("cogs", "sum"), days=("inv", "size"))
    g["days_of_inventory"] = g["avg_inventory_value"] / (g["cogs"] / g["days"]).where(g["cogs"] > 0)
    return g.reset_index()[cols]


def plot_turnover_trend(trend: pd.DataFrame, *, target: float = 30, ax: Axes | None = None,
                        title: str | None = "Days of inventory 库存周转天数, month by month") -> Axes:
    """Monthly days of inventory with the target line (handbook 002: under 30 days)."""
    ax = plt.gca() if ax is None else ax
    if trend.empty:
        ax.text(0.5, 0.5, "no inventory snapshots", ha="center", va="center", transform=ax.transAxes)
        return ax
    charts.line_chart(trend, "month", "days_of_inventory", ax=ax, title=title)
    charts.annotate_threshold(ax, target, f"target {target:.0f} days")
    ax.set_ylabel("days")
    ax.set_ylim(bottom=0)
    return ax


def plot_days_of_inventory(turnover_by: pd.DataFrame, by: str = "category", *, target: float = 30,
                           ax: Axes | None = None,
                           title: str | None = "Days of inventory by category, report month") -> Axes:
    """Horizontal bars of days of inventory per group (category or ABC class) with the target line;
    a group that sold nothing (infinite days) is drawn at the axis end and labelled "no sales"."""
    ax = plt.gca() if ax is None else ax
    rows = turnover_by.dropna(subset=["days_of_inventory"]) if not turnover_by.empty else turnover_by
    if rows.empty:
        ax.text(0.5, 0.5, "no inventory snapshots", ha="center", va="center", transform=ax.transAxes)
        return ax
    rows = rows.iloc[::-1]
    finite = rows["days_of_inventory"].replace(np.inf, np.nan)
    top = float(max(finite.max() if finite.notna().any() else target, target)) * 1.12
    values = rows["days_of_inventory"].clip(upper=top)
    colors = np.where(rows["days_of_inventory"] > target, charts.ALERT_COLORS["bad"], charts.ALERT_COLORS["good"])
    y = np.arange(len(rows))
    ax.barh(y, values, color=colors)
    for yi, v in zip(y, rows["days_of_inventory"]):  # one label per bar
        ax.annotate("no sales" if np.isinf(v) else f"{v:,.0f}", (min(v, top), yi), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize="small")
    ax.set_yticks(y, rows[by].astype("str"))
    ax.set_xlim(0, top * 1.1)
    ax.axvline(target, color=charts.ALERT_COLORS["bad"], linestyle="--", linewidth=1.2, zorder=3,
               label=f"target {target:.0f} days")
    ax.legend(loc="lower right", fontsize="small")
    ax.set_xlabel("days of inventory")
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------------------------
# Safety stock, reorder point, EOQ
# ---------------------------------------------------------------------------------------------

def service_z(service_level):
    """The standard normal quantile of a cycle service level (0.95 -> 1.645)."""
    sl = np.asarray(service_level, dtype="float64")
    if np.any((sl <= 0) | (sl >= 1)):
        raise ValueError("service_level must be strictly between 0 and 1, e.g. 0.95")
    z = stats.norm.ppf(sl)
    return float(z) if np.ndim(z) == 0 else z


def _out(x, *like):
    """Return a float for scalar inputs and keep a Series' index."""
    for obj in like:
        if isinstance(obj, pd.Series):
            return pd.Series(np.asarray(x, dtype="float64"), index=obj.index)
    return float(x) if np.ndim(x) == 0 else np.asarray(x, dtype="float64")


def safety_stock(demand_mean, demand_std, lead_time, *, lead_time_std=0, service_level=0.95):
    """Safety stock (安全库存) covering demand and lead-time variability at a cycle service level.

    SS = z x sqrt(L x sd_d² + d² x sd_L²), where d and sd_d are the mean and standard deviation of
    demand per period, L and sd_L the mean and standard deviation of the lead time in the same
    periods, and z the normal quantile of the service level (probability of not running out
    during a replenishment cycle). With sd_L = 0 it is z x sd_d x sqrt(L); with sd_d = 0,
    z x d x sd_L.

    Handbook: 003 stage 2 (设置安全库存, 避免断货).

    Parameters
    ----------
    demand_mean, demand_std : float or array
        Per period (e.g. per day).
    lead_time : float or array
        In periods.
    lead_time_std : float or array, default 0
    service_level : float or array, default 0.95

    Returns
    -------
    float or array

    Examples
    --------
    >>> round(safety_stock(50, 5, 1, service_level=0.97), 2)   # Stevenson, Example 8: 9.40 with z = 1.88
    9.4
    """
    d, sd, lt, slt = (np.asarray(v, dtype="float64") for v in (demand_mean, demand_std, lead_time, lead_time_std))
    if np.any(sd < 0) or np.any(lt < 0) or np.any(slt < 0):
        raise ValueError("demand_std, lead_time and lead_time_std cannot be negative")
    ss = service_z(service_level) * np.sqrt(lt * sd ** 2 + d ** 2 * slt ** 2)
    return _out(ss, demand_mean, demand_std, lead_time)


def reorder_point(demand_mean, demand_std, lead_time, *, lead_time_std=0, service_level=0.95):
    """Reorder point (订货点) = expected demand over the lead time + safety stock.

    ROP = d x L + :func:`safety_stock`. When the stock position (on hand + on order) falls to it, an
    order placed now arrives before the shelf is empty with probability ``service_level``.

    Handbook: 003 stage 2 (安全库存, 预警库存).

    Examples
    --------
    >>> round(reorder_point(60, 0, 6, lead_time_std=2, service_level=0.90), 1)   # Heizer & Render: 513.6
    513.8
    """
    ss = safety_stock(demand_mean, demand_std, lead_time, lead_time_std=lead_time_std, service_level=service_level)
    rop = np.asarray(demand_mean, dtype="float64") * np.asarray(lead_time, dtype="float64") + np.asarray(ss)
    return _out(rop, demand_mean, demand_std, lead_time)


def eoq(annual_demand, order_cost, holding_cost):
    """Economic order quantity (经济订货批量): the order size that balances ordering and holding cost.

    EOQ = sqrt(2 x D x S / H), with D the demand per year, S the cost of placing one order and H
    the cost of holding one unit for a year (unit cost x holding rate).

    Examples
    --------
    >>> eoq(1000, 10, 0.5)   # Heizer & Render, Sharp Inc.: 200 units
    200.0
    """
    d, s, h = (np.asarray(v, dtype="float64") for v in (annual_demand, order_cost, holding_cost))
    if np.any(d < 0) or np.any(s < 0):
        raise ValueError("annual_demand and order_cost cannot be negative")
    if np.any(h <= 0):
        raise ValueError("holding_cost must be positive (cost of holding one unit for a year)")
    return _out(np.sqrt(2 * d * s / h), annual_demand, order_cost, holding_cost)


def lead_time_demand_quantile(demand: pd.DataFrame, lead_time, *, service_level=0.95,
                              min_windows: int = 30) -> pd.Series:
    """Empirical quantile of the demand summed over ``lead_time`` consecutive days, per SKU.

    For intermittent demand the normal formula fits badly (demand is mostly zeros, sometimes a
    lump), so the reorder point is read off the SKU's own history instead: every window of
    ceil(lead time) consecutive fully observed days gives one lead-time demand, and the
    ``service_level`` quantile of those sums is the reorder point. Windows that contain a censored
    day are left out. Fewer than ``min_windows`` windows: NaN (use the normal formula).

    Parameters
    ----------
    demand : DataFrame
        days x SKUs (:func:`daily_demand`).
    lead_time : float, or Series by SKU
        In days.
    service_level : float, or Series by SKU
    min_windows : int, default 30

    Returns
    -------
    Series
        by SKU.

    Examples
    --------
    >>> d = pd.DataFrame({"a": [0, 2, 0, 0, 1, 0, 3, 0]})
    >>> lead_time_demand_quantile(d, 2, service_level=0.5, min_windows=1)["a"]   # sums 2 2 0 1 1 3 3
    2.0
    """
    arr = demand.to_numpy(dtype="float64")
    n_t, n = arr.shape
    lt = pd.Series(lead_time, index=demand.columns, dtype="float64") if np.ndim(lead_time) == 0 else \
        pd.Series(lead_time, dtype="float64").reindex(demand.columns)
    sl = pd.Series(service_level, index=demand.columns, dtype="float64") if np.ndim(service_level) == 0 else \
        pd.Series(service_level, dtype="float64").reindex(demand.columns)
    length = np.clip(_ceil(lt.fillna(1).to_numpy()), 1, max(n_t, 1)).astype(int)
    obs = np.isfinite(arr)
    cs = np.vstack([np.zeros(n), np.cumsum(np.where(obs, arr, 0.0), axis=0)])
    cm = np.vstack([np.zeros(n), np.cumsum(~obs, axis=0)])
    start = np.arange(n_t)[:, None]
    stop = start + length[None, :]
    valid = stop <= n_t
    stop = np.minimum(stop, n_t)
    sums = np.take_along_axis(cs, stop, axis=0) - cs[:n_t]
    missing = np.take_along_axis(cm, stop, axis=0) - cm[:n_t]
    sums[~valid | (missing > 0)] = np.nan
    count = np.isfinite(sums).sum(axis=0)
    out = np.full(n, np.nan)
    for level in pd.unique(sl.dropna()):  # a handful of service levels (one per class)
        cols = np.flatnonzero((sl.to_numpy() == level) & (count >= min_windows))
        if cols.size:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out[cols] = np.nanquantile(sums[:, cols], level, axis=0, method="higher")
    return pd.Series(out, index=demand.columns, name="lead_time_demand")


LEAD_TIME_COLUMNS = ["supplier_id", "name", "quoted_days", "received_pos", "measured_days", "measured_std",
                     "on_time_rate", "fill_rate", "lead_time_days", "lead_time_std", "source"]


def lead_times(data, *, days: int | None = None) -> pd.DataFrame:
    """Lead time per supplier, measured from purchase orders, with the quoted one as fallback.

    Measured lead time = received_date - order_date of the POs received in the last ``days``
    (``inventory.lead_time_lookback_days``, 180) before the end of the report month. With at least
    ``inventory.lead_time_min_pos`` (3) such POs the measured mean and standard deviation are used;
    otherwise the supplier's quoted ``lead_time_days`` (standard deviation 0), otherwise
    ``inventory.default_lead_time_days``. A recent window catches a supplier whose deliveries
    slipped (lead-time drift).

    Handbook: 003 stage 2 (supply and replenishment); supplier reliability is chapter 07's.

    Returns
    -------
    DataFrame
        one row per supplier: supplier_id, name, quoted_days, received_pos, measured_days,
        measured_std, on_time_rate (received by expected_date), fill_rate (received / ordered),
        lead_time_days, lead_time_std, source ("measured", "quoted" or "default").
    """
    days = int(days or _setting(data, "lead_time_lookback_days", 180))
    min_pos = int(_setting(data, "lead_time_min_pos", 3))
    default = float(_setting(data, "default_lead_time_days", 14))
    end = _as_of(data)
    ids: set = set()
    sup = data["suppliers"].drop_duplicates("supplier_id").set_index("supplier_id") if data.has("suppliers") else None
    if sup is not None:
        ids |= set(sup.index)
    prod = _products(data)
    if "supplier_id" in prod.columns:
        ids |= set(prod["supplier_id"].dropna())
    stats_ = pd.DataFrame(columns=["received_pos", "measured_days", "measured_std", "on_time_rate", "fill_rate"])
    if data.has("purchase_orders"):
        po = data["purchase_orders"]
        ids |= set(po["supplier_id"].dropna())
        if "received_date" in po.columns:
            rec = po[po["received_date"].notna() & (po["received_date"] <= end)
                     & (po["received_date"] > end - pd.Timedelta(days=days))]
            rec = rec.assign(lt=(rec["received_date"] - rec["order_date"]).dt.days.astype("float64"))
            if "expected_date" in rec.columns:
                rec = rec.assign(on_time=(rec["received_date"] <= rec["expected_date"]).where(rec["expected_date"].notna()))
            else:
                rec = rec.assign(on_time=np.nan)
            qr = rec["qty_received"].astype("float64") if "qty_received" in rec.columns else np.nan
            rec = rec.assign(fill=qr / rec["qty_ordered"].astype("float64"))
            g = rec.groupby("supplier_id")
            stats_ = pd.DataFrame({"received_pos": g.size(), "measured_days": g["lt"].mean(),
                                   "measured_std": g["lt"].std(ddof=1), "on_time_rate": g["on_time"].mean(),
                                   "fill_rate": g["fill"].mean()})
    index = pd.Index(sorted(ids), name="supplier_id")
    out = pd.DataFrame(index=index)
    out["name"] = sup["name"].reindex(index) if sup is not None and "name" in sup.columns else ""
    out["quoted_days"] = (sup["lead_time_days"].astype("float64").reindex(index)
                          if sup is not None and "lead_time_days" in sup.columns else np.nan)
    out = out.join(stats_.reindex(index))
    out["received_pos"] = out["received_pos"].fillna(0).astype("int64")
    measured = out["received_pos"] >= min_pos
    out["source"] = np.where(measured, "measured", np.where(out["quoted_days"].notna(), "quoted", "default"))
    out["lead_time_days"] = np.where(measured, out["measured_days"], out["quoted_days"].fillna(default))
    out["lead_time_std"] = np.where(measured, out["measured_std"].fillna(0.0), 0.0)
    return out.reset_index()[LEAD_TIME_COLUMNS]


def _sku_supplier(data, skus: pd.Index) -> pd.Series:
    """Primary supplier per SKU: products.supplier_id, else the supplier of its latest PO."""
    sup = pd.Series(np.nan, index=skus, dtype="object")
    prod = _products(data)
    if "supplier_id" in prod.columns:
        sup = sup.fillna(prod["supplier_id"].reindex(skus).astype("object"))
    if data.has("purchase_orders"):
        po = data["purchase_orders"].sort_values("order_date", kind="stable")
        last = po.drop_duplicates("sku", keep="last").set_index("sku")["supplier_id"]
        sup = sup.fillna(last.reindex(skus).astype("object"))
    return sup


def _position(data, skus: pd.Index) -> pd.DataFrame:
    """Stock position at the end of the report month: on_hand, on_order, overdue_qty, open_pos."""
    end = _as_of(data)
    sd = _sku_daily(data)
    snap = sd[sd["on_hand"].notna() & (sd["date"] <= end)] if "on_hand" in sd.columns else sd.iloc[0:0]
    last = snap.sort_values("date", kind="stable").drop_duplicates("sku", keep="last").set_index("sku")
    out = pd.DataFrame(index=skus)
    out["on_hand"] = last["on_hand"].reindex(skus).astype("float64")
    out["snapshot_date"] = last["date"].reindex(skus)
    on_order = pd.Series(np.nan, index=skus)
    overdue = pd.Series(0.0, index=skus)
    open_pos = pd.Series(0, index=skus, dtype="int64")
    if data.has("purchase_orders"):
        po = data["purchase_orders"]
        received = po["received_date"] if "received_date" in po.columns else pd.Series(pd.NaT, index=po.index)
        is_open = (po["order_date"] <= end) & (received.isna() | (received > end))
        op = po[is_open]
        qty = op["qty_ordered"].astype("float64")
        on_order = qty.groupby(op["sku"]).sum().reindex(skus)
        open_pos = op.groupby("sku").size().reindex(skus).fillna(0).astype("int64")
        if "expected_date" in op.columns:
            late = op["expected_date"] < end
            overdue = qty[late].groupby(op.loc[late, "sku"]).sum().reindex(skus).fillna(0.0)
    if data.has("inventory") and "on_order" in data["inventory"].columns:
        inv = data["inventory"]
        inv = inv[inv["date"] <= end]
        snap_oo = inv.groupby(["sku", "date"])["on_order"].sum(min_count=1).dropna().reset_index()
        snap_oo = snap_oo.sort_values("date", kind="stable").drop_duplicates("sku", keep="last").set_index("sku")
        on_order = snap_oo["on_order"].astype("float64").reindex(skus).fillna(on_order)
    out["on_order"] = on_order.fillna(0.0)
    out["overdue_qty"] = overdue
    out["open_pos"] = open_pos
    return out


PLAN_COLUMNS = ["sku", "title", "category", "abc", "xyz", "demand_class", "supplier_id", "supplier",
                "lead_time_days", "lead_time_std", "lead_time_source", "daily_demand", "demand_std",
                "service_level", "review_days", "method", "safety_stock", "reorder_point", "warning_level",
                "eoq", "order_up_to", "on_hand", "on_order", "overdue_qty", "position", "cover_days",
                "position_cover_days", "status", "qty_to_order", "order_value", "reason"]


def replenishment_plan(data, *, classes: pd.DataFrame | None = None, forecast: pd.DataFrame | None = None,
                       suppliers: pd.DataFrame | None = None, slow: pd.DataFrame | None = None) -> pd.DataFrame:
    """Safety stock, reorder point, warning level, order-up-to level and the quantity to order for
    every SKU, at the end of the report month.

    Per SKU, with d and sd_d the forecast daily demand and its one-step error (:func:`forecast_demand`),
    L and sd_L the supplier's lead time (:func:`lead_times`), the service level and review period R
    of its ABC class:

    - safety stock (安全库存) = :func:`safety_stock`; reorder point (订货点) = d x L + safety stock.
      Intermittent and lumpy SKUs use :func:`lead_time_demand_quantile` instead (their reorder point
      is the service-level quantile of their own historical lead-time demand, scaled down by
      forecast / historical mean when the SKU is fading), and safety stock = reorder point - d x L;
    - warning level (预警库存) = reorder point + d x R: below it, the stock will cross the reorder
      point before the next review, so the order goes out at this review;
    - order quantity Q = the EOQ (:func:`eoq` with ``inventory.order_cost`` and
      ``inventory.holding_cost_rate`` x unit cost), at least one review period of demand and at most
      ``inventory.turnover_target_days`` of demand (so that ordering alone keeps turnover on target);
    - order-up-to level = warning level + Q; when the position (on hand + on order) is at or below
      the warning level, qty_to_order = order-up-to level - position, rounded up.

    SKUs on the clearance list (``slow``, :func:`slow_movers`) and inactive ones are not reordered.

    Handbook: 003 stage 2 (安全库存, 预警库存), 001 part 2 (A deep, B weekly, C cleared).

    Returns
    -------
    DataFrame
        one row per SKU with demand (see :data:`PLAN_COLUMNS`), most urgent first; status is one of
        "out of stock", "below reorder point", "below warning level", "ok", "clear, do not reorder",
        "inactive".
    """
    if not _has(data, "replenishment"):
        return _empty(PLAN_COLUMNS)
    s = _settings(data)
    classes = abc_xyz(data) if classes is None else classes
    forecast = forecast_demand(data, classes=classes) if forecast is None else forecast
    suppliers = lead_times(data) if suppliers is None else suppliers
    slow = slow_movers(data, forecast=forecast) if slow is None else slow
    fc = forecast.set_index("sku")
    skus = fc.index
    plan = fc[["title", "category", "abc", "xyz", "demand_class", "method"]].copy()
    plan["daily_demand"] = fc["daily_forecast"].astype("float64")
    plan["demand_std"] = fc["demand_std"].astype("float64")
    service = _class_setting(data, "service_level", _DEFAULT_SERVICE)
    review = _class_setting(data, "review_days", _DEFAULT_REVIEW)
    abc = plan["abc"].fillna("C").where(plan["abc"].isin(["A", "B", "C"]), "C")
    plan["service_level"] = abc.map(service).astype("float64")
    plan["review_days"] = abc.map(review).astype("float64")
    plan["supplier_id"] = _sku_supplier(data, skus)
    sup = suppliers.set_index("supplier_id")
    default = float(_setting(data, "default_lead_time_days", 14))
    plan["supplier"] = plan["supplier_id"].map(sup["name"]) if "name" in sup.columns else ""
    plan["lead_time_days"] = plan["supplier_id"].map(sup["lead_time_days"]).astype("float64").fillna(default)
    plan["lead_time_std"] = plan["supplier_id"].map(sup["lead_time_std"]).astype("float64").fillna(0.0)
    plan["lead_time_source"] = plan["supplier_id"].map(sup["source"]).fillna("default")
    d, sd_, lt = plan["daily_demand"], plan["demand_std"], plan["lead_time_days"]
    rop = reorder_point(d, sd_, lt, lead_time_std=plan["lead_time_std"], service_level=plan["service_level"])
    intermittent = plan["demand_class"].isin(["intermittent", "lumpy"])
    empirical = pd.Series(False, index=skus)
    if intermittent.any():
        history = daily_demand(data)[skus[intermittent.to_numpy()]]
        q = lead_time_demand_quantile(history, lt[intermittent], service_level=plan.loc[intermittent, "service_level"])
        # the history gives the spread of lead-time demand; a forecast below the history's mean (a
        # fading SKU) scales it down, while a rising one keeps it (the history holds last season's peaks)
        level = (d / fc["history_mean"].where(fc["history_mean"] > 0)).clip(0, 1).reindex(q.index)
        q = (q * level).reindex(skus)
        empirical = intermittent & q.notna()
        rop = rop.where(~empirical, q)
        plan["method"] = plan["method"].where(~empirical, plan["method"] + " + empirical lead-time demand")
    plan["empirical"] = empirical
    plan["reorder_point"] = _ceil(rop.clip(lower=0))
    plan["safety_stock"] = (plan["reorder_point"] - d * lt).clip(lower=0).round(1)
    plan["warning_level"] = _ceil(plan["reorder_point"] + d * plan["review_days"])
    cost = _unit_cost(data, skus)
    holding = cost * float(s["holding_cost_rate"] if "holding_cost_rate" in s else 0.25)
    plan["eoq"] = _ceil(eoq(d * 365, float(s["order_cost"] if "order_cost" in s else 50.0), holding.where(holding > 0, 1.0)))
    target = float(_setting(data, "turnover_target_days", 30))
    qty = np.minimum(np.maximum(plan["eoq"], d * plan["review_days"]), d * np.maximum(target, plan["review_days"]))
    plan["order_up_to"] = _ceil(plan["warning_level"] + qty)
    pos = _position(data, skus)
    plan = plan.join(pos[["on_hand", "on_order", "overdue_qty"]])
    plan["on_hand"] = plan["on_hand"].fillna(0.0)
    plan["position"] = plan["on_hand"] + plan["on_order"]
    rate = d.where(d > 0)
    plan["cover_days"] = (plan["on_hand"] / rate).fillna(np.inf)
    plan["position_cover_days"] = (plan["position"] / rate).fillna(np.inf)
    status = np.select(
        [plan["position"] <= plan["warning_level"]],
        [np.where(plan["on_hand"] <= 0, "out of stock",
                  np.where(plan["position"] <= plan["reorder_point"], "below reorder point", "below warning level"))],
        "ok")
    status = pd.Series(status, index=plan.index)
    status[d <= 0] = "no demand"
    prod = _products(data)
    if "is_active" in prod.columns:
        inactive = prod["is_active"].reindex(skus).eq(False).fillna(False).astype(bool)
        status[inactive] = "inactive"
    clear = slow["sku"] if not slow.empty else pd.Series(dtype="str")
    status[plan.index.isin(list(clear))] = "clear, do not reorder"
    plan["status"] = status
    order = plan["status"].isin(["out of stock", "below reorder point", "below warning level"])
    plan["qty_to_order"] = np.where(order, _ceil((plan["order_up_to"] - plan["position"]).clip(lower=0)), 0.0)
    plan["order_value"] = plan["qty_to_order"] * cost
    plan["reason"] = _reasons(plan)
    rank = plan["status"].map({"out of stock": 0, "below reorder point": 1, "below warning level": 2}).fillna(3)
    plan = plan.assign(_rank=rank).sort_values(["_rank", "position_cover_days"], kind="stable").drop(columns="_rank")
    plan = plan[plan["status"] != "no demand"]
    return plan.reset_index()[PLAN_COLUMNS]


def _reasons(plan: pd.DataFrame) -> pd.Series:
    lt = plan["lead_time_days"].round(0).astype("int64").astype("str")
    src = plan["lead_time_source"].astype("str")
    cover = plan["position_cover_days"].replace(np.inf, np.nan).round(0).fillna(0).astype("int64").astype("str")
    pos = plan["position"].round(0).astype("int64").astype("str")
    rop = plan["reorder_point"].astype("int64").astype("str")
    warn = plan["warning_level"].astype("int64").astype("str")
    sl = (plan["service_level"] * 100).round(0).astype("int64").astype("str")
    basis = np.where(plan["empirical"], " (" + sl + "th percentile of its past " + lt + "-day demand)", "")
    overdue = np.where(plan["overdue_qty"] > 0,
                       "; " + plan["overdue_qty"].round(0).astype("int64").astype("str") + " units on order are overdue", "")
    text = np.select(
        [plan["status"].eq("out of stock"), plan["status"].eq("below reorder point"),
         plan["status"].eq("below warning level"), plan["status"].eq("clear, do not reorder"),
         plan["status"].eq("inactive")],
        ["nothing on hand; position " + pos + " vs reorder point " + rop + "; lead time " + lt + " days (" + src + ")",
         "position " + pos + " covers " + cover + " days, below the reorder point " + rop + basis + "; lead time "
         + lt + " days (" + src + ")",
         "position " + pos + " below the warning level " + warn + ": order at this review; lead time " + lt + " days",
         "slow mover or overstock: clear first", "inactive listing"],
        "")
    return pd.Series(text, index=plan.index) + overdue


REORDER_COLUMNS = ["sku", "title", "abc", "supplier_id", "supplier", "on_hand", "on_order", "reorder_point",
                   "order_up_to", "qty_to_order", "order_value", "cover_days", "lead_time_days", "status", "reason"]


def reorder_list(plan: pd.DataFrame) -> pd.DataFrame:
    """The replenishment list (补货清单) as an action file: the SKUs of :func:`replenishment_plan`
    with a quantity to order, most urgent first (SKU, on hand, on order, reorder point, order-up-to
    level, quantity, supplier, reason)."""
    if plan.empty:
        return _empty(REORDER_COLUMNS)
    out = plan[plan["qty_to_order"] > 0][REORDER_COLUMNS].copy()
    out["cover_days"] = out["cover_days"].round(1)
    out["lead_time_days"] = out["lead_time_days"].round(1)
    out["order_value"] = out["order_value"].round(2)
    for c in ("on_hand", "on_order", "reorder_point", "order_up_to", "qty_to_order"):
        out[c] = out[c].astype("int64")
    return out.reset_index(drop=True)


def plot_stock_position(plan: pd.DataFrame, *, top: int = 15, ax: Axes | None = None,
                        title: str | None = "Stock position as a share of the order-up-to level 库存位置") -> Axes:
    """For the SKUs to reorder (most urgent first): on hand and on order as stacked bars and the
    reorder point as a marker, each as a share of the SKU's order-up-to level (so big and small SKUs
    read on one scale), with the quantity to order written at the right."""
    ax = plt.gca() if ax is None else ax
    rows = plan[plan["qty_to_order"] > 0].head(top) if not plan.empty else plan
    if rows.empty:
        ax.text(0.5, 0.5, "nothing to reorder", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    rows = rows.iloc[::-1]
    base = rows["order_up_to"].where(rows["order_up_to"] > 0, 1.0)
    labels = rows["sku"] + " " + rows["title"].astype("str").str.slice(0, 8)
    y = np.arange(len(rows))
    ax.barh(y, rows["on_hand"] / base, color=charts.PALETTE[0], label="on hand 在库")
    ax.barh(y, rows["on_order"] / base, left=rows["on_hand"] / base, color=charts.PALETTE[3], label="on order 在途")
    ax.scatter(rows["reorder_point"] / base, y, marker="|", s=300, linewidths=2.5, color=charts.ALERT_COLORS["bad"],
               zorder=3, label="reorder point 订货点")
    ax.axvline(1.0, color=charts.ALERT_COLORS["good"], linestyle="--", linewidth=1.2,
               label="order-up-to level 目标库存")
    for yi, q in zip(y, rows["qty_to_order"]):  # one label per bar
        ax.annotate(f"order {q:,.0f}", (1.02, yi), va="center", fontsize="small")
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 1.25)
    charts.format_pct_axis(ax, axis="x", xmax=1.0, decimals=0)
    ax.set_xlabel("share of the order-up-to level")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=4, fontsize="small", frameon=False)
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------------------------
# Stock-out risk, slow movers and overstock
# ---------------------------------------------------------------------------------------------

RISK_COLUMNS = ["sku", "title", "abc", "supplier_id", "on_hand", "on_order", "overdue_qty", "daily_demand",
                "cover_days", "position_cover_days", "lead_time_days", "stockout_days_month",
                "lost_units_month", "lost_sales_month", "risk", "action"]


def stockout_risk(data, *, plan: pd.DataFrame | None = None, forecast: pd.DataFrame | None = None) -> pd.DataFrame:
    """SKUs whose stock will not last until a new order could arrive, and the stock-outs of the
    report month.

    - cover_days = on hand / forecast daily demand; position_cover_days counts what is on order too;
    - risk "out of stock" (nothing on hand now), "high" (cover shorter than the lead time and the
      position, on order included, too), "medium" (cover shorter than the lead time but enough is on
      order); SKUs with stock-out days in the month are listed too ("stocked out this month");
    - stockout_days_month: days of the report month the SKU ended empty without a sale (censored);
      lost_units_month = those days x the SKU's mean demand per observed day; lost_sales_month at
      its average selling price.

    Handbook: 002 part 03 (避免缺货), 003 stage 2 (预警库存).

    Returns
    -------
    DataFrame
        the SKUs at risk or stocked out this month, worst first (columns :data:`RISK_COLUMNS`).
    """
    if not _has(data, "stockout_risk"):
        return _empty(RISK_COLUMNS)
    plan = replenishment_plan(data, forecast=forecast) if plan is None else plan
    start, end = _month_start(data), _as_of(data)
    days = (end - start).days + 1
    raw = daily_demand(data, days=days, end=end, censor=False)
    cens = daily_demand(data, days=days, end=end)
    out_days = (raw.notna() & cens.isna()).sum()
    p = plan.set_index("sku")
    skus = p.index
    risk = p[["title", "abc", "supplier_id", "on_hand", "on_order", "overdue_qty", "daily_demand", "cover_days",
              "position_cover_days", "lead_time_days"]].copy()
    risk["stockout_days_month"] = out_days.reindex(skus).fillna(0).astype("int64")
    fc = forecast.set_index("sku") if forecast is not None and not forecast.empty else None
    mean = fc["history_mean"].reindex(skus) if fc is not None else risk["daily_demand"]
    risk["lost_units_month"] = (risk["stockout_days_month"] * mean.fillna(risk["daily_demand"])).round(1)
    sd = _sku_daily(data)
    g = sd.groupby("sku")[["revenue", "units"]].sum()
    price = (g["revenue"] / g["units"].where(g["units"] > 0)).reindex(skus)
    risk["lost_sales_month"] = (risk["lost_units_month"] * price).round(2)
    short = risk["cover_days"] < risk["lead_time_days"]
    level = np.select(
        [risk["on_hand"] <= 0, short & (risk["position_cover_days"] < risk["lead_time_days"]), short,
         risk["stockout_days_month"] > 0],
        ["out of stock", "high", "medium", "stocked out this month"], "")
    risk["risk"] = level
    risk = risk[risk["risk"] != ""]
    status = p["status"].reindex(risk.index)
    risk["action"] = np.select(
        [status.isin(["out of stock", "below reorder point", "below warning level"]),
         risk["overdue_qty"] > 0, risk["risk"].eq("medium")],
        ["order now (on the replenishment list)", "chase the overdue purchase order",
         "order on the way: check its arrival date"], "watch")
    rank = risk["risk"].map({"out of stock": 0, "high": 1, "medium": 2, "stocked out this month": 3})
    risk = risk.assign(_r=rank).sort_values(["_r", "cover_days"], kind="stable").drop(columns="_r")
    risk["cover_days"] = risk["cover_days"].round(1)
    risk["position_cover_days"] = risk["position_cover_days"].replace(np.inf, np.nan).round(1)
    return risk.reset_index()[RISK_COLUMNS]


def plot_cover_vs_lead_time(plan: pd.DataFrame, *, top: int = 15, margin: float = 1.5, ax: Axes | None = None,
                            title: str | None = "Days of cover against supplier lead time 可售天数与采购周期") -> Axes:
    """For the SKUs whose stock on hand covers less than ``margin`` x their lead time (tightest
    first): days of cover on hand as bars (red when shorter than the lead time), the cover that
    arrives with the open orders as a lighter extension, and the lead time as a black tick. A red bar
    ending left of its tick runs out before an order placed today could arrive."""
    ax = plt.gca() if ax is None else ax
    rows = plan[np.isfinite(plan["cover_days"]) & (plan["daily_demand"] > 0)] if not plan.empty else plan
    if not rows.empty:
        rows = rows[rows["cover_days"] < margin * rows["lead_time_days"]]
        ratio = rows["cover_days"] / rows["lead_time_days"]
        rows = rows.assign(_r=ratio).sort_values("_r", kind="stable").head(top).iloc[::-1]
    if rows.empty:
        ax.text(0.5, 0.5, "every SKU covers its lead time comfortably", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    y = np.arange(len(rows))
    short = rows["cover_days"] < rows["lead_time_days"]
    incoming = (rows["position_cover_days"] - rows["cover_days"]).clip(lower=0)
    ax.barh(y, rows["cover_days"], color=np.where(short, charts.ALERT_COLORS["bad"], charts.PALETTE[0]),
            label="days of cover on hand")
    ax.barh(y, incoming, left=rows["cover_days"], color=charts.ALERT_COLORS["neutral"], alpha=0.35,
            label="+ cover on order")
    ax.scatter(rows["lead_time_days"], y, marker="|", s=320, linewidths=2.5, color="black", zorder=3,
               label="supplier lead time")
    ax.set_yticks(y, rows["sku"] + " " + rows["title"].astype("str").str.slice(0, 8)
                  + " (" + rows["supplier_id"].astype("str") + ")")
    right = float(max(rows["lead_time_days"].max(), 1)) * 2.2
    ax.set_xlim(0, right)
    ax.set_xlabel("days")
    ax.legend(loc="lower right", fontsize="small", framealpha=0.95)
    if title:
        ax.set_title(title)
    return ax


SLOW_COLUMNS = ["sku", "title", "category", "abc", "on_hand", "stock_value", "last_sale", "days_since_sale",
                "daily_rate", "weeks_of_cover", "excess_units", "excess_value", "reason", "suggestion"]


def slow_movers(data, *, forecast: pd.DataFrame | None = None) -> pd.DataFrame:
    """Slow movers and overstock with a clearance suggestion (滞销品 / 积压库存).

    A SKU with stock on hand at the end of the report month is listed when

    - it has not sold for ``inventory.slow_mover_days`` (90) days or more (never sold: counted from
      when it was listed), or
    - its weeks of cover (on hand / average weekly demand over ``inventory.cover_lookback_days``,
      stock-out days censored) exceed ``inventory.overstock_weeks`` (26); a SKU listed for less than
      the look-back is not judged on cover yet.

    excess_units = stock above ``inventory.turnover_target_days`` (30) of demand; suggestion (001
    part 2: buy-one-get-one and community-group clearance; 002 part 03: live-stream, outlet and
    offline channels) by how stuck the stock is.

    Returns
    -------
    DataFrame
        listed SKUs, largest stock value first (columns :data:`SLOW_COLUMNS`).
    """
    if not _has(data, "slow_movers"):
        return _empty(SLOW_COLUMNS)
    end = _as_of(data)
    slow_days = int(_setting(data, "slow_mover_days", 90))
    weeks = float(_setting(data, "overstock_weeks", 26))
    target = float(_setting(data, "turnover_target_days", 30))
    lookback = int(_setting(data, "cover_lookback_days", 90))
    skus = _all_skus(data)
    pos = _position(data, skus)
    sd = _sku_daily(data)
    sd = sd[sd["date"] <= end]
    last_sale = sd[sd["units"] > 0].groupby("sku")["date"].max().reindex(skus)
    first = _wide(data)[2].reindex(skus)
    since = (end - last_sale.fillna(first)).dt.days
    rate = daily_demand(data, days=lookback, end=end).mean().reindex(skus).fillna(0.0)
    cost = _unit_cost(data, skus)
    out = pd.DataFrame({"on_hand": pos["on_hand"].fillna(0.0), "last_sale": last_sale, "days_since_sale": since,
                        "daily_rate": rate})
    out["stock_value"] = out["on_hand"] * cost
    out["weeks_of_cover"] = (out["on_hand"] / (rate * 7).where(rate > 0)).fillna(np.inf)
    stale = out["days_since_sale"] >= slow_days
    # a launch younger than the look-back has no settled sales rate yet: only "no sale" applies to it
    heavy = (out["weeks_of_cover"] > weeks) & ((end - first).dt.days + 1 >= lookback)
    out = out[(out["on_hand"] > 0) & (stale | heavy)]
    stale = stale[out.index]
    out["excess_units"] = _ceil((out["on_hand"] - out["daily_rate"] * target).clip(lower=0))
    out["excess_value"] = out["excess_units"] * cost.reindex(out.index)
    wk = out["weeks_of_cover"].replace(np.inf, np.nan).round(0)
    out["reason"] = np.where(
        stale, "no sale for " + out["days_since_sale"].astype("int64").astype("str") + " days",
        "cover of " + wk.fillna(0).astype("int64").astype("str") + " weeks, over " + f"{weeks:.0f}")
    deep = stale & (out["days_since_sale"] >= 2 * slow_days) | (out["weeks_of_cover"] > 2 * weeks)
    out["suggestion"] = np.where(
        deep, "clear now: buy-one-get-one (买一送一), community group sale (社群清仓) or outlet (尾货特卖); stop reordering",
        np.where(stale, "promote: bundle with a best seller, community group sale (社群清仓); stop reordering",
                 "slow the buying: no reorder until cover is back under target; bundle or member-day offer"))
    out = _attributes(data, out.index).join(out)
    cls = {}
    if forecast is not None and not forecast.empty and "abc" in forecast.columns:
        cls = forecast.set_index("sku")["abc"]
    out["abc"] = pd.Series(cls, dtype="object").reindex(out.index) if len(cls) else ""
    out = out.sort_values("stock_value", ascending=False, kind="stable")
    out["weeks_of_cover"] = out["weeks_of_cover"].round(1)
    out["daily_rate"] = out["daily_rate"].round(3)
    out["stock_value"] = out["stock_value"].round(2)
    out["excess_value"] = out["excess_value"].round(2)
    return out.reset_index()[SLOW_COLUMNS]


def clearance_list(slow: pd.DataFrame) -> pd.DataFrame:
    """The clearance list (清仓清单) as an action file: slow movers and overstock with stock, value,
    reason and suggestion."""
    cols = ["sku", "title", "category", "on_hand", "stock_value", "days_since_sale", "weeks_of_cover",
            "excess_units", "excess_value", "reason", "suggestion"]
    if slow.empty:
        return _empty(cols)
    out = slow[cols].copy()
    out["on_hand"] = out["on_hand"].astype("int64")
    out["excess_units"] = out["excess_units"].astype("int64")
    out["weeks_of_cover"] = out["weeks_of_cover"].replace(np.inf, np.nan)
    return out


def plot_clearance(slow: pd.DataFrame, *, top: int = 12, ax: Axes | None = None,
                   title: str | None = "Stock to clear, at cost 待清库存") -> Axes:
    """Stock value at cost of the slow movers and overstock, largest first, each bar labelled with
    why it is on the list."""
    ax = plt.gca() if ax is None else ax
    rows = slow.head(top).iloc[::-1] if not slow.empty else slow
    if rows.empty:
        ax.text(0.5, 0.5, "nothing to clear", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    y = np.arange(len(rows))
    stale = rows["reason"].str.startswith("no sale")
    ax.barh(y, rows["stock_value"], color=np.where(stale, charts.ALERT_COLORS["bad"], charts.PALETTE[1]))
    for yi, v, why in zip(y, rows["stock_value"], rows["reason"]):  # one label per bar
        ax.annotate(f"{charts.money(v)}  {why}", (v, yi), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize="small")
    ax.set_yticks(y, rows["sku"] + " " + rows["title"].astype("str").str.slice(0, 8))
    ax.set_xlim(0, float(rows["stock_value"].max()) * 1.9)
    charts.format_money_axis(ax, axis="x")
    ax.set_xlabel("stock value at cost")
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------------------------
# Stock accuracy
# ---------------------------------------------------------------------------------------------

ACCURACY_COLUMNS = ["sku", "title", "snapshots", "matched", "opening_on_hand", "receipts", "sales",
                    "implied_closing", "closing_on_hand", "difference", "abs_difference", "difference_value",
                    "accurate"]


def stock_accuracy(data) -> pd.DataFrame:
    """Snapshot movement against the movement that sales and receipts imply (账实相符), per SKU over
    the report month.

    For each pair of consecutive snapshots of a SKU, implied = previous on hand + units received
    (purchase orders by received_date, qty_received) - units sold (non-cancelled order lines by
    order date) in between; a snapshot matches when it equals the implied figure. Works for daily
    or weekly snapshots. A mismatch means unrecorded losses, returns to stock, mis-picks or a
    receipt booked on the wrong day: count the shelf (盘点).

    Handbook: 000 §2.3 (定期盘点, 确保账实相符).

    Returns
    -------
    DataFrame
        per SKU: snapshots (in the month), matched, opening_on_hand, receipts, sales,
        implied_closing, closing_on_hand, difference (closing - implied over the month),
        abs_difference (sum of absolute snapshot differences), difference_value (at unit cost),
        accurate (every snapshot matched).
    """
    if not _has(data, "stock_accuracy"):
        return _empty(ACCURACY_COLUMNS)
    start, end = _month_start(data), _as_of(data)
    sd = _sku_daily(data)
    sd = sd[sd["date"] <= end]
    po = data["purchase_orders"]
    rec = po[po["received_date"].notna() & (po["received_date"] <= end)]
    qty = rec["qty_received"].astype("float64").fillna(rec["qty_ordered"].astype("float64"))
    receipts = qty.groupby([rec["received_date"].rename("date"), rec["sku"]]).sum().rename("receipts").reset_index()
    moves = sd[["date", "sku", "units", "on_hand"]].merge(receipts, on=["date", "sku"], how="outer")
    moves["units"] = moves["units"].fillna(0).astype("float64")
    moves["receipts"] = moves["receipts"].fillna(0.0)
    moves = moves.sort_values(["sku", "date"], kind="stable")
    moves["net"] = moves["receipts"] - moves["units"]
    moves["cum_net"] = moves.groupby("sku")["net"].cumsum()
    moves["cum_in"] = moves.groupby("sku")["receipts"].cumsum()
    moves["cum_out"] = moves.groupby("sku")["units"].cumsum()
    snaps = moves[moves["on_hand"].notna()].copy()
    g = snaps.groupby("sku")
    snaps["prev"] = g["on_hand"].shift()
    snaps["implied"] = snaps["prev"] + snaps["cum_net"] - g["cum_net"].shift()
    snaps["in_"] = snaps["cum_in"] - g["cum_in"].shift()
    snaps["out_"] = snaps["cum_out"] - g["cum_out"].shift()
    snaps["diff"] = snaps["on_hand"] - snaps["implied"]
    month = snaps[(snaps["date"] >= start) & snaps["implied"].notna()].copy()
    month["match"] = (month["diff"].abs() < 1e-9).astype("int64")
    month["abs_diff"] = month["diff"].abs()
    if month.empty:
        return _empty(ACCURACY_COLUMNS)
    m = month.groupby("sku")
    first = month.drop_duplicates("sku").set_index("sku")
    last = month.drop_duplicates("sku", keep="last").set_index("sku")
    out = pd.DataFrame({
        "snapshots": m.size(), "matched": m["match"].sum(),
        "opening_on_hand": first["prev"], "receipts": m["in_"].sum(), "sales": m["out_"].sum(),
        "closing_on_hand": last["on_hand"], "abs_difference": m["abs_diff"].sum(),
    })
    out["implied_closing"] = out["opening_on_hand"] + out["receipts"] - out["sales"]
    out["difference"] = out["closing_on_hand"] - out["implied_closing"]
    out["difference_value"] = out["difference"] * _unit_cost(data, out.index)
    out["accurate"] = out["matched"] == out["snapshots"]
    out = _attributes(data, out.index)[["title"]].join(out)
    out = out.sort_values("abs_difference", ascending=False, kind="stable")
    return out.reset_index()[ACCURACY_COLUMNS]


def stock_accuracy_summary(accuracy: pd.DataFrame) -> pd.DataFrame:
    """One row: skus, snapshots, matched_share (snapshots equal to the implied movement),
    accurate_sku_share (SKUs whose every snapshot matched), net_difference (units) and
    difference_value; missing values when there is nothing to check."""
    if accuracy.empty:
        return pd.DataFrame({"skus": [0], "snapshots": [0], "matched_share": [np.nan], "accurate_sku_share": [np.nan],
                             "net_difference": [np.nan], "difference_value": [np.nan]})
    return pd.DataFrame({
        "skus": [len(accuracy)], "snapshots": [int(accuracy["snapshots"].sum())],
        "matched_share": [accuracy["matched"].sum() / accuracy["snapshots"].sum()],
        "accurate_sku_share": [accuracy["accurate"].mean()],
        "net_difference": [float(accuracy["difference"].sum())],
        "difference_value": [float(accuracy["difference_value"].sum())],
    })


def plot_stock_accuracy(accuracy: pd.DataFrame, *, ax: Axes | None = None,
                        title: str | None = "Closing stock: snapshot against implied 账实对比") -> Axes:
    """Each SKU's closing snapshot against the closing stock sales and receipts imply; SKUs on the
    diagonal are accurate, the others are labelled."""
    ax = plt.gca() if ax is None else ax
    if accuracy.empty:
        ax.text(0.5, 0.5, "nothing to check", ha="center", va="center", transform=ax.transAxes)
        return ax
    ok = accuracy["accurate"].astype(bool)
    ax.scatter(accuracy.loc[ok, "implied_closing"], accuracy.loc[ok, "closing_on_hand"], s=16,
               color=charts.ALERT_COLORS["good"], label=f"matched ({int(ok.sum())} SKUs)")
    ax.scatter(accuracy.loc[~ok, "implied_closing"], accuracy.loc[~ok, "closing_on_hand"], s=30,
               color=charts.ALERT_COLORS["bad"], label=f"differs ({int((~ok).sum())} SKUs)")
    for _, r in accuracy[~ok].head(6).iterrows():  # at most six labels
        ax.annotate(r["sku"], (r["implied_closing"], r["closing_on_hand"]), xytext=(4, 2),
                    textcoords="offset points", fontsize="x-small")
    hi = float(max(accuracy["implied_closing"].max(), accuracy["closing_on_hand"].max(), 1)) * 1.05
    ax.plot([0, hi], [0, hi], linestyle="--", color=charts.ALERT_COLORS["neutral"], linewidth=1)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_yscale("symlog", linthresh=10)
    ax.set_xlabel("implied by sales and receipts (units)")
    ax.set_ylabel("snapshot on hand (units)")
    ax.legend(loc="upper left", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------------------------
# Plots for the forecasting section
# ---------------------------------------------------------------------------------------------

_CLASS_COLORS = {"smooth": charts.PALETTE[4], "erratic": charts.PALETTE[1], "intermittent": charts.PALETTE[0],
                 "lumpy": charts.PALETTE[2], "none": charts.ALERT_COLORS["neutral"]}


def plot_demand_classes(forecast: pd.DataFrame, *, adi_cutoff: float = 1.32, cv2_cutoff: float = 0.49,
                        ax: Axes | None = None,
                        title: str | None = "Demand patterns: ADI against CV² 需求模式") -> Axes:
    """ADI (log scale) against CV² per SKU, coloured by demand class, with the 1.32 / 0.49 lines."""
    ax = plt.gca() if ax is None else ax
    rows = forecast.dropna(subset=["adi", "cv2"]) if not forecast.empty else forecast
    if rows.empty:
        ax.text(0.5, 0.5, "no demand data", ha="center", va="center", transform=ax.transAxes)
        return ax
    for cls in DEMAND_CLASSES:  # five classes
        part = rows[rows["demand_class"] == cls]
        if len(part):
            ax.scatter(part["adi"], part["cv2"], s=20, color=_CLASS_COLORS[cls], label=f"{cls} ({len(part)})")
    ax.axvline(adi_cutoff, color="#555555", linestyle="--", linewidth=1)
    ax.axhline(cv2_cutoff, color="#555555", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("ADI: days per day with demand (log)")
    ax.set_ylabel("CV² of demand sizes")
    ax.legend(loc="upper right", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_sku_demand(demand: pd.DataFrame, forecast: pd.DataFrame, sku: str, *, days: int = 120, recent: int = 56,
                    ax: Axes | None = None, title: str | None = None) -> Axes:
    """One SKU's daily demand over the last ``days`` days with its stock-out (censored) days shaded;
    over the last ``recent`` days, the average demand with the stock-out days left out (solid) and
    counted as zero sales (dotted); and the forecast average for the coming weeks (dashed)."""
    import matplotlib.dates as mdates

    ax = plt.gca() if ax is None else ax
    if sku not in demand.columns:
        ax.text(0.5, 0.5, f"{sku or 'no SKU'}: no data", ha="center", va="center", transform=ax.transAxes)
        return ax
    y = demand[sku].iloc[-days:]
    ax.bar(y.index, y.fillna(0).to_numpy(), width=0.9, color=charts.PALETTE[0], label="units sold per day")
    first = y.first_valid_index()
    cens = y.isna() & (y.index >= first) if first is not None else y.isna() & False
    for day in y.index[cens]:  # the censored days of one SKU
        ax.axvspan(day - pd.Timedelta(hours=12), day + pd.Timedelta(hours=12), color=charts.ALERT_COLORS["bad"],
                   alpha=0.15, linewidth=0)
    if cens.any():
        ax.axvspan(y.index[cens][0], y.index[cens][0], color=charts.ALERT_COLORS["bad"], alpha=0.15,
                   label=f"out of stock, left out ({int(cens.sum())} days)")
    last = y.iloc[-recent:]
    lcens = cens.iloc[-recent:]
    x0, x1 = last.index[0], last.index[-1] + pd.Timedelta(days=1)
    if last.notna().any():
        ax.hlines(last.mean(), x0, x1, color=charts.ALERT_COLORS["good"], linewidth=2,
                  label=f"last {recent} days, stock-outs left out: {last.mean():.1f}/day")
        if lcens.any():
            zero = last.fillna(0)[last.notna() | lcens].mean()
            ax.hlines(zero, x0, x1, color=charts.ALERT_COLORS["bad"], linestyle=":", linewidth=2,
                      label=f"same, stock-outs counted as zero: {zero:.1f}/day")
    row = forecast.set_index("sku").loc[sku] if sku in set(forecast["sku"]) else None
    if row is not None:
        f0 = y.index[-1] + pd.Timedelta(days=1)
        ax.hlines(row["daily_forecast"], f0, f0 + pd.Timedelta(days=28), color=charts.ALERT_COLORS["highlight"],
                  linestyle="--", linewidth=2, label=f"forecast, next 28 days: {row['daily_forecast']:.1f}/day ({row['method']})")
    ax.set_ylabel("units per day")
    ax.legend(loc="upper left", fontsize="small", framealpha=0.95)
    ax.set_title(title if title is not None else f"{sku}: daily demand, last {days} days, and forecast")
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    return ax


def plot_backtest(bt: pd.DataFrame, *, ax: Axes | None = None,
                  title: str | None = "Backtest: WAPE by method and demand pattern 预测误差") -> Axes:
    """WAPE of each method per demand class (grouped bars); the naive benchmark in grey."""
    import seaborn as sns

    ax = plt.gca() if ax is None else ax
    rows = bt[bt["demand_class"] != "none"] if not bt.empty else bt
    if rows.empty:
        ax.text(0.5, 0.5, "no backtest", ha="center", va="center", transform=ax.transAxes)
        return ax
    order = [m for m in ("naive", "ses", "croston", "sba", "tsb", "ets", "chosen") if m in set(rows["method"])]
    palette = {"naive": charts.ALERT_COLORS["neutral"], "ses": charts.PALETTE[0], "croston": charts.PALETTE[3],
               "sba": charts.PALETTE[4], "tsb": charts.PALETTE[6], "ets": charts.PALETTE[1],
               "chosen": charts.ALERT_COLORS["highlight"]}
    classes = [c for c in ("all", *DEMAND_CLASSES) if c in set(rows["demand_class"])]
    sns.barplot(data=rows, x="demand_class", y="wape", hue="method", hue_order=order, order=classes,
                palette=palette, ax=ax)
    charts.format_pct_axis(ax, xmax=1.0, decimals=0)
    ax.set_xlabel("demand pattern")
    ax.set_ylabel("WAPE (lower is better)")
    ax.legend(title=None, ncols=4, fontsize="small", loc="upper left")
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------------------

@exercise("03.days_of_inventory", "Days of inventory (库存周转天数) of the whole shop in the report month, at unit cost")
def _ex_days_of_inventory(data) -> float:
    return float(turnover(data, by="shop")["days_of_inventory"].iloc[0])


@exercise("03.a_class_skus", "How many SKUs are in class A (the first 80% of the last 365 days' sales)?")
def _ex_a_class(data) -> float:
    return float((abc_xyz(data)["abc"] == "A").sum())


@exercise("03.stockout_days", "On how many days of the report month was SKU0009 out of stock (nothing on hand, "
          "no sale)?")
def _ex_stockout_days(data) -> float:
    start, end = _month_start(data), _as_of(data)
    days = (end - start).days + 1
    raw = daily_demand(data, days=days, end=end, censor=False)
    cens = daily_demand(data, days=days, end=end)
    if "SKU0009" not in raw.columns:
        return 0.0
    return float((raw["SKU0009"].notna() & cens["SKU0009"].isna()).sum())
