"""Where `martops crm dedupe` reads records from (a CSV/Parquet file or a warehouse table) and how
its results are written, so the library function only ever sees an Arrow table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa

from martops.crm.dedupe.linker import DedupeResult
from martops.engine import Warehouse
from martops.errors import ConfigError, SourceError
from martops.export_files import write_table


TABLE_SUFFIXES = (".csv", ".parquet")


def check_output(path: Path, flag: str, suffixes: tuple[str, ...] | None = None) -> Path:
    """Fail before any work if `path` cannot be written: a folder where a file is meant, a folder
    that does not exist or is not writable, a suffix not in `suffixes`. Returns the path."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a folder; give a file name in it, e.g. {path / ('out' + (suffixes or ('.json',))[0])}")
    if suffixes and path.suffix.lower() not in suffixes:
        raise ConfigError(f"{flag} {path}: write a {' or '.join(suffixes)} file (got {path.suffix or 'no suffix'!r})")
    parent = path.parent
    if not parent.exists():
        raise ConfigError(f"{flag} {path}: the folder {parent} does not exist; create it first")
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path}: {parent} is not a writable folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{flag} {path}: the file exists and is not writable")
    return path


def read_file(path: Path) -> pa.Table:
    """Every CSV column as text: ids like 00123 or 20-digit numbers must survive exactly."""
    path = Path(path)
    if path.is_dir():
        raise SourceError(f"{path} is a directory; give a .csv or .parquet file of records, not a folder")
    if not path.is_file():
        raise SourceError(f"{path}: no such file; give a .csv or .parquet file of records")
    suffix = path.suffix.lower()
    con = duckdb.connect()
    try:
        if suffix == ".csv":
            rel = con.read_csv(str(path), header=True, all_varchar=True)
        elif suffix == ".parquet":
            rel = con.read_parquet(str(path))
        else:
            raise SourceError(f"{path}: read .csv or .parquet files (got {suffix or 'no suffix'!r})")
        return rel.fetch_arrow_table()
    except duckdb.Error as exc:
        raise SourceError(f"{path}: could not be read: {exc}") from exc
    finally:
        con.close()


def read_table(wh: Warehouse, name: str) -> pa.Table:
    if not wh.exists(name):
        raise SourceError(f"table {name} is not in the warehouse {wh.location}; name it schema.table, e.g. staging.customers")
    return wh.to_pyarrow(wh.table(name))


def write_clusters(result: DedupeResult, id_column: str, out: Path) -> int:
    """One row per input record: the user's id column name, then cluster_id and the evidence."""
    data = result.clusters.rename_columns([id_column, *result.clusters.column_names[1:]])
    write_table(data, out)
    return data.num_rows


def write_pairs(result: DedupeResult, id_column: str, out: Path) -> int:
    names = [f"{id_column}_l", f"{id_column}_r", *result.pairs.column_names[2:]]
    write_table(result.pairs.rename_columns(names), out)
    return result.pairs.num_rows


def write_model(result: DedupeResult, out: Path) -> None:
    Path(out).write_text(json.dumps(result.model, indent=2, default=str), encoding="utf-8")
