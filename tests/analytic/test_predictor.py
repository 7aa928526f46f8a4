"""The kernel predictor (`cnnprof.analytic.predictor`): the fit, a row's kernels, a prediction,
and device profiles carried to a machine without torch."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_error, run

from cnnprof.analytic import layers as fm
from cnnprof.analytic.elementwise import identity
from cnnprof.analytic.predictor import Call, calls, fit, kernel_seconds, line_seconds, predict
from cnnprof.api import latency as api
from cnnprof.api.request import request
from cnnprof.arch.model import Shape
from cnnprof.errors import OptionError
from cnnprof.results.device import KernelModel, Peaks, Roofs
from cnnprof.results.profile import LayerCost, Profile
from cnnprof.results.validate import unusable

# --- the fit -------------------------------------------------------------------------------------


def _conv_sample(rng: random.Random) -> tuple[float, ...]:
    return (
        1,
        rng.choice((8, 16, 64, 256)),
        rng.choice((16, 64, 256)),
        rng.choice((49, 784, 3136)),
        rng.choice((1, 9)),
        1,
        1,
        8,
    )


def _law(x: tuple[float, ...]) -> float:
    """A made-up device: 20 µs a launch, 10 GMAC/s, 2 G elements/s read and written."""
    batch, per_group, out, pixels, kernel, _stride, groups, _lanes = x
    macs = batch * pixels * out * per_group * kernel
    moved = batch * pixels * (per_group * groups + out)
    return 20e-6 + macs / 10e9 + moved / 2e9


def test_a_line_law_is_recovered_exactly():
    rng = random.Random(1)
    samples = [(x, _law(x)) for x in (_conv_sample(rng) for _ in range(40))]
    model = fit("conv", samples)
    assert all(c >= 0 for c in model.coefficients)
    assert model.coefficients[0] == pytest.approx(20e-6, rel=1e-6)
    assert model.coefficients[1] == pytest.approx(1e-10, rel=1e-6)
    fresh = (1, 32, 128, 196, 9, 1, 1, 8)  # not among the samples
    assert kernel_seconds(model, fresh) == pytest.approx(_law(fresh), rel=1e-6)
    assert model.loo_error < 1e-6


def test_the_nearest_samples_carry_what_a_line_cannot():
    """A device that runs 1×1 convolutions twice as slowly as the law: no line over the work
    terms separates them from 3×3 ones, the nearest samples' residuals do."""
    rng = random.Random(2)
    xs = [_conv_sample(rng) for _ in range(80)]
    samples = [(x, _law(x) * (2.0 if x[4] == 1 else 1.0)) for x in xs]
    model = fit("conv", samples)
    bare = KernelModel("conv", model.coefficients, model.scale, ())
    one, three = (1, 64, 64, 784, 1, 1, 1, 8), (1, 64, 64, 784, 9, 1, 1, 8)
    for x, slower in ((one, 2.0), (three, 1.0)):
        truth = _law(x) * slower
        assert kernel_seconds(model, x) == pytest.approx(truth, rel=0.05)
    line_error = max(
        abs(line_seconds(bare, x) / (_law(x) * s) - 1) for x, s in ((one, 2), (three, 1))
    )
    assert line_error > 0.2, "the line alone misses one of them"


def test_a_negative_term_is_dropped_not_kept():
    """Times that fall with size on one term: its coefficient would be negative; it is dropped
    and the rest fitted again, so no configuration is predicted below zero."""
    samples = [((float(e),), 1e-5 + 1e-9 * e) for e in (1e3, 1e4, 1e5, 1e6)]
    model = fit("norm", samples)
    assert all(c >= 0 for c in model.coefficients)
    assert kernel_seconds(model, (1e7,)) > 0


def test_fit_refuses_an_unknown_kind_and_no_samples():
    with pytest.raises(ValueError, match="no kernel kind"):
        fit("warp", [((1.0,), 1.0)])
    with pytest.raises(ValueError, match="no samples"):
        fit("norm", [])


# --- a row's kernels -----------------------------------------------------------------------------


def test_a_conv_unit_runs_a_convolution_then_its_norm_and_activation():
    # MobileNet's 1×1 "pw" at 112×112: 32 → 64, BatchNorm, ReLU (Howard et al. 2017, Table 1)
    row = fm.conv2d("1.pw", Shape(32, 112, 112), out=64, k=1, norm="bn", act="relu")
    assert calls(row, batch=2) == (
        Call("pointwise", (2, 32, 64, 112 * 112, 1, 1, 1, 32)),  # 32 channels: whole vectors
        Call("norm", (2 * 64 * 112 * 112,)),
        Call("act", (2 * 64 * 112 * 112, 1.0)),  # ReLU: one FLOP per element
    )


def test_depthwise_strided_and_grouped_convolutions_are_told_apart():
    dw = fm.conv2d("dw", Shape(64, 112, 112), out=64, k=3, s=2, p=1, groups=64)
    assert calls(dw, 1)[0] == Call("dwconv", (1, 64, 56 * 56, 9, 2, 64))
    grouped = fm.conv2d("g", Shape(128, 28, 28), out=128, k=3, p=1, groups=32)
    assert calls(grouped, 1)[0] == Call("conv", (1, 4, 128, 28 * 28, 9, 1, 32, 4))


def test_a_matrix_product_a_pool_and_squeeze_excite():
    fc = fm.linear("fc", Shape(1024, 1, 1), out=1000)
    assert calls(fc, 8) == (Call("linear", (8, 1024, 1000)),)
    pool = fm.pool2d("pool", "maxpool", Shape(64, 112, 112), k=3, s=2, p=1)
    assert calls(pool, 1) == (Call("maxpool", (64, 112 * 112, 56 * 56, 9)),)
    se = fm.squeeze_excite("se", Shape(96, 14, 14), squeeze=24, act="relu", gate="hsigmoid")
    found = calls(se, 1)
    # pool, squeeze (96 → 24), its ReLU, excite (24 → 96), the hard-sigmoid gate, the scale
    assert [c.kind for c in found] == ["avgpool", "pointwise", "act", "pointwise", "act", "add"]
    assert found[1].x == (1, 96, 24, 1, 1, 1, 1, 8) and found[3].x == (1, 24, 96, 1, 1, 1, 1, 8)
    assert found[2].x[0] == 24 and found[4].x[0] == 96


def test_rows_no_model_covers_go_to_the_roofline():
    lrn = LayerCost(
        "lrn", "lrn", Shape(96, 55, 55), Shape(96, 55, 55), flops_by_category={"lrn": 10}
    )
    assert calls(lrn, 1) is None
    dropout = identity("drop", "dropout", Shape(8, 4, 4))
    assert calls(dropout, 1) == ()


# --- a prediction --------------------------------------------------------------------------------

CURVE = ((1_000, 1e10), (1_000_000, 2e10))
ROOFS = Roofs(
    flops_per_s=1e11,
    conv_curve=CURVE,
    kxk_curve=CURVE,
    conv_curve_few=CURVE,
    kxk_curve_few=CURVE,
    bandwidth=CURVE,
    curve_pixels=784,
    few_pixels=49,
    op_overhead=(("conv", 1e-5), ("norm", 1e-6), ("act", 1e-6), ("pool", 1e-6)),
)


def _model(kind: str, coefficients: tuple[float, ...]) -> KernelModel:
    """A model that is its line: one sample, no residual."""
    width = {"conv": 8, "norm": 1, "act": 2}[kind]
    return KernelModel(kind, coefficients, (1.0,) * width, (((0.0,) * width, 0.0),))


def _device(**changes: object) -> Peaks:
    base = dict(
        device="cpu",
        device_name="Test CPU",
        torch_version="2.13.0",
        threads=2,
        dtype="float32",
        measured_at="2026-11-29T00:00:00+00:00",
        roofs=ROOFS,
        module_s=2e-6,
        kernels=(
            _model("conv", (10e-6, 1e-10, 0.0, 0.0, 0.0)),
            _model("norm", (3e-6, 1e-10)),
            _model("act", (2e-6, 1e-10, 0.0)),
        ),
    )
    return Peaks(**{**base, **changes})


def test_a_prediction_is_the_sum_of_its_kernels_and_says_what_went_to_the_roofline():
    conv = fm.conv2d("conv", Shape(3, 32, 32), out=16, k=3, p=1, norm="bn", act="relu")
    lrn = LayerCost(
        "lrn", "lrn", Shape(16, 32, 32), Shape(16, 32, 32), flops_by_category={"lrn": 10}
    )
    drop = identity("drop", "dropout", Shape(16, 32, 32))
    profile = Profile("tiny", "analytic", Shape(3, 32, 32), (conv, lrn, drop))
    found = predict(profile, _device())
    macs, elements = 16 * 32 * 32 * 3 * 9, 16 * 32 * 32  # hand-derived: 442,368 and 16,384
    kernels = (10e-6 + macs * 1e-10) + (3e-6 + elements * 1e-10) + (2e-6 + elements * 1e-10)
    conv_s = kernels + 2e-6  # and the unit's own module call around its three kernels
    rows = found.by_path()
    assert rows["conv"] == pytest.approx(conv_s)
    assert rows["drop"] == pytest.approx(2e-6), "a module call that does no arithmetic"
    assert found.on_roofline == ("lrn",)
    assert found.seconds == pytest.approx(sum(rows.values()))


def test_a_kind_without_a_model_goes_to_the_roofline():
    conv = fm.conv2d("conv", Shape(3, 32, 32), out=16, k=3, p=1, norm="bn", act="relu")
    profile = Profile("tiny", "analytic", Shape(3, 32, 32), (conv,))
    without_norm = _device(kernels=_device().kernels[::2])
    assert predict(profile, without_norm).on_roofline == ("conv",)


# --- device profiles -----------------------------------------------------------------------------


def _saved(tmp_path: Path, record: Peaks) -> Path:
    path = tmp_path / "device.json"
    path.write_text(json.dumps(record.to_dict()), encoding="utf-8")
    return path


def test_a_device_profile_round_trips_and_predicts_the_same(tmp_path: Path):
    record = _device()
    assert Peaks.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    assert unusable(record) is None
    loaded = api.device_profile(str(_saved(tmp_path, record)))
    here = api.predict_on(request("mobilenet"), record)
    there = api.predict_on(request("mobilenet"), loaded)
    assert here.kernels.seconds == there.kernels.seconds > 0


def test_a_bad_device_profile_is_refused_in_one_line(tmp_path: Path):
    with pytest.raises(OptionError, match="no such file, nor a shipped profile"):
        api.device_profile(str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(OptionError, match="not a usable device profile"):
        api.device_profile(str(broken))
    with pytest.raises(OptionError, match="holds no kernel models"):
        api.device_profile(str(_saved(tmp_path, _device(kernels=()))))
    negative = _device(kernels=(_model("norm", (-1.0, 1e-10)),))
    with pytest.raises(OptionError, match="coefficients are not finite and non-negative"):
        api.device_profile(str(_saved(tmp_path, negative)))


def test_cli_predicts_for_a_device_profile_in_every_format(tmp_path: Path):
    path = str(_saved(tmp_path, _device()))
    table = run("latency", "mobilenet", "--device-profile", path, "--layers")
    assert table.exit_code == 0, table.stderr
    assert "predicted for Test CPU" in table.stdout and "1.pw" in table.stdout
    data = json.loads(run("latency", "mobilenet", "--device-profile", path, "-f", "json").stdout)
    assert data["schema"] == "cnnprof.prediction/2" and data["predicted_s"] > 0
    expected = api.predict_on(request("mobilenet"), _device()).kernels.seconds
    assert data["predicted_s"] == pytest.approx(expected)
    csv = run("latency", "mobilenet", "--device-profile", path, "-f", "csv", "--layers").stdout
    header = "path,op,predicted_s,time_share,kernel_calls,on_roofline,roofline_s,bound"
    assert csv.splitlines()[0] == header
    md = run("latency", "mobilenet", "--device-profile", path, "-f", "md").stdout
    assert "| predicted |" in md


@pytest.mark.parametrize(
    "extra",
    [
        ["--runs", "3"],
        ["--threads", "1"],
        ["--allocator", "release"],
        ["--budget", "5"],
        ["--warmup", "2"],
        ["--channels-last"],
    ],
)
def test_cli_refuses_measuring_options_with_a_device_profile(tmp_path: Path, extra: list[str]):
    path = str(_saved(tmp_path, _device()))
    assert_error(run("latency", "mobilenet", "--device-profile", path, *extra), extra[0])


def test_cli_refuses_a_dtype_the_profile_was_not_calibrated_in(tmp_path: Path):
    path = str(_saved(tmp_path, _device()))
    result = run("latency", "mobilenet", "--device-profile", path, "--dtype", "bfloat16")
    assert_error(result, "calibrated in float32")


@pytest.mark.slow
def test_prediction_for_a_device_profile_needs_no_torch(tmp_path: Path):
    """The same figure with torch absent (a stub that refuses the import) as with it present."""
    path = _saved(tmp_path, _device())
    stub = tmp_path / "stub" / "torch"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('no torch here')\n", encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(stub.parent), os.environ.get("PYTHONPATH")) if p
        ),
    }
    args = ["-m", "cnnprof", "latency", "resnet50", "--device-profile", str(path), "-f", "json"]
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    with_torch = api.predict_on(request("resnet50"), _device()).kernels.seconds
    assert json.loads(proc.stdout)["predicted_s"] == pytest.approx(with_torch, rel=1e-12)
    assert math.isfinite(with_torch)


def test_each_kinds_line_has_the_terms_a_profile_is_checked_against():
    """`results.device.KERNEL_TERMS` (what a saved profile is validated against) matches the
    predictor's term functions, so a profile that passes the check never fails to predict."""
    from cnnprof.analytic.predictor import TERMS
    from cnnprof.results.device import KERNEL_FEATURES, KERNEL_TERMS

    for kind, terms in TERMS.items():
        x = (2.0,) * len(KERNEL_FEATURES[kind])
        assert len(terms(x)) == KERNEL_TERMS[kind], kind
    assert set(TERMS) == set(KERNEL_TERMS) == set(KERNEL_FEATURES)


def test_a_profile_with_a_coefficient_missing_is_refused_in_one_line(tmp_path: Path):
    short = _device(kernels=(_model("norm", (3e-6,)),))
    with pytest.raises(OptionError, match="holds 1 coefficients, not 2"):
        api.device_profile(str(_saved(tmp_path, short)))


def test_a_1d_or_3d_kernel_goes_to_the_roofline_not_a_2d_model():
    conv3d = LayerCost(
        "c3",
        "conv",
        Shape(8, 16, 16),
        Shape(8, 16, 16),
        kernel=(3, 3, 3),
        weight_params=8 * 8 * 27,
        macs=8 * 8 * 27 * 16 * 16 * 16,
    )
    conv1d = LayerCost(
        "c1",
        "conv",
        Shape(8, 64, 1),
        Shape(8, 64, 1),
        kernel=(3,),
        weight_params=8 * 8 * 3,
        macs=8 * 8 * 3 * 64,
    )
    assert calls(conv3d, 1) is None and calls(conv1d, 1) is None
