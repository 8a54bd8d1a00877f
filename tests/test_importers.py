"""Importers: the real Tmall report ties out to the yuan, mapped Chinese exports (GBK, ¥, footers),
Shopify, and clear errors on malformed exports."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import playbook
from playbook import metrics
from playbook.importers import ExportError, run_import

ROOT = Path(__file__).resolve().parent.parent
TMALL = ROOT.parent / "shared" / "realdata" / "tmall_order_report.csv"


@pytest.mark.skipif(not TMALL.exists(), reason="../shared/realdata is not beside the checkout")
def test_tmall_report_accounts_for_every_order(tmp_path):
    report = run_import("tmall", [TMALL], tmp_path / "out")
    raw = pd.read_csv(TMALL, dtype=str)
    assert report.rows_read == len(raw) == 28010
    assert report.rows_mapped + len(report.rejected) == 28010 and len(report.rejected) == 0
    t = report.totals
    # worked out from the export: 3,923 rows without 订单付款时间; 5,132 paid rows with 买家实际支付金额 0
    # (all fully refunded: 退款金额 = 总金额); the rest paid, 270 + 204 + 40 of them with a partial refund
    assert (t["cancelled orders (never paid)"], t["refunded orders (status refunded)"],
            t["paid orders (status paid)"]) == (3923, 5132, 18955)
    paid_net = pd.to_numeric(raw["买家实际支付金额"]).sum()
    refunds = pd.to_numeric(raw["退款金额"]).sum()
    assert t["net sales (GMV - refunds)"] == pytest.approx(paid_net, abs=0.005)  # 1,902,487.15
    assert t["refunds"] == pytest.approx(refunds, abs=0.005)  # 572,335.92
    assert t["GMV (paid_amount of paid and refunded orders)"] + t["order value of cancelled orders (gross_amount)"] \
        == pytest.approx(pd.to_numeric(raw["总金额"]).sum(), abs=0.005)  # 2,995,760.61
    assert any("customer_id" in m for m in report.missing) and any("order_items" in m for m in report.missing)
    data = playbook.load(tmp_path / "out", month="2020-02")
    assert len(data.orders) == 28010 and not data.quality.errors
    assert data.orders["order_ts"].min() >= pd.Timestamp("2020-02-01")
    assert metrics.net_sales(data.orders) == pytest.approx(paid_net, abs=0.005)
    assert (data.orders["channel"] == "tmall").all()


MAPPING = """name = "a shop's order export"
table = "orders"
key = "订单编号"
[columns]
order_id = "订单编号"
customer_id = "买家会员名"
paid_amount = "买家实际支付金额"
order_ts = "订单创建时间"
[constants]
channel = "jd"
"""
EXPORT = """订单编号,买家会员名,买家实际支付金额,订单创建时间
10001,tb_abc,"¥1,234.50",2026/10/1 9:05
10002,tb_def,￥88.00,2026年10月2日 10:00
10003,tb_abc,99,2026-10-03 11:00:00
合计,,"¥1,421.50",
"""


@pytest.fixture
def mapping(tmp_path):
    path = tmp_path / "shop.toml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


def test_mapped_gbk_export_with_money_text_and_a_total_line(tmp_path, mapping):
    export = tmp_path / "orders_export.csv"
    export.write_bytes(EXPORT.encode("gb18030"))  # GBK's superset: also encodes the half-width ¥
    report = run_import("mapped", [export], tmp_path / "out", mapping=mapping)
    assert report.rows_read == 4 and report.rows_mapped == 3
    assert report.rejected["reason"].tolist() == ["a total or footer line appended by the platform"]
    assert report.rejected["row"].tolist() == [5]  # line 5 of the file
    orders = pd.read_csv(tmp_path / "out" / "orders.csv", dtype=str)
    assert orders["paid_amount"].astype(float).tolist() == [1234.5, 88.0, 99.0]
    assert orders["order_ts"].tolist() == ["2026-10-01 09:05:00", "2026-10-02 10:00:00", "2026-10-03 11:00:00"]
    assert report.totals["GMV (paid_amount of paid and refunded orders)"] == 1421.5  # = the export's own total line
    assert (tmp_path / "out" / "_rejected_rows.csv").exists()
    assert export.read_bytes() == EXPORT.encode("gb18030")  # the export is never modified


def test_mapped_excel_export(tmp_path, mapping):
    frame = pd.read_csv(pd.io.common.StringIO(EXPORT), dtype=str)
    frame.to_excel(tmp_path / "export.xlsx", index=False)
    report = run_import("mapped", [tmp_path / "export.xlsx"], tmp_path / "out", mapping=mapping)
    assert report.rows_mapped == 3 and len(report.rejected) == 1


@pytest.mark.parametrize("change, message", [
    (("买家实际支付金额", "实付"), "has no column '买家实际支付金额'"),
    (("￥88.00", "八十八"), "column '买家实际支付金额' (-> orders.paid_amount) has 1 value(s) that are not money: line 3 ('八十八')"),
    (("2026-10-03 11:00:00", "yesterday"), "column '订单创建时间' (-> orders.order_ts) has 1 value(s) that are not timestamp: line 4 ('yesterday')"),
])
def test_malformed_exports_name_file_column_and_lines(tmp_path, mapping, change, message):
    export = tmp_path / "bad_export.csv"
    export.write_text(EXPORT.replace(*change), encoding="utf-8")
    with pytest.raises(ExportError) as info:
        run_import("mapped", [export], tmp_path / "out", mapping=mapping)
    assert "bad_export.csv" in str(info.value) and message in str(info.value)
    assert not (tmp_path / "out").exists()


def test_output_folder_must_be_new(tmp_path, mapping):
    export = tmp_path / "e.csv"
    export.write_text(EXPORT, encoding="utf-8")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "orders.csv").write_text("keep me")
    with pytest.raises(ExportError, match="not empty"):
        run_import("mapped", [export], tmp_path / "out", mapping=mapping)
    assert (tmp_path / "out" / "orders.csv").read_text() == "keep me"


SHOPIFY = """Name,Email,Financial Status,Paid at,Fulfillment Status,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Subtotal,Shipping,Discount Amount,Total,Refunded Amount,Billing Province
#1001,Ann@Example.com ,paid,2026-10-01 10:05:00 +0800,fulfilled,2026-10-01 10:00:00 +0800,2,Camp chair,50.00,CHAIR-1,130.00,10.00,20.00,120.00,0.00,ZJ
#1001,,,,,,1,Lantern,30.00,LAMP-2,,,,,,
#1002,bob@example.com,refunded,2026-10-02 09:00:00 +0800,,2026-10-02 08:59:00 +0800,1,Lantern,30.00,LAMP-2,30.00,0.00,0.00,30.00,30.00,BJ
"""


def test_shopify_export_one_row_per_line_item(tmp_path):
    export = tmp_path / "orders_export.csv"
    export.write_text(SHOPIFY, encoding="utf-8")
    report = run_import("shopify", [export], tmp_path / "out")
    orders = pd.read_csv(tmp_path / "out" / "orders.csv", dtype=str)
    items = pd.read_csv(tmp_path / "out" / "order_items.csv", dtype=str)
    assert orders["order_id"].tolist() == ["#1001", "#1002"]
    assert orders["status"].tolist() == ["paid", "refunded"]
    assert orders["paid_amount"].astype(float).tolist() == [120.0, 30.0]
    assert items["sku"].tolist() == ["CHAIR-1", "LAMP-2", "LAMP-2"] and items["qty"].tolist() == ["2", "1", "1"]
    assert "example.com" not in (tmp_path / "out" / "orders.csv").read_text().lower()  # emails hashed
    assert orders["customer_id"].str.match(r"^E[0-9a-f]{12}$").all()
    assert report.totals["refunds"] == 30.0
    data = playbook.load(tmp_path / "out")
    assert data.orders["order_ts"].tolist() == [pd.Timestamp("2026-10-01 10:00"), pd.Timestamp("2026-10-02 08:59")]


def test_mapping_translates_status_values(tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING + '[values.status]\n"交易成功" = "paid"\n"交易关闭" = "cancelled"\n', encoding="utf-8")
    mapping.write_text(mapping.read_text(encoding="utf-8").replace('order_ts = "订单创建时间"', 'order_ts = "订单创建时间"\nstatus = "订单状态"'), encoding="utf-8")
    export = tmp_path / "e.csv"
    export.write_text("订单编号,买家会员名,买家实际支付金额,订单创建时间,订单状态\n1,a,10,2026-10-01 10:00:00,交易成功\n"
                      "2,b,0,2026-10-01 11:00:00,交易关闭\n", encoding="utf-8")
    run_import("mapped", [export], tmp_path / "out", mapping=mapping)
    assert pd.read_csv(tmp_path / "out" / "orders.csv")["status"].tolist() == ["paid", "cancelled"]
    export.write_text(export.read_text(encoding="utf-8") + "3,c,5,2026-10-02 10:00:00,等待发货\n", encoding="utf-8")
    with pytest.raises(ExportError, match=r"does not translate: line 4 \('等待发货'\)"):
        run_import("mapped", [export], tmp_path / "out2", mapping=mapping)
