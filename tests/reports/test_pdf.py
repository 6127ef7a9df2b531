"""`martops report weekly --pdf`: a real Chromium prints the report, a page per section at least;
a blocked report or a missing browser writes neither file. With poppler's pdftotext/pdftoppm
installed the pages are also read back (each section starts a page, the charts' titles are there)
and rendered to PNGs (copied to $MARTOPS_SCREENSHOTS when set, to look at)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from martops.errors import OutputError
from tests.cli_runner import run_cli
from tests.reports.conftest import WEEK
from tests.reports.page import read

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None and not os.environ.get("MARTOPS_REQUIRE_CHROMIUM"),
                                reason="chromium is not installed (apt-get install chromium; .ci/run does)")


def pages(pdf: bytes) -> int:
    """Page objects, checked against the page tree's own count (Skia writes both uncompressed)."""
    found = len(re.findall(rb"/Type\s*/Page\b", pdf))
    counts = [int(n) for n in re.findall(rb"/Type\s*/Pages\s*/Count\s+(\d+)", pdf)]
    assert counts and max(counts) == found, (counts, found)
    return found


def weekly(capsys, wh, tmp_path, *extra):
    return run_cli(capsys, "report", "weekly", "--warehouse", wh, "--since", WEEK[0], "--until", WEEK[1],
                   "--out", tmp_path / "report.html", "--pdf", tmp_path / "report.pdf", *extra)


def test_the_pdf_has_a_page_per_section_and_its_charts(capsys, demo_warehouse, tmp_path):
    res = weekly(capsys, demo_warehouse, tmp_path)
    assert res.code == 0, res.err
    pdf = (tmp_path / "report.pdf").read_bytes()
    sections = read((tmp_path / "report.html").read_text("utf-8")).sections
    n = pages(pdf)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF") and n >= len(sections) == 4
    assert f"report.pdf ({len(pdf) / 1024:,.0f} KiB, {n} pages)" in " ".join(res.out.split())
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", tmp_path / "report.pdf", "-"], capture_output=True,
                              text=True, check=True).stdout
        tops = [p.strip().splitlines()[0].strip() for p in text.split("\f") if p.strip()]
        titles = ["Attribution (ihc)", "Campaign KPIs", "Loyalty programme", "Data health"]
        assert tops[0] == "Weekly marketing report" and all(t in tops[1:] or t == tops[0] for t in titles[1:]), tops
        # the charts were drawn before printing: plotly's titles are text in the PDF
        assert "Cost and attributed revenue by channel" in text and "Spend and CAC by channel" in text
        assert re.search(r"page 1 of \d+", text)
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "60", "-png", tmp_path / "report.pdf", tmp_path / "page"], check=True)
        shots = sorted(tmp_path.glob("page-*.png"))
        assert len(shots) == n
        keep = os.environ.get("MARTOPS_SCREENSHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            for shot in shots:
                shutil.copy(shot, Path(keep) / f"report-pdf-{shot.name}")


def test_a_failing_check_writes_neither_file(capsys, demo_warehouse, tmp_path):
    (tmp_path / "martops.yml").write_text("checks:\n  staging.sessions:\n    - row_count: {min: 100000000}\n")
    res = weekly(capsys, demo_warehouse, tmp_path, "--config", tmp_path / "martops.yml")
    assert res.code == 1 and "report not published" in res.err
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "report.pdf").exists()


def test_without_chromium_nothing_is_written(capsys, demo_warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium on it
    res = weekly(capsys, demo_warehouse, tmp_path)
    msg = " ".join(res.err.split())
    assert res.code == 1 and "chromium is not installed" in msg and "apt-get install chromium" in msg
    assert "Traceback" not in res.err and len(res.err.strip().splitlines()) == 1
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "report.pdf").exists()


def test_pdf_paths_are_checked_before_printing(capsys, demo_warehouse, tmp_path):
    res = run_cli(capsys, "report", "weekly", "--warehouse", demo_warehouse, "--week", "2023-W35",
                  "--out", tmp_path / "r.html", "--pdf", tmp_path / "r.html")
    assert res.code == 1 and "is the HTML report's own file" in res.err
    res = run_cli(capsys, "report", "weekly", "--warehouse", demo_warehouse, "--week", "2023-W35",
                  "--out", tmp_path / "r.html", "--pdf", tmp_path / "r.png")
    assert res.code == 1 and "name the file .pdf" in res.err
    theirs = tmp_path / "theirs.pdf"
    theirs.write_bytes(b"%PDF-1.4 someone else's\n%%EOF\n")
    res = run_cli(capsys, "report", "weekly", "--warehouse", demo_warehouse, "--week", "2023-W35",
                  "--out", tmp_path / "r.html", "--pdf", theirs)
    assert res.code == 1 and "is not a martops report; pass --force" in res.err
    assert theirs.read_bytes().startswith(b"%PDF-1.4 someone") and not (tmp_path / "r.html").exists()


def test_a_page_that_never_settles_times_out_and_leaves_no_browser(tmp_path):
    from martops.reports import chromium

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    t0 = time.monotonic()
    with pytest.raises(OutputError, match=r"chromium did not finish printing the PDF within 3 s"):
        chromium.print_pdf("<html><body><script>while (true) {}</script></body></html>", timeout=3)
    assert time.monotonic() - t0 < 30
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE]
    assert left == []
