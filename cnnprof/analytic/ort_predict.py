"""A model's latency under ONNX Runtime on a device profile calibrated in it: the kernels ONNX
Runtime runs for the model's graph (`cnnprof.analytic.ort_calls`), each predicted by the
profile's model of its kind, plus what the session adds per run and per node. Pure Python.

The graph is an ONNX file's own nodes where there is one; a counted profile's rows otherwise,
each row written as the nodes an exporter writes for it (a conv unit: Conv, BatchNormalization,
the residual Add, the activation; a squeeze-excite: pool, two 1×1 convolutions, gate, multiply).
A row's activation is read from its FLOPs per element, which leaves 5 ambiguous (SiLU, GELU,
hard-swish, tanh): it is taken as SiLU, the commonest of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from cnnprof.analytic.ort_calls import FREE, Kernel, Node, kernels
from cnnprof.analytic.predictor import ACTIVATION_OPS, POOL_OPS, kernel_seconds, sound
from cnnprof.analytic.roofline import layer_estimate
from cnnprof.results.device import Peaks, Prediction, RowPrediction
from cnnprof.results.profile import LayerCost, Profile

SESSION_ROW = "(session)"  # the row a prediction charges a session run's own cost to
ACT_NODES: Mapping[int, tuple[str, ...]] = MappingProxyType(
    {1: ("Relu",), 2: ("Clip",), 4: ("Sigmoid",), 5: ("Sigmoid", "Mul")}
)
POOL_NODES: Mapping[str, str] = MappingProxyType(
    {"maxpool": "MaxPool", "avgpool": "AveragePool", "gap": "GlobalAveragePool"}
)


class _Rows:
    """A profile's rows being written as a chain of nodes."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.nodes: list[Node] = []
        self.x = "input"
        self.made: list[tuple[str, tuple[int, ...]]] = []  # tensors written, with their shapes

    def shape(self, c: int, h: int, w: int) -> tuple[int, ...]:
        return (self.batch, c, h, w)

    def add(
        self,
        row: LayerCost,
        op: str,
        out: tuple[int, ...],
        *,
        extra: tuple[str, ...] = (),
        in_shape: tuple[int, ...] = (),
        weight: tuple[int, ...] = (),
        kernel: tuple[int, ...] = (),
    ) -> str:
        """Append a node reading the current tensor (and ``extra`` ones); its output."""
        name = f"{row.path}#{len(self.nodes)}"
        first = in_shape or self._current_shape()
        inputs = (self.x, *extra)
        self.nodes.append(Node(name, op, inputs, name, first, out, weight, kernel, row.path))
        self.made.append((name, out))
        self.x = name
        return name

    def _current_shape(self) -> tuple[int, ...]:
        return self.made[-1][1] if self.made else ()

    def shortcut(self, shape: tuple[int, ...], skip: int) -> str:
        """An earlier tensor of ``shape`` (a residual's input), not one of the last ``skip``."""
        earlier = self.made[: len(self.made) - skip]
        return next((name for name, s in reversed(earlier) if s == shape), "input")


def _activation(rows: _Rows, row: LayerCost, out: tuple[int, ...]) -> None:
    per_element = round(row.flops_by_category.get("act", 0) / max(row.out_shape.elements, 1))
    ops = ACT_NODES.get(per_element, ("Relu",))
    source = rows.x
    for op in ops:
        extra = (source,) if op == "Mul" else ()
        rows.add(row, op, out, extra=extra)


def _conv(rows: _Rows, row: LayerCost) -> None:
    x, y = row.in_shape, row.out_shape
    area = 1
    for k in row.kernel or (1,):
        area *= k
    per_group = max(1, round(row.macs // max(y.elements, 1) / area))
    start = len(rows.made)
    out = rows.shape(y.c, y.h, y.w)
    in_shape = rows.shape(x.c, x.h, x.w)
    weight = (y.c, per_group, *(row.kernel or (1, 1)))
    rows.add(row, "Conv", out, in_shape=in_shape, weight=weight)
    if row.flops_by_category.get("norm"):
        rows.add(row, "BatchNormalization", out)
    if row.flops_by_category.get("add"):
        rows.add(row, "Add", out, extra=(rows.shortcut(out, len(rows.made) - start + 1),))
    if row.flops_by_category.get("act"):
        _activation(rows, row, out)


def _se(rows: _Rows, row: LayerCost) -> None:
    c, h, w = row.in_shape.c, row.in_shape.h, row.in_shape.w
    squeeze = max(1, row.weight_params // (2 * c))
    source = rows.x
    rows.add(row, "GlobalAveragePool", rows.shape(c, 1, 1))
    rows.add(row, "Conv", rows.shape(squeeze, 1, 1), weight=(squeeze, c, 1, 1))
    rows.add(row, "Relu", rows.shape(squeeze, 1, 1))
    rows.add(row, "Conv", rows.shape(c, 1, 1), weight=(c, squeeze, 1, 1))
    rows.add(row, "Sigmoid", rows.shape(c, 1, 1))
    gate = rows.x
    rows.x = source
    rows.add(row, "Mul", rows.shape(c, h, w), extra=(gate,))


def _pool(rows: _Rows, row: LayerCost) -> None:
    y = row.out_shape
    op = POOL_NODES.get(row.op, "GlobalAveragePool")
    rows.add(row, op, rows.shape(y.c, y.h, y.w), kernel=tuple(row.kernel))


def _fc(rows: _Rows, row: LayerCost) -> None:
    n_in = row.weight_params // max(row.out_shape.c, 1)
    rows.add(row, "Flatten", (rows.batch, n_in), in_shape=(rows.batch, n_in))
    rows.add(row, "Gemm", (rows.batch, row.out_shape.c))


def _elementwise(rows: _Rows, row: LayerCost) -> None:
    y = row.out_shape
    out = rows.shape(y.c, y.h, y.w)
    if row.flops_by_category.get("norm"):
        rows.add(row, "BatchNormalization", out)
    if row.flops_by_category.get("add"):
        rows.add(row, "Add", out, extra=(rows.shortcut(out, 1),))
    if row.flops_by_category.get("act"):
        _activation(rows, row, out)


ROW_NODES: Mapping[str, Callable[[_Rows, LayerCost], None]] = MappingProxyType(
    {
        **dict.fromkeys(("conv", "gconv", "dwconv"), _conv),
        **dict.fromkeys(POOL_OPS, _pool),
        "se": _se,
        "fc": _fc,
        **dict.fromkeys(
            ("norm", "act", "block", "functional", "scale", *ACTIVATION_OPS), _elementwise
        ),
        **dict.fromkeys(("identity", "flatten", "dropout"), lambda rows, row: None),
    }
)


def row_nodes(profile: Profile) -> tuple[tuple[Node, ...], tuple[str, ...]]:
    """A profile's rows as the nodes an exporter writes for them, and the rows no node
    describes (costed on the roofline)."""
    rows = _Rows(profile.batch)
    apart = []
    for row in profile.layers:
        write = ROW_NODES.get(row.op)
        if write is None or (row.kernel and len(row.kernel) != 2):
            apart.append(row.path)
            continue
        write(rows, row)
    return tuple(rows.nodes), tuple(apart)


def predict_graph(
    found: Sequence[Kernel], profile: Profile, device: Peaks, apart: Sequence[str] = ()
) -> Prediction:
    """The prediction from the kernels ONNX Runtime runs, each with what the session adds per
    node (`Peaks.node_s`, which takes off the profiler's own cost in the samples), the run's own
    cost in the last row; rows of ``apart`` and kernels no model covers are costed on the
    roofline (from the profile's row of the same path)."""
    models = device.kernel_models()
    by_path = {row.path: row for row in profile.layers}
    seconds: dict[str, float] = {}
    count: dict[str, int] = {}
    uncovered: list[str] = list(apart)
    for kernel in found:
        seconds.setdefault(kernel.row, 0.0)
        count[kernel.row] = count.get(kernel.row, 0) + 1
        if kernel.call is not None and kernel.call.kind in models:
            own = kernel_seconds(models[kernel.call.kind], kernel.call.x)
            seconds[kernel.row] += max(own + device.node_s, 0.0)
        elif kernel.op in FREE:
            seconds[kernel.row] += max(device.node_s, 0.0)
        elif kernel.row not in uncovered:
            uncovered.append(kernel.row)
    rows = [RowPrediction(path, _op(by_path, path), s, count[path]) for path, s in seconds.items()]
    rows = [r for r in rows if r.path not in uncovered]
    for path in uncovered:
        row = by_path.get(path)
        guess = 0.0 if row is None else _roofline(row, profile, device)
        rows.append(RowPrediction(path, _op(by_path, path), guess, 0, on_roofline=True))
    rows.append(RowPrediction(SESSION_ROW, "session", device.run_s, 0))
    return Prediction(
        profile.model, profile.batch, profile.dtype, device.device_name, device.threads, tuple(rows)
    )


def _op(by_path: Mapping[str, LayerCost], path: str) -> str:
    row = by_path.get(path)
    return row.op if row is not None else "node"


def _roofline(row: LayerCost, profile: Profile, device: Peaks) -> float:
    return layer_estimate(
        row, device.roofs, profile.batch, profile.dtype_bytes, footprint=profile.bytes_moved
    ).seconds


def predict(profile: Profile, device: Peaks, nodes: Sequence[Node] | None = None) -> Prediction:
    """``profile``'s latency under ONNX Runtime on ``device``: from the graph's ``nodes`` when
    given (an ONNX file's), else from the profile's rows; `sound`, or `UnsoundPrediction`."""
    apart: tuple[str, ...] = ()
    if nodes is None:
        nodes, apart = row_nodes(profile)
    found = kernels(nodes, device.layout_block)
    return sound(lambda: predict_graph(found, profile, device, apart))
