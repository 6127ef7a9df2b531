"""Warehouse engines behind one `Warehouse` interface: a DuckDB file (default) or PostgreSQL.

`martops.engine.connect` picks one from the location (a path, or a postgresql:// DSN). Sources are
always read and typed by an in-process DuckDB (the warehouse's `loader`); on DuckDB that is the
warehouse itself, on PostgreSQL a private in-memory DuckDB whose results are bulk-loaded (COPY).
Engine differences are attributes of the warehouse (capabilities), never isinstance checks.
"""
