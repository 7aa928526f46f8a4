"""Models measured in turn in one run, block by block, as plain data: each model's `Timing` and,
round by round, each model's mean time per run in its block. A change of load (a busy runner, a
neighbour's job) falls on every model of a round alike, so a ratio read round by round cancels it
where the absolute milliseconds do not. Pure Python, no torch.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from cnnprof.results.shown import Shown
from cnnprof.results.timing import Timing, quantile


@dataclass(frozen=True)
class Interleaved:
    """Models measured in rotation: in every round each ran one block of runs, the order
    reversed from one round to the next (A B, B A, …) so that a steady drift weighs on both."""

    timings: tuple[Timing, ...]  # every timed run of each model, all rounds together
    rounds: tuple[tuple[float, ...], ...]  # per round, each model's block mean (s per run)

    def ratios(self, model: int, reference: int) -> tuple[float, ...]:
        """Per round: ``model``'s block mean over ``reference``'s (indices into timings)."""
        return tuple(r[model] / r[reference] for r in self.rounds if r[reference] > 0)


@dataclass(frozen=True)
class LatencyRatio(Shown):
    """A model's latency relative to a reference measured with it, interleaved: the median of
    the per-round ratios, and their p10–p90 as its spread."""

    reference: str
    model_timing: Timing
    reference_timing: Timing
    ratios: tuple[float, ...]  # one per round

    @classmethod
    def of(cls, measured: Interleaved, reference: str) -> LatencyRatio:
        """The first model of ``measured`` against the second, named ``reference``."""
        model_timing, reference_timing = measured.timings[:2]
        return cls(reference, model_timing, reference_timing, measured.ratios(0, 1))

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)

    @property
    def p10(self) -> float:
        return quantile(self.ratios, 0.1)

    @property
    def p90(self) -> float:
        return quantile(self.ratios, 0.9)

    @property
    def rounds(self) -> int:
        return len(self.ratios)
