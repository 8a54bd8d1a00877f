"""Partial data is normal: an orders-only source (the real Tmall report, imported) and a
transactions-only source (customer, date, amount) both give a complete pack in which every chapter
runs and the sections that cannot run say what they would need."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from playbook.importers import run_import
from playbook.report import chapter_notebooks, run_report

ROOT = Path(__file__).resolve().parent.parent
TMALL = ROOT.parent / "shared" / "realdata" / "tmall_order_report.csv"


def _check_pack(folder: Path) -> str:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert {k: v["status"] for k, v in summary["chapters"].items()} == \
        {nb.stem: "ok" for nb in chapter_notebooks()}, summary["chapters"]
    pages = " ".join((folder / f"{nb.stem}.html").read_text(encoding="utf-8") for nb in chapter_notebooks())
    assert "Traceback" not in pages
    return pages


@pytest.mark.skipif(not TMALL.exists(), reason="../shared/realdata is not beside the checkout")
def test_pack_on_the_imported_tmall_report(tmp_path):
    run_import("tmall", [TMALL], tmp_path / "tmall")
    result = run_report(None, data=tmp_path / "tmall", out=tmp_path / "out", jobs=2, echo=None)
    assert result.month == "2020-02" and not result.failed
    pages = _check_pack(tmp_path / "out" / "2020-02")
    # the sections without buyers, items or traffic say what they would need
    assert "customer_id" in pages and "order_items" in pages and "traffic" in pages


def test_pack_on_a_transactions_only_source(tmp_path):
    orders = pd.read_csv(ROOT / "data" / "samples" / "orders.csv.gz", dtype=str)
    orders = orders[orders["status"] == "paid"].head(20000)
    source = tmp_path / "transactions"
    source.mkdir()
    orders[["order_id", "customer_id", "order_ts", "paid_amount"]].to_csv(source / "orders.csv", index=False)
    month = pd.to_datetime(orders["order_ts"]).max().to_period("M") - 1
    result = run_report(str(month), data=source, out=tmp_path / "out", jobs=2, echo=None)
    assert not result.failed
    pages = _check_pack(tmp_path / "out" / str(month))
    assert "products" in pages and "inventory" in pages  # product chapters name their missing tables


def test_a_ledger_of_customer_date_amount_imports_and_reports(tmp_path):
    orders = pd.read_csv(ROOT / "data" / "samples" / "orders.csv.gz", dtype=str)
    orders = orders[orders["status"] == "paid"].head(8000)
    ledger = orders.rename(columns={"customer_id": "客户", "order_ts": "日期", "paid_amount": "金额"})[["客户", "日期", "金额"]]
    ledger.to_csv(tmp_path / "流水.csv", index=False, encoding="gbk")
    mapping = tmp_path / "ledger.toml"
    mapping.write_text('name = "ledger"\ntable = "orders"\nkey = "客户"\n[columns]\ncustomer_id = "客户"\n'
                       'order_ts = "日期"\npaid_amount = "金额"\n[generate]\norder_id = "line"\n', encoding="utf-8")
    report = run_import("mapped", [tmp_path / "流水.csv"], tmp_path / "shop", mapping=mapping)
    assert report.rows_mapped == 8000
    imported = pd.read_csv(tmp_path / "shop" / "orders.csv", dtype=str)
    assert imported["order_id"].is_unique and imported["order_id"].iloc[0].endswith("-2")  # line 2 of the file
    month = pd.to_datetime(imported["order_ts"]).max().to_period("M") - 1
    result = run_report(str(month), data=tmp_path / "shop", out=tmp_path / "out", chapters="00,04,06", jobs=2, echo=None)
    assert not result.failed
