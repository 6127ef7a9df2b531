"""Local attribution models: each maps a journeys table to one credit per (conversion, session).

Every model is a handful of Ibis window expressions over a journey (partition = conv_id), run in
the warehouse (DuckDB) as SQL. Inputs are the columns of `attribution.journeys`:
position (1-based, ordered by session_ts then session_id), n_sessions, the engagement flags.
Credits are >= 0 and sum to 1 per conversion; `attribution.quality.customer_journey` checks it after every run.

The `ihc` model (a local model in the spirit of IHC, no API account needed)
--------------------------------------------------------------------------
A conversion's credit is split into three phases with weights wI + wH + wC = 1 (configurable,
default equal; the real API's trained weights on the two public samples were about
0.345 / 0.38 / 0.275):

    credit_i = wI * I_i + wH * H_i + wC * C_i

    I_i = 1 if i is the first session else 0                              (Initializer)
    H_i = h_i / sum_j h_j        if any session has holder_engagement h=1 (Holder)
          1 / n                  otherwise
    C_i = c_i * r_i / sum_j c_j r_j   if any session has closer_engagement c=1   (Closer)
          1 / n                  otherwise

where r_i is the position of session i, so closer credit leans to later sessions, as the API's
does. Each phase sums to 1 over the journey, so the credits sum to 1; a one-session journey gets
wI + wH + wC = 1.
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
    ordered_all = ibis.window(group_by="conv_id", order_by="position", rows=(None, None))
    return j.mutate(_credit=j._weight / j._weight.sum().over(ordered_all))


def _ihc(j: ir.Table, cfg: AttributionConfig) -> ir.Value:
    wi, wh, wc = cfg.ihc_weights.normalised()
    n = j.n_sessions.cast("float64")
    w = _conv_window()
    holders = j.holder_engagement.cast("float64")
    h_total = holders.sum().over(w)
    closer_weight = j.closer_engagement.cast("float64") * j.position.cast("float64")
    c_total = closer_weight.sum().over(w)
    initializer = (j.position == 1).cast("float64")
    holder = ibis.ifelse(h_total > 0, holders / h_total, 1.0 / n)
    closer = ibis.ifelse(c_total > 0, closer_weight / c_total, 1.0 / n)
    return wi * initializer + wh * holder + wc * closer


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
