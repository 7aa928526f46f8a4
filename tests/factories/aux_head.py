"""An auxiliary head that runs only in training (Inception's pattern)."""

from torch import nn


class WithAux(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1, bias=False)
        self.aux = nn.Linear(2, 3)

    def forward(self, x):
        y = self.conv(x)
        if self.training:
            return y, self.aux(y.mean((2, 3)))
        return y


def make() -> nn.Module:
    return WithAux()
