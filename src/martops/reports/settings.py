"""martops.yml's `report:` block: where the `report.weekly` step writes, and where the
`report.send` step (and `martops report send` when no --to/--folder is given) delivers.

    report:
      out: weekly-report.html        # the report.weekly step writes it (relative to the working folder)
      pdf: weekly-report.pdf         # and prints it to this PDF (optional; report.send delivers it too)
      to: [marketing@example.com]    # report.send: recipients, once per period (the mail server is the smtp: block)
      folder: /mnt/share/reports     # report.send: also written here, named by period
      chromium_timeout_seconds: 120

Strict as every block of the project file: an unknown key or a malformed address is an error
naming the key.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from martops.delivery.smtp import address


class ReportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out: str | None = None
    """The HTML file the `report.weekly` step writes (replaced only by a report that passed its
    checks). None: the step has nothing to do and a bare `martops run` leaves it out."""
    pdf: str | None = None
    """A PDF the step prints beside `out` (headless Chromium), also attached and written to the
    folder by `report.send`; None: none."""
    to: list[str] = []
    """Who the `report.send` step mails the report to, each once per period (`ops.report_deliveries`),
    and `martops report send`'s recipients when no --to/--folder is given."""
    folder: str | None = None
    """An existing folder the `report.send` step (and `martops report send` when no --to/--folder is
    given) writes the report into, named by period (`weekly-report-2023-W36.html`), replacing that
    week's file."""
    chromium_timeout_seconds: Annotated[float, Strict()] = Field(120.0, gt=0, le=3600)
    """How long Chromium may take to print the PDF or draw the e-mail's chart images."""

    @field_validator("out")
    @classmethod
    def _html(cls, v: str | None) -> str | None:
        if v is not None and not v.lower().endswith((".html", ".htm")):
            raise ValueError(f"the report is an HTML page: name the file .html, e.g. weekly-report.html (got {v!r})")
        return v

    @field_validator("pdf")
    @classmethod
    def _pdf(cls, v: str | None) -> str | None:
        if v is not None and not v.lower().endswith(".pdf"):
            raise ValueError(f"name the file .pdf, e.g. weekly-report.pdf (got {v!r})")
        return v

    @field_validator("to", mode="before")
    @classmethod
    def _one(cls, v):
        """`to: cmo@example.com` is one recipient, as a user writes it (a list is not required)."""
        return [v] if isinstance(v, str) else v

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        return [address(a) for a in v]
