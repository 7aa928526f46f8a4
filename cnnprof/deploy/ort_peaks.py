"""A device profile from an ONNX Runtime calibration (`cnnprof.deploy.calibrate`): the kernel
models and the session's costs, and roofs read off the same samples (the fastest rate a kernel
of each kind reached at each size), so that the rows no kernel model covers are costed on this
runtime's roofline too. Cached per device, runtime version, threads and dtype, apart from
torch's."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from cnnprof.cache import cache_dir
from cnnprof.deploy.calibrate import OrtCalibrated
from cnnprof.protocol.machine import cpu_name
from cnnprof.results.device import Curve, Peaks, Roofs
from cnnprof.results.runtime import ONNXRUNTIME

Samples = Mapping[str, Sequence[tuple[tuple[float, ...], float]]]
POINTS = 10  # points of a roof's curve at most
DTYPE_BYTES = 4  # float32, the one dtype calibrated


def _curve(points: Sequence[tuple[float, float]]) -> Curve:
    """The best rate reached up to each size, at most ``POINTS`` sizes, ascending (a roof:
    never lower at a larger size)."""
    ordered = sorted((max(1, round(x)), r) for x, r in points if x > 0 and r > 0)
    if not ordered:
        return ((1, 1.0),)
    step = max(1, math.ceil(len(ordered) / POINTS))
    best, curve = 0.0, []
    for index in range(0, len(ordered), step):
        chunk = ordered[index : index + step]
        best = max(best, *(r for _, r in chunk))
        if not curve or chunk[-1][0] > curve[-1][0]:
            curve.append((chunk[-1][0], best))
    return tuple(curve)


def _conv_rates(samples: Samples, kind: str) -> list[tuple[float, float]]:
    """(FLOPs, FLOP/s) of each convolution sample of ``kind``."""
    out = []
    for x, seconds in samples.get(kind, ()):
        batch, per_group, channels, pixels, kernel = x[:5]
        flops = 2 * batch * per_group * channels * pixels * kernel
        out.append((flops, flops / seconds))
    return out


def roofs(samples: Samples) -> Roofs:
    """The roofs the samples reached: compute from the convolutions and matrix products, bandwidth
    from the adds and reorders, each kind's smallest kernel as its overhead."""
    pointwise, kxk = _conv_rates(samples, "pointwise"), _conv_rates(samples, "conv")
    moved = [
        (bytes_, bytes_ / seconds)
        for kind, reads in (("add", 3), ("reorder", 2))
        for x, seconds in samples.get(kind, ())
        for bytes_ in (reads * x[0] * DTYPE_BYTES,)
    ]
    rates = [r for _, r in pointwise + kxk] or [1.0]
    overhead = tuple((kind, min(s for _, s in found)) for kind, found in sorted(samples.items()))
    return Roofs(
        flops_per_s=max(rates),
        conv_curve=_curve(pointwise),
        bandwidth=_curve(moved),
        op_overhead=overhead or (("add", 0.0),),
        kxk_curve=_curve(kxk),
        curve_pixels=224 * 224 // 4,
        conv_curve_few=_curve(pointwise),
        kxk_curve_few=_curve(kxk),
        few_pixels=49,
    )


def ort_peaks(calibrated: OrtCalibrated, threads: int) -> Peaks:
    """The device profile of a calibration at ``threads`` intra-op threads."""
    return Peaks(
        device="cpu",
        device_name=cpu_name(),
        torch_version="",
        threads=threads,
        dtype="float32",
        measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        roofs=roofs(calibrated.samples),
        kernels=calibrated.models,
        allocator="onnxruntime arena",
        calibration_s=calibrated.seconds,
        runtime=ONNXRUNTIME,
        runtime_version=calibrated.version,
        run_s=calibrated.run_s,
        node_s=calibrated.node_s,
        layout_block=calibrated.layout_block,
    )


def ort_cache_path(device_name: str, version: str, threads: int, dtype: str) -> Path:
    """One file per (device name, ONNX Runtime version, threads, dtype), apart from torch's."""
    slug = re.sub(r"[^A-Za-z0-9.+-]+", "_", f"{device_name}__{ONNXRUNTIME}-{version}").strip("_")
    return cache_dir() / "peaks" / f"{slug}__{threads}t__{dtype}.json"
