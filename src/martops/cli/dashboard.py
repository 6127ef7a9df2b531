"""`martops dashboard`: the weekly report's sections in the browser, live and filterable."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from martops.cli.common import CONFIG, WAREHOUSE, open_warehouse
from martops.cli.render import console, console_err


def dashboard(
    port: int = typer.Option(8501, "--port", "-p", min=1, max=65535, help="The port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="The address to listen on: 127.0.0.1 (this machine only, the default) or 0.0.0.0 "
                                  "(every interface: anyone who can reach this machine sees the figures; there is "
                                  "no login)."),
    warehouse: Optional[str] = WAREHOUSE, config: Optional[Path] = CONFIG,
) -> None:
    """Serve the weekly report's sections as a Streamlit dashboard on the warehouse, read-only:
    attribution, campaign KPIs, CRM, loyalty, usage, lead scores and data health, with a date range,
    channels, countries, funnels and the attribution model in the sidebar. A section whose domain has no
    data here says which command loads it. Runs until Ctrl-C.

    The warehouse is opened read-only for each page view and closed after it, so pipelines keep
    writing while the dashboard runs.

    Example:

      martops dashboard

      martops dashboard --warehouse demo-out/warehouse.duckdb --port 8502
    """
    from martops.dashboard import launch

    _, wh = open_warehouse(config, warehouse, read_only=True)
    with wh:
        launch.check_warehouse(wh)
        location = wh.location
    launch.check_port(host, port)
    if host not in launch.LOOPBACK:
        console_err.print(f"warning: --host {host}: the dashboard has no login; anyone who can reach this machine "
                          "on that address sees the warehouse's figures", highlight=False, soft_wrap=True)
    shown = f"[{host}]" if ":" in host else host
    console.print(f"martops dashboard on {location} (read-only): http://{shown}:{port}  (Ctrl-C stops it)",
                  highlight=False, soft_wrap=True)
    args = [*(["--warehouse", warehouse] if warehouse is not None else []),
            *(["--config", str(config)] if config is not None else [])]
    launch.serve(host, port, args)
