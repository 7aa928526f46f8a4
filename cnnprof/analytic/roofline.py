"""The roofline estimate: what each row should cost on a device, from its FLOPs and bytes alone.

Eager PyTorch runs a row as a sequence of ops (conv → BatchNorm → activation; SE's pool, convs,
gate and scale; a residual add), one after another. Each op gets the classic roofline,

    op time = max(FLOPs ÷ compute roof, memory time) + the op's launch overhead,

and a row's predicted time is the sum over its ops. A row is compute-bound when its
compute-limited ops take most of that time, memory-bound otherwise.

- compute roof: for a convolution, what convolutions of its size and kernel (1×1, or larger)
  reach on the device (measured curves: small ones leave vector lanes and threads idle; a 3×3
  kernel reuses each input nine times and runs nearer the peak than a 1×1 of the same FLOPs),
  and of its number of output positions (batch × height × width): a late stage's 7×7 map gives
  the kernel few positions to spread over threads and lanes, and the same FLOPs run up to half as
  fast there as on a 28×28 map (curves measured on both, interpolated on log positions), never
  above the large-matmul peak; for a kernel that computes slower, its measured ceiling (a
  max pool, a local response norm: a few operations per element loaded, no matrix units); else
  the large-matmul peak;
- memory time: the bytes the op reads and writes at the device's streaming copy rate (see
  bytes, below: small tensors stay in cache and move faster), and never faster than a measured
  ceiling for a kernel that streams slower than a copy (a depthwise convolution: one
  multiply-add per weight per pixel, no matrix product to keep the FMA units busy, so it moves
  its tensors at its own lower rate);
- bytes: the main op reads weights + input and writes its output (the profile's bytes moved);
  each element-wise op after it reads and writes the tensor again. Activations were just written
  by the op before and move at the rate for their own size (cached when small); weights were
  last touched a whole forward pass ago and move at the rate for the bytes that pass moves;
- overhead: the measured cost of a tiny op of the same kind; for a convolution, of a tiny one
  on the kernel torch dispatched it to, when that is known (on a CPU at batch 1 oneDNN's fixed
  cost is several times the native kernel's: `cnnprof.empirical.dispatch`), once per launch;
- layout: a kernel that computes in its own blocked layout (oneDNN on a CPU) reorders an NCHW
  input into it and the output back, two more passes over the activations at the device's
  measured reorder rate. Channels-last tensors need none.

On top of the ops, a pass pays for the fresh pages the allocator takes from the operating system:
minor page faults per forward pass (counted in the run; glibc returns large freed blocks to the
system, so a big activation can fault afresh on every pass) × the device's measured cost of one.
Where the faults were counted per row (hooked runs) each row pays for its own and the pass for
the rest; else the pass pays for them all. Where the count is not known that term is zero.

Everything else comes from a `Roofs` measured on the device (`cnnprof device`) and which kernel
each convolution ran; nothing is fitted to models. Pure Python, no torch.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cnnprof.profile import LayerCost, Profile

Curve = tuple[tuple[int, float], ...]  # (bytes moved, bytes/s), ascending
Table = tuple[tuple[str, float], ...]

# Element-wise FLOP categories → (op kind, tensors read, tensors written, on the row's input?).
# Tensors are of the row's output size, or of its input size when the last field is True.
PASSES: Mapping[str, tuple[str, int, int, bool]] = MappingProxyType(
    {
        "norm": ("norm", 1, 1, False),
        "act": ("act", 1, 1, False),
        "pool": ("pool", 1, 0, True),  # after a matrix product: SE's squeeze reads its input
        "add": ("add", 2, 1, False),
        "scale": ("add", 2, 1, False),
    }
)
MAIN_CATEGORIES = ("mac", "pool", "lrn")  # the first a row has names its main op
LINEAR_OPS = frozenset({"fc"})  # rows whose MACs are a matrix product, not a convolution
POOLED_OPS = frozenset({"se"})  # rows whose convolutions run on a pooled 1×1 map
MAIN_KINDS: Mapping[str, str] = MappingProxyType(
    {"dwconv": "dwconv", "maxpool": "maxpool", "avgpool": "pool", "gap": "pool", "lrn": "lrn"}
)
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


def row_ops(
    row: LayerCost, batch: int, dtype_bytes: int, launches: tuple[str, ...] = ()
) -> list[OpCost]:
    """The ops a row runs: the main op (convolution, matrix product, pool or LRN) reading the
    weights and input and writing the output, then one element-wise pass per FLOP category.
    ``launches``: the kernels the row's convolutions were dispatched to, one per call."""
    flops = row.flops
    ops: list[OpCost] = []
    written = row.out_shape.elements * batch * dtype_bytes
    read = row.bytes_moved(dtype_bytes, batch) - written
    weights = row.params * dtype_bytes
    main = next((c for c in MAIN_CATEGORIES if flops.get(c)), None)
    if main == "mac":
        kind = "linear" if row.op in LINEAR_OPS else MAIN_KINDS.get(row.op, "conv")
        count = (flops["mac"] + flops.get("bias", 0)) * batch
        pixels = batch if row.op in POOLED_OPS else row.out_shape.h * row.out_shape.w * batch
        ops.append(OpCost(kind, count, read, written, weights, row.kernel, launches, pixels))
    elif main is not None:
        kind = MAIN_KINDS.get(row.op, main)
        ops.append(OpCost(kind, flops[main] * batch, read, written, weights))
    for category, (kind, reads, writes, on_input) in PASSES.items():
        count = flops.get(category, 0) * batch
        if category == main or not count:
            continue
        shape = row.in_shape if on_input else row.out_shape
        size = min(count, shape.elements * batch) * dtype_bytes  # ≥ 1 FLOP per element touched
        ops.append(OpCost(kind, count, reads * size, writes * size))
    return ops


def layer_estimate(
    row: LayerCost,
    roofs: Roofs,
    batch: int,
    dtype_bytes: int,
    channels_last: bool = False,
    footprint: int = 0,
    launches: tuple[str, ...] = (),
    page_faults: float = 0.0,
) -> LayerEstimate:
    """One row on the roofs; ``footprint``: bytes one forward pass moves (how far away the
    row's weights were last touched); ``launches``: the kernels its convolutions ran;
    ``page_faults``: the fresh pages it took per pass, at the device's cost each."""
    ops = tuple(
        OpEstimate(
            kind=op.kind,
            flops=op.flops,
            bytes=op.read + op.written,
            compute_s=roofs.compute_s(op, channels_last),
            memory_s=roofs.memory_s(op, footprint, channels_last),
            overhead_s=roofs.overhead(op, channels_last),
            layout_s=roofs.layout_s(op, channels_last),
        )
        for op in row_ops(row, batch, dtype_bytes, launches)
    )
    return LayerEstimate(
        path=row.path,
        op=row.op,
        flops=row.total_flops * batch,
        bytes=row.bytes_moved(dtype_bytes, batch),
        ops=ops,
        page_faults=page_faults,
        faults_s=page_faults * roofs.fault_s,
    )


def estimate(
    profile: Profile,
    roofs: Roofs,
    channels_last: bool = False,
    kernels: Mapping[str, tuple[str, ...]] | None = None,
    page_faults: float | None = None,
    row_faults: Mapping[str, float] | None = None,
) -> Estimate:
    """Predicted time of every row of ``profile`` (at its batch and dtype) on ``roofs``.
    ``kernels``: row path → the kernels torch dispatched its convolutions to (a `Timing`'s
    ``kernels``); without it each convolution costs the generic launch. ``page_faults``: minor
    page faults per forward pass (a `Timing`'s ``page_faults``); ``row_faults``: row path → the
    faults counted in that row (a `Timing`'s ``row_faults()``), charged to the row, the rest of
    the pass's charged on top of the rows. The pass's count is a mean over the timed runs and the
    rows' are medians over the hooked runs: where faults come only on some runs the rows can hold
    more than the pass, and then nothing is charged on top of them."""
    footprint = profile.bytes_moved
    launches = kernels or {}
    own = row_faults or {}
    rows = tuple(
        layer_estimate(
            r, roofs, profile.batch, profile.dtype_bytes, channels_last, footprint,
            launches.get(r.path, ()), own.get(r.path, 0.0),
        )
        for r in profile.rows
    )  # fmt: skip
    faults = page_faults or 0.0
    rest = max(faults - sum(r.page_faults for r in rows), 0.0)
    return Estimate(profile.model, profile.batch, profile.dtype, rows, faults, rest * roofs.fault_s)
