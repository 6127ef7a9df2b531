"""dlt's part of the FX pipeline: the checked rows into `raw_fx.rates` of the warehouse's loader.

dlt runs with telemetry off and a throwaway `pipelines_dir` (a temporary folder per run): nothing
a later run needs lives there, so a lost working directory changes nothing (the watermark is
staging.fx_rates itself, see martops.ingest.fx). The destination is dlt's DuckDB destination on
the loader's own connection: on a DuckDB warehouse that is the warehouse file (the raw answers
and dlt's `_dlt_loads` stay beside staging, an audit trail of every fetch); on PostgreSQL it is
the in-process DuckDB that reads every source, and martops moves the rows into the warehouse.

The table's columns are declared and frozen (`schema_contract`: columns and data types freeze), so
a row with a new column fails in dlt's normalize step too; martops.ingest.frankfurter has already
refused such an answer with the field's name before dlt sees it (dlt coerces "0.85" to a double,
so a rate written as a string would pass dlt's contract unnoticed).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from martops.errors import SourceError
from martops.ingest.tables import RAW_DATASET, RAW_TABLE

os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"  # before dlt is imported: no telemetry, ever

PIPELINE = "martops_fx"
COLUMNS = {
    "date": {"data_type": "date", "nullable": False},
    "base": {"data_type": "text", "nullable": False},
    "currency": {"data_type": "text", "nullable": False},
    "rate": {"data_type": "double", "nullable": False},
}
CONTRACT = {"tables": "evolve", "columns": "freeze", "data_type": "freeze"}
"""`tables: evolve` lets the first run create the table; columns and their types are frozen."""


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    return seen


def load(con: Any, rows: list[dict]) -> str:
    """Load `rows` ({date, base, currency, rate}) into raw_fx.rates over the DuckDB connection
    `con`; the dlt load id. A contract violation or a failed load is a SourceError in one line."""
    import dlt
    from dlt.common.schema.exceptions import DataValidationError
    from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

    @dlt.resource(name=RAW_TABLE, columns=COLUMNS, write_disposition="append", schema_contract=CONTRACT)
    def rates():
        yield from rows

    credentials = DuckDbCredentials(con)
    credentials.session_timezone = None  # dlt would SET TimeZone on the warehouse's connection
    with tempfile.TemporaryDirectory(prefix="martops-dlt-") as pipelines_dir:
        pipeline = dlt.pipeline(pipeline_name=PIPELINE, destination=dlt.destinations.duckdb(credentials=credentials),
                                dataset_name=RAW_DATASET, pipelines_dir=pipelines_dir)
        try:
            info = pipeline.run(rates())
        except Exception as exc:  # dlt wraps every failure in PipelineStepFailed
            cause = _root_cause(exc)
            if isinstance(cause, DataValidationError) or isinstance(exc, DataValidationError):
                v = cause if isinstance(cause, DataValidationError) else exc
                raise SourceError(f"FX rates: dlt's frozen schema of {RAW_DATASET}.{RAW_TABLE} refused a row: "
                                  f"column {getattr(v, 'column_name', None) or '?'} ({getattr(v, 'schema_entity', '')} "
                                  f"are frozen); nothing was loaded") from exc
            raise SourceError(f"FX rates: dlt could not load {RAW_DATASET}.{RAW_TABLE}: "
                              f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}") from exc
        info.raise_on_failed_jobs()
        if not info.loads_ids:
            raise SourceError(f"FX rates: dlt loaded no package into {RAW_DATASET}.{RAW_TABLE}")
        return info.loads_ids[-1]
