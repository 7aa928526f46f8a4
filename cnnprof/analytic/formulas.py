"""One closed-form formula per op: a layer and its input shape in, cost rows and output shape out.

Units: ``macs`` are multiply-accumulates of convolution and fully-connected layers only
(k_h·k_w·C_in/groups·C_out·H_out·W_out for a convolution; bias adds are FLOPs, not MACs).
``flops`` are 2·MACs plus every element-wise operation, by category (see ``ELEMENTWISE`` and the
README's table). The primitives (`conv2d`, `linear`, `pool2d` …) also serve the walk over an
outside model's leaf modules, so both paths share one set of formulas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from cnnprof.arch.model import Layer, Shape, divisible, evolve
from cnnprof.arch.ops import op_table
from cnnprof.errors import ShapeError
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

Pair = tuple[int, int]
Result = tuple[list[LayerCost], Shape]
Formula = Callable[[Layer, Shape], Result]


def nonzero(flops: Mapping[str, int]) -> Mapping[str, int]:
    """FLOPs by category, zero categories left out (read-only)."""
    return MappingProxyType({k: v for k, v in flops.items() if v})


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


def kernel_label(k: Pair) -> str:
    return f"{k[0]}×{k[1]}"


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
        kernel=kernel_label(k),
        weight_params=weights,
        bias_params=out if bias else 0,
        norm_params=2 * out if norm == "bn" else 0,
        buffers=2 * out if norm == "bn" else 0,
        macs=macs,
        flops=nonzero(
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


def conv_transpose2d(
    path: str,
    x: Shape,
    *,
    out: int,
    k: int | Pair,
    s: int | Pair = 1,
    p: int | Pair = 0,
    output_padding: int | Pair = 0,
    groups: int = 1,
    bias: bool = False,
    dilation: int | Pair = 1,
) -> LayerCost:
    """A transposed convolution: each *input* element meets k_h·k_w·C_out/groups weights.

    Counting over the input (not the stride²-larger output) is what avoids the stride² overcount.
    """
    k, s, p, op, d = pair(k), pair(s), pair(p), pair(output_padding), pair(dilation)
    h = (x.h - 1) * s[0] - 2 * p[0] + d[0] * (k[0] - 1) + op[0] + 1
    w = (x.w - 1) * s[1] - 2 * p[1] + d[1] * (k[1] - 1) + op[1] + 1
    if h < 1 or w < 1:
        raise ShapeError(f"the feature map vanishes at row '{path}' (conv_transpose)")
    y = Shape(out, h, w)
    macs = k[0] * k[1] * (out // groups) * x.c * x.h * x.w
    return LayerCost(
        path=path,
        op="convT",
        in_shape=x,
        out_shape=y,
        kernel=kernel_label(k),
        weight_params=k[0] * k[1] * (out // groups) * x.c,
        bias_params=out if bias else 0,
        macs=macs,
        flops=nonzero({"mac": 2 * macs, "bias": y.elements if bias else 0}),
        live=x.elements + y.elements,
    )


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
        flops=nonzero(
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
        raise ShapeError(f"row '{path}' ({kind}): padding {p[0]} exceeds half the {k[0]}×{k[1]} "
                         "window (torch refuses it)")  # fmt: skip
    h, w = _spatial(path, kind, x, k, s, p, ceil=ceil)
    y = Shape(x.c, h, w)
    per_output = k[0] * k[1] - (1 if kind == "maxpool" else 0)
    return LayerCost(
        path=path,
        op=kind,
        in_shape=x,
        out_shape=y,
        kernel=kernel_label(k),
        flops=nonzero({"pool": per_output * y.elements}),
        live=x.elements + y.elements,
    )


def global_pool(path: str, x: Shape) -> LayerCost:
    """Global average pool: H·W−1 adds and a divide per channel."""
    y = Shape(x.c, 1, 1)
    return LayerCost(
        path=path, op="gap", in_shape=x, out_shape=y,
        flops=nonzero({"pool": x.elements}), live=x.elements + y.elements,
    )  # fmt: skip


def identity(path: str, op: str, x: Shape, y: Shape | None = None) -> LayerCost:
    """A row that moves no numbers (dropout at inference, flatten)."""
    y = y or x
    return LayerCost(path=path, op=op, in_shape=x, out_shape=y, live=x.elements)


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
        flops=nonzero(
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
        flops=nonzero({"norm": NORM_FLOPS[norm] * x.elements, "act": ACT_FLOPS[act] * x.elements}),
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
        flops=nonzero({**conv.flops, **before}),
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


def layer_norm(path: str, x: Shape) -> LayerCost:
    """LayerNorm over the channels at each position (ConvNeXt's LayerNorm2d); γ, β per channel."""
    return LayerCost(
        path=path, op="layernorm", in_shape=x, out_shape=x, norm_params=2 * x.c,
        flops=nonzero({"norm": LAYER_NORM_FLOPS * x.elements}), live=2 * x.elements,
    )  # fmt: skip


def layer_scale(path: str, x: Shape, *, residual: bool) -> LayerCost:
    """Layer scale (CaiT, ConvNeXt): one learned multiplier per channel (counted with the weights:
    it is neither a bias nor a normalisation), then the block's residual add if it has one."""
    n = x.elements
    return LayerCost(
        path=path, op="scale", in_shape=x, out_shape=x, weight_params=x.c,
        flops=nonzero({"scale": n, "add": n if residual else 0}), live=2 * n,
    )  # fmt: skip


def local_response_norm(path: str, x: Shape, size: int) -> LayerCost:
    return LayerCost(
        path=path, op="lrn", in_shape=x, out_shape=x,
        flops=nonzero({"lrn": (2 * size + LRN_EXTRA) * x.elements}), live=2 * x.elements,
    )  # fmt: skip


def holding(row: LayerCost, held: int) -> LayerCost:
    """The row with ``held`` more elements alive (a residual input kept for the add)."""
    return evolve(row, live=row.live + held)


# --- the table: one formula per spec op -------------------------------------------------------


def _conv(layer: Layer, x: Shape) -> Result:
    a = layer.args
    p = same_padding(a["k"], a["p"])
    shape = {"out": a["out"], "k": a["k"], "s": a["s"], "p": p}
    post = {"bias": a["bias"], "norm": a["norm"], "act": a["act"]}
    if a["groups"] == 1:
        rows = unit(layer.path, x, **shape, **post, separable=a["separable"])
    else:
        rows = [conv2d(layer.path, x, **shape, groups=a["groups"], **post)]
    return rows, rows[-1].out_shape


def _dwconv(layer: Layer, x: Shape) -> Result:
    a = layer.args
    p = same_padding(a["k"], a["p"])
    post = {"bias": a["bias"], "norm": a["norm"], "act": a["act"]}
    row = conv2d(layer.path, x, out=x.c, k=a["k"], s=a["s"], p=p, groups=x.c, **post)
    return [row], row.out_shape


def _pwconv(layer: Layer, x: Shape) -> Result:
    a = layer.args
    row = conv2d(layer.path, x, out=a["out"], k=1, bias=a["bias"], norm=a["norm"], act=a["act"])
    return [row], row.out_shape


def _dws(layer: Layer, x: Shape) -> Result:
    a = layer.args
    post = {"bias": a["norm"] == "none", "norm": a["norm"], "act": a["act"]}
    k = a["k"]
    dw = conv2d(f"{layer.path}.dw", x, out=x.c, k=k, s=a["s"], p=k // 2, groups=x.c, **post)
    pw = conv2d(f"{layer.path}.pw", dw.out_shape, out=a["out"], k=1, **post)
    return [dw, pw], pw.out_shape


def mbconv_mid(layer: Layer, c_in: int) -> int:
    """Channels after the expansion 1×1 conv: c_in·t, rounded to the nearest whole number, or to
    a multiple of ``exp_divisor`` when it is > 1 (MobileNetV3: _make_divisible(c_in·t, 8))."""
    divisor = layer["exp_divisor"]
    expanded = c_in * layer["t"]
    return (
        round(expanded) if divisor == 1 else divisible(expanded, divisor=divisor, minimum=divisor)
    )


def se_squeeze(layer: Layer, *, c_in: int, mid: int) -> int:
    """SE bottleneck width: the ratio ``se`` of the block's input channels (EfficientNet,
    MnasNet) or of its expanded ones (``se_of: mid``, MobileNetV3), floored, then rounded to a
    multiple of ``se_divisor`` (8 for MobileNetV3: torchvision's _make_divisible(exp // 4, 8))."""
    base = mid if layer["se_of"] == "mid" else c_in
    return divisible(
        int(base * layer["se"]), divisor=layer["se_divisor"], minimum=layer["se_divisor"]
    )


def se_act(layer: Layer) -> str:
    """The activation inside the SE: its own (MobileNetV3: ReLU) or the block's."""
    return layer["act"] if layer["se_act"] == "block" else layer["se_act"]


def mbconv_residual(layer: Layer, x: Shape) -> bool:
    return bool(layer["skip"]) and layer["s"] == 1 and x.c == layer["out"]


def _mbconv(layer: Layer, x: Shape) -> Result:
    a, p, k = layer.args, layer.path, layer["k"]
    post = {"bias": a["norm"] == "none", "norm": a["norm"]}
    held = x.elements if mbconv_residual(layer, x) else 0
    rows: list[LayerCost] = []
    y = x
    mid = mbconv_mid(layer, x.c)
    if mid != x.c:
        rows.append(conv2d(f"{p}.expand", y, out=mid, k=1, act=a["act"], **post))
        y = rows[-1].out_shape
    rows.append(
        conv2d(f"{p}.dw", y, out=mid, k=k, s=a["s"], p=k // 2, groups=mid, act=a["act"], **post)
    )
    y = rows[-1].out_shape
    if a["se"] > 0:
        squeeze = se_squeeze(layer, c_in=x.c, mid=mid)
        se = squeeze_excite(f"{p}.se", y, squeeze=squeeze, act=se_act(layer), gate=a["se_gate"])
        rows.append(se)
    project = conv2d(f"{p}.project", y, out=a["out"], k=1, act="none", **post)
    if held:
        project = project.plus_flops(add=project.out_shape.elements)
    rows.append(project)
    rows = [rows[0], *(holding(r, held) for r in rows[1:])]
    return rows, project.out_shape


def _fused_mbconv(layer: Layer, x: Shape) -> Result:
    """EfficientNetV2's Fused-MBConv: ``expand`` (k×k, stride, norm, act) → [``se``] →
    ``project`` (1×1, norm, linear). With t = 1 a single k×k ``conv`` (norm, act) replaces both,
    and an SE, if any, runs before it (the authors' FusedMBConvBlock)."""
    a, p = layer.args, layer.path
    u = {"bias": a["norm"] == "none", "norm": a["norm"], "act": a["act"]}
    held = x.elements if mbconv_residual(layer, x) else 0
    mid = fused_mid(x.c, a["t"])
    spatial = {"k": a["k"], "s": a["s"], "p": a["k"] // 2}
    se = {"squeeze": max(1, int(x.c * a["se"])), "act": a["act"]}  # of the block's input
    rows: list[LayerCost] = []
    if mid == x.c:
        if a["se"] > 0:
            rows.append(squeeze_excite(f"{p}.se", x, **se))
        rows.append(conv2d(f"{p}.conv", x, out=a["out"], **spatial, **u))
    else:
        rows.append(conv2d(f"{p}.expand", x, out=mid, **spatial, **u))
        if a["se"] > 0:
            rows.append(squeeze_excite(f"{p}.se", rows[-1].out_shape, **se))
        last = {**u, "act": "none"}
        rows.append(conv2d(f"{p}.project", rows[-1].out_shape, out=a["out"], k=1, **last))
    if held:
        rows[-1] = rows[-1].plus_flops(add=rows[-1].out_shape.elements)
    rows = [rows[0], *(holding(r, held) for r in rows[1:])]
    return rows, rows[-1].out_shape


def _shortcut(layer: Layer, x: Shape, out: int, stride: int) -> list[LayerCost]:
    if stride == 1 and x.c == out:
        return []
    post = {"bias": layer["norm"] == "none", "norm": layer["norm"]}
    return [conv2d(f"{layer.path}.downsample", x, out=out, k=1, s=stride, **post)]


def _finish_residual(last: LayerCost, act: str) -> LayerCost:
    n = last.out_shape.elements
    return last.plus_flops(add=n, act=ACT_FLOPS[act] * n)


def _basic(layer: Layer, x: Shape) -> Result:
    a, p = layer.args, layer.path
    u = {"bias": a["norm"] == "none", "norm": a["norm"], "separable": a["separable"]}
    rows = unit(f"{p}.conv1", x, out=a["out"], k=3, s=a["s"], p=1, act=a["act"], **u)
    rows += unit(f"{p}.conv2", rows[-1].out_shape, out=a["out"], k=3, p=1, act="none", **u)
    rows[-1] = _finish_residual(rows[-1], a["act"])
    y = rows[-1].out_shape
    rows += _shortcut(layer, x, a["out"], a["s"])
    return [holding(r, x.elements) for r in rows], y


def fused_mid(c_in: int, t: float) -> int:
    """Channels after a Fused-MBConv's k×k expansion: c_in·t, rounded."""
    return round(c_in * t)


def bottleneck_squeeze(c_in: int, ratio: float) -> int:
    """SE width of a bottleneck (RegNetY, torchvision's BottleneckTransform): ``round``, not floor,
    of the ratio times the block's input channels."""
    return max(1, round(c_in * ratio))


def _bottleneck(layer: Layer, x: Shape) -> Result:
    a, p = layer.args, layer.path
    u = {"bias": a["norm"] == "none", "norm": a["norm"], "separable": a["separable"]}
    s1, s3 = (a["s"], 1) if a["stride_at"] == "1x1" else (1, a["s"])
    rows = unit(f"{p}.conv1", x, out=a["mid"], k=1, s=s1, act=a["act"], **u)
    y = rows[-1].out_shape
    if a["groups"] == 1:
        rows += unit(f"{p}.conv2", y, out=a["mid"], k=3, s=s3, p=1, act=a["act"], **u)
    else:  # a grouped 3×3 stays grouped under `separable` (it rewrites groups = 1 convs only)
        grouped = {"groups": a["groups"], "bias": u["bias"], "norm": a["norm"], "act": a["act"]}
        rows.append(conv2d(f"{p}.conv2", y, out=a["mid"], k=3, s=s3, p=1, **grouped))
    if a["se"] > 0:
        squeeze = bottleneck_squeeze(x.c, a["se"])
        rows.append(squeeze_excite(f"{p}.se", rows[-1].out_shape, squeeze=squeeze, act=a["act"]))
    rows += unit(f"{p}.conv3", rows[-1].out_shape, out=a["out"], k=1, act="none", **u)
    rows[-1] = _finish_residual(rows[-1], a["act"])
    y = rows[-1].out_shape
    rows += _shortcut(layer, x, a["out"], a["s"])
    return [holding(r, x.elements) for r in rows], y


def _inception(layer: Layer, x: Shape) -> Result:
    a, p = layer.args, layer.path
    u = {
        "bias": a["norm"] == "none",
        "norm": a["norm"],
        "act": a["act"],
        "separable": a["separable"],
    }
    b3r = unit(f"{p}.b3_reduce", x, out=a["b3r"], k=1, **u)
    b5r = unit(f"{p}.b5_reduce", x, out=a["b5r"], k=1, **u)
    pool = pool2d(f"{p}.pool", "maxpool", x, k=3, s=1, p=1, ceil=True)
    branches = [
        unit(f"{p}.b1", x, out=a["b1"], k=1, **u),
        b3r + unit(f"{p}.b3", b3r[-1].out_shape, out=a["b3"], k=3, p=1, **u),
        b5r + unit(f"{p}.b5", b5r[-1].out_shape, out=a["b5"], k=5, p=2, **u),
        [pool, *unit(f"{p}.pool_proj", pool.out_shape, out=a["pool"], k=1, **u)],
    ]
    rows: list[LayerCost] = []
    done = 0  # elements of finished branches, held for the concatenation
    for branch in branches:
        for row in branch:
            extra = x.elements if row.in_shape is not x else 0
            rows.append(evolve(row, live=row.live + extra + done))
        done += branch[-1].out_shape.elements
    y = Shape(a["b1"] + a["b3"] + a["b5"] + a["pool"], x.h, x.w)
    return rows, y


def _shuffle(layer: Layer, x: Shape) -> Result:
    """ShuffleNetV2 unit (Ma et al. 2018, Fig. 3c/d). Stride 1: the first half of the channels
    passes through, the second runs branch2; stride > 1: branch1 (k×k depthwise → 1×1) and
    branch2 (1×1 → k×k depthwise → 1×1) both read the whole input. The halves are concatenated
    and shuffled: data movement only, no FLOPs."""
    a, p = layer.args, layer.path
    out, k, s = a["out"], a["k"], a["s"]
    if out % 2:
        raise ShapeError(f"row '{p}' (shuffle): out {out} must be even, two halves of out / 2")
    if s == 1 and x.c != out:
        raise ShapeError(
            f"row '{p}' (shuffle): a stride-1 unit keeps its channels, but it gets {x.c} and "
            f"gives {out}; start the stage with s: 2"
        )
    half = out // 2
    u = {"bias": a["norm"] == "none", "norm": a["norm"]}
    rows: list[LayerCost] = []
    if s > 1:
        dw = conv2d(f"{p}.branch1.dw", x, out=x.c, k=k, s=s, p=k // 2, groups=x.c, **u)
        rows += [dw, conv2d(f"{p}.branch1.pw", dw.out_shape, out=half, k=1, act=a["act"], **u)]
    x2 = x if s > 1 else Shape(half, x.h, x.w)
    pw1 = conv2d(f"{p}.branch2.pw1", x2, out=half, k=1, act=a["act"], **u)
    dw = conv2d(f"{p}.branch2.dw", pw1.out_shape, out=half, k=k, s=s, p=k // 2, groups=half, **u)
    pw2 = conv2d(f"{p}.branch2.pw2", dw.out_shape, out=half, k=1, act=a["act"], **u)
    rows += [pw1, dw, pw2]
    y = Shape(out, pw2.out_shape.h, pw2.out_shape.w)
    return [holding(r, x.elements) for r in rows], y


def _fire(layer: Layer, x: Shape) -> Result:
    """SqueezeNet fire module (Iandola et al. 2016, Fig. 1): squeeze 1×1 → expand 1×1 and
    expand 3×3 side by side on the squeezed map, concatenated (no FLOPs)."""
    a, p = layer.args, layer.path
    u = {"bias": a["bias"], "norm": a["norm"], "act": a["act"]}
    squeeze = conv2d(f"{p}.squeeze", x, out=a["squeeze"], k=1, **u)
    z = squeeze.out_shape
    e1 = conv2d(f"{p}.expand1x1", z, out=a["e1"], k=1, **u)
    e3 = unit(f"{p}.expand3x3", z, out=a["e3"], k=3, p=1, separable=a["separable"], **u)
    held = [holding(r, e1.out_shape.elements + z.elements) for r in e3]
    return [squeeze, holding(e1, z.elements), *held], Shape(a["e1"] + a["e3"], z.h, z.w)


def dense_mid(layer: Layer) -> int:
    """A dense layer's bottleneck width: bn_size × growth (4k in Huang et al. 2017)."""
    return layer["bn_size"] * layer["growth"]


def _dense(layer: Layer, x: Shape) -> Result:
    """DenseNet-BC layer (Huang et al. 2017, Sec. 3): norm → act → 1×1 conv (bn_size × growth)
    → norm → act → 3×3 conv (growth); its output is concatenated to its input (no FLOPs)."""
    a, p = layer.args, layer.path
    u = {"norm": a["norm"], "act": a["act"]}
    conv1 = preact_conv(f"{p}.conv1", x, out=dense_mid(layer), k=1, **u)
    mid, growth = conv1.out_shape, a["growth"]
    conv2 = preact_unit(
        f"{p}.conv2", mid, out=growth, k=3, p=1, separable=a["separable"], held=x.elements, **u
    )
    return [conv1, *conv2], Shape(x.c + growth, x.h, x.w)


def transition_out(layer: Layer, c_in: int) -> int:
    """⌊compression × C⌋ channels out of a DenseNet transition (θ = 0.5 for DenseNet-BC)."""
    out = int(c_in * layer["compression"])
    if out < 1:
        raise ShapeError(
            f"row '{layer.path}' (transition): compression {layer['compression']:g} of {c_in} "
            "channels leaves none; use a compression > 0 that keeps at least one"
        )
    return out


def _transition(layer: Layer, x: Shape) -> Result:
    """DenseNet transition (Huang et al. 2017, Sec. 3): norm → act → 1×1 conv → 2×2 average
    pool, stride 2."""
    a, p = layer.args, layer.path
    out = transition_out(layer, x.c)
    conv = preact_conv(f"{p}.conv", x, out=out, k=1, norm=a["norm"], act=a["act"])
    pool = pool2d(f"{p}.pool", "avgpool", conv.out_shape, k=2, s=2)
    return [conv, pool], pool.out_shape


def _norm(layer: Layer, x: Shape) -> Result:
    return [norm_act(layer.path, x, layer["norm"], layer["act"])], x


def convnext_mid(c: int, t: float) -> int:
    """Channels of a ConvNeXt block's inverted bottleneck (4 × its width in the paper)."""
    return round(c * t)


def _convnext(layer: Layer, x: Shape) -> Result:
    """ConvNeXt block: ``dwconv`` (k×k depthwise, bias) → ``norm`` (LayerNorm) → ``pwconv1``
    (1×1 to t·C, bias, act) → ``pwconv2`` (1×1 back to C, bias) → ``layer_scale`` → + input.

    The 1×1 convolutions are torchvision's Linear layers on channels-last maps: the same weights,
    biases and MACs. Stochastic depth is an identity at inference: it costs nothing, and no row."""
    a, p = layer.args, layer.path
    k = a["k"]
    dw = conv2d(f"{p}.dwconv", x, out=x.c, k=k, p=k // 2, groups=x.c, bias=True)
    norm = layer_norm(f"{p}.norm", dw.out_shape)
    mid = convnext_mid(x.c, a["t"])
    pw1 = conv2d(f"{p}.pwconv1", norm.out_shape, out=mid, k=1, bias=True, act=a["act"])
    pw2 = conv2d(f"{p}.pwconv2", pw1.out_shape, out=x.c, k=1, bias=True)
    if a["layer_scale"]:
        rows = [dw, norm, pw1, pw2, layer_scale(f"{p}.layer_scale", x, residual=True)]
    else:
        rows = [dw, norm, pw1, pw2.plus_flops(add=x.elements)]
    return [rows[0], *(holding(r, x.elements) for r in rows[1:])], x


def _layernorm(layer: Layer, x: Shape) -> Result:
    return [layer_norm(layer.path, x)], x


def _pool(kind: str) -> Formula:
    def formula(layer: Layer, x: Shape) -> Result:
        a = layer.args
        stride = a["s"] or a["k"]
        row = pool2d(layer.path, kind, x, k=a["k"], s=stride, p=a["p"], ceil=a["ceil"])
        return [row], row.out_shape

    return formula


def _gap(layer: Layer, x: Shape) -> Result:
    row = global_pool(layer.path, x)
    return [row], row.out_shape


def _lrn(layer: Layer, x: Shape) -> Result:
    return [local_response_norm(layer.path, x, size=layer["size"])], x


def _flatten(layer: Layer, x: Shape) -> Result:
    y = Shape(x.elements, 1, 1)
    return [identity(layer.path, "flatten", x, y)], y


def _dropout(layer: Layer, x: Shape) -> Result:
    return [identity(layer.path, "dropout", x)], x


def _fc(layer: Layer, x: Shape) -> Result:
    if x.h != 1 or x.w != 1:
        raise ShapeError(
            f"row '{layer.path}' (fc) receives a {x} feature map; put a 'gap' or 'flatten' row "
            "before it"
        )
    row = linear(layer.path, x, out=layer["out"], bias=layer["bias"], act=layer["act"])
    return [row], row.out_shape


FORMULAS: Mapping[str, Formula] = op_table(
    [
        ("conv", _conv),
        ("dwconv", _dwconv),
        ("pwconv", _pwconv),
        ("dws", _dws),
        ("mbconv", _mbconv),
        ("fused_mbconv", _fused_mbconv),
        ("basic", _basic),
        ("bottleneck", _bottleneck),
        ("convnext", _convnext),
        ("inception", _inception),
        ("shuffle", _shuffle),
        ("fire", _fire),
        ("dense", _dense),
        ("transition", _transition),
        ("norm", _norm),
        ("maxpool", _pool("maxpool")),
        ("avgpool", _pool("avgpool")),
        ("gap", _gap),
        ("layernorm", _layernorm),
        ("lrn", _lrn),
        ("flatten", _flatten),
        ("dropout", _dropout),
        ("fc", _fc),
    ],
    "formula",
)
