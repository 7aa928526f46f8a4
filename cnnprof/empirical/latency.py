"""Measured latency in torch eager: the whole model (warm-up until stable, then timed runs, by
the protocol every runtime shares: `cnnprof.protocol.runs`) and per row.

Every forward pass runs in eval mode under ``torch.inference_mode`` with random weights, timed on
the device's clock (`device`). The thread count is set explicitly, reported, and restored.

When rows are given, one more run records which kernel torch dispatched each convolution to
(`dispatch`): the roofline charges each kernel's own fixed cost. The timed runs also count the
process's minor page faults: fresh pages the allocator takes from the system on every pass.

Per-row time comes from forward pre-hooks on the row modules (the spec's row paths, or an outside
model's leaf modules): each hook takes one timestamp on the device's clock, and a row owns the time
from its own start to the next row's start, so work a block does in its own ``forward`` (residual
adds, concatenation) belongs to the row that ran last, as `count` attributes its FLOPs. The hooks'
own cost is measured on a chain of empty modules with the same hooks and subtracted. Hooked runs
alternate with the whole-model runs (the hooks are attached for one run, then removed), so a drift
of the machine's speed weighs on the per-row times and the median alike. Hooks rather
than ``torch.profiler``: the profiler records every aten op (several microseconds each, which
inflates small depthwise layers at batch 1) and still needs a module stack to name rows; one
timestamp per row costs less and its cost can be measured and removed.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cnnprof.arch.model import Shape
from cnnprof.empirical import allocator
from cnnprof.empirical.device import (
    CLOCKS,
    TORCH_DTYPES,
    Clock,
    check_device,
    device_name,
    first_line,
    minor_faults,
    threads,
)
from cnnprof.empirical.dispatch import conv_kernels
from cnnprof.empirical.outside import why
from cnnprof.errors import LoadError, OptionError
from cnnprof.protocol.runs import silent, timed_runs, warm_up
from cnnprof.results.profile import DTYPE_BYTES, LayerCost
from cnnprof.results.timing import TORCH, Deadline, LatencySettings, LayerTime, Timing
from cnnprof.results.vocab import Progress, check_batch

MAX_LAYER_RUNS = 50  # hooked runs, one after each whole-model run until there are this many
LAYER_WARMUP = 2  # hooked runs discarded before the timed runs
CALIBRATION_MODULES = 50  # empty modules in the chain that measures the hooks' cost
CALIBRATION_RUNS = 100


# --- whole-model runs --------------------------------------------------------------------------


def _image(dims: tuple[int, ...]) -> torch.Tensor:
    """The input every runtime times: standard normal numbers from numpy's generator seeded 0,
    as ONNX Runtime's feed draws them (`cnnprof.deploy.ort`), so `--runtime torch,onnxruntime`
    runs both on the same numbers; torch's generator, seeded alike, where numpy is missing."""
    try:
        import numpy
    except ImportError:
        return torch.randn(*dims, generator=torch.Generator().manual_seed(0))
    return torch.from_numpy(numpy.random.default_rng(0).standard_normal(dims))


def _prepare(
    module: nn.Module, shape: Shape, batch: int, dtype: str, device: torch.device, last: bool
) -> tuple[nn.Module, torch.Tensor]:
    kind = TORCH_DTYPES[dtype]
    module = module.eval().to(device=device, dtype=kind)
    x = _image((batch, *shape.as_list())).to(device=device, dtype=kind)
    if last:
        module = module.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return module, x


def _first_run(run: Callable[[], object], clock: Clock, model: str, dtype: str) -> float:
    try:
        return clock.time(run)
    except Exception as exc:  # a user's forward can raise anything; say which and stop
        message = first_line(exc)
        kernel = isinstance(exc, (RuntimeError, NotImplementedError))
        if kernel and ("not implemented for" in message or "Unsupported" in message):
            raise OptionError(f"--dtype {dtype}: {model} cannot run in it ({message})") from None
        raise LoadError(f"{model}: forward failed: {why(exc)}") from None


# --- per-row times ------------------------------------------------------------------------------


class _Stamps:
    """Row-boundary timestamps of one forward pass, each with the process's page-fault count
    then; ``None`` marks the root's start and ``""`` its end."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.marks: list[tuple[str | None, Any, int | None]] = []

    def hook(self, path: str | None) -> Callable[..., None]:
        def mark(*_: object) -> None:
            self.marks.append((path, self.clock.stamp(), minor_faults()))

        return mark

    @contextlib.contextmanager
    def attached(self, root: nn.Module, rows: Mapping[str, nn.Module]) -> Iterator[None]:
        """Hooks on the row modules (path → module; pre-hooks) and on ``root`` (start and end)
        for the block; removed afterwards."""
        handles = [module.register_forward_pre_hook(self.hook(p)) for p, module in rows.items()]
        handles.append(root.register_forward_pre_hook(self.hook(None)))
        handles.append(root.register_forward_hook(self.hook("")))
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def segments(self) -> dict[str, tuple[float, int, int | None]]:
        """Row path → (seconds from each of its starts to the next boundary, boundaries, page
        faults in between; None where the system does not count them)."""
        self.clock.finish()
        out: dict[str, tuple[float, int, int | None]] = {}
        marks = self.marks
        first = next((p for p, _, _ in marks if p), "")
        for (path, start, before), (_, end, after) in itertools.pairwise(marks):
            owner = path or first
            seconds, count, faults = out.get(owner, (0.0, 0, 0))
            taken = None if faults is None or before is None or after is None else after - before
            out[owner] = (
                seconds + self.clock.elapsed(start, end),
                count + 1,
                None if taken is None else faults + taken,
            )
        self.marks = []
        return out


def hook_overhead(clock: Clock, device: torch.device, runs: int = CALIBRATION_RUNS) -> float:
    """Seconds each row boundary adds: the same hooks on a chain of empty modules, timed with and
    without them."""
    chain = nn.Sequential(*(nn.Identity() for _ in range(CALIBRATION_MODULES))).to(device)
    x = torch.zeros(1, device=device)
    with torch.inference_mode():
        plain = [clock.time(lambda: chain(x)) for _ in range(runs)]
        stamps = _Stamps(clock)
        hooked = []
        with stamps.attached(chain, dict(chain.named_children())):
            for _ in range(runs):
                chain(x)
                hooked.append(sum(s for s, _, _ in stamps.segments().values()))
    extra = statistics.median(hooked) - statistics.median(plain)
    return max(extra, 0.0) / (CALIBRATION_MODULES + 1)


class _Rows:
    """Per-row times from hooked runs: `record` runs the network once with the hooks attached
    and keeps each row's time, net of the hooks' measured cost, and its page faults."""

    def __init__(
        self,
        net: nn.Module,
        run: Callable[[], object],
        paths: Sequence[str],
        clock: Clock,
        overhead: float,
    ) -> None:
        modules = dict(net.named_modules())
        self.net, self.run, self.overhead = net, run, overhead
        self.rows = {p: modules[p] for p in paths if p in modules}  # rows no module runs: none
        self.stamps = _Stamps(clock)
        self.per_row: dict[str, list[float]] = {p: [] for p in self.rows}
        self.faults: dict[str, list[int]] = {p: [] for p in self.rows}
        self.runs = 0
        self.taken = 0  # page faults of the whole process during recorded hooked runs

    def _hooked(self) -> dict[str, tuple[float, int, int | None]]:
        with self.stamps.attached(self.net, self.rows):
            self.run()
        return self.stamps.segments()

    def warm_up(self, runs: int = LAYER_WARMUP) -> None:
        for _ in range(runs):
            self._hooked()

    def record(self) -> None:
        before = minor_faults()
        segments = self._hooked()
        after = minor_faults()
        self.taken += 0 if before is None or after is None else after - before
        for path in self.rows:
            seconds, count, faults = segments.get(path, (0.0, 0, 0))
            self.per_row[path].append(max(seconds - count * self.overhead, 0.0))
            if faults is not None:
                self.faults[path].append(faults)
        self.runs += 1

    def layers(self, rows: Sequence[LayerCost], batch: int, dtype: str) -> tuple[LayerTime, ...]:
        """A `LayerTime` per row: the median of its recorded times and page faults (0 for a
        row no module runs), with its MACs, FLOPs and bytes at the batch."""
        size = DTYPE_BYTES[dtype]
        return tuple(
            LayerTime(
                path=r.path,
                op=r.op,
                seconds=statistics.median(self.per_row.get(r.path) or [0.0]),
                macs=r.macs * batch,
                flops=r.flops * batch,
                bytes=r.bytes_moved(size, batch),
                page_faults=_median_or_none(self.faults.get(r.path)),
            )
            for r in rows
        )


def _median_or_none(counts: list[int] | None) -> float | None:
    return statistics.median(counts) if counts else None


# --- the entry points ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Runner:
    """A module ready on its device, called on its input: the clock it is timed on, and the
    settings, deadline and progress callback every phase of its measurement answers to."""

    net: nn.Module
    run: Callable[[], object]
    clock: Clock
    device: torch.device
    settings: LatencySettings
    deadline: Deadline
    report: Progress

    def timed(self) -> float:
        return self.clock.time(self.run)

    def step(self, per_row: _Rows | None) -> float:
        """One whole-model run, then (while more are wanted) one hooked run."""
        seconds = self.timed()
        if per_row is not None and per_row.runs < MAX_LAYER_RUNS:
            per_row.record()
        return seconds


@dataclass(frozen=True)
class _Runs:
    """What the runs of one measurement gave, as `Timing` records it."""

    samples: tuple[float, ...]
    warmup_runs: int
    stable: bool
    hit: bool
    kernels: dict[str, tuple[str, ...]]
    per_row: _Rows | None
    page_faults: float | None

    def timing(self, rows: Sequence[LayerCost], batch: int, dtype: str, **context: Any) -> Timing:
        """The `Timing` of these runs, per row where hooked, with ``context`` (the model, the
        device, the threads …) as measured."""
        per_row = self.per_row
        return Timing(
            samples=self.samples,
            warmup_runs=self.warmup_runs,
            warmup_stable=self.stable,
            budget_hit=self.hit,
            batch=batch,
            dtype=dtype,
            layers=per_row.layers(rows, batch, dtype) if per_row else (),
            layer_runs=per_row.runs if per_row else 0,
            hook_overhead=per_row.overhead if per_row else 0.0,
            kernels=tuple(self.kernels.items()),
            page_faults=self.page_faults,
            **context,
        )


def _hooks(runner: _Runner, rows: Sequence[LayerCost], first: float) -> _Rows | None:
    """Per-row hooks, their cost measured and warmed up, when ``settings.layers`` asks for them
    and their calibration and warm-up leave room for timed runs (None otherwise)."""
    room = runner.deadline.left() > (LAYER_WARMUP + 2) * first + 0.1
    if not (runner.settings.layers and rows and room):
        return None
    overhead = hook_overhead(runner.clock, runner.device)
    per_row = _Rows(runner.net, runner.run, [r.path for r in rows], runner.clock, overhead)
    per_row.warm_up()
    return per_row


def _runs(runner: _Runner, rows: Sequence[LayerCost], model: str, dtype: str) -> _Runs:
    """The first run, the kernel record, the warm-up, the hooks and the timed runs, each started
    only while the deadline leaves room for it (judged on the runs so far); ``hit`` when one was
    cut short or left out for lack of time, or the runs ended past the deadline."""
    deadline = runner.deadline
    first = _first_run(runner.run, runner.clock, model, dtype)
    spent = deadline.left() < first  # no room for one more run: the first is the sample
    # the kernel record, where a timed run still fits after it
    recorded = bool(rows) and deadline.left() >= 2 * first
    kernels = conv_kernels(runner.net, runner.run, [r.path for r in rows]) if recorded else {}
    warmup_runs, stable, cut = 0, False, False
    if not spent:
        warmup = runner.settings.warmup
        warmup_runs, stable, cut = warm_up(runner.timed, first, warmup, deadline, runner.report)
    per_row = None if spent else _hooks(runner, rows, first)
    faults = minor_faults()
    samples, hit = [first], True
    if not spent:
        step = functools.partial(runner.step, per_row)
        samples, hit = timed_runs(step, runner.settings, deadline, runner.report)
    after = minor_faults()
    taken = per_row.taken if per_row else 0  # the hooked runs' faults are not the model's
    page_faults = (
        None if faults is None or after is None else (after - faults - taken) / len(samples)
    )
    left_out = (bool(rows) and not recorded) or (
        runner.settings.layers and bool(rows) and per_row is None
    )
    hit = hit or cut or left_out or deadline.passed()
    # the run that recorded the kernels warmed up too
    return _Runs(tuple(samples), warmup_runs + recorded, stable, hit, kernels, per_row, page_faults)


def measure(
    module: nn.Module,
    input: Shape,
    *,
    batch: int = 1,
    dtype: str = "float32",
    settings: LatencySettings | None = None,
    rows: Sequence[LayerCost] = (),
    macs: int = 0,
    model: str = "",
    progress: Progress | None = None,
    deadline: Deadline | None = None,
) -> Timing:
    """Time ``module`` on ``batch`` random inputs of ``input`` shape.

    The module is moved to the device and dtype in place (pass a copy to keep yours). ``rows``
    (a profile's rows) name the modules timed one by one when ``settings.layers`` is set; their
    MACs, FLOPs and bytes go into each `LayerTime`. ``progress(stage, fraction)`` is called as
    the stages "warm-up" and "timing" advance (with ``settings.layers``, a hooked run follows each
    whole-model run until there are MAX_LAYER_RUNS).

    ``deadline`` (default: ``settings.budget`` from now) bounds every phase: the first run, the
    kernel record, the warm-up, the hooks' calibration and the timed runs; a run starts only
    when one as long as the last fits, so the measurement ends within the deadline or one run
    past it. A phase the budget cuts short or has no room for is skipped and ``budget_hit``
    says so, as it does a measurement that ended past the deadline; when the first run alone
    spends it, that run is the only sample.
    """
    settings = settings or LatencySettings()
    check_batch(batch)
    target = check_device(settings.device, dtype)
    deadline = deadline or Deadline(settings.budget)
    model = model or type(module).__name__
    regime = allocator.apply(settings.allocator)  # before the first run: warm-up reaches it
    with threads(settings.threads) as count, torch.inference_mode():
        net, x = _prepare(module, input, batch, dtype, target, settings.channels_last)
        clock = CLOCKS[target.type]()
        run = functools.partial(net, x)
        runner = _Runner(net, run, clock, target, settings, deadline, progress or silent)
        runs = _runs(runner, rows, model, dtype)
    return runs.timing(
        rows,
        batch,
        dtype,
        model=model,
        device=target.type,
        device_name=device_name(target),
        threads=count,
        channels_last=settings.channels_last,
        torch_version=torch.__version__,
        runtime=TORCH,
        runtime_version=torch.__version__,
        macs=macs,
        allocator=regime,
    )
