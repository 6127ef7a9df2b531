"""Data checks: queries that return the failing rows (zero rows pass), run on any Ibis engine."""

from martops.checks.core import Check, CheckResult, enforce, run_checks
from martops.checks.builders import attribution_checks, non_negative, not_nan, sums_to

__all__ = ["Check", "CheckResult", "enforce", "run_checks", "attribution_checks", "non_negative", "not_nan", "sums_to"]
