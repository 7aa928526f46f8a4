"""A calibration the judge refuses is not cached and not saved without --force, and says why;
an accepted one is cached and read back with where it came from; one cut short keeps what it
fitted; a busy machine is said before measuring (issue 24). Tiny plans, so no test waits; the
judge's verdict is set by the test (tests/results/test_judge.py tests the judgement)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from conftest import run  # noqa: E402
from test_latency import TINY_KERNELS, TINY_PLAN  # noqa: E402

from cnnprof.api import latency as api  # noqa: E402
from cnnprof.api import machine_load as load_module  # noqa: E402
from cnnprof.empirical import kernels  # noqa: E402
from cnnprof.empirical import peaks as peaks_module  # noqa: E402
from cnnprof.empirical.device import CLOCKS  # noqa: E402
from cnnprof.errors import OutOfTime  # noqa: E402
from cnnprof.results import judge  # noqa: E402
from cnnprof.results.device import DeviceQuery  # noqa: E402
from cnnprof.results.load import Load  # noqa: E402
from cnnprof.results.timing import Deadline  # noqa: E402

QUERY = DeviceQuery("cpu", "float32", 1)
NOISY = ["its kernel models are 60 % off their own samples"]


@pytest.fixture(autouse=True)
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CNNPROF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(peaks_module, "PLANS", {"cpu": TINY_PLAN})
    monkeypatch.setattr(peaks_module, "KERNEL_PLANS", {"cpu": TINY_KERNELS})
    monkeypatch.setattr(peaks_module, "implausible", lambda measured: [])
    monkeypatch.setattr(judge, "refusals", lambda measured: [])
    return tmp_path / "cache"


def _cached(cache: Path) -> list[Path]:
    return list((cache / "peaks").glob("*.json")) if (cache / "peaks").is_dir() else []


def test_a_refused_calibration_is_not_cached(tiny: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(judge, "refusals", lambda measured: NOISY)
    found = peaks_module.calibration(QUERY)
    assert found is not None and found.refused == tuple(NOISY)
    assert found.measured_now and found.cache is None and _cached(tiny) == []
    assert found.peaks.load is None or found.peaks.load.cores >= 1, "the load is recorded"


def test_an_accepted_calibration_is_cached_and_read_back_from_the_cache(tiny: Path):
    first = peaks_module.calibration(QUERY)
    assert first is not None and first.measured_now and first.cached_to
    again = peaks_module.calibration(QUERY)
    assert again is not None and again.cached_from == first.cached_to
    assert again.peaks == first.peaks and not again.measured_now


def test_a_partial_calibration_is_kept_but_not_cached(tiny: Path, monkeypatch):
    real = peaks_module.measure_peaks
    monkeypatch.setattr(
        peaks_module,
        "measure_peaks",
        lambda *a, **k: replace(real(*a, **k), partial="1 of 21 kernel networks timed"),
    )
    found = peaks_module.calibration(QUERY)
    assert found is not None and found.peaks.partial and found.cached_to is None
    assert _cached(tiny) == []


def test_a_calibration_past_its_deadline_fits_what_it_timed(monkeypatch):
    """Three networks planned, the deadline passed before the second: the kinds the first
    network timed are fitted (one sample each allowed here) and the record names the one it
    did not (maxpool: the seeded first network has no pool); with the default minimum of samples
    the kinds that dominate CNN time (here conv: one stem) are too few and nothing is kept."""
    plan = replace(TINY_KERNELS, networks=(3,))

    def timed() -> kernels.Calibrated:
        clock, cpu = CLOCKS["cpu"](), torch.device("cpu")
        return kernels.calibrate(clock, cpu, torch.float32, plan, deadline=Deadline(0.0))

    with pytest.raises(
        OutOfTime, match=r"timed 1 of 3 kernel networks .* too few for a model of conv"
    ):
        timed()
    monkeypatch.setattr(kernels, "MIN_SAMPLES", 1)
    fitted = timed()
    assert fitted.partial == (
        "1 of 3 kernel networks timed; no model of maxpool kernels (costed on the roofline)"
    )
    assert {"conv", "pointwise", "dwconv"} <= {m.kind for m in fitted.models}


def test_save_refuses_a_refused_calibration_without_force(tiny: Path, tmp_path, monkeypatch):
    monkeypatch.setattr(judge, "refusals", lambda measured: NOISY)
    saved = tmp_path / "dev.json"
    result = run("device", "--threads", "1", "--save", str(saved))
    assert result.exit_code == 2 and result.stdout == ""
    *progress, error = result.stderr.splitlines()  # the calibration's progress, then one line
    assert all("device calibration ·" in line for line in progress)
    assert error.startswith(f"cnnprof: error: --save {saved}: the device calibration was refused")
    for fragment in (NOISY[0], "quieter machine", "cnnprof device --refresh", "--force"):
        assert fragment in error
    assert "--threads 1" not in error, "it ran at 1 thread already"
    assert not saved.exists() and _cached(tiny) == []
    forced = run("device", "--threads", "1", "--save", str(saved), "--force")
    assert forced.exit_code == 0, forced.stderr
    assert saved.exists() and _cached(tiny) == []
    assert "warning: the device calibration was refused" in forced.stderr
    assert "not cached" in forced.stderr


def test_device_shown_without_save_warns_and_says_not_cached(monkeypatch):
    monkeypatch.setattr(judge, "refusals", lambda measured: NOISY)
    result = run("device", "--threads", "1")
    assert result.exit_code == 0 and "peak compute" in result.stdout
    assert "(not cached)" in result.stderr and NOISY[0] in result.stderr


def test_device_says_cached_from_on_a_cache_hit():
    first = run("device", "--threads", "1")
    assert first.exit_code == 0 and "calibrated" in first.stderr and "once in" in first.stderr
    second = run("device", "--threads", "1")
    assert second.exit_code == 0
    assert "using the calibration cached from" in second.stderr
    assert "once in" not in second.stderr and "`cnnprof device --refresh`" in second.stderr


def test_latency_shows_its_prediction_from_a_refused_calibration(tiny: Path, monkeypatch):
    monkeypatch.setattr(judge, "refusals", lambda measured: NOISY)
    result = run("latency", "lenet5", "--runs", "3", "--threads", "1")
    assert result.exit_code == 0 and "kernel models" in result.stdout
    assert "the device calibration was refused" in result.stderr and NOISY[0] in result.stderr
    assert "(not cached)" in result.stderr and _cached(tiny) == []


def test_nothing_is_said_before_a_runtime_that_does_not_import(monkeypatch):
    """Its measurement refuses in one line (tests/test_no_torch.py): no note comes before it."""
    from cnnprof.api import machine_load
    from cnnprof.errors import MissingExtra

    def missing() -> None:
        raise MissingExtra("--runtime onnxruntime needs onnxruntime")

    busy = Load(load_average=4.6, others_share=0.8, steal_share=0.0, cores=2)
    assert api.load_note(2, busy) is not None
    monkeypatch.setitem(machine_load._IMPORT, "onnxruntime", missing)
    assert api.load_note(2, busy, runtime="onnxruntime") is None
    assert not machine_load.importable("onnxruntime") and machine_load.importable("torch")


def test_a_busy_machine_is_said_before_measuring(monkeypatch):
    busy = Load(load_average=4.6, others_share=0.8, steal_share=0.0, cores=2)
    note = api.load_note(2, busy)
    assert note is not None and "about 0.4 of its 2 cores are free for 2 threads" in note
    assert "`--threads 1`" in note
    assert "`--threads 1`" not in (api.load_note(1, busy) or "")
    assert api.load_note(1, replace(busy, others_share=0.02)) is None
    assert api.load_note(2) is None, "an unknown load says nothing"
    monkeypatch.setattr(load_module, "sample_load", lambda: busy)
    result = run("device", "--threads", "2")
    assert result.exit_code == 0
    assert result.stderr.startswith("cnnprof: note: the machine is busy"), "before measuring"
