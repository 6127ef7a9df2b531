"""What each CRM cleaning rule did, counted into `ops.cleaning_log` (domain `crm`) with examples.

Counts are source rows in staging (every loaded row, losing copies included) unless the rule says
`crm.<table>`: integrity flags are counted on the one-row-per-id tables, where they matter.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.config import CrmConfig
from martops.crm import standardize as S
from martops.crm import tables as T
from martops.engine import Warehouse
from martops.ops.cleaning_log import CleaningLog
from martops.sources.typed import ROW

EXAMPLES = 5


def _hits(wh: Warehouse, t: ir.Table, cond: ir.BooleanValue, example: ir.StringValue) -> tuple[int, str]:
    """How many rows meet `cond`, and the first few distinct examples (in line order)."""
    hit = t.filter(cond.fill_null(False))
    n = int(wh.scalar(hit.count()))
    if not n:
        return 0, ""
    ex = hit.select(e=example.cast("string"), r=hit[ROW] if ROW in hit.columns else hit.source_row)
    ex = ex.group_by("e").aggregate(r=ex.r.min()).order_by("r").limit(EXAMPLES)
    shown = [r["e"] for r in wh.to_pyarrow(ex).to_pylist()]
    return n, "; ".join(str(s) for s in shown) + ("; ..." if n > len(shown) else "")


def _q(v: ir.Value) -> ir.StringValue:
    return ibis.literal("'") + v.cast("string").fill_null("") + "'"


def _line(t: ir.Table) -> ir.StringValue:
    return ibis.literal("line ") + t[ROW].cast("string")


def _add(log: CleaningLog, wh: Warehouse, role: str, rule: str, t: ir.Table, cond: ir.BooleanValue,
         example: ir.StringValue, always: bool = False) -> None:
    n, ex = _hits(wh, t, cond, example)
    log.add(role, rule, n, ex, always=always)


def _duplicates(log: CleaningLog, wh: Warehouse, role: str, t: ir.Table, key: str) -> None:
    _add(log, wh, role, "exact copies collapsed (same id, same values; kept in staging, not survivors)", t,
         t.duplicate_kind == "exact_copy", t[key] + " line " + t[ROW].cast("string") + " = line "
         + t.survivor_row.cast("string"), always=True)
    _add(log, wh, role, "conflicting copies resolved: most complete row, then the later line", t,
         t.duplicate_kind == "conflicting_copy", t[key] + ": line " + t.survivor_row.cast("string")
         + " kept over line " + t[ROW].cast("string"), always=True)


def _countries(log: CleaningLog, wh: Warehouse, role: str, t: ir.Table, raw: str, cfg: CrmConfig) -> None:
    for rule in ("alias", "code", "common_name", "official_name", "short_form", "folded", "fuzzy"):
        _add(log, wh, role, f"rows whose country was mapped to ISO alpha-2 by {rule}", t, t.country_rule == rule,
             S.squash(t[raw]) + " -> " + t.country)
    _add(log, wh, role, f"rows whose country no rule maps -> {cfg.unknown_country} (add crm.country_aliases)", t,
         t.country_rule == "unknown", S.squash(t[raw]), always=True)
    _add(log, wh, role, f"country blank -> {cfg.unknown_country}", t, t.country_rule == "blank", _line(t))


def log_load(log: CleaningLog, wh: Warehouse, roles: list[str], cfg: CrmConfig) -> None:
    from martops.crm.roles import KEYS

    for role in roles:
        # the rules' regular expressions are DuckDB's (RE2), as in standardising: read in the loader
        t = wh.to_loader(wh.table(T.STAGING[role]))
        _duplicates(log, wh, role, t, KEYS[role])
        if role == "customers":
            _add(log, wh, role, "names: spaces trimmed/collapsed (case kept)", t,
                 (t.name != t.name_raw) & ~S.name_symbols(t.name_raw), _q(t.name_raw))
            _add(log, wh, role, "names: emoji/symbols dropped (not part of a name)", t,
                 S.name_symbols(t.name_raw) & t.name.notnull(), _q(t.name_raw) + " -> " + t.name)
            _add(log, wh, role, "names without a letter in any script (only emoji/symbols): missing", t,
                 ~S.blank(t.name_raw) & t.name.isnull(), _q(t.name_raw), always=True)
            _add(log, wh, role, "names: honorifics/suffixes left out of first_name/surname", t,
                 S.name_core(t.name_raw) != t.name, t.name + " -> " + t.first_name.fill_null("") + " | " + t.surname)
            _add(log, wh, role, "emails trimmed/lower-cased", t, t.email.notnull() & (t.email != t.email_raw),
                 _q(t.email_raw) + " -> " + t.email)
            _add(log, wh, role, "emails failing the WHATWG syntax check (NULL in email, kept in email_raw)", t,
                 t.email_valid == False, _q(t.email_raw), always=True)  # noqa: E712
            _add(log, wh, role, "customers without an email", t, S.blank(t.email_raw), _line(t), always=True)
            _add(log, wh, role, "phones parsed to E.164 (valid numbers)", t, t.phone_status == "valid",
                 _q(t.phone_raw) + " -> " + t.phone, always=True)
            kept = "kept in phone" if cfg.phone_accept == "possible" else "NULL in phone"
            _add(log, wh, role, f"phones of possible length but unassigned range ({kept}; crm.phone_accept)", t,
                 t.phone_status == "possible", _q(t.phone_raw), always=True)
            _add(log, wh, role, "phones invalid or unparseable (NULL in phone)", t,
                 t.phone_status.isin(["invalid", "unparseable"]), _q(t.phone_raw), always=True)
            _add(log, wh, role, "phones read in crm.default_region (no known country on the row)", t,
                 ~S.blank(t.phone_raw) & (S.blank(t.country_raw) | (t.country == cfg.unknown_country)),
                 _q(t.phone_raw) + " in " + t.phone_region)
            _add(log, wh, role, "phones dialled with the 00 international prefix (read as +)", t, t.phone_idd,
                 _q(t.phone_raw))
            _add(log, wh, role, "phone extensions kept in phone_ext", t, t.phone_ext.notnull(),
                 _q(t.phone_raw) + " -> ext " + t.phone_ext)
            _add(log, wh, role, "customers without a phone", t, S.blank(t.phone_raw), _line(t), always=True)
            _countries(log, wh, role, t, "country_raw", cfg)
        elif role in ("transactions", "interactions"):
            _add(log, wh, role, "dates in another accepted format rewritten to ISO", t,
                 t.date_raw.strip() != t.date.cast("string"), _q(t.date_raw) + " -> " + t.date.cast("string"))
            if role == "transactions":
                _add(log, wh, role, "amounts cleaned (spaces, currency symbols, thousands commas)", t,
                     S.amount_cleaned(t.amount_raw), _q(t.amount_raw) + " -> " + t.amount.cast("string"))
                _add(log, wh, role, "source rows without an amount", t, t.amount.isnull(), t.transaction_id,
                     always=True)
            else:
                _add(log, wh, role, "interaction type blank -> unknown", t, S.blank(t.type_raw), _line(t), always=True)
                _add(log, wh, role, "interaction type case-folded or respelled", t, ~S.blank(t.type_raw) & (t.type != t.type_raw),
                     _q(t.type_raw) + " -> " + t.type)
                _add(log, wh, role, "issue_resolved blank (NULL)", t, t.resolved.isnull(), _line(t))
        elif role == "products":
            _add(log, wh, role, "prices cleaned (spaces, currency symbols, thousands commas)", t,
                 S.amount_cleaned(t.price_raw), _q(t.price_raw) + " -> " + t.price.cast("string"))
            _add(log, wh, role, "category blank -> unknown", t, S.blank(t.category_raw), t.product_id + " "
                 + t.product_name.fill_null(""), always=True)
            _add(log, wh, role, "category respelled (spaces, case)", t,
                 ~S.blank(t.category_raw) & (t.category != t.category_raw), _q(t.category_raw) + " -> " + t.category)
            _add(log, wh, role, "product ids naming several products: first line kept (id_conflict)", t,
                 t.duplicate_kind == "id_conflict", t.product_id + ": line " + t.survivor_row.cast("string")
                 + " kept, " + t.product_name + " (line " + t[ROW].cast("string") + ") listed in other_names",
                 always=True)
        elif role == "sales_team":
            _add(log, wh, role, "region respelled (spaces, case)", t,
                 ~S.blank(t.region_raw) & (t.region != t.region_raw), _q(t.region_raw) + " -> " + t.region)
            _add(log, wh, role, "sales_achieved blank (NULL + achieved_missing, never 0)", t, t.achieved_missing,
                 t.sales_rep_id + " " + t.name.fill_null(""), always=True)
            _add(log, wh, role, "sales figures cleaned (spaces, symbols, thousands commas)", t,
                 S.amount_cleaned(t.sales_target_raw) | S.amount_cleaned(t.sales_achieved_raw), t.sales_rep_id)
        elif role == "countries":
            _countries(log, wh, role, t.mutate(country_raw=t.name_raw), "name_raw", cfg)
            _add(log, wh, role, "dialling codes given a leading +", t,
                 t.dialling_code.notnull() & (t.dialling_code != t.dialling_code_raw), _q(t.dialling_code_raw))


def log_integrity(log: CleaningLog, wh: Warehouse, written: dict[str, int]) -> None:
    """Flags on the one-row-per-id tables: orphans, missing amounts, product id conflicts."""
    for role, fks in (("transactions", ("customer", "product", "sales_rep")), ("interactions", ("customer",))):
        if role not in written:
            continue
        t = wh.table(T.CLEAN[role]).mutate(_row=lambda s: s.source_row)
        key = "transaction_id" if role == "transactions" else "interaction_id"
        for fk in fks:
            col = f"{fk}_id"
            unchecked = int(wh.scalar(t[f"orphan_{fk}"].isnull().sum().fill_null(0)))
            if unchecked:
                log.add(role, f"{col} not checked: no {fk} table was ever delivered", unchecked, always=True)
                continue
            _add(log, wh, role, f"orphan {col} in {T.CLEAN[role]} (kept, orphan_{fk})", t, t[f"orphan_{fk}"],
                 t[key] + " -> " + t[col], always=True)
        if role == "transactions":
            _add(log, wh, role, f"amount missing in {T.CLEAN[role]} (kept, amount_missing; revenue skips it)", t,
                 t.amount_missing, t.transaction_id, always=True)
            _add(log, wh, role, "amount imputed = price x quantity (amount_imputed)", t, t.amount_imputed,
                 t.transaction_id + ": " + t.amount.cast("string"))
            _add(log, wh, role, "rows on a product id naming several products (product_id_conflict)", t,
                 t.product_id_conflict, t.transaction_id + " -> product " + t.product_id, always=True)
