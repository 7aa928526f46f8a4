"""Shape inference that sees through shape arithmetic: the values a graph computes from constants
alone (``Shape → Gather → Div → Mul`` giving a ``Slice``'s bounds: torch's exporter writes a
``chunk`` so) are evaluated with onnx's reference evaluator and handed to the next round of
inference as initializers, until no new one appears. onnx's own data propagation stops at the
first ``Div``, leaving every later tensor of unknown shape. An ``If`` whose condition is so
computed is replaced by the branch it takes (`cnnprof.deploy.branch`). Small values only:
weights are never read (an external one is not even in memory)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from math import prod
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cnnprof.deploy.branch import inline_known
from cnnprof.errors import LoadError

if TYPE_CHECKING:
    import numpy as np
    from onnx import ModelProto, NodeProto

# A value larger than this is data, not a shape or a setting: never evaluated nor folded.
MAX_ELEMENTS = 4096
# Rounds of inference and folding (each round may reveal the shapes the next folds).
MAX_ROUNDS = 8
# Ops never evaluated: random, or with subgraphs.
NOT_EVALUATED = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"}
    | {"Bernoulli", "If", "Loop", "Scan"}
)
DEFAULT_DOMAINS = frozenset({"", "ai.onnx"})


def infer(model: ModelProto, file: str) -> ModelProto:
    """``model`` with the shapes onnx infers; contradictory shapes refused in one line."""
    from onnx import shape_inference

    try:
        return shape_inference.infer_shapes(model, check_type=False, data_prop=True)
    except Exception as exc:  # InferenceError: shapes that contradict each other
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise LoadError(f"{file}: shapes cannot be inferred ({first})") from None


def known_dims(model: ModelProto) -> dict[str, tuple[int, ...]]:
    """Every value whose dims inference fixed, by name."""
    g = model.graph
    out: dict[str, tuple[int, ...]] = {}
    for value in [*g.input, *g.value_info, *g.output]:
        t = value.type
        if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
            continue
        dims = t.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            out[value.name] = tuple(d.dim_value for d in dims)
    return out


def skeleton(model: ModelProto) -> ModelProto:
    """A copy of ``model`` without the data of its large initializers (nor of any external one):
    each is a graph input of its type and dims instead, all that inference reads of it."""
    from onnx import ModelProto as Proto
    from onnx import helper
    from onnx.external_data_helper import uses_external_data

    out = Proto(ir_version=model.ir_version, producer_name=model.producer_name)
    out.opset_import.extend(model.opset_import)
    out.functions.extend(model.functions)
    g, source = out.graph, model.graph
    g.name = source.name
    for field in ("node", "input", "output", "value_info"):
        getattr(g, field).extend(getattr(source, field))
    listed = {v.name for v in source.input}
    for t in source.initializer:
        if not uses_external_data(t) and prod(t.dims) <= MAX_ELEMENTS:
            g.initializer.append(t)
        elif t.name not in listed:
            g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    return out


def _small_initializers(model: ModelProto) -> dict[str, np.ndarray]:
    from onnx import numpy_helper
    from onnx.external_data_helper import uses_external_data

    return {
        t.name: numpy_helper.to_array(t)
        for t in model.graph.initializer
        if not uses_external_data(t) and prod(t.dims) <= MAX_ELEMENTS
    }


def _evaluate(node: NodeProto, values: Mapping[str, Any], opsets: dict[str, int]) -> list[Any]:
    """``node``'s outputs from its inputs' values; [] when it cannot be evaluated."""
    from onnx.reference import ReferenceEvaluator

    names = [n for n in node.input if n]
    if any(n not in values or values[n].size > MAX_ELEMENTS for n in names):
        return []
    try:
        return list(
            ReferenceEvaluator(node, opsets=opsets).run(None, {n: values[n] for n in names})
        )
    except Exception:  # an op the evaluator lacks or refuses: the value stays unknown
        return []


def _shape_value(node: NodeProto, dims: Mapping[str, tuple[int, ...]]) -> list[Any]:
    """A ``Shape`` or ``Size`` of a tensor whose dims are known."""
    import numpy as np
    from onnx import helper

    if node.input[0] not in dims:
        return []
    shape = dims[node.input[0]]
    if node.op_type == "Size":
        return [np.array(prod(shape), dtype=np.int64)]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    start, end = attrs.get("start", 0), attrs.get("end", len(shape))
    return [np.array(shape[start:end], dtype=np.int64)]


def _round(
    model: ModelProto, values: dict[str, Any], dims: Mapping[str, tuple[int, ...]]
) -> dict[str, Any]:
    """The values this round newly computes from constants."""
    opsets = {o.domain: o.version for o in model.opset_import if o.domain in DEFAULT_DOMAINS}
    found: dict[str, Any] = {}
    for node in model.graph.node:
        if node.domain not in DEFAULT_DOMAINS or node.op_type in NOT_EVALUATED:
            continue
        if all(o in values for o in node.output if o):
            continue
        if node.op_type in ("Shape", "Size"):
            outs = _shape_value(node, dims)
        else:
            outs = _evaluate(node, values, opsets)
        for name, value in zip(node.output, outs, strict=False):
            if name and getattr(value, "size", MAX_ELEMENTS + 1) <= MAX_ELEMENTS:
                values[name] = found[name] = value
    return found


def _with_values(model: ModelProto, folded: Mapping[str, Any]) -> ModelProto:
    """A copy of ``model`` with the ``folded`` values as initializers, their nodes removed."""
    from onnx import ModelProto as Proto
    from onnx import numpy_helper

    copy = Proto()
    copy.CopyFrom(model)
    kept = [n for n in copy.graph.node if not all(o in folded for o in n.output if o)]
    del copy.graph.node[:]
    copy.graph.node.extend(kept)
    copy.graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in folded.items())
    return copy


@dataclass(frozen=True)
class Folded:
    """What folding tells of a model: the dims of every value inference could tell, the names of
    the values computed from constants, and the nodes (each If whose condition is known replaced
    by the branch it takes)."""

    dims: Mapping[str, tuple[int, ...]]
    values: frozenset[str]
    nodes: tuple[NodeProto, ...]


def fold(model: ModelProto, file: str) -> Folded:
    """``model`` (inputs bound) folded: inference, helped by the values computed from constants
    and by the branches of the Ifs they decide (`inline_known`), round after round until nothing
    new appears (a round that takes an If is not one of the ``MAX_ROUNDS``: each takes one away,
    so they end)."""
    values = _small_initializers(model)
    folded: dict[str, Any] = {}
    dims = known_dims(infer(model, file))
    rounds = 0
    while rounds < MAX_ROUNDS:
        new = _round(model, values, dims)
        taken = inline_known(model, values)
        if not new and taken is None:
            break
        if taken is None:
            rounds += 1
        else:
            model = taken
        folded.update(new)
        dims = known_dims(infer(_with_values(model, folded), file))
    dims.update({name: tuple(value.shape) for name, value in folded.items()})
    return Folded(MappingProxyType(dims), frozenset(folded), tuple(model.graph.node))
