"""What the ONNX count makes of a whole graph: parameters once each, constants apart, free ops
listed, ops it cannot cost (no formula, a custom domain) making the count incomplete, dynamic
dims bound by --batch and --input, and what cnnprof's exporter wrote in the metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")

from onnx_graphs import ints, model, node, save, weight  # noqa: E402

from cnnprof.deploy.graph import count  # noqa: E402
from cnnprof.deploy.load import load_graph  # noqa: E402
from cnnprof.deploy.shapes import shaped  # noqa: E402
from cnnprof.errors import LoadError, OptionError  # noqa: E402


def conv_model(dims=("N", 3, 8, 8), **kwargs: object) -> onnx.ModelProto:
    """A 3×3 conv, 3 → 4 channels, padded: 108 weights × 64 positions = 6,912 MACs per image."""
    return model(
        [node("Conv", ["x", "w"], pads=[1, 1, 1, 1])],
        {"x": dims},
        ["y"] if "metadata" not in kwargs else {"y": (1, 4, 8, 8)},
        [weight("w", 4, 3, 3, 3)],
        **kwargs,
    )


def test_a_shared_initializer_is_counted_once(tmp_path: Path):
    # the same 16×16 weight used twice (tied layers): 256 parameters, held by the first node;
    # MACs 2 × 16·16 = 512
    nodes = [
        node("MatMul", ["x", "w"], ["h"]),
        helper_node("MatMul", ["h", "w"], ["y"], "second"),
    ]
    profile = count(save(model(nodes, {"x": (1, 16)}, ["y"], [weight("w", 16, 16)]), tmp_path))
    assert (profile.params, profile.macs) == (256, 512)
    assert [r.params for r in profile.layers] == [256, 0]


def helper_node(op: str, inputs: list[str], outputs: list[str], name: str):
    return onnx.helper.make_node(op, inputs, outputs, name=name)


def test_shape_constants_are_listed_apart_and_not_counted(tmp_path: Path):
    # Gemm 8 → 4 (32 weights) after a Reshape to (1, 8) and a Slice of its first 8 of 16
    # features: the int64 shape and slice bounds are constants (4 tensors, 2 + 4·1 elements)
    nodes = [
        helper_node("Slice", ["x", "starts", "ends", "axes", "steps"], ["s"], "slice"),
        helper_node("Reshape", ["s", "shape"], ["r"], "reshape"),
        helper_node("Gemm", ["r", "w"], ["y"], "fc"),
    ]
    inits = [
        ints("starts", 0),
        ints("ends", 8),
        ints("axes", 1),
        ints("steps", 1),
        ints("shape", 1, 8),
        weight("w", 8, 4),
    ]
    profile = count(save(model(nodes, {"x": (1, 16)}, ["y"], inits), tmp_path))
    assert (profile.params, profile.macs) == (32, 32)
    assert dict(profile.constants) == {"starts": 1, "ends": 1, "axes": 1, "steps": 1, "shape": 2}
    assert profile.ignored == ("Reshape", "Slice")
    assert [r.path for r in profile.layers] == ["fc"]
    assert profile.complete


def test_a_class_token_concatenated_is_a_parameter(tmp_path: Path):
    # ViT's class token: a 1×1×8 float initializer joined to the tokens: 8 parameters
    nodes = [node("Concat", ["token", "x"], axis=1)]
    inits = [weight("token", 1, 1, 8)]
    profile = count(save(model(nodes, {"x": (1, 4, 8)}, ["y"], inits, opset=17), tmp_path))
    assert profile.params == 8 and profile.ignored == ("Concat",)


def test_dynamic_dims_are_bound_by_batch_and_input(tmp_path: Path):
    path = save(conv_model(("N", 3, "H", "W")), tmp_path)
    with pytest.raises(LoadError, match=r"input 'x' has dims N×3×H×W .*--input"):
        count(path)
    profile = count(path, batch=2, input=((3, 8, 8),))
    # 6,912 MACs per image, at batch 2
    assert (profile.batch, profile.macs, profile.layers[0].macs) == (2, 13_824, 6912)
    assert profile.input_from == "--input" and profile.inputs == ((3, 8, 8),)


def test_a_fixed_batch_is_kept_and_another_refused(tmp_path: Path):
    path = save(conv_model((2, 3, 8, 8)), tmp_path)
    assert count(path).batch == 2
    with pytest.raises(OptionError, match="fixes input 'x' at batch 2"):
        count(path, batch=4)
    with pytest.raises(OptionError, match="--input 3,16,16"):
        count(path, input=((3, 16, 16),))


def test_a_custom_domain_op_makes_the_count_incomplete(tmp_path: Path):
    nodes = [
        node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        onnx.helper.make_node("Fancy", ["c"], ["y"], name="fancy", domain="com.example"),
    ]
    made = model(
        nodes,
        {"x": (1, 3, 8, 8)},
        {"y": (1, 4, 8, 8)},
        [weight("w", 4, 3, 3, 3)],
        domains={"com.example": 1},
    )
    profile = count(save(made, tmp_path))
    assert not profile.complete
    assert profile.unsupported == ("com.example::Fancy ×1 (first: fancy)",)
    assert profile.macs == 6912


def test_an_op_without_a_formula_is_unsupported(tmp_path: Path):
    nodes = [node("Einsum", ["x", "k"], equation="ij,jk->ik")]
    profile = count(save(model(nodes, {"x": (2, 3), "k": (3, 4)}, ["y"]), tmp_path))
    assert profile.unsupported == ("Einsum ×1 (first: einsum)",)
    assert profile.missing == ("unsupported: Einsum ×1 (first: einsum)",)


def test_the_exporters_metadata_is_read(tmp_path: Path):
    metadata = {
        "cnnprof.source": "resnet18",
        "cnnprof.exporter": "torch 2.13.0 torchscript",
        "cnnprof.folded_params": "9600",
        "cnnprof.folded_buffers": "9600",
    }
    profile = count(save(conv_model((1, 3, 8, 8), metadata=metadata), tmp_path))
    assert (profile.folded_params, profile.folded_buffers) == (9600, 9600)
    assert dict(profile.origin)["exported from"] == "resnet18"
    assert dict(profile.origin)["exporter"] == "torch 2.13.0 torchscript"


def test_metadata_that_is_not_a_count_is_refused(tmp_path: Path):
    made = conv_model((1, 3, 8, 8), metadata={"cnnprof.folded_params": "-3"})
    with pytest.raises(LoadError, match=r"cnnprof\.folded_params='-3'"):
        count(save(made, tmp_path))


def test_the_shaped_graph_is_a_frozen_value(tmp_path: Path):
    """What a runtime's fused graph is derived from: nodes in order with attributes, dims of
    every tensor, initializers without data."""
    graph = shaped(load_graph(save(conv_model(), tmp_path)), batch=3)
    [conv] = graph.nodes
    assert (conv.op_type, conv.inputs, conv.attr("pads")) == ("Conv", ("x", "w"), (1, 1, 1, 1))
    assert graph.shape("y") == (3, 4, 8, 8) and graph.initializers["w"].dims == (4, 3, 3, 3)
    assert graph.batch == 3 and graph.opsets[""] == 17
    with pytest.raises(AttributeError):
        graph.batch = 1  # type: ignore[misc]


def test_an_identity_of_an_initializer_is_a_parameter_of_its_own(tmp_path: Path):
    # torch's exporter writes two equal 4-element biases once, the second as an Identity of the
    # first: two parameters of the source model, 8 biases (a tied weight, read twice, is one)
    nodes = [
        helper_node("Identity", ["b"], ["b2"], "copy"),
        helper_node("Conv", ["x", "w", "b"], ["c"], "first"),
        helper_node("Conv", ["c", "w2", "b2"], ["y"], "second"),
    ]
    inits = [weight("w", 4, 3, 1, 1), weight("w2", 4, 4, 1, 1), weight("b", 4)]
    profile = count(save(model(nodes, {"x": (1, 3, 2, 2)}, ["y"], inits), tmp_path))
    assert profile.params_by_kind == {"weights": 12 + 16, "biases": 8, "norm": 0}
    assert profile.ignored == ("Identity",) and profile.constants == ()
