"""The report API: how a chapter hands its headline figures, alerts, rule checks and action lists
to the monthly report pack.

A chapter notebook makes one :class:`ChapterRecord` and records as it goes::

    record = pack.ChapterRecord("03_inventory", month=month, output_dir=output_dir)
    record.headline("days_of_inventory", 41.5, label="Days of inventory 库存周转天数", unit="days")
    record.rule("Days of inventory 周转天数", 41.5, 30, kind="max", unit="days")   # the handbook's line
    record.alert("high", "SKU0009", "stock-out risk: 3 days of cover, lead time 18 days")
    record.action("reorder", reorder_list, title="Replenishment list 补货清单")
    record.save()

With ``output_dir`` empty (interactive use) nothing is written: the record only displays. Under the
runner, ``save`` writes ``<output_dir>/chapters/<chapter>.json`` and each action list as
``<output_dir>/actions/<name>.csv`` (UTF-8 with BOM, so Excel shows Chinese). Personal data never
leaves through an action list: columns such as name, phone or address are removed, whatever the
chapter passes.
"""
from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .contract import PERSONAL_COLUMNS

SEVERITIES = ("high", "medium", "low")
UNITS = ("money", "pct", "count", "days", "ratio", "number")
#: column names that hold personal data in any table or export; they never reach an output
PERSONAL_NAMES = frozenset({c for cols in PERSONAL_COLUMNS.values() for c in cols}
                           | {"address", "email", "mobile", "receiver", "receiver_name", "buyer_name",
                              "收货人", "手机", "电话", "地址", "收货地址"})


def format_value(value, unit: str) -> str:
    """A value as a person reads it: ¥1,234,567 / 3.1% / 1,234 / 12.5 days / 2.35x."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "money":
        return f"¥{value:,.0f}" if abs(value) >= 100 else f"¥{value:,.2f}"
    if unit == "pct":
        return f"{value:.1%}" if abs(value) >= 0.01 else f"{value:.2%}"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "days":
        return f"{value:,.1f} days"
    if unit == "ratio":
        return f"{value:,.2f}x"
    return f"{value:,.4g}"


@dataclass
class Headline:
    key: str
    label: str
    value: float | None
    unit: str = "number"
    note: str = ""


@dataclass
class Alert:
    severity: str  #: high, medium or low
    subject: str  #: the thing concerned: a SKU, a date, a channel, a supplier, a carrier, a customer id ...
    message: str
    section: str = ""


@dataclass
class RuleCheck:
    """A handbook rule of thumb checked against the data, e.g. bad-review rate under 5%."""

    label: str
    value: float | None
    limit: float
    kind: str  #: "max" (value must stay at or under the limit) or "min" (at or above)
    unit: str
    passed: bool | None

    @property
    def text(self) -> str:
        value, limit = format_value(self.value, self.unit), format_value(self.limit, self.unit)
        if self.passed is None:
            return f"{self.label}: no data to check against the {limit} line"
        side = ("within" if self.kind == "max" else "above") if self.passed else (
            "over" if self.kind == "max" else "under")
        return f"{self.label} {value}: {side} the {limit} line"

    def _repr_markdown_(self) -> str:
        mark = "–" if self.passed is None else ("✔" if self.passed else "⚠️")
        return f"{mark} **{self.text}**"


@dataclass
class ActionList:
    name: str
    title: str
    rows: int
    description: str = ""
    path: str = ""  #: relative to the pack's folder, e.g. actions/reorder.csv
    removed_columns: list = field(default_factory=list)


class ChapterRecord:
    """Collects one chapter's contribution to the monthly pack (see the module docstring)."""

    def __init__(self, chapter: str, *, month: str | None = None, output_dir: str | Path | None = ""):
        self.chapter = chapter
        self.month = month
        self.output_dir = Path(output_dir) if output_dir else None
        self.headlines: list[Headline] = []
        self.alerts: list[Alert] = []
        self.rules: list[RuleCheck] = []
        self.actions: list[ActionList] = []
        self.skipped: list[str] = []

    # -- recording ------------------------------------------------------------------------------
    def headline(self, key: str, value, *, label: str, unit: str = "number", note: str = "") -> Headline:
        """Record a headline figure (shown on the pack's front page and in summary.json)."""
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}, not {unit!r}")
        value = None if value is None or pd.isna(value) else float(value)
        item = Headline(key, label, value, unit, note)
        self.headlines = [h for h in self.headlines if h.key != key] + [item]
        return item

    def alert(self, severity: str, subject, message: str, *, section: str = "") -> Alert:
        """Record an alert; ``subject`` names the thing concerned (SKU, date, channel ...)."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {severity!r}")
        item = Alert(str(severity), str(subject), str(message), section)
        self.alerts.append(item)
        return item

    def alerts_from(self, frame: pd.DataFrame, *, severity: str | pd.Series, subject: str, message: str,
                    section: str = "", limit: int | None = 20) -> int:
        """Record one alert per row of ``frame`` (at most ``limit``): ``subject`` is a column,
        ``message`` a format string over the row's columns, ``severity`` a value or a column name."""
        rows = frame.head(limit) if limit else frame
        sev = rows[severity] if isinstance(severity, str) and severity in rows.columns else None
        for i, (_, row) in enumerate(rows.iterrows()):  # bounded by ``limit``
            self.alert(sev.iloc[i] if sev is not None else severity, row[subject],
                       message.format(**row.to_dict()), section=section)
        return len(rows)

    def rule(self, label: str, value, limit: float, *, kind: str = "max", unit: str = "pct",
             severity: str = "medium", subject: str | None = None) -> RuleCheck:
        """Check a handbook rule of thumb; a broken rule also becomes an alert. Returns the check,
        which displays as one line in a notebook ("Bad-review rate 3.1%: within the 5% line")."""
        if kind not in ("max", "min"):
            raise ValueError("kind must be 'max' or 'min'")
        value = None if value is None or pd.isna(value) else float(value)
        limit = float(limit)
        passed = None if value is None else bool(value <= limit if kind == "max" else value >= limit)
        check = RuleCheck(label, value, limit, kind, unit, passed)
        self.rules.append(check)
        if passed is False:
            self.alert(severity, subject or label, check.text)
        return check

    def skip(self, section: str, note: str) -> str:
        """Record that a section was skipped (its table is missing); returns the note to display."""
        text = f"{section}: {note}"
        self.skipped.append(text)
        return text

    def action(self, name: str, frame: pd.DataFrame, *, title: str, description: str = "") -> pd.DataFrame:
        """Record an action list (what to reorder, whom to win back ...). Personal-data columns are
        removed. Under the runner the list is written to ``actions/<name>.csv``. Returns the list as
        it will be written, for display."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"action list name must be a simple word, not {name!r}")
        removed = [c for c in frame.columns if str(c).lower() in PERSONAL_NAMES]
        clean = frame.drop(columns=removed)
        item = ActionList(name, title, len(clean), description, f"actions/{name}.csv", removed)
        self.actions = [a for a in self.actions if a.name != name] + [item]
        if self.output_dir is not None:
            folder = self.output_dir / "actions"
            folder.mkdir(parents=True, exist_ok=True)
            write_csv(clean, folder / f"{name}.csv")
        return clean

    # -- output ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"chapter": self.chapter, "month": self.month,
                "metrics": {h.key: {"label": h.label, "value": h.value, "unit": h.unit, "note": h.note}
                            for h in self.headlines},
                "alerts": [asdict(a) for a in self.alerts],
                "rules": [{**asdict(r), "text": r.text} for r in self.rules],
                "actions": [asdict(a) for a in self.actions],
                "skipped": list(self.skipped)}

    def save(self) -> Path | None:
        """Write ``chapters/<chapter>.json`` under the output folder (nothing when interactive)."""
        if self.output_dir is None:
            return None
        folder = self.output_dir / "chapters"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.chapter}.json"
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    def headline_table(self) -> pd.DataFrame:
        return pd.DataFrame([{"figure": h.label, "value": format_value(h.value, h.unit), "note": h.note}
                             for h in self.headlines], columns=["figure", "value", "note"])

    def alert_table(self) -> pd.DataFrame:
        order = {s: i for i, s in enumerate(SEVERITIES)}
        frame = pd.DataFrame([asdict(a) for a in self.alerts], columns=["severity", "subject", "message", "section"])
        return frame.sort_values("severity", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)

    def _repr_html_(self) -> str:
        parts = [f"<h4>Headline figures: {html.escape(self.chapter)} {html.escape(self.month or '')}</h4>",
                 self.headline_table().to_html(index=False)]
        if self.rules:
            parts.append("<ul>" + "".join(f"<li>{'✔' if r.passed else ('–' if r.passed is None else '⚠️')} "
                                          f"{html.escape(r.text)}</li>" for r in self.rules) + "</ul>")
        parts.append(f"<h4>Alerts ({len(self.alerts)})</h4>")
        parts.append(self.alert_table().to_html(index=False) if self.alerts else "<p>No alerts.</p>")
        if self.actions:
            parts.append("<h4>Action lists</h4><ul>" + "".join(
                f"<li>{html.escape(a.title)}: {a.rows:,} rows ({html.escape(a.path)})</li>" for a in self.actions) + "</ul>")
        return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Action lists as CSV
# ---------------------------------------------------------------------------------------------

#: rows :func:`write_csv` formats at a time (their text is a few hundred MB at most)
CSV_SLICE_ROWS = 1 << 20


def write_csv(frame: pd.DataFrame, path: str | Path, *, rows: int = CSV_SLICE_ROWS) -> None:
    """``frame.to_csv(path, index=False, encoding="utf-8-sig")``, byte for byte, about fifteen times
    faster when every column is text, integer, float or boolean: the rows are formatted and joined
    by Arrow, ``rows`` at a time (pandas formats each value in Python: 14 s for the three million
    customers of a large shop's RFM list, against under a second; one slice's text is held, not
    the thirty million lines of a hundred-million-line shop's list). Other frames go through pandas."""
    def body(part: pd.DataFrame):
        import pyarrow as pa
        import pyarrow.compute as pc

        texts = [_csv_text(part.iloc[:, i]) for i in range(part.shape[1])]
        if any(t is None for t in texts):
            return None
        lines = pc.binary_join_element_wise(*texts, pa.scalar(",", pa.large_string()))
        lines = pc.binary_join_element_wise(lines, pa.scalar("", pa.large_string()), pa.scalar("\n", pa.large_string()))
        if isinstance(lines, pa.ChunkedArray):
            lines = lines.combine_chunks()
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64, count=len(lines) + 1, offset=lines.offset * 8)
        return memoryview(lines.buffers()[2])[offsets[0]:offsets[-1]]

    part = body(frame.iloc[:rows]) if frame.shape[1] > 1 and len(frame) else None
    if part is not None:
        header = ",".join(_csv_quoted_value(str(c)) for c in frame.columns) + "\n"
        with open(path, "wb") as out:
            out.write(("\ufeff" + header).encode("utf-8"))
            for s in range(rows, len(frame) + rows, rows):
                out.write(part)
                part = body(frame.iloc[s:s + rows]) if s < len(frame) else b""
                if part is None:  # a later slice's values that are not all text: pandas writes it all
                    break
        if part is not None:
            return
    frame.to_csv(path, index=False, encoding="utf-8-sig")  # one column (csv quotes an empty row), other types


#: characters that make the csv module (and so pandas) quote a value: the delimiter, the quote and
#: the line terminator ("\n"; a lone "\r" is written as it is)
_CSV_SPECIAL = r'[,"\n]'


def _csv_quoted_value(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\n') else text


def _csv_text(values: pd.Series):
    """The column as pandas' ``to_csv`` writes it, as an Arrow large_string array without nulls
    (missing values empty); None for a dtype this does not format."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        arr = pa.array(values.to_numpy(dtype=object, na_value=None), type=pa.bool_())
        text = pc.if_else(arr, pa.scalar("True", pa.large_string()), pa.scalar("False", pa.large_string()))
    elif pd.api.types.is_integer_dtype(dtype):
        text = pc.cast(pa.array(values, from_pandas=True), pa.large_string())
    elif pd.api.types.is_float_dtype(dtype):
        text = _csv_floats(values.to_numpy(dtype="float64", na_value=np.nan))
    elif pd.api.types.is_string_dtype(dtype) and (dtype != object or pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")):
        arr = pc.cast(pa.array(values, from_pandas=True), pa.large_string())
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if not _has_csv_special(arr):  # ids, codes, most names: nothing to quote
            return pc.fill_null(arr, pa.scalar("", pa.large_string()))
        coded = pc.dictionary_encode(arr)  # quoting looks at each distinct text once (segments, actions ...)
        words = coded.dictionary
        special = pc.match_substring_regex(words, _CSV_SPECIAL)
        if pc.any(special).as_py():
            quoted = pc.binary_join_element_wise(pa.scalar('"', pa.large_string()),
                                                 pc.replace_substring(words, '"', '""'),
                                                 pa.scalar('"', pa.large_string()), pa.scalar("", pa.large_string()))
            text = pc.take(pc.if_else(special, quoted, words), coded.indices)
        else:
            text = arr
    else:
        return None
    return pc.fill_null(text, pa.scalar("", pa.large_string()))


def _has_csv_special(arr) -> bool:
    """Whether some text of a large_string array holds a comma, a quote or a line end: one pass
    over its bytes (in UTF-8 no byte of another character can be one of these)."""
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=len(arr) + 1, offset=arr.offset * 8)
    if offsets[-1] == offsets[0]:
        return False
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    return bool(((data == ord(",")) | (data == ord('"')) | (data == ord("\n"))).any())


def _csv_floats(x: np.ndarray):
    """Floats as Python's ``repr`` writes them (pandas' CSV format), NaN empty: Arrow's shortest
    round-trip text where it is positional like repr's, ``.0`` added to whole numbers, and ``repr``
    itself for the few values where the two notations differ (below 1e-4, from 1e16)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    missing = np.isnan(x)
    text = pc.cast(pa.array(x, mask=missing), pa.large_string())
    size = np.abs(x)
    finite = np.isfinite(x)
    python = finite & (((size < 1e-4) & (x != 0)) | (size >= 1e16))
    python |= pc.fill_null(pc.match_substring(text, "e"), False).to_numpy(zero_copy_only=False) & finite
    whole = finite & ~python & (x == np.floor(x))
    text = pc.if_else(pa.array(whole), pc.binary_join_element_wise(text, pa.scalar(".0", pa.large_string()),
                                                                     pa.scalar("", pa.large_string())), text)
    where = np.flatnonzero(python)
    if len(where):
        values = text.to_numpy(zero_copy_only=False).astype(object)
        values[where] = [repr(float(v)) for v in x[where]]
        text = pa.array(values, type=pa.large_string())
    return text
