"""The report mail's headers as they go over the wire, read back raw (not through Python's parser,
which decodes what a mail client would not): every inline chart's Content-ID must be the bare
`<id>` its `cid:` reference names, however long the sender's domain makes it."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import struct
import zlib

import plotly.graph_objects as go

from martops.delivery import smtp
from martops.reports import mail
from martops.reports.blocks import Chart, Section
from martops.reports.health import Health
from martops.reports.period import parse_week
from martops.reports.weekly import Built
from tests.smtp_server import smtp_server

LONG_DOMAIN = "marketing-reports.emea.subsidiary.example-corporation.co.uk"


def _png(width: int, height: int) -> bytes:
    """A real (white) PNG of that size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff" * (3 * width) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _built() -> Built:
    period = parse_week("2023-W36")
    charts = [Chart(key, go.Figure(layout={"title": {"text": f"{key}<br><sup>{period.text}</sup>"}}))
              for key in ("attribution.cost_revenue", "campaigns.spend_and_acquisitions_by_day")]
    section = Section("attribution", "Attribution", period.text, charts=charts)
    health = Health([], [], dt.datetime(2023, 9, 11, 7, 0))
    return Built("<!DOCTYPE html><html><body>report</body></html>", period, [section], health, [])


def _unfolded(value: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", value).strip()


def test_every_content_id_goes_out_unencoded_and_matches_its_cid_reference():
    built = _built()
    sender = f"Reports <reports@{LONG_DOMAIN}>"
    pictures = mail.images(built, lambda figures: {k: _png(4, 3) for k in figures}, LONG_DOMAIN)
    assert all(len(p.cid) > 78 for p in pictures.values())  # longer than a header line: the case that broke
    msg = mail.message(built, pictures, ["a@example.com"], sender)
    settings = smtp.SmtpSettings.model_validate({"host": "127.0.0.1", "tls": "none", "from": sender})
    with smtp_server() as (server, port):
        settings = settings.model_copy(update={"port": port})
        smtp.send(msg, settings, message_id=smtp.message_id_for("weekly-report/test/a@example.com", sender))
    (got,) = server.received
    raw = email.message_from_bytes(got.data, policy=email.policy.compat32)  # no decoding of encoded-words
    html = next(p for p in raw.walk() if p.get_content_type() == "text/html" and not p.get_filename())
    referenced = set(re.findall(r'src="cid:([^"]+)"', html.get_payload(decode=True).decode("utf-8")))
    ids = {_unfolded(p["Content-ID"]) for p in raw.walk() if p.get_content_type() == "image/png"}
    assert ids == {f"<{p.cid}>" for p in pictures.values()}, ids
    assert not any("=?" in i for i in ids)
    assert referenced == {p.cid for p in pictures.values()}
    assert all(len(line) <= 998 for line in got.data.split(b"\r\n"))  # RFC 5322's hard limit still holds
