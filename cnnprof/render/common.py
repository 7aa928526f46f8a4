"""The pieces every renderable shares: share bars, plain grids, notes, groups, and the console
that prints them. Presentation only."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

BAR_WIDTH = 20


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar with eighth-block resolution."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + ("" if rest == 0 else " ▏▎▍▌▋▊▉"[rest])


def group(*items: RenderableType) -> Group:
    return Group(*items)


def note(text: str) -> Text:
    return Text(text, style="dim")


def grid(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> Table:
    """A plain table: the first ``left`` columns left-aligned, numbers right-aligned."""
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i < left else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table
