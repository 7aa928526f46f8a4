"""`cnnprof check` results as data for other programs: JSON, CSV and Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cnnprof.report.text import to_markdown
from cnnprof.report.units import human
from cnnprof.results.check import CheckResult

CHECK_COLUMNS = ("model", "metric", "kind", "before", "after", "delta", "limit", "status")


def check_records(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    return [
        {
            "model": r.model,
            "metric": r.metric,
            "kind": r.kind,
            "before": r.before,
            "after": r.after,
            "delta": round(r.delta, 6),
            "limit": r.limit,
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
