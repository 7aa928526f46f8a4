"""What the prediction benchmarks share: cnnprof run as a user runs it (a fresh process, its JSON
document read back), and how a set of predictions is scored against measured medians.

Imported by `predict.py` and `ort_predict.py` (run as scripts, this folder is on their path).
"""

from __future__ import annotations

import json
import statistics
import subprocess
from collections.abc import Sequence

TIMEOUT = 900  # seconds one cnnprof process may take


def cnnprof(python: str, *args: str, env: dict[str, str]) -> dict:
    """``cnnprof ARGS --format json`` in a fresh ``python`` process: its document."""
    proc = subprocess.run(
        [python, "-m", "cnnprof", *args, "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cnnprof {' '.join(args)}: {proc.stderr.strip()[-400:]}")
    return json.loads(proc.stdout)


def worst_ratio(predicted: float, measured: float) -> float:
    """The larger of predicted / measured and its inverse."""
    ratio = predicted / measured
    return max(ratio, 1 / ratio)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (no ties expected among timings)."""

    def ranks(values: Sequence[float]) -> list[int]:
        order = sorted(range(len(values)), key=values.__getitem__)
        out = [0] * len(values)
        for rank, index in enumerate(order):
            out[index] = rank
        return out

    n = len(a)
    if n < 2:
        return 1.0
    ra, rb = ranks(a), ranks(b)
    return 1 - 6 * sum((x - y) ** 2 for x, y in zip(ra, rb, strict=True)) / (n * (n * n - 1))


def scores(predicted: Sequence[float], measured: Sequence[float]) -> dict[str, float]:
    """Median |error|, the worst ratio, the shares within ±10 % and ±25 %, and Spearman's rank
    correlation of ``predicted`` against ``measured`` (same order)."""
    errors = [abs(p / m - 1) for p, m in zip(predicted, measured, strict=True)]
    return {
        "median_error": statistics.median(errors),
        "worst_ratio": max(worst_ratio(p, m) for p, m in zip(predicted, measured, strict=True)),
        "within_10": sum(e <= 0.10 for e in errors) / len(errors),
        "within_25": sum(e <= 0.25 for e in errors) / len(errors),
        "spearman": spearman(predicted, measured),
    }


def passes(found: dict[str, float], targets: dict[str, float]) -> bool:
    """Whether ``found`` meets ``targets`` (median error at most, share within ±10 % at least,
    worst ratio at most)."""
    return (
        found["median_error"] <= targets["median_error"]
        and found["within_10"] >= targets["within_10"]
        and found["worst_ratio"] <= targets["worst_ratio"]
    )
