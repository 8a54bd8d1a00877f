"""The shipped mappings (playbook/mappings/*.toml): each parses and maps to real contract columns, and each
platform's mapping imports a small synthetic export written with the platform's documented headers (GBK or
UTF-8, money written as ¥1,234.00, a 合计 footer line, one row of each order status)."""
from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

import playbook
from playbook import metrics
from playbook.contract import TABLES
from playbook.importers import MAPPINGS_DIR, ExportError, Mapping, run_import

SHIPPED = sorted(MAPPINGS_DIR.glob("*.toml"))
#: header words that mean a buyer's name, phone, address or account: never mapped (region columns aside)
PERSONAL = ("姓名", "电话", "手机", "详细", "地址", "昵称", "帐号", "账号", "收件人", "收货人/")


def write_export(path: Path, header: list[str], rows: list[dict], *, encoding: str) -> Path:
    """A CSV export: ``header`` in order, each row a {header: cell} dict (missing cells empty)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        unknown = set(row) - set(header)
        assert not unknown, f"test row uses headers the export does not have: {unknown}"
        writer.writerow([row.get(h, "") for h in header])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def mapped(name: str) -> Path:
    return MAPPINGS_DIR / name


# ---------------------------------------------------------------------------------------------
# Every shipped mapping
# ---------------------------------------------------------------------------------------------

def test_the_platform_mappings_are_shipped():
    names = {p.name for p in SHIPPED}
    assert {"douyin_orders.toml", "douyin_order_items.toml", "pinduoduo_orders.toml", "jd_order_items.toml",
            "youzan_orders.toml", "tmall_order_report.toml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_mapping_parses_and_maps_to_contract_columns(path):
    spec = Mapping.read(path)  # raises on an unknown table or column
    table = TABLES[spec.table]
    assert spec.name and spec.notes.strip(), "a shipped mapping says what it is and where its headers come from"
    assert set(spec.columns) <= set(table.names)
    assert set(spec.constants) <= set(table.names)
    assert spec.key in spec.columns.values(), "the key header must be one the mapping requires"
    assert len(set(spec.columns.values())) == len(spec.columns), "one export header per contract column"
    required = {c.name for c in table.columns if c.required} - {"customer_id"}  # buyer identity may be absent
    assert required <= set(spec.columns) | set(spec.constants), f"{path.name} lacks {required - set(spec.columns)}"
    for col, translation in spec.values.items():
        assert col in spec.columns, f"[values.{col}] translates a column the mapping does not map"
        enum = table.column(col).enum
        if enum:
            assert set(translation.values()) <= set(enum), f"{path.name}: {col} values outside {enum}"
    assert not any(table.column(c).personal for c in spec.columns)
    for col, header in spec.columns.items():
        if col not in ("province", "city"):
            assert not any(word in header for word in PERSONAL), f"{path.name} maps personal data: {header}"
    if "channel" in spec.constants:
        assert spec.constants["channel"] == spec.constants["channel"].strip().lower()


# ---------------------------------------------------------------------------------------------
# 抖店 (Douyin shop): order dimension -> orders, product dimension -> order_items
# ---------------------------------------------------------------------------------------------

DOUYIN_ORDER_HEADER = ["主订单编号", "子订单编号", "选购商品", "商品数量", "商家编码", "订单应付金额", "运费", "收件人",
                       "收件人手机号", "详细地址", "订单提交时间", "支付完成时间", "订单状态", "售后状态", "取消原因"]
DOUYIN_ORDERS = [  # ids carry the leading tab 抖店 writes so that Excel keeps the long numbers
    {"主订单编号": "\t6917926768823643751", "子订单编号": "\t6917926768823643752;\t6917926768823643753",
     "选购商品": "辣丝丝;赠品", "商品数量": "3", "商家编码": "SKU-A;SKU-B", "订单应付金额": "¥1,234.00", "运费": "0.00",
     "收件人": "##密文", "收件人手机号": "$$密文", "详细地址": "##密文", "订单提交时间": "2026-09-22 00:54:10",
     "支付完成时间": "2026-09-22 00:54:30", "订单状态": "已完成", "售后状态": "-", "取消原因": ""},
    {"主订单编号": "\t6917926768823643761", "子订单编号": "\t6917926768823643761", "选购商品": "辣丝丝", "商品数量": "1",
     "商家编码": "SKU-A", "订单应付金额": "34.90", "运费": "¥6.00", "收件人": "##密文", "订单提交时间": "2026-09-25 10:00:00",
     "支付完成时间": "2026-09-25 10:00:40", "订单状态": "待发货", "售后状态": "-"},
    {"主订单编号": "\t6917926768823643771", "子订单编号": "\t6917926768823643771", "选购商品": "辣丝丝", "商品数量": "1",
     "商家编码": "SKU-A", "订单应付金额": "28.90", "运费": "0.00", "订单提交时间": "2026-09-26 10:00:00",
     "支付完成时间": "2026-09-26 10:01:00", "订单状态": "已关闭", "售后状态": "退款成功"},
    {"主订单编号": "\t6917926768823643781", "子订单编号": "\t6917926768823643781", "选购商品": "辣丝丝", "商品数量": "1",
     "商家编码": "SKU-A", "订单应付金额": "28.90", "运费": "0.00", "订单提交时间": "2026-09-27 10:00:00",
     "支付完成时间": "-", "订单状态": "待支付", "售后状态": "-"},
    {"主订单编号": "合计", "商品数量": "6", "订单应付金额": "¥1,326.70"},
]

DOUYIN_LINE_HEADER = ["主订单编号", "子订单编号", "选购商品", "商品规格", "商品数量", "商家编码", "商品金额", "订单应付金额", "运费",
                      "收件人", "收件人手机号", "详细地址", "订单提交时间", "订单状态", "售后状态"]
DOUYIN_LINES = [
    {"主订单编号": "\t6917926768823643751", "子订单编号": "\t6917926768823643752", "选购商品": "辣丝丝", "商品规格": "1袋",
     "商品数量": "2", "商家编码": "\tSKU-A", "商品金额": "￥617.00", "订单应付金额": "￥1,234.00", "运费": "0.00",
     "收件人": "##密文", "收件人手机号": "$$密文", "详细地址": "##密文", "订单提交时间": "2026-09-22 00:54:10", "订单状态": "已完成"},
    {"主订单编号": "\t6917926768823643751", "子订单编号": "\t6917926768823643753", "选购商品": "赠品", "商品规格": "默认",
     "商品数量": "1", "商家编码": "SKU-B", "商品金额": "0.00", "订单应付金额": "0.00", "运费": "0.00",
     "订单提交时间": "2026-09-22 00:54:10", "订单状态": "已完成"},
    {"主订单编号": "\t6917926768823643761", "子订单编号": "\t6917926768823643761", "选购商品": "辣丝丝", "商品规格": "1袋",
     "商品数量": "1", "商家编码": "SKU-A", "商品金额": "28.90", "订单应付金额": "34.90", "运费": "6.00",
     "订单提交时间": "2026-09-25 10:00:00", "订单状态": "待发货"},
    {"主订单编号": "\t6917926768823643771", "子订单编号": "\t6917926768823643771", "选购商品": "辣丝丝", "商品规格": "1袋",
     "商品数量": "1", "商家编码": "SKU-A", "商品金额": "28.90", "订单应付金额": "28.90", "运费": "0.00",
     "订单提交时间": "2026-09-26 10:00:00", "订单状态": "已关闭", "售后状态": "退款成功"},
    {"主订单编号": "\t6917926768823643781", "子订单编号": "\t6917926768823643781", "选购商品": "辣丝丝", "商品规格": "1袋",
     "商品数量": "1", "商家编码": "SKU-A", "商品金额": "28.90", "订单应付金额": "28.90", "运费": "0.00",
     "订单提交时间": "2026-09-27 10:00:00", "订单状态": "待支付"},
    {"主订单编号": "合计", "商品数量": "6", "订单应付金额": "￥1,326.70"},
]

DOUYIN_IDS = ["6917926768823643751", "6917926768823643761", "6917926768823643771", "6917926768823643781"]


def test_douyin_order_dimension_export(tmp_path):
    export = write_export(tmp_path / "抖店订单导出.csv", DOUYIN_ORDER_HEADER, DOUYIN_ORDERS, encoding="utf-8-sig")
    report = run_import("mapped", [export], tmp_path / "out", mapping=mapped("douyin_orders.toml"))
    assert report.rows_read == 5 and report.rows_mapped == 4
    assert report.rejected["reason"].tolist() == ["a total or footer line appended by the platform"]
    orders = pd.read_csv(tmp_path / "out" / "orders.csv", dtype=str)
    assert orders["order_id"].tolist() == DOUYIN_IDS  # the leading tab is stripped, no digits lost
    assert orders["status"].tolist() == ["paid", "paid", "refunded", "cancelled"]
    assert orders["paid_amount"].astype(float).tolist() == [1234.0, 34.9, 28.9, 28.9]
    assert orders["shipping_fee"].astype(float).tolist() == [0.0, 6.0, 0.0, 0.0]
    assert orders["order_ts"].tolist()[0] == "2026-09-22 00:54:10"
    assert (orders["channel"] == "douyin").all()
    assert set(orders.columns) == {"order_id", "order_ts", "paid_amount", "shipping_fee", "status", "channel"}
    assert "密文" not in (tmp_path / "out" / "orders.csv").read_text(encoding="utf-8")  # no buyer data written
    t = report.totals
    assert (t["paid orders (status paid)"], t["refunded orders (status refunded)"],
            t["cancelled orders (never paid)"]) == (2, 1, 1)
    assert t["GMV (paid_amount of paid and refunded orders)"] == pytest.approx(1297.8)
    data = playbook.load(tmp_path / "out")
    assert len(data.orders) == 4 and not data.quality.errors
    assert metrics.net_sales(data.orders) == pytest.approx(1268.9)  # the refunded order counts its whole payment


def test_douyin_product_dimension_export_gives_order_lines(tmp_path):
    export = write_export(tmp_path / "抖店商品维度.csv", DOUYIN_LINE_HEADER, DOUYIN_LINES, encoding="gbk")
    report = run_import("mapped", [export], tmp_path / "lines", mapping=mapped("douyin_order_items.toml"))
    assert report.rows_read == 6 and report.rows_mapped == 5 and len(report.rejected) == 1
    assert any("read as gb" in n for n in report.notes)
    items = pd.read_csv(tmp_path / "lines" / "order_items.csv", dtype=str)
    assert items["order_id"].tolist() == [DOUYIN_IDS[0], *DOUYIN_IDS]
    assert items["sku"].tolist() == ["SKU-A", "SKU-B", "SKU-A", "SKU-A", "SKU-A"]
    assert items["qty"].astype(int).tolist() == [2, 1, 1, 1, 1]
    assert items["unit_price"].astype(float).tolist() == [617.0, 0.0, 28.9, 28.9, 28.9]
    assert set(items.columns) == {"order_id", "sku", "qty", "unit_price"}
    assert "密文" not in (tmp_path / "lines" / "order_items.csv").read_text(encoding="utf-8")
    # the two Douyin exports of one period load together: the lines join the orders
    orders_export = write_export(tmp_path / "订单维度.csv", DOUYIN_ORDER_HEADER, DOUYIN_ORDERS, encoding="utf-8-sig")
    run_import("mapped", [orders_export], tmp_path / "out", mapping=mapped("douyin_orders.toml"))
    shutil.copy(tmp_path / "lines" / "order_items.csv", tmp_path / "out" / "order_items.csv")
    data = playbook.load(tmp_path / "out")
    assert len(data["order_items"]) == 5 and not data.quality.errors


def test_a_line_level_douyin_export_cannot_pass_as_orders(tmp_path):
    export = write_export(tmp_path / "lines.csv", DOUYIN_LINE_HEADER, DOUYIN_LINES, encoding="utf-8")
    with pytest.raises(ExportError, match="Order ids repeat"):
        run_import("mapped", [export], tmp_path / "out", mapping=mapped("douyin_orders.toml"))


# ---------------------------------------------------------------------------------------------
# 拼多多 (Pinduoduo)
# ---------------------------------------------------------------------------------------------

PDD_HEADER = ["订单成交时间", "商品", "订单号", "订单状态", "商品总价(元)", "邮费(元)", "店铺优惠折扣(元)", "平台优惠折扣(元)",
              "多多支付立减金额(元)", "用户实付金额(元)", "商家实收金额(元)", "商品数量(件)", "发货时间", "确认收货时间", "商品id",
              "商品规格", "样式ID", "商家编码-规格维度", "商家编码-商品维度", "商家备注", "售后状态", "快递单号", "快递公司"]
PDD_ROWS = [
    {"订单成交时间": "2026-06-06 13:41:00", "商品": "洗面奶打泡机", "订单号": "260606-400000294410900", "订单状态": "已收货",
     "商品总价(元)": "¥1,299.00", "邮费(元)": "0", "店铺优惠折扣(元)": "50", "平台优惠折扣(元)": "15", "多多支付立减金额(元)": "0",
     "用户实付金额(元)": "¥1,234.00", "商家实收金额(元)": "1249.00", "商品数量(件)": "1\t", "商品id": "754299529443",
     "商品规格": "白色", "售后状态": "无售后或售后取消", "快递公司": "申通快递"},
    {"订单成交时间": "2026-06-07 09:00:00", "商品": "洗面奶打泡机", "订单号": "260607-400000294410901",
     "订单状态": "已发货，退款成功", "商品总价(元)": "168.99", "邮费(元)": "0", "店铺优惠折扣(元)": "0", "平台优惠折扣(元)": "0",
     "多多支付立减金额(元)": "0", "用户实付金额(元)": "168.99\t", "商家实收金额(元)": "168.99\t", "商品数量(件)": "1",
     "售后状态": "退款成功"},
    {"订单成交时间": "2026-06-07 10:00:00", "商品": "洗面奶打泡机", "订单号": "260607-400000294410902", "订单状态": "已取消",
     "商品总价(元)": "168.99", "邮费(元)": "0", "用户实付金额(元)": "168.99", "商家实收金额(元)": "168.99", "商品数量(件)": "1",
     "售后状态": "无售后或售后取消"},
    {"订单成交时间": "2026-06-08 11:30:00", "商品": "洗面奶打泡机", "订单号": "260608-400000294410903", "订单状态": "待发货",
     "商品总价(元)": "337.98", "邮费(元)": "8.00", "店铺优惠折扣(元)": "20", "用户实付金额(元)": "325.98",
     "商家实收金额(元)": "325.98", "商品数量(件)": "2", "售后状态": "无售后或售后取消"},
    {"订单成交时间": "", "订单号": "合计：4 条", "用户实付金额(元)": "¥1,897.95"},
]


def test_pinduoduo_export(tmp_path):
    export = write_export(tmp_path / "订单明细-pdd.csv", PDD_HEADER, PDD_ROWS, encoding="utf-8-sig")
    report = run_import("mapped", [export], tmp_path / "out", mapping=mapped("pinduoduo_orders.toml"))
    assert report.rows_mapped == 4 and report.rejected["row"].tolist() == [6]
    orders = pd.read_csv(tmp_path / "out" / "orders.csv", dtype=str)
    assert orders["order_id"].tolist() == ["260606-400000294410900", "260607-400000294410901",
                                           "260607-400000294410902", "260608-400000294410903"]
    assert orders["status"].tolist() == ["paid", "refunded", "cancelled", "paid"]
    assert orders["paid_amount"].astype(float).tolist() == [1234.0, 168.99, 168.99, 325.98]
    assert orders["gross_amount"].astype(float).tolist() == [1299.0, 168.99, 168.99, 337.98]
    assert orders["shipping_fee"].astype(float).tolist() == [0.0, 0.0, 0.0, 8.0]
    assert orders["order_ts"].tolist()[3] == "2026-06-08 11:30:00"
    assert (orders["channel"] == "pinduoduo").all()
    assert report.totals["GMV (paid_amount of paid and refunded orders)"] == pytest.approx(1728.97)
    data = playbook.load(tmp_path / "out")
    assert len(data.orders) == 4 and not data.quality.errors
    assert metrics.net_sales(data.orders) == pytest.approx(1559.98)


def test_every_documented_pinduoduo_status_translates(tmp_path):
    spec = Mapping.read(mapped("pinduoduo_orders.toml"))
    statuses = list(spec.values["status"])
    rows = [{**PDD_ROWS[3], "订单号": f"260608-4000{i:05d}", "订单状态": s} for i, s in enumerate(statuses)]
    export = write_export(tmp_path / "all.csv", PDD_HEADER, rows, encoding="gbk")
    run_import("mapped", [export], tmp_path / "out", mapping=mapped("pinduoduo_orders.toml"))
    got = pd.read_csv(tmp_path / "out" / "orders.csv", dtype=str)["status"].tolist()
    assert got == [spec.values["status"][s] for s in statuses]
    assert all(("退款成功" in s) == (spec.values["status"][s] == "refunded") for s in statuses)


# ---------------------------------------------------------------------------------------------
# 京东 (JD): one row per order line -> order_items
# ---------------------------------------------------------------------------------------------

JD_HEADER = ["订单号", "商品ID", "商品名称", "订购数量", "支付方式", "下单时间", "京东价", "订单金额", "结算金额", "余额支付",
             "应付金额", "订单状态", "订单类型", "下单帐号", "客户姓名", "客户地址", "联系电话", "订单备注", "发票类型", "发票抬头",
             "发票内容", "商家备注", "商家备注等级（等级1-5为由高到低）", "运费金额", "付款确认时间", "增值税发票", "货号",
             "订单完成时间", "订单来源", "订单渠道"]
JD_ROWS = [  # order-level columns (订单金额, 应付金额, 运费金额 …) repeat on each line of an order
    {"订单号": "11729384072", "商品ID": "1953814331", "商品名称": "珍珠银饰 套装", "订购数量": "1", "支付方式": "在线支付",
     "下单时间": "2015-12-31 23:19:56", "京东价": "￥758.00", "订单金额": "￥1,097.00", "结算金额": "932.45",
     "应付金额": "932.45", "订单状态": "等待出库", "订单类型": "销售订单", "下单帐号": "jd_buyer1", "客户姓名": "王某",
     "客户地址": "江西南昌市青山湖区某路1号", "联系电话": "13700000000", "运费金额": "0.00",
     "付款确认时间": "2015-12-31 23:20:30", "订单来源": "移动端订单"},
    {"订单号": "11729384072", "商品ID": "1953814332", "商品名称": "水晶耳钉", "订购数量": "2", "支付方式": "在线支付",
     "下单时间": "2015-12-31 23:19:56", "京东价": "169.50", "订单金额": "￥1,097.00", "结算金额": "932.45",
     "应付金额": "932.45", "订单状态": "等待出库", "订单类型": "销售订单", "下单帐号": "jd_buyer1", "客户姓名": "王某",
     "客户地址": "江西南昌市青山湖区某路1号", "联系电话": "13700000000", "运费金额": "0.00",
     "付款确认时间": "2015-12-31 23:20:30"},
    {"订单号": "11729439936", "商品ID": "1953814331", "商品名称": "珍珠银饰 套装", "订购数量": "1", "下单时间": "2016-01-01 08:00:00",
     "京东价": "758.00", "订单金额": "758.00", "应付金额": "758.00", "订单状态": "完成", "客户姓名": "李某",
     "联系电话": "13800000000", "运费金额": "0.00", "付款确认时间": "2016-01-01 08:01:00",
     "订单完成时间": "2016-01-05 12:00:00"},
    {"订单号": "11749907506", "商品ID": "1953814333", "商品名称": "银手链", "订购数量": "1", "下单时间": "2016-01-02 09:00:00",
     "京东价": "￥1,234.00", "订单金额": "1234.00", "应付金额": "1234.00", "订单状态": "(删除)等待出库", "客户姓名": "赵某"},
    {"订单号": "合计", "订购数量": "5", "订单金额": "￥3,089.00"},
]


def test_jd_export_gives_order_lines(tmp_path):
    export = write_export(tmp_path / "京东订单.csv", JD_HEADER, JD_ROWS, encoding="gbk")
    report = run_import("mapped", [export], tmp_path / "out", mapping=mapped("jd_order_items.toml"))
    assert report.rows_read == 5 and report.rows_mapped == 4 and len(report.rejected) == 1
    assert not report.totals  # no orders table: nothing to total
    items = pd.read_csv(tmp_path / "out" / "order_items.csv", dtype=str)
    assert items["order_id"].tolist() == ["11729384072", "11729384072", "11729439936", "11749907506"]
    assert items["sku"].tolist() == ["1953814331", "1953814332", "1953814331", "1953814333"]
    assert items["qty"].astype(int).tolist() == [1, 2, 1, 1]
    assert items["unit_price"].astype(float).tolist() == [758.0, 169.5, 758.0, 1234.0]
    text = (tmp_path / "out" / "order_items.csv").read_text(encoding="utf-8")
    assert "王某" not in text and "13700000000" not in text and "jd_buyer1" not in text
    assert not (tmp_path / "out" / "orders.csv").exists()


# ---------------------------------------------------------------------------------------------
# 有赞 (Youzan)
# ---------------------------------------------------------------------------------------------

YOUZAN_HEADER = ("订单号,销售渠道,归属店铺,订单类型,订单状态,推广方式,订单来源,订单创建时间,买家付款时间,交易成功时间,付款方式,支付流水号,"
                 "商品金额合计,运费,店铺优惠合计,应收订单金额,订单实付金额,支付优惠合计,订单实收金额,订单抵用积分数,店铺优惠方式,支付优惠方式,"
                 "全部商品名称,商品种类数,订单配送方式,同城送达时间/提货时间,收货人省份,收货人城市,收货人地区,详细收货地址/提货地址,"
                 "收货人/提货人,收货人手机号/提货人手机号,买家备注,订单星级,买家昵称,买家是否会员,买家手机号,下单网点,收银员,分销员,销售导购,"
                 "专属导购,订单退款状态,订单已退款金额,商家订单备注,桌号,挂账主体,挂账手机号,团长订单,订单风险标签").split(",")
YOUZAN_ROWS = [
    {"订单号": "E20260619100000001", "销售渠道": "网店", "订单类型": "普通订单", "订单状态": "交易成功",
     "订单创建时间": "2026-06-19 10:00:00", "买家付款时间": "2026-06-19 10:01:00", "付款方式": "微信支付",
     "商品金额合计": "￥1,300.00", "运费": "0.00", "店铺优惠合计": "66.00", "应收订单金额": "1234.00", "订单实付金额": "￥1,234.00",
     "全部商品名称": "草莓蛋糕(数量：2)", "商品种类数": "1", "收货人省份": "北京市", "收货人城市": "北京市", "收货人地区": "朝阳区",
     "详细收货地址/提货地址": "某路1号", "收货人/提货人": "Alice", "收货人手机号/提货人手机号": "13800138000",
     "买家昵称": "Alice", "买家手机号": "13800138000", "订单已退款金额": "30.00", "订单退款状态": "部分退款", "订单风险标签": "——"},
    {"订单号": "E20260619110000002", "订单状态": "待发货", "订单创建时间": "2026-06-19 11:00:00",
     "买家付款时间": "2026-06-19 11:01:00", "商品金额合计": "200.00", "运费": "￥10.00", "订单实付金额": "210.00",
     "收货人省份": "上海市", "收货人城市": "上海市", "订单已退款金额": "0.00", "订单风险标签": "——"},
    {"订单号": "E20260619120000003", "订单状态": "交易关闭", "订单创建时间": "2026-06-19 12:00:00",
     "商品金额合计": "300.00", "运费": "0.00", "订单实付金额": "300.00", "收货人省份": "广东省", "收货人城市": "广州市",
     "订单已退款金额": "0.00", "订单风险标签": "——"},
    {"订单号": "E20260619130000004", "订单状态": "待付款", "订单创建时间": "2026-06-19 13:00:00",
     "商品金额合计": "88.00", "运费": "0.00", "订单实付金额": "88.00", "收货人省份": "浙江省", "收货人城市": "杭州市",
     "订单已退款金额": "0.00"},
    {"订单号": "合计", "订单实付金额": "1832.00"},
]


def test_youzan_export(tmp_path):
    export = write_export(tmp_path / "有赞订单.csv", YOUZAN_HEADER, YOUZAN_ROWS, encoding="gbk")
    report = run_import("mapped", [export], tmp_path / "out", mapping=mapped("youzan_orders.toml"))
    assert report.rows_mapped == 4 and len(report.rejected) == 1
    orders = pd.read_csv(tmp_path / "out" / "orders.csv", dtype=str)
    assert orders["status"].tolist() == ["paid", "paid", "cancelled", "cancelled"]
    assert orders["paid_amount"].astype(float).tolist() == [1234.0, 210.0, 300.0, 88.0]
    assert orders["gross_amount"].astype(float).tolist() == [1300.0, 200.0, 300.0, 88.0]
    assert orders["shipping_fee"].astype(float).tolist() == [0.0, 10.0, 0.0, 0.0]
    assert orders["refund_amount"].astype(float).tolist() == [30.0, 0.0, 0.0, 0.0]
    assert orders["province"].tolist() == ["北京市", "上海市", "广东省", "浙江省"]
    assert orders["city"].tolist()[3] == "杭州市"
    assert (orders["channel"] == "youzan").all()
    text = (tmp_path / "out" / "orders.csv").read_text(encoding="utf-8")
    assert "13800138000" not in text and "Alice" not in text and "某路" not in text
    t = report.totals
    assert t["GMV (paid_amount of paid and refunded orders)"] == pytest.approx(1444.0)
    assert t["refunds"] == pytest.approx(30.0)  # a partial refund on a paid order
    data = playbook.load(tmp_path / "out")
    assert len(data.orders) == 4 and not data.quality.errors


def test_an_unlisted_status_names_the_line_and_the_fix(tmp_path):
    rows = [YOUZAN_ROWS[0], {**YOUZAN_ROWS[1], "订单状态": "已发货，待签收"}]
    export = write_export(tmp_path / "yz.csv", YOUZAN_HEADER, rows, encoding="utf-8")
    with pytest.raises(ExportError, match=r"line 3 \('已发货，待签收'\).*\[values.status\]"):
        run_import("mapped", [export], tmp_path / "out", mapping=mapped("youzan_orders.toml"))
