"""The analytic path never imports torch (README, "Architecture": torch is imported only in
`empirical/`, and without torch what needs it ends in one line).

Each check runs in a fresh interpreter, because this test session may have imported torch
already. Two ways to forbid it: a stub `torch` package first on PYTHONPATH whose import raises,
and a meta-path finder that refuses torch (and friends) and records the attempt.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FORBIDDEN = ("torch", "torchvision", "fvcore", "timm")
HALF_MACS = 149_497_088  # MobileNet v1, alpha 0.5 — Howard et al. 2017, Table 6: 149 M


@pytest.fixture(scope="module")
def no_torch_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of stub packages whose import fails loudly."""
    root = tmp_path_factory.mktemp("no_torch")
    for name in FORBIDDEN:
        package = root / name
        package.mkdir()
        (package / "__init__.py").write_text(
            f"raise ImportError('cnnprof test: importing {name} is forbidden here')\n",
            encoding="utf-8",
        )
    return root


@pytest.fixture(scope="module", autouse=True)
def fresh_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Child processes get an empty cache directory: the first one parses the YAML (cold), the
    later ones read the cached registry (warm); neither may touch torch."""
    CACHE_ENV["CNNPROF_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


CACHE_ENV: dict[str, str] = {}


def run_python(args: list[str], stub: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **CACHE_ENV}
    if stub is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(stub), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.slow
def test_stub_really_blocks_torch(no_torch_path: Path):
    """The stub works: with it on the path, `import torch` fails."""
    proc = run_python(["-c", "import torch"], stub=no_torch_path)
    assert proc.returncode != 0
    assert "forbidden" in proc.stderr


@pytest.mark.slow
def test_count_without_torch(no_torch_path: Path):
    proc = run_python(["-m", "cnnprof", "count", "mobilenet", "--alpha", "0.5"], no_torch_path)
    assert proc.returncode == 0, proc.stderr
    assert "149.50 M" in proc.stdout
    assert proc.stderr == ""


@pytest.mark.slow
def test_count_json_without_torch(no_torch_path: Path):
    args = ["-m", "cnnprof", "count", "mobilenet", "--alpha", "0.5", "--format", "json"]
    proc = run_python(args, no_torch_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["totals"]["macs"] == HALF_MACS


@pytest.mark.slow
def test_list_without_torch(no_torch_path: Path):
    proc = run_python(["-m", "cnnprof", "list"], no_torch_path)
    assert proc.returncode == 0, proc.stderr
    assert "mobilenet_v1" in proc.stdout


BLOCKER = textwrap.dedent(
    """
    import sys

    FORBIDDEN = {forbidden!r}
    attempts = []

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in FORBIDDEN:
                attempts.append(name)
                raise ImportError(f"cnnprof test: importing {{name}} is forbidden here")
            return None

    sys.meta_path.insert(0, Blocker())
    """
).format(forbidden=FORBIDDEN)


def run_blocked(body: str) -> subprocess.CompletedProcess[str]:
    check = textwrap.dedent(
        """
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)
        assert not loaded, f"loaded: {loaded}"
        assert not attempts, f"tried to import: {attempts}"
        print("CLEAN")
        """
    )
    return run_python(["-c", BLOCKER + textwrap.dedent(body) + check])


@pytest.mark.slow
def test_blocker_really_blocks_torch():
    """The blocker works: an attempt, even one caught, is recorded and fails the check."""
    proc = run_blocked(
        """
        try:
            import torch
        except ImportError:
            pass
        """
    )
    assert proc.returncode != 0
    assert "tried to import: ['torch']" in proc.stderr


@pytest.mark.slow
def test_api_count_imports_no_torch():
    """The documented check: `cnnprof.count('mobilenet')`, then torch is not in sys.modules."""
    proc = run_python(
        ["-c", "import cnnprof, sys; cnnprof.count('mobilenet'); assert 'torch' not in sys.modules"]
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_api_count_never_tries_torch():
    """Stronger: not even an attempt to import torch (a try/except ImportError would hide it)."""
    proc = run_blocked(
        f"""
        import cnnprof
        p = cnnprof.count("mobilenet", alpha=0.5)
        assert p.macs == {HALF_MACS}, p.macs
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "CLEAN" in proc.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["count", "mobilenet", "--alpha", "0.5"],
        ["count", "mobilenet", "--layers", "--by", "op", "--format", "json"],
        ["list"],
        ["count", "no_such_model"],
    ],
    ids=["count", "count json", "list", "error"],
)
@pytest.mark.slow
def test_cli_never_tries_torch(argv: list[str]):
    proc = run_blocked(
        f"""
        from cnnprof.cli import main
        code = main({argv!r})
        assert code == (2 if "no_such_model" in {argv!r} else 0), code
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "CLEAN" in proc.stdout


HINT = (
    "needs torch: pip install torch --index-url https://download.pytorch.org/whl/cpu, then "
    "pip install 'cnnprof[torch]'"
)


@pytest.mark.parametrize(
    ("argv", "needs"),
    [
        (["count", "mobilenet", "--empirical"], "--empirical"),
        (["count", "mobilenet", "--latency"], "--latency"),
        (["latency", "mobilenet"], "cnnprof latency"),
        (["device"], "cnnprof device"),
        (["count", "torchvision:resnet18"], "torchvision:resnet18"),
        (["count", "x.py:make"], "x.py:make"),
        (["compare", "mobilenet", "resnet18", "--latency"], "--latency"),
    ],
)
@pytest.mark.slow
def test_what_needs_torch_says_so_in_one_line(no_torch_path: Path, argv: list[str], needs: str):
    """Without torch, anything that needs it ends in exit 2 and one line naming the extra."""
    proc = run_python(["-m", "cnnprof", *argv], no_torch_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"cnnprof: error: {needs}") and HINT in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stdout == ""
