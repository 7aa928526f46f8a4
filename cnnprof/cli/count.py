"""`cnnprof list` and `cnnprof count`: parse, call the API, hand the result to render (which hands
text formats to report)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cnnprof.arch.multipliers import Multipliers
from cnnprof.cli.options import (
    ByOp,
    Counter,
    Force,
    Format,
    FormatOpt,
    GroupBy,
    MaxDepth,
    Model,
    Output,
    RunOptions,
    Sort,
    Top,
    check_output,
    emit,
    refuse,
    view_of,
    with_multipliers,
    with_run_options,
)
from cnnprof.errors import OptionError
from cnnprof.report.view import View

if TYPE_CHECKING:
    from cnnprof.api.request import Request


def list_models(
    pattern: Annotated[
        str | None, typer.Argument(help="Wildcard filter, e.g. 'resnet*' or 'mobile'.")
    ] = None,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
) -> None:
    """List the registry: name, aliases, family, params, MACs, paper.

    Params and MACs are at each model's default input."""
    from cnnprof.catalog import catalog
    from cnnprof.render.catalog import present

    entries = catalog(pattern)
    if pattern and not entries:
        raise OptionError(f"no model matches '{pattern}'; `cnnprof list` shows them all")
    emit(present(entries, View(format=fmt.value)), output, force)


Layers = Annotated[bool, typer.Option("--layers", "-l", help="Per-layer table.")]
Empirical = Annotated[
    bool, typer.Option("--empirical", "-e", help="Also count the real nn.Module; diff rows.")
]
Train = Annotated[
    str | None, typer.Option("--train", help="Cost of a training step: head, all or from:PATH.")
]
CounterOpt = Annotated[
    Counter,
    typer.Option("--counter", help="With --empirical: torch (meta device) or fvcore (CPU)."),
]
MeasureToo = Annotated[
    bool, typer.Option("--latency", help="Add measured latency on this CPU (random weights).")
]


@with_multipliers
@with_run_options
def count(
    model: Model,
    multipliers: Multipliers,
    run: RunOptions,
    layers: Layers = False,
    max_depth: MaxDepth = None,
    by: ByOp = None,
    empirical: Empirical = False,
    train: Train = None,
    counter: CounterOpt = Counter.torch,
    latency: MeasureToo = False,
    sort: Sort = None,
    top: Top = None,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
) -> None:
    view = view_of(fmt, sort, layers=layers, by_op=by is GroupBy.op, top=top, max_depth=max_depth)
    _refuse_depth(view, empirical)
    req = run.request(model, multipliers, train=train)
    _refuse_combinations(view, empirical, req.train, counter.value, latency)
    check_output(output, force)
    if req.train:
        content = _training(req, empirical, view)
    elif empirical:
        content = _cross_check(req, counter.value, view)
    else:
        content = _count(req, latency, view)
    emit(content, output, force)


def _refuse_depth(view: View, empirical: bool) -> None:
    depth = view.max_depth
    if depth is not None and (depth < 1 or not view.layers or empirical or view.by_op):
        refuse(
            f"--max-depth {depth}",
            "sums the --layers rows into modules at most N ≥ 1 levels deep; give it with "
            "--layers (not --empirical or --by)",
        )


def _refuse_combinations(
    view: View, empirical: bool, train: str | None, counter: str, latency: bool
) -> None:
    """Options that would do nothing together are refused, never dropped."""
    layers, grouped = view.layers, view.by_op
    if counter != "torch" and not empirical:
        refuse(f"--counter {counter}", "chooses the empirical counter; add --empirical")
    if train is not None and (layers or grouped or latency):
        given = "--layers" if layers else "--by" if grouped else "--latency"
        refuse(f"--train with {given}", "the training step is costed for the whole network")
    if train is not None and counter != "torch":
        refuse(f"--train with --counter {counter}", "the training step is counted on meta by torch")
    if empirical and (grouped or latency):
        given = "--by op" if grouped else "--latency"
        refuse(
            f"--empirical with {given}",
            "--empirical compares the two counts row by row (with --layers); count or "
            "measure without it",
        )
    if view.format == "csv" and layers and grouped:
        refuse("--layers with --by op in CSV", "a CSV file holds one table: give one of them")
    ordered = view.sort is not None or view.top is not None
    if ordered and (not (layers or grouped) or empirical or train):
        given = "--sort" if view.sort is not None else "--top"
        refuse(
            given,
            "orders the layer table of a count: add --layers or --by op (not with "
            "--empirical or --train)",
        )


def _count(req: Request, latency: bool, view: View) -> Any:
    """The count (and its measured latency with ``latency``: rows timed for --layers and
    --by op) as ``view`` shows it."""
    from cnnprof.api.count import profile_analytic
    from cnnprof.api.sources import resolve
    from cnnprof.render import profile as render

    source = resolve(req)
    profile = profile_analytic(source)
    timing = None
    if latency:
        from cnnprof.cli.measure import measure

        timing = measure(req, view.layers or view.by_op)
    return render.present(profile, view, timing, source.options)


def _cross_check(req: Request, counter: str, view: View) -> Any:
    from cnnprof.api.count import cross_check
    from cnnprof.render import profile as render
    from cnnprof.render.progress import spinner

    with spinner(f"counting {req.label} as it runs ({counter} counter)"):
        check = cross_check(req, counter)
    return render.present_cross_check(check, view)


def _training(req: Request, empirical: bool, view: View) -> Any:
    from cnnprof.api.count import measured_training, profile_analytic, training
    from cnnprof.render import profile as render

    profile = profile_analytic(req)
    cost = training(req, profile)
    measured = measured_training(req, cost) if empirical else None
    return render.present_training(profile, cost, measured, view)
