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
# # 02 Selection and range 选品与商品结构
#
# Which products to push, which to fix and which to let go: this chapter reads demand (what buyers
# search for and which categories grow), what they buy together, how the listings read, and how
# each SKU scores on demand, margin, competition and supply, then checks the range's roles, each
# product's place in its lifecycle, and our prices against the competitors'.
#
# **Handbook:** 000 §2.1 (选品: demand, competition, supply), §2.2 (商品信息: titles with core
# keywords and attributes), §2.4 (商品组合与捆绑: complementary products sold together to lift the
# order value); 001 part 2 (a term whose searches grew 300% became a best seller; a related set lifted
# AOV by 25%); 002 part 03 (爆款生命周期: introduction, growth, maturity, decline; new launches);
# 003 stages 1-2 (引流款 / 利润款 / 形象款; titles with core, attribute and promotion words; 渗透定价
# vs 撇脂定价).
#
# **After this chapter you can** tell rising from fading demand, find the products bought together
# and size a bundle's effect on the order value, list the titles to rewrite, rank SKUs and
# categories on a weighted scorecard, check that traffic, profit and image products play their
# parts, place each SKU in its lifecycle and a new launch against earlier ones, and read our price
# position against competitors.
#
# **Tables used:** `orders` (required), `order_items` and `products` (most sections),
# `search_terms` (demand, title keywords), `competitor_prices` (competition, price position),
# `purchase_orders` and `suppliers` (supply capability), `orders.customer_id` (first orders for
# the range roles). A missing table switches off its sections (or the part that needs it) with a
# note.

# %%
import matplotlib.pyplot as plt

import playbook
from playbook import charts, exercises, i18n, pack, selection

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
record = pack.ChapterRecord("02_selection", month=month, output_dir=output_dir)
selection.settings_table(data)

# %% [markdown]
# The thresholds above come from the `[selection]` section of the settings file; the handbook's
# figures (a term up 300%, AOV +25% from a related set) are the starting points, the other lines
# are the playbook's defaults that you can change for your shop.

# %% [markdown]
# ## 1. Demand: category and search-term growth 需求趋势
#
# Selection starts from demand (需求洞察): a category that grows pulls its products along, and a
# search term whose volume jumps is a product the buyers are asking for before the range has it.
# The handbook's example is a term whose searches grew by 300%, turned into a product within weeks.
# The opposite matters as much: a fading term is stock that will be hard to sell next season.
#
# **Definition.** Growth = searches (or paid revenue, for categories) of the last three full months
# / the same three months a year earlier - 1. Comparing with the same months a year earlier keeps
# seasonal products (down jackets in winter, fans in summer) from looking like trends; when the data
# do not reach back a year, the three months before are used instead. A term is *rising* at +50%
# or more and *fading* at -30% or less.
#
# $$\text{growth} = \frac{\text{searches, last 3 months}}{\text{searches, same 3 months a year earlier}} - 1$$

# %%
demand = selection.demand_report(data, record=record)
demand.basis_note

# %%
demand.categories_view

# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 7), gridspec_kw={"width_ratios": [1, 1.3]})
selection.plot_growth(demand, what="terms", ax=axes[0])
selection.plot_term_trend(demand, ax=axes[1]);

# %% [markdown]
# **What to look for.** A term far to the right of the pack is the handbook's 300% case: check that
# the range has a product for it, that it is in stock, and that its title carries the term. The
# right-hand chart shows the two fastest-rising and the two weakest terms month by month (first
# three months = 100): a real take-off is a ramp that holds, not a one-month spike. A fading term
# whose product still has deep stock is a clearance to plan now. Rising and fading terms:

# %%
demand.rising_view

# %%
demand.fading_view

# %%
record.rule("Search terms fading by 30% or more 需求下滑的搜索词", demand.fading_count, 0, kind="max",
            unit="count", severity="low", subject="search terms")

# %% [markdown]
# ## 2. Baskets: products bought together and bundles 商品组合与捆绑
#
# Products bought in the same order are the raw material for bundles (组合套餐), "买A送B" offers and
# related-product slots on the detail page. The handbook's case: a cup sold with its sleeve and
# brush lifted the order value by 25%.
#
# **Definitions** (association rules, as in Tan, Steinbach & Kumar, *Introduction to Data Mining*,
# ch. 6), over the paid orders of the last 365 days:
#
# $$\text{support}(X \Rightarrow Y) = \frac{\text{orders with } X \text{ and } Y}{\text{all orders}}, \quad
# \text{confidence} = \frac{\text{support}(X \cup Y)}{\text{support}(X)}, \quad
# \text{lift} = \frac{\text{confidence}}{\text{support}(Y)}$$
#
# Lift 1 means the two meet no more often than chance; lift 3 means three times more often. The
# rules are counted by group-by on the order lines themselves (no orders-by-products matrix), so the
# same call works on a shop with millions of orders. Itemsets in fewer than 0.1% of the orders
# are dropped. A pair with lift 3 or more is a **bundle candidate**; its *anchor* is the product sold more often. The expected effect assumes that 10% of
# the orders with the anchor alone take the partner at 10% off (both in the settings).

# %%
bundles = selection.bundle_report(data, record=record)
bundles.rules_table

# %%
fig, ax = plt.subplots(figsize=(11, 5))
selection.plot_bundles(bundles, ax=ax);

# %% [markdown]
# **What to look for.** A high attach rate with a high lift is a pair the buyers already put
# together: sell it as a set, show the partner on the anchor's page, or give the partner a small
# bundle discount. `aov_uplift` is how much more an order with both is worth than an order with the
# anchor alone; `expected_aov_effect` is the whole shop's AOV change if the offer lands as assumed.

# %%
bundles.bundles_view

# %%
record.rule("Order value with the top bundle against its anchor alone 组合客单价提升", bundles.best_aov_uplift,
            data.settings["selection"]["bundle_aov_uplift_min"], kind="min", unit="pct", subject="bundles")

# %% [markdown]
# ## 3. Listing quality: titles and attributes 商品信息
#
# The title is what search matches and what a buyer reads first. The handbook asks for titles that
# carry the core keyword buyers search for (核心关键词), attribute words (属性词: material, size,
# function) and, at times, a promotion word; 003 asks for a regular listing check (商品信息审核).
#
# **Checks.** A title is *too short* under 8 characters (spaces aside); it *lacks keywords* when it
# has none of its category's five most searched terms of the last 90 days; it *lacks attributes*
# when it has no specification (a size, weight, capacity or count), and no descriptor segment
# besides the product word. A listing **to fix** is too short, or lacks both keywords and attributes.
# Missing a category keyword alone is common (a chopping board is not searched as 不粘锅) and is
# shown for reference rather than flagged.

# %%
listing = selection.listing_report(data, record=record)
listing.summary_view

# %%
listing.top_terms

# %%
listing.to_fix

# %%
record.rule("Listings whose title needs rewriting 标题待优化", listing.to_fix_share,
            data.settings["selection"]["titles_to_fix_max"], kind="max", unit="pct", subject="listings")

# %% [markdown]
# ## 4. Selection scorecard per SKU and category 选品评分卡
#
# A product deserves shelf space, stock and traffic when buyers want it, the want is growing, it
# leaves a margin, it can win against the competitors, and the supplier can deliver it. The
# scorecard scores each of the five from 0 to 100 and combines them with the weights in the
# settings.
#
# **Definitions** (last 90 days unless said otherwise; each score is the SKU's percentile among the
# active SKUs, 100 = best):
#
# - *demand*: paid revenue; *growth*: the SKU's revenue trend (12 months against the 12 before, or
#   3 against 3 for young SKUs); *margin*: gross margin rate (1 - cost / revenue);
# - *competition*: fewer competitor listings and a larger price gap (competitors dearer than our
#   list price) score higher; a SKU no competitor matches counts as 0 listings with no price gap;
# - *supply*: shorter lead time and higher fill rate of the SKU's POs received in the last 365 days.
#
# $$\text{score} = \frac{\sum_i w_i \, \text{score}_i}{\sum_i w_i}, \quad \text{verdict: push} \ge 70,\ \text{review} < 40$$

# %%
score = selection.scorecard_report(data, record=record)
score.weights

# %%
fig, ax = plt.subplots(figsize=(10, 4.5))
selection.plot_scorecard(score, ax=ax);

# %% [markdown]
# **What to look for.** A category green on demand and growth but red on supply is one to secure
# before it grows further (a second supplier, earlier orders); red on competition means matched
# listings at similar or lower prices. The SKUs to push and the SKUs to review:

# %%
score.push_view

# %%
score.review_view

# %%
score.missing

# %%
record.rule("Revenue from SKUs scored under 40 弱势商品销售占比", score.weak_revenue_share,
            data.settings["selection"]["weak_revenue_share_max"], kind="max", unit="pct", subject="scorecard")

# %% [markdown]
# ## 5. Range roles: traffic, profit and image products 商品结构
#
# 003 stage 1 splits the range into traffic products (引流款, cheap and easy to say yes to, meant to
# bring first orders), profit products (利润款, the margin and the volume) and image products (形象款,
# the premium pieces that set the shop's tone and lift the order value). Each role has a job; this
# section checks whether it does it, over the last 90 days.
#
# **Definitions.** *First-order index* = the role's share of the lines of first orders / its share
# of all lines (above 1: it is over-represented in first orders). *Margin share* = its share of gross
# profit, to compare with its share of revenue. *AOV index* = the mean value of orders containing
# the role / the shop's AOV. Traffic plays its role at a first-order index of 1 or more, profit when
# its margin share is at least its revenue share, image when its AOV index is at least 1.5.

# %%
roles = selection.role_report(data, record=record)
roles.view

# %%
fig, ax = plt.subplots(figsize=(10, 4))
selection.plot_roles(roles, ax=ax);

# %% [markdown]
# **What to look for.** Traffic products that are no more common in first orders than in the rest
# are not pulling new buyers: move them to the new-customer slots (首单权益, channel landing pages)
# or swap them for products buyers search for. Profit products with a margin share below their
# revenue share are being discounted too hard. Image products whose orders are worth little more
# than the average are not doing their job.

# %%
record.rule("Traffic products in first orders (index) 引流款首单占比指数", roles.value("traffic", "first_order_index"),
            1.0, kind="min", unit="ratio", severity="low", subject="traffic products")

# %%
record.rule("Order value with image products (AOV index) 形象款客单价指数", roles.value("image", "aov_index"),
            roles.image_aov_min, kind="min", unit="ratio", severity="low", subject="image products")

# %% [markdown]
# ## 6. Lifecycle and new launches 爆款生命周期
#
# 002 part 03 follows a hot product through introduction (导入期), growth (成长期), maturity (成熟期)
# and decline (衰退期), with different work in each: traffic and reviews at the start, stock and
# exposure in growth, price and promotion defence in maturity, and in decline related sales,
# clearance or a successor, while the traffic moves on to the next product.
#
# **Definitions.** A SKU launched less than 6 months ago is in *introduction*. Otherwise its trend
# is its revenue of the last 12 months against the 12 before (younger SKUs: the last 3 months
# against the 3 before), taken **relative to the shop's own trend over the same months**, so that a
# product that only grows with the shop counts as mature: *growth* at +20% or more, *decline* at
# -20% or less or without a sale in the window, *maturity* in between.

# %%
life = selection.lifecycle_report(data, record=record)
life.summary_view

# %%
fig, ax = plt.subplots(figsize=(10, 5))
selection.plot_lifecycle(life, ax=ax);

# %% [markdown]
# **What to look for.** Large dots in red are declining products that still carry revenue: plan
# their successor before the revenue is gone. Small red dots at the bottom are products that stopped
# selling (compare chapter 03's slow movers). The declining SKUs:

# %%
life.declining_view

# %% [markdown]
# ### New launches against earlier launches 新品追踪
#
# A new product is judged against the products launched before it at the same age: cumulative units
# by month since launch (month 0 = the launch month, partial). *index* = the launch's cumulative
# units / the median of the earlier launches at the same age: above 1, it is ahead of the usual
# curve.

# %%
fig, ax = plt.subplots(figsize=(10, 4.5))
selection.plot_launch_curves(life, ax=ax);

# %%
life.launches_view

# %%
record.rule("Revenue from declining SKUs 衰退期商品销售占比", life.decline_revenue_share,
            data.settings["selection"]["decline_revenue_share_max"], kind="max", unit="pct", subject="lifecycle")

# %% [markdown]
# ## 7. Price bands and price position 价格带与价格定位
#
# 003 stage 2 sets the price from cost, competitors' prices and the brand's premium, as either
# penetration pricing (渗透定价: below the market to win volume) or skimming (撇脂定价: above it, for
# quality). The price bands show where each category's range sits and which band sells; the
# position shows where each matched SKU stands against its competitors.
#
# **Definitions.** Price bands: each category's SKUs in terciles of list price (low, mid, high), with
# the band's share of the category's revenue over the last 90 days. Price index = our list price /
# the competitors' mean price over the last 30 days: *below* (penetration) under 0.95, *above*
# (skimming) over 1.05, *at market* in between. A competitor that sells 15% or more below our list
# price on three days or more is an **undercut** (001: the competitor's 9.9-yuan lure).

# %%
prices = selection.price_report(data, record=record)
prices.bands_view

# %%
fig, ax = plt.subplots(figsize=(12, 4.5))
selection.plot_price_position(prices, ax=ax);

# %%
prices.position_summary

# %% [markdown]
# **What to look for.** A range priced mostly *at market* competes on everything but price; the
# few SKUs *below* are the shop's penetration items and should be the ones it advertises. An
# undercut SKU (red) needs an answer the handbook suggests: the same product with a gift (同款+赠品)
# rather than a price war. The undercuts of the window:

# %%
prices.undercut_view

# %%
record.rule("SKUs undercut by a competitor by 15% or more 竞品低价", prices.undercut_count,
            0, kind="max", unit="count", subject="competitors")

# %% [markdown]
# ## Headline figures, alerts and action lists
#
# The month's figures and alerts go to the report pack; the action lists are written as CSV files:
#
# - `bundle_candidates`: pairs to sell as a bundle, with their expected AOV effect;
# - `titles_to_fix`: listings whose titles are too short or lack keywords and attributes;
# - `selection_review`: SKUs scored under 40 (review, reprice or retire);
# - `undercut_skus`: SKUs a competitor sells far below our price.

# %%
record.headline("rising_terms", demand.rising_count, label="Rising search terms 上升搜索词", unit="count")
record.headline("top_term_growth", demand.top_growth, label="Fastest-growing search term 搜索增长最快", unit="pct",
                note=demand.top_term or "")
record.headline("bundle_candidates", bundles.bundle_count, label="Bundle candidates 组合候选", unit="count")
record.headline("bundle_aov_effect", bundles.expected_aov_effect, label="Expected AOV effect of the bundles 组合客单价效应", unit="pct")
record.headline("titles_to_fix", listing.to_fix_count, label="Titles to fix 标题待优化", unit="count")
record.headline("skus_to_push", score.push_count, label="SKUs to push 重点推广", unit="count")
record.headline("skus_to_review", score.review_count, label="SKUs to review 待优化", unit="count")
record.headline("declining_revenue_share", life.decline_revenue_share, label="Revenue from declining SKUs 衰退期占比", unit="pct")
record.headline("median_price_index", prices.median_index, label="Median price index vs competitors 价格指数", unit="ratio");

# %%
record.alerts_from(demand.alerts, severity="severity", subject="subject", message="{message}", section="demand")
record.alerts_from(bundles.alerts, severity="severity", subject="subject", message="{message}", section="bundles")
record.alerts_from(score.alerts, severity="severity", subject="subject", message="{message}", section="scorecard")
record.alerts_from(life.alerts, severity="severity", subject="subject", message="{message}", section="lifecycle")
record.alerts_from(prices.alerts, severity="severity", subject="subject", message="{message}", section="prices");

# %%
record.action("bundle_candidates", bundles.bundles, title="Bundle candidates 组合套餐候选",
              description="Pairs bought together far more often than by chance, with the expected AOV effect of a bundle offer.")
record.action("titles_to_fix", listing.to_fix, title="Titles to fix 标题待优化",
              description="Listings whose titles are too short, or lack both the category's search terms and attributes.")
record.action("selection_review", score.to_review, title="SKUs to review 选品复核",
              description="SKUs with a combined selection score under 40: reprice, fix, replace or retire.")
record.action("undercut_skus", prices.undercut, title="SKUs undercut by competitors 竞品低价",
              description="SKUs a competitor sold 15% or more under our list price on several days of the last 30.");

# %%
record.save()
record

# %% [markdown]
# ## Takeaways
#
# - Read growth against the same months a year earlier: it separates a take-off from a season.
#   A rising term needs a product, stock and a title that carries it; a fading one, a run-down plan.
# - Bundles come from what buyers already put together: lift says it is no chance, the attach rate
#   says how many, and the AOV uplift what each bundle order is worth.
# - A title under eight characters cannot carry a keyword and an attribute: fix those first.
# - The scorecard is a ranking, not a verdict: read the five scores behind a low total before
#   retiring a product (a supply problem is fixed differently from a demand problem).
# - Check that each role does its job; a SKU in decline needs its successor planned while it still
#   sells, and a launch is best judged against the launches before it.

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# 1. From `data.search_terms`, compute the growth of searches for 露营灯 in the last three full
#    months against the same three months a year earlier (growth = recent / base - 1).
# 2. Of the paid orders of the last 365 days that contain SKU0001, what share also contain SKU0003
#    (the confidence of SKU0001 → SKU0003)? Use `data.order_items` and `data.orders`.
# 3. Change the scorecard weights in a settings file of your own (`[selection] scorecard_weights =
#    { demand = 0.1, growth = 0.1, margin = 0.5, competition = 0.15, supply = 0.15 }`) and run the
#    chapter again: which SKUs enter the push list?

# %% tags=["exercise"]
answer = None  # your growth, e.g. 1.5 for +150%
exercises.check("02.term_growth", answer, data)

# %% tags=["exercise"]
answer = None  # your share, e.g. 0.2
exercises.check("02.attach_rate", answer, data)
