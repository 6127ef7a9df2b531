"""The workflows: and webhooks: sections: every mistake is one line naming the key, before anything
runs; mistakes only the warehouse can reveal (a table, a column, a value's type, a template
variable) stop `martops workflows run` before any row is read or message sent."""

from __future__ import annotations

import pytest
import yaml

from martops.engine import connect
from tests.cli_runner import run_cli
from tests.smtp_server import smtp_server
from tests.workflows import project as P

NOW = (P.START + 3 * P.DAY).isoformat()


def _write(tmp_path, data: dict) -> str:
    path = tmp_path / "martops.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def _edit(data: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node[part]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return data


@pytest.mark.parametrize("key, value, said", [
    ("workflows.onboarding.steps.wait-2-days.wait", {"dayz": 2}, "workflows.onboarding.steps.wait-2-days.wait.dayz: "
     "Extra inputs are not permitted"),
    ("workflows.onboarding.steps.wait-2-days.wait", {"days": 0}, "workflows.onboarding.steps.wait-2-days.wait: wait "
     "for some time: days or hours greater than 0"),
    ("workflows.onboarding.steps.tips", {"stop": "done", "wait": {"days": 1}},
     "workflows.onboarding.steps.tips: give exactly one of email, webhook, task, list, wait, branch, stop; got wait "
     "and stop"),
    ("workflows.onboarding.steps.tips.email.subject", "Tips for {{ name }", "workflows.onboarding.steps.tips.email."
     "subject: must be a Jinja template that parses (line 1: unexpected '}')"),
    ("workflows.onboarding.steps.tips.email.template", "tips.txt", "workflows.onboarding.steps.tips.email: give the "
     "message body inline (body) or as a file (template), one of them"),
    ("workflows.onboarding.steps.notify-sales.webhook.endpoint", "slack", "workflows.onboarding.steps.notify-sales."
     "webhook.endpoint: must name an entry of webhooks: (sales), got 'slack'"),
    ("workflows.onboarding.stop_when", ["activatd"], "workflows.onboarding.stop_when: must name a condition of this "
     "workflow (activated), got 'activatd'"),
    ("workflows.onboarding.steps.skip", {"branch": {"if": "activated", "then": "welcome"}},
     "workflows.onboarding.steps.skip.branch.then: a branch goes forward only (no loops), got 'welcome'"),
    ("workflows.onboarding.trigger.table", "usage_people", "workflows.onboarding.trigger.table: must be a warehouse "
     "table written schema.table"),
    ("workflows.onboarding.trigger.since", "2024-06-01", "workflows.onboarding.trigger: since is the first watermark: "
     "give watermark"),
    ("workflows.onboarding.in_doubt", "retry", "workflows.onboarding.in_doubt: Input should be 'resend' or 'park'"),
    ("webhooks.sales", {"url": "hooks.example.com/x"}, "webhooks.sales.url: must be an http(s) URL"),
    ("webhooks.sales", {"url": "http://127.0.0.1/x", "secret_headers": {"Authorization": "Bearer abc123"}},
     "webhooks.sales.secret_headers: Authorization: give the NAME of the environment variable"),
    ("smtp", None, "workflows.onboarding.steps.welcome: an email step needs the mail server: add an smtp: section"),
    # a filter or test that does not exist: Jinja itself says so only when it renders that branch
    ("workflows.onboarding.steps.tips.email.body", "Hi {{ name | nosuchfilter }}", "workflows.onboarding.steps."
     "tips.email.body: must be a Jinja template that parses (line 1: no filter named 'nosuchfilter')"),
    ("workflows.onboarding.steps.tips.email.body", "Hi\n{% if company %}{{ company | upcase }}{% endif %}",
     "workflows.onboarding.steps.tips.email.body: must be a Jinja template that parses (line 2: no filter named "
     "'upcase')"),
    ("workflows.onboarding.steps.notify-sales.webhook.json", {"text": "{% if name is nosuchtest %}x{% endif %}"},
     "workflows.onboarding.steps.notify-sales.webhook.json: json.text: must be a Jinja template that parses (line 1: "
     "no test named 'nosuchtest')"),
    ("webhooks.sales", {"url": "http://127.0.0.1:99999/x"}, "webhooks.sales.url: must be an http(s) URL such as "
     "https://hooks.zapier.com/hooks/catch/1/abc/ (it does not parse: Port out of range 0-65535)"),
    ("webhooks.sales", {"url": "http://[::1/x"}, "webhooks.sales.url: must be an http(s) URL such as "
     "https://hooks.zapier.com/hooks/catch/1/abc/ (it does not parse: Invalid IPv6 URL)"),
    ("webhooks.sales", {"url": "localhost:8026/x"}, "webhooks.sales.url: must be an http(s) URL such as "
     "https://hooks.zapier.com/hooks/catch/1/abc/ (it does not start with http:// or https://)"),
])
def test_a_mistake_in_the_project_file_names_the_key(capsys, tmp_path, key, value, said):
    data = P.project(2525, "http://127.0.0.1:9")
    if key == "workflows.onboarding.trigger.since":
        del data["workflows"]["onboarding"]["trigger"]["watermark"]
    config = _write(tmp_path, _edit(data, key, value))
    out = run_cli(capsys, "workflows", "run", "--dry-run", "--config", config)
    assert out.code == 1 and said in out.err, out.err
    assert "Bearer abc123" not in out.err and len(out.err.strip().splitlines()) == 1


def test_a_step_name_written_twice_is_an_error_with_both_lines(capsys, tmp_path):
    text = ("workflows:\n  w:\n    trigger: {table: staging.usage_people, key: user_id}\n    steps:\n"
            "      a: {wait: {days: 1}}\n      a: {stop: done}\n")
    (tmp_path / "martops.yml").write_text(text)
    out = run_cli(capsys, "workflows", "run", "--dry-run", "--config", tmp_path / "martops.yml")
    assert out.code == 1
    assert "line 6, column 7: 'a' is written twice in one mapping (first on line 5)" in out.err


@pytest.mark.parametrize("key, value, said", [
    ("trigger.table", "staging.usage_persons", "workflows.onboarding.trigger.table: staging.usage_persons is not in "
     "the warehouse"),
    ("trigger.key", "id", "workflows.onboarding.trigger.key: staging.usage_people has no column 'id'; its columns: "
     "user_id, name, email, company, created_at"),
    ("trigger.where", {"company": 3}, "workflows.onboarding.trigger.where.company: 3 cannot be compared with a string "
     "column; give a text value"),
    ("trigger.since", "June", "workflows.onboarding.trigger.since: 'June' is not a date or time"),
    ("conditions.activated.time", "event_type", "workflows.onboarding.conditions.activated.time: "
     "staging.usage_events.event_type is string, not a date or time"),
    ("steps.tips.email.subject", "Tips for {{ firstname }}", "workflows.onboarding.steps.tips.email.subject: "
     "{{ firstname }} is not a column of staging.usage_people"),
    ("steps.tips.email.body", None, "workflows.onboarding.steps.tips.email.template: nope.txt does not exist"),
    # a text watermark sorts by characters: 'since' would let every name through, enrolling everyone
    ("trigger.watermark", "name", "workflows.onboarding.trigger.watermark: staging.usage_people.name is string, not "
     "a date, time or number"),
    ("trigger.where", {"user_id": 101.5}, "workflows.onboarding.trigger.where.user_id: 101.5 can never equal a value "
     "of a int64 column (whole numbers); give a whole number"),
    ("conditions.activated.where", {"user_id": "7.5"}, "workflows.onboarding.conditions.activated.where.user_id: 7.5 "
     "can never equal a value of a int64 column"),
    ("steps.check-in.task.table", "crm.customers", "workflows.onboarding.steps.check-in: crm.customers is written by "
     "crm.load"),
])
def test_what_only_the_warehouse_reveals_stops_the_run_first(capsys, tmp_path, key, value, said):
    location = str(tmp_path / "w.duckdb")
    with connect(path=location) as wh:
        P.load(wh, P.customers(3))
    data = P.project(2525, "http://127.0.0.1:9")
    if key == "steps.tips.email.body":
        data["workflows"]["onboarding"]["steps"]["tips"]["email"]["template"] = "nope.txt"
    config = P.write(tmp_path, _edit(data, f"workflows.onboarding.{key}", value), location)
    for flags in (["--dry-run"], []):
        out = run_cli(capsys, "workflows", "run", *flags, "--now", NOW, "--config", config)
        assert out.code == 1 and said in out.err, out.err
    with connect(path=location, read_only=True) as wh:
        assert not wh.exists("ops.workflow_entities") and not wh.exists("marts.workflow_tasks")


def test_a_template_file_with_an_unknown_filter_stops_the_run_before_anything_is_sent(capsys, tmp_path):
    location = str(tmp_path / "w.duckdb")
    with connect(path=location) as wh:
        P.load(wh, P.customers(3))
    (tmp_path / "tips.txt").write_text("Hi {{ name }},\n{% if company %}{{ company | titel }}{% endif %}\n")
    data = P.project(2525, "http://127.0.0.1:9")
    tips = data["workflows"]["onboarding"]["steps"]["tips"]["email"]
    del tips["body"]
    tips["template"] = str(tmp_path / "tips.txt")
    config = P.write(tmp_path, data, location)
    for flags in (["--dry-run"], []):
        out = run_cli(capsys, "workflows", "run", *flags, "--now", NOW, "--config", config)
        assert out.code == 1, out.err
        assert out.err.strip() == (f"error: workflows.onboarding.steps.tips.email.template: {tmp_path / 'tips.txt'} "
                                   "line 2: no filter named 'titel'")
    with connect(path=location, read_only=True) as wh:
        assert not wh.exists("ops.workflow_entities")


@pytest.mark.parametrize("value, said", [
    ("http://", "it names no host"),
    ("http://[::1/x", "it does not parse: Invalid IPv6 URL"),
    ("http://127.0.0.1:99999/x", "it does not parse: Port out of range 0-65535"),
])
def test_a_url_env_that_holds_no_url_stops_a_real_run_before_anything_is_sent(capsys, tmp_path, monkeypatch,
                                                                             value, said):
    location = str(tmp_path / "w.duckdb")
    with connect(path=location) as wh:
        P.load(wh, P.customers(3))
    monkeypatch.setenv("MARTOPS_TEST_HOOK_URL", value)
    data = P.project(2525, "http://127.0.0.1:9")
    data["webhooks"]["sales"] = {"url_env": "MARTOPS_TEST_HOOK_URL"}
    with smtp_server() as (mail, port):
        data["smtp"]["port"] = port
        config = P.write(tmp_path, data, location)
        out = run_cli(capsys, "workflows", "run", "--now", NOW, "--config", config)
        assert out.code == 1
        assert out.err.strip() == ("error: webhooks.sales.url_env: MARTOPS_TEST_HOOK_URL does not hold an http(s) URL "
                                   f"such as https://hooks.zapier.com/hooks/catch/1/abc/ ({said})")
        dry = run_cli(capsys, "workflows", "run", "--dry-run", "--now", NOW, "--config", config)
        assert dry.code == 0 and "note: webhooks.sales.url_env: MARTOPS_TEST_HOOK_URL does not hold" in dry.out
        assert mail.received == []
    with connect(path=location, read_only=True) as wh:
        assert not wh.exists("ops.workflow_entities") or wh.count("ops.workflow_entities") == 0


def test_command_line_mistakes(capsys, tmp_path):
    location = str(tmp_path / "w.duckdb")
    with connect(path=location) as wh:
        P.load(wh, P.customers(3))
    config = P.write(tmp_path, P.project(2525, "http://127.0.0.1:9"), location)
    out = run_cli(capsys, "workflows", "run", "--dry-run", "--workflow", "onbording", "--config", config)
    assert out.code == 1 and "--workflow 'onbording' is not a workflow of martops.yml; workflows: onboarding" in out.err
    out = run_cli(capsys, "workflows", "run", "--dry-run", "--now", "tomorrow", "--config", config)
    assert out.code == 1 and "--now 'tomorrow' is not a date and time" in out.err
    out = run_cli(capsys, "workflows", "history", "42", "--config", config)
    assert out.code == 1 and "no workflow has run" in out.err
    out = run_cli(capsys, "workflows", "retry", "--config", config)
    assert out.code == 1 and "name the entities to retry" in out.err
    empty = tmp_path / "empty"
    empty.mkdir()
    out = run_cli(capsys, "workflows", "run", "--dry-run", "--config", _write(empty, {"warehouse": {"path": location}}))
    assert out.code == 1 and "martops.yml declares no workflows" in out.err
    out = run_cli(capsys, "workflows", "status", "--warehouse", str(tmp_path / "typo.duckdb"), "--config", config)
    assert out.code == 1 and "typo.duckdb" in out.err


def test_a_where_value_no_row_holds_is_a_note_naming_the_values_there(capsys, tmp_path, monkeypatch):
    """`export_reprt` for `export_report`: the goal would never hold and every customer get every
    message. A note (a value may not have happened yet), in the dry run and in the real run."""
    location = str(tmp_path / "w.duckdb")
    with connect(path=location) as wh:
        P.load(wh, P.customers(3))
    data = P.project(2525, "http://127.0.0.1:9")
    data["workflows"]["onboarding"]["conditions"]["activated"]["where"]["event_type"] = ["export_reprt",
                                                                                          "share_dashboard"]
    data["smtp"].update(user="bot@example.com", password_env="MARTOPS_TEST_UNSET_PW")
    monkeypatch.delenv("MARTOPS_TEST_UNSET_PW", raising=False)
    config = P.write(tmp_path, data, location)
    out = run_cli(capsys, "workflows", "run", "--dry-run", "--now", NOW, "--config", config)
    assert out.code == 0, out.err
    text = " ".join(out.out.split())
    assert ("note: workflows.onboarding.conditions.activated.where.event_type: no row of staging.usage_events has "
            "'export_reprt', 'share_dashboard' (check the spelling; its values: 'export_report', 'login')") in text
    assert text.count("MARTOPS_TEST_UNSET_PW is not set") == 1  # two e-mail steps, one secret: one note
