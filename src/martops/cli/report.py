"""`martops report`: the weekly report for people who read, not query."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from martops import domains
from martops.cli.common import CONFIG, WAREHOUSE, open_warehouse, parse_range
from martops.cli.render import console, console_err

report_app = typer.Typer(help="Reports people read: the weekly HTML report.\n\nExample:\n\n"
                              "  martops report weekly --week 2023-W36 --out report.html",
                         no_args_is_help=True)


@report_app.command("weekly")
def weekly(
    week: Optional[str] = typer.Option(None, "--week", help="ISO week, e.g. 2023-W36 (Monday to Sunday)."),
    since: Optional[str] = typer.Option(None, "--since", help="First day (YYYY-MM-DD), with --until, instead of --week."),
    until: Optional[str] = typer.Option(None, "--until", help="Last day (YYYY-MM-DD), inclusive."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o",
                             help="The HTML file to write (replaced only when the new report is built and passes)."),
    allow_stale: bool = typer.Option(False, "--allow-stale",
                                     help="Publish even when error checks fail or sources are stale, with a banner "
                                          "naming each failure."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out even when it is not a martops report."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Build the weekly report: one self-contained HTML file (charts and styles inline, no network
    request when opened) with a section per domain that has data, week-over-week changes and a
    data-health section. With no period it covers the last complete ISO week of the warehouse's
    data.

    Exits 1 without touching --out when an error-severity check fails (stale sources included),
    unless --allow-stale.

    Example:

      martops report weekly --week 2023-W36 --out report.html

      martops report weekly --since 2023-09-01 --until 2023-09-07 --out demo-report.html
    """
    from martops.reports import weekly as W

    s, u = parse_range(since, until)
    cfg, wh = open_warehouse(config, warehouse, read_only=True)
    with wh:
        built = W.build(wh, cfg, domains.report_sections(), domains.catalog(), domains.status_sources(),
                        week=week, since=s, until=u, allow_stale=allow_stale)
    size = W.publish(built.html, out, force=force)
    shown = [s.title for s in built.sections if not s.empty and s.key != "health"]
    empty = [s.title for s in built.sections if s.empty]
    console.print(f"{out}: weekly report for {built.period.text}, {size / 1024:,.0f} KiB; sections: "
                  f"{', '.join(shown) or 'none'}" + (f"; no data in the period: {', '.join(empty)}" if empty else ""),
                  highlight=False, soft_wrap=True)
    if built.banner:
        console_err.print(f"warning: published with {len(built.banner)} failed check(s) (--allow-stale): "
                          + "; ".join(built.banner[:3]), highlight=False, soft_wrap=True)
