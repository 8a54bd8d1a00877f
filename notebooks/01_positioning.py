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
# # 01 Positioning and goals 平台定位与目标
#
# Before any tactic, a shop needs to know how it makes its money, from whom, and how far it is from
# where it planned to be. This chapter puts numbers on all three: the business model, the customers
# behind it, the GMV tree that explains a change, and the targets with a month-end projection.
#
# **Handbook:** 000 §1 (1.1 core value and business model 核心价值与商业模式; 1.2 user personas and
# market segments 用户画像与市场细分; 1.3 SMART targets 目标设定); 002 parts 01-02 (core personas
# 核心用户群体画像, GMV targets per platform by quarter and month, in step with the festival
# calendar 与平台大促节奏同步); 004 on goals and market analysis.
#
# **After this chapter you can** say where the shop's GMV and gross margin come from by channel and
# category, and how the mix moves; describe the customers who bring the most value by persona, age,
# city tier and province; split a change of GMV exactly into visitors, conversion and AOV per
# channel; and read plan against actual, project the month end from a part of the month, and say
# how much faster the rest of the month must sell to make the plan.
#
# **Tables used:** `orders` (required), `order_items` and `products` (categories, gross margin),
# `customers` (personas and segments), `traffic` (visitors, through the shared `daily_kpis`),
# `targets` (the plan), `campaigns` (the festival calendar for pacing). A missing table switches off
# its sections with a note.

# %%
import matplotlib.pyplot as plt

import playbook
from playbook import charts, exercises, i18n, pack, positioning

charts.use_theme()

# %% tags=["parameters"]
month: str = "2026-10"  # report month, YYYY-MM
data_source: str = "../data/samples"  # folder of contract tables or a DuckDB file
settings_file: str = ""  # optional TOML file overriding the default thresholds
output_dir: str = ""  # set by the report runner: where figures and action lists go (empty: display only)
lang: str = "en"  # language of chart labels and table headers: en or zh
pacing_day: int = 18  # pace the report month as if this day were today (0 means its last day with data)

# %%
i18n.set_language(lang)
data = playbook.load(data_source, month=month, settings=settings_file or None)
record = pack.ChapterRecord("01_positioning", month=month, output_dir=output_dir)
positioning.settings_table(data)

# %% [markdown]
# The thresholds above come from the `[positioning]` section of the settings file: the handbook's
# 100% of plan (SMART targets) and 45% member repurchase (002), the 5% conversion drop of 001, and
# the playbook's own defaults for the rest. Pass a settings file of your own to change them.

# %% [markdown]
# ## 1. The business model in numbers 商业模式
#
# The handbook asks first where the money comes from (盈利来源). For a shop selling its own goods
# on several platforms the answer is in three figures: **GMV** (成交额, what buyers paid), **net
# sales** (净销售额, after refunds) and **gross margin** (毛利率, what is left after the cost of the
# goods). Split by channel and category, they show which platforms and ranges carry the business,
# and the **revenue mix** (收入结构) shows how that is shifting.
#
# **Definitions.** GMV = paid_amount of orders not cancelled; net sales = GMV - refunds; an order's
# GMV is spread over its lines by line value, so categories add up to the shop. Cost of goods =
# qty x unit_cost of the goods kept (a refunded order's goods come back). Gross margin = (net sales
# - cost of goods) / net sales. MoM (环比) against the previous month, YoY (同比) against the same
# month last year.

# %%
model = positioning.business_report(data, record=record)
model.kpi_view

# %%
model.channel_view

# %%
fig, axes = plt.subplots(1, 2, figsize=(15, 4.8), gridspec_kw={"width_ratios": [1.2, 1]})
positioning.plot_revenue_mix(model.channel_mix, ax=axes[0])
positioning.plot_category_margin(model, ax=axes[1])
fig.tight_layout();

# %%
model.category_view

# %% [markdown]
# **What to look for.** A channel whose share grows month after month is where the shop's future
# is being decided (here the private domain, 私域: own site and mini program); a channel that grows
# in GMV but not in margin is being bought with discounts. October sits just before 双11: compare it
# with the same month last year rather than with September. Categories with a margin well below the
# shop's are traffic builders (引流款) or need a price review. No single platform should carry too
# much of the business: a rule change or a fee rise there would hit the whole shop.

# %%
record.rule(f"Largest channel's share of GMV ({model.top_channel}) 渠道集中度", model.top_channel_share,
            data.settings["positioning"]["channel_share_max"], kind="max", unit="pct", subject=model.top_channel)

# %% [markdown]
# ## 2. Personas and segments 用户画像与细分
#
# The handbook asks who the shop serves (age, gender, region, habits, preferences) and which
# segment has the most potential, so that range, content and budget go where they pay. 002 names
# its core personas (Z世代, 都市新中产, 银发族, 小微企业采购); the sample shop records a persona per
# customer, and the contract's birth year, city tier and province give the other cuts.
#
# **Definitions** (over the last 12 months): size = registered customers, buyers = with a paid
# order; GMV share; AOV = GMV / paid orders; repurchase rate (复购率) = buyers with paid orders on two
# or more days / buyers. Category preference is the **index** (TGI): the segment's share of GMV in a
# category / the shop's share x 100, so 150 means half as much again as the average customer.

# %%
segments = positioning.segment_report(data, record=record)
segments.view("persona")

# %%
fig, axes = plt.subplots(1, 2, figsize=(16, 5), gridspec_kw={"width_ratios": [1, 1.1]})
positioning.plot_segments(segments, "persona", ax=axes[0])
positioning.plot_preference(segments, ax=axes[1])
fig.tight_layout();

# %% [markdown]
# **What to look for.** A persona whose GMV share is well above its share of customers is worth
# more per head (here the small-business buyers, 小微企业采购, with an AOV several times the others);
# its signature category says what to put in front of it. The heatmap tells each persona's range
# apart although every persona buys camping gear first: silver-age customers over-index on bedding
# and kitchen, gen Z on fitness and small appliances, outdoor fans on camping gear and apparel.
# Then the other cuts: age band, city tier, province (the twelve largest) and member tier.

# %%
segments.view("age_band")

# %%
segments.view("city_tier")

# %%
segments.view("province")

# %%
segments.view("member_tier")

# %%
record.rule("Members' repurchase rate, 12 months 会员复购率", segments.member_repurchase_rate,
            data.settings["positioning"]["repurchase_target"], kind="min", unit="pct", subject="members")

# %% [markdown]
# ## 3. The GMV tree 销售额拆解
#
# GMV is a product: **GMV = visitors x conversion x AOV** (访客数 x 转化率 x 客单价), per channel.
# When GMV moves, the first question is which factor moved it: more traffic, a better or worse
# checkout, or bigger baskets. Each calls for a different team.
#
# **The exact split.** Percent changes of a product do not add up, so a naive split leaves a
# residual. The log-mean (LMDI) decomposition gives each factor the contribution
# $C_x = L(\text{GMV}_1, \text{GMV}_0)\,\ln(x_1/x_0)$ with the log mean
# $L(a,b) = (a-b)/(\ln a - \ln b)$. Because the logs of the factors add up to the log of GMV, the
# contributions add up **exactly** to the change, channel by channel and for the shop. Conversion
# here = paid orders / visitors; a channel that opened or closed in one of the months goes to a
# separate bar.

# %%
tree = positioning.tree_report(data, record=record)
fig, axes = plt.subplots(1, 2, figsize=(16, 4.8))
positioning.plot_bridge(tree, "mom", ax=axes[0])
positioning.plot_bridge(tree, "yoy", ax=axes[1])
fig.tight_layout();

# %%
tree.view("mom")

# %% [markdown]
# **What to look for.** The largest bar says which team owns the change. In the sample's October,
# growth against last year is almost all traffic (a shop that buys or earns more visitors, with
# about the same conversion and AOV); against September, AOV rises as the 双11 presale deposits and
# bigger baskets come in. Conversion also rises against September, but part of that is September's
# bad day: a payment outage on **2026-09-17** (visitors normal, paid orders down by more than half)
# pulled September's conversion down. The daily line shows it; chapter 06 raises it as an alert.

# %%
fig, ax = plt.subplots(figsize=(13, 4))
positioning.plot_daily_conversion(tree, ax=ax);

# %%
tree.view("yoy")

# %%
record.rule("Conversion against the previous month 转化率环比", tree.conversion_change,
            -data.settings["positioning"]["conversion_drop_max"], kind="min", unit="pct", subject="conversion")

# %% [markdown]
# ## 4. Targets: plan against actual, pacing and the gap 目标、进度与差距
#
# A SMART target (具体、可衡量、可实现、相关、有时限) is a number per month and channel that can be
# checked. 002 sets GMV targets per platform by quarter and month, in step with the festival
# calendar. The `targets` table holds that plan; the chapter compares it with what happened.
#
# **Definitions.** Attainment (达成率) = actual / plan; gap = actual - plan. The channel's share of
# GMV against its share of the plan shows whether the mix goes the way the plan wanted.

# %%
targets = positioning.target_report(data, record=record)
fig, ax = plt.subplots(figsize=(13, 4.5))
positioning.plot_plan_vs_actual(targets, ax=ax);

# %%
fig, ax = plt.subplots(figsize=(14, 3.8))
positioning.plot_attainment(targets, ax=ax);

# %%
targets.scorecard_view

# %%
targets.channel_view

# %%
record.rule("GMV against plan 目标达成率", targets.attainment, data.settings["positioning"]["attainment_min"],
            kind="min", unit="pct", subject="GMV target")

# %%
record.rule(f"Largest gap between a channel's share and its planned share ({targets.max_share_gap_channel})",
            targets.max_share_gap, data.settings["positioning"]["plan_share_tolerance"], kind="max", unit="pct",
            subject=targets.max_share_gap_channel)

# %% [markdown]
# **What to look for.** A run of red months is a plan that was set too high or a business that
# slowed; look at which channels fell short (the table) before revising the plan. A rate that beats
# its plan while GMV misses (conversion here) means the shortfall is elsewhere in the tree.
#
# ### Pacing of a month in progress 月度进度
#
# In the middle of a month the question is: at this pace, where do we land, and how much must the
# rest of the month deliver? A straight line (GMV to date x days in month / days so far) is wrong
# twice: weekends sell more than weekdays, and festivals (the 双11 presale from 10-20, the main
# phase from 10-31) put a large part of a month into a few days.
#
# **Method.** Each day of the month gets a weight = this year's weekday rhythm (from the last 12
# weeks, festival days left out) x last year's level on the same calendar day (weekday rhythm
# removed; festival days kept as they were, ordinary days smoothed). The projection is GMV to date
# / the share of the month's weight already past; the **uplift needed** is how much faster than
# that pace the rest must sell to make the plan. The report month is complete in the sample, so the
# chapter replays it as of day `pacing_day` and shows what really happened.

# %%
pace = positioning.pacing_report(data, day=pacing_day, record=record)
fig, ax = plt.subplots(figsize=(13, 5))
positioning.plot_pacing(pace, ax=ax);

# %%
pace.view

# %% [markdown]
# **What to look for.** The gap between the dashed projection and the dotted straight line is what
# the calendar is worth: replayed at day 18 of October, the straight line misses the month end by
# far more than the shaped projection, which knows the 双11 presale is coming. The projection errs
# too when this year's weeks differ from last year's (a milder or stronger pre-festival lull), so
# update it every day. A channel with a large uplift needed is the one to push, or to re-plan.

# %%
record.rule(pace.label, pace.projected_attainment, data.settings["positioning"]["attainment_min"], kind="min",
            unit="pct", severity=pace.severity, subject="GMV pacing")

# %% [markdown]
# ## Headline figures, alerts and action lists
#
# The month's figures and alerts go to the report pack; the action lists are written as CSV files:
#
# - `channel_targets`: each channel's plan, actual and gap for the month, with the pacing as of the
#   pacing day (projected month end, uplift needed), for the monthly target review;
# - `persona_segments`: the persona table with size, value, repurchase and the signature category,
#   for planning content and range per segment.

# %%
record.headline("gmv", model.gmv, label="GMV 成交额", unit="money")
record.headline("gmv_mom", model.mom, label="GMV vs previous month 环比", unit="pct")
record.headline("gmv_yoy", model.yoy, label="GMV vs same month last year 同比", unit="pct")
record.headline("gross_margin", model.gross_margin, label="Gross margin 毛利率", unit="pct")
record.headline("top_channel_share", model.top_channel_share, label=f"Largest channel's share ({model.top_channel})", unit="pct")
record.headline("top_persona_gmv_share", segments.top_persona_gmv_share,
                label=f"Largest persona's share of GMV ({segments.top_persona})", unit="pct")
record.headline("repurchase_rate_12m", segments.repurchase_rate, label="Buyers repurchasing, 12 months 复购率", unit="pct")
record.headline("gmv_attainment", targets.attainment, label="GMV against plan 目标达成率", unit="pct")
record.headline("gmv_attainment_ytd", targets.ytd_attainment, label="GMV against plan, year to date", unit="pct")
record.headline("projected_attainment", pace.projected_attainment,
                label=f"Projected month end against plan (as of day {pacing_day})", unit="pct");

# %%
record.alerts_from(tree.alerts, severity="severity", subject="subject", message="{message}", section="GMV tree")
record.alerts_from(targets.behind, severity="severity", subject="channel", message="{message}", section="targets")
record.alerts_from(pace.behind, severity="severity", subject="channel", message="{message}", section="pacing");

# %%
record.action("channel_targets", positioning.channel_targets(targets, pace), title="Channel targets and pacing 渠道目标与进度",
              description="Plan, actual and gap per channel, with the projected month end and the uplift needed.")
record.action("persona_segments", segments.persona_table, title="Persona segments 用户画像细分",
              description="Size, GMV share, AOV, repurchase and signature category per persona (12 months).");

# %%
record.save()
record

# %% [markdown]
# ## Takeaways
#
# - Read GMV with its margin and its mix: growth bought with discounts or concentrated on one
#   platform is weaker than it looks.
# - Describe customers by the value they bring (GMV share against headcount, AOV, repurchase) and by
#   what sets them apart (the category index), not by what everybody buys.
# - Split every change of GMV into visitors, conversion and AOV exactly; each factor belongs to a
#   different team, and a one-day outage shows up as conversion.
# - Check the plan by month and channel, and pace a running month with its calendar (weekdays and
#   festivals), never with a straight line.

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# 1. What share of the report month's GMV comes from the category 露营装备? Use `data.month_rows("orders")`,
#    `data.order_items` and `data.products`, and spread each order's `paid_amount` over its lines
#    by line value (or call `positioning.order_lines`).
# 2. How many yuan of the change of GMV against the previous month does conversion explain? Use
#    `positioning.gmv_tree(data.derived("daily_kpis"), month, base=...)` and add up the
#    contributions to check that they equal the change.
# 3. Set `pacing_day` to 10, then 25, and run the chapter again: how does the projection's error
#    against what really happened change, and why is the straight line worst before 10-20?

# %% tags=["exercise"]
answer = None  # your share, e.g. 0.45
exercises.check("01.category_share", answer, data)

# %% tags=["exercise"]
answer = None  # your number of yuan
exercises.check("01.conversion_contribution", answer, data)
