"""A small custom CNN, built the way user code is: a Conv2d subclass with its own forward,
functional calls inside forward, a transposed convolution and a Linear on (N, L, C) input.

Factories:
- ``make``: classifier, 3×H×W → num_classes
- ``make_decoder``: 3×H×W → 3×2H×2W through a stride-2 ConvTranspose2d
- ``make_tokens``: 3×H×W → (N, H·W/16, num_classes), a Linear on tokens
- ``make_failing``: a factory that raises
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class MyConv(nn.Conv2d):
    """A Conv2d subclass whose forward does more than the convolution (and calls super)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(super().forward(x))


class CustomCNN(nn.Module):
    def __init__(self, num_classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.stem = MyConv(3, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.act = nn.ReLU()
        self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.dw = MyConv(2 * width, 2 * width, 3, padding=1, groups=2 * width)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn(self.stem(x)))
        x = F.max_pool2d(x, 2)
        x = self.dw(self.conv2(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def make(num_classes: int = 10, width: int = 16) -> nn.Module:
    return CustomCNN(num_classes, width)


class Decoder(nn.Module):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.encode = nn.Conv2d(3, width, 3, padding=1)
        self.up = nn.ConvTranspose2d(width, 4, 2, stride=2)  # H×W → 2H×2W
        self.head = nn.Conv2d(4, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.up(F.relu(self.encode(x)))))


def make_decoder(width: int = 8) -> nn.Module:
    return Decoder(width)


class Tokens(nn.Module):
    """4×4 patches → tokens (N, L, C) → a Linear on every token."""

    def __init__(self, dim: int = 12, num_classes: int = 5) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 4, stride=4)
        self.proj = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch(x).flatten(2).transpose(1, 2)  # (N, L, dim)
        return self.proj(tokens)


def make_tokens(dim: int = 12, num_classes: int = 5) -> nn.Module:
    return Tokens(dim, num_classes)


def make_failing(num_classes: int = 10) -> nn.Module:
    raise RuntimeError("this factory always fails")
