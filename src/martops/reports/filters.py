"""Narrowing a report section to what the dashboard's sidebar picked: channels, countries, funnels,
an attribution model.

The weekly report passes no filters (`NO_FILTERS`: every section sees all its rows); the dashboard
passes what its sidebar holds. A section applies the filters its `ReportSection.filters` declares
to its own table, with the same queries either way, so the page and the report cannot disagree
on the same selection. A filter a section does not declare is ignored by it (the dashboard says so).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from martops.engine import Warehouse

NULL_LABEL = "(none)"
"""How an empty (NULL) value of a filtered column is listed and picked (a campaign without channel_3)."""

NAMES = {"channel": "channel", "country": "country", "funnel": "funnel", "model": "attribution model"}
"""Every filter a section may declare, with the words a person reads."""


@dataclasses.dataclass(frozen=True)
class Filters:
    """The values picked per filter name (`channel`, `country`, `funnel`, `model`); a filter with no
    values picked does not narrow. Hashable, so a cache can key on it."""

    picked: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, **picked: object) -> "Filters":
        """`Filters.of(channel=["fb"], model="ihc")`; empty or None values are left out. ValueError
        on a name not in NAMES (a typo must not filter nothing)."""
        unknown = sorted(set(picked) - set(NAMES))
        if unknown:
            raise ValueError(f"unknown filter(s) {unknown}; filters: {', '.join(NAMES)}")
        items = []
        for name, values in sorted(picked.items()):
            values = (values,) if isinstance(values, str) else tuple(values or ())
            if values:
                items.append((name, tuple(sorted(set(values)))))
        return cls(tuple(items))

    def get(self, name: str) -> tuple[str, ...]:
        return dict(self.picked).get(name, ())

    def names(self) -> list[str]:
        return [name for name, _ in self.picked]

    def narrow(self, table: "ir.Table", columns: Mapping[str, str]) -> "ir.Table":
        """`table` keeping the rows whose column (per filter name in `columns`) holds a picked value;
        NULL_LABEL picks the rows where it is NULL."""
        for name, column in columns.items():
            values = self.get(name)
            if not values:
                continue
            named = [v for v in values if v != NULL_LABEL]
            keep = table[column].isin(named) if named else None
            if NULL_LABEL in values:
                keep = table[column].isnull() if keep is None else keep | table[column].isnull()
            table = table.filter(keep)
        return table


NO_FILTERS = Filters()


def values(wh: "Warehouse", table: str, column: str) -> list[str]:
    """The distinct values of `column` in `table`, sorted, NULL as NULL_LABEL (last): what a
    sidebar offers. Empty when the table does not exist."""
    if not wh.exists(table):
        return []
    t = wh.table(table)
    found = [r[column] for r in wh.to_pyarrow(t.select(column).distinct()).to_pylist()]
    return sorted(str(v) for v in found if v is not None) + ([NULL_LABEL] if None in found else [])
