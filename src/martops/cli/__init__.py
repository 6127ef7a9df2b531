"""The `martops` command: thin typer wrappers over the library.

`main` is the boundary (`martops.cli.boundary`): every outcome becomes an exit code (0, 1 for a
martops error, 2 for a bad command line, 70 for an unexpected error, 130 for Ctrl-C) and at most
one line on stderr; no traceback reaches the terminal unless asked for with `-vv`.
"""

from __future__ import annotations

import sys

import typer.main

from martops.cli import boundary
from martops.cli.app import app


def main() -> None:
    command = typer.main.get_command(app)
    code = boundary.run(lambda argv: command.main(args=argv, prog_name="martops", standalone_mode=False),
                        sys.argv[1:])
    if code:
        sys.exit(code)


__all__ = ["app", "main"]
