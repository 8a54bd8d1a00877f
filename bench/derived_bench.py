"""Benchmark of the shared derived tables (issue: scale, "beyond one machine"): the SQL definitions
run on DuckDB (playbook.derived.compute) next to the pandas code they replaced (kept as the
reference in tests/test_derived.py), on the same loaded tables, and the cost of ``import playbook``
(the pack starts one kernel per chapter, each importing it).

    .venv/bin/python -m playbook.samples --out /tmp/shopA10 --scale 10
    .venv/bin/python bench/derived_bench.py /tmp/shopA10 [--month 2026-10] [--repeat 5]

Prints a table and writes bench/results/derived.md. Not a test: nothing here asserts (the tests
check that both give the same tables).
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

import playbook
from playbook import derived

from _common import write_result

ROOT = Path(__file__).resolve().parent.parent


def reference():
    spec = importlib.util.spec_from_file_location("reference_derived", ROOT / "tests" / "test_derived.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.REFERENCE


def best_and_median(fn, repeat: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), result


def import_seconds(repeat: int) -> tuple[float, bool]:
    """Median wall time of ``python -c "import playbook"`` and whether it pulls in the derived
    tables' engines (it must not: they are imported when first used)."""
    code = ("import sys, time; t = time.perf_counter(); import playbook; d = time.perf_counter() - t; "
            "print(d, any(m in sys.modules for m in ('playbook.derived', 'playbook.lake', 'pyspark', 'sqlglot')))")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(repeat)]
    return statistics.median(float(r[0]) for r in runs), any(r[1] == "True" for r in runs)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=str(ROOT / "data" / "samples"))
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    data = playbook.load(args.source, month=args.month)
    loaded = time.perf_counter() - t0
    ref = reference()
    rows = []
    for name in derived.DERIVED:
        p_best, p_med, expected = best_and_median(lambda: ref[name](data), args.repeat)
        d_best, d_med, got = best_and_median(lambda: derived.compute(name, data), args.repeat)
        try:
            pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
            same = "yes"
        except AssertionError:
            same = "NO"
        rows.append((name, len(got), p_best, p_med, d_best, d_med, same))
    imp, heavy = import_seconds(args.repeat)

    lines = [f"# Shared derived tables: pandas (before) and SQL on DuckDB (after), 2 cores, best and median of {args.repeat}",
             "", f"Source {args.source}, month {args.month}: {len(data['orders']):,} orders and "
             f"{len(data['order_items']) if 'order_items' in data else 0:,} order lines in the window (loaded in {loaded:.0f} s).",
             "", "| table | rows | pandas best / median (s) | DuckDB best / median (s) | ratio (best) | same table |",
             "|---|---|---|---|---|---|"]
    for name, n, pb, pm, db, dm, same in rows:
        lines.append(f"| {name} | {n:,} | {pb:.2f} / {pm:.2f} | {db:.2f} / {dm:.2f} | {db / pb:.2f} | {same} |")
    tp, td = sum(r[2] for r in rows), sum(r[4] for r in rows)
    lines.append(f"| all three | | {tp:.2f} | {td:.2f} | {td / tp:.2f} | |")
    lines += ["", f"`import playbook`: {imp:.2f} s (median of {args.repeat} fresh interpreters); imports the derived "
              f"tables' engines (playbook.derived, playbook.lake, pyspark, sqlglot): {'yes' if heavy else 'no'}.",
              "", "Same table: equal columns, dtypes and order, floats within 1e-12 relative (sums of money "
              "added in another order differ in the last bits)."]
    write_result("derived", lines)


if __name__ == "__main__":
    main()
