"""Where the warehouse is: a DuckDB file path, a PostgreSQL DSN (postgresql://user@host:port/db),
or a Spark warehouse folder (spark:DIR, spark:DIR?master=MASTER).

A location with a scheme martops does not support, or a misspelt one, is an error: a URL must
never become the name of a new DuckDB file. A password never sits in a DSN martops reads (the
project file is shared, a command line shows in `ps`): it comes from the environment
(PGPASSWORD), a service file or ~/.pgpass, which libpq reads itself.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from urllib.parse import urlsplit

from martops.errors import ConfigError

SCHEMES = {"postgresql": "postgres", "postgres": "postgres", "spark": "spark"}
SPARK_FORM = "spark:DIR (the folder of the tables), or spark:DIR?master=MASTER (local[4], spark://host:7077, yarn)"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):(//)?")
PASSWORD_HINT = ("put the password in the PGPASSWORD environment variable, ~/.pgpass (mode 0600), or a service "
                 "file (PGSERVICEFILE, the service chosen by PGSERVICE), never in the DSN")


_SECRET_PARTS = [
    (re.compile(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)"), r"\1***"),   # key=value connection strings
    (re.compile(r"(?i)([?&]password=)[^&#\s]*"), r"\1***"),                        # ?password= in a URL
    (re.compile(r"([^\s:/@]+):[^\s@/]*@"), r"\1:***@"),                            # user:password@host
]
_DSN_LIKE = re.compile(r"(?i)^\s*postgres(ql)?\b|\b(host|hostaddr|dbname|user|password|port|sslmode)\s*=")


def redact(text: str) -> str:
    """`text` with anything that may be a password replaced by ***, for a message that must quote
    what a person typed (a DSN, a path that was meant to be one)."""
    for pattern, repl in _SECRET_PARTS:
        text = pattern.sub(repl, text)
    return text


@dataclasses.dataclass(frozen=True)
class Location:
    engine: str
    """'duckdb', 'postgres' or 'spark'."""
    target: str
    """The DuckDB file path, the DSN (which holds no password), or the Spark warehouse folder."""
    master: str | None = None
    """Spark: the master `?master=` named (None: the project file's)."""

    @property
    def shown(self) -> str:
        """How messages name it: the path, user@host:port/database, or spark:DIR."""
        if self.engine == "spark":
            return f"spark:{self.target}"
        return self.target if self.engine == "duckdb" else describe_dsn(self.target)


def describe_dsn(dsn: str) -> str:
    """`user@host:port/database` of a DSN as libpq reads it (query parameters such as ?port= win over
    the URL's), without any password (for messages)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - libpq could not read it at all; say so without echoing it
        return "postgresql://(a DSN libpq cannot read)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    hosts = (parts.get("host") or "localhost").split(",")
    ports = (parts.get("port") or "").split(",")
    if len(ports) == 1:
        ports = ports * len(hosts)
    where = ",".join(h + (f":{p}" if p else "") for h, p in zip(hosts, ports + [""] * len(hosts)))
    return f"postgresql://{user}{where}/{parts.get('dbname') or '(default database)'}"


def check_dsn(dsn: str, where: str) -> str:
    """`dsn` when it is a postgresql:// URL without a password; ConfigError naming `where` else."""
    m = _SCHEME.match(dsn)
    if not m or m.group(1).lower() not in SCHEMES or not m.group(2):
        raise ConfigError(f"{where}: {redact(dsn)!r} is not a PostgreSQL DSN; write "
                          "postgresql://user@host:port/database")
    dsn = m.group(1).lower() + dsn[len(m.group(1)):]  # libpq reads the scheme in lower case only
    try:
        parts = urlsplit(dsn)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"{where}: {describe_dsn(dsn)} is not a valid DSN ({exc}); write "
                          "postgresql://user@host:port/database") from None
    from urllib.parse import parse_qs

    if parts.password is not None or "password" in {k.lower() for k in parse_qs(parts.query)}:
        raise ConfigError(f"{where}: the DSN holds a password; {PASSWORD_HINT}")
    if not parts.path.strip("/"):
        raise ConfigError(f"{where}: {describe_dsn(dsn)} names no database; write postgresql://user@host:port/database")
    return dsn


def resolve(flag: str | None, engine: str, path: str, dsn: str | None, warehouse_dir: str | None = None) -> Location:
    """The location of `--warehouse` (`flag`) when given, else the project file's warehouse section."""
    if flag is not None:
        if not str(flag).strip():
            raise ConfigError("--warehouse is empty; give a DuckDB file path, postgresql://user@host:port/database "
                              "or spark:DIR (or leave the flag out for martops.yml's warehouse)")
        return _from_text(str(flag), "--warehouse")
    if engine == "postgres":
        return Location("postgres", check_dsn(dsn or "", "warehouse.dsn in martops.yml"))
    if engine == "spark":
        return Location("spark", str(warehouse_dir))
    where = _from_text(path, "warehouse.path in martops.yml")
    if where.engine == "postgres":
        raise ConfigError(f"warehouse.path in martops.yml is a DSN; write engine: postgres and dsn: "
                          f"{describe_dsn(path)} instead")
    if where.engine == "spark":
        raise ConfigError(f"warehouse.path in martops.yml is a Spark location; write engine: spark and "
                          f"warehouse_dir: {where.target} instead")
    return where


def _from_text(text: str, where: str) -> Location:
    """A path, or a URL whose scheme must be PostgreSQL's (a URL never becomes a file name)."""
    m = _SCHEME.match(text)
    if m and not m.group(2) and "@" in text and m.group(1).lower() not in SCHEMES:
        m = None  # user:password@host: a connection string without its scheme, said below
    if m and len(m.group(1)) > 1:  # one letter before ':' is a Windows drive, not a scheme
        scheme = m.group(1).lower()
        if scheme not in SCHEMES:
            near = difflib.get_close_matches(scheme, list(SCHEMES), n=1, cutoff=0.6)
            hint = f" (did you mean {near[0]}://?)" if near else ""
            raise ConfigError(f"{where} {redact(text)!r}: {scheme}:// is not a warehouse martops "
                              f"supports{hint}; give a DuckDB file path, postgresql://user@host:port/database "
                              "or spark:DIR")
        if SCHEMES[scheme] == "spark":
            return spark_location(text, where)
        return Location("postgres", check_dsn(text, where))
    if _DSN_LIKE.search(text) or re.search(r"[^\s/@]+:[^\s/@]*@[^\s/]+", text):
        raise ConfigError(f"{where} {redact(text)!r} looks like a PostgreSQL connection string but is not a "
                          "postgresql:// URL; write postgresql://user@host:port/database (the password from "
                          "PGPASSWORD or ~/.pgpass)")
    return Location("duckdb", text)


def spark_location(text: str, where: str) -> Location:
    """`spark:DIR` or `spark:DIR?master=MASTER`. A master URL alone (spark://host:7077) names where
    to compute, not where the tables are: refused, saying how to give both."""
    rest = text.split(":", 1)[1]
    if rest.startswith("//"):
        raise ConfigError(f"{where} {text!r} is a Spark master, not a warehouse: the warehouse is the folder of "
                          f"its tables; write spark:DIR?master={text}")
    folder, sep, query = rest.partition("?")
    master = None
    if sep:
        key, eq, value = query.partition("=")
        if key != "master" or not eq or not value.strip() or "&" in value:
            raise ConfigError(f"{where} {text!r}: after '?' only master=MASTER is read; write {SPARK_FORM}")
        master = value.strip()
    if not folder.strip():
        raise ConfigError(f"{where} {text!r} names no folder; write {SPARK_FORM}")
    return Location("spark", folder, master)
