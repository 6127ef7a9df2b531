"""Aggregated path files (ChannelAttribution's format) -> `Paths`.

Format: `;`-separated, UTF-8 (a BOM is skipped), CRLF or LF, fields may be quoted; a header
naming at least `path;total_conversions;total_conversion_value;total_null` (other columns are
ignored); `path` is the channels in visit order joined by ` > `; as in ChannelAttribution (sep=">") the
path is split at every `>` and spaces around a name are dropped (so a name cannot hold `>`;
spaces inside a name are kept).

Why two readers: Arrow reads the good file fast (1M rows in well under a second); only when Arrow
refuses the file or a value is wrong does a second, plain `csv` reading find the first bad record
and name its physical line and column, so every error is one line: `FILE line N, column C: ...`.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from martops.attribution.markov import Paths
from martops.errors import SourceError

COLUMNS = ("path", "total_conversions", "total_conversion_value", "total_null")
SEPARATOR = ">"
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def read_path_file(path: str | Path) -> Paths:
    """The file's rows as `Paths`, identical path strings summed first (a 1M-row file of 10k
    distinct paths becomes 10k rows), in order of first appearance. SourceError (one line: file,
    line, column, what was expected) for a missing or empty file, a missing column, a record of
    the wrong width, a value that is not a number, a negative or non-finite count, an empty path
    or an empty channel name."""
    path = Path(path)
    if path.is_dir():
        raise SourceError(f"{path} is a directory; give a path file ({';'.join(COLUMNS)})")
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not head.lstrip(b"\xef\xbb\xbf").strip():
        raise SourceError(f"{path}: the file is empty; expected a header {';'.join(COLUMNS)} and path rows")
    header = _header(path)
    try:
        table = pacsv.read_csv(
            path, parse_options=pacsv.ParseOptions(delimiter=";"),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),  # the names as matched
            convert_options=pacsv.ConvertOptions(include_columns=list(COLUMNS),
                                                 column_types={c: pa.string() for c in COLUMNS}))
        paths = _checked(table)
    except (pa.ArrowInvalid, _Invalid):
        _find_first_error(path, header)
        raise SourceError(f"{path}: cannot be read as a path file ({';'.join(COLUMNS)})") from None
    if paths is None:
        raise SourceError(f"{path}: the header is there but no path rows follow")
    if not paths.conversions.sum() > 0:
        raise SourceError(f"{path}: total_conversions sums to 0; there is no conversion to attribute")
    return paths


class _Invalid(Exception):
    """A value Arrow read but the format forbids; the `csv` reading then says where."""


def _header(path: Path) -> list[str]:
    with open(path, "rb") as raw:
        start = raw.read(4)
    if start[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(start) >= 2 and b"\x00" in start[:2]):
        raise SourceError(f"{path}: not UTF-8 text (it looks like UTF-16); save it as UTF-8 and run again")
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        header = [h.strip().lower() for h in next(csv.reader(fh, delimiter=";"), [])]
    twice = sorted({h for h in header if h in COLUMNS and header.count(h) > 1})
    if twice:
        raise SourceError(f"{path} line 1: column {twice[0]} appears twice in the header")
    missing = [c for c in COLUMNS if c not in header]
    if missing and len(header) == 1 and "," in header[0]:
        raise SourceError(f"{path} line 1: the fields are separated by ';' in a path file, and this header "
                          "has ','; export it with ';'")
    if missing:
        raise SourceError(f"{path} line 1: column {missing[0]} is missing from the header "
                          f"(expected {';'.join(COLUMNS)}, got {';'.join(header)})")
    return header


def _checked(table: pa.Table) -> Paths | None:
    if table.num_rows == 0:
        return None
    nums = {}
    for c in COLUMNS[1:]:
        values = pc.cast(pc.utf8_trim_whitespace(table[c]), pa.float64()).to_numpy(zero_copy_only=False)
        if not np.isfinite(values).all() or (c != "total_conversion_value" and (values < 0).any()):
            raise _Invalid(c)
        nums[c] = values
    # sum identical path strings (dictionary order = first appearance), then split only the distinct ones
    encoded = pc.dictionary_encode(table["path"].combine_chunks())
    slot = encoded.indices.to_numpy(zero_copy_only=False)
    keys = encoded.dictionary.to_pylist()
    sums = [np.bincount(slot, weights=nums[c], minlength=len(keys)) for c in COLUMNS[1:]]
    channels = []
    for text in keys:
        names = [n.strip() for n in text.split(SEPARATOR)]
        if not all(names):
            raise _Invalid("path")
        channels.append(names)
    return Paths(channels, sums[0], sums[1], sums[2]).aggregated()


def _find_first_error(path: Path, header: list[str]) -> None:
    """Raise SourceError for the first bad record, read with the `csv` module (physical lines)."""
    where = {c: header.index(c) for c in COLUMNS}
    with open(path, newline="", encoding="utf-8-sig", errors="strict") as fh:
        reader = csv.reader(fh, delimiter=";")
        try:
            next(reader)
            for record in reader:
                line = reader.line_num
                if not record:
                    continue
                if len(record) != len(header):
                    raise SourceError(f"{path} line {line}: {len(record)} field(s); the header has {len(header)}")
                _check_record(path, line, record, where)
        except UnicodeDecodeError as exc:
            raise SourceError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except csv.Error as exc:
            raise SourceError(f"{path} line {reader.line_num}: {exc}") from None


def _check_record(path: Path, line: int, record: list[str], where: dict[str, int]) -> None:
    text = record[where["path"]]
    names = [n.strip() for n in text.split(SEPARATOR)]
    if not text.strip():
        raise SourceError(f"{path} line {line}, column path: empty path; expected channels joined by ' > '")
    if not all(names):
        raise SourceError(f"{path} line {line}, column path: empty channel name in {text!r}; "
                          "expected channels joined by ' > '")
    for c in COLUMNS[1:]:
        raw = record[where[c]].strip()
        what = "a number" if c == "total_conversion_value" else "a count >= 0"
        if not _NUMBER.fullmatch(raw) or not math.isfinite(float(raw)):
            raise SourceError(f"{path} line {line}, column {c}: {raw!r} is not a number; expected {what}")
        if c != "total_conversion_value" and float(raw) < 0:
            raise SourceError(f"{path} line {line}, column {c}: {raw} is negative; expected {what}")
