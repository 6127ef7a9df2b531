"""The Frankfurter v1 contract server (martops.demo.frankfurter) with what a test needs besides:
a log of the requests it answered, and faults to plant (5xx, a slow answer, a changed shape)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import urllib.parse
from typing import Any, Callable

from martops.demo.frankfurter import FrankfurterServer, RatesTable

LAST_DAY = dt.date(2024, 6, 28)
"""The table's last business day: the tests never depend on today's date for their rates."""


@dataclasses.dataclass
class Faults:
    fail_times: int = 0
    """Answer this many requests (the first ones) with HTTP 500."""
    status: int = 500
    sleep_times: int = 0
    """Sleep `sleep_seconds` before answering this many requests (the first ones)."""
    sleep_seconds: float = 0.0
    mutate: Callable[[str, Any], Any] | None = None
    """(path, body) -> the body actually sent (a changed shape)."""


class TestServer(FrankfurterServer):
    def __init__(self, table: RatesTable | None = None):
        super().__init__(("127.0.0.1", 0), table or RatesTable(last_day=LAST_DAY))
        self.faults = Faults()
        self.log: list[tuple[str, dict[str, str], int]] = []

    def respond(self, path: str, query: str) -> tuple[int, Any]:
        params = dict(urllib.parse.parse_qsl(query))
        if self.faults.sleep_times > 0:
            self.faults.sleep_times -= 1
            time.sleep(self.faults.sleep_seconds)
        if self.faults.fail_times > 0:
            self.faults.fail_times -= 1
            self.log.append((path, params, self.faults.status))
            return self.faults.status, {"message": "internal server error"}
        status, body = super().respond(path, query)
        if self.faults.mutate is not None and status == 200:
            body = self.faults.mutate(path, body)
        self.log.append((path, params, status))
        return status, body

    def paths(self) -> list[str]:
        return [p.removeprefix(self.prefix) for p, _, _ in self.log]
