"""A Conv3d on a clip (N, C, T, H, W), as video models run."""

from torch import nn


def make() -> nn.Module:
    return nn.Sequential(nn.Conv3d(3, 2, 3, padding=1), nn.ReLU())
