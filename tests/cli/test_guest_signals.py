"""Issue #27's acceptance: five factories that defeat an in-process time limit (they ignore or
block ``SIGALRM``, cancel the interval timer, spin in C, or swallow what the alarm raises), each
under ``count --timeout 2``, ``check budgets.yaml --timeout 2`` and ``compare --timeout 2``, end
with exit 2 and one line within 5 s: the parent kills the worker process that runs them.

On a machine shared with other work, starting cnnprof and its worker (importing torch) may alone
take seconds; so the bound is also read against the same command on a model that returns at once
(``quick``), measured beside it: a defiant factory may take the 2 s timeout and 1 s more."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.torch]

DEFIANT = Path(__file__).parents[1] / "factories" / "defiant.py"
FACTORIES = ("ignores_alarm", "blocks_alarm", "cancels_timer", "c_loop", "swallows")
WITHIN_S = 5.0  # issue #27, on a quiet machine
BEYOND_S = 1.0  # past the timeout, over the same command on a quick model


def _budget(folder: Path, reference: str) -> str:
    path = folder / "budgets.yaml"
    path.write_text(
        f"models:\n  - model: '{reference}'\n    input: [3, 16, 16]\n    max_params: 1K\n"
    )
    return str(path)


COMMANDS = {
    "count": lambda folder, ref: ["count", ref, "--input", "3,16,16"],
    "check": lambda folder, ref: ["check", _budget(folder, ref)],
    "compare": lambda folder, ref: ["compare", "mobilenet", ref, "--input", "3,16,16"],
}


def _timed(folder: Path, command: str, factory: str) -> tuple[subprocess.CompletedProcess, float]:
    argv = COMMANDS[command](folder, f"{DEFIANT}:{factory}")
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "cnnprof", *argv, "--timeout", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=folder,
    )
    return done, time.monotonic() - start


_QUICK: dict[str, float] = {}  # a command's time on the quick model, measured once


def _quick(folder: Path, command: str) -> float:
    if command not in _QUICK:
        quick, _QUICK[command] = _timed(folder, command, "quick")
        assert quick.returncode == 0, quick.stderr
    return _QUICK[command]


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("factory", FACTORIES)
def test_a_factory_that_defeats_signals_is_stopped_within_5_s(
    tmp_path: Path, command: str, factory: str
):
    started = _quick(tmp_path, command)
    done, took = _timed(tmp_path, command, factory)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert any(line.startswith("cnnprof: error: ") and factory in line for line in lines), lines
    assert "did not finish within 2 s (--timeout)" in done.stderr
    assert "Traceback" not in done.stderr
    bound = max(WITHIN_S, started + 2 + BEYOND_S)
    assert took < bound, f"{command} {factory}: {took:.1f} s (a quick model: {started:.1f} s)"
