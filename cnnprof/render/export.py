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
    table = Table(
        title=f"the file's count against the model's ({model.source})", title_justify="left"
    )
    for header, justify in (("", "left"), ("model", "right"), ("file", "right"), ("", "left")):
        table.add_column(header, justify=justify)
    table.add_row("MACs", f"{model.macs:,}", f"{file.macs:,}", macs)
    table.add_row("params", f"{model.params:,}", f"{file.params:,}", params)
    lines: list[RenderableType] = [
        Text(f"wrote {report.written(check)}"),
        Text(report.folding(check)),
        table,
    ]
    lines += [note(f"file count incomplete: {m}") for m in file.missing]
    return group(*lines)
