"""One closed-form formula per spec op: a layer and its input shape in, cost rows and output
shape out; each composes the primitives of `cnnprof.analytic.layers` and
`cnnprof.analytic.elementwise`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cnnprof.analytic.elementwise import (
    ACT_FLOPS,
    global_pool,
    identity,
    layer_norm,
    layer_scale,
    local_response_norm,
    norm_act,
)
from cnnprof.analytic.layers import (
    conv2d,
    holding,
    linear,
    pool2d,
    preact_conv,
    preact_unit,
    same_padding,
    squeeze_excite,
    unit,
)
from cnnprof.arch.model import Layer, Shape, divisible, evolve
from cnnprof.arch.ops import op_table
from cnnprof.errors import ShapeError
from cnnprof.results.profile import LayerCost

Result = tuple[list[LayerCost], Shape]
Formula = Callable[[Layer, Shape], Result]


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
