"""Validation against the data contract: types, required values, ranges, enums, keys and links.

Every problem becomes an :class:`Issue` that names the table, the column, how many rows, a few
example rows (by their key, so a user can find them in the export) and what to do. Each kind of
problem is either blocking (``error``: the run stops with :class:`~playbook.errors.DataError`) or
repaired with a visible ``warning`` that the report's data-quality section shows:

=====================================================  ==========  =================================
problem                                                severity    what happens
=====================================================  ==========  =================================
required table or column missing, table empty          error       stop
required value empty or not parseable                  error       stop
optional value not parseable                           warning     value set empty, rows kept
money written as text ("¥1,234.00")                    warning     parsed as a number
negative money or quantity, value out of range         error       stop
unknown status or other enum value                     error       stop
duplicate key with different contents                  error       stop
exact duplicate rows                                   warning     one copy kept, count reported
lines pointing at unknown orders                       warning     set aside in ``rejected``
lines pointing at unknown SKUs, suppliers, customers   warning     kept
optional table empty                                   warning     treated as absent
=====================================================  ==========  =================================

Nothing is dropped without an issue saying so.

A table is read in two steps. :func:`sql_fast_cast` writes the DuckDB expressions the loader runs
inside its scan: every contract column that is plainly written (or natively typed) is cast there
with ``TRY_CAST`` and friends, and a value that does not cast keeps its text for the second step.
:func:`coerce_fetched` then finishes the frame DuckDB hands over: it trims text, gives the set-aside
values to the lenient ``parse_*`` parsers (offsets, '2020/2/21 0:00', '¥1,234.00', '是' ...) and
runs the checks above, each becoming one :class:`Issue` with its rows and examples.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .contract import Column, Table

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
MAX_EXAMPLES = 5


@dataclass
class Issue:
    """One data-quality finding."""

    severity: str  #: error, warning or info
    table: str
    column: str | None
    rows: int  #: how many rows are affected
    problem: str  #: what is wrong
    action: str = ""  #: what to do about it
    examples: list = field(default_factory=list)  #: a few affected rows, by key, with their values
    #: where the issue stands among the issues of its table (column position, kind of check): the
    #: order in which the checks of a whole table report it, kept when the issues of its batches merge
    rank: tuple = field(default=(), compare=False, repr=False)
    #: for "unknown values": each value as written -> its rows, in order of first appearance (the
    #: problem text is made from it, and batches of one table add their tallies up)
    tally: dict | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        rows = f" ({self.rows:,} row{'s' if self.rows != 1 else ''})" if self.rows else ""
        text = f"[{self.severity}] {where}{rows}: {self.problem}"
        if self.examples:
            text += " e.g. " + "; ".join(map(str, self.examples))
        if self.action:
            text += f". {self.action}"
        return text

    def as_dict(self) -> dict:
        return {"severity": self.severity, "table": self.table, "column": self.column or "",
                "rows": self.rows, "problem": self.problem, "action": self.action,
                "examples": "; ".join(map(str, self.examples))}


class DataQuality(list):
    """The list of issues found while loading a source, with summaries for people."""

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self if i.severity == "warning"]

    def to_frame(self) -> pd.DataFrame:
        """One row per issue, most severe first."""
        cols = ["severity", "table", "column", "rows", "problem", "action", "examples"]
        if not self:
            return pd.DataFrame(columns=cols)
        frame = pd.DataFrame([i.as_dict() for i in self], columns=cols)
        order = frame["severity"].map(SEVERITY_ORDER)
        return frame.assign(_o=order).sort_values(["_o", "table"], kind="stable").drop(columns="_o").reset_index(drop=True)

    def summary(self) -> str:
        if not self:
            return "Data quality: no issues found."
        n_e, n_w = len(self.errors), len(self.warnings)
        lines = [f"Data quality: {n_e} error(s), {n_w} warning(s), {len(self) - n_e - n_w} note(s)."]
        lines += [f"  {i}" for i in sorted(self, key=lambda i: SEVERITY_ORDER[i.severity])]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        if not self:
            return "<p>Data quality: no issues found.</p>"
        return self.to_frame().to_html(index=False)


def merge_issues(parts: Iterable[Iterable[Issue]]) -> list[Issue]:
    """The issues of a table checked in batches (``parts``: each batch's issues, in row order), as
    the checks of the whole table would give them: one issue per check (table, column and
    :attr:`Issue.rank`, else its problem text), with the rows summed, the first :data:`MAX_EXAMPLES`
    examples in row order and an "unknown values" text recounted from the summed tallies; ordered
    by rank (the column order of the checks), issues without a rank after, in order of appearance."""
    merged: dict[tuple, Issue] = {}
    for issues in parts:
        for i in issues:
            key = (i.table, i.column, i.rank) if i.rank else (i.severity, i.table, i.column, i.problem)
            got = merged.get(key)
            if got is None:
                merged[key] = Issue(i.severity, i.table, i.column, i.rows, i.problem, i.action,
                                    list(i.examples)[:MAX_EXAMPLES], i.rank,
                                    None if i.tally is None else dict(i.tally))
                continue
            got.rows += i.rows
            got.examples = (got.examples + list(i.examples))[:MAX_EXAMPLES]
            if i.tally is not None:
                for value, n in i.tally.items():
                    got.tally[value] = got.tally.get(value, 0) + n
                got.problem = unknown_values_text(got.tally)
    order = list(merged.values())
    ranked = sorted((i for i in order if i.rank), key=lambda i: i.rank)
    return ranked + [i for i in order if not i.rank]


def unknown_values_text(tally: dict) -> str:
    """The problem text of unknown enum values from their tally (value -> rows, in order of first
    appearance): the :data:`MAX_EXAMPLES` most frequent, ties in order of appearance, as
    ``Series.value_counts`` orders them."""
    counts = pd.Series(list(tally.values()), index=pd.Index(list(tally.keys()), dtype=object), dtype="int64")
    counts = counts.sort_values(ascending=False, kind="stable").head(MAX_EXAMPLES)
    return "unknown values " + ", ".join(f"{v!r} ({k} rows)" for v, k in counts.items())


# ---------------------------------------------------------------------------------------------
# Coercion of one column to its contract type
# ---------------------------------------------------------------------------------------------

_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_TS_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y.%m.%d %H:%M:%S", "%Y.%m.%d",
               "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日", "%Y%m%d", "%Y%m%d%H%M%S")
_MONEY_JUNK = re.compile(r"[¥￥,，\s]|RMB|CNY|元")
_TRUE = {"true", "t", "1", "yes", "y", "是", "1.0"}
_FALSE = {"false", "f", "0", "no", "n", "否", "0.0"}


def _examples(frame: pd.DataFrame, mask, ident: list[str], column: str | None) -> list[str]:
    rows = frame.loc[mask].head(MAX_EXAMPLES)
    out = []
    for _, row in rows.iterrows():  # at most MAX_EXAMPLES rows
        who = ", ".join(f"{c}={row[c]}" for c in ident if c in row.index and c != column)
        value = row[column] if column and column in row.index else None
        out.append(f"{who} ({column}={value!r})" if column else who)
    return out


def parse_timestamps(raw: pd.Series, tz: str) -> pd.Series:
    """Shop-local naive timestamps from text or datetimes; unparseable values become NaT.

    ISO 8601 is tried first, then common export formats (``2020/2/21 0:00``, ``2026年10月1日``).
    Values with an offset (``+08:00``, ``Z``) are converted to the shop's zone ``tz``.
    """
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_convert(tz).dt.tz_localize(None).astype("datetime64[us]")
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return raw.astype("datetime64[us]")
    text = raw.astype("str").str.strip().where(raw.notna())
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    offset = text.str.contains(_OFFSET, na=False)
    if offset.any():
        aware = pd.to_datetime(text[offset], format="ISO8601", utc=True, errors="coerce")
        out[offset] = aware.dt.tz_convert(tz).dt.tz_localize(None).astype("datetime64[us]")
    rest = text.notna() & ~offset
    if rest.any():
        out[rest] = pd.to_datetime(text[rest], format="ISO8601", errors="coerce").astype("datetime64[us]")
        for fmt in _TS_FORMATS:
            todo = rest & out.isna()
            if not todo.any():
                break
            out[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce").astype("datetime64[us]")
    return out


def parse_money(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(numbers, repaired mask): money as float rounded to cents; '¥1,234.00' text is repaired."""
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("float64").round(2), pd.Series(False, index=raw.index)
    text = raw.astype("str").str.strip().where(raw.notna())
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    repaired = pd.Series(False, index=raw.index)
    todo = numbers.isna() & text.notna()
    if todo.any():  # only text that is not already a plain number gets the slower cleaning
        cleaned = text[todo].str.replace(_MONEY_JUNK, "", regex=True)
        numbers[todo] = pd.to_numeric(cleaned, errors="coerce").astype("float64")
        repaired[todo] = (cleaned != text[todo]) & numbers[todo].notna()
    return numbers.round(2), repaired


def parse_bool(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean")
    text = raw.astype("str").str.strip().str.lower().where(raw.notna())
    out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    out[text.isin(_TRUE)] = True
    out[text.isin(_FALSE)] = False
    return out


def parse_month(raw: pd.Series) -> pd.Series:
    text = raw.astype("str").str.strip().where(raw.notna())
    dt = pd.to_datetime(text.str.replace("/", "-", regex=False).str.slice(0, 7) + "-01",
                        format="%Y-%m-%d", errors="coerce")
    return dt.dt.strftime("%Y-%m").where(dt.notna()).astype("str")


def check_duplicates(frame: pd.DataFrame, table: Table) -> tuple[pd.DataFrame, list[Issue]]:
    """Exact duplicate rows are collapsed with a warning; a key repeated with other contents is an error."""
    issues: list[Issue] = []
    key = [k for k in table.key if k in frame.columns]
    if not key or frame.empty:
        return frame, issues
    exact = frame.duplicated(keep="first")
    if exact.any():
        issues.append(Issue("warning", table.name, None, int(exact.sum()),
                            "exact duplicate rows (every column equal); one copy of each kept",
                            "Usually an export run twice; nothing to do unless the counts look wrong",
                            _examples(frame, exact, key, None)))
        frame = frame.loc[~exact]
    dup = frame.duplicated(subset=key, keep=False)
    if dup.any():
        issues.append(Issue("error", table.name, ", ".join(key), int(dup.sum()),
                            f"the key ({', '.join(key)}) is not unique: the same key with different contents",
                            "Each key must appear once; remove or merge the conflicting rows",
                            _examples(frame, dup, key, None)))
    return frame, issues


def check_link(frame: pd.DataFrame, table: Table, column: str, target: pd.Series | None, target_name: str,
               *, ident: list[str], found=None) -> list[Issue]:
    """A warning when some ``column`` values are not in ``target`` (the rows are kept). ``found``,
    when given, says for each row whether its value is in the target (looked up by the caller)."""
    if column not in frame.columns:
        return []
    values = frame[column]
    if found is not None:
        orphan = pd.Series(values.notna().to_numpy() & ~np.asarray(found, dtype=bool), index=frame.index)
    elif values.dtype == "str" and target.dtype == "str":  # Arrow hash lookup (pandas' isin loops in Python)
        import pyarrow.compute as pc

        found = pc.is_in(_arrow(values), value_set=pc.unique(_arrow(target))).to_numpy(zero_copy_only=False)
        orphan = pd.Series(values.notna().to_numpy() & ~found, index=frame.index)
    else:
        orphan = values.notna() & ~values.isin(target)
    if not orphan.any():
        return []
    return [Issue("warning", table.name, column, int(orphan.sum()),
                  f"points at {target_name} that do not exist; rows kept, but they cannot be joined",
                  f"Export {target_name.split('.')[0]} for the same period, or remove these rows",
                  _examples(frame, orphan, ident, column))]


# ---------------------------------------------------------------------------------------------
# The loader's fast path: DuckDB casts, pandas checks, pandas parses only what DuckDB could not
# ---------------------------------------------------------------------------------------------

#: the characters Python's ``str.strip()`` (and pandas' ``.str.strip()``) removes
_WS = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
_NATIVE_NUMBER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL")
#: separators inside the ``_raw`` column: entries by chr(31), column number and text by chr(30)
_SEP_ENTRY, _SEP_VALUE = "\x1f", "\x1e"


def sql_ident(name: str) -> str:
    """A DuckDB identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def sql_text(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _sql_blank(code: str) -> str:
    """SQL: the code point ``code`` is a blank of :data:`_WS`. Written as comparisons: DuckDB turns
    an ``IN`` list of several constants into a hash join, which does not keep the rows in order."""
    wide = sorted(ord(c) for c in _WS if ord(c) > 32)
    runs: list[list[int]] = []
    for c in wide:
        if runs and c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    parts = [f"{code} = {a}" if a == b else f"({code} >= {a} AND {code} <= {b})" for a, b in runs]
    return f"({code} <= 32 OR ({code} >= {wide[0]} AND ({' OR '.join(parts)})))"


def sql_trimmed(x: str) -> str:
    """DuckDB text without surrounding whitespace (Unicode blanks included), NULL when empty. The
    full trim is slow in DuckDB, so it only runs on values that start or end with a blank."""
    blank = " OR ".join(_sql_blank(f"ascii({e})") for e in (x, f"{x}[-1]"))
    return f"(CASE WHEN {blank} THEN nullif(trim({x}, {sql_text(_WS)}), '') ELSE {x} END)"


@dataclass
class FastCast:
    """How DuckDB reads one table (see :func:`sql_fast_cast`): ``select`` lists the expression of
    every column, in source order; ``slow`` the SQL condition under which a contract column's value
    is left to pandas (it is then written into ``_raw``); ``missing`` the absent contract columns."""

    table: Table
    select: dict[str, str]
    slow: dict[str, tuple[str, str]]  #: column -> (condition, raw text expression)
    missing: list[Column]

    def sql(self, extra: Iterable[str] = ()) -> str:
        """The SELECT list: the columns, ``extra`` expressions, and ``_raw`` (NULL on most rows):
        ``<i>\x1e<text>`` for each contract column ``i`` whose text DuckDB did not cast."""
        out = [f"{expr} AS {sql_ident(name)}" for name, expr in self.select.items()]
        out += list(extra)
        names = list(self.select)
        parts = [f"CASE WHEN {cond} THEN '{names.index(name)}{_SEP_VALUE}' || {raw} END"
                 for name, (cond, raw) in self.slow.items()]
        # the text is built only on the rare rows where some value did not cast
        anyslow = " OR ".join(cond for cond, _ in self.slow.values())
        out.append(f"CASE WHEN {anyslow} THEN nullif(concat_ws(chr(31), {', '.join(parts)}), '') END AS _raw"
                   if parts else "NULL::VARCHAR AS _raw")
        return ", ".join(out)

    def slow_rows(self, raw: list, positions) -> dict[str, tuple[np.ndarray, list]]:
        """Decode the ``_raw`` texts of the rows at ``positions``: column -> (positions, texts)."""
        names = list(self.select)
        out: dict[str, tuple[list, list]] = {}
        for pos, text in zip(positions, raw):
            for entry in text.split(_SEP_ENTRY):
                i, _, value = entry.partition(_SEP_VALUE)
                got = out.setdefault(names[int(i)], ([], []))
                got[0].append(pos)
                got[1].append(value)
        return {k: (np.asarray(p, dtype=np.int64), v) for k, (p, v) in out.items()}


def _is_type(sql_type: str, prefixes) -> bool:
    return sql_type.upper().startswith(prefixes)


def sql_fast_cast(table: Table, source_types: dict[str, str], *, tz: str) -> FastCast:
    """The DuckDB expressions that read ``table`` from a source whose columns have ``source_types``
    (name -> DuckDB type; all ``VARCHAR`` for a CSV file).

    DuckDB casts what is plainly written: ``YYYY-MM-DD[ HH:MM:SS]`` timestamps, plain numbers,
    true/false, and native types of Parquet or database sources (zoned timestamps converted to
    ``tz``). Text columns pass through. A value that does not cast this way is left empty and its
    text goes to the ``_raw`` column, where :func:`coerce_fetched` gives it to the lenient pandas
    parsers (offsets, '2020/2/21 0:00', '¥1,234.00', '是' ...).
    """
    select: dict[str, str] = {}
    slow: dict[str, tuple[str, str]] = {}
    for name, sql_type in source_types.items():
        q = sql_ident(name)
        select[name] = q
        if name not in table.names:
            continue
        col = table.column(name)
        sql_type = sql_type.upper()
        text = f"CAST({q} AS VARCHAR)"
        number = _is_type(sql_type, _NATIVE_NUMBER)
        floating = _is_type(sql_type, ("FLOAT", "DOUBLE", "REAL"))
        if col.type in ("str", "month"):
            if col.type == "str" and floating:  # a numeric id read as float: whole numbers without ".0"
                select[name] = (f"(CASE WHEN isnan({q}) THEN NULL WHEN isfinite({q}) AND {q} = trunc({q}) "
                                f"AND abs({q}) < 1e18 THEN CAST(CAST({q} AS BIGINT) AS VARCHAR) ELSE {text} END)")
            elif sql_type != "VARCHAR":
                select[name] = text
            continue
        if col.type in ("timestamp", "date"):
            if _is_type(sql_type, ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")):
                value = f"timezone({sql_text(tz)}, {q})"
            elif _is_type(sql_type, ("TIMESTAMP", "DATE")):
                value = f"CAST({q} AS TIMESTAMP)"
            else:
                value = f"try_strptime({text}, ['%Y-%m-%d %H:%M:%S', '%Y-%m-%d'])"
            if col.type == "date":
                value = f"date_trunc('day', {value})"
        elif col.type in ("money", "int", "number"):
            value = f"CAST({q} AS DOUBLE)" if number else f"TRY_CAST({text} AS DOUBLE)"
            value = f"(CASE WHEN isnan({value}) THEN NULL ELSE {value} END)"
        else:  # bool
            value = q if sql_type == "BOOLEAN" else (
                f"(CASE lower({text}) WHEN 'true' THEN true WHEN 'false' THEN false WHEN '1' THEN true "
                f"WHEN '0' THEN false END)")
        select[name] = value
        slow[name] = (f"({q} IS NOT NULL AND {value} IS NULL)", text)
    missing = [c for c in table.columns if c.name not in source_types]
    return FastCast(table, select, slow, missing)


def _arrow(series: pd.Series):
    """The Arrow data behind an Arrow-backed pandas column (no copy)."""
    import pyarrow as pa

    arr = series.array
    return arr.__arrow_array__() if hasattr(arr, "__arrow_array__") else pa.array(series)


def _examples_at(out: pd.DataFrame, positions, ident: list[str], column: str | None, shown=None) -> list[str]:
    """Examples for the rows at ``positions``: their key values, and ``column=value`` where
    ``shown`` gives the value to print for each position (the text as written, or a number)."""
    rows = out.iloc[np.asarray(positions)[:MAX_EXAMPLES]]
    keys = [c for c in ident if c in out.columns and c != column]
    lines = []
    for k, (_, row) in enumerate(rows[keys].iterrows()):
        who = ", ".join(f"{c}={_plain(row[c])}" for c in keys)
        lines.append(f"{who} ({column}={shown[k]!r})" if column else who)
    return lines


def _plain(value) -> str:
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.strftime("%Y-%m-%d")
    return str(value)


def _same_lengths(a: pd.Series, b: pd.Series) -> bool:
    """Whether two text columns have the same length on every row (trimming changed nothing)."""
    import pyarrow.compute as pc

    if a.dtype == "str" and b.dtype == "str":  # byte lengths: trimming changes them iff it removed something
        la, lb = pc.binary_length(_arrow(a)), pc.binary_length(_arrow(b))
        return bool(pc.all(pc.equal(la, lb)).as_py() is not False)
    return bool((a.str.len() == b.str.len()).fillna(True).all())


def _number_text(value) -> str:
    v = float(value)
    return str(int(v)) if v.is_integer() else repr(v)


def coerce_fetched(frame: pd.DataFrame, table: Table, slow: dict[str, tuple[np.ndarray, list]], *, tz: str,
                   ident: list[str], missing: list[Column]) -> tuple[pd.DataFrame, list[Issue]]:
    """Finish the contract columns of a frame read by :func:`sql_fast_cast`; returns (frame, issues).

    ``frame`` holds typed values where DuckDB could cast them, the text of text columns as written,
    and ``slow`` the positions and texts of the values DuckDB left to pandas. Text is trimmed (empty
    text is missing), enums are matched case-insensitively, money is rounded to cents, ints become
    ``Int64``; the checks and the issues (with their wording, row counts and examples) are those of
    the SQL cast plan. ``frame`` is modified in place and returned.
    """
    issues: list[Issue] = []
    for at, col in enumerate(table.columns):
        if col in missing:
            if col.required:
                issues.append(Issue("error", table.name, col.name, 0,
                                    f"required column is missing (columns present: {', '.join(frame.columns)})",
                                    f"Add a column named {col.name!r} or rename the export's column to it",
                                    rank=(at, 0)))
            elif col.default is not None:
                frame[col.name] = col.default
                issues.append(Issue("info", table.name, col.name, 0,
                                    f"column absent: every row taken as {col.default!r}", rank=(at, 0)))
            continue
        for issue in _finish_column(frame, table, col, slow.get(col.name), tz=tz, ident=ident):
            issue.rank = (at, issue.rank[1])  # (column, kind of check): the order of the checks
            issues.append(issue)
    return frame, issues


def _finish_column(out: pd.DataFrame, table: Table, col: Column, slow, *, tz: str, ident: list[str]) -> list[Issue]:
    issues: list[Issue] = []
    name, tname = col.name, table.name
    values = out[name]
    n = len(values)
    raw_text = None  # the values as written, for examples (text columns)
    if slow is not None:
        pos, texts = slow
        slow_raw = pd.Series(texts, index=pos, dtype=object)
        slow_present = slow_raw.str.strip().ne("").to_numpy()
    else:
        pos, slow_raw, slow_present = np.empty(0, dtype=np.int64), None, np.empty(0, dtype=bool)
    shown_raw = dict(zip(pos.tolist(), slow_raw.tolist())) if slow_raw is not None else {}

    if col.type in ("str", "month"):
        raw_text = values
        text = values if values.dtype == "str" else values.astype("str")
        stripped = text.str.strip()
        present = (stripped.notna() & stripped.ne("")).to_numpy()
        if col.type == "month":
            parsed = parse_month(stripped.where(present))
        else:
            parsed = text if _same_lengths(stripped, text) else stripped
            if not present.all():
                parsed = parsed.where(present)
        hint = "Write months as YYYY-MM" if col.type == "month" else ""
    else:
        parsed = values.copy() if len(pos) else values
        present = parsed.notna().to_numpy().copy()
        repaired = np.zeros(n, dtype=bool)
        if col.type in ("timestamp", "date"):
            if len(pos):
                fixed = parse_timestamps(slow_raw, tz)
                if col.type == "date":
                    fixed = fixed.dt.normalize()
                parsed = parsed.astype("datetime64[us]")
                parsed.iloc[pos] = fixed.to_numpy()
            hint = "Write timestamps as YYYY-MM-DD HH:MM:SS" if col.type == "timestamp" else "Write dates as YYYY-MM-DD"
        elif col.type == "money":
            parsed = parsed.astype("float64").round(2)
            if len(pos):
                fixed, rep = parse_money(slow_raw)
                parsed.iloc[pos] = fixed.to_numpy()
                repaired[pos] = rep.to_numpy()
            if repaired.any():
                where = np.flatnonzero(repaired)
                issues.append(Issue("warning", tname, name, int(repaired.sum()),
                                    "money written as text with a currency sign or thousands separators; read as numbers",
                                    "No action needed; export plain numbers to silence this",
                                    _examples_at(out, where, ident, name, [shown_raw[p] for p in where[:MAX_EXAMPLES]]),
                                    rank=(0, 1)))
            hint = "Write money as a plain number such as 1234.50"
        elif col.type in ("int", "number"):
            parsed = parsed.astype("float64")
            if len(pos):
                parsed.iloc[pos] = pd.to_numeric(slow_raw.str.strip(), errors="coerce").astype("float64").to_numpy()
            hint = "Write a plain number"
            if col.type == "int":
                fractional = (parsed.notna() & (parsed != np.floor(parsed.fillna(0)))).to_numpy()
                if fractional.any():
                    where = np.flatnonzero(fractional)
                    issues.append(Issue("error", tname, name, int(fractional.sum()),
                                        "values are not whole numbers", "Counts and quantities must be integers",
                                        _examples_at(out, where, ident, name,
                                                     [shown_raw.get(p, _number_text(parsed.iat[p])) for p in where[:MAX_EXAMPLES]]),
                                        rank=(0, 2)))
        else:  # bool
            parsed = parsed.astype("boolean")
            if len(pos):
                parsed.iloc[pos] = parse_bool(slow_raw).to_numpy()
            hint = "Write true/false (or 1/0, yes/no, 是/否)"
        if len(pos):
            present[pos] = slow_present

    bad = present & parsed.isna().to_numpy()
    if bad.any():
        sev = "error" if col.required else "warning"
        what = f"values do not parse as {col.type}" + ("" if col.required else "; set empty, rows kept")
        where = np.flatnonzero(bad)
        shown = [shown_raw.get(p, raw_text.iat[p] if raw_text is not None else None) for p in where[:MAX_EXAMPLES]]
        issues.append(Issue(sev, tname, name, int(bad.sum()), what, hint, _examples_at(out, where, ident, name, shown),
                            rank=(0, 3)))

    if col.required and not present.all():
        where = np.flatnonzero(~present)
        issues.append(Issue("error", tname, name, int(len(where)), "required value is empty",
                            f"Fill {name} on every row, or remove the rows from the export",
                            _examples_at(out, where, ident, None), rank=(0, 4)))

    if col.enum is not None:
        if col.type == "str":
            allowed = [str(v) for v in col.enum]
            known = parsed.isin(allowed).to_numpy()
            other = np.flatnonzero(~known & parsed.notna().to_numpy())
            unknown = np.zeros(n, dtype=bool)
            if len(other):  # another case ('PAID'), or not an allowed value at all
                canon = {v.lower(): v for v in allowed}
                mapped = parsed.iloc[other].str.lower().map(canon)
                parsed = parsed.copy()
                parsed.iloc[other] = mapped.to_numpy()
                unknown[other[mapped.isna().to_numpy()]] = True
            shown_all = raw_text
        else:
            unknown = (parsed.notna() & ~parsed.isin(list(col.enum))).to_numpy()
            shown_all = None
        if unknown.any():
            where = np.flatnonzero(unknown)
            if shown_all is not None:
                counts = shown_all.iloc[where].str.strip().value_counts(sort=False)
                shown = [shown_all.iat[p] for p in where[:MAX_EXAMPLES]]
            else:
                counts = parsed.iloc[where].value_counts(sort=False)
                shown = [shown_raw.get(p, _number_text(parsed.iat[p])) for p in where[:MAX_EXAMPLES]]
            tally = dict(zip(counts.index.tolist(), counts.tolist()))  # in order of first appearance
            issues.append(Issue("error", tname, name, int(unknown.sum()), unknown_values_text(tally),
                                f"Allowed: {', '.join(map(str, col.enum))}. Map the export's values to these",
                                _examples_at(out, where, ident, name, shown), rank=(0, 5), tally=tally))

    if col.min is not None:
        too_small = (parsed.notna() & ((parsed <= col.min) if col.min_exclusive else (parsed < col.min))).to_numpy()
        if too_small.any():
            rule = f"> {col.min:g}" if col.min_exclusive else f">= {col.min:g}"
            where = np.flatnonzero(too_small)
            issues.append(Issue("error", tname, name, int(too_small.sum()),
                                f"values out of range (must be {rule})",
                                "Correct the source; refunds belong in refund_amount, not as negative amounts"
                                if col.type == "money" else "Correct the source",
                                _examples_at(out, where, ident, name, [float(parsed.iat[p]) for p in where[:MAX_EXAMPLES]]),
                                rank=(0, 6)))

    if col.type == "int":
        parsed = parsed.round().astype("Int64")
    out[name] = parsed
    return issues
