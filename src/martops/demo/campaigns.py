"""Synthetic "POS Lite campaign exports": channels.csv, leads_funnel.csv and web_orders.csv.

The real exports (shared/datasets/poslite-campaigns) are private samples, so the campaigns
pipeline, its tests and its docs run on these instead: same headers, same shapes, same kinds of
dirt, at any size and reproducibly for a seed. Shapes and ranges are fitted to the real files;
no row is copied from them.

What makes the real exports hard, and so what this writes:
- channels.csv is a dimension that is not one: ~2 rows per campaign id, a third of them exact
  duplicates, the rest copies differing only in whitespace, an empty field, or `unknown` for the
  budget category. Every copy is "right"; a loader has to pick one.
- leads_funnel.csv repeats its grain (DATE, COUNTRY_CODE, CAMPAIGN_ID) 1-8 times with different
  PRODUCT labels and same-or-lower counts, some copies with NULL impressions/clicks/spend. Summing
  it double counts; taking any single row loses data. Its funnel counts are not monotone in
  ~40% of rows (more SQLs than leads...; most rows in the real export): checks must expect it.
- web_orders.csv is one row per grain, spend with many decimals, sessions >= signups >= orders.
- Campaign ids are 9-20 digit strings: Meta's 17-18 digits already exceed float64's exact
  integers (2**53), and a few of 19-20 digits exceed int64 too, so a CSV reader guessing types
  silently corrupts them; some rows already carry the `.000000` tail of an upstream float cast.

Dirt is planted (spec.dirty) after the clean data is drawn, from its own random stream: with the
same seed, the clean files (dirty=False) are the ground truth of the dirty ones: the same
funnel rows before the final shuffle (channels.csv minus the orphans, plus its copies). Every
class in PLANTED is present at least once, for any seed and any spec the generator accepts.

Speed: rows are drawn per column in numpy; only the campaign dimension (tens of rows) and the
planted dirt (tens of cells) are handled in Python. The default set is written in ~50 ms.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

FILES = ("channels.csv", "leads_funnel.csv", "web_orders.csv")
CHANNELS_HEADER = ("CAMPAIGN_ID", "CAMPAIGN_NAME", "CAMPAIGN_PERIOD_BUDGET_CATEGORY",
                   "CHANNEL_3", "CHANNEL_4", "CHANNEL_5")
LEADS_HEADER = ("DATE", "CURRENCY", "COUNTRY_CODE", "CAMPAIGN_ID", "CAMPAIGN_NAME", "PRODUCT",
                "CHANNEL_3", "CHANNEL_4", "CHANNEL_5", "TOTAL_IMPRESSIONS", "TOTAL_CLICKS",
                "TOTAL_SPEND", "TOTAL_LEADS", "TOTAL_FAKE_LEADS", "TOTAL_SQLS",
                "TOTAL_MEETING_DONE", "TOTAL_SIGNED_LEADS", "TOTAL_POS_LITE_DEALS")
WEB_HEADER = ("DATE", "COUNTRY_CODE", "CAMPAIGN_ID", "TOTAL_SPEND_EUR", "NB_OF_SESSIONS",
              "NB_OF_SIGNUPS", "NB_OF_ORDERS", "NB_OF_POSLITE_ITEMS_ORDERED",
              "NB_POSLITE_ITEMS_DISPATCHED")

PLANTED: dict[str, str] = {
    "channels_exact_duplicates": "channels.csv rows repeated verbatim (~30% of its rows)",
    "channels_whitespace_variants": "channels.csv copies of an id differing only in whitespace "
                                    "(trailing, doubled, or inside a word: 'search -shopping')",
    "channels_empty_field_copies": "channels.csv copies of an id with an empty budget category, "
                                   "CAMPAIGN_NAME or CHANNEL_5",
    "channels_unknown_budget_copies": "channels.csv copies of an id saying 'unknown' where "
                                      "another copy has a real budget category (or vice versa)",
    "ids_float_suffix": "funnel CAMPAIGN_IDs written as '<id>.000000' (both funnel files)",
    "orphan_campaign_ids": "funnel campaign ids missing from channels.csv (~20% of them)",
    "leads_missing_id_with_name": "leads rows with an empty CAMPAIGN_ID but the campaign's name",
    "leads_missing_id_and_name": "leads rows with both CAMPAIGN_ID and CAMPAIGN_NAME empty",
    "leads_stray_spaces": "leads copies with a stray space in CAMPAIGN_NAME or CHANNEL_5",
    "leads_gbp_rows": "leads rows in GBP instead of EUR (GB campaigns only)",
    "leads_null_product": "leads rows with an empty PRODUCT",
    "leads_placeholder_impressions": "one leads row with TOTAL_IMPRESSIONS=100000000",
    "leads_placeholder_meetings": "one leads row with TOTAL_MEETING_DONE=100000000",
    "web_empty_dates": "web rows with an empty DATE",
    "web_unknown_country": "web rows with COUNTRY_CODE 'unknown'",
    "web_empty_country": "web rows with an empty COUNTRY_CODE",
    "web_empty_ids": "web rows with an empty CAMPAIGN_ID",
    "web_f_signups": "one web row with a literal 'f' in NB_OF_SIGNUPS",
    "web_placeholder_sessions": "one web row with NB_OF_SESSIONS=10000",
    "web_placeholder_items": "one web row with NB_OF_POSLITE_ITEMS_ORDERED=10000",
    "web_empty_spend": "one web row with an empty TOTAL_SPEND_EUR",
    "web_exact_duplicates": "web rows repeated verbatim",
}

COUNTRIES = ("ES", "GB", "IE", "CH")
COUNTRY_P = (0.30, 0.40, 0.15, 0.15)
CHANNEL_3 = ("fb", "search", "search-shopping", "bing-search", "demandgen", "max")
LEADS_C3_P = (0.70, 0.10, 0.15, 0.05, 0.0, 0.0)  # the sales-assisted funnel is mostly Meta
WEB_C3_P = (0.10, 0.45, 0.15, 0.12, 0.08, 0.10)  # the web funnel mostly Google
BUDGETS = ("alwayson", "flight", "abs", "max", "unknown")
BUDGET_P = (0.50, 0.12, 0.06, 0.0, 0.32)
MAX_BUDGET_P = (0.30, 0.10, 0.0, 0.40, 0.20)  # 'max' budgets only on Performance Max
PRODUCTS = ("pos-lite", "poslite-cr", "pos", "pos lite", "card reader", "unknown")
MAIN_PRODUCT_P = (0.20, 0.30, 0.10, 0.07, 0.03, 0.30)
COPY_PRODUCT_P = (0.10, 0.10, 0.20, 0.10, 0.05, 0.45)
# Rows per leads grain: the real export has mostly 1 or many (8+); capped at 8 here.
COPIES_P = (0.45, 0.10, 0.05, 0.05, 0.05, 0.05, 0.10, 0.15)
BROKEN_FUNNEL = 0.5   # grains whose leads >= sqls >= meetings >= signed does not hold
NULL_COSTS = 0.08     # rows with NULL impressions, clicks and spend together
PLACEHOLDER_BIG = 100_000_000
PLACEHOLDER_WEB = 10_000
FLOAT_SUFFIX = ".000000"


@dataclass(frozen=True)
class CampaignDemoSpec:
    campaigns: int = 40          # distinct campaign ids
    start: date = date(2022, 1, 1)
    days: int = 150
    seed: int = 7
    dirty: bool = True           # plant the dirt classes in PLANTED


@dataclass(frozen=True)
class _Campaign:
    id: str
    name: str
    budget: str
    c3: str
    c4: str
    c5: str
    country: str
    funnel: str    # "leads", "web" or "both"
    product: str   # the PRODUCT label of its first row per leads grain


def generate(out_dir: str | Path, spec: CampaignDemoSpec = CampaignDemoSpec(), *,
             force: bool = False) -> dict[str, int]:
    """Write channels.csv, leads_funnel.csv, web_orders.csv into out_dir; return rows written per
    file name. Refuse (FileExistsError) if any of the files exists and not force."""
    if spec.campaigns < 4 or spec.days < 14:
        raise ValueError(f"campaigns >= 4 and days >= 14 are needed to hold every funnel and "
                         f"dirt class (got campaigns={spec.campaigns}, days={spec.days})")
    out = Path(out_dir)
    existing = [name for name in FILES if (out / name).exists()]
    if existing and not force:
        raise FileExistsError(f"{out}: {', '.join(existing)} already exist(s); "
                              f"pass force=True to overwrite")
    rng = np.random.default_rng(spec.seed)
    camps = _campaigns(rng, spec.campaigns)
    leads, copy_no = _leads(rng, camps, spec)
    web = _web(rng, camps, spec)
    channels = {k: np.array([getattr(c, a) for c in camps], dtype=object)
                for k, a in zip(CHANNELS_HEADER, ("id", "name", "budget", "c3", "c4", "c5"))}
    if spec.dirty:
        dirt = np.random.default_rng([spec.seed, 1])
        orphans = _plant_funnel_ids(dirt, camps, leads, web)
        channels = {k: v[~orphans] for k, v in channels.items()}
        channels = _plant_channels(dirt, channels)
        leads = _plant_leads(dirt, leads, copy_no)
        web = _plant_web(dirt, web)
    order = np.random.default_rng([spec.seed, 2])
    out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name, header, cols in zip(FILES, (CHANNELS_HEADER, LEADS_HEADER, WEB_HEADER),
                                  (channels, leads, web)):
        perm = order.permutation(len(cols[header[0]]))
        rows[name] = _write_csv(out / name, header, [cols[h][perm] for h in header])
    return rows


# --- campaigns --------------------------------------------------------------------------------

def _digits(rng: np.random.Generator, n: int, lead: str = "") -> str:
    body = rng.integers(0, 10, size=n - len(lead))
    if not lead:
        body[0] = rng.integers(1, 10)
    return lead + "".join(map(str, body.tolist()))


def _campaign_id(rng: np.random.Generator, c3: str, wide: bool) -> str:
    """Id lengths by ad platform, as in the real exports: Meta 17-18 digits, Google 11, Bing 9;
    a few ids of 19-20 digits (beyond float64 precision) on any platform."""
    if wide:
        return _digits(rng, int(rng.integers(19, 21)))
    if c3 == "fb":
        return _digits(rng, 18, "1202") if rng.random() < 0.6 else _digits(rng, 17, "238")
    if c3 == "bing-search":
        return _digits(rng, 9, "39")
    return _digits(rng, 11, str(rng.integers(1, 3)))


def _campaigns(rng: np.random.Generator, n: int) -> list[_Campaign]:
    n_both = max(1, round(0.15 * n))
    n_leads = max(1, round(0.25 * n))
    funnels = ["leads"] * n_leads + ["both"] * n_both + ["web"] * (n - n_leads - n_both)
    countries = rng.choice(COUNTRIES, size=n, p=COUNTRY_P).tolist()
    if "GB" not in countries[:n_leads + n_both]:  # GBP rows need a GB leads campaign
        countries[0] = "GB"
    # Ids of 19-20 digits (beyond int64), mostly on the leads side as in the real exports.
    wide = rng.random(n) < np.where(np.array(funnels) == "web", 0.04, 0.15)
    wide[rng.integers(0, n_leads + n_both)] = True
    camps, ids, names = [], set(), set()
    for i, funnel in enumerate(funnels):
        c3 = str(rng.choice(CHANNEL_3, p=WEB_C3_P if funnel == "web" else LEADS_C3_P))
        if c3 == "demandgen" and rng.random() < 0.35:
            c4, target = "demandgen mix", "mix"
        else:
            target = "remarketing" if rng.random() < 0.1 else "prospecting"
            c4 = f"{c3} {target}"
        if c3 == "fb":
            kind = "landing" if rng.random() < 0.55 else "generic"
        elif c3 in ("max", "demandgen"):
            kind = "generic" if rng.random() < 0.8 else "brand"
        else:
            kind = "brand" if rng.random() < 0.5 else "generic"
        budget = str(rng.choice(BUDGETS, p=MAX_BUDGET_P if c3 == "max" else BUDGET_P))
        cid = _campaign_id(rng, c3, bool(wide[i]))
        while cid in ids:
            cid = _campaign_id(rng, c3, bool(wide[i]))
        ids.add(cid)
        name = _campaign_name(rng, c3, countries[i], kind, target, budget, funnel)
        k = 2
        while name in names:  # names identify campaigns too (rows with an empty id keep it)
            name, k = f"{name.rsplit('_v', 1)[0]}_v{k}", k + 1
        names.add(name)
        camps.append(_Campaign(cid, name, budget, c3, c4, f"{c4} {kind}", countries[i], funnel,
                               str(rng.choice(PRODUCTS, p=MAIN_PRODUCT_P))))
    return camps


def _campaign_name(rng, c3, country, kind, target, budget, funnel) -> str:
    """Names like fb_es_landing_prospecting_pos-lite_poslite-cr_bau_alwayson."""
    cc = "uk" if country == "GB" and c3 == "fb" and rng.random() < 0.3 else country.lower()
    if c3 == "max" and rng.random() < 0.3:
        return f"max_{cc}_{target}"
    offers = (("pos-lite_poslite-cr", "pos-lite_pos-lite", "sales-led_pos", "pos-lite")
              if funnel != "web" else ("self-serve_cr", "sales-led_pos", "pos-lite_poslite-cr",
                                       "self-serve", "sales-led_bundle"))
    offer = str(rng.choice(offers))
    program = str(rng.choice(("bau", "promo", "mix")))
    extra = str(rng.choice(("", "", "", "de", "fr", "pos-broad", "kw-pos", "exact-audience",
                            "advantage+", "convgoaltest-purchasecr")))
    tail = [budget if budget in ("alwayson", "flight") else "", extra]
    if rng.random() < 0.25:
        parts = [c3, cc, offer.split("_")[0], target, kind, program, *tail]
    else:
        parts = [c3, cc, kind, target, offer, program, *tail]
    return "_".join(p for p in parts if p)


def _column(camps: list[_Campaign], attr: str) -> np.ndarray:
    return np.array([getattr(c, attr) for c in camps], dtype=object)


def _grid(rng, n, days, full_p, rate_a, rate_b):
    """(entity, day) pairs of activity: a window per entity (full or partial), then a per-entity
    activity rate inside it; every entity is active on its window's first day."""
    full = rng.random(n) < full_p
    length = np.where(full, days, np.maximum(1, (days * rng.uniform(0.15, 1.0, n)).astype(int)))
    start = rng.integers(0, days - length + 1)
    rate = rng.beta(rate_a, rate_b, n)
    day = np.arange(days)
    active = ((day >= start[:, None]) & (day < (start + length)[:, None])
              & (rng.random((n, days)) < rate[:, None]))
    active[np.arange(n), start] = True
    return np.nonzero(active)


def _dates(spec: CampaignDemoSpec, day: np.ndarray) -> np.ndarray:
    return (np.datetime64(spec.start, "D") + day).astype(str).astype(object)


def _ints(a: np.ndarray, null: np.ndarray | None = None) -> np.ndarray:
    text = a.astype(np.int64).astype(str).astype(object)
    if null is not None:
        text[null] = ""
    return text


# --- leads_funnel.csv -------------------------------------------------------------------------

def _leads(rng, camps, spec):
    """Rows of leads_funnel.csv as text columns, and each row's copy number in its grain."""
    lc = [c for c in camps if c.funnel != "web"]
    ci, day = _grid(rng, len(lc), spec.days, 0.5, 4.0, 2.5)
    g = len(ci)
    k = rng.choice(np.arange(1, 9), size=g, p=COPIES_P)
    k[0] = max(k[0], 2)  # at least one repeated grain, whatever the size
    grain = np.repeat(np.arange(g), k)
    copy_no = np.arange(len(grain)) - np.repeat(np.cumsum(k) - k, k)
    n = len(grain)
    # Reach and cost per grain: impressions ~ lognormal, CTR ~0.5%, CPM ~10 EUR.
    scale = rng.lognormal(np.log(2500), 0.8, len(lc))
    imp = np.minimum(rng.lognormal(np.log(scale[ci]), 1.2), 5e6)
    ctr = np.clip(rng.lognormal(np.log(0.005), 0.5, g), 0, 0.05)
    clk = rng.binomial(imp.astype(np.int64), ctr)
    spend = imp * rng.lognormal(np.log(10.0), 0.4, g) / 1000
    zero = rng.random(g) < 0.12
    imp, clk, spend = np.where(zero, 0, imp), np.where(zero, 0, clk), np.where(zero, 0, spend)
    # Funnel counts per grain: monotone for most grains, independent draws for the others.
    leads = rng.integers(0, 15, g)
    sqls = np.minimum(rng.binomial(leads, 0.7), 11)
    broken = rng.random(g) < BROKEN_FUNNEL
    sqls = np.where(broken, rng.integers(0, 12, g), sqls)
    meet = np.maximum(sqls - rng.integers(0, 2, g), 0)
    signed = np.where(broken, rng.integers(0, 10, g), np.minimum(rng.binomial(meet, 0.7), 9))
    mono = (leads >= sqls) & (sqls >= meet) & (meet >= signed)
    fix = broken & mono  # an independent draw that happened to be monotone: break it
    signed = np.where(fix & (meet <= 8), meet + 1, signed)
    leads = np.where(fix & (meet > 8), sqls - 1, leads)
    deals = np.where(broken, rng.integers(0, 8, g), np.minimum(rng.binomial(signed, 0.7), 7))
    fake = np.maximum(leads - rng.choice(3, size=g, p=(0.25, 0.5, 0.25)), 0)
    # Copies: same or lower values (one factor per row keeps clicks <= impressions and keeps
    # each row's funnel order), their own PRODUCT label, now and then NULL reach and cost.
    def factor():
        f = np.where(rng.random(n) < 0.3, 1.0, rng.random(n))
        return np.where(copy_no == 0, 1.0, f)
    fr, fc = factor(), factor()
    imp_r, clk_r = np.floor(imp[grain] * fr), np.floor(clk[grain] * fr)
    spend_r = np.rint(spend[grain] * fr)  # the real export has whole euros
    null = rng.random(n) < NULL_COSTS
    counts = [np.floor(a[grain] * fc) for a in (leads, fake, sqls, meet, signed, deals)]
    rc = ci[grain]
    main = _column(lc, "product")[rc]
    product = np.where(copy_no == 0, main, rng.choice(PRODUCTS, size=n, p=COPY_PRODUCT_P))
    cols = {
        "DATE": _dates(spec, day[grain]), "CURRENCY": np.full(n, "EUR", dtype=object),
        "COUNTRY_CODE": _column(lc, "country")[rc], "CAMPAIGN_ID": _column(lc, "id")[rc],
        "CAMPAIGN_NAME": _column(lc, "name")[rc], "PRODUCT": product.astype(object),
        "CHANNEL_3": _column(lc, "c3")[rc], "CHANNEL_4": _column(lc, "c4")[rc],
        "CHANNEL_5": _column(lc, "c5")[rc],
        "TOTAL_IMPRESSIONS": _ints(imp_r, null), "TOTAL_CLICKS": _ints(clk_r, null),
        "TOTAL_SPEND": _ints(spend_r, null),
    }
    cols.update(zip(LEADS_HEADER[12:], map(_ints, counts)))
    return cols, copy_no


# --- web_orders.csv ---------------------------------------------------------------------------

def _web(rng, camps, spec):
    """Rows of web_orders.csv as text columns: one per (date, country, campaign). A web campaign
    runs in its own country and, like a third of the real ones, sometimes in one or two more."""
    wc = [c for c in camps if c.funnel != "leads"]
    extra = rng.choice(3, size=len(wc), p=(0.5, 0.38, 0.12))
    pc, pcountry = [], []
    for i, c in enumerate(wc):
        others = [x for x in COUNTRIES if x != c.country]
        for x in [c.country, *rng.choice(others, size=extra[i], replace=False).tolist()]:
            pc.append(i)
            pcountry.append(x)
    pc, pcountry = np.array(pc), np.array(pcountry, dtype=object)
    p, day = _grid(rng, len(pc), spec.days, 0.6, 6.0, 1.5)
    n = len(p)
    mu = rng.lognormal(np.log(15), 1.3, len(pc))
    sessions = np.minimum(rng.poisson(mu[p] * rng.lognormal(0, 0.6, n)), 5000)
    # Spend: a cost per session (~3.5-6 EUR, as big rows show) plus a cost that buys no session.
    cps = rng.lognormal(np.log(4.5), 0.2, len(pc))
    spend = sessions * cps[p] * rng.lognormal(0, 0.1, n) + rng.lognormal(np.log(20), 1.2, n)
    spend = np.where(rng.random(n) < 0.02, 0.0, np.maximum(np.round(spend, 7), 0.01))
    signup_p = np.clip(rng.lognormal(np.log(0.08), 0.5, len(pc)), 0, 0.9)
    signups = rng.binomial(sessions, signup_p[p])
    odd = rng.random(n) < 0.003  # "mostly": a few rows count more signups than sessions
    signups = np.where(odd, sessions + rng.integers(1, 4, n), signups)
    orders = rng.binomial(signups, 0.15)
    items = rng.binomial(orders, 0.35)
    dispatched = rng.binomial(items, 0.3)
    return {
        "DATE": _dates(spec, day), "COUNTRY_CODE": pcountry[p],
        "CAMPAIGN_ID": _column(wc, "id")[pc[p]],
        "TOTAL_SPEND_EUR": np.char.mod("%.10g", spend).astype(object),
        "NB_OF_SESSIONS": _ints(sessions), "NB_OF_SIGNUPS": _ints(signups),
        "NB_OF_ORDERS": _ints(orders), "NB_OF_POSLITE_ITEMS_ORDERED": _ints(items),
        "NB_POSLITE_ITEMS_DISPATCHED": _ints(dispatched),
    }


# --- dirt -------------------------------------------------------------------------------------

def _few(n: int, rate: float) -> int:
    return max(1, round(rate * n))


class _Picker:
    """Disjoint random rows of one table, so each planted cell belongs to one dirt class."""

    def __init__(self, rng: np.random.Generator, n: int):
        self.rng, self.free = rng, np.ones(n, bool)

    def __call__(self, k: int, where: np.ndarray | None = None) -> np.ndarray:
        ok = self.free if where is None else self.free & where
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            raise ValueError("spec too small to plant every dirt class; add campaigns or days")
        pick = self.rng.choice(idx, size=min(k, len(idx)), replace=False)
        self.free[pick] = False
        return pick


def _respace(rng: np.random.Generator, s: str) -> str:
    """`s` with one stray space, as the real exports have them: trailing, doubled, inside a word
    ('fb prospe cting generic', 'search -shopping', 'search _gb_...') or, rarely, leading."""
    r = rng.random()
    inner = [i for i in range(1, len(s)) if s[i - 1] != " " and s[i] != " "]
    if r < 0.25 or not inner:
        return s + " "
    if r < 0.4 and " " in s:
        i = s.index(" ")
        return s[:i] + " " + s[i:]
    if r < 0.9:
        i = int(rng.choice(inner))
        return s[:i] + " " + s[i:]
    return " " + s


def _plant_funnel_ids(rng, camps, leads, web) -> np.ndarray:
    """Orphans (the mask of campaigns left out of channels.csv) and '.000000' ids."""
    n = len(camps)
    orphans = np.zeros(n, bool)
    orphans[rng.choice(n, size=max(1, round(0.2 * n)), replace=False)] = True
    for cols, rate in ((leads, 0.002), (web, 0.003)):
        ids = cols["CAMPAIGN_ID"]
        pick = rng.choice(len(ids), size=_few(len(ids), rate), replace=False)
        ids[pick] = ids[pick] + FLOAT_SUFFIX
    return orphans


def _plant_channels(rng, ch):
    """~1 extra row per id: mostly exact duplicates, else a whitespace, empty-field or
    unknown-budget variant; each kind at least once."""
    n = len(ch["CAMPAIGN_ID"])
    owner = np.repeat(np.arange(n), rng.choice(3, size=n, p=(0.2, 0.6, 0.2)))
    kinds = ("exact", "whitespace", "empty", "unknown")
    if len(owner) < len(kinds):
        owner = np.concatenate([owner, rng.integers(0, n, len(kinds) - len(owner))])
    kind = np.where(rng.random(len(owner)) < 0.66, "exact",
                    rng.choice(kinds[1:], size=len(owner), p=(0.45, 0.3, 0.25)))
    kind[rng.permutation(len(owner))[:len(kinds)]] = kinds
    extra = {k: v[owner].copy() for k, v in ch.items()}
    for j in np.flatnonzero(kind == "whitespace"):
        col = str(rng.choice(("CAMPAIGN_NAME", "CHANNEL_3", "CHANNEL_4", "CHANNEL_5"),
                             p=(0.3, 0.15, 0.25, 0.3)))
        extra[col][j] = _respace(rng, extra[col][j])
    for j in np.flatnonzero(kind == "empty"):
        col = str(rng.choice(("CAMPAIGN_PERIOD_BUDGET_CATEGORY", "CAMPAIGN_NAME", "CHANNEL_5"),
                             p=(0.5, 0.25, 0.25)))
        extra[col][j] = ""
    budget = extra["CAMPAIGN_PERIOD_BUDGET_CATEGORY"]
    for j in np.flatnonzero(kind == "unknown"):
        budget[j] = "unknown" if budget[j] != "unknown" else str(rng.choice(BUDGETS[:4]))
    return {k: np.concatenate([ch[k], extra[k]]) for k in ch}


def _plant_leads(rng, cols, copy_no):
    n = len(cols["DATE"])
    pick = _Picker(rng, n)
    ids, names = cols["CAMPAIGN_ID"], cols["CAMPAIGN_NAME"]
    pick.free &= ~np.char.endswith(ids.astype(str), FLOAT_SUFFIX)
    _, inv, per_id = np.unique(ids.astype(str), return_inverse=True, return_counts=True)
    ids[pick(_few(n, 0.003), per_id[inv] >= 3)] = ""  # the name still tells the campaign
    both = pick(2 if n >= 500 else 1)
    ids[both], names[both] = "", ""
    for j in pick(_few(n, 0.002), copy_no > 0):
        col = cols["CAMPAIGN_NAME"] if rng.random() < 0.5 else cols["CHANNEL_5"]
        col[j] = _respace(rng, col[j])
    gbp = pick(_few(n, 0.002), cols["COUNTRY_CODE"] == "GB")
    cols["CURRENCY"][gbp] = "GBP"
    cols["PRODUCT"][pick(_few(n, 0.002))] = ""
    cols["TOTAL_IMPRESSIONS"][pick(1, cols["TOTAL_IMPRESSIONS"] != "")] = str(PLACEHOLDER_BIG)
    cols["TOTAL_MEETING_DONE"][pick(1)] = str(PLACEHOLDER_BIG)
    return cols


def _plant_web(rng, cols):
    n = len(cols["DATE"])
    pick = _Picker(rng, n)
    pick.free &= ~np.char.endswith(cols["CAMPAIGN_ID"].astype(str), FLOAT_SUFFIX)
    cols["DATE"][pick(_few(n, 0.001))] = ""
    cols["COUNTRY_CODE"][pick(_few(n, 0.003))] = "unknown"
    cols["COUNTRY_CODE"][pick(_few(n, 0.003))] = ""
    cols["CAMPAIGN_ID"][pick(_few(n, 0.003))] = ""
    cols["NB_OF_SIGNUPS"][pick(1)] = "f"
    cols["NB_OF_SESSIONS"][pick(1)] = str(PLACEHOLDER_WEB)
    cols["NB_OF_POSLITE_ITEMS_ORDERED"][pick(1)] = str(PLACEHOLDER_WEB)
    cols["TOTAL_SPEND_EUR"][pick(1)] = ""
    dup = pick(_few(n, 0.001))  # untouched rows, repeated verbatim
    return {k: np.concatenate([v, v[dup]]) for k, v in cols.items()}


def _write_csv(path: Path, header: tuple[str, ...], cols: list[np.ndarray]) -> int:
    """Text cells only, so empty stays an empty field and ids never pass through a float."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(zip(*(c.tolist() for c in cols)))
    return len(cols[0])
