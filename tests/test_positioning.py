"""Tests of playbook.positioning (chapter 01): hand-built tables whose answers were worked out by
hand, the LMDI identity, the pacing shape on a hand-built month, and the sample shop's planted
outage day found where it was planted and not elsewhere."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import playbook
from playbook import metrics, positioning as P

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data():
    return playbook.load(ROOT / "data/samples", month="2026-10")


# ---------------------------------------------------------------------------------------------
# LMDI: a hand-worked example
# ---------------------------------------------------------------------------------------------

def test_log_mean_by_hand():
    # L(200, 100) = 100 / ln 2 = 144.2695; L(a, a) = a
    assert float(P.log_mean(200.0, 100.0)) == pytest.approx(100 / math.log(2))
    assert float(P.log_mean(5.0, 5.0)) == 5.0


def test_lmdi_hand_worked_example():
    # Worked by hand: GMV 1000 x 3% x 300 = 9,000 -> 1200 x 2.5% x 330 = 9,900, a change of +900.
    # L(9900, 9000) = 900 / ln(1.1) = 9,442.87. Visitors: L x ln(1.2) = +1,721.64; conversion:
    # L x ln(0.025/0.03) = L x ln(1/1.2) = -1,721.64; AOV: L x ln(1.1) = exactly +900.
    # Visitors and conversion cancel (1.2 x 0.8333 = 1): the whole change is the AOV's.
    before = pd.DataFrame({"visitors": [1000.0], "conversion": [0.03], "aov": [300.0]})
    after = pd.DataFrame({"visitors": [1200.0], "conversion": [0.025], "aov": [330.0]})
    c = P.lmdi(before, after).iloc[0]
    weight = 900 / math.log(1.1)
    assert c["visitors"] == pytest.approx(weight * math.log(1.2)) and c["visitors"] == pytest.approx(1721.64, abs=0.01)
    assert c["conversion"] == pytest.approx(-1721.64, abs=0.01)
    assert c["aov"] == pytest.approx(900.0)
    assert c["visitors"] + c["conversion"] + c["aov"] == pytest.approx(c["change"]) == pytest.approx(900.0)


def test_lmdi_rejects_non_positive():
    with pytest.raises(ValueError, match="positive"):
        P.lmdi(pd.DataFrame({"a": [0.0]}), pd.DataFrame({"a": [1.0]}))


def _daily(rows):
    return pd.DataFrame(rows, columns=["date", "channel", "visitors", "paid_orders", "gmv"]).assign(
        date=lambda d: pd.to_datetime(d["date"]))


def test_gmv_tree_sums_exactly_and_handles_a_new_channel():
    # Hand-built: channel a in Jan 1000 visitors, 30 orders, GMV 9,000; in Feb 1200, 30, 9,900
    # (conversion 3% -> 2.5%, AOV 300 -> 330): the example above, contributions +1,721.64, -1,721.64,
    # +900. Channel b opens in Feb (GMV 500): its change cannot be split by logs -> "channels".
    daily = _daily([
        ("2026-01-10", "a", 600, 18, 5400.0), ("2026-01-20", "a", 400, 12, 3600.0),
        ("2026-02-10", "a", 1200, 30, 9900.0), ("2026-02-11", "b", 100, 2, 500.0),
    ])
    tree = P.gmv_tree(daily, "2026-02", base="2026-01")
    a = tree.set_index("channel").loc["a"]
    assert a["c_visitors"] == pytest.approx(1721.64, abs=0.01)
    assert a["c_conversion"] == pytest.approx(-1721.64, abs=0.01)
    assert a["c_aov"] == pytest.approx(900.0)
    b = tree.set_index("channel").loc["b"]
    assert b["c_channels"] == pytest.approx(500.0) and b["c_visitors"] == 0
    total = tree.set_index("channel").loc["total"]
    parts = total[["c_visitors", "c_conversion", "c_aov", "c_channels"]].sum()
    assert parts == pytest.approx(total["change"]) == pytest.approx(1400.0)
    bridge = P.gmv_bridge(tree)
    assert bridge.iloc[0] == 9000.0 and bridge.sum() == pytest.approx(10400.0)


def test_gmv_tree_without_visitors_uses_orders_times_aov():
    # 30 orders x 300 -> 33 orders x 300: the whole +900 is orders, none is AOV
    daily = _daily([("2026-01-10", "a", np.nan, 30, 9000.0), ("2026-02-10", "a", np.nan, 33, 9900.0)]).drop(
        columns="visitors")
    total = P.gmv_tree(daily, "2026-02", base="2026-01").set_index("channel").loc["total"]
    assert total["c_paid_orders"] == pytest.approx(900.0) and total["c_aov"] == pytest.approx(0.0)


# ---------------------------------------------------------------------------------------------
# Business model
# ---------------------------------------------------------------------------------------------

def _orders():
    return pd.DataFrame({
        "order_id": ["A", "B", "C"], "customer_id": ["c1", "c2", "c1"],
        "order_ts": pd.to_datetime(["2026-10-03 10:00", "2026-10-04 11:00", "2026-10-20 12:00"]),
        "paid_amount": [110.0, 500.0, 50.0], "status": ["paid", "cancelled", "refunded"],
        "refund_amount": [0.0, 0.0, 50.0], "channel": ["tmall", "jd", "tmall"],
    })


def _items():
    return pd.DataFrame({"order_id": ["A", "A", "B", "C"], "sku": ["X", "Y", "X", "Y"], "qty": [2, 1, 5, 1],
                         "unit_price": [30.0, 40.0, 100.0, 50.0]})


def _products():
    return pd.DataFrame({"sku": ["X", "Y"], "category": ["cx", "cy"], "unit_cost": [10.0, 20.0]})


def test_order_lines_and_business_table_by_hand():
    # Order A paid 110 (lines 2 x 30 = 60 of cx and 40 of cy: value 100, +10 shipping) -> cx gets
    # 66, cy 44. Order B is cancelled: left out. Order C (cy, 50) was refunded in full: GMV 50,
    # net 0, and its goods came back (cost 0). cx: GMV 66, net 66, cost 20 -> margin 46/66;
    # cy: GMV 94, net 44, cost 20 -> margin 24/44. Shop: GMV 160, net 110, margin 70/110.
    lines = P.order_lines(_orders(), _items(), _products())
    assert set(lines["order_id"]) == {"A", "C"}
    t = P.business_table(lines, "2026-10", by="category").set_index("category")
    assert t.loc["cx", "gmv"] == pytest.approx(66.0) and t.loc["cy", "gmv"] == pytest.approx(94.0)
    assert t.loc["cx", "gross_margin"] == pytest.approx(46 / 66)
    assert t.loc["cy", "gross_margin"] == pytest.approx(24 / 44)
    assert t.loc["total", "gmv"] == pytest.approx(metrics.gmv(_orders()))
    assert t.loc["total", "net_sales"] == pytest.approx(metrics.net_sales(_orders()))
    assert t.loc["total", "gross_margin"] == pytest.approx(70 / 110)
    assert t.loc["cx", "share"] + t.loc["cy", "share"] == pytest.approx(1.0)
    assert np.isnan(t.loc["cx", "mom"])  # no previous month in the data
    by_channel = P.business_table(lines, "2026-10", by="channel").set_index("channel")
    assert list(by_channel.index) == ["tmall", "total"]


def test_business_table_mom_and_yoy():
    lines = pd.DataFrame({"month": ["2025-10", "2026-09", "2026-10"], "channel": ["a"] * 3,
                          "gmv": [50.0, 80.0, 100.0], "net_sales": [50.0, 80.0, 100.0], "cogs": [np.nan] * 3})
    row = P.business_table(lines, "2026-10").iloc[0]
    assert row["mom"] == pytest.approx(0.25) and row["yoy"] == pytest.approx(1.0)
    assert np.isnan(row["gross_margin"])  # no unit cost known: no margin, not a 100% margin


def test_business_report_on_sample(data):
    res = P.business_report(data)
    month = data.month_rows("orders")
    assert res.gmv == pytest.approx(metrics.gmv(month))
    assert res.by_category.iloc[-1]["gmv"] == pytest.approx(res.gmv)
    assert res.by_channel.iloc[:-1]["share"].sum() == pytest.approx(1.0)
    assert 0.3 < res.gross_margin < 0.7
    assert res.channel_mix.sum(axis=1).to_numpy() == pytest.approx(np.ones(len(res.channel_mix)))
    # the private domain grows from about 10% towards 20% of GMV (README)
    private = res.channel_mix[["own_site", "wechat_mini"]].sum(axis=1)
    assert private.iloc[-1] > private.iloc[0]


# ---------------------------------------------------------------------------------------------
# Personas and segments
# ---------------------------------------------------------------------------------------------

def test_age_band():
    years = pd.Series([2003, 2002, 1992, 1971, 1960, None], dtype="Int64")
    # ages in 2026: 23, 24, 34, 55, 66, unknown
    assert P.age_band(years, 2026).tolist() == ["<25", "<25", "25-34", "55+", "55+", "unknown"]


def test_segment_table_by_hand():
    # c1 (persona p) bought on two days (A, C), c2 (p) once, c3 (q) once, c4 (q) never.
    # p: 2 buyers, 3 orders, GMV 100+50+30 = 180, AOV 60, repurchase 1/2; q: 1 buyer, GMV 20.
    lines = pd.DataFrame({
        "order_id": ["A", "C", "D", "E"], "customer_id": ["c1", "c1", "c2", "c3"],
        "order_day": pd.to_datetime(["2026-10-01", "2026-10-05", "2026-10-02", "2026-10-02"]),
        "category": ["cx", "cy", "cx", "cy"], "gmv": [100.0, 50.0, 30.0, 20.0],
    })
    customers = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"], "persona": ["p", "p", "q", "q"]})
    t = P.segment_table(lines, customers, by="persona", min_buyers=2).set_index("persona")
    assert t.loc["p", "customers"] == 2 and t.loc["q", "customers"] == 2
    assert t.loc["p", "buyers"] == 2 and t.loc["q", "buyers"] == 1
    assert t.loc["p", "gmv"] == 180.0 and t.loc["p", "aov"] == pytest.approx(60.0)
    assert t.loc["p", "repurchase_rate"] == pytest.approx(0.5) and t.loc["q", "repurchase_rate"] == 0.0
    assert t.loc["p", "gmv_share"] == pytest.approx(0.9)
    # p: cx 130/180; shop cx share 130/200 -> index (130/180)/(130/200) x 100 = 111.1
    assert t.loc["p", "top_category"] == "cx"
    assert t.loc["p", "top_category_index"] == pytest.approx(100 * (130 / 180) / (130 / 200))
    assert t.loc["q", "signature_category"] == "cy" and bool(t.loc["q", "small"])


def test_personas_on_sample_differ_in_preference(data):
    res = P.segment_report(data)
    assert set(res.tables) >= {"persona", "age_band", "city_tier", "province", "member_tier"}
    t = res.tables["persona"].set_index("persona")
    assert t["gmv_share"].sum() == pytest.approx(1.0)
    # README: personas differ in category preference, basket size and age
    assert t.loc["outdoor_fan", "signature_category"] == "露营装备"
    assert res.preference.loc["outdoor_fan", "露营装备"] > 115
    assert res.preference.loc["silver_age", "露营装备"] < 80
    assert t.loc["smb_buyer", "aov"] > 2 * t.loc["gen_z", "aov"]
    assert res.tables["age_band"].set_index("age_band").loc["55+", "buyers"] == t.loc["silver_age", "buyers"]
    assert res.member_repurchase_rate > res.repurchase_rate


# ---------------------------------------------------------------------------------------------
# Targets and pacing
# ---------------------------------------------------------------------------------------------

def test_plan_vs_actual_and_shares_by_hand():
    targets = pd.DataFrame({"month": ["2026-10"] * 3, "metric": ["gmv"] * 3, "value": [300.0, 100.0, 200.0],
                            "channel": [None, "a", "b"]})
    actuals = pd.DataFrame({"month": ["2026-10"] * 3, "channel": ["all", "a", "b"], "gmv": [330.0, 150.0, 180.0]})
    pva = P.plan_vs_actual(targets, actuals).set_index("channel")
    assert pva.loc["all", "attainment"] == pytest.approx(1.1) and pva.loc["b", "gap"] == pytest.approx(-20.0)
    shares = P.channel_share_vs_plan(pva.reset_index(), "2026-10").set_index("channel")
    # plan shares 1/3, 2/3; actual 150/330, 180/330
    assert shares.loc["a", "share_gap"] == pytest.approx(150 / 330 - 1 / 3)


def _hand_month():
    """History from 2025-06-01 to 2026-10-31: weekday weights Mon-Fri 1.0, Sat and Sun 1.5; a
    festival on 10-11 (x4) and 10-25 (x3) each year; the level is 100 a day until 2025-12-31 and
    200 from 2026-01-01 (the shop doubled)."""
    days = pd.date_range("2025-06-01", "2026-10-31", freq="D")
    wd = np.where(days.day_of_week >= 5, 1.5, 1.0)
    level = np.where(days < pd.Timestamp("2026-01-01"), 100.0, 200.0)
    fest = np.ones(len(days))
    for d, f in (("10-11", 4.0), ("10-25", 3.0)):
        fest[(days.strftime("%m-%d") == d)] = f
    gmv = level * wd * fest
    daily = pd.DataFrame({"date": days, "channel": "a", "gmv": gmv * 0.75})
    daily = pd.concat([daily, daily.assign(channel="b", gmv=gmv * 0.25)], ignore_index=True)
    campaigns = pd.DataFrame({
        "campaign_id": ["F1", "F2", "F3", "F4"], "name": ["f"] * 4, "type": ["discount"] * 4,
        "start_date": pd.to_datetime(["2025-10-11", "2025-10-25", "2026-10-11", "2026-10-25"]),
        "end_date": pd.to_datetime(["2025-10-11", "2025-10-25", "2026-10-11", "2026-10-25"]),
        "channel": [None] * 4, "festival": ["f1", "f2", "f1", "f2"]})
    return daily, campaigns, pd.Series(gmv, index=days)


def test_pacing_on_a_hand_built_month_is_exact():
    # The month's true total is known: 200 x sum over October 2026 of weekday weight x festival.
    # As of 10-10 (before both festivals) the shaped projection must hit it exactly; the straight
    # line (to date x 31 / 10) must miss it (it knows neither the weekends ahead nor the festivals).
    daily, campaigns, shop = _hand_month()
    truth = shop["2026-10-01":"2026-10-31"].sum()
    targets = pd.DataFrame({"month": ["2026-10"] * 3, "metric": ["gmv"] * 3, "value": [truth, truth * 0.7, truth * 0.3],
                            "channel": [None, "a", "b"]})
    table, curve = P.pacing(daily, "2026-10", as_of="2026-10-10", targets=targets, campaigns=campaigns)
    t = table.set_index("channel")
    assert t.loc["all", "projected"] == pytest.approx(truth, rel=1e-9)
    assert t.loc["a", "projected"] == pytest.approx(0.75 * truth, rel=1e-9)
    assert abs(t.loc["all", "straight_line"] / truth - 1) > 0.1
    assert t.loc["all", "projected_attainment"] == pytest.approx(1.0)
    assert t.loc["b", "projected_attainment"] == pytest.approx(0.25 / 0.3)
    assert t.loc["all", "actual"] == pytest.approx(truth)
    assert curve["method"].iloc[0] == "last year x weekday"
    # the festival day carries four times an ordinary weekday's share
    sh = curve.set_index("date")["share"]
    assert sh[pd.Timestamp("2026-10-11")] / sh[pd.Timestamp("2026-10-12")] == pytest.approx(4 * 1.5)  # 10-11 is a Sunday
    # needing 100% of plan on the rest: the uplift needed is zero for the shop
    assert t.loc["all", "uplift_needed"] == pytest.approx(0.0, abs=1e-9)


def test_weekday_index_by_hand():
    _, campaigns, shop = _hand_month()
    idx = P.weekday_index(shop, as_of=pd.Timestamp("2026-09-30"), weeks=12)
    # weights 1,1,1,1,1,1.5,1.5 average 8/7: Monday 7/8, Saturday 1.5 x 7/8
    assert idx[0] == pytest.approx(7 / 8) and idx[5] == pytest.approx(1.5 * 7 / 8)


def test_daily_shape_without_last_year_falls_back_to_weekday():
    _, _, shop = _hand_month()
    shape = P.daily_shape(shop["2026-01-01":], "2026-10", as_of=pd.Timestamp("2026-10-10"))
    assert shape["method"].iloc[0] == "weekday" and shape["share"].sum() == pytest.approx(1.0)


def test_pacing_without_last_year_uses_the_festival_lift_so_far():
    # Only 2026 in the data: the festival f1 is planned 10-09 .. 10-12 at x4 (weekday weights as
    # before, level 200). As of 10-10 two of its days are seen (lift 4 over the ordinary days of
    # the last four weeks), so its remaining two days are expected at x4 too: exact projection.
    days = pd.date_range("2026-06-01", "2026-10-31", freq="D")
    fest = (days >= "2026-10-09") & (days <= "2026-10-12")
    gmv = 200.0 * np.where(days.day_of_week >= 5, 1.5, 1.0) * np.where(fest, 4.0, 1.0)
    daily = pd.DataFrame({"date": days, "channel": "a", "gmv": gmv})
    campaigns = pd.DataFrame({"campaign_id": ["F"], "name": ["f"], "type": ["discount"],
                              "start_date": [pd.Timestamp("2026-10-09")], "end_date": [pd.Timestamp("2026-10-12")],
                              "channel": [None], "festival": ["f1"]})
    table, curve = P.pacing(daily, "2026-10", as_of="2026-10-10", campaigns=campaigns)
    assert curve["method"].iloc[0] == "weekday x festival lift so far"
    assert table.iloc[-1]["projected"] == pytest.approx(gmv[days.month == 10].sum(), rel=1e-9)
    # without the campaigns table the same month is paced on the weekday rhythm alone: too high
    plain, _ = P.pacing(daily, "2026-10", as_of="2026-10-10")
    assert plain.iloc[-1]["projected"] > 1.05 * gmv[days.month == 10].sum()


def test_pacing_rejects_day_outside_month():
    daily, campaigns, _ = _hand_month()
    with pytest.raises(ValueError, match="not a day"):
        P.pacing(daily, "2026-10", as_of="2026-11-02")


# ---------------------------------------------------------------------------------------------
# The sample shop
# ---------------------------------------------------------------------------------------------

def test_tree_on_sample_exact_and_outage_found(data):
    res = P.tree_report(data)
    assert res.bridge_mom.sum() == pytest.approx(metrics.gmv(data.month_rows("orders")))
    assert res.bridge_yoy.sum() == pytest.approx(metrics.gmv(data.month_rows("orders")))
    # planted event 1: 2026-09-17, paid orders about -60% with visitors normal
    assert res.worst_day == pd.Timestamp("2026-09-17")
    assert res.worst_day_ratio < 0.6
    assert res.alerts.empty  # September's outage is last month's news in October's pack


def test_outage_month_shows_conversion_loss_and_nowhere_else(data):
    res = P.tree_report(data, month="2026-09")
    assert res.worst_day == pd.Timestamp("2026-09-17") and res.worst_day_ratio < 0.6
    assert res.alerts["subject"].tolist() == ["2026-09-17"] and res.alerts["severity"].tolist() == ["high"]
    assert res.mom.set_index("channel").loc["total", "c_conversion"] < 0  # September's conversion fell
    # every other pair of months in the window: the worst day is an ordinary dip, no alert
    for month in ("2025-06", "2025-11", "2026-02", "2026-08"):  # festivals, spring festival, a quiet month
        other = P.tree_report(data, month=month)
        assert other.worst_day_ratio > 0.7 and other.alerts.empty, month


def test_targets_and_pacing_on_sample(data):
    tg = P.target_report(data)
    assert tg.attainment == pytest.approx(tg.by_channel.iloc[-1]["actual"] / 1172800.0)
    assert set(tg.scorecard["metric"]) >= {"gmv", "orders", "aov", "conversion_rate"}
    pace = P.pacing_report(data, day=18)
    assert pace.as_of == pd.Timestamp("2026-10-18") and pace.method == "last year x weekday"
    # the 双11 presale and main-phase opening are in the shape: October's last day is its heaviest
    curve = pace.curve.set_index("date")
    assert curve["share"].idxmax() == pd.Timestamp("2026-10-31")
    assert (curve.loc["2026-10-20":"2026-10-31", "festival"] == "double11").all()
    # the shaped projection lands nearer the real month end than the straight line
    assert abs(pace.projected - pace.actual) < abs(pace.straight_line - pace.actual)
    # a complete month replayed: no channel alerts from pacing (the targets section judges it)
    assert not pace.in_progress and pace.behind.empty and pace.severity == "low"
    assert set(tg.behind["channel"]) == set(tg.by_channel.query("channel != 'all' and attainment < 1")["channel"])
    action = P.channel_targets(tg, pace)
    assert action["channel"].iloc[-1] == "all" and len(action) == 7
    assert action["projected"].iloc[-1] == pytest.approx(pace.projected)


def test_pacing_of_a_month_in_progress_on_sample(data):
    # 2025-06 has no last year in the window: the 618 lift seen so far shapes the rest of the month
    # (planted 618: presale from 05-20, peaks on 06-01 and 06-18). As of 06-10 the projection is
    # nearer the real month end than the straight line.
    pace = P.pacing_report(data, as_of="2026-10-31")
    assert pace.projected == pytest.approx(pace.actual)  # the whole month known: nothing to project
    june = P.pacing(data.derived("daily_kpis"), "2025-06", as_of="2025-06-10", campaigns=data.campaigns)[0].iloc[-1]
    assert abs(june["projected"] / june["actual"] - 1) < abs(june["straight_line"] / june["actual"] - 1)


def test_reports_on_orders_only_source(tmp_path, data):
    data.orders.to_csv(tmp_path / "orders.csv", index=False)
    lean = playbook.load(tmp_path, month="2026-10")
    biz = P.business_report(lean)
    assert biz.by_category is None and "order_items" in biz.category_note
    assert P.segment_report(lean).note
    tree = P.tree_report(lean)
    assert "c_paid_orders" in tree.mom.columns and tree.note
    assert P.target_report(lean).note
    pace = P.pacing_report(lean, day=18)
    assert pace.method == "last year x weekday" and np.isnan(pace.plan)


def test_order_lines_fast_join_matches_the_merge_by_hand():
    # The lines find their orders by an Arrow hash lookup when the paid orders' ids are unique
    # text. Hand-built: order A (2 lines) and C (1 line, refunded) are paid, B is cancelled, the
    # line of the unknown order Z and the line without an order id have no order, and SKU Q is not
    # in products (category "unknown", no cost). Lines keep their own order: A-X, A-Y, C-Y, C-Q.
    orders = _orders()
    items = pd.DataFrame({"order_id": ["A", "Z", "A", "B", "C", None, "C"], "sku": ["X", "X", "Y", "X", "Y", "X", "Q"],
                          "qty": [2, 1, 1, 5, 1, 1, 1], "unit_price": [30.0, 9.0, 40.0, 100.0, 50.0, 1.0, 50.0]})
    items["order_id"] = items["order_id"].astype("str")
    lines = P.order_lines(orders, items, _products())
    assert lines["order_id"].tolist() == ["A", "A", "C", "C"]
    assert lines["category"].tolist() == ["cx", "cy", "cy", "unknown"]
    assert lines["gmv"].tolist() == pytest.approx([66.0, 44.0, 25.0, 25.0])  # C: 50 over two lines of 50
    assert lines["cogs"].iloc[:3].tolist() == pytest.approx([20.0, 20.0, 0.0]) and np.isnan(lines["cogs"].iloc[3])
    # a repeated order id takes the merge path (each line joins both rows): the same as pandas' merge
    twice = pd.concat([orders, orders.loc[orders["order_id"] == "A"]], ignore_index=True)
    doubled = P.order_lines(twice, items, _products())
    assert doubled["order_id"].tolist() == ["A", "A", "A", "A", "C", "C"]


def test_segment_report_and_order_lines_of_a_period_agree(data):
    # the chapter cuts the period's lines out of the lines of all orders (computed once per
    # dataset, with integer codes for the text); as a frame they must be exactly what order_lines
    # gives on the period's orders
    month = data.month
    start = pd.Timestamp(month + "-01")
    lines = P._lines(data, True)
    which = P._in_period(lines, start, start + pd.offsets.MonthBegin(1))
    direct = P.order_lines(data.month_rows("orders"), data["order_items"], data["products"])
    pd.testing.assert_frame_equal(P._lines_frame(lines, which), direct)
    assert len(set(lines.line_key[which])) == direct["order_id"].nunique()


def test_reports_on_codes_equal_the_public_functions_on_text(data):
    # the sections group integer codes; the public functions group the text columns of
    # order_lines: the tables must be the same to the last bit (same sums in the same order)
    month = data.month
    res = P.business_report(data)
    lines = P.order_lines(data["orders"], data["order_items"], data["products"])
    pd.testing.assert_frame_equal(res.by_channel, P.business_table(lines, month, by="channel"))
    pd.testing.assert_frame_equal(res.by_category, P.business_table(lines, month, by="category"))
    pd.testing.assert_frame_equal(res.channel_mix, P.revenue_mix(lines, month, by="channel"))
    seg = P.segment_report(data)
    end = pd.Timestamp(month + "-01") + pd.offsets.MonthBegin(1)
    ts = data["orders"]["order_ts"]
    period = data["orders"].loc[(ts >= end - pd.DateOffset(months=12)) & (ts < end)]
    plines = P.order_lines(period, data["order_items"], data["products"])
    day = period["order_ts"].dt.normalize().set_axis(period["order_id"])
    plines["order_day"] = day.reindex(plines["order_id"]).to_numpy()
    customers = data["customers"].assign(age_band=P.age_band(data["customers"]["birth_year"], 2026))
    for dim in ("persona", "age_band", "province"):
        pd.testing.assert_frame_equal(seg.tables[dim], P.segment_table(plines, customers, by=dim), obj=dim)


def test_buyers_and_new_customers_by_hand():
    # c1 buys in January (tmall) and February (jd); c2 twice in February (tmall); c3 only cancels
    # in January; one paid order has no customer; c4 places two orders at the same time in March,
    # jd first: its first order is the jd one (the earlier row on a tie).
    orders = pd.DataFrame({
        "order_id": ["A", "B", "C", "D", "E", "F", "G", "H"],
        "customer_id": ["c1", "c1", "c2", "c2", "c3", None, "c4", "c4"],
        "order_ts": pd.to_datetime(["2026-01-05 09:00", "2026-02-03 09:00", "2026-02-01 09:00", "2026-02-20 09:00",
                                    "2026-01-09 09:00", "2026-01-10 09:00", "2026-03-01 10:00", "2026-03-01 10:00"]),
        "paid_amount": [10.0] * 8, "status": ["paid"] * 4 + ["cancelled"] + ["paid"] * 3,
        "channel": ["tmall", "jd", "tmall", "tmall", "tmall", "tmall", "jd", "tmall"],
    })
    head = P._build_orders(orders)
    customer = pd.factorize(orders["customer_id"])[0][head.rows]
    buyers, new = P._buyer_counts(head, customer, ["2026-01", "2026-02", "2026-03"])
    got = {(m, c): int(n) for m, c, n in buyers.itertuples(index=False)}
    assert got == {("2026-01", "tmall"): 1, ("2026-01", "all"): 1, ("2026-02", "jd"): 1, ("2026-02", "tmall"): 1,
                   ("2026-02", "all"): 2, ("2026-03", "jd"): 1, ("2026-03", "tmall"): 1, ("2026-03", "all"): 1}
    got = {(m, c): int(n) for m, c, n in new.itertuples(index=False)}
    assert got == {("2026-01", "tmall"): 1, ("2026-01", "all"): 1, ("2026-02", "tmall"): 1, ("2026-02", "all"): 1,
                   ("2026-03", "jd"): 1, ("2026-03", "all"): 1}
    # asked for February alone: February's rows, the same counts
    buyers, new = P._buyer_counts(head, customer, ["2026-02"])
    assert buyers["month"].eq("2026-02").all() and buyers["customer_id"].tolist() == [1, 1, 2]
    assert new["channel"].tolist() == ["tmall", "all"] and new["customer_id"].tolist() == [1, 1]


def test_order_lines_with_an_empty_products_table():
    # no product known: every line is "unknown" with no cost, and GMV is still spread by line value
    lines = P.order_lines(_orders(), _items(), _products().iloc[:0])
    assert lines["category"].tolist() == ["unknown"] * 3 and lines["cogs"].isna().all()
    assert lines["gmv"].tolist() == pytest.approx([66.0, 44.0, 50.0])


def test_prepared_folder_keeps_no_ids_and_gives_the_same_sections(data, tmp_path):
    # a prepared folder: no column of the orders or customers is kept (the ids are read for the
    # joins, the channels and skus as codes), the lines are those of the 13 months the sections
    # show (the same values as the lines of all orders there), and every section is the same
    from playbook.loading import prepare

    prepared = playbook.load(prepare(data, tmp_path / "prep"), month=data.month)
    a, b = P._lines(prepared, True), P._lines(data, True)
    end = pd.Timestamp(data.month + "-01") + pd.offsets.MonthBegin(1)
    shown = P._in_period(b, end - pd.DateOffset(months=P.LINE_MONTHS), end)
    assert 0 < len(shown) < len(b.line_order) and len(a.line_order) == len(shown)
    for name in ("line_order", "line_key", "category", "gmv", "net_sales", "cogs"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name)[shown], err_msg=name)
    pd.testing.assert_index_equal(a.categories, b.categories)
    pd.testing.assert_index_equal(a.head.channels, b.head.channels)
    np.testing.assert_array_equal(a.head.channel, b.head.channel)
    assert a.head.orders is None  # the orders' columns were read for the arrays only
    ca, cb = P._customers(prepared), P._customers(data)
    assert ca.frame is None and ca.n == cb.n
    np.testing.assert_array_equal(ca.of_paid, cb.of_paid)
    np.testing.assert_array_equal(ca.missing, cb.missing)
    pd.testing.assert_series_equal(ca.column(prepared, "persona"), cb.column(data, "persona"), check_index=False)
    with pytest.raises(ValueError, match="source tables"):
        P._lines_frame(a)
    for mine, theirs in ((P.business_report(prepared), P.business_report(data)),
                         (P.segment_report(prepared), P.segment_report(data))):
        for attr in ("kpis", "by_channel", "by_category", "channel_mix", "preference"):
            if hasattr(mine, attr):
                pd.testing.assert_frame_equal(getattr(mine, attr), getattr(theirs, attr), obj=attr)
    pd.testing.assert_frame_equal(P.target_report(prepared).pva, P.target_report(data).pva)
    pd.testing.assert_frame_equal(P.target_report(prepared).scorecard, P.target_report(data).scorecard)
    for name in ("orders", "order_items", "customers"):  # read for the arrays, not kept
        assert prepared.table_file(name) is not None and not prepared._partial.get(name), name


def test_sorted_id_positions_by_hand():
    # ids of one width stored in increasing order are found without a hash table: "B2" is not
    # among the keys, a missing value finds nothing
    keys = pd.Series(["A1", "A7", "B3", "C0"], dtype="str")
    values = pd.Series(["A1", None, "B2", "B3", "C0", "C0", "Z9"], dtype="str")  # in the keys' order: binary search
    np.testing.assert_array_equal(P._sorted_id_positions(values, keys), [0, -1, -1, 2, 3, 3, -1])
    at, missing = P._sorted_id_positions(values, keys, missing=True)
    assert missing.tolist() == [False, True, False, False, False, False, False]
    # scattered values over sparse ids: a hash of the integers; keys out of order or repeated, or
    # another width: left to the caller's lookup (None)
    np.testing.assert_array_equal(P._sorted_id_positions(values.iloc[::-1].reset_index(drop=True), keys),
                                  [-1, 3, 3, 2, -1, -1, 0])
    assert P._sorted_id_positions(values, keys.iloc[::-1].reset_index(drop=True)) is None
    assert P._sorted_id_positions(values, pd.Series(["A1", "A1", "B3"], dtype="str")) is None
    assert P._sorted_id_positions(values, pd.Series(["A1", "A10"], dtype="str")) is None
    # ids that pack into a short range of integers (digits after a fixed letter) take a table
    # indexed by the id, in any order: below the first key, past the last, between two keys: absent
    keys = pd.Series([f"0O{i:07d}" for i in (1, 2, 3, 5, 8)], dtype="str")
    values = pd.Series(["0O0000005", "0O0000001", "0O0000004", None, "0O0000008", "1O0000000", "0O0000000"], dtype="str")
    np.testing.assert_array_equal(P._sorted_id_positions(values, keys), [3, 0, -1, -1, 4, -1, -1])
    np.testing.assert_array_equal(P._sorted_id_positions(values, keys), pd.Index(keys).get_indexer(values))


def test_first_orders_by_hand():
    # customer 0: orders at 10:00, 09:00, 09:00 -> the first 09:00 one (position 1, the earlier
    # row on a tie); customer 1: an order without time and one at 12:00 -> the dated one (a sort
    # puts NaT last); customer 2 only an order without time -> that one; customer 3 has none
    ts = pd.to_datetime(["2026-01-01 10:00", "2026-01-01 09:00", None, "2026-01-01 09:00", "2026-01-02 12:00", None]).to_numpy()
    who = np.array([0, 0, 1, 0, 1, 2])
    assert sorted(P._first_orders(ts, who, 4).tolist()) == [1, 4, 5]
    assert len(P._first_orders(ts[:0], who[:0], 4)) == 0
