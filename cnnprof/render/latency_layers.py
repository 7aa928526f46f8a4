"""Rich renderables of `latency --by op` and `latency --max-depth N`: the timed (or predicted)
rows summed per op kind or into modules, under the latency's own summary. Presentation only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from cnnprof.render.common import Fit, bar, note
from cnnprof.render.latency import latency_view, prediction_view, predictors_caption
from cnnprof.report import latency_layers as report
from cnnprof.report.latency_layers import Kinds, base_view, group_cells, group_headers
from cnnprof.report.units import ms_short, percent_number
from cnnprof.report.view import View
from cnnprof.results.latency import Measured, Predicted

# The grouped table's columns leave in this order when the terminal is narrow.
GROUP_DROP = ("time", "kinds", "roofline ms", "% MACs", "rows")


def group_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Fit:
    """A grouped table: the group's cells left, the figures right-aligned, the bar of its
    share of time."""
    table = Table(title=title, title_justify="left", show_edge=False)
    for name in headers:
        if name == "time":
            table.add_column(name, no_wrap=True, style="cyan")
        elif name in ("op kind", "path", "kinds"):
            table.add_column(name, no_wrap=name != "kinds")
        else:
            table.add_column(name, justify="right", no_wrap=True)
    for cells in rows:
        table.add_row(*cells)
    return Fit(table, GROUP_DROP)


def _ms_or_dash(seconds: float | None) -> str:
    return "–" if seconds is None else ms_short(seconds)


def measured_table(measured: Measured, view: View, kinds: Kinds) -> list[RenderableType]:
    """The timed rows summed as ``view`` asks (the first ``view.top`` groups, and a line
    saying how much of the time they hold when that cuts them)."""
    timing, kernels, roofline = measured.timing, measured.kernels, measured.estimate
    every = report.measured_groups(measured, view, kinds)
    records, cut = report.shown(every, view, timing.layer_sum)
    rows = [
        (
            *group_cells(r),
            ms_short(r["measured_s"]),
            percent_number(r["time_share"]),
            percent_number(r["mac_share"]),
            bar(r["time_share"] or 0.0, 12),
            *([_ms_or_dash(r["predicted_s"])] if kernels else []),
            *([_ms_or_dash(r["roofline_s"])] if roofline else []),
        )
        for r in records
    ]
    headers = (*group_headers(view), "ms", "% time", "% MACs", "time")
    headers += ("predicted ms",) * (kernels is not None) + ("roofline ms",) * (roofline is not None)
    title = f"{report.group_title(view)} · per-row times summed, at batch {timing.batch}"
    return [
        group_table(title, headers, rows),
        *([note(cut)] if cut else []),
        *predictors_caption(kernels=kernels is not None, roofline=roofline is not None),
    ]


def present(measured: Measured, view: View, kinds: Kinds) -> RenderableType:
    """A measurement with its timed rows summed per op kind or into modules (``kinds``: each
    row's kind, by path): the summary, the per-row table with --layers and no --max-depth, the
    grouped table, the notes; a table, or the text of another format."""
    if view.format != "table":
        return report.present(measured, view, kinds)
    return Group(
        latency_view(measured, base_view(view)),
        *measured_table(measured, view, kinds),
        *map(note, measured.notes),
    )


def present_prediction(predicted: Predicted, view: View, kinds: Kinds) -> RenderableType:
    """A prediction for a device profile with its rows summed as ``view`` asks."""
    if view.format != "table":
        return report.present_prediction(predicted, view, kinds)
    rows = [
        (
            *group_cells(r),
            ms_short(r["predicted_s"]),
            percent_number(r["time_share"]),
            bar(r["time_share"] or 0.0, 12),
            _ms_or_dash(r["roofline_s"]),
        )
        for r in report.predicted_groups(predicted, view, kinds)
    ]
    headers = (*group_headers(view), "predicted ms", "% time", "time", "roofline ms")
    title = f"{report.group_title(view)} · predicted at batch {predicted.kernels.batch}"
    return Group(
        prediction_view(predicted, base_view(view)),
        group_table(title, headers, rows),
        *predictors_caption(kernels=True, roofline=True),
    )
