"""The attribution challenge's source tables, from a SQLite file or a folder of CSV exports.

Structure is checked first (tables, columns, not empty): a fault there is an error and nothing
is written. Row faults (unparseable values, NULL keys, duplicate keys, engagement flags outside
0/1, costs naming no session) are not errors: those rows go to quarantine and the rest loads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import ibis
import ibis.expr.types as ir

from martops.attribution import channels
from martops.config import AttributionConfig, SourceSettings
from martops.engine import Warehouse
from martops.errors import SourceError
from martops.sources import headers
from martops.sources import numbers as N
from martops.sources import timestamps as TS
from martops.sources.csv_folder import CsvFolder
from martops.sources.sqlite import SqliteFile
from martops.sources.typed import Field, Keep, RawSpec, annotate, in_scope, reasons

SETTING = "sources.attribution"
DATE_EXPECTED = (TS.DATE_EXPECTED[:-1] + "; a datetime here must be a midnight or name the same instant as the "
                 "time column)")
TIME_EXPECTED = "a time HH:MM:SS (24-hour, or 12-hour with AM/PM; an offset such as Z or +02:00 allowed)"


def base_specs(settings: SourceSettings | None = None) -> dict[str, RawSpec]:
    """The typing rules of the challenge's tables under a source's settings (time zones, decimal
    separator, null markers). Dates are the date of the combined UTC timestamp in the reporting
    zone, so `24:00:00` and offsets move the date with the timestamp."""
    s = settings or SourceSettings()
    nulls = tuple(s.null_values)

    def when(d: str, t: str) -> tuple[Field, Field]:
        day = Field(d, "date", DATE_EXPECTED, required=True,
                    parse=lambda x: TS.combined_date(x[d], x[t], s.timezone, s.reporting_timezone))
        clock = Field(t, "string", TIME_EXPECTED, required=True,
                      parse=lambda x: ibis.ifelse(TS.time_valid(x[t]), x[t], ibis.null("string")))
        return day, clock

    def amount(name: str, expected: str, required: bool) -> Field:
        return Field(name, "float64", expected, required=required, parse=lambda x: N.number(x[name], s.decimal),
                     hint=lambda x: N.decimal_hint(x[name], s.decimal, SETTING))

    flags = [Field(f, "int8", N.FLAG_EXPECTED, required=True, parse=lambda x, f=f: N.flag(x[f]))
             for f in ("holder_engagement", "closer_engagement", "impression_interaction")]
    return {
        "session_sources": RawSpec(
            "session_sources",
            (Field("session_id"), Field("user_id", required=True), *when("event_date", "event_time"),
             Field("channel_name", required=True), *flags),
            key=("session_id",), partition="event_date", null_values=nulls,
        ),
        "conversions": RawSpec(
            "conversions",
            (Field("conv_id"), Field("user_id", required=True), *when("conv_date", "conv_time"),
             amount("revenue", N.NUMBER_EXPECTED, True)),
            key=("conv_id",), partition="conv_date", null_values=nulls,
        ),
        "session_costs": RawSpec(
            "session_costs", (Field("session_id"), amount("cost", N.NUMBER_EXPECTED + " or empty", False)),
            key=("session_id",), null_values=nulls,
        ),
    }


SPECS = base_specs()
"""The rules under the default settings (the table and field names are the same under any)."""
REQUIRE_ROWS = ("session_sources", "conversions")
REFUND = "is a refund (negative revenue), not a conversion (attribution.refunds: quarantine)"


def specs(cfg: AttributionConfig | None = None, settings: SourceSettings | None = None) -> dict[str, RawSpec]:
    """`base_specs` with the settings that change what loads: duplicate conversions and refunds.

    A conversion delivered twice differing only in date and time is resolved by its parsed UTC
    timestamp (the earliest by default); one whose revenue is negative is quarantined as a refund.
    """
    cfg, settings = cfg or AttributionConfig(), settings or SourceSettings()
    base = base_specs(settings)
    conv = base["conversions"]
    policy = cfg.duplicate_conversions
    keep = Keep(order=lambda t: [TS.combined(t.conv_date, t.conv_time, settings.timezone)],
                decides=("conv_date", "conv_time"), word=policy,
                setting=f"attribution.duplicate_conversions: {policy}",
                descending=policy == "latest", reject=policy == "reject")
    fields = conv.fields
    if cfg.refunds == "quarantine":
        fields = tuple(dataclasses.replace(f, reject=((lambda v: v < 0, REFUND),)) if f.name == "revenue" else f
                       for f in fields)
    return {**base, "conversions": dataclasses.replace(conv, fields=fields, keep=keep)}


def open_reader(wh: Warehouse, path: Path, settings: SourceSettings | None = None) -> SqliteFile | CsvFolder:
    if path.is_dir():
        return CsvFolder(wh, path, delimiter=(settings or SourceSettings()).delimiter, setting=SETTING)
    return SqliteFile(wh, path, alias="challenge_src")


class ChallengeSource:
    """Annotated (typed + reasons) source tables; `good`/`bad` splits are taken by ingest."""

    def __init__(self, wh: Warehouse, path: str | Path, cfg: AttributionConfig | None = None,
                 settings: SourceSettings | None = None):
        self.wh = wh
        self.path = Path(path)
        self.settings = settings or SourceSettings()
        self.specs = specs(cfg, self.settings)
        self._names: dict[str, dict[str, str]] = {}
        """table -> field -> the column as the source spells it (headers match case-insensitively)."""
        if not self.path.exists():
            raise SourceError(f"{self.path} does not exist; expected a challenge SQLite database or a folder "
                              "with session_sources.csv, conversions.csv and session_costs.csv")
        self.reader = open_reader(wh, self.path, self.settings)
        try:
            self._validate_structure()
        except BaseException:
            self.reader.close()
            raise

    @property
    def name(self) -> str:
        return str(self.path.resolve())

    def _validate_structure(self) -> None:
        existing = self.reader.tables()
        where = "file" if isinstance(self.reader, CsvFolder) else "table"
        for table, spec in self.specs.items():
            if not self.reader.has_table(table):
                found = [f"{t}.csv" for t in existing] if isinstance(self.reader, CsvFolder) else existing
                raise SourceError(
                    f"{self.path}: {where} {table + '.csv' if where == 'file' else repr(table)} is missing; "
                    f"the {self.reader.kind} has {sorted(found) or 'none'}. Expected the challenge schema "
                    f"(session_sources, conversions, session_costs)."
                )
            have = self.reader.columns(table)
            wanted = [f.name for f in spec.fields]
            self._names[table], missing = headers.match(have, wanted)
            if missing:
                raise SourceError(f"{self.path}: table {table!r} lacks column(s) {missing}; it has {have}. "
                                  f"Expected {wanted}.")
        for table in REQUIRE_ROWS:
            if not self.reader.has_rows(table):
                raise SourceError(f"{self.path}: table {table!r} is empty; expected at least one row")

    def annotated(self, table: str, lo: dt.date | None = None, hi: dt.date | None = None) -> ir.Table:
        """The table's rows in the range [lo, hi] of its partition date, typed, with `_reason`."""
        spec = self.specs[table]
        raw = self._raw(table, [f.name for f in spec.fields])
        dup_free = self.reader.declared_unique(table, spec.key)
        return in_scope(annotate(raw, spec, check_duplicates=not dup_free), spec, lo, hi)

    def date_span(self, table: str) -> tuple[dt.date | None, dt.date | None]:
        """First and last parsed partition date of the whole table: one min/max over the raw rows,
        without `annotated`'s duplicate-key join (for error messages naming the dates there are)."""
        spec = self.specs[table]
        field = next(f for f in spec.fields if f.name == spec.partition)
        day = field.parse(self._raw(table, [f.name for f in spec.fields]))
        got = self.wh.to_pyarrow(day.name("d").as_table().aggregate(a=ibis._.d.min(), b=ibis._.d.max())).to_pylist()[0]
        return got["a"], got["b"]

    def channel_spellings(self) -> list[dict]:
        """Every raw channel spelling of the whole delivery and its canonical channel (see `channels`).

        Read through `_raw`, so a SQLite source's texts are checked for UTF-8 first: DuckDB's `trim`
        never returns on one that is not."""
        raw = self._raw("session_sources", ["channel_name"])
        return self.wh.to_pyarrow(channels.spelling_map(raw)).to_pylist()

    def costs(self) -> ir.Table:
        """Cost rows, annotated; a row naming no session anywhere in the source cannot load either.

        The sessions join uses `annotated("session_costs")` instead: the orphan test scans every
        session id, and a cost row naming no session joins nothing anyway.
        """
        c = self.annotated("session_costs")
        ids = self._raw("session_sources", ["session_id"]).select("session_id")
        ids = ids.filter(ids.session_id.notnull()).distinct()  # one NULL id would make IN answer NULL
        return c.mutate(_ok=(c._ok & c.session_id.isin(ids.session_id)).fill_null(False))

    def usable_costs(self) -> ir.IntegerScalar:
        """How many cost rows parse and name a session: a join, which DuckDB builds on the smaller
        cost side (about 1 s less at 10M sessions than the IN test `costs()` uses)."""
        c = self.annotated("session_costs")
        s = self._raw("session_sources", ["session_id"])
        j = c.filter(c._ok).join(s, c.session_id == s.session_id)
        return j.select(_row=c._row)._row.nunique()

    def _raw(self, table: str, fields: list[str]) -> ir.Table:
        """The fields as text under their canonical names (whatever case the source uses), plus `_row`."""
        names = self._names[table]
        if isinstance(self.reader, SqliteFile):  # before any query trims a text (dates, times, amounts, channels)
            self.reader.require_utf8(table, *names.values())  # once per table and file version (memoised)
        t = self.reader.raw(table, [names[f] for f in fields])
        renames = {f: names[f] for f in fields if names[f] != f}
        return t.rename(renames) if renames else t

    def cost_reasons(self, costs: ir.Table) -> ir.Table:
        """`reasons()` for cost rows, plus the orphan reason `reasons()` cannot know about."""
        bad = reasons(costs, self.specs["session_costs"])
        orphan = bad._reason == ""
        why = ibis.literal("session_id '") + bad.session_id + "' names no session in session_sources"
        return bad.mutate(_reason=ibis.ifelse(orphan, why, bad._reason),
                          _bad_column=ibis.ifelse(orphan, "session_id", bad._bad_column))

    def close(self) -> None:
        self.reader.close()
