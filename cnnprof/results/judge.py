"""Whether a device calibration can be trusted, before it is cached or saved: it must be
plausible (`cnnprof.results.plausible`), its kernel models must predict their own samples
closely, its samples' runs must repeat, and the machine must have been its own while it ran.
A calibration made on a busy machine passed the plausibility check alone and was cached with
kernel models 51–96 % off (issue 24): a resnet50 predicted 21× its measured time. Pure data in,
reasons out; the thresholds stand beside the figures they were chosen from."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cnnprof.results.device import Peaks
from cnnprof.results.plausible import implausible
from cnnprof.results.runtime import ONNXRUNTIME, TORCH

# Figures from this project's 2-core Intel Xeon (torch 2.13.0, onnxruntime 1.32.0), each a
# `cnnprof device --refresh` at 1 and 2 threads. Quiet: nothing else running (load average
# 0.8–1.2), three calibrations of torch per thread count, one of ONNX Runtime. Loaded: beside 4
# busy processes (2 per core; load average 3.5–5.9). On this machine the load is the sharp
# signal (others took 0.6–1.0 % of the CPU quiet, 69–80 % loaded); error and spread overlap
# more, so their limits sit above every quiet run and catch the grossly noisy one.
#
# The profile's error (its kernel models' median leave-one-out error) above which its models
# describe the noise more than the kernels, per runtime. Quiet: torch 0.146, 0.127, 0.122 at 1
# thread (and 0.22 seconds after four busy processes stopped), 0.122, 0.174, 0.124 at 2; ONNX
# Runtime 0.187 at 1, 0.153 at 2. Loaded: torch 0.245 and 0.26 at 1, 0.706 at 2; ONNX Runtime
# 0.254 at 1, 0.197 at 2. Quiet and loaded overlap at 1 thread: the limit refuses only the
# grossly noisy calibration (issue 24's was 51–96 % off); spread and load refuse the others.
ERROR_LIMITS: Mapping[str, float] = MappingProxyType({TORCH: 0.30, ONNXRUNTIME: 0.30})
# The samples' median run spread ((p90 − p10) / median for torch, (max − min) / median for ONNX
# Runtime) above which their runs did not repeat. Quiet: torch 0.111, 0.103, 0.110 at 1 thread,
# 0.102, 0.167, 0.143 at 2; ONNX Runtime 0.263 at 1, 0.290 at 2. Loaded: torch 0.367 at 1, 0.888
# at 2; ONNX Runtime 0.364 at 1, 0.511 at 2.
SPREAD_LIMITS: Mapping[str, float] = MappingProxyType({TORCH: 0.25, ONNXRUNTIME: 0.33})
# Cores other processes may take beyond those the calibration's threads leave them: past it,
# the threads shared their cores (at 1 thread on 2 cores, others above 65 % of the CPU time; at
# 2 threads, above 15 %). Quiet: others took 0.6–1.0 %. Loaded: 80 % at 1 thread (torch and ONNX
# Runtime), 69 % and 70 % at 2.
OTHERS_SLACK = 0.3
# The share stolen by the hypervisor, above which the virtual machine did not own its cores
# (none seen here, quiet or loaded).
STEAL_LIMIT = 0.10
QUIETER = "calibrate on a quieter machine (other jobs stopped)"
REFRESH = "with `cnnprof device --refresh`"


def median_spread(peaks: Peaks) -> float | None:
    """The median run spread of the kernel models' samples (None without kernel models)."""
    spreads = [k.spread for k in peaks.kernels]
    return statistics.median(spreads) if spreads else None


def crowded(cores: int, threads: int) -> float:
    """Cores others may take while ``threads`` run on ``cores`` before they share them."""
    return max(cores - threads, 0) + OTHERS_SLACK


def untrusted(peaks: Peaks) -> list[str]:
    """Why ``peaks`` cannot be trusted beyond being plausible (an empty list: it can): the
    profile's error, the samples' spread, others' CPU share and the steal during the
    calibration, each against its limit."""
    reasons = []
    error, spread, load = peaks.error, median_spread(peaks), peaks.load
    limit = ERROR_LIMITS.get(peaks.runtime, ERROR_LIMITS[TORCH])
    if error is not None and error > limit:
        reasons.append(
            f"its kernel models are {100 * error:.0f} % off their own samples (median "
            f"leave-one-out error, under {100 * limit:.0f} % on a quiet machine)"
        )
    limit = SPREAD_LIMITS.get(peaks.runtime, SPREAD_LIMITS[TORCH])
    if spread is not None and spread > limit:
        reasons.append(
            f"its samples' runs spread ±{50 * spread:.0f} % (under ±{50 * limit:.0f} % on a "
            "quiet machine)"
        )
    if load is not None and load.others_share * load.cores > crowded(load.cores, peaks.threads):
        reasons.append(
            f"other processes took {100 * load.others_share:.0f} % of the CPU time of its "
            f"{load.cores} cores while it ran at {peaks.threads} thread"
            f"{'s' * (peaks.threads != 1)} (load average {load.load_average:.1f})"
        )
    if load is not None and load.steal_share > STEAL_LIMIT:
        reasons.append(f"the hypervisor stole {100 * load.steal_share:.0f} % of the CPU time")
    return reasons


def refusals(peaks: Peaks) -> list[str]:
    """Every reason a calibration is refused (not cached, not saved without ``--force``): the
    implausible and the untrusted ones; an empty list: it is accepted."""
    return implausible(peaks) + untrusted(peaks)


@dataclass(frozen=True)
class Calibration:
    """A device's calibration as a command got it: read from the cache (``cached_from`` the
    file) or measured now (``cached_to`` where it was written, None when it was not), and the
    reasons it was refused (none: accepted)."""

    peaks: Peaks
    cached_from: str | None = None
    cached_to: str | None = None
    refused: tuple[str, ...] = ()

    @property
    def measured_now(self) -> bool:
        return self.cached_from is None

    @property
    def cache(self) -> str | None:
        """The cache file that holds this calibration, if one does."""
        return self.cached_from or self.cached_to


def refused_sentence(
    reasons: tuple[str, ...] | list[str], cached: bool = False, threads: int | None = None
) -> str:
    """The device calibration refused, why, and what to do (``cached``: one read from a cache
    made before calibrations were judged, which is used but not to be trusted; ``threads``: the
    calibration's, and fewer is advised only where it ran at more than one)."""
    what = (
        "the cached device calibration cannot be trusted"
        if cached
        else "the device calibration was refused"
    )
    kept = "" if cached else "; it is not cached"
    fewer = "" if threads == 1 else ", at `--threads 1`,"
    return f"{what}: {'; '.join(reasons)}{kept}; {QUIETER}{fewer} {REFRESH}"
