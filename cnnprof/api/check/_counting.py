"""An entry's model counted, predicted and timed with the entry's own settings, and the results a
check makes of its figures: what a snapshot records and a check compares, counted the same way."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import replace

from cnnprof.api.check._fields import Settings
from cnnprof.api.count import profile_analytic
from cnnprof.api.latency import Machine, predicted_for
from cnnprof.api.request import DEFAULT_TIMEOUT, Request, request
from cnnprof.arch.reference import is_outside
from cnnprof.errors import LoadError, OutOfTime
from cnnprof.results import metrics
from cnnprof.results.check import CheckResult
from cnnprof.results.device import DeviceProfile, roofline_note
from cnnprof.results.interleaved import LatencyRatio
from cnnprof.results.metrics import BASELINE_COUNTS, PREDICTED
from cnnprof.results.profile import Profile
from cnnprof.results.tables import Column
from cnnprof.results.timing import Timing

# A model that could not be loaded, or whose own code failed (raised, ran past its timeout, ended
# its process): that entry's failure, which the other entries' results outlive.
ENTRY_FAILURES = (LoadError, OutOfTime)


@contextlib.contextmanager
def guarded(model: str, failed: list[tuple[str, str]] | None) -> Iterator[None]:
    """Inside, a failure of ``model`` (`ENTRY_FAILURES`) goes to ``failed`` with its one line;
    where ``failed`` is None, it is raised."""
    try:
        yield
    except ENTRY_FAILURES as exc:
        if failed is None:
            raise
        failed.append((model, str(exc)))


def entry_request(model: str, settings: Settings) -> Request:
    """What an entry names, counted and measured with the entry's own settings."""
    s = settings
    return request(
        model, batch=s.batch, dtype=s.dtype, input=s.input, args=s.args, timeout=s.timeout
    )


def latency_ratio(
    here: Machine,
    model: str,
    settings: Settings,
    reference: str,
    device: str,
    timeout: float = DEFAULT_TIMEOUT,
) -> LatencyRatio:
    """``model`` measured with ``reference`` in one run, interleaved, on ``device``; the
    reference at the entry's batch and dtype, in the entry's runtime, its own code (an outside
    reference's) bounded by ``timeout``, the command's."""
    bound = timeout if is_outside(reference) else DEFAULT_TIMEOUT
    pair = (
        entry_request(model, settings),
        request(reference, batch=settings.batch, dtype=settings.dtype, timeout=bound),
    )
    return LatencyRatio.of(here.together(pair, device, settings.runtime), reference)


def counted(model: str, settings: Settings, device: DeviceProfile | None = None) -> Column:
    """An entry's model counted with its settings, and its latency predicted for ``device``
    when given (deterministic: no timing, no torch for a spec)."""
    profile = profile_analytic(entry_request(model, settings))
    return Column(
        model, profile, prediction=None if device is None else predicted_for(profile, device)
    )


def counts(column: Column) -> dict[str, float]:
    """A baseline's counts of a column: every count, and the predicted latency where the
    column was predicted."""
    found = {name: metrics.value(column, key) for name, key in BASELINE_COUNTS.items()}
    return {name: number for name, number in found.items() if number is not None}


def completeness(model: str, profile: Profile, allowed: bool) -> list[CheckResult]:
    """A failing result for an incomplete count (its missing items against none allowed),
    unless the entry allows it; nothing when the count is complete."""
    if profile.complete:
        return []
    missing = len(profile.missing)
    return [CheckResult(model, "missing", 0, missing, missing if allowed else 0, "complete")]


def counted_with(results: Sequence[CheckResult], settings: Settings) -> list[CheckResult]:
    """An entry's results, each with the settings its model was counted with (so a failure
    can say how to count it again)."""
    return [replace(r, settings=settings) for r in results]


def predicted_on(metric: str, device: DeviceProfile | None) -> str | None:
    """The device profile a result's figure was predicted for (None: a count or a
    measurement)."""
    return device.name if device is not None and metric == PREDICTED else None


def ms_result(model: str, kind: str, before: float, timing: Timing, limit: float) -> CheckResult:
    """A measured latency against a baseline's or a budget's milliseconds."""
    spread = (timing.p10 * 1e3, timing.p90 * 1e3)
    median = timing.median * 1e3
    return CheckResult(
        model, "latency_ms", before, median, limit, kind, spread=spread, timing=timing
    )


def ratio_result(
    model: str, kind: str, before: float, ratio: LatencyRatio, limit: float
) -> CheckResult:
    """A latency ratio against a baseline's or a budget's; judged by its median (its p10–p90
    spread says when the verdict is undecided)."""
    spread = (ratio.p10, ratio.p90)
    return CheckResult(
        model, "latency_ratio", before, ratio.median, limit, kind, spread=spread, ratio=ratio
    )


def profile_notes(devices: Sequence[DeviceProfile | None], columns: Sequence[Column]) -> list[str]:
    """One line per device profile used (what its predictions are for), and one per model
    whose prediction costs rows on the roofline."""
    named = {d.name: d for d in devices if d is not None}
    notes = [f"{PREDICTED}: {d.describe()}" for d in named.values()]
    return notes + [n for c in columns if (n := roofline_note(c.label, c.prediction))]
