"""What each aten op costs, seen at dispatch level: convolutions and matrix products are costed by
torch's own FlopCounterMode formulas (``torch.utils.flop_counter.flop_registry``), the fused CPU
attention kernels here (`FUSED_MACS`), element-wise ops by cnnprof's per-element table
(`ELEMENTWISE`), ops of other libraries by name (`NAMED`); ops that only move data are
deliberately free (`IGNORED`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from math import prod
from types import MappingProxyType
from typing import Any

import torch

from cnnprof.analytic.elementwise import ACT_FLOPS, LAYER_NORM_FLOPS, NORM_FLOPS

aten = torch.ops.aten

# FLOPs per element beyond ACT_FLOPS and NORM_FLOPS, for ops outside models use (the operations
# in each definition).
GELU_FLOPS = ACT_FLOPS["gelu"]  # x/√2, erf, +1, ×x, ×½
SOFTMAX_FLOPS = 5  # max, subtract, exp, sum, divide
BILINEAR_FLOPS = 7  # two lerps along x, one along y: 3 × (subtract, multiply-add) + the weight
BICUBIC_FLOPS = 32  # 4×4 taps, a multiply and an add each


def numel(value: Any) -> int:
    """Elements of a tensor; 0 for anything else."""
    return value.numel() if isinstance(value, torch.Tensor) else 0


def first(value: Any) -> Any:
    """The first of several outputs (a tuple or list), else the output itself."""
    return value[0] if isinstance(value, (tuple, list)) and value else value


def _per_output(flops: int) -> Callable[[tuple, dict, Any], int]:
    return lambda args, kwargs, out: flops * numel(first(out))


def _pool_window(args: tuple, kwargs: dict, out: Any) -> int:
    kernel = list(args[1] if len(args) > 1 else kwargs["kernel_size"])
    dims = numel(first(out)) and (first(out).dim() - 2)
    return prod(kernel if len(kernel) > 1 else kernel * dims) * numel(first(out))


def _max_pool_window(args: tuple, kwargs: dict, out: Any) -> int:
    return _pool_window(args, kwargs, out) - numel(first(out))


def _per_input(args: tuple, kwargs: dict, out: Any) -> int:
    return numel(args[0])


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
        aten.linalg_vector_norm: ("other", lambda args, kwargs, out: 2 * numel(args[0])),
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
        aten.view,
        aten._unsafe_view,
        aten.reshape,
        aten.t,
        aten.transpose,
        aten.permute,
        aten.expand,
        aten.clone,
        aten.detach,
        aten.cat,
        aten.flatten,
        aten.squeeze,
        aten.unsqueeze,
        aten.alias,
        aten.empty_like,
        aten._to_copy,
        aten.copy_,
        aten.slice,
        aten.select,
        aten.split,
        aten.split_with_sizes,
        aten.contiguous,
        aten.as_strided,
        aten.as_strided_,
        aten.zero_,
        aten.fill_,
        aten.lift_fresh,
        aten.empty,
        aten.zeros,
        aten.ones,
        aten.new_empty,
        aten.new_zeros,
        aten.new_ones,
        aten.new_full,
        aten.dropout,
        aten.native_dropout,
        aten.chunk,
        aten.unbind,
        aten.stack,
        aten.sym_size,
        aten.sym_stride,
        aten.sym_numel,
        aten.is_same_size,
        aten.zeros_like,
        aten.ones_like,
        aten.full,
        aten.full_like,
        aten.arange,
        aten.index_select,
        aten.unsafe_split,
        aten.constant_pad_nd,
        aten.roll,
        aten.index,
        aten.index_put_,
        aten.index_put,
        aten.gather,
        aten.scalar_tensor,
        aten.lift_fresh_copy,
        aten.upsample_nearest2d,
        aten.repeat,
        aten.flip,
        aten.pixel_shuffle,
        aten.empty_strided,
        aten.new_empty_strided,
        aten.linspace,
        aten.randn,
        aten.rand,
        aten._local_scalar_dense,
        aten.item,
        aten.nonzero,
        aten.unfold,
        aten.im2col,
        aten.col2im,
        aten.split_with_sizes_copy,
        aten.tril,
        aten.triu,
        aten.meshgrid,
        aten.narrow,
        aten.to,
        aten.bernoulli_,
        aten.set_,
        aten.resize_,
        aten.reflection_pad2d,
        aten.replication_pad2d,
        aten.slice_scatter,
        aten.select_scatter,
    }
)


IOU_FLOPS = 9  # intersection: 2 max, 2 min, 2 subtract, multiply; union: add, subtract; divide


def _roi_align(args: tuple, kwargs: dict, out: Any) -> int:
    """Each output bin averages sampling_ratio² bilinear samples (2 per side when adaptive:
    torchvision's detection heads pass 2)."""
    samples = args[5] if len(args) > 5 and args[5] > 0 else 2
    return numel(out) * samples * samples * (BILINEAR_FLOPS + 1)


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


def bias_elements(packet: Any, args: tuple, out: Any) -> int:
    """The bias adds of a convolution or ``addmm`` (one per output element), which torch's
    FLOP formulas leave out; 0 for other ops."""
    if packet is aten.convolution and len(args) > 2 and args[2] is not None:
        return numel(out)
    if packet is aten.addmm:
        return numel(out)
    return 0
