"""`cnnprof latency` and `cnnprof device`: measure, predict on the device's roofs, show."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cnnprof.arch.multipliers import Multipliers
from cnnprof.arch.reference import DEFAULT_TIMEOUT, parse_args
from cnnprof.cli.options import (
    Allocator,
    AllocatorName,
    Args,
    Batch,
    Device,
    DeviceName,
    DeviceProfileOpt,
    Dtype,
    DtypeName,
    Force,
    Format,
    FormatOpt,
    InputOpt,
    Model,
    Output,
    PlotOpt,
    Sort,
    Threads,
    Timeout,
    Top,
    check_output,
    emit,
    parse_input,
    refuse,
    with_multipliers,
)
from cnnprof.errors import OptionError, OutOfTime
from cnnprof.render import charts, common
from cnnprof.render import latency as render
from cnnprof.render.progress import command_bar
from cnnprof.report import latency as report
from cnnprof.report.text import to_csv, to_json
from cnnprof.results.device import Peaks
from cnnprof.results.plausible import implausible
from cnnprof.results.ranking import TIME_KEYS, ranked
from cnnprof.results.timing import DEFAULT_BUDGET, Deadline, LatencySettings
from cnnprof.results.vocab import check_dtype

LATENCY_HELP = (
    "Measure MODEL's latency on this machine: warm-up until stable, then timed runs (median, "
    "p10/p90, CV, throughput), in eval and inference mode with random weights. --layers times "
    "every row and sets each row's time next to its MACs and the roofline's prediction "
    "(max(FLOPs ÷ peak, bytes ÷ bandwidth) + per-op overhead, from `cnnprof device`)."
)


def _warmup(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        runs = int(text)
    except ValueError:
        runs = -1
    if runs < 0:
        raise OptionError(f"--warmup {text}: expected a run count ≥ 0 or 'auto'")
    return runs


@with_multipliers
def latency(
    model: Model,
    multipliers: Multipliers,
    device: Device = DeviceName.cpu,
    batch: Batch = 1,
    threads: Threads = None,
    dtype: Dtype = DtypeName.float32,
    channels_last: Annotated[
        bool, typer.Option("--channels-last", help="NHWC memory format for weights, input.")
    ] = False,
    warmup: Annotated[
        str,
        typer.Option("--warmup", help="Warm-up runs, or 'auto' (until the median is stable)."),
    ] = "auto",
    runs: Annotated[int | None, typer.Option("--runs", "-n", help="Timed runs.")] = None,
    min_time: Annotated[
        float | None,
        typer.Option(
            "--min-time",
            help="Timed runs adding up to at least S seconds (default 1, ≥ 5 runs); with "
            "--layers a hooked run follows each.",
        ),
    ] = None,
    budget: Annotated[
        float, typer.Option("--budget", help="Seconds the whole measurement may take.")
    ] = DEFAULT_BUDGET,
    layers: Annotated[
        bool, typer.Option("--layers", "-l", help="Time every row (forward hooks).")
    ] = False,
    allocator: Allocator = AllocatorName.steady,
    device_profile: DeviceProfileOpt = None,
    plot: PlotOpt = None,
    sort: Sort = None,
    top: Top = None,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
    input: InputOpt = None,
    arg: Args = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    deadline = Deadline(budget)  # the budget counts from the command's start
    from cnnprof.api import latency as api
    from cnnprof.api.request import request
    from cnnprof.api.sources import resolve

    where, kind = device.value, dtype.value
    order = None if sort is None else sort.value
    if (order is not None or top is not None) and not layers:
        refuse("--sort" if order is not None else "--top", "orders the timed layer table: "
               "add --layers")  # fmt: skip
    ranked((), TIME_KEYS, order, top, "latency")  # a bad --sort or --top, refused before measuring
    settings = LatencySettings(
        device=where, threads=threads, channels_last=channels_last, warmup=_warmup(warmup),
        runs=runs, min_time=min_time, budget=budget, layers=layers or plot is not None,
        allocator=allocator.value,
    )  # fmt: skip
    check_dtype(kind, timed=True)  # refused before the device is calibrated
    req = request(model, multipliers, batch=batch, dtype=kind, input=parse_input(input),
                  args=parse_args(arg), timeout=timeout)  # fmt: skip
    if device_profile is not None:
        given = {
            "--device": where != DeviceName.cpu.value, "--threads": threads is not None,
            "--channels-last": channels_last, "--warmup": warmup != "auto",
            "--runs": runs is not None, "--min-time": min_time is not None,
            "--budget": budget != DEFAULT_BUDGET, "--allocator": allocator.value != "steady",
            "--plot": plot is not None, "--sort": order is not None, "--top": top is not None,
        }  # fmt: skip
        for name, present in given.items():
            if present:
                refuse(name, "belongs to a measurement; --device-profile predicts without one "
                       "(the profile fixes the device, threads and allocator)")  # fmt: skip
        check_output(output, force)
        _predict(req, device_profile, layers, fmt, output, force)
        return
    if plot is not None:
        charts.check_plot(plot, force, output)
    check_output(output, force)
    source = resolve(req)  # an unknown model or a refused option: one line, before measuring
    with command_bar(req.label, PHASES) as bar:
        found = api.measure_and_predict(source, settings, deadline, timing=bar.phase(TIMING),
                                        calibration=bar.phase(CALIBRATION))  # fmt: skip
    timing, predicted, notes, measured = found.timing, found.estimate, found.notes, found.peaks
    kernels = found.kernels
    if measured is not None:
        if found.calibration_s is not None:
            _calibrated(measured, found.calibration_s)
        _doubt(measured)
    roofs = measured.roofs if measured else None
    content: Any
    if fmt is Format.json:
        data = report.latency_dict(timing, predicted, roofs, order, top, kernels=kernels)
        content = to_json({**data, "notes": list(notes)})
    elif fmt is Format.csv:
        content = report.latency_csv(timing, predicted, order, top, kernels=kernels)
        for line in notes:  # a CSV file holds one table: notes go to stderr
            typer.echo(f"cnnprof: note: {line}", err=True)
    elif fmt is Format.md:
        content = report.latency_markdown(timing, predicted, order, top, kernels=kernels)
        content += "".join(f"\n> {n}\n" for n in notes)
    else:
        view = render.latency_view(timing, predicted, layers, order, top, kernels=kernels)
        content = common.group(view, *map(common.note, notes))
    emit(content, output, force)
    if plot is not None:
        if roofs is None:
            raise OutOfTime(f"--plot {plot}: no chart without the device's peaks; run "
                            "`cnnprof device` once, or give a larger --budget")  # fmt: skip
        charts.roofline_chart(timing, roofs, plot)
        typer.echo(f"wrote {plot}", err=True)


def _predict(req: Any, reference: str, layers: bool, fmt: Format, output: Any, force: bool) -> None:
    """`latency --device-profile`: the kernel models' and the roofline's prediction for a
    saved device, in the chosen format."""
    from cnnprof.api import latency as api

    found = api.predict_on(req, api.device_profile(reference))
    args = (found.kernels, found.roofline, found.device, layers)
    content: Any
    if fmt is Format.json:
        content = to_json(report.prediction_dict(*args))
    elif fmt is Format.csv:
        content = report.prediction_csv(*args)
    elif fmt is Format.md:
        content = report.prediction_markdown(*args)
    else:
        content = render.prediction_view(*args)
    emit(content, output, force)


def device(
    device: Device = DeviceName.cpu,
    dtype: Dtype = DtypeName.float32,
    threads: Threads = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Measure again, replacing the cached calibration.")
    ] = False,
    thorough: Annotated[
        bool,
        typer.Option(
            "--thorough",
            help="Calibrate the kernel models on 3× the samples "
            "(about a minute; measured afresh and cached).",
        ),
    ] = False,
    save: Annotated[
        Path | None,
        typer.Option(
            "--save",
            help="Write the calibration as a device profile FILE.json, for "
            "`latency --device-profile` anywhere (no torch needed there).",
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
) -> None:
    """Calibrate the device and show it: the roofs (matmul FLOP/s, convolution curves, copy
    bandwidth, per-op overhead) and the kernel models the predictor fits (cached per device,
    torch version, threads and dtype; --save writes them as a portable device profile)."""
    from cnnprof.api import latency as api

    where, kind = device.value, dtype.value
    LatencySettings(device=where, threads=threads)  # checked when built
    check_dtype(kind, timed=True)
    check_output(output, force)
    if save is not None:
        check_output(save, force, "--save")
    notes: list[str] = []
    with command_bar("cnnprof device", (CALIBRATION,)) as bar:
        started = time.monotonic()
        measured = api.peaks(where, kind, threads, refresh=refresh, progress=bar.phase(CALIBRATION),
                             needs="cnnprof device", notes=notes, thorough=thorough)  # fmt: skip
        _calibrated(measured, time.monotonic() - started)
    if save is not None:
        emit(to_json(measured.to_dict()), save, force)
        typer.echo(f"wrote {save}", err=True)
    for line in notes:  # a cache not used or not written
        typer.echo(f"cnnprof: note: {line}", err=True)
    content: Any
    if fmt is Format.json:
        content = to_json(measured.to_dict())
    elif fmt is Format.csv:
        records = report.peaks_records(measured)
        content = to_csv(records, list(records[0]))
    elif fmt is Format.md:
        content = report.peaks_markdown(measured)
    else:
        content = render.peaks_table(measured, api.peaks_cache(measured))
    emit(content, output, force)
    _doubt(measured)


# One bar per command: timing, then calibrating the device (only when its peaks are not cached,
# with what is left of the budget).
TIMING, CALIBRATION = "timing", "device calibration"
PHASES = (TIMING, CALIBRATION)


def _calibrated(measured: Peaks, seconds: float) -> None:
    """The one-time note: a calibration ran (it is cached for every later run)."""

    if seconds > 1.0:
        from cnnprof.api.latency import peaks_cache

        where = peaks_cache(measured) or "not cached"
        typer.echo(f"cnnprof: calibrated {measured.device_name} once in {seconds:.0f} s "
                   f"({where}); later runs reuse it, `cnnprof device --refresh` redoes it",
                   err=True)  # fmt: skip


def _doubt(measured: Peaks) -> None:
    """A calibration that stayed implausible after measuring again: said on stderr, every time
    it is used."""

    for reason in implausible(measured):
        typer.echo(f"cnnprof: device peaks look implausible ({reason}); a quieter machine and "
                   "`cnnprof device --refresh` measure them again", err=True)  # fmt: skip
