"""The runs of one measurement: warm-up until the median is stable (or a fixed count), then
timed runs until ``settings.runs`` runs, or ``min_time`` seconds and MIN_RUNS runs, or the
deadline has no room for one more. A runtime passes a callable that runs its model once and
returns the seconds it took on the runtime's clock."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from cnnprof.results.timing import DEFAULT_MIN_TIME, MIN_RUNS, Deadline, LatencySettings
from cnnprof.results.vocab import Progress

WINDOW_SECONDS = 0.1  # auto warm-up: each window lasts about this long …
MAX_WINDOW = 25  # … in at most this many runs
STABLE = 0.05  # consecutive window medians within 5 % of each other: warm
MAX_WARMUP_WINDOWS = 20
WARMUP_SHARE = 0.3  # of the budget, at most, spent warming up


def silent(stage: str, fraction: float) -> None:
    """The default progress callback: says nothing."""


def warm_up(
    timed: Callable[[], float],
    first: float,
    warmup: int | None,
    deadline: Deadline,
    progress: Progress,
) -> tuple[int, bool, bool]:
    """Warm-up runs done (the first, untimed-for-results run included), whether the median
    settled, and whether the budget cut the warm-up short. A run starts only when one as long as
    the last ends within WARMUP_SHARE of the budget. Auto: windows of about WINDOW_SECONDS
    until two consecutive medians agree."""
    if warmup is not None:
        times = _within(
            timed, warmup - 1, first, deadline, lambda done: progress("warm-up", done / warmup)
        )
        progress("warm-up", 1.0)
        cut = len(times) < warmup - 1
        return (1 + len(times), False, True) if cut else (max(warmup, 1), True, False)
    window = max(1, min(MAX_WINDOW, round(WINDOW_SECONDS / max(first, 1e-9))))
    runs, previous, last = 1, None, first
    for index in range(MAX_WARMUP_WINDOWS):
        times = _within(timed, window, last, deadline)
        runs += len(times)
        if len(times) < window:
            progress("warm-up", 1.0)
            return runs, False, True
        median, last = statistics.median(times), times[-1]
        progress("warm-up", (index + 1) / MAX_WARMUP_WINDOWS)
        if previous is not None and abs(median - previous) <= STABLE * previous:
            progress("warm-up", 1.0)
            return runs, True, False
        previous = median
    progress("warm-up", 1.0)
    return runs, False, False


def _within(
    timed: Callable[[], float],
    count: int,
    last: float,
    deadline: Deadline,
    tick: Callable[[int], None] = lambda done: None,
) -> list[float]:
    """Up to ``count`` runs' seconds, each run started only while one as long as the last (at
    first ``last``) would end within WARMUP_SHARE of the budget; ``tick`` gets the runs done
    after each."""
    times: list[float] = []
    while len(times) < count and deadline.left(WARMUP_SHARE) >= (times[-1] if times else last):
        times.append(timed())
        tick(len(times))
    return times


def timed_runs(
    timed: Callable[[], float],
    settings: LatencySettings,
    deadline: Deadline,
    progress: Progress,
) -> tuple[list[float], bool]:
    """Samples until ``settings.runs`` runs, or ``min_time`` seconds of timed runs and MIN_RUNS
    runs, or the budget has no room for one more (then the second value is True). At least one
    run. ``timed`` may do more than the run it returns the time of (a per-row run after it):
    the room left is judged on the whole step."""
    samples: list[float] = []
    min_time = settings.min_time or DEFAULT_MIN_TIME
    while True:
        started = time.perf_counter()
        samples.append(timed())
        step = time.perf_counter() - started
        n = len(samples)
        if settings.runs is not None:
            fraction = n / settings.runs
        else:
            fraction = min(sum(samples) / min_time, n / MIN_RUNS)
        progress("timing", min(fraction, 1.0))
        if fraction >= 1.0:
            return samples, False
        if deadline.left() < step:  # another step would end past the budget
            return samples, True
