"""Per-element costs: the FLOPs of each activation and normalisation, and the rows of layers
whose arithmetic is element-wise only (normalisations, global pool, layer scale, identity).

``flops`` are counted by category (see ``FLOP_CATEGORIES`` in `cnnprof.results.profile`); the
dispatch-level count costs the same aten ops with these figures, so both paths agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from cnnprof.arch.model import Shape
from cnnprof.results.profile import LayerCost

# FLOPs per element of each activation: the operations in its definition.
ACT_FLOPS: Mapping[str, int] = MappingProxyType(
    {
        "none": 0,
        "relu": 1,  # max(x, 0)
        "relu6": 2,  # min(max(x, 0), 6)
        "sigmoid": 4,  # 1 / (1 + exp(-x)): negate, exp, add, divide
        "silu": 5,  # x · sigmoid(x)
        "tanh": 5,  # (e^x − e^−x) / (e^x + e^−x) with one exp shared: exp, divide, sub, add, divide
        "hswish": 5,  # x · min(max(x + 3, 0), 6) / 6
        "hsigmoid": 4,  # min(max(x + 3, 0), 6) / 6
        "gelu": 5,  # x · ½ · (1 + erf(x / √2)): scale, erf, add, multiply, halve
    }
)
NORM_FLOPS: Mapping[str, int] = MappingProxyType({"none": 0, "bn": 2})  # folded scale and shift
# LayerNorm per element (its statistics are computed at inference, unlike BatchNorm's): add for the
# mean, subtract it, square, add for the variance, scale by 1/σ, γ, β. The per-position divides and
# square root are not per element and are left out.
LAYER_NORM_FLOPS = 7
LRN_EXTRA = 3  # per element beyond 2·size: scale by alpha/n, add k, power beta, divide


def nonzero(flops: Mapping[str, int]) -> Mapping[str, int]:
    """FLOPs by category, zero categories left out (read-only)."""
    return MappingProxyType({k: v for k, v in flops.items() if v})


def global_pool(path: str, x: Shape) -> LayerCost:
    """Global average pool: H·W−1 adds and a divide per channel."""
    y = Shape(x.c, 1, 1)
    return LayerCost(
        path=path,
        op="gap",
        in_shape=x,
        out_shape=y,
        flops_by_category=nonzero({"pool": x.elements}),
        live=x.elements + y.elements,
    )


def identity(path: str, op: str, x: Shape, y: Shape | None = None) -> LayerCost:
    """A row that moves no numbers (dropout at inference, flatten)."""
    y = y or x
    return LayerCost(path=path, op=op, in_shape=x, out_shape=y, live=x.elements)


def norm_act(path: str, x: Shape, norm: str, act: str) -> LayerCost:
    """Normalisation and activation on their own, no convolution (DenseNet's final BN → ReLU)."""
    bn = 2 * x.c if norm == "bn" else 0
    return LayerCost(
        path=path,
        op="norm",
        in_shape=x,
        out_shape=x,
        norm_params=bn,
        buffers=bn,
        flops_by_category=nonzero(
            {"norm": NORM_FLOPS[norm] * x.elements, "act": ACT_FLOPS[act] * x.elements}
        ),
        live=2 * x.elements,
    )


def layer_norm(path: str, x: Shape) -> LayerCost:
    """LayerNorm over the channels at each position (ConvNeXt's LayerNorm2d); γ, β per channel."""
    return LayerCost(
        path=path,
        op="layernorm",
        in_shape=x,
        out_shape=x,
        norm_params=2 * x.c,
        flops_by_category=nonzero({"norm": LAYER_NORM_FLOPS * x.elements}),
        live=2 * x.elements,
    )


def layer_scale(path: str, x: Shape, *, residual: bool) -> LayerCost:
    """Layer scale (CaiT, ConvNeXt): one learned multiplier per channel (counted with the weights:
    it is neither a bias nor a normalisation), then the block's residual add if it has one."""
    n = x.elements
    return LayerCost(
        path=path,
        op="scale",
        in_shape=x,
        out_shape=x,
        weight_params=x.c,
        flops_by_category=nonzero({"scale": n, "add": n if residual else 0}),
        live=2 * n,
    )


def local_response_norm(path: str, x: Shape, size: int) -> LayerCost:
    return LayerCost(
        path=path,
        op="lrn",
        in_shape=x,
        out_shape=x,
        flops_by_category=nonzero({"lrn": (2 * size + LRN_EXTRA) * x.elements}),
        live=2 * x.elements,
    )
