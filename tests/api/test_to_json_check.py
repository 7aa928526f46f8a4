"""The JSON `cnnprof snapshot` and `cnnprof check --format json` print is `cnnprof.to_json` of the
matching Python call, byte for byte: both are written by the same functions (`report.text.to_json`
of the snapshot document; `report.check.report_dict` of a check's report, notes included).
Neither document holds a timestamp, so the text is compared whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run

import cnnprof

DEVICE = "amd-epyc-1t"  # a shipped device profile (configs/devices/)


def _snapshot(tmp_path: Path, *models: str, options: tuple[str, ...] = ()) -> Path:
    path = tmp_path / "baseline.json"
    result = run("snapshot", *models, *options, "-o", str(path))
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize(
    ("models", "options", "keywords"),
    [
        (("mobilenet@alpha=0.5", "resnet18"), (), {}),
        (("lenet5",), ("--batch", "4", "--dtype", "float16"), {"batch": 4, "dtype": "float16"}),
        (("mobilenet",), ("--device-profile", DEVICE), {"device_profile": DEVICE}),
    ],
)
def test_snapshot_json_is_to_json_of_the_api_snapshot(models, options, keywords):
    printed = run("snapshot", *models, *options)
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == cnnprof.to_json(cnnprof.snapshot(models, **keywords))


def test_check_of_a_baseline_is_to_json_of_the_api_check(tmp_path):
    path = _snapshot(tmp_path, "mobilenet", "lenet5", options=("--device-profile", DEVICE))
    printed = run("check", str(path), "--format", "json")
    assert printed.exit_code == 0, printed.output
    report = cnnprof.check(path)
    assert report.notes, "a prediction's device profile is noted"
    assert printed.stdout == cnnprof.to_json(report)


def test_a_failing_budget_check_is_to_json_of_the_api_check(tmp_path):
    budget = tmp_path / "budget.yaml"
    # MobileNet paper, Table 6: 0.5 MobileNet-224 has 149 M MACs; 140M cannot hold.
    budget.write_text(
        f"device_profile: {DEVICE}\nmodels:\n"
        "  - {model: 'mobilenet@alpha=0.5', max_macs: 140M, max_predicted_ms: 100}\n"
    )
    printed = run("check", str(budget), "--format", "json")
    assert printed.exit_code == 1, printed.output
    report = cnnprof.check(budget)
    assert not report.passed and report.notes
    assert printed.stdout == cnnprof.to_json(report)


def test_a_check_report_reads_as_its_results(tmp_path):
    report = cnnprof.check(_snapshot(tmp_path, "lenet5"))
    assert len(report) == 5 and all(r.ok for r in report) and report[0] is report.results[0]
    assert cnnprof.to_dict(list(report))["results"] == cnnprof.to_dict(report)["results"]
