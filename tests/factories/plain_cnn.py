"""A small CNN of standard 3×3 convolutions, as user code writes one (no spec): for the separable
twin made by module surgery (`cnnprof.empirical.rewrite`).

Factories:
- ``make``: 3×32×32 → 10 classes; a 3×3 stem (with bias), two 3×3 convolutions (the second
  stride 2, no bias), a 1×1 convolution and a classifier
"""

from __future__ import annotations

import torch
from torch import nn


class PlainCNN(nn.Module):
    input_size = (3, 32, 32)

    def __init__(self, width: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1)
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, bias=False),
            nn.ReLU(),
        )
        self.mix = nn.Conv2d(2 * width, 2 * width, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mix(self.body(torch.relu(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def make(width: int = 16, num_classes: int = 10) -> nn.Module:
    return PlainCNN(width, num_classes)
