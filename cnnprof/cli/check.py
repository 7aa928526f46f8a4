"""`cnnprof snapshot` and `cnnprof check`: baselines and budgets for CI."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

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
    Processes,
    Runtime,
    Threads,
    Timeout,
    check_output,
    emit,
    parse_input,
)
from cnnprof.render import check as render
from cnnprof.report import check as report
from cnnprof.report.text import to_json
from cnnprof.report.view import View
from cnnprof.results.check import CheckReport
from cnnprof.results.timing import DEFAULT_PROCESSES, TORCH, LatencySettings

# `check`'s exit codes besides 0 (every metric holds), 2 (bad input) and 3 (a bug in cnnprof).
GREW = 1  # a metric grew past its limit
FAILED_ENTRY = 2  # an entry's model failed (as bad input does); the other entries were checked
UNDECIDED = 4  # every failure a measured latency whose p10–p90 holds its limit: run it again

# The options only these two commands take.
Models = Annotated[list[str], typer.Argument(help="Models or variant references.")]
RecordLatency = Annotated[
    bool, typer.Option("--latency", help="Also record latency, device and thread count.")
]
Reference = Annotated[
    str | None,
    typer.Option(
        "--reference",
        help="With --latency: measure each model interleaved with this one and record the "
        "ratio of their latencies, which `check` compares (a slower runner slows both).",
    ),
]
CheckedFile = Annotated[
    Path, typer.Argument(help="A baseline .json (from snapshot) or budget .yaml.")
]
Tolerance = Annotated[
    str, typer.Option("--tolerance", help="Growth allowed before failing: 0.005 or 0.5%.")
]
LatencyTolerance = Annotated[
    str, typer.Option("--latency-tolerance", help="Latency growth allowed: 0.1 or 10%.")
]
Update = Annotated[
    bool,
    typer.Option(
        "--update",
        help="Rewrite the baseline with today's figures (atomically, keeping each entry's "
        "settings and every other key); prints what changed.",
    ),
]


def snapshot(
    models: Models,
    batch: Batch = 1,
    dtype: Dtype = DtypeName.float32,
    input: InputOpt = None,
    arg: Args = None,
    latency: RecordLatency = False,
    reference: Reference = None,
    device_profile: DeviceProfileOpt = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    output: Output = None,
    force: Force = False,
    runtime: Runtime = None,
    threads: Threads = None,
    processes: Processes = DEFAULT_PROCESSES,
) -> None:
    """Write a JSON baseline of models' counts, for `cnnprof check`.

    The baseline is versioned; --input and --arg go to the outside models and are recorded
    with them. --device-profile records the latency predicted for that device (predicted_ms,
    with the profile that made it), which `check` compares like a count.

    With --device-profile the runtime recorded (and measured, with --latency) is the
    profile's; a --runtime of another is refused."""
    from cnnprof.api.check import snapshot as take
    from cnnprof.api.latency import for_profile
    from cnnprof.cli.measure import machine, refuse_unmeasured

    check_output(output, force)
    refuse_unmeasured(latency, threads, processes)
    here = functools.partial(machine, "snapshot --latency", threads, processes) if latency else None
    baseline = take(
        models,
        batch=batch,
        dtype=dtype.value,
        args=parse_args(arg),
        input=parse_input(input),
        timeout=timeout,
        machine=here,
        reference=reference,
        device_profile=device_profile,
        runtime=for_profile(runtime, device_profile) or TORCH,
    )
    emit(to_json(baseline), output, force)
    if output is not None:
        count = len(baseline["models"])
        typer.echo(f"wrote {output} ({count} model{'' if count == 1 else 's'})", err=True)


def check(
    path: CheckedFile,
    tolerance: Tolerance = "0%",
    latency_tolerance: LatencyTolerance = "10%",
    update: Update = False,
    timeout: Timeout = DEFAULT_TIMEOUT,
    fmt: FormatOpt = Format.table,
    output: Output = None,
    force: Force = False,
    threads: Threads = None,
    processes: Processes = DEFAULT_PROCESSES,
) -> None:
    """Hold models to a baseline or budget file; exit 1 when one grew.

    Every model is recounted; exit 1 when any metric grew past it. Counts and latency
    predicted for a device profile (deterministic) are held to --tolerance; measured latency
    to --latency-tolerance, and only on the device and thread count it was recorded with.

    Exit codes: 0 every metric holds; 1 a metric grew past its limit; 2 bad input, or an
    entry's model failed (the other entries are still checked); 3 a bug in cnnprof; 4
    undecided: every failing metric is a measured latency whose p10–p90 holds its limit (no
    metric grew clearly; run the check again).

    --threads and --processes say how latency is measured (a budget entry's own threads: and
    processes: win; a baseline recorded at other threads is refused)."""
    from cnnprof.api.check import parse_tolerance, run_check
    from cnnprof.cli.measure import machine

    allowed = parse_tolerance(tolerance)
    allowed_latency = parse_tolerance(latency_tolerance, "--latency-tolerance")
    check_output(output, force)
    LatencySettings(threads=threads, processes=processes)  # checked before anything is counted
    here = functools.partial(machine, "latency in a check", threads, processes)
    found = run_check(path, allowed, allowed_latency, machine=here, update=update, timeout=timeout)
    if found.results or not found.errors:  # every entry failed: the lines below say it all
        emit(render.present(found, View(format=fmt.value)), output, force)
        _unused(found, threads, processes)
    for line in found.errors:  # entries not checked: the others' results are above
        typer.echo(f"cnnprof: error: {line}", err=True)
    if update:
        typer.echo(report.changed(found), err=True)
    elif not found.passed:
        raise typer.Exit(_exit_code(found))


def _exit_code(found: CheckReport) -> int:
    """A metric that grew (1) wins over an entry that could not be checked (2), which wins
    over a verdict left undecided (4)."""
    if found.grew:
        return GREW
    return FAILED_ENTRY if found.errors else UNDECIDED


def _unused(found: CheckReport, threads: int | None, processes: int) -> None:
    """A note when --threads or --processes shaped nothing: the check measured no latency."""
    asked = [f"--threads {threads}"] if threads is not None else []
    asked += [f"--processes {processes}"] if processes != DEFAULT_PROCESSES else []
    if asked and not any(r.timing or r.ratio for r in found.results):
        typer.echo(
            f"cnnprof: note: {' and '.join(asked)}: no latency in {found.source} was "
            f"measured here, so {'they' if len(asked) > 1 else 'it'} set nothing",
            err=True,
        )
