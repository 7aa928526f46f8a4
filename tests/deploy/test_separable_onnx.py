"""`cnnprof separable` on an ONNX file: a fixed graph has neither twin, and says why; its own
convolutions are still costed both ways and, for a device profile, predicted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("onnx")

from conftest import run
from onnx_graphs import save
from test_onnx_cli import small


def test_an_onnx_file_has_no_twins_and_says_why(tmp_path: Path):
    path = save(small(), tmp_path)
    result = run("separable", path, "--device-profile", "amd-epyc-1t", "-f", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["standard"] is None and data["separable"] is None
    assert set(data["refused"]) == {"standard", "separable"}
    assert all("a fixed graph" in why for why in data["refused"].values())
    assert data["reference"] == "written" and data["written"]["predicted_faster_ratio"] == 1.0
    (layer,) = data["layers"]
    assert layer["standard_predicted_ms"] > 0 and layer["separable_predicted_ms"] is None
