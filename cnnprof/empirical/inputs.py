"""What a model is called with (`Inputs`: one tensor per shape, or a detection model's list of
images), made the same every run, and the per-image shape a row reports for a tensor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from cnnprof.arch.model import Shape, shape_of


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
