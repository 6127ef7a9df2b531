"""What to deduplicate: the id column, the columns to compare with their kinds, and the thresholds."""

from __future__ import annotations

import dataclasses
import re

from martops.crm.dedupe.kinds import KINDS, Column
from martops.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class DedupeSpec:
    id_column: str
    compare: tuple[tuple[str, str], ...]
    """(column, kind) pairs, e.g. (("first_name", "name"), ("dob", "date"))."""
    threshold: float = 0.99
    """Pairs at or above this match probability join one cluster (connected components)."""
    pairs_threshold: float = 0.5
    """Scored pairs at or above this are kept in the output, so near misses can be reviewed."""
    blocking: tuple[tuple[str, ...], ...] | None = None
    """Blocking rules as column tuples (exact equality on all); None derives them from the kinds."""
    recall: float = 0.7
    """How many true pairs the deterministic rules (same email/phone/id, same names and date) are
    believed to find; scales the prior probability that two random records match."""
    u_max_pairs: float = 2e6
    """Random pairs sampled to estimate u (how often non-matches agree by chance)."""
    em_max_pairs: float = 1e6
    """Blocked pairs sampled per EM session that estimates m (how often matches agree)."""
    seed: int = 42
    """Seeds u sampling, so the same input gives the same model and clusters."""

    def __post_init__(self) -> None:
        if not self.compare:
            raise ConfigError("nothing to compare: give at least one --compare column=kind")
        for col, kind in self.compare:
            if kind not in KINDS:
                raise ConfigError(f"--compare {col}={kind}: unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
        if not 0 < self.threshold <= 1 or not 0 < self.pairs_threshold <= 1:
            raise ConfigError(f"thresholds are probabilities in (0, 1]; got threshold={self.threshold}, "
                              f"pairs_threshold={self.pairs_threshold}")
        if self.pairs_threshold > self.threshold:
            raise ConfigError(f"pairs_threshold {self.pairs_threshold} is above the cluster threshold "
                              f"{self.threshold}: clustering would miss pairs it was never given")
        if self.id_column in {c for c, _ in self.compare}:
            raise ConfigError(f"{self.id_column} is the id column; it can't also be compared")

    def columns(self) -> list[Column]:
        used: set[str] = {"unique_id"}
        out = []
        for source, kind in self.compare:
            name = re.sub(r"[^a-z0-9]+", "_", source.lower()).strip("_") or "col"
            while name in used:
                name += "_"
            used.add(name)
            out.append(Column(source, kind, name))
        return out


def parse_compare(text: str) -> tuple[str, str]:
    """`surname=name` -> ("surname", "name"); a column name may itself contain '='."""
    col, sep, kind = text.rpartition("=")
    if not sep or not col.strip():
        raise ConfigError(f"--compare {text!r}: expected COLUMN=KIND, e.g. surname=name; kinds are {', '.join(KINDS)}")
    return col.strip(), kind.strip().lower()


def parse_block(text: str) -> tuple[str, ...]:
    """`surname,dob` -> ("surname", "dob"): pairs equal on all of them are scored."""
    cols = tuple(c.strip() for c in text.split(",") if c.strip())
    if not cols:
        raise ConfigError(f"--block {text!r}: expected comma-separated columns, e.g. surname,dob")
    return cols
