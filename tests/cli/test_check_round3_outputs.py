"""`check -o FILE --force` never writes over a file its baseline or budget names: a model's
`file.py`, a spec, a reference model's file, a device profile (through links too); one line, exit
2, the file untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import assert_error, run

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "configs" / "models" / "lenet5.yaml"
PROFILE = ROOT / "configs" / "devices" / "amd-epyc-1t.json"
BUDGET = """\
models:
  - {model: net.py:make, input: [3, 8, 8], max_macs: 1G}
  - {model: "spec.yaml@alpha=0.5", max_macs: 1G}
  - {model: lenet5, max_predicted_ms: 100, device_profile: device.json}
  - {model: lenet5, max_latency_ratio: 2, reference: ref.py:make}
"""


@pytest.fixture
def budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A budget naming a model file, a spec, a device profile and a reference's file, in the
    working directory (where a budget's relative names are read from)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text("def make():\n    raise AssertionError('never run')\n")
    (tmp_path / "ref.py").write_text("def make():\n    raise AssertionError('never run')\n")
    shutil.copy(SPEC, tmp_path / "spec.yaml")
    shutil.copy(PROFILE, tmp_path / "device.json")
    path = tmp_path / "budget.yaml"
    path.write_text(BUDGET)
    return path


@pytest.mark.parametrize(
    ("output", "what"),
    [
        ("net.py", "the model budget.yaml names (net.py:make)"),
        ("spec.yaml", "the model budget.yaml names (spec.yaml@alpha=0.5)"),
        ("device.json", "the device profile budget.yaml names (device.json)"),
        ("ref.py", "the reference model budget.yaml names (ref.py:make)"),
    ],
)
def test_check_refuses_a_file_its_budget_names_as_output(budget, output, what):
    before = Path(output).read_bytes()
    err = assert_error(run("check", "budget.yaml", "-o", output, "--force"))
    assert err == f"cnnprof: error: -o {output}: is {what}; give another file to write\n"
    assert Path(output).read_bytes() == before


def test_through_a_link_too(budget):
    Path("link.py").symlink_to("net.py")
    assert_error(run("check", "budget.yaml", "-o", "link.py", "--force"), "(net.py:make)")
    assert Path("net.py").read_text().startswith("def make")


def test_a_budget_s_default_device_profile_is_an_input(budget):
    Path("top.yaml").write_text(
        "device_profile: device.json\nmodels:\n  - {model: lenet5, max_predicted_ms: 100}\n"
    )
    before = Path("device.json").read_bytes()
    assert_error(
        run("check", "top.yaml", "-o", "device.json", "--force"),
        "is the device profile top.yaml names (device.json)",
    )
    assert Path("device.json").read_bytes() == before


def test_check_refuses_a_file_its_baseline_names_as_output(budget):
    made = run("snapshot", "lenet5", "--device-profile", "device.json", "-o", "baseline.json")
    assert made.exit_code == 0, made.stderr
    doc = json.loads(Path("baseline.json").read_text())
    doc["models"].append({"model": "net.py:make", "input": [3, 8, 8], "counts": {"macs": 1}})
    Path("baseline.json").write_text(json.dumps(doc))
    for output, what in (("device.json", "device profile"), ("net.py", "model")):
        before = Path(output).read_bytes()
        assert_error(
            run("check", "baseline.json", "-o", output, "--force"),
            f"-o {output}: is the {what} baseline.json names",
        )
        assert Path(output).read_bytes() == before


def test_another_output_is_written(budget):
    Path("budget.yaml").write_text("models:\n  - {model: spec.yaml, max_macs: 1G}\n")
    Path("report.json").write_text("old")
    result = run("check", "budget.yaml", "-o", "report.json", "--force", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(Path("report.json").read_text())["results"]


def test_a_budget_that_does_not_parse_is_reported_by_the_check(budget):
    """The guard reads a budget without validating it: a broken one is the check's to report."""
    Path("broken.yaml").write_text("models: [\n")
    assert_error(run("check", "broken.yaml", "-o", "net.py", "--force"), "broken.yaml")
    assert Path("net.py").read_text().startswith("def make")
