"""What each nn.Module type is: one table, module type → its row's op and the closed-form formula
that costs one call of it. The dispatch-level count reads the op (`module_op`); the walk over an
outside model's modules reads both (`kind_of`). Lookup is along the class hierarchy, so a
subclass of ``nn.Conv2d`` is a convolution and a BatchNorm subclass with children a BatchNorm.

A leaf of no known type whose only tensor is a filter buffer (timm's anti-aliasing
``BlurPool2d``: ``F.conv2d(x, self.filt, groups=C)`` in its forward) is costed as a convolution
with that filter (`held_formula`), by the filter's shape and the real output's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from math import prod
from types import MappingProxyType

import torch
from torch import nn

from cnnprof.analytic import elementwise as ew
from cnnprof.analytic import layers
from cnnprof.arch.model import Shape, shape_of
from cnnprof.empirical.op_costs import GELU_FLOPS, SOFTMAX_FLOPS
from cnnprof.results.profile import LAYER_OPS, LayerCost


@dataclass(frozen=True)
class Call:
    """One call of a module: the shapes of its tensor arguments and of its (first) output,
    batch first."""

    args: tuple[torch.Size, ...]
    out: torch.Size
    batch: int = 1  # images in the run; a leading dim larger than it holds several per image

    def per_image(self, size: torch.Size) -> int:
        """How many of this call's items belong to one image (detection heads run on every
        proposal of an image at once: 1000 rows for one image; none when no proposal passed)."""
        return max(size[0] // self.batch, 1) if size[0] else 0

    @property
    def x(self) -> Shape:
        return shape_of(self.args[0][1:])

    @property
    def y(self) -> Shape:
        return shape_of(self.out[1:])


ModuleFormula = Callable[[str, nn.Module, Call], LayerCost]


@dataclass(frozen=True)
class ModuleKind:
    """A module type's row op (a name, or read from the module: a convolution's kind depends on
    its groups) and the formula for one call (None: only the dispatch count costs it)."""

    op: str | Callable[[nn.Module], str]
    formula: ModuleFormula | None = None

    def op_of(self, module: nn.Module) -> str:
        return self.op if isinstance(self.op, str) else self.op(module)


def module_table(entries: Iterable[tuple[type, ModuleKind]]) -> Mapping[type, ModuleKind]:
    """A read-only module type → kind table, each type exactly once, each named op in the row
    vocabulary (`LAYER_OPS`)."""
    table: dict[type, ModuleKind] = {}
    for cls, kind in entries:
        if cls in table or (isinstance(kind.op, str) and kind.op not in LAYER_OPS):
            raise ValueError(f"module type {cls.__name__}: registered twice or op not in LAYER_OPS")
        table[cls] = kind
    return MappingProxyType(table)


def kernel_of(module: nn.Module | None, dims: int | None = None) -> tuple[int, ...]:
    """A convolution's or pool's kernel as a tuple, one size per spatial dimension (``dims``,
    else read from the class name: ``MaxPool1d`` → 1, default 2, for a kernel given as one int);
    () for other modules."""
    size = getattr(module, "kernel_size", None)
    if size is None:
        return ()
    if isinstance(size, (tuple, list)):
        return tuple(size)
    name = type(module).__name__
    dims = dims or (int(name[-2]) if name[-1:] == "d" and name[-2:-1].isdigit() else 2)
    return (size,) * dims


def _conv_op(m: nn.Module) -> str:
    return layers.conv_kind(m.in_channels, m.groups)


def _convolution(
    path: str, op: str, weights: int, positions: int, m: nn.Module, call: Call
) -> LayerCost:
    """A convolution row: ``weights`` multiply-accumulates at each of ``positions``."""
    macs = weights * positions
    y = call.y
    bias = m.bias is not None
    return LayerCost(
        path=path,
        op=op,
        in_shape=call.x,
        out_shape=y,
        kernel=kernel_of(m),
        weight_params=weights,
        bias_params=m.out_channels if bias else 0,
        macs=macs,
        flops_by_category=ew.nonzero({"mac": 2 * macs, "bias": y.elements if bias else 0}),
        live=call.x.elements + y.elements,
    )


def _positions(size: torch.Size, call: Call) -> int:
    """Output positions of a convolution per image, read from a real (input or output) size."""
    return prod(size[2:]) * call.per_image(size)


def _conv(path: str, m: nn.Module, call: Call) -> LayerCost:
    """Any convolution, any number of dimensions: k·…·(C_in/groups)·C_out per output position.
    The positions are read from the real output, so padding done inside a forward
    (``Conv2dSame``) is counted as it ran."""
    weights = prod(m.kernel_size) * (m.in_channels // m.groups) * m.out_channels
    return _convolution(path, _conv_op(m), weights, _positions(call.out, call), m, call)


def _conv_transpose(path: str, m: nn.Module, call: Call) -> LayerCost:
    """Each input position meets k·…·C_out/groups weights per input channel."""
    weights = prod(m.kernel_size) * (m.out_channels // m.groups) * m.in_channels
    return _convolution(path, "convT", weights, _positions(call.args[0], call), m, call)


def _fixed_filter(m: nn.Module) -> torch.Tensor | None:
    """The filter a module without parameters or children may convolve its input with: its one
    floating buffer, of rank 3 or more (C_out or 1, C_in/groups, k, …), as timm's ``BlurPool2d``
    registers its binomial blur; None when the module holds anything else."""
    if list(m.children()) or any(True for _ in m.parameters(recurse=False)):
        return None
    found = [b for b in m.buffers(recurse=False) if b.is_floating_point()]
    return found[0] if len(found) == 1 and found[0].dim() >= 3 else None


def _filtered(filt: torch.Tensor) -> ModuleFormula:
    """A registered filter convolved in forward (``F.conv2d(x, self.filt, groups=C)``): the
    convolution formula with ``filt`` as the weight. Each output channel takes C_in/groups × k…
    products (the filter's shape after its first dim, which is 1 for a filter expanded to every
    channel) at each position of the real output, so padding done in the forward is counted as
    it ran. The filter is a buffer, not a parameter."""

    def formula(path: str, m: nn.Module, call: Call) -> LayerCost:
        channels = call.args[0][1]
        macs = prod(filt.shape[1:]) * call.out[1] * _positions(call.out, call)
        return LayerCost(
            path=path,
            op=layers.conv_kind(channels, channels // filt.shape[1]),
            in_shape=call.x,
            out_shape=call.y,
            kernel=tuple(filt.shape[2:]),
            buffers=filt.numel(),
            macs=macs,
            flops_by_category=ew.nonzero({"mac": 2 * macs}),
            live=call.x.elements + call.y.elements,
        )

    return formula


def held_formula(m: nn.Module, macs: int, calls: list[Call]) -> ModuleFormula | None:
    """A formula for a module of no known type, read from what it holds: a fixed filter's
    convolution, where the module multiply-accumulated (``macs`` seen at dispatch level; the
    products are costed here from the filter's shape, not taken from there) and every call's
    input channels and output rank fit the filter. None otherwise: it has no formula."""
    filt = _fixed_filter(m)
    if filt is None or not macs:
        return None
    fits = all(len(c.out) == filt.dim() and c.args[0][1] % filt.shape[1] == 0 for c in calls)
    return _filtered(filt) if fits else None


def _linear(path: str, m: nn.Module, call: Call) -> LayerCost:
    # Linear on N-D input: one product per leading position
    rows = prod(call.args[0][1:-1]) * call.per_image(call.args[0])
    cost = layers.linear(
        path, Shape(m.in_features, 1, 1), out=m.out_features, bias=m.bias is not None, rows=rows
    )
    return replace(cost, in_shape=call.x, out_shape=call.y)


def _attention(path: str, m: nn.Module, call: Call) -> LayerCost:
    """nn.MultiheadAttention: q, k, v projections, Q·Kᵀ and P·V over all heads, the output
    projection; its own parameters (the output projection is a child with a row of its own)."""
    query, key = call.args[0], call.args[1] if len(call.args) > 1 else call.args[0]
    batch_dim = 0 if m.batch_first else 1
    length, source = query[1 - batch_dim], key[1 - batch_dim]
    e = m.embed_dim
    macs = (
        length * e * e + source * (m.kdim + m.vdim) * e + 2 * length * source * e + length * e * e
    )
    own = {n: p.numel() for n, p in m.named_parameters(recurse=False)}
    biases = sum(v for n, v in own.items() if "bias" in n)
    return LayerCost(
        path=path,
        op="attention",
        in_shape=call.x,
        out_shape=call.y,
        weight_params=sum(own.values()) - biases,
        bias_params=biases,
        macs=macs,
        flops_by_category=ew.nonzero(
            {"mac": 2 * macs, "bias": 3 * length * e if m.in_proj_bias is not None else 0}
        ),
        live=call.x.elements + call.y.elements,
    )


def _norm(per_element: int) -> ModuleKind:
    def formula(path: str, m: nn.Module, call: Call) -> LayerCost:
        y = call.y
        affine = sum(p.numel() for p in m.parameters(recurse=False))
        buffers = sum(b.numel() for b in m.buffers(recurse=False) if b.is_floating_point())
        return LayerCost(
            path=path,
            op="norm",
            in_shape=call.x,
            out_shape=y,
            norm_params=affine,
            buffers=buffers,
            flops_by_category=ew.nonzero({"norm": per_element * y.elements}),
            live=2 * y.elements,
        )

    return ModuleKind("norm", formula)


def _activation(op: str, per_element: int) -> ModuleKind:
    def formula(path: str, m: nn.Module, call: Call) -> LayerCost:
        y = call.y
        return LayerCost(
            path=path,
            op=op,
            in_shape=call.x,
            out_shape=y,
            flops_by_category=ew.nonzero({"act": per_element * y.elements}),
            live=2 * y.elements,
        )

    return ModuleKind(op, formula)


def _pool(op: str) -> ModuleKind:
    """Max pool: k…−1 comparisons per output; average pool: k…−1 adds and a divide."""

    def formula(path: str, m: nn.Module, call: Call) -> LayerCost:
        kernel = kernel_of(m, len(call.out) - 2)
        y = call.y
        per_output = prod(kernel) - (1 if op == "maxpool" else 0)
        return LayerCost(
            path=path,
            op=op,
            in_shape=call.x,
            out_shape=y,
            kernel=kernel,
            flops_by_category=ew.nonzero({"pool": per_output * y.elements}),
            live=call.x.elements + y.elements,
        )

    return ModuleKind(op, formula)


def _adaptive_op(m: nn.Module) -> str:
    """A global pool when every output size is 1 (None keeps the input's size)."""
    size = m.output_size
    ones = all(s == 1 for s in (size if isinstance(size, (tuple, list)) else (size,)))
    return "gap" if ones else "adaptive_pool"


def _adaptive_pool(path: str, m: nn.Module, call: Call) -> LayerCost:
    x, y = call.x, call.y
    return LayerCost(
        path=path,
        op=_adaptive_op(m),
        in_shape=x,
        out_shape=y,
        flops_by_category=ew.nonzero({"pool": prod(call.args[0][1:])}),
        live=x.elements + y.elements,
    )


def _lrn(path: str, m: nn.Module, call: Call) -> LayerCost:
    return ew.local_response_norm(path, call.x, size=m.size)


def _passthrough(op: str) -> ModuleKind:
    def formula(path: str, m: nn.Module, call: Call) -> LayerCost:
        return ew.identity(path, op, call.x, call.y)

    return ModuleKind(op, formula)


# Module type → kind, looked up along the module's class hierarchy (most specific first).
MODULE_TYPES: Mapping[type, ModuleKind] = module_table(
    [
        (nn.modules.conv._ConvTransposeNd, ModuleKind("convT", _conv_transpose)),
        (nn.modules.conv._ConvNd, ModuleKind(_conv_op, _conv)),
        (nn.Linear, ModuleKind("fc", _linear)),
        (nn.MultiheadAttention, ModuleKind("attention", _attention)),
        (nn.modules.batchnorm._NormBase, _norm(ew.NORM_FLOPS["bn"])),
        (nn.GroupNorm, _norm(ew.LAYER_NORM_FLOPS)),
        (nn.LayerNorm, _norm(ew.LAYER_NORM_FLOPS)),
        (nn.LocalResponseNorm, ModuleKind("lrn", _lrn)),
        (nn.modules.pooling._MaxPoolNd, _pool("maxpool")),
        (nn.modules.pooling._AvgPoolNd, _pool("avgpool")),
        (nn.modules.pooling._AdaptiveAvgPoolNd, ModuleKind(_adaptive_op, _adaptive_pool)),
        (nn.ReLU, _activation("relu", ew.ACT_FLOPS["relu"])),
        (nn.ReLU6, _activation("relu6", ew.ACT_FLOPS["relu6"])),
        (nn.Sigmoid, _activation("sigmoid", ew.ACT_FLOPS["sigmoid"])),
        (nn.SiLU, _activation("silu", ew.ACT_FLOPS["silu"])),
        (nn.Tanh, _activation("tanh", ew.ACT_FLOPS["tanh"])),
        (nn.Hardswish, _activation("hswish", ew.ACT_FLOPS["hswish"])),
        (nn.Hardsigmoid, _activation("hsigmoid", ew.ACT_FLOPS["hsigmoid"])),
        (nn.LeakyReLU, _activation("leaky_relu", 2)),  # compare, multiply
        (nn.GELU, _activation("gelu", GELU_FLOPS)),
        (nn.Softmax, _activation("softmax", SOFTMAX_FLOPS)),
        (nn.PReLU, ModuleKind("prelu")),
        (nn.ELU, ModuleKind("elu")),
        (nn.Upsample, ModuleKind("upsample")),
        (nn.modules.dropout._DropoutNd, _passthrough("dropout")),
        (nn.Flatten, _passthrough("flatten")),
        (nn.Identity, _passthrough("identity")),
    ]
)

# Types whose parameters are normalisation parameters (γ, β), not weights and biases.
NORM_TYPES = tuple(cls for cls, kind in MODULE_TYPES.items() if kind.op == "norm")


def kind_of(module: nn.Module) -> ModuleKind | None:
    """The kind of ``module``'s most specific type in the table; None for a type it lacks."""
    for cls in type(module).__mro__:
        if cls in MODULE_TYPES:
            return MODULE_TYPES[cls]
    return None


def formula_for(module: nn.Module) -> ModuleFormula | None:
    """The formula of ``module``'s type; None for a type the table lacks or gives none."""
    kind = kind_of(module)
    return kind.formula if kind else None


def module_op(module: nn.Module | None) -> str:
    """The op of a row whose module is ``module``: a built spec unit names its own (`layer_op`);
    a module of a known type has its type's; any other module is a "block" (its arithmetic sits
    in its children, or in a forward no formula knows); "functional" is work done outside any
    module."""
    if module is None:
        return "functional"
    named = getattr(module, "layer_op", None)
    if named:
        return str(named)
    kind = kind_of(module)
    return kind.op_of(module) if kind else "block"


def param_kind(module: nn.Module, name: str) -> str:
    """Which count a module's own parameter ``name`` adds to: "norm", "bias" or "weight"."""
    if isinstance(module, NORM_TYPES):
        return "norm"
    return "bias" if name == "bias" else "weight"
