"""A measurement repeated in fresh worker processes (pyperf's answer to a spread one process does
not show): each worker is a new interpreter (``spawn``) that times one model once and sends its
`Timing` back over a pipe; its stdout and stderr go nowhere, so nothing it prints mixes into
cnnprof's output. With several models the workers take turns, round by round (A, B, …, then A,
B, … again), so a change of load weighs on every model alike. Every way a worker can end without
a timing (an exception, an exit, a signal, silence past its time) is one line naming the model.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from typing import Any

from cnnprof.api.request import Request, plain
from cnnprof.api.sources import resolve
from cnnprof.errors import CnnprofError, LoadError, OptionError, OutOfTime
from cnnprof.protocol.runs import silent
from cnnprof.results.interleaved import Interleaved
from cnnprof.results.timing import Deadline, LatencySettings, Timing, pooled
from cnnprof.results.vocab import Progress

MIN_WORKER_S = 1.0  # a worker's budget at least, when what is left of the command's is less
GRACE_S = 60.0  # beyond its budget, for a worker to start (import torch) and answer


@dataclass(frozen=True)
class Job:
    """What a worker is sent: the model, the settings of one process, the wall-clock time its
    measurement must end by (``time.time()``), and the use named when torch is missing."""

    request: Request
    settings: LatencySettings
    end: float
    needs: str


# Times one model in a fresh process: (request, settings of one process, needs) → its timing.
Run = Callable[[Request, LatencySettings, str], Timing]


def serve(writer: Connection, job: Job) -> None:
    """A worker's entry point: its output silenced, the model timed, the timing (or the error
    that stopped it) sent back."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    try:
        budget = max(job.end - time.time(), MIN_WORKER_S)
        settings = replace(job.settings, budget=budget)
        timing = resolve(job.request, supervised=False).timed(settings, None, job.needs)
        answer: tuple[str, Any] = ("timing", timing)
    except CnnprofError as exc:
        answer = ("error", exc)
    except Exception as exc:  # a worker's failure is reported, never raised past the pipe
        answer = ("error", _failed(job, f"{type(exc).__name__}: {exc}"))
    try:
        writer.send(answer)
    except (pickle.PicklingError, TypeError, AttributeError):
        writer.send(("error", _failed(job, str(answer[1]))))
    writer.close()


def _failed(job: Job, what: str) -> LoadError:
    """One line naming the model: what stopped its worker."""
    first = what.strip().splitlines()[0] if what.strip() else "no message"
    return LoadError(f"{job.request.label}: in a fresh worker process: {first}")


def _sendable(request: Request) -> Request:
    """The request as a worker can receive it (plain mappings); refused in one line when its
    model cannot be sent to another process."""
    sent = plain(request)
    try:
        pickle.dumps(sent)
    except Exception:
        raise OptionError(
            f"--processes: {request.label} cannot be sent to a fresh process; "
            "name it by a reference, or give --processes 1"
        ) from None
    return sent


def in_fresh_process(
    request: Request,
    settings: LatencySettings,
    needs: str,
    *,
    target: Callable[[Connection, Job], None] = serve,
    grace: float = GRACE_S,
) -> Timing:
    """``request``'s model timed once in a new interpreter within ``settings.budget`` seconds
    (and ``grace`` more to start and answer); the timing it sends, or one error naming it."""
    context = multiprocessing.get_context("spawn")
    reader, writer = context.Pipe(duplex=False)
    job = Job(_sendable(request), settings, time.time() + settings.budget, needs)
    worker = context.Process(target=target, args=(writer, job), daemon=True)
    worker.start()
    writer.close()
    try:
        return _answer(reader, worker, request.label, settings.budget + grace)
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
        reader.close()


def _answer(reader: Connection, worker: Any, label: str, within: float) -> Timing:
    """What the worker sent within ``within`` seconds: its timing, or its error raised here."""
    if not wait([reader, worker.sentinel], within):
        raise OutOfTime(f"{label}: a fresh worker process sent no timing within {within:.0f} s")
    try:
        kind, value = reader.recv() if reader.poll(1.0) else ("", None)
    except (EOFError, OSError, pickle.UnpicklingError):
        kind, value = "", None
    if kind == "timing" and isinstance(value, Timing):
        return value
    if kind == "error" and isinstance(value, CnnprofError):
        raise value
    worker.join(1.0)
    code = worker.exitcode
    ended = "was killed" if code is not None and code < 0 else f"exited with code {code}"
    raise LoadError(f"{label}: a fresh worker process {ended} without sending a timing")


def rounds(
    requests: Sequence[Request],
    settings: LatencySettings,
    deadline: Deadline,
    progress: Progress | None = None,
    run: Run | None = None,
    needs: str = "--processes",
) -> tuple[tuple[Timing, ...], ...]:
    """``settings.processes`` rounds, each timing every request's model once, in order, in a
    fresh process (``run``), with an equal share of what is left of ``deadline``; a round the
    deadline has no room for is not started (every model gets one). Per round, a timing per
    request."""
    run = run or in_fresh_process
    report = progress or silent
    total, done = settings.processes * len(requests), 0
    out: list[tuple[Timing, ...]] = []
    report("timing", 0.0)
    for _ in range(settings.processes):
        if out and deadline.passed():
            break
        timed = []
        for request in requests:
            share = max(deadline.left() / (total - done), MIN_WORKER_S)
            one = replace(settings, processes=1, budget=share)
            timed.append(run(request, one, needs))
            done += 1
            report("timing", done / total)
        out.append(tuple(timed))
    return tuple(out)


def _short(timings: Sequence[Timing], settings: LatencySettings) -> Timing:
    """The pooled timing, the budget said to be hit when it left processes out."""
    found = pooled(timings)
    return replace(found, budget_hit=True) if len(timings) < settings.processes else found


def timed_in_processes(
    request: Request,
    settings: LatencySettings,
    deadline: Deadline,
    progress: Progress | None = None,
    needs: str = "--processes",
    run: Run | None = None,
) -> Timing:
    """One model timed in ``settings.processes`` fresh processes, pooled (see `pooled`)."""
    found = rounds([request], settings, deadline, progress, run, needs)
    return _short([r[0] for r in found], settings)


def together_in_processes(
    requests: Sequence[Request],
    settings: LatencySettings,
    deadline: Deadline,
    progress: Progress | None = None,
    needs: str = "--processes",
    run: Run | None = None,
) -> Interleaved:
    """Every model timed in ``settings.processes`` fresh processes, interleaved round by round;
    each round's figure for a model is its process's median."""
    found = rounds(requests, settings, deadline, progress, run, needs)
    timings = tuple(_short([r[i] for r in found], settings) for i in range(len(requests)))
    return Interleaved(timings, tuple(tuple(t.median for t in r) for r in found))
