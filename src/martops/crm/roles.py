"""Per role: which values can keep a row out (typing, quarantine) and its staging columns.

A row is quarantined only when it cannot be used at all: no id, no customer or product on a
transaction, no customer on an interaction, an unreadable date, an amount that is not a number
>= 0, an issue_resolved that is not yes/no. Everything else is standardised and kept, with the raw
text in `<column>_raw` beside it: a bad email or phone does not make a customer less real.
"""

from __future__ import annotations

import dataclasses

import ibis
import ibis.expr.types as ir

from martops.config import CrmConfig, SourceSettings
from martops.crm import phones
from martops.crm import standardize as S
from martops.sources import countries
from martops.sources import numbers as N
from martops.sources import timestamps as TS
from martops.sources.typed import ROW, Field, RawSpec

SETTING = "sources.crm"

KEYS = {"customers": "customer_id", "transactions": "transaction_id", "products": "product_id",
        "interactions": "interaction_id", "sales_team": "sales_rep_id", "countries": "name"}
"""The id a role's rows are one per (countries: the country name, case-folded)."""
REQUIRED_TEXT = {"transactions": ("customer_id", "product_id"), "interactions": ("customer_id",)}
"""Foreign keys a row is useless without (a rep is optional: not every sale has one)."""


def _trimmed(col: str):
    return lambda t: t[col].strip().nullif("")


def spec(role: str, columns: list[str], settings: SourceSettings | None = None) -> RawSpec:
    """The typing rules of one role's file (`columns`: the canonical columns it was read with).
    Dates and amounts are read by the shared parsers under the CRM's source settings."""
    s = settings or SourceSettings()
    key = "country" if role == "countries" else KEYS[role]
    fields: dict[str, Field] = {c: Field(c) for c in columns if c != ROW}
    fields[key] = Field(key, expected="an id", required=True, parse=_trimmed(key))
    for fk in REQUIRED_TEXT.get(role, ()):
        fields[fk] = Field(fk, expected="an id", required=True, parse=_trimmed(fk))
    if "date" in fields:
        fields["date"] = Field("date", "date", TS.DATETIME_EXPECTED, required=True,
                               parse=lambda t: TS.calendar_date(t.date, s.timezone, s.reporting_timezone))
    for c in ("amount", "price", "sales_target", "sales_achieved", "quantity"):
        if c in fields:
            fields[c] = Field(c, "float64", S.AMOUNT_EXPECTED, parse=lambda t, c=c: S.amount(t[c], s.decimal),
                              hint=lambda t, c=c: N.decimal_hint(t[c], s.decimal, SETTING))
    if "resolved" in fields:
        fields["resolved"] = Field("resolved", "boolean", S.BOOLEAN_EXPECTED, parse=lambda t: S.boolean(t.resolved))
    return RawSpec(f"crm_{role}", tuple(fields.values()), key=(), null_values=tuple(s.null_values))


@dataclasses.dataclass
class Lookups:
    """Tables and maps computed once per delivery over distinct values (phones, countries, spellings)."""

    phones: ir.Table | None = None
    countries: ir.Table | None = None
    spellings: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    """column -> case-folded text -> the delivery's canonical spelling (category, region)."""


def with_country(t: ir.Table, col: str, lk: Lookups, cfg: CrmConfig) -> ir.Table:
    """`t` plus `_iso` (the ISO alpha-2 code of `col`, `countries.unknown` when no rule maps it)
    and `_rule` (the rule that mapped it, `blank` for none)."""
    c = lk.countries
    j = t.left_join(c, countries.key(t[col]) == c.country_key)
    return j.mutate(_iso=j.country_iso.fill_null(cfg.unknown_country),
                    _rule=ibis.ifelse(S.blank(j[col]), ibis.literal("blank"), j.country_rule)
                    ).drop("country_key", "country_iso", "country_rule")


def staged(role: str, good: ir.Table, lk: Lookups, cfg: CrmConfig) -> ir.Table:
    """Loadable rows (typed fields as `t_<col>`) in staging's shape, before survivorship."""
    t = good
    if role == "customers":
        t = with_country(t, "country", lk, cfg)
        t = t.mutate(_region=phones.region(t._iso, cfg.default_region, cfg.unknown_country))
        p = lk.phones
        t = t.left_join(p, (t.phone == p.phone_raw) & (t._region == p.phone_region)).drop("phone_raw", "phone_region")
        accepted = ("valid",) if cfg.phone_accept == "valid" else ("valid", "possible")
        return t.select(
            ROW, customer_id=t.t_customer_id,
            name_raw=t["name"], name=S.person_name(t["name"]), first_name=S.first_name(t["name"]),
            surname=S.surname(t["name"]),
            email_raw=t.email, email=S.email(t.email), email_valid=S.email_valid(t.email),
            phone_raw=t.phone, phone=ibis.ifelse(t.phone_status.isin(accepted), t.phone_e164, ibis.null("string")),
            phone_ext=t.phone_ext, phone_status=t.phone_status, phone_idd=t.phone_idd,
            phone_region=ibis.ifelse(S.blank(t.phone), ibis.null("string"), t._region),
            country_raw=t.country, country=t._iso, country_rule=t._rule,
        )
    if role == "transactions":
        quantity = t.t_quantity if "quantity" in t.columns else ibis.null("float64")
        return t.select(
            ROW, transaction_id=t.t_transaction_id, customer_id=t.t_customer_id, product_id=t.t_product_id,
            sales_rep_id=t.sales_rep_id.strip().nullif(""), date_raw=t.date, date=t.t_date,
            amount_raw=t.amount, amount=t.t_amount,
            quantity_raw=t.quantity if "quantity" in t.columns else ibis.null("string"), quantity=quantity,
        )
    if role == "products":
        return t.select(
            ROW, product_id=t.t_product_id, product_name_raw=t.product_name, product_name=S.squash(t.product_name),
            category_raw=t.category, category=S.respelled(t.category, lk.spellings.get("category", {})),
            price_raw=t.price, price=t.t_price,
        )
    if role == "interactions":
        return t.select(
            ROW, interaction_id=t.t_interaction_id, customer_id=t.t_customer_id, date_raw=t.date, date=t.t_date,
            type_raw=t.type, type=S.interaction_type(t.type, cfg.interaction_types),
            resolved_raw=t.resolved, resolved=t.t_resolved,
        )
    if role == "sales_team":
        return t.select(
            ROW, sales_rep_id=t.t_sales_rep_id, name_raw=t["name"], name=S.person_name(t["name"]),
            region_raw=t.region, region=S.respelled(t.region, lk.spellings.get("region", {})),
            sales_target_raw=t.sales_target, sales_target=t.t_sales_target,
            sales_achieved_raw=t.sales_achieved, sales_achieved=t.t_sales_achieved,
            achieved_missing=t.t_sales_achieved.isnull(),
        )
    if role == "countries":
        t = with_country(t, "country", lk, cfg)
        code = t.dialling_code.re_replace(r"\s", "").nullif("")
        return t.select(
            ROW, name_raw=t.country, name=S.squash(t.country), country=t._iso, country_rule=t._rule,
            dialling_code_raw=t.dialling_code,
            dialling_code=ibis.ifelse(code.re_search(r"^\d"), ibis.literal("+") + code, code),
        )
    raise ValueError(f"unknown CRM role {role!r}")


COMPLETENESS: dict[str, dict[str, object]] = {
    "customers": {"name": None, "email": None, "phone": None, "country": "unknown_country"},
    "transactions": {"customer_id": None, "product_id": None, "sales_rep_id": None, "date": None, "amount": None},
    "products": {"product_name": None, "category": S.UNKNOWN, "price": None},
    "interactions": {"date": None, "type": S.UNKNOWN, "resolved": None},
    "sales_team": {"name": None, "region": S.UNKNOWN, "sales_target": None, "sales_achieved": None},
    "countries": {"country": "unknown_country", "dialling_code": None},
}
"""Standardised fields counted by survivorship's 'most complete': non-NULL and not the placeholder."""


def completeness(t: ir.Table, role: str, cfg: CrmConfig) -> ir.IntegerValue:
    terms = []
    for col, placeholder in COMPLETENESS[role].items():
        known = t[col].notnull()
        if placeholder is not None:
            value = cfg.unknown_country if placeholder == "unknown_country" else placeholder
            known = known & (t[col] != value)
        terms.append(known.cast("int64"))
    return sum(terms[1:], terms[0])


RAW_COLUMNS = {
    "customers": ("customer_id", "name_raw", "email_raw", "phone_raw", "country_raw"),
    "transactions": ("transaction_id", "customer_id", "product_id", "date_raw", "amount_raw", "sales_rep_id",
                     "quantity_raw"),
    "products": ("product_id", "product_name_raw", "category_raw", "price_raw"),
    "interactions": ("interaction_id", "customer_id", "date_raw", "type_raw", "resolved_raw"),
    "sales_team": ("sales_rep_id", "name_raw", "region_raw", "sales_target_raw", "sales_achieved_raw"),
    "countries": ("name_raw", "dialling_code_raw"),
}
"""The source values an exact copy must share (`row_hash`); ids count trimmed."""
IDENTITY = {"products": "product_name"}
"""A column whose disagreement means two different things share one id, not two versions of one
(see `survivorship`): product 21 is a Dress and a Blazer, not a Dress with a typo."""
