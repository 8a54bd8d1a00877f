"""Scale benchmark (issue: scale): the playbook on shops of about one and ten million order lines.

For each scale of the sample generator (``--scales 12,120``: ~1M and ~10M order lines) it measures,
side by side, the median of ``--repeat`` runs and the peak memory (summed resident memory of the
process tree, sampled every 50 ms):

- the whole report pack for one month, against the floor (the same number of empty notebooks
  through the same runner, reading the same source), with each chapter's time and kernel peak;
  the report folders (bench/.data/reports-<scale>-*) are kept between runs as a monthly run keeps
  its reports, so chapters start longest first and are paired by the last pack's peaks (a shop's
  first run is an unmeasured warm-up); ``--memory-budget GB`` adds a run with that budget;
- the heavy helpers (per-customer summary, daily KPIs, SKU-by-day sales and stock, cohort matrix,
  RFM) against the same aggregation written directly in DuckDB SQL over the same in-memory tables,
  with a check that both give the same numbers.

    .venv/bin/python bench/scale_bench.py [--scales 12,120] [--repeat 3] [--pack-scales 12] [--memory-budget 6]

Shops are generated once into bench/.data/ (git-ignored); scale 1200 (~100M order lines) is ten
copies of scale 120 (bench/tile_shop.py). Prints a table and writes
bench/results/scale.md. Not a test: nothing here asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import write_result

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"
MONTH = "2026-10"
HELPERS = ("customer_summary", "daily_kpis", "sku_daily", "cohort_matrix", "rfm")


# ----------------------------------------------------------------------------------- measuring

class PeakMemory:
    """Peak of the summed resident memory of a process and its descendants, sampled in a thread."""

    def __init__(self, pid: int, interval: float = 0.05):
        import psutil

        self.proc, self.interval, self.peak = psutil.Process(pid), interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        import psutil

        total = 0
        try:
            procs = [self.proc] + self.proc.children(recursive=True)
        except psutil.Error:
            return 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def __enter__(self):
        self.base = self._rss()
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            self._stop.wait(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def run_child(*args: str) -> dict:
    """Run ``scale_bench.py _child ...`` in a fresh interpreter; its last line is a JSON result.
    Adds the peak memory of the whole child tree (kernels included)."""
    import psutil  # noqa: F401  (fail early when missing)

    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "_child", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    with PeakMemory(proc.pid) as mem:
        out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"benchmark child {args} failed with exit code {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result.setdefault("seconds", time.perf_counter() - t0)
    result["peak_gb"] = mem.peak / 1e9
    return result


# ----------------------------------------------------------------------------------- the shops

#: scales made by copying a generated shop (bench/tile_shop.py): scale -> (generated scale, copies);
#: the generator holds a whole shop in memory, about 50 GB for 100M order lines
TILED = {1200: (120, 10)}


def shop(scale: int) -> tuple[Path, dict]:
    """The generated shop of ``scale`` as Parquet (made once, or reused when bench/load_bench.py made
    it), with its size and, when this script generated it, the generation time. A scale of
    :data:`TILED` is that many copies of a generated shop."""
    folder = DATA / f"shop-{scale}-parquet"
    meta_path = folder / "_bench.json"
    if scale in TILED and not meta_path.exists():
        from tile_shop import main as tile_main

        base, copies = TILED[scale]
        tile_main(["--source", str(shop(base)[0]), "--copies", str(copies), "--out", str(folder)])
    if not meta_path.exists():
        seconds = None
        if not (folder / "orders.parquet").exists():
            folder.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "playbook.samples", "--out", str(folder), "--scale", str(scale),
                            "--format", "parquet"], check=True, stdout=subprocess.DEVNULL)
            seconds = time.perf_counter() - t0
        import duckdb

        con = duckdb.connect()
        counts = {t: con.execute(f"SELECT count(*) FROM read_parquet('{folder / (t + '.parquet')}')").fetchall()[0][0]
                  for t in ("orders", "order_items")}
        meta_path.write_text(json.dumps({"scale": scale, "generate_seconds": seconds, **counts}))
    return folder, json.loads(meta_path.read_text())


def _generated(meta: dict) -> str:
    if meta.get("copies"):
        return f"{meta['copies']} copies of {Path(meta['tiled_from']).name} by bench/tile_shop.py, in {meta['tile_seconds']:.0f} s"
    s = meta.get("generate_seconds")
    return f"generated in {s:.0f} s" if s else "generated by bench/load_bench.py"


def prepared(scale: int, folder: Path) -> tuple[Path, dict | None]:
    """The month's prepared run folder of a shop (what every chapter of the pack reads), made in a
    child process (load, validate, derive, write) whose time and peak memory are returned."""
    out = DATA / f"prepared-{scale}"
    if (out / "prepared.json").exists():
        return out, None
    return out, run_child("prepare", str(folder), str(out))


# ----------------------------------------------------------------------------------- children

def child_prepare(source: str, out: str) -> dict:
    from playbook.loading import prepare_source
    from playbook.report import personal_columns

    t0 = time.perf_counter()
    prepare_source(source, out, month=MONTH, drop_columns=personal_columns)
    return {"seconds": time.perf_counter() - t0}


def child_pack(source: str, empty: str, out: str, budget: str = "") -> dict:
    """One pack (or its floor) into ``out``, a folder kept from run to run as a monthly run keeps
    its reports: the chapters start longest first and are paired by the peaks of the last pack."""
    from playbook.report import chapter_notebooks, run_report

    with tempfile.TemporaryDirectory() as tmp:
        books = None
        if empty == "empty":
            sys.path.insert(0, str(ROOT / "bench"))
            from pack_bench import empty_notebooks

            books = empty_notebooks(Path(tmp), [nb.stem for nb in chapter_notebooks()])
        t0 = time.perf_counter()
        result = run_report(month=MONTH, data=source, out=Path(out), notebooks_dir=books, echo=None,
                            memory_budget_gb=float(budget) if budget else None)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "failed": result.failed,
            "chapters": {c.name: round(c.seconds, 1) for c in result.chapters},
            "chapter_peaks": {c.name: c.peak_gb for c in result.chapters}}


def pack_runs(scale: int, folder: Path, kind: str, repeat: int, budget: str = "") -> list[dict]:
    """``repeat`` packs (``kind``: chapters or empty) of a shop, after one unmeasured run when the
    shop's report folder holds no earlier pack (its times and peaks order the chapters)."""
    out = DATA / (f"reports-{scale}-{kind}" + (f"-budget{budget}" if budget else ""))
    if not list(out.glob("*/summary.json")):
        print(f"  {kind}: a first run, unmeasured, for the last pack's times and peaks", flush=True)
        run_child("pack", str(folder), kind, str(out), budget)
    return [run_child("pack", str(folder), kind, str(out), budget) for _ in range(repeat)]


def _register(con, data):
    for name in ("orders", "order_items", "traffic", "inventory"):
        if name in data:
            con.register(name, data[name])


SQL = {
    "customer_summary": """
        SELECT customer_id, min(order_ts) AS first_order_ts, max(order_ts) AS last_order_ts,
               count(*) AS paid_orders, count(DISTINCT date_trunc('day', order_ts)) AS order_days,
               sum(paid_amount) AS gmv,
               sum(paid_amount - least(coalesce(refund_amount, 0), paid_amount)) AS net_sales,
               sum(paid_amount) / count(*) AS aov, arg_min(channel, order_ts) AS first_channel
        FROM orders
        WHERE status IS DISTINCT FROM 'cancelled' AND customer_id IS NOT NULL
        GROUP BY customer_id ORDER BY customer_id""",
    "daily_kpis": """
        WITH o AS (
            SELECT date_trunc('day', order_ts) AS date, coalesce(channel, 'unknown') AS channel,
                   status IS DISTINCT FROM 'cancelled' AS paid, paid_amount, customer_id,
                   least(coalesce(refund_amount, 0), paid_amount) AS refund
            FROM orders),
        a AS (
            SELECT date, channel, count(*) AS orders, sum(paid::INT) AS paid_orders,
                   count(DISTINCT CASE WHEN paid THEN customer_id END) AS buyers,
                   sum(CASE WHEN paid THEN paid_amount ELSE 0 END) AS gmv,
                   sum(CASE WHEN paid THEN paid_amount - refund ELSE 0 END) AS net_sales
            FROM o GROUP BY ALL),
        v AS (SELECT date_trunc('day', date) AS date, channel, sum(visitors)::DOUBLE AS visitors
              FROM traffic GROUP BY ALL)
        SELECT date, channel, visitors, coalesce(orders, 0) AS orders, coalesce(paid_orders, 0) AS paid_orders,
               coalesce(gmv, 0) AS gmv, coalesce(net_sales, 0) AS net_sales, coalesce(buyers, 0) AS buyers,
               coalesce(paid_orders, 0) / nullif(visitors, 0) AS conversion
        FROM v FULL OUTER JOIN a USING (date, channel) ORDER BY date, channel""",
    "sku_daily": """
        WITH l AS (
            SELECT date_trunc('day', o.order_ts) AS date, i.sku, sum(i.qty) AS units,
                   sum(i.qty::DOUBLE * i.unit_price) AS revenue
            FROM order_items i JOIN orders o USING (order_id)
            WHERE o.status IS DISTINCT FROM 'cancelled' GROUP BY ALL),
        s AS (SELECT date_trunc('day', date) AS date, sku, sum(on_hand)::DOUBLE AS on_hand
              FROM inventory GROUP BY ALL)
        SELECT date, sku, on_hand, coalesce(units, 0) AS units, coalesce(revenue, 0) AS revenue
        FROM s FULL OUTER JOIN l USING (date, sku) ORDER BY date, sku""",
    "cohort_matrix": """
        WITH p AS (
            SELECT customer_id, year(order_ts) * 12 + month(order_ts) - 1 AS mi FROM orders
            WHERE status IS DISTINCT FROM 'cancelled' AND customer_id IS NOT NULL),
        c AS (SELECT customer_id, min(mi) AS cohort FROM p GROUP BY customer_id),
        f AS (SELECT p.customer_id, c.cohort, p.mi - c.cohort AS k FROM p JOIN c USING (customer_id)
              WHERE c.cohort > (SELECT min(mi) FROM p))
        SELECT cohort, k, count(DISTINCT customer_id) AS customers FROM f GROUP BY ALL""",
    "rfm": """
        WITH s AS (
            SELECT customer_id, epoch(TIMESTAMP '{asof}' - last_order_ts) / 86400.0 AS recency_days,
                   paid_orders AS frequency, gmv AS monetary
            FROM summary WHERE last_order_ts < TIMESTAMP '{asof}'),
        n AS (SELECT count(*) AS n FROM s)
        SELECT customer_id, recency_days, frequency, monetary,
               greatest(1, least(5, ceil(rank() OVER (ORDER BY -recency_days) / n * 5)))::BIGINT AS r,
               greatest(1, least(5, ceil(rank() OVER (ORDER BY frequency) / n * 5)))::BIGINT AS f,
               greatest(1, least(5, ceil(rank() OVER (ORDER BY monetary) / n * 5)))::BIGINT AS m
        FROM s, n""",
}


def _pandas_helper(name: str, data):
    from playbook import acquisition, dataops, derived

    if name in ("customer_summary", "daily_kpis", "sku_daily"):
        return derived.compute(name, data)
    if name == "cohort_matrix":
        derived._CACHE.clear()  # each run from the loaded tables, as the SQL runs: no per-dataset cache
        return acquisition.cohort_matrix(data)
    summary = data.derived("customer_summary")
    return dataops.rfm_scores(summary.loc[summary["last_order_ts"] < data.end], asof=data.end)


def _duckdb_helper(name: str, data, con):
    import numpy as np
    import pandas as pd

    from playbook import dataops

    if name == "rfm":
        con.register("summary", data.derived("customer_summary"))
        out = con.execute(SQL["rfm"].format(asof=data.end)).df()
        out["rfm"] = out["r"].astype(str) + out["f"].astype(str) + out["m"].astype(str)
        out["segment"] = dataops.rfm_segments(out["r"], out["f"], out["m"])
        return out
    out = con.execute(SQL[name]).df()
    if name == "cohort_matrix":  # the same wide shape as acquisition.cohort_matrix (complete cells only)
        sizes = out.loc[out["k"] == 0].set_index("cohort")["customers"]
        mat = out.pivot(index="cohort", columns="k", values="customers").fillna(0.0).div(sizes, axis=0)
        report = data.end - pd.Timedelta(days=1)
        report_mi = report.year * 12 + report.month - 1
        ks = np.asarray(mat.columns, dtype=int)
        out = mat.where((mat.index.to_numpy()[:, None] + ks[None, :]) <= report_mi)
    return out


def _agree(name: str, a, b) -> bool:
    """Both give the same numbers (sums of every numeric column, and the row count)."""
    import numpy as np

    if name == "cohort_matrix":
        return a.shape == b.shape and np.allclose(np.nansum(a.to_numpy()), np.nansum(b.to_numpy()))
    cols = [c for c in a.columns if c in b.columns and a[c].dtype.kind in "iuf"]
    return len(a) == len(b) and all(np.isclose(float(a[c].sum()), float(b[c].sum()), rtol=1e-9) for c in cols)


def child_helpers(source: str, repeat: str) -> dict:
    import duckdb
    import psutil

    import playbook

    data = playbook.load(source, month=MONTH)
    data.derived("customer_summary")  # RFM starts from it on both sides
    con = duckdb.connect()
    _register(con, data)
    proc, out = psutil.Process(), {}
    for name in HELPERS:
        row = {}
        for engine, run in (("pandas", lambda: _pandas_helper(name, data)),
                            ("duckdb", lambda: _duckdb_helper(name, data, con))):
            times = []
            for _ in range(int(repeat)):
                mem = PeakMemory(proc.pid, interval=0.01)
                with mem:
                    t0 = time.perf_counter()
                    result = run()
                    times.append(time.perf_counter() - t0)
                row[engine] = {"seconds": statistics.median(times) if len(times) > 1 else times[0],
                               "extra_gb": max(0, mem.peak - mem.base) / 1e9}
                row[f"{engine}_result"] = result
        row["agree"] = bool(_agree(name, row.pop("pandas_result"), row.pop("duckdb_result")))
        out[name] = row
    return {"helpers": out}


# ----------------------------------------------------------------------------------- the table

def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="12,120", help="generator scales (12 ~ 1M order lines, 120 ~ 10M)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pack-scales", default=None,
                        help="scales at which to run the pack too (default: all of --scales; '' for none)")
    parser.add_argument("--memory-budget", default="",
                        help="also run the pack with `playbook report --memory-budget GB` (e.g. 6)")
    args = parser.parse_args(argv)
    scales = [int(s) for s in args.scales.split(",")]
    pack_scales = scales if args.pack_scales is None else [int(s) for s in args.pack_scales.split(",") if s]
    lines = [f"# Scale benchmark ({os.cpu_count()} cores, median of {args.repeat} runs; "
             f"peak = summed resident memory of the process tree)", ""]
    for scale in scales:
        folder, meta = shop(scale)
        print(f"shop scale {scale}: {meta['order_items']:,} order lines, {meta['orders']:,} orders "
              f"({_generated(meta)})", flush=True)
        lines += [f"## Scale {scale}: {meta['order_items']:,} order lines, {meta['orders']:,} orders "
                  f"({_generated(meta)})", ""]
        if scale in pack_scales:
            floor = pack_runs(scale, folder, "empty", args.repeat)
            pack = pack_runs(scale, folder, "chapters", args.repeat)
            budgeted = pack_runs(scale, folder, "chapters", args.repeat, args.memory_budget) if args.memory_budget else []
            for name, runs in (("floor", floor), ("pack", pack), (f"pack, budget {args.memory_budget} GB", budgeted)):
                for r in runs:
                    print(f"  {name} {r['seconds']:.1f} s ({r['peak_gb']:.2f} GB)", flush=True)
            f = statistics.median(r["seconds"] for r in floor)
            lines += ["| run | wall time (s) | peak memory (GB) | ratio to floor |", "|---|---|---|---|",
                      f"| floor: empty notebooks | {f:.1f} | {max(r['peak_gb'] for r in floor):.2f} | 1.00 |"]
            for label, runs in (("report pack, one month", pack),
                                (f"report pack, `--memory-budget {args.memory_budget}`", budgeted)):
                if runs:
                    p = statistics.median(r["seconds"] for r in runs)
                    lines.append(f"| {label} | {p:.1f} | {max(r['peak_gb'] for r in runs):.2f} | {p / f:.2f} |")
            lines += ["", "| chapter | wall time in the pack (s) | kernel peak (GB) |", "|---|---|---|"]
            lines += [f"| {name} | {sec} | {pack[-1]['chapter_peaks'].get(name) or ''} |"
                      for name, sec in pack[-1]["chapters"].items()]
            lines += ["", f"Chapters as in the last run; failed: {pack[-1]['failed'] or 'none'}. The report folder is "
                          "kept between runs, as a monthly run keeps its reports: chapters start longest first and "
                          "are paired by the last pack's kernel peaks.", ""]
        source, prep = prepared(scale, folder)
        if prep:
            lines += [f"Load and validate the month's 25-month window, one table at a time, with the derived tables "
                      f"and the prepared folder written: {prep['seconds']:.1f} s, peak {prep['peak_gb']:.2f} GB.", ""]
        res = run_child("helpers", str(source), str(args.repeat))["helpers"]
        lines += ["| helper | playbook (s) | DuckDB SQL (s) | ratio | extra memory playbook / DuckDB (GB) | same numbers |",
                  "|---|---|---|---|---|---|"]
        for name, row in res.items():
            pd_, db = row["pandas"], row["duckdb"]
            lines.append(f"| {name} | {pd_['seconds']:.2f} | {db['seconds']:.2f} | {pd_['seconds'] / db['seconds']:.2f} "
                         f"| {pd_['extra_gb']:.2f} / {db['extra_gb']:.2f} | {'yes' if row['agree'] else 'NO'} |")
        lines.append("")
    lines += ["Targets (issue): the 10-million-line pack under 3 minutes and 6 GB; each helper within 2x of its",
              "DuckDB query. The playbook side starts from the loaded tables in memory, as DuckDB does."]
    write_result("scale", lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        task = {"pack": child_pack, "helpers": child_helpers, "prepare": child_prepare}[sys.argv[2]]
        print(json.dumps(task(*sys.argv[3:]), default=str))
    else:
        main()
