"""Writing result files atomically, for every `--export`/`--out` flag: CSV or Parquet tables (a
warehouse result or the rows a command shows), and any file a writer function produces.

A reader never sees half a file: the data goes to a hidden file beside the target, which is then
renamed over it. Whatever goes wrong (a directory where the file should be, no permission, a full
disk, Ctrl-C), the hidden file is removed and the error is one OutputError line naming the path.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from martops.errors import ConfigError, OutputError


def write_atomically(out: str | Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` to fill a hidden file beside `out`, then rename it to `out`.

    Raises OutputError (nothing left behind) when `out` is a directory or cannot be written.
    """
    out = Path(out)
    if out.is_dir():
        raise OutputError(f"{out} is a directory; give a file name, e.g. {out / 'export.csv'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {out.parent} for {out}: {exc.strerror or exc}") from exc
    tmp = out.with_name(f".{out.name}.partial")
    try:
        write(tmp)
        os.replace(tmp, out)
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_table(data: pa.Table, out: Path) -> None:
    """The suffix picks the format (.csv or .parquet)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ConfigError(f"{out}: export to a .csv or a .parquet file (got {suffix or 'no suffix'!r})")
    if suffix == ".csv":
        write_atomically(out, lambda tmp: pacsv.write_csv(data, tmp))
    else:
        write_atomically(out, lambda tmp: pq.write_table(data, tmp))


def write_rows(rows: list[dict], columns: list[str], out: str | Path) -> int:
    """Rows a command shows (dicts keyed by column) to a .csv or .parquet file, columns in order;
    no rows writes the header (CSV) or an empty table. Returns the rows written; errors as
    `write_table`."""
    data = pa.Table.from_pylist(rows).select(columns) if rows else pa.table({c: [] for c in columns})
    write_table(data, Path(out))
    return data.num_rows
