"""Who a customer is, for the marts: every customer id -> its golden customer, with name and country.

Customer analyses count people, not CRM records: the deduplication step (Splink) writes
`crm.customer_golden_map` (source_id -> golden_id) and `crm.customer_golden` (one row per person).
When those tables exist, transactions and interactions are mapped through them, so two ids of
one person add up to one customer. When they do not exist (no dedupe step has run), every
customer_id is its own golden id: the marts still build, one customer per CRM record.

A customer id that a transaction or interaction names but `crm.customers` does not hold (an
orphan) keeps its own id as golden id, with `known = false`: rows are never dropped, so revenue
totals stay complete, and the flag says what to exclude.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.config import DEFAULT_UNKNOWN_COUNTRY
from martops.crm import tables as T
from martops.engine import Warehouse

GOLDEN = "crm.customer_golden"
GOLDEN_MAP = "crm.customer_golden_map"


def has_golden(wh: Warehouse) -> bool:
    """Both golden tables are there (the map without the golden rows gives no names)."""
    return wh.exists(GOLDEN_MAP) and wh.exists(GOLDEN)


def id_map(wh: Warehouse) -> ir.Table | None:
    """`customer_id -> golden_id` from the dedupe step, or None (each id is its own golden id)."""
    if not has_golden(wh):
        return None
    m = wh.table(GOLDEN_MAP)
    return m.select(customer_id=m.source_id.cast("string"), golden_id=m.golden_id.cast("string")).distinct()


def to_golden(wh: Warehouse, t: ir.Table) -> ir.Table:
    """`t` (with a customer_id) plus `golden_id`: the map's, else the customer_id itself."""
    m = id_map(wh)
    if m is None:
        return t.mutate(golden_id=t.customer_id)
    m = m.rename(_cid="customer_id", _gid="golden_id")
    j = t.left_join(m, t.customer_id == m._cid)
    return j.mutate(golden_id=j._gid.fill_null(j.customer_id)).drop("_cid", "_gid")


def customers(wh: Warehouse, *also: ir.Table, unknown_country: str = DEFAULT_UNKNOWN_COUNTRY) -> ir.Table:
    """One row per golden customer: golden_id, name, country, known.

    Every customer in `crm.customers` (mapped to its golden id), plus the ids that the `also`
    tables name and crm.customers does not (orphans, `known = false`, country `unknown_country`,
    the project's `countries.unknown`). Name and country come from `crm.customer_golden` when
    present, else from the customer record.
    """
    c = wh.table(T.CUSTOMERS)
    rec = to_golden(wh, c.select("customer_id", "name", "country"))
    if has_golden(wh):
        g = wh.table(GOLDEN)
        g = g.select(golden_id=g.golden_id.cast("string"), name=g.name, country=g.country)
        ids = rec.select("golden_id").distinct()
        extra = ids.filter(ids.golden_id.notin(g.golden_id))  # mapped ids the golden table lacks
        first = rec.group_by("golden_id").aggregate(name=rec.name.min(), country=rec.country.min())
        people = g.union(extra.join(first, "golden_id").select("golden_id", "name", "country"))
    else:
        people = rec.select("golden_id", "name", "country")
    people = people.mutate(known=ibis.literal(True))
    named = [t.select("customer_id").distinct() for t in also]
    if named:
        ids = to_golden(wh, ibis.union(*named, distinct=True) if len(named) > 1 else named[0])
        orphans = ids.filter(ids.customer_id.notin(c.customer_id)).select("golden_id").distinct()
        orphans = orphans.filter(orphans.golden_id.notin(people.golden_id))
        people = people.union(orphans.select("golden_id", name=ibis.null("string"),
                                             country=ibis.literal(unknown_country), known=ibis.literal(False)))
    return people.mutate(country=people.country.fill_null(unknown_country))
