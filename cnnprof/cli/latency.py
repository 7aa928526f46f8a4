"""`cnnprof latency` and `cnnprof device`: measure, predict on the device's roofs, show."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cnnprof.arch.multipliers import Multipliers
from cnnprof.arch.reference import DEFAULT_TIMEOUT
from cnnprof.cli import latency_view as shown
from cnnprof.cli.options import (
    Allocator,
    AllocatorName,
    Args,
    Batch,
    ByOp,
    CalibrationRuntime,
    Device,
    DeviceName,
    DeviceProfileOpt,
    DeviceRuntime,
    Dtype,
    DtypeName,
    Force,
    Format,
    FormatOpt,
    InputOpt,
    MaxDepth,
    Model,
    Output,
    PlotOpt,
    Processes,
    RunOptions,
    Runtime,
    Sort,
    Threads,
    Timeout,
    Top,
    check_output,
    emit,
    refuse,
    with_group,
    with_multipliers,
)
from cnnprof.errors import OptionError, OutOfTime
from cnnprof.render import charts
from cnnprof.render import latency as render
from cnnprof.render.progress import command_bar
from cnnprof.report import latency as report
from cnnprof.report.peaks import present_peaks
from cnnprof.report.view import View
from cnnprof.results import judge
from cnnprof.results.device import DeviceQuery, Peaks
from cnnprof.results.interleaved import LatencyRatio
from cnnprof.results.judge import Calibration, refused_sentence
from cnnprof.results.latency import Measured
from cnnprof.results.plausible import implausible
from cnnprof.results.ranking import TIME_KEYS, ranked
from cnnprof.results.timing import (
    DEFAULT_BUDGET,
    DEFAULT_PROCESSES,
    TORCH,
    Deadline,
    LatencySettings,
)
from cnnprof.results.vocab import check_dtype

if TYPE_CHECKING:
    from cnnprof.api.kinds import Source
    from cnnprof.api.request import Request

LATENCY_HELP = (
    "Measure MODEL's latency on this machine.\n\n"
    "Warm-up until stable, then timed runs (median, "
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


# The measurement's options, in the order help lists them: (parameter, annotation, default).
# fmt: off
MEASUREMENT_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("device", Device, DeviceName.cpu),
    ("batch", Batch, 1),
    ("threads", Threads, None),
    ("dtype", Dtype, DtypeName.float32),
    ("channels_last", Annotated[bool, typer.Option(
        "--channels-last", help="NHWC memory format for weights, input.")], False),
    ("warmup", Annotated[str, typer.Option(
        "--warmup", help="Warm-up runs, or 'auto' (until the median is stable).")], "auto"),
    ("runs", Annotated[int | None, typer.Option("--runs", "-n", help="Timed runs.")], None),
    ("min_time", Annotated[float | None, typer.Option(
        "--min-time", help="Timed runs adding up to at least S seconds (default 1, ≥ 5 runs); "
        "with --layers a hooked run follows each.")], None),
    ("budget", Annotated[float, typer.Option(
        "--budget", help="Seconds the whole measurement may take.")], DEFAULT_BUDGET),
    ("layers", Annotated[bool, typer.Option(
        "--layers", "-l", help="Time every row (forward hooks).")], False),
    ("allocator", Allocator, AllocatorName.steady),
    ("runtime", Runtime, None),
    ("processes", Processes, DEFAULT_PROCESSES),
)
# fmt: on
# The options a prediction for a device profile uses too; the others belong to a measurement.
PREDICTION_USES = ("batch", "dtype", "layers", "runtime")


@dataclass(frozen=True)
class Measurement:
    """`cnnprof latency`'s measurement options as given: where and how the model is timed."""

    device: Any  # a DeviceName
    batch: int
    threads: int | None
    dtype: Any  # a DtypeName
    channels_last: bool
    warmup: str
    runs: int | None
    min_time: float | None
    budget: float
    layers: bool
    allocator: Any  # an AllocatorName
    runtime: str | None  # one runtime, or a comma list of them (None: the model's default)
    processes: int

    def runtimes(self) -> tuple[str, ...]:
        from cnnprof.api.runtimes import runtimes

        return runtimes(self.runtime or TORCH)

    def for_model(self, model: str) -> Measurement:
        """These options with the runtime ``model`` is timed in when --runtime is not given
        (`default_runtime`: ONNX Runtime for an ONNX file)."""
        from cnnprof.api.runtimes import default_runtime

        return replace(self, runtime=self.runtime or default_runtime(model))

    def settings(self, plot: bool) -> LatencySettings:
        """The API's settings (checked when built); a chart needs every row timed; with two
        runtimes, torch's (the API gives ONNX Runtime the same)."""
        chosen = self.runtimes()
        return LatencySettings(
            runtime=chosen[0] if len(chosen) == 1 else "torch",
            device=self.device.value,
            threads=self.threads,
            channels_last=self.channels_last,
            warmup=_warmup(self.warmup),
            runs=self.runs,
            min_time=self.min_time,
            budget=self.budget,
            layers=self.layers or plot,
            allocator=self.allocator.value,
            processes=self.processes,
        )

    def request(
        self, model: str, multipliers: Multipliers, *, input: Any, arg: Any, timeout: float
    ) -> Request:
        """The API's `Request` for ``model`` at this batch and dtype, with the outside model's
        ``--input``, ``--arg`` and ``--timeout``."""
        run = RunOptions(self.batch, self.dtype, input, arg, param=None, timeout=timeout)
        return run.request(model, multipliers)

    def given(self) -> list[str]:
        """The options of the measurement alone that were given other values than their
        defaults, as flags (``--threads``)."""
        return [
            "--" + name.replace("_", "-")
            for name, _, default in MEASUREMENT_OPTIONS
            if name not in PREDICTION_USES and getattr(self, name) != default
        ]


with_measurement = with_group("measurement", MEASUREMENT_OPTIONS, Measurement)


@with_multipliers
@with_measurement
def latency(
    model: Model,
    multipliers: Multipliers,
    measurement: Measurement,
    device_profile: DeviceProfileOpt = None,
    plot: PlotOpt = None,
    by: ByOp = None,
    max_depth: MaxDepth = None,
    sort: Sort = None,
    top: Top = None,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
    input: InputOpt = None,
    arg: Args = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    deadline = Deadline(measurement.budget)  # the budget counts from the command's start
    asked = measurement.runtime  # None: the profile's runtime predicts, the model's is timed
    measurement = measurement.for_model(model)
    view = shown.view(fmt, sort, measurement.layers, top, by, max_depth)
    settings = _checked(measurement, view, plot is not None)
    req = measurement.request(model, multipliers, input=input, arg=arg, timeout=timeout)
    if device_profile is not None:
        _refuse_measuring(measurement, view, plot is not None)
        check_output(output, force)
        _predict(req, device_profile, asked, view, output, force)
        return
    if len(measurement.runtimes()) > 1:
        shown.refuse_for_runtimes(view, plot is not None)
        check_output(output, force)
        emit(render.present_runtimes(_runtimes(req, settings, deadline), view), output, force)
        return
    if plot is not None:
        _refuse_plot(settings)
        charts.check_plot(plot, force, output)
    check_output(output, force)
    found, source = _measured(req, settings, deadline)
    for line in report.notes_apart(found, view):
        typer.echo(f"cnnprof: note: {line}", err=True)
    emit(shown.measured(found, view, source), output, force)
    if plot is not None:
        _chart(found, plot)


def _checked(measurement: Measurement, view: View, plot: bool) -> LatencySettings:
    """The measurement's settings, after refusing what would do nothing (before measuring)."""
    if (view.sort is not None or view.top is not None) and not (view.layers or view.by_op):
        refuse(
            "--sort" if view.sort is not None else "--top",
            "orders the timed layer table: add --layers",
        )
    ranked((), TIME_KEYS, view.sort, view.top, "latency")  # a bad --sort or --top
    if plot and measurement.processes > 1:
        refuse(
            f"--plot --processes {measurement.processes}",
            "the chart needs per-row times, which come from one process; give --processes 1",
        )
    settings = measurement.settings(plot or view.by_op)  # --by op times every row too
    check_dtype(measurement.dtype.value, timed=True)  # refused before the device is calibrated
    return settings


def _refuse_measuring(measurement: Measurement, view: View, plot: bool) -> None:
    """`latency --device-profile` predicts: options of a measurement would do nothing there."""
    shown = {"--plot": plot, "--sort": view.sort is not None, "--top": view.top is not None}
    for name in [*measurement.given(), *(name for name, present in shown.items() if present)]:
        refuse(
            name,
            "belongs to a measurement; --device-profile predicts without one "
            "(the profile fixes the device, threads and allocator)",
        )


def _predict(
    req: Request, device_profile: str, asked: str | None, view: View, output: Any, force: bool
) -> None:
    """The model predicted for the device profile, in the runtime it was calibrated in (an
    ``asked`` runtime other than that is refused); an ONNX file predicted from a torch eager
    profile is said so: its rows as torch eager would run them, not the graph in ONNX Runtime."""
    from cnnprof.api import latency as api
    from cnnprof.api.sources import resolve
    from cnnprof.arch.reference import is_onnx

    source = resolve(req)
    predicted = api.predict_on(
        source, api.device_profile(device_profile), asked, name=f"--device-profile {device_profile}"
    )
    if is_onnx(req.model) and predicted.device.runtime == TORCH:
        typer.echo(
            f"cnnprof: note: {device_profile} was calibrated in torch eager: this predicts "
            "the file's rows as torch eager would run them, not ONNX Runtime (a profile from "
            "`cnnprof device --runtime onnxruntime --save FILE` predicts that)",
            err=True,
        )
    emit(shown.predicted(predicted, view, source), output, force)


def _refuse_plot(settings: LatencySettings) -> None:
    if settings.runtime != "torch":
        refuse(f"--plot --runtime {settings.runtime}", "the roofline chart is of torch eager")


def _runtimes(req: Request, settings: LatencySettings, deadline: Deadline) -> LatencyRatio:
    """The model under ONNX Runtime and in eager, interleaved, under one progress bar."""
    from cnnprof.api import latency as api
    from cnnprof.api.sources import resolve

    source = resolve(req)
    with command_bar(req.label, (TIMING,)) as bar:
        return api.measure_runtimes(source, settings, bar.phase(TIMING), deadline=deadline)


def _measured(
    req: Request, settings: LatencySettings, deadline: Deadline
) -> tuple[Measured, Source]:
    """The model timed under one progress bar, and predicted on the device's roofs (calibrated
    first when they are not cached and the budget allows); and the source it was timed from."""
    from cnnprof.api import latency as api
    from cnnprof.api.sources import resolve

    source = resolve(req)  # an unknown model or a refused option: one line, before measuring
    with command_bar(req.label, PHASES) as bar:
        found = api.measure_and_predict(
            source,
            settings,
            deadline,
            timing=bar.phase(TIMING),
            calibration=bar.phase(CALIBRATION),
            before=lambda line: typer.echo(f"cnnprof: note: {line}", err=True),
        )
    if found.peaks is not None:
        _judged(found.peaks, found.calibration_s)
    return found, source


def _judged(peaks: Peaks, calibration_s: float | None) -> None:
    """What `latency` says of the calibration its prediction used: one made now (and whether
    it was cached), and the judge's reasons against it (measured now: refused, not cached)."""
    from cnnprof.api.latency import peaks_cache

    refused = judge.refusals(peaks)
    if calibration_s is not None:
        cached = None if refused or peaks.partial else peaks_cache(peaks)
        _calibrated(Calibration(peaks, cached_to=cached, refused=tuple(refused)))
    _doubt(peaks, refused, cached=calibration_s is None)


def _chart(found: Measured, plot: Path) -> None:
    if found.peaks is None:
        raise OutOfTime(
            f"--plot {plot}: no chart without the device's peaks; run "
            "`cnnprof device` once, or give a larger --budget"
        )
    charts.roofline_chart(found.timing, found.peaks.roofs, plot)
    typer.echo(f"wrote {plot}", err=True)


Refresh = Annotated[
    bool, typer.Option("--refresh", help="Measure again, replacing the cached calibration.")
]
Thorough = Annotated[
    bool,
    typer.Option(
        "--thorough",
        help="Calibrate the kernel models on 3× the samples "
        "(about a minute; measured afresh and cached).",
    ),
]
Save = Annotated[
    Path | None,
    typer.Option(
        "--save",
        help="Write the calibration as a device profile FILE.json, for "
        "`latency --device-profile` anywhere (no torch needed there).",
    ),
]


def device(
    device: Device = DeviceName.cpu,
    dtype: Dtype = DtypeName.float32,
    threads: Threads = None,
    refresh: Refresh = False,
    thorough: Thorough = False,
    save: Save = None,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
    runtime: DeviceRuntime = CalibrationRuntime.torch,
) -> None:
    """Calibrate this device: its roofs and kernel timing models.

    The roofs (matmul FLOP/s, convolution curves, copy bandwidth, per-op overhead) and the
    kernel models the predictor fits (cached per device, torch version, threads and dtype;
    --save writes them as a portable device profile).

    A calibration the judge refuses (its kernel models' error, its samples' spread, the load
    on the machine) is shown with the reasons, not cached, and not saved without --force.

    --runtime onnxruntime times ONNX Runtime's kernels instead (cached per its version), and
    needs no torch."""
    where, kind = device.value, dtype.value
    LatencySettings(device=where, threads=threads)  # checked when built
    check_dtype(kind, timed=True)
    check_output(output, force)
    if save is not None:
        check_output(save, force, "--save")
    if runtime is CalibrationRuntime.onnxruntime:
        from cnnprof.cli.ort_device import ort_calibration

        found, notes = ort_calibration(where, kind, threads, refresh, thorough)
    else:
        query = DeviceQuery(where, kind, threads, refresh=refresh, thorough=thorough)
        found, notes = _calibration(query)
    if save is not None:
        _save(found, save, force)
    _calibrated(found)
    for line in notes:  # a cache not used or not written
        typer.echo(f"cnnprof: note: {line}", err=True)
    view = View(format=fmt.value)
    emit(render.present_peaks(found.peaks, view, found.cache), output, force)
    _doubt(found.peaks, found.refused, not found.measured_now)


def _save(found: Calibration, save: Path, force: bool) -> None:
    """``--save``: the calibration as a device profile; one the judge refused only with
    ``--force`` (exit 2 otherwise, saying why and what to do)."""
    if found.refused and not force:
        raise OptionError(
            f"--save {save}: {refused_sentence(found.refused, threads=found.peaks.threads)}; "
            "--force saves it anyway"
        )
    emit(present_peaks(found.peaks, View(format="json")), save, force)
    typer.echo(f"wrote {save}", err=True)


def _calibration(query: DeviceQuery) -> tuple[Calibration, list[str]]:
    """The device's calibration (from the cache, or measured under a progress bar, after a
    note when the load leaves fewer free cores than the threads asked), and the notes on a
    cache not used or not written."""
    from cnnprof.api import latency as api

    notes: list[str] = []
    if query.refresh or query.thorough or api.cached_peaks(query, [], "cnnprof device") is None:
        say_load(query.threads)
    with command_bar("cnnprof device", (CALIBRATION,)) as bar:
        found = api.calibration(
            query, progress=bar.phase(CALIBRATION), needs="cnnprof device", notes=notes
        )
    return found, notes


def say_load(threads: int | None, runtime: str = TORCH) -> None:
    """The note before measuring in ``runtime``, when the load leaves fewer free cores than
    ``threads`` (None: one per core)."""
    from cnnprof.api.machine_load import load_note

    note = load_note(threads, runtime=runtime)
    if note is not None:
        typer.echo(f"cnnprof: note: {note}", err=True)


# One bar per command: timing, then calibrating the device (only when its peaks are not cached,
# with what is left of the budget).
TIMING, CALIBRATION = "timing", "device calibration"
PHASES = (TIMING, CALIBRATION)


def _calibrated(found: Calibration) -> None:
    """Where the calibration came from: the cache (when it was made), or measured now (how long
    it took, and where it is cached, or that it was not)."""
    p = found.peaks
    if not found.measured_now:
        typer.echo(
            f"cnnprof: using the calibration cached from {p.measured_at} ({found.cached_from});"
            " `cnnprof device --refresh` measures again",
            err=True,
        )
        return
    runs = "" if p.runtime == TORCH else f" under {p.runtime_label}"
    kept = (
        f"({found.cached_to}); later runs reuse it, `cnnprof device --refresh` redoes it"
        if found.cached_to
        else "(not cached)"
    )
    typer.echo(
        f"cnnprof: calibrated {p.device_name}{runs} once in {p.calibration_s:.0f} s {kept}",
        err=True,
    )


def _doubt(
    measured: Peaks, refused: tuple[str, ...] | list[str] = (), cached: bool = False
) -> None:
    """A calibration the judge refused, said on stderr every time it is used: measured now (not
    cached), or read from a cache made before calibrations were judged."""
    if refused:
        sentence = refused_sentence(refused, cached, threads=measured.threads)
        typer.echo(f"cnnprof: warning: {sentence}", err=True)
    for reason in implausible(measured) if not refused else ():
        typer.echo(
            f"cnnprof: device peaks look implausible ({reason}); a quieter machine and "
            "`cnnprof device --refresh` measure them again",
            err=True,
        )
