"""Several models measured in one run, interleaved, so that a change of load weighs on all alike.

Each model is first warmed up on its own (the protocol's auto warm-up). Then rounds: in each,
every model runs one block of about BLOCK_SECONDS, the order reversed from one round to the next
(A B, B A, A B …), so a load that comes or goes, or a steady drift, falls on every model of a
round; a block's size follows the model's median so far. The first run of each block is not timed
(it follows another model's runs, with its caches cold). A round records each block's mean: on a
machine shared with other work a model gets a share of the CPU, and a block's total time follows
that share, where its median flips between runs that were left alone and runs that waited for a
time slice. Rounds go on until every model has MIN_ROUNDS blocks and ``min_time`` seconds of timed
runs (or ``runs`` runs), or the deadline has no room for another round.

A model is a `Contender`: anything that times itself as settings say, whatever runs it (a torch
module, an ONNX Runtime session), so the models of one run may run in different runtimes.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from cnnprof.protocol.runs import silent
from cnnprof.results.interleaved import Interleaved
from cnnprof.results.profile import LayerCost
from cnnprof.results.timing import DEFAULT_MIN_TIME, MIN_RUNS, Deadline, LatencySettings, Timing
from cnnprof.results.vocab import Progress

BLOCK_SECONDS = 0.2  # each model's share of a round: many scheduler time slices
MIN_ROUNDS = 5  # rounds at least: the spread of a ratio is read across them


class Contender(Protocol):
    """A model ready to measure, alone or as one of an interleaved measurement's models."""

    def timed(
        self,
        settings: LatencySettings,
        deadline: Deadline,
        progress: Progress | None,
        rows: Sequence[LayerCost] = (),
    ) -> Timing:
        """The model measured as ``settings`` say, within ``deadline``; ``rows`` name the rows
        timed one by one (with ``settings.layers``)."""
        ...


def _measure(
    c: Contender, settings: LatencySettings, deadline: Deadline, *, warmup: int | None, runs: int
) -> Timing:
    """``runs`` timed runs of one contender after ``warmup`` (None: until stable)."""
    chosen = replace(settings, warmup=warmup, runs=runs, min_time=None, layers=False)
    return c.timed(chosen, deadline, silent)


def _merged(first: Timing, blocks: Sequence[Timing], hit: bool) -> Timing:
    """One model's timing over all its blocks: every timed run, every untimed one as warm-up,
    page faults per run over them all."""
    samples = tuple(s for b in blocks for s in b.samples)
    faults = [b.page_faults * b.runs for b in blocks if b.page_faults is not None]
    return replace(
        first,
        samples=samples,
        warmup_runs=first.warmup_runs + first.runs + sum(b.warmup_runs for b in blocks),
        budget_hit=hit or any(b.budget_hit for b in blocks),
        page_faults=sum(faults) / len(samples) if len(faults) == len(blocks) else None,
    )


def measure_interleaved(
    contenders: Sequence[Contender],
    settings: LatencySettings,
    deadline: Deadline,
    progress: Progress | None = None,
) -> Interleaved:
    """Every contender timed in rotation on ``settings.device`` (its threads, channels-last and
    warm-up; ``runs`` or ``min_time`` per model; no per-row times), all within ``deadline``."""
    report = progress or silent
    firsts = []
    for index, c in enumerate(contenders):
        report("warm-up", index / len(contenders))
        firsts.append(_measure(c, settings, deadline, warmup=settings.warmup, runs=1))
    report("warm-up", 1.0)
    blocks: list[list[Timing]] = [[] for _ in contenders]
    rounds: list[tuple[float, ...]] = []
    min_time = settings.min_time or DEFAULT_MIN_TIME
    hit = False
    while True:
        started = deadline.elapsed()
        means = [0.0] * len(contenders)
        order = range(len(contenders))
        for i in order if len(rounds) % 2 == 0 else reversed(order):
            block = _measure(
                contenders[i],
                settings,
                deadline,
                warmup=1,
                runs=_size(blocks[i] or firsts[i : i + 1]),
            )
            blocks[i].append(block)
            means[i] = block.mean
        rounds.append(tuple(means))
        fraction = min(_done(b, settings.runs, min_time) for b in blocks)
        report("timing", min(fraction, len(rounds) / MIN_ROUNDS, 1.0))
        if fraction >= 1.0 and len(rounds) >= MIN_ROUNDS:
            break
        if deadline.left() < deadline.elapsed() - started:  # no room for one more round
            hit = True
            break
    timings = tuple(_merged(f, b, hit) for f, b in zip(firsts, blocks, strict=True))
    return Interleaved(timings, tuple(rounds))


def _size(timings: Sequence[Timing]) -> int:
    """Runs in a block of about BLOCK_SECONDS, at the median of the runs so far."""
    median = statistics.median(s for t in timings for s in t.samples)
    return max(1, round(BLOCK_SECONDS / max(median, 1e-9)))


def _done(blocks: Sequence[Timing], runs: int | None, min_time: float) -> float:
    """How far one model is towards its runs, or its min_time and MIN_RUNS runs (1.0: there)."""
    count = sum(b.runs for b in blocks)
    if runs is not None:
        return count / runs
    return min(sum(sum(b.samples) for b in blocks) / min_time, count / MIN_RUNS)
