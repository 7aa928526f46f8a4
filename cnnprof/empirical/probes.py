"""The device microbenchmark's figures, one function each, and one round of them all as `Roofs`:

- compute: large matrix products in the dtype → FLOP/s (the best size), and curves of what
  convolutions reach as their size grows (C → C channels, C from 16 to 512; for 1×1 kernels and
  for 3×3, which reuse each input nine times; on a 28×28 map and on a 7×7 one, a late stage's,
  whose few positions leave the kernel less to spread): small convolutions leave vector lanes
  and threads idle; the sizes are timed in rotation, as a network calls them, so a small
  one pays for following a larger op (its data out of cache, the other threads asleep);
- bandwidth: ``copy_`` into a tensor that exists over growing sizes (streaming, bytes read +
  written per second: fast while both fit in a cache);
- a page fault: the seconds the system takes to hand over one fresh page (filling newly mapped
  memory, less filling it again);
- layout: what reordering an NCHW tensor into the blocked layout of the kernel that needs one
  (oneDNN on a CPU) and back costs, by size;
- ceilings of kernels that stream slower than a copy or compute slower than a matmul, each on
  the same 128×56×56 input, in the default and the channels-last format: a 3×3 depthwise
  convolution (bytes/s), a 3×3 max pool and a size-5 local response norm (FLOP/s);
- overhead: tiny ops of each kind a CNN launches (conv, linear, norm, activation, pool, add) →
  seconds each, the fixed cost no FLOP or byte count explains; for convolutions, one figure per
  kernel torch dispatches them to (``conv/slow2d``, ``conv/mkldnn``, …: see `dispatch`).

Convolution rates and ceilings are net of the fixed cost of the kernel that ran them, which the
roofline adds back once per launch (the curves, timed in rotation, net of the launch cost timed

Each figure is the median of its runs.
"""

from __future__ import annotations

import copy
import functools
import math
import mmap
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cnnprof.analytic.elementwise import LRN_EXTRA
from cnnprof.analytic.roofline import OpCost, layout_s, overhead
from cnnprof.empirical.device import Clock, minor_faults
from cnnprof.empirical.dispatch import conv_backend
from cnnprof.results.device import CHANNELS_LAST, Roofs
from cnnprof.results.vocab import Progress

MATMUL_RUNS = 5
COPY_SECONDS = 0.05  # per size, at least …
COPY_RUNS = (3, 50)  # … between these many runs
CEILING_RUNS = 10
LAYOUT_MIN_SHARE = 0.05  # NCHW slower than channels-last by less than this: no reorder counted
# Tiny convolutions, (channels, kernel, groups, batch), chosen to reach each of torch's kernels
# (on a CPU at batch 1: the native one, and oneDNN for depthwise, 5×5 and batched ones).
CONV_PROBES = ((1, 1, 1, 1), (2, 3, 2, 1), (1, 5, 1, 1), (1, 1, 1, 2), (1, 3, 1, 1))


@dataclass(frozen=True)
class Plan:
    """What the microbenchmark measures on one kind of device: the sizes it probes and how
    often. Inputs are (batch, height, width), or (batch, channels, height, width)."""

    matmul_sizes: tuple[int, ...]  # n of the n×n matrix products
    ceiling_input: tuple[int, int, int, int]  # the kernel ceilings' input
    layout_input: tuple[int, int, int]  # the reorders' input, for each channel count
    conv_input: tuple[int, int, int]  # the convolution curves' input …
    few_input: tuple[int, int, int]  # … and the few-position (late-stage) one
    # 64 KiB … 256 MiB per tensor; doubling from 1 MiB, where caches end and allocation changes
    copy_bytes: tuple[int, ...] = (2**16, 2**18, *(2**k for k in range(20, 29)))
    overhead_runs: int = 200
    conv_channels: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
    curve_rotations: int = 7  # timed passes over all sizes of a convolution curve
    layout_channels: tuple[int, ...] = (16, 32, 64, 128, 256)  # C × 56 × 56: 0.2 … 3.2 MB
    fault_bytes: int = 64 * 2**20  # fresh memory mapped to time page faults
    rounds: int = 2  # the whole microbenchmark runs this often; each figure keeps its best


Pairs = tuple[tuple[Any, float], ...]


def _median_time(clock: Clock, fn: Callable[[], object], runs: int) -> float:
    fn()
    return statistics.median(clock.time(fn) for _ in range(runs))


def _compute(clock: Clock, device: torch.device, dtype: torch.dtype, sizes: Sequence[int]) -> float:
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        seconds = _median_time(clock, lambda a=a, b=b: torch.mm(a, b), MATMUL_RUNS)
        best = max(best, 2 * n**3 / seconds)
    return best


def _net(seconds: float, fixed: float) -> float:
    """A run's time less the fixed cost of launching its op (added back once per op by the
    roofline), never below a tenth of the run."""
    return max(seconds - fixed, seconds / 10)


class _Beyond:
    """What a convolution costs beyond its own arithmetic and streaming, as the roofline adds
    it back (the roofline's own `Roofs.overhead` and `Roofs.layout_s`): the launch of the
    kernel it runs on and, on the reordering kernel with NCHW tensors, the reorders of its
    input and output."""

    def __init__(
        self,
        overhead: Mapping[str, float],
        layout: tuple[tuple[int, float], ...] = (),
        layout_kernel: str = "",
    ) -> None:
        self.layout_kernel = layout_kernel
        self.roofs = Roofs(
            0.0, (), (), tuple(overhead.items()), layout=layout, layout_kernel=layout_kernel
        )

    def _op(self, conv: nn.Conv2d, x: torch.Tensor, out_bytes: int) -> OpCost:
        in_bytes = x.numel() * x.element_size()
        return OpCost("conv", 0, in_bytes, out_bytes, launches=(conv_backend(conv, x) or "",))

    def fixed(self, conv: nn.Conv2d, x: torch.Tensor) -> float:
        """The launch of the kernel ``conv(x)`` runs on, in ``x``'s memory format."""
        return overhead(self.roofs, self._op(conv, x, 0), not x.is_contiguous())

    def seconds(self, conv: nn.Conv2d, x: torch.Tensor, out_bytes: int) -> float:
        op, last = self._op(conv, x, out_bytes), not x.is_contiguous()
        return overhead(self.roofs, op, last) + layout_s(self.roofs, op, last)


def _layout(
    clock: Clock, device: torch.device, dtype: torch.dtype, launches: _Beyond, plan: Plan
) -> tuple[tuple[tuple[int, float], ...], str]:
    """(reorder curve, the kernel that reorders): a 3×3 depthwise convolution on NCHW tensors
    against the same on channels-last ones, C × 56 × 56 for growing C; the difference is one
    reorder of the input and one of the output. Bytes moved by one reorder → bytes/s."""
    n, h, w = plan.layout_input
    points, kernel = [], ""
    for c in plan.layout_channels:
        conv = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False).eval().to(device, dtype)
        x = torch.randn(n, c, h, w, device=device).to(dtype)
        backend = conv_backend(conv, x)
        run = functools.partial(conv, x)
        nchw = _median_time(clock, run, _runs(clock, run))
        last = copy.deepcopy(conv).to(memory_format=torch.channels_last)
        run = functools.partial(last, x.contiguous(memory_format=torch.channels_last))
        nhwc = _median_time(clock, run, _runs(clock, run))
        x_last = x.contiguous(memory_format=torch.channels_last)
        # less the extra launches NCHW costs on a tiny tensor: what is left grows with the size
        extra = nchw - nhwc - (launches.fixed(conv, x) - launches.fixed(last, x_last))
        if backend and extra > LAYOUT_MIN_SHARE * nchw:
            tensor = x.numel() * dtype.itemsize
            points.append((2 * tensor, 4 * tensor / extra))
            kernel = backend
    return tuple(points), kernel


def _conv_curve(
    clock: Clock,
    device: torch.device,
    dtype: torch.dtype,
    beyond: _Beyond,
    kernel: int,
    shape: tuple[int, int, int],
    plan: Plan,
) -> tuple[tuple[int, float], ...]:
    """FLOP/s of k×k convolutions C → C on inputs of ``shape`` (batch, height, width), by their
    FLOPs, net of their kernel's launch; in channels-last format where NCHW tensors would be
    reordered (the roofline adds those reorders separately). Timed in rotation, each size after
    the next smaller one (the smallest after the largest), as a network calls convolutions of
    varied sizes: a small convolution repeated in a tight loop finds its data in cache and the
    other threads spinning, one after a larger op does not."""
    n, h, w = shape
    probes = []
    for c in plan.conv_channels:
        conv = nn.Conv2d(c, c, kernel, padding=kernel // 2, bias=False).eval().to(device, dtype)
        x = torch.randn(n, c, h, w, device=device).to(dtype)
        if beyond.layout_kernel:
            conv = conv.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        probes.append((2 * c * c * kernel * kernel * n * h * w, conv, x))
    for _, conv, x in probes:  # untimed: the first call sets up the kernel
        conv(x)
    times: list[list[float]] = [[] for _ in probes]
    for _ in range(plan.curve_rotations):
        for index, (_, conv, x) in enumerate(probes):
            times[index].append(clock.time(functools.partial(conv, x)))
    return tuple(
        (flops, flops / _net(statistics.median(samples), beyond.seconds(conv, x, x.nbytes)))
        for (flops, conv, x), samples in zip(probes, times, strict=True)
    )


def _runs(clock: Clock, fn: Callable[[], object]) -> int:
    once = clock.time(fn)
    return min(max(round(COPY_SECONDS / max(once, 1e-9)), COPY_RUNS[0]), COPY_RUNS[1])


def _bandwidth(
    clock: Clock, device: torch.device, dtype: torch.dtype, sizes: Sequence[int], fixed: float
) -> tuple[tuple[int, float], ...]:
    """``copy_`` into an existing tensor: bytes moved (read once, written once) → bytes/s, net
    of the fixed cost of an element-wise op."""
    curve = []
    for nbytes in sizes:
        x = torch.randn(max(nbytes // dtype.itemsize, 1), device=device).to(dtype)
        y = torch.empty_like(x)
        moved = 2 * x.numel() * dtype.itemsize
        run = functools.partial(y.copy_, x)
        seconds = _net(_median_time(clock, run, _runs(clock, run)), fixed)
        curve.append((moved, moved / seconds))
        del x, y
    return tuple(curve)


def _fault_s(fault_bytes: int) -> float:
    """Seconds per minor page fault: filling freshly mapped memory (every page faults) less
    filling it again, over the faults counted; 0 where the system does not count them."""
    before = minor_faults()
    if before is None:
        return 0.0
    region = mmap.mmap(-1, fault_bytes)
    try:
        pages = torch.frombuffer(region, dtype=torch.uint8)
        start = time.perf_counter()
        pages.fill_(1)
        first = time.perf_counter() - start
        faults = (minor_faults() or 0) - before
        start = time.perf_counter()
        pages.fill_(2)
        again = time.perf_counter() - start
        del pages
    finally:
        region.close()
    return max(first - again, 0.0) / faults if faults > 0 else 0.0


def _overheads(
    clock: Clock, device: torch.device, dtype: torch.dtype, runs: int
) -> tuple[Pairs, dict[str, float]]:
    """Seconds of a tiny op of each kind; for convolutions also per kernel torch dispatches to
    and per memory format (the cheapest probe that reached it). Two figures each: interleaved,
    one after another as a network calls them, never the same op twice in a row (what the
    roofline charges), and repeated in a tight loop, where an op finds its caches and branch
    predictors warm and costs about half as much (what the other microbenchmarks, all tight
    loops, are net of)."""
    x = torch.randn(1, 1, 2, 2, device=device).to(dtype)
    flat = torch.randn(1, 1, device=device).to(dtype)
    tiny: dict[str, tuple[Callable[[torch.Tensor], Any], torch.Tensor]] = {
        "conv": (nn.Conv2d(1, 1, 1), x),
        "linear": (nn.Linear(1, 1), flat),
        "norm": (nn.BatchNorm2d(1), x),
        "act": (nn.ReLU(), x),
        "pool": (nn.MaxPool2d(2), x),
        "add": (lambda t: t + t, x),
    }
    calls: list[tuple[str, Callable[[], object]]] = []
    for kind, (op, arg) in tiny.items():
        if isinstance(op, nn.Module):
            op = op.eval().to(device=device, dtype=dtype)
        calls.append((kind, functools.partial(op, arg)))
    for channels, kernel, groups, batch in CONV_PROBES:
        conv = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=groups)
        conv = conv.eval().to(device=device, dtype=dtype)
        probe = torch.randn(batch, channels, kernel + 1, kernel + 1, device=device).to(dtype)
        backend = conv_backend(conv, probe)
        if backend is None:
            continue
        last = copy.deepcopy(conv).to(memory_format=torch.channels_last)
        probe_last = probe.contiguous(memory_format=torch.channels_last)
        calls.append((f"conv/{backend}", functools.partial(conv, probe)))
        calls.append((f"conv/{backend}{CHANNELS_LAST}", functools.partial(last, probe_last)))
    isolated: dict[str, float] = {}
    for key, call in calls:
        seconds = _median_time(clock, call, runs)
        isolated[key] = min(seconds, isolated.get(key, seconds))
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(runs):
        for index, (_, call) in enumerate(calls):
            times[index].append(clock.time(call))
    out: dict[str, float] = {}
    for (key, _), samples in zip(calls, times, strict=True):
        seconds = statistics.median(samples)
        out[key] = min(seconds, out.get(key, seconds))
    return tuple(out.items()), isolated


def _ceilings(
    clock: Clock,
    device: torch.device,
    dtype: torch.dtype,
    beyond: _Beyond,
    shape: tuple[int, int, int, int],
) -> tuple[Pairs, Pairs]:
    """(byte ceilings, FLOP ceilings): a 3×3 depthwise convolution's bytes/s (weights + input +
    output, net of what the roofline adds back), a 3×3 max pool's and a size-5 local response norm's
    FLOP/s (counted as the formulas count them), each in the default and the channels-last
    format."""
    n, c, h, w = shape
    elements = n * c * h * w
    conv = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False).eval().to(device, dtype)
    flop_ops = {
        "maxpool": (nn.MaxPool2d(3, 1, 1), 8 * elements),  # k² − 1 comparisons per output
        "lrn": (nn.LocalResponseNorm(5), (2 * 5 + LRN_EXTRA) * elements),
    }
    x = torch.randn(n, c, h, w, device=device).to(dtype)
    conv_bytes = (9 * c + 2 * elements) * dtype.itemsize
    by_bytes, by_flops = [], []
    for suffix in ("", CHANNELS_LAST):
        if suffix:
            conv = conv.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        seconds = _median_time(clock, functools.partial(conv, x), CEILING_RUNS)
        seconds = _net(seconds, beyond.seconds(conv, x, elements * dtype.itemsize))
        by_bytes.append((f"dwconv{suffix}", conv_bytes / seconds))
        for kind, (op, flops) in flop_ops.items():
            seconds = _median_time(clock, functools.partial(op, x), CEILING_RUNS)
            by_flops.append((f"{kind}{suffix}", flops / seconds))
    return tuple(by_bytes), tuple(by_flops)


def measure_roofs(
    clock: Clock, target: torch.device, kind: torch.dtype, plan: Plan, report: Progress
) -> Roofs:
    """One round of every figure, ``report`` taking the fraction of the round done."""
    report("overhead", 0.0)
    overhead, fixed = _overheads(clock, target, kind, plan.overhead_runs)
    report("layout", 0.15)
    layout, layout_kernel = _layout(clock, target, kind, _Beyond(fixed), plan)
    report("compute", 0.25)
    flops = _compute(clock, target, kind, plan.matmul_sizes)
    # timed in rotation, as a network calls them: net of the launch cost a network pays
    in_context = _Beyond(dict(overhead), layout, layout_kernel)
    curves = _curves(clock, target, kind, in_context, plan, flops)
    report("bandwidth", 0.55)
    bandwidth = _bandwidth(clock, target, kind, plan.copy_bytes, fixed["add"])
    fault_s = _fault_s(plan.fault_bytes)
    report("ceilings", 0.8)
    beyond = _Beyond(fixed, layout, layout_kernel)
    byte_ceilings, flop_ceilings = _ceilings(clock, target, kind, beyond, plan.ceiling_input)
    report("ceilings", 1.0)
    return Roofs(
        flops_per_s=flops,
        layout=layout,
        layout_kernel=layout_kernel,
        bandwidth=bandwidth,
        fault_s=fault_s,
        curve_pixels=math.prod(plan.conv_input),
        few_pixels=math.prod(plan.few_input),
        byte_ceilings=byte_ceilings,
        flop_ceilings=flop_ceilings,
        op_overhead=overhead,
        **curves,
    )


def _curves(
    clock: Clock,
    target: torch.device,
    kind: torch.dtype,
    beyond: _Beyond,
    plan: Plan,
    flops: float,
) -> dict[str, tuple[tuple[int, float], ...]]:
    """The four convolution curves (1×1 and k×k, on the plan's input and on its few-position
    one), each point capped at the matrix product's rate: a convolution never beats it, so a
    point above it is a launch cost that overlapped with the work, subtracted in full."""
    names = (
        ("conv_curve", 1, plan.conv_input),
        ("kxk_curve", 3, plan.conv_input),
        ("conv_curve_few", 1, plan.few_input),
        ("kxk_curve_few", 3, plan.few_input),
    )
    return {
        name: tuple(
            (f, min(rate, flops))
            for f, rate in _conv_curve(clock, target, kind, beyond, k, shape, plan)
        )
        for name, k, shape in names
    }
