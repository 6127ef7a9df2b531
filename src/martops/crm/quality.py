"""The CRM foundation's built-in checks, per warehouse table.

Keys must be present and unique (in staging: among survivors). Foreign keys are warnings: an orphan
is kept and flagged on purpose (totals stay complete), and the count with examples is what a person
needs. Interaction types outside (phone, chat, email, unknown) are a warning too: a new channel in
the CRM is news, not a reason to stop the load.
"""

from __future__ import annotations

import dataclasses

import ibis.expr.types as ir

from martops.checks import builders as B
from martops.checks.core import Check
from martops.config import QualityConfig
from martops.crm import tables as T
from martops.crm.roles import KEYS

INTERACTION_TYPES = ["phone", "chat", "email", "unknown"]


def _tagged(check: Check, tag: str) -> Check:
    return dataclasses.replace(check, name=f"{check.name} [{tag}]")


def _parent(t: ir.Table, name: str) -> ir.Table | None:
    schema, table = name.split(".")
    backend = t.get_backend()
    return backend.table(table, database=schema) if table in backend.list_tables(database=schema) else None


def _fk(t: ir.Table, name: str, column: str, parent_name: str, field: str) -> list[Check]:
    parent = _parent(t, parent_name)
    if parent is None:
        return []
    return [B.relationships(t, name, column, parent, parent_name, field, severity="warn")]


def staging(role: str):
    key = KEYS[role]

    def checks(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
        surv = t.filter(t.is_survivor)
        return [B.not_null(t, name, [key, "_row", "row_hash"]), B.unique(t, name, ["_row"]),
                _tagged(B.unique(surv, name, [key]), "survivors")]
    return checks


def _clean(role: str):
    key = KEYS[role]

    def checks(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
        return [B.not_null(t, name, [key]), B.unique(t, name, [key])]
    return checks


def products(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return _clean("products")(t, name, q) + [B.non_negative(t, name, "price")]


def sales_team(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return _clean("sales_team")(t, name, q) + [B.non_negative(t, name, "sales_target"),
                                               B.non_negative(t, name, "sales_achieved")]


def transactions(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [
        B.not_null(t, name, ["transaction_id", "customer_id", "product_id", "date"]),
        B.unique(t, name, ["transaction_id"]),
        B.non_negative(t, name, "amount"),
        *_fk(t, name, "customer_id", T.CUSTOMERS, "customer_id"),
        *_fk(t, name, "product_id", T.PRODUCTS, "product_id"),
        *_fk(t, name, "sales_rep_id", T.SALES_TEAM, "sales_rep_id"),
    ]


def interactions(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [
        B.not_null(t, name, ["interaction_id", "customer_id", "date", "type"]),
        B.unique(t, name, ["interaction_id"]),
        B.accepted_values(t, name, "type", INTERACTION_TYPES, severity="warn"),
        *_fk(t, name, "customer_id", T.CUSTOMERS, "customer_id"),
    ]


TABLE_CHECKS = {
    **{T.STAGING[r]: staging(r) for r in T.ROLES},
    T.CUSTOMERS: _clean("customers"), T.PRODUCTS: products, T.SALES_TEAM: sales_team,
    T.COUNTRIES: _clean("countries"), T.TRANSACTIONS: transactions, T.INTERACTIONS: interactions,
}
STAGING_SOURCES = {T.STAGING[r]: (f"crm_{r}",) for r in T.ROLES}
"""Staging table -> its `ops.quarantine.table_name` (for `martops status`)."""
LOAD_STEP = "crm.load"
