"""`martops ingest ...`: API pipelines (dlt). `ingest fx` is the step fx.load with its own flags."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from martops.cli.common import CONFIG, WAREHOUSE
from martops.cli.platform import run_cli
from martops.cli.render import console

ingest_app = typer.Typer(
    help="API pipelines on dlt: FX rates from Frankfurter (ECB reference rates) into staging.fx_rates.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@ingest_app.command()
def fx(
    since: Optional[str] = typer.Option(None, "--since", help="First rate date (YYYY-MM-DD), inclusive; default: "
                                        "ingest.fx.lookback_days before the day after the last loaded date (or "
                                        "ingest.fx.start when nothing is loaded)."),
    until: Optional[str] = typer.Option(None, "--until", help="Last rate date (YYYY-MM-DD), inclusive; default: today."),
    base: Optional[str] = typer.Option(None, "--base", help="Currency the rates are quoted against (default: "
                                       "ingest.fx.base, EUR)."),
    symbols: Optional[str] = typer.Option(None, "--symbols", help="Comma-separated currencies, e.g. GBP,USD "
                                          "(default: ingest.fx.symbols)."),
    url: Optional[str] = typer.Option(None, "--url", help="Base URL of a server speaking Frankfurter's v1 contract "
                                      "(default: ingest.fx.url, https://api.frankfurter.dev/v1)."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Fetch FX rates and replace their days in staging.fx_rates, checked and reconciled.

    Without --since, a run starts ingest.fx.lookback_days before the day after the last loaded
    one (or at ingest.fx.start when nothing is loaded yet) and ends today. Re-running a range
    replaces it with the same rows. Retries 5xx and timeouts with backoff; a 4xx fails at once
    with the API's message. The run is logged in ops.runs, the checks in ops.check_results.

    Example:

      martops ingest fx --since 2024-01-01 --symbols GBP,USD

      martops ingest fx                    # the new days since the last run, plus the look-back

      martops ingest fx --url http://127.0.0.1:8080/v1 --since 2024-01-01 --until 2024-03-31
    """
    def after(report, wh) -> None:
        for o in report.outcomes:
            if o.result is None:
                continue
            d = o.result.details
            console.print(escape(
                f"fx.load: {d.get('days', 0):,} business days, {o.result.rows_out:,} rows into staging.fx_rates "
                f"({d.get('deleted', 0):,} replaced) for {d.get('replaced')}; {d.get('requests', 0)} request(s), "
                f"{d.get('retries', 0)} retried" + (f"; checks {d['checks']}" if "checks" in d else "")
                + (f"; {d['note']}" if "note" in d else "")), highlight=False)
            if "reconciliation" in d:
                console.print(escape(f"reconciliation: {d['reconciliation']}"), highlight=False)

    run_cli(["fx.load"], strict=True, config=config, warehouse=warehouse, since=since, until=until,
            params={"base": base, "symbols": symbols, "url": url}, title="ingest fx", after=after)
