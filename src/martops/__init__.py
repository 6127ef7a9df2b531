"""martops: marketing-operations data platform (ingest, test, attribute, report) on DuckDB, through Ibis."""

import os
import sys

__version__ = "0.1.0"

# The Pythons the lock is checked on; pyproject's requires-python and the Makefile's SUPPORTED_PYTHONS
# say the same (tests/test_python_versions.py keeps the three in step).
SUPPORTED_PYTHONS = ((3, 11), (3, 12), (3, 13))


def _refuse_unsupported_python() -> None:
    """Stop at import on a Python the pins are not checked on, naming the versions that work.

    pip already refuses to install martops there (requires-python); this catches a source tree on
    PYTHONPATH or an install forced past pip. Run as the `martops` command (or `python -m martops`)
    it exits 1 with one line on stderr, no traceback; imported as a library it raises ImportError.
    """
    found = sys.version_info[:2]
    if found in SUPPORTED_PYTHONS:
        return
    *first, last = (f"{major}.{minor}" for major, minor in SUPPORTED_PYTHONS)
    versions = f"{', '.join(first)} or {last}"
    message = (f"martops needs Python {versions}; this is Python {found[0]}.{found[1]} ({sys.executable}). "
               "Make its environment with a supported one, e.g. `make setup PYTHON=python3.12`.")
    command = os.path.basename(sys.argv[0]) if sys.argv else ""
    launched = getattr(sys, "orig_argv", [])
    as_module = any(launched[i] == "-m" and launched[i + 1].split(".")[0] == "martops"
                    for i in range(len(launched) - 1))
    if command == "martops" or as_module:
        raise SystemExit(message)
    raise ImportError(message)


_refuse_unsupported_python()
