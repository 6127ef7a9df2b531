"""`martops report send` against a real SMTP server on 127.0.0.1 (aiosmtpd): the message, its
inline chart images, its attachments and its recipients (one message each); STARTTLS with a
login; a failing check or a refusing server; the folder delivery; and the record of deliveries
(ops.report_deliveries) that keeps a second send of a week from mailing anyone twice. The mail's
HTML body, with its images, is screenshotted in Chromium to look at ($MARTOPS_SCREENSHOTS)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from martops.engine import connect
from martops.reports.blocks import fmt
from tests.cli_runner import run_cli
from tests.reports.conftest import WEEK
from tests.reports.page import read
from tests.smtp_server import PASSWORD, USER, self_signed, smtp_server

pytestmark = [
    pytest.mark.skipif(shutil.which("chromium") is None and not os.environ.get("MARTOPS_REQUIRE_CHROMIUM"),
                       reason="chromium is not installed (apt-get install chromium; .ci/run does)"),
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]
ENV = "MARTOPS_TEST_REPORT_SMTP_PASSWORD"
PERIOD = ["--since", WEEK[0], "--until", WEEK[1]]


def project(tmp_path: Path, port: int, extra: str = "", smtp: str = "") -> Path:
    f = tmp_path / "martops.yml"
    f.write_text(f"smtp:\n  host: 127.0.0.1\n  port: {port}\n  tls: none\n  from: Reports <reports@example.com>\n"
                 f"  timeout_seconds: 10\n{smtp}{extra}")
    return f


@pytest.fixture
def wh(demo_warehouse, tmp_path) -> Path:
    """A copy of the demo warehouse: sending records its deliveries there."""
    copy = tmp_path / "wh.duckdb"
    shutil.copy(demo_warehouse, copy)
    return copy


def deliveries(wh: Path) -> list[tuple]:
    """(kind, destination, status, message_id) of every recorded delivery, oldest first."""
    with connect(path=wh, read_only=True) as w:
        return [tuple(r) for r in w.execute("SELECT kind, destination, status, message_id FROM ops.report_deliveries "
                                            "ORDER BY started_at, delivery_id")]


def send(capsys, wh, cfg, *extra):
    return run_cli(capsys, "report", "send", "--warehouse", wh, "--config", cfg, *PERIOD, *extra)


def parts(msg):
    """(text body, html body, {cid: png}, [(filename, content type, bytes)]) of a received message."""
    text = msg.get_body(("plain",)).get_content()
    html_part = msg.get_body(("html",))
    html = html_part.get_content()
    related = msg.get_body(("related",))
    images = {p["Content-ID"].strip().strip("<>"): p.get_content() for p in related.iter_parts()
              if p.get_content_type() == "image/png"} if related is not None else {}
    files = [(a.get_filename(), a.get_content_type(), a.get_payload(decode=True)) for a in msg.iter_attachments()]
    return text, html, images, files


def look(html: str, images: dict[str, bytes], tmp_path: Path, name: str) -> None:
    """Screenshot the mail's HTML body with its inline images, as a mail client shows it."""
    keep = os.environ.get("MARTOPS_SCREENSHOTS")
    if not keep:
        return
    page = re.sub(r'src="cid:([^"]+)"', lambda m: f'src="data:image/png;base64,{base64.b64encode(images[m.group(1)]).decode()}"',
                  html)
    (tmp_path / f"{name}.html").write_text(page, "utf-8")
    shot = Path(keep) / f"{name}.png"
    Path(keep).mkdir(parents=True, exist_ok=True)
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=760,5200", f"--screenshot={shot}",
                    (tmp_path / f"{name}.html").as_uri()], capture_output=True, timeout=120, check=True)


def test_the_mail_holds_the_figures_the_images_and_the_report(capsys, wh, page_html, tmp_path):
    with smtp_server() as (server, port):
        res = send(capsys, wh, project(tmp_path, port), "--to", "a@example.com", "--to",
                   "Team B <b@example.com>", "--pdf")
    assert res.code == 0, res.err
    got, other = server.received  # a message of its own for each recipient
    assert got.recipients == ["a@example.com"] and other.recipients == ["b@example.com"]
    assert got.sender == other.sender == "reports@example.com"
    msg = got.message
    assert msg["Subject"] == other.message["Subject"] == "Weekly marketing report 2023-09-01 to 2023-09-07"
    assert msg["To"] == "a@example.com" and other.message["To"] == "Team B <b@example.com>"
    assert msg["Message-ID"].endswith("@example.com>") and msg["Message-ID"] != other.message["Message-ID"]
    assert msg.get_content_type() == "multipart/mixed"
    text, html, images, files = parts(msg)
    # the body survives mail clients: no script, no style block, every image inline by cid
    assert "<script" not in html.lower() and "<style" not in html.lower()
    cids = re.findall(r'<img src="cid:([^"]+)"', html)
    charts = read(page_html).charts
    assert len(cids) == len(charts) >= 5 and set(cids) == set(images)
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000 for png in images.values())
    # the figures of the mail are the report's
    m = read(page_html).metrics
    for key, unit in [("attribution.cost", "money"), ("campaigns.spend_eur", "money"), ("campaigns.cac", "money")]:
        shown = fmt(float(m[key]["value"]), unit)
        assert shown in html and shown in text, key
    assert "2023-09-01 to 2023-09-07" in text and "Data health" in html
    # the attachments: the full report page and its PDF
    (name, kind, report), (pdf_name, pdf_kind, pdf) = files
    assert (name, kind) == ("weekly-report-2023-09-01_2023-09-07.html", "text/html")
    attached = read(report.decode("utf-8"))
    assert attached.metrics == m and attached.charts == charts and report.count(b"plotly.js v") == 1
    assert (pdf_name, pdf_kind) == ("weekly-report-2023-09-01_2023-09-07.pdf", "application/pdf") and pdf.startswith(b"%PDF")
    assert parts(other.message)[3] == files  # the same report for everyone
    out = " ".join(res.out.split())
    assert "mailed the weekly report for 2023-09-01 to 2023-09-07 to a@example.com via 127.0.0.1:" in out
    assert "mailed the weekly report for 2023-09-01 to 2023-09-07 to Team B <b@example.com> via 127.0.0.1:" in out
    said = float(re.search(r"([\d.]+) MiB, message id", out).group(1))
    assert said == pytest.approx(len(got.data) / 2**20, abs=0.06)
    assert deliveries(wh) == [("mail", "a@example.com", "sent", msg["Message-ID"]),
                              ("mail", "b@example.com", "sent", other.message["Message-ID"])]
    look(html, images, tmp_path, "report-mail")


def test_a_second_send_of_the_week_mails_no_one_twice_unless_resent(capsys, wh, tmp_path):
    with smtp_server() as (server, port):
        cfg = project(tmp_path, port)
        assert send(capsys, wh, cfg, "--to", "a@example.com").code == 0
        first = server.received[0].message["Message-ID"]
        res = send(capsys, wh, cfg, "--to", "A <A@example.com>", "--to", "b@example.com")
        assert res.code == 0, res.err
        assert [r.recipients for r in server.received] == [["a@example.com"], ["b@example.com"]]
        out = " ".join(res.out.split())
        assert "A <A@example.com> already received it on " in out and f"(message id {first}); not mailed again" in out
        res = send(capsys, wh, cfg, "--to", "a@example.com", "--to", "b@example.com")
        assert res.code == 0 and "nothing to send for 2023-09-01 to 2023-09-07: every recipient already received it" \
            in " ".join(res.out.split())
        assert len(server.received) == 2
        res = send(capsys, wh, cfg, "--to", "a@example.com", "--resend")
        assert res.code == 0, res.err
        again = server.received[2].message["Message-ID"]
        assert server.received[2].recipients == ["a@example.com"] and again != first  # a deliberate resend is new mail
    assert [(d[1], d[2]) for d in deliveries(wh)] == [("a@example.com", "sent"), ("b@example.com", "sent"),
                                                       ("a@example.com", "sent")]


def test_starttls_and_login_with_the_password_from_the_environment(capsys, wh, tmp_path, monkeypatch):
    cert = self_signed(tmp_path)
    if cert is None:
        pytest.skip("openssl is not installed (needed for the test server's certificate)")
    monkeypatch.setenv(ENV, PASSWORD)
    with smtp_server(login=True, tls="starttls", cert=cert) as (server, port):
        cfg = project(tmp_path, port, smtp=f"  user: {USER}\n  password_env: {ENV}\n  ca_file: {cert[0]}\n")
        cfg.write_text(cfg.read_text().replace("tls: none", "tls: starttls"))
        res = run_cli(capsys, "-vv", "report", "send", "--warehouse", wh, "--config", cfg, *PERIOD,
                      "--to", "a@example.com")
    assert res.code == 0, res.err
    assert server.logins == [USER] and len(server.received) == 1
    assert PASSWORD not in res.out + res.err


def test_an_unset_password_variable_is_said_before_any_work(capsys, wh, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    with smtp_server() as (server, port):
        cfg = project(tmp_path, port, smtp=f"  user: {USER}\n  password_env: {ENV}\n")
        res = send(capsys, wh, cfg, "--to", "a@example.com")
    assert res.code == 1 and f"environment variable {ENV} is not set" in res.err and server.received == []
    assert len(res.err.strip().splitlines()) == 1


def test_a_failing_check_sends_nothing_unless_allowed_stale(capsys, wh, tmp_path):
    failing = "checks:\n  staging.sessions:\n    - row_count: {min: 100000000}\n"
    (tmp_path / "share").mkdir()
    with smtp_server() as (server, port):
        cfg = project(tmp_path, port, failing)
        res = send(capsys, wh, cfg, "--to", "a@example.com", "--folder", tmp_path / "share")
        assert res.code == 1 and "report not published" in res.err
        assert server.received == [] and list((tmp_path / "share").iterdir()) == []
        res = send(capsys, wh, cfg, "--to", "a@example.com", "--allow-stale")
    assert res.code == 0 and "published with 1 failed check" in res.err
    msg = server.received[0].message
    assert msg["Subject"].endswith("(published despite 1 failed check(s))")
    text, html, _, _ = parts(msg)
    assert "Published despite failed health checks" in html and "staging.sessions: row_count" in html
    assert "PUBLISHED DESPITE FAILED HEALTH CHECKS" in text


@pytest.mark.parametrize("setup, expected", [
    (lambda s: setattr(s, "data_reply", "451 4.3.0 Mail server busy"), "temporary failure, try again later (451 4.3.0"),
    (lambda s: s.refuse_rcpt.update({"a@example.com": "550 5.1.1 No such user"}), "a@example.com: 550 5.1.1 No such user"),
])
def test_a_refusing_server_is_a_clear_error(capsys, wh, tmp_path, setup, expected):
    with smtp_server() as (server, port):
        setup(server)
        res = send(capsys, wh, project(tmp_path, port), "--to", "a@example.com")
    assert res.code == 1 and expected in " ".join(res.err.split()) and "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1
    assert server.received == [] and [d[2] for d in deliveries(wh)] == ["failed"]  # tried again next time


def test_the_folder_delivery_names_files_by_period_and_replaces_its_own(capsys, wh, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    cfg = tmp_path / "martops.yml"
    cfg.write_text(f"report:\n  folder: {share}\n")  # no --to/--folder: the project file's destination
    res = run_cli(capsys, "report", "send", "--warehouse", wh, "--config", cfg, "--week", "2023-W35")
    assert res.code == 0, res.err
    page = share / "weekly-report-2023-W35.html"
    assert sorted(p.name for p in share.iterdir()) == [page.name]
    first = page.read_bytes()
    res = run_cli(capsys, "report", "send", "--warehouse", wh, "--config", cfg, "--week", "2023-W35", "--pdf")
    assert res.code == 0, res.err
    assert sorted(p.name for p in share.iterdir()) == ["weekly-report-2023-W35.html", "weekly-report-2023-W35.pdf"]
    assert read(page.read_text("utf-8")).metrics == read(first.decode("utf-8")).metrics
    pdf = share / "weekly-report-2023-W35.pdf"
    made = pdf.stat().st_mtime_ns
    res = run_cli(capsys, "report", "send", "--warehouse", wh, "--config", cfg, "--week", "2023-W35", "--pdf")
    assert res.code == 0 and pdf.stat().st_mtime_ns > made  # its own PDF is recognised and replaced
    # every write is recorded, and none is skipped: the file of a week is replaced whole
    assert [(d[0], Path(d[1]).name, d[2]) for d in deliveries(wh)] == [
        ("folder", "weekly-report-2023-W35.html", "sent")] + 2 * [
        ("folder", "weekly-report-2023-W35.html", "sent"), ("folder", "weekly-report-2023-W35.pdf", "sent")]


def test_a_mailbox_named_twice_gets_the_mail_once(capsys, wh, tmp_path):
    with smtp_server() as (server, port):
        res = send(capsys, wh, project(tmp_path, port), "--to", "a@example.com", "--to",
                   "Anna <A@Example.com>", "--to", "b@example.com")
    assert res.code == 0, res.err
    assert [(r.recipients, r.message["To"]) for r in server.received] == [
        (["a@example.com"], "a@example.com"), (["b@example.com"], "b@example.com")]


@pytest.mark.parametrize("args, yml, expected", [
    ([], "", "nothing to deliver to: give --to ADDRESS"),
    (["--to", "nobody"], "", "--to: 'nobody' is not one mail address"),
    (["--to", "a@example.com"], "", "mailing needs the mail server: add an smtp: block"),
    (["--folder", "missing"], "", "--folder missing: does not exist"),
    (["--folder", "martops.yml"], "", "--folder martops.yml: is a file, not a folder"),
    ([], "report:\n  folder: missing\n", "report.folder (martops.yml) missing: does not exist"),
    ([], "report:\n  to: [a@example]\n", "report.to: 'a@example' is not one mail address"),
    ([], "report:\n  to: a@example.com\n", "mailing needs the mail server: add an smtp: block"),  # one, unlisted
])
def test_delivery_mistakes_are_one_line_errors(capsys, demo_warehouse, tmp_path, monkeypatch, args, yml, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "martops.yml").write_text(yml or "{}\n")
    res = run_cli(capsys, "report", "send", "--warehouse", demo_warehouse, "--config", tmp_path / "martops.yml",
                  "--week", "2023-W35", *args)
    assert res.code == 1 and expected in " ".join(res.err.split()) and "Traceback" not in res.err, res.err
