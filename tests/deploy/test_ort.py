"""ONNX Runtime timed by the protocol eager shares: the structure of a `Timing` (samples,
warm-up, stable flag, threads, optimisation level, provider), per-node times mapped onto a small
exported module's rows, and the refusals. No speed is asserted: the machine is shared."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cnnprof.arch.model import Shape
from cnnprof.deploy.ort import GRAPH_OPTIMIZATION, OrtModel, provider
from cnnprof.errors import MissingExtra, OptionError
from cnnprof.results.timing import ONNXRUNTIME, Deadline, LatencySettings

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
QUICK = {"threads": 1, "min_time": 0.05, "budget": 20.0}


def conv_relu_graph(dtype: int = 1) -> bytes:
    """x[1,3,8,8] → Conv 3→4, 3×3, pad 1 → Relu → GlobalAveragePool: a graph of three nodes."""
    import numpy
    from onnx import helper, numpy_helper

    weight = numpy_helper.from_array(
        numpy.ones((4, 3, 3, 3), dtype=helper.tensor_dtype_to_np_dtype(dtype)), "w"
    )
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["y"], name="pool"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", dtype, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", dtype, ["N", 4, 1, 1])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


def _rows(*pairs: tuple[str, str]) -> list:
    """Profile rows by path and op (shapes do not matter to a timing)."""
    from cnnprof.results.profile import LayerCost

    shape = Shape(1, 1, 1)
    return [LayerCost(path=p, op=o, in_shape=shape, out_shape=shape) for p, o in pairs]


def test_a_timing_records_the_protocol_and_the_runtimes_facts():
    model = OrtModel(conv_relu_graph(), Shape(3, 8, 8), batch=2, model="tiny")
    timing = model.timed(LatencySettings(**QUICK), Deadline(20), None)
    assert timing.runtime == ONNXRUNTIME and timing.runtime_version == ort.__version__
    assert timing.graph_optimization == GRAPH_OPTIMIZATION == "ORT_ENABLE_ALL"
    assert timing.execution_provider == "CPUExecutionProvider"
    assert timing.threads == 1 and timing.batch == 2 and timing.torch_version == ""
    assert timing.runs >= 5 and timing.warmup_runs >= 1
    assert isinstance(timing.warmup_stable, bool) and not timing.budget_hit
    assert timing.p10 <= timing.median <= timing.p90 and timing.cv >= 0
    assert timing.throughput == pytest.approx(2 / timing.median)
    assert not timing.layers and not timing.nodes


def test_a_fixed_warm_up_and_run_count_are_kept():
    model = OrtModel(conv_relu_graph(), Shape(3, 8, 8), model="tiny")
    timing = model.timed(LatencySettings(threads=1, warmup=3, runs=7), Deadline(20), None)
    assert timing.runs == 7 and timing.warmup_runs == 3 and timing.warmup_stable


def test_per_node_times_on_a_file_map_onto_its_node_rows(tmp_path: Path):
    """An ONNX file's rows are its node names; ORT fuses Conv+Relu into one kernel."""
    path = tmp_path / "tiny.onnx"
    path.write_bytes(conv_relu_graph())
    rows = _rows(("conv", "conv"), ("relu", "relu"), ("pool", "gap"))
    model = OrtModel(str(path), Shape(3, 8, 8), model="tiny")
    timing = model.timed(LatencySettings(layers=True, **QUICK), Deadline(20), None, rows)
    assert timing.layer_runs > 0 and timing.nodes
    fused = [n for n in timing.nodes if n.fused]
    assert fused and fused[0].covers == ("conv", "relu") and fused[0].row == "conv"
    by_path = {layer.path: layer for layer in timing.layers}
    assert by_path["relu"].fused_into == "conv" and by_path["relu"].seconds == 0
    assert timing.layer_sum == pytest.approx(sum(n.seconds for n in timing.nodes))
    assert timing.layer_ratio is not None and timing.layer_ratio > 0


@pytest.mark.torch
def test_per_node_times_of_an_exported_module_map_onto_its_module_rows():
    import torch
    from torch import nn

    module = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(512, 10),
    ).eval()
    buffer = io.BytesIO()
    torch.onnx.export(module, (torch.randn(1, 3, 8, 8),), buffer, dynamo=False)
    rows = _rows(("0", "conv"), ("1", "norm"), ("2", "relu"), ("4", "fc"))
    model = OrtModel(buffer.getvalue(), Shape(3, 8, 8), model="small")
    timing = model.timed(LatencySettings(layers=True, **QUICK), Deadline(20), None, rows)
    conv = next(n for n in timing.nodes if n.row == "0")
    assert conv.fused and "/2/Relu" in conv.covers  # BatchNorm folded at export, ReLU fused here
    assert {layer.path: layer.fused_into for layer in timing.layers}["2"] == "0"
    assert {n.row for n in timing.nodes} >= {"0", "4"}


def test_a_dtype_the_graphs_input_is_not_is_refused_in_one_line():
    model = OrtModel(conv_relu_graph(), Shape(3, 8, 8), dtype="float16", model="tiny")
    with pytest.raises(OptionError, match=r"--dtype float16: tiny's input 'x' is tensor\(float\)"):
        model.timed(LatencySettings(threads=1), Deadline(20), None)


def test_cuda_without_its_provider_names_what_to_install():
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")
    with pytest.raises(MissingExtra, match="pip install onnxruntime-gpu"):
        provider(ort, "cuda")


def test_options_of_eager_alone_are_refused():
    model = OrtModel(conv_relu_graph(), Shape(3, 8, 8), model="tiny")
    with pytest.raises(OptionError, match="--channels-last"):
        model.timed(LatencySettings(channels_last=True), Deadline(20), None)


def test_both_runtimes_time_the_same_numbers():
    """`--runtime torch,onnxruntime` compares like for like: the input torch eager times holds the
    very numbers ONNX Runtime's feed holds (same shape, dtype and values)."""
    torch = pytest.importorskip("torch")
    from cnnprof.empirical.latency import _prepare

    model = OrtModel(conv_relu_graph(), Shape(3, 8, 8), batch=2, model="tiny")
    _, feed = model.ready(LatencySettings(threads=1, runtime=ONNXRUNTIME))
    (given,) = feed.values()
    module = torch.nn.Conv2d(3, 4, 3)
    _, x = _prepare(module, Shape(3, 8, 8), 2, "float32", torch.device("cpu"), last=False)
    assert x.dtype == torch.float32 and tuple(x.shape) == given.shape == (2, 3, 8, 8)
    assert (x.numpy() == given).all()
