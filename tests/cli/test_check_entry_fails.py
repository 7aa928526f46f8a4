"""Issue #27: an entry whose model fails (it raised, ran past --timeout, or ended the worker
process running it) is one line naming it; the other entries are still checked and reported, and
the check never exits 0 — 1 when another metric grew, else 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run

import cnnprof
from cnnprof.errors import LoadError

pytestmark = pytest.mark.torch
pytest.importorskip("torch")

DEFIANT = Path(__file__).parents[1] / "factories" / "defiant.py"
QUICK_PARAMS = 4 * 3 * 9 + 4  # tests/factories/defiant.py `_small`: one 3→4 3×3 convolution


def _budget(folder: Path, first_limit: str, second: str = "exits_process") -> Path:
    path = folder / "budgets.yaml"
    path.write_text(
        "models:\n"
        f"  - model: '{DEFIANT}:quick'\n    input: [3, 16, 16]\n    max_params: {first_limit}\n"
        f"  - model: '{DEFIANT}:{second}'\n    input: [3, 16, 16]\n    max_params: 1K\n"
    )
    return path


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("cnnprof: error: ")]


def test_a_failed_first_entry_is_reported_when_the_second_ends_its_process(tmp_path: Path):
    result = run("check", str(_budget(tmp_path, "100")))
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "FAIL" in result.stdout and f"{DEFIANT.name}:quick" in result.stdout.replace("\n", "")
    assert f" {QUICK_PARAMS} " in result.stdout  # the params it has, beside its limit of 100
    (line,) = _error_lines(result.stderr)
    assert f"{DEFIANT}:exits_process" in line and "exited with code 0" in line
    assert "Traceback" not in result.stderr


def test_a_held_first_entry_and_a_failed_second_exit_2_with_the_table(tmp_path: Path):
    result = run("check", str(_budget(tmp_path, "1K", "kills_itself")))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "ok" in result.stdout
    (line,) = _error_lines(result.stderr)
    assert "killed by SIGKILL" in line


def test_the_json_report_lists_the_entry_that_failed(tmp_path: Path):
    result = run("check", str(_budget(tmp_path, "1K")), "-f", "json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["passed"] is False
    assert [r["model"] for r in doc["results"]] == [f"{DEFIANT}:quick"]
    (failed,) = doc["failed"]
    assert failed["model"] == f"{DEFIANT}:exits_process" and "exited" in failed["error"]


def test_a_baseline_entry_that_fails_leaves_the_others_checked(tmp_path: Path):
    baseline = tmp_path / "baseline.json"
    made = run("snapshot", f"{DEFIANT}:quick", "--input", "3,16,16", "-o", str(baseline))
    assert made.exit_code == 0, made.stderr
    doc = json.loads(baseline.read_text())
    broken = dict(doc["models"][0], model=f"{DEFIANT}:exits_process")
    doc["models"].append(broken)
    baseline.write_text(json.dumps(doc))
    result = run("check", str(baseline))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "ok" in result.stdout
    assert len(_error_lines(result.stderr)) == 1
    before = baseline.read_bytes()
    updated = run("check", str(baseline), "--update")
    assert updated.exit_code == 2 and "exits_process" in updated.stderr
    assert baseline.read_bytes() == before  # nothing rewritten while an entry fails


def test_the_python_api_raises_rather_than_pass_over_an_entry(tmp_path: Path):
    with pytest.raises(LoadError, match="exits_process"):
        cnnprof.check(_budget(tmp_path, "1K"))
