"""A measurement as the commands run it: with a progress bar on the terminal."""

from __future__ import annotations

from collections.abc import Sequence

import typer

from cnnprof.api import latency
from cnnprof.api.request import Request
from cnnprof.cli.latency import say_load
from cnnprof.cli.options import refuse
from cnnprof.render.progress import progress_bar
from cnnprof.report.runtime import runtime_line
from cnnprof.results.timing import DEFAULT_PROCESSES, TORCH, LatencySettings, Timing


def measure(req: Request, layers: bool = False, device: str = "cpu", position: str = "") -> Timing:
    """Measured latency with random weights, for a command's --latency (imports torch, through
    the API's gate); ``position`` ("2 of 5") says where it stands in multi-model work."""
    settings = LatencySettings(device=device, layers=layers)
    say_load(settings.threads)
    with progress_bar(f"{position}: {req.label}" if position else req.label) as progress:
        return latency.measure(req, settings, progress, needs="--latency")


def measure_together(
    requests: Sequence[Request],
    device: str = "cpu",
    runtime: str = TORCH,
    threads: int | None = None,
    processes: int = DEFAULT_PROCESSES,
) -> tuple[Timing, ...]:
    """The requests' models measured in one run, interleaved round by round, so that a change of
    load weighs on all alike and their ranking holds; one progress bar for them all (with
    ``processes`` > 1 it advances per fresh process finished). In a runtime other than torch,
    a note says which (and how a model became ONNX)."""
    label = f"{len(requests)} models, interleaved"
    settings = LatencySettings(device=device, runtime=runtime, threads=threads, processes=processes)
    say_load(settings.threads, settings.runtime)
    with progress_bar(label) as progress:
        measured = latency.measure_together(requests, settings, progress, needs="--latency")
    first = measured.timings[0]
    if runtime != TORCH:
        how = f"; {first.export}" if first.export else ""
        typer.echo(f"cnnprof: note: latency measured in {runtime_line(first)}{how}", err=True)
    return measured.timings


def refuse_unmeasured(latency: bool, threads: int | None, processes: int) -> None:
    """``--threads`` and ``--processes`` shape a measurement: refused in one line without
    --latency (they would do nothing), and checked in range before anything is counted."""
    given = {"--threads": (threads, None), "--processes": (processes, DEFAULT_PROCESSES)}
    for name, (value, default) in given.items():
        if not latency and value != default:
            refuse(f"{name} {value}", "sets how --latency measures: add --latency")
    LatencySettings(threads=threads, processes=processes)


def one_runtime(text: str, latency: bool) -> str:
    """``--runtime`` of a command that measures several models: one runtime, and only with
    --latency (one line otherwise)."""
    from cnnprof.api.runtimes import runtimes

    chosen = runtimes(text)
    if len(chosen) > 1:
        refuse(
            f"--runtime {text}",
            "this command measures in one runtime; `cnnprof latency MODEL --runtime "
            "torch,onnxruntime` gives one model's ratio between them",
        )
    if chosen[0] != TORCH and not latency:
        refuse(f"--runtime {text}", "runs the models --latency measures: add --latency")
    return chosen[0]


def machine(
    needs: str = "latency in a check",
    threads: int | None = None,
    processes: int = DEFAULT_PROCESSES,
) -> latency.Machine:
    """This machine for latency checks, each measurement with its own progress bar, at
    ``threads`` (default: torch's count) in ``processes`` fresh processes; made only when a
    check or snapshot measures, after saying a busy machine."""
    say_load(threads)
    return latency.machine(progress_bar, needs, threads, processes)
