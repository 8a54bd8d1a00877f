"""The sample shop: a synthetic, reproducible Chinese multi-channel shop for the playbook.

"山屿生活" (Shanyu Living) sells outdoor and home lifestyle goods (camping gear, outdoor
apparel, fitness, kitchen, storage, bedding, small appliances) on Tmall, JD, Douyin,
Xiaohongshu, its own web shop and a WeChat mini program (the last two are the private domain,
私域). The generator writes every table of the data contract for 24 full months,
2024-11-01 .. 2026-10-31, with festivals, a weekly rhythm, growth, a repeat-buying process in the
spirit of BG/NBD and gamma-gamma, and a set of planted events that the chapters must find where
they were planted and nowhere else. :data:`PLANTED_EVENTS` describes them machine-readably; the
generator reads its own settings from there (single source of truth).

Usage::

    from playbook.samples import generate_sample_shop, write_sample_shop, PLANTED_EVENTS
    tables = generate_sample_shop()            # dict of DataFrames
    write_sample_shop("data/samples")          # the committed files
    python -m playbook.samples --out /tmp/shop --scale 120 --format parquet   # ~10M order lines

Everything is drawn from ``numpy.random.default_rng`` streams derived from ``seed``; the same seed
and scale give byte-identical files. ``scale=N`` multiplies customers, orders, traffic, searches
and experiment units by N (the range grows by ``sqrt(N)``); generation is vectorised (loops run over
days, SKUs or channels, never over orders or customers).
"""

from __future__ import annotations

import argparse
import gzip
import pathlib
import time
import zlib

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_SEED",
    "PLANTED_EVENTS",
    "TABLE_FILES",
    "contact_hash",
    "generate_sample_shop",
    "planted_event_ids",
    "write_sample_shop",
]

DEFAULT_SEED = 20261031
START = np.datetime64("2024-11-01", "D")
END = np.datetime64("2026-10-31", "D")
N_DAYS = int((END - START).astype(int)) + 1  # 730
HISTORY_START = np.datetime64("2022-07-01", "D")  # the customer base existing before the data
DAY = 86400

CHANNELS = ["tmall", "jd", "douyin", "xiaohongshu", "own_site", "wechat_mini"]
PRIVATE_CHANNELS = ["own_site", "wechat_mini"]
DEVICES = ["app", "mobile_web", "pc", "mini_program"]
CARRIERS = ["sf", "zto", "yto", "yunda", "jd_logistics", "ems"]
CATEGORIES = ["露营装备", "户外服饰", "运动健身", "厨房餐具", "家居收纳", "家纺床品", "小家电"]
PERSONAS = ["gen_z", "young_parent", "new_middle_class", "silver_age", "smb_buyer", "outdoor_fan"]
TIERS = ["none", "silver", "gold", "platinum"]

# ---------------------------------------------------------------------------------------------
# Planted events: the single source of truth. The generator reads these constants; the tests and
# the chapters assert that each event is found where it is planted and nowhere else.
# ---------------------------------------------------------------------------------------------
PLANTED_EVENTS: dict[str, dict] = {
    "conversion_outage": {
        "date": "2026-09-17",
        "cause": "payment gateway failure at checkout (支付失败)",
        "channels": "all",
        "orders_kept": 0.55,  # share of the day's would-be orders still placed
        "payment_failure_cancel_rate": 0.25,  # share of the placed orders cancelled (never paid)
        "expected_effect": "visitors normal, paid orders about -60% on every channel; the only "
        "conversion anomaly outside festivals and the spring-festival pause",
        "chapter": "06_data_ops (KPI alerts, funnel)",
    },
    "stockout": {
        "sku": "SKU0009",
        "sold_out": "2026-10-07",  # the last units sell this day: on_hand 0 at its end
        "start": "2026-10-08",  # first day without stock and without sales
        "end": "2026-10-24",  # last day with on_hand 0 (the overdue PO arrives on 2026-10-25)
        "supplier_id": "S02",
        "overdue_po": {"order_date": "2026-09-18", "expected_date": "2026-10-06",
                       "received_date": "2026-10-25", "fill_rate": 0.55},
        "no_reorder_from": "2026-08-24",  # the planner relies on open POs from this day on
        "end_cover_days": 4,  # on_hand at 2026-10-31 covers about this many days, nothing on order
        "expected_effect": "A-class best seller; on_hand 0 and no sales 2026-10-08..2026-10-24; an "
        "overdue PO; low stock and nothing on order at the end (belongs on the reorder list)",
        "chapter": "03_inventory (stock-out, reorder list), 07_risk (supply)",
    },
    "slow_movers": {
        "skus": ["SKU0022", "SKU0060", "SKU0074", "SKU0090", "SKU0114"],
        "last_sale_before": "2026-06-10",  # no sales from this date on (>= 143 days to the end)
        "bulk_po": {"order_date": "2026-04-20", "cover_days": 150},
        "expected_effect": "stock on hand, no sales in the last 140+ days -> clearance list",
        "chapter": "03_inventory (slow movers)",
    },
    "overstock": {
        "skus": ["SKU0052", "SKU0102"],
        "bulk_po": {"order_date": "2025-09-01", "qty": [1500, 1800]},
        "expected_effect": "a few sales a week against >1,000 units: cover above 365 days",
        "chapter": "03_inventory (overstock)",
    },
    "banned_words": {
        "skus": {"SKU0005": "第一", "SKU0003": "首选", "SKU0068": "最佳", "SKU0096": "国家级",
                 "SKU0101": "顶级"},
        "lookalike_skus": {"SKU0016": "第一次", "SKU0089": "最近"},
        "expected_effect": "exactly the five listed titles carry absolute terms banned by the "
        "Advertising Law; 第一次 and 最近 are harmless look-alikes that must not be flagged",
        "chapter": "07_risk (compliance), 02_selection (listing quality)",
    },
    "fraud_ring": {
        "n_accounts": 12,
        "phone": "16658213470",
        "signup_start": "2026-10-03",
        "signup_end": "2026-10-22",
        "coupon_code": "NEW30",
        "channel": "own_site",
        "n_addresses": 3,
        "n_refunded": 8,
        "expected_effect": "12 accounts created in October 2026 share one contact_hash, each uses "
        "NEW30 once on its only order, 8 of 12 refunded",
        "chapter": "07_risk (fraud)",
    },
    "families": {
        "n_families": 3,
        "sizes": [2, 3, 2],
        "expected_effect": "2-3 accounts share an address_hash, own phones, signed up years or "
        "months apart, ordinary coupons and refunds: must not be flagged as a ring",
        "chapter": "07_risk (fraud, false positives)",
    },
    "competitor_undercut": {
        "sku": "SKU0049",
        "competitor": "驼峰运动专营店",
        "start": "2026-10-06",
        "end": "2026-10-26",
        "price_ratio": 0.80,
        "demand_effect": 0.75,
        "expected_effect": "one competitor 20% below our list price for 21 days; every other "
        "competitor price stays within 15% of ours",
        "chapter": "07_risk (competition), 02_selection (pricing)",
    },
    "bad_review_spike": {
        "sku": "SKU0001",
        "start": "2026-10-01",  # goods shipped in this window come from a bad batch
        "end": "2026-10-14",
        "review_window": ["2026-10-03", "2026-10-24"],  # where the bad reviews land
        "bad_share": 0.34,
        "review_prob": 0.45,
        "refund_prob": 0.2,
        "expected_effect": "many 1-2 star reviews about quality (质量问题) for one SKU in "
        "October 2026; its earlier bad-review rate is low and the shop-wide rate stays under 5%",
        "chapter": "07_risk (reputation), 08_fulfillment (quality tickets)",
    },
    "late_supplier": {
        "supplier_id": "S02",
        "from_expected_date": "2026-06-01",
        "delay_days": [8, 12],
        "fill_rate": [0.70, 0.85],
        "expected_effect": "POs expected from June 2026 arrive 8-12 days late with 70-85% fill; "
        "before that, and for every other supplier, on time within a few days",
        "chapter": "07_risk (supply chain)",
    },
    "late_carrier": {
        "carrier": "yunda",
        "from_shipped_date": "2026-08-01",
        "late_prob": 0.28,
        "late_prob_provinces": {"四川": 0.5, "重庆": 0.5, "云南": 0.5, "贵州": 0.5},
        "extra_days": [2, 5],
        "expected_effect": "yunda delivers after promised_date for about a quarter of the parcels "
        "shipped from 2026-08 (about half of its parcels to the south-west) against 1-8% for the others",
        "chapter": "08_fulfillment (carriers)",
    },
    "experiments": {
        "one_page_checkout": {"start": "2026-08-03", "end": "2026-08-30", "units_per_arm": 20000,
                              "control_rate": 0.100, "treatment_rate": 0.115,
                              "expected_effect": "real lift: +1.5 points conversion"},
        "banner_color": {"start": "2026-08-31", "end": "2026-09-13", "units_per_arm": 20000,
                         "control_rate": 0.100, "treatment_rate": 0.100,
                         "expected_effect": "no effect"},
        "chapter": "06_data_ops (A/B testing), 05_campaigns (promotion tests)",
    },
    "search_takeoff": {
        "term": "露营灯",
        "ramp_start": "2026-07-01",
        "ramp_end": "2026-07-31",
        "multiplier": 3.2,
        "fading_term": "飞盘",
        "fading_to": 0.35,
        "expected_effect": "露营灯 searches about triple from July 2026; 飞盘 fades to about a "
        "third over the two years; every other term stable or seasonal",
        "chapter": "02_selection (search-term growth)",
    },
    "campaign_lift": {
        "festival": "double11",
        "campaign_id": "CMP019",  # 2025 双11 main phase
        "presale_campaign_id": "CMP018",
        "pre_dip": ["2025-10-08", "2025-10-19"],
        "presale": ["2025-10-20", "2025-10-30"],
        "main": ["2025-10-31", "2025-11-11"],
        "post_dip": ["2025-11-12", "2025-11-21"],
        "expected_effect": "clear lift in the main phase (peak on 11-11), presale deposits pulled "
        "forward, ordinary orders lower before, and a dip in the ten days after",
        "chapter": "05_campaigns (lift and post-festival dip)",
    },
    "spring_festival": {
        "dates": ["2025-01-29", "2026-02-17"],
        "pause": [["2025-01-25", "2025-02-04"], ["2026-02-13", "2026-02-23"]],
        "expected_effect": "orders drop for about ten days around the spring festival and nothing "
        "ships during the logistics pause; shipped_ts resumes the day after",
        "chapter": "06_data_ops, 08_fulfillment (a seasonal pattern, not an anomaly)",
    },
    "short_titles": {
        "skus": ["SKU0075", "SKU0091", "SKU0103"],
        "max_chars": 8,  # fewer characters than this (spaces aside); every other title is longer
        "expected_effect": "three listings with short titles that miss keywords and attributes",
        "chapter": "02_selection (listing quality)",
    },
    "bundles": {
        # anchor, partner, share of the anchor's lines that get the partner added
        "pairs": [["SKU0001", "SKU0003", 0.20], ["SKU0005", "SKU0016", 0.25], ["SKU0005", "SKU0007", 0.15],
                  ["SKU0049", "SKU0051", 0.18], ["SKU0070", "SKU0075", 0.15], ["SKU0081", "SKU0084", 0.20],
                  ["SKU0094", "SKU0096", 0.20], ["SKU0009", "SKU0012", 0.12], ["SKU0067", "SKU0069", 0.12]],
        "expected_effect": "the partner is added to 12-25% of the anchor's orders: lift well above 1",
        "chapter": "02_selection (bundles)",
    },
    "roi_below_one": {
        "channel": "xiaohongshu",
        "from_month": "2026-04",
        "roi_on_gross_margin": 0.65,
        "expected_effect": "xiaohongshu spend exceeds the gross margin of its orders in every month "
        "from 2026-04 (ROI about 0.65); all other channels stay well above 1",
        "chapter": "04_acquisition (channel matrix, cut list)",
    },
    "slow_paying_channel": {
        "channel": "own_site",
        "share_bank_transfer": 0.3,
        "expected_effect": "about 30% of own_site orders are paid by bank transfer hours to three "
        "days after the order",
        "chapter": "08_fulfillment, 06_data_ops",
    },
}

# ---------------------------------------------------------------------------------------------
# Range, suppliers, places
# ---------------------------------------------------------------------------------------------
SUPPLIERS = [
    # id, name, quoted lead time (days), region
    ("S01", "浙江永康山屿户外用品有限公司", 15, "浙江"),
    ("S02", "宁波北仑营地装备制造有限公司", 18, "浙江"),
    ("S03", "福建泉州步野服饰有限公司", 21, "福建"),
    ("S04", "广东东莞智能小家电有限公司", 12, "广东"),
    ("S05", "河北定州力行体育用品有限公司", 20, "河北"),
    ("S06", "广东阳江厨匠五金制品有限公司", 10, "广东"),
    ("S07", "浙江台州佳纳塑料制品有限公司", 7, "浙江"),
    ("S08", "江苏南通暖巢家纺有限公司", 14, "江苏"),
]

# (subcategory, category, title, list price, gross margin, season, supplier, backup, popularity,
#  role, launch date, lifecycle, variants [(label, price factor, popularity factor)])
_BASES = [
    ("折叠椅", 0, "户外折叠露营椅 便携轻量 铝合金 月亮椅", 159, .52, "camping", "S01", "S02", 9.0, "profit", None, None, [("标准款", 1, 1), ("加高款", 1.26, .55)]),
    ("折叠桌", 0, "铝合金蛋卷桌 户外折叠桌 便携野餐桌", 229, .50, "camping", "S01", "", 5.0, "profit", None, None, [("90cm", 1, 1), ("120cm", 1.26, .6)]),
    ("帐篷", 0, "全自动速开帐篷 防雨防晒 公园野营", 399, .48, "camping", "S02", "S01", 5.0, "profit", None, None, [("3-4人", 1, 1), ("5-8人", 1.5, .45)]),
    ("天幕", 0, "户外天幕 遮阳防雨 银胶涂层 露营凉棚", 299, .50, "camping", "S02", "", 3.5, "profit", None, None, [("3x4m", 1, 1), ("4x6m", 1.34, .5)]),
    ("露营灯", 0, "户外充电营地灯 复古氛围灯 超长续航 露营灯", 89, .55, "flat", "S02", "", 8.0, "profit", None, None, [("经典款", 1, 1)]),
    ("露营灯", 0, "LED磁吸挂灯 帐篷灯 露营灯 三档调光", 59, .50, "flat", "S02", "S04", 4.5, "profit", "2025-06-10", "grow", [("单只装", 1, 1), ("两只装", 1.7, .5)]),
    ("露营灯", 0, "太阳能露营灯串 庭院装饰 氛围灯", 49, .45, "flat", "S02", "", 2.0, "traffic", None, None, [("10米", 1, 1)]),
    ("睡袋", 0, "成人加厚睡袋 秋冬保暖 可拼接双人", 169, .50, "autumn_winter", "S02", "S08", 2.5, "profit", None, None, [("1.8kg", 1, 1), ("2.5kg", 1.2, .6)]),
    ("营地车", 0, "户外营地车 折叠推车 大容量 野餐小拉车", 259, .46, "camping", "S01", "", 1.2, "profit", None, None, [("", 1, 1)]),
    ("防潮垫", 0, "自动充气防潮垫 帐篷睡垫 加厚", 129, .52, "camping", "S02", "", 2.5, "profit", None, None, [("单人", 1, 1), ("双人", 1.6, .6)]),
    ("野餐垫", 0, "野餐垫 防水防潮 加厚便携 户外草坪垫", 59, .32, "camping", "S02", "S07", 5.0, "traffic", None, None, [("200x200", 1, 1), ("200x300", 1.3, .5)]),
    ("卡式炉", 0, "户外卡式炉 便携 野外炉具 防风", 199, .45, "camping", "S01", "", 2.5, "profit", "2026-03-05", "grow", [("", 1, 1)]),
    ("保温箱", 0, "户外保温箱 车载冷藏箱 野餐", 239, .48, "summer", "S07", "", 1.3, "profit", None, None, [("30L", 1, 1)]),
    ("吊床", 0, "户外吊床 防侧翻 加厚帆布 秋千", 79, .50, "camping", "S02", "", 1.4, "profit", None, None, [("", 1, 1)]),
    ("户外套锅", 0, "户外套锅 便携 野营锅具 2-3人", 169, .50, "camping", "S06", "", 1.5, "profit", "2025-08-20", "grow", [("", 1, 1)]),
    ("登山杖", 0, "碳纤维登山杖 超轻 伸缩 折叠 徒步", 139, .55, "camping", "S01", "", 1.5, "profit", "2025-10-15", "grow", [("单支", 1, 1), ("一对", 1.8, .6)]),
    ("折叠床", 0, "户外折叠床 行军床 午休 便携", 199, .48, "camping", "S01", "", 1.2, "profit", None, None, [("", 1, 1)]),
    ("头灯", 0, "LED头灯 强光 充电 夜钓 登山", 69, .52, "camping", "S04", "", 2.0, "profit", None, None, [("", 1, 1)]),
    ("烧烤炉", 0, "户外烧烤炉 便携 折叠 木炭", 159, .47, "summer", "S01", "", 1.5, "profit", None, None, [("", 1, 1)]),
    ("收纳箱", 0, "野营收纳箱 折叠 大容量 车载", 99, .48, "camping", "S07", "", 1.5, "profit", None, None, [("", 1, 1)]),
    ("冲锋衣", 1, "三合一冲锋衣 防水防风 可拆卸内胆 登山服", 499, .58, "autumn_winter", "S03", "", 3.5, "image", None, None, [("男款", 1, 1), ("女款", 1, .9)]),
    ("速干T恤", 1, "速干T恤 运动短袖 透气冰感", 69, .35, "summer", "S03", "", 4.5, "traffic", None, None, [("男款", 1, 1), ("女款", 1, 1)]),
    ("防晒衣", 1, "UPF50+防晒衣 冰丝 透气 户外皮肤衣", 129, .55, "summer", "S03", "", 5.0, "profit", None, None, [("女款", 1, 1), ("男款", 1, .6)]),
    ("登山鞋", 1, "登山徒步鞋 防水防滑 耐磨 户外运动鞋", 359, .50, "camping", "S03", "", 2.5, "profit", None, None, [("男款", 1, 1), ("女款", 1, .8)]),
    ("抓绒衣", 1, "加厚抓绒外套 保暖 户外 摇粒绒", 159, .52, "winter", "S03", "", 2.5, "profit", None, None, [("男款", 1, 1), ("女款", 1, 1)]),
    ("羽绒服", 1, "轻薄羽绒服 90白鸭绒 可收纳", 399, .55, "winter", "S03", "", 2.5, "profit", None, None, [("男款", 1, 1), ("女款", 1, 1.1)]),
    ("渔夫帽", 1, "户外渔夫帽 防晒遮阳 速干 可折叠", 49, .40, "summer", "S03", "", 2.5, "traffic", None, None, [("", 1, 1)]),
    ("徒步袜", 1, "加厚徒步袜 羊毛混纺", 59, .50, "autumn_winter", "S03", "", 1.5, "profit", None, None, [("3双装", 1, 1)]),
    ("冲锋裤", 1, "户外冲锋裤 软壳 加绒 防风", 259, .52, "winter", "S03", "", 2.0, "profit", "2025-10-08", "grow", [("男款", 1, 1), ("女款", 1, .8)]),
    ("速干裤", 1, "户外速干裤 弹力 透气 登山裤", 159, .50, "camping", "S03", "", 2.0, "profit", None, None, [("男款", 1, 1), ("女款", 1, .8)]),
    ("冰袖", 1, "冰袖 防晒 夏季 男女", 19, .40, "summer", "S03", "", 2.0, "traffic", None, None, [("2双装", 1, 1)]),
    ("瑜伽垫", 2, "TPE瑜伽垫 加厚防滑 初学者 健身垫", 89, .50, "fitness", "S05", "S07", 6.0, "profit", None, None, [("6mm", 1, 1), ("8mm", 1.15, .6)]),
    ("弹力带", 2, "弹力带 阻力带 健身 拉力带", 39, .38, "fitness", "S05", "", 3.0, "traffic", None, None, [("5件套", 1, 1)]),
    ("哑铃", 2, "可调节哑铃 家用 健身器材 包胶", 299, .42, "fitness", "S05", "", 0.8, "profit", None, None, [("10kg", 1, 1), ("20kg", 1.6, .8)]),
    ("跳绳", 2, "计数跳绳 钢丝 健身 无绳两用", 49, .38, "fitness", "S05", "", 3.0, "traffic", None, None, [("", 1, 1)]),
    ("筋膜枪", 2, "筋膜枪 肌肉放松 按摩器 便携 静音", 399, .55, "flat", "S04", "", 2.5, "profit", None, None, [("标准版", 1, 1), ("mini版", .6, .8)]),
    ("泡沫轴", 2, "泡沫轴 瑜伽柱 肌肉放松", 59, .48, "fitness", "S05", "", 1.2, "profit", None, "decline", [("", 1, 1)]),
    ("运动水壶", 2, "运动水壶 大容量 吨吨桶 Tritan 刻度", 59, .50, "summer", "S07", "", 3.0, "profit", None, None, [("1.5L", 1, 1), ("2.2L", 1.15, .7)]),
    ("健腹轮", 2, "健腹轮 自动回弹 静音 腹肌轮", 69, .50, "fitness", "S05", "", 1.3, "profit", None, None, [("", 1, 1)]),
    ("飞盘", 2, "户外运动飞盘 175g 团队比赛用", 59, .50, "camping", "S05", "", 2.2, "profit", None, "decline", [("", 1, 1)]),
    ("护膝", 2, "运动护膝 跑步 登山 护具", 79, .52, "flat", "S05", "", 1.5, "profit", None, None, [("单只", 1, 1), ("一对", 1.8, .6)]),
    ("瑜伽服", 2, "瑜伽服 女 速干 两件套", 129, .55, "fitness", "S03", "", 2.5, "profit", None, None, [("S", 1, .7), ("M", 1, 1), ("L", 1, .7)]),
    ("保温杯", 3, "316不锈钢保温杯 大容量 保温保冷 车载", 129, .55, "flat", "S06", "S07", 7.0, "profit", None, None, [("500ml", 1, 1), ("750ml", 1.2, .7)]),
    ("便当盒", 3, "玻璃便当盒 微波炉加热 分隔 保鲜饭盒", 69, .48, "flat", "S06", "", 2.5, "profit", None, None, [("3件套", 1, 1)]),
    ("不粘锅", 3, "麦饭石不粘锅 炒锅 家用 少油烟", 229, .52, "flat", "S06", "", 2.5, "profit", None, None, [("30cm", 1, 1), ("32cm", 1.1, .7)]),
    ("手冲咖啡壶", 3, "手冲咖啡壶 细口壶 不锈钢 挂耳", 149, .55, "flat", "S06", "", 1.5, "profit", None, None, [("", 1, 1)]),
    ("菜刀", 3, "德式不锈钢菜刀 家用 切片刀", 129, .55, "flat", "S06", "", 0.8, "profit", None, None, [("", 1, 1)]),
    ("砧板", 3, "抗菌砧板 双面 家用 切菜板", 79, .50, "flat", "S06", "", 1.3, "profit", None, None, [("", 1, 1)]),
    ("油壶", 3, "玻璃油壶", 39, .40, "flat", "S06", "", 2.0, "traffic", None, None, [("", 1, 1)]),
    ("焖烧杯", 3, "焖烧杯 保温饭盒 上班族 闷烧罐", 119, .52, "winter", "S06", "", 2.0, "profit", "2026-01-05", "grow", [("", 1, 1)]),
    ("保鲜盒", 3, "密封保鲜盒 冰箱收纳 食品级 套装", 49, .45, "flat", "S07", "", 2.0, "profit", None, None, [("6件套", 1, 1), ("10件套", 1.5, .6)]),
    ("马克杯", 3, "陶瓷马克杯 带盖 办公室 情侣杯", 49, .50, "flat", "S06", "", 2.0, "profit", None, None, [("", 1, 1)]),
    ("置物架", 3, "厨房置物架 落地 多层 微波炉收纳架", 129, .48, "flat", "S07", "", 1.2, "profit", None, None, [("", 1, 1)]),
    ("收纳箱", 4, "加厚塑料收纳箱 大号 衣物整理箱 带轮", 69, .45, "flat", "S07", "S01", 6.0, "profit", None, None, [("中号", 1, 1), ("大号", 1.3, .8), ("特大号", 1.6, .5)]),
    ("压缩袋", 4, "真空压缩袋 棉被收纳 抽气", 49, .50, "storage", "S07", "", 3.0, "profit", None, None, [("8件套", 1, 1), ("12件套", 1.4, .6)]),
    ("衣架", 4, "无痕衣架 防滑 植绒", 39, .35, "flat", "S07", "", 3.0, "traffic", None, None, [("30只装", 1, 1)]),
    ("鞋架", 4, "多层鞋架 简易 门口 家用 省空间", 89, .48, "flat", "S07", "", 2.0, "profit", None, None, [("4层", 1, 1), ("6层", 1.3, .6)]),
    ("桌面收纳", 4, "桌面收纳盒 化妆品 抽屉式 置物架", 59, .50, "flat", "S07", "", 2.0, "profit", None, None, [("", 1, 1)]),
    ("脏衣篮", 4, "折叠脏衣篮 棉麻 洗衣篮 家用", 45, .50, "flat", "S07", "", 1.3, "profit", None, None, [("", 1, 1)]),
    ("挂钩", 4, "免打孔挂钩", 19, .30, "flat", "S07", "", 4.0, "traffic", None, None, [("20个装", 1, 1)]),
    ("床底收纳", 4, "床底收纳箱 扁平 带轮 透明", 79, .48, "flat", "S07", "", 1.2, "profit", None, "decline", [("", 1, 1)]),
    ("分格收纳", 4, "分格收纳盒 内衣袜子 衣柜整理", 29, .45, "flat", "S07", "", 2.0, "traffic", None, None, [("3件套", 1, 1)]),
    ("四件套", 5, "纯棉四件套 全棉床单被套 简约", 299, .55, "flat", "S08", "", 4.5, "profit", None, None, [("1.5m床", 1, 1), ("1.8m床", 1.15, .9)]),
    ("乳胶枕", 5, "天然乳胶枕 护颈枕 成人 单只装", 159, .58, "flat", "S08", "", 3.0, "profit", None, None, [("", 1, 1)]),
    ("凉席", 5, "冰丝凉席三件套 可水洗 夏季", 169, .52, "summer", "S08", "", 3.0, "profit", None, None, [("1.5m", 1, 1), ("1.8m", 1.1, .8)]),
    ("电热毯", 5, "电热毯 双人双控 安全 除螨", 129, .50, "winter", "S04", "", 2.5, "profit", None, None, [("", 1, 1)]),
    ("夏凉被", 5, "夏凉被 空调被 可机洗 水洗棉", 139, .52, "summer", "S08", "", 2.0, "profit", None, None, [("", 1, 1)]),
    ("羽绒被", 5, "白鹅绒被 冬被 加厚保暖 95白鹅绒", 899, .60, "winter", "S08", "", 0.8, "image", None, None, [("", 1, 1)]),
    ("毛毯", 5, "法兰绒毛毯 午睡毯 沙发盖毯", 79, .50, "flat", "S08", "", 0.9, "profit", None, None, [("150x200", 1, 1)]),
    ("枕套", 5, "纯棉枕套 一对装", 39, .45, "flat", "S08", "", 1.5, "traffic", None, None, [("", 1, 1)]),
    ("记忆棉枕", 5, "记忆棉枕 慢回弹 护颈", 129, .55, "flat", "S08", "", 1.8, "profit", None, None, [("", 1, 1)]),
    ("床垫", 5, "加厚床垫 软垫 榻榻米 学生宿舍", 199, .50, "flat", "S08", "", 1.5, "profit", None, None, [("0.9m", 1, 1), ("1.5m", 1.4, .7)]),
    ("取暖器", 6, "家用取暖器 速热 节能 小太阳", 199, .45, "winter", "S04", "", 2.0, "profit", None, None, [("", 1, 1)]),
    ("加湿器", 6, "加湿器 大雾量 静音 卧室 上加水", 129, .48, "winter", "S04", "", 2.5, "profit", None, None, [("4L", 1, 1), ("6L", 1.25, .6)]),
    ("小风扇", 6, "USB小风扇 手持 便携 静音", 49, .45, "summer", "S04", "", 2.5, "traffic", None, "decline", [("白色", 1, 1), ("粉色", 1, .8)]),
    ("电动牙刷", 6, "声波电动牙刷 成人 软毛", 159, .55, "flat", "S04", "", 3.0, "profit", None, None, [("白色", 1, 1), ("黑色", 1, .8)]),
    ("榨汁杯", 6, "便携榨汁杯 小型 无线 果汁杯", 99, .50, "summer", "S04", "", 1.5, "profit", None, None, [("", 1, 1)]),
    ("除螨仪", 6, "除螨仪 家用 床上 紫外线 吸尘", 299, .52, "flat", "S04", "", 2.0, "profit", "2026-04-10", "grow", [("", 1, 1)]),
    ("户外电源", 6, "户外移动电源 大容量 露营 220V", 1299, .40, "camping", "S04", "", 1.2, "image", "2025-04-15", "grow", [("600W", 1, 1), ("1200W", 1.7, .5)]),
    ("电煮锅", 6, "多功能电煮锅 宿舍 小电锅 蒸煮一体", 119, .48, "flat", "S04", "", 2.0, "profit", None, None, [("", 1, 1)]),
    ("车载吸尘器", 6, "车载吸尘器 无线 大吸力 手持", 159, .50, "flat", "S04", "", 1.2, "profit", None, None, [("", 1, 1)]),
    ("电饭煲", 6, "迷你电饭煲 小型 1-2人 智能", 189, .45, "flat", "S04", "", 1.5, "profit", None, None, [("", 1, 1)]),
]

# Titles replaced as a whole: the planted banned words, their harmless look-alikes, short titles.
_TITLE_OVERRIDES = {
    "SKU0005": "销量第一 全自动速开帐篷 防雨防晒 公园野营 3-4人",
    "SKU0003": "露营首选 铝合金蛋卷桌 户外折叠桌 便携野餐桌 90cm",
    "SKU0068": "316不锈钢保温杯 保温效果最佳 大容量 车载 750ml",
    "SKU0096": "天然乳胶枕 国家级认证 护颈枕 成人 单只装",
    "SKU0101": "顶级白鹅绒被 冬被 加厚保暖 95白鹅绒",
    "SKU0016": "第一次露营也能用 自动充气防潮垫 帐篷睡垫 加厚 单人",
    "SKU0089": "桌面收纳盒 最近上新 化妆品 抽屉式 置物架",
    "SKU0075": "玻璃油壶",
    "SKU0091": "免打孔挂钩",
    "SKU0103": "纯棉枕套",
}
# Bundles bought together (anchor, partner, probability of adding the partner).
BUNDLE_PAIRS = [tuple(x) for x in PLANTED_EVENTS["bundles"]["pairs"]]

SEASONS = {  # monthly multipliers Jan..Dec
    "flat": [1] * 12,
    "summer": [.35, .4, .6, .9, 1.3, 1.7, 1.9, 1.7, 1.1, .6, .4, .35],
    "winter": [1.8, 1.3, .8, .5, .3, .2, .2, .3, .6, 1.2, 1.8, 2.0],
    "autumn_winter": [1.3, 1.0, .9, .8, .6, .5, .5, .7, 1.1, 1.5, 1.6, 1.5],
    "camping": [.5, .6, .9, 1.3, 1.5, 1.3, 1.1, 1.0, 1.3, 1.5, .9, .6],
    "fitness": [1.4, 1.0, 1.2, 1.2, 1.1, 1.0, .9, .9, 1.0, .9, .9, .9],
    "storage": [.9, .9, 1.3, 1.2, .9, .8, .8, .9, 1.1, 1.3, 1.1, .9],
}

# province, city, city tier (1 一线 .. 5 四线及以下), weight
CITIES = [
    ("上海", "上海", 1, 7.0), ("北京", "北京", 1, 6.5), ("广东", "广州", 1, 5.0), ("广东", "深圳", 1, 5.5),
    ("浙江", "杭州", 2, 5.0), ("四川", "成都", 2, 4.5), ("重庆", "重庆", 2, 3.5), ("湖北", "武汉", 2, 3.5),
    ("陕西", "西安", 2, 2.8), ("江苏", "苏州", 2, 3.5), ("天津", "天津", 2, 2.5), ("江苏", "南京", 2, 3.0),
    ("湖南", "长沙", 2, 2.5), ("河南", "郑州", 2, 2.5), ("广东", "东莞", 2, 2.2), ("山东", "青岛", 2, 2.2),
    ("辽宁", "沈阳", 2, 1.8), ("浙江", "宁波", 2, 2.3), ("云南", "昆明", 2, 1.6), ("安徽", "合肥", 2, 2.0),
    ("广东", "佛山", 3, 1.8), ("福建", "厦门", 3, 1.6), ("福建", "福州", 3, 1.6), ("山东", "济南", 3, 1.6),
    ("江苏", "无锡", 3, 1.7), ("浙江", "温州", 3, 1.7), ("辽宁", "大连", 3, 1.2), ("黑龙江", "哈尔滨", 3, 1.2),
    ("吉林", "长春", 3, 1.0), ("江西", "南昌", 3, 1.1), ("广西", "南宁", 3, 1.1), ("贵州", "贵阳", 3, 1.0),
    ("山西", "太原", 3, 0.9), ("河北", "石家庄", 3, 1.0), ("浙江", "金华", 3, 1.4), ("浙江", "绍兴", 3, 1.2),
    ("江苏", "常州", 3, 1.2), ("广东", "珠海", 3, 0.8), ("内蒙古", "呼和浩特", 3, 0.5), ("新疆", "乌鲁木齐", 3, 0.5),
    ("甘肃", "兰州", 3, 0.5), ("海南", "海口", 3, 0.5), ("江苏", "徐州", 4, 0.9), ("福建", "泉州", 4, 1.1),
    ("浙江", "嘉兴", 4, 1.0), ("浙江", "台州", 4, 1.0), ("广东", "惠州", 4, 0.8), ("山东", "潍坊", 4, 0.8),
    ("河南", "洛阳", 4, 0.6), ("湖北", "宜昌", 4, 0.5), ("四川", "绵阳", 4, 0.5), ("湖南", "岳阳", 4, 0.5),
    ("安徽", "芜湖", 4, 0.6), ("江西", "赣州", 4, 0.5), ("广西", "柳州", 4, 0.4), ("云南", "曲靖", 4, 0.3),
    ("宁夏", "银川", 4, 0.3), ("青海", "西宁", 4, 0.2), ("河北", "保定", 4, 0.6), ("重庆", "万州", 5, 0.5),
    ("四川", "南充", 5, 0.5), ("河南", "周口", 5, 0.5), ("河南", "商丘", 5, 0.4), ("江苏", "宿迁", 5, 0.5),
    ("安徽", "阜阳", 5, 0.5), ("贵州", "遵义", 5, 0.4), ("山东", "菏泽", 5, 0.4), ("湖南", "邵阳", 5, 0.3),
    ("广西", "玉林", 5, 0.3), ("浙江", "丽水", 5, 0.4), ("西藏", "拉萨", 5, 0.1), ("黑龙江", "齐齐哈尔", 5, 0.3),
]
# delivery zone from the warehouse in 嘉兴 (1 near .. 4 remote)
ZONES = {
    1: ["上海", "浙江", "江苏", "安徽"],
    2: ["福建", "江西", "山东", "湖北", "湖南", "河南", "北京", "天津", "河北", "广东"],
    3: ["广西", "四川", "重庆", "陕西", "山西", "辽宁", "吉林", "黑龙江", "贵州", "云南", "海南", "内蒙古"],
    4: ["新疆", "西藏", "青海", "甘肃", "宁夏"],
}
WAREHOUSE = "嘉兴中心仓"
COMPETITORS = ["北境户外旗舰店", "简居生活馆", "驼峰运动专营店"]

SEARCH_TERMS = [  # term, category, base daily searches (scale 1), season, ctr, cvr
    ("露营椅", 0, 420, "camping", .42, .06), ("折叠桌", 0, 260, "camping", .38, .05), ("帐篷", 0, 650, "camping", .35, .04),
    ("天幕", 0, 300, "camping", .36, .04), ("露营灯", 0, 240, "flat", .45, .07), ("睡袋", 0, 220, "autumn_winter", .33, .05),
    ("防潮垫", 0, 150, "camping", .37, .05), ("野餐垫", 0, 380, "camping", .40, .06), ("营地车", 0, 120, "camping", .30, .04),
    ("卡式炉", 0, 140, "camping", .32, .04), ("冲锋衣", 1, 900, "autumn_winter", .30, .03), ("速干衣", 1, 350, "summer", .34, .05),
    ("防晒衣", 1, 800, "summer", .36, .05), ("登山鞋", 1, 300, "camping", .30, .03), ("羽绒服", 1, 1200, "winter", .25, .02),
    ("抓绒衣", 1, 200, "winter", .32, .04), ("瑜伽垫", 2, 600, "fitness", .44, .07), ("弹力带", 2, 180, "fitness", .40, .06),
    ("哑铃", 2, 260, "fitness", .30, .03), ("跳绳", 2, 300, "fitness", .42, .07), ("筋膜枪", 2, 240, "flat", .33, .04),
    ("飞盘", 2, 260, "camping", .38, .05), ("保温杯", 3, 700, "winter", .40, .06), ("便当盒", 3, 260, "flat", .38, .05),
    ("不粘锅", 3, 420, "flat", .32, .04), ("咖啡壶", 3, 160, "flat", .34, .04), ("收纳箱", 4, 650, "storage", .42, .06),
    ("压缩袋", 4, 300, "storage", .40, .06), ("衣架", 4, 350, "flat", .45, .08), ("鞋架", 4, 220, "flat", .38, .05),
    ("四件套", 5, 800, "flat", .30, .03), ("乳胶枕", 5, 320, "flat", .33, .04), ("凉席", 5, 500, "summer", .36, .05),
    ("电热毯", 5, 420, "winter", .35, .05), ("夏凉被", 5, 260, "summer", .34, .05), ("取暖器", 6, 450, "winter", .30, .04),
    ("加湿器", 6, 380, "winter", .33, .04), ("小风扇", 6, 420, "summer", .40, .06), ("电动牙刷", 6, 400, "flat", .30, .03),
    ("户外电源", 6, 160, "camping", .28, .02),
]

WEEKDAY = np.array([0.95, 0.96, 0.95, 0.97, 1.00, 1.10, 1.07])  # Mon .. Sun
MONTHLY = np.array([0.94, 0.97, 1.0, 1.02, 1.04, 1.0, 0.96, 0.96, 1.0, 1.02, 1.02, 1.04])
HOURS = np.array([2.0, 1.0, .5, .3, .3, .4, 1.0, 2.0, 3.5, 4.5, 5.5, 5.5, 5.5, 5.0, 5.0, 5.0, 5.0, 4.5,
                  4.5, 5.5, 7.5, 8.5, 8.0, 5.5])

# Festivals drive the shop's daily intensity, the discounts and the campaign table.
FESTIVALS = [
    dict(festival="double11", year=2024, presale=("2024-10-20", "2024-10-30"), main=("2024-10-31", "2024-11-11"),
         peaks={"2024-10-31": 2.4, "2024-11-01": 2.0, "2024-11-11": 4.5}, pre_dip=("2024-10-08", "2024-10-19"),
         post_dip=("2024-11-12", "2024-11-21"), fr=(300, 40), item_disc=0.92),
    dict(festival="double12", year=2024, main=("2024-12-10", "2024-12-12"), peaks={"2024-12-12": 1.8},
         main_mult=1.35, fr=(200, 20), item_disc=1.0, type="full_reduction"),
    dict(festival="new_year_goods", year=2025, main=("2025-01-06", "2025-01-20"), main_mult=1.3,
         item_disc=0.88, type="discount"),
    dict(festival="womens_day", year=2025, main=("2025-03-01", "2025-03-08"),
         peaks={"2025-03-07": 1.45, "2025-03-08": 1.45}, main_mult=1.15, coupon=("WD15", 150, 15), type="coupon"),
    dict(festival="618", year=2025, presale=("2025-05-20", "2025-05-30"), main=("2025-05-31", "2025-06-18"),
         peaks={"2025-05-31": 1.8, "2025-06-01": 2.2, "2025-06-16": 1.6, "2025-06-17": 1.6, "2025-06-18": 2.8},
         pre_dip=("2025-05-08", "2025-05-19"), post_dip=("2025-06-19", "2025-06-28"), fr=(300, 40),
         item_disc=0.92, main_mult=1.2, presale_mult=1.2),
    dict(festival="summer_flash", year=2025, main=("2025-07-15", "2025-07-17"), channel="douyin",
         main_mult=1.06, item_disc=0.85, type="flash_sale"),
    dict(festival="double11", year=2025, presale=("2025-10-20", "2025-10-30"), main=("2025-10-31", "2025-11-11"),
         peaks={"2025-10-31": 2.4, "2025-11-01": 2.0, "2025-11-11": 4.5}, pre_dip=("2025-10-08", "2025-10-19"),
         post_dip=("2025-11-12", "2025-11-21"), fr=(300, 40), item_disc=0.92),
    dict(festival="double12", year=2025, main=("2025-12-10", "2025-12-12"), peaks={"2025-12-12": 1.8},
         main_mult=1.35, fr=(200, 20), item_disc=1.0, type="full_reduction"),
    dict(festival="new_year_goods", year=2026, main=("2026-01-24", "2026-02-08"), main_mult=1.3,
         item_disc=0.88, type="discount"),
    dict(festival="womens_day", year=2026, main=("2026-03-01", "2026-03-08"),
         peaks={"2026-03-07": 1.45, "2026-03-08": 1.45}, main_mult=1.15, coupon=("WD15", 150, 15), type="coupon"),
    dict(festival="618", year=2026, presale=("2026-05-20", "2026-05-30"), main=("2026-05-31", "2026-06-18"),
         peaks={"2026-05-31": 1.8, "2026-06-01": 2.2, "2026-06-16": 1.6, "2026-06-17": 1.6, "2026-06-18": 2.8},
         pre_dip=("2026-05-08", "2026-05-19"), post_dip=("2026-06-19", "2026-06-28"), fr=(300, 40),
         item_disc=0.92, main_mult=1.2, presale_mult=1.2),
    dict(festival="summer_flash", year=2026, main=("2026-07-15", "2026-07-17"), channel="douyin",
         main_mult=1.06, item_disc=0.85, type="flash_sale"),
    dict(festival="double11", year=2026, presale=("2026-10-20", "2026-10-30"), main=("2026-10-31", "2026-11-11"),
         peaks={"2026-10-31": 2.4, "2026-11-01": 2.0, "2026-11-11": 4.5}, pre_dip=("2026-10-08", "2026-10-19"),
         post_dip=("2026-11-12", "2026-11-21"), fr=(300, 40), item_disc=0.92),
    dict(festival="double12", year=2026, main=("2026-12-10", "2026-12-12"), peaks={"2026-12-12": 1.8},
         main_mult=1.35, fr=(200, 20), item_disc=1.0, type="full_reduction"),
    dict(festival="new_year_goods", year=2027, main=("2027-01-10", "2027-01-28"), main_mult=1.3,
         item_disc=0.88, type="discount"),
]
FESTIVAL_NAMES = {"double11": "双11", "double12": "双12", "618": "618", "new_year_goods": "年货节",
                  "womens_day": "女神节", "summer_flash": "夏日露营季 抖音限时秒杀"}
SPRING_FESTIVALS = PLANTED_EVENTS["spring_festival"]["dates"]
MEMBER_DAY_MONTHS = pd.period_range("2024-11", "2026-12", freq="M")
MEMBER_DAY_CHANNEL = "wechat_mini"

COUPONS = {"NEW30": (99, 30), "VIP20": (199, 20), "BACK15": (129, 15), "SHOP10": (199, 10)}

PERSONA_PARAMS = {
    # share, purchase-rate factor, line mean, birth years, P(female), city-tier lean, affinity by category
    "gen_z": (0.24, 0.9, 0.30, (1998, 2007), 0.62, -0.3, [1.2, 1.3, 1.5, 0.7, 0.9, 0.6, 1.2]),
    "young_parent": (0.20, 1.1, 0.45, (1986, 1996), 0.72, 0.0, [1.3, 0.8, 0.6, 1.3, 1.4, 1.3, 1.0]),
    "new_middle_class": (0.26, 1.0, 0.40, (1978, 1992), 0.50, -0.5, [1.4, 1.2, 1.0, 1.1, 0.9, 1.0, 1.1]),
    "silver_age": (0.10, 0.8, 0.30, (1950, 1968), 0.55, 0.6, [0.5, 0.7, 0.6, 1.5, 1.2, 1.5, 1.3]),
    "smb_buyer": (0.06, 1.6, 0.60, (1972, 1990), 0.40, 0.0, [1.2, 1.0, 0.8, 1.2, 1.3, 0.6, 0.8]),
    "outdoor_fan": (0.14, 1.2, 0.45, (1980, 2000), 0.35, -0.2, [2.4, 1.9, 1.0, 0.6, 0.5, 0.5, 0.8]),
}
CHANNEL_PERSONA = {  # multipliers on the persona shares by acquisition channel
    "tmall": [1, 1, 1.1, 0.9, 0.8, 1],
    "jd": [0.7, 1, 1.3, 0.9, 1.8, 1],
    "douyin": [1.5, 1.1, 0.8, 1.4, 0.6, 0.9],
    "xiaohongshu": [2.0, 1.3, 0.9, 0.3, 0.2, 1.0],
    "own_site": [0.6, 0.8, 1.0, 0.8, 2.5, 1.5],
    "wechat_mini": [0.6, 1.3, 1.0, 2.0, 0.8, 0.8],
}
ACQ_MIX_START = {"tmall": .40, "jd": .23, "douyin": .18, "xiaohongshu": .12, "own_site": .03, "wechat_mini": .04}
ACQ_MIX_END = {"tmall": .30, "jd": .19, "douyin": .30, "xiaohongshu": .11, "own_site": .04, "wechat_mini": .06}
ACQ_MIX_HISTORY = {"tmall": .48, "jd": .25, "douyin": .12, "xiaohongshu": .08, "own_site": .03, "wechat_mini": .04}
CHANNEL_DEVICES = {
    "tmall": {"app": .78, "mobile_web": .06, "pc": .16},
    "jd": {"app": .72, "mobile_web": .08, "pc": .20},
    "douyin": {"app": .96, "mobile_web": .04},
    "xiaohongshu": {"app": .93, "mobile_web": .07},
    "own_site": {"app": .18, "mobile_web": .52, "pc": .30},
    "wechat_mini": {"mini_program": 1.0},
}
CHANNEL_CR = {"tmall": .031, "jd": .034, "douyin": .024, "xiaohongshu": .022, "own_site": .028, "wechat_mini": .037}
DEVICE_CR = {"app": 1.08, "mobile_web": 0.80, "pc": 0.92, "mini_program": 1.0}
ROI_TARGET = {"tmall": 3.4, "jd": 3.1, "douyin": 2.3, "own_site": 6.5, "wechat_mini": 9.0}

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢")
GIVEN = list("伟芳娜敏静丽强磊洋艳勇军杰娟涛明超秀霞平刚桂英华玉萍红鹏辉宇浩婷雪琳欣怡子涵梓轩晨思雨佳琪俊博文昊然一诺嘉欣宁睿泽")

# files: which tables go gzipped
GZ_TABLES = {"orders", "order_items", "customers", "inventory", "traffic", "touchpoints", "experiments",
             "shipments", "reviews", "competitor_prices", "search_terms"}
TABLE_ORDER = ["orders", "order_items", "customers", "products", "inventory", "suppliers", "purchase_orders",
               "traffic", "marketing_spend", "campaigns", "reviews", "competitor_prices", "search_terms",
               "shipments", "service_tickets", "experiments", "touchpoints", "targets"]
TABLE_FILES = {t: f"{t}.csv.gz" if t in GZ_TABLES else f"{t}.csv" for t in TABLE_ORDER}
DATE_COLUMNS = {
    "products": ["launch_date"], "inventory": ["date"], "purchase_orders": ["order_date", "expected_date", "received_date"],
    "traffic": ["date"], "marketing_spend": ["date"], "campaigns": ["start_date", "end_date"],
    "competitor_prices": ["date"], "search_terms": ["date"], "shipments": ["promised_date"],
}


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def _rng(seed: int, name: str) -> np.random.Generator:
    """An independent stream per component, so a change in one part leaves the others alone."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]))


def _d(s: str) -> int:
    """Day index of a date string relative to START."""
    return int((np.datetime64(s, "D") - START).astype(int))


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    width = max(width, len(str(n)))
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width))


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        x += np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return x


_HEX = np.frombuffer(b"0123456789abcdef", dtype="S1")


def _hex16(x: np.ndarray) -> np.ndarray:
    """16 hex digits of a 64-bit value, vectorised."""
    x = np.asarray(x, dtype=np.uint64)
    shifts = np.arange(60, -1, -4, dtype=np.uint64)
    nib = ((x[:, None] >> shifts[None, :]) & np.uint64(15)).astype(np.intp)
    return np.ascontiguousarray(_HEX[nib]).view("S16").ravel().astype("U16")


def _hash_text(values, salt: int) -> np.ndarray:
    """A sha-like 16-hex digest of integer keys (phones, address ids), vectorised."""
    v = np.asarray(values, dtype=np.uint64)
    return _hex16(_splitmix(_splitmix(v ^ np.uint64(salt)) + np.uint64(salt)))


def contact_hash(phone: str | int) -> str:
    """The contact_hash the sample shop stores for a phone number."""
    return str(_hash_text(np.array([int(phone)], dtype=np.uint64), 0xC0117AC7)[0])


def _take(values, idx) -> pd.Series:
    """``values[idx]`` as a pandas string column, without a wide numpy unicode array in between."""
    return pd.Series(np.asarray(values, dtype=object), dtype="str").take(np.asarray(idx)).reset_index(drop=True)


def _season_curve(name: str, doy: np.ndarray) -> np.ndarray:
    vals = np.asarray(SEASONS[name], dtype=float)
    vals = vals / vals.mean()
    mids = np.array([15, 45, 74, 105, 135, 166, 196, 227, 258, 288, 319, 349])
    return np.interp(doy, mids, vals, period=365)


def _choice_idx(rng, p, size) -> np.ndarray:
    c = np.cumsum(np.asarray(p, dtype=float))
    return np.searchsorted(c / c[-1], rng.random(size), side="right").clip(0, len(c) - 1)


def _secs_to_ts(secs: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    out = START.astype("datetime64[s]") + np.asarray(secs, dtype=np.int64).astype("timedelta64[s]")
    if missing is not None:
        out = out.copy()
        out[missing] = np.datetime64("NaT")
    return out


def _days_to_date(days: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    out = (START + np.asarray(days, dtype=np.int64).astype("timedelta64[D]")).astype("datetime64[s]")
    if missing is not None:
        out = out.copy()
        out[missing] = np.datetime64("NaT")
    return out


# ---------------------------------------------------------------------------------------------
# products
# ---------------------------------------------------------------------------------------------
def _catalogue(scale: int, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for (sub, cat, title, price, margin, season, sup, backup, pop, role, launch, life, variants) in _BASES:
        for label, pf, popf in variants:
            rows.append(dict(subcategory=sub, cat=cat, title=(title + " " + label).strip(), price=price * pf,
                             margin=margin, season=season, supplier_id=sup, backup_supplier_id=backup,
                             pop=pop * popf, role=role, launch=launch, life=life))
    base = pd.DataFrame(rows)
    n_base = len(base)
    n_total = int(round(n_base * np.sqrt(scale)))
    if n_total > n_base:  # more styles of existing products for bigger shops
        extra_idx = rng.integers(0, n_base, n_total - n_base)
        extra = base.iloc[extra_idx].reset_index(drop=True)
        k = np.arange(n_base + 1, n_total + 1)
        extra = extra.assign(
            title=extra["title"].to_numpy() + np.char.add(" 款式", k.astype(str)),
            pop=extra["pop"].to_numpy() * rng.uniform(0.1, 0.6, len(extra)),
            price=extra["price"].to_numpy() * rng.uniform(0.85, 1.2, len(extra)),
            life=None, launch=None,
        )
        base = pd.concat([base, extra], ignore_index=True)
    base["sku"] = _ids("SKU", len(base), 4)
    for sku, t in _TITLE_OVERRIDES.items():
        base.loc[base["sku"] == sku, "title"] = t
    # list prices end in 9 (39, 59, 129, 299 ...)
    p = base["price"].to_numpy()
    base["list_price"] = np.where(p < 100, np.round(p / 10) * 10 - 1, np.round(p / 10) * 10 - 1).clip(9, None)
    base["unit_cost"] = np.round(base["list_price"] * (1 - base["margin"]) * rng.uniform(0.95, 1.05, len(base)), 2)
    base["brand"] = np.where(base["cat"] <= 2, "山屿", np.where(base["cat"] <= 3, "厨匠", "栖木"))
    base.loc[base["subcategory"].isin(["筋膜枪", "电动牙刷", "户外电源", "取暖器", "加湿器"]), "brand"] = "轻跃"
    base["category"] = np.array(CATEGORIES)[base["cat"].to_numpy()]
    launch = base["launch"].fillna("2023-03-01").astype(str)
    base["launch_date"] = pd.to_datetime(launch).to_numpy().astype("datetime64[s]")
    base["launch_day"] = (pd.to_datetime(launch).to_numpy().astype("datetime64[D]") - START).astype(np.int64)
    base["is_active"] = True
    return base


# ---------------------------------------------------------------------------------------------
# calendar: intensities, festivals, campaigns
# ---------------------------------------------------------------------------------------------
class _Calendar:
    def __init__(self):
        days = START + np.arange(N_DAYS)
        self.days = days
        dnum = days.astype("datetime64[D]").astype(np.int64)
        self.dow = (dnum + 3) % 7
        self.month = days.astype("datetime64[M]").astype(np.int64) % 12
        self.doy = (days - days.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)
        self.month_str = np.datetime_as_string(days.astype("datetime64[M]"))
        mmult = np.interp(self.doy, np.arange(15, 365, 30.4)[:12], MONTHLY, period=365)
        fest = np.ones(N_DAYS)
        self.presale_frac = np.zeros(N_DAYS)
        self.item_disc = np.ones((N_DAYS, len(CHANNELS)))
        self.fr_thr = np.zeros(N_DAYS)
        self.fr_amt = np.zeros(N_DAYS)
        self.coupon_day = np.full(N_DAYS, "", dtype=object)
        self.main_festival = np.zeros(N_DAYS, dtype=bool)
        self.peak_day = np.zeros(N_DAYS, dtype=bool)
        self.midnight_day = np.zeros(N_DAYS, dtype=bool)
        self.evening_day = np.zeros(N_DAYS, dtype=bool)
        self.balance_day = np.full(N_DAYS, -1)  # presale: the day the balance is paid
        self.campaign_idx = np.full((N_DAYS, len(CHANNELS)), -1)
        self.presale_campaign_idx = np.full(N_DAYS, -1)

        def rng_days(a, b):
            lo, hi = max(_d(a), 0), min(_d(b), N_DAYS - 1)
            return np.arange(lo, hi + 1) if hi >= lo else np.arange(0)

        for f in FESTIVALS:
            if "pre_dip" in f:
                fest[rng_days(*f["pre_dip"])] *= 0.82
            if "presale" in f:
                r = rng_days(*f["presale"])
                fest[r] *= f.get("presale_mult", 1.25)
                self.presale_frac[r] = 0.5
                self.balance_day[r] = _d(f["main"][0])
            r = rng_days(*f["main"])
            fest[r] *= f.get("main_mult", 1.3)
            for day, m in f.get("peaks", {}).items():
                i = _d(day)
                if 0 <= i < N_DAYS:
                    fest[i] = m
                    self.peak_day[i] = m >= 2.0
            if "post_dip" in f:
                r2 = rng_days(*f["post_dip"])
                if len(r2):
                    ramp = np.linspace(0.65, 0.92, _d(f["post_dip"][1]) - _d(f["post_dip"][0]) + 1)
                    fest[r2] *= ramp[r2 - _d(f["post_dip"][0])]
            ch = f.get("channel")
            chans = [CHANNELS.index(ch)] if ch else list(range(len(CHANNELS)))
            for c in chans:
                self.item_disc[r, c] = np.minimum(self.item_disc[r, c], f.get("item_disc", 1.0))
            if "fr" in f:
                self.fr_thr[r], self.fr_amt[r] = f["fr"]
            if "coupon" in f:
                self.coupon_day[r] = f["coupon"][0]
            if f["festival"] in ("double11", "618"):
                self.main_festival[r] = True
                i0 = _d(f["main"][0])
                if 0 <= i0 < N_DAYS:
                    self.evening_day[i0] = True
                i1 = _d(f["main"][1])
                if 0 <= i1 < N_DAYS:
                    self.midnight_day[i1] = True
        # douyin live-room price every day
        self.item_disc[:, CHANNELS.index("douyin")] = np.minimum(self.item_disc[:, CHANNELS.index("douyin")], 0.95)
        # spring festival: orders fall, the warehouse pauses
        sf = np.ones(N_DAYS)
        self.pause = np.zeros(N_DAYS, dtype=bool)
        self.pause_end = np.full(N_DAYS, -1)
        for (a, b), sfd in zip(PLANTED_EVENTS["spring_festival"]["pause"], SPRING_FESTIVALS):
            i = _d(sfd)
            sf[i - 10:i - 4] *= 0.85
            sf[_d(a):_d(b) + 1] *= 0.45
            sf[i - 1:i + 2] = 0.3
            sf[_d(b) + 1:_d(b) + 7] *= 0.8
            self.pause[_d(a):_d(b) + 1] = True
            self.pause_end[_d(a) - 2:_d(b) + 1] = _d(b) + 1
        # member days: first Tuesday of the month on the mini program, unless a festival runs
        self.member_day = np.zeros(N_DAYS, dtype=bool)
        busy = (fest != 1.0) | (sf != 1.0)
        self.member_days_all = []
        for m in MEMBER_DAY_MONTHS:
            first = np.datetime64(f"{m}-01", "D")
            wd = (first.astype(np.int64) + 3) % 7
            for week in range(4):  # the first Tuesday without a festival, a dip or the pause
                day = first + ((1 - wd) % 7) + 7 * week
                i = int((day - START).astype(int))
                inside = 0 <= i < N_DAYS
                if inside and busy[i]:
                    continue
                if not inside and any(_d(f.get("pre_dip", f["main"])[0]) <= i <= _d(f.get("post_dip", f["main"])[1]) for f in FESTIVALS):
                    continue
                self.member_days_all.append(str(day))
                if inside:
                    self.member_day[i] = True
                break
        member = np.where(self.member_day, 1.04, 1.0)
        self.fest = fest * sf
        self.sf = sf
        self.s = WEEKDAY[self.dow] * mmult * fest * sf * member
        self.cr_mult = np.clip(fest, 0.5, None) ** 0.35 * np.where(self.pause, 0.92, 1.0)
        self.outage = _d(PLANTED_EVENTS["conversion_outage"]["date"])
        self._campaigns()

    def _campaigns(self) -> None:
        rows = []
        for f in FESTIVALS:
            fname = FESTIVAL_NAMES[f["festival"]]
            if "presale" in f:
                rows.append(dict(name=f"{f['year']}{fname} 定金预售", type="presale", start_date=f["presale"][0],
                                 end_date=f["presale"][1], channel="", festival=f["festival"], key=(f["year"], f["festival"], "presale")))
            typ = f.get("type", "full_reduction")
            name = f"{f['year']}{fname} 主会场" if "presale" in f else f"{f['year']}{fname}"
            if f["festival"] == "double12":
                name += " 满200减20"
            rows.append(dict(name=name, type=typ, start_date=f["main"][0], end_date=f["main"][1],
                             channel=f.get("channel", ""), festival="" if f["festival"] == "summer_flash" else f["festival"],
                             key=(f["year"], f["festival"], "main")))
        for day in self.member_days_all:
            rows.append(dict(name=f"小程序会员日 {day[:7]}", type="member_day", start_date=day, end_date=day,
                             channel=MEMBER_DAY_CHANNEL, festival="", key=(day, "member_day", "main")))
        camp = pd.DataFrame(rows).sort_values(["start_date", "type"], kind="stable")
        camp = camp[camp["end_date"] >= str(START)].reset_index(drop=True)
        camp["campaign_id"] = _ids("CMP", len(camp), 3)
        self.campaigns = camp
        for i, r in camp.iterrows():
            lo, hi = _d(r["start_date"]), _d(r["end_date"])
            lo, hi = max(lo, 0), min(hi, N_DAYS - 1)
            if hi < lo:
                continue
            if r["type"] == "presale":
                self.presale_campaign_idx[lo:hi + 1] = i
                continue
            chans = [CHANNELS.index(r["channel"])] if r["channel"] else list(range(len(CHANNELS)))
            for c in chans:
                self.campaign_idx[lo:hi + 1, c] = i


# ---------------------------------------------------------------------------------------------
# the generator
# ---------------------------------------------------------------------------------------------
class _Shop:
    def __init__(self, seed: int, scale: int):
        if int(scale) < 1:
            raise ValueError("scale must be a positive integer")
        self.seed = int(seed)
        self.scale = int(scale)
        self.cal = _Calendar()
        self.products = _catalogue(self.scale, _rng(seed, "products"))
        self.S = len(self.products)
        self.sku_index = {s: i for i, s in enumerate(self.products["sku"])}
        self._check_constants()

    def _check_constants(self) -> None:
        p = self.products.set_index("sku")
        pe = PLANTED_EVENTS
        assert p.loc[pe["stockout"]["sku"], "subcategory"] == "露营灯"
        assert p.loc[pe["stockout"]["sku"], "supplier_id"] == pe["late_supplier"]["supplier_id"]
        assert p.loc[pe["bad_review_spike"]["sku"], "subcategory"] == "折叠椅"
        assert p.loc[pe["competitor_undercut"]["sku"], "subcategory"] == "瑜伽垫"
        camp = self.cal.campaigns.set_index("campaign_id")
        cl = pe["campaign_lift"]
        assert camp.loc[cl["campaign_id"], "start_date"] == cl["main"][0], "campaign ids moved"
        assert camp.loc[cl["presale_campaign_id"], "start_date"] == cl["presale"][0], "campaign ids moved"
        f = [f for f in FESTIVALS if f["festival"] == cl["festival"] and f["year"] == 2025][0]
        assert [list(f[k]) for k in ("pre_dip", "presale", "main", "post_dip")] == [cl[k] for k in ("pre_dip", "presale", "main", "post_dip")]
        for sku in pe["short_titles"]["skus"]:
            assert len(p.loc[sku, "title"].replace(" ", "")) < pe["short_titles"]["max_chars"], sku
        for sku, term in {**pe["banned_words"]["skus"], **pe["banned_words"]["lookalike_skus"]}.items():
            assert term in p.loc[sku, "title"], (sku, term)

    # -- daily SKU weights ---------------------------------------------------------------------
    def _sku_weights(self) -> np.ndarray:
        pr, cal = self.products, self.cal
        t = np.arange(N_DAYS)
        W = np.empty((N_DAYS, self.S))
        pop = pr["pop"].to_numpy() ** 1.8
        for s in range(self.S):
            w = pop[s] * _season_curve(pr["season"].iat[s], cal.doy)
            launch = int(pr["launch_day"].iat[s])
            if pr["life"].iat[s] == "grow":
                w = w * np.where(t >= launch, 1 / (1 + np.exp(-(t - launch - 50) / 18)), 0.0)
            elif launch > 0:
                w = w * (t >= launch)
            if pr["life"].iat[s] == "decline":
                w = w * np.exp(-np.log(1 / 0.35) * t / (N_DAYS - 1))
            W[:, s] = w
        pe = PLANTED_EVENTS
        # 露营灯 takes off from July 2026 (searches x3, sales of lanterns about x2)
        ramp = np.clip((t - _d(pe["search_takeoff"]["ramp_start"])) / 30.0, 0, 1)
        lantern = (pr["subcategory"] == "露营灯").to_numpy()
        W[:, lantern] *= (1 + 1.0 * ramp)[:, None]
        # stock-out: nothing sells while on_hand is 0
        so = self.sku_index[pe["stockout"]["sku"]]
        W[_d(pe["stockout"]["start"]):_d(pe["stockout"]["end"]) + 1, so] = 0.0
        # slow movers: no sales from the cut-off on
        for sku in pe["slow_movers"]["skus"]:
            W[_d(pe["slow_movers"]["last_sale_before"]):, self.sku_index[sku]] = 0.0
        # competitor undercut costs some demand
        cu = pe["competitor_undercut"]
        W[_d(cu["start"]):_d(cu["end"]) + 1, self.sku_index[cu["sku"]]] *= cu["demand_effect"]
        return W

    # -- customers and the repeat-buying process -----------------------------------------------
    def _customers_and_events(self):
        cal, sc = self.cal, self.scale
        rng = _rng(self.seed, "customers")
        H = int((START - HISTORY_START).astype(int))
        # operational time: history at the weekly rhythm only, then the shop's daily intensity
        hist_dow = (np.arange(-H, 0) + int(START.astype(np.int64)) + 3) % 7
        s_full = np.concatenate([WEEKDAY[hist_dow] / WEEKDAY.mean(), cal.s])
        lam_end = np.cumsum(s_full)
        lam_start = lam_end - s_full
        growth = np.exp(np.log(1.45) * np.arange(N_DAYS) / 365.0)

        n_new = int(23500 * sc)
        n_hist = int(21000 * sc)
        # signup days
        acq = growth * (cal.s / WEEKDAY[cal.dow]) ** 0.85 * WEEKDAY[cal.dow]
        new_day = _choice_idx(rng, acq, n_new)
        hist_w = np.exp(np.log(1.45) * np.arange(-H, 0) / 365.0)
        hist_day = _choice_idx(rng, hist_w, n_hist) - H
        day = np.concatenate([hist_day, new_day])
        n = len(day)
        is_new = np.r_[np.zeros(n_hist, bool), np.ones(n_new, bool)]
        # signup time of day
        hours = _choice_idx(rng, HOURS, n)
        signup_sec = day.astype(np.int64) * DAY + hours * 3600 + rng.integers(0, 3600, n)
        # acquisition channel and persona
        tau = np.clip(day / (N_DAYS - 1), 0, 1)
        acq_ch = np.empty(n, dtype=np.int64)
        u = rng.random(n)
        mix_s = np.array([ACQ_MIX_START[c] for c in CHANNELS])
        mix_e = np.array([ACQ_MIX_END[c] for c in CHANNELS])
        mix_h = np.array([ACQ_MIX_HISTORY[c] for c in CHANNELS])
        mix = np.where(is_new[:, None], mix_s[None, :] * (1 - tau[:, None]) + mix_e[None, :] * tau[:, None], mix_h[None, :])
        cm = np.cumsum(mix, axis=1)
        acq_ch[:] = (u[:, None] * cm[:, -1:] > cm).sum(axis=1)
        pshare = np.array([PERSONA_PARAMS[p][0] for p in PERSONAS])
        pmat = np.array([CHANNEL_PERSONA[c] for c in CHANNELS]) * pshare[None, :]
        pc = np.cumsum(pmat, axis=1)
        persona = (rng.random(n)[:, None] * pc[acq_ch, -1:] > pc[acq_ch]).sum(axis=1)
        # repeat-buying: purchase rate (gamma) and dropout after each purchase (beta)
        rate_f = np.array([PERSONA_PARAMS[p][1] for p in PERSONAS])[persona]
        lam = rng.gamma(1.3, 1.0 / 1.3, n) * rate_f / 76.0
        p_drop = rng.beta(2.4, 3.6, n)
        spend = rng.gamma(4.0, 0.25, n)  # spend propensity (gamma-gamma-like), mean 1
        tier = np.where(spend < 0.72, 0, np.where(spend > 1.3, 2, 1))
        potential = is_new & (rng.random(n) < 0.13)

        n_tx = np.minimum(rng.geometric(p_drop), 80)
        n_tx[potential] = 0
        total = int(n_tx.sum())
        cust = np.repeat(np.arange(n), n_tx)
        offs = np.r_[0, np.cumsum(n_tx)[:-1]]
        k = np.arange(total) - np.repeat(offs, n_tx)
        gaps = rng.exponential(1.0, total) / lam[cust]
        same_session = rng.random(n) < 0.7
        first_delay = np.where(same_session, 0.0, rng.exponential(9.0, n))
        first = k == 0
        gaps[first] = first_delay[cust[first]]
        cs = np.cumsum(gaps)
        cs -= np.repeat(cs[offs[n_tx > 0]] - gaps[offs[n_tx > 0]], n_tx[n_tx > 0])
        sday_full = day + H
        frac = (signup_sec - day.astype(np.int64) * DAY) / DAY
        u0 = lam_start[sday_full] + frac * s_full[sday_full]
        U = u0[cust] + cs
        ev_day_full = np.searchsorted(lam_end, U, side="right")
        inside = (ev_day_full >= H) & (ev_day_full < len(lam_end))
        ev_day = ev_day_full - H
        # time of day; same-session first orders follow the sign-up by minutes
        ss = first & same_session[cust]
        ev_sec = ev_day.astype(np.int64) * DAY
        hrs = self._order_hours(rng, np.where(inside, ev_day, 0))
        ev_sec = ev_sec + hrs * 3600 + rng.integers(0, 3600, total)
        ev_sec = np.where(ss, signup_sec[cust] + rng.integers(90, 2400, total), ev_sec)
        ev_day = np.where(ss, ev_sec // DAY, ev_day)
        inside = np.where(ss, (ev_day >= 0) & (ev_day < N_DAYS), inside)
        # gap since the previous purchase (for win-back coupons)
        prev_gap = np.full(total, np.inf)
        prev_gap[1:] = (ev_sec[1:] - ev_sec[:-1]) / DAY
        prev_gap[first] = np.inf
        keep = inside
        ev = dict(cust=cust[keep], sec=ev_sec[keep], first=first[keep], prev_gap=prev_gap[keep])
        cust_df = dict(signup_sec=signup_sec, acq=acq_ch, persona=persona, tier=tier, spend=spend,
                       is_new=is_new, potential=potential)
        return cust_df, ev

    def _order_hours(self, rng, day_idx: np.ndarray) -> np.ndarray:
        cal = self.cal
        n = len(day_idx)
        h = _choice_idx(rng, HOURS, n)
        mid = cal.midnight_day[day_idx] & (rng.random(n) < 0.25)
        h = np.where(mid, rng.integers(0, 2, n), h)
        eve = cal.evening_day[day_idx] & (rng.random(n) < 0.45)
        h = np.where(eve, rng.integers(20, 24, n), h)
        return h.astype(np.int64)

    # -- everything ------------------------------------------------------------------------------
    def iter_tables(self):
        """Yield (table name, DataFrame) one by one, so a writer can free each after writing."""
        cust, ev = self._customers_and_events()
        c, o = self._orders(cust, ev)
        del cust, ev
        items = self._items(o)
        o = self._amounts(o, items)
        o = self._status(o, items)
        yield "customers", self._finish_customers(c, o)
        yield "shipments", self._shipments(o)
        yield "reviews", self._reviews(o, items)
        yield "service_tickets", self._tickets(o, items)
        inventory, pos = self._inventory(o, items)
        yield "inventory", inventory
        del inventory
        yield "purchase_orders", pos
        yield "traffic", self._traffic(o)
        spend = self._marketing(o, items)
        yield "campaigns", self._campaign_table(spend)
        yield "marketing_spend", spend
        del spend
        yield "targets", self._targets(o)
        yield "touchpoints", self._touchpoints(o)
        order_items = items[["order_id", "sku", "qty", "unit_price", "list_price"]].reset_index(drop=True)
        del items
        yield "order_items", order_items
        del order_items
        yield "orders", self._orders_table(o)
        del o
        self.ship = None
        yield "products", self._products_table()
        yield "suppliers", pd.DataFrame(SUPPLIERS, columns=["supplier_id", "name", "lead_time_days", "region"])
        yield "competitor_prices", self._competitors()
        yield "search_terms", self._search_terms()
        yield "experiments", self._experiments()

    def build(self) -> dict[str, pd.DataFrame]:
        t = dict(self.iter_tables())
        return {k: t[k] for k in TABLE_ORDER}

    # -- orders skeleton ----------------------------------------------------------------------
    def _orders(self, cust, ev):
        cal = self.cal
        rng = _rng(self.seed, "orders")
        n0 = len(cust["signup_sec"])
        # the fraud ring: 12 new accounts in October 2026 sharing one phone, one order each
        fr = PLANTED_EVENTS["fraud_ring"]
        m = fr["n_accounts"]
        lo, hi = _d(fr["signup_start"]), _d(fr["signup_end"])
        ring_day = np.sort(rng.integers(lo, hi + 1, m))
        ring_sec = ring_day * DAY + rng.integers(9 * 3600, 23 * 3600, m)
        c = {k: np.asarray(v) for k, v in cust.items()}
        c["signup_sec"] = np.r_[c["signup_sec"], ring_sec]
        c["acq"] = np.r_[c["acq"], np.full(m, CHANNELS.index(fr["channel"]))]
        c["persona"] = np.r_[c["persona"], np.full(m, PERSONAS.index("gen_z"))]
        c["tier"] = np.r_[c["tier"], np.zeros(m, dtype=np.int64)]
        c["spend"] = np.r_[c["spend"], np.full(m, 0.6)]
        c["is_new"] = np.r_[c["is_new"], np.ones(m, bool)]
        c["potential"] = np.r_[c["potential"], np.zeros(m, bool)]
        c["ring"] = np.r_[np.zeros(n0, bool), np.ones(m, bool)]
        o = dict(
            cust=np.r_[ev["cust"], n0 + np.arange(m)],
            sec=np.r_[ev["sec"], ring_sec + rng.integers(300, 3000, m)],
            first=np.r_[ev["first"], np.ones(m, bool)],
            prev_gap=np.r_[ev["prev_gap"], np.full(m, np.inf)],
            ring=np.r_[np.zeros(len(ev["cust"]), bool), np.ones(m, bool)],
        )
        N = len(o["sec"])
        d = o["sec"] // DAY
        tau = d / (N_DAYS - 1)
        # channel: first order where the customer came from; later, drift toward the private domain
        home = c["acq"][o["cust"]]
        p_priv = 0.015 + 0.13 * tau
        p_priv = np.where(cal.member_day[d], p_priv * 2.2, p_priv)
        u = rng.random(N)
        glob = np.array([.36, .21, .22, .10, .05, .06])
        other = _choice_idx(rng, glob, N)
        priv = np.where(rng.random(N) < 0.62, CHANNELS.index("wechat_mini"), CHANNELS.index("own_site"))
        home_private = np.isin(home, [CHANNELS.index(x) for x in PRIVATE_CHANNELS])
        ch = np.where(u < p_priv, priv, np.where(u < p_priv + 0.62 * (1 - p_priv), home, other))
        ch = np.where(home_private & (rng.random(N) < 0.6), home, ch)
        ch = np.where(o["first"], home, ch)
        o["channel"] = ch
        # device
        dev = np.empty(N, dtype=np.int64)
        ud = rng.random(N)
        for ci, cname in enumerate(CHANNELS):
            sel = ch == ci
            names = list(CHANNEL_DEVICES[cname])
            pp = np.cumsum([CHANNEL_DEVICES[cname][x] for x in names])
            dev[sel] = np.array([DEVICES.index(x) for x in names])[np.searchsorted(pp / pp[-1], ud[sel], side="right").clip(0, len(names) - 1)]
        dev[o["ring"]] = DEVICES.index("mobile_web")
        o["device"] = dev
        # presale deposits
        o["presale"] = (cal.presale_frac[d] > 0) & (rng.random(N) < cal.presale_frac[d]) & ~o["ring"]
        # the outage: on every channel the same share of the day's would-be orders never happens
        keep = np.ones(N, dtype=bool)
        kept_share = PLANTED_EVENTS["conversion_outage"]["orders_kept"]
        for ci in range(len(CHANNELS)):
            idx = np.flatnonzero((d == cal.outage) & (ch == ci))
            drop = rng.permutation(idx)[: len(idx) - int(round(len(idx) * kept_share))]
            keep[drop] = False
        o = {k: v[keep] for k, v in o.items()}
        # customers kept: every in-window sign-up, and history customers with an order in the window
        has_order = np.bincount(o["cust"], minlength=n0 + m) > 0
        keep_c = c["is_new"] | has_order
        old_index = np.flatnonzero(keep_c)
        order = old_index[np.argsort(c["signup_sec"][old_index], kind="stable")]
        remap = np.full(n0 + m, -1)
        remap[order] = np.arange(len(order))
        c = {k: v[order] for k, v in c.items()}
        c["customer_id"] = _ids("C", len(order), 6)
        o["cust"] = remap[o["cust"]]
        srt = np.lexsort((o["cust"], o["sec"]))
        o = {k: v[srt] for k, v in o.items()}
        N = len(o["sec"])
        o["day"] = o["sec"] // DAY
        o["order_id"] = _ids("O", N, 7)
        o["persona"] = c["persona"][o["cust"]]
        o["tier"] = c["tier"][o["cust"]]
        self.c = c
        self._places()
        return c, o

    # -- order lines --------------------------------------------------------------------------
    def _items(self, o):
        rng = _rng(self.seed, "items")
        pr = self.products
        S = self.S
        W = self._sku_weights()
        self.W = W
        N = len(o["sec"])
        line_mean = np.array([PERSONA_PARAMS[p][2] for p in PERSONAS])[o["persona"]] * np.array([0.8, 1.0, 1.25])[o["tier"]]
        n_lines = 1 + np.minimum(rng.poisson(line_mean), 4)
        n_lines[o["ring"]] = 1
        L = int(n_lines.sum())
        lo = np.repeat(np.arange(N), n_lines)
        lday = o["day"][lo]
        group = o["persona"][lo] * 3 + o["tier"][lo]
        G = len(PERSONAS) * 3
        aff = np.array([PERSONA_PARAMS[p][6] for p in PERSONAS])[:, pr["cat"].to_numpy()]  # P x S
        price = pr["list_price"].to_numpy()
        pf = np.stack([(price / 120.0) ** b for b in (-0.35, 0.0, 0.35)])  # 3 x S
        gw = (aff[:, None, :] * pf[None, :, :]).reshape(G, S)
        sku = np.empty(L, dtype=np.int64)
        bounds = np.searchsorted(lday, np.arange(N_DAYS + 1))
        u = rng.random(L)
        for dd in range(N_DAYS):
            a, b = bounds[dd], bounds[dd + 1]
            if a == b:
                continue
            w = gw * W[dd][None, :]
            flat = np.cumsum(w.ravel())
            tot = w.sum(axis=1)
            base = np.r_[0.0, np.cumsum(tot)[:-1]]
            g = group[a:b]
            val = base[g] + u[a:b] * tot[g] * (1 - 1e-12)
            idx = np.searchsorted(flat, val, side="right").clip(0, len(flat) - 1)
            sku[a:b] = idx % S
        # ring orders: cheap items just over the NEW30 threshold
        ring_lines = o["ring"][lo]
        if ring_lines.any():
            cheap = np.flatnonzero((price >= 99) & (price <= 139) & (W[_d("2026-10-15")] > 0))
            sku[ring_lines] = rng.choice(cheap, int(ring_lines.sum()))
        # bundles: partner items added to the anchor's order
        add_o, add_s = [], []
        for a_sku, b_sku, p in BUNDLE_PAIRS:
            ai, bi = self.sku_index[a_sku], self.sku_index[b_sku]
            sel = np.flatnonzero((sku == ai) & ~ring_lines)
            sel = sel[(rng.random(len(sel)) < p) & (W[lday[sel], bi] > 0)]
            add_o.append(lo[sel])
            add_s.append(np.full(len(sel), bi))
        lo = np.r_[lo, np.concatenate(add_o)]
        sku = np.r_[sku, np.concatenate(add_s)]
        # one line per (order, sku)
        key = lo * S + sku
        _, first_idx = np.unique(key, return_index=True)
        lo, sku = lo[first_idx], sku[first_idx]  # sorted by order then sku
        n = len(lo)
        qty = 1 + _choice_idx(rng, [.86, .11, .025, .005], n)
        smb = o["persona"][lo] == PERSONAS.index("smb_buyer")
        qty = np.where(smb, 1 + rng.poisson(2.5, n), qty)
        qty = np.where(price[sku] > 600, 1, qty)
        qty[o["ring"][lo]] = 1
        disc = self.cal.item_disc[o["day"][lo], o["channel"][lo]]
        unit = np.round(price[sku] * disc, 2)
        items = pd.DataFrame({
            "oi": lo, "order_id": o["order_id"][lo], "sku": pr["sku"].to_numpy()[sku], "sku_i": sku,
            "qty": qty.astype(np.int64), "unit_price": unit, "list_price": price[sku].astype(float),
        })
        return items

    # -- order amounts ----------------------------------------------------------------------------
    def _amounts(self, o, items):
        cal = self.cal
        rng = _rng(self.seed, "amounts")
        N = len(o["sec"])
        oi = items["oi"].to_numpy()
        gross = np.round(np.bincount(oi, items["list_price"].to_numpy() * items["qty"].to_numpy(), N), 2)
        goods = np.round(np.bincount(oi, items["unit_price"].to_numpy() * items["qty"].to_numpy(), N), 2)
        d, ch = o["day"], o["channel"]
        priv = np.isin(ch, [CHANNELS.index(x) for x in PRIVATE_CHANNELS])
        # full reduction (满减) on festival days
        fr = np.where((cal.fr_thr[d] > 0) & (goods >= cal.fr_thr[d]), cal.fr_amt[d], 0.0)
        # one coupon per order
        coupon = np.full(N, "", dtype=object)
        camt = np.zeros(N)
        u = rng.random(N)

        def give(mask, code):
            thr, amt = COUPONS[code] if code in COUPONS else (150, 15)
            sel = mask & (coupon == "") & (goods >= thr)
            coupon[sel] = code
            camt[sel] = amt

        give(o["ring"], PLANTED_EVENTS["fraud_ring"]["coupon_code"])
        give(o["first"] & priv & (u < 0.85), "NEW30")
        give((ch == CHANNELS.index(MEMBER_DAY_CHANNEL)) & cal.member_day[d] & (u < 0.7), "VIP20")
        give(priv & ~o["first"] & (o["prev_gap"] >= 90) & (u < 0.4), "BACK15")
        wd = (cal.coupon_day[d] == "WD15") & (u < 0.5) & (coupon == "") & (goods >= 150)
        coupon[wd] = "WD15"
        camt[wd] = 15
        give(~priv & (u > 0.9), "SHOP10")
        order_disc = fr + camt
        net = goods - order_disc
        remote = np.isin(np.array([x[0] for x in CITIES])[self.cust_city[o["cust"]]], ZONES[4])
        ship = np.where(priv, np.where(net < 79, 8.0, 0.0), np.where(net < 39, 5.0, 0.0))
        ship = np.where(remote & (net < 199), ship + 12.0, ship)
        o["gross"] = gross
        o["discount"] = np.round(gross - goods + order_disc, 2)
        o["shipping"] = ship
        o["paid"] = np.round(gross - o["discount"] + ship, 2)
        o["coupon"] = coupon
        # campaign attribution
        cidx = cal.campaign_idx[d, ch]
        cidx = np.where(o["presale"], cal.presale_campaign_idx[d], cidx)
        o["campaign"] = cidx
        return o

    def _places(self):
        rng = _rng(self.seed, "places")
        c = self.c
        nc = len(c["signup_sec"])
        tiers = np.array([x[2] for x in CITIES])
        w = np.array([x[3] for x in CITIES])
        city = np.empty(nc, dtype=np.int64)
        for pi, p in enumerate(PERSONAS):
            lean = PERSONA_PARAMS[p][5]
            pw = w * np.exp(lean * (tiers - 3) * 0.5)
            sel = c["persona"] == pi
            city[sel] = _choice_idx(rng, pw, int(sel.sum()))
        self.cust_city = city
        # address ids: one per customer, 12% moved once (second address from a random date)
        self.cust_addr = np.arange(nc, dtype=np.int64)
        self.cust_addr2 = np.where(rng.random(nc) < 0.12, nc + np.arange(nc), -1)
        self.cust_move = rng.random(nc)
        # families: a few households with 2-3 accounts on one address
        fam = PLANTED_EVENTS["families"]
        cand = np.flatnonzero(~c["ring"] & ~c["potential"] & (self.cust_addr2 < 0))
        chosen = rng.choice(cand, sum(fam["sizes"]), replace=False)
        self.families = []
        pos = 0
        for size in fam["sizes"]:
            members = np.sort(chosen[pos:pos + size])
            pos += size
            city[members] = city[members[0]]
            self.cust_addr[members] = self.cust_addr[members[0]]
            self.families.append(members)
        # the ring ships to three pick-up addresses
        ring_idx = np.flatnonzero(c["ring"])
        self.cust_addr[ring_idx] = 10 * nc + np.arange(len(ring_idx)) % PLANTED_EVENTS["fraud_ring"]["n_addresses"]
        self.cust_addr2[ring_idx] = -1
        city[ring_idx] = [i for i, x in enumerate(CITIES) if x[1] == "东莞"][0]

    # -- status and payment -----------------------------------------------------------------------
    def _status(self, o, items):
        cal = self.cal
        rng = _rng(self.seed, "status")
        N = len(o["sec"])
        d = o["day"]
        pc = np.full(N, 0.035)
        pc = np.where(o["presale"], 0.08, pc)
        pc = np.where(d == cal.outage, 0.0, pc)
        pc[o["ring"]] = 0.0
        cancelled = rng.random(N) < pc
        # the outage: the same share of each channel's orders fails at payment
        for ci in range(len(CHANNELS)):
            idx = np.flatnonzero((d == cal.outage) & (o["channel"] == ci))
            k = int(round(len(idx) * PLANTED_EVENTS["conversion_outage"]["payment_failure_cancel_rate"]))
            cancelled[rng.permutation(idx)[:k]] = True
        # refunds: apparel size issues, the bad batch, the ring
        pr = self.products
        oi = items["oi"].to_numpy()
        apparel = np.bincount(oi, (pr["cat"].to_numpy()[items["sku_i"].to_numpy()] == 1), N) > 0
        br = PLANTED_EVENTS["bad_review_spike"]
        bad_sku = self.sku_index[br["sku"]]
        # bad batch: shipped from about two days before the window (delivery inside the window)
        in_batch_line = (items["sku_i"].to_numpy() == bad_sku) & (o["day"][oi] >= _d(br["start"]) - 1) & (o["day"][oi] <= _d(br["end"]) - 1)
        batch = np.bincount(oi, in_batch_line, N) > 0
        o["batch"] = batch
        pr_ref = 0.024 + 0.03 * apparel
        pr_ref = np.where(batch, br["refund_prob"], pr_ref)
        refunded = ~cancelled & (rng.random(N) < pr_ref)
        ring_idx = np.flatnonzero(o["ring"])
        refunded[ring_idx] = False
        refunded[ring_idx[rng.permutation(len(ring_idx))[:PLANTED_EVENTS["fraud_ring"]["n_refunded"]]]] = True
        status = np.where(cancelled, "cancelled", np.where(refunded, "refunded", "paid"))
        # payment time
        ch = o["channel"]
        delay = 5 + rng.exponential(70, N)
        own = ch == CHANNELS.index(PLANTED_EVENTS["slow_paying_channel"]["channel"])
        bank = own & (rng.random(N) < PLANTED_EVENTS["slow_paying_channel"]["share_bank_transfer"])
        delay = np.where(bank, rng.uniform(2 * 3600, 72 * 3600, N), delay)
        paid_sec = o["sec"] + delay.astype(np.int64)
        bal = cal.balance_day[np.clip(d, 0, N_DAYS - 1)]
        bal_sec = bal.astype(np.int64) * DAY + 20 * 3600 + np.minimum(rng.exponential(14 * 3600, N), 60 * 3600).astype(np.int64)
        paid_sec = np.where(o["presale"], bal_sec, paid_sec)
        end_sec = N_DAYS * DAY
        # the data end on 2026-10-31: balances (presale opens 20:00 that evening) and transfers that
        # would come later are paid in the last hours instead
        late = paid_sec >= end_sec
        paid_sec = np.where(late, np.maximum(o["sec"] + 60, end_sec - rng.integers(60, 3 * 3600, N)), paid_sec)
        paid_sec = np.maximum(np.minimum(paid_sec, end_sec - 1), o["sec"])
        o["status"] = status
        o["paid_sec"] = paid_sec
        o["cancelled"] = cancelled
        refund = np.where(refunded, o["paid"], 0.0)
        partial = (status == "paid") & (rng.random(N) < 0.012)
        refund = np.where(partial, np.round(o["paid"] * rng.uniform(0.15, 0.5, N), 2), refund)
        o["refund"] = np.round(refund, 2)
        o["refund_before_ship"] = refunded & (rng.random(N) < 0.4) & ~o["ring"]
        return o

    # -- customers table -------------------------------------------------------------------------
    def _finish_customers(self, c, o):
        rng = _rng(self.seed, "customer_fields")
        nc = len(c["signup_sec"])
        city = self.cust_city
        by = np.empty(nc, dtype=np.int64)
        gender = np.empty(nc, dtype=object)
        u = rng.random(nc)
        for pi, p in enumerate(PERSONAS):
            sel = c["persona"] == pi
            a, b = PERSONA_PARAMS[p][3]
            by[sel] = rng.integers(a, b + 1, int(sel.sum()))
            gender[sel] = np.where(u[sel] < PERSONA_PARAMS[p][4], "F", "M")
        gender[rng.random(nc) < 0.04] = "U"
        # names and phones (fake personal data)
        sn = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), nc)]
        g1 = np.array(GIVEN)[rng.integers(0, len(GIVEN), nc)]
        g2 = np.where(rng.random(nc) < 0.7, np.array(GIVEN)[rng.integers(0, len(GIVEN), nc)], "")
        name = np.char.add(np.char.add(sn, g1), g2)
        pref = np.array(["13", "15", "17", "18", "19"])[rng.integers(0, 5, nc)]
        start = int(rng.integers(0, 10 ** 9))
        body = (np.arange(nc, dtype=np.int64) * 387420489 + start) % (10 ** 9)
        phone = np.char.add(pref, np.char.zfill(body.astype(str), 9))
        ring = c["ring"]
        phone[ring] = PLANTED_EVENTS["fraud_ring"]["phone"]
        # member tier by paid spend in the data (members are repeat or private-domain buyers)
        paid = ~o["cancelled"]
        spend = np.bincount(o["cust"][paid], o["paid"][paid], nc)
        norders = np.bincount(o["cust"][paid], minlength=nc)
        priv_b = np.bincount(o["cust"][paid], np.isin(o["channel"][paid], [CHANNELS.index(x) for x in PRIVATE_CHANNELS]), nc) > 0
        member = (norders >= 2) | priv_b
        tier = np.where(spend >= 3000, 3, np.where(spend >= 1500, 2, np.where(spend >= 600, 1, 0)))
        tier = np.where(member, tier, 0)
        df = pd.DataFrame({
            "customer_id": c["customer_id"],
            "signup_ts": _secs_to_ts(c["signup_sec"]),
            "acquisition_channel": np.array(CHANNELS)[c["acq"]],
            "member_tier": np.array(TIERS)[tier],
            "birth_year": by,
            "gender": gender.astype(str),
            "province": np.array([x[0] for x in CITIES])[city],
            "city": np.array([x[1] for x in CITIES])[city],
            "city_tier": np.array([x[2] for x in CITIES])[city].astype(np.int64),
            "persona": np.array(PERSONAS)[c["persona"]],
            "name": name,
            "phone": phone,
        })
        self.cust_phone = phone
        return df

    def _orders_table(self, o):
        chash = _hash_text(self.cust_phone.astype(np.int64), 0xC0117AC7)
        # address: the second address applies after the customer's move date
        addr = self.cust_addr[o["cust"]].copy()
        a2 = self.cust_addr2[o["cust"]]
        move_sec = (self.cust_move[o["cust"]] * N_DAYS * DAY).astype(np.int64)
        addr = np.where((a2 >= 0) & (o["sec"] > move_sec), a2, addr)
        uaddr, addr_i = np.unique(addr, return_inverse=True)
        city = self.cust_city[o["cust"]]
        camp = np.r_[self.cal.campaigns["campaign_id"].to_numpy().astype(object), None]
        codes, code_i = np.unique(o["coupon"].astype(str), return_inverse=True)
        codes = np.where(codes == "", None, codes.astype(object))
        status, status_i = np.unique(o["status"], return_inverse=True)
        df = pd.DataFrame({
            "order_id": pd.Series(o["order_id"], dtype="str"),
            "customer_id": _take(self.c["customer_id"], o["cust"]),
            "order_ts": _secs_to_ts(o["sec"]),
            "paid_ts": _secs_to_ts(o["paid_sec"], o["cancelled"]),
            "paid_amount": o["paid"],
            "status": _take(status, status_i),
            "channel": _take(CHANNELS, o["channel"]),
            "gross_amount": o["gross"],
            "discount_amount": o["discount"],
            "shipping_fee": o["shipping"],
            "refund_amount": o["refund"],
            "campaign_id": _take(camp, np.where(o["campaign"] >= 0, o["campaign"], len(camp) - 1)),
            "coupon_code": _take(codes, code_i),
            "is_presale": o["presale"],
            "province": _take([x[0] for x in CITIES], city),
            "city": _take([x[1] for x in CITIES], city),
            "device": _take(DEVICES, o["device"]),
            "contact_hash": _take(chash, o["cust"]),
            "address_hash": _take(_hash_text(uaddr.astype(np.uint64), 0xADD4E55), addr_i),
        })
        return df

    # -- shipments ----------------------------------------------------------------------------------
    def _shipments(self, o):
        cal = self.cal
        rng = _rng(self.seed, "shipments")
        sel = np.flatnonzero(~o["cancelled"] & ~o["refund_before_ship"])
        n = len(sel)
        ch = o["channel"][sel]
        # carrier
        mix = np.array([.18, .26, .20, .22, .08, .06])
        car = _choice_idx(rng, mix, n)
        jd = ch == CHANNELS.index("jd")
        car = np.where(jd, np.where(rng.random(n) < 0.85, CARRIERS.index("jd_logistics"), CARRIERS.index("sf")), car)
        car = np.where(~jd & (car == CARRIERS.index("jd_logistics")) & (rng.random(n) < 0.5), CARRIERS.index("zto"), car)
        paid = o["paid_sec"][sel]
        pday = paid // DAY
        pday_c = np.clip(pday, 0, N_DAYS - 1)
        # hours to ship: mostly within a day, a few beyond 48h, more at festival peaks
        hrs = np.where(rng.random(n) < 0.62, rng.uniform(1, 20, n), rng.uniform(18, 44, n))
        slow = rng.random(n) < np.where(cal.peak_day[pday_c] | cal.peak_day[np.clip(pday_c - 1, 0, None)], 0.22, 0.03)
        hrs = np.where(slow, rng.uniform(48, 96, n), hrs)
        ship = paid + (hrs * 3600).astype(np.int64)
        # warehouse hours 09:00-21:00
        sod = ship % DAY
        ship = np.where(sod < 9 * 3600, ship - sod + 9 * 3600 + rng.integers(0, 3 * 3600, n), ship)
        ship = np.where(sod >= 21 * 3600, ship - sod + DAY + 9 * 3600 + rng.integers(0, 3 * 3600, n), ship)
        # spring-festival pause: nothing leaves the warehouse, the backlog ships after it
        sday = np.clip(ship // DAY, 0, N_DAYS - 1)
        in_pause = cal.pause[sday]
        pend = cal.pause_end[np.clip(sday, 0, N_DAYS - 1)]
        backlog = (pend.astype(np.int64) + rng.integers(0, 3, n)) * DAY + 9 * 3600 + rng.integers(0, 11 * 3600, n)
        ship = np.where(in_pause, backlog, ship)
        # delivery
        prov = np.array([x[0] for x in CITIES])[self.cust_city[o["cust"][sel]]]
        zone = np.ones(n, dtype=np.int64)
        for z, provs in ZONES.items():
            zone[np.isin(prov, provs)] = z
        zstd = np.array([0, 1.0, 2.0, 3.0, 4.5])[zone]
        speed = np.array([0.75, 1.0, 1.05, 1.05, 0.8, 1.3])[car]
        transit = zstd * speed * rng.lognormal(0, 0.22, n) + rng.uniform(0.1, 0.6, n)
        lc = PLANTED_EVENTS["late_carrier"]
        yd = (car == CARRIERS.index(lc["carrier"])) & (ship >= _d(lc["from_shipped_date"]) * DAY)
        p_late = np.full(n, lc["late_prob"])
        for pv, pl in lc["late_prob_provinces"].items():
            p_late[prov == pv] = pl
        hit = yd & (rng.random(n) < p_late)
        transit = np.where(hit, transit + rng.uniform(lc["extra_days"][0], lc["extra_days"][1], n), transit)
        dlv = ship + (transit * DAY).astype(np.int64)
        # promised: payment day + 2 days to ship + the zone's standard transit (+ the pause)
        promised = pday + 2 + np.ceil(zstd * 1.25).astype(np.int64)
        pause_pd = cal.pause_end[pday_c]
        promised = np.where((pause_pd >= 0) & (pday < np.where(pause_pd >= 0, pause_pd, 0)), np.maximum(promised, pause_pd + 2 + np.ceil(zstd * 1.25).astype(np.int64)), promised)
        end = N_DAYS * DAY
        lost = rng.random(n) < 0.0015
        returned = (o["status"][sel] == "refunded") & (rng.random(n) < 0.6)
        status = np.where(lost, "lost", np.where(returned, "returned", "delivered"))
        not_shipped = ship >= end
        in_transit = ~not_shipped & (dlv >= end)
        status = np.where(in_transit & ~lost, "in_transit", status)
        status = np.where(not_shipped, "", status)
        dlv_missing = lost | (dlv >= end) | not_shipped
        st_names, st_i = np.unique(status, return_inverse=True)
        df = pd.DataFrame({
            "order_id": pd.Series(o["order_id"][sel], dtype="str"),
            "carrier": _take(CARRIERS, car),
            "shipped_ts": _secs_to_ts(ship, not_shipped),
            "delivered_ts": _secs_to_ts(dlv, dlv_missing),
            "promised_date": _days_to_date(promised),
            "status": _take(np.where(st_names == "", None, st_names.astype(object)), st_i),
        })
        self.ship = dict(sel=sel, dlv=dlv, status=status, late=(dlv // DAY > promised) & ~dlv_missing, car=car, ship=ship, lost=lost)
        return df

    # -- reviews -----------------------------------------------------------------------------------
    def _reviews(self, o, items):
        rng = _rng(self.seed, "reviews")
        sh = self.ship
        N = len(o["sec"])
        delivered = np.zeros(N, dtype=bool)
        delivered[sh["sel"]] = sh["status"] == "delivered"
        dlv = np.zeros(N, dtype=np.int64)
        dlv[sh["sel"]] = sh["dlv"]
        late = np.zeros(N, dtype=bool)
        late[sh["sel"]] = sh["late"]
        oi = items["oi"].to_numpy()
        ok = delivered[oi]
        li = np.flatnonzero(ok)
        br = PLANTED_EVENTS["bad_review_spike"]
        bad_sku = self.sku_index[br["sku"]]
        sku_i = items["sku_i"].to_numpy()[li]
        o_i = oi[li]
        batch = (sku_i == bad_sku) & o["batch"][o_i]
        p_rev = np.where(batch, br["review_prob"], 0.3)
        p_rev = np.where(o["ring"][o_i], 0.0, p_rev)
        rv = rng.random(len(li)) < p_rev
        li, sku_i, o_i, batch = li[rv], sku_i[rv], o_i[rv], batch[rv]
        n = len(li)
        rts = dlv[o_i] + (rng.exponential(2.5, n) * DAY).astype(np.int64) + 3600
        inside = rts < N_DAYS * DAY
        li, sku_i, o_i, batch, rts = li[inside], sku_i[inside], o_i[inside], batch[inside], rts[inside]
        n = len(li)
        # ratings
        base_p = np.array([.006, .008, .045, .17, .771])
        r = 1 + _choice_idx(rng, base_p, n)
        lt = late[o_i]
        r = np.where(lt & (rng.random(n) < 0.06), rng.integers(1, 3, n), r)
        refunded = o["status"][o_i] == "refunded"
        r = np.where(refunded & (rng.random(n) < 0.3), rng.integers(1, 3, n), r)
        bb = batch & (rng.random(n) < br["bad_share"])
        r = np.where(bb, rng.integers(1, 3, n), r)
        # texts
        cat = self.products["cat"].to_numpy()[sku_i]
        text = self._review_text(rng, r, cat, lt, bb)
        # replies: bad reviews within hours, good ones sometimes
        bad = r <= 2
        rep_p = np.where(bad, 0.97, np.where(r == 3, 0.7, 0.35))
        has_rep = rng.random(n) < rep_p
        rep_h = np.where(bad, np.where(rng.random(n) < 0.93, rng.exponential(5, n) + 0.2, rng.uniform(24, 60, n)), rng.exponential(12, n) + 0.3)
        rep = rts + (rep_h * 3600).astype(np.int64)
        miss = ~has_rep | (rep >= N_DAYS * DAY)
        srt = np.lexsort((sku_i, rts))
        df = pd.DataFrame({
            "review_id": _ids("R", n, 7),
            "order_id": o["order_id"][o_i][srt],
            "sku": self.products["sku"].to_numpy()[sku_i][srt],
            "customer_id": self.c["customer_id"][o["cust"][o_i]][srt],
            "rating": r[srt].astype(np.int64),
            "review_ts": _secs_to_ts(rts[srt]),
            "text": text[srt],
            "reply_ts": _secs_to_ts(rep[srt], miss[srt]),
        })
        return df

    def _review_text(self, rng, r, cat, late, bb):
        pos_cat = {
            0: ["周末带去露营，搭起来很方便", "承重不错，坐着很稳", "收起来体积小，放后备箱刚好", "晚上营地里氛围感拉满"],
            1: ["尺码标准，穿着舒服", "面料透气，爬山不闷", "防风效果不错", "版型好看，上身显精神"],
            2: ["防滑效果好，练起来很稳", "每天坚持用，效果看得见", "家里锻炼够用了", "厚度合适，跪着不疼"],
            3: ["保温时间长，早上装的水下午还是热的", "容量合适，带饭方便", "好清洗，不粘", "颜值高，放厨房很好看"],
            4: ["容量大，换季衣服都装下了", "塑料厚实，没有异味", "安装简单，几分钟搞定", "家里整齐多了"],
            5: ["面料柔软亲肤，洗了不掉色", "睡着很舒服，回弹好", "做工细致，线头很少", "冬天盖着暖和"],
            6: ["声音小，功率够用", "充电快，续航好", "操作简单，老人也会用", "小巧不占地方"],
        }
        pos_gen = ["做工不错，和描述一致", "物流很快，包装完好", "性价比高，值得购买", "回购好几次了，一直稳定", "客服耐心，有问必答",
                   "比想象中的好", "送朋友的，朋友很喜欢", "用了一段时间才来评价，满意", "颜色和图片一样", "好评"]
        mid = ["东西还行，就是物流慢了点", "一般般，对得起这个价格", "有点小瑕疵，不影响使用", "颜色和图片有色差", "尺码偏大，凑合能用",
               "包装简陋了点，东西还可以"]
        neg = ["质量一般，用了没几次就坏了", "和描述不太一样，有点失望", "有异味，放了几天还没散", "包装破损，商品有划痕",
               "客服回复慢，问题没解决", "做工粗糙，不值这个价"]
        neg_late = ["物流太慢，比承诺的时间晚了好几天", "快递一直不更新，催了好几次才到", "送货太慢了，差评给快递"]
        batch = ["这批质量问题明显，椅腿铆钉松了", "坐了两次支架就断了，质量问题", "收到就发现螺丝松动，做工粗糙",
                 "质量问题，布面开线，已申请退货", "和之前买的不是一个品质，质量问题太多"]
        n = len(r)
        out = np.empty(n, dtype=object)
        u = rng.random(n)
        k = rng.integers(0, 1000, n)
        pc_arr = np.empty(n, dtype=object)
        for ci, lst in pos_cat.items():
            sel = cat == ci
            pc_arr[sel] = np.array(lst, dtype=object)[k[sel] % len(lst)]
        pg = np.array(pos_gen, dtype=object)[rng.integers(0, len(pos_gen), n)]
        good = np.where(u < 0.5, pc_arr + "，" + pg, np.where(u < 0.8, pc_arr, pg))
        out[:] = good
        out[r == 3] = np.array(mid, dtype=object)[k[r == 3] % len(mid)]
        b = r <= 2
        out[b] = np.array(neg, dtype=object)[k[b] % len(neg)]
        bl = b & late
        out[bl] = np.array(neg_late, dtype=object)[k[bl] % len(neg_late)]
        out[bb] = np.array(batch, dtype=object)[k[bb] % len(batch)]
        return out.astype(str)

    # -- service tickets ----------------------------------------------------------------------------
    def _tickets(self, o, items):
        rng = _rng(self.seed, "tickets")
        N = len(o["sec"])
        sh = self.ship
        late = np.zeros(N, dtype=bool)
        late[sh["sel"]] = sh["late"]
        lost = np.zeros(N, dtype=bool)
        lost[sh["sel"]] = sh["lost"]
        dlv = np.full(N, -1, dtype=np.int64)
        dlv[sh["sel"]] = np.where(sh["status"] == "", -1, sh["dlv"])
        oi = items["oi"].to_numpy()
        apparel = np.bincount(oi, (self.products["cat"].to_numpy()[items["sku_i"].to_numpy()] == 1), N) > 0
        u = rng.random(N)
        cat = np.full(N, "", dtype=object)
        refunded = o["status"] == "refunded"
        cat[(o["refund"] > 0) & ~refunded & (u < 0.8)] = "refund"
        cat[refunded & (u < 0.7)] = "refund"
        cat[(cat == "") & o["batch"] & ~o["cancelled"] & (u < 0.45)] = "quality"
        cat[(cat == "") & late & (u < 0.3)] = "logistics"
        cat[(cat == "") & lost] = "logistics"
        v = rng.random(N)
        paid_ok = ~o["cancelled"]
        cat[(cat == "") & paid_ok & (v < 0.012)] = "quality"
        cat[(cat == "") & paid_ok & apparel & (v > 0.97)] = "size"
        cat[(cat == "") & paid_ok & (v > 0.012) & (v < 0.022)] = "other"
        cat[(cat == "") & paid_ok & (v > 0.022) & (v < 0.030)] = "logistics"
        sel = np.flatnonzero(cat != "")
        n = len(sel)
        c = cat[sel].astype(str)
        base = np.where(dlv[sel] > 0, dlv[sel], o["paid_sec"][sel])
        opened = base + (rng.exponential(1.5, n) * DAY).astype(np.int64) + 600
        opened = np.where(c == "logistics", o["paid_sec"][sel] + (rng.uniform(2, 6, n) * DAY).astype(np.int64), opened)
        # response during service hours (09-23): quick; at night, the next morning
        resp = opened + (rng.exponential(0.25, n) * 3600).astype(np.int64) + 30
        sod = resp % DAY
        resp = np.where(sod < 9 * 3600, resp - sod + 9 * 3600 + rng.integers(0, 1800, n), resp)
        hours = np.where(c == "refund", rng.exponential(20, n), np.where(c == "logistics", rng.exponential(36, n), rng.exponential(16, n)))
        resolved = resp + ((hours + 0.3) * 3600).astype(np.int64)
        end = N_DAYS * DAY
        keep = opened < end
        sel, c, opened, resp, resolved = sel[keep], c[keep], opened[keep], resp[keep], resolved[keep]
        n = len(sel)
        res_missing = resolved >= end
        resp_missing = resp >= end
        sat = np.clip(np.round(4.6 - 0.03 * (resolved - opened) / 3600 - np.where(c == "quality", 0.8, 0) - np.where(c == "logistics", 0.4, 0)
                               + rng.normal(0, 0.7, n)), 1, 5)
        sat_missing = res_missing | (rng.random(n) < 0.35)
        srt = np.argsort(opened, kind="stable")
        df = pd.DataFrame({
            "ticket_id": _ids("T", n, 6),
            "customer_id": self.c["customer_id"][o["cust"][sel]][srt],
            "order_id": o["order_id"][sel][srt],
            "opened_ts": _secs_to_ts(opened[srt]),
            "first_response_ts": _secs_to_ts(resp[srt], resp_missing[srt]),
            "resolved_ts": _secs_to_ts(resolved[srt], res_missing[srt]),
            "category": c[srt],
            "satisfaction": pd.array(np.where(sat_missing, 0, sat).astype(np.int64)[srt], dtype="Int64"),
        })
        df.loc[sat_missing[srt], "satisfaction"] = pd.NA
        return df

    # -- inventory and purchase orders ----------------------------------------------------------------
    def _inventory(self, o, items):
        rng = _rng(self.seed, "inventory")
        pr = self.products
        S = self.S
        live = ~o["cancelled"][items["oi"].to_numpy()]
        dd = o["day"][items["oi"].to_numpy()][live]
        sk = items["sku_i"].to_numpy()[live]
        q = items["qty"].to_numpy()[live]
        sales = np.zeros((N_DAYS, S))
        np.add.at(sales, (dd, sk), q)
        sales = sales.astype(np.int64)
        # forecast horizon beyond the data: trailing 8 weeks with a double-11 uplift
        tail = sales[-56:].mean(axis=0) * 1.3
        ext = np.vstack([sales.astype(float), np.tile(tail, (90, 1))])
        cum = np.vstack([np.zeros(S), np.cumsum(ext, axis=0)])
        sup = pr["supplier_id"].to_numpy()
        sup_lead = {s[0]: s[2] for s in SUPPLIERS}
        L = np.array([sup_lead[x] for x in sup])
        price = pr["list_price"].to_numpy()
        pack = np.where(price < 100, 10, np.where(price < 400, 5, 2))
        pack = np.where(sales.mean(axis=0) < 0.5, np.minimum(pack, 2), pack)  # slow sellers come in small lots
        launch = pr["launch_day"].to_numpy()
        start_day = np.maximum(launch - 3, 0)
        pe = PLANTED_EVENTS
        so = self.sku_index[pe["stockout"]["sku"]]
        slow = np.array([self.sku_index[s] for s in pe["slow_movers"]["skus"]])
        over = np.array([self.sku_index[s] for s in pe["overstock"]["skus"]])
        ls = pe["late_supplier"]
        late_sup = sup == ls["supplier_id"]
        safety = np.full(S, 14.0)
        delays_rng_seed = rng.integers(0, 2 ** 31)
        for attempt in range(20):
            res = self._simulate_stock(sales, cum, L, pack, start_day, safety, so, slow, over, late_sup, delays_rng_seed)
            short = res["short"]
            if not short.any():
                break
            safety[short] += 10
        else:
            raise RuntimeError("inventory simulation could not avoid accidental stock-outs")
        on_hand, on_order, pos = res["on_hand"], res["on_order"], res["pos"]
        oh = on_hand[:, so]
        zs, ze = _d(pe["stockout"]["sold_out"]), _d(pe["stockout"]["end"])
        if not ((oh[zs:ze + 1] == 0).all() and (oh[start_day[so]:zs] > 0).all() and (oh[ze + 1:] > 0).all()):
            raise RuntimeError("the planted stock-out did not come out as planned")
        # inventory table: from the first stocked day of each SKU
        dgrid, sgrid = np.meshgrid(np.arange(N_DAYS), np.arange(S), indexing="ij")
        mask = dgrid >= start_day[None, :]
        inv = pd.DataFrame({
            "date": _days_to_date(dgrid[mask]),
            "sku": pr["sku"].to_numpy()[sgrid[mask]],
            "on_hand": on_hand[mask].astype(np.int64),
            "on_order": on_order[mask].astype(np.int64),
            "warehouse": WAREHOUSE,
        })
        inv = inv.sort_values(["date", "sku"], kind="stable").reset_index(drop=True)
        p = pd.DataFrame(pos)
        p = p.sort_values(["order_date", "sku_i"], kind="stable").reset_index(drop=True)
        unit_cost = pr["unit_cost"].to_numpy()[p["sku_i"].to_numpy()]
        infl = 1 + 0.03 * p["order_date"].to_numpy() / 365.0
        received = p["received"].to_numpy()
        open_ = received >= N_DAYS
        qr = pd.array(np.where(open_, 0, p["qty_received"].to_numpy()).astype(np.int64), dtype="Int64")
        qr[open_] = pd.NA
        df = pd.DataFrame({
            "po_id": _ids("PO", len(p), 5),
            "supplier_id": sup[p["sku_i"].to_numpy()],
            "sku": pr["sku"].to_numpy()[p["sku_i"].to_numpy()],
            "order_date": _days_to_date(p["order_date"].to_numpy()),
            "expected_date": _days_to_date(p["expected"].to_numpy()),
            "received_date": _days_to_date(received, open_),
            "qty_ordered": p["qty_ordered"].to_numpy().astype(np.int64),
            "qty_received": qr,
            "unit_cost": np.round(unit_cost * infl * rng.uniform(0.98, 1.02, len(p)), 2),
        })
        return inv, df

    def _simulate_stock(self, sales, cum, L, pack, start_day, safety, so, slow, over, late_sup, dseed):
        rng = np.random.default_rng(dseed)
        S = sales.shape[1]
        # delays and fill rates drawn per SKU and PO number, so a change for one SKU leaves the
        # others' supply unchanged between attempts
        K = 400
        u_delay = rng.choice([-2, -1, 0, 1, 2, 3], p=[.05, .15, .55, .15, .07, .03], size=(S, K))
        u_late = rng.integers(PLANTED_EVENTS["late_supplier"]["delay_days"][0],
                              PLANTED_EVENTS["late_supplier"]["delay_days"][1] + 1, size=(S, K))
        u_fill = np.where(rng.random((S, K)) < 0.85, 1.0, rng.uniform(0.9, 1.0, (S, K)))
        u_late_fill = rng.uniform(*PLANTED_EVENTS["late_supplier"]["fill_rate"], size=(S, K))
        u_slow = rng.integers(-1, 2, size=S)
        n_po = np.zeros(S, dtype=np.int64)
        pe = PLANTED_EVENTS
        R = 7
        H = L + R
        recv = np.zeros((N_DAYS + 200, S), dtype=np.int64)
        close = np.zeros((N_DAYS + 200, S), dtype=np.int64)  # qty_ordered closing on that day
        on_hand = np.zeros((N_DAYS, S), dtype=np.int64)
        on_order_hist = np.zeros((N_DAYS, S), dtype=np.int64)
        pos = {"sku_i": [], "order_date": [], "expected": [], "received": [], "qty_ordered": [], "qty_received": []}
        cur = np.zeros(S, dtype=np.int64)
        on_order = np.zeros(S, dtype=np.int64)
        short = np.zeros(S, dtype=bool)
        avg_all = np.maximum(sales.mean(axis=0), 0.05)
        late_from = _d(pe["late_supplier"]["from_expected_date"])
        freeze_so = _d(pe["stockout"]["no_reorder_from"])
        freeze_slow = _d(pe["slow_movers"]["bulk_po"]["order_date"])
        over_day = _d(pe["overstock"]["bulk_po"]["order_date"])

        def add_po(s, t, qty_o, exp, rec, qty_r):
            pos["sku_i"].append(s)
            pos["order_date"].append(t)
            pos["expected"].append(exp)
            pos["received"].append(rec)
            pos["qty_ordered"].append(qty_o)
            pos["qty_received"].append(qty_r)
            if rec < N_DAYS + 200:
                recv[rec, s] += qty_r
                close[rec, s] += qty_o

        for t in range(N_DAYS):
            # initial stock the day a SKU is first stocked
            first = start_day == t
            if first.any():
                idx = np.flatnonzero(first)
                init = cum[np.minimum(t + H[idx] + 30, len(cum) - 1), idx] - cum[t, idx] + safety[idx] * avg_all[idx]
                cur[idx] += (np.ceil(init / pack[idx]) * pack[idx]).astype(np.int64)
            cur += recv[t]
            on_order -= close[t]
            cur -= sales[t]
            neg = cur < 0
            if neg.any():
                short |= neg
            active = t >= start_day
            # the stock-out story: a feeder PO sized to run out on the day before the stock-out, then
            # the overdue PO that arrives late and short
            if t == freeze_so:
                # from here on the planner relies on the open POs; the late supplier ships them
                # short, so the stock runs out at the end of the day before the stock-out starts
                zd = _d(pe["stockout"]["start"]) - 1
                path = cur[so] + np.cumsum(recv[t + 1:zd + 1, so] - sales[t + 1:zd + 1, so])
                excess = int(path[-1])
                if excess > 0:
                    inflight = [i for i in range(len(pos["sku_i"])) if pos["sku_i"][i] == so and t < pos["received"][i] <= zd]
                    for i in sorted(inflight, key=lambda i: pos["received"][i], reverse=True):
                        cut = min(excess, pos["qty_received"][i])
                        pos["qty_received"][i] -= cut
                        recv[pos["received"][i], so] -= cut
                        excess -= cut
                        if excess == 0:
                            break
                elif excess < 0:
                    deficit = np.flatnonzero(path < 1)
                    rec = min(t + L[so] + 9, t + 1 + int(deficit[0]) if len(deficit) else zd)
                    qty_r = -excess
                    qty_o = int(np.ceil(qty_r / 0.8 / pack[so]) * pack[so])
                    add_po(so, t, qty_o, t + L[so], rec, qty_r)
                    on_order[so] += qty_o
                    excess = 0
                if excess != 0:
                    raise RuntimeError("could not plant the stock-out")
            od = pe["stockout"]["overdue_po"]
            if t == _d(od["order_date"]):
                rec = _d(od["received_date"])
                avg = sales[_d("2026-09-01"):_d("2026-10-01"), so].mean()
                qty_r = int(sales[rec:, so].sum() + round(pe["stockout"]["end_cover_days"] * avg))
                qty_o = int(np.ceil(qty_r / od["fill_rate"] / pack[so]) * pack[so])
                add_po(so, t, qty_o, _d(od["expected_date"]), rec, qty_r)
                on_order[so] += qty_o
            if t == freeze_slow:
                for s in slow:
                    qty = int(np.ceil(pe["slow_movers"]["bulk_po"]["cover_days"] * max(avg_all[s], sales[t - 60:t, s].mean()) / pack[s]) * pack[s])
                    exp = t + L[s]
                    add_po(s, t, qty, exp, exp + int(u_slow[s]), qty)
                    on_order[s] += qty
            if t == over_day:
                for s, qty in zip(over, pe["overstock"]["bulk_po"]["qty"]):
                    exp = t + L[s]
                    add_po(s, t, qty, exp, exp, qty)
                    on_order[s] += qty
            # the regular order-up-to policy (the planner knows the festival calendar)
            fut = cum[np.minimum(t + 1 + H, len(cum) - 1), np.arange(S)] - cum[t + 1, np.arange(S)]
            avg28 = (cum[np.minimum(t + 29, len(cum) - 1), np.arange(S)] - cum[t + 1, np.arange(S)]) / 28.0
            lvl = np.maximum(avg28, 0.3 * avg_all)
            rop = fut + safety * lvl
            position = cur + on_order
            need = active & (position < rop)
            need[so] &= t < freeze_so
            need[slow] &= t < freeze_slow
            for s in np.flatnonzero(need):
                qty_o = int(np.ceil((rop[s] + 30 * lvl[s] - position[s]) / pack[s]) * pack[s])
                qty_o = max(qty_o, pack[s])
                exp = t + L[s]
                kk = n_po[s] % K
                n_po[s] += 1
                if late_sup[s] and exp >= late_from:
                    rec = exp + int(u_late[s, kk])
                    fill = u_late_fill[s, kk]
                else:
                    rec = exp + int(u_delay[s, kk])
                    fill = u_fill[s, kk]
                qty_r = int(np.round(qty_o * fill))
                add_po(s, t, qty_o, exp, rec, qty_r)
                on_order[s] += qty_o
            on_hand[t] = cur
            on_order_hist[t] = on_order
        # a non-planted SKU must never sit at zero
        zero = (on_hand <= 0) & (np.arange(N_DAYS)[:, None] >= start_day[None, :])
        zero[_d(pe["stockout"]["sold_out"]):_d(pe["stockout"]["end"]) + 1, so] = False
        short |= zero.any(axis=0)
        return dict(on_hand=np.maximum(on_hand, 0), on_order=on_order_hist, pos=pos, short=short)

    # -- traffic ------------------------------------------------------------------------------------
    def _traffic(self, o):
        cal = self.cal
        rng = _rng(self.seed, "traffic")
        combos = [(ci, DEVICES.index(dv)) for ci, c in enumerate(CHANNELS) for dv in CHANNEL_DEVICES[c]]
        K = len(combos)
        key = {cd: k for k, cd in enumerate(combos)}
        kmap = np.full((len(CHANNELS), len(DEVICES)), -1)
        for (ci, di), k in key.items():
            kmap[ci, di] = k
        paid = ~o["cancelled"]
        P = np.zeros((N_DAYS, K))
        np.add.at(P, (o["day"][paid], kmap[o["channel"][paid], o["device"][paid]]), 1)
        tot = P.sum(axis=1)
        outf = np.ones(N_DAYS)
        oe = PLANTED_EVENTS["conversion_outage"]
        outf[cal.outage] = oe["orders_kept"] * (1 - oe["payment_failure_cancel_rate"])
        # channel-device mix: centred 29-day mean
        kern = np.ones(29) / 29
        mix = np.vstack([np.convolve(np.pad(P[:, k], 14, mode="edge"), kern, mode="valid") for k in range(K)]).T
        mix = mix / mix.sum(axis=1, keepdims=True)
        E = (tot / outf)[:, None] * mix
        cr = np.array([CHANNEL_CR[CHANNELS[ci]] * DEVICE_CR[DEVICES[di]] for ci, di in combos])
        cr_d = cr[None, :] * cal.cr_mult[:, None] * (1 + 0.06 * (np.arange(N_DAYS) / N_DAYS))[:, None]
        V = np.round(E / cr_d * rng.lognormal(0, 0.035, (N_DAYS, K)) + rng.poisson(3, (N_DAYS, K))).astype(np.int64)
        vr = np.clip(cr / (0.72 * 0.42 * 0.16), 0.3, 0.92)
        views = np.round(V * vr[None, :] * rng.lognormal(0, 0.03, (N_DAYS, K)))
        atc = np.round(views * 0.16 * cal.cr_mult[:, None] * (1 + 0.06 * (np.arange(N_DAYS) / N_DAYS))[:, None] / cal.cr_mult[:, None] ** 0.0 * rng.lognormal(0, 0.03, (N_DAYS, K)))
        chk = np.round(atc * 0.42 * rng.lognormal(0, 0.03, (N_DAYS, K)))
        chk = np.maximum(chk, P)
        atc = np.maximum(atc, chk)
        views = np.maximum(views, atc)
        V = np.maximum(V, views)
        dgrid = np.repeat(np.arange(N_DAYS), K)
        kgrid = np.tile(np.arange(K), N_DAYS)
        df = pd.DataFrame({
            "date": _days_to_date(dgrid),
            "channel": np.array(CHANNELS)[[combos[k][0] for k in kgrid]],
            "device": np.array(DEVICES)[[combos[k][1] for k in kgrid]],
            "visitors": V.ravel().astype(np.int64),
            "product_views": views.ravel().astype(np.int64),
            "add_to_cart": atc.ravel().astype(np.int64),
            "checkouts": chk.ravel().astype(np.int64),
        })
        self.traffic_V = V
        self.traffic_combos = combos
        return df

    # -- marketing spend ------------------------------------------------------------------------------
    def _marketing(self, o, items):
        cal = self.cal
        rng = _rng(self.seed, "marketing")
        pr = self.products
        live = ~o["cancelled"]
        oi = items["oi"].to_numpy()
        cogs = np.bincount(oi, pr["unit_cost"].to_numpy()[items["sku_i"].to_numpy()] * items["qty"].to_numpy(), len(o["sec"]))
        gm = o["paid"] - o["shipping"] - cogs
        month = cal.month_str
        months = np.unique(month)
        mi = np.searchsorted(months, month)
        GMd = np.zeros((N_DAYS, len(CHANNELS)))
        np.add.at(GMd, (o["day"][live], o["channel"][live]), gm[live])
        GMm = np.zeros((len(months), len(CHANNELS)))
        np.add.at(GMm, mi, GMd)
        roi = np.zeros((len(months), len(CHANNELS)))
        for ci, c in enumerate(CHANNELS):
            if c == "xiaohongshu":
                x = np.arange(len(months), dtype=float)
                i_from = int(np.searchsorted(months, PLANTED_EVENTS["roi_below_one"]["from_month"]))
                r = np.interp(x, [0, i_from - 1, i_from], [1.6, 1.08, PLANTED_EVENTS["roi_below_one"]["roi_on_gross_margin"]])
                r[i_from:] = PLANTED_EVENTS["roi_below_one"]["roi_on_gross_margin"]
                roi[:, ci] = r * rng.uniform(0.96, 1.04, len(months))
            else:
                roi[:, ci] = ROI_TARGET[c] * rng.uniform(0.9, 1.1, len(months))
        budget_m = GMm / roi
        # daily: with the channel's business, warming up before festivals
        kern = np.ones(7) / 7
        sm = np.vstack([np.convolve(np.pad(GMd[:, c], 3, mode="edge"), kern, mode="valid") for c in range(len(CHANNELS))]).T
        warm = np.where(cal.presale_frac > 0, 1.6, 1.0)[:, None] * np.where(cal.main_festival, 1.3, 1.0)[:, None]
        w = np.maximum(sm, 1e-6) ** 0.7 * warm * rng.lognormal(0, 0.12, sm.shape)
        wm = np.zeros_like(budget_m)
        np.add.at(wm, mi, w)
        spend = np.round(w / wm[mi] * budget_m[mi], 2)
        # clicks and impressions from the channel's visitors
        V = self.traffic_V
        Vc = np.zeros((N_DAYS, len(CHANNELS)))
        for k, (ci, di) in enumerate(self.traffic_combos):
            Vc[:, ci] += V[:, k]
        paid_share = np.array([.35, .30, .55, .60, .15, .10])
        ctr = np.array([.025, .022, .012, .018, .03, .05])
        clicks = np.round(Vc * paid_share[None, :] * rng.lognormal(0, 0.05, Vc.shape)).astype(np.int64)
        imps = np.round(clicks / ctr[None, :] * rng.lognormal(0, 0.05, Vc.shape)).astype(np.int64)
        camp = cal.campaign_idx.copy()
        camp = np.where(cal.presale_campaign_idx[:, None] >= 0, cal.presale_campaign_idx[:, None], camp)
        ids = cal.campaigns["campaign_id"].to_numpy()
        cid = np.where(camp >= 0, ids[np.maximum(camp, 0)], "")
        df = pd.DataFrame({
            "date": _days_to_date(np.repeat(np.arange(N_DAYS), len(CHANNELS))),
            "channel": np.tile(CHANNELS, N_DAYS),
            "spend": spend.ravel(),
            "impressions": imps.ravel(),
            "clicks": clicks.ravel(),
            "campaign_id": cid.ravel(),
        })
        df["campaign_id"] = df["campaign_id"].replace("", np.nan)
        return df

    def _campaign_table(self, spend):
        camp = self.cal.campaigns.copy()
        rng = _rng(self.seed, "campaigns")
        spent = camp["campaign_id"].map(spend.groupby("campaign_id")["spend"].sum()).to_numpy(dtype=float)
        start = pd.to_datetime(camp["start_date"]).to_numpy()
        end = pd.to_datetime(camp["end_date"]).to_numpy()
        full = (start >= np.datetime64(START)) & (end <= np.datetime64(END))
        # the plan: a little above what was spent; a campaign cut by the data's edges or still to
        # come is planned from the same festival in the nearest year (+20% a year)
        budget = np.where(full, np.round(spent * rng.uniform(1.0, 1.15, len(camp)), -2), np.nan)
        for i in np.flatnonzero(~full):
            same = np.flatnonzero(full & (camp["festival"] == camp.at[i, "festival"]).to_numpy()
                                  & (camp["type"] == camp.at[i, "type"]).to_numpy())
            if len(same):
                j = same[np.argmin(np.abs(start[same] - start[i]))]
                years = (start[i] - start[j]).astype("timedelta64[D]").astype(int) / 365.0
                budget[i] = np.round(budget[j] * 1.2 ** years, -2)
        member = (camp["type"] == "member_day").to_numpy()
        budget[member] = 3000.0 * self.scale
        camp["budget"] = budget
        camp["start_date"] = start.astype("datetime64[s]")
        camp["end_date"] = end.astype("datetime64[s]")
        camp["channel"] = camp["channel"].replace("", np.nan)
        camp["festival"] = camp["festival"].replace("", np.nan)
        return camp[["campaign_id", "name", "type", "start_date", "end_date", "channel", "budget", "festival"]]

    def _products_table(self):
        p = self.products
        df = pd.DataFrame({
            "sku": p["sku"], "category": p["category"], "subcategory": p["subcategory"], "title": p["title"],
            "brand": p["brand"], "unit_cost": p["unit_cost"], "list_price": p["list_price"].astype(float),
            "launch_date": p["launch_date"], "supplier_id": p["supplier_id"],
            "backup_supplier_id": p["backup_supplier_id"].replace("", np.nan), "role": p["role"],
            "is_active": p["is_active"],
        })
        return df

    # -- competitors ---------------------------------------------------------------------------------
    def _competitors(self):
        rng = _rng(self.seed, "competitors")
        pr = self.products
        n_match = int(round(40 * np.sqrt(self.scale)))
        pop = pr["pop"].to_numpy()
        order = np.argsort(-pop, kind="stable")
        skus = order[:n_match]
        cu = PLANTED_EVENTS["competitor_undercut"]
        cu_i = self.sku_index[cu["sku"]]
        if cu_i not in skus:
            skus = np.r_[skus[:-1], cu_i]
        skus = np.sort(skus)
        cal = self.cal
        rows = []
        t = np.arange(N_DAYS)
        # competitor festival discounts during the main phase of 618 and double 11
        fest = np.where(cal.main_festival, 0.95, 1.0)
        for s in skus:
            n_comp = 3 if rng.random() < 0.5 else 2
            comps = np.sort(rng.choice(len(COMPETITORS), n_comp, replace=False))
            if s == cu_i and COMPETITORS.index(cu["competitor"]) not in comps:
                comps = np.sort(np.r_[comps[:-1], COMPETITORS.index(cu["competitor"])])
            ours = pr["list_price"].iat[s]
            for c in comps:
                position = rng.uniform(0.95, 1.10)
                walk = np.cumsum(rng.normal(0, 0.004, N_DAYS))
                walk = walk - np.convolve(np.pad(walk, 45, mode="edge"), np.ones(91) / 91, mode="valid")
                ratio = position * np.exp(np.clip(walk, -0.03, 0.03)) * fest
                if s == cu_i and COMPETITORS[c] == cu["competitor"]:
                    ratio = np.where((t >= _d(cu["start"])) & (t <= _d(cu["end"])), cu["price_ratio"], ratio)
                price = np.round(ours * ratio) - 0.1
                rows.append(pd.DataFrame({"d": t, "sku": pr["sku"].iat[s], "competitor": COMPETITORS[c], "price": np.round(price, 2)}))
        df = pd.concat(rows, ignore_index=True).sort_values(["d", "sku", "competitor"], kind="stable")
        return pd.DataFrame({"date": _days_to_date(df["d"].to_numpy()), "sku": df["sku"].to_numpy(),
                             "competitor": df["competitor"].to_numpy(), "price": df["price"].to_numpy()})

    # -- search terms --------------------------------------------------------------------------------
    def _search_terms(self):
        rng = _rng(self.seed, "search")
        cal = self.cal
        t = np.arange(N_DAYS)
        st = PLANTED_EVENTS["search_takeoff"]
        growth = np.exp(np.log(1.18) * t / 365)
        fest = np.clip(cal.fest, 0.6, None) ** 0.6
        wk = np.array([1.0, 1.0, 0.98, 0.98, 0.97, 1.06, 1.05])[cal.dow]
        out = []
        for term, cat, base, season, ctr, cvr in SEARCH_TERMS:
            m = base * self.scale * _season_curve(season, cal.doy) * growth * fest * wk
            if term == st["term"]:
                ramp = np.clip((t - _d(st["ramp_start"])) / (_d(st["ramp_end"]) - _d(st["ramp_start"])), 0, 1)
                m = m * (1 + (st["multiplier"] - 1) * ramp)
            if term == st["fading_term"]:
                m = m * np.exp(np.log(st["fading_to"]) * t / (N_DAYS - 1)) / growth
            searches = rng.poisson(m * rng.lognormal(0, 0.07, N_DAYS))
            clicks = rng.binomial(searches, ctr)
            orders = rng.binomial(clicks, cvr)
            out.append(pd.DataFrame({"d": t, "term": term, "searches": searches, "category": CATEGORIES[cat],
                                     "clicks": clicks, "orders": orders}))
        df = pd.concat(out, ignore_index=True).sort_values(["d", "term"], kind="stable")
        return pd.DataFrame({"date": _days_to_date(df["d"].to_numpy()), "term": df["term"].to_numpy(),
                             "searches": df["searches"].to_numpy().astype(np.int64), "category": df["category"].to_numpy(),
                             "clicks": df["clicks"].to_numpy().astype(np.int64), "orders": df["orders"].to_numpy().astype(np.int64)})

    # -- experiments -----------------------------------------------------------------------------------
    def _experiments(self):
        frames = []
        uid = 0
        for name in ("one_page_checkout", "banner_color"):
            e = PLANTED_EVENTS["experiments"][name]
            n = 2 * e["units_per_arm"] * self.scale
            for attempt in range(50):
                rng = _rng(self.seed + 7919 * attempt, "experiment_" + name)
                treat = rng.random(n) < 0.5
                engage = rng.gamma(0.6, 1 / 0.6, n)
                p = np.where(treat, e["treatment_rate"], e["control_rate"]) * engage
                conv = rng.random(n) < np.clip(p, 0, 1)
                rev = np.where(conv, np.round(rng.gamma(3.0, 55.0, n) * np.sqrt(engage), 2), 0.0)
                pre = np.round(engage * 60 * rng.gamma(8.0, 0.125, n) * (rng.random(n) < 0.85), 2)
                n1, n0 = int(treat.sum()), int((~treat).sum())
                r1, r0 = conv[treat].mean(), conv[~treat].mean()
                pool = conv.mean()
                z = (r1 - r0) / np.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n0))
                srm = abs(n1 - n0) / np.sqrt(n) < 1.5
                if name == "banner_color":
                    ok = abs(z) < 1.0 and srm
                else:
                    ok = z > 3.0 and abs((r1 - r0) - (e["treatment_rate"] - e["control_rate"])) < 0.004 and srm
                if ok:
                    break
            lo, hi = _d(e["start"]), _d(e["end"])
            ts = (rng.integers(lo, hi + 1, n) * DAY + _choice_idx(rng, HOURS, n) * 3600 + rng.integers(0, 3600, n))
            srt = np.argsort(ts, kind="stable")
            frames.append(pd.DataFrame({
                "experiment_id": name,
                "unit_id": np.char.add("V", np.char.zfill((uid + np.arange(1, n + 1)).astype(str), 7)),
                "variant": np.where(treat, "treatment", "control")[srt],
                "assigned_ts": _secs_to_ts(ts[srt]),
                "converted": conv[srt].astype(np.int64),
                "revenue": rev[srt],
                "pre_metric": pre[srt],
            }))
            uid += n
        return pd.concat(frames, ignore_index=True)

    # -- touchpoints --------------------------------------------------------------------------------
    def _touchpoints(self, o):
        rng = _rng(self.seed, "touchpoints")
        N = len(o["sec"])
        # contacts before first orders (2-4) and before some repeat orders (1-2); potential customers too
        k = np.where(o["first"], 1 + rng.poisson(1.6, N), np.where(rng.random(N) < 0.45, 1 + rng.poisson(0.5, N), 0))
        k = np.minimum(k, 6)
        idx = np.repeat(np.arange(N), k)
        offs = np.r_[0, np.cumsum(k)[:-1]]
        pos = np.arange(len(idx)) - np.repeat(offs, k)
        last = pos == np.repeat(k - 1, k)
        # seeding channels (douyin, xiaohongshu) come early, the shop's own channels late
        early = np.array([.24, .12, .28, .26, .04, .06])
        ch = _choice_idx(rng, early, len(idx))
        ch = np.where(last & (rng.random(len(idx)) < 0.7), o["channel"][idx], ch)
        back = np.where(last, rng.uniform(60, 3 * 3600, len(idx)), rng.exponential(4 * DAY, len(idx)) + 3 * 3600)
        ts = o["sec"][idx] - back.astype(np.int64)
        cust = o["cust"][idx]
        # potential customers: contacts after sign-up that never led to a purchase
        c = self.c
        pot = np.flatnonzero(c["potential"])
        kp = 1 + rng.poisson(1.5, len(pot))
        pidx = np.repeat(pot, kp)
        pts = c["signup_sec"][pidx] + (rng.exponential(20, len(pidx)) * DAY).astype(np.int64)
        pch = _choice_idx(rng, early, len(pidx))
        ok = pts < N_DAYS * DAY
        cust = np.r_[cust, pidx[ok]]
        ts = np.r_[ts, pts[ok]]
        ch = np.r_[ch, pch[ok]]
        keep = ts >= 0
        cust, ts, ch = cust[keep], ts[keep], ch[keep]
        srt = np.lexsort((ch, cust, ts))
        return pd.DataFrame({
            "customer_id": c["customer_id"][cust[srt]],
            "ts": _secs_to_ts(ts[srt]),
            "channel": np.array(CHANNELS)[ch[srt]],
        })

    # -- targets ---------------------------------------------------------------------------------------
    def _targets(self, o):
        rng = _rng(self.seed, "targets")
        cal = self.cal
        months = np.unique(cal.month_str)
        n_m, n_c = len(months), len(CHANNELS)
        om = np.searchsorted(months, cal.month_str)[o["day"]]
        live = ~o["cancelled"]
        ncust = len(self.c["signup_sec"])
        # new customers: signed up in the data's period, first order not cancelled
        is_first = np.zeros(len(om), dtype=bool)
        is_first[np.unique(o["cust"], return_index=True)[1]] = True
        newc = is_first & live & (self.c["signup_sec"][o["cust"]] >= 0)
        vis_day = np.zeros((N_DAYS, n_c))
        for k, (ci, _) in enumerate(self.traffic_combos):
            vis_day[:, ci] += self.traffic_V[:, k]
        vis_m = np.zeros((n_m, n_c))
        np.add.at(vis_m, np.searchsorted(months, cal.month_str), vis_day)
        rows = []
        for scope in [None] + list(range(n_c)):
            in_scope = np.ones(len(om), dtype=bool) if scope is None else o["channel"] == scope
            sel = live & in_scope
            gmv = np.bincount(om[sel], o["paid"][sel], n_m)
            n = np.bincount(om[sel], minlength=n_m).astype(float)
            buyers = np.bincount(np.unique(om[sel].astype(np.int64) * ncust + o["cust"][sel]) // ncust, minlength=n_m)
            new = np.bincount(om[newc & in_scope], minlength=n_m)
            vis = vis_m.sum(axis=1) if scope is None else vis_m[:, scope]
            actual = pd.DataFrame({"gmv": gmv, "orders": n, "buyers": buyers.astype(float),
                                   "new_customers": new.astype(float)}, index=months)
            actual["aov"] = gmv / np.maximum(n, 1)
            actual["conversion_rate"] = buyers / vis
            # the plan: a little above what happened (set in advance from the trend)
            lift = np.exp(rng.normal(0.07, 0.05, len(actual)))
            plan = actual.mul(lift, axis=0)
            plan["aov"] = actual["aov"] * np.exp(rng.normal(0.02, 0.02, len(actual)))
            plan["conversion_rate"] = actual["conversion_rate"] * np.exp(rng.normal(0.03, 0.03, len(actual)))
            # the next two months: a year earlier plus a growth goal
            for fm, lm in (("2026-11", "2025-11"), ("2026-12", "2025-12")):
                plan.loc[fm] = actual.loc[lm] * 1.3
                plan.loc[fm, "aov"] = actual.loc[lm, "aov"] * 1.03
                plan.loc[fm, "conversion_rate"] = actual.loc[lm, "conversion_rate"] * 1.02
            decimals = {"gmv": -2, "aov": 2, "conversion_rate": 4}
            for metric in ["gmv", "orders", "buyers", "new_customers", "aov", "conversion_rate"]:
                v = np.round(plan[metric].to_numpy(dtype=float), decimals.get(metric, 0))
                rows.append(pd.DataFrame({"month": plan.index.to_numpy(), "metric": metric, "value": v,
                                          "channel": "" if scope is None else CHANNELS[scope]}))
        df = pd.concat(rows, ignore_index=True)
        df = df.sort_values(["month", "channel", "metric"], kind="stable").reset_index(drop=True)
        df["channel"] = df["channel"].replace("", np.nan)
        return df


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def generate_sample_shop(*, seed: int = DEFAULT_SEED, scale: int = 1) -> dict[str, pd.DataFrame]:
    """Generate every table of the data contract for the sample shop, in memory.

    Parameters
    ----------
    seed : int
        Seed of all random streams; the same seed and scale give the same tables.
    scale : int
        Multiplies customers, orders, traffic, searches and experiment units; the range grows by
        ``sqrt(scale)``.

    Returns
    -------
    dict[str, pandas.DataFrame]
        One DataFrame per contract table. Timestamps and dates are ``datetime64[s]`` columns
        (dates at midnight), months are ``YYYY-MM`` strings, money is rounded to 2 decimals.
    """
    return _Shop(seed, scale).build()


def _ls(text: str):
    """A large_string Arrow scalar (the type of every text column the CSV writer builds)."""
    import pyarrow as pa

    return pa.scalar(text, pa.large_string())


_SAFE_FLOAT = (1e-4, 1e16)  # numpy's plain notation (Arrow's too when it writes no exponent)


def _float_text(values: np.ndarray):
    """Floats as pandas' ``to_csv`` writes them (numpy's shortest repr: ``100.0``, ``1e-05``;
    NaN empty), as an Arrow string array: Arrow formats the usual range, numpy the rest."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = np.asarray(values, dtype="float64")
    text = pc.cast(pa.array(values, from_pandas=True), pa.large_string())
    plain = pc.match_substring_regex(text, r"[.en]")
    exponent = pc.fill_null(pc.match_substring(text, "e"), False).to_numpy(zero_copy_only=False)
    text = pc.if_else(plain, text, pc.binary_join_element_wise(text, _ls(".0"), _ls("")))
    mag = np.abs(values)
    # numpy writes an exponent below 1e-4 and from 1e16; Arrow has its own thresholds
    odd = ~np.isnan(values) & (exponent | ((mag < _SAFE_FLOAT[0]) & (values != 0)) | (mag >= _SAFE_FLOAT[1])
                               | (np.signbit(values) & (values == 0)))
    if odd.any():  # rare: let numpy write these exactly as pandas would
        fixed = text.to_numpy(zero_copy_only=False).astype(object)
        fixed[odd] = values[odd].astype(str)
        text = pa.array(fixed, type=pa.large_string())
    return pc.fill_null(text, _ls(""))


def _datetime_text(values: np.ndarray, with_time: bool):
    """``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS`` of datetime64 values (NaT empty) as an Arrow
    string array, from integer arithmetic on the digits (Arrow's strftime takes ~2 us a value)."""
    import pyarrow as pa

    values = np.asarray(values).astype("datetime64[s]")
    nat = np.isnat(values)
    secs = np.where(nat, 0, values.astype(np.int64))
    days, sod = np.divmod(secs, 86400)
    # civil date from days since 1970-01-01 (H. Hinnant's algorithm)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    fields = [(year, 4), ("-", 0), (month, 2), ("-", 0), (day, 2)]
    if with_time:
        hour, rest = np.divmod(sod, 3600)
        minute, second = np.divmod(rest, 60)
        fields += [(" ", 0), (hour, 2), (":", 0), (minute, 2), (":", 0), (second, 2)]
    width = sum(w or 1 for _, w in fields)
    out = np.empty((len(values), width), dtype=np.uint8)
    col = 0
    for value, digits in fields:
        if not digits:
            out[:, col] = ord(value)
            col += 1
            continue
        for k in range(digits):
            out[:, col + k] = (value // 10 ** (digits - 1 - k)) % 10 + 48
        col += digits
    lengths = np.where(nat, 0, width)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    data = out[~nat].tobytes()
    return pa.LargeStringArray.from_buffers(len(values), pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))


def _csv_column(series: pd.Series, fmt: str | None):
    """One column as the text pandas' ``to_csv`` writes (QUOTE_MINIMAL, missing values empty)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = series.dtype
    if dtype.kind == "M":
        return _datetime_text(series.to_numpy(), with_time="%H" in fmt)
    elif dtype.kind == "f":
        return _float_text(series.to_numpy())
    elif dtype.kind == "b" or str(dtype) == "boolean":
        arr = pa.array(series, from_pandas=True, type=pa.bool_())
        text = pc.if_else(arr, "True", "False")
    elif dtype.kind in "iu" or str(dtype) in ("Int64", "Int32"):
        text = pc.cast(pa.array(series, from_pandas=True), pa.large_string())
    else:
        arr = pa.array(series.astype("str"), from_pandas=True)
        text = pc.cast(arr, pa.large_string())
        quote = pc.match_substring_regex(text, '[,"\n\r]')
        if pc.any(quote).as_py():
            quoted = pc.binary_join_element_wise(_ls('"'), pc.replace_substring(text, '"', '""'), _ls('"'), _ls(""))
            text = pc.if_else(quote, quoted, text)
    return pc.fill_null(pc.cast(text, pa.large_string()), _ls(""))


def _csv_bytes(df: pd.DataFrame, table: str, header: bool) -> memoryview:
    """The CSV text of ``df`` (UTF-8, ``\n`` line ends), byte for byte what ``df.to_csv`` writes
    after dates are formatted YYYY-MM-DD and timestamps YYYY-MM-DD HH:MM:SS; built column-wise
    with Arrow instead of row by row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dates = set(DATE_COLUMNS.get(table, []))
    cols = [_csv_column(df[c], "%Y-%m-%d" if c in dates else "%Y-%m-%d %H:%M:%S") for c in df.columns]
    lines = cols[0] if len(cols) == 1 else pc.binary_join_element_wise(*cols, _ls(","))
    lines = pc.binary_join_element_wise(lines, _ls(""), _ls("\n"))  # "row" + "\n" + ""
    lines = pa.concat_arrays(lines.chunks) if isinstance(lines, pa.ChunkedArray) else lines
    body = b""
    if len(lines):
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
        body = memoryview(lines.buffers()[2])[offsets[0]:offsets[-1]]
    if not header:
        return body
    head = (",".join(f'"{c}"' if any(x in c for x in ',"\n\r') else c for c in df.columns) + "\n").encode()
    return memoryview(head + bytes(body))


def _write_csv(df: pd.DataFrame, table: str, handle, chunk: int = 200_000) -> None:
    """CSV text in chunks: dates as YYYY-MM-DD, timestamps as YYYY-MM-DD HH:MM:SS, \\n endings
    (the bytes ``DataFrame.to_csv`` gives, written by :func:`_csv_bytes`). ``handle`` is binary."""
    for start in range(0, max(len(df), 1), chunk):
        handle.write(_csv_bytes(df.iloc[start:start + chunk], table, header=start == 0))


class _BackgroundWriter:
    """Writes byte chunks to a (gzip) file in a second thread: zlib releases the GIL, so the
    compression of one chunk runs while the next is formatted."""

    def __init__(self, handle):
        import queue
        import threading

        self.handle = handle
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self.handle.write(item)
                except BaseException as e:  # re-raised in close()
                    self.error = e

    def write(self, data) -> None:
        self.queue.put(bytes(data))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


FORMATS = ("csv", "parquet")


def _write_parquet(df: pd.DataFrame, path: pathlib.Path) -> None:
    """A table as Parquet (zstd): timestamps as timestamps, text as strings, ints and floats as such."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, compression="zstd")


def write_sample_shop(out_dir, *, seed: int = DEFAULT_SEED, scale: int = 1, fmt: str = "csv",
                      compresslevel: int = 6) -> dict[str, pathlib.Path]:
    """Generate the sample shop and write every table into ``out_dir``.

    With ``fmt="csv"`` small tables are written as ``<table>.csv``, large ones as
    ``<table>.csv.gz`` (gzip with mtime 0 and ``compresslevel``, so the bytes are reproducible),
    UTF-8 without BOM, ``\\n`` line endings. With ``fmt="parquet"`` every table is
    ``<table>.parquet`` (zstd). Tables are generated one after the other and each is freed once
    written.

    Returns
    -------
    dict[str, pathlib.Path]
        The path written for each table.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, table in _Shop(seed, scale).iter_tables():
        path = out / (f"{name}.parquet" if fmt == "parquet" else TABLE_FILES[name])
        # remove the other variants of the file if they exist from an earlier run
        for other in (f"{name}.csv", f"{name}.csv.gz", f"{name}.parquet"):
            if other != path.name and (out / other).exists():
                (out / other).unlink()
        if fmt == "parquet":
            _write_parquet(table, path)
        else:
            with open(path, "wb") as raw:
                if path.suffix == ".gz":
                    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="", compresslevel=compresslevel) as gz:
                        writer = _BackgroundWriter(gz)
                        try:
                            _write_csv(table, name, writer)
                        finally:
                            writer.close()
                else:
                    _write_csv(table, name, raw)
        paths[name] = path
        del table
    return {name: paths[name] for name in TABLE_ORDER}


def planted_event_ids(tables: dict[str, pd.DataFrame]) -> dict[str, object]:
    """Look up the data-dependent ids of the planted events (customers, POs, reviews) in ``tables``.

    The constants in :data:`PLANTED_EVENTS` (dates, SKUs, phone, supplier, carrier) drive the
    generator; the ids below follow from them and the seed.
    """
    pe = PLANTED_EVENTS
    cust = tables["customers"]
    orders = tables["orders"]
    ring = cust.loc[cust["phone"] == pe["fraud_ring"]["phone"], "customer_id"].tolist()
    ring_orders = orders.loc[orders["customer_id"].isin(ring), "order_id"].tolist()
    ch = contact_hash(pe["fraud_ring"]["phone"])
    od = orders.drop_duplicates(["customer_id", "address_hash"])
    shared = od.groupby("address_hash")["customer_id"].nunique()
    fam_hashes = [h for h in shared[shared >= 2].index if not orders.loc[orders["address_hash"] == h, "customer_id"].isin(ring).any()]
    fams = {h: sorted(od.loc[od["address_hash"] == h, "customer_id"].unique().tolist()) for h in sorted(fam_hashes)}
    po = tables["purchase_orders"]
    so = pe["stockout"]
    overdue = po.loc[(po["sku"] == so["sku"]) & (po["expected_date"] == pd.Timestamp(so["overdue_po"]["expected_date"])), "po_id"].tolist()
    rv = tables["reviews"]
    br = pe["bad_review_spike"]
    spike = rv[(rv["sku"] == br["sku"]) & (rv["rating"] <= 2) & (rv["review_ts"] >= pd.Timestamp(br["start"]))]
    return {
        "fraud_ring_customer_ids": ring,
        "fraud_ring_order_ids": ring_orders,
        "fraud_ring_contact_hash": ch,
        "family_address_hashes": fams,
        "stockout_overdue_po_ids": overdue,
        "bad_review_spike_review_ids": spike["review_id"].tolist(),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Write the playbook's sample shop (every table of the data contract).")
    ap.add_argument("--out", default="data/samples", help="output folder (default data/samples)")
    ap.add_argument("--scale", type=int, default=1, help="multiply customers, orders and traffic (default 1)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    ap.add_argument("--format", choices=FORMATS, default="csv", dest="fmt",
                    help="csv (default: .csv and .csv.gz files) or parquet (one .parquet file per table)")
    ap.add_argument("--compresslevel", type=int, default=6, choices=range(0, 10), metavar="0-9",
                    help="gzip level of the .csv.gz files (default 6; 1 writes large shops faster)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    paths = write_sample_shop(args.out, seed=args.seed, scale=args.scale, fmt=args.fmt, compresslevel=args.compresslevel)
    for name, p in paths.items():
        print(f"{name:18s} {p}  {p.stat().st_size / 1e6:7.2f} MB")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
