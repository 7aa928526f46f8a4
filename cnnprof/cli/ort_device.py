"""`cnnprof device --runtime onnxruntime`: ONNX Runtime's kernels calibrated under a progress bar,
with onnx and onnxruntime only (no torch)."""

from __future__ import annotations

import os

import typer

from cnnprof.errors import OptionError
from cnnprof.render.progress import command_bar
from cnnprof.results.judge import Calibration

CALIBRATION = "onnxruntime calibration"
QUICK_ENV = "CNNPROF_ORT_PLAN"  # "quick": a two-network plan, for tests (never cached)


def ort_calibration(
    device: str, dtype: str, threads: int | None, refresh: bool, thorough: bool
) -> tuple[Calibration, list[str]]:
    """This CPU's calibration under ONNX Runtime (cached, or measured now), and the notes on
    it."""
    from cnnprof.api.ort_device import ort_calibration as calibrated

    if device != "cpu" or dtype != "float32":
        raise OptionError(
            f"--runtime onnxruntime calibrates the CPU in float32, not {device} in {dtype}"
        )
    plan = "thorough" if thorough else os.environ.get(QUICK_ENV, "default")
    if plan not in ("default", "thorough", "quick"):
        raise OptionError(f"{QUICK_ENV}={plan}: expected quick")
    notes: list[str] = []
    with command_bar("cnnprof device", (CALIBRATION,)) as bar:
        found = calibrated(
            threads,
            refresh=refresh,
            plan=plan,
            progress=bar.phase(CALIBRATION),
            notes=notes,
            before=lambda line: typer.echo(f"cnnprof: note: {line}", err=True),
        )
    return found, notes
