"""Measured latency as plain data: `LatencySettings` in, `Timing` (with `LayerTime` rows) out.

Pure Python, no torch: the CLI, the renderers and the reports read these without running anything.
All times are in seconds; statistics are computed from the raw samples, never stored twice.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from cnnprof.errors import OptionError
from cnnprof.results.shown import Shown
from cnnprof.results.vocab import ALLOCATORS, DEVICES

DEFAULT_MIN_TIME = 1.0  # seconds of timed runs when neither runs nor min_time is given
MIN_RUNS = 5  # timed runs at least, when timing by min_time
DEFAULT_BUDGET = 60.0  # seconds for the whole measurement: warm-up, runs and layers
# A coefficient of variation above this is too wide to trust the median alone: a busy machine,
# frequency scaling or too few runs. Said in words on screen and as "noisy" in JSON.
NOISY_CV = 0.10
# Fresh worker processes a measurement is timed in (pyperf's answer to a spread that one process
# does not show): one constant, read by every command and budget that measures.
DEFAULT_PROCESSES = 1
MAX_PROCESSES = 32

# What runs the model while it is timed: torch eager (the default) or ONNX Runtime.
TORCH = "torch"
ONNXRUNTIME = "onnxruntime"
RUNTIMES = (TORCH, ONNXRUNTIME)


@dataclass(frozen=True)
class LatencySettings:
    """How to measure. ``warmup=None`` warms up until stable; ``runs`` and ``min_time`` are
    alternatives (neither: at least ``MIN_RUNS`` runs and ``DEFAULT_MIN_TIME`` seconds);
    ``processes`` > 1 repeats the measurement in that many fresh processes, each with its share
    of the budget."""

    device: str = "cpu"
    threads: int | None = None  # None: torch's current setting (always reported)
    channels_last: bool = False
    warmup: int | None = None
    runs: int | None = None
    min_time: float | None = None
    budget: float = DEFAULT_BUDGET
    layers: bool = False
    allocator: str = "steady"  # the C allocator's regime: see `cnnprof.empirical.allocator`
    runtime: str = TORCH  # one of RUNTIMES
    processes: int = DEFAULT_PROCESSES  # fresh worker processes, each timing the model once

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise `OptionError` naming the first option out of range (run when built)."""
        if self.device not in DEVICES:
            raise OptionError(f"--device {self.device}: expected one of {', '.join(DEVICES)}")
        if self.runtime not in RUNTIMES:
            raise OptionError(f"--runtime {self.runtime}: expected one of {', '.join(RUNTIMES)}")
        if self.allocator not in ALLOCATORS:
            raise OptionError(
                f"--allocator {self.allocator}: expected one of {', '.join(ALLOCATORS)}"
            )
        if self.threads is not None and self.threads < 1:
            raise OptionError(f"--threads {self.threads}: expected a thread count ≥ 1")
        cores = cpu_cores()
        if self.threads is not None and self.threads > cores:
            raise OptionError(
                f"--threads {self.threads}: this machine gives cnnprof {cores} "
                f"cores; more threads than cores only measure contention, give "
                f"at most {cores}"
            )
        if self.warmup is not None and self.warmup < 0:
            raise OptionError(f"--warmup {self.warmup}: expected a run count ≥ 0 or 'auto'")
        if self.runs is not None and self.min_time is not None:
            raise OptionError("--runs and --min-time are alternatives: give one of them")
        if self.runs is not None and self.runs < 1:
            raise OptionError(f"--runs {self.runs}: expected at least 1 timed run")
        if self.min_time is not None and not self.min_time > 0:
            raise OptionError(f"--min-time {self.min_time:g}: expected seconds > 0")
        if not 0 < self.budget < math.inf:
            raise OptionError(f"--budget {self.budget:g}: expected seconds > 0")
        self._check_processes()

    def _check_processes(self) -> None:
        """``processes`` in range, and not with per-row times (they come from one process)."""
        if not 1 <= self.processes <= MAX_PROCESSES:
            raise OptionError(
                f"--processes {self.processes}: expected 1 to {MAX_PROCESSES} fresh processes"
            )
        if self.processes > 1 and self.layers:
            raise OptionError(
                f"--processes {self.processes}: per-row times (--layers, --by op) come from one "
                "process; give --processes 1 for them"
            )


def budget_left(left: float) -> str:
    """What a timed measurement's own code was stopped at: what was left of its budget."""
    return f"the {left:.1f} s left of its time budget"


@dataclass(frozen=True)
class Deadline:
    """The end of a command's time budget, from the moment it is made (``perf_counter``):
    every phase of a measurement asks it how much is left."""

    seconds: float
    start: float = field(default_factory=lambda: time.perf_counter())  # looked up per call

    def part(self, share: float) -> Deadline:
        """A deadline from the same start that ends when ``share`` of this one is spent."""
        return replace(self, seconds=share * self.seconds)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self, share: float = 1.0) -> float:
        """Seconds until ``share`` of the budget is spent (≤ 0: spent)."""
        return share * self.seconds - self.elapsed()

    def passed(self, share: float = 1.0) -> bool:
        return self.left(share) <= 0


def cpu_cores() -> int:
    """The cores this process may run on (its affinity where the system tells it)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def quantile(samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile (a whole percentile, 0…1) by linear interpolation between order
    statistics — `statistics.quantiles`' inclusive method, numpy's default."""
    if not samples:
        raise ValueError("quantile of no samples")
    if len(samples) == 1:
        return samples[0]
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return [min(samples), *cuts, max(samples)][round(100 * q)]


@dataclass(frozen=True)
class LayerTime:
    """One row of the profile, timed: median seconds per forward pass, at the batch."""

    path: str
    op: str
    seconds: float  # median over the hooked runs, hook overhead subtracted
    macs: int  # at the batch
    flops: int  # at the batch
    bytes: int  # weights + input + output, at the batch and dtype
    page_faults: float | None = None  # minor page faults the row took per hooked run (median)
    fused_into: str = ""  # the row whose fused kernel runs this row's work (ONNX Runtime)

    @property
    def intensity(self) -> float:
        """Arithmetic intensity, FLOPs per byte moved."""
        return self.flops / self.bytes if self.bytes else 0.0

    @property
    def gmacs_per_s(self) -> float:
        return self.macs / self.seconds / 1e9 if self.seconds > 0 else 0.0

    @property
    def gflops_per_s(self) -> float:
        return self.flops / self.seconds / 1e9 if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class NodeTime:
    """One node ONNX Runtime ran, timed by its profiler: median seconds per run, the nodes of
    the model as given that it runs (more than one: a fused kernel), and the row it is counted
    in ("": none, e.g. a layout conversion ORT added)."""

    name: str
    op: str  # the op type ORT ran (FusedConv, ReorderOutput …)
    seconds: float
    covers: tuple[str, ...]  # the model's own nodes it runs, in graph order
    row: str = ""

    @property
    def fused(self) -> bool:
        return len(self.covers) > 1


@dataclass(frozen=True)
class Timing(Shown):
    """A measured latency: raw samples plus everything that shaped them."""

    model: str
    device: str  # cpu, cuda, mps
    device_name: str
    threads: int
    dtype: str
    batch: int
    channels_last: bool
    torch_version: str
    samples: tuple[float, ...]  # seconds per forward pass, in the order measured
    warmup_runs: int
    warmup_stable: bool  # auto warm-up reached a stable median (or a fixed count was asked for)
    budget_hit: bool  # the time budget stopped a phase early
    macs: int = 0  # of the whole model, at the batch
    layers: tuple[LayerTime, ...] = ()
    layer_runs: int = 0
    hook_overhead: float = 0.0  # seconds per row boundary, measured and subtracted
    kernels: tuple[tuple[str, tuple[str, ...]], ...] = ()  # row path → its convolutions' kernels
    page_faults: float | None = None  # minor page faults per timed run (None: not countable)
    allocator: str = ""  # the allocator regime the runs were in, as described in the output
    runtime: str = TORCH  # one of RUNTIMES
    runtime_version: str = ""  # the runtime's own version (torch's equals torch_version)
    graph_optimization: str = ""  # ONNX Runtime's graph optimisation level (ORT_ENABLE_ALL …)
    execution_provider: str = ""  # ONNX Runtime's (CPUExecutionProvider …)
    export: str = ""  # how the model became an ONNX graph, when it was exported to be timed
    nodes: tuple[NodeTime, ...] = ()  # per node, from ONNX Runtime's profiler (with layers)
    # timed in fresh worker processes (`pooled`): each one's median and (p10, p90); none: one
    process_medians: tuple[float, ...] = ()
    process_spreads: tuple[tuple[float, float], ...] = ()
    label: str = ""  # the model as the request named it, for titles ("": the model's name)

    @property
    def runs(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        """The median of the runs; timed in several processes, the median of their medians."""
        if self.process_medians:
            return statistics.median(self.process_medians)
        return quantile(self.samples, 0.5)

    @property
    def processes(self) -> int:
        """Fresh processes the runs were timed in (1: this one, or one worker)."""
        return max(1, len(self.process_medians))

    @property
    def between_min(self) -> float:
        """The smallest process median (the median itself when timed in one process)."""
        return min(self.process_medians, default=self.median)

    @property
    def between_max(self) -> float:
        return max(self.process_medians, default=self.median)

    @property
    def within_width(self) -> float:
        """One process's p10–p90 width: the median over the processes (this one's when one)."""
        if not self.process_spreads:
            return self.p90 - self.p10
        return statistics.median(high - low for low, high in self.process_spreads)

    @property
    def between_exceeds_within(self) -> bool:
        """The process medians range wider than one process's p10–p90: the spread inside one
        process does not say what the next run will."""
        return self.processes > 1 and self.between_max - self.between_min > self.within_width

    @property
    def p10(self) -> float:
        return quantile(self.samples, 0.1)

    @property
    def p90(self) -> float:
        return quantile(self.samples, 0.9)

    @property
    def iqr(self) -> float:
        return quantile(self.samples, 0.75) - quantile(self.samples, 0.25)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples)

    @property
    def cv(self) -> float:
        """Coefficient of variation: standard deviation over mean (0 for a single run)."""
        if len(self.samples) < 2:
            return 0.0
        m = self.mean
        return statistics.stdev(self.samples, m) / m if m > 0 else 0.0

    @property
    def noisy(self) -> bool:
        return self.cv > NOISY_CV

    def distinct_from(self, other: Timing) -> bool:
        """Whether the two p10–p90 intervals are apart, so the medians may be ranked."""
        return self.p90 < other.p10 or other.p90 < self.p10

    @property
    def throughput(self) -> float:
        """Images per second at the batch, from the median."""
        return self.batch / self.median if self.median > 0 else 0.0

    @property
    def layer_sum(self) -> float:
        return sum(layer.seconds for layer in self.layers)

    @property
    def layer_ratio(self) -> float | None:
        """Per-layer sum over the whole-model median; None without per-layer times."""
        return self.layer_sum / self.median if self.layers and self.median > 0 else None

    @property
    def faulting(self) -> bool:
        """Whether any timed row took page faults (the layer tables show a faults column then)."""
        return any(layer.page_faults for layer in self.layers)

    def runtime_facts(self) -> dict[str, str]:
        """What ran the model and how it was set up, when it was not torch eager (whose
        version is ``torch_version``): empty for torch."""
        if self.runtime == TORCH:
            return {}
        return {
            "runtime": self.runtime,
            "runtime_version": self.runtime_version,
            "execution_provider": self.execution_provider,
            "graph_optimization": self.graph_optimization,
        }

    def kernel_map(self) -> dict[str, tuple[str, ...]]:
        """Row path → the kernels torch dispatched its convolutions to, in call order."""
        return dict(self.kernels)

    def row_faults(self) -> dict[str, float]:
        """Row path → minor page faults per pass in that row, where they were counted."""
        return {lt.path: lt.page_faults for lt in self.layers if lt.page_faults is not None}

    def by_path(self) -> dict[str, float]:
        """Row path → measured seconds (empty without per-layer times)."""
        return {layer.path: layer.seconds for layer in self.layers}


def pooled(timings: Sequence[Timing]) -> Timing:
    """Timings of one model in fresh processes as one: every run pooled, each process's median
    and p10–p90 kept (the median is the median of theirs); the first's context and per-row
    record."""
    if not timings:
        raise ValueError("pooled of no timings")
    first = timings[0]
    faults = [t.page_faults for t in timings]
    known = [f for f in faults if f is not None]
    return replace(
        first,
        samples=tuple(s for t in timings for s in t.samples),
        warmup_runs=sum(t.warmup_runs for t in timings),
        warmup_stable=all(t.warmup_stable for t in timings),
        budget_hit=any(t.budget_hit for t in timings),
        page_faults=statistics.fmean(known) if len(known) == len(faults) else None,
        process_medians=tuple(t.median for t in timings),
        process_spreads=tuple((t.p10, t.p90) for t in timings),
    )


# A document's unit → (key suffix, seconds → that unit).
_UNITS = MappingProxyType({"s": ("_s", 1.0), "ms": ("_ms", 1e3)})


def process_record(
    timing: Timing, unit: str = "s", prefix: str = "", digits: int | None = None
) -> dict[str, Any]:
    """The processes a latency was timed in, each one's median, their range and whether it is
    wider than one process's p10–p90, in ``unit`` (``s`` or ``ms``, rounded to ``digits`` when
    given), each key after ``prefix``; timed in one process, no medians and no range (null)."""
    suffix, scale = _UNITS[unit]

    def shown(seconds: float) -> float:
        return seconds * scale if digits is None else round(seconds * scale, digits)

    several = timing.processes > 1
    return {
        f"{prefix}processes": timing.processes,
        f"{prefix}process_medians{suffix}": [shown(m) for m in timing.process_medians],
        f"{prefix}between_min{suffix}": shown(timing.between_min) if several else None,
        f"{prefix}between_max{suffix}": shown(timing.between_max) if several else None,
        f"{prefix}between_exceeds_within": timing.between_exceeds_within if several else None,
    }
