"""Writing result tables to CSV or Parquet, atomically, for every `--export`/`--out` flag."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from martops.errors import ConfigError


def write_table(data: pa.Table, out: Path) -> None:
    """The suffix picks the format; a reader never sees half a file (written aside, then renamed)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ConfigError(f"{out}: export to a .csv or a .parquet file (got {suffix or 'no suffix'!r})")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    if suffix == ".csv":
        pacsv.write_csv(data, tmp)
    else:
        pq.write_table(data, tmp)
    tmp.replace(out)
