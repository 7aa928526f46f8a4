"""Latency predicted for a device profile, carried into budgets, baselines, compare and sweep
(issue 17, items 3 and 4a): `predicted_ms`, one more metric of the one table; deterministic, no
timing, no torch for a spec.

The figures are hand-checkable: a one-row spec on `test_predictor`'s synthetic device, whose
kernel models are their lines (no sample residuals).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import assert_error, run
from test_formats import check_document
from test_latency_ratio import _timing
from test_predictor import _device, _model

import cnnprof
from cnnprof.api import latency as api
from cnnprof.api import tables
from cnnprof.api.check import _counting as counting
from cnnprof.api.request import Request, request
from cnnprof.results.device import DeviceProfile, Peaks
from cnnprof.results.metrics import METRICS, value
from cnnprof.results.timing import Timing

ONE_CONV = """\
family: one_conv
paper: "test spec: one 3×3 convolution with BatchNorm and ReLU"
input: [3, 32, 32]
defaults: {norm: bn, act: relu}
layers:
  - {op: conv, out: 16, k: 3, p: 1}
"""
# On the synthetic device (`test_predictor._device`): the convolution 10 µs + 442,368 MACs
# (16·32·32 outputs × 3·3·3) × 0.1 ns, BatchNorm 3 µs + 16,384 elements × 0.1 ns, ReLU
# 2 µs + 16,384 × 0.1 ns, and one module call of 2 µs around the three kernels: 64.5136 µs,
# recorded to the nanosecond.
ONE_CONV_MS = 0.064514
# The same device with convolutions at half the MAC rate (0.2 ns a MAC): + 44.2368 µs.
SLOWER_MS = 0.10875


def _slower() -> Peaks:
    """The synthetic device calibrated again a day later: its convolutions half as fast."""
    norm, act = _device().kernels[1:]
    return _device(
        kernels=(_model("conv", (10e-6, 2e-10, 0.0, 0.0, 0.0)), norm, act),
        measured_at="2026-11-30T00:00:00+00:00",
    )


@pytest.fixture
def spec(tmp_path: Path) -> str:
    path = tmp_path / "one_conv.yaml"
    path.write_text(ONE_CONV, encoding="utf-8")
    return str(path)


def _profile(tmp_path: Path, name: str, record: Peaks) -> str:
    """``record`` saved as a device profile (what `cnnprof device --save` writes)."""
    return _write(tmp_path, name, json.dumps(record.to_dict()))


@pytest.fixture
def device(tmp_path: Path) -> str:
    return _profile(tmp_path, "device.json", _device())


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _json(*args: str) -> tuple[int, dict]:
    result = run(*args, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


# --- the metric -----------------------------------------------------------------------------------


def test_predicted_ms_is_a_metric_of_the_one_table(spec: str):
    metric = METRICS["predicted_ms"]
    assert (metric.unit, metric.compare, metric.sweep) == ("ms", True, True)
    column = tables.column(request(spec), device=DeviceProfile("dev", _device()))
    assert value(column, "predicted_ms") == ONE_CONV_MS
    assert value(tables.column(request(spec)), "predicted_ms") is None  # not predicted


# --- budgets --------------------------------------------------------------------------------------


def test_a_predicted_budget_fails_past_its_limit_and_passes_within_it(tmp_path, spec, device):
    """0.064514 ms against 0.065 (ok), 0.064 (FAIL) and 0.064 + 1 % = 0.06464 (ok): the count
    tolerance applies; every format says the same, and which profile."""
    budget = _write(
        tmp_path,
        "budget.yaml",
        (
            f"device_profile: '{device}'\n"
            "models:\n"
            f"  - {{model: '{spec}', max_predicted_ms: 0.065}}\n"
            f"  - {{model: '{spec}', max_predicted_ms: 0.064}}\n"
            f"  - {{model: '{spec}', max_predicted_ms: 0.064, tolerance: 1%}}\n"
        ),
    )
    code, report = _json("check", budget)
    check_document(report)
    assert code == 1
    rows = report["results"]
    assert [r["metric"] for r in rows] == ["predicted_ms"] * 3
    assert [r["value"] for r in rows] == [ONE_CONV_MS] * 3
    assert [r["limit"] for r in rows] == [0.065, 0.064, 0.06464]
    assert [r["status"] for r in rows] == ["ok", "FAIL", "ok"]
    assert {r["device_profile"] for r in rows} == {device}
    assert [r["value_p10"] for r in rows] == [None] * 3  # a prediction has no spread
    assert report["notes"] == [
        f"predicted_ms: predicted for Test CPU, 2 threads, float32 (device profile {device}: "
        "torch 2.13.0, calibrated 2026-11-29T00:00:00+00:00, error 0 %, load not recorded)"
    ]
    table = run("check", budget, "--format", "csv")
    records = list(csv.DictReader(io.StringIO(table.stdout)))
    assert table.exit_code == 1
    assert [(r["value"], r["limit"], r["status"], r["device_profile"]) for r in records] == [
        ("0.064514", "0.065", "ok", device),
        ("0.064514", "0.064", "FAIL", device),
        ("0.064514", "0.06464", "ok", device),
    ]
    md = run("check", budget, "--format", "md")
    assert md.exit_code == 1 and "1 of 3 metrics over their limit" in md.stdout
    assert md.stdout.count(f"| predicted_ms ({device}) | 0.064 | 0.064514 |") == 2
    assert md.stdout.count("**FAIL**") == 1 and "predicted for Test CPU" in md.stdout
    screen = run("check", budget)
    text = " ".join(screen.stdout.split())
    assert screen.exit_code == 1 and "1 of 3 metrics over their limit" in text
    assert text.count("predicted_ms") == 4 and "FAIL" in text  # three rows and the note


def test_an_entrys_own_profile_wins_over_the_files(tmp_path, spec, device):
    slower = _profile(tmp_path, "slower.json", _slower())
    budget = _write(
        tmp_path,
        "budget.yaml",
        (
            f"device_profile: '{device}'\n"
            "models:\n"
            f"  - {{model: '{spec}', max_predicted_ms: 0.1, max_macs: 500K}}\n"
            f"  - {{model: '{spec}', max_predicted_ms: 0.1, device_profile: '{slower}'}}\n"
        ),
    )
    code, report = _json("check", budget)
    assert code == 1
    predicted = [r for r in report["results"] if r["metric"] == "predicted_ms"]
    assert [(r["value"], r["device_profile"], r["status"]) for r in predicted] == [
        (ONE_CONV_MS, device, "ok"),
        (SLOWER_MS, slower, "FAIL"),
    ]
    macs = next(r for r in report["results"] if r["metric"] == "macs")
    assert macs["device_profile"] is None and macs["value"] == 442_368
    assert [n.split(" (device profile ")[1].split(":")[0] for n in report["notes"]] == [
        device,
        slower,
    ]


def test_rows_no_kernel_model_covers_are_said(tmp_path, device):
    """LeNet-5's pools and fc layers on a device with conv, norm and act models only: costed on
    the roofline, and a note says so (in a check and under a comparison)."""
    entry = f"{{model: lenet5, max_predicted_ms: 1, device_profile: '{device}'}}"
    budget = _write(tmp_path, "budget.yaml", f"models:\n  - {entry}\n")
    _, report = _json("check", budget)
    said = "lenet5: predicted_ms costs 4 rows on the roofline, no kernel model of the device "
    assert f"{said}profile covering them (S2, S4, F6 and 1 more)" in report["notes"]
    table = " ".join(
        run("compare", "lenet5", "mobilenet", "--device-profile", device).stdout.split()
    )
    assert said in table and "mobilenet: predicted_ms costs" in table  # its pooling and fc


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (
            "models:\n  - {model: lenet5, max_predicted_ms: 1}\n",
            ("entry 1 (lenet5)", "max_predicted_ms needs the device profile to predict for"),
        ),
        (
            "models:\n  - {model: lenet5, max_macs: 1M, device_profile: 'DEV'}\n",
            ("field 'device_profile'", "used only by max_predicted_ms"),
        ),
        (
            "device_profile: 'DEV'\nmodels:\n  - {model: lenet5, max_macs: 1M}\n",
            ("'device_profile: DEV' is used by no entry",),
        ),
        (
            "models:\n  - {model: lenet5, max_predicted_ms: 1, device_profile: nosuch}\n",
            ("field 'device_profile'", "nosuch: no such file, nor a shipped profile"),
        ),
        (
            "models:\n  - {model: lenet5, max_predicted_ms: 1, device_profile: 'BROKEN'}\n",
            ("field 'device_profile'", "not a usable device profile"),
        ),
        (
            "models:\n  - {model: lenet5, max_predicted_ms: 1, device_profile: 'BARE'}\n",
            ("field 'device_profile'", "holds no kernel models"),
        ),
        (
            "device_profile: 'DEV'\nmodels:\n  - {model: lenet5, max_predicted_ms: 1, "
            "dtype: bfloat16}\n",
            ("entry 1 (lenet5)", "calibrated in float32, the models run in bfloat16"),
        ),
        (
            "device_profile: ''\nmodels:\n  - {model: lenet5, max_predicted_ms: 1}\n",
            ("field 'device_profile'", "non-empty string"),
        ),
        (
            "models:\n  - {model: lenet5, max_predicted_ms: 0, device_profile: 'DEV'}\n",
            ("field 'max_predicted_ms'", "> 0"),
        ),
    ],
)
def test_bad_predicted_budgets_are_one_line_before_anything_runs(
    tmp_path, monkeypatch, device, content, fragments
):
    broken = _write(tmp_path, "broken.json", "{not json")
    bare = _profile(tmp_path, "bare.json", _device(kernels=()))
    content = content.replace("DEV", device).replace("BROKEN", broken).replace("BARE", bare)
    fragments = [f.replace("DEV", device) for f in fragments]
    counted: list[str] = []
    monkeypatch.setattr(counting, "profile_analytic", lambda req: counted.append(req.label))
    assert_error(run("check", _write(tmp_path, "budget.yaml", content)), *fragments)
    assert counted == []


# --- baselines ------------------------------------------------------------------------------------


def test_snapshot_records_the_prediction_and_check_holds_it_like_a_count(tmp_path, spec, device):
    """Recorded with the profile's identity; compared under --tolerance (not the measured
    latency's); a profile calibrated again is compared, said in a note, and --update records
    the new figure and calibration, keeping every other key."""
    baseline = tmp_path / "baseline.json"
    made = run("snapshot", spec, "lenet5", "--device-profile", device, "-o", str(baseline))
    assert made.exit_code == 0, made.output
    document = json.loads(baseline.read_text())
    check_document(document)
    entry = document["models"][0]
    assert entry["counts"]["predicted_ms"] == ONE_CONV_MS
    recorded = dict(entry["prediction"])
    assert recorded.pop("profile_sha256") == api.named_profile(device, "float32").content_hash
    assert recorded == {
        "device_profile": device,
        "device": "cpu",
        "device_name": "Test CPU",
        "threads": 2,
        "dtype": "float32",
        "torch": "2.13.0",
        "calibrated_at": "2026-11-29T00:00:00+00:00",
        "profile_error": 0.0,
        "calibration_load": None,
    }
    code, report = _json("check", str(baseline))
    check_document(report)
    predicted = [r for r in report["results"] if r["metric"] == "predicted_ms"]
    assert code == 0 and [r["delta"] for r in predicted] == [0, 0]
    assert {r["device_profile"] for r in predicted} == {device}

    Path(device).write_text(json.dumps(_slower().to_dict()), encoding="utf-8")
    assert_error(run("check", str(baseline)), "the profile changed since this baseline")
    for model in document["models"]:  # a baseline from before the hash: compared, with a note
        del model["prediction"]["profile_sha256"]
    baseline.write_text(json.dumps(document))
    code, report = _json("check", str(baseline), "--latency-tolerance", "100%")
    assert any("records no profile_sha256" in n for n in report["notes"]), report["notes"]
    first = report["results"][5]
    assert code == 1 and (first["metric"], first["value"], first["status"]) == (
        "predicted_ms",
        SLOWER_MS,
        "FAIL",
    )
    assert any(
        f"device profile {device} is not the calibration the baseline was predicted with "
        "(calibrated_at 2026-11-29T00:00:00+00:00 → 2026-11-30T00:00:00+00:00)" in n
        for n in report["notes"]
    ), report["notes"]
    assert _json("check", str(baseline), "--tolerance", "70%")[0] == 0  # 0.10875 ≤ 0.064514 × 1.7

    document["models"][0]["owner"] = "vision team"
    baseline.write_text(json.dumps(document))
    updated = run("check", str(baseline), "--update")
    assert updated.exit_code == 0, updated.output
    assert f"one_conv.yaml predicted_ms: {ONE_CONV_MS:,} → {SLOWER_MS:,}" in updated.stderr
    entry = json.loads(baseline.read_text())["models"][0]
    assert entry["counts"]["predicted_ms"] == SLOWER_MS and entry["owner"] == "vision team"
    assert entry["prediction"]["calibrated_at"] == "2026-11-30T00:00:00+00:00"
    assert "profile_sha256" in entry["prediction"]
    code, report = _json("check", str(baseline))
    assert code == 0 and not any("not the calibration" in n for n in report["notes"])


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (
            {"counts": {"macs": 416520, "predicted_ms": 1.0}},
            "counts.predicted_ms needs 'prediction'",
        ),
        (
            {"counts": {"macs": 416520}, "prediction": {"device_profile": "DEV"}},
            "field 'prediction': used only with counts.predicted_ms",
        ),
        (
            {
                "counts": {"macs": 416520, "predicted_ms": 1.0},
                "prediction": {"device_profile": "gone.json"},
            },
            "prediction: field 'device_profile': gone.json: no such file",
        ),
        (
            {"counts": {"macs": 416520, "predicted_ms": 1.0}, "prediction": {}},
            "prediction: field 'device_profile': expected a non-empty string",
        ),
    ],
)
def test_bad_baseline_predictions_are_one_line(tmp_path, device, change, fragment):
    entry = {"model": "lenet5", **change}
    if "prediction" in entry and entry["prediction"].get("device_profile") == "DEV":
        entry["prediction"]["device_profile"] = device
    path = _write(
        tmp_path, "baseline.json", json.dumps({"schema": "cnnprof.snapshot/1", "models": [entry]})
    )
    assert_error(run("check", path), "entry 1 (lenet5)", fragment)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (("--device-profile", "nosuch"), "--device-profile nosuch: no such file"),
        (("--device-profile", "DEV", "--dtype", "bfloat16"), "calibrated in float32"),
    ],
)
def test_bad_snapshot_profiles_are_one_line_before_counting(
    tmp_path, monkeypatch, device, options, fragment
):
    counted: list[str] = []
    monkeypatch.setattr(counting, "profile_analytic", lambda req: counted.append(req.label))
    options = tuple(device if o == "DEV" else o for o in options)
    assert_error(run("snapshot", "lenet5", *options, "-o", str(tmp_path / "b.json")), fragment)
    assert counted == []


# --- compare and sweep ----------------------------------------------------------------------------

MODELS = ("mobilenet", "resnet18", "mobilenet@alpha=0.5")


def _predicted(model: str) -> float:
    """The model's prediction on the synthetic device, as the API makes it."""
    found = api.predicted_for(cnnprof.count(model), DeviceProfile("dev", _device()))
    return round(found.seconds * 1e3, 6)


def test_compare_shows_the_predicted_latency_side_by_side(device):
    code, data = _json("compare", *MODELS, "--device-profile", device)
    check_document(data)
    expected = [_predicted(m) for m in MODELS]
    assert code == 0 and [m["predicted_ms"] for m in data["models"]] == expected
    assert data["models"][1]["ratios"]["predicted_ms"] == pytest.approx(expected[1] / expected[0])
    assert data["device_profile"]["device_profile"] == device
    assert data["device_profile"]["device_name"] == "Test CPU"
    assert all(m["latency_ms"] is None for m in data["models"])  # nothing measured
    records = list(
        csv.DictReader(
            io.StringIO(run("compare", *MODELS, "--device-profile", device, "-f", "csv").stdout)
        )
    )
    assert [float(r["predicted_ms"]) for r in records] == expected
    assert {r["device_profile"] for r in records} == {device}
    md = run("compare", *MODELS, "--device-profile", device, "-f", "md").stdout
    assert "| predicted ms (kernel models) |" in md
    assert "> predicted_ms: the kernel models' latency, predicted for Test CPU" in md
    table = " ".join(run("compare", *MODELS, "--device-profile", device).stdout.split())
    assert "predicted ms (kernel models)" in table
    assert "kernel models' latency, predicted for Test CPU, 2 threads" in table
    plain = _json("compare", *MODELS)[1]
    assert plain["device_profile"] is None and "predicted_ms" in plain["models"][0]


def test_sweep_ranks_by_mnasnets_objective_on_the_predicted_latency(device):
    """ACC × (LAT/T)^-0.07 (Tan et al. 2019, Eq. 2) with LAT the prediction; the Pareto
    frontier on the prediction against published top-1 (MobileNet paper, Table 6)."""
    args = (
        "sweep",
        "mobilenet",
        "--alpha",
        "1,0.75,0.5,0.25",
        "--device-profile",
        device,
        "--target-ms",
        "20",
        "--pareto",
    )
    code, data = _json(*args)
    check_document(data)
    assert code == 0 and data["ranked_on"] == "predicted_ms"
    points = data["points"]
    top1 = {1.0: 70.6, 0.75: 68.4, 0.5: 63.7, 0.25: 50.6}  # Howard et al. 2017, Table 6
    for p in points:
        assert p["predicted_ms"] == _predicted(p["model"])
        assert p["mnas_objective"] == pytest.approx(
            top1[p["alpha"]] * (p["predicted_ms"] / 20) ** -0.07
        )
    objectives = [p["mnas_objective"] for p in points]
    assert objectives == sorted(objectives, reverse=True) and len(points) == 4
    slowest_first = sorted(points, key=lambda p: -p["predicted_ms"])
    assert [p["alpha"] for p in slowest_first] == [1.0, 0.75, 0.5, 0.25]
    assert all(p["pareto"] for p in points)  # slower is more accurate at every width
    text = " ".join(run(*args).stdout.split())
    assert "pred. ms" in text and "predicted for Test CPU" in text


def test_sweep_without_a_latency_refuses_a_target(device):
    assert_error(
        run("sweep", "mobilenet", "--alpha", "1,0.5", "--target-ms", "20"),
        "--target-ms needs a latency",
        "--device-profile",
    )
    assert_error(
        run(
            "sweep", "mobilenet", "--alpha", "1,0.5", "--device-profile", device, "--target-ms", "0"
        ),
        "> 0 ms",
    )


@pytest.mark.parametrize(
    "command", [("compare", "lenet5", "resnet18"), ("sweep", "lenet5", "-a", "1,0.5")]
)
def test_compare_and_sweep_refuse_a_profile_they_cannot_use(tmp_path, command):
    half = _profile(tmp_path, "half.json", _device(dtype="bfloat16"))
    assert_error(
        run(*command, "--device-profile", half),
        "calibrated in bfloat16",
        "the models run in float32",
    )
    assert_error(run(*command, "--device-profile", "nosuch"), "--device-profile nosuch")


def test_with_latency_too_both_are_shown_and_the_prediction_ranks(monkeypatch, device):
    """Measured here and predicted for the profile, side by side. The fake measurement ranks
    the widths the other way round (the narrowest slowest): the sweep still ranks on the
    prediction, and says so."""

    def together(requests: Sequence[Request], device: str = "cpu") -> list[Timing]:
        return [_timing(r.label, [0.001 * (i + 1)] * 5) for i, r in enumerate(requests)]

    monkeypatch.setattr("cnnprof.cli.measure.measure_together", together)
    _, compared = _json("compare", "mobilenet", "resnet18", "--latency", "--device-profile", device)
    assert [m["latency_ms"] for m in compared["models"]] == [1.0, 2.0]
    assert [m["predicted_ms"] for m in compared["models"]] == [
        _predicted("mobilenet"),
        _predicted("resnet18"),
    ]
    args = (
        "sweep",
        "mobilenet",
        "--alpha",
        "1,0.25",
        "--latency",
        "--device-profile",
        device,
        "--target-ms",
        "20",
    )
    _, swept = _json(*args)
    assert swept["ranked_on"] == "predicted_ms"
    by_alpha = {p["alpha"]: p for p in swept["points"]}
    assert by_alpha[1.0]["latency_ms"] == 1.0 and by_alpha[0.25]["latency_ms"] == 2.0
    assert by_alpha[1.0]["mnas_objective"] == pytest.approx(
        70.6 * (by_alpha[1.0]["predicted_ms"] / 20) ** -0.07  # Howard et al. 2017, Table 6
    )
    assert "take predicted_ms, the device profile's prediction" in " ".join(
        run(*args).stdout.split()
    )


def test_the_python_api_takes_a_device_profile(device):
    comparison = cnnprof.compare("mobilenet", "resnet18", device_profile=device)
    assert value(comparison.columns[0], "predicted_ms") == _predicted("mobilenet")
    assert cnnprof.to_dict(comparison)["device_profile"]["device_profile"] == device
    points = cnnprof.sweep("mobilenet", alpha=(1, 0.5), device_profile=device, target_ms=20)
    assert [p.mnas_objective is not None for p in points] == [True, True]
    assert cnnprof.to_dict(points)["ranked_on"] == "predicted_ms"
    baseline = cnnprof.snapshot(["lenet5"], device_profile=device)
    assert baseline["models"][0]["counts"]["predicted_ms"] == _predicted("lenet5")


# --- no torch -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_compare_sweep_and_budgets_predict_with_torch_blocked(tmp_path, spec, device):
    """The same figures with torch absent (a stub that refuses the import) as in this process."""
    stub = tmp_path / "stub" / "torch"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('no torch here')\n", encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(stub.parent), os.environ.get("PYTHONPATH")) if p
        ),
    }

    def cnnprof_json(*args: str) -> dict:
        proc = subprocess.run(
            [sys.executable, "-m", "cnnprof", *args, "-f", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    swept = cnnprof_json(
        "sweep", "mobilenet", "--alpha", "1,0.5", "--device-profile", device, "--target-ms", "20"
    )
    here = tables.sweep(
        request("mobilenet"),
        tables.sweep_settings([1.0, 0.5], [], [], []),
        target_ms=20,
        device=DeviceProfile(device, _device()),
    )
    assert [p["mnas_objective"] for p in swept["points"]] == [p.mnas_objective for p in here]
    assert [p["predicted_ms"] for p in swept["points"]] == [
        value(p.column, "predicted_ms") for p in here
    ]
    compared = cnnprof_json("compare", "resnet50", "mobilenet", "--device-profile", device)
    assert [m["predicted_ms"] for m in compared["models"]] == [
        _predicted("resnet50"),
        _predicted("mobilenet"),
    ]
    budget = _write(
        tmp_path,
        "budget.yaml",
        f"models:\n  - {{model: '{spec}', max_predicted_ms: 0.065, device_profile: '{device}'}}\n",
    )
    checked = cnnprof_json("check", budget)
    assert checked["passed"] and checked["results"][0]["value"] == ONE_CONV_MS
