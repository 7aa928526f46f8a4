"""`cnnprof latency model.onnx --runtime onnxruntime` with torch blocked: ONNX Runtime timing
needs only `cnnprof[onnx]` (the stub pattern of tests/test_no_torch.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
FORBIDDEN = ("torch", "torchvision", "fvcore", "timm")


@pytest.mark.slow
def test_latency_of_an_onnx_file_without_torch(tmp_path: Path):
    from tests.deploy.test_ort import conv_relu_graph

    stub = tmp_path / "stub"
    for name in FORBIDDEN:
        (stub / name).mkdir(parents=True)
        (stub / name / "__init__.py").write_text(
            f"raise ImportError('cnnprof test: importing {name} is forbidden here')\n",
            encoding="utf-8",
        )
    model = tmp_path / "tiny.onnx"
    model.write_bytes(conv_relu_graph())
    env = {**os.environ, "CNNPROF_CACHE_DIR": str(tmp_path / "cache")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(stub), env.get("PYTHONPATH")) if p)
    args = ["latency", str(model), "--runtime", "onnxruntime", "--threads", "1", "--layers"]
    proc = subprocess.run(
        [sys.executable, "-m", "cnnprof", *args, "--min-time", "0.05", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["runtime"] == "onnxruntime" and found["runs"] >= 5 and found["nodes"]
