"""Typing raw text rows, splitting them into loadable rows and quarantined rows with reasons.

A source hands over every column as text plus `_row` (its row number: SQLite rowid, CSV line).
Each field declares its type, whether it is required and which values it accepts. A row loads
only if every field parses, no required field is NULL and its key is neither NULL nor duplicated;
otherwise it goes to `ops.quarantine` with the first bad column, its raw value, every reason and
the whole raw row as JSON. All of it is Ibis, so it runs where the warehouse runs.

Duplicate keys: exact copies collapse onto the first row (the others are quarantined as copies
of it); copies that differ are all quarantined, because no rule can tell which one is right,
unless the spec declares a `Keep` rule for rows that differ only in fields it may decide on (a
conversion delivered twice with two times: keep the earliest).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Callable

import ibis
import ibis.expr.types as ir

ROW = "_row"


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    dtype: str = "string"
    """Ibis type the text must parse as."""
    expected: str = "text"
    """What a good value looks like, for the reason: 'a date YYYY-MM-DD'."""
    required: bool = False
    accepted: tuple[Any, ...] | None = None
    parse: Callable[[ir.Table], ir.Value] | None = None
    """A parser for values a cast cannot judge (ids, placeholders, codes): given the raw table, the
    typed value, NULL where the text is not valid. It may use other columns of the row."""
    hint: Callable[[ir.Table], ir.StringValue] | None = None
    """Text appended to the reason of a value that does not parse, where it says more (NULL: nothing),
    e.g. the setting that would read it: "(it looks like a decimal comma; declare ...)"."""

    reject: tuple[tuple[Callable[[ir.Value], ir.BooleanValue], str], ...] = ()
    """Rules on the parsed value a type cannot express: (condition that rejects the row, why), e.g.
    a negative revenue 'is a refund, not a conversion'. The reason reads `<field> '<text>' <why>`."""

    @property
    def parsed(self) -> bool:
        return self.dtype != "string" or self.parse is not None


@dataclasses.dataclass(frozen=True)
class Keep:
    """Rows sharing a key that differ only in `decides` fields are one record delivered twice (a page
    reload); keep the first of them in `order` (`descending` for the last), or reject them all.

    Rows that also differ in any other field are a real conflict and are all quarantined, whatever
    the policy. Ties in `order` go to the lower row number.
    """

    order: Callable[[ir.Table], list[ir.Value]]
    """Sort keys over the typed table (`t_<field>` columns), e.g. the parsed date and time."""
    decides: tuple[str, ...]
    word: str
    """What is kept, for the reason: 'earliest'."""
    setting: str
    """The setting that chose this, for the reason: 'attribution.duplicate_conversions: earliest'."""
    descending: bool = False
    reject: bool = False


@dataclasses.dataclass(frozen=True)
class RawSpec:
    table: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    partition: str | None = None
    """Date field that scopes a range load; rows whose date does not parse belong to every range."""
    keep: Keep | None = None
    """How duplicates differing only in some fields are resolved (None: all quarantined)."""
    null_values: tuple[str, ...] = ()
    """Texts that mean missing besides an empty cell (the source's declared null markers), compared
    trimmed and case-insensitively. The raw text is kept; only the typed value is NULL."""

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


def _null() -> ir.StringValue:
    return ibis.null("string")


def missing(text: ir.StringValue, null_values: tuple[str, ...] = ()) -> ir.BooleanValue:
    """The cell is missing: NULL, empty or blank, or one of the declared null markers."""
    s = text.strip()
    # only a text starting with whitespace can be blank: trimming millions of ids costs seconds
    blank = ibis.ifelse(text.left(1).isin([" ", "\t", "\n", "\r", "\v", "\f"]), s == "", text == "")
    empty = text.isnull() | blank
    if not null_values:
        return empty
    return empty | s.lower().isin([v.strip().lower() for v in null_values])


def _quote(v: ir.StringValue) -> ir.StringValue:
    return ibis.literal("'") + v + ibis.literal("'")


def duplicate_keys(raw: ir.Table, spec: RawSpec) -> ir.Table:
    """Keys held by several rows: how many, how many distinct rows, the first row number."""
    whole = ibis.struct({f.name: raw[f.name] for f in spec.fields}).cast("json").cast("string")
    r = raw.mutate(_whole=whole)
    extra = {}
    if spec.keep is not None:
        same = ibis.struct({f.name: raw[f.name] for f in spec.fields if f.name not in spec.keep.decides})
        r = r.mutate(_same=same.cast("json").cast("string"))
        extra["_dup_same"] = r._same.nunique()
    g = r.group_by(list(spec.key)).aggregate(
        _dup_n=r.count(), _dup_variants=r._whole.nunique(), _dup_first=r[ROW].min(), **extra,
    )
    g = g.filter(g._dup_n > 1)
    return g if spec.keep is None else _kept_rows(raw, spec, g)


def _kept_rows(raw: ir.Table, spec: RawSpec, dups: ir.Table) -> ir.Table:
    """`dups` plus `_dup_keep`: the row the Keep rule keeps, for keys whose rows differ only in the
    fields it decides on (NULL elsewhere, and under `reject`). Rows that load win over rows that
    cannot; the window runs over the duplicated rows only."""
    keep = spec.keep
    assert keep is not None
    if keep.reject:
        return dups.mutate(_dup_keep=ibis.null("int64"))
    resolvable = dups.filter((dups._dup_variants > 1) & (dups._dup_same == 1))
    sub = raw.semi_join(resolvable, list(spec.key))
    typed = {f"t_{f.name}": _typed(sub, f, spec.null_values) for f in spec.fields}
    sub = sub.mutate(**typed, _parses=_loadable(sub, spec, typed, duplicates=False).cast("int8"))
    order = [ibis.desc(v) if keep.descending else v for v in keep.order(sub)]
    rank = ibis.row_number().over(group_by=list(spec.key), order_by=[ibis.desc(sub._parses), *order, sub[ROW]])
    ranked = sub.mutate(_rank=rank)
    winners = ranked.filter(ranked._rank == 0).select(*spec.key, _dup_keep=ranked[ROW].cast("int64"))
    j = dups.left_join(winners, list(spec.key))
    return j.drop(*[f"{k}_right" for k in spec.key])


def _problems(t: ir.Table, spec: RawSpec, typed: dict[str, ir.Value],
              duplicates: bool) -> list[tuple[str, ir.BooleanValue, ir.StringValue]]:
    """(column, condition, reason text) for every way a row can fail to load."""
    out: list[tuple[str, ir.BooleanValue, ir.StringValue]] = []
    for f in spec.fields:
        text, value = t[f.name], typed[f"t_{f.name}"]
        empty = missing(text, spec.null_values)
        if f.parse is not None and (f.required or f.name in spec.key):
            out.append((f.name, empty & value.isnull(), ibis.literal(f"{f.name} is NULL or empty (required)")))
        elif f.required or f.name in spec.key:
            why = "is NULL or empty (a key)" if f.name in spec.key else "is NULL or empty (required)"
            out.append((f.name, empty, ibis.literal(f"{f.name} {why}")))
        if f.parsed:
            why = ibis.literal(f"{f.name} ") + _quote(text) + f" is not {f.expected}"
            if f.hint is not None:
                why = why + f.hint(t).fill_null("")
            out.append((f.name, ~empty & value.isnull(), why))
        if f.accepted is not None:
            off = value.notnull() & value.notin(list(f.accepted))
            out.append((f.name, off, ibis.literal(f"{f.name} ") + _quote(text) + f" is not {f.expected}"))
        for rejects, why in f.reject:
            out.append((f.name, value.notnull() & rejects(value), ibis.literal(f"{f.name} ") + _quote(text) + f" {why}"))
    if duplicates:
        key_text = ibis.literal(", ".join(spec.key))
        conflicting = t._dup_n.notnull() & (t._dup_variants > 1)
        copy = t._dup_n.notnull() & (t._dup_variants == 1) & (t[ROW] != t._dup_first)
        key_value = _quote(t[spec.key[0]].cast("string"))
        beyond = ""
        if spec.keep is not None:
            only = t._dup_same == 1
            conflicting = conflicting & ~only
            beyond = f" (not only in {', '.join(spec.keep.decides)})"
            resolved = t._dup_n.notnull() & (t._dup_variants > 1) & only
            if spec.keep.reject:
                out.append((spec.key[0], resolved, ibis.literal(f"duplicate {', '.join(spec.key)} ") + key_value
                            + ": " + t._dup_n.cast("string") + f" rows differ only in {', '.join(spec.keep.decides)}"
                            + f"; all rejected ({spec.keep.setting})"))
            else:
                dropped = resolved & (t[ROW] != t._dup_keep)
                out.append((spec.key[0], dropped, ibis.literal(f"duplicate {', '.join(spec.key)} ") + key_value
                            + f": kept the {spec.keep.word} (row " + t._dup_keep.cast("string")
                            + f"; {spec.keep.setting})"))
        out.append((spec.key[0], conflicting, ibis.literal("conflicting duplicates: ") + t._dup_n.cast("string")
                    + " rows share " + key_text + " " + key_value + " with different values" + beyond))
        out.append((spec.key[0], copy, ibis.literal("exact duplicate of row ") + t._dup_first.cast("string")))
    return out


def annotate(raw: ir.Table, spec: RawSpec, *, check_duplicates: bool) -> ir.Table:
    """`raw` plus typed fields (`t_<name>`) and `_ok` (the row can load).

    Reasons are strings, costly to build for millions of good rows, so `reasons()` adds them
    only to rows already known to be bad.
    """
    t = raw
    duplicates = check_duplicates and bool(spec.key)
    if duplicates:
        dups = duplicate_keys(raw, spec)
        t = raw.left_join(dups, [raw[k] == dups[k] for k in spec.key]).drop(*[f"{k}_right" for k in spec.key])
    typed = {f"t_{f.name}": _typed(t, f, spec.null_values) for f in spec.fields}
    return t.mutate(**typed, _ok=_loadable(t, spec, typed, duplicates))


def _typed(t: ir.Table, f: Field, null_values: tuple[str, ...]) -> ir.Value:
    if f.parse is not None:
        return f.parse(t)  # a parser decides what a marker means (a missing country may become ZZ)
    value = t[f.name] if f.dtype == "string" else t[f.name].try_cast(f.dtype)
    if null_values:  # a null marker in a text column is missing, not the text "NULL"
        value = ibis.ifelse(missing(t[f.name], null_values), ibis.null(value.type()), value)
    return value


def _loadable(t: ir.Table, spec: RawSpec, typed: dict[str, ir.Value], duplicates: bool) -> ir.BooleanValue:
    """The negation of every `_problems` condition, written to be cheap on millions of good rows."""
    conds = []
    for f in spec.fields:
        text, value = t[f.name], typed[f"t_{f.name}"]
        required = f.required or f.name in spec.key
        if f.parse is not None:
            # a parser may fill an empty text (a default, a value derived from another column)
            conds.append(value.notnull() if required else value.notnull() | missing(text, spec.null_values))
        elif f.dtype == "string":
            if required:
                conds.append(~missing(text, spec.null_values))
        else:
            conds.append(value.notnull() if required else value.notnull() | missing(text, spec.null_values))
        if f.accepted is not None:
            conds.append(value.isnull() | value.isin(list(f.accepted)))
        for rejects, _ in f.reject:
            conds.append(value.isnull() | ~rejects(value))
    if duplicates:
        kept = (t._dup_variants == 1) & (t[ROW] == t._dup_first)
        if spec.keep is not None:
            kept = kept | (t[ROW] == t._dup_keep)
        conds.append(t._dup_n.isnull() | kept)
    return ibis.and_(*conds).fill_null(False) if conds else ibis.literal(True)


def reasons(t: ir.Table, spec: RawSpec) -> ir.Table:
    """Bad rows of an annotated table with `_reason` (every problem) and `_bad_column` (the first)."""
    bad = t.filter(~t._ok)
    typed = {f"t_{f.name}": bad[f"t_{f.name}"] for f in spec.fields}
    problems = _problems(bad, spec, typed, "_dup_n" in bad.columns)
    reason = ibis.literal("; ").join([ibis.ifelse(cond, text, _null()) for _, cond, text in problems])
    first_col = ibis.cases(*[(cond, col) for col, cond, _ in problems], else_=_null())
    return bad.mutate(_reason=reason, _bad_column=first_col)


def with_place(bad: ir.Table, file_name: str, header: dict[str, str], unit: str = "line") -> ir.Table:
    """Reasons of `reasons()` prefixed with where the value is: `customers.csv line 12, column
    Email: ...` (`header`: canonical column -> the header the file spells it with; `unit`: what
    `_row` counts, `rowid` for a SQLite table)."""
    column = ibis.cases(*[(bad._bad_column == c, ibis.literal(h)) for c, h in header.items()], else_=bad._bad_column)
    place = ibis.literal(f"{file_name} {unit} ") + bad[ROW].cast("string") + ", column " + column + ": "
    return bad.mutate(_reason=place + bad._reason)


def in_scope(t: ir.Table, spec: RawSpec, lo: dt.date | None, hi: dt.date | None) -> ir.Table:
    """Rows a load of [lo, hi] owns: partition date in range, or unreadable (owned by every range)."""
    if spec.partition is None or hi is None:
        return t
    d = t[f"t_{spec.partition}"]
    inside = d <= hi if lo is None else d.between(lo, hi)
    return t.filter(inside | d.isnull())


def quarantine_rows(t: ir.Table, spec: RawSpec, source: str, run_id: str, now: dt.datetime) -> ir.Table:
    """The rejected rows of an annotated table (after `reasons`), in `ops.quarantine`'s shape."""
    bad = t
    whole = ibis.struct({f.name: bad[f.name] for f in spec.fields}).cast("json").cast("string")
    raw_value = ibis.cases(*[(bad._bad_column == f.name, bad[f.name]) for f in spec.fields], else_=_null())
    if not spec.key:
        key = _null()
    elif len(spec.key) == 1:
        key = bad[spec.key[0]]
    else:
        key = ibis.literal("|").join([bad[k] for k in spec.key])
    return bad.select(
        run_id=ibis.literal(run_id), quarantined_at=ibis.literal(now, type="timestamp"),
        source=ibis.literal(source), table_name=ibis.literal(spec.table),
        row_number=bad[ROW].cast("int64"), row_key=key.cast("string"), column_name=bad._bad_column,
        raw_value=raw_value, reason=bad._reason, raw_row=whole,
        partition_date=bad[f"t_{spec.partition}"] if spec.partition else ibis.null("date"),
    )
