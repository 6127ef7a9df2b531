"""Product usage (seed 000, part 1) as a domain of the step graph (`usage`): load -> marts."""

from __future__ import annotations

from pathlib import Path

from martops.domain import Domain, Parameter, Step, TableSpec
from martops.usage import build, quality
from martops.usage import tables as T
from martops.usage import report_section

SOURCE = Parameter("source", "A SQLite file or a folder of CSV files holding a people table and an events table.",
                   "sources.usage.path")
AS_OF = Parameter("as_of", "Date (YYYY-MM-DD) the usage marts are as of.", "usage.as_of, else the last event's day")

DOMAIN = Domain(
    name="usage",
    title="Product usage (people and their events: interactions, tiers, companies, retention)",
    steps=(
        Step("usage.load", "Load a usage delivery (people, events) into staging; bad rows to ops.quarantine, copies "
             "of an event dropped and counted", build.step_load, inputs=("source:usage",),
             outputs=(T.STAGING_PEOPLE, T.STAGING_EVENTS), parameters=(SOURCE,)),
        Step("usage.marts", "Interactions per customer and company, trend, usage tiers and cohort retention as of a "
             "date", build.step_marts, inputs=(T.STAGING_PEOPLE, T.STAGING_EVENTS), outputs=T.MARTS,
             parameters=(AS_OF,)),
    ),
    tables=(
        TableSpec(T.STAGING_PEOPLE, ("user_id",), "typed people that loaded"),
        TableSpec(T.STAGING_EVENTS, ("_row",), "typed events that loaded, copies dropped",
                  indexes=(("user_id", "event_date"), ("activity_month",))),
        TableSpec(T.CUSTOMERS, ("customer_id",), "usage per customer as of a date", indexes=(("tier",), ("company",))),
        TableSpec(T.COMPANIES, ("company",), "usage per company as of a date", indexes=(("tier",),)),
        TableSpec(T.EVENT_TYPES, ("entity", "entity_id", "event_type"), "interactions by event type"),
        TableSpec(T.TIERS, ("entity", "tier"), "usage tiers: members, measure range, rule"),
        TableSpec(T.RETENTION, ("cohort", "months_since_signup"), "cohort retention by signup month"),
    ),
    checks=quality.TABLE_CHECKS,
    staging_sources=quality.STAGING_SOURCES,
    load_step="usage.load",
    source_setting="usage",
    source_path=lambda cfg: Path(cfg.sources.usage.path) if cfg.sources.usage.path else None,
    build_hint="build it first: martops usage build --source <data.db or folder with people and events>",
    report=report_section.REPORT,
)
