"""The `cnnprof` command: one Typer app composed of the command modules.

Only the CLI (and render's renderables, printed here) writes to the terminal. Every
`CnnprofError` and every usage error becomes one line on stderr and its exit code (2 for bad
input or a missing extra, 1 for a regression `check` found, 3 only for a bug in cnnprof).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click
import typer
from typer.core import TyperGroup

from cnnprof.cli.count import count, list_models
from cnnprof.cli.guard import check, snapshot
from cnnprof.cli.latency import LATENCY_HELP, device, latency
from cnnprof.cli.options import CONVENTIONS
from cnnprof.cli.tables import compare, separable, sweep
from cnnprof.errors import CnnprofError


class _Group(TyperGroup):
    """The app's command group: every error, ours or a usage error, is one line and a code."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except CnnprofError as exc:
            code = _fail(str(exc), exc.exit_code)
        except typer.Exit as exc:
            code = exc.exit_code
        except typer.Abort:
            code = _fail("aborted", 1)
        except click.ClickException as exc:  # usage errors: bad option, missing argument …
            message = exc.format_message()
            code = _fail(message.splitlines()[0], exc.exit_code) if message else exc.exit_code
        except Exception as exc:  # a bug: one line for the user, the traceback on request
            if os.environ.get("CNNPROF_DEBUG"):
                raise
            code = _fail(f"internal error: {type(exc).__name__}: {exc} (CNNPROF_DEBUG=1 shows "
                         "the traceback; please report it)", 3)  # fmt: skip
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _fail(message: str, code: int) -> int:
    typer.echo(f"cnnprof: error: {message}", err=True)
    return code


app = typer.Typer(
    help="Profile convolutional networks: params, MACs, FLOPs, memory.\n\n" + CONVENTIONS,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Group,
)
app.command("list")(list_models)
app.command(help="Count params, MACs, FLOPs and memory of MODEL.\n\n" + CONVENTIONS)(count)
app.command()(snapshot)
app.command()(check)
app.command()(compare)
app.command()(separable)
app.command()(sweep)
app.command("latency", help=LATENCY_HELP)(latency)
app.command("device")(device)


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    return app(args=args, prog_name="cnnprof", standalone_mode=False)
