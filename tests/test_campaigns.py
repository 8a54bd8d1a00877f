"""Chapter 05 campaigns: lunar calendar, lift against a weekday baseline, campaign types, presale,
coupons and 满减 bunching, A/B tests; hand-built tables (answers worked out by hand in the comments)
and the sample shop's planted 2025 双11 lift and dip."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import playbook
from playbook import campaigns as C
from playbook import exercises
from playbook.samples import PLANTED_EVENTS

ROOT = Path(__file__).resolve().parent.parent
PE = PLANTED_EVENTS["campaign_lift"]


@pytest.fixture(scope="module")
def data():
    return playbook.load(ROOT / "data/samples", month="2026-10")


@pytest.fixture(scope="module")
def lift(data):
    return C.lift_report(data)


# -- the lunar calendar --------------------------------------------------------------------------

@pytest.mark.parametrize("festival,year,day", [
    ("spring_festival", 2025, "2025-01-29"), ("spring_festival", 2026, "2026-02-17"),
    ("spring_festival", 2020, "2020-01-25"), ("spring_festival", 2035, "2035-02-08"),
    ("mid_autumn", 2025, "2025-10-06"), ("mid_autumn", 2026, "2026-09-25"), ("mid_autumn", 2020, "2020-10-01"),
    ("mid_autumn", 2024, "2024-09-17"), ("qixi", 2025, "2025-08-29"), ("qixi", 2026, "2026-08-19"),
    ("qixi", 2024, "2024-08-10"), ("lantern", 2026, "2026-03-03"),
])
def test_lunar_festivals_known_dates(festival, year, day):
    # published dates of 春节, 中秋, 七夕 and 元宵
    assert C.lunar_festival_date(festival, year) == pd.Timestamp(day)


def test_lunar_tables_start_on_new_moons():
    # every lunar month starts on the day of the new moon (Beijing time): within a day of the
    # astronomical new moon; month 8 starts 29 or 30 days after month 7 (no leap month between
    # them in 2019-2036); the spring festival falls between 01-21 and 02-20
    for table in (C.SPRING_FESTIVAL, C.LUNAR_MONTH7, C.LUNAR_MONTH8):
        for year, day in table.items():
            d = pd.Timestamp(day)
            nm = C.mean_new_moon(d)
            assert abs((nm.normalize() - d).days) <= 1, (year, day, nm)
    for year in C.LUNAR_MONTH7:
        gap = (pd.Timestamp(C.LUNAR_MONTH8[year]) - pd.Timestamp(C.LUNAR_MONTH7[year])).days
        assert gap in (29, 30), year
        sf = pd.Timestamp(C.SPRING_FESTIVAL[year])
        assert pd.Timestamp(f"{year}-01-21") <= sf <= pd.Timestamp(f"{year}-02-20")
    years = sorted(C.SPRING_FESTIVAL)
    for a, b in zip(years, years[1:]):  # a lunar year is 12 or 13 months: 354-384 days
        assert 353 <= (pd.Timestamp(C.SPRING_FESTIVAL[b]) - pd.Timestamp(C.SPRING_FESTIVAL[a])).days <= 385
    with pytest.raises(KeyError):
        C.lunar_festival_date("qixi", 2040)


def test_member_days_and_calendar():
    # first Tuesdays: 2026-11-03, 2026-12-01 (hand: 2026-11-01 is a Sunday)
    assert [d.strftime("%Y-%m-%d") for d in C.member_days("2026-11-01", "2026-12-31")] == ["2026-11-03", "2026-12-01"]
    cal = C.festival_calendar("2026-11-01", "2027-01-31")
    got = dict(zip(cal["festival"] + cal["start"].dt.strftime(" %m"), cal["start"].dt.strftime("%Y-%m-%d")))
    # 11-03 and 11-10 fall in 双11 (10-31..11-11), 11-17 in its ten-day hangover: moved to 11-24
    assert got["member_day 11"] == "2026-11-24"
    assert got["member_day 12"] == "2026-12-01"
    assert set(cal["festival"]) == {"double11", "double12", "member_day", "new_year_goods"}
    nyg = cal.loc[cal["festival"] == "new_year_goods"].iloc[0]
    assert nyg["day"] == pd.Timestamp("2027-02-06") and nyg["end"] < nyg["day"]
    summer = C.festival_calendar("2026-07-01", "2026-09-30")
    assert {"qixi", "mid_autumn"} <= set(summer["festival"]) and "national_day" not in set(summer["festival"])
    assert summer.loc[summer["festival"] == "qixi", "day"].iloc[0] == pd.Timestamp("2026-08-19")


# -- lift ----------------------------------------------------------------------------------------

def test_weekday_baseline_by_hand():
    # baseline: Mon-Fri 10, Sat-Sun 20 -> the next week expects the same
    base = pd.Series([10.0] * 5 + [20.0] * 2, index=pd.date_range("2026-01-05", periods=7))
    exp = C.weekday_baseline(base, pd.date_range("2026-01-12", periods=7))
    assert exp.tolist() == [10.0] * 5 + [20.0] * 2


def _synthetic_daily():
    # 100 orders on weekdays, 130 on weekends; a festival: pre 12 days x0.8, main 5 days x2, post 10 days x0.8
    days = pd.date_range("2026-01-01", "2026-06-30")
    base = np.where(days.day_of_week >= 5, 130.0, 100.0)
    mult = np.ones(len(days))
    main = (days >= "2026-05-01") & (days <= "2026-05-05")
    pre = (days >= "2026-04-19") & (days <= "2026-04-30")
    post = (days >= "2026-05-06") & (days <= "2026-05-15")
    mult[main], mult[pre], mult[post] = 2.0, 0.8, 0.8
    orders = base * mult
    daily = pd.DataFrame({"date": days, "channel": "tmall", "orders": orders, "gmv": orders * 300,
                          "presale_orders": 0.0, "presale_gmv": 0.0})
    camps = pd.DataFrame({"campaign_id": ["X1"], "name": ["五一大促"], "type": ["discount"],
                          "start_date": [pd.Timestamp("2026-05-01")], "end_date": [pd.Timestamp("2026-05-05")],
                          "channel": [None], "festival": ["may_day"]})
    return daily, camps


def test_campaign_lift_by_hand():
    daily, camps = _synthetic_daily()
    out = C.campaign_lift(daily, camps, baseline_days=28, pre_days=12, post_days=10, seasonal=False)
    by = out.set_index("phase")
    # the baseline (28 days before 04-19) is exactly 100/130 by weekday, so the lifts are the multipliers
    assert by.loc["main", "lift"] == pytest.approx(2.0)
    assert by.loc["pre", "lift"] == pytest.approx(0.8)
    assert by.loc["post", "lift"] == pytest.approx(0.8)
    assert by.loc["main", "gmv_lift"] == pytest.approx(2.0)
    # main: 3 weekdays (05-01 Fri, 05-04 Mon, 05-05 Tue) + Sat + Sun: expected 3*100 + 2*130 = 560
    assert by.loc["main", "expected_orders"] == pytest.approx(560.0)
    assert by.loc["main", "incremental_orders"] == pytest.approx(560.0)
    # net over the 27 days: (0.8*pre + 2*main + 0.8*post) / (pre + main + post)
    pre_e, post_e = by.loc["pre", "expected_orders"], by.loc["post", "expected_orders"]
    assert by.loc["net", "lift"] == pytest.approx((0.8 * pre_e + 1120 + 0.8 * post_e) / (pre_e + 560 + post_e))


def test_control_channels_by_hand():
    # a tmall-only campaign doubles tmall's orders; jd stays flat: lift 2 on tmall, control lift 1
    daily, camps = _synthetic_daily()
    flat = np.where(daily["date"].dt.day_of_week >= 5, 130.0, 100.0)
    main = daily["date"].between("2026-05-01", "2026-05-05")
    daily = daily.assign(orders=np.where(main, 2 * flat, flat))
    daily["gmv"] = daily["orders"] * 300
    jd = daily.assign(channel="jd", orders=flat, gmv=flat * 300)
    camps = camps.assign(channel="tmall", festival=None)
    out = C.campaign_lift(pd.concat([daily, jd]), camps, seasonal=False).set_index("phase")
    assert out.loc["main", "lift"] == pytest.approx(2.0)
    assert out.loc["main", "control_lift"] == pytest.approx(1.0)


def test_seasonal_index_by_hand():
    # two years of 100 a day; last year the weeks around 2025-03-01 sold 120: index 1.2
    days = pd.date_range("2024-11-01", "2026-03-31")
    s = pd.Series(100.0, index=days)
    s.loc["2025-02-01":"2025-03-31"] = 120.0
    valid = pd.Series(True, index=days)
    base = pd.date_range("2026-01-01", periods=28)  # last year: 2025-01-02 .. 01-29, at 100
    assert C.seasonal_index(s, valid, ("2026-03-01", "2026-03-07"), base) == pytest.approx(1.2)
    # no last year in the data: 1.0
    assert C.seasonal_index(s.loc["2025-06-01":], valid.loc["2025-06-01":], ("2026-03-01", "2026-03-07"), base) == 1.0


def test_campaign_events_group_presale_and_main():
    camps = pd.DataFrame({"campaign_id": ["P", "M", "D"], "name": ["预售", "主会场", "会员日"],
                          "type": ["presale", "full_reduction", "member_day"],
                          "start_date": pd.to_datetime(["2025-10-20", "2025-10-31", "2025-11-25"]),
                          "end_date": pd.to_datetime(["2025-10-30", "2025-11-11", "2025-11-25"]),
                          "festival": ["double11", "double11", None]})
    ev = C.campaign_events(camps).set_index("campaign_id")
    assert ev.loc["P", "event"] == ev.loc["M", "event"] == "2025 double11"
    assert ev.loc["D", "event"] == "D"
    assert ev.loc["P", "phase"] == "presale" and ev.loc["M", "phase"] == "main"
    assert ev.loc["M", "event_start"] == pd.Timestamp("2025-10-20")


def test_planted_double11_2025_recovered(lift):
    # README row 12: main about +80%, pre-dip and post-dip about -20%, ordinary presale orders about -35%
    rows = lift.lift.loc[lift.lift["event"] == "2025 double11"].set_index("phase")
    assert rows.loc["main", "campaign_id"] == PE["campaign_id"]
    assert rows.loc["presale", "campaign_id"] == PE["presale_campaign_id"]
    assert rows.loc["main", "start"] == pd.Timestamp(PE["main"][0])
    assert rows.loc["pre", "start"] == pd.Timestamp(PE["pre_dip"][0])
    assert rows.loc["post", "end"] == pd.Timestamp(PE["post_dip"][1])
    assert 1.6 <= rows.loc["main", "lift"] <= 2.0
    assert 0.7 <= rows.loc["pre", "lift"] <= 0.9
    assert 0.7 <= rows.loc["post", "lift"] <= 0.9
    assert 0.55 <= rows.loc["presale", "ordinary_lift"] <= 0.75
    assert rows.loc["presale", "lift"] > 1.0  # deposits on top
    assert lift.focus == "2025 double11"  # October: next is 双11, show last year's


def test_no_lift_where_nothing_was_planted(data):
    # ordinary fortnights without a campaign: within 12% of the baseline
    d = C.daily_sales(data["orders"]).groupby("date")["orders"].sum()
    for a, b in (("2025-09-08", "2025-09-21"), ("2025-04-14", "2025-04-27"), ("2026-08-10", "2026-08-23")):
        r = C.window_lift(d, a, b, baseline_days=28)
        assert 0.88 <= r["lift"] <= 1.12, (a, r["lift"])


def test_dips_only_around_the_big_festivals(lift):
    # a pre-period dip under 0.9 appears before 618 and 双11 only (and where the spring festival falls in it)
    pre = lift.lift.loc[(lift.lift["phase"] == "pre") & (lift.lift["note"] == "")]
    low = pre.loc[pre["lift"] < 0.9, "festival"]
    assert set(low) <= {"618", "double11"}
    assert {"618", "double11"} <= set(low)
    d12 = pre.loc[pre["festival"] == "double12", "lift"]
    assert len(d12.dropna()) and (d12.dropna() > 0.9).all()


# -- campaign types ------------------------------------------------------------------------------

def _orders_by_hand():
    orders = pd.DataFrame({
        "order_id": ["A", "B", "C", "D"], "customer_id": ["c1", "c2", "c1", "c3"],
        "order_ts": pd.to_datetime(["2026-01-02 10:00", "2026-01-02 11:00", "2026-03-01 10:00", "2026-03-01 12:00"]),
        "paid_ts": pd.to_datetime(["2026-01-02 10:01", "2026-01-02 11:01", "2026-03-01 10:01", "2026-03-01 12:01"]),
        "status": ["paid"] * 4, "paid_amount": [90.0, 180.0, 270.0, 100.0], "gross_amount": [100.0, 200.0, 300.0, 100.0],
        "discount_amount": [10.0, 20.0, 30.0, 0.0], "shipping_fee": [0.0, 0.0, 0.0, 0.0],
        "campaign_id": ["K1", "K1", "K2", None], "coupon_code": ["SHOP10", "", "", ""], "is_presale": [False] * 4})
    items = pd.DataFrame({"order_id": ["A", "B", "C", "D"], "sku": ["s", "s", "t", "s"], "qty": [1, 2, 1, 1],
                          "unit_price": [100.0, 100.0, 300.0, 100.0]})
    products = pd.DataFrame({"sku": ["s", "t"], "unit_cost": [40.0, 150.0]})
    camps = pd.DataFrame({"campaign_id": ["K1", "K2"], "name": ["满200减20", "新年折扣"], "type": ["full_reduction", "discount"],
                          "start_date": pd.to_datetime(["2026-01-01", "2026-03-01"]),
                          "end_date": pd.to_datetime(["2026-01-03", "2026-03-02"]), "channel": [None, None],
                          "festival": [None, None]})
    spend = pd.DataFrame({"campaign_id": ["K1", "K1", "K2"], "spend": [50.0, 50.0, 300.0]})
    return orders, items, products, camps, spend


def test_scorecard_by_hand():
    orders, items, products, camps, spend = _orders_by_hand()
    m = C.order_margins(orders, items, products).set_index("order_id")
    # A: 90 - 40 = 50; B: 180 - 80 = 100; C: 270 - 150 = 120
    assert m.loc[["A", "B", "C"], "margin"].tolist() == [50.0, 100.0, 120.0]
    first = pd.Series(pd.to_datetime(["2026-01-02 10:00", "2026-01-02 11:00", "2026-03-01 12:00"]), index=["c1", "c2", "c3"])
    sc = C.campaign_scorecard(orders, camps, margins=m.reset_index(), spend=spend, first_orders=first).set_index("campaign_id")
    # K1: margin 150 on spend 100 -> ROI 1.5; discount depth 30/300 = 10%; two new buyers of two
    assert sc.loc["K1", "roi"] == pytest.approx(1.5)
    assert sc.loc["K1", "discount_depth"] == pytest.approx(0.1)
    assert sc.loc["K1", "margin_rate"] == pytest.approx(150 / 270)
    assert sc.loc["K1", "new_buyer_share"] == pytest.approx(1.0)
    # K2: margin 120 on spend 300 -> ROI 0.4; c1 had bought before -> no new buyer
    assert sc.loc["K2", "roi"] == pytest.approx(0.4)
    assert sc.loc["K2", "new_buyer_share"] == pytest.approx(0.0)
    types = C.type_comparison(sc.reset_index()).set_index("type")
    assert types.loc["full_reduction", "roi"] == pytest.approx(1.5)
    assert types.index[0] == "full_reduction"  # sorted by ROI
    thr = C.full_reduction_thresholds(camps)
    assert thr[["threshold", "reduction", "source"]].iloc[0].tolist() == [200.0, 20.0, "name"]


def test_coupon_uptake_and_presale_by_hand():
    orders, *_ = _orders_by_hand()
    cu = C.coupon_uptake(orders).set_index("coupon_code")
    # one order of four with SHOP10 (90 yuan); AOV without a coupon (180+270+100)/3
    assert cu.loc["SHOP10", "share"] == pytest.approx(0.25)
    assert cu.loc["SHOP10", "aov_vs_none"] == pytest.approx(90 / (550 / 3) - 1)
    o = orders.assign(is_presale=[True, False, False, False],
                      paid_ts=pd.to_datetime(["2026-01-04 10:00", "2026-01-02 11:01", "2026-03-01 10:01", "2026-03-01 12:01"]))
    ev = pd.DataFrame({"event": ["E", "E"], "phase": ["presale", "main"], "campaign_id": ["P", "M"],
                       "start_date": pd.to_datetime(["2026-01-01", "2026-01-03"]),
                       "end_date": pd.to_datetime(["2026-01-02", "2026-01-05"])})
    ps = C.presale_share(o, ev).iloc[0]
    # presale A (90) of event GMV A + B (270) = 1/3; deposit to balance 2 days
    assert ps["presale_share"] == pytest.approx(1 / 3)
    assert ps["median_days_to_balance"] == pytest.approx(2.0)


def test_threshold_bunching_by_hand():
    # ordinary: 10 just below 300, 10 just above (ratio 1); campaign: 5 below, 15 above (ratio 3) -> bunching 3
    goods = pd.Series([290.0] * 10 + [305.0] * 10 + [290.0] * 5 + [305.0] * 15 + [100.0] * 5)
    inc = pd.Series([False] * 20 + [True] * 20 + [False] * 5)
    b = C.threshold_bunching(goods, inc, 300, bin_width=20)
    assert (b["campaign_above"], b["campaign_below"], b["ordinary_above"], b["ordinary_below"]) == (15, 5, 10, 10)
    assert b["bunching"] == pytest.approx(3.0)
    assert b["share_over_campaign"] == pytest.approx(0.75)
    assert b["share_over_ordinary"] == pytest.approx(10 / 25)


# -- A/B tests -----------------------------------------------------------------------------------

def test_ab_test_by_hand():
    # control 100/1000, variant 150/1000: pooled p 0.125, se0 = sqrt(.125*.875*2/1000) = 0.014790,
    # z = 0.05 / 0.014790 = 3.381, two-sided p = 0.00072
    ex = pd.DataFrame({"experiment_id": "t", "unit_id": [f"u{i}" for i in range(2000)],
                       "variant": ["control"] * 1000 + ["b"] * 1000,
                       "converted": [1] * 100 + [0] * 900 + [1] * 150 + [0] * 850})
    r = C.ab_test(ex).iloc[0]
    assert r["p_value"] == pytest.approx(0.000723, rel=0.01)
    assert r["uplift"] == pytest.approx(0.5)
    assert r["verdict"] == "variant wins"
    # power for the planned 10% relative effect (1 point): se = sqrt(.15*.85/1000 + .1*.9/1000) = 0.014748,
    # Phi(0.01 / 0.014748 - 1.95996) = Phi(-1.2819) = 0.0999: the test found a large effect but
    # could not have seen the planned one
    assert r["power"] == pytest.approx(0.0999, abs=0.001)
    # the same table with 105 conversions in b: not significant and under-powered
    ex2 = ex.assign(converted=[1] * 100 + [0] * 900 + [1] * 105 + [0] * 895)
    assert C.ab_test(ex2).iloc[0]["verdict"] == "inconclusive (under-powered)"


def test_planted_ab_tests(data):
    ab = C.ab_report(data)
    v = ab.tests.set_index("experiment_id")
    assert v.loc["one_page_checkout", "verdict"] == "variant wins"
    assert v.loc["one_page_checkout", "p_value"] < 0.001
    assert v.loc["banner_color", "p_value"] > 0.05
    assert v.loc["banner_color", "verdict"] == "no difference (well powered)"
    # CUPED tightens the revenue test
    assert v.loc["one_page_checkout", "rev_p_cuped"] < v.loc["one_page_checkout", "rev_p"]


# -- the sections on the sample and on an orders-only source --------------------------------------

def test_sections_on_sample(data, lift):
    types = C.type_report(data, lift=lift)
    t = types.types.set_index("type")
    assert {"full_reduction", "presale", "member_day", "discount", "coupon", "flash_sale"} <= set(t.index)
    assert (t["discount_depth"].between(0, 0.5)).all() and (t["margin_rate"].between(0.2, 0.7)).all()
    mech = C.mechanics_report(data)
    assert set(mech.thresholds["threshold"]) == {200.0, 300.0}
    assert 0.1 < mech.presale_latest < 0.35  # below the handbook's 35%
    cal = C.calendar_report(data, lift=lift)
    d11 = cal.calendar.loc[cal.calendar["festival"] == "double11"].iloc[0]
    assert d11["last_year_lift"] > 1.3 and d11["last_year_gmv"] > 0
    assert "CMP037" in d11["planned_campaign"]


def test_goods_bins_count_the_baskets_of_the_chart(data):
    mech = C.mechanics_report(data)
    gb = mech.goods_bins
    assert set(gb["threshold"]) == set(mech.thresholds["threshold"]) and set(gb["when"]) == {"campaign", "ordinary"}
    # 满200: 20-yuan bins from 0 (200 - 10 x 20) to 400, by hand on a few baskets
    by_hand = C._goods_bins(200.0, np.array([0.0, 19.99, 20.0, 199.0, 200.0, 400.0, 401.0, -5.0]), "campaign")
    assert by_hand["bin_start"].tolist() == [20.0 * i for i in range(20)]
    assert by_hand["baskets"].tolist()[:2] == [2, 1] and by_hand["baskets"].tolist()[9:11] == [1, 1]
    assert by_hand["baskets"].tolist()[-1] == 1 and by_hand["baskets"].sum() == 6  # 400 counts in the last bin
    assert (by_hand["total"] == 8).all()
    # a drawn threshold's campaign baskets: as many as the bunching test saw in its two middle bins
    b = mech.bunching.set_index("threshold")
    for thr, g in gb.loc[gb["when"] == "campaign"].groupby("threshold"):
        mid = g.set_index("bin_start")["baskets"]
        assert mid[thr - 20] == b.loc[thr, "campaign_below"] and mid[thr] == b.loc[thr, "campaign_above"]


def test_orders_only_and_old_month():
    only = playbook.load(ROOT / "data/samples", month="2025-06", tables=["orders"])
    for res in (C.lift_report(only), C.type_report(only), C.ab_report(only)):
        assert res.skipped and ("campaigns" in res.note or "experiments" in res.note)
    mech = C.mechanics_report(only)  # coupons need no campaigns table
    assert not mech.skipped and mech.coupon_share > 0 and any("campaigns" in n for n in mech.notes)
    assert mech.presale.empty and mech.bunching_max is None
    cal = C.calendar_report(only)
    assert {"qixi", "mid_autumn"} <= set(cal.calendar["festival"])  # July .. September 2025
    assert cal.calendar["planned_campaign"].eq("").all()


def test_exercises(data):
    o = data.month_rows("orders")
    n = int((o["is_presale"].fillna(False).astype(bool) & playbook.metrics.paid_mask(o)).sum())
    assert "correct" in exercises.check("05.presale_orders", n, data)
    assert "not yet" in exercises.check("05.presale_orders", n + 5, data)
    assert "correct" in exercises.check("05.coupon_share", C._coupon_share(data), data)


def test_minimal_campaigns_table():
    # only the required columns: every campaign is its own event, type "other"
    daily, camps = _synthetic_daily()
    minimal = camps[["campaign_id", "name", "start_date", "end_date"]]
    out = C.campaign_lift(daily, minimal, seasonal=False)
    assert out["phase"].tolist() == ["main"] and out["lift"].iloc[0] > 1.5
    orders, items, products, _, spend = _orders_by_hand()
    camps2 = pd.DataFrame({"campaign_id": ["K1", "K2"], "name": ["a", "b"],
                           "start_date": pd.to_datetime(["2026-01-01", "2026-03-01"]),
                           "end_date": pd.to_datetime(["2026-01-03", "2026-03-02"])})
    sc = C.campaign_scorecard(orders, camps2, margins=C.order_margins(orders, items, products), spend=spend)
    assert C.type_comparison(sc)["type"].tolist() == ["other"]
    assert C.full_reduction_thresholds(camps2).empty


def test_order_margins_computed_once_per_dataset(data):
    m = C._order_margins(data)
    assert C._order_margins(data) is m  # sections 2 and 3 share it
    # the shared frame keeps the two figures the sections use, without the order ids (the sections
    # align by row), each the same as the public function's
    full = C.order_margins(data["orders"], data["order_items"], data["products"])
    assert "order_id" in full.columns and list(m.columns) == ["goods", "margin"]
    pd.testing.assert_frame_equal(m, full[["goods", "margin"]])


def test_daily_sales_by_hand_with_missing_channel_and_time():
    orders = pd.DataFrame({
        "order_ts": pd.to_datetime(["2026-01-01 09:00", "2026-01-01 18:00", "2026-01-01 12:00", "2026-01-02 08:00",
                                    None, "2026-01-02 09:00"]),
        "paid_amount": [10.0, 20.0, 5.0, 7.0, 100.0, 3.0],
        "status": ["paid", "paid", "paid", "paid", "paid", "cancelled"],
        "channel": ["tmall", "jd", None, "tmall", "tmall", "tmall"],
        "is_presale": [True, False, None, False, False, True]})
    d = C.daily_sales(orders)
    # 01-01: jd 20, tmall 10 (presale), unknown 5; 01-02: tmall 7 (the cancelled order and the one
    # without a time are left out); rows by date, then channel name
    assert d[["channel", "orders", "gmv", "presale_orders", "presale_gmv"]].values.tolist() == [
        ["jd", 1, 20.0, 0, 0.0], ["tmall", 1, 10.0, 1, 10.0], ["unknown", 1, 5.0, 0, 0.0], ["tmall", 1, 7.0, 0, 0.0]]
    assert d["date"].dt.strftime("%m-%d").tolist() == ["01-01", "01-01", "01-01", "01-02"]


def test_coupon_codes_blank_and_missing_read_none():
    orders = pd.DataFrame({"order_ts": pd.to_datetime(["2026-01-01"] * 5), "paid_amount": [10.0, 20.0, 30.0, 40.0, 50.0],
                           "status": ["paid"] * 4 + ["cancelled"], "coupon_code": ["A", "", None, "A", "B"]})
    cu = C.coupon_uptake(orders).set_index("coupon_code")
    # paid: A 10 + 40, "(none)" 20 + 30 (blank and missing alike); B was cancelled
    assert cu["orders"].to_dict() == {"A": 2, "(none)": 2}
    assert cu.loc["(none)", "aov"] == pytest.approx(25.0)
    assert cu.loc["A", "aov_vs_none"] == pytest.approx(0.0)


def test_prepared_folder_reads_only_the_chapters_columns(data, tmp_path):
    from playbook.loading import prepare

    folder = prepare(data, tmp_path / "prep")
    prepared = playbook.load(folder, month="2026-10")
    orders = C._table(prepared, "orders")
    assert list(orders.columns) == [c for c in C.COLUMNS["orders"] if c in data["orders"].columns]
    assert prepared.table_file("orders") is not None  # the whole table was never read
    pd.testing.assert_frame_equal(orders, data["orders"][list(orders.columns)])
    # the sections give what they give on the loaded tables
    pd.testing.assert_frame_equal(C.ab_report(prepared).tests, C.ab_report(data).tests)
    pd.testing.assert_frame_equal(C.mechanics_report(prepared).coupons, C.mechanics_report(data).coupons)
    # the sections read the orders' columns for their own use: a fresh folder keeps none of them
    fresh = playbook.load(folder, month="2026-10")
    lift = C.lift_report(fresh)
    C.type_report(fresh, lift=lift), C.mechanics_report(fresh), C.calendar_report(fresh, lift=lift)
    assert not fresh._partial.get("orders") and not fresh._partial.get("order_items")


def test_recode_drops_values_no_row_keeps():
    codes, uniques = C._recode(np.array([2, 0, -1, 2], dtype=np.int8), pd.Index(["a", "b", "c"]))
    want_codes, want = pd.factorize(pd.Series(["c", "a", None, "c"]), sort=True)
    assert codes.tolist() == want_codes.tolist() == [1, 0, -1, 1]
    assert uniques.tolist() == want.tolist() == ["a", "c"]


def test_order_margins_with_an_order_id_repeated_by_a_cancelled_order():
    # o1 repeats on a cancelled row: the lines join to the paid o1 only; o2 has no line (goods from
    # gross - discount); the line of unknown o9 is left out
    orders = pd.DataFrame({"order_id": ["o1", "o1", "o2"], "status": ["paid", "cancelled", "paid"],
                           "paid_amount": [90.0, 50.0, 40.0], "gross_amount": [100.0, 50.0, 45.0],
                           "discount_amount": [10.0, 0.0, 5.0], "shipping_fee": [0.0, 0.0, 6.0]})
    items = pd.DataFrame({"order_id": ["o1", "o1", "o9"], "sku": ["A", "B", "A"], "qty": [1, 2, 1],
                          "unit_price": [60.0, 20.0, 60.0]})
    products = pd.DataFrame({"sku": ["A", "B"], "unit_cost": [30.0, 5.0]})
    m = C.order_margins(orders, items, products)
    assert m.index.tolist() == [0, 2] and m["order_id"].tolist() == ["o1", "o2"]
    assert m["goods"].tolist() == [100.0, 40.0]
    assert m["cogs"].tolist()[0] == 40.0 and np.isnan(m["cogs"].iloc[1])
    assert m["margin"].tolist()[0] == 50.0 and m["discount_depth"].tolist() == [0.1, 5.0 / 45.0]
    # the chapter's shared frame, with the lines' skus as codes, gives the same figures
    codes, names = pd.factorize(items["sku"], sort=True)
    shared = C._margins(orders, items.drop(columns="sku"), products, ids=False, skus=(codes, names))
    pd.testing.assert_frame_equal(shared, m.drop(columns="order_id"))


def _frames_of(result) -> dict:
    """The frames a section result carries (its dataclass fields)."""
    return {k: v for k, v in vars(result).items() if isinstance(v, pd.DataFrame)}


def test_prepared_shop_read_in_parts_gives_the_same_sections(data, tmp_path, monkeypatch):
    # a large shop's orders are read a few thousand rows (or a few months) at a time: made small
    # here so that the sample's 58k orders take many parts, each order with all its lines
    from playbook.loading import prepare

    folder = prepare(data, tmp_path / "prep")
    monkeypatch.setattr(C, "_CHUNK_ROWS", 3_000)
    monkeypatch.setattr(C, "_WINDOW_ROWS", 5_000)
    prepared = playbook.load(folder, month="2026-10")
    assert len(C._order_windows(prepared)) > 4
    margins = C._chunked_margins(prepared, C._table(prepared, "products"))
    assert margins is not None  # the lines follow their orders: the part-by-part join applies
    pd.testing.assert_frame_equal(margins, C._order_margins(data), check_exact=True)
    lift_p, lift_d = C.lift_report(prepared), C.lift_report(data)
    sections = [(lift_p, lift_d), (C.type_report(prepared, lift=lift_p), C.type_report(data, lift=lift_d)),
                (C.mechanics_report(prepared), C.mechanics_report(data)),
                (C.calendar_report(prepared, lift=lift_p), C.calendar_report(data, lift=lift_d)),
                (C.ab_report(prepared), C.ab_report(data))]
    for got, want in sections:
        g, w = _frames_of(got), _frames_of(want)
        assert g.keys() == w.keys()
        for name in w:
            pd.testing.assert_frame_equal(g[name], w[name], check_exact=True, obj=f"{type(want).__name__}.{name}")
    assert prepared.table_file("orders") is not None  # never read whole


def test_chunked_margins_needs_lines_in_the_order_of_their_orders(data, tmp_path):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from playbook.loading import prepare

    folder = prepare(data, tmp_path / "prep")
    lines = pq.read_table(folder / "order_items.parquet")
    last_first = pc.sort_indices(lines, sort_keys=[("order_id", "descending")])  # stable: an order's lines keep their order
    pq.write_table(lines.take(last_first), folder / "order_items.parquet")
    prepared = playbook.load(folder, month="2026-10")
    assert C._chunked_margins(prepared, C._table(prepared, "products")) is None
    # the whole tables are joined instead: the same margins
    pd.testing.assert_frame_equal(C._order_margins(prepared), C._order_margins(data), check_exact=True)


def test_sorted_positions_by_hand():
    import pyarrow as pa

    keys = pa.array(["O01", "O03", "O07"], type=pa.large_string())
    values = pa.chunked_array([pa.array(["O01", "O01", "O02"], type=pa.large_string()),
                               pa.array(["O07", "O09"], type=pa.large_string())])
    # O02 and O09 are no key: -1
    assert C._sorted_positions(values, keys).tolist() == [0, 0, -1, 2, -1]
    # ids of different widths cannot be packed alike: the text lookup gives the same
    assert C._sorted_positions(pa.array(["O1", "O03"]), keys).tolist() == [-1, 1]
