"""The op vocabulary: one formula and one builder per op, each registered exactly once."""

from __future__ import annotations

import pytest

from cnnprof.analytic.engine import profile as analytic_profile
from cnnprof.arch.load import parse_family
from cnnprof.arch.ops import OPS, REQUIRED, op_table
from cnnprof.arch.scale import resolve
from cnnprof.results.profile import LAYER_OPS, differences


def one_row_spec(op: str) -> str:
    """A spec of one row of ``op`` (path "1") with every required field set to 8, after a stem
    convolution on a 16×16 input (a global pool before an fc, which takes a vector)."""
    required = {n: 8 for n, f in OPS[op].items() if f.default is REQUIRED and not f.inherit}
    fields = ", ".join(f"{k}: {v}" for k, v in required.items())
    row = f"{{op: {op}{', ' + fields if fields else ''}}}"
    stem = "{op: gap}" if op == "fc" else "{op: conv, out: 8}"
    return f"family: one\npaper: p\ninput: [3, 16, 16]\nlayers:\n  - {stem}\n  - {row}\n"


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_op_has_a_formula_that_costs_its_row(op: str):
    """The formula registered for each op costs a row of that op: rows under its path, each of a
    known kind, no negative count."""
    arch = resolve(parse_family(one_row_spec(op), "one.yaml"), "one")
    profile = analytic_profile(arch)
    own = [r for r in profile.layers if r.path.split(".")[0] == "1"]
    assert own, f"{op}: its formula produced no row"
    assert all(r.op in LAYER_OPS for r in own)
    assert all(min(r.params, r.macs, r.flops) >= 0 for r in own)


@pytest.mark.torch
@pytest.mark.parametrize("op", sorted(OPS))
def test_every_op_has_a_builder_that_agrees_with_its_formula(op: str):
    """The builder registered for each op makes a module whose counted params and MACs equal the
    formula's, row for row."""
    torch = pytest.importorskip("torch")  # noqa: F841
    from cnnprof.empirical.build import BUILDERS, build
    from cnnprof.empirical.count import count

    assert op in BUILDERS
    arch = resolve(parse_family(one_row_spec(op), "one.yaml"), "one")
    analytic = analytic_profile(arch)
    empirical = count(build(arch), arch.input, rows=[r.path for r in analytic.layers])
    assert differences(analytic, empirical) == []


def test_op_table_refuses_duplicates_strangers_and_gaps():
    entries = [(op, op) for op in OPS]
    assert dict(op_table(entries, "thing")) == {op: op for op in OPS}
    with pytest.raises(ValueError, match="registered twice"):
        op_table([*entries, ("conv", "again")], "thing")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        op_table([*entries, ("teleport", "x")], "thing")
    with pytest.raises(ValueError, match="no thing for ops: conv"):
        op_table([e for e in entries if e[0] != "conv"], "thing")
