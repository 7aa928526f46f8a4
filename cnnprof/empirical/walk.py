"""The analytic profile of a model with no spec: modules, shapes recorded on the meta device,
costed by closed-form formulas — the cross-check of the dispatch-level count. Dispatch is on
module type through the class hierarchy, so a subclass of ``nn.Conv2d`` is costed as a
convolution and a BatchNorm subclass with children as a BatchNorm.

Every module with a formula is walked, leaf or not; parameters that no formula row holds (a class
token, a layer-scale γ on a block, an aux head that eval skips) get a row of their own, so the
walk's rows line up with the dispatch count's. A module with no formula is listed only when it
does arithmetic (seen at dispatch level), never for an empty ``Sequential`` or an ``Identity``.

A leaf of no known type whose only tensor is a filter buffer (timm's anti-aliasing
``BlurPool2d``: ``F.conv2d(x, self.filt, groups=C)`` in its forward) is costed as a convolution
with that filter, by the filter's shape and the real output's; only where the module did
multiply-accumulate at dispatch level, so a buffer that is merely added is not taken for one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from math import prod
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from cnnprof.analytic import elementwise as ew
from cnnprof.analytic import layers as fm
from cnnprof.arch.model import Shape, frozen
from cnnprof.empirical.count import (
    GELU_FLOPS,
    LAYER_NORM_FLOPS,
    NORM_TYPES,
    SOFTMAX_FLOPS,
    Inputs,
    MetaFailed,
    _Recorder,
    _Row,
    _Tracker,
    as_inputs,
    kernel_of,
    kernel_text,
    module_op,
    shape_of,
    to_meta,
)
from cnnprof.errors import LoadError
from cnnprof.results.profile import LayerCost, Profile


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


def _convolution(
    path: str, op: str, weights: int, positions: int, m: nn.Module, call: Call
) -> LayerCost:
    """A convolution row: ``weights`` multiply-accumulates at each of ``positions``."""
    macs = weights * positions
    y = call.y
    bias = m.bias is not None
    return LayerCost(
        path=path, op=op, in_shape=call.x, out_shape=y, kernel=kernel_text(m),
        weight_params=weights, bias_params=m.out_channels if bias else 0, macs=macs,
        flops=ew.nonzero({"mac": 2 * macs, "bias": y.elements if bias else 0}),
        live=call.x.elements + y.elements,
    )  # fmt: skip


def _positions(size: torch.Size, call: Call) -> int:
    """Output positions of a convolution per image, read from a real (input or output) size."""
    return prod(size[2:]) * call.per_image(size)


def _conv(path: str, m: nn.Module, call: Call) -> LayerCost:
    """Any convolution, any number of dimensions: k·…·(C_in/groups)·C_out per output position.
    The positions are read from the real output, so padding done inside a forward
    (``Conv2dSame``) is counted as it ran."""
    weights = prod(m.kernel_size) * (m.in_channels // m.groups) * m.out_channels
    op = fm.conv_kind(m.in_channels, m.groups)
    return _convolution(path, op, weights, _positions(call.out, call), m, call)


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
            path=path, op=fm.conv_kind(channels, channels // filt.shape[1]), in_shape=call.x,
            out_shape=call.y, kernel="×".join(map(str, filt.shape[2:])), buffers=filt.numel(),
            macs=macs, flops=ew.nonzero({"mac": 2 * macs}),
            live=call.x.elements + call.y.elements,
        )  # fmt: skip

    return formula


def _linear(path: str, m: nn.Module, call: Call) -> LayerCost:
    # Linear on N-D input: one product per leading position
    rows = prod(call.args[0][1:-1]) * call.per_image(call.args[0])
    cost = fm.linear(path, Shape(m.in_features, 1, 1), out=m.out_features,
                     bias=m.bias is not None, rows=rows)  # fmt: skip
    return replace(cost, in_shape=call.x, out_shape=call.y)


def _attention(path: str, m: nn.Module, call: Call) -> LayerCost:
    """nn.MultiheadAttention: q, k, v projections, Q·Kᵀ and P·V over all heads, the output
    projection; its own parameters (the output projection is a child with a row of its own)."""
    query, key = call.args[0], call.args[1] if len(call.args) > 1 else call.args[0]
    batch_dim = 0 if m.batch_first else 1
    length, source = query[1 - batch_dim], key[1 - batch_dim]
    e = m.embed_dim
    macs = (length * e * e + source * (m.kdim + m.vdim) * e + 2 * length * source * e
            + length * e * e)  # fmt: skip
    own = {n: p.numel() for n, p in m.named_parameters(recurse=False)}
    biases = sum(v for n, v in own.items() if "bias" in n)
    return LayerCost(
        path=path, op="attention", in_shape=call.x, out_shape=call.y,
        weight_params=sum(own.values()) - biases, bias_params=biases, macs=macs,
        flops=ew.nonzero({"mac": 2 * macs, "bias": 3 * length * e if m.in_proj_bias is not None
                          else 0}),
        live=call.x.elements + call.y.elements,
    )  # fmt: skip


def _norm(per_element: int) -> ModuleFormula:
    def formula(path: str, m: nn.Module, call: Call) -> LayerCost:
        y = call.y
        affine = sum(p.numel() for p in m.parameters(recurse=False))
        buffers = sum(b.numel() for b in m.buffers(recurse=False) if b.is_floating_point())
        return LayerCost(
            path=path, op="norm", in_shape=call.x, out_shape=y, norm_params=affine,
            buffers=buffers, flops=ew.nonzero({"norm": per_element * y.elements}),
            live=2 * y.elements,
        )  # fmt: skip

    return formula


def _activation(name: str, per_element: int) -> ModuleFormula:
    def formula(path: str, m: nn.Module, call: Call) -> LayerCost:
        y = call.y
        return LayerCost(
            path=path, op=name, in_shape=call.x, out_shape=y,
            flops=ew.nonzero({"act": per_element * y.elements}), live=2 * y.elements,
        )  # fmt: skip

    return formula


def _pool(kind: str) -> ModuleFormula:
    """Max pool: k…−1 comparisons per output; average pool: k…−1 adds and a divide."""

    def formula(path: str, m: nn.Module, call: Call) -> LayerCost:
        kernel = kernel_of(m, len(call.out) - 2)
        y = call.y
        per_output = prod(kernel) - (1 if kind == "maxpool" else 0)
        return LayerCost(
            path=path, op=kind, in_shape=call.x, out_shape=y,
            kernel="×".join(map(str, kernel)), flops=ew.nonzero({"pool": per_output * y.elements}),
            live=call.x.elements + y.elements,
        )  # fmt: skip

    return formula


def _adaptive_pool(path: str, m: nn.Module, call: Call) -> LayerCost:
    x, y = call.x, call.y
    return LayerCost(
        path=path, op="gap" if prod(call.out[2:]) == 1 else "adaptive_pool", in_shape=x,
        out_shape=y, flops=ew.nonzero({"pool": prod(call.args[0][1:])}),
        live=x.elements + y.elements,
    )  # fmt: skip


def _lrn(path: str, m: nn.Module, call: Call) -> LayerCost:
    return ew.local_response_norm(path, call.x, size=m.size)


def _passthrough(op: str) -> ModuleFormula:
    def formula(path: str, m: nn.Module, call: Call) -> LayerCost:
        return ew.identity(path, op, call.x, call.y)

    return formula


def _held_formula(m: nn.Module, dispatched: _Row | None, calls: list[Call]) -> ModuleFormula | None:
    """A formula for a module of no known type, read from what it holds: a fixed filter's
    convolution, where the module multiply-accumulated (seen at dispatch level; the products are
    costed here from the filter's shape, not taken from there) and every call's input channels
    and output rank fit the filter. None otherwise: the module is listed as having no formula."""
    filt = _fixed_filter(m)
    if filt is None or dispatched is None or not dispatched.macs:
        return None
    fits = all(len(c.out) == filt.dim() and c.args[0][1] % filt.shape[1] == 0 for c in calls)
    return _filtered(filt) if fits else None


# Module type → formula, looked up along the module's class hierarchy (most specific first).
MODULE_FORMULAS: Mapping[type, ModuleFormula] = MappingProxyType(
    {
        nn.modules.conv._ConvTransposeNd: _conv_transpose,
        nn.modules.conv._ConvNd: _conv,
        nn.Linear: _linear,
        nn.MultiheadAttention: _attention,
        nn.modules.batchnorm._NormBase: _norm(ew.NORM_FLOPS["bn"]),
        nn.GroupNorm: _norm(LAYER_NORM_FLOPS),
        nn.LayerNorm: _norm(LAYER_NORM_FLOPS),
        nn.ReLU: _activation("relu", ew.ACT_FLOPS["relu"]),
        nn.ReLU6: _activation("relu6", ew.ACT_FLOPS["relu6"]),
        nn.Sigmoid: _activation("sigmoid", ew.ACT_FLOPS["sigmoid"]),
        nn.SiLU: _activation("silu", ew.ACT_FLOPS["silu"]),
        nn.Tanh: _activation("tanh", ew.ACT_FLOPS["tanh"]),
        nn.Hardswish: _activation("hswish", ew.ACT_FLOPS["hswish"]),
        nn.Hardsigmoid: _activation("hsigmoid", ew.ACT_FLOPS["hsigmoid"]),
        nn.LeakyReLU: _activation("leaky_relu", 2),  # compare, multiply
        nn.GELU: _activation("gelu", GELU_FLOPS),
        nn.Softmax: _activation("softmax", SOFTMAX_FLOPS),
        nn.modules.pooling._MaxPoolNd: _pool("maxpool"),
        nn.modules.pooling._AvgPoolNd: _pool("avgpool"),
        nn.modules.pooling._AdaptiveAvgPoolNd: _adaptive_pool,
        nn.LocalResponseNorm: _lrn,
        nn.modules.dropout._DropoutNd: _passthrough("dropout"),
        nn.Flatten: _passthrough("flatten"),
        nn.Identity: _passthrough("identity"),
    }
)


def formula_for(module: nn.Module) -> ModuleFormula | None:
    for cls in type(module).__mro__:
        if cls in MODULE_FORMULAS:
            return MODULE_FORMULAS[cls]
    return None


def _sizes(value: Any) -> tuple[torch.Size, ...]:
    items = value if isinstance(value, (tuple, list)) else (value,)
    return tuple(v.shape for v in items if isinstance(v, torch.Tensor))


def walk(
    module: nn.Module,
    input: Shape | Iterable[int] | Inputs,
    *,
    batch: int = 1,
    dtype: str = "float32",
    model: str = "",
    on: str = "meta",
) -> Profile:
    """Modules with a formula (and other leaves) in execution order, each costed by its
    type's formula; parameters no formula holds in rows of their own."""
    inputs = as_inputs(input)
    root = (to_meta(module) if on == "meta" else module).eval()
    modules = dict(root.named_modules())
    calls: dict[str, list[Call]] = {}  # every call of every walked module, in first-call order
    handles = []
    for path, m in modules.items():
        if list(m.children()) and formula_for(m) is None:
            continue

        def hook(m: nn.Module, args: tuple, out: Any, path: str = path) -> None:
            shapes, result = _sizes(args), _sizes(out)
            if shapes and result:
                calls.setdefault(path, []).append(Call(shapes, result[0], batch))

        handles.append(m.register_forward_hook(hook))
    tracker = _Tracker(root, None)  # which formula-less modules do arithmetic
    recorder = _Recorder(tracker)
    try:
        with torch.no_grad():
            x = inputs.tensors(batch, next((p.device.type for p in root.parameters()), "meta"))
            with recorder:
                root(*x)
    except Exception as exc:
        message = f"{model or type(module).__name__}: forward failed: {exc}"
        if on == "meta":
            raise MetaFailed(message, recorder.largest) from None
        raise LoadError(message) from None
    finally:
        tracker.close()
        for h in handles:
            h.remove()
    rows, unsupported, held = [], [], set()
    for path, recorded in calls.items():
        row = tracker.rows.get(path)
        formula = formula_for(modules[path]) or _held_formula(modules[path], row, recorded)
        if formula is None:
            if row is not None and (row.macs or sum(row.flops.values())):
                unsupported.append(f"{path} ({type(modules[path]).__name__})")
            continue
        row = _calls(formula(path, modules[path], call) for call in recorded)
        rows.append(_with_own(row, modules[path]))
        held.add(path)
    rows += _parameter_rows(root, held)
    return Profile(
        model=model or type(module).__name__,
        source="analytic",
        input=inputs.first,
        rows=tuple(rows),
        batch=batch,
        dtype=dtype,
        unsupported=tuple(unsupported),
        inputs=inputs.shapes,
    )


def _with_own(row: LayerCost, m: nn.Module) -> LayerCost:
    """The row with any parameters its module owns beyond the formula's (a weight-standardised
    convolution's gain), as weights: every parameter the module owns is counted."""
    own = sum(p.numel() for p in m.parameters(recurse=False))
    extra = own - row.params if not isinstance(m, nn.MultiheadAttention) else 0
    return replace(row, weight_params=row.weight_params + extra) if extra > 0 else row


def _parameter_rows(root: nn.Module, held: set[str]) -> list[LayerCost]:
    """A row for each module whose own parameters no formula row holds, each tensor once."""
    seen: set[int] = set()
    out = []
    for path, m in root.named_modules():
        own = [(n, p) for n, p in m.named_parameters(recurse=False) if id(p) not in seen]
        seen.update(id(p) for _, p in own)
        if path in held or not own:
            continue
        kind = {"norm": 0, "bias": 0, "weight": 0}
        for name, p in own:
            key = "norm" if isinstance(m, NORM_TYPES) else "bias" if name == "bias" else "weight"
            kind[key] += p.numel()
        unknown = Shape(0, 0, 0)
        out.append(LayerCost(
            path=path or "(root)", op=module_op(m), in_shape=unknown, out_shape=unknown,
            weight_params=kind["weight"], bias_params=kind["bias"], norm_params=kind["norm"],
        ))  # fmt: skip
    return out


def _calls(costs: Iterable[LayerCost]) -> LayerCost:
    """One row for a module run several times: its work summed, its parameters once."""
    first, *rest = costs
    if not rest:
        return first
    flops = dict(first.flops)
    for cost in rest:
        for key, value in cost.flops.items():
            flops[key] = flops.get(key, 0) + value
    return replace(first, macs=first.macs + sum(c.macs for c in rest), flops=frozen(flops),
                   live=max(c.live for c in (first, *rest)))  # fmt: skip
