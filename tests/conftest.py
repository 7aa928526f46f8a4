"""What every test module shares: the CLI helpers (run a command; an error is one clean line),
the markers (`torch`, `plot`, `slow`) and a seeded Hypothesis profile.

Markers: a test marked `torch` or `plot` is skipped, not failed, where torch or matplotlib is not
installed (the analytic path needs neither); `slow` marks tests that start a process or take
seconds (`pytest -m "not slow"` leaves them out). A module that needs torch at import time calls
`pytest.importorskip("torch")` first and carries `pytestmark = pytest.mark.torch`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import settings
from typer.testing import CliRunner, Result

from cnnprof.cli import app

# Tests live in one folder per stage (arch, results, analytic, empirical, deploy, api, cli); a test
# module may borrow a fixture-building helper from another stage's module by its (unique) name.
STAGES = ("arch", "results", "analytic", "empirical", "deploy", "api", "cli")
for _stage in STAGES:
    _folder = str(Path(__file__).parent / _stage)
    if _folder not in sys.path:
        sys.path.append(_folder)

# Same examples on every run: a failure seen once is seen again (CNNPROF_FUZZ_EXAMPLES in
# arch/test_arch_fuzz.py explores further, with random seeds, on request).
settings.register_profile("cnnprof", derandomize=True, database=None, print_blob=True)
settings.load_profile("cnnprof")

EXTRAS = {"torch": "torch", "plot": "matplotlib"}
# The units of docs/formats.md whose fields hold numbers (tests/cli/test_formats.py,
# tests/test_formats_doc.py).
NUMERIC_UNITS = {
    "count",
    "bytes",
    "s",
    "ms",
    "%",
    "fraction",
    "ratio",
    "images",
    "images/s",
    "channels",
    "pixels",
    "FLOP/s",
    "GMAC/s",
    "FLOP/byte",
    "bytes/s",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "torch: needs torch (skipped without it)")
    config.addinivalue_line("markers", "plot: needs matplotlib (skipped without it)")
    config.addinivalue_line("markers", "slow: starts a process or takes seconds")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for marker, module in EXTRAS.items():
        if importlib.util.find_spec(module) is not None:
            continue
        skip = pytest.mark.skip(reason=f"needs {module}, which is not installed")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def unknown_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's load is taken as unknown before a measurement, so that what a test prints
    does not depend on what else runs beside it (tests/empirical/test_calibration_judged.py
    sets a load where it tests the note)."""
    monkeypatch.setattr("cnnprof.api.machine_load.sample_load", lambda: None)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def assert_error(result: Result, *fragments: str) -> str:
    """Exit 2, one line on stderr starting with 'cnnprof: error:', nothing on stdout, no
    traceback (CliRunner catches exceptions: anything but the exit's SystemExit is a crash)."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    err = result.stderr
    assert err.startswith("cnnprof: error: "), err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err + result.stdout
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err
