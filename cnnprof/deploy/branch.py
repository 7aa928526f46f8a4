"""An ``If`` whose condition is known when the graph is counted (a constant, or computed from
shapes: torch's TorchScript exporter writes ``LocalResponseNorm`` so, on its input's rank)
replaced by the nodes of the branch it takes: the branch's outputs become the ``If``'s, its
nodes are named after the ``If`` (``<If>/then/<node>``) and the values it makes renamed alike, so
that rows stay unique and shapes flow on through it. An ``If`` whose condition is not known, or
whose branch holds initializers of its own, is left as it is (the count lists it unsupported)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cnnprof.deploy.load import DEFAULT_DOMAINS

if TYPE_CHECKING:
    from onnx import GraphProto, ModelProto, NodeProto

# The branch an If takes, by the truth of its condition: the attribute and the label in names.
BRANCHES: Mapping[bool, tuple[str, str]] = MappingProxyType(
    {True: ("then_branch", "then"), False: ("else_branch", "else")}
)


def _condition(node: NodeProto, values: Mapping[str, Any]) -> bool | None:
    """The truth of an If's condition where its value is known (one element), else None."""
    value = values.get(node.input[0]) if node.input else None
    if value is None or getattr(value, "size", 0) != 1:
        return None
    return bool(value.reshape(-1)[0])


def _branch(node: NodeProto, taken: bool) -> GraphProto | None:
    """The subgraph ``node`` runs when its condition is ``taken``; None when it holds
    initializers (weights of a branch's own are not inlined)."""
    key = BRANCHES[taken][0]
    graph = next((a.g for a in node.attribute if a.name == key), None)
    if graph is None or graph.initializer or graph.sparse_initializer:
        return None
    return graph


def _subgraphs(node: NodeProto) -> Iterator[GraphProto]:
    """The subgraphs a node holds in its attributes."""
    for attr in node.attribute:
        if attr.HasField("g"):
            yield attr.g
        yield from attr.graphs


def _rename_references(graph: GraphProto, renames: Mapping[str, str]) -> None:
    """A nested subgraph's reads of renamed outer values renamed in place (it may not shadow
    them, so every such name is a reference)."""
    for node in graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        for sub in _subgraphs(node):
            _rename_references(sub, renames)
    for output in graph.output:
        output.name = renames.get(output.name, output.name)


def _renames(node: NodeProto, branch: GraphProto, prefix: str) -> dict[str, str]:
    """Each value the branch makes → its name outside: the If's output it is returned as (the
    first one), else prefixed."""
    made = {name for inner in branch.node for name in inner.output if name}
    renames = {name: f"{prefix}/{name}" for name in made}
    returned: set[str] = set()
    for value, output in zip(branch.output, node.output, strict=False):
        if value.name in made and value.name not in returned and output:
            renames[value.name] = output
            returned.add(value.name)
    return renames


def _inlined(node: NodeProto, branch: GraphProto, label: str) -> list[NodeProto]:
    """The nodes that stand for ``node`` running ``branch``: its nodes renamed, and an Identity
    for each output the branch returns unchanged from outside or returns twice."""
    from onnx import NodeProto as Proto
    from onnx import helper

    name = node.name or "If"
    prefix = f"{name}/{label}"
    renames = _renames(node, branch, prefix)
    nodes = []
    for k, inner in enumerate(branch.node):
        copy = Proto()
        copy.CopyFrom(inner)
        own = inner.name or f"{inner.op_type}_{k}"
        copy.name = prefix + ("" if own.startswith("/") else "/") + own
        copy.input[:] = [renames.get(v, v) for v in inner.input]
        copy.output[:] = [renames.get(v, v) for v in inner.output]
        for sub in _subgraphs(copy):
            _rename_references(sub, renames)
        nodes.append(copy)
    for k, (value, output) in enumerate(zip(branch.output, node.output, strict=False)):
        source = renames.get(value.name, value.name)
        if output and source != output:
            nodes.append(helper.make_node("Identity", [source], [output], name=f"{prefix}/out_{k}"))
    return nodes


def inline_known(model: ModelProto, values: Mapping[str, Any]) -> ModelProto | None:
    """A copy of ``model`` with each top-level If whose condition ``values`` tells replaced by
    the branch it takes; None when there is none."""
    from onnx import ModelProto as Proto

    nodes, taken = [], 0
    for node in model.graph.node:
        own = node.op_type == "If" and node.domain in DEFAULT_DOMAINS
        truth = _condition(node, values) if own else None
        branch = None if truth is None else _branch(node, truth)
        if branch is None:
            nodes.append(node)
            continue
        nodes.extend(_inlined(node, branch, BRANCHES[truth][1]))
        taken += 1
    if not taken:
        return None
    copy = Proto()
    copy.CopyFrom(model)
    del copy.graph.node[:]
    copy.graph.node.extend(nodes)
    return copy
