"""`cnnprof check` results as data for other programs: JSON, CSV and Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cnnprof.report.text import to_markdown
from cnnprof.report.units import human
from cnnprof.results.check import CheckResult

# `reference`: the baseline's value, or the budget itself; `value`: today's count; `limit`: the
# largest value that passes (reference plus tolerance). All numbers, in the metric's unit.
CHECK_COLUMNS = ("model", "metric", "kind", "reference", "value", "limit", "delta", "status")


def _number(x: float) -> float | int:
    """A parsed budget such as 4.1G (4099999999.9999995 in binary) as the number it names."""
    rounded = round(float(x), 6)
    return int(rounded) if rounded.is_integer() else rounded


def check_records(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    return [
        {
            "model": r.model,
            "metric": r.metric,
            "kind": r.kind,
            "reference": _number(r.before),
            "value": _number(r.after),
            "limit": _number(r.limit),
            "delta": round(r.delta, 6),
            "status": "ok" if r.ok else "FAIL",
        }
        for r in results
    ]


def check_dict(results: Sequence[CheckResult]) -> dict[str, Any]:
    return {
        "schema": "cnnprof.check/1",
        "passed": all(r.ok for r in results),
        "results": check_records(results),
    }


def check_markdown(results: Sequence[CheckResult]) -> str:
    failed = sum(not r.ok for r in results)
    head = (
        f"**cnnprof check: {failed} of {len(results)} metrics over their limit** ❌\n\n"
        if failed
        else f"**cnnprof check: all {len(results)} metrics hold** ✅\n\n"
    )
    rows = [
        (r.model, r.metric, human(r.before), human(r.after), f"{100 * r.delta:+.2f} %",
         human(r.limit), "ok" if r.ok else "**FAIL**")
        for r in results
    ]  # fmt: skip
    headers = ("model", "metric", "before / limit", "after", "delta", "allowed", "status")
    return head + to_markdown(headers, rows, right=2)
