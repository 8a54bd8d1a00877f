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
# # 00 Start here: how the playbook works, and a first look at the shop
#
# The playbook turns an e-commerce operations handbook into notebooks that compute on your shop's
# own data. This first notebook shows how to use it, maps the chapters, explains the vocabulary
# (GMV 成交额, AOV 客单价, 复购率 ...) and takes a first look at the data.
#
# **After this notebook you can** load a shop's data, read its data-quality report, find the chapter
# that answers a question, and compute the basic figures of a month yourself.
#
# **Tables used:** `orders` (required); the overview lists every other table the source holds.

# %% [markdown]
# ## How to use the playbook
#
# - **Interactively**: `make lab` opens JupyterLab on `notebooks/`. Each chapter's first code cell
#   after the setup holds its parameters: set `data_source` to your shop's folder and `month` to the
#   month you want, then *Restart & Run All*.
# - **Every month**: `make report` (or `playbook report --month 2026-10 --data my_shop/`) runs every
#   chapter for a month and writes HTML pages without code into `reports/<month>/`.
# - **Your own data**: a folder with one file per table (`orders.csv`, `order_items.csv`,
#   `products.csv`, ...; CSV, CSV.gz or Parquet) or a DuckDB file. Only `orders` is required; see
#   `docs/data_contract.md` for every table and column. `playbook validate my_shop/` checks a folder
#   and tells you exactly what to fix.
# - **Thresholds**: the handbook's rules of thumb (dormant after 90 days, ship within 48 hours,
#   bad reviews under 5%, fraud under 0.3% ...) live in `playbook/settings_default.toml`; put your
#   own values in a TOML file and pass it as `settings_file`.

# %%
import playbook
from playbook import charts, exercises, guide, i18n, metrics

charts.use_theme()

# %% tags=["parameters"]
month: str = "2026-10"  # report month, YYYY-MM
data_source: str = "../data/samples"  # folder of contract tables or a DuckDB file
settings_file: str = ""  # optional TOML file overriding the default thresholds
lang: str = "en"  # language of chart labels and table headers: en or zh

# %%
i18n.set_language(lang)
data = playbook.load(data_source, month=month, settings=settings_file or None)
data

# %% [markdown]
# ## The chapters
#
# Each chapter teaches one part of the handbook and computes it on the data. Read them in order the
# first time; later, jump to the one that answers today's question. "Needs" lists the tables without
# which the chapter cannot run; the others unlock more of its sections.

# %%
guide.chapter_map()

# %% [markdown]
# ## Glossary
#
# The handbook is written in Chinese and operators speak in its terms; the playbook uses English
# names with the Chinese term beside them. The definitions below are the ones every chapter uses.

# %%
guide.glossary()

# %% [markdown]
# ## A first look at the data
#
# Which tables does the source hold, how many rows in the loaded window (the report month and the
# 24 months before it, so that every month has its year-ago comparison), and from when to when?
# A table marked *absent* simply switches off the sections that need it.

# %%
data.overview()

# %% [markdown]
# ### Data quality
#
# Loading checks every table against the contract. Blocking problems stop with a message naming the
# table, column and rows; the rest is repaired and listed here (the monthly report shows the same
# list). An empty list means the data arrived clean.

# %%
data.quality

# %% [markdown]
# ## The month in figures
#
# GMV is what buyers paid on orders that were not cancelled; net sales subtract refunds; AOV (客单价)
# is GMV per paid order. Each figure is set against the previous month and against the same month
# last year: a festival month compares fairly only with its own last year.

# %%
metrics.kpi_comparison(data, month).style.format(
    {"this_month": "{:,.2f}", "previous_month": "{:,.2f}", "last_year": "{:,.2f}", "mom": "{:+.1%}", "yoy": "{:+.1%}"})

# %% [markdown]
# ### GMV by channel, month by month
#
# Look for the festival peaks (618 in June, double 11 in November), the spring-festival trough, and
# whether each channel is growing. Channels are coloured the same way in every chapter.

# %%
by_channel = metrics.monthly_kpis(data, by="channel")
ax = charts.line_chart(by_channel, x="month", y="gmv", hue="channel", title="GMV 成交额 by channel")
charts.format_money_axis(ax);

# %% [markdown]
# ## Takeaways
#
# - Every chapter starts like this one: parameters, one `playbook.load`, then sections that each
#   compute with one call into the package and show a table or chart.
# - The definitions (GMV, net sales, AOV, buyer) are shared, so every chapter's figures agree.
# - The data-quality list is part of the answer: read it before trusting a figure.

# %% [markdown] tags=["exercise"]
# ## Exercises
#
# 1. What share of the report month's GMV came from the private domain (私域: own site and WeChat
#    mini program)? Compute it with `metrics.gmv` on `data.month_rows("orders")`, then check it.
# 2. What was the AOV of tmall orders in the report month?

# %% tags=["exercise"]
answer = None  # your number, e.g. 0.18
exercises.check("00.private_domain_share", answer, data)

# %% tags=["exercise"]
answer = None  # your number
exercises.check("00.aov_tmall", answer, data)
