"""The kernels ONNX Runtime runs for a graph, after its own rewrites, and their predicted time on a
device profile calibrated in ONNX Runtime (`cnnprof.deploy.calibrate`). Pure Python: a saved
profile predicts any graph anywhere, with no runtime present.

ONNX Runtime (CPU, ``ORT_ENABLE_ALL``) rewrites the graph before it runs it; what it does was read
from the optimised models it writes (``SessionOptions.optimized_model_filepath``, 1.32):

- a BatchNormalization after a convolution is folded into its weights; an activation it can fuse
  (Relu, Clip, Sigmoid, HardSigmoid, HardSwish, LeakyRelu, Tanh) runs inside the convolution;
  GELU, SiLU's multiply and the rest stay separate nodes;
- on a CPU with a blocked layout (NCHWc: 8 channels a block with AVX2, 16 with AVX-512; the
  profile's ``layout_block``) convolutions whose channels fill whole blocks (depthwise ones
  included, other grouped ones not), pools, activations and same-shape adds and multiplies run
  on blocked tensors; a residual Add after such a convolution runs inside it (with the
  activation after it); every tensor crossing between a blocked and a plain node is reordered
  once (``ReorderInput`` / ``ReorderOutput``): around a squeeze-excite's broadcast multiply, a
  grouped convolution, a flatten before the classifier;
- a MatMul or Gemm with its bias add is one matrix product.

A run costs its kernels, plus what the session adds per run and per node (`Peaks.run_s`,
`Peaks.node_s`, fitted on whole-network runs).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from cnnprof.analytic.elementwise import ACT_FLOPS
from cnnprof.analytic.predictor import Call, conv_kind, lanes

CONV_OPS = frozenset({"Conv", "FusedConv"})
# activations ONNX Runtime runs inside a convolution; FLOPs per element as the formulas count them
FUSABLE: Mapping[str, int] = MappingProxyType(
    {
        "Relu": ACT_FLOPS["relu"],
        "Clip": ACT_FLOPS["relu6"],
        "Sigmoid": ACT_FLOPS["sigmoid"],
        "HardSigmoid": ACT_FLOPS["hsigmoid"],
        "HardSwish": ACT_FLOPS["hswish"],
        "LeakyRelu": ACT_FLOPS["relu"],
        "Tanh": ACT_FLOPS["tanh"],
    }
)
# … and after a residual add it ran inside the convolution, these only
AFTER_SUM = frozenset({"Relu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh"})
PLAIN_ACTIVATIONS = frozenset({"Clip", "LeakyRelu"})  # run on plain tensors only, standing alone
# what an activation standing alone runs as: HardSwish as HardSigmoid, then a multiply
SPLIT: Mapping[str, tuple[str, ...]] = MappingProxyType({"HardSwish": ("HardSigmoid", "Mul")})
ACTIVATIONS: Mapping[str, int] = MappingProxyType(
    {
        **FUSABLE,
        "Gelu": ACT_FLOPS["gelu"],
        "QuickGelu": ACT_FLOPS["silu"],  # x · sigmoid(αx): SiLU's Sigmoid and Mul, fused
        "Elu": ACT_FLOPS["silu"],
        "Erf": ACT_FLOPS["gelu"],
    }
)
BINARY = frozenset({"Add", "Sub", "Mul", "Div", "Sum"})
POOLS: Mapping[str, str] = MappingProxyType(
    {
        "MaxPool": "maxpool",
        "AveragePool": "avgpool",
        "GlobalAveragePool": "avgpool",
        "GlobalMaxPool": "maxpool",
    }
)
# reductions over the map (a squeeze-excite's mean, as timm writes it): plain tensors only
REDUCTIONS: Mapping[str, str] = MappingProxyType({"ReduceMean": "reduce", "ReduceMax": "reduce"})
WINDOWED = frozenset({"MaxPool", "AveragePool"})  # pools that reorder a plain input into blocks
LINEAR = frozenset({"Gemm", "MatMul", "FusedGemm", "FusedMatMul"})
# nodes that copy their input's numbers elsewhere (costed as a reorder of their output)
MOVES = frozenset({"Concat", "Transpose", "Pad", "Slice", "Split", "ReorderInput", "ReorderOutput"})
# nodes that move no numbers (a view, a shape computation): a node's cost and no kernel, on
# plain tensors
FREE = frozenset({"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Shape"})
ELIDED = frozenset({"Identity", "Dropout", "Constant"})  # removed (or folded) before running
STANDARD_DOMAINS = frozenset({"", "ai.onnx"})  # ONNX's own ops; another domain's are custom


@dataclass(frozen=True)
class Node:
    """One node of a graph as ONNX Runtime sees it: its op type, the activation tensors it reads
    (initializers left out) and writes, and the shapes (batch first) of its first input and of
    its output. A convolution carries its weight's shape ``(out, in per group, kh, kw)``. A node
    of a custom domain, or one whose dims shape inference could not tell (``shaped`` False),
    runs a kernel no model covers."""

    name: str
    op: str
    inputs: tuple[str, ...]
    output: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    weight: tuple[int, ...] = ()
    kernel: tuple[int, ...] = ()  # a pool's window
    row: str = ""  # the profile row it belongs to ("": its own name)
    domain: str = ""  # its op set ("" or "ai.onnx": ONNX's own)
    shaped: bool = True  # the dims of every tensor it reads and writes are known

    @property
    def opaque(self) -> bool:
        """A kernel no model covers, whose shapes are never read: a custom op, or unknown dims."""
        return self.domain not in STANDARD_DOMAINS or not self.shaped

    @property
    def qualified(self) -> str:
        """Its op, with the domain where that is custom (``com.me::Relu``)."""
        return self.op if self.domain in STANDARD_DOMAINS else f"{self.domain}::{self.op}"


@dataclass(frozen=True)
class Kernel:
    """One kernel ONNX Runtime runs: the row it is charged to, its op, and its call (None: a node
    no kernel model covers)."""

    row: str
    op: str
    call: Call | None
    nodes: tuple[str, ...] = ()  # the graph's nodes it runs (several when fused)


@dataclass
class _Conv:
    """A convolution being fused: the nodes folded into it so far."""

    node: Node
    nodes: list[str]
    blocked: bool  # it runs on blocked tensors
    act: bool = False
    sum: bool = False

    def kernel(self) -> Kernel:
        return Kernel(
            self.node.row or self.node.name, "Conv", conv_call(self.node), tuple(self.nodes)
        )


def _elements(shape: Sequence[int]) -> int:
    total = 1
    for d in shape:
        total *= max(int(d), 1)
    return total


def conv_call(node: Node) -> Call:
    """A convolution's call from its input, weight and output shapes."""
    out, per_group, *window = node.weight
    batch, cin = node.in_shape[0], node.in_shape[1]
    pixels = _elements(node.out_shape[2:])
    area = _elements(window)
    stride = max(1, round(node.in_shape[2] / node.out_shape[2])) if len(node.out_shape) > 2 else 1
    groups = max(1, cin // max(per_group, 1))
    if per_group == 1 and groups == out:
        return Call("dwconv", (batch, out, pixels, area, stride, lanes(out)))
    features = (batch, per_group, out, pixels, area, stride, groups, lanes(per_group, out))
    return Call(conv_kind(area), features)


def _pool_call(node: Node) -> Call:
    """A pool's call; a reduction over the map (ReduceMean, ReduceMax) as the pool it is."""
    planes = node.in_shape[0] * node.in_shape[1]
    in_pixels, out_pixels = _elements(node.in_shape[2:]), _elements(node.out_shape[2:])
    window = _elements(node.kernel) if node.kernel else in_pixels // max(out_pixels, 1)
    kind = POOLS.get(node.op) or REDUCTIONS[node.op]
    return Call(kind, (planes, in_pixels, out_pixels, window))


def _linear_call(node: Node) -> Call:
    n_in, n_out = node.in_shape[-1], node.out_shape[-1]
    return Call("linear", (_elements(node.out_shape[:-1]), n_in, n_out))


def _elementwise(kind: str) -> Callable[[Node], Call]:
    return lambda node: Call(kind, (_elements(node.out_shape),))


def _act_call(node: Node) -> Call:
    return Call("act", (_elements(node.out_shape), ACTIVATIONS[node.op]))


# each op family's call (a BatchNormalization on its own is `_norm`'s)
CALLS: tuple[tuple[Collection[str], Callable[[Node], Call]], ...] = (
    (POOLS, _pool_call),
    (REDUCTIONS, _pool_call),
    (LINEAR, _linear_call),
    (ACTIVATIONS, _act_call),
    (BINARY, _elementwise("add")),
    (MOVES, _elementwise("reorder")),
    (frozenset({"BatchNormalization"}), _elementwise("norm")),  # on plain tensors
)


def node_call(node: Node) -> Call | None:
    """The kernel a node (not a convolution) runs; None when no model covers it."""
    return next((make(node) for ops, make in CALLS if node.op in ops), None)


def _blocked_conv(node: Node, block: int) -> bool:
    """Whether the convolution writes blocked tensors, where the CPU has a blocked layout: an
    ungrouped or depthwise one of any channels (the blocks are padded), a grouped one whose
    groups' channels fill whole blocks."""
    out, per_group = node.weight[0], node.weight[1]
    cin = node.in_shape[1]
    if not block:
        return False
    if per_group == cin or (per_group == 1 and cin == out):
        return True
    groups = max(cin // max(per_group, 1), 1)
    return per_group % block == 0 and (out // groups) % block == 0


def _reads_blocked(node: Node, block: int) -> bool:
    """Whether a blocked convolution reads blocked tensors: an ungrouped one on fewer channels
    than a block reads them plain."""
    return not (node.weight[1] == node.in_shape[1] and node.in_shape[1] < block)


def _fuses(op: str, conv: _Conv) -> bool:
    """Whether activation ``op`` runs inside ``conv``: a blocked one fuses every `FUSABLE` one
    (after a residual add, `AFTER_SUM` only), a plain one all but HardSwish."""
    if conv.sum:
        return op in AFTER_SUM
    return conv.blocked or op != "HardSwish"


class _Runtime:
    """ONNX Runtime's rewrites of one graph, node by node in topological order."""

    def __init__(self, nodes: Sequence[Node], block: int) -> None:
        self.block = block
        self.readers: dict[str, int] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        for node in nodes:
            self.shapes[node.output] = node.out_shape
            for name in node.inputs:
                self.readers[name] = self.readers.get(name, 0) + 1
        self.convs: dict[str, _Conv] = {}  # a fused convolution's current output → its state
        self.blocked: set[str] = set()  # tensors held in the blocked layout
        self.reordered: set[str] = set()  # tensors already reordered to the other layout
        self.runs: list[Kernel | _Conv] = []  # in order; convolutions completed at the end

    def fold(self, node: Node) -> bool:
        """Fold ``node`` into the convolution that wrote its input, when ONNX Runtime does."""
        source = node.inputs[0] if node.inputs else ""
        conv = self.convs.get(source)
        if conv is None or self.readers.get(source, 0) != 1:
            return False
        if node.op == "BatchNormalization" and not conv.act and not conv.sum:
            pass
        elif node.op in FUSABLE and not conv.act and _fuses(node.op, conv):
            conv.act = True
        elif not self._sum(node, conv):
            return False
        del self.convs[source]
        self.convs[node.output] = conv
        conv.nodes.append(node.name)
        if source in self.blocked:
            self.blocked.add(node.output)
        return True

    def _sum(self, node: Node, conv: _Conv) -> bool:
        """A residual Add run inside a blocked convolution: the other input blocked, same shape."""
        if node.op != "Add" or conv.act or conv.sum or len(node.inputs) != 2:
            return False
        if not all(name in self.blocked for name in node.inputs):
            return False
        if self.shapes.get(node.inputs[1], node.in_shape) != node.in_shape:
            return False
        conv.sum = True
        return True

    def layout(self, node: Node, blocked: bool, writes: bool | None = None) -> None:
        """Reorder the inputs ``node`` reads in the other layout than ``blocked`` (once per
        tensor), and record its output's layout (``writes``, default: the one it reads)."""
        for name in node.inputs:
            if (name in self.blocked) == blocked or name in self.reordered:
                continue
            self.reordered.add(name)
            op = "ReorderInput" if blocked else "ReorderOutput"
            elements = _elements(self.shapes.get(name, node.in_shape))
            self.runs.append(Kernel(node.row or node.name, op, Call("reorder", (elements,))))
        if blocked if writes is None else writes:
            self.blocked.add(node.output)

    def wants_blocked(self, node: Node) -> bool:
        """Whether a node that is not a convolution runs on blocked tensors."""
        if not self.block:
            return False
        if node.op in POOLS or node.op == "BatchNormalization":
            whole = node.in_shape[1] % self.block == 0  # pools need whole blocks of channels
            return whole and (node.op in WINDOWED or node.inputs[0] in self.blocked)
        inputs_blocked = bool(node.inputs) and all(name in self.blocked for name in node.inputs)
        if node.op in PLAIN_ACTIVATIONS:
            return False
        if node.op == "Concat":  # of whole blocks only
            widths = [self.shapes.get(name, node.in_shape)[1:2] for name in node.inputs]
            return inputs_blocked and all(w and w[0] % self.block == 0 for w in widths)
        if node.op in ACTIVATIONS:
            return inputs_blocked
        if node.op in BINARY:
            shapes = {self.shapes.get(name, node.in_shape) for name in node.inputs}
            return inputs_blocked and len(shapes) == 1
        return False

    def run(self, node: Node) -> None:
        """What ONNX Runtime runs for ``node``, unless it was folded into a convolution."""
        if node.opaque:
            self.layout(node, False)
            self.runs.append(Kernel(node.row or node.name, node.qualified, None, (node.name,)))
            return
        if self.fold(node):
            return
        if node.op == "BatchNormalization" and self.wants_blocked(node):
            channels = node.in_shape[1]  # a 1×1 depthwise convolution on blocked tensors
            node = replace(node, op="Conv", weight=(channels, 1, 1, 1))
        if node.op in CONV_OPS and node.weight:
            blocked = _blocked_conv(node, self.block)
            self.layout(node, blocked and _reads_blocked(node, self.block), blocked)
            conv = _Conv(node, [node.name], blocked)
            self.convs[node.output] = conv
            self.runs.append(conv)
            return
        if node.op in FREE:
            self.layout(node, False)
            self.runs.append(Kernel(node.row or node.name, node.op, None, (node.name,)))
            return
        blocked = self.wants_blocked(node)
        self.layout(node, blocked)
        for op in SPLIT.get(node.op, (node.op,)):
            part = replace(node, op=op)
            self.runs.append(Kernel(node.row or node.name, op, node_call(part), (node.name,)))


def _without_elided(nodes: Sequence[Node]) -> list[Node]:
    """The nodes ONNX Runtime keeps: an Identity or Dropout removed, its readers reading its
    input; SiLU written as ``Mul(x, Sigmoid(x))`` one QuickGelu node, where the multiply is the
    Sigmoid's only reader (another one reads the Sigmoid's output, which is then kept)."""
    alias: dict[str, str] = {}
    kept: list[Node] = []
    sigmoids: dict[str, Node] = {}
    readers: dict[str, int] = {}
    for node in nodes:
        inputs = tuple(alias.get(name, name) for name in node.inputs)
        if node.op in ELIDED and node.domain in STANDARD_DOMAINS:
            if inputs:
                alias[node.output] = inputs[0]
            continue
        for name in set(inputs):
            readers[name] = readers.get(name, 0) + 1
        kept.append(replace(node, inputs=inputs))
        if node.op == "Sigmoid" and inputs and not node.opaque:
            sigmoids[node.output] = kept[-1]
    for gate in sigmoids.values():
        mul = next((n for n in kept if gate.output in n.inputs), None)
        pair = {gate.inputs[0], gate.output}
        if mul is None or mul.op != "Mul" or mul.opaque or set(mul.inputs) != pair:
            continue
        if readers.get(gate.output) != 1:
            continue
        kept.remove(gate)
        kept[kept.index(mul)] = replace(gate, op="QuickGelu", output=mul.output, name=mul.name)
    return kept


def kernels(nodes: Sequence[Node], block: int) -> tuple[Kernel, ...]:
    """The kernels ONNX Runtime runs for ``nodes`` (a graph in topological order) on a CPU whose
    blocked layout holds ``block`` channels (0: none), in the order it runs them. A node that
    moves no numbers (`FREE`) is a kernel with no call; so is one no kernel model covers."""
    kept = _without_elided(nodes)
    runtime = _Runtime(kept, block)
    for node in kept:
        runtime.run(node)
    for node in kept:  # an output of the graph is given back plain
        if node.output in runtime.blocked and not runtime.readers.get(node.output):
            elements = (_elements(node.out_shape),)
            runtime.runs.append(
                Kernel(node.row or node.name, "ReorderOutput", Call("reorder", elements))
            )
    return tuple(k.kernel() if isinstance(k, _Conv) else k for k in runtime.runs)
