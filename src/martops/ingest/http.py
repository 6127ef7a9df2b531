"""GET a JSON document from an API: bounded retries with backoff, one-line errors, no secrets.

Retried (at most `max_attempts` attempts, waits doubling from `backoff_seconds` with jitter, capped
at `max_backoff_seconds`): HTTP 5xx and 429, timeouts and dropped connections, the transient
failures of a public API. Not retried: any other 4xx, whose server message is passed on in one
line, because asking again cannot change the answer. URLs in messages and logs are redacted: the
user-info of the URL and the values of query parameters that look like credentials become `***`.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
import time
import urllib.parse
from typing import Any, Callable

import httpx

from martops.errors import SourceError

log = logging.getLogger(__name__)

_SECRET_PARAM = re.compile(r"(?i)key|token|secret|pass|auth|sig")


class ApiError(SourceError):
    """The API refused a request, stayed unavailable, or answered with something that is not JSON."""

    def __init__(self, message: str, status: int | None = None, body: Any = None):
        super().__init__(message)
        self.status, self.body = status, body


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    timeout_seconds: float = 30.0
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0


@dataclasses.dataclass
class Request:
    """One attempt, as the run log of a pipeline counts them."""

    url: str
    status: int | None
    seconds: float
    error: str | None


def redact(url: str) -> str:
    """`url` without user-info and with credential-like query values replaced (for messages)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    shown = "&".join(f"{k}={'***' if _SECRET_PARAM.search(k) else v}" for k, v in query)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, shown, ""))


class JsonClient:
    """GETs with retries over one connection pool; `requests` records every attempt."""

    def __init__(self, policy: RetryPolicy, *, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, name: str = "the API"):
        self.policy, self.sleep, self.rng, self.name = policy, sleep, rng or random.Random(), name
        self.requests: list[Request] = []
        self.retries = 0
        self._http = httpx.Client(timeout=policy.timeout_seconds, follow_redirects=True,
                                  headers={"Accept": "application/json", "User-Agent": "martops"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "JsonClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _backoff(self, attempt: int) -> float:
        base = min(self.policy.max_backoff_seconds, self.policy.backoff_seconds * 2 ** (attempt - 1))
        return base / 2 + self.rng.uniform(0, base / 2)  # "equal jitter": never 0, never in lockstep

    @staticmethod
    def _message(resp: httpx.Response) -> tuple[str, Any]:
        try:
            body = resp.json()
        except ValueError:
            return " ".join(resp.text.split())[:200] or resp.reason_phrase, None
        msg = body.get("message") or body.get("error") if isinstance(body, dict) else None
        return str(msg if msg is not None else body)[:200], body

    def get(self, url: str, params: dict[str, str] | None = None) -> Any:
        """The decoded JSON body of a 2xx answer; ApiError (one line, URL redacted) otherwise."""
        full = str(httpx.URL(url, params=params or {}))
        shown = redact(full)
        last = ""
        for attempt in range(1, self.policy.max_attempts + 1):
            t0 = time.monotonic()
            status = None
            try:
                resp = self._http.get(full)
                status = resp.status_code
                if 200 <= status < 300:
                    try:
                        body = resp.json()
                    except ValueError:
                        raise ApiError(f"{self.name} answered GET {shown} (HTTP {status}) with a body that is not "
                                       f"JSON: {' '.join(resp.text.split())[:80]!r}", status) from None
                    self.requests.append(Request(shown, status, time.monotonic() - t0, None))
                    return body
                message, body = self._message(resp)
                if 400 <= status < 500 and status != 429:
                    self.requests.append(Request(shown, status, time.monotonic() - t0, message))
                    raise ApiError(f"{self.name} refused GET {shown} (HTTP {status}): {message}", status, body)
                last = f"HTTP {status}: {message}"
            except httpx.TimeoutException:
                last = f"no answer within {self.policy.timeout_seconds:g}s"
            except httpx.TransportError as exc:
                last = f"connection failed ({type(exc).__name__}: {redact(str(exc)) if '://' in str(exc) else exc})"
            self.requests.append(Request(shown, status, time.monotonic() - t0, last))
            if attempt == self.policy.max_attempts:
                break
            delay = self._backoff(attempt)
            log.info("GET %s attempt %s failed (%s); retrying in %.2fs", shown, attempt, last, delay)
            self.retries += 1
            self.sleep(delay)
        raise ApiError(f"{self.name} failed GET {shown} after {self.policy.max_attempts} attempt(s); last error: {last}")
