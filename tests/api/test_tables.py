"""compare, separable, sweep: the papers' comparison tables, and variant references."""

from __future__ import annotations

import builtins
import itertools
import json

import pytest
from typer.testing import CliRunner

import cnnprof
from cnnprof.api.tables import compare, mnas_objective, sweep_settings
from cnnprof.arch.reference import split_reference
from cnnprof.cli import app
from cnnprof.errors import OptionError
from cnnprof.report.tables import present
from cnnprof.report.view import View
from cnnprof.results.metrics import pareto_front
from cnnprof.results.tables import SeparableRow

runner = CliRunner()


def run_json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- variant references ----------------------------------------------------------------------


def test_variant_reference_syntax():
    assert split_reference("mobilenet@alpha=0.5,res=160") == (
        "mobilenet",
        {"alpha": 0.5, "resolution": 160},
    )
    assert split_reference("resnet50@separable")[1] == {"transforms": ("separable",)}
    assert split_reference("torchvision:resnet18@res=160") == (
        "torchvision:resnet18",
        {"resolution": 160},
    )
    # MobileNet paper, Table 9: 0.50 MobileNet-160, 76 M mult-adds (76.5 M truncated).
    assert cnnprof.count("mobilenet@alpha=0.5,res=160").macs == pytest.approx(76e6, rel=0.01)


@pytest.mark.parametrize("ref", ["mobilenet@alpah=0.5", "mobilenet@alpha=x", "mobilenet@res"])
def test_variant_reference_errors_name_the_bad_key(ref):
    result = runner.invoke(app, ["count", ref])
    assert result.exit_code == 2
    key = ref.split("@")[1].split("=")[0]
    assert key in result.stderr and len(result.stderr.strip().splitlines()) == 1


# --- separable -------------------------------------------------------------------------------


def test_one_layer_table_3():
    # MobileNet paper, Table 3: 14×14×512 input, 3×3×512×512 kernel.
    row = SeparableRow("layer", "standard", 512, 512, 3, 14, 14)
    assert row.standard_macs == pytest.approx(462e6, rel=0.002)
    assert row.standard_params == pytest.approx(2.36e6, rel=0.002)
    assert row.separable_macs == pytest.approx(52.3e6, rel=0.002)
    assert row.separable_params == pytest.approx(0.27e6, rel=0.02)
    assert row.ratio == pytest.approx(row.paper_ratio)  # 1/N + 1/D_K², Sec. 3.1


def test_one_layer_table_3_from_a_spec(tmp_path):
    spec = tmp_path / "layer.yaml"
    spec.write_text(
        "family: one\npaper: test\ninput: [512, 14, 14]\ndefaults: {norm: none, act: none}\n"
        "layers:\n  - {op: conv, out: 512, k: 3, bias: false}\n"
    )
    data = run_json("separable", str(spec))
    layer = data["layers"][0]
    assert (layer["standard_macs"], layer["separable_macs"]) == (462422016, 52283392)
    assert data["separable"]["macs"] == 52283392  # the rewritten twin equals the per-layer what-if


def test_separable_mobilenet_table_4():
    data = run_json("separable", "mobilenet")
    # MobileNet paper, Table 4: MobileNet 569 M / 4.2 M; Conv MobileNet 4866 M / 29.3 M.
    assert data["written"]["macs"] == pytest.approx(569e6, rel=0.01)
    assert data["written"]["weight_params"] == pytest.approx(4.2e6, abs=0.05e6)
    assert data["standard"]["macs"] == pytest.approx(4866e6, rel=0.01)
    assert data["standard"]["weight_params"] == pytest.approx(29.3e6, abs=0.05e6)
    assert all(row["written"] == "separable" for row in data["layers"][1:])


@pytest.mark.torch
def test_separable_twin_counts_agree_empirically():
    result = runner.invoke(app, ["count", "resnet18@separable", "--empirical", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["agree"] is True


@pytest.mark.parametrize("fmt", ["table", "md", "csv"])
def test_separable_formats(fmt):
    result = runner.invoke(app, ["separable", "mobilenet", "--layers", "--format", fmt])
    assert result.exit_code == 0, result.output
    assert "standard" in result.stdout


# --- sweep -----------------------------------------------------------------------------------

TABLES_6_7 = [  # MobileNet paper: (alpha, resolution, million MACs, million params, top-1)
    (1.0, 224, 569, 4.2, 70.6),  # Table 6 and 7
    (0.75, 224, 325, 2.6, 68.4),  # Table 6
    (0.5, 224, 149, 1.3, 63.7),  # Table 6
    (0.25, 224, 41, 0.5, 50.6),  # Table 6
    (1.0, 192, 418, 4.2, 69.1),  # Table 7
    (1.0, 160, 290, 4.2, 67.2),  # Table 7
    (1.0, 128, 186, 4.2, 64.4),  # Table 7
]


def test_sweep_contains_tables_6_and_7():
    args = ["sweep", "mobilenet", "--alpha", "1,0.75,0.5,0.25", "--resolution", "224,192,160,128"]
    text = runner.invoke(app, args).stdout
    points = {(p["alpha"], p["resolution"]): p for p in run_json(*args)["points"]}
    assert len(points) == 16
    for alpha, res, macs, params, top1 in TABLES_6_7:
        point = points[(alpha, res)]
        assert point["macs"] == pytest.approx(macs * 1e6, rel=0.01)
        assert round(point["weight_params"] / 1e6, 1) == pytest.approx(params, abs=0.05)
        assert point["top1"] == top1
        for figure in (f"{macs} M", f"{params:g} M", f"{top1:g}"):
            assert figure in text


def test_sweep_phi_shows_official_b0_to_b7():
    points = run_json("sweep", "efficientnet_b0", "--phi", "0..7")["points"]
    assert [p["official"] for p in points] == [f"efficientnet_b{i}" for i in range(8)]
    assert points[0]["macs"] == points[0]["official_macs"]  # φ = 0 is B0 itself
    # Tan & Le 2019, Sec. 3.3: each φ roughly doubles MACs (α·β²·γ² ≈ 2).
    for before, after in itertools.pairwise(points):
        assert 1.6 < after["macs"] / before["macs"] < 2.6


def test_sweep_pareto_marks_non_dominated():
    points = run_json(
        "sweep", "mobilenet", "--alpha", "1,0.75,0.5,0.25", "--resolution", "224,160", "--pareto"
    )["points"]
    marked = {(p["alpha"], p["resolution"]) for p in points if p["pareto"]}
    assert (0.5, 160) in marked and (1.0, 224) in marked
    assert (0.75, 160) not in marked  # the paper prints no accuracy for it


def test_pareto_front_and_mnas_objective():
    assert pareto_front([(1, 1), (2, 2), (2, 1), (3, 1.5)]) == [True, True, False, False]
    # MnasNet (Tan et al. 2019, Eq. 2): at the target latency the reward is the accuracy.
    assert mnas_objective(75.2, 80, 80) == pytest.approx(75.2)
    assert mnas_objective(75.2, 160, 80) == pytest.approx(75.2 * 2**-0.07)


@pytest.mark.parametrize("fmt", ["table", "md", "csv"])
def test_sweep_formats(fmt):
    args = ["sweep", "mobilenet", "--alpha", "1,0.5", "--resolution", "224,160"]
    result = runner.invoke(app, [*args, "--format", fmt])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "args",
    [
        ["sweep", "mobilenet"],
        ["sweep", "mobilenet", "--alpha", "1,x"],
        ["sweep", "mobilenet", "--phi", "3..1"],
        ["sweep", "mobilenet", "--alpha", "1", "--metric", "speed"],
        ["sweep", "mobilenet", "--alpha", "1", "--target-ms", "10"],
        ["sweep", "mobilenet", "--phi", "1"],
        ["sweep", "mobilenet", "--alpha", "1", "--plot", "chart.gif"],
    ],
)
def test_sweep_errors(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("cnnprof: error:")


@pytest.mark.plot
def test_sweep_plot(tmp_path):
    chart = tmp_path / "sweep.png"
    args = ["sweep", "mobilenet", "--alpha", "1,0.5", "--plot", str(chart)]
    assert runner.invoke(app, args).exit_code == 0
    assert chart.stat().st_size > 1000
    assert runner.invoke(app, args).exit_code == 2  # exists: only with --force
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0


def test_plot_without_matplotlib_is_one_clear_line(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    result = runner.invoke(app, ["compare", "vgg16", "resnet50", "--plot", str(tmp_path / "c.svg")])
    assert result.exit_code == 2
    assert "matplotlib" in result.stderr


# --- compare ---------------------------------------------------------------------------------


def test_compare_vgg16_resnet50_ratios():
    data = run_json("compare", "vgg16", "resnet50")
    vgg, resnet = cnnprof.count("vgg16"), cnnprof.count("resnet50")
    assert data["baseline"] == "vgg16"
    ratios = data["models"][1]["ratios"]
    assert ratios["macs"] == pytest.approx(resnet.macs / vgg.macs)
    assert ratios["params"] == pytest.approx(resnet.params / vgg.params)
    assert data["models"][0]["top1"] == 71.5  # MobileNet paper, Table 8 quotes VGG-16 at 71.5 %


def test_compare_light_models_with_baseline():
    models = ["mobilenet@alpha=0.5", "mobilenet_v2@alpha=0.5", "efficientnet_b0"]
    data = run_json("compare", *models, "--baseline", "efficientnet_b0")
    counted = [cnnprof.count(m) for m in models]
    for entry, profile in zip(data["models"], counted, strict=True):
        assert entry["macs"] == profile.macs
        assert entry["ratios"]["macs"] == pytest.approx(profile.macs / counted[2].macs)
    assert data["models"][0]["top1"] == 63.7  # MobileNet paper, Table 6


@pytest.mark.parametrize("fmt", ["table", "md", "csv"])
def test_compare_formats(fmt):
    result = runner.invoke(app, ["compare", "vgg16", "resnet50", "--format", fmt])
    assert result.exit_code == 0
    assert "resnet50" in result.stdout


def test_compare_errors():
    assert runner.invoke(app, ["compare", "vgg16"]).exit_code == 2
    result = runner.invoke(app, ["compare", "vgg16", "resnet50", "--baseline", "alexnet"])
    assert result.exit_code == 2 and "--baseline" in result.stderr


def test_split_reference_rejects_unknown_transform():
    with pytest.raises(OptionError):
        split_reference("resnet50@sideways")


@pytest.mark.torch
@pytest.mark.slow
def test_sweep_with_latency_ranks_by_mnasnet_objective():
    args = ["sweep", "mobilenet", "--alpha", "0.25", "--resolution", "224,128", "--latency"]
    points = run_json(*args, "--target-ms", "5")["points"]
    assert all(p["latency_ms"] > 0 and p["throughput"] > 0 for p in points)
    # MobileNet paper, Table 6: 0.25 MobileNet-224 is 50.6 %; 0.25 at 128 has no printed top-1
    ranked = points[0]
    assert ranked["top1"] == 50.6
    assert ranked["mnas_objective"] == pytest.approx(
        mnas_objective(50.6, ranked["latency_ms"], 5.0)
    )
    assert "mnas_objective" not in points[1]


@pytest.mark.torch
@pytest.mark.slow
def test_compare_with_latency():
    data = run_json("compare", "lenet5", "lenet5@res=64", "--latency")
    assert all(m["latency_ms"] > 0 for m in data["models"])
    assert data["models"][1]["ratios"]["latency_ms"] > 0


# --- one presenter per result -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "call", "view"),
    [
        (
            "compare vgg16 resnet50 -f md",
            lambda: cnnprof.compare("vgg16", "resnet50"),
            View(format="md"),
        ),
        (
            "separable mobilenet --layers -f csv",
            lambda: cnnprof.separable("mobilenet"),
            View(format="csv", layers=True),
        ),
        (
            "sweep mobilenet -a 1,0.5 -r 224,160 --metric params -f md",
            lambda: cnnprof.sweep("mobilenet", alpha="1,0.5", resolution="224,160", pareto=False),
            View(format="md", metric="params"),
        ),
    ],
)
def test_the_command_prints_what_the_presenter_writes(args, call, view):
    result = runner.invoke(app, args.split())
    assert result.exit_code == 0, result.output
    assert result.stdout == present(call(), view)


def test_the_report_presenter_leaves_the_table_to_render():
    with pytest.raises(ValueError, match="json, csv, md"):
        present(cnnprof.separable("lenet5"), View(format="table"))


def test_a_sweep_is_its_points():
    swept = cnnprof.sweep("mobilenet", alpha=[1, 0.5])
    assert len(swept) == 2 and list(swept) == list(swept.points)
    assert swept[-1].column.label == swept.label + "@alpha=0.5"
    # MobileNet paper, Table 6: 0.5 MobileNet-224 is 149 M mult-adds.
    assert swept[-1].column.profile.macs == pytest.approx(149e6, rel=0.01)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: cnnprof.separable("mobilenet@train=head"), "compares inference costs"),
        (lambda: compare(["vgg16", "resnet50"], args={"x": 1}), "for outside models"),
        (lambda: cnnprof.sweep("mobilenet", alpha=[1], target_ms=0), "target > 0 ms"),
        (lambda: sweep_settings("1,0.5", None, None, None, max_points=0), "at least 1"),
    ],
)
def test_the_api_refuses_what_the_command_refuses(call, message):
    with pytest.raises(OptionError, match=message):
        call()
