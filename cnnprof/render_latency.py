"""Rich renderables, a progress bar and the roofline chart for `cnnprof latency` and
`cnnprof device`: presentation only, nothing here measures or computes a figure."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from cnnprof.analytic.roofline import Estimate, Roofs
from cnnprof.errors import OptionError
from cnnprof.render import bar
from cnnprof.report import human, human_bytes
from cnnprof.report_latency import fault_count, flop_size, layer_records, threads
from cnnprof.timing import Timing

if TYPE_CHECKING:
    from cnnprof.empirical.peaks import Peaks


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.3f}" if seconds < 0.1 else f"{seconds * 1e3:,.1f}"


def title(timing: Timing) -> str:
    t = timing
    layout = " · channels-last" if t.channels_last else ""
    return (
        f"{t.model} · {t.device_name} ({t.device}) · batch {t.batch} · {t.dtype} · "
        f"{threads(t.threads)}{layout}"
    )


def timing_line(timing: Timing) -> Text:
    """One line for `count --latency`: median, spread and throughput."""
    t = timing
    return Text(
        f"latency {ms(t.median)} ms (p10 {ms(t.p10)} · p90 {ms(t.p90)}, {t.runs} runs) · "
        f"{t.throughput:,.1f} images/s · {t.device_name}, {threads(t.threads)}, {t.dtype}"
    )


def summary(timing: Timing, estimate: Estimate | None = None) -> Panel:
    """The headline panel of `cnnprof latency`."""
    t = timing
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    grid.add_column(style="dim")
    warm = "stable" if t.warmup_stable else "not yet stable"
    grid.add_row("median", f"{ms(t.median)} ms", f"p10 {ms(t.p10)} · p90 {ms(t.p90)} ms")
    grid.add_row("spread", f"{100 * t.cv:.1f} % CV", f"IQR {ms(t.iqr)} ms")
    grid.add_row("runs", str(t.runs), f"after {t.warmup_runs} warm-up runs ({warm})")
    grid.add_row("throughput", f"{t.throughput:,.1f}", "images/s at the median")
    if t.macs:
        grid.add_row("MACs", human(t.macs), f"{t.macs / t.median / 1e9:,.1f} GMAC/s achieved")
    if estimate is not None:
        ratio = estimate.seconds / t.median
        grid.add_row(
            "roofline",
            f"{ms(estimate.seconds)} ms",
            f"{ratio:.2f}× the median; {100 * estimate.share_bound('memory'):.0f} % of it in "
            "memory-bound rows",
        )
    if t.page_faults is not None:
        cost = f", {ms(estimate.all_faults_s)} ms in the roofline" if estimate is not None else ""
        grid.add_row(
            "page faults",
            f"{t.page_faults:,.0f}",
            f"per run: fresh memory from the system{cost}",
        )
    if t.layer_ratio is not None:
        grid.add_row(
            "per-layer sum",
            f"{ms(t.layer_sum)} ms",
            f"{t.layer_ratio:.3f}× the median ({t.layer_runs} hooked runs; "
            f"{t.hook_overhead * 1e6:.2f} µs hook cost per row subtracted)",
        )
    if t.budget_hit:
        grid.add_row("budget", "reached", "the time budget stopped the runs early")
    return Panel(grid, title=title(t), title_align="left", subtitle=f"torch {t.torch_version}")


def layer_table(timing: Timing, estimate: Estimate | None = None) -> Table:
    """Per-row time with its share next to the share of MACs, and the roofline's view."""
    table = Table(
        title=f"layers · median of {timing.layer_runs} hooked runs at batch {timing.batch}",
        title_justify="left",
        show_edge=False,
    )
    table.add_column("path", no_wrap=True)
    table.add_column("op")
    for name in ("ms", "% time", "% MACs"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("time", no_wrap=True, style="cyan")
    for name in ("GMAC/s", "bytes", "FLOP/B"):
        table.add_column(name, justify="right", no_wrap=True)
    faulting = any(layer.page_faults for layer in timing.layers)
    if faulting:
        table.add_column("faults", justify="right", no_wrap=True)
    if estimate is not None:
        table.add_column("roofline ms", justify="right", no_wrap=True)
        table.add_column("bound", no_wrap=True)
    for r in layer_records(timing, estimate):
        cells = [
            r["path"],
            r["op"],
            ms(r["seconds"]),
            _percent(r["time_share"]),
            _percent(r["mac_share"]),
            bar(r["time_share"] or 0.0, 12),
            f"{r['gmacs_per_s']:,.1f}" if r["macs"] else "–",
            human_bytes(r["bytes"]),
            f"{r['intensity']:.1f}",
        ]
        if faulting:
            cells.append(fault_count(r["page_faults"]))
        if estimate is not None:
            bound = r["bound"] or ""
            cells += [
                "–" if r["predicted_seconds"] is None else ms(r["predicted_seconds"]),
                Text(bound, style="yellow" if bound == "memory" else "green"),
            ]
        table.add_row(*cells)
    return table


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f}"


def latency_view(timing: Timing, estimate: Estimate | None = None, layers: bool = True) -> Group:
    parts: list = [summary(timing, estimate)]
    if layers and timing.layers:
        parts.append(layer_table(timing, estimate))
    return Group(*parts)


def peaks_table(peaks: Peaks, cache: Path | None = None) -> Group:
    """What `cnnprof device` shows: the device's measured roofs."""
    p = peaks
    table = Table(
        title=f"{p.device_name} ({p.device}) · {p.dtype} · {threads(p.threads)} · "
        f"torch {p.torch_version}",
        title_justify="left",
    )
    table.add_column("metric")
    table.add_column("measured on")
    table.add_column("value", justify="right")
    table.add_row("peak compute", "large matmul, best size", f"{p.flops_per_s / 1e9:,.1f} GFLOP/s")
    for label, curve in p.conv_curves():
        for flops, rate in curve:
            table.add_row(label, flop_size(flops), f"{rate / 1e9:,.1f} GFLOP/s")
    for moved, rate in p.bandwidth:
        table.add_row("bandwidth", f"copy moving {human_bytes(moved)}", f"{rate / 1e9:,.1f} GB/s")
    for moved, rate in p.layout:
        table.add_row(f"{p.layout_kernel} reorder", f"NCHW moving {human_bytes(moved)}",
                      f"{rate / 1e9:,.1f} GB/s")  # fmt: skip
    table.add_row("page fault", "fresh memory from the system", f"{p.fault_s * 1e6:,.2f} µs")
    for kind, rate in p.byte_ceilings:
        table.add_row("kernel ceiling", _kernel(kind), f"{rate / 1e9:,.1f} GB/s")
    for kind, rate in p.flop_ceilings:
        table.add_row("kernel ceiling", _kernel(kind), f"{rate / 1e9:,.2f} GFLOP/s")
    for kind, seconds in p.op_overhead:
        table.add_row("per-op overhead", f"tiny {kind}", f"{seconds * 1e6:,.1f} µs")
    table.add_row("ridge point", "peak ÷ largest-copy bandwidth", f"{p.roofs().ridge:,.1f} FLOP/B")
    lines: list = [table]
    where = f"cached {cache}" if cache else "not cached"
    lines.append(Text(f"measured {p.measured_at}; {where}; --refresh remeasures", style="dim"))
    return Group(*lines)


def _kernel(kind: str) -> str:
    """'dwconv/channels_last' → 'dwconv 3×3, channels-last'."""
    name, _, layout = kind.partition("/")
    return f"{name} 3×3" + (f", {layout.replace('_', '-')}" if layout else "")


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Callable[[str, float], None]]:
    """A transient bar on stderr while measuring (nothing when stderr is not a terminal); yields
    the ``progress(stage, fraction)`` callback the measuring code calls."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda stage, fraction: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=1.0)

        def update(stage: str, fraction: float) -> None:
            progress.update(task, description=f"{label} · {stage}", completed=fraction)

        yield update


def check_plot(path: Path, force: bool) -> None:
    """Fail before measuring when the chart could not be written."""
    from cnnprof.plot import check_path

    check_path(path, force)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise OptionError(
            "--plot needs matplotlib, which is not installed: pip install 'cnnprof[plot]'"
        ) from None


OP_COLOURS = {"dwconv": "tab:orange", "conv": "tab:blue", "fc": "tab:green", "se": "tab:purple"}


def roofline_chart(timing: Timing, roofs: Roofs, path: Path) -> None:
    """Arithmetic intensity against achieved FLOP/s, one point per timed row, with the device's
    compute roof and its memory roofs (largest copy, and a 1 MiB copy held in cache) as lines."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 5.5), layout="constrained")
    axes = figure.add_subplot()
    points = [layer for layer in timing.layers if layer.seconds > 0 and layer.flops > 0]
    intensities = [p.intensity for p in points] or [1.0]
    low, high = min(intensities) / 2, max(max(intensities) * 2, roofs.ridge * 4)
    xs = [low * (high / low) ** (i / 100) for i in range(101)]
    peak = roofs.flops_per_s / 1e9
    depthwise = roofs.op_bytes_ceiling("dwconv", timing.channels_last)
    for rate, name, style, colour in (
        (roofs.dram_bytes_per_s, "memory roof (largest copy)", "-", "black"),
        (roofs.cache_bytes_per_s, "cache roof (copy of 1 MiB)", ":", "black"),
        (depthwise, "depthwise kernel ceiling", "--", OP_COLOURS["dwconv"]),
    ):
        if rate:
            axes.plot(xs, [min(peak, rate * x / 1e9) for x in xs], style, color=colour,
                      label=f"{name}: {rate / 1e9:,.1f} GB/s")  # fmt: skip
    axes.axhline(peak, color="grey", linewidth=0.8, label=f"compute roof: {peak:,.0f} GFLOP/s")
    total = sum(p.seconds for p in points) or 1.0
    for op, colour in OP_COLOURS.items():
        chosen = [p for p in points if p.op == op]
        if chosen:
            axes.scatter(
                [p.intensity for p in chosen],
                [p.gflops_per_s for p in chosen],
                s=[20 + 600 * p.seconds / total for p in chosen],
                color=colour, alpha=0.7, label=op,
            )  # fmt: skip
    others = [p for p in points if p.op not in OP_COLOURS]
    if others:
        axes.scatter([p.intensity for p in others], [p.gflops_per_s for p in others],
                     s=20, color="tab:gray", alpha=0.7, label="other")  # fmt: skip
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("arithmetic intensity (FLOPs per byte moved)")
    axes.set_ylabel("achieved GFLOP/s")
    axes.set_title(f"{title(timing)}\npoint area ∝ share of time", fontsize=9)
    axes.grid(True, which="both", linewidth=0.3)
    axes.legend(fontsize=8, loc="lower right")
    try:
        figure.savefig(path)
    except OSError as exc:
        raise OptionError(f"--plot {path}: cannot write: {exc.strerror or exc}") from None
