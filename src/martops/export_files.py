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
from typing import Callable, Collection

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from martops.errors import ConfigError, OutputError


def write_atomically(out: str | Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` to fill a hidden file beside `out`, then rename it to `out`.

    Raises OutputError (nothing left behind) when `out` is a directory or cannot be written.
    """
    out = Path(out)
    _not_a_directory(out)
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"cannot write {out}: {parent} is a file, not a folder")
            break
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {out.parent} for {out}: {exc.strerror or exc}") from exc
    tmp = out.with_name(f".{out.name}.partial")
    try:
        write(tmp)
        os.replace(tmp, out)
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {_reason(exc, tmp)}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _not_a_directory(out: Path) -> None:
    if out.is_dir():
        raise OutputError(f"{out} is a directory; give a file name, e.g. {out / 'export.csv'}")


def _reason(exc: OSError, tmp: Path) -> str:
    """Why a write failed, without the hidden file's name: the user gave `out`, never `tmp`, and
    Arrow's message names the file it opened ("Failed to open local file '.x.csv.partial'")."""
    if exc.errno:
        return os.strerror(exc.errno)
    return str(exc.strerror or exc).replace(str(tmp), str(tmp.parent / tmp.name[1:].removesuffix(".partial")))


MONEY_DIGITS, RATIO_DIGITS = 2, 6
"""CSV exports of reports round money to cents and every other fractional number (ratios, shares,
fractional credits) to 6 decimals: a spreadsheet shows what a person reads, and the text is stable."""


def csv_text(value: object, money: bool) -> str:
    """One CSV cell: empty for None (never inf/NaN), a float rounded as `rounded` does, without a
    trailing `.0`, so the text is stable run after run."""
    if value is None:
        return ""
    if isinstance(value, float):
        text = repr(round(value, MONEY_DIGITS if money else RATIO_DIGITS))
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def rounded(data: pa.Table, money: Collection[str]) -> pa.Table:
    """Float columns of `data` rounded: those in `money` to MONEY_DIGITS, the others to RATIO_DIGITS."""
    columns = []
    for name, column in zip(data.column_names, data.columns):
        if pa.types.is_floating(column.type):
            column = pc.round(column, MONEY_DIGITS if name in money else RATIO_DIGITS)
        columns.append(column)
    return pa.table(columns, names=data.column_names)


def write_table(data: pa.Table, out: Path, money: Collection[str] | None = None) -> None:
    """The suffix picks the format (.csv or .parquet). With `money` given (the names of the money
    columns, possibly none), a CSV's numbers are `rounded`; Parquet always keeps full precision."""
    out = Path(out)
    _not_a_directory(out)  # before the suffix: `--export adir` was told it had 'no suffix'
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ConfigError(f"{out}: export to a .csv or a .parquet file (got {suffix or 'no suffix'!r})")
    if suffix == ".csv":
        text = data if money is None else rounded(data, money)
        write_atomically(out, lambda tmp: pacsv.write_csv(text, tmp))
    else:
        write_atomically(out, lambda tmp: pq.write_table(data, tmp))


def write_rows(rows: list[dict], columns: list[str], out: str | Path,
               money: Collection[str] | None = None) -> int:
    """Rows a command shows (dicts keyed by column) to a .csv or .parquet file, columns in order;
    no rows writes the header (CSV) or an empty table. Returns the rows written; `money` and
    errors as `write_table`."""
    data = pa.Table.from_pylist(rows).select(columns) if rows else pa.table({c: [] for c in columns})
    write_table(data, Path(out), money)
    return data.num_rows
