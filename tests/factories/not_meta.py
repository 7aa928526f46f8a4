"""Models that cannot live on the meta device: a factory that computes its width with real
tensors (RegNet's pattern: ``.tolist()`` of a meta tensor fails), and a forward whose control flow
depends on the data (``.item()``)."""

import torch
from torch import nn


def make_built() -> nn.Module:
    width = int(torch.tensor(2.0).pow(2).item())  # 4
    return nn.Conv2d(3, width, 1)


class Branching(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        y = self.conv(x)
        return y if bool(y.sum() > -1e30) else -y


def make_branching() -> nn.Module:
    return Branching()
