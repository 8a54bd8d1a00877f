"""The Spark path (playbook.lake) in local mode: the sample shop written as a Parquet lake gives
the same prepared run folder as the DuckDB path, and the derived tables' SQL definitions give on
Spark what they give on DuckDB.

These tests start a JVM and take about a minute; they run only when selected, with
``pytest -m spark`` (``make test-spark``), and are skipped when pyspark is not installed.
"""
import json
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import playbook
from playbook.errors import DataError

pytestmark = pytest.mark.spark
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"
#: a month whose 25-month window cuts the sample's history on both sides (it runs 2024-11 to 2026-10)
MONTH = "2026-03"


@pytest.fixture(scope="module")
def spark(request, tmp_path_factory):
    if "spark" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("Spark tests run only when selected: pytest -m spark (make test-spark)")
    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -r requirements-spark.txt")
    from playbook.lake import spark_session

    local = tmp_path_factory.mktemp("spark-local")
    session = spark_session("local[2]", config={"spark.local.dir": str(local), "spark.sql.warehouse.dir": str(local / "wh"),
                                                "spark.driver.memory": "2g"})
    yield session
    session.stop()


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    """(flat, spark): the sample shop as a Parquet lake with DuckDB's types, once as one
    ``<table>.parquet`` per table (what the DuckDB loader reads) and once with ``orders/`` and
    ``order_items/`` as folders of part files (what a Spark job writes)."""
    flat = tmp_path_factory.mktemp("lake-flat")
    spark_lake = tmp_path_factory.mktemp("lake-spark")
    con = duckdb.connect()
    for f in sorted(SAMPLES.iterdir()):
        if ".csv" not in f.name:
            continue
        name = f.name.split(".")[0]
        target = flat / f"{name}.parquet"
        con.execute(f"COPY (SELECT * FROM read_csv('{f}', header=true)) TO '{target}' (FORMAT parquet)")
        table = pq.read_table(target)
        if name in ("orders", "order_items"):
            (spark_lake / name).mkdir()
            half = table.num_rows // 2
            pq.write_table(table.slice(0, half), spark_lake / name / "part-00000.parquet", row_group_size=10_000)
            pq.write_table(table.slice(half), spark_lake / name / "part-00001.parquet", row_group_size=10_000)
        else:
            pq.write_table(table, spark_lake / f"{name}.parquet")
    con.close()
    return flat, spark_lake


@pytest.fixture(scope="module")
def prepared(spark, lakes, tmp_path_factory):
    """(duckdb folder, spark folder) prepared for MONTH from the two lakes."""
    from playbook.lake import prepare_lake
    from playbook.loading import prepare_source
    from playbook.report import personal_columns

    flat, spark_lake = lakes
    out = tmp_path_factory.mktemp("prepared")
    by_duckdb = out / "duckdb"
    prepare_source(flat, by_duckdb, month=MONTH, drop_columns=personal_columns)
    by_spark = prepare_lake(spark_lake, MONTH, out / "spark", spark=spark)
    return by_duckdb, by_spark


def test_spark_prepared_folder_equals_the_duckdb_path(prepared):
    by_duckdb, by_spark = prepared
    meta_d = json.loads((by_duckdb / "prepared.json").read_text())
    meta_s = json.loads((by_spark / "prepared.json").read_text())
    for key in ("month", "start", "end", "tables", "derived", "rejected"):
        assert meta_s[key] == meta_d[key], key
    assert meta_s["derived"] == ["daily_kpis", "customer_summary", "sku_daily"]
    assert meta_s["source_kind"] == "lake"
    assert sorted((q["severity"], q["table"], q["problem"]) for q in meta_s["quality"]) == \
        sorted((q["severity"], q["table"], q["problem"]) for q in meta_d["quality"])
    files = sorted(p.name for p in by_duckdb.glob("*.parquet"))
    assert files == sorted(p.name for p in by_spark.glob("*.parquet"))
    for name in files:
        d, s = pd.read_parquet(by_duckdb / name), pd.read_parquet(by_spark / name)
        if name.startswith("_derived_"):  # sums of money in another order: equal to the last bits
            pd.testing.assert_frame_equal(s, d, check_exact=False, rtol=1e-9, obj=name)
        else:
            pd.testing.assert_frame_equal(s, d, check_exact=True, obj=name)


def test_spark_window_personal_data_and_report_loading(prepared):
    _, by_spark = prepared
    data = playbook.load(by_spark, month=MONTH)
    orders = data["orders"]
    # the 25 months that end with March 2026; the sample's orders run on to October 2026
    assert orders["order_ts"].min() >= pd.Timestamp("2024-03-01")
    assert orders["order_ts"].max() < pd.Timestamp("2026-04-01")
    assert orders["order_ts"].max() >= pd.Timestamp("2026-03-31")
    assert set(data["order_items"]["order_id"]) <= set(orders["order_id"])  # lines of the window's orders
    assert not {"name", "phone"} & set(data["customers"].columns)  # personal data dropped
    # the derived tables come from the folder (computed on Spark), and match the window
    kpis = data.derived("daily_kpis")
    assert kpis["date"].max() == pd.Timestamp("2026-03-31")
    assert kpis["orders"].sum() == len(orders)
    paid = orders["status"].ne("cancelled")
    assert kpis["gmv"].sum() == pytest.approx(orders.loc[paid, "paid_amount"].sum(), rel=1e-12)


def test_window_filter_is_pushed_into_the_parquet_scan(spark, lakes):
    from playbook import lake
    from playbook.contract import TABLES

    _, spark_lake = lakes
    spark.conf.set("spark.sql.maxMetadataStringLength", "10000")  # print the pushed filters whole
    df = spark.read.parquet(str(spark_lake / "orders"))
    types = {f.name: f.dataType for f in df.schema.fields}
    cast, issues = lake._cast_table(df, TABLES["orders"], "Asia/Shanghai", [])
    assert issues == []
    window = lake._window({"orders": cast}, {"orders": types}, pd.Timestamp("2025-03-01"), pd.Timestamp("2026-04-01"),
                          MONTH)["orders"]
    plan = window._jdf.queryExecution().executedPlan().toString()
    pushed = plan.split("PushedFilters: [", 1)[1].split("]", 1)[0]
    # the raw column, two days' margin either side (time zones); the exact window follows in Spark
    assert "GreaterThanOrEqual(order_ts,2025-02-27T00:00)" in pushed and "LessThan(order_ts,2026-04-03T00:00)" in pushed


def _tiny_lake(folder: Path, orders: pa.Table) -> Path:
    folder.mkdir()
    pq.write_table(orders, folder / "orders.parquet")
    return folder


def _orders(**override) -> pa.Table:
    columns = {
        "order_id": pa.array(["o1", "o2", "o3"]),
        "order_ts": pa.array(pd.to_datetime(["2026-03-01 10:00", "2026-03-02 11:00", "2026-03-03 12:00"]).astype("datetime64[us]")),
        "paid_amount": pa.array([10.0, 20.0, 30.0]),
        "status": pa.array(["paid", "PAID ", "cancelled"]),
    }
    columns.update(override)
    return pa.table({k: v for k, v in columns.items() if v is not None})


def test_missing_required_column_is_named(spark, tmp_path):
    from playbook.lake import prepare_lake

    lake = _tiny_lake(tmp_path / "lake", _orders(paid_amount=None))
    with pytest.raises(DataError, match=r"orders\.paid_amount: required column is missing"):
        prepare_lake(lake, MONTH, tmp_path / "out", spark=spark)


def test_uncastable_values_are_named_with_examples(spark, tmp_path):
    from playbook.lake import prepare_lake

    lake = _tiny_lake(tmp_path / "lake", _orders(paid_amount=pa.array(["10.00", "¥1,020.50", "about 30"])))
    with pytest.raises(DataError) as err:
        prepare_lake(lake, MONTH, tmp_path / "out", spark=spark)
    message = str(err.value)
    assert "orders.paid_amount (1 row): values do not cast to money (lake type string)" in message
    assert "order_id=o3 (paid_amount='about 30')" in message


def test_text_money_and_status_are_repaired_like_the_loader(spark, tmp_path):
    from playbook.lake import prepare_lake

    lake = _tiny_lake(tmp_path / "lake", _orders(paid_amount=pa.array(["10.00", "¥1,020.50", "30"])))
    folder = prepare_lake(lake, MONTH, tmp_path / "out", spark=spark)
    data = playbook.load(folder)
    assert data["orders"]["paid_amount"].tolist() == [10.0, 1020.5, 30.0]
    assert data["orders"]["status"].tolist() == ["paid", "paid", "cancelled"]
    kpis = data.derived("daily_kpis")
    assert kpis["paid_orders"].tolist() == [1, 1, 0] and kpis["gmv"].tolist() == [10.0, 1020.5, 0.0]


@pytest.mark.parametrize("variant", ["everything", "no channel", "no status", "no status nor refund",
                                     "no customer_id", "no traffic nor inventory"])
def test_derived_definitions_give_the_same_on_spark_and_duckdb(spark, variant):
    import numpy as np

    from playbook import derived
    from test_derived import VARIANTS, _variant

    data = _variant(VARIANTS[variant])
    session = spark.newSession()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    columns = {}
    for table in derived.USED_COLUMNS:
        if table in data:
            cols = [c for c in derived.USED_COLUMNS[table] if c in data[table].columns]
            arrow = pa.Table.from_pandas(data[table][cols], preserve_index=False)
            if table == "orders":
                arrow = arrow.append_column(derived.ROW, pa.array(np.arange(arrow.num_rows)))
            session.createDataFrame(arrow).createOrReplaceTempView(table)
            columns[table] = cols
    for name in derived.DERIVED:
        try:
            text, kinds = derived.definition(name, columns)
        except KeyError:
            continue
        on_spark = derived.finish(session.sql(text).toArrow(), kinds)
        pd.testing.assert_frame_equal(on_spark, derived.compute(name, data), check_exact=False, rtol=1e-12, obj=name)


def test_cli_prepare_with_spark(spark, tmp_path, capsys):
    from playbook.cli import main

    lake = _tiny_lake(tmp_path / "lake", _orders())
    assert main(["prepare", "--month", MONTH, "--data", str(lake), "--out", str(tmp_path / "out"),
                 "--engine", "spark", "--spark-master", "local[2]"]) == 0
    assert f"playbook report --month {MONTH} --data {tmp_path / 'out'}" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "prepared.json").read_text())["derived"] == ["daily_kpis"]
