"""The one place where an invocation ends: every outcome becomes an exit code and at most one line.

Exit codes (also in the README):

- 0: done.
- 1: a martops error (bad data, a missing file, a failed error check, a setting that is not
  allowed): the line says what, where and what to do.
- 2: the command line itself is wrong (unknown option, missing or unparseable value).
- 70: an unexpected error (a bug, or a library failing in a way martops did not foresee; 70 is
  `EX_SOFTWARE` of sysexits.h). The line names the exception and the command; the traceback goes
  to a log file (`.martops/logs/` beside the project file, else in the working directory, else in
  the temp folder) whose path the line gives, or to the terminal with `-vv`.
- 130: interrupted with Ctrl-C (128 + SIGINT, as shells report it); the step in progress was
  rolled back.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Callable, Sequence

from martops import __version__, interrupts
from martops.errors import MartopsError

EXIT_ERROR, EXIT_USAGE, EXIT_UNEXPECTED, EXIT_INTERRUPTED = 1, 2, 70, 130
INTERRUPTED = "interrupted; nothing of this step was written; re-run the same command"
LOG_FOLDER = Path(".martops") / "logs"

verbosity = 0
"""Set by the root command's -v/-vv (0 when parsing failed before it ran)."""


def _err(line: str) -> None:
    """One line on stderr, `error:` in red on a terminal; the text is never read as rich markup."""
    from rich.text import Text

    from martops.cli.render import console_err

    head, sep, rest = line.partition(" ")
    text = Text(head, style="bold red") + Text(sep + rest) if head == "error:" else Text(line)
    console_err.print(text, highlight=False, soft_wrap=True)


def command_name(argv: Sequence[str]) -> str:
    """`martops attribution run`: the command words of argv, without options and their values."""
    words = ["martops"]
    for arg in argv:
        if arg.startswith("-"):
            if len(words) > 1:
                break
            continue
        words.append(arg)
        if len(words) == 3:
            break
    return " ".join(words)


def log_folders(argv: Sequence[str], cwd: Path | None = None) -> list[Path]:
    """Where a log file may go, best first: beside the project file, the working directory, temp."""
    cwd = cwd or Path.cwd()
    project = None
    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            project = Path(argv[i + 1])
        elif arg.startswith("--config="):
            project = Path(arg.split("=", 1)[1])
    folders = []
    if project is not None and project.parent.is_dir():
        folders.append(project.parent / LOG_FOLDER)
    folders += [cwd / LOG_FOLDER, Path(tempfile.gettempdir()) / "martops-logs"]
    return folders


def write_log(exc: BaseException, argv: Sequence[str]) -> Path | None:
    """The traceback, the command line and the versions in a new file; None if nowhere is writable."""
    import duckdb

    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    text = "".join([
        f"martops {__version__}, Python {platform.python_version()}, DuckDB {duckdb.__version__}, "
        f"{platform.platform()}\n",
        f"command: martops {' '.join(argv)}\n",
        f"working directory: {Path.cwd()}\n\n",
        *traceback.format_exception(exc),
    ])
    for folder in log_folders(argv):
        path = folder / f"martops-{stamp}-{os.getpid()}.log"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return None


def _denied(exc: BaseException) -> bool:
    """Whether `exc` is PostgreSQL's "permission denied" (a login's rights, not a martops bug)."""
    errors = sys.modules.get("psycopg.errors")
    return errors is not None and isinstance(exc, errors.InsufficientPrivilege)


def _lost(exc: BaseException) -> bool:
    """Whether `exc` is a PostgreSQL connection that broke mid-command (server restart, a terminated
    backend, a network cut): the server rolled back the open transaction, so it is not a martops bug."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None or not isinstance(exc, psycopg.OperationalError):
        return False
    return not isinstance(exc, getattr(sys.modules.get("psycopg.errors"), "QueryCanceled", ()))


def _warehouse() -> str:
    base = sys.modules.get("martops.engines.base")
    shown = getattr(getattr(base, "Warehouse", None), "last_opened", None)
    return f" {shown}" if shown else ""


READ_COMMANDS = {"sql", "show", "tables", "runs", "status", "quarantine", "steps", "check", "dashboard"}
"""Commands that write nothing: Ctrl-C on them has no step to roll back."""


def _where(exc: BaseException) -> str:
    """The innermost martops frame of the traceback (`attribution/ingest.py:95 in ingest`)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f"{os.sep}martops{os.sep}" in f.filename]
    if not frames:
        return ""
    f = frames[-1]
    return f" at {f.filename.rsplit(f'{os.sep}martops{os.sep}', 1)[1]}:{f.lineno} in {f.name}"


def unexpected(exc: BaseException, argv: Sequence[str]) -> int:
    """One line for an error martops did not foresee; the traceback to the log (or the terminal)."""
    message = (str(exc).strip().splitlines() or [""])[0][:300]
    what = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if verbosity >= 2:
        traceback.print_exception(exc, file=sys.stderr)
        where = "the traceback is above"
    else:
        path = write_log(exc, argv)
        where = f"full traceback in {path}" if path else "no log folder was writable; re-run with -vv for the traceback"
    _err(f"error: unexpected {what} in `{command_name(argv)}`{_where(exc)}; {where}. "
         "This is a martops bug or an unforeseen failure: please report it with the log.")
    return EXIT_UNEXPECTED


def run(invoke: Callable[[list[str]], object], argv: list[str]) -> int:
    """Call `invoke(argv)` (the click command in non-standalone mode) and turn the outcome into an
    exit code, printing at most one line on stderr for an error."""
    from typer import exceptions as typer_exc
    from typer._click import exceptions as click_exc

    interrupts.install()
    try:
        try:
            result = invoke(argv)
            code = result if isinstance(result, int) else 0
        except click_exc.NoArgsIsHelpError as exc:
            exc.show()
            code = exc.exit_code
        except click_exc.UsageError as exc:
            path = exc.ctx.command_path if exc.ctx is not None else "martops"
            _err(f"error: {exc.format_message().rstrip('.')} (see `{path} --help`)")
            code = EXIT_USAGE
        except click_exc.ClickException as exc:
            _err(f"error: {exc.format_message()}")
            code = exc.exit_code
        except typer_exc.Abort:
            code = EXIT_INTERRUPTED if interrupts.requested() else EXIT_ERROR
        except MartopsError as exc:
            if not interrupts.requested():
                _err(f"error: {exc}")
            code = EXIT_ERROR
        except SystemExit:
            raise
        except BaseException as exc:  # noqa: BLE001 - the boundary: nothing passes it as a traceback
            if isinstance(exc, KeyboardInterrupt) or interrupts.requested():
                code = EXIT_INTERRUPTED
            elif _denied(exc):
                reason = " ".join(str(exc).split("\n")[0].split())
                _err(f"error: the PostgreSQL warehouse{_warehouse()}: this login lacks a right ({reason}); ask the "
                     "warehouse's owner to GRANT it (USAGE on the schemas, SELECT to read; INSERT, UPDATE, DELETE, "
                     "CREATE to build)")
                code = EXIT_ERROR
            elif _lost(exc):
                reason = " ".join(str(exc).split())[:200]
                _err(f"error: lost the connection to the PostgreSQL warehouse{_warehouse()} ({reason}); the server "
                     "rolled back the step in progress; re-run the same command")
                code = EXIT_ERROR
            else:
                code = unexpected(exc, argv)
        if interrupts.requested() or code == EXIT_INTERRUPTED:
            words = command_name(argv).split()
            _err("interrupted" if len(words) > 1 and words[1] in READ_COMMANDS else INTERRUPTED)
            code = EXIT_INTERRUPTED
        return code
    finally:
        interrupts.uninstall()
