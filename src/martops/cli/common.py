"""Flags and helpers every command group shares: the project file, the warehouse, dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer

from martops.config import ProjectConfig, load_config
from martops.engine import Warehouse, connect
from martops.errors import ConfigError

WAREHOUSE = typer.Option(None, "--warehouse", "-w", help="DuckDB warehouse file (default: martops.yml's, else ./warehouse.duckdb).")
CONFIG = typer.Option(None, "--config", "-c", help="Project file (default: ./martops.yml if present).")


def parse_date(value: Optional[str], flag: str) -> Optional[dt.date]:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{flag} {value!r} is not a date; use YYYY-MM-DD, e.g. 2023-09-01") from None


def open_warehouse(config: Optional[Path], warehouse: Optional[Path]) -> tuple[ProjectConfig, Warehouse]:
    cfg = load_config(config)
    wh = connect(cfg.warehouse, path=warehouse) if warehouse else connect(cfg.warehouse)
    return cfg, wh


