"""Latency use cases: measure a request's model on a device, read (or measure) the device's peaks,
predict on its roofs. torch is reached only through `sources`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from cnnprof.analytic.roofline import estimate
from cnnprof.api.request import Request, request
from cnnprof.api.sources import empirical, resolve
from cnnprof.results.device import Estimate, Peaks
from cnnprof.results.timing import LatencySettings, Timing, check_dtype

Progress = Callable[[str, float], None]  # (stage, fraction of that stage done)


def measure(
    req: Request,
    settings: LatencySettings | None = None,
    progress: Progress | None = None,
    needs: str = "cnnprof latency",
) -> Timing:
    """Measure the model a request names (batch and dtype from the request) with random weights:
    a spec built on the device, an outside model constructed there (an ``nn.Module`` given
    directly is copied first). Per-row times follow the analytic rows."""
    settings = settings or LatencySettings()
    settings.check()
    check_dtype(req.dtype)
    source = resolve(req)
    latency = empirical("latency", needs)
    latency.check_device(settings.device, req.dtype)
    profile = source.profile()
    if source.outside:
        module = source.module(settings.device, needs=needs, fresh=True)
    else:
        module = source.module(settings.device, needs=needs)
    return latency.measure(
        module, source.input_shape, batch=req.batch, dtype=req.dtype, settings=settings,
        rows=profile.rows, macs=profile.macs, model=profile.model, progress=progress,
    )  # fmt: skip


def peaks(
    device: str = "cpu",
    dtype: str = "float32",
    threads: int | None = None,
    *,
    refresh: bool = False,
    progress: Progress | None = None,
    needs: str = "cnnprof latency",
) -> Peaks:
    """The device's measured peaks, from the cache or measured now (and cached)."""
    module = empirical("peaks", needs)
    return module.peaks(device, dtype, threads, refresh=refresh, progress=progress)


def peaks_cache(measured: Peaks) -> str | None:
    """Where ``measured`` is cached, if it is."""
    module = empirical("peaks", "cnnprof device")
    path = module.cache_path(
        measured.device_name, measured.torch_version, measured.threads, measured.dtype
    )
    return str(path) if path.is_file() else None


def predict(req: Request, timing: Timing, measured: Peaks) -> Estimate:
    """The roofline's prediction of ``req`` on ``measured``'s roofs, with the kernels and page
    faults of ``timing``."""
    profile = resolve(req).profile()
    return estimate(
        profile, measured.roofs, timing.channels_last, timing.kernel_map(), timing.page_faults,
        timing.row_faults(),
    )  # fmt: skip


@dataclass(frozen=True)
class Machine:
    """Where a latency check would measure now: it compares only against the same device."""

    device_name: Callable[[str], str]  # "cpu" / "cuda" / "mps" → what the hardware is called
    threads: int
    measure: Callable[[str, str], Timing]  # (model reference, device) → Timing


def machine(progress: Callable[[str], AbstractContextManager[Progress]]) -> Machine:
    """This machine, for latency checks; ``progress(label)`` is the context each measurement
    reports to."""
    latency = empirical("latency", "latency in a check")

    def run(model: str, device: str) -> Timing:
        req = request(model)
        with progress(req.label) as report:
            return measure(req, LatencySettings(device=device), report, "latency in a check")

    return Machine(latency.device_name, latency.thread_count(), run)
