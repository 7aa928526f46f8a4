"""What a model is called with (`Inputs`: one tensor per shape, or a detection model's list of
images), made the same every run, and the per-image shape a row reports for a tensor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

import torch

from cnnprof.arch.model import Shape


def shape_of(dims: Sequence[int]) -> Shape:
    """A row's shape per image from a tensor's dims after the batch: (C,) is C×1×1, (L, C) is a
    sequence of C features, (C, H, W, …) is C × H × (W·…)."""
    dims = list(dims) or [1]
    if len(dims) == 1:
        return Shape(dims[0], 1, 1)
    if len(dims) == 2:
        return Shape(dims[-1], dims[0], 1)
    return Shape(dims[0], dims[1], prod(dims[2:]))


@contextlib.contextmanager
def fixed_seed() -> Iterator[None]:
    """Random numbers from seed 0 inside, the caller's generator state untouched outside: real
    weights and inputs are the same every run, so are a data-dependent model's counts."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        yield


@dataclass(frozen=True)
class Inputs:
    """What an outside model is called with: one tensor per shape (batch first), or, for a
    torchvision detection model, one list of ``batch`` images."""

    shapes: tuple[tuple[int, ...], ...]
    image_list: bool = False

    def tensors(self, batch: int, device: str) -> tuple[Any, ...]:
        """Random inputs, the same every run (a data-dependent model's count depends on them)."""
        with fixed_seed():
            if self.image_list:
                return ([torch.rand(*self.shapes[0], device=device) for _ in range(batch)],)
            return tuple(torch.rand(batch, *s, device=device) for s in self.shapes)

    @property
    def first(self) -> Shape:
        return shape_of(self.shapes[0])


def as_inputs(input: Shape | Iterable[int] | Inputs) -> Inputs:
    """One image's shape (a `Shape` or sizes of any rank) as `Inputs`."""
    if isinstance(input, Inputs):
        return input
    return Inputs((tuple(input.as_list() if isinstance(input, Shape) else input),))
