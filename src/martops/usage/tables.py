"""Warehouse tables of product usage (seed 000, part 1), in data-flow order.

Months are held as a month index: at grain `event` (and at grain `month` with
`sources.usage.month_one`) the calendar month as year * 12 + month - 1, labelled `YYYY-MM`; at grain
`month` without a calendar, the source's month number, labelled `M01`, `M02`, ... (labels sort).
"""

STAGING_PEOPLE = "staging.usage_people"
"""One row per person that loaded: user_id, name, email, company (trimmed, NULL when blank),
created_at (timestamp; NULL at grain month), signup_month (month index; NULL when unknown),
test_reason (why the name or email marks a test account, else NULL)."""
STAGING_EVENTS = "staging.usage_events"
"""One row per event that loaded, copies dropped: user_id, event_type, event_at (timestamp, UTC) and
event_date (in sources.usage.reporting_timezone), both NULL at grain month; activity_month (index)."""
CUSTOMERS = "marts.usage_customers"
"""One row per person signed up by the as-of date: interactions, active days and months, first and
last seen, the recent and previous windows and their trend, the tier, and why an account is excluded."""
COMPANIES = "marts.usage_companies"
"""One row per company: seats (people), active users and their share, interactions in total and per
seat, recent and previous windows, trend, tier. Empty when the source names no company."""
EVENT_TYPES = "marts.usage_event_types"
"""Interactions per customer and per company by event type (entity, entity_id, event_type)."""
TIERS = "marts.usage_tiers"
"""Per entity (customer, company) and tier: members, share, the measure's range and the rule."""
RETENTION = "marts.usage_retention"
"""Per signup-month cohort and months since signup: cohort size, active users, retention."""
MARTS = (CUSTOMERS, COMPANIES, EVENT_TYPES, TIERS, RETENTION)

SOURCE = "usage"
"""`ops.quarantine.source` of every usage delivery; `table_name` is `usage_people` or `usage_events`."""
FILE_ORDER = ("people", "events", "marts")
"""The order `usage build` prints its cleaning log in."""
TIER_ORDER = ("new", "dormant", "low", "medium", "high", "excluded")
