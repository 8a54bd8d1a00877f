"""One glossary of the labels the report pack shows, in English and Chinese (``--lang en|zh``).

Chapter narratives stay English with the handbook's Chinese terms beside them; the pack's front
page, KPI names and table headers come from here. A key without a Chinese label falls back to
English, so a missing translation never breaks a report.
"""
from __future__ import annotations

LANGUAGES = ("en", "zh")

LABELS: dict[str, tuple[str, str]] = {
    # KPI cards
    "gmv": ("GMV", "成交额 GMV"),
    "paid_orders": ("Orders", "支付订单数"),
    "buyers": ("Buyers", "买家数"),
    "aov": ("AOV", "客单价"),
    "conversion_rate": ("Conversion", "转化率"),
    "repurchase_rate": ("Repurchase rate", "复购率"),
    "net_sales": ("Net sales", "净销售额"),
    "previous_month": ("vs previous month", "环比"),
    "last_year": ("vs same month last year", "同比"),
    "target": ("vs target", "目标达成"),
    # page
    "report_title": ("Operations report", "运营月报"),
    "alerts": ("Alerts", "预警"),
    "no_alerts": ("No alerts.", "无预警。"),
    "chapters": ("Chapters", "章节"),
    "actions": ("Action lists", "行动清单"),
    "data_quality": ("Data quality", "数据质量"),
    "no_quality_issues": ("No data-quality issues.", "未发现数据质量问题。"),
    "provenance": ("Provenance", "数据来源与版本"),
    "failed": ("failed", "运行失败"),
    "ok": ("ok", "正常"),
    "rows": ("rows", "行"),
    "severity": ("severity", "级别"),
    "subject": ("subject", "对象"),
    "message": ("message", "说明"),
    "chapter": ("chapter", "章节"),
    "high": ("high", "高"),
    "medium": ("medium", "中"),
    "low": ("low", "低"),
    "table": ("table", "表"),
    "column": ("column", "字段"),
    "problem": ("problem", "问题"),
    "action": ("what to do", "处理建议"),
    "examples": ("examples", "示例"),
    "parameters": ("parameters", "参数"),
    "packages": ("packages", "软件包版本"),
    "git_commit": ("git commit", "代码版本"),
    "fingerprint": ("data fingerprint", "数据指纹"),
    "rendered": ("rendered", "生成时间"),
    "source": ("source", "数据源"),
    "rule_checks": ("Rules of thumb", "经验法则检查"),
    "skipped": ("Skipped sections", "跳过的部分"),
}


def label(key: str, lang: str = "en") -> str:
    """The label of ``key`` in ``lang`` (the key itself when unknown)."""
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    en, zh = LABELS.get(key, (key, key))
    return zh if lang == "zh" and zh else en


#: column names as chapters display them -> Chinese (table headers and chart axes under ``zh``)
COLUMN_LABELS: dict[str, str] = {
    "month": "月份", "date": "日期", "week": "周", "channel": "渠道", "device": "设备", "province": "省份",
    "city": "城市", "city_tier": "城市等级", "persona": "人群", "age_band": "年龄段", "gender": "性别",
    "member_tier": "会员等级", "category": "品类", "subcategory": "子品类", "brand": "品牌", "sku": "SKU",
    "title": "标题", "role": "货品角色", "supplier_id": "供应商", "carrier": "承运商", "competitor": "竞品",
    "campaign_id": "活动", "festival": "节日", "term": "搜索词", "customer_id": "客户ID", "order_id": "订单号",
    "gmv": "成交额", "net_sales": "净销售额", "paid_orders": "支付订单数", "orders": "订单数",
    "buyers": "买家数", "new_buyers": "新买家数", "aov": "客单价", "visitors": "访客数",
    "conversion": "转化率", "conversion_rate": "转化率", "repurchase_rate": "复购率",
    "refund_rate": "退款率", "units": "销量", "revenue": "销售额", "on_hand": "在库数量", "on_order": "在途数量",
    "spend": "投放花费", "cac": "获客成本", "roas": "广告回报率", "roi": "投产比", "ltv": "用户终身价值",
    "gross_margin": "毛利", "margin_rate": "毛利率", "share": "占比", "rating": "评分",
    "bad_review_rate": "差评率", "days_of_inventory": "库存周转天数", "sell_through": "售罄率",
    "safety_stock": "安全库存", "reorder_point": "补货点", "order_qty": "建议补货量", "lead_time_days": "交期(天)",
    "severity": "级别", "subject": "对象", "message": "说明", "value": "数值", "target": "目标",
    "this_month": "本月", "previous_month": "上月", "last_year": "去年同月", "mom": "环比", "yoy": "同比",
}

_language = "en"


def set_language(lang: str) -> str:
    """Set the language of chart labels and table headers in this process (a notebook's kernel).

    Under ``zh`` the chart helpers of :mod:`playbook.charts` label axes and legends with
    :data:`COLUMN_LABELS`, and DataFrames displayed in a notebook show Chinese column headers.
    Returns the language set.
    """
    global _language
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    _language = lang
    _register_table_formatter()
    return lang


def current_language() -> str:
    return _language


def column_label(name) -> str:
    """A column's display label in the current language."""
    if _language == "zh" and isinstance(name, str):
        return COLUMN_LABELS.get(name, name)
    return name


def localize(frame):
    """A copy of ``frame`` whose column and index names are shown in the current language."""
    if _language == "en":
        return frame
    out = frame.rename(columns=lambda c: column_label(c) if isinstance(c, str) else c)
    out.index = out.index.set_names([column_label(n) for n in out.index.names])
    return out


def _register_table_formatter() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    import pandas as pd

    formatter = shell.display_formatter.formatters["text/html"]
    formatter.for_type(pd.DataFrame, lambda frame: localize(frame)._repr_html_())
