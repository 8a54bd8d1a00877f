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
# # 06 Data operations 数据化运营
#
# Running a shop on numbers means watching a few figures every day, knowing which customers to
# treat how, testing changes before rolling them out and crediting each channel fairly. This
# chapter builds the daily KPI board with its alerts, the funnel, RFM segments, A/B test readouts,
# channel attribution and the monthly review table.
#
# **Handbook:** 001 part 4 (数据化运营: the chain UV x conversion x AOV x repurchase, daily
# monitoring, an alert when conversion falls 5%), 002 part 05 (RFM模型, A/B测试, 归因模型), 003
# stage 6 (复盘: review what moved and why), 004 on data.
#
# **After this chapter you can** read a daily KPI board and tell an abnormal day from a weekend or a
# festival, find where the funnel leaks by channel and device, segment customers by RFM and give
# each segment an action, read an A/B test (sample ratio, confidence interval, p-value, revenue per
# unit, CUPED) and plan its size, compare five attribution models, and write the month's review.
#
# **Tables used:** `orders` (required), `traffic` (visitors, funnel), `campaigns` (the festival
# calendar), `experiments` (A/B tests), `touchpoints` (attribution). A missing table switches off
# its sections with a note.

# %%
import matplotlib.pyplot as plt

import playbook
from playbook import charts, dataops, exercises, i18n, pack

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
record = pack.ChapterRecord("06_data_ops", month=month, output_dir=output_dir)
ops_settings = data.settings["dataops"]
dataops.settings_table(data)

# %% [markdown]
# ## 1. The KPI board and abnormal days 数据看板与异常预警
#
# The handbook's chain is **GMV = visitors (UV 访客数) x conversion (转化率) x AOV (客单价)**, with
# **repurchase (复购率)** deciding how much of tomorrow's GMV is already earned. Watching these four
# every day catches a broken checkout, a lost traffic source or a pricing mistake within a day
# instead of at month end (001 part 4: alert when conversion falls 5%).
#
# **Definitions.** Per day, shop-wide: visitors from `traffic`; conversion = paid orders / visitors;
# AOV = GMV / paid orders; repurchase = buyers of the day who had bought on an earlier day / buyers
# of the day.
#
# **What is normal.** A Saturday is not a Tuesday, and 11-11 is not an ordinary day. Each day's
# *expected* value is the median of the same weekday over the eight weeks before, counting only
# ordinary days. The **festival calendar** (大促日历) is every festival campaign from two weeks before
# to ten days after (the quiet fortnight and the dip), the days of any other campaign, and the
# spring festival (春节) +- 12 days. On those days a peak or a dip is the festival's, and only a
# fall in conversion alerts: no festival explains a checkout that stops converting.
#
# **When a day alerts.** Conversion and repurchase are shares, so they are tested as counts (a
# binomial test of the day's paid orders out of its visitors against the expected rate, p < 0.001)
# and must move by at least 0.5 percentage points and 5% (10 points for repurchase), with a minimum
# volume (500 visitors; 30 buyers). Visitors and AOV alert when 35% off expected and four robust
# standard deviations away. At most five alerts per metric and month, the largest first.

# %%
board = dataops.kpi_board(data, record=record)
board.summary_view

# %%
axes = dataops.plot_kpi_board(board)
plt.tight_layout()

# %% [markdown]
# The last week of the month, each figure as actual (expected):

# %%
board.daily_view(7)

# %% [markdown]
# **What to look for.** A red dot is an abnormal day; the shaded days are on the festival calendar,
# where the dashed expected line does not apply. The alerts of the board's last three months, each
# with expected against actual:

# %%
board.alert_view

# %%
board.status_view

# %% [markdown]
# In the sample shop, the payment outage of 2026-09-17 is the one alert of the last two years:
# visitors were normal, conversion fell from about 3.1% to 1.3%. The 618 and 双11 peaks show as
# festival moves, not alerts. The handbook's rule is the month's conversion against the previous
# month (down 5% is the alarm line). One bad day hardly moves a month (September 2026 ends only
# about 1% below August): that is why the board watches days.

# %%
record.rule("Conversion against the previous month 转化率环比", board.summary.iloc[1]["change"],
            -ops_settings["conversion_drop_alert"], kind="min", unit="pct", subject="conversion")

# %%
record.rule("Days of the month with a conversion alert 转化率异常天数", board.conversion_alert_days, 0,
            kind="max", unit="count", subject="conversion")

# %% [markdown]
# ## 2. RFM segments and what to do with each 客户分层
#
# Not every customer deserves the same message. RFM ranks customers on three facts: **R**ecency
# (days since the last paid order), **F**requency (paid orders) and **M**onetary value (GMV), over
# the loaded 25 months, as of the end of the report month.
#
# **Scores.** Each measure is cut into quintiles (five equal groups by rank, ties sharing a rank):
# 5 is the best fifth, so for recency the *most recent* fifth scores 5 (recency reversed). Segments
# follow from R and the mean of F and M: Champions (R>=4, FM>=4), Loyal, Potential loyalists, New
# (recent, one order), Need attention (R=3), At risk (R<=2 with FM>=3), Can't lose (R=1, FM>=4),
# Hibernating (R=2) and Lost.

# %%
rfm = dataops.rfm_report(data, record=record)
rfm.view

# %%
fig, ax = plt.subplots(figsize=(7, 5))
dataops.plot_rfm(rfm, ax=ax);

# %% [markdown]
# **What to look for.** Champions and Loyal customers carry most of the GMV with a minority of the
# customers: they need attention and perks, not discounts. The segments that slip (At risk, Can't
# lose) hold customers who used to buy often; the handbook's 90-day rule (001 part 1) says to win
# them back before they are lost. The playbook's line: at most a quarter of customer GMV should sit
# in the slipping segments.

# %%
record.rule("GMV share of slipping segments (at risk, can't lose) 流失风险客户贡献", rfm.slipping_gmv_share,
            ops_settings["rfm_slipping_gmv_max"], kind="max", unit="pct", subject="RFM")

# %% [markdown]
# ## 3. A/B tests 实验评估
#
# A test shows whether a change (a one-page checkout, a banner colour) causes a difference, by giving
# it to a random half of the visitors. Reading one well means checking four things in order:
#
# 1. **Sample ratio** (SRM): were the arms split as planned? A chi-square test of the arm sizes; p <
#    0.001 means the assignment is broken and nothing else can be trusted.
# 2. **Conversion difference** treatment - control, with its 95% confidence interval and the
#    two-proportion z-test p-value.
# 3. **Revenue per unit** (all units, zeros included) with Welch's t-test; and **CUPED**: subtract
#    theta x (pre_metric - its mean), theta = cov(pre, revenue) / var(pre), which keeps the
#    difference but removes the variance explained by what each unit spent before.
# 4. **Size**: a test read before its planned size is *peeking*: with enough looks a p-value dips
#    under 0.05 by chance. The planned size here is the one needed to detect a 10% relative lift.

# %%
ab = dataops.ab_report(data, record=record)
ab.view

# %%
ab.revenue_view

# %% [markdown]
# **What to look for.** `one_page_checkout` lifts conversion by over a point with an interval that
# stays above zero, and revenue per unit follows; CUPED narrows the interval (the variance falls by
# the share shown). `banner_color` shows no detectable difference: its interval straddles zero.
#
# **Planning a test.** `dataops.sample_size(baseline, mde)` gives the units per arm. `mde` is an
# *absolute* change unless `relative=True`: detecting 20% -> 25% (mde 0.05 absolute) needs 1,031
# per arm (Evan Miller's calculator shows 1,030); at the shop's 3% conversion, a 10% relative lift
# (3.0% -> 3.3%) needs about 51,500 per arm: small shops should test big changes.

# %%
dataops.sample_size(0.20, 0.05), dataops.sample_size(0.03, 0.10, relative=True)

# %%
record.rule("A/B tests with a sample-ratio mismatch or read too early 实验告警", ab.warnings, 0,
            kind="max", unit="count", subject="experiments")

# %% [markdown]
# ## 4. The funnel 转化漏斗
#
# Conversion is the end of a chain of steps: a visitor views a product, adds it to the cart, starts
# checkout and pays. Looking at each step tells *where* buyers are lost, which is what a team can fix
# (a slow product page, shipping costs shown at checkout, a payment failure).
#
# **Definitions.** Counts of unique visitors at each step from `traffic`, paid orders from `orders`;
# a step rate is the step over the step before. Where it leaks most: for each channel x device and
# step, the gap to the shop's step rate, turned into the paid orders lost at that step.

# %%
funnel = dataops.funnel_report(data, record=record)
fig, ax = plt.subplots(figsize=(9, 4))
dataops.plot_funnel(funnel, ax=ax);

# %%
funnel.channel_view

# %%
funnel.device_view

# %% [markdown]
# **Where it leaks most** (channel x device and step, by paid orders lost against the shop's rate):

# %%
funnel.gap_view

# %% [markdown]
# **Against the previous month**, per channel: the change in conversion and the step whose rate
# fell most. A payment problem shows at checkout -> paid; a traffic-quality problem at the first step.

# %%
funnel.leak_view

# %%
record.rule("Worst channel conversion against the previous month 渠道转化率环比", funnel.worst_change,
            -ops_settings["conversion_drop_alert"], kind="min", unit="pct", subject="funnel")

# %% [markdown]
# ## 5. Attribution across channels 渠道归因
#
# A buyer often meets the shop several times before paying: a Xiaohongshu note, a Douyin video, then
# a Tmall search. Which channel gets the credit decides where the budget goes.
#
# **Paths.** The touchpoints of a customer up to 30 days before a paid order of the month form a
# converting path; touchpoints no order followed form non-converting paths. **Rules:** first touch,
# last touch, linear (equal shares), position-based (40% first, 40% last, 20% across the middle).
# **Data-driven (Markov chain):** the paths define transition probabilities between channels, a
# conversion and a dead end; a channel's *removal effect* is how much the probability of converting
# falls when the channel is taken out. It is computed exactly from the absorbing chain's fundamental
# matrix, so the result does not change between runs. Credit is shared in proportion to the
# removal effects.

# %%
attribution = dataops.attribution_report(data, record=record)
fig, ax = plt.subplots(figsize=(11, 4.5))
dataops.plot_attribution(attribution, ax=ax);

# %%
attribution.view

# %% [markdown]
# **What to look for.** Channels that start journeys (content: Xiaohongshu, Douyin) earn more under
# first touch and Markov than under last touch; channels where buyers finish (search on JD and
# Tmall) earn more under last touch. A large `last_vs_markov` gap means a budget set on last-touch
# numbers would starve the channel that opens the door.

# %%
record.rule("Largest gap between last-touch and Markov shares 归因偏差", attribution.max_gap,
            ops_settings["attribution_gap_max"], kind="max", unit="pct", subject="attribution")

# %% [markdown]
# ## 6. The review table 复盘表
#
# At the weekly and monthly review the team wants the few figures that moved most, up and down, and
# why. For the shop and each channel, GMV, visitors, conversion, AOV and paid orders are compared with
# the period before; a GMV change is split exactly into what visitors, conversion and AOV contributed
# (log decomposition), and the largest one names the driver. The other figures get a short reason:
# the funnel step that moved most (conversion), the device that brought or lost visitors, the list
# value and discount per order (AOV), and visitors against conversion (paid orders). Moves are
# ranked by size (GMV in yuan, the others by their relative change weighted by the channel's share
# of GMV). A festival in one period and not the other (the 双11 presale from 10-20) shows up here:
# read it with the festival calendar of section 1.

# %%
review = dataops.review_table(data, period="month", top=ops_settings["review_top"])
fig, ax = plt.subplots(figsize=(10, 5))
dataops.plot_review(review, ax=ax);

# %%
dataops.review_view(review)

# %%
dataops.review_view(dataops.review_table(data, period="week", top=5))

# %% [markdown]
# ## Headline figures, alerts and action lists
#
# - `rfm_segments`: every customer with their RFM score, segment and suggested action;
# - `attribution`: revenue and conversion shares by channel under the five models;
# - `funnel_leaks`: the channel x device steps that lose the most paid orders.

# %%
record.headline("visitors", board.summary.iloc[0]["this_month"], label="Visitors 访客数", unit="count")
record.headline("conversion", board.summary.iloc[1]["this_month"], label="Conversion 转化率", unit="pct")
record.headline("aov", board.summary.iloc[2]["this_month"], label="AOV 客单价", unit="money")
record.headline("repurchase", board.summary.iloc[3]["this_month"], label="Repurchase (buyers who bought before) 复购率", unit="pct")
record.headline("kpi_alert_days", len(board.month_alerts), label="KPI alerts this month 异常预警", unit="count")
record.headline("champions_share", rfm.share("Champions"), label="Customers in Champions RFM segment 重要价值客户", unit="pct")
record.headline("slipping_gmv_share", rfm.slipping_gmv_share, label="GMV share of slipping RFM segments", unit="pct")
record.headline("ab_significant", ab.significant, label="A/B tests with a significant result 显著实验", unit="count")
record.headline("attribution_gap", attribution.max_gap, label="Largest last-touch vs Markov gap 归因偏差", unit="pct");

# %%
record.alerts_from(board.pack_alerts, severity="severity", subject="subject", message="{message}", section="kpi board")
record.alerts_from(ab.alerts, severity="severity", subject="subject", message="{message}", section="experiments");

# %%
record.action("rfm_segments", rfm.action_list, title="RFM segments and actions RFM客户分层",
              description="Every customer with a paid order: RFM score, segment and the suggested action.")
record.action("attribution", attribution.action_list, title="Channel attribution 渠道归因",
              description="Revenue and conversion shares by channel: first, last, linear, position-based, Markov.")
record.action("funnel_leaks", funnel.gaps if funnel.gaps is not None else funnel.channel_view,
              title="Funnel leaks 漏斗流失", description="Channel x device steps losing the most paid orders.");

# %%
record.save()
record

# %% [markdown]
# ## Takeaways
#
# - Judge a day against the same weekday of ordinary weeks and keep the festival calendar apart:
#   then an alert is rare and means something (the sample's payment outage is the only one).
# - Shares alert in points with a significance test and a minimum volume; every alert says what was
#   expected.
# - RFM turns a customer list into nine groups with nine different actions; the slipping
#   high-value groups are the urgent ones.
# - Read an A/B test in order: sample ratio, interval, size; use pre-period data (CUPED) to need
#   fewer units; never stop a test the first time p dips under 0.05.
# - Attribution models disagree most on the channels that open journeys; the Markov removal effect
#   gives them the credit last touch forgets.

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# 1. What was the shop's conversion (paid orders / visitors) in the report month? Use
#    `data.derived("daily_kpis")`.
# 2. How many units per arm does a test need to detect 3.0% -> 3.3% conversion (an *absolute*
#    mde of 0.003) at alpha 0.05 and power 0.8? Work it out with the formula in
#    `dataops.sample_size`'s docstring, then check.
# 3. Run the chapter for `month = "2026-09"`: which alert does the KPI board record for the month,
#    and which funnel step fell most for each channel?

# %% tags=["exercise"]
answer = None  # your conversion, e.g. 0.03
exercises.check("06.month_conversion", answer, data)

# %% tags=["exercise"]
answer = None  # units per arm
exercises.check("06.sample_size_3pct", answer, data)
