"""An ``If`` in the counted graph: where its condition is known when the graph is counted (the
rank of a tensor of inferred shape, as torch's TorchScript exporter writes LocalResponseNorm; a
constant), the branch it takes is inlined: its nodes costed like any others, named after the
If, and shapes flowing on through it. Where the condition is not known, it is unsupported."""

from __future__ import annotations

from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")

import numpy as np  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx_graphs import ints, model, node, save, weight  # noqa: E402

from cnnprof.deploy.graph import count  # noqa: E402

X = ("N", 3, 8, 8)


def branches() -> dict[str, onnx.GraphProto]:
    """then: Relu(x), of x's dims; else: x unsqueezed to rank 5. The ranks differ, so onnx infers
    no shape for the If's output, nor for what follows it, unless the branch taken is inlined."""

    def out(name: str, *dims: int | str) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)

    then = helper.make_graph([node("Relu", ["x"], ["r"])], "then", [], [out("r", *X)])
    axes = helper.make_node("Constant", [], ["axes"], name="axes", value=ints("k", 0))
    unsqueeze = node("Unsqueeze", ["x", "axes"], ["u"])
    other = helper.make_graph([axes, unsqueeze], "else", [], [out("u", 1, *X)])
    return {"then_branch": then, "else_branch": other}


def conv_after_if(condition: list[onnx.NodeProto], **inputs: tuple) -> onnx.ModelProto:
    """``condition`` gives ``cond``; the If's output goes through a 3×3 conv, 3 → 4 channels."""
    nodes = [
        *condition,
        helper.make_node("If", ["cond"], ["h"], name="lrn/If", **branches()),
        node("Conv", ["h", "w"]),
    ]
    types = {name: TensorProto.BOOL for name in inputs}
    outputs = {"y": ("N", 4, 6, 6)}
    return model(nodes, {"x": X, **inputs}, outputs, [weight("w", 4, 3, 3, 3)], types=types)


def test_an_if_on_a_known_rank_is_its_branch_inlined(tmp_path: Path):
    """cond = (rank of x == 4): true, so the Relu runs: 3·8·8 = 192 activation FLOPs per image.
    The conv then has dims: 4·3·3·3 = 108 weights × 6·6 output positions = 3,888 MACs."""
    rank = [
        node("Shape", ["x"], ["s"]),
        node("Size", ["s"], ["rank"]),
        helper.make_node("Constant", [], ["four"], name="four", value=ints("v", 4)),
        node("Equal", ["rank", "four"], ["cond"]),
    ]
    profile = count(save(conv_after_if(rank), tmp_path))
    assert profile.complete, profile.unsupported
    rows = {r.path: r for r in profile.layers}
    assert list(rows) == ["lrn/If/then/relu", "conv"]
    assert dict(rows["lrn/If/then/relu"].flops_by_category) == {"act": 192}
    assert (profile.macs, profile.params) == (3_888, 108)
    assert rows["conv"].in_shape.elements == 192


def test_an_if_on_a_constant_false_takes_its_else_branch(tmp_path: Path):
    """cond = false: the output is x unsqueezed (free), 1×1×3×8×8 at batch 1; the then branch
    would have left it 1×3×8×8."""
    false = numpy_helper.from_array(np.array(False), "c")
    nodes = [
        helper.make_node("Constant", [], ["cond"], name="cond", value=false),
        helper.make_node("If", ["cond"], ["y"], name="if", **branches()),
    ]
    profile = count(save(model(nodes, {"x": X}, {"y": (1, *X)}), tmp_path))
    assert profile.complete and profile.layers == ()
    assert profile.outputs == (("", (1, 3, 8, 8)),)
    assert "Unsqueeze" in profile.ignored


def test_an_if_on_an_unknown_condition_is_unsupported(tmp_path: Path):
    """cond is an input: neither branch is counted, nor the conv after the If (no dims)."""
    profile = count(save(conv_after_if([], cond=()), tmp_path))
    assert not profile.complete
    assert profile.unsupported == (
        "Conv (dims not inferred) ×1 (first: conv)",
        "If ×1 (first: lrn/If)",
    )
    assert profile.macs == 0


def test_an_if_in_a_branch_taken_is_followed_too(tmp_path: Path):
    """The outer If (true) runs Relu(x) and an inner If whose condition, a constant of the
    branch, is true: its Sigmoid reads the outer branch's Relu, renamed when it was inlined.
    Per image 3·8·8 = 192 elements: 192 FLOPs for the ReLU, 4 per element for the sigmoid."""
    true = helper.make_node(
        "Constant", [], ["t"], name="t", value=numpy_helper.from_array(np.array(True), "t")
    )
    sigmoid = helper.make_graph(
        [node("Sigmoid", ["r"], ["s"])],
        "inner_then",
        [],
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, X)],
    )
    inner = helper.make_node(
        "If", ["t"], ["i"], name="inner", then_branch=sigmoid, else_branch=sigmoid
    )
    outer = helper.make_graph(
        [node("Relu", ["x"], ["r"]), true, inner],
        "outer_then",
        [],
        [helper.make_tensor_value_info("i", TensorProto.FLOAT, X)],
    )
    nodes = [
        helper.make_node(
            "Constant",
            [],
            ["cond"],
            name="cond",
            value=numpy_helper.from_array(np.array(True), "c"),
        ),
        helper.make_node("If", ["cond"], ["y"], name="if", then_branch=outer, else_branch=outer),
    ]
    profile = count(save(model(nodes, {"x": X}, {"y": X}), tmp_path))
    assert profile.complete, profile.unsupported
    flops = {r.path: dict(r.flops_by_category) for r in profile.layers}
    assert flops == {"if/then/relu": {"act": 192}, "if/then/inner/then/sigmoid": {"act": 4 * 192}}
