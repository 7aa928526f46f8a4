"""Latency use cases: measure a request's model on a device, read (or measure) the device's peaks,
predict on its roofs. torch is reached only through `sources`."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import cnnprof.files as files
from cnnprof.analytic import predictor
from cnnprof.analytic.predictor import UnsoundPrediction
from cnnprof.analytic.roofline import estimate
from cnnprof.api import worker
from cnnprof.api.doors import device_peaks, peaks_cache, this_machine
from cnnprof.api.kinds import Source
from cnnprof.api.machine_load import load_note
from cnnprof.api.ort_device import check_runtime, kernel_prediction
from cnnprof.api.request import Request
from cnnprof.api.sources import resolve
from cnnprof.errors import OptionError, OutOfTime
from cnnprof.protocol.interleave import measure_interleaved
from cnnprof.results.device import (
    RECORD_LIMIT,
    DeviceProfile,
    DeviceQuery,
    Estimate,
    Peaks,
    Prediction,
)
from cnnprof.results.interleaved import Interleaved, LatencyRatio
from cnnprof.results.judge import Calibration
from cnnprof.results.latency import Measured, Predicted
from cnnprof.results.profile import Profile
from cnnprof.results.timing import (
    DEFAULT_PROCESSES,
    ONNXRUNTIME,
    TORCH,
    Deadline,
    LatencySettings,
    Timing,
)
from cnnprof.results.validate import parse_record
from cnnprof.results.vocab import Progress

PEAKS_LIMIT = 600.0  # seconds the device microbenchmark may take when no budget says otherwise
TIMING_SHARE = 0.5  # of a budget, for the timing, when the device's peaks must be measured too
PREDICT_RESERVE = 0.5  # seconds of a budget kept for the prediction and the output
# Seconds a CPU calibration takes on a quiet machine (a 2-core Xeon: 17.7–18.6 s at 1 thread,
# 12.9–14.4 s at 2, four runs each; beside 4 busy processes 54 s and 128 s), and the share of it
# that holds the minimum kept when a budget cuts it short: the roofs (40 %) and the networks that
# fit the conv kinds' models.
CALIBRATION_S = 15.0
MINIMUM_SHARE = 0.6
MIN_CALIBRATION_S = MINIMUM_SHARE * CALIBRATION_S  # a calibration is not started with less


__all__ = [
    "Machine",
    "Measured",
    "Predicted",
    "cached_peaks",
    "calibration",
    "device_profile",
    "load_note",
    "machine",
    "measure",
    "measure_and_predict",
    "measure_runtimes",
    "measure_together",
    "named_profile",
    "peaks",
    "peaks_cache",
    "predict",
    "predict_on",
    "predicted_for",
    "shipped_profiles",
]


def measure(
    model: Request | Source,
    settings: LatencySettings | None = None,
    progress: Progress | None = None,
    needs: str = "cnnprof latency",
    *,
    deadline: Deadline | None = None,
    stop: Deadline | None = None,
) -> Timing:
    """Measure the model a request (or a source already resolved) names, batch and dtype from
    the request, with random weights: a spec built on the device, an outside model constructed
    there (an ``nn.Module`` given directly is copied first). Per-row times follow the analytic
    rows. ``deadline`` (default: the settings' budget from now) bounds the whole measurement;
    an outside model's own code is stopped at ``stop`` (default: the deadline). With
    ``settings.processes`` > 1 the model is timed once in each of that many fresh processes
    (`worker`), their runs pooled and the median the median of theirs."""
    settings = settings or LatencySettings()
    source = resolve(model) if isinstance(model, Request) else model
    if settings.processes > 1:  # each process times the model afresh: see `worker`
        deadline = deadline or Deadline(settings.budget)
        timed = worker.timed_in_processes(source.request, settings, deadline, progress, needs)
    else:
        timed = source.timed(settings, progress, needs, deadline=deadline, stop=stop)
    return replace(timed, label=source.request.label)


def calibration(
    query: DeviceQuery,
    *,
    progress: Progress | None = None,
    needs: str = "cnnprof latency",
    notes: list[str] | None = None,
) -> Calibration:
    """The calibration (roofs and kernel models) of ``query``'s device, from the cache or
    measured now (and cached when the judge accepts it), with whether it was read or measured
    and why it was refused; it takes at most ``query.within`` seconds (default: PEAKS_LIMIT;
    `OutOfTime` past it); ``notes`` gets a cache not used or not written; ``query.thorough``
    calibrates the kernels on more samples, measured afresh (and cached in place of the
    default calibration)."""
    within = PEAKS_LIMIT if query.within is None else query.within
    query = replace(query, within=within)
    found = device_peaks(query, progress=progress, needs=needs, notes=notes)
    if found is None:  # only a cached_only query gives none
        raise OutOfTime(f"the device's peaks were not measured within {within:g} s")
    return found


def peaks(query: DeviceQuery, **options: Any) -> Peaks:
    """`calibration`'s record alone (``options`` as `calibration` takes them)."""
    return calibration(query, **options).peaks


def cached_peaks(
    query: DeviceQuery, notes: list[str], needs: str = "cnnprof latency"
) -> Peaks | None:
    """The peaks of ``query``'s device if a usable record is cached (None otherwise; nothing
    is measured)."""
    query = replace(query, refresh=False, thorough=False, cached_only=True)
    found = device_peaks(query, progress=None, needs=needs, notes=notes)
    return None if found is None else found.peaks


def calibration_note(budget: float) -> str | None:
    """The sentence to say before a `cnnprof latency` whose device is not calibrated when its
    ``budget`` leaves too little for even the minimum of a calibration; None when it does."""
    share = (1 - TIMING_SHARE) * budget
    if share >= MIN_CALIBRATION_S:
        return None
    return (
        f"this device is not calibrated: a calibration takes about {CALIBRATION_S:.0f} s "
        f"({MIN_CALIBRATION_S:.0f} s at the least), more than the {share:.1f} s --budget "
        f"{budget:g} leaves it; no prediction this time. `cnnprof device` calibrates once"
    )


def predict(source: Source, timing: Timing, measured: Peaks) -> Estimate:
    """The roofline's prediction of the source's model on ``measured``'s roofs, with the
    kernels and page faults of ``timing``."""
    return estimate(
        source.profile(),
        measured.roofs,
        timing.channels_last,
        timing.kernel_map(),
        timing.page_faults,
        timing.row_faults(),
    )


def measure_together(
    requests: Sequence[Request],
    settings: LatencySettings | None = None,
    progress: Progress | None = None,
    needs: str = "--latency",
) -> Interleaved:
    """The requests' models measured in one run, interleaved round by round (see
    `Interleaved`), so that a change of load weighs on all alike; in ``settings.runtime``, on
    ``settings.device``, with random weights (a module the caller gave is copied first), within
    the settings' budget for each model; the models' own code is stopped there. With
    ``settings.processes`` > 1, each round times every model in a fresh process (`worker`)."""
    settings = settings or LatencySettings()
    sources = [resolve(r) for r in requests]
    deadline = Deadline(settings.budget * len(sources))
    if settings.processes > 1:
        requests = [s.request for s in sources]
        return worker.together_in_processes(requests, settings, deadline, progress, needs)
    contenders = [s.contender(settings.device, needs, settings.runtime) for s in sources]
    with contextlib.ExitStack() as guests:
        for source in sources:
            guests.enter_context(source.running(deadline.left()))
        return measure_interleaved(contenders, settings, deadline, progress)


def measure_runtimes(
    model: Request | Source,
    settings: LatencySettings,
    progress: Progress | None = None,
    needs: str = "--runtime torch,onnxruntime",
    *,
    deadline: Deadline | None = None,
) -> LatencyRatio:
    """The model under ONNX Runtime and in torch eager, measured interleaved round by round
    (see `Interleaved`) at the same batch, input shape, dtype and threads (default: torch's
    count now, given to both): ONNX Runtime's time over eager's, per round."""
    from cnnprof.deploy.ort import refuse_options

    refuse_options(settings)  # before either runtime starts
    if settings.processes > 1:
        raise OptionError(
            f"--processes {settings.processes} --runtime torch,onnxruntime: the ratio is read "
            "round by round inside one process; give --processes 1"
        )
    source = resolve(model) if isinstance(model, Request) else model
    threads = settings.threads or this_machine(needs)[1]
    chosen = replace(settings, threads=threads, runtime=TORCH)
    deadline = deadline or Deadline(2 * settings.budget)
    contenders = [source.contender(chosen.device, needs, r) for r in (ONNXRUNTIME, TORCH)]
    with source.running(deadline.left()):
        measured = measure_interleaved(contenders, chosen, deadline, progress)
    return LatencyRatio.of(measured, TORCH)


# --- device profiles: a calibration saved, and predictions from it without the device ------------


def shipped_profiles() -> dict[str, Path]:
    """The device profiles cnnprof ships (``configs/devices/*.json``), by name."""
    folder = Path(str(resources.files("cnnprof.configs") / "devices"))
    return {p.stem: p for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def device_profile(reference: str, what: str | None = None) -> Peaks:
    """A device profile from a file (``*.json``, as `cnnprof device --save` writes it) or by the
    name of a shipped one; `OptionError` in one line when it cannot be used, starting with
    ``what`` (default: the option that names it). No torch."""
    shipped = shipped_profiles()
    path = shipped.get(reference) or Path(reference)
    what = what or f"--device-profile {reference}"
    if reference not in shipped and not files.exists(path, "device profile"):
        names = ", ".join(shipped) or "none"
        raise OptionError(f"{what}: no such file, nor a shipped profile (shipped: {names})")
    record, problem = files.parse_file(path, "device profile", parse_record, RECORD_LIMIT)
    if record is None or problem is not None:
        raise OptionError(
            f"{what}: not a usable device profile ({problem}; `cnnprof device "
            "--save FILE` writes one)"
        )
    return record


def for_profile(runtime: str | None, reference: str | None) -> str | None:
    """``--runtime`` beside ``--device-profile`` (``reference``): as given when it is the
    profile's runtime, refused in one line when it is another or two; not given, the
    profile's (None without a profile)."""
    if reference is None:
        return runtime
    peaks = device_profile(reference)
    check_runtime(DeviceProfile("--device-profile", peaks), runtime)
    return runtime or peaks.runtime


def named_profile(reference: str, dtype: str, what: str | None = None) -> DeviceProfile:
    """`device_profile`, for models that run in ``dtype``: a profile calibrated in another dtype
    is refused now, in one line, before anything is counted."""
    what = what or f"--device-profile {reference}"
    found = DeviceProfile(reference, device_profile(reference, what))
    _calibrated_for(found, dtype, what)
    return found


def _calibrated_for(device: DeviceProfile, dtype: str, what: str) -> None:
    if device.peaks.dtype != dtype:
        raise OptionError(
            f"{what}: calibrated in {device.peaks.dtype}, the models run in "
            f"{dtype}; calibrate one in {dtype} (`cnnprof device --dtype {dtype} "
            "--save FILE`)"
        )


def predicted_for(
    profile: Profile,
    device: DeviceProfile,
    runtime: str | None = None,
    source: Source | None = None,
) -> Prediction:
    """A counted profile's latency on a named device profile's kernel models (no torch), for
    the runtime it was calibrated in (``runtime``, when given, must be that one; ``source``,
    when given, the model's, whose graph ONNX Runtime's prediction reads where it is an ONNX
    file); the profile's dtype must be the one the device was calibrated in."""
    _calibrated_for(device, profile.dtype, f"device profile {device.name}")
    check_runtime(device, runtime)
    return _named(
        f"device profile {device.name}", lambda: kernel_prediction(profile, device.peaks, source)
    )


def _named(name: str, predict: Callable[[], Prediction]) -> Prediction:
    """``predict()``, its `UnsoundPrediction` (a damaged profile's figure) an `OptionError`
    in one line starting with ``name``, the device profile's."""
    try:
        return predict()
    except UnsoundPrediction as exc:
        raise OptionError(
            f"{name}: not a usable device profile ({exc}; `cnnprof device --save FILE` writes one)"
        ) from None


def predict_on(
    model: Request | Source,
    device: Peaks,
    runtime: str | None = None,
    *,
    name: str = "the device profile",
) -> Predicted:
    """Predict ``model`` (at its request's batch and dtype) on ``device``, a device profile
    (``name``: the option naming it, where its errors start), for the runtime it was
    calibrated in (``runtime``, when given, must be that one); a spec needs no torch. The
    dtype must be the profile's."""
    source = resolve(model) if isinstance(model, Request) else model
    dtype = source.request.dtype
    _calibrated_for(DeviceProfile("", device), dtype, f"--dtype {dtype}: the device profile")
    check_runtime(DeviceProfile("--device-profile", device), runtime)
    profile = source.profile()
    found = _named(name, lambda: kernel_prediction(profile, device, source))
    prediction = replace(found, missing=profile.missing)
    return Predicted(prediction, estimate(profile, device.roofs), device, source.request.label)


def measure_and_predict(
    model: Request | Source,
    settings: LatencySettings,
    deadline: Deadline | None = None,
    *,
    timing: Progress | None = None,
    calibration: Progress | None = None,
    before: Callable[[str], None] | None = None,
) -> Measured:
    """Time ``req`` and predict it on the device's roofs, all within ``settings.budget`` (or
    ``deadline``): with the peaks cached, or a budget too short to measure them, the timing may
    use the whole budget; otherwise it uses TIMING_SHARE of it and the calibration what is
    left (kept when the budget cuts it short after its minimum, not cached; no prediction
    when not even that fits: a note says so). ``timing`` and ``calibration`` report each
    phase's progress; ``before`` gets, before anything is timed, a load that leaves fewer free
    cores than the threads asked and a budget too short to calibrate (`load_note`,
    `calibration_note`)."""
    deadline = deadline or Deadline(settings.budget)
    source = resolve(model) if isinstance(model, Request) else model
    say = before or (lambda line: None)
    if settings.runtime != TORCH:  # the roofline and kernel models describe torch eager
        timed = _within_budget(measure(source, settings, timing, deadline=deadline), deadline)
        return replace(Measured.alone(timed), label=source.request.label)
    dtype = source.request.dtype
    notes: list[str] = []
    query = DeviceQuery(settings.device, dtype, settings.threads)
    cached = cached_peaks(query, notes)
    with source.running(deadline.left()):  # the analytic walk of an outside model runs it
        source.profile()
    short = None if cached is not None else calibration_note(settings.budget)
    for line in filter(None, (load_note(settings.threads), short)):
        say(line)
    calibrate = cached is None and short is None  # only when its share could hold it
    share = TIMING_SHARE if calibrate else 1.0
    measured_timing = measure(
        source, settings, timing, deadline=deadline.part(share), stop=deadline
    )
    measured, seconds = cached, None
    left = deadline.left() - PREDICT_RESERVE
    if calibrate and left >= MIN_CALIBRATION_S:
        measured, seconds = _calibrated_within(query, left, calibration, notes)
    if measured is None:
        notes.append(
            f"no roofline prediction: this device's peaks are not cached and measuring them "
            f"takes longer than the {max(left, 0):.1f} s left of --budget "
            f"{settings.budget:g}; `cnnprof device` measures and caches them once"
        )
    estimate = None if measured is None else predict(source, measured_timing, measured)
    kernels = None
    if measured is not None and measured.kernels:
        kernels = _named(
            "this device's calibration", lambda: predictor.predict(source.profile(), measured)
        )
        notes += _conditions_note(settings, measured)
    stopped = calibrate and (measured is None or bool(measured.partial))  # no time for all of it
    measured_timing = _within_budget(measured_timing, deadline, stopped)
    label = source.request.label
    return Measured(measured_timing, measured, estimate, tuple(notes), seconds, kernels, label)


def _within_budget(timing: Timing, deadline: Deadline, stopped: bool = False) -> Timing:
    """``timing`` with ``budget_hit`` set where the budget stopped a later phase (``stopped``:
    the calibration, left out or cut short) or the command has run past it (a calibration's
    native kernel running on past its time limit, a run past the deadline)."""
    return replace(timing, budget_hit=True) if stopped or deadline.passed() else timing


def _calibrated_within(
    query: DeviceQuery, left: float, progress: Progress | None, notes: list[str]
) -> tuple[Peaks | None, float | None]:
    """The device calibrated within ``left`` seconds, and the seconds it took (None, None when
    not even its minimum fit); one cut short says so in ``notes``."""
    started = time.monotonic()
    try:
        found = calibration(replace(query, within=left), progress=progress, notes=notes)
    except OutOfTime:
        return None, None
    if found.peaks.partial:
        notes.append(
            f"the device calibration was cut short by --budget ({found.peaks.partial}): kept "
            "for this prediction, not cached; `cnnprof device` calibrates fully once"
        )
    return found.peaks, time.monotonic() - started


def _conditions_note(settings: LatencySettings, measured: Peaks) -> list[str]:
    """A note when this run's allocator regime or layout is not the one the kernel models were
    timed in."""
    calibrated = measured.allocator.split(":")[0] or "unrecorded"
    if settings.allocator == calibrated.split()[0] and not settings.channels_last:
        return []
    return [
        f"the kernel models were timed in the {calibrated} allocator regime on NCHW "
        f"tensors; this run is {settings.allocator}"
        + (" on channels-last tensors" if settings.channels_last else "")
        + ": their prediction is for the calibrated conditions"
    ]


@dataclass(frozen=True)
class Machine:
    """Where a latency check would measure now, and how: it compares only against the same
    device and thread count."""

    device_name: Callable[[str], str]  # "cpu" / "cuda" / "mps" → what the hardware is called
    threads: int  # what it measures at: the threads asked for, else torch's count
    measure: Callable[[Request, str, str], Timing]  # (what to measure, device, runtime) → Timing
    # (models, device, runtime) → interleaved
    together: Callable[[Sequence[Request], str, str], Interleaved]
    processes: int = DEFAULT_PROCESSES  # fresh processes each measurement is timed in
    chosen: bool = False  # the threads were asked for (--threads), not torch's count
    # (threads, processes) → this machine measuring so (a budget entry's own threads:)
    remake: Callable[[int | None, int], Machine] | None = None

    def at(self, threads: int | None, processes: int | None) -> Machine:
        """This machine measuring at ``threads`` in ``processes`` (None: as it does)."""
        wanted = (threads or self.threads, processes or self.processes)
        if wanted == (self.threads, self.processes) or self.remake is None:
            return self
        return self.remake(threads or (self.threads if self.chosen else None), wanted[1])


def machine(
    progress: Callable[[str], AbstractContextManager[Progress]],
    needs: str = "latency in a check",
    threads: int | None = None,
    processes: int = DEFAULT_PROCESSES,
) -> Machine:
    """This machine, for latency checks and snapshots; ``progress(label)`` is the context each
    measurement reports to; ``needs`` names the use in the message when torch is missing.
    ``threads`` (default: torch's count now) and ``processes`` are every measurement's."""
    device_name, count = this_machine(needs)
    LatencySettings(threads=threads, processes=processes)  # checked before anything is counted

    def settings(device: str, runtime: str) -> LatencySettings:
        chosen = threads or _threads(runtime, count)
        return LatencySettings(device=device, threads=chosen, runtime=runtime, processes=processes)

    def run(req: Request, device: str, runtime: str = TORCH) -> Timing:
        with progress(req.label) as report:
            return measure(req, settings(device, runtime), report, needs)

    def interleaved(requests: Sequence[Request], device: str, runtime: str = TORCH) -> Interleaved:
        label = " and ".join(r.label for r in requests) + ", interleaved"
        with progress(label) as report:
            return measure_together(requests, settings(device, runtime), report, needs)

    remake = functools.partial(machine, progress, needs)
    return Machine(
        device_name, threads or count, run, interleaved, processes, threads is not None, remake
    )


def _threads(runtime: str, torch_threads: int) -> int | None:
    """A check's threads under ``runtime``: ONNX Runtime gets torch's count, so that a record
    states the threads a check on this machine compares."""
    return None if runtime == TORCH else torch_threads
