"""Data-driven models in the warehouse (`--model markov`, `--model shapley`): channel weights
learnt from the range's journeys, converting and not, then each conversion's credit split over its
sessions by those weights.

Why two stages: Markov removal effects and Shapley values are properties of *channels* over a
whole population of journeys, but `marts.attribution_customer_journey`, `channel_reporting`, the
CSV and write-back all need a credit per (conversion, session) that sums to 1 per conversion. So:

1. Paths of the range [since, until] (`range_paths`):
   - converting: every journey of a conversion dated in the range (`attribution.journeys`), its
     channels in journey order, one conversion, value = the conversion's revenue (NULL counts 0);
   - non-converting: per user, the sessions dated in the range that are in no journey of a
     conversion dated in the range, in (session_ts, session_id) order, one null each. A session
     that leads to a conversion after `until` is non-converting *as seen at the end of the range*
     (the same rule on every run, so a re-run of the range gives the same result).
   No path leaves the warehouse: Markov's transitions are counted in SQL (one row per distinct
   transition) and Shapley's channel sets are bitmasks summed per set; `range_paths` is the same
   definition in plain Python, which the tests hold the SQL to (1e-12). On 11M sessions (a week
   of 36k conversions) markov takes about 25 s and shapley 18 s, against about 115 s when whole
   paths were read into Python.
2. Channel weights, stored in `attribution.path_model_channels` (one row per model, range and
   channel; the channel-level result: removal effect or Shapley value, attributed conversions and
   value summing to the range's totals):
   - markov: the removal effect RE_x at `attribution.markov.order` (martops.attribution.markov);
   - shapley: the Shapley value phi_x of `attribution.shapley.game` (martops.attribution.shapley).
3. Conversion-level credit of session i (channel x_i) in conversion c:
   - markov: RE_{x_i} / sum_{j in c} RE_{x_j}  (a channel visited twice earns twice: the chain
     passes through it twice);
   - shapley, game `conversions` (the default): 1 / (|T_c| m_{c,x_i}), with T_c the conversion's
     distinct channels and m_{c,x} the sessions of channel x in c. This is the game's own exact
     decomposition (a sum of unanimity games: each journey's conversion split equally over its
     channels), so these credits summed per channel equal the channel-level Shapley values;
   - shapley, game `conversion_rate`: (phi+_{x_i} / m_{c,x_i}) / sum_{x in c} phi+_x with phi+ =
     max(phi, 0): the game has no per-journey decomposition, so the channel values weigh the
     conversion's channels; the coalition game sees the *set* of channels, so a channel's share is
     split evenly over its sessions. A channel of negative value (it lowers the conversion rate)
     gets no credit rather than a negative one (credits must be >= 0).
   A conversion whose channels all weigh 0 is split evenly over its sessions (1/n), so every
   conversion's credits are >= 0 and sum to 1, as for every model. The channel totals of these
   credits are close to, but not the same as, the channel-level attribution of step 2: the credit
   is normalised per conversion, the channel-level result over the whole population.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import numpy as np

from martops.attribution import tables as T
from martops.attribution.costs import EXACT
from martops.attribution.models import ordered_journey
from martops.config import AttributionConfig
from martops.engine import Warehouse
from martops.errors import StepError

if TYPE_CHECKING:  # imported where solved: scipy.sparse costs every CLI command ~0.3 s otherwise
    from martops.attribution import markov, shapley

SEP = "\x1f"
"""Joins a path's channel names in one string (ASCII unit separator: not in a channel name)."""

CHANNELS_SCHEMA = ibis.schema({
    "model": "string", "since": "date", "until": "date", "channel_name": "string",
    "weight": "float64", "std_error": "float64", "conversions": "float64", "value": "float64",
    "detail": "string",
})


def range_paths(wh: Warehouse, since: dt.date, until: dt.date) -> markov.Paths | None:
    """The range's distinct paths (module docstring, step 1); None when no conversion has a journey.

    The definition in its plainest form, whole paths in Python: `channel_weights` counts the same
    chain in SQL, and the tests hold the two to 1e-12."""
    from martops.attribution import markov

    j = wh.table(T.JOURNEYS)
    j = j.filter(j.conv_date.between(since, until))
    nulls = int(wh.scalar(j.channel_name.isnull().sum().fill_null(0)))
    if nulls:
        raise StepError(f"{nulls:,} journey session(s) of {since}..{until} have no channel name; "
                        "a path model needs every session's channel (check staging.sessions.channel_name)")
    per_conv = j.group_by("conv_id").aggregate(
        path=j.channel_name.group_concat(SEP, order_by=[j.position]),
        value=j.revenue.max().cast(EXACT).fill_null(0))
    # summed in DECIMAL: exact, so the order parallel threads add rows in cannot change a bit
    converting = per_conv.group_by("path").aggregate(conversions=per_conv.count().cast("float64"),
                                                     value=per_conv.value.sum().cast("float64"),
                                                     nulls=ibis.literal(0.0))
    s = wh.table(T.SESSIONS)
    s = s.filter(s.event_date.between(since, until))
    s = s.anti_join(j, s.session_id == j.session_id)
    per_user = s.group_by("user_id").aggregate(
        path=s.channel_name.fill_null("").group_concat(SEP, order_by=[s.session_ts, s.session_id]))
    lost = per_user.group_by("path").aggregate(conversions=ibis.literal(0.0), value=ibis.literal(0.0),
                                               nulls=per_user.count().cast("float64"))
    rows = wh.to_pyarrow(converting.union(lost).order_by("path")).to_pydict()
    if not any(c > 0 for c in rows["conversions"]):
        return None
    paths = [p.split(SEP) for p in rows["path"]]
    if any("" in p for p in paths):
        raise StepError(f"a session of {since}..{until} outside every journey has no channel name; "
                        "a path model needs every session's channel (check staging.sessions.channel_name)")
    return markov.Paths(paths, rows["conversions"], rows["value"], rows["nulls"])


def _visits(wh: Warehouse, since: dt.date, until: dt.date) -> tuple[ir.Table, list[str]] | None:
    """Every visit of the range's paths, computed once into a temporary table: path (kind 'c' for a
    journey, 'n' for a user's non-converting sessions; key), seq (1-based visit number), ch (index
    into the returned channel names, sorted), conv and nulls (the path's outcome, on every visit),
    value (the conversion's revenue, DECIMAL). None when the range has no journey."""
    j = wh.table(T.JOURNEYS)
    j = j.filter(j.conv_date.between(since, until))
    s = wh.table(T.SESSIONS)
    s = s.filter(s.event_date.between(since, until))
    s = s.anti_join(j, s.session_id == j.session_id)
    by_time = ibis.window(group_by=s.user_id, order_by=[s.session_ts, s.session_id])
    zero = ibis.literal(0).cast(EXACT)
    v = j.select(kind=ibis.literal("c"), key=j.conv_id.cast("string"), seq=j.position.cast("int64"),
                 channel_name=j.channel_name, conv=ibis.literal(1.0), nulls=ibis.literal(0.0),
                 value=j.revenue.cast(EXACT).fill_null(zero)).union(
        s.select(kind=ibis.literal("n"), key=s.user_id.cast("string"),
                 seq=(ibis.row_number().over(by_time) + 1).cast("int64"), channel_name=s.channel_name,
                 conv=ibis.literal(0.0), nulls=ibis.literal(1.0), value=zero))
    v = wh.materialize(v, "_path_visits")
    stats = wh.to_pyarrow(v.aggregate(missing=v.channel_name.isnull().sum().fill_null(0),
                                      conversions=(v.kind == "c").sum().fill_null(0))).to_pylist()[0]
    if stats["missing"]:
        raise StepError(f"{stats['missing']:,} session(s) of the paths of {since}..{until} have no channel name; "
                        "a path model needs every session's channel (check staging.sessions.channel_name)")
    if not stats["conversions"]:
        return None
    names = v.select("channel_name").distinct()
    names = wh.materialize(names.mutate(ch=ibis.row_number().over(order_by=names.channel_name).cast("int64")),
                           "_path_channels")
    channels = [r["channel_name"] for r in wh.to_pyarrow(names.order_by("ch")).to_pylist()]
    v = v.join(names, "channel_name").drop("channel_name")
    return v, channels


def _numpy(wh: Warehouse, expr: ir.Table) -> dict[str, np.ndarray]:
    table = wh.to_pyarrow(expr)
    return {c: table[c].to_numpy() for c in table.column_names}


def _markov(wh: Warehouse, v: ir.Table, channels: list[str], order: int) -> markov.MarkovResult:
    """Transitions counted in SQL (no path leaves the warehouse): the state of a visit is the code
    sum_i (ch[t-i] + 1) * base^i over the last `order` visits (0 before the path's start), and the
    next state's code is built from lead(ch) and the same lags, so no window runs over a window."""
    from martops.attribution import markov

    base = len(channels) + 1
    if base ** order >= 2 ** 62:
        raise StepError(f"markov order {order} with {len(channels):,} channels: the states do not fit a 64-bit "
                        "code; lower attribution.markov.order or group rare channels")
    w = ibis.window(group_by=[v.kind, v.key], order_by=v.seq)
    lag = [v.ch if i == 0 else v.ch.lag(i).over(w) for i in range(order)]
    code = sum(((c + 1).fill_null(0) * base ** i for i, c in enumerate(lag)), ibis.literal(0, "int64"))
    nxt_ch = v.ch.lead().over(w)
    nxt = (nxt_ch + 1) + sum(((c + 1).fill_null(0) * base ** (i + 1) for i, c in enumerate(lag[:-1])),
                             ibis.literal(0, "int64"))
    t = v.mutate(code=code.cast("int64"), nxt=ibis.ifelse(nxt_ch.isnull(), ibis.null("int64"), nxt.cast("int64")),
                 first=v.seq == 1, weight=v.conv + v.nulls)
    t = wh.materialize(t.select("code", "nxt", "first", "weight", "conv", "nulls"), "_path_states")
    moves = _numpy(wh, t.filter(t.nxt.notnull()).group_by(["code", "nxt"]).aggregate(w=t.weight.sum())
                   .order_by(["code", "nxt"]))
    ends = _numpy(wh, t.filter(t.nxt.isnull()).group_by("code").aggregate(c=t.conv.sum(), u=t.nulls.sum())
                  .order_by("code"))
    starts = _numpy(wh, t.filter(t.first).group_by("code").aggregate(w=t.weight.sum()).order_by("code"))
    codes = np.unique(np.concatenate([moves["code"], moves["nxt"], ends["code"], starts["code"]]))
    chain = markov.chain_from_counts((moves["code"], moves["nxt"], moves["w"]), (ends["code"], ends["c"], ends["u"]),
                                     (starts["code"], starts["w"]), (codes, codes % base - 1), channels)
    total_conv, total_value = _totals(wh, v)
    return markov.solve_chain(chain, order, total_conv, total_value)


def _totals(wh: Warehouse, v: ir.Table) -> tuple[float, float]:
    """Conversions and value of the range's journeys (value summed in DECIMAL: exact, so the order
    parallel threads add rows in cannot change a bit)."""
    first = v.filter((v.seq == 1) & (v.kind == "c"))
    row = wh.to_pyarrow(first.aggregate(c=first.conv.sum(), value=first.value.sum().cast("float64"))).to_pylist()[0]
    return float(row["c"]), float(row["value"] or 0.0)


def _shapley(wh: Warehouse, v: ir.Table, channels: list[str],
             cfg: AttributionConfig) -> tuple[shapley.ShapleyResult, list[str]]:
    """Each path's channel set as a bitmask (bit_or in SQL; above 62 channels its sorted channel ids
    as a string), paths summed per set: only the distinct sets leave the warehouse."""
    from martops.attribution import shapley

    if len(channels) <= 62:
        one = ibis.literal(1).cast("int64")
        per_path = v.group_by(["kind", "key"]).aggregate(set=(one << v.ch.cast("int32")).bit_or(), conv=v.conv.max(),
                                                          nulls=v.nulls.max(), value=v.value.max())
    else:  # more channels than a 64-bit mask: the set as its sorted channel ids, one string
        d = v.select("kind", "key", "ch", "conv", "nulls", "value").distinct()
        per_path = d.group_by(["kind", "key"]).aggregate(set=d.ch.cast("string").group_concat(",", order_by=[d.ch]),
                                                          conv=d.conv.max(), nulls=d.nulls.max(), value=d.value.max())
    sets = _numpy(wh, per_path.group_by("set").aggregate(conv=per_path.conv.sum(), nulls=per_path.nulls.sum(),
                                                         value=per_path.value.sum().cast("float64"))
                  .order_by("set"))
    if len(channels) <= 62:
        journeys = [[ch for i, ch in enumerate(channels) if int(m) >> i & 1] for m in sets["set"]]
    else:
        journeys = [[channels[int(i)] for i in str(m).split(",")] for m in sets["set"]]
    res = shapley.shapley_attribution(journeys, sets["conv"], sets["value"], sets["nulls"], game=cfg.shapley.game,
                                      samples=cfg.shapley.samples, seed=cfg.shapley.seed)
    return res, shapley.over_credited(res, journeys, sets["conv"])


def channel_weights(wh: Warehouse, since: dt.date, until: dt.date, model: str,
                    cfg: AttributionConfig) -> list[dict]:
    """One row per channel for `attribution.path_model_channels` (without model and range); [] when
    the range has no journey. The same figures as `markov.markov_attribution` /
    `shapley.shapley_attribution` of `range_paths` (tested), counted in the warehouse."""
    found = _visits(wh, since, until)
    if found is None:
        return []
    v, channels = found
    if model == "markov":
        res = _markov(wh, v, channels, cfg.markov.order)
        detail = f"order {res.order}, {res.states:,} states, P(conversion) {res.p_conversion:.6f}"
        return _rows(res, res.removal_effect, np.zeros(len(res.channels)), detail)
    res, over = _shapley(wh, v, channels, cfg)
    how = "exact" if res.exact else f"{cfg.shapley.samples:,} sampled orders, seed {cfg.shapley.seed}"
    detail = f"game {res.game}, {how}, v(all channels) {res.grand_value:.6g}"
    if over:
        detail += f"; credited beyond their own journeys' conversions: {', '.join(over)}"
    return _rows(res, res.shapley, res.std_error, detail)


def _rows(res, weight: np.ndarray, std_error: np.ndarray, detail: str) -> list[dict]:
    return [{"channel_name": ch, "weight": float(w), "std_error": float(e), "conversions": float(c),
             "value": float(v), "detail": detail}
            for ch, w, e, c, v in zip(res.channels, weight, std_error, res.conversions, res.value)]


def store_weights(wh: Warehouse, model: str, since: dt.date, until: dt.date, cfg: AttributionConfig) -> int:
    """Replace the model's channel rows for exactly this range; returns the number of channels
    (0 when the range has no journey). Runs inside the caller's transaction."""
    rows = channel_weights(wh, since, until, model, cfg)
    wh.ensure_table(T.PATH_MODEL_CHANNELS, CHANNELS_SCHEMA)
    wh.delete_where(T.PATH_MODEL_CHANNELS, "model = ? AND since = ? AND until = ?", [model, since, until])
    if rows:
        cols = {k: [r[k] for r in rows] for k in rows[0]}
        n = len(rows)
        table = ibis.memtable({"model": [model] * n, "since": [since] * n, "until": [until] * n, **cols},
                              schema=CHANNELS_SCHEMA)
        wh.insert(T.PATH_MODEL_CHANNELS, table)
    return len(rows)


def credits_expr(wh: Warehouse, journeys: ir.Table, model: str, since: dt.date, until: dt.date,
                 cfg: AttributionConfig) -> ir.Table:
    """(model, conv_id, conv_date, session_id, ihc) for the journeys of [since, until], from the
    weights `store_weights` wrote for that range (module docstring, step 3)."""
    w = wh.table(T.PATH_MODEL_CHANNELS)
    w = w.filter((w.model == model) & (w.since == since) & (w.until == until))
    equal = model == "shapley" and cfg.shapley.game == "conversions"  # the game's own per-journey split
    w = w.select("channel_name", _w=ibis.literal(1.0) if equal else ibis.greatest(w.weight, 0.0))
    j = journeys.left_join(w, "channel_name").drop("channel_name_right")
    weight = j._w.fill_null(0.0)
    if model == "shapley":
        weight = weight / j.count().over(ibis.window(group_by=[j.conv_id, j.channel_name])).cast("float64")
    j = j.mutate(_sw=weight)
    total = j._sw.sum().over(ordered_journey())
    credit = ibis.ifelse(total > 0, j._sw / total, 1.0 / j.n_sessions.cast("float64"))
    return j.select(model=ibis.literal(model), conv_id=j.conv_id, conv_date=j.conv_date,
                    session_id=j.session_id, ihc=credit.cast("float64"))

