"""The `crm.dedupe` and `crm.golden` steps: customer ids that are one person, and their golden records.

`crm.customers` already holds one row per customer_id (copies of an id collapsed at load); this
finds different ids that are the same person (a re-registration with a new id, a typo in the
name, another phone format) with Splink, then writes one golden customer per cluster. The source
tables are never changed: the clusters, the pairs and the golden tables are rebuilt from them.
"""

from __future__ import annotations

import ibis
import pyarrow as pa

from martops.config import CrmConfig
from martops.crm import golden
from martops.crm import tables as T
from martops.crm.dedupe.linker import DedupeResult, dedupe
from martops.crm.dedupe.spec import DedupeSpec
from martops.engine import Warehouse
from martops.errors import StepError

GOLDEN = golden.GoldenTables.for_entity("crm", "customer")
GOLDEN_COLUMNS = ["name", "first_name", "surname", "email", "phone", "country"]
"""The customer's values a golden record carries (standardised, as `crm.customers` holds them)."""


def _records(wh: Warehouse, cfg: CrmConfig) -> pa.Table:
    """`crm.customers`, with the raw phone text where the compared column is `phone`: a number
    the numbering plan rejects is NULL in `phone` but still identifies the person."""
    if not wh.exists(T.CUSTOMERS):
        raise StepError(f"{T.CUSTOMERS} does not exist; run the load step first (`martops crm build --source ...`)")
    c = wh.table(T.CUSTOMERS)
    missing = [col for col in cfg.dedupe.compare if col not in c.columns]
    if missing:
        raise StepError(f"crm.dedupe.compare names {missing}, which {T.CUSTOMERS} does not have; it has {c.columns}")
    if "phone" in cfg.dedupe.compare and wh.exists(T.STAGING["customers"]):
        s = wh.table(T.STAGING["customers"])
        raw = s.filter(s.is_survivor).select("customer_id", phone_raw=s.phone_raw)
        c = c.left_join(raw, "customer_id").select(c, "phone_raw")
        c = c.mutate(phone=c.phone_raw.fill_null(c.phone)).drop("phone_raw")
    return wh.to_pyarrow(c.select("customer_id", *cfg.dedupe.compare))


def run_dedupe(wh: Warehouse, cfg: CrmConfig, run_id: str, progress=None) -> DedupeResult:
    spec = DedupeSpec("customer_id", tuple(cfg.dedupe.compare.items()), threshold=cfg.dedupe.threshold,
                      pairs_threshold=cfg.dedupe.pairs_threshold, u_max_pairs=cfg.dedupe.u_max_pairs)
    result = dedupe(_records(wh, cfg), spec, label=T.CUSTOMERS, progress=progress)
    pairs = result.pairs.rename_columns(["customer_id_l", "customer_id_r", *result.pairs.column_names[2:]])
    wh.create_or_replace(T.MATCHES, ibis.memtable(pairs).mutate(_run_id=ibis.literal(run_id)))
    clusters = result.clusters.rename_columns(["customer_id", *result.clusters.column_names[1:]])
    wh.create_or_replace(T.CLUSTERS, ibis.memtable(clusters).mutate(_run_id=ibis.literal(run_id)))
    return result


def build_golden(wh: Warehouse) -> dict[str, int]:
    if not wh.exists(T.CLUSTERS):
        raise StepError(f"{T.CLUSTERS} does not exist; run the dedupe step first")
    cl = wh.table(T.CLUSTERS)
    clusters = cl.select(id=cl.customer_id, cluster_id=cl.cluster_id, match_probability=cl.match_probability)
    return golden.build(wh, wh.table(T.CUSTOMERS), "customer_id", clusters, GOLDEN_COLUMNS, GOLDEN,
                        recency="source_row")
