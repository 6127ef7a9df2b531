"""Spelling variants of one value in a delivery: one rule for every domain (all Ibis).

Exports typed by hand or merged from several tools spell one value several ways: stray and
doubled spaces (`fb prospe cting`, `search -shopping`, `Direct traffic `), another case (`HOME`,
`paid search brand`). The rule:

- two texts are one value when they are equal once case is folded and every whitespace
  character removed (`key`); texts differing in anything else (a hyphen, a letter) stay apart;
- the value is spelled as most rows of the delivery spell it (`squash`: trimmed, inner runs of
  whitespace collapsed to one space), ties going to the spelling with fewer spaces (a stray
  space is the usual typo), then to the first in code-point order;
- the map is computed over the whole delivery, not a loaded range, so every range of one
  delivery spells a value the same way; blank is missing (NULL), never a spelling.

Case is the domain's choice, made before the map: the campaign exports' names and channels are
lower case by convention (campaigns lower-cases them first), the CRM's categories and regions and
the attribution channels keep the case most rows use.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def squash(text: ir.StringValue) -> ir.StringValue:
    """Trimmed, runs of whitespace collapsed to one space, case kept; empty is NULL."""
    return text.re_replace(r"\s+", " ").strip().nullif("")


def key(text: ir.StringValue) -> ir.StringValue:
    """Case folded, every whitespace character removed; empty is NULL. Equal keys are one value."""
    return text.lower().re_replace(r"\s+", "").nullif("")


def key_of(text: str) -> str:
    """`key` of a configured name (e.g. attribution.direct_channel), in Python."""
    return "".join(text.split()).lower()


def spellings(values: ir.Table) -> ir.Table:
    """The delivery's spelling map: one row per key with `canonical` (its spelling) and `variants`
    (how many distinct spellings it had).

    `values` has a string column `value`, one row per use, or pre-counted rows with an integer
    column `uses` (e.g. one row per distinct raw text). NULL and blank values are ignored.
    """
    uses = values.uses if "uses" in values.columns else ibis.literal(1, type="int64")
    v = values.select(value=squash(values.value), n=uses)
    v = v.filter(v.value.notnull()).mutate(key=key(v.value))
    counts = v.group_by(["key", "value"]).aggregate(uses=v.n.sum())
    counts = counts.mutate(spaces=counts.value.length() - counts.value.replace(" ", "").length())
    rank = ibis.row_number().over(group_by="key", order_by=[ibis.desc("uses"), "spaces", "value"])
    ranked = counts.mutate(_rank=rank)
    variants = counts.group_by("key").aggregate(variants=counts.count())
    best = ranked.filter(ranked._rank == 0).select("key", canonical=ranked.value)
    return best.join(variants, "key")


def respell(t: ir.Table, column: str, spelling: ir.Table) -> ir.Table:
    """`t` with `column` in its canonical spelling (`spelling` from `spellings`); a text the map
    lacks keeps its squashed spelling, NULL and blank are NULL."""
    s = spelling.select(_k=spelling.key, _canon=spelling.canonical)
    j = t.left_join(s, key(t[column]) == s._k)
    return j.mutate(**{column: j._canon.coalesce(squash(j[column]))}).drop("_k", "_canon")


def respelled(text: ir.StringValue, key_map: dict[str, str]) -> ir.StringValue:
    """`text` in its canonical spelling from a small map already fetched (`key` -> `canonical`, the
    rows of `spellings`); a text the map lacks keeps its squashed spelling, blank is NULL."""
    s = squash(text)
    return key(text).substitute(key_map, else_=s) if key_map else s
