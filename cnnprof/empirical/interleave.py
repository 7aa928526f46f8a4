"""A torch module as a contender of the measurement protocol (`cnnprof.protocol.interleave`):
timed alone, or interleaved with other models, by `latency.measure`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from cnnprof.arch.model import Shape
from cnnprof.empirical.latency import measure
from cnnprof.results.profile import LayerCost
from cnnprof.results.timing import Deadline, LatencySettings, Timing
from cnnprof.results.vocab import Progress


@dataclass(frozen=True)
class ModuleContender:
    """A module ready to measure, as `latency.measure` takes it: alone, or as one of an
    interleaved measurement's models."""

    module: nn.Module
    input: Shape
    batch: int = 1
    dtype: str = "float32"
    model: str = ""
    macs: int = 0

    def timed(
        self,
        settings: LatencySettings,
        deadline: Deadline,
        progress: Progress | None,
        rows: Sequence[LayerCost] = (),
    ) -> Timing:
        """`latency.measure` of this model as ``settings`` say, within ``deadline``; ``rows``
        name the modules timed one by one (with ``settings.layers``)."""
        return measure(
            self.module,
            self.input,
            batch=self.batch,
            dtype=self.dtype,
            model=self.model,
            macs=self.macs,
            rows=rows,
            settings=settings,
            progress=progress,
            deadline=deadline,
        )
