"""The comparison tables on the terminal: `cnnprof compare` (metrics down, models across, a bar
under each value), `separable` and `sweep`. `present` draws a result's table and hands the other
formats to `report.tables`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from rich.console import RenderableType
from rich.table import Table

from cnnprof.render.common import Fit, bar, grid, group, note
from cnnprof.report import separable
from cnnprof.report import tables as report
from cnnprof.report.view import View
from cnnprof.results.metrics import Comparison
from cnnprof.results.tables import SeparableReport, Sweep


def comparison(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    ratios: Sequence[Sequence[float | None]],
    title: str,
) -> Fit:
    """Metrics down, models across; under each value a bar scaled to the largest in its row."""
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right")
    for cells, line in zip(rows, ratios, strict=True):
        known = [r for r in line if r is not None]
        top = max(known) if known else 0.0
        out = [cells[0]]
        for text, ratio in zip(cells[1:], line, strict=True):
            fill = bar(ratio / top, 12) if ratio is not None and top > 0 else ""
            out.append(f"{text}\n[cyan]{fill}[/cyan]")
        table.add_row(*out)
    return Fit(table)  # one column per model: none may leave; narrow, the names wrap


def _compare(result: Comparison, view: View) -> RenderableType:
    headers, rows, ratios = report.compare_grid(result)
    table = comparison(headers, rows, ratios, report.compare_title(result))
    return group(table, *map(note, report.compare_notes(result)))


# Columns of separable's tables that leave first on a narrow terminal (then the others, from the
# right): the counts, then the milliseconds, before the ratios they explain.
# fmt: off
SEPARABLE_DROP_FIRST: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "models": ("weights only", "params", "MACs", "pred. ms", "ms (p10–p90)"),
    "time": ("standard pred. ms", "separable pred. ms", "standard ms", "separable ms", "pw bound"),
})
# fmt: on


def _separable(result: SeparableReport, view: View) -> RenderableType:
    """The model and its twins (their time and ratios where known); with ``view.by_op`` each
    twin's rows per op kind, with ``view.layers`` every convolution both ways; the notes."""
    parts = []
    for name, title, headers, rows, left in separable.tables(result, view):
        first = [h for h in SEPARABLE_DROP_FIRST.get(name, ()) if h in headers]
        drop = first + [h for h in reversed(headers[left + 1 :]) if h not in first]
        parts.append(grid(title, headers, rows, left=left, drop=drop))
    return group(*parts, *map(note, separable.separable_notes(result, view)))


def _sweep(result: Sweep, view: View) -> RenderableType:
    """The grid of ``view.metric`` (two swept axes), every configuration's core columns (md,
    csv and json get them all), and the notes."""
    parts: list[RenderableType] = []
    words = report.sweep_title_words(result)  # the threads latency was measured at
    cells = report.sweep_grid(result.points, view.metric)
    if cells:
        parts.append(grid(f"{view.metric} per configuration{words}", *cells))
    parts.append(grid(f"every configuration{words}", *report.sweep_table(result, wide=False)))
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
