"""The comparison tables on the terminal: `cnnprof compare` (metrics down, models across, a bar
under each value), `separable` and `sweep`. `present` draws a result's table and hands the other
formats to `report.tables`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from rich.console import RenderableType
from rich.table import Table

from cnnprof.render.common import FirstFit, Importance, bar, grid, group, name_lines, note
from cnnprof.report import separable
from cnnprof.report import tables as report
from cnnprof.report.view import View
from cnnprof.results.metrics import Comparison
from cnnprof.results.tables import SeparableReport, Sweep

BAR = 12  # a comparison's bars: columns wide
NARROW_BAR = 8  # on a terminal too narrow for the table as it is


def comparison(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    ratios: Sequence[Sequence[float | None] | None],
    title: str,
) -> FirstFit:
    """Metrics down, models across; under each value a bar scaled to the largest in its row.
    One column per model, none may leave: narrow, each model's name breaks between its parts
    (never inside a word), then each ratio takes a line of its own over a shorter bar, then the
    models go in several tables, one under the other, as many in each as the width holds."""
    names = [headers[0], *map(name_lines, headers[1:])]
    models = len(headers) - 1
    return FirstFit(
        _comparison(headers, rows, ratios, title),
        _comparison(names, rows, ratios, title),
        _comparison(names, rows, ratios, title, narrow=True),
        split=[_split(names, rows, ratios, title, size) for size in range(models - 1, 0, -1)],
    )


def _split(
    names: Sequence[str],
    rows: Sequence[Sequence[str]],
    ratios: Sequence[Sequence[float | None] | None],
    title: str,
    size: int,
) -> list[Table]:
    """The comparison as tables of ``size`` models each (the metric column in every one), the
    bars still scaled to the largest value over all the models."""
    tables = []
    for start in range(1, len(names), size):
        part = slice(start, start + size)
        last, total = min(start + size, len(names)) - 1, len(names) - 1
        which = f"model {start}" if last == start else f"models {start}–{last}"
        cells = [[row[0], *row[part]] for row in rows]
        tables.append(
            _comparison(
                [names[0], *names[part]],
                cells,
                ratios,
                f"{title} · {which} of {total}",
                narrow=True,
                columns=(part.start - 1, part.stop - 1),
            )
        )
    return tables


def _comparison(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    ratios: Sequence[Sequence[float | None] | None],
    title: str,
    narrow: bool = False,
    columns: tuple[int, int] | None = None,
) -> Table:
    """One table of the comparison; ``columns``: the models' slice of each row of ``ratios``
    when the table shows only some of them (the bars scaled over all)."""
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right", no_wrap=i > 0)
    width = NARROW_BAR if narrow else BAR
    for cells, line in zip(rows, ratios, strict=True):
        if line is None:  # a row without ratios (a spread's, a flag's): no bars
            table.add_row(*cells)
            continue
        known = [r for r in line if r is not None]
        top = max(known) if known else 0.0
        out = [cells[0]]
        part = line[slice(*columns)] if columns else line
        for text, ratio in zip(cells[1:], part, strict=True):
            fill = bar(ratio / top, width) if ratio is not None and top > 0 else ""
            shown = text.replace(" (×", "\n(×") if narrow else text
            out.append(f"{shown}\n[cyan]{fill}[/cyan]")
        table.add_row(*out)
    return table


def _compare(result: Comparison, view: View) -> RenderableType:
    headers, rows, ratios = report.compare_grid(result)
    table = comparison(headers, rows, ratios, report.compare_title(result))
    return group(table, *map(note, report.compare_notes(result)))


# What separable's tables keep longest on a narrow terminal (the ratios, the separable MACs) and
# what leaves first (the counts and times the ratios come from, the paper's formula).
# fmt: off
SEPARABLE_IMPORTANCE: Mapping[str, Importance] = MappingProxyType({
    "models": Importance(
        answer=("fewer MACs", "faster", "faster pred."),
        context=("weights only", "params", "MACs", "pred. ms", "ms (p10–p90)"),
    ),
    "convolutions": Importance(
        answer=("separable MACs", "ratio"),
        context=("1/N + 1/k²", "separable params", "standard params", "output", "k",
                 "C_in→C_out", "standard MACs"),
    ),
    "time": Importance(
        answer=("faster", "faster pred.", "fewer MACs"),
        context=("standard pred. ms", "separable pred. ms", "standard ms", "separable ms",
                 "pw bound"),
    ),
})
# fmt: on


def _separable(result: SeparableReport, view: View) -> RenderableType:
    """The model and its twins (their time and ratios where known); with ``view.by_op`` each
    twin's rows per op kind, with ``view.layers`` every convolution both ways; the notes."""
    parts = []
    for name, title, headers, rows, left in separable.tables(result, view):
        importance = SEPARABLE_IMPORTANCE.get(name, Importance())
        parts.append(grid(title, headers, rows, left=left, importance=importance))
    return group(*parts, *map(note, separable.separable_notes(result, view)))


def _sweep(result: Sweep, view: View) -> RenderableType:
    """The grid of ``view.metric`` (two swept axes), every configuration's core columns (md,
    csv and json get them all), and the notes."""
    parts: list[RenderableType] = []
    words = report.sweep_title_words(result)  # the threads latency was measured at
    cells = report.sweep_grid(result.points, view.metric)
    if cells:
        parts.append(grid(f"{view.metric} per configuration{words}", *cells))
    headers, rows = report.sweep_table(result, wide=False)
    importance = Importance(report.sweep_answer(result), report.SWEEP_CONTEXT)
    parts.append(grid(f"every configuration{words}", headers, rows, importance=importance))
    overlap = report.indistinct_note(report.sweep_comparison(result.points))
    parts += [note(n) for n in (overlap, *report.sweep_notes(result)) if n]
    return group(*parts)


# Result type → its terminal table.
RENDERERS: Mapping[type, Callable[[Any, View], RenderableType]] = MappingProxyType(
    {Comparison: _compare, SeparableReport: _separable, Sweep: _sweep}
)


def present(result: Comparison | SeparableReport | Sweep, view: View) -> RenderableType | str:
    """``result`` as ``view.format``: the rich table here; JSON, CSV and Markdown from
    `report.tables.present`."""
    if view.format != "table":
        return report.present(result, view)
    return RENDERERS[type(result)](result, view)
