"""Running the project without a person at the keyboard: schedules (cron, an in-process
scheduler) and, in `orchestration/`, the Airflow and Dagster adapters."""
