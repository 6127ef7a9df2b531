"""Shapley-value attribution of journeys to channels: the cooperative games, exact and sampled.

A journey is reduced to the *set* of channels it touched (order and repeats do not enter a
coalition game), with its conversions c, value and non-converting count u (aggregated: one row per
distinct set). Two games are offered, and which one is a choice with consequences:

- `conversions` (Zhao et al. 2018, "Shapley Value Methods for Attribution Modeling in Online
  Advertising", the game of DP6's tool): v(S) = sum of c over journeys whose channel set is a
  subset of S. v is a sum of unanimity games w_T * [T subset of S], whose Shapley value is known in
  closed form (Shapley 1953): every channel of T gets w_T / |T|. So this game credits each
  converting journey equally to its distinct channels — exact for any number of channels, in one
  pass, and a useful sanity check: it is linear attribution over distinct channels, nothing more.
- `conversion_rate` (the default): v(S) = C(S) / (C(S) + U(S)), with C and U the conversions and
  non-converting journeys whose set is a subset of S (0 when S covers none). It uses the journeys
  that did not convert, so a channel present mostly in journeys that fail can earn little or a
  negative value. Its values sum to v(all channels), the overall conversion rate (efficiency); the
  attributed conversions of channel i are phi_i / v(all) x total conversions, value likewise.

Exact for n <= `EXACT_MAX` channels: C and U per exact set are turned into sums over subsets by
the zeta transform over the 2^n bitmasks (O(n 2^n), Yates 1937 / "fast subset sum"), then
phi_i = sum over S not holding i of |S|! (n-|S|-1)! / n! (v(S + i) - v(S)), vectorised per channel.
Above that, permutation sampling (Castro, Gomez, Tejada 2009): the mean marginal contribution over
`samples` random orders, with its standard error; within one order a journey enters the
coalition at the position of its last channel, so all n prefixes' v(S) come from one pass over
the journeys (any number of channels; 500 channels x 100k journeys x 2000 orders in seconds).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

EXACT_MAX = 20
"""Exact up to 20 channels: 2^20 subsets, about 0.4 s and 60 MB on one core (22 channels: 3 s, 240 MB)."""
GAMES = ("conversion_rate", "conversions")


@dataclasses.dataclass(frozen=True)
class ShapleyResult:
    """Per channel (in `channels` order): Shapley value (in the game's unit: a rate, or conversions),
    its standard error (0 when exact), attributed conversions and value (summing to the totals)."""

    channels: list[str]
    shapley: np.ndarray
    std_error: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    game: str
    exact: bool
    grand_value: float
    """v(all channels): total conversions, or the overall conversion rate."""


def _channel_ids(journeys: Sequence[Sequence[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Sorted channel names and each journey's distinct channel ids as a CSR row (indptr, ids)."""
    channels = sorted({c for j in journeys for c in j})
    index = {c: i for i, c in enumerate(channels)}
    rows = [sorted({index[c] for c in j}) for j in journeys]
    indptr = np.zeros(len(rows) + 1, np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    return channels, indptr, np.fromiter((i for r in rows for i in r), np.int64, int(indptr[-1]))


def _check(journeys, conversions, value, nulls) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(journeys)
    c, v, u = (np.asarray(x, dtype="float64") for x in (conversions, value, nulls))
    if not (c.shape == v.shape == u.shape == (n,)):
        raise ValueError(f"journeys, conversions, value and nulls must have one entry per journey ({n})")
    if not np.all(np.isfinite(np.concatenate([c, v, u]))) or (c < 0).any() or (u < 0).any():
        raise ValueError("conversions and nulls must be finite counts >= 0, value finite")
    if any(len(j) == 0 for j in journeys):
        raise ValueError("a journey with no channel cannot be attributed")
    if c.sum() <= 0:
        raise ValueError("no conversions: there is nothing to attribute")
    return c, v, u


def _zeta(per_set: np.ndarray, n: int) -> np.ndarray:
    """f(S) = sum over T subset of S of per_set[T], for every bitmask S (in place on a copy)."""
    f = per_set.copy()
    idx = np.arange(1 << n)
    for i in range(n):
        has = (idx >> i) & 1 == 1
        f[has] += f[idx[has] ^ (1 << i)]
    return f


def _game_values(game: str, c_sub: np.ndarray, u_sub: np.ndarray) -> np.ndarray:
    if game == "conversions":
        return c_sub
    total = c_sub + u_sub
    out = np.zeros_like(c_sub)
    np.divide(c_sub, total, out=out, where=total > 0)
    return out


def _exact(masks: np.ndarray, c: np.ndarray, u: np.ndarray, n: int, game: str) -> np.ndarray:
    size = 1 << n
    c_set = np.bincount(masks, weights=c, minlength=size).astype("float64")
    u_set = np.bincount(masks, weights=u, minlength=size).astype("float64")
    v = _game_values(game, _zeta(c_set, n), _zeta(u_set, n))
    idx = np.arange(size)
    pop = sum((idx >> i) & 1 for i in range(n))  # |S| of every bitmask S
    weight = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)])
    phi = np.zeros(n)
    for i in range(n):
        without = idx[(idx >> i) & 1 == 0]
        phi[i] = float(np.sum(weight[pop[without]] * (v[without | (1 << i)] - v[without])))
    return phi


def _sampled(indptr: np.ndarray, ids: np.ndarray, c: np.ndarray, u: np.ndarray, n: int, game: str,
             samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean marginal contribution over `samples` random orders. A journey joins the coalition at
    the position of its last channel in the order, so one order costs one pass over the journeys'
    channels (a max per journey, a cumulative sum per position), not one pass per prefix."""
    rng = np.random.default_rng(seed)
    contrib = np.zeros((samples, n))
    rank = np.empty(n, np.int64)
    for k in range(samples):
        order = rng.permutation(n)
        rank[order] = np.arange(n)
        joins = np.maximum.reduceat(rank[ids], indptr[:-1])
        v = _game_values(game, np.bincount(joins, weights=c, minlength=n).cumsum(),
                         np.bincount(joins, weights=u, minlength=n).cumsum())
        contrib[k, order] = np.diff(v, prepend=0.0)
    return contrib.mean(axis=0), contrib.std(axis=0, ddof=1) / math.sqrt(samples) if samples > 1 else np.zeros(n)


def shapley_attribution(journeys: Sequence[Sequence[str]], conversions, value, nulls, *,
                        game: str = "conversion_rate", samples: int = 2000, seed: int = 0,
                        exact_max: int = EXACT_MAX) -> ShapleyResult:
    """Shapley values of the channels and the conversions and value they are credited with.

    `journeys`: per journey (or aggregated journey set) its channel names, any order, repeats
    ignored; `conversions`, `value`, `nulls`: shape (n,). The `conversions` game by its closed form
    (exact for any number of channels; value credited as each journey's own value split equally
    over its channels, the same game played with value). `conversion_rate`: exact up to EXACT_MAX channels, else
    `samples` sampled permutations (deterministic for `seed`); `exact_max` lowers the exact limit
    (tests compare the sampled estimate with the exact value). Raises ValueError on bad input.
    """
    if game not in GAMES:
        raise ValueError(f"unknown game {game!r}; games: {', '.join(GAMES)}")
    c, v, u = _check(journeys, conversions, value, nulls)
    channels, indptr, ids = _channel_ids(journeys)
    n = len(channels)
    if game == "conversions":  # the closed form, exact for any number of channels, value included
        size = np.diff(indptr)
        per = np.repeat(1.0 / size, size)
        phi = np.bincount(ids, weights=np.repeat(c, size) * per, minlength=n)
        worth = np.bincount(ids, weights=np.repeat(v, size) * per, minlength=n)
        return ShapleyResult(channels, phi, np.zeros(n), phi.copy(), worth, game, True, float(c.sum()))
    exact = n <= min(exact_max, EXACT_MAX)
    if exact:
        masks = np.bitwise_or.reduceat(np.left_shift(1, ids), indptr[:-1])
        phi, se = _exact(masks, c, u, n, game), np.zeros(n)
    else:
        phi, se = _sampled(indptr, ids, c, u, n, game, samples, seed)
    grand = float(_game_values(game, np.array([c.sum()]), np.array([u.sum()]))[0])
    share = phi / grand if grand else np.zeros(n)
    return ShapleyResult(channels, phi, se, share * c.sum(), share * v.sum(), game, exact, grand)


def over_credited(result: ShapleyResult, journeys: Sequence[Sequence[str]], conversions) -> list[str]:
    """Channels credited with more conversions than the journeys they appear in hold.

    Why: in the `conversion_rate` game a channel seen in a handful of journeys with a high rate
    moves v(S) of small coalitions a lot, and small coalitions weigh as much as large ones in the
    Shapley average, so a rare channel can be credited far beyond its own journeys' conversions
    (on PathData.csv, `mi`: 2 paths, 4 conversions, credited 2,203). That is the game, not a bug,
    but a reader must be told. The `conversions` game never does this (each journey's conversions
    go only to its own channels)."""
    c = np.asarray(conversions, dtype="float64")
    own = dict.fromkeys(result.channels, 0.0)
    for j, k in zip(journeys, c):
        for ch in set(j):
            own[ch] += k
    return [ch for ch, got in zip(result.channels, result.conversions) if got > own[ch] + 1e-9 * max(1.0, own[ch])]
