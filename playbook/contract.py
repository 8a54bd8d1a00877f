"""The data contract as code: every table, column, type, required flag, enum and key.

This module is the single source of truth for what a data source must provide. The loader
(:mod:`playbook.loading`) reads and the validator (:mod:`playbook.validation`) checks against it;
``docs/data_contract.md`` is generated from it (``playbook contract --markdown``).

Conventions (shared/DATA_CONTRACT.md): snake_case names; money is a decimal number in the shop's
currency; timestamps are shop-local time; dates ``YYYY-MM-DD``; months ``YYYY-MM``; identifiers are
strings (leading zeros kept). Only ``orders`` is required; other tables unlock chapters.
"""
from __future__ import annotations

from dataclasses import dataclass

#: The column types the contract knows, and what each becomes in pandas after loading.
COLUMN_TYPES = {
    "str": "string identifiers and text (pandas ``str``)",
    "timestamp": "shop-local naive ``datetime64[us]``; values with an offset are converted",
    "date": "``datetime64`` at midnight",
    "month": "``YYYY-MM`` text",
    "money": "``float64`` rounded to cents; '¥1,234.00' style text is repaired with a warning",
    "int": "nullable ``Int64``",
    "number": "``float64``",
    "bool": "nullable ``boolean`` (true/false, 1/0, yes/no, 是/否)",
}


@dataclass(frozen=True)
class Column:
    """One column of a contract table."""

    name: str
    type: str
    required: bool = False
    meaning: str = ""
    enum: tuple | None = None  #: allowed values (after lower-casing text)
    min: float | None = None  #: smallest allowed value
    min_exclusive: bool = False  #: ``True`` when the value must be strictly greater than ``min``
    default: object = None  #: value used when an optional column is absent
    personal: bool = False  #: personal data: never reaches a report unmasked


@dataclass(frozen=True)
class Link:
    """A foreign key: ``column`` of this table points at ``table.target`` (a unique key)."""

    column: str
    table: str
    target: str


@dataclass(frozen=True)
class Table:
    """One contract table.

    ``window`` says how a month's history window is pushed down when loading:
    ``("time", column)`` filters on that timestamp/date column, ``("orders", "order_id")`` keeps
    rows of the window's orders, ``("overlap", start, end)`` keeps rows whose interval overlaps the
    window or starts in the quarter after it (plans), ``("month", column)`` filters a ``YYYY-MM`` column and ``None`` keeps every row
    (dimension tables such as products or customers).
    """

    name: str
    meaning: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    window: tuple | None = None
    required: bool = False
    chapters: str = ""

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _c(name, type_, required=False, meaning="", **kw) -> Column:
    return Column(name, type_, required, meaning, **kw)


ORDER_STATUS = ("paid", "cancelled", "refunded")
CAMPAIGN_TYPES = ("flash_sale", "full_reduction", "discount", "presale", "group_buy", "coupon",
                  "gift", "member_day", "lottery", "bundle", "other")
PRODUCT_ROLES = ("traffic", "profit", "image")
SHIPMENT_STATUS = ("in_transit", "delivered", "returned", "lost")

TABLES: dict[str, Table] = {}


def _register(table: Table) -> None:
    TABLES[table.name] = table


_register(Table(
    "orders", "one row per order", required=True, key=("order_id",),
    window=("time", "order_ts"), chapters="all",
    columns=(
        _c("order_id", "str", True, "unique order number"),
        _c("customer_id", "str", False, "buyer; without it the customer chapters skip"),
        _c("order_ts", "timestamp", True, "when the order was placed"),
        _c("paid_ts", "timestamp", False, "when it was paid; empty on a cancelled order"),
        _c("paid_amount", "money", True, "paid by the buyer: goods after all discounts, plus shipping", min=0),
        _c("status", "str", False, "paid / cancelled / refunded", enum=ORDER_STATUS, default="paid"),
        _c("channel", "str", False, "sales channel (tmall, jd, douyin, xiaohongshu, own_site, wechat_mini, ...)"),
        _c("gross_amount", "money", False, "list value of the goods before any discount", min=0),
        _c("discount_amount", "money", False, "all discounts together (coupon, 满减 full-reduction, platform)", min=0),
        _c("shipping_fee", "money", False, "", min=0),
        _c("refund_amount", "money", False, "refunded so far", min=0),
        _c("campaign_id", "str", False, "campaign the order is attributed to"),
        _c("coupon_code", "str", False, ""),
        _c("is_presale", "bool", False, "deposit-first presale order (预售)"),
        _c("province", "str", False, "ship-to province"),
        _c("city", "str", False, "ship-to city"),
        _c("device", "str", False, "app, mobile_web, pc, mini_program"),
        _c("contact_hash", "str", False, "hashed phone, for linking accounts"),
        _c("address_hash", "str", False, "hashed address, for linking accounts"),
    ),
    links=(Link("customer_id", "customers", "customer_id"),),
))

_register(Table(
    "order_items", "one row per order line", window=("orders", "order_id"), chapters="02, 03, 05",
    columns=(
        _c("order_id", "str", True, "joins orders"),
        _c("sku", "str", True, "joins products"),
        _c("qty", "int", True, "units", min=0, min_exclusive=True),
        _c("unit_price", "money", True, "paid per unit after item discounts", min=0),
        _c("list_price", "money", False, "", min=0),
    ),
    links=(Link("order_id", "orders", "order_id"), Link("sku", "products", "sku")),
))

_register(Table(
    "customers", "one row per customer", key=("customer_id",), chapters="01, 04, 06, 07",
    columns=(
        _c("customer_id", "str", True, "unique"),
        _c("signup_ts", "timestamp", False, "registration"),
        _c("acquisition_channel", "str", False, "channel that brought the customer"),
        _c("member_tier", "str", False, "none, silver, gold, platinum, ..."),
        _c("birth_year", "int", False, "", min=1900),
        _c("gender", "str", False, "F / M / U", enum=("F", "M", "U")),
        _c("province", "str", False, ""),
        _c("city", "str", False, ""),
        _c("city_tier", "int", False, "1 (tier-1 city) to 5", enum=(1, 2, 3, 4, 5)),
        _c("persona", "str", False, "e.g. gen_z, new_middle_class, silver_age, smb_buyer"),
        _c("name", "str", False, "personal data", personal=True),
        _c("phone", "str", False, "personal data", personal=True),
    ),
))

_register(Table(
    "products", "one row per SKU", key=("sku",), chapters="02, 03, 07",
    columns=(
        _c("sku", "str", True, "unique"),
        _c("category", "str", True, ""),
        _c("title", "str", False, "listing title (checked for banned advertising terms)"),
        _c("subcategory", "str", False, ""),
        _c("brand", "str", False, ""),
        _c("unit_cost", "money", False, "landed cost per unit", min=0),
        _c("list_price", "money", False, "", min=0),
        _c("launch_date", "date", False, ""),
        _c("supplier_id", "str", False, "primary supplier"),
        _c("backup_supplier_id", "str", False, "empty = single-sourced"),
        _c("role", "str", False, "traffic 引流款 / profit 利润款 / image 形象款", enum=PRODUCT_ROLES),
        _c("is_active", "bool", False, ""),
    ),
    links=(Link("supplier_id", "suppliers", "supplier_id"),),
))

_register(Table(
    "inventory", "end-of-day stock snapshots (daily or weekly)", key=("date", "sku", "warehouse"),
    window=("time", "date"), chapters="03",
    columns=(
        _c("date", "date", True, ""),
        _c("sku", "str", True, ""),
        _c("on_hand", "int", True, "sellable units", min=0),
        _c("on_order", "int", False, "ordered from suppliers, not yet received", min=0),
        _c("warehouse", "str", False, ""),
    ),
    links=(Link("sku", "products", "sku"),),
))

_register(Table(
    "suppliers", "one row per supplier", key=("supplier_id",), chapters="02, 03, 07",
    columns=(
        _c("supplier_id", "str", True, "unique"),
        _c("name", "str", False, "supplier's company name"),
        _c("lead_time_days", "number", False, "quoted lead time", min=0),
        _c("region", "str", False, ""),
    ),
))

_register(Table(
    "purchase_orders", "one row per purchase-order line", key=("po_id", "sku"),
    window=("time", "order_date"), chapters="02, 03, 07",
    columns=(
        _c("po_id", "str", True, ""),
        _c("supplier_id", "str", True, ""),
        _c("sku", "str", True, ""),
        _c("order_date", "date", True, ""),
        _c("expected_date", "date", False, "promised arrival"),
        _c("received_date", "date", False, "empty while open"),
        _c("qty_ordered", "int", True, "", min=0, min_exclusive=True),
        _c("qty_received", "int", False, "", min=0),
        _c("unit_cost", "money", False, "", min=0),
    ),
    links=(Link("supplier_id", "suppliers", "supplier_id"), Link("sku", "products", "sku")),
))

_register(Table(
    "traffic", "daily funnel by channel (unique visitors at each step)",
    key=("date", "channel", "device"), window=("time", "date"), chapters="01, 04, 06",
    columns=(
        _c("date", "date", True, ""),
        _c("channel", "str", True, ""),
        _c("visitors", "int", True, "UV", min=0),
        _c("product_views", "int", False, "visitors who viewed a product page", min=0),
        _c("add_to_cart", "int", False, "visitors who added to cart", min=0),
        _c("checkouts", "int", False, "visitors who started checkout", min=0),
        _c("device", "str", False, ""),
    ),
))

_register(Table(
    "marketing_spend", "daily spend by channel", window=("time", "date"), chapters="04, 05",
    columns=(
        _c("date", "date", True, ""),
        _c("channel", "str", True, ""),
        _c("spend", "money", True, "", min=0),
        _c("impressions", "int", False, "", min=0),
        _c("clicks", "int", False, "", min=0),
        _c("campaign_id", "str", False, ""),
    ),
))

_register(Table(
    "campaigns", "one row per campaign", key=("campaign_id",),
    window=("overlap", "start_date", "end_date"), chapters="05",
    columns=(
        _c("campaign_id", "str", True, "unique"),
        _c("name", "str", True, ""),
        _c("type", "str", True, "", enum=CAMPAIGN_TYPES),
        _c("start_date", "date", True, "inclusive"),
        _c("end_date", "date", True, "inclusive"),
        _c("channel", "str", False, "empty = all channels"),
        _c("budget", "money", False, "", min=0),
        _c("festival", "str", False, "e.g. 618, double11, double12, new_year_goods, womens_day"),
    ),
))

_register(Table(
    "reviews", "one row per product review", key=("review_id",),
    window=("time", "review_ts"), chapters="07",
    columns=(
        _c("review_id", "str", True, ""),
        _c("order_id", "str", False, ""),
        _c("sku", "str", True, ""),
        _c("customer_id", "str", False, ""),
        _c("rating", "int", True, "1-5", enum=(1, 2, 3, 4, 5)),
        _c("review_ts", "timestamp", True, ""),
        _c("text", "str", False, ""),
        _c("reply_ts", "timestamp", False, "first reply by the shop"),
    ),
    links=(Link("order_id", "orders", "order_id"), Link("sku", "products", "sku")),
))

_register(Table(
    "competitor_prices", "competitor listing prices matched to our SKUs",
    key=("date", "sku", "competitor"), window=("time", "date"), chapters="02, 07",
    columns=(
        _c("date", "date", True, ""),
        _c("sku", "str", True, "our SKU the competitor listing matches"),
        _c("competitor", "str", True, ""),
        _c("price", "money", True, "", min=0, min_exclusive=True),
    ),
    links=(Link("sku", "products", "sku"),),
))

_register(Table(
    "search_terms", "on-site search demand", key=("date", "term"), window=("time", "date"),
    chapters="02",
    columns=(
        _c("date", "date", True, ""),
        _c("term", "str", True, ""),
        _c("searches", "int", True, "", min=0),
        _c("category", "str", False, ""),
        _c("clicks", "int", False, "", min=0),
        _c("orders", "int", False, "", min=0),
    ),
))

_register(Table(
    "shipments", "one row per parcel", window=("orders", "order_id"), chapters="08",
    columns=(
        _c("order_id", "str", True, ""),
        _c("carrier", "str", True, ""),
        _c("shipped_ts", "timestamp", False, "empty = not shipped yet"),
        _c("delivered_ts", "timestamp", False, ""),
        _c("promised_date", "date", False, "delivery date promised to the buyer"),
        _c("status", "str", False, "", enum=SHIPMENT_STATUS),
    ),
    links=(Link("order_id", "orders", "order_id"),),
))

_register(Table(
    "service_tickets", "one row per customer-service ticket", key=("ticket_id",),
    window=("time", "opened_ts"), chapters="08",
    columns=(
        _c("ticket_id", "str", True, ""),
        _c("customer_id", "str", False, ""),
        _c("order_id", "str", False, ""),
        _c("opened_ts", "timestamp", True, ""),
        _c("first_response_ts", "timestamp", False, ""),
        _c("resolved_ts", "timestamp", False, ""),
        _c("category", "str", False, "refund, logistics, quality, size, other"),
        _c("satisfaction", "int", False, "1-5", enum=(1, 2, 3, 4, 5)),
    ),
    links=(Link("order_id", "orders", "order_id"),),
))

_register(Table(
    "experiments", "one row per unit assigned to an A/B test", key=("experiment_id", "unit_id"),
    window=("time", "assigned_ts"), chapters="05, 06",
    columns=(
        _c("experiment_id", "str", True, ""),
        _c("unit_id", "str", True, "visitor or customer"),
        _c("variant", "str", True, "the control is named `control`"),
        _c("assigned_ts", "timestamp", False, ""),
        _c("converted", "int", True, "0 / 1", enum=(0, 1)),
        _c("revenue", "money", False, "", min=0),
        _c("pre_metric", "number", False, "the unit's metric before the test (variance reduction)"),
    ),
))

_register(Table(
    "touchpoints", "marketing contacts on the way to a purchase", window=("time", "ts"),
    chapters="06",
    columns=(
        _c("customer_id", "str", True, ""),
        _c("ts", "timestamp", True, ""),
        _c("channel", "str", True, ""),
    ),
))

_register(Table(
    "targets", "the plan: one value per month, metric and channel", key=("month", "metric", "channel"),
    window=("month", "month"), chapters="01",
    columns=(
        _c("month", "month", True, "YYYY-MM"),
        _c("metric", "str", True, "gmv / orders / buyers / new_customers / aov / conversion_rate / repurchase_rate / ..."),
        _c("value", "number", True, ""),
        _c("channel", "str", False, "empty = whole shop"),
    ),
))

#: Columns that hold personal data, by table. They never reach a report unmasked.
PERSONAL_COLUMNS = {t.name: [c.name for c in t.columns if c.personal] for t in TABLES.values()
                    if any(c.personal for c in t.columns)}


def contract_markdown() -> str:
    """The contract as a Markdown document (the source of ``docs/data_contract.md``)."""
    lines = [
        "# The data contract",
        "",
        "Generated from `playbook/contract.py` by `playbook contract --markdown`; do not edit by hand.",
        "",
        "A source is a folder of `<table>.csv`, `<table>.csv.gz` or `<table>.parquet` files, or a",
        "DuckDB database file with tables of these names. Only `orders` is required; every other",
        "table unlocks the chapters listed beside it. Extra columns are kept. Column types:",
        "",
    ]
    lines += [f"- `{k}`: {v}" for k, v in COLUMN_TYPES.items()]
    for t in TABLES.values():
        lines += ["", f"## {t.name}{' (required)' if t.required else ''}", "",
                  f"{t.meaning[0].upper() + t.meaning[1:]}. Chapters: {t.chapters or '-'}."
                  + (f" Unique key: {', '.join(t.key)}." if t.key else ""), ""]
        lines += ["| column | type | required | rule | meaning |", "|---|---|---|---|---|"]
        for c in t.columns:
            rule = []
            if c.enum:
                rule.append("one of " + ", ".join(map(str, c.enum)))
            if c.min is not None:
                rule.append(f"{'>' if c.min_exclusive else '>='} {c.min:g}")
            if c.personal:
                rule.append("personal data")
            lines.append(f"| {c.name} | {c.type} | {'yes' if c.required else 'no'} | "
                         f"{'; '.join(rule)} | {c.meaning} |")
        for link in t.links:
            lines.append(f"\n`{link.column}` must match `{link.table}.{link.target}`.")
    return "\n".join(lines) + "\n"
