"""The playbook's map: its chapters, which handbook sections and tables each uses, and a glossary
of the handbook's terms in English and Chinese (for notebook 00 and the report pack)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Chapter:
    number: str
    slug: str
    title: str
    handbook: str  #: handbook sections (000-004 as in shared/HANDBOOK_MAP.md)
    needs: tuple[str, ...]  #: tables without which the chapter cannot run
    uses: tuple[str, ...]  #: tables that unlock more sections
    teaches: str

    @property
    def notebook(self) -> str:
        return f"{self.number}_{self.slug}.ipynb"


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("01", "positioning", "Platform positioning and goals 平台定位与目标",
            "000 §1, 002 part 01-02, 004 goals/market", ("orders",),
            ("order_items", "products", "customers", "traffic", "targets"),
            "GMV, net sales and margin by category and channel; personas; the GMV tree "
            "(visitors x conversion x AOV); SMART targets and month-end pacing."),
    Chapter("02", "selection", "Product selection and range 选品与产品规划",
            "000 §2.1/2.2/2.4, 001 part 2, 002 part 03, 003 stage 1-2", ("orders", "order_items", "products"),
            ("search_terms", "competitor_prices", "purchase_orders", "suppliers"),
            "Rising demand, a selection scorecard, range roles, product lifecycle, price bands, "
            "bundles from baskets, listing quality."),
    Chapter("03", "inventory", "Stock, turnover and replenishment 库存与补货",
            "000 §2.3, 001 part 2, 002 part 03, 003 stage 2", ("orders", "order_items", "products", "inventory"),
            ("purchase_orders", "suppliers"),
            "ABC-XYZ, turnover days, demand forecasts, safety stock and reorder points, the "
            "replenishment and clearance lists."),
    Chapter("04", "acquisition", "Users, channels, retention, lifetime value 用户与渠道",
            "000 §3, 001 part 1/3, 002 part 02/04/06", ("orders",),
            ("customers", "marketing_spend", "traffic"),
            "The channel matrix (CAC, ROAS, ROI, LTV:CAC), cohorts and repurchase, lifecycle stages "
            "with wake-up lists, predicted lifetime value."),
    Chapter("05", "campaigns", "Campaign planning and execution 活动策划与执行",
            "000 §4, 001 part 3, 002 part 04, 003 stage 7", ("orders",),
            ("campaigns", "order_items", "marketing_spend", "experiments"),
            "The festival calendar, campaign lift against a baseline, pull-forward and dip, presale "
            "and full-reduction (满减) effects, promotion tests."),
    Chapter("06", "data_ops", "Metrics, monitoring and experiments 数据化运营",
            "001 part 4, 002 part 05, 003 stage 6, 004 data", ("orders",),
            ("traffic", "experiments", "touchpoints", "customers"),
            "A KPI board with alerts, the funnel, RFM segments, A/B test readouts, attribution, "
            "weekly and monthly reviews."),
    Chapter("07", "risk", "Compliance, supply, competition, reputation, fraud 风险管理",
            "001 part 5, 002 part 06", ("orders",),
            ("products", "purchase_orders", "suppliers", "competitor_prices", "reviews"),
            "Banned advertising terms, supplier concentration and lateness, competitor undercuts, "
            "bad-review spikes, fraud rings."),
    Chapter("08", "fulfillment", "Fulfillment and service 履约与客服",
            "003 stages 4-5, 004 logistics and after-sales", ("orders",),
            ("shipments", "service_tickets", "order_items"),
            "Shipping within 48 hours, carrier on-time delivery, service tickets, returns and refund "
            "reasons."),
)


def chapter_map() -> pd.DataFrame:
    """The chapters as a table: number, title, handbook sections, tables needed and used, contents."""
    return pd.DataFrame([{
        "chapter": c.number, "title": c.title, "handbook": c.handbook,
        "needs": ", ".join(c.needs), "also uses": ", ".join(c.uses), "teaches": c.teaches,
    } for c in CHAPTERS])


#: (English term, Chinese term, definition) — the vocabulary of the handbook.
GLOSSARY: tuple[tuple[str, str, str], ...] = (
    ("GMV", "成交额 / GMV", "What buyers paid for orders that were not cancelled, refunds included."),
    ("Net sales", "净销售额", "GMV minus refunds."),
    ("Paid order", "支付订单", "An order that was paid (status paid or refunded)."),
    ("AOV", "客单价", "Average order value: GMV / paid orders."),
    ("Buyer", "买家 / 成交用户", "A customer with at least one paid order."),
    ("UV (visitors)", "访客数 UV", "Unique visitors of a day and channel."),
    ("Conversion rate", "转化率", "Buyers / visitors (paid orders / visitors per day and channel)."),
    ("Repurchase rate", "复购率", "Of the buyers of the last 12 months, the share who bought on two or more days."),
    ("Repurchase cycle", "复购周期", "Typical days between a customer's consecutive orders."),
    ("Gross margin", "毛利率", "(Net sales - cost of goods) / net sales."),
    ("CAC", "获客成本", "Marketing spend / new buyers it brought."),
    ("ROAS", "广告支出回报率", "Revenue attributed to a channel / its spend."),
    ("ROI", "投入产出比 / 投产比", "Gross margin earned / spend; under 1 loses money."),
    ("LTV", "用户终身价值", "What a customer is worth over the relationship (historical or predicted)."),
    ("Cohort", "同期群", "Customers grouped by the month of their first order."),
    ("Dormant / churned", "沉睡 / 流失", "No paid order for 90 / 180 days (settings)."),
    ("Private domain", "私域", "Channels the shop owns (own site, WeChat mini program) rather than rents."),
    ("Full reduction", "满减", "Spend at least X, get Y off (e.g. 满300减40)."),
    ("Presale", "预售", "Deposit-first orders taken before a festival and paid in full on the day."),
    ("618 / Double 11 / Double 12", "618 / 双11 / 双12", "The big platform festivals on June 18, November 11, December 12."),
    ("New-year goods festival", "年货节", "Sales before the spring festival, followed by the logistics pause."),
    ("Traffic / profit / image product", "引流款 / 利润款 / 形象款",
     "Range roles: brings visitors cheaply / carries margin / lifts the brand and AOV."),
    ("Hot product", "爆款", "A product that carries a large share of sales."),
    ("ABC / XYZ", "ABC / XYZ 分类", "Class by share of sales value / by variability of demand."),
    ("Days of inventory", "库存周转天数", "Stock on hand / average daily units sold."),
    ("Sell-through", "售罄率 / 动销率", "Units sold / (units sold + units on hand)."),
    ("Safety stock", "安全库存", "Buffer covering demand and lead-time variability at a service level."),
    ("Reorder point", "补货点", "Stock level at which to order: lead-time demand + safety stock."),
    ("Slow mover", "滞销品", "Stock with no or very few sales for a long time; a clearance candidate."),
    ("Bad review", "差评", "A review rated 2 or lower (settings); keep the rate under 5%."),
    ("Fraud order", "刷单 / 欺诈订单", "Fake or abusive orders (linked accounts, coupon abuse); keep under 0.3%."),
    ("Fulfillment", "履约 / 发货", "Shipping within 48 hours of payment, delivering by the promised date."),
    ("RFM", "RFM 模型", "Segments by recency, frequency and monetary value of purchases."),
    ("A/B test", "A/B 测试", "Randomised comparison of two versions, read with confidence intervals."),
    ("Attribution", "归因", "Sharing the credit for a purchase among the channels that touched the buyer."),
)


def glossary() -> pd.DataFrame:
    """The glossary as a table: term, 中文, meaning."""
    return pd.DataFrame(GLOSSARY, columns=["term", "中文", "meaning"])
