"""Warehouse engines behind one `Warehouse` interface: a DuckDB file (default), PostgreSQL or Spark.

`martops.engine.connect` picks one from the location (a path, a postgresql:// DSN, or spark:DIR). Sources are
always read and typed by an in-process DuckDB (the warehouse's `loader`); on DuckDB that is the
warehouse itself, on PostgreSQL a private in-memory DuckDB whose results are bulk-loaded (COPY),
on Spark the same, its results handed over as Parquet files.
Engine differences are attributes of the warehouse (capabilities), never isinstance checks.
"""
