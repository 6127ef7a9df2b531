"""Hypothesis strategies that damage a small valid delivery the ways real exports get damaged, and
the invariants every source must keep on any input (used by test_fuzz_sources.py).

A delivery is `{file name: (header, rows)}`; a `Damage` is a list of mutations applied to it and
to its serialised bytes: cells replaced by hard text, header changes, another delimiter, bytes
inserted (invalid UTF-8, NUL, BOM) and truncation.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import re
import shutil
from pathlib import Path

import duckdb
from hypothesis import strategies as st

from ..cli_runner import Outcome, run_cli_unfixtured

Delivery = dict[str, tuple[list[str], list[list[str]]]]

HARD_TEXT = [
    "", " ", "inf", "-inf", "Infinity", "1e309", "NaN", "nan", "NULL", "N/A", "#N/A", "-", "1,234.5", "1.234,5",
    "1234,50", "$ 1 234.50", "€87.17", "-0", "0.5", "1.0", "0x1", "-1", "99999999999999999999999",
    "9:10:00 PM", "12:00 AM", "24:00:00", "25:61:00", "10:15:00Z", "11:45:00+02:00", "10:00:00+0200", "10:00-05",
    "2023-09-01", "2023-09-01 00:00:00", "2023-09-06T08:03:10Z", "2023-02-30", "01/02/2023", "01.09.2023",
    "2023-09-01T23:30:00-05:00", "0001-01-01", "9999-12-31", "\"quoted\"", "a,b", "line\nbreak", "cr\r\nlf",
    "'; DROP TABLE staging.sessions; --", "Ωmega", "Łukasz", "محمد", "😀", "\u00a0", "\ufeff", "\\N", "{}",
]
cell_text = st.one_of(st.sampled_from(HARD_TEXT), st.text(max_size=12),
                      st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6))


@st.composite
def cell_edit(draw):
    return ("cell", draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6)), draw(cell_text))


@st.composite
def header_edit(draw):
    kind = draw(st.sampled_from(["upper", "spaces", "duplicate", "drop", "extra", "rename", "swap"]))
    return ("header", kind, draw(st.integers(0, 10**6)), draw(cell_text))


delimiter_edit = st.tuples(st.just("delimiter"), st.sampled_from([";", "|", "\t", " "]))
byte_edit = st.one_of(
    st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from(
        [b"\xff", b"\xc3", b"\x00", b"\xef\xbb\xbf", b"\r", b"\n", b"\"", b"\xe2\x80\xa8", b"\x1a"])),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=6)),
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("replace"), st.binary(max_size=40)),
)
mutation = st.one_of(cell_edit(), cell_edit(), cell_edit(), header_edit(), delimiter_edit, byte_edit)


@st.composite
def damage(draw, files: list[str]) -> list[tuple[str, tuple]]:
    """1 to 4 mutations, each on one file of the delivery."""
    return draw(st.lists(st.tuples(st.sampled_from(files), mutation), min_size=1, max_size=4))


def _edit_header(header: list[str], rows: list[list[str]], kind: str, at: int, text: str):
    i = at % len(header)
    header, rows = list(header), [list(r) for r in rows]
    if kind == "upper":
        header[i] = header[i].upper()
    elif kind == "spaces":
        header[i] = f"  {header[i]} "
    elif kind == "duplicate":
        header.append(header[i].swapcase())
        rows = [r + [r[i] if i < len(r) else ""] for r in rows]
    elif kind == "drop":
        del header[i]
        rows = [r[:i] + r[i + 1:] for r in rows]
    elif kind == "extra":
        header.append(text or "extra")
        rows = [r + [text] for r in rows]
    elif kind == "rename":
        header[i] = text
    elif kind == "swap":
        j = (i + 1) % len(header)
        header[i], header[j] = header[j], header[i]
    return header, rows


def apply(delivery: Delivery, edits: list[tuple[str, tuple]]) -> tuple[dict[str, bytes], set[str]]:
    """The damaged files as bytes, and the names of files whose record structure changed (so their
    number of records is no longer the number of rows written)."""
    tables = {name: (list(h), [list(r) for r in rows]) for name, (h, rows) in delivery.items()}
    delimiters = {name: "," for name in tables}
    byte_edits: dict[str, list[tuple]] = {name: [] for name in tables}
    structural: set[str] = set()
    for name, edit in edits:
        header, rows = tables[name]
        if edit[0] == "cell" and rows:
            row = rows[edit[1] % len(rows)]
            row[edit[2] % len(row)] = edit[3]
        elif edit[0] == "header":
            tables[name] = _edit_header(header, rows, *edit[1:])
        elif edit[0] == "delimiter":
            delimiters[name] = edit[1]
        elif edit[0] in ("insert", "truncate", "replace"):
            byte_edits[name].append(edit)
            structural.add(name)
    out = {}
    for name, (header, rows) in tables.items():
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=delimiters[name], lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        data = buf.getvalue().encode("utf-8")
        for edit in byte_edits[name]:
            if edit[0] == "insert":
                at = int(edit[1] * len(data))
                data = data[:at] + edit[2] + data[at:]
            elif edit[0] == "truncate":
                data = data[: int(edit[1] * len(data))]
            else:
                data = edit[1]
        out[name] = data
    return out, structural


def write(folder: Path, files: dict[str, bytes]) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def run(workdir: Path, *args) -> Outcome:
    """The CLI in-process from `workdir`, so an unexpected error's log lands there, not in the repo."""
    with contextlib.chdir(workdir):
        return run_cli_unfixtured(*args)


def assert_clean_exit(res: Outcome, what: str) -> None:
    assert res.code in (0, 1), f"{what}: exit {res.code}\n{res.out}\n{res.err}"
    for text in (res.out, res.err):
        assert "Traceback" not in text and "unexpected" not in text, f"{what}: {text}"


def contents(path: Path, skip_schemas: tuple[str, ...] = ("ops",)) -> dict[str, list[tuple]]:
    """Every table's rows (sorted, as text) outside `skip_schemas`: ops.runs, ops.check_results and
    kept quarantine rows record a failed run by design."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = con.sql("SELECT table_schema, table_name FROM information_schema.tables "
                        "WHERE table_type = 'BASE TABLE' ORDER BY 1, 2").fetchall()
        return {f"{s}.{t}": sorted(map(repr, con.sql(f'SELECT * FROM "{s}"."{t}"').fetchall()))
                for s, t in names if s not in skip_schemas}
    finally:
        con.close()


def query(path: Path, sql: str, *params) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def new_steps(path: Path, base: Baseline) -> list[tuple[str, str]]:
    """(step, status) of every step in ops.runs the baseline did not hold."""
    return [(step, status) for run, step, status in
            query(path, "SELECT run_id, step, status FROM ops.runs ORDER BY started_at") if run not in base.run_ids]


ACCOUNT = re.compile(r"(\w+) ([\d,]+)=([\d,]+)\+([\d,]+)")


def attribution_accounting(out: str) -> dict[str, tuple[int, int, int]]:
    """`{source table: (read, loaded, quarantined)}` from the ingest summary's `accounting=` cell."""
    flat = " ".join(re.sub(r"[│┃]", " ", out).split())
    at = flat.index("accounting=")
    return {t: tuple(int(x.replace(",", "")) for x in nums) for t, *nums in ACCOUNT.findall(flat[at:at + 400])}


@dataclasses.dataclass(repr=False)
class Baseline:
    """A warehouse built by a good run, copied fresh for each example."""

    path: Path
    tables: dict[str, list[tuple]]
    run_ids: set[str]

    @classmethod
    def of(cls, path: Path) -> Baseline:
        return cls(path, contents(path), {r for r, in query(path, "SELECT run_id FROM ops.runs")})

    def __repr__(self) -> str:
        return f"Baseline({self.path.name})"

    def copy_to(self, target: Path) -> Path:
        for suffix in ("", ".wal"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        shutil.copy(self.path, target)
        return target

