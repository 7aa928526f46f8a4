"""A Linear on a 4-D input (N, 2, 3, 4): one product per leading position."""

from torch import nn


def make() -> nn.Module:
    return nn.Linear(4, 5)
