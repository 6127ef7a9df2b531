"""martops: marketing-operations data platform (ingest, test, attribute, report) on DuckDB, through Ibis."""

__version__ = "0.1.0"
