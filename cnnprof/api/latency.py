"""Latency use cases: measure a request's model on a device, read (or measure) the device's peaks,
predict on its roofs. torch is reached only through `sources`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from cnnprof.analytic.roofline import estimate
from cnnprof.api.request import Request, request
from cnnprof.api.sources import (
    Source,
    device_peaks,
    peaks_cache,
    resolve,
    this_machine,
    time_model,
)
from cnnprof.results.device import Estimate, Peaks
from cnnprof.results.timing import LatencySettings, Timing

Progress = Callable[[str, float], None]  # (stage, fraction of that stage done)

__all__ = ["Machine", "machine", "measure", "peaks", "peaks_cache", "predict"]


def measure(
    model: Request | Source,
    settings: LatencySettings | None = None,
    progress: Progress | None = None,
    needs: str = "cnnprof latency",
) -> Timing:
    """Measure the model a request (or a source already resolved) names, batch and dtype from
    the request, with random weights: a spec built on the device, an outside model constructed
    there (an ``nn.Module`` given directly is copied first). Per-row times follow the analytic
    rows."""
    settings = settings or LatencySettings()
    source = resolve(model) if isinstance(model, Request) else model
    return time_model(source, settings, progress, needs)


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
    return device_peaks(device, dtype, threads, refresh=refresh, progress=progress, needs=needs)


def predict(source: Source, timing: Timing, measured: Peaks) -> Estimate:
    """The roofline's prediction of the source's model on ``measured``'s roofs, with the
    kernels and page faults of ``timing``."""
    return estimate(
        source.profile(), measured.roofs, timing.channels_last, timing.kernel_map(),
        timing.page_faults, timing.row_faults(),
    )  # fmt: skip


@dataclass(frozen=True)
class Machine:
    """Where a latency check would measure now: it compares only against the same device."""

    device_name: Callable[[str], str]  # "cpu" / "cuda" / "mps" → what the hardware is called
    threads: int
    measure: Callable[[str, str], Timing]  # (model reference, device) → Timing


def machine(
    progress: Callable[[str], AbstractContextManager[Progress]], needs: str = "latency in a check"
) -> Machine:
    """This machine, for latency checks and snapshots; ``progress(label)`` is the context each
    measurement reports to; ``needs`` names the use in the message when torch is missing."""
    device_name, threads = this_machine(needs)

    def run(model: str, device: str) -> Timing:
        req = request(model)
        with progress(req.label) as report:
            return measure(req, LatencySettings(device=device), report, needs)

    return Machine(device_name, threads, run)
