"""Help that teaches (issue 16): every command says what MODEL may be and shows examples; choices
are listed; an option has one name, one short flag and one meaning in every command; options
that would do nothing are refused with one line."""

from __future__ import annotations

import click
import pytest
import typer
from conftest import assert_error, run
from typer.testing import CliRunner

from cnnprof import __version__
from cnnprof.cli import app
from cnnprof.cli.app import COMMANDS as SUMMARIES

COMMAND = typer.main.get_command(app)
assert isinstance(COMMAND, click.Group)
CONTEXT = click.Context(COMMAND)
COMMANDS = {name: COMMAND.get_command(CONTEXT, name) for name in COMMAND.list_commands(CONTEXT)}
MODEL_FORMS = (
    "cnnprof list",
    "mobilenet@alpha=0.5",
    "torchvision:NAME",
    "timm:NAME",
    "package.module:factory",
    "file.py:factory",
    "spec.yaml",
)


def _help(*args: str) -> str:
    result = CliRunner(env={"COLUMNS": "250"}).invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.stderr
    return " ".join(result.stdout.split())  # the help as one line, whatever the wrapping


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0 and result.stdout == f"cnnprof {__version__}\n"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_shows_examples(name: str) -> None:
    text = _help(name)
    assert "Examples:" in text and f"cnnprof {name}" in text.split("Examples:")[1]


@pytest.mark.parametrize("name", ["count", "separable", "sweep", "latency"])
def test_model_says_what_it_may_be(name: str) -> None:
    text = _help(name)
    for form in MODEL_FORMS:
        assert form in text, (name, form)


def test_count_states_the_counting_convention_and_lists_choices() -> None:
    text = _help("count")
    assert "BatchNorm affine included" in text and "2·MACs" in text
    assert "[float32|float16|bfloat16|float64|int8]" in text
    assert "[torch|fvcore]" in text
    assert "it is not a display depth" in text


def test_budget_keys_are_in_check_help() -> None:
    text = _help("check")
    for key in (
        "max_params",
        "max_macs",
        "max_flops",
        "max_memory",
        "max_param_memory",
        "max_latency_ms",
        "max_latency_ratio",
        "max_predicted_ms",
    ):
        assert key in text


def test_the_same_option_has_the_same_flags_and_help_everywhere() -> None:
    seen: dict[str, tuple[tuple[str, ...], str]] = {}
    # Options whose help names what they do in that command (the meaning is the same).
    own_words = {"--layers", "--latency", "--format", "--output", "--runtime"}
    for name, command in COMMANDS.items():
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            long = max(param.opts, key=len)
            flags = tuple(sorted(param.opts))
            text = "" if long in own_words else (param.help or "")
            if long in seen:
                assert seen[long][0] == flags, (name, long, flags, seen[long][0])
                if long not in ("--alpha", "--resolution", "--depth", "--phi", "--param"):  # lists
                    assert seen[long][1] == text, (name, long)
            else:
                seen[long] = (flags, text)


REFUSED = [
    (("count", "mobilenet", "--sort", "macs"), "--sort", "add --layers"),
    (("count", "mobilenet", "--top", "3"), "--top", "add --layers"),
    (("count", "mobilenet", "--layers", "--sort", "time"), "--sort time", "count sorts by"),
    (("count", "mobilenet", "--layers", "--top", "0"), "--top 0", "≥ 1"),
    (("count", "mobilenet", "--counter", "fvcore"), "--counter fvcore", "--empirical"),
    (("count", "mobilenet", "--input", "3,32,32"), "--input", "outside models"),
    (("count", "mobilenet", "--dtype", "float8"), "'float8' is not one of"),
    (("sweep", "mobilenet"), "at least one of --alpha"),
    (("compare", "mobilenet", "resnet18", "--plot", "x.jpg"), ".png, .svg or .pdf"),
]


@pytest.mark.parametrize(("args", *["fragments"]), [(a, f) for a, *f in REFUSED])
def test_options_that_would_do_nothing_are_refused(args: tuple[str, ...], fragments) -> None:
    assert_error(run(*args), *fragments)


def test_the_command_list_gives_each_command_one_line_at_80_columns():
    """Issue 25, item 9: `cnnprof --help` lists each command by one sentence, without a hard
    break, on one row of an 80-column terminal."""
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["--help"])
    assert result.exit_code == 0, result.stderr
    panel = result.stdout.split("Commands")[1].split("╰")[0]
    rows = [line for line in panel.splitlines() if line.startswith("│")]
    assert [row.split()[1] for row in rows] == list(COMMANDS), rows
    for row, name in zip(rows, COMMANDS, strict=True):
        summary = SUMMARIES[name].summary
        assert "\n" not in summary and summary.count(". ") == 0 and summary.endswith(".")
        assert row == f"│ {name:<9}  {summary:<65} │", row


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_commands_own_help_has_no_hard_breaks(name: str):
    """Each paragraph is one line of the help text, for the terminal to wrap at its width."""
    for paragraph in COMMANDS[name].help.split("\n\n"):
        assert "\n" not in paragraph, (name, paragraph)
