"""ONNX Runtime's prediction of graphs it cannot fully read (`cnnprof latency FILE.onnx
--device-profile intel-xeon-ort-1t`, a shipped profile; no timing): a custom-domain node, and
the nodes after it whose dims shape inference could not tell, are kernels no model covers
(costed on the roofline and named), never read for shapes; the note and the JSON field that say
the count is incomplete; shape arithmetic the count folds is free, as ONNX Runtime folds it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")

import numpy as np  # noqa: E402
from conftest import run  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from onnx_graphs import ints, model, node, save, weight  # noqa: E402
from test_formats import check_document  # noqa: E402

from cnnprof.api import latency as api  # noqa: E402
from cnnprof.api.request import request  # noqa: E402
from cnnprof.deploy.load import load_graph  # noqa: E402
from cnnprof.deploy.ort_nodes import graph_nodes  # noqa: E402
from cnnprof.deploy.shapes import shaped  # noqa: E402

ORT_PROFILE = "intel-xeon-ort-1t"
TORCH_PROFILE = "amd-epyc-1t"
CUSTOM = "custom"  # the custom-domain node's name
AFTER = "conv2"  # the convolution reading its output: dims unknown


def custom_graph() -> onnx.ModelProto:
    """Conv 3 → 16, a Relu of domain ``com.me`` (no shape inference knows it), Conv 16 → 16 on
    its output (dims unknown), Relu, global pool."""
    custom = onnx.helper.make_node("Relu", ["c"], ["u"], name=CUSTOM, domain="com.me")
    nodes = [
        node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        custom,
        onnx.helper.make_node("Conv", ["u", "w2"], ["d"], name=AFTER, pads=[1, 1, 1, 1]),
        node("Relu", ["d"], ["r"]),
        node("GlobalAveragePool", ["r"], ["y"]),
    ]
    inits = [weight("w", 16, 3, 3, 3), weight("w2", 16, 16, 3, 3)]
    outputs = {"y": (1, 16, 1, 1)}  # given: inference cannot tell it
    return model(nodes, {"x": (1, 3, 16, 16)}, outputs, inits, domains={"com.me": 1})


@pytest.fixture
def custom_file(tmp_path: Path) -> str:
    return save(custom_graph(), tmp_path)


def test_the_custom_node_and_the_unknown_dims_after_it_are_uncovered(custom_file: str):
    predicted = api.predict_on(request(custom_file), api.device_profile(ORT_PROFILE))
    uncovered = predicted.kernels.on_roofline
    assert CUSTOM in uncovered and AFTER in uncovered
    assert "conv" not in uncovered  # the first convolution's dims are known: its kernel model
    assert predicted.kernels.seconds > 0
    assert any("com.me::Relu" in line for line in predicted.kernels.missing)


def test_the_cli_predicts_it_and_says_the_count_is_incomplete(custom_file: str):
    result = run("latency", custom_file, "--device-profile", ORT_PROFILE)
    assert result.exit_code == 0, result.output
    assert f"rows no kernel model covers: {CUSTOM}" in result.stdout
    assert "the count is incomplete (" in result.stdout
    assert "the prediction leaves their work out" in result.stdout
    result = run("latency", custom_file, "--device-profile", ORT_PROFILE, "--format", "json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    check_document(found)
    assert CUSTOM in found["rows_on_roofline"] and AFTER in found["rows_on_roofline"]
    assert any("com.me::Relu" in line for line in found["count_missing"])


def test_compare_with_the_profile_predicts_it(custom_file: str, tmp_path: Path):
    other = save(custom_graph(), tmp_path, "other.onnx")
    result = run("compare", custom_file, other, "--device-profile", ORT_PROFILE)
    assert result.exit_code == 0, result.output
    assert CUSTOM in result.stdout  # the note naming the rows costed on the roofline


def test_a_torch_profile_prediction_of_the_file_says_the_count_is_incomplete(custom_file: str):
    predicted = api.predict_on(request(custom_file), api.device_profile(TORCH_PROFILE))
    assert any("com.me::Relu" in line for line in predicted.kernels.missing)
    result = run("latency", custom_file, "--device-profile", TORCH_PROFILE)
    assert result.exit_code == 0, result.output
    assert "the count is incomplete (" in result.stdout


def test_a_complete_count_has_no_note_nor_field(tmp_path: Path):
    nodes = [node("Conv", ["x", "w"], ["c"]), node("Relu", ["c"], ["y"])]
    path = save(model(nodes, {"x": (1, 3, 8, 8)}, ["y"], [weight("w", 8, 3, 1, 1)]), tmp_path)
    result = run("latency", path, "--device-profile", ORT_PROFILE, "--format", "json")
    assert result.exit_code == 0, result.output
    assert "count_missing" not in json.loads(result.stdout)
    assert "incomplete" not in run("latency", path, "--device-profile", ORT_PROFILE).stdout


def test_shape_arithmetic_the_count_folds_is_no_node(tmp_path: Path):
    """Reshape(r, Concat(Gather(Shape(r), 0), -1)), as the TorchScript exporter writes a
    flatten: the shape nodes read an activation, but their values are known at count time."""
    nodes = [
        node("Relu", ["x"], ["r"]),
        node("Shape", ["r"], ["s"]),
        node("Gather", ["s", "zero"], ["n"], axis=0),
        node("Unsqueeze", ["n", "axes"], ["n1"]),
        node("Concat", ["n1", "minus"], ["target"], axis=0),
        node("Reshape", ["r", "target"], ["y"]),
    ]
    inits = [ints("axes", 0), ints("minus", -1), numpy_helper.from_array(np.array(0), "zero")]
    path = save(model(nodes, {"x": (1, 4, 2, 2)}, ["y"], inits), tmp_path)
    names = [n.name for n in graph_nodes(shaped(load_graph(path)))]
    assert names == ["relu", "reshape"]
