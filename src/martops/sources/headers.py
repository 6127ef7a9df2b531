"""Header matching shared by every domain: trimmed and case-insensitive, so `Session_ID `,
`session_id` and `SESSION_ID` are one column. Duplicates under this rule are refused when the
file is read (`sources.csv_files.read_header`)."""

from __future__ import annotations


def key(name: str) -> str:
    return name.strip().lower()


def by_key(found: list[str]) -> dict[str, str]:
    """Matching key -> the header as the file spells it."""
    return {key(h): h for h in found}


def match(found: list[str], wanted: list[str]) -> tuple[dict[str, str], list[str]]:
    """(wanted name -> the file's spelling, the wanted names the header lacks)."""
    lookup = by_key(found)
    return {w: lookup[key(w)] for w in wanted if key(w) in lookup}, [w for w in wanted if key(w) not in lookup]
