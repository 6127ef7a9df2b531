"""Warehouse tables of the CRM foundation, in the order data flows through them.

Staging holds one row per source row that loaded (losing duplicate copies included, flagged), with
raw and standardised values side by side; schema `crm` holds one clean row per entity id, the
survivors, with integrity flags. The deduplication of people (Splink), golden records and the
analysis marts read `crm.*` and come later.
"""

ROLES = ("customers", "products", "sales_team", "countries", "transactions", "interactions")
"""Every role a delivery may hold, parents before the children whose foreign keys point at them."""
REQUIRED = ("customers",)

STAGING = {role: f"staging.crm_{role}" for role in ROLES}
"""`staging.crm_<role>`: one row per loaded source row: `_row`, raw + standardised columns, `row_hash`,
`duplicate_rows`, `duplicate_kind`, `is_survivor`, `survivor_row`, flags, `_etl_loaded_at`, `_run_id`."""
CUSTOMERS = "crm.customers"
"""One row per customer_id (the survivor): name split for linkage, email, E.164 phone, ISO country."""
PRODUCTS = "crm.products"
"""One row per product_id; `id_conflict` where the id names several products (`other_names`)."""
SALES_TEAM = "crm.sales_team"
"""One row per sales_rep_id; `achieved_missing` where sales_achieved is blank (NULL, never 0)."""
COUNTRIES = "crm.countries"
"""One row per country name in countries.csv: its ISO alpha-2 code and dialling code."""
TRANSACTIONS = "crm.transactions"
"""One row per transaction_id; `amount_missing`, `amount_imputed`, `orphan_<fk>` flags."""
INTERACTIONS = "crm.interactions"
"""One row per interaction_id; type in (phone, chat, email, unknown); `orphan_customer`."""
MATCHES = "crm.customer_matches"
"""Pairs of customer ids Splink scored at or above `crm.dedupe.pairs_threshold`, with the rule that found them."""
CLUSTERS = "crm.customer_clusters"
"""Every customer_id -> its cluster (ids that are one person), cluster size and strongest link."""
GOLDEN = "crm.customer_golden"
"""One golden customer per cluster; `crm.customer_golden_map` and `crm.customer_golden_values` audit it."""
CLEAN = {"customers": CUSTOMERS, "products": PRODUCTS, "sales_team": SALES_TEAM, "countries": COUNTRIES,
         "transactions": TRANSACTIONS, "interactions": INTERACTIONS}

SOURCE = "crm"
"""`ops.quarantine.source` of every CRM delivery; `table_name` is the staging table's name (`crm_customers`)."""
FILE_ORDER = ROLES
"""The order `crm build` prints its cleaning log in."""
