"""Local attribution models: each maps a journeys table to one credit per (conversion, session).

Every model is a handful of Ibis window expressions over a journey (partition = conv_id), run in
the warehouse (DuckDB) as SQL. Inputs are the columns of `attribution.journeys`:
position (1-based, ordered by session_ts then session_id), n_sessions, the engagement flags.
Credits are >= 0 and sum to 1 per conversion; `attribution.quality.customer_journey` checks it after every run.

The `ihc` model (a local model in the spirit of IHC, no API account needed)
--------------------------------------------------------------------------
The IHC API splits a conversion into three phases and mixes them with fixed weights, normalised
per conversion; on its two public answers this holds within their 4-decimal rounding:

    credit_i = (wI * I_i + wH * H_i + wC * C_i) / sum_j (wI * I_j + wH * H_j + wC * C_j)

Each phase is a softmax of a score over the sessions eligible for it (config.IhcPhases has the
scores): P_i = e_i / sum_j e_j with e_i = exp(s_i - max s) for eligible sessions, else 0. A phase
with no eligible session is 0 for the whole journey and drops out of the mix, as the API's holder
does for a one-session journey; a journey where every phase with weight > 0 is empty (only when
wI = 0) gets 1/n per session. Each present phase sums to 1, so the credits are >= 0 and sum to 1.
The defaults (IhcWeights, IhcPhases) are fitted to the API's public answers; `ihc_fit` fits an
account's own.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import ibis
import ibis.expr.types as ir

from martops.config import AttributionConfig
from martops.errors import ConfigError
from martops.sources import spelling

# A model returns its credit either as a column expression over the journeys table or, when it
# needs window-over-window steps, as the table with a `_credit` column added.
ModelFn = Callable[[ir.Table, AttributionConfig], "ir.Value | ir.Table"]


def _conv_window() -> ibis.Window:
    return ibis.window(group_by="conv_id")


def _first_touch(j: ir.Table, cfg: AttributionConfig) -> ir.Value:
    return (j.position == 1).cast("float64")


def _last_touch(j: ir.Table, cfg: AttributionConfig) -> ir.Value:
    return (j.position == j.n_sessions).cast("float64")


def _last_non_direct(j: ir.Table, cfg: AttributionConfig) -> ir.Value:
    """The last session not from the direct channel (in any spelling that differs only in case or
    whitespace); an all-direct journey credits its last."""
    direct = spelling.key(j.channel_name) == spelling.key_of(cfg.direct_channel)
    non_direct_pos = ibis.ifelse(~direct, j.position, ibis.null("int32"))
    chosen = non_direct_pos.max().over(_conv_window()).coalesce(j.n_sessions)
    return (j.position == chosen).cast("float64")


def _linear(j: ir.Table, cfg: AttributionConfig) -> ir.Value:
    return 1.0 / j.n_sessions.cast("float64")


def _position_based(j: ir.Table, cfg: AttributionConfig) -> ir.Value:
    """First and last get their weights, the middle sessions share theirs; a two-session journey
    splits 1 in the ratio first:last, or evenly when both are 0 (e.g. weights 0/1/0, which give
    everything to the middle, and a two-session journey has none)."""
    first, middle, last = cfg.position_weights
    n = j.n_sessions.cast("float64")
    ends = first + last
    two_first, two_last = (first / ends, last / ends) if ends > 0 else (0.5, 0.5)
    return ibis.cases(
        (j.n_sessions == 1, 1.0),
        (j.n_sessions == 2, ibis.ifelse(j.position == 1, two_first, two_last)),
        (j.position == 1, first),
        (j.position == j.n_sessions, last),
        else_=middle / (n - 2),
    )


def _time_decay(j: ir.Table, cfg: AttributionConfig) -> ir.Table:
    """Weight 2^(-age / half_life), age measured from the journey's latest session.

    Measuring from the latest session instead of the conversion gives the same normalised credit
    but never underflows to 0/0 for old journeys. The normalising sum runs over an ordered window
    so its floating-point order, and thus the result, is the same on every run.
    """
    secs = j.session_ts.epoch_seconds()
    j = j.mutate(_age_days=(secs.max().over(_conv_window()) - secs).cast("float64") / 86400.0)
    j = j.mutate(_weight=(j._age_days * (-math.log(2) / cfg.half_life_days)).exp())
    return j.mutate(_credit=j._weight / j._weight.sum().over(ordered_journey()))


def _softmax(j: ir.Table, name: str, score: ir.Value, eligible: ir.Value) -> ir.Table:
    """Adds column `name`: exp(score) normalised over the eligible sessions of each conversion, 0
    elsewhere and in a journey with none. The largest eligible score is subtracted first, so the
    largest term is exp(0) = 1 and no setting overflows or divides by 0."""
    j = j.mutate(_s=score, _ok=eligible)
    j = j.mutate(_top=ibis.ifelse(j._ok, j._s, ibis.null("float64")).max().over(_conv_window()))
    j = j.mutate(_e=ibis.ifelse(j._ok, (j._s - j._top).exp(), 0.0))
    j = j.mutate(_total=j._e.sum().over(ordered_journey()))
    return j.mutate(**{name: ibis.ifelse(j._total > 0, j._e / j._total, 0.0)}).drop("_s", "_ok", "_top", "_e", "_total")


def ordered_journey() -> ibis.Window:
    """The whole journey in position order: sums in one floating-point order on every run."""
    return ibis.window(group_by="conv_id", order_by="position", rows=(None, None))


def _ihc(j: ir.Table, cfg: AttributionConfig) -> ir.Table:
    p = cfg.ihc_phases
    wi, wh, wc = cfg.ihc_weights.normalised()
    by_position = ibis.window(group_by="conv_id", order_by="position")
    hours = j.session_ts.epoch_seconds().cast("float64") / 3600.0
    first, last = j.position == 1, j.position == j.n_sessions
    j = j.mutate(
        _after=(hours - hours.lag().over(by_position)).coalesce(0.0),
        _before_next=(hours.lead().over(by_position) - hours).coalesce(0.0),
        _before_last=hours.max().over(_conv_window()) - hours,
    )
    j = _softmax(j, "_i", ibis.ifelse(first, 0.0, p.initializer_later_score + p.initializer_per_day * j._after / 24.0),
                 ibis.literal(True))
    closing_early = ((j.closer_engagement == 1) & ~last).cast("float64")
    holder_score = (p.holder_end_score * (first | last).cast("float64")
                    + closing_early * (p.holder_closer_score
                                       + p.holder_closer_per_log_hour * (1.0 + j._before_next).ln()))
    j = _softmax(j, "_h", holder_score, (j.holder_engagement == 1) & (j.n_sessions > 1))
    j = _softmax(j, "_c", -p.closer_recency_exponent * (1.0 + j._before_last).ln(), j.closer_engagement == 1)
    j = j.mutate(_mix=wi * j._i + wh * j._h + wc * j._c)
    j = j.mutate(_mix_total=j._mix.sum().over(ordered_journey()))
    return j.mutate(_credit=ibis.ifelse(j._mix_total > 0, j._mix / j._mix_total,
                                        1.0 / j.n_sessions.cast("float64")))


MODELS: dict[str, ModelFn] = {
    "first_touch": _first_touch,
    "last_touch": _last_touch,
    "last_non_direct": _last_non_direct,
    "linear": _linear,
    "time_decay": _time_decay,
    "position_based": _position_based,
    "ihc": _ihc,
}


API_MODEL = "ihc_api"
"""Not an expression: credits come from the IHC attribution API (see attribution/ihc_api)."""
PATH_MODELS = ("markov", "shapley")
"""Not expressions alone: channel weights learnt from the range's paths first (attribution/path_models)."""
ALL_MODELS = [*MODELS, *PATH_MODELS, API_MODEL]


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    fn: ModelFn


def get_model(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ConfigError(f"unknown attribution model {name!r}; choose one of {', '.join(MODELS)}")
    return ModelSpec(name, MODELS[name])


def credits_expr(journeys: ir.Table, model: str, cfg: AttributionConfig) -> ir.Table:
    """(model, conv_id, conv_date, session_id, ihc) for every journey row.

    The credit column is called `ihc` whatever the model, because that is the challenge's output
    schema; the `model` column says which model produced it.
    """
    spec = get_model(model)
    out = spec.fn(journeys, cfg)
    j = out if isinstance(out, ir.Table) else journeys.mutate(_credit=out)
    return j.select(
        model=ibis.literal(spec.name),
        conv_id=j.conv_id,
        conv_date=j.conv_date,
        session_id=j.session_id,
        ihc=j._credit.cast("float64"),
    )
