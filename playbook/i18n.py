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
