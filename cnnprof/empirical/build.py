"""Arch → nn.Module. Module paths equal the spec's row paths, so analytic and empirical rows align.

One builder per op, registered in one table beside the formula table. Builders know channel counts
only (torch infers spatial sizes), so a wrong shape in a formula shows up as a failed forward here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping

import torch
from torch import nn

from cnnprof.analytic.formulas import (
    FORMULAS,
    bottleneck_squeeze,
    convnext_mid,
    fused_mid,
    mbconv_mid,
    se_act,
    se_squeeze,
    transition_out,
)
from cnnprof.analytic.layers import same_padding
from cnnprof.arch.model import Arch, Layer
from cnnprof.arch.ops import op_table
from cnnprof.empirical.blocks import (
    ACTIVATIONS,
    ConvUnit,
    DenseLayer,
    Fire,
    FullyConnected,
    Inception,
    LayerNorm2d,
    LayerScale,
    Network,
    PreActUnit,
    Residual,
    ShuffleUnit,
    SqueezeExcite,
    unit,
)

Builder = Callable[[Layer, int], nn.Module]

# --- one builder per op ------------------------------------------------------------------------


def _conv(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    shape = {"c_out": a["out"], "k": a["k"], "s": a["s"], "p": same_padding(a["k"], a["p"])}
    post = {"bias": a["bias"], "norm": a["norm"], "act": a["act"]}
    if a["groups"] == 1:
        return unit(c, **shape, **post, separable=a["separable"])
    return ConvUnit(c, **shape, groups=a["groups"], **post)


def _dwconv(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    p = same_padding(a["k"], a["p"])
    post = {"bias": a["bias"], "norm": a["norm"], "act": a["act"]}
    return ConvUnit(c, c_out=c, k=a["k"], s=a["s"], p=p, groups=c, **post)


def _pwconv(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    return ConvUnit(c, c_out=a["out"], k=1, bias=a["bias"], norm=a["norm"], act=a["act"])


def _dws(layer: Layer, c: int) -> nn.Module:
    a, k = layer.args, layer["k"]
    post = {"bias": a["norm"] == "none", "norm": a["norm"], "act": a["act"]}
    parts = OrderedDict(
        dw=ConvUnit(c, c_out=c, k=k, s=a["s"], p=k // 2, groups=c, **post),
        pw=ConvUnit(c, c_out=a["out"], k=1, **post),
    )
    return nn.Sequential(parts)


def _mbconv(layer: Layer, c: int) -> nn.Module:
    a, k = layer.args, layer["k"]
    post = {"bias": a["norm"] == "none", "norm": a["norm"]}
    mid = mbconv_mid(layer, c)
    body: OrderedDict[str, nn.Module] = OrderedDict()
    if mid != c:
        body["expand"] = ConvUnit(c, c_out=mid, k=1, act=a["act"], **post)
    body["dw"] = ConvUnit(mid, c_out=mid, k=k, s=a["s"], p=k // 2, groups=mid, act=a["act"], **post)
    if a["se"] > 0:
        squeeze = se_squeeze(layer, c_in=c, mid=mid)
        body["se"] = SqueezeExcite(mid, squeeze=squeeze, act=se_act(layer), gate=a["se_gate"])
    body["project"] = ConvUnit(mid, c_out=a["out"], k=1, act="none", **post)
    residual = bool(a["skip"]) and a["s"] == 1 and c == a["out"]
    return Residual(body, residual, "none")


def _fused_mbconv(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    u = {"bias": a["norm"] == "none", "norm": a["norm"], "act": a["act"]}
    mid = fused_mid(c, a["t"])
    k, s = a["k"], a["s"]
    se = {"squeeze": max(1, int(c * a["se"])), "act": a["act"]}  # of the block's input
    body: OrderedDict[str, nn.Module] = OrderedDict()
    if mid == c:
        if a["se"] > 0:
            body["se"] = SqueezeExcite(c, **se)
        body["conv"] = ConvUnit(c, c_out=a["out"], k=k, s=s, p=k // 2, **u)
    else:
        body["expand"] = ConvUnit(c, c_out=mid, k=k, s=s, p=k // 2, **u)
        if a["se"] > 0:
            body["se"] = SqueezeExcite(mid, **se)
        body["project"] = ConvUnit(mid, c_out=a["out"], k=1, **{**u, "act": "none"})
    residual = bool(a["skip"]) and s == 1 and c == a["out"]
    return Residual(body, residual, "none")


def _shortcut(body: OrderedDict[str, nn.Module], layer: Layer, c: int, out: int) -> None:
    if layer["s"] != 1 or c != out:
        post = {"bias": layer["norm"] == "none", "norm": layer["norm"]}
        body["downsample"] = ConvUnit(c, c_out=out, k=1, s=layer["s"], **post)


def _basic(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    u = {"bias": a["norm"] == "none", "norm": a["norm"], "separable": a["separable"]}
    body: OrderedDict[str, nn.Module] = OrderedDict(
        conv1=unit(c, c_out=a["out"], k=3, s=a["s"], p=1, act=a["act"], **u),
        conv2=unit(a["out"], c_out=a["out"], k=3, p=1, act="none", **u),
    )
    _shortcut(body, layer, c, a["out"])
    return Residual(body, True, a["act"])


def _bottleneck(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    u = {"bias": a["norm"] == "none", "norm": a["norm"], "separable": a["separable"]}
    s1, s3 = (a["s"], 1) if a["stride_at"] == "1x1" else (1, a["s"])
    mid, groups = a["mid"], a["groups"]
    body: OrderedDict[str, nn.Module] = OrderedDict(
        conv1=unit(c, c_out=mid, k=1, s=s1, act=a["act"], **u)
    )
    if groups == 1:
        body["conv2"] = unit(mid, c_out=mid, k=3, s=s3, p=1, act=a["act"], **u)
    else:
        grouped = {"groups": groups, "bias": u["bias"], "norm": a["norm"], "act": a["act"]}
        body["conv2"] = ConvUnit(mid, c_out=mid, k=3, s=s3, p=1, **grouped)
    if a["se"] > 0:
        squeeze = bottleneck_squeeze(c, a["se"])
        body["se"] = SqueezeExcite(mid, squeeze=squeeze, act=a["act"])
    body["conv3"] = unit(mid, c_out=a["out"], k=1, act="none", **u)
    _shortcut(body, layer, c, a["out"])
    return Residual(body, True, a["act"])


def _convnext(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    k, mid = a["k"], convnext_mid(c, a["t"])
    body: OrderedDict[str, nn.Module] = OrderedDict(
        dwconv=ConvUnit(c, c_out=c, k=k, p=k // 2, groups=c, bias=True),
        norm=LayerNorm2d(c, eps=1e-6),
        pwconv1=ConvUnit(c, c_out=mid, k=1, bias=True, act=a["act"]),
        pwconv2=ConvUnit(mid, c_out=c, k=1, bias=True),
    )
    if a["layer_scale"]:
        body["layer_scale"] = LayerScale(c)
    return Residual(body, True, "none")


def _inception(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    return Inception(c, a)


def _shuffle(layer: Layer, c: int) -> nn.Module:
    return ShuffleUnit(c, layer.args)


def _fire(layer: Layer, c: int) -> nn.Module:
    return Fire(c, layer.args)


def _dense(layer: Layer, c: int) -> nn.Module:
    return DenseLayer(c, layer)


def _transition(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    conv = PreActUnit(c_in=c, c_out=transition_out(layer, c), k=1, norm=a["norm"], act=a["act"])
    return nn.Sequential(OrderedDict(conv=conv, pool=nn.AvgPool2d(kernel_size=2, stride=2)))


def _norm(layer: Layer, c: int) -> nn.Module:
    parts: OrderedDict[str, nn.Module] = OrderedDict()
    if layer["norm"] == "bn":
        parts["bn"] = nn.BatchNorm2d(c)
    if layer["act"] != "none":
        parts["act"] = ACTIVATIONS[layer["act"]]()
    return nn.Sequential(parts)


def _pool(cls: type[nn.Module]) -> Builder:
    def build(layer: Layer, c: int) -> nn.Module:
        a = layer.args
        return cls(a["k"], a["s"] or a["k"], a["p"], ceil_mode=a["ceil"])

    return build


def _fc(layer: Layer, c: int) -> nn.Module:
    return FullyConnected(c, layer["out"], layer["bias"], layer["act"])


def _gap(layer: Layer, c: int) -> nn.Module:
    return nn.AdaptiveAvgPool2d(1)


def _layernorm(layer: Layer, c: int) -> nn.Module:
    return LayerNorm2d(c, eps=1e-6)


def _lrn(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    return nn.LocalResponseNorm(a["size"], a["alpha"], a["beta"], a["k"])


def _flatten(layer: Layer, c: int) -> nn.Module:
    return nn.Flatten()


def _dropout(layer: Layer, c: int) -> nn.Module:
    return nn.Dropout(layer["p"])


BUILDERS: Mapping[str, Builder] = op_table(
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
        ("maxpool", _pool(nn.MaxPool2d)),
        ("avgpool", _pool(nn.AvgPool2d)),
        ("gap", _gap),
        ("layernorm", _layernorm),
        ("lrn", _lrn),
        ("flatten", _flatten),
        ("dropout", _dropout),
        ("fc", _fc),
    ],
    "builder",
)


def build(arch: Arch, device: str | torch.device = "meta") -> nn.Module:
    """The network of ``arch`` in eval mode, on ``device`` (meta: no memory for weights).

    Each builder is told its input channels by the analytic shape propagation (no forward pass is
    needed to build). That does not make the empirical count depend on the formulas: a wrong shape
    there makes a module whose weights do not fit its input, and the forward pass fails. Other
    devices than meta get freshly initialised random weights.
    """
    rows: OrderedDict[str, nn.Module] = OrderedDict()
    shape = arch.input
    with torch.device("meta"):
        for row, layers in arch.expanded():
            modules = []
            for layer in layers:
                modules.append(BUILDERS[layer.op](layer, shape.c))
                _, shape = FORMULAS[layer.op](layer, shape)
            rows[row.layer.path] = modules[0] if row.repeat is None else nn.Sequential(*modules)
        network = Network(rows).eval()
    if torch.device(device).type != "meta":
        network.to_empty(device=device)
        for module in network.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
    return network
