"""One root error; every subclass says what went wrong, where, and what to do about it.

The CLI prints `str(error)` without a traceback for these, so the message has to stand alone.
"""


class MartopsError(Exception):
    """Root of every error martops raises on purpose."""


class ConfigError(MartopsError):
    """The project file or a flag has a value that is not allowed."""


class SourceError(MartopsError):
    """A source file or table is missing, unreadable or holds values of the wrong shape."""


class TooManyQuarantined(SourceError):
    """So many rows of a table were quarantined that the format must have changed; nothing loaded
    (the quarantined rows are kept, to show why)."""


class OutputError(MartopsError):
    """An output file or folder cannot be written (a directory in its place, no permission, a full disk)."""


class CheckFailed(MartopsError):
    """An error-severity data check found failing rows; downstream steps must not run."""

    def __init__(self, message: str, results: list | None = None):
        super().__init__(message)
        self.results = results or []


class StepError(MartopsError):
    """A step cannot run as asked (e.g. its inputs were never produced for this range)."""


class DeliveryError(MartopsError):
    """An e-mail (or another delivery) did not reach everyone it was for.

    `temporary`: trying again later unchanged may succeed (an SMTP 4xx reply, a refused or timed-out
    connection); otherwise it will not until something changes (a 5xx reply, a certificate, a
    setting). `code`: the SMTP reply code, when there was one. `refused`: recipient -> (code, reply)
    for the recipients the server refused; `accepted`: those it took (they received the message).
    `setup`: the server or the settings refuse every message alike (a login refused, no STARTTLS, an
    untrusted certificate, the sender address refused): nothing about this one message or recipient.
    """

    def __init__(self, message: str, *, temporary: bool, code: int | None = None,
                 refused: dict | None = None, accepted: list[str] | None = None, setup: bool = False):
        super().__init__(message)
        self.temporary, self.code, self.setup = temporary, code, setup and not temporary
        self.refused, self.accepted = refused or {}, accepted or []
