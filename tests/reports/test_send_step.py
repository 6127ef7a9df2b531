"""The step `report.send` against a real SMTP server on 127.0.0.1 (aiosmtpd): one message per
recipient and week however often the step runs (ops.report_deliveries), new messages for a new
week, the folder delivery, a refusing server that fails the step and records nothing as
delivered, a process killed between the server's acceptance and the record, and the demo
project's weekly schedule, which delivers to its folder and never tries its mail server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from martops import domains
from martops.cli import platform
from martops.config import load_config
from martops.engine import connect
from tests.cli_runner import run_cli
from tests.conftest import REPO
from tests.smtp_server import smtp_server

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None and not os.environ.get("MARTOPS_REQUIRE_CHROMIUM"),
                                reason="chromium is not installed (apt-get install chromium; .ci/run does)")
W35 = ["--since", "2023-08-28", "--until", "2023-09-03"]
W36 = ["--since", "2023-09-04", "--until", "2023-09-10"]


@pytest.fixture
def wh(demo_warehouse, tmp_path, monkeypatch) -> Path:
    """A copy of the demo warehouse (no ops.report_deliveries yet, as in a warehouse of an older martops)."""
    monkeypatch.chdir(tmp_path)
    copy = tmp_path / "wh.duckdb"
    shutil.copy(demo_warehouse, copy)
    return copy


def project(tmp_path: Path, port: int | None, report: str) -> Path:
    smtp = (f"smtp:\n  host: 127.0.0.1\n  port: {port}\n  tls: none\n  from: Reports <reports@example.com>\n"
            "  timeout_seconds: 10\n") if port else ""
    f = tmp_path / "martops.yml"
    f.write_text(f"{smtp}report:\n{report}")
    return f


def records(wh: Path) -> list[dict]:
    with connect(path=wh, read_only=True) as w:
        return w.records("SELECT * FROM ops.report_deliveries ORDER BY started_at, delivery_id")


def run(capsys, wh, cfg, *args):
    return run_cli(capsys, "run", *args, "--warehouse", wh, "--config", cfg)


def test_the_step_mails_each_recipient_once_per_week(capsys, wh, tmp_path):
    with connect(path=wh, read_only=True) as w:
        assert not w.exists("ops.report_deliveries")
    with smtp_server() as (server, port):
        cfg = project(tmp_path, port, "  to: [a@example.com, 'Team B <b@example.com>']\n")
        for _ in range(2):
            res = run(capsys, wh, cfg, "report.send", *W35)
            assert res.code == 0, res.err
        week35 = [(r.recipients, r.message["Message-ID"]) for r in server.received]
        assert [to for to, _ in week35] == [["a@example.com"], ["b@example.com"]]  # the re-run mailed no one
        assert "mailed=0, already=2" in " ".join(res.out.split())
        # `report send` keeps the same record: the week is not mailed again from the command line either
        res = run_cli(capsys, "report", "send", "--warehouse", wh, "--config", cfg, "--week", "2023-W35")
        assert res.code == 0 and "not mailed again" in res.out and len(server.received) == 2
        res = run(capsys, wh, cfg, "report.send", *W36)
        assert res.code == 0, res.err
        week36 = [(r.recipients, r.message["Message-ID"]) for r in server.received[2:]]
    assert [to for to, _ in week36] == [["a@example.com"], ["b@example.com"]]
    assert not {m for _, m in week35} & {m for _, m in week36}  # a new week is new mail
    assert server.received[2].message["Subject"] == "Weekly marketing report 2023-W36 (2023-09-04 to 2023-09-10)"
    rows = records(wh)
    assert [(r["period"][:8], r["destination"], r["status"], r["via"]) for r in rows] == [
        ("2023-W35", "a@example.com", "sent", "report.send"), ("2023-W35", "b@example.com", "sent", "report.send"),
        ("2023-W36", "a@example.com", "sent", "report.send"), ("2023-W36", "b@example.com", "sent", "report.send")]
    assert [r["message_id"] for r in rows] == [m for _, m in week35 + week36]
    assert all(r["bytes"] == pytest.approx(len(got.data), abs=len(got.data) // 1000)
               for r, got in zip(rows, server.received))
    with connect(path=wh, read_only=True) as w:
        runs = w.execute("SELECT status, rows_out FROM ops.runs WHERE step = 'report.send' ORDER BY started_at")
    assert [tuple(r) for r in runs] == [("success", 2), ("success", 0), ("success", 2)]


def test_the_step_delivers_the_report_out_it_follows_to_the_folder(capsys, wh, tmp_path):
    (tmp_path / "share").mkdir()
    cfg = project(tmp_path, None, "  out: weekly.html\n  folder: share\n")  # no smtp: block at all
    for _ in range(2):
        res = run(capsys, wh, cfg, "report", *W35)
        assert res.code == 0, res.err
    delivered = tmp_path / "share" / "weekly-report-2023-W35.html"
    assert [p.name for p in (tmp_path / "share").iterdir()] == [delivered.name]  # replaced, not added beside
    assert delivered.read_bytes() == (tmp_path / "weekly.html").read_bytes()  # the page report.weekly wrote
    assert [(r["kind"], r["destination"], r["status"]) for r in records(wh)] == 2 * [("folder", str(delivered), "sent")]
    assert "files=1" in " ".join(res.out.split())


def test_a_permanent_smtp_failure_fails_the_step_and_records_nothing_as_delivered(capsys, wh, tmp_path):
    with smtp_server() as (server, port):
        cfg = project(tmp_path, port, "  to: [a@example.com, b@example.com]\n")
        server.data_reply = "554 5.7.1 Message rejected as spam"
        res = run(capsys, wh, cfg, "report.send", *W35)
        err = " ".join(res.err.split())
        assert res.code == 1 and "Traceback" not in res.err and len(res.err.strip().splitlines()) == 1, res.err
        assert "refused (554 5.7.1 Message rejected as spam); not tried: b@example.com" in err
        # a schedule's next run is next week's: the error names the command that delivers this week again
        assert err.endswith("`martops report send --week 2023-W35` (with the same recipients) mails only those "
                            "not mailed yet"), err
        assert server.received == []
        assert [(r["destination"], r["status"]) for r in records(wh)] == [("a@example.com", "failed")]
        assert "554 5.7.1" in records(wh)[0]["error"]
        server.data_reply = None  # the server takes mail again: the next run mails both
        assert run(capsys, wh, cfg, "report.send", *W35).code == 0
    assert [r.recipients for r in server.received] == [["a@example.com"], ["b@example.com"]]
    assert [r["status"] for r in records(wh)] == ["failed", "sent", "sent"]


def test_a_refused_recipient_does_not_stop_the_others(capsys, wh, tmp_path):
    with smtp_server() as (server, port):
        server.refuse_rcpt["a@example.com"] = "550 5.1.1 No such user"
        cfg = project(tmp_path, port, "  to: [a@example.com, b@example.com]\n")
        res = run(capsys, wh, cfg, "report.send", *W35)
    assert res.code == 1 and "a@example.com: 550 5.1.1 No such user" in " ".join(res.err.split())
    assert "mailed: b@example.com" in " ".join(res.err.split())
    assert [r.recipients for r in server.received] == [["b@example.com"]]
    assert [(r["destination"], r["status"]) for r in records(wh)] == [("a@example.com", "failed"),
                                                                       ("b@example.com", "sent")]


def test_a_process_killed_after_the_server_accepted_sends_again_with_the_same_message_id(wh, tmp_path):
    """The window between the server's acceptance and the record: the next run cannot know whether the
    message arrived, so it sends it again, with the same Message-ID (receivers can drop the copy)."""
    marker = tmp_path / "paused"
    with smtp_server() as (server, port):
        cfg = project(tmp_path, port, "  to: [a@example.com]\n")
        argv = [sys.executable, "-m", "martops.cli", "run", "report.send", *W35, "--warehouse", str(wh), "--config", str(cfg)]
        victim = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={
            **os.environ, "MARTOPS_PAUSE_AT": "report.send.after_smtp", "MARTOPS_PAUSE_FILE": str(marker)})
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert victim.poll() is None, victim.communicate()
            assert time.monotonic() < deadline, "the pause point was never reached"
            time.sleep(0.1)
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(30) == -signal.SIGKILL
        assert len(server.received) == 1  # the server has it; the record does not say so
        assert [r["status"] for r in records(wh)] == ["sending"]
        again = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
    first, second = server.received
    assert first.message["Message-ID"] == second.message["Message-ID"]
    rows = records(wh)
    assert [r["status"] for r in rows] == ["in_doubt", "sent"] and rows[0]["message_id"] == rows[1]["message_id"]
    assert "may have accepted it" in rows[0]["error"]


def test_with_nothing_to_deliver_to_the_step_is_skipped_or_named_an_error(capsys, wh, tmp_path):
    cfg = project(tmp_path, None, "  out: weekly.html\n")
    res = run(capsys, wh, cfg, "report", *W35)
    send_row = [line for line in res.out.splitlines() if "report.send" in line]
    assert res.code == 0 and len(send_row) == 1 and "skipped" in send_row[0] and "neither report.to" in send_row[0]
    res = run(capsys, wh, cfg, "report.send", *W35)
    assert res.code == 1 and "report.send: neither report.to nor report.folder is set" in " ".join(res.err.split())


def test_only_a_selector_naming_the_step_mails(tmp_path):
    """Not a bare `martops run`, not a step's downstream (`kpis.load+`): a backfill must not mail people."""
    (tmp_path / "martops.yml").write_text("report: {out: weekly.html, to: [a@example.com], folder: share}\n"
                                          "smtp: {host: 127.0.0.1, port: 8025, tls: none, from: r@example.com}\n")
    cfg = load_config(tmp_path / "martops.yml")
    assert platform.selection(cfg, [], [], [], None) == ["report.weekly"]
    assert platform.selection(cfg, ["report"], [], [], None) == ["report.weekly", "report.send"]
    graph = domains.graph()
    assert graph.upstream["report.send"][-1] == "report.weekly"
    assert "report.send" not in graph.select(["kpis.load+"]) + graph.select(["report.weekly+"])
    assert graph.select(["+report.send"])[-2:] == graph.select(["report.*"]) == ["report.weekly", "report.send"]


def test_the_demo_schedule_delivers_to_its_folder_without_its_mail_server(capsys, wh, tmp_path):
    """The demo's smtp: block (127.0.0.1:8025, for the workflows) has no server behind it: a
    delivery that tried it would fail the run."""
    shutil.copy(REPO / "src" / "martops" / "demo" / "project.yml", tmp_path / "martops.yml")
    cfg = load_config(tmp_path / "martops.yml")
    schedule = next(s for s in cfg.schedules if s.name == "weekly-report")
    assert platform.selection(cfg, schedule.select, [], [], None) == ["report.weekly", "report.send"]
    (tmp_path / cfg.report.folder).mkdir()
    res = run_cli(capsys, "run", *schedule.select, "--warehouse", wh)  # as the schedule runs it: the last week
    assert res.code == 0, res.err
    files = sorted(p.name for p in (tmp_path / cfg.report.folder).iterdir())
    assert len(files) == 1 and files[0].startswith("weekly-report-20") and (tmp_path / cfg.report.out).exists()
    assert [r["kind"] for r in records(wh)] == ["folder"]
