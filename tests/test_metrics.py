"""The shared definitions, on a hand-built table whose answers are worked out below."""
import math

import pandas as pd
import pytest

from playbook import metrics

ORDERS = pd.DataFrame({
    "order_id": ["1", "2", "3", "4", "5"],
    "customer_id": ["A", "A", "B", "C", "B"],
    "order_ts": pd.to_datetime(["2026-09-03", "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-09"]),
    "paid_amount": [50.0, 100.0, 200.0, 80.0, 40.0],
    "status": ["paid", "paid", "refunded", "cancelled", "paid"],
    "refund_amount": [0.0, 10.0, 200.0, 0.0, 0.0],
    "channel": ["tmall", "tmall", "jd", "jd", "jd"],
})


def test_gmv_net_sales_aov_buyers():
    october = ORDERS[ORDERS.order_ts >= "2026-10-01"]
    # GMV: 100 + 200 + 40 (order 4 was cancelled) = 340; refunds 10 + 200 -> net 130
    assert metrics.gmv(october) == 340.0
    assert metrics.net_sales(october) == 130.0
    assert metrics.aov(october) == pytest.approx(340 / 3)
    assert metrics.buyers(october) == 2  # A and B; C only cancelled
    before = ORDERS.copy()
    metrics.monthly_kpis(ORDERS, by="channel")
    pd.testing.assert_frame_equal(ORDERS, before)


def test_monthly_kpis_by_channel():
    k = metrics.monthly_kpis(ORDERS, by="channel").set_index(["month", "channel"])
    assert k.loc[("2026-10", "jd"), "gmv"] == 240.0
    assert k.loc[("2026-10", "jd"), "paid_orders"] == 2
    assert k.loc[("2026-10", "jd"), "buyers"] == 1
    assert k.loc[("2026-10", "jd"), "refund_rate"] == pytest.approx(200 / 240)
    assert k.loc[("2026-09", "tmall"), "aov"] == 50.0
    total = metrics.monthly_kpis(ORDERS).set_index("month")
    assert total.loc["2026-10", "net_sales"] == 130.0


def test_refunded_order_without_refund_amount_counts_whole_payment():
    orders = ORDERS.drop(columns="refund_amount")
    assert metrics.net_sales(orders) == 390.0 - 200.0  # GMV 50+100+200+40, order 3 refunded whole
    assert math.isnan(metrics.aov(orders.iloc[3:4]))


def test_kpi_comparison_month_over_month_and_year_over_year():
    orders = pd.concat([ORDERS, pd.DataFrame({
        "order_id": ["6"], "customer_id": ["D"], "order_ts": pd.to_datetime(["2025-10-15"]),
        "paid_amount": [170.0], "status": ["paid"], "refund_amount": [0.0], "channel": ["jd"]})])
    t = metrics.kpi_comparison(orders, "2026-10")
    gmv = t.loc["GMV 成交额"]
    assert (gmv.this_month, gmv.previous_month, gmv.last_year) == (340.0, 50.0, 170.0)
    assert gmv.mom == pytest.approx(340 / 50 - 1) and gmv.yoy == pytest.approx(1.0)
    assert t.loc["Buyers 买家", "this_month"] == 2
    assert math.isnan(metrics.kpi_comparison(ORDERS, "2026-10").loc["GMV 成交额", "yoy"])


def test_orders_with_only_the_required_columns():
    orders = ORDERS[["order_id", "order_ts", "paid_amount"]]
    assert metrics.net_sales(orders) == metrics.gmv(orders) == 470.0  # no status: every order is paid
    assert metrics.monthly_kpis(orders).set_index("month").loc["2026-10", "paid_orders"] == 4


def test_repurchase_rate_over_a_trailing_window():
    # buyers of Sep-Oct (2-month window): A on 09-03 and 10-01 (two days), B on 10-02 (refunded, still
    # paid) and 10-09 (two days); C only cancelled -> 2 of 2 repeat
    assert metrics.repurchase_rate(ORDERS, "2026-10", window_months=2) == 1.0
    # October alone: A once, B twice -> 1 of 2
    assert metrics.repurchase_rate(ORDERS, "2026-10", window_months=1) == 0.5
    # a 12-month window would start before the first order (2026-09): not computable
    assert math.isnan(metrics.repurchase_rate(ORDERS, "2026-10"))


def test_exercise_checker_never_gives_the_answer_away():
    from playbook import exercises

    class Data:  # the smallest stand-in for a Dataset: the report month's orders and the settings
        settings = {"shop": {"private_domain_channels": ["own_site"]}}

        @staticmethod
        def month_rows(table):
            return ORDERS[ORDERS.order_ts >= "2026-10-01"]

    # tmall October orders: only order 2 (100.0) is paid -> AOV 100
    assert "correct" in exercises.check("00.aov_tmall", 100.0, Data)
    wrong = exercises.check("00.aov_tmall", 120.0, Data)
    assert "too high" in wrong and "100" not in wrong
    assert "correct" in exercises.check("00.private_domain_share", 0.0, Data)  # no own_site order in October

    class Empty(Data):
        @staticmethod
        def month_rows(table):
            return ORDERS.iloc[0:0]

    assert "cannot answer" in exercises.check("00.private_domain_share", 0.1, Empty)  # 0 / 0


def test_split_by_a_column_the_source_lacks():
    k = metrics.monthly_kpis(ORDERS.drop(columns="channel"), by="channel")
    assert set(k["channel"]) == {"all"} and k.loc[k.month == "2026-10", "gmv"].item() == 340.0


def test_month_labels_are_strftime_computed_once_per_month():
    ts = pd.Series(pd.to_datetime(["2025-12-31 23:59:59", None, "2026-01-01 00:00:00", "0999-03-05 08:00:00",
                                   "2026-01-20 12:00:00"]).astype("datetime64[us]"))
    labels = metrics.month_labels(ts)
    assert labels.tolist()[:1] + labels.tolist()[2:] == ["2025-12", "2026-01", "0999-03", "2026-01"]
    assert pd.isna(labels.iat[1]) and labels.dtype == ts.dt.strftime("%Y-%m").dtype
    assert metrics.month_codes(ts).iat[0] == 2025 * 12 + 11
    shifted = ts.iloc[2:]  # a filtered frame's index: labels stay with their rows
    assert metrics.month_labels(shifted).to_dict() == {2: "2026-01", 3: "0999-03", 4: "2026-01"}


def test_kpis_of_a_prepared_dataset_read_only_the_kpi_columns_and_keep_none(tmp_path, monkeypatch):
    """Given the Dataset of a prepared folder, the KPIs read five or six orders columns of
    nineteen, for the calculation only (not kept in the dataset), and equal the KPIs of the whole
    orders table."""
    from pathlib import Path

    import playbook
    from playbook import loading
    from playbook.loading import prepare_source

    data = prepare_source(Path(__file__).resolve().parent.parent / "data" / "samples", tmp_path / "p",
                          month="2026-10")
    reads, real = [], loading.read_parquet
    monkeypatch.setattr(loading, "read_parquet", lambda file, columns=None: reads.append(columns) or real(file, columns))
    by_channel = metrics.monthly_kpis(data, by="channel")
    table = metrics.kpi_comparison(data, "2026-10")
    assert data.table_file("orders") is not None and "orders" not in data._partial  # nothing read whole, nothing kept
    assert reads == [["order_ts", "paid_amount", "status", "refund_amount", "customer_id", "channel"],
                     ["order_ts", "paid_amount", "status", "refund_amount", "customer_id"]]
    whole = playbook.load(tmp_path / "p").orders
    pd.testing.assert_frame_equal(by_channel, metrics.monthly_kpis(whole, by="channel"), check_exact=True)
    pd.testing.assert_frame_equal(table, metrics.kpi_comparison(whole, "2026-10"), check_exact=True)


def test_kpis_of_a_large_prepared_table_read_a_few_months_at_a_time(tmp_path, monkeypatch):
    """A prepared orders file of more than WINDOW_ROWS rows is read in windows of whole months
    (from its row groups' statistics); the KPI tables equal those of the whole table, exactly."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from test_derived import _Prepared  # a prepared dataset of Parquet files not read yet

    from playbook import loading

    # 120 orders, one every 12 hours from 2026-06-01: 60 in June, 60 in July; customers C0..C6
    n = 120
    orders = pd.DataFrame({
        "order_id": [f"O{i:03d}" for i in range(n)],
        "customer_id": [f"C{i % 7}" for i in range(n)],
        "order_ts": pd.Timestamp("2026-06-01") + pd.to_timedelta([12 * i for i in range(n)], unit="h"),
        "paid_amount": [10.0 + i % 9 for i in range(n)],
        "status": ["cancelled" if i % 11 == 0 else "refunded" if i % 13 == 0 else "paid" for i in range(n)],
        "refund_amount": [5.0 if i % 13 == 0 else 0.0 for i in range(n)],
        "channel": ["tmall" if i % 3 else "jd" for i in range(n)],
    })
    file = tmp_path / "orders.parquet"
    pq.write_table(pa.Table.from_pandas(orders, preserve_index=False), file, row_group_size=10)  # 12 groups
    data = _Prepared({"orders": file})
    by_channel, table = metrics.monthly_kpis(orders, by="channel"), metrics.kpi_comparison(orders, "2026-07")
    assert metrics.order_windows(data) is None  # 120 rows: read whole
    monkeypatch.setattr(metrics, "WINDOW_ROWS", 100)  # June's 60 rows, then July's: 120 >= 100
    assert metrics.order_windows(data) == [(pd.Timestamp("2026-06-01"), pd.Timestamp("2026-08-01"))]
    monkeypatch.setattr(metrics, "WINDOW_ROWS", 40)  # a window a month
    assert metrics.order_windows(data) == [(pd.Timestamp("2026-06-01"), pd.Timestamp("2026-07-01")),
                                           (pd.Timestamp("2026-07-01"), pd.Timestamp("2026-08-01"))]
    read, real = [], loading.read_window
    monkeypatch.setattr(loading, "read_window", lambda *a: read.append(a[4]) or real(*a))
    pd.testing.assert_frame_equal(metrics.monthly_kpis(data, by="channel"), by_channel, check_exact=True)
    assert read == [pd.Timestamp("2026-06-01"), pd.Timestamp("2026-07-01")]
    read.clear()
    pd.testing.assert_frame_equal(metrics.kpi_comparison(data, "2026-07"), table, check_exact=True)
    assert read == [pd.Timestamp("2025-07-01"), pd.Timestamp("2026-06-01"), pd.Timestamp("2026-07-01")]  # those months only
    # a missing order time: the whole table is read
    orders.loc[5, "order_ts"] = pd.NaT
    pq.write_table(pa.Table.from_pandas(orders, preserve_index=False), file, row_group_size=10)
    assert metrics.order_windows(data) is None
