"""One request to the IHC API, retried until it yields a valid answer or cannot.

Retried (bounded, exponential backoff with jitter, honouring Retry-After): 429, 5xx, timeouts,
dropped connections, malformed bodies and answers that fail validation. Not retried: 400, 401,
403 and other 4xx, whose server message is passed on. The API key is sent as a header only and
scrubbed from every message this module produces.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import logging
import random
import time
from typing import Callable

import httpx

from martops.attribution.ihc_api.answers import Answer, InvalidAnswer, parse_answer
from martops.attribution.ihc_api.payload import Journey, request_body
from martops.config import IhcApiConfig
from martops.errors import MartopsError

log = logging.getLogger(__name__)


class IhcApiError(MartopsError):
    """The API refused the request or stayed unavailable; answers so far are kept."""


@dataclasses.dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0


class IhcApiClient:
    def __init__(self, cfg: IhcApiConfig, api_key: str, conv_type_id: str, *,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None,
                 on_request: Callable[[dict], None] | None = None):
        self.cfg, self.conv_type_id = cfg, conv_type_id
        self._key = api_key
        self.url = cfg.effective_url()
        self.sleep, self.rng = sleep, rng or random.Random()
        self.on_request = on_request or (lambda event: None)
        self.stats = ClientStats()
        self._last_start = 0.0
        self._http = httpx.Client(timeout=cfg.timeout_seconds, headers={"Content-Type": "application/json"})

    def close(self) -> None:
        self._http.close()

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _pace(self) -> None:
        gap = 1.0 / self.cfg.requests_per_second - (time.monotonic() - self._last_start)
        if gap > 0:
            self.sleep(gap)
        self._last_start = time.monotonic()

    def _backoff(self, attempt: int) -> float:
        base = min(self.cfg.max_backoff_seconds, self.cfg.backoff_seconds * 2 ** (attempt - 1))
        return base / 2 + self.rng.uniform(0, base / 2)  # "equal jitter": never 0, never in lockstep

    @staticmethod
    def _retry_after(resp: httpx.Response) -> float | None:
        value = resp.headers.get("Retry-After")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time()) if when else None

    def _server_message(self, resp: httpx.Response) -> str:
        try:
            body = resp.json()
            msg = body.get("message") or body.get("error") or body if isinstance(body, dict) else body
        except ValueError:
            msg = resp.text
        return self._redact(str(msg)[:300])

    def compute(self, chunk: list[Journey], chunk_no: int) -> Answer:
        body = json.dumps(request_body(chunk, self.cfg))
        headers = {"x-api-key": self._key}
        params = {"conv_type_id": self.conv_type_id}
        last_error = ""
        for attempt in range(1, self.cfg.max_attempts + 1):
            self._pace()
            self.stats.requests += 1
            t0 = time.monotonic()
            wait: float | None = None
            status = None
            try:
                resp = self._http.post(self.url, params=params, content=body, headers=headers)
                status = resp.status_code
                if 400 <= status < 500 and status != 429:  # 400, 401, 403...: retrying cannot help
                    hint = " Check IHC_API_KEY." if status in (401, 403) else ""
                    self.on_request(dict(chunk=chunk_no, attempt=attempt, status=status, seconds=time.monotonic() - t0,
                                         error=self._server_message(resp)))
                    raise IhcApiError(f"IHC API refused chunk {chunk_no} (HTTP {status}): "
                                      f"{self._server_message(resp)}.{hint}")
                if status == 429 or status >= 500:
                    wait = self._retry_after(resp)
                    last_error = f"HTTP {status}: {self._server_message(resp)}"
                else:
                    try:
                        answer = parse_answer(resp.json(), chunk, status)
                    except ValueError:
                        last_error = f"HTTP {status} with a malformed body: {self._redact(resp.text[:80])!r}"
                    except InvalidAnswer as exc:
                        last_error = f"invalid answer: {self._redact(str(exc))}"
                    else:
                        self.on_request(dict(chunk=chunk_no, attempt=attempt, status=status,
                                             seconds=time.monotonic() - t0, error=None))
                        return answer
            except httpx.TimeoutException:
                last_error = f"no answer within {self.cfg.timeout_seconds:g}s"
            except httpx.TransportError as exc:
                last_error = f"connection failed: {self._redact(type(exc).__name__ + ': ' + str(exc))}"
            self.on_request(dict(chunk=chunk_no, attempt=attempt, status=status, seconds=time.monotonic() - t0,
                                 error=last_error))
            if attempt == self.cfg.max_attempts:
                break
            if wait is not None and wait > self.cfg.max_retry_after_seconds:
                raise IhcApiError(f"IHC API asks to wait {wait:.0f}s before chunk {chunk_no} "
                                  f"(over max_retry_after_seconds={self.cfg.max_retry_after_seconds:g}); "
                                  "answers so far are saved: re-run later to send the rest")
            delay = wait if wait is not None else self._backoff(attempt)
            log.info("IHC API chunk %s attempt %s failed (%s); retrying in %.2fs", chunk_no, attempt, last_error, delay)
            self.stats.retries += 1
            self.stats.waited_seconds += delay
            self.sleep(delay)
        raise IhcApiError(f"IHC API chunk {chunk_no} failed after {self.cfg.max_attempts} attempt(s); "
                          f"last error: {last_error}. Answers so far are saved: re-run the same "
                          "command to send only the journeys not yet answered")


