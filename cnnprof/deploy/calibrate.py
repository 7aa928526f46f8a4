"""Calibrating the kernel predictor for ONNX Runtime, with onnx and onnxruntime only (no torch):
synthetic networks (`cnnprof.deploy.networks`) run in ONNX Runtime as a user's model runs
(``ORT_ENABLE_ALL``, the given intra-op threads, sequential execution), every node timed by
ONNX Runtime's own profiler as the network runs it — the nodes after its rewrites, a convolution
carrying its BatchNorm, activation and residual add — and one model fitted per kernel kind
(`cnnprof.analytic.predictor.fit`). Each network is also run whole, without the profiler, as
`cnnprof latency` times it; what a run takes beyond its nodes' kernels is fitted as a line over
the nodes it runs (`Peaks.run_s` + `Peaks.node_s` per node).

A kernel's features are read from the profiler's record of the node (input, weight and output
shapes), so they describe what ran, whatever the runtime fused. The draw is seeded: the same plan
gives the same networks everywhere.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cnnprof.analytic.ort_calls import (
    ACTIVATIONS,
    BINARY,
    FREE,
    LINEAR,
    MOVES,
    POOLS,
    Node,
    conv_call,
)
from cnnprof.analytic.predictor import Call, fit
from cnnprof.deploy.networks import Network, network
from cnnprof.deploy.ort_nodes import onnx_modules, onnxruntime_module
from cnnprof.results.device import KernelModel
from cnnprof.results.runtime import NODE_LIMIT

MIN_LINE = 5  # networks the per-run and per-node line needs (fewer: per node only)
POOL_WINDOW = 9  # the synthetic networks' max pool is 3×3 (the profiler records no attributes)


@dataclass(frozen=True)
class OrtPlan:
    """How many synthetic networks to time at each batch, and how often."""

    batches: tuple[int, ...] = (1, 8)
    networks: tuple[int, ...] = (20, 3)  # per batch, in order
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
    node = Node(op, op, (), "", shapes[0], outs[0])
    if op in ("Conv", "FusedConv") and len(shapes) > 1:
        return conv_call(Node(op, op, (), "", shapes[0], outs[0], weight=shapes[1]))
    if op in POOLS:
        window = POOL_WINDOW if op in ("MaxPool", "AveragePool") else math.prod(shapes[0][2:])
        x, y = shapes[0], outs[0]
        return Call(POOLS[op], (x[0] * x[1], math.prod(x[2:]), math.prod(y[2:]), window))
    if op in LINEAR:
        return Call("linear", (math.prod(outs[0][:-1]), shapes[0][-1], outs[0][-1]))
    if op in ACTIVATIONS:
        return Call("act", (math.prod(outs[0]), ACTIVATIONS[op]))
    kind = "add" if op in BINARY else "reorder" if op in MOVES else None
    return None if kind is None else Call(kind, (math.prod(node.out_shape),))


@dataclass(frozen=True)
class _Timed:
    """One network's profiled nodes (call, median seconds, spread) and whole runs."""

    nodes: tuple[tuple[Call | None, float, float], ...]
    whole_s: float


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
    for _ in range(plan.warmup + plan.passes):
        profiled.run(None, image)
    nodes = []
    for call, times in _profiled(profiled.end_profiling(), plan.warmup):
        median = statistics.median(times)
        low, high = min(times), max(times)
        nodes.append((call, median, (high - low) / median if median else 0.0))
    plain = _session(model, _options(threads))
    runs = []
    for index in range(plan.warmup + plan.passes):
        started = time.perf_counter()
        plain.run(None, image)
        if index >= plan.warmup:
            runs.append(time.perf_counter() - started)
    return _Timed(tuple(nodes), statistics.median(runs))


def _overhead(timed: Sequence[_Timed]) -> tuple[float, float]:
    """What a run adds to its nodes' profiled kernels, as a line over its node count: (seconds
    per run, seconds per node). The profiler's own cost inside each kernel's time makes the
    per-node term negative where it outweighs the session's."""
    counts = [float(len(t.nodes)) for t in timed]
    gaps = [t.whole_s - sum(s for _, s, _ in t.nodes) for t in timed]
    run_s, node_s = (
        0.0,
        sum(g * n for g, n in zip(gaps, counts, strict=True)) / sum(n * n for n in counts),
    )
    if len(timed) >= MIN_LINE and len(set(counts)) > 1:
        slope, intercept = statistics.linear_regression(counts, gaps)
        if intercept >= 0:
            run_s, node_s = intercept, slope
    return run_s, min(max(node_s, -NODE_LIMIT / 2), NODE_LIMIT / 2)


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
    run_s, node_s = _overhead(timed)
    found = MappingProxyType({kind: tuple(v) for kind, v in samples.items()})
    seconds = time.monotonic() - started
    return OrtCalibrated(models, found, run_s, node_s, block, ort.__version__, seconds)
