"""A product of two activations taken in a block's own forward (attention's Q·Kᵀ pattern): the
dispatch count sees it, the module walk has no formula that can.

Tokens (N, 5, 4) → q, k: Linear 4→3 without bias each → ``torch.matmul(q, kᵀ)``: (N, 5, 5).
"""

import torch
from torch import nn


class Gram(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(4, 3, bias=False)
        self.k = nn.Linear(4, 3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(self.q(x), self.k(x).transpose(1, 2))


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gram = Gram()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gram(x)


def make() -> nn.Module:
    return Model()
