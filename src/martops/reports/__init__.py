"""Outputs people read that serve every domain (the weekly HTML report later).

A domain's own exports live in its package (`attribution.csv_export`); the file writers every
`--out`/`--export` uses are `martops.export_files`. Like every lower layer, nothing here imports
a domain (tests/test_layers.py).
"""
