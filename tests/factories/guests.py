"""User code that misbehaves, for the guest boundary (`cnnprof.empirical.outside.guest`).

Factories:
- ``exits_zero`` / ``exits_three``: the factory calls ``sys.exit``
- ``raises_base``: the factory raises a ``BaseException`` subclass
- ``loud``: the factory prints to stdout, then returns a working model
- ``forward_exits``: the model's forward calls ``sys.exit(0)``
- ``never_returns``: the factory sleeps forever
- ``slow_forward``: every forward on a real device takes ``SLOW_SECONDS``
- ``interrupts``: the factory raises ``KeyboardInterrupt`` itself
- ``nested``: ``depth`` Sequentials, each holding the next (5,000: deeper than recursion goes)
- ``waits``: the factory creates the file ``$GUEST_WAITING``, then sleeps (for a Ctrl-C)
"""

from __future__ import annotations

import os
import sys
import time

import torch
from torch import nn

SLOW_SECONDS = 3.0


class Fatal(BaseException):
    """Not an Exception: what `except Exception` would let through."""


def _small() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def exits_zero() -> nn.Module:
    sys.exit(0)


def exits_three() -> nn.Module:
    sys.exit(3)


def raises_base() -> nn.Module:
    raise Fatal("the factory gave up")


def interrupts() -> nn.Module:
    raise KeyboardInterrupt


def waits() -> nn.Module:
    open(os.environ["GUEST_WAITING"], "w").close()
    time.sleep(60)
    return _small()


def nested(depth: int = 5000) -> nn.Module:
    module: nn.Module = nn.Conv2d(3, 3, 3, padding=1)
    for _ in range(depth):
        module = nn.Sequential(module)
    return module


def loud() -> nn.Module:
    print("hello from the factory")
    return _small()


class _ExitingForward(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sys.exit(0)


def forward_exits() -> nn.Module:
    return _ExitingForward()


def never_returns() -> nn.Module:
    while True:
        time.sleep(1)


class _Slow(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "meta":
            time.sleep(SLOW_SECONDS)
        return self.conv(x)


def slow_forward() -> nn.Module:
    return _Slow()
