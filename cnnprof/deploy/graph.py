"""An ONNX graph counted by formula: a row per node that does arithmetic (named by the node), its
MACs and FLOPs from `formulas.FORMULAS` on the inferred dims, per image; parameters from the
initializers the nodes consume as weights, each once; initializers that only set shapes, indices
or scalars listed apart as constants; free ops listed; ops with no formula, and any op of a
custom domain, listed as unsupported (the count is then incomplete)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cnnprof.arch.model import Shape, frozen, shape_of
from cnnprof.deploy.formulas import FORMULAS, FREE, Work
from cnnprof.deploy.load import DEFAULT_DOMAINS, load_graph
from cnnprof.deploy.shapes import Graph, Node, Unshaped, shaped
from cnnprof.errors import LoadError
from cnnprof.results.profile import LayerCost, Profile

if TYPE_CHECKING:
    from onnx import ModelProto

# The metadata keys cnnprof's exporter writes, and what a count shows of them.
SOURCE_KEY = "cnnprof.source"
EXPORTER_KEY = "cnnprof.exporter"
FOLDED_PARAMS_KEY = "cnnprof.folded_params"
FOLDED_BUFFERS_KEY = "cnnprof.folded_buffers"
# A count in the metadata above this is not a real model's.
MAX_COUNT = 10**13


def per_image(dims: tuple[int, ...], batch: int) -> tuple[int, ...]:
    """Dims without the leading batch (kept when the tensor does not lead with it)."""
    return dims[1:] if dims and dims[0] == batch else dims


@dataclass(frozen=True)
class Holdings:
    """Which values read from initializers are parameters (value name → the node that first
    uses it and its role: weight, bias, norm or buffer) and which initializers are constants
    (settings, indices, scalars). A value is an initializer or an Identity of one: torch's
    exporter writes parameters of equal values once and each other one as such an Identity, so
    each stands for a parameter of its own (a tied weight is the same initializer read twice)."""

    roles: Mapping[str, tuple[str, str]]
    constants: tuple[tuple[str, int], ...]


def _role(node: Node, index: int, graph: Graph) -> str | None:
    """The role of the initializer at ``node``'s input ``index``; None: a constant."""
    tensor = graph.initializers[graph.held(node.inputs[index]) or ""]
    formula = FORMULAS.get(node.op_type) if node.domain in DEFAULT_DOMAINS else None
    if formula is not None and index in formula.roles:
        return formula.roles[index]
    settings = formula.operands if formula is not None else FREE.get(node.op_type, frozenset())
    if index in settings or not tensor.real or tensor.elements <= 1:
        return None
    return "bias" if node.op_type in ("Add", "Sub") else "weight"


def holdings(graph: Graph) -> Holdings:
    """Each value read from an initializer: a parameter where any node uses it as one (held by
    the first such node); initializers no parameter reads are constants (one no node reads
    too)."""
    roles: dict[str, tuple[str, str]] = {}
    for node in graph.nodes:
        if node.outputs and node.outputs[0] in graph.aliases:
            continue  # an Identity of an initializer: its readers say what it is
        for index, value in enumerate(node.inputs):
            if graph.held(value) is not None and value not in roles:
                role = _role(node, index, graph)
                if role is not None:
                    roles[value] = (node.name, role)
    used = {graph.held(value) for value in roles}
    constants = tuple(
        (name, tensor.elements) for name, tensor in graph.initializers.items() if name not in used
    )
    return Holdings(frozen(roles), constants)


def _shape_at(graph: Graph, names: Sequence[str]) -> Shape:
    """The per-image shape of the first of ``names`` that is an activation with known dims."""
    for name in names:
        if name and graph.held(name) is None and graph.known(name):
            return shape_of(per_image(graph.shape(name), graph.batch))
    return Shape(0, 0, 0)


def _row(node: Node, work: Work, graph: Graph, held: Mapping[str, int]) -> LayerCost:
    """A node's row: its work per image, the parameters it holds."""
    x, y = _shape_at(graph, node.inputs), _shape_at(graph, node.outputs)
    b = graph.batch
    return LayerCost(
        path=node.name,
        op=work.op,
        in_shape=x,
        out_shape=y,
        kernel=work.kernel,
        weight_params=held.get("weight", 0),
        bias_params=held.get("bias", 0),
        norm_params=held.get("norm", 0),
        buffers=held.get("buffer", 0),
        macs=work.macs // b,
        flops_by_category=frozen({k: v // b for k, v in work.flops.items()}),
        live=x.elements + y.elements,
    )


@dataclass(frozen=True)
class Counted:
    """What the nodes add up to: rows, free op types, unsupported ones (op → nodes)."""

    layers: tuple[LayerCost, ...]
    ignored: tuple[str, ...]
    unsupported: tuple[str, ...]


def _qualified(node: Node) -> str:
    return node.op_type if node.domain in DEFAULT_DOMAINS else f"{node.domain}::{node.op_type}"


def _on_constants(node: Node, graph: Graph) -> bool:
    """Arithmetic on constants alone (shape arithmetic), which a runtime folds before it runs."""
    outputs = [o for o in node.outputs if o]
    return bool(outputs) and all(o in graph.folded for o in outputs)


def count_nodes(graph: Graph, hold: Holdings) -> Counted:
    """Every node costed, free, or unsupported (no formula, a custom domain, or dims shape
    inference could not tell); a node that holds parameters is a row whatever it is."""
    rows, ignored = [], set()
    missing: Counter[str] = Counter()
    first: dict[str, str] = {}
    for node in graph.nodes:
        held: Counter[str] = Counter()
        for name in dict.fromkeys(node.inputs):
            owner = hold.roles.get(name)
            if owner is not None and owner[0] == node.name:
                held[owner[1]] += graph.initializers[graph.held(name) or ""].elements
        work = None
        formula = FORMULAS.get(node.op_type) if node.domain in DEFAULT_DOMAINS else None
        if formula is not None and _on_constants(node, graph):
            ignored.add(f"{node.op_type} (on constants)")
        elif formula is not None:
            try:
                work = formula.cost(node, graph)
            except (Unshaped, IndexError, ValueError, TypeError):
                missing[f"{node.op_type} (dims not inferred)"] += 1
                first.setdefault(f"{node.op_type} (dims not inferred)", node.name)
        elif node.domain in DEFAULT_DOMAINS and node.op_type in FREE:
            ignored.add(node.op_type)
        else:
            missing[_qualified(node)] += 1
            first.setdefault(_qualified(node), node.name)
        if work is not None or held:
            rows.append(_row(node, work or Work("functional"), graph, held))
    unsupported = tuple(f"{op} ×{n} (first: {first[op]})" for op, n in sorted(missing.items()))
    return Counted(tuple(rows), tuple(sorted(ignored)), unsupported)


def _metadata_count(graph: Graph, key: str, file: str) -> int:
    """A count the exporter wrote in the metadata (0 when absent); refused unless a whole
    number in range."""
    text = graph.metadata.get(key)
    if text is None:
        return 0
    if not text.isdigit() or int(text) > MAX_COUNT:
        raise LoadError(f"{file}: metadata {key}={text[:40]!r}: expected a whole number ≥ 0")
    return int(text)


def origin(graph: Graph) -> tuple[tuple[str, str], ...]:
    """Where the file came from, as a count shows it: its opset, its producer, and the model and
    exporter cnnprof's exporter recorded."""
    found = [
        ("opset", str(graph.opsets.get("", graph.opsets.get("ai.onnx", 0)))),
        ("producer", graph.producer),
        ("exported from", graph.metadata.get(SOURCE_KEY, "")),
        ("exporter", graph.metadata.get(EXPORTER_KEY, "")),
    ]
    return tuple((key, value[:200]) for key, value in found if value)


def profile_graph(
    graph: Graph, *, model: str, dtype: str = "float32", input_from: str = ""
) -> Profile:
    """The `Profile` of a shaped graph: rows per image, totals at the graph's batch."""
    hold = holdings(graph)
    counted = count_nodes(graph, hold)
    inputs = tuple(per_image(graph.shape(n), graph.batch) for n in graph.inputs)
    outputs = tuple(
        (name if len(graph.outputs) > 1 else "", per_image(graph.shape(name), graph.batch))
        for name in graph.outputs
        if graph.known(name)
    )
    return Profile(
        model=model,
        source="onnx",
        input=shape_of(inputs[0]) if inputs else Shape(0, 0, 0),
        layers=counted.layers,
        batch=graph.batch,
        dtype=dtype,
        ignored=counted.ignored,
        unsupported=counted.unsupported,
        inputs=inputs,
        outputs=outputs,
        returned=shape_of(outputs[0][1]) if outputs else None,
        input_from=input_from,
        constants=hold.constants,
        folded_params=_metadata_count(graph, FOLDED_PARAMS_KEY, model),
        folded_buffers=_metadata_count(graph, FOLDED_BUFFERS_KEY, model),
        origin=origin(graph),
    )


def count_model(
    proto: ModelProto,
    *,
    name: str,
    batch: int = 1,
    input: tuple[tuple[int, ...], ...] | None = None,
    dtype: str = "float32",
) -> Profile:
    """The count of a model in memory (read by `load_graph`, or exported here and checked with
    ``onnx.checker``), called ``name``, at ``batch``, its dynamic input dims bound by ``input``
    (one shape per graph input, batch left out)."""
    graph = shaped(proto, batch=batch, input=input, file=name)
    given = "--input" if input is not None else "the file"
    return profile_graph(graph, model=name, dtype=dtype, input_from=given)


def count(
    path: str | os.PathLike[str],
    *,
    batch: int = 1,
    input: tuple[tuple[int, ...], ...] | None = None,
    dtype: str = "float32",
) -> Profile:
    """The count of the ONNX file at ``path``, its weights never read (see `count_model`)."""
    proto = load_graph(path)
    return count_model(proto, name=os.fspath(path), batch=batch, input=input, dtype=dtype)
