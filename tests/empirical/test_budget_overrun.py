"""A measurement stays within its --budget, plus at most the one run that had already started, and
says so whenever the budget stopped it or it ran past (issue 27, §4: `latency mobilenet --budget
45 --dtype float16` ran 60 s and reported `budget_hit: false`). Slow runs are simulated on a
virtual clock that each forward pass advances, so these tests read structure, never a speed."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from conftest import run  # noqa: E402
from torch import nn  # noqa: E402

import cnnprof.api.latency as api_latency  # noqa: E402
from cnnprof import api  # noqa: E402
from cnnprof.arch.model import Shape  # noqa: E402
from cnnprof.empirical.latency import measure  # noqa: E402
from cnnprof.errors import OutOfTime  # noqa: E402
from cnnprof.results.judge import Calibration  # noqa: E402
from cnnprof.results.profile import LayerCost  # noqa: E402
from cnnprof.results.timing import MIN_RUNS, Deadline, LatencySettings, Timing  # noqa: E402

SHAPE = Shape(3, 4, 4)
ROWS = (
    LayerCost(path="conv", op="conv", in_shape=SHAPE, out_shape=Shape(4, 4, 4), kernel=(1, 1)),
    LayerCost(path="norm", op="norm", in_shape=Shape(4, 4, 4), out_shape=Shape(4, 4, 4)),
)


class VirtualClock:
    """``time.perf_counter`` in virtual seconds: a microsecond per reading, and whatever the
    simulated work adds."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1e-6
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    virtual = VirtualClock()
    monkeypatch.setattr(time, "perf_counter", virtual)
    return virtual


class Slow(nn.Module):
    """A model whose forward pass takes ``seconds`` on the virtual clock, each pass ``growth``
    times the one before (runs that slow down as they go)."""

    def __init__(self, clock: VirtualClock, seconds: float, growth: float = 1.0) -> None:
        super().__init__()
        self.clock, self.seconds, self.growth, self.last = clock, seconds, growth, 0.0
        self.conv, self.norm = nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.last = self.seconds
        self.clock.now += self.seconds
        self.seconds *= self.growth
        return self.norm(self.conv(x))


def _timed(clock: VirtualClock, model: Slow, budget: float, **settings: object) -> tuple:
    """The timing of ``model`` within ``budget`` and the virtual seconds it took."""
    start = clock.now
    chosen = LatencySettings(budget=budget, **settings)  # type: ignore[arg-type]
    timing = measure(model, SHAPE, settings=chosen, rows=ROWS, deadline=Deadline(budget))
    return timing, clock.now - start


@pytest.mark.parametrize(
    ("seconds", "budget", "growth", "settings"),
    [
        (20.0, 45.0, 1.0, {}),  # before: first run, kernel record, a timed run: 60 s, 45 s budget
        (16.0, 45.0, 1.0, {}),
        (0.002, 45.0, 1.3, {}),  # before: an auto warm-up window sized on the first run: hours
        (8.0, 45.0, 1.0, {"layers": True}),
        (0.5, 45.0, 1.2, {"layers": True}),
        (10.0, 30.0, 1.0, {"warmup": 5}),
        (60.0, 45.0, 1.0, {}),  # the first run alone spends the budget: it is the sample
    ],
)
def test_a_measurement_ends_within_its_budget_plus_the_run_under_way(
    clock: VirtualClock, seconds: float, budget: float, growth: float, settings: dict
):
    model = Slow(clock, seconds, growth)
    timing, took = _timed(clock, model, budget, **settings)
    # runs of one length start only with room for them: the end is within the budget (or the
    # first run alone is past it); runs that slow down may end one run past it, no more
    bound = max(budget, seconds) if growth == 1.0 else budget + model.last
    slack = 1e-3  # the virtual clock's own readings
    assert took <= bound + slack, f"{took:.1f} s against a {budget:g} s budget"
    assert timing.runs >= 1
    assert timing.budget_hit, "each of these is stopped early by its budget"
    assert timing.runs < MIN_RUNS or took > budget or not timing.warmup_stable


def test_a_fixed_warm_up_the_budget_cuts_short_is_a_budget_hit(clock: VirtualClock):
    """3 s runs, 10 warm-up runs asked, 45 s budget: the warm-up stops at its share of the
    budget (before: said unstable, and `budget_hit: false`)."""
    timing, took = _timed(clock, Slow(clock, 3.0), 45.0, warmup=10)
    assert timing.warmup_runs < 10 and not timing.warmup_stable
    assert timing.runs >= MIN_RUNS and took <= 45.0
    assert timing.budget_hit


def test_a_measurement_that_fits_its_budget_is_no_hit(clock: VirtualClock):
    timing, took = _timed(clock, Slow(clock, 0.01), 45.0, layers=True)
    assert not timing.budget_hit and timing.warmup_stable
    assert timing.runs >= MIN_RUNS and took < 45.0
    assert [layer.path for layer in timing.layers] == ["conv", "norm"]


# --- the calibration after the timing: `latency` on a device whose peaks are not cached --------

SAMPLES = (0.01, 0.011, 0.01, 0.012, 0.01)


def _uncalibrated(
    monkeypatch: pytest.MonkeyPatch, clock: VirtualClock, calibrate: object
) -> list[float]:
    """`latency` on a device with no cached peaks: its timing a quick fake (2 s on the virtual
    clock, within budget), its calibration ``calibrate(query)``; the `within` each call got."""
    asked: list[float] = []

    def timed(source: object, settings: LatencySettings, *args: object, **kw: object) -> Timing:
        clock.now += 2.0
        head = ("lenet5", "cpu", "Test CPU", 1, "float32", 1, False, torch.__version__)
        return Timing(*head, SAMPLES, warmup_runs=3, warmup_stable=True, budget_hit=False)

    def calibration(query: object, **kw: object) -> Calibration:
        asked.append(query.within)  # type: ignore[attr-defined]
        return calibrate(query)  # type: ignore[operator]

    monkeypatch.setattr(api_latency, "cached_peaks", lambda query, notes: None)
    monkeypatch.setattr(api_latency, "measure", timed)
    monkeypatch.setattr(api_latency, "calibration", calibration)
    return asked


def _profile(partial: str = "") -> Calibration:
    return Calibration(replace(api_latency.device_profile("amd-epyc-1t"), partial=partial))


def test_a_calibration_running_past_its_limit_is_a_budget_hit(monkeypatch, clock):
    """The issue's case: the timing ends within its share, the device calibration gets the
    rest, and one long native kernel (half precision on a CPU without its kernels) runs 15 s
    past the time limit before `OutOfTime` is raised: the command overran, and says so."""

    def overran(query: object) -> Calibration:
        clock.now += query.within + 15.0  # type: ignore[attr-defined]
        raise OutOfTime("the device microbenchmark took over its limit")

    asked = _uncalibrated(monkeypatch, clock, overran)
    settings = LatencySettings(budget=45.0)
    found = api_latency.measure_and_predict(api.request("lenet5"), settings, Deadline(45.0))
    assert asked and asked[0] <= 45.0 - 2.0
    assert found.timing.budget_hit and found.peaks is None and found.estimate is None


@pytest.mark.parametrize(("partial", "hit"), [("3 of 21 kernel networks timed", True), ("", False)])
def test_a_calibration_cut_short_is_a_budget_hit_one_within_it_is_not(
    monkeypatch, clock, partial: str, hit: bool
):
    def calibrated(query: object) -> Calibration:
        clock.now += 5.0
        return _profile(partial)

    _uncalibrated(monkeypatch, clock, calibrated)
    found = api_latency.measure_and_predict(api.request("lenet5"), LatencySettings(budget=45.0))
    assert found.peaks is not None and found.estimate is not None
    assert found.timing.budget_hit is hit


def test_latency_says_the_budget_was_reached_on_screen_and_in_json(monkeypatch, clock):
    def overran(query: object) -> Calibration:
        clock.now += query.within + 15.0  # type: ignore[attr-defined]
        raise OutOfTime("the device microbenchmark took over its limit")

    _uncalibrated(monkeypatch, clock, overran)
    shown = run("latency", "lenet5", "--budget", "45")
    assert shown.exit_code == 0, shown.output
    assert "budget" in shown.stdout and "the time budget stopped the runs early" in shown.stdout
    document = run("latency", "lenet5", "--budget", "45", "--format", "json")
    assert document.exit_code == 0, document.output
    assert json.loads(document.stdout)["budget_hit"] is True
