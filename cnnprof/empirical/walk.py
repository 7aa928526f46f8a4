"""The analytic profile of a model with no spec: leaf modules, shapes recorded on the meta device,
costed by the same formula primitives the spec path uses. Dispatch is on module type through the
class hierarchy, so a subclass of ``nn.Conv2d`` is costed as a convolution.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from math import prod
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from cnnprof.analytic import formulas as fm
from cnnprof.empirical.count import to_meta
from cnnprof.errors import LoadError
from cnnprof.results.profile import LayerCost, Profile
from cnnprof.spec.model import Shape, frozen

Recorded = tuple[torch.Size, torch.Size]  # input and output shape, batch first
ModuleFormula = Callable[[str, nn.Module, Recorded], LayerCost]


def _shape(size: torch.Size) -> Shape:
    dims = list(size[1:]) or [1]
    if len(dims) == 1:
        return Shape(dims[0], 1, 1)
    if len(dims) == 2:
        return Shape(dims[-1], dims[0], 1)
    return Shape(dims[0], dims[1], prod(dims[2:]))


def _conv(path: str, m: nn.Module, io: Recorded) -> LayerCost:
    padding = m.padding
    if padding == "same":
        padding = tuple(d * (k - 1) // 2 for k, d in zip(m.kernel_size, m.dilation, strict=True))
    elif padding == "valid":
        padding = 0
    return fm.conv2d(
        path,
        _shape(io[0]),
        out=m.out_channels,
        k=m.kernel_size,
        s=m.stride,
        p=padding,
        groups=m.groups,
        bias=m.bias is not None,
        dilation=m.dilation,
    )


def _conv_transpose(path: str, m: nn.Module, io: Recorded) -> LayerCost:
    return fm.conv_transpose2d(
        path,
        _shape(io[0]),
        out=m.out_channels,
        k=m.kernel_size,
        s=m.stride,
        p=m.padding,
        output_padding=m.output_padding,
        groups=m.groups,
        bias=m.bias is not None,
        dilation=m.dilation,
    )


def _linear(path: str, m: nn.Module, io: Recorded) -> LayerCost:
    rows = prod(io[0][1:-1])  # Linear on N-D input: one product per leading position
    x = Shape(m.in_features, rows, 1) if rows > 1 else Shape(m.in_features, 1, 1)
    return fm.linear(path, x, out=m.out_features, bias=m.bias is not None, rows=rows)


def _norm(path: str, m: nn.Module, io: Recorded) -> LayerCost:
    y = _shape(io[1])
    affine = sum(p.numel() for p in m.parameters(recurse=False))
    buffers = sum(b.numel() for b in m.buffers(recurse=False) if b.is_floating_point())
    return LayerCost(
        path=path, op="norm", in_shape=_shape(io[0]), out_shape=y, norm_params=affine,
        buffers=buffers, flops=fm.nonzero({"norm": fm.NORM_FLOPS["bn"] * y.elements}),
        live=2 * y.elements,
    )  # fmt: skip


def _layer_norm(path: str, m: nn.Module, io: Recorded) -> LayerCost:
    """LayerNorm: its statistics are computed at inference (formulas.LAYER_NORM_FLOPS each)."""
    x, y = _shape(io[0]), _shape(io[1])
    return LayerCost(
        path=path, op="layernorm", in_shape=x, out_shape=y,
        norm_params=sum(p.numel() for p in m.parameters(recurse=False)),
        flops=fm.nonzero({"norm": fm.LAYER_NORM_FLOPS * y.elements}), live=2 * y.elements,
    )  # fmt: skip


def _activation(name: str) -> ModuleFormula:
    def formula(path: str, m: nn.Module, io: Recorded) -> LayerCost:
        y = _shape(io[1])
        return LayerCost(
            path=path, op=name, in_shape=_shape(io[0]), out_shape=y,
            flops=fm.nonzero({"act": fm.ACT_FLOPS[name] * y.elements}), live=2 * y.elements,
        )  # fmt: skip

    return formula


def _pool(kind: str) -> ModuleFormula:
    def formula(path: str, m: nn.Module, io: Recorded) -> LayerCost:
        stride = m.stride or m.kernel_size
        x = _shape(io[0])
        return fm.pool2d(path, kind, x, k=m.kernel_size, s=stride, p=m.padding, ceil=m.ceil_mode)

    return formula


def _adaptive_pool(path: str, m: nn.Module, io: Recorded) -> LayerCost:
    x, y = _shape(io[0]), _shape(io[1])
    return LayerCost(
        path=path, op="gap" if y.h * y.w == 1 else "adaptive_pool", in_shape=x, out_shape=y,
        flops=fm.nonzero({"pool": x.elements}), live=x.elements + y.elements,
    )  # fmt: skip


def _lrn(path: str, m: nn.Module, io: Recorded) -> LayerCost:
    return fm.local_response_norm(path, _shape(io[0]), size=m.size)


def _passthrough(op: str) -> ModuleFormula:
    def formula(path: str, m: nn.Module, io: Recorded) -> LayerCost:
        return fm.identity(path, op, _shape(io[0]), _shape(io[1]))

    return formula


# Module type → formula, looked up along the module's class hierarchy (most specific first).
MODULE_FORMULAS: Mapping[type, ModuleFormula] = MappingProxyType(
    {
        nn.Conv2d: _conv,
        nn.ConvTranspose2d: _conv_transpose,
        nn.Linear: _linear,
        nn.modules.batchnorm._NormBase: _norm,
        nn.GroupNorm: _norm,
        nn.LayerNorm: _layer_norm,
        nn.ReLU: _activation("relu"),
        nn.ReLU6: _activation("relu6"),
        nn.Sigmoid: _activation("sigmoid"),
        nn.SiLU: _activation("silu"),
        nn.Tanh: _activation("tanh"),
        nn.Hardswish: _activation("hswish"),
        nn.GELU: _activation("gelu"),
        nn.MaxPool2d: _pool("maxpool"),
        nn.AvgPool2d: _pool("avgpool"),
        nn.AdaptiveAvgPool2d: _adaptive_pool,
        nn.LocalResponseNorm: _lrn,
        nn.Dropout: _passthrough("dropout"),
        nn.Flatten: _passthrough("flatten"),
        nn.Identity: _passthrough("identity"),
    }
)


def formula_for(module: nn.Module) -> ModuleFormula | None:
    for cls in type(module).__mro__:
        if cls in MODULE_FORMULAS:
            return MODULE_FORMULAS[cls]
    return None


def walk(
    module: nn.Module, input: Shape, *, batch: int = 1, dtype: str = "float32", model: str = ""
) -> Profile:
    """Leaf modules in execution order, each costed by its type's formula."""
    root = to_meta(module)
    calls: dict[str, list[Recorded]] = {}  # every call of every leaf, in first-call order
    handles = []
    for path, m in root.named_modules():
        if list(m.children()):
            continue

        def hook(m: nn.Module, args: tuple, out: Any, path: str = path) -> None:
            if args and isinstance(args[0], torch.Tensor):
                result = out[0] if isinstance(out, (tuple, list)) else out
                calls.setdefault(path, []).append((args[0].shape, result.shape))

        handles.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            root.eval()(torch.empty(batch, *input.as_list(), device="meta"))
    except Exception as exc:
        raise LoadError(f"{model or type(module).__name__}: forward failed: {exc}") from None
    finally:
        for h in handles:
            h.remove()
    modules = dict(root.named_modules())
    rows, unsupported = [], []
    for path, recorded in calls.items():
        formula = formula_for(modules[path])
        if formula is None:
            unsupported.append(f"{path} ({type(modules[path]).__name__})")
            continue
        rows.append(_calls(formula(path, modules[path], io) for io in recorded))
    return Profile(
        model=model or type(module).__name__,
        source="analytic",
        input=input,
        rows=tuple(rows),
        batch=batch,
        dtype=dtype,
        unsupported=tuple(unsupported),
    )


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
