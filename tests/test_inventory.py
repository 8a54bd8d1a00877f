"""Chapter 03 inventory: published worked examples (Croston on the PBS series against R's
forecast::croston, textbook safety stock, reorder point and EOQ cases), small tables worked out by
hand, a hand-built shop, and the sample shop's planted events found where they were planted and
nowhere else."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import playbook
from playbook import inventory as inv
from playbook import pack
from playbook.samples import PLANTED_EVENTS

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------
# Croston, SBA, TSB
# ---------------------------------------------------------------------------------------------

# The PBS series (monthly scripts of one drug, 1991-07 .. 2008-06, 204 months) shipped with sktime as
# load_PBS_dataset(). R's forecast::croston(y) (Hyndman's forecast package, Croston 1972, Shenstone and
# Hyndman 2005) gives these forecasts on it; sktime's test_croston.py records them:
# alpha 0.1 -> 0.8688921, alpha 0.5 -> 0.6754646, alpha 0.05 -> 1.405808.
PBS = np.array([int(v) for v in (
    "1,1,1,0,0,1,3,1,1,1,1,1,2,1,1,0,0,2,0,0,1,2,0,1,0,0,1,1,1,1,0,0,2,1,0,0,0,1,0,3,3,2,4,1,1,3,3,1,0,4,1,3,"
    "0,1,2,5,14,2,0,0,3,6,2,2,2,5,1,6,3,3,2,0,1,1,0,0,0,1,4,12,4,0,7,0,2,1,4,1,3,1,0,6,9,3,1,3,1,7,1,3,3,3,"
    "5,6,10,5,1,3,1,1,1,2,1,3,7,11,10,5,5,2,2,1,0,3,6,5,8,9,1,1,0,0,0,1,2,2,0,0,0,0,1,0,0,0,2,1,1,0,1,0,0,0,"
    "0,0,0,0,0,0,0,0,0,0,1,0,1,3" + ",0" * 38).split(",")], dtype=float)


def test_pbs_series_is_the_published_one():
    assert len(PBS) == 204 and PBS.sum() == 331 and PBS.max() == 14


@pytest.mark.parametrize("alpha, r_forecast", [(0.1, 0.8688921), (0.5, 0.6754646), (0.05, 1.405808)])
def test_croston_matches_r_forecast_package_on_pbs(alpha, r_forecast):
    assert inv.croston(PBS, alpha=alpha) == pytest.approx(r_forecast, abs=5e-7)


def test_sba_is_croston_times_one_minus_half_alpha():
    # Syntetos and Boylan (2005): SBA = (1 - alpha/2) x Croston; on PBS with alpha 0.1: 0.95 x 0.8688921
    assert inv.croston(PBS, alpha=0.1, method="sba") == pytest.approx(0.95 * 0.8688921, abs=5e-7)


def test_croston_and_tsb_by_hand():
    # y = 0, 3, 0, 0, 2 with alpha = 0.5, worked by hand:
    # Croston: first demand 3 after an interval of 2 -> z = 3, p = 2; then 2 after 3 periods:
    #   z = 3 + 0.5 (2 - 3) = 2.5, p = 2 + 0.5 (3 - 2) = 2.5 -> 1.0; SBA 1.0 x 0.75 = 0.75.
    # TSB: first demand -> z = 3, probability 1/2; two zeros: 0.25, 0.125; demand 2:
    #   probability 0.125 + 0.5 (1 - 0.125) = 0.5625, z = 2.5 -> 2.5 x 0.5625 = 1.40625.
    y = [0, 3, 0, 0, 2]
    assert inv.croston(y, alpha=0.5) == pytest.approx(1.0)
    assert inv.croston(y, alpha=0.5, method="sba") == pytest.approx(0.75)
    assert inv.croston(y, alpha=0.5, method="tsb") == pytest.approx(1.40625)
    # TSB decays through zeros: two more zero periods halve the probability twice
    assert inv.croston(y + [0, 0], alpha=0.5, method="tsb") == pytest.approx(2.5 * (0.5625 / 4))
    assert inv.croston([0, 0, 0]) == 0.0


def test_censored_periods_are_skipped_not_zero():
    # a stock-out (NaN) neither counts as zero demand nor lengthens the interval
    censored = [0, 3, np.nan, np.nan, 0, 0, 2]
    assert inv.croston(censored, alpha=0.5) == pytest.approx(inv.croston([0, 3, 0, 0, 2], alpha=0.5))
    assert inv.croston(censored, alpha=0.5, method="tsb") == pytest.approx(1.40625)
    # counted as zeros, the same history would give a lower rate
    assert inv.croston([0, 3, 0, 0, 0, 0, 2], alpha=0.5) < 1.0


def test_croston_is_vectorised_across_series():
    rng = np.random.default_rng(3)
    y = rng.poisson(0.4, size=(120, 6)).astype(float)
    y[10:15, 2] = np.nan
    for method in ("croston", "sba", "tsb"):
        many = inv.croston(y, alpha=0.2, method=method)
        one = [inv.croston(y[:, j], alpha=0.2, method=method) for j in range(y.shape[1])]
        np.testing.assert_allclose(many, one)
    with pytest.raises(ValueError, match="method"):
        inv.croston(y, method="holt")


def test_many_skus_classify_and_forecast_quickly():
    # 5,000 SKUs x 365 days: classification and the three Croston variants are array operations
    rng = np.random.default_rng(7)
    demand = pd.DataFrame(rng.poisson(0.3, size=(365, 5000)).astype(float),
                          index=pd.date_range("2025-11-01", periods=365, name="date"))
    t = time.perf_counter()
    classes = inv.demand_classes(demand)
    for method in ("croston", "sba", "tsb"):
        inv.croston(demand.to_numpy(), method=method)
    assert time.perf_counter() - t < 5
    assert len(classes) == 5000


# ---------------------------------------------------------------------------------------------
# Demand classes, ABC, XYZ
# ---------------------------------------------------------------------------------------------

def test_holt_winters_forecast_path_is_statsmodels_own():
    # predict() repeats each Holt-Winters SKU's forecast week: the same numbers as statsmodels' forecast
    rng = np.random.default_rng(3)
    days = pd.date_range("2026-01-01", periods=120, freq="D", name="date")
    y = pd.DataFrame({"a": 10 + 3 * np.sin(np.arange(120) * 2 * np.pi / 7) + rng.normal(0, 1, 120),
                      "b": rng.poisson(0.2, 120).astype(float)}, index=days)
    model = inv.DemandForecaster(ets_skus=["a"]).fit(y)
    assert model.params_.loc["a", "method"] == "ets" and model.params_.loc["b", "method"] != "ets"
    path = model.predict(30)
    np.testing.assert_array_equal(path["a"].to_numpy(), np.clip(model.models_["a"].forecast(30), 0, None))
    assert (path["b"] == model.params_.loc["b", "level"]).all()


def test_demand_classes_by_hand():
    d = pd.DataFrame({
        "smooth": [1, 2, 1, 2],          # ADI 1; sizes 1,2,1,2: mean 1.5, sd 0.577 -> CV² 0.148
        "erratic": [3, 9, 1, 8],         # ADI 1; mean 5.25, sd 3.775 -> CV² 0.517
        "intermittent": [0, 0, 0, 6],    # ADI 4; one size -> CV² 0
        "lumpy": [0, 5, 0, 1],           # ADI 2; sizes 5, 1: mean 3, sd 2.83 -> CV² 0.889
        "none": [0, 0, 0, 0],
        "censored": [np.nan, 1, np.nan, 1],  # two observed days, both with demand: ADI 1
    }, dtype=float)
    c = inv.demand_classes(d)
    assert c["demand_class"].to_dict() == {"smooth": "smooth", "erratic": "erratic", "intermittent": "intermittent",
                                           "lumpy": "lumpy", "none": "none", "censored": "smooth"}
    assert c.loc["intermittent", "adi"] == 4 and c.loc["censored", "adi"] == 1
    assert c.loc["smooth", "cv2"] == pytest.approx((np.std([1, 2, 1, 2], ddof=1) / 1.5) ** 2)


def test_abc_class_by_hand():
    # shares 50, 30, 10, 6, 4 (%): before each 0, .5, .8, .9, .96 -> A while under 80%, B under 95%
    v = pd.Series([10, 50, 4, 30, 6], index=list("xvzwy"))
    assert inv.abc_class(v).to_dict() == {"x": "B", "v": "A", "z": "C", "w": "A", "y": "B"}
    assert inv.abc_class(pd.Series([0.0, 5.0])).tolist() == ["C", "A"]
    with pytest.raises(ValueError, match="cut-offs"):
        inv.abc_class(v, cutoffs=(0.95, 0.8))
    assert inv.xyz_class(pd.Series([0.1, 0.5, 0.99, 1.0, np.nan])).tolist() == ["X", "Y", "Y", "Z", "Z"]


# ---------------------------------------------------------------------------------------------
# Safety stock, reorder point, EOQ: textbook worked examples
# ---------------------------------------------------------------------------------------------

def test_safety_stock_stevenson_example_8():
    # Stevenson, Operations Management (14th ed.), ch. 12, Example 8: lead-time demand mean 50 tons,
    # sd 5 tons, stock-out risk 3% -> z = 1.88 (table), safety stock 9.40, ROP 59.40. The exact
    # quantile 1.8808 gives 9.404.
    assert inv.safety_stock(50, 5, 1, service_level=0.97) == pytest.approx(9.40, abs=0.01)
    assert inv.reorder_point(50, 5, 1, service_level=0.97) == pytest.approx(59.40, abs=0.01)
    assert inv.service_z(0.97) == pytest.approx(1.88, abs=0.001)


def test_reorder_point_variable_demand_stevenson_sauce():
    # Stevenson, ch. 12 (restaurant sauce): 50 jars a week, weekly sd 3, lead time 2 weeks, 10% risk
    # -> z = 1.28: ROP = 50 x 2 + 1.28 x 3 x sqrt(2) = 105.43 (exact z 1.2816: 105.44)
    assert inv.reorder_point(50, 3, 2, service_level=0.90) == pytest.approx(105.43, abs=0.02)


def test_reorder_point_variable_lead_time_heizer_render():
    # Heizer and Render, Operations Management, ch. 12 (Managing Inventory), solved problem: demand a
    # constant 60 surgery packs a week, lead time 6 weeks with sd 2 weeks, 90% service (z = 1.28):
    # ROP = 60 x 6 + 1.28 x 60 x 2 = 513.6 (exact z: 513.8)
    assert inv.reorder_point(60, 0, 6, lead_time_std=2, service_level=0.90) == pytest.approx(513.6, abs=0.25)
    assert inv.safety_stock(60, 0, 6, lead_time_std=2, service_level=0.90) == pytest.approx(153.6, abs=0.25)


def test_safety_stock_both_variable_by_hand():
    # d = 10, sd_d = 2, L = 4, sd_L = 1, 95%: sqrt(4 x 2² + 10² x 1²) = sqrt(116) = 10.770; x 1.6449 = 17.716
    assert inv.safety_stock(10, 2, 4, lead_time_std=1, service_level=0.95) == pytest.approx(17.716, abs=0.001)
    # vectorised, keeping a Series' index
    ss = inv.safety_stock(pd.Series([10.0, 0.0], index=["a", "b"]), 2, 4, lead_time_std=1)
    assert list(ss.index) == ["a", "b"] and ss["b"] == pytest.approx(1.6449 * 4, abs=0.001)


def test_eoq_heizer_render_sharp_inc():
    # Heizer and Render, ch. 12, Example 3 (Sharp, Inc.): D = 1,000 needles a year, S = $10 an order,
    # H = $0.50 a unit a year -> Q* = 200; learning exercise: D = 1,200 -> 219
    assert inv.eoq(1000, 10, 0.5) == pytest.approx(200.0)
    assert round(inv.eoq(1200, 10, 0.5)) == 219


def test_bad_inventory_inputs_are_named():
    with pytest.raises(ValueError, match="service_level"):
        inv.safety_stock(10, 2, 4, service_level=1.0)
    with pytest.raises(ValueError, match="negative"):
        inv.safety_stock(10, -2, 4)
    with pytest.raises(ValueError, match="holding_cost"):
        inv.eoq(100, 10, 0)


def test_lead_time_demand_quantile_by_hand():
    d = pd.DataFrame({"a": [0, 2, 0, 0, 1, 0, 3, 0], "b": [1, np.nan, 1, 1, 1, 1, 1, 1]}, dtype=float)
    # a: 2-day sums 2 2 0 1 1 3 3 -> median 2, 90% (next value up) 3
    q = inv.lead_time_demand_quantile(d, 2, service_level=0.5, min_windows=1)
    assert q["a"] == 2
    assert inv.lead_time_demand_quantile(d, 2, service_level=0.9, min_windows=1)["a"] == 3
    # b: windows touching the censored day are left out; the other five sums are all 2
    assert q["b"] == 2
    # too few windows -> NaN (the normal formula is used instead)
    assert np.isnan(inv.lead_time_demand_quantile(d, 2, service_level=0.5, min_windows=30)["a"])


# ---------------------------------------------------------------------------------------------
# A hand-built shop
# ---------------------------------------------------------------------------------------------

def _tiny_shop(tmp_path: Path):
    """S1 (cost 10) sells 2 a day on 10-01..10-05 and runs dry, is out of stock 10-06..10-10, gets 30
    units on 10-11 and sells 1 a day from then on. S2 (cost 5) has 100 units, last sold on 2026-06-01,
    and 3 units vanish from the shelf on 10-20 (shrinkage)."""
    days = pd.date_range("2026-09-30", "2026-10-31")
    s1, stock = [], 10
    sales1 = {d: (2 if d.day <= 5 and d.month == 10 else (1 if d.day >= 11 else 0)) for d in days}
    sales1[pd.Timestamp("2026-09-30")] = 0
    for d in days:
        stock += 30 if d == pd.Timestamp("2026-10-11") else 0
        stock -= sales1[d]
        s1.append(stock)
    s2 = [100 if d < pd.Timestamp("2026-10-20") else 97 for d in days]
    inventory = pd.DataFrame({"date": list(days) * 2, "sku": ["S1"] * len(days) + ["S2"] * len(days),
                              "on_hand": s1 + s2, "on_order": 0})
    inventory.loc[(inventory["sku"] == "S1") & (inventory["date"] < "2026-10-11"), "on_order"] = 30
    orders, items = [], []
    for i, (d, q) in enumerate((d, q) for d, q in sales1.items() if q):
        orders.append({"order_id": f"O{i}", "customer_id": f"C{i}", "order_ts": d + pd.Timedelta(hours=10),
                       "paid_amount": 20.0 * q, "status": "paid"})
        items.append({"order_id": f"O{i}", "sku": "S1", "qty": q, "unit_price": 20.0})
    orders.append({"order_id": "OX", "customer_id": "CX", "order_ts": pd.Timestamp("2026-10-03 12:00"),
                   "paid_amount": 20.0, "status": "cancelled"})  # cancelled: neither sale nor movement
    items.append({"order_id": "OX", "sku": "S1", "qty": 1, "unit_price": 20.0})
    orders.append({"order_id": "OS2", "customer_id": "CY", "order_ts": pd.Timestamp("2026-06-01 12:00"),
                   "paid_amount": 9.0, "status": "paid"})
    items.append({"order_id": "OS2", "sku": "S2", "qty": 1, "unit_price": 9.0})
    products = pd.DataFrame({"sku": ["S1", "S2"], "category": ["c1", "c2"], "title": ["one", "two"],
                             "unit_cost": [10.0, 5.0], "supplier_id": ["SUP1", "SUP2"]})
    suppliers = pd.DataFrame({"supplier_id": ["SUP1", "SUP2", "SUP3"], "name": ["a", "b", "c"],
                              "lead_time_days": [7.0, 20.0, None]})
    # SUP1 delivered in 12, 8 and 10 days (mean 10, sd 2); SUP2 and SUP3 have no received POs
    po = pd.DataFrame({"po_id": ["P1", "P2", "P3"], "supplier_id": "SUP1", "sku": "S1",
                       "order_date": pd.to_datetime(["2026-08-01", "2026-09-01", "2026-10-01"]),
                       "expected_date": pd.to_datetime(["2026-08-08", "2026-09-08", "2026-10-08"]),
                       "received_date": pd.to_datetime(["2026-08-13", "2026-09-09", "2026-10-11"]),
                       "qty_ordered": 30, "qty_received": 30})
    for name, frame in dict(orders=pd.DataFrame(orders), order_items=pd.DataFrame(items), products=products,
                            suppliers=suppliers, purchase_orders=po, inventory=inventory).items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    return playbook.load(tmp_path, month="2026-10")


@pytest.fixture
def tiny(tmp_path):
    return _tiny_shop(tmp_path)


def test_stock_out_days_are_censored(tiny):
    oct_ = tiny.derived("sku_daily")
    assert oct_["units"].sum() == 32  # 10 + 21 sold by S1 in October, 1 by S2 in June; the cancelled line not
    d = inv.daily_demand(tiny, days=31)
    # S1: 10-06 .. 10-10 ended empty without a sale -> censored; mean per observed day 31 / 26
    assert d["S1"].isna().sum() == 5 and d.loc["2026-10-06":"2026-10-10", "S1"].isna().all()
    assert d["S1"].mean() == pytest.approx(31 / 26)
    raw = inv.daily_demand(tiny, days=31, censor=False)
    assert raw["S1"].mean() == pytest.approx(1.0)
    assert d["S2"].isna().sum() == 0  # S2 had stock: its zeros are real


def test_turnover_by_hand(tiny):
    t = inv.turnover(tiny).set_index("sku")
    # S1 end-of-day stock: 8 6 4 2 0, five 0s, then 29 .. 9: sum 20 + 399 = 419 over 31 days
    assert t.loc["S1", "avg_on_hand"] == pytest.approx(419 / 31)
    assert t.loc["S1", "units_sold"] == 31
    assert t.loc["S1", "days_of_inventory"] == pytest.approx((419 / 31) / (31 / 31))
    assert t.loc["S1", "sell_through"] == pytest.approx(31 / (31 + 9))
    assert t.loc["S1", "opening_on_hand"] == 10 and t.loc["S1", "closing_on_hand"] == 9
    assert np.isinf(t.loc["S2", "days_of_inventory"])  # stock, no sales
    shop = inv.turnover(tiny, by="shop").iloc[0]
    # at cost: (419 x 10 + (19 x 100 + 12 x 97) x 5) / 31 = 629.35 a day; COGS 310 / 31 = 10 a day
    assert shop["avg_inventory_value"] == pytest.approx(19510 / 31)
    assert shop["days_of_inventory"] == pytest.approx(19510 / 310)
    assert bool(shop["over_target"])


def test_lead_times_measured_quoted_default(tiny):
    lt = inv.lead_times(tiny).set_index("supplier_id")
    assert lt.loc["SUP1", "source"] == "measured"
    assert lt.loc["SUP1", "lead_time_days"] == pytest.approx(10) and lt.loc["SUP1", "lead_time_std"] == pytest.approx(2)
    assert lt.loc["SUP1", "on_time_rate"] == 0  # every PO after its expected date
    assert (lt.loc["SUP2", "source"], lt.loc["SUP2", "lead_time_days"]) == ("quoted", 20)
    assert (lt.loc["SUP3", "source"], lt.loc["SUP3", "lead_time_days"]) == ("default", 14)


def test_stock_accuracy_finds_the_shrinkage(tiny):
    acc = inv.stock_accuracy(tiny).set_index("sku")
    assert acc.loc["S1", "accurate"] and acc.loc["S1", "matched"] == 31
    assert acc.loc["S1", "receipts"] == 30 and acc.loc["S1", "sales"] == 31
    assert not acc.loc["S2", "accurate"] and acc.loc["S2", "matched"] == 30
    assert (acc.loc["S2", "difference"], acc.loc["S2", "difference_value"]) == (-3, -15)
    summary = inv.stock_accuracy_summary(acc).iloc[0]
    assert summary["matched_share"] == pytest.approx(61 / 62) and summary["accurate_sku_share"] == 0.5


def test_replenishment_on_the_tiny_shop(tiny):
    classes = inv.abc_xyz(tiny)
    slow = inv.slow_movers(tiny)
    assert slow["sku"].tolist() == ["S2"] and slow["days_since_sale"].iloc[0] == 152
    plan = inv.replenishment_plan(tiny, classes=classes, slow=slow).set_index("sku")
    # S1: about 1 a day against a 10-day lead time, 9 on hand and nothing on order -> reorder
    assert plan.loc["S1", "status"] == "below reorder point"
    assert plan.loc["S1", "reorder_point"] >= 10 and plan.loc["S1", "qty_to_order"] > 0
    assert plan.loc["S1", "lead_time_source"] == "measured"
    assert plan.loc["S2", "status"] == "clear, do not reorder" and plan.loc["S2", "qty_to_order"] == 0
    assert inv.reorder_list(plan.reset_index())["sku"].tolist() == ["S1"]


def test_orders_only_source_skips_with_notes(tmp_path):
    (tmp_path / "orders.csv").write_text("order_id,customer_id,order_ts,paid_amount\n1,A,2026-10-01 10:00:00,10\n")
    data = playbook.load(tmp_path, month="2026-10")
    record = pack.ChapterRecord("03_inventory", month="2026-10")
    notes = {s: inv.section_note(data, s, record) for s in inv.REQUIREMENTS}
    assert all(notes.values()) and "order_items" in notes["abc_xyz"]
    assert len(record.skipped) == len(inv.REQUIREMENTS)
    assert inv.abc_xyz(data).empty and inv.forecast_demand(data).empty and inv.backtest(data).empty
    assert inv.turnover(data, by="shop")["days_of_inventory"].isna().all()
    assert inv.replenishment_plan(data).empty and inv.stock_accuracy(data).empty
    assert inv.stock_accuracy_summary(inv.stock_accuracy(data))["matched_share"].isna().all()


# ---------------------------------------------------------------------------------------------
# The sample shop's planted events
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample():
    data = playbook.load(ROOT / "data/samples", month="2026-10",
                         tables=["order_items", "products", "inventory", "suppliers", "purchase_orders"])
    classes = inv.abc_xyz(data)
    forecast = inv.forecast_demand(data, classes=classes)
    slow = inv.slow_movers(data, forecast=forecast)
    plan = inv.replenishment_plan(data, classes=classes, forecast=forecast, slow=slow)
    return {"data": data, "classes": classes, "forecast": forecast, "slow": slow, "plan": plan}


STOCKOUT = PLANTED_EVENTS["stockout"]
SLOW = set(PLANTED_EVENTS["slow_movers"]["skus"])
OVERSTOCK = set(PLANTED_EVENTS["overstock"]["skus"])


def test_abc_classes_on_the_sample(sample):
    c = sample["classes"].set_index("sku")
    a = c[c["abc"] == "A"]
    assert a["revenue_share"].sum() >= 0.80 and (a["revenue_share"].sum() - a["revenue_share"].min()) < 0.80
    assert c.loc[STOCKOUT["sku"], "abc"] == "A"  # the planted stock-out is a best seller
    assert c.loc[list(SLOW | OVERSTOCK), "abc"].eq("C").all()
    matrix = inv.abc_xyz_matrix(sample["classes"], value="skus")
    assert matrix.to_numpy().sum() == len(c)


def test_stockout_is_censored_only_where_planted(sample):
    f = sample["forecast"].set_index("sku")
    censored = f[f["censored_days"] > 0]
    days = (pd.Timestamp(STOCKOUT["end"]) - pd.Timestamp(STOCKOUT["start"])).days + 1  # 17
    assert censored.index.tolist() == [STOCKOUT["sku"]] and censored["censored_days"].iloc[0] == days
    d = inv.daily_demand(sample["data"], days=31)
    gap = d.loc[STOCKOUT["start"]:STOCKOUT["end"], STOCKOUT["sku"]]
    assert gap.isna().all() and len(gap) == days
    # counting the empty shelf as zero demand would understate the best seller's demand
    assert f.loc[STOCKOUT["sku"], "history_mean"] > f.loc[STOCKOUT["sku"], "uncensored_zero_mean"]
    rate = inv.in_stock_rate(sample["data"], sample["classes"]).set_index("abc")
    assert rate.loc["A", "skus_below_service"] == 1 and rate[["skus_stocked_out"]].sum().iloc[0] == 1


def test_stockout_sku_tops_the_reorder_list(sample):
    plan = sample["plan"]
    reorder = inv.reorder_list(plan)
    top = reorder.iloc[0]
    assert top["sku"] == STOCKOUT["sku"] and top["supplier_id"] == STOCKOUT["supplier_id"]
    assert top["on_order"] == 0 and top["qty_to_order"] > top["on_hand"]
    assert top["cover_days"] < top["lead_time_days"]
    row = plan.set_index("sku").loc[STOCKOUT["sku"]]
    assert row["lead_time_source"] == "measured" and row["lead_time_days"] > 18  # S02 delivers late
    # nothing to clear is reordered
    assert not set(reorder["sku"]) & (SLOW | OVERSTOCK)


def test_stockout_risk_names_the_planted_sku(sample):
    risk = inv.stockout_risk(sample["data"], plan=sample["plan"], forecast=sample["forecast"]).set_index("sku")
    assert risk.loc[STOCKOUT["sku"], "risk"] == "high"
    assert risk.loc[STOCKOUT["sku"], "stockout_days_month"] == 17
    assert risk.loc[STOCKOUT["sku"], "lost_units_month"] > 100
    assert risk.index[risk["stockout_days_month"] > 0].tolist() == [STOCKOUT["sku"]]


def test_clearance_list_is_exactly_the_planted_slow_movers_and_overstock(sample):
    slow = sample["slow"].set_index("sku")
    assert set(slow.index) == SLOW | OVERSTOCK
    assert (slow.loc[list(SLOW), "days_since_sale"] >= 140).all()
    assert (slow.loc[list(OVERSTOCK), "weeks_of_cover"] > 52).all()
    statuses = sample["plan"].set_index("sku").loc[list(SLOW | OVERSTOCK), "status"]
    assert statuses.eq("clear, do not reorder").all()


def test_turnover_and_lead_times_on_the_sample(sample):
    data = sample["data"]
    shop = inv.turnover(data, by="shop").iloc[0]
    assert shop["days_of_inventory"] > data.settings["inventory"]["turnover_target_days"]
    by_sku = inv.turnover(data)
    assert set(by_sku["sku"].head(2)) == OVERSTOCK  # the bulk buys hold the most stock value
    cat = inv.turnover(data, by="category")
    assert cat["category"].iloc[0] == "运动健身"  # the dumbbells' category turns slowest
    lt = inv.lead_times(data).set_index("supplier_id")
    assert lt.loc["S02", "lead_time_days"] - lt.loc["S02", "quoted_days"] > 5
    others = lt.drop(index="S02")
    assert ((others["lead_time_days"] - others["quoted_days"]).abs() < 1).all()


def test_stock_accuracy_on_the_sample(sample):
    # the generator moves stock exactly by receipts minus sales: every snapshot must match
    summary = inv.stock_accuracy_summary(inv.stock_accuracy(sample["data"])).iloc[0]
    assert summary["matched_share"] == 1.0 and summary["skus"] == 120


def test_backtest_beats_naive(sample):
    bt = inv.backtest(sample["data"], classes=sample["classes"]).set_index(["demand_class", "method"])
    assert bt.loc[("all", "chosen"), "wape"] < bt.loc[("all", "naive"), "wape"]
    assert bt.loc[("smooth", "ets"), "wape"] < bt.loc[("smooth", "naive"), "wape"]
    assert {"mae", "wape", "bias"} <= set(bt.columns)
