"""API pipelines on dlt (seed 000, part 2): data fetched from an HTTP API, checked, and loaded into
the warehouse's staging schema by a step of the graph. The FX-rate pipeline (Frankfurter) is the
first: `martops.ingest.fx`.
"""
