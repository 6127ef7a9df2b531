"""The CRM analysis marts: one table each in schema `marts`, built from `crm.*` after the load.

- `customers`: `marts.crm_customer_value`, one row per golden customer: frequency, spend, RFM
  scores and segment, spend tier and decile;
- `products`: `marts.crm_product_sales`, one row per product: volume, revenue, rank, performer,
  price points;
- `support`: `marts.crm_support`, resolution rate and volume by channel, month and segment;
- `sales`: `marts.crm_sales_attainment`, one row per rep: attainment, band, performer.

Customer analyses are per golden customer (see `identity`): through `crm.customer_golden_map`
when the dedupe step has written it, else one customer per customer_id.
"""

from __future__ import annotations

import datetime as dt

from martops.config import DEFAULT_UNKNOWN_COUNTRY
from martops.crm import tables as T
from martops.crm.marts import customers, products, sales, support
from martops.engine import Warehouse

TABLES = {"customers": customers.TABLE, "products": products.TABLE, "support": support.TABLE,
          "sales": sales.TABLE}
"""Mart name (as the CLI spells it) -> warehouse table."""
NEEDS = {"customers": (T.CUSTOMERS,), "products": (T.TRANSACTIONS,), "support": (T.INTERACTIONS,),
         "sales": (T.SALES_TEAM,)}
"""The crm tables a mart cannot be built without: a delivery lacking one skips that mart."""


def build_all(wh: Warehouse, as_of: dt.date | None = None,
              unknown_country: str = DEFAULT_UNKNOWN_COUNTRY) -> dict[str, int]:
    """Write every mart whose inputs exist (customers before support, which reads its segments);
    rows written per mart name. `unknown_country` (the project's `countries.unknown`) is the
    country of customers the transactions name but crm.customers lacks. The caller owns the
    transaction."""
    builders = {"customers": lambda: customers.build(wh, as_of, unknown_country),
                "products": lambda: products.build(wh), "support": lambda: support.build(wh),
                "sales": lambda: sales.build(wh)}
    out: dict[str, int] = {}
    for name, fn in builders.items():
        if all(wh.exists(t) for t in NEEDS[name]):
            out[name] = fn()
    return out
