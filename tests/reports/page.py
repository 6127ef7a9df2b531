"""Reading a report page back: its figures, table cells, tags and charts (stdlib html.parser)."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser


@dataclasses.dataclass
class Page:
    metrics: dict[str, dict[str, str]]
    """data-metric -> {value, previous}"""
    cells: dict[str, list[dict[str, str]]]
    """data-table -> rows of {column: data-value}"""
    sections: list[str]
    charts: list[str]
    urls: list[tuple[str, str, str]]
    """(tag, attribute, value) of every src/href/action/srcset/data attribute naming a URL"""
    script_srcs: list[str]
    styles_links: int


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page({}, {}, [], [], [], [], 0)
        self._table: str | None = None
        self._row: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        p = self.page
        for k in ("src", "href", "action", "srcset", "poster", "data"):
            v = a.get(k, "")
            if v and not v.startswith("#"):
                p.urls.append((tag, k, v))
        if tag == "script" and "src" in a:
            p.script_srcs.append(a["src"])
        if tag == "link":
            p.styles_links += 1
        if "data-metric" in a:
            p.metrics[a["data-metric"]] = {"value": a.get("data-value", ""), "previous": a.get("data-previous", "")}
        if "data-section" in a:
            p.sections.append(a["data-section"])
        if "data-chart" in a:
            p.charts.append(a["data-chart"])
        if tag == "table" and "data-table" in a:
            self._table = a["data-table"]
            p.cells[self._table] = []
        if tag == "tr" and self._table:
            self._row = {}
        if tag == "td" and self._row is not None and "data-column" in a:
            self._row[a["data-column"]] = a.get("data-value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row:
            self.page.cells[self._table].append(self._row)
        if tag == "tr":
            self._row = None
        if tag == "table":
            self._table = None


def read(html: str) -> Page:
    r = _Reader()
    r.feed(html)
    r.close()
    return r.page
