"""Sending an e-mail through the SMTP server of martops.yml's `smtp:` block.

    smtp:
      host: smtp.example.com
      port: 587                      # default by tls: 25 (none), 587 (starttls), 465 (ssl)
      tls: starttls                  # none | starttls | ssl
      user: reports@example.com
      password_env: MARTOPS_SMTP_PASSWORD   # the NAME of the variable holding the password
      from: "Marketing reports <reports@example.com>"
      timeout_seconds: 30
      ca_file: /etc/ssl/private-ca.pem      # optional: trust this CA instead of the system's

The password is read from the environment when a message is sent, never from the file (a
`password:` key is refused), and never appears in a message or log: anything a server says back
is scrubbed of it. A password over an unencrypted connection (`tls: none`) is refused unless the
server is on this machine (a local relay).

`send` raises `DeliveryError` with `temporary` set for what may succeed later unchanged (a 4xx
reply, a refused or timed-out connection, a dropped session) and unset for what will not (a 5xx
reply, a certificate that is not trusted, a server without STARTTLS), so a caller can decide to
retry. It does not retry itself: a workflow retrying a temporary failure gives the same
`message_id` again, and the receiving side can tell the copies apart from new mail.
"""

from __future__ import annotations

import dataclasses
import email.utils
import hashlib
import logging
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from martops.errors import ConfigError, DeliveryError

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ADDR = re.compile(r"[^@\s<>,;:\"()\[\]]+@[^@\s<>,;:\"()\[\]]+\.[^@\s<>,;:\"()\[\].]+")
_HOST = re.compile(r"[A-Za-z0-9._:-]+")


def address(text: str) -> str:
    """`text` as one mail address (`a@example.com` or `Name <a@example.com>`), trimmed; ValueError
    saying what is wrong (no @, two addresses in one, a space in it)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("expected a mail address such as someone@example.com, got nothing")
    text = text.strip()
    name, addr = email.utils.parseaddr(text)
    if not _ADDR.fullmatch(addr or "") or text.count("@") != 1:
        raise ValueError(f"{text!r} is not one mail address such as someone@example.com "
                         "(one address per entry; quote a display name with a comma: \"Doe, John\" <john@example.com>)")
    return text if name else addr


def message_id_for(key: str, sender: str) -> str:
    """A Message-ID that is the same for the same `key` (e.g. `weekly-report/2023-W36/a@x.com`),
    at the sender's domain: a retried or repeated send of one logical message carries one id."""
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "martops.invalid"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


class SmtpSettings(BaseModel):
    """martops.yml `smtp:`; see the module docstring. Unknown keys are errors naming the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    """The server's name or IP address (no scheme, no port)."""
    port: Annotated[int, Strict()] | None = Field(None, ge=1, le=65535)
    """None: 25, 587 or 465 by `tls`."""
    tls: Literal["none", "starttls", "ssl"] = "starttls"
    """starttls: connect plain, then upgrade (port 587); ssl: TLS from the first byte (port 465);
    none: no encryption (a relay on this machine or a closed network, without a password)."""
    user: str | None = None
    """The login, when the server asks for one (with `password_env`)."""
    password_env: str | None = None
    """The NAME of the environment variable holding the password, e.g. MARTOPS_SMTP_PASSWORD."""
    sender: str = Field(alias="from")
    """The From address, e.g. `Marketing reports <reports@example.com>`."""
    timeout_seconds: Annotated[float, Strict()] = Field(30.0, gt=0, le=600)
    """Seconds each network operation may take before the send fails as temporary."""
    ca_file: str | None = None
    """A PEM file of CA certificates to trust for this server (a private CA or a self-signed relay)
    instead of the system's; the host name is verified either way."""

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, data: object) -> object:
        if isinstance(data, dict) and "password" in data:
            raise ValueError("password: the password never goes in the project file; export it in an "
                             "environment variable and name that variable in password_env")
        return data

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        v = v.strip()
        if not _HOST.fullmatch(v) or "://" in v:
            raise ValueError("must be a server name or IP address such as smtp.example.com "
                             "(no scheme; the port goes in port)")
        return v

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not _ENV_NAME.fullmatch(v):  # the value is not echoed: it may be the password
            raise ValueError("must be the NAME of an environment variable (letters, digits, _), e.g. "
                             "MARTOPS_SMTP_PASSWORD, not the password itself")
        return v

    @field_validator("sender")
    @classmethod
    def _sender(cls, v: str) -> str:
        return address(v)

    @model_validator(mode="after")
    def _login(self) -> "SmtpSettings":
        if (self.user is None) != (self.password_env is None):
            raise ValueError("user and password_env go together: give both to log in, or neither")
        if self.user is not None and self.tls == "none" and self.host.lower() not in LOOPBACK:
            raise ValueError(f"tls: none would send the password unencrypted to {self.host}; use tls: "
                             "starttls or ssl (none with a login is allowed only for a server on this machine)")
        return self

    @property
    def server(self) -> str:
        return f"{self.host}:{self.effective_port}"

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.tls]

    def password(self) -> str | None:
        """The password from the environment (None when no login is configured); ConfigError naming
        the variable when it is unset or empty. Call it early to fail before any work is done."""
        import os

        if self.password_env is None:
            return None
        value = os.environ.get(self.password_env)
        if not value:
            raise ConfigError(f"smtp.password_env: the environment variable {self.password_env} is not set; "
                              f"export {self.password_env} with the SMTP password of {self.user}")
        return value


@dataclasses.dataclass(frozen=True)
class Sent:
    message_id: str
    recipients: list[str]
    """The envelope recipients the server accepted."""
    server: str


def send(message: EmailMessage, settings: SmtpSettings, *, message_id: str,
         recipients: Sequence[str] | None = None) -> Sent:
    """Send `message` with its Message-ID set to `message_id` (`<id@domain>`; the brackets are added
    when missing), From set from the settings when the message has none, and a Date.

    Recipients: `recipients` when given (the envelope, e.g. for Bcc), else the message's To, Cc and
    Bcc (Bcc is not transmitted). Raises ConfigError for a message without recipients, a malformed
    id or an unset password variable (before connecting), DeliveryError (`.temporary`, `.code`,
    `.refused`) when the server or the network refuses; when some recipients were accepted and
    others refused, the message went to the accepted ones and the error names both.
    """
    password = settings.password()
    mid = message_id.strip()
    if not mid.startswith("<"):
        mid = f"<{mid}>"
    if not re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", mid):
        raise ConfigError(f"message id {message_id!r}: expected <unique-part@domain>")
    del message["Message-ID"]
    message["Message-ID"] = mid
    if message["From"] is None:
        message["From"] = settings.sender
    if message["Date"] is None:
        message["Date"] = email.utils.formatdate(localtime=True)
    to = list(recipients) if recipients is not None else [
        a for _, a in email.utils.getaddresses(message.get_all("To", []) + message.get_all("Cc", [])
                                               + message.get_all("Bcc", [])) if a]
    if not to:
        raise ConfigError("the message has no recipients (To, Cc or Bcc)")
    try:
        refused = _transmit(message, settings, password, to)
    except DeliveryError as exc:
        raise _scrubbed(exc, password) from None
    accepted = [a for a in to if a not in refused]
    if refused:
        raise _scrubbed(_refusal(settings, refused, accepted), password)
    log.info("mailed %s to %d recipient(s) via %s", mid, len(accepted), settings.server)
    return Sent(mid, accepted, settings.server)


def _transmit(message: EmailMessage, settings: SmtpSettings, password: str | None, to: list[str]) -> dict:
    """The SMTP session; every failure becomes a DeliveryError saying where and whether to retry."""
    import smtplib
    import socket
    import ssl

    where = f"SMTP {settings.server}"
    try:
        context = ssl.create_default_context(cafile=_ca_file(settings))
        if settings.tls == "ssl":
            client = smtplib.SMTP_SSL(settings.host, settings.effective_port, timeout=settings.timeout_seconds,
                                      context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.effective_port, timeout=settings.timeout_seconds)
        with client:
            if settings.tls == "starttls":
                client.starttls(context=context)
            if settings.user is not None:
                client.login(settings.user, password or "")
            return client.send_message(message, to_addrs=to)
    except smtplib.SMTPRecipientsRefused as exc:
        raise _refusal(settings, exc.recipients, []) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"{where}: login as {settings.user} refused ({_reply(exc)}); check smtp.user and "
                            f"the password in {settings.password_env}", temporary=_temporary(exc.smtp_code),
                            code=exc.smtp_code, setup=True) from None
    except smtplib.SMTPSenderRefused as exc:
        kind = "temporary failure, try again later" if _temporary(exc.smtp_code) else "refused"
        raise DeliveryError(f"{where}: the sender {exc.sender} {kind} ({_reply(exc)}); check smtp.from",
                            temporary=_temporary(exc.smtp_code), code=exc.smtp_code, setup=True) from None
    except smtplib.SMTPResponseException as exc:
        kind = "temporary failure, try again later" if _temporary(exc.smtp_code) else "refused"
        raise DeliveryError(f"{where}: {kind} ({_reply(exc)})", temporary=_temporary(exc.smtp_code),
                            code=exc.smtp_code) from None
    except smtplib.SMTPNotSupportedError as exc:
        hint = ("set smtp.tls: ssl (port 465) or none" if "STARTTLS" in str(exc)
                else "remove smtp.user and smtp.password_env, or use the server's submission port")
        raise DeliveryError(f"{where}: {exc} ({hint})", temporary=False, setup=True) from None
    except smtplib.SMTPServerDisconnected as exc:
        if "timed out" in str(exc):  # smtplib's reading of a reply turns a timeout into a disconnect
            raise _timeout(settings) from None
        raise DeliveryError(f"{where}: the server closed the connection ({exc or 'no reason given'}); "
                            "try again later", temporary=True) from None
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(f"{where}: the server's certificate is not trusted ({exc.verify_message}); "
                            "set smtp.ca_file to the CA that signed it, or fix smtp.host to the name on it",
                            temporary=False, setup=True) from None
    except ssl.SSLError as exc:
        raise DeliveryError(f"{where}: TLS failed ({exc.reason or exc}); check smtp.tls and smtp.port "
                            "(465 is usually tls: ssl, 587 tls: starttls)", temporary=False, setup=True) from None
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"{where}: {exc}", temporary=False, setup=True) from None
    except socket.gaierror as exc:
        temporary = exc.errno == socket.EAI_AGAIN
        raise DeliveryError(f"{where}: the host name does not resolve ({exc.strerror})"
                            + ("; try again later" if temporary else "; check smtp.host"),
                            temporary=temporary, setup=True) from None
    except ConnectionRefusedError:
        raise DeliveryError(f"{where}: connection refused (no server listening there); check smtp.host and "
                            "smtp.port, or try again when the server is up", temporary=True) from None
    except TimeoutError:
        raise _timeout(settings) from None
    except OSError as exc:
        raise DeliveryError(f"{where}: {exc.strerror or exc}; try again later", temporary=True) from None


def _timeout(settings: SmtpSettings) -> DeliveryError:
    return DeliveryError(f"SMTP {settings.server}: no answer within {settings.timeout_seconds:g} s "
                         "(smtp.timeout_seconds); try again later", temporary=True)


def _ca_file(settings: SmtpSettings) -> str | None:
    if settings.ca_file is None:
        return None
    path = Path(settings.ca_file).expanduser()
    if not path.is_file():
        raise ConfigError(f"smtp.ca_file: {path} does not exist or is not a file (a PEM file of CA certificates)")
    return str(path)


def _temporary(code: int | None) -> bool:
    return code is not None and 400 <= code < 500


def _reply(exc) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {' '.join(text.split())}"


def _refusal(settings: SmtpSettings, refused: dict, accepted: list[str]) -> DeliveryError:
    """Recipients refused: temporary only when every refusal is a 4xx."""
    codes = {code for code, _ in refused.values()}
    temporary = all(_temporary(c) for c in codes)
    said = "; ".join(f"{rcpt}: {code} {' '.join((msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else str(msg)).split())}"
                     for rcpt, (code, msg) in refused.items())
    head = f"SMTP {settings.server}: " + (f"sent to {', '.join(accepted)}, but " if accepted else "")
    return DeliveryError(f"{head}{len(refused)} recipient(s) refused ({said})"
                         + ("; try again later" if temporary else ""),
                         temporary=temporary, code=max(codes) if codes else None, refused=dict(refused),
                         accepted=accepted)


def _scrubbed(exc: DeliveryError, password: str | None) -> DeliveryError:
    """`exc` with the password masked wherever a server echoed it."""
    text = str(exc)
    if not password or password not in text:
        return exc
    return DeliveryError(text.replace(password, "***"), temporary=exc.temporary, code=exc.code,
                         refused=exc.refused, accepted=exc.accepted, setup=exc.setup)
