"""The options every command shares, declared once; how output reaches the terminal or a file.

Typer reads these annotations, so each option has one name, one short flag and one help text
across commands. `with_group` adds a group of options to a command and hands it one value built
from them: `with_multipliers` the six multiplier options, as one checked `Multipliers`.
"""

from __future__ import annotations

import functools
import inspect
import io
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from rich.console import Console

import cnnprof.files as files
from cnnprof.arch.multipliers import Multipliers
from cnnprof.arch.reference import DEFAULT_TIMEOUT, parse_args, parse_params
from cnnprof.errors import OptionError
from cnnprof.render.common import natural_width
from cnnprof.report.view import FORMATS, View
from cnnprof.results.export import EXPORTERS
from cnnprof.results.vocab import ALLOCATORS, COUNTERS, DEVICES, DTYPES, SORT_KEYS

if TYPE_CHECKING:
    from cnnprof.api.request import Request

Format = Enum("Format", {name: name for name in FORMATS}, type=str)  # type: ignore[misc]


class GroupBy(str, Enum):
    op = "op"


# Choices shown in --help and checked by click: one Enum per vocabulary, built from its table.
DtypeName = Enum("DtypeName", {name: name for name in DTYPES}, type=str)  # type: ignore[misc]
DeviceName = Enum("DeviceName", {name: name for name in DEVICES}, type=str)  # type: ignore[misc]
AllocatorName = Enum("AllocatorName", {name: name for name in ALLOCATORS}, type=str)  # type: ignore[misc]


SortKey = Enum("SortKey", {name: name for name in SORT_KEYS}, type=str)  # type: ignore[misc]
Counter = Enum("Counter", {name: name for name in COUNTERS}, type=str)  # type: ignore[misc]
ExporterName = Enum("ExporterName", {name: name for name in EXPORTERS}, type=str)  # type: ignore[misc]


MODEL_FORMS = (
    "MODEL is a registry name or alias (`cnnprof list`); a variant reference such as "
    "mobilenet@alpha=0.5,res=160 or resnet50@separable; torchvision:NAME or timm:NAME; "
    "package.module:factory or path/file.py:factory; or a spec.yaml[:variant]."
)

Model = Annotated[str, typer.Argument(help=MODEL_FORMS, show_default=False)]
Batch = Annotated[int, typer.Option("--batch", "-b", help="Images per forward pass.")]
Dtype = Annotated[
    DtypeName,
    typer.Option("--dtype", help="Element type: bytes per value (latency: float types only)."),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
Sort = Annotated[
    SortKey | None,
    typer.Option(
        "--sort",
        "-s",
        help="Layer rows largest first by this cost (count: macs, "
        "params, flops, activations; latency: time, macs, flops, bytes).",
    ),
]
Top = Annotated[int | None, typer.Option("--top", help="Show only the first N layer rows.")]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE instead.")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite an existing --output file.")]
InputOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--input",
        help="Outside models: input sizes per image, any rank (3,224,224; a clip 3,16,112,112; "
        "a signal 64); repeat for a model with several inputs.",
    ),
]
Params = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        help="A generated family's design parameter NAME=VALUE (RegNet: d, w0, wa, wm, g, b, "
        "se), repeatable; the same as regnet_y_400mf@wm=2.5.",
    ),
]
Args = Annotated[
    list[str] | None, typer.Option("--arg", help="Factory argument NAME=VALUE (repeatable).")
]
MaxDepth = Annotated[
    int | None,
    typer.Option(
        "--max-depth",
        help="With --layers: rows summed into their modules at most N levels deep "
        "(features.3 is depth 2).",
        min=1,
    ),
]
ByOp = Annotated[GroupBy | None, typer.Option("--by", help="Group layers by op kind.")]
Latency = Annotated[bool, typer.Option("--latency", help="Also measure latency on this CPU.")]
Runtime = Annotated[
    str | None,
    typer.Option(
        "--runtime",
        help="What runs the model when it is timed: torch (eager) or onnxruntime (a model "
        "that is not ONNX is exported in memory first); `latency` also takes "
        "torch,onnxruntime: both interleaved, and ONNX Runtime's time over eager's. "
        "Default: onnxruntime for an ONNX file, else torch; with --device-profile, the "
        "runtime the profile was calibrated in (another is refused).",
    ),
]
DeviceProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--device-profile",
        help="Predict latency for a saved device profile "
        "(FILE.json from `cnnprof device --save`, or a shipped name): no torch, no "
        "device needed.",
    ),
]
PlotOpt = Annotated[
    Path | None,
    typer.Option("--plot", help="Chart to FILE.png, .svg or .pdf (needs matplotlib)."),
]
Device = Annotated[DeviceName, typer.Option("--device", "-d", help="Where to run.")]
Allocator = Annotated[
    AllocatorName,
    typer.Option(
        "--allocator",
        help="steady: freed memory stays with the process (a server "
        "after warm-up); release: it goes back to the system, fresh pages every run.",
    ),
]


class CalibrationRuntime(str, Enum):
    """What `cnnprof device` times the kernels in."""

    torch = "torch"
    onnxruntime = "onnxruntime"


DeviceRuntime = Annotated[
    CalibrationRuntime,
    typer.Option(
        "--runtime",
        help="The runtime whose kernels are calibrated: torch (eager) or onnxruntime "
        "(needs only onnx and onnxruntime, no torch).",
    ),
]
Threads = Annotated[
    int | None,
    typer.Option(
        "--threads",
        "-t",
        help="Intra-op threads (default: torch's current under torch; one per core this "
        "process may run on under --runtime onnxruntime).",
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Seconds an outside model's own code (import, factory, counting "
        "forwards) may take in all before its process is stopped.",
    ),
]

OnnxFile = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="The ONNX file to write (replaced atomically)."),
]
ExporterOpt = Annotated[
    ExporterName,
    typer.Option(
        "--exporter",
        help="torch's exporter: torchscript (fast, the broadest) or dynamo (torch.export; "
        "needs onnxscript).",
    ),
]
Opset = Annotated[
    int | None,
    typer.Option("--opset", help="ONNX opset to write (default: torchscript 17, dynamo 18)."),
]


# The options `cnnprof sweep` takes as lists, by the same names.
SWEPT = ("alpha", "resolution", "depth", "phi", "param")


def one_value(option: str, value: str, *, model: str = "MODEL", decimal: bool = False) -> str:
    """The error for a list or a range (``1,0.5``, ``0..7``) given where one value is taken: the
    `cnnprof sweep` that takes it (for ``model``), and, for a ``decimal`` number written with a
    comma (``1,5``), the number it may have meant."""
    context = click.get_current_context(silent=True)
    command = context.info_name if context is not None else "this command"
    message = f"{option} {value}: {command} takes one value"
    if decimal and re.fullmatch(r"\d+,\d+", value):
        message += f" (a decimal point is '.': {value.replace(',', '.')})"
    if option.removeprefix("--") in SWEPT:
        message += f"; for several, `cnnprof sweep {model} {option} {value}`"
    return message


class OneNumber(click.ParamType):
    """A number option of one value; a list or a range is refused with `one_value`, and any
    other text as ``kind`` refuses it."""

    def __init__(self, kind: click.ParamType) -> None:
        self.kind = kind
        self.name = kind.name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and ("," in value or ".." in value) and param is not None:
            option = max(param.opts, key=len)
            raise OptionError(one_value(option, value, decimal=self.kind is click.FLOAT))
        return self.kind.convert(value, param, ctx)


FLOAT, INT = OneNumber(click.FLOAT), OneNumber(click.INT)

# The multiplier options: (parameter, annotation, default), in the order help lists them.
MULTIPLIER_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    (
        "alpha",
        Annotated[
            float, typer.Option("--alpha", "-a", help="Width multiplier α.", click_type=FLOAT)
        ],
        1.0,
    ),
    (
        "rho",
        Annotated[
            float | None, typer.Option("--rho", help="Resolution multiplier ρ.", click_type=FLOAT)
        ],
        None,
    ),
    (
        "resolution",
        Annotated[
            int | None,
            typer.Option("--resolution", "-r", help="Input side in pixels.", click_type=INT),
        ],
        None,
    ),
    (
        "depth",
        Annotated[
            float,
            typer.Option(
                "--depth",
                help=(
                    "Depth multiplier: each stage's repeats ×D, rounded up; it changes the "
                    "network, it is not a display depth."
                ),
                click_type=FLOAT,
            ),
        ],
        1.0,
    ),
    (
        "phi",
        Annotated[
            float | None,
            typer.Option(
                "--phi", help="Compound coefficient φ (EfficientNet scaling).", click_type=FLOAT
            ),
        ],
        None,
    ),
    (
        "num_classes",
        Annotated[
            int | None,
            typer.Option("--num-classes", help="Classifier outputs.", click_type=INT),
        ],
        None,
    ),
)


def with_group(
    param: str, options: tuple[tuple[str, Any, Any], ...], build: Callable[..., Any]
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A decorator: ``command(..., <param>: T)`` as a Typer command taking each of ``options``
    ((parameter, annotation, default), in help order) where it declares ``param``, and given
    ``build(**those values)`` there (checked once)."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        keyword = inspect.Parameter.KEYWORD_ONLY
        added = [
            inspect.Parameter(name, keyword, default=default, annotation=kind)
            for name, kind, default in options
        ]
        params = []  # the group's options where the command declares it: help order
        for p in signature.parameters.values():
            params += added if p.name == param else [p.replace(kind=keyword)]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> None:
            values = {name: kwargs.pop(name) for name, _, _ in options}
            command(**{param: build(**values)}, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        del wrapper.__wrapped__  # Typer reads the signature above, not the wrapped function's
        return wrapper

    return decorate


# ``command(..., multipliers: Multipliers)`` as a Typer command taking --alpha, --rho,
# --resolution, --depth, --phi and --num-classes, built into one `Multipliers`.
with_multipliers = with_group("multipliers", MULTIPLIER_OPTIONS, Multipliers)


def parse_input(texts: list[str] | None) -> tuple[tuple[int, ...], ...] | None:
    """Each ``--input`` as sizes per image: "3,224,224" → (3, 224, 224)."""
    if not texts:
        return None
    shapes = []
    for text in texts:
        try:
            sizes = tuple(int(v) for v in text.split(","))
        except ValueError:
            raise OptionError(f"--input {text}: expected sizes such as 3,224,224") from None
        if min(sizes) < 1:
            raise OptionError(f"--input {text}: every size must be ≥ 1")
        shapes.append(sizes)
    return tuple(shapes)


# How the model runs, in the order help lists the options: (parameter, annotation, default).
RUN_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("batch", Batch, 1),
    ("dtype", Dtype, DtypeName.float32),
    ("input", InputOpt, None),
    ("arg", Args, None),
    ("param", Params, None),
    ("timeout", Timeout, DEFAULT_TIMEOUT),
)


@dataclass(frozen=True)
class RunOptions:
    """How the model runs, as given: the batch and dtype, an outside model's inputs and factory
    arguments, a generated family's design parameters, and how long its own code may take."""

    batch: int
    dtype: Any  # a DtypeName
    input: list[str] | None
    arg: list[str] | None
    param: list[str] | None
    timeout: float

    def request(self, model: str, multipliers: Multipliers, **options: Any) -> Request:
        """The API's `Request` for ``model`` with these options (and ``options``) converted."""
        from cnnprof.api.request import request

        return request(
            model,
            multipliers,
            batch=self.batch,
            dtype=self.dtype.value,
            input=parse_input(self.input),
            args=parse_args(self.arg),
            timeout=self.timeout,
            design=parse_params(_single(self.param, model)),
            **options,
        )


def _single(pairs: list[str] | None, model: str) -> list[str] | None:
    """``--param`` pairs of one value each; a list (``wm=2,2.5``) is refused with `one_value`."""
    for pair in pairs or []:
        if "," in pair.partition("=")[2]:
            raise OptionError(one_value("--param", pair, model=model))
    return pairs


# ``command(..., run: RunOptions)``: --batch, --dtype, --input, --arg, --param and --timeout.
with_run_options = with_group("run", RUN_OPTIONS, RunOptions)


def view_of(fmt: Any, sort: Any = None, **shown: Any) -> View:
    """The `View` a command's --format, --sort and other view options choose."""
    return View(format=fmt.value, sort=None if sort is None else sort.value, **shown)


def refuse(combination: str, why: str) -> None:
    """An option that would do nothing here: one line, exit 2."""
    raise OptionError(f"{combination}: {why}")


def console(file: Any = None, content: Any = None) -> Console:
    """Rich's console at the terminal's width, or at ``COLUMNS`` when set; into a pipe or a file
    without ``COLUMNS``, as wide as ``content`` needs (at least 80 columns), so nothing is left
    out of a file."""
    out = Console(file=file, highlight=False)
    if out.is_terminal or content is None or os.environ.get("COLUMNS", "").isdigit():
        return out
    return Console(file=file, width=max(80, natural_width(out, content)), highlight=False)


def check_output(output: Path | None, force: bool, label: str = "--output") -> None:
    """Fail before any work when ``output`` exists and may not be replaced (or is not a regular
    file: a FIFO or a device is never written through)."""
    if output is not None and files.exists(output, label) and not force:
        raise OptionError(f"{label} {output}: the file exists; add --force to overwrite it")


def emit(content: Any, output: Path | None, force: bool) -> None:
    """Print ``content`` (text or a rich renderable), or write it to ``output`` atomically: a
    failed write leaves the file that was there untouched."""
    if output is None:
        try:
            if isinstance(content, str):
                sys.stdout.write(content)
            else:
                console(content=content).print(content)
            sys.stdout.flush()
        except UnicodeEncodeError:
            raise OptionError(
                f"stdout's encoding ({sys.stdout.encoding}) cannot show this "
                "output; set PYTHONIOENCODING=utf-8 or write it with -o FILE"
            ) from None
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OptionError(f"cannot write to stdout: {exc.strerror or exc}") from None
        return
    check_output(output, force)
    if not isinstance(content, str):
        buffer = io.StringIO()
        console(buffer, content).print(content)
        content = buffer.getvalue()
    files.write(output, content, "--output")


Processes = Annotated[
    int,
    typer.Option(
        "--processes",
        help="Time in N fresh worker processes and report the median of their medians with "
        "their range (one process's spread does not say what the next run will). Not with "
        "--layers (per-row times come from one process) nor --runtime torch,onnxruntime.",
    ),
]
