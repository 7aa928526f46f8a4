"""Arch → nn.Module. Module paths equal the spec's row paths, so analytic and empirical rows align.

One builder per op, registered in one table beside the formula table. Builders know channel counts
only (torch infers spatial sizes), so a wrong shape in a formula shows up as a failed forward here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from cnnprof.analytic.formulas import (
    FORMULAS,
    bottleneck_squeeze,
    convnext_mid,
    dense_mid,
    fused_mid,
    mbconv_mid,
    se_act,
    se_squeeze,
    transition_out,
)
from cnnprof.analytic.layers import conv_kind, same_padding
from cnnprof.arch.model import Arch, Layer
from cnnprof.arch.ops import op_table

Builder = Callable[[Layer, int], nn.Module]

ACTIVATIONS: Mapping[str, Callable[[], nn.Module]] = MappingProxyType(
    {
        "relu": nn.ReLU,
        "relu6": nn.ReLU6,
        "sigmoid": nn.Sigmoid,
        "silu": nn.SiLU,
        "tanh": nn.Tanh,
        "hswish": nn.Hardswish,
        "hsigmoid": nn.Hardsigmoid,
        "gelu": nn.GELU,
    }
)
FUNCTIONAL_ACTIVATIONS: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] = MappingProxyType(
    {
        "none": lambda x: x,
        "relu": F.relu,
        "relu6": F.relu6,
        "sigmoid": torch.sigmoid,
        "silu": F.silu,
        "tanh": torch.tanh,
        "hswish": F.hardswish,
        "hsigmoid": F.hardsigmoid,
        "gelu": F.gelu,
    }
)


class ConvUnit(nn.Sequential):
    """conv → [BatchNorm] → [activation], children named ``conv``, ``bn``, ``act``."""

    def __init__(
        self,
        c_in: int,
        *,
        c_out: int,
        k: int,
        s: int = 1,
        p: int = 0,
        groups: int = 1,
        bias: bool = False,
        norm: str = "none",
        act: str = "none",
    ) -> None:
        parts: OrderedDict[str, nn.Module] = OrderedDict()
        parts["conv"] = nn.Conv2d(c_in, c_out, k, s, p, groups=groups, bias=bias)
        if norm == "bn":
            parts["bn"] = nn.BatchNorm2d(c_out)
        if act != "none":
            parts["act"] = ACTIVATIONS[act]()
        super().__init__(parts)

    @property
    def layer_op(self) -> str:
        """The row's op, as the analytic side names it: the convolution's kind."""
        return conv_kind(self.conv.in_channels, self.conv.groups)


def unit(
    c_in: int,
    *,
    c_out: int,
    k: int,
    s: int = 1,
    p: int = 0,
    bias: bool = False,
    norm: str = "none",
    act: str = "none",
    separable: bool = False,
) -> nn.Module:
    """A ConvUnit, or with ``separable`` (and k > 1) children ``dw`` (k×k depthwise) and ``pw``."""
    post = {"bias": bias, "norm": norm, "act": act}
    if not separable or k == 1:
        return ConvUnit(c_in, c_out=c_out, k=k, s=s, p=p, **post)
    parts = OrderedDict(
        dw=ConvUnit(c_in, c_out=c_in, k=k, s=s, p=p, groups=c_in, **post),
        pw=ConvUnit(c_in, c_out=c_out, k=1, **post),
    )
    return nn.Sequential(parts)


class SqueezeExcite(nn.Module):
    """Global pool → 1×1 conv (squeeze) → act → 1×1 conv → gate → scale the input."""

    layer_op = "se"

    def __init__(self, channels: int, *, squeeze: int, act: str, gate: str = "sigmoid") -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.act = ACTIVATIONS[act]() if act != "none" else nn.Identity()
        self.expand = nn.Conv2d(squeeze, channels, 1)
        self.gate = ACTIVATIONS[gate]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.expand(self.act(self.reduce(s))))


class PreActUnit(nn.Sequential):
    """[BatchNorm] → [activation] → conv, DenseNet's order; children ``bn``, ``act``, ``conv``."""

    def __init__(
        self, *, c_in: int, c_out: int, k: int, p: int = 0, groups: int = 1, norm: str, act: str
    ) -> None:
        parts: OrderedDict[str, nn.Module] = OrderedDict()
        if norm == "bn":
            parts["bn"] = nn.BatchNorm2d(c_in)
        if act != "none":
            parts["act"] = ACTIVATIONS[act]()
        parts["conv"] = nn.Conv2d(c_in, c_out, k, padding=p, groups=groups, bias=norm == "none")
        super().__init__(parts)


def preact_unit(
    *, c_in: int, c_out: int, k: int, p: int = 0, norm: str, act: str, separable: bool
) -> nn.Module:
    """A PreActUnit, or with ``separable`` (and k > 1) children ``dw`` (k×k depthwise) and ``pw``,
    each pre-activated."""
    u = {"norm": norm, "act": act}
    if not separable or k == 1:
        return PreActUnit(c_in=c_in, c_out=c_out, k=k, p=p, **u)
    parts = OrderedDict(
        dw=PreActUnit(c_in=c_in, c_out=c_in, k=k, p=p, groups=c_in, **u),
        pw=PreActUnit(c_in=c_in, c_out=c_out, k=1, **u),
    )
    return nn.Sequential(parts)


class Residual(nn.Module):
    """Children run in order; the block input (through ``downsample`` if present) is added, then
    ``act`` is applied. The shortcut runs first so the last row of the block is its last conv."""

    def __init__(self, body: OrderedDict[str, nn.Module], residual: bool, act: str) -> None:
        super().__init__()
        self.names = tuple(k for k in body if k != "downsample")
        for name, module in body.items():
            self.add_module(name, module)
        self.residual = residual
        self.post_act = FUNCTIONAL_ACTIVATIONS[act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        if "downsample" in self._modules:
            shortcut = self.downsample(x)
        y = x
        for name in self.names:
            y = self._modules[name](y)
        if self.residual:
            y = y + shortcut
        return self.post_act(y)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an N×C×H×W map, at each position (ConvNeXt)."""

    layer_op = "layernorm"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                         self.eps)  # fmt: skip
        return y.permute(0, 3, 1, 2)


class LayerScale(nn.Module):
    """One learned multiplier per channel (CaiT, ConvNeXt), initialised small."""

    layer_op = "scale"

    def __init__(self, channels: int, *, init: float = 1e-6) -> None:
        super().__init__()
        self.init = init
        self.gamma = nn.Parameter(torch.empty(channels, 1, 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.gamma.fill_(self.init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Inception(nn.Module):
    """Four branches on the same input, concatenated along channels."""

    def __init__(self, c_in: int, a: Mapping[str, Any]) -> None:
        super().__init__()
        u = {
            "bias": a["norm"] == "none",
            "norm": a["norm"],
            "act": a["act"],
            "separable": a["separable"],
        }
        self.b1 = unit(c_in, c_out=a["b1"], k=1, **u)
        self.b3_reduce = unit(c_in, c_out=a["b3r"], k=1, **u)
        self.b3 = unit(a["b3r"], c_out=a["b3"], k=3, p=1, **u)
        self.b5_reduce = unit(c_in, c_out=a["b5r"], k=1, **u)
        self.b5 = unit(a["b5r"], c_out=a["b5"], k=5, p=2, **u)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True)
        self.pool_proj = unit(c_in, c_out=a["pool"], k=1, **u)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (
            self.b1(x),
            self.b3(self.b3_reduce(x)),
            self.b5(self.b5_reduce(x)),
            self.pool_proj(self.pool(x)),
        )
        return torch.cat(branches, dim=1)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups (ShuffleNet): views and a copy, no FLOPs."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


class ShuffleUnit(nn.Module):
    """ShuffleNetV2 unit: ``branch1`` (stride > 1 only) and ``branch2``, concatenated, shuffled."""

    def __init__(self, c_in: int, a: Mapping[str, Any]) -> None:
        super().__init__()
        half, k, s = a["out"] // 2, a["k"], a["s"]
        u = {"bias": a["norm"] == "none", "norm": a["norm"]}
        if s > 1:
            self.branch1 = nn.Sequential(
                OrderedDict(
                    dw=ConvUnit(c_in=c_in, c_out=c_in, k=k, s=s, p=k // 2, groups=c_in, **u),
                    pw=ConvUnit(c_in=c_in, c_out=half, k=1, act=a["act"], **u),
                )
            )
        self.branch2 = nn.Sequential(
            OrderedDict(
                pw1=ConvUnit(c_in=c_in if s > 1 else half, c_out=half, k=1, act=a["act"], **u),
                dw=ConvUnit(c_in=half, c_out=half, k=k, s=s, p=k // 2, groups=half, **u),
                pw2=ConvUnit(c_in=half, c_out=half, k=1, act=a["act"], **u),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if "branch1" in self._modules:
            y = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        else:
            passed, through = x.chunk(2, dim=1)
            y = torch.cat((passed, self.branch2(through)), dim=1)
        return channel_shuffle(y, 2)


class Fire(nn.Module):
    """SqueezeNet fire module: ``squeeze`` 1×1 → ``expand1x1`` | ``expand3x3``, concatenated."""

    def __init__(self, c_in: int, a: Mapping[str, Any]) -> None:
        super().__init__()
        u = {"bias": a["bias"], "norm": a["norm"], "act": a["act"]}
        self.squeeze = ConvUnit(c_in=c_in, c_out=a["squeeze"], k=1, **u)
        self.expand1x1 = ConvUnit(c_in=a["squeeze"], c_out=a["e1"], k=1, **u)
        self.expand3x3 = unit(
            c_in=a["squeeze"], c_out=a["e3"], k=3, p=1, separable=a["separable"], **u
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.squeeze(x)
        return torch.cat((self.expand1x1(z), self.expand3x3(z)), dim=1)


class DenseLayer(nn.Module):
    """DenseNet layer: ``conv1`` (pre-activated 1×1) → ``conv2`` (pre-activated 3×3), its output
    concatenated to its input."""

    def __init__(self, c_in: int, layer: Layer) -> None:
        super().__init__()
        a, mid = layer.args, dense_mid(layer)
        u = {"norm": a["norm"], "act": a["act"]}
        self.conv1 = PreActUnit(c_in=c_in, c_out=mid, k=1, **u)
        self.conv2 = preact_unit(
            c_in=mid, c_out=a["growth"], k=3, p=1, separable=a["separable"], **u
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x, self.conv2(self.conv1(x))), dim=1)


class Network(nn.Module):
    """The rows of an Arch as named children, run in order."""

    def __init__(self, rows: OrderedDict[str, nn.Module]) -> None:
        super().__init__()
        for name, module in rows.items():
            self.add_module(name, module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self._modules.values():
            x = module(x)
        return x


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


class FullyConnected(nn.Module):
    """Linear (+ activation) on the flattened input; children ``fc`` and ``act``."""

    layer_op = "fc"

    def __init__(self, c_in: int, out: int, bias: bool, act: str) -> None:
        super().__init__()
        self.fc = nn.Linear(c_in, out, bias)
        if act != "none":
            self.act = ACTIVATIONS[act]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(torch.flatten(x, 1))
        return self.act(y) if "act" in self._modules else y


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
