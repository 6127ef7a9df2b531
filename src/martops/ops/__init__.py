"""Operational tables: the run log (`ops.runs`), quarantine (`ops.quarantine`) and status views."""
