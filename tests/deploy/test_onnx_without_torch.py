"""`cnnprof count model.onnx` where torch cannot be imported (stubbed out, in a fresh
interpreter, as in tests/test_no_torch.py): the ONNX count needs only the onnx package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("onnx")

import test_no_torch as no_torch
from onnx_graphs import model, node, save, weight

# the stub that blocks torch, and a fresh cache per child process
no_torch_path = no_torch.no_torch_path
fresh_cache = no_torch.fresh_cache


@pytest.mark.slow
def test_count_an_onnx_file_without_torch(no_torch_path: Path, tmp_path: Path):
    # a 3×3 conv, 3 → 4 channels on 8×8, padded: 108 weights × 64 positions = 6,912 MACs
    made = model(
        [node("Conv", ["x", "w"], pads=[1, 1, 1, 1])],
        {"x": (1, 3, 8, 8)},
        ["y"],
        [weight("w", 4, 3, 3, 3)],
    )
    path = save(made, tmp_path)
    args = ["-m", "cnnprof", "count", path, "--layers", "--format", "json"]
    proc = no_torch.run_python(args, no_torch_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["totals"]["macs"] == 6912
    assert proc.stderr == ""
