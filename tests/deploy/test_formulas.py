"""Each op type the ONNX count costs, on a graph of one node built with the onnx helper API: its
MACs, FLOPs by category, parameters and row, derived by hand in each case's comment (per-element
figures: cnnprof.analytic.elementwise and cnnprof.empirical.op_costs, which the torch count uses).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")

from onnx import TensorProto  # noqa: E402
from onnx_graphs import floats, ints, model, node, save, scalar, weight  # noqa: E402

from cnnprof.deploy.formulas import FORMULAS  # noqa: E402
from cnnprof.deploy.graph import count  # noqa: E402

X4 = {"x": (1, 4, 8, 8)}  # 256 elements per image


@dataclass(frozen=True)
class Case:
    nodes: Sequence[object]
    macs: int
    flops: Mapping[str, int]
    op: str
    inputs: Mapping[str, tuple[int, ...]] = field(default_factory=lambda: X4)
    inits: Sequence[object] = ()
    params: Mapping[str, int] = field(default_factory=dict)  # weights, biases, norm
    buffers: int = 0
    opset: int = 17
    kernel: tuple[int, ...] = ()
    types: Mapping[str, int] = field(default_factory=dict)
    outputs: Mapping[str, tuple[int, ...]] | None = None  # None: inferred


def act(op: str, per: int, row: str, **attrs: object) -> Case:
    """An activation on 4×8×8: ``per`` FLOPs per element, 256 elements."""
    return Case([node(op, ["x"], **attrs)], 0, {"act": per * 256}, row)


def other(op: str, arity: int = 1, kind: int = TensorProto.FLOAT) -> Case:
    """An element-wise op counted as "other": one FLOP per output element (256)."""
    names = ["x", "a", "b"][:arity]
    return Case(
        [node(op, names)],
        0,
        {"other": 256},
        "functional",
        inputs={n: (1, 4, 8, 8) for n in names},
        types={n: kind for n in names},
    )


CASES: dict[str, Case] = {
    # 3×3 conv, 3 → 4 channels, 8×8 kept (pad 1): 3·3·3·4 = 108 weights × 64 positions = 6,912
    # MACs; 2·MACs mac FLOPs; bias one add per output element, 4·64 = 256; params 108 + 4.
    "Conv": Case(
        [node("Conv", ["x", "w", "b"], pads=[1, 1, 1, 1])],
        6912,
        {"mac": 13824, "bias": 256},
        "conv",
        inputs={"x": (1, 3, 8, 8)},
        inits=[weight("w", 4, 3, 3, 3), weight("b", 4)],
        params={"weights": 108, "biases": 4},
        kernel=(3, 3),
    ),
    # depthwise 3×3 on 4 channels (group 4 = C_in): 4·1·3·3 = 36 weights × 64 = 2,304 MACs
    "Conv/depthwise": Case(
        [node("Conv", ["x", "w"], pads=[1, 1, 1, 1], group=4)],
        2304,
        {"mac": 4608},
        "dwconv",
        inits=[weight("w", 4, 1, 3, 3)],
        params={"weights": 36},
        kernel=(3, 3),
    ),
    # grouped 1×1, 4 → 8 channels in 2 groups: 8·2 = 16 weights × 64 = 1,024 MACs
    "Conv/grouped": Case(
        [node("Conv", ["x", "w"], group=2)],
        1024,
        {"mac": 2048},
        "gconv",
        inits=[weight("w", 8, 2, 1, 1)],
        params={"weights": 16},
        kernel=(1, 1),
    ),
    # transposed 2×2 stride 2, 4 → 2 channels, 4×4 → 8×8: weights 4·2·2·2 = 32 × input
    # positions 16 = 512 MACs (torch's FlopCounterMode); bias 2·64 = 128; params 32 + 2
    "ConvTranspose": Case(
        [node("ConvTranspose", ["x", "w", "b"], strides=[2, 2])],
        512,
        {"mac": 1024, "bias": 128},
        "convT",
        inputs={"x": (1, 4, 4, 4)},
        inits=[weight("w", 4, 2, 2, 2), weight("b", 2)],
        params={"weights": 32, "biases": 2},
        kernel=(2, 2),
    ),
    # Linear 16 → 10 (B transposed): M·K·N = 1·16·10 = 160 MACs; C: 10 adds; params 160 + 10
    "Gemm": Case(
        [node("Gemm", ["x", "w", "b"], transB=1)],
        160,
        {"mac": 320, "bias": 10},
        "fc",
        inputs={"x": (1, 16)},
        inits=[weight("w", 10, 16), weight("b", 10)],
        params={"weights": 160, "biases": 10},
    ),
    # 5 tokens × 16 features by a 16×8 weight: 5·8 = 40 outputs × K 16 = 640 MACs; 128 weights
    "MatMul": Case(
        [node("MatMul", ["x", "w"])],
        640,
        {"mac": 1280},
        "fc",
        inputs={"x": (1, 5, 16)},
        inits=[weight("w", 16, 8)],
        params={"weights": 128},
    ),
    # attention scores: (2 heads, 5×4) · (2, 4×5) → 2·5·5 = 50 outputs × K 4 = 200 MACs
    "MatMul/activations": Case(
        [node("MatMul", ["x", "k"])],
        200,
        {"mac": 400},
        "functional",
        inputs={"x": (1, 2, 5, 4), "k": (1, 2, 4, 5)},
    ),
    # fused attention (opset 23), 2 heads of 5 queries over 7 keys: 70 scores; Q·Kᵀ 8 MACs each
    # (head size), P·V 4 each (value size): 70·12 = 840 MACs; softmax 5 per score: 350
    "Attention": Case(
        [node("Attention", ["x", "k", "v"])],
        840,
        {"mac": 1680, "act": 350},
        "attention",
        inputs={"x": (1, 2, 5, 8), "k": (1, 2, 7, 8), "v": (1, 2, 7, 4)},
        opset=23,
    ),
    # the same in 3-D form, heads · head size in the last dim: 16 = 2·8 for Q, K; 8 = 2·4 for V
    "Attention/3-D": Case(
        [node("Attention", ["x", "k", "v"], q_num_heads=2, kv_num_heads=2)],
        840,
        {"mac": 1680, "act": 350},
        "attention",
        inputs={"x": (1, 5, 16), "k": (1, 7, 16), "v": (1, 7, 8)},
        opset=23,
    ),
    # BatchNorm at inference: a folded scale and shift, 2 FLOPs per element: 512; γ, β: 8 norm
    # parameters; running mean and variance: 8 buffers
    "BatchNormalization": Case(
        [node("BatchNormalization", ["x", "s", "b", "m", "v"])],
        0,
        {"norm": 512},
        "norm",
        inits=[weight("s", 4), weight("b", 4), weight("m", 4), floats("v", 1, 2, 3, 4)],
        params={"norm": 8},
        buffers=8,
    ),
    # LayerNorm over 16 features of 5 tokens: 7 per element (LAYER_NORM_FLOPS) × 80 = 560
    "LayerNormalization": Case(
        [node("LayerNormalization", ["x", "s", "b"], axis=-1)],
        0,
        {"norm": 560},
        "layernorm",
        inputs={"x": (1, 5, 16)},
        inits=[weight("s", 16), weight("b", 16)],
        params={"norm": 32},
    ),
    # GroupNorm (opset 21: γ, β per channel): 7 × 256 = 1,792; 8 norm parameters (onnx infers
    # no shape for it, a function op: the output is declared)
    "GroupNormalization": Case(
        [node("GroupNormalization", ["x", "s", "b"], num_groups=2)],
        0,
        {"norm": 1792},
        "norm",
        inits=[weight("s", 4), weight("b", 4)],
        params={"norm": 8},
        opset=21,
        outputs={"y": (1, 4, 8, 8)},
    ),
    # InstanceNorm: 7 × 256 = 1,792; γ, β per channel: 8
    "InstanceNormalization": Case(
        [node("InstanceNormalization", ["x", "s", "b"])],
        0,
        {"norm": 1792},
        "norm",
        inits=[weight("s", 4), weight("b", 4)],
        params={"norm": 8},
    ),
    # LRN of size 5: 2·5 + 3 (LRN_EXTRA) = 13 per element × 256 = 3,328
    "LRN": Case([node("LRN", ["x"], size=5)], 0, {"lrn": 3328}, "lrn"),
    "Relu": act("Relu", 1, "relu"),  # max(x, 0)
    "Sigmoid": act("Sigmoid", 4, "sigmoid"),  # negate, exp, add, divide
    "HardSigmoid": act("HardSigmoid", 4, "hsigmoid"),
    "HardSwish": act("HardSwish", 5, "hswish"),
    "Tanh": act("Tanh", 5, "tanh"),
    "LeakyRelu": act("LeakyRelu", 2, "leaky_relu"),  # compare, multiply
    "Elu": act("Elu", 4, "elu"),  # compare, exp, subtract, multiply
    "Mish": Case([node("Mish", ["x"])], 0, {"act": 1536}, "functional", opset=18),  # 6 each
    # Gelu (opset 20): x/√2, erf, +1, ×x, ×½: 5 × 256 = 1,280
    "Gelu": Case([node("Gelu", ["x"])], 0, {"act": 1280}, "gelu", opset=20),
    # ReLU6 as Clip(0, 6): torch's clamp, 2 per element; the bounds are constants, not params
    "Clip": Case(
        [node("Clip", ["x", "lo", "hi"])],
        0,
        {"act": 512},
        "relu6",
        inits=[scalar("lo", 0.0), scalar("hi", 6.0)],
    ),
    # PReLU with a slope per channel: compare, multiply: 512; 4 slope weights
    "PRelu": Case(
        [node("PRelu", ["x", "slope"])],
        0,
        {"act": 512},
        "prelu",
        inits=[weight("slope", 4, 1, 1)],
        params={"weights": 4},
    ),
    # softmax over 10 classes: max, subtract, exp, sum, divide: 50; log-softmax one more: 60
    "Softmax": Case([node("Softmax", ["x"])], 0, {"act": 50}, "softmax", inputs={"x": (1, 10)}),
    "LogSoftmax": Case(
        [node("LogSoftmax", ["x"])], 0, {"act": 60}, "softmax", inputs={"x": (1, 10)}
    ),
    # 2×2 windows, stride 2, 4×8×8 → 4×4×4 = 64 outputs: max compares 3 each (192), average adds
    # 4 each (256)
    "MaxPool": Case(
        [node("MaxPool", ["x"], kernel_shape=[2, 2], strides=[2, 2])],
        0,
        {"pool": 192},
        "maxpool",
        kernel=(2, 2),
    ),
    "AveragePool": Case(
        [node("AveragePool", ["x"], kernel_shape=[2, 2], strides=[2, 2])],
        0,
        {"pool": 256},
        "avgpool",
        kernel=(2, 2),
    ),
    # global pools: one operation per input element, 256
    "GlobalAveragePool": Case([node("GlobalAveragePool", ["x"])], 0, {"pool": 256}, "gap"),
    "GlobalMaxPool": Case([node("GlobalMaxPool", ["x"])], 0, {"pool": 256}, "adaptive_pool"),
    # reductions over H, W (axes an int64 input, opset 18): one per input element, 256
    **{
        op: Case(
            [node(op, ["x", "axes"])],
            0,
            {"pool": 256},
            "functional",
            inits=[ints("axes", 2, 3)],
            opset=18,
        )
        for op in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin")
    },
    # L2 norm: square and add per input element: 512
    "ReduceL2": Case(
        [node("ReduceL2", ["x", "axes"])],
        0,
        {"other": 512},
        "functional",
        inits=[ints("axes", 2, 3)],
        opset=18,
    ),
    # two activations added (a residual): one add per element, 256; Sub alike
    "Add": Case(
        [node("Add", ["x", "r"])], 0, {"add": 256}, "functional", inputs={**X4, "r": X4["x"]}
    ),
    "Sub": Case(
        [node("Sub", ["x", "r"])], 0, {"add": 256}, "functional", inputs={**X4, "r": X4["x"]}
    ),
    # a learned per-channel shift (a bias after a MatMul): 4 bias parameters, 256 adds
    "Add/bias": Case(
        [node("Add", ["x", "shift"])],
        0,
        {"add": 256},
        "functional",
        inits=[weight("shift", 4, 1, 1)],
        params={"biases": 4},
    ),
    # Mul and Div: one multiply (divide) per element; a scalar operand is a constant
    "Mul": Case(
        [node("Mul", ["x", "r"])], 0, {"scale": 256}, "functional", inputs={**X4, "r": X4["x"]}
    ),
    "Div": Case(
        [node("Div", ["x", "d"])], 0, {"scale": 256}, "functional", inits=[scalar("d", 8.0)]
    ),
    # three operands summed: 2 adds per element, 512
    "Sum": Case(
        [node("Sum", ["x", "r", "s"])],
        0,
        {"add": 512},
        "functional",
        inputs={**X4, "r": X4["x"], "s": X4["x"]},
    ),
    # resize 4×4×4 → 4×8×8 (256 outputs): bilinear 7 per output (1,792), bicubic 32 (8,192),
    # nearest copies (0); the scales are constants
    **{
        f"Resize/{mode}": Case(
            [node("Resize", ["x", "", "scales"], mode=mode)],
            0,
            {"other": per * 256} if per else {},
            "upsample",
            inputs={"x": (1, 4, 4, 4)},
            inits=[floats("scales", 1, 1, 2, 2)],
        )
        for mode, per in (("linear", 7), ("cubic", 32), ("nearest", 0))
    },
    # selections: a comparison per element read (cumsum: an add): 256; TopK of 10 reads 10
    "CumSum": Case(
        [node("CumSum", ["x", "axis"])], 0, {"other": 256}, "functional", inits=[ints("axis", 1)]
    ),
    "TopK": Case(
        [node("TopK", ["x", "k"], ["y", "i"])],
        0,
        {"other": 10},
        "functional",
        inputs={"x": (1, 10)},
        inits=[ints("k", 3)],
    ),
    "ArgMax": Case([node("ArgMax", ["x"], axis=1)], 0, {"other": 256}, "functional"),
    "ArgMin": Case([node("ArgMin", ["x"], axis=1)], 0, {"other": 256}, "functional"),
    **{
        op: other(op)
        for op in (
            *("Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Sin", "Cos"),
            *("Erf", "Sign", "Round"),
        )
    },
    **{op: other(op, 2) for op in ("Pow", "Max", "Min", "Equal", "Less", "LessOrEqual", "Greater")},
    "GreaterOrEqual": other("GreaterOrEqual", 2),
    "Not": other("Not", 1, TensorProto.BOOL),
    "And": other("And", 2, TensorProto.BOOL),
    "Or": other("Or", 2, TensorProto.BOOL),
    "Mod": Case(
        [node("Mod", ["x", "a"], fmod=1)],
        0,
        {"other": 256},
        "functional",
        inputs={"x": X4["x"], "a": X4["x"]},
    ),
    # where(cond, a, b): one selection per element, 256
    "Where": Case(
        [node("Where", ["c", "x", "a"])],
        0,
        {"other": 256},
        "functional",
        inputs={"c": X4["x"], "x": X4["x"], "a": X4["x"]},
        types={"c": TensorProto.BOOL},
    ),
}


def test_every_formula_has_a_case():
    """Each op type with a formula is tested below, on a graph of its own."""
    assert set(FORMULAS) == {name.split("/")[0] for name in CASES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_op_costs_what_its_formula_says(tmp_path: Path, name: str):
    case = CASES[name]
    outputs = case.outputs or ["y"]
    made = model(case.nodes, case.inputs, outputs, case.inits, opset=case.opset, types=case.types)
    profile = count(save(made, tmp_path))
    assert profile.complete, profile.unsupported
    [row] = profile.layers
    assert (row.op, row.macs, dict(row.flops_by_category), row.kernel) == (
        case.op,
        case.macs,
        case.flops,
        case.kernel,
    )
    kinds = {k: v for k, v in profile.params_by_kind.items() if v}
    assert (kinds, profile.buffers) == (dict(case.params), case.buffers)
    assert row.path == case.nodes[0].name
