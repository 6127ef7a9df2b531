"""Reasons per lead: how much each column moved its score, in log-odds of the base model (before
calibration, which is monotone and so keeps the order and the sign of every reason).

- logistic: exact. The log-odds is b + sum_j w_j x_j over the model's inputs; relative to an
  average lead it is sum_j w_j (x_j - mean_j), mean_j over the training leads, and each input
  belongs to one column (one transformer per column), so a column's contribution is the sum over
  its inputs (its one-hot levels, its value and missing indicator). Contributions add up to the
  lead's log-odds minus the log-odds at the training means.
- gradient_boosting: occlusion against a reference lead. A column's contribution is the lead's
  log-odds minus its log-odds with that column set to the training reference (median of a number,
  most common level of a category): "what this value does compared with a typical one". It costs
  one batch prediction per column (about 30 for the X Education leads: well under a second for
  thousands of leads), where per-lead permutation importance would need many per lead, and SHAP
  is not a dependency. Unlike the logistic contributions these need not add up to the log-odds
  (trees interact); they are each column's own effect at the lead's other values.
Reasons are ranked by absolute contribution; positive ones raise the score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from martops.leads import model as M
from martops.leads.features import Feature

KEEP = 10


def reference(X: pd.DataFrame, features: list[Feature]) -> dict[str, object]:
    """Per column, the value a typical training lead has: median number, most common level."""
    ref: dict[str, object] = {}
    for f in features:
        col = X[f.name]
        if f.kind == "numeric":
            v = col.median()
            ref[f.name] = None if pd.isna(v) else float(v)
        else:
            ref[f.name] = str(col.mode().iloc[0]) if len(col.mode()) else M.BLANK
    return ref


def input_means(fitted, X: pd.DataFrame, features: list[Feature]) -> list[float]:
    """The logistic model's input means over the training leads."""
    pre = M.base_model(fitted).named_steps["pre"]
    return [float(v) for v in np.asarray(pre.transform(X)).mean(axis=0)]


def contributions(fitted, kind: str, X: pd.DataFrame, features: list[Feature], means: list[float] | None,
                  ref: dict[str, object]) -> pd.DataFrame:
    """Leads x columns of contributions (log-odds)."""
    if kind == M.LOGISTIC:
        base = M.base_model(fitted)
        pre, lr = base.named_steps["pre"], base.named_steps["model"]
        T = np.asarray(pre.transform(X), dtype=float)
        w = lr.coef_[0] * (T - np.asarray(means))
        out = {}
        for f in features:
            sl = pre.output_indices_.get(f"{'n' if f.kind == 'numeric' else 'c'}:{f.name}")
            out[f.name] = w[:, sl].sum(axis=1) if sl is not None else np.zeros(len(X))
        return pd.DataFrame(out, index=X.index)
    full = M.raw_logit(fitted, kind, X, features)
    out = {}
    for f in features:
        Xr = X.copy()
        Xr[f.name] = np.nan if ref[f.name] is None else ref[f.name]
        out[f.name] = full - M.raw_logit(fitted, kind, Xr, features)
    return pd.DataFrame(out, index=X.index)


def _shown(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "blank"
    if isinstance(v, float):
        return f"{v:,.0f}" if v == int(v) else f"{v:,.2f}"
    return str(v)


def reasons(contrib: pd.DataFrame, values: pd.DataFrame, features: list[Feature], keep: int = KEEP) -> pd.DataFrame:
    """Long table: lead_id, rank (1 = largest effect), field (the header), value, contribution."""
    labels = {f.name: f.label for f in features}
    c = contrib.to_numpy()
    order = np.argsort(-np.abs(c), axis=1, kind="stable")[:, :keep]
    cols = list(contrib.columns)
    rows = []
    vals = values[cols]
    for i, lead in enumerate(contrib.index):
        for r, j in enumerate(order[i], start=1):
            name = cols[j]
            rows.append((lead, r, labels[name], _shown(vals.iat[i, j]), float(round(c[i, j], 6))))
    return pd.DataFrame(rows, columns=["lead_id", "rank", "field", "value", "contribution"])


def top_text(long: pd.DataFrame, n: int) -> pd.Series:
    """Per lead: its n largest reasons as `Field = value (+1.23)`, joined by '; '."""
    top = long[long["rank"] <= n]
    text = top["field"] + " = " + top["value"] + " (" + top["contribution"].map(lambda v: f"{v:+.2f}") + ")"
    return text.groupby(top["lead_id"]).agg("; ".join)
