"""`cnnprof list` and `cnnprof count`: parse, call the API, hand the result to report or render."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cnnprof.arch.multipliers import Multipliers
from cnnprof.arch.reference import DEFAULT_TIMEOUT, parse_args, parse_params
from cnnprof.cli.options import (
    Args,
    Batch,
    Counter,
    Dtype,
    DtypeName,
    Force,
    Format,
    FormatOpt,
    GroupBy,
    InputOpt,
    MaxDepth,
    Model,
    Output,
    Params,
    Sort,
    Timeout,
    Top,
    check_output,
    emit,
    parse_input,
    refuse,
    with_multipliers,
)
from cnnprof.errors import OptionError
from cnnprof.render import common
from cnnprof.report.text import to_csv, to_json, to_markdown
from cnnprof.report.units import human

if TYPE_CHECKING:
    from cnnprof.api.request import Request
    from cnnprof.results.profile import CrossCheck


def list_models(
    pattern: Annotated[
        str | None, typer.Argument(help="Wildcard filter, e.g. 'resnet*' or 'mobile'.")
    ] = None,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
) -> None:
    """List the registry: name, aliases, family, params and MACs at the default input, paper."""
    from cnnprof.catalog import catalog

    records = [
        {**asdict(e), "aliases": list(e.aliases), "input": list(e.input)} for e in catalog(pattern)
    ]
    if pattern and not records:
        raise OptionError(f"no model matches '{pattern}'; `cnnprof list` shows them all")
    content: Any
    if fmt is Format.table:
        from cnnprof.render.catalog import model_list

        content = model_list(records)
    elif fmt is Format.json:
        content = to_json({"schema": "cnnprof.list/1", "models": records})
    elif fmt is Format.csv:
        flat = [{**r, "aliases": " ".join(r["aliases"]), "input": "x".join(map(str, r["input"]))}
                for r in records]  # fmt: skip
        content = to_csv(flat, list(records[0]) if records else ["name"])
    else:
        rows = [(r["name"], ", ".join(r["aliases"]), r["family"], human(r["params"]),
                 human(r["macs"]), r["paper"]) for r in records]  # fmt: skip
        content = to_markdown(("name", "aliases", "family", "params", "MACs", "paper"),
                              rows, right=3)  # fmt: skip
    emit(content, output, force)


@with_multipliers
def count(
    model: Model,
    multipliers: Multipliers,
    batch: Batch = 1,
    dtype: Dtype = DtypeName.float32,
    input: InputOpt = None,
    arg: Args = None,
    param: Params = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    layers: Annotated[bool, typer.Option("--layers", "-l", help="Per-layer table.")] = False,
    max_depth: MaxDepth = None,
    by: Annotated[GroupBy | None, typer.Option("--by", help="Group layers by op kind.")] = None,
    empirical: Annotated[
        bool, typer.Option("--empirical", "-e", help="Also count the real nn.Module; diff rows.")
    ] = False,
    train: Annotated[
        str | None,
        typer.Option("--train", help="Cost of a training step: head, all or from:PATH."),
    ] = None,
    counter: Annotated[
        Counter,
        typer.Option("--counter", help="With --empirical: torch (meta device) or fvcore (CPU)."),
    ] = Counter.torch,
    latency: Annotated[
        bool, typer.Option("--latency", help="Add measured latency on this CPU (random weights).")
    ] = False,
    sort: Sort = None,
    top: Top = None,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
) -> None:
    from cnnprof.api.count import cross_check
    from cnnprof.api.request import request
    from cnnprof.api.sources import resolve
    from cnnprof.cli.measure import measure
    from cnnprof.render import latency as render_latency
    from cnnprof.render import profile as render
    from cnnprof.render.progress import spinner
    from cnnprof.report import latency as report_latency
    from cnnprof.report import profile as report

    grouped = by is GroupBy.op
    if max_depth is not None and (max_depth < 1 or not layers or empirical or grouped):
        refuse(f"--max-depth {max_depth}", "sums the --layers rows into modules at most N ≥ 1 "
               "levels deep; give it with --layers (not --empirical or --by)")  # fmt: skip
    req = request(
        model, multipliers, batch=batch, dtype=dtype.value, input=parse_input(input),
        args=parse_args(arg), timeout=timeout, train=train, design=parse_params(param),
    )  # fmt: skip
    _refuse_combinations(layers, grouped, empirical, req.train, counter, latency, fmt)
    if ((sort is not None or top is not None) and not (layers or grouped)) or (
        (sort is not None or top is not None) and (empirical or req.train)
    ):
        given = "--sort" if sort is not None else "--top"
        refuse(given, "orders the layer table of a count: add --layers or --by op "
               "(not with --empirical or --train)")  # fmt: skip
    order = None if sort is None else sort.value
    check_output(output, force)
    if req.train:
        emit(_training(req, empirical, fmt), output, force)
        return
    if empirical:
        with spinner(f"counting {req.label} as it runs ({counter.value} counter)"):
            check = cross_check(req, counter.value)
        emit(_cross_check(check, fmt, layers), output, force)
        return
    source = resolve(req)
    profile = source.profile()
    by_depth = replace(profile, rows=tuple(profile.at_depth(max_depth))) if max_depth else profile
    published = source.published
    timing = measure(req, layers or grouped) if latency else None  # rows timed for --by op
    content: Any
    if fmt is Format.json:
        data = report.profile_dict(by_depth, layers, grouped, published, order, top)
        data["totals"] = report.totals(profile)  # summing rows into modules changes no total
        if timing is not None:
            data["latency"] = report_latency.summary_record(timing)
            if layers:
                data["latency"]["layers"] = report_latency.layer_records(timing)
        content = to_json(data)
    elif fmt is Format.csv:
        content = report.profile_csv(by_depth, layers, grouped, timing, order, top)
    elif fmt is Format.md:
        content = report.profile_markdown(by_depth, layers, grouped, published, order, top)
        if timing is not None:
            content += "\n" + report_latency.latency_markdown(timing)
    else:
        options = source.options
        title = f"{profile.model} · input {profile.input_text} · batch {batch}" + (
            f" · {options}" if options else ""
        )
        parts: list[Any] = [render.summary(profile, title, published)]
        if grouped:
            shown = report.shown_rows(profile, True, order, top)
            parts.append(render.layer_table(profile, shown, True))
        if layers:
            rows = report.shown_rows(by_depth, False, order, top)
            parts.append(render.layer_table(profile, rows))
        parts += render.notes(profile)
        if timing is not None:
            parts.append(render_latency.latency_view(timing, layers=layers))
        content = common.group(*parts)
    emit(content, output, force)


def _refuse_combinations(
    layers: bool, grouped: bool, empirical: bool, train: str | None, counter: Counter,
    latency: bool, fmt: Format,
) -> None:  # fmt: skip
    """Options that would do nothing together are refused, never dropped."""
    if counter is not Counter.torch and not empirical:
        refuse(f"--counter {counter.value}", "chooses the empirical counter; add --empirical")
    if train is not None and (layers or grouped or latency):
        given = "--layers" if layers else "--by" if grouped else "--latency"
        refuse(f"--train with {given}", "the training step is costed for the whole network")
    if train is not None and counter != "torch":
        refuse(f"--train with --counter {counter}", "the training step is counted on meta by torch")
    if empirical and (grouped or latency):
        given = "--by op" if grouped else "--latency"
        refuse(f"--empirical with {given}", "--empirical compares the two counts row by row "
               "(with --layers); count or measure without it")  # fmt: skip
    if fmt is Format.csv and layers and grouped:
        refuse("--layers with --by op in CSV", "a CSV file holds one table: give one of them")


def _training(req: Request, empirical: bool, fmt: Format) -> Any:
    from cnnprof.api.count import measured_training, training
    from cnnprof.api.sources import resolve
    from cnnprof.render import profile as render
    from cnnprof.report import profile as report

    profile = resolve(req).profile()
    cost = training(req, profile)
    measured = measured_training(req, cost) if empirical else None
    if fmt is Format.json:
        data = report.profile_dict(profile)
        data["training"] = report.training_dict(cost, measured)
        return to_json(data)
    lines = report.training_lines(cost, measured)
    if fmt is Format.table:
        title = f"{profile.model} · input {profile.input} · batch {profile.batch}"
        return common.group(render.summary(profile, title), render.training(lines, cost.mode))
    rows = [list(line) for line in lines]
    if fmt is Format.csv:
        return to_csv([dict(zip(("metric", "value", "note"), r, strict=True)) for r in rows],
                      ["metric", "value", "note"])  # fmt: skip
    return to_markdown(("metric", "value", "note"), rows)


def _cross_check(check: CrossCheck, fmt: Format, layers: bool) -> Any:
    from cnnprof.render import profile as render
    from cnnprof.report import profile as report

    if fmt is Format.table:
        view = render.cross_check(check)
        if not layers:
            return view
        table = render.row_comparison(report.row_comparison(check), check.analytic.batch)
        return common.group(view, table)
    if fmt is Format.json:
        data = report.cross_check_dict(check)
        if layers:
            data["layers"] = report.row_comparison(check)
        return to_json(data)
    if fmt is Format.csv:
        if layers:
            return to_csv(report.row_comparison(check), report.ROW_COMPARISON_COLUMNS)
        records = report.cross_check_records(check)
        return to_csv(records, list(records[0]))
    records = report.cross_check_records(check)
    text = to_markdown(tuple(records[0]), [tuple(r.values()) for r in records])
    return text + ("\n" + report.row_comparison_markdown(check) if layers else "")
