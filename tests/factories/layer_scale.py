"""A layer-scale γ on a non-leaf block (ConvNeXt's pattern): x + γ·conv(x)."""

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, channels: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.ones(channels, 1, 1))

    def forward(self, x):
        return x + self.gamma * self.conv(x)


def make() -> nn.Module:
    return Block()
