"""Hand-built ONNX models for the deploy tests, written with the ``onnx.helper`` API: a node or a
few, real-valued weights drawn from a seeded generator (so no two are equal), saved to a file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT = TensorProto.FLOAT


def weight(name: str, *dims: int, seed: int = 0) -> onnx.TensorProto:
    """A float initializer of ``dims`` with random values."""
    values = np.random.default_rng(seed + len(name)).standard_normal(dims).astype(np.float32)
    return numpy_helper.from_array(values, name)


def ints(name: str, *values: int) -> onnx.TensorProto:
    """An int64 initializer (a shape, axes, indices)."""
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def scalar(name: str, value: float) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(value, dtype=np.float32), name)


def floats(name: str, *values: float) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.float32), name)


def model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Mapping[str, Sequence[int | str | None]],
    outputs: Sequence[str] | Mapping[str, Sequence[int | str | None]],
    initializers: Sequence[onnx.TensorProto] = (),
    *,
    opset: int = 17,
    domains: Mapping[str, int] | None = None,
    metadata: Mapping[str, str] | None = None,
    types: Mapping[str, int] | None = None,
) -> onnx.ModelProto:
    """A model of ``nodes``; inputs by name and dims (a name for a dynamic dim); outputs by
    name and dims (float), or by name alone (typed and shaped by inference); ``types``
    overrides an input's element type (float by default)."""
    types = types or {}
    given = outputs if isinstance(outputs, Mapping) else {}
    graph = helper.make_graph(
        list(nodes),
        "test",
        [helper.make_tensor_value_info(n, types.get(n, FLOAT), list(d)) for n, d in inputs.items()],
        [
            helper.make_tensor_value_info(n, FLOAT, list(given[n]))
            if n in given
            else helper.make_empty_tensor_value_info(n)
            for n in outputs
        ],
        list(initializers),
    )
    opsets = [helper.make_opsetid("", opset)]
    opsets += [helper.make_opsetid(d, v) for d, v in (domains or {}).items()]
    made = helper.make_model(graph, opset_imports=opsets)
    made.ir_version = min(made.ir_version, 10)
    helper.set_model_props(made, dict(metadata or {}))
    return made if given else onnx.shape_inference.infer_shapes(made)


def save(made: onnx.ModelProto, folder: Path, name: str = "model.onnx") -> str:
    path = folder / name
    onnx.save(made, str(path))
    return str(path)


def node(op: str, inputs: Sequence[str], outputs: Sequence[str] = ("y",), **attrs: object):
    """A node named after its op (lower case)."""
    return helper.make_node(op, list(inputs), list(outputs), name=op.lower(), **attrs)
