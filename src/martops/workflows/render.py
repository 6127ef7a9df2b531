"""Jinja templates of workflow steps: which variables they use, and rendering them for one entity.

Variables are the trigger row's columns (as the row was when the entity enrolled) and
`entity_id`, `workflow`, `step`, `idempotency_key`, `now`, `enrolled_at` (datetimes, UTC). A
template naming anything else is refused before a run starts, naming the step, the key and the
columns there are; a value that cannot be rendered for one entity parks that entity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta

from martops.config_workflows import Step, Workflow, environment, json_texts, template_problem
from martops.errors import ConfigError

BUILTINS = ("entity_id", "workflow", "step", "idempotency_key", "now", "enrolled_at")


class RenderProblem(Exception):
    """A template cannot be rendered for this entity (a value missing, a filter failing)."""


def body_of(step_key: str, template: str | None, body: str | None, files: dict[str, str]) -> str:
    """An e-mail body: inline, or the file `template` (read once per run into `files`)."""
    if body is not None:
        return body
    assert template is not None
    if template not in files:
        path = Path(template)
        try:
            files[template] = path.read_text("utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{step_key}.template: {path} does not exist (paths are relative to the working "
                              "directory, like warehouse.path)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{step_key}.template: {path} cannot be read as UTF-8 text ({exc})") from None
        problem = template_problem(files[template])
        if problem:
            raise ConfigError(f"{step_key}.template: {path} {problem}")
    return files[template]


def texts(step: Step, step_key: str, files: dict[str, str]) -> list[tuple[str, str]]:
    """(key, template text) of every template of `step`, keys as martops.yml spells them."""
    out: list[tuple[str, str]] = []
    if step.email is not None:
        e = step.email
        out += [(f"{step_key}.email.to", e.to), (f"{step_key}.email.subject", e.subject),
                (f"{step_key}.email.{'body' if e.body is not None else 'template'}",
                 body_of(step_key + ".email", e.template, e.body, files))]
    elif step.webhook is not None and step.webhook.json_body is not None:
        out += json_texts(step.webhook.json_body, f"{step_key}.webhook.json")
    elif step.task is not None:
        t = step.task
        out += [(f"{step_key}.task.{k}", v) for k, v in (("title", t.title), ("assignee", t.assignee),
                                                        ("notes", t.notes)) if v is not None]
    return out


def check(name: str, wf: Workflow, columns: list[str], files: dict[str, str]) -> None:
    """Every variable every template of `wf` uses is a column of the trigger table or a built-in."""
    known = set(columns) | set(BUILTINS)
    for step_name, step in wf.steps.items():
        for key, text in texts(step, f"workflows.{name}.steps.{step_name}", files):
            unknown = sorted(meta.find_undeclared_variables(environment().parse(text)) - known)
            if unknown:
                raise ConfigError(f"{key}: {{{{ {unknown[0]} }}}} is not a column of {wf.trigger.table} (columns: "
                                  f"{', '.join(columns)}; also {', '.join(BUILTINS)})")


def render(text: str, variables: dict[str, Any], key: str) -> str:
    try:
        return environment().from_string(text).render(**variables)
    except jinja2.TemplateError as exc:
        raise RenderProblem(f"{key}: {exc.message or type(exc).__name__}") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise RenderProblem(f"{key}: {exc}") from None


def render_json(node: Any, variables: dict[str, Any], key: str) -> Any:
    """A JSON document with every text value rendered (numbers, booleans, null kept)."""
    if isinstance(node, str):
        return render(node, variables, key)
    if isinstance(node, list):
        return [render_json(item, variables, f"{key}[{i}]") for i, item in enumerate(node)]
    if isinstance(node, dict):
        return {k: render_json(v, variables, f"{key}.{k}") for k, v in node.items()}
    return node
