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
# # 08 Fulfillment and service 履约与客服
#
# What happens after the payment decides whether a buyer comes back: the parcel must leave on time,
# arrive when promised, and a problem must be answered fast and put right. This chapter measures
# each step for the report month and turns the misses into lists a colleague can work through.
#
# **Handbook:** 003 stage 4 (订单履约: ship at the promised time, "48小时内发货"; choose carriers with
# agreed delivery times and review how often they keep them, 定期考核物流达标率; contact and
# compensate buyers when a parcel is late) and stage 5 (客户服务); 004 on logistics and after-sales
# (物流及售后服务). 001 part 5 gives the 24-hour response rule.
#
# **After this chapter you can** check the 48-hour shipping promise by channel and month, read the
# unshipped backlog at month end, tell a real shipping anomaly from the spring-festival pause or a
# festival peak, judge each carrier against the promised date by province and region, read the
# service desk's response and resolution times and satisfaction, and trace refunds to SKUs and
# reasons.
#
# **Tables used:** `orders` (required), `shipments` (shipping and carriers), `service_tickets`
# (service, refund reasons), `order_items` and `products` (refunds by SKU), `campaigns` (names the
# festival peaks). A missing table switches off its sections with a note.

# %%
import matplotlib.pyplot as plt

import playbook
from playbook import charts, exercises, fulfillment, i18n, pack

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
record = pack.ChapterRecord("08_fulfillment", month=month, output_dir=output_dir)
fulfillment.settings_table(data)

# %% [markdown]
# Everything below is measured **as of the end of the report month**: a parcel shipped or a ticket
# resolved after that evening counts as not shipped or not resolved yet, so an older month reads
# the way it looked at the time. The thresholds above come from the settings file (the handbook's
# 48 hours and 24 hours; the other lines are the playbook's defaults, which you can change).

# %% [markdown]
# ## 1. Shipping within 48 hours of payment 48小时发货
#
# The shop promises to ship within 48 hours of payment (按承诺时间发货). A late parcel is a broken
# promise before the carrier has even touched it: platforms count it against the shop, and the
# buyer starts asking where the order is.
#
# **Definition.** An order's deadline is its payment time + 48 hours. It is *on time* when its first
# parcel leaves by then, *late* when it leaves after, *overdue* when it is still in the warehouse
# after the deadline, and *pending* when it is unshipped but not yet due (left out of the rate until
# it is). Cancelled orders and orders refunded before anything shipped do not count.
#
# **The spring-festival pause (春节停发).** Around the spring festival the warehouse and couriers
# stop for about ten days. The chapter finds the pause in the data (days without a single parcel
# leaving, close to the festival) and stops the clock: an order caught by it is due within three
# days of the restart (节后3天内发完). This is a seasonal pattern, not a failure.
#
# $$\text{on-time shipping rate} = \frac{\text{orders shipped by their deadline}}{\text{orders shipped} + \text{orders overdue}}$$

# %%
ship = fulfillment.shipping_report(data, record=record)
ship.summary

# %%
fig, ax = plt.subplots(figsize=(11, 4.5))
fulfillment.plot_ship_rate_by_month(ship, ax=ax);

# %% [markdown]
# **What to look for.** The rate dips in festival months (618 in June, 双11 in November), when a
# day's orders can be several times the usual: that is where the warehouse needs extra hands
# planned ahead. The spring-festival months do not dip, because the clock stops during the pause. A
# channel that sits below the others every month points at a process of its own (a platform's
# order sync, a separate packing line). The report month by channel:

# %%
ship.channel_view

# %%
record.rule(f"Orders shipped within {ship.hours:g} h of payment 48小时发货率", ship.month_rate, ship.target,
            kind="min", unit="pct", subject="shipping")

# %% [markdown]
# ### The unshipped backlog at month end 待发货
#
# The backlog is every paid order without a parcel at the end of the month, with its age since
# payment. Young orders (paid in the last day or two) are normal; what matters is the part already
# past its deadline. On the sample's last evening of October the 双11 presale balances are paid, so
# the backlog is large but almost all of it is hours old.

# %%
fig, ax = plt.subplots(figsize=(8, 4))
fulfillment.plot_backlog(ship, ax=ax);

# %%
ship.backlog_view

# %% [markdown]
# The overdue orders are the list to chase with the warehouse today (催发货); it is written as an
# action list at the end of the chapter.

# %%
ship.overdue.head(10)

# %% [markdown]
# ### Anomalies: days that shipped far below the usual rate 异常
#
# Each payment day's on-time rate is compared with the median of the 28 days before it. A day is
# flagged when it is at least 10 points below and a one-sided binomial test says the drop is not
# chance (p < 0.0001: every day of two years is tested, so the level is strict). A flagged day is
# then explained where it can be: a **volume peak** (the day, or the day before, paid 1.5 times the
# usual orders: a festival the warehouse should staff for) or the **seasonal pause**. What is left,
# **unexplained**, is an anomaly to investigate (a warehouse stoppage, a system outage, a carrier
# that failed to collect).

# %%
ship.pause_view

# %%
fig, ax = plt.subplots(figsize=(11, 4))
fulfillment.plot_daily_ship_rate(ship, ax=ax);

# %%
ship.anomaly_view

# %%
record.rule("Days with an unexplained drop in shipping", ship.unexplained_days, 0, kind="max", unit="count",
            subject="shipping")

# %% [markdown]
# ## 2. Carriers: on-time delivery and delivery time 物流时效
#
# The handbook asks for carriers with agreed delivery times (时效协议) and a regular review of how
# often they keep them (定期考核物流达标率). The promise the buyer sees is `promised_date`.
#
# **Definition.** A parcel is on time when it is delivered on or before the promised day, late when
# delivered after it, and also late when it is still out after the promised day has passed (lost
# parcels end here). Because the promise counts from the payment, a parcel can be late only because
# the warehouse sent it late; a carrier is judged on its **own** late share, the late parcels among
# those the warehouse dispatched on time. Carriers are reviewed over the last three months, against
# the 90% target and against their own previous twelve months: a carrier is flagged when it is
# below the target by more than chance, or when its late share rose by five points or more and a
# test says the rise is real. Delivery time is the days from shipment to delivery.
#
# $$\text{carrier on-time rate} = 1 - \frac{\text{late parcels dispatched on time}}{\text{parcels delivered or past their promise}}$$

# %%
carriers = fulfillment.carrier_report(data, shipping=ship, record=record)
carriers.summary

# %%
fig, ax = plt.subplots(figsize=(11, 4.5))
fulfillment.plot_carrier_trend(carriers, ax=ax);

# %% [markdown]
# **What to look for.** A line that leaves the pack and stays there is a carrier problem, not a bad
# week; the grey band is the review window. All carriers are a little later in festival months (the
# whole network is loaded), and one may be slower every month (a postal service to remote areas):
# that is its normal, priced into the promise. Below, where the late parcels go: by region, then
# the carrier x province table of on-time rates (cells with fewer than the minimum parcels blank).

# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 4.2), gridspec_kw={"width_ratios": [1.6, 1]})
fulfillment.plot_carrier_regions(carriers, ax=axes[0])
fulfillment.plot_delivery_days(carriers, ax=axes[1]);

# %%
carriers.province_view

# %% [markdown]
# The flagged carriers, with the provinces and regions where they are later than in the rest of
# their network beyond chance (and every province of the worst region, for reading):

# %%
carriers.flagged_view

# %%
record.rule("Parcels delivered by the promised date, all carriers 准时送达率", carriers.on_time_rate,
            carriers.target, kind="min", unit="pct", subject="carriers")

# %% [markdown]
# The late parcels promised for this month, by carrier, are the list for the service team: the
# handbook asks to contact the buyer, explain and compensate (a coupon) when a parcel is late. The
# `cause` column tells a carrier's delay from one that started in the warehouse.

# %%
carriers.late.head(10)

# %% [markdown]
# ## 3. Service tickets 客服工单
#
# A ticket is a buyer asking for help after the sale: a refund, a parcel that does not arrive, a
# quality problem, a size that does not fit. Two clocks matter: how long until someone answers
# (first response, 首次响应) and how long until the problem is solved (resolution, 解决时长), and at
# the end the buyer's satisfaction score (1-5, 满意度).
#
# **Definitions.** Hours from `opened_ts` to `first_response_ts` and to `resolved_ts`; the share
# within target counts only tickets whose clock has run out (a ticket opened an hour before month
# end is not late yet). Targets: answer within 24 hours (the handbook's 24-hour rule for bad
# reviews, applied to tickets) and resolve within 48 hours (the window platforms give a shop to
# handle a refund request), each for at least 90% of tickets; at most 15% of rated tickets scored
# 1-2.

# %%
tickets = fulfillment.ticket_report(data, record=record)
tickets.summary

# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 4))
fulfillment.plot_response_by_hour(tickets, ax=axes[0])
fulfillment.plot_satisfaction(tickets, ax=axes[1]);

# %% [markdown]
# **What to look for.** Tickets opened at night wait for the morning shift: an auto-reply or a late
# shift would close most of the first-response gap. Satisfaction falls steeply once a ticket takes
# more than two days: resolution time is the lever, and logistics tickets (waiting on a carrier)
# are usually the slowest. Next, tickets per 1,000 paid orders by category: a category that jumps
# points at a cause (a bad batch, a late carrier).

# %%
fig, ax = plt.subplots(figsize=(11, 4))
fulfillment.plot_ticket_categories(tickets, ax=ax);

# %%
tickets.spike_view

# %%
record.rule(f"Tickets answered within {tickets.response_hours:g} h 首次响应", tickets.response_within,
            tickets.target, kind="min", unit="pct", subject="service")

# %%
record.rule(f"Tickets resolved within {tickets.resolution_hours:g} h 解决时长", tickets.resolution_within,
            tickets.target, kind="min", unit="pct", subject="service")

# %%
record.rule("Dissatisfied tickets (scored 1-2) 不满意率", tickets.dissatisfied_share,
            data.settings["fulfillment"]["dissatisfied_max"], kind="max", unit="pct", subject="service")

# %% [markdown]
# ## 4. Refunds and returns by SKU and reason 退款与退货
#
# Every refund is revenue handed back and often a parcel coming back. Looked at by SKU, refunds point
# at a product problem; looked at by reason, at the process that failed.
#
# **Definitions.** The orders placed in the report month that were refunded, in full or in part
# (refund rate = refunded orders / paid orders). The reason comes from the most specific evidence:
# a service ticket on the order about quality, size or logistics; otherwise what happened to the
# parcel: never shipped (refunded before shipping), lost, delivered late, sent back (returned) or
# kept (a refund after delivery). A refund's value is spread over the order's lines by value.
#
# **Spikes.** A SKU is flagged when its share of orders refunded in full (a partial refund is mostly
# a price adjustment or a compensation, 保价/补偿) or with a quality ticket jumps against its own
# previous twelve months, beyond chance across the hundred-odd SKUs tested. A refund is recorded on
# the order, so a SKU bought together with a bad one looks bad too: the chapter sets aside the
# orders of each flagged SKU and tests the others again, and names the SKU that explains them.

# %%
refunds = fulfillment.refund_report(data, carriers=carriers, record=record)
refunds.summary

# %%
fig, ax = plt.subplots(figsize=(11, 5))
fulfillment.plot_refund_reasons(refunds, ax=ax);

# %% [markdown]
# **What to look for.** A SKU in red jumped against its own past. Refunds before shipping are
# buyers changing their minds, or a shipment that took too long; returns and quality tickets are
# the product. The SKUs with the most refunds this month, and every spike:

# %%
refunds.sku_view

# %%
refunds.review_view

# %%
record.rule("Orders refunded in full or in part 退款率", refunds.refund_rate, refunds.target, kind="max",
            unit="pct", subject="refunds")

# %% [markdown]
# ## Headline figures, alerts and action lists
#
# The month's figures and alerts go to the report pack; the action lists are written as CSV files
# (personal data is removed automatically):
#
# - `overdue_unshipped`: paid orders still in the warehouse past their deadline (催发货);
# - `late_parcels`: parcels promised this month that arrived late or are still out, by carrier
#   (contact and compensate the buyer);
# - `open_tickets`: tickets still open, or resolved this month after the 48-hour target;
# - `refund_review`: SKUs whose refunds or quality tickets jumped, for a quality check with the
#   supplier.

# %%
record.headline("ship_on_time_rate", ship.month_rate, label="Shipped within 48 h of payment 48小时发货率", unit="pct")
record.headline("backlog_orders", ship.backlog_count, label="Unshipped at month end 待发货", unit="count")
record.headline("overdue_unshipped", ship.overdue_count, label="Unshipped past the deadline 超时未发货", unit="count")
record.headline("delivery_on_time_rate", carriers.on_time_rate, label="Delivered by the promised date 准时送达率", unit="pct")
record.headline("median_delivery_days", carriers.median_days, label="Median delivery time 配送时长", unit="days")
record.headline("carriers_flagged", carriers.flagged_count, label="Carriers flagged 物流商预警", unit="count")
record.headline("tickets", tickets.tickets, label="Service tickets 客服工单", unit="count")
record.headline("median_first_response_hours", tickets.median_response_hours, label="Median first response (hours) 首次响应", unit="number")
record.headline("tickets_resolved_within_target", tickets.resolution_within, label="Tickets resolved within 48 h", unit="pct")
record.headline("ticket_csat", tickets.csat, label="Ticket satisfaction (1-5) 满意度", unit="number")
record.headline("refund_rate", refunds.refund_rate, label="Orders refunded 退款率", unit="pct")
record.headline("return_rate", refunds.return_rate, label="Parcels returned 退货率", unit="pct");

# %%
record.alerts_from(ship.alerts, severity="severity", subject="subject", message="{message}", section="shipping")
record.alerts_from(carriers.alerts, severity="severity", subject="subject", message="{message}", section="carriers")
record.alerts_from(tickets.alerts, severity="severity", subject="subject", message="{message}", section="service")
record.alerts_from(refunds.alerts, severity="severity", subject="subject", message="{message}", section="refunds");

# %%
record.action("overdue_unshipped", ship.overdue, title="Overdue unshipped orders 超时未发货订单",
              description="Paid orders still unshipped past their deadline at month end; chase with the warehouse.")
record.action("late_parcels", carriers.late, title="Late parcels by carrier 延误包裹",
              description="Parcels promised this month delivered late or still out; contact and compensate the buyer.")
record.action("open_tickets", tickets.open_tickets, title="Open and overdue tickets 未结工单",
              description="Tickets open at month end, and tickets of the month resolved after the target.")
record.action("refund_review", refunds.review, title="SKUs with a refund or quality spike 退款异常商品",
              description="SKUs whose full refunds or quality tickets jumped against their own past year.");

# %%
record.save()
record

# %% [markdown]
# ## Takeaways
#
# - Measure shipping against the promise, with the clock stopped for the announced pause, and read
#   festival dips as a staffing plan for next year rather than as surprises.
# - The backlog at month end is mostly young orders; the ones past their deadline are a short list
#   to chase today.
# - Judge a carrier on the parcels the warehouse handed over on time, against the agreed delivery
#   time and against its own past; look for where it is late (a region often tells the story) and
#   take it to the carrier with the numbers.
# - On the service desk, resolution time drives satisfaction; night tickets wait for the morning.
# - A refund spike on a SKU is a product question for the supplier; a SKU bought with it can look
#   guilty by association until its shared orders are set aside.

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# 1. Of the parcels `yunda` shipped in the report month and that were delivered before it ended,
#    what share arrived after `promised_date` (the delivery day later than the promised day)? Use
#    `data.shipments`. Then compare with the same share for `sf`.
# 2. What is the median number of hours from `opened_ts` to `first_response_ts` for the tickets
#    opened in the report month (`data.month_rows("service_tickets")`)?
# 3. Change `ship_within_hours` to 24 in a settings file of your own (`[fulfillment]
#    ship_within_hours = 24`), pass it as `settings_file` and run the chapter again: which channel
#    suffers most, and how large is the backlog past its deadline now?

# %% tags=["exercise"]
answer = None  # your share, e.g. 0.25
exercises.check("08.yunda_late_share", answer, data)

# %% tags=["exercise"]
answer = None  # your number of hours
exercises.check("08.median_first_response_hours", answer, data)
