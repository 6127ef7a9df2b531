"""The attribute step: credit per (conversion, session) for one model, checked, then stored."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import ibis

from martops.attribution import path_models, quality, tables as T
from martops.attribution.models import API_MODEL, PATH_MODELS, credits_expr
from martops.checks.core import enforce, run_checks
from martops.checks import catalog
from martops.checks.store import recorded
from martops.config import AttributionConfig, ProjectConfig
from martops.engine import Warehouse
from martops.errors import MartopsError, StepError
from martops.ops.runlog import current_run_id

if TYPE_CHECKING:  # imported when the API is called: httpx costs every CLI command ~0.4 s otherwise
    from martops.attribution.ihc_api import runner as api_runner


class PartialFailure(MartopsError):
    """Some conversions could not be attributed by the API; the others are stored."""

RANGES_SCHEMA = ibis.schema({"model": "string", "since": "date", "until": "date"})


def attribute(wh: Warehouse, since: dt.date, until: dt.date, model: str, cfg: AttributionConfig,
              api: api_runner.ApiOptions | None = None, project: ProjectConfig | None = None) -> dict:
    """Replace the model's credits for conversions dated [since, until].

    The table's built-in checks (`quality.customer_journey`: finite credits >= 0 summing to 1 per
    conversion, 1e-9 for local models and the API's 1e-3 for `ihc_api`) run on the rows just
    written, inside the same transaction: a model that breaks the invariant leaves the previous
    credits in place and fails the step. For `ihc_api` the answers come from the API (sent only
    where missing).
    """
    if not wh.exists(T.JOURNEYS):
        raise StepError("no journeys in the warehouse yet; run `martops attribution journeys` first")
    summary: dict = {}
    project = project or ProjectConfig()
    if model == API_MODEL:
        from martops.attribution.ihc_api import runner as api_runner

        api = api or api_runner.ApiOptions()
        summary, current = api_runner.exchange(wh, since, until, api)
        credits = api_runner.credits_expr(wh, current)
    j = wh.table(T.JOURNEYS)
    j = j.filter(j.conv_date.between(since, until))
    where = "model = ? AND conv_date BETWEEN ? AND ?"
    params = [model, since, until]
    with recorded(wh, current_run_id()) as results, wh.transaction():
        if model in PATH_MODELS:
            summary["channels"] = path_models.store_weights(wh, model, since, until, cfg)
            credits = path_models.credits_expr(wh, j, model, since, until, cfg)
        elif model != API_MODEL:
            credits = credits_expr(j, model, cfg)
        wh.ensure_table(T.CUSTOMER_JOURNEY, credits.schema(), partition="conv_date")
        wh.delete_where(T.CUSTOMER_JOURNEY, where, params)
        rows = wh.insert(T.CUSTOMER_JOURNEY, credits)
        stored = wh.table(T.CUSTOMER_JOURNEY)
        stored = stored.filter((stored.model == model) & stored.conv_date.between(since, until))
        results += run_checks(wh, quality.customer_journey(stored, T.CUSTOMER_JOURNEY, project.quality))
        enforce(results)
        results += run_checks(wh, catalog.declared(wh, project, T.CUSTOMER_JOURNEY))
        enforce(results)
        wh.ensure_table(T.RANGES, RANGES_SCHEMA)
        wh.delete_where(T.RANGES, "model = ? AND since = ? AND until = ?", params)
        wh.insert(T.RANGES, ibis.memtable({"model": [model], "since": [since], "until": [until]}, schema=RANGES_SCHEMA))
    n_conv = int(wh.scalar(stored.conv_id.nunique()))
    # one credit per journey row: rows in (journey rows read) == rows out
    out = {"journey_rows": rows, "rows": rows, "conversions": n_conv, "checks": len(results), **summary}
    if summary.get("failed") and not (api and api.allow_partial):
        raise PartialFailure(
            f"IHC API: {summary['failed']:,} of {summary['journeys']:,} conversion(s) could not be attributed "
            f"(listed in ops.ihc_api_failures, run {summary['api_run_id']}); the other {n_conv:,} are stored. "
            "Re-run the same command to retry only those, or pass --allow-partial to accept the gap. "
            f"Requests: {summary['requests']}, retries: {summary['retries']}."
        )
    return out
