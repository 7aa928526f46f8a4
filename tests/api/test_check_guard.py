"""`cnnprof check` as a CI guard reads it: an undecided failure has its own exit code (4), a
failure says what to do next (the command that counts the model again, with its entry's options,
and what to do if the growth is intended), a narrow terminal keeps a failing row's limit, bytes
read as `count` shows them, and `snapshot -o` says what it wrote. The machine is a fake
(tests/api/test_latency_ratio.py): nothing is timed."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
from conftest import run
from test_latency_ratio import FakeMachine
from typer.testing import CliRunner

from cnnprof.arch.reference import parse_args
from cnnprof.cli import app
from cnnprof.report.check import next_steps, step_text
from cnnprof.results.check import CheckReport, CheckResult, Settings

# MobileNet paper, Table 6: 0.5 MobileNet-224 has 149 M MACs (149.50 M counted); 140M cannot hold.
GROWN = "models:\n  - {model: 'mobilenet@alpha=0.5', max_macs: 140M, batch: 2, dtype: float16}\n"
# Ratios 0.18 … 0.26 round by round: median 0.23 over the limit 0.2 (+10 %: 0.22), p10–p90 holds it.
UNDECIDED = "models:\n  - {model: lenet5, max_latency_ratio: 0.2, reference: resnet18}\n"


def _file(tmp_path: Path, text: str, name: str = "budget.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def noisy(monkeypatch: pytest.MonkeyPatch) -> FakeMachine:
    machine = FakeMachine([1.8, 2.2, 2.3, 2.3, 2.4, 2.6], [10.0] * 6)
    monkeypatch.setattr("cnnprof.cli.measure.machine", lambda *_: machine.machine())
    return machine


# --- exit codes -----------------------------------------------------------------------------------


def test_an_undecided_failure_exits_4_and_a_clear_one_1(tmp_path: Path, noisy: FakeMachine):
    result = run("check", _file(tmp_path, UNDECIDED))
    assert result.exit_code == 4, result.output
    assert "FAIL (undecided)" in result.stdout and "run the check again (exit 4)" in result.stdout
    both = UNDECIDED + "  - {model: 'mobilenet@alpha=0.5', max_macs: 140M}\n"
    assert run("check", _file(tmp_path, both)).exit_code == 1  # a clear failure wins


def test_a_report_is_undecided_only_when_every_failure_is():
    def ratio(median: float) -> CheckResult:
        return CheckResult("m", "latency_ratio", 0.5, median, 0.55, "budget", (0.5, 0.6))

    clear = CheckResult("m", "macs", 1, 2, 1, "budget")
    assert CheckReport("b.yaml", (ratio(0.58),)).undecided
    assert not CheckReport("b.yaml", (ratio(0.58), clear)).undecided
    assert not CheckReport("b.yaml", (ratio(0.52),)).undecided  # it passed
    assert not CheckReport("b.yaml", ()).undecided


def test_help_lists_the_exit_codes():
    out = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["check", "--help"]).stdout
    assert "4 undecided" in out and "1 a metric grew" in out


# --- the next step --------------------------------------------------------------------------------


def test_a_failure_names_the_command_that_counts_the_model_as_the_check_did(tmp_path: Path):
    result = run("check", _file(tmp_path, GROWN), "--format", "md")
    assert result.exit_code == 1
    command = "cnnprof count mobilenet@alpha=0.5 --layers --batch 2 --dtype float16"
    after = result.stdout.partition("\n\n| model")[2].partition("\n\n")[2]
    assert after.startswith(f"to see where it grew: `{command}`\n")  # a line under the table
    assert f"if the growth is intended, raise its limit in {tmp_path}" in after
    counted = run(*command.split()[1:], "--format", "json")
    checked = run("check", _file(tmp_path, GROWN), "--format", "json")
    (figure,) = json.loads(checked.stdout)["results"]
    assert json.loads(counted.stdout)["totals"]["macs"] == figure["value"]  # reproduced
    assert "to see where" not in checked.stdout  # JSON carries no next step


def test_a_baseline_failure_says_update_records_it(tmp_path: Path):
    baseline = tmp_path / "baseline.json"
    assert run("snapshot", "mobilenet@alpha=0.5", "-o", str(baseline)).exit_code == 0
    data = json.loads(baseline.read_text())
    data["models"][0]["counts"]["macs"] = 100e6
    baseline.write_text(json.dumps(data))
    result = run("check", str(baseline))
    assert result.exit_code == 1
    assert f"if the growth is intended, record it: cnnprof check {baseline} --update" in (
        result.stdout.replace("\n", " ")
    )
    updated = run("check", str(baseline), "--update")
    assert updated.exit_code == 0 and "to see where" not in updated.stdout


def test_a_passing_check_names_no_next_step(tmp_path: Path):
    result = run("check", _file(tmp_path, GROWN.replace("140M", "300M")))
    assert result.exit_code == 0 and "to see where" not in result.stdout


def test_the_next_step_carries_an_outside_entrys_input_and_arguments():
    settings = Settings(input=((3, 32, 32),), args={"width": 2, "name": "a b", "tag": "10"})
    failed = CheckResult("net.py:make", "params", 1, 2, 1, "baseline", settings=settings)
    first, intended = next_steps(CheckReport("my baseline.json", (failed,)))
    words = shlex.split(first.command or "")
    assert words[:4] == ["cnnprof", "count", "net.py:make", "--layers"]
    assert words[4:6] == ["--input", "3,32,32"]
    given = [words[i + 1] for i, word in enumerate(words) if word == "--arg"]
    assert parse_args(given) == settings.args  # read back as the entry gave them ("10" as text)
    assert "--arg \"tag='10'\"" in (first.command or "")  # quoted as a person would
    assert step_text(intended) == (
        "if the growth is intended, record it: cnnprof check 'my baseline.json' --update"
    )


def test_a_latency_ratio_failure_points_at_the_comparison_as_it_was_measured(
    tmp_path: Path, noisy: FakeMachine
):
    """A ratio is shown by the comparison that measures both models interleaved, at the
    threads the check measured with (the fake machine's 2)."""
    result = run("check", _file(tmp_path, UNDECIDED))
    step = "to see where it grew: cnnprof compare lenet5 resnet18 --latency --threads 2"
    assert step in result.stdout


def test_a_measured_latency_failure_points_at_its_rows_in_its_runtime():
    from dataclasses import replace

    from cnnprof.report.check import next_steps
    from cnnprof.results.check import CheckReport, CheckResult, Settings

    failed = CheckResult("mobilenet", "latency_ms", 5.0, 9.0, 5.5, "budget")
    failed = replace(failed, settings=Settings(batch=2, runtime="onnxruntime"))
    (where, _) = next_steps(CheckReport("b.yaml", (failed,)))
    assert where.command == "cnnprof latency mobilenet --layers --runtime onnxruntime --batch 2"


# --- what the table shows -------------------------------------------------------------------------


# What each width is tested with: a failing model within the width's reach, and its row's cells.
NARROW = {
    "60": (
        "resnet50",
        "max_param_memory: 90M, tolerance: 5%",
        ("param_bytes", "97.49 MiB", "90.12 MiB"),
    ),
    "80": ("mobilenet@alpha=0.75,res=160", "max_macs: 150M", ("macs", "166.40 M", "150.00 M")),
}


@pytest.mark.parametrize("columns", list(NARROW))
def test_a_narrow_terminal_keeps_a_failing_rows_limit(tmp_path: Path, columns: str):
    """At 60 and 80 columns a failing row keeps its model, metric, value, allowed limit (the
    budget's 90 MB + 5 % tolerance: 90.12 MiB) and status; the delta and the budget itself are
    left out first."""
    model, limit, cells = NARROW[columns]
    budget = (
        f"models:\n  - {{model: '{model}', {limit}}}\n  - {{model: mobilenet, max_params: 5M}}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    result = CliRunner(env={**env, "COLUMNS": columns}).invoke(
        app, ["check", _file(tmp_path, budget)]
    )
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= int(columns)
    row = next(line for line in lines if f"│ {model} " in line)
    shown = [cell.strip() for cell in row.split("│")]
    assert [model, *cells, "FAIL"] == [cell for cell in shown if cell], result.stdout
    assert "allowed" in result.stdout and "left out" in result.stdout


def test_bytes_read_as_count_shows_them(tmp_path: Path):
    budget = _file(tmp_path, "models:\n  - {model: mobilenet, max_param_memory: 20M}\n")
    result = run("check", budget, "--format", "md")
    assert "| mobilenet | param_bytes | 19.07 MiB | 16.14 MiB |" in result.stdout
    assert "16.14 MiB" in run("count", "mobilenet").stdout  # count's param mem


def test_snapshot_says_what_it_wrote(tmp_path: Path):
    out = tmp_path / "baseline.json"
    result = run("snapshot", "mobilenet", "resnet18", "-o", str(out))
    assert result.exit_code == 0 and result.stderr == f"wrote {out} (2 models)\n"
    assert result.stdout == ""


def test_a_memory_limit_reads_bytes_as_check_shows_them(tmp_path: Path):
    """`max_param_memory: 16MiB` is 16 × 1024² bytes: MobileNet v1's 4,231,976 float32 params
    (Howard et al. 2017, Table 1: 4.2 M) take 16.14 MiB, over it; 17MiB holds them."""
    over = "models:\n  - {model: mobilenet, max_param_memory: 16MiB}\n"
    result = run("check", _file(tmp_path, over))
    assert result.exit_code == 1 and "16.00 MiB" in result.stdout
    within = "models:\n  - {model: mobilenet, max_param_memory: 17MiB}\n"
    assert run("check", _file(tmp_path, within, "within.yaml")).exit_code == 0
