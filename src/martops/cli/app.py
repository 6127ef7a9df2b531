"""The root `martops` command and its sub-command groups."""

from __future__ import annotations

import logging

import typer

from martops import __version__
from martops.cli import boundary, ops as ops_cli, platform, warehouse as warehouse_cli
from martops.cli.dashboard import dashboard
from martops.cli.attribution import attribution_app
from martops.cli.crm import crm_app
from martops.cli.ingest import ingest_app
from martops.cli.kpis import kpis_app
from martops.cli.leads import leads_app
from martops.cli.loyalty import loyalty_app
from martops.cli.report import report_app
from martops.cli.usage import usage_app
from martops.cli.schedule import schedule_app
from martops.cli.workflows import workflows_app
from martops.cli.render import WarningSummary

app = typer.Typer(
    name="martops",
    help=(
        "martops: marketing-operations data platform.\n\n"
        "Ingest, test, attribute and report marketing data on a DuckDB file (default).\n\n"
        "Example:\n\n"
        "  martops steps                     # the step graph of every domain\n\n"
        "  martops run                       # every domain martops.yml declares a source for\n\n"
        "  martops attribution generate --out challenge.db --conversions 2000 --seed 7\n\n"
        "  martops attribution run --db challenge.db --since 2023-09-01 --until 2023-09-07 --model ihc\n\n"
        "  martops kpis build --source exports/ && martops kpis show --by channel_3\n\n"
        "  martops crm build --source crm-extract/ --warehouse crm-warehouse.duckdb\n\n"
        "  martops ingest fx --since 2024-01-01 --symbols GBP,USD\n\n"
        "  martops dashboard                 # the report's sections in the browser, filterable"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
app.add_typer(attribution_app, name="attribution")
app.add_typer(kpis_app, name="kpis")
app.add_typer(crm_app, name="crm")
app.add_typer(loyalty_app, name="loyalty")
app.add_typer(usage_app, name="usage")
app.add_typer(ingest_app, name="ingest")
app.add_typer(leads_app, name="leads")
app.add_typer(schedule_app, name="schedule")
app.add_typer(report_app, name="report")
app.add_typer(workflows_app, name="workflows")
app.command()(dashboard)
app.command()(platform.steps)
app.command()(platform.run)
for _command in (ops_cli.check, ops_cli.runs, ops_cli.status, ops_cli.quarantine):
    app.command()(_command)
for _command in (warehouse_cli.tables, warehouse_cli.sql, warehouse_cli.show):
    app.command()(_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"martops {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    verbose: int = typer.Option(0, "--verbose", "-v", count=True,
                                help="-v for INFO logs, -vv for DEBUG (SQL) and tracebacks of unexpected errors on the terminal."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """martops: marketing-operations data platform."""
    boundary.verbosity = verbose
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root_logger = logging.getLogger()
    for handler in [h for h in root_logger.handlers if isinstance(h, WarningSummary)]:
        root_logger.removeHandler(handler)  # from an earlier invocation in the same process (tests)
    WarningSummary.data_on_stdout = False
    if verbose == 0:  # warnings become lines after the command's output, not log lines
        summary = WarningSummary()
        root_logger.addHandler(summary)
        root_logger.setLevel(logging.WARNING)
        logging.captureWarnings(True)
        ctx.call_on_close(summary.print_summary)
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
