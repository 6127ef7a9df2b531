"""The Spark warehouse: Parquet tables under a folder, transformations computed by Apache Spark.

The same Ibis expressions as on DuckDB and PostgreSQL compile to Spark SQL. Tables are external
Parquet tables in the session's catalog (one database per martops schema), stored as
`spark_files` lays them out; a table a step replaces by date range is partitioned by that date
(`ensure_table(..., partition=)`), so a re-run rewrites only the range's folders.

Spark's Parquet tables support neither DELETE nor UPDATE, nor transactions. Here every write is
copy-on-write at file level: the files holding rows a DELETE/UPDATE/replace touches (found with
`_metadata.file_path`) are rewritten without (or with changed) those rows, and the swap of old and
new files goes through `spark_files.Store`'s undo log. So `transaction()` keeps its meaning on
Spark: the writes inside commit together or are rolled back (also after a kill: at the next
writer's open), for one writer at a time (a lock file). What it does not give is isolation:
a reader sees a step's writes as they happen.

Sources are read and typed by a private in-memory DuckDB (the loader), as on PostgreSQL; its
results reach Spark as Parquet files under the warehouse folder (`_martops/incoming/`), which
every executor can read, not through the driver.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from martops import interrupts
from martops.config import WarehouseConfig
from martops.engines import spark_compiler, spark_session
from martops.engines.base import SCHEMAS, Rows, Warehouse
from martops.engines.loader import PrivateLoader, SourceAttachments
from martops.engines.spark_files import TABLE_FILE, VIEW_FILE, Store, TableMeta, data_files, file_path
from martops.engines.spark_sql import bind, column_name, table_name, text
from martops.errors import ConfigError, MartopsError

log = logging.getLogger(__name__)

spark_compiler.patch()

_OPEN: dict[Path, int] = {}
"""Spark warehouses open in this process (folder -> connections): the session's catalog holds the
tables of one warehouse at a time."""
HIT = "__martops_hit"


class SparkWarehouse(PrivateLoader, SourceAttachments, Warehouse):
    engine = "spark"
    dialect = "spark"
    separate_loader = True
    uses_indexes = False

    def __init__(self, backend: ibis.BaseBackend, location: str, config: WarehouseConfig, spark: Any,
                 store: Store, *, read_only: bool = False):
        super().__init__(backend, location, read_only=read_only)
        self.spark = spark
        self.store = store
        self._config = config
        self._views: set[str] = set()
        self._metas: dict[str, TableMeta | None] = {}
        self._cancel = _Canceller(spark)
        interrupts.register(self._cancel)

    @property
    def query_errors(self) -> tuple[type[BaseException], ...]:  # type: ignore[override]
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        return (PySparkException, Py4JJavaError)


    # -- the catalog ----------------------------------------------------------------------------
    def _meta(self, name: str) -> TableMeta | None:
        if name not in self._metas:
            self._metas[name] = self.store.meta(name)
        return self._metas[name]

    def _register_all(self) -> None:
        """The session catalog as the folder says: this warehouse's tables and views, no other's."""
        for schema in SCHEMAS:
            self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {self.ident(schema)}")
            for t in self.spark.catalog.listTables(schema):
                if not t.isTemporary:
                    self._forget(f"{schema}.{t.name}", t.tableType)
        stored = self.store.names(SCHEMAS)
        for name, kind in stored:
            if kind == "table":
                self._register(name)
        for name, kind in stored:
            if kind == "view":
                self._register(name)

    def _register(self, name: str) -> None:
        """(Re)declare one table or view to the catalog from its files; forget it when it has none."""
        self._metas.pop(name, None)
        q = self.quoted(name)
        if self.spark.catalog.tableExists(name):
            self._forget(name, self.spark.catalog.getTable(name).tableType)
        meta = self._meta(name)
        if meta is not None:
            cols = ", ".join(f"{self.ident(c)} {t}" for c, t in meta.columns)
            part = f" PARTITIONED BY ({self.ident(meta.partition)})" if meta.partition else ""
            self.spark.sql(f"CREATE TABLE {q} ({cols}) USING parquet{part} LOCATION {text(str(self.store.table_dir(name)))}")
            return
        sql = self.store.view_sql(name)
        if sql is not None:
            self.spark.sql(f"CREATE VIEW {q} AS {sql}")

    def _forget(self, name: str, kind: str) -> None:
        """Drop a table or view from the catalog only (its files are external: they stay)."""
        self.spark.sql(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS {self.quoted(name)}")

    def _refresh(self, name: str, meta_changed: bool = False) -> None:
        if meta_changed or not self.spark.catalog.tableExists(name):
            self._register(name)
        else:
            self.spark.catalog.refreshTable(name)

    # -- reading ----------------------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        """As on every engine, in martops' column order (Spark lists partition columns last)."""
        t = super().table(name)
        meta = self._meta(name) if "." in name else None
        if meta is not None and meta.partition and list(t.columns) != [c for c, _ in meta.columns]:
            t = t.select(*[c for c, _ in meta.columns])
        return t

    def exists(self, name: str) -> bool:
        schema, table = self._split(name)
        if schema is None:
            return bool(self.spark.catalog.tableExists(table))
        return self._meta(name) is not None or self.store.view_sql(name) is not None

    def relations(self) -> list[tuple[str, str, int]]:
        out = []
        for name, kind in self.store.names(SCHEMAS):
            meta = self._meta(name)
            out.append((name, kind, len(meta.columns) if meta else len(self.spark.table(name).columns)))
        return sorted(out)

    def _cursor_execute(self, sql: str, params: list[Any]) -> Any:
        sql = bind(sql, params)
        head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if head in ("DELETE", "UPDATE"):
            return _result(None, [], self._dml(sql))
        if head == "DROP" and re.match(r"\s*DROP\s+TABLE\b", sql, re.I):
            stmt = sg.parse_one(sql, read="spark")
            self.drop(table_name(stmt.this))
            return _result(None, [], 0)
        if head == "CREATE" and re.match(r"\s*CREATE\s+(OR\s+REPLACE\s+)?VIEW\b", sql, re.I):
            stmt = sg.parse_one(sql, read="spark")
            self._create_view(table_name(stmt.this), stmt.expression.sql("spark"))
            return _result(None, [], 0)
        df = self.spark.sql(sql)
        rows = [tuple(r) for r in df.collect()]
        return _result(list(df.columns) or None, rows, 0)

    def _person_execute(self, sql: str, limit: int | None = None) -> Any:
        """SQL a person typed (`martops sql`) reads only: one query (SELECT, WITH, SHOW, DESCRIBE)."""
        try:
            stmts = [s for s in sg.parse(sql, read="spark") if s is not None]
        except sg.errors.ParseError:
            stmts = []
        if len(stmts) != 1 or not isinstance(stmts[0], (sge.Query, sge.Show, sge.Describe)):
            if not re.match(r"\s*(SHOW|DESCRIBE|DESC|EXPLAIN)\b", sql, re.I):
                raise ConfigError("martops sql reads only: give one query (SELECT, WITH ..., SHOW, DESCRIBE); "
                                  "on a Spark warehouse every write goes through a martops step")
        df = self.spark.sql(sql)
        if limit is not None:
            df = df.limit(limit)
        return _result(list(df.columns) or None, [tuple(r) for r in df.collect()], 0)

    def _affected(self, cursor: Any) -> int:
        return cursor.rowcount

    def seal(self) -> None:
        """No files reachable from SQL a person types (`SELECT * FROM parquet.\\`/path\\``)."""
        self.spark.conf.set("spark.sql.runSQLOnFiles", "false")

    def save_rows(self, sql: str, params: list[Any], path: Any) -> None:
        import pyarrow.parquet as pq

        pq.write_table(self.spark.sql(bind(sql, params)).toArrow(), str(path))

    def _interrupted(self, exc: BaseException) -> bool:
        return "cancel" in str(exc).lower()

    def files_folder(self, kind: str) -> Path | None:
        """`<kind>/` in the warehouse's folder (beside the schemas' folders)."""
        return self.store.root / kind

    # -- Spark data frames --------------------------------------------------------------------------
    def _frame(self, expr: ir.Table) -> Any:
        """`expr`'s rows as a Spark DataFrame: compiled to Spark SQL when it reads warehouse tables,
        else computed by the loader and handed over as Parquet files (lazy: read when written)."""
        if self._home(expr) is self.backend:
            return self.spark.sql(self.compile(expr))
        folder = self.store.incoming_dir()
        sql = self.compile(expr)  # (registers the in-memory tables it reads with the loader)
        self.loader.con.execute(f"COPY ({sql}) TO {text(str(folder / 'part-0.parquet'))} (FORMAT parquet)")
        return self.spark.read.parquet(str(folder))

    def _conform(self, df: Any, columns: tuple[tuple[str, str], ...]) -> Any:
        """`df` with exactly `columns` (name, Spark type), cast; a column it lacks is NULL."""
        from pyspark.sql import functions as F

        have = set(df.columns)
        return df.select([(F.col(self.ident(c)) if c in have else F.lit(None)).cast(t).alias(c) for c, t in columns])

    def _write_staged(self, df: Any, meta: TableMeta) -> Path:
        """Spark writes `df` (conformed to `meta`) as the new files of a table, to a staging folder."""
        from pyspark.sql import functions as F

        path = self.store.staging_dir()
        df = self._conform(df, meta.columns)
        if meta.partition:
            df.repartition(F.col(self.ident(meta.partition))).write.partitionBy(meta.partition).parquet(str(path))
        else:
            df.write.parquet(str(path))
        return path

    # -- writing --------------------------------------------------------------------------------
    def _begin(self) -> None:
        self.store.begin()

    def _commit(self) -> None:
        self.store.commit()

    def _rollback(self) -> None:
        self._metas.clear()
        for name in self.store.rollback():
            self._refresh(name, meta_changed=True)

    def ensure_table(self, name: str, schema: ibis.Schema, partition: str | None = None) -> None:
        """Create the table (partitioned by `partition` when it is one of its columns), or add the
        columns a newer martops writes (additive migration)."""
        meta = self._meta(name)
        columns = tuple((c, _spark_type(t)) for c, t in schema.items())
        if meta is None:
            new = TableMeta(columns, partition if partition in schema else None)
        else:
            have = {c for c, _ in meta.columns}
            extra = tuple(c for c in columns if c[0] not in have)
            if not extra:
                return
            log.info("adding columns %s to %s", ", ".join(c for c, _ in extra), name)
            new = TableMeta(meta.columns + extra, meta.partition)
        self.store.replace_files(name, [], None, {TABLE_FILE: new.to_json()})
        self._refresh(name, meta_changed=True)

    def _write(self, name: str, df: Any | None, where: str | None) -> tuple[int, int]:
        """Rows matching `where` (SQL, values bound) leave table `name`, `df`'s rows enter it, in
        one step of the transaction: (rows removed, rows added). Only the files holding a matching
        row are rewritten."""
        meta = self._meta(name)
        if meta is None:
            raise MartopsError(f"{name} is not in the warehouse {self.location}")  # pragma: no cover - a martops bug
        q = self.quoted(name)
        files: dict[str, int] = {}
        if where is not None:
            rows = self.spark.sql(f"SELECT _metadata.file_path AS f, count(*) AS n FROM {q} WHERE {where} "
                                  "GROUP BY _metadata.file_path").collect()
            files = {r.f: int(r.n) for r in rows}
        parts = []
        if files:
            listed = ", ".join(text(f) for f in files)
            parts.append(self.spark.sql(f"SELECT * FROM {q} WHERE _metadata.file_path IN ({listed}) "
                                        f"AND NOT coalesce(({where}), false)"))
        if df is not None:
            parts.append(self._conform(df, meta.columns))
        if not parts:
            return 0, 0
        new = parts[0] if len(parts) == 1 else parts[0].unionByName(self._conform(parts[1], meta.columns))
        staged = self._write_staged(new, meta)
        old = [file_path(f) for f in files]
        removed = sum(files.values())
        added = _rows(data_files(staged)) - (_rows(old) - removed)  # the rewritten files' other rows stay
        self.store.replace_files(name, old, staged)
        self._refresh(name)
        return removed, added

    def insert(self, name: str, expr: ir.Table) -> int:
        if not self.exists(name):
            self.ensure_table(name, expr.schema())
        try:
            return self._write(name, self._frame(expr), None)[1]
        finally:
            shutil.rmtree(self.store.meta_dir / "incoming", ignore_errors=True)

    def delete_where(self, name: str, where: str, params: list[Any] | None = None) -> int:
        return self._write(name, None, bind(where, params or []))[0]

    def replace_where(self, name: str, expr: ir.Table, where: str, params: list[Any] | None = None,
                      partition: str | None = None) -> tuple[int, int]:
        """One copy-on-write of the files holding the range's rows (a partition's folder when the
        range is of the partition column), with `expr`'s rows added."""
        self.ensure_table(name, expr.schema(), partition)
        with self.transaction():
            try:
                return self._write(name, self._frame(expr), bind(where, params or []))
            finally:
                shutil.rmtree(self.store.meta_dir / "incoming", ignore_errors=True)

    def _dml(self, sql: str) -> int:
        """DELETE or UPDATE (values bound) as a copy-on-write of the files they touch; rows affected."""
        stmt = sg.parse_one(sql, read="spark")
        name = table_name(stmt.this)
        where = stmt.args.get("where")
        cond = where.this.sql("spark") if where is not None else "TRUE"
        if isinstance(stmt, sge.Delete):
            return self._write(name, None, cond)[0]
        meta = self._meta(name)
        assert meta is not None
        sets = {column_name(e.this): e.expression.sql("spark") for e in stmt.expressions}
        q = self.quoted(name)
        rows = self.spark.sql(f"SELECT _metadata.file_path AS f, count(*) AS n FROM {q} WHERE {cond} "
                              "GROUP BY _metadata.file_path").collect()
        if not rows:
            return 0
        listed = ", ".join(text(r.f) for r in rows)
        cols = ", ".join(f"CASE WHEN {HIT} THEN {sets[c]} ELSE {self.ident(c)} END AS {self.ident(c)}" if c in sets
                         else self.ident(c) for c, _ in meta.columns)
        new = self.spark.sql(f"SELECT {cols} FROM (SELECT *, coalesce(({cond}), false) AS {HIT} FROM {q} "
                             f"WHERE _metadata.file_path IN ({listed})) AS _t")
        staged = self._write_staged(new, meta)
        self.store.replace_files(name, [file_path(r.f) for r in rows], staged)
        self._refresh(name)
        return sum(int(r.n) for r in rows)

    def drop(self, name: str) -> None:
        """Drop a table or view (its files leave with the transaction's undo log)."""
        meta, view = self._meta(name), self.store.view_sql(name)
        if meta is None and view is None:
            return
        folder = self.store.table_dir(name)
        self.store.replace_files(name, data_files(folder), None, {TABLE_FILE: None, VIEW_FILE: None})
        self._refresh(name, meta_changed=True)

    def _create_view(self, name: str, sql: str) -> None:
        self.drop(name)
        self.store.replace_files(name, [], None, {VIEW_FILE: {"sql": sql}})
        self._refresh(name, meta_changed=True)

    def create_or_replace(self, name: str, expr: ir.Table) -> int:
        """The table's files replaced by `expr`'s rows, typed as Ibis types them, in one step."""
        meta = TableMeta(tuple((c, _spark_type(t)) for c, t in expr.schema().items()))
        try:
            staged = self._write_staged(self._frame(expr), meta)
        finally:
            shutil.rmtree(self.store.meta_dir / "incoming", ignore_errors=True)
        folder = self.store.table_dir(name)
        self.store.replace_files(name, data_files(folder), staged, {TABLE_FILE: meta.to_json(), VIEW_FILE: None})
        self._refresh(name, meta_changed=True)
        return self.count(name)

    def materialize(self, expr: ir.Table, name: str) -> ir.Table:
        """A warehouse-side result computed once (Spark's local checkpoint: no lineage to recompute,
        and no file of a table it read is needed afterwards) as a temporary view."""
        if self._home(expr) is not self.backend:
            return super().materialize(expr, name)
        # typed as Ibis types `expr` (Spark's own result types differ: a DECIMAL for a literal
        # such as 1.0, an INT for a literal Ibis calls int64), as a DuckDB temp table is
        columns = tuple((c, _spark_type(t)) for c, t in expr.schema().items())
        return self._temp_view(self._conform(self.spark.sql(self.compile(expr)), columns), name)

    def stage(self, expr: ir.Table, name: str) -> ir.Table:
        if self._home(expr) is self.backend:
            return self.materialize(expr, name)
        columns = tuple((c, _spark_type(t)) for c, t in expr.schema().items())
        try:
            return self._temp_view(self._conform(self._frame(expr), columns), name)
        finally:
            shutil.rmtree(self.store.meta_dir / "incoming", ignore_errors=True)

    def _temp_view(self, df: Any, name: str) -> ir.Table:
        df.localCheckpoint(eager=True).createOrReplaceTempView(name)
        self._views.add(name)
        return self.backend.table(name)

    def count(self, name: str) -> int:
        return int(self.spark.sql(f"SELECT count(*) FROM {self.quoted(name)}").collect()[0][0])

    created: str | bool = False
    """Whether this connection made the warehouse (a first build): 'folder' when it made the
    folder too, 'content' when the folder was there, empty."""

    def discard_if_empty(self) -> bool:
        """Remove the folder this connection created when no table outside `ops` exists and nothing
        was quarantined (a failed first build leaves nothing behind, as with a DuckDB file)."""
        if not self.created or self.store.in_transaction:
            return False
        for name, kind, _ in self.relations():
            if not name.startswith("ops."):
                return False
        if self.exists("ops.quarantine") and self.count("ops.quarantine"):
            return False
        root = self.store.root
        if self.created == "folder":
            shutil.rmtree(root, ignore_errors=True)
        else:  # a folder the person made (empty then): emptied again, kept
            for child in root.iterdir():
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
        return True

    def create_index(self, name: str, columns: tuple[str, ...]) -> None:  # pragma: no cover - uses_indexes is False
        """Parquet has no indexes: min/max statistics per row group serve range filters."""

    def close(self) -> None:
        interrupts.unregister(self._cancel)
        for view in self._views:
            self.spark.catalog.dropTempView(view)
        self._close_loader()
        self.store.unlock()
        root = self.store.root
        _OPEN[root] = _OPEN.get(root, 1) - 1
        if _OPEN[root] <= 0:
            del _OPEN[root]
        # the session stays up: it is the process's (starting one costs 15-25 s)


class _Canceller:
    """What `interrupts` calls on Ctrl-C: cancel the running Spark jobs."""

    def __init__(self, spark: Any):
        self.spark = spark

    def interrupt(self) -> None:
        try:
            self.spark.sparkContext.cancelAllJobs()
        except Exception:  # noqa: BLE001 - a session that is gone has nothing to cancel
            log.debug("could not cancel the Spark jobs", exc_info=True)


def _result(columns: list[str] | None, rows: list[tuple], affected: int = 0) -> Rows:
    """A statement's rows as a cursor (`description` None: it returned none)."""
    return Rows(None if columns is None else [(c,) for c in columns], rows, affected)


def _rows(files: list[Path]) -> int:
    """Rows in Parquet files, from their footers."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def _spark_type(dtype: Any) -> str:
    from ibis.backends.pyspark.datatypes import PySparkType

    return PySparkType.from_ibis(dtype).simpleString()


def connect_spark(config: WarehouseConfig, folder: str, *, master: str | None, create: bool, read_only: bool,
                  build_hint: str, lock_timeout: float | None = None) -> SparkWarehouse:
    """Open the Spark warehouse in `folder` (created when `create`), starting the process's Spark
    session if none runs. A writer holds the folder's lock and first rolls back what a killed
    writer left (`spark_files.Store.recover`).

    Raises ConfigError when the folder is not a martops Spark warehouse (or is missing and
    `create` is False: the message ends with `build_hint`), or pyspark/Java is missing.
    """
    root = Path(folder).expanduser().resolve()
    shown = f"spark:{folder}"
    if root.exists() and not root.is_dir():
        raise ConfigError(f"warehouse {shown} is a file; a Spark warehouse is a folder (e.g. spark:warehouse-spark)")
    marker = root / "_martops"
    created = False if marker.is_dir() or read_only else ("content" if root.is_dir() else "folder")
    if not marker.is_dir():
        if not create or read_only:
            raise ConfigError(f"warehouse {shown} does not exist (nothing was created); check --warehouse or "
                              f"warehouse.warehouse_dir in martops.yml, or {build_hint}")
        if root.is_dir() and any(root.iterdir()):
            raise ConfigError(f"warehouse {shown}: the folder holds other files and no martops warehouse; give a new "
                              "or empty folder (nothing was written)")
    for other in _OPEN:
        if other != root:
            raise MartopsError(f"another Spark warehouse (spark:{other}) is open in this process; close it first "
                               "(one Spark session holds one warehouse's catalog)")
    spark = spark_session.session(config, master, catalog_dir=str(marker / "catalog"))
    store = Store(root)
    if not read_only:
        try:
            marker.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"warehouse {shown}: cannot create it: {exc.strerror}") from None
        store.lock(config.lock_timeout_seconds if lock_timeout is None else lock_timeout, shown)
        store.recover()
    backend = ibis.pyspark.connect(spark)
    wh = SparkWarehouse(backend, shown, config, spark, store, read_only=read_only)
    wh.created = created
    _OPEN[root] = _OPEN.get(root, 0) + 1
    try:
        wh._register_all()
    except BaseException:
        wh.close()
        raise
    return wh
