"""Budgets and baselines with a runtime: `runtime:` on an entry runs its max_latency_ms and
max_latency_ratio in that runtime, max_predicted_ms takes only a profile calibrated under it,
a snapshot records the runtime, and `check` measures a baseline again only in the runtime it
was recorded in. The machine is a fake (tests/api/test_latency_ratio.py): nothing is timed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_error, run
from test_latency_ratio import FakeMachine


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeMachine:
    machine = FakeMachine([2.0] * 6, [10.0] * 6)
    monkeypatch.setattr("cnnprof.cli.measure.machine", lambda *_: machine.machine())
    return machine


def _file(tmp_path: Path, text: str, name: str = "budget.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_latency_budgets_run_in_the_entrys_runtime(tmp_path: Path, fake: FakeMachine):
    path = _file(
        tmp_path,
        "models:\n"
        "  - {model: lenet5, max_latency_ms: 5, runtime: onnxruntime}\n"
        "  - {model: lenet5, max_latency_ratio: 0.3, reference: resnet18, runtime: onnxruntime}\n"
        "  - {model: lenet5, max_latency_ms: 5}\n",
    )
    result = run("check", path, "--format", "json")
    assert result.exit_code == 0, result.output
    assert fake.runtimes == ["onnxruntime", "onnxruntime", "torch"]


def test_an_unknown_runtime_in_a_budget_is_refused(tmp_path: Path):
    path = _file(tmp_path, "models:\n  - {model: lenet5, max_macs: 1M, runtime: tvm}\n")
    assert_error(run("check", path), "field 'runtime'", "torch, onnxruntime")


def test_a_predicted_budget_takes_only_a_profile_of_its_runtime(tmp_path: Path):
    """The shipped profiles were calibrated in torch eager."""
    from cnnprof.api.latency import shipped_profiles

    name = next(iter(shipped_profiles()), None)
    if name is None:
        pytest.skip("no shipped device profile")
    text = f"models:\n  - {{model: lenet5, max_predicted_ms: 5, device_profile: {name}, "
    path = _file(tmp_path, text + "runtime: onnxruntime}\n")
    assert_error(run("check", path), "calibrated under torch", "runtime is onnxruntime")


def test_a_snapshot_records_its_runtime_and_check_measures_in_it(tmp_path: Path, fake):
    out = tmp_path / "base.json"
    args = ("snapshot", "lenet5", "--latency", "--runtime", "onnxruntime", "-o", str(out))
    assert run(*args).exit_code == 0
    entry = json.loads(out.read_text())["models"][0]
    assert entry["runtime"] == "onnxruntime"
    fake.runtimes.clear()
    result = run("check", str(out), "--format", "json")
    assert result.exit_code == 0, result.output
    assert fake.runtimes == ["onnxruntime"]


def test_a_baseline_of_another_runtime_is_not_compared(tmp_path: Path, fake):
    out = tmp_path / "base.json"
    assert run("snapshot", "lenet5", "--latency", "-o", str(out)).exit_code == 0
    document = json.loads(out.read_text())
    document["models"][0]["runtime"] = "onnxruntime"  # the entry now asks for ORT
    out.write_text(json.dumps(document))
    fake.runtimes.clear()
    result = run("check", str(out), "--format", "json")
    assert result.exit_code == 0, result.output
    assert fake.runtimes == []
    assert any("measured under torch" in n for n in json.loads(result.stdout)["notes"])
