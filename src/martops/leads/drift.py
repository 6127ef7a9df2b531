"""Population stability per feature between the model's training leads and the leads being scored.

    PSI = sum over bins of (a - e) * ln(a / e)

e and a: the share of training and of scored leads in each bin, each share at least 0.0001 (a bin
empty on one side would be infinite). Bins: for a number, the training deciles (edges at its
10th..90th percentiles, repeated edges merged) plus a bin for blanks; for a category, its 20
most common training levels, one bin for the others (levels unseen in training land there) and
one for blanks. The usual reading (Siddiqi, Credit Risk Scorecards, 2006; Yurdakul 2018):
below 0.1 stable, 0.1 to 0.25 a moderate shift worth a look, above 0.25 a major shift: retrain
or find out what changed upstream.

Below MIN_LEADS scored leads the shares of 11 bins are too noisy to read (a batch of 20 leads puts
5% in a bin with one lead): PSI is still computed, its status says too few leads to judge.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from martops.leads.features import Feature

FLOOR = 1e-4
MODERATE, MAJOR = 0.1, 0.25
TOP_LEVELS = 20
MIN_LEADS = 100
"""Fewer scored leads than this: no verdict (about 10 leads per bin of a decile profile)."""
FEW = f"too few leads to judge (< {MIN_LEADS})"
OTHER, BLANK = "(other)", "(blank)"


def profile(X: pd.DataFrame, features: list[Feature]) -> dict[str, dict]:
    """What the training leads look like, per feature (saved with the model)."""
    out: dict[str, dict] = {}
    for f in features:
        col = X[f.name]
        if f.kind == "numeric":
            v = col.astype("float64")
            given = v.dropna()
            edges = sorted(set(np.quantile(given, np.linspace(0.1, 0.9, 9)).tolist())) if len(given) else []
            out[f.name] = {"kind": "numeric", "edges": edges, "shares": _numeric_shares(v, edges)}
        else:
            text = col.astype(object).where(col.notna(), None)
            levels = text.dropna().astype(str).value_counts().index[:TOP_LEVELS].tolist()
            out[f.name] = {"kind": "categorical", "levels": levels, "shares": _level_shares(text, levels)}
    return out


def _numeric_shares(v: pd.Series, edges: list[float]) -> list[float]:
    n = len(v)
    given = v.dropna().to_numpy()
    counts = np.bincount(np.searchsorted(edges, given, side="left"), minlength=len(edges) + 1).tolist()
    return [c / n for c in counts] + [float(v.isna().sum()) / n]


def _level_shares(text: pd.Series, levels: list[str]) -> list[float]:
    n = len(text)
    s = text.astype(object)
    blank = s.isna()
    named = s.where(~blank, BLANK).astype(str)
    shares = [float((named == lvl).sum()) / n for lvl in levels]
    other = float((~blank & ~named.isin(levels)).sum()) / n
    return shares + [other, float(blank.sum()) / n]


def psi(expected: list[float], actual: list[float]) -> float:
    e = np.maximum(np.asarray(expected, dtype=float), FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def status(value: float) -> str:
    return "major shift" if value > MAJOR else "moderate shift" if value >= MODERATE else "stable"


def report(trained: dict[str, dict], X: pd.DataFrame, features: list[Feature]) -> pd.DataFrame:
    """Per feature: field, psi, status (rows sorted by PSI, largest first); status `FEW` for every
    feature when X has fewer than MIN_LEADS rows."""
    rows = []
    for f in features:
        p = trained[f.name]
        if p["kind"] == "numeric":
            now = _numeric_shares(X[f.name].astype("float64"), p["edges"])
        else:
            col = X[f.name]
            now = _level_shares(col.astype(object).where(col.notna(), None), p["levels"])
        value = psi(p["shares"], now)
        verdict = status(value) if len(X) >= MIN_LEADS else FEW
        rows.append({"feature": f.name, "field": f.label, "psi": round(value, 6), "status": verdict})
    return pd.DataFrame(rows, columns=["feature", "field", "psi", "status"]).sort_values(
        ["psi", "feature"], ascending=[False, True], ignore_index=True)
