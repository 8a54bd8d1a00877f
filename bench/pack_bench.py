"""Benchmark of the monthly pack (issue: the report pack): its wall time on the sample shop next
to the floor, the same number of empty notebooks (a parameters cell only) through the same runner,
measured in the same run. Goal: within 1.5x of the floor and under 45 s on a 2-core machine.

    .venv/bin/python bench/pack_bench.py [--repeat 3] [--data data/samples] [--month 2026-10]

Prints a table and writes bench/results/pack.md. Not a test: nothing here asserts.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import nbformat

from playbook.report import chapter_notebooks, run_report

from _common import write_result

ROOT = Path(__file__).resolve().parent.parent


def empty_notebooks(folder: Path, names: list[str]) -> Path:
    for name in names:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell('month: str = "2026-10"  # month\ndata_source: str = ""  # data\n'
                                              'settings_file: str = ""  # settings\nlang: str = "en"  # language',
                                              metadata={"tags": ["parameters"]})]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / f"{name}.ipynb")
    return folder


def _cpu(who) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def timed(**kwargs) -> tuple[float, float, float]:
    """Wall time, the runner's own CPU time (load, preparation, papermill, HTML pages, front page)
    and the kernels' CPU time (the chapters' imports, computations and charts) of one pack."""
    t0, p0, k0 = time.perf_counter(), _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    result = run_report(echo=None, **kwargs)
    if result.failed:
        raise SystemExit(f"chapters failed: {result.failed}")
    return (time.perf_counter() - t0, _cpu(resource.RUSAGE_SELF) - p0, _cpu(resource.RUSAGE_CHILDREN) - k0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", default=str(ROOT / "data" / "samples"))
    parser.add_argument("--month", default="2026-10")
    args = parser.parse_args(argv)
    names = [nb.stem for nb in chapter_notebooks()]
    pack, floor = [], []
    with tempfile.TemporaryDirectory() as tmp:
        books = empty_notebooks(Path(tmp), names)
        for _ in range(args.repeat):
            floor.append(timed(month=args.month, data=args.data, out=Path(tmp) / "floor", notebooks_dir=books))
            pack.append(timed(month=args.month, data=args.data, out=Path(tmp) / "pack"))
    med = {name: [statistics.median(run[i] for run in runs) for i in range(3)]
           for name, runs in (("pack", pack), ("floor", floor))}
    p, f = med["pack"][0], med["floor"][0]
    cores = os.cpu_count() or 1
    lines = [
        f"# Report pack benchmark ({len(names)} notebooks, {cores} cores, median of {args.repeat})",
        "",
        "| run | wall time (s) | ratio to floor | runner CPU (s) | kernels CPU (s) |",
        "|---|---|---|---|---|",
        f"| floor: {len(names)} empty notebooks | {f:.1f} | 1.00 | {med['floor'][1]:.1f} | {med['floor'][2]:.1f} |",
        f"| pack on the sample shop | {p:.1f} | {p / f:.2f} | {med['pack'][1]:.1f} | {med['pack'][2]:.1f} |",
        "",
        f"Goal: ratio <= 1.5 and pack under 45 s. Runs (wall s): pack {[round(x[0], 1) for x in pack]}, "
        f"floor {[round(x[0], 1) for x in floor]}.",
        "",
        f"What bounds the ratio: the chapters' kernels need {med['pack'][2]:.1f} s of CPU (imports, computations, "
        f"charts); shared by {cores} cores that is at least {med['pack'][2] / cores:.1f} s of wall time, while 1.5x "
        f"the floor leaves {0.5 * f:.1f} s on top of the floor for all of them.",
    ]
    write_result("pack", lines)


if __name__ == "__main__":
    main()
