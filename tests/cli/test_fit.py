"""A table's natural width from its cells (`Fit.natural`) is the width rich measures: the piped
output of a command is laid out at it, so a difference of one column would change the output."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cnnprof.render.common import UNBOUNDED, Fit, grid, natural_width


def _measured(fit: Fit) -> int:
    console = Console(file=io.StringIO())
    return console.measure(fit.table, options=console.options.update_width(UNBOUNDED)).maximum


def _tables() -> list[Fit]:
    from cnnprof.catalog import catalog
    from cnnprof.render import catalog as render_catalog
    from cnnprof.report.view import View

    registry = render_catalog.present(catalog(None), View())
    wide = Table(title="t")
    wide.add_column("name")
    wide.add_column("value", justify="right")
    wide.add_row(Text("a two-line\ncell"), "12,345")
    wide.add_row("×3 wide ✓", Text("1.5 M"))
    return [
        registry,
        grid("g", ("model", "params", "MACs"), [("vgg16", "138.36 M", "15.47 G")]),
        Fit(wide),
    ]


@pytest.mark.parametrize("fit", _tables(), ids=["list", "grid", "mixed cells"])
def test_the_natural_width_is_rich_s(fit: Fit):
    assert fit.natural() == _measured(fit)
    assert natural_width(Console(file=io.StringIO()), fit) == _measured(fit)


def test_a_cell_rich_would_rewrite_leaves_the_measuring_to_rich():
    table = Table()
    table.add_column("name")
    table.add_row("[bold]markup[/bold]")
    assert Fit(table).natural() is None
    emoji = Table()
    emoji.add_column("name")
    emoji.add_row("a :smile: b")
    assert Fit(emoji).natural() is None
