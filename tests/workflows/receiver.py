"""A real webhook receiver for the tests: an http.server on a free 127.0.0.1 port that keeps every
POST (path, headers, JSON body) and answers as `answer(request)` says (default 200 `ok`, Slack's
reply). `effects()` is what a receiver that drops repeated Idempotency-Keys acted on."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator


@dataclasses.dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.answer: Callable[[Request], tuple[int, str]] = lambda r: (200, "ok")
        self.lock = threading.Lock()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def effects(self) -> list[Request]:
        """The requests a receiver deduplicating on Idempotency-Key acts on: the first of each key."""
        seen: dict[str, Request] = {}
        for r in self.requests:
            seen.setdefault(r.key or id(r), r)
        return list(seen.values())

    def fail_times(self, status: int, times: int) -> None:
        """Answer `status` to the next `times` requests, then 200."""
        left = [times]

        def answer(r: Request) -> tuple[int, str]:
            if left[0] > 0:
                left[0] -= 1
                return status, '{"error": "try again"}' if status >= 500 else '{"error": "bad request"}'
            return 200, "ok"

        self.answer = answer


@contextlib.contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw or b"null"))
            with state.lock:
                state.requests.append(request)
            status, body = state.answer(request)
            payload = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if body.startswith("{") else "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
