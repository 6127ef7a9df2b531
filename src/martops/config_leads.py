"""The `leads:` section of martops.yml: how a lead table maps to lead scoring (`martops leads`).

A lead table is any table with one row per lead: an id, optionally a 0/1 outcome (the label, for
training), and columns that describe the lead (fit: who they are) or what they did (engagement).
Columns are named by their header as the file writes it (matched trimmed and case-insensitively).
Behaviour the warehouse already holds (sessions, purchases, product usage) joins in by a key.

Lives beside config.py (which imports it) so the project file's largest section stays readable;
same conventions: strict (unknown keys are errors naming the key), a docstring per field.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from martops.config_types import DateSetting


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


ColumnType = Literal["categorical", "numeric", "boolean", "date"]
Role = Literal["fit", "engagement"]


class LeadColumn(_Strict):
    """What one column of the lead table is."""

    type: ColumnType
    """categorical (text levels), numeric (a number in the shared grammar, `sources.numbers`),
    boolean (leads.true_values / leads.false_values) or date (used as days before the as-of date)."""
    role: Role = "fit"
    """fit: who the lead is (source, occupation); engagement: what they did (visits, time on site,
    last activity). Engagement points decay with inactivity; fit points do not."""
    post_outcome: bool = False
    """The sales team fills it after contact (a call outcome, a quality grade): it reads the answer,
    so the leakage audit excludes it from the model unless `--keep-leaky`."""


class BehaviourSource(_Strict):
    """A warehouse table of dated events per person, joined to leads by `leads.key`."""

    table: str
    """`schema.table`; a table the warehouse lacks is skipped with a note (product usage may not be built)."""
    key: str
    """Its column holding the person the event is of (compared as trimmed text with the lead's key)."""
    date: str
    """Its date or timestamp column: events after the as-of date are not counted."""
    value: Optional[str] = None
    """A numeric column to sum (purchase amount), if any."""
    recent_days: int = Field(30, ge=1)
    """`<name>_recent` counts the events of the last this many days up to the as-of date."""


class PointsRule(_Strict):
    """Points a lead gets when `field` meets the condition. Exactly one condition: `equals`, `in`,
    `at_least`/`below` (either or both: a range [at_least, below)), or `missing`."""

    field: str
    """A mapped column (its header) or a behaviour measure (`sessions_count`, `sessions_recent`,
    `sessions_days_since_last`, `purchases_value`, ...: `<source>_<measure>`)."""
    points: float
    """May be negative (an unsubscribed or a student lead); finite."""
    equals: Optional[str | float | bool] = None
    in_: Optional[list[str]] = Field(None, alias="in")
    """One of these levels (categorical, compared trimmed and case-insensitively)."""
    at_least: Optional[float] = None
    below: Optional[float] = None
    missing: Optional[bool] = None
    """true: the value is blank (or a null marker); false: it is given."""
    reason: Optional[str] = None
    """What the reason says (default: the condition, e.g. `Lead Origin = Lead Add Form`)."""

    @model_validator(mode="after")
    def _one_condition(self) -> "PointsRule":
        given = [n for n, v in (("equals", self.equals), ("in", self.in_), ("missing", self.missing)) if v is not None]
        if self.at_least is not None or self.below is not None:
            given.append("at_least/below")
        if len(given) != 1:
            raise ValueError(f"give exactly one condition (equals, in, at_least/below, missing), got "
                             f"{', '.join(given) or 'none'}")
        if not math.isfinite(self.points):
            raise ValueError("points must be a finite number")
        if self.at_least is not None and self.below is not None and self.below <= self.at_least:
            raise ValueError(f"below ({self.below}) must be above at_least ({self.at_least})")
        return self


class RulesConfig(_Strict):
    """The points score (HubSpot/Mautic style).

    score = clip(fit + engagement * 0.5 ** (days since the last activity / half_life_days), floor, cap)

    fit and engagement are the sums of the points of the rules that fire, split by the role of
    their field (behaviour measures are engagement). A lead with no activity date does not decay.
    """

    points: list[PointsRule] = []
    cap: float = 100.0
    """The score never exceeds this (many small signals cannot make a lead hotter than the cap)."""
    floor: Optional[float] = 0.0
    """The score never goes below this (None: negative scores are kept)."""
    half_life_days: Optional[float] = Field(30.0, gt=0)
    """Engagement points halve every this many days without activity (None: no decay)."""
    grades: dict[Literal["A", "B", "C"], float] = {"A": 75.0, "B": 50.0, "C": 25.0}
    """Lowest score of each grade; below C's is D. A > B > C."""
    sales_ready: float = 60.0
    """A lead whose score is at least this is handed to sales (`sales_ready` in marts.lead_scores)."""

    @model_validator(mode="after")
    def _order(self) -> "RulesConfig":
        g = {"A": 75.0, "B": 50.0, "C": 25.0, **self.grades}
        if not g["A"] > g["B"] > g["C"]:
            raise ValueError(f"grades must fall from A to C (A > B > C), got A {g['A']}, B {g['B']}, C {g['C']}")
        self.grades = g
        if self.floor is not None and self.floor >= self.cap:
            raise ValueError(f"floor ({self.floor}) must be below cap ({self.cap})")
        return self


class CompanyConfig(_Strict):
    """A company's score from its contacts' rules scores (`marts.lead_company_scores`)."""

    key: Optional[str] = None
    """The lead column naming the company (None: no company scores)."""
    aggregation: Literal["top_n_mean", "max", "mean", "sum"] = "top_n_mean"
    """top_n_mean (default): the mean of its `top_n` best contacts, so several engaged people count
    more than one, and the silent rest of a large company do not dilute them; max: its best contact;
    mean: all contacts; sum: all contacts' points (clipped to the cap)."""
    top_n: int = Field(3, ge=1)


class ModelConfig(_Strict):
    """The predictive score (`martops leads train`)."""

    candidates: list[Literal["logistic", "gradient_boosting"]] = ["logistic", "gradient_boosting"]
    """logistic: L2-regularised logistic regression on standardised numbers and one-hot levels;
    gradient_boosting: scikit-learn's HistGradientBoostingClassifier (native categorical splits)."""
    folds: int = Field(5, ge=2, le=20)
    """Stratified cross-validation folds for the choice and the metrics."""
    prefer_linear_within: float = Field(0.005, ge=0, le=1)
    """The gradient-boosted model is chosen only if its CV ROC AUC beats the logistic one's by more
    than this: the linear model's reasons are exact, so a tie goes to it."""
    regularisation: float = Field(1.0, gt=0)
    """C of the logistic regression (inverse strength of the L2 penalty)."""
    calibration: Literal["auto", "sigmoid", "isotonic"] = "auto"
    """auto: isotonic from 1,000 leads of each class up (enough to fit a step function without
    overfitting, per scikit-learn's guide), sigmoid (Platt) below."""
    seed: int = Field(0, ge=0)
    """Seed of the folds and the boosted model: the same data and seed give the same model."""
    top_reasons: int = Field(3, ge=1, le=10)
    """Reasons per lead in marts.lead_scores.top_reasons (leads.lead_reasons keeps 10)."""
    store: Optional[str] = None
    """Folder of saved models (v1, v2, ...); default `<warehouse>.lead-models/` next to the DuckDB
    warehouse file (one store per warehouse), `lead-models/` in a Spark warehouse's folder, in the
    working directory for PostgreSQL."""


class LeakageConfig(_Strict):
    """How the audit finds columns that read the outcome (besides those declared post_outcome)."""

    max_single_auc: float = Field(0.9, gt=0.5, le=1)
    """A column that alone ranks leads with this cross-validated ROC AUC or more is flagged."""
    one_class_rate: float = Field(0.95, gt=0.5, le=1)
    """A level is one-class when at least this share of its leads have one outcome..."""
    one_class_min_share: float = Field(0.01, gt=0, le=1)
    """...counted only for levels holding at least this share of the leads..."""
    one_class_coverage: float = Field(0.2, gt=0, le=1)
    """...and a column is flagged when its one-class levels hold this share of the leads or more."""


class LeadsConfig(_Strict):
    """Lead scoring (`martops leads`): the lead table's mapping, the points rules, the model."""

    id: Optional[str] = None
    """The column identifying a lead (`--id` overrides)."""
    label: Optional[str] = None
    """The 0/1 outcome column for training, 1 = converted (`--label` overrides)."""
    positive_labels: list[str] = ["1"]
    negative_labels: list[str] = ["0"]
    """Texts of the label meaning converted / not (compared trimmed, case-insensitively); any other
    text quarantines the row."""
    columns: dict[str, LeadColumn] = {}
    """Header -> type, role, post_outcome. Columns not listed follow `unmapped`."""
    unmapped: Literal["infer", "ignore"] = "infer"
    """infer: a column not in `columns` is used as fit, typed by its values (numeric when every
    value is a number, boolean when every value is a true/false text, else categorical), and the
    training report lists what was inferred; ignore: only `columns` are used."""
    ignore: list[str] = []
    """Columns never used (a second id, free text)."""
    null_values: list[str] = ["Select"]
    """Texts meaning blank (trimmed, case-insensitive): `Select` is a web form's untouched dropdown."""
    true_values: list[str] = ["yes", "y", "true", "t", "1"]
    false_values: list[str] = ["no", "n", "false", "f", "0"]
    key: Optional[str] = None
    """The lead column that behaviour tables are joined on (an e-mail, a user id); None: no behaviour."""
    behaviour: dict[str, BehaviourSource] = {
        "sessions": BehaviourSource(table="staging.sessions", key="user_id", date="event_date"),
        "purchases": BehaviourSource(table="crm.transactions", key="customer_id", date="date", value="amount"),
    }
    """Name -> source; each adds `<name>_count`, `<name>_recent`, `<name>_days_since_last` (and
    `<name>_value` with a value column) as engagement measures. Product usage joins the same way
    (`usage: {table: ..., key: ..., date: ...}`) once its table exists."""
    last_activity: Optional[str] = None
    """A date column of the lead table with its last activity; the decay uses the latest of it and
    the behaviour events."""
    as_of: DateSetting = None
    """The date scores are computed as of (`--as-of`); default: today."""
    company: CompanyConfig = CompanyConfig()
    rules: RulesConfig = RulesConfig()
    model: ModelConfig = ModelConfig()
    leakage: LeakageConfig = LeakageConfig()


    @model_validator(mode="after")
    def _consistent(self) -> "LeadsConfig":
        if self.id is not None and self.label is not None and self.id.strip().lower() == self.label.strip().lower():
            raise ValueError(f"id and label are both {self.id!r}; the label is the outcome, the id names the lead")
        overlap = {t.strip().lower() for t in self.true_values} & {f.strip().lower() for f in self.false_values}
        if overlap:
            raise ValueError(f"true_values and false_values share {sorted(overlap)}")
        both = {t.strip().lower() for t in self.positive_labels} & {f.strip().lower() for f in self.negative_labels}
        if both:
            raise ValueError(f"positive_labels and negative_labels share {sorted(both)}")
        if self.last_activity is not None:
            col = _find(self.columns, self.last_activity)
            if col is not None and col.type != "date":
                raise ValueError(f"last_activity {self.last_activity!r} is mapped as {col.type}; it must be a date column")
        return self


def _find(columns: dict[str, LeadColumn], name: str) -> LeadColumn | None:
    key = name.strip().lower()
    return next((c for h, c in columns.items() if h.strip().lower() == key), None)
