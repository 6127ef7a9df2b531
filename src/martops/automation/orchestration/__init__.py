"""Airflow and Dagster adapters that drive the martops CLI; each imports only the stdlib and its orchestrator."""
