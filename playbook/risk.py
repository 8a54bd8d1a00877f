"""Chapter 07 risk: compliance, supply, competition, reputation and fraud (风险管控).

The handbook's risk chapter (001 part 5, 002 part 06) asks for a four-way watch, compliance -
supply chain - competition - public opinion (合规-供应链-竞争-舆情), plus a fraud control that keeps
the fraud-order rate under 0.3%. Each section has a front-door function that takes a
:class:`~playbook.loading.Dataset` and returns a :class:`Section` (its tables and figures, or a
note when the tables it needs are missing), built on pure functions that can be used alone:

- compliance: :func:`load_lexicon`, :func:`scan_text`, :func:`banned_term_findings` ->
  :func:`compliance_review`;
- supply: :func:`supplier_concentration`, :func:`hhi`, :func:`single_sourced_skus`,
  :func:`po_delays`, :func:`supplier_scorecard` -> :func:`supply_risk`;
- competition: :func:`price_index`, :func:`undercut_runs` -> :func:`competition_watch`;
- reputation: :func:`monthly_bad_review_rate`, :func:`sku_bad_review_rates`,
  :func:`review_spikes`, :func:`bad_review_replies` -> :func:`reputation_watch`;
- fraud: :func:`linked_accounts`, :func:`new_customer_coupons`, :func:`coupon_abuse`,
  :func:`abnormal_refunds`, :func:`fraud_scores` -> :func:`fraud_review`.

Thresholds come from the ``[risk]``, ``[reputation]`` and ``[fraud]`` sections of the settings.
Everything is vectorised (group-bys, arrays, a sparse graph), so it runs on a shop a hundred times
the sample.
"""
from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping
from io import StringIO
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from . import charts, probability
from .derived import (column_codes, compact_codes, fixed_width_bytes, id_packing, pack_ids, text_codes, unique_positions,
                      unpack_ids)
from .contract import TABLES
from .exercises import exercise
from .loading import has_column, read_columns, read_rows, release_free_memory
from .metrics import paid_mask

#: the bundled lexicon of banned advertising terms (广告法禁用词) and harmless look-alikes
LEXICON_PATH = Path(__file__).resolve().parent / "data" / "banned_terms.csv"
LEXICON_COLUMNS = ["term", "kind", "category", "legal_basis", "suggestion", "replacement", "added_in"]

__all__ = [
    "Section", "record_notes", "LEXICON_PATH",
    "load_lexicon", "scan_text", "banned_term_findings", "compliance_review",
    "supplier_concentration", "hhi", "single_sourced_skus", "po_delays", "supplier_scorecard", "supply_risk",
    "price_index", "undercut_runs", "competition_watch",
    "monthly_bad_review_rate", "sku_bad_review_rates", "review_spikes", "bad_review_replies", "reputation_watch",
    "linked_accounts", "new_customer_coupons", "coupon_abuse", "abnormal_refunds", "fraud_scores", "fraud_review",
    "plot_purchase_shares", "plot_po_delays", "plot_price_gaps", "plot_undercut", "plot_bad_review_trend",
    "plot_review_funnel", "plot_reply_hours", "plot_fraud_scores",
]


# ---------------------------------------------------------------------------------------------
# The result of a section
# ---------------------------------------------------------------------------------------------

ALERT_COLUMNS = ["severity", "subject", "message"]


def _fmt(values: pd.Series, pattern: str) -> pd.Series:
    """Numbers formatted as text (an empty column stays an empty text column)."""
    return pd.Series(values, dtype="float64").map(pattern.format).astype("str")


def _alerts(severity, subject: pd.Series, message: pd.Series) -> pd.DataFrame:
    """An alerts table (severity, subject, message) for ``ChapterRecord.alerts_from``."""
    subject = pd.Series(subject).astype("str").reset_index(drop=True)
    sev = pd.Series(severity, index=subject.index) if np.isscalar(severity) else pd.Series(severity).reset_index(drop=True)
    return pd.DataFrame({"severity": sev, "subject": subject,
                         "message": pd.Series(message).astype("str").reset_index(drop=True)})[ALERT_COLUMNS]


class Section:
    """What one section of the chapter computed: named tables and figures, or notes.

    ``section.findings`` (a table) or ``section.hhi`` (a figure) reads by name; a section whose
    tables are missing holds empty tables, figures of None and a ``note`` saying what it needs,
    so that a notebook cell never has to branch. Displaying a section shows its notes and figures.
    """

    def __init__(self, title: str, *, tables: Mapping[str, pd.DataFrame] | None = None,
                 figures: Mapping[str, object] | None = None, notes: Iterable[str] = ()):
        self.title = title
        self.tables: dict[str, pd.DataFrame] = dict(tables or {})
        self.tables.setdefault("alerts", pd.DataFrame(columns=ALERT_COLUMNS))
        self.figures: dict[str, object] = dict(figures or {})
        self.notes: list[str] = [n for n in notes if n]

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        for store in ("tables", "figures"):
            items = self.__dict__.get(store, {})
            if name in items:
                return items[name]
        raise AttributeError(f"section {self.__dict__.get('title')!r} has no table or figure {name!r}; "
                             f"tables: {sorted(self.__dict__.get('tables', {}))}, "
                             f"figures: {sorted(self.__dict__.get('figures', {}))}")

    @property
    def note(self) -> str | None:
        """The first note (why a part was skipped), or None."""
        return self.notes[0] if self.notes else None

    def __repr__(self) -> str:
        figs = ", ".join(f"{k}={v!r}" for k, v in self.figures.items())
        return f"Section({self.title!r}, {figs}{', notes=' + repr(self.notes) if self.notes else ''})"

    def _repr_html_(self) -> str:
        parts = [f"<h4>{html.escape(self.title)}</h4>"]
        parts += [f"<p><em>{html.escape(n)}</em></p>" for n in self.notes]
        shown = {k: v for k, v in self.figures.items() if isinstance(v, (int, float, str, np.number)) or v is None}
        if shown:
            rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(_fmt_figure(k, v))}</td></tr>"
                           for k, v in shown.items())
            parts.append(f"<table>{rows}</table>")
        return "\n".join(parts)


def _fmt_figure(key: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, str):
        return value
    if any(w in key for w in ("share", "rate", "pct", "on_time", "fill", "gap")):
        return f"{value:.2%}"
    if isinstance(value, (int, np.integer)) or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def record_notes(record, *sections: Section) -> list[str]:
    """Record every note of the given sections as a skipped part on a
    :class:`~playbook.pack.ChapterRecord`; returns the notes recorded."""
    done = []
    for section in sections:
        for note in section.notes:
            done.append(record.skip(section.title, note))
    return done


def _join_texts(frame: pd.DataFrame, sep: str = "; ") -> pd.Series:
    """Row-wise join of the non-empty texts of a few columns."""
    out = pd.Series("", index=frame.index, dtype="str")
    for c in frame.columns:  # a handful of reason columns
        v = frame[c].fillna("").astype("str")
        out = out.where(v == "", out.where(out == "", out + sep) + v)
    return out


#: the columns each table is read with (a prepared table's other columns are never read: the
#: orders' addresses, cities, devices... or the customers' profiles are much of a large shop's data)
COLUMNS = {
    "orders": ("order_id", "customer_id", "order_ts", "status", "channel", "paid_amount", "refund_amount",
               "coupon_code", "contact_hash", "address_hash"),  # the fraud section (_FRAUD_COLUMNS)
    "customers": ("customer_id", "signup_ts"),
    "reviews": ("review_id", "sku", "rating", "review_ts", "reply_ts", "text"),
}


def _table(data, name: str, columns: Iterable[str] | None = None, *, keep: bool = True) -> pd.DataFrame:
    """``data[name]``, or for a prepared table not read yet only ``columns`` (default the
    table's :data:`COLUMNS`), read once per dataset (:func:`playbook.loading.read_columns`), or
    when not ``keep`` read for this use only (the section's results are all the chapter keeps)."""
    return read_columns(data, name, COLUMNS[name] if columns is None else columns, keep=keep)


def _settings(data, section: str) -> Mapping:
    return data.settings[section]


def _as_of(data, *frames_cols) -> pd.Timestamp:
    """The moment of the report: the end of the report month (exclusive), else the latest time seen
    in the given (frame or table name, column) pairs; a table is read (that column only) only
    when the dataset has no report month."""
    if getattr(data, "end", None) is not None:
        return pd.Timestamp(data.end)
    frames_cols = [(_table(data, f, [c], keep=False) if isinstance(f, str) else f, c)
                   for f, c in frames_cols]
    latest = [f[c].max() for f, c in frames_cols if c in f.columns and len(f)]
    latest = [x for x in latest if pd.notna(x)]
    return (max(latest).normalize() + pd.Timedelta(days=1)) if latest else pd.Timestamp.now().normalize()


def _month_bounds(data) -> tuple[pd.Timestamp, pd.Timestamp]:
    end = _as_of(data, ("orders", "order_ts"))
    start = pd.Timestamp(data.month + "-01") if getattr(data, "month", None) else end - pd.offsets.MonthBegin(1)
    return start, end


def _require(frame: pd.DataFrame, table: str, *columns: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"table {table} lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}")


# ---------------------------------------------------------------------------------------------
# Compliance: banned advertising terms (广告法禁用词)
# ---------------------------------------------------------------------------------------------

def load_lexicon(path: str | Path | None = None) -> pd.DataFrame:
    """The lexicon of banned advertising terms and harmless look-alikes.

    A CSV with a few ``# key: value`` header lines (``lexicon_version``, ``updated``, ``law``)
    and then one row per term: ``term``, ``kind`` (``banned`` or ``allowed``), ``category``,
    ``legal_basis`` (e.g. 广告法第九条第(三)项 Art. 9(3)), ``suggestion``, ``replacement`` (what
    the suggested text puts instead; empty = delete) and ``added_in`` (lexicon version).

    Handbook: 001 part 5, compliance risk (广告法禁用词, avoid 最 and 第一).

    Parameters
    ----------
    path : the CSV; default :data:`LEXICON_PATH` (bundled with the package).

    Returns
    -------
    DataFrame
        one row per term; ``attrs`` holds the header (``lexicon_version``, ``updated``, ``law``,
        ``path``).

    Examples
    --------
    >>> lex = load_lexicon()
    >>> lex.attrs["lexicon_version"], "最佳" in set(lex["term"])
    ('1.0', True)
    """
    path = Path(path) if path else LEXICON_PATH
    if not path.exists():
        raise FileNotFoundError(f"lexicon file {path} does not exist (settings [risk] lexicon_file)")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    meta, body_start = {}, 0
    for i, line in enumerate(lines):
        if not line.startswith("#"):
            body_start = i
            break
        key, _, value = line.lstrip("# ").partition(":")
        if value:
            meta[key.strip()] = value.strip()
    frame = pd.read_csv(StringIO("\n".join(lines[body_start:])), dtype=str, keep_default_na=False)
    missing = [c for c in ("term", "kind", "category", "legal_basis", "suggestion") if c not in frame.columns]
    if missing:
        raise ValueError(f"lexicon {path} lacks column(s) {', '.join(missing)}")
    for c in LEXICON_COLUMNS:
        if c not in frame.columns:
            frame[c] = ""
    frame["term"] = frame["term"].str.strip()
    frame["kind"] = frame["kind"].str.strip().str.lower()
    bad_kind = sorted(set(frame["kind"]) - {"banned", "allowed"})
    if bad_kind:
        raise ValueError(f"lexicon {path}: kind must be 'banned' or 'allowed', found {bad_kind}")
    if (frame["term"] == "").any():
        raise ValueError(f"lexicon {path} has a row without a term")
    dupes = frame.loc[frame["term"].str.casefold().duplicated(), "term"].tolist()
    if dupes:
        raise ValueError(f"lexicon {path} lists these terms twice: {dupes}")
    frame = frame[LEXICON_COLUMNS + [c for c in frame.columns if c not in LEXICON_COLUMNS]].reset_index(drop=True)
    frame.attrs.update(meta)
    frame.attrs.setdefault("lexicon_version", frame["added_in"].replace("", np.nan).dropna().max()
                           if (frame["added_in"] != "").any() else "unversioned")
    frame.attrs["path"] = str(path)
    return frame


def _lexicon_pattern(lexicon: pd.DataFrame) -> re.Pattern:
    # longest term first: at each position the regex takes the longest entry (销量第一 over 第一,
    # 第一次 (allowed) over 第一 (banned)); the lazy prefix makes every match leftmost.
    terms = sorted(lexicon["term"].unique(), key=lambda t: (-len(t), t))
    return re.compile("(?P<pre>.*?)(?P<term>" + "|".join(re.escape(t) for t in terms) + ")",
                      re.IGNORECASE | re.DOTALL)


def scan_text(texts: pd.Series, *, lexicon: pd.DataFrame | None = None, include_allowed: bool = False) -> pd.DataFrame:
    """Find the lexicon's terms in texts: one row per occurrence of a banned term.

    At each position the longest lexicon entry wins, so 销量第一 is reported once (not also 第一)
    and an allowed phrase (最近, 第一次 ...) hides the banned term inside it. Latin letters match
    case-insensitively (No.1 = NO.1).

    Handbook: 001 part 5, compliance risk.

    Parameters
    ----------
    texts : Series of text indexed by the item it belongs to (e.g. titles indexed by SKU).
    lexicon : from :func:`load_lexicon`; default the bundled one.
    include_allowed : also return the harmless look-alikes found (``kind`` allowed).

    Returns
    -------
    DataFrame
        columns ``item`` (the index value), ``text``, ``term`` (as written in the lexicon),
        ``matched`` (as written in the text), ``kind``, ``position`` (1-based character position
        of the term in the text), ``category``, ``legal_basis``, ``suggestion``, ``replacement``.

    Examples
    --------
    >>> scan_text(pd.Series({"A1": "最近上新 保温效果最佳"}))[["item", "term", "position"]]
      item term  position
    0   A1   最佳        10
    """
    lex = load_lexicon() if lexicon is None else lexicon
    cols = ["item", "text", "term", "matched", "kind", "position", "category", "legal_basis", "suggestion",
            "replacement"]
    s = pd.Series(texts, dtype="str").dropna()
    s = s[s.str.len() > 0]
    if s.empty or lex.empty:
        return pd.DataFrame(columns=cols)
    items = s.index.to_numpy()
    s = s.reset_index(drop=True)
    found = s.str.extractall(_lexicon_pattern(lex))
    if found.empty:
        return pd.DataFrame(columns=cols)
    row = found.index.get_level_values(0).to_numpy()
    pre_len = found["pre"].fillna("").str.len().to_numpy()
    span = pre_len + found["term"].str.len().to_numpy()
    end = pd.Series(span).groupby(row).cumsum().to_numpy()
    position = end - span + pre_len + 1
    key = lex.assign(_key=lex["term"].str.casefold()).set_index("_key")
    hit = key.reindex(found["term"].str.casefold().to_numpy())
    out = pd.DataFrame({
        "item": items[row], "text": s.to_numpy()[row], "term": hit["term"].to_numpy(),
        "matched": found["term"].to_numpy(), "kind": hit["kind"].to_numpy(), "position": position.astype("int64"),
        "category": hit["category"].to_numpy(), "legal_basis": hit["legal_basis"].to_numpy(),
        "suggestion": hit["suggestion"].to_numpy(), "replacement": hit["replacement"].to_numpy(),
    })
    if not include_allowed:
        out = out[out["kind"] == "banned"]
    return out.reset_index(drop=True)[cols]


def _rewrite(texts: pd.Series, lexicon: pd.DataFrame, how: str) -> pd.Series:
    """Each text with its banned terms marked 【term】 (how="mark") or replaced by the lexicon's
    replacement (how="fix"); allowed phrases stay as they are."""
    kinds = dict(zip(lexicon["term"].str.casefold(), lexicon["kind"]))
    repl = dict(zip(lexicon["term"].str.casefold(), lexicon["replacement"].fillna("")))
    terms = sorted(lexicon["term"].unique(), key=lambda t: (-len(t), t))
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)

    def sub(m: re.Match) -> str:
        word = m.group(0)
        if kinds.get(word.casefold()) != "banned":
            return word
        return f"【{word}】" if how == "mark" else repl.get(word.casefold(), "")

    out = pd.Series(texts, dtype="str").str.replace(pattern, sub, regex=True)
    if how == "fix":
        out = out.str.replace(r"\s{2,}", " ", regex=True).str.strip()
    return out


def banned_term_findings(data, *, columns: Iterable[str] | None = None,
                         lexicon: pd.DataFrame | None = None, include_allowed: bool = False) -> pd.DataFrame:
    """Banned advertising terms in the shop's own copy: one row per finding.

    Scans the columns named in settings ``[risk] copy_columns`` (default ``products.title`` and
    ``campaigns.name``; customers' review texts are not the shop's copy). Each text is identified
    by its table's key (the SKU for a title, the campaign id for a campaign name).

    Handbook: 001 part 5, compliance risk: titles checked before they go live, no 最 / 第一.

    Returns
    -------
    DataFrame
        ``source`` (table.column), ``item`` (SKU or campaign id), ``text``, ``term``, ``position``
        (1-based), ``category``, ``legal_basis``, ``suggestion``, ``marked_text`` (terms in
        【】), ``suggested_text`` (terms replaced or removed); with ``include_allowed`` also
        ``kind``. Empty when no scanned column is present.
    """
    lex = load_lexicon(_settings(data, "risk")["lexicon_file"] or None) if lexicon is None else lexicon
    columns = list(columns) if columns is not None else list(_settings(data, "risk")["copy_columns"])
    parts = []
    for spec in columns:  # a handful of copy columns
        table, _, col = spec.partition(".")
        if table not in data or col not in data[table].columns:
            continue
        frame = data[table]
        key = TABLES[table].key[0] if table in TABLES and TABLES[table].key else frame.columns[0]
        texts = pd.Series(frame[col].to_numpy(), index=frame[key].to_numpy(), dtype="str")
        found = scan_text(texts, lexicon=lex, include_allowed=include_allowed)
        if found.empty:
            continue
        found.insert(0, "source", spec)
        found["marked_text"] = _rewrite(found["text"], lex, "mark").to_numpy()
        found["suggested_text"] = _rewrite(found["text"], lex, "fix").to_numpy()
        parts.append(found)
    cols = ["source", "item", "text", "term", "position", "category", "legal_basis", "suggestion",
            "marked_text", "suggested_text"] + (["kind"] if include_allowed else [])
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols]


def compliance_review(data, *, lexicon: pd.DataFrame | None = None) -> Section:
    """Compliance section: banned terms in titles and campaign names, the harmless look-alikes
    that were cleared, and counts.

    Every section also has an ``alerts`` table (severity, subject, message) for
    ``record.alerts_from``.

    Tables: ``findings`` (the action list: source, item, text, term, position, category,
    legal_basis, suggestion, suggested_text), ``items`` (one row per flagged text, terms marked
    【】), ``cleared`` (allowed look-alikes found and not flagged). Figures: ``texts_scanned``,
    ``items_flagged``, ``findings_count``, ``lexicon_version``.
    """
    settings = _settings(data, "risk")
    lex = load_lexicon(settings["lexicon_file"] or None) if lexicon is None else lexicon
    columns = list(settings["copy_columns"])
    present = [c for c in columns
               if c.partition(".")[0] in data and c.partition(".")[2] in data[c.partition(".")[0]].columns]
    notes = []
    if not present:
        notes.append(f"Skipped: the scan needs {' or '.join(columns)}, which the source does not provide.")
    lacking = [c for c in columns if c not in present and c.partition(".")[0] in data]
    if present and lacking:  # the table is there without the column (e.g. removed as personal data)
        notes.append(f"Not scanned: {', '.join(lacking)} (the column is not in the source).")
    every = banned_term_findings(data, columns=present, lexicon=lex, include_allowed=True)
    findings = every[every["kind"] == "banned"].drop(columns="kind").reset_index(drop=True)
    cleared = every.loc[every["kind"] == "allowed", ["source", "item", "text", "term", "position"]].reset_index(drop=True)
    items = (findings.groupby(["source", "item"], sort=False)
             .agg(terms=("term", lambda s: "、".join(dict.fromkeys(s))), marked_text=("marked_text", "first"),
                  suggested_text=("suggested_text", "first"), legal_basis=("legal_basis", "first"))
             .reset_index()) if len(findings) else pd.DataFrame(
        columns=["source", "item", "terms", "marked_text", "suggested_text", "legal_basis"])
    scanned = sum(int(data[c.partition(".")[0]][c.partition(".")[2]].notna().sum()) for c in present)
    figures = {"texts_scanned": scanned if present else None,
               "items_flagged": int(len(items)) if present else None,
               "findings_count": int(len(findings)) if present else None,
               "lexicon_version": lex.attrs.get("lexicon_version", "")}
    txt = items.astype("str")
    alerts = _alerts("high", txt["item"], txt["source"].str.replace(r"^[^.]*\.", "", regex=True) + " uses 「"
                     + txt["terms"] + "」 (" + txt["legal_basis"] + "); suggested: " + txt["suggested_text"])
    return Section("Compliance 合规",
                   tables={"findings": findings, "items": items, "cleared": cleared, "alerts": alerts},
                   figures=figures, notes=notes)


# ---------------------------------------------------------------------------------------------
# Supply: concentration, single sourcing, on-time and fill rates, lead-time drift
# ---------------------------------------------------------------------------------------------

def supplier_concentration(purchase_orders: pd.DataFrame, *, start=None, end=None,
                           suppliers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each supplier's share of purchase value (采购额占比) over POs ordered in [start, end).

    purchase value = qty_ordered x unit_cost (qty_ordered alone when unit_cost is absent).

    Handbook: 001 part 5, supply-chain risk (one supplier short of capacity stops the shop).

    Parameters
    ----------
    purchase_orders : contract ``purchase_orders`` (supplier_id, order_date, qty_ordered; unit_cost).
    start, end : order-date window (end exclusive); None = open.
    suppliers : optional contract ``suppliers``, for the ``name`` column.

    Returns
    -------
    DataFrame
        ``supplier_id``, ``name``, ``pos``, ``skus``, ``purchase_value``, ``share`` (sums to 1),
        largest first.

    Examples
    --------
    >>> po = pd.DataFrame({"supplier_id": ["S1", "S1", "S2"], "sku": ["a", "b", "c"],
    ...     "order_date": pd.to_datetime(["2026-01-01"] * 3), "qty_ordered": [10, 10, 20],
    ...     "unit_cost": [5.0, 5.0, 5.0]})
    >>> supplier_concentration(po)["share"].tolist()
    [0.5, 0.5]
    """
    _require(purchase_orders, "purchase_orders", "supplier_id", "order_date", "qty_ordered")
    po = purchase_orders
    keep = pd.Series(True, index=po.index)
    if start is not None:
        keep &= po["order_date"] >= pd.Timestamp(start)
    if end is not None:
        keep &= po["order_date"] < pd.Timestamp(end)
    po = po[keep]
    qty = po["qty_ordered"].astype("float64")
    value = qty * po["unit_cost"] if "unit_cost" in po.columns else qty
    frame = pd.DataFrame({"supplier_id": po["supplier_id"], "po": 1, "sku": po.get("sku"), "value": value.fillna(0.0)})
    out = (frame.groupby("supplier_id").agg(pos=("po", "sum"), skus=("sku", "nunique"), purchase_value=("value", "sum"))
           .reset_index())
    total = out["purchase_value"].sum()
    out["share"] = out["purchase_value"] / total if total > 0 else np.nan
    names = suppliers.set_index("supplier_id")["name"] if suppliers is not None and "name" in suppliers.columns else None
    out.insert(1, "name", out["supplier_id"].map(names) if names is not None else out["supplier_id"])
    out["name"] = out["name"].fillna(out["supplier_id"])
    return out.sort_values(["share", "supplier_id"], ascending=[False, True]).reset_index(drop=True)


def hhi(shares) -> float:
    """Herfindahl-Hirschman index of concentration on the 0-10,000 scale.

    HHI = sum over suppliers of (100 x share)^2: 10,000 for a single supplier, 1,250 for eight
    equal ones. Above 2,500 is called highly concentrated (US merger guidelines, 2010).

    Examples
    --------
    >>> hhi([0.5, 0.3, 0.2])
    3800.0
    """
    s = np.asarray(pd.Series(shares, dtype="float64").dropna(), dtype="float64")
    if s.size == 0:
        return float("nan")
    s = s / s.sum()
    return float(np.round(np.sum((100 * s) ** 2), 6))


def single_sourced_skus(products: pd.DataFrame, sales: pd.DataFrame | pd.Series | None = None) -> pd.DataFrame:
    """SKUs without a backup supplier (单一供应商), weighted by their sales.

    A SKU is single-sourced when ``backup_supplier_id`` is empty (the contract's meaning).

    Handbook: 001 part 5, supply-chain risk: backup agreements with 2-3 core suppliers, so that a
    backup can restock within 72 hours.

    Parameters
    ----------
    products : contract ``products`` (sku, supplier_id, backup_supplier_id; title used when present).
    sales : revenue per SKU, a Series indexed by sku or a frame with ``sku`` and ``revenue``.

    Returns
    -------
    DataFrame
        ``sku``, ``title``, ``supplier_id``, ``backup_supplier_id``, ``single_sourced``, ``sales``,
        ``sales_share`` (of all sales), ``cum_share`` among single-sourced SKUs; largest sales
        first.
    """
    _require(products, "products", "sku", "supplier_id")
    if isinstance(sales, pd.DataFrame):
        sales = sales.groupby("sku")["revenue"].sum()
    sales = pd.Series(dtype="float64") if sales is None else sales
    backup = (products["backup_supplier_id"] if "backup_supplier_id" in products.columns
              else pd.Series(pd.NA, index=products.index))
    out = pd.DataFrame({
        "sku": products["sku"].to_numpy(),
        "title": (products["title"] if "title" in products.columns else products["sku"]).to_numpy(),
        "supplier_id": products["supplier_id"].to_numpy(),
        "backup_supplier_id": backup.to_numpy(),
    })
    out["single_sourced"] = out["backup_supplier_id"].isna() | (out["backup_supplier_id"].astype("str").str.strip() == "")
    out["sales"] = out["sku"].map(sales).fillna(0.0).astype("float64")
    total = out["sales"].sum()
    out["sales_share"] = out["sales"] / total if total > 0 else np.nan
    out = out.sort_values(["sales", "sku"], ascending=[False, True]).reset_index(drop=True)
    single = out["single_sourced"]
    out["cum_share"] = np.where(single, out["sales_share"].where(single, 0.0).cumsum(), np.nan)
    return out


def po_delays(purchase_orders: pd.DataFrame, *, as_of, grace_days: int = 3) -> pd.DataFrame:
    """Each purchase order's delay as known at ``as_of`` (exclusive).

    A receipt dated at or after ``as_of`` has not happened yet. ``days_late`` = received_date -
    expected_date; for an open PO past its expected date, the days overdue so far (a lower bound).
    ``on_time`` is True when received at most ``grace_days`` late, False when later or open past
    the grace, and NA while the PO is not yet due. ``lead_time`` = received_date - order_date.

    Returns
    -------
    DataFrame
        the POs ordered before ``as_of`` with ``received`` (as of), ``days_late``, ``on_time``,
        ``lead_time``, ``fill_rate`` (received / ordered units of a received PO), ``status``
        (received / overdue / open).
    """
    _require(purchase_orders, "purchase_orders", "po_id", "supplier_id", "order_date", "qty_ordered")
    as_of = pd.Timestamp(as_of)
    po = purchase_orders[purchase_orders["order_date"] < as_of].copy()
    received = po["received_date"] if "received_date" in po.columns else pd.Series(pd.NaT, index=po.index)
    received = received.where(received < as_of)
    expected = po["expected_date"] if "expected_date" in po.columns else pd.Series(pd.NaT, index=po.index)
    today = as_of - pd.Timedelta(days=1)
    late = (received - expected).dt.days.astype("float64")
    overdue = received.isna() & expected.notna() & (expected < today)
    late = late.where(received.notna(), ((today - expected).dt.days).where(overdue).astype("float64"))
    decided = received.notna() | (overdue & (late > grace_days))
    on_time = pd.Series(pd.NA, index=po.index, dtype="boolean")
    on_time[decided & expected.notna()] = (late <= grace_days)[decided & expected.notna()]
    po["received"] = received
    po["days_late"] = late
    po["on_time"] = on_time
    po["lead_time"] = (received - po["order_date"]).dt.days.astype("float64")
    qty_rec = po["qty_received"].astype("float64") if "qty_received" in po.columns else pd.Series(np.nan, index=po.index)
    po["fill_rate"] = (qty_rec / po["qty_ordered"].astype("float64")).where(received.notna())
    po["status"] = np.where(received.notna(), "received", np.where(overdue, "overdue", "open"))
    return po.reset_index(drop=True)


def _welch_greater(m1, v1, n1, m0, v0, n0) -> np.ndarray:
    """One-sided Welch t-test p-value that mean 1 > mean 0, from group statistics (arrays)."""
    m1, v1, n1, m0, v0, n0 = (np.asarray(x, dtype="float64") for x in (m1, v1, n1, m0, v0, n0))
    v1, v0 = np.nan_to_num(v1), np.nan_to_num(v0)
    diff = m1 - m0
    with np.errstate(divide="ignore", invalid="ignore"):
        se2 = v1 / n1 + v0 / n0
        t = diff / np.sqrt(se2)
        df = se2 ** 2 / ((v1 / n1) ** 2 / np.maximum(n1 - 1, 1) + (v0 / n0) ** 2 / np.maximum(n0 - 1, 1))
        p = probability.t_sf(t, np.where(np.isfinite(df) & (df > 0), df, 1.0))
    p = np.where(se2 > 0, p, np.where(diff > 0, 0.0, 1.0))
    return np.where((n1 >= 2) & (n0 >= 2), p, np.nan)


def supplier_scorecard(purchase_orders: pd.DataFrame, *, as_of, recent_days: int = 90, baseline_days: int = 365,
                       grace_days: int = 3, min_pos: int = 5, on_time_min: float = 0.9, fill_rate_min: float = 0.95,
                       drift_min_days: float = 3, drift_alpha: float = 0.01,
                       suppliers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Supplier on-time rate (准时率), fill rate (满足率) and lead-time drift, and which to flag.

    - on-time rate = POs due in the recent window (expected date in the last ``recent_days``)
      received at most ``grace_days`` late / POs due and decided (open ones past the grace count
      as late);
    - fill rate = units received / units ordered over the POs received in the window;
    - lead-time drift = mean lead time (received - ordered) of POs received in the recent window
      minus that of POs due in the ``baseline_days`` before it, with a one-sided Welch t-test.

    A supplier is flagged when, with at least ``min_pos`` POs in the window, its on-time rate is
    under ``on_time_min``, its fill rate under ``fill_rate_min``, or its lead time drifted up by at
    least ``drift_min_days`` with p < ``drift_alpha``.

    Handbook: 001 part 5, supply-chain risk.

    Returns
    -------
    DataFrame
        one row per supplier: ``supplier_id``, ``name``, ``quoted_lead_time``, ``pos_due``,
        ``on_time_rate``, ``fill_rate``, ``mean_days_late``, ``overdue_open``,
        ``lead_time_recent``, ``lead_time_baseline``, ``drift_days``, ``drift_p``, ``flagged``,
        ``reasons``; flagged first.
    """
    as_of = pd.Timestamp(as_of)
    po = po_delays(purchase_orders, as_of=as_of, grace_days=grace_days)
    recent_start = as_of - pd.Timedelta(days=recent_days)
    base_start = recent_start - pd.Timedelta(days=baseline_days)
    exp = po["expected_date"] if "expected_date" in po.columns else po["received"]
    in_recent = (exp >= recent_start) & (exp < as_of)
    in_base = (exp >= base_start) & (exp < recent_start) & po["received"].notna()
    rec = po[in_recent]
    decided = rec["on_time"].notna()
    g = pd.DataFrame({
        "supplier_id": rec["supplier_id"], "due": decided.astype("int64"),
        "on_time": rec["on_time"].fillna(False).astype("int64"),
        "late": rec["days_late"], "overdue": (rec["status"] == "overdue").astype("int64"),
        "ordered": rec["qty_ordered"].astype("float64").where(rec["received"].notna()),
        "got": (rec["qty_received"].astype("float64").where(rec["received"].notna())
                if "qty_received" in rec.columns else np.nan),
        "lead": rec["lead_time"],
    }).groupby("supplier_id").agg(
        pos_due=("due", "sum"), on_time_n=("on_time", "sum"), mean_days_late=("late", "mean"),
        overdue_open=("overdue", "sum"), ordered=("ordered", "sum"), got=("got", "sum"),
        lead_n=("lead", "count"), lead_mean=("lead", "mean"), lead_var=("lead", "var"))
    b = po[in_base].groupby("supplier_id")["lead_time"].agg(base_n="count", base_mean="mean", base_var="var")
    ids = sorted(set(po["supplier_id"].dropna()))
    out = pd.DataFrame(index=pd.Index(ids, name="supplier_id")).join(g).join(b).reset_index()
    for c in ("pos_due", "on_time_n", "overdue_open", "lead_n", "base_n"):
        out[c] = out[c].fillna(0).astype("int64")
    out["on_time_rate"] = out["on_time_n"] / out["pos_due"].where(out["pos_due"] > 0)
    out["fill_rate"] = out["got"] / out["ordered"].where(out["ordered"] > 0)
    out["drift_days"] = out["lead_mean"] - out["base_mean"]
    out["drift_p"] = _welch_greater(out["lead_mean"], out["lead_var"], out["lead_n"],
                                    out["base_mean"], out["base_var"], out["base_n"])
    late_flag = (out["pos_due"] >= min_pos) & (out["on_time_rate"] < on_time_min)
    fill_flag = (out["lead_n"] >= min_pos) & (out["fill_rate"] < fill_rate_min)
    drift_flag = ((out["lead_n"] >= min_pos) & (out["base_n"] >= min_pos) & (out["drift_days"] >= drift_min_days)
                  & (out["drift_p"] < drift_alpha))
    out["flagged"] = late_flag | fill_flag | drift_flag
    reasons = pd.DataFrame({
        "late": np.where(late_flag, "on time " + (out["on_time_rate"] * 100).round(0).astype("Int64").astype("str")
                         + "% of " + out["pos_due"].astype("str") + " POs due", ""),
        "fill": np.where(fill_flag, "fill rate " + (out["fill_rate"] * 100).round(0).astype("Int64").astype("str")
                         + "%", ""),
        "drift": np.where(drift_flag, "lead time " + out["lead_mean"].round(1).astype("str") + " days against "
                          + out["base_mean"].round(1).astype("str") + " before", ""),
    })
    out["reasons"] = _join_texts(reasons)
    names = suppliers.set_index("supplier_id") if suppliers is not None else pd.DataFrame()
    out.insert(1, "name", out["supplier_id"].map(names["name"]) if "name" in names.columns else out["supplier_id"])
    out["name"] = out["name"].fillna(out["supplier_id"])
    out.insert(2, "quoted_lead_time", out["supplier_id"].map(names["lead_time_days"])
               if "lead_time_days" in names.columns else np.nan)
    out = out.rename(columns={"lead_mean": "lead_time_recent", "base_mean": "lead_time_baseline"})
    cols = ["supplier_id", "name", "quoted_lead_time", "pos_due", "on_time_rate", "fill_rate", "mean_days_late",
            "overdue_open", "lead_time_recent", "lead_time_baseline", "drift_days", "drift_p", "flagged", "reasons"]
    return out[cols].sort_values(["flagged", "on_time_rate", "supplier_id"], ascending=[False, True, True],
                                 na_position="last").reset_index(drop=True)


def _sku_sales(data, start, end) -> pd.Series:
    if not data.has("order_items"):
        return pd.Series(dtype="float64")
    daily = data.derived("sku_daily")
    window = daily[(daily["date"] >= start) & (daily["date"] < end)]
    return window.groupby("sku")["revenue"].sum()


def supply_risk(data) -> Section:
    """Supply section: concentration (purchase shares, HHI), single-sourced SKUs weighted by
    sales, the supplier scorecard (on-time, fill, lead-time drift) and the POs behind it.

    Tables: ``concentration``, ``single_sourced`` (all SKUs; single-sourced flagged), ``backup_list``
    (single-sourced SKUs making the first 80% of single-sourced sales: the action list),
    ``scorecard``, ``flagged`` (flagged suppliers), ``delays`` (POs with their delay).
    Figures: ``hhi``, ``top_supplier``, ``top_share``, ``single_sourced_share`` (of sales),
    ``single_sourced_skus``, ``suppliers_flagged``, ``worst_on_time``, ``worst_supplier``, ``worst_fill``,
    ``worst_fill_supplier``.
    """
    s = _settings(data, "risk")
    as_of = _as_of(data, ("orders", "order_ts"))
    start = as_of - pd.Timedelta(days=s["supply_window_days"])
    notes, tables, figures = [], {}, dict.fromkeys(
        ["hhi", "top_supplier", "top_share", "single_sourced_share", "single_sourced_skus", "suppliers_flagged",
         "worst_on_time", "worst_supplier", "worst_fill", "worst_fill_supplier"])
    suppliers = data["suppliers"] if data.has("suppliers") else None
    has_po = data.has("purchase_orders")
    sales = _sku_sales(data, start, as_of)
    # concentration: purchase value, else (no POs) the sales of each supplier's SKUs
    if has_po:
        conc = supplier_concentration(data["purchase_orders"], start=start, end=as_of, suppliers=suppliers)
    elif data.has("products", columns={"products": ["supplier_id"]}) and len(sales):
        prod = data["products"]
        fake = pd.DataFrame({"supplier_id": prod["supplier_id"], "sku": prod["sku"],
                             "order_date": as_of - pd.Timedelta(days=1), "qty_ordered": 1,
                             "unit_cost": prod["sku"].map(sales).fillna(0.0)})
        conc = supplier_concentration(fake, suppliers=suppliers).rename(columns={"purchase_value": "sales_value"})
        notes.append("No purchase_orders: concentration is measured on the sales of each supplier's SKUs.")
    else:
        conc = pd.DataFrame(columns=["supplier_id", "name", "pos", "skus", "purchase_value", "share"])
        notes.append("Concentration: " + (data.missing_note("purchase_orders") or "no purchases in the window."))
    tables["concentration"] = conc
    if len(conc):
        figures.update(hhi=hhi(conc["share"]), top_supplier=str(conc["supplier_id"].iloc[0]),
                       top_share=float(conc["share"].iloc[0]))
    # single sourcing
    note = data.missing_note("products", columns={"products": ["supplier_id", "backup_supplier_id"]})
    if note is None:
        single = single_sourced_skus(data["products"], sales)
        figures["single_sourced_share"] = float(single.loc[single["single_sourced"], "sales_share"].sum()) \
            if single["sales"].sum() > 0 else None
        figures["single_sourced_skus"] = int(single["single_sourced"].sum())
        backup = single[single["single_sourced"] & (single["sales"] > 0)]
        backup = backup[(backup["cum_share"] - backup["sales_share"]) < 0.8 * backup["sales_share"].sum()]
    else:
        notes.append("Single sourcing: " + note)
        single = pd.DataFrame(columns=["sku", "title", "supplier_id", "backup_supplier_id", "single_sourced",
                                       "sales", "sales_share", "cum_share"])
        backup = single
    tables["single_sourced"] = single
    # scorecard
    if has_po:
        card = supplier_scorecard(
            data["purchase_orders"], as_of=as_of, recent_days=s["supplier_recent_days"],
            baseline_days=s["supplier_baseline_days"], grace_days=s["on_time_grace_days"],
            min_pos=s["supplier_min_pos"], on_time_min=s["on_time_min"], fill_rate_min=s["fill_rate_min"],
            drift_min_days=s["drift_min_days"], drift_alpha=s["drift_alpha"], suppliers=suppliers)
        delays = po_delays(data["purchase_orders"], as_of=as_of, grace_days=s["on_time_grace_days"])
        scored = card[card["pos_due"] >= s["supplier_min_pos"]]
        if len(scored):
            worst = scored.sort_values(["on_time_rate", "supplier_id"]).iloc[0]
            figures.update(worst_on_time=float(worst["on_time_rate"]), worst_supplier=str(worst["supplier_id"]))
        filled = card[card["fill_rate"].notna()]
        if len(filled):
            worst = filled.sort_values(["fill_rate", "supplier_id"]).iloc[0]
            figures.update(worst_fill=float(worst["fill_rate"]), worst_fill_supplier=str(worst["supplier_id"]))
        figures["suppliers_flagged"] = int(card["flagged"].sum())
    else:
        card = pd.DataFrame(columns=["supplier_id", "name", "quoted_lead_time", "pos_due", "on_time_rate", "fill_rate",
                                     "mean_days_late", "overdue_open", "lead_time_recent", "lead_time_baseline",
                                     "drift_days", "drift_p", "flagged", "reasons"])
        delays = pd.DataFrame(columns=["po_id", "supplier_id", "sku", "order_date", "expected_date", "received",
                                       "days_late", "on_time", "lead_time", "fill_rate", "status"])
        notes.append("Supplier scorecard: " + (data.missing_note("purchase_orders") or ""))
    tables.update(scorecard=card, flagged=card[card["flagged"].astype(bool)].reset_index(drop=True), delays=delays)
    # the action list: single-sourced best sellers, with their supplier's record
    backup = backup.merge(card[["supplier_id", "on_time_rate", "fill_rate", "flagged"]]
                          .rename(columns={"flagged": "supplier_flagged"}), on="supplier_id", how="left")
    backup["priority"] = np.where(backup["supplier_flagged"].fillna(False).astype(bool), "high", "medium")
    tables["backup_list"] = backup[["sku", "title", "supplier_id", "sales", "sales_share", "on_time_rate",
                                    "fill_rate", "supplier_flagged", "priority"]].sort_values(
        ["priority", "sales"], ascending=[True, False]).reset_index(drop=True)
    flagged = tables["flagged"]
    named = flagged["name"].astype("str") != flagged["supplier_id"].astype("str")
    tables["alerts"] = _alerts("high", flagged["supplier_id"],
                               flagged["name"].astype("str").where(named, "").str.cat(flagged["reasons"].astype("str"),
                                                                                      sep=": ").str.lstrip(": "))
    return Section("Supply chain 供应链", tables=tables, figures=figures, notes=notes)


# ---------------------------------------------------------------------------------------------
# Competition: price index and undercuts
# ---------------------------------------------------------------------------------------------

def price_index(competitor_prices: pd.DataFrame, our_prices: pd.Series) -> pd.DataFrame:
    """Daily price index of each competitor against our price (竞品价格指数).

    index = competitor price / our price (1.00 = same price, 0.80 = 20% cheaper than us);
    gap = index - 1.

    Handbook: 001 part 5, competition risk: a competitor watch list of prices, promotions and new
    products.

    Parameters
    ----------
    competitor_prices : contract ``competitor_prices`` (date, sku, competitor, price).
    our_prices : our price per SKU (Series indexed by sku), e.g. ``products.list_price``.

    Returns
    -------
    DataFrame
        ``date``, ``sku``, ``competitor``, ``price``, ``our_price``, ``index``, ``gap``; rows
        whose SKU has no price of ours are dropped.

    Examples
    --------
    >>> cp = pd.DataFrame({"date": pd.to_datetime(["2026-10-01"]), "sku": ["A"],
    ...                    "competitor": ["X"], "price": [80.0]})
    >>> price_index(cp, pd.Series({"A": 100.0}))["gap"].round(2).tolist()
    [-0.2]
    """
    _require(competitor_prices, "competitor_prices", "date", "sku", "competitor", "price")
    ours = pd.Series(our_prices, dtype="float64")
    out = competitor_prices[["date", "sku", "competitor", "price"]].copy()
    out["our_price"] = out["sku"].map(ours)
    out = out[out["our_price"] > 0]
    out["index"] = out["price"] / out["our_price"]
    out["gap"] = out["index"] - 1.0
    return out.sort_values(["sku", "competitor", "date"]).reset_index(drop=True)


def undercut_runs(index: pd.DataFrame, *, pct: float = 0.15, min_days: int = 7) -> pd.DataFrame:
    """Spells of consecutive days in which a competitor was at least ``pct`` below our price,
    kept when they last at least ``min_days`` days (降价截流 alerts).

    Handbook: 001 part 5: when a competitor launches a 9.9-yuan lure, respond quickly (same item
    plus a gift) to hold the traffic entrance.

    Parameters
    ----------
    index : from :func:`price_index` (date, sku, competitor, gap).

    Returns
    -------
    DataFrame
        ``sku``, ``competitor``, ``start``, ``end`` (last day), ``days``, ``mean_gap``,
        ``min_gap``, ``our_price``, ``mean_price``; longest first.
    """
    _require(index, "price index", "date", "sku", "competitor", "gap")
    cols = ["sku", "competitor", "start", "end", "days", "mean_gap", "min_gap", "our_price", "mean_price"]
    below = index[index["gap"] <= -pct + 1e-12].sort_values(["sku", "competitor", "date"])
    if below.empty:
        return pd.DataFrame({"sku": pd.Series(dtype="str"), "competitor": pd.Series(dtype="str"),
                             "start": pd.Series(dtype="datetime64[us]"), "end": pd.Series(dtype="datetime64[us]"),
                             "days": pd.Series(dtype="int64"),
                             **{c: pd.Series(dtype="float64") for c in cols[5:]}})
    day = below["date"].dt.normalize()
    same = (below["sku"].eq(below["sku"].shift()) & below["competitor"].eq(below["competitor"].shift())
            & (day - day.shift()).eq(pd.Timedelta(days=1)))
    run = (~same).cumsum()
    out = below.groupby(run).agg(sku=("sku", "first"), competitor=("competitor", "first"), start=("date", "min"),
                                 end=("date", "max"), days=("date", "size"), mean_gap=("gap", "mean"),
                                 min_gap=("gap", "min"), our_price=("our_price", "last"), mean_price=("price", "mean"))
    out = out[out["days"] >= min_days]
    return out.sort_values(["days", "min_gap"], ascending=[False, True]).reset_index(drop=True)[cols]


BEFORE_DAYS = 28  #: an undercut's effect on our sales is measured against the 28 days before it


def _our_prices(data) -> tuple[pd.Series, str]:
    if data.has("products", columns={"products": ["list_price"]}):
        prod = data["products"]
        return pd.Series(prod["list_price"].to_numpy(), index=prod["sku"].to_numpy(), dtype="float64"), "list price"
    if data.has("order_items"):
        items = data["order_items"]
        return items.groupby("sku")["unit_price"].median(), "median selling price"
    return pd.Series(dtype="float64"), ""


def competition_watch(data) -> Section:
    """Competition section: monthly price index per SKU and competitor, and undercut alerts
    (settings ``[risk] undercut_pct`` / ``undercut_days``) touching the report month, with our own
    units sold per day during the undercut (``units_during``) against the 28 days before it
    (``units_before``) and the change (``sales_change``).

    Tables: ``index_month`` (sku, title, competitor, mean_index, min_index, days_below), ``undercuts``,
    ``daily`` (the month's daily index, for charts). Figures: ``skus_watched``, ``competitors``,
    ``undercut_count``, ``cheapest_gap`` (lowest monthly mean gap), ``price_basis``.
    """
    s = _settings(data, "risk")
    start, end = _month_bounds(data)
    ours, basis = _our_prices(data)
    note = data.missing_note("competitor_prices")
    if note is None and ours.empty:
        note = "Skipped: this section needs products.list_price or order_items for our own price."
    figures = dict.fromkeys(["skus_watched", "competitors", "undercut_count", "cheapest_gap"])
    figures["price_basis"] = basis
    empty_runs = pd.DataFrame(columns=["sku", "title", "competitor", "start", "end", "days", "mean_gap", "min_gap",
                                       "our_price", "mean_price", "units_before", "units_during", "sales_change"])
    if note:
        return Section("Competition 竞争", tables={"index_month": pd.DataFrame(
            columns=["sku", "title", "competitor", "mean_index", "min_index", "days_below"]), "undercuts": empty_runs,
            "daily": pd.DataFrame(columns=["date", "sku", "competitor", "price", "our_price", "index", "gap"])},
            figures=figures, notes=[note])
    idx = price_index(data["competitor_prices"], ours)
    month = idx[(idx["date"] >= start) & (idx["date"] < end)]
    pct = s["undercut_pct"]
    index_month = (month.assign(below=month["gap"] <= -pct + 1e-12)
                   .groupby(["sku", "competitor"]).agg(mean_index=("index", "mean"), min_index=("index", "min"),
                                                       days_below=("below", "sum")).reset_index())
    runs = undercut_runs(idx[idx["date"] < end], pct=pct, min_days=s["undercut_days"])
    runs = runs[(runs["end"] >= start)].reset_index(drop=True)
    # our units per day during the undercut (up to the month's end) against the 28 days before it
    if len(runs) and data.has("order_items"):
        daily = data.derived("sku_daily")[["date", "sku", "units"]]
        span = runs.reset_index().merge(daily, on="sku")
        last = span["end"].clip(upper=end - pd.Timedelta(days=1))
        during = (span["date"] >= span["start"]) & (span["date"] <= last)
        before = (span["date"] < span["start"]) & (span["date"] >= span["start"] - pd.Timedelta(days=BEFORE_DAYS))
        units = pd.DataFrame({"run": span["index"], "during": span["units"].where(during, 0),
                              "before": span["units"].where(before, 0)}).groupby("run").sum()
        days_during = ((runs["end"].clip(upper=end - pd.Timedelta(days=1)) - runs["start"]).dt.days + 1)
        runs["units_before"] = units["before"].reindex(runs.index).fillna(0) / BEFORE_DAYS
        runs["units_during"] = units["during"].reindex(runs.index).fillna(0) / days_during
        runs["sales_change"] = runs["units_during"] / runs["units_before"].where(runs["units_before"] > 0) - 1
    else:
        runs = runs.assign(units_before=np.nan, units_during=np.nan, sales_change=np.nan)
    titles = data["products"].set_index("sku")["title"] if data.has("products", columns={"products": ["title"]}) else {}
    runs.insert(1, "title", runs["sku"].map(titles) if len(titles) else runs["sku"])
    index_month.insert(1, "title", index_month["sku"].map(titles) if len(titles) else index_month["sku"])
    change = _fmt(runs["sales_change"], "{:+.0%}").replace("nan%", "n/a")
    alerts = _alerts("high", runs["sku"], runs["competitor"] + " " + _fmt((-runs["mean_gap"]), "{:.0%}")
                     + " below our price for " + runs["days"].astype("str") + " days from "
                     + pd.to_datetime(runs["start"]).dt.strftime("%Y-%m-%d").astype("str") + "; our units per day "
                     + change)
    figures.update(skus_watched=int(month["sku"].nunique()), competitors=int(month["competitor"].nunique()),
                   undercut_count=int(len(runs)),
                   cheapest_gap=float(index_month["mean_index"].min() - 1) if len(index_month) else None)
    return Section("Competition 竞争", tables={"index_month": index_month, "undercuts": runs[empty_runs.columns],
                                             "daily": month.reset_index(drop=True), "alerts": alerts},
                   figures=figures)


# ---------------------------------------------------------------------------------------------
# Reputation: bad reviews (差评)
# ---------------------------------------------------------------------------------------------

def _bad(reviews: pd.DataFrame, max_rating: int) -> pd.Series:
    return (reviews["rating"].astype("float64") <= max_rating)


def monthly_bad_review_rate(reviews: pd.DataFrame, *, max_rating: int = 2) -> pd.DataFrame:
    """Shop-wide bad-review rate (差评率) per month: reviews rated ``max_rating`` or lower / all
    reviews of the month.

    Handbook: 001 part 5: keep the bad-review rate within 5%.

    Returns
    -------
    DataFrame
        ``month`` (YYYY-MM), ``reviews``, ``bad``, ``rate``.

    Examples
    --------
    >>> r = pd.DataFrame({"rating": [1, 5, 5, 4], "review_ts": pd.to_datetime(["2026-10-01"] * 4)})
    >>> monthly_bad_review_rate(r)["rate"].tolist()
    [0.25]
    """
    _require(reviews, "reviews", "rating", "review_ts")
    ts = reviews["review_ts"]
    # month number (year x 12 + month - 1) per review; only the distinct months are formatted
    month = (ts.dt.year * 12 + ts.dt.month - 1).to_numpy(dtype="float64", na_value=np.nan)
    bad = pd.Series(_bad(reviews, max_rating).astype("int64").to_numpy())
    out = bad.groupby(month).agg(["size", "sum"])
    key = out.index.to_numpy(dtype="int64")
    first = pd.to_datetime(pd.DataFrame({"year": key // 12, "month": key % 12 + 1, "day": 1}))
    out = pd.DataFrame({"month": first.dt.strftime("%Y-%m"), "reviews": out["size"].to_numpy(dtype="int64"),
                        "bad": out["sum"].to_numpy(dtype="int64")})
    out["rate"] = out["bad"] / out["reviews"]
    return out


def _wilson(k, n, alpha=0.05) -> tuple[np.ndarray, np.ndarray]:
    k, n = np.asarray(k, dtype="float64"), np.asarray(n, dtype="float64")
    z = probability.norm_isf(alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def sku_bad_review_rates(reviews: pd.DataFrame, *, start, end, max_rating: int = 2, limit: float = 0.05,
                         min_reviews: int = 20) -> pd.DataFrame:
    """Bad-review rate per SKU over reviews in [start, end), with a 95% Wilson interval.

    A SKU is ``over_line`` when it has at least ``min_reviews`` reviews and the lower end of its
    interval is above ``limit``: clearly over the 5% line, not by the luck of a few reviews.

    Returns
    -------
    DataFrame
        ``sku``, ``reviews``, ``bad``, ``rate``, ``ci_low``, ``ci_high``, ``over_line``; highest
        rate first.
    """
    _require(reviews, "reviews", "sku", "rating", "review_ts")
    r = reviews[(reviews["review_ts"] >= pd.Timestamp(start)) & (reviews["review_ts"] < pd.Timestamp(end))]
    out = (pd.DataFrame({"sku": r["sku"], "bad": _bad(r, max_rating).astype("int64")})
           .groupby("sku").agg(reviews=("bad", "size"), bad=("bad", "sum")).reset_index())
    out["rate"] = out["bad"] / out["reviews"]
    out["ci_low"], out["ci_high"] = _wilson(out["bad"], out["reviews"])
    out["over_line"] = (out["reviews"] >= min_reviews) & (out["ci_low"] > limit)
    return out.sort_values(["rate", "reviews"], ascending=[False, False]).reset_index(drop=True)


def review_spikes(reviews: pd.DataFrame, *, start, end, baseline_months: int = 6, max_rating: int = 2,
                  prior_reviews: float = 50, min_bad: int = 5, alpha: float = 0.01) -> pd.DataFrame:
    """Bad-review spikes (差评预警): SKUs whose bad reviews in [start, end) are far above their
    own baseline.

    baseline rate p0 = (bad_b + w x shop rate) / (reviews_b + w) over the SKU's reviews in the
    ``baseline_months`` before ``start`` (shrunk towards the shop-wide rate with the weight of
    ``w = prior_reviews`` reviews, so a SKU with few past reviews is not judged on two of them);
    expected = reviews in the window x p0; p-value = P(X >= bad) for X ~ Binomial(reviews, p0),
    Holm-corrected over the SKUs reviewed in the window. A spike needs at least ``min_bad`` bad
    reviews and a corrected p-value under ``alpha``: a test, not a fixed ratio.

    Handbook: 001 part 5, public-opinion risk: a bad-review early warning.

    Returns
    -------
    DataFrame
        ``sku``, ``reviews``, ``bad``, ``rate``, ``baseline_reviews``, ``baseline_bad``,
        ``baseline_rate`` (shrunk), ``expected_bad``, ``ratio``, ``p_value``, ``p_adjusted``,
        ``spike``; spikes first, then by p-value.
    """
    _require(reviews, "reviews", "sku", "rating", "review_ts")
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    base_start = start - pd.DateOffset(months=baseline_months)
    ts = reviews["review_ts"]
    frame = pd.DataFrame({"sku": reviews["sku"], "bad": _bad(reviews, max_rating).astype("int64"),
                          "now": (ts >= start) & (ts < end), "base": (ts >= base_start) & (ts < start)})
    now = frame[frame["now"]].groupby("sku").agg(reviews=("bad", "size"), bad=("bad", "sum"))
    base = frame[frame["base"]].groupby("sku").agg(baseline_reviews=("bad", "size"), baseline_bad=("bad", "sum"))
    cols = ["sku", "reviews", "bad", "rate", "baseline_reviews", "baseline_bad", "baseline_rate", "expected_bad",
            "ratio", "p_value", "p_adjusted", "spike"]
    if now.empty:
        return pd.DataFrame(columns=cols)
    shop = frame.loc[frame["base"], "bad"].mean() if frame["base"].any() else frame.loc[frame["now"], "bad"].mean()
    out = now.join(base).fillna({"baseline_reviews": 0, "baseline_bad": 0}).reset_index()
    out["baseline_reviews"] = out["baseline_reviews"].astype("int64")
    out["baseline_bad"] = out["baseline_bad"].astype("int64")
    out["rate"] = out["bad"] / out["reviews"]
    p0 = (out["baseline_bad"] + prior_reviews * shop) / (out["baseline_reviews"] + prior_reviews)
    p0 = p0.fillna(shop).clip(lower=1e-6, upper=1 - 1e-6)  # no baseline and no prior: the shop rate
    out["baseline_rate"] = p0
    out["expected_bad"] = out["reviews"] * p0
    out["ratio"] = out["bad"] / out["expected_bad"]
    out["p_value"] = probability.binom_sf(out["bad"] - 1, out["reviews"], p0)
    out["p_adjusted"] = _holm(out["p_value"].to_numpy())
    out["spike"] = (out["bad"] >= min_bad) & (out["p_adjusted"] < alpha)
    return out.sort_values(["spike", "p_value", "sku"], ascending=[False, True, True]).reset_index(drop=True)[cols]


def bad_review_replies(reviews: pd.DataFrame, *, start, end, max_rating: int = 2, within_hours: float = 24) -> pd.DataFrame:
    """Each bad review of [start, end) and how fast the shop replied (24小时内响应).

    A reply dated at or after ``end`` has not happened yet. ``status``: ``on time`` (replied
    within ``within_hours``), ``late``, ``no reply`` (none and the deadline passed) or ``pending``
    (none yet, deadline after ``end``).

    Handbook: 001 part 5: respond to a bad review within 24 hours (apology, a small
    compensation coupon) and invite a follow-up review.

    Returns
    -------
    DataFrame
        ``review_id``, ``sku``, ``rating``, ``review_ts``, ``reply_ts``, ``hours_to_reply``,
        ``status``, ``text`` (when present); oldest first.
    """
    _require(reviews, "reviews", "review_id", "sku", "rating", "review_ts")
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    r = reviews[(reviews["review_ts"] >= start) & (reviews["review_ts"] < end) & _bad(reviews, max_rating)]
    reply = r["reply_ts"] if "reply_ts" in r.columns else pd.Series(pd.NaT, index=r.index, dtype="datetime64[us]")
    reply = reply.where(reply < end)
    hours = (reply - r["review_ts"]).dt.total_seconds() / 3600
    due = r["review_ts"] + pd.Timedelta(hours=within_hours)
    status = np.select([hours <= within_hours, hours > within_hours, due < end],
                       ["on time", "late", "no reply"], "pending")
    out = pd.DataFrame({"review_id": r["review_id"], "sku": r["sku"], "rating": r["rating"],
                        "review_ts": r["review_ts"], "reply_ts": reply, "hours_to_reply": hours, "status": status})
    if "text" in r.columns:
        out["text"] = r["text"]
    return out.sort_values("review_ts").reset_index(drop=True)


def reputation_watch(data) -> Section:
    """Reputation section: the shop's monthly bad-review rate against the 5% line, per-SKU rates,
    spikes against each SKU's own baseline, and replies to bad reviews within 24 hours.

    Tables: ``monthly``, ``skus`` (the month, per SKU), ``spikes`` (all SKUs tested),
    ``spiking`` (the spikes), ``over_line`` (SKUs clearly over the line), ``replies`` (every bad
    review of the month), ``reply_list`` (bad reviews not answered within the hours: the action
    list). Figures: ``bad_review_rate``, ``reviews``, ``bad_reviews``, ``spike_count``,
    ``skus_over_line``, ``replied_within_share``, ``median_reply_hours``.
    """
    s = _settings(data, "reputation")
    start, end = _month_bounds(data)
    note = data.missing_note("reviews")
    empty = {"monthly": pd.DataFrame(columns=["month", "reviews", "bad", "rate"]),
             "skus": pd.DataFrame(columns=["sku", "reviews", "bad", "rate", "ci_low", "ci_high", "over_line"]),
             "spikes": review_spikes(pd.DataFrame({"sku": [], "rating": [], "review_ts": pd.to_datetime([])}),
                                     start=start, end=end),
             "replies": pd.DataFrame(columns=["review_id", "sku", "rating", "review_ts", "reply_ts", "hours_to_reply",
                                              "status", "text"])}
    figures = dict.fromkeys(["bad_review_rate", "reviews", "bad_reviews", "spike_count", "skus_over_line",
                             "replied_within_share", "median_reply_hours"])
    if note:
        empty.update(spiking=empty["spikes"], over_line=empty["skus"], reply_list=empty["replies"])
        return Section("Reputation 口碑", tables=empty, figures=figures, notes=[note])
    # the rating and time of every review; the other columns only for the rows a table uses: the
    # SKU for the months the spikes look at, the ids, replies and texts for the month's bad reviews
    mr = s["bad_review_max_rating"]
    base_start = start - pd.DateOffset(months=s["spike_baseline_months"])
    scores = _table(data, "reviews", ["rating", "review_ts"], keep=False)
    _require(scores, "reviews", "rating", "review_ts")
    scores = scores[["rating", "review_ts"]]  # a table in memory has them all
    ts = scores["review_ts"]
    before = (ts < end).to_numpy(dtype=bool)
    recent = np.flatnonzero(before & (ts >= base_start).to_numpy(dtype=bool))  # ascending positions
    month_bad = np.flatnonzero(before & (ts >= start).to_numpy(dtype=bool) & _bad(scores, mr).to_numpy(dtype=bool))
    del ts
    monthly = monthly_bad_review_rate(_rows(scores, before), max_rating=mr)
    window = scores.iloc[recent].reset_index(drop=True)
    del scores, before
    window.insert(0, "sku", _fetch_rows(data, "reviews", ["sku"], recent)["sku"].array)
    skus = sku_bad_review_rates(window, start=start, end=end, max_rating=mr, limit=s["bad_review_rate_max"],
                                min_reviews=s["sku_min_reviews"])
    spikes = review_spikes(window, start=start, end=end, baseline_months=s["spike_baseline_months"], max_rating=mr,
                           prior_reviews=s["spike_prior_reviews"], min_bad=s["spike_min_bad"], alpha=s["spike_alpha"])
    del window, recent
    shown = [c for c in COLUMNS["reviews"] if has_column(data, "reviews", c)]
    replies = bad_review_replies(_fetch_rows(data, "reviews", shown, month_bad), start=start, end=end, max_rating=mr,
                                 within_hours=s["reply_within_hours"])
    release_free_memory()
    decided = replies[replies["status"] != "pending"]
    this = monthly[monthly["month"] == start.strftime("%Y-%m")]
    figures.update(
        bad_review_rate=float(this["rate"].iloc[0]) if len(this) else None,
        reviews=int(this["reviews"].iloc[0]) if len(this) else 0,
        bad_reviews=int(this["bad"].iloc[0]) if len(this) else 0,
        spike_count=int(spikes["spike"].sum()), skus_over_line=int(skus["over_line"].sum()),
        replied_within_share=float((decided["status"] == "on time").mean()) if len(decided) else None,
        median_reply_hours=float(replies["hours_to_reply"].median()) if replies["hours_to_reply"].notna().any() else None)
    spiking = spikes[spikes["spike"]].reset_index(drop=True)
    over = skus[skus["over_line"] & ~skus["sku"].isin(spiking["sku"])]
    alerts = pd.concat([
        _alerts("high", spiking["sku"], "bad-review spike: " + spiking["bad"].astype("str") + " bad of "
                + spiking["reviews"].astype("str") + " reviews (" + _fmt(spiking["rate"], "{:.1%}")
                + ") against " + _fmt(spiking["expected_bad"], "{:.1f}") + " expected from its own baseline of "
                + _fmt(spiking["baseline_rate"], "{:.1%}")),
        _alerts("medium", over["sku"], "bad-review rate " + _fmt(over["rate"], "{:.1%}") + " of "
                + over["reviews"].astype("str") + " reviews, clearly over the "
                + f"{s['bad_review_rate_max']:.0%} line")], ignore_index=True)
    return Section("Reputation 口碑", tables={
        "monthly": monthly, "skus": skus, "spikes": spikes, "spiking": spiking,
        "over_line": skus[skus["over_line"]].reset_index(drop=True), "replies": replies,
        "reply_list": replies[replies["status"].isin(["late", "no reply", "pending"])].reset_index(drop=True),
        "alerts": alerts},
        figures=figures)


# ---------------------------------------------------------------------------------------------
# Fraud: linked accounts, coupon abuse, abnormal refunds, a scored review list
# ---------------------------------------------------------------------------------------------

def _rows(frame: pd.DataFrame, mask, columns=None) -> pd.DataFrame:
    """``frame`` (or its ``columns``) at the rows of a boolean ``mask``; the columns are picked
    before the rows, and an all-true mask copies nothing (text columns are costly to filter)."""
    if columns is not None:
        frame = frame[[c for c in columns if c in frame.columns]]
    mask = np.asarray(mask, dtype=bool)
    return frame if mask.all() else frame.iloc[np.flatnonzero(mask)]  # a take: Arrow text filters scan every row


def _shared_values(owner: np.ndarray, value: np.ndarray, width: int | None = None) -> np.ndarray:
    """For each ``value`` code 0..width-1 (a phone or address hash; -1: none), whether two or more
    distinct ``owner`` codes (customers) carry it: one customer is written per value, and a value
    is shared when a row of it names another. Without a sort or a pair of codes per row: on
    seventy million orders most hashes belong to one account, and only the shared ones link any."""
    ok = value >= 0
    width = (int(value.max()) + 1 if ok.any() else 0) if width is None else width
    seen = np.full(width, -1, dtype=owner.dtype if owner.dtype.kind == "i" else np.int64)
    v, o = value[ok], owner[ok]
    seen[v] = o  # one of each value's owners (the last written)
    shared = np.zeros(width, dtype=bool)
    shared[v[seen[v] != o]] = True
    return shared


def _linked_labels(cust_codes: np.ndarray, n: int, hash_codes: Iterable[np.ndarray],
                   shared: Iterable[np.ndarray] | None = None) -> np.ndarray:
    """Group number (1-based, by the group's smallest customer code) of each of ``n`` customers
    linked by shared hashes: ``cust_codes`` per order, each of ``hash_codes`` per order (-1 for
    no hash), as graph components. ``shared``: per hash column, which of its codes two or more
    customers carry (:func:`_shared_values`, computed when not given).

    Only the hashes carried by two or more customers can join anyone, so the graph holds only
    them and their customers (every other customer is a group of its own): on a large shop a
    graph of every phone and address would hold tens of millions of nodes."""
    hash_codes = list(hash_codes)
    shared = list(shared) if shared is not None else [_shared_values(cust_codes, h) for h in hash_codes]
    rows, cols, offset = [], [], 0
    for codes, on in zip(hash_codes, shared):  # one or two hash columns
        if not on.any():
            continue
        at = np.flatnonzero(on[np.where(codes >= 0, codes, 0)] & (codes >= 0))  # orders on a shared hash
        pairs = _sorted_distinct(codes[at].astype("int64") * max(n, 1) + cust_codes[at])
        rows.append(pairs // max(n, 1) + offset)
        cols.append(pairs % max(n, 1))
        offset += len(on)
    comp_min = np.arange(n, dtype="int64")  # each group's smallest customer code, per customer
    if rows:
        r, c = np.concatenate(rows), np.concatenate(cols)
        members = _sorted_distinct(c)  # the customers on a shared hash
        hubs, hub_rows = np.unique(r, return_inverse=True)
        k = len(members)
        node = np.searchsorted(members, c)  # customers first, then the hashes
        graph = sparse.csr_matrix((np.ones(len(r), dtype=np.int8), (k + hub_rows, node)),
                                  shape=(k + len(hubs), k + len(hubs)))
        _, labels = csgraph.connected_components(graph, directed=False)
        low = np.full(labels.max() + 1, n, dtype="int64")
        np.minimum.at(low, labels[:k], members)
        comp_min[members] = low[labels[:k]]
    # number groups by their smallest customer code (customers are sorted)
    root = comp_min == np.arange(n)
    return np.cumsum(root, dtype="int64")[comp_min]


def _group_names(rank: np.ndarray, groups: int) -> pd.Series:
    """``L`` + the zero-padded group number, for each of ``rank`` (1-based group numbers)."""
    width = max(5, len(str(groups)))
    return "L" + pd.Series(rank).astype("str").str.zfill(width)


def _distinct_per(owner: np.ndarray, value: np.ndarray, n: int) -> np.ndarray:
    """The number of distinct ``value`` codes (>= 0) per ``owner`` code, for owners 0..n-1."""
    ok = (value >= 0) & (owner >= 0)
    if not ok.any():
        return np.zeros(n, dtype="int64")
    width = int(value.max()) + 1
    pairs = _sorted_distinct(owner[ok].astype("int64") * width + value[ok])
    return np.bincount(pairs // width, minlength=n).astype("int64")


def _min_per(times: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """The earliest of ``times`` (datetime64, NaT skipped) per ``owner`` code 0..n-1, NaT where an
    owner has none: ``Series(times).groupby(owner).min()`` for owners that all occur, without the
    groupby (ten times slower on millions of rows)."""
    if times.dtype.kind != "M":  # not plain datetime64 (a time zone, say): pandas' own groupby
        return pd.Series(times).groupby(owner).min().to_numpy()
    t = times.view("int64")
    big = np.iinfo("int64").max
    out = np.full(n, big, dtype="int64")
    np.minimum.at(out, owner, np.where(np.isnat(times), big, t))
    out[out == big] = np.iinfo("int64").min  # NaT
    return out.view(times.dtype)


def _sorted_distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct values of an integer array, sorted (a sort and a diff: faster than np.unique)."""
    keys = np.sort(keys)
    if len(keys) > 1:
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return keys


def _linked_frame(cust_codes: np.ndarray, customers, hashes: Mapping[str, np.ndarray], *,
                  counts: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """The :func:`linked_accounts` table from integer codes (customers sorted), with the group
    number of each customer; without the ``contacts`` and ``addresses`` columns when not
    ``counts`` (the fraud section does not read them)."""
    n = len(customers)
    rank = _linked_labels(cust_codes, n, hashes.values())
    size = np.bincount(rank, minlength=rank.max() + 1 if n else 1)
    groups = int(rank.max()) if n else 0
    # text ids stay Arrow text (a round trip through Python strings costs seconds for millions)
    ids = customers.array if isinstance(customers, pd.Index) and customers.dtype == "str" \
        else np.asarray(customers, dtype=object)
    out = pd.DataFrame({"customer_id": ids,
                        "group_id": _group_names(rank, groups),
                        "group_size": size[rank].astype("int64")})
    for key, name in (("contact_hash", "contacts"), ("address_hash", "addresses")):
        if counts:
            out[name] = _distinct_per(cust_codes, hashes[key], n) if key in hashes else 0
    return out, rank


def linked_accounts(orders: pd.DataFrame, *, keys: Iterable[str] = ("contact_hash", "address_hash")) -> pd.DataFrame:
    """Accounts linked by a shared contact or address hash (关联账户), as graph components.

    Every customer and every distinct hash is a node; an order joins its customer to its hashes.
    Connected components (scipy.sparse.csgraph) are the linked groups: two accounts are in one
    group when a chain of shared phones or addresses joins them.

    Handbook: 002 part 06, a real-time risk-control system; linked accounts are the first sign of
    a ring of fake accounts (刷单 / 薅羊毛).

    Parameters
    ----------
    orders : contract ``orders`` with ``customer_id`` and at least one of ``keys``.

    Returns
    -------
    DataFrame
        one row per customer: ``customer_id``, ``group_id`` (``L`` + number, by the group's
        smallest customer id), ``group_size``, ``contacts`` and ``addresses`` (distinct hashes of
        the account).

    Examples
    --------
    >>> o = pd.DataFrame({"customer_id": ["a", "b", "c"], "contact_hash": ["p1", "p1", "p2"],
    ...                   "address_hash": ["x", "y", "z"]})
    >>> linked_accounts(o)[["customer_id", "group_size"]].values.tolist()
    [['a', 2], ['b', 2], ['c', 1]]
    """
    _require(orders, "orders", "customer_id")
    keys = [k for k in keys if k in orders.columns]
    o = _rows(orders, orders["customer_id"].notna(), ["customer_id", *keys])
    cust_codes, customers = pd.factorize(o["customer_id"], sort=True)
    return _linked_frame(cust_codes, customers, {k: pd.factorize(o[k])[0] for k in keys})[0]


def _first_rows(orders: pd.DataFrame, cust_codes: np.ndarray, first_ts: np.ndarray | None = None) -> np.ndarray:
    """True for each order that comes first among its customer's orders by (order_ts, order_id),
    as a stable sort puts them (missing times last); False where the customer code is -1.
    ``first_ts``: each customer's first order time when known (:func:`_min_per`)."""
    ids = (lambda rows: orders["order_id"].iloc[rows].array) if "order_id" in orders.columns else None
    return _first_rows_at(orders["order_ts"].to_numpy(), cust_codes, first_ts, ids)


def _first_rows_at(times: np.ndarray, cust_codes: np.ndarray, first_ts: np.ndarray | None = None,
                   order_ids=None) -> np.ndarray:
    """:func:`_first_rows` from the orders' times (datetime64); ``order_ids(rows)`` gives the order
    ids of those rows (None: no order ids), asked only for the orders tied at a first moment."""
    t = times
    nat = np.isnat(t)
    t = np.where(nat, np.iinfo("int64").max, t.view("int64"))
    valid = cust_codes >= 0
    m = int(cust_codes.max()) + 1 if valid.any() else 0
    if first_ts is not None and len(first_ts) == m:
        tmin = np.where(np.isnat(first_ts), np.iinfo("int64").max, first_ts.view("int64"))
    else:
        tmin = np.full(m, np.iinfo("int64").max, dtype="int64")
        np.minimum.at(tmin, cust_codes[valid], t[valid])
    cand = valid & (t == tmin[np.where(valid, cust_codes, 0)])
    ncand = np.bincount(cust_codes[cand], minlength=m)
    first = cand & (ncand[np.where(valid, cust_codes, 0)] == 1)
    tie = np.flatnonzero(cand & ~first)
    if len(tie):  # several orders at a customer's first moment: the order id (then position) decides
        sub = pd.DataFrame({"order_ts": times[tie]}, index=tie)
        keys = ["order_ts"]
        if order_ids is not None:
            sub["order_id"] = order_ids(tie)
            keys.append("order_id")
        rank = sub[keys].assign(_c=cust_codes[tie]).sort_values(keys).groupby("_c").cumcount()
        first[tie] = rank.reindex(sub.index).eq(0).to_numpy()
    return first


def new_customer_coupons(orders: pd.DataFrame, *, first_share: float = 0.9, min_uses: int = 10) -> list[str]:
    """Coupon codes that act as new-customer coupons (新人券): used on a customer's first order
    in at least ``first_share`` of their (at least ``min_uses``) uses.

    Examples
    --------
    >>> o = pd.DataFrame({"customer_id": list("aabb"), "order_ts": pd.to_datetime(["2026-01-01", "2026-02-01"] * 2),
    ...                   "coupon_code": ["NEW", "X", "NEW", "X"]})
    >>> new_customer_coupons(o, min_uses=2)
    ['NEW']
    """
    if "coupon_code" not in orders.columns or "customer_id" not in orders.columns:
        return []
    cust_codes = pd.factorize(orders["customer_id"])[0]
    return _new_customer_coupons(orders, cust_codes, first_share=first_share, min_uses=min_uses)


def _new_customer_coupons(orders: pd.DataFrame, cust_codes: np.ndarray, *, first_share: float, min_uses: int,
                          first_ts: np.ndarray | None = None) -> list[str]:
    if "coupon_code" not in orders.columns:
        return []
    first = _first_rows(orders, cust_codes, first_ts)
    used = orders["coupon_code"].notna().to_numpy() & (cust_codes >= 0)
    share = pd.Series(first[used]).groupby(orders["coupon_code"].to_numpy()[used]).agg(["mean", "size"])
    return sorted(share.index[(share["mean"] >= first_share) & (share["size"] >= min_uses)].tolist())


def coupon_abuse(orders: pd.DataFrame, coupons: Iterable[str]) -> pd.DataFrame:
    """Phones (contact hashes) on which two or more accounts used a new-customer coupon (薅羊毛).

    Returns
    -------
    DataFrame
        ``contact_hash``, ``accounts`` (accounts on that phone), ``coupon_accounts`` (of them,
        those that used one of ``coupons``), ``coupon_orders``, ``coupons``, ``first_use``,
        ``last_use``; most accounts first. Empty when orders lack contact_hash or coupon_code.
    """
    cols = ["contact_hash", "accounts", "coupon_accounts", "coupon_orders", "coupons", "first_use", "last_use"]
    coupons = list(coupons)
    if not coupons or not {"contact_hash", "coupon_code", "customer_id"} <= set(orders.columns):
        return pd.DataFrame(columns=cols)
    base = orders["contact_hash"].notna() & orders["customer_id"].notna()
    if "status" in orders.columns:
        base &= paid_mask(orders)
    base = base.to_numpy(dtype=bool)
    # only the coupon orders are filtered row by row; the phone's accounts are counted on the phones found
    use = ["contact_hash", "customer_id", "coupon_code", "order_id", "order_ts"]
    used = _rows(orders, base & orders["coupon_code"].isin(coupons).to_numpy(dtype=bool), use)
    reused = used.groupby("contact_hash")["customer_id"].nunique()
    used = used[used["contact_hash"].isin(reused.index[reused >= 2])]
    codes = used[["contact_hash", "coupon_code"]].drop_duplicates().sort_values("coupon_code")
    g = used.groupby("contact_hash").agg(coupon_accounts=("customer_id", "nunique"), coupon_orders=("order_id", "size"),
                                         first_use=("order_ts", "min"), last_use=("order_ts", "max"))
    g["coupons"] = codes.groupby("contact_hash")["coupon_code"].agg(", ".join)
    phones = _rows(orders, base & orders["contact_hash"].isin(g.index).to_numpy(dtype=bool), ["contact_hash", "customer_id"])
    accounts = phones.groupby("contact_hash")["customer_id"].nunique()
    g.insert(0, "accounts", accounts.reindex(g.index).astype("int64"))
    return g.reset_index().sort_values(["coupon_accounts", "contact_hash"], ascending=[False, True]) \
        .reset_index(drop=True)[cols]


def _refunded(orders: pd.DataFrame) -> pd.Series:
    refunded = pd.Series(False, index=orders.index)
    if "status" in orders.columns:
        refunded |= orders["status"].eq("refunded").fillna(False)
    if "refund_amount" in orders.columns:
        refunded |= orders["refund_amount"].fillna(0.0) > 0
    return refunded


def abnormal_refunds(orders: pd.DataFrame, groups: pd.DataFrame | None = None, *, min_refunds: int = 3,
                     alpha: float = 0.01) -> pd.DataFrame:
    """Accounts, or linked groups of accounts, that refund far more often than the shop.

    Per unit (a linked group from :func:`linked_accounts`, or each account when ``groups`` is
    None): paid orders n, refunded orders k (status refunded or a refund amount); p-value =
    P(X >= k) for X ~ Binomial(n, shop refund rate); Benjamini-Hochberg over all units. Abnormal
    when k >= ``min_refunds`` and the adjusted p-value < ``alpha``.

    Handbook: 002 part 06, risk control; abnormal refund behaviour (恶意退款).

    Returns
    -------
    DataFrame
        ``unit`` (group id or customer id), ``accounts``, ``paid_orders``, ``refunds``,
        ``refund_rate``, ``shop_rate``, ``p_value``, ``p_adjusted``, ``abnormal``; all units, most
        significant first.
    """
    _require(orders, "orders", "customer_id")
    keep = orders["customer_id"].notna() & paid_mask(orders)
    o = _rows(orders, keep, ["customer_id", "status", "refund_amount"])
    cust_codes, customers = pd.factorize(o["customer_id"], sort=True)
    if groups is None:
        unit_codes, names = cust_codes, pd.Series(customers)
    else:
        gid = pd.Series(groups["group_id"].to_numpy(), index=groups["customer_id"]).reindex(customers)
        gcodes, names = pd.factorize(gid, sort=True)
        unit_codes = np.where(cust_codes >= 0, gcodes[cust_codes], -1)
        names = pd.Series(names)
    return _refund_units(unit_codes, names, cust_codes, _refunded(o).to_numpy(dtype=bool),
                         min_refunds=min_refunds, alpha=alpha)


def _refund_units(unit_codes: np.ndarray, names: pd.Series, cust_codes: np.ndarray, refunded: np.ndarray, *,
                  min_refunds: int, alpha: float) -> pd.DataFrame:
    """:func:`abnormal_refunds` from integer codes: per paid order its unit (-1: none), customer and
    whether it was refunded; ``names`` the unit names by code (sorted)."""
    return _refund_frame(_refund_arrays(unit_codes, len(names), refunded, min_refunds=min_refunds, alpha=alpha),
                         names, unit_codes, cust_codes)


def _refund_arrays(unit_codes: np.ndarray, m: int, refunded: np.ndarray, *, min_refunds: int,
                   alpha: float) -> dict:
    """The numbers of :func:`_refund_units` for the ``seen`` unit codes (those with a paid order),
    without the unit names: ``paid_orders``, ``refunds``, ``p_value``, ``p_adjusted``, ``abnormal``."""
    shop = float(refunded.mean()) if len(refunded) else float("nan")
    ok = unit_codes >= 0
    u = unit_codes[ok]
    paid_orders = np.bincount(u, minlength=m)
    seen = np.flatnonzero(paid_orders > 0)
    refunds = np.bincount(u[refunded[ok]], minlength=m)[seen].astype("int64")
    paid_orders = paid_orders[seen].astype("int64")
    p_value = np.ones(len(seen))  # P(X >= 0) = 1: the binomial tail only where a unit refunded
    some = refunds > 0
    if some.any():
        p_value[some] = probability.binom_sf(refunds[some] - 1, paid_orders[some], shop)
    p_adjusted = _bh(p_value)
    return {"shop": shop, "seen": seen, "ok": ok, "paid_orders": paid_orders, "refunds": refunds,
            "p_value": p_value, "p_adjusted": p_adjusted,
            "abnormal": (refunds >= min_refunds) & (p_adjusted < alpha)}


def _refund_frame(a: dict, names, unit_codes: np.ndarray, cust_codes: np.ndarray,
                  rows: np.ndarray | None = None, m: int | None = None) -> pd.DataFrame:
    """The :func:`_refund_units` table from :func:`_refund_arrays`, for all seen units or only
    those at positions ``rows`` of them (most significant first). ``names``: the unit names by
    code (a Series), or a function giving the names of some codes when there are ``m`` units (no
    name is then made for the units not shown)."""
    seen = a["seen"]
    pick = np.arange(len(seen)) if rows is None else np.asarray(rows, dtype="int64")
    m = len(names) if m is None else m
    ok = a["ok"]
    if rows is not None:  # the accounts of the picked units only
        wanted = np.zeros(m, dtype=bool)
        wanted[seen[pick]] = True
        ok = ok & wanted[np.where(ok, unit_codes, 0)]
    unit = names(seen[pick]) if callable(names) else names.iloc[seen[pick]].reset_index(drop=True)
    g = pd.DataFrame({"unit": unit,
                      "accounts": _distinct_per(unit_codes[ok], cust_codes[ok], m)[seen[pick]],
                      "paid_orders": a["paid_orders"][pick], "refunds": a["refunds"][pick]})
    g["refund_rate"] = g["refunds"] / g["paid_orders"]
    g["shop_rate"] = a["shop"]
    g["p_value"] = a["p_value"][pick] if len(g) else []
    g["p_adjusted"] = a["p_adjusted"][pick]
    g["abnormal"] = a["abnormal"][pick]
    return g.sort_values(["p_value", "unit"]).reset_index(drop=True)


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm (step-down Bonferroni) adjusted p-values."""
    p = np.asarray(p, dtype="float64")
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values."""
    p = np.asarray(p, dtype="float64")
    m = len(p)
    if m == 0:
        return p
    if not np.isnan(p).any():  # p-values of 1 (units that never refunded: most of them) adjust to 1 and
        low = np.flatnonzero(p < 1.0)  # leave the others as they are: only the rest is sorted
        order = low[np.argsort(p[low], kind="stable")]
        ranked = p[order] * m / np.arange(1, len(order) + 1)
        out = np.ones(m)
        out[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
        return out
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


SIGNALS = {  # signal -> (settings weight key, reason text)
    "shared_contact": ("weight_shared_contact", "shares a phone with other accounts"),
    "signup_burst": ("weight_signup_burst", "linked accounts signed up in a burst"),
    "coupon_reuse": ("weight_coupon_reuse", "new-customer coupon used again on the same phone"),
    "refund_abuse": ("weight_refunds", "linked group refunds far more than the shop"),
    "one_order": ("weight_one_order", "most linked accounts placed a single order"),
}


def fraud_scores(orders: pd.DataFrame, *, customers: pd.DataFrame | None = None, settings: Mapping,
                 coupons: Iterable[str] | None = None, as_of=None) -> pd.DataFrame:
    """A fraud score (0-100) per account from five signals, with the reasons.

    Signals (points from settings ``[fraud]``): ``shared_contact`` the account's phone is used by
    another account; ``signup_burst`` at least three accounts of its linked group (itself
    included) signed up within ``signup_burst_days`` of its sign-up; ``coupon_reuse`` its phone
    carries two or more accounts that used a new-customer coupon and it is one of them;
    ``refund_abuse`` its linked group (or itself) refunds abnormally (:func:`abnormal_refunds`);
    ``one_order`` it belongs to a linked group in which most accounts placed one paid order.
    A family sharing an address, with its own phones and sign-ups far apart, scores little.

    Handbook: 002 part 06, keep the fraud-order rate under 0.3%.

    Parameters
    ----------
    orders : contract ``orders`` (customer_id, order_ts; contact_hash, address_hash, coupon_code,
        status, refund_amount used when present).
    customers : contract ``customers`` for ``signup_ts`` (else an account's first order counts).
    settings : the ``[fraud]`` settings (weights, windows, tests).
    coupons : new-customer coupon codes; default settings ``new_customer_coupons`` or, when that
        is empty, :func:`new_customer_coupons`.
    as_of : only orders before this moment count.

    Returns
    -------
    DataFrame
        one row per account with a score above 0: ``customer_id``, ``group_id``, ``group_size``,
        ``score``, one column of points per signal, ``reasons``, ``signup_ts``, ``paid_orders``,
        ``refunds``, ``coupons`` (codes used), ``contact_hash``, ``address_hashes``; highest
        score first.
    """
    _require(orders, "orders", "customer_id")
    arrays = _fraud_orders(lambda c: orders[c], [c for c in _FRAUD_COLUMNS if c in orders.columns], end=as_of)
    return _fraud_parts(arrays, customers=customers, settings=settings, coupons=coupons)["scores"]


#: the orders columns the fraud section reads
_FRAUD_COLUMNS = list(COLUMNS["orders"])


def _factorized(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values, sort=True)``: codes (-1: missing) and the sorted distinct values."""
    return pd.factorize(values, sort=True)


def _decode(uniques: pd.Index, codes: np.ndarray):
    """The values of ``codes`` among ``uniques`` (missing where a code is -1), in their dtype."""
    return uniques.array.take(np.asarray(codes, dtype=np.intp), allow_fill=True)


def _id_values(customers: pd.Index):
    """The customer ids as the tables show them: Arrow text stays Arrow text (a round trip through
    Python strings costs seconds for millions), anything else becomes objects."""
    return customers.array if isinstance(customers, pd.Index) and customers.dtype == "str" \
        else np.asarray(customers, dtype=object)


def _hex_integers(values) -> tuple[np.ndarray, np.ndarray] | None:
    """Texts of 16 lower-case hexadecimal digits (the orders' phone and address hashes) as 64-bit
    integers, one text one integer (the 16 digits' values side by side), with the mask of the
    values present; None when a present value is not such a text. Grouping the integers groups
    the texts, without a hash table of millions of 16-byte texts."""
    n = len(values)
    if n and values.null_count == n:
        return np.zeros(0, dtype=np.uint64), np.zeros(n, dtype=bool)
    fixed = fixed_width_bytes(values)
    if fixed is None or fixed[0].shape[1] != 16:
        return None
    raw, present = fixed
    u = np.uint64
    ones, low4 = u(0x0101010101010101), u(0x0F0F0F0F0F0F0F0F)
    # eight bytes per 64-bit word at once: a digit's value is its low four bits, plus 9 for a-f (bit 6 set)
    w = np.ascontiguousarray(raw).view(np.uint64)  # (n, 2): digits 0-7 and 8-15
    nib = (w & low4) + ((w >> u(6)) & ones) * u(9)
    # a digit's value is at most 15, and written back as a digit (0-9: 0x30 + v, a-f: 0x57 + v) it
    # must give the byte itself: any other byte (A-F, ':', '`', 'o', non-ASCII) fails one of the two
    ten = ((nib + ones * u(6)) >> u(4)) & ones  # 1 where the value is 10 or more
    if bool(((nib + ones * u(0x70)) & (ones * u(0x80))).any()) or not np.array_equal(nib + ones * u(0x30) + ten * u(0x27), w):
        return None
    x = (nib | (nib >> u(4))) & u(0x00FF00FF00FF00FF)  # the sixteen 4-bit values squeezed into one word
    x = (x | (x >> u(8))) & u(0x0000FFFF0000FFFF)
    x = (x | (x >> u(16))) & u(0x00000000FFFFFFFF)
    ints = (x[:, 0] << u(32)) | x[:, 1]
    return ints, (np.ones(n, dtype=bool) if present is None else present)


def _hash_codes(get, pieces, column: str) -> np.ndarray:
    """An integer code per order for a phone or address hash column (-1: none; int32 when the
    codes fit), numbered as found (counts and graphs do not depend on the numbers). Read piece by
    piece (``pieces(column)``: the column's row groups, or None) when its texts are hexadecimal
    hashes (:func:`_hex_integers`), so that seventy million 16-byte texts are never held; else
    :func:`~playbook.derived.text_codes` of ``get(column)``."""
    found = []
    for piece in (pieces(column) if pieces is not None else None) or ():
        found.append(_hex_integers(piece))
        if found[-1] is None:
            break
    if not found or found[-1] is None:
        del found
        codes = text_codes(get(column), uniques=False)[0]
        return compact_codes(codes, int(codes.max()) + 1 if len(codes) else 0)
    present = np.concatenate([f[1] for f in found])
    ints = np.concatenate([f[0] for f in found])
    del found
    codes, distinct = pd.factorize(ints)
    del ints
    out = np.full(len(present), -1, dtype=compact_codes(np.zeros(0, dtype=np.intp), len(distinct)).dtype)
    out[present] = codes
    return out


def _file_pieces(data, name: str, column: str):
    """Column ``column`` of a prepared table not read yet, one Parquet row group at a time (Arrow
    arrays, in the table's order); None when the table is in memory."""
    file = data.table_file(name) if hasattr(data, "table_file") else None
    if file is None:
        return None
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(file)
    return (pf.read_row_group(g, columns=[column]).column(0).combine_chunks() for g in range(pf.metadata.num_row_groups))


def _fetch_rows(data, name: str, columns: list[str], rows: np.ndarray, *, groups: int = 4) -> pd.DataFrame:
    """:func:`~playbook.loading.read_rows` (``columns`` of table ``name`` at ascending positions
    ``rows``), a few row groups at a time: rows spread over a whole prepared table (a few hundred
    accounts' orders over two years) would otherwise read each column of all its row groups at once."""
    file = data.table_file(name) if hasattr(data, "table_file") else None
    rows = np.asarray(rows, dtype="int64")
    if file is None or not len(rows):
        return read_rows(data, name, columns, rows)
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(file).metadata
    bounds = np.cumsum([0] + [meta.row_group(i).num_rows for i in range(meta.num_row_groups)])
    parts = [r for r in np.split(rows, np.searchsorted(rows, bounds[groups:-1:groups])) if len(r)]
    if len(parts) == 1:
        return read_rows(data, name, columns, parts[0])
    return pd.concat([read_rows(data, name, columns, r) for r in parts], ignore_index=True)


def _id_text(ints: np.ndarray, packing, width: int) -> pd.Index:
    """The ids that :func:`playbook.derived.pack_ids` turned into ``ints``, as a text index."""
    import pyarrow as pa

    raw = unpack_ids(ints, packing, width)
    k = len(ints)
    text = pa.Array.from_buffers(pa.large_string(), k, [None, pa.py_buffer(np.arange(k + 1, dtype=np.int64) * width),
                                                        pa.py_buffer(np.ascontiguousarray(raw))])
    return pd.Index(pd.array(text, dtype="str"))


def _customer_codes(pieces, rows: int) -> tuple[np.ndarray, pd.Index] | None:
    """``text_codes(customer_id, sort=True)`` over all ``rows`` orders (codes -1 for none, int32
    where they fit; the sorted distinct ids), from the column in pieces (``pieces``, see
    :func:`_fraud_orders`) when its ids are of one width and pack into integers that sort as they
    do (:func:`playbook.derived.id_packing`): seventy million id texts are never held at once, only their bytes
    and then one integer each. None when the ids do not pack (the caller codes the texts)."""
    raws, present, width = [], [], None
    for piece in pieces("customer_id") or ():
        if len(piece) and piece.null_count == len(piece):
            present.append(np.zeros(len(piece), dtype=bool))
            continue
        fixed = fixed_width_bytes(piece)
        if fixed is None or (width is not None and fixed[0].shape[1] != width):
            return None
        width = fixed[0].shape[1]
        raws.append(fixed[0])
        present.append(np.ones(len(piece), dtype=bool) if fixed[1] is None else fixed[1])
    present = np.concatenate(present) if present else np.zeros(0, dtype=bool)
    if len(present) != rows or not raws:
        return None
    digits = id_packing(*raws)
    if digits is None:
        return None
    ints = np.empty(int(present.sum()), dtype=np.uint64)
    at = 0
    while raws:  # each piece's bytes let go once numbered
        raw = raws.pop(0)
        ints[at:at + len(raw)] = pack_ids(raw, digits)
        at += len(raw)
        del raw
    codes, distinct = pd.factorize(ints)
    del ints
    n = len(distinct)
    order = np.argsort(distinct, kind="stable")  # the integers sort as the ids do
    rank = np.empty(n, dtype=np.intp)
    rank[order] = np.arange(n)
    customers = _id_text(distinct[order], digits, width)
    del distinct, order
    cc = np.full(rows, -1, dtype=compact_codes(np.zeros(0, dtype=np.intp), n).dtype)
    cc[present] = rank[codes]
    return cc, customers


def _fraud_orders(get, columns: Iterable[str], *, end=None, since=None, small_codes=None, fetch=None,
                  pieces=None) -> dict:
    """The orders the fraud section counts, as arrays: those with a customer and, given ``end``,
    placed before it. ``get(column)`` gives a column of all the orders (``columns``: those there
    are); each is read, turned into numbers and let go before the next, so that the text of
    millions of orders (ids, phones, addresses) is never held at once.

    Returns a dict of arrays over those orders: ``ts`` (order_ts), ``cc`` (customer code, by
    sorted id) with ``customers`` (the sorted ids), ``hashes`` (contact_hash / address_hash
    codes, -1 none; their texts are fetched for the few orders shown), ``paid``, ``refunded``,
    ``coupon`` and ``status`` ((codes, sorted values) or None); ``month_paid``: paid orders before
    ``end`` placed at or after ``since``; ``rows(positions)``: those orders' positions among all
    orders; ``get`` and ``columns``. ``small_codes(column)``: (codes, sorted values) of a column
    of a few distinct values (default :func:`pandas.factorize` of ``get(column)``);
    ``fetch(columns, positions)``: those columns at those positions among all orders (default
    from ``get``), held as ``fetch``; ``pieces(column)``: the column in pieces (Arrow arrays, in
    order), or None (see :func:`_hash_codes`)."""
    cols = set(columns)
    small_codes = small_codes or (lambda c: _factorized(get(c)))
    ts_s = get("order_ts")
    window = (ts_s < pd.Timestamp(end)).to_numpy(dtype=bool) if end is not None else None
    since_all = (ts_s >= pd.Timestamp(since)).to_numpy(dtype=bool) if since is not None else None
    ts_all = ts_s.to_numpy()
    del ts_s
    found = _customer_codes(pieces, len(ts_all)) if pieces is not None else None
    if found is None:
        cust = get("customer_id")
        keep = cust.notna().to_numpy(dtype=bool)
        cc, customers = text_codes(cust, sort=True)
        del cust
        cc = compact_codes(cc, len(customers))
    else:
        cc, customers = found
        keep = cc >= 0
    del found
    if window is not None:
        keep = keep & window
    every = bool(keep.all())

    def pick(a):
        return a if every else a[keep]

    cc = pick(cc)
    if not every:  # renumbered over the customers that still have an order (as factorizing those rows would)
        used = np.bincount(cc, minlength=len(customers)) > 0
        if not used.all():
            cc = compact_codes((np.cumsum(used) - 1)[cc], int(used.sum()))
            customers = customers[used]
    hashes = {}
    for k in ("contact_hash", "address_hash"):
        if k in cols:  # the codes keep their numbers over all orders (counts and graphs do not depend on them)
            codes = _hash_codes(get, pieces, k)
            hashes[k] = pick(codes)
            del codes
    paid_all = np.ones(len(keep), dtype=bool)
    refunded = np.zeros(len(keep), dtype=bool)
    status = None
    if "status" in cols:  # paid: not cancelled (metrics.paid_mask); refunded: status refunded or a refund amount
        codes, names = small_codes("status")
        at = names.get_indexer(["cancelled", "refunded"])
        if at[0] >= 0:
            paid_all = codes != at[0]
        if at[1] >= 0:
            refunded = codes == at[1]
        status = (pick(codes), names)
    if "refund_amount" in cols:
        refunded = refunded | (get("refund_amount").fillna(0.0) > 0).to_numpy(dtype=bool)
    coupon = None
    if "coupon_code" in cols:
        codes, names = small_codes("coupon_code")
        coupon = (pick(codes), names)
    release_free_memory()
    month_paid = None
    if since_all is not None:
        counted = since_all & paid_all
        month_paid = int(np.count_nonzero(counted & window if window is not None else counted))
    positions_kept = None if every else np.flatnonzero(keep)
    return {"ts": pick(ts_all), "cc": cc, "customers": customers, "hashes": hashes,
            "paid": pick(paid_all), "refunded": pick(refunded), "status": status, "coupon": coupon,
            "month_paid": month_paid, "since": pick(since_all) if since_all is not None else None, "columns": [c for c in _FRAUD_COLUMNS if c in cols], "get": get,
            "fetch": fetch or (lambda cs, r: pd.DataFrame({c: get(c).take(r).array for c in cs})),
            "rows": (lambda r: r) if every else (lambda r: positions_kept[r])}


def _order_rows(a: Mapping, rows: np.ndarray, ids) -> pd.DataFrame:
    """The orders at ``rows`` (positions among those of :func:`_fraud_orders`) with their columns
    as the table holds them: the columns held as codes of a few values are decoded, the others
    (order id, hashes, channel, amounts) are read again for these rows only."""
    out = {}
    others = [c for c in a["columns"] if c not in ("customer_id", "order_ts")
              and not (c == "status" and a["status"] is not None) and not (c == "coupon_code" and a["coupon"] is not None)]
    read = a["fetch"](others, a["rows"](rows)) if others else None
    for c in a["columns"]:
        if c == "customer_id":
            out[c] = ids[a["cc"][rows]]
        elif c == "order_ts":
            out[c] = a["ts"][rows]
        elif c == "status" and a["status"] is not None:
            out[c] = _decode(a["status"][1], a["status"][0][rows])
        elif c == "coupon_code" and a["coupon"] is not None:
            out[c] = _decode(a["coupon"][1], a["coupon"][0][rows])
        else:
            out[c] = read[c].array
    return pd.DataFrame(out)


def _new_coupons_at(a: Mapping, first_ts: np.ndarray | None, *, first_share: float, min_uses: int) -> list[str]:
    """:func:`new_customer_coupons` on the arrays of :func:`_fraud_orders`."""
    if a["coupon"] is None:
        return []
    ids = (lambda rows: a["fetch"](["order_id"], a["rows"](rows))["order_id"].array) \
        if "order_id" in a["columns"] else None
    first = _first_rows_at(a["ts"], a["cc"], first_ts, ids)
    codes, names = a["coupon"]
    used = (codes >= 0) & (a["cc"] >= 0)
    share = pd.Series(first[used]).groupby(codes[used]).agg(["mean", "size"])
    hit = share.index[(share["mean"] >= first_share) & (share["size"] >= min_uses)]
    return sorted(names.take(hit).tolist())


def _coupon_abuse_at(a: Mapping, coupons: list, shared: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`coupon_abuse` on the arrays of :func:`_fraud_orders`, with the customer codes of
    the accounts that used a new-customer coupon on an abused phone. Only the paid orders of the
    phones on which two or more accounts used one of ``coupons`` are turned back into text (the
    function itself then finds the same phones among them). ``shared``: which phones two or more
    accounts carry (:func:`_shared_values`), the only ones that can be reused."""
    if not coupons or a["coupon"] is None or "contact_hash" not in a["hashes"]:
        return coupon_abuse(pd.DataFrame(), []), np.zeros(0, dtype=np.intp)
    hc, cc = a["hashes"]["contact_hash"], a["cc"]
    codes, names = a["coupon"]
    base = (hc >= 0) & a["paid"]
    if shared is None:
        shared = _shared_values(cc, hc)
    base &= shared[np.where(hc >= 0, hc, 0)]
    wanted = np.flatnonzero(names.isin(coupons))
    use = base & np.isin(codes, wanted)
    phones = len(shared)
    reused = _distinct_per(hc[use], cc[use], phones) >= 2
    rows = np.flatnonzero(base & reused[np.where(hc >= 0, hc, 0)])
    sub = pd.DataFrame({"contact_hash": a["fetch"](["contact_hash"], a["rows"](rows))["contact_hash"].array,
                        "customer_id": _id_values(a["customers"])[cc[rows]],
                        "coupon_code": _decode(names, codes[rows])})
    if "order_id" in a["columns"]:
        sub["order_id"] = 0  # only counted
    sub["order_ts"] = a["ts"][rows]
    abuse = coupon_abuse(sub, coupons)
    users = sub["coupon_code"].isin(coupons).to_numpy(dtype=bool) \
        & sub["contact_hash"].isin(abuse["contact_hash"]).to_numpy(dtype=bool)
    return abuse, cc[rows[users]]


def _fraud_parts(a: Mapping, *, customers, settings: Mapping, coupons=None) -> dict:
    """The pieces of :func:`fraud_scores`, computed once from the arrays of
    :func:`_fraud_orders`: scores, refund units, coupon abuse and the coupons used, and for
    :func:`fraud_review` each customer's group number (``group_numbers``, 1-based, ``groups`` of
    them), group size and row of ``customers`` (``customer_rows``). Every count works on integer
    codes; text is made only for the accounts that score."""
    s = settings
    cc, customers_sorted, hashes = a["cc"], a["customers"], a["hashes"]
    paid, refunded = a["paid"], a["refunded"]
    n = len(customers_sorted)
    first_ts = _min_per(a["ts"], cc, n)
    coupons = list(coupons) if coupons is not None else (
        list(s["new_customer_coupons"]) or _new_coupons_at(
            a, first_ts if first_ts.dtype.kind == "M" else None, first_share=s["new_coupon_first_share"],
            min_uses=10))
    shared = {k: _shared_values(cc, h) for k, h in hashes.items()}  # hashes of two or more accounts
    rank = _linked_labels(cc, n, hashes.values(), shared.values())
    groups = int(rank.max()) if n else 0
    size = np.bincount(rank, minlength=groups + 1)[rank].astype("int64")
    paid_orders = np.bincount(cc[paid], minlength=n)
    refunds = np.bincount(cc[paid & refunded], minlength=n)
    # sign-up time: customers.signup_ts, else the first order (by customer code)
    first_order = pd.Series(first_ts)
    signup = first_order
    at = None
    if customers is not None and "signup_ts" in customers.columns:
        at = unique_positions(customers_sorted, customers["customer_id"])
        if at is None:  # an account on several customer rows: reindex says so
            signup = customers.set_index("customer_id")["signup_ts"].reindex(customers_sorted) \
                .set_axis(first_order.index).fillna(first_order)
        else:
            signup = customers["signup_ts"].take(np.where(at >= 0, at, 0)).set_axis(first_order.index) \
                .where(at >= 0).fillna(first_order)
    # shared contact and coupon reuse on one phone
    abuse, users = _coupon_abuse_at(a, coupons, shared.get("contact_hash"))
    reuse = np.zeros(n, dtype=bool)
    if "contact_hash" in hashes:
        hc = hashes["contact_hash"]
        # the most accounts on one of each account's phones: 1 unless a phone is shared, so only
        # the orders on shared phones are paired (distinct (phone, account))
        on = shared["contact_hash"]
        rows = np.flatnonzero((hc >= 0) & on[np.where(hc >= 0, hc, 0)])
        pairs = _sorted_distinct(hc[rows].astype("int64") * n + cc[rows])
        phone, account = pairs // n, pairs % n
        del pairs, rows
        per_phone = np.bincount(phone, minlength=len(on))[phone]
        multi_phone = np.zeros(n, dtype=bool)  # on a phone of two or more accounts
        multi_phone[account[per_phone >= 2]] = True
        del phone, account, per_phone
        if a["coupon"] is not None:
            reuse[users] = True
    else:
        multi_phone = np.zeros(n, dtype=bool)
    # sign-up burst: linked accounts within +-burst days, counted with sorted keys per group (only
    # in groups of three or more, the only ones the signal can flag: a few of millions of accounts)
    burst_days = s["signup_burst_days"]
    day = ((signup - pd.Timestamp("2000-01-01")).dt.total_seconds() / 86400).fillna(-1e9).to_numpy()
    big = (np.nanmax(np.abs(day)) if len(day) else 0) * 4 + burst_days * 4 + 1e6
    in3 = np.flatnonzero(size >= 3)
    gcode = (rank[in3] - 1).astype("float64")  # groups numbered from 0 in order of their first account
    key = gcode * big + day[in3]
    del gcode, day
    sorted_key = np.sort(key)
    burst = np.zeros(n, dtype=bool)  # three or more of its group signed up within the days
    burst[in3] = np.searchsorted(sorted_key, key + burst_days, side="right") \
        - np.searchsorted(sorted_key, key - burst_days) >= 3
    del key, sorted_key, in3
    # refunds: abnormal linked groups (singletons are their own group); a group's unit is its number - 1
    # (only the abnormal units get a table row and a name: three million names cost seconds)
    unit_codes = (rank - 1).astype(cc.dtype)[cc[paid]]
    arrays = _refund_arrays(unit_codes, groups, refunded[paid], min_refunds=s["refund_min"],
                            alpha=s["refund_alpha"])
    hit = np.flatnonzero(arrays["abnormal"])
    refund_units = _refund_frame(arrays, lambda codes: _group_names(codes + 1, groups), unit_codes, cc[paid],
                                 rows=hit, m=groups)
    abnormal = np.zeros(groups + 1, dtype=bool)
    abnormal[arrays["seen"][hit] + 1] = True
    del unit_codes, arrays
    # one-order groups (most accounts of a linked group with a single paid order)
    in2 = np.flatnonzero(size >= 2)
    one = np.zeros(n, dtype=bool)
    if len(in2):
        singles = np.bincount(rank[in2], weights=(paid_orders[in2] == 1), minlength=groups + 1)
        one[in2] = singles[rank[in2]] / size[in2] > 0.5
    del in2
    # each signal as a flag per account; points only for the accounts that score
    hits = {
        "shared_contact": multi_phone,
        "signup_burst": burst,
        "coupon_reuse": reuse,
        "refund_abuse": abnormal[rank],
        "one_order": one}
    del one, burst, multi_phone
    weights = {k: s[w] for k, (w, _) in SIGNALS.items()}
    total = np.zeros(n, dtype="float64")
    for k, flag in hits.items():
        if weights[k]:
            total[flag] += weights[k]
    scored_codes = np.flatnonzero(total > 0)
    del total
    # the frame and the texts only for the accounts that score
    ids = _id_values(customers_sorted)
    index = pd.Index(ids[scored_codes], name="customer_id")
    points = pd.DataFrame({k: np.where(hits[k][scored_codes], weights[k], 0) for k in SIGNALS}, index=index)
    del hits
    score = points.sum(axis=1)
    scored = score > 0
    out = pd.DataFrame({"group_id": _group_names(rank[scored_codes], groups).array,
                        "group_size": size[scored_codes], "paid_orders": paid_orders[scored_codes],
                        "refunds": refunds[scored_codes]}, index=index)
    out["signup_ts"] = signup.iloc[scored_codes].set_axis(index)
    out = out[scored.to_numpy()].join(points[scored.to_numpy()])
    out["score"] = score[scored]
    reasons = pd.DataFrame({k: np.where(out[k] > 0, text, None) for k, (_, text) in SIGNALS.items()}, index=out.index)
    out["reasons"] = _join_texts(reasons)
    flag = np.zeros(n, dtype=bool)
    flag[scored_codes[scored.to_numpy()]] = True
    mine = np.flatnonzero(flag[cc]) if n else np.zeros(0, dtype=np.intp)  # the scored accounts' orders
    mine_ids = ids[cc[mine]]
    if a["coupon"] is not None:
        on = paid[mine]
        used = pd.DataFrame({"customer_id": mine_ids[on], "coupon_code": _decode(a["coupon"][1], a["coupon"][0][mine[on]])}) \
            .dropna().drop_duplicates().sort_values("coupon_code")
        out["coupons"] = used.groupby("customer_id")["coupon_code"].agg(", ".join).reindex(out.index).fillna("")
    else:
        out["coupons"] = ""
    shown = [c for c in ("contact_hash", "address_hash") if c in hashes]
    texts = a["fetch"](shown, a["rows"](mine)) if shown else None  # the scored accounts' orders only
    for col, name in (("contact_hash", "contact_hash"), ("address_hash", "address_hashes")):
        if col in hashes:
            pairs = pd.DataFrame({"customer_id": mine_ids, col: texts[col].array}) \
                .dropna().drop_duplicates()
            out[name] = pairs.groupby("customer_id")[col].agg(", ".join).reindex(out.index)
        else:
            out[name] = pd.NA
    out = out.reset_index()
    for c in ("paid_orders", "refunds", "score"):
        out[c] = out[c].astype("int64")
    cols = ["customer_id", "group_id", "group_size", "score", *SIGNALS, "reasons", "signup_ts", "paid_orders",
            "refunds", "coupons", "contact_hash", "address_hashes"]
    scores = out.sort_values(["score", "group_id", "customer_id"], ascending=[False, True, True]) \
        .reset_index(drop=True)[cols]
    return {"scores": scores, "refund_units": refund_units, "coupon_abuse": abuse, "coupons": coupons,
            "group_numbers": rank, "groups": groups, "group_sizes": size, "customer_ids": ids,
            "scored_codes": scored_codes[scored.to_numpy()], "customer_rows": at}


def _members(linked: pd.DataFrame) -> pd.Series:
    """Per linked group: its first six account ids (sorted) joined by commas, and how many more."""
    ordered = linked.sort_values("customer_id")
    head = ordered[ordered.groupby("group_id").cumcount().to_numpy() < 6]
    text = head.groupby("group_id")["customer_id"].agg(", ".join)
    more = ordered.groupby("group_id").size().reindex(text.index) - 6
    return text + np.where(more > 0, " +" + more.astype("str") + " more", "")


def fraud_review(data) -> Section:
    """Fraud section: linked accounts, coupon abuse, abnormal refunds, the scored review list and
    the estimated fraud-order rate of the report month against the 0.3% line.

    The estimate counts the month's paid orders placed by accounts on the review list (score at
    least ``[fraud] review_score_min``) over all paid orders of the month.

    Tables: ``groups`` (linked groups of two or more accounts, with their best score and signal
    points), ``coupon_abuse``, ``refunds`` (abnormal refund units), ``scores`` (every account
    with a score), ``review_list`` (the action list), ``suspect_orders`` (the month's orders of
    listed accounts). Figures: ``fraud_order_rate``, ``suspect_orders_count``, ``accounts_listed``,
    ``linked_groups``, ``new_customer_coupons``.
    """
    s = _settings(data, "fraud")
    start, end = _month_bounds(data)
    note = data.missing_note("orders", columns={"orders": ["customer_id"]})
    if note is None and not any(has_column(data, "orders", c) for c in ("contact_hash", "address_hash")):
        note = data.missing_note("orders", columns={"orders": ["contact_hash", "address_hash"]})
    figures = dict.fromkeys(["fraud_order_rate", "suspect_orders_count", "accounts_listed", "linked_groups"])
    figures["new_customer_coupons"] = ""
    score_cols = ["customer_id", "group_id", "group_size", "score", *SIGNALS, "reasons", "signup_ts", "paid_orders",
                  "refunds", "coupons", "contact_hash", "address_hashes"]
    group_cols = ["group_id", "accounts", "phones", "addresses", "signup_span_days", "paid_orders", "refunds",
                  "score", *SIGNALS, "members", "reasons"]
    if note:
        empty_scores = pd.DataFrame(columns=score_cols)
        return Section("Fraud 反欺诈", tables={
            "groups": pd.DataFrame(columns=group_cols), "coupon_abuse": coupon_abuse(pd.DataFrame(), []),
            "refunds": pd.DataFrame(columns=["unit", "accounts", "paid_orders", "refunds", "refund_rate", "shop_rate",
                                             "p_value", "p_adjusted", "abnormal"]),
            "scores": empty_scores,
            "review_list": empty_scores.reindex(columns=[*score_cols[:4], "orders_this_month", *score_cols[4:]]),
            "suspect_orders": pd.DataFrame(columns=["order_id", "customer_id", "order_ts", "status", "paid_amount"])},
            figures=figures, notes=[note])
    # the orders column by column, each turned into integer codes before the next is read (a column
    # of a few values through its dictionary); none of them is kept in the dataset
    columns = [c for c in _FRAUD_COLUMNS if has_column(data, "orders", c)]
    a = _fraud_orders(lambda c: _table(data, "orders", [c], keep=False)[c], columns, end=end, since=start,
                      small_codes=lambda c: column_codes(data, "orders", c),
                      fetch=lambda cs, rows: _fetch_rows(data, "orders", cs, rows),
                      pieces=lambda c: _file_pieces(data, "orders", c))
    customers = _table(data, "customers", keep=False) if data.has("customers") else None
    if customers is not None and "signup_ts" in customers.columns:
        customers = _rows(customers, (customers["signup_ts"].isna() | (customers["signup_ts"] < end)).to_numpy(dtype=bool))
    parts = _fraud_parts(a, customers=customers, settings=s)
    release_free_memory()
    scores, coupons = parts["scores"], parts["coupons"]
    # one row per linked group, counted on the integer codes of the orders' customers and hashes
    cc, rank, m, size, ids = a["cc"], parts["group_numbers"], parts["groups"], parts["group_sizes"], parts["customer_ids"]
    in_group = size[cc] >= 2 if len(size) else np.zeros(len(cc), dtype=bool)
    row_group = rank[cc[in_group]] - 1 if len(size) else np.zeros(0, dtype="int64")
    # the linked accounts (groups of two or more), in the order of their codes (sorted ids)
    linked_codes = np.flatnonzero(size >= 2) if len(size) else np.zeros(0, dtype="int64")
    linked = pd.DataFrame({"customer_id": ids[linked_codes],
                           "group_id": _group_names(rank[linked_codes], m).array,
                           "group_size": size[linked_codes]}, index=pd.Index(linked_codes))

    # the groups' numbers (from 0) in the order of g's rows: by their first account, as linked lists them
    gl = pd.unique(rank[linked_codes] - 1)
    g = pd.DataFrame({"group_id": linked["group_id"].unique()}).set_index("group_id")
    g["accounts"] = linked.groupby("group_id").size()
    for col, name in (("contact_hash", "phones"), ("address_hash", "addresses")):
        g[name] = _distinct_per(row_group, a["hashes"][col][in_group], m)[gl] if col in a["hashes"] else 0
    if customers is not None and "signup_ts" in customers.columns and parts["customer_rows"] is not None:
        at = parts["customer_rows"][linked_codes]  # each linked account's row of customers (-1: none)
        signup = customers["signup_ts"].take(np.where(at >= 0, at, 0)).where(at >= 0).set_axis(linked.index)
        su = linked.assign(signup=signup).groupby("group_id")["signup"]
    else:
        signup = scores.set_index("customer_id")["signup_ts"]
        if customers is not None and "signup_ts" in customers.columns:
            signup = customers.set_index("customer_id")["signup_ts"]
        su = linked.assign(signup=linked["customer_id"].map(signup)).groupby("group_id")["signup"]
    g["signup_span_days"] = (su.max() - su.min()).dt.days
    paid_in = a["paid"][in_group]
    refunded_in = a["refunded"][in_group]
    seen = np.bincount(row_group[paid_in], minlength=m)[gl]
    refunds_in = np.bincount(row_group[paid_in & refunded_in], minlength=m)[gl]
    del in_group, row_group, paid_in, refunded_in
    g["paid_orders"] = np.where(seen > 0, seen, np.nan)  # NaN: no paid order (0 below)
    g["refunds"] = np.where(seen > 0, refunds_in, np.nan)
    best = scores.sort_values("score", ascending=False).drop_duplicates("group_id").set_index("group_id")
    for c in ["score", *SIGNALS, "reasons"]:
        g[c] = best[c] if c in best.columns else None
    g["members"] = _members(linked)
    g = g.reset_index()
    for c in ["paid_orders", "refunds", "score", *SIGNALS]:
        g[c] = g[c].fillna(0).astype("int64")
    g["reasons"] = g["reasons"].fillna("")
    g = g.sort_values(["score", "accounts", "group_id"], ascending=[False, False, True]).reset_index(drop=True)[group_cols]
    review_list = scores[scores["score"] >= s["review_score_min"]].reset_index(drop=True)
    month_count = a["month_paid"]
    # the listed accounts' codes, looked up among the (few) scored ones
    scored_codes = parts["scored_codes"]
    listed = scored_codes[pd.Index(ids[scored_codes]).get_indexer(review_list["customer_id"])]
    on_list = np.zeros(len(size), dtype=bool)
    on_list[listed] = True
    rows = np.flatnonzero(a["since"] & a["paid"] & on_list[cc]) if len(size) else np.zeros(0, dtype="int64")
    suspect = _order_rows(a, rows, ids)
    suspect = suspect.sort_values("order_ts").reset_index(drop=True)
    orders_in_list = suspect.groupby("customer_id").size()
    review_list.insert(4, "orders_this_month", review_list["customer_id"].map(orders_in_list).fillna(0).astype("int64"))
    refunds = parts["refund_units"]
    figures.update(
        fraud_order_rate=(len(suspect) / month_count) if month_count else None,
        suspect_orders_count=int(len(suspect)), accounts_listed=int(len(review_list)),
        linked_groups=int(len(g)), new_customer_coupons=", ".join(coupons))
    listed = g[g["score"] >= s["review_score_min"]]
    lead = listed["members"].str.split(",").str[0]
    alerts = _alerts("high", lead, listed["accounts"].astype("str") + " linked accounts (group " + listed["group_id"]
                     + ", " + listed["paid_orders"].astype("str") + " paid orders, " + listed["refunds"].astype("str")
                     + " refunded), score " + listed["score"].astype("str") + ": " + listed["reasons"])
    return Section("Fraud 反欺诈", tables={
        "alerts": alerts, "groups": g, "coupon_abuse": parts["coupon_abuse"],
        "refunds": refunds,  # the abnormal units only
        "scores": scores, "review_list": review_list, "suspect_orders": suspect}, figures=figures)


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------

def _empty(ax, text: str, title: str | None = None):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=charts.ALERT_COLORS["neutral"])
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def plot_purchase_shares(concentration: pd.DataFrame, *, highlight: Iterable[str] = (), ax=None, title: str | None = None):
    """Horizontal bars of each supplier's share of purchase value; ``highlight`` (supplier ids,
    e.g. the flagged ones) in the highlight colour."""
    ax = plt.gca() if ax is None else ax
    title = title or "Share of purchase value by supplier 采购额占比"
    if concentration is None or concentration.empty:
        return _empty(ax, "no purchase orders", title)
    ids, names = concentration["supplier_id"].astype("str"), concentration["name"].astype("str")
    frame = concentration.assign(label=ids + (" " + names.str.slice(0, 8)).where(names != ids, ""))
    marked = [lbl for lbl, sid in zip(frame["label"], frame["supplier_id"]) if sid in set(highlight)]
    charts.bar_with_labels(frame, "label", "share", ax=ax, horizontal=True, fmt="pct",
                           highlight=marked if marked else None, title=title)
    ax.set_ylabel("")
    ax.set_xlabel("share of purchase value" if "purchase_value" in concentration.columns else "share of sales")
    return ax


def plot_po_delays(delays: pd.DataFrame, *, highlight: Iterable[str] = (), grace_days: float = 3,
                   months: int | None = 15, ax=None, title: str | None = None):
    """Each PO's days late (received - expected; open overdue POs at their days overdue so far)
    by expected date over the last ``months`` months of POs due: flagged suppliers in colour, the
    others grey, the grace line dashed."""
    ax = plt.gca() if ax is None else ax
    title = title or "Purchase orders: days late by expected date 到货延迟"
    d = delays.dropna(subset=["days_late"]) if len(delays) else delays
    if months is not None and len(d):
        d = d[d["expected_date"] >= d["expected_date"].max() - pd.DateOffset(months=months)]
    if d is None or d.empty:
        return _empty(ax, "no purchase orders due", title)
    marked = set(highlight)
    rest = d[~d["supplier_id"].isin(marked)]
    ax.scatter(rest["expected_date"], rest["days_late"], s=10, color=charts.ALERT_COLORS["neutral"], alpha=0.5,
               label="other suppliers")
    for i, sid in enumerate(sorted(marked)):  # the flagged few
        part = d[d["supplier_id"] == sid]
        colour = [charts.ALERT_COLORS["bad"], charts.ALERT_COLORS["highlight"], *charts.PALETTE][i]
        ax.scatter(part["expected_date"], part["days_late"], s=18, color=colour, label=f"{sid} (flagged)")
        overdue = part[part["status"] == "overdue"]
        if len(overdue):
            ax.scatter(overdue["expected_date"], overdue["days_late"], s=40, facecolors="none", edgecolors=colour,
                       label=f"{sid} still open (days overdue so far)")
    charts.annotate_threshold(ax, grace_days, f"on time: at most {grace_days:g} days late")
    ax.axhline(0, color=".6", linewidth=0.8)
    ax.set_xlabel("expected date")
    ax.set_ylabel("days late")
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title(title)
    return ax


def plot_price_gaps(index_month: pd.DataFrame, *, top: int = 15, ax=None, title: str | None = None):
    """Heatmap of the month's mean price gap (competitor / our price - 1) per SKU and competitor,
    for the ``top`` SKUs with the cheapest competitor; red = the competitor is cheaper. Rows are
    labelled with the SKU and the start of its title when ``index_month`` has a title column."""
    ax = plt.gca() if ax is None else ax
    title = title or "Competitor price against ours 竞品价差 (monthly mean)"
    if index_month is None or index_month.empty:
        return _empty(ax, "no competitor prices", title)
    gaps = index_month.assign(gap=index_month["mean_index"] - 1)
    worst = gaps.groupby("sku")["gap"].min().nsmallest(top).index
    matrix = gaps[gaps["sku"].isin(worst)].pivot(index="sku", columns="competitor", values="gap").reindex(worst)
    if "title" in gaps.columns:
        names = gaps.drop_duplicates("sku").set_index("sku")["title"].astype("str").str.slice(0, 10)
        matrix.index = matrix.index + " " + names.reindex(matrix.index).fillna("")
    lim = max(0.2, float(np.nanmax(np.abs(matrix.to_numpy()))))
    charts.heatmap(matrix, ax=ax, fmt="pct", cmap="RdBu", vmin=-lim, vmax=lim, title=title)
    ax.set_xlabel("competitor")
    ax.set_ylabel("")
    return ax


def plot_undercut(daily: pd.DataFrame, undercuts: pd.DataFrame, *, ax=None, title: str | None = None):
    """The month's daily competitor prices for the SKU of the longest undercut, with our price
    and the undercut spell shaded."""
    ax = plt.gca() if ax is None else ax
    if undercuts is None or undercuts.empty:
        return _empty(ax, "no undercut this month", title or "Undercuts 低价截流")
    run = undercuts.iloc[0]
    d = daily[daily["sku"] == run["sku"]]
    charts.line_chart(d, "date", "price", hue="competitor", ax=ax, marker=None,
                      title=title or f"{run['sku']} {str(run.get('title', ''))[:14]}: competitor prices")
    ax.plot(d["date"].drop_duplicates().sort_values(), np.full(d["date"].nunique(), run["our_price"]),
            color="black", linewidth=2, linestyle="-", label="our price")
    ax.axvspan(max(run["start"], d["date"].min()), run["end"], color=charts.ALERT_COLORS["bad"], alpha=0.08)
    ax.legend(title="", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    charts.format_money_axis(ax)
    return ax


def plot_bad_review_trend(monthly: pd.DataFrame, *, limit: float = 0.05, ax=None, title: str | None = None):
    """The shop's monthly bad-review rate with the 5% line."""
    ax = plt.gca() if ax is None else ax
    title = title or "Bad-review rate 差评率 by month"
    if monthly is None or monthly.empty:
        return _empty(ax, "no reviews", title)
    charts.line_chart(monthly, "month", "rate", ax=ax, fmt="pct", title=title)
    charts.annotate_threshold(ax, limit, f"{limit:.0%} line")
    ax.set_ylim(0, max(limit * 1.4, float(monthly["rate"].max()) * 1.15))
    ax.set_ylabel("bad reviews / reviews")
    return ax


def plot_review_funnel(skus: pd.DataFrame, *, spikes: Iterable[str] = (), limit: float = 0.05, ax=None,
                       title: str | None = None):
    """Funnel plot of the month's bad-review rate per SKU against its number of reviews: the 5%
    line, and the 95% band a SKU at exactly 5% would stay within; spiking SKUs labelled."""
    ax = plt.gca() if ax is None else ax
    title = title or "Bad-review rate per SKU this month 单品差评率"
    if skus is None or skus.empty:
        return _empty(ax, "no reviews this month", title)
    marked = set(spikes)
    rest = skus[~skus["sku"].isin(marked)]
    ax.scatter(rest["reviews"], rest["rate"], s=14, color=charts.ALERT_COLORS["neutral"], alpha=0.7, label="SKUs")
    hot = skus[skus["sku"].isin(marked)]
    ax.scatter(hot["reviews"], hot["rate"], s=40, color=charts.ALERT_COLORS["bad"], label="spike")
    for _, row in hot.iterrows():  # the few spiking SKUs
        ax.annotate(row["sku"], (row["reviews"], row["rate"]), xytext=(5, 3), textcoords="offset points",
                    fontsize="small", color=charts.ALERT_COLORS["bad"])
    n = np.linspace(5, max(float(skus["reviews"].max()), 10) * 1.05, 200)
    upper = limit + probability.norm_isf(0.025) * np.sqrt(limit * (1 - limit) / n)
    ax.plot(n, upper, color=charts.ALERT_COLORS["bad"], linewidth=0.9, linestyle=":",
            label=f"upper edge of the 95% band of a SKU at {limit:.0%}")
    ax.axhline(limit, color=charts.ALERT_COLORS["bad"], linestyle="--", linewidth=1.2, label=f"{limit:.0%} line")
    ax.set_ylim(-0.02, max(float(skus["rate"].max()) * 1.15, limit * 3))
    ax.set_xlabel("reviews this month")
    ax.set_ylabel("bad-review rate")
    charts.format_pct_axis(ax)
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title(title)
    return ax


def plot_reply_hours(replies: pd.DataFrame, *, within_hours: float = 24, ax=None, title: str | None = None):
    """Histogram of the hours the shop took to answer each bad review of the month, with the
    24-hour line; bad reviews never answered are counted in the title."""
    ax = plt.gca() if ax is None else ax
    title = title or "Hours to reply to a bad review 差评响应时长"
    if replies is None or replies.empty:
        return _empty(ax, "no bad reviews this month", title)
    hours = replies["hours_to_reply"].dropna()
    unanswered = int((replies["status"] == "no reply").sum())
    top = max(float(hours.max()) if len(hours) else 0.0, within_hours * 1.5)
    bins = np.arange(0, top + 6, 6)
    ax.hist(hours, bins=bins, color=charts.PALETTE[0], edgecolor="white")
    ax.hist(hours[hours > within_hours], bins=bins, color=charts.ALERT_COLORS["bad"], edgecolor="white")
    charts.annotate_threshold(ax, within_hours, f"{within_hours:g} hours", axis="x")
    ax.set_xlabel("hours from review to first reply")
    ax.set_ylabel("bad reviews")
    ax.set_title(f"{title}\n{len(hours)} answered, {unanswered} not answered")
    return ax


def plot_fraud_scores(groups: pd.DataFrame, *, threshold: float = 50, top: int = 10, ax=None,
                      title: str | None = None):
    """Stacked horizontal bars of the top linked groups' scores by signal, with the review line:
    why a group is (or is not) on the list."""
    ax = plt.gca() if ax is None else ax
    title = title or "Linked accounts: fraud score by signal 风险评分"
    if groups is None or groups.empty:
        return _empty(ax, "no linked accounts", title)
    g = groups.head(top).iloc[::-1]
    labels = (g["group_id"] + " (" + g["accounts"].astype("str") + " accounts)").tolist()
    left = np.zeros(len(g))
    for i, sig in enumerate(SIGNALS):  # five signals
        vals = g[sig].to_numpy(dtype="float64")
        ax.barh(labels, vals, left=left, color=charts.PALETTE[i], label=sig.replace("_", " "))
        left += vals
    for y, total in enumerate(left):  # the top few groups
        ax.annotate(f"{total:.0f}", (total, y), xytext=(4, 0), textcoords="offset points", va="center",
                    fontsize="small")
    ax.axvline(threshold, color=charts.ALERT_COLORS["bad"], linestyle="--", linewidth=1.2,
               label=f"review list from {threshold:g}")
    ax.set_xlim(0, 110)
    ax.set_xlabel("score (0-100)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------------------------

@exercise("07.bad_review_rate", "The shop's bad-review rate (差评率, rating <= 2) in the report month")
def _ex_bad_review_rate(data) -> float:
    r = _table(data, "reviews", ["rating", "review_ts"], keep=False)
    if getattr(data, "month", None):  # the month's reviews (Dataset.month_rows, without the other columns)
        ms = pd.Timestamp(data.month + "-01")
        r = r[(r["review_ts"] >= ms) & (r["review_ts"] < ms + pd.offsets.MonthBegin(1))]
    return float((r["rating"] <= data.settings["reputation"]["bad_review_max_rating"]).mean())


@exercise("07.top_supplier_share", "The largest supplier's share of purchase value over the last 365 days")
def _ex_top_share(data) -> float:
    as_of = _as_of(data, ("orders", "order_ts"))
    conc = supplier_concentration(data["purchase_orders"], start=as_of - pd.Timedelta(days=365), end=as_of)
    return float(conc["share"].iloc[0])


@exercise("07.ring_accounts", "How many accounts share the phone (contact_hash) used by the most accounts?")
def _ex_ring(data) -> float:
    if not has_column(data, "orders", "contact_hash"):
        raise KeyError("table orders lacks column contact_hash")
    # the fraud section's codes (any numbering gives the same counts), read for this answer only
    customers = text_codes(_table(data, "orders", ["customer_id"], keep=False)["customer_id"], uniques=False)[0]
    phones = text_codes(_table(data, "orders", ["contact_hash"], keep=False)["contact_hash"], uniques=False)[0]
    accounts = _distinct_per(phones, customers, int(phones.max()) + 1 if len(phones) else 0)
    return float(accounts.max()) if len(accounts) and accounts.max() > 0 else float("nan")
