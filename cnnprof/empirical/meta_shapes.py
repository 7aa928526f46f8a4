"""Output shapes on the meta device, made from input shapes alone, for the ops every CNN runs:
torch's own meta kernels for these are Python decompositions or references that import
``torch._dynamo`` (most of a second) on first use. Each shortcut refuses what torch's kernel
would refuse, the same way (a RuntimeError), so a wrong model fails as it would without it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import torch

from cnnprof.analytic.layers import out_size

aten = torch.ops.aten


def _check(ok: bool, message: str) -> None:
    """What torch's own meta kernel would refuse, refused the same way."""
    if not ok:
        raise RuntimeError(message)


def all_meta(args: tuple) -> bool:
    """Whether an op's tensor arguments are all on meta (the shortcuts apply only then)."""
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    return bool(tensors) and all(t.device.type == "meta" for t in tensors)


def _batch_norm_on_meta(x: torch.Tensor, *rest: Any) -> tuple[torch.Tensor, ...]:
    """Inference BatchNorm's outputs on meta by shape alone: torch's meta kernel is a Python
    decomposition that imports torch._dynamo; the normalised map has the input's shape and the
    saved statistics are empty in eval."""
    weight = rest[0] if rest else None
    _check(
        weight is None or weight.shape[0] == x.shape[1],
        f"BatchNorm of {weight.shape[0] if weight is not None else 0} channels got input "
        f"{list(x.shape)}",
    )
    return x.new_empty(x.shape), x.new_empty((0,)), x.new_empty((0,))


def _pointwise_on_meta(*args: Any) -> torch.Tensor:
    """A pointwise op's output on meta by shape alone (broadcast shapes, promoted dtype): the
    meta kernels of these ops are Python references that import torch._dynamo."""
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    rank = max(t.dim() for t in tensors)
    padded = [(1,) * (rank - t.dim()) + tuple(t.shape) for t in tensors]
    shape = [max(sizes) if min(sizes) else 0 for sizes in zip(*padded, strict=True)]
    for sizes, size in zip(zip(*padded, strict=True), shape, strict=True):
        _check(
            all(n in (1, size) for n in sizes),
            f"shapes {[list(d) for d in padded]} do not broadcast",
        )
    dtype = torch.result_type(*args[:2]) if len(args) > 1 else tensors[0].dtype
    return tensors[0].new_empty(shape, dtype=dtype)


def _reduce_on_meta(
    x: torch.Tensor, dim: Any = None, keepdim: bool = False, *rest: Any
) -> torch.Tensor:
    """mean/sum over ``dim`` by shape alone."""
    dims = range(x.dim()) if dim is None or dim == [] else [d % x.dim() for d in dim]
    shape = [1 if i in dims else n for i, n in enumerate(x.shape)]
    return x.new_empty(shape if keepdim else [n for i, n in enumerate(x.shape) if i not in dims])


def _matmul_on_meta(*args: Any) -> torch.Tensor:
    """mm, bmm and addmm (bias first) by shape alone: (…, n, k) @ (…, k, m) → (…, n, m)."""
    a, b = args[-2:] if len(args) == 3 else args[:2]
    _check(a.shape[-1] == b.shape[-2], f"cannot multiply {list(a.shape)} by {list(b.shape)}")
    return a.new_empty((*a.shape[:-1], b.shape[-1]))


def _windows(
    x: torch.Tensor, kernel: Any, stride: Any, padding: Any, dilation: Any = 1, ceil: bool = False
) -> list[int]:
    """Output sizes of a sliding window over ``x``'s spatial dims (torch's rule)."""
    dims = x.dim() - 2
    k, s, p, d = (_spread(v, dims) for v in (kernel, stride or kernel, padding, dilation))
    return [out_size(n, k[i], s[i], p[i], d[i], ceil) for i, n in enumerate(x.shape[2:])]


def _spread(value: Any, dims: int) -> list[int]:
    value = list(value) if isinstance(value, (list, tuple)) else [value]
    return value * dims if len(value) == 1 else value


def _convolution_on_meta(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    transposed: bool,
    output_padding: Any,
    groups: int,
) -> torch.Tensor:
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
        **{
            op: _pointwise_on_meta
            for op in (
                aten.relu,
                aten.hardtanh,
                aten.sigmoid,
                aten.silu,
                aten.hardswish,
                aten.hardsigmoid,
                aten.gelu,
                aten.tanh,
                aten.add,
                aten.mul,
                aten.sub,
                aten.div,
                aten.pow,
            )
        },
        aten.mean: _reduce_on_meta,
        aten.convolution: _convolution_on_meta,
        aten.max_pool2d_with_indices: _max_pool_on_meta,
        aten.avg_pool2d: _avg_pool_on_meta,
        aten._adaptive_avg_pool2d: _adaptive_pool_on_meta,
        aten.mm: _matmul_on_meta,
        aten.bmm: _matmul_on_meta,
        aten.addmm: _matmul_on_meta,
        **{
            op: _in_place_on_meta
            for op in (
                aten.relu_,
                aten.hardtanh_,
                aten.sigmoid_,
                aten.silu_,
                aten.hardswish_,
                aten.hardsigmoid_,
                aten.add_,
                aten.mul_,
            )
        },
    }
)
