"""Acceptance of issue 24: a calibration made while two busy processes per core run is refused
(not cached, `--save` refuses it, the message names the load), and one made without them is
accepted. The full default plan at 1 thread (some seconds quiet, a minute loaded)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = [pytest.mark.torch, pytest.mark.slow]

from conftest import run  # noqa: E402

from cnnprof.results.timing import cpu_cores  # noqa: E402


def _device(saved: Path):
    return run("device", "--refresh", "--threads", "1", "--save", str(saved))


def test_a_calibration_beside_two_busy_processes_per_core_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("CNNPROF_CACHE_DIR", str(cache))
    saved = tmp_path / "device.json"
    spin = [sys.executable, "-c", "while True: pass"]
    busy = [subprocess.Popen(spin) for _ in range(2 * cpu_cores())]
    try:
        loaded = _device(saved)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert loaded.exit_code == 2, loaded.stderr
    error = loaded.stderr.splitlines()[-1]
    assert error.startswith(f"cnnprof: error: --save {saved}: the device calibration was refused")
    assert "other processes took" in error and "quieter machine" in error
    assert not saved.exists() and not list(cache.glob("peaks/*.json")), "nothing kept"

    quiet = _device(saved)
    assert quiet.exit_code == 0, quiet.stderr
    assert saved.exists() and len(list(cache.glob("peaks/*.json"))) == 1
    assert "refused" not in quiet.stderr
