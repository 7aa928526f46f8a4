"""The papers' comparison tables as values: a `Column` per model or configuration, a
`SweepPoint` per grid cell and a `Sweep` of them, and standard against depthwise-separable
convolution per layer (`SeparableRow`) and per model (`SeparableReport`). Pure data. (A
`Comparison` of columns sits in `metrics`, beside the table it reads.)"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cnnprof.results.shown import Shown

if TYPE_CHECKING:  # annotations only: a count loads none of these modules
    from cnnprof.arch.model import Published
    from cnnprof.results.device import DeviceProfile, Estimate, Prediction
    from cnnprof.results.interleaved import Interleaved
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


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


# The models of a separable report, in the order it shows and measures them.
TWINS = ("written", "standard", "separable")


@dataclass(frozen=True)
class SeparableReport(Shown):
    """The model as written, its twins, and every convolution's cost both ways; with a time
    (measured, predicted), ratios against the standard twin (the model as written when there
    is none): how many times fewer MACs, how many times faster."""

    written: Column
    layers: tuple[SeparableRow, ...]
    standard: Column | None  # every separable pair made one full convolution (specs only)
    separable: Column | None  # every k×k convolution made depthwise-separable
    refused: Mapping[str, str] = field(default_factory=_empty)  # twin → why it was not made
    device: DeviceProfile | None = None  # what the columns' predictions are for
    rooflines: Mapping[str, Estimate] = field(default_factory=_empty)  # twin → on device's roofs
    interleaved: Interleaved | None = None  # the twins measured in rotation, in `twins` order
    per_row: Mapping[str, Timing] = field(default_factory=_empty)  # twin → alone, per-row hooks
    failed: Mapping[str, str] = field(default_factory=_empty)  # a twin's reference → why it failed

    def twins(self) -> tuple[tuple[str, Column], ...]:
        """The models made, by name (`TWINS`), in order."""
        named = zip(TWINS, (self.written, self.standard, self.separable), strict=True)
        return tuple((name, c) for name, c in named if c is not None)

    @property
    def reference(self) -> str:
        """What the ratios are against: the standard twin, else the model as written."""
        return "standard" if self.standard is not None else "written"

    def _column(self, name: str) -> Column:
        return dict(self.twins())[name]

    @property
    def timed(self) -> bool:
        """Whether a model's time is known: measured or predicted."""
        return self.interleaved is not None or self.device is not None

    def macs_fewer(self, name: str) -> float:
        """The reference's MACs over twin ``name``'s: 8.6 reads "8.6× fewer MACs"."""
        return self._column(self.reference).profile.macs / self._column(name).profile.macs

    def predicted_faster(self, name: str) -> float | None:
        """The reference's predicted time over twin ``name``'s (None: not predicted)."""
        mine, ref = self._column(name).prediction, self._column(self.reference).prediction
        return None if mine is None or ref is None else ref.seconds / mine.seconds

    def latency_faster(self, name: str) -> tuple[float, float, float] | None:
        """The reference's measured time over twin ``name``'s, round by round (a change of
        load falls on both alike): their median, p10 and p90 (None: not measured)."""
        from cnnprof.results.timing import quantile  # not loaded by a count

        if self.interleaved is None:
            return None
        names = [n for n, _ in self.twins()]
        ratios = self.interleaved.ratios(names.index(self.reference), names.index(name))
        if not ratios:
            return None
        return statistics.median(ratios), quantile(ratios, 0.1), quantile(ratios, 0.9)


@dataclass(frozen=True)
class SweepPoint:
    column: Column
    settings: Mapping[str, Any]  # the swept values, e.g. {"alpha": 0.5, "resolution": 160}
    official: Column | None = None  # EfficientNet-B{φ} next to φ
    pareto: bool = False
    mnas_objective: float | None = None  # MnasNet's ACC × (LAT/T)^w, when measured


@dataclass(frozen=True)
class Sweep(Shown):
    """A sweep: its points in order (best MnasNet objective first when ranked on a latency
    target), and how to read them. Iterates, indexes and counts as its points."""

    label: str  # the swept model's reference
    points: tuple[SweepPoint, ...]
    device: DeviceProfile | None = None  # what the points' predicted latency is for
    pareto: bool = True  # the points' Pareto flags belong to the output (the CLI's --pareto)
    ranked_on: str = ""  # the cost the flags take against top-1 (`metrics.ranked_on`'s when "")
    failed: Mapping[str, str] = field(default_factory=_empty)  # a point's reference → why it failed

    @property
    def columns(self) -> tuple[Column, ...]:
        return tuple(p.column for p in self.points)

    def __iter__(self) -> Iterator[SweepPoint]:
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> SweepPoint:
        return self.points[index]
