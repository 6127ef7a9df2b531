"""The weekly report as an e-mail that survives mail clients.

Mail clients run no script and many drop <style> blocks, so the body is not the report page: it
is a plain HTML layout (tables with inline styles) holding each section's headline figures and
tables (the first `MAX_ROWS` rows of each), and each chart as a static PNG sent inline in the
same message (`cid:` references, multipart/related), with a plain-text alternative for clients
that show no HTML. The full self-contained report travels as an attachment (and the PDF, when
asked for). The message's structure:

    multipart/mixed
      multipart/alternative
        text/plain                 the figures as text
        multipart/related
          text/html                the figures as tables, <img src="cid:...">
          image/png ...            one per chart, inline
      text/html attachment         the report page
      application/pdf attachment   (with --pdf)
"""

from __future__ import annotations

import dataclasses
import email.utils
import re
from email import policy as email_policy
from email.headerregistry import HeaderRegistry, MessageIDHeader
from email.message import EmailMessage
from typing import Callable

from martops.reports.blocks import Section, fmt
from martops.reports.render import environment
from martops.reports.weekly import TITLE, Built

MAX_ROWS = 15
IMAGE_WIDTH, IMAGE_HEIGHT = 680, 360
"""CSS px of a chart in the mail (the PNGs are drawn at twice that, sharp on dense screens)."""


def _policy() -> email_policy.EmailPolicy:
    """The default policy, but a Content-ID is a msg-id, as Message-ID is: folded, never RFC 2047
    encoded. Python's default treats it as free text, so an id longer than a line (a long sender
    domain) became `=?utf-8?q?=3C...?=`, which no mail client decodes: its `cid:` image broke."""
    registry = HeaderRegistry()
    registry.map_to_type("content-id", MessageIDHeader)
    return email_policy.default.clone(header_factory=registry)


POLICY = _policy()


@dataclasses.dataclass(frozen=True)
class Image:
    cid: str
    """Content-ID without brackets, as `cid:` references it."""
    png: bytes
    alt: str
    width: int = IMAGE_WIDTH
    height: int = IMAGE_HEIGHT


def file_stem(built: Built) -> str:
    """`weekly-report-2023-W36`, or `weekly-report-2023-09-01_2023-09-07` for a range."""
    p = built.period
    return f"weekly-report-{p.label or f'{p.since.isoformat()}_{p.until.isoformat()}'}"


def subject(built: Built) -> str:
    said = f"{TITLE} {built.period.text}"
    return said + (f" (published despite {len(built.banner)} failed check(s))" if built.banner else "")


def _alt(figure) -> str:
    """The chart's title without plotly's markup (`Title<br><sup>period</sup>` -> `Title, period`)."""
    text = str(getattr(getattr(figure.layout, "title", None), "text", "") or "chart")
    return re.sub(r"<[^>]+>", "", text.replace("<br>", ", ")).strip()


def images(built: Built, draw: Callable[[dict], dict[str, bytes]], domain: str) -> dict[str, Image]:
    """chart key -> its PNG from `draw` ({key: figure} -> {key: png}, `chromium.chart_pngs`)."""
    figures = {c.key: c.figure for s in built.sections for c in s.charts}
    pngs = draw(figures)
    return {k: Image(email.utils.make_msgid(idstring=k.replace(".", "-"), domain=domain)[1:-1], pngs[k],
                     _alt(figures[k])) for k in figures}


def html_body(built: Built, pictures: dict[str, Image], attachments: list[str]) -> str:
    return environment().get_template("mail.html.j2").render(
        title=TITLE, period=built.period, previous=built.period.previous(), sections=built.sections,
        banner=built.banner, images=pictures, attachments=attachments, max_rows=MAX_ROWS,
        generated=built.health.checked_at.strftime("%Y-%m-%d %H:%M"))


def _text_table(columns, rows) -> list[str]:
    cells = [[c.label for c in columns]] + [[fmt(r[c.name], c.unit) for c in columns] for r in rows[:MAX_ROWS]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    right = [c.unit != "text" and i > 0 for i, c in enumerate(columns)]
    lines = ["  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(row, widths, right)).rstrip() for row in cells]
    if len(rows) > MAX_ROWS:
        lines.append(f"and {len(rows) - MAX_ROWS} more row(s) in the attached report")
    return lines


def _text_section(s: Section) -> list[str]:
    out = ["", s.title.upper(), s.period]
    if s.empty:
        out.append(s.empty)
    for m in s.metrics:
        change = ""
        if m.compare:
            change = (f" ({fmt(m.change, 'change')} vs {fmt(m.previous, m.unit)})" if m.change is not None
                      else " (no previous figure)")
        out.append(f"  {m.label}: {fmt(m.value, m.unit)}{change}")
    for t in s.tables:
        out += ["", t.title, *("  " + line for line in _text_table(t.columns, t.rows))]
        if t.note:
            out.append(t.note)
    if s.charts:
        out.append(f"({len(s.charts)} chart(s) in the HTML version of this mail and in the attached report)")
    out += [f"- {n}" for n in s.notes]
    return out


def text_body(built: Built, attachments: list[str]) -> str:
    lines = [f"{TITLE}", f"{built.period.text}, compared with {built.period.previous().text}"]
    if built.banner:
        lines += ["", "PUBLISHED DESPITE FAILED HEALTH CHECKS (--allow-stale):", *(f"- {b}" for b in built.banner)]
    for s in built.sections:
        lines += _text_section(s)
    lines += ["", f"The full report is attached ({', '.join(attachments)}): open it in a browser.",
              f"Generated {built.health.checked_at:%Y-%m-%d %H:%M} by martops from the warehouse."]
    return "\n".join(lines) + "\n"


def message(built: Built, pictures: dict[str, Image], to: list[str], sender: str,
            pdf: bytes | None = None) -> EmailMessage:
    """The whole message (see the module docstring); Message-ID and Date are set when it is sent."""
    stem = file_stem(built)
    files = [f"{stem}.html"] + ([f"{stem}.pdf"] if pdf is not None else [])
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = subject(built)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg.set_content(text_body(built, files))
    msg.add_alternative(html_body(built, pictures, files), subtype="html")
    html_part = msg.get_payload()[1]
    for key, image in pictures.items():
        html_part.add_related(image.png, maintype="image", subtype="png", cid=f"<{image.cid}>",
                              disposition="inline", filename=f"{key.replace('.', '-')}.png")
    msg.add_attachment(built.html.encode("utf-8"), maintype="text", subtype="html", filename=files[0])
    if pdf is not None:
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=files[1])
    return msg
