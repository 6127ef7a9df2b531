"""The one CSV reader of every domain: a file -> every column as text, plus `_row`, its physical line.

What a file must be, each fault a one-line `SourceError` naming the file (and line or column):
- a readable regular file (not a directory, not unreadable), UTF-8 (a BOM is allowed; the first
  line that is not UTF-8 is named), with a header line;
- separated by the declared delimiter (`sources.<domain>.delimiter`, default `,`): a header that
  is one column under it but splits on `;`, tab or `|` names the delimiter it found and the
  setting that declares it;
- no header column twice (compared trimmed and case-insensitively, as headers are matched).

Quoted fields may hold line breaks (LF or CRLF) in files of any size. `_row` is the physical line
where the record starts (the header is line 1), also when quoted fields span lines or blank lines
are skipped, so a quarantined row can be found with any editor. Only an empty cell is NULL; every
other text is kept for the typing rules (`sources.typed`) to judge, but for a NUL character
(U+0000), which becomes U+FFFD, the replacement character, before anything else sees it:
PostgreSQL cannot store a NUL in text, so keeping it would give DuckDB and PostgreSQL warehouses
different values from one file.
"""

from __future__ import annotations

import codecs
import dataclasses
import csv
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from martops.errors import SourceError

ROW = "_row"
CANDIDATES = {";": "';'", "\t": "a tab", "|": "'|'", ",": "','"}
_CHUNK = 1 << 24


def _shown(delimiter: str) -> str:
    return CANDIDATES.get(delimiter, repr(delimiter))


def check_readable(path: Path) -> None:
    """A regular file we may open; otherwise a one-line error saying what is there instead."""
    if not path.exists():
        raise SourceError(f"{path} does not exist")
    if path.is_dir():
        raise SourceError(f"{path} is a directory; expected a CSV file")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise SourceError(f"{path} cannot be read: {exc.strerror or exc}") from exc


def _first_bad_utf8_line(path: Path) -> tuple[int, bytes] | None:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number, line[:80]
    return None


def _lines_before(path: Path, offset: int) -> int:
    """The physical line (from 1) holding byte `offset`, lines ending in LF, CRLF or CR as the csv
    module counts them."""
    lines, last, done = 1, b"", 0
    with path.open("rb") as fh:
        while done < offset and (chunk := fh.read(min(_CHUNK, offset - done))):
            lines += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
            if last == b"\r" and chunk[:1] == b"\n":
                lines -= 1
            last, done = chunk[-1:], done + len(chunk)
    return lines


def _unclosed_quote(path: Path, delimiter: str) -> int | None:
    """The byte offset of a quote that opens a field and is never closed, else None.

    Only called when the file holds an odd number of quotes, since a stray quote inside an unquoted
    field (`5" screen`) is text to both readers and must not be refused. A quote opens a field only
    at its start (after the delimiter or a line break) and `""` inside it is one quote, as the
    readers see it; jumping from quote to quote with bytes.find keeps this at C speed. UTF-8 never
    puts a quote, delimiter or line-break byte inside a longer character, so bytes are enough.
    """
    quote, starts = ord('"'), {delimiter.encode()[-1], ord("\n"), ord("\r")}
    inside, pending, opened, prev = False, False, 0, None
    with path.open("rb") as fh:
        first = base = len(codecs.BOM_UTF8) if fh.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8 else 0
        fh.seek(base)
        while chunk := fh.read(_CHUNK):
            pos = 0
            if pending:  # the chunk before ended on a quote inside a quoted field
                pending = False
                if chunk[0] == quote:
                    pos = 1
                else:
                    inside = False
            while True:
                i = chunk.find(b'"', pos)
                if i < 0:
                    break
                if inside:
                    if i + 1 == len(chunk):
                        pending = True
                    elif chunk[i + 1] == quote:
                        i += 1  # a doubled quote: one quote of text
                    else:
                        inside = False
                else:
                    before = chunk[i - 1] if i > 0 else prev
                    if base + i == first or before in starts:
                        inside, opened = True, base + i
                pos = i + 1
            prev, base = chunk[-1], base + len(chunk)
    return opened if inside and not pending else None


BINARY_KINDS = ((b"SQLite format 3\x00", "a SQLite database"), (b"PAR1", "a Parquet file"),
                (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one: save it as CSV UTF-8)"),
                (b"\x1f\x8b", "gzip-compressed (decompress it first)"), (b"%PDF", "a PDF document"),
                (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook (save it as CSV UTF-8)"))
"""Leading bytes of files people hand to a CSV reader by mistake, and what to call them."""


def _binary_kind(head: bytes) -> str | None:
    for magic, kind in BINARY_KINDS:
        if head.startswith(magic):
            return kind
    if len(head) > 8 and head[8:12] == b"DUCK":
        return "a DuckDB database"
    return None  # a stray NUL in text is read as U+FFFD, not refused


def scan(path: Path, delimiter: str = ",") -> int:
    """Check the whole file is UTF-8 (naming the first bad line), that no quote is left open, and
    count its physical lines. A database, workbook or archive is named as what it is, not
    reported as a line that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, last, quotes = 0, b"", 0
    try:
        with path.open("rb") as fh:
            kind = _binary_kind(fh.read(4096))
            if kind is not None:
                raise SourceError(f"{path} is {kind}, not a CSV text file; give the CSV export")
            fh.seek(0)
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
                quotes += chunk.count(b'"')
                lines += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
                if last == b"\r" and chunk[:1] == b"\n":
                    lines -= 1  # a CRLF split across two chunks was counted twice
                last = chunk[-1:]
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        bad = _first_bad_utf8_line(path)
        where = f"line {bad[0]} is not UTF-8 ({_short(bad[1])})" if bad else "the file ends inside a UTF-8 character"
        raise SourceError(f"{path}: {where}; save the export as UTF-8 and re-run") from None
    except OSError as exc:
        raise SourceError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    if quotes % 2 and (opened := _unclosed_quote(path, delimiter)) is not None:
        raise SourceError(f"{path} line {_lines_before(path, opened)}: a quote opens here and is never closed "
                          "(every line after it would be read as one field); close it or remove it")
    return lines + (1 if last not in (b"", b"\n", b"\r") else 0)


def _short(raw: bytes, limit: int = 40) -> str:
    text = repr(raw[:limit])
    return text + ("..." if len(raw) > limit else "")


@dataclasses.dataclass(frozen=True)
class Layout:
    """What `read_header` found: the column names (trimmed), the physical lines the header takes
    and the lines in the file."""

    names: list[str]
    header_lines: int
    lines: int


def read_header(path: Path, delimiter: str = ",", setting: str = "sources") -> Layout:
    """Check the file (readable, UTF-8, delimiter, unique columns) and read its header."""
    check_readable(path)
    lines = scan(path, delimiter)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise SourceError(f"{path}: line 1 is not a CSV header: {exc}") from exc
        header_lines = reader.line_num
    if not header or not any(h.strip() for h in header):
        raise SourceError(f"{path}: the file is empty; expected a header line")
    if len(header) == 1:
        for other, shown in CANDIDATES.items():
            if other != delimiter and other in header[0]:
                raise SourceError(
                    f"{path}: the header is separated by {shown}, not {_shown(delimiter)}; declare "
                    f"{setting}.delimiter: {other!r} in martops.yml")
    names = [h.strip() for h in header]
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        key = name.lower()
        if key in seen:
            raise SourceError(f"{path}: column {name!r} appears twice in the header (columns {seen[key]} and "
                              f"{position}); rename one")
        seen[key] = position
    return Layout(names, header_lines, lines)


def _records(path: Path, delimiter: str, header_lines: int) -> Iterator[tuple[int, list[str]]]:
    """(physical line the record starts on, its fields) for every non-empty record after the header,
    walking the file with Python's csv module (no field size limit meanwhile)."""
    old = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            next(reader, None)
            before = header_lines
            for record in reader:
                if record:
                    yield before + 1, record
                before = reader.line_num
    finally:
        csv.field_size_limit(old)


def _record_lines(path: Path, delimiter: str, header_lines: int) -> list[int]:
    """The physical line each record starts on (only for files where records and lines differ:
    quoted line breaks, blank lines)."""
    return [line for line, _ in _records(path, delimiter, header_lines)]


def _first_ragged_record(path: Path, delimiter: str, header_lines: int, width: int) -> tuple[int, int, str] | None:
    """(physical line, field count, its text cut short) of the first record whose field count is
    not the header's. Arrow's error names the record but no line; this second reading is only paid
    when Arrow has refused the file."""
    try:
        for line, record in _records(path, delimiter, header_lines):
            if len(record) != width:
                text = delimiter.join(record).replace("\r", " ").replace("\n", " ")
                return line, len(record), text if len(text) <= 80 else text[:77] + "..."
    except csv.Error:
        return None
    return None


def read_text_table(path: Path, layout: Layout, delimiter: str = ",") -> pa.Table:
    """Every column of the file (as `read_header` laid it out) as text, an empty cell NULL, plus
    `_row` (int64) first."""
    header, header_lines, lines = layout.names, layout.header_lines, layout.lines
    try:
        data = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=header_lines, encoding="utf-8"),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                 strings_can_be_null=True, null_values=[""]),
        )
    except pa.ArrowInvalid as exc:
        ragged = _first_ragged_record(path, delimiter, header_lines, len(header))
        if ragged is not None:
            line, fields, text = ragged
            raise SourceError(f"{path} line {line}: {fields} fields where the header has {len(header)} "
                              f"({text}); check the delimiter and quoting of that line") from exc
        raise SourceError(f"{path}: cannot be read as CSV separated by {_shown(delimiter)} with header "
                          f"{header}: {exc}".replace("\n", " ")) from exc
    n = data.num_rows
    if lines == header_lines + n:  # one record per line: numbering is arithmetic
        rows = pa.array(np.arange(header_lines + 1, header_lines + n + 1, dtype=np.int64))
    else:
        starts = _record_lines(path, delimiter, header_lines)
        if len(starts) != n:
            raise SourceError(f"{path}: its quoting is inconsistent ({n:,} records by one reading, {len(starts):,} "
                              "by another); check for an unclosed quote")
        rows = pa.array(starts, type=pa.int64())
    return without_nul(data).add_column(0, ROW, rows)


def without_nul(data: pa.Table) -> pa.Table:
    """`data` with U+0000 as U+FFFD in every text column (one scan per column when there is none:
    PostgreSQL cannot store a NUL, and both engines must hold the same text)."""
    import pyarrow.compute as pc

    for i, field in enumerate(data.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            col = data.column(i)
            if pc.any(pc.match_substring(col, "\x00")).as_py():
                data = data.set_column(i, field, pc.replace_substring(col, "\x00", "\ufffd"))
    return data
