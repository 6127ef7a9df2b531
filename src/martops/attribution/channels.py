"""Canonical channel names: spellings that differ only in case or whitespace are one channel.

Exports typed by hand or merged from several tools spell one channel several ways (`Direct
Traffic`, `Direct traffic `, `direct  traffic`). Left apart they become separate report rows and
`last_non_direct` takes `Direct traffic ` for a real channel. The rule is every domain's
(`sources.spelling`): two names are one channel when they are equal once case is folded and every
whitespace character removed (`key`); the channel is spelled as the delivery spells it most often,
trimmed, inner runs of spaces collapsed to one (ties: fewer spaces, then alphabetical). The map is
computed over the whole delivery, not the loaded range, so every range of one delivery spells a
channel the same way.
"""

from __future__ import annotations

import ibis.expr.types as ir

from martops.ops.cleaning_log import CleaningLog
from martops.sources import spelling

RESPELLED = ("channel names differing only in case or whitespace: respelled as the delivery's most used "
             "spelling (rows in the whole delivery)")
SHOWN = 5
"""Respellings listed in a cleaning-log example."""


def spelling_map(channels: ir.Table) -> ir.Table:
    """(raw, canonical, uses): every raw spelling of `channels.channel_name` and its channel.

    `channels` is the delivery's channel_name column; the result has one row per distinct raw
    text (a few dozen), so joining it to the sessions costs nothing. The canonical spelling is
    `sources.spelling.spellings` over the raw texts weighted by their uses.
    """
    c = channels.filter(channels.channel_name.notnull())
    g = c.group_by(raw=c.channel_name).aggregate(uses=c.count())
    best = spelling.spellings(g.select(value=g.raw, uses=g.uses))
    return g.join(best, spelling.key(g.raw) == best.key).select("raw", "canonical", "uses")


def respell(sessions: ir.Table, spellings: ir.Table) -> ir.Table:
    """`sessions` with channel_name in its canonical spelling (`spellings` from `spelling_map`;
    names the map lacks stay as they are)."""
    m = spellings.select(_raw=spellings.raw, _canonical=spellings.canonical)
    j = sessions.left_join(m, sessions.channel_name == m._raw)
    return j.mutate(channel_name=j._canonical.coalesce(j.channel_name)).drop("_raw", "_canonical")


def log_respellings(log: CleaningLog, rows: list[dict], file: str = "session_sources") -> int:
    """Count the delivery's rows whose channel name was respelled; returns that count."""
    changed = sorted((r for r in rows if r["raw"] != r["canonical"]), key=lambda r: (-r["uses"], r["raw"]))
    n = sum(r["uses"] for r in changed)
    shown = "; ".join(f"{r['raw']!r} -> {r['canonical']!r} ({r['uses']:,})" for r in changed[:SHOWN])
    more = f"; and {len(changed) - SHOWN} more" if len(changed) > SHOWN else ""
    log.add(file, RESPELLED, n, shown + more)
    return n
