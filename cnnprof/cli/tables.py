"""`cnnprof compare`, `cnnprof separable` and `cnnprof sweep`: the papers' tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from cnnprof.arch.reference import DESIGN_KEYS, is_outside, literal, parse_args
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
    emit,
    parse_input,
    refuse,
)
from cnnprof.errors import OptionError
from cnnprof.render import charts, common
from cnnprof.render import tables as render
from cnnprof.report import tables as report
from cnnprof.report.text import to_csv, to_json, to_markdown
from cnnprof.results.metrics import METRICS, ranked_on, value
from cnnprof.results.tables import MAX_SWEEP_POINTS, Column, SweepPoint


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
    device_profile: DeviceProfileOpt = None,
    batch: Batch = 1,
    input: InputOpt = None,
    arg: Args = None,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
    plot: PlotOpt = None,
) -> None:
    """Models side by side: params, MACs, FLOPs, memory, published top-1, ratios to a baseline.
    --input and --arg go to the outside models among them. --latency measures them here,
    --device-profile predicts them for a device; given both, both are shown."""
    from cnnprof.api import tables
    from cnnprof.api.latency import named_profile
    from cnnprof.api.request import request
    from cnnprof.cli.measure import measure_together

    if plot is not None:
        charts.check_path(plot, force, output)
    outside = {"input": parse_input(input), "args": parse_args(arg)}
    if (input or arg) and not any(is_outside(m) for m in models):
        refuse("--input/--arg", "they are for outside models (torchvision:NAME, pkg.mod:make); "
               "none is named here")  # fmt: skip
    requests = [request(m, batch=batch, **(outside if is_outside(m) else {})) for m in models]
    device = None if device_profile is None else named_profile(device_profile, requests[0].dtype)
    timings = measure_together(requests) if latency else [None] * len(requests)
    columns = [tables.column(r, t, device) for r, t in zip(requests, timings, strict=True)]
    result = tables.compare(columns, baseline, device)
    headers, rows, ratios = report.compare_grid(result)
    base = result.columns[result.baseline].label
    notes = [n for n in (report.indistinct_note(result),) if n]
    notes += report.prediction_notes(device, result.columns)
    if fmt is Format.table:
        content: Any = render.comparison(headers, rows, ratios, base)
        content = common.group(content, *map(common.note, notes))
    elif fmt is Format.csv:
        records = report.compare_records(result)
        known = [k for k in records[0] if any(r[k] is not None for r in records)]
        content = to_csv([{k: r[k] for k in known} for r in records], known)
    else:
        title = f"compare · ratios to {base}"
        content = _grid_output(fmt, title, headers, rows, report.compare_dict(result))
        if fmt is Format.md:
            content += "".join(f"\n> {n}\n" for n in notes)
    emit(content, output, force)
    if plot is not None:
        _plot(plot, list(result.columns), [False] * len(result.columns), "macs", "compare")


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
    from cnnprof.api import tables
    from cnnprof.api.request import request

    req = request(model, input=parse_input(input), args=parse_args(arg))
    if req.train:
        refuse(f"separable {req.label}", "compares inference costs; leave train= out")
    result = tables.separable(req)
    totals = report.separable_totals(result)
    if fmt is Format.json:
        content: Any = to_json(report.separable_dict(result))
    elif fmt is Format.csv:
        records = report.separable_records(result, layers)
        content = to_csv(records, list(records[0]) if records else ["path"])
    elif fmt is Format.md:
        grids = [("models", report.SEPARABLE_TOTAL_HEADERS, totals)]
        if layers:
            grids.append(("convolutions", report.SEPARABLE_HEADERS,
                          report.separable_grid(result.rows)))  # fmt: skip
        content = "\n".join(_grid_output(fmt, t, h, r, None) for t, h, r in grids)
    else:
        title = "standard vs depthwise-separable"
        parts: list[Any] = [common.grid(title, report.SEPARABLE_TOTAL_HEADERS, totals, left=2)]
        if layers:
            parts.append(common.grid("every convolution: its cost both ways",
                                     report.SEPARABLE_HEADERS,
                                     report.separable_grid(result.rows), left=2))  # fmt: skip
        content = common.group(*parts)
    emit(content, output, force)


# The swept multipliers: the same names and short flags as the single-valued options of `count`.
AlphaValues = Annotated[
    str | None, typer.Option("--alpha", "-a", help="Width multipliers α, e.g. 1,0.75,0.5,0.25.")
]
ResolutionValues = Annotated[
    str | None,
    typer.Option("--resolution", "-r", help="Input sides in pixels, e.g. 224,192,160,128."),
]
DepthValues = Annotated[
    str | None, typer.Option("--depth", help="Depth multipliers (repeats ×D), e.g. 1,1.5,2.")
]
PhiValues = Annotated[
    str | None, typer.Option("--phi", help="Compound coefficients φ: a list or a range, e.g. 0..7.")
]


def sweep(
    model: Model,
    alpha: AlphaValues = None,
    resolution: ResolutionValues = None,
    depth: DepthValues = None,
    phi: PhiValues = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="A generated family's design parameter and its values, NAME=V1,V2 "
            "(RegNet: d, w0, wa, wm, g, b, se), e.g. wm=2,2.5,3; repeatable.",
        ),
    ] = None,
    metric: Annotated[
        str, typer.Option("--metric", help="Grid cell: macs, params, flops, top1, latency_ms …")
    ] = "macs",
    pareto: Annotated[bool, typer.Option("--pareto", help="Mark non-dominated points.")] = False,
    latency: Latency = False,
    device_profile: DeviceProfileOpt = None,
    target_ms: Annotated[
        float | None,
        typer.Option(
            "--target-ms",
            help="Rank by MnasNet's ACC×(LAT/T)^-0.07 (LAT: predicted "
            "with --device-profile, else measured with --latency).",
        ),
    ] = None,
    batch: Batch = 1,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
    plot: PlotOpt = None,
    max_points: Annotated[
        int, typer.Option("--max-points", help="Largest grid the sweep makes (checked first).")
    ] = MAX_SWEEP_POINTS,
) -> None:
    """A grid over width, resolution, depth or compound multipliers (MobileNet Tables 6 and 7,
    EfficientNet's compound scaling next to the official B0…B7). The Pareto frontier and
    --target-ms take latency predicted for --device-profile when given (measured latency, with
    --latency too, is shown beside it), else latency measured with --latency, else MACs."""
    from cnnprof.api import tables
    from cnnprof.api.latency import named_profile
    from cnnprof.api.request import request
    from cnnprof.cli.measure import measure_together

    if metric not in METRICS:
        raise OptionError(f"--metric {metric}: expected one of {', '.join(METRICS)}")
    if target_ms is not None and (target_ms <= 0 or not (latency or device_profile)):
        raise OptionError("--target-ms needs a latency (--latency, or --device-profile to "
                          "predict it) and a target > 0 ms")  # fmt: skip
    if plot is not None:
        charts.check_path(plot, force, output)
    base = request(model, batch=batch)
    device = None if device_profile is None else named_profile(device_profile, base.dtype)
    if max_points < 1:
        raise OptionError(f"--max-points {max_points}: expected at least 1")
    settings = tables.sweep_settings(
        tables.parse_list(alpha, float, "alpha", max_points),
        tables.parse_list(resolution, int, "resolution", max_points),
        tables.parse_list(depth, float, "depth", max_points),
        tables.parse_list(phi, float, "phi", max_points),
        _param_axes(param),
        max_points,
    )
    points = tables.sweep(base, settings, measure_together if latency else None, target_ms,
                          device)  # fmt: skip
    cost = ranked_on([p.column for p in points])
    data = report.sweep_dict(points, pareto, device)
    notes = report.prediction_notes(device, [p.column for p in points])
    if latency and device is not None:
        notes.append(f"the Pareto flags and ACC×(LAT/T)^w take {cost}, the device profile's "
                     "prediction, not the latency measured here")  # fmt: skip
    emit(_sweep_output(fmt, points, data, metric, notes), output, force)
    if plot is not None:
        _plot(plot, [p.column for p in points], [p.pareto for p in points], cost,
              f"sweep {base.label}")  # fmt: skip


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


def _sweep_output(
    fmt: Format, points: list[SweepPoint], data: dict[str, Any], metric: str, notes: list[str]
) -> Any:
    """The sweep in ``fmt``; ``notes`` (what a prediction is for) under the table and the
    Markdown."""
    if fmt is Format.json:
        return to_json(data)
    records = data["points"]
    columns = [k for k in records[0] if any(r.get(k) is not None for r in records)]
    if fmt is Format.table:  # the terminal gets the core columns; md, csv and json get all
        columns = [k for k in columns if k not in report.WIDE_ONLY]
    rows = [[report.sweep_cell(k, r.get(k)) for k in columns] for r in records]
    titles = [report.sweep_title(k) for k in columns]
    if fmt is Format.csv:  # one table: the device profile a prediction is for, as a column
        device = data["device_profile"]
        if device is not None:
            records = [{**r, "device_profile": device["device_profile"]} for r in records]
        return to_csv(records, list(records[0]))
    grid = report.sweep_grid(points, metric)
    if fmt is Format.md:
        text = f"**{metric}**\n\n" + to_markdown(*grid) + "\n" if grid else ""
        return text + to_markdown(titles, rows) + "".join(f"\n> {n}\n" for n in notes)
    parts: list[Any] = []
    if grid:
        parts.append(common.grid(f"{metric} per configuration", *grid))
    parts.append(common.grid("every configuration", titles, rows))
    note = report.indistinct_note(report.sweep_comparison(points))
    parts += [common.note(n) for n in (note, *notes) if n]
    return common.group(*parts)


def _grid_output(
    fmt: Format, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], data: Any
) -> Any:
    """The same grid as a rich table, Markdown or CSV; ``data`` is the JSON form."""
    if fmt is Format.json:
        return to_json(data)
    if fmt is Format.md:
        return f"**{title}**\n\n" + to_markdown(headers, rows)
    if fmt is Format.csv:
        return to_csv([dict(zip(headers, r, strict=True)) for r in rows], list(headers))
    return common.grid(title, headers, rows)


def _plot(path: Path, columns: list[Column], frontier: list[bool], cost: str, what: str) -> None:
    """Cost against published top-1 when every model has one, else against params, so that
    every model is drawn (at least half must have one, or the ones without it are
    listed under the chart); the Pareto frontier marked; "wrote FILE" on stderr."""
    names = {c.label.partition("@")[0] for c in columns}
    labels = [c.label.partition("@")[2] or c.label if len(names) == 1 else c.label
              for c in columns]  # fmt: skip
    known = [i for i, c in enumerate(columns) if c.top1 is not None]
    if 2 * len(known) < len(columns):  # fewer than half published: params, every model drawn
        known = []
    y_key = "top1" if known else "params"
    chosen = known or list(range(len(columns)))
    unplotted = [labels[i] for i in range(len(columns)) if i not in chosen]
    in_ms = METRICS[cost].unit == "ms"  # a latency, measured or predicted; else MACs
    scale = 1.0 if in_ms else 1e6
    xs = [(value(columns[i], cost) or 0.0) / scale for i in chosen]
    ys = [(value(columns[i], y_key) or 0.0) / (1.0 if known else 1e6) for i in chosen]
    x_label = METRICS[cost].title if in_ms else "MACs (millions)"
    y_label = "published top-1 (%)" if known else "params (millions)"
    title = f"{what}: {y_label} against {x_label}"
    footnote = ("no published top-1, not drawn: " + ", ".join(unplotted)) if unplotted else ""
    charts.scatter(path, [labels[i] for i in chosen], xs, ys, [frontier[i] for i in chosen],
                   x_label, y_label, title, footnote=footnote)  # fmt: skip
    typer.echo(f"wrote {path}", err=True)
