"""Loading and validation: every bad input of the foundation issue ends in a message that names the
table, the column and the rows, or in a visible repair; nothing is dropped silently."""
from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

import playbook
from playbook import DataError
from playbook.validation import parse_money, parse_timestamps

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"

ORDERS = """order_id,customer_id,order_ts,paid_ts,paid_amount,status,channel
0001,C1,2026-09-30 23:30:00,2026-09-30 23:31:00,100.00,paid,tmall
0002,C2,2026-10-01 10:00:00,2026-10-01 10:05:00,250.50,paid,jd
0003,C1,2026-10-15 12:00:00,,80.00,cancelled,tmall
0004,C3,2026-10-20 08:00:00,2026-10-20 08:01:00,60.00,refunded,douyin
0005,C2,2024-01-05 09:00:00,2024-01-05 09:01:00,40.00,paid,jd
"""
ITEMS = """order_id,sku,qty,unit_price
0001,SKU1,1,100.00
0002,SKU1,2,100.00
0002,SKU2,1,50.50
0004,SKU2,1,60.00
0005,SKU2,1,40.00
"""
PRODUCTS = """sku,category,title
SKU1,露营,户外折叠露营椅
SKU2,厨具,不锈钢保温杯
"""


def write(folder, **tables):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def shop(tmp_path):
    return write(tmp_path / "shop", orders=ORDERS, order_items=ITEMS, products=PRODUCTS)


def error_of(source, **kw) -> str:
    with pytest.raises(DataError) as info:
        playbook.load(source, **kw)
    return str(info.value)


def test_valid_shop_loads_with_types_and_keeps_leading_zeros(shop):
    data = playbook.load(shop)
    orders = data.orders
    assert list(orders["order_id"]) == ["0001", "0002", "0003", "0004", "0005"]
    assert str(orders["order_ts"].dtype).startswith("datetime64")
    assert orders["paid_amount"].sum() == pytest.approx(530.50)
    assert data.order_items["qty"].dtype == "Int64"
    assert pd.isna(orders.loc[orders.order_id == "0003", "paid_ts"]).all()
    assert not data.quality.errors and not data.quality.warnings


def test_missing_orders_table(tmp_path):
    folder = write(tmp_path / "s", products=PRODUCTS)
    msg = error_of(folder)
    assert "no orders table" in msg and "products" in msg


def test_source_that_does_not_exist(tmp_path):
    assert "does not exist" in error_of(tmp_path / "nowhere")


def test_missing_required_column_names_table_and_column(tmp_path):
    folder = write(tmp_path / "s", orders=ORDERS.replace("paid_amount", "amount"))
    msg = error_of(folder)
    assert "orders.paid_amount" in msg and "required column is missing" in msg


def test_unparseable_timestamp_names_the_rows(tmp_path):
    folder = write(tmp_path / "s", orders=ORDERS.replace("2026-10-15 12:00:00", "15th of October"))
    msg = error_of(folder)
    assert "orders.order_ts (1 row)" in msg
    assert "order_id=0003" in msg and "15th of October" in msg


def test_unparseable_money_in_required_column(tmp_path):
    folder = write(tmp_path / "s", orders=ORDERS.replace("250.50", "n/a"))
    msg = error_of(folder)
    assert "orders.paid_amount (1 row)" in msg and "order_id=0002" in msg


def test_money_written_as_text_is_repaired_with_a_warning(tmp_path):
    folder = write(tmp_path / "s", orders=ORDERS.replace("250.50", '"¥1,234.00"').replace("60.00", "￥60元"))
    data = playbook.load(folder)
    assert data.orders.set_index("order_id").loc["0002", "paid_amount"] == 1234.0
    assert data.orders.set_index("order_id").loc["0004", "paid_amount"] == 60.0
    (warning,) = [i for i in data.quality.warnings if i.column == "paid_amount"]
    assert warning.rows == 2 and warning.table == "orders"


def test_negative_money_and_quantity_are_errors(tmp_path):
    folder = write(tmp_path / "s", orders=ORDERS.replace("80.00", "-80.00"),
                   order_items=ITEMS.replace("0004,SKU2,1", "0004,SKU2,-1"))
    msg = error_of(folder)
    assert "orders.paid_amount (1 row): values out of range (must be >= 0)" in msg
    assert "order_id=0003" in msg
    assert "order_items.qty (1 row): values out of range (must be > 0)" in msg


def test_unknown_status_is_an_error_and_case_is_normalised(tmp_path):
    folder = write(tmp_path / "s", orders=ORDERS.replace(",paid,tmall", ",shipped,tmall").replace(",paid,jd", ",PAID,jd"))
    msg = error_of(folder)
    assert "orders.status (1 row)" in msg and "'shipped'" in msg and "Allowed: paid, cancelled, refunded" in msg


def test_duplicate_key_with_other_contents_is_an_error(tmp_path):
    folder = write(tmp_path / "s", orders=ORDERS + "0002,C9,2026-10-02 10:00:00,,99.00,paid,jd\n")
    msg = error_of(folder)
    assert "orders.order_id (2 rows)" in msg and "not unique" in msg


def test_exact_duplicate_rows_are_collapsed_visibly(tmp_path):
    folder = write(tmp_path / "s", orders=ORDERS + ORDERS.splitlines()[2] + "\n")
    data = playbook.load(folder)
    assert len(data.orders) == 5
    (issue,) = [i for i in data.quality.warnings if "exact duplicate" in i.problem]
    assert issue.rows == 1 and issue.table == "orders"


def test_lines_of_unknown_orders_are_set_aside_not_dropped(tmp_path):
    folder = write(tmp_path / "s", orders=ORDERS, products=PRODUCTS,
                   order_items=ITEMS + "9999,SKU1,1,10.00\n0002,SKU3,1,5.00\n")
    data = playbook.load(folder)
    assert list(data.rejected["order_items"]["order_id"]) == ["9999"]
    assert "9999" not in set(data.order_items["order_id"])
    by_col = {(i.table, i.column): i for i in data.quality.warnings}
    assert by_col[("order_items", "order_id")].rows == 1
    # an unknown SKU is kept (its category is unknown) with a warning
    assert by_col[("order_items", "sku")].rows == 1 and "SKU3" in str(by_col[("order_items", "sku")])
    assert len(data.order_items) == 6


def test_reviews_and_shipments_pointing_at_unknown_orders(tmp_path):
    reviews = "review_id,order_id,sku,rating,review_ts\nR1,0002,SKU1,5,2026-10-05 10:00:00\nR2,7777,SKU1,1,2026-10-06 10:00:00\n"
    shipments = "order_id,carrier,shipped_ts\n0002,sf,2026-10-02 10:00:00\n8888,zto,2026-10-02 11:00:00\n"
    folder = write(tmp_path / "s", orders=ORDERS, products=PRODUCTS, reviews=reviews, shipments=shipments)
    data = playbook.load(folder)
    assert len(data.reviews) == 2  # order_id is optional on a review: kept, with a warning
    assert list(data.rejected["shipments"]["order_id"]) == ["8888"]
    tables = {(i.table, i.column) for i in data.quality.warnings}
    assert {("reviews", "order_id"), ("shipments", "order_id")} <= tables


def test_empty_orders_is_an_error_and_empty_optional_table_is_skipped(tmp_path):
    header = ORDERS.splitlines()[0] + "\n"
    assert "orders (0 rows)" not in error_of(write(tmp_path / "a", orders=header))
    assert "the table is empty" in error_of(write(tmp_path / "b", orders=header))
    data = playbook.load(write(tmp_path / "c", orders=ORDERS, reviews="review_id,sku,rating,review_ts\n"))
    assert not data.has("reviews")
    assert "reviews" in data.missing_note("reviews")
    assert any(i.table == "reviews" and "empty" in i.problem for i in data.quality.warnings)


def test_month_outside_the_data_and_month_without_orders(shop):
    msg = error_of(shop, month="2027-03")
    assert "outside the data" in msg and "2024-01-05" in msg and "2026-10-20" in msg
    msg = error_of(shop, month="2025-06")  # inside the range, but the shop sold nothing that month
    assert "no orders in the report month 2025-06" in msg
    with pytest.raises(playbook.PlaybookError, match="YYYY-MM"):
        playbook.load(shop, month="2026-13")


def test_month_window_is_pushed_down(shop):
    data = playbook.load(shop, month="2026-10", history_months=2)
    assert data.start == pd.Timestamp("2026-09-01") and data.end == pd.Timestamp("2026-11-01")
    assert set(data.orders["order_id"]) == {"0001", "0002", "0003", "0004"}
    assert "0005" not in set(data.order_items["order_id"])  # lines follow their orders
    assert set(data.month_rows("orders")["order_id"]) == {"0002", "0003", "0004"}


def test_offsets_are_converted_to_shop_time(tmp_path):
    folder = write(tmp_path / "s", orders=ORDERS.replace("2026-10-01 10:00:00,", "2026-10-01T02:00:00Z,"))
    data = playbook.load(folder)
    assert data.orders.set_index("order_id").loc["0002", "order_ts"] == pd.Timestamp("2026-10-01 10:00:00")


def test_gbk_csv_is_read_and_the_users_folder_is_untouched(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "orders.csv").write_bytes(ORDERS.encode("gbk"))
    (folder / "products.csv").write_bytes(PRODUCTS.encode("gbk"))
    before = sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir())
    data = playbook.load(folder)
    assert set(data.products["category"]) == {"露营", "厨具"}
    assert any("GBK" in i.problem and i.table == "products" for i in data.quality.warnings)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir()) == before


def test_utf8_bom_and_gzip(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "orders.csv").write_bytes(b"\xef\xbb\xbf" + ORDERS.encode())
    with gzip.open(folder / "order_items.csv.gz", "wb") as f:
        f.write(ITEMS.encode())
    data = playbook.load(folder)
    assert "order_id" in data.orders.columns and len(data.order_items) == 5


def test_parquet_and_duckdb_sources_give_the_same_tables(shop, tmp_path):
    reference = playbook.load(shop)
    pq = tmp_path / "pq"
    pq.mkdir()
    con = duckdb.connect(str(tmp_path / "shop.duckdb"))
    for name in ("orders", "order_items", "products"):
        frame = reference[name]
        frame.to_parquet(pq / f"{name}.parquet")
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        con.unregister("frame")
    con.close()
    reference = playbook.load(shop, month="2026-10")
    assert "0005" not in set(reference.orders["order_id"])  # 2024-01 is before the 25-month window
    for source in (pq, tmp_path / "shop.duckdb"):
        other = playbook.load(source, month="2026-10")
        assert set(other.orders["order_id"]) == set(reference.orders["order_id"])
        pd.testing.assert_series_equal(other.orders.set_index("order_id")["paid_amount"].sort_index(),
                                       reference.orders.set_index("order_id")["paid_amount"].sort_index())
        assert other.orders["order_ts"].max() == pd.Timestamp("2026-10-20 08:00:00")


def test_parse_helpers_worked_values():
    money, repaired = parse_money(pd.Series(["¥1,234.00", "12", None, "RMB 7.5"]))
    assert money.tolist()[:2] == [1234.0, 12.0] and pd.isna(money[2]) and money[3] == 7.5
    assert repaired.tolist() == [True, False, False, True]
    ts = parse_timestamps(pd.Series(["2020/2/21 0:00", "2026年10月1日", "2026-10-01T00:00:00+00:00"]), "Asia/Shanghai")
    assert ts.tolist() == [pd.Timestamp("2020-02-21"), pd.Timestamp("2026-10-01"), pd.Timestamp("2026-10-01 08:00")]


def test_validate_command_exit_codes(shop, tmp_path):
    ok = subprocess.run([sys.executable, "-m", "playbook.cli", "validate", str(shop)], capture_output=True, text=True)
    assert ok.returncode == 0 and "orders 5 rows" in ok.stdout
    bad = write(tmp_path / "bad", orders=ORDERS.replace("80.00", "-80.00"))
    res = subprocess.run([sys.executable, "-m", "playbook.cli", "validate", str(bad)], capture_output=True, text=True)
    assert res.returncode == 1 and "orders.paid_amount" in res.stderr


def test_sql_database_source_reads_only_the_window(shop, tmp_path, monkeypatch):
    import sqlalchemy as sa

    db = tmp_path / "shop.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    for name in ("orders", "order_items", "products"):
        pd.read_csv(shop / f"{name}.csv", dtype=str).to_sql(name, engine, index=False)
    engine.dispose()
    seen = []
    real = pd.read_sql
    monkeypatch.setattr(pd, "read_sql", lambda sql, *a, **k: seen.append((str(sql), real(sql, *a, **k))) or seen[-1][1])
    data = playbook.load(f"sqlite:///{db}", month="2026-10", history_months=2)
    reference = playbook.load(shop, month="2026-10", history_months=2)
    for name in ("orders", "order_items"):
        pd.testing.assert_frame_equal(data[name], reference[name])
    by_table = {sql.split("FROM ")[1].split()[0].strip('"'): frame for sql, frame in seen}
    sql_of = {sql.split("FROM ")[1].split()[0].strip('"'): sql for sql, _ in seen}
    assert "WHERE" in sql_of["orders"] and "WHERE" in sql_of["order_items"] and "WHERE" not in sql_of["products"]
    assert "0005" not in set(by_table["orders"]["order_id"])  # the 2024 order never left the database
    assert "0005" not in set(by_table["order_items"]["order_id"])
    assert data.source.kind == "sql" and data.fingerprint
    assert playbook.latest_full_month(f"sqlite:///{db}") == "2026-09"
    msg = error_of(f"sqlite:///{db}", month="2031-01")
    assert "outside the data" in msg


def test_unreachable_database_is_a_clear_error():
    assert "Cannot open the database" in error_of("postgresql://nobody@127.0.0.1:1/shop")


def test_campaigns_planned_for_the_coming_quarter_are_kept(shop):
    campaigns = ("campaign_id,name,type,start_date,end_date\nOLD,old,discount,2023-01-01,2023-01-05\n"
                 "OCT,double 11 presale,presale,2026-10-20,2026-10-31\nDEC,double 12,discount,2026-12-10,2026-12-12\n"
                 "FAR,next summer,discount,2027-06-01,2027-06-18\n")
    (shop / "campaigns.csv").write_text(campaigns, encoding="utf-8")
    data = playbook.load(shop, month="2026-10")
    assert list(data.campaigns["campaign_id"]) == ["OCT", "DEC"]


# --- the DuckDB fast path and its pandas fallback ------------------------------------------------

def test_values_duckdb_cannot_cast_are_parsed_by_the_lenient_parsers(tmp_path):
    orders = ORDERS.replace("2026-10-15 12:00:00", "2026/10/15 12:00").replace("2026-10-20 08:00:00,", "2026年10月20日 8:00,")
    orders = orders.replace("2026-10-01 10:00:00,", "2026-10-01T02:00:00+00:00,")
    lines = orders.splitlines()
    flags = ["is_presale", "是", "", "否", "", "yes"]
    orders = "\n".join(f"{line},{flag}" for line, flag in zip(lines, flags)) + "\n"
    data = playbook.load(write(tmp_path / "s", orders=orders))
    o = data.orders.set_index("order_id")
    assert o.loc["0003", "order_ts"] == pd.Timestamp("2026-10-15 12:00")
    assert o.loc["0004", "order_ts"] == pd.Timestamp("2026-10-20 08:00")
    assert o.loc["0002", "order_ts"] == pd.Timestamp("2026-10-01 10:00")  # UTC 02:00 is 10:00 in Shanghai
    assert o.loc["0001", "is_presale"] and not o.loc["0003", "is_presale"] and o.loc["0005", "is_presale"]
    assert pd.isna(o.loc["0002", "is_presale"])
    assert str(data.orders["is_presale"].dtype) == "boolean"
    assert not data.quality.errors and not data.quality.warnings


def test_blanks_around_values_are_trimmed_and_blank_required_values_are_empty(tmp_path):
    orders = ORDERS.replace("0002,C2,", " 0002 ,\tC2,").replace(",250.50,", ", 250.50 ,").replace(",jd\n", ",jd\u3000\n", 1)
    data = playbook.load(write(tmp_path / "s", orders=orders, order_items=ITEMS))
    o = data.orders.set_index("order_id")
    assert o.loc["0002", "customer_id"] == "C2" and o.loc["0002", "paid_amount"] == 250.5
    assert o.loc["0002", "channel"] == "jd"
    assert set(data.order_items["order_id"]) >= {"0002"} and "order_items" not in data.rejected
    msg = error_of(write(tmp_path / "b", orders=ORDERS.replace("0003,C1,2026-10-15 12:00:00", "0003,C1,   ")))
    assert "orders.order_ts (1 row): required value is empty e.g. order_id=0003" in msg


def test_unknown_enum_values_are_listed_with_their_counts(tmp_path):
    orders = ORDERS.replace(",paid,tmall", ",shipped,tmall").replace(",paid,douyin", ",shipped,douyin")
    reviews = "review_id,sku,rating,review_ts\nR1,SKU1,7,2026-10-05 10:00:00\nR2,SKU1,4,2026-10-05 11:00:00\n"
    msg = error_of(write(tmp_path / "s", orders=orders, products=PRODUCTS, reviews=reviews))
    assert "orders.status (1 row): unknown values 'shipped' (1 rows)" in msg
    assert "reviews.rating (1 row): unknown values 7.0 (1 rows) e.g. review_id=R1 (rating='7')" in msg


def test_whole_numbers_and_money_text_in_one_file(tmp_path):
    items = ITEMS.replace("0002,SKU1,2,100.00", "0002,SKU1,2.5,\"¥100.00\"")
    msg = error_of(write(tmp_path / "s", orders=ORDERS, order_items=items, products=PRODUCTS))
    assert "order_items.qty (1 row): values are not whole numbers e.g. order_id=0002, sku=SKU1 (qty='2.5')" in msg


def test_zoned_parquet_timestamps_are_converted_to_shop_time(shop, tmp_path):
    orders = pd.read_csv(shop / "orders.csv", dtype=str)
    orders["order_ts"] = pd.to_datetime(orders["order_ts"]).dt.tz_localize("UTC")
    orders["paid_amount"] = orders["paid_amount"].astype(float)
    folder = tmp_path / "pq"
    folder.mkdir()
    orders.to_parquet(folder / "orders.parquet")
    data = playbook.load(folder)
    assert data.orders.set_index("order_id").loc["0002", "order_ts"] == pd.Timestamp("2026-10-01 18:00:00")
    assert data.orders["order_ts"].dtype == "datetime64[us]" and data.orders["order_id"].dtype == "str"


def test_rows_keep_the_order_of_the_file(tmp_path):
    n = 30_000  # several DuckDB vectors and row groups: order lines must not be shuffled by the join
    ids = [f"{i:06d}" for i in range(n)]
    orders = pd.DataFrame({"order_id": ids, "customer_id": "C1", "order_ts": "2026-10-01 10:00:00", "paid_amount": 1.0})
    items = pd.DataFrame({"order_id": ids[::-1], "sku": "SKU1", "qty": 1, "unit_price": 1.0})
    folder = tmp_path / "big"
    folder.mkdir()
    orders.to_csv(folder / "orders.csv", index=False)
    items.to_csv(folder / "order_items.csv", index=False)
    data = playbook.load(folder, month="2026-10")
    assert data.orders["order_id"].tolist() == ids
    assert data.order_items["order_id"].tolist() == ids[::-1]


def test_a_prepared_folder_reads_each_table_on_first_use(tmp_path):
    from playbook.loading import prepare

    folder = prepare(playbook.load(SAMPLES, month="2026-10"), tmp_path / "prepared")
    data = playbook.load(folder, month="2026-10")
    assert all(isinstance(v, Path) for v in data._tables.values())  # nothing read yet
    assert "traffic" in data and "no_such_table" not in data
    assert f"orders={data.rows('orders'):,}" in repr(data)
    assert isinstance(data._tables["orders"], Path)  # membership and row counts read no table
    orders = data["orders"]
    assert data["orders"] is orders and len(orders) == data.rows("orders") > 50_000
    assert isinstance(data._tables["traffic"], Path)
    assert data.has("orders", columns={"orders": ["channel"]})


def test_preparing_a_prepared_folder_copies_its_files_without_reading_a_table_whole(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from playbook.loading import prepare, prepare_source
    from playbook.report import personal_columns

    first = prepare(playbook.load(SAMPLES, month="2026-10"), tmp_path / "first")  # names and phones kept
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: pytest.fail("a table read whole"))
    again = prepare_source(first, tmp_path / "again", month="2026-10", drop_columns=personal_columns)
    monkeypatch.undo()
    before = playbook.load(first, month="2026-10")
    for name in before:
        want = pd.read_parquet(first / f"{name}.parquet")
        want = want.drop(columns=personal_columns(name, want.columns))
        pd.testing.assert_frame_equal(pd.read_parquet(again.table_file(name)), want)
        if not personal_columns(name, list(before[name].columns)):  # nothing left out: the same file
            assert (first / f"{name}.parquet").read_bytes() == again.table_file(name).read_bytes()
    assert "name" in before.customers.columns and "name" not in again.customers.columns
    for name in ("daily_kpis", "customer_summary", "sku_daily"):  # copied, not recomputed
        assert (first / f"_derived_{name}.parquet").read_bytes() == (tmp_path / "again" / f"_derived_{name}.parquet").read_bytes()


def test_prepare_source_writes_what_load_and_prepare_give_one_table_at_a_time(tmp_path):
    from playbook.loading import prepare_source
    from playbook.report import personal_columns

    loaded = playbook.load(SAMPLES, month="2026-10")
    data = prepare_source(SAMPLES, tmp_path / "prepared", month="2026-10", drop_columns=personal_columns)
    assert all(isinstance(v, Path) for v in data._tables.values())  # returned unread
    assert list(data) == list(loaded)
    for name in loaded:
        expected = loaded[name].drop(columns=personal_columns(name, loaded[name].columns))
        pd.testing.assert_frame_equal(data[name], expected, check_dtype=True)
    assert "name" in loaded.customers.columns and "name" not in data.customers.columns
    from playbook.loading import read_derived_columns

    two = read_derived_columns(data, "customer_summary", ["customer_id", "first_order_ts"])
    pd.testing.assert_frame_equal(two, loaded.derived("customer_summary")[["customer_id", "first_order_ts"]])
    assert isinstance(data._derived["customer_summary"], Path)  # two columns read for that use, not the table
    for name in ("daily_kpis", "customer_summary", "sku_daily"):  # DuckDB over the written files
        pd.testing.assert_frame_equal(data.derived(name), loaded.derived(name))
    assert [str(i) for i in data.quality] == [str(i) for i in loaded.quality]
    assert data.fingerprint == loaded.fingerprint and data.rows("orders") == len(loaded.orders)


def test_prepare_source_stops_like_load_and_leaves_no_folder(tmp_path):
    from playbook.loading import prepare_source

    bad = write(tmp_path / "s", orders=ORDERS.replace("250.50", "-3"), order_items=ITEMS, products=PRODUCTS)
    out = tmp_path / "runs" / "prepared"
    with pytest.raises(DataError) as info:
        prepare_source(bad, out, month="2026-10")
    assert str(info.value) == error_of(bad, month="2026-10")
    assert "paid_amount" in str(info.value) and list((tmp_path / "runs").iterdir()) == []


def test_the_overview_of_a_prepared_folder_reads_no_table(tmp_path):
    from playbook.loading import prepare

    loaded = playbook.load(SAMPLES, month="2026-10")
    data = playbook.load(prepare(loaded, tmp_path / "prepared"), month="2026-10")
    pd.testing.assert_frame_equal(data.overview(), loaded.overview())  # from Parquet statistics
    assert all(isinstance(v, Path) for v in data._tables.values())
    assert data.overview().set_index("table").loc["targets", "from"] == "2024-11"


def test_the_loader_scans_have_no_join_so_rows_keep_the_file_order(monkeypatch):
    # DuckDB keeps row order through scans and filters but not through joins: an IN (subquery) or
    # an IN list of several constants becomes a hash join, and under load the rows come back
    # shuffled (duckdb/duckdb#24398). Lines follow their orders by an Arrow lookup instead.
    from playbook import loading

    plans = {}
    real = loading._Reader.fetch

    def fetch(self, sql, table):
        plans[table] = self.con.sql("EXPLAIN " + sql).fetchall()[0][1]
        return real(self, sql, table)

    monkeypatch.setattr(loading._Reader, "fetch", fetch)
    data = playbook.load(SAMPLES, month="2026-10")
    assert {"orders", "order_items", "shipments", "reviews"} <= set(plans)
    assert [t for t, plan in plans.items() if "JOIN" in plan.upper()] == []
    assert data.order_items["order_id"].is_monotonic_increasing  # the sample's file order


def test_sections_read_only_the_columns_they_use_from_a_prepared_folder(tmp_path):
    from playbook.loading import has_column, prepare, read_columns

    loaded = playbook.load(SAMPLES, month="2026-10")
    data = playbook.load(prepare(loaded, tmp_path / "prepared"), month="2026-10")
    part = read_columns(data, "orders", ["order_id", "paid_amount", "no_such_column"])
    pd.testing.assert_frame_equal(part, loaded.orders[["order_id", "paid_amount"]])
    assert read_columns(data, "orders", ["paid_amount"]) is not None and isinstance(data._tables["orders"], Path)
    assert has_column(data, "orders", "channel") and not has_column(data, "orders", "no_such_column")
    assert data.has("orders", columns={"orders": ["channel"]}) and isinstance(data._tables["orders"], Path)
    assert data.missing_note("orders", columns={"orders": ["no_such_column"]}).endswith(
        "orders.no_such_column, which the source does not provide.")
    assert read_columns(loaded, "orders", ["order_id"]) is loaded.orders  # in memory: the table itself


def test_columns_read_for_one_use_and_tables_forgotten_are_not_kept(tmp_path):
    from playbook.loading import prepare, read_columns

    loaded = playbook.load(SAMPLES, month="2026-10")
    data = playbook.load(prepare(loaded, tmp_path / "prepared"), month="2026-10")
    once = read_columns(data, "orders", ["order_id", "status"], keep=False)
    pd.testing.assert_frame_equal(once, loaded.orders[["order_id", "status"]])
    assert "orders" not in data._partial  # not kept: the next read goes to the file again
    kept = read_columns(data, "orders", ["order_id", "paid_amount"])
    assert read_columns(data, "orders", ["paid_amount"], keep=False) is not None and len(data._partial["orders"]) == 1
    assert read_columns(data, "orders", ["order_id", "paid_amount"]) is kept  # kept columns are reused
    whole = data["order_items"]
    data.forget("orders", "order_items", "no_such_table")
    assert "orders" not in data._partial and isinstance(data._tables["order_items"], Path)
    pd.testing.assert_frame_equal(data["order_items"], whole)  # read again from the file
    loaded.forget("orders")  # a table loaded from a source stays: nothing could read it again
    assert isinstance(loaded._tables["orders"], pd.DataFrame)


class _FakeReader:
    def __init__(self):
        self.quality = []


def _fake_tables(reader, log, names, fail_at=None):
    """A stand-in for the loader's table reads: logs each read, adds one issue per table."""
    for name in names:
        if name == fail_at:
            raise DataError(f"cannot read {name}")
        log.append(("read", name))
        reader.quality.append(f"issue of {name}")
        yield name, f"rows of {name}"


def test_read_ahead_keeps_issue_order_and_reads_at_most_one_table_ahead():
    import time

    from playbook.loading import _ReadAhead

    reader, log = _FakeReader(), []
    ahead = _ReadAhead(reader, _fake_tables(reader, log, ["orders", "order_items", "shipments", "refunds"]))
    got = []
    try:
        for name, rows, issues in ahead:
            time.sleep(0.05)  # the reading thread has time to run ahead, if it would
            got.append((name, rows, issues))
            log.append(("done", name))
    finally:
        ahead.close()
    assert got == [(n, f"rows of {n}", [f"issue of {n}"]) for n in ["orders", "order_items", "shipments", "refunds"]]
    # a table is read only once the table two before it is done: at most two in memory
    for i, n in enumerate(["shipments", "refunds"]):
        before = ["orders", "order_items"][i]
        assert log.index(("done", before)) < log.index(("read", n))
    assert ahead._thread is not None and not ahead._thread.is_alive()


def test_read_ahead_raises_the_reading_error_and_stops_early_without_hanging():
    from playbook.loading import _ReadAhead

    reader, log = _FakeReader(), []
    ahead = _ReadAhead(reader, _fake_tables(reader, log, ["orders", "order_items", "shipments"], fail_at="order_items"))
    names = []
    with pytest.raises(DataError, match="cannot read order_items"):
        try:
            for name, _, _ in ahead:
                names.append(name)
        finally:
            ahead.close()
    assert names == ["orders"]

    reader, log = _FakeReader(), []
    ahead = _ReadAhead(reader, _fake_tables(reader, log, [f"t{i}" for i in range(10)]))
    for name, _, _ in ahead:
        break  # the consumer stops after the first table
    ahead.close()
    assert not ahead._thread.is_alive() and len([e for e in log if e[0] == "read"]) <= 3


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads Linux's /proc")
def test_memory_freed_through_arrow_is_handed_back_to_the_system():
    import os

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from playbook.loading import release_free_memory

    def resident_gb():
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9

    base = resident_gb()
    arrays = [pc.add(pa.array(np.arange(1 << 20)), 1) for _ in range(60)]  # 0.5 GB through Arrow's allocator
    del arrays
    kept = resident_gb() - base
    release_free_memory()
    assert kept > 0.3 and resident_gb() - base < kept - 0.3


def test_read_window_skips_row_groups_and_keeps_order(tmp_path, monkeypatch):
    import pyarrow.parquet as pq
    from test_derived import _Prepared  # a prepared dataset of Parquet files not read yet

    from playbook.loading import read_window

    # 40 stamps every 6 hours from 01-01, two missing, in row groups of 7: the window 01-03 ..
    # 01-07 12:00 (exclusive) holds rows 8..25 (stamps 01-03 00:00 .. 01-07 06:00) but the missing row 17
    ts = pd.Series(pd.date_range("2026-01-01", periods=40, freq="6h"))
    ts.iloc[[3, 17]] = pd.NaT
    frame = pd.DataFrame({"ts": ts, "v": np.arange(40.0), "s": [f"x{i}" for i in range(40)]})
    frame.to_parquet(tmp_path / "touchpoints.parquet", row_group_size=7)
    data = _Prepared({"touchpoints": tmp_path / "touchpoints.parquet"})
    read = []
    plain = pq.ParquetFile.read_row_groups
    monkeypatch.setattr(pq.ParquetFile, "read_row_groups",
                        lambda self, groups, **kw: read.append(list(groups)) or plain(self, groups, **kw))
    got = read_window(data, "touchpoints", ["s", "v"], "ts", "2026-01-03", "2026-01-07 12:00")
    assert read == [[1, 2, 3]]  # rows 7..27; rows 0..6 end 01-02 12:00, rows 28.. start 01-08
    assert list(got.columns) == ["s", "v", "ts"]
    assert got["v"].tolist() == [float(i) for i in range(8, 26) if i != 17]
    want = frame.loc[(frame["ts"] >= "2026-01-03") & (frame["ts"] < "2026-01-07 12:00"), ["s", "v", "ts"]]
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))
    # a table in memory: the same rows by .loc
    mem = read_window({"touchpoints": frame}, "touchpoints", ["s", "v"], "ts", "2026-01-03", "2026-01-07 12:00")
    pd.testing.assert_frame_equal(mem, want)


def test_rows_of_a_prepared_table_read_from_their_row_groups_only(tmp_path):
    from playbook.loading import read_rows

    # 10 rows in row groups of 3 (0-2, 3-5, 6-8, 9): rows 4, 5 and 9 come from the second and last groups
    frame = pd.DataFrame({"order_id": [f"O{i}" for i in range(10)], "paid_amount": np.arange(10) * 1.5,
                          "status": ["paid", None] * 5})
    frame.to_parquet(tmp_path / "orders.parquet", row_group_size=3, index=False)

    class Prepared:
        def table_file(self, name):
            return tmp_path / f"{name}.parquet"

    got = read_rows(Prepared(), "orders", ["status", "order_id"], np.array([4, 5, 9]))
    want = pd.read_parquet(tmp_path / "orders.parquet")[["status", "order_id"]].take([4, 5, 9]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
    assert got["order_id"].tolist() == ["O4", "O5", "O9"] and got["status"].isna().tolist() == [False, True, True]
    assert read_rows(Prepared(), "orders", ["paid_amount"], np.array([], dtype=int)).dtypes.tolist() == ["float64"]
