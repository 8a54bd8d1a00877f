"""A shop ``--copies`` times a generated shop, for the benchmarks beyond what the generator holds in
memory (issue: scale; ten copies of the ~10M-line shop make the ~100M-line one).

The generator builds a whole shop in memory (about 50 GB for 100M order lines), so the largest shop
is made by copying a generated one instead: every copy of a customer's rows gets new ids, and the
shop-wide tables grow with the copies.

- Tables of people and their orders (orders, order_items, customers, reviews, shipments,
  service_tickets, experiments, touchpoints) are written ``copies`` times, copy ``k``'s ids prefixed
  with ``k`` (``O0000001`` -> ``3O0000001``: every id keeps one width, so the fixed-width fast paths
  apply as on a generated shop). The contact and address hashes are prefixed too, or the copies of a
  buyer would look like one fraud ring.
- Shop-wide tables (traffic, marketing spend, campaign budgets, search terms, inventory, purchase
  orders, count and money targets) are written once, their volumes multiplied by ``copies``: ten
  times the buyers come from ten times the visitors and need ten times the stock.
- The catalogue (products, suppliers, competitor prices, campaigns' other columns) is unchanged.

Each table is streamed row group by row group (pyarrow), copy after copy, so memory stays small;
ten copies of the ~10M-line shop take a few minutes and about 5.5 GB of disk.

    .venv/bin/python bench/tile_shop.py --source bench/.data/shop-120-parquet --copies 10 \\
        --out bench/.data/shop-1200-parquet
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

#: table -> id columns that each copy prefixes with its number
COPIED = {
    "orders": ("order_id", "customer_id", "contact_hash", "address_hash"),
    "order_items": ("order_id",),
    "customers": ("customer_id",),
    "reviews": ("review_id", "order_id", "customer_id"),
    "shipments": ("order_id",),
    "service_tickets": ("ticket_id", "customer_id", "order_id"),
    "experiments": ("unit_id",),
    "touchpoints": ("customer_id",),
}

#: table -> volume columns multiplied by the number of copies (the table is written once)
SCALED = {
    "traffic": ("visitors", "product_views", "add_to_cart", "checkouts"),
    "marketing_spend": ("spend", "impressions", "clicks"),
    "campaigns": ("budget",),
    "search_terms": ("searches", "clicks", "orders"),
    "inventory": ("on_hand", "on_order"),
    "purchase_orders": ("qty_ordered", "qty_received"),
    "targets": ("value",),  # the count and money metrics only (TARGET_VOLUMES)
}
TARGET_VOLUMES = ("buyers", "gmv", "new_customers", "orders", "net_sales", "paid_orders")


def _prefixed(column, k: int):
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(pa.scalar(str(k), column.type), column, pa.scalar("", column.type))


def _scaled(column, copies: int):
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(pc.multiply(column, pa.scalar(copies, column.type)), column.type)


def _batch(batch, table: str, *, k: int | None, copies: int):
    """One record batch of ``table`` for copy ``k`` (ids prefixed), or scaled when ``k`` is None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = {name: batch.column(name) for name in batch.schema.names}
    if k is not None:
        for name in COPIED.get(table, ()):
            if name in columns:
                columns[name] = _prefixed(columns[name], k)
    else:
        for name in SCALED.get(table, ()):
            if name not in columns or not pa.types.is_integer(columns[name].type) and not pa.types.is_floating(columns[name].type):
                continue
            scaled = _scaled(columns[name], copies)
            if table == "targets":  # rates (AOV, conversion) stay as they are
                scaled = pc.if_else(pc.is_in(batch.column("metric"), pa.array(TARGET_VOLUMES)), scaled, columns[name])
            columns[name] = scaled
    return pa.RecordBatch.from_arrays(list(columns.values()), schema=batch.schema)


def tile(source: Path, out: Path, copies: int) -> dict:
    """Write the shop ``copies`` times ``source`` into ``out`` (Parquet, one file per table);
    returns the rows written per table."""
    import pyarrow.parquet as pq

    if copies < 1:
        raise SystemExit("--copies must be at least 1")
    staging = out.with_name(out.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    rows = {}
    for file in sorted(source.glob("*.parquet")):
        table = file.stem
        reader = pq.ParquetFile(file)
        rounds = range(copies) if table in COPIED else [None]
        with pq.ParquetWriter(staging / file.name, reader.schema_arrow) as writer:
            for k in rounds:
                for batch in reader.iter_batches(batch_size=1 << 20):
                    writer.write_batch(_batch(batch, table, k=k, copies=copies))
        rows[table] = reader.metadata.num_rows * len(rounds)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="a generated shop (Parquet folder)")
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    rows = tile(args.source, args.out, args.copies)
    seconds = time.perf_counter() - t0
    (args.out / "_bench.json").write_text(json.dumps({
        "tiled_from": str(args.source), "copies": args.copies, "tile_seconds": round(seconds, 1),
        "orders": rows.get("orders"), "order_items": rows.get("order_items")}))
    print(f"{args.out}: {rows.get('order_items', 0):,} order lines, {rows.get('orders', 0):,} orders "
          f"in {seconds:.0f} s")


if __name__ == "__main__":
    main()
