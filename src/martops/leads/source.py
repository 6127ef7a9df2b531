"""A lead table in: a CSV file (`--input`, read by `sources.csv_files`, the one CSV reader) or a
warehouse table (`--table`), typed by its mapping into `staging.leads` / `staging.lead_training`,
bad rows to `ops.quarantine` with file, line, column and why.

Every column is read as text first, so one set of typing rules serves both: the id is required and
unique (exact copies of a row collapse onto the first; rows sharing an id with different values are
all quarantined: no rule can tell which is right); the label must be one of the declared 0/1
texts; numbers follow the shared grammar (`sources.numbers`), booleans `leads.true_values` /
`leads.false_values`, dates `sources.timestamps`. A blank or a null marker (`Select`) is NULL.
A table's `_row` is the row's rank by id (it has no lines).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import ibis
import ibis.expr.types as ir

from martops.config import ProjectConfig
from martops.engine import Warehouse
from martops.errors import ConfigError, SourceError
from martops.leads import tables as T
from martops.leads.mapping import Column, Mapping, resolve
from martops.ops import quarantine
from martops.ops.runlog import current_run_id
from martops.sources import timestamps as TS
from martops.sources.csv_files import check_readable, read_header, read_text_table
from martops.sources.numbers import decimal_hint, number
from martops.sources.typed import ROW, Field, RawSpec, annotate, missing, quarantine_rows, reasons, with_place

SETTING = "sources.leads"


@dataclasses.dataclass
class LeadInput:
    """The header and the text rows of one input; `where` names it in messages."""

    where: str
    header: list[str]
    _raw: ir.Table
    is_file: bool

    def raw(self, id_header: str) -> ir.Table:
        if self.is_file:
            return self._raw
        t = self._raw
        return t.mutate(**{ROW: (ibis.row_number().over(order_by=[t[id_header], *[t[c] for c in self.header]]) + 1)
                           .cast("int64")})


def open_input(wh: Warehouse, project: ProjectConfig, *, file: str | Path | None, table: str | None) -> LeadInput:
    """The input `--input FILE` or `--table T` names (exactly one)."""
    if (file is None) == (table is None):
        raise ConfigError("give the leads as --input FILE.csv or --table SCHEMA.TABLE (one of them)")
    if file is not None:
        path = Path(file)
        check_readable(path)
        s = project.sources.leads
        layout = read_header(path, s.delimiter, SETTING)
        data = read_text_table(path, layout, s.delimiter)
        if data.num_rows == 0:
            raise SourceError(f"{path} has a header but no rows; an empty extract is a failed export")
        return LeadInput(path.name, layout.names, ibis.memtable(data), True)
    assert table is not None
    if "." not in table:
        raise ConfigError(f"--table {table}: name it schema.table (e.g. crm.leads)")
    if not wh.exists(table):
        raise ConfigError(f"--table {table} is not in the warehouse {wh.location}")
    t = wh.table(table)
    if ROW in t.columns:
        t = t.drop(ROW)
    # typed in-process by DuckDB on every engine, as files are (one parser, one set of rules)
    t = wh.to_loader(t.select(*[t[c].cast("string") for c in t.columns]))
    if int(wh.scalar(t.count())) == 0:
        raise SourceError(f"table {table} holds no rows")
    return LeadInput(f"table {table}", list(t.columns), t, False)


def _label(cfg_pos: list[str], cfg_neg: list[str], col: str):
    pos, neg = [v.strip().lower() for v in cfg_pos], [v.strip().lower() for v in cfg_neg]

    def parse(t: ir.Table) -> ir.Value:
        v = t[col].strip().lower()
        # float exports write 1 as 1.0
        v = ibis.ifelse(v.re_search(r"^[01]\.0+$"), v.left(1), v)
        return ibis.cases((v.isin(pos), ibis.literal(1, "int8")), (v.isin(neg), ibis.literal(0, "int8")),
                          else_=ibis.null("int8"))
    return parse


def _field(c: Column, project: ProjectConfig) -> Field:
    cfg, s = project.leads, project.sources.leads
    nulls = tuple(cfg.null_values) + tuple(s.null_values)
    name = c.name
    if c.type == "numeric":
        return Field(name, "float64", "a number", parse=lambda t: number(t[name], s.decimal),
                     hint=lambda t: decimal_hint(t[name], s.decimal, SETTING))
    if c.type == "boolean":
        yes, no = [v.strip().lower() for v in cfg.true_values], [v.strip().lower() for v in cfg.false_values]

        def flag(t: ir.Table) -> ir.Value:
            v = t[name].strip().lower()
            return ibis.cases((v.isin(yes), True), (v.isin(no), False), else_=ibis.null("boolean"))
        return Field(name, "boolean", f"true or false ({', '.join(cfg.true_values[:2])} / "
                     f"{', '.join(cfg.false_values[:2])}; leads.true_values, leads.false_values)", parse=flag)
    if c.type == "date":
        return Field(name, "date", TS.DATETIME_EXPECTED,
                     parse=lambda t: TS.calendar_date(t[name], s.timezone, s.reporting_timezone))

    def text(t: ir.Table) -> ir.Value:
        return ibis.ifelse(missing(t[name], nulls), ibis.null("string"), t[name].strip())
    return Field(name, "string", "text", parse=text)


def spec(m: Mapping, project: ProjectConfig, training: bool) -> RawSpec:
    cfg, s = project.leads, project.sources.leads
    nulls = tuple(cfg.null_values) + tuple(s.null_values)
    fields = [Field("lead_id", "string", "a lead id", required=True,
                    parse=lambda t: ibis.ifelse(missing(t.lead_id, nulls), ibis.null("string"), t.lead_id.strip()))]
    if training:
        shown = f"{'/'.join(cfg.positive_labels)} (converted) or {'/'.join(cfg.negative_labels)} (not)"
        fields.append(Field("label", "int8", f"{shown}; leads.positive_labels / negative_labels",
                            required=True, parse=_label(cfg.positive_labels, cfg.negative_labels, "label")))
    for extra in ("lead_key", "company"):
        if (m.key if extra == "lead_key" else m.company) is not None:
            fields.append(Field(extra, "string", "text", parse=lambda t, e=extra: ibis.ifelse(
                missing(t[e], nulls), ibis.null("string"), t[e].strip())))
    fields += [_field(c, project) for c in m.columns]
    return RawSpec(T.TRAINING.split(".")[1] if training else T.STAGING.split(".")[1], tuple(fields), key=("lead_id",),
                   null_values=nulls)


def renamed(raw: ir.Table, m: Mapping) -> ir.Table:
    """The input's columns under their warehouse names (what the spec's fields read)."""
    cols = {"lead_id": raw[m.id]}
    if m.label is not None:
        cols["label"] = raw[m.label]
    if m.key is not None:
        cols["lead_key"] = raw[m.key]
    if m.company is not None:
        cols["company"] = raw[m.company]
    cols.update({c.name: raw[c.header] for c in m.columns})
    return raw.select(ROW, **cols)


def header_of(m: Mapping) -> dict[str, str]:
    """warehouse name -> header, for quarantine reasons."""
    out = {"lead_id": m.id, **({"label": m.label} if m.label else {}), **({"lead_key": m.key} if m.key else {}),
           **({"company": m.company} if m.company else {})}
    return {**out, **{c.name: c.header for c in m.columns}}


@dataclasses.dataclass
class Loaded:
    mapping: Mapping
    read: int
    loaded: int
    quarantined: int
    where: str
    table: str = ""
    """The quarantine's table name for these rows (`martops quarantine --table ...`)."""

    def quarantine_hint(self) -> str:
        """'; 12 row(s) were quarantined: see ...' when rows were, else ''."""
        return (f"; {self.quarantined:,} of its {self.read:,} row(s) were quarantined: see `martops quarantine "
                f"--table {self.table}`" if self.quarantined else "")


def load(wh: Warehouse, project: ProjectConfig, src: LeadInput, *, id_col: str | None, label_col: str | None,
         training: bool, mapping: Mapping | None = None) -> Loaded:
    """Type `src` into staging (training: `staging.lead_training`, with the label), bad rows to
    ops.quarantine, in one transaction. `mapping`: a saved model's (scoring must read the columns
    the model was trained on, typed as then)."""
    cfg = project.leads
    first = src.raw(id_col or cfg.id or src.header[0])
    m = mapping or resolve(cfg, src.header, first, wh, id_col=id_col, label_col=label_col, where=src.where,
                           need_label=training)
    raw = src.raw(m.id)
    sp = spec(m, project, training)
    target = T.TRAINING if training else T.STAGING
    run_id, now = current_run_id(), dt.datetime.now()
    ann = wh.materialize(annotate(renamed(raw, m), sp, check_duplicates=True), f"_{sp.table}_annotated")
    good = ann.filter(ann._ok)
    cols = {f.name: good[f"t_{f.name}"] for f in sp.fields}
    rows = good.select(ROW, **cols, _etl_loaded_at=ibis.literal(now, type="timestamp"),
                       _run_id=ibis.literal(run_id)).order_by(ROW)
    with wh.transaction():
        loaded = wh.create_or_replace(target, rows)
        read = int(wh.scalar(ann.count()))
        bad = None
        if read != loaded:
            bad = quarantine_rows(with_place(reasons(ann, sp), src.where, header_of(m)), sp, T.SOURCE, run_id, now)
        n_bad = quarantine.replace(wh, T.SOURCE, sp.table, bad, None, None)
        quarantine.account(wh, T.SOURCE, {sp.table: {"read": read, "loaded": loaded, "quarantined": n_bad}},
                           project.quality, lambda _: (src.where, "lead rows"))
    if loaded == 0:
        q = wh.table(quarantine.QUARANTINE)
        q = q.filter((q.source == T.SOURCE) & (q.table_name == sp.table)).order_by("row_number").limit(1)
        first = wh.to_pyarrow(q.select("reason")).column(0).to_pylist()
        raise SourceError(f"{src.where}: none of its {read:,} rows loaded, e.g. {first[0] if first else '?'}; see "
                          f"`martops quarantine --table {sp.table}`")
    return Loaded(m, read, loaded, n_bad, src.where, sp.table)
