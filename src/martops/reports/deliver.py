"""Delivering one period's report once per destination, recorded in `ops.report_deliveries`.

Used by the step `report.send` and by `martops report send`, so both keep one record: a mailbox
that received the report for a period (`--week 2023-W36`, a step's range) is not mailed it again,
whoever sends, unless a resend is asked for (`resend=True`, `report send --resend`).

- **One message per recipient**, so each mailbox has its own record and its own Message-ID,
  derived from (period, mailbox, attempt) by `delivery.smtp.message_id_for`: the first delivery
  of a week to a@example.com always carries the same id, a deliberate resend a new one
  (`.../resend-1`), so a receiver that drops repeated Message-IDs keeps a resend.
- **The window**: the row is committed as `sending` before the message leaves and `sent` after
  the server accepted it. If the process dies (or the warehouse becomes unreachable) between the
  server's acceptance and that record, the next delivery of the period finds the row still
  `sending`, marks it `in_doubt` and sends the message again with the same Message-ID: the
  recipient may then hold two copies with one Message-ID (mail clients and servers that drop
  duplicates by Message-ID show one). Each crash in that window can add one copy, for the one
  recipient being mailed at that moment (the messages go one after another). Nothing is ever
  recorded `sent` that the server did not accept.
- **Failures**: a recipient the server refuses is recorded `failed` and the others are still
  tried; a failure of the server or the connection (a 5xx to the message, a login refused, no
  answer) stops at once, since every other message would meet it too. Either way the caller gets
  `NotDelivered`, naming who got the mail and who did not, and the command that delivers that
  period again (mailing only those not yet mailed): a scheduled `report.send` moves on to the next
  week, so "the next run" would not.
- **Folders** are written every time (the file is named by period and replaced whole, atomically),
  and each write is recorded `sent`.

The caller holds the warehouse's write lock (the step's run, or the command's read-write
connection), so two deliveries of one period never interleave.
"""

from __future__ import annotations

import dataclasses
import email.utils
from pathlib import Path
from typing import Iterable

from martops.delivery import smtp
from martops.engine import Warehouse
from martops.errors import DeliveryError
from martops.ops import faults
from martops.ops import report_deliveries as R
from martops.reports import chromium, mail, send
from martops.reports.period import Period
from martops.reports.weekly import Built

REPORT = "weekly"
"""`ops.report_deliveries.report` of the weekly report."""


@dataclasses.dataclass(frozen=True)
class Delivered:
    """One destination's outcome: `status` sent or skipped (already delivered)."""

    kind: str
    """mail or folder."""
    destination: str
    """The recipient as given (`Team <b@example.com>`), or the file written."""
    status: str
    message_id: str | None = None
    size: int = 0
    """Bytes: the message as it went over the wire, or the file."""
    note: str = ""
    """Why it was skipped, or that it was sent again after an attempt whose outcome was not recorded."""


class NotDelivered(DeliveryError):
    """Some recipients were not mailed (`failed`); `delivered` holds what was (their records say so)."""

    def __init__(self, message: str, delivered: list[Delivered], *, temporary: bool):
        super().__init__(message, temporary=temporary)
        self.delivered = delivered


def mailbox(recipient: str) -> str:
    """The address a record is kept for: `Team B <B@Example.com>` -> `b@example.com`."""
    return email.utils.parseaddr(recipient)[1].lower()


def unique(recipients: Iterable[str]) -> list[str]:
    """The first of each mailbox, in order (`a@x.com` and `Anna <A@x.com>` are one mailbox)."""
    seen: set[str] = set()
    kept = []
    for r in recipients:
        if (box := mailbox(r)) not in seen:
            seen.add(box)
            kept.append(r)
    return kept


def message_key(period: Period, box: str, attempt: int) -> str:
    """What the Message-ID is derived from: one per (period, mailbox) and deliberate resend."""
    key = f"weekly-report/{period.since.isoformat()}/{period.until.isoformat()}/{box}"
    return key if attempt == 0 else f"{key}/resend-{attempt}"


def pending(wh: Warehouse, period: Period, recipients: list[str], *, resend: bool = False
            ) -> tuple[list[tuple[str, int]], list[Delivered]]:
    """(recipient, attempt) for each recipient to mail now, and a skipped `Delivered` for each that
    already received the report for `period` (none skipped with `resend`). `attempt` counts the
    mailbox's earlier `sent` deliveries of the period: 0 for the first."""
    todo, skipped = [], []
    for r in unique(recipients):
        done = R.history(wh, REPORT, period.since, period.until, R.MAIL, mailbox(r), R.SENT)
        if done and not resend:
            last = done[-1]
            skipped.append(Delivered(R.MAIL, r, "skipped", last["message_id"], int(last["bytes"] or 0),
                                     f"already received it on {last['finished_at']:%Y-%m-%d %H:%M} UTC "
                                     f"(message id {last['message_id']})"))
        else:
            todo.append((r, len(done)))
    return todo, skipped


def to_folder(wh: Warehouse, built: Built, folder: Path, pdf: bool, timeout: float, pdf_data: bytes | None, *,
              run_id: str, via: str) -> list[Delivered]:
    """The report (and its PDF) in `folder`, named by period (`send.to_folder`), each file recorded."""
    out = []
    p = built.period
    for f in send.to_folder(built, folder, pdf, timeout, pdf_data):
        where = str(Path(f.path).resolve())
        delivery_id, _ = R.begin(wh, report=REPORT, since=p.since, until=p.until, period=p.text, kind=R.FOLDER,
                                 destination=where, attempt=0, message_id=None, run_id=run_id, via=via, status=R.SENT)
        R.finish(wh, delivery_id, R.SENT, size=len(f.data))
        out.append(Delivered(R.FOLDER, str(f.path), "sent", size=len(f.data)))
    return out


def pictures(built: Built, settings: smtp.SmtpSettings, timeout: float) -> dict[str, mail.Image]:
    """The charts as PNGs for the mail (`mail.images`), drawn once for every recipient."""
    domain = email.utils.parseaddr(settings.sender)[1].rpartition("@")[2] or "martops.invalid"
    return mail.images(built, lambda figures: chromium.chart_pngs(
        figures, width=mail.IMAGE_WIDTH, height=mail.IMAGE_HEIGHT, timeout=timeout), domain)


def by_mail(wh: Warehouse, built: Built, settings: smtp.SmtpSettings, todo: list[tuple[str, int]],
            pdf: bytes | None, timeout: float, *, run_id: str, via: str) -> list[Delivered]:
    """Mail each (recipient, attempt) of `pending`, one message each, recorded as the module
    docstring says; NotDelivered when any was not mailed."""
    if not todo:
        return []
    images = pictures(built, settings, timeout)
    p = built.period
    done: list[Delivered] = []
    failed: list[tuple[str, DeliveryError]] = []
    for i, (recipient, attempt) in enumerate(todo):
        box = mailbox(recipient)
        message_id = smtp.message_id_for(message_key(p, box, attempt), settings.sender)
        delivery_id, doubtful = R.begin(wh, report=REPORT, since=p.since, until=p.until, period=p.text, kind=R.MAIL,
                                        destination=box, attempt=attempt, message_id=message_id, run_id=run_id, via=via)
        msg = mail.message(built, images, [recipient], settings.sender, pdf)
        try:
            sent = smtp.send(msg, settings, message_id=message_id)
        except DeliveryError as exc:
            R.finish(wh, delivery_id, R.FAILED, error=str(exc))
            failed.append((recipient, exc))
            if not exc.refused:  # the server or the connection, not this mailbox: the rest would fail alike
                left = [r for r, _ in todo[i + 1:]]
                raise _not_delivered(p, done, failed, left) from None
            continue
        faults.pause_point("report.send.after_smtp")  # the window: a test kills the process here
        size = len(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))  # as it went over the wire
        R.finish(wh, delivery_id, R.SENT, size=size)
        again = (f"sent again with the same message id: an earlier attempt ({doubtful[0]['started_at']:%Y-%m-%d %H:%M} "
                 "UTC) ended before its outcome was recorded, so it may have arrived") if doubtful else ""
        done.append(Delivered(R.MAIL, recipient, "sent", sent.message_id, size, again))
    if failed:
        raise _not_delivered(p, done, failed, [])
    return done


def _not_delivered(period: Period, done: list[Delivered], failed: list[tuple[str, DeliveryError]],
                   left: list[str]) -> NotDelivered:
    first = failed[0][1]
    said = [str(first)] + [f"{r}: {e}" for r, e in failed[1:]]
    if done:
        said.append(f"mailed: {', '.join(d.destination for d in done)}")
    if left:
        said.append(f"not tried: {', '.join(left)}")
    again = f"--week {period.label}" if period.label else f"--since {period.since} --until {period.until}"
    said.append(f"no failed recipient is recorded as delivered; `martops report send {again}` (with the same "
                "recipients) mails only those not mailed yet")
    return NotDelivered("; ".join(said), done, temporary=all(e.temporary for _, e in failed))
