"""Start the dashboard: every check that can fail before Streamlit starts, then its server here.

A mistyped --warehouse, a warehouse with nothing to show, a port in use or a host that does not
resolve are one-line errors before anything listens. Streamlit then runs in this process (no
second interpreter to start, and Ctrl-C reaches it directly: it stops the server and returns).
Its settings are fixed here, over any `.streamlit/config.toml`: headless, no usage statistics
(the page makes no request beyond the server), no file watching (this is not a development
server), and the viewer's toolbar only.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from martops import domains
from martops.engine import Warehouse
from martops.errors import ConfigError

APP = Path(__file__).with_name("app.py")
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
SETTINGS = {
    "server.headless": True,
    "browser.gatherUsageStats": False,
    "server.fileWatcherType": "none",
    "server.runOnSave": False,
    "server.showEmailPrompt": False,
    "server.enableStaticServing": False,
    "client.toolbarMode": "viewer",
    "client.showErrorDetails": "none",
    "client.showErrorLinks": False,
    "global.developmentMode": False,
    # a section's "Show <week>" button sets the date range through session state, on purpose
    "global.disableWidgetStateDuplicationWarning": True,
}
"""Streamlit's settings for every launch (flags win over config.toml files)."""


def has_report_tables(wh: Warehouse) -> bool:
    """Whether any domain with a report section has built a table here."""
    tables = {name for name, _, _ in wh.relations()}
    return any(t.name in tables for d in domains.DOMAINS if d.report is not None for t in d.tables)


def check_warehouse(wh: Warehouse) -> None:
    """ConfigError for a warehouse with nothing a section could show."""
    if not has_report_tables(wh):
        raise ConfigError(f"{wh.location}: no domain has built its tables here yet, so the dashboard would show "
                          "nothing; run `martops run` (or a domain's build, e.g. `martops kpis build --source "
                          "exports/`) first")


def check_port(host: str, port: int) -> None:
    """ConfigError when `host` does not resolve or `port` cannot be listened on there (in use,
    or reserved), naming what to do."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host!r}: not an address of this machine ({exc.strerror}); "
                          "use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is free
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"--port {port}: already in use on {host} (another dashboard?); pick another, "
                                  f"e.g. --port {port + 1}") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise ConfigError(f"--host {host!r}: not an address of this machine; use 127.0.0.1 or "
                                  "0.0.0.0") from None
            raise ConfigError(f"--port {port} on {host}: cannot listen there ({exc.strerror})") from None


def serve(host: str, port: int, args: list[str]) -> None:
    """Run the server until Ctrl-C (or SIGTERM); `args` reach `app.py` as its argv."""
    from streamlit import config as st_config
    from streamlit.web import bootstrap

    st_config._main_script_path = str(APP)  # noqa: SLF001 - as `streamlit run` sets it before loading the config
    options = {**SETTINGS, "server.address": host, "server.port": port, "browser.serverAddress": host,
               "browser.serverPort": port}
    flags = {key.replace(".", "_"): value for key, value in options.items()}  # as `streamlit run`'s flags
    bootstrap.load_config_options(flags)
    bootstrap.run(str(APP), False, args, flags)
