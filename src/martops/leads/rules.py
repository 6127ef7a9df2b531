"""The points score: rules from `leads.rules` applied to a feature frame as of a date.

    fit        = sum of the points of fit rules that fire
    engagement = sum of the points of engagement rules that fire (behaviour measures are engagement)
    decay      = 0.5 ** (days since the last activity / half_life_days)   (1 when nothing is dated,
                 or with half_life_days: null): exponential decay, as HubSpot's and Mautic's
                 score decay, stated by its half-life
    score      = clip(fit + engagement * decay, floor, cap)
    grade      = A if score >= grades.A, B if >= grades.B, C if >= grades.C, else D
    sales_ready = score >= sales_ready

A rule's condition: `equals` (booleans compared as true/false, numbers as numbers, text trimmed
and case-insensitively), `in` (levels), `at_least`/`below` (a number range [at_least, below)),
`missing`. A blank value fires only `missing: true`. The company score aggregates its contacts'
scores as `leads.company.aggregation` says (see CompanyConfig).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from martops.config_leads import CompanyConfig, LeadsConfig, PointsRule, RulesConfig
from martops.errors import ConfigError
from martops.leads.features import ACTIVITY, Frame, measures
from martops.leads.mapping import Mapping
from martops.sources import headers


@dataclasses.dataclass(frozen=True)
class Bound:
    """A rule with the feature it reads."""

    rule: PointsRule
    index: int
    feature: str
    kind: str
    role: str
    label: str

    @property
    def text(self) -> str:
        r = self.rule
        if r.reason:
            return r.reason
        if r.equals is not None:
            return f"{self.label} = {r.equals}"
        if r.in_ is not None:
            return f"{self.label} in {', '.join(r.in_)}"
        if r.missing is not None:
            return f"{self.label} {'blank' if r.missing else 'given'}"
        parts = [f">= {r.at_least:g}" if r.at_least is not None else "", f"< {r.below:g}" if r.below is not None else ""]
        return f"{self.label} {' and '.join(p for p in parts if p)}"


def bind(cfg: LeadsConfig, m: Mapping, frame: Frame) -> list[Bound]:
    """Each rule's feature: a mapped column (by header) or a behaviour measure; else a ConfigError
    naming the rule."""
    out = []
    known_measures = set(measures(cfg))
    for i, r in enumerate(cfg.rules.points):
        setting = f"leads.rules.points.{i} (field {r.field!r})"
        col = m.by_header(r.field)
        if col is not None:
            f = frame.feature(col.name)
            kind = "boolean" if col.type == "boolean" else f.kind
            b = Bound(r, i, col.name, kind, col.role, col.header)
        elif r.field in known_measures:
            if r.field not in frame.data.columns:  # its source table is not built: the rule never fires
                b = Bound(r, i, r.field, "absent", "engagement", r.field)
            else:
                b = Bound(r, i, r.field, "numeric", "engagement", r.field)
        else:
            names = [c.header for c in m.columns] + sorted(known_measures)
            near = [n for n in names if headers.key(n) == headers.key(r.field)]
            raise ConfigError(f"{setting}: no such column or behaviour measure"
                              f"{'; did you mean ' + near[0] if near else ''}; known: {', '.join(names)}")
        if (r.at_least is not None or r.below is not None) and b.kind == "categorical":
            raise ConfigError(f"{setting}: at_least/below compare numbers, but {b.label} is categorical; use equals or in")
        if r.in_ is not None and b.kind not in ("categorical", "absent"):
            raise ConfigError(f"{setting}: `in` lists levels of a categorical column; {b.label} is {b.kind}")
        out.append(b)
    return out


def _truth(value: object, cfg: LeadsConfig) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in [v.strip().lower() for v in cfg.true_values]:
        return True
    if text in [v.strip().lower() for v in cfg.false_values]:
        return False
    return None


def fires(b: Bound, values: pd.Series, cfg: LeadsConfig) -> np.ndarray:
    """Which leads the rule gives its points to (bool array)."""
    r = b.rule
    if b.kind == "absent":
        return np.full(len(values), bool(r.missing), dtype=bool) if r.missing is not None else np.zeros(len(values), bool)
    given = values.notna().to_numpy()
    if r.missing is not None:
        return ~given if r.missing else given
    if r.equals is not None:
        if b.kind == "boolean":
            want = _truth(r.equals, cfg)
            if want is None:
                raise ConfigError(f"leads.rules.points.{b.index}: equals {r.equals!r} is not true/false for boolean "
                                  f"{b.label} (leads.true_values / false_values)")
            return given & (values.fillna(-1).to_numpy(dtype=float) == (1.0 if want else 0.0))
        if b.kind == "numeric":
            try:
                want_n = float(r.equals)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ConfigError(f"leads.rules.points.{b.index}: equals {r.equals!r} is not a number, but "
                                  f"{b.label} is numeric") from None
            return given & (values.fillna(np.nan).to_numpy(dtype=float) == want_n)
        levels = [str(r.equals).strip().lower()]
    elif r.in_ is not None:
        levels = [str(v).strip().lower() for v in r.in_]
    else:
        v = values.to_numpy(dtype=float, na_value=np.nan)
        ok = given.copy()
        with np.errstate(invalid="ignore"):
            if r.at_least is not None:
                ok &= v >= r.at_least
            if r.below is not None:
                ok &= v < r.below
        return ok
    text = values.astype("string").str.strip().str.lower()
    return given & text.isin(levels).fillna(False).to_numpy(dtype=bool)


@dataclasses.dataclass
class Scored:
    """Per lead (index lead_id): fit, engagement, decay, score, grade, sales_ready; `fired` holds
    (lead_id, rule text, points) of every rule that fired."""

    table: pd.DataFrame
    fired: pd.DataFrame
    notes: list[str] = dataclasses.field(default_factory=list)
    """Rules naming a level no lead has (a typo, or a level renamed upstream): they never fire."""


def grade(score: np.ndarray, rc: RulesConfig) -> np.ndarray:
    g = rc.grades
    return np.where(score >= g["A"], "A", np.where(score >= g["B"], "B", np.where(score >= g["C"], "C", "D")))


def score(frame: Frame, bound: list[Bound], cfg: LeadsConfig) -> Scored:
    rc = cfg.rules
    idx = frame.data.index
    fit = np.zeros(len(idx))
    eng = np.zeros(len(idx))
    fired_rows = []
    for b in bound:
        values = frame.data[b.feature] if b.feature in frame.data.columns else pd.Series(np.nan, index=idx)
        hit = fires(b, values, cfg)
        pts = np.where(hit, b.rule.points, 0.0)
        if b.role == "fit":
            fit += pts
        else:
            eng += pts
        if hit.any():
            fired_rows.append(pd.DataFrame({"lead_id": idx[hit], "rule": b.text, "role": b.role,
                                            "points": b.rule.points}))
    days = frame.data[ACTIVITY].to_numpy(dtype=float) if ACTIVITY in frame.data else np.full(len(idx), np.nan)
    if rc.half_life_days is None:
        decay = np.ones(len(idx))
    else:
        decay = np.where(np.isnan(days), 1.0, 0.5 ** (np.nan_to_num(days) / rc.half_life_days))
    # rounded before clipping, so a rounded score never passes the cap (found by hypothesis)
    total = np.minimum(np.round(fit + eng * decay, 6), rc.cap)
    if rc.floor is not None:
        total = np.maximum(total, rc.floor)
    table = pd.DataFrame({"fit_points": fit, "engagement_points": eng, "decay": np.round(decay, 6),
                          "days_since_activity": days, "rules_score": total, "grade": grade(total, rc),
                          "sales_ready": total >= rc.sales_ready}, index=idx)
    fired = pd.concat(fired_rows, ignore_index=True) if fired_rows else \
        pd.DataFrame({"lead_id": [], "rule": [], "role": [], "points": []})
    return Scored(table, fired, [n for b in bound if (n := unseen_levels(b, frame)) is not None])


def unseen_levels(b: Bound, frame: Frame, shown: int = 8) -> str | None:
    """A note when a categorical rule's `equals` / `in` names levels none of the leads has (compared
    trimmed, case-insensitively, as `fires` does), with the levels the leads do have; None otherwise."""
    r = b.rule
    if b.kind != "categorical" or (r.equals is None and r.in_ is None) or b.feature not in frame.data.columns:
        return None
    wanted = [r.equals] if r.equals is not None else list(r.in_ or [])
    values = frame.data[b.feature].dropna().astype("string").str.strip()
    seen = set(values.str.lower())
    missing = [str(v) for v in wanted if str(v).strip().lower() not in seen]
    if not missing:
        return None
    common = values.value_counts().index[:shown].tolist()
    which = "equals" if r.equals is not None else "in"
    return (f"leads.rules.points.{b.index} ({b.label}): {which} {', '.join(map(repr, missing))} matches no lead; "
            f"its levels include {', '.join(map(repr, common)) or 'none'}")


def company_scores(scores: pd.Series, companies: pd.Series, cc: CompanyConfig, rc: RulesConfig) -> pd.DataFrame:
    """Per company: contacts, score (per `cc.aggregation`, clipped to the cap), grade, sales_ready.
    Leads without a company are left out."""
    df = pd.DataFrame({"company": companies, "score": scores}).dropna(subset=["company"])
    if df.empty:
        return pd.DataFrame(columns=["company", "contacts", "company_score", "grade", "sales_ready"])

    def agg(s: pd.Series) -> float:
        if cc.aggregation == "max":
            return float(s.max())
        if cc.aggregation == "mean":
            return float(s.mean())
        if cc.aggregation == "sum":
            return float(s.sum())
        return float(s.nlargest(cc.top_n).mean())

    g = df.groupby("company")["score"]
    out = pd.DataFrame({"contacts": g.size(), "company_score": g.apply(agg)}).reset_index()
    out["company_score"] = np.minimum(np.round(out["company_score"].to_numpy(dtype=float), 6), rc.cap)
    out["grade"] = grade(out["company_score"].to_numpy(), rc)
    out["sales_ready"] = out["company_score"] >= rc.sales_ready
    return out
