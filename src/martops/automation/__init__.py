"""Automation: schedules and orchestrator adapters. Import-light: the orchestrators' own virtualenvs import
submodules of this package without martops' core dependencies."""
