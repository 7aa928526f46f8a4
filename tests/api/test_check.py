"""`cnnprof snapshot` / `cnnprof check`: baselines, budgets, tolerances, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_error
from typer.testing import CliRunner

import cnnprof
from cnnprof.api.check import parse_tolerance
from cnnprof.cli import app

runner = CliRunner()

GROWN_SPEC = """
family: tiny
paper: "test spec"
input: [3, 32, 32]
layers:
  - {op: conv, out: 16, k: 3, s: 2}
  - {op: dws, out: 32}
{extra}  - {op: gap}
  - {op: fc, out: 10, classifier: true}
"""


def _spec(tmp_path, extra: str = "") -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(GROWN_SPEC.replace("{extra}", extra))
    return str(path)


def _snapshot(tmp_path, model: str) -> str:
    out = tmp_path / "baseline.json"
    result = runner.invoke(app, ["snapshot", model, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return str(out)


def test_snapshot_is_versioned_with_stable_keys(tmp_path):
    data = json.loads(Path(_snapshot(tmp_path, "mobilenet@alpha=0.5")).read_text())
    assert data["schema"] == "cnnprof.snapshot/1"
    entry = data["models"][0]
    assert entry["model"] == "mobilenet@alpha=0.5"
    assert entry["counts"]["macs"] == cnnprof.count("mobilenet", alpha=0.5).macs
    assert list(entry["counts"]) == [
        "params",
        "macs",
        "flops",
        "param_bytes",
        "peak_activation_bytes",
    ]


def test_unchanged_model_passes(tmp_path):
    result = runner.invoke(app, ["check", _snapshot(tmp_path, "resnet18")])
    assert result.exit_code == 0, result.output
    assert "all 5 metrics hold" in result.output


def test_model_grown_by_one_layer_fails_and_names_the_metric(tmp_path):
    spec = _spec(tmp_path)
    baseline = _snapshot(tmp_path, spec)
    _spec(tmp_path, extra="  - {op: dws, out: 32}\n")  # the model grows by one row
    result = runner.invoke(app, ["check", baseline, "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    failed = {r["metric"] for r in report["results"] if r["status"] == "FAIL"}
    assert {"params", "macs"} <= failed
    assert report["passed"] is False


def test_change_inside_tolerance_passes(tmp_path):
    spec = _spec(tmp_path, extra="  - {op: dws, out: 32}\n")
    baseline = tmp_path / "baseline.json"
    data = json.loads(Path(_snapshot(tmp_path, spec)).read_text())
    for key, value in data["models"][0]["counts"].items():  # baseline 1 % below today
        data["models"][0]["counts"][key] = value / 1.01
    baseline.write_text(json.dumps(data))
    assert runner.invoke(app, ["check", str(baseline), "--tolerance", "0.5%"]).exit_code == 1
    assert runner.invoke(app, ["check", str(baseline), "--tolerance", "2%"]).exit_code == 0


def test_budget_over_its_limit_fails(tmp_path):
    budget = tmp_path / "budget.yaml"
    # MobileNet paper, Table 6: 0.5 MobileNet-224 has 149 M MACs; 140M cannot hold.
    budget.write_text("models:\n  - {model: 'mobilenet@alpha=0.5', max_macs: 140M}\n")
    result = runner.invoke(app, ["check", str(budget), "--format", "md"])
    assert result.exit_code == 1
    assert "**FAIL**" in result.stdout and "macs" in result.stdout
    budget.write_text("models:\n  - {model: 'mobilenet@alpha=0.5', max_macs: 150M}\n")
    assert runner.invoke(app, ["check", str(budget)]).exit_code == 0


@pytest.mark.parametrize(
    ("content", "name"),
    [
        ("{not json", "baseline.json"),
        (json.dumps({"schema": "cnnprof.snapshot/999", "models": []}), "baseline.json"),
        (json.dumps({"schema": "cnnprof.snapshot/1", "models": [{"x": 1}]}), "baseline.json"),
        ("models:\n  - {model: no_such_net, max_macs: 1M}\n", "budget.yaml"),
        ("models:\n  - {model: resnet18, max_macs: -5}\n", "budget.yaml"),
        ("models:\n  - {model: resnet18}\n", "budget.yaml"),
        ("models:\n  - {model: resnet18, max_cats: 3}\n", "budget.yaml"),
        ("models: [", "budget.yaml"),
    ],
)
def test_bad_baselines_and_budgets_exit_2(tmp_path, content, name):
    path = tmp_path / name
    path.write_text(content)
    assert_error(runner.invoke(app, ["check", str(path)]))


def test_negative_tolerance_exits_2(tmp_path):
    assert_error(
        runner.invoke(app, ["check", _snapshot(tmp_path, "resnet18"), "--tolerance", "-1%"])
    )


def test_update_rewrites_only_when_asked(tmp_path):
    spec = _spec(tmp_path)
    baseline = _snapshot(tmp_path, spec)
    before = Path(baseline).read_text()
    _spec(tmp_path, extra="  - {op: dws, out: 32}\n")
    assert runner.invoke(app, ["check", baseline]).exit_code == 1
    assert Path(baseline).read_text() == before  # a failing check leaves the baseline alone
    assert runner.invoke(app, ["check", baseline, "--update"]).exit_code == 0
    assert Path(baseline).read_text() != before
    assert runner.invoke(app, ["check", baseline]).exit_code == 0


def test_tolerance_parsing():
    assert parse_tolerance("0.5%") == pytest.approx(0.005)
    assert parse_tolerance("0.01") == pytest.approx(0.01)


def test_zoo_budget_holds():
    result = runner.invoke(app, ["check", "configs/budgets/zoo.yaml"])
    assert result.exit_code == 0, result.output


def test_python_api_for_user_test_suites():
    # MobileNet paper, Table 6: 0.5 MobileNet-224, 149 M mult-adds.
    p = cnnprof.count("mobilenet", alpha=0.5)
    assert 149e6 <= p.macs < 150e6
    assert cnnprof.count("mobilenet@alpha=0.5").macs == p.macs


# --- latency in baselines and budgets ----------------------------------------------------------


@pytest.mark.torch
def test_latency_on_another_device_is_skipped_with_a_note(tmp_path):
    baseline = tmp_path / "baseline.json"
    data = json.loads(Path(_snapshot(tmp_path, "lenet5")).read_text())
    data["models"][0]["latency"] = {
        "median_ms": 0.001,  # would fail if it were compared
        "device": "cpu",
        "device_name": "Some Other CPU 9000",
        "threads": 64,
        "torch": "2.13.0+cpu",
    }
    baseline.write_text(json.dumps(data))
    result = runner.invoke(app, ["check", str(baseline), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "latency_ms" not in {r["metric"] for r in report["results"]}
    assert "latency skipped" in report["notes"][0] and "Some Other CPU 9000" in report["notes"][0]


@pytest.mark.torch
def test_snapshot_with_latency_records_device_and_threads(tmp_path):
    out = tmp_path / "timed.json"
    args = ["snapshot", "lenet5", "--latency", "-o", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    latency = json.loads(out.read_text())["models"][0]["latency"]
    assert latency["median_ms"] > 0 and latency["threads"] >= 1 and latency["device"] == "cpu"
    assert latency["p10_ms"] <= latency["median_ms"] <= latency["p90_ms"]


@pytest.mark.torch
def test_latency_budget(tmp_path):
    budget = tmp_path / "budget.yaml"
    budget.write_text("models:\n  - {model: lenet5, max_latency_ms: 0.000001, device: cpu}\n")
    result = runner.invoke(app, ["check", str(budget), "--format", "json"])
    assert result.exit_code == 1
    failed = [r for r in json.loads(result.stdout)["results"] if r["status"] == "FAIL"]
    assert [r["metric"] for r in failed] == ["latency_ms"]


def test_negative_latency_tolerance_exits_2(tmp_path):
    args = ["check", _snapshot(tmp_path, "lenet5"), "--latency-tolerance", "-5%"]
    assert_error(runner.invoke(app, args))
