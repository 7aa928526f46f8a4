"""An ONNX model's nodes as ONNX Runtime's rewrites read them (`cnnprof.analytic.ort_calls.Node`):
op type, the activation tensors each reads, and the shapes inferred by the `onnx` package."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cnnprof.analytic.ort_calls import Node
from cnnprof.errors import MissingExtra


def onnx_modules(needs: str = "ONNX work") -> tuple[Any, Any]:
    """numpy and onnx, imported now; `MissingExtra` (the install hint) when onnx is missing."""
    try:
        import numpy
        import onnx
        import onnx.numpy_helper
    except ImportError:
        raise MissingExtra(f"{needs} needs onnx: pip install 'cnnprof[onnx]'") from None
    return numpy, onnx


def onnxruntime_module(needs: str = "--runtime onnxruntime") -> Any:
    """onnxruntime, imported now; `MissingExtra` (the install hint) when it is missing."""
    try:
        import onnxruntime
    except ImportError:
        raise MissingExtra(f"{needs} needs onnxruntime: pip install 'cnnprof[onnx]'") from None
    return onnxruntime


def _shape(value: Any, batch: int) -> tuple[int, ...]:
    dims = value.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") else batch for d in dims)


def _shapes(model: Any, batch: int) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape, dynamic dimensions bound to ``batch``."""
    _, onnx = onnx_modules()
    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    found = {v.name: _shape(v, batch) for v in [*graph.input, *graph.value_info, *graph.output]}
    for init in graph.initializer:
        found[init.name] = tuple(init.dims)
    return found


def _ints(node: Any, name: str) -> tuple[int, ...]:
    for attribute in node.attribute:
        if attribute.name == name:
            return tuple(attribute.ints)
    return ()


def graph_nodes(model: Any, batch: int = 1) -> tuple[Node, ...]:
    """The nodes of an ONNX ``model`` (a ModelProto) in its topological order, for
    `cnnprof.analytic.ort_calls.kernels`."""
    shapes = _shapes(model, batch)
    weights = {init.name for init in model.graph.initializer}
    constants = {n.output[0] for n in model.graph.node if n.op_type == "Constant" and n.output}
    fixed = weights | constants
    return tuple(_node(n, i, shapes, fixed) for i, n in enumerate(model.graph.node))


def _node(node: Any, index: int, shapes: Mapping[str, tuple[int, ...]], fixed: set[str]) -> Node:
    inputs = tuple(name for name in node.input if name and name not in fixed)
    first = inputs[0] if inputs else ""
    output = node.output[0] if node.output else f"{node.name or index}:out"
    weight = ()
    if node.op_type in ("Conv", "FusedConv") and len(node.input) > 1:
        weight = shapes.get(node.input[1], ())
    return Node(
        name=node.name or f"{node.op_type}_{index}",
        op=node.op_type,
        inputs=inputs,
        output=output,
        in_shape=shapes.get(first, ()),
        out_shape=shapes.get(output, ()),
        weight=tuple(weight),
        kernel=_ints(node, "kernel_shape"),
    )
