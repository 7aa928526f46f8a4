"""`cnnprof export` and `Source.exported`: the cheapest registry model of every layer pattern
(`EXPORTED`) exported by torch and counted from the file by `cnnprof.deploy.graph` (no torch
there): MACs equal the analytic count exactly, params equal it or are fewer by exactly the
BatchNorm parameters the exporter folded (γ and β, less the bias each convolution gained; the
figures are the model's own, the analytic count, which tests/analytic holds to the papers). A
factory model and the dynamo exporter too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from cnnprof.api import profile_analytic  # noqa: E402
from cnnprof.api.export import export  # noqa: E402
from cnnprof.api.request import request  # noqa: E402
from cnnprof.api.sources import resolve  # noqa: E402
from cnnprof.catalog import catalog  # noqa: E402
from cnnprof.deploy.graph import FOLDED_BUFFERS_KEY, FOLDED_PARAMS_KEY, SOURCE_KEY  # noqa: E402
from cnnprof.errors import CnnprofError, LoadError, OptionError  # noqa: E402

pytestmark = pytest.mark.torch

FAST = ("lenet5", "mobilenet_v1", "resnet18")  # no BatchNorm; BN after every conv; a residual net
# Over the 2 GiB an ONNX file holds without external data (export refuses it, in one line).
TOO_LARGE = ("regnet_y_128gf",)
REGISTRY = [e.name for e in catalog(None) if e.name not in TOO_LARGE]
# The cheapest model of every layer pattern the registry has: the larger members of a family
# repeat their smallest one's layers at other widths and depths, and export and count them by
# the same nodes (`test_every_registry_layer_pattern_is_exported` holds the list complete).
EXPORTED = (
    *FAST,
    "alexnet",  # 11×11 stem, LocalResponseNorm, dropout and fc
    "googlenet",  # inception branches, LocalResponseNorm
    "vgg11",  # plain 3×3 stacks, three fc
    "squeezenet1_0",  # fire modules, 7×7 stem
    "squeezenet1_1",  # 3×3 stem
    "shufflenet_v2_x0_5",  # channel split and shuffle
    "mobilenet_v2",  # ReLU6, inverted residuals
    "mobilenet_v3_small",  # hard-swish, squeeze-and-excitation
    "mobilenet_v3_small_minimal",  # neither
    "mnasnet_a1",  # SE, 5×5 depthwise
    "mnasnet_b1",  # no SE
    "efficientnet_b0",  # SiLU, SE, stochastic depth
    "efficientnet_v2_s",  # fused MBConv
    "regnet_x_400mf",  # grouped convolutions
    "regnet_y_400mf",  # grouped convolutions with SE
    "resnet50",  # bottlenecks
    "resnet50_v1_5",  # the stride on the 3×3
    "resnext50_32x4d",  # grouped bottlenecks
    "densenet121",  # dense concatenation, transitions
    "convnext_tiny",  # 7×7 depthwise, LayerNorm, GELU, layer scale
)


def _exported_and_counted(name: str, tmp_path: Path, exporter: str = "torchscript"):
    check = export(request(name), tmp_path / f"{name}.onnx", exporter=exporter)
    assert check.file.complete, check.file.missing
    assert check.macs_difference == 0, (check.model.macs, check.file.macs)
    assert check.params_difference == check.exported.folded_params, (
        check.model.params,
        check.file.params,
        check.exported.folded_params,
    )
    assert check.agree
    return check


@pytest.mark.parametrize("name", FAST)
def test_a_registry_model_exported_counts_as_the_model(name: str, tmp_path: Path):
    _exported_and_counted(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in EXPORTED if n not in FAST])
def test_every_layer_pattern_exported_counts_as_the_model(name: str, tmp_path: Path):
    _exported_and_counted(name, tmp_path)


def _patterns(name: str) -> set[tuple]:
    """A model's layer patterns: each row's op, kernel, bias and norm, and FLOP categories."""
    return {
        (
            r.op,
            r.kernel_text,
            bool(r.bias_params),
            bool(r.norm_params),
            *sorted(r.flops_by_category),
        )
        for r in profile_analytic(request(name)).layers
    }


def test_every_registry_layer_pattern_is_exported():
    """A model added to the registry with a layer pattern no model of `EXPORTED` has fails here:
    add it (or the cheapest model that has it) to `EXPORTED`."""
    exported = set().union(*(_patterns(name) for name in EXPORTED))
    missing = {n: _patterns(n) - exported for n in REGISTRY}
    assert {n: p for n, p in missing.items() if p} == {}


# LocalResponseNorm: the TorchScript exporter writes it with an `If` on its input's rank (counted
# through the branch taken, `cnnprof.deploy.branch`), the dynamo exporter as plain arithmetic.
@pytest.mark.slow
@pytest.mark.parametrize("name", ["alexnet", "googlenet"])
def test_the_dynamo_exporter_counts_local_response_norm_alike(name: str, tmp_path: Path):
    _exported_and_counted(name, tmp_path, exporter="dynamo")


def test_mobilenet_folds_every_batchnorm_and_says_so_in_the_file(tmp_path: Path):
    """MobileNet v1: 27 conv + BN pairs, no conv bias (Howard et al. 2017, Table 1). Folding
    removes γ and β (2 per channel) and gives each conv a bias (1 per channel): the file has
    one parameter per BatchNorm channel fewer; the running mean and variance (2 per channel)
    are folded too."""
    check = _exported_and_counted("mobilenet_v1", tmp_path)
    exported = check.exported
    assert len(exported.folded) == 27
    assert exported.folded_params == exported.gained == 10_944
    assert exported.folded_buffers == 2 * 10_944
    props = {p.key: p.value for p in onnx.load(check.path).metadata_props}
    assert props[SOURCE_KEY] == "mobilenet_v1"
    assert props[FOLDED_PARAMS_KEY] == "10944" and props[FOLDED_BUFFERS_KEY] == "21888"
    assert check.exported.opset == 17 and check.exported.exporter == "torchscript"


def test_the_dynamo_exporter_counts_alike(tmp_path: Path):
    check = _exported_and_counted("resnet18", tmp_path, exporter="dynamo")
    assert check.exported.opset == 18 and check.exported.producer.endswith(" dynamo")


def test_a_factory_model_is_exported(tmp_path: Path):
    """tests/factories/custom_cnn.py: its BatchNorm follows a conv whose forward applies a ReLU,
    so nothing is folded and the params are equal."""
    check = _exported_and_counted("tests.factories.custom_cnn:make", tmp_path)
    assert check.exported.folded == () and check.params_difference == 0


def test_a_source_gives_its_model_in_memory_at_its_batch():
    exported = resolve(request("lenet5", batch=3)).exported()
    graph = onnx.load_from_string(exported.data).graph
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_value == 3
    assert exported.source == "lenet5"


def test_an_onnx_file_gives_itself(tmp_path: Path):
    path = tmp_path / "lenet5.onnx"
    export(request("lenet5"), path)
    given = resolve(request(str(path))).exported()
    assert onnx.load_from_string(given.data).graph.node
    assert given.opset == 17 and given.exporter.startswith("torch ")


@pytest.mark.parametrize(
    ("options", "error", "said"),
    [
        ({"exporter": "tflite"}, OptionError, "--exporter tflite: expected one of"),
        ({"opset": 21}, OptionError, "--opset 21: the torchscript exporter writes opsets 9 to 20"),
        ({"exporter": "dynamo", "opset": 17}, OptionError, "writes opsets 18 to 23"),
    ],
)
def test_options_an_exporter_cannot_honour_are_refused(
    options: dict, error: type[CnnprofError], said: str
):
    with pytest.raises(error, match=said.replace("(", r"\(")):
        resolve(request("lenet5")).exported(**options)


def test_a_failing_export_is_one_line_naming_the_model(tmp_path: Path):
    with pytest.raises(LoadError, match=r"^tests\.factories\.export_fails:make: the torchscript"):
        export(request("tests.factories.export_fails:make"), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_a_model_over_two_gib_is_refused_before_it_is_built(tmp_path: Path):
    with pytest.raises(OptionError, match="over the 2 GiB an ONNX file holds"):
        export(request("regnet_y_128gf"), tmp_path / "big.onnx")
