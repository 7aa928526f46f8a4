"""`cnnprof device --runtime onnxruntime --save FILE` with torch blocked: a device profile for ONNX
Runtime is made with `cnnprof[onnx]` alone (the stub pattern of tests/test_no_torch.py), on the
two-network plan ``CNNPROF_ORT_PLAN=quick``, and predicts a registry model with no runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
FORBIDDEN = ("torch", "torchvision", "fvcore", "timm")


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnnprof", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


@pytest.mark.slow
def test_device_for_onnxruntime_without_torch(tmp_path: Path):
    stub = tmp_path / "stub"
    for name in FORBIDDEN:
        (stub / name).mkdir(parents=True)
        (stub / name / "__init__.py").write_text(
            f"raise ImportError('cnnprof test: importing {name} is forbidden here')\n",
            encoding="utf-8",
        )
    env = {**os.environ, "CNNPROF_CACHE_DIR": str(tmp_path / "cache"), "CNNPROF_ORT_PLAN": "quick"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(stub), env.get("PYTHONPATH")) if p)
    saved = tmp_path / "ort-1t.json"
    args = ["device", "--runtime", "onnxruntime", "--threads", "1", "--save", str(saved)]
    proc = _run([*args, "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(saved.read_text(encoding="utf-8"))
    assert (record["runtime"], record["threads"], record["torch_version"]) == ("onnxruntime", 1, "")
    assert {k["kind"] for k in record["kernels"]} >= {"conv", "pointwise", "linear"}
    assert "a quick calibration is not cached" in proc.stderr
    proc = _run(["latency", "mobilenet", "--device-profile", str(saved), "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["runtime"].startswith("onnxruntime ")
