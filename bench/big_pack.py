"""The ~100M-line pack on one machine (issue: scale): prepare once, then the report pack.

A shop of ``--scale 1200`` (98.6M order lines, 69.4M orders: ten copies of the ~10M-line shop, see
bench/tile_shop.py) is prepared the way `playbook prepare` does it (read, check, derive, write the
month's folder, personal columns dropped; skipped when bench/.data/prepared-<scale> exists, unless
``--prepare``), then `playbook report` runs over that prepared folder into
bench/.data/reports-<scale> (kept between runs, as a monthly run keeps its reports: chapters start
longest first and are paired by the peaks the last pack measured, scaled to the shop; a first pack
estimates them from the shop's size, see ``playbook.report.expected_peak_gb``).

    .venv/bin/python bench/big_pack.py [--scale 1200] [--prepare] [--memory-budget GB]

One run each (the pack takes most of an hour), timed from outside with the peak of the summed
resident memory of the process tree (kernels included), and each chapter's time and kernel peak
as the runner records them. Writes bench/results/scale-<scale>.md for the folder's first pack and
scale-<scale>-next.md for a later one (a monthly run's). Not a test: nothing asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import time

from _common import write_result
from scale_bench import DATA, _generated, run_child, shop


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1200)
    parser.add_argument("--prepare", action="store_true", help="prepare again even when the folder exists")
    parser.add_argument("--memory-budget", default="", help="`playbook report --memory-budget GB`")
    args = parser.parse_args(argv)
    folder, meta = shop(args.scale)
    print(f"shop scale {args.scale}: {meta['order_items']:,} order lines, {meta['orders']:,} orders", flush=True)
    prepared = DATA / f"prepared-{args.scale}"
    record = prepared / "_bench_prepare.json"
    if args.prepare or not (prepared / "prepared.json").exists():
        prep = run_child("prepare", str(folder), str(prepared))
        prep["measured"] = time.strftime("%Y-%m-%d")
        record.write_text(json.dumps(prep))
    prep = json.loads(record.read_text()) if record.exists() else None
    if prep:
        print(f"  prepared in {prep['seconds']:.0f} s ({prep['peak_gb']:.2f} GB)", flush=True)
    out = DATA / f"reports-{args.scale}"
    first = not list(out.glob("*/summary.json"))
    pack = run_child("pack", str(prepared), "chapters", str(out), args.memory_budget)
    print(f"  pack {pack['seconds']:.0f} s ({pack['peak_gb']:.2f} GB), failed: {pack['failed'] or 'none'}", flush=True)
    lines = [f"# The ~100M-line pack on one machine ({os.cpu_count()} cores, one run each; peak = summed "
             "resident memory of the process tree)", "",
             f"Scale {args.scale}: {meta['order_items']:,} order lines, {meta['orders']:,} orders ({_generated(meta)}).", "",
             "| step | wall time | peak memory (GB) |", "|---|---|---|"]
    if prep:
        lines.append(f"| prepare the month (`playbook prepare`: read, check, derive, write; measured "
                     f"{prep.get('measured', 'earlier')}) | {_minutes(prep['seconds'])} | {prep['peak_gb']:.2f} |")
    lines.append(f"| report pack over the prepared folder (`playbook report --data {prepared.name}`"
                 + (f" --memory-budget {args.memory_budget}" if args.memory_budget else "") + ") "
                 f"| {_minutes(pack['seconds'])} | {pack['peak_gb']:.2f} |")
    if prep:
        lines.append(f"| both | {_minutes(prep['seconds'] + pack['seconds'])} | "
                     f"{max(prep['peak_gb'], pack['peak_gb']):.2f} |")
    lines += ["", "| chapter | wall time in the pack (s) | kernel peak (GB) |", "|---|---|---|"]
    lines += [f"| {name} | {sec} | {pack['chapter_peaks'].get(name) or ''} |" for name, sec in pack["chapters"].items()]
    lines += ["", f"Failed chapters: {', '.join(pack['failed']) or 'none'}. "
              + ("The report folder held no earlier pack: chapters were scheduled by the peaks estimated "
                 "from the shop's size." if first else
                 "Chapters were scheduled by the last pack's kernel peaks (scaled to the shop)."), ""]
    # a folder's first pack (peaks estimated) and a later one (peaks measured) are kept apart
    write_result(f"scale-{args.scale}" + ("" if first else "-next"), lines)


if __name__ == "__main__":
    main()
