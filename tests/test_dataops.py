"""Tests of playbook.dataops: hand-built tables with answers worked out by hand, a published worked
example for the sample size, and the sample shop's planted events (payment outage 2026-09-17, the
A/B tests) found where they were planted and nowhere else."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import playbook
from playbook import dataops as D
from playbook import pack
from test_derived import _Prepared  # a prepared dataset of Parquet files not read yet

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"


@pytest.fixture(scope="module")
def data():
    return playbook.load(SAMPLES, month="2026-10",
                         tables=["orders", "traffic", "campaigns", "experiments", "touchpoints"])


@pytest.fixture(scope="module")
def board(data):
    return D.kpi_board(data)


@pytest.fixture(scope="module")
def september():
    """The outage month, with the tables the KPI board and the funnel need."""
    return playbook.load(SAMPLES, month="2026-09", tables=["orders", "traffic", "campaigns"])


# -- 1. KPI board ----------------------------------------------------------------------------------
def _synthetic_board(days=84, outage=None, peak=None, low_day=None):
    """12 weeks; weekends have twice the visitors of weekdays; conversion exactly 3%, AOV 300,
    repurchase 50% of 40 buyers (80 on weekends)."""
    dates = pd.date_range("2026-01-05", periods=days, freq="D")  # a Monday
    weekend = dates.day_of_week >= 5
    visitors = np.where(weekend, 4000.0, 2000.0)
    conv = np.full(days, 0.03)
    if outage is not None:
        conv[outage] = 0.01
    if peak is not None:
        visitors[peak] *= 3
        conv[peak] = 0.05
    if low_day is not None:
        visitors[low_day] = 100.0
        conv[low_day] = 0.0
    paid = np.round(visitors * conv)
    buyers = np.maximum(paid, 1.0)
    return pd.DataFrame({"date": dates, "visitors": visitors, "paid_orders": paid, "gmv": paid * 300.0,
                         "buyers": buyers, "repeat_buyers": np.round(buyers / 2),
                         "conversion": paid / visitors, "aov": 300.0, "repurchase": np.round(buyers / 2) / buyers})


def test_weekday_rhythm_is_not_an_alert_and_an_outage_is():
    b = _synthetic_board(outage=70)
    days = D.kpi_alerts(b, None)
    alerts = days.loc[days["status"] == "alert"]
    # hand: day 70 has 20 paid orders out of 2,000 visitors (1%) against an expected 3%
    assert list(alerts["date"]) == [b["date"][70]]
    row = alerts.iloc[0]
    assert row["metric"] == "conversion"
    assert row["expected"] == pytest.approx(0.03)
    assert row["change"] == pytest.approx(-0.02)
    # weekends (twice the visitors) are compared with weekends: expected visitors there are 4,000
    vis = days.loc[(days["metric"] == "visitors") & days["expected"].notna()]
    sat = vis.loc[vis["date"].dt.day_of_week == 5]
    assert (sat["expected"] == 4000).all()


def test_festival_peak_is_not_an_alert_but_a_conversion_drop_on_a_festival_day_is():
    b = _synthetic_board(peak=63)
    fest = pd.DataFrame({"date": [b["date"][63], b["date"][64]], "festival": ["618", "618"]})
    b.loc[64, ["paid_orders", "conversion"]] = [20.0, 0.01]  # a checkout failure during the festival
    days = D.kpi_alerts(b, fest)
    peak = days.loc[days["date"] == b["date"][63]]
    assert set(peak["status"]) <= {"festival peak or dip", "festival"}
    assert (peak["status"] == "festival peak or dip").any()  # it would have alerted without the calendar
    alerts = days.loc[days["status"] == "alert"]
    assert list(zip(alerts["date"], alerts["metric"])) == [(b["date"][64], "conversion")]
    # the peak does not enter the baseline of the same weekday a week later
    later = days.loc[(days["date"] == b["date"][70]) & (days["metric"] == "visitors")]
    assert later["expected"].iloc[0] == 2000


def test_minimum_volume_and_small_moves_do_not_alert():
    b = _synthetic_board(low_day=71)
    b.loc[72, ["paid_orders", "conversion"]] = [57.0, 0.0285]  # -0.15 pp: 5% down but under 0.5 pp
    days = D.kpi_alerts(b, None)
    assert (days["status"] == "alert").sum() == 0
    assert days.loc[(days["date"] == b["date"][71]) & (days["metric"] == "conversion"), "status"].iloc[0] == "low volume"


def test_alerts_are_capped_per_metric_and_month_and_say_expected_vs_actual():
    b = _synthetic_board(days=120)
    bad = [63, 64, 65, 66, 67, 68, 69, 70]  # eight outage days in March 2026
    b.loc[bad, "paid_orders"] = np.round(b.loc[bad, "visitors"] * 0.01)
    b["conversion"] = b["paid_orders"] / b["visitors"]
    days = D.kpi_alerts(b, None)
    alerts = D._alert_rows(days, per_metric=5)
    conv = alerts.loc[alerts["metric"] == "conversion"]
    assert len(conv) == 5
    assert conv["message"].str.contains("expected").all()
    assert conv["message"].iloc[0].startswith("Conversion 转化率 1.00% against 3.00% expected (-2.00 pp)")


def test_festival_calendar_windows():
    camp = pd.DataFrame({"campaign_id": ["C1", "C2"], "name": ["618", "member"], "type": ["presale", "member_day"],
                         "start_date": pd.to_datetime(["2026-06-10", "2026-07-07"]),
                         "end_date": pd.to_datetime(["2026-06-18", "2026-07-07"]), "festival": ["618", None]})
    cal = D.festival_calendar(camp, start="2026-05-01", end="2026-08-01", pre_days=14, post_days=10)
    # hand: 05-27 .. 06-28 (33 days) for 618, plus the member day itself
    assert cal["date"].min() == pd.Timestamp("2026-05-27")
    assert len(cal) == 33 + 1
    assert cal.loc[cal["date"] == "2026-07-07", "festival"].iloc[0] == "member_day"
    assert pd.Timestamp("2026-06-29") not in set(cal["date"])


def test_sample_outage_is_flagged_and_nothing_else(board):
    alerts = board.alerts
    assert list(alerts["subject"]) == ["2026-09-17"]
    row = alerts.iloc[0]
    assert row["metric"] == "conversion" and row["severity"] == "high"
    assert row["actual"] < 0.015 and row["expected"] > 0.029  # about -60% of paid orders
    assert "expected" in row["message"]


def test_sample_festival_peaks_are_not_flagged(board):
    d = board.days
    for day in ["2025-06-18", "2025-11-11", "2026-06-18", "2025-10-31", "2026-06-01"]:
        rows = d.loc[d["date"] == day]
        assert not (rows["status"] == "alert").any(), day
        assert rows["festival"].iloc[0] != ""
    peak = d.loc[(d["date"] == "2025-11-11") & (d["metric"] == "conversion")].iloc[0]
    assert peak["status"] == "festival peak or dip"  # a big move, explained by 双11


def test_outage_reaches_the_pack_with_the_date_as_subject(september):
    board = D.kpi_board(september)
    record = pack.ChapterRecord("06_data_ops", month="2026-09")
    record.alerts_from(board.pack_alerts, severity="severity", subject="subject", message="{message}")
    assert [(a.subject, a.severity) for a in record.alerts] == [("2026-09-17", "high")]
    assert board.conversion_alert_days == 1


def test_daily_board_repurchase_by_hand(data):
    b = D.daily_board(data).set_index("date")
    day = pd.Timestamp("2026-10-15")
    o = data.orders
    paid = o.loc[playbook.metrics.paid_mask(o)]
    first = paid.groupby("customer_id")["order_ts"].min().dt.normalize()
    today = paid.loc[paid["order_ts"].dt.normalize() == day, "customer_id"].unique()
    expect = (first.reindex(today) < day).mean()
    assert b.loc[day, "repurchase"] == pytest.approx(expect)


# -- 2. RFM -------------------------------------------------------------------------------------------
def test_rfm_scores_by_hand():
    asof = pd.Timestamp("2026-11-01")
    summary = pd.DataFrame({"customer_id": list("abcde"),
                            "last_order_ts": asof - pd.to_timedelta([1, 2, 3, 4, 5], unit="D"),
                            "paid_orders": [5, 3, 2, 1, 1], "gmv": [500.0, 100.0, 300.0, 200.0, 50.0]})
    out = D.rfm_scores(summary, asof=asof).set_index("customer_id")
    # hand: recency reversed -> a (1 day) scores 5 ... e (5 days) 1
    assert list(out["r"]) == [5, 4, 3, 2, 1]
    # frequency ranks with ties at the lowest rank: 1,1 -> rank 1 (0.2 -> 1); 2 -> 3/5 -> 3; 3 -> 4; 5 -> 5
    assert list(out["f"]) == [5, 4, 3, 1, 1]
    assert list(out["m"]) == [5, 2, 4, 3, 1]
    assert out.loc["a", "rfm"] == "555" and out.loc["a", "segment"].startswith("Champions")
    assert out.loc["e", "segment"].startswith("Lost")
    assert out.loc["a", "recency_days"] == 1


def test_rfm_segments_vectorised_and_every_segment_has_an_action():
    r = np.array([5, 4, 5, 1, 2, 3, 2, 1, 3])
    f = np.array([5, 4, 1, 5, 4, 1, 1, 1, 4])
    m = np.array([5, 3, 1, 4, 3, 1, 1, 1, 3])
    seg = D.rfm_segments(r, f, m)
    assert [s.split()[0] for s in seg] == ["Champions", "Loyal", "New", "Can't", "At", "Need", "Hibernating",
                                           "Lost", "Loyal"]
    assert all(s in D.RFM_ACTIONS for s in seg)


def test_rfm_report_on_sample(data):
    res = D.rfm_report(data)
    assert res.customers["customer_id"].is_unique
    assert set(res.customers["r"]) == {1, 2, 3, 4, 5}
    assert res.segments["share"].sum() == pytest.approx(1.0)
    champions = res.customers.loc[res.customers["segment"].str.startswith("Champions")]
    assert champions["recency_days"].max() < res.customers["recency_days"].median()
    assert res.action_list["action"].notna().all()


# -- 3. A/B tests ----------------------------------------------------------------------------------------
def test_sample_size_matches_evan_miller():
    # Evan Miller's sample size calculator (https://www.evanmiller.org/ab-testing/sample-size.html):
    # baseline 20%, minimum detectable effect 5% absolute, power 80%, alpha 5% -> 1,030 per variation
    # (the formula gives 1,030.3; we round up)
    assert D.sample_size(0.20, 0.05) in (1030, 1031)
    # the rule of thumb n = 16 p (1 - p) / delta^2 per arm (alpha 0.05, power 0.8; van Belle,
    # "Statistical Rules of Thumb" 2.3, used by Kohavi, Tang and Xu, "Trustworthy Online Controlled
    # Experiments", ch. 17): 1,024 for 20% -> 25% and 51,733 for 3.0% -> 3.3%, within 1%
    assert D.sample_size(0.20, 0.05) == pytest.approx(16 * 0.2 * 0.8 / 0.05**2, rel=0.01)
    assert D.sample_size(0.03, 0.003) == pytest.approx(16 * 0.03 * 0.97 / 0.003**2, rel=0.01)
    # relative mde: 10% of 3% is the absolute 0.3 points
    assert D.sample_size(0.03, 0.10, relative=True) == D.sample_size(0.03, 0.003)
    # more power or a smaller effect needs more units
    assert D.sample_size(0.20, 0.05, power=0.9) > D.sample_size(0.20, 0.05)
    with pytest.raises(ValueError):
        D.sample_size(0.2, 0.0)


def test_srm_check_by_hand():
    assert D.srm_check([5000, 5000]) == pytest.approx(1.0)
    # hand: expected 5,150 each; chi2 = 2 x 150^2 / 5,150 = 8.738 -> p = 0.0031
    assert D.srm_check([5000, 5300]) == pytest.approx(stats.chi2.sf(2 * 150**2 / 5150, 1))
    assert D.srm_check([5000, 5300]) == pytest.approx(0.00312, abs=2e-5)


def _experiment(n0, k0, n1, k1, exp="t1"):
    rows = pd.DataFrame({"experiment_id": exp, "unit_id": [f"u{i}" for i in range(n0 + n1)],
                         "variant": ["control"] * n0 + ["treatment"] * n1,
                         "converted": [1] * k0 + [0] * (n0 - k0) + [1] * k1 + [0] * (n1 - k1)})
    return rows


def test_ab_readout_by_hand():
    e = _experiment(1000, 100, 1000, 130)
    r = D.ab_readout(e, mde_relative=0.5).iloc[0]
    # hand: diff 0.03; unpooled se = sqrt(.1*.9/1000 + .13*.87/1000) = 0.014251 -> CI 0.00207 .. 0.05793
    assert r["diff"] == pytest.approx(0.03)
    assert r["diff_low"] == pytest.approx(0.00207, abs=1e-4)
    assert r["diff_high"] == pytest.approx(0.05793, abs=1e-4)
    # pooled p = 0.115, se = 0.014267, z = 2.1027 -> p = 0.0355
    assert r["p_value"] == pytest.approx(0.0355, abs=5e-4)
    assert r["srm_p"] == pytest.approx(1.0)
    # planned size for 10% -> 15%: (Evan Miller formula) 683 per arm; 1,000 > 683: not too early
    assert r["planned_per_arm"] == D.sample_size(0.10, 0.5, relative=True)
    assert r["verdict"] == "treatment wins" and r["warning"] == ""


def test_ab_readout_warns_before_planned_size_and_on_srm():
    early = D.ab_readout(_experiment(300, 30, 300, 45), mde_relative=0.10).iloc[0]
    assert early["verdict"] == "too early" and "planned size" in early["warning"]
    srm = D.ab_readout(_experiment(5000, 500, 5400, 540), mde_relative=0.5).iloc[0]
    assert srm["verdict"] == "invalid (SRM)"


def test_cuped_keeps_the_effect_and_narrows_the_interval():
    rng = np.random.default_rng(1)
    n = 4000
    pre = rng.gamma(2.0, 20.0, size=2 * n)
    treat = np.r_[np.zeros(n), np.ones(n)]
    revenue = 0.8 * pre + 3.0 * treat + rng.normal(0, 15, size=2 * n)
    e = pd.DataFrame({"experiment_id": "x", "unit_id": np.arange(2 * n).astype(str),
                      "variant": np.where(treat == 1, "treatment", "control"),
                      "converted": (revenue > 40).astype(int), "revenue": revenue, "pre_metric": pre})
    r = D.ab_readout(e, mde_relative=0.5).iloc[0]
    assert r["cuped_diff"] == pytest.approx(3.0, abs=1.0)
    assert (r["cuped_high"] - r["cuped_low"]) < 0.7 * (r["rpu_high"] - r["rpu_low"])
    assert r["variance_reduction"] > 0.5


def test_sample_experiments(data):
    res = D.ab_report(data)
    r = res.readout.set_index("experiment_id")
    assert r.loc["one_page_checkout", "p_value"] < 0.001
    assert r.loc["one_page_checkout", "verdict"] == "treatment wins"
    assert r.loc["one_page_checkout", "diff_low"] > 0
    assert r.loc["banner_color", "p_value"] > 0.05
    assert r.loc["banner_color", "verdict"] == "no detectable difference"
    assert (r["srm_p"] > 0.01).all()  # balanced arms
    assert (r["variance_reduction"] > 0.05).all()  # pre_metric correlates with revenue
    assert res.significant == 1


def test_experiments_absent_before_they_ran():
    data = playbook.load(SAMPLES, month="2025-06", tables=["orders", "experiments"])
    res = D.ab_report(data)
    assert res.readout is None and res.note
    assert "note" in res.view.columns


# -- 4. Funnel ------------------------------------------------------------------------------------------
def test_funnel_table_by_hand():
    day = pd.Timestamp("2026-10-01")
    traffic = pd.DataFrame({"date": [day, day], "channel": ["a", "b"], "visitors": [1000, 500],
                            "product_views": [600, 200], "add_to_cart": [100, 50], "checkouts": [50, 20]})
    orders = pd.DataFrame({"order_id": ["1", "2", "3", "4"], "customer_id": ["x", "y", "z", "w"],
                           "order_ts": [day] * 4, "paid_amount": [10.0] * 4, "channel": ["a", "a", "a", "b"],
                           "status": ["paid", "paid", "cancelled", "paid"]})
    t = D.funnel_table(traffic, orders, start="2026-10-01", end="2026-11-01", by=("channel",)).set_index("channel")
    assert t.loc["a", "paid_orders"] == 2  # the cancelled order does not count
    assert t.loc["a", "rate_product_views"] == pytest.approx(0.6)
    assert t.loc["b", "rate_add_to_cart"] == pytest.approx(0.25)
    assert t.loc["a", "rate_paid_orders"] == pytest.approx(2 / 50)
    assert t.loc["b", "conversion"] == pytest.approx(1 / 500)
    shop = D.funnel_table(traffic, orders, start="2026-10-01", end="2026-11-01", by=())
    gaps = D.funnel_gaps(t.reset_index(), shop, by=("channel",), top=1)
    # hand: shop view rate 800/1500 = 0.5333; b's 0.4 -> gap 0.1333 x 500 entering x (1 paid / 200 views)
    assert gaps.iloc[0]["channel"] == "b" and gaps.iloc[0]["step"] == "visitors -> product_views"
    assert gaps.iloc[0]["lost_orders"] == pytest.approx(500 * (800 / 1500 - 0.4) / 200)


def test_outage_month_funnel_leaks_at_payment(september):
    res = D.funnel_report(september)
    # the payment outage of 2026-09-17 shows as the checkout -> paid step falling in most channels
    assert (res.leaks["step_fell_most"] == "paid_orders").sum() >= 4


# -- 5. Attribution --------------------------------------------------------------------------------------
def _paths(spec):
    """spec: list of (channels, converted, value)."""
    rows = []
    for i, (chs, conv, value) in enumerate(spec):
        for j, ch in enumerate(chs):
            rows.append({"path_id": f"p{i}", "customer_id": f"c{i}", "ts": pd.Timestamp("2026-10-01") + pd.Timedelta(hours=j),
                         "channel": ch, "step": j, "n_steps": len(chs), "converted": conv, "value": value})
    return pd.DataFrame(rows)


def test_rule_based_attribution_by_hand():
    paths = _paths([(["xhs", "douyin", "tmall"], True, 100.0), (["jd"], True, 50.0), (["xhs"], False, 0.0)])
    r = D.rule_based_attribution(paths).set_index(["model", "channel"])
    assert r.loc[("first_touch", "xhs"), "revenue"] == 100
    assert r.loc[("last_touch", "tmall"), "revenue"] == 100
    assert r.loc[("linear", "douyin"), "conversions"] == pytest.approx(1 / 3)
    assert r.loc[("position_based", "xhs"), "conversions"] == pytest.approx(0.4)
    assert r.loc[("position_based", "douyin"), "revenue"] == pytest.approx(20.0)
    assert r.loc[("position_based", "jd"), "conversions"] == pytest.approx(1.0)
    for model in ("first_touch", "last_touch", "linear", "position_based"):
        assert r.loc[model, "conversions"].sum() == pytest.approx(2.0)


def test_markov_removal_effects_by_hand():
    # start -> A (1/2) -> conversion; start -> B (1/2) -> null: P(conv) = 1/2; removing A gives 0
    # (effect 1), removing B changes nothing (effect 0)
    m = D.markov_attribution(_paths([(["A"], True, 10.0), (["B"], False, 0.0)])).set_index("channel")
    assert m.loc["A", "removal_effect"] == pytest.approx(1.0)
    assert m.loc["B", "removal_effect"] == pytest.approx(0.0)
    # A -> B -> conversion and A -> null: both are needed, effects 1 and 1, credit 50/50
    m = D.markov_attribution(_paths([(["A", "B"], True, 10.0), (["A"], False, 0.0)])).set_index("channel")
    assert m["removal_effect"].tolist() == pytest.approx([1.0, 1.0])
    assert m["conversions"].tolist() == pytest.approx([0.5, 0.5])
    # two routes: start -> A -> conv, start -> B -> A -> conv, start -> B -> null
    # P(conv) = 1/3 + 2/3 x 1/2 = 2/3; without A: 0 (effect 1); without B: 1/3 (effect 1/2)
    m = D.markov_attribution(_paths([(["A"], True, 1.0), (["B", "A"], True, 1.0), (["B"], False, 0.0)]))
    m = m.set_index("channel")
    assert m.loc["A", "removal_effect"] == pytest.approx(1.0)
    assert m.loc["B", "removal_effect"] == pytest.approx(0.5)
    assert m.loc["A", "share"] == pytest.approx(2 / 3)


def test_attribution_paths_link_touchpoints_to_the_next_order():
    tp = pd.DataFrame({"customer_id": ["c1", "c1", "c1", "c2", "c3"],
                       "ts": pd.to_datetime(["2026-09-20", "2026-10-02", "2026-10-04", "2026-10-05", "2026-08-01"]),
                       "channel": ["xhs", "douyin", "tmall", "jd", "tmall"]})
    orders = pd.DataFrame({"order_id": ["o1", "o2"], "customer_id": ["c1", "c3"],
                           "order_ts": pd.to_datetime(["2026-10-05", "2026-10-20"]), "paid_amount": [100.0, 50.0],
                           "status": "paid"})
    p = D.attribution_paths(tp, orders, start="2026-10-01", end="2026-11-01", lookback_days=30)
    conv = p.loc[p["converted"]]
    # c1's three touches (the first 15 days before) lead to o1; c3's touch is 80 days old: not linked
    assert list(conv["channel"]) == ["xhs", "douyin", "tmall"]
    assert set(conv["n_steps"]) == {3}
    lost = p.loc[~p["converted"]]
    assert list(lost["customer_id"]) == ["c2"]


def test_sample_attribution_is_deterministic_and_complete(data):
    a1 = D.attribution_report(data)
    a2 = D.attribution_report(data)
    pd.testing.assert_frame_equal(a1.table, a2.table)
    t = a1.table.set_index("channel")
    for model in ("first_touch", "last_touch", "linear", "position_based", "markov"):
        assert t[f"share_{model}"].sum() == pytest.approx(1.0)
        assert t[model].sum() == pytest.approx(t["last_touch"].sum())  # every model shares the same revenue
    # xiaohongshu opens journeys (content seeding): more credit first-touch than last-touch
    assert t.loc["xiaohongshu", "share_first_touch"] > t.loc["xiaohongshu", "share_last_touch"]


# -- 6. Review -------------------------------------------------------------------------------------------
def test_gmv_drivers_add_up_exactly():
    cur = pd.DataFrame({"visitors": [1100.0], "conversion": [0.04], "aov": [300.0]})
    cur["gmv"] = cur["visitors"] * cur["conversion"] * cur["aov"]
    prev = pd.DataFrame({"visitors": [1000.0], "conversion": [0.03], "aov": [310.0]})
    prev["gmv"] = prev["visitors"] * prev["conversion"] * prev["aov"]
    d = D.gmv_drivers(cur, prev)
    assert d.sum(axis=1).iloc[0] == pytest.approx(cur["gmv"].iloc[0] - prev["gmv"].iloc[0])
    assert d["aov"].iloc[0] < 0 < d["conversion"].iloc[0]
    # hand: ln(1.1) / ln(13200/9300) share of 3,900
    assert d["visitors"].iloc[0] == pytest.approx(3900 * np.log(1.1) / np.log(13200 / 9300))


def test_review_table_on_sample(data):
    t = D.review_table(data, top=5)
    assert set(t["direction"]) <= {"up", "down"}
    assert (t.loc[t["direction"] == "up", "change"] >= 0).all()
    shop_gmv = t.loc[(t["scope"] == "shop") & (t["metric"] == "gmv")]
    assert len(shop_gmv) == 1 and shop_gmv["why"].iloc[0].startswith("driven by")
    week = D.review_table(data, period="week", top=3)
    assert week["period"].iloc[0].startswith("week 10-19..10-25")


# -- a source without the optional tables ---------------------------------------------------------------
def test_orders_only_source_skips_with_notes(tmp_path):
    shutil.copy(SAMPLES / "orders.csv.gz", tmp_path / "orders.csv.gz")
    data = playbook.load(tmp_path, month="2026-10")
    assert not data.has("traffic")
    record = pack.ChapterRecord("06_data_ops", month="2026-10")
    board = D.kpi_board(data, record=record)
    assert board.note and board.summary_view is not None
    assert D.funnel_report(data, record=record).note
    assert D.ab_report(data, record=record).note
    assert D.attribution_report(data, record=record).note
    assert D.rfm_report(data, record=record).segments is not None
    assert len(D.review_table(data)) > 0
    assert len(record.skipped) == 4


def test_ab_readout_ignores_rows_without_experiment_or_variant():
    e = pd.concat([_experiment(1000, 100, 1000, 130), _experiment(400, 40, 400, 40, exp="t2")], ignore_index=True)
    e["revenue"] = np.where(e["converted"] == 1, 50.0, 0.0)
    stray = pd.DataFrame({"experiment_id": [None, "t1"], "unit_id": ["s1", "s2"], "variant": ["treatment", None],
                          "converted": [1, 1], "revenue": [999.0, 999.0]})
    clean = D.ab_readout(e, mde_relative=0.5)
    mixed = D.ab_readout(pd.concat([e, stray], ignore_index=True), mde_relative=0.5)
    assert mixed["experiment_id"].tolist() == ["t1", "t2"]
    pd.testing.assert_frame_equal(mixed, clean)


# -- integer-code paths ------------------------------------------------------------------------------
def test_paid_order_counts_by_hand_and_funnel_from_them():
    orders = pd.DataFrame({
        "order_ts": pd.to_datetime(["2026-10-01 09:00", "2026-10-01 20:00", "2026-10-01 10:00", "2026-10-02 08:00",
                                    "2026-10-02 09:00", "2026-09-30 23:00"]),
        "status": ["paid", "refunded", "paid", "paid", "cancelled", "paid"],
        "channel": ["tmall", "tmall", "jd", None, "jd", "jd"],
        "device": ["app", "app", "pc", "app", "pc", "pc"]})
    pc = D.paid_order_counts(orders)
    # 09-30 jd/pc 1; 10-01 tmall/app 2 (a refunded order was paid), jd/pc 1; 10-02 no channel/app 1
    # (the cancelled one is not counted)
    assert pc.assign(date=pc["date"].dt.strftime("%m-%d")).fillna("-").values.tolist() == [
        ["09-30", "jd", "pc", 1], ["10-01", "tmall", "app", 2], ["10-01", "jd", "pc", 1], ["10-02", "-", "app", 1]]
    traffic = pd.DataFrame({"date": pd.to_datetime(["2026-10-01", "2026-10-01", "2026-10-02"]),
                            "channel": ["tmall", "jd", "tmall"], "device": ["app", "pc", "app"],
                            "visitors": [100, 50, 80]})
    for by in (("channel",), ("channel", "device"), ()):
        plain = D.funnel_table(traffic, orders, start="2026-10-01", end="2026-11-01", by=by)
        fast = D.funnel_table(traffic, orders, start="2026-10-01", end="2026-11-01", by=by, paid_counts=pc)
        pd.testing.assert_frame_equal(fast, plain)
    shop = D.funnel_table(traffic, orders, start="2026-10-01", end="2026-11-01", by=(), paid_counts=pc)
    assert shop["paid_orders"].iloc[0] == 4.0  # the 09-30 order is outside


def test_rfm_action_list_order_by_hand():
    asof = pd.Timestamp("2026-11-01")
    summary = pd.DataFrame({"customer_id": list("abcdef"),
                            "last_order_ts": asof - pd.to_timedelta([1, 1, 300, 2, 250, 1], unit="D"),
                            "paid_orders": [5, 5, 1, 4, 1, 5], "gmv": [100.0, 300.0, 10.0, 200.0, 20.0, 300.0]})
    cust = D.rfm_scores(summary, asof=asof)
    res = D.RfmResult(cust, None)
    al = res.action_list
    # segments in RFM_ACTIONS order, then GMV from the largest; b and f tie (300) and keep their order
    order = {s: i for i, s in enumerate(D.RFM_ACTIONS)}
    expect = cust.assign(o=cust["segment"].map(order), g=-cust["monetary"]).sort_values(["o", "g"], kind="stable")
    assert al["customer_id"].tolist() == expect["customer_id"].tolist()
    assert al["customer_id"].tolist()[:2] == ["b", "f"]
    assert (al["action"] == al["segment"].map(D.RFM_ACTIONS)).all()
    # the same list with the segment codes kept by rfm_report
    codes = pd.Categorical(cust["segment"], categories=list(D.RFM_ACTIONS)).codes
    pd.testing.assert_frame_equal(D.RfmResult(cust, None, segment_codes=codes).action_list, al)


def test_prepared_folder_reads_only_the_chapters_columns(data, tmp_path):
    from playbook.loading import prepare

    prepared = playbook.load(prepare(data, tmp_path / "prep"), month="2026-10")
    exp = D._table(prepared, "experiments")
    assert "unit_id" not in exp.columns and prepared.table_file("experiments") is not None
    pd.testing.assert_frame_equal(D.ab_report(prepared).readout, D.ab_report(data).readout)
    pd.testing.assert_frame_equal(D.daily_board(prepared), D.daily_board(data))
    assert prepared.table_file("orders") is not None  # the whole orders table was never read


def test_with_columns_reads_only_the_missing_columns(tmp_path):
    pd.DataFrame({"order_id": ["o1", "o2", "o3"], "paid_amount": [1.0, 2.0, 3.0],
                  "customer_id": ["c1", "c2", "c1"]}).to_parquet(tmp_path / "orders.parquet", index=False)
    data = _Prepared({"orders": tmp_path / "orders.parquet"})
    frame = pd.read_parquet(tmp_path / "orders.parquet", columns=["paid_amount"])
    out = D._with_columns(data, "orders", frame, ["order_id", "paid_amount", "city"])  # no city in the file
    assert list(out.columns) == ["paid_amount", "order_id"] and out["order_id"].tolist() == ["o1", "o2", "o3"]
    assert list(frame.columns) == ["paid_amount"]  # the frame read for the chapter is left as it was


def test_ab_report_on_codes_matches_ab_readout(data):
    r = D.ab_report(data).readout
    want = D.ab_readout(data["experiments"])
    pd.testing.assert_frame_equal(r, want, check_exact=True)


def test_sections_on_a_prepared_folder_keep_no_large_table(data, tmp_path):
    """Every section reads the columns (and, for a window, the rows) it needs for its own use: the
    results equal the in-memory dataset's, and orders, experiments and touchpoints stay files."""
    from playbook.loading import prepare

    prepared = playbook.load(prepare(data, tmp_path / "prep"), month="2026-10")
    pd.testing.assert_frame_equal(D.kpi_board(prepared).days, D.kpi_board(data).days)
    rfm, rfm_mem = D.rfm_report(prepared), D.rfm_report(data)
    pd.testing.assert_frame_equal(rfm.customers, rfm_mem.customers)
    pd.testing.assert_frame_equal(rfm.action_list, rfm_mem.action_list)
    pd.testing.assert_frame_equal(D.ab_report(prepared).readout, D.ab_report(data).readout)
    f, f_mem = D.funnel_report(prepared), D.funnel_report(data)
    pd.testing.assert_frame_equal(f.month, f_mem.month)
    pd.testing.assert_frame_equal(f.leaks, f_mem.leaks)
    att, att_mem = D.attribution_report(prepared), D.attribution_report(data)
    pd.testing.assert_frame_equal(att.paths, att_mem.paths)
    pd.testing.assert_frame_equal(att.table, att_mem.table)
    for period in ("month", "week"):
        pd.testing.assert_frame_equal(D.review_table(prepared, period=period), D.review_table(data, period=period))
    for name in ("orders", "experiments", "touchpoints"):
        assert prepared.table_file(name) is not None, name  # never read whole
        assert not prepared._partial.get(name), name  # and no columns kept


def test_paid_counts_of_a_prepared_file_from_dictionary_codes(tmp_path):
    # the same orders as test_paid_order_counts_by_hand_and_funnel_from_them, plus a missing status
    # (paid) and a missing device; the file's codes sort the values (jd before tmall), the counts
    # number them in order of first appearance, as pd.factorize does
    orders = pd.DataFrame({
        "order_ts": pd.to_datetime(["2026-10-01 09:00", "2026-10-01 20:00", "2026-10-01 10:00", "2026-10-02 08:00",
                                    "2026-10-02 09:00", "2026-09-30 23:00", "2026-10-02 10:00"]),
        "status": ["paid", "refunded", "paid", "paid", "cancelled", "paid", None],
        "channel": ["tmall", "tmall", "jd", None, "jd", "jd", "jd"],
        "device": ["app", "app", "pc", "app", "pc", "pc", None]})
    orders.to_parquet(tmp_path / "orders.parquet", index=False)
    data = _Prepared({"orders": tmp_path / "orders.parquet"})
    pc = D._paid_counts(data)
    # first appearance: tmall before jd, app before pc; 10-02: the no-channel app order, then jd with no device
    assert pc.assign(date=pc["date"].dt.strftime("%m-%d")).fillna("-").values.tolist() == [
        ["09-30", "jd", "pc", 1], ["10-01", "tmall", "app", 2], ["10-01", "jd", "pc", 1], ["10-02", "-", "app", 1],
        ["10-02", "jd", "-", 1]]
    pd.testing.assert_frame_equal(pc, D.paid_order_counts(orders))


# -- large shops: a prepared file read a part at a time gives what the whole table gives ------------------
class _PreparedWithSummary(_Prepared):
    """A prepared stand-in with a customer summary (a frame) for the daily board's repurchase."""

    def __init__(self, files: dict, summary: pd.DataFrame):
        super().__init__(files)
        self.summary = summary

    def derived(self, name):
        assert name == "customer_summary"
        return self.summary


def _orders_by_hand() -> pd.DataFrame:
    # c1 buys on 10-01 (first), twice on 10-02 (one buyer, a repeat), c2 on 10-02 (first) and on 10-03
    # (a repeat) with a cancelled order on 10-01 that is not a purchase; c3 pays on 10-03 without
    # channel, and an order without stamp or customer is left out of the buyers
    return pd.DataFrame({
        "order_id": [f"o{i}" for i in range(9)],
        "customer_id": ["c1", "c2", "c1", "c1", "c2", "c2", "c3", "c1", None],
        "order_ts": pd.to_datetime(["2026-10-01 09:00", "2026-10-01 10:00", "2026-10-02 08:00", "2026-10-02 20:00",
                                    "2026-10-02 21:00", "2026-10-03 07:00", "2026-10-03 08:00", None,
                                    "2026-10-03 09:00"]),
        "status": ["paid", "cancelled", "paid", "refunded", "paid", "paid", "paid", "paid", "paid"],
        "channel": ["tmall", "jd", "tmall", "jd", "jd", "tmall", None, "jd", "jd"],
        "device": ["app", "pc", "app", "app", "pc", "app", "pc", "pc", "app"]})


def _summary_of(orders: pd.DataFrame) -> pd.DataFrame:
    paid = orders.loc[orders["status"].ne("cancelled") & orders["customer_id"].notna()]
    return (paid.groupby("customer_id")["order_ts"].min().rename("first_order_ts").reset_index()
            .sort_values("customer_id", ignore_index=True))


@pytest.mark.parametrize("groups", [1, 4])
def test_orders_pass_counts_buyers_once_per_day_across_row_groups(tmp_path, monkeypatch, groups):
    orders = _orders_by_hand()
    orders.to_parquet(tmp_path / "orders.parquet", index=False, row_group_size=2)  # a day split over groups
    data = _PreparedWithSummary({"orders": tmp_path / "orders.parquet"}, _summary_of(orders))
    monkeypatch.setattr(D, "PASS_GROUPS", groups)
    counts, buyers = D._orders_pass(data, repurchase=True)
    # by hand: 10-01 c1 (first); 10-02 c1 (repeat: first order on 10-01) and c2 (first: its 10-01 order
    # was cancelled); 10-03 c2 (repeat) and c3 (first)
    assert buyers["size"].tolist() == [1, 2, 2] and buyers["sum"].tolist() == [0, 1, 1]
    assert buyers.index.strftime("%m-%d").tolist() == ["10-01", "10-02", "10-03"]
    # the whole-column computation agrees, and so do the paid counts (channel, device in order of appearance)
    pd.testing.assert_frame_equal(buyers, D._buyers_whole(_PreparedWithSummary(
        {"orders": tmp_path / "orders.parquet"}, _summary_of(orders))), check_freq=False)
    pd.testing.assert_frame_equal(counts, D.paid_order_counts(orders))
    assert counts["n"].sum() == 7  # eight paid orders, one without stamp


def test_orders_pass_gives_way_when_a_buyer_is_not_in_the_summary_or_time_goes_back(tmp_path):
    orders = _orders_by_hand()
    orders.to_parquet(tmp_path / "orders.parquet", index=False, row_group_size=2)
    summary = _summary_of(orders)
    assert D._orders_pass(_PreparedWithSummary({"orders": tmp_path / "orders.parquet"},
                                               summary.iloc[:2]), repurchase=True) is None  # no c3
    shuffled = orders.iloc[[6, 5, 0, 1, 2, 3, 4, 7, 8]]
    shuffled.to_parquet(tmp_path / "late.parquet", index=False, row_group_size=2)
    data = _PreparedWithSummary({"orders": tmp_path / "late.parquet"}, summary)
    old = D.PASS_GROUPS
    try:
        D.PASS_GROUPS = 1
        assert D._orders_pass(data, repurchase=True) is None  # 10-03 before 10-01: not in time order
    finally:
        D.PASS_GROUPS = old
    # without repurchase the counts need no order
    pd.testing.assert_frame_equal(D._orders_pass(data, repurchase=False)[0], D.paid_order_counts(shuffled))


def test_column_codes_by_row_group_match_the_shared_ones(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from playbook.derived import column_codes

    values = ["exp_b", "exp_a", None, "exp_b", "exp_c", "zz"]  # "zz" only on the dropped row
    table = pa.table({"experiment_id": pa.array(values, type=pa.large_string())}).slice(0, 5)
    pq.write_table(table, tmp_path / "experiments.parquet", row_group_size=2)
    codes, uniques = D._column_codes(_Prepared({"experiments": tmp_path / "experiments.parquet"}),
                                     "experiments", "experiment_id")
    want, want_uniques = column_codes(_Prepared({"experiments": tmp_path / "experiments.parquet"}),
                                      "experiments", "experiment_id")
    assert codes.tolist() == [1, 0, -1, 1, 2] and codes.dtype == want.dtype == np.int8
    pd.testing.assert_index_equal(uniques, want_uniques, exact=True)


def test_ab_readout_one_experiment_at_a_time_from_a_file_is_exact(data, tmp_path):
    """The readout of a prepared file, read one experiment at a time in row groups of a few hundred
    units, equals the readout of the whole frame to the last bit, with units lacking pre-period
    data, a variant or an experiment."""
    exp = data["experiments"].copy()
    rng = np.random.default_rng(3)
    exp.loc[rng.random(len(exp)) < 0.05, "pre_metric"] = np.nan
    exp.loc[rng.random(len(exp)) < 0.01, "variant"] = None
    exp.loc[rng.random(len(exp)) < 0.01, "experiment_id"] = None
    exp.to_parquet(tmp_path / "experiments.parquet", index=False, row_group_size=700)
    prepared = _Prepared({"experiments": tmp_path / "experiments.parquet"})
    units = D._ExperimentUnits(file=tmp_path / "experiments.parquet")
    assert units.direct and units.rows == len(exp)
    arms: dict = {}
    got = D._ab_readout(units, alpha=0.05, power=0.8, mde_relative=0.1, srm_p=0.001, planned=None,
                        codes=D._experiment_codes(prepared), arms_out=arms)
    want = D.ab_readout(exp)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got["variance_reduction"].notna().all() and len(arms["codes"]) == 4


def test_rfm_report_keeps_compact_columns_and_builds_the_same_customers(data):
    res = D.rfm_report(data)
    assert res.has_customers() and isinstance(res, D.RfmResult)
    summary = data.derived("customer_summary")
    summary = summary.loc[summary["last_order_ts"] < data.end]
    cust = D.rfm_scores(summary, asof=data.end)
    pd.testing.assert_frame_equal(res.customers, cust, check_exact=True)
    # the action list and the scores of the compact columns are those of the frame
    plain = D.RfmResult(cust, res.segments)
    pd.testing.assert_frame_equal(res.action_list, plain.action_list, check_exact=True)
    for a, b in zip(res.rf_scores(), plain.rf_scores()):
        np.testing.assert_array_equal(a, b)
    assert res.segment_codes.dtype == np.int64 and len(res.segment_codes) == len(cust)
    # a frame set later replaces the compact columns
    res.customers = cust.iloc[:3]
    assert len(res.customers) == 3 and len(res.action_list) == 3


def test_ab_readout_from_a_file_of_other_types_goes_through_pandas(tmp_path):
    # a zoned assignment stamp and a boolean conversion: not read straight into numpy, same readout
    e = _experiment(400, 60, 420, 80)
    e["revenue"] = np.where(e["converted"] == 1, 100.0, 0.0)
    e["converted"] = e["converted"].astype(bool)
    e["assigned_ts"] = pd.date_range("2026-10-01", periods=len(e), freq="min", tz="Asia/Shanghai")
    e.to_parquet(tmp_path / "experiments.parquet", index=False, row_group_size=300)
    units = D._ExperimentUnits(file=tmp_path / "experiments.parquet")
    assert not units.direct
    codes = D._experiment_codes(_Prepared({"experiments": tmp_path / "experiments.parquet"}))
    got = D._ab_readout(units, alpha=0.05, power=0.8, mde_relative=0.5, srm_p=0.001, planned=None, codes=codes)
    pd.testing.assert_frame_equal(got, D.ab_readout(e, mde_relative=0.5), check_exact=True)
    assert got.loc[0, "n_control"] == 400 and got.loc[0, "conv_treatment"] == pytest.approx(80 / 420)
