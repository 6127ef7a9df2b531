"""Synthetic "attribution challenge" SQLite databases, at any scale and reproducibly.

The real challenge database (450k sessions) is not public; only the sessions of 2,000 converting
journeys are (`shared/datasets/ihc-challenge`). The shapes below are fitted to those journeys so
the pipeline, its tests and its benchmarks run on data that looks and breaks like the real thing.

Speed: everything is drawn per column in numpy; the row-by-row work is left to C. DuckDB's
sqlite scanner inserts Arrow chunks at ~1 us/row (Python's sqlite3 executemany, even with
journal and sync off: ~3.9 us/row), so 10M sessions take ~20 s on two cores. Rows are shuffled,
then given *sorted* random ids, so each table is appended in primary-key order (cheap B-tree
appends, no sort) while ids still say nothing about users or time. A writer thread inserts one
chunk while the next is formatted.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa

from martops.attribution.challenge_schema import SOURCE_TABLES, create_tables


# Channel mix: the session counts of the real converting journeys, plus three rare channels
# the real sample happens not to show (real accounts have them; code must not assume 13).
CHANNELS = {
    "Direct Traffic": 829, "Performance Max": 769, "Newsletter & Email": 743,
    "Paid Search Brand": 448, "Organic Traffic": 277, "FB & IG Ads": 231,
    "Affiliate & Partnerships": 127, "Referral": 111, "Untracked Conversions": 54,
    "Paid Search Non Brand": 51, "Social Organic": 28, "Microsoft Ads": 23, "TikTok Ads": 12,
    "Display": 9, "YouTube Ads": 6, "Pinterest Ads": 4,
}
# Median cost per click in EUR; only these channels get session_costs rows.
PAID_CPC = {
    "Performance Max": 0.45, "Paid Search Brand": 0.25, "Paid Search Non Brand": 1.20,
    "FB & IG Ads": 0.60, "Microsoft Ads": 0.90, "TikTok Ads": 0.35, "Display": 0.20,
    "Pinterest Ads": 0.40, "YouTube Ads": 0.30, "Affiliate & Partnerships": 1.50,
}
IMPRESSION_CHANNELS = ("FB & IG Ads", "TikTok Ads", "Display", "Pinterest Ads", "YouTube Ads")
# Sessions per hour of day in the real journeys (UTC): quiet nights, busy evenings.
HOUR_WEIGHTS = [167, 74, 44, 27, 12, 17, 34, 92, 170, 264, 256, 217,
                160, 194, 194, 182, 161, 168, 183, 173, 216, 231, 257, 210]
# Journey length (sessions strictly before a conversion): the real histogram for 1..12, a k^-2
# tail to MAX_JOURNEY with the real tail mass, and ~3% of conversions without any session.
_HEAD = [1132, 412, 197, 81, 47, 30, 10, 10, 7, 4, 3, 2]
MAX_JOURNEY = 40
PRE_DAYS = 3          # sessions start this many days before the first conversion day
TWIN_SHARE = 0.0075   # double-tracked sessions (same user, same second): ~1.5% share a stamp
DOUBLE_BUYERS = 0.025  # share of converting users who convert twice
CHUNK = 1_000_000


@dataclass(frozen=True)
class GenerateResult:
    path: Path
    sessions: int
    conversions: int
    users: int
    seconds: float

    def __str__(self) -> str:
        return (f"{self.path}: {self.sessions:,} sessions, {self.conversions:,} conversions, "
                f"{self.users:,} users in {self.seconds:.1f} s")


def _journey_pmf() -> np.ndarray:
    ks = np.arange(len(_HEAD) + 1, MAX_JOURNEY + 1)
    tail = 7.0 * ks ** -2.0 / (ks ** -2.0).sum()
    w = np.concatenate([[0.0], _HEAD, tail])
    w = 0.97 * w / w.sum()
    w[0] = 0.03
    return w


@cache
def _luts() -> tuple[np.ndarray, np.ndarray]:
    hex4 = np.frombuffer(b"".join(b"%04x" % i for i in range(65536)), dtype=np.uint32)
    hms = np.frombuffer(b"".join(b"%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)
                                 for s in range(86400)), dtype="V8")
    return hex4, hms


def _strings(fixed: np.ndarray) -> pa.Array:
    """Fixed-width bytes -> Arrow strings without a Python object per value."""
    width = fixed.dtype.itemsize
    offsets = np.arange(0, (len(fixed) + 1) * width, width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(len(fixed), pa.py_buffer(offsets),
                                            pa.py_buffer(np.ascontiguousarray(fixed)))


def _hex(words: np.ndarray) -> np.ndarray:
    """(n, 2) uint64 -> (n,) 32-char lowercase hex as V32; big-endian so text order = key order."""
    hex4, _ = _luts()
    quads = words.astype(">u8").view(">u2").astype(np.intp)
    return hex4[quads].view("V32").ravel()


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random 128-bit ids as (n, 2) uint64, sorted and unique (distinct high words)."""
    words = rng.integers(0, 2**64, size=(n, 2), dtype=np.uint64)
    high = np.sort(words[:, 0])
    while n > 1 and (dup := high[1:] == high[:-1]).any():  # ~never at 64 bits; cheap to be sure
        high[1:][dup] = rng.integers(0, 2**64, size=int(dup.sum()), dtype=np.uint64)
        high.sort()
    words[:, 0] = high
    return words


def _stamps(rng, n, day_w, first_day):
    """Seconds since `start` 00:00 UTC: a (day, hour) cell by weight, then a uniform second."""
    cell_p = np.outer(day_w, HOUR_WEIGHTS).ravel()
    cell = rng.choice(len(cell_p), size=n, p=cell_p / cell_p.sum())
    return (first_day * 24 + cell) * 3600 + rng.integers(0, 3600, n)


def _offsets(rng, room):
    """Seconds between related events: mostly minutes to hours, sometimes days (as in the real
    journeys: median gap ~2 h), always within 1..room so causality and the window hold."""
    room = np.maximum(room, 1)
    off = np.exp(rng.normal(np.log(3 * 3600), 2.3, len(room)))
    off = np.where(off > room, 1 + rng.random(len(room)) * room, np.maximum(off, 1))
    return np.minimum(off.astype(np.int64), room)


def _who_and_when(rng, conversions, sessions, days):
    """Users and timestamps of all conversions and sessions (seconds since start 00:00 UTC)."""
    lo, hi = -PRE_DAYS * 86400, days * 86400
    day_w = rng.lognormal(0.0, 0.25, PRE_DAYS + days)  # busy and quiet days, shared by all events
    doubles = min(round(conversions * DOUBLE_BUYERS), conversions // 2)
    buyers = conversions - doubles
    # Conversions: buyers 0..buyers-1; the first `doubles` buyers convert a second time later.
    conv_user = np.concatenate([np.arange(buyers), np.arange(doubles)])
    conv_ts = _stamps(rng, conversions, day_w[PRE_DAYS:], 0)
    pair = np.sort(np.column_stack([conv_ts[:doubles], conv_ts[buyers:]]), axis=1)
    pair[:, 0] = np.minimum(pair[:, 0], hi - 2)
    pair[:, 1] = np.maximum(pair[:, 1], pair[:, 0] + 1)
    conv_ts[:doubles], conv_ts[buyers:] = pair[:, 0], pair[:, 1]
    floor = np.full(conversions, lo - 1)  # sessions of a journey are strictly after this...
    floor[buyers:] = conv_ts[:doubles]  # ...so a second journey = its own + the first one's
    k = rng.choice(MAX_JOURNEY + 1, size=conversions, p=_journey_pmf())
    k[buyers:] = np.minimum(k[buyers:], MAX_JOURNEY - k[:doubles])
    gap = conv_ts - floor - 1
    k = np.where(gap >= 1, k, 0)
    owner = np.repeat(np.arange(conversions), k)
    j_ts = conv_ts[owner] - _offsets(rng, gap[owner])
    # Converting users come back after their last conversion now and then.
    last = conv_ts[:buyers].copy()
    last[:doubles] = conv_ts[buyers:]
    post = np.where(hi - last > 1, rng.choice(3, size=buyers, p=[0.5, 0.35, 0.15]), 0)
    p_user = np.repeat(np.arange(buyers), post)
    p_ts = last[p_user] + _offsets(rng, hi - 1 - last[p_user])
    # Everybody else: 1-3 sessions, never converting.
    twins = round(sessions * TWIN_SHARE)
    rest = sessions - twins - len(j_ts) - len(p_ts)
    if rest < 0:
        raise ValueError(f"sessions={sessions:,} is too few for {conversions:,} conversions "
                         f"(their journeys alone take {sessions - rest:,} with this seed)")
    counts = rng.choice([1, 2, 3], size=rest + 1, p=[0.6, 0.27, 0.13])  # enough: each >= 1
    n_rest_users = int(np.searchsorted(np.cumsum(counts), rest)) + (rest > 0)
    counts = counts[:n_rest_users]
    if n_rest_users:
        counts[-1] -= counts.sum() - rest
    r_user = np.repeat(np.arange(n_rest_users), counts)
    r_ts = _stamps(rng, n_rest_users, day_w, -PRE_DAYS)[r_user]
    later = np.ones(rest, bool)
    later[np.cumsum(counts) - counts] = False
    r_ts[later] = np.minimum(r_ts[later] + _offsets(rng, hi - 1 - r_ts[later]), hi - 1)
    users = np.concatenate([conv_user[owner], p_user, buyers + r_user])
    ts = np.concatenate([j_ts, p_ts, r_ts])
    twin_of = rng.integers(0, len(ts), size=twins)  # double tracking: same user, same second
    users, ts = np.concatenate([users, users[twin_of]]), np.concatenate([ts, ts[twin_of]])
    return conv_user, conv_ts, users, ts, buyers + n_rest_users


def _session_attributes(rng, n):
    """Channel and engagement flags: independent of who and when, so drawn per row up front."""
    names = list(CHANNELS)
    w = np.asarray(list(CHANNELS.values()), float)
    ch = rng.choice(len(names), size=n, p=w / w.sum()).astype(np.int8)
    untracked = ch == names.index("Untracked Conversions")
    # Untracked conversions never hold and always close, as in the real data; elsewhere closing
    # follows holding (P(close|hold) 0.80 vs 0.40), which gives the real 0.92 / 0.78 rates.
    holder = (rng.random(n) < 0.935) & ~untracked
    closer = (rng.random(n) < np.where(holder, 0.80, 0.40)) | untracked
    impression = np.isin(ch, [names.index(c) for c in IMPRESSION_CHANNELS]) & (rng.random(n) < 0.01)
    return ch, holder.astype(np.int8), closer.astype(np.int8), impression.astype(np.int8)


def _date_text(seconds, dates):
    """Text dates/times (UTC) as Arrow strings, through lookup tables rather than strftime."""
    _, hms = _luts()
    return _strings(dates[seconds // 86400 + PRE_DAYS]), _strings(hms[seconds % 86400])


def generate_challenge_db(path: str | Path, *, conversions: int = 2000, seed: int = 7,
                          sessions: int | None = None, start: date = date(2023, 8, 29),
                          days: int = 10, force: bool = False,
                          progress: Callable[[str, float], None] | None = None) -> GenerateResult:
    """Write a challenge database with the three source tables at `path`.

    Output is a pure function of the arguments (same seed => same rows), so tests and benchmarks
    can regenerate instead of storing databases. The file appears atomically: it is written
    beside `path` and renamed, so an interrupted run never leaves a half database behind.
    """
    t0 = time.perf_counter()
    path = Path(path)
    sessions = round(conversions * 225) if sessions is None else sessions
    if conversions < 0 or sessions < 0 or days < 1:
        raise ValueError("conversions and sessions must be >= 0 and days >= 1")
    if path.exists() and not force:
        raise FileExistsError(f"{path} already exists; pass --force (force=True) to overwrite it")
    report = progress or (lambda phase, fraction: None)
    report("generating", 0.0)
    rng = np.random.default_rng(seed)
    ch, holder, closer, impression = _session_attributes(rng, sessions)
    sid_words = _ids(rng, sessions)  # row i gets the i-th smallest id: rows go in in key order
    cpc = np.array([PAID_CPC.get(c, 0.0) for c in CHANNELS])
    paid = np.flatnonzero(cpc[ch] > 0)
    cost = np.maximum(np.round(cpc[ch[paid]] * rng.lognormal(0.0, 0.6, len(paid)), 2), 0.01)
    costs = pa.table({"session_id": _strings(_hex(sid_words[paid])),
                      "cost": pa.array(cost, mask=rng.random(len(paid)) < 0.05)})
    dates = np.array([(start + timedelta(d)).isoformat().encode()
                      for d in range(-PRE_DAYS, days)], dtype="V10")
    names = pa.array(list(CHANNELS), pa.large_string())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{time.time_ns()}.tmp")  # same filesystem
    try:
        with _Writer(tmp, len(paid) + sessions + conversions, report) as write:
            write("session_costs", costs)  # inserted while the main thread draws users and times
            conv_user, conv_ts, users, ts, n_users = _who_and_when(rng, conversions, sessions, days)
            perm = rng.permutation(sessions)  # so that key order says nothing about users or time
            users, ts = users[perm], ts[perm]
            user_words = rng.integers(0, 2**64, size=(n_users, 2), dtype=np.uint64)
            for a in range(0, sessions, CHUNK):
                b = min(a + CHUNK, sessions)
                event_date, event_time = _date_text(ts[a:b], dates)
                write("session_sources", pa.table({
                    "session_id": _strings(_hex(sid_words[a:b])),
                    "user_id": _strings(_hex(user_words[users[a:b]])),
                    "event_date": event_date, "event_time": event_time,
                    "channel_name": pa.DictionaryArray.from_arrays(pa.array(ch[a:b]), names),
                    "holder_engagement": holder[a:b], "closer_engagement": closer[a:b],
                    "impression_interaction": impression[a:b]}))
            cperm = rng.permutation(conversions)
            revenue = np.round(rng.lognormal(np.log(44.0), 0.743, conversions), 2)
            revenue[rng.random(conversions) < 0.01] = 0.0
            conv_date, conv_time = _date_text(conv_ts[cperm], dates)
            write("conversions", pa.table({
                "conv_id": _strings(_hex(_ids(rng, conversions))),
                "user_id": _strings(_hex(user_words[conv_user[cperm]])),
                "conv_date": conv_date, "conv_time": conv_time, "revenue": revenue}))
        os.replace(tmp, path)
    except BaseException:
        for leftover in (tmp, Path(f"{tmp}-journal")):
            leftover.unlink(missing_ok=True)
        raise
    report("done", 1.0)
    return GenerateResult(path, sessions, conversions, n_users, time.perf_counter() - t0)


class _Writer:
    """One SQLite transaction fed by a writer thread: DuckDB releases the GIL while it inserts,
    so the caller prepares the next chunk meanwhile. Tables must arrive in key order."""

    def __init__(self, file: Path, rows: int, report: Callable[[str, float], None]):
        self.file, self.rows, self.done, self.report = file, max(rows, 1), 0, report
        self.pending = None

    def __enter__(self):
        import sqlite3

        import duckdb
        import duckdb_extension_sqlite_scanner as wheel

        # Only the source tables: the two output tables belong to the pipeline's write-back.
        with closing(sqlite3.connect(self.file)) as con, con:
            create_tables(con, SOURCE_TABLES)
        # The pinned scanner from its wheel: no network, no extension cache. One thread: the
        # insert is serial anyway and more threads slowed it ~30% by fighting the generator.
        ext = (Path(wheel.__file__).parent / "extensions" / f"v{duckdb.__version__}"
               / "sqlite_scanner.duckdb_extension")
        self.con = duckdb.connect(config={"threads": 1, "autoinstall_known_extensions": False,
                                          "autoload_known_extensions": False})
        try:
            self.con.execute("SET enable_progress_bar = false")  # our rich bar is the only one
            self.con.execute(f"LOAD '{ext}'")
            quoted = str(self.file).replace("'", "''")
            self.con.execute(f"ATTACH '{quoted}' AS s (TYPE sqlite)")
            self.con.execute("BEGIN")
        except BaseException:
            self.con.close()
            raise
        self.pool = ThreadPoolExecutor(max_workers=1)
        return self

    def __call__(self, name: str, table: pa.Table) -> None:
        self._wait()
        self.pending = self.pool.submit(self._insert, name, table)

    def _insert(self, name: str, table: pa.Table) -> int:
        cols = ", ".join(table.column_names)
        self.con.register("chunk", table)
        self.con.execute(f"INSERT INTO s.{name} ({cols}) SELECT {cols} FROM chunk")
        self.con.unregister("chunk")
        return table.num_rows

    def _wait(self) -> None:
        if self.pending is not None:
            self.done += self.pending.result()
            self.pending = None
            self.report("writing", self.done / self.rows)

    def __exit__(self, exc_type, *_):
        try:
            self.pool.shutdown(wait=True)
            if exc_type is None:
                self._wait()
                self.con.execute("COMMIT")
        finally:
            self.con.close()
