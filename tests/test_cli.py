"""Every command has help with an example; the version flag works."""

import typer.main

from martops.cli.app import app

from .cli_runner import run_cli


def _commands(group, prefix=()):
    click_group = typer.main.get_command(group) if not hasattr(group, "commands") else group
    for name, cmd in click_group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,)


def test_every_command_has_help_with_an_example(capsys):
    commands = list(_commands(app))
    assert ("attribution", "run") in commands and len(commands) >= 7
    for cmd in commands:
        res = run_cli(capsys, *cmd, "--help")
        assert res.code == 0, cmd
        assert "Example:" in res.out, f"`martops {' '.join(cmd)} --help` lacks an Example"


def test_version(capsys):
    res = run_cli(capsys, "--version")
    assert res.code == 0 and res.out.startswith("martops ")
