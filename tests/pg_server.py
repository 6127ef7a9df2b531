"""A real PostgreSQL 15 server for the tests and benchmarks: a fresh cluster in a temp folder, on a
free loopback port, torn down after.

`initdb` and `pg_ctl` refuse to run as root, so as root they run as the `postgres` user
(`runuser -u postgres --`), and the cluster folder is handed to that user. The superuser
`martops` has a password (connections over TCP need it: scram-sha-256), so the tests can check
that a wrong password is refused and that the right one never shows in any output.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "martops"
PASSWORD = "s3cret-pw-7Qx"  # a test cluster's password: unique, so a leak is easy to grep for


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl (Debian keeps them off PATH), or None."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """`start()` creates and starts the cluster; `dsn(db)` names a database on it (no password:
    the tests pass it as PGPASSWORD); `stop()` removes everything."""

    def __init__(self, root: Path | None = None):
        self.bin = binaries()
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.root = Path(root or tempfile.mkdtemp(prefix="martops-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    def start(self) -> "PostgresServer":
        self.root.mkdir(parents=True, exist_ok=True)
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_root:
            shutil.chown(self.root, "postgres")
            shutil.chown(pwfile, "postgres")
            os.chmod(self.root, 0o700)
        try:
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}",
                      "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8")
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed: {exc.stderr}") from exc
        pwfile.unlink()
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50 "
                "-c shared_buffers=128MB")
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"),
                      "-w", "-t", "60", "start")
        except subprocess.CalledProcessError as exc:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {exc.stderr}{log}") from exc
        return self

    def dsn(self, db: str = "postgres", user: str = USER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str, *, icu_locale: str | None = None, locale: str | None = None) -> str:
        """A fresh, empty database `name` (dropped first if it exists); its DSN.

        The cluster's databases sort text as C.UTF-8 does (byte order, as DuckDB); a real server's
        default is a language's order, so `icu_locale` ('en-US') or a libc `locale` ('en_US.UTF-8')
        makes one that sorts like that (copied from template0: template1 has the cluster's locale).
        """
        import psycopg

        with psycopg.connect(self.dsn(), password=PASSWORD, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            # FILE_COPY: half the time of PostgreSQL 15's default (WAL_LOG copies template1 through the WAL)
            options = " STRATEGY FILE_COPY"
            if icu_locale:
                options += f" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '{icu_locale}' LOCALE 'C.UTF-8'"
            elif locale:
                options += f" TEMPLATE template0 LOCALE '{locale}'"
            con.execute(f'CREATE DATABASE "{name}"{options}')
        return self.dsn(name)

    def has_icu(self) -> bool:
        """Whether this server was built with ICU (then it lists ICU collations)."""
        import psycopg

        with psycopg.connect(self.dsn(), password=PASSWORD, autocommit=True) as con:
            return con.execute("SELECT 1 FROM pg_collation WHERE collprovider = 'i' LIMIT 1").fetchone() is not None

    def stop(self) -> None:
        if self.data.exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


if __name__ == "__main__":  # a quick manual check: start, connect, stop
    server = PostgresServer().start()
    try:
        import psycopg

        with psycopg.connect(server.dsn(), password=PASSWORD) as con:
            print(con.execute("SELECT version()").fetchone()[0])
        print(server.dsn())
        time.sleep(0)
    finally:
        server.stop()
