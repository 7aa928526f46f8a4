"""ResNeXt, Wide ResNet, RegNet, EfficientNetV2 and ConvNeXt against their published figures.

Every expected value is a published figure with its source: torchvision's documentation pages
(``num_params`` and ``GFLOPS``, the latter multiply-accumulates of conv and fc layers, to 3
decimals), the papers' tables, or the authors' model zoo. Where a figure comes from running the
reference code (torchvision's RegNet generator at other design parameters), the test says so. The
empirical side (the built nn.Module, counted on meta) is held equal to these analytic counts by
tests/empirical/test_empirical.py, for every registry model.
"""

from __future__ import annotations

import pytest

import cnnprof
from cnnprof.arch.load import parse_family
from cnnprof.arch.model import Shape
from cnnprof.arch.multipliers import Multipliers
from cnnprof.arch.registry import default_registry
from cnnprof.errors import ArchError, OptionError

M = 1e6
G = 1e9
DOCS = "https://docs.pytorch.org/vision/stable/models/generated/torchvision.models.{}.html"

# torchvision's documented figures (the DEFAULT weights' meta unless a resolution is given:
# then the weights evaluated at that crop). model: (num_params, GFLOPS, resolution, weights).
TORCHVISION = {
    "resnext50_32x4d": (25_028_904, 4.23, 224, "IMAGENET1K_V2"),
    "resnext101_32x8d": (88_791_336, 16.414, 224, "IMAGENET1K_V2"),
    "resnext101_64x4d": (83_455_272, 15.46, 224, "IMAGENET1K_V1"),
    "wide_resnet50_2": (68_883_240, 11.398, 224, "IMAGENET1K_V2"),
    "wide_resnet101_2": (126_886_696, 22.753, 224, "IMAGENET1K_V2"),
    "regnet_x_400mf": (5_495_976, 0.414, 224, "IMAGENET1K_V2"),
    "regnet_x_800mf": (7_259_656, 0.8, 224, "IMAGENET1K_V2"),
    "regnet_x_1_6gf": (9_190_136, 1.603, 224, "IMAGENET1K_V2"),
    "regnet_x_3_2gf": (15_296_552, 3.177, 224, "IMAGENET1K_V2"),
    "regnet_x_8gf": (39_572_648, 7.995, 224, "IMAGENET1K_V2"),
    "regnet_x_16gf": (54_278_536, 15.941, 224, "IMAGENET1K_V2"),
    "regnet_x_32gf": (107_811_560, 31.736, 224, "IMAGENET1K_V2"),
    "regnet_y_400mf": (4_344_144, 0.402, 224, "IMAGENET1K_V2"),
    "regnet_y_800mf": (6_432_512, 0.834, 224, "IMAGENET1K_V2"),
    "regnet_y_1_6gf": (11_202_430, 1.612, 224, "IMAGENET1K_V2"),
    "regnet_y_3_2gf": (19_436_338, 3.176, 224, "IMAGENET1K_V2"),
    "regnet_y_8gf": (39_381_472, 8.473, 224, "IMAGENET1K_V2"),
    "regnet_y_16gf": (83_590_140, 15.912, 224, "IMAGENET1K_V2"),
    "regnet_y_32gf": (145_046_770, 32.28, 224, "IMAGENET1K_V2"),
    "regnet_y_128gf": (644_812_894, 127.518, 224, "IMAGENET1K_SWAG_LINEAR_V1"),
    "efficientnet_v2_s": (21_458_488, 8.366, 384, "IMAGENET1K_V1"),
    "efficientnet_v2_m": (54_139_356, 24.582, 480, "IMAGENET1K_V1"),
    "efficientnet_v2_l": (118_515_272, 56.08, 480, "IMAGENET1K_V1"),
    "convnext_tiny": (28_589_128, 4.456, 224, "IMAGENET1K_V1"),
    "convnext_small": (50_223_688, 8.684, 224, "IMAGENET1K_V1"),
    "convnext_base": (88_591_464, 15.355, 224, "IMAGENET1K_V1"),
    "convnext_large": (197_767_336, 34.361, 224, "IMAGENET1K_V1"),
}
# The SWAG end-to-end weights of the large RegNetYs, evaluated at 384 (same pages).
TORCHVISION_384 = {
    "regnet_y_16gf": 46.735,
    "regnet_y_32gf": 94.826,
    "regnet_y_128gf": 374.57,
}


@pytest.mark.parametrize(
    ("model", "num_params", "gflops", "resolution"),
    [pytest.param(m, p, g, r, id=f"{m}-{w}") for m, (p, g, r, w) in TORCHVISION.items()],
)
def test_torchvision_documented_figures(model, num_params, gflops, resolution):
    """Source: DOCS.format(model), the weights named in the test id."""
    profile = cnnprof.count(model)
    assert profile.input == Shape(3, resolution, resolution)  # the variant's own resolution
    assert profile.params == num_params
    assert round(profile.macs / G, 3) == pytest.approx(gflops, abs=1e-9)


@pytest.mark.parametrize(("model", "gflops"), TORCHVISION_384.items())
def test_torchvision_swag_figures_at_384(model, gflops):
    """Source: DOCS.format(model), IMAGENET1K_SWAG_E2E_V1 (384×384 crop)."""
    assert round(cnnprof.count(model, resolution=384).macs / G, 3) == pytest.approx(gflops)


def fig(model, metric, expected, tol, source, **options):
    """A paper's figure: model (+ options), metric, value, absolute tolerance, source."""
    return pytest.param(model, options, metric, expected, tol, id=f"{model}-{metric}-{source}")


PAPERS = [
    # Xie et al. 2017, Table 1: ResNeXt-50 (32×4d) 25.0 × 10⁶ params, 4.2 × 10⁹ FLOPs (= MACs);
    # printed to one decimal, so half a unit of it is the tolerance.
    fig("resnext50_32x4d", "params", 25.0 * M, 0.05 * M, "XieTable1"),
    fig("resnext50_32x4d", "macs", 4.2 * G, 0.05 * G, "XieTable1"),
    # Zagoruyko & Komodakis 2016, ImageNet table: WRN-50-2-bottleneck, 68.9 M params.
    fig("wide_resnet50_2", "params", 68.9 * M, 0.05 * M, "ZagoruykoImageNetTable"),
    # Liu et al. 2022, Table 1 (ImageNet-1K, 224²): FLOPs (= MACs) to one decimal; params in
    # whole millions (ConvNeXt-T's 28.59 M is printed 28 M, so params within one million).
    fig("convnext_tiny", "macs", 4.5 * G, 0.05 * G, "LiuTable1"),
    fig("convnext_small", "macs", 8.7 * G, 0.05 * G, "LiuTable1"),
    fig("convnext_base", "macs", 15.4 * G, 0.05 * G, "LiuTable1"),
    fig("convnext_large", "macs", 34.4 * G, 0.05 * G, "LiuTable1"),
    fig("convnext_tiny", "params", 28 * M, 1 * M, "LiuTable1"),
    fig("convnext_small", "params", 50 * M, 1 * M, "LiuTable1"),
    fig("convnext_base", "params", 89 * M, 1 * M, "LiuTable1"),
    fig("convnext_large", "params", 198 * M, 1 * M, "LiuTable1"),
    # Tan & Le 2021, Table 7: S 22 M / 8.8 B, M 54 M / 24 B, L 120 M / 53 B at their evaluation
    # sizes (384, 480, 480). The paper's FLOPs sit up to 6 % from the architecture (torchvision's
    # figures above are exact); within 6 %, params within 3 %.
    fig("efficientnet_v2_s", "params", 22 * M, 0.03 * 22 * M, "TanLe2021Table7"),
    fig("efficientnet_v2_m", "params", 54 * M, 0.03 * 54 * M, "TanLe2021Table7"),
    fig("efficientnet_v2_l", "params", 120 * M, 0.03 * 120 * M, "TanLe2021Table7"),
    fig("efficientnet_v2_s", "macs", 8.8 * G, 0.06 * 8.8 * G, "TanLe2021Table7"),
    fig("efficientnet_v2_m", "macs", 24 * G, 0.06 * 24 * G, "TanLe2021Table7"),
    fig("efficientnet_v2_l", "macs", 53 * G, 0.06 * 53 * G, "TanLe2021Table7"),
]

# Radosavovic et al. 2020: the authors' figures (pycls MODEL_ZOO.md, flops (B) = MACs and params
# (M), each to one decimal) for their own models, built with pycls's group-width rounding
# (`design: {rounding: pycls}`, see configs/models/regnet.yaml).
PYCLS_MODEL_ZOO = {
    "regnet_x_400mf": (0.4, 5.2),
    "regnet_x_800mf": (0.8, 7.3),
    "regnet_x_1_6gf": (1.6, 9.2),
    "regnet_x_3_2gf": (3.2, 15.3),
    "regnet_x_8gf": (8.0, 39.6),
    "regnet_x_16gf": (15.9, 54.3),
    "regnet_x_32gf": (31.7, 107.8),
    "regnet_y_400mf": (0.4, 4.3),
    "regnet_y_800mf": (0.8, 6.3),
    "regnet_y_1_6gf": (1.6, 11.2),
    "regnet_y_3_2gf": (3.2, 19.4),
    "regnet_y_8gf": (8.0, 39.2),
    "regnet_y_16gf": (15.9, 83.6),
    "regnet_y_32gf": (32.3, 145.0),
}


@pytest.mark.parametrize(("model", "options", "metric", "expected", "tol"), PAPERS)
def test_paper_figure(model, options, metric, expected, tol):
    profile = cnnprof.count(model, **options)
    actual = profile.macs if metric == "macs" else profile.params
    assert abs(actual - expected) <= tol, f"{model} {metric}: {actual:,} vs {expected:,.0f}"


def _arch(model: str, **design):
    return default_registry().get(model).arch(design=design)


@pytest.mark.parametrize(("model", "figures"), PYCLS_MODEL_ZOO.items())
def test_regnet_pycls_model_zoo(model, figures):
    from cnnprof.analytic.engine import profile

    gflops, mparams = figures
    p = profile(_arch(model, rounding="pycls"))
    assert abs(p.macs / G - gflops) <= 0.05
    assert abs(p.params / M - mparams) <= 0.05


# --- RegNet: the generator and its parameters ---------------------------------------------------


def test_regnet_y_400mf_stages():
    """torchvision regnet_y_400mf (BlockParams.from_init_params(depth=16, w_0=48, w_a=27.89,
    w_m=2.09, group_width=8, se_ratio=0.25)): widths 48, 104, 208, 440; depths 1, 3, 6, 6."""
    rows = [r for r in cnnprof.load("regnet_y_400mf").rows if r.layer.op == "bottleneck"]
    assert [r.layer.path for r in rows] == ["stage1", "stage2", "stage3", "stage4"]
    assert [r.layer["out"] for r in rows] == [48, 104, 208, 440]
    assert [r.repeat for r in rows] == [1, 3, 6, 6]
    assert [r.layer["out"] // r.layer["groups"] for r in rows] == [8, 8, 8, 8]  # group width
    assert all(r.layer["se"] == 0.25 and r.layer["s"] == 2 for r in rows)


# Reference figures produced by torchvision 0.29.1's own code at other design parameters:
# RegNet(BlockParams.from_init_params(...), stem_width=…) built with weights=None, params by
# sum(p.numel()), MACs by torch.utils.flop_counter.FlopCounterMode at 224² (total / 2).
TORCHVISION_SWEEPS = [
    # depth=16, w_0=48, w_a=27.89, w_m=2.5, group_width=8, se_ratio=0.25
    ("regnet_y_400mf", {"wm": 2.5}, {}, 3_005_052, 630_548_576),
    # depth=20, w_0=48, w_a=27.89, w_m=2.09, group_width=16, se_ratio=0.25
    ("regnet_y_400mf", {"d": 20, "g": 16}, {}, 7_062_552, 566_164_096),
    # depth=16, w_0=64, w_a=31.3, w_m=2.09, group_width=8, se_ratio=0.25,
    # bottleneck_multiplier=0.5
    ("regnet_y_400mf", {"wa": 31.3, "w0": 64, "b": 2.0}, {}, 3_781_336, 373_257_216),
    # depth=18, w_0=24, w_a=24.48, w_m=3.0, group_width=8
    ("regnet_x_400mf", {"wm": 3.0, "g": 8, "d": 18}, {}, 4_335_176, 445_731_072),
    # width 0.5 halves w0 and wa (and the stem): depth=16, w_0=24, w_a=13.945, w_m=2.09,
    # group_width=8, se_ratio=0.25, stem_width=16
    ("regnet_y_400mf", {}, {"alpha": 0.5}, 1_246_424, 112_958_880),
]


@pytest.mark.parametrize(("model", "design", "options", "params", "macs"), TORCHVISION_SWEEPS)
def test_regnet_design_sweep_matches_torchvision(model, design, options, params, macs):
    from cnnprof.analytic.engine import profile

    arch = default_registry().get(model).arch(Multipliers(**options), design=design)
    p = profile(arch)
    assert (p.params, p.macs) == (params, macs)
    assert arch.published_figure() is None  # another design or width: no published figure


def test_regnet_design_sweep_is_monotone_in_wm():
    """More width per stage (wm) never costs fewer MACs at fixed d, w0, wa, g."""
    from cnnprof.analytic.engine import profile

    macs = [profile(_arch("regnet_y_400mf", wm=wm)).macs for wm in (2.0, 2.5, 3.0, 3.5)]
    assert macs == sorted(macs)


@pytest.mark.parametrize(
    ("design", "message"),
    [
        ({"wm": 1.0}, "wm = 1.0 must be above 1"),
        ({"w0": 20}, "w0 = 20 must be a multiple of 8"),
        ({"q": 3}, "unknown parameter 'q'"),
        ({"rounding": "floor"}, "expected one of torchvision, pycls"),
        ({"d": 0}, "expected a whole number ≥ 1"),
    ],
)
def test_regnet_design_errors_name_the_parameter(design, message):
    with pytest.raises(OptionError, match=message):
        _arch("regnet_y_400mf", **design)


def test_design_on_a_written_family_is_refused():
    with pytest.raises(OptionError, match="written row by row, not generated"):
        default_registry().get("resnet50").arch(design={"wm": 2.5})


GENERATED = """
family: g
paper: p
input: [3, 64, 64]
layers:
  - {name: stem, op: conv, out: 32, k: 3, s: 2}
  - {generate: regnet}
  - {op: gap}
  - {op: fc, out: 10, classifier: true}
variants:
  small: {design: {d: 6, w0: 16, wa: 8.0, wm: 2.0, g: 8, se: 0.25}}
"""


def test_a_user_spec_can_declare_a_generator():
    family = parse_family(GENERATED, "g.yaml")
    variant = family.variants["small"]
    assert variant.generated is not None
    assert [r.layer.path for r in variant.rows] == ["stem", "stage1", "stage2", "stage3", "2", "3"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("{generate: regnet}", "{generate: densenet}"), "unknown generator 'densenet'"),
        (("{generate: regnet}", "{generate: regnet, d: 3}"), "unknown field 'd'"),
        (("small: {design:", "small: {design_:"), "unknown field 'design_'"),
        (("  - {generate: regnet}\n", ""), "'design' given, but no row says"),
        (("{d: 6, w0: 16,", "{w0: 16,"), "parameter 'd' is required"),
        (("  - {op: gap}\n", "  - {generate: regnet}\n"), "a second 'generate' row"),
    ],
)
def test_generator_spec_errors(change, message):
    with pytest.raises(ArchError, match=message):
        parse_family(GENERATED.replace(*change), "g.yaml")


def test_generated_rows_collide_with_written_names():
    text = GENERATED.replace("{op: gap}", "{name: stage2, op: gap}")
    with pytest.raises(ArchError, match="name 'stage2' is used twice"):
        parse_family(text, "g.yaml")


# --- structure ----------------------------------------------------------------------------------


def _row(profile, path):
    return next(r for r in profile.layers if r.path == path)


@pytest.mark.parametrize(
    ("model", "shape"),
    [
        ("resnext50_32x4d", Shape(2048, 7, 7)),  # Xie et al. Table 1: conv5 at 7×7, 2048
        ("wide_resnet50_2", Shape(2048, 7, 7)),  # the outer widths stay ResNet-50's
        ("regnet_y_400mf", Shape(440, 7, 7)),  # torchvision: fc.in_features 440
        ("regnet_x_400mf", Shape(400, 7, 7)),  # torchvision: fc.in_features 400
        ("efficientnet_v2_s", Shape(1280, 12, 12)),  # Tan & Le 2021 Table 4; 384 / 32
        ("convnext_tiny", Shape(768, 7, 7)),  # Liu et al. 2022: C4 = 768 at 7×7
    ],
)
def test_last_feature_map(model, shape):
    pool = next(r for r in cnnprof.count(model).layers if r.op == "gap")
    assert pool.in_shape == shape


def test_resnext_grouped_3x3():
    """Xie et al. 2017 Table 1: conv2's 3×3 is 128 wide in 32 groups (4 channels each)."""
    row = _row(cnnprof.count("resnext50_32x4d"), "conv2.0.conv2")
    assert row.op == "gconv"
    assert row.weight_params == 3 * 3 * (128 // 32) * 128


def test_convnext_block_rows_and_flop_categories():
    """Liu et al. 2022 Fig. 4: 7×7 depthwise → LN → 1×1 (4×) → GELU → 1×1 → layer scale → add."""
    p = cnnprof.count("convnext_tiny")
    block = [r for r in p.layers if r.path.startswith("stage1.0.")]
    assert [r.path.rsplit(".", 1)[1] for r in block] == [
        "dwconv",
        "norm",
        "pwconv1",
        "pwconv2",
        "layer_scale",
    ]
    dw, norm, pw1, pw2, scale = block
    assert dw.op == "dwconv" and dw.kernel == (7, 7)
    assert pw1.out_shape.c == 4 * 96 and pw2.out_shape.c == 96
    assert norm.norm_params == 2 * 96 and norm.flops_by_category["norm"] > 0
    assert pw1.flops_by_category["act"] > 0  # GELU
    assert scale.weight_params == 96  # γ, one per channel
    assert scale.flops_by_category["scale"] == scale.flops_by_category["add"] == 96 * 56 * 56


def test_convnext_block_without_layer_scale():
    """``layer_scale: false``: no γ, no scale FLOPs; the residual add moves to pwconv2."""
    from cnnprof.analytic.engine import profile
    from cnnprof.arch.scale import resolve

    text = GENERATED.replace("  - {generate: regnet}\n", "  - {op: convnext, layer_scale: false}\n")
    family = parse_family(
        text.replace(
            "  small: {design: {d: 6, w0: 16, wa: 8.0, wm: 2.0, g: 8, se: 0.25}}\n", "  small: {}\n"
        ),
        "c.yaml",
    )
    rows = {r.path: r for r in profile(resolve(family, "small")).layers}
    assert "1.layer_scale" not in rows
    assert rows["1.pwconv2"].flops_by_category["add"] == 32 * 32 * 32
    assert "scale" not in rows["1.pwconv2"].flops_by_category


def test_efficientnet_v2_fused_blocks():
    """Tan & Le 2021 Table 4 / Fig. 2: Fused-MBConv1 is one 3×3 conv with a residual;
    Fused-MBConv4 a 3×3 conv to 4× then a 1×1 projection."""
    p = cnnprof.count("efficientnet_v2_s")
    single = _row(p, "stage1.0.conv")
    assert single.kernel == (3, 3) and single.out_shape == Shape(24, 192, 192)
    assert single.flops_by_category["add"] == single.out_shape.elements
    expand = _row(p, "stage2.0.expand")
    project = _row(p, "stage2.0.project")
    assert expand.kernel == (3, 3) and expand.out_shape == Shape(96, 96, 96)
    assert project.kernel == (1, 1) and project.out_shape == Shape(48, 96, 96)
    assert "add" not in project.flops_by_category  # stride 2: no residual


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("resnext50", "resnext50_32x4d"),
        ("wrn-50-2", "wide_resnet50_2"),
        ("regnetx_004", "regnet_x_400mf"),
        ("regnety-1.6gf", "regnet_y_1_6gf"),
        ("regnety_1280", "regnet_y_128gf"),
        ("tf_efficientnetv2_s", "efficientnet_v2_s"),
        ("convnext_t", "convnext_tiny"),
    ],
)
def test_aliases(alias, name):
    assert cnnprof.entry(alias).name == name
