"""`playbook prepare`: a prepared run folder from the command line (the DuckDB engine here; the
Spark engine is tested in test_spark.py)."""
import importlib.util
import json

import pandas as pd
import pytest

import playbook
from playbook.cli import main

ORDERS = """order_id,customer_id,order_ts,paid_amount,status,channel
1,A,2026-09-30 09:00:00,100,paid,tmall
2,A,2026-10-01 18:00:00,50,paid,tmall
3,B,2026-10-02 20:00:00,80,cancelled,jd
4,B,2026-11-02 10:00:00,70,paid,jd
"""
CUSTOMERS = "customer_id,name,phone,city\nA,Li Lei,13800000000,Hangzhou\nB,Han Meimei,13900000000,Suzhou\n"


@pytest.fixture
def shop(tmp_path):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "orders.csv").write_text(ORDERS)
    (tmp_path / "shop" / "customers.csv").write_text(CUSTOMERS)
    return tmp_path / "shop"


def test_prepare_with_duckdb_writes_a_folder_the_report_reads(shop, tmp_path, capsys):
    out = tmp_path / "prepared"
    assert main(["prepare", "--month", "2026-10", "--data", str(shop), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"Next: playbook report --month 2026-10 --data {out}" in printed
    assert "orders 3" in printed  # the November order is after the report month
    meta = json.loads((out / "prepared.json").read_text())
    assert meta["derived"] == ["daily_kpis", "customer_summary"]  # no order_items: no sku_daily
    customers = pd.read_parquet(out / "customers.parquet")
    assert list(customers.columns) == ["customer_id", "city"]  # personal data dropped
    data = playbook.load(out, month="2026-10")
    summary = data.derived("customer_summary").set_index("customer_id")
    assert (summary.loc["A", "paid_orders"], summary.loc["A", "gmv"]) == (2, 150.0)


def test_spark_master_needs_the_spark_engine(shop, tmp_path, capsys):
    assert main(["prepare", "--data", str(shop), "--out", str(tmp_path / "x"), "--spark-master", "local[2]"]) == 2
    assert "--spark-master needs --engine spark" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("pyspark") is not None, reason="pyspark is installed")
def test_spark_engine_without_pyspark_says_what_to_install(shop, tmp_path, capsys):
    assert main(["prepare", "--data", str(shop), "--out", str(tmp_path / "x"), "--engine", "spark"]) == 2
    assert "pip install -r requirements-spark.txt" in capsys.readouterr().err
