"""`cnnprof latency --runtime`: ONNX Runtime alone, both runtimes interleaved with their ratio,
and each bad input in one line, exit 2. Timings are asserted for their structure, never their
speed (the machine is shared)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import assert_error, run

pytest.importorskip("onnxruntime")
QUICK = ("--threads", "1", "--min-time", "0.05", "--budget", "30")


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.deploy.test_ort import conv_relu_graph

    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    path.write_bytes(conv_relu_graph())
    return path


def test_an_onnx_file_is_timed_in_onnx_runtime_and_says_so(tiny_onnx: Path):
    result = run("latency", str(tiny_onnx), "--runtime", "onnxruntime", *QUICK, "--format", "json")
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["runtime"] == "onnxruntime" and found["graph_optimization"] == "ORT_ENABLE_ALL"
    assert found["execution_provider"] == "CPUExecutionProvider" and found["threads"] == 1
    assert found["runs"] >= 5 and found["export"] is None and found["torch"] is None


def test_per_node_times_say_what_they_sum_to(tiny_onnx: Path):
    args = ("latency", str(tiny_onnx), "--runtime", "onnxruntime", "--layers", *QUICK)
    result = run(*args, "--format", "md")
    assert result.exit_code == 0, result.stderr
    assert "onnxruntime" in result.stdout.splitlines()[0]
    assert "nodes sum to" in result.stdout and "of the median" in result.stdout


@pytest.mark.torch
def test_both_runtimes_interleaved_give_a_ratio_with_its_spread():
    args = ("latency", "lenet5", "--runtime", "torch,onnxruntime", *QUICK, "--format", "json")
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert [r["runtime"] for r in found["runtimes"]] == ["onnxruntime", "torch"]
    ratio = found["ratio"]
    assert ratio["of"] == "onnxruntime / torch" and ratio["rounds"] >= 5
    assert ratio["p10"] <= ratio["median"] <= ratio["p90"]
    assert "torchscript exporter, opset" in found["export"]
    table = run("latency", "lenet5", "--runtime", "torch,onnxruntime", *QUICK)
    assert table.exit_code == 0, table.stderr
    assert "torch's time (p10–p90" in " ".join(table.stdout.split())


@pytest.mark.torch
def test_a_registry_model_is_exported_in_memory_and_the_output_says_how():
    result = run("latency", "lenet5", "--runtime", "onnxruntime", *QUICK)
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "exported in memory by torch" in text and "opset 17" in text
    assert "ORT_ENABLE_ALL" in text and "CPUExecutionProvider" in text


def test_an_unknown_runtime_is_refused():
    assert_error(run("latency", "lenet5", "--runtime", "tensorrt"), "--runtime tensorrt")


def test_an_onnx_file_under_torch_is_refused(tiny_onnx: Path):
    args = ("latency", str(tiny_onnx), "--runtime", "torch", *QUICK)
    assert_error(run(*args), "--runtime torch", "--runtime onnxruntime")


def test_an_onnx_file_is_timed_in_onnx_runtime_without_runtime(
    tiny_onnx: Path, monkeypatch: pytest.MonkeyPatch
):
    """Without --runtime an ONNX file goes to ONNX Runtime (here refused for want of it, so
    nothing is timed), not to torch."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert_error(run("latency", str(tiny_onnx), *QUICK), "needs onnxruntime")


def test_cuda_without_the_cuda_provider_says_what_to_install(tiny_onnx: Path):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")
    args = ("latency", str(tiny_onnx), "--runtime", "onnxruntime", "--device", "cuda")
    assert_error(run(*args), "pip install onnxruntime-gpu")


def test_without_onnxruntime_the_install_hint(tiny_onnx: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails
    args = ("latency", str(tiny_onnx), "--runtime", "onnxruntime", *QUICK)
    assert_error(run(*args), "needs onnxruntime: pip install 'cnnprof[onnx]'")


def test_per_row_options_with_two_runtimes_are_refused():
    args = ("latency", "lenet5", "--runtime", "torch,onnxruntime", "--layers")
    assert_error(run(*args), "--layers --runtime torch,onnxruntime")


def test_compare_takes_one_runtime_and_only_with_latency():
    assert_error(run("compare", "lenet5", "resnet18", "--runtime", "onnxruntime"), "add --latency")
    both = ("compare", "lenet5", "resnet18", "--latency", "--runtime", "torch,onnxruntime")
    assert_error(run(*both), "measures in one runtime")


@pytest.mark.torch
def test_compare_latency_in_onnx_runtime_says_so():
    args = ("compare", "lenet5", "mobilenet@alpha=0.25,res=32", "--latency")
    result = run(*args, "--runtime", "onnxruntime", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "latency measured in onnxruntime" in result.stderr


def test_an_onnx_file_with_external_data_is_timed(tmp_path: Path):
    """The session reads the weights beside the file, as the count does."""
    import onnx

    from tests.deploy.test_ort import conv_relu_graph

    path = tmp_path / "external.onnx"
    made = onnx.load_model_from_string(conv_relu_graph())
    onnx.save(made, str(path), save_as_external_data=True, location="w.bin", size_threshold=0)
    assert (tmp_path / "w.bin").is_file()
    result = run("latency", str(path), "--runtime", "onnxruntime", *QUICK, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["runs"] >= 5


def test_an_option_onnx_runtime_cannot_honour_is_refused_before_either_runtime_runs(
    monkeypatch: pytest.MonkeyPatch,
):
    """`--channels-last` and `--allocator release` mean nothing to ONNX Runtime: with two runtimes
    they are refused before torch eager has timed anything."""
    from cnnprof.api import latency
    from cnnprof.api.request import request
    from cnnprof.errors import OptionError
    from cnnprof.results.timing import LatencySettings

    def never(*args, **kwargs):
        raise AssertionError("measured before the refusal")

    monkeypatch.setattr(latency, "measure_interleaved", never)
    for settings in (LatencySettings(channels_last=True), LatencySettings(allocator="release")):
        with pytest.raises(OptionError, match=r"--channels-last|--allocator release"):
            latency.measure_runtimes(request("lenet5"), settings)
