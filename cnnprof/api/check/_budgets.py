"""Budgets checked: every entry counted against its limits, and measured against its latency
limits where a machine is given."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

import cnnprof.api.check._counting as counting
from cnnprof.api.check._documents import BudgetEntry
from cnnprof.api.latency import Machine
from cnnprof.errors import OptionError
from cnnprof.results import metrics
from cnnprof.results.check import CheckResult
from cnnprof.results.metrics import BASELINE_COUNTS, BUDGET_KEYS
from cnnprof.results.tables import Column

_COUNT_NAMES = {key: name for name, key in BASELINE_COUNTS.items()}  # how checks name a metric


def _budget_ms(here: Machine, entry: BudgetEntry, limit: float, allowed: float) -> CheckResult:
    req = counting.entry_request(entry.model, entry.settings)
    timing = here.measure(req, entry.device, entry.settings.runtime)
    return counting.ms_result(entry.model, "budget", limit, timing, allowed)


def _budget_ratio(here: Machine, entry: BudgetEntry, limit: float, allowed: float) -> CheckResult:
    ratio = counting.latency_ratio(
        here, entry.model, entry.settings, entry.reference or "", entry.device, entry.timeout
    )
    return counting.ratio_result(entry.model, "budget", limit, ratio, allowed)


# The budget limits measured on this machine (latency), each checked by its own function; every
# other limit is checked as a count, max_predicted_ms too: a prediction for a device profile is
# deterministic and needs no machine.
_MEASURED: Mapping[str, Callable[[Machine, BudgetEntry, float, float], CheckResult]] = (
    MappingProxyType({"max_latency_ms": _budget_ms, "max_latency_ratio": _budget_ratio})
)


def check_budgets(
    entries: Sequence[BudgetEntry],
    tolerance: float,
    latency_tolerance: float = 0.10,
    machine: Callable[[], Machine] | None = None,
    notes: list[str] | None = None,
    failed: list[tuple[str, str]] | None = None,
) -> list[CheckResult]:
    """Every entry counted against its limits, and measured against its latency limits with
    ``machine`` (made before anything is counted, so a missing torch or device stops the check
    first; without one, a note says which limits were not checked). An entry whose model's own
    code fails goes to ``failed`` (one line), and the others are checked; without ``failed``
    the failure is raised."""
    measured = any(key in _MEASURED for e in entries for key, _ in e.limits)
    here = machine() if machine is not None and measured else None
    notes = [] if notes is None else notes
    results, columns = [], []
    for entry in entries:
        with counting.guarded(entry.model, failed):
            column = counting.counted(entry.model, entry.settings, entry.predict_for)
            mine = _entry_results(entry, column, tolerance, latency_tolerance, here, notes)
            columns.append(column)
            results += counting.counted_with(_checked(entry, mine), entry.settings)
    notes += counting.profile_notes([e.predict_for for e in entries], columns)
    return results


def _entry_results(
    entry: BudgetEntry,
    column: Column,
    tolerance: float,
    latency_tolerance: float,
    here: Machine | None,
    notes: list[str],
) -> list[CheckResult]:
    """One entry's results: complete, its counted limits, then its measured ones."""
    mine = counting.completeness(entry.model, column.profile, entry.settings.allow_incomplete)
    mine += _counted_limits(entry, column, tolerance)
    for key, limit in entry.limits:
        if key in _MEASURED and here is None:
            notes.append(f"{entry.model}: {key} not checked (no machine to measure it on)")
        elif key in _MEASURED and here is not None:
            allowed = limit * (1 + latency_tolerance)
            how = here.at(entry.threads, entry.processes)
            mine.append(_MEASURED[key](how, entry, limit, allowed))
    return mine


def _counted_limits(entry: BudgetEntry, column: Column, tolerance: float) -> list[CheckResult]:
    """An entry's limits that a count answers (max_predicted_ms too), each against its figure
    with the entry's own tolerance, or ``tolerance`` where it gives none."""
    slack = 1 + (tolerance if entry.tolerance is None else entry.tolerance)
    results = []
    for key, limit in entry.limits:
        if key in _MEASURED:
            continue
        name = _COUNT_NAMES[BUDGET_KEYS[key]]
        after = metrics.value(column, BUDGET_KEYS[key])
        if after is None:
            raise ValueError(f"{key}: {BUDGET_KEYS[key]} is not read off {entry.model}")
        on = counting.predicted_on(name, entry.predict_for)
        results.append(
            CheckResult(entry.model, name, limit, after, limit * slack, "budget", device_profile=on)
        )
    return results


def _checked(entry: BudgetEntry, results: list[CheckResult]) -> list[CheckResult]:
    """An entry's results; none is an error (one line, exit 2), never a pass: a check that
    checked nothing of the entry would hold whatever its model became."""
    if results:
        return results
    limits = " and ".join(key for key, _ in entry.limits)
    raise OptionError(
        f"{entry.model}: {limits} not checked (no machine to measure it on), and the entry "
        "has no other limit: a check of nothing would pass; give a machine to measure it on"
    )
