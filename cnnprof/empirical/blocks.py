"""The nn.Modules the empirical builders assemble: a conv unit (conv, norm, activation), the
residual, squeeze-excite, Inception, ShuffleNet, Fire and DenseNet blocks, the fully connected head,
and the network that runs the rows in order. Each names its children as the spec's rows do."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from cnnprof.analytic.formulas import dense_mid
from cnnprof.analytic.layers import conv_kind
from cnnprof.arch.model import Layer

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
        y = F.layer_norm(
            x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps
        )
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
