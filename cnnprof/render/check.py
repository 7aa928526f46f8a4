"""Rich renderable of `cnnprof check`: before, after and delta per model and metric (`present`
draws the table and hands the other formats to `report.check`)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cnnprof.render.common import Fit, group, note
from cnnprof.report import check as report
from cnnprof.report.view import View
from cnnprof.results.check import CheckReport, CheckResult


def present(found: CheckReport, view: View) -> RenderableType:
    """A check's report as ``view`` asks: the table with its notes below, or report's text."""
    if view.format != "table":
        return report.present(found, view)
    steps = [Text(report.step_text(step)) for step in report.next_steps(found)]
    return group(check_table(found.results, found.source), *steps, *map(note, report.notes(found)))


def check_table(results: Sequence[CheckResult], source: str) -> Group:
    """Before / after / delta per model and metric; failing cells marked, undecided verdicts
    said."""
    table = Table(title=f"cnnprof check {source}", title_justify="left")
    for name in ("model", "metric", "before / limit", "after", "delta", "allowed", "status"):
        table.add_column(name, justify="left" if name in ("model", "metric") else "right")
    failed = 0
    for r in results:
        ok = r.ok
        failed += not ok
        style = "" if ok else "bold red"
        table.add_row(
            r.model,
            r.label,
            report.figure(r, r.before),
            Text(report.figure(r, r.after), style=style),
            Text(f"{100 * r.delta:+.2f} %", style=style),
            report.figure(r, r.limit),
            Text(report.status(r), style="green" if ok else "bold red"),
        )
    verdict = (
        Text(f"{failed} of {len(results)} metrics over their limit", style="bold red")
        if failed
        else Text(f"all {len(results)} metrics hold", style="green")
    )
    # the answer first, context last: a narrow terminal leaves out the delta, then the baseline
    # or budget, never the limit a failing figure is held to (allowed: the tolerance applied)
    return Group(Fit(table, ("delta", "before / limit")), verdict)
