"""Per-node time from ONNX Runtime's own profiler, mapped onto cnnprof's rows.

ORT's profiler writes a JSON trace: one ``Session``/``model_run`` event per run and, inside it,
one ``Node`` event per kernel (``<node>_kernel_time``, its op type in ``args.op_name``, duration
in µs). The nodes ORT runs are those of its optimised graph: a fused kernel (Conv+BatchNorm+Relu
as one FusedConv, or NCHWc's Conv named after its output, ``/1/Relu_output_0_nchwc``) runs
several nodes of the model as given, and ORT adds nodes of its own (layout reorders). Each
optimised node is matched to the given node it is named after (by its name, or by the tensor it
writes), then to the given nodes fused into it: walking back from there through nodes ORT no
longer runs, along tensors that feed only the next node of the chain.

A given node's row: the node's own name where the rows are node names (an ONNX file), else its
module path, read from the scope the TorchScript exporter names it with
(``/features/features.0/Conv`` → ``features.0``), up to the deepest row that holds it.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cnnprof.results.timing import NodeTime

KERNEL_SUFFIX = "_kernel_time"
RENAMED_SUFFIX = "_nchwc"  # ORT's layout transformer names a node after its output + this …
RENAMED_TAGS = 1  # … with a word between at most (a BatchNorm as a convolution: "_bn_nchwc")
# Ops ORT runs inside the kernel before them (a convolution's activation, its residual add)
FUSED_AFTER = frozenset(
    {"Add", "Sum", "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh"}
)


@dataclass(frozen=True)
class GraphNode:
    """One node of an ONNX graph, as far as the mapping needs it."""

    name: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def graph_nodes(graph: bytes | str) -> tuple[GraphNode, ...]:
    """The nodes of a serialised model (or a model file), its weights left unread."""
    from cnnprof.deploy.load import require_onnx

    onnx = require_onnx("--layers --runtime onnxruntime")

    if isinstance(graph, bytes):
        proto = onnx.load_model_from_string(graph)
    else:
        proto = onnx.load_model(graph, load_external_data=False)
    return tuple(
        GraphNode(n.name, n.op_type, tuple(n.input), tuple(n.output)) for n in proto.graph.node
    )


def node_seconds(trace: Iterable[Mapping], skip: int) -> tuple[dict[str, tuple[str, float]], int]:
    """Node name → (its op type as ORT ran it, median seconds per run) over the runs of
    ``trace`` after the first ``skip`` (warm-up), and how many runs that is."""
    events = list(trace)
    runs = sorted(
        (e["ts"], e["ts"] + e["dur"])
        for e in events
        if e.get("cat") == "Session" and e.get("name") == "model_run"
    )
    starts = [start for start, _ in runs]
    kept = len(runs) - skip
    per_run: dict[str, list[float]] = {}
    ops: dict[str, str] = {}
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith(KERNEL_SUFFIX):
            continue
        index = bisect.bisect_right(starts, e["ts"]) - 1
        if index < skip or index >= len(runs) or e["ts"] > runs[index][1]:
            continue
        name = e["name"].removesuffix(KERNEL_SUFFIX)
        ops[name] = str(e.get("args", {}).get("op_name", ""))
        per_run.setdefault(name, [0.0] * kept)[index - skip] += e["dur"] * 1e-6
    return {n: (ops[n], statistics.median(s)) for n, s in per_run.items()}, max(kept, 0)


def coverage(
    given: Sequence[GraphNode], optimised: Sequence[GraphNode]
) -> dict[str, tuple[str, ...]]:
    """Optimised node name → the given nodes it runs, in graph order (none: a node of ORT's
    own, such as a layout reorder)."""
    producer = {o: n for n in given for o in n.outputs}
    consumers: dict[str, list[GraphNode]] = {}
    for n in given:
        for i in n.inputs:
            consumers.setdefault(i, []).append(n)
    by_name = {n.name: n for n in given}
    anchors = {
        node.name: found
        for node in optimised
        if (found := by_name.get(node.name) or _by_output(node, producer)) is not None
    }
    order = {n.name: i for i, n in enumerate(given)}
    taken = {a.name for a in anchors.values()}
    claimed: set[str] = set()  # given nodes an optimised node runs already
    out: dict[str, tuple[str, ...]] = {}
    for node in optimised:
        anchor = anchors.get(node.name)
        free = anchor is not None and anchor.name not in claimed
        chain = _chain(anchor, producer, consumers, taken) if free else []
        taken.update(chain)
        claimed.update(chain)
        out[node.name] = tuple(sorted(chain, key=order.__getitem__))
    return out


def _chain(
    anchor: GraphNode,
    producer: Mapping[str, GraphNode],
    consumers: Mapping[str, Sequence[GraphNode]],
    taken: set[str],
) -> list[str]:
    """The anchor, the nodes before it whose output only it reads, and after it the
    element-wise nodes ORT fuses into a kernel (an activation, a residual add), along tensors
    one node reads."""
    chain, stack = [anchor.name], [anchor]
    while stack:
        current = stack.pop()
        before = [(producer.get(t), t) for t in current.inputs]
        after = [
            (c, t) for t in current.outputs for c in consumers.get(t, ()) if c.op in FUSED_AFTER
        ]
        for other, tensor in (*before, *after):
            free = other is not None and other.name not in taken and other.name not in chain
            if free and len(consumers.get(tensor, ())) == 1:
                chain.append(other.name)
                stack.append(other)
    return chain


def _by_output(node: GraphNode, producer: Mapping[str, GraphNode]) -> GraphNode | None:
    """The given node that writes the tensor an optimised node is named after: its name or an
    output as it is, or less ORT's renaming (``<tensor>_nchwc``, ``<tensor>_bn_nchwc``: up to
    RENAMED_TAGS words before the suffix)."""
    for name in (node.name, *node.outputs):
        stem = name.removesuffix(RENAMED_SUFFIX)
        candidates = [name] + [stem.rsplit("_", n)[0] for n in range(RENAMED_TAGS + 1)]
        found = next((producer[c] for c in candidates if c in producer), None)
        if found is not None:
            return found
    return None


def module_path(node: str) -> str:
    """``/features/features.0/conv/Conv`` → ``features.0.conv``: the module a TorchScript
    exporter's node name scopes it in ("" when it names none)."""
    path = ""
    for part in node.split("/")[1:-1]:
        path = part if not path or part.startswith(path + ".") else f"{path}.{part}"
    return path


def row_of(node: str, rows: Sequence[str]) -> str:
    """The row a given node belongs to: itself where rows are node names; else the deepest row
    whose module holds it, or the last row inside the module it is scoped in ("": none)."""
    if node in rows:
        return node
    path = module_path(node)
    if not path:
        return ""
    holding = [r for r in rows if path == r or path.startswith(r + ".")]
    if holding:
        return max(holding, key=len)
    inside = [r for r in rows if r.startswith(path + ".")]
    return inside[-1] if inside else ""


def node_times(
    seconds: Mapping[str, tuple[str, float]],
    covers: Mapping[str, tuple[str, ...]],
    rows: Sequence[str],
) -> tuple[NodeTime, ...]:
    """A `NodeTime` per node ORT ran, in the order it first ran them, counted in the row of
    the first given node it runs."""
    out = []
    for name, (op, median) in seconds.items():
        given = covers.get(name, ())
        row = row_of(given[0], rows) if given else ""
        out.append(NodeTime(name=name, op=op, seconds=median, covers=given, row=row))
    return tuple(out)


def fused_rows(nodes: Sequence[NodeTime], rows: Sequence[str]) -> dict[str, str]:
    """Row → the row whose fused kernel runs its work, for rows no kernel of their own runs."""
    own = {n.row for n in nodes}
    out: dict[str, str] = {}
    for node in nodes:
        for given in node.covers[1:]:
            row = row_of(given, rows)
            if row and row not in own and row != node.row:
                out.setdefault(row, node.row)
    return out
