"""The CRM foundation as a domain of the step graph (`crm`): load -> dedupe -> golden -> marts."""

from __future__ import annotations

from pathlib import Path

from martops.crm import build, customer_dedupe, quality
from martops.crm import tables as T
from martops.crm.marts import TABLES as MARTS
from martops.domain import Domain, Parameter, Step, TableSpec
from martops.crm import report_section

SOURCE = Parameter("source", "Folder of the CRM extract: customers.csv plus any of transactions, products, "
                   "interactions, sales_team, countries (.csv).", "sources.crm.path")
GOLDEN = customer_dedupe.GOLDEN
IDS = {"customers": "customer_id", "products": "product_id", "sales_team": "sales_rep_id", "countries": "country",
       "transactions": "transaction_id", "interactions": "interaction_id"}

DOMAIN = Domain(
    name="crm",
    title="CRM foundation (customers, transactions, products, interactions, sales team; Splink dedup)",
    steps=(
        Step("crm.load", "Load a CRM extract: staging (every copy, raw + standardised) and crm.* (one row per id)",
             build.step_load, inputs=("source:crm",), outputs=(*T.STAGING.values(), *T.CLEAN.values()),
             parameters=(SOURCE,)),
        Step("crm.dedupe", "Link customer ids that are one person (Splink): pairs and clusters",
             build.step_dedupe, inputs=(T.CUSTOMERS,), outputs=(T.MATCHES, T.CLUSTERS)),
        Step("crm.golden", "One golden customer per cluster, each value with the rule that chose it",
             build.step_golden, inputs=(T.CUSTOMERS, T.CLUSTERS), outputs=(GOLDEN.golden, GOLDEN.mapping, GOLDEN.values)),
        Step("crm.marts", "Customer value (RFM), product sales, support and sales attainment marts",
             build.step_marts, inputs=(*T.CLEAN.values(), GOLDEN.mapping), outputs=tuple(MARTS.values())),
    ),
    tables=(
        *(TableSpec(T.STAGING[r], ("_row",), f"every loaded row of the {r} file, raw and standardised") for r in T.ROLES),
        *(TableSpec(T.CLEAN[r], (IDS[r],), f"one {r} row per id (the survivor)") for r in T.ROLES),
        TableSpec(T.MATCHES, ("customer_id_l", "customer_id_r"), "pairs of customer ids scored at or above the threshold"),
        TableSpec(T.CLUSTERS, ("customer_id",), "every customer id -> its cluster"),
        TableSpec(GOLDEN.golden, ("golden_id",), "one golden customer per cluster"),
        TableSpec(GOLDEN.mapping, ("source_id",), "every customer id -> its golden id"),
        TableSpec(GOLDEN.values, ("golden_id", "column"), "the rule and source of every golden value"),
        TableSpec(MARTS["customers"], ("golden_id",), "RFM, spend tier and decile per golden customer"),
        TableSpec(MARTS["products"], ("product_id",), "volume, revenue and rank per product"),
        TableSpec(MARTS["support"], ("dimension", "value"), "resolution rate and volume by channel, month and segment"),
        TableSpec(MARTS["sales"], ("sales_rep_id",), "attainment per sales rep"),
    ),
    checks=quality.TABLE_CHECKS,
    staging_sources=quality.STAGING_SOURCES,
    load_step="crm.load",
    source_setting="crm",
    source_path=lambda cfg: Path(cfg.sources.crm.path) if cfg.sources.crm.path else None,
    build_hint="build it first: martops crm build --source <folder of the CRM extract>",
    report=report_section.REPORT,
)
