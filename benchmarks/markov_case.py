"""One martops case of `bench_markov.py`, run as its own process so that its peak memory is its own:
times read_path_file + the model, `runs` times.

    PYTHONPATH=src python benchmarks/markov_case.py FILE markov ORDER RUNS
    PYTHONPATH=src python benchmarks/markov_case.py FILE shapley SAMPLES RUNS

Prints one JSON line: {"seconds": [per run], "states": transient states or null, "exact": bool,
"shares": {channel: share of attributed conversions}}.
"""

from __future__ import annotations

import json
import sys
import time

from martops.attribution.markov import markov_attribution
from martops.attribution.path_file import read_path_file
from martops.attribution.shapley import shapley_attribution


def main() -> None:
    path, model, arg, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        paths = read_path_file(path)
        if model == "markov":
            result = markov_attribution(paths, arg)
            states, exact = result.states, True
        else:
            result = shapley_attribution(paths.channels, paths.conversions, paths.value, paths.nulls,
                                         game="conversion_rate", samples=arg, seed=0)
            states, exact = None, result.exact
        seconds.append(time.perf_counter() - start)
    total = float(result.conversions.sum())
    shares = {c: float(v) / total for c, v in zip(result.channels, result.conversions)}
    print(json.dumps({"seconds": seconds, "states": states, "exact": exact, "shares": shares}))


if __name__ == "__main__":
    main()
