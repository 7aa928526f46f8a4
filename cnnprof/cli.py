"""The `cnnprof` command: parse options, call the API, hand results to render/report.

Only this module (and render's renderables, printed here) writes to the terminal. Every
`CnnprofError` and every usage error becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

from cnnprof import api, render, report
from cnnprof.analytic.engine import profile as analytic_profile
from cnnprof.cli_latency import register as register_latency
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
Dtype = Annotated[
    str, typer.Option("--dtype", help="float32, float16, bfloat16, float64, int8 (bytes).")
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE instead.")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite an existing --output file.")]
InputOpt = Annotated[str | None, typer.Option("--input", help="Input C,H,W for outside models.")]
Args = Annotated[
    list[str] | None, typer.Option("--arg", help="Factory argument NAME=VALUE (repeatable).")
]


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


def parse_input(text: str | None) -> tuple[int, int, int] | None:
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
    input: InputOpt = None,
    arg: Args = None,
    layers: Annotated[bool, typer.Option("--layers", "-l", help="Per-layer table.")] = False,
    by: Annotated[GroupBy | None, typer.Option("--by", help="Group layers by op kind.")] = None,
    empirical: Annotated[
        bool, typer.Option("--empirical", "-e", help="Also count the real nn.Module; diff rows.")
    ] = False,
    train: Annotated[
        str | None,
        typer.Option("--train", help="Cost of a training step: head, all or from:PATH."),
    ] = None,
    counter: Annotated[
        str, typer.Option("--counter", help="Empirical counter: torch (meta device) or fvcore.")
    ] = "torch",
    latency: Annotated[
        bool, typer.Option("--latency", help="Add measured latency on this CPU (random weights).")
    ] = False,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
) -> None:
    request = api.request(
        model, alpha=alpha, depth=depth, resolution=resolution, rho=rho, phi=phi,
        num_classes=num_classes, batch=batch, dtype=dtype, input=parse_input(input),
        args=api.parse_args(arg), train=train,
    )  # fmt: skip
    model = request.model
    if request.train:
        emit(_training(request, empirical, fmt), output, force)
        return
    if empirical:
        emit(_cross_check(api.cross_check(request, counter), fmt), output, force)
        return
    arch = None if api.is_outside(model) else request.arch()
    profile = api.profile_analytic(request)
    published = arch.published_figure() if arch else None
    grouped = by is GroupBy.op
    timing = _measure(request, layers) if latency else None
    content: Any
    if fmt is Format.json:
        data = report.profile_dict(profile, layers, grouped, published)
        if timing is not None:
            from cnnprof import report_latency

            data["latency"] = report_latency.summary(timing)
            if layers:
                data["latency"]["layers"] = report_latency.layer_records(timing)
        content = report.to_json(data)
    elif fmt is Format.csv:
        content = report.profile_csv(profile, layers, grouped)
        if timing is not None and not (layers or grouped):
            content = _with_latency_columns(content, timing)
    elif fmt is Format.md:
        content = report.profile_markdown(profile, layers, grouped, published)
        if timing is not None:
            from cnnprof import report_latency

            content += "\n" + report_latency.latency_markdown(timing)
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
        if timing is not None:
            from cnnprof import render_latency

            parts.append(render_latency.latency_view(timing, layers=layers))
        content = render.group(*parts)
    emit(content, output, force)


def _training(request: api.Request, empirical: bool, fmt: Format) -> Any:
    profile = api.profile_analytic(request)
    cost = api.training(request, profile)
    measured = api.measured_training(request, cost) if empirical else None
    if fmt is Format.json:
        data = report.profile_dict(profile)
        data["training"] = report.training_dict(cost, measured)
        return report.to_json(data)
    lines = report.training_lines(cost, measured)
    if fmt is Format.table:
        title = f"{profile.model} · input {profile.input} · batch {profile.batch}"
        return render.group(render.summary(profile, title), render.training(lines, cost.mode))
    rows = [list(line) for line in lines]
    if fmt is Format.csv:
        return report.to_csv([dict(zip(("metric", "value", "note"), r, strict=True)) for r in rows],
                             ["metric", "value", "note"])  # fmt: skip
    return report.to_markdown(("metric", "value", "note"), rows)


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
    latency: Annotated[
        bool, typer.Option("--latency", help="Also record latency, device and thread count.")
    ] = False,
    output: Output = None,
    force: Force = False,
) -> None:
    """Write a versioned JSON baseline of each model's counts (for `cnnprof check`)."""
    from cnnprof import guard

    measure = None
    if latency:
        machine = _machine()
        measure = lambda model: machine.measure(model, "cpu")  # noqa: E731
    emit(report.to_json(guard.snapshot(models, batch, dtype, measure)), output, force)


@app.command()
def check(
    path: Annotated[Path, typer.Argument(help="A baseline .json (from snapshot) or budget .yaml.")],
    tolerance: Annotated[
        str, typer.Option("--tolerance", help="Growth allowed before failing, e.g. 0.5%.")
    ] = "0%",
    latency_tolerance: Annotated[
        str, typer.Option("--latency-tolerance", help="Latency growth allowed, e.g. 10%.")
    ] = "10%",
    update: Annotated[
        bool, typer.Option("--update", help="Rewrite the baseline with today's counts.")
    ] = False,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
) -> None:
    """Recount every model in a baseline or budget file; exit 1 when any metric grew past it.
    Latency is compared only on the device and thread count it was recorded with."""
    from cnnprof import guard

    notes: list[str] = []
    results = guard.run_check(
        path, guard.parse_tolerance(tolerance), guard.parse_tolerance(latency_tolerance),
        _machine, notes,
    )  # fmt: skip
    if update:
        if path.suffix != ".json":
            raise OptionError("--update rewrites a baseline .json; edit a budget .yaml by hand")
        data = guard.read_baseline(path)
        models = [entry["model"] for entry in data["models"]]
        timed = any("latency" in entry for entry in data["models"])
        measure = None
        if timed:
            machine = _machine()
            measure = lambda model: machine.measure(model, "cpu")  # noqa: E731
        path.write_text(report.to_json(guard.snapshot(models, measure_latency=measure)),
                        encoding="utf-8")  # fmt: skip
        typer.echo(f"updated {path}: {len(models)} models", err=True)
        return
    failed = [r for r in results if not r.ok]
    if fmt is Format.json:
        data = report.check_dict(results)
        data["notes"] = notes
        content: Any = report.to_json(data)
    elif fmt is Format.csv:
        content = report.to_csv(report.check_records(results), report.CHECK_COLUMNS)
    elif fmt is Format.md:
        content = report.check_markdown(results) + "".join(f"\n> {n}\n" for n in notes)
    else:
        content = render.group(render.check_table(results, str(path)), *map(render.note, notes))
    emit(content, output, force)
    if failed:
        raise typer.Exit(1)


def _machine() -> Any:
    """This machine, for latency checks (imports torch only when a check needs it)."""
    import torch

    from cnnprof import guard
    from cnnprof.empirical.latency import device_name

    def run(model: str, device: str) -> Any:
        return _measure(api.request(model), device=device)

    return guard.Machine(device_name, torch.get_num_threads(), run)


def _grid_output(fmt: Format, title: str, headers: Any, rows: Any, data: Any) -> Any:
    """The same grid as a rich table, Markdown or CSV; ``data`` is the JSON form."""
    if fmt is Format.json:
        return report.to_json(data)
    if fmt is Format.md:
        return f"**{title}**\n\n" + report.to_markdown(headers, rows)
    if fmt is Format.csv:
        return report.to_csv([dict(zip(headers, r, strict=True)) for r in rows], list(headers))
    return render.grid(title, headers, rows)


PlotOpt = Annotated[
    Path | None, typer.Option("--plot", help="Chart to FILE.png or FILE.svg (needs matplotlib).")
]
Latency = Annotated[bool, typer.Option("--latency", help="Also measure latency on this CPU.")]


@app.command()
def compare(
    models: Annotated[
        list[str],
        typer.Argument(
            help="Two or more models; variant references like "
            "mobilenet@alpha=0.5,res=160 or resnet50@separable."
        ),
    ],
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="Ratios against this model (default: first).")
    ] = None,
    latency: Latency = False,
    batch: Batch = 1,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
    plot: PlotOpt = None,
) -> None:
    """Models side by side: params, MACs, FLOPs, memory, published top-1, ratios to a baseline."""
    from cnnprof import tables

    if plot is not None:
        plot_module().check_path(plot, force)
    requests = [api.request(m, batch=batch) for m in models]
    columns = [tables.column(r, _measure(r) if latency else None) for r in requests]
    result = tables.compare(columns, baseline)
    headers, rows, ratios = report.compare_grid(result)
    base = result.columns[result.baseline].label
    if fmt is Format.table:
        content: Any = render.comparison(headers, rows, ratios, base)
    else:
        title = f"compare · ratios to {base}"
        content = _grid_output(fmt, title, headers, rows, report.compare_dict(result))
    emit(content, output, force)
    if plot is not None:
        _plot(plot, list(result.columns), [False] * len(result.columns), "macs")


@app.command()
def separable(
    model: Model,
    layers: Annotated[bool, typer.Option("--layers", "-l", help="Every convolution.")] = False,
    input: InputOpt = None,
    arg: Args = None,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
) -> None:
    """Standard k×k against depthwise-separable convolution, per layer and for the whole model
    (MobileNet paper, Tables 3 and 4)."""
    from cnnprof import tables

    request = api.request(model, input=parse_input(input), args=api.parse_args(arg))
    result = tables.separable(request)
    totals = report.separable_totals(result)
    if fmt is Format.json:
        content: Any = report.to_json(report.separable_dict(result))
    elif fmt in (Format.md, Format.csv):
        grids = [("models", report.SEPARABLE_TOTAL_HEADERS, totals)]
        if layers:
            grids.append(("convolutions", report.SEPARABLE_HEADERS,
                          report.separable_grid(result.rows)))  # fmt: skip
        content = "\n".join(_grid_output(fmt, t, h, r, None) for t, h, r in grids)
    else:
        title = "standard vs depthwise-separable"
        parts: list[Any] = [render.grid(title, report.SEPARABLE_TOTAL_HEADERS, totals, left=2)]
        if layers:
            parts.append(render.grid("every convolution: its cost both ways",
                                     report.SEPARABLE_HEADERS,
                                     report.separable_grid(result.rows), left=2))  # fmt: skip
        content = render.group(*parts)
    emit(content, output, force)


Values = Annotated[str | None, typer.Option(help="Comma list or range, e.g. 1,0.75,0.5 or 0..7.")]


@app.command()
def sweep(
    model: Model,
    alpha: Values = None,
    resolution: Values = None,
    depth: Values = None,
    phi: Values = None,
    metric: Annotated[
        str, typer.Option("--metric", help="Grid cell: macs, params, flops, top1, latency_ms …")
    ] = "macs",
    pareto: Annotated[bool, typer.Option("--pareto", help="Mark non-dominated points.")] = False,
    latency: Latency = False,
    target_ms: Annotated[
        float | None, typer.Option("--target-ms", help="Rank by MnasNet's ACC×(LAT/T)^-0.07.")
    ] = None,
    batch: Batch = 1,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
    plot: PlotOpt = None,
) -> None:
    """A grid over width, resolution, depth or compound multipliers (MobileNet Tables 6 and 7,
    EfficientNet's compound scaling next to the official B0…B7)."""
    from cnnprof import tables

    known = [k for k, _, _ in report.COMPARE_METRICS]
    if metric not in known:
        raise OptionError(f"--metric {metric}: expected one of {', '.join(known)}")
    if target_ms is not None and (target_ms <= 0 or not latency):
        raise OptionError("--target-ms needs --latency and a target > 0 ms")
    if plot is not None:
        plot_module().check_path(plot, force)
    base = api.request(model, batch=batch)
    settings = tables.sweep_settings(
        tables.parse_list(alpha, float, "alpha"), tables.parse_list(resolution, int, "resolution"),
        tables.parse_list(depth, float, "depth"), tables.parse_list(phi, float, "phi"),
    )  # fmt: skip
    points = []
    for values in settings:
        request = replace(base, **values)
        timing = _measure(request) if latency else None
        official = tables.official_for_phi(base, values["phi"]) if "phi" in values else None
        points.append(tables.SweepPoint(tables.column(request, timing), values, official))
    cost = "latency_ms" if latency else "macs"
    points = tables.mark(points, cost, target_ms)
    if target_ms is not None:
        points.sort(key=lambda p: -(p.objective or float("-inf")))
    records = report.sweep_records(points)
    if not pareto:
        for record in records:
            record.pop("pareto")
    content = _sweep_output(fmt, points, records, metric)
    emit(content, output, force)
    if plot is not None:
        _plot(plot, [p.column for p in points], [p.pareto for p in points], cost)


def _sweep_output(
    fmt: Format, points: list[Any], records: list[dict[str, Any]], metric: str
) -> Any:
    if fmt is Format.json:
        return report.to_json({"schema": "cnnprof.sweep/1", "points": records})
    columns = [k for k in records[0] if any(r.get(k) is not None for r in records)]
    if fmt is Format.table:  # the terminal gets the core columns; md, csv and json get all
        columns = [k for k in columns if k not in report.WIDE_ONLY]
    rows = [[_cell(k, r.get(k)) for k in columns] for r in records]
    titles = [report.FIELD_TITLES.get(k, k) for k in columns]
    if fmt is Format.csv:
        return report.to_csv(records, list(records[0]))
    grid = report.sweep_grid(points, metric)
    if fmt is Format.md:
        text = f"**{metric}**\n\n" + report.to_markdown(*grid) + "\n" if grid else ""
        return text + report.to_markdown(titles, rows)
    parts: list[Any] = []
    if grid:
        parts.append(render.grid(f"{metric} per configuration", *grid))
    parts.append(render.grid("every configuration", titles, rows))
    return render.group(*parts)


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "–"
    fmt = report.FIELD_FORMATS.get(key)
    return fmt(value) if fmt else (f"{value:g}" if isinstance(value, float) else str(value))


def _plot(path: Path, columns: list[Any], frontier: list[bool], cost: str) -> None:
    """Cost against published top-1 for the configurations whose accuracy is known (against
    params when none is), the Pareto frontier marked."""
    known = [i for i, c in enumerate(columns) if c.top1 is not None]
    y_key = "top1" if known else "params"
    chosen = known or list(range(len(columns)))
    scale = 1.0 if cost == "latency_ms" else 1e6
    xs = [(columns[i].value(cost) or 0.0) / scale for i in chosen]
    ys = [(columns[i].value(y_key) or 0.0) / (1.0 if known else 1e6) for i in chosen]
    labels = [columns[i].label.partition("@")[2] or columns[i].label for i in chosen]
    x_label = "latency (ms)" if cost == "latency_ms" else "MACs (millions)"
    y_label = "published top-1 (%)" if known else "params (millions)"
    title = f"{columns[0].label.partition('@')[0]}: {y_label} against {x_label}"
    flags = [frontier[i] for i in chosen]
    plot_module().scatter(path, labels, xs, ys, flags, x_label, y_label, title)


def plot_module() -> Any:
    from cnnprof import plot

    return plot


def _measure(request: api.Request, layers: bool = False, device: str = "cpu") -> Any:
    """Measured latency with random weights (imports torch)."""
    from cnnprof.empirical.latency import measure_request
    from cnnprof.render_latency import progress_bar
    from cnnprof.timing import LatencySettings

    with progress_bar(request.label) as progress:
        return measure_request(request, LatencySettings(device=device, layers=layers), progress)


def _with_latency_columns(text: str, timing: Any) -> str:
    """The one-row totals CSV with the latency median and throughput appended."""
    header, row = text.rstrip("\n").split("\n")
    extra = f",{timing.median * 1e3:.4f},{timing.throughput:.2f}"
    return f"{header},latency_ms,throughput\n{row}{extra}\n"


register_latency(app)


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    return app(args=args, prog_name="cnnprof", standalone_mode=False)
