"""Charts: model scatter plots for sweep and compare, the roofline of a latency measurement.
matplotlib is an optional extra, imported here and nowhere else. Writes a file; prints nothing."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cnnprof.files as files
from cnnprof.errors import MissingExtra, OptionError
from cnnprof.report.titles import timing_title
from cnnprof.results.device import Roofs
from cnnprof.results.metrics import METRICS, Comparison, frontier_cost, value
from cnnprof.results.tables import Sweep
from cnnprof.results.timing import Timing

FORMATS = (".png", ".svg", ".pdf")


def _pyplot():  # type: ignore[no-untyped-def]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingExtra.of("matplotlib", "--plot") from None
    return plt


def require_matplotlib() -> None:
    """Fail before any work when matplotlib is not installed: looked for, not imported (a second
    or so), so that --plot never ends after the table was computed and printed."""
    if importlib.util.find_spec("matplotlib") is None:
        raise MissingExtra.of("matplotlib", "--plot")


def check_path(path: Path, force: bool, output: Path | None = None) -> None:
    """Fail before any work when the chart could not go to ``path`` (``output``: the text's
    file, which the chart must not replace)."""
    if output is not None and os.path.abspath(output) == os.path.abspath(path):
        raise OptionError(f"--plot {path} and --output {output}: the same file; name two files")
    if path.suffix.lower() not in FORMATS:
        raise OptionError(f"--plot {path}: expected a .png, .svg or .pdf file name")
    folder = path.absolute().parent
    if not folder.is_dir():
        raise OptionError(f"--plot {path}: cannot write: no folder {folder}")
    if files.exists(path, "--plot") and not force:
        raise OptionError(f"--plot {path}: the file exists; add --force to overwrite it")


def scatter(
    path: Path,
    labels: Sequence[str],
    x: Sequence[float],
    y: Sequence[float],
    frontier: Sequence[bool],
    x_label: str,
    y_label: str,
    title: str,
    log_x: bool = True,
    footnote: str = "",
) -> None:
    """One point per model, the Pareto frontier joined and marked; ``footnote`` under the axes
    (the models left out, and why)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=120)
    ax.scatter(x, y, color="#8a9bb0", zorder=2, label=f"models ({len(x)})")
    ax.margins(x=0.08, y=0.14)
    front = sorted((xi, yi) for xi, yi, f in zip(x, y, frontier, strict=True) if f)
    if front:
        ax.plot(
            *zip(*front, strict=True),
            color="#d1495b",
            marker="o",
            zorder=3,
            label="Pareto frontier",
        )
    _label_points(ax, labels, x, y)
    if log_x:
        _plain_log_x(ax, plt)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if footnote:
        fig.text(0.01, 0.01, footnote, fontsize=7, wrap=True, color="#555555")
    fig.tight_layout(rect=(0, 0.04 if footnote else 0, 1, 1))
    try:
        with files.replacing(path, "--plot") as fh:
            fig.savefig(fh, format=path.suffix.lower()[1:])
    finally:
        plt.close(fig)


def _label_points(ax: Any, labels: Sequence[str], x: Sequence[float], y: Sequence[float]) -> None:
    """Labels alternate above and below their points, shifted further when a neighbour is close,
    so that labels of nearby points do not overprint each other."""
    for i, (label, xi, yi) in enumerate(
        sorted(zip(labels, x, y, strict=True), key=lambda t: (t[1], t[2]))
    ):
        dy = (6 + 8 * (i % 3)) * (1 if i % 2 == 0 else -1)
        ax.annotate(
            label,
            (xi, yi),
            textcoords="offset points",
            xytext=(5, dy),
            fontsize=7,
            va="center",
            arrowprops={"arrowstyle": "-", "color": "#bbbbbb", "lw": 0.5},
        )


def _plain_log_x(ax: Any, plt: Any) -> None:
    """A log x axis whose major ticks read as plain numbers; minor ticks unlabelled (labelled,
    they ran together as "500600700800900")."""
    from matplotlib.ticker import LogLocator, ScalarFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    formatter = ScalarFormatter()
    formatter.set_scientific(False)
    ax.xaxis.set_major_formatter(formatter)
    ax.xaxis.set_minor_formatter(plt.NullFormatter())


def models_chart(path: Path, result: Comparison | Sweep) -> None:
    """A comparison's models or a sweep's points, with their Pareto frontier where marked, as a
    `scatter`: cost (MACs, or the cost the frontier takes) against published top-1 when at least
    half of them have one (the others listed under the chart), else against params, every
    model drawn."""
    columns = list(result.columns)
    frontier, cost, what = _framing(result)
    names = {c.label.partition("@")[0] for c in columns}
    single = len(names) == 1
    labels = [c.label.partition("@")[2] or c.label if single else c.label for c in columns]
    known = [i for i, c in enumerate(columns) if c.top1 is not None]
    if 2 * len(known) < len(columns):  # fewer than half published: params, every model drawn
        known = []
    y_key = "top1" if known else "params"
    chosen = known or list(range(len(columns)))
    unplotted = [labels[i] for i in range(len(columns)) if i not in chosen]
    in_ms = METRICS[cost].unit == "ms"  # a latency, measured or predicted; else a count
    scale = 1.0 if in_ms else 1e6
    xs = [(value(columns[i], cost) or 0.0) / scale for i in chosen]
    ys = [(value(columns[i], y_key) or 0.0) / (1.0 if known else 1e6) for i in chosen]
    x_label = METRICS[cost].title if in_ms else f"{METRICS[cost].title} (millions)"
    y_label = "published top-1 (%)" if known else "params (millions)"
    footnote = ("no published top-1, not drawn: " + ", ".join(unplotted)) if unplotted else ""
    scatter(
        path,
        [labels[i] for i in chosen],
        xs,
        ys,
        [frontier[i] for i in chosen],
        x_label,
        y_label,
        f"{what}: {y_label} against {x_label}",
        footnote=footnote,
    )


def _framing(result: Comparison | Sweep) -> tuple[list[bool], str, str]:
    """A chart's Pareto flags, its cost metric and what its title names (a comparison's: MACs
    and no flags, unless --pareto marked them on a cost)."""
    if isinstance(result, Sweep):
        return [p.pareto for p in result], frontier_cost(result), f"sweep {result.label}"
    flags = [flag is True for flag in result.pareto()]
    return flags, result.pareto_by or "macs", "compare"


def check_plot(path: Path, force: bool, output: Path | None = None) -> None:
    """Fail before measuring when the chart could not be written."""
    check_path(path, force, output)
    _pyplot()


OP_COLOURS = {"dwconv": "tab:orange", "conv": "tab:blue", "fc": "tab:green", "se": "tab:purple"}


def roofline_chart(timing: Timing, roofs: Roofs, path: Path) -> None:
    """Arithmetic intensity against achieved FLOP/s, one point per timed row, with the device's
    compute roof and its memory roofs (largest copy, and a 1 MiB copy held in cache) as lines."""
    _pyplot()
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
            axes.plot(
                xs,
                [min(peak, rate * x / 1e9) for x in xs],
                style,
                color=colour,
                label=f"{name}: {rate / 1e9:,.1f} GB/s",
            )
    axes.axhline(peak, color="grey", linewidth=0.8, label=f"compute roof: {peak:,.0f} GFLOP/s")
    total = sum(p.seconds for p in points) or 1.0
    for op, colour in OP_COLOURS.items():
        chosen = [p for p in points if p.op == op]
        if chosen:
            axes.scatter(
                [p.intensity for p in chosen],
                [p.gflops_per_s for p in chosen],
                s=[20 + 600 * p.seconds / total for p in chosen],
                color=colour,
                alpha=0.7,
                label=op,
            )
    others = [p for p in points if p.op not in OP_COLOURS]
    if others:
        axes.scatter(
            [p.intensity for p in others],
            [p.gflops_per_s for p in others],
            s=20,
            color="tab:gray",
            alpha=0.7,
            label="other",
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("arithmetic intensity (FLOPs per byte moved)")
    axes.set_ylabel("achieved GFLOP/s")
    axes.set_title(f"{timing_title(timing)}\npoint area ∝ share of time", fontsize=9)
    axes.grid(True, which="both", linewidth=0.3)
    axes.legend(fontsize=8, loc="lower right")
    with files.replacing(path, "--plot") as fh:
        figure.savefig(fh, format=path.suffix.lower()[1:])
