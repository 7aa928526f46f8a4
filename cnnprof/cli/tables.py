"""`cnnprof compare`, `cnnprof separable` and `cnnprof sweep`: the papers' tables."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cnnprof.arch.reference import DEFAULT_TIMEOUT, DESIGN_KEYS, literal, parse_args
from cnnprof.cli.count import ByOp
from cnnprof.cli.options import (
    Args,
    Batch,
    DeviceProfileOpt,
    Force,
    Format,
    FormatOpt,
    InputOpt,
    Latency,
    Model,
    Output,
    PlotOpt,
    Processes,
    Runtime,
    Threads,
    Timeout,
    emit,
    parse_input,
    refuse,
)
from cnnprof.errors import OptionError
from cnnprof.render import charts
from cnnprof.render.tables import present
from cnnprof.report.view import View
from cnnprof.results.metrics import METRICS, Comparison
from cnnprof.results.tables import MAX_SWEEP_POINTS, SeparableReport, Sweep
from cnnprof.results.timing import DEFAULT_PROCESSES, TORCH, LatencySettings

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from cnnprof.api.request import Request
    from cnnprof.api.tables import Interleave, Measure
    from cnnprof.results.interleaved import Interleaved
    from cnnprof.results.timing import Timing

# fmt: off
Models = Annotated[list[str], typer.Argument(
    help="Two or more models; variant references like mobilenet@alpha=0.5,res=160 or "
    "resnet50@separable.")]
BaselineOpt = Annotated[str | None, typer.Option(
    "--baseline", help="Ratios against this model (default: first).")]
LayersOpt = Annotated[bool, typer.Option("--layers", "-l", help="Every convolution.")]
# fmt: on


# fmt: off
ParetoOpt = Annotated[bool, typer.Option("--pareto", help="Mark non-dominated points.")]
ParetoBy = Annotated[str | None, typer.Option(
    "--pareto-by", help="The cost the Pareto frontier takes against published top-1: "
    "macs, params, flops, latency_ms (with --latency), predicted_ms (with --device-profile); "
    "default: predicted_ms, else latency_ms, else macs. Implies --pareto.")]
# fmt: on


def compare(
    models: Models,
    baseline: BaselineOpt = None,
    pareto: ParetoOpt = False,
    pareto_by: ParetoBy = None,
    latency: Latency = False,
    device_profile: DeviceProfileOpt = None,
    batch: Batch = 1,
    input: InputOpt = None,
    arg: Args = None,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
    plot: PlotOpt = None,
    runtime: Runtime = None,
    threads: Threads = None,
    processes: Processes = DEFAULT_PROCESSES,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """Show models side by side, with ratios to a baseline.

    Params, MACs, FLOPs, memory, published top-1, ratios to a baseline.
    --input, --arg and --timeout go to the outside models among them. --latency measures them
    here, --device-profile predicts them for a device; given both, both are shown. A model that
    fails is named on stderr (exit 2), the others shown (no ratios when the baseline failed).

    --pareto marks the models on the frontier of published top-1 against MACs (against the
    latency where it is predicted or measured, as `sweep` does; --pareto-by picks the cost)."""
    from cnnprof.api import tables

    _check_plot(plot, force, output)
    result = tables.compare(
        models,
        baseline=baseline,
        batch=batch,
        device_profile=device_profile,
        input=parse_input(input),
        args=parse_args(arg),
        timeout=timeout,
        measure=_together(latency, runtime, device_profile, threads, processes),
        pareto=pareto,
        pareto_by=pareto_by,
        partial=True,
    )
    _emit(result, View(format=fmt.value), output, force, plot)


def separable(
    model: Model,
    layers: LayersOpt = False,
    by: ByOp = None,
    latency: Latency = False,
    device_profile: DeviceProfileOpt = None,
    threads: Threads = None,
    processes: Processes = DEFAULT_PROCESSES,
    input: InputOpt = None,
    arg: Args = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
) -> None:
    """Standard k×k against depthwise-separable convolution, per layer.

    Per layer and for the whole model (MobileNet paper, Tables 3 and 4).

    --latency measures the model and its twins here, interleaved (with --by op or --layers,
    each alone too, row by row); --device-profile predicts them (with --layers, each
    convolution's time both ways and its roofline bound). With a time: how many times fewer
    MACs and how many times faster than the standard twin. --by op: each model's share of
    MACs, params and time by op kind (Table 2)."""
    from cnnprof.api import tables
    from cnnprof.api.request import request

    view = View(format=fmt.value, layers=layers, by_op=by is not None)
    if view.format == "csv" and layers and view.by_op:
        refuse("--layers with --by op in CSV", "a CSV file holds one table: give one of them")
    req = request(model, input=parse_input(input), args=parse_args(arg), timeout=timeout)
    settings = _settings(latency, threads, processes, device_profile)
    measures = _measures(settings, per_row=layers or view.by_op) if settings else {}
    result = tables.separable(req, device_profile=device_profile, partial=True, **measures)
    _emit(result, view, output, force)


def _settings(
    latency: bool, threads: int | None, processes: int, device_profile: str | None
) -> LatencySettings | None:
    """How separable's --latency measures: on ``threads``, in ``processes`` fresh processes,
    in the device profile's runtime (else torch eager); None without --latency (--threads and
    --processes are then refused)."""
    from cnnprof.cli.measure import refuse_unmeasured

    refuse_unmeasured(latency, threads, processes)
    if not latency:
        return None
    from cnnprof.api.latency import for_profile

    runtime = for_profile(None, device_profile) or TORCH
    return LatencySettings(threads=threads, runtime=runtime, processes=processes)


def _measures(settings: LatencySettings, per_row: bool) -> dict[str, Any]:
    """What separable measures with: the models interleaved, and with ``per_row`` each alone,
    row by row (in this process: per-row times come from one)."""
    return {
        "measure": _interleaved(settings),
        "measure_rows": _per_row(settings) if per_row else None,
    }


def _interleaved(settings: LatencySettings) -> Interleave:
    """For separable's --latency: the models measured in one run, interleaved, with a progress
    bar (in a runtime other than torch, a note says which)."""
    from cnnprof.api.latency import measure_together
    from cnnprof.cli.latency import say_load
    from cnnprof.render.progress import progress_bar
    from cnnprof.report.runtime import runtime_line

    def measure(requests: Sequence[Request]) -> Interleaved:
        say_load(settings.threads, settings.runtime)
        with progress_bar(f"{len(requests)} models, interleaved") as progress:
            measured = measure_together(requests, settings, progress, needs="--latency")
        if settings.runtime != TORCH:
            line = runtime_line(measured.timings[0])
            typer.echo(f"cnnprof: note: latency measured in {line}", err=True)
        return measured

    return measure


def _per_row(settings: LatencySettings) -> Callable[[Request], Timing]:
    """For separable's --latency with --by op or --layers: each model measured alone, a hook on
    every row (as `latency --layers`), with a progress bar."""
    from cnnprof.api.latency import measure
    from cnnprof.render.progress import progress_bar

    rows = replace(settings, layers=True, processes=1)

    def timed(req: Request) -> Timing:
        with progress_bar(f"{req.label}, per row") as progress:
            return measure(req, rows, progress, needs="--latency")

    return timed


# The swept multipliers: the same names and short flags as the single-valued options of `count`.
# fmt: off
AlphaValues = Annotated[str | None, typer.Option(
    "--alpha", "-a", help="Width multipliers α, e.g. 1,0.75,0.5,0.25.")]
ResolutionValues = Annotated[str | None, typer.Option(
    "--resolution", "-r", help="Input sides in pixels, e.g. 224,192,160,128.")]
DepthValues = Annotated[str | None, typer.Option(
    "--depth", help="Depth multipliers (repeats ×D), e.g. 1,1.5,2.")]
PhiValues = Annotated[str | None, typer.Option(
    "--phi", help="Compound coefficients φ: a list or a range, e.g. 0..7.")]
ParamValues = Annotated[list[str] | None, typer.Option(
    "--param", help="A generated family's design parameter and its values, NAME=V1,V2 "
    "(RegNet: d, w0, wa, wm, g, b, se), e.g. wm=2,2.5,3; repeatable.")]
MetricOpt = Annotated[str, typer.Option(
    "--metric", help="Grid cell: macs, params, flops, top1, latency_ms …")]
TargetMs = Annotated[float | None, typer.Option(
    "--target-ms", help="Rank by MnasNet's ACC×(LAT/T)^-0.07 (LAT: predicted with "
    "--device-profile, else measured with --latency).")]
MaxPoints = Annotated[int, typer.Option(
    "--max-points", help="Largest grid the sweep makes (checked first).")]
# fmt: on


def sweep(
    model: Model,
    alpha: AlphaValues = None,
    resolution: ResolutionValues = None,
    depth: DepthValues = None,
    phi: PhiValues = None,
    param: ParamValues = None,
    metric: MetricOpt = "macs",
    pareto: ParetoOpt = False,
    pareto_by: ParetoBy = None,
    latency: Latency = False,
    device_profile: DeviceProfileOpt = None,
    target_ms: TargetMs = None,
    batch: Batch = 1,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
    plot: PlotOpt = None,
    max_points: MaxPoints = MAX_SWEEP_POINTS,
    threads: Threads = None,
    processes: Processes = DEFAULT_PROCESSES,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """Sweep width, resolution, depth or compound multipliers.

    A grid over width, resolution, depth or compound multipliers (MobileNet Tables 6 and 7,
    EfficientNet's compound scaling next to the official B0…B7). The Pareto frontier and
    --target-ms take latency predicted for --device-profile when given (measured latency, with
    --latency too, is shown beside it), else latency measured with --latency, else MACs."""
    from cnnprof.api import tables

    view = _sweep_view(fmt, metric)
    _check_plot(plot, force, output)
    settings = tables.sweep_settings(alpha, resolution, depth, phi, _param_axes(param), max_points)
    result = tables.sweep_model(
        model,
        settings,
        batch=batch,
        device_profile=device_profile,
        target_ms=target_ms,
        timeout=timeout,
        measure=_together(latency, None, device_profile, threads, processes),
        pareto=pareto or pareto_by is not None,
        pareto_by=pareto_by,
        partial=True,
    )
    _emit(result, view, output, force, plot)


def _param_axes(pairs: list[str] | None) -> dict[str, list[Any]]:
    """``["wm=2,2.5", "d=16"]`` → ``{"wm": [2.0, 2.5], "d": [16]}`` (values as written)."""
    axes: dict[str, list[Any]] = {}
    for pair in pairs or []:
        name, sep, values = pair.partition("=")
        if not sep or name not in DESIGN_KEYS:
            known = ", ".join(sorted(DESIGN_KEYS))
            raise OptionError(f"--param {pair!r}: expected NAME=V1,V2 with NAME one of {known}")
        axes[name] = [literal(v) for v in values.split(",") if v.strip()]
    return axes


def _sweep_view(fmt: Format, metric: str) -> View:
    """A sweep's view: its grid shows ``metric``, one of `METRICS`."""
    if metric not in METRICS:
        raise OptionError(f"--metric {metric}: expected one of {', '.join(METRICS)}")
    return View(format=fmt.value, metric=metric)


def _together(
    latency: bool,
    runtime: str | None,
    device_profile: str | None = None,
    threads: int | None = None,
    processes: int = DEFAULT_PROCESSES,
) -> Measure | None:
    """For --latency: every model measured in one run, interleaved, with a progress bar, in
    ``runtime`` (not given: the device profile's, else torch eager; one other than the
    profile's is refused, measured or not), at ``threads`` in ``processes`` fresh processes
    (refused without --latency: they would do nothing)."""
    from cnnprof.api.latency import for_profile
    from cnnprof.cli.measure import refuse_unmeasured

    chosen = for_profile(runtime, device_profile) or TORCH
    refuse_unmeasured(latency, threads, processes)
    if not latency and runtime in (None, TORCH):
        return None
    from cnnprof.cli.measure import measure_together, one_runtime

    chosen = one_runtime(chosen, latency)
    given = {"threads": threads, "processes": processes if processes != DEFAULT_PROCESSES else None}
    options = {k: v for k, v in given.items() if v is not None}
    if chosen != TORCH:
        options["runtime"] = chosen
    return partial(measure_together, **options) if options else measure_together


def _check_plot(plot: Path | None, force: bool, output: Path | None) -> None:
    """Fail before any work when the chart asked for could not be written."""
    if plot is not None:
        charts.require_matplotlib()
        charts.check_path(plot, force, output)


def _emit(
    result: Comparison | SeparableReport | Sweep,
    view: View,
    output: Path | None,
    force: bool,
    plot: Path | None = None,
) -> None:
    """``result`` in ``view`` to the terminal or ``output``; its chart to ``plot`` when asked
    for ("wrote FILE" on stderr). Then each model that failed, one line on stderr, and exit 2
    (with no table when every one failed)."""
    if isinstance(result, SeparableReport) or result.columns:
        emit(present(result, view), output, force)
        if plot is not None:
            charts.models_chart(plot, result)
            typer.echo(f"wrote {plot}", err=True)
    for message in result.failed.values():
        typer.echo(f"cnnprof: error: {message}", err=True)
    if result.failed:
        raise typer.Exit(2)
