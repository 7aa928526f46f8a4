"""A device record read back from a cache, whichever runtime calibrated it: validated as a
profile file is (`results.validate.parse_record`, within `RECORD_LIMIT` bytes), and a record that
cannot be used is said, never silently measured again; and the one way either runtime's
calibration is judged and cached (`calibrated`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cnnprof.files as files
from cnnprof.errors import CnnprofError
from cnnprof.results import judge
from cnnprof.results.device import RECORD_LIMIT, Peaks
from cnnprof.results.json_text import json_text
from cnnprof.results.judge import Calibration
from cnnprof.results.validate import parse_record


def read_cached(path: Path, notes: list[str] | None = None) -> Peaks | None:
    """The record in ``path``; None when missing, unreadable or unusable (then it is measured
    again, and ``notes`` says why the cached one was not used)."""
    try:
        if not files.exists(path, "peaks cache"):
            return None
    except CnnprofError as exc:
        problem = str(exc)
    else:
        record, problem = files.parse_file(path, "peaks cache", parse_record, RECORD_LIMIT)
        if record is not None and problem is None:
            return record
    if notes is not None:
        notes.append(f"cached device peaks not used ({problem}); measured again")
    return None


def from_cache(path: Path, notes: list[str] | None = None) -> Calibration | None:
    """The calibration cached in ``path``, judged (`judge.refusals`: one cached before a change
    of the judge may be refused, and is then said each time it is used); None when none is."""
    cached = read_cached(path, notes)
    if cached is None:
        return None
    return Calibration(cached, cached_from=str(path), refused=tuple(judge.refusals(cached)))


def calibrated(
    path: Path,
    measure: Callable[[], Peaks],
    *,
    use_cache: bool = True,
    uncached: Callable[[Peaks], str | None] = lambda measured: None,
    notes: list[str] | None = None,
) -> Calibration:
    """The calibration cached in ``path`` (with ``use_cache``), else ``measure``d now; either is
    judged (`judge.refusals`). One measured now is cached only when the judge accepts it and
    ``uncached`` gives no reason to keep it out (a calibration cut short, a quick plan): a
    refused one would mislead every later prediction. ``notes`` gets a cache not used, or not
    written, and why."""
    cached = from_cache(path, notes) if use_cache else None
    if cached is not None:
        return cached
    measured = measure()
    refused = tuple(judge.refusals(measured))
    if refused:
        return Calibration(measured, refused=refused)
    why = uncached(measured)
    if why is not None:
        if notes is not None and why:
            notes.append(why)
        return Calibration(measured)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write(path, json_text(measured.to_dict(), ensure_ascii=True), "peaks cache")
    except (OSError, CnnprofError) as exc:  # a cache not written only means measuring again
        if notes is not None:
            notes.append(f"device peaks not cached: {exc}")
        return Calibration(measured)
    return Calibration(measured, cached_to=str(path))
