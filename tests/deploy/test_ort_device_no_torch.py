"""`cnnprof device --runtime onnxruntime --save FILE` with torch blocked: a device profile for ONNX
Runtime is made with `cnnprof[onnx]` alone (the stub of tests/test_no_torch.py), on the
two-network plan ``CNNPROF_ORT_PLAN=quick``, and predicts a registry model with no runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_no_torch import no_torch_path, run_python

pytest.importorskip("onnxruntime")
__all__ = ["no_torch_path"]  # the stub's fixture, used by name


@pytest.mark.slow
def test_device_for_onnxruntime_without_torch(
    no_torch_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CNNPROF_ORT_PLAN", "quick")
    saved = tmp_path / "ort-1t.json"
    # --force: the quick plan's two networks may fit too loosely for the judge on a busy machine
    args = ["device", "--runtime", "onnxruntime", "--threads", "1", "--force", "--save", str(saved)]
    proc = run_python(["-m", "cnnprof", *args, "--format", "json"], no_torch_path)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(saved.read_text(encoding="utf-8"))
    assert (record["runtime"], record["threads"], record["torch_version"]) == ("onnxruntime", 1, "")
    assert {k["kind"] for k in record["kernels"]} >= {"conv", "pointwise", "linear"}
    assert "a quick calibration is not cached" in proc.stderr
    predict = ["latency", "mobilenet", "--device-profile", str(saved), "--format", "json"]
    proc = run_python(["-m", "cnnprof", *predict], no_torch_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["runtime"].startswith("onnxruntime ")
