"""Device peaks: a short microbenchmark of what the device does at its best, cached on disk.

- compute: large matrix products in the dtype → FLOP/s (the best size), and a curve of what
  convolutions reach as their size grows (1×1, C → C channels on 28×28, C from 16 to 512: small
  convolutions leave vector lanes and threads idle);
- bandwidth, two curves over growing sizes: ``copy_`` into a tensor that exists (streaming, bytes
  read + written per second) and ``clone`` (the same copy into a freshly allocated output, as
  every eager op writes its result: large fresh allocations cost page faults);
- ceilings of kernels that stream slower than a copy or compute slower than a matmul, each on
  the same 128×56×56 input, in the default and the channels-last format: a 3×3 depthwise
  convolution (bytes/s), a 3×3 max pool and a size-5 local response norm (FLOP/s);
- overhead: tiny ops of each kind a CNN launches (conv, linear, norm, activation, pool, add) →
  seconds each, the fixed cost no FLOP or byte count explains.

Each figure is the median of its runs. The result is cached as JSON per device name, torch
version, thread count and dtype under the cache directory (``$CNNPROF_CACHE_DIR``, else
``$XDG_CACHE_HOME/cnnprof``, else ``~/.cache/cnnprof``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from cnnprof.analytic.formulas import LRN_EXTRA
from cnnprof.analytic.roofline import CHANNELS_LAST, Roofs
from cnnprof.empirical.latency import (
    CLOCKS,
    TORCH_DTYPES,
    Clock,
    Progress,
    check_device,
    device_name,
    threads,
)

SCHEMA = "cnnprof.peaks/1"
MATMUL_SIZES = MappingProxyType(
    {"cpu": (512, 1024, 2048), "cuda": (4096, 8192), "mps": (2048, 4096)}
)
# 64 KiB … 256 MiB per tensor; doubling from 1 MiB, where caches end and allocation changes
COPY_BYTES = (2**16, 2**18, *(2**k for k in range(20, 29)))
MATMUL_RUNS = 5
COPY_SECONDS = 0.05  # per size, at least …
COPY_RUNS = (3, 50)  # … between these many runs
OVERHEAD_RUNS = 200
CEILING_INPUT = MappingProxyType(
    {"cpu": (1, 128, 56, 56), "cuda": (32, 128, 56, 56), "mps": (8, 128, 56, 56)}
)
CEILING_RUNS = 10
CONV_CHANNELS = (16, 32, 64, 128, 256, 512)
CONV_INPUT = MappingProxyType({"cpu": (1, 28, 28), "cuda": (32, 28, 28), "mps": (8, 28, 28)})

Pairs = tuple[tuple[Any, float], ...]


@dataclass(frozen=True)
class Peaks:
    """One device's measured peaks at one dtype and thread count."""

    device: str  # cpu, cuda, mps
    device_name: str
    torch_version: str
    threads: int
    dtype: str
    flops_per_s: float
    conv_curve: tuple[tuple[int, float], ...]  # (FLOPs of a convolution, FLOP/s)
    bandwidth: tuple[tuple[int, float], ...]  # copy_: (bytes moved, bytes/s)
    alloc_bandwidth: tuple[tuple[int, float], ...]  # clone: (bytes moved, bytes/s)
    byte_ceilings: tuple[tuple[str, float], ...]  # (op kind, bytes/s)
    flop_ceilings: tuple[tuple[str, float], ...]  # (op kind, FLOP/s)
    op_overhead: tuple[tuple[str, float], ...]  # (op kind, seconds)
    measured_at: str  # ISO 8601, UTC

    def roofs(self) -> Roofs:
        return Roofs(
            flops_per_s=self.flops_per_s,
            conv_curve=self.conv_curve,
            bandwidth=self.bandwidth,
            alloc_bandwidth=self.alloc_bandwidth,
            op_overhead=self.op_overhead,
            byte_ceilings=self.byte_ceilings,
            flop_ceilings=self.flop_ceilings,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in CURVES:
            data[key] = [list(p) for p in getattr(self, key)]
        for key in TABLES:
            data[key] = dict(getattr(self, key))
        return {"schema": SCHEMA, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Peaks:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} record")
        fields = {k: v for k, v in data.items() if k != "schema"}
        for key in CURVES:
            fields[key] = tuple((int(n), float(b)) for n, b in fields[key])
        for key in TABLES:
            fields[key] = tuple((str(k), float(v)) for k, v in fields[key].items())
        return cls(**fields)


CURVES = ("conv_curve", "bandwidth", "alloc_bandwidth")
TABLES = ("byte_ceilings", "flop_ceilings", "op_overhead")


def cache_dir() -> Path:
    override = os.environ.get("CNNPROF_CACHE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "cnnprof"


def cache_path(name: str, torch_version: str, thread_count: int, dtype: str) -> Path:
    """One file per (device name, torch version, threads, dtype)."""
    slug = re.sub(r"[^A-Za-z0-9.+-]+", "_", f"{name}__torch-{torch_version}").strip("_")
    return cache_dir() / "peaks" / f"{slug}__{thread_count}t__{dtype}.json"


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


def _conv_curve(
    clock: Clock, device: torch.device, dtype: torch.dtype, fixed: float
) -> tuple[tuple[int, float], ...]:
    """FLOP/s of 1×1 convolutions C → C on the device's standard small input, by their FLOPs,
    net of the fixed cost of a convolution."""
    n, h, w = CONV_INPUT[device.type]
    points = []
    for c in CONV_CHANNELS:
        conv = nn.Conv2d(c, c, 1, bias=False).eval().to(device, dtype)
        x = torch.randn(n, c, h, w, device=device).to(dtype)
        flops = 2 * c * c * n * h * w
        run = functools.partial(conv, x)
        seconds = _net(_median_time(clock, run, _runs(clock, run)), fixed)
        points.append((flops, flops / seconds))
    return tuple(points)


def _runs(clock: Clock, fn: Callable[[], object]) -> int:
    once = clock.time(fn)
    return min(max(round(COPY_SECONDS / max(once, 1e-9)), COPY_RUNS[0]), COPY_RUNS[1])


def _bandwidth(
    clock: Clock, device: torch.device, dtype: torch.dtype, sizes: Sequence[int], fixed: float
) -> tuple[tuple[tuple[int, float], ...], tuple[tuple[int, float], ...]]:
    """(copy_ curve, clone curve): bytes moved (read once, written once) → bytes/s, net of the
    fixed cost of an element-wise op."""
    streamed, allocated = [], []
    for nbytes in sizes:
        x = torch.randn(max(nbytes // dtype.itemsize, 1), device=device).to(dtype)
        y = torch.empty_like(x)
        moved = 2 * x.numel() * dtype.itemsize
        for curve, run in ((streamed, functools.partial(y.copy_, x)), (allocated, x.clone)):
            seconds = _net(_median_time(clock, run, _runs(clock, run)), fixed)
            curve.append((moved, moved / seconds))
        del x, y
    return tuple(streamed), tuple(allocated)


def _overheads(clock: Clock, device: torch.device, dtype: torch.dtype) -> Pairs:
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
    out = []
    for kind, (op, arg) in tiny.items():
        if isinstance(op, nn.Module):
            op = op.eval().to(device=device, dtype=dtype)
        out.append((kind, _median_time(clock, lambda op=op, arg=arg: op(arg), OVERHEAD_RUNS)))
    return tuple(out)


def _ceilings(clock: Clock, device: torch.device, dtype: torch.dtype) -> tuple[Pairs, Pairs]:
    """(byte ceilings, FLOP ceilings): a 3×3 depthwise convolution's bytes/s (weights + input +
    output), a 3×3 max pool's and a size-5 local response norm's FLOP/s (counted as the
    formulas count them), each in the default and the channels-last format."""
    n, c, h, w = CEILING_INPUT[device.type]
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
        by_bytes.append((f"dwconv{suffix}", conv_bytes / seconds))
        for kind, (op, flops) in flop_ops.items():
            seconds = _median_time(clock, functools.partial(op, x), CEILING_RUNS)
            by_flops.append((f"{kind}{suffix}", flops / seconds))
    return tuple(by_bytes), tuple(by_flops)


def measure_peaks(
    device: str = "cpu",
    dtype: str = "float32",
    thread_count: int | None = None,
    *,
    matmul_sizes: Sequence[int] | None = None,
    copy_bytes: Sequence[int] | None = None,
    progress: Progress | None = None,
) -> Peaks:
    """Run the microbenchmark now (a few seconds); nothing is read from or written to the cache."""
    target = check_device(device, dtype)
    kind = TORCH_DTYPES[dtype]
    clock = CLOCKS[target.type]()
    report = progress or (lambda stage, fraction: None)
    sizes = matmul_sizes or MATMUL_SIZES[target.type]
    with threads(thread_count) as count, torch.inference_mode():
        report("overhead", 0.0)
        overhead = _overheads(clock, target, kind)
        fixed = dict(overhead)
        report("compute", 0.2)
        flops = _compute(clock, target, kind, sizes)
        conv_curve = _conv_curve(clock, target, kind, fixed["conv"])
        report("bandwidth", 0.5)
        bandwidth, alloc_bandwidth = _bandwidth(
            clock, target, kind, copy_bytes or COPY_BYTES, fixed["add"]
        )
        report("ceilings", 0.8)
        byte_ceilings, flop_ceilings = _ceilings(clock, target, kind)
        report("ceilings", 1.0)
    return Peaks(
        device=target.type,
        device_name=device_name(target),
        torch_version=torch.__version__,
        threads=count,
        dtype=dtype,
        flops_per_s=flops,
        conv_curve=conv_curve,
        bandwidth=bandwidth,
        alloc_bandwidth=alloc_bandwidth,
        byte_ceilings=byte_ceilings,
        flop_ceilings=flop_ceilings,
        op_overhead=overhead,
        measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def read_cached(path: Path) -> Peaks | None:
    """The peaks in ``path``; None when missing or unreadable (then they are measured again)."""
    try:
        return Peaks.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def peaks(
    device: str = "cpu",
    dtype: str = "float32",
    thread_count: int | None = None,
    *,
    refresh: bool = False,
    progress: Progress | None = None,
    matmul_sizes: Sequence[int] | None = None,
    copy_bytes: Sequence[int] | None = None,
) -> Peaks:
    """The device's peaks from the cache, measured (and cached) when absent or ``refresh``."""
    target = check_device(device, dtype)
    with threads(thread_count) as count:
        path = cache_path(device_name(target), torch.__version__, count, dtype)
    cached = None if refresh else read_cached(path)
    if cached is not None:
        return cached
    measured = measure_peaks(
        device, dtype, count, matmul_sizes=matmul_sizes, copy_bytes=copy_bytes, progress=progress
    )
    with contextlib.suppress(OSError):  # a read-only cache only means measuring again next time
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(measured.to_dict(), indent=2) + "\n", encoding="utf-8")
    return measured
