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

Everything else comes from the `Roofs` measured on the device (`cnnprof device`,
`results.device`) and which kernel each convolution ran; nothing is fitted to models. Pure
Python, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cnnprof.results.device import (
    Curve,
    Estimate,
    LayerEstimate,
    OpEstimate,
    Roofs,
    ceiling,
    interpolate,
)
from cnnprof.results.profile import LayerCost, Profile

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
OVERHEAD_KIND: Mapping[str, str] = MappingProxyType(
    {"dwconv": "conv", "maxpool": "pool", "lrn": "pool"}
)
POINTWISE = frozenset({(), (1, 1)})  # kernels on the 1×1 convolution curve
MAIN_KINDS: Mapping[str, str] = MappingProxyType(
    {"dwconv": "dwconv", "maxpool": "maxpool", "avgpool": "pool", "gap": "pool", "lrn": "lrn"}
)


@dataclass(frozen=True)
class OpCost:
    """One op of a row before it meets the roofs: its kind, FLOPs and bytes, at the batch."""

    kind: str
    flops: int
    read: int  # bytes read, weights included
    written: int  # bytes written to a freshly allocated output
    weights: int = 0  # of the bytes read, the row's parameters
    kernel: tuple[int, ...] = ()  # the row's kernel size, (3, 3): picks the convolution curve
    launches: tuple[str, ...] = ()  # kernels it runs ("mkldnn", …; "" unknown); (): one launch
    pixels: int = 0  # output positions, batch × height × width (0: unknown)


# --- what an op costs on the roofs ------------------------------------------------------------


def memory_s(roofs: Roofs, op: OpCost, footprint: int = 0, channels_last: bool = False) -> float:
    """Seconds to move an op's bytes: activations (just written by the op before, so
    cached as far as their size allows) at the streaming rate for their size; weights (last
    touched a whole forward pass ago) at the rate for ``footprint``, the bytes that pass
    moves; never faster than the kind's ceiling."""
    moved = op.read + op.written
    if moved <= 0:
        return 0.0
    hot = moved - op.weights
    seconds = hot / roofs.bytes_per_s(hot) if hot else 0.0
    if op.weights:
        seconds += op.weights / roofs.bytes_per_s(max(footprint, op.weights))
    # a kernel that reorders runs in its own layout: its channels-last ceiling applies
    native = channels_last or reorders(roofs, op, channels_last)
    ceiling = roofs.op_bytes_ceiling(op.kind, native)
    return max(seconds, moved / ceiling) if ceiling else seconds


def reorders(roofs: Roofs, op: OpCost, channels_last: bool = False) -> bool:
    """Whether the op is an NCHW convolution on the kernel that reorders its tensors."""
    return not channels_last and bool(roofs.layout_kernel) and roofs.layout_kernel in op.launches


def layout_s(roofs: Roofs, op: OpCost, channels_last: bool = False) -> float:
    """Seconds an NCHW convolution on the reordering kernel spends bringing its input into
    the kernel's layout and its output back."""
    if not reorders(roofs, op, channels_last):
        return 0.0
    return reorder_s(roofs.layout, op.read - op.weights) + reorder_s(roofs.layout, op.written)


def compute_s(roofs: Roofs, op: OpCost, channels_last: bool = False) -> float:
    rate = ceiling(roofs.flop_ceilings, op.kind, channels_last) or roofs.flops_per_s
    conv = conv_rate(roofs, op) if op.kind == "conv" else None
    return op.flops / (min(rate, conv) if conv else rate)


def conv_rate(roofs: Roofs, op: OpCost) -> float | None:
    """What a convolution of the op's FLOPs, kernel and output positions reaches: the
    curve for its kernel, moved toward the few-position curve, on log positions, as its
    positions fall from the curve probes' to the few-position probes'."""
    if op.kernel not in POINTWISE and roofs.kxk_curve:
        many, few = roofs.kxk_curve, roofs.kxk_curve_few
    else:
        many, few = roofs.conv_curve, roofs.conv_curve_few
    if not many:
        return None
    rate = interpolate(many, op.flops)
    if not few or roofs.few_pixels <= 0 or not op.pixels or op.pixels >= roofs.curve_pixels:
        return rate
    span = math.log(roofs.curve_pixels) - math.log(roofs.few_pixels)
    t = max(math.log(op.pixels) - math.log(roofs.few_pixels), 0.0) / span if span > 0 else 0.0
    low = interpolate(few, op.flops)
    return low + t * (rate - low)


def overhead(roofs: Roofs, op: OpCost, channels_last: bool = False) -> float:
    """Fixed seconds of an op: one launch of its kind, or one per kernel it launches
    (each at that kernel's measured cost in the tensors' format when there is one)."""
    kind = OVERHEAD_KIND.get(op.kind, op.kind)
    generic = dict(roofs.op_overhead).get(kind, 0.0)
    if not op.launches:
        return generic
    return sum(
        (ceiling(roofs.op_overhead, f"{kind}/{k}", channels_last) or generic) if k else generic
        for k in op.launches
    )


def reorder_s(curve: Curve, tensor_bytes: int) -> float:
    """Seconds to reorder a tensor of ``tensor_bytes`` (read once, written once) at the rate a
    measured reorder curve gives for that many bytes moved; 0 without a curve."""
    if not curve or tensor_bytes <= 0:
        return 0.0
    moved = 2 * tensor_bytes
    return moved / interpolate(curve, moved)


def row_ops(
    row: LayerCost, batch: int, dtype_bytes: int, launches: tuple[str, ...] = ()
) -> list[OpCost]:
    """The ops a row runs: the main op (convolution, matrix product, pool or LRN) reading the
    weights and input and writing the output, then one element-wise pass per FLOP category.
    ``launches``: the kernels the row's convolutions were dispatched to, one per call."""
    flops = row.flops_by_category
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
            compute_s=compute_s(roofs, op, channels_last),
            memory_s=memory_s(roofs, op, footprint, channels_last),
            overhead_s=overhead(roofs, op, channels_last),
            layout_s=layout_s(roofs, op, channels_last),
        )
        for op in row_ops(row, batch, dtype_bytes, launches)
    )
    return LayerEstimate(
        path=row.path,
        op=row.op,
        flops=row.flops * batch,
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
            r,
            roofs,
            profile.batch,
            profile.dtype_bytes,
            channels_last,
            footprint,
            launches.get(r.path, ()),
            own.get(r.path, 0.0),
        )
        for r in profile.layers
    )
    faults = page_faults or 0.0
    rest = max(faults - sum(r.page_faults for r in rows), 0.0)
    return Estimate(profile.model, profile.batch, profile.dtype, rows, faults, rest * roofs.fault_s)
