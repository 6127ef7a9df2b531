"""The API exchange for a range: only journeys without a current answer are sent.

A stored answer is current while its fingerprint (the rows sent, conv_type_id and
redistribution settings) matches the journey as it is now; `refresh` sends everything again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import uuid
from typing import Callable

import httpx
import ibis

from martops.attribution import tables as T
from martops.attribution.ihc_api import store
from martops.attribution.ihc_api.client import IhcApiClient, IhcApiError
from martops.attribution.ihc_api.payload import Journey, build_journeys, plan_chunks
from martops.config import IhcApiConfig, secret
from martops.engine import Warehouse
from martops.errors import ConfigError

log = logging.getLogger(__name__)
KEY_ENV = "IHC_API_KEY"
Progress = Callable[[str, int, int], None]


@dataclasses.dataclass
class ApiOptions:
    config: IhcApiConfig = dataclasses.field(default_factory=IhcApiConfig)
    conv_type_id: str | None = None
    refresh: bool = False
    allow_partial: bool = False
    progress: Progress | None = None
    sleep: Callable[[float], None] = time.sleep


def load_journeys(wh: Warehouse, since: dt.date, until: dt.date, cfg: IhcApiConfig, conv_type_id: str) -> list[Journey]:
    j = wh.table(T.JOURNEYS)
    j = j.filter(j.conv_date.between(since, until)).order_by(["conv_id", "position"])
    by_conv: dict[str, list[dict]] = {}
    dates: dict[str, dt.date] = {}
    for r in wh.to_pyarrow(j).to_pylist():
        by_conv.setdefault(r["conv_id"], []).append(r)
        dates[r["conv_id"]] = r["conv_date"]
    return build_journeys(by_conv, dates, cfg, conv_type_id)


def preflight(opts: ApiOptions) -> tuple[str, str]:
    """(key, conv_type_id), or an error naming what is missing: run before any step writes, so a
    run that cannot reach the API stops before ingest instead of after it."""
    cfg = opts.config
    key = secret(KEY_ENV)
    if not key:
        raise IhcApiError(f"{KEY_ENV} is not set: export your IHC API key in the environment "
                          "(it is never read from files); nothing was ingested or sent")
    url = cfg.effective_url().strip()
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        parsed = None
    if not url or parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"the IHC API URL {url!r} is not an http(s) URL: set ihc_api.url in martops.yml or "
                          "the environment variable IHC_API_URL; nothing was ingested or sent")
    conv_type_id = (opts.conv_type_id or cfg.conv_type_id or "").strip()
    if not conv_type_id:
        raise ConfigError("the IHC API needs a conversion type: pass --conv-type-id or set "
                          "ihc_api.conv_type_id in martops.yml; nothing was ingested or sent")
    return key, conv_type_id


def exchange(wh: Warehouse, since: dt.date, until: dt.date, opts: ApiOptions) -> tuple[dict, dict[str, str]]:
    """Send what is missing; returns (summary, current fingerprints of every journey in range)."""
    cfg = opts.config
    key, conv_type_id = preflight(opts)
    journeys = load_journeys(wh, since, until, cfg, conv_type_id)
    current = {j.conv_id: j.fingerprint for j in journeys}
    store.ensure_tables(wh)
    stored = {} if opts.refresh else store.answered_fingerprints(wh, list(current))
    todo = [j for j in journeys if stored.get(j.conv_id) != j.fingerprint]
    chunks = plan_chunks(todo, cfg.max_journeys_per_request, cfg.max_sessions_per_request)
    run_id = uuid.uuid4().hex[:12]
    events: list[dict] = []
    client = IhcApiClient(cfg, key, conv_type_id, sleep=opts.sleep, on_request=events.append)
    summary = {"api_run_id": run_id, "journeys": len(journeys), "already_answered": len(journeys) - len(todo),
               "sent": 0, "answered": 0, "failed": 0,
               "truncated": sum(1 for j in todo if j.truncated_from), "chunks": len(chunks)}
    progress = opts.progress or (lambda label, done, total: None)
    progress("chunks", 0, len(chunks))
    progress("conversions", 0, len(todo))
    done_conversions = 0
    try:
        for no, chunk in enumerate(chunks, start=1):
            try:
                answer = client.compute(chunk, no)
            finally:
                _log_requests(wh, run_id, chunk, events)
            fp = {j.conv_id: j for j in chunk}
            stamp = store.now()
            rows = [dict(r, conv_date=fp[r["conv_id"]].conv_date, fingerprint=fp[r["conv_id"]].fingerprint,
                         run_id=run_id, answered_at=stamp) for r in answer.rows]
            failures = [dict(run_id=run_id, conv_id=c, conv_date=fp[c].conv_date, error=e, recorded_at=stamp)
                        for c, e in sorted(answer.failed.items())]
            truncated = [dict(run_id=run_id, conv_id=j.conv_id, sessions=j.truncated_from, sent=j.sessions,
                              recorded_at=stamp) for j in chunk if j.truncated_from]
            with wh.transaction():  # one chunk's answers commit together, as they arrive
                store.replace_answers(wh, [j.conv_id for j in chunk], rows)
                store.append(wh, store.FAILURES, failures, store.FAILURES_SCHEMA)
                store.append(wh, store.TRUNCATED, truncated, store.TRUNCATED_SCHEMA)
            summary["sent"] += len(chunk)
            summary["failed"] += len(answer.failed)
            summary["answered"] += len(chunk) - len(answer.failed)
            for conv, err in answer.failed.items():
                log.warning("IHC API could not attribute conversion %s: %s", conv, err)
            done_conversions += len(chunk)
            progress("chunks", no, len(chunks))
            progress("conversions", done_conversions, len(todo))
    finally:
        client.close()
        summary.update(requests=client.stats.requests, retries=client.stats.retries)
    return summary, current


def _log_requests(wh: Warehouse, run_id: str, chunk: list[Journey], events: list[dict]) -> None:
    rows = [dict(run_id=run_id, chunk=e["chunk"], attempt=e["attempt"], status=e["status"],
                 journeys=len(chunk), sessions=sum(j.sessions for j in chunk), seconds=e["seconds"],
                 error=e["error"], at=store.now()) for e in events]
    events.clear()
    with wh.transaction():
        store.append(wh, store.REQUESTS, rows, store.REQUESTS_SCHEMA)


def credits_expr(wh: Warehouse, current: dict[str, str]) -> ibis.Table:
    """Credits of the range from stored answers whose fingerprint is current."""
    a = wh.table(store.ANSWERS)
    fps = ibis.memtable({"conv_id": list(current), "fingerprint": list(current.values())},
                        schema={"conv_id": "string", "fingerprint": "string"})
    a = a.join(fps, ["conv_id", "fingerprint"])
    return a.select(model=ibis.literal("ihc_api"), conv_id=a.conv_id, conv_date=a.conv_date,
                    session_id=a.session_id, ihc=a.ihc)


__all__ = ["ApiOptions", "IhcApiError", "exchange", "preflight", "credits_expr", "KEY_ENV"]
