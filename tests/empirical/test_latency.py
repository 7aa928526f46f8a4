"""Latency: the measuring path on CPU (structure and sanity, never a wall-clock figure), device
peaks and their cache, the roofline (pure Python), and `cnnprof latency` / `cnnprof device`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from conftest import assert_error, run  # noqa: E402
from torch import nn  # noqa: E402

from cnnprof import api  # noqa: E402
from cnnprof.api.latency import measure as measure_request  # noqa: E402
from cnnprof.arch.model import Shape  # noqa: E402
from cnnprof.empirical import device as device_module  # noqa: E402
from cnnprof.empirical import latency as latency_module  # noqa: E402
from cnnprof.empirical import peaks as peaks_module  # noqa: E402
from cnnprof.empirical import probes  # noqa: E402
from cnnprof.empirical.dispatch import conv_backend, owner  # noqa: E402
from cnnprof.empirical.kernels import KernelPlan  # noqa: E402
from cnnprof.empirical.latency import measure  # noqa: E402
from cnnprof.errors import OptionError  # noqa: E402
from cnnprof.protocol import runs as protocol_runs  # noqa: E402
from cnnprof.report import latency as report_latency  # noqa: E402
from cnnprof.results import judge  # noqa: E402
from cnnprof.results.device import DeviceQuery  # noqa: E402
from cnnprof.results.latency import Measured  # noqa: E402
from cnnprof.results.timing import MIN_RUNS, LatencySettings  # noqa: E402

SMALL = "mobilenet@alpha=0.25,res=64"  # depthwise rows, residual-free, ~2.5 M MACs
QUICK = {"runs": 3, "warmup": 1}


TINY_PLAN = probes.Plan(
    matmul_sizes=(64,),
    ceiling_input=(1, 8, 8, 8),
    layout_input=(1, 8, 8),
    conv_input=(1, 8, 8),
    few_input=(1, 4, 4),
    copy_bytes=(2**12, 2**16),
    overhead_runs=5,
    conv_channels=(8, 16),
    layout_channels=(8, 16),
    fault_bytes=2**20,
)
TINY_KERNELS = KernelPlan(batches=(1,), networks=(1,), warmup=1, passes=2)


@pytest.fixture(autouse=True)
def tiny_peaks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Peaks cached under tmp_path and measured on tiny sizes, so no test waits for them. Each
    is taken as plausible: tiny sizes on a loaded machine can look implausible and be measured
    again, which would change the measurement counts these tests read (tests/results/
    test_plausible.py tests the judgement itself)."""
    monkeypatch.setenv("CNNPROF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(peaks_module, "PLANS", {"cpu": TINY_PLAN})
    monkeypatch.setattr(peaks_module, "KERNEL_PLANS", {"cpu": TINY_KERNELS})
    monkeypatch.setattr(peaks_module, "implausible", lambda measured: [])
    monkeypatch.setattr(judge, "refusals", lambda measured: [])  # tiny plans fit loosely
    return tmp_path / "cache"


# --- the measuring path ------------------------------------------------------------------------


def test_latency_structure_and_rows():
    before = torch.get_num_threads()
    request = api.request(SMALL)
    timing = measure_request(request, LatencySettings(threads=1, layers=True, **QUICK))
    assert torch.get_num_threads() == before, "thread count restored"
    assert timing.threads == 1
    assert timing.device == "cpu" and timing.device_name
    assert timing.dtype == "float32" and timing.batch == 1
    assert timing.torch_version == torch.__version__
    assert timing.runs == 3 and len(timing.samples) == 3
    assert all(s > 0 for s in timing.samples)
    assert timing.p10 <= timing.median <= timing.p90
    assert timing.iqr >= 0 and timing.cv >= 0
    assert timing.throughput == pytest.approx(1 / timing.median)
    profile = api.profile_analytic(request)
    assert timing.macs == profile.macs
    assert [layer.path for layer in timing.layers] == [row.path for row in profile.layers]
    assert all(layer.seconds >= 0 for layer in timing.layers)
    assert sum(layer.macs for layer in timing.layers) == profile.macs
    assert timing.layer_runs == timing.runs, "one hooked run after each whole-model run"
    counted = [layer.page_faults for layer in timing.layers if layer.page_faults is not None]
    assert all(f >= 0 for f in counted) and set(timing.row_faults()) <= set(timing.by_path())
    assert timing.hook_overhead >= 0
    assert timing.layer_ratio is not None and timing.layer_ratio > 0
    assert set(timing.by_path()) == {row.path for row in profile.layers}


def test_each_convolution_row_records_the_kernel_torch_ran():
    timing = measure_request(api.request(SMALL), LatencySettings(threads=1, **QUICK))
    profile = api.profile_analytic(api.request(SMALL))
    assert set(timing.kernel_map()) == {
        r.path for r in profile.layers if r.op in ("conv", "dwconv")
    }
    assert all(len(k) == 1 and k[0] for k in timing.kernel_map().values()), "one call each"
    assert timing.page_faults is None or timing.page_faults >= 0


def test_rows_own_the_convolutions_inside_them():
    assert owner("3.se.reduce", ["3", "3.se", "4"]) == "3.se"
    assert owner("3", ["3", "30"]) == "3"
    assert owner("30.conv", ["3"]) is None


def test_best_of_two_rounds_keeps_each_figure_at_its_best(tiny_peaks: Path):
    a = peaks_module.measure_peaks("cpu", "float32", 1, plan=replace(TINY_PLAN, rounds=1))
    r = a.roofs
    b = replace(
        a,
        roofs=replace(
            r,
            flops_per_s=2 * r.flops_per_s,
            op_overhead=tuple((k, v / 2) for k, v in r.op_overhead),
            bandwidth=tuple((n, rate / 2) for n, rate in r.bandwidth),
            fault_s=3 * r.fault_s,
        ),
    )
    merged = peaks_module.best(a, b).roofs
    assert merged.flops_per_s == b.roofs.flops_per_s and merged.op_overhead == b.roofs.op_overhead
    assert merged.bandwidth == r.bandwidth and merged.fault_s == r.fault_s


def test_each_row_owns_the_page_faults_between_its_start_and_the_next_boundary(
    monkeypatch: pytest.MonkeyPatch,
):
    faults = iter([100, 103, 103, 110, 111])  # root start, rows a, b, c, root end
    monkeypatch.setattr(latency_module, "minor_faults", lambda: next(faults))
    stamps = latency_module._Stamps(device_module.Clock())
    for path in (None, "a", "b", "c", ""):
        stamps.hook(path)()
    segments = stamps.segments()
    assert {p: f for p, (_, _, f) in segments.items()} == {"a": 3, "b": 7, "c": 1}
    assert {p: n for p, (_, n, _) in segments.items()} == {"a": 2, "b": 1, "c": 1}, "root → a"


def test_rows_without_a_fault_count_say_so(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(latency_module, "minor_faults", lambda: None)
    settings = LatencySettings(threads=1, layers=True, runs=2, warmup=1)
    timing = measure_request(api.request(SMALL), settings)
    assert timing.page_faults is None and timing.row_faults() == {}
    assert all(layer.page_faults is None for layer in timing.layers)


def test_faults_column_appears_where_a_row_took_some():
    timing = measure_request(api.request(SMALL), LatencySettings(threads=1, layers=True, **QUICK))
    layers = tuple(replace(layer, page_faults=float(i)) for i, layer in enumerate(timing.layers))
    faulting = replace(timing, layers=layers)
    quiet = replace(timing, layers=tuple(replace(lt, page_faults=0.0) for lt in layers))
    assert "faults" in report_latency.latency_markdown(Measured.alone(faulting))
    assert "faults" not in report_latency.latency_markdown(Measured.alone(quiet))


def test_hooked_runs_stop_at_their_cap_while_whole_model_runs_go_on(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(latency_module, "MAX_LAYER_RUNS", 2)
    settings = LatencySettings(threads=1, layers=True, runs=5, warmup=1)
    timing = measure_request(api.request(SMALL), settings)
    assert timing.runs == 5 and timing.layer_runs == 2
    assert all(layer.seconds >= 0 for layer in timing.layers)


def test_convolution_curves_are_timed_in_rotation():
    plan = replace(TINY_PLAN, curve_rotations=3)
    order: list[int] = []

    class Recording(device_module.Clock):
        def time(self, fn):  # type: ignore[no-untyped-def]
            order.append(fn.func.in_channels)
            return super().time(fn)

    beyond = probes._Beyond({"conv": 1e-6})
    with torch.inference_mode():
        curve = probes._conv_curve(
            Recording(), torch.device("cpu"), torch.float32, beyond, 1, (1, 6, 6), plan
        )
    assert order == list(plan.conv_channels) * 3, "each size after the next smaller"
    assert [f for f, _ in curve] == sorted(f for f, _ in curve) and all(r > 0 for _, r in curve)


def test_min_time_takes_at_least_min_runs_and_batch_scales_throughput():
    request = api.request("lenet5", batch=2)
    timing = measure_request(request, LatencySettings(min_time=1e-6, warmup=0))
    assert timing.runs >= MIN_RUNS
    assert timing.warmup_runs == 2  # the first run and the one that records kernels: discarded
    assert timing.throughput == pytest.approx(2 / timing.median)
    assert not timing.layers and timing.layer_ratio is None


def test_auto_warmup_is_bounded_by_the_budget(monkeypatch: pytest.MonkeyPatch):
    """On a clock where every reading is 10 ms later, a 0.2 s budget allows about 20 readings:
    warm-up stops at its share of the budget (unsettled: the medians never get a chance to
    agree) and the timed runs stop at the budget, far short of the default second of runs."""
    now = iter(range(10**6))
    monkeypatch.setattr(protocol_runs.time, "perf_counter", lambda: next(now) * 0.01)
    timing = measure_request(api.request("lenet5"), LatencySettings(budget=0.2))
    assert timing.budget_hit and not timing.warmup_stable
    window = protocol_runs.MAX_WINDOW  # a warm-up window's runs at most
    assert timing.warmup_runs <= 1 + window, "warm-up overran its share of the budget"
    assert 1 <= timing.runs <= 20, "timed runs overran the budget"


def test_bfloat16_channels_last_on_an_outside_module_leaves_it_untouched():
    module = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    request = api.request(module, input=(3, 16, 16), dtype="bfloat16")
    timing = measure_request(request, LatencySettings(channels_last=True, layers=True, **QUICK))
    assert timing.dtype == "bfloat16" and timing.channels_last
    assert next(module.parameters()).dtype == torch.float32, "the caller's module was copied"
    assert [layer.path for layer in timing.layers] == ["0", "1", "2", "3"]


def test_measure_without_rows():
    module = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    timing = measure(module, Shape(4, 1, 1), settings=LatencySettings(**QUICK))
    assert timing.model == "Sequential" and timing.runs == 3 and timing.layers == ()


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_cuda_absent_is_an_option_error():
    with pytest.raises(OptionError, match="CUDA is not available"):
        measure_request(api.request("lenet5"), LatencySettings(device="cuda"))


def test_a_dtype_the_device_cannot_run_is_an_option_error(monkeypatch: pytest.MonkeyPatch):
    def missing(*args: object, **kwargs: object) -> None:
        raise RuntimeError("\"addmm_impl_cpu_\" not implemented for 'Half'")

    monkeypatch.setattr(device_module.torch, "matmul", missing)
    with pytest.raises(OptionError, match="--dtype float16: not supported on cpu"):
        measure_request(api.request("lenet5", dtype="float16"), LatencySettings(**QUICK))


# --- device peaks and their cache ---------------------------------------------------------------


def test_peaks_cache_round_trip(tiny_peaks: Path, monkeypatch: pytest.MonkeyPatch):
    first = peaks_module.peaks(DeviceQuery("cpu", "float32", 1))
    files = list((tiny_peaks / "peaks").glob("*.json"))
    assert len(files) == 1 and "__1t__float32" in files[0].name
    assert first.threads == 1 and first.roofs.flops_per_s > 0
    assert [n for n, _ in first.roofs.bandwidth] == [2 * 2**12, 2 * 2**16]
    assert {k for k, _ in first.roofs.op_overhead} >= {"conv", "norm", "act", "add"}
    overhead = dict(first.roofs.op_overhead)
    tiny = nn.Conv2d(2, 2, 3, padding=1, groups=2)
    assert f"conv/{conv_backend(tiny, torch.ones(1, 2, 4, 4))}" in overhead, "per kernel"
    assert (
        first.roofs.fault_s > 0 and len(first.roofs.conv_curve) == len(first.roofs.kxk_curve) == 2
    )
    assert all(
        0 < rate <= first.roofs.flops_per_s
        for _, rate in first.roofs.conv_curve + first.roofs.kxk_curve
    )

    calls = []
    real = peaks_module.measure_peaks
    monkeypatch.setattr(
        peaks_module, "measure_peaks", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    assert peaks_module.peaks(DeviceQuery("cpu", "float32", 1)) == first, "read back from the cache"
    assert calls == []
    peaks_module.peaks(DeviceQuery("cpu", "float32", 1, refresh=True))
    assert calls == [1]
    files[0].write_text("{not json", encoding="utf-8")
    notes: list[str] = []
    peaks_module.peaks(DeviceQuery("cpu", "float32", 1), notes=notes)
    assert calls == [1, 1], "an unreadable cache file is measured again"
    assert "cached device peaks not used" in notes[0]
    two = peaks_module.peaks(DeviceQuery("cpu", "float32", 2))
    assert two.threads == 2, "threads are part of the key"
    assert len(list((tiny_peaks / "peaks").glob("*.json"))) == 2


# --- the command line ---------------------------------------------------------------------------


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def test_cli_latency_table_with_layers():
    out = ok("latency", SMALL, "--runs", "3", "--warmup", "1", "--layers", "--threads", "1")
    assert SMALL in out and "1 thread" in out  # titled as written (issue 25)
    assert "median" in out and "per-layer sum" in out and "roofline" in out
    assert "7.4.pw" in out and "memory" in out


def test_cli_latency_json_csv_md(tmp_path: Path):
    data = json.loads(ok("latency", "lenet5", "--runs", "3", "--layers", "-f", "json"))
    assert data["schema"] == "cnnprof.latency/2"
    assert data["runs"] == 3 and len(data["samples_s"]) == 3
    assert data["p10_s"] <= data["median_s"] <= data["p90_s"]
    assert data["threads"] >= 1 and data["roofline_s"] > 0
    assert [row["path"] for row in data["layers"]] == [
        "C1",
        "S2",
        "C3",
        "S4",
        "C5",
        "flat",
        "F6",
        "output",
    ]
    assert {
        "measured_s",
        "time_share",
        "mac_share",
        "gmacs_per_s",
        "bytes_moved",
        "intensity",
        "roofline_s",
        "bound",
    } <= set(data["layers"][0])
    csv_text = ok("latency", "lenet5", "--runs", "3", "-f", "csv")
    assert csv_text.splitlines()[0].startswith("model,device,device_name,threads")
    md = ok("latency", "lenet5", "--runs", "3", "--layers", "-f", "md")
    assert "| median |" in md and "| C1 | conv |" in md
    out = tmp_path / "lat.json"
    ok("latency", "lenet5", "--runs", "2", "-f", "json", "-o", str(out))
    assert json.loads(out.read_text())["model"] == "lenet5"


def test_cli_device_and_refresh(tiny_peaks: Path, monkeypatch: pytest.MonkeyPatch):
    """The first `device` measures and caches; a second reads the cache without measuring;
    --refresh measures again and replaces it."""
    calls = []
    real = peaks_module.measure_peaks
    monkeypatch.setattr(
        peaks_module, "measure_peaks", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    out = ok("device", "--threads", "1")
    assert "peak compute" in out and "GFLOP/s" in out and "tiny conv" in out
    cached = list((tiny_peaks / "peaks").glob("*__1t__float32.json"))
    assert len(cached) == 1 and calls == [1]
    first = json.loads(cached[0].read_text())
    assert json.loads(ok("device", "--threads", "1", "-f", "json")) == first, "from the cache"
    assert calls == [1], "a cached device is not measured again"
    data = json.loads(ok("device", "--threads", "1", "--refresh", "-f", "json"))
    assert calls == [1, 1], "--refresh measures"
    assert data["schema"] == "cnnprof.device/1" and data["threads"] == 1
    assert json.loads(cached[0].read_text()) == data, "and replaces the cached figures"
    assert "overhead conv" in ok("device", "--threads", "1", "-f", "csv")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--runs", "0"), "--runs 0"),
        (("--min-time", "-1"), "--min-time -1"),
        (("--runs", "2", "--min-time", "1"), "alternatives"),
        (("--dtype", "int8"), "--dtype int8"),
        (("--device", "tpu"), "'tpu' is not one of 'cpu', 'cuda', 'mps'"),
        (("--warmup", "soon"), "--warmup soon"),
        (("--batch", "0"), "--batch 0"),
        (("--plot", "chart.jpg"), ".png, .svg or .pdf"),
    ],
)
def test_cli_latency_errors(args: tuple[str, ...], fragment: str):
    assert_error(run("latency", "lenet5", *args), fragment)


def test_cli_unknown_model_is_one_line():
    assert_error(run("latency", "mobilenet_v9", "--runs", "1"), "unknown model")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_cli_cuda_absent():
    assert_error(run("latency", "lenet5", "--device", "cuda"), "--device cuda", "use --device cpu")
    assert_error(run("device", "--device", "cuda"), "CUDA is not available")


def test_cli_unsupported_dtype(monkeypatch: pytest.MonkeyPatch):
    def missing(*args: object, **kwargs: object) -> None:
        raise RuntimeError("\"slow_conv2d_cpu\" not implemented for 'Half'")

    monkeypatch.setattr(device_module.F, "conv2d", missing)
    assert_error(run("latency", "lenet5", "--dtype", "float16"), "--dtype float16", "cpu")


def test_cli_plot_without_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert_error(run("latency", "lenet5", "--plot", str(tmp_path / "r.png")), "matplotlib")


def test_cli_plot_writes_a_chart(tmp_path: Path):
    pytest.importorskip("matplotlib")
    chart = tmp_path / "roofline.svg"
    ok("latency", SMALL, "--runs", "2", "--warmup", "1", "--plot", str(chart))
    assert chart.read_text().lstrip().startswith("<?xml")


# --- the allocator regime and the kernel predictor beside a measurement ---------------------------

GLIBC = sys.platform == "linux" and __import__("platform").libc_ver()[0] == "glibc"


def test_an_unknown_allocator_regime_is_refused():
    with pytest.raises(OptionError, match="--allocator heap: expected one of steady, release"):
        LatencySettings(allocator="heap")
    assert_error(run("latency", "lenet5", "--allocator", "heap"), "--allocator")


@pytest.mark.skipif(not GLIBC, reason="the regime is set through glibc's mallopt")
@pytest.mark.slow
def test_the_release_regime_takes_fresh_pages_every_run_and_steady_does_not(tiny_peaks: Path):
    """Activations over 128 KiB (MobileNet at α 0.25: 8×112×112 floats, 392 KiB) come fresh
    from the system on every pass in the release regime; steady keeps them after warm-up. Each
    in a fresh process, as `cnnprof latency` runs (a heap grown earlier serves blocks itself)."""

    def faults(regime: str) -> tuple[float, str]:
        args = [
            "latency",
            "mobilenet@alpha=0.25",
            "--runs",
            "5",
            "--warmup",
            "3",
            "--allocator",
            regime,
            "--budget",
            "5",
            "-f",
            "json",
        ]
        env = {**os.environ, "CNNPROF_CACHE_DIR": str(tiny_peaks)}
        proc = subprocess.run(
            [sys.executable, "-m", "cnnprof", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        return data["page_faults"], data["allocator"]

    (steady, said_steady), (release, said_release) = faults("steady"), faults("release")
    assert said_steady.startswith("steady: ") and said_release.startswith("release: ")
    assert release > 10 * (steady + 1), (release, steady)


def test_latency_shows_the_kernel_models_beside_the_roofline():
    data = json.loads(ok("latency", "lenet5", "--runs", "3", "--layers", "-f", "json"))
    assert data["allocator"].split(":")[0] in ("steady", "steady not set")
    assert data["predicted_s"] > 0
    assert data["predicted_ratio"] == pytest.approx(data["predicted_s"] / data["median_s"])
    per_row = [row["predicted_s"] for row in data["layers"]]
    assert all(s is not None and s > 0 for s in per_row)
    assert sum(per_row) == pytest.approx(data["predicted_s"])
    table = ok("latency", "lenet5", "--runs", "3", "--layers")
    assert "kernel models" in table and "allocator" in table
    said = "predicted ms: the kernel models' prediction · roofline ms: the roofline's estimate"
    assert said in " ".join(table.split())


def test_device_saves_a_profile_that_predicts_without_measuring(tmp_path: Path):
    saved = tmp_path / "here.json"
    ok("device", "--threads", "1", "--save", str(saved))
    record = json.loads(saved.read_text())
    assert record["schema"] == "cnnprof.device/1" and record["threads"] == 1
    assert {k["kind"] for k in record["kernels"]} >= {"conv", "norm", "act"}
    assert record["allocator"].startswith("steady")
    data = json.loads(ok("latency", "lenet5", "--device-profile", str(saved), "-f", "json"))
    assert data["schema"] == "cnnprof.prediction/2" and data["predicted_s"] > 0
    assert_error(run("device", "--threads", "1", "--save", str(saved)), "--save", "--force")


@pytest.mark.parametrize("kind", ["cpu", "cuda", "mps"])
@pytest.mark.slow
def test_every_calibration_plan_draws_networks_that_build(kind: str):
    """The synthetic networks of each device kind's plan, and of its --thorough one, build (on
    meta: nothing allocated): every grouped convolution's groups divide both channel counts."""
    from cnnprof.empirical import kernels

    for plan in (kernels.KERNEL_PLANS[kind], kernels.more_samples(kernels.KERNEL_PLANS[kind])):
        nets = kernels._networks(plan, torch.device("meta"), torch.float32)
        assert len(nets) == sum(plan.networks)
        convs = [
            op.call
            for net in nets
            for op in net.ops
            if op.call and op.call.kind in ("conv", "pointwise")
        ]
        # building is the check (nn.Conv2d refuses groups that do not divide the channels);
        # and grouped convolutions are among what was built
        assert any(c.x[6] > 1 for c in convs)
