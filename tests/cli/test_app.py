"""The command table (`cli/app.py`): `cnnprof --help` lists each command by the summary written in
the table, without importing the command; the summary must be what the command's own help says
first, so that the listing reads the same as when every command was imported at start."""

from __future__ import annotations

import inspect

import click
import pytest
import typer

from cnnprof.cli import app
from cnnprof.cli.app import COMMANDS

GROUP = typer.main.get_command(app)
assert isinstance(GROUP, click.Group)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_summary_is_the_first_paragraph_of_its_command_help(name: str) -> None:
    command = GROUP.get_command(click.Context(GROUP), name)
    assert command is not None and command.callback is not None and command.help
    assert COMMANDS[name].summary == inspect.cleandoc(command.help).split("\n\n")[0]


def test_the_group_lists_the_table() -> None:
    context = click.Context(GROUP)
    assert GROUP.list_commands(context) == list(COMMANDS)
    assert GROUP.get_command(context, "no_such_command") is None


def test_every_command_lives_in_cli() -> None:
    assert all(c.module.startswith("cnnprof.cli.") for c in COMMANDS.values())
