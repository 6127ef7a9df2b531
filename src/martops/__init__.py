"""martops: marketing-operations data platform (ingest, test, attribute, report) on Ibis engines."""

__version__ = "0.1.0"
