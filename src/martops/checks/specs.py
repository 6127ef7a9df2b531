"""The check kinds a project file declares per table, validated when the file is read.

A declaration is a one-key mapping, kind -> arguments, as in dbt's schema tests:

    checks:
      staging.sessions:
        - not_null: [session_id, user_id]
        - unique: [session_id]
        - accepted_values: {column: channel_name, values: [Direct Traffic, Referral], severity: warn}
        - range: {column: cost, min: 0}
        - relationships: {column: user_id, to: staging.conversions, field: user_id, severity: warn}
        - expression: {expr: "cost < 10000", severity: warn}
        - row_count: {min: 1, max_drop_pct: 50}
        - freshness: {column: _loaded_at, warn_after_hours: 12, error_after_hours: 24}
      marts.funnel:
        - monotonic_funnel: {columns: [leads, meetings, deals], severity: warn}
        - sums_to: {column: share, group_by: [day], value: 1, tolerance: 1e-9}

A list where a mapping is expected is shorthand for `columns` (not_null, unique, monotonic_funnel).
Every kind takes `severity: warn|error` (default error).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

Severity = Literal["warn", "error"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    severity: Severity = "error"


class NotNull(_Spec):
    kind: Literal["not_null"] = "not_null"
    columns: list[str] = Field(min_length=1)


class Unique(_Spec):
    """The columns together (a composite key) identify at most one row."""

    kind: Literal["unique"] = "unique"
    columns: list[str] = Field(min_length=1)


class AcceptedValues(_Spec):
    kind: Literal["accepted_values"] = "accepted_values"
    column: str
    values: list[Any] = Field(min_length=1)


class Relationships(_Spec):
    """Every non-NULL `column` value exists in `to`.`field` (referential integrity)."""

    kind: Literal["relationships"] = "relationships"
    column: str
    to: str
    field: str


class Range(_Spec):
    kind: Literal["range"] = "range"
    column: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> "Range":
        if self.min is None and self.max is None:
            raise ValueError("range needs min, max or both")
        return self


class Expression(_Spec):
    """A SQL condition (the warehouse's dialect) that every row must satisfy; NULL passes, as in dbt."""

    kind: Literal["expression"] = "expression"
    expr: str
    name: str | None = None


class RowCount(_Spec):
    """At least `min` rows, and no drop of more than `max_drop_pct` % against the last check."""

    kind: Literal["row_count"] = "row_count"
    min: int = Field(1, ge=0)
    max_drop_pct: float | None = Field(None, gt=0, le=100)


class Freshness(_Spec):
    """The newest `column` (a load timestamp) is at most this old: warn after 12 h, error after 24 h."""

    kind: Literal["freshness"] = "freshness"
    column: str = "_loaded_at"
    warn_after_hours: float | None = Field(12, gt=0)
    error_after_hours: float | None = Field(24, gt=0)


class MonotonicFunnel(_Spec):
    """Per row, each funnel step is <= the step before it (e.g. leads >= meetings >= deals)."""

    kind: Literal["monotonic_funnel"] = "monotonic_funnel"
    columns: list[str] = Field(min_length=2)


class SumsTo(_Spec):
    kind: Literal["sums_to"] = "sums_to"
    column: str
    group_by: list[str] = Field(min_length=1)
    value: float = 1.0
    tolerance: float = Field(1e-9, ge=0)


CheckSpec = Annotated[
    Union[NotNull, Unique, AcceptedValues, Relationships, Range, Expression, RowCount, Freshness,
          MonotonicFunnel, SumsTo],
    Field(discriminator="kind"),
]
KINDS = ("not_null", "unique", "accepted_values", "relationships", "range", "expression", "row_count",
         "freshness", "monotonic_funnel", "sums_to")


def normalise(entry: Any) -> Any:
    """`{unique: [a, b]}` -> `{kind: unique, columns: [a, b]}`, so pydantic can pick the model."""
    if not isinstance(entry, dict) or "kind" in entry:
        return entry
    if len(entry) != 1:
        raise ValueError(f"a check is a one-key mapping `kind: arguments`, got keys {sorted(entry)}")
    (kind, args), = entry.items()
    if kind not in KINDS:
        raise ValueError(f"unknown check kind {kind!r}; known: {', '.join(KINDS)}")
    if isinstance(args, (list, str)):
        args = {"columns": [args] if isinstance(args, str) else args}
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ValueError(f"{kind}: arguments must be a mapping or a list of columns, got {args!r}")
    return {"kind": kind, **args}
