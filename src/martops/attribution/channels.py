"""Canonical channel names: spellings that differ only in case or whitespace are one channel.

Exports typed by hand or merged from several tools spell one channel several ways (`Direct
Traffic`, `Direct traffic `, `direct  traffic`). Left apart they become separate report rows and
`last_non_direct` takes `Direct traffic ` for a real channel. Two names are one channel when they
are equal once case is folded and every whitespace character removed (`key`); the channel is
spelled as the delivery spells it most often, trimmed, inner runs of spaces collapsed to one (ties:
alphabetical). The map is computed over the whole delivery, not the loaded range, so every range
of one delivery spells a channel the same way.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from martops.ops.cleaning_log import CleaningLog

RESPELLED = ("channel names differing only in case or whitespace: respelled as the delivery's most used "
             "spelling (rows in the whole delivery)")
SHOWN = 5
"""Respellings listed in a cleaning-log example."""


def key(text: ir.StringValue) -> ir.StringValue:
    """Case folded, every whitespace character removed: equal keys are one channel."""
    return text.lower().re_replace(r"\s+", "")


def key_of(name: str) -> str:
    """`key` for a configured name (e.g. attribution.direct_channel)."""
    return "".join(name.split()).lower()


def spelling_map(channels: ir.Table) -> ir.Table:
    """(raw, canonical, uses): every raw spelling of `channels.channel_name` and its channel.

    `channels` is the delivery's channel_name column; the result has one row per distinct raw
    text (a few dozen), so joining it to the sessions costs nothing.
    """
    c = channels.filter(channels.channel_name.notnull())
    g = c.group_by(raw=c.channel_name).aggregate(uses=c.count())
    g = g.mutate(key=key(g.raw), spelling=g.raw.strip().re_replace(r"\s+", " "))
    g = g.filter(g.key != "")
    per = g.group_by(["key", "spelling"]).aggregate(n=g.uses.sum())
    rank = ibis.row_number().over(group_by="key", order_by=[ibis.desc("n"), "spelling"])
    best = per.mutate(_rank=rank)
    best = best.filter(best._rank == 0).select("key", canonical=best.spelling)
    return g.join(best, "key").select("raw", "canonical", "uses")


def respell(sessions: ir.Table, spelling: ir.Table) -> ir.Table:
    """`sessions` with channel_name in its canonical spelling (names the map lacks stay as they are)."""
    m = spelling.select(_raw=spelling.raw, _canonical=spelling.canonical)
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
