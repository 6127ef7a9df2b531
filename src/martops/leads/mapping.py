"""A lead table's header resolved against `leads:` of martops.yml: which column is the id, the
label, the behaviour key, the company, and what every other column is (type, role, post-outcome).

Headers are matched trimmed and case-insensitively. A column named in martops.yml that the input
lacks is an error naming the setting and the header found. Columns not mapped are typed by their
values when `leads.unmapped: infer` (numeric if every given value is a number, boolean if every
one is a true/false text, else categorical; role fit), and the training report lists them.
Inference never turns a code into a quantity: a column of digits whose every value is distinct (an
identifier such as `Lead Number`), or with a leading zero (a postcode, a phone number), is left out
with its reason in the report; map it in leads.columns to use it.

Each column gets a warehouse name (`Lead Origin` -> `lead_origin`): lower case, runs of other
characters as `_`, at most 55 characters, made unique; the header stays for messages and reasons.
"""

from __future__ import annotations

import dataclasses
import re

import ibis.expr.types as ir

from martops.config_leads import ColumnType, LeadsConfig, Role
from martops.errors import ConfigError
from martops.sources import headers
from martops.sources.numbers import number
from martops.sources.typed import missing

RESERVED = {"lead_id", "label", "lead_key", "company", "_row", "_run_id", "as_of"}


@dataclasses.dataclass(frozen=True)
class Column:
    header: str
    """As the input writes it."""
    name: str
    """In the warehouse and the model."""
    type: ColumnType
    role: Role
    post_outcome: bool = False
    inferred: bool = False


@dataclasses.dataclass(frozen=True)
class Mapping:
    id: str
    """The id's header."""
    label: str | None
    key: str | None
    company: str | None
    last_activity: Column | None
    columns: tuple[Column, ...]
    """The lead's described columns (features), in input order; not the id, label, key or company."""
    ignored: tuple[str, ...] = ()
    left_out: tuple[tuple[str, str], ...] = ()
    """(header, why) of unmapped columns inference would not type: identifiers and codes."""

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def by_header(self, header: str) -> Column | None:
        k = headers.key(header)
        return next((c for c in self.columns if headers.key(c.header) == k), None)

    @property
    def inferred(self) -> list[Column]:
        return [c for c in self.columns if c.inferred]


def warehouse_name(header: str, taken: set[str]) -> str:
    base = re.sub(r"[^0-9a-z]+", "_", header.strip().lower()).strip("_")[:55] or "column"
    if base[0].isdigit():
        base = "c_" + base
    name, i = base, 2
    while name in taken or name in RESERVED:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _find(found: dict[str, str], header: str | None, setting: str, all_headers: list[str], where: str) -> str | None:
    if header is None:
        return None
    got = found.get(headers.key(header))
    if got is None:
        raise ConfigError(f"{where}: column {header!r} ({setting}) is not in the input; its header has "
                          f"{_shown(all_headers)}")
    return got


def _shown(names: list[str]) -> str:
    return ", ".join(names[:40]) + (f" and {len(names) - 40} more" if len(names) > 40 else "")


def resolve(cfg: LeadsConfig, found: list[str], raw: ir.Table | None, wh, *, id_col: str | None, label_col: str | None,
            where: str, need_label: bool) -> Mapping:
    """The mapping of an input whose header is `found` (`raw`: its text rows in `wh`, for inference)."""
    lookup = headers.by_key(found)
    id_header = id_col or cfg.id
    if id_header is None:
        raise ConfigError(f"{where}: which column is the lead id? pass --id COLUMN or set leads.id in martops.yml")
    idh = _find(lookup, id_header, "--id" if id_col else "leads.id", found, where)
    label_header = label_col or cfg.label
    if need_label and label_header is None:
        raise ConfigError(f"{where}: which column is the outcome? pass --label COLUMN (0/1) or set leads.label")
    lab = _find(lookup, label_header, "--label" if label_col else "leads.label", found, where) if need_label else \
        lookup.get(headers.key(label_header)) if label_header else None
    if lab is not None and lab == idh:
        raise ConfigError(f"{where}: the id and the label are both column {idh!r}")
    key = _find(lookup, cfg.key, "leads.key", found, where)
    company = _find(lookup, cfg.company.key, "leads.company.key", found, where)
    for h in cfg.columns:
        _find(lookup, h, f"leads.columns.{h}", found, where)
    for h in cfg.ignore:
        _find(lookup, h, "leads.ignore", found, where)
    special = {headers.key(h) for h in (idh, lab, key, company) if h}
    ignored = {headers.key(h) for h in cfg.ignore}
    declared = {headers.key(h): c for h, c in cfg.columns.items()}
    taken: set[str] = set()
    cols: list[Column] = []
    unmapped = [h for h in found if headers.key(h) not in special | ignored | set(declared)]
    kinds, left_out = infer(wh, raw, unmapped, cfg) if (cfg.unmapped == "infer" and unmapped and raw is not None) \
        else ({}, {})
    for h in found:
        k = headers.key(h)
        if k in special or k in ignored:
            continue
        if k in declared:
            d = declared[k]
            cols.append(Column(h, warehouse_name(h, taken), d.type, d.role, d.post_outcome))
        elif h in kinds:
            cols.append(Column(h, warehouse_name(h, taken), kinds[h], "fit", inferred=True))
    last = None
    if cfg.last_activity is not None:
        last = next((c for c in cols if headers.key(c.header) == headers.key(cfg.last_activity)), None)
        if last is None or last.type != "date":
            raise ConfigError(f"{where}: leads.last_activity {cfg.last_activity!r} must be a date column of the input "
                              "(map it in leads.columns with type: date)")
    if not cols:
        raise ConfigError(f"{where}: no column describes the leads (every column is the id, label, key, company or "
                          "ignored); map some in leads.columns")
    return Mapping(idh, lab, key, company, last, tuple(cols), tuple(h for h in found if headers.key(h) in ignored),
                   tuple(left_out.items()))


IDENTIFIER_MIN_ROWS = 20
"""Below this many values, all-distinct numbers are as likely a small sample of a quantity."""


def infer(wh, raw: ir.Table, names: list[str], cfg: LeadsConfig) -> tuple[dict[str, ColumnType], dict[str, str]]:
    """Each column's type from its values, in one query: numeric when every given value is a number,
    boolean when every one is a true/false text, else categorical; and the columns left out with
    why. A column with no value at all is left out silently (nothing to learn from); a column of
    digits with a leading zero (`01097`: a postcode, a phone number) or whose values are all
    distinct integers (`Lead Number`, at least IDENTIFIER_MIN_ROWS values) is a code, not a
    quantity: as a numeric feature it would rank leads by their id, and as a categorical one each
    value would be seen once."""
    truth = [v.strip().lower() for v in (*cfg.true_values, *cfg.false_values)]
    aggs = {}
    for i, n in enumerate(names):
        text = raw[n]
        given = ~missing(text, tuple(cfg.null_values))
        value = number(text)
        aggs[f"g{i}"] = given.cast("int64").sum()
        aggs[f"n{i}"] = (given & value.notnull()).cast("int64").sum()
        aggs[f"b{i}"] = (given & text.strip().lower().isin(truth)).cast("int64").sum()
        aggs[f"z{i}"] = (given & text.strip().re_search(r"^0[0-9]")).cast("int64").sum()
        aggs[f"i{i}"] = (given & (value == value.floor())).cast("int64").sum()
        aggs[f"d{i}"] = given.ifelse(text.strip(), None).nunique()
    row = wh.to_pyarrow(raw.aggregate(**aggs)).to_pylist()[0]
    out: dict[str, ColumnType] = {}
    left_out: dict[str, str] = {}
    for i, n in enumerate(names):
        g, num, b = row[f"g{i}"] or 0, row[f"n{i}"] or 0, row[f"b{i}"] or 0
        if g == 0:
            continue
        kind: ColumnType = "boolean" if b == g else "numeric" if num == g else "categorical"
        if kind == "numeric" and row[f"z{i}"]:
            left_out[n] = f"{row[f'z{i}']:,} value(s) start with a 0: a code (postcode, phone), not a quantity"
        elif kind in ("numeric", "categorical") and g >= IDENTIFIER_MIN_ROWS and row[f"d{i}"] == g \
                and row[f"i{i}"] == g:
            left_out[n] = f"every one of its {g:,} values is a distinct whole number: an identifier"
        else:
            out[n] = kind
    return out, left_out
