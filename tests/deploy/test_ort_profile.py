"""ONNX Runtime's profiler trace read, and its nodes mapped onto the rows (pure Python: a trace
and graphs written here, the shapes ORT 1.32 writes them in)."""

from __future__ import annotations

import pytest

from cnnprof.deploy.ort_profile import (
    GraphNode,
    coverage,
    fused_rows,
    module_path,
    node_seconds,
    node_times,
    row_of,
)


def _run(ts: int, dur: int) -> dict:
    return {"cat": "Session", "name": "model_run", "ts": ts, "dur": dur}


def _node(name: str, op: str, ts: int, dur: int) -> dict:
    return {
        "cat": "Node",
        "name": f"{name}_kernel_time",
        "ts": ts,
        "dur": dur,
        "args": {"op_name": op},
    }


def test_node_seconds_leave_out_the_warm_up_runs_and_take_each_nodes_median():
    trace = [
        _run(0, 100),
        _node("a", "Conv", 10, 90),  # warm-up: left out
        _run(200, 100),
        _node("a", "Conv", 210, 30),
        _node("b", "Relu", 250, 5),
        _run(400, 100),
        _node("a", "Conv", 410, 50),
        _node("b", "Relu", 460, 7),
        _run(600, 100),
        _node("a", "Conv", 610, 40),
        _node("b", "Relu", 660, 6),
        {"cat": "Session", "name": "session_initialization", "ts": 0, "dur": 5},
    ]
    seconds, runs = node_seconds(trace, skip=1)
    assert runs == 3
    assert seconds == {"a": ("Conv", pytest.approx(40e-6)), "b": ("Relu", pytest.approx(6e-6))}


def test_module_path_follows_the_torchscript_exporters_scopes():
    assert module_path("/features/features.0/conv/Conv") == "features.0.conv"
    assert module_path("/conv2/conv2.0/Add") == "conv2.0"
    assert module_path("/Flatten") == ""
    assert module_path("node_Conv_0") == ""


def test_row_of_is_the_deepest_row_holding_the_node_or_the_last_inside_its_module():
    rows = ["conv1", "conv2.0.conv1", "conv2.0.conv2", "fc"]
    assert row_of("/conv1/conv/Conv", rows) == "conv1"
    assert row_of("/conv2/conv2.0/Add", rows) == "conv2.0.conv2"  # a block's own forward
    assert row_of("/Flatten", rows) == ""
    assert row_of("Conv_3", ["Conv_3", "Relu_4"]) == "Conv_3"  # an ONNX file: rows are nodes


# A residual block as the TorchScript exporter writes it: conv1 → relu → conv2, + x, relu; then a
# pool and a classifier. ORT's NCHWc transformer renames the convolutions after their outputs
# ("…_nchwc"), fuses each convolution's activation, and conv2's residual add and relu, and adds
# a reorder of its own.
GIVEN = (
    GraphNode("/b/conv1/Conv", "Conv", ("x", "w1"), ("c1",)),
    GraphNode("/b/act1/Relu", "Relu", ("c1",), ("r1",)),
    GraphNode("/b/conv2/Conv", "Conv", ("r1", "w2"), ("c2",)),
    GraphNode("/b/Add", "Add", ("c2", "x"), ("s",)),
    GraphNode("/b/Relu", "Relu", ("s",), ("r2",)),
    GraphNode("/pool/GlobalAveragePool", "GlobalAveragePool", ("r2",), ("p",)),
    GraphNode("/fc/Gemm", "Gemm", ("p", "wf"), ("y",)),
)
OPTIMISED = (
    GraphNode("/b/act1/Relu_output_0_nchwc", "Conv", ("t0", "w1"), ("t1",)),
    GraphNode("/b/conv2/Conv_output_0_nchwc", "Conv", ("t1", "w2", "t0"), ("t2",)),
    GraphNode("/pool/GlobalAveragePool_output_0_nchwc", "GlobalAveragePool", ("t2",), ("t3",)),
    GraphNode("ReorderOutput", "ReorderOutput", ("t3",), ("p",)),
    GraphNode("/fc/Gemm", "Gemm", ("p", "wf"), ("y",)),
)


def _renamed(graph: tuple[GraphNode, ...]) -> tuple[GraphNode, ...]:
    """Tensors named as ORT names a renamed node's output: ``<tensor>_output_0``."""
    names = {"c1": "/b/conv1/Conv_output_0", "r1": "/b/act1/Relu_output_0"}
    names |= {"c2": "/b/conv2/Conv_output_0", "p": "/pool/GlobalAveragePool_output_0"}
    return tuple(
        GraphNode(
            n.name,
            n.op,
            tuple(names.get(t, t) for t in n.inputs),
            tuple(names.get(t, t) for t in n.outputs),
        )
        for n in graph
    )


def test_coverage_finds_the_fused_nodes_and_leaves_orts_own_nodes_bare():
    covers = coverage(_renamed(GIVEN), _renamed(OPTIMISED))
    assert covers == {
        "/b/act1/Relu_output_0_nchwc": ("/b/conv1/Conv", "/b/act1/Relu"),
        "/b/conv2/Conv_output_0_nchwc": ("/b/conv2/Conv", "/b/Add", "/b/Relu"),
        "/pool/GlobalAveragePool_output_0_nchwc": ("/pool/GlobalAveragePool",),
        "ReorderOutput": (),
        "/fc/Gemm": ("/fc/Gemm",),
    }


def test_node_times_go_to_the_row_of_their_first_node_and_fused_rows_say_into_which():
    rows = ["b.conv1", "b.act1", "b.conv2", "pool", "fc"]
    covers = coverage(_renamed(GIVEN), _renamed(OPTIMISED))
    seconds = {name: ("Conv", 1e-3) for name in covers}
    nodes = node_times(seconds, covers, rows)
    assert [(n.row, n.fused) for n in nodes] == [
        ("b.conv1", True),
        ("b.conv2", True),
        ("pool", False),
        ("", False),  # the reorder: counted in no row
        ("fc", False),
    ]
    assert fused_rows(nodes, rows) == {"b.act1": "b.conv1"}


def test_a_batchnorm_run_as_a_blocked_convolution_is_found_by_its_renamed_output():
    """ORT 1.32 runs a BatchNorm it could not fold as an NCHWc convolution named
    ``<output>_bn_nchwc``; the ReLU after it is fused there, not into the pool that follows."""
    bn_out = "/bn/BatchNormalization_output_0"
    given = (
        GraphNode("/bn/BatchNormalization", "BatchNormalization", ("x", "s"), (bn_out,)),
        GraphNode("/act/Relu", "Relu", (bn_out,), ("r",)),
        GraphNode("/MaxPool", "MaxPool", ("r",), ("/MaxPool_output_0",)),
    )
    optimised = (
        GraphNode(f"{bn_out}_bn_nchwc", "Conv", ("t0",), ("t1",)),
        GraphNode("/MaxPool_output_0_nchwc", "MaxPool", ("t1",), ("t2",)),
    )
    assert coverage(given, optimised) == {
        "/bn/BatchNormalization_output_0_bn_nchwc": ("/bn/BatchNormalization", "/act/Relu"),
        "/MaxPool_output_0_nchwc": ("/MaxPool",),
    }
