"""The `martops` command: thin typer wrappers over the library; errors print without tracebacks."""

from __future__ import annotations

import sys

from martops.cli.app import app
from martops.errors import MartopsError


def main() -> None:
    try:
        app()
    except MartopsError as exc:
        from martops.cli.render import console_err

        console_err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


__all__ = ["app", "main"]
