"""A real SMTP server for the tests (aiosmtpd) on a free 127.0.0.1 port: it keeps every message it
accepts, can refuse recipients or data with a chosen reply, can ask for a login, and can speak
STARTTLS or TLS from the first byte with a self-signed certificate made by `openssl` for the test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email
import email.policy
import shutil
import socket
import ssl
import subprocess
from email.message import EmailMessage
from pathlib import Path
from typing import Iterator

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "reports@example.com", "smtp-pw-9Kq2x"  # unique, so a leak is easy to grep for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


class Handler:
    """Keeps messages; `refuse_rcpt` maps an address to the reply refusing it; `data_reply`
    replaces the 250 after DATA (e.g. '451 4.3.0 try later') and then nothing is kept."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse_rcpt: dict[str, str] = {}
        self.data_reply: str | None = None
        self.logins: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                      or envelope.content))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USER \
            and auth_data.password.decode() == PASSWORD
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)


def self_signed(folder: Path) -> tuple[Path, Path] | None:
    """(cert, key) for 127.0.0.1 and localhost, valid two days; None when openssl is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


@contextlib.contextmanager
def smtp_server(*, login: bool = False, tls: str = "none", cert: tuple[Path, Path] | None = None) -> Iterator[tuple[Handler, int]]:
    """(handler, port) of a running server; `tls`: none, starttls (required before a login) or ssl."""
    handler = Handler()
    port = free_port()
    # aiosmtpd counts only STARTTLS as TLS for AUTH; an ssl listener is TLS from the first byte
    kwargs: dict = {"auth_require_tls": tls == "starttls", "auth_required": login}
    if login:
        kwargs["authenticator"] = handler.authenticate
    if tls != "none":
        assert cert is not None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*cert)
        kwargs["tls_context" if tls == "starttls" else "ssl_context"] = context
        if tls == "starttls":
            kwargs["require_starttls"] = True
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
