"""Markov (orders 1-3) and Shapley attribution beside ChannelAttribution, in one run (`make bench-markov`).

Inputs, written once to a temporary folder and read by both tools from the same files:
- PathData.csv (ChannelAttribution's sample, 10,000 paths, 15 channels) repeated to 1M path rows;
- a synthetic profile of 500 channels x 100k path rows (Zipf-like channel popularity, 1-8 visits,
  Poisson conversions and non-converting journeys; seed 1).

Every case runs in its own process (martops: benchmarks/markov_case.py in this venv; ChannelAttribution:
benchmarks/ca_markov_case.py in .venv-bench-ca), so its peak resident memory is its own (os.wait4's
ru_maxrss). Both sides time read + model from the file (martops' reader sums identical rows; timing
the model alone would give it the 1M rows already reduced). Seconds are medians of the runs; each
ChannelAttribution run uses another seed, and the spread of its shares across seeds is shown beside
the largest difference between martops' shares and the mean of ChannelAttribution's, so "within its
simulation error" is read off the numbers. The seeds are 1000 apart on purpose: ChannelAttribution
seeds its nfold=10 simulation folds with seed, seed+1, ..., seed+9 and returns one fold, so seeds
1, 2, 3 share most streams and often return the very same fold (a spread of 0 that means nothing).

    PYTHONPATH=src python benchmarks/bench_markov.py [--path-data FILE] [--ca-python PY | --no-ca]
        [--profile-orders 1,2,3] [--skip-path-data] [--runs 3] [--large-runs 1] [--ca-seeds 1,1001,2001] [--ca-large-seeds 1,1001]
        [--ca-ncore 2] [--samples 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HEADER = "path;total_conversions;total_conversion_value;total_null"


def synthetic_rows(n_rows: int = 100_000, n_channels: int = 500, seed: int = 1) -> list[str]:
    """Path-file lines of the 500-channel profile (header first)."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_channels + 1) ** 0.8
    lengths = rng.integers(1, 9, n_rows)
    tokens = rng.choice(n_channels, size=int(lengths.sum()), p=popularity / popularity.sum())
    names = [f"channel {i:03d}" for i in range(n_channels)]
    conv = rng.poisson(0.3, n_rows)
    value = conv * rng.uniform(5, 50, n_rows)
    nulls = rng.poisson(2.0, n_rows)
    paths = np.split(tokens, np.cumsum(lengths)[:-1])
    return [HEADER] + [f"{' > '.join(names[t] for t in p)};{c};{float(v)!r};{u}"
                       for p, c, v, u in zip(paths, conv, value, nulls)]


def run_case(command: list[str], env: dict | None = None) -> tuple[dict, float]:
    """The case's JSON line and its peak resident memory in MB (os.wait4: this child's own
    ru_maxrss); a failed case stops the bench naming its command and last error line."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, problem = out.read().strip(), err.read().strip()
    if proc.returncode != 0 or not text:
        last = problem.splitlines()[-1] if problem else f"exit code {proc.returncode}, no output"
        raise SystemExit(f"bench case failed ({' '.join(command)}): {last}")
    return json.loads(text.splitlines()[-1]), usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path-data", default="../shared/datasets/markov-paths/PathData.csv")
    ap.add_argument("--ca-python", default=".venv-bench-ca/bin/python")
    ap.add_argument("--no-ca", action="store_true", help="martops only")
    ap.add_argument("--profile-orders", default="1,2,3", help="Markov orders on the 500-channel profile ('' for none)")
    ap.add_argument("--skip-path-data", action="store_true", help="leave out the PathData x100 cases")
    ap.add_argument("--runs", type=int, default=3, help="martops runs per case (median)")
    ap.add_argument("--large-runs", type=int, default=1, help="martops runs at order >= 2 on the 500-channel profile")
    ap.add_argument("--ca-seeds", default="1,1001,2001", help="ChannelAttribution runs (one per seed) on PathData")
    ap.add_argument("--ca-large-seeds", default="1,1001", help="ChannelAttribution runs on the 500-channel profile")
    ap.add_argument("--ca-ncore", type=int, default=2)
    ap.add_argument("--samples", type=int, default=2000, help="sampled Shapley orders on the 500-channel profile")
    args = ap.parse_args()
    source = Path(args.path_data)
    if not source.is_file():
        raise SystemExit(f"{source}: no such file (PathData.csv of the markov-paths dataset; pass --path-data FILE)")
    ca_python = None if args.no_ca else Path(args.ca_python)
    if ca_python is not None and not ca_python.exists():
        raise SystemExit(f"{ca_python}: no ChannelAttribution venv (run `make bench-markov`, or pass --no-ca)")
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "src"))
    me = [sys.executable, str(HERE / "markov_case.py")]

    print(f"{'case':30} {'order':>5} {'states':>7} {'martops s':>9} {'CA s':>8} {'CA/mt':>6} {'mt MB':>6} "
          f"{'CA MB':>6} {'max|dshare|':>11} {'CA spread':>9}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        lines = source.read_text(encoding="utf-8-sig").splitlines()
        big = Path(tmp) / "pathdata_1m.csv"
        big.write_text("\n".join([lines[0]] + lines[1:] * (1_000_000 // (len(lines) - 1))) + "\n", encoding="utf-8")
        profile = Path(tmp) / "profile_500.csv"
        profile.write_text("\n".join(synthetic_rows()) + "\n", encoding="utf-8")
        cases = [] if args.skip_path_data else [("PathData x100 (1M rows)", big, k, args.runs, args.ca_seeds)
                                                for k in (1, 2, 3)]
        cases += [("500 channels x 100k rows", profile, k, args.runs if k == 1 else args.large_runs,
                   args.ca_large_seeds) for k in (int(x) for x in args.profile_orders.split(",") if x)]
        for name, file, order, runs, seeds in cases:
            mine, mine_mb = run_case(me + [str(file), "markov", str(order), str(runs)], env)
            row = [name, str(order), str(mine["states"]), f"{statistics.median(mine['seconds']):9.2f}"]
            if ca_python is None:
                print(f"{name:30} {order:>5} {mine['states']:>7} {row[3]} {'-':>8} {'-':>6} {mine_mb:6.0f}", flush=True)
                continue
            ca, ca_mb = run_case([str(ca_python), str(HERE / "ca_markov_case.py"), str(file), str(order), seeds,
                                  str(args.ca_ncore)])
            ca_s, mine_s = statistics.median(ca["seconds"]), statistics.median(mine["seconds"])
            channels = sorted(mine["shares"])
            ca_shares = np.array([[s.get(c, 0.0) for c in channels] for s in ca["shares"]])
            diff = np.abs(np.array([mine["shares"][c] for c in channels]) - ca_shares.mean(axis=0)).max()
            spread = (ca_shares.max(axis=0) - ca_shares.min(axis=0)).max()
            spread_text = f"{spread:9.5f}" if len(ca["shares"]) > 1 else f"{'1 seed':>9}"
            print(f"{name:30} {order:>5} {mine['states']:>7} {mine_s:9.2f} {ca_s:8.2f} {ca_s / mine_s:6.1f} "
                  f"{mine_mb:6.0f} {ca_mb:6.0f} {diff:11.5f} {spread_text}", flush=True)
        shapley = [] if args.skip_path_data else [("Shapley PathData x100 (exact)", big, 0)]
        for name, file, samples in shapley + [("Shapley 500 ch (%d orders)" % args.samples, profile, args.samples)]:
            mine, mine_mb = run_case(me + [str(file), "shapley", str(samples), str(args.runs)], env)
            print(f"{name:30} {'-':>5} {'-':>7} {statistics.median(mine['seconds']):9.2f} {'-':>8} {'-':>6} "
                  f"{mine_mb:6.0f}", flush=True)
    print(f"martops: median of {args.runs} runs ({args.large_runs} at order >= 2 on the 500-channel profile); "
          f"ChannelAttribution: one run per seed ({args.ca_seeds} on PathData, {args.ca_large_seeds} on the profile), "
          f"ncore={args.ca_ncore}, median. Seconds are read + model. CA/mt: ChannelAttribution's time over martops'.")


if __name__ == "__main__":
    main()
