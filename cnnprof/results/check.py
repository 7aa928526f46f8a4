"""What `cnnprof check` found, as data: one `CheckResult` per model and metric. Pure data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """One metric of one model: the reference value, the recount, and whether it holds."""

    model: str
    metric: str
    before: float  # baseline value or budget limit
    after: float
    limit: float  # largest value that passes
    kind: str  # "baseline" or "budget"

    @property
    def ok(self) -> bool:
        return self.after <= self.limit

    @property
    def delta(self) -> float:
        return (self.after - self.before) / self.before if self.before else 0.0
