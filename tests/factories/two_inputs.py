"""A model with two inputs (RAFT's pattern: two frames), one shared convolution."""

from torch import nn


class TwoFrames(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, a, b):
        return self.conv(a) + self.conv(b)


def make() -> nn.Module:
    return TwoFrames()
