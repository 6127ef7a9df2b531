"""Measures shared by every domain's marts: how a rate is computed from two sums.

A mart's rates (CAC, CPL, resolution rate, attainment, revenue share) are ratios of sums, never
averages of per-row ratios, and a rate whose denominator is 0, negative or unknown is unknown
(NULL), never 0 or infinity: an infinite CAC on a day without deals is not a number to chart.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    """`num / den` as float64; NULL where `den` is NULL or not > 0 (and where `num` is NULL)."""
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), ibis.null("float64"))
