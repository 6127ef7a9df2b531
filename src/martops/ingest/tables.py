"""Warehouse tables of the API pipelines."""

import ibis

FX_RATES = "staging.fx_rates"
"""One row per business day, base and currency: `rate` units of `currency` for one unit of `base`
(Frankfurter's quote, the ECB reference rate), plus the load's metadata."""
FX_RECONCILIATION = "ops.fx_reconciliation"
"""One row per fx.load run that fetched rates: a cross rate computed from two stored rates against
the API's own quote of that pair for the same day, with the tolerance it was held to."""
RAW_DATASET = "raw_fx"
"""The dlt dataset (schema) of the loader DuckDB that dlt loads into: `raw_fx.rates` (every answer
as loaded, with `_dlt_load_id`), `_dlt_loads`, `_dlt_pipeline_state`, `_dlt_version`."""
RAW_TABLE = "rates"

FX_SCHEMA = ibis.schema({
    "date": "date", "base": "string", "currency": "string", "rate": "float64",
    "_loaded_at": "timestamp", "_run_id": "string", "_load_id": "string", "_source": "string",
})
RECONCILIATION_SCHEMA = ibis.schema({
    "run_id": "string", "checked_at": "timestamp", "date": "date", "from_currency": "string",
    "to_currency": "string", "computed": "float64", "api_rate": "float64", "abs_diff": "float64",
    "tolerance": "float64", "via": "string", "url": "string",
})
OLD_COLUMNS = ("rate_date", "eur_per_unit")
"""The placeholder shape the campaign mart created before this pipeline existed (always empty)."""
