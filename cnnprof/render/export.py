"""`cnnprof export` on the terminal: the file written, what was folded, and the file's count
beside the model's with each difference said in words. Presentation only."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from cnnprof.render.common import group, note
from cnnprof.report import export as report
from cnnprof.report.view import View
from cnnprof.results.export import ExportCheck


def present(check: ExportCheck, view: View) -> RenderableType:
    """The export as ``view.format`` says: a summary and a table, or JSON text."""
    if view.format != "table":
        return report.present(check, view)
    macs, params = report.verdicts(check)
    model, file = check.model, check.file
    table = Table()
    columns = (("", "left"), (f"model ({model.source})", "right"), ("file", "right"), ("", "left"))
    for header, justify in columns:
        table.add_column(header, justify=justify)
    table.add_row("MACs", f"{model.macs:,}", f"{file.macs:,}", macs)
    table.add_row("params", f"{model.params:,}", f"{file.params:,}", params)
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column()
    for label, words in report.facts(check):
        facts.add_row(label, Text(words))
    lines: list[RenderableType] = [facts, table]
    lines += [note(f"file count incomplete: {m}") for m in file.missing]
    return group(*lines)
