"""A device as data: the roofs it was measured to reach (`Roofs`), the record of one measurement
(`Peaks`: the roofs plus where, when and with what), and the roofline's predictions (`Estimate`).

Pure Python, no torch: the microbenchmark in `cnnprof.empirical.peaks` fills a `Peaks`; the roofline
in `cnnprof.analytic.roofline` reads its `Roofs`; report and render show both.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from types import MappingProxyType
from typing import Any

Curve = tuple[tuple[int, float], ...]  # (bytes moved, bytes/s) or (FLOPs, FLOP/s), ascending
Table = tuple[tuple[str, float], ...]

OVERHEAD_KIND: Mapping[str, str] = MappingProxyType(
    {"dwconv": "conv", "maxpool": "pool", "lrn": "pool"}
)
CHANNELS_LAST = "/channels_last"  # suffix of a ceiling measured in channels-last format
POINTWISE = frozenset({"", "1×1"})  # kernels on the 1×1 convolution curve


def interpolate(curve: Curve, nbytes: float) -> float:
    """A measured curve at ``nbytes``: log-linear between points, flat beyond them."""
    if nbytes <= curve[0][0]:
        return curve[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(curve):
        if nbytes <= x1:
            t = (math.log(nbytes) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return y0 + t * (y1 - y0)
    return curve[-1][1]


@dataclass(frozen=True)
class Roofs:
    """A device's measured limits at one dtype and thread count."""

    flops_per_s: float  # peak compute (large matrix product)
    conv_curve: Curve  # 1×1 convolutions: (FLOPs, FLOP/s it reaches), ascending
    bandwidth: Curve  # streaming: copy_ into an existing tensor
    op_overhead: Table  # (op kind, seconds of a tiny op of that kind)
    byte_ceilings: Table = ()  # (op kind, bytes/s) of kernels streaming slower than a copy
    flop_ceilings: Table = ()  # (op kind, FLOP/s) of kernels computing slower than a matmul
    kxk_curve: Curve = ()  # convolutions with larger kernels (3×3): (FLOPs, FLOP/s), ascending
    layout: Curve = ()  # reorders to and from a blocked layout: (bytes moved, bytes/s)
    layout_kernel: str = ""  # the convolution kernel that reorders NCHW tensors ("mkldnn")
    fault_s: float = 0.0  # seconds per minor page fault (a fresh page from the system)
    curve_pixels: int = 0  # output positions (batch × height × width) of the curves' probes
    conv_curve_few: Curve = ()  # 1×1 convolutions on few positions (a 7×7 map): FLOPs, FLOP/s
    kxk_curve_few: Curve = ()  # 3×3 convolutions on few positions
    few_pixels: int = 0  # output positions of the few-position probes

    def bytes_per_s(self, nbytes: float) -> float:
        """Streaming bandwidth for an op moving ``nbytes``."""
        return interpolate(self.bandwidth, nbytes)

    def memory_s(self, op: OpCost, footprint: int = 0, channels_last: bool = False) -> float:
        """Seconds to move an op's bytes: activations (just written by the op before, so
        cached as far as their size allows) at the streaming rate for their size; weights (last
        touched a whole forward pass ago) at the rate for ``footprint``, the bytes that pass
        moves; never faster than the kind's ceiling."""
        moved = op.read + op.written
        if moved <= 0:
            return 0.0
        hot = moved - op.weights
        seconds = hot / self.bytes_per_s(hot) if hot else 0.0
        if op.weights:
            seconds += op.weights / self.bytes_per_s(max(footprint, op.weights))
        # a kernel that reorders runs in its own layout: its channels-last ceiling applies
        native = channels_last or self.reorders(op, channels_last)
        ceiling = self.op_bytes_ceiling(op.kind, native)
        return max(seconds, moved / ceiling) if ceiling else seconds

    def reorders(self, op: OpCost, channels_last: bool = False) -> bool:
        """Whether the op is an NCHW convolution on the kernel that reorders its tensors."""
        return not channels_last and bool(self.layout_kernel) and self.layout_kernel in op.launches

    def layout_s(self, op: OpCost, channels_last: bool = False) -> float:
        """Seconds an NCHW convolution on the reordering kernel spends bringing its input into
        the kernel's layout and its output back."""
        if not self.reorders(op, channels_last):
            return 0.0
        return reorder_s(self.layout, op.read - op.weights) + reorder_s(self.layout, op.written)

    def op_bytes_ceiling(self, kind: str, channels_last: bool = False) -> float | None:
        """The measured bytes/s ceiling of an op kind's kernel, if it has one."""
        return _lookup(self.byte_ceilings, kind, channels_last)

    def compute_s(self, op: OpCost, channels_last: bool = False) -> float:
        rate = _lookup(self.flop_ceilings, op.kind, channels_last) or self.flops_per_s
        conv = self.conv_rate(op) if op.kind == "conv" else None
        return op.flops / (min(rate, conv) if conv else rate)

    def conv_rate(self, op: OpCost) -> float | None:
        """What a convolution of the op's FLOPs, kernel and output positions reaches: the
        curve for its kernel, moved toward the few-position curve, on log positions, as its
        positions fall from the curve probes' to the few-position probes'."""
        if op.kernel not in POINTWISE and self.kxk_curve:
            many, few = self.kxk_curve, self.kxk_curve_few
        else:
            many, few = self.conv_curve, self.conv_curve_few
        if not many:
            return None
        rate = interpolate(many, op.flops)
        if not few or self.few_pixels <= 0 or not op.pixels or op.pixels >= self.curve_pixels:
            return rate
        span = math.log(self.curve_pixels) - math.log(self.few_pixels)
        t = max(math.log(op.pixels) - math.log(self.few_pixels), 0.0) / span if span > 0 else 0.0
        low = interpolate(few, op.flops)
        return low + t * (rate - low)

    def overhead(self, op: OpCost, channels_last: bool = False) -> float:
        """Fixed seconds of an op: one launch of its kind, or one per kernel it launches
        (each at that kernel's measured cost in the tensors' format when there is one)."""
        kind = OVERHEAD_KIND.get(op.kind, op.kind)
        generic = dict(self.op_overhead).get(kind, 0.0)
        if not op.launches:
            return generic
        return sum(
            (_lookup(self.op_overhead, f"{kind}/{k}", channels_last) or generic) if k else generic
            for k in op.launches
        )

    @property
    def dram_bytes_per_s(self) -> float:
        """Streaming bandwidth of the largest copy measured: the memory roof."""
        return self.bandwidth[-1][1]

    @property
    def cache_bytes_per_s(self) -> float:
        """Streaming bandwidth of a copy of a 1 MiB tensor (an activation at batch 1, held in
        cache): the cache roof."""
        return self.bytes_per_s(2 * 2**20)

    @property
    def ridge(self) -> float:
        """FLOPs per byte where the memory roof meets the compute roof."""
        return self.flops_per_s / self.dram_bytes_per_s


def reorder_s(curve: Curve, tensor_bytes: int) -> float:
    """Seconds to reorder a tensor of ``tensor_bytes`` (read once, written once) at the rate a
    measured reorder curve gives for that many bytes moved; 0 without a curve."""
    if not curve or tensor_bytes <= 0:
        return 0.0
    moved = 2 * tensor_bytes
    return moved / interpolate(curve, moved)


def _lookup(table: Table, kind: str, channels_last: bool) -> float | None:
    ceilings = dict(table)
    if channels_last and f"{kind}{CHANNELS_LAST}" in ceilings:
        return ceilings[f"{kind}{CHANNELS_LAST}"]
    return ceilings.get(kind)


@dataclass(frozen=True)
class OpEstimate:
    """One op of a row on the roofline."""

    kind: str  # conv, dwconv, linear, pool, maxpool, norm, act, add
    flops: int
    bytes: int  # read + written
    compute_s: float
    memory_s: float
    overhead_s: float
    layout_s: float = 0.0  # reordering its input and output, before and after the kernel

    @property
    def seconds(self) -> float:
        return max(self.compute_s, self.memory_s) + self.overhead_s + self.layout_s

    @property
    def bound(self) -> str:
        return "compute" if self.compute_s >= self.memory_s + self.layout_s else "memory"


@dataclass(frozen=True)
class LayerEstimate:
    """A row's predicted time: the sum of its ops'."""

    path: str
    op: str
    flops: int  # at the batch
    bytes: int  # weights + input + output, at the batch and dtype (the profile's bytes moved)
    ops: tuple[OpEstimate, ...]
    page_faults: float = 0.0  # fresh pages the row took per pass, where counted
    faults_s: float = 0.0  # what they cost at the device's measured rate

    @property
    def seconds(self) -> float:
        return sum(o.seconds for o in self.ops) + self.faults_s

    @property
    def overhead_s(self) -> float:
        return sum(o.overhead_s for o in self.ops)

    @property
    def bound(self) -> str:
        """Compute-bound when its compute-limited ops take at least half its time; page faults
        (fresh memory from the system) count on the memory side."""
        compute = sum(o.seconds for o in self.ops if o.bound == "compute")
        return "compute" if self.ops and compute >= self.seconds - compute else "memory"

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes if self.bytes else 0.0


@dataclass(frozen=True)
class Estimate:
    """The roofline prediction of a whole profile."""

    model: str
    batch: int
    dtype: str
    rows: tuple[LayerEstimate, ...]
    page_faults: float = 0.0  # minor page faults per forward pass, counted in the run
    faults_s: float = 0.0  # what those no row was charged for cost at the device's rate

    @property
    def rows_s(self) -> float:
        return sum(r.seconds for r in self.rows)

    @property
    def seconds(self) -> float:
        return self.rows_s + self.faults_s

    @property
    def all_faults_s(self) -> float:
        """Seconds of page faults in the prediction: the rows' own and the rest of the pass's."""
        return self.faults_s + sum(r.faults_s for r in self.rows)

    def by_path(self) -> dict[str, LayerEstimate]:
        return {r.path: r for r in self.rows}

    def share_bound(self, bound: str) -> float:
        """Share of the predicted time spent in rows with this bound."""
        total = self.seconds
        part = sum(r.seconds for r in self.rows if r.bound == bound)
        return part / total if total else 0.0


@dataclass(frozen=True)
class OpCost:
    """One op of a row before it meets the roofs: its kind, FLOPs and bytes, at the batch."""

    kind: str
    flops: int
    read: int  # bytes read, weights included
    written: int  # bytes written to a freshly allocated output
    weights: int = 0  # of the bytes read, the row's parameters
    kernel: str = ""  # the row's kernel size ("3×3"): picks the convolution curve
    launches: tuple[str, ...] = ()  # kernels it runs ("mkldnn", …; "" unknown); (): one launch
    pixels: int = 0  # output positions, batch × height × width (0: unknown)


PEAKS_SCHEMA = "cnnprof.peaks/3"
CURVES = ("conv_curve", "kxk_curve", "conv_curve_few", "kxk_curve_few", "layout", "bandwidth")
TABLES = ("byte_ceilings", "flop_ceilings", "op_overhead")


@dataclass(frozen=True)
class Peaks:
    """One measurement of a device: its roofs at one dtype and thread count, and what it was."""

    device: str  # cpu, cuda, mps
    device_name: str
    torch_version: str
    threads: int
    dtype: str
    measured_at: str  # ISO 8601, UTC
    roofs: Roofs

    def conv_curves(self) -> tuple[tuple[str, Curve], ...]:
        """The convolution curves, each labelled with its kernel and output positions."""
        r = self.roofs
        return (
            (f"1×1 conv, {r.curve_pixels:,} px", r.conv_curve),
            (f"3×3 conv, {r.curve_pixels:,} px", r.kxk_curve),
            (f"1×1 conv, {r.few_pixels:,} px", r.conv_curve_few),
            (f"3×3 conv, {r.few_pixels:,} px", r.kxk_curve_few),
        )

    def to_dict(self) -> dict[str, Any]:
        """The versioned record (`cnnprof.peaks/3`): curves as lists, tables as mappings."""
        data = {k: v for k, v in asdict(self).items() if k != "roofs"}
        roofs = asdict(self.roofs)
        for key in CURVES:
            roofs[key] = [list(p) for p in getattr(self.roofs, key)]
        for key in TABLES:
            roofs[key] = dict(getattr(self.roofs, key))
        return {"schema": PEAKS_SCHEMA, **data, **roofs}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Peaks:
        if data.get("schema") != PEAKS_SCHEMA:
            raise ValueError(f"not a {PEAKS_SCHEMA} record")
        roofs: dict[str, Any] = {f.name: data[f.name] for f in fields(Roofs)}
        for key in CURVES:
            roofs[key] = tuple((int(n), float(b)) for n, b in roofs[key])
        for key in TABLES:
            roofs[key] = tuple((str(k), float(v)) for k, v in roofs[key].items())
        own = {f.name: data[f.name] for f in fields(cls) if f.name != "roofs"}
        return cls(**own, roofs=Roofs(**roofs))
