"""The public Python API's functions beyond `count`, `entry` and `load`: compare, sweep,
separable, latency, snapshot and check, each returning the values the CLI renders."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnprof.api import check as _check
from cnnprof.api import latency as _latency
from cnnprof.api import tables as _tables
from cnnprof.api.request import request as _request
from cnnprof.results.check import CheckReport
from cnnprof.results.device import DeviceProfile
from cnnprof.results.metrics import Comparison
from cnnprof.results.tables import SeparableReport, SweepPoint
from cnnprof.results.timing import LatencySettings, Timing


def compare(
    *models: Any, baseline: str | None = None, batch: int = 1, device_profile: str | None = None
) -> Comparison:
    """Two or more models side by side, with ratios to ``baseline`` (default: the first);
    ``device_profile`` (a saved profile's file or a shipped name) adds their latency predicted
    for that device."""
    requests = [_request(m, batch=batch) for m in models]
    device = _profile(device_profile, requests[0].dtype) if requests else None
    columns = [_tables.column(r, device=device) for r in requests]
    return _tables.compare(columns, baseline, device)


def _profile(reference: str | None, dtype: str) -> DeviceProfile | None:
    return None if reference is None else _latency.named_profile(reference, dtype)


def sweep(
    model: str,
    *,
    alpha: Sequence[float] = (),
    resolution: Sequence[int] = (),
    depth: Sequence[float] = (),
    phi: Sequence[float] = (),
    batch: int = 1,
    device_profile: str | None = None,
    target_ms: float | None = None,
) -> list[SweepPoint]:
    """Every combination of the given multipliers, Pareto-marked on MACs, or on the latency
    predicted for ``device_profile`` when given (then ``target_ms`` ranks them by MnasNet's
    objective)."""
    settings = _tables.sweep_settings(list(alpha), list(resolution), list(depth), list(phi))
    base = _request(model, batch=batch)
    device = _profile(device_profile, base.dtype)
    return _tables.sweep(base, settings, target_ms=target_ms, device=device)


def separable(model: Any, **options: Any) -> SeparableReport:
    """Standard k×k against depthwise-separable convolution (MobileNet Tables 3 and 4)."""
    return _tables.separable(_request(model, **options))


def latency(
    model: Any,
    *,
    device: str = "cpu",
    batch: int = 1,
    dtype: str = "float32",
    layers: bool = False,
    settings: LatencySettings | None = None,
    **multipliers: Any,
) -> Timing:
    """Measured latency with random weights (needs torch): median, spread, per-row times with
    ``layers``."""
    chosen = settings or LatencySettings(device=device, layers=layers)
    req = _request(model, batch=batch, dtype=dtype, **multipliers)
    return _latency.measure(req, chosen, needs="cnnprof.latency")


def snapshot(
    models: Sequence[str], *, batch: int = 1, dtype: str = "float32",
    device_profile: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A versioned baseline of each model's counts, for `check`; with ``device_profile``, also
    the latency predicted for that device."""
    return _check.snapshot(list(models), batch=batch, dtype=dtype, device_profile=device_profile)


def check(path: str | Path, *, tolerance: str = "0%") -> CheckReport:
    """Recount the models of a baseline .json or budget .yaml; a report that reads as a result
    per model and metric, with the notes the CLI prints (``report.passed``, or
    ``all(r.ok for r in report)``, is the CLI's exit 0)."""
    return _check.run_check(Path(path), _check.parse_tolerance(tolerance))
