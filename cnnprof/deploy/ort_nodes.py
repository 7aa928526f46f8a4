"""An ONNX graph's nodes as ONNX Runtime's rewrites read them (`cnnprof.analytic.ort_calls.Node`):
from the shaped graph (`cnnprof.deploy.shapes.Graph`), each node's op type, the activation
tensors it reads (initializers and constants left out), and the inferred shapes. Also the lazy
imports ONNX Runtime calibration needs, each with its install hint."""

from __future__ import annotations

from typing import Any

from cnnprof.analytic.ort_calls import Node
from cnnprof.deploy.load import require_onnx
from cnnprof.deploy.shapes import Graph
from cnnprof.deploy.shapes import Node as GraphNode
from cnnprof.errors import MissingExtra


def onnx_modules(needs: str = "ONNX work") -> tuple[Any, Any]:
    """numpy and onnx (with its helper and numpy_helper), imported now; `MissingExtra` (the
    install hint) when onnx is missing."""
    require_onnx(needs)
    import numpy
    import onnx.helper
    import onnx.numpy_helper

    return numpy, onnx


def onnxruntime_module(needs: str = "--runtime onnxruntime") -> Any:
    """onnxruntime, imported now; `MissingExtra` (the install hint) when it is missing."""
    try:
        import onnxruntime
    except ImportError:
        raise MissingExtra.of("onnxruntime", needs) from None
    return onnxruntime


def graph_nodes(graph: Graph) -> tuple[Node, ...]:
    """The nodes of a shaped graph in its topological order, named as its count's rows, for
    `cnnprof.analytic.ort_calls.kernels`; a node of constants only (a Constant, an Identity of
    a weight) or one whose outputs the count computed from constants (shape arithmetic) is
    left out, as ONNX Runtime folds it, and its output read as a constant."""
    fixed = set(graph.initializers)
    kept = []
    for node in graph.nodes:
        outputs = [name for name in node.outputs if name]
        on_constants = bool(outputs) and all(name in graph.folded for name in outputs)
        if on_constants or all(name in fixed for name in node.inputs if name):
            fixed.update(node.outputs)  # constant folded before the graph runs
            continue
        kept.append(_node(node, graph, fixed))
    return tuple(kept)


def _node(node: GraphNode, graph: Graph, fixed: set[str]) -> Node:
    inputs = tuple(name for name in node.inputs if name and name not in fixed)
    output = node.outputs[0] if node.outputs else f"{node.name}:out"
    weight: tuple[int, ...] = ()
    if node.op_type in ("Conv", "FusedConv") and len(node.inputs) > 1:
        held = graph.initializers.get(node.inputs[1])
        weight = held.dims if held is not None else graph.dims.get(node.inputs[1], ())
    return Node(
        name=node.name,
        op=node.op_type,
        inputs=inputs,
        output=output,
        in_shape=graph.dims.get(inputs[0], ()) if inputs else (),
        out_shape=graph.dims.get(output, ()),
        weight=tuple(weight),
        kernel=tuple(node.attr("kernel_shape", ()) or ()),
        domain=node.domain,
        shaped=all(name in graph.dims for name in (*inputs, output)),
    )
