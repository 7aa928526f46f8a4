"""The separable twin of a model with no spec, by module surgery: every plain k×k `nn.Conv2d`
(a side > 1, groups 1) replaced, at its own module path, by a depthwise k×k convolution followed
by a pointwise 1×1, shapes unchanged. A spec is rewritten as data (`cnnprof.arch.transform`);
an outside model has only its modules, so `cnnprof separable` counts and times this copy. The
reverse (merging a depthwise convolution with the pointwise one after it) needs to know how the
forward joins two modules, which the modules do not say: it is not made here."""

from __future__ import annotations

import copy

import torch
from torch import nn


class Separable(nn.Module):
    """A k×k convolution made depthwise-separable: ``dw`` (k×k, one filter per channel, the
    original's stride, padding, dilation and padding mode), then ``pw`` (1×1, the original's
    bias)."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        on = {"device": conv.weight.device, "dtype": conv.weight.dtype}
        c = conv.in_channels
        self.dw = nn.Conv2d(
            c,
            c,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=c,
            bias=False,
            padding_mode=conv.padding_mode,
            **on,
        )
        self.pw = nn.Conv2d(c, conv.out_channels, 1, bias=conv.bias is not None, **on)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


def rewritable(module: nn.Module) -> bool:
    """A plain k×k convolution: exactly `nn.Conv2d` (a subclass's forward may do more than the
    convolution, so it stays as written), groups 1, a kernel side above 1."""
    return type(module) is nn.Conv2d and module.groups == 1 and max(module.kernel_size) > 1


def separable_twin(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with every `rewritable` convolution made `Separable` (on the device
    and in the dtype of its weights); ``module`` itself is left as it is."""
    twin = copy.deepcopy(module)
    if rewritable(twin):
        return Separable(twin)
    targets = [(name, m) for name, m in twin.named_modules() if rewritable(m)]
    for name, conv in targets:
        parent, _, attribute = name.rpartition(".")
        setattr(twin.get_submodule(parent), attribute, Separable(conv))
    return twin
