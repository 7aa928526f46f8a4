"""`--runtime` beside `--device-profile`: not given, the profile's own runtime predicts (and is
recorded, measured); given, it must be that one, else one line and exit 2. Nothing is timed:
every prediction here comes from a shipped profile (amd-epyc-1t: torch eager;
intel-xeon-ort-1t: ONNX Runtime)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_error, run

EAGER, ORT = "amd-epyc-1t", "intel-xeon-ort-1t"


@pytest.mark.parametrize("command", [("latency", "mobilenet"), ("compare", "mobilenet", "lenet5")])
def test_a_profile_asked_for_another_runtime_is_refused(command: tuple[str, ...]):
    result = run(*command, "--device-profile", ORT, "--runtime", "torch")
    assert_error(result, "calibrated in onnxruntime", "not torch", "--runtime onnxruntime")
    result = run(*command, "--device-profile", EAGER, "--runtime", "onnxruntime")
    assert_error(result, "calibrated in torch", "not onnxruntime", "--runtime torch")


def test_two_runtimes_with_a_profile_are_refused_without_a_command_that_does_not_exist():
    args = ("latency", "mobilenet", "--device-profile", ORT, "--runtime", "torch,onnxruntime")
    err = assert_error(run(*args), "a profile predicts one runtime", "--runtime onnxruntime")
    assert "cnnprof device --runtime torch,onnxruntime" not in err


def test_without_runtime_the_profile_predicts_its_own_and_says_which():
    args = ("latency", "mobilenet", "--device-profile", ORT, "--format", "json")
    found = json.loads(run(*args).stdout)
    assert found["runtime"].startswith("onnxruntime ") and found["predicted_s"] > 0
    asked = run(*args, "--runtime", "onnxruntime")
    assert asked.exit_code == 0, asked.stderr
    assert json.loads(asked.stdout) == found


def test_an_eager_profile_given_torch_predicts_as_without_it():
    plain = run("latency", "mobilenet", "--device-profile", EAGER)
    asked = run("latency", "mobilenet", "--device-profile", EAGER, "--runtime", "torch")
    assert plain.exit_code == asked.exit_code == 0
    assert plain.stdout == asked.stdout and plain.stderr == asked.stderr == ""


def test_an_onnx_file_on_an_eager_profile_says_torch_eager(tmp_path: Path):
    pytest.importorskip("onnx")
    from tests.deploy.test_ort import conv_relu_graph

    path = tmp_path / "tiny.onnx"
    path.write_bytes(conv_relu_graph())
    result = run("latency", str(path), "--device-profile", EAGER)
    assert result.exit_code == 0, result.stderr
    assert "calibrated in torch eager" in result.stderr and "not ONNX Runtime" in result.stderr


def test_a_snapshot_for_an_ort_profile_records_its_runtime_and_checks(tmp_path: Path):
    out = tmp_path / "base.json"
    made = run("snapshot", "lenet5", "--device-profile", ORT, "-o", str(out))
    assert made.exit_code == 0, made.stderr
    assert json.loads(out.read_text())["models"][0]["runtime"] == "onnxruntime"
    assert run("check", str(out)).exit_code == 0
    refused = run("snapshot", "lenet5", "--device-profile", ORT, "--runtime", "torch")
    assert_error(refused, "not torch")


def test_device_threads_help_says_what_each_runtime_uses():
    text = " ".join(run("device", "--help").stdout.replace("│", " ").split())
    assert "torch's current under torch" in text and "under --runtime onnxruntime" in text
