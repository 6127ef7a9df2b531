"""A real HTTP server on 127.0.0.1 that speaks the IHC attribution API's contract.

It answers like the API (IHC-style phases, values rounded to 4 decimals), records every request
it sees, and plays scripted faults, one per request, in order: "429", "429-retry-after", "500",
"drop", "slow", "206", "malformed", "missing-session" (one session of the first journey with two
or more is left out), "sum-2" (the first journey's credits doubled), "400", "ok".
"""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclasses.dataclass
class Seen:
    at: float
    conv_type_id: str | None
    key: str | None
    journeys: dict[str, list[str]]  # conv_id -> session ids in the request
    sessions: int
    fault: str
    body: dict | None


def phases(rows: list[dict]) -> list[dict]:
    """Initializer to the first session, holder over holder-engaged, closer over closer-engaged."""
    n = len(rows)
    h = [r["holder_engagement"] for r in rows]
    c = [r["closer_engagement"] * (i + 1) for i, r in enumerate(rows)]
    out = []
    for i in range(n):
        ini = 1.0 if i == 0 else 0.0
        hol = h[i] / sum(h) if sum(h) else 1 / n
        clo = c[i] / sum(c) if sum(c) else 1 / n
        out.append({"initializer": round(ini, 4), "holder": round(hol, 4), "closer": round(clo, 4),
                    "ihc": round(0.345 * ini + 0.38 * hol + 0.275 * clo, 4)})
    return out


class IhcApiServer:
    def __init__(self, key: str = "test-key-7f3a9c", slow_seconds: float = 1.0):
        self.key, self.slow_seconds = key, slow_seconds
        self.faults: list[str] = []
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status, payload, headers=None):
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                query = parse_qs(urlparse(self.path).query)
                try:
                    body = json.loads(raw)
                    rows = body["customer_journeys"]
                except (ValueError, KeyError, TypeError):
                    return self._send(400, {"message": "Invalid input: body is not a customer_journeys object"})
                journeys: dict[str, list[dict]] = {}
                for r in rows:
                    journeys.setdefault(r["conversion_id"], []).append(r)
                with server.lock:
                    fault = server.faults.pop(0) if server.faults else "ok"
                    server.seen.append(Seen(time.monotonic(), (query.get("conv_type_id") or [None])[0],
                                            self.headers.get("x-api-key"),
                                            {c: [r["session_id"] for r in v] for c, v in journeys.items()},
                                            len(rows), fault, body))
                if self.headers.get("x-api-key") != server.key:
                    return self._send(401, {"message": "Invalid API key"})
                if fault == "400":
                    return self._send(400, {"message": "Invalid input: timestamp format"})
                if fault == "429":
                    return self._send(429, {"message": "Too many requests"})
                if fault == "429-retry-after":
                    return self._send(429, {"message": "Too many requests"}, {"Retry-After": "1"})
                if fault == "429-retry-after-long":
                    return self._send(429, {"message": "Quota exhausted"}, {"Retry-After": "3600"})
                if fault == "500":
                    return self._send(500, {"message": "Internal server error"})
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                if fault == "slow":
                    time.sleep(server.slow_seconds)
                if fault == "malformed":
                    return self._send(200, b'{"statusCode": 200, "value": [{"conversion_id": ')
                value, failed = [], []
                for i, (conv, jrows) in enumerate(sorted(journeys.items())):
                    if fault == "206" and i == 0:
                        failed.append({"conversion_id": conv, "error": "journey could not be processed"})
                        continue
                    for r, p in zip(jrows, phases(jrows)):
                        value.append({"conversion_id": conv, "session_id": r["session_id"], **p})
                if fault == "missing-session":
                    conv = next(c for c, v in sorted(journeys.items()) if len(v) > 1)
                    value.remove(next(v for v in value if v["conversion_id"] == conv))
                if fault == "sum-2":
                    first = min(journeys)
                    value = [dict(v, ihc=v["ihc"] * 2) if v["conversion_id"] == first else v for v in value]
                status = 206 if failed else 200
                return self._send(status, {"statusCode": status, "value": value, "partialFailureErrors": failed})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/compute_ihc"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "IhcApiServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answered_requests(self) -> list[Seen]:
        return [s for s in self.seen if s.key == self.key]
