"""What `cnnprof check` found, as data: one `CheckResult` per model and metric, gathered with
the notes that go with them in a `CheckReport`. Pure data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

from cnnprof.arch.reference import DEFAULT_TIMEOUT
from cnnprof.results.interleaved import LatencyRatio
from cnnprof.results.shown import Shown
from cnnprof.results.timing import TORCH, Timing


@dataclass(frozen=True)
class Settings:
    """How an entry's model is counted: what shapes the counts (and its time limit)."""

    batch: int = 1
    dtype: str = "float32"
    input: tuple[tuple[int, ...], ...] | None = None  # outside models only: the input shapes
    args: Mapping[str, Any] | None = None  # outside models only: factory keyword arguments
    timeout: float = DEFAULT_TIMEOUT
    allow_incomplete: bool = False  # an incomplete count passes (otherwise it fails)
    runtime: str = TORCH  # what runs the model when its latency is measured (or predicted)


@dataclass(frozen=True)
class CheckResult:
    """One metric of one model: the reference value, the recount, and whether it holds."""

    model: str
    metric: str
    before: float  # baseline value or budget limit
    after: float
    limit: float  # largest value that passes
    kind: str  # "baseline" or "budget"
    spread: tuple[float, float] | None = None  # a measured value's p10–p90 (None: a count)
    ratio: LatencyRatio | None = None  # a latency ratio: the model and its reference, measured
    device_profile: str | None = None  # a predicted latency: the device profile it is for
    timing: Timing | None = None  # a measured latency: how it was measured (threads, processes)
    settings: Settings | None = None  # how the entry's model was counted (None: not said)

    @property
    def label(self) -> str:
        """The metric as a table names it: with the device profile a prediction is for."""
        return (
            self.metric if self.device_profile is None else f"{self.metric} ({self.device_profile})"
        )

    @property
    def ok(self) -> bool:
        """The value within its limit. A measured value is judged by its median (``after``),
        also when its spread reaches past the limit (see `undecided`)."""
        return self.after <= self.limit

    @property
    def undecided(self) -> bool:
        """A measured value whose p10–p90 spread holds the limit: another run may well judge it
        the other way."""
        return self.spread is not None and self.spread[0] <= self.limit <= self.spread[1]

    @property
    def delta(self) -> float:
        return (self.after - self.before) / self.before if self.before else 0.0


@dataclass(frozen=True)
class CheckReport(Shown, Sequence[CheckResult]):
    """One check of a baseline or budget file: a result per model and metric (the report reads
    as the sequence of them), the notes on what was measured or predicted and how, and the
    figures ``--update`` changed."""

    source: str  # the file checked, as given
    results: tuple[CheckResult, ...]
    notes: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()
    updated: bool = False  # ``--update`` rewrote the baseline with today's figures
    # (model, line) per entry whose model failed (not loaded; its code raised, hung, ended its
    # process): its limits were not checked, and the other entries' results stand
    failed: tuple[tuple[str, str], ...] = ()

    @property
    def errors(self) -> tuple[str, ...]:
        """The line of each entry that failed, naming its model."""
        return tuple(line for _, line in self.failed)

    @property
    def passed(self) -> bool:
        """Every entry checked and every metric within its limit: the CLI's exit 0."""
        return not self.errors and all(r.ok for r in self.results)

    @property
    def grew(self) -> bool:
        """A metric failed clearly (not undecided): the CLI's exit 1, whatever else failed."""
        return any(not r.ok and not r.undecided for r in self.results)

    @property
    def undecided(self) -> bool:
        """Failed, but only where a measured spread holds the limit: no metric grew clearly, and
        another run may pass (the CLI's exit 4)."""
        failed = [r for r in self.results if not r.ok]
        return bool(failed) and all(r.undecided for r in failed) and not self.errors

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.results)

    @overload
    def __getitem__(self, index: int) -> CheckResult: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[CheckResult, ...]: ...
    def __getitem__(self, index: int | slice) -> CheckResult | tuple[CheckResult, ...]:
        return self.results[index]
