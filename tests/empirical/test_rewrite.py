"""The separable twin of an outside model, made by module surgery (`cnnprof.empirical.rewrite`):
shapes unchanged, counted exactly through torch; its standard twin refused in one line; and
`separable --latency` run for real once (structure only, never speed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from conftest import assert_error, run  # noqa: E402
from torch import nn  # noqa: E402

from cnnprof.api.request import request  # noqa: E402
from cnnprof.api.tables import separable  # noqa: E402
from cnnprof.empirical.rewrite import Separable, separable_twin  # noqa: E402
from cnnprof.report import separable as report  # noqa: E402
from cnnprof.report.separable_rows import layer_times  # noqa: E402
from cnnprof.report.view import View  # noqa: E402
from tests.factories.custom_cnn import make as custom  # noqa: E402

PLAIN = "tests/factories/plain_cnn.py:make"


def test_every_plain_kxk_convolution_becomes_depthwise_then_pointwise():
    conv = nn.Conv2d(8, 16, 3, stride=2, padding=2, dilation=2, bias=True)
    model = nn.Sequential(conv, nn.ReLU(), nn.Conv2d(16, 16, 1), nn.Conv2d(16, 16, 3, groups=16))
    twin = separable_twin(model)
    assert model[0] is conv  # the model given is left as it is
    made = twin[0]
    assert isinstance(made, Separable)
    assert (made.dw.groups, made.dw.stride, made.dw.padding, made.dw.dilation) == (
        8,
        (2, 2),
        (2, 2),
        (2, 2),
    )
    assert made.dw.bias is None and made.pw.bias is not None and made.pw.kernel_size == (1, 1)
    assert type(twin[2]) is nn.Conv2d and type(twin[3]) is nn.Conv2d  # 1×1, depthwise: kept
    x = torch.randn(1, 8, 20, 20)
    assert twin(x).shape == model(x).shape


def test_a_conv2d_subclass_is_left_as_written():
    """`MyConv`'s forward does more than the convolution (a ReLU): surgery would drop it."""
    twin = separable_twin(custom())
    assert type(twin.stem).__name__ == "MyConv"
    assert isinstance(twin.conv2, Separable)


def test_a_module_that_is_one_convolution():
    twin = separable_twin(nn.Conv2d(3, 4, 3, padding=1))
    assert isinstance(twin, Separable)


def test_the_outside_twin_is_counted_exactly_and_its_standard_twin_refused():
    """Through the torch count: the twin's MACs and params are the model's less each
    convolution's standard cost plus its separable cost (the bias moves to the pointwise)."""
    result = separable(request(PLAIN))
    assert result.standard is None and result.reference == "written"
    assert "outside model" in result.refused["standard"]
    written, twin = result.written.profile, result.separable.profile
    assert result.separable.label == f"{PLAIN}@separable"
    rows = result.layers
    assert [r.path for r in rows] == ["stem", "body.0", "body.3"]
    assert twin.macs == written.macs - sum(r.standard_macs for r in rows) + sum(
        r.separable_macs for r in rows
    )
    assert twin.params == written.params - sum(r.standard_params for r in rows) + sum(
        r.separable_params for r in rows
    )
    assert twin.complete
    assert {"stem.dw", "stem.pw"} <= {r.path for r in twin.layers}


def test_the_outside_twin_predicted_and_the_refusal_in_the_notes():
    result = separable(request(PLAIN), device_profile="amd-epyc-1t")
    notes = report.separable_notes(result, View(layers=True))
    assert notes[0].startswith("no standard twin: @standard merges each depthwise convolution")
    assert notes[0].endswith("; the ratios are against the model as written")
    assert result.predicted_faster("written") == 1.0
    times = layer_times(result, result.layers[0])
    assert times["standard_predicted_ms"] > 0 and times["separable_predicted_ms"] > 0


def test_references_to_the_outside_twins():
    counted = run("count", f"{PLAIN}@separable", "-f", "json")
    assert counted.exit_code == 0, counted.stderr
    assert json.loads(counted.stdout)["totals"]["params"] == 2565
    assert_error(run("count", f"{PLAIN}@standard"), "is an outside model")


@pytest.mark.slow
def test_separable_latency_runs_for_real():
    """Structure only: every model measured, ratios against the reference present; the tiny
    outside model also row by row (--layers)."""
    for model, more in (("mobilenet@alpha=0.25,res=96", []), (PLAIN, ["--layers"])):
        args = [sys.executable, "-m", "cnnprof", "separable", model, "--latency", *more]
        proc = subprocess.run(
            [*args, "--threads", "1", "-f", "json"], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        assert data["measured"]["threads"] == 1 and data["measured"]["rounds"] >= 5
        for name in ("written", "standard", "separable"):
            if data[name] is not None:
                assert data[name]["latency_ms"] > 0
                assert data[name]["latency_faster_ratio"] > 0
        assert data["reference"] == ("written" if model == PLAIN else "standard")
    assert all(row["separable_measured_ms"] > 0 for row in data["layers"])


@pytest.mark.slow
def test_separable_latency_in_fresh_processes_runs_for_real():
    """Structure only: two fresh processes, one round each."""
    args = [sys.executable, "-m", "cnnprof", "separable", PLAIN, "--latency", "--processes", "2"]
    proc = subprocess.run([*args, "--threads", "1", "-f", "json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["measured"]["processes"] == 2 and data["measured"]["rounds"] == 2
    assert data["separable"]["latency_faster_ratio"] > 0
