"""Rich renderables of counts: the summary panel, layer tables, the registry list, the
analytic-against-empirical check and the training step. Presentation only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cnnprof.arch.model import Published
from cnnprof.render.common import Fit, bar, note, panel_grid
from cnnprof.report import cross_check as checks
from cnnprof.report import profile as report
from cnnprof.report import training as report_training
from cnnprof.report.profile import kind_counts, kinds_cell, published_text
from cnnprof.report.profile import notes as note_lines
from cnnprof.report.units import exact, human, human_bytes, share
from cnnprof.report.view import View
from cnnprof.results.profile import CrossCheck, LayerCost, Profile

if TYPE_CHECKING:
    from cnnprof.results.timing import Timing
    from cnnprof.results.training import MeasuredStep, TrainingCost


def summary(profile: Profile, title: str = "", published: Published | None = None) -> Panel:
    """The headline panel of `cnnprof count`."""
    kinds = profile.params_by_kind
    cats = {k: v for k, v in profile.flops_by_category.items() if v}
    grid = panel_grid()
    grid.add_row(
        "params",
        human(profile.params),
        f"weights {human(kinds['weights'])} · biases {human(kinds['biases'])} · "
        f"norm {human(kinds['norm'])}; buffers {human(profile.buffers)} (not counted)",
    )
    grid.add_row("MACs", human(profile.macs), "conv + fc multiply-accumulates")
    grid.add_row(
        "FLOPs", human(profile.flops), " · ".join(f"{k} {human(v)}" for k, v in cats.items())
    )
    grid.add_row("parameter memory", human_bytes(profile.param_bytes), profile.dtype)
    grid.add_row(
        "peak activations",
        human_bytes(profile.peak_activation_bytes),
        f"inference, batch {profile.batch}; "
        + ("outputs " if profile.several_outputs else "output ")
        + profile.output_text,
    )
    if published is not None:
        grid.add_row("paper", published.source, published_text(published))
    heading = title or (
        f"{profile.model} · input {report.input_label(profile)} · batch {profile.batch}"
    )
    return Panel(grid, title=heading, title_align="left", subtitle=profile.source)


def notes(profile: Profile) -> list[Text]:
    """What is missing from a count (red), what eval skipped and where it ran (dim)."""
    return [
        Text(line, style="bold red") if line.startswith("INCOMPLETE") else note(line)
        for line in note_lines(profile)
    ]


# The layer table's columns leave in this order when the terminal is narrow (header names).
LAYER_DROP = ("", "% params", "input", "kernel", "op", "kinds", "rows", "% MACs", "output")


def layer_table(
    profile: Profile,
    rows: Sequence[LayerCost],
    grouped: bool = False,
    members: Mapping[str, Sequence[LayerCost]] | None = None,
) -> Fit:
    """Per-row costs with their input and output shapes and a bar for each row's share of MACs;
    rows summed to a depth (``members``) say how many rows each sums and their kinds (in place
    of op and kernel)."""
    b = profile.batch
    total_macs = profile.macs / b
    total_params = profile.params
    members = members or {}
    table = Table(
        title=("by op" if grouped else "layers") + f" · MACs at batch {b}",
        title_justify="left",
        show_edge=False,
    )
    table.add_column("op kind" if grouped else "path", no_wrap=True)
    if grouped or members:
        table.add_column("rows", justify="right")
    if members:
        table.add_column("kinds")
    elif not grouped:
        table.add_column("op")
        table.add_column("kernel", justify="right")
    if not grouped:
        table.add_column("input", justify="right", no_wrap=True)
        table.add_column("output", justify="right", no_wrap=True)
    for name in ("params", "% params", "MACs"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("% MACs", justify="right")
    table.add_column("", no_wrap=True, style="cyan")
    counts = kind_counts(profile) if grouped else {}
    for row in rows:
        cells = [row.path]
        if grouped:
            cells += [str(counts[row.path])]
        elif members:
            cells += [str(len(members[row.path])), kinds_cell(row, members)]
        else:
            cells += [row.op, row.kernel_text]
        if not grouped:
            cells += [str(row.in_shape), str(row.out_shape)]
        cells += [
            human(row.params),
            share(row.params, total_params),
            human(row.macs * b),
            share(row.macs, total_macs),
            bar(row.macs / total_macs if total_macs else 0.0),
        ]
        table.add_row(*cells)
    return Fit(table, LAYER_DROP)


def cut_note(line: str | None) -> list[Text]:
    """The line under a table ``--top`` cuts (none when it shows every row)."""
    return [] if line is None else [note(line)]


def cross_check(check: CrossCheck, limit: int = 10) -> Group:
    """The formula side (a spec's analytic count, an outside model's module walk) and the
    empirical count side by side, then the first rows that differ, and why FLOPs differ."""
    a, e, side = check.analytic, check.empirical, checks.side_label(check)
    table = Table(title=f"{a.model}: {side} vs empirical ({e.source})", title_justify="left")
    for name in ("metric", side, "empirical", "difference"):
        table.add_column(name, justify="left" if name == "metric" else "right")
    metrics = [
        ("params", a.params, e.params),
        ("MACs", a.macs, e.macs),
        ("FLOPs", a.flops, e.flops),
        ("buffers", a.buffers, e.buffers),
    ]
    for category in a.flops_by_category:
        left, right = a.flops_by_category[category], e.flops_by_category.get(category, 0)
        if left or right:
            metrics.append((f"  FLOPs {category}", left, right))
    for name, left, right in metrics:
        delta = "=" if left == right else f"{right - left:+,}"
        table.add_row(name, f"{left:,}", f"{right:,}", delta)
    parts: list[RenderableType] = [Fit(table)]
    diffs = check.differences
    if diffs:
        rows = Table(title=f"first rows that differ ({len(diffs)} in all)", title_justify="left")
        for name in ("row", "metric", "analytic", "empirical"):
            rows.add_column(name, justify="left" if name in ("row", "metric") else "right")
        for d in diffs[:limit]:
            rows.add_row(d.path, d.metric, exact(d.left), exact(d.right))
        parts.append(Fit(rows))
    parts += flop_gaps(check, limit)
    style = ("green" if check.complete else "yellow") if check.agree else "bold red"
    parts.append(Text(checks.verdict_line(check), style=style))
    parts += notes(e)
    if e.ignored:
        parts.append(note("ignored (no arithmetic): " + ", ".join(e.ignored)))
    if a.unsupported:
        parts.append(Text("no formula for: " + ", ".join(a.unsupported), style="yellow"))
    return Group(*parts)


def flop_gaps(check: CrossCheck, limit: int = 10) -> list[RenderableType]:
    """Why the FLOPs differ and the first rows where they do (none when they agree)."""
    line = checks.flop_gap_line(check)
    if line is None:
        return []
    records = checks.flop_gap_records(check)
    more = f" (the first {limit} of {len(records)})" if len(records) > limit else ""
    table = Table(show_edge=False)
    for name in ("row", "FLOPs", "where", checks.side_label(check), "empirical", "difference"):
        table.add_column(name, justify="left" if name in ("row", "FLOPs", "where") else "right")
    for record in records[:limit]:
        table.add_row(*checks.gap_cells(record))
    return [Text(line[:-1] + more + ":"), Fit(table)]


def training(lines: Sequence[tuple[str, str, str]], mode: str) -> Panel:
    grid = panel_grid()
    for label, value, comment in lines:
        grid.add_row(label, value, comment)
    return Panel(grid, title=f"training step · --train {mode}", title_align="left")


def row_comparison(records: Sequence[dict[str, Any]], batch: int, side: str = "analytic") -> Fit:
    """Every row counted both ways (``side``: the formula side's title); rows that differ in
    red."""
    table = Table(
        title=f"rows · {side} vs empirical · MACs at batch {batch}",
        title_justify="left",
        show_edge=False,
    )
    for name in ("path", "op", f"params {side}", "empirical", f"MACs {side}", "empirical ", ""):
        table.add_column(name.strip(), justify="left" if name in ("path", "op") else "right")
    for r in records:
        style = "" if r["agree"] else "bold red"
        *cells, mark = checks.comparison_cells(r)
        table.add_row(*cells, Text(mark, style=style or "green"), style=style)
    return Fit(table, ("op",))


def present(
    profile: Profile, view: View, timing: Timing | None = None, options: str = ""
) -> RenderableType:
    """A count as ``view`` shows it: the summary, the rows by op kind, the rows (summed to
    ``view.max_depth``), the notes, and ``timing``'s latency when measured; a table, or the
    text of another format. ``options`` (``alpha=0.5``) joins the title."""
    if view.format != "table":
        return report.present(profile, view, timing)
    title = f"{profile.model} · input {report.input_label(profile)} · batch {profile.batch}" + (
        f" · {options}" if options else ""
    )
    parts: list[RenderableType] = [summary(profile, title, profile.published)]
    if view.by_op:
        parts.append(layer_table(profile, report.shown_rows(profile, view, by_kind=True), True))
        parts += cut_note(report.cut_summary(profile, view, by_kind=True))
    if view.layers:
        summed = report.summed(profile, view.max_depth)
        members = report.depth_members(profile, view.max_depth)
        parts.append(layer_table(profile, report.shown_rows(summed, view), members=members))
        parts += cut_note(report.cut_summary(summed, view))
    parts += notes(profile)
    if timing is not None:  # imported only when measured: a count stays light
        from cnnprof.render.latency import latency_view
        from cnnprof.results.latency import Measured

        parts.append(latency_view(Measured.alone(timing), View(layers=view.layers)))
    return Group(*parts)


def present_cross_check(check: CrossCheck, view: View) -> RenderableType:
    """Analytic against empirical; every row both ways with ``view.layers``."""
    if view.format != "table":
        return checks.present_cross_check(check, view)
    shown = cross_check(check)
    if not view.layers:
        return shown
    records = checks.row_comparison(check)
    return Group(shown, row_comparison(records, check.analytic.batch, checks.side_label(check)))


def present_training(
    profile: Profile, cost: TrainingCost, measured: MeasuredStep | None, view: View
) -> RenderableType:
    """A training step's cost under the profile's summary panel."""
    if view.format != "table":
        return report_training.present(profile, cost, measured, view)
    title = f"{profile.model} · input {profile.input} · batch {profile.batch}"
    lines = report_training.training_lines(cost, measured)
    return Group(summary(profile, title), training(lines, cost.mode))
