"""A leaf module that returns a non-tensor (torchvision detection's ``ImageList`` pattern)."""

from torch import nn


class Box:
    def __init__(self, tensor) -> None:
        self.tensor = tensor


class Wrap(nn.Module):
    def forward(self, x):
        return Box(x)


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.wrap = Wrap()
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, x):
        return self.conv(self.wrap(x).tensor)


def make() -> nn.Module:
    return Model()
