"""Issue #27's acceptance for the tables: under `compare`, `sweep` and `separable` a factory that
ends its worker process (``os._exit(0)``, ``SIGKILL``) or raises ``KeyboardInterrupt`` is one line
naming it, exit 2, the other models' rows kept; one that closes stdout or changes directory harms
nothing outside its worker: the model is counted, and a relative ``-o`` lands where it was asked."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run

pytestmark = pytest.mark.torch
pytest.importorskip("torch")

FACTORIES = Path(__file__).parents[1] / "factories"
DEFIANT = FACTORIES / "defiant.py"
QUICK_PARAMS = 4 * 3 * 9 + 4  # tests/factories/defiant.py `_small`: one 3→4 3×3 convolution


def _lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("cnnprof: error: ")]


@pytest.mark.parametrize(
    ("factory", "says"),
    [
        ("exits_process", "exited with code 0 before it answered"),
        ("kills_itself", "was killed by SIGKILL before it answered"),
    ],
)
def test_compare_keeps_the_other_rows(factory: str, says: str):
    result = run("compare", f"{DEFIANT}:quick", f"{DEFIANT}:{factory}", "--input", "3,16,16")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert str(QUICK_PARAMS) in result.stdout
    (line,) = _lines(result.stderr)
    assert f"{DEFIANT}:{factory}" in line and says in line


def test_compare_names_a_factory_raising_keyboard_interrupt():
    guests = FACTORIES / "guests.py"
    result = run("compare", f"{DEFIANT}:quick", f"{guests}:interrupts", "--input", "3,16,16")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    (line,) = _lines(result.stderr)
    assert f"{guests}:interrupts" in line and "KeyboardInterrupt" in line


def test_sweep_and_separable_of_a_factory_that_ends_its_process_are_one_line():
    for argv in (
        ["sweep", f"{DEFIANT}:exits_process", "--resolution", "16,24"],
        ["separable", f"{DEFIANT}:exits_process", "--input", "3,16,16"],
    ):
        result = run(*argv)
        assert result.exit_code == 2, (argv, result.stdout, result.stderr)
        assert result.stdout == "" and "Traceback" not in result.stderr
        assert all("exited with code 0" in line for line in _lines(result.stderr)), argv


def test_a_factory_closing_stdout_or_changing_directory_is_counted_beside_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("GUEST_ELSEWHERE", str(elsewhere))
    monkeypatch.chdir(tmp_path)
    models = [f"{DEFIANT}:closes_stdout", f"{DEFIANT}:changes_directory"]
    result = run("compare", *models, "--input", "3,16,16", "-f", "json", "-o", "out.json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    doc = json.loads((tmp_path / "out.json").read_text())
    assert [m["params"] for m in doc["models"]] == [QUICK_PARAMS, QUICK_PARAMS]
    assert not (elsewhere / "out.json").exists() and os.getcwd() == str(tmp_path)


def test_a_sweep_of_a_factory_that_closes_stdout_counts_every_point():
    """The points share a worker; each call there starts with its streams open again."""
    result = run("sweep", f"{DEFIANT}:closes_stdout", "--resolution", "16,24", "-f", "json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert [p["params"] for p in json.loads(result.stdout)["points"]] == [QUICK_PARAMS] * 2
