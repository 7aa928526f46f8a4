"""Forwards that return more than one tensor: a tuple, and a dict holding a list (a model with
an auxiliary head, a detector's named results).

Both: conv 3→4 1×1 on 3×H×W, global mean → 4 features; ``head`` Linear 4→7, ``aux`` Linear 4→3.
- ``make_tuple``: returns (logits (N, 7), aux (N, 3))
- ``make_dict``: returns {"logits": (N, 7), "aux": [(N, 3), the conv's map (N, 4, H, W)]}
"""

import torch
from torch import nn


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.head = nn.Linear(4, 7)
        self.aux = nn.Linear(4, 3)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.conv(x)
        return y, y.mean((2, 3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, f = self.features(x)
        return self.head(f), self.aux(f)


class Named(TwoHeads):
    def forward(self, x: torch.Tensor) -> dict[str, object]:
        y, f = self.features(x)
        return {"logits": self.head(f), "aux": [self.aux(f), y]}


def make_tuple() -> nn.Module:
    return TwoHeads()


def make_dict() -> nn.Module:
    return Named()
