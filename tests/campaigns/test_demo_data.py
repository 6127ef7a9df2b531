"""The synthetic POS Lite campaign exports must have the real headers and shapes, plant every
dirt class in PLANTED, be reproducible for a seed, and with dirty=False carry none of the dirt.

Every figure is read back from the written CSVs as text (no type guessing), the way a loader
first sees them. Targets come from the real exports in shared/datasets/poslite-campaigns.
"""
from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

import pytest

from martops.demo.campaigns import PLANTED, CampaignDemoSpec, generate

HEADERS = {
    "channels.csv": "CAMPAIGN_ID,CAMPAIGN_NAME,CAMPAIGN_PERIOD_BUDGET_CATEGORY,CHANNEL_3,"
                    "CHANNEL_4,CHANNEL_5",
    "leads_funnel.csv": "DATE,CURRENCY,COUNTRY_CODE,CAMPAIGN_ID,CAMPAIGN_NAME,PRODUCT,CHANNEL_3,"
                        "CHANNEL_4,CHANNEL_5,TOTAL_IMPRESSIONS,TOTAL_CLICKS,TOTAL_SPEND,"
                        "TOTAL_LEADS,TOTAL_FAKE_LEADS,TOTAL_SQLS,TOTAL_MEETING_DONE,"
                        "TOTAL_SIGNED_LEADS,TOTAL_POS_LITE_DEALS",
    "web_orders.csv": "DATE,COUNTRY_CODE,CAMPAIGN_ID,TOTAL_SPEND_EUR,NB_OF_SESSIONS,"
                      "NB_OF_SIGNUPS,NB_OF_ORDERS,NB_OF_POSLITE_ITEMS_ORDERED,"
                      "NB_POSLITE_ITEMS_DISPATCHED",
}
FILES = tuple(HEADERS)
ID = re.compile(r"\d{9,20}(\.000000)?")
COUNTRIES = {"ES", "GB", "IE", "CH"}
CHANNEL_3 = {"fb", "search", "search-shopping", "bing-search", "demandgen", "max"}
BUDGETS = {"alwayson", "flight", "abs", "max", "unknown"}
PRODUCTS = {"pos-lite", "poslite-cr", "pos", "pos lite", "card reader", "unknown"}
CHAIN = ("TOTAL_LEADS", "TOTAL_SQLS", "TOTAL_MEETING_DONE", "TOTAL_SIGNED_LEADS")
REACH = ("TOTAL_IMPRESSIONS", "TOTAL_CLICKS", "TOTAL_SPEND")


def read(folder: Path) -> dict[str, list[dict[str, str]]]:
    out = {}
    for name in FILES:
        with open(folder / name, newline="", encoding="utf-8") as f:
            out[name.split("_")[0].removesuffix(".csv")] = list(csv.DictReader(f))
    return out  # keys: channels, leads, web


def bare(cid: str) -> str:
    return cid.removesuffix(".000000")


def nospace(s: str) -> str:
    return s.replace(" ", "")


def channel_pairs(rows) -> Counter:
    """Pairs of distinct channels.csv rows of one id, by how they differ."""
    by_id = defaultdict(list)
    for r in rows:
        t = tuple(r.values())
        if t not in by_id[t[0]]:
            by_id[t[0]].append(t)
    kinds = Counter()
    for variants in by_id.values():
        for a, b in combinations(variants, 2):
            diff = [i for i in range(1, 6) if a[i] != b[i]]
            if all(nospace(a[i]) == nospace(b[i]) for i in diff):
                kinds["whitespace"] += 1
            elif len(diff) == 1 and "" in (a[diff[0]], b[diff[0]]):
                kinds["empty"] += 1
            elif diff == [2] and "unknown" in (a[2], b[2]):
                kinds["unknown"] += 1
    return kinds


def stray_spaces(leads) -> int:
    """Leads rows whose name or CHANNEL_5 differs from the id's usual one only by spaces."""
    n = 0
    for col in ("CAMPAIGN_NAME", "CHANNEL_5"):
        seen = defaultdict(Counter)
        for r in leads:
            if r["CAMPAIGN_ID"]:
                seen[bare(r["CAMPAIGN_ID"])][r[col]] += 1
        for values in seen.values():
            top = values.most_common(1)[0][0]
            n += sum(k for v, k in values.items() if v != top and nospace(v) == nospace(top))
    return n


def orphans(d) -> set[str]:
    funnel = {bare(r["CAMPAIGN_ID"]) for r in d["leads"] + d["web"] if r["CAMPAIGN_ID"]}
    return funnel - {r["CAMPAIGN_ID"] for r in d["channels"]}


def count(rows, **eq) -> int:
    return sum(all(r[k] == v for k, v in eq.items()) for r in rows)


def exact_duplicates(rows) -> int:
    return len(rows) - len({tuple(r.values()) for r in rows})


# How to see each planted class in the written files: a count, 0 on clean data.
DETECT = {
    "channels_exact_duplicates": lambda d: exact_duplicates(d["channels"]),
    "channels_whitespace_variants": lambda d: channel_pairs(d["channels"])["whitespace"],
    "channels_empty_field_copies": lambda d: channel_pairs(d["channels"])["empty"],
    "channels_unknown_budget_copies": lambda d: channel_pairs(d["channels"])["unknown"],
    "ids_float_suffix": lambda d: min(sum(r["CAMPAIGN_ID"].endswith(".000000") for r in d[f])
                                      for f in ("leads", "web")),
    "orphan_campaign_ids": lambda d: len(orphans(d)),
    "leads_missing_id_with_name": lambda d: sum(not r["CAMPAIGN_ID"] and bool(r["CAMPAIGN_NAME"])
                                                for r in d["leads"]),
    "leads_missing_id_and_name": lambda d: count(d["leads"], CAMPAIGN_ID="", CAMPAIGN_NAME=""),
    "leads_stray_spaces": lambda d: stray_spaces(d["leads"]),
    "leads_gbp_rows": lambda d: count(d["leads"], CURRENCY="GBP"),
    "leads_null_product": lambda d: count(d["leads"], PRODUCT=""),
    "leads_placeholder_impressions": lambda d: count(d["leads"], TOTAL_IMPRESSIONS="100000000"),
    "leads_placeholder_meetings": lambda d: count(d["leads"], TOTAL_MEETING_DONE="100000000"),
    "web_empty_dates": lambda d: count(d["web"], DATE=""),
    "web_unknown_country": lambda d: count(d["web"], COUNTRY_CODE="unknown"),
    "web_empty_country": lambda d: count(d["web"], COUNTRY_CODE=""),
    "web_empty_ids": lambda d: count(d["web"], CAMPAIGN_ID=""),
    "web_f_signups": lambda d: count(d["web"], NB_OF_SIGNUPS="f"),
    "web_placeholder_sessions": lambda d: count(d["web"], NB_OF_SESSIONS="10000"),
    "web_placeholder_items": lambda d: count(d["web"], NB_OF_POSLITE_ITEMS_ORDERED="10000"),
    "web_empty_spend": lambda d: count(d["web"], TOTAL_SPEND_EUR=""),
    "web_exact_duplicates": lambda d: exact_duplicates(d["web"]),
}


@pytest.fixture(scope="module")
def dirty_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("dirty")
    return out, generate(out)


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    return out, generate(out, CampaignDemoSpec(dirty=False))


@pytest.fixture(scope="module")
def dirty(dirty_dir):
    return read(dirty_dir[0])


@pytest.fixture(scope="module")
def clean(clean_dir):
    return read(clean_dir[0])


def test_headers_and_returned_row_counts(dirty_dir):
    out, rows = dirty_dir
    assert set(rows) == set(FILES)
    for name, header in HEADERS.items():
        lines = (out / name).read_text(encoding="utf-8").splitlines()
        assert lines[0] == header
        assert rows[name] == len(lines) - 1


def test_empty_cells_are_empty_fields(dirty_dir):
    for name in FILES:
        text = (dirty_dir[0] / name).read_text(encoding="utf-8")
        cells = {c for line in text.splitlines() for c in line.split(",")}
        assert not cells & {"nan", "NaN", "None", "null", "NULL", "<NA>"}
        assert '"' not in text


def test_same_seed_same_bytes_other_seed_other_bytes(dirty_dir, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    generate(again)
    generate(other, CampaignDemoSpec(seed=8))
    for name in FILES:
        assert (again / name).read_bytes() == (dirty_dir[0] / name).read_bytes()
        assert (other / name).read_bytes() != (dirty_dir[0] / name).read_bytes()


def test_refuses_to_overwrite_unless_forced(tmp_path):
    spec = CampaignDemoSpec(campaigns=6, days=20)
    generate(tmp_path, spec)
    (tmp_path / "channels.csv").unlink()  # one file left is enough to refuse
    with pytest.raises(FileExistsError, match="leads_funnel.csv.*force=True"):
        generate(tmp_path, spec)
    assert not (tmp_path / "channels.csv").exists()
    rows = generate(tmp_path, CampaignDemoSpec(campaigns=6, days=20, seed=9), force=True)
    assert all((tmp_path / name).exists() for name in FILES) and rows["channels.csv"] > 0


def test_too_small_spec_is_refused(tmp_path):
    with pytest.raises(ValueError, match="campaigns >= 4"):
        generate(tmp_path, CampaignDemoSpec(campaigns=3))
    assert not any(tmp_path.iterdir())


def test_ids_are_exact_digit_strings(dirty):
    ids = [r["CAMPAIGN_ID"] for f in ("channels", "leads", "web") for r in dirty[f]]
    assert all(ID.fullmatch(i) for i in ids if i)
    lengths = Counter(len(bare(i)) for i in ids if i)
    assert {9, 11, 17, 18} <= set(lengths)
    assert lengths[19] + lengths[20] > 0  # beyond int64: must never pass through a number
    assert any(len(bare(r["CAMPAIGN_ID"])) >= 19 for r in dirty["web"] + dirty["leads"])


def test_planted_is_documented_and_detected():
    assert set(DETECT) == set(PLANTED)
    assert all(isinstance(v, str) and v for v in PLANTED.values())


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_every_dirt_class_is_planted(dirty, name):
    assert DETECT[name](dirty) >= 1


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_clean_data_has_none_of_it(clean, name):
    assert DETECT[name](clean) == 0


def test_clean_keys_and_values(clean):
    assert exact_duplicates(clean["channels"]) == 0
    assert len({r["CAMPAIGN_ID"] for r in clean["channels"]}) == len(clean["channels"]) == 40
    for f, keys in (("leads", ("DATE", "COUNTRY_CODE", "CAMPAIGN_ID", "CAMPAIGN_NAME",
                               "PRODUCT")), ("web", ("DATE", "COUNTRY_CODE", "CAMPAIGN_ID"))):
        assert all(r[k] for r in clean[f] for k in keys)
    assert {r["CURRENCY"] for r in clean["leads"]} == {"EUR"}
    web_grains = Counter((r["DATE"], r["COUNTRY_CODE"], r["CAMPAIGN_ID"]) for r in clean["web"])
    assert max(web_grains.values()) == 1
    assert max(int(r["TOTAL_IMPRESSIONS"] or 0) for r in clean["leads"]) < 100_000_000
    assert max(int(r["TOTAL_MEETING_DONE"]) for r in clean["leads"]) < 100
    assert max(int(r["NB_OF_SESSIONS"]) for r in clean["web"]) < 10_000
    assert max(int(r["NB_OF_POSLITE_ITEMS_ORDERED"]) for r in clean["web"]) < 10_000


def test_dirty_files_are_the_clean_ones_plus_dirt(clean, dirty):
    assert Counter(r["DATE"] for r in clean["leads"]) == Counter(r["DATE"] for r in dirty["leads"])
    web = Counter(r["CAMPAIGN_ID"] for r in dirty["web"])
    assert len(dirty["web"]) - len(clean["web"]) == exact_duplicates(dirty["web"])
    assert set(web) - {""} <= {r["CAMPAIGN_ID"] for r in clean["web"]} | {
        r["CAMPAIGN_ID"] + ".000000" for r in clean["web"]}


def test_channel_dimension_shape(clean, dirty):
    for r in clean["channels"]:
        c3, c4, c5 = r["CHANNEL_3"], r["CHANNEL_4"], r["CHANNEL_5"]
        assert c3 in CHANNEL_3 and r["CAMPAIGN_PERIOD_BUDGET_CATEGORY"] in BUDGETS
        assert c4 in (f"{c3} prospecting", f"{c3} remarketing", "demandgen mix")
        assert c5 in (f"{c4} generic", f"{c4} brand", f"{c4} landing")
        assert r["CAMPAIGN_NAME"].startswith(f"{c3}_")
    names = [r["CAMPAIGN_NAME"] for r in clean["channels"]]
    assert len(set(names)) == len(names)  # a name identifies its campaign (empty-id rows)
    ch = dirty["channels"]
    per_id = len(ch) / len({r["CAMPAIGN_ID"] for r in ch})
    assert 1.5 < per_id < 2.5  # real: 120 rows for 60 ids
    assert 0.2 < exact_duplicates(ch) / len(ch) < 0.4
    funnel = {bare(r["CAMPAIGN_ID"]) for r in dirty["leads"] + dirty["web"] if r["CAMPAIGN_ID"]}
    assert 0.1 < len(orphans(dirty)) / len(funnel) < 0.3


def test_leads_shape(clean):
    leads = clean["leads"]
    grains = Counter((r["DATE"], r["COUNTRY_CODE"], r["CAMPAIGN_ID"]) for r in leads)
    assert max(grains.values()) == 8 and sum(k > 1 for k in grains.values()) > 100
    null = [all(r[c] == "" for c in REACH) for r in leads]
    assert all(any(r[c] == "" for c in REACH) == n for r, n in zip(leads, null))  # together
    assert 0.05 < sum(null) / len(leads) < 0.12
    full = [r for r, n in zip(leads, null) if not n]
    assert all(int(r["TOTAL_CLICKS"]) <= int(r["TOTAL_IMPRESSIONS"]) for r in full)
    assert all(re.fullmatch(r"\d+", r["TOTAL_SPEND"]) for r in full)  # whole euros, as real
    imps = sorted(int(r["TOTAL_IMPRESSIONS"]) for r in full)
    assert 700 < imps[len(imps) // 2] < 4000  # real median ~1500
    chain = [[int(r[c]) for c in CHAIN] for r in leads]
    broken = sum(not (a >= b >= c >= d) for a, b, c, d in chain) / len(chain)
    assert 0.3 < broken < 0.55
    assert max(int(r["TOTAL_LEADS"]) for r in leads) <= 14
    assert {r["PRODUCT"] for r in leads} <= PRODUCTS
    assert {r["COUNTRY_CODE"] for r in leads} <= COUNTRIES


def test_web_shape_and_funnels(clean):
    web = clean["web"]
    n = [[int(r[c]) for c in ("NB_OF_SESSIONS", "NB_OF_SIGNUPS", "NB_OF_ORDERS")] for r in web]
    assert 0.99 < sum(a >= b >= c for a, b, c in n) / len(n) < 1
    spend = [r["TOTAL_SPEND_EUR"] for r in web]
    assert sum(len(s.partition(".")[2]) >= 5 for s in spend) / len(spend) > 0.9
    assert {r["COUNTRY_CODE"] for r in web} == COUNTRIES
    both = {r["CAMPAIGN_ID"] for r in web} & {r["CAMPAIGN_ID"] for r in clean["leads"]}
    assert len(both) == 6


def test_sizes_near_the_real_exports_and_scaling(clean_dir, dirty_dir, tmp_path):
    rows = dirty_dir[1]
    assert 50 <= rows["channels.csv"] <= 90          # real: 120 rows for 60 ids; here 32 ids
    assert 2_500 <= rows["leads_funnel.csv"] <= 5_000  # real: 3,736
    assert 3_800 <= rows["web_orders.csv"] <= 6_200    # real: 4,961
    half = generate(tmp_path, CampaignDemoSpec(campaigns=40, days=75, dirty=False))
    for name in ("leads_funnel.csv", "web_orders.csv"):
        assert 0.3 < half[name] / clean_dir[1][name] < 0.7


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_smallest_spec_still_plants_every_class(tmp_path, seed):
    generate(tmp_path, CampaignDemoSpec(campaigns=4, days=14, seed=seed))
    d = read(tmp_path)
    assert {name for name in PLANTED if DETECT[name](d) < 1} == set()
