"""The `cnnprof` command: parse options, call the API, hand results to render/report.

Only this module (and render's renderables, printed here) writes to the terminal. Every
`CnnprofError` and every usage error becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from cnnprof import api, guard, render, report
from cnnprof.analytic.engine import profile as analytic_profile
from cnnprof.errors import CnnprofError, OptionError
from cnnprof.registry import default_registry

CONVENTIONS = (
    "Counting: params are learnable parameters, biases and BatchNorm affine included (buffers "
    "apart); MACs are conv and fc multiply-accumulates.\n\n"
    "FLOPs are 2·MACs plus element-wise work (bias, norm, activations, pooling, residual adds, "
    "SE scaling), kept by category."
)


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"


class GroupBy(str, Enum):
    op = "op"


Model = Annotated[
    str,
    typer.Argument(help="Registry name or alias (see `cnnprof list`), or a spec.yaml path."),
]
Alpha = Annotated[float, typer.Option("--alpha", "-a", help="Width multiplier α.")]
Rho = Annotated[float | None, typer.Option("--rho", help="Resolution multiplier ρ.")]
Resolution = Annotated[int | None, typer.Option("--resolution", "-r", help="Input side in pixels.")]
Depth = Annotated[float, typer.Option("--depth", help="Depth multiplier (repeats, rounded up).")]
Phi = Annotated[
    float | None, typer.Option("--phi", help="Compound coefficient φ (EfficientNet scaling).")
]
NumClasses = Annotated[int | None, typer.Option("--num-classes", help="Classifier outputs.")]
Batch = Annotated[int, typer.Option("--batch", "-b", help="Batch size for totals and memory.")]
Dtype = Annotated[str, typer.Option("--dtype", help="float32, float16, bfloat16, int8 (bytes).")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE instead.")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite an existing --output file.")]


def _console(file: Any = None) -> Console:
    """The terminal's width on a terminal; 120 columns into a pipe or a file."""
    console = Console(file=file, highlight=False)
    return console if console.is_terminal else Console(file=file, width=120, highlight=False)


def emit(content: Any, output: Path | None, force: bool) -> None:
    """Print ``content`` (text or a rich renderable), or write it to ``output``."""
    if output is None:
        if isinstance(content, str):
            sys.stdout.write(content)
        else:
            _console().print(content)
        return
    if output.exists() and not force:
        raise OptionError(f"--output {output}: the file exists; add --force to overwrite it")
    try:
        with output.open("w", encoding="utf-8") as fh:
            if isinstance(content, str):
                fh.write(content)
            else:
                _console(fh).print(content)
    except OSError as exc:
        raise OptionError(f"--output {output}: cannot write: {exc.strerror or exc}") from None


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
        except typer.TyperException as exc:  # usage errors: bad option, missing argument …
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            code = _fail(message.splitlines()[0] if message else "see --help", 2)
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


@app.command("list")
def list_models(
    pattern: Annotated[
        str | None, typer.Argument(help="Wildcard filter, e.g. 'resnet*' or 'mobile'.")
    ] = None,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
) -> None:
    """List the registry: name, aliases, family, params and MACs at the default input, paper."""
    registry = default_registry()
    records = []
    for name in registry.names(pattern):
        entry = registry.get(name)
        p = analytic_profile(entry.arch())
        records.append(
            {
                "name": name,
                "aliases": list(entry.variant.aliases),
                "family": entry.family.name,
                "input": p.input.as_list(),
                "params": p.params,
                "macs": p.macs,
                "paper": entry.paper,
            }
        )
    if pattern and not records:
        raise OptionError(f"no model matches '{pattern}'; `cnnprof list` shows them all")
    content: Any
    if fmt is Format.table:
        content = render.model_list(records)
    elif fmt is Format.json:
        content = report.to_json({"schema": "cnnprof.list/1", "models": records})
    elif fmt is Format.csv:
        flat = [{**r, "aliases": " ".join(r["aliases"]), "input": "x".join(map(str, r["input"]))}
                for r in records]  # fmt: skip
        content = report.to_csv(flat, list(records[0]) if records else ["name"])
    else:
        rows = [(r["name"], ", ".join(r["aliases"]), r["family"], report.human(r["params"]),
                 report.human(r["macs"]), r["paper"]) for r in records]  # fmt: skip
        content = report.to_markdown(("name", "aliases", "family", "params", "MACs", "paper"),
                                     rows, right=3)  # fmt: skip
    emit(content, output, force)


def _input(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    try:
        c, h, w = (int(v) for v in text.split(","))
    except ValueError:
        raise OptionError(f"--input {text}: expected C,H,W, e.g. 3,224,224") from None
    if min(c, h, w) < 1:
        raise OptionError(f"--input {text}: every size must be ≥ 1")
    return c, h, w


@app.command(help="Count params, MACs, FLOPs and memory of MODEL.\n\n" + CONVENTIONS)
def count(
    model: Model,
    alpha: Alpha = 1.0,
    rho: Rho = None,
    resolution: Resolution = None,
    depth: Depth = 1.0,
    phi: Phi = None,
    num_classes: NumClasses = None,
    batch: Batch = 1,
    dtype: Dtype = "float32",
    input: Annotated[
        str | None, typer.Option("--input", help="Input C,H,W for outside models.")
    ] = None,
    arg: Annotated[
        list[str] | None, typer.Option("--arg", help="Factory argument NAME=VALUE (repeatable).")
    ] = None,
    layers: Annotated[bool, typer.Option("--layers", "-l", help="Per-layer table.")] = False,
    by: Annotated[GroupBy | None, typer.Option("--by", help="Group layers by op kind.")] = None,
    empirical: Annotated[
        bool, typer.Option("--empirical", "-e", help="Also count the real nn.Module; diff rows.")
    ] = False,
    counter: Annotated[
        str, typer.Option("--counter", help="Empirical counter: torch (meta device) or fvcore.")
    ] = "torch",
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
) -> None:
    request = api.request(
        model, alpha=alpha, depth=depth, resolution=resolution, rho=rho, phi=phi,
        num_classes=num_classes, batch=batch, dtype=dtype, input=_input(input),
        args=api.parse_args(arg),
    )  # fmt: skip
    model = request.model
    if empirical:
        emit(_cross_check(api.cross_check(request, counter), fmt), output, force)
        return
    arch = None if api.is_outside(model) else request.arch()
    profile = api.profile_analytic(request)
    published = arch.published_figure() if arch else None
    grouped = by is GroupBy.op
    content: Any
    if fmt is Format.json:
        data = report.profile_dict(profile, layers, grouped, published)
        content = report.to_json(data)
    elif fmt is Format.csv:
        content = report.profile_csv(profile, layers, grouped)
    elif fmt is Format.md:
        content = report.profile_markdown(profile, layers, grouped, published)
    else:
        options = arch.options.describe() if arch else ""
        title = f"{profile.model} · input {profile.input} · batch {batch}" + (
            f" · {options}" if options else ""
        )
        parts: list[Any] = [render.summary(profile, title, published)]
        if grouped:
            parts.append(render.layer_table(profile, list(profile.by_kind().values()), True))
        if layers:
            parts.append(render.layer_table(profile, profile.rows))
        if profile.unsupported:
            parts.append(render.note("no formula for: " + ", ".join(profile.unsupported)))
        content = render.group(*parts)
    emit(content, output, force)


def _cross_check(check: api.CrossCheck, fmt: Format) -> Any:
    if fmt is Format.table:
        return render.cross_check(check)
    if fmt is Format.json:
        return report.to_json(report.cross_check_dict(check))
    records = report.cross_check_records(check)
    if fmt is Format.csv:
        return report.to_csv(records, list(records[0]))
    rows = [tuple(r.values()) for r in records]
    return report.to_markdown(tuple(records[0]), rows)


@app.command()
def snapshot(
    models: Annotated[list[str], typer.Argument(help="Models or variant references.")],
    batch: Batch = 1,
    dtype: Dtype = "float32",
    output: Output = None,
    force: Force = False,
) -> None:
    """Write a versioned JSON baseline of each model's counts (for `cnnprof check`)."""
    emit(report.to_json(guard.snapshot(models, batch, dtype)), output, force)


@app.command()
def check(
    path: Annotated[Path, typer.Argument(help="A baseline .json (from snapshot) or budget .yaml.")],
    tolerance: Annotated[
        str, typer.Option("--tolerance", help="Growth allowed before failing, e.g. 0.5%.")
    ] = "0%",
    update: Annotated[
        bool, typer.Option("--update", help="Rewrite the baseline with today's counts.")
    ] = False,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
) -> None:
    """Recount every model in a baseline or budget file; exit 1 when any metric grew past it."""
    results = guard.run_check(path, guard.parse_tolerance(tolerance))
    if update:
        if path.suffix != ".json":
            raise OptionError("--update rewrites a baseline .json; edit a budget .yaml by hand")
        data = guard.read_baseline(path)
        models = [entry["model"] for entry in data["models"]]
        path.write_text(report.to_json(guard.snapshot(models)), encoding="utf-8")
        typer.echo(f"updated {path}: {len(models)} models", err=True)
        return
    failed = [r for r in results if not r.ok]
    if fmt is Format.json:
        content: Any = report.to_json(report.check_dict(results))
    elif fmt is Format.csv:
        content = report.to_csv(report.check_records(results), report.CHECK_COLUMNS)
    elif fmt is Format.md:
        content = report.check_markdown(results)
    else:
        content = render.check_table(results, str(path))
    emit(content, output, force)
    if failed:
        raise typer.Exit(1)


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    return app(args=args, prog_name="cnnprof", standalone_mode=False)
