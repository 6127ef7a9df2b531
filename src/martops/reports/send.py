"""Writing a built report: as files (`--out`/`--pdf`) or into a folder, named by period (the e-mail
and the record of every delivery: `martops.reports.deliver`).

Every delivery starts from a `weekly.Built`, which exists only when the report passed its health
gate (or was allowed through with a banner), so a blocked report writes and sends nothing. The
PDF and the chart images are drawn by headless Chromium (`chromium`) before anything is written
or sent, so a browser failure leaves the last good files in place and sends nothing either.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from martops.errors import ConfigError
from martops.reports import chromium, mail
from martops.reports.publish import Target, check, publish
from martops.reports.weekly import Built


def targets(built: Built, out: Path, pdf: Path | None, timeout: float, *, out_flag: str = "--out",
            pdf_flag: str = "--pdf", force: bool = False) -> list[Target]:
    """The page at `out` and, when `pdf` is given, its PDF (printed now); every target is checked
    before Chromium runs, so a wrong path is said at once."""
    wanted = [Target(Path(out), built.html.encode("utf-8"), "html", out_flag)]
    if pdf is not None:
        if Path(pdf).resolve() == Path(out).resolve():
            raise ConfigError(f"{pdf_flag} {pdf} is the HTML report's own file; give the PDF another name")
        wanted.append(Target(Path(pdf), b"", "pdf", pdf_flag))
    for t in wanted:
        check(t, force)
    if pdf is not None:
        wanted[1] = dataclasses.replace(wanted[1], data=chromium.print_pdf(built.html, timeout))
    return wanted


def write(built: Built, out: Path, pdf: Path | None, timeout: float, **kw) -> list[Target]:
    """`targets`, published all or nothing; returns what was written."""
    files = targets(built, out, pdf, timeout, **kw)
    publish(files, force=kw.get("force", False))
    return files


def check_folder(folder: Path, flag: str = "--folder") -> Path:
    """`folder` when it is an existing folder; ConfigError otherwise (a typo must not scatter reports),
    naming it as the user gave it (`flag`: --folder, or report.folder in martops.yml)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{flag} {folder}: " + ("is a file, not a folder" if folder.exists() else
                                                    "does not exist; create it first"))
    return folder


def to_folder(built: Built, folder: Path, pdf: bool, timeout: float, pdf_data: bytes | None = None) -> list[Target]:
    """The report (and its PDF) in `folder`, named by period (`weekly-report-2023-W36.html`): a
    shared drive keeps one file per week; the same week written again is replaced."""
    folder = check_folder(folder)
    stem = mail.file_stem(built)
    files = [Target(folder / f"{stem}.html", built.html.encode("utf-8"), "html", "--folder")]
    if pdf:
        files.append(Target(folder / f"{stem}.pdf", pdf_data if pdf_data is not None else b"", "pdf", "--folder"))
    for t in files:
        check(t)
    if pdf and pdf_data is None:
        files[1] = dataclasses.replace(files[1], data=chromium.print_pdf(built.html, timeout))
    publish(files)
    return files
