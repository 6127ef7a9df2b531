"""`martops dashboard` for real: the server the command starts, driven by Playwright in Debian's
chromium (/usr/bin/chromium; Playwright downloads no browser). The page loads, every section draws,
a filter changes a shown figure to what SQL says, there is no console error and no request leaves
127.0.0.1; one screenshot per section (under the test's tmp folder, and copied to
$MARTOPS_SCREENSHOTS when set, to look at). Ctrl-C stops the server cleanly."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from martops.reports.blocks import fmt
from tests.conftest import REPO
from tests.dashboard.test_page import SINCE, TITLES, UNTIL, campaign_spend

CHROMIUM = "/usr/bin/chromium"
SECTIONS = ["attribution", "kpis", "crm", "loyalty", "usage", "leads", "health"]
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         # nothing leaves 127.0.0.1 even if the page tried: no name resolves, every proxied request dies locally
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9"]
START_LIMIT = 20.0
"""Seconds from launch to the page answering that fail the test (a couple on an idle machine; the
figure measured is printed)."""


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("MARTOPS_REQUIRE_CHROMIUM"):
            pytest.fail(f"{CHROMIUM} is not installed but MARTOPS_REQUIRE_CHROMIUM is set (.ci/run installs it)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does)")
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Server:
    url: str
    process: subprocess.Popen
    startup: float
    """Seconds from launch until /_stcore/health answered."""

    def stop(self) -> tuple[int, str, str]:
        """Ctrl-C, as a terminal sends it; (exit code, stdout, stderr)."""
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err


@contextlib.contextmanager
def dashboard(project, cwd: Path):
    """`martops dashboard` on a free port, as a user starts it; stopped (and reaped) at the end."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "martops", "dashboard", "--warehouse", str(project.warehouse),
                                "--config", str(project.config), "--port", str(port)],
                               cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"martops dashboard exited {process.returncode}: {process.stderr.read()[-2000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as res:
                    if res.status == 200:
                        break
            assert time.monotonic() - started < 120, "the dashboard did not answer within 120 s"
            time.sleep(0.05)
        yield Server(url, process, time.monotonic() - started)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_the_dashboard_in_chromium(chromium, full, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    keep = os.environ.get("MARTOPS_SCREENSHOTS")
    with dashboard(full, tmp_path) as server, sync_playwright() as pw:
        print(f"\nmartops dashboard answered {server.startup:.2f} s after launch")
        assert server.startup < START_LIMIT
        browser = pw.chromium.launch(executable_path=chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 6000})  # tall: every section drawn at once
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        outside: list[str] = []

        def only_here(route):
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_here)
        opened = time.monotonic()
        page.goto(f"{server.url}/?since={SINCE}&until={UNTIL}")
        page.wait_for_selector(".st-key-section-health [data-testid=stMetric]", timeout=180_000)
        print(f"every section drawn {time.monotonic() - opened:.2f} s after the page was opened")
        assert [h for h in page.locator("[data-testid=stMain] h2").all_inner_texts()] == TITLES
        for key in SECTIONS:
            assert page.locator(f".st-key-section-{key} [data-testid=stException]").count() == 0, key
        assert page.locator(".st-key-section-attribution .js-plotly-plot").count() == 3
        assert page.locator(".st-key-section-crm [data-testid=stMetric]").count() == 3

        spend = page.locator(".st-key-section-kpis [data-testid=stMetric]", has_text="Spend (EUR)") \
            .locator("[data-testid=stMetricValue]")
        expect(spend).to_have_text(fmt(campaign_spend(full), "money"))
        page.locator(".st-key-channel-kpis input").click()
        page.keyboard.type("search-shopping")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        expect(spend).to_have_text(fmt(campaign_spend(full, "channel_3 = 'search-shopping'"), "money"),
                                   timeout=60_000)
        assert spend.inner_text() != fmt(campaign_spend(full), "money")

        page.add_style_tag(content="[data-testid=stHeader] {display: none}")  # it sits over a section's top
        page.wait_for_timeout(1000)  # plotly's transitions
        shots = []
        for key in SECTIONS:
            shot = tmp_path / f"dashboard-{key}.png"
            page.locator(f".st-key-section-{key}").screenshot(path=shot)
            assert shot.stat().st_size > 10_000, key
            shots.append(shot)
        sidebar = tmp_path / "dashboard-sidebar.png"
        page.locator("[data-testid=stSidebarUserContent]").screenshot(path=sidebar)
        shots.append(sidebar)
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            for shot in shots:
                shutil.copy(shot, Path(keep) / shot.name)
        browser.close()
        assert errors == []
        assert outside == []


def test_ctrl_c_stops_the_dashboard_cleanly(full, tmp_path):
    with dashboard(full, tmp_path) as server:
        assert urllib.request.urlopen(server.url, timeout=10).status == 200
        started = time.monotonic()
        code, out, err = server.stop()
    assert time.monotonic() - started < 30
    assert code == 130, err
    assert "Traceback" not in err + out
    assert f"martops dashboard on {full.warehouse} (read-only): {server.url}" in out
    assert err.strip().splitlines()[-1] == "interrupted"
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url, timeout=2)
