"""How well a score ranks and how honest its probabilities are, on out-of-fold predictions.

- ROC AUC and PR AUC (average precision), scikit-learn's definitions;
- Brier score: mean squared error of the probability (only for probabilities; a points score is
  not one, so the rules and the one-feature baseline get no Brier or ECE);
- calibration curve: 10 equal-width bins of the predicted probability, mean predicted vs observed
  rate per bin; ECE (expected calibration error) = sum over bins of (leads in bin / leads) *
  |observed - predicted| (Naeini et al. 2015, as in Guo et al. 2017);
- lift at the top decile: the conversion rate of the 10% highest-scored leads over the overall
  rate (ties at the cut share the decile: every lead scored at least the 90th percentile counts).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

BINS = 10


def calibration_curve(y: np.ndarray, p: np.ndarray, bins: int = BINS) -> list[dict]:
    """Per non-empty bin: bin (0..bins-1), lower, upper, leads, mean_predicted, observed_rate."""
    b = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for k in range(bins):
        sel = b == k
        if sel.any():
            out.append({"bin": k, "lower": k / bins, "upper": (k + 1) / bins, "leads": int(sel.sum()),
                        "mean_predicted": float(p[sel].mean()), "observed_rate": float(y[sel].mean())})
    return out


def ece(y: np.ndarray, p: np.ndarray, bins: int = BINS) -> float:
    n = len(y)
    return float(sum(c["leads"] / n * abs(c["observed_rate"] - c["mean_predicted"]) for c in calibration_curve(y, p, bins)))


def lift_top_decile(y: np.ndarray, s: np.ndarray) -> float:
    base = float(np.mean(y))
    if base == 0:
        return float("nan")
    top = s >= np.quantile(s, 0.9)
    return float(np.mean(y[top]) / base)


def summary(y: np.ndarray, s: np.ndarray, probability: bool) -> dict[str, float]:
    """roc_auc, pr_auc, top_decile_lift, and for probabilities brier and ece."""
    y = np.asarray(y, dtype=int)
    s = np.asarray(s, dtype=float)
    out = {"roc_auc": float(roc_auc_score(y, s)), "pr_auc": float(average_precision_score(y, s)),
           "top_decile_lift": lift_top_decile(y, s)}
    if probability:
        out["brier"] = float(brier_score_loss(y, s))
        out["ece"] = ece(y, s)
    return out
