"""POS Lite campaign KPI mart: channel dictionary + sales-assisted leads funnel + web orders funnel."""
