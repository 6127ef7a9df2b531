"""The PostgreSQL warehouse: a database a team shares.

Sources are read and typed by a private in-memory DuckDB (the loader), then loaded with COPY in
CSV form, batch by batch, inside the step's transaction, so a failed or killed step leaves the
database as it was. Transformations over warehouse tables compile to PostgreSQL SQL via Ibis.

Two writers never run at once: a writer holds a session advisory lock for as long as it is
connected (waiting `lock_timeout_seconds` for it, then failing with a message); readers take no
lock (MVCC shows them the last commit). Holding the lock also proves that a run still marked
'running' belongs to a session that ended: PostgreSQL releases a session's advisory locks when its
connection closes, however the process died.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import time
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pacsv

from martops import interrupts
from martops.config import WarehouseConfig
from martops.engines.base import SCHEMAS, Rows, Warehouse
from martops.engines.loader import PrivateLoader, SourceAttachments
from martops.engines.location import PASSWORD_HINT, describe_dsn
from martops.errors import ConfigError, MartopsError

log = logging.getLogger(__name__)

LOCK_KEY = 0x6D617274_6F707300 >> 1  # 'martops' as a bigint: one advisory lock per database
COPY_BATCH_ROWS = 200_000
COPY_STATS = {"rows": 0, "seconds": 0.0}
"""Rows loaded with COPY and the seconds it took in this process (computing, writing, loading): `make bench`."""


class PostgresWarehouse(PrivateLoader, SourceAttachments, Warehouse):
    engine = "postgres"
    dialect = "postgres"
    separate_loader = True
    uses_indexes = True

    @property
    def query_errors(self) -> tuple[type[BaseException], ...]:  # type: ignore[override]
        import psycopg

        return (psycopg.Error,)

    def __init__(self, backend: ibis.BaseBackend, location: str, config: WarehouseConfig, *,
                 read_only: bool = False):
        super().__init__(backend, location, read_only=read_only)
        self._raw = backend.con  # the psycopg connection (autocommit; BEGIN/COMMIT are ours)
        self._config = config
        self._cancel = _Canceller(self._raw)
        interrupts.register(self._cancel)  # Ctrl-C cancels the running statement on the server


    created_schemas: list[str] = []
    """The schemas this connection created (a first build): dropped again if the build fails before
    it wrote anything (`discard_if_empty`), as a DuckDB file a failed first build created is removed."""

    def discard_if_empty(self) -> bool:
        """Drop the schemas this connection created when no table outside `ops` holds rows and
        nothing was quarantined (a failed first build leaves nothing behind); whether it did."""
        if not self.created_schemas:
            return False
        try:
            with contextlib.suppress(Exception):
                self._raw.execute("ROLLBACK")
            for name, kind, _ in self.relations():
                schema = name.split(".", 1)[0]
                if schema in SCHEMAS and schema != "ops" and kind == "table":
                    return False
            if self.exists("ops.quarantine") and self.execute("SELECT count(*) FROM ops.quarantine")[0][0]:
                return False
            for schema in self.created_schemas:
                self._raw.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            return True
        except Exception:  # noqa: BLE001 - a broken connection: leave the schemas, the error says why
            return False

    def _cursor_execute(self, sql: str, params: list[Any]) -> Any:
        return self._raw.execute(_placeholders(sql) if params else sql, params or None)

    def _person_execute(self, sql: str, limit: int | None = None) -> Any:
        """As one prepared statement: the server refuses several commands in one, so a typed
        `BEGIN READ WRITE; ...` or `SET default_transaction_read_only = off; ...` cannot lift the
        read-only session (a `%` is doubled: psycopg reads the text for placeholders). It runs in a
        READ ONLY transaction that is rolled back, so what a function writes anyway (lo_create) is
        undone. Values are read as the server writes them where a Python type would change them:
        numeric exactly (Decimal, not a double), json as its text, dates and times as text
        (`infinity` has no Python value)."""
        from psycopg.types.numeric import NumericLoader
        from psycopg.types.string import TextLoader

        if re.match(r"\s*copy\b", sql, re.I):
            raise ConfigError("martops sql only reads: COPY is refused (COPY ... TO a file writes on the server, "
                              "whatever the transaction); use a SELECT, or psql for COPY")
        cur = self._raw.cursor()
        cur.adapters.register_loader("numeric", NumericLoader)
        for oid in ("json", "jsonb", "date", "timestamp", "timestamptz", "time", "timetz", "interval"):
            cur.adapters.register_loader(oid, TextLoader)
        rolled_back = False
        self._raw.execute("BEGIN READ ONLY")
        try:
            cur.execute(sql.replace("%", "%%"), [], prepare=True)
            if cur.description is None:
                rows = None
            else:
                rows = cur.fetchall() if limit is None else cur.fetchmany(limit)
        finally:
            with contextlib.suppress(Exception):
                self._raw.execute("ROLLBACK")
                rolled_back = True
        return _Fetched(cur.description, rows, rolled_back)

    def _affected(self, cursor: Any) -> int:
        return max(int(cursor.rowcount), 0)

    def _interrupted(self, exc: BaseException) -> bool:
        import psycopg

        return isinstance(exc, psycopg.errors.QueryCanceled)

    def relations(self) -> list[tuple[str, str, int]]:
        """From pg_catalog, not information_schema: the latter hides the tables this login may not
        read, and "no runs recorded yet" would then be a wrong answer instead of "permission denied"."""
        rows = self.execute(
            "SELECT n.nspname || '.' || c.relname, CASE WHEN c.relkind IN ('v', 'm') THEN 'view' ELSE 'table' END, "
            "(SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1")
        return [(name, kind, int(n)) for name, kind, n in rows]

    def exists(self, name: str) -> bool:
        schema, table = self._split(name)
        if schema is None:
            return super().exists(name)
        return bool(self.execute(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ? AND c.relname = ? AND c.relkind IN ('r', 'p', 'v', 'm')", [schema, table]))

    def _bulk_insert(self, name: str, expr: ir.Table) -> int:
        """COPY the loader's rows of `expr` into `name`, as CSV in batches (every valid value
        quoted, so an unquoted empty field is NULL and a quoted one the empty string)."""
        cols = ", ".join(self.ident(c) for c in expr.columns)
        options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
        rows, t0 = 0, time.perf_counter()
        with self._raw.cursor() as cur:
            with cur.copy(f"COPY {self.quoted(name)} ({cols}) FROM STDIN (FORMAT csv)") as copy:
                for batch in self.loader.to_pyarrow_batches(expr, chunk_size=COPY_BATCH_ROWS):
                    if not batch.num_rows:
                        continue
                    buf = io.BytesIO()
                    pacsv.write_csv(_csv_safe(batch), buf, write_options=options)
                    copy.write(buf.getbuffer())
                    rows += batch.num_rows
        COPY_STATS["rows"] += rows
        COPY_STATS["seconds"] += time.perf_counter() - t0
        return rows

    def seal(self) -> None:
        """Read-only already (a read-only session); server-side file functions need roles a
        warehouse login should not have."""

    def save_rows(self, sql: str, params: list[Any], path: Any) -> None:
        import psycopg
        import pyarrow.parquet as pq

        bound = psycopg.ClientCursor(self._raw).mogrify(_placeholders(sql), params)
        reader = self.backend.to_pyarrow_batches(self.backend.sql(bound, dialect="postgres"))
        with pq.ParquetWriter(str(path), reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)

    def close(self) -> None:
        interrupts.unregister(self._cancel)
        self._close_loader()
        super().close()


class _Canceller:
    """What `interrupts` calls on Ctrl-C: cancel the connection's running statement."""

    def __init__(self, con: Any):
        self.con = con

    def interrupt(self) -> None:
        try:
            self.con.cancel_safe(timeout=5)
        except Exception:  # noqa: BLE001 - a cancel that cannot reach the server leaves the query to end
            log.debug("could not cancel the running statement", exc_info=True)


def _csv_safe(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Columns CSV can carry as PostgreSQL reads them: NUL bytes (which a text value cannot hold)
    become U+FFFD, the replacement character. A safety net: the source readers already replaced
    them (so DuckDB holds the same text), but a value martops makes itself could still hold one."""
    import pyarrow.compute as pc

    cols = []
    for col in batch.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pc.replace_substring(col, "\x00", "\ufffd")
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)


def _patch_compiler() -> None:
    """PostgreSQL casts a boolean to integer only, not to bigint or double precision as DuckDB
    and Spark do; Ibis's PostgreSQL compiler passes such casts through, so they go via integer here
    (the one engine difference Ibis leaves to us; domains write `flag.cast("float64")` freely)."""
    import sqlglot.expressions as sge
    from ibis.backends.sql.compilers.postgres import PostgresCompiler

    original = PostgresCompiler.visit_Cast
    if getattr(original, "martops", False):
        return

    def visit_Cast(self, op, *, arg, to):  # noqa: ANN001 - Ibis's visitor signature
        if op.arg.dtype.is_boolean() and to.is_numeric() and not to.is_int32():
            return sge.Cast(this=sge.Cast(this=arg, to=sge.DataType.build("INT")), to=self.type_mapper.from_ibis(to))
        return original(self, op, arg=arg, to=to)

    visit_Cast.martops = True  # type: ignore[attr-defined]
    PostgresCompiler.visit_Cast = visit_Cast
    PostgresCompiler.visit_TryCast = visit_Cast


def _byte_order(expr):  # noqa: ANN001, ANN202 - a sqlglot expression in and out
    """`expr COLLATE "C"` (parenthesised unless it is one term: COLLATE binds tighter than ||)."""
    import sqlglot as sg
    import sqlglot.expressions as sge

    if not isinstance(expr, (sge.Column, sge.Literal, sge.Func, sge.Paren, sge.Null)):
        expr = sge.paren(expr, copy=False)
    return sge.Collate(this=expr, expression=sg.to_identifier("C", quoted=True))


def _default_collation(expr):  # noqa: ANN001, ANN202
    import sqlglot as sg
    import sqlglot.expressions as sge

    return sge.Collate(this=expr, expression=sg.to_identifier("default", quoted=True))


def _patch_text_order() -> None:
    """Text sorts and compares in byte order on PostgreSQL as on DuckDB, whatever the database's
    collation: a server created with en_US.UTF-8 or ICU puts 'a-2' before 'B1' (DuckDB: after),
    which moved first-touch credit and CRM golden ids. So every ORDER BY key (queries, windows,
    the ORDER BY inside arg_min/arg_max), min/max/greatest/least argument and <, <=, >, >=,
    BETWEEN operand that is text gets COLLATE "C". Only there: a column declared COLLATE "C"
    (the other route) would also make upper/lower ASCII-only, which DuckDB's are not; for the same
    reason a min/max result goes back to the database's collation for whatever uses it next.
    Equality needs nothing (a deterministic collation compares bytes)."""
    import sqlglot.expressions as sge
    from ibis.backends.sql.compilers.postgres import PostgresCompiler as C

    if getattr(C.visit_SortKey, "martops", False):
        return
    originals = {name: getattr(C, name) for name in (
        "visit_SortKey", "visit_Min", "visit_Max", "visit_Greatest", "visit_Least", "_argminmax", "visit_Between",
        "visit_Less", "visit_LessEqual", "visit_Greater", "visit_GreaterEqual", "visit_WindowFunction")}

    def visit_SortKey(self, op, *, arg, **kw):  # noqa: ANN001, ANN202 - Ibis's visitor signatures
        return originals["visit_SortKey"](self, op, arg=_byte_order(arg) if op.arg.dtype.is_string() else arg, **kw)

    def extreme(name):  # noqa: ANN001, ANN202
        def visit(self, op, *, arg, **kw):  # noqa: ANN001, ANN202
            if not op.dtype.is_string():
                return originals[name](self, op, arg=arg, **kw)
            arg = [_byte_order(a) for a in arg] if isinstance(arg, (tuple, list)) else _byte_order(arg)
            return _default_collation(originals[name](self, op, arg=arg, **kw))
        return visit

    def _argminmax(self, op, *, key, **kw):  # noqa: ANN001, ANN202
        return originals["_argminmax"](self, op, key=_byte_order(key) if op.key.dtype.is_string() else key, **kw)

    # both sides: explicit collations of two operands must agree (one may be a min/max's "default")
    def visit_Between(self, op, *, arg, lower_bound, upper_bound):  # noqa: ANN001, ANN202
        if op.arg.dtype.is_string():
            # (parenthesised: PostgreSQL's grammar takes no COLLATE in a bare lower bound)
            arg, lower_bound, upper_bound = (sge.paren(_byte_order(e)) for e in (arg, lower_bound, upper_bound))
        return originals["visit_Between"](self, op, arg=arg, lower_bound=lower_bound, upper_bound=upper_bound)

    def comparison(name):  # noqa: ANN001, ANN202
        def visit(self, op, *, left, right):  # noqa: ANN001, ANN202
            if op.left.dtype.is_string() and op.right.dtype.is_string():
                left, right = _byte_order(left), _byte_order(right)
            return originals[name](self, op, left=left, right=right)
        return visit

    def visit_WindowFunction(self, op, *, func, **kw):  # noqa: ANN001, ANN202
        # min/max over a window: COLLATE may not sit between the aggregate and its OVER
        if isinstance(func, sge.Collate):
            return func.__class__(this=originals["visit_WindowFunction"](self, op, func=func.this, **kw),
                                  expression=func.expression)
        return originals["visit_WindowFunction"](self, op, func=func, **kw)

    patched = {"visit_SortKey": visit_SortKey, "_argminmax": _argminmax, "visit_Between": visit_Between,
               "visit_WindowFunction": visit_WindowFunction,
               **{name: extreme(name) for name in ("visit_Min", "visit_Max", "visit_Greatest", "visit_Least")},
               **{name: comparison(name) for name in ("visit_Less", "visit_LessEqual", "visit_Greater",
                                                      "visit_GreaterEqual")}}
    for name, fn in patched.items():
        fn.martops = True  # type: ignore[attr-defined]
        setattr(C, name, fn)


_patch_compiler()
_patch_text_order()


def _placeholders(sql: str) -> str:
    """DuckDB's `?` placeholders as psycopg's `%s` (outside quoted text); a literal % doubled."""
    out, quote = [], None
    for ch in sql:
        if quote:
            if ch == quote:
                quote = None
            out.append("%%" if ch == "%" else ch)
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


class _Fetched(Rows):
    """A typed query's rows, fetched before its transaction was rolled back (a cursor's interface)."""

    def __init__(self, description: Any, rows: list[tuple] | None, rolled_back: bool):
        super().__init__(description, rows)
        self.rolled_back = rolled_back


def connect_postgres(config: WarehouseConfig, dsn: str, *, create: bool, read_only: bool,
                     build_hint: str, lock_timeout: float | None = None) -> PostgresWarehouse:
    """Connect to the database `dsn` names (which must exist: martops never creates databases).

    Raises ConfigError with host and database, never the password, when the server does not
    answer, refuses the login, or has no such database; when a command that only reads finds no
    martops warehouse in it (no `ops` schema) the error ends with `build_hint`.
    """
    import psycopg

    shown = describe_dsn(dsn)
    try:
        con = psycopg.connect(dsn, autocommit=True, connect_timeout=config.connect_timeout_seconds,
                              application_name="martops")
    except psycopg.Error as exc:
        raise ConfigError(f"cannot connect to the PostgreSQL warehouse {shown}: {_reason(exc)}") from None
    try:
        # PostgreSQL's sum of a bigint and avg are `numeric`; martops' measures are doubles, so a
        # numeric result reads as one (Ibis expects the float64 it typed, not a Decimal)
        from psycopg.types.numeric import FloatLoader

        con.adapters.register_loader("numeric", FloatLoader)
        backend = ibis.postgres.from_connection(con)
        missing: list[str] = []
        if read_only:
            con.execute("SET default_transaction_read_only = on")
        elif create:
            _take_lock(con, shown, config.lock_timeout_seconds if lock_timeout is None else lock_timeout)
            missing = [s for s in SCHEMAS if not con.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                                                            [s]).fetchone()]
            for schema in missing:
                try:
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                except psycopg.errors.InsufficientPrivilege:
                    raise ConfigError(f"the PostgreSQL warehouse {shown}: this login may not create the schemas "
                                      f"{', '.join(missing)}; ask the database's owner to GRANT CREATE "
                                      "ON DATABASE to it, or to run the first build") from None
        else:
            _take_lock(con, shown, config.lock_timeout_seconds if lock_timeout is None else lock_timeout)
        if not create:
            found = con.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'ops'").fetchone()
            if not found:
                raise ConfigError(f"the PostgreSQL database {shown} holds no martops warehouse (nothing was created); "
                                  f"check --warehouse or warehouse.dsn in martops.yml, or {build_hint}")
    except BaseException:
        con.close()
        raise
    wh = PostgresWarehouse(backend, shown, config, read_only=read_only)
    wh.created_schemas = missing
    return wh


def _take_lock(con: Any, shown: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    warned = False
    while not con.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()[0]:
        if time.monotonic() >= deadline:
            holder = con.execute(
                "SELECT a.pid, a.application_name, a.client_addr FROM pg_locks l JOIN pg_stat_activity a "
                "USING (pid) WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s LIMIT 1",
                [LOCK_KEY & 0xFFFFFFFF]).fetchone()
            who = f" (server process {holder[0]})" if holder else ""
            raise MartopsError(f"warehouse {shown} is in use by another martops process{who} (waited {timeout:g} s); "
                               "wait for it to finish, raise warehouse.lock_timeout_seconds, or point --warehouse "
                               "elsewhere")
        if not warned:
            log.warning("warehouse %s is in use by another martops process; waiting up to %g s", shown, timeout)
            warned = True
        time.sleep(min(0.25, max(deadline - time.monotonic(), 0.01)))


def _reason(exc: BaseException) -> str:
    """The one line that says why a connection failed, with what to do; never the password."""
    lines = [" ".join(line.split()) for line in str(exc).splitlines() if line.strip()]
    text = "; ".join(lines)  # libpq's lines ("... Connection refused", "Is the server running ...?")
    password = os.environ.get("PGPASSWORD")
    if password:
        text = text.replace(password, "***")
    low = text.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        m = re.search(r'for user "([^"]*)"', text)
        who = f" of user {m.group(1)}" if m else ""
        if "no password supplied" in low:
            return f"the server asks a password{who} and none was given; {PASSWORD_HINT}"
        # PostgreSQL answers the same for an unknown user, on purpose: say both
        where = ("the password in PGPASSWORD" if password else
                 "the password libpq found (~/.pgpass or the service file)")
        return (f"the server refused the login{who}: no such user, or {where} is wrong (the DSN's user "
                "defaults to the operating-system user when it names none)")
    if "does not exist" in low and "database" in low:
        return "no such database on that server (martops does not create databases: createdb it first)"
    if "connection refused" in low or "timeout" in low or "could not translate host" in low or "no route" in low:
        return f"no PostgreSQL server answers there ({lines[0].split(':')[-1].strip() if lines else text})"
    return text
