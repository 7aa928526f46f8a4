"""The `cnnprof` command: one Typer app over a table of commands, each module imported only when
its command runs (`cnnprof count` loads nothing of latency or check; `--help` lists the table).

Only the CLI (and render's renderables, printed here) writes to the terminal. Every
`CnnprofError` and every usage error becomes one line on stderr and its exit code (2 for bad
input or a missing extra, 1 for a regression `check` found, 3 only for a bug in cnnprof).
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup
from typer.main import get_command_from_info
from typer.models import CommandInfo

from cnnprof.errors import CnnprofError, close_matches
from cnnprof.version import __version__


@dataclass(frozen=True)
class Command:
    """Where a command's function lives, and its summary: the first paragraph of its help, one
    sentence that fits a line of `cnnprof --help` at 80 columns, which lists it without importing
    the command (a test holds the two equal)."""

    module: str
    function: str
    summary: str


# The counting conventions, in the app's help and in `count`'s.
CONVENTIONS = (
    "Counting: params are learnable parameters, biases and BatchNorm affine included (buffers "
    "apart); MACs are conv and fc multiply-accumulates.\n\n"
    "FLOPs are 2·MACs plus element-wise work (bias, norm, activations, pooling, residual adds, "
    "SE scaling), kept by category."
)

_LISTING = "cnnprof.listing"  # set in a context while the group's help lists its commands

# Name → its command, in the order `cnnprof --help` lists them.
COMMANDS: Mapping[str, Command] = MappingProxyType(
    {
        "list": Command(
            module="cnnprof.cli.count",
            function="list_models",
            summary="List the registry: name, aliases, family, params, MACs, paper.",
        ),
        "count": Command(
            module="cnnprof.cli.count",
            function="count",
            summary="Count params, MACs, FLOPs and memory of MODEL.",
        ),
        "snapshot": Command(
            module="cnnprof.cli.check",
            function="snapshot",
            summary="Write a JSON baseline of models' counts, for `cnnprof check`.",
        ),
        "check": Command(
            module="cnnprof.cli.check",
            function="check",
            summary="Hold models to a baseline or budget file; exit 1 when one grew.",
        ),
        "compare": Command(
            module="cnnprof.cli.tables",
            function="compare",
            summary="Show models side by side, with ratios to a baseline.",
        ),
        "separable": Command(
            module="cnnprof.cli.tables",
            function="separable",
            summary="Standard k×k against depthwise-separable convolution, per layer.",
        ),
        "sweep": Command(
            module="cnnprof.cli.tables",
            function="sweep",
            summary="Sweep width, resolution, depth or compound multipliers.",
        ),
        "latency": Command(
            module="cnnprof.cli.latency",
            function="latency",
            summary="Measure MODEL's latency on this machine.",
        ),
        "export": Command(
            module="cnnprof.cli.export",
            function="export",
            summary="Write MODEL as an ONNX file and count the file against the model.",
        ),
        "device": Command(
            module="cnnprof.cli.latency",
            function="device",
            summary="Calibrate this device: its roofs and kernel timing models.",
        ),
    }
)


class _Group(TyperGroup):
    """The app's command group: its commands are the table's summaries, and `get_command` builds
    the one that runs from its module, imported then. Every error, ours or a usage error, is one
    line and a code."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, command in COMMANDS.items():  # what --help lists and a typo is matched against
            self.add_command(click.Command(name, help=command.summary))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, its module imported now; only its summary while the group's
        help lists it."""
        summary = self.commands.get(cmd_name)
        if summary is None or ctx.meta.get(_LISTING):
            return summary
        module = importlib.import_module(COMMANDS[cmd_name].module)
        examples = "\n\n".join(f"  {line}" for line in EXAMPLES[cmd_name])
        callback = getattr(module, COMMANDS[cmd_name].function)
        info = CommandInfo(
            cmd_name,
            callback=callback,
            help=_unwrapped(
                _HELP[cmd_name](module) if cmd_name in _HELP else callback.__doc__ or ""
            ),
            epilog="Examples:\n\n" + examples,
        )
        from cnnprof.cli.outputs import guarded

        return guarded(
            get_command_from_info(
                info, pretty_exceptions_short=True, rich_markup_mode=self.rich_markup_mode
            )
        )

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """The command ``args`` names; a name no command has is one error with one suggestion
        (click ≥ 8.2 and typer each add theirs to it: "Did you mean 'count'?" came twice)."""
        try:
            return click.Group.resolve_command(self, ctx, args)
        except click.UsageError as exc:
            name = args[0] if args else ""
            if name in self.commands or name.startswith("-"):
                raise
            close = close_matches(name, self.commands)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise click.UsageError(f"No such command {name!r}.{hint}", ctx) from exc

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        ctx.meta[_LISTING] = True
        try:
            super().format_help(ctx, formatter)
        finally:
            del ctx.meta[_LISTING]

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        reconfigure = getattr(sys.stderr, "reconfigure", None)
        if reconfigure is not None:  # messages reach a terminal of any encoding, escaped if need be
            reconfigure(errors="backslashreplace")
        if sys.stdout is None:  # closed by the shell (>&-): writing to it is an error, not a bug
            from cnnprof.cli.outputs import Closed

            sys.stdout = Closed()
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
            code = _fail(
                f"internal error: {type(exc).__name__}: {exc} (CNNPROF_DEBUG=1 shows "
                "the traceback; please report it)",
                3,
            )
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _unwrapped(text: str) -> str:
    """``text`` with each paragraph on one line, for the terminal to wrap at its width (typer
    prints a docstring's line breaks as they are)."""
    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(text).split("\n\n"))


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
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_version
        ),
    ] = False,
) -> None:
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
    "export": (
        "cnnprof export mobilenet -o mobilenet.onnx",
        "cnnprof export timm:resnet18 -o resnet18.onnx --exporter dynamo --format json",
    ),
    "device": ("cnnprof device", "cnnprof device --refresh --threads 1"),
}

# A command's help where it is not its function's docstring, read from the command's module.
_HELP: Mapping[str, Callable[[ModuleType], str]] = {
    "count": lambda _: COMMANDS["count"].summary + "\n\n" + CONVENTIONS,
    "latency": lambda module: module.LATENCY_HELP,
}


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code. Run as the command (no ``argv``), it ends the
    process at once: the output is flushed and every file is closed, and tearing the
    interpreter's modules down (typer's and rich's, ~20 ms of a 0.1 s count; torch's, most of a
    second) would be time for nothing. An output that cannot be flushed is left to the
    interpreter's exit, which reports it."""
    args = sys.argv[1:] if argv is None else argv
    code = app(args=args, prog_name="cnnprof", standalone_mode=False)
    if argv is None:
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:  # None: the descriptor was closed before we started
                    stream.flush()
        except (OSError, ValueError):
            return code
        workers = sys.modules.get("cnnprof.api.supervised")  # loaded only if a model needed one
        if workers is not None:
            workers.close_all()  # reaped here, on every system (none outlives the command)
        os._exit(code)
    return code
