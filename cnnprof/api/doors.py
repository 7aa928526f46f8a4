"""The doors into `cnnprof.empirical` other than a model's source: the device's calibration and
its cache, and how this machine names its devices. Each asks the torch gate
(`sources.require_torch`) first, then imports what it needs from `cnnprof.empirical` by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cnnprof.api.sources import require_torch
from cnnprof.results.vocab import Progress

if TYPE_CHECKING:
    from cnnprof.results.device import DeviceQuery, Peaks
    from cnnprof.results.judge import Calibration


def device_peaks(
    query: DeviceQuery, *, progress: Progress | None, needs: str, notes: list[str] | None = None
) -> Calibration | None:
    """The calibration of ``query``'s device, from the cache or measured now (and cached when
    accepted); with ``query.cached_only``, None rather than measuring. ``notes`` gets a cache
    not used or not written."""
    require_torch(needs)
    from cnnprof.empirical.peaks import calibration

    return calibration(query, progress=progress, notes=notes)


def peaks_cache(measured: Peaks) -> str | None:
    """Where ``measured`` is cached, if it is."""
    require_torch("cnnprof device")
    from cnnprof.empirical.peaks import cache_path

    path = cache_path(
        measured.device_name, measured.torch_version, measured.threads, measured.dtype
    )
    return str(path) if path.is_file() else None


def this_machine(needs: str) -> tuple[Callable[[str], str], int]:
    """How this machine names a device ("cpu" → its CPU's model), and torch's thread count."""
    require_torch(needs)
    from cnnprof.empirical.device import device_name, thread_count

    return device_name, thread_count()
