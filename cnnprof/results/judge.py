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

# Figures from a 2-core Xeon. Quiet: the shipped calibrations (configs/devices). Loaded: `cnnprof
# device --refresh` beside 4 busy processes (2 per core), twice each, other users' jobs running
# too (load average 2.5–5.4 the first time, 7.7–10.9 the second).
#
# The profile's error (its kernel models' median leave-one-out error) above which its models
# describe the noise more than the kernels, per runtime. Quiet: torch 0.092 at 1 thread, 0.098
# at 2; ONNX Runtime 0.153 at 1, 0.135 at 2. Loaded: torch 0.215 and 0.28 at 1 thread, 0.448
# and 0.49 at 2; ONNX Runtime 0.170 at 1 — within its quiet range: there spread and load refuse
# it. (With other users' tests alone running, load average 1.4: torch 0.17 at 1 thread.)
ERROR_LIMITS: Mapping[str, float] = MappingProxyType({TORCH: 0.15, ONNXRUNTIME: 0.25})
# The samples' median run spread ((p90 − p10) / median for torch, (max − min) / median for ONNX
# Runtime) above which their runs did not repeat. Quiet: torch 0.050 at 1 thread, 0.049 at 2;
# ONNX Runtime 0.113 at 1, 0.154 at 2. Loaded: torch 0.183 and 0.40 at 1 thread, 0.232 and 0.46
# at 2; ONNX Runtime 0.186 and 0.36 at 1.
SPREAD_LIMITS: Mapping[str, float] = MappingProxyType({TORCH: 0.12, ONNXRUNTIME: 0.25})
# Cores other processes may take beyond those the calibration's threads leave them: past it,
# the threads shared their cores (at 1 thread on 2 cores, others above 65 % of the CPU time; at
# 2 threads, above 15 %). Loaded (the second time): others took 96 % at 1 thread, 87 % at 2,
# 91 % under ONNX Runtime at 1; 4 busy processes beside a 1-thread calibration leave it 0.4 of
# a core (80 % to others) even on an otherwise idle machine, where others take a few %.
OTHERS_SLACK = 0.3
# The share stolen by the hypervisor, above which the virtual machine did not own its cores
# (none seen here, quiet or loaded).
STEAL_LIMIT = 0.10
ADVICE = (
    "calibrate on a quieter machine (other jobs stopped), at `--threads 1`, with "
    "`cnnprof device --refresh`"
)


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


def refused_sentence(reasons: tuple[str, ...] | list[str], cached: bool = False) -> str:
    """The device calibration refused, why, and what to do (``cached``: one read from a cache
    made before calibrations were judged, which is used but not to be trusted)."""
    what = (
        "the cached device calibration cannot be trusted"
        if cached
        else "the device calibration was refused"
    )
    kept = "" if cached else "; it is not cached"
    return f"{what}: {'; '.join(reasons)}{kept}; {ADVICE}"
