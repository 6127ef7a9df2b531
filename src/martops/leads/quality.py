"""Built-in checks of the lead tables: each table unique and complete at its grain, probabilities
in [0, 1], model scores in 0..100, grades A-D. Run inside the scoring step's transaction, so a
failing table is never committed."""

from __future__ import annotations

import ibis.expr.types as ir

from martops.checks import builders as B
from martops.checks.core import Check
from martops.config import QualityConfig
from martops.leads import tables as T


def scores(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.not_null(t, name, ["lead_id", "as_of", "rules_score", "grade"]), B.unique(t, name, ["lead_id", "as_of"]),
            B.value_range(t, name, "probability", 0, 1), B.value_range(t, name, "score", 0, 100),
            B.accepted_values(t, name, "grade", ["A", "B", "C", "D"])]


def companies(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.not_null(t, name, ["company", "as_of"]), B.unique(t, name, ["company", "as_of"]),
            B.accepted_values(t, name, "grade", ["A", "B", "C", "D"])]


def staging(t: ir.Table, name: str, q: QualityConfig) -> list[Check]:
    return [B.not_null(t, name, ["lead_id"]), B.unique(t, name, ["lead_id"])]


TABLE_CHECKS = {T.SCORES: scores, T.COMPANY_SCORES: companies, T.STAGING: staging, T.TRAINING: staging}
STAGING_SOURCES = {T.STAGING: ("leads",), T.TRAINING: ("lead_training",)}
"""Staging table -> its `ops.quarantine.table_name` (for `martops status`)."""
