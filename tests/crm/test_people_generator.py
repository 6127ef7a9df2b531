"""The synthetic CRM people must carry exactly the truth and the corruptions they claim.

A linkage benchmark is only as good as its truth: every copy's differences from its original
must be the ones its `corruptions` label lists, and distinct people must rarely look alike.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from martops.crm.nicknames import canonical
from martops.demo.crm_people import (COLUMNS, KINDS, NULLABLE, PeopleSpec, generate,
                                     write_csv)

N = 20_000


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return generate(PeopleSpec(n_records=N, seed=3)).to_pandas()


@pytest.fixture(scope="module")
def copies(people: pd.DataFrame) -> pd.DataFrame:
    """Each copy beside its original (original columns suffixed _o)."""
    orig = people[people.corruptions == ""]
    return people[people.corruptions != ""].merge(orig, on="entity_id", suffixes=("", "_o"))


def _labels(s: str) -> set[str]:
    return set(s.split(";")) if s else set()


def _digits(phone: str) -> str:
    """The 10 national digits of any planted phone format."""
    d = re.sub(r"\D", "", phone.split(" x")[0])
    return d[3:] if d.startswith("001") else d[1:] if len(d) == 11 else d


def test_deterministic_for_a_seed():
    spec = PeopleSpec(n_records=3_000, seed=11)
    assert generate(spec).equals(generate(spec))
    assert not generate(spec).equals(generate(PeopleSpec(n_records=3_000, seed=12)))


def test_columns_ids_and_sizes(people):
    assert tuple(people.columns) == COLUMNS
    assert len(people) == N and people.record_id.is_unique
    assert people.record_id.str.fullmatch(r"r\d{7}").all()
    copies = N - people.entity_id.nunique()
    assert copies == round(0.3 * N)
    assert people.groupby("entity_id").size().max() <= 1 + PeopleSpec().max_copies
    # shuffled: copies are not next to their original
    same_next = (people.entity_id.values[1:] == people.entity_id.values[:-1]).mean()
    assert same_next < 0.01


def test_originals_are_clean_and_unique(people):
    orig = people[people.corruptions == ""]
    assert orig.entity_id.is_unique and len(orig) == people.entity_id.nunique()
    assert not orig.isna().any().any()
    assert orig.email.is_unique
    # phones are shared only inside a household (a landline): same surname and address
    digits = orig.assign(digits=orig.phone.map(_digits))
    shared = digits[digits.digits.duplicated(keep=False)]
    assert 0 < len(shared) < 0.25 * len(orig)  # relatives with a landline and their heads
    assert (shared.groupby("digits")[["surname", "address"]].nunique() == 1).all().all()
    assert orig.email.str.fullmatch(r"[a-z0-9._]+@[a-z]+\.com").all()
    assert orig.postcode.str.fullmatch(r"\d{5}").all()
    assert orig.dob.str.fullmatch(r"(19[4-9]\d|200[0-5])-\d\d-\d\d").all()
    assert orig.address.str.fullmatch(r"\d{1,4} [A-Z][a-z]+ [A-Z][a-z]+").all()
    # phone formats mixed among originals
    assert orig.phone.str.startswith("(").mean() > 0.2
    assert orig.phone.str.fullmatch(r"\d{10}").mean() > 0.3


def test_households_are_the_hard_negatives(people):
    """Relatives share surname and address (some a phone, twins a dob) but never an entity."""
    orig = people[people.corruptions == ""]
    homes = orig.groupby(["surname", "address", "postcode", "city"]).entity_id.nunique()
    assert (homes > 1).sum() > 0.08 * len(orig)
    twins = orig.groupby(["surname", "address", "dob"]).entity_id.nunique()
    assert (twins > 1).sum() > 0


def test_every_corruption_kind_appears(people):
    seen = {lab.split(":")[0] for s in people.corruptions for lab in _labels(s)}
    assert seen == set(KINDS)
    fields = {lab for s in people.corruptions for lab in _labels(s) if ":" in lab}
    assert {f"missing:{f}" for f in NULLABLE} <= fields
    assert {f"typo:{f}" for f in ("first_name", "surname", "address", "email")} <= fields


def test_copies_have_one_to_three_corruptions(copies):
    n = copies.corruptions.map(lambda s: len(_labels(s)))
    assert n.between(1, 3).all()
    assert set(n) == {1, 2, 3}


def test_nulls_are_planted_missing_fields_only(people):
    for col in COLUMNS:
        nulls = people[col].isna()
        if col not in NULLABLE:
            assert not nulls.any(), col
        else:
            said = people.corruptions.str.contains(f"missing:{col}", regex=False)
            assert (nulls == said).all(), col


def test_copy_keeps_name_and_a_strong_identifier(copies):
    assert copies.first_name.notna().all() and copies.surname.notna().all()
    assert copies[["email", "phone", "dob"]].notna().any(axis=1).all()
    assert (copies[["email", "phone", "dob"]].isna().sum(axis=1) <= 1).all()


def test_untouched_fields_equal_the_original(copies):
    """A field no label mentions is byte-identical to the original's: the labels are the
    whole truth about a copy."""
    lab = copies.corruptions.map(_labels)

    def mentions(row_labels: set[str], *tags: str) -> bool:
        return any(t in row_labels for t in tags)

    touches = {
        "first_name": ("nickname", "typo:first_name", "transpose:first_name"),
        "surname": ("typo:surname", "transpose:surname"),
        "dob": ("dob_swap", "missing:dob"),
        "email": ("typo:email", "transpose:email", "email_format", "missing:email"),
        "phone": ("phone_format", "missing:phone"),
        "address": ("moved", "typo:address", "transpose:address", "missing:address"),
        "postcode": ("moved", "missing:postcode"),
        "city": ("moved",),
    }
    for col, tags in touches.items():
        untouched = ~lab.map(lambda s, tags=tags: mentions(s, *tags))
        assert (copies.loc[untouched, col] == copies.loc[untouched, f"{col}_o"]).all(), col
        # a touched field differs (missing fields aside)
        touched = copies[~untouched & copies[col].notna()]
        assert (touched[col] != touched[f"{col}_o"]).all(), col


def test_corruptions_do_what_they_say(copies):
    lab = copies.corruptions.map(_labels)
    has = lambda tag: lab.map(lambda s: tag in s)  # noqa: E731

    ph = copies[has("phone_format") & copies.phone.notna()]
    assert (ph.phone.map(_digits) == ph.phone_o.map(_digits)).all()
    em = copies[has("email_format") & ~has("typo:email") & ~has("transpose:email")]
    assert (em.email.str.strip().str.lower() == em.email_o).all()
    mv = copies[has("moved")]
    assert (mv.city != mv.city_o).all()
    ds = copies[has("dob_swap") & ~has("missing:dob")]
    assert len(ds) and (ds.dob.str[:5] + ds.dob.str[8:] + "-" + ds.dob.str[5:7] == ds.dob_o).all()
    nk = copies[has("nickname") & ~lab.map(lambda s: any("first_name" in t for t in s))]
    assert len(nk) and (nk.first_name.map(canonical) == nk.first_name_o.map(canonical)).all()
    for kind in ("typo", "transpose"):
        for col in ("first_name", "surname"):
            other = "transpose" if kind == "typo" else "typo"
            sub = copies[has(f"{kind}:{col}") & ~has(f"{other}:{col}") & ~has("nickname")]
            assert len(sub)
            d = sub[col].str.len() - sub[f"{col}_o"].str.len()
            assert d.abs().max() <= (1 if kind == "typo" else 0)


def test_postcode_belongs_to_city(people):
    """Moved copies draw address, postcode and city together: a city has one zip prefix."""
    p = people.dropna(subset=["postcode"])
    assert (p.groupby("city").postcode.agg(lambda s: s.str[:3].nunique()) == 1).all()


def test_distinct_entities_rarely_look_alike(people):
    orig = people[people.corruptions == ""]
    shared = orig.duplicated(["first_name", "surname", "dob"], keep=False).sum()
    # ~14k people drawn from ~8e9 (name, dob) combinations: collisions expected ~0.03
    assert shared <= 2


def test_spec_validation():
    with pytest.raises(ValueError, match="max_copies"):
        generate(PeopleSpec(n_records=100, duplicate_share=0.8, max_copies=3))
    with pytest.raises(ValueError):
        generate(PeopleSpec(n_records=0))
    t = generate(PeopleSpec(n_records=50, duplicate_share=0.0))
    assert set(np.asarray(t["corruptions"])) == {""}
    t = generate(PeopleSpec(n_records=40, duplicate_share=0.75, max_copies=3))
    assert t.num_rows == 40 and len(set(t["entity_id"].to_pylist())) == 10


def test_write_csv_round_trips(tmp_path):
    spec = PeopleSpec(n_records=500, seed=5)
    path = write_csv(spec, tmp_path / "sub" / "people.csv")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(back) == 500 and tuple(back.columns) == COLUMNS
    assert (back.record_id.values == generate(spec)["record_id"].to_numpy()).all()
