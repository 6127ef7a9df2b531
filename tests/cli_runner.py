"""Run the real `martops` entry point in-process: exit code, stdout and stderr, as a user sees them."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from martops.cli import main


@dataclasses.dataclass
class Outcome:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> Outcome:
    argv = sys.argv
    sys.argv = ["martops", *map(str, args)]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)
