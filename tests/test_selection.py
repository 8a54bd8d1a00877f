"""Chapter 02 selection: hand-built tables whose answers were worked out by hand (the comments say
how), the textbook basket example of Tan, Steinbach & Kumar, and the sample shop's planted events
found where they were planted and not elsewhere (露营灯 take-off and 飞盘 fading, the nine bundles,
the three short titles, the SKU0049 undercut, S02's late and short deliveries, growing and
declining SKUs)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import playbook
from playbook import exercises, pack
from playbook import selection as S
from playbook.samples import PLANTED_EVENTS

ROOT = Path(__file__).resolve().parent.parent
T = pd.Timestamp


@pytest.fixture(scope="module")
def data():
    return playbook.load(ROOT / "data/samples", month="2026-10",
                         tables=["order_items", "products", "search_terms", "competitor_prices",
                                 "purchase_orders", "suppliers"])


# ---------------------------------------------------------------------------------------------
# Association rules: the textbook example
# ---------------------------------------------------------------------------------------------

def _market_baskets():
    # Tan, Steinbach & Kumar, Introduction to Data Mining (2006), Table 6.1: five transactions.
    baskets = {"1": ["Bread", "Milk"],
               "2": ["Bread", "Diapers", "Beer", "Eggs"],
               "3": ["Milk", "Diapers", "Beer", "Cola"],
               "4": ["Bread", "Milk", "Diapers", "Beer"],
               "5": ["Bread", "Milk", "Diapers", "Cola"]}
    return pd.DataFrame([(t, i) for t, items in baskets.items() for i in items], columns=["order_id", "sku"])


def _rule(rules, ante, cons):
    hit = rules[(rules["antecedent"] == tuple(ante)) & (rules["consequent"] == tuple(cons))]
    assert len(hit) == 1, (ante, cons)
    return hit.iloc[0]


def test_association_rules_textbook_example():
    rules = S.association_rules(_market_baskets(), min_support=0.4, min_confidence=0.0)
    # The book's worked rule {Milk, Diapers} -> {Beer}: support 2/5 = 0.4, confidence 2/3 = 0.67.
    r = _rule(rules, ["Diapers", "Milk"], ["Beer"])
    assert r["support"] == pytest.approx(0.4)
    assert r["confidence"] == pytest.approx(2 / 3)
    # lift = confidence / support(Beer) = (2/3) / (3/5) = 10/9
    assert r["lift"] == pytest.approx(10 / 9)
    # The book's other splits of {Milk, Diapers, Beer} (Section 6.1): {Milk, Beer} -> {Diapers} c = 1.0,
    # {Diapers, Beer} -> {Milk} c = 0.67, {Beer} -> {Milk, Diapers} c = 0.67,
    # {Milk} -> {Diapers, Beer} c = 0.5, {Diapers} -> {Milk, Beer} c = 0.5.
    assert _rule(rules, ["Beer", "Milk"], ["Diapers"])["confidence"] == pytest.approx(1.0)
    assert _rule(rules, ["Beer", "Diapers"], ["Milk"])["confidence"] == pytest.approx(2 / 3)
    assert _rule(rules, ["Beer"], ["Diapers", "Milk"])["confidence"] == pytest.approx(2 / 3)
    assert _rule(rules, ["Milk"], ["Beer", "Diapers"])["confidence"] == pytest.approx(0.5)
    assert _rule(rules, ["Diapers"], ["Beer", "Milk"])["confidence"] == pytest.approx(0.5)
    # {Beer} -> {Diapers}: support 3/5, confidence 3/3, lift 1 / (4/5) = 1.25
    r = _rule(rules, ["Beer"], ["Diapers"])
    assert (r["support"], r["confidence"], r["lift"]) == pytest.approx((0.6, 1.0, 1.25))
    # Frequent at 40% (counted by hand from the table): every single item but Eggs (1/5); the
    # triples in two transactions each: {Beer, Diapers, Milk} (3, 4), {Bread, Diapers, Milk} (4, 5),
    # {Beer, Bread, Diapers} (2, 4), {Cola, Diapers, Milk} (3, 5); every other triple is in one.
    items = set(rules["antecedent"].explode()) | set(rules["consequent"].explode())
    assert "Eggs" not in items
    triples = rules[rules["size"] == 3]
    sets = {tuple(sorted(a + c)) for a, c in zip(triples["antecedent"], triples["consequent"])}
    assert sets == {("Beer", "Diapers", "Milk"), ("Bread", "Diapers", "Milk"), ("Beer", "Bread", "Diapers"),
                    ("Cola", "Diapers", "Milk")}


def test_association_rules_thresholds_and_duplicates():
    b = _market_baskets()
    # a duplicated line counts once
    dup = pd.concat([b, b.iloc[[0]]], ignore_index=True)
    pd.testing.assert_frame_equal(S.association_rules(dup, min_support=0.4, min_confidence=0.6),
                                  S.association_rules(b, min_support=0.4, min_confidence=0.6))
    rules = S.association_rules(b, min_support=0.4, min_confidence=0.6)
    assert (rules["confidence"] >= 0.6).all() and (rules["support"] >= 0.4).all()
    # pairs only when max_len=2
    assert set(S.association_rules(b, min_support=0.4, min_confidence=0, max_len=2)["size"]) == {2}
    # nothing is frequent at 100%
    assert S.association_rules(b, min_support=1.0, min_confidence=0).empty
    with pytest.raises(KeyError, match="order_items lacks column"):
        S.association_rules(b.rename(columns={"sku": "item"}), min_support=0.1, min_confidence=0.1)


def test_association_rules_scale_without_dense_matrix():
    # 300,000 orders over 5,000 SKUs: a dense matrix would hold 1.5 billion cells. Pair A+B is
    # planted in 1% of the orders, the rest is random.
    rng = np.random.default_rng(1)
    n = 300_000
    order = np.repeat(np.arange(n), 2)
    sku = rng.integers(0, 5000, size=2 * n)
    planted = rng.random(n) < 0.01
    sku[0::2][planted] = 5001
    sku[1::2][planted] = 5002
    items = pd.DataFrame({"order_id": order.astype(str), "sku": sku.astype(str)})
    rules = S.association_rules(items, min_support=0.002, min_confidence=0.1)
    assert set(rules["antecedent"].str[0]) == {"5001", "5002"}
    assert rules["lift"].min() > 50


def test_bundle_candidates_by_hand():
    # orders: 1 = A + B (paid 130), 2 = A (100), 3 = A (100), 4 = C (50)
    lines = pd.DataFrame({"order_id": ["1", "1", "2", "3", "4"], "sku": ["A", "B", "A", "A", "C"],
                          "qty": [1.0] * 5, "revenue": [100.0, 30.0, 100.0, 100.0, 50.0],
                          "paid_amount": [130.0, 130.0, 100.0, 100.0, 50.0]})
    rules = S.association_rules(lines, min_support=0.25, min_confidence=0.0)
    # support A 3/4, B 1/4, AB 1/4: confidence A -> B 1/3, lift (1/3) / (1/4) = 4/3
    b = S.bundle_candidates(rules, lines, min_lift=1.0, uptake=0.5, discount=0.1,
                            prices=pd.Series({"B": 20.0})).iloc[0]
    assert (b["anchor"], b["partner"], b["orders_both"]) == ("A", "B", 1)
    assert (b["attach_rate"], b["lift"]) == pytest.approx((1 / 3, 4 / 3))
    # both: 130; anchor alone: orders 2 and 3 = 100; uplift 30%
    assert (b["aov_both"], b["aov_anchor_only"], b["aov_uplift"]) == pytest.approx((130, 100, 0.3))
    # 2 anchor-only orders x 50% uptake x 20 x 0.9 = 18; AOV (130+100+100+50)/4 = 95 -> 18 / 4 / 95
    assert b["expected_extra_revenue"] == pytest.approx(18)
    assert b["expected_aov_effect"] == pytest.approx(18 / 4 / 95)
    # lift 4/3 is under a line of 2: no candidate
    assert S.bundle_candidates(rules, lines, min_lift=2.0).empty


def test_category_scorecard_weights_by_revenue():
    sc = pd.DataFrame({"sku": ["a", "b", "c"], "category": ["k", "k", "m"], "revenue": [300.0, 100.0, 50.0],
                       "demand_score": [100.0, 0.0, 50.0], "growth_score": [np.nan, 40.0, 50.0],
                       "margin_score": 50.0, "competition_score": 50.0, "supply_score": 50.0,
                       "score": [80.0, 40.0, 60.0]})
    cats = S.category_scorecard(sc).set_index("category")
    # k: demand (300*100 + 100*0) / 400 = 75; growth only b has one -> 40; score (300*80 + 100*40)/400 = 70
    assert cats.loc["k", ["demand_score", "growth_score", "score"]].tolist() == pytest.approx([75, 40, 70])
    assert cats.loc["k", "share"] == pytest.approx(400 / 450)


# ---------------------------------------------------------------------------------------------
# Growth, scores, lifecycle, prices: hand-built
# ---------------------------------------------------------------------------------------------

def test_growth_table_year_over_year_and_fallback():
    f = pd.DataFrame({"k": ["a", "a", "b", "b"], "v": [10, 30, 10, 5],
                      "d": pd.to_datetime(["2025-09-10", "2026-09-10", "2025-09-10", "2026-09-10"])})
    g = S.growth_table(f, key="k", date="d", value="v", end="2026-10-01", months=1).set_index("k")
    # a: 30 / 10 - 1 = +200% (rising); b: 5 / 10 - 1 = -50% (fading)
    assert g.loc["a", "growth"] == pytest.approx(2.0) and g.loc["a", "trend"] == "rising"
    assert g.loc["b", "growth"] == pytest.approx(-0.5) and g.loc["b", "trend"] == "fading"
    assert g.loc["a", "basis"] == "year over year"
    # data starting in 2026-08: no year back, so September is compared with August
    h = pd.DataFrame({"k": ["a", "a"], "v": [4, 6], "d": pd.to_datetime(["2026-08-02", "2026-09-02"])})
    g = S.growth_table(h, key="k", date="d", value="v", end="2026-10-01", months=1)
    assert g["basis"].iloc[0] == "previous months" and g["growth"].iloc[0] == pytest.approx(0.5)


def test_selection_scorecard_by_hand():
    m = pd.DataFrame({"sku": ["A", "B", "C"], "revenue": [300.0, 200.0, 100.0], "growth": [0.1, 0.3, 0.2],
                      "margin_rate": [0.5, 0.4, 0.3], "competitors": [0, 2, 1], "price_gap": [np.nan, 0.1, -0.1],
                      "lead_time_days": [10.0, 20.0, 30.0], "fill_rate": [1.0, 0.9, 0.8]})
    w = {"demand": 0.3, "growth": 0.2, "margin": 0.2, "competition": 0.15, "supply": 0.15}
    sc = S.selection_scorecard(m, weights=w).set_index("sku")
    # ranks onto 0/50/100: demand A100 B50 C0; growth A0 B100 C50; margin A100 B50 C0;
    # competition: count A100 B0 C50, gap (B,C only) B100 C0 -> A100, B50, C25; supply A100 B50 C0
    assert sc["competition_score"].to_dict() == pytest.approx({"A": 100, "B": 50, "C": 25})
    # A: .3*100 + .2*0 + .2*100 + .15*100 + .15*100 = 80
    # B: .3*50 + .2*100 + .2*50 + .15*50 + .15*50 = 60
    # C: .3*0 + .2*50 + .2*0 + .15*25 + .15*0 = 13.75
    assert sc["score"].to_dict() == pytest.approx({"A": 80, "B": 60, "C": 13.75})
    # a missing score is left out and the weights re-normalised: A without margin = 60 / 0.8 = 75
    sc2 = S.selection_scorecard(m.drop(columns="margin_rate"), weights=w).set_index("sku")
    assert sc2.loc["A", "score"] == pytest.approx(60 / 0.8)


def test_supply_capability_and_competition_by_hand():
    po = pd.DataFrame({"sku": ["A", "A", "B"], "order_date": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-01-01"]),
                       "expected_date": pd.to_datetime(["2026-01-11", "2026-02-11", "2026-01-11"]),
                       "received_date": pd.to_datetime(["2026-01-11", "2026-02-21", pd.NaT]),
                       "qty_ordered": [100, 100, 50], "qty_received": [100, 60, 0]})
    sup = S.supply_capability(po).set_index("sku")
    # A: lead times 10 and 20 days -> 15; fill 160/200 = 0.8; on time 1 of 2. B is still open.
    assert sup.loc["A", ["lead_time_days", "fill_rate", "on_time"]].tolist() == pytest.approx([15, 0.8, 0.5])
    assert "B" not in sup.index
    cp = pd.DataFrame({"date": pd.to_datetime(["2026-10-01"] * 3), "sku": ["A", "A", "B"],
                       "competitor": ["x", "y", "x"], "price": [90.0, 110.0, 80.0]})
    comp = S.competition(cp, pd.Series({"A": 100.0, "B": 100.0})).set_index("sku")
    assert comp.loc["A", "competitors"] == 2 and comp.loc["A", "price_gap"] == pytest.approx(0.0)
    assert comp.loc["B", "price_gap"] == pytest.approx(-0.2)


def test_role_performance_by_hand():
    lines = pd.DataFrame({"order_id": ["1", "2", "2", "3", "4"], "sku": ["t", "t", "p", "p", "i"],
                          "role": ["traffic", "traffic", "profit", "profit", "image"],
                          "revenue": [10.0, 10.0, 50.0, 50.0, 200.0], "cost": [8.0, 8.0, 25.0, 25.0, 100.0],
                          "paid_amount": [10.0, 60.0, 60.0, 50.0, 200.0]})
    r = S.role_performance(lines, first_order_ids=["1", "4"]).set_index("role")
    # first orders 1 and 4 have lines t, i: traffic share 1/2 vs 2/5 of all lines -> 1.25
    assert r.loc["traffic", "first_order_index"] == pytest.approx(1.25)
    # AOV = (10 + 60 + 50 + 200) / 4 = 80; image orders: 200 -> 2.5; traffic orders 1, 2: 35 -> 0.4375
    assert r.loc["image", "aov_index"] == pytest.approx(2.5)
    assert r.loc["traffic", "aov_index"] == pytest.approx(35 / 80)
    # gross profit 4 + 50 + 100 = 154; profit's share 50/154 against revenue share 100/320
    assert r.loc["profit", "margin_share"] == pytest.approx(50 / 154)
    assert bool(r.loc["profit", "plays_role"]) is (50 / 154 >= 100 / 320)
    assert bool(r.loc["traffic", "plays_role"]) and bool(r.loc["image", "plays_role"])


def test_lifecycle_stages_by_hand():
    months = pd.period_range("2024-10", "2026-09", freq="M").to_timestamp()
    rows = []
    for i, m in enumerate(months):
        rows += [(m, "flat", 100.0), (m, "down", 100.0 if i < 12 else 50.0), (m, "up", 100.0 if i < 12 else 200.0)]
    rows += [(T("2026-08-01"), "new", 10.0), (T("2026-09-01"), "new", 20.0)]
    sd = pd.DataFrame(rows, columns=["date", "sku", "revenue"])
    st = S.lifecycle_stages(sd, end="2026-10-01", months=12, short_months=3).set_index("sku")
    # shop: last 12 months 100+50+200 = 350 a month + 30 new against 300 -> trend 12*350+30 / 3600 - 1
    shop = (12 * 350 + 30) / 3600 - 1
    assert st.loc["flat", "relative_trend"] == pytest.approx(1 / (1 + shop) - 1)
    # flat: -14.5% against the shop: maturity; down: 0.5/1.175 - 1 = -57%: decline; up: +70%: growth
    assert st["stage"].to_dict() == {"down": "decline", "flat": "maturity", "new": "introduction", "up": "growth"}
    assert st.loc["new", "basis"].startswith("3 months")


def test_price_position_and_bands_by_hand():
    cp = pd.DataFrame({"date": pd.to_datetime(["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-01"]),
                       "sku": ["A", "A", "A", "B"], "competitor": ["x", "x", "x", "y"],
                       "price": [80.0, 84.0, 90.0, 120.0]})
    pos = S.price_position(cp, pd.Series({"A": 100.0, "B": 100.0}), undercut=0.15).set_index("sku")
    # A: competitor mean 84.67 -> index 100/84.67 = 1.18 (above); 2 days at 15%+ under (80, 84 <= 85)
    assert pos.loc["A", "price_index"] == pytest.approx(100 / (254 / 3))
    assert pos.loc["A", "position"] == "above (skimming)"
    assert pos.loc["A", "undercut_days"] == 2 and pos.loc["A", "lowest_ratio"] == pytest.approx(0.8)
    assert pos.loc["B", "position"] == "below (penetration)" and pos.loc["B", "undercut_days"] == 0
    prod = pd.DataFrame({"sku": list("abcdef"), "category": ["k"] * 6, "list_price": [10, 20, 30, 40, 50, 60.0]})
    bands = S.price_bands(prod, sales=pd.Series({"a": 1.0, "f": 3.0}))
    assert bands["band"].astype(str).tolist() == ["low", "mid", "high"]
    assert bands["price_from"].tolist() == [10, 30, 50] and bands["revenue_share"].tolist() == [0.25, 0, 0.75]


def test_title_quality_by_hand():
    prod = pd.DataFrame({"sku": ["a", "b", "c"], "category": ["k"] * 3,
                         "title": ["玻璃油壶", "玻璃油壶 500ml 防漏", "不粘锅 麦饭石 家用 少油烟"]})
    kw = pd.DataFrame({"category": ["k"], "term": ["不粘锅"], "searches": [10]})
    q = S.title_quality(prod, keywords=kw, min_chars=8).set_index("sku")
    assert q["too_short"].to_dict() == {"a": True, "b": False, "c": False}
    assert q["has_keyword"].to_dict() == {"a": False, "b": False, "c": True}
    assert q["has_attribute"].to_dict() == {"a": False, "b": True, "c": True}
    assert q.loc["a", "issues"] == 3 and q.loc["c", "issues"] == 0


# ---------------------------------------------------------------------------------------------
# The sample shop's planted events
# ---------------------------------------------------------------------------------------------

def test_planted_search_takeoff_and_fading_term(data):
    pe = PLANTED_EVENTS["search_takeoff"]
    demand = S.demand_report(data)
    assert set(demand.rising["term"]) == {pe["term"]}          # 露营灯, and no other term
    assert set(demand.fading["term"]) == {pe["fading_term"]}   # 飞盘, and no other term
    assert demand.rising["growth"].iloc[0] > 2                  # about 3x a year earlier
    assert demand.top_term == "露营灯"
    # before the take-off (2026-05) nothing is rising
    early = playbook.load(ROOT / "data/samples", month="2026-05", tables=["search_terms"])
    assert S.demand_report(early).rising_count == 0


def test_planted_bundles_and_nothing_else(data):
    planted = {(a, b) for a, b, _ in PLANTED_EVENTS["bundles"]["pairs"]}
    b = S.bundle_report(data)
    found = set(zip(b.bundles["anchor"], b.bundles["partner"]))
    assert found == planted
    # every planted pair is bought together far more often than chance
    assert b.bundles["lift"].min() > 3
    # the attach rates sit near the planted 12-25% (anchor -> partner)
    assert b.bundles["attach_rate"].between(0.10, 0.30).all()


def test_planted_short_titles_only(data):
    listing = S.listing_report(data)
    pe = PLANTED_EVENTS["short_titles"]
    assert set(listing.to_fix["sku"]) == set(pe["skus"])
    short = listing.listings[listing.listings["too_short"]]
    assert set(short["sku"]) == set(pe["skus"])
    assert (~short["has_keyword"] & ~short["has_attribute"]).all()


def test_planted_supply_and_undercut_in_scorecard_and_prices(data):
    sc = S.scorecard_report(data).skus.set_index("sku")
    # SKU0009 comes from late, short-filling S02: among the worst supply scores
    assert sc.loc["SKU0009", "fill_rate"] < 0.9
    assert sc.loc["SKU0009", "supply_score"] <= sc["supply_score"].quantile(0.05)
    pe = PLANTED_EVENTS["competitor_undercut"]
    und = S.price_report(data).undercut
    assert und["sku"].tolist() == [pe["sku"]]                    # SKU0049 and no other SKU
    days = (T(pe["end"]) - T(pe["start"])).days + 1              # 2026-10-06 .. 10-26: 21 days
    assert und["undercut_by"].iloc[0] == pe["competitor"] and und["undercut_days"].iloc[0] == days
    assert und["lowest_ratio"].iloc[0] == pytest.approx(pe["price_ratio"], abs=0.01)


def test_planted_lifecycle(data):
    life = S.lifecycle_report(data)
    for sku in ["SKU0061", "SKU0057", "SKU0092", "SKU0110"]:   # the declining products
        assert life.stage_of(sku) == "decline", sku
    assert life.stage_of("SKU0010") == "growth"                 # 磁吸挂灯, launched 2025-06
    for sku in ["SKU0001", "SKU0005", "SKU0067"]:               # steady best sellers
        assert life.stage_of(sku) == "maturity", sku
    # 卡式炉 SKU0020 (2026-03) runs ahead of the launches before it at the same age
    launches = life.launches.set_index("sku")
    assert launches.loc["SKU0020", "index"] > 2


def test_orders_only_source_skips_every_section():
    data = playbook.load(ROOT / "data/samples", month="2026-10", tables=[])
    record = pack.ChapterRecord("02_selection", month="2026-10")
    demand = S.demand_report(data, record=record)
    assert "order_items" in demand.note and demand.fading_count is None
    assert any(s.startswith("Search-term growth") for s in record.skipped)
    assert S.bundle_report(data).bundle_count == 0
    assert "note" in S.listing_report(data).to_fix
    assert np.isnan(S.scorecard_report(data).weak_revenue_share)
    assert np.isnan(S.role_report(data).value("traffic", "first_order_index"))
    assert np.isnan(S.lifecycle_report(data).decline_revenue_share)
    assert "note" in S.price_report(data).undercut


def test_other_month_runs(data):
    early = playbook.load(ROOT / "data/samples", month="2025-06",
                          tables=["order_items", "products", "search_terms", "competitor_prices"])
    demand = S.demand_report(early)
    assert demand.terms["basis"].iloc[0] == "previous months"
    assert demand.fading_count is None and "season" in demand.basis_note and demand.alerts.empty
    assert S.bundle_report(early).bundle_count > 0
    assert S.lifecycle_report(early).stages["stage"].notna().all()
    assert S.price_report(early).undercut.empty                 # the undercut is October 2026 only


def test_exercises(data):
    growth = S.demand_report(data).rising.set_index("term").loc["露营灯", "growth"]
    assert "correct" in exercises.check("02.term_growth", growth, data)
    b = S.bundle_report(data).bundles.set_index("anchor")
    assert "correct" in exercises.check("02.attach_rate", b.loc["SKU0001", "attach_rate"], data)
    assert "not yet" in exercises.check("02.attach_rate", 0.9, data)


def test_sales_lines_equal_the_plain_merges(data):
    orders, items, prod = data["orders"], data["order_items"], data["products"]
    paid = orders.loc[playbook.metrics.paid_mask(orders), ["order_id", "order_ts", "customer_id", "channel", "paid_amount"]]
    want = items[["order_id", "sku", "qty", "unit_price"]].merge(paid, on="order_id")
    want["qty"] = want["qty"].astype("float64")
    want["revenue"] = want["qty"] * want["unit_price"]
    want = want.merge(prod[["sku", "category", "role", "unit_cost"]], on="sku", how="left")
    want["cost"] = want["qty"] * want["unit_cost"]
    pd.testing.assert_frame_equal(S._sales_lines(data), want)


def test_sections_on_codes_equal_the_sections_on_frames(data):
    """bundle_report and role_report group integer codes of the cached lines; the public functions
    on the plain line frames must give the same tables."""
    s, end = data.settings["selection"], S._end(data)
    lines = S.sales_lines(data, start=end - int(s["basket_days"]) * S.DAY, end=end)
    rules = S.association_rules(lines, min_support=float(s["min_support"]), min_confidence=float(s["min_confidence"]),
                                max_len=int(s["max_itemset"]))
    got = S.bundle_report(data)
    pd.testing.assert_frame_equal(got.rules, rules)
    prod = data["products"].set_index("sku")
    want = S.bundle_candidates(rules, lines, min_lift=float(s["bundle_min_lift"]), uptake=float(s["bundle_uptake"]),
                               discount=float(s["bundle_discount"]), prices=prod["list_price"], titles=prod["title"])
    assert len(want) and want["anchor"].tolist() == got.bundles["anchor"].tolist()
    pd.testing.assert_series_equal(want["orders_both"], got.bundles["orders_both"])
    # the rules do not depend on the lines' order (the merge path for lines not stored order by order)
    shuffled = S.association_rules(lines.sample(frac=1, random_state=3), min_support=float(s["min_support"]),
                                   min_confidence=float(s["min_confidence"]), max_len=int(s["max_itemset"]))
    pd.testing.assert_frame_equal(shuffled, rules)
    # roles: first orders from customer_summary, as role_report finds them
    role_lines = S.sales_lines(data, start=end - int(s["role_days"]) * S.DAY, end=end)
    cs = data.derived("customer_summary")
    firsts = set(cs["customer_id"] + "|" + cs["first_order_ts"].astype(str))
    o = data["orders"]
    o = o[playbook.metrics.paid_mask(o) & (o["order_ts"] >= end - int(s["role_days"]) * S.DAY)]
    first_ids = o.loc[(o["customer_id"] + "|" + o["order_ts"].astype(str)).isin(firsts), "order_id"]
    pd.testing.assert_frame_equal(S.role_report(data).roles, S.role_performance(role_lines, first_order_ids=first_ids))


def test_sales_lines_windows_and_cancelled_orders():
    """Lines of a cancelled order are left out, windows are [start, end), with lines in or out of
    time order (slices or masks)."""
    orders = pd.DataFrame({"order_id": ["a", "b", "c", "d"], "status": ["paid", "cancelled", "paid", "refunded"],
                           "order_ts": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]),
                           "paid_amount": [10.0, 20.0, 30.0, 40.0]})
    items = pd.DataFrame({"order_id": ["a", "b", "c", "c", "d"], "sku": ["x", "y", "x", "y", "y"],
                          "qty": [1, 2, 3, 1, 2], "unit_price": [10.0, 10.0, 5.0, 15.0, 20.0]})
    prod = pd.DataFrame({"sku": ["y", "x"], "category": ["B", "A"], "unit_cost": [4.0, 2.0]})
    ds = {"orders": orders, "order_items": items, "products": prod}
    for it in (items, items.iloc[::-1].reset_index(drop=True)):
        ds["order_items"] = it
        lines = S.sales_lines(ds)
        assert sorted(lines["order_id"]) == ["a", "c", "c", "d"]
        w = S.sales_lines(ds, start="2026-01-02", end="2026-01-04")
        assert w["order_id"].tolist() == ["c", "c"] and w["revenue"].tolist() == ([15.0, 15.0])
        assert w["category"].tolist() == (["A", "B"] if it is items else ["B", "A"])
        assert w["cost"].tolist() == ([6.0, 4.0] if it is items else [4.0, 6.0])


def test_sales_lines_when_an_order_id_repeats_on_a_cancelled_order():
    """An id on two orders, one cancelled: the lines join the paid one (its time and amount);
    when two paid orders share an id, the lines are made by a merge (each line once per order)."""
    orders = pd.DataFrame({"order_id": ["a", "b", "a"], "status": ["cancelled", "paid", "paid"],
                           "order_ts": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"]),
                           "paid_amount": [10.0, 20.0, 30.0]})
    items = pd.DataFrame({"order_id": ["a", "b"], "sku": ["x", "x"], "qty": [2, 1], "unit_price": [5.0, 20.0]})
    prod = pd.DataFrame({"sku": ["x"], "category": ["A"], "unit_cost": [1.0]})
    ds = {"orders": orders, "order_items": items, "products": prod}
    lines = S.sales_lines(ds)
    assert lines["order_id"].tolist() == ["a", "b"] and lines["paid_amount"].tolist() == [30.0, 20.0]
    assert lines["order_ts"].tolist() == [T("2026-01-03"), T("2026-01-02")] and lines["revenue"].tolist() == [10.0, 20.0]
    ds["orders"] = orders.assign(status="paid")
    merged = S.sales_lines(ds)
    assert sorted(merged["paid_amount"].tolist()) == [10.0, 20.0, 30.0]  # line a joins both orders a


def test_sections_on_a_prepared_folder_equal_the_loaded_data(data, tmp_path):
    """On a prepared folder the lines are joined from the files (ids read row group by row group,
    SKUs as a dictionary, only numbers kept): every section equals the loaded dataset's, and the
    orders and order_items tables are never read whole."""
    from playbook.loading import prepare

    prepared = playbook.load(prepare(data, tmp_path / "prep"), month="2026-10")
    lines = S._lines_of(prepared)
    assert lines.merged is None and lines.by_rows and lines.orders.dtype == np.int32
    for report, tables in [(S.demand_report, ["categories", "terms"]), (S.bundle_report, ["rules", "bundles"]),
                           (S.scorecard_report, ["skus", "categories"]), (S.role_report, ["roles"]),
                           (S.lifecycle_report, ["stages"]), (S.price_report, ["bands"])]:
        got, want = report(prepared), report(data)
        for t in tables:
            pd.testing.assert_frame_equal(getattr(got, t), getattr(want, t), check_exact=True, obj=f"{report.__name__}.{t}")
    assert prepared.table_file("orders") is not None and prepared.table_file("order_items") is not None
    end = S._end(data)
    pd.testing.assert_frame_equal(S.sales_lines(prepared, start=end - 30 * S.DAY, end=end),
                                  S.sales_lines(data, start=end - 30 * S.DAY, end=end))
