"""The leakage audit: columns whose information arrives after the outcome (a call's result, a
quality grade the sales team gives) read the answer. A model using them scores well in testing
and fails on new leads, which have not been called yet.

A column is flagged when:
- martops.yml declares it `post_outcome: true`; or
- alone it ranks leads with a cross-validated ROC AUC of at least `leakage.max_single_auc`: its
  out-of-fold score is the conversion rate of its level (numbers: of their decile; blank its own
  level) in the other folds, smoothed toward the overall rate with a weight of 10 leads, so a
  column of ids scores 0.5, not 1; or
- its one-class levels hold at least `leakage.one_class_coverage` of the leads: a level (of at
  least `one_class_min_share` of the leads) is one-class when, with both outcomes weighted
  equally (so a rare outcome does not make every level look one-class), at least
  `one_class_rate` of its weight is one outcome.

Flagged columns are excluded from the model unless `--keep-leaky`. For each, the report gives what
it does to the score: the CV ROC AUC of the logistic model on the kept columns, and with that
column added.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from martops.config_leads import LeakageConfig, ModelConfig
from martops.leads import model as M
from martops.leads.features import Feature

SMOOTHING = 10.0


def _levels(col: pd.Series, kind: str) -> pd.Series:
    if kind == "numeric":
        v = col.astype("float64")
        if v.notna().sum() == 0:
            return pd.Series("(blank)", index=col.index)
        ranks = v.rank(method="average", pct=True)
        return np.ceil(ranks * 10).clip(1, 10).astype("Int64").astype(str).where(v.notna(), "(blank)")
    return col.astype(object).where(col.notna(), "(blank)").astype(str)


def single_scores(levels: pd.Series, y: np.ndarray, mc: ModelConfig) -> np.ndarray:
    """Out-of-fold smoothed conversion rate of each lead's level."""
    out = np.zeros(len(y))
    lv = levels.to_numpy()
    for train, test in M.folds(mc).split(np.zeros(len(y)), y):
        prior = y[train].mean()
        stats = pd.DataFrame({"l": lv[train], "y": y[train]}).groupby("l")["y"].agg(["sum", "count"])
        rate = (stats["sum"] + SMOOTHING * prior) / (stats["count"] + SMOOTHING)
        out[test] = pd.Series(lv[test]).map(rate).fillna(prior).to_numpy()
    return out


def one_class(levels: pd.Series, y: np.ndarray, lc: LeakageConfig) -> tuple[float, list[str]]:
    """(share of leads in one-class levels, those levels described)."""
    base = y.mean()
    df = pd.DataFrame({"l": levels.to_numpy(), "y": y}).groupby("l")["y"].agg(["mean", "count"])
    df = df[(df["count"] >= lc.one_class_min_share * len(y)) & (df.index != "(blank)")]
    pos = df["mean"] / base
    neg = (1 - df["mean"]) / (1 - base)
    balanced = pos / (pos + neg)
    hit = df[(balanced >= lc.one_class_rate) | (balanced <= 1 - lc.one_class_rate)]
    hit = hit.sort_values("count", ascending=False)
    said = [f"{lvl} ({r['mean']:.1%} converted, {int(r['count']):,} leads)" for lvl, r in hit.iterrows()]
    return float(hit["count"].sum() / len(y)), said


@dataclasses.dataclass
class Finding:
    feature: Feature
    single_auc: float
    one_class_share: float
    reasons: list[str]
    excluded: bool = False
    auc_with: float | None = None

    @property
    def flagged(self) -> bool:
        return bool(self.reasons)


@dataclasses.dataclass
class Audit:
    findings: list[Finding]
    kept: list[Feature]
    auc_kept: float | None
    """CV ROC AUC of the logistic model on the kept columns."""
    single: dict[str, np.ndarray]
    """Out-of-fold single-column scores (for the one-feature baseline)."""

    @property
    def flagged(self) -> list[Finding]:
        return [f for f in self.findings if f.flagged]


def audit(X: pd.DataFrame, y: np.ndarray, features: list[Feature], lc: LeakageConfig, mc: ModelConfig,
          keep_leaky: bool) -> Audit:
    findings, single = [], {}
    for f in features:
        levels = _levels(X[f.name], f.kind)
        s = single_scores(levels, y, mc)
        single[f.name] = s
        auc = float(roc_auc_score(y, s))
        share, said = one_class(levels, y, lc) if f.kind == "categorical" else (0.0, [])
        reasons = []
        if f.post_outcome:
            reasons.append("declared post_outcome in martops.yml")
        if auc >= lc.max_single_auc:
            reasons.append(f"alone it ranks leads with CV ROC AUC {auc:.3f} >= {lc.max_single_auc}")
        if share >= lc.one_class_coverage:
            reasons.append(f"one-class levels hold {share:.0%} of leads: {'; '.join(said[:4])}")
        findings.append(Finding(f, auc, share, reasons, excluded=bool(reasons) and not keep_leaky))
    kept = [f.feature for f in findings if not f.excluded]
    clean = [f.feature for f in findings if not f.flagged]
    auc_kept = None
    if clean and any(f.flagged for f in findings):
        base = _logistic_auc(X, y, clean, mc)
        auc_kept = base
        for f in findings:
            if f.flagged:
                f.auc_with = _logistic_auc(X, y, [*clean, f.feature], mc)
    return Audit(findings, kept, auc_kept, single)


def _logistic_auc(X: pd.DataFrame, y: np.ndarray, features: list[Feature], mc: ModelConfig) -> float:
    cols = M.design(X, features)
    return float(roc_auc_score(y, M.oof(M.make(M.LOGISTIC, features, mc), cols, y, mc)))
