"""A device record read back from a cache, whichever runtime calibrated it: validated as a
profile file is (`results.validate.parse_record`, within `RECORD_LIMIT` bytes), and a record that
cannot be used is said, never silently measured again."""

from __future__ import annotations

from pathlib import Path

import cnnprof.files as files
from cnnprof.errors import CnnprofError
from cnnprof.results.device import RECORD_LIMIT, Peaks
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
