"""The step graph: edges from declared inputs/outputs, dbt-style selection, orders that respect edges."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from martops import domains
from martops.domain import Domain, Step
from martops.errors import ConfigError
from martops.graph import Graph

GRAPH = domains.graph()


def _noop(ctx):  # pragma: no cover - never run: the graph is only ordered
    raise AssertionError


def test_edges_come_from_declared_tables():
    assert GRAPH.upstream["kpis.snapshot"] == ("kpis.load",)
    assert GRAPH.upstream["kpis.mart"] == ("kpis.snapshot",)
    assert set(GRAPH.upstream["crm.marts"]) == {"crm.load", "crm.golden"}
    assert set(GRAPH.upstream["attribution.report"]) == {"attribution.attribute", "attribution.ingest"}
    assert GRAPH.upstream["attribution.ingest"] == () and GRAPH.upstream["crm.load"] == ()


def test_every_step_reads_only_tables_some_step_writes_or_a_source():
    written = {o for s in GRAPH.steps for o in s.outputs}
    for s in GRAPH.steps:
        for i in s.inputs:
            assert i in written or i.startswith("source:"), (s.name, i)


@pytest.mark.parametrize("selectors, exclude, expected", [
    (["kpis"], [], ["kpis.load", "kpis.snapshot", "kpis.mart"]),
    (["kpis.load+"], [], ["kpis.load", "kpis.snapshot", "kpis.mart", "report.weekly"]),  # the report reads the mart
    (["+kpis.snapshot"], [], ["fx.load", "kpis.load", "kpis.snapshot"]),  # the rates the load converts with
    (["+marts.channel_reporting"], [], ["attribution.ingest", "attribution.journeys", "attribution.attribute",
                                        "attribution.report"]),
    (["marts.channel_reporting"], [], ["attribution.report"]),
    (["crm.*"], ["crm.dedupe+"], ["crm.load"]),
    (["crm"], ["crm.golden"], ["crm.load", "crm.dedupe", "crm.marts"]),
    (["kpis.mart", "kpis.load"], [], ["kpis.load", "kpis.mart"]),
    (["+crm.marts"], [], ["crm.load", "crm.dedupe", "crm.golden", "crm.marts"]),
])
def test_selection(selectors, exclude, expected):
    assert GRAPH.select(selectors, exclude) == expected


@pytest.mark.parametrize("selector, message", [
    ("kpi", r"did you mean kpis\?"),
    ("kpis.lod", r"did you mean kpis.load\?"),
    ("marts.channel_reportin", r"did you mean marts.channel_reporting\?"),
    ("+", "names nothing"),
    ("zzz.*", "matches no domain, step or table"),
    ("KPIS", r"did you mean kpis\?"),
    ("Kpis.Lod", r"did you mean kpis.load\?"),
    ("kpis++", r"'\+' goes once before the name .* kpis, \+kpis, kpis\+ or \+kpis\+$"),
    ("++kpis", r"'\+' goes once before the name"),
    ("++kpis.load++", r"'\+' goes once before the name .* kpis.load, \+kpis.load"),
    ("kpis.load+2", r"dbt's depths \(2\+X, X\+1\) are not supported"),
])
def test_unknown_selector_is_an_error_naming_the_nearest(selector, message):
    with pytest.raises(ConfigError, match=message):
        GRAPH.select([selector])


def test_plus_on_both_sides_is_upstream_and_downstream_but_not_their_other_branches():
    a = Step("d.a", "a", _noop, outputs=("t.a",))
    b = Step("d.b", "b", _noop, inputs=("t.a",), outputs=("t.b",))
    c = Step("d.c", "c", _noop, inputs=("t.b",), outputs=("t.c",))
    side = Step("d.side", "side", _noop, inputs=("t.a",), outputs=("t.side",))  # a's other child
    graph = Graph.of([Domain("d", "d", (a, b, c, side))])
    assert graph.select(["+d.b+"]) == ["d.a", "d.b", "d.c"]
    assert set(graph.select(["+d.b+"])) == set(graph.select(["+d.b"])) | set(graph.select(["d.b+"]))


def test_excluding_everything_is_an_error():
    with pytest.raises(ConfigError, match="selection is empty"):
        GRAPH.select(["kpis"], ["kpis"])


def test_two_writers_of_one_table_and_cycles_are_declaration_errors():
    a = Step("d.a", "a", _noop, inputs=("t.y",), outputs=("t.x",))
    b = Step("d.b", "b", _noop, inputs=("t.x",), outputs=("t.y",))
    with pytest.raises(ConfigError, match="cycle"):
        Graph.of([Domain("d", "d", (a, b))])
    c = Step("d.c", "c", _noop, outputs=("t.x",))
    with pytest.raises(ConfigError, match="written by two steps"):
        Graph.of([Domain("d", "d", (Step("d.a", "a", _noop, outputs=("t.x",)), c))])


@st.composite
def random_graphs(draw):
    """Random DAGs: step i may read tables written by steps before it (declared in random order)."""
    n = draw(st.integers(2, 12))
    reads = [draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set() for i in range(n)]
    order = draw(st.permutations(range(n)))
    steps = tuple(Step(f"d.s{i}", f"s{i}", _noop, inputs=tuple(f"t.t{j}" for j in sorted(reads[i])),
                       outputs=(f"t.t{i}",)) for i in order)
    return Graph.of([Domain("d", "d", steps)]), reads


@settings(max_examples=150, deadline=None)
@given(random_graphs(), st.data())
def test_every_run_order_respects_every_declared_edge(case, data):
    graph, reads = case
    names = graph.names
    selector = data.draw(st.sampled_from(names))
    form = data.draw(st.sampled_from(["{}", "+{}", "{}+", "+{}+"]))
    chosen = graph.select([form.format(selector)])
    position = {n: i for i, n in enumerate(chosen)}
    for i, ups in enumerate(reads):
        for j in ups:
            a, b = f"d.s{j}", f"d.s{i}"
            if a in position and b in position:
                assert position[a] < position[b], (a, b, chosen)
    # + selects exactly the ancestors / descendants
    if form.startswith("+"):
        assert graph.ancestors(selector) <= set(chosen)
    if form.endswith("+") and form != "{}":
        assert graph.descendants(selector) <= set(chosen)
    whole = graph.select([])
    assert sorted(whole) == sorted(names)
