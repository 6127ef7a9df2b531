"""POST a JSON document to a webhook (Zapier catch hook, Slack incoming webhook, any HTTP API).

The idempotency key travels as the `Idempotency-Key` header (the IETF httpapi draft's and
Stripe's name), so a receiver can drop a request it has already acted on: the one martops sends
again when it died after sending but before recording the answer. Redirects are not followed (a
POST redirected is an endpoint that moved: say so). Secrets (a URL from `url_env`, the values of
`secret_headers`) never appear in a message: the URL is shown as its scheme and host only.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

import httpx

from martops import __version__
from martops.config_workflows import EXAMPLE_URL, Webhook, not_http_url
from martops.errors import ConfigError
from martops.workflows.actions import ActionFailed


def _env(variable: str, what: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"{what}: the environment variable {variable} is not set; export it first")
    return value


def url(name: str, hook: Webhook) -> str:
    """The endpoint's URL (from the environment for `url_env`); ConfigError when the variable is unset."""
    if hook.url is not None:
        return hook.url
    value = _env(hook.url_env or "", f"webhooks.{name}.url_env").strip()
    problem = not_http_url(value)
    if problem:
        raise ConfigError(f"webhooks.{name}.url_env: {hook.url_env} does not hold an http(s) URL such as "
                          f"{EXAMPLE_URL} ({problem})")
    return value


def headers(name: str, hook: Webhook) -> dict[str, str]:
    """The headers to send, secrets read from the environment (ConfigError naming an unset variable)."""
    out = dict(hook.headers)
    for header, variable in hook.secret_headers.items():
        out[header] = _env(variable, f"webhooks.{name}.secret_headers.{header}")
    return out


def shown(name: str, hook: Webhook, address: str | None = None) -> str:
    """How messages name the endpoint: its URL as written, or only scheme and host for a URL from
    the environment (Slack's and Zapier's URLs carry their secret in the path)."""
    if hook.url is not None:
        parts = urllib.parse.urlsplit(hook.url)
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))
    if address:
        parts = urllib.parse.urlsplit(address)
        return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/... (webhooks.{name}.url_env)"
    return f"${hook.url_env} (webhooks.{name}.url_env)"


ENDPOINT_REFUSALS = (401, 403, 404, 405, 410)
"""Answers about the endpoint, not the document (credentials refused, a URL that is not or no longer
there; the URL is the same for every entity): every entity would get the same, so none is parked."""


def post(client: httpx.Client, name: str, hook: Webhook, body: Any, key: str) -> dict[str, Any]:
    """POST `body` as JSON with `Idempotency-Key: key`; {http_status, response} of a 2xx answer,
    else ActionFailed (temporary for 408, 425, 429, 5xx, timeouts and connection failures; blocking
    for a redirect and ENDPOINT_REFUSALS)."""
    address, sent = url(name, hook), headers(name, hook)
    where = f"POST {shown(name, hook, address)}"
    secrets = [address, *(sent[h] for h in hook.secret_headers)] if hook.url_env else list(
        sent[h] for h in hook.secret_headers)
    try:
        resp = client.post(address, json=body, timeout=hook.timeout_seconds, follow_redirects=False,
                           headers={**sent, "Idempotency-Key": key, "User-Agent": f"martops/{__version__}"})
    except httpx.TimeoutException:
        raise ActionFailed(f"{where}: no answer within {hook.timeout_seconds:g} s "
                           f"(webhooks.{name}.timeout_seconds)", temporary=True) from None
    except httpx.TransportError as exc:
        raise ActionFailed(_scrub(f"{where}: connection failed ({type(exc).__name__}: {exc})", secrets),
                           temporary=True) from None
    excerpt = _scrub(" ".join(resp.text.split())[:200], secrets)
    status = resp.status_code
    if 200 <= status < 300:
        return {"http_status": status, "response": excerpt}
    if 300 <= status < 400:
        raise ActionFailed(f"{where}: answered HTTP {status}, a redirect: the endpoint moved; put its new URL in "
                           f"webhooks.{name}", temporary=False, blocking=True)
    temporary = status in (408, 425, 429) or status >= 500
    said = f"{where}: answered HTTP {status} {resp.reason_phrase}" + (f": {excerpt}" if excerpt else "")
    if status in ENDPOINT_REFUSALS:
        raise ActionFailed(f"{said}; check webhooks.{name} (its URL and secret_headers)", temporary=False,
                           blocking=True)
    raise ActionFailed(said, temporary=temporary)


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
