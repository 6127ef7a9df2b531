"""Headless Chromium (Debian's `chromium`) for what a page must be drawn for: the report as a PDF,
and each chart as a PNG for e-mail.

Chromium is driven by its command line (`--print-to-pdf`, `--dump-dom`), no browser-automation
library. Plotly draws in page scripts, so every run gives the page a virtual-time budget: the
browser runs the page's scripts and timers to completion in virtual time (no wall-clock wait)
before it prints or dumps. Chart images are drawn by plotly.js itself (`Plotly.toImage`) from the
same figures the report shows, so an e-mail's picture is the report's chart, and the page marks
when they are all done, so a chart that failed is an error rather than a missing picture.

Nothing is fetched: host names resolve nowhere and the browser's own background traffic is off.
Each run gets a throw-away profile folder and its own process group, killed whole on a time-out.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import plotly.offline

from martops.errors import OutputError

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = "install Debian's chromium (apt-get install chromium) or put chromium on PATH"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--mute-audio", "--host-resolver-rules=MAP * ~NOTFOUND"]
"""--no-sandbox: the pages are martops' own, and the sandbox cannot start as root or in most containers."""
PRINT_WIDTH_PX = 800
"""The window width charts are laid out at for print: the report's margins take about 100 px, an A4
page inside 12 mm margins holds about 703 CSS px, so a chart drawn at ~690 px prints at its size."""
BUDGET_MS = 20_000
"""Virtual time a page gets to draw; it costs no wall time unless the page keeps working."""


def find() -> str:
    """The Chromium executable on PATH; OutputError saying what to install."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise OutputError(f"chromium is not installed (needed for the PDF and the e-mail's chart images): {INSTALL}")


def _run(args: list[str], what: str, timeout: float) -> subprocess.CompletedProcess:
    """Chromium with `args` (after the common flags) in a fresh profile; OutputError on a time-out
    (the whole process group is killed) or a non-zero exit (its last meaningful line)."""
    exe = find()
    with tempfile.TemporaryDirectory(prefix="martops-chromium-") as profile:
        proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise OutputError(f"chromium did not finish {what} within {timeout:g} s "
                              "(report.chromium_timeout_seconds); nothing was written") from None
        finally:
            _kill(proc)
    if proc.returncode != 0:
        raise OutputError(f"chromium failed {what} (exit {proc.returncode}): {_last_line(err)}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _kill(proc: subprocess.Popen) -> None:
    """The browser and every helper process it started (renderer, GPU, zygote)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait()


def _last_line(stderr: str) -> str:
    """The last line worth showing: D-Bus and GPU chatter on a headless machine is not the reason."""
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not re.search(r"dbus|gpu|gles|viz|fontconfig", ln, re.I)]
    return lines[-1].strip()[:300] if lines else "no message"


def print_pdf(page_html: str, timeout: float = 120.0) -> bytes:
    """The page printed to PDF (A4 and the breaks of the page's own print rules), after its charts
    are drawn; OutputError when Chromium is missing, fails or exceeds `timeout` seconds."""
    with tempfile.TemporaryDirectory(prefix="martops-pdf-") as tmp:
        page, pdf = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(page_html, "utf-8")
        _run([f"--window-size={PRINT_WIDTH_PX},1000", f"--virtual-time-budget={BUDGET_MS}",
              "--run-all-compositor-stages-before-draw", "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
              page.as_uri()], "printing the PDF", timeout)
        data = pdf.read_bytes() if pdf.exists() else b""
    if not data.startswith(b"%PDF"):
        raise OutputError("chromium printed no PDF (the file it wrote is empty or not a PDF)")
    return data


def pages(pdf: bytes) -> int:
    """How many pages a PDF Chromium printed has (Skia writes each `/Type /Page` object uncompressed)."""
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


def chart_pngs(figures: dict[str, Any], *, width: int = 680, height: int = 360, scale: int = 2,
               timeout: float = 120.0) -> dict[str, bytes]:
    """key -> PNG of each plotly figure, `width` x `height` CSS px at `scale` (2: sharp on a
    high-density screen); OutputError naming a chart plotly could not draw."""
    if not figures:
        return {}
    specs = json.dumps({k: json.loads(f.to_json()) for k, f in figures.items()}).replace("</", "<\\/")
    script = (f"const figures = {specs};\n"
              "Promise.all(Object.entries(figures).map(([key, fig]) => Plotly.toImage(fig, "
              f"{{format: 'png', width: {width}, height: {height}, scale: {scale}}})"
              ".then(url => { const p = document.createElement('pre'); p.dataset.chart = key; "
              "p.textContent = url; document.body.appendChild(p); })"
              ".catch(e => { throw new Error(key + ': ' + e); })))"
              ".then(() => document.body.dataset.done = 'yes', e => document.body.dataset.error = String(e));")
    page_html = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><script>{plotly.offline.get_plotlyjs()}</script>"
                 f"</head><body><script>{script}</script></body></html>")
    with tempfile.TemporaryDirectory(prefix="martops-charts-") as tmp:
        page = Path(tmp) / "charts.html"
        page.write_text(page_html, "utf-8")
        dom = _run([f"--virtual-time-budget={BUDGET_MS}", "--dump-dom", page.as_uri()],
                   "drawing the chart images", timeout).stdout
    failed = re.search(r'data-error="([^"]*)"', dom)
    if failed:
        raise OutputError(f"a chart image could not be drawn: {html.unescape(failed.group(1))}")
    if 'data-done="yes"' not in dom:
        raise OutputError("the chart images were not drawn within the page's time budget")
    images = {html.unescape(k): base64.b64decode(v)
              for k, v in re.findall(r'<pre data-chart="([^"]+)">data:image/png;base64,([A-Za-z0-9+/=]+)</pre>', dom)}
    missing = sorted(set(figures) - set(images))
    if missing:
        raise OutputError(f"chart image(s) missing after drawing: {', '.join(missing)}")
    return images
