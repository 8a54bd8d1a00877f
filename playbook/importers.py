"""Importers: platform exports in, contract tables out (``playbook import KIND FILE... --out DIR``).

An import reads an export (CSV in UTF-8 or GBK, or Excel .xlsx), maps its columns to the data
contract through a mapping (a TOML file; ready ones ship in ``playbook/mappings/``), parses money
written as "¥1,234.00" and the usual date formats, sets aside the footer and total rows that platforms
append, derives what the export implies (an order's status from its payment and refund columns),
and writes contract tables into a new folder. Every row is accounted for: mapped, or rejected with
a reason; the totals are printed so that a user can tie them back to the platform. The export
itself is never modified.

Kinds:

- ``tmall``: the Tmall (天猫) order report (订单编号, 总金额, 买家实际支付金额, 收货地址, 订单创建时间,
  订单付款时间, 退款金额). It has no buyers, items or channel column.
- ``shopify``: Shopify's orders export, one row per line item (Name, Email, Financial Status,
  Paid at, Created at, Lineitem quantity/price/sku, Discount Amount, Shipping, Total, Refunded
  Amount, Billing Province ...). Emails become a stable hash: no personal data is written.
- ``mapped``: any CSV or Excel export with ``--mapping FILE.toml`` (see ``playbook/mappings/``).
"""
from __future__ import annotations

import codecs
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics
from .contract import TABLES
from .errors import PlaybookError
from .validation import MAX_EXAMPLES, parse_money, parse_timestamps

MAPPINGS_DIR = Path(__file__).with_name("mappings")
KINDS = ("tmall", "shopify", "mapped")
#: a row whose key cell reads like one of these is a footer or a total line, not an order
FOOTER = re.compile(r"^\s*(合计|总计|小计|汇总|total|totals|sum|共\s*\d+\s*条)", re.IGNORECASE)


class ExportError(PlaybookError):
    """An export that cannot be mapped; the message names the file, the column and the rows."""


@dataclass
class Mapping:
    """How one export maps to contract tables (read from a TOML file)."""

    name: str
    table: str  #: the contract table the rows become (orders, order_items ...)
    columns: dict[str, str]  #: contract column -> export header
    key: str  #: the export header that identifies a row (used for footers and examples)
    constants: dict[str, object] = field(default_factory=dict)  #: contract column -> fixed value
    values: dict[str, dict[str, str]] = field(default_factory=dict)  #: contract column -> {export value: contract value}
    generate: dict[str, str] = field(default_factory=dict)  #: contract column -> "line" (e.g. order ids a ledger lacks)
    derive: str = ""  #: a named derivation applied after mapping (e.g. "tmall_status")
    notes: str = ""
    encoding: str = "auto"

    @classmethod
    def read(cls, path: str | Path) -> "Mapping":
        path = Path(path)
        try:
            spec = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ExportError(f"Mapping file {path} cannot be read: {e}") from None
        try:
            mapping = cls(name=spec.get("name", path.stem), table=spec["table"], columns=dict(spec["columns"]),
                          key=spec["key"], constants=dict(spec.get("constants", {})),
                          values={k: dict(v) for k, v in spec.get("values", {}).items()},
                          generate=dict(spec.get("generate", {})),
                          derive=spec.get("derive", ""), notes=spec.get("notes", ""),
                          encoding=spec.get("encoding", "auto"))
        except KeyError as e:
            raise ExportError(f"Mapping file {path} lacks the key {e.args[0]!r} (needs table, key and [columns]).") from None
        if mapping.table not in TABLES:
            raise ExportError(f"Mapping file {path}: table {mapping.table!r} is not a contract table.")
        unknown = [c for c in mapping.columns if c not in TABLES[mapping.table].names]
        if unknown:
            raise ExportError(f"Mapping file {path}: {', '.join(unknown)} are not columns of {mapping.table}.")
        return mapping


@dataclass
class ImportReport:
    """What an import did with every row."""

    files: list[str]
    rows_read: int = 0
    rows_mapped: int = 0
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["file", "row", "key", "reason"]))
    totals: dict[str, float] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  #: what the export lacks, in a sentence each
    notes: list[str] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"Read {self.rows_read:,} rows from {', '.join(self.files)}: {self.rows_mapped:,} mapped, "
                 f"{len(self.rejected):,} rejected."]
        if len(self.rejected):
            for reason, n in self.rejected["reason"].value_counts().items():
                lines.append(f"  rejected ({n:,}): {reason}")
        for name, value in self.totals.items():
            lines.append(f"  {name}: {value:,.2f}" if isinstance(value, float) else f"  {name}: {value:,}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        for gap in self.missing:
            lines.append(f"  missing: {gap}")
        for table, path in self.written.items():
            lines.append(f"  wrote {table}: {path}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Reading an export
# ---------------------------------------------------------------------------------------------

def read_export(path: str | Path, *, encoding: str = "auto") -> tuple[pd.DataFrame, str]:
    """An export as text columns (every cell a string, nothing parsed) and the encoding used.

    CSV in UTF-8 (with or without BOM) or GBK/GB18030 is detected; ``.xlsx`` is read with openpyxl.
    """
    path = Path(path)
    if not path.exists():
        raise ExportError(f"Export {path} does not exist.")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        frame = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
        return _blank_to_none(frame), "xlsx"
    raw = path.read_bytes()
    if encoding == "auto":
        if raw.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        else:
            try:
                raw.decode("utf-8")
                encoding = "utf-8"
            except UnicodeDecodeError:
                encoding = "gb18030"
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as e:
        raise ExportError(f"{path.name} cannot be decoded as {encoding}: {e}. Save it as CSV UTF-8.") from None
    from io import StringIO

    frame = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    return _blank_to_none(frame), encoding


def _blank_to_none(frame: pd.DataFrame) -> pd.DataFrame:
    """Empty cells, and the dashes Chinese exports write into them ("-", "--", "—", "——"), become None."""
    return frame.replace(r"^\s*(?:-{1,2}|—{1,2})?\s*$", None, regex=True)


def _rows_text(frame: pd.DataFrame, mask: pd.Series, column: str) -> str:
    rows = (frame.index[mask][:MAX_EXAMPLES] + 2).tolist()  # +2: header line, 1-based
    values = frame.loc[mask, column].head(MAX_EXAMPLES).tolist()
    return ", ".join(f"line {r} ({v!r})" for r, v in zip(rows, values))


def map_export(frame: pd.DataFrame, mapping: Mapping, *, file: str, tz: str = "Asia/Shanghai"):
    """(contract table, rejected rows) from an export read by :func:`read_export`.

    Raises :class:`ExportError` naming the file, column and lines when a mapped column is missing or
    holds values that do not parse (money, timestamps) on rows that are orders.
    """
    missing = [h for h in mapping.columns.values() if h not in frame.columns]
    if missing:
        raise ExportError(f"{file}: the export has no column {', '.join(repr(m) for m in missing)} that the "
                           f"mapping {mapping.name!r} needs. Columns present: {', '.join(frame.columns)}.")
    key = frame[mapping.key]
    footer = key.isna() | key.astype("str").str.match(FOOTER, na=False)
    rejected = pd.DataFrame({"file": file, "row": frame.index[footer] + 2, "key": key[footer],
                             "reason": np.where(key[footer].isna(), f"no {mapping.key}: an empty or footer line",
                                                "a total or footer line appended by the platform")})
    rows = frame.loc[~footer]
    table = TABLES[mapping.table]
    out = pd.DataFrame(index=rows.index)
    for col, header in mapping.columns.items():
        kind = table.column(col).type
        raw = rows[header]
        present = raw.notna()
        if kind == "money":
            value, _ = parse_money(raw)
        elif kind in ("timestamp", "date"):
            value = parse_timestamps(raw, tz)
            value = value.dt.normalize() if kind == "date" else value
        elif kind in ("int", "number"):
            value = pd.to_numeric(raw, errors="coerce")
        else:
            value = raw.astype("str").str.strip().where(present)
            if col in mapping.values:
                known = mapping.values[col]
                unmapped = present & ~value.isin(list(known))
                if unmapped.any():
                    raise ExportError(f"{file}: column {header!r} (-> {mapping.table}.{col}) has values the mapping "
                                      f"does not translate: {_rows_text(rows, unmapped, header)}. Add them under "
                                      f"[values.{col}] in the mapping file.")
                value = value.map(known).where(present)
        bad = present & value.isna()
        if bad.any():
            raise ExportError(f"{file}: column {header!r} (-> {mapping.table}.{col}) has {int(bad.sum()):,} "
                               f"value(s) that are not {kind}: {_rows_text(rows, bad, header)}. "
                               "Correct them in the export or remove those lines.")
        out[col] = value
    for col, value in mapping.constants.items():
        out[col] = value
    for col, how in mapping.generate.items():
        if how != "line":
            raise ExportError(f"Mapping {mapping.name!r}: [generate] {col} must be \"line\", not {how!r}.")
        out[col] = [f"L{file_tag(file)}-{line}" for line in rows.index + 2]  # stable: the line in the export
    return out.reset_index(drop=True), rejected


def file_tag(file: str) -> str:
    """A short stable tag of an export's name, so generated ids of two files never collide."""
    return hashlib.sha256(file.encode()).hexdigest()[:6]


# ---------------------------------------------------------------------------------------------
# Kinds
# ---------------------------------------------------------------------------------------------

def derive_tmall_status(orders: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Status and amounts of Tmall report orders.

    The report's 买家实际支付金额 is what the buyer paid *net of refunds* (it is 0 on a fully
    refunded order, and payment + refund equals the order total whenever there was a refund), and
    its 订单付款时间 is empty on an order never paid. So: no payment time -> ``cancelled`` (paid 0);
    otherwise ``paid_amount`` = paid net + refund, ``refunded`` when nothing is left after the refund,
    ``paid`` with a partial ``refund_amount`` otherwise.
    """
    out = orders.copy()
    refund = out["refund_amount"].fillna(0.0)
    net = out["paid_amount"].fillna(0.0)
    was_paid = out["paid_ts"].notna()
    out["paid_amount"] = np.where(was_paid, net + refund, 0.0).round(2)
    out["refund_amount"] = np.where(was_paid, refund, 0.0)
    out["status"] = np.select([~was_paid, was_paid & (net <= 0.005) & (refund > 0)],
                              ["cancelled", "refunded"], default="paid")
    notes = ["买家实际支付金额 is net of refunds: paid_amount = 买家实际支付金额 + 退款金额, "
             "refund_amount = 退款金额; an order without 订单付款时间 is cancelled"]
    return out, notes


def email_hash(email: pd.Series) -> pd.Series:
    """A stable, non-reversible id for an email (lower-cased, trimmed): ``E`` + 12 hex digits."""
    norm = email.astype("str").str.strip().str.lower()
    hashed = norm.map(lambda e: "E" + hashlib.sha256(e.encode()).hexdigest()[:12])  # one call per row, C-backed
    return hashed.where(email.notna())


SHOPIFY_STATUS = {"paid": "paid", "partially_refunded": "paid", "refunded": "refunded", "pending": "cancelled",
                  "voided": "cancelled", "authorized": "paid", "partially_paid": "paid", "expired": "cancelled"}


def import_shopify(frame: pd.DataFrame, *, file: str, tz: str) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, list[str]]:
    """Orders and order_items from a Shopify orders export (one row per line item; order fields
    only on an order's first row)."""
    needed = ["Name", "Created at", "Lineitem quantity", "Lineitem price", "Lineitem sku", "Total"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ExportError(f"{file}: not a Shopify orders export, it lacks {', '.join(missing)}.")
    name = frame["Name"]
    footer = name.isna() | name.astype("str").str.match(FOOTER, na=False)
    rejected = pd.DataFrame({"file": file, "row": frame.index[footer] + 2, "key": name[footer],
                             "reason": "no order Name: an empty or footer line"})
    rows = frame.loc[~footer]
    first = ~rows["Name"].duplicated()
    heads = rows.loc[first]
    orders = pd.DataFrame({"order_id": heads["Name"].str.strip()})
    orders["customer_id"] = email_hash(heads["Email"]) if "Email" in heads else None
    orders["order_ts"] = parse_timestamps(heads["Created at"], tz)
    if "Paid at" in heads:
        orders["paid_ts"] = parse_timestamps(heads["Paid at"], tz)
    money = {"paid_amount": "Total", "discount_amount": "Discount Amount", "shipping_fee": "Shipping",
             "refund_amount": "Refunded Amount", "gross_amount": "Subtotal"}
    for col, header in money.items():
        if header in heads:
            value, _ = parse_money(heads[header])
            bad = heads[header].notna() & value.isna()
            if bad.any():
                raise ExportError(f"{file}: column {header!r} has {int(bad.sum())} value(s) that are not money: "
                                   f"{_rows_text(heads, bad, header)}.")
            orders[col] = value
    bad = heads["Created at"].notna() & orders["order_ts"].isna()
    if bad.any() or heads["Created at"].isna().any():
        raise ExportError(f"{file}: column 'Created at' has values that are not dates: "
                           f"{_rows_text(heads, bad | heads['Created at'].isna(), 'Created at')}.")
    if "Financial Status" in heads:
        status = heads["Financial Status"].astype("str").str.strip().str.lower()
        orders["status"] = status.map(SHOPIFY_STATUS).fillna("paid")
    if "Billing Province" in heads:
        orders["province"] = heads["Billing Province"]
    orders["channel"] = "own_site"
    items = pd.DataFrame({"order_id": rows["Name"].str.strip(),
                          "sku": rows["Lineitem sku"].fillna(rows.get("Lineitem name", pd.Series(index=rows.index))),
                          "qty": pd.to_numeric(rows["Lineitem quantity"], errors="coerce")})
    items["unit_price"], _ = parse_money(rows["Lineitem price"])
    bad = items["qty"].isna() | items["unit_price"].isna()
    if bad.any():
        raise ExportError(f"{file}: line items with a quantity or price that is not a number: "
                           f"{_rows_text(rows, bad, 'Lineitem quantity')}.")
    notes = ["Email mapped to a stable hash (customer_id); no email is written",
             "channel set to own_site (a Shopify store)",
             "order fields taken from each order's first line-item row"]
    return {"orders": orders.reset_index(drop=True), "order_items": items.reset_index(drop=True)}, rejected, notes


def run_import(kind: str, files: list[str | Path], out: str | Path, *, mapping: str | Path | None = None,
               tz: str = "Asia/Shanghai") -> ImportReport:
    """Import exports of one ``kind`` into contract tables under ``out`` (a new or empty folder)."""
    if kind not in KINDS:
        raise ExportError(f"Unknown import kind {kind!r}; use one of {', '.join(KINDS)}.")
    if kind == "mapped" and mapping is None:
        raise ExportError("The 'mapped' kind needs --mapping FILE.toml (ready ones: "
                           + ", ".join(p.name for p in sorted(MAPPINGS_DIR.glob("*.toml"))) + ").")
    out = Path(out)
    inputs = {Path(f).resolve() for f in files}
    if out.exists() and any(out.iterdir()):
        raise ExportError(f"Output folder {out} is not empty; give a new folder so nothing is overwritten.")
    if out.resolve() in {p.parent for p in inputs}:
        raise ExportError(f"Output folder {out} holds the export itself; give a separate folder.")
    report = ImportReport([Path(f).name for f in files])
    tables: dict[str, list[pd.DataFrame]] = {}
    rejected = []
    for f in files:
        if kind == "shopify":
            frame, _ = read_export(f)
            report.rows_read += len(frame)
            got, rej, notes = import_shopify(frame, file=Path(f).name, tz=tz)
        else:
            spec = Mapping.read(MAPPINGS_DIR / "tmall_order_report.toml" if kind == "tmall" else mapping)
            frame, encoding = read_export(f, encoding=spec.encoding)
            report.rows_read += len(frame)
            table, rej = map_export(frame, spec, file=Path(f).name, tz=tz)
            notes = [f"{Path(f).name} read as {encoding}"]
            if spec.derive == "tmall_status":
                table, more = derive_tmall_status(table)
                notes += more
            got = {spec.table: table}
            report.missing += _missing(spec)
        for name, frame_ in got.items():
            tables.setdefault(name, []).append(frame_)
        rejected.append(rej)
        report.notes += [n for n in notes if n not in report.notes]
    report.rejected = pd.concat(rejected, ignore_index=True) if rejected else report.rejected
    result = {name: pd.concat(parts, ignore_index=True) for name, parts in tables.items()}
    main = result.get("orders")
    if main is not None:
        dup = main["order_id"].duplicated(keep=False)
        if dup.any():
            raise ExportError(f"Order ids repeat across or within the exports ({int(dup.sum())} rows, e.g. "
                               f"{', '.join(main.loc[dup, 'order_id'].head(5))}): import each period once.")
        report.rows_mapped = len(main) if kind != "shopify" else int(report.rows_read - len(report.rejected))
        report.totals = _totals(main)
    else:
        report.rows_mapped = sum(len(t) for t in result.values())
    report.missing = list(dict.fromkeys(report.missing))
    out.mkdir(parents=True, exist_ok=True)
    for name, frame_ in result.items():
        path = out / f"{name}.csv"
        frame_.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S")
        report.written[name] = str(path)
    if len(report.rejected):
        path = out / "_rejected_rows.csv"
        report.rejected.to_csv(path, index=False, encoding="utf-8-sig")
        report.written["rejected rows"] = str(path)
    return report


def _missing(spec: Mapping) -> list[str]:
    present = set(spec.columns) | set(spec.constants)
    gaps = []
    if spec.table == "orders":
        if "customer_id" not in present:
            gaps.append("buyer identity (orders.customer_id): the chapters about customers (04, parts of 01, "
                        "06 and 07) skip their sections")
        if "channel" not in present:
            gaps.append("sales channel (orders.channel): channel splits show one channel")
        gaps.append("order lines (order_items): the product chapters (02, 03) and basket analyses skip")
    return gaps


def _totals(orders: pd.DataFrame) -> dict:
    """The totals a user ties back to the platform, with the playbook's own definitions."""
    status = orders["status"] if "status" in orders else pd.Series("paid", index=orders.index)
    paid = metrics.paid_mask(orders)
    gmv, net = round(metrics.gmv(orders), 2), round(metrics.net_sales(orders), 2)
    totals = {
        "orders": int(len(orders)),
        "paid orders (status paid)": int((status == "paid").sum()),
        "refunded orders (status refunded)": int((status == "refunded").sum()),
        "cancelled orders (never paid)": int((status == "cancelled").sum()),
        "GMV (paid_amount of paid and refunded orders)": gmv,
        "refunds": round(gmv - net, 2),
        "net sales (GMV - refunds)": net,
    }
    if "gross_amount" in orders:
        totals["order value of cancelled orders (gross_amount)"] = float(
            orders.loc[~paid, "gross_amount"].sum().round(2))
    return totals
