"""Running the project without a person at the keyboard: schedules (cron, an in-process scheduler)
and, in `orchestration/`, the Airflow and Dagster adapters. Import-light: the orchestrators' own
virtualenvs import submodules of this package without martops' core dependencies."""
