"""One name and one unit per quantity (issue 24): a coefficient of variation is a fraction in
every document and CSV, a person's table still reads it in percent, and every latency panel
names the predictor behind each number ("kernel models", "roofline")."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

import pytest
from conftest import run

from cnnprof.api.request import Request
from cnnprof.results.timing import Timing

MODELS = ("lenet5", "mobilenet@alpha=0.25")
SAMPLES_MS = ((1.0, 1.1, 1.2, 1.3), (5.0, 5.5, 6.0, 6.5))


def _timing(model: str, samples_ms: Sequence[float]) -> Timing:
    return Timing(
        model=model,
        device="cpu",
        device_name="Test CPU",
        threads=1,
        dtype="float32",
        batch=1,
        channels_last=False,
        torch_version="test",
        samples=tuple(s / 1e3 for s in samples_ms),
        warmup_runs=1,
        warmup_stable=True,
        budget_hit=False,
    )


@pytest.fixture
def measured(monkeypatch) -> list[Timing]:
    """`compare --latency` and `sweep --latency` measure nothing: each model gets its fixed
    samples."""
    timings = [_timing(m, s) for m, s in zip(MODELS, SAMPLES_MS, strict=True)]

    def together(requests: Sequence[Request], device: str = "cpu") -> list[Timing]:
        return [_timing(r.label, SAMPLES_MS[i]) for i, r in enumerate(requests)]

    monkeypatch.setattr("cnnprof.cli.measure.measure_together", together)
    return timings


def test_compare_holds_latency_cv_as_a_fraction_in_json_and_csv(measured: list[Timing]) -> None:
    expected = [round(t.cv, 3) for t in measured]
    assert 0 < expected[0] < 1
    data = json.loads(run("compare", *MODELS, "--latency", "-f", "json").stdout)
    assert data["schema"] == "cnnprof.compare/2"
    assert [m["latency_cv"] for m in data["models"]] == expected
    text = run("compare", *MODELS, "--latency", "-f", "csv").stdout
    assert [float(r["latency_cv"]) for r in csv.DictReader(io.StringIO(text))] == expected
    md = run("compare", *MODELS, "--latency", "-f", "md").stdout
    row = next(line for line in md.splitlines() if line.startswith("| latency CV (%)"))
    assert f"| {100 * expected[0]:g} |" in row  # people read it in percent


def test_sweep_holds_latency_cv_as_a_fraction(measured: list[Timing]) -> None:
    result = run("sweep", "mobilenet", "--alpha", "1,0.5", "--latency", "-f", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema"] == "cnnprof.sweep/2"
    assert [p["latency_cv"] for p in data["points"]] == [round(t.cv, 3) for t in measured]


def test_a_prediction_panel_names_both_predictors() -> None:
    result = run("latency", "resnet18", "--device-profile", "amd-epyc-1t", "--layers")
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "summed from the device profile's kernel models" in text
    assert "predicted ms: the kernel models' prediction · roofline ms: the roofline's" in text
    md = run("latency", "resnet18", "--device-profile", "amd-epyc-1t", "--layers", "-f", "md")
    assert "| kernel models ms | time % | roofline ms |" in md.stdout


def test_compare_and_sweep_name_the_kernel_models_beside_predicted_ms() -> None:
    compared = " ".join(run("compare", *MODELS, "--device-profile", "amd-epyc-1t").stdout.split())
    assert "predicted ms (kernel models)" in compared
    swept = run("sweep", "mobilenet", "--alpha", "1,0.5", "--device-profile", "amd-epyc-1t")
    assert "predicted_ms: the kernel models' latency, predicted for" in " ".join(
        swept.stdout.split()
    )
