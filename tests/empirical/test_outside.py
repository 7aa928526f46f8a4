"""Models from outside the registry: ``package.module:factory``, ``file.py:factory`` and
``torchvision:NAME``. Their analytic profile comes from walking leaf modules with the formulas
(`empirical.walk`), the empirical one from the dispatch-level counter; both must agree exactly, and
with figures worked out by hand here. Errors are one line naming the reference, exit code 2.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from conftest import assert_error, run  # noqa: E402
from torch import nn  # noqa: E402

import cnnprof  # noqa: E402
from cnnprof.api import Request, count, cross_check  # noqa: E402
from tests.factories import declared  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FILE = "tests/factories/custom_cnn.py"
MODULE = "tests.factories.custom_cnn"


@pytest.fixture(autouse=True)
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """References are relative to the repository root: file paths to the working directory,
    module names to sys.path."""
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))


# --- make(num_classes=7, width=16) at 3×32×32, by hand ------------------------------------------
#
# conv: MACs = k·k·(C_in/groups)·C_out·H_out·W_out, params = k·k·(C_in/groups)·C_out (+ C_out bias)
#   stem   MyConv 3→16, 3×3, pad 1, no bias   32×32: params 3·3·3·16 = 432
#                                                    MACs   3·3·3·16·32·32 = 442,368
#   bn     BatchNorm2d(16): γ and β            params 2·16 = 32 (running stats are buffers)
#   F.max_pool2d(2): 32×32 → 16×16 (no params, no MACs)
#   conv2  Conv2d 16→32, 3×3, stride 2, pad 1, bias, 16×16 → 8×8:
#                                              params 3·3·16·32 + 32 = 4,640
#                                              MACs   3·3·16·32·8·8 = 294,912
#   dw     MyConv 32→32, 3×3, pad 1, groups 32, bias, 8×8:
#                                              params 3·3·1·32 + 32 = 320
#                                              MACs   3·3·1·32·8·8 = 18,432
#   fc     Linear 32→7:                        params 32·7 + 7 = 231, MACs 32·7 = 224
CNN_ROWS = {
    "stem": (432, 442_368),
    "bn": (32, 0),
    "act": (0, 0),
    "conv2": (4_640, 294_912),
    "dw": (320, 18_432),
    "pool": (0, 0),
    "fc": (231, 224),
}
CNN_PARAMS = 432 + 32 + 4_640 + 320 + 231  # 5,655
CNN_MACS = 442_368 + 294_912 + 18_432 + 224  # 755,936
assert (CNN_PARAMS, CNN_MACS) == (5_655, 755_936)


@pytest.mark.parametrize("reference", [f"{MODULE}:make", f"{FILE}:make"])
def test_custom_cnn(reference: str) -> None:
    check = cross_check(Request(reference, input=(3, 32, 32), args={"num_classes": 7}))
    a, e = check.analytic, check.empirical
    assert a.source == "analytic" and a.unsupported == ()
    assert (a.params, a.macs) == (CNN_PARAMS, CNN_MACS)
    assert (e.params, e.macs) == (CNN_PARAMS, CNN_MACS)
    assert check.agree and check.differences == ()
    assert {r.path: (r.params, r.macs) for r in a.layers} == CNN_ROWS
    # The Conv2d subclass is costed as a convolution (dispatch along the class hierarchy).
    assert {r.path: r.op for r in a.layers}["stem"] == "conv"
    assert {r.path: r.op for r in a.layers}["dw"] == "dwconv"
    assert a.output.as_list() == [7, 1, 1]
    assert e.unsupported == ()


def test_custom_cnn_as_a_module_object() -> None:
    from tests.factories.custom_cnn import make

    model = make(num_classes=7)
    analytic = cnnprof.count(model, input=(3, 32, 32))
    empirical = cnnprof.count(model, input=(3, 32, 32), empirical=True)
    assert (analytic.params, analytic.macs) == (empirical.params, empirical.macs)
    assert (analytic.params, analytic.macs) == (CNN_PARAMS, CNN_MACS)
    # the caller's module keeps its CPU weights (counting works on a meta copy)
    assert all(p.device.type == "cpu" for p in model.parameters())


# --- a stride-2 ConvTranspose2d -----------------------------------------------------------------
#
# Transposed conv: every *input* element meets k·k·(C_out/groups) weights per input channel, so
# MACs = k²·(C_out/groups)·C_in·H_in·W_in. make_decoder(width=8) at 3×16×16:
#   encode  Conv2d 3→8, 3×3, pad 1, bias, 16×16:  params 3·3·3·8 + 8 = 224,
#                                                 MACs 3·3·3·8·256 = 55,296
#   up      ConvTranspose2d 8→4, k 2, stride 2, bias, 16×16 → 32×32:
#           params 8·4·2·2 + 4 = 132,  MACs 2²·4·8·16·16 = 32,768
#           (counting over the 32×32 output, k²·C_in·C_out·H_out·W_out = 131,072, overcounts by
#           stride² = 4)
#   head    Conv2d 4→3, 1×1, bias, 32×32:         params 4·3 + 3 = 15,  MACs 4·3·1024 = 12,288
UP_MACS = 2 * 2 * 4 * 8 * 16 * 16


def test_conv_transpose_counts_over_the_input() -> None:
    check = cross_check(Request(f"{FILE}:make_decoder", input=(3, 16, 16)))
    a, e = check.analytic, check.empirical
    rows_a = {r.path: r for r in a.layers}
    rows_e = {r.path: r for r in e.layers}
    assert UP_MACS == 32_768
    assert rows_a["up"].macs == rows_e["up"].macs == UP_MACS
    assert rows_a["up"].params == rows_e["up"].params == 132
    assert rows_a["up"].out_shape.as_list() == rows_e["up"].out_shape.as_list() == [4, 32, 32]
    assert (a.params, a.macs) == (e.params, e.macs) == (224 + 132 + 15, 55_296 + UP_MACS + 12_288)
    assert check.differences == ()


# --- Linear on (N, L, C) ------------------------------------------------------------------------
#
# make_tokens(dim=12, num_classes=5) at 3×32×32:
#   patch  Conv2d 3→12, 4×4, stride 4, bias, 32×32 → 8×8:  params 4·4·3·12 + 12 = 588,
#                                                          MACs 4·4·3·12·64 = 36,864
#   proj   Linear 12→5 on L = 64 tokens:                   params 12·5 + 5 = 65,
#                                                          MACs L·in·out = 64·12·5 = 3,840
TOKEN_MACS = 64 * 12 * 5


def test_linear_on_tokens_counts_every_position() -> None:
    check = cross_check(Request(f"{FILE}:make_tokens", input=(3, 32, 32)))
    a, e = check.analytic, check.empirical
    rows_a = {r.path: r for r in a.layers}
    rows_e = {r.path: r for r in e.layers}
    assert rows_a["proj"].macs == rows_e["proj"].macs == TOKEN_MACS == 3_840
    assert rows_a["proj"].params == rows_e["proj"].params == 65
    assert (a.params, a.macs) == (e.params, e.macs) == (588 + 65, 36_864 + TOKEN_MACS)
    assert check.differences == ()


# --- a module called more than once ------------------------------------------------------------


class Twice(nn.Module):
    """One conv applied twice (weight sharing): 148 params, two calls' worth of MACs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(self.conv(x))


def test_module_called_twice_is_costed_twice() -> None:
    # per call: 3·3·4·4·8·8 = 9,216 MACs; the params (3·3·4·4 + 4 = 148) are counted once.
    # (The walk used to record each leaf's first call only: analytic 9,216 vs empirical 18,432.)
    check = cross_check(Request(Twice(), input=(4, 8, 8)))
    assert check.empirical.params == check.analytic.params == 148
    assert check.empirical.macs == 2 * 9_216
    assert check.analytic.macs == 2 * 9_216
    assert check.differences == ()


# --- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize("reference", [f"{FILE}:make", f"{MODULE}:make"])
def test_cli_count_empirical_json(reference: str) -> None:
    result = run(
        "count",
        reference,
        "--arg",
        "num_classes=7",
        "--input",
        "3,32,32",
        "--empirical",
        "--format",
        "json",
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert data["agree"] is True
    assert data["differences"] == []
    for side in ("analytic", "empirical"):
        assert data[side]["totals"]["params"] == CNN_PARAMS
        assert data[side]["totals"]["macs"] == CNN_MACS


def test_cli_count_analytic_table() -> None:
    result = run("count", f"{FILE}:make", "--arg", "num_classes=7", "--input", "3,32,32")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "5,655" in result.stdout or "5.66 K" in result.stdout


def test_cli_missing_file() -> None:
    assert_error(run("count", "tests/factories/no_such_file.py:make"), "no_such_file.py:make")


def test_cli_file_that_fails_to_import(tmp_path: Path) -> None:
    broken = tmp_path / "broken_model.py"
    broken.write_text("import torch\nraise ImportError('this module is broken')\n")
    err = assert_error(run("count", f"{broken}:make"), f"{broken}:make", "import failed")
    assert "this module is broken" in err


def test_cli_module_that_fails_to_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cnnprof_test_broken_mod.py").write_text("1 / 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    err = assert_error(
        run("count", "cnnprof_test_broken_mod:make"), "cnnprof_test_broken_mod:make", "import"
    )
    assert "ZeroDivisionError" in err


def test_cli_module_that_does_not_exist() -> None:
    assert_error(
        run("count", "cnnprof_no_such_package.models:make"), "cnnprof_no_such_package.models:make"
    )


def test_cli_factory_name_missing() -> None:
    assert_error(
        run("count", f"{FILE}:no_such_factory"), f"{FILE}:no_such_factory", "no_such_factory"
    )
    assert_error(run("count", f"{MODULE}:no_such_factory"), f"{MODULE}:no_such_factory")


def test_cli_factory_that_raises() -> None:
    err = assert_error(run("count", f"{FILE}:make_failing"), f"{FILE}:make_failing")
    assert "this factory always fails" in err


def test_cli_factory_with_a_wrong_argument() -> None:
    assert_error(run("count", f"{FILE}:make", "--arg", "depth=3"), f"{FILE}:make")


@pytest.mark.parametrize("empirical", [False, True])
def test_cli_forward_that_fails(empirical: bool) -> None:
    # The stem wants 3 input channels; give it 4.
    args = ["count", f"{FILE}:make", "--input", "4,32,32"] + (["--empirical"] if empirical else [])
    assert_error(run(*args), f"{FILE}:make", "forward failed")


def test_cli_torchvision_not_installed() -> None:
    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed")
    assert_error(
        run("count", "torchvision:resnet18"),
        "torchvision:resnet18",
        "needs torchvision: pip install",
    )


@pytest.mark.parametrize("option", [["--alpha", "0.5"], ["--depth", "2"], ["--phi", "1"]])
def test_cli_multiplier_on_an_outside_model(option: list[str]) -> None:
    assert_error(run("count", f"{FILE}:make", *option), option[0], "needs a spec")


# --- torchvision: its documented figures --------------------------------------------------------
#
# https://pytorch.org/vision/stable/models.html, "Table of all available classification weights":
# num_params and GFLOPS at 224×224. Its "GFLOPS" column is conv + linear multiply-accumulates
# (MACs), which is what cnnprof calls MACs.
TORCHVISION = {
    # name: (params, GMACs), weights ResNet50_Weights.IMAGENET1K_V1,
    # MobileNet_V2_Weights.IMAGENET1K_V1, EfficientNet_B0_Weights.IMAGENET1K_V1
    "resnet50": (25_557_032, 4.09),
    "mobilenet_v2": (3_504_872, 0.30),
    "efficientnet_b0": (5_288_548, 0.39),
}


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_torchvision_documented_figures(name: str) -> None:
    pytest.importorskip("torchvision")
    params, gmacs = TORCHVISION[name]
    result = run("count", f"torchvision:{name}", "--empirical", "--format", "json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert data["agree"] is True
    assert data["differences"] == []
    a, e = data["analytic"]["totals"], data["empirical"]["totals"]
    assert a["params"] == e["params"] == params
    assert a["macs"] == e["macs"]
    assert round(a["macs"] / 1e9, 2) == gmacs
    # torchvision's EfficientNet has StochasticDepth modules (identity in eval mode) that the
    # walk has no formula for: listed, not dropped, and nothing else may be missing.
    missing = data["analytic"].get("unsupported", [])
    assert all("(StochasticDepth)" in m for m in missing), missing


def test_torchvision_unknown_name() -> None:
    pytest.importorskip("torchvision")
    assert_error(run("count", "torchvision:no_such_net"), "torchvision:no_such_net")


# --- the input a model declares (timm's pretrained_cfg["input_size"], a factory's input_size) ---
# counted at it, --input and --resolution overriding it, and a failure that says why: the
# exception's type, where the model raised it, the size the model declares.

TIMM_LIKE = "tests.factories.declared:make_timm_like"
SIZED = "tests.factories.declared:make_sized"


def test_counted_at_the_size_timm_declares() -> None:
    # embed: 16·16·3·8 MACs per patch × 16·16 patches = 1,572,864; head: 2,048·10 = 20,480.
    out = run("count", TIMM_LIKE, "--format", "json")
    doc = json.loads(out.stdout)
    assert (doc["input"], doc["input_from"]) == ([3, 256, 256], "model config")
    assert doc["totals"]["macs"] == 1_572_864 + 20_480


def test_counted_at_the_size_a_factory_declares() -> None:
    profile = count(SIZED)
    assert (profile.inputs, profile.input_from) == (((3, 96, 128),), "model config")
    assert "input 3×96×128 (model config)" in run("count", SIZED).stdout


@pytest.mark.parametrize(
    ("options", "shape", "origin"),
    [
        ({"input": (3, 32, 32)}, (3, 32, 32), "--input"),
        ({"resolution": 64}, (3, 64, 64), "--resolution"),
    ],
)
def test_given_input_overrides_the_declared_one(options: dict, shape: tuple, origin: str) -> None:
    profile = count(SIZED, **options)
    assert (profile.inputs, profile.input_from) == ((shape,), origin)


def test_a_model_without_a_declared_size_is_counted_at_the_default() -> None:
    doc = json.loads(run("count", "tests/factories/custom_cnn.py:make", "--format", "json").stdout)
    assert (doc["input"], doc["input_from"]) == ([3, 224, 224], "default")


def test_a_spec_says_its_input_is_its_own() -> None:
    assert count("mobilenet").input_from == "model config"


def test_a_failure_names_the_exception_where_it_was_raised_and_the_declared_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CNNPROF_GUEST_IN_PROCESS", "1")  # the factory's calls counted here
    declared.CALLS.clear()
    err = assert_error(run("count", TIMM_LIKE, "--input", "3,224,224"), TIMM_LIKE, "forward failed")
    assert "AssertionError (at tests/factories/declared.py:" in err
    assert "in forward" in err and "try --input 3,256,256" in err
    # An assert fails on the CPU as well: the model is not rebuilt there (built once, on meta).
    assert declared.CALLS["make_timm_like"] == 1


@pytest.mark.parametrize(
    ("crop", "own", "frames", "convention", "size"),
    [
        (224, None, None, (3, 224, 224), (3, 224, 224)),  # a classifier's crop
        (518, 224, None, (3, 224, 224), (3, 224, 224)),  # ViT built at its own 224 (no weights)
        ([224, 224], None, 16, (3, 16, 112, 112), (3, 16, 224, 224)),  # MViT: 16 frames at 224²
        ([224, 224], None, 14, (3, 16, 112, 112), (3, 16, 224, 224)),  # S3D: 14 frames or more
        ([112, 112], None, None, (3, 16, 112, 112), (3, 16, 112, 112)),  # R3D-18
        ([224, 256], None, None, (3, 224, 224), None),  # no square crop: no size declared
        (None, None, None, (3, 224, 224), None),
    ],
)
def test_the_size_torchvision_weights_are_evaluated_at(crop, own, frames, convention, size):
    """torchvision's weights state their evaluation crop (`transforms.crop_size`) and, for
    video, the frames they need (`meta["min_temporal_size"]`: MViT 16, S3D 14); a clip takes
    the convention's 16 frames, or more where the weights need them."""
    from cnnprof.empirical.outside import evaluated_size

    assert evaluated_size(crop, own, frames, convention) == size
