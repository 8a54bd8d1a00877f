"""The benchmarks' own tools (bench/): what they build must be the shop they claim."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

import playbook
from playbook import metrics

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from tile_shop import tile  # noqa: E402


def test_a_tiled_shop_is_the_shop_that_many_times_over(tmp_path):
    shop = playbook.load(ROOT / "data" / "samples")
    source = tmp_path / "shop"
    source.mkdir()
    for name in shop:
        shop[name].to_parquet(source / f"{name}.parquet", index=False)
    rows = tile(source, tmp_path / "tiled", 3)
    big = playbook.load(tmp_path / "tiled")
    assert rows["orders"] == 3 * len(shop.orders) == len(big.orders)
    assert not big.quality.errors and big.orders["order_id"].is_unique and big.customers["customer_id"].is_unique
    assert big.orders["order_id"].str.len().nunique() == 1  # one width: the fixed-width paths still apply
    assert set(big.orders["order_id"].str[0]) == {"0", "1", "2"}
    # the same buyers three times over: volumes triple, averages and rates stay
    small, large = metrics.monthly_kpis(shop.orders), metrics.monthly_kpis(big.orders)
    for col in ("gmv", "paid_orders", "buyers"):
        np.testing.assert_allclose(large[col], 3 * small[col])
    np.testing.assert_allclose(large["aov"], small["aov"])
    np.testing.assert_allclose(big.traffic["visitors"], 3 * shop.traffic["visitors"])
    assert big.products.equals(shop.products) and len(big.inventory) == len(shop.inventory)
    targets = big.targets.merge(shop.targets, on=["month", "metric", "channel"], suffixes=("", "_one"))
    aov = targets["metric"] == "aov"
    assert (targets.loc[aov, "value"] == targets.loc[aov, "value_one"]).all()
    assert np.allclose(targets.loc[targets["metric"] == "gmv", "value"], 3 * targets.loc[targets["metric"] == "gmv", "value_one"])
    # a buyer's three copies share no contact or address: no fraud ring made by the copying
    pairs = big.orders.groupby("contact_hash")["customer_id"].nunique()
    one = shop.orders.groupby("contact_hash")["customer_id"].nunique()
    assert pairs.max() == one.max() and len(pairs) == 3 * len(one)
    assert isinstance(pd.read_parquet(tmp_path / "tiled" / "orders.parquet", columns=["order_id"]), pd.DataFrame)
