"""Transfer-learning cost: trainable params, backward MACs split into weight- and input-gradient,
and the groups-aware correction of torch's convolution_backward count."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cnnprof import api
from cnnprof.cli import app
from cnnprof.errors import OptionError

runner = CliRunner()


def cost(reference: str):
    request = api.request(reference)
    return request, api.training(request)


def test_resnet50_head_only_ten_classes():
    _, c = cost("resnet50@classes=10,train=head")
    assert c.trainable_params == 2048 * 10 + 10
    assert c.weight_grad_macs == 2048 * 10  # the head's weight gradient, per image
    assert c.input_grad_macs == 0  # nothing before the head trains
    assert c.backward_macs == 2048 * 10
    assert c.forward_macs == api.profile_analytic(api.request("resnet50@classes=10")).macs


def test_batch_scales_the_step():
    _, one = cost("resnet50@classes=10,train=head")
    _, eight = cost("resnet50@classes=10,train=head,batch=8")
    assert eight.backward_macs == 8 * one.backward_macs
    assert eight.trainable_params == one.trainable_params


@pytest.mark.torch
def test_mobilenet_v2_from_last_stages_depthwise_backward_is_twice_forward():
    request, c = cost("mobilenet_v2@train=from:6")
    profile = api.profile_analytic(request)
    first = next(i for i, r in enumerate(profile.layers) if r.path.startswith("6."))
    depthwise_after = [r for r in profile.layers[first + 1 :] if r.op == "dwconv"]
    measured = api.measured_training(request, c)
    # every grouped conv that trains: input-grad + weight-grad = 2 × its forward MACs
    assert sorted(g.correct_macs for g in measured.grouped) == sorted(
        2 * r.macs for r in depthwise_after
    )
    # torch's own formula ignores groups: it overcounts each by about the channel count
    for g in measured.grouped:
        assert g.torch_macs > g.groups * g.correct_macs / 4
    assert measured.backward_macs == c.backward_macs
    assert measured.torch_backward_macs > c.backward_macs


@pytest.mark.torch
@pytest.mark.parametrize("reference", ["mobilenet@alpha=0.25,res=64", "mnasnet_a1@res=64"])
def test_train_all_analytic_equals_measured_exactly(reference):
    request, c = cost(f"{reference},train=all")
    measured = api.measured_training(request, c)
    assert measured.forward_macs == c.forward_macs
    assert measured.backward_macs == c.backward_macs
    assert c.input_grad_macs == c.forward_macs - api.profile_analytic(request).layers[0].macs


@pytest.mark.torch
def test_cli_says_torch_disagrees_and_why():
    result = runner.invoke(app, ["count", "mobilenet_v2", "--train", "from:6", "--empirical"])
    assert result.exit_code == 0, result.output
    assert "ignores groups" in result.stdout
    assert "equals the analytic count" in result.stdout


def test_cli_json():
    args = ["count", "resnet50", "--num-classes", "10", "--train", "head", "-f", "json"]
    result = runner.invoke(app, args)
    data = json.loads(result.stdout)["training"]
    assert data["trainable_params"] == 20490
    assert data["optimizer_bytes"]["adam"] == 2 * 4 * 20490


def test_compare_with_train_references():
    args = ["compare", "resnet50@train=head", "resnet50@train=all", "mobilenet_v2@train=from:6"]
    result = runner.invoke(app, [*args, "-f", "json"])
    assert result.exit_code == 0, result.output
    models = json.loads(result.stdout)["models"]
    assert models[0]["trainable_params"] == 2048 * 1000 + 1000
    assert models[1]["trainable_params"] == models[1]["params"]


@pytest.mark.parametrize("mode", ["tail", "from:", "from:nowhere"])
def test_bad_train_modes(mode):
    with pytest.raises(OptionError):
        api.training(api.request("resnet18", train=mode))
    result = runner.invoke(app, ["count", "resnet18", "--train", mode])
    assert result.exit_code == 2 and result.stderr.startswith("cnnprof: error:")
