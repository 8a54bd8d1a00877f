"""Chapter 08 fulfillment and service: hand-built tables whose answers were worked out by hand (the
comments say how), and the sample shop's planted events found where they were planted and nowhere
else (late carrier yunda from 2026-08, the spring-festival pause, the SKU0001 bad batch)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import playbook
from playbook import exercises
from playbook import fulfillment as F
from playbook.samples import PLANTED_EVENTS

ROOT = Path(__file__).resolve().parent.parent
T = pd.Timestamp


@pytest.fixture(scope="module")
def data():
    return playbook.load(ROOT / "data/samples", month="2026-10",
                         tables=["shipments", "service_tickets", "order_items", "products", "campaigns"])


@pytest.fixture(scope="module")
def reports(data):
    ship = F.shipping_report(data)
    carriers = F.carrier_report(data, shipping=ship)
    tickets = F.ticket_report(data)
    refunds = F.refund_report(data, carriers=carriers)
    return ship, carriers, tickets, refunds


# ---------------------------------------------------------------------------------------------
# Shipping within 48 hours: hand-built
# ---------------------------------------------------------------------------------------------

def _orders(rows):
    return pd.DataFrame(rows, columns=["order_id", "order_ts", "paid_ts", "status", "channel"]).assign(
        order_ts=lambda f: pd.to_datetime(f["order_ts"]), paid_ts=lambda f: pd.to_datetime(f["paid_ts"]))


def test_shipping_states_worked_by_hand():
    # cut-off 2026-10-05 00:00, deadline = payment + 48 h
    orders = _orders([
        ("a", "2026-10-01 09:00", "2026-10-01 10:00", "paid", "tmall"),      # shipped after 23 h: on time
        ("b", "2026-10-01 09:00", "2026-10-01 10:00", "paid", "tmall"),      # shipped after 50 h: late
        ("c", "2026-10-01 09:00", "2026-10-01 10:00", "paid", "jd"),         # never shipped, due 10-03: overdue
        ("d", "2026-10-04 11:00", "2026-10-04 12:00", "paid", "jd"),         # unshipped, due 10-06: pending
        ("e", "2026-10-02 09:00", None, "cancelled", "jd"),                   # never paid: left out
        ("f", "2026-10-02 09:00", "2026-10-02 10:00", "refunded", "jd"),     # refunded, no parcel: left out
        ("g", "2026-10-04 09:00", "2026-10-04 10:00", "paid", "jd"),         # ships 10-06, after the cut-off: pending
    ])
    ships = pd.DataFrame({"order_id": ["a", "b", "g", "a"], "carrier": ["sf", "zto", "sf", "sf"],
                          "shipped_ts": pd.to_datetime(["2026-10-02 09:00", "2026-10-03 12:00",
                                                        "2026-10-06 09:00", "2026-10-02 15:00"])})
    st = F.shipping_status(orders, ships, cutoff=T("2026-10-05")).set_index("order_id")
    assert st["state"].to_dict() == {"a": "on_time", "b": "late", "c": "overdue", "d": "pending", "g": "pending"}
    assert st.loc["a", "hours_to_ship"] == 23  # the first of a's two parcels counts
    assert st["within_hours"].tolist()[:3] == [True, False, False] and st["within_hours"].isna().sum() == 2
    rates = F.ship_rates(st.reset_index(), by=None).iloc[0]
    assert (rates["on_time"], rates["late"], rates["pending"]) == (1, 2, 2)
    assert rates["on_time_rate"] == pytest.approx(1 / 3)
    by = F.ship_rates(st.reset_index(), by="channel").set_index("channel")["on_time_rate"]
    assert by["tmall"] == 0.5 and by["jd"] == 0.0  # tmall: a on time, b late; jd: c overdue, d and g pending
    backlog = F.shipping_backlog(st.reset_index(), cutoff=T("2026-10-05"))
    assert backlog["order_id"].tolist() == ["c", "g", "d"]  # oldest first
    assert backlog["overdue"].tolist() == [True, False, False]
    assert backlog.loc[0, "age_hours"] == 86 and backlog.loc[0, "hours_overdue"] == 38


def test_spring_festival_pause_is_found_and_stops_the_clock():
    # parcels leave every day except 2026-02-13..02-23 (spring festival 02-17) and 2026-08-10..08-12
    days = pd.date_range("2026-01-20", "2026-08-31", freq="D")
    gap = ((days >= "2026-02-13") & (days <= "2026-02-23")) | ((days >= "2026-08-10") & (days <= "2026-08-12"))
    ships = pd.DataFrame({"order_id": [f"x{i}" for i in range((~gap).sum())], "carrier": "sf",
                          "shipped_ts": days[~gap] + pd.Timedelta(hours=10)})
    pauses = F.logistics_pauses(ships)
    assert pauses[["start", "end", "days"]].values.tolist() == [[T("2026-02-13"), T("2026-02-23"), 11]]
    # the August gap is far from the festival: not a pause (it would show as an anomaly)
    declared = F.logistics_pauses(ships, declared=[["2026-08-10", "2026-08-12"]])
    assert len(declared) == 2 and declared["reason"].iloc[1] == "declared by the shop"
    orders = _orders([
        ("p1", "2026-02-12 09:00", "2026-02-12 10:00", "paid", "tmall"),  # 48 h run into the pause
        ("p2", "2026-02-20 09:00", "2026-02-20 10:00", "paid", "tmall"),  # paid during the pause
        ("p3", "2026-02-20 09:00", "2026-02-20 10:00", "paid", "tmall"),
        ("p4", "2026-03-02 09:00", "2026-03-02 10:00", "paid", "tmall"),  # ordinary order
    ])
    sent = pd.DataFrame({"order_id": ["p1", "p2", "p3", "p4"], "carrier": "sf",
                         "shipped_ts": pd.to_datetime(["2026-02-25 10:00", "2026-02-26 20:00",
                                                       "2026-02-28 10:00", "2026-03-05 10:00"])})
    # restart 02-24 00:00 + 3 catch-up days: due 02-27 00:00 for p1, p2, p3
    st = F.shipping_status(orders, sent, cutoff=T("2026-04-01"), pauses=pauses).set_index("order_id")
    assert st["state"].to_dict() == {"p1": "on_time", "p2": "on_time", "p3": "late", "p4": "late"}
    assert st["paused"].tolist() == [True, True, True, False]
    assert st.loc["p1", "due_ts"] == T("2026-02-27")
    plain = F.shipping_status(orders, sent, cutoff=T("2026-04-01")).set_index("order_id")
    assert plain.loc["p1", "state"] == "late"  # without the pause the clock runs on


def test_backlog_at_month_ends_worked_by_hand():
    st = pd.DataFrame({
        "paid_ts": pd.to_datetime(["2026-01-15 10:00", "2026-01-31 20:00", "2026-02-20 10:00"]),
        "shipped_ts": pd.to_datetime(["2026-02-03 10:00", "2026-02-01 09:00", None]),
    })
    st["due_ts"] = st["paid_ts"] + pd.Timedelta(hours=48)
    out = F.backlog_trend(st, month_ends=pd.to_datetime(["2026-02-01", "2026-03-01"]))
    # 02-01: both January orders unshipped, only the first past its deadline (01-17); 03-01: the third
    assert out.values.tolist() == [["2026-01", 2, 1], ["2026-02", 1, 1]]


def test_backlog_age_buckets():
    b = pd.DataFrame({"age_hours": [1, 30, 47.9, 50, 100, 500]})
    out = F.backlog_age_buckets(b)
    assert out["orders"].tolist() == [1, 2, 1, 1, 1]
    assert out["past_promise"].tolist() == [False, False, True, True, True]


def _daily_status(days: dict[int, tuple[int, int]], n_days: int = 60, base=(100, 95)):
    """One row per order: day i has n orders of which k on time (ordinary days: ``base``)."""
    rows = []
    start = T("2026-03-01 10:00")
    for i in range(n_days):  # test helper over 60 days
        n, k = days.get(i, base)
        rows.append(pd.DataFrame({"paid_ts": start + pd.Timedelta(days=i), "paused": False,
                                  "state": ["on_time"] * k + ["late"] * (n - k)}))
    out = pd.concat(rows, ignore_index=True)
    out["order_id"] = [f"o{i}" for i in range(len(out))]
    return out


def test_anomalies_are_explained_by_volume_or_left_unexplained():
    # day 40: 300 orders, 75% on time (a peak); day 41: ordinary volume but 80% (the day after the
    # peak); day 50: ordinary volume, 70% on time (unexplained); day 55: 90%, a 5-point dip (not flagged)
    st = _daily_status({40: (300, 225), 41: (100, 80), 50: (100, 70), 55: (100, 90)})
    out = F.ship_anomalies(st)
    flagged = out.loc[out["flagged"]].set_index(out.loc[out["flagged"], "date"].dt.day)["explanation"]
    day = lambda i: (T("2026-03-01") + pd.Timedelta(days=i)).day  # noqa: E731
    assert out["flagged"].sum() == 3
    assert flagged[day(40)] == "volume peak" and flagged[day(41)] == "volume peak"
    assert flagged[day(50)] == "unexplained"
    assert out.loc[out["date"].dt.day == day(30), "expected"].iloc[0] == pytest.approx(0.95)


# ---------------------------------------------------------------------------------------------
# Carriers: hand-built
# ---------------------------------------------------------------------------------------------

def test_parcel_outcomes_worked_by_hand():
    ships = pd.DataFrame({
        "order_id": ["a", "b", "c", "d", "e", "f"], "carrier": "yunda",
        "shipped_ts": pd.to_datetime(["2026-10-01 10:00"] * 4 + ["2026-10-29 10:00", "2026-10-01 10:00"]),
        "delivered_ts": pd.to_datetime(["2026-10-02 10:00", "2026-10-03 23:00", "2026-10-05 08:00", None, None,
                                        "2026-11-02 10:00"]),
        "promised_date": pd.to_datetime(["2026-10-03", "2026-10-03", "2026-10-03", "2026-10-03", "2026-11-02",
                                         "2026-10-03"]),
        "status": ["delivered", "delivered", "delivered", "lost", "in_transit", "delivered"],
    })
    due = pd.Series(pd.to_datetime(["2026-10-02"] * 4 + ["2026-10-30", "2026-09-30"]), index=list("abcdef"))
    p = F.parcel_outcomes(ships, cutoff=T("2026-11-01"), ship_due=due).set_index("order_id")
    # a early, b on the promised day at 23:00, c two days after, d lost (past its promise), e not
    # due yet, f delivered after the cut-off (so still out, and past its promise)
    assert p["state"].to_dict() == {"a": "on_time", "b": "on_time", "c": "late", "d": "overdue", "e": "pending",
                                    "f": "overdue"}
    assert p.loc["c", "days_late"] == 2 and p.loc["d", "days_late"] == 29
    assert p.loc["a", "transit_days"] == 1 and pd.isna(p.loc["f", "transit_days"])
    assert p["dispatched_late"].tolist() == [False] * 5 + [True]  # f left after its shipping deadline
    assert p.loc["f", "late"] and not p.loc["f", "carrier_late"]  # the warehouse's delay, not the carrier's
    assert p.loc["c", "carrier_late"] and pd.isna(p.loc["e", "carrier_late"])


def _parcels(carrier, n, late, start, province="上海"):
    return pd.DataFrame({"order_id": [f"{carrier}{start}{i}" for i in range(n)], "carrier": carrier,
                         "province": province, "region": F.region_of(pd.Series([province] * n)),
                         "shipped_ts": T(start), "transit_days": 2.0,
                         "late": pd.array([True] * late + [False] * (n - late), dtype="boolean"),
                         "carrier_late": pd.array([True] * late + [False] * (n - late), dtype="boolean")})


def test_carrier_scorecard_flags_by_target_and_by_rise():
    frames = [
        _parcels("A", 200, 30, "2026-08-05"), _parcels("A", 400, 8, "2026-01-05"),    # 85% on time, was 98%
        _parcels("B", 200, 16, "2026-08-05"), _parcels("B", 400, 16, "2026-01-05"),   # 92%, was 96%: +4 points
        _parcels("C", 200, 22, "2026-08-05"), _parcels("C", 400, 44, "2026-01-05"),   # 89%, always so
        _parcels("D", 200, 16, "2026-08-05"), _parcels("D", 400, 4, "2026-01-05"),    # 92%, was 99%: +7 points
    ]
    sc = F.carrier_scorecard(pd.concat(frames, ignore_index=True), start=T("2026-08-01"), end=T("2026-11-01"),
                             baseline_start=T("2025-08-01")).set_index("carrier")
    # A: 30 late of 200 against the 10% allowed, P(X >= 30 | 200, 0.1) = 0.013; x4 carriers = 0.05:
    # not beyond chance at 0.001, but its rise of 13 points (2% -> 15%) is: worsening.
    assert sc.loc["A", "status"] == "worsening" and sc.loc["A", "rise"] == pytest.approx(0.13)
    assert sc.loc["B", "status"] == "ok"  # a 4-point rise is under the 5-point minimum
    assert sc.loc["C", "status"] == "ok"  # 89% is under 90% by chance only: P(X >= 22 | 200, 0.1) = 0.3
    assert sc.loc["D", "status"] == "worsening"  # 1% -> 8%, significant
    heavy = pd.concat([_parcels("E", 400, 100, "2026-08-05"), _parcels("E", 400, 100, "2026-01-05")])
    sc2 = F.carrier_scorecard(heavy, start=T("2026-08-01"), end=T("2026-11-01"))
    assert sc2["status"].tolist() == ["below target"]  # 75% on time, every year: below the target
    few = F.carrier_scorecard(_parcels("G", 10, 9, "2026-08-05"), start=T("2026-08-01"), end=T("2026-11-01"))
    assert few["status"].tolist() == ["too few parcels"] and not few["flagged"].any()


def test_carrier_cells_find_the_late_province():
    frames = [_parcels("Y", 100, 50, "2026-08-05", "四川"), _parcels("Y", 400, 80, "2026-08-05", "上海"),
              _parcels("Y", 10, 5, "2026-08-05", "西藏")]
    cells = F.carrier_cells(pd.concat(frames, ignore_index=True), start=T("2026-08-01"), end=T("2026-11-01"),
                            min_parcels=30).set_index("province")
    # 四川 50% against (80 + 5) / (400 + 10) = 20.7% elsewhere; 上海 20% against 55/110 = 50% elsewhere
    assert cells.loc["四川", "rest_late_rate"] == pytest.approx(85 / 410)
    assert cells.loc["四川", "p_value"] < 1e-9 and cells.loc["上海", "p_value"] > 0.99
    assert not cells.loc["西藏", "rated"]  # 10 parcels: under the minimum
    regions = F.carrier_cells(pd.concat(frames, ignore_index=True), start=T("2026-08-01"), end=T("2026-11-01"),
                              by="region").set_index("region")
    assert regions.loc["西南", "decided"] == 110 and regions.loc["西南", "late"] == 55


def test_region_of():
    assert F.region_of(pd.Series(["四川省", "重庆市", "广西壮族自治区", "上海", "火星", None])).tolist() == [
        "西南", "西南", "华南", "华东", "其他", "unknown"]


# ---------------------------------------------------------------------------------------------
# Service tickets: hand-built
# ---------------------------------------------------------------------------------------------

def test_ticket_clocks_worked_by_hand():
    t = pd.DataFrame({
        "ticket_id": ["t1", "t2", "t3", "t4"], "category": ["refund", "logistics", "quality", None],
        "opened_ts": pd.to_datetime(["2026-10-01 22:00", "2026-10-02 10:00", "2026-10-31 22:00", "2026-10-10 10:00"]),
        "first_response_ts": pd.to_datetime(["2026-10-02 09:00", "2026-10-03 12:00", None, "2026-11-02 10:00"]),
        "resolved_ts": pd.to_datetime(["2026-10-04 09:00", "2026-10-03 14:00", None, None]),
        "satisfaction": pd.array([2, 5, pd.NA, 4], dtype="Int64"),
    })
    times = F.ticket_times(t, cutoff=T("2026-11-01")).set_index("ticket_id")
    # t1: 11 h / 59 h; t2: 26 h / 28 h; t3: opened 2 h before the cut-off, nothing yet (pending);
    # t4: answered after the cut-off, so unanswered for 566 h (breached) and open
    assert times["response_hours"].tolist()[:2] == [11, 26]
    assert times["response_state"].tolist() == ["within", "breached", "pending", "breached"]
    assert times["resolution_state"].tolist() == ["breached", "within", "pending", "breached"]
    assert times["open"].tolist() == [False, False, True, True]
    assert times.loc["t4", "category"] == "unknown" and pd.isna(times.loc["t4", "satisfaction"])  # not resolved yet
    bare = F.ticket_times(t.drop(columns=["first_response_ts"]), cutoff=T("2026-11-01"))
    assert set(bare["response_state"]) == {"unknown"}  # no column: unknown, not breached
    assert pd.isna(F.ticket_summary(bare).iloc[0]["response_within"])
    s = F.ticket_summary(times.reset_index()).iloc[0]
    assert s["response_within"] == pytest.approx(1 / 3) and s["resolution_within"] == pytest.approx(1 / 3)
    assert s["median_response_hours"] == 18.5 and s["csat"] == 3.5 and s["dissatisfied_share"] == 0.5


def test_ticket_category_spike():
    months = [str(p) for p in pd.period_range("2025-10", "2026-10", freq="M")]
    rows = []
    for m in months:  # 13 months
        quality = 40 if m == "2026-10" else 10
        rows += [(m, "quality")] * quality + [(m, "refund")] * 30
    times = pd.DataFrame(rows, columns=["month", "category"])
    orders = pd.Series(1000, index=months)
    out = F.ticket_category_spikes(times, orders, month="2026-10").set_index("category")
    # quality: 40 against 10 expected, P(X >= 40 | Poisson 10) ~ 1e-12; refund: 30 against 30
    assert out.loc["quality", "spike"] and out.loc["quality", "ratio"] == 4
    assert not out.loc["refund", "spike"] and out.loc["refund", "per_1000_orders"] == 30


# ---------------------------------------------------------------------------------------------
# Refunds: hand-built
# ---------------------------------------------------------------------------------------------

def test_refund_reasons_take_the_most_specific_evidence():
    orders = pd.DataFrame({
        "order_id": list("abcdefg"), "order_ts": pd.to_datetime(["2026-10-05"] * 7),
        "paid_amount": [100.0, 200, 300, 400, 500, 600, 700],
        "status": ["refunded", "refunded", "refunded", "refunded", "refunded", "paid", "paid"],
        "refund_amount": [100.0, 200, 300, 400, 500, 60, 0],
    })
    parcels = pd.DataFrame({"order_id": list("acdeg"), "lost": [False, False, True, False, False],
                            "returned": [True, False, False, False, False],
                            "state": ["on_time", "on_time", "overdue", "late", "on_time"]})
    tickets = pd.DataFrame({"order_id": ["a", "a", "f"], "category": ["refund", "quality", "size"]})
    r = F.refund_reasons(orders, parcels=parcels, tickets=tickets).set_index("order_id")
    # a: quality ticket beats the returned parcel; b: no parcel; c: delivered, kept; d: lost;
    # e: late; f: size ticket, partial refund of 60; g: no refund, not listed
    assert r["reason_key"].to_dict() == {"a": "quality", "b": "before_shipping", "c": "after_delivery", "d": "lost",
                                         "e": "late", "f": "size"}
    assert r.loc["f", "refund_value"] == 60 and not r.loc["f", "full_refund"]
    bare = F.refund_reasons(orders)
    assert set(bare["reason_key"]) == {"unknown"}


def test_sku_event_spikes_explain_away_a_bundle_partner():
    # A: 10 of its 20 orders this month have the event against 1 of 100 before; B sits in 6 of those
    # 10 orders and in 14 quiet ones. A is the spike; without A's orders B has 0 of 14: explained by A.
    rows = ([(f"o{i}", "A", "current") for i in range(20)] + [(f"o{i}", "B", "current") for i in range(6)]
            + [(f"d{i}", "B", "current") for i in range(14)]
            + [(f"b{i}", "A", "baseline") for i in range(100)] + [(f"c{i}", "B", "baseline") for i in range(100)])
    os_ = pd.DataFrame(rows, columns=["order_id", "sku", "period"])
    ev = pd.Series(False, index=os_["order_id"].unique())
    ev[[f"o{i}" for i in range(10)] + ["b0", "c0"]] = True
    out = F.sku_event_spikes(os_, ev, alpha=0.01).set_index("sku")
    assert out.loc["A", "spike"] and out.loc["A", "events"] == 10 and out.loc["A", "rate"] == 0.5
    assert not out.loc["B", "spike"] and out.loc["B", "explained_by"] == "A"
    # shrinkage: p0 = (1 + 100 x 2/200) / (100 + 100) = 0.01 for both
    assert out.loc["A", "ratio"] == pytest.approx(50)


def test_sku_refunds_spread_refund_value_by_line_value():
    orders = pd.DataFrame({"order_id": ["o1", "o2"], "order_ts": pd.to_datetime(["2026-10-03", "2026-10-04"]),
                           "paid_amount": [400.0, 50.0], "status": ["refunded", "paid"], "refund_amount": [200.0, 0]})
    items = pd.DataFrame({"order_id": ["o1", "o1", "o2"], "sku": ["X", "Y", "X"], "qty": [1, 3, 1],
                          "unit_price": [100.0, 100.0, 50.0]})
    reasons = F.refund_reasons(orders)
    out = F.sku_refunds(orders, items, month="2026-10", reasons=reasons).set_index("sku")
    # 200 refunded on lines worth 100 and 300: 50 to X, 150 to Y; X is in 2 orders, 1 refunded
    assert out.loc["X", "refund_value"] == 50 and out.loc["Y", "refund_value"] == 150
    assert out.loc["X", "refund_rate"] == 0.5 and out.loc["Y", "refund_rate"] == 1.0
    assert out.loc["X", "revenue"] == 150 and out.loc["X", "refund_value_share"] == pytest.approx(1 / 3)


# ---------------------------------------------------------------------------------------------
# The sample shop: planted events found where planted and nowhere else
# ---------------------------------------------------------------------------------------------

def test_sample_spring_festival_pause_is_seasonal_not_an_anomaly(reports):
    ship = reports[0]
    planted = [[T(a), T(b)] for a, b in PLANTED_EVENTS["spring_festival"]["pause"]]
    assert ship.pauses[["start", "end"]].values.tolist() == planted
    assert not ship.daily["explanation"].eq("unexplained").any()  # no unexplained day in two years
    flagged = ship.daily.loc[ship.daily["flagged"]]
    assert (flagged["explanation"] == "volume peak").all() and len(flagged) > 5  # festival peaks only
    assert not flagged["date"].dt.month.isin([1, 2]).any()  # nothing around the spring festival
    rates = ship.monthly.set_index("month")["on_time_rate"]
    assert rates[["2025-01", "2025-02", "2026-02"]].min() > ship.target  # the pause months keep the promise
    raw = ship.monthly.set_index("month")["within_hours_rate"]
    assert raw["2026-02"] < 0.8 < rates["2026-02"]  # on the raw clock the pause would look like a failure


def test_sample_shipping_month_and_backlog(reports, data):
    ship = reports[0]
    assert 0.93 < ship.month_rate < 0.97  # about 93% ship within 48 hours (data/samples/README.md)
    o = data.orders
    unshipped = o.loc[(o["status"] == "paid") & ~o["order_id"].isin(
        data.shipments.loc[data.shipments["shipped_ts"].notna(), "order_id"])]  # refunded ones need no parcel
    assert len(ship.backlog) == len(unshipped) > 700  # the 双11 presale balances paid on 10-31
    old = (data.end - unshipped["paid_ts"]) > pd.Timedelta(hours=48)
    assert (ship.backlog["age_hours"] > 48).sum() == len(ship.overdue) == old.sum() > 0
    assert ship.backlog_ages["orders"].sum() == len(ship.backlog)
    assert ship.unexplained_days == 0 and ship.backlog_by_month["backlog"].iloc[-1] == len(ship.backlog)


def test_sample_late_carrier_is_yunda_with_the_south_west(reports):
    carriers = reports[1]
    assert carriers.flagged["carrier"].tolist() == ["yunda"]
    row = carriers.scorecard.set_index("carrier").loc["yunda"]
    assert row["status"] == "below target" and row["late_rate"] > 0.2 and row["baseline_late_rate"] < 0.05
    flagged = carriers.flagged.iloc[0]
    assert flagged["worst_provinces"].split(", ")[0] == "四川"
    assert set(flagged["worst_provinces"].split(", ")) <= {"四川", "重庆", "云南", "贵州"}
    assert flagged["worst_regions"] == "西南"
    others = carriers.scorecard.loc[carriers.scorecard["carrier"] != "yunda"]
    assert (others["late_rate"] < 0.08).all() and not others["flagged"].any()
    ems = carriers.scorecard.set_index("carrier").loc["ems"]
    assert ems["late_rate"] > carriers.scorecard.set_index("carrier").loc["sf", "late_rate"]  # a little slow, not flagged
    assert carriers.alerts["subject"].tolist() == ["yunda"]
    assert set(carriers.late["carrier"]) >= {"yunda"} and carriers.late["carrier"].value_counts().idxmax() == "yunda"


def test_sample_no_carrier_flagged_before_the_event(data):
    # as of the end of July 2026, over May-July, no carrier stands out (yunda turns late from 2026-08)
    parcels = F.parcel_outcomes(data.shipments, data.orders, cutoff=T("2026-08-01"))
    sc = F.carrier_scorecard(parcels, start=T("2026-05-01"), end=T("2026-08-01"), baseline_start=T("2025-05-01"))
    assert not sc["flagged"].any()
    assert sc.set_index("carrier").loc["yunda", "late_rate"] < 0.05


def test_sample_quality_spike_is_sku0001_and_nowhere_else(reports):
    tickets, refunds = reports[2], reports[3]
    spikes = tickets.spikes.loc[tickets.spikes["spike"], "category"].tolist()
    assert spikes == ["quality"]
    assert refunds.review["sku"].tolist() == [PLANTED_EVENTS["bad_review_spike"]["sku"]]
    row = refunds.review.iloc[0]
    assert row["refund_spike"] and row["quality_spike"] and row["quality_tickets"] >= 40
    skus = refunds.skus.set_index("sku")
    assert skus.loc["SKU0003", "quality_explained_by"] == "SKU0001"  # the chair's table (bundle), not its own fault
    assert not skus.drop(index="SKU0001")[["refund_spike", "quality_spike"]].any().any()
    assert refunds.refund_rate < refunds.target and 0 < refunds.return_rate < 0.05


def test_sample_ticket_figures(reports):
    tickets = reports[2]
    assert tickets.response_within == 1.0 and tickets.median_response_hours < 1
    assert 0.8 < tickets.resolution_within < 0.95
    by = tickets.by_category.set_index("category")
    assert by.loc["logistics", "median_resolution_hours"] > by.loc["other", "median_resolution_hours"]
    sat = tickets.by_resolution.set_index("resolved_in")["csat"]
    assert sat["0-4h"] > sat["48-96h"]  # slow resolution costs satisfaction
    assert tickets.by_hour.loc[3, "median_response_hours"] > tickets.by_hour.loc[14, "median_response_hours"]


def test_exercise_checkers(data):
    share = exercises.EXERCISES["08.yunda_late_share"][1](data)
    assert 0.18 < share < 0.32
    assert "correct" in exercises.check("08.yunda_late_share", share, data)
    hours = exercises.EXERCISES["08.median_first_response_hours"][1](data)
    assert 0 < hours < 2


def test_orders_only_source_skips_with_notes(tmp_path, data):
    data.orders.to_csv(tmp_path / "orders.csv", index=False)
    lean = playbook.load(tmp_path, month="2026-10")
    ship = F.shipping_report(lean)
    carriers = F.carrier_report(lean, shipping=ship)
    tickets = F.ticket_report(lean)
    refunds = F.refund_report(lean, carriers=carriers)
    assert ship.skipped and carriers.skipped and tickets.skipped and not refunds.skipped
    assert "shipments" in ship.note and "service_tickets" in tickets.note and "order_items" in refunds.sku_note
    assert ship.month_rate is None and tickets.resolution_within is None and refunds.refund_rate > 0
    assert set(refunds.reasons["reason_key"]) == {"unknown"}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4)
    F.plot_daily_ship_rate(ship, ax=axes[0])
    F.plot_carrier_regions(carriers, ax=axes[1])
    F.plot_satisfaction(tickets, ax=axes[2])
    F.plot_refund_reasons(refunds, ax=axes[3])
    assert "shipments" in axes[0].texts[0].get_text()
    plt.close(fig)


def test_bad_input_names_table_and_column():
    with pytest.raises(KeyError, match="shipments lacks column.*shipped_ts"):
        F.logistics_pauses(pd.DataFrame({"order_id": ["a"]}))
    with pytest.raises(KeyError, match="service_tickets lacks column.*opened_ts"):
        F.ticket_times(pd.DataFrame({"ticket_id": ["t"]}), cutoff=T("2026-11-01"))
    with pytest.raises(KeyError, match="order_items lacks column.*unit_price"):
        F.sku_refunds(pd.DataFrame({"order_id": [], "order_ts": [], "paid_amount": []}),
                      pd.DataFrame({"order_id": [], "sku": [], "qty": []}), month="2026-10",
                      reasons=pd.DataFrame({"order_id": [], "full_refund": []}))


def test_inputs_are_not_modified(data):
    before = data.shipments.copy()
    F.parcel_outcomes(data.shipments, data.orders, cutoff=data.end)
    pd.testing.assert_frame_equal(before, data.shipments)
    table = F.settings_table(data).set_index("setting")["value"]
    assert table["ship_within_hours"] == "48" and table["first_response_hours"] == "24"


def test_id_joins_by_hash_lookup_match_pandas_by_hand():
    # The chapter joins a million text order ids by an Arrow hash lookup instead of pandas' merge,
    # map and isin; hand-built: "o2" is absent from the right side, one id is missing, and the
    # right side lists its ids in another order than the left.
    left = pd.DataFrame({"order_id": pd.array(["o3", "o1", "o2", None, "o1"], dtype="str"), "x": [1, 2, 3, 4, 5]})
    right = pd.DataFrame({"order_id": pd.array(["o1", "o3", "o9"], dtype="str"),
                          "carrier": pd.array(["sf", "yunda", "ems"], dtype="str"),
                          "shipped_ts": pd.to_datetime(["2026-10-01", "2026-10-02", "2026-10-03"])})
    joined = F._left_join(left, right)
    assert joined["carrier"].fillna("-").tolist() == ["yunda", "sf", "-", "-", "sf"]
    pd.testing.assert_frame_equal(joined, left.merge(right, on="order_id", how="left"))
    inner = F._join_orders(left, right)
    assert inner["x"].tolist() == [1, 2, 5]  # the lines' own order, absent and missing ids dropped
    pd.testing.assert_frame_equal(inner, left.merge(right, on="order_id", how="inner"))
    mapping = right.set_index("order_id")["shipped_ts"]
    pd.testing.assert_series_equal(F._lookup(left["order_id"], mapping), left["order_id"].map(mapping))
    assert F._has_id(left["order_id"], right["order_id"]).tolist() == [True, True, False, False, True]
    # a repeated id on the right: pandas' own merge (both rows joined), not the lookup
    twice = pd.concat([right, right.iloc[:1]], ignore_index=True)
    assert len(F._join_orders(left, twice)) == 5  # o3 once, o1 twice x 2


def test_event_spikes_on_codes_match_the_text_version():
    """The integer-code spike test behind sku_refunds gives the text version's table exactly, on the
    docstring's hand-checked example (A spikes, B is explained by A) plus a quiet SKU C."""
    rows = ([("o%d" % i, "A", "current") for i in range(20)] + [("o%d" % i, "B", "current") for i in range(6)]
            + [("b%d" % i, "A", "baseline") for i in range(100)] + [("c%d" % i, "B", "baseline") for i in range(100)]
            + [("d%d" % i, "B", "current") for i in range(14)] + [("e%d" % i, "C", "current") for i in range(30)]
            + [("f%d" % i, "C", "baseline") for i in range(3)])
    os_ = pd.DataFrame(rows, columns=["order_id", "sku", "period"])
    ev = pd.Series(False, index=os_["order_id"].unique())
    ev[["o%d" % i for i in range(10)] + ["b0", "c0", "e0"]] = True
    text = F.sku_event_spikes(os_, ev, alpha=0.01)
    order, orders = pd.factorize(os_["order_id"])
    sku, skus = pd.factorize(os_["sku"], sort=True)
    codes = F._event_spikes_codes(order, sku, (os_["period"] == "current").to_numpy(),
                                            ev.reindex(orders).to_numpy().astype("int64")[order], pd.Index(skus),
                                            alpha=0.01)
    pd.testing.assert_frame_equal(codes, text)
    assert codes[["sku", "spike", "explained_by"]].values.tolist() == [["A", True, ""], ["B", False, "A"], ["C", False, ""]]


def test_row_based_paths_match_the_id_joins(data):
    # the report paths reach the orders through one lookup of row positions per dataset; the
    # building blocks called on plain frames join by id: the same tables either way
    orders, ships = data.orders, data.shipments
    rows = F._order_rows(data, "shipments")
    assert rows is not None and (rows >= 0).all()
    cutoff = data.end
    plain = F.shipping_status(orders, ships, cutoff=cutoff)
    fast, source = F._shipping_status(orders, ships, cutoff=cutoff, order_rows=rows,
                                      provinces=F._province_parts(orders["province"]))
    pd.testing.assert_frame_equal(fast, plain)
    assert (orders["order_id"].to_numpy()[source] == plain["order_id"].to_numpy()).all()
    pd.testing.assert_frame_equal(F.parcel_outcomes(ships, orders, cutoff=cutoff, order_rows=rows),
                                  F.parcel_outcomes(ships, orders, cutoff=cutoff))
    # rates by text keys are counted on codes: the same as pandas' groupby on object keys
    keys = ["month", "channel"]
    generic = F.ship_rates(plain.astype({k: object for k in keys}), by=keys).astype({k: "str" for k in keys})
    pd.testing.assert_frame_equal(F.ship_rates(plain, by=keys), generic)


def test_report_arrays_count_what_the_tables_count(data, reports):
    # the reports count on arrays (no order-level status or parcel table is kept): every figure
    # must be what the public building blocks give on the full tables
    ship, carriers, _, refunds = reports
    orders, ships = data.orders, data.shipments
    rows = F._order_rows(data, "shipments")
    cfg = F._settings(data)
    st = F.shipping_status(orders, ships, cutoff=data.end, pauses=ship.pauses,
                           catch_up_days=int(cfg["pause_catch_up_days"]))
    pd.testing.assert_frame_equal(ship.monthly, F.ship_rates(st, by="month"))
    pd.testing.assert_frame_equal(ship.by_channel_month, F.ship_rates(st, by=["month", "channel"]))
    pd.testing.assert_frame_equal(ship.backlog, F.shipping_backlog(st, cutoff=data.end))
    daily = F.ship_anomalies(st, campaigns=data.campaigns)
    pd.testing.assert_frame_equal(ship.daily, daily)
    assert ship.daily["orders"].sum() == len(st)  # every counted order on its payment day
    # the carrier tables from the parcel arrays equal those of the outcome table, including an
    # empty window (the table path then gives the frame its types)
    due = st.set_index("order_id")["due_ts"]
    table = F.parcel_outcomes(ships, orders, cutoff=data.end, ship_due=due)
    arrays = F._Parcels(ships, orders, cutoff=data.end, ship_due=due, order_rows=rows)
    pd.testing.assert_frame_equal(arrays.frame(), table)
    w0, w1 = carriers.window
    for by in ("province", "region"):
        pd.testing.assert_frame_equal(F.carrier_cells(arrays, start=w0, end=w1, by=by),
                                      F.carrier_cells(table, start=w0, end=w1, by=by))
    pd.testing.assert_frame_equal(F.carrier_monthly(arrays), F.carrier_monthly(table))
    pd.testing.assert_frame_equal(F.carrier_scorecard(arrays, start=w0, end=w1),
                                  F.carrier_scorecard(table, start=w0, end=w1))
    empty = (T("2030-01-01"), T("2030-02-01"))
    pd.testing.assert_frame_equal(F._window_counts(arrays, ["carrier"], *empty),
                                  F._window_counts(table, ["carrier"], *empty))
    # refund reasons from the parcel flags equal those from the outcome table
    flags = arrays.flags(orders)
    reasons, _ = F._refund_reasons(orders, parcels=flags, tickets=data.service_tickets)
    pd.testing.assert_frame_equal(reasons, F.refund_reasons(orders, parcels=table, tickets=data.service_tickets))
    pd.testing.assert_frame_equal(reasons, refunds.reasons)
    assert reasons["reason_key"].isin(["lost", "late", "returned", "after_delivery", "before_shipping"]).any()


# ---------------------------------------------------------------------------------------------
# The compact paths a large shop runs on (orders read a column at a time, joined by row)
# ---------------------------------------------------------------------------------------------

def test_id_index_places_ids_by_hand():
    # Keys of width 3 that ascend: a01 < a02 < b05. "c01" (first byte above every key's), "a11"
    # (second byte outside the keys' range, which would pack onto another key if not caught) and
    # "a03" (inside the ranges, absent) are not keys; a missing id is -1 too.
    keys = pd.Series(["a01", "a02", "b05"], dtype="str")
    index = F._IdIndex.build(keys)
    ids = pd.Series(["b05", "a02", "c01", None, "a03", "a11", "a01"], dtype="str")
    assert index.positions(ids).tolist() == [2, 1, -1, -1, -1, -1, 0]
    # batches placed one after the other give the same answer as one batch
    batches = [ids.iloc[:2], ids.iloc[2:5], ids.iloc[5:]]
    assert index.place(batches).tolist() == [2, 1, -1, -1, -1, -1, 0]
    # ids of another width are no keys; ids of mixed widths cannot be placed here (None)
    assert index.positions(pd.Series(["a0", "b0"], dtype="str")).tolist() == [-1, -1]
    assert index.positions(pd.Series(["a0", "b055"], dtype="str")) is None
    # keys that do not ascend, repeat or have gaps: no index (the hash join is used instead)
    assert F._IdIndex.build(pd.Series(["a02", "a01"], dtype="str")) is None
    assert F._IdIndex.build(pd.Series(["a01", "a01"], dtype="str")) is None
    assert F._IdIndex.build(pd.Series(["a01", None], dtype="str")) is None


def test_order_rows_match_pandas_index_lookup(data):
    orders, ships = data.orders, data.shipments
    rows = F._order_rows(data, "shipments")
    assert rows.tolist() == pd.Index(orders["order_id"]).get_indexer(ships["order_id"]).tolist()
    index = F._IdIndex.build(orders["order_id"])
    small_batches = index.place(F._id_batches(data, "order_items", rows=1000))
    assert small_batches.tolist() == pd.Index(orders["order_id"]).get_indexer(data.order_items["order_id"]).tolist()


def test_ship_clock_on_arrays_equals_the_series_version():
    # paid at 10:00 on days around a pause (2026-02-10..2026-02-20, catch-up 3 days): the clock
    # stops for orders whose 48 hours run into it; one order unshipped, one shipped after 60 h
    paid = pd.to_datetime(["2026-02-01 10:00", "2026-02-09 10:00", "2026-02-12 10:00", "2026-03-01 10:00",
                           "2026-03-02 10:00"]).as_unit("us").to_numpy()
    shipped = pd.to_datetime(["2026-02-02 09:00", "2026-02-22 09:00", None, "2026-03-03 22:00",
                              None]).as_unit("us").to_numpy()
    pauses = pd.DataFrame({"start": pd.to_datetime(["2026-02-10"]), "end": pd.to_datetime(["2026-02-20"])})
    args = dict(cutoff=pd.Timestamp("2026-03-04"), ship_within_hours=48, pauses=pauses, catch_up_days=3)
    arrays, series = F._ship_clock(paid, shipped, **args), F._ship_clock_series(paid, shipped, **args)
    for key in ("due", "paused", "hours", "state", "w_known", "w_yes"):
        np.testing.assert_array_equal(arrays[key], series[key])
        assert arrays[key].dtype == series[key].dtype, key
    # by hand: on time; paused (due 2026-02-24, shipped 02-22: on time); paused, unshipped, due
    # 02-24 < cut-off: overdue; 60 h: late; unshipped and 42 h old at the cut-off: pending
    assert arrays["state"].tolist() == [0, 0, 2, 1, 3]
    assert arrays["paused"].tolist() == [False, True, True, False, False]


def test_group_median_equals_pandas():
    values = np.array([3.0, np.nan, 1.0, 2.0, 10.0, np.nan, 4.0, 4.0])
    group = np.array([0, 0, 0, 0, 2, 2, 3, 3])
    # group 0: median of 3, 1, 2 = 2; group 1: empty; group 2: 10; group 3: 4
    assert F._group_median(values, group, 4).tolist()[0] == 2.0
    expected = pd.Series(values).groupby(group).median().reindex(range(4)).to_numpy()
    np.testing.assert_array_equal(F._group_median(values, group, 4), expected)
    assert np.isnan(F._group_median(values, group, 4)[1])


def test_prepared_folder_gives_the_reports_of_the_loaded_tables(tmp_path, data, reports):
    # a prepared folder is read a column at a time (text as dictionary codes, rows by row group):
    # every table of the four sections equals what the in-memory tables give
    from playbook.loading import prepare

    prepared = playbook.load(prepare(data, tmp_path / "prep"), month="2026-10")
    ship, carriers, tickets, refunds = reports
    p_ship = F.shipping_report(prepared)
    p_car = F.carrier_report(prepared, shipping=p_ship)
    p_ref = F.refund_report(prepared, carriers=p_car)
    for a, b in [(ship.monthly, p_ship.monthly), (ship.by_channel_month, p_ship.by_channel_month),
                 (ship.daily, p_ship.daily), (ship.backlog, p_ship.backlog),
                 (ship.backlog_by_month, p_ship.backlog_by_month), (carriers.scorecard, p_car.scorecard),
                 (carriers.monthly, p_car.monthly), (carriers.provinces, p_car.provinces), (carriers.late, p_car.late),
                 (refunds.reasons, p_ref.reasons), (refunds.monthly, p_ref.monthly), (refunds.skus, p_ref.skus),
                 (refunds.sku_reasons, p_ref.sku_reasons)]:
        pd.testing.assert_frame_equal(a, b)
    assert len(p_ship.backlog) and len(p_car.late) and p_ref.return_rate == refunds.return_rate
    assert prepared.table_file("orders") is not None  # nothing read the whole orders table
    # the lines' SKUs read a row group at a time as dictionaries: pandas' sorted factorization
    codes, names = F._file_codes(prepared.table_file("order_items"), "sku")
    expected_codes, expected_names = pd.factorize(data.order_items["sku"], sort=True)
    assert codes.tolist() == expected_codes.tolist() and list(names) == list(expected_names)
