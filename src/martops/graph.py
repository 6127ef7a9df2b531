"""The step graph: edges derived from declared inputs and outputs, dbt-style selection, run order.

A step depends on every step that writes one of its inputs. Selectors (as dbt's):
  `kpis`                      every step of a domain
  `kpis.load`, `crm.*`        a step, or a glob on step names
  `marts.channel_reporting`   the step that writes this table
  `+X` / `X+` / `+X+`         X with everything upstream / downstream / both (one '+' a side;
                              `X++`, `++X` and dbt's depths `2+X`, `X+1` are errors)
A step that delivers to people (`Step.in_project_run` False: `report.send`) is selected only by a
selector that names it (its name, a glob, its domain), never as a step downstream (`kpis.load+`).
Exclusions use the same grammar. The order is topological, ties broken by the registry's order
(domains in data-flow order, each domain's steps as declared), so a run is reproducible.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from typing import Iterable, Sequence

from martops.domain import FILE_PREFIX, SOURCE_PREFIX, Domain, Step
from martops.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Graph:
    """Steps in registry order and, per step, the steps it reads from (`upstream`)."""

    steps: tuple[Step, ...]
    upstream: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, domains: Sequence[Domain]) -> "Graph":
        steps = tuple(s for d in domains for s in d.steps)
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise ConfigError(f"two steps share a name: {sorted(n for n in names if names.count(n) > 1)}")
        writers: dict[str, str] = {}
        for s in steps:
            for out in s.outputs:
                if out in writers:
                    raise ConfigError(f"{out} is written by two steps ({writers[out]}, {s.name}); one writer per table")
                writers[out] = s.name
        upstream = {s.name: tuple(dict.fromkeys(writers[i] for i in s.inputs if i in writers and writers[i] != s.name))
                    for s in steps}
        graph = cls(steps, upstream)
        graph.order(names)  # a cycle is a declaration error, found when the graph is built
        return graph

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.steps]

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise ConfigError(f"unknown step {name!r}{_near(name, self.names)}; `martops steps` lists them")

    def downstream(self) -> dict[str, tuple[str, ...]]:
        down: dict[str, list[str]] = {n: [] for n in self.names}
        for name, ups in self.upstream.items():
            for u in ups:
                down[u].append(name)
        return {k: tuple(v) for k, v in down.items()}

    def ancestors(self, name: str) -> set[str]:
        return _closure(name, self.upstream)

    def descendants(self, name: str) -> set[str]:
        return _closure(name, self.downstream())

    def order(self, names: Iterable[str]) -> list[str]:
        """`names` in an order that respects every edge among them: Kahn's algorithm, always taking
        the ready step earliest in the registry, so the order is the registry's wherever edges allow."""
        wanted = set(names)
        rank = {n: i for i, n in enumerate(self.names)}
        deps = {n: {u for u in self.upstream[n] if u in wanted} for n in wanted}
        out: list[str] = []
        while deps:
            ready = [n for n, d in deps.items() if not d]
            if not ready:
                raise ConfigError(f"the steps form a cycle among {', '.join(sorted(deps, key=rank.__getitem__))}")
            first = min(ready, key=rank.__getitem__)
            out.append(first)
            del deps[first]
            for d in deps.values():
                d.discard(first)
        return out

    def writer(self, table: str) -> str | None:
        return next((s.name for s in self.steps if table in s.outputs), None)

    def select(self, selectors: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[str]:
        """Step names a selection means, in run order. No selector: every step. A selector that
        matches nothing is an error naming the nearest step, domain or table (no silent success)."""
        chosen = set(self.names) if not selectors else set().union(*(self._one(s) for s in selectors))
        for s in exclude:
            chosen -= self._one(s)
        if not chosen:
            raise ConfigError("the selection is empty: every step it named was excluded "
                              f"({' '.join(selectors) or 'all'} minus {' '.join(exclude)})")
        return self.order(chosen)

    def _one(self, selector: str) -> set[str]:
        raw = selector.strip()
        up, down = raw.startswith("+"), raw.endswith("+") and len(raw) > 1
        core = raw.strip("+")
        if not core:
            raise ConfigError(f"selector {selector!r} names nothing; e.g. kpis, +marts.channel_reporting, kpis.load+")
        if raw.startswith("++") or raw.endswith("++") or "+" in core:
            name = "kpis.snapshot" if "+" in core else core
            raise ConfigError(f"selector {selector!r}: a '+' goes once before the name (adding everything upstream) "
                              f"and/or once after it (everything downstream): {name}, +{name}, {name}+ or "
                              f"+{name}+" + ("; dbt's depths (2+X, X+1) are not supported" if "+" in core else ""))
        base = self._match(core, selector)
        out = set(base)
        for name in base:
            if up:
                out |= self.ancestors(name)
            if down:  # a step that mails people (report.send) is never someone's downstream: name it
                out |= {d for d in self.descendants(name) if self.step(d).in_project_run}
        return out

    def _match(self, core: str, selector: str) -> set[str]:
        domains = {s.domain for s in self.steps}
        if core in domains:
            return {s.name for s in self.steps if s.domain == core}
        if core in self.names:
            return {core}
        writer = self.writer(core)
        if writer:
            return {writer}
        if any(ch in core for ch in "*?["):
            hits = {n for n in self.names if fnmatch.fnmatchcase(n, core)}
            if hits:
                return hits
        known = sorted(domains) + self.names + sorted({o for s in self.steps for o in s.outputs
                                                       if not o.startswith((FILE_PREFIX, SOURCE_PREFIX))})
        raise ConfigError(f"selector {selector!r} matches no domain, step or table{_near(core, known)}; "
                          "`martops steps` lists them")


def _closure(start: str, edges: dict[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    todo = list(edges[start])
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(edges[n])
    return seen


def _near(name: str, known: Iterable[str]) -> str:
    """The closest of `known`, whatever the case (`KPIS` -> kpis)."""
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]}?)" if close else ""
