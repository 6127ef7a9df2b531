"""What every effect shares: its failure (temporary or permanent) and its retries within a run.

Temporary: an HTTP 5xx, 408, 425 or 429, a timeout, a dropped or refused connection, an SMTP 4xx
reply: trying again unchanged may work, so the action is tried `retry.max_attempts` times with
exponential backoff and jitter (tenacity), then left for the next run, and the run stops using that
server or endpoint, unless only this action's recipient was refused (`own`). Permanent: any other refusal
(an HTTP 4xx, an SMTP 5xx, an address that is no address): trying again cannot help until
something changes, so the entity is parked with the reason. Blocking: a refusal of the endpoint or
server itself, the same for every entity (a login or token refused, a webhook URL that is gone):
not retried, and no entity is parked for it: they all stay at the step, the run fails, and the
next run after the settings are fixed sends.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import tenacity

from martops.config_workflows import Retry
from martops.errors import MartopsError


class ActionFailed(MartopsError):
    """An effect did not happen (as far as martops can tell): `temporary` says whether to try again,
    `blocking` whether the channel refuses every action alike (see the module docstring), `own`
    whether the refusal concerns this action's recipient alone (an SMTP server refusing one mailbox
    with a 4xx: full, greylisted), so the channel still serves the other entities."""

    def __init__(self, message: str, *, temporary: bool, blocking: bool = False, own: bool = False):
        super().__init__(message)
        self.temporary, self.blocking = temporary, blocking and not temporary
        self.own = own and not self.blocking
        self.attempts = 1


def attempt(effect: Callable[[], dict[str, Any]], retry: Retry,
            sleep: Callable[[float], None] = time.sleep) -> tuple[dict[str, Any], int]:
    """`effect()`'s result and the attempts it took; ActionFailed (with `.attempts`) when a
    permanent failure came, or the last of `retry.max_attempts` temporary ones."""
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(retry.max_attempts),
        wait=tenacity.wait_exponential_jitter(multiplier=retry.backoff_seconds, max=retry.max_backoff_seconds,
                                              jitter=retry.backoff_seconds),
        retry=tenacity.retry_if_exception(lambda exc: isinstance(exc, ActionFailed) and exc.temporary),
        sleep=sleep, reraise=True)
    try:
        for trial in retrying:
            with trial:
                result = effect()
    except ActionFailed as exc:
        exc.attempts = int(retrying.statistics.get("attempt_number", 1))
        raise
    return result, trial.retry_state.attempt_number
