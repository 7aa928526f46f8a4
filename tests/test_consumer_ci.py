"""A user's own repository guarded by cnnprof, set up as the README's "Use in CI" says: a model
file of theirs (`model.py:factory`, torch), a budget on it, and `templates/pre-commit-config.yaml`
copied in with `repo:` and `rev:` set, then `pre-commit install`. A commit that grows the model in
its .py alone is refused, with the FAIL row and the next step in the output; one that keeps it
within its budget passes. The same repository then runs `templates/github-workflow.yml`'s steps:
the check's table in the log and in the step summary, and its exit code failing the job.

No network is needed: `repo:` is a git repository holding this working tree (in CI, a clean
clone: the code under test), and pip takes torch and PyPI packages from wherever this machine's
pip is configured to. Here that is a local CPU wheel and a local mirror, and pytorch's CPU index
is out of reach, so the one thing changed in the templates is that index's URL: a local one that
holds nothing takes its place, and pip is still given the option (pre-commit passes it through
additional_dependencies); everything else runs as shipped. Slow (a minute or more): pre-commit
installs torch into its hook environment, as it does on a user's first commit."""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PRE_COMMIT_TEMPLATE = ROOT / "templates" / "pre-commit-config.yaml"
WORKFLOW_TEMPLATE = ROOT / "templates" / "github-workflow.yml"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # unreachable here: the one URL replaced

# The user's model: its params grow with WIDTH (conv 3→16 3×3: 448; conv 16→WIDTH 3×3: 145·WIDTH),
# 2,768 at WIDTH 16 against a budget of 3,000.
MODEL = """import torch.nn as nn

WIDTH = {width}


def factory() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, WIDTH, 3))
"""
EMPTY_INDEX = "file:///nonexistent/cpu-index"  # what pip reads in its place: no packages

BUDGET = 'models:\n  - {model: "model.py:factory", max_params: 3K, input: [3, 32, 32]}\n'


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)


def _env(tmp_path: Path, bin_dir: Path) -> dict[str, str]:
    """A user's shell: pre-commit on PATH, its cache and git's settings inside ``tmp_path``."""
    config = tmp_path / "gitconfig"
    config.write_text("[user]\n\tname = A User\n\temail = user@example.com\n")
    # cnnprof is the one pre-commit installs, never a PYTHONPATH's source tree
    skip = ("GIT_", "PRE_COMMIT", "PYTHONPATH", "VIRTUAL_ENV")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    return {
        **keep,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"),
        "GIT_CONFIG_GLOBAL": str(config),
        "GIT_CONFIG_NOSYSTEM": "1",
        # a test's speed, not a user's setting: pip leaves torch's thousands of modules to be
        # compiled when imported, not all at install
        "PIP_NO_COMPILE": "1",
    }


def _cnnprof_repository(where: Path, env: dict[str, str]) -> str:
    """A git repository holding this working tree's files (tracked, and untracked ones git does
    not ignore), committed: what `repo:` points at. Its HEAD commit, for `rev:`."""
    listed = _run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT, env
    )
    if listed.returncode != 0:
        pytest.skip(f"{ROOT} is not a git checkout: {listed.stderr.strip()}")
    for name in filter(None, listed.stdout.split("\0")):
        if (ROOT / name).is_file():
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, where / name)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "cnnprof under test"]):
        assert _run(["git", *args], where, env).returncode == 0
    return _run(["git", "rev-parse", "HEAD"], where, env).stdout.strip()


def _copied(template: Path, replaced: dict[str, str]) -> str:
    """A template as a user copies it, each placeholder set, and pytorch's CPU index replaced
    by an empty one (see the module's docstring); nothing else changed."""
    text = template.read_text()
    assert CPU_INDEX in text
    text = text.replace(CPU_INDEX, EMPTY_INDEX)
    for old, new in replaced.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _commit(repo: Path, env: dict[str, str], message: str) -> subprocess.CompletedProcess:
    assert _run(["git", "add", "-A"], repo, env).returncode == 0
    return _run(["git", "commit", "-m", message], repo, env)


def _commits(repo: Path, env: dict[str, str]) -> int:
    return int(_run(["git", "rev-list", "--count", "HEAD"], repo, env).stdout)


def test_a_model_grown_in_its_py_alone_is_refused(tmp_path: Path) -> None:
    tools = tmp_path / "tools"  # the user's own environment, with pre-commit in it
    venv.create(tools, with_pip=True)
    env = _env(tmp_path, tools / "bin")
    installed = _run(
        [str(tools / "bin" / "python"), "-m", "pip", "install", "pre-commit"], ROOT, env
    )
    assert installed.returncode == 0, installed.stderr
    source = tmp_path / "cnnprof"
    source.mkdir()
    rev = _cnnprof_repository(source, env)

    repo = tmp_path / "user"
    repo.mkdir()
    assert _run(["git", "init", "-q"], repo, env).returncode == 0
    (repo / "model.py").write_text(MODEL.format(width=16))
    (repo / "budgets.yaml").write_text(BUDGET)
    placeholders = {
        "SET-TO-CNNPROF-GIT-URL": str(source),
        "SET-TO-A-CNNPROF-COMMIT-OR-TAG": rev,
    }
    config = _copied(PRE_COMMIT_TEMPLATE, placeholders)
    (repo / ".pre-commit-config.yaml").write_text(config)
    (hook,) = yaml.safe_load(config)["repos"][0]["hooks"]
    assert hook["args"] == ["budgets.yaml"]
    assert _run(["pre-commit", "install"], repo, env).returncode == 0

    first = _commit(repo, env, "a model within its budget")  # pre-commit installs its hook here
    assert first.returncode == 0, first.stdout + first.stderr
    assert "cnnprof budget check" in first.stdout + first.stderr

    (repo / "model.py").write_text(MODEL.format(width=64))  # 9,728 params: the .py alone changes
    grown = _commit(repo, env, "a wider last conv")
    out = grown.stdout + grown.stderr
    assert grown.returncode != 0, out
    row = next(line for line in out.splitlines() if "model.py:factory" in line and "│" in line)
    assert "params" in row and "3.00 K" in row and "9.73 K" in row and "FAIL" in row, out
    assert "cnnprof count model.py:factory --layers --input 3,32,32" in out
    assert "raise its limit in budgets.yaml" in out
    assert "NumPy" not in out, (
        "torch's CPU wheel comes without numpy: its import warning is kept out"
    )
    assert _commits(repo, env) == 1

    _workflow_fails_in_log_and_summary(repo, source, tmp_path, env)

    (repo / "model.py").write_text(MODEL.format(width=17))  # 2,913 params: within the 3K budget
    within = _commit(repo, env, "one channel more")
    assert within.returncode == 0, within.stdout + within.stderr
    assert _commits(repo, env) == 2


def _workflow_fails_in_log_and_summary(
    repo: Path, source: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """The workflow template's steps, run in order in the hook's environment (which holds torch
    already, so its torch step finds it installed): the grown model fails the job, and the
    check's table is in both the log and the summary."""
    flow = yaml.safe_load(_copied(WORKFLOW_TEMPLATE, {}))
    assert flow["env"]["CNNPROF_GIT"] == ""  # the one line a user sets
    hook_bin = next((tmp_path / "pre-commit-cache").glob("repo*/py_env-*/bin"))
    summary = tmp_path / "summary.md"
    job_env = {
        **env,
        **flow["env"],
        "CNNPROF_GIT": f"file://{source}",
        "GITHUB_STEP_SUMMARY": str(summary),
        "PATH": f"{hook_bin}{os.pathsep}{env['PATH']}",
    }
    *install, check = [step["run"] for step in flow["jobs"]["budget"]["steps"] if "run" in step]
    for command in install:
        done = _run(["bash", "-e", "-c", command], repo, job_env)
        assert done.returncode == 0, (command, done.stderr)
    failed = _run(["bash", "-e", "-c", check], repo, job_env)
    assert failed.returncode == 1, failed.stderr
    assert "| model.py:factory | params | 3.00 K | 9.73 K |" in failed.stdout  # the log
    assert "**FAIL**" in summary.read_text() and "cnnprof count model.py:factory" in failed.stdout
