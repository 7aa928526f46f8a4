"""A fixed filter convolved in forward (timm's ``BlurPool2d`` anti-aliasing pattern): the module
has no parameters and no convolution child, only a registered binomial filter buffer that its
forward applies with ``F.conv2d(..., groups=C)`` after a reflect padding. One blur holds a filter
per channel, the other one filter expanded to every channel. ``make_offset`` holds a buffer of
the same rank that it only adds: no filter, no products."""

import torch
from torch import nn
from torch.nn import functional as F


class Blur(nn.Module):
    def __init__(self, channels: int | None) -> None:
        super().__init__()
        self.channels = channels
        taps = torch.tensor([1.0, 2.0, 1.0]) / 4
        blur = (taps[:, None] * taps[None, :]).repeat(channels or 1, 1, 1, 1)
        self.register_buffer("filt", blur)

    def forward(self, x):
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        channels = x.shape[1]
        weight = self.filt if self.channels else self.filt.expand(channels, 1, 3, 3)
        return F.conv2d(x, weight, stride=2, groups=channels)


class Offset(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("offset", torch.zeros(1, 4, 2, 2))

    def forward(self, x):
        return x + self.offset


def make() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 1, bias=False), Blur(4), Blur(None))


def make_offset() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 1, bias=False), Offset())
