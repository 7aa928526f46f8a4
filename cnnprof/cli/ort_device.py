"""`cnnprof device --runtime onnxruntime`: ONNX Runtime's kernels calibrated under a progress bar,
with onnx and onnxruntime only (no torch)."""

from __future__ import annotations

import os
import time

import typer

from cnnprof.errors import OptionError
from cnnprof.render.progress import command_bar
from cnnprof.results.device import Peaks

CALIBRATION = "onnxruntime calibration"
QUICK_ENV = "CNNPROF_ORT_PLAN"  # "quick": a two-network plan, for tests (never cached)


def ort_calibration(
    device: str, dtype: str, threads: int | None, refresh: bool, thorough: bool
) -> tuple[Peaks, list[str], str | None]:
    """This CPU's calibration under ONNX Runtime (cached, or measured now), the notes on it, and
    where it is cached."""
    from cnnprof.api.ort_device import ort_cache
    from cnnprof.api.ort_device import ort_calibration as calibration

    if device != "cpu" or dtype != "float32":
        raise OptionError(
            f"--runtime onnxruntime calibrates the CPU in float32, not {device} in {dtype}"
        )
    plan = "thorough" if thorough else os.environ.get(QUICK_ENV, "default")
    if plan not in ("default", "thorough", "quick"):
        raise OptionError(f"{QUICK_ENV}={plan}: expected quick")
    notes: list[str] = []
    with command_bar("cnnprof device", (CALIBRATION,)) as bar:
        started = time.monotonic()
        measured = calibration(
            threads, refresh=refresh, plan=plan, progress=bar.phase(CALIBRATION), notes=notes
        )
        seconds = time.monotonic() - started
    cache = ort_cache(measured)
    if seconds > 1.0:
        typer.echo(
            f"cnnprof: calibrated {measured.device_name} under {measured.runtime_label} in "
            f"{seconds:.0f} s ({cache or 'not cached'})",
            err=True,
        )
    return measured, notes, cache
