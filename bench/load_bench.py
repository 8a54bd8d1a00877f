"""Benchmark of loading a shop (issue: a hundred-million-line shop on one machine): the wall time
and peak memory of ``playbook.load(source, month="2026-10")`` at scale 1 (84k order lines), about
1M and about 10M order lines, from CSV and from Parquet, next to the floor (a plain DuckDB read of
the same files into pandas: ``read_csv(..., all_varchar=true)`` / ``read_parquet``, no checks) and
to the loader before this change (the ``playbook`` package of git revision ``--before``, run from
a copy extracted with ``git archive``).

    .venv/bin/python bench/load_bench.py [--scales 1,12,120] [--repeat 3] [--before 349dd10]
                                         [--data bench/.data] [--skip-before-above 12]

Every measurement runs in its own Python process; the peak memory is that process's ``ru_maxrss``
(interpreter and imports included, about 0.15 GB). Shops are generated once into ``--data``
(git-ignored) with ``python -m playbook.samples --scale N [--format parquet]``; scale 1 CSV is
``data/samples``. Prints a table and writes bench/results/load.md. Not a test: nothing here asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINES_PER_SCALE = 84_088  # order lines of the sample shop at scale 1

LOAD = """
import json, resource, sys, time
sys.path.insert(0, {path!r})
import playbook
t0 = time.perf_counter()
data = playbook.load({source!r}, month="2026-10")
elapsed = time.perf_counter() - t0
print(json.dumps(dict(seconds=elapsed, peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      lines=len(data["order_items"]) if "order_items" in data else 0, module=playbook.__file__)))
"""

FLOOR = """
import json, resource, sys, time
from pathlib import Path
import duckdb
t0 = time.perf_counter()
con = duckdb.connect()
con.execute("SET enable_progress_bar = false").fetchall()
frames = {{}}
for f in sorted(Path({source!r}).iterdir()):
    name = f.name.split(".")[0]
    if f.name.endswith((".csv", ".csv.gz")):
        frames[name] = con.sql(f"SELECT * FROM read_csv('{{f}}', all_varchar = true)").to_arrow_table().to_pandas()
    elif f.name.endswith(".parquet"):
        frames[name] = con.sql(f"SELECT * FROM read_parquet('{{f}}')").to_arrow_table().to_pandas()
elapsed = time.perf_counter() - t0
print(json.dumps(dict(seconds=elapsed, peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      lines=len(frames.get("order_items", [])))))
"""


def shop(data: Path, scale: int, fmt: str) -> Path:
    """The folder of the shop at ``scale`` in ``fmt``, generated if missing."""
    if scale == 1 and fmt == "csv":
        return ROOT / "data" / "samples"
    folder = data / f"shop-{scale}-{fmt}"
    if not (folder / ("orders.parquet" if fmt == "parquet" else "orders.csv.gz")).exists():
        print(f"generating {folder} ...", flush=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "playbook.samples", "--out", str(folder), "--scale", str(scale),
                        "--format", fmt], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        print(f"  generated in {time.perf_counter() - t0:.0f} s", flush=True)
    return folder


def before_package(ref: str, where: Path) -> Path:
    """The ``playbook`` package of git revision ``ref``, extracted into ``where`` (read-only git use)."""
    archive = subprocess.run(["git", "archive", ref, "playbook"], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(where, filter="data")
    return where


def measure(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(code: str, repeat: int) -> dict:
    runs = [measure(code) for _ in range(repeat)]
    return dict(seconds=statistics.median(r["seconds"] for r in runs), peak=statistics.median(r["peak"] for r in runs),
                lines=runs[0]["lines"], runs=len(runs))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,12,120")
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--repeat-large", type=int, default=1, help="runs per measurement above scale 12")
    parser.add_argument("--before", default="349dd10", help="git revision of the loader to compare with")
    parser.add_argument("--skip-before-above", type=int, default=12,
                        help="run the old loader only up to this scale (it needs ~1.6 GB per 10x of the sample)")
    parser.add_argument("--data", default=str(ROOT / "bench" / ".data"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.md"))
    args = parser.parse_args(argv)
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    scales = [int(s) for s in args.scales.split(",")]
    formats = args.formats.split(",")
    load_avg = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old = before_package(args.before, Path(tmp)) if args.before else None
        for scale in scales:
            repeat = args.repeat if scale <= 12 else args.repeat_large
            for fmt in formats:
                source = shop(data, scale, fmt)
                size = sum(f.stat().st_size for f in source.iterdir() if f.is_file())
                result = {"floor": median_of(FLOOR.format(source=str(source)), repeat),
                          "after": median_of(LOAD.format(path=str(ROOT), source=str(source)), repeat)}
                if old is not None and scale <= args.skip_before_above:
                    result["before"] = median_of(LOAD.format(path=str(old), source=str(source)), repeat)
                for variant in ("before", "after", "floor"):
                    if variant not in result:
                        continue
                    r = result[variant]
                    rows.append(dict(scale=scale, lines=result["after"]["lines"], fmt=fmt, mb=size / 1e6, variant=variant,
                                     seconds=r["seconds"], gb=r["peak"] / 1e9, runs=r["runs"],
                                     vs_floor=r["seconds"] / result["floor"]["seconds"]))
                    print(f"scale {scale:4d} {fmt:8s} {variant:7s} {r['seconds']:7.1f} s {r['peak'] / 1e9:6.2f} GB"
                          f"  ({r['runs']} run{'s' if r['runs'] > 1 else ''})", flush=True)
    names = {"before": f"loader before ({args.before})", "after": "loader now", "floor": "plain DuckDB read"}
    lines = [
        f"# Load benchmark ({os.cpu_count()} cores, load average {load_avg[0]:.1f} at the start)",
        "",
        "`playbook.load(source, month=\"2026-10\")` (25-month window: the whole shop) in a fresh process; the",
        "floor is a plain DuckDB read of the same files into pandas (text as read, no casts or checks).",
        "Peak = ru_maxrss of the process (Python and imports included). Median of the runs shown.",
        "",
        "| scale | order lines | format | files MB | what | seconds | peak GB | x floor | runs |",
        "|---:|---:|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['scale']} | {r['lines']:,} | {r['fmt']} | {r['mb']:,.0f} | {names[r['variant']]} | "
                     f"{r['seconds']:.1f} | {r['gb']:.2f} | {r['vs_floor']:.1f} | {r['runs']} |")
    lines += ["", f"Shops generated with `python -m playbook.samples --scale N --format csv|parquet` into {args.data}.", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
