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
    mbconv_mid,
    same_padding,
    se_squeeze,
)
from cnnprof.spec.model import Arch, Layer
from cnnprof.spec.ops import op_table

Builder = Callable[[Layer, int], nn.Module]

ACTIVATIONS: Mapping[str, Callable[[], nn.Module]] = MappingProxyType(
    {
        "relu": nn.ReLU,
        "relu6": nn.ReLU6,
        "sigmoid": nn.Sigmoid,
        "silu": nn.SiLU,
        "tanh": nn.Tanh,
        "hswish": nn.Hardswish,
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
        "gelu": F.gelu,
    }
)


class ConvUnit(nn.Sequential):
    """conv → [BatchNorm] → [activation], children named ``conv``, ``bn``, ``act``."""

    def __init__(
        self,
        c_in: int,
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


def unit(
    c_in: int,
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
    if not separable or k == 1:
        return ConvUnit(c_in, c_out, k, s, p, 1, bias, norm, act)
    parts = OrderedDict(
        dw=ConvUnit(c_in, c_in, k, s, p, c_in, bias, norm, act),
        pw=ConvUnit(c_in, c_out, 1, 1, 0, 1, bias, norm, act),
    )
    return nn.Sequential(parts)


class SqueezeExcite(nn.Module):
    """Global pool → 1×1 conv (squeeze) → act → 1×1 conv → sigmoid → scale the input."""

    def __init__(self, channels: int, squeeze: int, act: str) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.act = ACTIVATIONS[act]() if act != "none" else nn.Identity()
        self.expand = nn.Conv2d(squeeze, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.expand(self.act(self.reduce(s))))


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                         self.eps)  # fmt: skip
        return y.permute(0, 3, 1, 2)


class LayerScale(nn.Module):
    """One learned multiplier per channel (CaiT, ConvNeXt), initialised small."""

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
        u = {"bias": a["norm"] == "none", "norm": a["norm"], "act": a["act"],
             "separable": a["separable"]}  # fmt: skip
        self.b1 = unit(c_in, a["b1"], 1, **u)
        self.b3_reduce = unit(c_in, a["b3r"], 1, **u)
        self.b3 = unit(a["b3r"], a["b3"], 3, 1, 1, **u)
        self.b5_reduce = unit(c_in, a["b5r"], 1, **u)
        self.b5 = unit(a["b5r"], a["b5"], 5, 1, 2, **u)
        self.pool = nn.MaxPool2d(3, 1, 1, ceil_mode=True)
        self.pool_proj = unit(c_in, a["pool"], 1, **u)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (
            self.b1(x),
            self.b3(self.b3_reduce(x)),
            self.b5(self.b5_reduce(x)),
            self.pool_proj(self.pool(x)),
        )
        return torch.cat(branches, dim=1)


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
    p = same_padding(a["k"], a["p"])
    if a["groups"] == 1:
        return unit(c, a["out"], a["k"], a["s"], p, a["bias"], a["norm"], a["act"], a["separable"])
    return ConvUnit(c, a["out"], a["k"], a["s"], p, a["groups"], a["bias"], a["norm"], a["act"])


def _dwconv(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    p = same_padding(a["k"], a["p"])
    return ConvUnit(c, c, a["k"], a["s"], p, c, a["bias"], a["norm"], a["act"])


def _pwconv(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    return ConvUnit(c, a["out"], 1, 1, 0, 1, a["bias"], a["norm"], a["act"])


def _dws(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    bias = a["norm"] == "none"
    parts = OrderedDict(
        dw=ConvUnit(c, c, a["k"], a["s"], a["k"] // 2, c, bias, a["norm"], a["act"]),
        pw=ConvUnit(c, a["out"], 1, 1, 0, 1, bias, a["norm"], a["act"]),
    )
    return nn.Sequential(parts)


def _mbconv(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    bias = a["norm"] == "none"
    mid = mbconv_mid(c, a["t"])
    body: OrderedDict[str, nn.Module] = OrderedDict()
    if mid != c:
        body["expand"] = ConvUnit(c, mid, 1, 1, 0, 1, bias, a["norm"], a["act"])
    body["dw"] = ConvUnit(mid, mid, a["k"], a["s"], a["k"] // 2, mid, bias, a["norm"], a["act"])
    if a["se"] > 0:
        body["se"] = SqueezeExcite(mid, se_squeeze(c, a["se"]), a["act"])
    body["project"] = ConvUnit(mid, a["out"], 1, 1, 0, 1, bias, a["norm"], "none")
    residual = bool(a["skip"]) and a["s"] == 1 and c == a["out"]
    return Residual(body, residual, "none")


def _fused_mbconv(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    u = {"bias": a["norm"] == "none", "norm": a["norm"]}
    mid = mbconv_mid(c, a["t"])
    k, s = a["k"], a["s"]
    body: OrderedDict[str, nn.Module] = OrderedDict()
    if mid == c:
        if a["se"] > 0:
            body["se"] = SqueezeExcite(c, se_squeeze(c, a["se"]), a["act"])
        body["conv"] = ConvUnit(c, a["out"], k, s=s, p=k // 2, act=a["act"], **u)
    else:
        body["expand"] = ConvUnit(c, mid, k, s=s, p=k // 2, act=a["act"], **u)
        if a["se"] > 0:
            body["se"] = SqueezeExcite(mid, se_squeeze(c, a["se"]), a["act"])
        body["project"] = ConvUnit(mid, a["out"], 1, act="none", **u)
    residual = bool(a["skip"]) and s == 1 and c == a["out"]
    return Residual(body, residual, "none")


def _shortcut(body: OrderedDict[str, nn.Module], layer: Layer, c: int, out: int) -> None:
    if layer["s"] != 1 or c != out:
        bias = layer["norm"] == "none"
        body["downsample"] = ConvUnit(c, out, 1, layer["s"], 0, 1, bias, layer["norm"], "none")


def _basic(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    u = {"bias": a["norm"] == "none", "norm": a["norm"], "separable": a["separable"]}
    body: OrderedDict[str, nn.Module] = OrderedDict(
        conv1=unit(c, a["out"], 3, a["s"], 1, act=a["act"], **u),
        conv2=unit(a["out"], a["out"], 3, 1, 1, act="none", **u),
    )
    _shortcut(body, layer, c, a["out"])
    return Residual(body, True, a["act"])


def _bottleneck(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    u = {"bias": a["norm"] == "none", "norm": a["norm"], "separable": a["separable"]}
    s1, s3 = (a["s"], 1) if a["stride_at"] == "1x1" else (1, a["s"])
    mid, groups = a["mid"], a["groups"]
    body: OrderedDict[str, nn.Module] = OrderedDict(conv1=unit(c, mid, 1, s1, 0, act=a["act"], **u))
    if groups == 1:
        body["conv2"] = unit(mid, mid, 3, s3, 1, act=a["act"], **u)
    else:
        body["conv2"] = ConvUnit(mid, mid, 3, s=s3, p=1, groups=groups, bias=u["bias"],
                                 norm=a["norm"], act=a["act"])  # fmt: skip
    if a["se"] > 0:
        body["se"] = SqueezeExcite(mid, bottleneck_squeeze(c, a["se"]), a["act"])
    body["conv3"] = unit(mid, a["out"], 1, 1, 0, act="none", **u)
    _shortcut(body, layer, c, a["out"])
    return Residual(body, True, a["act"])


def _convnext(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    k, mid = a["k"], convnext_mid(c, a["t"])
    body: OrderedDict[str, nn.Module] = OrderedDict(
        dwconv=ConvUnit(c, c, k, p=k // 2, groups=c, bias=True),
        norm=LayerNorm2d(c, eps=1e-6),
        pwconv1=ConvUnit(c, mid, 1, bias=True, act=a["act"]),
        pwconv2=ConvUnit(mid, c, 1, bias=True),
    )
    if a["layer_scale"]:
        body["layer_scale"] = LayerScale(c)
    return Residual(body, True, "none")


def _inception(layer: Layer, c: int) -> nn.Module:
    a = layer.args
    return Inception(c, a)


def _pool(cls: type[nn.Module]) -> Builder:
    def build(layer: Layer, c: int) -> nn.Module:
        a = layer.args
        return cls(a["k"], a["s"] or a["k"], a["p"], ceil_mode=a["ceil"])

    return build


class FullyConnected(nn.Module):
    """Linear (+ activation) on the flattened input; children ``fc`` and ``act``."""

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
