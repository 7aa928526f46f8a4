"""What an outside model's forward returns (one tensor, a tuple, a dict) and the cross-check's
verdict (`agree`, `complete`, `not_costed`), on the factories under tests/factories/; every
figure is worked out by hand from the layer shapes, as in test_factories.py.

linear: params in·out (+ out), MACs in·out per leading position; a product (L, D)·(D, S): L·S·D.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from conftest import run  # noqa: E402
from test_factories import offline  # noqa: E402, F401  (autouse: at the root, no network)
from test_formats import check_document  # noqa: E402

from cnnprof.api import Request, cross_check  # noqa: E402
from cnnprof.api.count import profile_analytic  # noqa: E402


def count_json(*args: str) -> dict:
    result = run("count", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    check_document(document)  # every field, the new ones included, is in docs/formats.md
    return document


@pytest.mark.parametrize(
    ("factory", "outputs", "header"),
    [
        ("outputs.py:make_tuple", {"0": [7], "1": [3]}, "outputs 0: 7, 1: 3"),
        (
            "outputs.py:make_dict",
            {"logits": [7], "aux.0": [3], "aux.1": [4, 2, 2]},
            "outputs logits: 7, aux.0: 3, aux.1: 4×2×2",
        ),
    ],
)
def test_several_outputs_by_name(factory: str, outputs: dict, header: str) -> None:
    # conv 3→4 1×1 + bias: 16 params, MACs 12·4 = 48; head 4→7: 35, 28; aux 4→3: 15, 12
    reference = f"tests/factories/{factory}"
    document = count_json(reference, "--input", "3,2,2")
    assert document["outputs"] == outputs
    # the first returned tensor, not the last row's (aux: 3 × 1 × 1)
    assert document["output"] == [7, 1, 1]
    assert (document["totals"]["params"], document["totals"]["macs"]) == (66, 88)
    assert header in run("count", reference, "--input", "3,2,2").output
    check = cross_check(Request(reference, input=(3, 2, 2)))
    assert check.agree and check.complete
    assert check.analytic.outputs == check.empirical.outputs


def test_one_tensor_is_the_output_unnamed() -> None:
    # the forward returns q·kᵀ: (N, 5, 5), 5 × 5 per image; a lone tensor has no name
    profile = profile_analytic(Request("tests/factories/gram.py:make", input=(5, 4)))
    assert profile.outputs == (("", (5, 5)),) and not profile.several_outputs
    assert profile.output.as_list() == [5, 5, 1]  # (L, C) as a row shows it: C × L × 1
    assert "outputs" not in count_json("tests/factories/gram.py:make", "--input", "5,4")


def test_a_product_the_walk_cannot_see_is_incomplete_and_no_agreement() -> None:
    # q, k: Linear 4→3 without bias on 5 tokens: 12 params, 60 MACs each; q·kᵀ in Gram's own
    # forward: 5·5·3 = 75 MACs, which only the dispatch count sees
    check = cross_check(Request("tests/factories/gram.py:make", input=(5, 4)))
    assert (check.analytic.macs, check.empirical.macs) == (120, 195)
    assert not check.agree and not check.complete
    assert check.not_costed == {"analytic": ("gram",), "empirical": ()}
    assert check.analytic.missing == ("not seen by the walk: gram",)
    document = count_json("tests/factories/gram.py:make", "--input", "5,4", "--empirical")
    assert (document["agree"], document["complete"]) == (False, False)
    assert document["analytic"]["complete"] is False
    assert document["not_costed"] == {"analytic": ["gram"], "empirical": []}
    shown = run("count", "tests/factories/gram.py:make", "--input", "5,4", "--empirical").output
    assert "params or MACs DISAGREE; analytic misses gram" in shown


def test_both_sides_missing_the_lstm_is_no_agreement() -> None:
    # counted on the CPU (the forward branches on the data): LSTM 4→3 4·(3·4 + 3·3 + 3 + 3) =
    # 108 params, fc 3→2 8 params and 6 MACs; the LSTM's fused kernel is costed by neither side,
    # so params and MACs are equal, and still no agreement
    check = cross_check(Request("tests/factories/lstm_head.py:make", input=(5, 4)))
    assert check.empirical.counted_on.startswith("cpu with real tensors")
    assert (check.analytic.params, check.empirical.params) == (116, 116)
    assert (check.analytic.macs, check.empirical.macs) == (6, 6)
    assert check.equal and not check.agree and not check.complete
    assert check.not_costed["analytic"] == ("lstm (LSTM)",)
    (missed,) = check.not_costed["empirical"]
    assert missed.endswith(" in lstm ×1")
    document = count_json("tests/factories/lstm_head.py:make", "--input", "5,4", "--empirical")
    assert (document["agree"], document["complete"]) == (False, False)
    shown = run("count", "tests/factories/lstm_head.py:make", "--input", "5,4", "--empirical")
    assert "NOT AGREED" in shown.output and "analytic misses lstm (LSTM)" in shown.output


def test_a_registry_model_keeps_its_formulas_output() -> None:
    check = cross_check(Request("mobilenet"))
    assert check.agree and check.complete
    assert check.not_costed == {"analytic": (), "empirical": ()}
    assert check.analytic.output == check.empirical.output
    assert check.analytic.outputs == () and check.empirical.outputs == ()
