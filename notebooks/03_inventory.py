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
# # 03 Inventory: stock, turnover and replenishment 库存、周转与补货
#
# Stock is where a shop's cash sits. Too little and the best sellers run out in the middle of a
# campaign; too much and money is frozen in goods nobody asks for. This chapter sorts the range by
# what matters (ABC-XYZ), measures how fast stock turns, forecasts demand SKU by SKU, and turns all of
# it into the two lists a planner acts on every week: **what to reorder** and **what to clear**.
#
# **Handbook sections:** 000 §2.3 (库存管理与周转: warning mechanism, classes of sellers, stock counts),
# 001 part 2 (ABC分类法 and 动态预警: stock A deep, replenish B weekly, clear C with 买一送一 and 社群清仓),
# 002 part 03 (库存周转优化: 智能预测与备货, 分级库存管理, 多渠道消化库存; turnover under 30 days) and
# 003 stage 2 (定价与库存策略: 安全库存 and 预警库存).
#
# **After this chapter you can** classify SKUs by value and predictability and give each class a stock
# policy; measure days of inventory against the 30-day target; forecast daily demand for smooth and
# intermittent SKUs without being fooled by stock-outs, and check the forecast against a naive one;
# set safety stock, warning level and reorder point from the service level and the variability of
# demand and lead time; produce the replenishment list and the clearance list; and check that stock
# records agree with what was sold and received.
#
# **Tables used:** `orders` and `order_items` (every section); `inventory` (turnover, replenishment,
# stock-out risk, slow movers); `products` (titles, categories, unit cost, supplier); `suppliers` and
# `purchase_orders` (lead times; stock accuracy needs the receipts). A missing table switches off the
# sections that need it, with a note.

# %%
import matplotlib.pyplot as plt

import playbook
from playbook import charts, exercises, i18n, inventory, pack

charts.use_theme()

# %% tags=["parameters"]
month: str = "2026-10"  # report month, YYYY-MM
data_source: str = "../data/samples"  # folder of contract tables or a DuckDB file
settings_file: str = ""  # optional TOML file overriding the default thresholds
output_dir: str = ""  # set by the report runner: where figures and action lists go (empty: display only)
lang: str = "en"  # language of chart labels and table headers: en or zh
example_sku: str = ""  # SKU shown in the forecasting section (empty: the one with the most stock-out days)

# %%
i18n.set_language(lang)
data = playbook.load(data_source, month=month, settings=settings_file or None)
record = pack.ChapterRecord("03_inventory", month=month, output_dir=output_dir)
rules = data.settings["inventory"]
data

# %% [markdown]
# Every figure below is taken **at the end of the report month** (stock on hand, stock on order,
# forecasts from that day on). Thresholds come from the `[inventory]` section of the settings: the
# handbook's 80% / 95% ABC cut-offs, the 30-day turnover target, the service level of each class, and
# the playbook's defaults for the rest (each key says where it comes from).

# %% [markdown]
# ## 1. ABC-XYZ: which SKUs matter, and how predictable they are
#
# A planner cannot give every SKU the same attention. The handbook's answer (001 part 2, 002 part 03)
# is ABC analysis: rank SKUs by sales value; the few that make most of the money (A, 爆款) are stocked
# deep so they never run out, the middle (B, 潜力款) is replenished week by week, and the tail
# (C, 滞销品) is kept thin and cleared. XYZ adds the second question a planner asks: *can I predict it?*
# A steady seller (X) can be ordered automatically from a forecast; an erratic one (Z) needs a buffer
# or a human look.
#
# - **ABC** (by sales value over the last 365 days): A = the SKUs that together make the first 80% of
#   revenue, B = up to 95%, C = the rest.
# - **XYZ** (by the coefficient of variation of weekly demand, std / mean): X under 0.5, Y under 1.0,
#   Z above. Stock-out days are left out, so an empty shelf does not look like erratic demand.

# %%
inventory.section_note(data, "abc_xyz", record)

# %%
classes = inventory.abc_xyz(data)
classes.head(12).style.format({"revenue": "¥{:,.0f}", "units": "{:,.0f}", "revenue_share": "{:.1%}",
                               "cum_share": "{:.1%}", "weekly_mean": "{:.1f}", "weekly_cv": "{:.2f}",
                               "service_level": "{:.0%}"}).hide(axis="index")

# %% [markdown]
# The Pareto curve shows how concentrated sales are; the matrix shows where the money sits. Look for
# revenue in **AZ/BZ** (valuable but erratic: needs the most safety stock and the closest watch) and for
# many SKUs in **CZ** (little money, unpredictable: candidates to clear or to sell only to order).

# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 4.8), gridspec_kw={"width_ratios": [1.5, 1]})
inventory.plot_pareto(classes, cutoffs=rules["abc_cutoffs"], ax=axes[0])
inventory.plot_abc_xyz_matrix(classes, ax=axes[1]);

# %% [markdown]
# Each cell gets a stock policy: the service level and the review period of its ABC class (from the
# settings) and the handling its XYZ class calls for. These feed the safety stock and the replenishment
# list in section 4.

# %%
inventory.class_policies(classes).style.format(
    {"revenue_share": "{:.1%}", "service_level": "{:.0%}"}).hide(axis="index")

# %% [markdown]
# **Rule of thumb (001 part 2, "stock A deep"):** an A-class SKU should be on the shelf at least as
# often as its service level (98% of days by default). The table counts, per class, the days of the
# report month a SKU ended empty without a sale.

# %%
in_stock = inventory.in_stock_rate(data, classes)
in_stock.style.format({"in_stock_rate": "{:.1%}", "service_level": "{:.0%}"}, na_rep="—").hide(axis="index")

# %%
record.rule("A-class SKUs below their in-stock level (A类备足库存)",
            in_stock.set_index("abc").loc["A", "skus_below_service"], 0, kind="max", unit="count")

# %% [markdown]
# ## 2. Turnover: days of inventory, turnover rate, sell-through, weeks of cover
#
# Turnover says how long a yuan spent on stock waits before it comes back as a sale. The handbook's
# annual plan (002) sets the target: **days of inventory (库存周转天数) under 30**.
#
# - days of inventory = average stock value / cost of goods sold per day (at unit cost, over the
#   report month);
# - turnover rate (周转率) = cost of goods sold / average stock value (per month; ×12 roughly per year);
# - sell-through (售罄率) = units sold / (units sold + units left at month end): of what was available,
#   how much sold;
# - weeks of cover = stock at month end / average weekly sales of the last 90 days: how long it lasts.

# %%
inventory.section_note(data, "turnover", record)

# %%
shop_turnover = inventory.turnover(data, by="shop")
shop_turnover.style.format({"avg_inventory_value": "¥{:,.0f}", "cogs": "¥{:,.0f}", "days_of_inventory": "{:.1f}",
                            "turnover": "{:.2f}", "annual_turnover": "{:.1f}", "sell_through": "{:.1%}",
                            "weeks_of_cover": "{:.1f}", "avg_on_hand": "{:,.0f}", "daily_rate": "{:.1f}",
                            "opening_on_hand": "{:,.0f}", "closing_on_hand": "{:,.0f}", "units_sold": "{:,.0f}"},
                           na_rep="—").hide(axis="index")

# %% [markdown]
# Month by month, and by category for the report month. Look for a rising line (stock building up
# faster than sales), and for the categories whose bars run far past the target: they hold the cash.

# %%
by_category = inventory.turnover(data, by="category")
fig, axes = plt.subplots(1, 2, figsize=(14, 4.6))
inventory.plot_turnover_trend(inventory.turnover_trend(data), target=rules["turnover_target_days"], ax=axes[0])
inventory.plot_days_of_inventory(by_category, target=rules["turnover_target_days"], ax=axes[1]);

# %% [markdown]
# The SKUs holding the most stock value, with their own turnover. A few SKUs with months or years of
# cover can pull the whole shop over the target: they are the clearance candidates of section 5.

# %%
sku_turnover = inventory.turnover(data, classes=classes)
sku_turnover.head(12).style.format(
    {"avg_inventory_value": "¥{:,.0f}", "cogs": "¥{:,.0f}", "days_of_inventory": "{:,.0f}", "turnover": "{:.2f}",
     "annual_turnover": "{:.1f}", "sell_through": "{:.1%}", "weeks_of_cover": "{:,.1f}", "avg_on_hand": "{:,.0f}",
     "daily_rate": "{:.2f}", "opening_on_hand": "{:,.0f}", "closing_on_hand": "{:,.0f}", "units_sold": "{:,.0f}"}
).hide(axis="index")

# %%
record.rule("Days of inventory 库存周转天数", shop_turnover["days_of_inventory"].iloc[0],
            rules["turnover_target_days"], kind="max", unit="days")

# %% [markdown]
# ## 3. Demand forecast per SKU (智能预测与备货)
#
# Reorder points need a forecast of daily demand. Two things make that harder than it looks:
#
# 1. **Many SKUs do not sell every day.** Syntetos, Boylan and Croston sort demand by two numbers:
#    ADI, the average number of days per day with a sale, and CV², how much the quantities vary when
#    there is a sale. With the lines at ADI 1.32 and CV² 0.49 a SKU is *smooth*, *erratic*,
#    *intermittent* or *lumpy*. Smooth and erratic SKUs of classes A and B get a Holt-Winters
#    exponential-smoothing model with a weekly season (statsmodels); intermittent ones get **SBA**
#    (Croston's method with its bias removed), lumpy ones **TSB** (which lets a SKU that stopped
#    selling fade out). Croston-type methods smooth the size of a sale and the gap between sales
#    separately, instead of averaging lots of zeros.
# 2. **An empty shelf is not zero demand.** On a day the SKU had nothing to sell, its zero sales say
#    nothing about what customers wanted. Those days are *censored*: left out of the history instead
#    of being counted as zeros. Otherwise a stock-out teaches the forecast that a best seller is not
#    wanted, and the next order is too small: the stock-out repeats itself.
#
# The per-SKU Holt-Winters fits are the one costly step; they are bounded to the A and B classes and
# at most `ets_max_skus` SKUs (100 by default), so a shop with tens of thousands of SKUs still
# forecasts in minutes: everything else is array arithmetic across all SKUs at once.

# %%
inventory.section_note(data, "forecast", record)

# %%
forecast = inventory.forecast_demand(data, classes=classes)
forecast.groupby(["demand_class", "method"]).size().rename("skus").to_frame()

# %% [markdown]
# Left: every SKU's demand pattern (the dashed lines are 1.32 and 0.49). Right: one SKU's last four
# months, its stock-out days shaded and left out. Over the last eight weeks the solid green line is
# its average demand on the days it could sell, the dotted red line what the average would look like
# had the empty days counted as zero sales; the dashed purple line is the forecast for the next four
# weeks. Any forecast fed the red line would order too little and run out again.

# %%
sku = inventory.example_sku(forecast, example_sku)
fig, axes = plt.subplots(1, 2, figsize=(14, 4.8), gridspec_kw={"width_ratios": [1, 1.3]})
inventory.plot_demand_classes(forecast, adi_cutoff=rules["demand_adi_cutoff"],
                              cv2_cutoff=rules["demand_cv2_cutoff"], ax=axes[0])
inventory.plot_sku_demand(inventory.daily_demand(data), forecast, sku, ax=axes[1]);

# %%
forecast.sort_values("censored_days", ascending=False).head(8).style.format(
    {"adi": "{:.2f}", "cv2": "{:.2f}", "history_mean": "{:.2f}", "uncensored_zero_mean": "{:.2f}",
     "daily_forecast": "{:.2f}", "demand_std": "{:.2f}", "forecast_units": "{:,.0f}"}).hide(axis="index")

# %% [markdown]
# ### Backtest: is the forecast better than a naive one?
#
# A forecast earns its place only if it beats the simplest guess. The backtest hides the last 28 days,
# forecasts them from the history before, and scores each method on the days that had stock, against
# a *naive* forecast (the last week repeated):
#
# - MAE = average absolute error per SKU-day, in units;
# - WAPE = total absolute error / total units sold (0% is perfect);
# - bias = (forecast - actual) / actual: below zero, the method under-forecasts.
#
# `chosen` is the method each SKU actually gets; Holt-Winters (`ets`) runs only on the SKUs allowed it,
# so compare it within the smooth and erratic groups. Daily intermittent demand is hard to forecast
# for every method (a WAPE near or above 100% is normal there); what matters is the ranking and the
# bias. If another method beats the chosen one for a pattern month after month, change
# `forecast_method` in the settings.
# A strong negative bias at month end usually means a festival is starting (double 11 presales in
# October): plan festival stock on top of the forecast (chapter 05).

# %%
bt = inventory.backtest(data, classes=classes)
bt.pivot(index="method", columns="demand_class", values="wape").style.format("{:.1%}", na_rep="—")

# %%
fig, ax = plt.subplots(figsize=(12, 4.5))
inventory.plot_backtest(bt, ax=ax);

# %%
record.rule("Forecast WAPE of the chosen methods, against the naive forecast's", inventory.backtest_wape(bt, "chosen"),
            inventory.backtest_wape(bt, "naive") or 0.0, kind="max", unit="pct")

# %% [markdown]
# ## 4. Safety stock, warning level, reorder point and the replenishment list
#
# The handbook's stage-2 template (003) asks for two lines per SKU: a **safety stock (安全库存)** so the
# shelf does not run empty while an order is on its way, and a **warning level (预警库存)** at which
# the system raises the alarm. Both follow from the forecast, the lead time and the service level:
#
# - safety stock = z × √(L × σ_d² + d² × σ_L²), with d and σ_d the daily demand and its error, L and
#   σ_L the supplier's lead time and its spread in days, and z the normal quantile of the class's
#   service level (98% → 2.05, 95% → 1.64, 90% → 1.28);
# - reorder point (订货点) = d × L + safety stock: an order placed at this level arrives before the
#   shelf is empty with the chosen probability;
# - warning level (预警库存) = reorder point + d × review period: below it, the stock will cross the
#   reorder point before the next review, so the order goes out now (A reviewed daily, B weekly as the
#   handbook says, C monthly);
# - order quantity = the economic order quantity EOQ = √(2 × annual demand × order cost / holding
#   cost), at least one review period of demand and at most 30 days of it (so ordering alone keeps
#   turnover on target); order-up-to level = warning level + order quantity.
#
# For intermittent and lumpy SKUs the normal formula fits badly (mostly zeros, sometimes a lump): their
# reorder point is read off their own history instead, as the service-level percentile of the demand
# in every past stretch of L days.
#
# **Lead times** are measured from the purchase orders received in the last 180 days (received date
# - order date); a supplier with fewer than three such orders keeps its quoted lead time. A supplier
# whose measured lead time runs well past its quote is one to talk to (chapter 07).

# %%
inventory.section_note(data, "replenishment", record)

# %%
suppliers = inventory.lead_times(data)
suppliers.style.format({"quoted_days": "{:.0f}", "measured_days": "{:.1f}", "measured_std": "{:.1f}",
                        "on_time_rate": "{:.0%}", "fill_rate": "{:.0%}", "lead_time_days": "{:.1f}",
                        "lead_time_std": "{:.1f}"}, na_rep="—").hide(axis="index")

# %%
slow = inventory.slow_movers(data, forecast=forecast)
plan = inventory.replenishment_plan(data, classes=classes, forecast=forecast, suppliers=suppliers, slow=slow)
plan["status"].value_counts().rename("skus").to_frame()

# %% [markdown]
# The whole calculation for the example SKU, line by line:

# %%
plan[plan["sku"] == sku][["sku", "abc", "demand_class", "method", "daily_demand", "demand_std", "lead_time_days",
                          "lead_time_std", "service_level", "review_days", "safety_stock", "reorder_point",
                          "warning_level", "eoq", "order_up_to", "on_hand", "on_order", "position",
                          "qty_to_order", "status"]].round(2).T

# %% [markdown]
# The SKUs to reorder, most urgent first: what is on hand and on order against the reorder point, and
# the level the order brings them up to.

# %%
fig, ax = plt.subplots(figsize=(12, 6))
inventory.plot_stock_position(plan, ax=ax);

# %% [markdown]
# **The replenishment list (补货清单)**, the file the planner sends to purchasing: SKU, stock on hand and
# on order, reorder point, order-up-to level, quantity to order, supplier and why. Slow movers and
# overstock (section 5) are never on it.

# %%
reorder = record.action("reorder", inventory.reorder_list(plan), title="Replenishment list 补货清单",
                        description="SKUs at or below their warning level at month end, with the quantity to order")
reorder.style.format({"order_value": "¥{:,.0f}", "cover_days": "{:.1f}", "lead_time_days": "{:.0f}"}).hide(axis="index")

# %% [markdown]
# **Rule of thumb (003 stage 2):** the stock position should never be under the safety stock; a SKU
# there is already using the buffer meant for bad luck.

# %%
record.rule("SKUs with stock position under their safety stock (安全库存)",
            inventory.section_count(data, "replenishment", plan, "position < safety_stock"), 0,
            kind="max", unit="count")

# %% [markdown]
# ## 5. Stock-out risk, overstock and slow movers
#
# ### Stock-out risk (断货风险)
#
# A SKU whose stock covers fewer days than its supplier needs to deliver will run out even if it is
# ordered today, unless enough is already on the way. The chart puts each SKU's days of cover against
# its lead time: points under the diagonal are at risk. The table adds the stock-outs of the report
# month and an estimate of the sales they cost (stock-out days × the SKU's usual daily demand).

# %%
inventory.section_note(data, "stockout_risk", record)

# %%
risk = inventory.stockout_risk(data, plan=plan, forecast=forecast)
risk.style.format({"daily_demand": "{:.1f}", "cover_days": "{:.1f}", "position_cover_days": "{:.1f}",
                   "lead_time_days": "{:.0f}", "lost_units_month": "{:,.0f}", "lost_sales_month": "¥{:,.0f}",
                   "on_hand": "{:,.0f}", "on_order": "{:,.0f}", "overdue_qty": "{:,.0f}"}, na_rep="—").hide(axis="index")

# %%
fig, ax = plt.subplots(figsize=(10, 5.5))
inventory.plot_cover_vs_lead_time(plan, ax=ax);

# %%
record.rule("SKUs that run out before a new order can arrive (断货风险)",
            inventory.section_count(data, "stockout_risk", risk, "risk in ['out of stock', 'high']"), 0,
            kind="max", unit="count")

# %%
record.alerts_from(risk.query("risk in ['out of stock', 'high']"), severity="high", subject="sku",
                   message="stock-out risk: {cover_days} days of cover against a {lead_time_days:.0f}-day lead time, "
                           "{on_order:.0f} on order; {stockout_days_month} days out of stock this month",
                   section="stock-out risk")
record.alerts_from(risk.query("overdue_qty > 0"), severity="medium", subject="sku",
                   message="{overdue_qty:.0f} units on order from {supplier_id} are past their expected date",
                   section="stock-out risk");

# %% [markdown]
# ### Overstock and slow movers (积压 / 滞销) and the clearance list
#
# The other side of the coin: stock that does not move. A SKU is listed when it has not sold for 90
# days or holds more than 26 weeks of cover. The handbook's remedies (001 part 2, 002 part 03):
# buy-one-get-one (买一送一) and clearance sales in the community groups (社群清仓), live-stream and
# outlet channels (直播带货, 尾货特卖) for what is badly stuck, bundles with a best seller or a
# member-day offer for the merely heavy; and in every case, no reorder until the stock is back in
# line.

# %%
inventory.section_note(data, "slow_movers", record)

# %%
fig, ax = plt.subplots(figsize=(12, 4.5))
inventory.plot_clearance(slow, ax=ax);

# %%
clearance = record.action("clearance", inventory.clearance_list(slow), title="Clearance list 清仓清单",
                          description="Slow movers (no sale for 90+ days) and overstock (26+ weeks of cover)")
clearance.style.format({"stock_value": "¥{:,.0f}", "excess_value": "¥{:,.0f}", "weeks_of_cover": "{:,.0f}"},
                       na_rep="∞").hide(axis="index")

# %%
record.rule("SKUs without a sale for 90 days (滞销品)",
            inventory.section_count(data, "slow_movers", slow, "reason.str.startswith('no sale')"), 0,
            kind="max", unit="count", severity="low")

# %%
record.alerts_from(slow, severity="low", subject="sku",
                   message="{reason}: {on_hand:.0f} units, ¥{stock_value:,.0f} at cost. {suggestion}",
                   section="slow movers");

# %% [markdown]
# ## 6. Stock accuracy (账实相符)
#
# The handbook asks for regular stock counts so that the books match the shelf (000 §2.3). Between two
# counts the data can already tell: each snapshot should equal the previous one plus what was received
# minus what was sold. A difference means unrecorded damage or loss, returns put back without a record,
# mis-picks or a receipt booked on the wrong day: the SKUs listed are the ones to count first.

# %%
inventory.section_note(data, "stock_accuracy", record)

# %%
accuracy = inventory.stock_accuracy(data)
accuracy_summary = inventory.stock_accuracy_summary(accuracy)
accuracy_summary.style.format({"matched_share": "{:.1%}", "accurate_sku_share": "{:.1%}",
                               "net_difference": "{:,.0f}", "difference_value": "¥{:,.0f}"}, na_rep="—").hide(axis="index")

# %%
fig, ax = plt.subplots(figsize=(7, 5.5))
inventory.plot_stock_accuracy(accuracy, ax=ax);

# %%
accuracy[~accuracy["accurate"].astype(bool)].head(15)

# %%
record.rule("Stock snapshots matching sales and receipts (账实相符率)", accuracy_summary["matched_share"].iloc[0],
            rules["stock_accuracy_min"], kind="min", unit="pct")

# %% [markdown]
# ## Headline figures and alerts for the monthly pack

# %%
record.headline("days_of_inventory", shop_turnover["days_of_inventory"].iloc[0], label="Days of inventory 库存周转天数",
                unit="days", note=f"target under {rules['turnover_target_days']} days")
record.headline("a_class_skus", inventory.section_count(data, "abc_xyz", classes, "abc == 'A'"),
                label="A-class SKUs (80% of sales)", unit="count")
record.headline("skus_to_reorder", inventory.section_count(data, "replenishment", reorder),
                label="SKUs to reorder 补货SKU数", unit="count")
record.headline("reorder_value", inventory.section_sum(data, "replenishment", reorder, "order_value"),
                label="Replenishment at cost 补货金额", unit="money")
record.headline("stockout_skus", inventory.section_count(data, "stockout_risk", risk, "stockout_days_month > 0"),
                label="SKUs out of stock during the month", unit="count")
record.headline("lost_sales", inventory.section_sum(data, "stockout_risk", risk, "lost_sales_month"),
                label="Sales lost to stock-outs (estimate)", unit="money")
record.headline("clearance_value", inventory.section_sum(data, "slow_movers", slow, "stock_value"),
                label="Stock to clear, at cost 待清库存", unit="money")
record.headline("forecast_wape", inventory.backtest_wape(bt, "chosen"), label="Forecast error WAPE (28-day backtest)", unit="pct")
record.headline("stock_accuracy", accuracy_summary["matched_share"].iloc[0], label="Stock accuracy 账实相符率", unit="pct")
record.save()
record

# %% [markdown]
# ## Takeaways
#
# - **Classify before you plan.** A handful of A SKUs carry most of the sales: they get the highest
#   service level and daily attention; C SKUs get a thin stock and a clearance plan.
# - **Turnover is driven by the tail.** A few overstocked SKUs can push the whole shop past 30 days of
#   inventory; clearing them does more for turnover than squeezing the best sellers.
# - **Do not let stock-outs train the forecast.** Censor the days without stock, use Croston-type
#   methods for intermittent SKUs, and keep checking the forecast against a naive one.
# - **Safety stock protects against two risks,** demand and supplier delay: a supplier whose lead time
#   drifts needs more safety stock, or a word (chapter 07).
# - **Two lists every week:** the replenishment list goes to purchasing; the clearance list goes to the
#   campaign and community teams (chapter 05, private domain in chapter 04).

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# 1. From `shop_turnover`, compute the shop's days of inventory yourself: average stock value divided
#    by the cost of goods sold per day of the report month. Check your number.
# 2. How many SKUs are in class A? Count them in `classes`.
# 3. On how many days of the report month was SKU0009 out of stock? Use `inventory.daily_demand` with
#    and without `censor=True`.
# 4. (No checker.) Raise the A-class service level to 99.5% with a settings file
#    (`[inventory] service_level = { A = 0.995, B = 0.95, C = 0.90 }`) and rerun section 4. How much
#    does the safety stock of the example SKU grow, and what would that stock cost to hold for a year
#    at `holding_cost_rate`?

# %% tags=["exercise"]
answer = None  # your number of days, e.g. 42.0
exercises.check("03.days_of_inventory", answer, data)

# %% tags=["exercise"]
answer = None  # your count
exercises.check("03.a_class_skus", answer, data)

# %% tags=["exercise"]
answer = None  # your number of days
exercises.check("03.stockout_days", answer, data)
