"""Exact Markov attribution timings (median of 3): PathData.csv replicated to 1M rows (read + sum of
identical paths + model), and a synthetic 500-channel x 100k-row profile (model only).

    PYTHONPATH=src python benchmarks/bench_markov.py [PATH_DATA.csv [ORDERS for the 500-channel profile, e.g. 1,2]]

Known limit: order >= 2 on the 500-channel profile (~98k states, random transitions) does not
finish in minutes: the sparse LU fills in (see the report); run it with orders 1 only.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from martops.attribution.markov import Paths, markov_attribution
from martops.attribution.path_file import read_path_file


def median_seconds(fn, runs: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def synthetic(n_rows: int = 100_000, n_channels: int = 500, seed: int = 1) -> Paths:
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_channels + 1) ** 0.8
    lengths = rng.integers(1, 9, n_rows)
    tokens = rng.choice(n_channels, size=int(lengths.sum()), p=popularity / popularity.sum())
    names = [f"channel {i:03d}" for i in range(n_channels)]
    cuts = np.cumsum(lengths)[:-1]
    channels = [[names[t] for t in part] for part in np.split(tokens, cuts)]
    conv = rng.poisson(0.3, n_rows).astype(float)
    return Paths(channels, conv, conv * rng.uniform(5, 50, n_rows), rng.poisson(2.0, n_rows).astype(float))


def show(rows: list) -> None:
    for case, order, states, s in rows:
        print(f"{case:48} {order!s:>5} {states!s:>8} {s:8.3f}", flush=True)
    rows.clear()


def main() -> None:
    orders = [int(k) for k in sys.argv[2].split(",")] if len(sys.argv) > 2 else [1]
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/markov-paths/PathData.csv")
    rows = []
    print(f"{'case':48} {'order':>5} {'states':>8} {'seconds':>8}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        lines = source.read_text(encoding="utf-8-sig").splitlines()
        big = Path(tmp) / "paths_1m.csv"
        body = lines[1:]
        big.write_text("\n".join([lines[0]] + body * (1_000_000 // len(body))) + "\n", encoding="utf-8")
        read_s, paths = median_seconds(lambda: read_path_file(big))
        rows.append(("PathData x100 read (1M rows -> %d paths)" % len(paths.channels), "-", "-", read_s))
        for order in (1, 2, 3):
            s, r = median_seconds(lambda: markov_attribution(paths, order))
            rows.append(("PathData 1M rows, model", order, r.states, s))
            rows.append(("PathData 1M rows, read + model", order, r.states, s + read_s))
            show(rows)
    profile = synthetic()
    for order in orders:
        s, r = median_seconds(lambda: markov_attribution(profile, order))
        rows.append(("500 channels x 100k rows, model", order, r.states, s))
        show(rows)


if __name__ == "__main__":
    main()
