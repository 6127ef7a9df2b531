"""One ChannelAttribution case of `bench_markov.py`, run in the benchmark venv (.venv-bench-ca), so
that martops is not imported here: reads the path file with pandas and times read + markov_model.

    python benchmarks/ca_markov_case.py FILE ORDER SEED[,SEED...] NCORE

Prints one JSON line: {"seconds": [per seed], "shares": [{channel: share} per seed]}.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time

import pandas as pd
from ChannelAttribution import markov_model


def main() -> None:
    path, order, seeds, ncore = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], int(sys.argv[4])
    seconds, shares = [], []
    for seed in seeds:
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints a banner and progress
            data = pd.read_csv(path, sep=";")
            result = markov_model(data, "path", "total_conversions", var_value="total_conversion_value",
                                  var_null="total_null", order=order, sep=">", seed=seed, ncore=ncore,
                                  verbose=False, flg_pro=False)
        seconds.append(time.perf_counter() - start)
        total = float(result["total_conversions"].sum())
        shares.append({str(name).strip(): float(conv) / total
                       for name, conv in zip(result["channel_name"], result["total_conversions"])})
    print(json.dumps({"seconds": seconds, "shares": shares}))


if __name__ == "__main__":
    main()
