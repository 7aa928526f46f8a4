"""The papers' comparison tables as values: a `Column` per model or configuration, a
`SweepPoint` per grid cell and a `Sweep` of them, and standard against depthwise-separable
convolution per layer (`SeparableRow`) and per model (`SeparableReport`). Pure data. (A
`Comparison` of columns sits in `metrics`, beside the table it reads.)"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: a count loads none of these modules
    from cnnprof.arch.model import Published
    from cnnprof.results.device import DeviceProfile, Prediction
    from cnnprof.results.profile import Profile
    from cnnprof.results.timing import Timing
    from cnnprof.results.training import TrainingCost

MAX_SWEEP_POINTS = 10_000  # grid points a sweep makes unless told otherwise (--max-points)


@dataclass(frozen=True)
class Column:
    """One model of a comparison or one point of a sweep."""

    label: str
    profile: Profile
    published: Published | None = None  # the paper's figures for exactly this configuration
    timing: Timing | None = None  # when measured
    training: TrainingCost | None = None  # when the reference says train=…
    prediction: Prediction | None = None  # when predicted for a device profile

    @property
    def top1(self) -> float | None:
        return self.published.top1 if self.published else None


@dataclass(frozen=True)
class SeparableRow:
    """One convolution: its standard k×k cost and its depthwise-separable cost at the same shape."""

    path: str
    written: str  # "standard" or "separable": how the model has it
    c_in: int
    c_out: int
    k: int
    h: int
    w: int

    @property
    def standard_macs(self) -> int:
        return self.k * self.k * self.c_in * self.c_out * self.h * self.w

    @property
    def standard_params(self) -> int:
        return self.k * self.k * self.c_in * self.c_out

    @property
    def separable_macs(self) -> int:
        return (self.k * self.k * self.c_in + self.c_in * self.c_out) * self.h * self.w

    @property
    def separable_params(self) -> int:
        return self.k * self.k * self.c_in + self.c_in * self.c_out

    @property
    def ratio(self) -> float:
        return self.separable_macs / self.standard_macs

    @property
    def paper_ratio(self) -> float:
        """Howard et al. 2017, Sec. 3.1: 1/N + 1/D_K² (N output channels, D_K kernel size)."""
        return 1 / self.c_out + 1 / (self.k * self.k)


@dataclass(frozen=True)
class SeparableReport:
    written: Column
    rows: tuple[SeparableRow, ...]
    standard: Column | None  # the spec rewritten with full convolutions (spec models only)
    separable: Column | None  # the spec rewritten with depthwise-separable convolutions


@dataclass(frozen=True)
class SweepPoint:
    column: Column
    settings: Mapping[str, Any]  # the swept values, e.g. {"alpha": 0.5, "resolution": 160}
    official: Column | None = None  # EfficientNet-B{φ} next to φ
    pareto: bool = False
    objective: float | None = None  # MnasNet's ACC × (LAT/T)^w, when measured


@dataclass(frozen=True)
class Sweep:
    """A sweep: its points in order (best MnasNet objective first when ranked on a latency
    target), and how to read them. Iterates, indexes and counts as its points."""

    label: str  # the swept model's reference
    points: tuple[SweepPoint, ...]
    device: DeviceProfile | None = None  # what the points' predicted latency is for
    pareto: bool = True  # the points' Pareto flags belong to the output (the CLI's --pareto)

    @property
    def columns(self) -> tuple[Column, ...]:
        return tuple(p.column for p in self.points)

    def __iter__(self) -> Iterator[SweepPoint]:
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> SweepPoint:
        return self.points[index]
