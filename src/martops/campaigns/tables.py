"""Warehouse tables of the campaign KPI mart, in the order data flows through them."""

from martops.ops import cleaning_log as _cleaning_log


CHANNELS = "staging.campaign_channels"
"""One row per campaign: the channel dictionary resolved (see `channels.py`)."""
LEADS = "staging.leads_funnel"
"""Typed, cleaned rows of the sales-assisted funnel export (one per source row that loaded)."""
WEB = "staging.web_orders"
"""Typed, cleaned rows of the web self-service funnel export."""
FX_RATES = "staging.fx_rates"
"""Rates per business day, written by fx.load (martops.ingest): the leads load reads the EUR-based
rows as of each row's day (see `funnels.with_fx`)."""
SNAPSHOT = "snapshots.campaign_daily"
"""SCD type 2 history of the reconciled daily facts (`valid_from`, `valid_to`)."""
DAILY = "marts.campaign_kpis_daily"
WEEKLY = "marts.campaign_kpis_weekly"
MONTHLY = "marts.campaign_kpis_monthly"
CLEANING_LOG = _cleaning_log.CLEANING_LOG
"""What each cleaning rule did to each delivery (one log, shared by every build)."""

FUNNELS = ("web", "sales_assisted")
FILE_ORDER = ("channels", "leads_funnel", "web_orders", "snapshot", "mart")
"""The order `kpis build` prints its cleaning log in: the order data flows."""
