"""The campaign KPI mart as a domain of the step graph (`kpis`): load -> snapshot -> mart."""

from __future__ import annotations

from pathlib import Path

from martops.campaigns import build, quality
from martops.campaigns import tables as T
from martops.config import ProjectConfig
from martops.domain import Domain, Parameter, Step, TableSpec
from martops.campaigns import report_section

SOURCE = Parameter("source", "Folder of exports: channels.csv plus leads_funnel.csv and/or web_orders.csv.",
                   "sources.campaigns.path")

DOMAIN = Domain(
    name="kpis",
    title="Campaign KPI mart (POS Lite exports: CAC, CPL, CTR, conversion rates)",
    steps=(
        Step("kpis.load", "Load a delivery of exports into staging (bad rows to ops.quarantine); the channel "
             "dictionary resolved", build.step_load, inputs=("source:kpis", T.FX_RATES),
             outputs=(T.CHANNELS, T.LEADS, T.WEB), parameters=(SOURCE,)),
        Step("kpis.snapshot", "Reconcile the last delivery to daily facts and merge them into the SCD2 snapshot",
             build.step_snapshot, inputs=(T.CHANNELS, T.LEADS, T.WEB), outputs=(T.SNAPSHOT,)),
        Step("kpis.mart", "Rebuild the daily, weekly and monthly KPI tables from the snapshot's current versions",
             build.step_mart, inputs=(T.SNAPSHOT,), outputs=(T.DAILY, T.WEEKLY, T.MONTHLY)),
    ),
    tables=(
        TableSpec(T.CHANNELS, ("campaign_id",), "the channel dictionary, one row per campaign"),
        TableSpec(T.LEADS, ("_run_id", "_row"), "typed rows of the sales-assisted funnel export (copies kept)"),
        TableSpec(T.WEB, ("_run_id", "_row"), "typed rows of the web self-service funnel export (copies kept)"),
        TableSpec(T.SNAPSHOT, ("snapshot_key", "valid_from"), "SCD2 history of the daily facts",
                  indexes=(("funnel", "date", "country_code", "campaign_id"),)),
        TableSpec(T.DAILY, ("date", "funnel", "campaign_id", "country_code"), "KPIs per day"),
        TableSpec(T.WEEKLY, ("period_start", "funnel", "campaign_id", "country_code"), "KPIs per ISO week"),
        TableSpec(T.MONTHLY, ("period_start", "funnel", "campaign_id", "country_code"), "KPIs per month"),
    ),
    checks=quality.TABLE_CHECKS,
    staging_sources=quality.STAGING_SOURCES,
    load_step="kpis.load",
    source_setting="campaigns",
    source_path=lambda cfg: Path(cfg.sources.campaigns.path) if cfg.sources.campaigns.path else None,
    build_hint="build it first: martops kpis build --source <folder of exports>",
    report=report_section.REPORT,
)


def configured(cfg: ProjectConfig) -> bool:
    return cfg.sources.campaigns.path is not None
