"""`cnnprof snapshot` and `cnnprof check`: baselines and budgets for CI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cnnprof.cli.options import (
    Args,
    Batch,
    Dtype,
    DtypeName,
    Force,
    Format,
    FormatOpt,
    InputOpt,
    Output,
    emit,
    parse_input,
)
from cnnprof.errors import OptionError
from cnnprof.render import common
from cnnprof.render import guard as render
from cnnprof.report import guard as report
from cnnprof.report.text import to_csv, to_json
from cnnprof.spec.reference import parse_args


def snapshot(
    models: Annotated[list[str], typer.Argument(help="Models or variant references.")],
    batch: Batch = 1,
    dtype: Dtype = DtypeName.float32,
    input: InputOpt = None,
    arg: Args = None,
    latency: Annotated[
        bool, typer.Option("--latency", help="Also record latency, device and thread count.")
    ] = False,
    output: Output = None,
    force: Force = False,
) -> None:
    """Write a versioned JSON baseline of each model's counts (for `cnnprof check`); --input
    and --arg go to the outside models and are recorded with them."""
    from cnnprof.api import guard
    from cnnprof.cli.measure import machine

    measure = None
    if latency:
        here = machine("snapshot --latency")
        measure = lambda model: here.measure(model, "cpu")  # noqa: E731
    baseline = guard.snapshot(models, batch, dtype.value, measure, args=parse_args(arg),
                              input=parse_input(input))  # fmt: skip
    emit(to_json(baseline), output, force)


def check(
    path: Annotated[Path, typer.Argument(help="A baseline .json (from snapshot) or budget .yaml.")],
    tolerance: Annotated[
        str, typer.Option("--tolerance", help="Growth allowed before failing, e.g. 0.5%.")
    ] = "0%",
    latency_tolerance: Annotated[
        str, typer.Option("--latency-tolerance", help="Latency growth allowed, e.g. 10%.")
    ] = "10%",
    update: Annotated[
        bool, typer.Option("--update", help="Rewrite the baseline with today's counts.")
    ] = False,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
) -> None:
    """Recount every model in a baseline or budget file; exit 1 when any metric grew past it.
    Latency is compared only on the device and thread count it was recorded with."""
    from cnnprof.api import guard
    from cnnprof.cli.measure import machine

    notes: list[str] = []
    results = guard.run_check(
        path, guard.parse_tolerance(tolerance), guard.parse_tolerance(latency_tolerance),
        machine, notes,
    )  # fmt: skip
    if update:
        if path.suffix != ".json":
            raise OptionError("--update rewrites a baseline .json; edit a budget .yaml by hand")
        data = guard.read_baseline(path)
        models = [entry["model"] for entry in data["models"]]
        timed = any("latency" in entry for entry in data["models"])
        measure = None
        if timed:
            here = machine()
            measure = lambda model: here.measure(model, "cpu")  # noqa: E731
        path.write_text(to_json(guard.snapshot(models, measure_latency=measure)),
                        encoding="utf-8")  # fmt: skip
        typer.echo(f"updated {path}: {len(models)} models", err=True)
        return
    failed = [r for r in results if not r.ok]
    content: Any
    if fmt is Format.json:
        data = report.check_dict(results)
        data["notes"] = notes
        content = to_json(data)
    elif fmt is Format.csv:
        content = to_csv(report.check_records(results), report.CHECK_COLUMNS)
    elif fmt is Format.md:
        content = report.check_markdown(results) + "".join(f"\n> {n}\n" for n in notes)
    else:
        content = common.group(render.check_table(results, str(path)), *map(common.note, notes))
    emit(content, output, force)
    if failed:
        raise typer.Exit(1)
