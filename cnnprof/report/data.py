"""Any result the API returns as the JSON the CLI writes for it: one writer per result type,
looked up in one table (`cnnprof.to_dict`, `cnnprof.to_json`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from cnnprof.errors import OptionError
from cnnprof.report import check, latency, profile, tables
from cnnprof.report.text import to_json as json_text
from cnnprof.results.check import CheckReport, CheckResult
from cnnprof.results.metrics import Comparison
from cnnprof.results.profile import CrossCheck, Profile
from cnnprof.results.tables import SeparableReport, SweepPoint
from cnnprof.results.timing import Timing

# One result type → the writer of its JSON document. A sequence is written by the type of its
# items (a sweep's points, a check's results).
WRITERS: Mapping[type, Callable[[Any], dict[str, Any]]] = MappingProxyType(
    {
        Profile: lambda p: profile.profile_dict(p, layers=True),
        CrossCheck: profile.cross_check_dict,
        Comparison: tables.compare_dict,
        SeparableReport: tables.separable_dict,
        Timing: latency.latency_dict,
        SweepPoint: tables.sweep_dict,
        CheckResult: check.check_dict,
        CheckReport: check.report_dict,
    }
)


def to_dict(result: Any) -> dict[str, Any]:
    """The JSON document of ``result`` as plain data (what ``--format json`` writes)."""
    if isinstance(result, Mapping):  # a snapshot is its document already
        return dict(result)
    items = list(result) if isinstance(result, (list, tuple)) else None
    kind = type(items[0]) if items else type(result)
    writer = WRITERS.get(kind)
    if writer is None:
        raise OptionError(f"to_dict: no JSON form for {kind.__name__}")
    return writer(items if items is not None else result)


def to_json(result: Any) -> str:
    """``to_dict(result)`` as indented JSON text."""
    return json_text(to_dict(result))
