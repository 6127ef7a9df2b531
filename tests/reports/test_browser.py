"""The report in a real browser (Debian's chromium, headless): every chart draws, nothing is fetched
from the network, no console error; one screenshot per section (kept under the test's tmp folder,
and copied to $MARTOPS_SCREENSHOTS when set, to look at)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.reports.page import read

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=8000",
         # nothing leaves 127.0.0.1: no name resolves, and every request goes to a dead local proxy
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9"]
BROWSER_OWN = "not an origin"
"""The net log's initiator of the browser's own requests (update and time checks): the page's have its origin."""


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("MARTOPS_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is not installed but MARTOPS_REQUIRE_CHROMIUM is set (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does)")
    return CHROMIUM


def _run(chromium: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / "profile"
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=180)


def test_the_report_draws_every_chart_offline_without_console_errors(chromium, page_html, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(page_html, "utf-8")
    netlog = tmp_path / "net.json"
    res = _run(chromium, tmp_path, "--enable-logging=stderr", "--v=0", f"--log-net-log={netlog}",
               "--dump-dom", page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    charts = read(page_html).charts
    assert charts and dom.count('class="main-svg"') >= len(charts), "a chart did not draw"
    console = [line for line in res.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    assert page_requests(netlog) == []


def page_requests(netlog: Path) -> list[str]:
    """URLs other than file:// that the page asked for (the browser's own requests left out)."""
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return sorted({e["params"]["url"] for e in log["events"] if e["type"] == start and isinstance(e.get("params"), dict)
                   and e["params"].get("initiator") != BROWSER_OWN and "url" in e["params"]
                   and not e["params"]["url"].startswith("file:")})


def test_the_network_check_sees_a_page_that_fetches(chromium, tmp_path):
    """The check above is not vacuous: an image from outside is caught (and goes nowhere: dead proxy)."""
    page = tmp_path / "fetches.html"
    page.write_text('<html><body><img src="http://example.invalid/pixel.png"></body></html>')
    netlog = tmp_path / "net.json"
    assert _run(chromium, tmp_path, f"--log-net-log={netlog}", "--dump-dom", page.as_uri()).returncode == 0
    assert page_requests(netlog) == ["http://example.invalid/pixel.png"]


def test_a_screenshot_of_each_section(chromium, page_html, tmp_path):
    """Each section alone on the page (the others hidden by a style added for the shot)."""
    keep = os.environ.get("MARTOPS_SCREENSHOTS")
    for key in read(page_html).sections:
        alone = page_html.replace("</head>", f"<style>section.report-section:not(#{key}), nav {{display:none}}"
                                            "</style></head>", 1)
        page = tmp_path / f"{key}.html"
        page.write_text(alone, "utf-8")
        shot = tmp_path / f"report-{key}.png"
        res = _run(chromium, tmp_path, "--window-size=1300,2400", f"--screenshot={shot}", page.as_uri())
        assert res.returncode == 0 and shot.exists() and shot.stat().st_size > 20_000, (key, res.stderr[-1000:])
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(keep) / shot.name)
