"""Device peaks: a short microbenchmark of what the device does at its best (`probes`: compute,
bandwidth, page faults, layout, kernel ceilings, per-op overhead) and the kernel predictor's
calibration (`kernels`), cached on disk.

The microbenchmark runs the plan's ``rounds`` times; each figure keeps its best round. The result
is cached as JSON per device name, torch version, thread count and dtype under the cache
directory (``$CNNPROF_CACHE_DIR``, else the platform's user cache directory from platformdirs:
``$XDG_CACHE_HOME/cnnprof`` or ``~/.cache/cnnprof`` on Linux, ``~/Library/Caches/cnnprof`` on
macOS).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType

import torch

from cnnprof.cache import cache_dir
from cnnprof.empirical import allocator
from cnnprof.empirical.bound import time_limit
from cnnprof.empirical.device import CLOCKS, TORCH_DTYPES, Clock, check_device, device_name, threads
from cnnprof.empirical.kernels import KERNEL_PLANS, KernelPlan, calibrate, more_samples
from cnnprof.empirical.probes import Pairs, Plan, measure_roofs
from cnnprof.protocol.load import load_between, snapshot
from cnnprof.protocol.records import calibrated, from_cache
from cnnprof.results.device import CURVES, DeviceQuery, Peaks
from cnnprof.results.judge import Calibration
from cnnprof.results.plausible import MEASURE_TRIES, implausible
from cnnprof.results.timing import Deadline
from cnnprof.results.vocab import Progress

# One plan per kind of device: a GPU needs a batch to fill it, a CPU at batch 1 does not.
PLANS: Mapping[str, Plan] = MappingProxyType(
    {
        "cpu": Plan(
            matmul_sizes=(512, 1024, 2048),
            ceiling_input=(1, 128, 56, 56),
            layout_input=(1, 56, 56),
            conv_input=(1, 28, 28),
            few_input=(1, 7, 7),
        ),
        "cuda": Plan(
            matmul_sizes=(4096, 8192),
            ceiling_input=(32, 128, 56, 56),
            layout_input=(32, 56, 56),
            conv_input=(32, 28, 28),
            few_input=(32, 7, 7),
        ),
        "mps": Plan(
            matmul_sizes=(2048, 4096),
            ceiling_input=(8, 128, 56, 56),
            layout_input=(8, 56, 56),
            conv_input=(8, 28, 28),
            few_input=(8, 7, 7),
        ),
    }
)


def cache_path(name: str, torch_version: str, thread_count: int, dtype: str) -> Path:
    """One file per (device name, torch version, threads, dtype)."""
    slug = re.sub(r"[^A-Za-z0-9.+-]+", "_", f"{name}__torch-{torch_version}").strip("_")
    return cache_dir() / "peaks" / f"{slug}__{thread_count}t__{dtype}.json"


def _measure_round(
    clock: Clock, target: torch.device, dtype: str, count: int, plan: Plan, report: Progress
) -> Peaks:
    """One round of every figure, ``report`` taking the fraction of the round done."""
    return Peaks(
        device=target.type,
        device_name=device_name(target),
        torch_version=torch.__version__,
        threads=count,
        dtype=dtype,
        measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        roofs=measure_roofs(clock, target, TORCH_DTYPES[dtype], plan, report),
    )


def _pick(a: Pairs, b: Pairs, choose: Callable[[float, float], float]) -> Pairs:
    """Two rounds' (key, value) pairs merged key by key with ``choose``."""
    merged = dict(a)
    for key, value in b:
        merged[key] = choose(merged[key], value) if key in merged else value
    return tuple(merged.items())


def best(a: Peaks, b: Peaks) -> Peaks:
    """Each figure from the better of two rounds: the higher rate, the lower overhead. A
    neighbour's burst of work on a shared machine slows one round, not the device."""
    r, q = a.roofs, b.roofs
    roofs = replace(
        r,
        flops_per_s=max(r.flops_per_s, q.flops_per_s),
        fault_s=min(r.fault_s, q.fault_s),
        **{key: tuple(sorted(_pick(getattr(r, key), getattr(q, key), max))) for key in CURVES},
        byte_ceilings=_pick(r.byte_ceilings, q.byte_ceilings, max),
        flop_ceilings=_pick(r.flop_ceilings, q.flop_ceilings, max),
        op_overhead=_pick(r.op_overhead, q.op_overhead, min),
        layout_kernel=r.layout_kernel or q.layout_kernel,
    )
    return replace(a, roofs=roofs, measured_at=b.measured_at)


ROOFS_SHARE = 0.4  # of the calibration's progress, the roofs' rounds; the kernels the rest


def measure_peaks(
    device: str = "cpu",
    dtype: str = "float32",
    thread_count: int | None = None,
    *,
    plan: Plan | None = None,
    kernel_plan: KernelPlan | None = None,
    progress: Progress | None = None,
    deadline: Deadline | None = None,
) -> Peaks:
    """Calibrate the device now: the roofs (the plan's ``rounds`` times, each figure from its
    best round) and the kernel predictor (``kernel_plan``, in the steady allocator regime); some
    seconds. Nothing is read from or written to the cache. ``plan`` and ``kernel_plan``: the
    device kind's `PLANS` and `KERNEL_PLANS` entries unless given. The machine's load over the
    whole calibration is recorded beside it; past ``deadline`` the kernels' networks stop and
    the record says what it left out (`Peaks.partial`; `OutOfTime` when too little was
    timed)."""
    target = check_device(device, dtype)
    plan = plan or PLANS[target.type]
    kernel_plan = kernel_plan or KERNEL_PLANS[target.type]
    clock = CLOCKS[target.type]()
    report = progress or (lambda stage, fraction: None)
    rounds = max(plan.rounds, 1)
    measured: list[Peaks] = []
    started, before = time.perf_counter(), snapshot()
    described = allocator.apply("steady")
    with threads(thread_count) as count, torch.inference_mode():
        for index in range(rounds):

            def within(stage: str, fraction: float, index: int = index) -> None:
                report(stage, ROOFS_SHARE * (index + fraction) / rounds)

            measured.append(_measure_round(clock, target, dtype, count, plan, within))
        fitted = calibrate(
            clock,
            target,
            TORCH_DTYPES[dtype],
            kernel_plan,
            lambda fraction: report("kernels", ROOFS_SHARE + (1 - ROOFS_SHARE) * fraction),
            deadline,
        )
    load = load_between(before, snapshot())
    merged = functools.reduce(best, measured)
    return replace(
        merged,
        peak_rounds=tuple(m.roofs.flops_per_s for m in measured),
        kernels=fitted.models,
        module_s=fitted.module_s,
        allocator=described,
        calibration_s=time.perf_counter() - started,
        load=load,
        partial=fitted.partial,
    )


# The share of a calibration's time limit after which its kernels' networks stop; the rest holds
# the network running then (at batch 8, a second or two on a busy machine) and the fit.
SOFT_SHARE = 0.75


def calibration(
    query: DeviceQuery, *, progress: Progress | None = None, notes: list[str] | None = None
) -> Calibration | None:
    """The calibration of ``query``'s device from the cache, or measured now when absent, on
    ``refresh`` or ``thorough`` (a kernel calibration with `THOROUGH` times the samples:
    slower, closer), within ``query.within`` seconds (its kernels' networks stop at
    `SOFT_SHARE` of it, keeping what they timed; past it, `OutOfTime`); with ``cached_only``,
    None rather than measuring. Either is judged (`judge.refusals`). One measured now is cached
    only when it is accepted and complete: a refused one would mislead every later prediction,
    and one cut short (`Peaks.partial`) would cost its missing kinds on the roofline in every
    later run, where one `cnnprof device` measures them all. ``notes`` gets a cache not used or
    not written."""
    target = check_device(query.device, query.dtype)
    with threads(query.threads) as count:
        path = cache_path(device_name(target), torch.__version__, count, query.dtype)
    if query.cached_only:
        return from_cache(path, notes)
    return calibrated(
        path,
        lambda: _measured(query, count, progress),
        use_cache=not (query.refresh or query.thorough),
        uncached=lambda measured: "" if measured.partial else None,
        notes=notes,
    )


def _measured(query: DeviceQuery, count: int, progress: Progress | None = None) -> Peaks:
    """The device calibrated now at ``count`` threads, again while implausible and there is
    time (`MEASURE_TRIES`)."""
    kernel_plan = KERNEL_PLANS[check_device(query.device, query.dtype).type]
    kernel_plan = more_samples(kernel_plan) if query.thorough else kernel_plan
    soft = None if query.within is None else Deadline(SOFT_SHARE * query.within)
    message = f"the device microbenchmark took over {query.within or 0:.1f} s"
    with time_limit(query.within, message):
        for _ in range(MEASURE_TRIES):
            measured = measure_peaks(
                query.device,
                query.dtype,
                count,
                kernel_plan=kernel_plan,
                progress=progress,
                deadline=soft,
            )
            if not implausible(measured) or measured.partial or (soft and soft.passed(0.5)):
                break
    return measured


def peaks(
    query: DeviceQuery, *, progress: Progress | None = None, notes: list[str] | None = None
) -> Peaks | None:
    """`calibration`'s record alone (None where ``cached_only`` finds none cached)."""
    found = calibration(query, progress=progress, notes=notes)
    return None if found is None else found.peaks
