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
from martops.config import AttributionConfig
from martops.engine import Warehouse
from martops.errors import SourceError
from martops.sources.csv_folder import CsvFolder
from martops.sources.sqlite import SqliteFile
from martops.sources.typed import Field, Keep, RawSpec, annotate, in_scope, reasons

DATE, TIME = ("date", "a date YYYY-MM-DD"), ("time", "a time HH:MM:SS")
FLAG = ("int8", "0 or 1")

SPECS: dict[str, RawSpec] = {
    "session_sources": RawSpec(
        "session_sources",
        (
            Field("session_id"), Field("user_id", required=True),
            Field("event_date", *DATE, required=True), Field("event_time", *TIME, required=True),
            Field("channel_name", required=True),
            *[Field(f, *FLAG, required=True, accepted=(0, 1))
              for f in ("holder_engagement", "closer_engagement", "impression_interaction")],
        ),
        key=("session_id",), partition="event_date",
    ),
    "conversions": RawSpec(
        "conversions",
        (
            Field("conv_id"), Field("user_id", required=True),
            Field("conv_date", *DATE, required=True), Field("conv_time", *TIME, required=True),
            Field("revenue", "float64", "a number", required=True),
        ),
        key=("conv_id",), partition="conv_date",
    ),
    "session_costs": RawSpec(
        "session_costs", (Field("session_id"), Field("cost", "float64", "a number or empty")), key=("session_id",),
    ),
}
REQUIRE_ROWS = ("session_sources", "conversions")
REFUND = "is a refund (negative revenue), not a conversion (attribution.refunds: quarantine)"


def specs(cfg: AttributionConfig | None = None) -> dict[str, RawSpec]:
    """SPECS with the settings that change what loads: duplicate conversions and refunds.

    A conversion delivered twice differing only in date and time is resolved by the parsed date
    and time (the earliest by default); one whose revenue is negative is quarantined as a refund.
    """
    cfg = cfg or AttributionConfig()
    conv = SPECS["conversions"]
    policy = cfg.duplicate_conversions
    keep = Keep(order=lambda t: [t.t_conv_date, t.t_conv_time], decides=("conv_date", "conv_time"),
                word=policy, setting=f"attribution.duplicate_conversions: {policy}",
                descending=policy == "latest", reject=policy == "reject")
    fields = conv.fields
    if cfg.refunds == "quarantine":
        fields = tuple(dataclasses.replace(f, reject=((lambda v: v < 0, REFUND),)) if f.name == "revenue" else f
                       for f in fields)
    return {**SPECS, "conversions": dataclasses.replace(conv, fields=fields, keep=keep)}


def open_reader(wh: Warehouse, path: Path) -> SqliteFile | CsvFolder:
    return CsvFolder(wh, path) if path.is_dir() else SqliteFile(wh, path, alias="challenge_src")


class ChallengeSource:
    """Annotated (typed + reasons) source tables; `good`/`bad` splits are taken by ingest."""

    def __init__(self, wh: Warehouse, path: str | Path, cfg: AttributionConfig | None = None):
        self.wh = wh
        self.path = Path(path)
        self.specs = specs(cfg)
        if not self.path.exists():
            raise SourceError(f"{self.path} does not exist; expected a challenge SQLite database or a folder "
                              "with session_sources.csv, conversions.csv and session_costs.csv")
        self.reader = open_reader(wh, self.path)
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
        for table, spec in SPECS.items():
            if table not in existing:
                found = [f"{t}.csv" for t in existing] if isinstance(self.reader, CsvFolder) else existing
                raise SourceError(
                    f"{self.path}: {where} {table + '.csv' if where == 'file' else repr(table)} is missing; "
                    f"the {self.reader.kind} has {sorted(found) or 'none'}. Expected the challenge schema "
                    f"(session_sources, conversions, session_costs)."
                )
            have = self.reader.columns(table)
            wanted = [f.name for f in spec.fields]
            missing = [c for c in wanted if c not in have]
            if missing:
                raise SourceError(f"{self.path}: table {table!r} lacks column(s) {missing}; it has {have}. "
                                  f"Expected {wanted}.")
        for table in REQUIRE_ROWS:
            if not self.reader.has_rows(table):
                raise SourceError(f"{self.path}: table {table!r} is empty; expected at least one row")

    def annotated(self, table: str, lo: dt.date | None = None, hi: dt.date | None = None) -> ir.Table:
        """The table's rows in the range [lo, hi] of its partition date, typed, with `_reason`."""
        spec = self.specs[table]
        raw = self.reader.raw(table, [f.name for f in spec.fields])
        dup_free = self.reader.declared_unique(table, spec.key)
        return in_scope(annotate(raw, spec, check_duplicates=not dup_free), spec, lo, hi)

    def channel_spellings(self) -> list[dict]:
        """Every raw channel spelling of the whole delivery and its canonical channel (see `channels`)."""
        raw = self.reader.raw("session_sources", ["channel_name"])
        return self.wh.to_pyarrow(channels.spelling_map(raw)).to_pylist()

    def costs(self) -> ir.Table:
        """Cost rows, annotated; a row naming no session anywhere in the source cannot load either.

        The sessions join uses `annotated("session_costs")` instead: the orphan test scans every
        session id, and a cost row naming no session joins nothing anyway.
        """
        c = self.annotated("session_costs")
        ids = self.reader.raw("session_sources", ["session_id"]).select("session_id")
        ids = ids.filter(ids.session_id.notnull()).distinct()  # one NULL id would make IN answer NULL
        return c.mutate(_ok=(c._ok & c.session_id.isin(ids.session_id)).fill_null(False))

    def usable_costs(self) -> ir.IntegerScalar:
        """How many cost rows parse and name a session: a join, which DuckDB builds on the smaller
        cost side (about 1 s less at 10M sessions than the IN test `costs()` uses)."""
        c = self.annotated("session_costs")
        s = self.reader.raw("session_sources", ["session_id"])
        j = c.filter(c._ok).join(s, c.session_id == s.session_id)
        return j.select(_row=c._row)._row.nunique()

    @staticmethod
    def cost_reasons(costs: ir.Table) -> ir.Table:
        """`reasons()` for cost rows, plus the orphan reason `reasons()` cannot know about."""
        bad = reasons(costs, SPECS["session_costs"])
        orphan = bad._reason == ""
        why = ibis.literal("session_id '") + bad.session_id + "' names no session in session_sources"
        return bad.mutate(_reason=ibis.ifelse(orphan, why, bad._reason),
                          _bad_column=ibis.ifelse(orphan, "session_id", bad._bad_column))

    def close(self) -> None:
        self.reader.close()
