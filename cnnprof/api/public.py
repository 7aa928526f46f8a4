"""The public Python API's functions beyond `count`, `entry` and `load`: compare, sweep,
separable, latency, snapshot and check, each returning the values the CLI renders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cnnprof.api import check as _check
from cnnprof.api import latency as _latency
from cnnprof.api import tables as _tables
from cnnprof.api.request import request as _request
from cnnprof.results.check import CheckReport
from cnnprof.results.device import DeviceProfile
from cnnprof.results.metrics import Comparison
from cnnprof.results.tables import SeparableReport, Sweep
from cnnprof.results.timing import LatencySettings, Timing


def compare(
    *models: Any,
    baseline: str | None = None,
    batch: int = 1,
    device_profile: str | None = None,
    pareto: bool = False,
    pareto_by: str | None = None,
) -> Comparison:
    """Two or more models side by side, with ratios to ``baseline`` (default: the first);
    ``device_profile`` (a saved profile's file or a shipped name) adds their latency predicted
    for that device; ``pareto`` (or a ``pareto_by`` cost) marks the frontier, as --pareto."""
    return _tables.compare(
        models,
        baseline=baseline,
        batch=batch,
        device_profile=device_profile,
        pareto=pareto,
        pareto_by=pareto_by,
    )


def _profile(reference: str | None, dtype: str) -> DeviceProfile | None:
    return None if reference is None else _latency.named_profile(reference, dtype)


def sweep(
    model: str,
    *,
    alpha: str | Sequence[float] = (),
    resolution: str | Sequence[int] = (),
    depth: str | Sequence[float] = (),
    phi: str | Sequence[float] = (),
    design: Mapping[str, Sequence[Any]] | None = None,
    batch: int = 1,
    device_profile: str | None = None,
    target_ms: float | None = None,
    pareto: bool = True,
    pareto_by: str | None = None,
) -> Sweep:
    """Every combination of the given multipliers (values, or text such as ``"0..7"``) and
    design parameters, Pareto-marked on MACs, or on the latency predicted for
    ``device_profile`` when given (then ``target_ms`` ranks them by MnasNet's objective);
    ``pareto=False`` leaves the flags out of its JSON, as the CLI does without --pareto;
    ``pareto_by``: their cost, as --pareto-by."""
    settings = _tables.sweep_settings(alpha, resolution, depth, phi, design)
    return _tables.sweep_model(
        model,
        settings,
        batch=batch,
        device_profile=device_profile,
        target_ms=target_ms,
        pareto=pareto,
        pareto_by=pareto_by,
    )


def separable(model: Any, *, device_profile: str | None = None, **options: Any) -> SeparableReport:
    """Standard k×k against depthwise-separable convolution (MobileNet Tables 3 and 4), the
    model and its twins predicted for ``device_profile`` when given."""
    return _tables.separable(_request(model, **options), device_profile=device_profile)


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
    models: Sequence[str],
    *,
    batch: int = 1,
    dtype: str = "float32",
    device_profile: str | None = None,
) -> dict[str, Any]:
    """A versioned baseline of each model's counts, for `check`; with ``device_profile``, also
    the latency predicted for that device."""
    return _check.snapshot(list(models), batch=batch, dtype=dtype, device_profile=device_profile)


def check(path: str | Path, *, tolerance: str = "0%") -> CheckReport:
    """Recount the models of a baseline .json or budget .yaml; a report that reads as a result
    per model and metric, with the notes the CLI prints (``report.passed``, or
    ``all(r.ok for r in report)``, is the CLI's exit 0)."""
    return _check.run_check(Path(path), _check.parse_tolerance(tolerance))
