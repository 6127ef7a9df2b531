"""Fit the local `ihc` model's parameters to answers of the IHC API, and measure it on held-out ones.

The API's answers carry each phase (initializer, holder, closer) besides the final `ihc`, so every
part is fitted on its own column: the phase mix (IhcWeights) by non-negative least squares of `ihc`
on the three phases, each phase's scores (IhcPhases) by least squares of the model's phase shares
against the API's (scipy.optimize.least_squares, trust-region reflective, started from the current
settings: deterministic). The formulas are the warehouse model's (attribution.models._ihc),
computed here in numpy so the optimiser can call them thousands of times; a test checks the two
agree to 1e-9 on the real answers.

Held-out error: conversions are dealt into K folds (sorted by whether they have 2+ sessions,
then by conv_id, then dealt round-robin, so every fold holds out its share of the multi-session
journeys, the only ones the parameters change); each fold is predicted by a fit on the others.
The error is the mean absolute difference per session from the API's `ihc`, as
attribution.compare measures it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from scipy.optimize import least_squares, nnls

from martops.attribution import tables as T
from martops.attribution.ihc_api.store import ANSWERS
from martops.config import IhcPhases, IhcWeights
from martops.engine import Warehouse
from martops.errors import SourceError, StepError

PHASES = ("initializer", "holder", "closer")
PARAMS = {
    "initializer": ("initializer_later_score", "initializer_per_day"),
    "holder": ("holder_end_score", "holder_closer_score", "holder_closer_per_log_hour"),
    "closer": ("closer_recency_exponent",),
}
BOUND = 100.0               # IhcPhases' bounds
PHASE_SUM_TOLERANCE = 1e-3  # the API rounds to 4 decimals
MIN_TRAIN = 8
"""Multi-session conversions a fit needs at least: more than the 6 phase parameters."""


class TooFewAnswers(StepError):
    """Not enough answered multi-session conversions to fit, or to hold some out."""


@dataclasses.dataclass(frozen=True)
class Answered:
    """Answered sessions, one row each, sorted by conversion and position.

    `frame` columns: conv_id, session_id, position, n_sessions, holder_engagement,
    closer_engagement, the API's initializer, holder, closer, ihc, and the model's inputs:
    after (hours since the previous session, 0 for the first), before_next (hours to the next,
    0 for the last), before_last (hours before the journey's last session).
    """

    frame: pd.DataFrame

    @classmethod
    def from_sessions(cls, df: pd.DataFrame) -> "Answered":
        """`df`: conv_id, session_id, session_ts, holder_engagement, closer_engagement and the API's
        four columns. Positions are recounted over these sessions (by session_ts, then session_id,
        as attribution.journeys counts them), so a journey sent truncated is the one the API saw."""
        d = df.sort_values(["conv_id", "session_ts", "session_id"]).reset_index(drop=True)
        by = d.groupby("conv_id", sort=False)
        d["position"] = by.cumcount() + 1
        d["n_sessions"] = by["session_id"].transform("count")
        hours = pd.to_datetime(d["session_ts"]).astype("datetime64[us]").astype("int64") / 3.6e9
        d["after"] = (hours - hours.groupby(d["conv_id"]).shift(1)).fillna(0.0)
        d["before_next"] = (hours.groupby(d["conv_id"]).shift(-1) - hours).fillna(0.0)
        d["before_last"] = hours.groupby(d["conv_id"]).transform("max") - hours
        return cls(d)

    @property
    def conversions(self) -> int:
        return int(self.frame["conv_id"].nunique())

    @property
    def multi_session_conversions(self) -> int:
        return int(self.frame.loc[self.frame["n_sessions"] > 1, "conv_id"].nunique())

    def subset(self, conv_ids: set[str]) -> "Answered":
        return Answered(self.frame[self.frame["conv_id"].isin(conv_ids)].reset_index(drop=True))


def _softmax(groups: np.ndarray, score: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """As models._softmax: exp(score - the group's largest eligible score) over eligible rows."""
    n = int(groups.max()) + 1 if len(groups) else 0
    top = np.full(n, -np.inf)
    np.maximum.at(top, groups[eligible], score[eligible])
    e = np.where(eligible, np.exp(np.where(eligible, score - top[groups], 0.0)), 0.0)
    total = np.bincount(groups, e, n)[groups]
    return np.where(total > 0, e / np.where(total > 0, total, 1.0), 0.0)


def _arrays(a: Answered) -> dict[str, np.ndarray]:
    f = a.frame
    return {
        "g": pd.factorize(f["conv_id"])[0], "first": (f["position"] == 1).to_numpy(),
        "last": (f["position"] == f["n_sessions"]).to_numpy(), "n": f["n_sessions"].to_numpy(),
        "h": (f["holder_engagement"] == 1).to_numpy(), "c": (f["closer_engagement"] == 1).to_numpy(),
        **{k: f[k].to_numpy(dtype="float64") for k in ("after", "before_next", "before_last")},
    }


def phase_shares(a: Answered, p: IhcPhases, x: dict | None = None) -> dict[str, np.ndarray]:
    """Each phase's share per session (models._ihc's formulas); each sums to 1 per conversion, or
    is 0 throughout a journey with no eligible session."""
    x = x or _arrays(a)
    g = x["g"]
    init = np.where(x["first"], 0.0, p.initializer_later_score + p.initializer_per_day * x["after"] / 24.0)
    early_closer = (x["c"] & ~x["last"]).astype("float64")
    hold = (p.holder_end_score * (x["first"] | x["last"]).astype("float64")
            + early_closer * (p.holder_closer_score + p.holder_closer_per_log_hour * np.log1p(x["before_next"])))
    close = -p.closer_recency_exponent * np.log1p(x["before_last"])
    return {
        "initializer": _softmax(g, init, np.ones(len(g), bool)),
        "holder": _softmax(g, hold, x["h"] & (x["n"] > 1)),
        "closer": _softmax(g, close, x["c"]),
    }


def credits(a: Answered, p: IhcPhases, w: IhcWeights, x: dict | None = None) -> np.ndarray:
    """The model's credit per session: the phase mix normalised per conversion (1/n where empty)."""
    x = x or _arrays(a)
    shares = phase_shares(a, p, x)
    mix = sum(wk * shares[k] for wk, k in zip(w.normalised(), PHASES))
    total = np.bincount(x["g"], mix)[x["g"]]
    return np.where(total > 0, mix / np.where(total > 0, total, 1.0), 1.0 / x["n"])


def mae(a: Answered, p: IhcPhases, w: IhcWeights, *, multi_session: bool = False) -> float:
    """Mean absolute error per session against the API's `ihc`; `multi_session`: over the sessions
    of journeys of 2+ sessions only (a one-session journey gets 1 from any model, so counting it
    flatters the error)."""
    err = np.abs(credits(a, p, w) - a.frame["ihc"].to_numpy())
    if multi_session:
        err = err[a.frame["n_sessions"].to_numpy() > 1]
    return float(err.mean()) if err.size else 0.0


def _present(a: Answered, phase: str) -> np.ndarray:
    """Rows of multi-session journeys whose API phase sums to 1 (a phase the API left empty, as
    its holder in a one-session journey, says nothing about how it spreads)."""
    f = a.frame
    sums = f.groupby("conv_id", sort=False)[phase].transform("sum")
    return ((f["n_sessions"] > 1) & ((sums - 1).abs() <= PHASE_SUM_TOLERANCE)).to_numpy()


def fit_weights(a: Answered, start: IhcWeights) -> IhcWeights:
    """The mix: non-negative least squares of `ihc` on the three phases, over multi-session
    journeys where all three phases sum to 1 (there the normalisation is 1, so the fit is linear);
    `start` when there are none."""
    rows = _present(a, "initializer") & _present(a, "holder") & _present(a, "closer")
    if not rows.any():
        return start
    f = a.frame[rows]
    w, _ = nnls(f[list(PHASES)].to_numpy(dtype="float64"), f["ihc"].to_numpy(dtype="float64"))
    if w.sum() <= 0:
        return start
    w = w / w.sum()
    return IhcWeights(initializer=round(w[0], 4), holder=round(w[1], 4), closer=round(w[2], 4))


def fit_phases(a: Answered, start: IhcPhases) -> IhcPhases:
    """Each phase's parameters by least squares against the API's phase column, from `start`."""
    x = _arrays(a)
    values = start.model_dump()
    for phase, names in PARAMS.items():
        rows = _present(a, phase)
        if not rows.any():
            continue
        target = a.frame[phase].to_numpy(dtype="float64")[rows]

        def residuals(q: np.ndarray, phase=phase, names=names, rows=rows, target=target) -> np.ndarray:
            p = IhcPhases.model_construct(**{**values, **dict(zip(names, q))})
            return phase_shares(a, p, x)[phase][rows] - target

        q0 = np.clip([values[n] for n in names], -BOUND, BOUND)
        result = least_squares(residuals, q0, bounds=(-BOUND, BOUND), method="trf")
        values.update({n: round(float(v), 4) for n, v in zip(names, result.x)})
    return IhcPhases(**values)


@dataclasses.dataclass(frozen=True)
class Fit:
    phases: IhcPhases
    weights: IhcWeights


def fit(a: Answered, phases: IhcPhases, weights: IhcWeights) -> Fit:
    """Fitted phases and mix, starting from the given ones. TooFewAnswers under MIN_TRAIN
    multi-session conversions."""
    m = a.multi_session_conversions
    if m < MIN_TRAIN:
        raise TooFewAnswers(f"{m} answered conversion(s) with 2+ sessions; a fit needs at least {MIN_TRAIN}")
    return Fit(fit_phases(a, phases), fit_weights(a, weights))


@dataclasses.dataclass(frozen=True)
class Fold:
    fold: int
    conversions: int
    sessions: int
    mae: float           # the fit on the other folds
    mae_current: float   # the settings the fit started from
    mae_multi: float     # the fit, over sessions of 2+-session journeys only


def folds_of(a: Answered, k: int) -> list[set[str]]:
    """Conversions dealt round-robin into k folds, multi-session ones first, each by conv_id."""
    per = a.frame.groupby("conv_id")["n_sessions"].first().reset_index()
    per["single"] = per["n_sessions"] == 1
    order = per.sort_values(["single", "conv_id"])["conv_id"].tolist()
    return [set(order[i::k]) for i in range(k)]


def cross_validate(a: Answered, k: int, phases: IhcPhases, weights: IhcWeights) -> list[Fold]:
    """Per fold: the held-out error of a fit on the other folds, beside the starting settings'.
    TooFewAnswers when a fold would hold out no multi-session conversion or leave fewer than
    MIN_TRAIN to fit on."""
    m = a.multi_session_conversions
    if k < 2:
        raise TooFewAnswers(f"{k} fold(s): holding out needs at least 2")
    if m < k or m - math.ceil(m / k) < MIN_TRAIN:
        need = max(k, MIN_TRAIN + math.ceil(MIN_TRAIN / (k - 1)))
        most = max((f for f in range(2, m + 1) if m - math.ceil(m / f) >= MIN_TRAIN), default=None)
        hint = f"use --folds {most} or fewer" if most else "get more answers with --model ihc_api first"
        raise TooFewAnswers(f"{m} answered conversion(s) with 2+ sessions: {k} folds would hold out {math.ceil(m / k)} "
                            f"and fit on {m - math.ceil(m / k)}, but a fit needs at least {MIN_TRAIN} multi-session "
                            f"conversions and every fold one ({k} folds need about {need} answered conversions "
                            f"with 2+ sessions); {hint}")
    out = []
    everything = set(a.frame["conv_id"])
    for i, held in enumerate(folds_of(a, k)):
        train, test = a.subset(everything - held), a.subset(held)
        f = fit(train, phases, weights)
        out.append(Fold(i + 1, test.conversions, len(test.frame), mae(test, f.phases, f.weights),
                        mae(test, phases, weights), mae(test, f.phases, f.weights, multi_session=True)))
    return out


def pooled(folds: list[Fold], attr: str = "mae") -> float:
    """The held-out error over every held-out session (folds weighted by their sessions)."""
    return sum(getattr(f, attr) * f.sessions for f in folds) / sum(f.sessions for f in folds)


ASK_API = ("ask the API first: martops attribution run --model ihc_api --conv-type-id <yours> --since ... --until ... "
           "(key from env IHC_API_KEY)")


def load_answered(wh: Warehouse) -> tuple[Answered, int]:
    """The API's answers in `wh` with their sessions from attribution.journeys, and how many
    conversions were answered on fewer sessions than their journey has (sent truncated, see
    ops.ihc_api_truncated: fitted on the sessions the API saw).

    StepError when there are no answers or no journeys; SourceError when an answer lacks a phase
    value or names a session attribution.journeys does not have (journeys rebuilt since).
    """
    if not wh.exists(ANSWERS) or wh.scalar(wh.table(ANSWERS).count()) == 0:
        state = "empty" if wh.exists(ANSWERS) else "missing"
        raise StepError(f"no IHC API answers in {wh.location} ({ANSWERS} is {state}): {ASK_API}")
    a = wh.table(ANSWERS)
    missing = [c for c in (*PHASES, "ihc") if c not in a.columns]
    if missing:
        raise SourceError(f"{ANSWERS} has no column {', '.join(missing)}: it was not written by martops; "
                          "ask the API again with --refresh")
    if not wh.exists(T.JOURNEYS):
        raise StepError(f"{T.JOURNEYS} is not in {wh.location}: run martops attribution journeys for the answered dates")
    j = wh.table(T.JOURNEYS)
    j = j.select(j_conv=j.conv_id, j_session=j.session_id, session_ts=j.session_ts, n_journey=j.n_sessions,
                 holder_engagement=j.holder_engagement, closer_engagement=j.closer_engagement)
    q = a.left_join(j, [a.conv_id == j.j_conv, a.session_id == j.j_session]).select(
        "conv_id", "session_id", *PHASES, "ihc", "j_conv", "session_ts", "n_journey", "holder_engagement",
        "closer_engagement")
    df = wh.to_pyarrow(q).to_pandas()
    orphans = df[df["j_conv"].isna()]
    if len(orphans):
        first = orphans.sort_values(["conv_id", "session_id"]).iloc[0]
        raise SourceError(f"{len(orphans):,} answered session(s) of {orphans['conv_id'].nunique():,} conversion(s) are not "
                          f"in {T.JOURNEYS}, e.g. conversion {first['conv_id']} session {first['session_id']}: the "
                          "journeys were rebuilt since the answers; run martops attribution journeys for the "
                          "answered dates, or ask the API again with --refresh")
    blank = df[df[[*PHASES, "ihc"]].isna().any(axis=1)]
    if len(blank):
        raise SourceError(f"{ANSWERS}: {len(blank):,} row(s) without a phase value, e.g. conversion "
                          f"{blank['conv_id'].iloc[0]}; ask the API again with --refresh")
    answered = df.groupby("conv_id")["session_id"].transform("count")
    truncated = int(df.loc[answered < df["n_journey"], "conv_id"].nunique())
    return Answered.from_sessions(df.drop(columns=["j_conv", "n_journey"])), truncated


def yaml_lines(f: Fit) -> str:
    """The martops.yml lines (under `attribution:`) that select a fit."""
    def inline(model) -> str:
        return "{" + ", ".join(f"{k}: {v + 0.0:g}" for k, v in model.model_dump().items()) + "}"

    return f"  ihc_weights: {inline(f.weights)}\n  ihc_phases: {inline(f.phases)}"
