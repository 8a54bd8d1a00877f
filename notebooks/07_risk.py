# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 Risk: compliance, supply, competition, reputation and fraud (风险管控)
#
# A shop is rarely brought down by a bad month of sales; it is brought down by a listing taken off
# for an illegal word, a supplier that stops delivering, a rival's price lure, a wave of bad reviews
# or a ring of fake accounts draining the new-customer coupon. This chapter watches all five.
#
# **Handbook sections taught:** 001 part 5, risk control (风险管控) and its four-way watch
# "compliance - supply chain - competition - public opinion" (合规-供应链-竞争-舆情); 002 part 06,
# safeguards (保障措施): a real-time risk-control system (实时风控) that keeps the fraud-order rate
# (欺诈订单率) under 0.3%.
#
# **After this notebook you can** scan titles for the absolute terms banned by the Advertising Law
# (广告法禁用词) and fix them; measure how concentrated your purchasing is and which best sellers
# hang on a single supplier; score suppliers on time, fill and lead-time drift; watch competitors'
# prices and catch a sustained undercut; read the bad-review rate against the 5% line and tell a
# real spike from noise; and find linked accounts that abuse coupons and refunds, with a review list
# and the month's fraud-order rate.
#
# **Tables used:** `products` (title, supplier_id, backup_supplier_id, list_price), `campaigns`
# (name), `purchase_orders`, `suppliers`, `order_items`, `competitor_prices`, `reviews`, `orders`
# (customer_id, contact_hash, address_hash, coupon_code, status, refund_amount) and `customers`
# (signup_ts). Only `orders` is required: a section whose tables are missing says so and is skipped.

# %%
import matplotlib.pyplot as plt

import playbook
from playbook import charts, exercises, i18n, pack, risk

charts.use_theme()

# %% tags=["parameters"]
month: str = "2026-10"  # report month, YYYY-MM
data_source: str = "../data/samples"  # folder of contract tables or a DuckDB file
settings_file: str = ""  # optional TOML file overriding the default thresholds
output_dir: str = ""  # set by the report runner: where figures and action lists go (empty: display only)
lang: str = "en"  # language of chart labels and table headers: en or zh

# %%
i18n.set_language(lang)
data = playbook.load(data_source, month=month, settings=settings_file or None)
record = pack.ChapterRecord("07_risk", month=month, output_dir=output_dir)
risk_rules, review_rules, fraud_rules = data.settings["risk"], data.settings["reputation"], data.settings["fraud"]
data

# %% [markdown]
# ## 1. Compliance: banned advertising terms (合规风险: 广告法禁用词)
#
# **Why it matters.** China's Advertising Law treats a listing title as an advertisement. Its
# Article 9(3) forbids terms such as 国家级, 最高级 and 最佳, and regulators read that as every
# absolute claim: 最 anything, 第一, 首选, 顶级, 极品, 唯一, 万能 ... A breach can cost the shop a fine
# of 200,000 to 1,000,000 yuan (Art. 57), and the platforms take such listings down on sight. The
# handbook's advice: someone follows the platform rules, and copy is checked *before* it goes live.
#
# **How it is checked.** The lexicon is a versioned data file, `playbook/data/banned_terms.csv`: each
# term with its category (superlative, rank, level, absolute, state authority, medical claim), its
# legal basis and a suggested fix. It also holds an **allow-list** of harmless phrases that contain
# a banned term: 最近 (recently), 第一次 (the first time), 第一步, 最大承重 (maximum load) ... At every
# position of a text the longest lexicon entry wins, so 第一次露营 is cleared while 销量第一 is
# flagged once, as a whole. The shop's own copy is scanned: product titles and campaign names
# (customers' review texts are not the shop's words). Point `[risk] lexicon_file` at your own copy
# of the file to add terms.

# %%
compliance = risk.compliance_review(data)
compliance

# %% [markdown]
# The flagged titles, with each banned term in 【】 and a suggested rewrite. Read the suggestion
# before pasting it: "热销" instead of "销量第一" is safe, but a claim such as 国家级认证 is best
# replaced by the certificate's real name and number.

# %%
compliance.items

# %% [markdown]
# Look-alikes found and **not** flagged: if one of these is in fact a claim in your shop, remove it
# from the allow-list.

# %%
compliance.cleared

# %% [markdown]
# **The rule:** no listing or campaign name may carry a banned term. The findings list (SKU, term,
# position, legal basis, suggestion) is the action list for whoever edits the listings.

# %%
record.headline("titles_flagged", compliance.items_flagged, label="Titles and names with banned terms 违禁词", unit="count")
record.alerts_from(compliance.alerts, severity="severity", subject="subject", message="{message}", section="compliance")
record.action("fix_titles", compliance.findings, title="Titles to fix 违禁词整改清单",
              description=f"banned advertising terms found with lexicon version {compliance.lexicon_version}")
record.rule("Listings with banned advertising terms 违禁词", compliance.items_flagged, 0, kind="max", unit="count",
            severity="high")

# %% [markdown]
# ## 2. Supply chain (供应链风险)
#
# **Why it matters.** The handbook's example: when the main supplier runs short of capacity, a
# backup supplier under a standing agreement restocks within 72 hours. That only works if the shop
# knows where it depends on one supplier, and notices early when a supplier starts slipping. Four
# measures:
#
# - **Concentration** (采购集中度): each supplier's share of the last year's purchase value
#   (qty_ordered x unit_cost), summed up in the Herfindahl-Hirschman index
#   HHI = sum of (100 x share)², from 10,000 (one supplier) down to 1,250 for eight equal ones;
#   above 2,500 is "highly concentrated".
# - **Single sourcing** (单一供应商): SKUs without a `backup_supplier_id`, weighted by their sales
#   over the last year. A long tail of single-sourced slow sellers is harmless; a single-sourced
#   best seller is not.
# - **On-time and fill rates** (准时率, 满足率): POs due in the last 90 days received at most 3 days
#   after the expected date (an open PO past that counts as late); units received / units ordered.
# - **Lead-time drift** (交期漂移): the mean lead time (received - ordered) of the last 90 days
#   against the year before, with a one-sided Welch t-test, so that a supplier is flagged for a
#   real change and not for one slow delivery.

# %%
supply = risk.supply_risk(data)
supply

# %% [markdown]
# ### Concentration
#
# What to look for: one supplier with a third or more of the purchase value, and whether that
# supplier is also among the flagged ones (in colour).

# %%
fig, ax = plt.subplots(figsize=(8, 4))
risk.plot_purchase_shares(supply.concentration, highlight=supply.flagged["supplier_id"], ax=ax);

# %%
record.headline("supplier_hhi", supply.hhi, label="Supplier concentration HHI 采购集中度", unit="number")
record.rule("Supplier concentration (HHI, 0-10,000) 采购集中度", supply.hhi, risk_rules["hhi_max"], kind="max",
            unit="number")

# %% [markdown]
# ### Single-sourced SKUs, weighted by their sales
#
# The list below holds the single-sourced SKUs that make up the first 80% of single-sourced sales,
# most urgent first: those whose only supplier is itself flagged (priority high), then by sales.
# These are the SKUs for which a second supplier is worth the effort.

# %%
supply.backup_list.head(15).style.format(
    {"sales": "¥{:,.0f}", "sales_share": "{:.1%}", "on_time_rate": "{:.0%}", "fill_rate": "{:.0%}"}, na_rep="").hide(axis="index")

# %%
record.headline("single_sourced_share", supply.single_sourced_share, label="Sales on single-sourced SKUs 单一供应商销售占比",
                unit="pct")
record.action("backup_suppliers", supply.backup_list, title="SKUs needing a backup supplier 备用供应商清单",
              description="single-sourced SKUs making the first 80% of single-sourced sales")
record.rule("Sales on single-sourced SKUs 单一供应商销售占比", supply.single_sourced_share,
            risk_rules["single_sourced_sales_max"], kind="max", unit="pct")

# %% [markdown]
# ### Supplier scorecard: on time, fill and lead-time drift
#
# What to look for: an on-time rate under 90%, a fill rate under 95%, and a lead time that grew by
# several days with a tiny p-value (`drift_p`). The chart shows every PO of the last 15 months by its
# expected date: a supplier that slips drifts above the dashed line, and its open POs (rings) show
# how late they are already.

# %%
supply.scorecard.style.format(
    {"on_time_rate": "{:.0%}", "fill_rate": "{:.1%}", "mean_days_late": "{:.1f}", "lead_time_recent": "{:.1f}",
     "lead_time_baseline": "{:.1f}", "drift_days": "{:+.1f}", "drift_p": "{:.1g}", "quoted_lead_time": "{:.0f}"},
    na_rep="").hide(axis="index")

# %%
fig, ax = plt.subplots(figsize=(10, 4.5))
risk.plot_po_delays(supply.delays, highlight=supply.flagged["supplier_id"], grace_days=risk_rules["on_time_grace_days"],
                    months=15, ax=ax);

# %%
record.headline("suppliers_flagged", supply.suppliers_flagged, label="Suppliers flagged 问题供应商", unit="count")
record.alerts_from(supply.alerts, severity="severity", subject="subject", message="{message}", section="supply")
display(record.rule("Lowest supplier on-time rate 供应商准时率", supply.worst_on_time, risk_rules["on_time_min"],
                    kind="min", unit="pct", subject=supply.worst_supplier))
record.rule("Lowest supplier fill rate 供应商满足率", supply.worst_fill, risk_rules["fill_rate_min"], kind="min",
            unit="pct", subject=supply.worst_fill_supplier)

# %% [markdown]
# ## 3. Competition: price index and undercuts (竞争风险)
#
# **Why it matters.** The handbook keeps a competitor watch list (竞品监测表) of prices, promotions
# and new products, and gives the case of a rival's 9.9-yuan lure: answer quickly (the same item
# plus a gift) or lose the traffic entrance. A competitor a few percent cheaper for a day is noise;
# one far below us for a week or more is taking our buyers.
#
# **Definition.** Price index = competitor's price / our price (our `list_price`; 1.00 = the same
# price, 0.80 = 20% cheaper than us), per SKU, competitor and day. An **undercut** is a run of
# consecutive days with the competitor at least `undercut_pct` below us, lasting at least
# `undercut_days` (settings `[risk]`: 15% and 7 days by default). Our own units per day during the
# undercut are set against the 28 days before it (mind the season: the weeks before 双11 are quiet).

# %%
competition = risk.competition_watch(data)
competition

# %% [markdown]
# The month's mean gap per SKU and competitor, for the SKUs whose cheapest competitor is furthest
# below us (red: the competitor is cheaper). A single deep red cell is the one to look at.

# %%
fig, ax = plt.subplots(figsize=(8, 6))
risk.plot_price_gaps(competition.index_month, ax=ax);

# %%
fig, ax = plt.subplots(figsize=(10, 4))
risk.plot_undercut(competition.daily, competition.undercuts, ax=ax);

# %%
competition.undercuts.style.format(
    {"mean_gap": "{:.0%}", "min_gap": "{:.0%}", "our_price": "¥{:.2f}", "mean_price": "¥{:.2f}",
     "units_before": "{:.1f}", "units_during": "{:.1f}", "sales_change": "{:+.0%}", "start": "{:%Y-%m-%d}",
     "end": "{:%Y-%m-%d}"}, na_rep="").hide(axis="index")

# %%
record.headline("undercuts", competition.undercut_count, label="Competitor undercuts 竞品低价截流", unit="count")
record.alerts_from(competition.alerts, severity="severity", subject="subject", message="{message}",
                   section="competition")
record.rule(f"Undercuts of {risk_rules['undercut_pct']:.0%}+ for {risk_rules['undercut_days']}+ days 低价截流",
            competition.undercut_count, 0, kind="max", unit="count")

# %% [markdown]
# ## 4. Reputation: bad reviews (舆情风险: 差评)
#
# **Why it matters.** Bad reviews sit on the product page and cut conversion for every later
# visitor. The handbook sets three habits: a bad-review early warning (差评预警), a reply within 24
# hours (an apology and a small compensation coupon, then an invitation to add a follow-up review),
# and a bad-review rate kept within 5%.
#
# **Definitions.** A bad review is one rated 2 or lower. Bad-review rate = bad reviews / reviews, for
# the shop per month and for each SKU in the report month. A SKU is **clearly over the line** when the
# lower end of its 95% Wilson interval is above 5% (two bad reviews out of twenty is not proof).
# A **spike** compares the SKU's month with its *own* past: its bad-review rate over the previous
# six months (shrunk towards the shop's rate, so that a SKU with few reviews is not judged on two
# of them) gives the expected count, and a one-sided binomial test, Holm-corrected over all SKUs,
# asks whether the month's count could be chance. It needs at least 5 bad reviews as well.

# %%
reputation = risk.reputation_watch(data)
reputation

# %%
fig, ax = plt.subplots(figsize=(10, 3.5))
risk.plot_bad_review_trend(reputation.monthly, limit=review_rules["bad_review_rate_max"], ax=ax);

# %%
record.headline("bad_review_rate", reputation.bad_review_rate, label="Bad-review rate 差评率", unit="pct")
record.rule("Bad-review rate 差评率", reputation.bad_review_rate, review_rules["bad_review_rate_max"], kind="max",
            unit="pct")

# %% [markdown]
# ### Which SKUs, and is it a spike?
#
# Each dot is a SKU: its reviews this month and its bad-review rate. Small SKUs scatter widely by
# chance (the dotted band is where a SKU at exactly 5% would land 95% of the time); a SKU far above
# the band *with many reviews* is a real problem. Spikes are marked in red. In the table: bad reviews
# this month against the number expected from the SKU's own baseline.

# %%
fig, ax = plt.subplots(figsize=(9, 4.5))
risk.plot_review_funnel(reputation.skus, spikes=reputation.spiking["sku"], limit=review_rules["bad_review_rate_max"],
                        ax=ax);

# %%
reputation.spikes.head(8).style.format(
    {"rate": "{:.1%}", "baseline_rate": "{:.1%}", "expected_bad": "{:.1f}", "ratio": "{:.1f}x",
     "p_value": "{:.1g}", "p_adjusted": "{:.1g}"}).hide(axis="index")

# %%
record.headline("review_spikes", reputation.spike_count, label="SKUs with a bad-review spike 差评激增", unit="count")
record.alerts_from(reputation.alerts, severity="severity", subject="subject", message="{message}",
                   section="reputation")
record.rule("SKUs with a bad-review spike 差评激增", reputation.spike_count, 0, kind="max", unit="count")

# %% [markdown]
# ### Replies within 24 hours
#
# Hours from each bad review to the shop's first reply (red: later than the 24 hours). The reply list
# holds the month's bad reviews answered late or not at all: reply to those still open, and ask why
# the others waited.

# %%
fig, ax = plt.subplots(figsize=(9, 3.5))
risk.plot_reply_hours(reputation.replies, within_hours=review_rules["reply_within_hours"], ax=ax);

# %%
record.headline("replied_within_24h", reputation.replied_within_share, label="Bad reviews answered within 24 h 差评24小时响应率",
                unit="pct")
record.action("bad_review_replies", reputation.reply_list, title="Bad reviews answered late or still waiting 差评回复清单")
record.rule(f"Bad reviews answered within {review_rules['reply_within_hours']} hours 差评及时响应",
            reputation.replied_within_share, review_rules["reply_share_min"], kind="min", unit="pct")

# %% [markdown]
# ## 5. Fraud: linked accounts, coupon abuse, refunds (反欺诈)
#
# **Why it matters.** The handbook's yearly plan sets up real-time risk control to keep fraudulent
# orders (欺诈订单) under 0.3% of orders. The usual pattern in a shop like this one is coupon farming
# (薅羊毛): one person opens many accounts on one phone, takes the new-customer coupon on each, and
# often refunds. The difficulty is not to accuse families: parents and children share an address.
#
# **How it is measured.**
# - **Linked accounts** (关联账户): every customer and every phone or address hash (`contact_hash`,
#   `address_hash` on orders) is a node of a graph; an order links its customer to both. The graph's
#   connected components are the linked groups.
# - **Signals**, each worth points (settings `[fraud]`, 100 in all): a phone shared by several accounts
#   (35); three or more linked accounts signed up within 30 days of each other (20); two or more
#   accounts on one phone using a **new-customer coupon** (a coupon used on first orders at least 90% of
#   the time, found in the data) (25); a linked group whose refunds are far above the shop's rate
#   (binomial test, Benjamini-Hochberg) (15); a group in which most accounts placed one order (5).
#   A family sharing an address, with its own phones and sign-ups years apart, collects few points.
# - **Review list**: accounts scoring 50 or more. **Estimated fraud-order rate** = the month's paid
#   orders placed by listed accounts / all paid orders of the month.

# %%
fraud = risk.fraud_review(data)
fraud

# %% [markdown]
# Linked groups by score, split into the signals behind it: the dashed line is the review list's
# threshold. Groups of ordinary families appear here too, with a low score: linked, but not suspicious.

# %%
fig, ax = plt.subplots(figsize=(9, 4))
risk.plot_fraud_scores(fraud.groups, threshold=fraud_rules["review_score_min"], ax=ax);

# %%
fraud.groups.drop(columns=["reasons"]).head(10)

# %% [markdown]
# **Coupon abuse** (phones on which several accounts used a new-customer coupon) and **abnormal
# refunds** (accounts or linked groups that refund far more than the shop).

# %%
display(fraud.coupon_abuse)
fraud.refunds.style.format({"refund_rate": "{:.0%}", "shop_rate": "{:.1%}", "p_value": "{:.1g}", "p_adjusted": "{:.1g}"}).hide(axis="index")

# %% [markdown]
# The review list: one row per account, with its score and reasons (hashes, never names or phone
# numbers). Hold these accounts' open orders and coupons until someone has looked.

# %%
fraud.review_list.head(20)

# %%
record.headline("fraud_order_rate", fraud.fraud_order_rate, label="Estimated fraud-order rate 欺诈订单率", unit="pct")
record.headline("accounts_to_review", fraud.accounts_listed, label="Accounts on the fraud review list 风险账户", unit="count")
record.alerts_from(fraud.alerts, severity="severity", subject="subject", message="{message}", section="fraud")
record.action("fraud_review", fraud.review_list, title="Accounts to review 风险账户复核清单",
              description=f"accounts scoring {fraud_rules['review_score_min']}+ of 100")
record.action("suspect_orders", fraud.suspect_orders, title="This month's orders of listed accounts 可疑订单")
record.rule("Estimated fraud-order rate 欺诈订单率", fraud.fraud_order_rate, fraud_rules["order_rate_max"], kind="max",
            unit="pct", severity="high")

# %% [markdown]
# ## The month's risk record
#
# Headline figures, rules and alerts go to the monthly pack; the action lists (titles to fix, SKUs
# needing a backup supplier, bad reviews to answer, accounts and orders to review) are written as
# spreadsheets. Sections skipped for lack of data are listed too.

# %%
risk.record_notes(record, compliance, supply, competition, reputation, fraud)
record.save()
record

# %% [markdown]
# ## Takeaways
#
# - Compliance is a lexicon, not a hunch: keep the banned terms and the harmless look-alikes in one
#   versioned file, scan every title before it goes live, and fix with a concrete fact (保温12小时)
#   rather than another adjective.
# - Supply risk is where dependence meets unreliability: a single-sourced best seller whose supplier
#   has started to slip (late, short-filled, longer lead times) is the first place to sign a backup.
# - A competitor matters when it is far below you for days on end, not when it is a little cheaper
#   today; check your own sales of the SKU during the spell.
# - Judge bad reviews with counts, not just ratios: a SKU with 2 bad reviews of 10 is noise, one with
#   dozens of bad reviews against its usual 1-2% is a bad batch. Answer every bad review within 24 hours.
# - Fraud scoring needs several signals at once: a shared address alone is a family; one phone, a
#   burst of sign-ups, the same new-customer coupon and refunds together are a ring.

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# 1. What was the shop's bad-review rate (rating 2 or lower) in the report month? Compute it from
#    `data.month_rows("reviews")`, then check it.
# 2. What share of the last 365 days' purchase value went to the largest supplier? Use
#    `risk.supplier_concentration` with `start` and `end`, or compute qty_ordered x unit_cost yourself.
# 3. How many accounts share the phone (`contact_hash` on orders) used by the most accounts?
# 4. Change `[risk] undercut_pct` to 0.10 with `playbook.load_settings(overrides=...)` and pass the
#    settings to `playbook.load`: how many undercuts appear now, and are they worth an alert?

# %% tags=["exercise"]
answer = None  # your number, e.g. 0.031
exercises.check("07.bad_review_rate", answer, data)

# %% tags=["exercise"]
answer = None  # your number, e.g. 0.25
exercises.check("07.top_supplier_share", answer, data)

# %% tags=["exercise"]
answer = None  # your number
exercises.check("07.ring_accounts", answer, data)
