"""Count what an nn.Module actually executes, into the same `Profile` the analytic path returns.

Default counter: every aten op is seen at dispatch level on the meta device (no weights, no
activations allocated); convolutions and matrix products are costed by torch's own FlopCounterMode
formulas (``torch.utils.flop_counter.flop_registry``, plus the fused CPU attention kernels),
element-wise ops by cnnprof's per-element table, and anything else is either deliberately free
(listed) or reported as unsupported with the module that called it. Each op is attributed to the
row (spec row path, or the innermost running module of an outside model) whose module was running.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from math import prod
from types import MappingProxyType
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from cnnprof.analytic.elementwise import ACT_FLOPS, LAYER_NORM_FLOPS, LRN_EXTRA, NORM_FLOPS
from cnnprof.analytic.layers import conv_kind, out_size
from cnnprof.arch.model import Shape, frozen
from cnnprof.errors import LoadError
from cnnprof.results.profile import LayerCost, Profile

aten = torch.ops.aten

NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)
LRN = nn.LocalResponseNorm

# FLOPs per element beyond ACT_FLOPS and NORM_FLOPS, for ops outside models use (the operations
# in each definition).
GELU_FLOPS = ACT_FLOPS["gelu"]  # x/√2, erf, +1, ×x, ×½
SOFTMAX_FLOPS = 5  # max, subtract, exp, sum, divide
BILINEAR_FLOPS = 7  # two lerps along x, one along y: 3 × (subtract, multiply-add) + the weight
BICUBIC_FLOPS = 32  # 4×4 taps, a multiply and an add each


def _numel(value: Any) -> int:
    return value.numel() if isinstance(value, torch.Tensor) else 0


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, (tuple, list)) and value else value


def _per_output(flops: int) -> Callable[[tuple, dict, Any], int]:
    return lambda args, kwargs, out: flops * _numel(_first(out))


def _pool_window(args: tuple, kwargs: dict, out: Any) -> int:
    kernel = list(args[1] if len(args) > 1 else kwargs["kernel_size"])
    dims = _numel(_first(out)) and (_first(out).dim() - 2)
    return prod(kernel if len(kernel) > 1 else kernel * dims) * _numel(_first(out))


def _max_pool_window(args: tuple, kwargs: dict, out: Any) -> int:
    return _pool_window(args, kwargs, out) - _numel(_first(out))


def _per_input(args: tuple, kwargs: dict, out: Any) -> int:
    return _numel(args[0])


# Element-wise ops: aten packet → (category, FLOPs). Per-element costs match analytic.formulas.
ELEMENTWISE: Mapping[Any, tuple[str, Callable[[tuple, dict, Any], int]]] = MappingProxyType(
    {
        aten.relu: ("act", _per_output(ACT_FLOPS["relu"])),
        aten.relu_: ("act", _per_output(ACT_FLOPS["relu"])),
        aten.hardtanh: ("act", _per_output(ACT_FLOPS["relu6"])),
        aten.hardtanh_: ("act", _per_output(ACT_FLOPS["relu6"])),
        aten.clamp: ("act", _per_output(ACT_FLOPS["relu6"])),
        aten.clamp_: ("act", _per_output(ACT_FLOPS["relu6"])),
        aten.clamp_min: ("act", _per_output(ACT_FLOPS["relu"])),
        aten.clamp_min_: ("act", _per_output(ACT_FLOPS["relu"])),
        aten.sigmoid: ("act", _per_output(ACT_FLOPS["sigmoid"])),
        aten.sigmoid_: ("act", _per_output(ACT_FLOPS["sigmoid"])),
        aten.silu: ("act", _per_output(ACT_FLOPS["silu"])),
        aten.silu_: ("act", _per_output(ACT_FLOPS["silu"])),
        aten.tanh: ("act", _per_output(ACT_FLOPS["tanh"])),
        aten.tanh_: ("act", _per_output(ACT_FLOPS["tanh"])),
        aten.hardswish: ("act", _per_output(ACT_FLOPS["hswish"])),
        aten.hardswish_: ("act", _per_output(ACT_FLOPS["hswish"])),
        aten.hardsigmoid: ("act", _per_output(ACT_FLOPS["hsigmoid"])),
        aten.hardsigmoid_: ("act", _per_output(ACT_FLOPS["hsigmoid"])),
        aten.gelu: ("act", _per_output(GELU_FLOPS)),
        aten.gelu_: ("act", _per_output(GELU_FLOPS)),
        aten.leaky_relu: ("act", _per_output(2)),  # compare, multiply
        aten.leaky_relu_: ("act", _per_output(2)),
        aten.elu: ("act", _per_output(4)),  # compare, exp, subtract, multiply
        aten.elu_: ("act", _per_output(4)),
        aten.mish: ("act", _per_output(6)),  # exp, add, log (softplus), tanh as one, multiply
        aten.mish_: ("act", _per_output(6)),
        aten._softmax: ("act", _per_output(SOFTMAX_FLOPS)),
        aten._safe_softmax: ("act", _per_output(SOFTMAX_FLOPS)),
        aten._log_softmax: ("act", _per_output(SOFTMAX_FLOPS + 1)),
        aten._native_batch_norm_legit_no_training: ("norm", _per_output(NORM_FLOPS["bn"])),
        aten.native_batch_norm: ("norm", _per_output(NORM_FLOPS["bn"])),
        aten._native_batch_norm_legit: ("norm", _per_output(NORM_FLOPS["bn"])),
        aten.native_layer_norm: ("norm", _per_output(LAYER_NORM_FLOPS)),
        aten.native_group_norm: ("norm", _per_output(LAYER_NORM_FLOPS)),
        aten.add: ("add", _per_output(1)),
        aten.add_: ("add", _per_output(1)),
        aten.sub: ("add", _per_output(1)),
        aten.sub_: ("add", _per_output(1)),
        aten.rsub: ("add", _per_output(1)),
        aten.mul: ("scale", _per_output(1)),
        aten.mul_: ("scale", _per_output(1)),
        aten.div: ("scale", _per_output(1)),
        aten.div_: ("scale", _per_output(1)),
        aten.addcmul: ("scale", _per_output(2)),
        aten.addcmul_: ("scale", _per_output(2)),
        aten.max_pool2d_with_indices: ("pool", _max_pool_window),
        aten.max_pool2d: ("pool", _max_pool_window),
        aten.max_pool3d_with_indices: ("pool", _max_pool_window),
        aten.avg_pool2d: ("pool", _pool_window),
        aten.avg_pool3d: ("pool", _pool_window),
        aten._adaptive_avg_pool2d: ("pool", _per_input),
        aten.adaptive_avg_pool2d: ("pool", _per_input),
        aten._adaptive_avg_pool3d: ("pool", _per_input),
        aten.adaptive_max_pool2d: ("pool", _per_input),
        aten.mean: ("pool", _per_input),
        aten.sum: ("pool", _per_input),
        aten.amax: ("pool", _per_input),
        aten.upsample_bilinear2d: ("other", _per_output(BILINEAR_FLOPS)),
        aten.upsample_bicubic2d: ("other", _per_output(BICUBIC_FLOPS)),
        aten.grid_sampler_2d: ("other", _per_output(BILINEAR_FLOPS)),
        aten.exp: ("other", _per_output(1)),
        aten.log: ("other", _per_output(1)),
        aten.sqrt: ("other", _per_output(1)),
        aten.rsqrt: ("other", _per_output(1)),
        aten.pow: ("other", _per_output(1)),
        aten.neg: ("other", _per_output(1)),
        aten.abs: ("other", _per_output(1)),
        aten.reciprocal: ("other", _per_output(1)),
        aten.floor: ("other", _per_output(1)),
        aten.ceil: ("other", _per_output(1)),
        aten.sin: ("other", _per_output(1)),
        aten.cos: ("other", _per_output(1)),
        aten.trunc: ("other", _per_output(1)),
        aten.remainder: ("other", _per_output(1)),
        aten.fmod: ("other", _per_output(1)),
        aten.sign: ("other", _per_output(1)),
        aten.round: ("other", _per_output(1)),
        aten.log2: ("other", _per_output(1)),
        aten.linalg_vector_norm: ("other", lambda args, kwargs, out: 2 * _numel(args[0])),
        aten.cumsum: ("other", _per_input),
        # selections: at least one comparison per element read
        aten.sort: ("other", _per_input),
        aten.topk: ("other", _per_input),
        aten.argmax: ("other", _per_input),
        aten.max: ("other", _per_input),
        aten._unique2: ("other", _per_input),
        aten.unique_consecutive: ("other", _per_input),
        aten.eq: ("other", _per_output(1)),
        aten.ne: ("other", _per_output(1)),
        aten.lt: ("other", _per_output(1)),
        aten.le: ("other", _per_output(1)),
        aten.gt: ("other", _per_output(1)),
        aten.ge: ("other", _per_output(1)),
        aten.maximum: ("other", _per_output(1)),
        aten.minimum: ("other", _per_output(1)),
        aten.where: ("other", _per_output(1)),
        aten.masked_fill: ("other", _per_output(1)),
        aten.masked_fill_: ("other", _per_output(1)),
        aten.logical_and: ("other", _per_output(1)),
        aten.bitwise_and: ("other", _per_output(1)),
        aten.bitwise_not: ("other", _per_output(1)),
    }
)

# Ops that move, view, allocate or index data without arithmetic: seen, deliberately free, listed.
IGNORED = frozenset(
    {
        aten.view, aten._unsafe_view, aten.reshape, aten.t, aten.transpose, aten.permute,
        aten.expand, aten.clone, aten.detach, aten.cat, aten.flatten, aten.squeeze,
        aten.unsqueeze, aten.alias, aten.empty_like, aten._to_copy, aten.copy_, aten.slice,
        aten.select, aten.split, aten.split_with_sizes, aten.contiguous, aten.as_strided,
        aten.as_strided_, aten.zero_, aten.fill_, aten.lift_fresh, aten.empty, aten.zeros,
        aten.ones, aten.new_empty, aten.new_zeros, aten.new_ones, aten.new_full, aten.dropout,
        aten.native_dropout, aten.chunk, aten.unbind, aten.stack, aten.sym_size, aten.sym_stride,
        aten.sym_numel, aten.is_same_size, aten.zeros_like, aten.ones_like, aten.full,
        aten.full_like, aten.arange, aten.index_select, aten.unsafe_split, aten.constant_pad_nd,
        aten.roll, aten.index, aten.index_put_, aten.index_put, aten.gather, aten.scalar_tensor,
        aten.lift_fresh_copy, aten.upsample_nearest2d, aten.repeat, aten.flip, aten.pixel_shuffle,
        aten.empty_strided, aten.new_empty_strided, aten.linspace, aten.randn, aten.rand,
        aten._local_scalar_dense, aten.item, aten.nonzero,
        aten.unfold, aten.im2col, aten.col2im, aten.split_with_sizes_copy, aten.tril, aten.triu,
        aten.meshgrid, aten.narrow, aten.to, aten.bernoulli_, aten.set_, aten.resize_,
        aten.reflection_pad2d, aten.replication_pad2d, aten.slice_scatter, aten.select_scatter,
    }
)  # fmt: skip


IOU_FLOPS = 9  # intersection: 2 max, 2 min, 2 subtract, multiply; union: add, subtract; divide


def _roi_align(args: tuple, kwargs: dict, out: Any) -> int:
    """Each output bin averages sampling_ratio² bilinear samples (2 per side when adaptive:
    torchvision's detection heads pass 2)."""
    samples = args[5] if len(args) > 5 and args[5] > 0 else 2
    return _numel(out) * samples * samples * (BILINEAR_FLOPS + 1)


def _nms(args: tuple, kwargs: dict, out: Any) -> int:
    """One IoU per pair of boxes (an upper bound: suppressed boxes are skipped)."""
    n = args[0].shape[0]
    return IOU_FLOPS * n * (n - 1) // 2


# Ops of other libraries, known by name (their packets exist only once the library is loaded).
NAMED: Mapping[str, tuple[str, Callable[[tuple, dict, Any], int]]] = MappingProxyType(
    {"torchvision.roi_align": ("other", _roi_align), "torchvision.nms": ("other", _nms)}
)


def _mha_macs(args: tuple, kwargs: dict, out: Any) -> int:
    """torch's fused ``_native_multi_head_attention`` (CPU, eval): q, k, v projections, the two
    attention products and the output projection, each a matrix product."""
    query, key, embed_dim = args[0], args[1], args[3]
    n, length, _ = query.shape
    source = key.shape[1]
    projections = n * (length + 2 * source) * embed_dim * embed_dim + n * length * embed_dim**2
    return projections + 2 * n * length * source * embed_dim


def _sdpa_macs(args: tuple, kwargs: dict, out: Any) -> int:
    """A fused scaled-dot-product attention kernel: Q·Kᵀ then P·V."""
    query, key, value = args[:3]
    *lead, length, dim = query.shape
    source, value_dim = key.shape[-2], value.shape[-1]
    return prod(lead) * length * source * (dim + value_dim)


# Fused kernels torch runs on CPU where meta decomposes into matrix products: packet → MACs.
FUSED_MACS: Mapping[Any, Callable[[tuple, dict, Any], int]] = MappingProxyType(
    {
        **{
            getattr(aten, name): _sdpa_macs
            for name in (
                "_scaled_dot_product_flash_attention_for_cpu",
                "_scaled_dot_product_attention_math",
            )
            if hasattr(aten, name)
        },
        aten._native_multi_head_attention: _mha_macs,
    }
)


def shape_of(dims: Sequence[int]) -> Shape:
    """A row's shape per image from a tensor's dims after the batch: (C,) is C×1×1, (L, C) is a
    sequence of C features, (C, H, W, …) is C × H × (W·…)."""
    dims = list(dims) or [1]
    if len(dims) == 1:
        return Shape(dims[0], 1, 1)
    if len(dims) == 2:
        return Shape(dims[-1], dims[0], 1)
    return Shape(dims[0], dims[1], prod(dims[2:]))


@contextlib.contextmanager
def fixed_seed() -> Iterator[None]:
    """Random numbers from seed 0 inside, the caller's generator state untouched outside: real
    weights and inputs are the same every run, so are a data-dependent model's counts."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        yield


@dataclass(frozen=True)
class Inputs:
    """What an outside model is called with: one tensor per shape (batch first), or, for a
    torchvision detection model, one list of ``batch`` images."""

    shapes: tuple[tuple[int, ...], ...]
    image_list: bool = False

    def tensors(self, batch: int, device: str) -> tuple[Any, ...]:
        """Random inputs, the same every run (a data-dependent model's count depends on them)."""
        with fixed_seed():
            if self.image_list:
                return ([torch.rand(*self.shapes[0], device=device) for _ in range(batch)],)
            return tuple(torch.rand(batch, *s, device=device) for s in self.shapes)

    @property
    def first(self) -> Shape:
        return shape_of(self.shapes[0])


def as_inputs(input: Shape | Iterable[int] | Inputs) -> Inputs:
    """One image's shape (a `Shape` or sizes of any rank) as `Inputs`."""
    if isinstance(input, Inputs):
        return input
    return Inputs((tuple(input.as_list() if isinstance(input, Shape) else input),))


@dataclass
class _Row:
    path: str
    module: nn.Module | None = None
    in_shape: Shape | None = None
    out_shape: Shape | None = None
    macs: int = 0
    flops: Counter = field(default_factory=Counter)
    weight_params: int = 0
    bias_params: int = 0
    norm_params: int = 0
    buffers: int = 0


def _shape(value: Any) -> Shape | None:
    value = _first(value)
    if not isinstance(value, torch.Tensor) or value.dim() < 2:
        return None
    return shape_of(value.shape[1:])


class _Recorder(TorchDispatchMode):
    """Sees every aten op; attributes its cost to the row whose module is running."""

    def __init__(self, tracker: _Tracker) -> None:
        super().__init__()
        self.tracker = tracker
        self.ignored: Counter = Counter()
        self.unsupported: Counter = Counter()
        self.largest = 0  # elements of the largest tensor an op returned
        self.used: set[int] = set()  # ids of the tensors ops read (parameters among them)

    def dispatch(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        shortcut = META_SHORTCUTS.get(func.overloadpacket)
        meta = shortcut is not None and _all_meta(args) and not kwargs
        out = shortcut(*args) if meta else func(*args, **kwargs)
        self.largest = max(self.largest, _numel(_first(out)))
        self.used.update(id(a) for a in args if isinstance(a, torch.Tensor))
        packet = func.overloadpacket
        if packet in flop_registry:
            row = self.tracker.current_row()
            flops = flop_registry[packet](*args, **kwargs, out_val=out)
            row.macs += flops // 2
            row.flops["mac"] += flops
            bias = _bias_elements(packet, args, out)
            if bias:
                row.flops["bias"] += bias
        elif packet in FUSED_MACS:
            macs = FUSED_MACS[packet](args, kwargs, out)
            row = self.tracker.current_row()
            row.macs += macs
            row.flops["mac"] += 2 * macs
        elif self.tracker.inside_lrn():
            self.ignored["(inside LocalResponseNorm: costed by its formula)"] += 1
        elif packet in ELEMENTWISE:
            category, cost = ELEMENTWISE[packet]
            self.tracker.current_row().flops[category] += cost(args, kwargs, out)
        elif packet in IGNORED:
            self.ignored[str(packet)] += 1
        elif str(packet) in NAMED:
            category, cost = NAMED[str(packet)]
            self.tracker.current_row().flops[category] += cost(args, kwargs, out)
        else:
            self.unsupported[f"{packet} in {self.tracker.running()}"] += 1
        return out


# TorchDispatchMode wraps a subclass's __torch_dispatch__ so that torch.compile skips it, which
# imports torch._dynamo (most of a second) on the first op; cnnprof never compiles, so the mode
# dispatches through the plain method.
_Recorder.__torch_dispatch__ = _Recorder.dispatch  # type: ignore[method-assign]


def _check(ok: bool, message: str) -> None:
    """What torch's own meta kernel would refuse, refused the same way."""
    if not ok:
        raise RuntimeError(message)


def _all_meta(args: tuple) -> bool:
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    return bool(tensors) and all(t.device.type == "meta" for t in tensors)


def _batch_norm_on_meta(x: torch.Tensor, *rest: Any) -> tuple[torch.Tensor, ...]:
    """Inference BatchNorm's outputs on meta by shape alone: torch's meta kernel is a Python
    decomposition that imports torch._dynamo; the normalised map has the input's shape and the
    saved statistics are empty in eval."""
    weight = rest[0] if rest else None
    _check(weight is None or weight.shape[0] == x.shape[1],
           f"BatchNorm of {weight.shape[0] if weight is not None else 0} channels got input "
           f"{list(x.shape)}")  # fmt: skip
    return x.new_empty(x.shape), x.new_empty((0,)), x.new_empty((0,))


def _pointwise_on_meta(*args: Any) -> torch.Tensor:
    """A pointwise op's output on meta by shape alone (broadcast shapes, promoted dtype): the
    meta kernels of these ops are Python references that import torch._dynamo."""
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    rank = max(t.dim() for t in tensors)
    padded = [(1,) * (rank - t.dim()) + tuple(t.shape) for t in tensors]
    shape = [max(sizes) if min(sizes) else 0 for sizes in zip(*padded, strict=True)]
    for sizes, size in zip(zip(*padded, strict=True), shape, strict=True):
        _check(all(n in (1, size) for n in sizes), f"shapes {[list(d) for d in padded]} do not "
               "broadcast")  # fmt: skip
    dtype = torch.result_type(*args[:2]) if len(args) > 1 else tensors[0].dtype
    return tensors[0].new_empty(shape, dtype=dtype)


def _reduce_on_meta(x: torch.Tensor, dim: Any = None, keepdim: bool = False,
                    *rest: Any) -> torch.Tensor:  # fmt: skip
    """mean/sum over ``dim`` by shape alone."""
    dims = range(x.dim()) if dim is None or dim == [] else [d % x.dim() for d in dim]
    shape = [1 if i in dims else n for i, n in enumerate(x.shape)]
    return x.new_empty(shape if keepdim else [n for i, n in enumerate(x.shape) if i not in dims])


def _matmul_on_meta(*args: Any) -> torch.Tensor:
    """mm, bmm and addmm (bias first) by shape alone: (…, n, k) @ (…, k, m) → (…, n, m)."""
    a, b = args[-2:] if len(args) == 3 else args[:2]
    _check(a.shape[-1] == b.shape[-2], f"cannot multiply {list(a.shape)} by {list(b.shape)}")
    return a.new_empty((*a.shape[:-1], b.shape[-1]))


def _windows(x: torch.Tensor, kernel: Any, stride: Any, padding: Any, dilation: Any = 1,
             ceil: bool = False) -> list[int]:  # fmt: skip
    """Output sizes of a sliding window over ``x``'s spatial dims (torch's rule)."""
    dims = x.dim() - 2
    k, s, p, d = (_spread(v, dims) for v in (kernel, stride or kernel, padding, dilation))
    return [out_size(n, k[i], s[i], p[i], d[i], ceil) for i, n in enumerate(x.shape[2:])]


def _spread(value: Any, dims: int) -> list[int]:
    value = list(value) if isinstance(value, (list, tuple)) else [value]
    return value * dims if len(value) == 1 else value


def _convolution_on_meta(x: torch.Tensor, weight: torch.Tensor, bias: Any, stride: Any,
                         padding: Any, dilation: Any, transposed: bool, output_padding: Any,
                         groups: int) -> torch.Tensor:  # fmt: skip
    """``aten.convolution``'s output on meta by shape alone."""
    channels = weight.shape[0] if transposed else weight.shape[1] * groups
    _check(
        x.dim() == weight.dim() and x.shape[1] == channels,
        f"a convolution expecting {channels} input channels got input {list(x.shape)}",
    )
    if not transposed:
        sizes = _windows(x, weight.shape[2:], stride, padding, dilation)
        return x.new_empty((x.shape[0], weight.shape[0], *sizes))
    dims = x.dim() - 2
    s, p, d, o = (_spread(v, dims) for v in (stride, padding, dilation, output_padding))
    spans = enumerate(zip(x.shape[2:], weight.shape[2:], strict=True))
    sizes = [(n - 1) * s[i] - 2 * p[i] + d[i] * (k - 1) + o[i] + 1 for i, (n, k) in spans]
    return x.new_empty((x.shape[0], weight.shape[1] * groups, *sizes))


def _max_pool_on_meta(
    x: torch.Tensor,
    kernel: Any,
    stride: Any = (),
    padding: Any = 0,
    dilation: Any = 1,
    ceil: bool = False,
) -> tuple[torch.Tensor, ...]:
    shape = (*x.shape[:2], *_windows(x, kernel, stride, padding, dilation, ceil))
    return x.new_empty(shape), x.new_empty(shape, dtype=torch.int64)


def _avg_pool_on_meta(
    x: torch.Tensor,
    kernel: Any,
    stride: Any = (),
    padding: Any = 0,
    ceil: bool = False,
    *rest: Any,
) -> torch.Tensor:
    return x.new_empty((*x.shape[:2], *_windows(x, kernel, stride, padding, 1, ceil)))


def _adaptive_pool_on_meta(x: torch.Tensor, size: Any) -> torch.Tensor:
    return x.new_empty((*x.shape[: -len(size)], *size))


def _in_place_on_meta(*args: Any) -> torch.Tensor:
    return args[0]


# Ops whose meta outputs are made here from shapes alone, on meta inputs only.
META_SHORTCUTS: Mapping[Any, Callable[..., Any]] = MappingProxyType(
    {
        aten._native_batch_norm_legit_no_training: _batch_norm_on_meta,
        aten.native_batch_norm: _batch_norm_on_meta,
        **{op: _pointwise_on_meta for op in (
            aten.relu, aten.hardtanh, aten.sigmoid, aten.silu, aten.hardswish, aten.hardsigmoid,
            aten.gelu, aten.tanh, aten.add, aten.mul, aten.sub, aten.div, aten.pow)},
        aten.mean: _reduce_on_meta,
        aten.convolution: _convolution_on_meta,
        aten.max_pool2d_with_indices: _max_pool_on_meta,
        aten.avg_pool2d: _avg_pool_on_meta,
        aten._adaptive_avg_pool2d: _adaptive_pool_on_meta,
        aten.mm: _matmul_on_meta,
        aten.bmm: _matmul_on_meta,
        aten.addmm: _matmul_on_meta,
        **{op: _in_place_on_meta for op in (
            aten.relu_, aten.hardtanh_, aten.sigmoid_, aten.silu_, aten.hardswish_,
            aten.hardsigmoid_, aten.add_, aten.mul_)},
    }
)  # fmt: skip


def _bias_elements(packet: Any, args: tuple, out: Any) -> int:
    if packet is aten.convolution and len(args) > 2 and args[2] is not None:
        return _numel(out)
    if packet is aten.addmm:
        return _numel(out)
    return 0


class _Tracker:
    """Keeps the stack of running modules and maps each to its row."""

    def __init__(self, root: nn.Module, rows: Sequence[str] | None) -> None:
        self.names = {id(m): name for name, m in root.named_modules()}
        self.modules = dict(root.named_modules())
        self.fixed_rows = rows is not None
        self.rows: dict[str, _Row] = {}
        for path in rows or ():
            if path not in self.modules:
                raise LoadError(f"row '{path}' has no module of that path in the built network")
            self.rows[path] = _Row(path, self.modules[path])
        self.stack: list[str] = []
        self.last: _Row | None = None
        self.order: list[str] = []
        self.entered: set[str] = set()
        self.handles: list[Any] = []
        for module in self.modules.values():
            self.handles.append(module.register_forward_pre_hook(self._enter))
            self.handles.append(module.register_forward_hook(self._leave, always_call=True))

    def owner(self, path: str) -> _Row | None:
        if self.fixed_rows:
            while True:
                if path in self.rows:
                    return self.rows[path]
                if "." not in path:
                    return None
                path = path.rsplit(".", 1)[0]
        if path not in self.rows:
            self.rows[path] = _Row(path, self.modules.get(path))
        return self.rows[path]

    def running(self) -> str:
        """The innermost running module, as a user would name it."""
        return (self.stack[-1] if self.stack else "") or "(root)"

    def current_row(self) -> _Row:
        return self.current_row_for(self.stack[-1] if self.stack else "")

    def current_row_for(self, path: str) -> _Row:
        row = self.owner(path)
        if row is None:  # an op in a block's own forward (residual add): the last row run
            row = self.last or self.owner_or_root()
        return row

    def owner_or_root(self) -> _Row:
        return self.rows.setdefault("", _Row("", None))

    def _enter(self, module: nn.Module, args: tuple) -> None:
        path = self.names.get(id(module), "")
        self.stack.append(path)
        self.entered.add(path)
        if not self.fixed_rows and not list(module.children()):
            self.owner(path)  # leaf modules are rows even when they do no arithmetic
        row = self.rows.get(path)
        if row is not None and row.in_shape is None:
            row.in_shape = _shape(args)
            self.order.append(path)

    def inside_lrn(self) -> bool:
        """LRN runs as several element-wise ops; it is costed whole, by its formula, on exit."""
        return bool(self.stack) and isinstance(self.modules.get(self.stack[-1]), LRN)

    def _leave(self, module: nn.Module, args: tuple, output: Any) -> None:
        path = self.stack.pop() if self.stack else ""
        if isinstance(module, LRN):
            per_element = 2 * module.size + LRN_EXTRA
            self.current_row_for(path).flops["lrn"] += per_element * _numel(_first(output))
        row = self.rows.get(path)
        if row is not None:
            if row.out_shape is None:
                row.out_shape = _shape(output)
            self.last = row

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


def _count_params(root: nn.Module, tracker: _Tracker) -> int:
    """Parameters and float buffers per row, each tensor once; returns those outside any row.
    An outside model's module that holds parameters is a row even when nothing else made it one
    (a class token on the root, a layer-scale γ on a block, an aux head that eval skips)."""
    seen: set[int] = set()
    loose = 0
    for path, module in root.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                continue
            seen.add(id(param))
            row = tracker.owner(path)
            if row is None:
                loose += param.numel()
            elif isinstance(module, NORM_TYPES):
                row.norm_params += param.numel()
            elif name == "bias":
                row.bias_params += param.numel()
            else:
                row.weight_params += param.numel()
        for _, buf in module.named_buffers(recurse=False):
            row = tracker.owner(path) if tracker.fixed_rows else tracker.rows.get(path)
            if row is not None and buf.is_floating_point():
                row.buffers += buf.numel()
    return loose


def not_run(root: nn.Module, entered: set[str], used: set[int]) -> tuple[str, ...]:
    """The outermost modules that never ran (eval skips them) and hold parameters within that
    no op read (a parent may use a child's weights itself, as MultiheadAttention does)."""
    out: dict[str, None] = {}
    for path, module in root.named_modules():
        own = list(module.parameters(recurse=False))
        if path in entered or not own or any(id(p) in used for p in own):
            continue
        parts = path.split(".")
        prefixes = (".".join(parts[:i]) for i in range(1, len(parts) + 1))
        out.setdefault(next(p for p in prefixes if p not in entered))
    return tuple(out)


class MetaFailed(LoadError):
    """The forward could not run on the meta device (data-dependent control flow, ``.item()``);
    ``largest`` is the largest tensor, in elements, it produced before it stopped."""

    def __init__(self, message: str, largest: int) -> None:
        super().__init__(message)
        self.largest = largest


def available_bytes() -> int:
    """Memory this machine can give now (MemAvailable on Linux, else physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def tensor_bytes(module: nn.Module) -> int:
    """Bytes of ``module``'s parameters and buffers, once each, at their dtypes (meta too)."""
    tensors = {id(t): t for t in [*module.parameters(), *module.buffers()]}
    return sum(t.numel() * t.element_size() for t in tensors.values())


def to_meta(module: nn.Module) -> nn.Module:
    """``module`` if it is already on meta, else a meta copy (the caller's module is untouched)."""
    if all(p.device.type == "meta" for p in module.parameters()):
        return module
    return copy.deepcopy(module).to("meta")


def _device(module: nn.Module) -> str:
    param = next(module.parameters(), None)
    return param.device.type if param is not None else "meta"


def count(
    module: nn.Module,
    input: Shape | Iterable[int] | Inputs,
    *,
    batch: int = 1,
    dtype: str = "float32",
    rows: Sequence[str] | None = None,
    model: str = "",
    on: str = "meta",
) -> Profile:
    """Count ``module`` at ``batch`` × ``input`` (a shape, or the `Inputs` of an outside model).

    ``rows`` are the row paths to report (a spec's, so rows align with the analytic profile);
    without them every module that runs an op, holds parameters, or is a leaf is a row. ``on``
    is "meta" (a meta copy, no memory) or "real" (the module where it is: a model that cannot
    run on meta, built on the CPU after a memory check).
    """
    inputs = as_inputs(input)
    root = (to_meta(module) if on == "meta" else module).eval()
    tracker = _Tracker(root, rows)
    recorder = _Recorder(tracker)
    try:
        with torch.no_grad():
            x = inputs.tensors(batch, _device(root))
            with recorder:
                root(*x)
    except Exception as exc:  # a user's forward can raise anything; say which and stop
        message = f"{model or type(module).__name__}: forward failed: {exc}"
        if on == "meta":
            raise MetaFailed(message, recorder.largest) from None
        raise LoadError(message) from None
    finally:
        tracker.close()
    loose = _count_params(root, tracker)
    ordered = [tracker.rows[p] for p in (rows or tracker.order) if p in tracker.rows]
    extra = [r for p, r in tracker.rows.items() if p not in set(rows or tracker.order)]
    return Profile(
        model=model or type(module).__name__,
        source="torch",
        input=inputs.first,
        rows=tuple(_layer_cost(r, batch) for r in [*ordered, *extra]),
        batch=batch,
        dtype=dtype,
        ignored=tuple(sorted(recorder.ignored)),
        unsupported=tuple(f"{op} ×{n}" for op, n in sorted(recorder.unsupported.items())),
        extra_params=loose,
        not_run=() if rows is not None else not_run(root, tracker.entered, recorder.used),
        inputs=() if rows is not None else inputs.shapes,
        counted_on=on,
    )


def _fixed(op: str) -> Callable[[nn.Module], str]:
    return lambda module: op


# Module type → its `LayerCost.op`, looked up along the class hierarchy (most specific first).
MODULE_OPS: Mapping[type, Callable[[nn.Module], str]] = MappingProxyType(
    {
        nn.modules.conv._ConvTransposeNd: _fixed("convT"),
        nn.modules.conv._ConvNd: lambda m: conv_kind(m.in_channels, m.groups),
        nn.Linear: _fixed("fc"),
        nn.MultiheadAttention: _fixed("attention"),
        nn.modules.batchnorm._NormBase: _fixed("norm"),
        nn.GroupNorm: _fixed("norm"),
        nn.LayerNorm: _fixed("norm"),
        nn.modules.pooling._MaxPoolNd: _fixed("maxpool"),
        nn.modules.pooling._AvgPoolNd: _fixed("avgpool"),
        nn.modules.pooling._AdaptiveAvgPoolNd: lambda m: (
            "gap" if m.output_size in (1, (1, 1), (1, 1, 1)) else "adaptive_pool"
        ),
        nn.LocalResponseNorm: _fixed("lrn"),
        nn.Dropout: _fixed("dropout"),
        nn.Flatten: _fixed("flatten"),
        nn.Identity: _fixed("identity"),
        nn.ReLU: _fixed("relu"),
        nn.ReLU6: _fixed("relu6"),
        nn.Sigmoid: _fixed("sigmoid"),
        nn.SiLU: _fixed("silu"),
        nn.Tanh: _fixed("tanh"),
        nn.Hardswish: _fixed("hswish"),
        nn.Hardsigmoid: _fixed("hsigmoid"),
        nn.GELU: _fixed("gelu"),
        nn.LeakyReLU: _fixed("leaky_relu"),
        nn.PReLU: _fixed("prelu"),
        nn.ELU: _fixed("elu"),
        nn.Softmax: _fixed("softmax"),
        nn.Upsample: _fixed("upsample"),
        nn.Identity: _fixed("identity"),
    }
)


def module_op(module: nn.Module | None) -> str:
    """The op of a row whose module is ``module``: a built spec unit names its own (`layer_op`);
    a module of a known type has its type's; any other module with children is a "block" (its
    arithmetic sits in them); "functional" is work done outside any module."""
    if module is None:
        return "functional"
    named = getattr(module, "layer_op", None)
    if named:
        return str(named)
    for cls in type(module).__mro__:
        if cls in MODULE_OPS:
            return MODULE_OPS[cls](module)
    return "block"


def kernel_of(module: nn.Module | None, dims: int | None = None) -> tuple[int, ...]:
    """A convolution's or pool's kernel as a tuple, one size per spatial dimension (``dims``,
    else read from the class name: ``MaxPool1d`` → 1, default 2, for a kernel given as one int);
    () for other modules."""
    size = getattr(module, "kernel_size", None)
    if size is None:
        return ()
    if isinstance(size, (tuple, list)):
        return tuple(size)
    name = type(module).__name__
    dims = dims or (int(name[-2]) if name[-1:] == "d" and name[-2:-1].isdigit() else 2)
    return (size,) * dims


def kernel_text(module: nn.Module | None) -> str:
    """A convolution's or pool's kernel as the rows show it ("3×3"); "" for other modules."""
    return "×".join(map(str, kernel_of(module)))


def _layer_cost(row: _Row, batch: int) -> LayerCost:
    unknown = Shape(0, 0, 0)
    return LayerCost(
        path=row.path or "(root)",
        op=module_op(row.module),
        in_shape=row.in_shape or unknown,
        out_shape=row.out_shape or unknown,
        kernel=kernel_text(row.module),
        weight_params=row.weight_params,
        bias_params=row.bias_params,
        norm_params=row.norm_params,
        buffers=row.buffers,
        macs=row.macs // batch,
        flops=frozen({k: v // batch for k, v in row.flops.items()}),
        live=(row.in_shape or unknown).elements + (row.out_shape or unknown).elements,
    )


# fvcore's operator names → cnnprof's categories. fvcore counts one fused multiply-add as one
# flop, so its conv and linear counts are MACs; its element-wise counts are kept by category.
FVCORE_CATEGORIES: Mapping[str, str] = MappingProxyType(
    {
        "conv": "mac",
        "linear": "mac",
        "matmul": "mac",
        "addmm": "mac",
        "bmm": "mac",
        "einsum": "mac",
        "batch_norm": "norm",
        "group_norm": "norm",
        "layer_norm": "norm",
        "instance_norm": "norm",
        "adaptive_avg_pool2d": "pool",
        "upsample_nearest2d": "pool",
        "upsample_bilinear2d": "pool",
    }
)


def count_fvcore(
    module: nn.Module,
    input: Shape | Iterable[int],
    *,
    batch: int = 1,
    dtype: str = "float32",
    rows: Sequence[str] | None = None,
    model: str = "",
) -> Profile:
    """A second, independent opinion: fvcore's FlopCountAnalysis on real CPU tensors (it traces
    with the JIT, which cannot run on meta tensors). Its per-op counters are mapped into cnnprof's
    categories; its raw total (which folds BatchNorm into "flops") is not reported as such."""
    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError:
        raise LoadError("--counter fvcore needs fvcore: pip install fvcore") from None
    shape = input if isinstance(input, Shape) else Shape(*input)
    root = module.eval()
    if any(p.device.type == "meta" for p in root.parameters()):
        raise LoadError("--counter fvcore needs a module with real weights, not one on meta")
    tracker = _Tracker(root, rows)
    tracker.close()
    analysis = FlopCountAnalysis(root, torch.randn(batch, *shape.as_list()))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    try:
        per_module = analysis.by_module_and_operator()
    except Exception as exc:
        raise LoadError(f"{model or type(module).__name__}: fvcore failed: {exc}") from None
    leaves = rows or [n for n, m in root.named_modules() if not list(m.children())]
    for path in leaves:
        row = tracker.owner(path)
        if row is None:
            continue
        for op, value in per_module.get(path, {}).items():
            category = FVCORE_CATEGORIES.get(op, op)
            if category == "mac":
                row.macs += value
                row.flops["mac"] += 2 * value
            else:
                row.flops[category] += value
    loose = _count_params(root, tracker)
    ordered = [tracker.rows[p] for p in leaves if p in tracker.rows]
    unsupported = analysis.unsupported_ops()
    return Profile(
        model=model or type(module).__name__,
        source="fvcore",
        input=shape,
        rows=tuple(_layer_cost(r, batch) for r in ordered),
        batch=batch,
        dtype=dtype,
        unsupported=tuple(f"{op} ×{n}" for op, n in sorted(unsupported.items())),
        extra_params=loose,
    )


COUNTERS: Mapping[str, Callable[..., Profile]] = MappingProxyType(
    {"torch": count, "fvcore": count_fvcore}
)
