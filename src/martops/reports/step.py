"""The weekly report as steps of the graph: `report.weekly` writes martops.yml's `report.out` (and
`report.pdf`) from the marts the domains' report sections read, so it runs after the steps that
write them, and `report.send` delivers the report of the same period to `report.to` (e-mail, the
`smtp:` server) and `report.folder`, once per (period, destination) (`martops.reports.deliver`).
A schedule fires both every Monday (the demo project's `weekly-report`).

The registry (`martops.domains`) builds this domain from the other domains' report sections:
nothing here imports a domain. The steps take a range like attribution's steps (`martops run
--since/--until`); without one they cover the last complete ISO week of the data. A report that
fails its health gate fails the step (and the run), leaves the last good files in place, and
`report.send` after it does not run. Each step checks the files and folders it writes, and the
mail settings it needs, before it builds anything: a wrong path is said in a second, not after
the report was built; a run that selects them checks all of it before its first step
(`Domain.preflight`).

`report.send` mails people, so it runs only when a selector names it (`martops run report`,
`martops run report.send`, a schedule's `select: [report]`), never in a bare `martops run` nor as
the downstream of a domain's step (`kpis.load+`): `Step.in_project_run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from martops.checks.catalog import Catalog
from martops.domain import Domain, Step, StepContext
from martops.errors import ConfigError
from martops.ops import runlog
from martops.ops.status import Sources
from martops.reports import chromium, deliver, send, weekly
from martops.reports.blocks import ReportSection
from martops.reports.period import Period, resolve
from martops.reports.publish import Target, check
from martops.reports.settings import ReportSettings
from martops.results import StepResult

STEP, SEND_STEP = "report.weekly", "report.send"
OUTPUT, SENT = "file:report.weekly", "file:report.send"
BUILT = "report.built"
"""`StepContext.state` key: (the `weekly.Built` report.weekly made, its PDF bytes or None), which
report.send delivers when its period is the same (no second build in one run)."""


def check_outputs(settings: ReportSettings) -> None:
    """`report.out` and `report.pdf` can be written (their folders exist, no foreign file is in the
    way) and Chromium is there for the PDF; ConfigError/OutputError naming the key."""
    if settings.out is not None:
        check(Target(Path(settings.out), b"", "html", "report.out"))
    if settings.pdf is not None:
        check(Target(Path(settings.pdf), b"", "pdf", "report.pdf"))
        chromium.find()


def check_delivery(settings: ReportSettings, smtp) -> None:
    """`report.folder` exists; with `report.to`, the `smtp:` block is there and its password is
    set; Chromium is there for the mail's chart images or the PDF. Errors name the key."""
    if settings.folder is not None:
        send.check_folder(Path(settings.folder), "report.folder")
    if settings.to:
        if smtp is None:
            raise ConfigError("report.to: mailing the report needs the mail server: add an smtp: block to "
                              "martops.yml (host, from, and user/password_env when it asks for a login)")
        smtp.password()  # an unset variable is said before the report is built
    if settings.to or settings.pdf is not None:
        chromium.find()


def domain(providers: list[ReportSection], catalog: Callable[[], Catalog], sources: Callable[[], Sources]) -> Domain:
    """The `report` domain; `catalog` and `sources` are called when the steps run (the registry's)."""
    reads = tuple(dict.fromkeys(t for p in providers for t in p.reads))

    def default_range(ctx: StepContext):
        period = resolve(None, None, None, weekly.newest(ctx.wh, providers))  # ConfigError when no data
        return period.since, period.until

    def skip_reason(ctx: StepContext) -> str | None:
        if ctx.project.report.out is None:
            return "report.out is not set in martops.yml (the file the weekly report is written to)"
        return None

    def skip_send(ctx: StepContext) -> str | None:
        settings = ctx.project.report
        if not settings.to and settings.folder is None:
            return ("neither report.to nor report.folder is set in martops.yml (where the weekly report is "
                    "delivered)")
        return None

    def preflight(ctx: StepContext, names: list[str]) -> None:
        """Before any step of the run writes: the files and folders the selected report steps write
        and the mail settings they need (a run asking for the report must not load for minutes and
        then find report.out's folder missing). Each step checks again when it starts."""
        if STEP in names and skip_reason(ctx) is None:
            check_outputs(ctx.project.report)
        if SEND_STEP in names and skip_send(ctx) is None:
            check_delivery(ctx.project.report, ctx.project.smtp)

    def build(ctx: StepContext) -> weekly.Built:
        return weekly.build(ctx.wh, ctx.project, providers, catalog(), sources(), since=ctx.since, until=ctx.until)

    def run(ctx: StepContext) -> StepResult:
        settings = ctx.project.report
        out, pdf = Path(settings.out or ""), Path(settings.pdf) if settings.pdf else None

        def write() -> dict:
            check_outputs(settings)
            built = build(ctx)
            files = send.write(built, out, pdf, settings.chromium_timeout_seconds, out_flag="report.out",
                               pdf_flag="report.pdf")
            ctx.state[BUILT] = (built, next((f.data for f in files if f.kind == "pdf"), None))
            shown = [s.key for s in built.sections if not s.empty and s.key != "health"]
            return {"sections": len(shown), "file": str(out), "period": built.period.text,
                    "kib": round(sum(len(f.data) for f in files) / 1024)}
        return runlog.timed(ctx.wh, "report", "weekly", {"out": str(out), "pdf": str(pdf) if pdf else None}, write,
                            None, "sections", since=ctx.since, until=ctx.until)

    def run_send(ctx: StepContext) -> StepResult:
        settings = ctx.project.report
        folder = Path(settings.folder) if settings.folder else None
        params = {"to": ", ".join(deliver.unique(settings.to)) or None, "folder": settings.folder}

        def go() -> dict:
            check_delivery(settings, ctx.project.smtp)
            period = resolve(None, ctx.since, ctx.until, None)
            todo, skipped = deliver.pending(ctx.wh, period, settings.to)
            if not todo and folder is None:  # every recipient has it: nothing to build
                return {"mailed": 0, "already": len(skipped), "period": period.text, "deliveries": 0}
            built, pdf = _built(ctx, period, build)
            timeout = settings.chromium_timeout_seconds
            if settings.pdf is not None and pdf is None:
                pdf = chromium.print_pdf(built.html, timeout)
            run_id, via = runlog.current_run_id(), SEND_STEP
            done = []
            if folder is not None:
                done += deliver.to_folder(ctx.wh, built, folder, pdf is not None, timeout, pdf, run_id=run_id, via=via)
            done += deliver.by_mail(ctx.wh, built, ctx.project.smtp, todo, pdf, timeout, run_id=run_id, via=via)
            mailed = [d for d in done if d.kind == "mail"]
            return {"mailed": len(mailed), "already": len(skipped), "files": len(done) - len(mailed),
                    "period": built.period.text, "deliveries": len(done),
                    **({"sent_again": len([d for d in mailed if d.note])} if any(d.note for d in mailed) else {})}
        return runlog.timed(ctx.wh, "report", "send", params, go, None, "deliveries", since=ctx.since, until=ctx.until)

    return Domain(
        name="report", title="The weekly report (martops.yml report.out, from the marts of every domain) and its "
                             "delivery (report.to, report.folder)",
        steps=(Step(STEP, "Write the weekly report (report.out, and report.pdf when set) for the range, "
                    "default the last complete ISO week; fails when an error check fails",
                    run, inputs=reads, outputs=(OUTPUT,), ranged=True, skip_reason=skip_reason),
               Step(SEND_STEP, "Deliver the range's weekly report to report.to (e-mail, once per recipient and "
                    "period: ops.report_deliveries) and report.folder; not in a bare `martops run`",
                    run_send, inputs=(*reads, OUTPUT), outputs=(SENT,), ranged=True, skip_reason=skip_send,
                    in_project_run=False)),
        default_range=default_range,
        preflight=preflight,
        in_project_run=lambda cfg: cfg.report.out is not None,
        build_hint="run the domains first (martops run), then martops run report",
    )


def _built(ctx: StepContext, period: Period, build: Callable[[StepContext], weekly.Built]):
    """(the report of `period`, its PDF or None): report.weekly's of this run when it made one for
    the same days, else built now (report.send run on its own, or report.out unset)."""
    made = ctx.state.get(BUILT)
    if made is not None and (made[0].period.since, made[0].period.until) == (period.since, period.until):
        return made
    return build(ctx), None
