"""Charts for sweep and compare (matplotlib, an optional extra). Writes a file; prints nothing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cnnprof.errors import OptionError

FORMATS = (".png", ".svg")


def _pyplot():  # type: ignore[no-untyped-def]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise OptionError("--plot needs matplotlib: pip install 'cnnprof[plot]'") from None
    return plt


def check_path(path: Path, force: bool) -> None:
    if path.suffix.lower() not in FORMATS:
        raise OptionError(f"--plot {path}: expected a .png or .svg file name")
    if path.exists() and not force:
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
) -> None:
    """One point per model, the Pareto frontier joined and marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.scatter(x, y, color="#8a9bb0", zorder=2, label="configurations")
    front = sorted((xi, yi) for xi, yi, f in zip(x, y, frontier, strict=True) if f)
    if front:
        ax.plot(*zip(*front, strict=True), color="#d1495b", marker="o", zorder=3,
                label="Pareto frontier")  # fmt: skip
    for label, xi, yi in zip(labels, x, y, strict=True):
        ax.annotate(label, (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
    if log_x:
        from matplotlib.ticker import FormatStrFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as exc:
        raise OptionError(f"--plot {path}: cannot write: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
