"""The public Python API's functions beyond `count`, `entry` and `load`: compare, sweep,
separable, latency, snapshot and check. Each takes its command's options as keywords by the same
names (`keywords`: ``--min-time`` is ``min_time``) and returns the value the CLI renders."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from cnnprof.api import check as _check
from cnnprof.api import latency as _latency
from cnnprof.api import tables as _tables
from cnnprof.api.keywords import keywords
from cnnprof.api.request import DEFAULT_TIMEOUT, Request, keyword_request, pairs
from cnnprof.api.runtimes import default_runtime, runtimes
from cnnprof.arch.multipliers import Multipliers
from cnnprof.arch.reference import parse_args
from cnnprof.errors import LoadError, OptionError
from cnnprof.results.check import CheckReport
from cnnprof.results.interleaved import Interleaved, LatencyRatio
from cnnprof.results.latency import Predicted
from cnnprof.results.metrics import Comparison
from cnnprof.results.tables import MAX_SWEEP_POINTS, SeparableReport, Sweep
from cnnprof.results.timing import DEFAULT_PROCESSES, TORCH, LatencySettings, Timing
from cnnprof.results.vocab import check_dtype

# An outside model's factory arguments (``arg``): a mapping, or the CLI's NAME=VALUE text.
Pairs = Mapping[str, Any] | Iterable[str] | None


def _quiet(label: str) -> contextlib.AbstractContextManager[None]:
    """A measurement's progress, which the API does not show."""
    return contextlib.nullcontext()


def _settings(
    latency: bool,
    threads: int | None,
    processes: int,
    runtime: str | None = None,
    device_profile: str | None = None,
) -> LatencySettings | None:
    """How ``latency=True`` measures several models: at ``threads``, in ``processes`` fresh
    processes, in one ``runtime`` (default: the device profile's, else torch eager); None
    without ``latency`` (then ``threads``, ``processes`` and a runtime other than torch eager
    are refused: they would set nothing)."""
    chosen = _latency.for_profile(runtime, device_profile) or TORCH
    given = {
        "threads": threads,
        "processes": None if processes == DEFAULT_PROCESSES else processes,
        "runtime": None if runtime in (None, TORCH) else runtime,
    }
    for name, value in given.items():
        if not latency and value is not None:
            raise OptionError(f"{name}={value}: sets how latency=True measures; add latency=True")
    if not latency:
        return None
    if len(runtimes(chosen)) > 1:
        raise OptionError(
            f"runtime={chosen}: this measures in one runtime; cnnprof.latency(model, "
            "runtime='torch,onnxruntime') gives one model's ratio between them"
        )
    return LatencySettings(threads=threads, processes=processes, runtime=chosen)


def _interleaved(settings: LatencySettings) -> Callable[[Sequence[Request]], Interleaved]:
    return functools.partial(_latency.measure_together, settings=settings, needs="latency=True")


def _timings(settings: LatencySettings | None) -> _tables.Measure | None:
    """The models measured together, one timing each (None: not measured)."""
    if settings is None:
        return None
    together = _interleaved(settings)
    return lambda requests: together(requests).timings


@keywords("compare")
def compare(
    *models: Any,
    baseline: str | None = None,
    latency: bool = False,
    device_profile: str | None = None,
    batch: int = 1,
    input: Iterable[Any] | None = None,
    arg: Pairs = None,
    runtime: str | None = None,
    threads: int | None = None,
    processes: int = DEFAULT_PROCESSES,
    pareto: bool = False,
    pareto_by: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Comparison:
    """Two or more models side by side, with ratios to ``baseline`` (default: the first);
    ``latency=True`` measures them here, interleaved; ``device_profile`` (a saved profile's
    file or a shipped name) predicts them for that device; ``input``, ``arg`` and ``timeout``
    go to the outside models among them; ``pareto`` (or a ``pareto_by`` cost) marks the
    frontier. A model that fails raises its error (the CLI shows the others' rows)."""
    settings = _settings(latency, threads, processes, runtime, device_profile)
    return _tables.compare(
        models,
        baseline=baseline,
        batch=batch,
        device_profile=device_profile,
        input=None if input is None else tuple(input),
        args=pairs(arg, parse_args),
        timeout=timeout,
        measure=_timings(settings),
        pareto=pareto,
        pareto_by=pareto_by,
    )


@keywords("sweep")
def sweep(
    model: str,
    *,
    alpha: _tables.Axis = None,
    resolution: _tables.Axis = None,
    depth: _tables.Axis = None,
    phi: _tables.Axis = None,
    param: Mapping[str, Sequence[Any]] | None = None,
    pareto: bool = True,
    pareto_by: str | None = None,
    latency: bool = False,
    device_profile: str | None = None,
    target_ms: float | None = None,
    batch: int = 1,
    max_points: int = MAX_SWEEP_POINTS,
    threads: int | None = None,
    processes: int = DEFAULT_PROCESSES,
    timeout: float = DEFAULT_TIMEOUT,
) -> Sweep:
    """Every combination of the given multipliers (values, or text such as ``"0..7"``) and
    design parameters (``param={"wm": [2, 2.5]}``), Pareto-marked on the latency predicted for
    ``device_profile`` when given, else on the latency measured with ``latency=True``, else on
    MACs, or on ``pareto_by`` (``target_ms`` ranks them by MnasNet's objective). The flags are
    in its JSON unless ``pareto=False`` (the API marks them by default; the CLI with --pareto).
    ``timeout`` bounds an outside model's own code."""
    settings = _settings(latency, threads, processes, None, device_profile)
    grid = _tables.sweep_settings(alpha, resolution, depth, phi, param, max_points)
    return _tables.sweep_model(
        model,
        grid,
        batch=batch,
        device_profile=device_profile,
        target_ms=target_ms,
        timeout=timeout,
        measure=_timings(settings),
        pareto=pareto,
        pareto_by=pareto_by,
    )


@keywords("separable")
def separable(
    model: Any,
    *,
    layers: bool = False,
    by: str | None = None,
    latency: bool = False,
    device_profile: str | None = None,
    threads: int | None = None,
    processes: int = DEFAULT_PROCESSES,
    input: Iterable[Any] | None = None,
    arg: Pairs = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> SeparableReport:
    """Standard k×k against depthwise-separable convolution (MobileNet Tables 3 and 4): the
    model and its twins, measured together with ``latency=True`` (with ``layers`` or
    ``by="op"`` each alone too, row by row), predicted for ``device_profile`` when given. The
    report holds every row: ``cnnprof.show(report, layers=True)`` shows them. ``timeout``
    bounds an outside model's own code."""
    if by not in (None, "op"):
        raise OptionError(f"by={by!r}: expected 'op'")
    per_row = layers or by is not None
    if per_row and not latency:
        raise OptionError(
            "layers/by without latency=True: they time each model row by row; the report "
            "holds every row, cnnprof.show(report, layers=True) shows them"
        )
    settings = _settings(latency, threads, processes, None, device_profile)
    req = keyword_request(model, input=input, arg=arg, timeout=timeout)
    measures: dict[str, Any] = {}
    if settings is not None:
        rows = replace(settings, layers=True, processes=1)
        measures["measure"] = _interleaved(settings)
        if per_row:
            measures["measure_rows"] = functools.partial(
                _latency.measure, settings=rows, needs="latency=True"
            )
    return _tables.separable(req, device_profile=device_profile, **measures)


@keywords("latency")
def latency(
    model: Any,
    *,
    multipliers: Multipliers,
    device: str | None = None,
    batch: int = 1,
    threads: int | None = None,
    dtype: str = "float32",
    channels_last: bool | None = None,
    warmup: int | str | None = None,
    runs: int | None = None,
    min_time: float | None = None,
    budget: float | None = None,
    layers: bool | None = None,
    allocator: str | None = None,
    runtime: str | None = None,
    processes: int | None = None,
    device_profile: str | None = None,
    input: Iterable[Any] | None = None,
    arg: Pairs = None,
    timeout: float = DEFAULT_TIMEOUT,
    settings: LatencySettings | None = None,
) -> Timing | Predicted | LatencyRatio:
    """Latency with random weights (needs torch): measured, a `Timing` (median, spread,
    per-row times with ``layers``); with ``device_profile``, predicted for that device (a
    `Predicted`, no torch); with ``runtime="torch,onnxruntime"``, both interleaved (a
    `LatencyRatio`). The keywords are `cnnprof latency`'s options (the multipliers ``alpha`` …
    ``num_classes`` where ``multipliers`` stands; ``warmup``: runs or ``"auto"``); ``settings``
    gives the measurement's at once, the keywords given override it."""
    req = keyword_request(
        model, multipliers, batch=batch, dtype=dtype, input=input, arg=arg, timeout=timeout
    )
    check_dtype(dtype, timed=True)
    measuring = {
        "device": device,
        "threads": threads,
        "channels_last": channels_last,
        "warmup": None if warmup is None else _warmup(warmup),
        "runs": runs,
        "min_time": min_time,
        "budget": budget,
        "layers": layers,
        "allocator": allocator,
        "runtime": runtime,
        "processes": processes,
    }
    given = {name: value for name, value in measuring.items() if value is not None}
    given |= {"warmup": None} if warmup == "auto" and settings is not None else {}
    if device_profile is not None:
        return _predicted(req, device_profile, given, settings)
    base = settings or LatencySettings(runtime=default_runtime(model))
    chosen = runtimes(given.pop("runtime", base.runtime))
    return _measured(req, replace(base, runtime=chosen[0], **given), both=len(chosen) > 1)


def _warmup(value: int | str) -> int | None:
    """``warmup``: a run count, or ``"auto"`` (until the median is stable)."""
    if value == "auto":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise OptionError(f"warmup={value!r}: expected a run count ≥ 0 or 'auto'")


def _predicted(
    req: Request, device_profile: str, given: dict[str, Any], settings: LatencySettings | None
) -> Predicted:
    """``req`` predicted for ``device_profile``, in the runtime it was calibrated in; the
    options of a measurement would do nothing there and are refused."""
    refused = [name for name in given if name != "runtime"]
    refused += ["settings"] if settings is not None else []
    if refused:
        raise OptionError(
            f"{refused[0]}= with device_profile: it belongs to a measurement; a prediction "
            "holds every row (cnnprof.show(prediction, layers=True) shows them) and the "
            "profile fixes the device, threads and allocator"
        )
    device = _latency.device_profile(device_profile, f"device_profile={device_profile}")
    return _latency.predict_on(
        req, device, given.get("runtime"), name=f"device_profile={device_profile}"
    )


def _measured(req: Request, settings: LatencySettings, both: bool) -> Timing | LatencyRatio:
    """``req`` measured in ``settings.runtime``, a `Timing`; with ``both``, in torch eager and
    ONNX Runtime interleaved, their `LatencyRatio`."""
    if not both:
        return _latency.measure(req, settings, needs="cnnprof.latency")
    if settings.layers:
        raise OptionError("layers=True with two runtimes: give one runtime for per-row times")
    return _latency.measure_runtimes(req, settings, needs="cnnprof.latency")


@keywords("snapshot")
def snapshot(
    models: Sequence[str],
    *,
    batch: int = 1,
    dtype: str = "float32",
    input: Iterable[Any] | None = None,
    arg: Pairs = None,
    latency: bool = False,
    reference: str | None = None,
    device_profile: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    runtime: str | None = None,
    threads: int | None = None,
    processes: int = DEFAULT_PROCESSES,
) -> dict[str, Any]:
    """A versioned baseline of each model's counts, for `check`; ``latency=True`` records its
    latency measured here (with ``reference``, the ratio to that model's); with
    ``device_profile``, the latency predicted for that device. No model is refused, as the CLI
    refuses it: a baseline of nothing would hold every check."""
    if isinstance(models, str) or not models:
        raise OptionError(f"models={models!r}: expected a list of models, e.g. ['mobilenet']")
    _settings(latency, threads, processes)  # threads and processes only with latency
    here = _machine("snapshot latency=True", threads, processes) if latency else None
    return _check.snapshot(
        list(models),
        batch=batch,
        dtype=dtype,
        args=pairs(arg, parse_args),
        input=None if input is None else tuple(input),
        timeout=timeout,
        machine=here,
        reference=reference,
        device_profile=device_profile,
        runtime=_latency.for_profile(runtime, device_profile) or TORCH,
    )


def _machine(needs: str, threads: int | None, processes: int) -> Callable[[], _latency.Machine]:
    """This machine for a check's or a snapshot's latency, made only when one is measured."""
    return functools.partial(_latency.machine, _quiet, needs, threads, processes)


@keywords("check")
def check(
    path: str | Path,
    *,
    tolerance: str = "0%",
    latency_tolerance: str = "10%",
    update: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    threads: int | None = None,
    processes: int = DEFAULT_PROCESSES,
) -> CheckReport:
    """Recount the models of a baseline .json or budget .yaml; a report that reads as a result
    per model and metric, with the notes the CLI prints (``report.passed``, or
    ``all(r.ok for r in report)``, is the CLI's exit 0). Latency is measured here at
    ``threads`` in ``processes`` fresh processes; ``update=True`` rewrites the baseline. An
    entry whose model fails (its code raised, hung or ended its process) is an error here,
    `LoadError` or `OutOfTime` naming it, where the CLI prints the other entries' results
    first: a program never reads a pass off a check that skipped an entry."""
    allowed = _check.parse_tolerance(tolerance)
    allowed_latency = _check.parse_tolerance(latency_tolerance, "--latency-tolerance")
    LatencySettings(threads=threads, processes=processes)  # checked before anything is counted
    found = _check.run_check(
        Path(path),
        allowed,
        allowed_latency,
        machine=_machine("latency in a check", threads, processes),
        update=update,
        timeout=timeout,
    )
    if found.errors:
        more = len(found.errors) - 1
        raise LoadError(found.errors[0] + (f" (and {more} more entries failed)" if more else ""))
    return found
