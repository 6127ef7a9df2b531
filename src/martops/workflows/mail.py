"""An e-mail step's message, sent through martops.yml's `smtp:` server (`martops.delivery.smtp`).

The Message-ID is derived from the idempotency key (`delivery.smtp.message_id_for`), so every
attempt and every resend of one step for one entity carries the same Message-ID: a receiving
system that drops repeated Message-IDs shows the message once. The key itself travels too, as
`X-Martops-Idempotency-Key`, for a receiver that keys on its own header.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from martops.workflows.actions import ActionFailed


def message(to: str, subject: str, body: str, key: str, workflow: str, sender: str) -> tuple[EmailMessage, str]:
    """The message and its Message-ID; ActionFailed (permanent) when `to` is not one address."""
    from martops.delivery import smtp

    try:
        address = smtp.address(to)
    except ValueError as exc:
        raise ActionFailed(f"to: {exc}", temporary=False) from None
    msg = EmailMessage()
    msg["To"] = address
    msg["Subject"] = " ".join(subject.split())
    msg["X-Martops-Workflow"] = workflow
    msg["X-Martops-Idempotency-Key"] = key
    msg.set_content(body)
    return msg, smtp.message_id_for(key, sender)


def send(msg: EmailMessage, message_id: str, settings: Any) -> dict[str, Any]:
    """Send through `settings` (`SmtpSettings`); ActionFailed keeps the server's temporary/permanent verdict."""
    from martops.delivery import smtp
    from martops.errors import DeliveryError

    try:
        sent = smtp.send(msg, settings, message_id=message_id)
    except DeliveryError as exc:
        # a refused recipient is this entity's matter; the server still takes the others' mail
        raise ActionFailed(str(exc), temporary=exc.temporary, blocking=exc.setup, own=bool(exc.refused)) from None
    return {"message_id": sent.message_id, "server": sent.server, "accepted": sent.recipients}
