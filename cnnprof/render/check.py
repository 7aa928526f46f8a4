"""Rich renderable of `cnnprof check`: before, after and delta per model and metric (`present`
draws the table and hands the other formats to `report.check`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cnnprof.render.common import Fit, group, note
from cnnprof.report import check as report
from cnnprof.report.view import View
from cnnprof.results.check import CheckReport, CheckResult

# The columns a narrow terminal leaves out first (the answer first, context last), whether a row
# failed → in that order: a failing table keeps the limit a figure broke (allowed: the budget or
# baseline with its tolerance applied), a passing one may leave it out.
_LEFT_OUT: Mapping[bool, tuple[str, ...]] = MappingProxyType(
    {True: ("delta", "before / limit"), False: ("allowed", "before / limit", "delta")}
)


def present(found: CheckReport, view: View) -> RenderableType:
    """A check's report as ``view`` asks: the table with its notes below, or report's text."""
    if view.format != "table":
        return report.present(found, view)
    steps = [Text(report.step_text(step)) for step in report.next_steps(found)]
    table = check_table(found.results, found.source, found.errors)
    return group(table, *steps, *map(note, report.notes(found)))


def check_table(results: Sequence[CheckResult], source: str, errors: Sequence[str] = ()) -> Group:
    """Before / after / delta per model and metric; failing cells marked, undecided verdicts
    said; the verdict counts the entries not checked (``errors``, printed apart)."""
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
    verdict = Text(
        report.verdict(results, errors), style="bold red" if failed or errors else "green"
    )
    return Group(Fit(table, _LEFT_OUT[failed > 0]), verdict)
