"""Chapter 04 acquisition: channel matrix and cut list, new customers, cohorts, lifecycle stages, and
the BG/NBD and Gamma-Gamma lifetime-value models.

Three kinds of checks:

- small hand-built shops whose answers were worked out by hand (the arithmetic is in the comments);
- the models against published results (Fader, Hardie & Lee 2005, CDNOW: r = 0.243, alpha = 4.414,
  a = 0.793, b = 2.426, the paper's example customer's 1.226 expected purchases, and Hardie's
  spreadsheet values of E[X(t)]; Gamma-Gamma p = 6.25, q = 3.74, v = 15.44), against independent
  direct implementations (numerical integration over the latent rates), and by recovering known
  parameters from large simulated samples;
- the sample shop's planted event 13 (xiaohongshu's ROI about 0.65 from 2026-04, every other channel
  above 2) found where it was planted and nowhere else.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

import playbook
from playbook import acquisition as acq
from playbook import pack

ROOT = Path(__file__).resolve().parent.parent
CDNOW = (0.243, 4.414, 0.793, 2.426)  # FHL 2005, table 1 (CDNOW, 2,357 customers, weeks)
CDNOW_GG = (6.25, 3.74, 15.44)  # FHL 2005 "RFM and CLV" (CDNOW spend)


def ts(*values):
    return pd.to_datetime(list(values))


# =============================================================================================
# A hand-built shop for channels, new customers and cohorts (report month 2026-03)
# =============================================================================================
#
# Paid orders (customer, day, channel); every order is one line of P1 (unit price 100, unit cost 40)
# paid 110 with 10 shipping, so its gross margin is 110 - 10 - 40 = 60, except:
#   O7 (c3, Feb 25): lines P1 100 + 2 x P2 50 (P2 has no cost), paid 210: the cost ratio of costed
#       lines is 40/100 = 0.4, so P2's 100 is costed 40: cogs 80, margin 210 - 10 - 80 = 120;
#   O9 (c4, Mar 5) has no lines: cogs = goods 100 x 0.4 = 40, margin 60;
#   O6 (c5, Feb 10) is cancelled and counts nowhere.
#
#   O1 c0 2025-12-05 a | O2 c1 2026-01-10 09:00 a | O3 c1 2026-01-10 18:00 a (same day as O2)
#   O4 c2 2026-01-20 b | O5 c1 2026-02-05 b | O10 c3 2026-02-01 b | O7 c3 2026-02-25 b
#   O6 c5 2026-02-10 a cancelled | O8 c0 2026-03-10 a | O11 c1 2026-03-20 a | O9 c4 2026-03-05 a

def _shop():
    orders = pd.DataFrame({
        "order_id": ["O1", "O2", "O3", "O4", "O5", "O10", "O7", "O6", "O8", "O11", "O9"],
        "customer_id": ["c0", "c1", "c1", "c2", "c1", "c3", "c3", "c5", "c0", "c1", "c4"],
        "order_ts": ts("2025-12-05 10:00", "2026-01-10 09:00", "2026-01-10 18:00", "2026-01-20 12:00",
                       "2026-02-05 12:00", "2026-02-01 12:00", "2026-02-25 12:00", "2026-02-10 12:00",
                       "2026-03-10 12:00", "2026-03-20 12:00", "2026-03-05 12:00"),
        "paid_amount": [110.0, 110, 110, 110, 110, 110, 210, 110, 110, 110, 110],
        "shipping_fee": [10.0] * 11,
        "status": ["paid"] * 7 + ["cancelled"] + ["paid"] * 3,
        "channel": ["a", "a", "a", "b", "b", "b", "b", "a", "a", "a", "a"],
    })
    items = pd.DataFrame({
        "order_id": ["O1", "O2", "O3", "O4", "O5", "O10", "O7", "O7", "O6", "O8", "O11"],
        "sku": ["P1"] * 7 + ["P2", "P1", "P1", "P1"],
        "qty": pd.array([1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1], dtype="Int64"),
        "unit_price": [100.0] * 7 + [50.0, 100.0, 100.0, 100.0],
    })
    products = pd.DataFrame({"sku": ["P1", "P2"], "category": ["x", "x"], "unit_cost": [40.0, np.nan]})
    # spend per month: a 30 / 60 / 50 / 90; b 100 / 100 / 300 / 100; c only Feb and Mar, 10 each
    spend = pd.DataFrame({
        "date": ts("2025-12-01", "2026-01-01", "2026-02-01", "2026-03-01", "2025-12-01", "2026-01-01",
                   "2026-02-01", "2026-03-01", "2026-02-01", "2026-03-01"),
        "channel": ["a"] * 4 + ["b"] * 4 + ["c"] * 2,
        "spend": [30.0, 60, 50, 90, 100, 100, 300, 100, 10, 10],
    })
    customers = pd.DataFrame({
        "customer_id": ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"],
        "signup_ts": ts("2025-11-20", "2026-01-08", "2026-01-15", "2026-01-25", "2026-02-01", "2026-02-09",
                        "2026-03-15", "2026-01-05"),
        "member_tier": ["gold", "silver", "none", "none", "none", "none", "none", "none"],
    })
    return {"orders": orders, "order_items": items, "products": products, "marketing_spend": spend,
            "customers": customers}


@pytest.fixture
def shop():
    return _shop()


def test_gross_margin_per_order_costs_uncosted_lines_at_the_shop_ratio(shop):
    m = acq.order_gross_margin(shop).set_index("order_id")
    assert "O6" not in m.index  # cancelled
    assert m.loc["O1", "gross_margin"] == pytest.approx(60.0)
    assert m.loc["O7", "cogs"] == pytest.approx(80.0) and m.loc["O7", "gross_margin"] == pytest.approx(120.0)
    assert m.loc["O9", "gross_margin"] == pytest.approx(60.0)  # no lines: goods x 0.4
    assert m.loc["O7", "cost_source"] == "estimated" and m.loc["O9", "cost_source"] == "estimated"
    assert m.loc["O1", "cost_source"] == "unit_cost"


def test_gross_margin_is_nan_without_costs(shop):
    shop = {k: v for k, v in shop.items() if k != "products"}
    assert acq.order_gross_margin(shop)["gross_margin"].isna().all()


def test_monthly_roi_by_hand(shop):
    # gross margin: Dec a 60; Jan a 120, b 60; Feb b 60 + 60 + 120 = 240; Mar a 180
    roi = acq.monthly_channel_roi(shop).set_index(["month", "channel"])["roi"]
    assert roi["2026-01", "a"] == pytest.approx(2.0)
    assert roi["2026-02", "a"] == pytest.approx(0.0)  # spend 50, nothing sold
    assert roi["2026-01", "b"] == pytest.approx(0.6)
    assert roi["2026-02", "b"] == pytest.approx(0.8)
    assert roi["2025-12", "b"] == pytest.approx(0.0)
    assert roi["2026-03", "a"] == pytest.approx(2.0)


def test_cut_list_needs_every_one_of_the_last_n_months_under_the_line(shop):
    cut = acq.cut_list(shop)  # report month 2026-03, 3 months, line 1
    # b: under 1 in Dec..Mar (0, 0.6, 0.8, 0); a: only Feb; c: under 1 but spends only 2 months
    assert cut["channel"].tolist() == ["b"]
    row = cut.iloc[0]
    assert row["months_below"] == 4
    assert row["roi_last_n"] == pytest.approx(300 / 500)  # (60 + 240 + 0) / (100 + 300 + 100)
    assert row["shortfall_last_n"] == pytest.approx(200.0)
    assert row["best_channel"] == "a"  # ROI 2 in March
    assert acq.cut_list(shop, months=5).empty  # b has only 4 months of spend
    assert acq.cut_list(shop, month="2026-02")["channel"].tolist() == ["b"]
    assert acq.cut_list(shop, threshold=0.5).empty  # b's Feb 0.8 and Jan 0.6 are above 0.5


def test_channel_matrix_by_hand(shop):
    m = acq.channel_matrix(shop).set_index("channel")
    # March: a spends 90, sells c0 + c1 + c4 (3 x 110), new buyer c4 only
    assert m.loc["a", "new_buyers"] == 1 and m.loc["a", "paid_orders"] == 3
    assert m.loc["a", "cac"] == pytest.approx(90.0)
    assert m.loc["a", "roas"] == pytest.approx(330 / 90)
    assert m.loc["a", "roi"] == pytest.approx(2.0)
    assert math.isnan(m.loc["b", "cac"])  # no new buyer
    assert m.loc["all", "spend"] == pytest.approx(200.0) and m.loc["all", "cac"] == pytest.approx(200.0)
    # a's cohorts (c1 Jan, c4 Mar): month-0 margin (120 + 60) / 2 = 90 covers the CAC of 90 at once
    assert m.loc["a", "payback_months"] == 1
    assert math.isnan(m.loc["a", "ltv"])  # no cohort observed for 12 months


def test_ltv_curve_by_hand(shop):
    # cohorts without the first data month (Dec): Jan c1 + c2 (margin 180 in Jan, +60 in Feb, +60 in Mar),
    # Feb c3 (180 in Feb, 0 in Mar), Mar c4 (60)
    c = acq.ltv_curve(shop)
    all_ = c[c["channel"] == "all"].set_index("months_since")
    assert all_.loc[0, "cum_margin_per_customer"] == pytest.approx(420 / 4)
    assert all_.loc[1, "cum_margin_per_customer"] == pytest.approx(420 / 3)  # (240 + 180) / 3
    assert all_.loc[2, "cum_margin_per_customer"] == pytest.approx(150.0)  # 300 / 2
    assert all_.loc[2, "customers"] == 2


def test_second_order_rates_by_hand_with_masked_cells(shop):
    # gaps between order days: c1 26 days (Jan 10 -> Feb 5), c3 24 days; c2 and c4 never again
    s = acq.second_order_rates(shop, windows=[30, 60]).set_index("first_month")
    assert "2025-12" not in s.index  # the first data month is left out
    assert s.loc["2026-01", "new_buyers"] == 2
    assert s.loc["2026-01", "rate_30d"] == pytest.approx(0.5)
    # a first order on Jan 31 has its 60 days run to Apr 1, one day past the data (Mar 31): masked
    assert math.isnan(s.loc["2026-01", "rate_60d"])
    assert acq.second_order_rates(shop, windows=[59]).set_index("first_month").loc["2026-01", "rate_59d"] == pytest.approx(0.5)
    assert s.loc["2026-02", "rate_30d"] == pytest.approx(1.0)  # Feb 28 + 30 days = Mar 30: complete
    assert math.isnan(s.loc["2026-02", "rate_60d"])
    assert math.isnan(s.loc["2026-03", "rate_30d"])


def test_first_order_conversion_by_hand(shop):
    # Jan sign-ups c1, c2, c3 (first orders after 2, 5, 7 days), c7 (none): 3 / 4
    # Feb: c4 (first order after 32 days), c5 (cancelled only): 0 / 2; Mar: window not over
    c = acq.first_order_conversion(shop, window_days=30).set_index("signup_month")
    assert "2025-11" not in c.index  # signed up before the data begin
    assert c.loc["2026-01", "conversion"] == pytest.approx(0.75)
    assert c.loc["2026-02", "conversion"] == pytest.approx(0.0)
    assert math.isnan(c.loc["2026-03", "conversion"])
    assert acq.first_order_conversion(shop, window_days=40).set_index("signup_month").loc["2026-02", "converted"] == 1


def test_cohort_retention_by_hand(shop):
    r = acq.cohort_matrix(shop, metric="retention")
    assert list(r.index) == ["2026-01", "2026-02", "2026-03"]
    assert r.loc["2026-01", 1] == pytest.approx(0.5) and r.loc["2026-01", 2] == pytest.approx(0.5)
    assert r.loc["2026-02", 1] == pytest.approx(0.0)
    assert math.isnan(r.loc["2026-02", 2]) and math.isnan(r.loc["2026-03", 1])  # not happened yet
    rev = acq.cohort_matrix(shop, metric="cumulative_revenue")
    assert rev.loc["2026-01", 0] == pytest.approx((220 + 110) / 2)  # c1's two orders + c2's
    assert rev.loc["2026-01", 2] == pytest.approx((220 + 110 + 110 + 110) / 2)


def test_repurchase_trend_by_hand(shop):
    t = acq.repurchase_trend(shop, window_months=2).set_index("month")
    assert math.isnan(t.loc["2025-12", "repurchase_rate"])  # the window reaches before the data
    assert t.loc["2026-01", "repurchase_rate"] == pytest.approx(0.0)  # c0, c1, c2 one day each
    assert t.loc["2026-02", "repurchase_rate"] == pytest.approx(2 / 3)  # c1 and c3 twice, c2 once
    assert t.loc["2026-03", "repurchase_rate"] == pytest.approx(0.5)  # c1, c3 of c0, c1, c3, c4
    assert t.loc["2026-02", "cycle_median_days"] == pytest.approx(25.0)  # gaps 26 and 24
    assert t.loc["2026-03", "cycle_median_days"] == pytest.approx(43.0)  # c0's 95-day gap is over 2 months
    assert t.loc["2026-03", "returning_share"] == pytest.approx(1 / 3)


def test_private_domain_share_by_hand(shop):
    shop = dict(shop)
    shop["orders"] = shop["orders"].assign(channel=lambda o: o["channel"].replace({"b": "own_site"}))
    p = acq.private_domain_share(shop).set_index("month")
    assert p.loc["2026-02", "share"] == pytest.approx(1.0)  # c1 and c3's orders, all b
    assert p.loc["2026-01", "share"] == pytest.approx(110 / 330)


def test_member_comparison_by_hand(shop):
    m = acq.member_comparison(shop, window_months=12).set_index("group")
    # buyers of the year: c0 gold (2 days, 220), c1 silver (4 orders on 3 days, 440), c2 (110),
    # c3 (110 + 210) and c4 (110) none: members' GMV 660 of 1,200
    assert m.loc["members (all tiers)", "buyers"] == 2
    assert m.loc["members (all tiers)", "repurchase_rate"] == pytest.approx(1.0)
    assert m.loc["non-members", "repurchase_rate"] == pytest.approx(1 / 3)  # c3 only
    assert m.loc["members (all tiers)", "gmv_share"] == pytest.approx(660 / 1200)
    assert m.loc["silver", "orders_per_buyer"] == pytest.approx(4.0)


def test_channel_report_without_spend_is_a_note(shop):
    shop = {k: v for k, v in shop.items() if k != "marketing_spend"}
    rep = acq.channel_report(shop)
    assert rep.note and "marketing_spend" in rep.note
    assert rep.lowest_roi is None and rep.cut.empty
    record = pack.ChapterRecord("04_acquisition")
    acq.record_skips(record, rep)
    assert record.skipped and "marketing_spend" in record.skipped[0]


# =============================================================================================
# Lifecycle stages (report month 2026-03, as of 2026-04-01)
# =============================================================================================

def _life():
    orders = pd.DataFrame({
        "order_id": [f"L{i}" for i in range(9)],
        "customer_id": ["L1", "L1", "L2", "L3", "L4", "L5", "L6", "L6", "L9"],
        "order_ts": ts("2025-06-01 10:00", "2026-01-01 10:00", "2025-12-31 10:00", "2025-10-03 10:00",
                       "2025-10-02 10:00", "2026-03-31 23:00", "2025-07-01 10:00", "2026-03-02 10:00",
                       "2026-02-10 10:00"),
        "paid_amount": [100.0] * 9,
        "status": ["paid"] * 8 + ["cancelled"],
    })
    customers = pd.DataFrame({"customer_id": ["L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9"],
                              "signup_ts": ts("2025-05-01", "2025-05-01", "2025-05-01", "2025-05-01", "2026-03-31",
                                              "2025-05-01", "2026-02-01", "2026-04-05", "2026-02-01")})
    return {"orders": orders, "customers": customers}


def test_lifecycle_stages_at_the_boundaries():
    st = acq.lifecycle_stages(_life()).set_index("customer_id")
    # days from the last order day to 2026-04-01: L1 90 -> active, L2 91 -> dormant, L3 180 -> dormant,
    # L4 181 -> churned; L5 first order in March -> new; L6 bought in March again -> active;
    # L7 and L9 (cancelled order only) registered without a paid order -> potential; L8 registers later
    assert st["stage"].to_dict() == {"L1": "active", "L2": "dormant", "L3": "dormant", "L4": "churned",
                                     "L5": "new", "L6": "active", "L7": "potential", "L9": "potential"}
    assert st.loc["L1", "days_since_last"] == 90 and st.loc["L4", "days_since_last"] == 181


def test_stage_flow_by_hand():
    f = acq.stage_flow(_life())
    # at Mar 1: L1 59 days active, L2 60 active, L3 149 dormant, L4 150 dormant, L6 243 churned
    assert f.loc["active", "active"] == 1 and f.loc["active", "dormant"] == 1  # L1 stays, L2 crosses 90 days
    assert f.loc["dormant", "dormant"] == 1 and f.loc["dormant", "churned"] == 1  # L3, L4
    assert f.loc["churned", "active"] == 1  # L6 recalled
    assert f.loc["unregistered", "new"] == 1  # L5 signs up and buys in March
    assert f.loc["potential", "potential"] == 2  # L7, L9
    assert f.to_numpy().sum() == 8


def test_reactivation_by_hand():
    r = acq.reactivation_rates(_life(), months=3).set_index("stage")
    # at 2026-01-01: L4 (91 days) dormant, not back; L1 (214 days) and L6 (184) churned, both back
    assert r.loc["dormant", "customers"] == 1 and r.loc["dormant", "rate"] == pytest.approx(0.0)
    assert r.loc["churned", "customers"] == 2 and r.loc["churned", "rate"] == pytest.approx(1.0)
    assert acq.reactivation_rates(_life(), months=12)["rate"].isna().all()  # no history a year back


def test_stage_mix_counts_every_registered_customer():
    mix = acq.stage_mix(_life())
    last = mix[mix["month"] == "2026-03"].set_index("stage")["customers"]
    assert last.to_dict() == {"potential": 2, "new": 1, "active": 2, "dormant": 2, "churned": 1}


# =============================================================================================
# customer_summary
# =============================================================================================

def test_customer_summary_by_hand():
    orders = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "c", "a"],
        "order_ts": ts("2026-01-01 09:00", "2026-01-01 18:00", "2026-01-15 10:00", "2026-01-22 10:00",
                       "2026-01-08 10:00", "2026-01-10 10:00", "2026-02-10 10:00"),
        "paid_amount": [10.0, 20.0, 40.0, 60.0, 5.0, 99.0, 1000.0],
        "status": ["paid", "paid", "paid", "refunded", "paid", "cancelled", "paid"],
    })
    s = acq.customer_summary(orders, as_of="2026-01-29", unit="W").set_index("customer_id")
    # a: days Jan 1 (10 + 20 merged), Jan 15 (40), Jan 22 (60, refunded still paid); Feb 10 after as_of
    assert s.loc["a", "frequency"] == 2
    assert s.loc["a", "recency"] == pytest.approx(3.0)  # 21 days
    assert s.loc["a", "T"] == pytest.approx(4.0)  # 28 days
    assert s.loc["a", "monetary_value"] == pytest.approx(50.0)  # (40 + 60) / 2, first day left out
    assert s.loc["b", "frequency"] == 0 and s.loc["b", "monetary_value"] == 0 and s.loc["b", "T"] == pytest.approx(3.0)
    assert "c" not in s.index  # cancelled only
    d = acq.customer_summary(orders, as_of="2026-01-29", unit="D").set_index("customer_id")
    assert d.loc["a", "recency"] == 21 and d.loc["a", "T"] == 28
    with pytest.raises(ValueError, match="unit"):
        acq.customer_summary(orders, as_of="2026-01-29", unit="Y")
    with pytest.raises(KeyError, match="customer_id"):
        acq.customer_summary(orders.drop(columns="customer_id"), as_of="2026-01-29")


# =============================================================================================
# BG/NBD: published values, independent implementations, simulation
# =============================================================================================

def _bgnbd_ll_direct(params, x, tx, T):
    """FHL 2005 eq. 3 term by term with Gamma and Beta functions (plain floats, no logs)."""
    r, alpha, a, b = params
    B = special.beta
    common = math.gamma(r + x) * alpha ** r / math.gamma(r)
    first = B(a, b + x) / B(a, b) * common / (alpha + T) ** (r + x)
    second = B(a + 1, b + x - 1) / B(a, b) * common / (alpha + tx) ** (r + x) if x > 0 else 0.0
    return math.log(first + second)


def _bgnbd_ll_integrated(params, x, tx, T):
    """The individual likelihood integrated over lambda ~ Gamma(r, alpha) and p ~ Beta(a, b)."""
    r, alpha, a, b = params

    log_norm = r * math.log(alpha) - math.lgamma(r) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))

    def individual(lam, p):  # plain math: the integrand is called a few hundred thousand times
        if lam <= 0 or p <= 0 or p >= 1:
            return 0.0
        alive = (1 - p) ** x * lam ** x * math.exp(-lam * T)
        dead = p * (1 - p) ** (x - 1) * lam ** x * math.exp(-lam * tx) if x > 0 else 0.0
        density = math.exp(log_norm + (r - 1) * math.log(lam) - alpha * lam + (a - 1) * math.log(p) + (b - 1) * math.log1p(-p))
        return (alive + dead) * density

    value, _ = integrate.dblquad(individual, 0, 1, 0, np.inf, epsabs=1e-12, epsrel=1e-8)
    return math.log(value)


TINY = [(0, 0.0, 5.0), (1, 2.0, 5.0), (3, 4.5, 6.0), (2, 1.0, 10.0)]  # (x, t_x, T) made up by hand


@pytest.mark.parametrize("params", [CDNOW, (1.3, 2.0, 2.5, 1.5)])
def test_bg_nbd_log_likelihood_matches_direct_and_integrated_forms(params):
    x, tx, T = (np.array(c, dtype=float) for c in zip(*TINY))
    ours = acq.bg_nbd_log_likelihood(params, x, tx, T)
    for i, (xi, txi, Ti) in enumerate(TINY):
        assert ours[i] == pytest.approx(_bgnbd_ll_direct(params, xi, txi, Ti), rel=1e-10)
    if params != CDNOW:  # r < 1 makes the lambda integrand singular at 0; the direct form covers it
        for i, (xi, txi, Ti) in enumerate(TINY):
            assert ours[i] == pytest.approx(_bgnbd_ll_integrated(params, xi, txi, Ti), rel=1e-6)


def test_bg_nbd_gradient_matches_finite_differences_of_the_direct_form():
    params = np.array([0.8, 3.0, 1.2, 2.5])
    x, tx, T = (np.array(c, dtype=float) for c in zip(*TINY))
    _, grad = acq._bg_nbd_nll(np.log(params), *acq._bg_nbd_args(x, tx, T, np.ones_like(x)))

    def mean_nll(theta):
        p = np.exp(theta)
        return -np.mean([_bgnbd_ll_direct(p, *row) for row in TINY])

    h = 1e-6
    for i in range(4):
        e = np.zeros(4)
        e[i] = h
        numeric = (mean_nll(np.log(params) + e) - mean_nll(np.log(params) - e)) / (2 * h)
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_bg_nbd_fit_maximises_the_likelihood_on_a_tiny_sample():
    rows = TINY * 3 + [(5, 9.0, 10.0), (0, 0.0, 8.0), (1, 7.0, 9.0)]
    x, tx, T = (np.array(c, dtype=float) for c in zip(*rows))
    model = acq.fit_bg_nbd(x, tx, T)
    best = model.log_likelihood(x, tx, T).sum()
    assert best == pytest.approx(model.log_likelihood_)
    rng = np.random.default_rng(0)
    for _ in range(20):  # nearby parameter sets are never better
        other = model.params_.to_numpy() * np.exp(rng.normal(0, 0.05, 4))
        assert acq.bg_nbd_log_likelihood(other, x, tx, T).sum() <= best + 1e-9


def test_bg_nbd_reproduces_the_published_cdnow_values():
    model = acq.BetaGeoModel(CDNOW)
    # FHL 2005 section 5 / Hardie's spreadsheet: x = 2, t_x = 30.43, T = 38.86 -> 1.226 in the next 39 weeks
    assert float(model.expected_purchases(39, 2, 30.43, 38.86)) == pytest.approx(1.226, abs=1e-3)
    # E[X(t)] of a new customer, from the same spreadsheet (rounded parameters: 0.5%)
    times = np.array([0.1429, 1.0, 3.00, 31.8571, 32.00, 78.00])
    published = np.array([0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576])
    np.testing.assert_allclose(model.expected_purchases_new(times), published, rtol=5e-3)
    # P(alive) by hand: 1 / (1 + a/(b+1) ((alpha+T)/(alpha+t_x))^(r+2))
    r, alpha, a, b = CDNOW
    by_hand = 1 / (1 + a / (b + 1) * ((alpha + 38.86) / (alpha + 30.43)) ** (r + 2))
    assert float(model.p_alive(2, 30.43, 38.86)) == pytest.approx(by_hand, rel=1e-12)
    assert float(model.p_alive(0, 0, 38.86)) == 1.0


def test_expected_purchases_is_stable_for_heavy_buyers_and_degenerate_fits():
    model = acq.BetaGeoModel(CDNOW)
    heavy = model.expected_purchases(52, np.array([300.0, 1000.0]), np.array([100.0, 104.0]), np.array([104.0, 104.0]))
    assert np.all(np.isfinite(heavy)) and np.all(heavy > 0)
    # a fit on little history can run a and b to huge values (a = 1.8e6, b = 5.9e5): no NaN, and the
    # limit of geometric dropout with p = a / (a + b): (1/p) (1 - (1 + p t / (alpha + T))^-(r+x)) P(alive)
    r, alpha, a, b = 0.3, 6.0, 1.8e6, 5.9e5
    big = acq.BetaGeoModel((r, alpha, a, b))
    value = float(big.expected_purchases(39, 0, 0, 0))
    p = a / (a + b)
    assert value == pytest.approx((1 / p) * (1 - (1 + p * 39 / alpha) ** -r), rel=1e-4)


def test_simulated_customers_recover_the_cdnow_parameters():
    # 100,000 customers like CDNOW's first-quarter cohort: acquired over 12 weeks, observed to week 39
    rng = np.random.default_rng(2005)
    T = rng.uniform(27, 39, 100_000)
    sim = acq.simulate_bg_nbd(100_000, r=CDNOW[0], alpha=CDNOW[1], a=CDNOW[2], b=CDNOW[3], T=T, seed=7)
    model = acq.fit_bg_nbd(sim["frequency"], sim["recency"], sim["T"])
    assert model.converged_
    est, se = model.params_.to_numpy(), model.standard_errors_.to_numpy()
    np.testing.assert_allclose(est, CDNOW, rtol=0.08)
    assert np.all(np.abs(est - np.array(CDNOW)) < 3.5 * se)  # within sampling error
    # and P(alive) / expected purchases agree with the simulated truth on average
    alive_share = model.p_alive(sim["frequency"], sim["recency"], sim["T"]).mean()
    assert 0.5 < alive_share < 0.95


def test_compressed_fit_has_the_row_by_row_likelihood():
    # times in whole days (as customer_summary gives them): many customers share (x, t_x, T), and the
    # fit runs on the distinct triples with weights; its likelihood must be the customers' own sum
    rng = np.random.default_rng(11)
    T = rng.integers(27 * 7, 39 * 7 + 1, 20_000) / 7
    sim = acq.simulate_bg_nbd(20_000, r=CDNOW[0], alpha=CDNOW[1], a=CDNOW[2], b=CDNOW[3], T=T, seed=3)
    x, tx = sim["frequency"].to_numpy(float), np.floor(sim["recency"].to_numpy() * 7) / 7
    model = acq.fit_bg_nbd(x, tx, T)
    assert model.n_distinct_ < len(x) / 2
    assert model.log_likelihood_ == pytest.approx(model.log_likelihood(x, tx, T).sum(), rel=1e-10)
    weighted = acq.fit_bg_nbd(x[:100], tx[:100], T[:100], weights=np.full(100, 3.0))
    tripled = acq.fit_bg_nbd(np.tile(x[:100], 3), np.tile(tx[:100], 3), np.tile(T[:100], 3))
    np.testing.assert_allclose(weighted.params_, tripled.params_, rtol=1e-6)


def test_fit_refuses_bad_input():
    with pytest.raises(ValueError, match="recency"):
        acq.fit_bg_nbd([1, 2], [5.0, 1.0], [4.0, 3.0])
    with pytest.raises(ValueError, match="repeat"):
        acq.fit_bg_nbd([0, 0], [0.0, 0.0], [4.0, 3.0])


# =============================================================================================
# Gamma-Gamma
# =============================================================================================

def _gg_ll_integrated(params, x, m):
    """Density of the mean of x Gamma(p, nu) transactions, Gamma(px, rate x nu), integrated over
    nu ~ Gamma(q, rate v)."""
    p, q, v = params
    value, _ = integrate.quad(lambda nu: stats.gamma.pdf(m, p * x, scale=1 / (x * nu)) * stats.gamma.pdf(nu, q, scale=1 / v),
                              0, np.inf, epsabs=1e-14, epsrel=1e-10, limit=200)
    return math.log(value)


def test_gamma_gamma_log_likelihood_matches_integration_and_gradient():
    rows = [(1, 30.0), (2, 45.5), (5, 12.0), (3, 80.0)]
    x, m = (np.array(c, dtype=float) for c in zip(*rows))
    for params in (CDNOW_GG, (2.0, 3.0, 50.0)):
        ours = acq.gamma_gamma_log_likelihood(params, x, m)
        for i, (xi, mi) in enumerate(rows):
            assert ours[i] == pytest.approx(_gg_ll_integrated(params, xi, mi), rel=1e-7)
    theta = np.log([2.0, 3.0, 50.0])
    ux, inv = np.unique(x, return_inverse=True)
    w = np.ones_like(x)
    args = (x, m, w, w.sum(), ux, inv, np.bincount(inv).astype(float), float((x * (np.log(m) + np.log(x))).sum()),
            float(np.log(m).sum()))
    _, grad = acq._gg_nll(theta, *args)
    for i in range(3):
        e = np.zeros(3)
        e[i] = 1e-6
        numeric = (-acq.gamma_gamma_log_likelihood(np.exp(theta + e), x, m).mean()
                   + acq.gamma_gamma_log_likelihood(np.exp(theta - e), x, m).mean()) / 2e-6
        assert grad[i] == pytest.approx(numeric, rel=1e-5)


def test_gamma_gamma_expected_spend_with_the_published_parameters():
    model = acq.GammaGammaModel(CDNOW_GG)
    # by hand: p (v + x m) / (p x + q - 1) = 6.25 (15.44 + 200) / (12.5 + 2.74) = 88.35; population 6.25 x 15.44 / 2.74
    spend = model.expected_spend([2, 0], [100.0, 0.0])
    assert spend[0] == pytest.approx(6.25 * 215.44 / 15.24)
    assert spend[1] == pytest.approx(6.25 * 15.44 / 2.74) == pytest.approx(model.population_mean())


def test_gamma_gamma_recovers_the_published_parameters_from_simulation():
    sim = acq.simulate_bg_nbd(200_000, r=CDNOW[0], alpha=CDNOW[1], a=CDNOW[2], b=CDNOW[3], T=39.0, seed=3)
    spend = acq.simulate_gamma_gamma(sim["frequency"], p=CDNOW_GG[0], q=CDNOW_GG[1], v=CDNOW_GG[2], seed=4)
    model = acq.fit_gamma_gamma(sim["frequency"], spend)
    est, se = model.params_.to_numpy(), model.standard_errors_.to_numpy()
    np.testing.assert_allclose(est, CDNOW_GG, rtol=0.08)
    assert np.all(np.abs(est - np.array(CDNOW_GG)) < 3.5 * se)


# =============================================================================================
# The sample shop: planted event 13 (xiaohongshu below ROI 1 from 2026-04) and the chapter's figures
# =============================================================================================

@pytest.fixture(scope="module")
def sample():
    return playbook.load(ROOT / "data/samples", month="2026-10",
                         tables=["orders", "order_items", "products", "customers", "marketing_spend", "traffic"])


@pytest.fixture(scope="module")
def sample_value(sample):
    return acq.customer_value(sample)


def test_sample_cut_list_is_xiaohongshu_only(sample):
    rep = acq.channel_report(sample)
    assert rep.cut["channel"].tolist() == ["xiaohongshu"]
    row = rep.cut.iloc[0]
    assert row["months_below"] == 7  # 2026-04 .. 2026-10
    assert 0.6 < row["roi_last_n"] < 0.7  # planted 0.65
    assert rep.lowest_roi_channel == "xiaohongshu"


def test_sample_roi_is_low_where_planted_and_nowhere_else(sample):
    roi = acq.monthly_channel_roi(sample)
    xhs = roi[roi["channel"] == "xiaohongshu"].set_index("month")["roi"]
    assert (xhs[xhs.index >= "2026-04"] < 0.75).all()
    assert (xhs[xhs.index < "2026-04"] > 1.0).all()
    others = roi[roi["channel"] != "xiaohongshu"]
    assert (others["roi"] > 2.0).all()
    # the monthly review finds it once three months are under the line, not before
    assert acq.cut_list(sample, roi=roi, month="2026-05").empty
    assert acq.cut_list(sample, roi=roi, month="2026-06")["channel"].tolist() == ["xiaohongshu"]
    assert acq.cut_list(sample, roi=roi, month="2026-03").empty


def test_sample_private_domain_share_grows_from_10_to_20_percent(sample):
    p = acq.private_domain_share(sample)
    assert 0.08 < p["share"].iloc[0] < 0.13
    assert 0.17 < p["share"].iloc[-1] < 0.24


def test_sample_dormant_count_agrees_with_the_shared_customer_summary(sample):
    stages = acq.lifecycle_stages(sample)
    cs = sample.derived("customer_summary")
    days = (pd.Timestamp("2026-11-01") - cs["last_order_ts"].dt.normalize()).dt.days
    assert (stages["stage"] == "dormant").sum() == ((days > 90) & (days <= 180)).sum()
    assert (stages["stage"] == "churned").sum() == (days > 180).sum()
    assert (stages["stage"] == "new").sum() == (cs["first_order_ts"] >= "2026-10-01").sum()
    assert len(stages) == sample["customers"]["customer_id"].nunique()


def test_sample_model_forecasts_the_holdout_and_agrees_with_the_rule(sample, sample_value):
    hold = acq.holdout_check(sample)
    assert abs(hold.attrs["error"]) < 0.2
    assert (np.diff(hold["actual"]) > 0).all() and (np.diff(hold["predicted"]) > 0).all()
    life = acq.lifecycle_report(sample, value=sample_value)
    side = life.side_by_side[life.side_by_side["buyers"] == "repeat"].set_index("stage")["mean_p_alive"]
    assert side["active"] > side["dormant"] > side["churned"]
    # the lists: dormant / active customers only, ids and no personal data
    stage = life.stages.set_index("customer_id")["stage"]
    assert (life.wakeup["customer_id"].map(stage) == "dormant").all()
    assert life.wakeup["expected_value_next"].is_monotonic_decreasing
    assert len(life.wakeup) <= sample.settings["lifecycle"]["wakeup_list_max"]
    assert (life.churn_risk["customer_id"].map(stage).isin(["active", "new"])).all()
    assert (life.churn_risk["p_alive"] <= 0.5).all() and len(life.churn_risk) > 0  # rounded to 3 decimals
    for frame in (life.wakeup, life.churn_risk):
        assert not {"name", "phone"} & set(frame.columns)


def test_sample_value_tiers_and_members(sample, sample_value):
    tiers = acq.value_tiers(sample_value, data=sample)
    assert tiers["customers"].sum() == len(sample_value.table)
    assert tiers["predicted_share"].iloc[0] > 0.4  # the top fifth holds far more than a fifth
    # each customer's tier: as many per tier as the table counts; the highest predicted value is "high"
    tier_of = tiers.attrs["tier_of"]
    assert len(tier_of) == len(sample_value.table) and tier_of.index.is_unique
    assert tier_of.value_counts().reindex(tiers["tier"]).tolist() == tiers["customers"].tolist()
    top = sample_value.table.loc[sample_value.table["predicted_gmv"].idxmax(), "customer_id"]
    assert tier_of[top] == tiers["tier"].iloc[0]
    # the value report's table is the same, without the per-customer series
    slim = acq.value_tiers(sample_value, data=sample, tier_of=False)
    assert "tier_of" not in slim.attrs
    pd.testing.assert_frame_equal(slim, tiers)
    members = acq.member_comparison(sample, sample_value).set_index("group")
    assert members.loc["members (all tiers)", "repurchase_rate"] > members.loc["non-members", "repurchase_rate"]


def test_rule_vs_last_year_allows_noise_and_skips_without_history():
    record = pack.ChapterRecord("04_acquisition")
    ok = acq.rule_vs_last_year(record, "x", ("2026-09", 0.826), ("2025-09", 0.845))
    assert ok.passed  # -2.2% is within 5%
    bad = acq.rule_vs_last_year(record, "x", ("2026-09", 0.70), ("2025-09", 0.845))
    assert bad.passed is False and record.alerts
    cycle = acq.rule_vs_last_year(record, "c", ("2026-10", 60.0), ("2025-10", 45.0), kind="max", unit="days")
    assert cycle.passed is False
    note = acq.rule_vs_last_year(record, "y", ("2026-09", 0.8), ("2025-09", None))
    assert isinstance(note, str) and "2025-09" in note and record.skipped


def test_positions_and_mapper_match_pandas_by_hand():
    # customer ids looked up by Arrow's hash table: positions as pd.Index.get_indexer gives them
    # (-1 absent), and several columns mapped at once as Series.map would
    keys = pd.Series(["c2", "c9", "c1"], dtype="str")
    ids = pd.Series(["c1", "c5", "c2", None, "c1"], dtype="str", name="customer_id")
    assert acq._positions(ids, keys).tolist() == [2, -1, 0, -1, 2]
    assert acq._positions(ids, keys).tolist() == pd.Index(keys).get_indexer(ids).tolist()
    table = pd.DataFrame({"n": [5, 7, 9], "t": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"])},
                         index=pd.Index(keys))
    lookup = acq._mapper(ids, table)
    pd.testing.assert_series_equal(lookup("n"), ids.map(table["n"]))  # 9, NaN, 5, NaN, 9 (float: gaps)
    pd.testing.assert_series_equal(lookup("t"), ids.map(table["t"]))
    full = acq._mapper(ids.iloc[[0, 2]], table)("n")
    assert full.dtype == "int64" and full.tolist() == [9, 5]
    with pytest.raises(Exception):  # repeated keys: pandas' own error, as with get_indexer
        acq._positions(ids, pd.Series(["c1", "c1"], dtype="str"))


def test_ltv_curve_cached_for_the_exercise_equals_a_fresh_one():
    data = playbook.load(ROOT / "data/samples", month="2026-10")
    report = acq.channel_report(data)
    # the section lets go of its per-order margins, keeping the margin rate the value model needs
    assert acq._own_margins(data) is None
    m = acq.order_gross_margin(data)
    assert acq._margin_rate(data) == m["gross_margin"].sum() / m["gmv"].sum()
    pd.testing.assert_frame_equal(acq.channel_matrix(data), report.matrix)  # made again when asked for
    assert acq._own_margins(data) is not None
    fresh = acq.ltv_curve(data, margins=acq.order_gross_margin(data))
    pd.testing.assert_frame_equal(report.curve, fresh)
    report.curve.loc[:, "cum_margin_per_customer"] = 0.0  # a caller changing its copy changes no one else's
    pd.testing.assert_frame_equal(acq.channel_matrix(data), acq.channel_matrix(data, curve=fresh))


def test_line_orders_follow_stretches_by_hand():
    # orders O1..O6 (strictly increasing ids); lines written in two blocks out of order, O4 has no
    # lines, O2's lines split across the blocks: each line's order row without a hash lookup
    orders = pd.Series(["O1", "O2", "O3", "O4", "O5", "O6"], dtype="str")
    lines = pd.Series(["O5", "O5", "O6", "O1", "O2", "O2", "O3", "O5", "O2"], dtype="str")
    want = [4, 4, 5, 0, 1, 1, 2, 4, 1]
    assert acq._line_orders(lines, orders).tolist() == want
    assert acq._positions(lines, orders).tolist() == want
    assert acq._line_orders(pd.Series(["O1", "O1", "O2", "O3"], dtype="str"), orders.iloc[:3]).tolist() == [0, 0, 1, 2]
    # order ids not sorted (uniqueness not known without a hash), a line of an unknown order, a
    # missing id: left to the hash lookup
    assert acq._line_orders(lines, orders.iloc[::-1].reset_index(drop=True)) is None
    assert acq._line_orders(pd.Series(["O1", "X9"], dtype="str"), orders) is None
    assert acq._line_orders(pd.Series(["O1", None], dtype="str"), orders) is None


def test_line_orders_agree_with_the_hash_lookup_on_shuffled_blocks():
    rng = np.random.default_rng(7)
    orders = pd.Series([f"O{i:05d}" for i in range(3000)], dtype="str")
    for trial in range(20):
        k = rng.choice([0, 1, 2, 3], len(orders), p=[0.02, 0.98 / 3, 0.98 / 3, 0.98 / 3])  # 0: no lines
        lines = np.repeat(orders.to_numpy(), k)
        blocks = np.split(lines, np.sort(rng.choice(len(lines), rng.integers(1, 8), replace=False)))
        rng.shuffle(blocks)
        s = pd.Series(np.concatenate(blocks), dtype="str")
        got = acq._line_orders(s, orders)
        assert got is not None and got.tolist() == acq._positions(s, orders).tolist()


def test_month_labels_from_integer_codes():
    values = pd.Series(pd.to_datetime(["2026-10-31 23:59", None, "1999-01-01 00:00", "2026-01-15 08:00"]))
    codes = acq._month_ints(values)
    assert codes[[0, 2, 3]].tolist() == [2026 * 12 + 9, 1999 * 12, 2026 * 12] and codes[1] == acq.NO_MONTH
    assert acq._month_str(values).tolist() == ["2026-10", None, "1999-01", "2026-01"]
    col = acq._month_column(codes)
    assert col.dtype == "str" and col.isna().tolist() == [False, True, False, False] and col[0] == "2026-10"
    assert acq._month_code("2026-10") == 2026 * 12 + 9


def test_stage_counts_equal_the_stages_of_each_snapshot(sample):
    # every month end of the sample at once against one stages() call per month
    h = acq._history(sample)
    months = pd.period_range("2025-05", "2026-10", freq="M")
    ends, starts = [(p + 1).start_time for p in months], [p.start_time for p in months]
    table = h.stage_counts(ends, starts, 90, 180)
    for row, end, start in zip(table, ends, starts):
        st = h.stages(end, start, 90, 180)
        assert row.tolist() == np.bincount(st[st >= 0], minlength=len(acq.STAGES)).tolist()
    # the order rows counted in slices (a customer's rows split across two slices) add up the same
    h._step = 997
    try:
        assert len(h.ts) > 10 * h._step
        assert h.stage_counts(ends, starts, 90, 180).tolist() == table.tolist()
        same = np.r_[h.code[1:] == h.code[:-1], False]  # the next row's time where it is the same customer's
        assert h.next_ts.tolist() == np.where(same, np.r_[h.ts[1:], 0], np.iinfo(np.int64).max).tolist()
    finally:
        del h._step
    life = _life()  # the hand-built shop: the March mix of test_stage_mix_counts_every_registered_customer
    mix = acq.stage_mix(life)
    assert mix[mix["month"] == "2026-03"]["customers"].tolist() == [2, 1, 2, 2, 1]


def test_lifecycle_lists_on_customer_codes_equal_the_text_joins(sample, sample_value):
    life = acq.lifecycle_report(sample, value=sample_value)
    assert life._codes is not None  # the stages were joined to the value table on customer codes
    st = life.stages
    pd.testing.assert_frame_equal(life.side_by_side, acq.stage_vs_p_alive(st, sample_value))
    pd.testing.assert_frame_equal(life.wakeup, acq.wakeup_list(st, sample_value, data=sample))
    pd.testing.assert_frame_equal(life.churn_risk, acq.churn_risk_list(st, sample_value, data=sample))
    full = dict(data=sample, max_rows=10**9)
    pd.testing.assert_frame_equal(acq.wakeup_list(st, sample_value, _codes=life._codes, **full),
                                  acq.wakeup_list(st, sample_value, **full))


def test_channel_figures_on_cached_codes_equal_the_text_group_bys(sample):
    # the cached margins group on month and channel codes; a fresh margins frame takes the text path
    fresh = acq.order_gross_margin(sample)
    pd.testing.assert_frame_equal(acq.monthly_channel_roi(sample), acq.monthly_channel_roi(sample, margins=fresh))
    pd.testing.assert_frame_equal(acq.channel_matrix(sample), acq.channel_matrix(sample, margins=fresh))
    pd.testing.assert_frame_equal(acq.order_gross_margin(sample), fresh)


def test_summary_from_customer_days_equals_customer_summary(sample):
    # the value model's summary (order days from the shared customer-day rows) against the public
    # customer_summary (its own pass over the orders), at a month start and at a time within a day
    for as_of in ("2026-07-01", "2026-07-01 12:00"):
        got, _ = acq._summary(sample, as_of=as_of, unit="W")
        pd.testing.assert_frame_equal(got, acq.customer_summary(sample["orders"], as_of=as_of, unit="W"))


def test_repurchase_trend_counts_each_customer_once_per_window_by_hand():
    # x buys on Jan 5, Feb 3, Feb 20 and Apr 10; y on Feb 10; z twice on Mar 1 (one order day).
    # With a 2-month window, month m looks at months m-1 and m:
    #   Jan: x                       -> 1 buyer, 0 repeat
    #   Feb: x (3 days), y           -> 2 buyers, 1 repeat (x counted once, not for each pair of days)
    #   Mar: x (Feb 3, Feb 20), y, z -> 3 buyers, 1 repeat (z's two orders are one day)
    #   Apr: x (Apr 10), z (Mar 1)   -> 2 buyers, 0 repeat
    # x's gaps: 29 days (Feb 3), 17 (Feb 20), 49 (Apr 10), all within the window (60.9 days).
    orders = pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4", "o5", "o6", "o7"],
        "customer_id": ["x", "x", "y", "x", "z", "z", "x"],
        "order_ts": ts("2026-01-05 10:00", "2026-02-03 10:00", "2026-02-10 10:00", "2026-02-20 10:00",
                       "2026-03-01 09:00", "2026-03-01 18:00", "2026-04-10 10:00"),
        "paid_amount": [10.0] * 7,
        "status": ["paid"] * 7,
    })
    t = acq.repurchase_trend({"orders": orders}, window_months=2).set_index("month")
    assert t["buyers"].tolist() == [1, 2, 3, 2]
    assert t["repeat_buyers"].tolist() == [0, 1, 1, 0]
    assert math.isnan(t.loc["2026-01", "repurchase_rate"])  # the window reaches before the data
    assert t.loc["2026-02":, "repurchase_rate"].tolist() == pytest.approx([1 / 2, 1 / 3, 0.0])
    assert t["repeat_orders"].tolist() == [0, 2, 0, 1]
    assert t.loc["2026-02", "cycle_median_days"] == 23.0 and t.loc["2026-02", "cycle_mean_days"] == 23.0  # 29, 17
    assert t.loc["2026-04", "cycle_median_days"] == 49.0
    assert t.loc["2026-02":, "returning_share"].tolist() == pytest.approx([1 / 2, 0.0, 1.0])  # x of x, y; none of z; x


def test_month_codes_of_times_in_any_unit_by_hand():
    t = np.array(["2024-01-31T23:59:59.999999", "2024-02-01T00:00:00", "NaT", "1969-12-31T12:00:00",
                  "2026-10-15T08:00:00"], dtype="datetime64[us]")
    want = [2024 * 12 + 0, 2024 * 12 + 1, acq.NO_MONTH, 1969 * 12 + 11, 2026 * 12 + 9]
    for unit in ("ns", "us", "ms", "s"):  # the last microsecond of January stays in January
        assert acq._month_ints(t.astype(f"datetime64[{unit}]")).tolist() == want
    assert acq._month_ints(pd.Series(t)).tolist() == want
    assert acq._month_ints(t.astype("datetime64[D]")).tolist() == [2024 * 12 + 0, 2024 * 12 + 1, acq.NO_MONTH,
                                                                   1969 * 12 + 11, 2026 * 12 + 9]
    far = np.array(["1700-03-02", "2250-05-01"], dtype="datetime64[us]")  # 200,000 days apart: by the calendar
    assert acq._month_ints(far).tolist() == [1700 * 12 + 2, 2250 * 12 + 4]
    # nanoseconds since the epoch, NaT as the smallest int64, as a checked conversion gives them
    assert acq._ns(t).tolist() == [1706745599999999000, 1706745600000000000, np.iinfo(np.int64).min,
                                   -43200000000000, pd.Timestamp("2026-10-15 08:00").value]


def test_prepared_folder_reads_only_the_chapters_columns(sample, sample_value, tmp_path):
    from playbook.loading import prepare

    prepared = playbook.load(prepare(sample, tmp_path / "prep"), month="2026-10")
    pd.testing.assert_frame_equal(acq.channel_report(prepared).matrix, acq.channel_report(sample).matrix)
    value = acq.customer_value(prepared)
    pd.testing.assert_frame_equal(value.table, sample_value.table)
    life, life0 = acq.lifecycle_report(prepared, value=value), acq.lifecycle_report(sample, value=sample_value)
    pd.testing.assert_frame_equal(life.wakeup, life0.wakeup)
    pd.testing.assert_frame_equal(life.mix, life0.mix)
    pd.testing.assert_frame_equal(acq.value_report(prepared, value=value).members,
                                  acq.value_report(sample, value=sample_value).members)
    pd.testing.assert_frame_equal(acq.cohort_report(prepared).retention, acq.cohort_report(sample).retention)
    # never read whole: the orders' addresses and hashes, the customers' personal columns; and the
    # columns read are not kept with the dataset (each calculation reads what it needs, the caches
    # hold codes and arrays), nor is the shared customer summary
    for table in ("orders", "order_items", "customers"):
        assert prepared.table_file(table) is not None
        assert not prepared._partial.get(table)
    assert isinstance(prepared._derived["customer_summary"], Path)
    assert list(acq._table(prepared, "orders").columns) == list(acq.COLUMNS["orders"])
    # only the columns asked for that the file has, in the order asked (no name, no phone)
    assert list(acq._table(prepared, "customers", ["member_tier", "customer_id", "no_such_column"]).columns) == [
        "member_tier", "customer_id"]


def test_sliced_passes_give_the_one_pass_results(sample, sample_value, tmp_path, monkeypatch):
    # the order lines costed a few hundred at a time (from a prepared file read in batches, and from
    # frames in memory sliced), the models' formulas a few hundred customers at a time, and the last
    # order before a moment found in slices of order rows: every value as one pass over all the rows
    from playbook.loading import prepare

    prepared = playbook.load(prepare(sample, tmp_path / "prep"), month="2026-10")
    whole = acq.order_gross_margin(sample)
    # a third of the SKUs without a unit cost: their lines are costed at the ratio of the others
    shop = {t: sample[t] for t in ("orders", "order_items", "products")}
    shop["products"] = shop["products"].assign(unit_cost=shop["products"]["unit_cost"].where(
        np.arange(len(shop["products"])) % 3 > 0))
    mixed = acq.order_gross_margin(shop)
    assert mixed["cost_source"].eq("estimated").mean() > 0.3
    monkeypatch.setattr(acq, "_LINE_CHUNK", 333)
    assert len(acq._table(sample, "order_items")) > 20 * 333
    pd.testing.assert_frame_equal(acq.order_gross_margin(sample), whole, check_exact=True)
    pd.testing.assert_frame_equal(acq.order_gross_margin(prepared), whole, check_exact=True)
    pd.testing.assert_frame_equal(acq.order_gross_margin(shop), mixed, check_exact=True)
    monkeypatch.setattr(acq, "_CUSTOMER_CHUNK", 101)
    pd.testing.assert_frame_equal(acq.customer_value(prepared).table, sample_value.table, check_exact=True)
    h = acq._history(sample)
    t = pd.Timestamp("2026-06-15 12:00")
    one = h.last_before(t)
    monkeypatch.setattr(h, "_step", 997)
    assert len(h.ts) > 10 * 997
    assert h.last_before(t).tolist() == one.tolist()
    # by hand: the latest order time before t of each customer who has one
    rows = h.ts < t.value
    expect = pd.Series(h.ts[rows]).groupby(h.code[rows]).max()
    assert one[expect.index.to_numpy()].tolist() == expect.tolist()
    assert (one[np.setdiff1d(np.arange(h.n), expect.index.to_numpy())] == np.iinfo(np.int64).min).all()


def test_customer_codes_from_packed_ids_equal_the_text_hash(sample):
    # ids of one width are hashed as 64-bit integers: the same codes, ids and text ranks as hashing
    # the texts (pd.factorize of the customers' ids then the paid orders')
    keys = acq._Keys(sample)
    cust = sample["customers"]["customer_id"]
    paid = sample["orders"]["customer_id"][keys.paid_rows]
    codes, uniques = pd.factorize(pd.concat([cust, paid], ignore_index=True))
    assert keys.ids.tolist() == list(uniques)
    assert keys.registered.tolist() == codes[:len(cust)].tolist()
    assert keys.paid.tolist() == codes[len(cust):].tolist()
    assert keys.paid.dtype == np.int32
    assert keys.rank().tolist() == pd.Series(keys.ids).rank(method="first").astype(int).sub(1).tolist()
