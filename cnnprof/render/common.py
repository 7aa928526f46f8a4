"""The pieces every renderable shares: share bars, plain grids, notes, groups, and the console
that prints them. Presentation only."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.errors import MarkupError
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Column, Table
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


def panel_grid() -> Table:
    """The three columns of a headline panel: a label (bold), its figure (right-aligned) and
    what the figure means (dim)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    return table


@dataclass(frozen=True)
class Importance:
    """How much a table's columns matter on a narrow terminal, by header: the ``answer``
    columns stay (none of them in the table: the one after the names), the ``context`` ones
    leave first (least important first), then the others from the right. The names (the first
    ``left`` columns) always stay; what still does not fit wraps."""

    answer: tuple[str, ...] = ()
    context: tuple[str, ...] = ()

    def drop_order(self, headers: Sequence[str], left: int) -> list[str]:
        """The columns of ``headers`` in the order they leave a table too wide for the width."""
        kept = [h for h in self.answer if h in headers[left:]] or headers[left : left + 1]
        first = [h for h in self.context if h in headers[left:] and h not in kept]
        rest = [h for h in reversed(headers[left:]) if h not in first and h not in kept]
        return first + rest


def grid(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    left: int = 1,
    importance: Importance = Importance(),
) -> Fit:
    """A plain table: the first ``left`` columns left-aligned, numbers right-aligned. When the
    terminal is narrow its columns leave by ``importance``, the answer kept."""
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i < left else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return Fit(table, importance.drop_order(headers, left))


# Wider than any table cnnprof draws: measuring at this width gives a table's natural width.
UNBOUNDED = 100_000


def natural_width(console: Console, renderable: RenderableType) -> int:
    """The columns ``renderable`` takes when nothing limits it."""
    if isinstance(renderable, Fit) and (width := renderable.natural()) is not None:
        return width
    return console.measure(renderable, options=console.options.update_width(UNBOUNDED)).maximum


class Fit:
    """A table that fits the width it is drawn at: it leaves out its low-value columns, in the
    order ``drop`` names them (by header), until it fits, and says which it left out; whatever
    is still too wide wraps onto more lines (never cut with '…'), so a name, a path or a number
    is always shown whole. Rich measures and wraps; this only chooses the columns."""

    def __init__(self, table: Table, drop: Sequence[str] = ()) -> None:
        self.table = table
        self.drop = tuple(drop)
        self._natural: int | None = None  # the whole table's width, once measured

    def natural(self) -> int | None:
        """The table's natural width from its cells' widths, as rich measures a table of plain
        cells (widest cell + padding per column, the rules and edges), without rich's own pass
        over every cell; None for a table laid out any other way (rich measures that)."""
        table = self.table
        plain = (
            table.box is not None
            and table.show_edge
            and table.pad_edge
            and not table.collapse_padding
            and not table.show_footer
            and table.width is None
            and table.min_width is None
            and table.padding == (0, 1, 0, 1)
            and all(c.width is None and c.min_width is None for c in table.columns)
            and all(c.max_width is None for c in table.columns)
            and table.show_header
            and all(_plain(cell) for c in table.columns for cell in (c.header, *c.cells))
        )
        if not plain:
            return None
        columns = table.columns
        self._natural = sum(_column_width(c) + 2 for c in columns) + len(columns) + 1
        return self._natural

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        measured = Measurement.get(console, options, self.table)
        if options.max_width >= UNBOUNDED:
            self._natural = measured.maximum
        return measured

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator:
        table, left_out = self.table, []
        wide = options.update_width(UNBOUNDED)
        width = self._natural or console.measure(table, options=wide).maximum
        for header in self.drop:
            if width <= options.max_width:
                break
            column = next((c for c in table.columns if c.header == header), None)
            if column is None:  # not in this table: nothing to leave out, nothing to say
                continue
            # a column's cells are plain text: leaving it out saves its widest cell, its padding
            # and a rule; rich measures and folds the table it is finally given
            width -= _column_width(column) + 3
            table = _without(table, header)
            left_out.append(header or "bar")
        # a table drawn at its natural width or wider wraps nothing: rich's folding pass is skipped
        fits = not left_out and width <= options.max_width
        yield table if fits else _folding(table)
        if left_out:
            yield note(
                f"left out at {options.max_width} columns: {', '.join(left_out)} "
                "(a wider terminal, COLUMNS=N or --format shows them)"
            )


class FirstFit:
    """The first of ``layouts`` (plain tables, widest first) that fits the width it is drawn
    at, its wrapping columns wrapped between words; when none fits, the first ``split`` (each a
    list of tables drawn one under the other, fewer columns each) whose tables all fit, else
    the last layout as a `Fit` (folded). Piped, it takes the first one's width."""

    def __init__(self, *layouts: Table, split: Sequence[Sequence[Table]] = ()) -> None:
        self.layouts = layouts
        self.split = split

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.layouts[0])

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator:
        for table in self.layouts:
            if _narrowest(table) <= options.max_width:
                yield table
                return
        for tables in self.split:
            if all(_narrowest(table) <= options.max_width for table in tables):
                yield from tables
                return
        yield Fit(self.layouts[-1])


def _narrowest(table: Table) -> int:
    """The columns a plain table takes with its wrapping columns at their longest word and the
    others (``no_wrap``) at their widest line, the padding and rules included."""
    widths = [
        _column_width(c) if c.no_wrap else max(map(_word_len, (c.header, *c.cells)))
        for c in table.columns
    ]
    return sum(w + 3 for w in widths) + 1


def _word_len(cell: object) -> int:
    """Terminal cells of a table cell's longest word."""
    return max((cell_len(word) for word in _text(cell).plain.split()), default=0)


class Titled:
    """A panel whose title and subtitle are never cut: on a terminal too narrow for one in the
    border, it wraps on lines of its own, the title above the panel, the subtitle below."""

    def __init__(self, body: RenderableType, title: str, subtitle: str | None = None) -> None:
        self.body, self.title, self.subtitle = body, title, subtitle

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self._panel(self.title, self.subtitle))

    def _panel(self, title: str | None, subtitle: str | None) -> Panel:
        return Panel(self.body, title=title, title_align="left", subtitle=subtitle)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator:
        room = options.max_width - 6  # the border's corners, a rule each side and a space each
        title = self.title if cell_len(self.title) <= room else None
        subtitle = self.subtitle if cell_len(self.subtitle or "") <= room else None
        if title is None:
            yield Text(self.title, style="bold")
        yield self._panel(title, subtitle)
        if self.subtitle and subtitle is None:
            yield note(self.subtitle)


# Where a model's name may break across the lines of a narrow header: after a comma or a slash,
# before an '@' or a ':', never inside a word.
NAME_BREAKS = re.compile(r"(?<=[,/])|(?=[@:])")


def name_lines(name: str) -> str:
    """``name`` on as many lines as its longest part needs, broken only where `NAME_BREAKS`
    allows: ``mobilenet`` / ``@alpha=0.5,`` / ``res=160``."""
    parts = [p for p in NAME_BREAKS.split(name) if p]
    width = max(map(len, parts), default=0)
    lines = [""]
    for part in parts:
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


def _column_width(column: Column) -> int:
    """The widest cell of ``column`` (its header included), in terminal cells."""
    cells = [column.header, *column.cells]
    return max(_cell_len(c) for c in cells)


def _plain(cell: object) -> bool:
    """A cell rich draws as its own characters: a Text, or a string with no markup or emoji
    code to replace."""
    return isinstance(cell, Text) or (isinstance(cell, str) and not any(c in cell for c in "[:"))


def _text(cell: object) -> Text:
    """A table cell as the text it shows (markup in a string is not shown)."""
    if isinstance(cell, str):
        try:
            return Text.from_markup(cell)
        except MarkupError:
            return Text(cell)
    return cell if isinstance(cell, Text) else Text(str(cell))


def _cell_len(cell: object) -> int:
    """Terminal cells of a table cell's widest line."""
    return max((line.cell_len for line in _text(cell).split("\n")), default=0)


def _without(table: Table, header: str) -> Table:
    out = copy.copy(table)
    kept = [c for c in table.columns if c.header != header]
    out.columns = [replace(c, _index=i) for i, c in enumerate(kept)]
    return out


def _folding(table: Table) -> Table:
    """Every column may wrap, folding a long word, instead of cutting it short."""
    out = copy.copy(table)
    out.columns = [replace(c, no_wrap=False, overflow="fold") for c in table.columns]
    return out
