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


class _StringCapture:
    """capsys's `readouterr()` for places a pytest fixture cannot reach (a module-scoped fixture)."""

    def __init__(self) -> None:
        import io

        self.out, self.err = io.StringIO(), io.StringIO()

    def readouterr(self) -> Outcome:
        out, err = self.out.getvalue(), self.err.getvalue()
        self.out.seek(0), self.out.truncate(), self.err.seek(0), self.err.truncate()
        return Outcome(0, out, err)


def run_cli_unfixtured(*args: str) -> Outcome:
    import contextlib

    cap = _StringCapture()
    with contextlib.redirect_stdout(cap.out), contextlib.redirect_stderr(cap.err):
        return run_cli(cap, *args)  # type: ignore[arg-type]
