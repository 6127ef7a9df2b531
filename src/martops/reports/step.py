"""The weekly report as a step of the graph: `report.weekly` writes martops.yml's `report.out`
(and `report.pdf`) from the marts the domains' report sections read, so it runs after the steps
that write them, and a schedule can fire it every Monday.

The registry (`martops.domains`) builds this domain from the other domains' report sections:
nothing here imports a domain. The step takes a range like attribution's steps (`martops run
--since/--until`); without one it covers the last complete ISO week of the data. A report that
fails its health gate fails the step (and the run), and leaves the last good files in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from martops.checks.catalog import Catalog
from martops.domain import Domain, Step, StepContext
from martops.ops import runlog
from martops.ops.status import Sources
from martops.reports import send, weekly
from martops.reports.blocks import ReportSection
from martops.reports.period import resolve
from martops.results import StepResult

STEP = "report.weekly"
OUTPUT = "file:report.weekly"


def domain(providers: list[ReportSection], catalog: Callable[[], Catalog], sources: Callable[[], Sources]) -> Domain:
    """The `report` domain; `catalog` and `sources` are called when the step runs (the registry's)."""
    reads = tuple(dict.fromkeys(t for p in providers for t in p.reads))

    def default_range(ctx: StepContext):
        period = resolve(None, None, None, weekly.newest(ctx.wh, providers))  # ConfigError when no data
        return period.since, period.until

    def skip_reason(ctx: StepContext) -> str | None:
        if ctx.project.report.out is None:
            return "report.out is not set in martops.yml (the file the weekly report is written to)"
        return None

    def run(ctx: StepContext) -> StepResult:
        settings = ctx.project.report
        out, pdf = Path(settings.out or ""), Path(settings.pdf) if settings.pdf else None

        def write() -> dict:
            built = weekly.build(ctx.wh, ctx.project, providers, catalog(), sources(), since=ctx.since,
                                 until=ctx.until)
            files = send.write(built, out, pdf, settings.chromium_timeout_seconds, out_flag="report.out",
                               pdf_flag="report.pdf")
            shown = [s.key for s in built.sections if not s.empty and s.key != "health"]
            return {"sections": len(shown), "file": str(out), "period": built.period.text,
                    "kib": round(sum(len(f.data) for f in files) / 1024)}
        return runlog.timed(ctx.wh, "report", "weekly", {"out": str(out), "pdf": str(pdf) if pdf else None}, write,
                            None, "sections", since=ctx.since, until=ctx.until)

    return Domain(
        name="report", title="The weekly report (martops.yml report.out, from the marts of every domain)",
        steps=(Step(STEP, "Write the weekly report (report.out, and report.pdf when set) for the range, "
                    "default the last complete ISO week; fails when an error check fails",
                    run, inputs=reads, outputs=(OUTPUT,), ranged=True, skip_reason=skip_reason),),
        default_range=default_range,
        in_project_run=lambda cfg: cfg.report.out is not None,
        build_hint="run the domains first (martops run), then martops run report",
    )
