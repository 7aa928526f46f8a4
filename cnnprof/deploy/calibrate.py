"""Calibrating the kernel predictor for ONNX Runtime, with onnx and onnxruntime only (no torch):
synthetic networks (`cnnprof.deploy.networks`) run in ONNX Runtime as a user's model runs
(``ORT_ENABLE_ALL``, the given intra-op threads, sequential execution), every node timed by
ONNX Runtime's own profiler as the network runs it — the nodes after its rewrites, a convolution
carrying its BatchNorm, activation and residual add — and one model fitted per kernel kind
(`cnnprof.analytic.predictor.fit`). Each network is also run whole, without the profiler, as
`cnnprof latency` times it: what a run takes beyond its nodes' kernels is a session's own cost
per run (`Peaks.run_s`, timed on a graph of one tiny node) and per node (`Peaks.node_s`).

A kernel's features are read from the profiler's record of the node (input, weight and output
shapes), so they describe what ran, whatever the runtime fused. The draw is seeded: the same plan
gives the same networks everywhere.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cnnprof.analytic.ort_calls import CONV_OPS, FREE, Node, conv_call, node_call
from cnnprof.analytic.predictor import Call, fit
from cnnprof.deploy.networks import OPSET, Network, network
from cnnprof.deploy.ort_nodes import onnx_modules, onnxruntime_module
from cnnprof.results.device import KernelModel
from cnnprof.results.runtime import NODE_LIMIT

RUN_PROBES = 50  # runs of a one-node graph that time a session's own cost per run
# the synthetic networks' windows (the profiler records no attributes): 3×3 max, 2×2 average
POOL_WINDOWS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {"MaxPool": (3, 3), "AveragePool": (2, 2)}
)


@dataclass(frozen=True)
class OrtPlan:
    """How many synthetic networks to time at each batch, and how often."""

    batches: tuple[int, ...] = (1, 8)
    networks: tuple[int, ...] = (24, 3)  # per batch, in order
    warmup: int = 2  # untimed runs of each network before …
    passes: int = 4  # … its timed ones
    seed: int = 0


ORT_PLANS: Mapping[str, OrtPlan] = MappingProxyType(
    {
        "default": OrtPlan(),
        "thorough": OrtPlan(networks=(60, 9), passes=6),
        "quick": OrtPlan(batches=(1,), networks=(2,), warmup=1, passes=2),
    }
)


@dataclass(frozen=True)
class OrtCalibrated:
    """What a calibration gives: the kernel models, the session's per-run and per-node cost, the
    blocked layout's channels, the runtime's version, and what it took."""

    models: tuple[KernelModel, ...]
    samples: Mapping[str, tuple[tuple[tuple[float, ...], float], ...]]  # by kind: (x, seconds)
    run_s: float
    node_s: float
    layout_block: int
    version: str
    seconds: float


def _options(threads: int, profile: str | None = None, optimized: str | None = None) -> Any:
    ort = onnxruntime_module("cnnprof device --runtime onnxruntime")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # the NCHWc warning on writing an optimised model
    if profile is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile
    if optimized is not None:
        options.optimized_model_filepath = optimized
    return options


def _session(model: Any, options: Any) -> Any:
    ort = onnxruntime_module("cnnprof device --runtime onnxruntime")
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def layout_block(threads: int, folder: Path) -> int:
    """The channels per block of ONNX Runtime's blocked layout on this CPU (0: it has none): the
    fewest input channels a convolution reorders into blocks (with fewer it reads plain ones)."""
    _, onnx = onnx_modules()
    for channels in (2, 4, 8, 16, 32, 64):
        net = Network(random.Random(0), 1)
        net.c, net.side, net.x = channels, 8, "input"
        net.conv(channels, 1)
        model = net.model()
        dims = model.graph.input[0].type.tensor_type.shape.dim
        dims[1].dim_value, dims[2].dim_value, dims[3].dim_value = channels, 8, 8
        model.graph.output[0].type.tensor_type.shape.Clear()
        path = folder / f"block{channels}.onnx"
        _session(model, _options(threads, optimized=str(path)))
        ops = {(n.domain, n.op_type) for n in onnx.load(str(path)).graph.node}
        if not any(domain == "com.microsoft.nchwc" for domain, _ in ops):
            return 0
        if ("com.microsoft.nchwc", "ReorderInput") in ops:
            return channels
    return 0


def _event_call(op: str, args: Mapping[str, Any]) -> Call | None:
    """A profiled node's kernel call from its recorded shapes; None for one that moves no
    numbers or no model covers."""
    shapes = [tuple(next(iter(s.values()))) for s in args.get("input_type_shape", [])]
    outs = [tuple(next(iter(s.values()))) for s in args.get("output_type_shape", [])]
    if not shapes or not outs or op in FREE:
        return None
    weight = shapes[1] if op in CONV_OPS and len(shapes) > 1 else ()
    node = Node(op, op, (), "", shapes[0], outs[0], weight, POOL_WINDOWS.get(op, ()))
    return conv_call(node) if weight else node_call(node)


@dataclass(frozen=True)
class _Timed:
    """One network's profiled nodes (call, median seconds, spread), and what its whole runs take
    beyond them."""

    nodes: tuple[tuple[Call | None, float, float], ...]
    gap_s: float  # median of a whole run less its modelled kernels' times, pass by pass
    batch: int


def _profiled(path: str, warmup: int) -> list[tuple[Call | None, list[float]]]:
    """Each profiled node's call and its timed runs' seconds (the first ``warmup`` dropped)."""
    events = json.loads(Path(path).read_text(encoding="utf-8"))
    found: dict[str, tuple[Call | None, list[float]]] = {}
    for event in events:
        name = event.get("name", "")
        if event.get("cat") != "Node" or not name.endswith("_kernel_time"):
            continue
        args = event.get("args", {})
        if name not in found:
            found[name] = (_event_call(str(args.get("op_name", "")), args), [])
        found[name][1].append(event["dur"] * 1e-6)
    return [(call, times[warmup:]) for call, times in found.values()]


def _time_network(net: Network, plan: OrtPlan, threads: int, folder: Path) -> _Timed:
    np, _ = onnx_modules()
    model = net.model()
    image = {
        "input": np.random.default_rng(0).standard_normal((net.batch, 3, 224, 224), np.float32)
    }
    profiled = _session(model, _options(threads, profile=str(folder / "profile")))
    plain = _session(model, _options(threads))
    # one session after the other, never in turn: with more than one intra-op thread, each
    # session's threads spin after its run on the cores the other needs (both ran 2× slower)
    for _ in range(plan.warmup + plan.passes):
        profiled.run(None, image)
    runs = []
    for _ in range(plan.warmup + plan.passes):
        started = time.perf_counter()
        plain.run(None, image)
        runs.append(time.perf_counter() - started)
    found = _profiled(profiled.end_profiling(), plan.warmup)
    nodes = []
    for call, times in found:
        median = statistics.median(times)
        nodes.append((call, median, (max(times) - min(times)) / median if median else 0.0))
    modelled = [times for call, times in found if call is not None]
    kernels = [sum(t) for t in zip(*modelled, strict=True)]
    gaps = [whole - k for whole, k in zip(runs[plan.warmup :], kernels, strict=False)]
    return _Timed(tuple(nodes), statistics.median(gaps) if gaps else 0.0, net.batch)


def run_cost(threads: int, runs: int = RUN_PROBES) -> float:
    """Seconds a session's run takes beyond its nodes: the median run of a graph of one Relu on
    one number (after as many untimed runs)."""
    np, onnx = onnx_modules()
    helper, floats = onnx.helper, onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "run",
        [helper.make_tensor_value_info("x", floats, [1])],
        [helper.make_tensor_value_info("y", floats, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    session = _session(model, _options(threads))
    feed = {"x": np.ones(1, np.float32)}
    times = []
    for index in range(2 * runs):
        started = time.perf_counter()
        session.run(None, feed)
        if index >= runs:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def _node_cost(timed: Sequence[_Timed], run_s: float) -> float:
    """What a run adds per node it runs (those that move no numbers among them) beyond its
    modelled kernels' profiled times and ``run_s``: the median over the networks at the smallest
    batch (at larger ones the runs' own noise outweighs it). Negative where the profiler's own
    cost inside each kernel's time outweighs the session's."""
    smallest = min(t.batch for t in timed)
    per_node = [(t.gap_s - run_s) / len(t.nodes) for t in timed if t.batch == smallest and t.nodes]
    node_s = statistics.median(per_node) if per_node else 0.0
    return min(max(node_s, -NODE_LIMIT / 2), NODE_LIMIT / 2)


def calibrate(
    plan: OrtPlan, threads: int, report: Callable[[float], None] = lambda fraction: None
) -> OrtCalibrated:
    """Time the plan's synthetic networks in ONNX Runtime at ``threads`` intra-op threads and fit
    one model per kernel kind."""
    ort = onnxruntime_module("cnnprof device --runtime onnxruntime")
    started = time.monotonic()
    rng = random.Random(plan.seed)
    nets = [
        network(rng, b) for b, n in zip(plan.batches, plan.networks, strict=True) for _ in range(n)
    ]
    timed = []
    with tempfile.TemporaryDirectory(prefix="cnnprof-ort-") as folder:
        block = layout_block(threads, Path(folder))
        for index, net in enumerate(nets):
            timed.append(_time_network(net, plan, threads, Path(folder)))
            report((index + 1) / len(nets))
    samples: dict[str, list[tuple[tuple[float, ...], float]]] = {}
    spreads: dict[str, list[float]] = {}
    for call, seconds, spread in (n for t in timed for n in t.nodes):
        if call is not None:
            samples.setdefault(call.kind, []).append((call.x, seconds))
            spreads.setdefault(call.kind, []).append(spread)
    models = tuple(
        fit(kind, found, statistics.median(spreads[kind]))
        for kind, found in sorted(samples.items())
    )
    run_s = run_cost(threads)
    node_s = _node_cost(timed, run_s)
    found = MappingProxyType({kind: tuple(v) for kind, v in samples.items()})
    seconds = time.monotonic() - started
    return OrtCalibrated(models, found, run_s, node_s, block, ort.__version__, seconds)
