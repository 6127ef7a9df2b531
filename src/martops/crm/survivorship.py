"""One survivor per id within a delivery; every copy stays in staging, flagged.

Rows sharing an id are:
- `exact_copy`: every source value (`row_hash` over the raw texts, ids trimmed) equals the
  survivor's. Collapsing them loses nothing.
- `conflicting_copy`: the same id with other values (on the real CRM: one copy has an email or
  amount the other lacks). The survivor is the **most complete** row (most standardised fields
  known, `roles.COMPLETENESS`), then the **most recent**. The files carry no modified-date column,
  so "most recent" is the later delivery (a delivery replaces the previous one, so within staging
  all rows share it) and then the **later line** in the file: extracts append changes. The lowest
  line would break a remaining tie, which cannot occur within one file (lines are unique).
- `id_conflict`: copies whose identity column (`roles.IDENTITY`: a product's name) differs are two
  things sharing one id, not two versions of one. Completeness cannot choose between them, so the
  **first line** keeps the id (it was issued to that product first) and the others are listed.

Losing rows keep `is_survivor = false`, `duplicate_kind` and `survivor_row` (the line that won);
nothing is deleted. `duplicate_rows` is how many rows share the id.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.snapshots import surrogate_key
from martops.sources.typed import ROW


def resolve(t: ir.Table, key: str, raw_columns: tuple[str, ...], completeness: ir.IntegerValue,
            identity: str | None = None) -> ir.Table:
    """`t` plus row_hash, completeness, duplicate_rows, duplicate_kind, is_survivor, survivor_row."""
    t = t.mutate(row_hash=surrogate_key(t, [c for c in raw_columns if c in t.columns]), completeness=completeness)
    ident = t[identity].lower() if identity else ibis.literal("")
    g = t.mutate(_ident=ident).group_by(key).aggregate(duplicate_rows=lambda s: s.count(),
                                                       _identities=lambda s: s._ident.nunique())
    j = t.join(g, key)
    conflict = j._identities > 1
    order = [ibis.desc(ibis.ifelse(conflict, 0, j.completeness)), ibis.desc(ibis.ifelse(conflict, -j[ROW], j[ROW]))]
    j = j.mutate(_rank=ibis.row_number().over(group_by=key, order_by=order), _conflict=conflict)
    win = j.filter(j._rank == 0).select(key, survivor_row=j[ROW], _survivor_hash=j.row_hash)
    r = j.join(win, key)
    survivor = r._rank == 0
    kind = ibis.cases(
        (survivor, ibis.null("string")),
        (r._conflict, ibis.literal("id_conflict")),
        (r.row_hash == r._survivor_hash, ibis.literal("exact_copy")),
        else_=ibis.literal("conflicting_copy"),
    )
    return r.mutate(duplicate_kind=kind, is_survivor=survivor).drop("_identities", "_rank", "_conflict", "_survivor_hash")
