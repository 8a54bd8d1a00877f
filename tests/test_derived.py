"""Shared derived tables on a hand-built shop, and the prepared-folder round trip."""
import pandas as pd
import pytest

import playbook
from playbook.loading import prepare

ORDERS = """order_id,customer_id,order_ts,paid_amount,status,channel,refund_amount
1,A,2026-10-01 09:00:00,100,paid,tmall,0
2,A,2026-10-01 18:00:00,50,paid,tmall,0
3,B,2026-10-01 20:00:00,80,cancelled,tmall,0
4,B,2026-10-02 10:00:00,70,refunded,jd,70
5,C,2026-10-03 11:00:00,30,paid,tmall,10
"""
ITEMS = "order_id,sku,qty,unit_price\n1,S1,2,50\n2,S2,1,50\n3,S1,1,80\n4,S1,1,70\n5,S2,3,10\n"
TRAFFIC = "date,channel,device,visitors\n2026-10-01,tmall,app,60\n2026-10-01,tmall,pc,40\n2026-10-02,tmall,app,90\n2026-10-02,jd,app,50\n"
INVENTORY = "date,sku,on_hand\n2026-10-01,S1,10\n2026-10-02,S1,9\n"


@pytest.fixture
def data(tmp_path):
    for name, text in dict(orders=ORDERS, order_items=ITEMS, traffic=TRAFFIC, inventory=INVENTORY).items():
        (tmp_path / f"{name}.csv").write_text(text)
    return playbook.load(tmp_path, month="2026-10")


def test_daily_kpis(data):
    k = data.derived("daily_kpis").set_index(["date", "channel"])
    day1 = k.loc[(pd.Timestamp("2026-10-01"), "tmall")]
    # orders 1, 2 paid (150), order 3 cancelled; 100 visitors over two devices
    assert (day1.orders, day1.paid_orders, day1.buyers, day1.gmv, day1.visitors) == (3, 2, 1, 150.0, 100.0)
    assert day1.conversion == pytest.approx(0.02)
    # a day with visitors and no order shows zero orders, not a missing row
    assert k.loc[(pd.Timestamp("2026-10-02"), "tmall"), "paid_orders"] == 0
    assert k.loc[(pd.Timestamp("2026-10-02"), "jd"), "net_sales"] == 0.0  # fully refunded


def test_customer_summary(data):
    c = data.derived("customer_summary").set_index("customer_id")
    assert list(c.index) == ["A", "B", "C"]
    assert (c.loc["A", "paid_orders"], c.loc["A", "order_days"], c.loc["A", "gmv"]) == (2, 1, 150.0)
    assert c.loc["B", "paid_orders"] == 1 and c.loc["B", "net_sales"] == 0.0  # the cancelled order is not counted
    assert c.loc["B", "first_channel"] == "jd"
    assert c.loc["C", "net_sales"] == 20.0


def test_sku_daily(data):
    s = data.derived("sku_daily").set_index(["date", "sku"])
    assert (s.loc[(pd.Timestamp("2026-10-01"), "S1"), "units"], s.loc[(pd.Timestamp("2026-10-01"), "S1"), "on_hand"]) == (2, 10.0)
    assert s.loc[(pd.Timestamp("2026-10-03"), "S2"), "revenue"] == 30.0
    assert s.loc[(pd.Timestamp("2026-10-02"), "S1"), "units"] == 1  # the refunded order was paid


def test_prepared_folder_round_trip(data, tmp_path):
    folder = prepare(data, tmp_path / "prepared")
    again = playbook.load(folder, month="2026-10")
    for name in data:
        pd.testing.assert_frame_equal(data[name], again[name])
    pd.testing.assert_frame_equal(data.derived("daily_kpis"), again.derived("daily_kpis"))
    with pytest.raises(playbook.DataError, match="prepared for 2026-10"):
        playbook.load(folder, month="2026-09")


def test_isin_ids_matches_pandas_on_text_ids():
    from playbook.derived import isin_ids

    ids = pd.Series(["O1", "O2", None, "007"], dtype="str")
    assert isin_ids(ids, ["O2", "007", None]).tolist() == [False, True, False, True]
