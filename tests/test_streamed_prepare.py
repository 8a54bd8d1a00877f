"""prepare_source of a table larger than a batch: read from DuckDB as a stream, checked and written
batch by batch. With the batch size made small, the prepared folder (tables, rows set aside and
quality issues) must be the one the whole-table path writes, also when duplicates, unknown enum
values and lines of unknown orders fall into different batches."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from playbook import DataError, loading
from playbook.report import personal_columns
from playbook.validation import Issue, merge_issues

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
BATCH = 250


def _csv(folder: Path, name: str, header: str, rows: list[str]) -> None:
    (folder / f"{name}.csv").write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


def _shop(folder: Path, *, errors: bool = False) -> Path:
    """A shop of ~1,200 orders whose problems are spread over several batches of 250 rows."""
    folder.mkdir(parents=True)
    orders = []
    for i in range(1200):
        day = pd.Timestamp("2024-08-01") + pd.Timedelta(hours=16 * i)  # 2024-08 to 2026-10
        status = ("paid", "cancelled", "refunded", "PAID")[i % 4]
        paid_ts = "" if status == "cancelled" or i in (30, 650, 1150) else f"{day + pd.Timedelta(minutes=5):%Y-%m-%d %H:%M:%S}"
        paid = f"{50 + i % 97}.50"
        if i in (5, 700, 1100):
            paid = '"¥1,' + f"{i % 900 + 100}" + '.00"'
        refund = "999.00" if i in (50, 900) else ("10.00" if status == "refunded" else "")
        orders.append(f"O{i:05d},C{i % 600:04d},{day:%Y-%m-%d %H:%M:%S},{paid_ts},{paid},{status},tmall,{refund}")
    orders.append(orders[400])  # exact copies in later batches
    orders.insert(1000, orders[800])
    if errors:
        orders.append(orders[300].replace(",tmall,", ",jd,"))  # the same order id with other contents
        for i, value in ((100, "shipped"), (360, "lost"), (610, "shipped"), (620, "lost"), (1010, "shipped"), (1190, "void")):
            orders[i] = orders[i].replace(",paid,", f",{value},").replace(",cancelled,", f",{value},") \
                .replace(",refunded,", f",{value},").replace(",PAID,", f",{value},")
    _csv(folder, "orders", "order_id,customer_id,order_ts,paid_ts,paid_amount,status,channel,refund_amount", orders)
    lines = []
    for i in range(1200):
        for k in range(2 if i % 3 else 1):
            lines.append(f"O{i:05d},SKU{(i + k) % 40:03d},{1 + k},{20 + i % 13}.00")
    for at, order in ((90, "X001"), (777, "X002"), (1500, "X001")):  # lines of unknown orders
        lines.insert(at, f"{order},SKU001,1,9.00")
    for at in (1000, 1600):  # unknown SKUs: kept, with a warning
        lines[at] = lines[at].replace(",SKU0", ",ZZZ0")
    _csv(folder, "order_items", "order_id,sku,qty,unit_price", lines)
    _csv(folder, "products", "sku,category,title", [f"SKU{i:03d},cat{i % 5},item {i}" for i in range(40)])
    customers = [f"C{i:04d},2024-0{1 + i % 9}-01,Name {i},1380000{i:04d},tmall" for i in range(600)]
    customers.append(customers[120])  # an exact copy, equal in the personal columns too
    if errors:  # the same customer with another name: a column the prepared folder leaves out
        customers.insert(500, customers[260].replace("Name 260", "Other 260"))
    _csv(folder, "customers", "customer_id,first_seen,name,phone,channel", customers)
    reviews = []
    for i in range(700):
        order = f"X{i:03d}" if i in (3, 420) else f"O{(i * 7) % 1200:05d}"
        reviews.append(f"R{i:04d},{order},SKU{i % 40:03d},{1 + i % 5},{pd.Timestamp('2025-01-01') + pd.Timedelta(hours=20 * i):%Y-%m-%d %H:%M:%S}")
    reviews.append(reviews[3])  # an exact copy of a review of an unknown order
    reviews.append(reviews[500])
    _csv(folder, "reviews", "review_id,order_id,sku,rating,review_ts", reviews)
    shipments = [f"O{i:05d},sf,{pd.Timestamp('2024-08-02') + pd.Timedelta(hours=16 * i):%Y-%m-%d %H:%M:%S}"
                 for i in range(0, 1200, 2)]
    shipments[300:300] = ["Y123,zto,2026-01-01 10:00:00"]  # set aside: order_id is required here
    _csv(folder, "shipments", "order_id,carrier,shipped_ts", shipments)
    return folder


def _both(source, folder: Path, monkeypatch, month="2026-10", derive_after=None):
    """prepare_source of ``source`` read whole and in batches of BATCH rows: (whole, batched, batched
    tables); with ``derive_after``, the batched run computes the derived tables after the tables."""
    monkeypatch.setattr(loading, "BATCH_ROWS", None)
    whole = loading.prepare_source(source, folder / "whole", month=month, drop_columns=personal_columns)
    batched_tables = []
    real = loading._BatchedTable.finish

    def finish(self, quality, con):
        batched_tables.append(self.name)
        return real(self, quality, con)

    monkeypatch.setattr(loading._BatchedTable, "finish", finish)
    monkeypatch.setattr(loading, "BATCH_ROWS", BATCH)
    if derive_after is not None:
        monkeypatch.setattr(loading, "DERIVE_AFTER_ROWS", derive_after)
    batched = loading.prepare_source(source, folder / "batched", month=month, drop_columns=personal_columns)
    return whole, batched, batched_tables


def _issues(quality) -> list[dict]:
    return [i.as_dict() | {"examples": list(i.examples)} for i in quality]


def _assert_same(whole, batched) -> None:
    assert list(batched) == list(whole)
    for name in whole:
        pd.testing.assert_frame_equal(batched[name], whole[name], check_dtype=True)  # values, dtypes, row order
    assert sorted(batched.rejected) == sorted(whole.rejected)
    for name in whole.rejected:
        pd.testing.assert_frame_equal(batched.rejected[name], whole.rejected[name], check_dtype=True)
    assert _issues(batched.quality) == _issues(whole.quality)
    for name in ("daily_kpis", "customer_summary", "sku_daily"):
        pd.testing.assert_frame_equal(batched.derived(name), whole.derived(name))


def test_the_sample_shop_prepared_in_batches_is_the_whole_table_one(tmp_path, monkeypatch):
    computed_later = []
    real = loading._derive_to_file
    monkeypatch.setattr(loading, "_derive_to_file", lambda *a: computed_later.append(a[0]) or real(*a))
    whole, batched, tables = _both(SAMPLES, tmp_path, monkeypatch, derive_after=1000)
    assert {"orders", "order_items", "customers", "reviews", "shipments"} <= set(tables)
    assert computed_later == ["daily_kpis", "customer_summary", "sku_daily"]  # after the tables
    _assert_same(whole, batched)
    assert batched.rows("orders") > 20 * BATCH


def test_problems_spread_over_batches_give_the_whole_table_issues(tmp_path, monkeypatch):
    whole, batched, tables = _both(_shop(tmp_path / "shop"), tmp_path, monkeypatch)
    assert {"orders", "order_items", "customers", "reviews", "shipments"} <= set(tables)
    _assert_same(whole, batched)
    by = {(i.table, i.column, i.problem.split(";")[0]): i for i in batched.quality}
    # worked by hand from the fixture: two exact copies of orders (rows 400 and 800), one customer
    dup = by[("orders", None, "exact duplicate rows (every column equal)")]
    assert dup.rows == 2 and dup.examples == ["order_id=O00800", "order_id=O00400"]  # the second copies, in file order
    assert by[("customers", None, "exact duplicate rows (every column equal)")].rows == 1
    # three lines of unknown orders (90, 777 and 1500: different batches), set aside
    lines = by[("order_items", "order_id", "points at orders that are not in the orders table")]
    assert lines.rows == 3 and list(batched.rejected["order_items"]["order_id"]) == ["X001", "X002", "X001"]
    # reviews X003 (and its exact copy, removed) and X420: two rows kept with a warning
    reviews = by[("reviews", "order_id", "points at orders that are not in the orders table")]
    assert reviews.rows == 2 and reviews.examples == ["review_id=R0003", "review_id=R0420"]
    assert by[("orders", "paid_amount", "money written as text with a currency sign or thousands separators")].rows == 2  # order 5 is before the window
    assert by[("order_items", "sku", "points at products.sku values that do not exist")].rows == 2
    assert list(batched.rejected["shipments"]["order_id"]) == ["Y123"]


def test_conflicting_keys_and_unknown_values_in_several_batches_stop_the_same_way(tmp_path, monkeypatch):
    shop = _shop(tmp_path / "shop", errors=True)
    messages, issues = [], []
    for rows in (None, BATCH):
        monkeypatch.setattr(loading, "BATCH_ROWS", rows)
        with pytest.raises(DataError) as info:
            loading.prepare_source(shop, tmp_path / "out", month="2026-10", drop_columns=personal_columns)
        messages.append(str(info.value))
        issues.append(_issues(info.value.issues))
    assert messages[0] == messages[1] and issues[0] == issues[1]
    # recounted over the batches, most frequent first, ties in order of appearance
    assert "unknown values 'shipped' (3 rows), 'lost' (2 rows), 'void' (1 rows)" in messages[1]
    assert "customers.customer_id (2 rows)" in messages[1]  # C0260 twice, with another name
    assert not (tmp_path / "out").exists()


def test_exact_copies_reported_and_removed_across_batches(tmp_path, monkeypatch):
    # the second copy of an order lies two batches after the first; the file keeps one copy
    whole, batched, _ = _both(_shop(tmp_path / "shop"), tmp_path, monkeypatch)
    ids = batched["orders"]["order_id"]
    assert ids.is_unique and len(ids) == len(whole["orders"])
    assert batched.rows("customers") == 600 and "name" not in batched["customers"].columns


def test_merge_issues_sums_rows_keeps_first_examples_and_recounts_unknown_values():
    a = [Issue("error", "t", "s", 3, "unknown values 'x' (2 rows), 'y' (1 rows)", "", ["r1", "r2", "r3"],
               rank=(2, 5), tally={"x": 2, "y": 1}),
         Issue("warning", "t", "m", 1, "money text", "", ["r1"], rank=(4, 1))]
    b = [Issue("error", "t", "a", 1, "required value is empty", "", ["r9"], rank=(0, 4)),
         Issue("error", "t", "s", 4, "unknown values 'y' (3 rows), 'z' (1 rows)", "", ["r7", "r8", "r9"],
               rank=(2, 5), tally={"y": 3, "z": 1})]
    merged = merge_issues([a, b])
    assert [(i.column, i.rows) for i in merged] == [("a", 1), ("s", 7), ("m", 1)]  # by column, then kind
    assert merged[1].problem == "unknown values 'y' (4 rows), 'x' (2 rows), 'z' (1 rows)"
    assert merged[1].examples == ["r1", "r2", "r3", "r7", "r8"]


def test_key_lookup_confirms_matches_by_text_and_falls_back_when_hashes_collide():
    import duckdb

    con = duckdb.connect()
    keys = pa.array(["a", "bb", "ccc"], type=pa.large_string())
    ids = pa.chunked_array([pa.array(["bb", None, "zz", "a", "ccc"], type=pa.large_string())])
    lookup = loading._KeyLookup(con, keys)
    assert lookup.unique and lookup.index_in(con, ids).to_pylist() == [1, None, None, 0, 2]
    # "zz" given the hash of "a": found by hash, refused by its text
    lookup = loading._KeyLookup(con, keys, np.array([7, 8, 9], dtype=np.uint64))
    fake = {"bb": 8, "zz": 7, "a": 7, "ccc": 9}
    real_hashes = loading._hashes
    try:
        loading._hashes = lambda con, v: np.array([fake.get(x, 0) for x in v.to_pylist()], dtype=np.uint64)
        assert lookup.index_in(con, ids).to_pylist() == [1, None, None, 0, 2]
    finally:
        loading._hashes = real_hashes
    collided = loading._KeyLookup(con, keys, np.array([5, 5, 9], dtype=np.uint64))
    assert not collided.unique and collided.index_in(con, ids).to_pylist() == [1, None, None, 0, 2]
    assert collided.found(con, ids).tolist() == [True, False, False, True, True]


def test_a_parquet_shop_is_counted_instead_of_probed_and_gives_the_same_folder(tmp_path, monkeypatch):
    import duckdb

    csv = _shop(tmp_path / "csv")
    folder = tmp_path / "parquet"
    folder.mkdir()
    con = duckdb.connect()
    for f in sorted(csv.glob("*.csv")):  # every column as text, as written: the same checks apply
        con.execute(f"COPY (SELECT * FROM read_csv('{f}', all_varchar = true)) TO '{folder / (f.stem + '.parquet')}'")
    con.close()
    streamed = []
    real = loading._Reader.stream
    monkeypatch.setattr(loading._Reader, "stream", lambda self, sql, table, rows: streamed.append(table) or real(self, sql, table, rows))
    whole, batched, tables = _both(folder, tmp_path, monkeypatch)
    assert "orders" in tables and streamed.count("orders") == 1  # no probe: only the window's orders
    _assert_same(whole, batched)
