"""This repository's own GitHub Actions workflow and its pre-commit hook. Each is parsed and its
commands run on a fresh venv that installs cnnprof from this repository (the package index only
for the dependencies): the budget check passes on the zoo and fails (exit 1) on a budget the model
has outgrown, its table in the job's log and its summary; the hook runs on every commit. The wheel
build must not warn. tests/test_consumer_ci.py runs the templates a user's repository copies."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

# What setuptools printed before pyproject.toml listed every package and gave license as SPDX.
SETUPTOOLS_WARNINGS = ("SetuptoolsDeprecationWarning", "SetuptoolsWarning", "would be ignored")
GROWN = "models:\n  - {model: mobilenet_v1, max_macs: 500M, source: a budget it outgrew}\n"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with cnnprof installed from the repository, as `pip install .` does it."""
    where = tmp_path_factory.mktemp("fresh") / "venv"
    venv.create(where, with_pip=True)
    done = subprocess.run(
        [where / "bin" / "python", "-m", "pip", "install", "-v", str(ROOT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    log = done.stdout + done.stderr  # -v shows what the build backend printed
    for warning in SETUPTOOLS_WARNINGS:
        assert warning not in log, warning
    return where / "bin"


def _shell(command: str, bin_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    installed = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # not the source tree
    return subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**installed, "PATH": path, **env},
    )


@pytest.mark.slow
def test_workflow_installs_and_guards(fresh: Path, tmp_path: Path) -> None:
    flow = yaml.safe_load((ROOT / ".github/workflows/cnnprof.yml").read_text())
    job = flow["jobs"]["budget"]
    runs = [step["run"] for step in job["steps"] if "run" in step]
    install, check = runs
    assert "pip install ." in install  # from the repository, never `cnnprof[...]` off the index
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary), **job["env"]}
    held = _shell(check, fresh, env)
    assert held.returncode == 0
    assert "metrics hold" in summary.read_text() and "metrics hold" in held.stdout  # summary, log
    grown = tmp_path / "grown.yaml"
    grown.write_text(GROWN)
    failed = _shell(check, fresh, {**env, "BUDGET": str(grown)})
    assert failed.returncode == 1, failed.stderr  # through the pipe into the summary
    assert "FAIL" in summary.read_text() and "FAIL" in failed.stdout


@pytest.mark.slow
def test_pre_commit_hook_installs_and_guards(fresh: Path, tmp_path: Path) -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["language"] == "python"  # pre-commit pip-installs this repository
    # on every commit, whatever changed: a model grown in its .py alone must not pass
    assert hook["always_run"] is True and hook["pass_filenames"] is False and "files" not in hook
    assert hook["args"] == ["budgets.yaml"]  # a user's budget, at their repository's root
    command = shlex.split(hook["entry"])
    assert _shell(shlex.join([*command, "configs/budgets/zoo.yaml"]), fresh, {}).returncode == 0
    grown = tmp_path / "grown.yaml"
    grown.write_text(GROWN)
    failed = _shell(shlex.join([*command, str(grown)]), fresh, {})
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "mobilenet_v1" in failed.stdout


@pytest.mark.slow
def test_no_torch_in_the_fresh_install(fresh: Path) -> None:
    """The budget check needs no torch, so neither recipe installs it."""
    code = "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is not None)"
    assert subprocess.run([fresh / "python", "-c", code]).returncode == 0
    assert sys.executable  # the suite's own interpreter is untouched
