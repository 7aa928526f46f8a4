"""An ONNX model as a frozen `Graph` with every tensor's dims inferred: its dynamic input dims
bound (the batch from ``--batch``, the rest from ``--input``), then ``onnx``'s shape inference.
What counting reads, and what a runtime's fused graph is derived from; no weights in it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from math import prod
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cnnprof.arch.model import frozen
from cnnprof.errors import LoadError, OptionError

if TYPE_CHECKING:
    from onnx import ModelProto

# Element types that hold real numbers (onnx.TensorProto: FLOAT, DOUBLE, FLOAT16, BFLOAT16).
FLOAT_TYPES = frozenset({1, 11, 10, 16})


@dataclass(frozen=True)
class Tensor:
    """An initializer, or a constant held in a node's attribute: its name, dims and element type
    (``onnx.TensorProto`` numbering); never its data."""

    name: str
    dims: tuple[int, ...]
    dtype: int

    @property
    def elements(self) -> int:
        return prod(self.dims)

    @property
    def real(self) -> bool:
        """Floating point: a weight may be; an integer or boolean tensor never is."""
        return self.dtype in FLOAT_TYPES


@dataclass(frozen=True)
class Node:
    """One node: its op, where it reads and writes, its attributes (plain values; a tensor as a
    `Tensor`, a subgraph as its name)."""

    name: str
    op_type: str
    domain: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: Mapping[str, Any]

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attributes.get(key, default)


@dataclass(frozen=True)
class Graph:
    """A model's graph after shape inference: nodes in topological order, initializers (no
    data), inputs and outputs, the dims of every tensor whose shape was inferred (value name →
    dims; a tensor left out is of unknown shape), the opsets, the producer and the metadata."""

    name: str
    nodes: tuple[Node, ...]
    initializers: Mapping[str, Tensor]
    inputs: tuple[str, ...]  # graph inputs that are not initializers
    outputs: tuple[str, ...]
    dims: Mapping[str, tuple[int, ...]]
    opsets: Mapping[str, int]
    producer: str
    metadata: Mapping[str, str]
    batch: int  # the leading dim of the inputs, as bound
    # Identity outputs of initializers (torch's exporter writes equal initializers once and
    # passes the copy through an Identity) → the initializer
    aliases: Mapping[str, str] = field(default_factory=frozen)
    # values computed from constants alone (shape arithmetic), as a runtime folds them
    folded: frozenset[str] = frozenset()

    def held(self, name: str) -> str | None:
        """The initializer a value is (itself, or through Identity nodes), else None."""
        name = self.aliases.get(name, name)
        return name if name in self.initializers else None

    def shape(self, name: str) -> tuple[int, ...]:
        """A tensor's dims; `Unshaped` when inference could not tell them."""
        source = self.held(name)
        if source is not None:
            return self.initializers[source].dims
        if name not in self.dims:
            raise Unshaped(name)
        return self.dims[name]

    def known(self, name: str) -> bool:
        return self.held(name) is not None or name in self.dims


class Unshaped(Exception):
    """A tensor whose dims shape inference could not tell."""


def _dims(value_type: Any) -> list[int | str | None] | None:
    """A value's dims: each an int, a symbolic name, or None (unknown); None: rank unknown."""
    if not value_type.HasField("tensor_type") or not value_type.tensor_type.HasField("shape"):
        return None
    return [
        d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
        for d in value_type.tensor_type.shape.dim
    ]


def _graph_inputs(model: ModelProto) -> list[Any]:
    held = {t.name for t in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in held]


def _dims_text(dims: Sequence[int | str | None]) -> str:
    return "×".join("?" if d is None else str(d) for d in dims)


def bind(
    model: ModelProto,
    *,
    names: Sequence[str],
    batch: int,
    input: tuple[tuple[int, ...], ...] | None,
    file: str,
) -> int:
    """The dynamic dims of the graph inputs ``names`` bound in place: the leading one to
    ``batch``, the rest to ``input`` (one C,H,W… per input); fixed dims must agree. Returns the
    batch as bound (a file that fixes its batch keeps it, when ``batch`` is the default 1)."""
    by_name = {v.name: v for v in model.graph.input}
    values = [by_name[name] for name in names]
    if input is not None and len(input) != len(values):
        raise OptionError(
            f"--input gives {len(input)} shape(s); {file} has {len(values)} input(s): "
            + ", ".join(v.name for v in values)
        )
    bound = None
    for i, value in enumerate(values):
        dims = _dims(value.type)
        if dims is None:
            raise LoadError(f"{file}: input '{value.name}' has no shape (rank unknown)")
        if not dims:
            continue  # a scalar: nothing to bind
        lead = _bind_batch(value.name, dims[0], batch, file)
        bound = lead if bound is None else bound
        rest = _bind_rest(value.name, dims, None if input is None else input[i], file)
        shape = value.type.tensor_type.shape.dim
        for d, size in zip(shape, [lead, *rest], strict=True):
            d.dim_value = size
    return bound or batch


def _bind_batch(name: str, lead: int | str | None, batch: int, file: str) -> int:
    if not isinstance(lead, int):
        return batch
    if batch not in (1, lead):
        raise OptionError(
            f"--batch {batch}: {file} fixes input '{name}' at batch {lead} (export it with a "
            "dynamic batch dim to count another)"
        )
    return lead


def _bind_rest(
    name: str, dims: list[int | str | None], given: tuple[int, ...] | None, file: str
) -> list[int]:
    rest = dims[1:]
    if given is None:
        if all(isinstance(d, int) for d in rest):
            return rest  # type: ignore[return-value]
        dynamic = ", ".join(str(d or "?") for d in rest if not isinstance(d, int))
        raise LoadError(
            f"{file}: input '{name}' has dims {_dims_text(dims)} ({dynamic} not fixed): give "
            f"--input with {len(rest)} sizes after the batch, e.g. --input "
            + ",".join(str(d) if isinstance(d, int) else "224" for d in rest)
        )
    if len(given) != len(rest) or any(
        isinstance(d, int) and d != g for d, g in zip(rest, given, strict=False)
    ):
        raise OptionError(
            f"--input {','.join(map(str, given))}: input '{name}' of {file} is "
            f"{_dims_text(dims)} (batch first)"
        )
    return list(given)


def _attribute(attr: Any) -> Any:
    """An attribute as a plain value: numbers and text as such, lists as tuples, a tensor as a
    `Tensor`, a subgraph by its name."""
    from onnx import AttributeProto, helper

    if attr.type == AttributeProto.TENSOR:
        return Tensor(attr.t.name, tuple(attr.t.dims), attr.t.data_type)
    if attr.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS):
        return f"<subgraph {attr.name}>"
    value = helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value)
    return value


def _node(proto: Any, index: int) -> Node:
    return Node(
        name=proto.name or f"{proto.op_type}_{index}",
        op_type=proto.op_type,
        domain=proto.domain,
        inputs=tuple(proto.input),
        outputs=tuple(proto.output),
        attributes=frozen({a.name: _attribute(a) for a in proto.attribute}),
    )


def _unique(nodes: list[Node]) -> tuple[Node, ...]:
    """Node names made unique (a repeated name gets ``#k``): rows are named by node."""
    seen: dict[str, int] = {}
    out = []
    for node in nodes:
        k = seen.get(node.name, 0)
        seen[node.name] = k + 1
        out.append(node if k == 0 else replace(node, name=f"{node.name}#{k}"))
    return tuple(out)


def shaped(
    model: ModelProto,
    *,
    batch: int = 1,
    input: tuple[tuple[int, ...], ...] | None = None,
    file: str = "model.onnx",
) -> Graph:
    """``model``'s `Graph` with its inputs bound (`bind`, on a copy without the weights' data:
    ``model`` is not changed) and every tensor's dims inferred where ``onnx`` can tell them."""
    from cnnprof.deploy.fold import fold, skeleton

    inputs = tuple(v.name for v in _graph_inputs(model))
    copy = skeleton(model)
    bound = bind(copy, names=inputs, batch=batch, input=input, file=file)
    folded = fold(copy, file)
    g = model.graph
    held = {t.name: Tensor(t.name, tuple(t.dims), t.data_type) for t in g.initializer}
    aliases: dict[str, str] = {}
    for n in folded.nodes:
        if n.op_type == "Identity" and n.input and n.output:
            source = aliases.get(n.input[0], n.input[0])
            if source in held:
                aliases[n.output[0]] = source
    return Graph(
        name=g.name,
        nodes=_unique([_node(n, i) for i, n in enumerate(folded.nodes)]),
        initializers=MappingProxyType(held),
        inputs=inputs,
        outputs=tuple(v.name for v in g.output),
        dims=folded.dims,
        opsets=frozen({o.domain or "": o.version for o in model.opset_import}),
        producer=" ".join(filter(None, [model.producer_name, model.producer_version])),
        metadata=frozen({p.key: p.value for p in model.metadata_props}),
        batch=bound,
        aliases=MappingProxyType(aliases),
        folded=folded.values,
    )
