"""The loyalty domain's built-in checks, per warehouse table: keys present and unique at each
table's grain, money and counts not negative, the arm one of the two the config names.

A transaction breaking the points rule is a warning, not an error: the row is a fact and is
kept; its customer's point totals are NULL and the build's log counts it.
"""

from __future__ import annotations

import ibis.expr.types as ir

from martops.checks import builders as B
from martops.checks.core import Check
from martops.config import QualityConfig
from martops.loyalty import tables as T


def staging_customers(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.not_null(t, name, ["id", "signup_date", "loyalty"]), B.unique(t, name, ["id"])]


def staging_transactions(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.not_null(t, name, ["date", "user_id", "value", "point_differential"]), B.unique(t, name, ["_row"]),
            B.non_negative(t, name, "value")]


def transactions(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.unique(t, name, ["_row"]), B.not_null(t, name, ["date", "user_id", "loyalty", "kind"]),
            B.accepted_values(t, name, "points_rule_ok", [True], severity="warn")]


def customers(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.unique(t, name, ["id"]), B.not_null(t, name, ["id", "number_of_purchases", "value_of_purchases"]),
            B.non_negative(t, name, "number_of_purchases"), B.non_negative(t, name, "value_of_purchases"),
            B.non_negative(t, name, "total_standard_points", severity="warn")]


def _grain(*columns: str):
    def checks(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
        return [B.not_null(t, name, list(columns)), B.unique(t, name, list(columns))]
    return checks


TABLE_CHECKS = {
    T.STAGING_CUSTOMERS: staging_customers, T.STAGING_TRANSACTIONS: staging_transactions,
    T.TRANSACTIONS: transactions, T.CUSTOMERS: customers,
    **{table: _grain("period_start", "loyalty") for table in T.PERIODS.values()},
    T.CUSTOMER_MONTH: _grain("customer_id", "month"), T.LIABILITY: _grain("month"),
    T.FREQUENCY: _grain("loyalty", "purchases"), T.DROPOFF: _grain("loyalty", "purchase_number"),
    T.SEASONALITY: _grain("loyalty", "dimension", "level"), T.SEGMENTS: _grain("dimension", "level", "loyalty"),
    T.PROGRAMME_TEST: _grain("segment", "level", "metric", "method"), T.PROGRAMME_BALANCE: _grain("covariate", "level"),
    T.PROGRAMME_SUMMARY: _grain("measure"),
}
STAGING_SOURCES = {T.STAGING_CUSTOMERS: ("loyalty_customers",), T.STAGING_TRANSACTIONS: ("loyalty_transactions",)}
"""Staging table -> its `ops.quarantine.table_name` (for `martops status`)."""
