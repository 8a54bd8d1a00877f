"""Preparing a report run with Apache Spark when the shop's data lives in a data lake.

:func:`prepare_lake` reads the contract tables from a lake (a folder or URI holding one Parquet
table per contract table: ``orders/`` as a folder of part files, or ``orders.parquet``), and writes
the same *prepared run folder* that :func:`playbook.loading.prepare` writes, so that
``playbook report --month M --data FOLDER`` renders the pack from it. What runs where:

- **on Spark** (the cluster, or ``local[*]`` in this process): the scan of the lake, the report
  window (the 25 months that end with the report month, as :func:`playbook.load` takes it) pushed
  down into the Parquet scan, the contract's columns checked and cast to their types (a missing
  required column or values that do not cast stop the run with a message naming the table and
  column), the personal-data columns dropped (as the report runner drops them), exact duplicate
  rows of the derived tables' inputs dropped, and the shared derived tables
  (:mod:`playbook.derived`) computed from the same SQL definitions that DuckDB runs;
- **on the driver** (this process): the window's rows arrive as Arrow, go through the same
  validation as any source (:func:`playbook.load`, so the data-quality report is the one the
  DuckDB path gives), and are written as Parquet with the derived tables and ``prepared.json``.

The window must fit in the driver's memory, as it must for the chapters (pandas) that read it;
the lake's history does not.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .contract import TABLES, Column, Table
from .errors import DataError, PlaybookError
from .validation import MAX_EXAMPLES, DataQuality, Issue

#: hidden columns that carry each row's place in the lake (file, row in file): the prepared tables
#: keep the lake's row order, as the DuckDB path keeps a file's order
_FILE, _POS = "_src_file", "_src_row"
_TS_FORMATS = ("yyyy/M/d H:mm:ss", "yyyy/M/d H:mm", "yyyy/M/d", "yyyy.M.d H:mm:ss", "yyyy.M.d",
               "yyyy'年'M'月'd'日' H:mm:ss", "yyyy'年'M'月'd'日' H:mm", "yyyy'年'M'月'd'日'", "yyyyMMdd",
               "yyyyMMddHHmmss")
_OFFSET = r"(Z|[+-][0-9]{2}:?[0-9]{2})$"
_MONEY_JUNK = r"[¥￥,，\s]|RMB|CNY|元"
_TRUE = ("true", "t", "1", "yes", "y", "是", "1.0")
_FALSE = ("false", "f", "0", "no", "n", "否", "0.0")
#: tables whose exact duplicate rows are dropped on Spark too, because a derived table reads them
_DEDUPLICATED = ("orders", "traffic", "inventory")


def spark_session(master: str | None = None, *, config: Mapping[str, str] | None = None):
    """A SparkSession on ``master``: a cluster's URL (``spark://host:7077``, ``yarn``,
    ``k8s://https://host:6443``) or ``local[N]`` (Spark inside this process, N cores; the
    default ``local[*]``, or ``$PLAYBOOK_SPARK_MASTER``). An already active session (a notebook
    on a cluster) is reused when no master is given. A local session binds to 127.0.0.1 and
    starts no web UI; ``config`` adds Spark settings (e.g. ``spark.driver.memory``)."""
    import warnings

    # pyspark 4.3 warns on import of its pandas helpers that pandas 3 is untested; the playbook
    # moves data through Arrow only (toArrow / Arrow tables), which that warning does not concern
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise PlaybookError("The Spark engine needs pyspark: pip install -r requirements-spark.txt "
                            "(and Java 17 or newer).") from None
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    master = master or os.environ.get("PLAYBOOK_SPARK_MASTER") or "local[*]"
    settings = {"spark.ui.showConsoleProgress": "false", "spark.sql.session.timeZone": "UTC"}
    if master.startswith("local"):
        settings |= {"spark.ui.enabled": "false", "spark.driver.host": "127.0.0.1",
                     "spark.driver.bindAddress": "127.0.0.1", "spark.sql.shuffle.partitions": "8"}
    builder = SparkSession.builder.master(master).appName("playbook prepare")
    for key, value in (settings | dict(config or {})).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


# ---------------------------------------------------------------------------------------------
# Reading the lake
# ---------------------------------------------------------------------------------------------

def find_tables(spark, source: str) -> dict[str, str]:
    """The contract tables under ``source``, as table -> path: ``<source>/<table>`` (a folder of
    Parquet part files, possibly partitioned) or ``<source>/<table>.parquet``. Any URI that the
    cluster's Hadoop file systems read works (``s3a://``, ``hdfs://``, ``abfss://``, ``file:/``)."""
    from pyspark.errors import AnalysisException

    root = str(source).rstrip("/")
    found = {}
    for name in TABLES:
        for path in (f"{root}/{name}", f"{root}/{name}.parquet"):
            try:
                spark.read.parquet(path).schema  # noqa: B018 (resolves the path and the schema)
            except AnalysisException as e:
                if "PATH_NOT_FOUND" in str(e) or "does not exist" in str(e):
                    continue
                raise DataError(f"Cannot read table {name} from {path}: {_short(e)}") from None
            found[name] = path
            break
    return found


def _short(e: Exception) -> str:
    return str(e).strip().splitlines()[0][:300]


def _coerced(spark_type, col: Column, tz: str):
    """A Spark column expression: the raw column cast to the contract type ``col.type`` (NULL
    where a value does not cast), following :mod:`playbook.validation`'s rules: text trimmed and
    empty text taken as missing, enum text in the contract's spelling, money rounded to cents
    (currency signs and separators removed from text), timestamps as the shop's local wall time
    (``timestamp_ntz``), dates as ``date``, months as ``YYYY-MM`` text."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    raw = F.col(f"`{col.name}`")
    text = F.trim(raw.cast("string"))
    numeric = isinstance(spark_type, T.NumericType)
    if col.type == "str":
        if isinstance(spark_type, (T.DoubleType, T.FloatType)):  # ids read as floats: no ".0"
            value = F.when(raw == F.floor(raw), raw.cast("bigint").cast("string")).otherwise(raw.cast("string"))
        else:
            value = text
        value = F.when(value != "", value)
        if col.enum:
            canon = F.lower(value)
            mapped = None
            for v in col.enum:
                mapped = (F.when if mapped is None else mapped.when)(canon == str(v).lower(), F.lit(str(v)))
            value = mapped.otherwise(value)
        return value
    if col.type in ("timestamp", "date"):
        if isinstance(spark_type, T.TimestampNTZType):
            value = raw
        elif isinstance(spark_type, T.TimestampType):  # an instant: the shop's wall time
            value = F.from_utc_timestamp(raw, tz).cast("timestamp_ntz")
        elif isinstance(spark_type, T.DateType):
            value = raw.cast("timestamp_ntz")
        elif isinstance(spark_type, T.StringType):
            aware = F.from_utc_timestamp(text.try_cast("timestamp"), tz).cast("timestamp_ntz")
            naive = F.coalesce(text.try_cast("timestamp_ntz"),
                               *[F.try_to_timestamp(text, F.lit(f)).cast("timestamp_ntz") for f in _TS_FORMATS])
            value = F.when(text.rlike(_OFFSET), aware).otherwise(naive)
        else:
            value = F.lit(None).cast("timestamp_ntz")
        return value.cast("date") if col.type == "date" else value
    if col.type == "money":
        if numeric:
            value = raw.cast("double")
        elif isinstance(spark_type, T.StringType):
            value = F.regexp_replace(text, _MONEY_JUNK, "").try_cast("double")
        else:
            value = F.lit(None).cast("double")
        return F.bround(value, 2)
    if col.type in ("int", "number"):
        if numeric:
            value = raw.cast("double")
        elif isinstance(spark_type, T.StringType):
            value = text.try_cast("double")
        else:
            value = F.lit(None).cast("double")
        return F.round(value).cast("bigint") if col.type == "int" else value
    if col.type == "bool":
        if isinstance(spark_type, T.BooleanType):
            return raw
        word = F.lower(text)
        return F.when(word.isin(*_TRUE), F.lit(True)).when(word.isin(*_FALSE), F.lit(False))
    if col.type == "month":
        if isinstance(spark_type, (T.DateType, T.TimestampType, T.TimestampNTZType)):
            return F.date_format(raw, "yyyy-MM")
        first = F.concat(F.substring(F.regexp_replace(text, "/", "-"), 1, 7), F.lit("-01"))
        return F.date_format(F.try_to_timestamp(first, F.lit("yyyy-MM-dd")), "yyyy-MM")
    raise ValueError(f"unknown contract type {col.type!r}")  # pragma: no cover


def _ident(table: Table) -> list[str]:
    return list(table.key) or [c.name for c in table.columns if c.required and c.type == "str"]


def _cast_table(df, table: Table, tz: str, personal: list[str]):
    """(frame, issues): the contract columns of ``df`` cast, personal columns dropped, and the
    lake position columns added; issues for missing required columns."""
    from pyspark.sql import functions as F

    issues = []
    present = {f.name: f.dataType for f in df.schema.fields}
    missing = [c.name for c in table.columns if c.required and c.name not in present]
    for name in missing:
        issues.append(Issue("error", table.name, name, 0,
                            f"required column is missing (columns present: {', '.join(present)})",
                            f"Add a column named {name!r} to the lake table or rename its column to it"))
    if missing:
        return None, issues
    select = []
    for name, dtype in present.items():
        if name in personal:
            continue
        spec = next((c for c in table.columns if c.name == name), None)
        if spec is None:  # an extra column, kept as it is (the loader keeps extras too)
            select.append(F.col(f"`{name}`"))
        else:
            select += [_coerced(dtype, spec, tz).alias(name), F.col(f"`{name}`").alias(f"_raw_{name}")]
    select += [F.col("_metadata.file_path").alias(_FILE), F.col("_metadata.row_index").alias(_POS)]
    return df.select(*select), issues


def _window(frames: dict, raw_types: dict, start, end, month: str):
    """Each frame restricted to the report window, as :func:`playbook.load` restricts it: time
    tables to ``start <= t < end`` (rows without a time kept, to be reported), order lines to the
    window's orders (lines whose order is unknown kept, to be set aside by the loader), interval
    tables to those overlapping the window or starting in the quarter after it, monthly tables to
    the window's months. A filter on the raw column, padded by two days, goes into the Parquet scan."""
    import pandas as pd
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from .loading import PLAN_AHEAD_DAYS

    def literal(dtype, day: pd.Timestamp):
        if isinstance(dtype, T.DateType):
            return F.expr(f"DATE '{day:%Y-%m-%d}'")
        if isinstance(dtype, T.TimestampNTZType):
            return F.expr(f"TIMESTAMP_NTZ '{day:%Y-%m-%d} 00:00:00'")
        return F.expr(f"TIMESTAMP '{day:%Y-%m-%d} 00:00:00'")  # an instant, read in UTC

    lo, hi = start - pd.Timedelta(days=2), end + pd.Timedelta(days=2)
    out = {}
    for name, df in frames.items():
        table = TABLES[name]
        kind = table.window[0] if table.window else None
        if kind in ("time", "overlap", "month") and not all(c in df.columns for c in table.window[1:]):
            kind = None  # the window's column is absent (an optional one): every row, as the loader does
        if kind == "time":
            col = table.window[1]
            dtype = raw_types[name].get(col)
            if isinstance(dtype, (T.DateType, T.TimestampType, T.TimestampNTZType)):
                raw = F.col(f"_raw_{col}")
                df = df.filter(raw.isNull() | ((raw >= literal(dtype, lo)) & (raw < literal(dtype, hi))))
            t = F.col(col).cast("timestamp_ntz")
            df = df.filter(t.isNull() | ((t >= F.expr(f"TIMESTAMP_NTZ '{start:%Y-%m-%d %H:%M:%S}'"))
                                         & (t < F.expr(f"TIMESTAMP_NTZ '{end:%Y-%m-%d %H:%M:%S}'"))))
        elif kind == "overlap":
            a, b = (F.col(c) for c in table.window[1:])
            ahead = (end + pd.Timedelta(days=PLAN_AHEAD_DAYS)).date()
            first = (start - pd.Timedelta(days=1)).date()
            df = df.filter(a.isNull() | b.isNull() | ((a <= F.lit(ahead)) & (b >= F.lit(first))))
        elif kind == "month":
            m = F.col(table.window[1])
            last = (end - pd.Timedelta(days=1)).strftime("%Y-%m")
            df = df.filter(m.isNull() | m.between(f"{start:%Y-%m}", last))
        out[name] = df
    if "orders" in out:
        window_ids = out["orders"].select("order_id").where(F.col("order_id").isNotNull()).distinct()
        all_ids = frames["orders"].select("order_id").where(F.col("order_id").isNotNull()).distinct()
        for name, df in out.items():
            table = TABLES[name]
            if table.window and table.window[0] == "orders" and "order_id" in df.columns:
                out[name] = df.join(window_ids, "order_id", "left_semi").unionByName(
                    df.join(all_ids, "order_id", "left_anti"))  # unknown orders and empty order_id
    return out


def _checks(df, table: Table, raw_types: dict) -> dict:
    """(column, kind) -> a boolean Spark column that flags a row whose value did not cast
    (``cast``) or whose count is fractional (``whole``)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    checks = {}
    for col in table.columns:
        if f"_raw_{col.name}" not in df.columns:  # absent, or a personal column already dropped
            continue
        raw = F.col(f"_raw_{col.name}")
        present = raw.isNotNull()
        if isinstance(raw_types[col.name], T.StringType):
            present = present & (F.trim(raw) != "")
        checks[(col.name, "cast")] = present & F.col(col.name).isNull()
        if col.type == "int":
            number = raw.cast("double") if isinstance(raw_types[col.name], T.NumericType) else F.trim(raw).try_cast("double")
            checks[(col.name, "whole")] = number.isNotNull() & (number != F.floor(number))
    return checks


def _issues(df, table: Table, raw_types: dict, checks: dict, counts: dict) -> list[Issue]:
    """Issues for the flagged rows (``counts``: (column, kind) -> rows): values that do not cast
    (an error for a required column; for an optional one a warning, the value set empty) and
    fractional counts, with up to five example rows by key read from the lake."""
    from pyspark.sql import functions as F

    ident = [c for c in _ident(table) if c in df.columns]
    issues = []
    for (name, what), n in counts.items():
        if not n:
            continue
        col = table.column(name)
        rows = (df.where(checks[(name, what)]).select(*[F.col(c) for c in ident if c != name], F.col(f"_raw_{name}"))
                .limit(MAX_EXAMPLES).collect())
        examples = [", ".join(f"{c}={r[c]}" for c in ident if c != name) + f" ({name}={r[f'_raw_{name}']!r})"
                    for r in rows]
        if what == "whole":
            issues.append(Issue("error", table.name, name, n, "values are not whole numbers",
                                "Counts and quantities must be integers", examples))
        else:
            sev = "error" if col.required else "warning"
            issues.append(Issue(sev, table.name, name, n, f"values do not cast to {col.type} "
                                f"(lake type {raw_types[name].simpleString()})"
                                + ("" if col.required else "; set empty, rows kept"),
                                f"Store {name} as {col.type} in the lake table", examples))
    return issues


def _drop_exact_duplicates(df):
    """One copy of each exact duplicate row, the first in the lake's order (as the loader keeps)."""
    from pyspark.sql import functions as F

    data = [c for c in df.columns if c not in (_FILE, _POS)]
    first = F.min(F.struct(F.col(_FILE), F.col(_POS))).alias("_first")
    return (df.groupBy(*[F.col(f"`{c}`") for c in data]).agg(first)
            .select(*[F.col(f"`{c}`") for c in data], F.col(f"_first.{_FILE}").alias(_FILE),
                    F.col(f"_first.{_POS}").alias(_POS)))


# ---------------------------------------------------------------------------------------------
# Preparing a run
# ---------------------------------------------------------------------------------------------

def latest_lake_month(spark, source: str) -> str:
    """The last calendar month that the lake's orders cover to its final day, ``YYYY-MM``."""
    from pyspark.sql import functions as F

    from .loading import last_full_month_by

    tables = find_tables(spark, source)
    if "orders" not in tables:
        raise DataError(f"The lake {source} has no orders table (orders/ or orders.parquet).")
    last = spark.read.parquet(tables["orders"]).select(F.max("order_ts").cast("date")).first()[0]
    if last is None:
        raise DataError(f"The orders of {source} have no order_ts.")
    return last_full_month_by(last)


def prepare_lake(source: str | Path, month: str | None, out: str | Path, *, spark=None, master: str | None = None,
                 settings=None, history_months: int | None = None) -> Path:
    """Build a prepared run folder in ``out`` from a data lake with Spark (see the module's
    docstring for what runs where), for the report month ``month`` (default: the latest full
    month of the lake's orders).

    Parameters
    ----------
    source : a folder or URI (``s3a://bucket/shop``, ``hdfs:///lake/shop``) holding the contract
        tables as Parquet: ``orders/`` (part files, partitioned or not) or ``orders.parquet``.
    spark : a SparkSession to use; otherwise one on ``master`` (:func:`spark_session`).
    settings : a Settings or the path of a settings TOML (shop timezone, history months).

    Returns the folder; ``playbook.load(folder)`` and ``playbook report --data folder`` read it.

    Raises
    ------
    DataError
        when orders is absent, a required column is missing, values do not cast to the contract's
        type, or the window's rows fail validation; the message names table, column, rows and
        example rows.
    """
    import pandas as pd
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from . import derived
    from .loading import Dataset, Source, load, month_bounds, prepare
    from .report import personal_columns
    from .settings import Settings, load_settings

    settings = settings if isinstance(settings, Settings) else load_settings(settings)
    tz = settings["shop"]["timezone"]
    parent = spark if spark is not None else spark_session(master)
    from pyspark.sql import functions as F

    session = parent.newSession()  # own temp views and time zone; the caller's session is untouched
    session.conf.set("spark.sql.session.timeZone", "UTC")
    root = str(source)
    paths = find_tables(session, root)
    if "orders" not in paths:
        raise DataError(f"The lake {root} has no orders table, the one table every chapter needs: give "
                        f"{root}/orders/ (Parquet part files) or {root}/orders.parquet. Tables found: "
                        f"{', '.join(paths) or 'none'}.",
                        [Issue("error", "orders", None, 0, "required table is missing")])
    month = month or latest_lake_month(session, root)
    m_start, end = month_bounds(month)
    n = int(history_months or settings["report"]["history_months"])
    start = m_start - pd.DateOffset(months=n - 1)

    issues: list[Issue] = []
    frames, raw_types = {}, {}
    for name, path in paths.items():
        df = session.read.parquet(path)
        raw_types[name] = {f.name: f.dataType for f in df.schema.fields}
        cast, found = _cast_table(df, TABLES[name], tz, personal_columns(name, df.columns))
        issues += found
        if cast is not None:
            frames[name] = cast
    if any(i.severity == "error" for i in issues):
        raise DataError(_message(root, issues), [i for i in issues if i.severity == "error"])
    frames = _window(frames, raw_types, start, end, month)
    checked, checks = {}, {}
    for name, df in frames.items():  # the checks travel with the rows: no extra pass over the lake
        checks[name] = _checks(df, TABLES[name], raw_types[name])
        flags = [checks[name][k].alias(f"_check_{i}") for i, k in enumerate(checks[name])]
        keep = [F.col(f"`{c}`") for c in df.columns if not c.startswith("_raw_")]
        checked[name] = df.select(*keep, *flags)
    for name in _DEDUPLICATED:
        if name in checked and TABLES[name].key:
            checked[name] = _drop_exact_duplicates(checked[name])
    for name in derived.USED_COLUMNS:  # read twice: to the driver, and by the derived tables
        if name in checked:
            checked[name] = checked[name].persist()

    staging = Path(tempfile.mkdtemp(prefix="playbook-lake-"))
    try:
        fingerprint = hashlib.sha256(root.encode())
        for name, df in checked.items():
            table = df.toArrow().sort_by([(_FILE, "ascending"), (_POS, "ascending")])  # the lake's order
            counts = {k: int(pc.sum(table.column(f"_check_{i}")).as_py() or 0) for i, k in enumerate(checks[name])}
            issues += _issues(frames[name], TABLES[name], raw_types[name], checks[name], counts)
            table = table.drop_columns([c for c in table.column_names if c.startswith("_check_") or c in (_FILE, _POS)])
            pq.write_table(table, staging / f"{name}.parquet")
            fingerprint.update(f"{name}:{table.num_rows}:{sorted(df.inputFiles())}".encode())
        if any(i.severity == "error" for i in issues):
            raise DataError(_message(root, issues), [i for i in issues if i.severity == "error"])
        try:
            loaded = load(staging, month=month, settings=settings, history_months=history_months)
        except DataError as e:  # name the lake, not the staging folder
            raise DataError(str(e).replace(str(staging), root), getattr(e, "issues", None)) from None
        tables = {name: frame for name, frame in loaded.items()}
        computed = _derived_on_spark(session, checked, tables)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for df in checked.values():
            df.unpersist()
    quality = DataQuality(issues + [i for i in loaded.quality])
    dataset = Dataset(tables, quality=quality, rejected=loaded.rejected, month=month, start=loaded.start,
                      end=loaded.end, source=Source(root, "lake", tables=paths), settings=settings,
                      fingerprint=fingerprint.hexdigest()[:16], derived=computed)
    return prepare(dataset, out)


def _derived_on_spark(session, frames: dict, tables: Mapping) -> dict:
    """The shared derived tables computed on Spark from the window's frames, with the same SQL
    text as DuckDB runs (:func:`playbook.derived.definition`); only tables that the loaded data
    has (an optional table that is empty in the window counts as absent, as in the loader)."""
    from pyspark.sql import functions as F

    from . import derived

    columns = {}
    for name, cols in derived.USED_COLUMNS.items():
        if name in frames and name in tables:
            use = [c for c in cols if c in frames[name].columns and c in tables[name].columns]
            view = frames[name].select(*use, *([F.struct(_FILE, _POS).alias(derived.ROW)] if name == "orders" else []))
            view.createOrReplaceTempView(name)
            columns[name] = use
    out = {}
    for name in derived.DERIVED:
        try:
            text, kinds = derived.definition(name, columns)
        except KeyError:  # its inputs are absent: the report skips what needs it
            continue
        out[name] = derived.finish(session.sql(text).toArrow(), kinds)
    return out


def _message(root: str, issues: list[Issue]) -> str:
    errors = [i for i in issues if i.severity == "error"]
    head = f"The lake {root} cannot be used yet: {len(errors)} problem{'s' if len(errors) > 1 else ''} to fix."
    return "\n".join([head] + [f"  - {i}" for i in errors])

