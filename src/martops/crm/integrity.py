"""`crm.*`: one clean row per entity id, from staging's survivors, with integrity flags.

Every crm table is rebuilt from staging on every load, so a re-delivered parent (customers) is
seen by children delivered earlier (their orphan flags follow it). Rows are never dropped for
integrity: a flag keeps totals complete and says what to exclude.

- **Orphan foreign keys** (transaction -> customer, product, sales rep; interaction -> customer):
  the row stays, `orphan_<fk>` is true. Checked against the parent's crm table; where the parent
  was never delivered the flag is NULL (not checked). A blank sales_rep_id is not an orphan.
- **A product id naming several products** (`id_conflict`, see `survivorship`): the first row is
  the product; `other_names` lists the rest; transactions on that id carry `product_id_conflict`
  (which product was sold cannot be told).
- **Missing amounts**: a transaction with a blank amount happened (it has an id, a customer, a
  product and a date), so it stays: counts and purchase frequency stay right, revenue sums skip
  it (`amount_missing`). It cannot be derived here: the CRM has no quantity column and amounts are
  not the product's price (they match in 1 of 978 real rows, by chance). Where a delivery maps a
  `quantity` column, a blank amount becomes price x quantity, flagged `amount_imputed`.
- **Missing sales_achieved**: NULL with `achieved_missing`, never 0 (0 would read as a rep who
  sold nothing).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.crm import tables as T
from martops.crm.roles import KEYS
from martops.engine import Warehouse
from martops.sources.typed import ROW

LINEAGE = ("source_row", "duplicate_rows", "_etl_loaded_at", "_run_id")


def survivors(wh: Warehouse, role: str) -> ir.Table | None:
    if not wh.exists(T.STAGING[role]):
        return None
    s = wh.table(T.STAGING[role])
    return s.filter(s.is_survivor).mutate(source_row=s[ROW])


def _lineage(t: ir.Table) -> dict[str, ir.Value]:
    return {c: t[c] for c in LINEAGE}


def _orphan(t: ir.Table, col: str, parent: ir.Table | None, parent_key: str) -> ir.BooleanValue:
    if parent is None:
        return ibis.null("boolean")
    return ibis.ifelse(t[col].isnull(), False, t[col].notin(parent[parent_key]))


def customers(s: ir.Table) -> ir.Table:
    return s.select("customer_id", "name", "first_name", "surname", "email", "phone", "phone_ext", "country",
                    **_lineage(s))


def products(s: ir.Table, staging: ir.Table) -> ir.Table:
    others = staging.filter(staging.duplicate_kind == "id_conflict")
    others = others.group_by("product_id").aggregate(
        other_names=others.product_name.group_concat(", ", order_by=others[ROW]))
    j = s.left_join(others, "product_id")
    return j.select("product_id", "product_name", "category", "price", id_conflict=j.other_names.notnull(),
                    other_names=j.other_names, **_lineage(j))


def sales_team(s: ir.Table) -> ir.Table:
    return s.select("sales_rep_id", "name", "region", "sales_target", "sales_achieved", "achieved_missing",
                    **_lineage(s))


def countries(s: ir.Table) -> ir.Table:
    return s.select("name", "country", "dialling_code", **_lineage(s))


def transactions(s: ir.Table, cust: ir.Table | None, prod: ir.Table | None, reps: ir.Table | None) -> ir.Table:
    if prod is not None:
        p = prod.select(_pid=prod.product_id, _price=prod.price, _conflict=prod.id_conflict)
        s = s.left_join(p, s.product_id == p._pid).drop("_pid")
    else:
        s = s.mutate(_price=ibis.null("float64"), _conflict=ibis.null("boolean"))
    imputed = s.amount.isnull() & s.quantity.notnull() & s._price.notnull()
    amount = ibis.ifelse(imputed, s._price * s.quantity, s.amount)
    return s.select(
        "transaction_id", "customer_id", "product_id", "sales_rep_id", "date", amount=amount,
        quantity=s.quantity, amount_missing=amount.isnull(), amount_imputed=imputed,
        orphan_customer=_orphan(s, "customer_id", cust, "customer_id"),
        orphan_product=_orphan(s, "product_id", prod, "product_id"),
        orphan_sales_rep=_orphan(s, "sales_rep_id", reps, "sales_rep_id"),
        product_id_conflict=s._conflict.fill_null(False) if prod is not None else ibis.null("boolean"),
        **_lineage(s),
    )


def interactions(s: ir.Table, cust: ir.Table | None) -> ir.Table:
    return s.select("interaction_id", "customer_id", "date", "type", "resolved",
                    orphan_customer=_orphan(s, "customer_id", cust, "customer_id"), **_lineage(s))


def rebuild(wh: Warehouse) -> dict[str, int]:
    """Every crm table whose staging exists, parents first; rows written per table."""
    out: dict[str, int] = {}
    surv = {role: survivors(wh, role) for role in T.ROLES}

    def write(role: str, expr: ir.Table) -> None:
        out[role] = wh.create_or_replace(T.CLEAN[role], expr.order_by(KEYS[role]))

    if surv["customers"] is not None:
        write("customers", customers(surv["customers"]))
    if surv["products"] is not None:
        write("products", products(surv["products"], wh.table(T.STAGING["products"])))
    if surv["sales_team"] is not None:
        write("sales_team", sales_team(surv["sales_team"]))
    if surv["countries"] is not None:
        write("countries", countries(surv["countries"]))
    parent = {r: wh.table(T.CLEAN[r]) if r in out else None for r in ("customers", "products", "sales_team")}
    if surv["transactions"] is not None:
        write("transactions", transactions(surv["transactions"], parent["customers"], parent["products"],
                                           parent["sales_team"]))
    if surv["interactions"] is not None:
        write("interactions", interactions(surv["interactions"], parent["customers"]))
    return out

