"""Reading a small text file a person named (a project file, a DDL file) with one-line errors.

Each failure (missing, a directory, unreadable, not UTF-8) says what was named and what to do, so
every caller gives the same kind of message without repeating the same four handlers.
"""

from __future__ import annotations

from pathlib import Path


def read_text(path: Path, label: str, error: type[Exception], *, missing: str, directory: str) -> str:
    """The file's UTF-8 text; `error("<label> <path> ...")` otherwise. `missing` and `directory`
    finish the message for those two cases (what to give instead)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{label} {path} does not exist; {missing}") from None
    except IsADirectoryError:
        raise error(f"{label} {path} is a directory; {directory}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{label} {path} is not UTF-8 text (byte {exc.start}); is it the right file?") from None
    except OSError as exc:
        raise error(f"{label} {path} cannot be read: {exc.strerror or exc}") from None
