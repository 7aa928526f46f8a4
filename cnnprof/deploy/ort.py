"""ONNX Runtime as a runtime: a model's ONNX graph timed in an ``InferenceSession`` by the
protocol every runtime shares (`cnnprof.protocol.runs`: first run, warm-up until stable, timed
runs until ``runs``, ``min_time`` or the deadline), into the same `Timing` eager gives.

The session is made the way a deployment makes it, and the timing says how: intra-op threads
from ``--threads`` (default: every core cnnprof may use), one inter-op thread and sequential
execution, graph optimisation GRAPH_OPTIMIZATION, the execution provider of ``--device``. The
input is random, at the request's batch, image shape and dtype (which must be the graph's input
type). With ``settings.layers`` a second session runs with ORT's profiler on, after the timed
runs (`ort_profile` maps its nodes onto the rows). On CUDA the input is bound
on the device once (IO binding) and each run waits for its outputs there.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

from cnnprof.arch.model import Shape
from cnnprof.deploy import ort_profile
from cnnprof.errors import LoadError, MissingExtra, OptionError
from cnnprof.protocol.machine import cpu_name
from cnnprof.protocol.runs import silent, timed_runs, warm_up
from cnnprof.results.profile import DTYPE_BYTES, LayerCost
from cnnprof.results.timing import (
    ONNXRUNTIME,
    Deadline,
    LatencySettings,
    LayerTime,
    NodeTime,
    Timing,
    cpu_cores,
)
from cnnprof.results.vocab import Progress

GRAPH_OPTIMIZATION = "ORT_ENABLE_ALL"  # ORT's default for a session, and what deployments use
PROVIDERS = MappingProxyType({"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"})
# --dtype → the graph input type it needs, and numpy's name for it
INPUT_TYPES = MappingProxyType(
    {"float32": ("tensor(float)", "float32"), "float16": ("tensor(float16)", "float16")}
)
LAYER_WARMUP = 2  # profiled runs discarded before the recorded ones
MAX_LAYER_RUNS = 50  # profiled runs after the timed ones: as many, up to this many
QUIET = 3  # ORT's log severity: errors only (its warnings would land in cnnprof's output)


def onnxruntime(needs: str) -> ModuleType:
    """The ``onnxruntime`` module; `MissingExtra` naming the extra when it is not installed."""
    try:
        import onnxruntime
    except ImportError:
        raise MissingExtra.of("onnxruntime", needs) from None
    return onnxruntime


def session_options(ort: ModuleType, threads: int) -> Any:
    """The session options every timing uses (the benchmark's plain loop uses them too)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, GRAPH_OPTIMIZATION)
    options.log_severity_level = QUIET
    return options


def provider(ort: ModuleType, device: str) -> str:
    """The execution provider that runs on ``device``; one line saying what to install when
    this ONNX Runtime has none."""
    name = PROVIDERS.get(device)
    if name is None:
        raise OptionError(
            f"--device {device}: ONNX Runtime runs on {' or '.join(PROVIDERS)} here; "
            "use --runtime torch for this device"
        )
    if name not in ort.get_available_providers():
        raise MissingExtra(
            f"--device {device} --runtime onnxruntime: this onnxruntime has no {name} "
            "(pip install onnxruntime-gpu, in place of onnxruntime)"
        )
    return name


@dataclass(frozen=True)
class OrtModel:
    """A model as ONNX Runtime takes it, ready to time: alone, or as one of an interleaved
    measurement's models (a `cnnprof.protocol.interleave.Contender`)."""

    graph: bytes | str  # the serialised model, or its file (external data read beside it)
    input: Shape
    batch: int = 1
    dtype: str = "float32"
    model: str = ""
    macs: int = 0
    export: str = ""  # how the model was exported to be timed ("": it came as ONNX)
    needs: str = "--runtime onnxruntime"
    # sessions made so far, by (device, threads): an interleaved measurement times its model
    # block after block, on one session
    sessions: dict[tuple[str, int], tuple[Any, dict[str, Any]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def session(self, settings: LatencySettings, **extra: Any) -> Any:
        """An ``InferenceSession`` of the graph as ``settings`` say; ``extra`` sets more
        session options (the profiler's)."""
        ort = onnxruntime(self.needs)
        options = session_options(ort, self.thread_count(settings))
        for key, value in extra.items():
            setattr(options, key, value)
        chosen = provider(ort, settings.device)
        try:
            return ort.InferenceSession(self.graph, options, providers=[chosen])
        except Exception as exc:  # ORT's own error kinds: one line, whichever
            raise LoadError(f"{self.model}: ONNX Runtime cannot load it: {_line(exc)}") from None

    def thread_count(self, settings: LatencySettings) -> int:
        return settings.threads or cpu_cores()

    def ready(self, settings: LatencySettings) -> tuple[Any, dict[str, Any]]:
        """The session for ``settings`` (made once) and its input."""
        key = (settings.device, self.thread_count(settings))
        if key not in self.sessions:
            session = self.session(settings)
            self.sessions[key] = (session, self.feed(session))
        return self.sessions[key]

    def feed(self, session: Any) -> dict[str, Any]:
        """A random input at the batch, shape and dtype, by the graph input's name."""
        import numpy

        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise OptionError(
                f"{self.model}: has {len(inputs)} inputs; cnnprof times models of one image input"
            )
        wanted = INPUT_TYPES.get(self.dtype)
        if wanted is None:
            raise OptionError(
                f"--dtype {self.dtype}: ONNX Runtime timing takes {', '.join(INPUT_TYPES)}"
            )
        if inputs[0].type != wanted[0]:
            raise OptionError(
                f"--dtype {self.dtype}: {self.model}'s input {inputs[0].name!r} is "
                f"{inputs[0].type}, not {wanted[0]}; give the dtype of the graph's input"
            )
        shape = (self.batch, *self.input.as_list())
        values = numpy.random.default_rng(0).standard_normal(shape).astype(wanted[1])
        return {inputs[0].name: values}

    def timed(
        self,
        settings: LatencySettings,
        deadline: Deadline,
        progress: Progress | None,
        rows: Sequence[LayerCost] = (),
    ) -> Timing:
        """This model measured as ``settings`` say, within ``deadline``; per node (mapped onto
        ``rows``) with ``settings.layers``."""
        return measure(self, settings, deadline, progress, rows)


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def refuse_options(settings: LatencySettings) -> None:
    """Options eager honours that ONNX Runtime has no meaning for: refused, not ignored."""
    if settings.channels_last:
        raise OptionError("--channels-last: ONNX Runtime chooses its own layout (NCHWc on CPU)")
    if settings.allocator != "steady":
        raise OptionError(f"--allocator {settings.allocator}: applies to torch eager only")


def _plain(session: Any, feed: dict[str, Any]) -> Callable[[], object]:
    """A run on the CPU: ``session.run`` on the input, as a deployment calls it."""
    return lambda: session.run(None, feed)


def _bound(session: Any, feed: dict[str, Any]) -> Callable[[], object]:
    """A run on the GPU: the input copied to the device once and the outputs left there (IO
    binding), the run waited for, so a run times the model and not the copies."""
    import onnxruntime as ort

    binding = session.io_binding()
    for name, value in feed.items():
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(value, "cuda", 0))
    for output in session.get_outputs():
        binding.bind_output(output.name, "cuda")

    def run() -> None:
        session.run_with_iobinding(binding)
        binding.synchronize_outputs()

    return run


# --device → how one run is called there
RUNS: Mapping[str, Callable[[Any, dict[str, Any]], Callable[[], object]]] = MappingProxyType(
    {"cpu": _plain, "cuda": _bound}
)


def _clocked(run: Callable[[], object]) -> Callable[[], float]:
    def timed() -> float:
        started = time.perf_counter()
        run()
        return time.perf_counter() - started

    return timed


def _first(timed: Callable[[], float], model: str) -> float:
    try:
        return timed()
    except Exception as exc:  # the graph's own failure at this input: one line
        raise LoadError(f"{model}: ONNX Runtime run failed: {_line(exc)}") from None


class _Profiled:
    """A second session with ORT's profiler on: `record` runs it once; `nodes` reads the trace
    (warm-up runs left out) and maps each node onto the rows."""

    def __init__(self, model: OrtModel, settings: LatencySettings, folder: Path) -> None:
        self.folder = folder
        self.session = model.session(
            settings,
            enable_profiling=True,
            profile_file_prefix=str(folder / "profile"),
            optimized_model_filepath=str(folder / "optimised.onnx"),
        )
        self.run = _clocked(RUNS[settings.device](self.session, model.feed(self.session)))
        self.model = model
        self.runs = 0
        for _ in range(LAYER_WARMUP):
            self.run()

    def record(self, deadline: Deadline, runs: int) -> None:
        """Up to ``runs`` profiled runs (at most MAX_LAYER_RUNS), while ``deadline`` leaves room
        for one more."""
        last = 0.0
        while self.runs < min(runs, MAX_LAYER_RUNS) and deadline.left() > last:
            last = self.run()
            self.runs += 1

    def nodes(self, rows: Sequence[str]) -> tuple[tuple[NodeTime, ...], int]:
        """Every node ORT ran, median seconds per recorded run, and the recorded runs."""
        trace = json.loads(Path(self.session.end_profiling()).read_text(encoding="utf-8"))
        seconds, runs = ort_profile.node_seconds(trace, LAYER_WARMUP)
        given = ort_profile.graph_nodes(self.model.graph)
        optimised = ort_profile.graph_nodes(str(self.folder / "optimised.onnx"))
        covers = ort_profile.coverage(given, optimised)
        return ort_profile.node_times(seconds, covers, rows), runs


def _layers(
    nodes: Sequence[NodeTime], rows: Sequence[LayerCost], batch: int, dtype: str
) -> tuple[LayerTime, ...]:
    """A `LayerTime` per row (the time of the nodes counted in it; a row fused into another's
    kernel says which), then one per node counted in no row (named by the node)."""
    size = DTYPE_BYTES[dtype]
    paths = [r.path for r in rows]
    fused = ort_profile.fused_rows(nodes, paths)
    timed = [
        LayerTime(
            path=r.path,
            op=r.op,
            seconds=sum(n.seconds for n in nodes if n.row == r.path),
            macs=r.macs * batch,
            flops=r.flops * batch,
            bytes=r.bytes_moved(size, batch),
            fused_into=fused.get(r.path, ""),
        )
        for r in rows
    ]
    apart = [LayerTime(n.name, n.op, n.seconds, 0, 0, 0) for n in nodes if not n.row]
    return (*timed, *apart)


def measure(
    model: OrtModel,
    settings: LatencySettings,
    deadline: Deadline,
    progress: Progress | None = None,
    rows: Sequence[LayerCost] = (),
) -> Timing:
    """Time ``model`` in ONNX Runtime: the first run, warm-up, timed runs, then (with
    ``settings.layers``) as many profiled runs in a second session, at most MAX_LAYER_RUNS.

    The profiled runs follow the timed ones rather than alternate with them: two sessions run in
    turn with more than one intra-op thread slow each other down (each one's threads spin after
    its run, on the cores the other needs; on this 2-core machine both took twice as long)."""
    refuse_options(settings)
    report = progress or silent
    session, feed = model.ready(settings)
    timed = _clocked(RUNS[settings.device](session, feed))
    first = _first(timed, model.model)
    spent = deadline.left() < first
    warmup_runs, stable, samples, hit = 0, False, [first], True
    nodes: tuple[NodeTime, ...] = ()
    layer_runs = 0
    with tempfile.TemporaryDirectory(prefix="cnnprof-ort-") as folder:
        profiled = None
        if not spent:
            warmup_runs, stable, cut = warm_up(timed, first, settings.warmup, deadline, report)
            samples, hit = timed_runs(timed, settings, deadline, report)
            hit = hit or cut
            room = deadline.left() > (LAYER_WARMUP + 2) * first + 0.1
            if settings.layers and room:
                profiled = _Profiled(model, settings, Path(folder))
                profiled.record(deadline, len(samples))
        if profiled is not None:
            nodes, layer_runs = profiled.nodes([r.path for r in rows])
    hit = hit or (settings.layers and profiled is None)
    return _timing(model, settings, samples, (warmup_runs, stable, hit), nodes, layer_runs, rows)


def _timing(
    model: OrtModel,
    settings: LatencySettings,
    samples: Sequence[float],
    state: tuple[int, bool, bool],
    nodes: tuple[NodeTime, ...],
    layer_runs: int,
    rows: Sequence[LayerCost],
) -> Timing:
    """The `Timing` of these runs, with the runtime's facts."""
    ort = onnxruntime(model.needs)
    warmup_runs, stable, hit = state
    device = settings.device
    return Timing(
        model=model.model,
        device=device,
        device_name=cpu_name() if device == "cpu" else f"{device} (ONNX Runtime)",
        threads=model.thread_count(settings),
        dtype=model.dtype,
        batch=model.batch,
        channels_last=False,
        torch_version="",
        samples=tuple(samples),
        warmup_runs=warmup_runs,
        warmup_stable=stable,
        budget_hit=hit,
        macs=model.macs,
        layers=_layers(nodes, rows, model.batch, model.dtype) if nodes else (),
        layer_runs=layer_runs,
        runtime=ONNXRUNTIME,
        runtime_version=ort.__version__,
        graph_optimization=GRAPH_OPTIMIZATION,
        execution_provider=PROVIDERS[device],
        export=model.export,
        nodes=nodes,
    )
