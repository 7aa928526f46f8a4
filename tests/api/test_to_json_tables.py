"""The JSON `cnnprof compare`, `sweep` and `separable` print is, character for character,
`cnnprof.to_json` of the matching Python API call: one document writer for both."""

from __future__ import annotations

import json

import pytest
from conftest import run

import cnnprof


def _cli_json(*args: str) -> str:
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("args", "call"),
    [
        (("vgg16", "resnet50"), lambda: cnnprof.compare("vgg16", "resnet50")),
        (
            ("mobilenet", "resnet50", "--baseline", "resnet50"),
            lambda: cnnprof.compare("mobilenet", "resnet50", baseline="resnet50"),
        ),
        (
            ("mobilenet", "resnet50", "--device-profile", "amd-epyc-1t"),
            lambda: cnnprof.compare("mobilenet", "resnet50", device_profile="amd-epyc-1t"),
        ),
    ],
)
def test_compare_json_is_to_json(args, call) -> None:
    assert _cli_json("compare", *args) == cnnprof.to_json(call())


def test_compare_json_names_the_device_profile() -> None:
    text = _cli_json("compare", "mobilenet", "resnet50", "--device-profile", "amd-epyc-1t")
    assert json.loads(text)["device_profile"]["device_profile"] == "amd-epyc-1t"


def test_sweep_grid_with_pareto_json_is_to_json() -> None:
    cli = _cli_json("sweep", "mobilenet", "--alpha", "1,0.5", "--resolution", "224,160", "--pareto")
    swept = cnnprof.sweep("mobilenet", alpha=[1, 0.5], resolution=[224, 160])
    assert cli == cnnprof.to_json(swept)
    # MobileNet paper, Table 7: 1.0 MobileNet-160 is 290 M mult-adds, 67.2 % top-1.
    point = next(p for p in json.loads(cli)["points"] if p["model"] == "mobilenet@res=160")
    assert point["pareto"] is True and point["top1"] == 67.2
    assert point["macs"] == pytest.approx(290e6, rel=0.01)


def test_sweep_phi_json_is_to_json() -> None:
    cli = _cli_json("sweep", "efficientnet_b0", "--phi", "0..2")
    assert cli == cnnprof.to_json(cnnprof.sweep("efficientnet_b0", phi="0..2", pareto=False))
    assert cli == cnnprof.to_json(cnnprof.sweep("efficientnet_b0", phi=[0, 1, 2], pareto=False))
    points = json.loads(cli)["points"]
    assert "pareto" not in points[0]  # the flags are --pareto's
    assert [p["official"] for p in points] == [
        "efficientnet_b0",
        "efficientnet_b1",
        "efficientnet_b2",
    ]


def test_sweep_with_a_device_profile_json_is_to_json() -> None:
    args = ("--alpha", "1,0.5", "--device-profile", "amd-epyc-1t", "--target-ms", "15")
    cli = _cli_json("sweep", "mobilenet", *args, "--pareto")
    swept = cnnprof.sweep("mobilenet", alpha=[1, 0.5], device_profile="amd-epyc-1t", target_ms=15)
    assert cli == cnnprof.to_json(swept)
    assert json.loads(cli)["ranked_on"] == "predicted_ms"


@pytest.mark.parametrize("layers", [(), ("--layers",)])
def test_separable_json_is_to_json(layers) -> None:
    cli = _cli_json("separable", "mobilenet", *layers)
    assert cli == cnnprof.to_json(cnnprof.separable("mobilenet"))
    # MobileNet paper, Table 4: Conv MobileNet 4866 M mult-adds, MobileNet 569 M.
    data = json.loads(cli)
    assert data["standard"]["macs"] == pytest.approx(4866e6, rel=0.01)
    assert data["written"]["macs"] == pytest.approx(569e6, rel=0.01)
