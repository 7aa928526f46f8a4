"""Outside-model patterns, one factory each (tests/factories/), counted by default (dispatch level)
and by the formula walk; every figure below is worked out by hand from the layer shapes.

conv:   params k·…·(C_in/groups)·C_out (+ C_out bias), MACs that × output positions
linear: params in·out (+ out), MACs in·out per leading position
attention (L queries, S keys, width E): MACs q,k,v projections L·E² + 2·S·E², Q·Kᵀ L·S·E,
        P·V L·S·E, output projection L·E²; params in-projection 3E² + 3E, out-projection E² + E
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from conftest import run  # noqa: E402

from cnnprof.api import Request, cross_check  # noqa: E402
from cnnprof.api.count import profile_analytic  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """References resolve from the repository root, and no test here may open a socket."""
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("cnnprof touched the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def counted(factory: str, *inputs: tuple[int, ...]):
    """Default count and formula walk of ``tests/factories/<factory>``; both must agree."""
    check = cross_check(Request(f"tests/factories/{factory}", input=inputs))
    assert check.agree, check.differences
    assert check.empirical.complete, check.empirical.missing
    assert check.analytic.unsupported == ()
    return check.empirical


# (factory, inputs, params, MACs), each derived in the comment above it.
CASES = [
    # conv 3→4 1×1 no bias on 2×2: params 3·4 = 12, MACs 12·4 = 48; BatchNormAct γ, β: 2·4 = 8
    ("bn_act.py:make", [(3, 2, 2)], 12 + 8, 48),
    # conv 4→4 1×1 no bias on 2×2: params 16, MACs 16·4 = 64; γ on the block: 4
    ("layer_scale.py:make", [(4, 2, 2)], 16 + 4, 64),
    # embed Linear 3→4 on 4 tokens: params 12 + 4, MACs 4·12 = 48; class token 4;
    # head Linear 4→2 on the class token: params 8 + 2, MACs 8
    ("class_token.py:make", [(4, 3)], 16 + 4 + 10, 48 + 8),
    # conv 3→2 3×3 on the 4×4 map padded to 6×6 in forward → 4×4: params 54, MACs 54·16 = 864
    ("same_pad.py:make", [(3, 4, 4)], 54, 864),
    # conv 3→4 1×1 no bias on 4×4: params 12, MACs 12·16 = 192; then two blurs, each a fixed
    # 3×3 filter buffer (no params) per channel, groups 4, stride 2, reflect pad 1: the 4×4 map
    # padded to 6×6 → 2×2, MACs 9·4·4 = 144; the 2×2 map padded to 4×4 → 1×1, MACs 9·4·1 = 36
    ("blur_pool.py:make", [(3, 4, 4)], 12, 192 + 144 + 36),
    # conv 3→4 1×1 no bias on 2×2: params 12, MACs 48; the head Linear 16→2 (32 + 2 params)
    # runs on no row: MACs 0
    ("empty_head.py:make", [(3, 2, 2)], 12 + 34, 48),
    # Linear 4→5 on (2, 3, 4): params 20 + 5, MACs 2·3·4·5 = 120
    ("linear_nd.py:make", [(2, 3, 4)], 25, 120),
    # Conv3d 3→2 3×3×3 pad 1 on 4×4×4: params 27·3·2 + 2 = 164, MACs 162·64 = 10,368
    ("conv3d.py:make", [(3, 4, 4, 4)], 164, 10_368),
    # one conv 3→2 1×1 with bias shared by two 2×2 frames: params 6 + 2, MACs 2·(6·4) = 48
    ("two_inputs.py:make", [(3, 2, 2), (3, 2, 2)], 8, 48),
    # conv 3→2 1×1 with bias after a leaf that returns a plain object: params 8, MACs 6·4 = 24
    ("non_tensor.py:make", [(3, 2, 2)], 8, 24),
    # conv 3→2 1×1 no bias on 2×2: params 6, MACs 24; the aux Linear 2→3 (6 + 3) never runs
    ("aux_head.py:make", [(3, 2, 2)], 6 + 9, 24),
    # d=8, 2 heads, feed-forward 16, 5 tokens: attention params 3·64 + 24 + 64 + 8 = 288,
    # linear1 8·16 + 16 = 144, linear2 16·8 + 8 = 136, two LayerNorms 2·16 → 600.
    # MACs: projections 3·5·64 = 960, Q·Kᵀ 5·5·8 = 200, P·V 200, out 5·64 = 320,
    # linear1 5·128 = 640, linear2 640 → 2,960
    ("transformer.py:make", [(5, 8)], 600, 2_960),
]


@pytest.mark.parametrize(("factory", "inputs", "params", "macs"), CASES)
def test_factory(factory: str, inputs: list[tuple[int, ...]], params: int, macs: int) -> None:
    profile = counted(factory, *inputs)
    assert (profile.params, profile.macs) == (params, macs)
    assert profile.extra_params == 0  # every parameter sits in a row


def test_attention() -> None:
    # MHA E=4, L=S=3: projections 3·3·16 = 144, Q·Kᵀ 3·3·4 = 36, P·V 36, out 3·16 = 48 → 264;
    # params 3·16 + 12 + 16 + 4 = 80. SDPA on 2 heads of width 2: 2·(3·3·2 + 3·3·2) = 72,
    # called in the root's forward: the default counts it, the module walk cannot see it and
    # the cross-check names the row.
    check = cross_check(Request("tests/factories/attention.py:make", input=(3, 4)))
    assert (check.empirical.params, check.empirical.macs) == (80, 264 + 72)
    assert (check.analytic.params, check.analytic.macs) == (80, 264)
    assert [(d.path, d.right) for d in check.differences] == [("(root)", 72)]


def test_a_buffer_only_added_is_no_filter() -> None:
    # conv 3→4 1×1 no bias on 2×2: params 12, MACs 48; the offset's add does no product, so the
    # walk gives its (1, 4, 2, 2) buffer no convolution and names the module as having no formula
    check = cross_check(Request("tests/factories/blur_pool.py:make_offset", input=(3, 2, 2)))
    assert check.agree and check.analytic.macs == 48
    assert check.analytic.unsupported == ("1 (Offset)",)


def test_aux_head_is_named_not_run() -> None:
    assert counted("aux_head.py:make", (3, 2, 2)).not_run_in_eval == ("aux",)


def test_attention_costs_the_same_on_cpu() -> None:
    """On the CPU torch runs fused attention kernels; they cost what meta's products do."""
    from cnnprof.empirical.count import count
    from tests.factories.attention import make

    assert count(make(), (3, 4), on="real").macs == 264 + 72


@pytest.mark.parametrize("factory", ["not_meta.py:make_built", "not_meta.py:make_branching"])
def test_models_that_cannot_live_on_meta(factory: str) -> None:
    # conv 3→4 1×1 with bias on 2×2: params 12 + 4 = 16, MACs 12·4 = 48
    profile = profile_analytic(Request(f"tests/factories/{factory}", input=(3, 2, 2)))
    assert (profile.params, profile.macs) == (16, 48)
    expected = "meta (built on the CPU" if factory.endswith("built") else "cpu with real tensors"
    assert profile.counted_on.startswith(expected)
    if factory.endswith("branching"):  # its forward depends on the data: the output says so
        assert profile.counted_on.endswith(
            "random input 3×2×2 (seed 0): what depends on the "
            "data (how many proposals a detector keeps) is "
            "counted for this input only"
        )


def test_budget_fails_on_the_transformers_true_params(tmp_path: Path) -> None:
    # 600 parameters (above) against a 500 budget; the 384 a leaf walk without attention saw
    # would have passed.
    budget = tmp_path / "budget.yaml"
    budget.write_text(
        "models:\n  - model: tests/factories/transformer.py:make\n"
        "    input: [5, 8]\n    max_params: 500\n",
        encoding="utf-8",
    )
    result = run("check", str(budget))
    assert result.exit_code == 1, result.output
    budget.write_text(budget.read_text().replace("500", "600"), encoding="utf-8")
    assert run("check", str(budget)).exit_code == 0


def test_check_fails_an_incomplete_count_unless_allowed(tmp_path: Path) -> None:
    budget = tmp_path / "budget.yaml"
    budget.write_text(
        "models:\n  - model: tests/empirical/test_empirical.py:InverseErf\n"
        "    input: [3, 8, 8]\n    max_params: 1000\n",
        encoding="utf-8",
    )
    result = run("check", str(budget), "--format", "json")
    assert result.exit_code == 1 and '"missing"' in result.output
    budget.write_text(budget.read_text() + "    allow_incomplete: true\n", encoding="utf-8")
    assert run("check", str(budget)).exit_code == 0


def test_input_of_any_rank_and_max_depth_on_the_command_line() -> None:
    result = run(
        "count",
        "tests/factories/conv3d.py:make",
        "--input",
        "3,4,4,4",
        "--format",
        "json",
        "--layers",
        "--max-depth",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert '"inputs": [\n    [\n      3,\n      4,\n      4,\n      4' in result.output
    assert '"macs": 10368' in result.output


LAYERS = "import torch.nn as nn\n\n\ndef block():\n    return nn.Conv2d(3, 8, 3)\n"
# A model file of a user's package importing its sibling both ways a repository's code does.
MODEL = "import torch.nn as nn\nfrom {package}.layers import block\nfrom layers import block as b\n"
MODEL += "\n\ndef factory():\n    return nn.Sequential(block(), nn.ReLU())\n"


def test_a_model_file_imports_its_own_package_and_siblings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pkg/model.py:factory` run from the repository's root, as a CI guard runs it: the file's
    package imports (the working directory, as `python -m`) and so do its siblings (the file's
    folder, as `python FILE`)."""
    package = f"userpkg_{tmp_path.name.replace('-', '_')}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "layers.py").write_text(LAYERS)
    (tmp_path / package / "model.py").write_text(MODEL.format(package=package))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    result = run("count", f"{package}/model.py:factory", "--input", "3,8,8", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert '"params": 224' in result.stdout  # 8 × 3 × 3 × 3 weights + 8 biases
