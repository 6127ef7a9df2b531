"""Exact Markov-chain attribution of aggregated paths (no simulation): numpy + scipy.sparse only.

Why exact: ChannelAttribution estimates the same quantities by Monte Carlo simulation, so its
results move 1-2% with the seed. Here every probability is an absorption probability of a finite
absorbing Markov chain, obtained by sparse LU solves; the same input gives bit-identical output.

Input (`Paths`): n path rows; row i = channels visited in order (list of names), conversions c_i
(count, float allowed), conversion value v_i (money), nulls u_i (journeys of that path that did
not convert). Identical paths are summed first (`Paths.aggregated`).

States at order k (1..4): after the j-th visit of a path the chain is in the state
(ch[max(1, j-k+1)], ..., ch[j]), the last k channels visited, oldest first. A path's first k-1
states are therefore *shorter* tuples (a path `a > b > c` at order 3 visits (a,), (a, b),
(a, b, c)). A shorter tuple only ever occurs at a path's start; a path shorter than k never
reaches a full-length state. Special states: start, conversion, null (the last two absorbing).
ChannelAttribution 2.2.5 (functions.cpp) starts a path at its first window of k channels instead
and merges repeated consecutive states: both give the same distribution of emitted channel
sequences (start -> (a,) -> (a, b) has the probability of start -> (a b); a self-loop does not
change absorption probabilities), so the same removal effects, which it estimates by simulation
(walks longer than the longest observed path counted as null).

Counting rule (one row, weight w_i = c_i + u_i): start -> s_1 -> ... -> s_last each counted w_i
times; s_last -> conversion c_i times and s_last -> null u_i times. A row with w_i = 0 counts
nothing. Transition probabilities are the counts normalised per source state (row sums 1).

P(conversion) = p0^T (I - Q)^{-1} r, with Q (S x S) the transient-to-transient probabilities,
r (S) the one-step probability into conversion, p0 (S) the start distribution (the standard
absorption probability of an absorbing chain; Kemeny & Snell 1960, Finite Markov Chains, thm 3.3.7).

Removal effect (Anderl, Becker, von Wangenheim, Schumann 2016, "Mapping the customer journey:
Lessons learned from graph-based online attribution modeling", IJRM 33(3)): remove channel x by
sending every transition into a state whose LAST channel is x to null instead. With X the states
ending in x and K the others, P_x = p0_K^T (I - Q_KK)^{-1} r_K (X is unreachable), and
RE_x = 1 - P_x / P. Attributed conversions_x = RE_x / sum_y RE_y * sum_i c_i; value likewise with
sum_i v_i. Removing a channel can only lower P, so 0 <= RE_x <= 1 (round-off below 0 is set to 0).

How P_x is solved (`_removed_probability`): (I - Q) is factorised once (splu). For a channel with
few states (|X| <= `schur_max`) P_x comes from that one factorisation by the block-inverse
(Schur complement) identity (A_KK)^{-1} = M_KK - M_KX (M_XX)^{-1} M_XK, M = A^{-1}, A = I - Q:
only |X| extra solves for the columns M[:, X] plus two solves shared by all channels
(h = M r, g = M^T p0). Otherwise the principal submatrix A_KK is factorised anew. The choice
depends only on |X| (deterministic), never on timing.

Above `direct_max_states` transient states (orders >= 2 with many channels: ~100k states for 500
channels) the LU fills in and does not finish, so `solver="auto"` switches to the blocked fixed-point
(Jacobi) iteration of martops.attribution.absorption on the states that can reach a conversion:
every P_x from y_x = D_x (r + Q y_x), the channels of a block advanced by one sparse-times-dense
product per step, started from h, level by level in the DAG of strongly connected components (only
levels holding a cycle iterate). Its stopping rule bounds |P_x error| <= ITERATIVE_REL_TOL * P
through the expected visits of each state (absorption.py): attributed conversions then agree with
the direct solve to ~1e-12 relative (tested on random graphs with `solver="iterative"` against the
direct path). Which solver runs depends only on the state count, never on timing.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from martops.attribution.absorption import fixed_point, live_states, masked_probabilities
from martops.errors import SourceError

ORDERS = (1, 2, 3, 4)
SOLVERS = ("auto", "direct", "iterative")
DIRECT_MAX_STATES = 20_000
"""`solver="auto"`: the sparse LU up to this many transient states, the iterative solve above."""
ITERATIVE_REL_TOL = 1e-13
"""The iterative solve's bound on |P_x error| / P."""
RESIDUAL_FLOOR = 1e-15
"""No residual below this is asked for (float64 round-off of a row of I - Q is ~1e-16)."""


@dataclasses.dataclass
class Paths:
    """n aggregated path rows: `channels[i]` the names in visit order (non-empty), `conversions`,
    `value`, `nulls` arrays of shape (n,) (counts >= 0, value in the input's money)."""

    channels: list[list[str]]
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray

    def __post_init__(self) -> None:
        self.conversions, self.value, self.nulls = (np.asarray(a, dtype=np.float64).reshape(-1)
                                                    for a in (self.conversions, self.value, self.nulls))
        n = len(self.channels)
        if not (self.conversions.size == self.value.size == self.nulls.size == n):
            raise ValueError(f"Paths: {n} paths but {self.conversions.size} conversions, "
                             f"{self.value.size} values, {self.nulls.size} nulls")
        for i, path in enumerate(self.channels):
            if len(path) == 0 or not all(isinstance(c, str) and c for c in path):
                raise ValueError(f"Paths: path {i} is empty or has an empty channel name: {path!r}")

    def aggregated(self) -> "Paths":
        """Identical channel sequences summed into one row, rows sorted by channel sequence: the
        result does not depend on the input's row order or on how a path's counts were split."""
        index: dict[tuple[str, ...], int] = {}
        slot = np.fromiter((index.setdefault(tuple(p), len(index)) for p in self.channels), np.int64,
                           len(self.channels))
        keys = list(index)
        order = sorted(range(len(keys)), key=keys.__getitem__)
        rank = np.empty(len(keys), np.int64)
        rank[order] = np.arange(len(keys))
        sums = [np.bincount(rank[slot], weights=a, minlength=len(keys))
                for a in (self.conversions, self.value, self.nulls)]
        return Paths([list(keys[i]) for i in order], *sums)


@dataclasses.dataclass
class MarkovResult:
    """Per channel (sorted by name): removal effect (0..1), attributed conversions and value
    (sum to the totals); `p_conversion` = P(conversion) from start; `states` = transient states."""

    channels: list[str]
    removal_effect: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    p_conversion: float
    total_conversions: float
    total_value: float
    order: int
    states: int

    def rows(self) -> list[dict]:
        """One dict per channel, most conversions first (ties by name)."""
        share = self.conversions / self.total_conversions
        idx = sorted(range(len(self.channels)), key=lambda i: (-self.conversions[i], self.channels[i]))
        return [{"channel": self.channels[i], "removal_effect": float(self.removal_effect[i]),
                 "conversions": float(self.conversions[i]), "value": float(self.value[i]),
                 "share": float(share[i])} for i in idx]


@dataclasses.dataclass
class Chain:
    """The absorbing chain of `build_chain`: `a` = I - Q (S x S, CSC), `r` (S) one-step conversion
    probability, `p0` (S) start distribution, `last` (S) the index of each state's last channel."""

    a: sp.csc_matrix
    r: np.ndarray
    p0: np.ndarray
    last: np.ndarray
    channels: list[str]


def build_chain(paths: Paths, order: int) -> Chain:
    """The transition system of `paths` at `order` (see the module docstring), built once from
    numpy arrays (states encoded as integers, COO summed), never by loops over states."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order}")
    weight = paths.conversions + paths.nulls
    keep = np.flatnonzero(weight > 0)
    names = sorted({c for i in keep for c in paths.channels[i]})
    ids = {c: j for j, c in enumerate(names)}
    lengths = np.fromiter((len(paths.channels[i]) for i in keep), np.int64, keep.size)
    tok = np.fromiter((ids[c] for i in keep for c in paths.channels[i]), np.int64, int(lengths.sum()))
    pid = np.repeat(np.arange(keep.size), lengths)
    starts = np.cumsum(lengths) - lengths
    pos = np.arange(tok.size) - np.repeat(starts, lengths)
    # state of each visit: the last `order` channel ids (+1; 0 = before the path's start)
    lagged = np.zeros((tok.size, order), np.int64)
    for j in range(order):
        lagged[j:, j] = np.where(pos[j:] >= j, tok[: tok.size - j] + 1, 0)
    base = len(names) + 1
    if base ** order < 2 ** 62:
        code = lagged @ (base ** np.arange(order, dtype=np.int64))
        _, state = np.unique(code, return_inverse=True)
    else:
        _, state = np.unique(lagged, axis=0, return_inverse=True)
    state = state.reshape(-1)
    n_states = int(state.max()) + 1
    w, conv = weight[keep], paths.conversions[keep]
    out = np.bincount(state, weights=w[pid], minlength=n_states)  # every visit leaves once, w times
    last_visit = np.append(pid[1:] != pid[:-1], True)
    move = np.flatnonzero(~last_visit)
    q = sp.coo_matrix((w[pid[move]] / out[state[move]], (state[move], state[move + 1])),
                      shape=(n_states, n_states)).tocsc()
    q.sum_duplicates()
    r = np.bincount(state[last_visit], weights=conv, minlength=n_states) / out
    p0 = np.bincount(state[starts], weights=w, minlength=n_states) / w.sum()
    last = np.empty(n_states, np.int64)
    last[state] = tok
    a = (sp.identity(n_states, format="csc") - q).tocsc()
    return Chain(a, r, p0, last, names)


def markov_attribution(paths: Paths, order: int = 1, *, schur_max: int = 64, solver: str = "auto",
                       direct_max_states: int = DIRECT_MAX_STATES) -> MarkovResult:
    """Removal-effect attribution of `paths` at `order` (module docstring: states, formulas).
    SourceError when there is no conversion to attribute. `schur_max`: the largest number of a
    channel's states solved from the shared factorisation (0: always refactorise). `solver`: "direct"
    (sparse LU), "iterative" (batched BiCGSTAB) or "auto" (direct up to `direct_max_states` states)."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    total_conv, total_value = float(paths.conversions.sum()), float(paths.value.sum())
    if not total_conv > 0:
        raise SourceError("the paths hold no conversion (total_conversions sums to 0): nothing to attribute")
    agg = paths.aggregated()
    return solve_chain(build_chain(agg, order), order, total_conv, total_value, schur_max=schur_max,
                       solver=solver, direct_max_states=direct_max_states)


def chain_from_counts(moves: tuple[np.ndarray, np.ndarray, np.ndarray], ends: tuple[np.ndarray, np.ndarray, np.ndarray],
                      starts: tuple[np.ndarray, np.ndarray], last_channel: tuple[np.ndarray, np.ndarray],
                      channels: list[str]) -> Chain:
    """The chain of already counted transitions (a warehouse counts them in SQL: see
    attribution.path_models), the same chain `build_chain` makes from the paths.

    States are any int64 codes. `moves` = (from, to, weight): transitions between states;
    `ends` = (state, conversions, nulls): the last visits' outcomes; `starts` = (state, weight):
    the first visits; `last_channel` = (state, index into `channels` of its last channel).
    """
    codes = np.unique(np.concatenate([moves[0], moves[1], ends[0], starts[0]]))
    n = codes.size
    idx = {name: np.searchsorted(codes, arr) for name, arr in
           (("mf", moves[0]), ("mt", moves[1]), ("e", ends[0]), ("s", starts[0]), ("l", last_channel[0]))}
    out = (np.bincount(idx["mf"], weights=moves[2], minlength=n)
           + np.bincount(idx["e"], weights=ends[1] + ends[2], minlength=n))
    q = sp.coo_matrix((moves[2] / out[idx["mf"]], (idx["mf"], idx["mt"])), shape=(n, n)).tocsc()
    q.sum_duplicates()
    r = np.bincount(idx["e"], weights=ends[1], minlength=n) / out
    p0 = np.bincount(idx["s"], weights=starts[1], minlength=n) / starts[1].sum()
    last = np.empty(n, np.int64)
    last[idx["l"]] = last_channel[1]
    return Chain((sp.identity(n, format="csc") - q).tocsc(), r, p0, last, list(channels))


def solve_chain(chain: Chain, order: int, total_conv: float, total_value: float, *, schur_max: int = 64,
                solver: str = "auto", direct_max_states: int = DIRECT_MAX_STATES) -> MarkovResult:
    """Removal effects of `chain`'s channels, and `total_conv` / `total_value` shared by them
    (`schur_max`, `solver`, `direct_max_states`: as in `markov_attribution`)."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if not total_conv > 0:
        raise SourceError("the paths hold no conversion: nothing to attribute")
    n_states = chain.a.shape[0]
    if solver == "iterative" or (solver == "auto" and n_states > direct_max_states):
        p, removed = _iterative_probabilities(chain)
    else:
        lu = spla.splu(chain.a)
        h = lu.solve(chain.r)
        g = lu.solve(chain.p0, trans="T")
        p = float(chain.p0 @ h)
        removed = np.array([_removed_probability(chain, lu, h, g, p, np.flatnonzero(chain.last == x), schur_max)
                            for x in range(len(chain.channels))])
    re = np.clip(1.0 - removed / p, 0.0, 1.0)
    total_re = re.sum()
    if not total_re > 0:  # cannot happen when P > 0 (the channel before a conversion has RE > 0)
        raise SourceError("every removal effect is 0: no channel leads to a conversion")
    return MarkovResult(chain.channels, re, re / total_re * total_conv, re / total_re * total_value, p,
                        total_conv, total_value, order, n_states)


def _iterative_probabilities(chain: Chain) -> tuple[float, np.ndarray]:
    """P and every P_x by the blocked fixed-point iteration (martops.attribution.absorption) on the
    states that can reach a conversion, to |error| <= ITERATIVE_REL_TOL * P."""
    q = (sp.identity(chain.r.size, format="csr") - chain.a.tocsr()).tocsr()
    live = live_states(q, chain.r)
    q, r, p0, last = q[live][:, live].tocsr(), chain.r[live], chain.p0[live], chain.last[live]
    h = fixed_point(q, r, RESIDUAL_FLOOR)  # one column: as tight as float64 allows
    p = float(p0 @ h)
    # expected visits g = p0 + Q^T g (iterated from below to float64's floor), +1% and +1e-12 (more
    # than the floor times the expected steps left): an upper bound, the weights of the error bound
    visits = 1.01 * fixed_point(q.T.tocsr(), p0, RESIDUAL_FLOOR) + 1e-12
    return p, masked_probabilities(q, r, p0, last, np.arange(len(chain.channels)), h, visits,
                                   ITERATIVE_REL_TOL * p)


def _removed_probability(chain: Chain, lu, h: np.ndarray, g: np.ndarray, p: float, x_states: np.ndarray,
                         schur_max: int) -> float:
    """P(conversion) with the states `x_states` (those ending in the removed channel) sent to null."""
    pr, r = chain.p0, chain.r
    if x_states.size > schur_max:
        keep = np.ones(r.size, bool)
        keep[x_states] = False
        sub = chain.a[keep][:, keep]
        return float(pr[keep] @ spla.splu(sub.tocsc()).solve(r[keep])) if sub.shape[0] else 0.0
    rhs = np.zeros((r.size, x_states.size))
    rhs[x_states, np.arange(x_states.size)] = 1.0
    b = lu.solve(rhs)[x_states]  # M_XX
    px, rx = pr[x_states], r[x_states]
    u = g[x_states] - b.T @ px   # (p_K^T M_KX)^T
    v = h[x_states] - b @ rx     # M_XK r_K
    base = p - px @ h[x_states] - g[x_states] @ rx + px @ b @ rx  # p_K^T M_KK r_K
    return float(base - u @ np.linalg.solve(b, v))


def attribute(channels: Sequence[Sequence[str]], conversions, value, nulls, order: int = 1) -> MarkovResult:
    """Shorthand: `markov_attribution(Paths(...), order)`."""
    return markov_attribution(Paths([list(c) for c in channels], conversions, value, nulls), order)
