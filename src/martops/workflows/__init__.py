"""Onboarding and other customer workflows (issue 21): triggers on warehouse tables, e-mails,
webhooks, tasks, waits and branches, each effect recorded once in `ops.workflow_actions`."""
