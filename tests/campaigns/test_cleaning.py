"""Cleaning rules one at a time: ids, spellings, countries, products, the channel dictionary."""

from __future__ import annotations

import ibis
from hypothesis import given, settings, strategies as st

from martops.campaigns import clean, tables as T
from martops.sources import countries
from tests.campaigns.exports import ID, LONG_ID, channel, lead, rows, run_build, write_exports


def _eval(expr):
    return ibis.memtable({"_": [0]}).select(v=expr).to_pyarrow().to_pylist()[0]["v"]


def test_campaign_ids_are_digit_strings_kept_exactly():
    t = ibis.memtable({"s": ["120211151098440066.000000", f" {LONG_ID} ", "1.20211E+17", "12a", "", None]})
    got = t.select(v=clean.campaign_id(t.s)).to_pyarrow().column("v").to_pylist()
    assert got == ["120211151098440066", LONG_ID, None, None, None, None]


@given(st.integers(min_value=10**8, max_value=10**25), st.sampled_from(["", ".0", ".000000"]))
@settings(max_examples=60, deadline=None)
def test_any_long_id_survives_with_or_without_a_float_suffix(n, suffix):
    assert _eval(clean.campaign_id(ibis.literal(f"{n}{suffix}"))) == str(n)


def test_spelling_variants_take_the_most_used_spelling():
    values = ["fb prospecting", "fb prospecting", "fb prospe cting", "fb  prospecting", "search -shopping",
              "search-shopping", "search-shopping", "demand gen", "demandgen", "demandgen", "solo"]
    m = {r["key"]: r for r in clean.spellings(ibis.memtable({"value": values})).to_pyarrow().to_pylist()}
    assert m["fbprospecting"]["canonical"] == "fb prospecting"
    assert m["search-shopping"]["canonical"] == "search-shopping"
    assert m["demandgen"]["canonical"] == "demandgen"
    assert m["solo"]["variants"] == 1


def test_countries_and_products():
    """Countries are read by the CRM's normaliser too (`sources.countries`): an alpha-3 code or a name
    is a country; two letters no country has (`XX`) and `NA` (Namibia or 'not available') are not."""
    texts = ["es", " GB ", "UK", "unknown", "", None, "ESP", "Spain", "EL", "XX", "NA", "Atlantis", "zz"]
    t = ibis.memtable({"c": texts, "p": ["POS", "pos lite", "poslite-cr", "card reader", None, "unknown",
                                         "Terminal X", *[None] * 6]})
    got = t.select(c=clean.country(t.c, countries.codes(texts, {"Atlantis": "AQ"}), "ZZ"),
                   p=clean.product(t.p, {"pos lite": ["pos", "pos lite", "poslite-cr"],
                                         "card reader": ["card reader"]})).to_pyarrow().to_pylist()
    assert [r["c"] for r in got] == ["ES", "GB", "GB", "ZZ", "ZZ", "ZZ", "ES", "ES", "GR", None, None, "AQ", "ZZ"]
    assert [r["p"] for r in got][:7] == ["pos lite", "pos lite", "pos lite", "card reader", "unknown", "unknown",
                                         "terminal x"]


def test_channel_dictionary_resolves_to_one_row_per_campaign(tmp_path, wh):
    a, b, c = "111111111", "222222222", "333333333"
    chans = [
        channel(a), channel(a),                                              # exact copy
        channel(a, name=" fb_es_landing_prospecting_pos-lite", c5="fb prospe cting landing"),  # spaces only
        channel(b, budget="", c3="search", c4="search prospecting", c5="search prospecting brand"),
        channel(b, budget="abs", c3="search", c4="search prospecting", c5="search prospecting brand"),
        channel(b, budget="unknown", c3="search", c4="search prospecting", c5="search prospecting brand"),
        channel(c, name="first", budget="flight"), channel(c, name="second", budget="flight"),  # a tie
        channel(c, name="first", budget="flight", c3="max"),   # 'first' now has 2 rows: majority
    ]
    folder = write_exports(tmp_path / "x", chans, [lead("2022-01-03", a)])
    run_id, _, log = run_build(wh, folder)
    got = {r["campaign_id"]: r for r in rows(wh, T.CHANNELS)}
    assert set(got) == {a, b, c}
    assert got[a]["campaign_name"] == "fb_es_landing_prospecting_pos-lite"
    assert got[a]["channel_5"] == "fb prospecting landing" and got[a]["source_rows"] == 3
    assert got[b]["budget_category"] == "abs"                    # a known value beats empty and 'unknown'
    assert got[c]["campaign_name"] == "first" and got[c]["channel_3"] == "fb"
    assert got[c]["conflicts"] == "campaign_name, channel_3"
    assert log.get("channels", "exact duplicate rows collapsed") == 1
    conflicts = [e for e in log.entries if e.rule.startswith("campaigns with conflicting values")]
    assert conflicts[0].rows == 1 and c in conflicts[0].example


def test_a_tie_goes_to_the_row_earliest_in_the_file(tmp_path, wh):
    folder = write_exports(tmp_path / "x", [channel(ID, name="later"), channel(ID, name="earlier")][::-1],
                           [lead("2022-01-03")])
    run_build(wh, folder)
    assert rows(wh, T.CHANNELS)[0]["campaign_name"] == "earlier"
