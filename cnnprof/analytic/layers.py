"""Closed-form cost rows of the layers that slide a window or multiply matrices: convolutions
(and their units with norm and activation), fully-connected layers, pools, squeeze-and-excite.

Units: ``macs`` are multiply-accumulates of convolution and fully-connected layers only
(k_h·k_w·C_in/groups·C_out·H_out·W_out for a convolution; bias adds are FLOPs, not MACs).
``flops`` are 2·MACs plus every element-wise operation, by category. These primitives serve the
spec formulas (`cnnprof.analytic.formulas`) and the walk over an outside model's modules, so both
paths share one set of formulas.
"""

from __future__ import annotations

from cnnprof.analytic.elementwise import ACT_FLOPS, NORM_FLOPS, nonzero
from cnnprof.arch.model import Shape, evolve
from cnnprof.errors import ShapeError
from cnnprof.results.profile import LayerCost

Pair = tuple[int, int]


def pair(value: int | tuple[int, ...]) -> Pair:
    if isinstance(value, tuple):
        return (value[0], value[-1])
    return (value, value)


def out_size(size: int, k: int, s: int, p: int, dilation: int = 1, ceil: bool = False) -> int:
    """Output length of a sliding window (torch's rule, including ceil mode)."""
    span = size + 2 * p - dilation * (k - 1) - 1
    if span < 0:
        return 0
    if not ceil:
        return span // s + 1
    n = -(-span // s) + 1
    if (n - 1) * s >= size + p:  # the last window must start inside the input or left padding
        n -= 1
    return n


def _spatial(
    path: str, what: str, x: Shape, k: Pair, s: Pair, p: Pair, d: Pair = (1, 1), ceil: bool = False
) -> tuple[int, int]:
    h = out_size(x.h, k[0], s[0], p[0], d[0], ceil)
    w = out_size(x.w, k[1], s[1], p[1], d[1], ceil)
    if h < 1 or w < 1:
        raise ShapeError(
            f"the feature map vanishes at row '{path}' ({what}): its {x.h}×{x.w} input is smaller "
            f"than the {k[0]}×{k[1]} window with padding {p[0]}; use a larger --resolution"
        )
    return h, w


def same_padding(k: int, p: int | str) -> int:
    return k // 2 if p == "same" else int(p)


def conv_kind(c_in: int, groups: int) -> str:
    if groups == 1:
        return "conv"
    return "dwconv" if groups == c_in else "gconv"


def conv2d(
    path: str,
    x: Shape,
    *,
    out: int,
    k: int | Pair,
    s: int | Pair = 1,
    p: int | Pair = 0,
    groups: int = 1,
    bias: bool = False,
    norm: str = "none",
    act: str = "none",
    dilation: int | Pair = 1,
) -> LayerCost:
    """A convolution unit: conv → [norm] → [act]."""
    k, s, p, d = pair(k), pair(s), pair(p), pair(dilation)
    if x.c % groups or out % groups:
        raise ShapeError(
            f"row '{path}' (conv): groups={groups} must divide both input channels {x.c} "
            f"and output channels {out}"
        )
    h, w = _spatial(path, "conv", x, k, s, p, d)
    n = out * h * w  # output elements
    weights = k[0] * k[1] * (x.c // groups) * out
    macs = weights * h * w
    return LayerCost(
        path=path,
        op=conv_kind(x.c, groups),
        in_shape=x,
        out_shape=Shape(out, h, w),
        kernel=k,
        weight_params=weights,
        bias_params=out if bias else 0,
        norm_params=2 * out if norm == "bn" else 0,
        buffers=2 * out if norm == "bn" else 0,
        macs=macs,
        flops_by_category=nonzero(
            {
                "mac": 2 * macs,
                "bias": n if bias else 0,
                "norm": NORM_FLOPS[norm] * n,
                "act": ACT_FLOPS[act] * n,
            }
        ),
        live=x.elements + n,
    )


def unit(
    path: str,
    x: Shape,
    *,
    out: int,
    k: int,
    s: int = 1,
    p: int = 0,
    bias: bool = False,
    norm: str = "none",
    act: str = "none",
    separable: bool = False,
) -> list[LayerCost]:
    """A k×k convolution unit, or with ``separable`` (and k > 1) its depthwise-separable twin:
    ``path.dw`` (k×k, one filter per channel) → ``path.pw`` (1×1), each with norm and act."""
    post = {"bias": bias, "norm": norm, "act": act}
    if not separable or k == 1:
        return [conv2d(path, x, out=out, k=k, s=s, p=p, **post)]
    dw = conv2d(f"{path}.dw", x, out=x.c, k=k, s=s, p=p, groups=x.c, **post)
    return [dw, conv2d(f"{path}.pw", dw.out_shape, out=out, k=1, **post)]


def linear(
    path: str, x: Shape, *, out: int, bias: bool = True, act: str = "none", rows: int = 1
) -> LayerCost:
    """A fully-connected layer on ``rows`` vectors of ``x.c`` features (N-D input: rows > 1)."""
    macs = x.c * out * rows
    y = Shape(out, x.h, x.w) if rows > 1 else Shape(out, 1, 1)
    return LayerCost(
        path=path,
        op="fc",
        in_shape=x,
        out_shape=y,
        weight_params=x.c * out,
        bias_params=out if bias else 0,
        macs=macs,
        flops_by_category=nonzero(
            {"mac": 2 * macs, "bias": out * rows if bias else 0, "act": ACT_FLOPS[act] * out * rows}
        ),
        live=x.elements + y.elements,
    )


def pool2d(
    path: str,
    kind: str,
    x: Shape,
    *,
    k: int | Pair,
    s: int | Pair,
    p: int | Pair = 0,
    ceil: bool = False,
) -> LayerCost:
    """Max pool: k²−1 comparisons per output; average pool: k²−1 adds and a divide."""
    k, s, p = pair(k), pair(s), pair(p)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ShapeError(
            f"row '{path}' ({kind}): padding {p[0]} exceeds half the {k[0]}×{k[1]} "
            "window (torch refuses it)"
        )
    h, w = _spatial(path, kind, x, k, s, p, ceil=ceil)
    y = Shape(x.c, h, w)
    per_output = k[0] * k[1] - (1 if kind == "maxpool" else 0)
    return LayerCost(
        path=path,
        op=kind,
        in_shape=x,
        out_shape=y,
        kernel=k,
        flops_by_category=nonzero({"pool": per_output * y.elements}),
        live=x.elements + y.elements,
    )


def squeeze_excite(
    path: str, x: Shape, *, squeeze: int, act: str, gate: str = "sigmoid"
) -> LayerCost:
    """SE: global pool → 1×1 conv (squeeze, bias) → act → 1×1 conv (bias) → gate → scale."""
    c = x.c
    macs = 2 * c * squeeze
    return LayerCost(
        path=path,
        op="se",
        in_shape=x,
        out_shape=x,
        weight_params=2 * c * squeeze,
        bias_params=squeeze + c,
        macs=macs,
        flops_by_category=nonzero(
            {
                "mac": 2 * macs,
                "bias": squeeze + c,
                "pool": x.elements,
                "act": ACT_FLOPS[act] * squeeze + ACT_FLOPS[gate] * c,
                "scale": x.elements,
            }
        ),
        live=2 * x.elements,
    )


def preact_conv(
    path: str,
    x: Shape,
    *,
    out: int,
    k: int,
    p: int = 0,
    groups: int = 1,
    norm: str,
    act: str,
    held: int = 0,
) -> LayerCost:
    """A pre-activation unit, [norm] → [act] → conv (DenseNet): the norm and the activation run
    on the unit's input, so BatchNorm has the input's channels; a bias only without norm.
    ``held``: elements kept alive meanwhile (the dense layer's input, for its concatenation)."""
    conv = conv2d(path, x, out=out, k=k, p=p, groups=groups, bias=norm == "none")
    n = x.elements
    before = {"norm": NORM_FLOPS[norm] * n, "act": ACT_FLOPS[act] * n}
    return evolve(
        conv,
        flops_by_category=nonzero({**conv.flops_by_category, **before}),
        norm_params=2 * x.c if norm == "bn" else 0,
        buffers=2 * x.c if norm == "bn" else 0,
        live=2 * n + conv.out_shape.elements + held,
    )


def preact_unit(
    path: str,
    x: Shape,
    *,
    out: int,
    k: int,
    p: int = 0,
    norm: str,
    act: str,
    separable: bool,
    held: int = 0,
) -> list[LayerCost]:
    """A pre-activation k×k unit, or with ``separable`` (and k > 1) its depthwise-separable twin:
    ``path.dw`` (k×k, one filter per channel) → ``path.pw`` (1×1), each pre-activated."""
    u = {"norm": norm, "act": act, "held": held}
    if not separable or k == 1:
        return [preact_conv(path, x, out=out, k=k, p=p, **u)]
    dw = preact_conv(f"{path}.dw", x, out=x.c, k=k, p=p, groups=x.c, **u)
    return [dw, preact_conv(f"{path}.pw", dw.out_shape, out=out, k=1, **u)]


def holding(row: LayerCost, held: int) -> LayerCost:
    """The row with ``held`` more elements alive (a residual input kept for the add)."""
    return evolve(row, live=row.live + held)
