"""RFM scores, named segments and spend tiers: the rules, in one place, as Ibis expressions.

**Scores** (1-5, 5 best) are quintiles over buyers only (a customer without a purchase has no
recency to score): recency scores higher the more recent the last purchase, frequency and
monetary the more transactions / spend. A score is `1 + floor(5 * rank / buyers)`, rank being the
0-based position with ties sharing the lowest rank. That is `ntile(5)` when values are distinct;
unlike `ntile`, two customers with the same value always get the same score (with 1-3 purchases
each, frequency is mostly ties, and `ntile` would split them arbitrarily). The price: a score
can be skipped (if 45% bought once, they all get F=1 and the next value starts at F=3), and with
fewer than five buyers the top scores are never reached (a sole buyer scores 1, 1, 1: `Lost`).

**Segments**, from R and FM = (F + M) / 2, the first rule that matches:

| segment            | rule                 | meaning                                   |
|--------------------|----------------------|-------------------------------------------|
| Champions          | R >= 4 and FM >= 4   | bought recently, often, and spend most    |
| Loyal              | R >= 3 and FM >= 3   | recent enough, buy and spend above median |
| New                | R >= 4 and F = 1     | bought recently, few purchases yet        |
| Potential loyalist | R >= 3               | recent, below-median frequency/spend      |
| Can't lose         | R <= 2 and FM >= 4   | were among the best, gone quiet           |
| At risk            | R <= 2 and FM >= 3   | good customers, gone quiet                |
| Hibernating        | R = 2                | low value, quiet for a while              |
| Lost               | R = 1                | low value, quiet longest                  |

A customer with no purchase is `No purchase` (no scores).

**Spend tiers and deciles** rank buyers by spend, largest first: position/buyers < 10% is
`Top 10%`, < 30% `Next 20%`, < 60% `Middle 30%`, else `Bottom 40%`; `spend_decile` 1 is the top
10%, 10 the bottom. Ties share the better tier.

**Unknown spend**: a buyer none of whose amounts is known (spend NULL) is left out of the M score,
tier and decile ranks, which count only buyers with a known spend; those three are NULL for it,
and its segment reads FM as F alone (R and F are known: the purchases happened).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

NO_PURCHASE = "No purchase"
SEGMENTS = ("Champions", "Loyal", "New", "Potential loyalist", "Can't lose", "At risk", "Hibernating", "Lost",
            NO_PURCHASE)
"""Every rfm_segment, best first (the order `crm show customers --by segment` prints)."""
TIERS = ("Top 10%", "Next 20%", "Middle 30%", "Bottom 40%", NO_PURCHASE)
TIER_CUTS = ((0.1, "Top 10%"), (0.3, "Next 20%"), (0.6, "Middle 30%"))


def _quantile(rank: ir.IntegerValue, n: ir.IntegerValue, k: int) -> ir.IntegerValue:
    return (1 + (rank.cast("float64") * k / n.cast("float64")).floor()).cast("int64")


def scored(t: ir.Table) -> ir.Table:
    """`t` (golden_id, transactions, spend, recency_days) plus the scores, segment, tier and decile.

    Windows run over buyers only; non-buyers get NULL scores and `No purchase`.
    """
    buyers = t.filter(t.transactions > 0)
    n, n_spend = buyers.count().as_scalar(), buyers.spend.count().as_scalar()
    known = buyers.spend.notnull()
    by_spend = lambda *order: ibis.rank().over(group_by=[known], order_by=list(order))  # noqa: E731 - known spends rank among themselves
    b = buyers.mutate(
        r_score=_quantile(ibis.rank().over(order_by=[ibis.desc(buyers.recency_days)]), n, 5),
        f_score=_quantile(ibis.rank().over(order_by=[buyers.transactions]), n, 5),
        m_score=ibis.ifelse(known, _quantile(by_spend(buyers.spend), n_spend, 5), ibis.null("int64")),
        _spend_pos=ibis.ifelse(known, by_spend(ibis.desc(buyers.spend)), ibis.null("int64")),
    )
    b = b.mutate(spend_decile=_quantile(b._spend_pos, n_spend, 10),
                 spend_tier=ibis.cases(*[(b._spend_pos.cast("float64") / n_spend.cast("float64") < cut, name)
                                         for cut, name in TIER_CUTS],
                                       else_=ibis.ifelse(b._spend_pos.isnull(), ibis.null("string"), TIERS[3])),
                 rfm_segment=segment(b.r_score, b.f_score, b.m_score)).drop("_spend_pos")
    rest = t.filter(~(t.transactions > 0)).mutate(
        r_score=ibis.null("int64"), f_score=ibis.null("int64"), m_score=ibis.null("int64"),
        spend_decile=ibis.null("int64"), spend_tier=ibis.literal(NO_PURCHASE), rfm_segment=ibis.literal(NO_PURCHASE))
    return b.union(rest.select(*b.columns))


def segment(r: ir.IntegerValue, f: ir.IntegerValue, m: ir.IntegerValue) -> ir.StringValue:
    """The segment table in the module docstring, as one CASE."""
    fm = ((f + m).cast("float64") / 2).fill_null(f.cast("float64"))  # M unknown: F alone
    return ibis.cases(
        ((r >= 4) & (fm >= 4), "Champions"),
        ((r >= 3) & (fm >= 3), "Loyal"),
        ((r >= 4) & (f == 1), "New"),
        (r >= 3, "Potential loyalist"),
        (fm >= 4, "Can't lose"),
        (fm >= 3, "At risk"),
        (r == 2, "Hibernating"),
        else_="Lost",
    )
