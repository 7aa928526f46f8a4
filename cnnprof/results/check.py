"""What `cnnprof check` found, as data: one `CheckResult` per model and metric. Pure data."""

from __future__ import annotations

from dataclasses import dataclass

from cnnprof.results.interleaved import LatencyRatio


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
