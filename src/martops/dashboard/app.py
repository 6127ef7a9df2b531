"""The script Streamlit runs for each visit and each widget change (`launch.serve` names this file).

Its arguments come from `martops dashboard`: `--warehouse W` and `--config C`, each optional.
"""

import sys

from martops.dashboard.page import main


def arguments(argv: list[str]) -> dict[str, str]:
    """`["--warehouse", "w.duckdb", "--config", "m.yml"]` -> {"warehouse": ..., "config": ...}."""
    pairs = dict(zip(argv[::2], argv[1::2]))
    return {key: pairs[f"--{key}"] for key in ("warehouse", "config") if f"--{key}" in pairs}


if __name__ == "__main__":  # how Streamlit runs a script
    main(**arguments(sys.argv[1:]))
