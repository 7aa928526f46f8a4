"""What each ONNX op costs, from its node and the inferred dims of its tensors: a table op type →
`Formula`, in the conventions of the dispatch-level count of a torch module
(`cnnprof.empirical.op_costs`), so that an exported model's MACs equal its torch count exactly:
convolutions ``k_h·k_w·(C_in/groups)·C_out·H_out·W_out`` (a transposed one over its input
positions, as torch's FlopCounterMode), matrix products ``M·K·N``, element-wise ops at the
per-element figures of `cnnprof.analytic.elementwise`. Ops that only move or reshape data are
free (`FREE`). Counts here are at the graph's batch; the caller divides them per image.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from math import prod
from types import MappingProxyType

from cnnprof.analytic.elementwise import ACT_FLOPS, LAYER_NORM_FLOPS, LRN_EXTRA, NORM_FLOPS
from cnnprof.analytic.layers import conv_kind
from cnnprof.arch.model import frozen
from cnnprof.deploy.shapes import Graph, Node

# Per-element figures beyond ACT_FLOPS, as `cnnprof.empirical.op_costs` has them (the operations
# in each definition).
SOFTMAX_FLOPS = 5  # max, subtract, exp, sum, divide
BILINEAR_FLOPS = 7  # two lerps along x, one along y: 3 × (subtract, multiply-add) + the weight
BICUBIC_FLOPS = 32  # 4×4 taps, a multiply and an add each


@dataclass(frozen=True)
class Work:
    """A node's arithmetic at the graph's batch: its row op (one of ``LAYER_OPS``), MACs, FLOPs
    by category and kernel."""

    op: str
    macs: int = 0
    flops: Mapping[str, int] = field(default_factory=frozen)
    kernel: tuple[int, ...] = ()


@dataclass(frozen=True)
class Formula:
    """How an op is costed, and what its initializer inputs are: ``roles`` names the inputs that
    are parameters or buffers by position ("weight", "bias", "norm", "buffer"); ``operands`` the
    positions that are settings (shapes, axes, bounds, scales), never parameters. An initializer
    at any other position is a parameter when it is real-valued and not a scalar."""

    cost: Callable[[Node, Graph], Work]
    roles: Mapping[int, str] = field(default_factory=frozen)
    operands: frozenset[int] = frozenset()


def out_elements(node: Node, graph: Graph) -> int:
    return prod(graph.shape(node.outputs[0]))


def in_elements(node: Node, graph: Graph) -> int:
    return prod(graph.shape(node.inputs[0]))


def _work(op: str, macs: int = 0, kernel: tuple[int, ...] = (), **flops: int) -> Work:
    return Work(op, macs, frozen({k: v for k, v in flops.items() if v}), kernel)


def _has(node: Node, index: int) -> bool:
    return len(node.inputs) > index and bool(node.inputs[index])


def _conv(node: Node, graph: Graph) -> Work:
    """Weights × output positions; the bias one add per output element."""
    weight, out = graph.shape(node.inputs[1]), graph.shape(node.outputs[0])
    groups = int(node.attr("group", 1))
    macs = prod(weight) * out[0] * prod(out[2:])
    bias = prod(out) if _has(node, 2) else 0
    op = conv_kind(weight[1] * groups, groups)
    return _work(op, macs, tuple(weight[2:]), mac=2 * macs, bias=bias)


def _conv_transpose(node: Node, graph: Graph) -> Work:
    """Weights × input positions (torch's FlopCounterMode for a transposed convolution)."""
    weight, x = graph.shape(node.inputs[1]), graph.shape(node.inputs[0])
    macs = prod(weight) * x[0] * prod(x[2:])
    bias = out_elements(node, graph) if _has(node, 2) else 0
    return _work("convT", macs, tuple(weight[2:]), mac=2 * macs, bias=bias)


def _gemm(node: Node, graph: Graph) -> Work:
    """``A·B (+C)``: M·K·N; C one add per output element (a Linear's bias)."""
    a, b = graph.shape(node.inputs[0]), graph.shape(node.inputs[1])
    m, k = (a[1], a[0]) if node.attr("transA", 0) else (a[0], a[1])
    n = b[0] if node.attr("transB", 0) else b[1]
    bias = m * n if _has(node, 2) else 0
    op = "fc" if graph.held(node.inputs[1]) else "functional"
    return _work(op, m * k * n, mac=2 * m * k * n, bias=bias)


def _matmul(node: Node, graph: Graph) -> Work:
    """Each output element is a dot product over A's last dim."""
    k = graph.shape(node.inputs[0])[-1]
    macs = out_elements(node, graph) * k
    op = "fc" if any(graph.held(name) for name in node.inputs[:2]) else "functional"
    return _work(op, macs, mac=2 * macs)


def _attention(node: Node, graph: Graph) -> Work:
    """ONNX's fused Attention (opset 23): Q·Kᵀ and P·V per query head, as torch's fused
    attention kernels are counted (`FUSED_MACS`), and a softmax per score. Q, K, V are 4-D
    (batch, heads, length, head size) or 3-D (batch, length, heads · head size)."""
    q, k, v = (graph.shape(name) for name in node.inputs[:3])
    if len(q) == 4:
        batch, heads, length, size = q
        source, value_size = k[-2], v[-1]
    else:
        heads, kv_heads = int(node.attr("q_num_heads")), int(node.attr("kv_num_heads"))
        batch, length, size = q[0], q[1], q[2] // heads
        source, value_size = k[1], v[2] // kv_heads
    scores = batch * heads * length * source
    macs = scores * (size + value_size)
    return _work("attention", macs, mac=2 * macs, act=SOFTMAX_FLOPS * scores)


def _per_output(op: str, category: str, per: int) -> Callable[[Node, Graph], Work]:
    return lambda node, graph: _work(op, **{category: per * out_elements(node, graph)})


def _per_input(op: str, category: str, per: int = 1) -> Callable[[Node, Graph], Work]:
    return lambda node, graph: _work(op, **{category: per * in_elements(node, graph)})


def _pool(op: str, compares: bool) -> Callable[[Node, Graph], Work]:
    """A window per output element: its taps added (average) or compared (max: one fewer)."""

    def cost(node: Node, graph: Graph) -> Work:
        kernel = tuple(node.attr("kernel_shape", ()))
        n = out_elements(node, graph)
        return _work(op, kernel=kernel, pool=(prod(kernel) - compares) * n)

    return cost


def _resize(node: Node, graph: Graph) -> Work:
    """Linear interpolation as torch's bilinear (per output element), cubic as bicubic; the
    nearest neighbour only copies."""
    mode = node.attr("mode", "nearest")
    per = {"linear": BILINEAR_FLOPS, "cubic": BICUBIC_FLOPS}.get(mode, 0)
    return _work("upsample", other=per * out_elements(node, graph))


def _lrn(node: Node, graph: Graph) -> Work:
    per = 2 * int(node.attr("size", 1)) + LRN_EXTRA
    return _work("lrn", lrn=per * out_elements(node, graph))


def _variadic_sum(node: Node, graph: Graph) -> Work:
    """One add per output element for each operand after the first."""
    return _work("functional", add=(len(node.inputs) - 1) * out_elements(node, graph))


def _act(op: str, per: int) -> Formula:
    return Formula(_per_output(op, "act", per))


def _other(per: int = 1) -> Formula:
    return Formula(_per_output("functional", "other", per))


def _reduce(category: str, per: int = 1) -> Formula:
    return Formula(_per_input("functional", category, per), operands=frozenset({1}))


NORM = MappingProxyType({1: "norm", 2: "norm"})

# fmt: off
FORMULAS: Mapping[str, Formula] = MappingProxyType({
    "Conv": Formula(_conv, MappingProxyType({1: "weight", 2: "bias"})),
    "ConvTranspose": Formula(_conv_transpose, MappingProxyType({1: "weight", 2: "bias"})),
    "Gemm": Formula(_gemm, MappingProxyType({1: "weight", 2: "bias"})),
    "MatMul": Formula(_matmul, MappingProxyType({0: "weight", 1: "weight"})),
    "Attention": Formula(_attention),
    "BatchNormalization": Formula(
        _per_output("norm", "norm", NORM_FLOPS["bn"]),
        MappingProxyType({**NORM, 3: "buffer", 4: "buffer"}),
    ),
    "LayerNormalization": Formula(_per_output("layernorm", "norm", LAYER_NORM_FLOPS), NORM),
    # onnx infers no shape for GroupNormalization (a function op): its input's is its output's
    "GroupNormalization": Formula(_per_input("norm", "norm", LAYER_NORM_FLOPS), NORM),
    "InstanceNormalization": Formula(_per_output("norm", "norm", LAYER_NORM_FLOPS), NORM),
    "LRN": Formula(_lrn),
    "Relu": _act("relu", ACT_FLOPS["relu"]),
    # torch's clamp costs two per element, one bound or two (ReLU6: min, max)
    "Clip": Formula(_per_output("relu6", "act", ACT_FLOPS["relu6"]), operands=frozenset({1, 2})),
    "Sigmoid": _act("sigmoid", ACT_FLOPS["sigmoid"]),
    "HardSigmoid": _act("hsigmoid", ACT_FLOPS["hsigmoid"]),
    "HardSwish": _act("hswish", ACT_FLOPS["hswish"]),
    "Tanh": _act("tanh", ACT_FLOPS["tanh"]),
    "Gelu": _act("gelu", ACT_FLOPS["gelu"]),
    "LeakyRelu": _act("leaky_relu", 2),  # compare, multiply
    "PRelu": Formula(_per_output("prelu", "act", 2), MappingProxyType({1: "weight"})),
    "Elu": _act("elu", 4),  # compare, exp, subtract, multiply
    "Mish": _act("functional", 6),  # exp, add, log (softplus), tanh as one, multiply
    "Softmax": _act("softmax", SOFTMAX_FLOPS),
    "LogSoftmax": _act("softmax", SOFTMAX_FLOPS + 1),
    "MaxPool": Formula(_pool("maxpool", compares=True)),
    "AveragePool": Formula(_pool("avgpool", compares=False)),
    "GlobalAveragePool": Formula(_per_input("gap", "pool")),
    "GlobalMaxPool": Formula(_per_input("adaptive_pool", "pool")),
    "ReduceMean": _reduce("pool"),
    "ReduceSum": _reduce("pool"),
    "ReduceMax": _reduce("pool"),
    "ReduceMin": _reduce("pool"),
    "ReduceL2": _reduce("other", 2),  # square and add per element
    "Add": Formula(_per_output("functional", "add", 1)),
    "Sub": Formula(_per_output("functional", "add", 1)),
    "Sum": Formula(_variadic_sum),
    "Mul": Formula(_per_output("functional", "scale", 1)),
    "Div": Formula(_per_output("functional", "scale", 1)),
    "Resize": Formula(_resize, operands=frozenset({1, 2, 3})),
    "CumSum": Formula(_per_input("functional", "other"), operands=frozenset({1})),
    "TopK": Formula(_per_input("functional", "other"), operands=frozenset({1})),
    "ArgMax": Formula(_per_input("functional", "other")),
    "ArgMin": Formula(_per_input("functional", "other")),
    **{op: _other() for op in (
        "Sqrt", "Exp", "Log", "Pow", "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Sin", "Cos",
        "Erf", "Sign", "Round", "Mod", "Equal", "Less", "LessOrEqual", "Greater",
        "GreaterOrEqual", "Max", "Min", "Where", "Not", "And", "Or",
    )},
})

# Ops that only move, reshape, index or describe data, free and listed: op type → the input
# positions that are settings (a shape, indices, axes, pads), never parameters.
FREE: Mapping[str, frozenset[int]] = MappingProxyType({
    **{op: frozenset() for op in (
        "Flatten", "Transpose", "Concat", "Shape", "Size", "Identity", "Constant", "Cast",
        "DepthToSpace", "SpaceToDepth", "NonZero", "EyeLike",
    )},
    **{op: frozenset({1}) for op in (
        "Reshape", "Gather", "GatherElements", "GatherND", "Squeeze", "Unsqueeze", "CastLike",
        "Expand", "Split", "Tile", "ScatterND", "ScatterElements", "Trilu",
    )},
    "ConstantOfShape": frozenset({0}),
    "Slice": frozenset({1, 2, 3, 4}),
    "Dropout": frozenset({1, 2}),
    "Pad": frozenset({1, 2, 3}),
    "Range": frozenset({0, 1, 2}),
})
# fmt: on
