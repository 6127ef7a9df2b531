"""`martops report`: the weekly report for people who read, not query: as files, in a folder, by e-mail."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from martops import domains
from martops.cli.common import CONFIG, WAREHOUSE, connect_warehouse, open_warehouse, parse_range
from martops.cli.render import console, console_err
from martops.config import load_config
from martops.errors import ConfigError

report_app = typer.Typer(help="Reports people read: the weekly HTML report, its PDF, its delivery by e-mail or to a "
                              "folder.\n\nExample:\n\n"
                              "  martops report weekly --week 2023-W36 --out report.html --pdf report.pdf\n\n"
                              "  martops report send --week 2023-W36 --to marketing@example.com",
                         no_args_is_help=True)

WEEK = typer.Option(None, "--week", help="ISO week, e.g. 2023-W36 (Monday to Sunday).")
SINCE = typer.Option(None, "--since", help="First day (YYYY-MM-DD), with --until, instead of --week.")
UNTIL = typer.Option(None, "--until", help="Last day (YYYY-MM-DD), inclusive.")
ALLOW_STALE = typer.Option(False, "--allow-stale", help="Publish even when error checks fail or sources are stale, "
                                                        "with a banner naming each failure.")


def _build(cfg, wh, week, since, until, allow_stale):
    from martops.reports import weekly as W

    s, u = parse_range(since, until)
    return W.build(wh, cfg, domains.report_sections(), domains.catalog(), domains.status_sources(),
                   week=week, since=s, until=u, allow_stale=allow_stale)


def _said(built) -> str:
    shown = [s.title for s in built.sections if not s.empty and s.key != "health"]
    empty = [s.title for s in built.sections if s.empty]
    return (f"sections: {', '.join(shown) or 'none'}"
            + (f"; no data in the period: {', '.join(empty)}" if empty else ""))


def _banner(built) -> None:
    if built.banner:
        console_err.print(f"warning: published with {len(built.banner)} failed check(s) (--allow-stale): "
                          + "; ".join(built.banner[:3]), highlight=False, soft_wrap=True)


def _kib(n: int) -> str:
    return f"{n / 1024:,.0f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MiB"


@report_app.command("weekly")
def weekly(
    week: Optional[str] = WEEK, since: Optional[str] = SINCE, until: Optional[str] = UNTIL,
    out: Path = typer.Option(Path("report.html"), "--out", "-o",
                             help="The HTML file to write (replaced only when the new report is built and passes)."),
    pdf: Optional[Path] = typer.Option(None, "--pdf", help="Also print the report to this PDF (headless Chromium; "
                                       "A4, each section from a new page); written together with --out or not at all."),
    allow_stale: bool = ALLOW_STALE,
    force: bool = typer.Option(False, "--force", help="Overwrite --out / --pdf even when they are not martops reports."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Build the weekly report: one self-contained HTML file (charts and styles inline, no network
    request when opened) with a section per domain that has data, week-over-week changes and a
    data-health section. With no period it covers the last complete ISO week of the warehouse's
    data. --pdf prints it too (Debian's chromium must be installed).

    Exits 1 without touching --out or --pdf when an error-severity check fails (stale sources
    included), unless --allow-stale.

    Example:

      martops report weekly --week 2023-W36 --out report.html

      martops report weekly --since 2023-09-01 --until 2023-09-07 --out demo-report.html --pdf demo-report.pdf
    """
    from martops.reports import chromium, send

    cfg, wh = open_warehouse(config, warehouse, read_only=True)
    if pdf is not None:
        chromium.find()  # said before the report is built
    with wh:
        built = _build(cfg, wh, week, since, until, allow_stale)
    files = send.write(built, out, pdf, cfg.report.chromium_timeout_seconds, force=force)
    written = ", ".join(f"{f.path} ({_kib(len(f.data))}" + (f", {chromium.pages(f.data)} pages)" if f.kind == "pdf" else ")")
                        for f in files)
    console.print(f"weekly report for {built.period.text}: {written}; {_said(built)}", highlight=False, soft_wrap=True)
    _banner(built)


@report_app.command("send")
def send_report(
    week: Optional[str] = WEEK, since: Optional[str] = SINCE, until: Optional[str] = UNTIL,
    to: Optional[list[str]] = typer.Option(None, "--to", help="A recipient's address; repeatable. Default: "
                                           "martops.yml report.to (when neither --to nor --folder is given)."),
    folder: Optional[Path] = typer.Option(None, "--folder", help="Write the report into this existing folder (a "
                                          "shared drive), named by period, instead of (or, with --to, besides) mailing it."),
    pdf: bool = typer.Option(False, "--pdf", help="Attach (and write to --folder) a PDF of the report too."),
    resend: bool = typer.Option(False, "--resend", "--force", help="Mail recipients who already received the "
                                "report for this period again (as a new message, with a new message id)."),
    allow_stale: bool = ALLOW_STALE,
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Build the weekly report and deliver it: by e-mail through martops.yml's smtp: server (the
    password from the environment variable smtp.password_env names), and/or into a folder.

    Each recipient gets a message of their own. The mail's body holds each section's figures as
    simple tables and each chart as an image (no script: it survives mail clients), with a
    plain-text alternative; the full self-contained report is attached (and its PDF with --pdf).
    The report is always built from the warehouse when sent, so the checks and the mail agree.
    With no --to and no --folder, martops.yml's report.to and report.folder are used.

    Every delivery is recorded in the warehouse (ops.report_deliveries, as the step report.send
    does): a recipient who already received the report for the period is not mailed again (said,
    exit 0) unless --resend. A folder's file, named by period, is written again every time.

    Nothing is sent or written when an error-severity check fails (exit 1), unless --allow-stale
    (then the mail and the report carry a banner naming each failure). A server that refuses says
    whether it is temporary (try again later) or permanent.

    Example:

      martops report send --week 2023-W36 --to marketing@example.com --to cmo@example.com --pdf

      martops report send --since 2023-09-01 --until 2023-09-07 --folder /mnt/share/reports

      martops report send --week 2023-W36 --to cmo@example.com --resend
    """
    from martops.ops import runlog
    from martops.reports import chromium, deliver, send
    from martops.reports import weekly as W
    from martops.reports.period import resolve

    cfg = load_config(config)
    recipients, where = _destinations(cfg, to, folder)
    settings = None
    if recipients:
        if cfg.smtp is None:
            raise ConfigError("mailing needs the mail server: add an smtp: block to martops.yml (host, from, and "
                              "user/password_env when it asks for a login), or deliver with --folder DIR")
        settings = cfg.smtp
        settings.password()  # an unset variable is said before any work
    if where is not None:
        send.check_folder(where, "--folder" if folder is not None else "report.folder (martops.yml)")
    if recipients or pdf:
        chromium.find()
    s, u = parse_range(since, until)
    # read-write: the deliveries are recorded (this waits while a pipeline holds the warehouse's write lock)
    with connect_warehouse(cfg, warehouse) as wh, runlog.invocation() as run_id:
        period = resolve(week, s, u, None if week or s or u else W.newest(wh, domains.report_sections()))
        todo, skipped = deliver.pending(wh, period, recipients, resend=resend)
        for d in skipped:
            console.print(f"{d.destination} {d.note}; not mailed again (--resend sends it again)",
                          highlight=False, soft_wrap=True)
        if not todo and where is None:
            console.print(f"nothing to send for {period.text}: every recipient already received it",
                          highlight=False, soft_wrap=True)
            return
        built = W.build(wh, cfg, domains.report_sections(), domains.catalog(), domains.status_sources(),
                        since=period.since, until=period.until, allow_stale=allow_stale)
        timeout = cfg.report.chromium_timeout_seconds
        pdf_data = chromium.print_pdf(built.html, timeout) if pdf else None
        via = "martops report send"
        if where is not None:
            files = deliver.to_folder(wh, built, where, pdf, timeout, pdf_data, run_id=run_id, via=via)
            console.print(f"weekly report for {built.period.text} written to "
                          + ", ".join(f"{f.destination} ({_kib(f.size)})" for f in files), highlight=False,
                          soft_wrap=True)
        try:
            sent = deliver.by_mail(wh, built, settings, todo, pdf_data, timeout, run_id=run_id, via=via)
        except deliver.NotDelivered as exc:
            _mailed(built, exc.delivered, settings)
            raise
        _mailed(built, sent, settings)
    _banner(built)


def _mailed(built, sent, settings) -> None:
    for d in sent:
        console.print(f"mailed the weekly report for {built.period.text} to {d.destination} via {settings.server}: "
                      f"{_kib(d.size)}, message id {d.message_id}" + (f" ({d.note})" if d.note else ""),
                      highlight=False, soft_wrap=True)


def _destinations(cfg, to: Optional[list[str]], folder: Optional[Path]) -> tuple[list[str], Optional[Path]]:
    """(recipients, folder): the flags when any is given, else martops.yml's report.to / report.folder.
    A mailbox named twice (`--to a@x.com --to A@x.com`) gets the mail once."""
    from martops.delivery.smtp import address
    from martops.reports.deliver import unique

    if to or folder is not None:
        recipients = []
        for value in to or []:
            try:
                recipients.append(address(value))
            except ValueError as exc:
                raise ConfigError(f"--to: {exc}") from None
        return unique(recipients), folder
    settings = cfg.report
    if not settings.to and settings.folder is None:
        raise ConfigError("nothing to deliver to: give --to ADDRESS (repeatable) or --folder DIR, or set report.to / "
                          "report.folder in martops.yml")
    return unique(settings.to), Path(settings.folder) if settings.folder else None
