"""Outputs people read: CSV exports now; the weekly HTML report later."""
