"""A model that runs in torch but that torch's ONNX exporter cannot write: its forward calls
an op with no ONNX symbolic (``torch.linalg.eigvals``, complex-valued).

Factories:
- ``make``: 3×H×W → 3, the real part of the eigenvalues of a 3×3 Gram matrix
"""

from __future__ import annotations

import torch
from torch import nn


class Eigen(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x).flatten(2)
        return torch.linalg.eigvals(y @ y.transpose(1, 2)).real


def make() -> nn.Module:
    return Eigen()
