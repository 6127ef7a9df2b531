"""One spelling rule for every domain (`sources.spelling`), and what each domain makes of it.

The campaign exports, the CRM and the attribution channels used to carry three copies of this
rule with different keys and tie-breaks; these tests pin the one rule, and that each domain's
earlier expectations still hold through it (tests/campaigns/test_cleaning.py,
tests/crm/test_standardize.py and tests/attribution/test_canonical_channels.py keep theirs).
"""

from __future__ import annotations

import ibis
from hypothesis import given, settings, strategies as st

from martops.attribution import channels
from martops.campaigns import clean
from martops.crm import standardize as S
from martops.crm import tables as T
from martops.sources import spelling
from tests.crm.folders import by_id, run_build, write_folder


def _map(values, **kw):
    t = ibis.memtable({"value": values, **kw}, schema={"value": "string", **{k: "int64" for k in kw}})
    return {r["key"]: (r["canonical"], r["variants"]) for r in spelling.spellings(t).to_pyarrow().to_pylist()}


def _col(fn, values):
    t = ibis.memtable({"s": values}, schema={"s": "string"})
    return t.select(v=fn(t.s)).to_pyarrow().column("v").to_pylist()


def test_one_value_per_key_spelled_as_most_rows_spell_it():
    m = _map(["Home Decor", "Home Decor", "home  decor ", "HomeDecor", "Home-Decor", "  ", None])
    assert m == {"homedecor": ("Home Decor", 3), "home-decor": ("Home-Decor", 1)}  # a hyphen is no space


def test_ties_go_to_fewer_spaces_then_code_point_order():
    assert _map(["demand gen", "demandgen"]) == {"demandgen": ("demandgen", 2)}
    assert _map(["Paid Search", "paid search"]) == {"paidsearch": ("Paid Search", 2)}


def test_pre_counted_uses_weigh_like_rows():
    assert _map(["Direct traffic ", "Direct Traffic"], uses=[5, 2]) == {"directtraffic": ("Direct traffic", 2)}


def test_respell_and_respelled_agree_and_keep_unmapped_texts_squashed():
    spellings = spelling.spellings(ibis.memtable({"value": ["Home", "home", "Home"]}))
    t = ibis.memtable({"c": [" HOME", "Garden  Tools", "", None]}, schema={"c": "string"})
    joined = spelling.respell(t, "c", spellings).to_pyarrow().column("c").to_pylist()
    key_map = {r["key"]: r["canonical"] for r in spellings.to_pyarrow().to_pylist()}
    assert sorted(joined, key=str) == sorted(["Home", "Garden Tools", None, None], key=str)
    assert _col(lambda s: spelling.respelled(s, key_map), [" HOME", "Garden  Tools", "", None]) == \
        ["Home", "Garden Tools", None, None]


@given(st.lists(st.text(alphabet="aAbB -\t", max_size=6), min_size=1, max_size=12))
@settings(max_examples=40, deadline=None)
def test_every_text_maps_to_a_spelling_of_its_own_key_used_most(values):
    m = _map(values)
    squashed = [" ".join(v.split()) for v in values if v.strip()]
    assert set(m) == {"".join(v.split()).lower() for v in squashed}
    for k, (canonical, variants) in m.items():
        mine = [v for v in squashed if "".join(v.split()).lower() == k]
        assert canonical in mine and variants == len(set(mine))
        assert mine.count(canonical) == max(mine.count(v) for v in mine)


def test_each_domain_applies_it_with_its_own_case():
    """Campaigns lower-case first (their names and channels are lower case); the CRM and the
    attribution channels keep the case most rows use."""
    values = ["FB Prospe cting", "fb prospecting", "Fb Prospecting"]
    camp = {r["key"]: r["canonical"] for r in clean.spellings(ibis.memtable({"value": values})).to_pyarrow().to_pylist()}
    assert camp == {"fbprospecting": "fb prospecting"}
    crm = {r["key"]: r["canonical"] for r in spelling.spellings(ibis.memtable({"value": values})).to_pyarrow().to_pylist()}
    assert crm == {"fbprospecting": "Fb Prospecting"}  # three spellings used once: fewer spaces, then F < f
    assert _col(lambda s: S.respelled(s, crm), ["fb prospecting", ""]) == ["Fb Prospecting", "unknown"]
    raw = ibis.memtable({"channel_name": ["Direct traffic ", "Direct Traffic", "Direct Traffic", None]})
    assert {(r["raw"], r["canonical"], r["uses"]) for r in channels.spelling_map(raw).to_pyarrow().to_pylist()} == \
        {("Direct traffic ", "Direct Traffic", 1), ("Direct Traffic", "Direct Traffic", 2)}


def test_crm_categories_and_regions_fold_spaces_too(tmp_path, wh):
    """Through `crm build`: `Home Decor`, `HomeDecor` and `home  decor` are one category (the CRM's
    own copy of the rule kept spaces in its key, so `HomeDecor` stayed a category of its own)."""
    folder = write_folder(tmp_path / "d",
                          products=[("1", "Sofa", "Home Decor", "10"), ("2", "Lamp", "HomeDecor", "20"),
                                    ("3", "Rug", "home  decor", "30"), ("4", "Vase", "Home Decor", "5"),
                                    ("5", "TV", "Electronics", "99")],
                          sales_team=[("r1", "Rita", "New York", "1000", "10"), ("r2", "Sam", "NEWYORK ", "10", "1"),
                                      ("r3", "Ann", "new  york", "10", "1"), ("r4", "Bo", "New York", "10", "1")],
                          transactions=[("t1", "c1", "1", "2024-04-01", "10", "r1")])
    run_build(wh, folder)
    p = by_id(wh, T.PRODUCTS, "product_id")
    assert {k: v["category"] for k, v in p.items()} == {"1": "Home Decor", "2": "Home Decor", "3": "Home Decor",
                                                        "4": "Home Decor", "5": "Electronics"}
    s = by_id(wh, T.SALES_TEAM, "sales_rep_id")
    assert {k: v["region"] for k, v in s.items()} == {"r1": "New York", "r2": "New York", "r3": "New York",
                                                       "r4": "New York"}
