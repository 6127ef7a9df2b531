"""The FX-rate pipeline as a domain of the step graph (`fx`): one step, fx.load, whose output
staging.fx_rates the campaign mart's load reads (so `+kpis.load` runs it first)."""

from __future__ import annotations

from martops.domain import Domain, Parameter, Step, TableSpec
from martops.ingest import fx, quality
from martops.ingest import tables as T

BASE = Parameter("base", "The currency the rates are quoted against (ISO 4217).", "ingest.fx.base, EUR")
SYMBOLS = Parameter("symbols", "Comma-separated currencies to load, e.g. GBP,USD.", "ingest.fx.symbols")
URL = Parameter("url", "Base URL of a server speaking Frankfurter's v1 contract.",
                "ingest.fx.url, https://api.frankfurter.dev/v1")

DOMAIN = Domain(
    name="fx",
    title="FX rates (Frankfurter v1 via dlt: ECB reference rates per business day)",
    steps=(
        Step("fx.load", "Fetch FX rates (Frankfurter v1) for the days after the last loaded one plus a look-back, "
             "check and reconcile them, replace that range of staging.fx_rates", fx.step_load,
             inputs=("source:fx",), outputs=(T.FX_RATES, T.FX_RECONCILIATION), parameters=(BASE, SYMBOLS, URL),
             ranged=True, skip_reason=fx.skip_reason),
    ),
    tables=(
        TableSpec(T.FX_RATES, ("date", "base", "currency"), "rate units of currency per unit of base, per business day",
                  indexes=(("currency", "date"),)),
        TableSpec(T.FX_RECONCILIATION, ("run_id",), "a cross rate from stored rates against the API's quote, per run"),
    ),
    checks=quality.TABLE_CHECKS,
    staging_sources=quality.STAGING_SOURCES,
    load_step="fx.load",
    default_range=fx.default_range,
    preflight=fx.preflight,
    in_project_run=lambda cfg: cfg.ingest.fx.in_project_run,
    build_hint="build it first: martops ingest fx --since YYYY-MM-DD",
)
