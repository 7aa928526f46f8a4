"""A damaged device profile stops every command that reads it, the same way: one line naming
the file and the field, exit 2, no traceback; a budget on one never passes nor fails (exit 0
or 1). Each profile here is a shipped one (configs/devices/amd-epyc-1t.json) copied and damaged
in one field; nothing is timed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_error, run
from rich.console import Console

from cnnprof.analytic.predictor import UnsoundPrediction, sound
from cnnprof.api.latency import device_profile, predict_on
from cnnprof.api.request import request
from cnnprof.render.latency import peaks_table, prediction_view
from cnnprof.report.view import View

DEVICES = Path(__file__).resolve().parents[2] / "configs" / "devices"


def damaged(directory: Path, field: str, value: Any, name: str = "amd-epyc-1t") -> Path:
    """A copy of a shipped profile in ``directory`` with ``field`` set to ``value``."""
    record = json.loads((DEVICES / f"{name}.json").read_text(encoding="utf-8"))
    record[field] = value
    path = directory / f"damaged-{field}.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


COMMANDS = {
    "latency": ("latency", "mobilenet", "--layers"),
    "compare": ("compare", "mobilenet", "lenet5"),
    "sweep": ("sweep", "mobilenet", "--alpha", "0.5,1"),
    "separable": ("separable", "mobilenet"),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("field", "value"),
    [("module_s", -1.0), ("module_s", float("nan")), ("device_name", "[/bold]evil[red]x")],
)
def test_every_command_refuses_a_damaged_profile_naming_file_and_field(
    tmp_path: Path, command: str, field: str, value: Any
):
    profile = damaged(tmp_path, field, value)
    result = run(*COMMANDS[command], "--device-profile", str(profile))
    assert_error(result, str(profile), field, "not a usable device profile")


def test_a_name_with_an_escape_sequence_is_refused_and_never_printed_raw(tmp_path: Path):
    profile = damaged(tmp_path, "device_name", "CPU\x1b[2J")
    err = assert_error(run(*COMMANDS["latency"], "--device-profile", str(profile)), "device_name")
    assert "\x1b" not in err


def test_a_snapshot_on_a_damaged_profile_writes_nothing(tmp_path: Path):
    profile, out = damaged(tmp_path, "module_s", float("inf")), tmp_path / "baseline.json"
    result = run("snapshot", "mobilenet", "--device-profile", str(profile), "-o", str(out))
    assert_error(result, str(profile), "module_s")
    assert not out.exists()


@pytest.mark.parametrize(("field", "value"), [("module_s", -1.0), ("module_s", float("nan"))])
def test_a_budget_on_a_damaged_profile_never_passes_nor_fails(
    tmp_path: Path, field: str, value: Any
):
    profile = damaged(tmp_path, field, value)
    budget = tmp_path / "budget.yaml"
    budget.write_text(
        f"device_profile: {profile}\nmodels:\n  - {{model: lenet5, max_predicted_ms: 1}}\n"
    )
    assert_error(run("check", str(budget)), str(profile), field)


def test_a_baseline_whose_profile_was_damaged_since_is_refused_and_not_updated(tmp_path: Path):
    profile = tmp_path / "device.json"
    profile.write_bytes((DEVICES / "amd-epyc-1t.json").read_bytes())
    baseline = tmp_path / "baseline.json"
    made = run("snapshot", "mobilenet", "--device-profile", str(profile), "-o", str(baseline))
    assert made.exit_code == 0, made.stderr
    before = baseline.read_bytes()
    profile.write_bytes(damaged(tmp_path, "module_s", -1.0).read_bytes())
    assert_error(run("check", str(baseline)), str(profile), "module_s")
    assert_error(run("check", str(baseline), "--update"), str(profile), "module_s")
    assert baseline.read_bytes() == before


def test_a_name_that_looks_like_markup_is_shown_as_written_never_interpreted():
    # a record measured here is not read through the validator: its text is escaped when shown
    name, allocator = "[/bold]evil[red]x", "[link=file:///etc]x[/link]"
    device = replace(device_profile("amd-epyc-1t"), device_name=name, allocator=allocator)
    console = Console(record=True, width=400)
    console.print(prediction_view(predict_on(request("mobilenet"), device), View()))
    console.print(peaks_table(device))
    shown = console.export_text()
    assert shown.count(name) == 2 and allocator in shown


def _zero_latency(directory: Path) -> Path:
    """An ONNX Runtime profile that passes every field's bound but predicts nothing: each
    node's cost taken off to below 0 (node_s at its bound), the session's run free."""
    profile = damaged(directory, "node_s", -0.0009, name="intel-xeon-ort-1t")
    record = json.loads(profile.read_text(encoding="utf-8"))
    profile.write_text(json.dumps({**record, "run_s": 0.0}), encoding="utf-8")
    return profile


@pytest.mark.parametrize("command", ["latency", "compare"])
def test_a_prediction_of_no_time_is_an_error_naming_the_profile(tmp_path: Path, command: str):
    profile = _zero_latency(tmp_path)
    result = run(*COMMANDS[command][:3], "--device-profile", str(profile))
    assert_error(result, str(profile), "a latency is finite and above 0")


def test_a_budget_on_a_profile_predicting_no_time_never_passes(tmp_path: Path):
    profile = _zero_latency(tmp_path)
    budget = tmp_path / "budget.yaml"
    budget.write_text(
        f"device_profile: {profile}\n"
        "models:\n  - {model: mobilenet, runtime: onnxruntime, max_predicted_ms: 1}\n"
    )
    assert_error(run("check", str(budget)), str(profile), "a latency is finite and above 0")


def test_an_overflow_in_a_prediction_is_no_number():
    def overflowing() -> Any:
        raise OverflowError("math range error")

    with pytest.raises(UnsoundPrediction, match="overflow"):
        sound(overflowing)
