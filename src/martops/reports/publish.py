"""Publishing report files: all or nothing, and never over a file martops did not write.

Every file of one publication (the HTML page, its PDF) is checked first, then written to a hidden
temporary file beside its target, and only when all are written are they renamed over their
targets, so a failure at any point (a check, the browser, a full disk) leaves the last good
report where it was. A file at a target that is not a martops report is replaced only with
`force`. The files get the user's umask, not mkstemp's 0600, so a shared folder's readers can open them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from pathlib import Path

from martops.errors import ConfigError, OutputError

GENERATOR = '<meta name="generator" content="martops report">'
"""In the head of every HTML report: how a file at --out is recognised as one."""
PDF_TITLE = "Weekly marketing report"
"""The start of every report PDF's title (Chromium writes the page's <title> into the PDF's Info)."""
SUFFIXES = {"html": (".html", ".htm"), "pdf": (".pdf",)}


@dataclasses.dataclass(frozen=True)
class Target:
    path: Path
    data: bytes
    kind: str
    """html or pdf."""
    flag: str
    """How the user named the path (`--out`, `--pdf`, `report.out`), for messages."""


def _ours(path: Path, kind: str) -> bool:
    data = path.read_bytes()
    if kind == "html":
        return GENERATOR.encode() in data[:4000]
    hex_title = ("FEFF" + PDF_TITLE.encode("utf-16-be").hex()).upper().encode()
    return data.startswith(b"%PDF") and (hex_title in data.upper() or f"({PDF_TITLE}".encode() in data)


def check(target: Target, force: bool = False) -> None:
    """ConfigError when the target is a folder, has the wrong suffix, lies in a missing folder or
    is a file martops did not write (without `force`)."""
    out, flag = target.path, target.flag
    if out.is_dir():
        raise ConfigError(f"{flag} {out} is a folder; give the file's name, e.g. {out / ('report.' + target.kind)}")
    if out.suffix.lower() not in SUFFIXES[target.kind]:
        raise ConfigError(f"{flag} {out}: name the file {SUFFIXES[target.kind][0]} (it is written as "
                          f"{'an HTML page' if target.kind == 'html' else 'a PDF'})")
    if not out.parent.exists():
        raise ConfigError(f"{flag} {out}: folder {out.parent} does not exist")
    if out.exists() and not force and not _ours(out, target.kind):
        fix = "point it elsewhere or remove that file" if flag.startswith("report.") else "pass --force to overwrite it"
        raise ConfigError(f"{flag} {out} exists and is not a martops report; {fix}")


def publish(targets: list[Target], force: bool = False) -> None:
    """Write every target or none (see the module docstring)."""
    for t in targets:
        check(t, force)
    umask = os.umask(0)
    os.umask(umask)
    written: list[tuple[str, Path]] = []
    replaced: list[Path] = []
    current = targets[0].path if targets else Path()
    try:
        for t in targets:
            current = t.path
            fd, tmp = tempfile.mkstemp(prefix=f".{t.path.name}.", suffix=".tmp", dir=t.path.parent)
            written.append((tmp, t.path))
            with os.fdopen(fd, "wb") as f:
                f.write(t.data)
            os.chmod(tmp, 0o666 & ~umask)
        for tmp, out in written:
            current = out
            os.replace(tmp, out)
            replaced.append(out)
    except OSError as exc:
        said = f"only {', '.join(map(str, replaced))} was replaced" if replaced else "nothing was published"
        raise OutputError(f"cannot write {current}: {exc.strerror or exc}; {said}") from exc
    finally:
        for tmp, _ in written:
            with contextlib.suppress(OSError):
                Path(tmp).unlink(missing_ok=True)
