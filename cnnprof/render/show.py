"""`cnnprof.show(result)`: any result the API returns, drawn by the presenter its command uses,
so that a script or a notebook prints the table the CLI prints (the same code, no second
renderer). The CLI's display options (--layers, --by, --sort, --top, --max-depth, --metric,
--format) are its keywords."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import IO, Any

from rich.console import Console, RenderableType

from cnnprof.errors import OptionError
from cnnprof.render import check, latency, profile, tables
from cnnprof.report.text import to_json
from cnnprof.report.view import FORMATS, View
from cnnprof.results.check import CheckReport
from cnnprof.results.interleaved import LatencyRatio
from cnnprof.results.latency import Measured, Predicted
from cnnprof.results.metrics import METRICS, Comparison
from cnnprof.results.profile import CrossCheck, Profile
from cnnprof.results.tables import SeparableReport, Sweep
from cnnprof.results.timing import Timing

Presenter = Callable[[Any, View], RenderableType | str]

# A result's type → its command's presenter (a snapshot, a mapping, is its JSON, as the CLI
# prints it).
PRESENTERS: Mapping[type, Presenter] = MappingProxyType(
    {
        Profile: lambda p, view: profile.present(p, view, None, p.given),
        CrossCheck: profile.present_cross_check,
        Comparison: tables.present,
        SeparableReport: tables.present,
        Sweep: tables.present,
        Timing: lambda t, view: latency.present(Measured.alone(t), view),
        Predicted: latency.present_prediction,
        LatencyRatio: latency.present_runtimes,
        CheckReport: check.present,
    }
)


# A result's type → the display keywords its command takes; any other one given is refused, as
# the CLI refuses an option its command does not have (never silently ignored).
DISPLAY: Mapping[type, frozenset[str]] = MappingProxyType(
    {
        Profile: frozenset({"layers", "by", "sort", "top", "max_depth"}),
        CrossCheck: frozenset({"layers"}),
        Comparison: frozenset(),
        SeparableReport: frozenset({"layers", "by"}),
        Sweep: frozenset({"metric"}),
        Timing: frozenset({"layers", "sort", "top"}),
        Predicted: frozenset({"layers"}),
        LatencyRatio: frozenset(),
        CheckReport: frozenset(),
    }
)
ROW_OPTIONS = ("sort", "top", "max_depth")  # shape the layer rows: need layers=True (or by="op")


def _refuse_unshown(result: Any, given: Mapping[str, Any]) -> None:
    """An `OptionError` for a display keyword ``result``'s table has no use for."""
    takes = DISPLAY.get(type(result), frozenset())
    unused = sorted(name for name in given if name not in takes)
    if unused:
        kind = type(result).__name__
        shown = ", ".join(sorted(takes)) or "none"
        raise OptionError(f"show: a {kind} takes no {', '.join(unused)} (it takes: {shown})")
    rows = [name for name in ROW_OPTIONS if name in given]
    if rows and not given.get("layers") and "by" not in given:
        raise OptionError(f"show: {', '.join(rows)} shape the layer rows: add layers=True")


def rendered(result: Any, view: View) -> RenderableType | str:
    """``result`` as its command presents it in ``view``."""
    if isinstance(result, Mapping):
        return to_json(dict(result))
    presenter = PRESENTERS.get(type(result))
    if presenter is None:
        known = ", ".join(kind.__name__ for kind in PRESENTERS)
        raise OptionError(f"show: no table for {type(result).__name__} (it shows {known})")
    return presenter(result, view)


def show(
    result: Any,
    *,
    width: int | None = None,
    format: str = "table",
    layers: bool | None = None,
    by: str | None = None,
    sort: str | None = None,
    top: int | None = None,
    max_depth: int | None = None,
    metric: str = "macs",
    file: IO[str] | None = None,
) -> None:
    """Print ``result`` as the CLI prints it, at ``width`` columns (default: the terminal's,
    else ``COLUMNS``, else 80), to ``file`` as plain text (default: stdout, where a terminal
    or a notebook shows colour). The other keywords are the CLI's display options by their
    names (``layers`` not given: a timing's rows when it has them, as `cnnprof latency
    --layers` shows them)."""
    if by not in (None, "op"):
        raise OptionError(f"by={by!r}: expected 'op'")
    if isinstance(result, (Timing, Predicted)) and (by is not None or max_depth is not None):
        raise OptionError(
            "show: a latency's rows are summed by the count's rows, which it does not carry; "
            "`cnnprof latency MODEL --by op` or `--max-depth N` shows them"
        )
    if layers is None:
        layers = isinstance(result, Timing) and bool(result.layers)
    given = {"layers": layers, "by": by, "sort": sort, "top": top, "max_depth": max_depth}
    given = {name: value for name, value in given.items() if value not in (None, False)}
    if metric != "macs":
        given["metric"] = metric
    if not isinstance(result, Mapping):
        _refuse_unshown(result, given)
    if format not in FORMATS:
        raise OptionError(f"format={format!r}: expected one of {', '.join(FORMATS)}")
    if metric not in METRICS:
        raise OptionError(f"metric={metric!r}: expected one of {', '.join(METRICS)}")
    shown = View(format, layers, by is not None, sort, top, max_depth, metric)
    content = rendered(result, shown)
    out = file or sys.stdout
    if isinstance(content, str):
        out.write(content)
    else:
        _console(out, width, plain=file is not None).print(content)


def _console(out: IO[str], width: int | None, plain: bool) -> Console:
    """Rich's console for ``out``; ``plain``: text alone, no colour, and never the notebook's
    own display (which would show the table itself rather than give its text)."""
    if not plain:
        return Console(file=out, width=width, highlight=False)
    return Console(file=out, width=width, highlight=False, color_system=None, force_jupyter=False)


def text(result: Any, width: int | None = None) -> str:
    """``result``'s table as plain text: what IPython and Jupyter display."""
    buffer = io.StringIO()
    show(result, width=width, file=buffer)
    return buffer.getvalue()
