"""Inputs bounded before any work: a batch a C int cannot hold, a sweep target that is not a
finite positive time, a width that rounds every layer below its fewest channels. Each is one
line, exit 2, no traceback."""

from __future__ import annotations

import re

import pytest
from conftest import assert_error, run

from cnnprof.results.vocab import MAX_BATCH

HUGE = "99999999999999999999"  # more than an int64 holds


@pytest.mark.parametrize(
    "command",
    [
        ("count", "mobilenet"),
        ("latency", "mobilenet"),
        ("export", "mobilenet", "-o", "never.onnx"),
        ("snapshot", "mobilenet"),
        ("compare", "mobilenet", "resnet50"),
        ("sweep", "mobilenet", "--alpha", "1,0.5"),
    ],
)
def test_a_batch_no_c_int_holds_is_refused_by_every_command(command):
    assert_error(run(*command, "--batch", HUGE), f"--batch {HUGE}", f"≤ {MAX_BATCH}")


def test_the_largest_batch_is_still_counted():
    assert run("count", "mobilenet", "--batch", str(MAX_BATCH)).exit_code == 0


@pytest.mark.parametrize("target", ["nan", "inf", "-1", "0"])
def test_a_sweep_target_is_a_finite_time_above_zero(target):
    profile = ("--device-profile", "amd-epyc-1t")
    result = run("sweep", "mobilenet", "--alpha", "1,0.5", *profile, "--target-ms", target)
    assert_error(result, f"--target-ms {target}", "finite target > 0 ms")


def smallest_alpha(model: str, alpha: str, *command: str) -> float:
    """The smallest --alpha the refusal of ``alpha`` names."""
    err = assert_error(run(*command, model, "--alpha", alpha), f"--alpha {alpha}", model)
    return float(re.search(r"the smallest --alpha is (\S+)$", err.strip()).group(1))


@pytest.mark.parametrize("model", ["mobilenet_v1", "mobilenet_v2", "efficientnet_b0"])
def test_a_width_every_layer_rounds_below_its_minimum_names_the_smallest(model):
    smallest = smallest_alpha(model, "1e-300", "count")
    assert run("count", model, "--alpha", f"{smallest:g}").exit_code == 0
    smallest_alpha(model, f"{smallest * 0.99:g}", "count")  # just below: refused too


def test_the_smallest_width_follows_the_rounding_rule():
    # configs/models/mobilenet_v1.yaml floors c·α, never below 8 (the authors' min_depth): its
    # widest layer (1024, Howard et al. 2017, Table 1) reaches 8 at 8/1024. mobilenet_v2.yaml
    # rounds to the nearest multiple of 8: its widest scaled layer (320; the last 1280 never
    # shrinks; Sandler et al. 2018, Table 2) rounds to 8 from c·α = 4, at 4/320.
    assert smallest_alpha("mobilenet_v1", "0.001", "count") == pytest.approx(8 / 1024, rel=1e-3)
    assert smallest_alpha("mobilenet_v2", "0.001", "count") == pytest.approx(4 / 320, rel=1e-3)


@pytest.mark.parametrize("command", [("latency",), ("sweep", "--alpha", "1e-300,0.5")])
def test_latency_and_sweep_refuse_the_width_too(command):
    name, *options = command
    result = run(name, "mobilenet", *(options or ["--alpha", "1e-300"]))
    assert_error(result, "--alpha 1e-300", "the smallest --alpha is")
