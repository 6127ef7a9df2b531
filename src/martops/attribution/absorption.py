"""Absorption probabilities of many masked copies of one absorbing chain, solved iteratively in blocks.

The Markov removal effects (martops.attribution.markov) need, for every channel x, the conversion
probability of the chain with the states X ending in x made unreachable: P_x = p0^T y_x with
y_x = D_x (r + Q y_x), D_x = diag(last != x) (every transition into X goes to null instead). At
order >= 2 with hundreds of channels the state graph is an expander-like random graph (~100k
states for 500 channels): a sparse LU of I - Q fills in and does not finish. So here every y_x is
the limit of the Jacobi (fixed-point) iteration y <- D_x (r + Q y), started from the unmasked
solution h, with the columns of a block of channels advanced together: one sparse-times-dense
product per step serves the whole block, D_x is applied by zeroing the |X| entries of column x
(no full pass), and blocks run on up to `THREADS` threads (scipy's sparse product releases the GIL).

Why Jacobi rather than a Krylov method: on these chains BiCGSTAB needs ~3x fewer steps, but each
step makes ~20 passes over the (S, block) arrays against Jacobi's 2, and memory traffic is the
cost; Jacobi also converges for every absorbing chain (rho(D_x Q) <= rho(Q) < 1, the iterates
rise monotonically to the limit from 0) and never breaks down.

Stopping rule and error bound: the step difference delta = y_{k+1} - y_k is the residual of y_k;
y* - y_k = (I - D_x Q)^{-1} delta, and (I - D_x Q)^{-1} 1 <= (I - Q)^{-1} 1 = tau entrywise (the
Neumann series of a smaller nonnegative matrix), tau the expected steps to absorption. So
|p0^T (y* - y_k)| <= sum(p0) * ||tau||_inf * ||delta||_inf; the caller picks `tol` from that.
The block split depends only on the state and channel counts and every column's arithmetic is a
fixed sequence of operations, so results never depend on timing or thread scheduling.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from martops.errors import StepError

MAX_STEPS = 20_000
CHECK_EVERY = 4
"""Steps between two convergence checks (a check is a full pass over the block)."""
BLOCK_BYTES = 128 * 2**20
"""Memory for one block of columns (3 arrays of shape (S, block) per running thread)."""
THREADS = min(2, os.cpu_count() or 1)


def live_states(q: sp.csr_matrix, r: np.ndarray) -> np.ndarray:
    """Boolean (S,): the states from which a conversion is reachable. The others have y = 0 in
    every masked chain (masking only removes paths), so they can be dropped before solving."""
    n = r.size
    # reversed graph plus a node n pointing at every state with r > 0; search from n
    sources = np.flatnonzero(r > 0)
    to_sources = sp.csr_matrix((np.ones(sources.size), (np.zeros(sources.size, np.int64), sources)), shape=(1, n))
    rev = sp.bmat([[q.T, sp.csr_matrix((n, 1))], [to_sources, sp.csr_matrix((1, 1))]], format="csr")
    reached = breadth_first_order(rev, n, directed=True, return_predecessors=False)
    live = np.zeros(n + 1, bool)
    live[reached] = True
    return live[:n]


def fixed_point(q: sp.csr_matrix, r: np.ndarray, tol: float) -> np.ndarray:
    """z (S,) with z = r + Q z, to a step difference <= tol (h = P(conversion | state) for r the
    one-step conversion probabilities; tau = expected steps to absorption for r = 1)."""
    return _iterate(q, r, r[:, None].copy(), (np.empty(0, np.int64), np.empty(0, np.int64)), tol)[:, 0]


def masked_probabilities(q: sp.csr_matrix, r: np.ndarray, p0: np.ndarray, last: np.ndarray,
                         removed: np.ndarray, start: np.ndarray, tol: float) -> np.ndarray:
    """Shape (len(removed),): entry j = p0^T y_j, y_j = D_j (r + Q y_j), D_j = diag(last !=
    removed[j]), to a step difference <= tol. `start` (S,): the first iterate of every column."""
    n = r.size
    block = max(1, min(-(-len(removed) // THREADS), BLOCK_BYTES // (3 * 8 * max(n, 1))))
    spans = [(lo, min(lo + block, len(removed))) for lo in range(0, len(removed), block)]

    def run(span: tuple[int, int]) -> np.ndarray:
        cols = removed[span[0]: span[1]]
        zero = np.nonzero(last[:, None] == cols[None, :])
        y = np.repeat(start[:, None], cols.size, axis=1)
        y[zero] = 0.0
        return p0 @ _iterate(q, r, y, zero, tol)

    with ThreadPoolExecutor(THREADS) as pool:
        return np.concatenate(list(pool.map(run, spans))) if spans else np.empty(0)


def _iterate(q, r, y, zero, tol):
    for step in range(1, MAX_STEPS + 1):
        nxt = q @ y
        nxt += r[:, None]
        nxt[zero] = 0.0
        if step % CHECK_EVERY == 0 and np.abs(nxt - y).max() <= tol:
            return nxt
        y = nxt
    raise StepError(f"the Markov chain's absorption probabilities did not converge in {MAX_STEPS} steps "
                    f"(step difference above {tol:g}): some paths loop almost forever; use the direct solver")
