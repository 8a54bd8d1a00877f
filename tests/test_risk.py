"""Chapter 07 risk: hand-built tables whose answers are worked out in the comments, reference
implementations (scipy's Welch t-test, statsmodels' Wilson interval) and the sample shop's planted
events found where they were planted and nowhere else."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

import playbook
from playbook import exercises, pack, risk
from playbook.samples import PLANTED_EVENTS, planted_event_ids

ROOT = Path(__file__).resolve().parent.parent
D = pd.Timestamp


# ---------------------------------------------------------------------------------------------
# Compliance
# ---------------------------------------------------------------------------------------------

def test_bundled_lexicon_is_versioned_and_complete():
    lex = risk.load_lexicon()
    assert lex.attrs["lexicon_version"] == "1.0"
    banned = lex[lex["kind"] == "banned"]
    # the brief's terms are all there, each with a category, a legal basis and a suggestion
    for term in ["最佳", "最低价", "第一", "国家级", "顶级", "极品", "首选", "最", "最高级", "唯一", "全网第一",
                 "万能"]:
        assert term in set(banned["term"]), term
    assert (banned["legal_basis"].str.len() > 0).all() and (banned["suggestion"].str.len() > 0).all()
    assert banned["legal_basis"].str.contains("Art. 9(3)", regex=False).sum() > 30
    assert {"最近", "第一次", "第一步"} <= set(lex.loc[lex["kind"] == "allowed", "term"])


def test_lexicon_errors_name_the_problem(tmp_path):
    bad = tmp_path / "dup.csv"
    bad.write_text("# lexicon_version: 9\nterm,kind,category,legal_basis,suggestion\n最,banned,a,b,c\n最,banned,a,b,c\n",
                   encoding="utf-8")
    with pytest.raises(ValueError, match="twice"):
        risk.load_lexicon(bad)
    bad.write_text("term,kind,category,legal_basis,suggestion\n最,maybe,a,b,c\n", encoding="utf-8")
    with pytest.raises(ValueError, match="kind"):
        risk.load_lexicon(bad)
    with pytest.raises(FileNotFoundError, match="lexicon_file"):
        risk.load_lexicon(tmp_path / "missing.csv")


def test_scan_text_positions_longest_match_and_allow_list():
    texts = pd.Series({
        "A": "最近上新 保温效果最佳",   # 最近 allowed; 最佳 at 10 (最近上新 = 1-4, space = 5, 保温效果 = 6-9)
        "B": "销量第一 第一次露营",     # 销量第一 once at 1 (not also 第一); 第一次 allowed
        "C": "最好的最低价",            # 最好 at 1, 最低价 at 4 (positions add up across matches)
        "D": "no.1 帐篷",               # Latin letters ignore case: NO.1
        "E": "最大承重150kg",           # a specification on the allow-list
        "F": None,
    })
    found = risk.scan_text(texts)
    got = list(zip(found["item"], found["term"], found["position"]))
    assert got == [("A", "最佳", 10), ("B", "销量第一", 1), ("C", "最好", 1), ("C", "最低价", 4),
                   ("D", "NO.1", 1)]
    assert found.loc[found["item"] == "D", "matched"].item() == "no.1"
    every = risk.scan_text(texts, include_allowed=True)
    assert set(every.loc[every["kind"] == "allowed", "term"]) == {"最近", "第一次", "最大承重"}
    assert risk.scan_text(pd.Series(dtype="str")).empty


def test_custom_lexicon_and_suggested_text(tmp_path):
    path = tmp_path / "lex.csv"
    path.write_text("# lexicon_version: 2.1\nterm,kind,category,legal_basis,suggestion,replacement,added_in\n"
                    "爆款,banned,hype,platform rule,remove it,热卖,2.1\n爆款们,allowed,harmless,,plural,,2.1\n",
                    encoding="utf-8")
    lex = risk.load_lexicon(path)
    assert lex.attrs["lexicon_version"] == "2.1"
    found = risk.scan_text(pd.Series({"X": "今年爆款 爆款们"}), lexicon=lex)
    assert found[["term", "position"]].values.tolist() == [["爆款", 3]]
    assert risk._rewrite(pd.Series(["今年爆款 爆款们"]), lex, "fix").item() == "今年热卖 爆款们"
    assert risk._rewrite(pd.Series(["今年爆款 爆款们"]), lex, "mark").item() == "今年【爆款】 爆款们"


# ---------------------------------------------------------------------------------------------
# Supply
# ---------------------------------------------------------------------------------------------

def test_hhi_worked_examples():
    assert risk.hhi([0.5, 0.3, 0.2]) == 3800.0  # 50² + 30² + 20²
    assert risk.hhi([1.0]) == 10_000.0
    assert risk.hhi([1] * 8) == 1250.0  # eight equal suppliers: 8 x 12.5²
    assert math.isnan(risk.hhi([]))


def test_supplier_concentration_by_purchase_value_in_window():
    po = pd.DataFrame({"po_id": ["1", "2", "3", "4"], "supplier_id": ["S1", "S1", "S2", "S3"], "sku": ["a", "b", "c", "d"],
                       "order_date": pd.to_datetime(["2026-01-05", "2026-02-01", "2026-02-10", "2025-06-01"]),
                       "qty_ordered": pd.array([10, 20, 10, 99], dtype="Int64"), "unit_cost": [5.0, 5.0, 15.0, 1.0]})
    sup = pd.DataFrame({"supplier_id": ["S1", "S2"], "name": ["One", "Two"]})
    c = risk.supplier_concentration(po, start="2026-01-01", end="2026-03-01", suppliers=sup)
    # S1: 10x5 + 20x5 = 150, S2: 10x15 = 150; S3's PO is outside the window
    assert c[["supplier_id", "name", "purchase_value", "share", "skus"]].values.tolist() == [
        ["S1", "One", 150.0, 0.5, 2], ["S2", "Two", 150.0, 0.5, 1]]


def test_single_sourced_skus_weighted_by_sales():
    prod = pd.DataFrame({"sku": ["a", "b", "c"], "supplier_id": ["S1", "S1", "S2"],
                         "backup_supplier_id": [None, "S2", ""]})
    out = risk.single_sourced_skus(prod, pd.Series({"a": 60.0, "b": 30.0, "c": 10.0})).set_index("sku")
    assert out["single_sourced"].to_dict() == {"a": True, "b": False, "c": True}
    assert out.loc["a", "sales_share"] == 0.6 and out.loc["c", "cum_share"] == pytest.approx(0.7)
    assert math.isnan(out.loc["b", "cum_share"])


def _po(rows):
    return pd.DataFrame(rows, columns=["po_id", "supplier_id", "sku", "order_date", "expected_date", "received_date",
                                       "qty_ordered", "qty_received"]).assign(
        order_date=lambda t: pd.to_datetime(t["order_date"]), expected_date=lambda t: pd.to_datetime(t["expected_date"]),
        received_date=lambda t: pd.to_datetime(t["received_date"]),
        qty_ordered=lambda t: t["qty_ordered"].astype("Int64"), qty_received=lambda t: t["qty_received"].astype("Int64"))


def test_supplier_scorecard_hand_worked():
    rows = []
    # supplier A: five baseline POs in 2025 with lead times 9, 10, 10, 10, 11 days (mean 10)
    for i, (d, lead) in enumerate(zip(["2025-06-01", "2025-06-10", "2025-06-20", "2025-07-01", "2025-07-10"],
                                      [9, 10, 10, 10, 11])):
        rows.append([f"A0{i}", "A", "x", d, D(d) + pd.Timedelta(days=10), D(d) + pd.Timedelta(days=lead), 10, 10])
    rows += [  # recent window: expected 2026-01-01 .. 2026-03-31 (as_of 2026-04-01)
        ["A1", "A", "x", "2026-01-01", "2026-01-11", "2026-01-11", 10, 10],   # 0 days late, lead 10
        ["A2", "A", "x", "2026-01-10", "2026-01-20", "2026-01-21", 10, 10],   # 1 late, lead 11
        ["A3", "A", "x", "2026-02-01", "2026-02-11", "2026-02-14", 10, 8],    # 3 late (= grace): on time, lead 13
        ["A4", "A", "x", "2026-02-10", "2026-02-20", "2026-02-24", 10, 6],    # 4 late, lead 14
        ["A5", "A", "x", "2026-03-01", "2026-03-11", None, 10, None],         # open, 20 days overdue at 03-31: late
        # received after as_of, so still open; 1 day over expected (within the grace): undecided
        ["A6", "A", "x", "2026-03-20", "2026-03-30", "2026-04-05", 10, 10],
    ]
    for i, d in enumerate(["2025-05-01", "2025-05-11", "2025-05-21", "2025-05-31", "2026-01-05", "2026-01-15",
                           "2026-02-05", "2026-02-15"]):  # supplier B: always 7 days, on time, full
        rows.append([f"B{i}", "B", "y", d, D(d) + pd.Timedelta(days=7), D(d) + pd.Timedelta(days=7), 5, 5])
    po = _po(rows)
    before = po.copy()
    card = risk.supplier_scorecard(po, as_of="2026-04-01", recent_days=90, baseline_days=365, grace_days=3, min_pos=4,
                                   drift_min_days=3).set_index("supplier_id")
    pd.testing.assert_frame_equal(po, before)  # inputs are never modified
    a = card.loc["A"]
    assert a["pos_due"] == 5 and a["on_time_rate"] == pytest.approx(3 / 5)  # A1, A2, A3 of A1..A5
    assert a["fill_rate"] == pytest.approx(34 / 40)  # received POs A1..A4
    assert a["overdue_open"] == 2 and a["mean_days_late"] == pytest.approx((0 + 1 + 3 + 4 + 20 + 1) / 6)
    assert a["lead_time_recent"] == 12.0 and a["lead_time_baseline"] == 10.0 and a["drift_days"] == 2.0
    # Welch's one-sided test against scipy's implementation
    ref = stats.ttest_ind([10, 11, 13, 14], [9, 10, 10, 10, 11], equal_var=False, alternative="greater").pvalue
    assert a["drift_p"] == pytest.approx(ref)
    assert a["flagged"] and "on time 60%" in a["reasons"] and "fill rate 85%" in a["reasons"]
    assert "lead time" not in a["reasons"]  # +2 days is under drift_min_days
    b = card.loc["B"]
    assert b["on_time_rate"] == 1.0 and b["fill_rate"] == 1.0 and not b["flagged"] and b["reasons"] == ""
    # a larger drift is flagged as one
    drifted = risk.supplier_scorecard(po, as_of="2026-04-01", min_pos=4, drift_min_days=1.5, drift_alpha=0.1)
    assert "lead time 12.0 days against 10.0 before" in drifted.set_index("supplier_id").loc["A", "reasons"]


def test_welch_matches_scipy_on_random_groups():
    rng = np.random.default_rng(7)
    x, y = rng.normal(12, 2, 9), rng.normal(10, 3, 14)
    p = risk._welch_greater(x.mean(), x.var(ddof=1), 9, y.mean(), y.var(ddof=1), 14)
    assert p == pytest.approx(stats.ttest_ind(x, y, equal_var=False, alternative="greater").pvalue)


# ---------------------------------------------------------------------------------------------
# Competition
# ---------------------------------------------------------------------------------------------

def test_undercut_runs_need_depth_and_consecutive_days():
    days = pd.date_range("2026-10-01", periods=12)
    rows = [("A", "X", d, 80.0 if i != 8 else 90.0) for i, d in enumerate(days)]   # 8 days at -20%, 1 at -10%, 3 at -20%
    rows += [("A", "Y", d, 85.0 if i < 7 else 95.0) for i, d in enumerate(days[:8])]  # exactly 15% below for 7 days
    rows += [("A", "Z", d, 70.0) for i, d in enumerate(days[:9]) if i != 4]  # a missing day splits 4 + 4 days
    cp = pd.DataFrame(rows, columns=["sku", "competitor", "date", "price"])
    idx = risk.price_index(cp, pd.Series({"A": 100.0}))
    assert idx.loc[idx["competitor"] == "X", "index"].iloc[0] == pytest.approx(0.8)
    runs = risk.undercut_runs(idx, pct=0.15, min_days=7)
    assert runs[["competitor", "start", "end", "days"]].values.tolist() == [
        ["X", D("2026-10-01"), D("2026-10-08"), 8], ["Y", D("2026-10-01"), D("2026-10-07"), 7]]
    assert runs.loc[0, "mean_gap"] == pytest.approx(-0.2) and runs.loc[0, "mean_price"] == 80.0
    assert len(risk.undercut_runs(idx, pct=0.15, min_days=9)) == 0


# ---------------------------------------------------------------------------------------------
# Reputation
# ---------------------------------------------------------------------------------------------

def _reviews(spec):
    """spec: (sku, timestamp, n, rating) blocks -> a reviews table."""
    rows = [(sku, D(ts), rating) for sku, ts, n, rating in spec for _ in range(n)]
    r = pd.DataFrame(rows, columns=["sku", "review_ts", "rating"])
    r["rating"] = r["rating"].astype("Int64")
    r.insert(0, "review_id", [f"R{i}" for i in range(len(r))])
    return r


def test_bad_review_rates_monthly_and_per_sku_with_wilson_interval():
    r = _reviews([("A", "2026-10-03", 18, 5), ("A", "2026-10-04", 2, 1), ("B", "2026-10-05", 30, 4),
                  ("B", "2026-10-06", 10, 2), ("A", "2026-09-10", 10, 5)])
    monthly = risk.monthly_bad_review_rate(r).set_index("month")
    assert monthly.loc["2026-10", "rate"] == pytest.approx(12 / 60) and monthly.loc["2026-09", "bad"] == 0
    skus = risk.sku_bad_review_rates(r, start="2026-10-01", end="2026-11-01", min_reviews=20).set_index("sku")
    lo, hi = proportion_confint(10, 40, alpha=0.05, method="wilson")
    assert skus.loc["B", "ci_low"] == pytest.approx(lo) and skus.loc["B", "ci_high"] == pytest.approx(hi)
    # B: 10 of 40 (25%, interval from 14% up) is clearly over 5%; A: 2 of 20 (10%) could be chance
    assert skus["over_line"].to_dict() == {"B": True, "A": False}


def test_review_spikes_binomial_test_against_own_baseline():
    base = [(s, "2026-06-15", 98, 5) for s in "ABC"] + [(s, "2026-06-16", 2, 1) for s in "ABC"]  # 2% each
    month = [("A", "2026-10-10", 12, 5), ("A", "2026-10-11", 8, 1),   # 8 bad of 20
             ("B", "2026-10-10", 19, 5), ("B", "2026-10-11", 1, 2),   # 1 bad of 20
             ("C", "2026-10-12", 3, 1),                               # 3 bad of 3: too few for a spike
             ("D", "2026-10-12", 10, 5)]                               # new SKU, no baseline
    r = _reviews(base + month)
    out = risk.review_spikes(r, start="2026-10-01", end="2026-11-01", baseline_months=6, prior_reviews=0, min_bad=5,
                             alpha=0.01).set_index("sku")
    # P(X >= 8) for X ~ Binomial(20, 0.02), summed by hand
    p_a = sum(math.comb(20, k) * 0.02 ** k * 0.98 ** (20 - k) for k in range(8, 21))
    assert out.loc["A", "p_value"] == pytest.approx(p_a, rel=1e-9)
    assert out.loc["C", "p_value"] == pytest.approx(0.02 ** 3)
    # Holm over the 4 SKUs tested: A is the smallest p-value, multiplied by 4
    assert out.loc["A", "p_adjusted"] == pytest.approx(4 * p_a)
    assert out.loc["A", "expected_bad"] == pytest.approx(0.4) and out.loc["D", "baseline_rate"] == pytest.approx(0.02)
    assert out["spike"].to_dict() == {"A": True, "C": False, "B": False, "D": False}
    # with the prior, a SKU's baseline is pulled towards the shop: (2 + 50 x 0.02) / (100 + 50) = 0.02
    shrunk = risk.review_spikes(r, start="2026-10-01", end="2026-11-01", prior_reviews=50).set_index("sku")
    assert shrunk.loc["A", "baseline_rate"] == pytest.approx(0.02)


def test_bad_review_replies_statuses():
    r = pd.DataFrame({
        "review_id": ["r1", "r2", "r3", "r4", "r5", "r6", "r7"], "sku": ["A"] * 7,
        "rating": pd.array([1, 2, 1, 2, 1, 5, 1], dtype="Int64"),
        "review_ts": pd.to_datetime(["2026-10-05 10:00", "2026-10-06 00:00", "2026-10-07 00:00", "2026-10-31 12:00",
                                     "2026-10-31 00:00", "2026-10-08 00:00", "2026-09-30 00:00"]),
        "reply_ts": pd.to_datetime(["2026-10-05 20:00", "2026-10-07 06:00", None, None, "2026-11-02 00:00", None, None]),
    })
    out = risk.bad_review_replies(r, start="2026-10-01", end="2026-11-01", within_hours=24).set_index("review_id")
    # r1 10 h: on time; r2 30 h: late; r3 never and its deadline passed; r4 and r5 are still within
    # their 24 hours at the month's end (r5's reply on 11-02 is not yet known); r6 is good, r7 September
    assert out["status"].to_dict() == {"r1": "on time", "r2": "late", "r3": "no reply", "r5": "pending", "r4": "pending"}
    assert out.loc["r2", "hours_to_reply"] == 30.0 and pd.isna(out.loc["r5", "reply_ts"])


# ---------------------------------------------------------------------------------------------
# Fraud
# ---------------------------------------------------------------------------------------------

def test_linked_accounts_are_graph_components():
    o = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e", "f", "a"],
                      "contact_hash": ["p1", "p1", "p3", "p4", "p5", "p6", "p1"],
                      "address_hash": ["x1", "x2", "x2", "x4", "y", "y", None]})
    g = risk.linked_accounts(o).set_index("customer_id")
    # a-b share phone p1, b-c share address x2: one group of three through the chain; e-f share y
    assert g["group_size"].to_dict() == {"a": 3, "b": 3, "c": 3, "d": 1, "e": 2, "f": 2}
    assert g.loc["a", "group_id"] == g.loc["c", "group_id"] == "L00001" and g.loc["d", "group_id"] == "L00002"
    assert g.loc["a", "contacts"] == 1 and g.loc["b", "addresses"] == 1


def _fraud_orders():
    """100 ordinary customers; a ring of 3 accounts on one phone (3 addresses, sign-ups within 8
    days, NEW coupon, all refunded); a family of 2 sharing an address (own phones, sign-ups 14
    months apart, 2 orders each, no coupon)."""
    rows, cust = [], []
    for i in range(100):
        rows.append((f"N{i:03d}", f"pN{i}", f"aN{i}", D("2025-01-01") + pd.Timedelta(days=i), None, "paid"))
        cust.append((f"N{i:03d}", D("2024-06-01") + pd.Timedelta(days=i)))
    for i, day in enumerate(["2026-03-01", "2026-03-05", "2026-03-09"]):
        rows.append((f"R{i}", "ring", f"r{i}", D(day) + pd.Timedelta(hours=2), "NEW", "refunded"))
        cust.append((f"R{i}", D(day)))
    for c, phone, first in [("F1", "f1", "2024-01-01"), ("F2", "f2", "2025-03-01")]:
        for k in range(2):
            rows.append((c, phone, "home", D(first) + pd.Timedelta(days=30 + 60 * k), None, "paid"))
        cust.append((c, D(first)))
    o = pd.DataFrame(rows, columns=["customer_id", "contact_hash", "address_hash", "order_ts", "coupon_code", "status"])
    o.insert(0, "order_id", [f"O{i}" for i in range(len(o))])
    o["paid_amount"] = 100.0
    o["refund_amount"] = np.where(o["status"] == "refunded", 100.0, 0.0)
    return o, pd.DataFrame(cust, columns=["customer_id", "signup_ts"])


def test_coupon_abuse_and_new_customer_coupons():
    o, _ = _fraud_orders()
    abuse = risk.coupon_abuse(o, ["NEW"])
    assert abuse[["contact_hash", "accounts", "coupon_accounts"]].values.tolist() == [["ring", 3, 3]]
    assert risk.new_customer_coupons(o, min_uses=3) == ["NEW"]  # 3 uses, all on first orders
    assert risk.new_customer_coupons(o) == []  # fewer than 10 uses: not enough to call it one


def test_abnormal_refunds_binomial_with_bh():
    o, _ = _fraud_orders()
    groups = risk.linked_accounts(o)
    out = risk.abnormal_refunds(o, groups, min_refunds=3, alpha=0.01)
    shop = 3 / 107  # 3 refunded of 107 paid orders
    top = out.iloc[0]
    assert top["accounts"] == 3 and top["refunds"] == 3 and top["shop_rate"] == pytest.approx(shop)
    assert top["p_value"] == pytest.approx(shop ** 3)  # P(X >= 3) for X ~ Binomial(3, shop)
    assert top["p_adjusted"] == pytest.approx(shop ** 3 * 102)  # BH, smallest of 102 units
    assert out["abnormal"].sum() == 1


def test_fraud_scores_ring_versus_family():
    o, customers = _fraud_orders()
    settings = playbook.load_settings()["fraud"]
    scores = risk.fraud_scores(o, customers=customers, settings=settings, coupons=["NEW"]).set_index("customer_id")
    # ring: phone 35 + burst 20 + coupon 25 + refunds 15 + one order 5 = 100
    assert scores.loc[["R0", "R1", "R2"], "score"].tolist() == [100, 100, 100]
    assert "shares a phone" in scores.loc["R0", "reasons"]
    # the family (shared address only, own phones, sign-ups 14 months apart) scores nothing
    assert not {"F1", "F2"} & set(scores.index) and len(scores) == 3
    # as of before the ring existed, nobody scores
    assert risk.fraud_scores(o, customers=customers, settings=settings, coupons=["NEW"], as_of="2026-02-01").empty


# ---------------------------------------------------------------------------------------------
# Sections on a source without the optional tables
# ---------------------------------------------------------------------------------------------

def test_sections_skip_with_notes_on_an_orders_only_source(tmp_path):
    o, _ = _fraud_orders()
    o.drop(columns=["contact_hash", "address_hash"]).to_csv(tmp_path / "orders.csv", index=False)
    data = playbook.load(tmp_path, month="2026-03")
    sections = [risk.compliance_review(data), risk.supply_risk(data), risk.competition_watch(data),
                risk.reputation_watch(data), risk.fraud_review(data)]
    for s in sections:
        assert s.notes, s.title
        assert all(isinstance(t, pd.DataFrame) for t in s.tables.values())
    assert sections[0].items_flagged is None and sections[3].bad_review_rate is None
    assert "contact_hash" in sections[4].note
    record = pack.ChapterRecord("07_risk", month="2026-03")
    assert len(risk.record_notes(record, *sections)) == len(record.skipped) >= 5
    with pytest.raises(AttributeError, match="no table or figure"):
        sections[0].nonsense


def test_sections_on_a_small_shop_with_every_table(tmp_path):
    """A quiet shop (clean titles, punctual suppliers, competitors within 5%, few bad reviews) with
    the ring of _fraud_orders signing up in March 2026: only the ring raises an alert."""
    o, customers = _fraud_orders()
    o["channel"] = "own_site"
    o.to_csv(tmp_path / "orders.csv", index=False)
    customers.to_csv(tmp_path / "customers.csv", index=False)
    pd.DataFrame({"sku": ["A", "B"], "category": ["x", "x"], "title": ["第一次露营 折叠椅", "收纳盒 大号"],
                  "list_price": [100.0, 50.0], "supplier_id": ["S1", "S2"], "backup_supplier_id": ["S2", None]}
                 ).to_csv(tmp_path / "products.csv", index=False)
    days = pd.date_range("2025-12-01", "2026-03-31")
    pd.DataFrame({"date": np.tile(days, 2), "sku": np.repeat(["A", "B"], len(days)), "competitor": "X",
                  "price": np.repeat([97.0, 52.0], len(days))}).to_csv(tmp_path / "competitor_prices.csv", index=False)
    po_days = pd.date_range("2025-06-01", "2026-03-01", freq="14D")
    pd.DataFrame({"po_id": [f"P{i}" for i in range(2 * len(po_days))], "supplier_id": np.repeat(["S1", "S2"], len(po_days)),
                  "sku": np.repeat(["A", "B"], len(po_days)), "order_date": np.tile(po_days, 2),
                  "expected_date": np.tile(po_days + pd.Timedelta(days=10), 2),
                  "received_date": np.tile(po_days + pd.Timedelta(days=11), 2), "qty_ordered": 10, "qty_received": 10,
                  "unit_cost": np.repeat([40.0, 20.0], len(po_days))}).to_csv(tmp_path / "purchase_orders.csv", index=False)
    ts = pd.date_range("2025-10-01", "2026-03-30", freq="D")
    pd.DataFrame({"review_id": [f"R{i}" for i in range(len(ts))], "sku": "A", "rating": np.where(np.arange(len(ts)) % 40, 5, 1),
                  "review_ts": ts + pd.Timedelta(hours=9), "reply_ts": ts + pd.Timedelta(hours=12)}
                 ).to_csv(tmp_path / "reviews.csv", index=False)
    (tmp_path / "s.toml").write_text('[fraud]\nnew_customer_coupons = ["NEW"]\n', encoding="utf-8")
    data = playbook.load(tmp_path, month="2026-03", settings=tmp_path / "s.toml")
    c, s, k, r, f = (risk.compliance_review(data), risk.supply_risk(data), risk.competition_watch(data),
                     risk.reputation_watch(data), risk.fraud_review(data))
    assert c.findings.empty and c.cleared["term"].tolist() == ["第一次"] and c.items_flagged == 0
    assert s.hhi == pytest.approx(100 ** 2 * ((2 / 3) ** 2 + (1 / 3) ** 2))  # purchase value 40 : 20 per PO pair
    assert s.flagged.empty and s.scorecard["on_time_rate"].eq(1.0).all() and s.single_sourced_skus == 1
    assert k.undercuts.empty and k.undercut_count == 0 and k.cheapest_gap == pytest.approx(-0.03)
    assert r.spiking.empty and r.replied_within_share == 1.0 and r.bad_review_rate < 0.05
    assert f.review_list["customer_id"].tolist() == ["R0", "R1", "R2"] and f.suspect_orders_count == 3
    assert f.review_list["score"].eq(100).all() and f.new_customer_coupons == "NEW"
    for section in (c, s, k, r):
        assert section.alerts.empty and not section.notes, section.title
    assert f.alerts["subject"].tolist() == ["R0"]


# ---------------------------------------------------------------------------------------------
# The sample shop's planted events
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data():
    return playbook.load(ROOT / "data" / "samples", month="2026-10")


@pytest.fixture(scope="module")
def ids(data):
    return planted_event_ids({name: data[name] for name in data})


def test_planted_banned_words_found_and_lookalikes_not(data):
    c = risk.compliance_review(data)
    planted = PLANTED_EVENTS["banned_words"]
    found = c.findings.groupby("item")["term"].apply(list).to_dict()
    assert set(found) == set(planted["skus"])  # exactly the five SKUs, and no campaign name
    for sku, word in planted["skus"].items():
        assert any(word in term for term in found[sku]), (sku, found[sku])
    assert set(c.cleared["item"]) == set(planted["lookalike_skus"])
    assert c.findings.loc[c.findings["item"] == "SKU0068", "position"].item() == 15
    assert (c.findings["source"] == "products.title").all() and c.texts_scanned > 120
    assert set(c.alerts["subject"]) == set(planted["skus"])


def test_planted_late_supplier_flagged_and_no_other(data):
    s = risk.supply_risk(data)
    assert s.flagged["supplier_id"].tolist() == ["S02"]
    row = s.scorecard.set_index("supplier_id").loc["S02"]
    assert row["on_time_rate"] < 0.2 and 0.7 <= row["fill_rate"] <= 0.85 and row["drift_days"] > 7
    assert s.single_sourced_skus == 103 and 0.6 < s.single_sourced_share < 0.7
    assert s.backup_list.loc[0, "sku"] == "SKU0009" and s.backup_list.loc[0, "priority"] == "high"
    # nowhere else: scored at the start of every month of the data, only S02 and only once its
    # POs expected from 2026-06-01 are late
    rules = data.settings["risk"]
    for as_of in pd.date_range("2025-03-01", "2026-11-01", freq="MS"):
        card = risk.supplier_scorecard(data["purchase_orders"], as_of=as_of, grace_days=rules["on_time_grace_days"],
                                       min_pos=rules["supplier_min_pos"])
        flagged = card.loc[card["flagged"], "supplier_id"].tolist()
        if as_of < D(PLANTED_EVENTS["late_supplier"]["from_expected_date"]):
            assert flagged == [], as_of
        elif as_of >= D("2026-07-01"):
            assert flagged == ["S02"], as_of
        else:
            assert set(flagged) <= {"S02"}, as_of


def test_planted_undercut_found_and_nothing_else(data):
    c = risk.competition_watch(data)
    planted = PLANTED_EVENTS["competitor_undercut"]
    run = c.undercuts.iloc[0]
    assert len(c.undercuts) == 1 and (run["sku"], run["competitor"]) == (planted["sku"], planted["competitor"])
    assert (run["start"], run["end"], run["days"]) == (D(planted["start"]), D(planted["end"]), 21)
    assert run["mean_gap"] == pytest.approx(planted["price_ratio"] - 1, abs=0.01) and run["sales_change"] < 0
    # over the whole window (every SKU, competitor and day since 2024-10) there is no other
    rules = data.settings["risk"]
    idx = risk.price_index(data["competitor_prices"], data["products"].set_index("sku")["list_price"])
    runs = risk.undercut_runs(idx, pct=rules["undercut_pct"], min_days=rules["undercut_days"])
    assert runs[["sku", "competitor", "days"]].values.tolist() == [[planted["sku"], planted["competitor"], 21]]


def test_planted_bad_review_spike_found_and_nowhere_else(data):
    r = risk.reputation_watch(data)
    planted = PLANTED_EVENTS["bad_review_spike"]
    assert r.spiking["sku"].tolist() == [planted["sku"]] and r.over_line["sku"].tolist() == [planted["sku"]]
    assert r.spiking.loc[0, "bad"] >= 25 and r.spiking.loc[0, "baseline_rate"] < 0.03
    assert r.bad_review_rate < 0.05 and (r.monthly["rate"] < 0.05).all()  # the shop stays under 5% every month
    assert r.replied_within_share == pytest.approx((r.replies["status"] == "on time").sum()
                                                   / (r.replies["status"] != "pending").sum())
    rules = data.settings["reputation"]
    reviews = data["reviews"]
    for start in pd.date_range("2025-05-01", "2026-09-01", freq="MS"):  # every other month: no spike anywhere
        spikes = risk.review_spikes(reviews, start=start, end=start + pd.offsets.MonthBegin(1),
                                    baseline_months=rules["spike_baseline_months"],
                                    prior_reviews=rules["spike_prior_reviews"], min_bad=rules["spike_min_bad"],
                                    alpha=rules["spike_alpha"])
        assert not spikes["spike"].any(), start


def test_planted_fraud_ring_listed_and_families_not(data, ids):
    f = risk.fraud_review(data)
    ring = set(ids["fraud_ring_customer_ids"])
    families = {c for members in ids["family_address_hashes"].values() for c in members}
    assert len(ring) == 12 and len(families) == 7
    assert set(f.review_list["customer_id"]) == ring  # the ring, all of it, and nobody else
    assert f.fraud_order_rate > data.settings["fraud"]["order_rate_max"] and f.suspect_orders_count == 12
    assert f.coupon_abuse["contact_hash"].tolist() == [ids["fraud_ring_contact_hash"]]
    assert f.refunds["accounts"].tolist() == [12] and f.refunds.loc[0, "refunds"] == 8
    family_scores = f.scores.loc[f.scores["customer_id"].isin(families), "score"]
    assert (family_scores < data.settings["fraud"]["review_score_min"]).all()
    assert f.groups.loc[0, "accounts"] == 12 and f.groups["score"].iloc[1:].max() <= 5
    assert f.alerts["subject"].isin(ring).all() and len(f.alerts) == 1
    # before the ring signed up (orders up to 2026-09-30), nobody reaches the review list
    early = risk.fraud_scores(data["orders"], customers=data["customers"], settings=data.settings["fraud"],
                              as_of="2026-10-01")
    assert (early["score"] < data.settings["fraud"]["review_score_min"]).all()


def test_exercise_checkers(data):
    rate = float((data.month_rows("reviews")["rating"] <= 2).mean())
    assert "correct" in exercises.check("07.bad_review_rate", rate, data)
    assert "correct" in exercises.check("07.ring_accounts", 12, data)
    assert "not yet" in exercises.check("07.top_supplier_share", 0.9, data)


def test_new_customer_coupons_break_ties_at_the_first_moment_by_order_id():
    t = pd.Timestamp("2026-01-05 10:00")
    o = pd.DataFrame({"order_id": ["o2", "o1", "o3"], "customer_id": ["a", "a", "b"],
                      "order_ts": [t, t, t + pd.Timedelta(days=1)], "coupon_code": ["NEW", None, "NEW"]})
    # a placed o1 and o2 at the same moment: o1 (the smaller id) is its first order, so NEW was on
    # a first order in 1 of its 2 uses (b's o3)
    assert risk.new_customer_coupons(o, min_uses=2) == []
    o["order_id"] = ["o1", "o2", "o3"]  # now a's NEW order is o1, its first: 2 of 2 uses
    assert risk.new_customer_coupons(o, min_uses=2) == ["NEW"]


def test_abnormal_refunds_per_account_leave_out_cancelled_and_anonymous_orders():
    # a: 4 paid orders, all refunded; b: 4 paid, none refunded (and one cancelled); one refunded
    # order without a customer. Shop rate = 4 / 8; P(X >= 4 | n=4, p=.5) = 1/16; BH over 2 units:
    # a 1/16 x 2 = 0.125, b 1.0
    o = pd.DataFrame({"customer_id": ["a"] * 4 + ["b"] * 5 + [None],
                      "status": ["refunded"] * 4 + ["paid"] * 4 + ["cancelled", "refunded"]})
    out = risk.abnormal_refunds(o, min_refunds=3, alpha=0.5).set_index("unit")
    assert out.loc["a", ["accounts", "paid_orders", "refunds"]].tolist() == [1, 4, 4]
    assert out.loc["b", ["paid_orders", "refunds"]].tolist() == [4, 0]
    assert out["shop_rate"].eq(0.5).all()
    assert out.loc["a", "p_value"] == pytest.approx(1 / 16) and out.loc["a", "p_adjusted"] == pytest.approx(0.125)
    assert out.loc["b", "p_adjusted"] == pytest.approx(1.0)
    assert out["abnormal"].tolist() == [True, False]  # most significant first


def test_group_members_list_six_accounts_then_a_count():
    linked = pd.DataFrame({"customer_id": [f"c{i}" for i in range(8, 0, -1)] + ["x2", "x1"],
                           "group_id": ["L1"] * 8 + ["L2"] * 2})
    m = risk._members(linked)
    assert m["L1"] == "c1, c2, c3, c4, c5, c6 +2 more"
    assert m["L2"] == "x1, x2"


def test_bh_shortcut_by_hand():
    # Benjamini-Hochberg by hand: p = 0.01, 0.04, 1, 0.03 -> 0.04, 0.0533, 1, 0.0533
    assert np.allclose(risk._bh(np.array([0.01, 0.04, 1.0, 0.03])), [0.04, 0.16 / 3, 1.0, 0.16 / 3])


def test_fraud_review_on_a_prepared_folder_keeps_no_orders_columns(data, tmp_path):
    from playbook.loading import prepare

    prepared = playbook.load(prepare(data, tmp_path / "prepared"), month="2026-10")
    f, again = risk.fraud_review(data), risk.fraud_review(prepared)
    for name in ("groups", "coupon_abuse", "refunds", "scores", "review_list", "suspect_orders"):
        pd.testing.assert_frame_equal(getattr(f, name), getattr(again, name), check_exact=True)
    assert f.figures == again.figures
    # the orders were read column by column for the section and let go: nothing of them stays
    assert not prepared._partial.get("orders") and prepared.table_file("orders") is not None


def test_reputation_on_a_prepared_folder_reads_the_same_rows(data, tmp_path):
    """The prepared folder's reviews are read as ratings and times, then the SKU of the spikes'
    months and the texts of the month's bad reviews only: every table is the in-memory one."""
    from playbook.loading import prepare

    prepared = playbook.load(prepare(data, tmp_path / "prepared"), month="2026-10")
    r, again = risk.reputation_watch(data), risk.reputation_watch(prepared)
    for name in ("monthly", "skus", "spikes", "spiking", "over_line", "replies", "reply_list", "alerts"):
        pd.testing.assert_frame_equal(getattr(r, name), getattr(again, name), check_exact=True)
    assert r.figures == again.figures and len(r.reply_list) > 0 and "text" in again.replies.columns


class _File:
    """A stand-in dataset whose table ``t`` is a Parquet file not read yet."""

    def __init__(self, path):
        self.path = path

    def table_file(self, name):
        return self.path


def test_fetch_rows_and_pieces_over_many_row_groups(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.DataFrame({"a": [f"x{i:04d}" for i in range(1000)], "b": np.arange(1000) * 0.5})
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "t.parquet", row_group_size=64)
    data = _File(tmp_path / "t.parquet")
    rows = np.array([0, 3, 63, 64, 65, 300, 301, 999])
    got = risk._fetch_rows(data, "t", ["b", "a"], rows, groups=2)  # blocks of two row groups: five reads
    assert got["a"].tolist() == [f"x{i:04d}" for i in rows] and got["b"].tolist() == (rows * 0.5).tolist()
    assert list(got.columns) == ["b", "a"] and risk._fetch_rows(data, "t", ["a"], rows[:0]).empty
    pieces = list(risk._file_pieces(data, "t", "a"))
    assert len(pieces) == 16 and sum(len(p) for p in pieces) == 1000


def test_hex_hashes_become_distinct_integers_and_anything_else_is_refused():
    import pyarrow as pa

    ints, present = risk._hex_integers(pa.array(["00000000000000ff", None, "ffffffffffffffff", "00000000000000ff"]))
    assert present.tolist() == [True, False, True, True]
    # the bytes of the digits: 0x00..00ff and 0xff..ff (read in the machine's byte order, equal texts equal integers)
    assert ints[0] == ints[2] != ints[1] and ints[1] == np.iinfo(np.uint64).max
    assert len(set(risk._hex_integers(pa.array([f"{i:016x}" for i in range(4096)]))[0].tolist())) == 4096
    for bad in (["0123456789ABCDEF"], ["0123456789abcdeg"], ["0123456789abcde:"], ["0123"], ["0123456789abcdef0"]):
        assert risk._hex_integers(pa.array(bad)) is None, bad
    codes = risk._hash_codes(None, lambda c: iter([pa.array(["aa" * 8, None]), pa.array(["bb" * 8, "aa" * 8])]), "h")
    assert codes.tolist() == [0, -1, 1, 0] and codes.dtype == np.int8
    # texts that are not hashes: coded from the column itself
    assert risk._hash_codes(lambda c: pd.Series(["p", None, "q", "p"]), lambda c: iter([pa.array(["p", None]),
                            pa.array(["q", "p"])]), "h").tolist() == [0, -1, 1, 0]


def test_customer_codes_from_pieces_are_those_of_the_sorted_ids():
    import pyarrow as pa
    from playbook.derived import text_codes

    ids = ["3O0001234", "3O0000007", None, "3P0000001", "3O0001234", "3O0000007"]
    pieces = lambda c: iter([pa.array(ids[:2]), pa.array(ids[2:3]), pa.array(ids[3:])])  # noqa: E731
    codes, customers = risk._customer_codes(pieces, len(ids))
    # sorted: 3O0000007 (0), 3O0001234 (1), 3P0000001 (2)
    assert codes.tolist() == [1, 0, -1, 2, 1, 0] and customers.tolist() == ["3O0000007", "3O0001234", "3P0000001"]
    expected = text_codes(pd.Series(ids, dtype="str"), sort=True)
    assert codes.tolist() == expected[0].tolist() and customers.equals(expected[1])
    assert risk._customer_codes(lambda c: iter([pa.array(["a1", "bb2"])]), 2) is None  # widths differ: the caller codes texts


def test_linked_groups_only_through_hashes_of_two_accounts():
    # customers 0..4; phone p0 on 1 and 3, p1 on 2 only, address a0 on 3 and 4, a1 on 0 only
    cust = np.array([0, 1, 3, 2, 4, 0, 3], dtype=np.int32)
    phone = np.array([-1, 0, 0, 1, -1, -1, 0], dtype=np.int32)
    address = np.array([1, -1, 0, -1, 0, 1, -1], dtype=np.int32)
    assert risk._shared_values(cust, phone).tolist() == [True, False]
    assert risk._shared_values(cust, address).tolist() == [True, False]
    # groups by their smallest customer: {0} 1, {1, 3, 4} 2, {2} 3
    assert risk._linked_labels(cust, 5, [phone, address]).tolist() == [1, 2, 3, 2, 2]
    assert risk._linked_labels(cust, 5, [np.full(7, -1)]).tolist() == [1, 2, 3, 4, 5]
    assert risk._linked_labels(np.zeros(0, dtype=np.int32), 0, [np.zeros(0, dtype=np.int32)]).tolist() == []
