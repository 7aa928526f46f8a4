"""The shipped families against the figures their papers print.

Every expected value below is a published figure (paper, table) and every actual value is what
cnnprof computes from the YAML spec: nothing here is a hard-coded result of the engine. Each test
id names its source. "MACs" are conv + fc multiply-accumulates (the papers' mult-adds, or the
"FLOPs" of ResNet and EfficientNet); params count weights, biases and BN affine unless a test says
"no BN" (weights + biases only).
"""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

import cnnprof
from cnnprof.arch.model import Shape
from cnnprof.cli import app

M = 1e6
G = 1e9


def rel_err(actual: float, expected: float) -> float:
    return abs(actual - expected) / expected


def params_no_bn(profile: cnnprof.Profile) -> int:
    kinds = profile.params_by_kind
    return kinds["weights"] + kinds["biases"]


def measure(profile: cnnprof.Profile, metric: str) -> float:
    if metric == "macs":
        return profile.macs
    if metric == "params":
        return profile.params
    if metric == "params_no_bn":
        return params_no_bn(profile)
    raise ValueError(metric)


def fig(model, metric, expected, tol, source, **options):
    """One published figure: model (+ options), metric, value, relative tolerance, source."""
    opts = "".join(f"-{k}{v}" for k, v in options.items())
    return pytest.param(
        model, options, metric, expected, tol, id=f"{model}{opts}-{metric}-{source}"
    )


FIGURES = [
    # MobileNetV2, Sandler et al. 2018: 300 M MACs (the architecture gives ≈ 300.8 M), 3.47 M
    # params without BN and 3.50 M with it (authors' checkpoint table; torchvision's 3.50 M).
    fig("mobilenet_v2", "macs", 300 * M, 0.01, "SandlerTable4"),
    fig("mobilenet_v2", "params_no_bn", 3.47 * M, 0.005, "SandlerCheckpointTable"),
    fig("mobilenet_v2", "params", 3.50 * M, 0.005, "torchvision"),
    # 1.4 variant: 582 M, 6.06 M without BN (authors' checkpoint table; Table 4: 585 M, 6.9 M).
    fig("mobilenet_v2_1_4", "macs", 582 * M, 0.01, "SandlerCheckpointTable"),
    fig("mobilenet_v2_1_4", "params_no_bn", 6.06 * M, 0.01, "SandlerCheckpointTable"),
    # MnasNet-A1, Tan et al. 2019, Table 1.
    fig("mnasnet_a1", "macs", 312 * M, 0.02, "MnasNetTable1"),
    fig("mnasnet_a1", "params", 3.9 * M, 0.02, "MnasNetTable1"),
    # ResNet, He et al. 2016, Table 1 ("FLOPs" = multiply-adds; stride on the first 1×1).
    fig("resnet18", "macs", 1.8 * G, 0.03, "HeTable1"),
    fig("resnet34", "macs", 3.6 * G, 0.03, "HeTable1"),
    fig("resnet50", "macs", 3.8 * G, 0.03, "HeTable1"),
    fig("resnet101", "macs", 7.6 * G, 0.03, "HeTable1"),
    fig("resnet152", "macs", 11.3 * G, 0.03, "HeTable1"),
    # ResNet-50's 25.6 M params is the figure quoted everywhere (torchvision, Keras); He et al.
    # print FLOPs only. v1.5 (stride on the 3×3, torchvision/NVIDIA): ≈ 4.1 G MACs.
    fig("resnet50", "params", 25.6 * M, 0.01, "commonly-quoted"),
    fig("resnet50_v1_5", "macs", 4.1 * G, 0.01, "torchvision-v1.5"),
    # VGG, Simonyan & Zisserman 2015, Table 2 (params); VGG-16 ≈ 15.5 G MACs (MobileNet's Table 8
    # quotes 15 300 M, 1.1 % below the architecture's 15.47 G).
    fig("vgg11", "params", 133 * M, 0.01, "VGGTable2"),
    fig("vgg13", "params", 133 * M, 0.01, "VGGTable2"),
    fig("vgg16", "params", 138 * M, 0.01, "VGGTable2"),
    fig("vgg19", "params", 144 * M, 0.01, "VGGTable2"),
    fig("vgg16", "macs", 15.5 * G, 0.01, "MobileNetTable8"),
    # GoogLeNet, quoted by the MobileNet paper (Howard et al. 2017), Table 8.
    fig("googlenet", "params", 6.8 * M, 0.03, "MobileNetTable8"),
    fig("googlenet", "macs", 1550 * M, 0.03, "MobileNetTable8"),
    # AlexNet: "60 million parameters" (Krizhevsky et al. 2012, text; the MobileNet paper's Table 9
    # repeats 60 M and quotes 720 M MACs). The two-GPU architecture has 60.97 M, quoted as 61 M.
    fig("alexnet", "params", 60 * M, 0.03, "MobileNetTable9"),
    fig("alexnet", "params", 61 * M, 0.03, "commonly-quoted"),
    fig("alexnet", "macs", 0.72 * G, 0.03, "MobileNetTable9"),
    # LeNet-5, LeCun et al. 1998: "about 60 000" trainable parameters.
    fig("lenet5", "params", 60_000, 0.05, "LeCun-text"),
]

# EfficientNet, Tan & Le 2019, Table 2: params (M) within 2 %, "FLOPS" (= MACs, B) within 6 %
# (the paper rounds; B4 and B5 sit a few percent under their architectures).
EFFICIENTNET_TABLE2 = {
    "b0": (5.3, 0.39),
    "b1": (7.8, 0.70),
    "b2": (9.2, 1.0),
    "b3": (12, 1.8),
    "b4": (19, 4.2),
    "b5": (30, 9.9),
    "b6": (43, 19),
    "b7": (66, 37),
}
for _b, (_params, _macs) in EFFICIENTNET_TABLE2.items():
    FIGURES.append(fig(f"efficientnet_{_b}", "params", _params * M, 0.02, "EfficientNetTable2"))
    FIGURES.append(fig(f"efficientnet_{_b}", "macs", _macs * G, 0.06, "EfficientNetTable2"))


@pytest.mark.parametrize(("model", "options", "metric", "expected", "tol"), FIGURES)
def test_published_figure(model, options, metric, expected, tol):
    actual = measure(cnnprof.count(model, **options), metric)
    assert rel_err(actual, expected) <= tol, (
        f"{model} {options} {metric}: computed {actual:,.0f}, published {expected:,.0f} "
        f"({rel_err(actual, expected):.2%} > {tol:.0%})"
    )


# MobileNetV2 authors' checkpoint table (tensorflow/models research/slim/nets/mobilenet README):
# MACs in millions, floored, per width (alpha) × input resolution.
MOBILENET_V2_GRID = {
    1.0: {224: 300, 192: 221, 160: 154, 128: 99, 96: 56},
    0.75: {224: 209, 192: 153, 160: 107, 128: 69, 96: 39},
    0.5: {224: 97, 192: 71, 160: 50, 128: 32, 96: 18},
    0.35: {224: 59, 192: 43, 160: 30, 128: 20, 96: 11},
}
GRID_CELLS = [
    pytest.param(alpha, res, macs, id=f"SandlerCheckpointTable-{alpha}-{res}")
    for alpha, row in MOBILENET_V2_GRID.items()
    for res, macs in row.items()
]


def floored_err(actual: float, floored: float, unit: float) -> float:
    """Relative distance of ``actual`` from [floored, floored + unit): the values a table that
    floors to whole units could have printed as ``floored``."""
    low, high = floored, floored + unit
    gap = low - actual if actual < low else max(0.0, actual - high)
    return gap / floored


@pytest.mark.parametrize(("alpha", "resolution", "published"), GRID_CELLS)
def test_mobilenet_v2_width_resolution_grid(alpha, resolution, published):
    macs = cnnprof.count("mobilenet_v2", alpha=alpha, resolution=resolution).macs
    # The table floors to whole millions, so "11" stands for anything in [11 M, 12 M): a plain
    # relative error against 11 M would be up to 9 % for the smallest cells (0.35-96 is 11.93 M)
    # from the flooring alone. Compare with the interval the printed figure stands for.
    assert floored_err(macs, published * M, M) <= 0.02
    # The architecture in fact reproduces every cell exactly.
    assert math.floor(macs / M) == published


def test_resnet_v1_5_same_weights_more_macs():
    """He et al. 2016 Table 1 models vs their v1.5 form: the stride moves, the weights do not."""
    for depth in (50, 101, 152):
        v1 = cnnprof.count(f"resnet{depth}")
        v15 = cnnprof.count(f"resnet{depth}_v1_5")
        assert v15.params == v1.params
        assert v15.params_by_kind == v1.params_by_kind
        assert v15.macs > v1.macs


def test_efficientnet_phi_compound_scaling():
    """Tan & Le 2019 Sec. 3.3: phi = 1 → depth 1.2, width 1.1, resolution round(224 · 1.15)."""
    arch = cnnprof.load("efficientnet_b0", phi=1)
    assert arch.width == pytest.approx(1.1)
    assert arch.depth == pytest.approx(1.2)
    assert arch.input == Shape(3, round(224 * 1.15), round(224 * 1.15))
    profile = cnnprof.count("efficientnet_b0", phi=1)
    assert profile.input == Shape(3, 258, 258)
    b0 = cnnprof.count("efficientnet_b0").macs
    b2 = cnnprof.count("efficientnet_b2").macs
    assert b0 < profile.macs < b2


def _row(profile: cnnprof.Profile, path: str):
    rows = [r for r in profile.layers if r.path == path]
    assert rows, f"{profile.model}: no row '{path}'"
    return rows[0]


@pytest.mark.parametrize(
    ("model", "path", "side", "shape"),
    [
        # GoogLeNet, Szegedy et al. 2015 Table 1: 112 → 56 → 28 → 14 → 7, 7×7×1024 before the pool.
        ("googlenet", "pool1", "out", Shape(64, 56, 56)),
        ("googlenet", "pool2", "out", Shape(192, 28, 28)),
        ("googlenet", "pool3", "out", Shape(480, 14, 14)),
        ("googlenet", "pool4", "out", Shape(832, 7, 7)),
        ("googlenet", "pool5", "in", Shape(1024, 7, 7)),
        # AlexNet, Krizhevsky et al. 2012 Fig. 2: 55×55×96 after conv1, 6×6×256 before fc6.
        ("alexnet", "conv1", "out", Shape(96, 55, 55)),
        ("alexnet", "pool5", "out", Shape(256, 6, 6)),
        # ResNet, He et al. 2016 Table 1: conv2_x at 56×56, 7×7×2048 before the pool.
        ("resnet50", "pool1", "out", Shape(64, 56, 56)),
        ("resnet50", "pool", "in", Shape(2048, 7, 7)),
        ("resnet50_v1_5", "pool", "in", Shape(2048, 7, 7)),
        ("resnet18", "pool", "in", Shape(512, 7, 7)),
        # LeNet-5, LeCun et al. 1998 Fig. 2: C5 is 120 maps of 1×1.
        ("lenet5", "C5", "out", Shape(120, 1, 1)),
    ],
)
def test_feature_map_shapes(model, path, side, shape):
    row = _row(cnnprof.count(model), path)
    assert (row.in_shape if side == "in" else row.out_shape) == shape


@pytest.mark.parametrize(
    ("model", "shape"),
    [
        # The last feature map before global pooling: 7×7 for every ImageNet model at 224.
        ("vgg16", Shape(512, 7, 7)),  # Simonyan & Zisserman 2015 Table 1: before FC-4096
        ("mobilenet_v2", Shape(1280, 7, 7)),  # Sandler et al. 2018 Table 2: 7²×1280
        ("mobilenet_v2_1_4", Shape(1792, 7, 7)),  # 1280 grows above width 1.0
        ("mnasnet_a1", Shape(1280, 7, 7)),  # Tan et al. 2019 Fig. 7
        ("efficientnet_b0", Shape(1280, 7, 7)),  # Tan & Le 2019 Table 1, stage 9
        ("efficientnet_b7", Shape(2560, 19, 19)),  # head 1280 × 2.0; 600 / 32 rounded up
    ],
)
def test_last_feature_map(model, shape):
    profile = cnnprof.count(model)
    pool = next(r for r in profile.layers if r.op in ("gap", "flatten"))
    assert pool.in_shape == shape


def test_mobilenet_v2_head_does_not_shrink():
    """Sandler et al. 2018 (and the authors' code): widths below 1 keep the last conv at 1280."""
    profile = cnnprof.count("mobilenet_v2", alpha=0.35)
    pool = next(r for r in profile.layers if r.op == "gap")
    assert pool.in_shape.c == 1280


REGISTRY = {
    "lenet5": "lenet5",
    "alexnet": "alexnet",
    "vgg11": "vgg11",
    "vgg13": "vgg13",
    "vgg16": "vgg16",
    "vgg19": "vgg19",
    "googlenet": "googlenet",
    "resnet18": "resnet18",
    "resnet34": "resnet34",
    "resnet50": "resnet50",
    "resnet101": "resnet101",
    "resnet152": "resnet152",
    "resnet50_v1_5": "resnet50_v1_5",
    "resnet101_v1_5": "resnet101_v1_5",
    "resnet152_v1_5": "resnet152_v1_5",
    "mobilenet_v2": "mobilenet_v2",
    "mobilenet_v2_1_4": "mobilenet_v2_1_4",
    "mnasnet_a1": "mnasnet_a1",
    "mnasnet_b1": "mnasnet_b1",
    **{f"efficientnet_b{i}": f"efficientnet_b{i}" for i in range(8)},
    # aliases
    "mobilenetv2": "mobilenet_v2",
    "resnet": "resnet50",
    "vgg": "vgg16",
    "inception": "googlenet",
    "mnasnet": "mnasnet_a1",
    "efficientnet": "efficientnet_b0",
}
FAMILIES = (
    "lenet5",
    "alexnet",
    "vgg",
    "googlenet",
    "resnet",
    "mobilenet_v1",
    "mobilenet_v2",
    "mnasnet",
    "efficientnet",
)


@pytest.mark.parametrize(("name", "canonical"), REGISTRY.items())
def test_registry_name_resolves(name, canonical):
    assert cnnprof.entry(name).name == canonical
    assert cnnprof.count(name).macs > 0


def test_cli_list_json_has_every_family():
    result = CliRunner().invoke(app, ["list", "--format", "json"])
    assert result.exit_code == 0, result.output
    models = json.loads(result.stdout)["models"]
    assert set(FAMILIES) <= {m["family"] for m in models}
    assert {n for n, c in REGISTRY.items() if n == c} <= {m["name"] for m in models}


def test_every_published_entry_is_the_variants_own_configuration():
    """Each variant's `published:` figure is found again by Arch.published_figure()."""
    for name in REGISTRY.values():
        arch = cnnprof.load(name)
        if arch.published:
            assert arch.published_figure() is not None, name
