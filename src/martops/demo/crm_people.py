"""Synthetic CRM person records with KNOWN duplicates, for the deduplication tests and benchmarks.

Real CRM exports hold the same person several times (a web signup, a trade-show scan, a sales
rep's manual entry), each copy a little different, and nobody knows which rows are one person.
To measure a linkage we need the truth, so this draws distinct people ("entities") and then
extra copies of some of them, corrupted the way CRM copies differ: typos, nicknames, missing
fields, reformatted phones and emails, a new address after a move, day and month swapped.
`entity_id` is the truth; `corruptions` says what was done to each copy, so a missed pair can
be explained.

What makes it useful as a benchmark:
- Distinct people rarely collide: ~350 first names, ~1,070 surnames (real ones plus synthesised
  English-looking ones), 66 years of birth dates, so at 1M records only ~30 pairs of different
  people share name and birth date (seed 0: 32); email and phone are unique per person (a typo
  in a copy's email can still, very rarely, hit another person's address: 22 at 1M).
- Copies are not adjacent: rows are shuffled and record ids are given after the shuffle.
- Originals are complete and clean apart from phone formats, which are mixed even among
  originals as in real CRMs; every null in the table is a planted `missing:<field>`.

Speed: every column is drawn and edited in numpy (StringDType and np.strings), a corruption is
applied to all the copies that have it at once; nothing loops per record. 100k records take
~0.8 s (180 MB peak RSS), 1M ~8.5 s (650 MB) on one core.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from martops.crm.nicknames import NICKNAMES

log = logging.getLogger(__name__)

S = np.dtypes.StringDType()

COLUMNS = ("record_id", "entity_id", "first_name", "surname", "dob", "email", "phone",
           "address", "postcode", "city", "corruptions")
NULLABLE = ("email", "phone", "dob", "address", "postcode")
# Corruption kinds, in the order they are applied and listed in `corruptions`.
KINDS = ("nickname", "moved", "typo", "transpose", "email_format", "phone_format", "dob_swap",
         "missing")
MAX_CORRUPTIONS = 3


@dataclass(frozen=True)
class PeopleSpec:
    """What to draw. Each copy gets every corruption kind with its probability, independently;
    then a copy with none gets one (drawn in proportion to the probabilities) and a copy with
    more than MAX_CORRUPTIONS keeps three at random, because a copy identical to its original is
    a trivial match and one with four edits is no longer a realistic duplicate."""

    n_records: int = 10_000
    # Share of OUTPUT rows that are extra copies of an entity already present: the benchmark's
    # knob for how much a CRM is duplicated (0.3: 30% of rows are redundant).
    duplicate_share: float = 0.3
    # Most extra copies of one entity; sizes 1..max_copies are drawn with weights 1, 1/2, 1/4...
    # since most duplicated people appear twice and few five times.
    max_copies: int = 3
    seed: int = 0
    # One character substituted, deleted or inserted in first_name, surname, address or the
    # email's local part: the commonest data-entry error.
    p_typo: float = 0.35
    # Two adjacent characters swapped (same fields): fast typing; defeats exact and prefix match.
    p_transpose: float = 0.10
    # Bob for Robert (or Robert for a Bob original): only copies whose first name has a nickname
    # or is one can get it, so the realised rate is lower.
    p_nickname: float = 0.25
    # One of email, phone, dob, address, postcode null: forms with optional fields. Never the
    # names, and a copy always keeps at least two of email/phone/dob.
    p_missing: float = 0.25
    # The same email in upper or mixed case or with surrounding spaces: no change of meaning,
    # but it breaks exact joins that skip normalisation.
    p_email_format: float = 0.20
    # The same phone number written another way ("(276) 903-7065", "+1-276-903-7065",
    # "276-903-7065 x123"...): exact matching on raw phones misses these.
    p_phone_format: float = 0.35
    # A new address, postcode and city together: people move, and the copy is from later.
    p_moved: float = 0.10
    # Day and month swapped (US vs European entry) where the day is <= 12 and differs from the
    # month; a copy whose dob cannot be swapped does not get it.
    p_dob_swap: float = 0.05
    # Share of people who are relatives of someone earlier in the table: same surname, address,
    # postcode and city (a household), different first name, dob and email. The hard negatives:
    # without them every distinct pair differs in nearly everything and precision is free.
    household_share: float = 0.15
    # ...of whom this share also shares the household's phone (a landline).
    p_shared_phone: float = 0.5
    # ...and this share are twins: also the same date of birth.
    p_twin: float = 0.1

    def probabilities(self) -> np.ndarray:
        return np.array([getattr(self, f"p_{k}") for k in KINDS], dtype=float)


# --- reference lists --------------------------------------------------------------------------

_OTHER_FIRST = """
Aaron Adam Adrian Aiden Alan Albert Allen Alvin Angel Antonio Arthur Austin Barry Bernard Blake
Bradley Brandon Brendan Brian Bruce Bryan Caleb Calvin Cameron Carl Carlos Carter Chad Christian
Clarence Clifford Cody Colin Connor Craig Curtis Dale Dallas Darren Dean Dennis Derek Devin
Dominic Dylan Eduardo Elijah Eric Ethan Evan Felix Fernando Floyd Gary George Glenn Gordon Grant
Harold Hector Howard Hunter Ian Isaac Ivan Jared Jason Javier Jeremy Jesse Joel Jordan Jorge Jose
Juan Julian Justin Keith Kevin Kyle Lance Landon Lee Logan Louis Lucas Luis Manuel Marcus Mario
Mark Marvin Mason Max Miguel Mitchell Neil Noah Norman Oscar Owen Paul Preston Ralph Randy
Ricardo Roger Roy Ruben Ryan Scott Sean Seth Shane Shawn Spencer Todd Travis Trevor Tyler Wayne
Wesley Adriana Alice Alicia Amber Amy Andrea Angela Anna April Ashley Audrey Bonnie Brenda
Brittany Brooke Carmen Carol Charlotte Chloe Claire Courtney Crystal Dana Danielle Denise Diana
Diane Donna Ella Emma Erica Erin Evelyn Faith Gloria Grace Hannah Heather Helen Holly Irene
Isabella Jane Janet Janice Jasmine Jean Joan Joyce Julia Julie Karen Kathleen Kayla Kelly Kristen
Laura Lauren Leah Linda Lisa Lori Lucy Lydia Madison Marie Megan Melissa Michelle Monica Naomi
Olivia Paige Paula Rachel Regina Renee Rita Robin Ruth Sabrina Shannon Sharon Sheila Shirley
Sierra Stella Tamara Tanya Tiffany Vanessa Wendy Whitney Yvonne Zoe
""".split()
# Nicknames that CRMs hold as the given name itself (the reverse corruption turns them into the
# canonical name).
_NICK_FIRST = """
bob bill jim mike tony dave chris kate liz beth jenny sue tom dan steve andy joe jack sam alex
matt nick ben katie becky patty peggy cindy jeff greg
""".split()


def _first_names() -> np.ndarray:
    names = sorted(set(NICKNAMES.values())) + _NICK_FIRST + [n.lower() for n in _OTHER_FIRST]
    return np.array([n.capitalize() for n in dict.fromkeys(names)], dtype=S)


_REAL_SURNAMES = """
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez
Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark
Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams
Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker
Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper
Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James
Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster
Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher
Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno
West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro
Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen
Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw
Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar
Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan
Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart
Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray
Delgado Berry Perkins Hoffman Johnston Matthews Pena Richards Willis Carpenter Lawrence Sandoval
""".split()
_SURNAME_ROOTS = """
Ash Black Brad Brook Cald Carl Chad Clay Cran Dal Dun East Ed Fair Fen Gar Glad Hal Hart Hath
Hol Kirk Lang Lind Mar Mid Mor New North Old Pen Ral Red Rock Sand Shel Stan Thorn Wal Whit Wins
Wood
""".split()
_SURNAME_ENDS = """
ford ley ton wood field well worth by ham more stead wick dale bury combe hurst mont ridge shaw
thorpe
""".split()


def _surnames() -> np.ndarray:
    """Real common US surnames, then English-looking root+ending ones to reach ~1,000: enough
    that distinct people rarely share a name at 1M records."""
    synth = [r + e for r in _SURNAME_ROOTS for e in _SURNAME_ENDS]
    return np.array(list(dict.fromkeys(_REAL_SURNAMES + synth)), dtype=S)


_CITY_HEADS = ("Spring Oak Maple Cedar River Lake Fair Green Clear Mill West East North South "
               "Pine Elm Ash Glen Brook Bay").split()
_CITY_TAILS = "field ville ton port dale wood view burg haven ford".split()
_STREET_NAMES = """
Oak Maple Cedar Pine Elm Walnut Willow Birch Chestnut Spruce Hickory Poplar Magnolia Sycamore
Laurel Park Lake Hill River Forest Meadow Valley Ridge Spring Sunset Highland Church Mill School
Center Main Market Union Water Bridge Railroad Front Broad High Prospect Washington Lincoln
Jefferson Madison Franklin Adams Jackson Monroe Hamilton Grant Lee Cherry Dogwood Holly Cypress
First Second Third Fourth Fifth
""".split()
_STREET_TYPES = ("Street", "Avenue", "Road", "Lane", "Drive")
_MAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com")
_MAIL_DOMAIN_P = (0.40, 0.18, 0.12, 0.12, 0.08)   # the remaining 10%: company domains
_COMPANY_A = "north blue summit apex pine bright iron silver cedar harbor".split()
_COMPANY_B = "tech labs group corp media".split()

FIRST_NAMES = _first_names()
SURNAMES = _surnames()
CITIES = np.array([h + t for h in _CITY_HEADS for t in _CITY_TAILS], dtype=S)
ZIP_PREFIX = 100 + 4 * np.arange(len(CITIES))   # one 3-digit zip prefix per city, all distinct
STREETS = np.array([f"{s} {t}" for s in _STREET_NAMES for t in _STREET_TYPES], dtype=S)
DOMAINS = np.array(list(_MAIL_DOMAINS) + [f"{a}{b}.com" for a in _COMPANY_A for b in _COMPANY_B],
                   dtype=S)
DOMAIN_P = np.concatenate([_MAIL_DOMAIN_P, np.full(len(DOMAINS) - 5, 0.10 / (len(DOMAINS) - 5))])
DOB_RANGE = (np.datetime64("1940-01-01"), np.datetime64("2006-01-01"))
LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"), dtype=S)

# Phone formats: originals use the first three (CRMs mix them too), copies any other one.
PHONE_FORMATS = ("plain", "paren", "dash", "dot", "plus1", "intl", "ext")
ORIGINAL_PHONE_P = (0.45, 0.35, 0.20)
# Fields a typo or transposition may hit, with weights; and fields that may go missing.
EDIT_FIELDS = ("first_name", "surname", "address", "email")
EDIT_P = (0.30, 0.35, 0.15, 0.20)
MISSING_P = (0.30, 0.30, 0.15, 0.15, 0.10)   # over NULLABLE


def _weights(n: int) -> np.ndarray:
    """A mild popularity skew (the first names of a list are the common ones): the most
    common is ~4x the rarest, far flatter than real name frequencies, so that distinct entities
    rarely share a name + dob even at 1M records."""
    w = 1.0 / (np.arange(n) + 30.0) ** 0.6
    return w / w.sum()


def _nickname_options() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each FIRST_NAMES index: where its alternative names start in a flat array, and how
    many there are (nicknames of a canonical name, or the canonical name of a nickname)."""
    alts: dict[str, list[str]] = {}
    for nick, canon in NICKNAMES.items():
        alts.setdefault(canon, []).append(nick)
        alts.setdefault(nick, []).append(canon)
    lists = [alts.get(str(n).lower(), []) for n in FIRST_NAMES]
    count = np.array([len(x) for x in lists])
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    flat = np.array([a.capitalize() for x in lists for a in x], dtype=S)
    return start, count, flat


NICK_START, NICK_COUNT, NICK_FLAT = _nickname_options()


# --- entry points -----------------------------------------------------------------------------

def generate(spec: PeopleSpec = PeopleSpec()) -> pa.Table:
    """The records as an Arrow table of string columns (COLUMNS), shuffled; same spec, same
    table."""
    n, n_copies, n_entities = _sizes(spec)
    rng = np.random.default_rng(spec.seed)
    people = _entities(rng, n_entities, spec)
    k = _copies_per_entity(np.random.default_rng([spec.seed, 1]), n_entities, n_copies,
                           spec.max_copies)
    src = np.repeat(np.arange(n_entities), k)
    copies, labels = _corrupt(np.random.default_rng([spec.seed, 2]), people, src, spec)
    entity = np.concatenate([np.arange(n_entities), src])
    order = np.random.default_rng([spec.seed, 3]).permutation(n)
    width = max(7, len(str(n)))
    cols: dict[str, pa.Array] = {
        "record_id": pa.array("r" + np.strings.zfill(np.arange(1, n + 1).astype(S), width)),
        "entity_id": pa.array("e" + np.strings.zfill((entity[order] + 1).astype(S), width)),
    }
    for name in COLUMNS[2:-1]:
        values = np.concatenate([people[name], copies[name]])[order]
        null = copies.get(f"{name}_null")
        mask = None if null is None else np.concatenate([np.zeros(n_entities, bool), null])[order]
        cols[name] = pa.array(values, mask=mask)
    cols["corruptions"] = pa.array(np.concatenate([np.full(n_entities, "", dtype=S),
                                                   labels])[order])
    log.debug("generated %d records: %d entities, %d copies", n, n_entities, n_copies)
    return pa.table(cols)


def write_csv(spec: PeopleSpec, path: str | Path) -> Path:
    """generate(spec) written as one CSV (header, nulls as empty fields); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(generate(spec), out)
    return out


# --- entities ---------------------------------------------------------------------------------

def _sizes(spec: PeopleSpec) -> tuple[int, int, int]:
    if spec.n_records < 1 or spec.max_copies < 1:
        raise ValueError(f"n_records and max_copies must be >= 1 (got {spec.n_records}, "
                         f"{spec.max_copies})")
    if not 0 <= spec.duplicate_share < 1:
        raise ValueError(f"duplicate_share must be in [0, 1) (got {spec.duplicate_share})")
    p = spec.probabilities()
    if (p < 0).any() or (p > 1).any() or p.sum() == 0:
        raise ValueError("corruption probabilities must be in [0, 1], not all 0")
    n_copies = round(spec.duplicate_share * spec.n_records)
    n_entities = spec.n_records - n_copies
    if n_copies > n_entities * spec.max_copies:
        raise ValueError(f"duplicate_share={spec.duplicate_share} needs more than "
                         f"max_copies={spec.max_copies} copies per entity")
    return spec.n_records, n_copies, n_entities


def _copies_per_entity(rng: np.random.Generator, n_entities: int, n_copies: int,
                       max_copies: int) -> np.ndarray:
    """Extra copies per entity, summing to exactly n_copies: sizes drawn with weights 1, 1/2,
    1/4..., topped up to max_copies where the share demands it, then cut at n_copies."""
    if n_copies == 0:
        return np.zeros(n_entities, np.int64)
    w = 0.5 ** np.arange(max_copies)
    k = rng.choice(np.arange(1, max_copies + 1), size=n_entities, p=w / w.sum())
    if k.sum() < n_copies:
        cap = max_copies - k
        k = k + np.clip(n_copies - k.sum() - (np.cumsum(cap) - cap), 0, cap)
    cs = np.cumsum(k)
    k = np.clip(n_copies - (cs - k), 0, k)
    return rng.permutation(k)   # which entities are duplicated says nothing about entity ids


def _households(rng: np.random.Generator, n: int, spec: PeopleSpec) -> tuple[np.ndarray, np.ndarray]:
    """(relatives, heads): relatives[i] lives with heads[i]; heads are never relatives, so a
    household is one head and its relatives (a star, drawn independently of the copies)."""
    is_rel = rng.random(n) < spec.household_share
    heads_pool = np.flatnonzero(~is_rel)
    rel = np.flatnonzero(is_rel)
    if not len(heads_pool):
        return rel[:0], rel[:0]
    return rel, heads_pool[rng.integers(0, len(heads_pool), size=len(rel))]


def _entities(rng: np.random.Generator, n: int, spec: PeopleSpec = PeopleSpec()) -> dict[str, np.ndarray]:
    """One clean record per entity, plus the parts the corruptions need (name indices, email
    local part and domain, phone digits and format). Relatives (`household_share`) take their
    head's surname and address, some the phone (a landline), a few the date of birth (twins)."""
    hh = np.random.default_rng([spec.seed, 4])
    rel, head = _households(hh, n, spec)
    first_i = rng.choice(len(FIRST_NAMES), size=n, p=_weights(len(FIRST_NAMES)))
    sur_i = rng.choice(len(SURNAMES), size=n, p=_weights(len(SURNAMES)))
    sur_i[rel] = sur_i[head]
    first, surname = FIRST_NAMES[first_i], SURNAMES[sur_i]
    lo, hi = (d.astype(np.int64) for d in DOB_RANGE)
    dob_days = rng.integers(lo, hi, size=n)
    twin = hh.random(len(rel)) < spec.p_twin
    dob_days[rel[twin]] = dob_days[head[twin]]
    dob = dob_days.astype("datetime64[D]").astype(S)
    local = _email_local(rng, first, surname, dob)
    domain = DOMAINS[rng.choice(len(DOMAINS), size=n, p=DOMAIN_P)]
    local = _unique_emails(local, domain)
    area, exch, line = _unique_phones(rng, n)
    landline = hh.random(len(rel)) < spec.p_shared_phone
    for part in (area, exch, line):
        part[rel[landline]] = part[head[landline]]
    fmt = rng.choice(3, size=n, p=ORIGINAL_PHONE_P)
    address, postcode, city = _addresses(rng, n)
    for part in (address, postcode, city):
        part[rel] = part[head]
    return {
        "first_i": first_i, "first_name": first, "surname": surname, "dob": dob,
        "local": local, "domain": domain, "email": local + "@" + domain,
        "area": area, "exch": exch, "line": line, "fmt": fmt,
        "phone": _phones(rng, area, exch, line, fmt),
        "address": address, "postcode": postcode, "city": city,
    }


def _email_local(rng, first, surname, dob) -> np.ndarray:
    """first.last, flast, firstlast or first_last, a third of them with digits (the birth year's
    last two, or 1-999) as people add when their name is taken."""
    n = len(first)
    f, s = np.strings.lower(first), np.strings.lower(surname)
    style = rng.choice(4, size=n, p=(0.35, 0.25, 0.25, 0.15))
    local = np.where(style == 0, f + "." + s,
                     np.where(style == 1, np.strings.slice(f, 0, 1) + s,
                              np.where(style == 2, f + s, f + "_" + s)))
    digits = rng.random(n)
    yy = np.strings.slice(dob, 2, 4)
    num = rng.integers(1, 1000, size=n).astype(S)
    return np.where(digits < 0.15, local + yy, np.where(digits < 0.33, local + num, local))


def _repeats(a: np.ndarray) -> np.ndarray:
    """Mask of elements equal to an earlier element of a."""
    _, first = np.unique(a, return_index=True)
    dup = np.ones(len(a), bool)
    dup[first] = False
    return dup


def _unique_emails(local: np.ndarray, domain: np.ndarray) -> np.ndarray:
    """Local parts made unique per (local, domain) by appending digits, as the mail provider
    forces people to; the truth would otherwise say two people share an inbox."""
    local = local.copy()
    for _ in range(10):
        dup = _repeats(local + "@" + domain)
        if not dup.any():
            return local
        idx = np.flatnonzero(dup)
        local[idx] = local[idx] + idx.astype(S)
    raise RuntimeError("could not make emails unique")  # pragma: no cover


def _unique_phones(rng, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """US numbers NXX-NXX-XXXX (area code and exchange 200-999), distinct per entity."""
    area = rng.integers(200, 1000, size=n)
    exch = rng.integers(200, 1000, size=n)
    line = rng.integers(0, 10_000, size=n)
    for _ in range(20):
        dup = _repeats(area * 10**7 + exch * 10**4 + line)
        if not dup.any():
            return area, exch, line
        line[dup] = rng.integers(0, 10_000, size=int(dup.sum()))
    raise RuntimeError("could not make phones unique")  # pragma: no cover


def _phones(rng, area, exch, line, fmt) -> np.ndarray:
    """Phone text in PHONE_FORMATS[fmt] per row."""
    a, e = area.astype(S), exch.astype(S)
    ln = np.strings.zfill(line.astype(S), 4)
    out = np.empty(len(area), dtype=S)
    for f, name in enumerate(PHONE_FORMATS):
        m = fmt == f
        if not m.any():
            continue
        am, em, lm = a[m], e[m], ln[m]
        if name == "plain":
            out[m] = am + em + lm
        elif name == "paren":
            out[m] = "(" + am + ") " + em + "-" + lm
        elif name == "dash":
            out[m] = am + "-" + em + "-" + lm
        elif name == "dot":
            out[m] = am + "." + em + "." + lm
        elif name == "plus1":
            out[m] = "+1-" + am + "-" + em + "-" + lm
        elif name == "intl":
            out[m] = "001-" + am + "-" + em + "-" + lm
        else:
            ext = rng.integers(1, 1000, size=int(m.sum())).astype(S)
            out[m] = am + "-" + em + "-" + lm + " x" + ext
    return out


def _addresses(rng, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """'<house> <street>', a 5-digit zip in the city's prefix, the city. House numbers are
    log-uniform over 1-9999: small numbers are commoner, as on real streets."""
    house = np.exp(rng.uniform(0, np.log(10_000), size=n)).astype(np.int64).clip(1, 9999)
    street = STREETS[rng.integers(0, len(STREETS), size=n)]
    city_i = rng.choice(len(CITIES), size=n, p=_weights(len(CITIES)))
    zip5 = ZIP_PREFIX[city_i] * 100 + rng.integers(0, 100, size=n)
    return house.astype(S) + " " + street, zip5.astype(S), CITIES[city_i]


# --- copies -----------------------------------------------------------------------------------

def _corrupt(rng: np.random.Generator, people: dict[str, np.ndarray], src: np.ndarray,
             spec: PeopleSpec) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Copies of people[src] with 1-3 corruptions each; the copy columns (plus `<col>_null`
    masks) and each copy's ';'-joined corruption labels."""
    c = len(src)
    kinds = _draw_kinds(rng, people, src, spec)
    col = {k: people[k][src].copy() for k in ("first_name", "surname", "dob", "local", "domain",
                                               "phone", "address", "postcode", "city")}
    label = np.full(c, "", dtype=S)

    def add(mask: np.ndarray, text) -> None:
        text = np.broadcast_to(np.asarray(text, dtype=S), (c,))[mask]
        label[mask] = np.where(label[mask] == "", text, label[mask] + ";" + text)

    k = {name: kinds[:, i] for i, name in enumerate(KINDS)}
    # nickname <-> canonical name
    m = k["nickname"]
    fi = people["first_i"][src[m]]
    pick = NICK_START[fi] + (rng.random(int(m.sum())) * NICK_COUNT[fi]).astype(np.int64)
    col["first_name"][m] = NICK_FLAT[pick]
    add(m, "nickname")
    # moved: address, postcode and city together, to another city
    m = k["moved"]
    address, postcode, city = _addresses(rng, int(m.sum()))
    same = city == col["city"][m]
    while same.any():
        a2, p2, c2 = _addresses(rng, int(same.sum()))
        address[same], postcode[same], city[same] = a2, p2, c2
        same = city == col["city"][m]
    col["address"][m], col["postcode"][m], col["city"][m] = address, postcode, city
    add(m, "moved")
    # typo and transposition in one field each
    touched = {f: np.zeros(c, bool) for f in EDIT_FIELDS}
    for kind, edit in (("typo", _typo), ("transpose", _transpose)):
        m = k[kind]
        field = np.full(c, -1)
        field[m] = rng.choice(len(EDIT_FIELDS), size=int(m.sum()), p=EDIT_P)
        for f, name in enumerate(EDIT_FIELDS):
            mf = field == f
            if mf.any():
                key = "local" if name == "email" else name
                col[key][mf] = _edit_away(rng, edit, col[key][mf], people[key][src[mf]],
                                          _edit_start(name, col[key][mf]))
                touched[name] |= mf
        add(m, np.array([f"{kind}:{f}" for f in EDIT_FIELDS] + [""], dtype=S)[field])
    # the same email, written differently
    email = col["local"] + "@" + col["domain"]
    m = k["email_format"]
    email[m] = _email_variant(rng, email[m])
    add(m, "email_format")
    col["email"] = email
    # the same phone, in another format
    m = k["phone_format"]
    fmt = people["fmt"][src[m]]
    new = (fmt + rng.integers(1, len(PHONE_FORMATS), size=len(fmt))) % len(PHONE_FORMATS)
    s = src[m]
    col["phone"][m] = _phones(rng, people["area"][s], people["exch"][s], people["line"][s], new)
    add(m, "phone_format")
    # dob day <-> month (_draw_kinds only gives it to swappable dobs)
    m = k["dob_swap"]
    d = col["dob"][m]
    col["dob"][m] = (np.strings.slice(d, 0, 5) + np.strings.slice(d, 8, 10) + "-"
                     + np.strings.slice(d, 5, 7))
    add(m, "dob_swap")
    # one field missing, never one another corruption just edited (its label would lie)
    m = k["missing"]
    allowed = np.ones((c, len(NULLABLE)), bool)
    allowed[:, 0] = ~(touched["email"] | k["email_format"])
    allowed[:, 1] = ~k["phone_format"]
    allowed[:, 2] = ~k["dob_swap"]
    allowed[:, 3] = ~(touched["address"] | k["moved"])
    allowed[:, 4] = ~k["moved"]
    which = np.full(c, -1)
    which[m] = _categorical(rng, allowed[m] * np.asarray(MISSING_P))
    for f, name in enumerate(NULLABLE):
        col[f"{name}_null"] = which == f
    add(m, np.array([f"missing:{f}" for f in NULLABLE] + [""], dtype=S)[which])
    return col, label


def _draw_kinds(rng, people, src, spec: PeopleSpec) -> np.ndarray:
    """(copies x KINDS) mask of the corruptions each copy gets: independent draws, restricted to
    the applicable ones, then at least one and at most MAX_CORRUPTIONS per copy."""
    c = len(src)
    p = spec.probabilities()
    ok = np.ones((c, len(KINDS)), bool)
    ok[:, KINDS.index("nickname")] = NICK_COUNT[people["first_i"][src]] > 0
    dob = people["dob"][src]
    month = np.strings.slice(dob, 5, 7).astype(np.int64)
    day = np.strings.slice(dob, 8, 10).astype(np.int64)
    ok[:, KINDS.index("dob_swap")] = (day <= 12) & (day != month)
    kinds = (rng.random((c, len(KINDS))) < p) & ok
    none = ~kinds.any(axis=1)
    kinds[np.flatnonzero(none), _categorical(rng, ok[none] * p)] = True
    # keep MAX_CORRUPTIONS of the drawn ones, chosen at random
    key = np.where(kinds, rng.random((c, len(KINDS))), np.inf)
    rank = np.argsort(np.argsort(key, axis=1), axis=1)
    return kinds & (rank < MAX_CORRUPTIONS)


def _categorical(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row of a (rows x k) weight matrix, drawn in proportion to the row's
    weights (each row needs a positive weight)."""
    if len(weights) == 0:
        return np.zeros(0, np.int64)
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), weights.shape[1] - 1)


def _edit_start(field: str, s: np.ndarray) -> np.ndarray:
    """First position a typo may touch: names keep their first letter when longer than 3 (an
    initial is rarely mistyped), an address keeps its house number and the street's initial."""
    if field == "address":
        return np.strings.find(s, " ") + 2
    return np.where(np.strings.str_len(s) > 3, 1, 0)


def _edit_away(rng, edit, s: np.ndarray, original: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """edit(s), redrawn where it gives back the original value (a typo deleting the 'n' of a
    nickname copy 'Steven' restores 'Steve'): a labelled field must differ from the original."""
    out = edit(rng, s, lo)
    for _ in range(8):
        back = np.flatnonzero(out == original)
        if len(back) == 0:
            break
        out[back] = edit(rng, s[back], lo[back])
    return out


def _typo(rng, s: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """One character substituted (by a different letter), deleted or inserted at a position >=
    lo; short strings (<= 3) are not shortened."""
    n = len(s)
    length = np.strings.str_len(s)
    op = rng.integers(0, 3, size=n)           # 0 substitute, 1 delete, 2 insert
    op = np.where((op == 1) & (length <= 3), 0, op)
    pos = lo + (rng.random(n) * (length - lo)).astype(np.int64)
    ch = rng.integers(0, 26, size=n)
    cur = np.strings.lower(np.strings.slice(s, pos, pos + 1))
    ch = np.where((op == 0) & (cur == LETTERS[ch]), (ch + 1) % 26, ch)
    head = np.strings.slice(s, 0, pos)
    tail = np.strings.slice(s, pos + 1, None)
    c = LETTERS[ch]
    return np.where(op == 0, head + c + tail,
                    np.where(op == 1, head + tail,
                             head + c + np.strings.slice(s, pos, None)))


def _transpose(rng, s: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Two adjacent, different characters swapped at a position >= lo (a few random retries to
    avoid swapping a doubled letter, which would change nothing)."""
    n = len(s)
    length = np.strings.str_len(s)
    lo = np.minimum(lo, np.maximum(length - 2, 0))
    span = np.maximum(length - 1 - lo, 1)
    pos = lo + (rng.random(n) * span).astype(np.int64)
    def same(p):
        return np.strings.slice(s, p, p + 1) == np.strings.slice(s, p + 1, p + 2)

    for _ in range(4):
        redo = same(pos)
        if not redo.any():
            break
        pos = np.where(redo, lo + (rng.random(n) * span).astype(np.int64), pos)
    # still a doubled letter ('Todd' at 2): the first swappable position from lo, else from 0
    stuck = same(pos)
    for start in (lo, np.zeros(n, np.int64)):
        for j in range(int(length.max(initial=0))):
            p = start + j
            fix = stuck & (p + 1 < length) & ~same(p)
            pos[fix] = p[fix]
            stuck &= ~fix
    return (np.strings.slice(s, 0, pos) + np.strings.slice(s, pos + 1, pos + 2)
            + np.strings.slice(s, pos, pos + 1) + np.strings.slice(s, pos + 2, None))


def _email_variant(rng, email: np.ndarray) -> np.ndarray:
    """The same address in upper case, capitalised, title case, or padded with spaces."""
    v = rng.integers(0, 5, size=len(email))
    return np.where(v == 0, np.strings.upper(email),
                    np.where(v == 1, np.strings.capitalize(email),
                             np.where(v == 2, np.strings.title(email),
                                      np.where(v == 3, " " + email + " ",
                                               np.strings.upper(email) + "  "))))
