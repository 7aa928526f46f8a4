"""`run_check`: a baseline (.json) or budget (.yaml) file, validated whole, then every model in it
counted again and held to it; ``update`` rewrites a baseline under a lock, atomically, keeping
each entry's settings and every key it does not own."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import cnnprof.files as files
from cnnprof.api.check._baseline import compare_baseline, recount, unchanged_profiles, updated
from cnnprof.api.check._budgets import check_budgets
from cnnprof.api.check._documents import baseline_from, read_baseline, read_budgets
from cnnprof.api.latency import Machine
from cnnprof.api.request import DEFAULT_TIMEOUT
from cnnprof.errors import OptionError
from cnnprof.results.check import CheckReport, CheckResult
from cnnprof.results.json_text import json_text


def run_check(
    path: Path,
    tolerance: float = 0.0,
    latency_tolerance: float = 0.10,
    *,
    machine: Callable[[], Machine] | None = None,
    update: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> CheckReport:
    """Recount every model named in a baseline (.json) or budget (.yaml) file, validated whole
    first. Latency entries are measured with ``machine`` (given only when latency may be
    measured); a baseline's latency measured on another device or thread count is skipped, and
    a note says so. ``update``: the baseline is rewritten with today's figures (locked against
    other updaters, replaced atomically), and the report lists what changed. ``timeout``: the
    seconds each stage of an outside model's code may take, where an entry gives none."""
    for name, value in (("--tolerance", tolerance), ("--latency-tolerance", latency_tolerance)):
        if not 0 <= value < math.inf:
            raise OptionError(f"{name} {value:g}: must be a finite fraction ≥ 0")
    if path.suffix not in (".json", ".yaml", ".yml"):
        raise OptionError(f"{path}: expected a baseline .json or a budget .yaml")
    if not files.exists(path, "check"):
        raise OptionError(f"{path}: no such file")
    if path.suffix != ".json" and update:
        raise OptionError("--update rewrites a baseline .json; edit a budget .yaml by hand")
    notes: list[str] = []
    changes: list[str] = []
    failed: list[tuple[str, str]] = []  # entries whose model failed: the others' results stand
    if path.suffix != ".json":
        budgets = read_budgets(path, timeout)
        results = check_budgets(budgets, tolerance, latency_tolerance, machine, notes, failed)
    elif not update:
        baseline = read_baseline(path, timeout)
        notes += unchanged_profiles(baseline)
        recounts = recount(baseline, machine, notes, failed)
        results = compare_baseline(recounts, tolerance, latency_tolerance)
    else:
        results = _update(path, tolerance, latency_tolerance, machine, timeout, notes, changes)
    found = (tuple(results), tuple(notes), tuple(changes))
    return CheckReport(str(path), *found, updated=update, failed=tuple(failed))


def _update(
    path: Path,
    tolerance: float,
    latency_tolerance: float,
    machine: Callable[[], Machine] | None,
    timeout: float,
    notes: list[str],
    changes: list[str],
) -> list[CheckResult]:
    """A baseline checked and rewritten with today's figures, read and replaced under the lock
    that keeps other updaters out; ``changes`` gets what changed."""
    results: list[CheckResult] = []

    def change(content: bytes) -> bytes:
        baseline = baseline_from(content, path, timeout)
        recounts = recount(baseline, machine, notes)
        results.extend(compare_baseline(recounts, tolerance, latency_tolerance))
        document, changed = updated(baseline, recounts)
        changes.extend(changed)
        return json_text(document).encode("utf-8")

    files.update(path, change, "--update")
    return results
