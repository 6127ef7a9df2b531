"""Named pause points, so tests can kill a real process at a known moment inside a step.

Set MARTOPS_PAUSE_AT to a point's name and MARTOPS_PAUSE_FILE to a path: when the process reaches
the point it writes its pid to that file and sleeps, waiting to be killed. Unset, it costs one
environment lookup. This is how the SIGKILL test stops a run mid-step deterministically.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def pause_point(name: str) -> None:
    if os.environ.get("MARTOPS_PAUSE_AT") != name:
        return
    marker = os.environ.get("MARTOPS_PAUSE_FILE")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("MARTOPS_PAUSE_SECONDS", "600")))
