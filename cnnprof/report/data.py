"""Any result the API returns as the JSON the CLI writes for it: one writer per result type,
looked up in one table (`cnnprof.to_dict`, `cnnprof.to_json`). A command's ``--format json``
goes through the same writer, with the view its options chose."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from cnnprof.errors import OptionError
from cnnprof.report import check, cross_check, latency, profile, tables
from cnnprof.report.text import to_json as json_text
from cnnprof.report.view import EVERY_ROW, TOTALS, View
from cnnprof.results.check import CheckReport, CheckResult
from cnnprof.results.latency import Measured, Predicted
from cnnprof.results.metrics import Comparison
from cnnprof.results.profile import CrossCheck, Profile
from cnnprof.results.tables import SeparableReport, Sweep
from cnnprof.results.timing import Timing

Writer = Callable[[Any, View], dict[str, Any]]

# One result type → the writer of its JSON document and the view it shows unless told (every row
# of a count or a prediction). A sequence is written by the type of its items (a sweep's points,
# a check's results).
WRITERS: Mapping[type, tuple[Writer, View]] = MappingProxyType(
    {
        Profile: (profile.profile_document, EVERY_ROW),
        CrossCheck: (cross_check.cross_check_document, TOTALS),
        Comparison: (lambda c, _: tables.compare_dict(c), TOTALS),
        SeparableReport: (tables.separable_dict, TOTALS),
        Timing: (lambda t, _: latency.latency_dict(Measured.alone(t)), TOTALS),
        Predicted: (latency.prediction_document, EVERY_ROW),
        Sweep: (lambda sweep, _: tables.sweep_dict(sweep), TOTALS),
        CheckResult: (lambda results, _: check.check_dict(results), TOTALS),
        CheckReport: (lambda report, _: check.report_dict(report), TOTALS),
    }
)


def to_dict(result: Any, view: View | None = None) -> dict[str, Any]:
    """The JSON document of ``result`` as plain data (what ``--format json`` writes); ``view``
    chooses the rows where a result has them (``View(layers=True, by_op=True)`` as
    ``count --layers --by op``)."""
    if isinstance(result, Mapping):  # a snapshot is its document already
        return dict(result)
    items = list(result) if isinstance(result, (list, tuple)) else None
    kind = type(items[0]) if items else type(result)
    if kind not in WRITERS:
        raise OptionError(f"to_dict: no JSON form for {kind.__name__}")
    writer, shown = WRITERS[kind]
    return writer(items if items is not None else result, view or shown)


def to_json(result: Any, view: View | None = None) -> str:
    """``to_dict(result, view)`` as indented JSON text."""
    return json_text(to_dict(result, view))
