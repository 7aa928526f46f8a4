"""How `cnnprof latency` shows what it found: the view its options choose, refused where it
would show nothing, and the measurement or prediction as that view shows it, its rows summed
per op kind (`--by op`) or into modules (`--max-depth N`) as `count` sums them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnprof.cli.options import GroupBy, refuse, view_of
from cnnprof.report.view import View

if TYPE_CHECKING:
    from cnnprof.api.kinds import Source
    from cnnprof.results.latency import Measured, Predicted


def view(fmt: Any, sort: Any, layers: bool, top: int | None, by: Any, depth: int | None) -> View:
    """The view --format, --sort, --layers, --top, --by and --max-depth choose; refused where
    summing the timed rows cannot be done: a depth without --layers or beside --by op, a CSV
    of two tables."""
    chosen = view_of(fmt, sort, layers=layers, top=top, by_op=by is GroupBy.op, max_depth=depth)
    check_grouping(chosen)
    return chosen


def check_grouping(view: View) -> None:
    """Refuse a depth without --layers or beside --by op, and a CSV of two tables."""
    depth = view.max_depth
    if depth is not None and (depth < 1 or not view.layers or view.by_op):
        refuse(
            f"--max-depth {depth}",
            "sums the --layers rows into modules at most N ≥ 1 levels deep; give it "
            "with --layers (not --by)",
        )
    if view.format == "csv" and view.layers and view.by_op:
        refuse("--layers with --by op in CSV", "a CSV file holds one table: give one of them")


def refuse_for_runtimes(view: View, plot: bool) -> None:
    """Two runtimes interleaved give two whole-model timings and their ratio, nothing per row."""
    for name, present in (("--layers", view.layers), ("--by op", view.by_op), ("--plot", plot)):
        if present:
            refuse(f"{name} --runtime torch,onnxruntime", "give one runtime for per-row times")


def measured(found: Measured, view: View, source: Source) -> Any:
    """The measurement as ``view`` shows it; its timed rows summed per op kind (the count's
    kinds) or into modules when ``view`` asks."""
    from cnnprof.render import latency as render

    if not view.grouped or not found.timing.layers:  # no row timed: its notes say why
        return render.present(found, view)
    from cnnprof.render import latency_layers

    return latency_layers.present(found, view, source.profile().kind_by_path())


def predicted(found: Predicted, view: View, source: Source) -> Any:
    """The prediction as ``view`` shows it; its rows summed when ``view`` asks."""
    from cnnprof.render import latency as render

    if not view.grouped:
        return render.present_prediction(found, view)
    from cnnprof.render import latency_layers

    return latency_layers.present_prediction(found, view, source.profile().kind_by_path())
