"""The JSON a command prints is, character for character, `cnnprof.to_json` of the matching
Python API call: one writer per result serves both (a view chooses the rows where a command's
options do)."""

from __future__ import annotations

import pytest
from conftest import run

import cnnprof
from cnnprof.api.latency import device_profile, predict_on
from cnnprof.api.request import request
from cnnprof.report.view import TOTALS, View


def _printed(*args: str) -> str:
    """What ``cnnprof ARGS --format json`` writes on stdout (it must succeed)."""
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, (result.stderr, result.exception)
    return result.stdout


@pytest.mark.parametrize(
    ("options", "view"),
    [
        (("--layers",), None),  # to_json's default for a count: every row
        (("--by", "op"), View(format="json", by_op=True)),
        (("--layers", "--by", "op"), View(format="json", layers=True, by_op=True)),
        (("--layers", "--sort", "macs", "--top", "3"), View(layers=True, sort="macs", top=3)),
        ((), TOTALS),
    ],
)
def test_count(options: tuple[str, ...], view: View | None) -> None:
    profile = cnnprof.count("mobilenet", alpha=0.5)
    assert profile.published is not None  # the paper's figure is in both: MobileNet Table 6
    printed = _printed("count", "mobilenet", "--alpha", "0.5", *options)
    assert printed == cnnprof.to_json(profile, view)


def test_count_of_a_module_summed_to_a_depth() -> None:
    view = View(layers=True, max_depth=1)
    printed = _printed("count", "resnet18", "--layers", "--max-depth", "1")
    assert printed == cnnprof.to_json(cnnprof.count("resnet18"), view)


@pytest.mark.parametrize(("options", "view"), [(("--layers",), None), ((), TOTALS)])
def test_latency_predicted_for_a_device_profile(options: tuple[str, ...], view: View) -> None:
    predicted = predict_on(request("mobilenet"), device_profile("amd-epyc-1t"))
    printed = _printed("latency", "mobilenet", "--device-profile", "amd-epyc-1t", *options)
    assert printed == cnnprof.to_json(predicted, view)


def test_compare() -> None:
    printed = _printed("compare", "vgg16", "resnet50")
    assert printed == cnnprof.to_json(cnnprof.compare("vgg16", "resnet50"))


def test_sweep() -> None:
    """The API marks the Pareto frontier always, as ``sweep --pareto`` does."""
    points = cnnprof.sweep("mobilenet", alpha=[1.0, 0.5], resolution=[224, 160])
    options = ("--alpha", "1,0.5", "--resolution", "224,160", "--pareto")
    printed = _printed("sweep", "mobilenet", *options)
    assert printed == cnnprof.to_json(points)


def test_separable() -> None:
    printed = _printed("separable", "mobilenet")
    assert printed == cnnprof.to_json(cnnprof.separable("mobilenet"))
