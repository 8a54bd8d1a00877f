"""The ``playbook`` command: samples, validate, prepare, report, import, contract.

Exit codes: 0 success; 1 the data has errors (validate) or a chapter failed (report);
2 the command cannot start (bad arguments, unreadable source, month outside the data, bad settings).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import PlaybookError


def _samples(args) -> int:
    from .samples import write_sample_shop

    paths = write_sample_shop(args.out, seed=args.seed, scale=args.scale, fmt=args.format)
    print(f"Wrote {len(paths)} tables of the sample shop (scale {args.scale}, seed {args.seed}) to {args.out}")
    return 0


def _validate(args) -> int:
    from .errors import DataError
    from .loading import load

    try:
        data = load(args.source, month=args.month, settings=args.settings)
    except DataError as e:
        print(str(e), file=sys.stderr)
        return 1
    print(f"{data.source.path}: " + ", ".join(f"{name} {len(frame):,} rows" for name, frame in data.items()))
    if data.month:
        print(f"Window: {data.start:%Y-%m-%d} to {data.end:%Y-%m-%d} (exclusive), report month {data.month}")
    print(data.quality.summary())
    return 1 if data.quality.errors else 0


def _report(args) -> int:
    from .report import run_report

    result = run_report(args.month, data=args.data, out=args.out, settings_file=args.settings,
                        chapters=args.chapters, lang=args.lang, jobs=args.jobs,
                        memory_budget_gb=args.memory_budget)
    print(f"Report for {result.month} in {result.out_dir}/index.html ({result.seconds:.0f} s)")
    if result.failed:
        print(f"Failed chapters: {', '.join(result.failed)}", file=sys.stderr)
        return 1
    return 0


def _prepare(args) -> int:
    if args.engine == "spark":
        from .lake import prepare_lake

        folder = prepare_lake(args.data, args.month, args.out, master=args.spark_master, settings=args.settings)
    else:
        if args.spark_master:
            raise PlaybookError("--spark-master needs --engine spark.")
        from .loading import latest_full_month, prepare_source
        from .report import personal_columns

        month = args.month or latest_full_month(args.data)
        prepare_source(args.data, args.out, month=month, settings=args.settings, drop_columns=personal_columns)
        folder = Path(args.out)
    import json

    import pyarrow.parquet as pq

    meta = json.loads((Path(folder) / "prepared.json").read_text(encoding="utf-8"))
    rows = {name: pq.read_metadata(Path(folder) / f"{name}.parquet").num_rows for name in meta["tables"]}
    print(f"Prepared {meta['month']} (from {meta['start'][:10]}, derived tables: {', '.join(meta['derived']) or 'none'}) "
          f"in {folder}: " + ", ".join(f"{name} {n:,}" for name, n in rows.items()))
    print(f"Next: playbook report --month {meta['month']} --data {folder}")
    return 0


def _import(args) -> int:
    from .importers import run_import

    report = run_import(args.kind, args.files, args.out, mapping=args.mapping)
    print(report.summary())
    print(f"Next: playbook validate {args.out}   or   playbook report --data {args.out}")
    return 0


def _contract(args) -> int:
    from .contract import contract_markdown

    text = contract_markdown()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="playbook", description="E-commerce operations playbook.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("samples", help="write the sample shop (seeded, deterministic)")
    p.add_argument("--out", default="data/samples", help="folder to write (default data/samples)")
    p.add_argument("--scale", type=int, default=1, help="N times the customers and orders, for benchmarks")
    p.add_argument("--seed", type=int, default=20261031)
    p.add_argument("--format", choices=("csv", "parquet"), default="csv",
                   help="csv (.csv and .csv.gz, as data/samples) or parquet (faster to write and read at scale)")
    p.set_defaults(func=_samples)

    p = sub.add_parser("validate", help="print the data-quality report of a source; exit 1 on errors")
    p.add_argument("source", help="folder of CSV/Parquet files or a DuckDB file")
    p.add_argument("--month", help="check the window of this report month (YYYY-MM)")
    p.add_argument("--settings", help="settings TOML file")
    p.set_defaults(func=_validate)

    p = sub.add_parser("report", help="render the monthly report into OUT/<month>/")
    p.add_argument("--month", help="report month YYYY-MM (default: the latest full month of the data)")
    p.add_argument("--data", default="data/samples", help="data source (default data/samples)")
    p.add_argument("--out", default="reports", help="output folder (default reports)")
    p.add_argument("--settings", help="settings TOML file")
    p.add_argument("--chapters", help="only these chapters, e.g. 01,03 (default: all)")
    p.add_argument("--lang", default="en", choices=["en", "zh"], help="language of the front page and labels")
    p.add_argument("--jobs", type=int, default=None, help="chapters run in parallel (default: number of cores)")
    p.add_argument("--memory-budget", type=float, default=None, metavar="GB",
                   help="chapters run side by side only while the memory their kernels reached in the last "
                        "pack fits in GB (default: settings report.memory_budget_gb, 0 = 80%% of the machine's)")
    p.set_defaults(func=_report)

    p = sub.add_parser("prepare", help="load a month's window once (DuckDB, or Spark from a data lake) into a "
                                       "prepared folder that `playbook report --data` reads")
    p.add_argument("--month", help="report month YYYY-MM (default: the latest full month of the data)")
    p.add_argument("--data", required=True, help="data source: a folder, DuckDB file or database URL (duckdb); "
                                                 "a lake folder or URI of Parquet tables (spark)")
    p.add_argument("--out", required=True, help="the prepared folder to write")
    p.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb",
                   help="duckdb (default: this machine) or spark (a lake; see docs/spark.md)")
    p.add_argument("--spark-master", help="Spark master URL, e.g. spark://host:7077, yarn, local[4] "
                                          "(default: $PLAYBOOK_SPARK_MASTER or local[*])")
    p.add_argument("--settings", help="settings TOML file")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("import", help="turn platform exports into contract tables")
    p.add_argument("kind", choices=["tmall", "shopify", "mapped"], help="the kind of export")
    p.add_argument("files", nargs="+", help="export files (CSV in UTF-8 or GBK, or .xlsx)")
    p.add_argument("--out", required=True, help="a new folder for the contract tables")
    p.add_argument("--mapping", help="column-mapping TOML file (kind 'mapped'); see playbook/mappings/")
    p.set_defaults(func=_import)

    p = sub.add_parser("contract", help="print the data contract as Markdown")
    p.add_argument("--markdown", action="store_true", help="(the default format)")
    p.add_argument("--out", help="write to this file instead of printing")
    p.set_defaults(func=_contract)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PlaybookError as e:
        print(f"playbook {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
