"""Country names to ISO 3166 alpha-2 with `pycountry`, over the distinct names of a delivery.

In order, the first that answers wins (the rule is recorded per name in `country_rule`):
1. `alias`: `crm.country_aliases` (case-insensitive), so a person's word beats the library's;
2. `name`, `official_name`, `common_name`: pycountry's exact lookups (case-insensitive);
3. `folded`: the same with accents and a trailing parenthesis dropped on both sides
   (`Reunion` = `Réunion`, `Slovakia (Slovak Republic)` = `Slovakia`);
4. `fuzzy`: `pycountry.countries.search_fuzzy` when it finds exactly one country (it also searches
   subdivisions, so `Reunion` alone would give RE and FR: ambiguous, refused);
5. otherwise `crm.unknown_country` (`ZZ`), counted with the names in the cleaning log. Names of
   countries that no longer exist (`Netherlands Antilles`, split in 2010) land here on purpose:
   no single code is right. Add an alias to map them.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import ibis
import pycountry

SCHEMA = ibis.schema({"country_key": "string", "country_iso": "string", "country_rule": "string"})


def _fold(text: str) -> str:
    text = re.sub(r"\s*\([^)]*\)\s*$", "", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", text).strip().lower()


@functools.cache
def _folded_index() -> dict[str, str]:
    index: dict[str, set[str]] = {}
    for c in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(c, attr, None)
            if value:
                index.setdefault(_fold(value), set()).add(c.alpha_2)
    return {k: next(iter(v)) for k, v in index.items() if len(v) == 1}


def iso2(name: str, aliases: dict[str, str]) -> tuple[str | None, str]:
    """(alpha-2, rule) for a trimmed, non-blank name; (None, 'unknown') when no rule maps it."""
    alias = {k.strip().lower(): v.strip().upper() for k, v in aliases.items()}.get(name.lower())
    if alias:
        return alias, "alias"
    for attr in ("name", "official_name", "common_name"):
        hit = pycountry.countries.get(**{attr: name})
        if hit is not None:
            return hit.alpha_2, attr
    folded = _folded_index().get(_fold(name))
    if folded:
        return folded, "folded"
    try:
        found = pycountry.countries.search_fuzzy(name)
    except LookupError:
        found = []
    if len(found) == 1:
        return found[0].alpha_2, "fuzzy"
    return None, "unknown"


def lookup(names: list[str], aliases: dict[str, str], unknown: str) -> ibis.Table:
    """`country_key` (trimmed, whitespace collapsed, lower-cased name) -> `country_iso`, `country_rule`."""
    rows: dict[str, list] = {c: [] for c in SCHEMA.names}
    for key in sorted({re.sub(r"\s+", " ", n).strip().lower() for n in names if n and n.strip()}):
        code, rule = iso2(key, aliases)
        rows["country_key"].append(key)
        rows["country_iso"].append(code or unknown)
        rows["country_rule"].append(rule)
    return ibis.memtable(rows, schema=SCHEMA)
