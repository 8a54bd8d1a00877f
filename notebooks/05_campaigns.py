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
# # 05 Campaigns 活动策划与执行
#
# A festival looks like a triumph on its peak day; whether it paid is another question. This
# chapter measures each campaign against what the shop would have sold without it, counts what the
# festival borrowed from the weeks around it, compares the campaign mechanics, and lays out the
# festivals of the coming quarter with last year's result beside each.
#
# **Handbook:** 000 §4 (营销活动: 限时折扣、满减满赠、秒杀、拼团、新品预售), 001 part 3 (活动运营: the
# warm-up before 618 with presale deposits that reached 35% of GMV, 预售金额占比35%; a Tuesday member
# day, 周二会员日), 002 part 04 (大促节点活动排期, 会员专属福利日) and part 05 (A/B测试: test 满减,
# discounts and gifts against each other, 促销策略验证), 003 stage 7 (平台活动: 618, 双11, 限时秒杀, 满减).
#
# **After this chapter you can** measure a campaign's lift (活动增量) against a weekday-aware baseline,
# see the pull-forward before a festival (蓄水期的观望) and the dip after it, compare campaign types on
# discount depth, margin, ROI and new buyers, read the presale share and the 满减 threshold's effect
# on basket values, plan the next quarter's festivals (moving festivals computed from the lunar
# calendar), and read a promotion A/B test with its significance and power.
#
# **Tables used:** `orders` (required), `campaigns` (lift, types, presale, thresholds),
# `order_items` and `products` (margin), `marketing_spend` with `campaign_id` (ROI),
# `experiments` (A/B tests). A missing table switches off its sections with a note.

# %%
import matplotlib.pyplot as plt

import playbook
from playbook import campaigns, charts, exercises, i18n, pack

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
record = pack.ChapterRecord("05_campaigns", month=month, output_dir=output_dir)
campaigns.settings_table(data)

# %% [markdown]
# The thresholds above come from the `[campaigns]` section of the settings file: the handbook's 35%
# presale share and ROI line of 1, and the playbook's defaults for the baseline (28 ordinary days),
# the pre-period (12 days) and the post-period (10 days), which you can change.

# %% [markdown]
# ## 1. Lift against a baseline without the campaign 活动增量
#
# A campaign's GMV is not its effect. Part of it would have been sold anyway, and part of it was
# only moved: buyers who wait for 双11 do not buy in the two weeks before it (the pull-forward,
# 蓄水期观望), and buyers who stocked up do not come back for a while (the hangover after it).
#
# **Definition.** The baseline (基线) is what an ordinary day of the same weekday sold in the
# 28 ordinary days before the festival's pre-period (days of other campaigns, their pre- and
# post-periods and the spring festival left out), scaled by last year's seasonal index where the
# data hold last year. Every phase is compared with it:
#
# $$\text{lift} = \frac{\sum_{d \in \text{phase}} \text{paid orders}_d}{\sum_{d \in \text{phase}} \text{baseline}_{\text{weekday}(d)} \times \text{seasonal index}}$$
#
# The phases: **pre** (the 12 days before the first phase), **presale** (deposits, 定金预售, counted
# apart from ordinary orders), **main** (正式期), **post** (the 10 days after), and **net**, the
# whole event from pre to post: what the festival added after paying back what it borrowed. A
# campaign on one channel (the mini program's member day) is measured on that channel, and the
untouched channels over the same days serve as a control (`control_lift`): the campaign worked when
its lift clearly exceeds theirs.

# %%
lift = campaigns.lift_report(data, record=record)
lift.summary

# %%
fig, ax = plt.subplots(figsize=(12, 5))
campaigns.plot_event_lift(lift, ax=ax);

# %% [markdown]
# **What to look for.** The bars dip under the dashed baseline in the yellow pre-period: buyers
# wait. During the presale the ordinary orders (blue) fall further while the deposits (purple) sit
# on top: demand moved into the festival, not new demand. The main phase peaks on the last day; the
# red post-period dips again. The net lift is the number to judge the festival by. Every phase:

# %%
lift.focus_view

# %% [markdown]
# Every campaign of the last twelve months, main phase (member days on the mini program, flash sales
# on their channel); pre, post and net lifts for the festivals:

# %%
fig, ax = plt.subplots(figsize=(11, 6))
campaigns.plot_lift_bars(lift, ax=ax);

# %%
lift.recent_view

# %%
record.rule(f"Net lift of {lift.label} from pre-period to dip 活动净增量", lift.net_lift, 1.0, kind="min",
            unit="ratio", subject=lift.label)

# %% [markdown]
# ## 2. Campaign types compared 活动类型对比
#
# 满减 (full reduction), item discounts (折扣), coupons (优惠券), presale (预售), flash sales (秒杀)
# and member days (会员日) buy different things: a deep discount buys volume with margin, a presale
# buys early commitment, a member day buys loyalty cheaply. Comparing them on the same measures
# tells which mechanic to use for which goal.
#
# **Definitions.** An order belongs to the campaign named on it. Discount depth = discounts / list
# value; margin after discount = (paid - shipping - cost of goods) / (paid - shipping); ROI = gross
# margin / the campaign's marketing spend (001 part 4: cut what stays under 1); incremental ROI =
# the lift's extra GMV x margin rate / spend; new-buyer share = buyers whose first paid order was
# the campaign order (blank for campaigns with under 180 days of history before them, when
# everyone would look new).

# %%
types = campaigns.type_report(data, lift=lift, record=record)
types.types_view

# %%
fig, ax = plt.subplots(figsize=(9, 5.5))
campaigns.plot_type_comparison(types, ax=ax);

# %% [markdown]
# **What to look for.** Deeper discounts sit to the right and lower: the margin they cost. A type
# with a high ROI but a lift near 1 sells to buyers who would have bought anyway (member days, on a
# small base); a presale's margin is the whole order's, but its spend runs for weeks before the
# balance is paid. The latest campaigns one by one:

# %%
types.scorecard_view

# %%
record.rule("Campaigns whose gross margin did not cover their spend (ROI under 1)", types.losing_count, 0,
            kind="max", unit="count", subject="campaign ROI")

# %% [markdown]
# ## 3. Presale, coupons and full reduction 预售、优惠券与满减
#
# **Presale share (预售占比).** The handbook's warm-up started 30 days before 618 with deposits that
# grow into a bigger discount (定金膨胀); presale reached 35% of the festival's GMV. Presale share =
# GMV of the presale orders / GMV of the whole festival (presale + main phase). The deposit is paid
# when the order is placed, the balance (尾款) when the main phase opens: the days between are the
# time the shop holds the commitment; an unpaid balance is a lost deposit.

# %%
mech = campaigns.mechanics_report(data, record=record)
mech.summary

# %%
mech.presale_view

# %%
record.rule(f"Presale share of GMV, {mech.presale_event or 'last festival'} 预售占比", mech.presale_latest,
            mech.target, kind="min", unit="pct", subject="presale")

# %% [markdown]
# **Coupons (优惠券).** Uptake = orders with the coupon / all paid orders over the last twelve
# months, with the AOV of the coupon's orders against orders without any coupon. A coupon with a
# threshold (满99减30) lifts AOV only if buyers add to reach it; a first-order coupon (NEW30) is
# acquisition, a win-back coupon (BACK15) retention.

# %%
mech.coupon_view

# %% [markdown]
# **满减 thresholds and bunching (凑单).** A threshold such as 满300减40 works when buyers add an item
# to cross it: baskets then bunch just above the line. The threshold is read from the campaign's
# name (满200减20) or inferred from its orders. The test compares baskets in the 20 yuan just above
# and just below the threshold during the campaigns with the same ratio on ordinary days:
#
# $$\text{bunching} = \frac{n[T, T+20) \,/\, n[T-20, T) \text{ during the campaigns}}{n[T, T+20) \,/\, n[T-20, T) \text{ on ordinary days}}$$
#
# Basket value is counted at selling price (after item discounts, before the 满减).

# %%
mech.bunching_view

# %%
fig, ax = plt.subplots(figsize=(11, 4.5))
campaigns.plot_bunching(mech, ax=ax);

# %% [markdown]
# **What to look for.** A step up right at the dashed line, in red and not in grey, is bunching: the
# threshold pulls baskets over it. Item prices come in steps, so read the ratio with its p-value;
# and check the AOV change: during a festival AOV can fall even with bunching, because the item
# discounts lower every basket.

# %%
record.rule("满减 bunching above the main threshold (campaign vs ordinary ratio)", mech.bunching_max,
            mech.bunching_min, kind="min", unit="ratio", subject="full reduction")

# %% [markdown]
# ## 4. The calendar for the coming quarter 活动日历
#
# The handbook plans festival by festival (大促节点活动排期): 618, 双11, 双12, the new-year goods
# festival (年货节) before the spring festival, women's day (女神节, 03-08), 520, qixi (七夕), mid-autumn
# (中秋), national day (国庆) and the monthly member day (会员日). Qixi, mid-autumn and the spring
# festival move with the lunar calendar: the playbook computes them from a table of lunar month
# starts for 2019-2036 checked against the astronomical new moons (七夕 = 7th day of the 7th lunar
# month, 中秋 = 15th of the 8th; the 年货节 runs from 24 to 10 days before the spring festival, when
# couriers stop). A member day that falls inside a festival moves a week later.
#
# Each row carries last year's result over the same festival's window (GMV, orders and lift against
# the weekday baseline), a campaign already in the campaigns table, and the date to start preparing
# (001 part 3: the warm-up starts 30 days ahead; a week for a member day).

# %%
cal = campaigns.calendar_report(data, lift=lift, record=record)
cal.view

# %%
fig, ax = plt.subplots(figsize=(12, 4))
campaigns.plot_calendar(cal, ax=ax);

# %% [markdown]
# **What to look for.** The festivals whose preparation date has already passed, and those with a
# good lift last year but no campaign planned. (The loader reads the campaigns table up to the end
# of the report month, so a campaign planned later shows only when it has started.)

# %% [markdown]
# ## 5. Promotion A/B tests A/B测试
#
# Before a festival the handbook tests the mechanics against each other (满减 vs discount vs gift)
# on a share of the traffic. A test is read on conversion (did the unit buy) and revenue per unit.
#
# The readout is chapter 06's (`dataops.ab_readout`); this chapter adds the power each test had.
#
# **Definitions.** Two-proportion z-test of the variant's conversion against the control's
# (two-sided, α = 5%); the difference's 95% interval; power = the chance the test had to detect the
# planned effect (a 10% relative lift); MDE = the smallest relative lift it could detect with 80%
# power. Revenue per unit with Welch's t-test, and CUPED-adjusted with each unit's spend before the
# test (`pre_metric`), which removes the noise that was there before. A sample-ratio check flags arms
# whose sizes differ beyond chance (a broken assignment). Verdicts: *variant wins*, *control wins*,
# *no difference (well powered)*, *inconclusive (under-powered)*: never read "no difference" into a
# test that could not have seen one.

# %%
ab = campaigns.ab_report(data, record=record)
ab.view

# %%
fig, ax = plt.subplots(figsize=(9, 4.5))
campaigns.plot_ab(ab, ax=ax);

# %%
record.rule("A/B tests under-powered for the planned effect", ab.underpowered, 0, kind="max", unit="count",
            subject="experiments")

# %% [markdown]
# ## Headline figures, alerts and action lists
#
# The month's figures and alerts go to the report pack; the action lists are written as CSV files:
#
# - `campaign_calendar`: the coming quarter's festivals and member days with the date to start
#   preparing and last year's result;
# - `campaigns_below_roi`: campaigns whose gross margin did not cover their spend.

# %%
record.headline("festival_main_lift", lift.main_lift, label=f"Main-phase lift, {lift.label} 正式期增量", unit="ratio")
record.headline("festival_net_lift", lift.net_lift, label=f"Net lift pre-period to dip, {lift.label} 净增量", unit="ratio")
record.headline("festival_incremental_gmv", lift.net_incremental_gmv, label=f"Incremental GMV, {lift.label} 增量GMV",
                unit="money")
record.headline("presale_share", mech.presale_latest, label=f"Presale share of GMV, {mech.presale_event or 'last festival'} 预售占比",
                unit="pct")
record.headline("coupon_order_share", mech.coupon_share, label="Orders with a coupon, 12 months 用券率", unit="pct")
record.headline("campaigns_below_roi", types.losing_count, label="Campaigns with ROI under 1", unit="count")
record.headline("ab_winners", ab.winner_count, label="A/B tests with a significant winner", unit="count");

# %%
record.alerts_from(lift.alerts, severity="severity", subject="subject", message="{message}", section="lift")
record.alerts_from(types.alerts, severity="severity", subject="subject", message="{message}", section="types")
record.alerts_from(ab.alerts, severity="severity", subject="subject", message="{message}", section="experiments");

# %%
record.action("campaign_calendar", cal.action, title="Campaign calendar, coming quarter 活动日历",
              description="Festivals and member days of the next three months with the date to start preparing and last year's result.")
record.action("campaigns_below_roi", types.losing, title="Campaigns with ROI under 1 低ROI活动",
              description="Campaigns whose gross margin after discounts did not cover their marketing spend.");

# %%
record.save()
record

# %% [markdown]
# ## Takeaways
#
# - Judge a festival by its net lift over the whole event, not by its peak day: the weeks before
#   and after pay for part of it.
# - A presale moves demand earlier; its deposits are commitment, not extra sales. Compare its share
#   with the handbook's 35% and the ordinary orders it displaced.
# - Deeper discounts buy volume with margin; ROI on the spend and the share of new buyers say
#   whether the trade was worth it.
# - A 满减 threshold works when baskets bunch just above it; set it a little above the usual basket.
# - Plan the quarter from the calendar, a month ahead of each festival, with last year's lift as the
#   yardstick; compute the lunar festivals, never type them.
# - Read an A/B test with its power: "no significant difference" from a small test means nothing.

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# 1. How many paid presale orders (`is_presale`) were placed in the report month? Use
#    `data.month_rows("orders")` and `playbook.metrics.paid_mask`.
# 2. What share of the report month's paid orders used a coupon (`coupon_code` not empty)?
# 3. Set `pre_days = 20` in a settings file of your own (`[campaigns]`) and run the chapter again:
#    how do the pre-period and net lift of the festival change, and why?

# %% tags=["exercise"]
answer = None  # your number of orders
exercises.check("05.presale_orders", answer, data)

# %% tags=["exercise"]
answer = None  # your share, e.g. 0.08
exercises.check("05.coupon_share", answer, data)
