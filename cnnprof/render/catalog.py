"""Rich renderable of `cnnprof list`: the registry's catalogue. Light: no profile values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from cnnprof.render.common import Fit
from cnnprof.report import catalog as report
from cnnprof.report.units import human
from cnnprof.report.view import View
from cnnprof.results.catalog import CatalogEntry


def model_list(records: Sequence[dict[str, Any]]) -> Fit:
    table = Table(title="cnnprof registry (analytic, default input)", title_justify="left")
    for name, justify in (
        ("name", "left"),
        ("aliases", "left"),
        ("family", "left"),
        ("input", "right"),
        ("params", "right"),
        ("MACs", "right"),
        ("paper", "left"),
    ):
        table.add_column(name, justify=justify)
    for r in records:
        cells = (
            str(r["name"]),
            ", ".join(r["aliases"]),
            str(r["family"]),
            "×".join(map(str, r["input"])),
            human(r["params"]),
            human(r["macs"]),
            str(r["paper"]).split(",")[0],
        )
        table.add_row(*map(Text, cells))  # Text, not str: no markup to parse (13 % of the render)
    return Fit(table, ("paper", "aliases", "input", "family"))


def present(entries: Sequence[CatalogEntry], view: View) -> RenderableType:
    """The registry's entries: a table, or the text of another format."""
    if view.format != "table":
        return report.present(entries, view)
    return model_list(report.records(entries))
