"""An outside model counted at the input it declares (timm's ``pretrained_cfg["input_size"]``, a
factory's ``input_size``), `--input` overriding it, and a failure that says why: the exception's
type, where the model raised it, and the size the model declares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from conftest import assert_error, run  # noqa: E402

from cnnprof.api import count  # noqa: E402
from tests.factories import declared  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TIMM_LIKE = "tests.factories.declared:make_timm_like"
SIZED = "tests.factories.declared:make_sized"


@pytest.fixture(autouse=True)
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))


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


def test_a_failure_names_the_exception_where_it_was_raised_and_the_declared_size() -> None:
    declared.CALLS.clear()
    err = assert_error(run("count", TIMM_LIKE, "--input", "3,224,224"), TIMM_LIKE, "forward failed")
    assert "AssertionError (at tests/factories/declared.py:" in err
    assert "in forward" in err and "try --input 3,256,256" in err
    # An assert fails on the CPU as well: the model is not rebuilt there (built once, on meta).
    assert declared.CALLS["make_timm_like"] == 1
