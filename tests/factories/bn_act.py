"""A BatchNorm subclass with a child activation (timm's ``BatchNormAct2d`` pattern): not a leaf,
yet its own γ and β are parameters and its normalisation runs in its forward."""

from torch import nn


class BatchNormAct(nn.BatchNorm2d):
    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(super().forward(x))


def make() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 1, bias=False), BatchNormAct(4))
