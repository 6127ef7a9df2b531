"""Probabilistic record linkage (Splink) for any person or company table."""
