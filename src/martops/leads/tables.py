"""Warehouse tables of lead scoring, in data-flow order."""

STAGING = "staging.leads"
"""One row per lead that loaded for scoring: `_row`, `lead_id`, the mapped columns typed (under
their warehouse names, see `leads.mapping`), `lead_key`, `company`, `_etl_loaded_at`, `_run_id`."""
TRAINING = "staging.lead_training"
"""The same for the last training input, plus `label` (0/1)."""
SCORES = "marts.lead_scores"
"""One row per lead and as-of date: rules score and grade, sales_ready, probability, 0-100 score,
top reasons, model version. What the onboarding workflow triggers on (`sales_ready`)."""
COMPANY_SCORES = "marts.lead_company_scores"
"""One row per company and as-of date: contacts, score from its contacts' rules scores, grade."""
REASONS = "leads.lead_reasons"
"""Every lead's reasons, long: (lead_id, as_of, kind rules|model, rank, field, value, contribution)."""
DRIFT = "leads.drift"
"""Population stability index per feature between the model's training data and a scoring run."""
METRICS = "leads.model_metrics"
"""Cross-validated metrics per model version and scorer (the model, the rules, a one-feature baseline)."""
CALIBRATION = "leads.calibration_curve"
"""Per model version: mean predicted probability vs observed conversion rate in 10 bins."""
LEAKAGE = "leads.leakage_audit"
"""Per model version and column: declared post-outcome, single-column AUC, one-class share, flagged,
excluded, and what the column does to the model's CV ROC AUC."""

SOURCE = "leads"
"""`ops.quarantine.source` of lead inputs; `table_name` is `leads` (scoring) or `lead_training`."""
