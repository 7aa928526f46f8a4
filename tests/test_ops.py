"""The op vocabulary: one formula and one builder per op, each registered exactly once."""

from __future__ import annotations

import pytest

from cnnprof.analytic.formulas import FORMULAS
from cnnprof.spec.ops import OPS, op_table


def test_formula_table_covers_the_vocabulary():
    assert set(FORMULAS) == set(OPS)


def test_builder_table_covers_the_vocabulary():
    pytest.importorskip("torch")
    from cnnprof.empirical.build import BUILDERS

    assert set(BUILDERS) == set(OPS)


def test_op_table_refuses_duplicates_strangers_and_gaps():
    entries = [(op, op) for op in OPS]
    assert dict(op_table(entries, "thing")) == {op: op for op in OPS}
    with pytest.raises(ValueError, match="registered twice"):
        op_table([*entries, ("conv", "again")], "thing")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        op_table([*entries, ("teleport", "x")], "thing")
    with pytest.raises(ValueError, match="no thing for ops: conv"):
        op_table([e for e in entries if e[0] != "conv"], "thing")
