"""The one module-type table (`empirical.module_types`) that the dispatch count and the walk over an
outside model both read: each type once, each op in the row vocabulary, each formula's rows of the
op the count gives the same module, and torch.nn's layer types covered or listed as not covered.
"""

from __future__ import annotations

import inspect

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from torch import nn  # noqa: E402
from torch.nn.modules import (  # noqa: E402
    activation,
    batchnorm,
    conv,
    dropout,
    flatten,
    instancenorm,
    linear,
    normalization,
    pooling,
)

from cnnprof.arch.model import Shape  # noqa: E402
from cnnprof.empirical.module_types import (  # noqa: E402
    MODULE_TYPES,
    Call,
    ModuleKind,
    kernel_of,
    kind_of,
    module_op,
    module_table,
)
from cnnprof.results.profile import LayerCost  # noqa: E402

# One module of each type in the table, with the input it is called with (batch 1).
SAMPLES = [
    (nn.ConvTranspose2d(4, 8, 3, stride=2), [(1, 4, 8, 8)]),
    (nn.Conv2d(4, 8, 3, bias=False), [(1, 4, 8, 8)]),
    (nn.Conv1d(4, 4, 3, groups=4), [(1, 4, 16)]),
    (nn.Linear(8, 4), [(1, 8)]),
    (nn.MultiheadAttention(8, 2, batch_first=True), [(1, 5, 8)] * 3),
    (nn.BatchNorm2d(4), [(1, 4, 8, 8)]),
    (nn.GroupNorm(2, 4), [(1, 4, 8, 8)]),
    (nn.LayerNorm(8), [(1, 3, 8)]),
    (nn.LocalResponseNorm(3), [(1, 4, 8, 8)]),
    (nn.MaxPool1d(3), [(1, 4, 9)]),
    (nn.AvgPool2d(2), [(1, 4, 8, 8)]),
    (nn.AdaptiveAvgPool2d(1), [(1, 4, 8, 8)]),
    (nn.AdaptiveAvgPool2d((2, 2)), [(1, 4, 8, 8)]),
    (nn.ReLU(), [(1, 4, 8, 8)]),
    (nn.ReLU6(), [(1, 4, 8, 8)]),
    (nn.Sigmoid(), [(1, 4, 8, 8)]),
    (nn.SiLU(), [(1, 4, 8, 8)]),
    (nn.Tanh(), [(1, 4, 8, 8)]),
    (nn.Hardswish(), [(1, 4, 8, 8)]),
    (nn.Hardsigmoid(), [(1, 4, 8, 8)]),
    (nn.LeakyReLU(), [(1, 4, 8, 8)]),
    (nn.GELU(), [(1, 4, 8, 8)]),
    (nn.Softmax(dim=1), [(1, 4, 8, 8)]),
    (nn.PReLU(), [(1, 4, 8, 8)]),
    (nn.ELU(), [(1, 4, 8, 8)]),
    (nn.Upsample(scale_factor=2), [(1, 4, 8, 8)]),
    (nn.Dropout2d(), [(1, 4, 8, 8)]),
    (nn.Flatten(), [(1, 4, 8, 8)]),
    (nn.Identity(), [(1, 4, 8, 8)]),
]

# torch.nn layer types the table does not know: the dispatch count costs their ops (or lists them
# as unsupported) in a row of op "block"; the walk lists such a module as having no formula.
NOT_COVERED = {
    *("Bilinear", "CrossMapLRN2d", "RMSNorm", "Unflatten"),
    *("MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "FractionalMaxPool2d", "FractionalMaxPool3d"),
    *("LPPool1d", "LPPool2d", "LPPool3d"),
    *("AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d"),
    *("Threshold", "RReLU", "Hardtanh", "Mish", "CELU", "SELU", "GLU", "Hardshrink", "LogSigmoid"),
    *("Softplus", "Softshrink", "Softsign", "Tanhshrink", "Softmin", "Softmax2d", "LogSoftmax"),
}
LAYER_MODULES = (conv, linear, batchnorm, instancenorm, normalization, pooling, dropout, flatten)


def _table_type(module: nn.Module) -> type:
    return next(cls for cls in type(module).__mro__ if cls in MODULE_TYPES)


def test_module_table_refuses_a_type_twice_and_an_op_outside_the_vocabulary():
    relu = ModuleKind("relu")
    assert dict(module_table([(nn.ReLU, relu)])) == {nn.ReLU: relu}
    with pytest.raises(ValueError, match="ReLU: registered twice"):
        module_table([(nn.ReLU, relu), (nn.ReLU, ModuleKind("relu6"))])
    with pytest.raises(ValueError, match="not in LAYER_OPS"):
        module_table([(nn.ReLU, ModuleKind("teleport"))])


def test_the_samples_cover_every_type_of_the_table():
    assert {_table_type(m) for m, _ in SAMPLES} == set(MODULE_TYPES)


@pytest.mark.parametrize(("module", "shapes"), SAMPLES, ids=lambda v: type(v).__name__)
def test_a_formula_rows_its_module_under_the_op_the_count_gives_it(module, shapes):
    """The walk's row of a module has the op the dispatch count's row of it has."""
    kind = kind_of(module)
    assert kind is not None
    if kind.formula is None:
        assert module_op(module) == kind.op
        return
    args = [torch.rand(*s) for s in shapes]
    out = module(*args)
    out = out[0] if isinstance(out, tuple) else out
    row = kind.formula("m", module, Call(tuple(a.shape for a in args), out.shape))
    assert row.op == module_op(module)


def test_dropout_of_every_rank_is_a_dropout_row():
    """Both readers agree on `Dropout2d` (the count once read it as a block)."""
    for module in (nn.Dropout(), nn.Dropout1d(), nn.Dropout2d(), nn.Dropout3d(), nn.AlphaDropout()):
        assert module_op(module) == "dropout"


def test_torch_nn_layer_types_are_covered_or_listed_as_not():
    """A layer type torch adds is a decision: a kind in the table, or a name here."""
    found = set()
    for module in (*LAYER_MODULES, activation):
        for name in module.__all__:
            cls = getattr(module, name)
            if inspect.isclass(cls) and issubclass(cls, nn.Module):
                covered = any(c in MODULE_TYPES for c in cls.__mro__)
                assert covered != (name in NOT_COVERED), name
                found.add(name)
    assert found >= NOT_COVERED


def test_a_kernel_given_as_one_int_has_the_modules_own_dimensions():
    """``MaxPool1d(3)`` has a 1-D kernel (it was once read as 3×3), shown as the rows show it."""
    assert kernel_of(nn.MaxPool1d(3)) == (3,)
    assert kernel_of(nn.MaxPool2d(3)) == (3, 3)
    assert kernel_of(nn.AvgPool3d(2)) == (2, 2, 2)
    assert kernel_of(nn.Conv2d(4, 4, (1, 7))) == (1, 7)
    assert kernel_of(nn.ReLU()) == ()
    shape = Shape(1, 1, 1)
    kernels = ((3,), (3, 3), (2, 2, 2), (1, 7), ())
    texts = [LayerCost("p", "maxpool", shape, shape, kernel=k).kernel_text for k in kernels]
    assert texts == ["3", "3×3", "2×2×2", "1×7", ""]


def test_the_counters_run_are_the_counters_the_options_name():
    """One vocabulary: `--counter` offers `vocab.COUNTERS`, and each has exactly one counter."""
    from cnnprof.empirical.count import COUNTERS as RUN
    from cnnprof.results.vocab import COUNTERS

    assert tuple(RUN) == COUNTERS
