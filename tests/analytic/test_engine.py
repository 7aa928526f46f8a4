"""The analytic engine's shortcuts change nothing: repeats reuse their rows only when the formula
would give the same ones, and `evolve` is `dataclasses.replace`."""

from __future__ import annotations

import dataclasses

import pytest

from cnnprof.analytic.engine import profile
from cnnprof.analytic.formulas import FORMULAS
from cnnprof.arch.model import Arch, Shape, evolve
from cnnprof.arch.multipliers import Multipliers
from cnnprof.arch.registry import default_registry
from cnnprof.results.profile import LayerCost

OPTIONS = [{}, {"depth": 1.7}, {"alpha": 0.5, "resolution": 96}]


def every_layer_by_its_formula(arch: Arch) -> tuple[LayerCost, ...]:
    rows: list[LayerCost] = []
    shape = arch.input
    for layer in arch.layers:
        produced, shape = FORMULAS[layer.op](layer, shape)
        rows.extend(produced)
    return tuple(rows)


@pytest.mark.parametrize("options", OPTIONS, ids=["default", "depth", "alpha-res"])
def test_repeats_reuse_rows_only_when_the_formula_agrees(options):
    registry = default_registry()
    for name in registry.names():
        entry = registry.get(name)
        rule, width = entry.family.channels, entry.variant.width * options.get("alpha", 1.0)
        if rule.widths and rule.column(width) is None:
            continue  # a width ShuffleNetV2's table lacks (0.25, 0.75)
        arch = entry.arch(Multipliers(**options))
        assert profile(arch).layers == every_layer_by_its_formula(arch), name


def test_evolve_is_replace():
    row = LayerCost(path="a", op="conv", in_shape=Shape(3, 8, 8), out_shape=Shape(4, 8, 8))
    assert evolve(row, path="b", live=7) == dataclasses.replace(row, path="b", live=7)
    assert row.path == "a"
    with pytest.raises(TypeError, match="no field 'paht'"):
        evolve(row, paht="b")
