"""The `cnnprof` command: one Typer app composed of the command modules.

Only the CLI (and render's renderables, printed here) writes to the terminal. Every
`CnnprofError` and every usage error becomes one line on stderr and its exit code (2 for bad
input or a missing extra, 1 for a regression `check` found, 3 only for a bug in cnnprof).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from cnnprof.cli.check import check, snapshot
from cnnprof.cli.count import count, list_models
from cnnprof.cli.latency import LATENCY_HELP, device, latency
from cnnprof.cli.options import CONVENTIONS
from cnnprof.cli.tables import compare, separable, sweep
from cnnprof.errors import CnnprofError
from cnnprof.version import __version__


class _Group(TyperGroup):
    """The app's command group: every error, ours or a usage error, is one line and a code."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        reconfigure = getattr(sys.stderr, "reconfigure", None)
        if reconfigure is not None:  # messages reach a terminal of any encoding, escaped if need be
            reconfigure(errors="backslashreplace")
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
    help="Profile convolutional networks: params, MACs, FLOPs, memory, latency; counted by "
    "formula and by running the module, every disagreement shown.\n\n" + CONVENTIONS,
    epilog="Start with: cnnprof list · cnnprof count mobilenet --alpha 0.5 --layers · "
    "cnnprof COMMAND --help",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Group,
)


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"cnnprof {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", is_eager=True,
                     callback=_version),
    ] = False,
) -> None:  # fmt: skip
    """Profile convolutional networks: params, MACs, FLOPs, memory, latency."""


# Each command's help ends with examples a person can paste (`cnnprof COMMAND --help`).
EXAMPLES = {
    "list": ("cnnprof list", "cnnprof list 'resnet*'", "cnnprof list mobile --format json"),
    "count": (
        "cnnprof count mobilenet --alpha 0.5 --resolution 160",
        "cnnprof count resnet50 --layers --sort macs --top 10",
        "cnnprof count torchvision:resnet18 --empirical",
        "cnnprof count my_net.py:build --input 3,64,64 --format json",
    ),
    "snapshot": (
        "cnnprof snapshot mobilenet resnet50 -o baseline.json",
        "cnnprof snapshot mobilenet --device-profile device.json -o baseline.json",
    ),
    "check": (
        "cnnprof check baseline.json --tolerance 0.5%",
        "cnnprof check budgets.yaml (keys per model: max_params, max_macs, max_flops, "
        "max_memory, max_param_memory, max_latency_ms, max_latency_ratio with reference: "
        "MODEL, max_predicted_ms with device_profile: NAME_OR_FILE)",
    ),
    "compare": (
        "cnnprof compare vgg16 resnet50 mobilenet",
        "cnnprof compare mobilenet mobilenet@alpha=0.5,res=160 --plot compare.png",
        "cnnprof compare mobilenet mnasnet_a1 --device-profile device.json",
    ),
    "separable": ("cnnprof separable mobilenet --layers", "cnnprof separable resnet50"),
    "sweep": (
        "cnnprof sweep mobilenet --alpha 1,0.75,0.5,0.25 --resolution 224,192,160,128",
        "cnnprof sweep efficientnet_b0 --phi 0..7 --plot effnet.png",
        "cnnprof sweep mobilenet --alpha 1,0.75,0.5 --device-profile device.json --target-ms 20",
    ),
    "latency": (
        "cnnprof latency mobilenet --layers",
        "cnnprof latency resnet50 --device cuda --batch 8 --dtype float16",
    ),
    "device": ("cnnprof device", "cnnprof device --refresh --threads 1"),
}

_HELP = {
    "count": "Count params, MACs, FLOPs and memory of MODEL.\n\n" + CONVENTIONS,
    "latency": LATENCY_HELP,
}
COMMANDS = (("list", list_models), ("count", count), ("snapshot", snapshot), ("check", check),
            ("compare", compare), ("separable", separable), ("sweep", sweep),
            ("latency", latency), ("device", device))  # fmt: skip
for _name, _command in COMMANDS:
    _examples = "\n\n".join(f"  {line}" for line in EXAMPLES[_name])
    app.command(_name, help=_HELP.get(_name), epilog="Examples:\n\n" + _examples)(_command)


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code. Run as the command (no ``argv``) after
    torch was loaded, it ends the process at once: the output is flushed and every file is
    closed, and tearing torch's modules down would take most of a second for nothing."""
    args = sys.argv[1:] if argv is None else argv
    code = app(args=args, prog_name="cnnprof", standalone_mode=False)
    if argv is None and "torch" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
