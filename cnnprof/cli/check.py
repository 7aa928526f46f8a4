"""`cnnprof snapshot` and `cnnprof check`: baselines and budgets for CI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cnnprof.arch.reference import DEFAULT_TIMEOUT, parse_args
from cnnprof.cli.options import (
    Args,
    Batch,
    DeviceProfileOpt,
    Dtype,
    DtypeName,
    Force,
    Format,
    FormatOpt,
    InputOpt,
    Output,
    Timeout,
    check_output,
    emit,
    parse_input,
    refuse,
)
from cnnprof.render import check as render
from cnnprof.render import common
from cnnprof.report import check as report
from cnnprof.report.text import to_csv, to_json


def snapshot(
    models: Annotated[list[str], typer.Argument(help="Models or variant references.")],
    batch: Batch = 1,
    dtype: Dtype = DtypeName.float32,
    input: InputOpt = None,
    arg: Args = None,
    latency: Annotated[
        bool, typer.Option("--latency", help="Also record latency, device and thread count.")
    ] = False,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            help="With --latency: measure each model interleaved with this one and record the "
            "ratio of their latencies, which `check` compares (a slower runner slows both).",
        ),
    ] = None,
    device_profile: DeviceProfileOpt = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    output: Output = None,
    force: Force = False,
) -> None:
    """Write a versioned JSON baseline of each model's counts (for `cnnprof check`); --input
    and --arg go to the outside models and are recorded with them. --device-profile records
    the latency predicted for that device (predicted_ms, with the profile that made it), which
    `check` compares like a count."""
    from cnnprof.api import check as checks
    from cnnprof.api.latency import named_profile
    from cnnprof.cli.measure import machine

    check_output(output, force)
    if reference is not None and not latency:
        refuse("--reference", "it is the model latency is measured against; give --latency too")
    if reference is not None:
        checks.check_reference(reference, models)
    device = None if device_profile is None else named_profile(device_profile, dtype.value)
    measure = ratio = None
    if latency:
        here = machine("snapshot --latency")
        if reference is None:
            measure = lambda model, settings: here.measure(  # noqa: E731
                checks.entry_request(model, settings), "cpu"
            )
        else:
            ratio = lambda model, settings: checks.latency_ratio(  # noqa: E731
                here, model, settings, reference, "cpu"
            )
    baseline = checks.snapshot(models, batch, dtype.value, measure, args=parse_args(arg),
                              input=parse_input(input), timeout=timeout,
                              measure_ratio=ratio, device=device)  # fmt: skip
    emit(to_json(baseline), output, force)


def check(
    path: Annotated[Path, typer.Argument(help="A baseline .json (from snapshot) or budget .yaml.")],
    tolerance: Annotated[
        str,
        typer.Option("--tolerance", help="Growth allowed before failing: 0.005 or 0.5%."),
    ] = "0%",
    latency_tolerance: Annotated[
        str, typer.Option("--latency-tolerance", help="Latency growth allowed: 0.1 or 10%.")
    ] = "10%",
    update: Annotated[
        bool,
        typer.Option(
            "--update",
            help="Rewrite the baseline with today's figures (atomically, keeping each entry's "
            "settings and every other key); prints what changed.",
        ),
    ] = False,
    timeout: Timeout = DEFAULT_TIMEOUT,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
) -> None:
    """Recount every model in a baseline or budget file; exit 1 when any metric grew past it.
    Counts and latency predicted for a device profile (deterministic) are held to --tolerance;
    measured latency to --latency-tolerance, and only on the device and thread count it was
    recorded with."""
    from cnnprof.api import check as checks
    from cnnprof.cli.measure import machine

    allowed = checks.parse_tolerance(tolerance)
    allowed_latency = checks.parse_tolerance(latency_tolerance, "--latency-tolerance")
    check_output(output, force)
    notes: list[str] = []
    changes: list[str] = []
    results = checks.run_check(path, allowed, allowed_latency, machine, notes, update=update,
                              changes=changes, timeout=timeout)  # fmt: skip
    notes += report.measured_notes(results)
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
    if update:
        typer.echo(f"updated {path}: {len(changes) or 'no'} figure(s) changed", err=True)
        for line in changes:
            typer.echo(f"  {line}", err=True)
        return
    if any(not r.ok for r in results):
        raise typer.Exit(1)
