"""A real HTTP server on 127.0.0.1 speaking Frankfurter's v1 contract, and a project pointed at it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from martops.config import ProjectConfig
from martops.domain import StepContext
from martops.errors import MartopsError

from .server import TestServer


@pytest.fixture
def server():
    with TestServer() as s:
        yield s


def project(server: TestServer, **fx) -> ProjectConfig:
    """Small timeouts and backoff so a retry test takes milliseconds."""
    settings = {"url": server.url, "symbols": ["GBP", "USD"], "timeout_seconds": 2.0, "backoff_seconds": 0.01,
                "max_backoff_seconds": 0.05, "max_attempts": 3, **fx}
    return ProjectConfig.model_validate({"ingest": {"fx": settings}})


def write_project(folder: Path, server: TestServer, **fx) -> Path:
    import yaml

    cfg = project(server, **fx).ingest.fx.model_dump(mode="json", exclude_defaults=False)
    path = folder / "martops.yml"
    path.write_text(yaml.safe_dump({"ingest": {"fx": cfg}}), encoding="utf-8")
    return path


def run_fx(wh, cfg: ProjectConfig, since: dt.date | None = None, until: dt.date | None = None, **params):
    """fx.load through the step graph, as `martops run fx.load` runs it; the first failure raised."""
    from martops import domains

    ctx = StepContext(wh, cfg, since, until, params=params)
    report = domains.run(ctx, ["fx.load"], strict=["fx.load"])
    report.raise_first()
    return report.results[0]


def error_of(fn, *args, **kw) -> str:
    with pytest.raises(MartopsError) as info:
        fn(*args, **kw)
    return str(info.value)
