"""The runtimes a device profile's kernels can have been timed in, and the fields a record of
one holds beside the roofs and kernel models (`cnnprof.results.device.Peaks`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cnnprof.results.timing import ONNXRUNTIME, RUNTIMES, TORCH

__all__ = [
    "NODE_LIMIT",
    "ONNXRUNTIME",
    "ROOF_LABELS",
    "RUNTIMES",
    "RUNTIME_FIELDS",
    "TORCH",
    "RoofLabels",
    "runtime_fields",
]
# fields only a record of another runtime than torch holds; a record without them is torch's
NODE_LIMIT = 1e-3  # seconds a session's node_s may be, either way
RUNTIME_FIELDS = ("runtime", "runtime_version", "run_s", "node_s", "layout_block")


def runtime_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """A record's runtime and its session figures; a record written before runtimes were
    recorded is torch's."""
    runtime = data.get("runtime", TORCH)
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    block = data.get("layout_block", 0)
    if isinstance(block, bool) or not isinstance(block, int) or block < 0:
        raise ValueError(f"layout_block {block!r} is not a count")
    times = {key: float(data.get(key, 0.0)) for key in ("run_s", "node_s")}
    if not 0 <= times["run_s"] < math.inf or not abs(times["node_s"]) < NODE_LIMIT:
        raise ValueError("run_s is not finite and non-negative, or node_s not within 1 ms")
    version = str(data.get("runtime_version", ""))
    return {"runtime": runtime, "runtime_version": version, "layout_block": block, **times}


@dataclass(frozen=True)
class RoofLabels:
    """What a record's roofs were measured on, as its tables say it. Eager's are microbenchmarks
    of their own; ONNX Runtime's are read off the calibration's kernels (the best rate a kernel
    of each kind reached at each size), with no page-fault probe and one curve per kernel."""

    peak: str
    peak_short: str
    bandwidth: str  # formatted with ``moved``
    overhead: str  # formatted with ``kind``
    fault_measured: bool
    few_curves: bool  # the curves at few output positions are measured apart


ROOF_LABELS: Mapping[str, RoofLabels] = MappingProxyType(
    {
        TORCH: RoofLabels(
            peak="large matmul, best size",
            peak_short="large matmul",
            bandwidth="copy moving {moved}",
            overhead="tiny {kind}",
            fault_measured=True,
            few_curves=True,
        ),
        ONNXRUNTIME: RoofLabels(
            peak="fastest convolution kernel",
            peak_short="fastest convolution kernel",
            bandwidth="add and reorder kernels moving {moved}",
            overhead="smallest {kind} kernel",
            fault_measured=False,
            few_curves=False,
        ),
    }
)
