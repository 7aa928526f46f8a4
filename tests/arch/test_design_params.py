"""A generated family's design parameters (RegNet: Radosavovic et al. 2020's d, w0, wa, wm, g, b)
reach it the three ways a user names them — a variant reference, `--param`, and a sweep axis —
and mean the same thing each way; families written row by row and outside models refuse them.
The figures the generator gives at swept parameters are checked against torchvision's own RegNet
in test_families_modern.py."""

from __future__ import annotations

import json

import pytest
from conftest import assert_error, run

import cnnprof
from cnnprof.arch.registry import default_registry


def macs(*args: str) -> int:
    result = run("count", *args, "-f", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["totals"]["macs"]


def test_reference_param_and_api_agree():
    design = {"wm": 2.5, "d": 20}
    expected = default_registry().get("regnet_y_400mf").arch(design=design)
    from cnnprof.analytic.engine import profile

    want = profile(expected).macs
    assert want != cnnprof.count("regnet_y_400mf").macs, "the overrides change the network"
    assert macs("regnet_y_400mf@wm=2.5,d=20") == want
    assert macs("regnet_y_400mf", "--param", "wm=2.5", "--param", "d=20") == want
    assert cnnprof.count("regnet_y_400mf@wm=2.5,d=20").macs == want


def test_sweep_over_a_design_parameter_counts_each_point():
    result = run("sweep", "regnet_y_400mf", "--param", "wm=2,3", "-f", "json")
    assert result.exit_code == 0, result.stderr
    points = json.loads(result.stdout)["points"]
    assert [p["wm"] for p in points] == [2, 3]
    for point in points:
        assert point["macs"] == macs(f"regnet_y_400mf@wm={point['wm']}")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("count", "mobilenet", "--param", "wm=2"), "not generated"),
        (("count", "mobilenet@wm=2"), "not generated"),
        (("count", "regnet_y_400mf", "--param", "zz=2"), "--param 'zz=2'"),
        (("sweep", "regnet_y_400mf", "--param", "wm"), "--param 'wm'"),
        (("count", "regnet_y_400mf", "--param", "wm=0.5"), "wm"),
    ],
)
def test_design_parameters_refused_where_they_mean_nothing(args: tuple[str, ...], fragment: str):
    assert_error(run(*args), fragment)


@pytest.mark.torch
def test_outside_models_have_no_design(tmp_path):
    assert_error(run("count", "torchvision:resnet18@wm=2"), "outside models have none")
