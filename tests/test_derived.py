"""Shared derived tables on a hand-built shop, and the prepared-folder round trip."""
from pathlib import Path

import numpy as np
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


# ---------------------------------------------------------------------------------------------
# The SQL definitions against the pandas code they replaced (kept here as the reference)
# ---------------------------------------------------------------------------------------------

def _reference_daily_kpis(data):
    from playbook.metrics import _refunds, paid_mask

    orders = data["orders"]
    paid = paid_mask(orders)
    channel = orders["channel"].fillna("unknown") if "channel" in orders.columns else pd.Series("all", index=orders.index)
    frame = pd.DataFrame({
        "date": orders["order_ts"].dt.normalize(), "channel": channel,
        "orders": 1, "paid_orders": paid.astype("int64"),
        "gmv": orders["paid_amount"].where(paid, 0.0),
        "net_sales": (orders["paid_amount"] - _refunds(orders)).where(paid, 0.0),
    })
    agg = {"orders": ("orders", "sum"), "paid_orders": ("paid_orders", "sum"), "gmv": ("gmv", "sum"),
           "net_sales": ("net_sales", "sum")}
    if "customer_id" in orders.columns:
        frame["buyer"] = orders["customer_id"].where(paid)
        agg["buyers"] = ("buyer", "nunique")
    out = frame.groupby(["date", "channel"], observed=True).agg(**agg).reset_index()
    if "traffic" in data:
        visitors = (data["traffic"].assign(date=lambda t: t["date"].dt.normalize())
                    .groupby(["date", "channel"], observed=True)["visitors"].sum().astype("float64").reset_index())
        out = visitors.merge(out, on=["date", "channel"], how="outer")
        out = out.fillna({c: 0 for c in agg})
        for c in ("orders", "paid_orders") + (("buyers",) if "buyers" in agg else ()):
            out[c] = out[c].astype("int64")
        out["conversion"] = out["paid_orders"] / out["visitors"].where(out["visitors"] > 0)
    return out.sort_values(["date", "channel"]).reset_index(drop=True)


def _reference_customer_summary(data):
    from playbook.metrics import _refunds, paid_mask

    orders = data["orders"]
    if "customer_id" not in orders.columns:
        raise KeyError("orders has no customer_id")
    paid = orders.loc[paid_mask(orders) & orders["customer_id"].notna()]
    net = paid["paid_amount"] - _refunds(paid)
    frame = pd.DataFrame({"customer_id": paid["customer_id"], "ts": paid["order_ts"],
                          "day": paid["order_ts"].dt.normalize(), "gmv": paid["paid_amount"], "net": net})
    g = frame.groupby("customer_id", sort=True)
    out = pd.DataFrame({
        "first_order_ts": g["ts"].min(), "last_order_ts": g["ts"].max(), "paid_orders": g.size(),
        "order_days": g["day"].nunique(), "gmv": g["gmv"].sum(), "net_sales": g["net"].sum(),
    })
    out["aov"] = out["gmv"] / out["paid_orders"]
    if "channel" in paid.columns:
        first = paid.sort_values("order_ts", kind="stable").drop_duplicates("customer_id")
        out["first_channel"] = first.set_index("customer_id")["channel"]
    return out.reset_index()


def _reference_sku_daily(data):
    from playbook.metrics import paid_mask

    orders = data["orders"]
    items = data["order_items"]
    paid = orders.loc[paid_mask(orders), ["order_id", "order_ts"]]
    lines = items.merge(paid, on="order_id", how="inner")
    lines = lines.assign(date=lines["order_ts"].dt.normalize(),
                         revenue=lines["qty"].astype("float64") * lines["unit_price"])
    out = (lines.groupby(["date", "sku"], observed=True)
           .agg(units=("qty", "sum"), revenue=("revenue", "sum")).reset_index())
    out["units"] = out["units"].astype("int64")
    if "inventory" in data:
        stock = (data["inventory"].assign(date=lambda t: t["date"].dt.normalize())
                 .groupby(["date", "sku"], observed=True)["on_hand"].sum().astype("float64").reset_index())
        out = stock.merge(out, on=["date", "sku"], how="outer")
        out["units"] = out["units"].fillna(0).astype("int64")
        out["revenue"] = out["revenue"].fillna(0.0)
    return out.sort_values(["date", "sku"]).reset_index(drop=True)


REFERENCE = {"daily_kpis": _reference_daily_kpis, "customer_summary": _reference_customer_summary,
             "sku_daily": _reference_sku_daily}


def _ts(values):
    return pd.Series(pd.to_datetime(values, format="ISO8601"), dtype="datetime64[us]")


def _str(values):
    return pd.Series(values, dtype="str")


def dirty_shop() -> dict[str, pd.DataFrame]:
    """Contract-typed frames with the awkward cases: missing channel/status/customer, a refund
    above the payment, a payment without amount, two first orders at the same second on
    different channels, lines without qty or price, a SKU-less line, a line of an unknown order,
    traffic and stock on days without sales, visitors missing or zero."""
    orders = pd.DataFrame({
        "order_id": _str(["o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8", "o9"]),
        "customer_id": _str(["A", "A", "B", None, "C", "C", "D", "E", "B"]),
        "order_ts": _ts(["2026-10-01 09:00", "2026-10-01 18:00", "2026-10-01 20:00", "2026-10-02 10:00",
                         "2026-10-02 11:00", "2026-10-02 11:00", "2026-10-03 08:00", "2026-10-03 09:00",
                         "2026-10-04 23:59:59"]),
        "paid_amount": [100.0, 50.5, 80.0, 70.0, 30.0, 20.0, 10.0, float("nan"), 40.0],
        "status": _str(["paid", "paid", "cancelled", "refunded", "paid", None, "refunded", "paid", "paid"]),
        "channel": _str(["tmall", "tmall", "tmall", None, "jd", "douyin", "jd", None, "jd"]),
        "refund_amount": [0.0, float("nan"), 0.0, 70.0, 45.0, 0.0, 4.0, 0.0, float("nan")],
    })
    items = pd.DataFrame({
        "order_id": _str(["o1", "o1", "o2", "o3", "o4", "o5", "o6", "o7", "o9", "zz"]),
        "sku": _str(["S1", "S2", "S1", "S1", "S2", None, "S3", "S3", "S1", "S1"]),
        "qty": pd.array([2, 1, 1, 5, 1, 1, None, 2, 3, 9], dtype="Int64"),
        "unit_price": [50.0, 10.0, 50.5, 16.0, 70.0, 30.0, 20.0, float("nan"), 13.3, 1.0],
    })
    traffic = pd.DataFrame({
        "date": _ts(["2026-10-01", "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-02", "2026-10-03"]),
        "channel": _str(["tmall", "tmall", "tmall", "tmall", "jd", "jd"]),
        "visitors": pd.array([60, 40, 90, 0, None, 25], dtype="Int64"),
    })
    inventory = pd.DataFrame({
        "date": _ts(["2026-10-01", "2026-10-01", "2026-10-02", "2026-10-06"]),
        "sku": _str(["S1", "S1", "S2", "S9"]),
        "on_hand": pd.array([10, 5, None, 3], dtype="Int64"),
    })
    return {"orders": orders, "order_items": items, "traffic": traffic, "inventory": inventory}


VARIANTS = {
    "everything": {},
    "no channel": {"orders": ["channel"]},
    "no status": {"orders": ["status"]},
    "no refund_amount": {"orders": ["refund_amount"]},
    "no status nor refund": {"orders": ["status", "refund_amount"]},
    "no customer_id": {"orders": ["customer_id"]},
    "no traffic nor inventory": {"traffic": None, "inventory": None},
}


def _variant(drop: dict) -> dict[str, pd.DataFrame]:
    shop = dirty_shop()
    for table, cols in drop.items():
        if cols is None:
            del shop[table]
        else:
            shop[table] = shop[table].drop(columns=cols)
    return shop


@pytest.mark.parametrize("name", ["daily_kpis", "customer_summary", "sku_daily"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_sql_definition_returns_what_the_pandas_code_returned(name, variant):
    from playbook.derived import compute

    data = _variant(VARIANTS[variant])
    try:
        expected = REFERENCE[name](data)
    except KeyError:
        with pytest.raises(KeyError):
            compute(name, data)
        return
    pd.testing.assert_frame_equal(compute(name, data), expected, check_exact=False, rtol=1e-12)


def test_dirty_shop_figures_by_hand():
    from playbook.derived import compute

    data = dirty_shop()
    k = compute("daily_kpis", data).set_index(["date", "channel"])
    oct2 = pd.Timestamp("2026-10-02")
    # o4 has no channel: counted under "unknown"; refunded in full, so net sales 0
    assert (k.loc[(oct2, "unknown"), "paid_orders"], k.loc[(oct2, "unknown"), "net_sales"]) == (1, 0.0)
    # o5: a refund of 45 on a payment of 30 counts 30
    assert k.loc[(oct2, "jd"), "net_sales"] == 0.0 and k.loc[(oct2, "jd"), "gmv"] == 30.0
    assert pd.isna(k.loc[(oct2, "jd"), "conversion"])  # visitors missing: summed as 0, so no rate
    assert k.loc[(pd.Timestamp("2026-10-05"), "tmall"), "orders"] == 0  # traffic, no order
    assert pd.isna(k.loc[(pd.Timestamp("2026-10-04"), "jd"), "visitors"])  # orders, no traffic
    c = compute("customer_summary", data).set_index("customer_id")
    assert c.loc["C", "first_channel"] == "jd"  # o5 and o6 at the same second: the earlier row
    assert c.loc["E", "gmv"] == 0.0 and c.loc["E", "paid_orders"] == 1  # paid without an amount
    assert (c.loc["B", "paid_orders"], c.loc["B", "first_channel"]) == (1, "jd")  # o3 was cancelled
    s = compute("sku_daily", data).set_index(["date", "sku"])
    oct1 = pd.Timestamp("2026-10-01")
    # S1 on Oct 1: o1 2 x 50 + o2 1 x 50.5 (o3 cancelled); stock 10 + 5 in two warehouses
    assert tuple(s.loc[(oct1, "S1"), ["units", "revenue", "on_hand"]]) == (3, 150.5, 15.0)
    assert s.loc[(pd.Timestamp("2026-10-03"), "S3"), "revenue"] == 0.0  # no unit price: no revenue
    assert s.loc[(pd.Timestamp("2026-10-06"), "S9"), "units"] == 0  # stock, no sale
    assert "zz" not in set(data["orders"]["order_id"]) and s["units"].sum() == 2 + 1 + 1 + 1 + 2 + 3


def test_unknown_or_impossible_derived_tables_raise_key_error():
    from playbook.derived import compute

    with pytest.raises(KeyError, match="unknown derived table"):
        compute("weekly_kpis", dirty_shop())
    with pytest.raises(KeyError, match="order_items"):
        compute("sku_daily", {"orders": dirty_shop()["orders"]})


def test_positions_match_get_indexer_on_text_and_object_ids():
    from playbook.derived import positions, unique_positions

    keys = pd.Series(["a", "b", "c"], dtype="str")
    look = pd.Series(["c", "z", "a", None], dtype="str")
    assert positions(look, keys).tolist() == [2, -1, 0, -1]
    assert positions(look.astype(object), keys.astype(object)).tolist() == [2, -1, 0, -1]
    assert unique_positions(look, keys).tolist() == [2, -1, 0, -1]
    assert unique_positions(look, pd.Series(["a", "a"], dtype="str")) is None
    with pytest.raises(Exception):  # repeated keys: pandas' own error, never a silent first match
        positions(look, pd.Series(["a", "a"], dtype="str"))


def test_a_cached_value_of_a_prepared_dataset_reads_no_table_for_its_key(data, tmp_path):
    from playbook.derived import per_dataset

    prepared = playbook.load(prepare(data, tmp_path / "prepared"), month="2026-10")
    calls = []
    build = (lambda d: calls.append(1) or len(calls))
    assert per_dataset(prepared, "test.value", build) == 1
    assert all(isinstance(v, Path) for v in prepared._tables.values())  # the key read nothing
    prepared["orders"]  # reading a table later keeps the value
    assert per_dataset(prepared, "test.value", build) == 1 and len(calls) == 1


def test_first_channel_is_that_of_the_first_paid_order_even_when_missing():
    """The first channel is the first paid order's, a missing one included (a later order's
    channel does not stand in for it); ties at the same time go to the earlier row."""
    from playbook.derived import compute

    orders = pd.DataFrame({
        "order_id": _str(["x1", "x2", "y1", "y2", "y3"]),
        "customer_id": _str(["X", "X", "Y", "Y", "Y"]),
        "order_ts": _ts(["2026-10-01 09:00", "2026-10-03 09:00", "2026-10-02 12:00", "2026-10-02 12:00",
                         "2026-10-01 08:00"]),
        "paid_amount": [10.0, 20.0, 5.0, 6.0, 7.0],
        "status": _str(["paid", "paid", "paid", "paid", "cancelled"]),
        "channel": _str([None, "jd", "douyin", "tmall", "jd"]),
    })
    c = compute("customer_summary", {"orders": orders}).set_index("customer_id")
    assert pd.isna(c.loc["X", "first_channel"]) and c.loc["X", "paid_orders"] == 2
    assert c.loc["Y", "first_channel"] == "douyin"  # y3 is earlier but cancelled; y1 and y2 tie: y1's row first


# -- integer codes and positions of text ids -------------------------------------------------------

def test_text_codes_match_pandas_factorize():
    from playbook.derived import text_codes

    # one width (8-byte keys and 16-char hashes), several widths (pandas itself), missing values
    cases = [pd.Series(["C0000002", "C0000001", "C0000002", None], dtype="str"),
             pd.Series(["b42ded861457f314", "0cafaed46ec0d34a", "b42ded861457f314"], dtype="str"),
             # 19-digit platform order numbers (packed into integers) and a letter before digits
             pd.Series(["4012345678901234567", "0000000000000000009", None, "4012345678901234567",
                        "9999999999999999999"], dtype="str"),
             pd.Series(["9O1234567", "0O0000002", "0O0000001", "9O1234567"], dtype="str"),
             pd.Series(["b", "aa", "b"], dtype="str")]
    for s in cases:
        for sort in (False, True):
            codes, uniques = text_codes(s, sort=sort)
            want_codes, want_uniques = pd.factorize(s, sort=sort)
            assert codes.tolist() == want_codes.tolist()
            assert uniques.tolist() == want_uniques.tolist() and uniques.dtype == want_uniques.dtype
    assert text_codes(cases[0], sort=True)[0].tolist() == [1, 0, 1, -1]
    assert text_codes(cases[2], sort=True)[0].tolist() == [1, 0, -1, 1, 2]


def test_id_integers_order_as_the_texts_and_fit_in_64_bits():
    from playbook.derived import fixed_width_bytes, id_integers

    def ints(*texts):
        found = id_integers(*(fixed_width_bytes(pd.Series(t, dtype="str"))[0] for t in texts))
        return None if found is None else [f.tolist() for f in found]

    # up to 8 bytes: the bytes big-endian ("A1" = 0x4131 followed by six zero bytes)
    assert ints(["A1"]) == [[0x4131 << 48]]
    # longer: positions as mixed-radix digits; the letter and zeros never change (radix 1), the first
    # digit runs over 0-9 in the keys and values together (radix 10), the last over 1-3 (radix 3)
    assert ints(["0O0000001", "9O0000003"], ["0O0000002"]) == [[0, 9 * 3 + 2], [1]]
    # the same text is the same integer in both arrays, and integers order as the texts
    a, b = ints(["12345678901234567890"[:19], "0000000000000000001"], ["0000000000000000001"])
    assert b[0] == a[1] and a[1] < a[0]
    # 20 varied digits (10**20 > 2**64) and varied hex hashes (each position 0-f, radix 55) do not fit
    assert ints(["00000000000000000000", "99999999999999999999"]) is None
    assert ints([f"{i * 0x9E3779B97F4A7C15 % 2 ** 64:016x}0" for i in range(1, 200)]) is None
    with pytest.raises(ValueError, match="one width"):
        id_integers(np.zeros((2, 9), np.uint8), np.zeros((2, 10), np.uint8))


def test_positions_of_fixed_width_ids_as_integers_match_the_index():
    from pandas.errors import InvalidIndexError

    from playbook.derived import _integer_positions, positions, unique_positions

    keys = pd.Series(["A1", "A3", "B0", "B2"], dtype="str")
    ids = pd.Series(["B0", "A1", "A2", "B2", "A3", "ZZ", None], dtype="str")
    want = [2, 0, -1, 3, 1, -1, -1]
    assert _integer_positions(ids, keys)[0].tolist() == want  # ids of one width: as integers
    assert positions(ids, keys).tolist() == want and unique_positions(ids, keys).tolist() == want
    assert positions(ids.iloc[2:], keys).tolist() == want[2:]  # a slice of the Arrow array
    shuffled = pd.Series(["B2", "A1", "B0", "A3"], dtype="str")  # unsorted keys
    assert _integer_positions(ids, shuffled)[0].tolist() == [2, 1, -1, 0, 3, -1, -1]
    assert positions(ids, shuffled).tolist() == pd.Index(shuffled).get_indexer(ids).tolist()
    # repeated keys: no join (None), and positions raises as pandas does
    repeated = pd.Series(["A1", "B0", "A1"], dtype="str")
    assert _integer_positions(ids, repeated) == (None, True) and unique_positions(ids, repeated) is None
    with pytest.raises(InvalidIndexError):
        positions(ids, repeated)
    # longer ids that pack into 64 bits (a copy digit and a letter before seven digits): integers too
    long_keys = pd.Series(["3O0000009", "0O0000001", "9O1234567"], dtype="str")
    long_ids = pd.Series(["9O1234567", None, "0O0000001", "0O0000002", "3O0000009"], dtype="str")
    assert _integer_positions(long_ids, long_keys)[0].tolist() == [2, -1, 1, -1, 0]
    # ids of another width, ids too varied for 64 bits, keys with gaps: the hash lookup, same answers
    hashes = pd.Series([f"{i * 0x9E3779B97F4A7C15 % 2 ** 64:016x}0" for i in range(1, 200)], dtype="str")
    for v, k in [(pd.Series(["A1", "B"], dtype="str"), keys),
                 (hashes.iloc[::7], hashes.iloc[::-1]),
                 (ids, pd.Series(["A1", None, "B0"], dtype="str"))]:
        assert _integer_positions(v, k) == (None, False)
        if not k.hasnans:
            assert positions(v, k).tolist() == pd.Index(k).get_indexer(v).tolist()
    # many ids of one width against a shuffled million-like key set: the same as the index
    rng = np.random.default_rng(7)
    many = pd.Series([f"C{i:07d}" for i in rng.permutation(5_000)], dtype="str")
    look = pd.Series([f"C{i:07d}" for i in rng.integers(0, 6_000, 20_000)], dtype="str")
    assert positions(look, many).tolist() == pd.Index(many).get_indexer(look).tolist()


def test_ascending_text_and_compact_codes():
    from playbook.derived import ascending_text, compact_codes

    assert ascending_text(pd.Series(["c1", "c2", "c3"], dtype="str"))
    assert not ascending_text(pd.Series(["c2", "c1"], dtype="str"))
    assert not ascending_text(pd.Series(["c1", "c1"], dtype="str"))  # repeated: not strictly increasing
    assert compact_codes(np.array([-1, 0, 126]), 127).dtype == np.int8
    assert compact_codes(np.array([-1, 0, 127]), 128).dtype == np.int16
    assert compact_codes(np.array([0, 40_000]), 40_001).dtype == np.int32


class _Prepared:
    """A stand-in for a prepared dataset: tables as Parquet files not read yet."""

    def __init__(self, files: dict):
        self.files = files

    def table_file(self, name):
        return self.files.get(name)

    def __contains__(self, name):
        return name in self.files

    def __getitem__(self, name):
        return pd.read_parquet(self.files[name])


def test_column_codes_from_a_prepared_file_match_factorize(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from playbook.derived import column_codes

    # the dictionary of the file lists "zz" (a value only the dropped row had): it gets no code
    values = ["exp_b", "exp_a", None, "exp_b", "exp_c", "zz"]
    table = pa.table({"experiment_id": pa.array(values, type=pa.large_string())}).slice(0, 5)
    pq.write_table(table, tmp_path / "experiments.parquet", row_group_size=2)  # three row groups
    data = _Prepared({"experiments": tmp_path / "experiments.parquet"})
    codes, uniques = column_codes(data, "experiments", "experiment_id")
    assert codes.tolist() == [1, 0, -1, 1, 2] and codes.dtype == np.int8
    assert uniques.tolist() == ["exp_a", "exp_b", "exp_c"]
    want_codes, want = pd.factorize(pd.read_parquet(tmp_path / "experiments.parquet")["experiment_id"], sort=True)
    assert codes.tolist() == want_codes.tolist()
    pd.testing.assert_index_equal(uniques, want)
    assert column_codes(data, "experiments", "experiment_id")[0] is codes  # once per dataset
