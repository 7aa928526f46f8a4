"""A head that runs on no item (a detector's box head when no proposal passes its threshold):
its Linear is called on a (0, 16) batch of rows, so it holds parameters and does no work."""

from torch import nn


class EmptyHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1, bias=False)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        y = self.conv(x)
        self.head(y.flatten(1)[:0])
        return y


def make() -> nn.Module:
    return EmptyHead()
