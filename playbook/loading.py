"""Reading a data source into validated contract tables: :func:`load` (all in memory), and
:func:`prepare_source` (each table written to a prepared folder as soon as it is checked, the way
the report runner reads a large shop: one table in memory at a time).

A source is a folder of ``<table>.csv``, ``<table>.csv.gz`` or ``<table>.parquet`` files, or a
DuckDB database file whose tables carry the contract's names. DuckDB is the engine that reads,
filters and casts: a month's report needs a window of history (25 months by default, for year over
year), and that filter runs in the scan instead of loading all history into pandas; in the same
scan DuckDB casts every plainly written value to the contract's type. pandas receives typed columns
(text as Arrow-backed ``str``), checks them with vectorised operations and parses only the values
DuckDB left aside (:mod:`playbook.validation`). Each table is read once, in file order; the orders
are read first, so that lines, shipments and the like follow their orders into the window and the
lines of unknown orders are found (by a lookup in Arrow, which keeps the file's row order).
:func:`prepare_source` reads a table larger than :data:`BATCH_ROWS` rows in batches.

The loader never writes into the source: a GBK-encoded CSV is transcoded into a private temporary
folder that is removed afterwards.
"""
from __future__ import annotations

import codecs
import datetime
import gzip
import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .contract import TABLES, Table
from .errors import DataError, PlaybookError
from .settings import Settings, load_settings
from .validation import (MAX_EXAMPLES, DataQuality, FastCast, Issue, _arrow, check_duplicates, check_link,
                         coerce_fetched, merge_issues, parse_timestamps, sql_fast_cast, sql_ident, sql_trimmed)

#: campaigns (interval tables) are kept when they start up to this many days after the report
#: month: a campaign calendar is a plan, and the campaigns chapter shows the coming quarter
PLAN_AHEAD_DAYS = 92
#: :func:`prepare_source` reads, checks and writes a table with more rows than this in batches of
#: this many rows (a DuckDB stream into a Parquet writer), so that its memory is bounded by the
#: batch rather than by the table; smaller tables are read whole. ``None`` reads every table whole.
BATCH_ROWS: int | None = 2_000_000
#: DuckDB's memory limit while preparing a source in batches (beyond it DuckDB spills to disk):
#: its default, 80% of the machine, would leave nothing for the batches themselves
BATCH_DUCKDB_MEMORY = "3GB"
#: :func:`prepare_source` of a source whose orders have more rows than this computes its derived
#: tables once every table is written, one after the other, in a DuckDB limited to
#: :data:`BATCH_DUCKDB_MEMORY`, each written at once: alongside the reading, the queries over tens
#: of millions of orders (and their results) would add to the batches' memory
DERIVE_AFTER_ROWS = 20_000_000
_FILE = re.compile(r"^(?P<table>[a-z_]+)\.(?P<fmt>csv|csv\.gz|parquet)$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------

@dataclass
class Source:
    """Where the tables come from: ``kind`` is ``folder`` or ``duckdb``."""

    path: Path | str  #: a folder or file, or a database URL with its password masked
    kind: str  #: folder, duckdb or sql
    tables: dict[str, str] = field(default_factory=dict)  #: table -> file path or table name
    ignored: list[str] = field(default_factory=list)  #: files that are not contract tables
    url: str = ""  #: the SQLAlchemy URL of a sql source (never printed: it may hold a password)

    def fingerprint(self) -> str:
        """A short hash of the source: for files their names, sizes and first and last 64 KiB; for a
        database its (masked) URL and the row count of each table."""
        h = hashlib.sha256()
        if self.kind == "sql":
            import sqlalchemy as sa

            engine = sa.create_engine(self.url)
            with engine.connect() as conn:
                for name in sorted(self.tables):
                    count = conn.execute(sa.text(f"SELECT count(*) FROM {_sql_quote(engine, name)}")).scalar()
                    h.update(f"{name}:{count}".encode())
            engine.dispose()
            h.update(str(self.path).encode())
            return h.hexdigest()[:16]
        paths = [Path(p) for p in self.tables.values()] if self.kind == "folder" else [self.path]
        for p in sorted(paths):
            size = p.stat().st_size
            h.update(f"{p.name}:{size}".encode())
            with open(p, "rb") as f:
                h.update(f.read(65536))
                if size > 65536:
                    f.seek(max(size - 65536, 65536))
                    h.update(f.read())
        return h.hexdigest()[:16]


def open_source(source: str | Path) -> Source:
    """Find the contract tables in a folder, a DuckDB file or a database given by a SQLAlchemy URL
    (``sqlite:///shop.db``, ``postgresql://user@host/db``, ``mysql+pymysql://...``); no data is read yet."""
    if "://" in str(source):
        return _open_sql(str(source))
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"Data source {path} does not exist. Give a folder of CSV/Parquet files "
                        "or a DuckDB file, e.g. --data data/samples.")
    if path.is_dir():
        src = Source(path, "folder")
        for f in sorted(path.iterdir()):
            m = _FILE.match(f.name)
            if not m or m["table"] not in TABLES:
                if f.is_file() and not f.name.startswith(".") and f.suffix.lower() not in (".md", ".txt", ".toml"):
                    src.ignored.append(f.name)
                continue
            if m["table"] in src.tables:
                raise DataError(f"Table {m['table']} is given twice in {path}: {Path(src.tables[m['table']]).name} "
                                f"and {f.name}. Keep one of them.")
            src.tables[m["table"]] = str(f)
        return src
    if path.suffix.lower() in (".duckdb", ".db", ".ddb"):
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as e:
            raise DataError(f"Cannot open DuckDB file {path}: {e}") from None
        try:
            names = [r[0] for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main'").fetchall()]
        finally:
            con.close()
        src = Source(path, "duckdb")
        for n in names:
            (src.tables.__setitem__(n, n) if n in TABLES else src.ignored.append(n))
        return src
    raise DataError(f"Data source {path} is neither a folder nor a DuckDB file (.duckdb). "
                    "Point --data at a folder of <table>.csv / .csv.gz / .parquet files.")


def _open_sql(url: str) -> Source:
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        masked = engine.url.render_as_string(hide_password=True)
        names = sa.inspect(engine).get_table_names()
        engine.dispose()
    except Exception as e:  # a driver missing, a server that does not answer, a bad URL
        raise DataError(f"Cannot open the database {url.split('@')[-1]}: {_short(e)}. Check the URL "
                        "(e.g. sqlite:///shop.db, postgresql://user@host/db) and that its driver is installed.") from None
    src = Source(masked, "sql", url=url)
    for n in names:
        (src.tables.__setitem__(n, n) if n in TABLES else src.ignored.append(n))
    return src


def _sql_quote(engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote(name)


# ---------------------------------------------------------------------------------------------
# The loaded data
# ---------------------------------------------------------------------------------------------

class Dataset(Mapping):
    """The validated tables of a source, for one report month (or all of it).

    ``data["orders"]`` or ``data.orders`` is a table (a prepared run folder's tables are read on
    first use, so a chapter holds in memory only the tables it touches); ``data.has("traffic")``
    says whether a table is there; ``data.missing_note(...)`` explains a skipped section. ``quality`` holds the
    data-quality issues, ``rejected`` the rows set aside (never silently dropped), ``month`` the
    report month and ``start``/``end`` the loaded window (end exclusive).
    """

    def __init__(self, tables, *, quality, rejected, month, start, end, source, settings, fingerprint,
                 derived=None):
        self._tables: dict[str, pd.DataFrame | Path] = dict(tables)
        #: the files of a prepared folder's tables (they stand for the table before and after it is read)
        self.files: dict[str, Path] = {k: v for k, v in self._tables.items() if isinstance(v, Path)}
        self._derived: dict[str, pd.DataFrame | Path] = dict(derived or {})
        self._partial: dict[str, list] = {}  #: prepared tables read in part (read_columns)
        self.quality: DataQuality = quality
        self.rejected: dict[str, pd.DataFrame] = rejected
        self.month: str | None = month
        self.start: pd.Timestamp | None = start
        self.end: pd.Timestamp | None = end
        self.source: Source = source
        self.settings: Settings = settings
        self.fingerprint: str = fingerprint

    def __getitem__(self, name: str) -> pd.DataFrame:
        try:
            table = self._tables[name]
        except KeyError:
            raise KeyError(f"Table {name!r} is not in this source ({self.source.path}). "
                           f"Tables present: {', '.join(self._tables) or 'none'}.") from None
        if isinstance(table, Path):  # a prepared table, read on first use
            table = self._tables[name] = read_parquet(table)
        return table

    def forget(self, *names: str) -> None:
        """Let go of prepared tables (and the columns :func:`read_columns` kept of them) that the
        rest of a notebook does not need: their memory is freed, and a later use reads the file
        again. A table that was not read from a prepared folder stays, as nothing could bring it back."""
        for name in names:
            if name in self.files:
                self._tables[name] = self.files[name]
                self._partial.pop(name, None)

    def table_file(self, name: str) -> Path | None:
        """The Parquet file of a prepared table that is not read yet, else None."""
        table = self._tables.get(name)
        return table if isinstance(table, Path) else None

    def rows(self, name: str) -> int:
        """Rows of a table, without reading a prepared table that is not in memory yet."""
        table = self._tables[name]
        if isinstance(table, Path):
            import pyarrow.parquet as pq

            return pq.ParquetFile(table).metadata.num_rows
        return len(table)

    def __getattr__(self, name: str) -> pd.DataFrame:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in TABLES:
            return self[name]
        raise AttributeError(name)

    def __contains__(self, name) -> bool:  # without reading a prepared table
        return name in self._tables

    def __iter__(self):
        return iter(self._tables)

    def __len__(self):
        return len(self._tables)

    def __repr__(self):
        rows = ", ".join(f"{k}={self.rows(k):,}" for k in self._tables)
        return f"Dataset(month={self.month}, {rows})"

    def _repr_html_(self) -> str:
        import html

        window = (f"{self.start:%Y-%m-%d} to {self.end - pd.Timedelta(days=1):%Y-%m-%d}"
                  if self.start is not None else "all dates")
        tables = " · ".join(f"{html.escape(k)} {self.rows(k):,}" for k in self._tables)
        issues = (f"{len(self.quality.errors)} errors, {len(self.quality.warnings)} warnings"
                  if self.quality else "no data-quality issues")
        return (f"<p><b>Report month {html.escape(self.month or '-')}</b>, loaded window {window}; "
                f"rows: {tables}; {issues}.</p>")

    def has(self, *tables: str, columns: Mapping[str, Iterable[str]] | None = None) -> bool:
        """True when every table is present (and holds the given columns with some values)."""
        return self.missing_note(*tables, columns=columns) is None

    def missing_note(self, *tables: str, columns: Mapping[str, Iterable[str]] | None = None) -> str | None:
        """None when everything is there, else a sentence naming what a skipped section needs
        (a prepared table not read yet is answered from its file's schema and statistics)."""
        absent = [t for t in tables if t not in self._tables]
        lacking = []
        for t, cols in (columns or {}).items():
            if t in self._tables:
                lacking += [f"{t}.{c}" for c in cols if not column_has_values(self, t, c)]
            elif t not in absent:
                absent.append(t)
        if not absent and not lacking:
            return None
        parts = []
        if absent:
            parts.append("table" + ("s " if len(absent) > 1 else " ") + ", ".join(absent))
        if lacking:
            parts.append("column" + ("s " if len(lacking) > 1 else " ") + ", ".join(lacking))
        return f"Skipped: this section needs {' and '.join(parts)}, which the source does not provide."

    def derived(self, name: str) -> pd.DataFrame:
        """A shared derived table (``daily_kpis``, ``customer_summary``, ``sku_daily``; see
        :mod:`playbook.derived`), computed once and cached, or read from a prepared run folder."""
        from . import derived

        cached = self._derived.get(name)
        if isinstance(cached, Path):
            cached = self._derived[name] = read_parquet(cached)
        if cached is None:
            cached = self._derived[name] = derived.compute(name, self)
        return cached

    def overview(self) -> pd.DataFrame:
        """One row per contract table: rows, first and last date, contract columns present and
        missing, extra columns. Absent tables are listed too, so a reader sees what is missing."""
        rows = []
        for name, table in TABLES.items():
            present = name in self._tables
            col = _window_column(table) or (table.window[1] if table.window and table.window[0] == "overlap" else None)
            columns, first, last = (self._range(name, col) if present else ([], None, None))
            rows.append({
                "table": name,
                "rows": self.rows(name) if present else 0,
                "from": first.strftime("%Y-%m-%d") if hasattr(first, "strftime") and pd.notna(first) else (first or ""),
                "to": last.strftime("%Y-%m-%d") if hasattr(last, "strftime") and pd.notna(last) else (last or ""),
                "missing columns": "" if not present else ", ".join(c for c in table.names if c not in columns),
                "extra columns": "" if not present else ", ".join(c for c in columns if c not in table.names),
                "status": "loaded" if present else ("absent (required)" if table.required else "absent"),
            })
        return pd.DataFrame(rows)

    def _range(self, name: str, col: str | None) -> tuple[list[str], object, object]:
        """A table's columns and the first and last value of ``col``; for a prepared table not in
        memory, from the Parquet file's schema and statistics (nothing is read)."""
        file = self.table_file(name)
        if file is None:
            frame = self[name]
            if col in frame.columns:
                return list(frame.columns), frame[col].min(), frame[col].max()
            return list(frame.columns), None, None
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(file).metadata
        columns = [c for c in meta.schema.to_arrow_schema().names if c != "__index_level_0__"]
        if col not in columns:
            return columns, None, None
        i = columns.index(col)
        stats = [meta.row_group(g).column(i).statistics for g in range(meta.num_row_groups)]
        if not all(st is not None and (st.has_min_max or st.null_count == st.num_values) for st in stats):
            values = pd.read_parquet(file, columns=[col])[col]  # statistics not written: read the column
            return columns, values.min(), values.max()
        as_value = (lambda v: pd.Timestamp(v) if isinstance(v, datetime.datetime) else v)
        lows = [as_value(st.min) for st in stats if st.has_min_max]
        highs = [as_value(st.max) for st in stats if st.has_min_max]
        return columns, (min(lows) if lows else None), (max(highs) if highs else None)

    def month_rows(self, table: str, column: str | None = None) -> pd.DataFrame:
        """The rows of ``table`` that fall in the report month (by its window column)."""
        frame = self[table]
        if self.month is None:
            return frame
        col = column or _window_column(TABLES[table])
        if col is None:
            return frame
        ms = pd.Timestamp(self.month + "-01")
        if TABLES[table].column(col).type == "month":
            return frame[frame[col] == self.month]
        return frame[(frame[col] >= ms) & (frame[col] < ms + pd.offsets.MonthBegin(1))]


def read_columns(data, name: str, columns: Iterable[str], *, keep: bool = True) -> pd.DataFrame:
    """Table ``name`` of ``data`` for a section that reads only ``columns``: the table itself when
    it is in memory (or ``data`` is a plain mapping of frames); for a prepared table not read yet,
    those of ``columns`` its file has (the frame ``data[name][columns]`` would be, without reading
    the other columns: an orders table of a large shop carries nineteen).

    The columns read are kept in ``data`` for the next section that asks for them, unless
    ``keep`` is False: a calculation made once per dataset (whose result is cached) then reads
    them for itself, and their memory goes with its frame. Columns already kept are reused either way.
    """
    file = data.table_file(name) if isinstance(data, Dataset) else None
    if file is None:
        return data[name]
    wanted = [c for c in dict.fromkeys(columns) if c in file_columns(file)]
    for cols, frame in data._partial.get(name, []):
        if set(wanted) <= set(cols):
            return frame[wanted] if list(cols) != wanted else frame
    frame = read_parquet(file, columns=wanted)
    if keep:
        data._partial.setdefault(name, []).append((wanted, frame))
    return frame


def read_derived_columns(data, name: str, columns: Iterable[str]) -> pd.DataFrame:
    """``data.derived(name)[columns]``; for a prepared folder whose derived table is not read yet,
    only those columns, read from its file for this use (not kept): a section that needs two of
    the customer summary's nine columns leaves the rest, and their memory, alone."""
    columns = list(columns)
    cached = data._derived.get(name) if isinstance(data, Dataset) else None
    if isinstance(cached, Path) and all(c in file_columns(cached) for c in columns):
        return read_parquet(cached, columns=columns)
    return data.derived(name)[columns]


def read_window(data, name: str, columns, column: str, lo, hi) -> pd.DataFrame:
    """The rows of table ``name`` with ``lo <= column < hi`` (``column`` a timestamp), with those of
    ``columns`` (and ``column``) the table has, in the table's order: the table (or its columns,
    :func:`read_columns` without keeping them) filtered by ``.loc``; for a prepared table not read
    yet, the same rows read from its file for this use, skipping the row groups whose statistics
    lie outside the window (a month out of 25 reads a few row groups of a large table) and
    filtered in Arrow before any pandas conversion."""
    file = data.table_file(name) if hasattr(data, "table_file") else None
    if file is not None:
        frame = _read_file_window(file, [*columns, column], column, lo, hi)
        if frame is not None:
            return frame
    frame = read_columns(data, name, [*columns, column], keep=False)
    cols = [c for c in dict.fromkeys([*columns, column]) if c in frame.columns]
    return frame.loc[(frame[column] >= lo) & (frame[column] < hi), cols]


def _read_file_window(file, columns, column: str, lo, hi) -> pd.DataFrame | None:
    """:func:`read_window` of a Parquet file; None when ``column`` is not a plain (zone-less)
    timestamp column of the file."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(file)
    schema = pf.schema_arrow
    if column not in schema.names or not pa.types.is_timestamp(schema.field(column).type) \
            or schema.field(column).type.tz is not None:
        return None
    lo, hi = pd.Timestamp(lo), pd.Timestamp(hi)
    if lo.tz is not None or hi.tz is not None:
        return None
    meta = pf.metadata
    at = [meta.schema.column(i).path for i in range(meta.num_columns)].index(column)
    groups = []
    for g in range(meta.num_row_groups):  # a hundred row groups at most
        st = meta.row_group(g).column(at).statistics
        if st is not None and st.has_min_max and (pd.Timestamp(st.max) < lo or pd.Timestamp(st.min) >= hi):
            continue  # no row of the group is in the window
        groups.append(g)
    cols = [c for c in dict.fromkeys(columns) if c in schema.names]
    table = pf.read_row_groups(groups, columns=cols)
    ts = table.column(column)
    keep = pc.and_(pc.greater_equal(ts, pa.scalar(lo, type=ts.type)), pc.less(ts, pa.scalar(hi, type=ts.type)))
    table = table.filter(keep)  # a missing stamp is dropped, as NaT fails both comparisons in pandas
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table, ts, keep
    pa.default_memory_pool().release_unused()
    return frame


def read_rows(data, name: str, columns: list[str], rows: np.ndarray) -> pd.DataFrame:
    """``columns`` of table ``name`` at positions ``rows`` (ascending), as :func:`read_columns`
    would give them: of a prepared table not read yet, only the Parquet row groups that hold those
    rows are read (a month's orders are a few of them)."""
    file = data.table_file(name) if hasattr(data, "table_file") else None
    rows = np.asarray(rows, dtype="int64")
    if file is None:
        frame = read_columns(data, name, columns, keep=False)
        return frame[columns].take(rows).reset_index(drop=True)
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(file)
    meta = pf.metadata
    bounds = np.cumsum([0] + [meta.row_group(i).num_rows for i in range(meta.num_row_groups)])
    group = np.searchsorted(bounds, rows, side="right") - 1
    need = np.unique(group) if len(rows) else np.arange(min(1, meta.num_row_groups))
    table = pf.read_row_groups(need.tolist(), columns=columns)
    sizes = bounds[need + 1] - bounds[need]
    at = np.searchsorted(need, group)
    local = rows - bounds[need][at] + np.concatenate(([0], np.cumsum(sizes)[:-1]))[at]
    frame = table.take(pa.array(local, type=pa.int64())).to_pandas()
    return frame.reset_index(drop=True)[columns]


def has_column(data, name: str, column: str) -> bool:
    """Whether table ``name`` of ``data`` has ``column`` (a prepared file's schema, not read)."""
    file = data.table_file(name) if isinstance(data, Dataset) else None
    return column in (file_columns(file) if file is not None else data[name].columns)


def column_has_values(data, name: str, column: str) -> bool:
    """Whether table ``name`` of ``data`` has ``column`` with at least one value; for a prepared
    table not read yet, from the Parquet statistics (counts of non-null values)."""
    file = data.table_file(name) if isinstance(data, Dataset) else None
    if file is None:
        frame = data[name]
        return column in frame.columns and not frame[column].isna().all()
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(file).metadata
    names = meta.schema.to_arrow_schema().names
    if column not in names:
        return False
    i = names.index(column)
    stats = [meta.row_group(g).column(i).statistics for g in range(meta.num_row_groups)]
    if all(st is not None and st.has_null_count for st in stats):  # num_values: the non-null values
        return sum(st.num_values for st in stats) > 0
    return not pd.read_parquet(file, columns=[column])[column].isna().all()


def read_parquet(file: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """``pd.read_parquet(file, columns=columns)``, the same frame, converted from Arrow column by
    column with each Arrow buffer freed once converted, and Arrow's unused memory handed back:
    the peak of reading a large table is the frame, not the frame and the Arrow table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pq.read_table(file, columns=columns).to_pandas(split_blocks=True, self_destruct=True)
    pa.default_memory_pool().release_unused()
    return frame


def release_free_memory() -> None:
    """Hand memory that was freed back to the system: Arrow's allocator keeps freed blocks for reuse
    (a third of a GB after preparing a ten-million-line shop; the text of a table a section read
    for itself) and so does the C heap (glibc's ``malloc_trim``; nothing elsewhere). Called by the
    runner before the chapters start and by chapters after a large section, so that memory a
    process no longer uses is not held while another kernel needs it."""
    import ctypes
    import ctypes.util

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None
    if trim is not None:  # glibc; other C libraries return memory their own way
        trim(0)


def file_columns(file: Path) -> list[str]:
    """The columns of a Parquet file, from its schema (nothing is read)."""
    import pyarrow.parquet as pq

    return [c for c in pq.read_schema(file).names if c != "__index_level_0__"]


def _window_column(table: Table) -> str | None:
    if table.window and table.window[0] in ("time", "month"):
        return table.window[1]
    return None


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

class _Reader:
    """One DuckDB connection over a source, with the table views and the window pushed down."""

    def __init__(self, source: Source, quality: DataQuality, window: tuple[str, str] | None = None, *,
                 tz: str | None = None, memory_limit: str | None = None):
        self.source = source
        self.quality = quality
        self.window = window  #: (first day, day after the last) as YYYY-MM-DD, padded; None = all rows
        self.tz = tz or load_settings()["shop"]["timezone"]
        self.casts: dict[str, FastCast] = {}
        self.range: tuple | None = None  #: (first, last) order date, once the orders have been read
        self.order_keys = None  #: Arrow table of each order id and whether it is in the window
        self.engine = None
        if source.kind == "sql":
            import sqlalchemy as sa

            self.engine = sa.create_engine(source.url)
        self.con = duckdb.connect()
        self.con.execute("SET enable_progress_bar = false").fetchall()
        # text as Arrow large_string, which pandas' str columns hold: no conversion copy
        self.con.execute("SET arrow_large_buffer_size = true").fetchall()
        self.tmp: Path | None = None
        self.lookup: _KeyLookup | None = None  #: the order keys' lookup, for tables read in batches
        self.orders_unique = False  #: no order id repeats in the window (known from the narrow scan)
        if memory_limit is not None:
            self.tmp = Path(tempfile.mkdtemp(prefix="playbook-"))
            self.con.execute(f"SET memory_limit = '{memory_limit}'").fetchall()
            self.con.execute(f"SET temp_directory = '{_q(str(self.tmp / 'duckdb'))}'").fetchall()
        self.types: dict[str, dict[str, str]] = {}
        self.renames: dict[str, dict[str, str]] = {}
        if source.kind == "duckdb":
            self.con.execute(f"ATTACH '{source.path}' AS src (READ_ONLY)").fetchall()

    def close(self):
        self.con.close()  # the connection's temporary tables and registered frames go with it
        if self.engine is not None:
            self.engine.dispose()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- views --------------------------------------------------------------------------------
    def view(self, table: str) -> str:
        """Create (once) a view ``t_<table>`` over the source table; returns its name."""
        name = f"t_{table}"
        if table in self.types:
            return name
        location = self.source.tables[table]
        if self.source.kind == "duckdb":
            scan = f'src.main."{location}"'
        elif self.source.kind == "sql":
            scan = self._sql_scan(table)
        elif location.endswith(".parquet"):
            scan = f"read_parquet('{_q(location)}')"
        else:
            scan = self._csv_scan(table, Path(location))
        try:
            cols = self.con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
        except duckdb.Error as e:
            raise DataError(f"Cannot read table {table} from {location}: {_short(e)}. Check that it is a "
                            "comma-separated file with one header row.") from None
        select, types, renames = [], {}, {}
        for col_name, col_type, *_ in cols:
            clean = col_name.replace("\ufeff", "").strip()
            norm = clean.lower().replace(" ", "_")
            if norm in TABLES[table].names and norm != col_name:
                renames[col_name] = norm
                clean = norm
            select.append(f'"{col_name.replace(chr(34), chr(34) * 2)}" AS "{clean}"')
            types[clean] = col_type
        if renames:
            self.quality.append(Issue("info", table, None, 0, "column names normalised: " + ", ".join(
                f"{a!r} -> {b!r}" for a, b in renames.items())))
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {', '.join(select)} FROM {scan}").fetchall()
        self.types[table] = types
        return name

    def _sql_scan(self, table: str) -> str:
        """Read a database table's window with SQL (the filter runs in the database) and register it."""
        import sqlalchemy as sa

        q = lambda n: _sql_quote(self.engine, n)  # noqa: E731
        spec = TABLES[table]
        columns = {c["name"] for c in sa.inspect(self.engine).get_columns(table)}
        where, params = [], {}
        if self.window is not None and spec.window:
            params = {"lo": self.window[0], "hi": self.window[1]}
            kind = spec.window[0]
            if kind == "time" and spec.window[1] in columns:
                c = q(spec.window[1])
                where.append(f"({c} IS NULL OR ({c} >= :lo AND {c} < :hi))")
            elif kind == "orders" and "order_id" in columns:
                o = q("orders")
                where.append(f"(order_id IS NULL OR order_id IN (SELECT order_id FROM {o} WHERE order_ts >= :lo "
                             f"AND order_ts < :hi) OR order_id NOT IN (SELECT order_id FROM {o} WHERE order_id IS NOT NULL))")
            elif kind == "overlap" and all(c in columns for c in spec.window[1:]):
                a, b = q(spec.window[1]), q(spec.window[2])
                params["ahead"] = (pd.Timestamp(self.window[1]) + pd.Timedelta(days=PLAN_AHEAD_DAYS)).date().isoformat()
                where.append(f"({a} IS NULL OR {b} IS NULL OR ({a} < :ahead AND {b} >= :lo))")
            elif kind == "month" and spec.window[1] in columns:
                c = q(spec.window[1])
                params.update(mlo=self.window[0][:7], mhi=self.window[1][:7])
                where.append(f"({c} IS NULL OR ({c} >= :mlo AND {c} <= :mhi))")
        sql = f"SELECT * FROM {q(table)}" + (f" WHERE {' AND '.join(where)}" if where else "")
        try:
            frame = pd.read_sql(sa.text(sql), self.engine, params=params)
        except Exception as e:
            raise DataError(f"Cannot read table {table} from the database: {_short(e)}") from None
        name = f"sql_{table}"
        self.con.register(name, frame)
        return name

    def order_range(self) -> tuple:
        """(first, last) order date of the whole source, read without loading every order."""
        if self.source.kind == "sql":
            import sqlalchemy as sa

            with self.engine.connect() as conn:
                lo, hi = conn.execute(sa.text(f"SELECT min(order_ts), max(order_ts) FROM {_sql_quote(self.engine, 'orders')}")).one()
            first, last = parse_timestamps(pd.Series([lo, hi], dtype=object), "UTC")
            return (None, None) if pd.isna(first) else (first.normalize(), last.normalize())
        if self.range is not None:
            return self.range
        view = self.view("orders")
        v = self.cast("orders").select["order_ts"]
        return tuple(self.con.execute(f"SELECT min(CAST({v} AS DATE)), max(CAST({v} AS DATE)) FROM {view}").fetchall()[0])

    def _csv_scan(self, table: str, path: Path) -> str:
        encoding = _sniff_encoding(path)
        if encoding == "utf-8-sig":
            self.quality.append(Issue("info", table, None, 0, f"{path.name} starts with a UTF-8 byte-order mark; read as UTF-8"))
        elif encoding == "gb18030":
            if self.tmp is None:
                self.tmp = Path(tempfile.mkdtemp(prefix="playbook-"))
            target = self.tmp / f"{table}.csv"
            opener = gzip.open if path.name.endswith(".gz") else open
            with opener(path, "rb") as src, open(target, "wb") as dst:
                decoder = codecs.getincrementaldecoder("gb18030")()
                while chunk := src.read(1 << 20):
                    dst.write(decoder.decode(chunk).encode("utf-8"))
                dst.write(decoder.decode(b"", final=True).encode("utf-8"))
            self.quality.append(Issue("warning", table, None, 0,
                                      f"{path.name} is not UTF-8; read it as GBK/GB18030 (the usual encoding of "
                                      "Excel exports from Chinese platforms)",
                                      "No action needed; save as UTF-8 to silence this"))
            path = target
        # sniff the dialect once, on the first MiB, then read with explicit options: every later
        # query skips the sniffer (which on a large gzip file decompresses tens of MB)
        sample = self._sample(path)
        try:
            delim, quote, escape, has_header, columns = self.con.execute(
                f"SELECT Delimiter, Quote, Escape, HasHeader, Columns FROM sniff_csv('{_q(str(sample))}')").fetchall()[0]
        except duckdb.Error as e:
            raise DataError(f"Cannot read table {table} from {path.name}: {_short(e)}. Check that it is a "
                            "comma-separated file with one header row.") from None
        if not has_header:
            raise DataError(f"{path.name} has no header row. The first line must name the columns "
                            f"({', '.join(TABLES[table].required_columns)} ...).")
        names = ", ".join(f"'{_q(c['name'])}': 'VARCHAR'" for c in columns)
        lit = (lambda ch: "'" + _q(ch if ch and ch != "(empty)" else '"') + "'")
        return (f"read_csv('{_q(str(path))}', header=true, auto_detect=false, delim={lit(delim)}, "
                f"quote={lit(quote)}, escape={lit(escape)}, columns={{{names}}})")

    def _sample(self, path: Path, size: int = 1 << 20) -> Path:
        """The first ``size`` bytes of a large (or gzip) CSV file, cut after a line end, in the
        private temporary folder; small plain files are sniffed as they are."""
        if not path.name.endswith(".gz") and path.stat().st_size <= 2 * size:
            return path
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as f:
            head = f.read(size + 1)
        if len(head) <= size:
            cut = head
        else:
            end = head.rfind(b"\n", 0, size)
            if end < 0:
                return path
            cut = head[:end + 1]
        if self.tmp is None:
            self.tmp = Path(tempfile.mkdtemp(prefix="playbook-"))
        target = self.tmp / f"sample-{path.name.removesuffix('.gz')}"
        target.write_bytes(cut)
        return target

    # -- queries --------------------------------------------------------------------------------
    def cast(self, table: str) -> FastCast:
        """How DuckDB casts a table's columns (see :func:`~playbook.validation.sql_fast_cast`)."""
        if table not in self.casts:
            self.casts[table] = sql_fast_cast(TABLES[table], self.types[table], tz=self.tz)
        return self.casts[table]

    def forget(self, table: str) -> None:
        """Drop the registered frame of a database table once it has been read."""
        if self.source.kind == "sql":
            self.con.unregister(f"sql_{table}")

    def fetch(self, sql: str, table: str):
        """The result of ``sql`` as a pyarrow Table."""
        try:
            # streamed in batches: DuckDB does not first materialise the whole result in its own buffers
            return self.con.sql(sql).to_arrow_reader(1 << 17).read_all()
        except duckdb.Error as e:
            raise self._read_error(table, e) from None

    def stream(self, sql: str, table: str, rows: int):
        """The result of ``sql`` as pyarrow Tables of ``rows`` rows (the last one shorter, possibly
        empty), read from DuckDB's stream one after the other: the whole result is never in memory.
        While it is being read, no other query may run on :attr:`con`."""
        try:
            stream = self.con.sql(sql).to_arrow_reader(1 << 17)
            held, n = [], 0
            while True:
                try:
                    batch = stream.read_next_batch()
                except StopIteration:
                    break
                held.append(batch)
                n += batch.num_rows
                while n >= rows:
                    part = pa.Table.from_batches(held, schema=stream.schema)
                    yield part.slice(0, rows)
                    rest = part.slice(rows)
                    held, n = rest.to_batches(), rest.num_rows
                    del part, rest
            yield pa.Table.from_batches(held, schema=stream.schema)
        except duckdb.Error as e:
            raise self._read_error(table, e) from None

    def _read_error(self, table: str, e: Exception) -> DataError:
        return DataError(f"Cannot read table {table} from {self.source.tables.get(table)}: {_short(e)}. "
                         "If it is an export, check its encoding and that every row has the same columns.")


def _q(text: str) -> str:
    return text.replace("'", "''")


def _short(e: Exception) -> str:
    return str(e).strip().splitlines()[0][:300]


def _sniff_encoding(path: Path) -> str:
    """utf-8, utf-8-sig or gb18030, judged from the first 4 MiB."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as f:
        head = f.read(4 << 20)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError:
        raise DataError(f"{path.name} is neither UTF-8 nor GBK text. Open it in a spreadsheet and save it "
                        "as 'CSV UTF-8'.") from None


def month_bounds(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(first day, first day of the next month) of a ``YYYY-MM`` month."""
    if not isinstance(month, str) or not _MONTH.match(month):
        raise PlaybookError(f"Month {month!r} is not a month in the form YYYY-MM, e.g. 2026-10.")
    start = pd.Timestamp(month + "-01")
    return start, start + pd.offsets.MonthBegin(1)


def _ident(table: Table) -> list[str]:
    return list(table.key) or [c.name for c in table.columns if c.required and c.type == "str"]


def load(source: str | Path, *, month: str | None = None, settings: Settings | str | Path | None = None,
         tables: Iterable[str] | None = None, history_months: int | None = None) -> Dataset:
    """Read and validate the contract tables of a source.

    Parameters
    ----------
    source : a folder of ``<table>.csv`` / ``.csv.gz`` / ``.parquet`` files or a DuckDB file.
    month : the report month ``YYYY-MM``. The window loaded is the ``history_months`` months that
        end with it (default from settings: 25, so a year-over-year comparison has its base); rows
        after the month are left out. ``None`` loads everything.
    settings : a :class:`~playbook.settings.Settings`, or the path of a settings TOML file.
    tables : load only these tables (``orders`` is always loaded).

    Returns
    -------
    Dataset
        the validated tables; ``.quality`` lists the warnings that were repaired.

    Raises
    ------
    DataError
        when the source has blocking problems; the message lists each with its table, column,
        number of rows, example rows and what to do.

    Notes
    -----
    DuckDB reads each table once: it filters the window and casts the plainly written values
    (:func:`~playbook.validation.sql_fast_cast`); pandas receives typed columns (text as
    Arrow-backed ``str``, no copy), checks them with vectorised operations and parses with its
    lenient parsers only the few values DuckDB left aside
    (:func:`~playbook.validation.coerce_fetched`).

    Examples
    --------
    >>> data = load("data/samples", month="2026-10")          # doctest: +SKIP
    >>> data.orders.paid_amount.sum()                         # doctest: +SKIP
    """
    settings = settings if isinstance(settings, Settings) else load_settings(settings)
    if _is_prepared(source):
        return _load_prepared(Path(source), month, settings)
    job = _Loading(source, month=month, settings=settings, tables=tables, history_months=history_months)
    result, rejected = {}, {}
    for name, frame, set_aside in job.tables():
        if frame is not None:
            result[name] = frame
        if set_aside is not None:
            rejected[name] = set_aside
    job.check_across({name: list(frame.columns) for name, frame in result.items()},
                     lambda name, columns: result[name][columns])
    return job.dataset(result, rejected)


def _is_prepared(source) -> bool:
    return "://" not in str(source) and Path(source).is_dir() and (Path(source) / PREPARED_MARKER).exists()


class _Loading:
    """One read of a source, shared by :func:`load` (tables kept in memory) and
    :func:`prepare_source` (each table written out as soon as it is checked): the tables one at a
    time (:meth:`tables`), then the checks that span tables (:meth:`check_across`), then the
    :class:`Dataset` or the :class:`~playbook.errors.DataError` (:meth:`dataset`)."""

    def __init__(self, source, *, month, settings: Settings, tables=None, history_months=None):
        self.settings, self.month, self.quality = settings, month, DataQuality()
        self.src = src = open_source(source)
        if "orders" not in src.tables:
            raise DataError(f"The source {src.path} has no orders table, the one table every chapter needs. "
                            f"Add orders.csv (or .csv.gz / .parquet). Tables found: "
                            f"{', '.join(src.tables) or 'none'}" + (f"; other files: {', '.join(src.ignored)}" if src.ignored else "") + ".",
                            [Issue("error", "orders", None, 0, "required table is missing")])
        if src.ignored:
            self.quality.append(Issue("info", "source", None, 0,
                                      "not contract tables, ignored: " + ", ".join(src.ignored)))
        self.wanted = [t for t in TABLES if t in src.tables and (tables is None or t == "orders" or t in set(tables))]
        self.start = self.end = None
        if month is not None:
            m_start, self.end = month_bounds(month)
            n = int(history_months or settings["report"]["history_months"])
            self.start = m_start - pd.DateOffset(months=n - 1)
        self._order_issues: list[Issue] = []  #: checks inside orders, added when nothing else is wrong

    def tables(self, folder: Path | None = None, drop_columns=None):
        """Yield (table, frame or None, rows set aside or None) for each wanted table, checked.

        With ``folder`` (:func:`prepare_source`), a table with more than :data:`BATCH_ROWS` rows
        is read, checked and written into ``folder`` batch by batch (leaving out the columns
        ``drop_columns`` names, see :class:`_BatchedTable`), and its Parquet file is yielded in
        place of its frame."""
        start, end, tz = self.start, self.end, self.settings["shop"]["timezone"]
        window = None if start is None else ((start - pd.Timedelta(days=1)).date().isoformat(),
                                             (end + pd.Timedelta(days=1)).date().isoformat())
        rows = BATCH_ROWS if folder is not None else None
        reader = _Reader(self.src, DataQuality(), window, tz=tz,  # its issues reach self.quality in table order
                         memory_limit=BATCH_DUCKDB_MEMORY if rows is not None else None)
        con = reader.con.cursor()  # this thread's connection; the reading thread keeps reader.con
        ahead = _ReadAhead(reader, _read_all(reader, self.wanted, start, end, self.month, rows))
        batched = None
        try:
            for name, fetched, issues in ahead:
                self.quality.extend(issues)
                if fetched.part is not None:  # one batch of a large table
                    if fetched.part == 0:
                        batched = _BatchedTable(name, Path(folder), drop_columns, tz, start, end, self.month)
                    batched.add(fetched)
                    del fetched
                    if not batched.done:
                        continue
                    file, set_aside = batched.finish(self.quality, con)
                    if name == "orders" and file is not None:
                        self._order_issues = batched.order_issues
                    batched = None
                    yield name, file, set_aside
                    del set_aside
                    continue
                frame, set_aside = _finish(name, fetched, self.quality, tz, start, end, con)
                del fetched
                if name == "orders" and frame is not None:
                    self._order_issues = _check_orders(frame, self.month)
                yield name, frame, set_aside
                del frame, set_aside
            self.quality.extend(ahead.issues_after())
        finally:
            ahead.close()
            con.close()
            reader.close()

    def check_across(self, columns: Mapping[str, list[str]], read, files: Mapping[str, Path] | None = None) -> None:
        """The checks that span tables, on the tables loaded (``columns``: table -> its columns;
        ``read(table, columns)`` gives those columns of a loaded table as a frame; ``files``, the
        Parquet files of the written tables, which are read in batches when large)."""
        _check_links(columns, read, self.quality, files)
        if not self.quality.errors:
            self.quality.extend(self._order_issues)

    def dataset(self, tables, rejected, derived=None) -> "Dataset":
        """The loaded :class:`Dataset`, or the :class:`~playbook.errors.DataError` listing every blocking problem."""
        if self.quality.errors:
            raise DataError(_error_message(self.src, self.quality), self.quality.errors)
        return Dataset(tables, quality=self.quality, rejected=rejected, month=self.month, start=self.start,
                       end=self.end, source=self.src, settings=self.settings, fingerprint=self.src.fingerprint(),
                       derived=derived)


class _ReadAhead:
    """Iterate the tables ``reader`` fetches (``items``: (table, :class:`_Fetched`)) one table
    ahead, in a thread: DuckDB reads the next table while this one is checked and written, so
    preparation uses both cores of a small machine. Yields (table, fetched, the reader's issues
    of that table), so issues keep the order of a plain read. At most two tables are in flight:
    the one being checked and the one read ahead. Errors of the reading thread are raised here."""

    _END = object()

    def __init__(self, reader: _Reader, items):
        import queue
        import threading

        self._reader, self._items, self._seen = reader, items, 0
        self._queue: queue.Queue = queue.Queue()
        self._slots = threading.Semaphore(2)  # tables fetched and not yet handed back
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="playbook-read-ahead", daemon=True)
        self._thread.start()

    def _new_issues(self) -> list[Issue]:
        issues = self._reader.quality[self._seen:]
        self._seen += len(issues)
        return issues

    def _run(self) -> None:
        try:
            while True:
                self._slots.acquire()
                if self._stop.is_set():
                    return
                item = next(self._items, self._END)
                if item is self._END:
                    self._queue.put(("end", None))
                    return
                name, fetched = item
                self._queue.put(("item", (name, fetched, self._new_issues())))
                del item, fetched
        except BaseException as e:  # noqa: BLE001 - handed to the consuming thread
            self._queue.put(("error", e))

    def __iter__(self):
        while True:
            kind, value = self._queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
            del value
            self._slots.release()  # the consumer is done with that table: read one more

    def issues_after(self) -> list[Issue]:
        """The reader's issues raised after its last table."""
        return self._new_issues()

    def close(self) -> None:
        """Stop reading ahead and wait for the thread (it finishes the table it is reading)."""
        self._stop.set()
        self._slots.release()
        self._thread.join()
        self._items.close()


@dataclass
class _Fetched:
    """One table as DuckDB read it: columns cast where plainly written, ``_raw`` and ``_orphan``;
    or one batch of a table read in batches (``part`` counts them from 0, ``last`` marks the end)."""

    arrow: object  #: a pyarrow Table
    cast: FastCast
    orphan: bool  #: whether the ``_orphan`` column is there
    part: int | None = None  #: None: the whole table
    last: bool = True
    unique: bool = False  #: the table's keys are known to be unique (no check of repeated keys needed)


def _ts_literal(ts: pd.Timestamp) -> str:
    return f"TIMESTAMP '{pd.Timestamp(ts):%Y-%m-%d %H:%M:%S}'"


def _read_all(reader: _Reader, wanted: list[str], start, end, month, batch_rows: int | None = None):
    """Yield (table, :class:`_Fetched`) for each wanted table: its rows in the window, in file order.

    The orders' ids and times are read first (a narrow scan) so that order lines, shipments and
    the like follow their orders into the window and the lines of unknown orders are marked.
    With ``batch_rows``, a table whose result has more rows is yielded in batches of that many
    rows (see :func:`_read_parts`); the others as before.
    """
    reader.view("orders")
    ocast = reader.cast("orders")
    keyed = "order_id" in ocast.select and "order_ts" in ocast.select
    for name in wanted:
        view = reader.view(name)
        table = TABLES[name]
        cast = reader.cast(name)
        where, extra = [], []
        if start is not None and table.window:
            kind = table.window[0]
            if kind == "time" and table.window[1] in cast.select:
                v = cast.select[table.window[1]]
                where.append(f"({v} IS NULL OR ({v} >= {_ts_literal(start)} AND {v} < {_ts_literal(end)}))")
            elif kind == "overlap" and all(c in cast.select for c in table.window[1:]):
                s, e = (cast.select[c] for c in table.window[1:])
                ahead = end + pd.Timedelta(days=PLAN_AHEAD_DAYS)  # plans for the coming quarter
                where.append(f"({s} IS NULL OR {e} IS NULL OR ({s} <= {_ts_literal(ahead)} AND {e} >= {_ts_literal(start)}))")
            elif kind == "month" and table.window[1] in cast.select:
                m = f"replace(trim(CAST({sql_ident(table.window[1])} AS VARCHAR)), '/', '-')"
                where.append(f"(NOT regexp_matches({m}, '^\\d{{4}}-\\d{{2}}') OR substr({m}, 1, 7) "
                             f"BETWEEN '{start:%Y-%m}' AND '{(end - pd.Timedelta(days=1)):%Y-%m}')")
        orphan = keyed and name != "orders" and "order_id" in cast.select
        if orphan or (name == "orders" and keyed):  # the order id as a key: trimmed
            extra.append(f"{sql_trimmed(cast.select['order_id'])} AS {_KEY}")
        if name == "orders" and keyed:
            # one scan of orders: every order (for the range and the keys of the other tables), with
            # a flag for the window, filtered here rather than in the scan
            extra.append((" AND ".join(where) if where else "TRUE") + " AS _inside")
            where = []
        sql = f"SELECT {cast.sql(extra)} FROM {view}" + (f" WHERE {' AND '.join(where)}" if where else "")
        follow = start is not None and table.window is not None and table.window[0] == "orders"
        if batch_rows is not None:
            yield from _read_parts(reader, name, sql, cast, orphan, follow, start, end, month, batch_rows,
                                   keyed=keyed, view=view, window=extra[-1].removesuffix(" AS _inside")
                                   if name == "orders" and keyed else None)
            reader.forget(name)
            continue
        tbl = reader.fetch(sql, name)
        if name == "orders" and keyed:
            tbl = _order_window(reader, tbl, ocast, end, month)
        elif orphan:
            tbl = _follow_orders(tbl, reader.order_keys, window=follow)
        fetched = _Fetched(tbl, cast, orphan)
        del tbl  # the consumer drops fetched.arrow once converted: no reference may stay here
        yield name, fetched
        reader.forget(name)


def _read_parts(reader: _Reader, name: str, sql: str, cast: FastCast, orphan: bool, follow: bool, start, end,
                month, rows: int, *, keyed: bool, view: str, window: str | None):
    """Yield (table, :class:`_Fetched`) for one table read by ``sql``: the whole result when it has
    at most ``rows`` rows (as :func:`_read_all` without batches), else its batches of ``rows`` rows.

    The result is read as a stream; once it holds more than ``rows`` rows the table is read in
    batches. For orders (``window``: the SQL condition of the window), the keys and the range then
    come from a narrow scan (a GROUP BY over the trimmed ids and the window flag), and the stream
    is the window's orders; the batches of a table pointing at orders are looked up by hash
    (:class:`_KeyLookup`, built once per source)."""
    counted = None
    if window is not None and not (reader.source.kind == "folder" and not reader.source.tables[name].endswith(".parquet")):
        # orders of a Parquet file or a database: counted without reading them (a CSV file is not
        # counted: that would be a scan of its own)
        counted = reader.con.execute(f"SELECT count(*) FROM {view}").fetchall()[0][0]
    if counted is not None and counted <= rows:
        parts, first = iter(()), reader.fetch(sql, name)
    elif counted is not None:
        parts, first = iter(()), None
    else:
        parts = reader.stream(sql, name, rows)
        first = next(parts)
    if first is not None and (counted is not None or first.num_rows < rows):  # the whole result: as without batches
        if hasattr(parts, "close"):
            parts.close()
        tbl = first
        del first
        if window is not None:
            tbl = _order_window(reader, tbl, cast, end, month)
        elif orphan:
            tbl = _follow_orders(tbl, reader.order_keys, window=follow)
        fetched = _Fetched(tbl, cast, orphan)
        del tbl
        yield name, fetched
        return
    if window is not None:  # orders: keys and range by a narrow scan, then the window's orders
        if hasattr(parts, "close"):
            parts.close()
        del first
        _order_keys_scan(reader, cast, view, window, end, month)
        select = f"SELECT {cast.sql()} FROM {view}" + ("" if window == "TRUE" else f" WHERE {window}")
        parts = reader.stream(select, name, rows)
        first = next(parts)
    cur = reader.con.cursor()  # hashes of this table's ids, while the stream holds reader.con
    if orphan and reader.lookup is None:
        reader.lookup = _KeyLookup(cur, reader.order_keys.column("_k_id"),
                                   reader.order_keys.column("_k_hash") if "_k_hash" in reader.order_keys.column_names else None)
    unique = reader.orders_unique and window is not None
    try:
        k = 0
        for part in itertools.chain([first], parts):  # no batch read ahead here: _ReadAhead does that
            del first
            first = None
            if orphan:
                part = _follow_orders(part, reader.order_keys, window=follow, lookup=reader.lookup, con=cur)
            fetched = _Fetched(part, cast, orphan, part=k, last=False, unique=unique)
            del part
            yield name, fetched
            del fetched
            k += 1
        yield name, _Fetched(pa.table({}), cast, orphan, part=k, last=True, unique=unique)  # the end
    finally:
        cur.close()


def _order_keys_scan(reader: _Reader, cast: FastCast, view: str, window: str, end, month) -> None:
    """``reader.order_keys`` (each trimmed order id once, whether an order of it is in the window,
    and its DuckDB hash) and the order range, by a narrow scan of the orders, and the check that
    the report month is inside the data."""
    key = sql_trimmed(cast.select["order_id"])
    inner = f"SELECT {key} AS _k_id, {window} AS _inside FROM {view}"
    try:
        # a plain scan first: order ids are meant to be unique, and then no aggregation is needed
        keys = reader.con.sql(f"SELECT _k_id, _inside AS _k_inside, hash(_k_id) AS _k_hash FROM ({inner}) "
                              "WHERE _k_id IS NOT NULL").to_arrow_table()
        lookup = _KeyLookup(None, keys.column("_k_id"), keys.column("_k_hash"))
        if lookup.unique:
            reader.order_keys, reader.lookup, reader.orders_unique = keys, lookup, True
        else:  # some id on several rows (or two ids with one hash): each id once
            del keys, lookup
            keys = reader.con.sql(
                f"SELECT _k_id, CAST(count(*) FILTER (WHERE _inside) AS UINTEGER) AS _k_n, hash(_k_id) AS _k_hash "
                f"FROM ({inner}) WHERE _k_id IS NOT NULL GROUP BY _k_id").to_arrow_table()
            n = keys.column("_k_n")
            # no id on two rows of the window: the orders written (a part of these) need no check of repeated keys
            reader.orders_unique = len(n) == 0 or pc.max(n).as_py() <= 1
            reader.order_keys = pa.table({"_k_id": keys.column("_k_id"), "_k_inside": pc.greater(n, 0),
                                          "_k_hash": keys.column("_k_hash")})
            del n
        del keys
    except duckdb.Error as e:
        raise reader._read_error("orders", e) from None
    if reader.source.kind != "sql":
        reader.range = reader.order_range()
    _check_month_in_data(reader, end, month)


def _check_month_in_data(reader: _Reader, end, month) -> None:
    if month is not None:
        first, last = reader.order_range()
        m_start = pd.Timestamp(month + "-01")
        if first is not None and (m_start > pd.Timestamp(last) or end <= pd.Timestamp(first)):
            raise DataError(f"Month {month} is outside the data: orders in {reader.source.path} run from "
                            f"{first:%Y-%m-%d} to {last:%Y-%m-%d}. Choose a month in that range.",
                            [Issue("error", "orders", "order_ts", 0, f"month {month} is outside the data")])


def _hashes(con, values) -> np.ndarray:
    """DuckDB's 64-bit ``hash()`` of each value of an Arrow text column, in order."""
    con.register("_hash_input", pa.table({"k": values}))
    try:
        return con.execute("SELECT hash(k) AS h FROM _hash_input").fetchnumpy()["h"]
    finally:
        con.unregister("_hash_input")


class _KeyLookup:
    """Where each of many text ids stands among a fixed set of distinct keys (the order ids of a
    source, or the values a link points at), built once and asked for batch after batch.

    ``pc.index_in(ids, value_set=keys)`` hashes every key again on each call: with tens of
    millions of keys and dozens of batches that dominates. Here the keys' 64-bit DuckDB hashes
    go into a :class:`pandas.Index`, whose hash table is built once and kept; a batch's ids are
    hashed by DuckDB, looked up with ``get_indexer``, and each match is confirmed by comparing
    the texts (an id whose hash equals a key's but whose text differs is no key). When two keys
    share a hash, the lookup falls back to ``pc.index_in``."""

    def __init__(self, con, keys, hashes=None):
        self.keys = keys
        hashes = _hashes(con, self.keys) if hashes is None else np.asarray(hashes, dtype=np.uint64)
        self.index = pd.Index(hashes, dtype="uint64", copy=False)
        self.unique = bool(self.index.is_unique)  # builds the hash table that get_indexer reuses

    def index_in(self, con, ids) -> pa.Array:
        """``pc.index_in(ids, value_set=keys)``: each id's position among the keys, null when absent."""
        if not self.unique:
            keys = self.keys.combine_chunks() if isinstance(self.keys, pa.ChunkedArray) else self.keys
            return pc.index_in(ids, value_set=keys)
        at = self.index.get_indexer(_hashes(con, ids))
        at[~pc.is_valid(ids).to_numpy(zero_copy_only=False)] = -1
        hit = np.flatnonzero(at >= 0)
        if len(hit):
            same = pc.equal(pc.take(ids, pa.array(hit)), pc.take(self.keys, pa.array(at[hit])))
            at[hit[~same.to_numpy(zero_copy_only=False)]] = -1
        return pa.array(at, mask=at < 0)

    def found(self, con, ids) -> np.ndarray:
        """Whether each id is one of the keys (a null id is not)."""
        return pc.is_valid(self.index_in(con, ids)).to_numpy(zero_copy_only=False)


#: the column of trimmed order ids that the loader adds to orders and to the tables pointing at them
_KEY = "_order_key"


def _order_window(reader: _Reader, tbl, cast: FastCast, end, month):
    """From all orders (``tbl``, with its ``_inside`` flag): ``reader.order_keys`` (each order id
    once, and whether the order is in the window), the check that the report month is inside the
    data, and the orders of the window."""
    con = reader.con
    con.register("_orders", tbl.select([_KEY, "order_ts", "_inside"]))
    try:
        reader.order_keys = con.sql(f"SELECT {_KEY} AS _k_id, bool_or(_inside) AS _k_inside FROM _orders "
                                    f"WHERE {_KEY} IS NOT NULL GROUP BY {_KEY}").to_arrow_table()
        first, last = con.execute("SELECT min(CAST(order_ts AS DATE)), max(CAST(order_ts AS DATE)) FROM _orders").fetchall()[0]
    finally:
        con.unregister("_orders")
    if reader.source.kind != "sql":  # a database source gave only the window: ask it for the range
        reader.range = (first, last)
    _check_month_in_data(reader, end, month)
    inside = tbl.column("_inside")
    if pc.all(inside).as_py() is False:
        tbl = tbl.filter(inside)
    return tbl.drop_columns(["_inside", _KEY])


def _follow_orders(tbl, keys, *, window: bool, lookup: _KeyLookup | None = None, con=None):
    """The rows of a table that points at orders (``tbl``, read whole, with its trimmed order ids
    in ``_KEY``), with ``_orphan`` marking the ids that are no order's; when ``window``, only the
    rows of orders in the window, of no order, or of unknown orders. Looked up in Arrow, which keeps
    the file's order (a SQL ``IN (subquery)`` is a join, and DuckDB does not keep row order
    through joins). A batch of a large table is looked up through ``lookup`` (hashes of ``con``)."""
    ids = tbl.column(_KEY)
    at = lookup.index_in(con, ids) if lookup is not None else pc.index_in(ids, value_set=keys.column("_k_id"))
    orphan = pc.and_(pc.is_valid(ids), pc.is_null(at))
    if window:
        inside = pc.fill_null(pc.take(keys.column("_k_inside"), at), False)
        keep = pc.or_(pc.or_(pc.is_null(ids), inside), orphan)
        if pc.all(keep).as_py() is False:
            tbl, orphan = tbl.filter(keep), pc.filter(orphan, keep)
    return tbl.drop_columns([_KEY]).append_column("_orphan", orphan)


def _finish(name: str, fetched: _Fetched, quality: DataQuality, tz: str, start, end, con):
    """Turn one fetched table into (frame, rejected rows): the checks and repairs of
    :func:`~playbook.validation.coerce_fetched`, the window on values only pandas could parse,
    duplicates, and lines of unknown orders."""
    table = TABLES[name]
    ident = _ident(table)
    tbl = fetched.arrow
    fetched.arrow = None
    if tbl.num_rows == 0:
        quality.append(_empty_table_issue(table, start, end))
        return None, None
    frame, orphan, issues, slow = _coerced(tbl, fetched, table, tz=tz, ident=ident)
    del tbl
    quality.extend(issues)
    if any(i.severity == "error" for i in issues):
        return frame, None
    w = table.window
    if start is not None and w and w[0] == "time" and w[1] in slow:  # values DuckDB could not read
        col = frame[w[1]]
        inside = (col.isna() | ((col >= start) & (col < end))).to_numpy()
        if not inside.all():
            frame = frame.loc[inside]
    if _has_repeated_keys(frame, table, con):
        frame, dup_issues = check_duplicates(frame, table)
        quality.extend(dup_issues)
    set_aside = None
    if orphan is not None:
        orphan = orphan[frame.index.to_numpy()]
        if orphan.any():
            required = table.column("order_id").required
            quality.append(_orphan_issue(table, int(orphan.sum()), _orphan_examples(frame.loc[orphan], ident)))
            if required:
                set_aside = frame.loc[orphan].reset_index(drop=True)
                frame = frame.loc[~orphan]
    return frame.reset_index(drop=True), set_aside


def _orphan_issue(table: Table, rows: int, examples: list[str]) -> Issue:
    required = table.column("order_id").required
    return Issue("warning", table.name, "order_id", rows,
                 "points at orders that are not in the orders table"
                 + ("; these rows are set aside (see rejected) and left out of every figure"
                    if required else "; rows kept, but they cannot be joined to an order"),
                 "Export orders and this table for the same period, or remove these rows", examples)


def _orphan_examples(rows: pd.DataFrame, ident: list[str]) -> list[str]:
    return [f"{', '.join(f'{c}={r[c]}' for c in ident if c in r.index)}" for _, r in rows.head(MAX_EXAMPLES).iterrows()]


class _BatchedTable:
    """One table read in batches (:func:`_read_parts`), checked and written batch by batch into
    ``folder/<table>.parquet`` (a :class:`pyarrow.parquet.ParquetWriter`: the columns, dtypes and
    row order of the file the whole table would give), holding one batch at a time.

    Each batch gets the checks of :func:`_finish` that look at one row at a time; their issues
    are merged at the end (:func:`~playbook.validation.merge_issues`) into those of the whole
    table. The checks that span rows run on the whole table once it is written: repeated keys by
    a GROUP BY in DuckDB over the file, and when some key repeats, exactly the rows of those keys
    go through :func:`~playbook.validation.check_duplicates` (exact copies are then removed from
    the file); lines of unknown orders are counted over every batch (those whose ``order_id`` is
    required are set aside); and for orders, the report month's orders over every batch. The
    columns ``drop_columns`` leaves out of the file are kept aside in a temporary file of a keyed
    table, since an exact duplicate is one equal in every column."""

    def __init__(self, name: str, folder: Path, drop_columns, tz: str, start, end, month):
        self.name, self.table, self.ident = name, TABLES[name], _ident(TABLES[name])
        self.folder, self.drop_columns, self.tz, self.start, self.end, self.month = folder, drop_columns, tz, start, end, month
        self.file = folder / f"{name}.parquet"
        self.side_file = folder / f".{name}-dropped.parquet"  #: the dropped columns of a keyed table
        self.writer = self.side_writer = None
        self.columns: list[str] = []  #: every column of the checked table, in order
        self.rows = 0  #: rows written
        self.issues: list[list[Issue]] = []  #: each batch's issues
        self.errors = False
        self.orphans: list[np.ndarray] = []  #: rows (of the file) of unknown orders, when kept
        self.orphan_rows = 0
        self.orphan_examples: list[str] = []
        self.set_aside: list[pd.DataFrame] = []
        self.order_parts: list[list[Issue]] = []
        self.month_orders = False
        self.order_issues: list[Issue] = []  #: the checks of _check_orders, for orders
        self.done = False
        self.unique = False  #: keys known to be unique (orders: from the narrow scan)

    def add(self, fetched: _Fetched) -> None:
        """Check and write one batch."""
        table, ident = self.table, self.ident
        tbl = fetched.arrow
        fetched.arrow = None
        self.done, self.unique = fetched.last, fetched.unique
        if tbl.num_rows == 0:
            return
        frame, orphan, issues, slow = _coerced(tbl, fetched, table, tz=self.tz, ident=ident)
        del tbl
        self.issues.append(issues)
        if any(i.severity == "error" for i in issues):
            self.errors = True  # the run stops: the batch is written as it is (as _finish returns it)
        else:
            w = table.window
            if self.start is not None and w and w[0] == "time" and w[1] in slow:
                col = frame[w[1]]
                inside = (col.isna() | ((col >= self.start) & (col < self.end))).to_numpy()
                if not inside.all():
                    frame = frame.loc[inside]
            if orphan is not None:
                orphan = orphan[frame.index.to_numpy()]
                if orphan.any():
                    n = int(orphan.sum())
                    if len(self.orphan_examples) < MAX_EXAMPLES:
                        self.orphan_examples += _orphan_examples(frame.loc[orphan], ident)
                        self.orphan_examples = self.orphan_examples[:MAX_EXAMPLES]
                    self.orphan_rows += n
                    if table.column("order_id").required:
                        self.set_aside.append(frame.loc[orphan])
                        frame = frame.loc[~orphan]
                    else:
                        self.orphans.append(self.rows + np.flatnonzero(orphan))
            if self.name == "orders":
                self.order_parts.append(_order_row_checks(frame))
                self.month_orders = self.month_orders or _has_month_orders(frame, self.month)
        self._write(frame.reset_index(drop=True))

    def _write(self, frame: pd.DataFrame) -> None:
        import pyarrow.parquet as pq

        dropped = _dropped(self.name, frame.columns, self.drop_columns)
        if self.writer is None:
            self.columns = list(frame.columns)
        kept = pa.Table.from_pandas(frame.drop(columns=dropped), preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.file, kept.schema)
        elif kept.schema != self.writer.schema:
            kept = kept.cast(self.writer.schema)
        self.writer.write_table(kept)
        if dropped and self.table.key:
            side = pa.Table.from_pandas(frame[dropped], preserve_index=False)
            if self.side_writer is None:
                self.side_writer = pq.ParquetWriter(self.side_file, side.schema)
            elif side.schema != self.side_writer.schema:
                side = side.cast(self.side_writer.schema)
            self.side_writer.write_table(side)
        self.rows += len(frame)
        del kept, frame
        pa.default_memory_pool().release_unused()

    def finish(self, quality: DataQuality, con):
        """Close the file and add the table's issues to ``quality``: the batches' issues merged, then
        those of the checks over the whole table. Returns (the file or None, rows set aside or None)."""
        for w in (self.writer, self.side_writer):
            if w is not None:
                w.close()
        table, name, start, end = self.table, self.name, self.start, self.end
        quality.extend(merge_issues(self.issues))
        try:
            if self.writer is None:  # no row in the window
                quality.append(_empty_table_issue(table, start, end))
                return None, None
            if self.errors:
                return self.file, None
            dropped = self._duplicates(quality, con)
            if self.orphan_rows:
                if len(dropped):  # exact copies of rows of unknown orders went with the copies
                    kept = np.setdiff1d(np.concatenate(self.orphans), dropped)
                    self.orphan_rows = len(kept)
                    at = kept[:MAX_EXAMPLES] - np.searchsorted(dropped, kept[:MAX_EXAMPLES])
                    self.orphan_examples = _orphan_examples(_read_rows(self.file, at), self.ident)
                if self.orphan_rows:
                    quality.append(_orphan_issue(table, self.orphan_rows, self.orphan_examples))
            if name == "orders":
                if len(dropped):  # the row checks again, over the rows that stay
                    self.order_parts = [_order_row_checks(part) for part in _file_parts(self.file)]
                self.order_issues = merge_issues(self.order_parts) + _month_issue(self.month, self.month_orders)
            return self.file, (pd.concat(self.set_aside, ignore_index=True) if self.set_aside else None)
        finally:
            self.side_file.unlink(missing_ok=True)

    def _duplicates(self, quality: DataQuality, con) -> np.ndarray:
        """The check of repeated keys over the written table; returns the rows removed (exact copies)."""
        none = np.empty(0, dtype=np.int64)
        key = [k for k in self.table.key if k in self.columns]
        if not key or self.unique:
            return none
        cols = ", ".join(sql_ident(k) for k in key)
        scan = f"read_parquet('{_q(str(self.file))}', file_row_number = true)"
        repeated = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {scan} GROUP BY {cols} HAVING count(*) > 1)").fetchall()[0][0]
        if not repeated:
            return none
        at = con.execute(f"SELECT file_row_number FROM (SELECT file_row_number, count(*) OVER (PARTITION BY {cols}) AS _n "
                         f"FROM {scan}) WHERE _n > 1 ORDER BY file_row_number").fetchnumpy()["file_row_number"]
        at = np.asarray(at, dtype=np.int64)
        rows = _read_rows(self.file, at)
        if self.side_file.exists():
            rows = pd.concat([rows, _read_rows(self.side_file, at)], axis=1)
        rows = rows[self.columns]
        kept, issues = check_duplicates(rows, self.table)
        quality.extend(issues)
        dropped = np.setdiff1d(at, kept.index.to_numpy())
        if len(dropped):
            _drop_rows(self.file, dropped)
            self.rows -= len(dropped)
        return dropped


def _read_rows(file: Path, positions, columns: list[str] | None = None) -> pd.DataFrame:
    """The rows of a Parquet file at ``positions`` (sorted), as pandas reads the file, indexed by position."""
    import pyarrow.parquet as pq

    positions = np.asarray(positions, dtype=np.int64)
    pf = pq.ParquetFile(file)
    taken, offset = [], 0
    for batch in pf.iter_batches(batch_size=1 << 16, columns=columns):
        lo, hi = np.searchsorted(positions, [offset, offset + batch.num_rows])
        if hi > lo:
            taken.append(batch.take(pa.array(positions[lo:hi] - offset)))
        offset += batch.num_rows
        if hi == len(positions):
            break
    schema = pf.schema_arrow
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
    frame = pa.Table.from_batches(taken, schema=schema).to_pandas()
    frame.index = positions
    return frame


def _file_parts(file: Path, rows: int | None = None):
    """A Parquet file as pandas frames of ``rows`` rows (:data:`BATCH_ROWS`), in order."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(file)
    for batch in pf.iter_batches(batch_size=rows or BATCH_ROWS or 1 << 20):
        yield pa.Table.from_batches([batch], schema=pf.schema_arrow).to_pandas(split_blocks=True)


def _drop_rows(file: Path, positions: np.ndarray) -> None:
    """Rewrite a Parquet file without the rows at ``positions`` (sorted), batch by batch."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(file)
    tmp = file.with_name(f".{file.name}.rewrite")
    offset = 0
    with pq.ParquetWriter(tmp, pf.schema_arrow) as out:
        for batch in pf.iter_batches(batch_size=1 << 20):
            keep = np.ones(batch.num_rows, dtype=bool)
            lo, hi = np.searchsorted(positions, [offset, offset + batch.num_rows])
            keep[positions[lo:hi] - offset] = False
            out.write_table(pa.Table.from_batches([batch.filter(pa.array(keep))], schema=pf.schema_arrow))
            offset += batch.num_rows
    del pf
    os.replace(tmp, file)


def _coerced(tbl, fetched: "_Fetched", table: Table, *, tz: str, ident: list[str]):
    """A fetched Arrow table (or batch) as (frame, each row's unknown-order flag or None, issues,
    the columns with values only pandas could parse): the values DuckDB left in ``_raw`` go to the
    lenient parsers, then the contract's checks (:func:`~playbook.validation.coerce_fetched`)."""
    cast = fetched.cast
    raw = tbl.column("_raw")
    slow = {}
    if raw.null_count < len(raw):
        positions = np.flatnonzero(pc.is_valid(raw).to_numpy(zero_copy_only=False))
        slow = cast.slow_rows(raw.take(pa.array(positions)).to_pylist(), positions)
    orphan = tbl.column("_orphan").to_numpy(zero_copy_only=False) if fetched.orphan else None
    frame = tbl.drop_columns([c for c in ("_raw", "_orphan") if c in tbl.column_names]).to_pandas(split_blocks=True)
    del tbl, raw
    frame, issues = coerce_fetched(frame, table, slow, tz=tz, ident=ident, missing=cast.missing)
    return frame, orphan, issues, set(slow)


def _empty_table_issue(table: Table, start, end) -> Issue:
    """The issue of a table without rows (in the window when there is one): an error for a
    required table, else a warning that its sections are skipped."""
    if table.required:
        return Issue("error", table.name, None, 0, "the table is empty" + (
            f" in the window {start:%Y-%m-%d} to {end - pd.Timedelta(days=1):%Y-%m-%d}" if start is not None else ""),
            "Export the orders of the period you want to analyse")
    return Issue("warning", table.name, None, 0, "the table is empty" + (" in the report window" if start is not None else "")
                 + "; the sections that need it are skipped")


def _has_repeated_keys(frame: pd.DataFrame, table: Table, con) -> bool:
    """True when some key of ``table`` appears on more than one row (then duplicates are checked
    row by row in pandas); one GROUP BY in DuckDB over the key columns, handed over as Arrow."""
    key = [k for k in table.key if k in frame.columns]
    if not key or frame.empty:
        return False
    keys = pa.table({k: _arrow(frame[k]) for k in key})
    con.register("_keys", keys)
    try:
        cols = ", ".join(sql_ident(k) for k in key)
        n = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM _keys GROUP BY {cols} HAVING count(*) > 1)").fetchall()[0][0]
    finally:
        con.unregister("_keys")
    return bool(n)


def _check_links(columns: Mapping[str, list[str]], read, quality: DataQuality,
                 files: Mapping[str, Path] | None = None) -> None:
    """Links to dimension tables (products, suppliers, customers): warn, keep the rows.
    ``columns`` maps each loaded table to its columns, ``read(table, columns)`` reads some of them;
    a table whose file (``files``) has more than :data:`BATCH_ROWS` rows is read in batches and
    looked up by hash (:class:`_KeyLookup`, over the distinct target values, read by DuckDB)."""
    con = None
    try:
        for name, cols in columns.items():
            table = TABLES[name]
            for link in table.links:
                if link.table == "orders" or link.table not in columns or link.column not in cols:
                    continue
                ident = _ident(table)
                wanted = [link.column] + [c for c in ident if c in cols and c != link.column]
                target_name = f"{link.table}.{link.target} values"
                if files and name in files and link.table in files and BATCH_ROWS is not None and _file_rows(files[name]) > BATCH_ROWS:
                    if con is None:
                        con = duckdb.connect()
                        con.execute(f"SET memory_limit = '{BATCH_DUCKDB_MEMORY}'").fetchall()
                        con.execute("SET arrow_large_buffer_size = true").fetchall()
                    quality.extend(_check_link_batched(con, files[name], files[link.table], table, link, wanted,
                                                       target_name, ident))
                    continue
                frame = read(name, wanted)
                quality.extend(check_link(frame, table, link.column, read(link.table, [link.target])[link.target],
                                          target_name, ident=ident))
    finally:
        if con is not None:
            con.close()


def _file_rows(file: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(file).metadata.num_rows


def _check_link_batched(con, file: Path, target_file: Path, table: Table, link, columns: list[str],
                        target_name: str, ident: list[str]) -> list[Issue]:
    """:func:`~playbook.validation.check_link` over a large written table, batch by batch."""
    import pyarrow.parquet as pq

    target = sql_ident(link.target)
    keys = con.sql(f"SELECT DISTINCT {target} AS k FROM read_parquet('{_q(str(target_file))}') "
                   f"WHERE {target} IS NOT NULL").to_arrow_table().column("k")
    if not (pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type)):
        frame = pd.read_parquet(file, columns=columns)  # not text: the plain check
        return check_link(frame, table, link.column, pd.read_parquet(target_file, columns=[link.target])[link.target],
                          target_name, ident=ident)
    lookup = _KeyLookup(con, keys)
    del keys
    pf = pq.ParquetFile(file)
    parts = []
    for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=columns):
        frame = pa.Table.from_batches([batch]).to_pandas()
        found = lookup.found(con, batch.column(link.column))
        parts.append(check_link(frame, table, link.column, None, target_name, ident=ident, found=found))
        del frame, batch
    return merge_issues(parts)


def _check_orders(orders: pd.DataFrame, month: str | None) -> list[Issue]:
    """Consistency inside orders that the type checks cannot see, and whether the report month has
    orders (these are reported only when no blocking problem was found)."""
    return _order_row_checks(orders) + _month_issue(month, _has_month_orders(orders, month))


def _order_row_checks(orders: pd.DataFrame) -> list[Issue]:
    """The checks of :func:`_check_orders` that look at one order at a time (ranked, so that the
    issues of batches merge in this order)."""
    issues = []
    if "refund_amount" in orders.columns:
        over = orders["refund_amount"] > orders["paid_amount"] + 0.005
        if over.any():
            issues.append(Issue("warning", "orders", "refund_amount", int(over.sum()),
                                "refund larger than what the buyer paid; net sales count these orders as zero",
                                "Check the export's refund column",
                                [f"order_id={o}" for o in orders.loc[over, "order_id"].head(5)], rank=(0,)))
    if "paid_ts" in orders.columns:
        unpaid = (orders["status"] == "paid") & orders["paid_ts"].isna()
        if unpaid.any():
            issues.append(Issue("info", "orders", "paid_ts", int(unpaid.sum()),
                                "status paid without a payment time; payment-time figures leave them out", rank=(1,)))
    return issues


def _has_month_orders(orders: pd.DataFrame, month: str | None) -> bool:
    return month is None or bool((orders["order_ts"] >= pd.Timestamp(month + "-01")).any())


def _month_issue(month: str | None, has_orders: bool) -> list[Issue]:
    if month is None or has_orders:
        return []
    return [Issue("error", "orders", "order_ts", 0, f"no orders in the report month {month}",
                  "Choose a month that the data covers (see `playbook validate`)")]


def _error_message(src: Source, quality: DataQuality) -> str:
    errors = quality.errors
    head = f"The data in {src.path} cannot be used yet: {len(errors)} problem{'s' if len(errors) > 1 else ''} to fix."
    return "\n".join([head] + [f"  - {i}" for i in errors])


PREPARED_MARKER = "prepared.json"


def prepare(data: Dataset, folder: str | Path, *, drop_columns=None) -> Path:
    """Write a loaded, validated dataset and its derived tables into ``folder`` as Parquet, with a
    ``prepared.json`` that lets :func:`load` read it back without checking it again.

    ``drop_columns(table, columns)`` names columns to leave out (the report leaves out personal
    data). A table (or derived table) of a prepared folder that is not in memory is copied as a
    file, or row group by row group when columns are left out: preparing from a prepared folder
    reads no table whole (a large shop's touchpoints are a hundred million rows).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in data:
        file = data.table_file(name)
        if file is not None:
            import pyarrow.parquet as pq

            _copy_parquet(file, folder / f"{name}.parquet", _dropped(name, pq.read_schema(file).names, drop_columns))
        else:
            frame = data[name]
            frame.drop(columns=_dropped(name, frame.columns, drop_columns)).to_parquet(
                folder / f"{name}.parquet", index=False)
    rejected = {name: frame.drop(columns=_dropped(name, frame.columns, drop_columns))
                for name, frame in data.rejected.items()}
    _write_prepared(data, folder, rejected)
    return folder


def prepare_source(source: str | Path, folder: str | Path, *, month: str | None = None,
                   settings: Settings | str | Path | None = None, history_months: int | None = None,
                   drop_columns=None) -> Dataset:
    """Load and validate ``source`` as :func:`load` does, writing each table into the prepared
    folder ``folder`` as soon as it is checked, then the derived tables (computed by DuckDB from
    the written files); returns the prepared :class:`Dataset`, whose tables are read on first use.

    Same checks, messages and :class:`~playbook.errors.DataError` as :func:`load`, but only one
    table is in memory at a time, and of a table with more than :data:`BATCH_ROWS` rows only a
    batch: it is streamed from DuckDB, checked and appended to its Parquet file batch by batch
    (:class:`_BatchedTable`; the same file, rows set aside and issues as the whole table gives).
    The report runner prepares a hundred-million-line shop this way.
    ``drop_columns(table, columns)`` names columns to leave out (personal data, for the report).
    """
    settings = settings if isinstance(settings, Settings) else load_settings(settings)
    final = Path(folder).resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-building-", dir=final.parent))
    try:
        if _is_prepared(source):
            prepare(load(source, month=month, settings=settings), staging, drop_columns=drop_columns)
        else:
            _prepare_streamed(source, staging, month=month, settings=settings, history_months=history_months,
                              drop_columns=drop_columns)
        replace_folder(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _load_prepared(final, month, settings)


def _prepare_streamed(source, folder: Path, *, month, settings, history_months, drop_columns) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from .derived import DERIVED, INPUTS

    job = _Loading(source, month=month, settings=settings, history_months=history_months)
    columns, rejected, started = {}, {}, {}
    later = False  #: derived tables computed after the tables (a large source)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="playbook-derive") as derive:
        for name, frame, set_aside in job.tables(folder, drop_columns):
            if isinstance(frame, Path):  # a large table, written in batches
                columns[name] = file_columns(frame)
            elif frame is not None:
                frame = frame.drop(columns=_dropped(name, frame.columns, drop_columns))
                frame.to_parquet(folder / f"{name}.parquet", index=False)
                columns[name] = list(frame.columns)
            if set_aside is not None:
                rejected[name] = set_aside.drop(columns=_dropped(name, set_aside.columns, drop_columns))
            del frame, set_aside
            if name == "orders" and name in columns and DERIVE_AFTER_ROWS is not None:
                later = _file_rows(folder / "orders.parquet") > DERIVE_AFTER_ROWS
            # a derived table whose inputs are all written is computed (DuckDB, over the files)
            # while the later tables are read
            for d in DERIVED:
                if not later and d not in started and all(t in columns for t in INPUTS[d] if t in job.wanted):
                    started[d] = derive.submit(_derive, d, _Written(folder, columns))
        job.check_across(columns, lambda name, cols: pd.read_parquet(folder / f"{name}.parquet", columns=cols),
                         {name: folder / f"{name}.parquet" for name in columns})
        derived = {}
        for d, future in started.items():
            try:
                derived[d] = future.result()
            except KeyError:  # inputs absent: computed (and skipped) as before, below
                pass
    if later and not job.quality.errors:
        for d in DERIVED:
            file = _derive_to_file(d, _Written(folder, columns), folder)
            if file is not None:
                derived[d] = file
    data = job.dataset({name: folder / f"{name}.parquet" for name in columns}, rejected, derived)
    _write_prepared(data, folder, rejected)


class _Written:
    """The tables of a prepared folder written so far, as :func:`playbook.derived.compute` reads
    a Dataset: by their files."""

    def __init__(self, folder: Path, columns: Mapping[str, list[str]]):
        self.files = {name: folder / f"{name}.parquet" for name in columns}

    def __contains__(self, name) -> bool:
        return name in self.files

    def table_file(self, name: str) -> Path | None:
        return self.files.get(name)


def _derive(name: str, written: _Written) -> pd.DataFrame:
    from . import derived

    return derived.compute(name, written)


def _derive_to_file(name: str, written: _Written, folder: Path) -> Path | None:
    """Derived table ``name`` as :func:`playbook.derived.compute` gives it (the same definition,
    over the written files), computed by a DuckDB limited to :data:`BATCH_DUCKDB_MEMORY` (it
    spills beyond) and written into ``folder`` at once; None when its inputs are absent."""
    from . import derived

    try:
        columns = derived.input_columns(name, written)
        text, kinds = derived.definition(name, columns)
    except KeyError:
        return None
    tmp = tempfile.mkdtemp(prefix="playbook-derive-")
    con = duckdb.connect(config={"memory_limit": BATCH_DUCKDB_MEMORY, "temp_directory": tmp})
    try:
        con.execute("SET enable_progress_bar = false")
        for table, cols in columns.items():
            row = f", file_row_number AS {derived.ROW}" if table == "orders" else ""
            con.execute(f"CREATE VIEW {table} AS SELECT {', '.join(cols)}{row} "
                        f"FROM read_parquet('{_q(str(written.files[table]))}', file_row_number = true)")
        result = con.sql(text).to_arrow_table()
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
    frame = derived.finish(result, kinds)
    del result
    file = folder / f"_derived_{name}.parquet"
    frame.to_parquet(file, index=False)
    del frame
    pa.default_memory_pool().release_unused()
    return file


def replace_folder(staging: Path, final: Path) -> None:
    """Put the complete folder ``staging`` in the place of ``final`` in two renames; an older
    ``final`` is removed only afterwards, so a failure never leaves a half-written folder."""
    if final.exists():
        old = final.with_name(f".{final.name}-old-{os.getpid()}")
        final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(final)


def _copy_parquet(source: Path, target: Path, drop: list[str]) -> None:
    """Parquet file ``source`` written to ``target`` without columns ``drop``: the file itself when
    none is dropped, else one row group at a time."""
    import pyarrow.parquet as pq

    if not drop:
        shutil.copyfile(source, target)
        return
    pf = pq.ParquetFile(source)
    keep = [c for c in pf.schema_arrow.names if c not in drop]
    schema = pa.schema([pf.schema_arrow.field(c) for c in keep], metadata=pf.schema_arrow.metadata)
    with pq.ParquetWriter(target, schema) as writer:
        for g in range(pf.num_row_groups):
            writer.write_table(pf.read_row_group(g, columns=keep).cast(schema))


def _dropped(table: str, columns, drop_columns) -> list[str]:
    return list(drop_columns(table, list(columns))) if drop_columns else []


def _write_prepared(data: Dataset, folder: Path, rejected: Mapping[str, pd.DataFrame]) -> None:
    """The derived tables, the rows set aside and ``prepared.json`` of a prepared folder whose
    tables are written."""
    from .derived import DERIVED

    derived_names = []
    for name in DERIVED:
        cached = data._derived.get(name)
        if isinstance(cached, Path) and cached == folder / f"_derived_{name}.parquet":  # written already
            derived_names.append(name)
            continue
        if isinstance(cached, Path):  # another prepared folder's: copied as it is
            _copy_parquet(cached, folder / f"_derived_{name}.parquet", [])
            derived_names.append(name)
            continue
        try:
            frame = data.derived(name)
        except KeyError:  # a derived table whose inputs are absent (e.g. no order_items)
            continue
        frame.to_parquet(folder / f"_derived_{name}.parquet", index=False)
        derived_names.append(name)
    for name, frame in rejected.items():
        frame.to_parquet(folder / f"_rejected_{name}.parquet", index=False)
    meta = {
        "month": data.month, "start": None if data.start is None else data.start.isoformat(),
        "end": None if data.end is None else data.end.isoformat(), "source": str(data.source.path),
        "source_kind": data.source.kind, "fingerprint": data.fingerprint, "tables": list(data),
        "derived": derived_names, "rejected": list(rejected),
        "quality": [i.as_dict() | {"examples": i.examples} for i in data.quality],
    }
    (folder / PREPARED_MARKER).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")


def _load_prepared(folder: Path, month: str | None, settings: Settings) -> Dataset:
    meta = json.loads((folder / PREPARED_MARKER).read_text(encoding="utf-8"))
    if month is not None and month != meta["month"]:
        raise DataError(f"{folder} was prepared for {meta['month']}, not {month}. "
                        "Load the original source for another month.")
    tables = {name: folder / f"{name}.parquet" for name in meta["tables"]}  # read on first use
    rejected = {name: pd.read_parquet(folder / f"_rejected_{name}.parquet") for name in meta["rejected"]}
    quality = DataQuality(Issue(q["severity"], q["table"], q["column"] or None, q["rows"], q["problem"],
                                q["action"], q["examples"]) for q in meta["quality"])
    source = Source(Path(meta["source"]), meta["source_kind"])
    ts = (lambda v: None if v is None else pd.Timestamp(v))
    return Dataset(tables, quality=quality, rejected=rejected, month=meta["month"], start=ts(meta["start"]),
                   end=ts(meta["end"]), source=source, settings=settings, fingerprint=meta["fingerprint"],
                   derived={n: folder / f"_derived_{n}.parquet" for n in meta["derived"]})


def latest_full_month(source: str | Path) -> str:
    """The last calendar month that the source's orders cover to its final day, ``YYYY-MM``."""
    src = open_source(source)
    if "orders" not in src.tables:
        raise DataError(f"The source {src.path} has no orders table.")
    reader = _Reader(src, DataQuality())
    try:
        last = reader.order_range()[1]
    finally:
        reader.close()
    if last is None:
        raise DataError(f"The orders of {src.path} have no readable order_ts.")
    return last_full_month_by(last)


def last_full_month_by(last) -> str:
    """``YYYY-MM`` of the last calendar month covered to its final day by data ending on ``last``:
    its own month when ``last`` is a month's last day, else the month before."""
    last = pd.Timestamp(last)
    if (last + pd.Timedelta(days=1)).month != last.month:
        return f"{last:%Y-%m}"
    return f"{last.replace(day=1) - pd.Timedelta(days=1):%Y-%m}"
