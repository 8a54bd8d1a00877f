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
# # 04 Acquisition: channels, retention, lifecycle and lifetime value
#
# Where do new customers come from, what does each one cost and what is it worth; who comes back,
# who is drifting away, and whom is it worth winning back? This chapter puts the handbook's user
# growth section (用户获取与增长) into numbers on the shop's own orders.
#
# **Handbook sections:** 000 §3.1 channel matrix (流量获取渠道矩阵) and ROI; 000 §3.4-3.5 retention,
# high-value and churn-risk users, lifecycle stages (用户生命周期); 001 part 1 new-customer conversion,
# member repurchase cycle, waking up customers silent for 90 days, recalling churned ones; 001 part 3
# private-domain share; 001 part 4 the monthly ROI review that cuts channels under 1; 002 parts 01 and
# 05 member repurchase rate and lifecycle operations.
#
# **After this chapter you can** read a channel matrix (CAC, ROAS, ROI, LTV:CAC, payback) and decide
# which channel to cut; measure first-order conversion, second orders, retention, repurchase rate and
# cycle; place every customer in a lifecycle stage and hand over a wake-up list and a churn-risk list;
# predict each customer's value with the BG/NBD and Gamma-Gamma models and check the forecast.
#
# **Tables:** `orders` with `customer_id` (required); `marketing_spend` (channel matrix), `traffic`
# (visitors), `order_items` + `products.unit_cost` (gross margin: ROI, LTV), `customers` (sign-ups,
# potential customers, members). A missing table switches off its part with a note.

# %%
import matplotlib.pyplot as plt

import playbook
from playbook import acquisition, charts, exercises, i18n, pack

charts.use_theme()

# %% tags=["parameters"]
month: str = "2026-10"  # report month, YYYY-MM
data_source: str = "../data/samples"  # folder of contract tables or a DuckDB file
settings_file: str = ""  # optional TOML file overriding the default thresholds
lang: str = "en"  # language of chart labels and table headers: en or zh
output_dir: str = ""  # set by the report runner: where figures and action lists go (empty: display only)

# %%
i18n.set_language(lang)
data = playbook.load(data_source, month=month, settings=settings_file or None)
record = pack.ChapterRecord("04_acquisition", month=month, output_dir=output_dir)
acq_settings = data.settings["acquisition"]
life_settings = data.settings["lifecycle"]
data

# %% [markdown]
# ## 1. The channel matrix (渠道矩阵): what each channel costs and brings
#
# Every channel that brings visitors costs money: ads on Tmall and JD, Douyin placements,
# Xiaohongshu note seeding, coupons in the private domain. The handbook asks for the return of each
# channel to be tracked all the time (000 §3.1) and reviewed monthly, cutting the ones that do not pay
# (001 part 4 cut 小红书素人笔记 at ROI < 1 and moved the budget to Douyin live streams).
#
# Per channel, for the report month:
#
# - **CAC** (获客成本) = spend / new buyers (customers whose first paid order came through the channel);
# - **ROAS** = GMV / spend; **ROI** (投入产出比) = gross margin / spend, with gross margin =
#   paid amount - shipping - units x unit cost. Above 1 the channel's orders earn back its spend;
# - **LTV** = gross margin per acquired customer over the first 12 months (from the cohorts acquired
#   through the channel that are old enough), **LTV:CAC** and the **payback month**: the month after
#   acquisition in which the cumulative margin first covers the CAC (1 = the first order already does).

# %%
channels = acquisition.channel_report(data)
channels

# %% [markdown]
# The ROI of each channel month by month, with the cut line. A channel that dips under the line for a
# festival month is not the problem; one that stays under it month after month is.

# %%
fig, ax = plt.subplots(figsize=(11, 4.5))
acquisition.plot_channel_roi(channels, ax=ax);

# %% [markdown]
# What a new customer costs against what they bring in gross margin over a year, and how fast the
# margin pays the CAC back. A channel whose line never reaches 1 loses money on every customer it
# brings; late months rest on the few oldest cohorts and wobble.

# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 4.5))
acquisition.plot_cac_ltv(channels, ax=axes[0])
acquisition.plot_payback(channels, ax=axes[1]);

# %% [markdown]
# **Rules of thumb.** ROI on gross margin at or above 1 in every channel (001 part 4); LTV:CAC of at
# least 3 (a common industry line, not the handbook's: it leaves room for overheads).

# %%
record.rule(f"Lowest channel ROI 投入产出比 ({channels.lowest_roi_channel or 'no data'})", channels.lowest_roi,
            acq_settings["roi_cut"], kind="min", unit="ratio", subject=channels.lowest_roi_channel)

# %%
record.rule("Shop LTV:CAC", channels.total("ltv_cac"), acq_settings["ltv_cac_min"], kind="min", unit="ratio")

# %% [markdown]
# ### The cut list (砍渠道清单)
#
# Channels whose ROI stayed under the line in each of the last months set in the settings
# (`acquisition.roi_cut_months`): the shortfall is the spend their orders did not earn back. Cut or
# rework them and move the budget to the channel with the best return.

# %%
record.alerts_from(channels.cut, severity="high", subject="channel",
                   message="ROI {roi_last_n:.2f} over the last months ({months_below} months under 1): cut or rework, "
                           "move budget to {best_channel}", section="channel matrix")
record.action("channel_cut_list", channels.cut, title="Channels to cut 砍渠道清单 (ROI under 1)",
              description="Channels whose ROI on gross margin stayed under the settings' line for the last months")
channels.show_cut()

# %% [markdown]
# ## 2. New customers: first-order conversion and second orders (新客转化)
#
# A registered visitor who never buys has cost money and earned nothing; a first-time buyer who
# never comes back earns one margin. 001 part 1 lowers the barrier to a first order with a first-order
# perk and guidance (conversion up 15%), and the second order is where a buyer starts to become a
# customer.
#
# - **First-order conversion** (首单转化率) = registrants who pay a first order within 30 days of
#   signing up / registrants, by sign-up month;
# - **Second-order rate** = new buyers with a paid order on a later day within 30 / 60 / 90 days of
#   the first / new buyers, by first-order month.
#
# Months whose window has not ended yet are left out, so the latest points never look low just
# because the customers have not had the time.

# %%
new = acquisition.new_customer_report(data)
new

# %%
fig, ax = plt.subplots(figsize=(11, 4.5))
acquisition.plot_new_customers(new, ax=ax);

# %% [markdown]
# First-order conversion by acquisition channel over the last three complete sign-up months: a
# channel that brings registrants who do not buy is buying sign-ups, not customers.

# %%
new.show_channel_conversion(months=3)

# %% [markdown]
# **Rule of thumb.** The handbook's direction is up: the latest complete month's conversion and
# second-order rate should not fall below the same month a year earlier. A few percent either way is
# noise, so the line sits 5% (`acquisition.trend_tolerance`) under last year's value (001 part 4 treats a
# 5% drop as the alarm).

# %%
acquisition.rule_vs_last_year(record, "First-order conversion 首单转化率", new.latest_conversion, new.conversion_year_ago,
                              tolerance=acq_settings["trend_tolerance"])

# %%
acquisition.rule_vs_last_year(record, "90-day second-order rate 二次购买率", new.latest_second(90), new.second_year_ago(90),
                              tolerance=acq_settings["trend_tolerance"])

# %% [markdown]
# ## 3. Cohorts, repurchase rate and repurchase cycle (同期群, 复购率, 复购周期)
#
# Winning a customer is expensive; keeping one is where the margin is (000 §3.4). A cohort is the
# customers whose first order fell in the same month; following each cohort month by month shows
# whether newer customers stay better or worse than older ones.
#
# - **Retention** in month k = share of the cohort with a paid order in month k after the first;
# - **Cumulative GMV per customer** = what the cohort spent from its first month to month k, per
#   customer (the historical LTV on GMV);
# - **Repurchase rate** (复购率) = of the buyers of the last 12 months, the share who bought on two or
#   more days;
# - **Repurchase cycle** (复购周期) = median days between a customer's consecutive orders (001 part 1:
#   a gold-member programme cut it from 30 to 22 days).
#
# Blank cells are months that have not happened yet for that cohort.

# %%
cohorts = acquisition.cohort_report(data)
fig, axes = plt.subplots(1, 2, figsize=(16, 6))
acquisition.plot_cohorts(cohorts, metric="retention", ax=axes[0])
acquisition.plot_cohorts(cohorts, metric="revenue", ax=axes[1]);

# %% [markdown]
# Read along a row to see a cohort fade, down a column to compare cohorts at the same age. The
# trend below needs a full year of history before each point, so it starts a year after the data do.

# %%
fig, ax = plt.subplots(figsize=(11, 4))
acquisition.plot_repurchase_trend(cohorts, ax=ax)
cohorts

# %% [markdown]
# **Rules of thumb.** The repurchase rate should not fall and the repurchase cycle should not
# lengthen against a year earlier (again with 5% allowed for noise).

# %%
acquisition.rule_vs_last_year(record, "Repurchase rate 复购率", cohorts.point("repurchase_rate"),
                              cohorts.point("repurchase_rate", 12), tolerance=acq_settings["trend_tolerance"])

# %%
acquisition.rule_vs_last_year(record, "Repurchase cycle 复购周期", cohorts.point("cycle_median_days"),
                              cohorts.point("cycle_median_days", 12), kind="max", unit="days",
                              tolerance=acq_settings["trend_tolerance"])

# %% [markdown]
# ## 4. Lifecycle stages (用户生命周期): who is new, active, dormant or gone
#
# 000 §3.5 splits customers into stages and runs each differently. The playbook uses absolute rules
# from the settings (`[lifecycle]`), measured at the end of the report month:
#
# | stage | rule |
# |---|---|
# | potential 潜在 | registered, no paid order yet |
# | new 新客 | first paid order during the month |
# | active 活跃 | last paid order at most 90 days ago |
# | dormant 沉睡 | 90 to 180 days without a paid order (001 part 1: wake them up) |
# | churned 流失 | more than 180 days without a paid order |
#
# The wake-up and churn-risk lists below rank customers with the lifetime-value model of section 5,
# fitted once here.

# %%
value = acquisition.customer_value(data)
life = acquisition.lifecycle_report(data, value=value)
life

# %%
fig, ax = plt.subplots(figsize=(12, 4.5))
acquisition.plot_stage_mix(life, ax=ax);

# %% [markdown]
# How did customers move between stages during the month?

# %%
fig, ax = plt.subplots(figsize=(8, 5))
acquisition.plot_stage_flow(life, ax=ax);

# %% [markdown]
# The flow reads from the row (stage at the start of the month) to the column (stage at its end):
# active → dormant are customers who just crossed the 90-day line, dormant → active were woken up,
# churned → active were recalled. Over a year, how many dormant and churned customers came back?
# (001 part 1: dedicated offers recall 12% of churned customers.)

# %%
life.reactivation.style.format({"rate": "{:.1%}", "customers": "{:,}", "reactivated": "{:,}"}).hide(axis="index")

# %%
record.rule("Churned customers recalled within a year 召回率", life.rate("churned"),
            life_settings["recall_rate_min"], kind="min", unit="pct")

# %% [markdown]
# ### The 90-day rule and P(alive) side by side
#
# The rule says a customer is dormant after 90 days, whatever their habits. The BG/NBD model of
# section 5 gives each customer a probability of still being a customer, P(alive), from how often
# they bought and how long they have been silent: 90 days is nothing for someone who buys twice a
# year and a long time for someone who bought every fortnight. The model only lets a customer drop
# out after a repeat purchase, so one-time buyers keep P(alive) = 1: for them, read the expected
# purchases instead.

# %%
life.side_by_side.style.format({"customers": "{:,}", "mean_p_alive": "{:.0%}", "median_p_alive": "{:.0%}",
                                "share_likely_gone": "{:.0%}", "mean_expected_purchases": "{:.2f}"}).hide(axis="index")

# %%
fig, ax = plt.subplots(figsize=(10, 4))
acquisition.plot_p_alive_by_stage(life, value, ax=ax);

# %% [markdown]
# ### Wake-up list (沉睡用户唤醒) and churn-risk list (流失预警)
#
# **Wake-up list:** dormant customers ranked by what the model expects them to spend in the next 90
# days, the upper half, at most `lifecycle.wakeup_list_max`. 001 part 1: a return gift valid for three
# days plus recommendations from the customer's own history woke up 8% more than a plain message.
#
# **Churn-risk list:** customers still active by the 90-day rule whose P(alive) has already dropped
# under `lifecycle.churn_risk_p_alive`: repeat buyers who are late by their own rhythm, most valuable
# first. They are worth a contact before they cross the line.
#
# Both lists carry customer ids only, never names or phone numbers.

# %%
record.action("wakeup_list", life.wakeup, title="Dormant customers to wake up 沉睡用户唤醒名单",
              description="Dormant 90-180 days, ranked by expected value of the next 90 days").head(10)

# %%
record.action("churn_risk_list", life.churn_risk, title="Active customers at risk of churning 流失预警名单",
              description="Active by the 90-day rule, P(alive) under the settings' line, most valuable first").head(10)

# %%
record.alert("low", "churn-risk list",
             f"{len(life.churn_risk):,} active repeat buyers are late by their own rhythm (P(alive) under "
             f"{life_settings['churn_risk_p_alive']:.0%}); {len(life.wakeup):,} dormant customers worth waking up");

# %% [markdown]
# ## 5. Lifetime value (用户生命周期价值): historical and predicted
#
# Section 3 measured what cohorts have spent; here we predict what each customer will spend. Two
# classic models, fitted by maximum likelihood on every buyer:
#
# - **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while alive a
#   customer buys at a personal rate λ (varying across customers as Gamma(r, α)); after each repeat
#   purchase they may leave for good with a personal probability p (Beta(a, b)). From each customer's
#   frequency (repeat purchase days), recency (first to last purchase) and age T it gives P(alive)
#   and the expected purchases of the next 12 months.
# - **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV"): each customer has a personal mean
#   spend per purchase; a customer with few purchases is pulled towards the shop's average.
#
# Predicted value = expected purchases x expected spend; predicted margin applies the shop's
# gross-margin rate. The implementation is checked in the tests against the published CDNOW
# results (r = 0.243, α = 4.414, a = 0.793, b = 2.426; the paper's expected 1.226 purchases for its
# example customer; p = 6.25, q = 3.74, v = 15.44) and recovers known parameters from simulated
# customers.

# %%
report = acquisition.value_report(data, value=value)
report

# %% [markdown]
# ### Does the model forecast? A holdout check
#
# Fit the model on the data before the last six months, predict each customer's purchases in those
# six months, and compare with what they actually did, grouped by how many repeat purchases they had
# made before. Bars of equal height mean the model can be trusted for ranking and planning.

# %%
fig, ax = plt.subplots(figsize=(10, 4))
acquisition.plot_holdout(report.holdout, ax=ax);

# %% [markdown]
# ### Value tiers (价值分层)
#
# Rank customers by predicted value: the top fifth usually carries more than half of the next year's
# value, and deserves service, member benefits and early access (000 §3.4 high-value users).

# %%
fig, ax = plt.subplots(figsize=(10, 4))
acquisition.plot_value_tiers(report, ax=ax)
report.show_tiers()

# %% [markdown]
# ### Members against non-members (会员 vs 非会员)
#
# A member programme earns its cost if members buy more often and stay longer. 002 part 01 raised the
# member repurchase rate to 45%.

# %%
report.show_members()

# %%
record.rule("Member repurchase rate 会员复购率", report.member_value("members (all tiers)", "repurchase_rate"),
            life_settings["member_repurchase_rate_min"], kind="min", unit="pct")

# %% [markdown]
# ### Private-domain share of GMV (私域GMV占比)
#
# Orders through the shop's own channels (`shop.private_domain_channels`: own site, WeChat mini
# program) cost no platform commission and let the shop contact its customers again. 001 part 3 grew
# the private-domain share of GMV from 8% to 18% with WeCom groups.

# %%
fig, ax = plt.subplots(figsize=(11, 4))
acquisition.plot_private_share(report, target=acq_settings["private_domain_share_min"], ax=ax);

# %%
record.rule("Private-domain share of GMV 私域占比", report.private_share(), acq_settings["private_domain_share_min"],
            kind="min", unit="pct")

# %% [markdown]
# ## Headline figures, alerts and action lists
#
# The month's figures for the report pack; the alerts include every broken rule above; the action
# lists (cut list, wake-up list, churn-risk list) are written as spreadsheets under the runner.

# %%
record.headline("marketing_spend", channels.total("spend"), label="Marketing spend 营销费用", unit="money")
record.headline("new_buyers", channels.total("new_buyers"), label="New buyers 新客", unit="count")
record.headline("cac", channels.total("cac"), label="CAC 获客成本", unit="money")
record.headline("roi", channels.total("roi"), label="ROI on gross margin 投入产出比", unit="ratio")
record.headline("ltv_cac", channels.total("ltv_cac"), label="LTV:CAC", unit="ratio")
record.headline("channels_to_cut", len(channels.cut), label="Channels to cut 待砍渠道", unit="count")
record.headline("first_order_conversion", new.latest_conversion[1], label="First-order conversion 首单转化率", unit="pct",
                note=f"sign-ups of {new.latest_conversion[0]}")
record.headline("second_order_rate_90d", new.latest_second(90)[1], label="90-day second-order rate 二次购买率", unit="pct",
                note=f"new buyers of {new.latest_second(90)[0]}")
record.headline("repurchase_rate", cohorts.value("repurchase_rate"), label="Repurchase rate 复购率 (12 months)", unit="pct")
record.headline("repurchase_cycle", cohorts.value("cycle_median_days"), label="Repurchase cycle 复购周期", unit="days")
record.headline("active_customers", life.count("active"), label="Active customers 活跃用户", unit="count")
record.headline("dormant_customers", life.count("dormant"), label="Dormant customers 沉睡用户", unit="count")
record.headline("churned_customers", life.count("churned"), label="Churned customers 流失用户", unit="count")
record.headline("predicted_gmv_12m", value.total("predicted_gmv"), label="Predicted GMV of today's customers, next 12 months",
                unit="money")
record.headline("private_domain_share", report.private_share(), label="Private-domain share 私域占比", unit="pct")
acquisition.record_skips(record, channels, new, cohorts, life, report)
record.save()
record

# %% [markdown]
# ## Takeaways
#
# - Judge a channel by the margin it earns on its spend, not by its GMV: a channel can bring plenty
#   of orders and still lose money on each. Review ROI monthly and cut what stays under 1.
# - CAC only means something next to what the customer is worth: LTV:CAC and the payback month say
#   whether a channel builds the business or rents it.
# - Retention is decided early: the second order within 30-90 days is the first thing to work on.
# - The 90-day rule is simple and the team can act on it; P(alive) adds each customer's own rhythm.
#   Use the rule for the stage and the model to rank whom to contact first.
# - A model is only as good as its holdout check: look at it before using the predictions.

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# 1. What was the CAC of douyin in the report month? Divide its spend (`marketing_spend`) by its new
#    buyers (customers whose first paid order in the data was on douyin in that month).
# 2. How many customers were dormant (90 to 180 days without a paid order) at the end of the report
#    month? Use `data.derived("customer_summary")` and count the days from each last order's day to the
#    first day after the month.
# 3. Of the new buyers of the month four months before the report month, what share placed a second
#    order (on a later day) within 90 days of their first?
# 4. (No checker.) Refit the models with `acquisition.customer_value(data, unit="D")`. Do the
#    predictions change? Why should they not, much?

# %% tags=["exercise"]
answer = None  # your number
exercises.check("04.cac_douyin", answer, data)

# %% tags=["exercise"]
answer = None  # your number
exercises.check("04.dormant_customers", answer, data)

# %% tags=["exercise"]
answer = None  # your number, e.g. 0.3
exercises.check("04.second_order_rate_90", answer, data)
