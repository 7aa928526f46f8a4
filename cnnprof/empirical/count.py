"""Count what an nn.Module actually executes, into the same `Profile` the analytic path returns.

Default counter: every aten op is seen at dispatch level on the meta device (no weights, no
activations allocated); convolutions and matrix products are costed by torch's own FlopCounterMode
formulas (``torch.utils.flop_counter.flop_registry``), element-wise ops by cnnprof's per-element
table, and anything else is either deliberately ignored (listed) or reported as unsupported.
Each op is attributed to the row (spec row path, or leaf module) whose module was running.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from math import prod
from types import MappingProxyType
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from cnnprof.analytic.formulas import (
    ACT_FLOPS,
    LAYER_NORM_FLOPS,
    LRN_EXTRA,
    NORM_FLOPS,
    conv_kind,
)
from cnnprof.errors import LoadError
from cnnprof.results.profile import LayerCost, Profile
from cnnprof.spec.model import Shape, frozen

aten = torch.ops.aten

NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)
LRN = nn.LocalResponseNorm


def _numel(value: Any) -> int:
    return value.numel() if isinstance(value, torch.Tensor) else 0


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, (tuple, list)) else value


def _per_output(flops: int) -> Callable[[tuple, dict, Any], int]:
    return lambda args, kwargs, out: flops * _numel(_first(out))


def _pool_window(args: tuple, kwargs: dict, out: Any) -> int:
    kernel = args[1] if len(args) > 1 else kwargs["kernel_size"]
    return prod(kernel if len(kernel) > 1 else kernel * 2) * _numel(_first(out))


def _max_pool_window(args: tuple, kwargs: dict, out: Any) -> int:
    return _pool_window(args, kwargs, out) - _numel(_first(out))


def _per_input(args: tuple, kwargs: dict, out: Any) -> int:
    return _numel(args[0])


# Element-wise ops: aten packet → (category, FLOPs). Per-element costs match analytic.formulas.
ELEMENTWISE: Mapping[Any, tuple[str, Callable[[tuple, dict, Any], int]]] = MappingProxyType(
    {
        aten.relu: ("act", _per_output(ACT_FLOPS["relu"])),
        aten.relu_: ("act", _per_output(ACT_FLOPS["relu"])),
        aten.hardtanh: ("act", _per_output(ACT_FLOPS["relu6"])),
        aten.hardtanh_: ("act", _per_output(ACT_FLOPS["relu6"])),
        aten.sigmoid: ("act", _per_output(ACT_FLOPS["sigmoid"])),
        aten.silu: ("act", _per_output(ACT_FLOPS["silu"])),
        aten.silu_: ("act", _per_output(ACT_FLOPS["silu"])),
        aten.tanh: ("act", _per_output(ACT_FLOPS["tanh"])),
        aten.hardswish: ("act", _per_output(ACT_FLOPS["hswish"])),
        aten.hardswish_: ("act", _per_output(ACT_FLOPS["hswish"])),
        aten.hardsigmoid: ("act", _per_output(ACT_FLOPS["hsigmoid"])),
        aten.hardsigmoid_: ("act", _per_output(ACT_FLOPS["hsigmoid"])),
        aten.gelu: ("act", _per_output(ACT_FLOPS["gelu"])),
        aten._native_batch_norm_legit_no_training: ("norm", _per_output(NORM_FLOPS["bn"])),
        aten.native_batch_norm: ("norm", _per_output(NORM_FLOPS["bn"])),
        aten.native_layer_norm: ("norm", _per_output(LAYER_NORM_FLOPS)),
        aten.add: ("add", _per_output(1)),
        aten.add_: ("add", _per_output(1)),
        aten.mul: ("scale", _per_output(1)),
        aten.mul_: ("scale", _per_output(1)),
        aten.max_pool2d_with_indices: ("pool", _max_pool_window),
        aten.max_pool2d: ("pool", _max_pool_window),
        aten.avg_pool2d: ("pool", _pool_window),
        aten._adaptive_avg_pool2d: ("pool", _per_input),
        aten.adaptive_avg_pool2d: ("pool", _per_input),
        aten.mean: ("pool", _per_input),
    }
)

# Ops that move or view data without arithmetic: seen, deliberately not counted, listed.
IGNORED = frozenset(
    {
        aten.view, aten._unsafe_view, aten.reshape, aten.t, aten.transpose, aten.permute,
        aten.expand, aten.clone, aten.detach, aten.cat, aten.flatten, aten.squeeze,
        aten.unsqueeze, aten.alias, aten.empty_like, aten._to_copy, aten.copy_, aten.slice,
        aten.select, aten.split, aten.split_with_sizes, aten.contiguous, aten.as_strided,
        aten.as_strided_,
        aten.zero_, aten.fill_, aten.lift_fresh, aten.empty, aten.zeros, aten.ones, aten.new_empty,
        aten.new_zeros, aten.dropout, aten.native_dropout, aten.chunk, aten.unbind, aten.stack,
        aten.sym_size, aten.sym_stride, aten.sym_numel, aten.is_same_size, aten.zeros_like,
        aten.ones_like, aten.full, aten.arange, aten.index_select, aten.unsafe_split,
    }
)  # fmt: skip


@dataclass
class _Row:
    path: str
    module: nn.Module | None = None
    in_shape: Shape | None = None
    out_shape: Shape | None = None
    macs: int = 0
    flops: Counter = field(default_factory=Counter)
    weight_params: int = 0
    bias_params: int = 0
    norm_params: int = 0
    buffers: int = 0


def _shape(value: Any) -> Shape | None:
    value = _first(value)
    if not isinstance(value, torch.Tensor) or value.dim() < 2:
        return None
    dims = list(value.shape[1:])
    if len(dims) == 1:
        return Shape(dims[0], 1, 1)
    if len(dims) == 2:  # (N, L, C) sequences or (N, C, L): treat the last as features
        return Shape(dims[-1], dims[0], 1)
    return Shape(dims[0], dims[1], prod(dims[2:]))


class _Recorder(TorchDispatchMode):
    """Sees every aten op; attributes its cost to the row whose module is running."""

    def __init__(self, tracker: _Tracker) -> None:
        super().__init__()
        self.tracker = tracker
        self.ignored: Counter = Counter()
        self.unsupported: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func.overloadpacket
        if packet in flop_registry:
            row = self.tracker.current_row()
            flops = flop_registry[packet](*args, **kwargs, out_val=out)
            row.macs += flops // 2
            row.flops["mac"] += flops
            bias = _bias_elements(packet, args, out)
            if bias:
                row.flops["bias"] += bias
        elif self.tracker.inside_lrn():
            self.ignored["(inside LocalResponseNorm: costed by its formula)"] += 1
        elif packet in ELEMENTWISE:
            category, cost = ELEMENTWISE[packet]
            self.tracker.current_row().flops[category] += cost(args, kwargs, out)
        elif packet in IGNORED:
            self.ignored[str(packet)] += 1
        else:
            self.unsupported[str(packet)] += 1
        return out


def _bias_elements(packet: Any, args: tuple, out: Any) -> int:
    if packet is aten.convolution and len(args) > 2 and args[2] is not None:
        return _numel(out)
    if packet is aten.addmm:
        return _numel(out)
    return 0


class _Tracker:
    """Keeps the stack of running modules and maps each to its row."""

    def __init__(self, root: nn.Module, rows: Sequence[str] | None) -> None:
        self.names = {id(m): name for name, m in root.named_modules()}
        self.modules = dict(root.named_modules())
        self.fixed_rows = rows is not None
        self.rows: dict[str, _Row] = {}
        for path in rows or ():
            if path not in self.modules:
                raise LoadError(f"row '{path}' has no module of that path in the built network")
            self.rows[path] = _Row(path, self.modules[path])
        self.stack: list[str] = []
        self.last: _Row | None = None
        self.order: list[str] = []
        self.handles: list[Any] = []
        for module in self.modules.values():
            self.handles.append(module.register_forward_pre_hook(self._enter))
            self.handles.append(module.register_forward_hook(self._leave, always_call=True))

    def owner(self, path: str) -> _Row | None:
        if self.fixed_rows:
            while True:
                if path in self.rows:
                    return self.rows[path]
                if "." not in path:
                    return None
                path = path.rsplit(".", 1)[0]
        if path not in self.rows:
            self.rows[path] = _Row(path, self.modules.get(path))
        return self.rows[path]

    def current_row(self) -> _Row:
        return self.current_row_for(self.stack[-1] if self.stack else "")

    def current_row_for(self, path: str) -> _Row:
        row = self.owner(path)
        if row is None:  # an op in a block's own forward (residual add): the last row run
            row = self.last or self.owner_or_root()
        return row

    def owner_or_root(self) -> _Row:
        return self.rows.setdefault("", _Row("", None))

    def _enter(self, module: nn.Module, args: tuple) -> None:
        path = self.names.get(id(module), "")
        self.stack.append(path)
        if not self.fixed_rows and not list(module.children()):
            self.owner(path)  # leaf modules are rows even when they do no arithmetic
        row = self.rows.get(path)
        if row is not None and row.in_shape is None:
            row.in_shape = _shape(args)
            self.order.append(path)

    def inside_lrn(self) -> bool:
        """LRN runs as several element-wise ops; it is costed whole, by its formula, on exit."""
        return bool(self.stack) and isinstance(self.modules.get(self.stack[-1]), LRN)

    def _leave(self, module: nn.Module, args: tuple, output: Any) -> None:
        path = self.stack.pop() if self.stack else ""
        if isinstance(module, LRN):
            per_element = 2 * module.size + LRN_EXTRA
            self.current_row_for(path).flops["lrn"] += per_element * _numel(_first(output))
        row = self.rows.get(path)
        if row is not None:
            if row.out_shape is None:
                row.out_shape = _shape(output)
            self.last = row

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


def _count_params(root: nn.Module, tracker: _Tracker) -> int:
    """Parameters and float buffers per row, each tensor once; returns those outside any row."""
    seen: set[int] = set()
    loose = 0
    for path, module in root.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                continue
            seen.add(id(param))
            row = tracker.owner(path) if tracker.fixed_rows else tracker.rows.get(path)
            if row is None:
                loose += param.numel()
            elif isinstance(module, NORM_TYPES):
                row.norm_params += param.numel()
            elif name == "bias":
                row.bias_params += param.numel()
            else:
                row.weight_params += param.numel()
        for _, buf in module.named_buffers(recurse=False):
            row = tracker.owner(path) if tracker.fixed_rows else tracker.rows.get(path)
            if row is not None and buf.is_floating_point():
                row.buffers += buf.numel()
    return loose


def to_meta(module: nn.Module) -> nn.Module:
    """``module`` if it is already on meta, else a meta copy (the caller's module is untouched)."""
    if all(p.device.type == "meta" for p in module.parameters()):
        return module
    return copy.deepcopy(module).to("meta")


def count(
    module: nn.Module,
    input: Shape | Iterable[int],
    *,
    batch: int = 1,
    dtype: str = "float32",
    rows: Sequence[str] | None = None,
    model: str = "",
) -> Profile:
    """Count ``module`` on the meta device at ``batch`` × ``input``.

    ``rows`` are the row paths to report (a spec's, so rows align with the analytic profile);
    without them every module that runs an op, and every leaf module, is a row.
    """
    shape = input if isinstance(input, Shape) else Shape(*input)
    root = to_meta(module).eval()
    tracker = _Tracker(root, rows)
    recorder = _Recorder(tracker)
    x = torch.empty(batch, *shape.as_list(), device="meta")
    try:
        with torch.no_grad(), recorder:
            root(x)
    except Exception as exc:  # a user's forward can raise anything; say which and stop
        raise LoadError(f"{model or type(module).__name__}: forward failed: {exc}") from None
    finally:
        tracker.close()
    loose = _count_params(root, tracker)
    ordered = [tracker.rows[p] for p in (rows or tracker.order) if p in tracker.rows]
    extra = [r for p, r in tracker.rows.items() if p not in set(rows or tracker.order)]
    return Profile(
        model=model or type(module).__name__,
        source="torch",
        input=shape,
        rows=tuple(_layer_cost(r, batch) for r in [*ordered, *extra]),
        batch=batch,
        dtype=dtype,
        ignored=tuple(sorted(recorder.ignored)),
        unsupported=tuple(f"{op} ×{n}" for op, n in sorted(recorder.unsupported.items())),
        extra_params=loose,
    )


def _fixed(op: str) -> Callable[[nn.Module], str]:
    return lambda module: op


# Module type → its `LayerCost.op`, looked up along the class hierarchy (most specific first).
MODULE_OPS: Mapping[type, Callable[[nn.Module], str]] = MappingProxyType(
    {
        nn.Conv2d: lambda m: conv_kind(m.in_channels, m.groups),
        nn.Conv1d: lambda m: conv_kind(m.in_channels, m.groups),
        nn.Conv3d: lambda m: conv_kind(m.in_channels, m.groups),
        nn.ConvTranspose2d: _fixed("convT"),
        nn.Linear: _fixed("fc"),
        nn.modules.batchnorm._NormBase: _fixed("norm"),
        nn.GroupNorm: _fixed("norm"),
        nn.LayerNorm: _fixed("norm"),
        nn.MaxPool2d: _fixed("maxpool"),
        nn.AvgPool2d: _fixed("avgpool"),
        nn.AdaptiveAvgPool2d: lambda m: "gap" if m.output_size in (1, (1, 1)) else "adaptive_pool",
        nn.LocalResponseNorm: _fixed("lrn"),
        nn.Dropout: _fixed("dropout"),
        nn.Flatten: _fixed("flatten"),
        nn.Identity: _fixed("identity"),
        nn.ReLU: _fixed("relu"),
        nn.ReLU6: _fixed("relu6"),
        nn.Sigmoid: _fixed("sigmoid"),
        nn.SiLU: _fixed("silu"),
        nn.Tanh: _fixed("tanh"),
        nn.Hardswish: _fixed("hswish"),
        nn.Hardsigmoid: _fixed("hsigmoid"),
        nn.GELU: _fixed("gelu"),
        nn.LeakyReLU: _fixed("leaky_relu"),
        nn.PReLU: _fixed("prelu"),
        nn.ELU: _fixed("elu"),
        nn.Softmax: _fixed("softmax"),
        nn.Upsample: _fixed("upsample"),
    }
)


def module_op(module: nn.Module | None) -> str:
    """The op of a row whose module is ``module``: a built spec unit names its own (`layer_op`);
    a module of a known type has its type's; any other module with children is a "block" (its
    arithmetic sits in them); "functional" is work done outside any module."""
    if module is None:
        return "functional"
    named = getattr(module, "layer_op", None)
    if named:
        return str(named)
    for cls in type(module).__mro__:
        if cls in MODULE_OPS:
            return MODULE_OPS[cls](module)
    return "block"


def _layer_cost(row: _Row, batch: int) -> LayerCost:
    unknown = Shape(0, 0, 0)
    return LayerCost(
        path=row.path or "(root)",
        op=module_op(row.module),
        in_shape=row.in_shape or unknown,
        out_shape=row.out_shape or unknown,
        weight_params=row.weight_params,
        bias_params=row.bias_params,
        norm_params=row.norm_params,
        buffers=row.buffers,
        macs=row.macs // batch,
        flops=frozen({k: v // batch for k, v in row.flops.items()}),
    )


# fvcore's operator names → cnnprof's categories. fvcore counts one fused multiply-add as one
# flop, so its conv and linear counts are MACs; its element-wise counts are kept by category.
FVCORE_CATEGORIES: Mapping[str, str] = MappingProxyType(
    {
        "conv": "mac",
        "linear": "mac",
        "matmul": "mac",
        "addmm": "mac",
        "bmm": "mac",
        "einsum": "mac",
        "batch_norm": "norm",
        "group_norm": "norm",
        "layer_norm": "norm",
        "instance_norm": "norm",
        "adaptive_avg_pool2d": "pool",
        "upsample_nearest2d": "pool",
        "upsample_bilinear2d": "pool",
    }
)


def count_fvcore(
    module: nn.Module,
    input: Shape | Iterable[int],
    *,
    batch: int = 1,
    dtype: str = "float32",
    rows: Sequence[str] | None = None,
    model: str = "",
) -> Profile:
    """A second, independent opinion: fvcore's FlopCountAnalysis on real CPU tensors (it traces
    with the JIT, which cannot run on meta tensors). Its per-op counters are mapped into cnnprof's
    categories; its raw total (which folds BatchNorm into "flops") is not reported as such."""
    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError:
        raise LoadError("--counter fvcore needs fvcore: pip install fvcore") from None
    shape = input if isinstance(input, Shape) else Shape(*input)
    root = module.eval()
    if any(p.device.type == "meta" for p in root.parameters()):
        raise LoadError("--counter fvcore needs a module with real weights, not one on meta")
    tracker = _Tracker(root, rows)
    tracker.close()
    analysis = FlopCountAnalysis(root, torch.randn(batch, *shape.as_list()))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    try:
        per_module = analysis.by_module_and_operator()
    except Exception as exc:
        raise LoadError(f"{model or type(module).__name__}: fvcore failed: {exc}") from None
    leaves = rows or [n for n, m in root.named_modules() if not list(m.children())]
    for path in leaves:
        row = tracker.owner(path)
        if row is None:
            continue
        for op, value in per_module.get(path, {}).items():
            category = FVCORE_CATEGORIES.get(op, op)
            if category == "mac":
                row.macs += value
                row.flops["mac"] += 2 * value
            else:
                row.flops[category] += value
    loose = _count_params(root, tracker)
    ordered = [tracker.rows[p] for p in leaves if p in tracker.rows]
    unsupported = analysis.unsupported_ops()
    return Profile(
        model=model or type(module).__name__,
        source="fvcore",
        input=shape,
        rows=tuple(_layer_cost(r, batch) for r in ordered),
        batch=batch,
        dtype=dtype,
        unsupported=tuple(f"{op} ×{n}" for op, n in sorted(unsupported.items())),
        extra_params=loose,
    )


COUNTERS: Mapping[str, Callable[..., Profile]] = MappingProxyType(
    {"torch": count, "fvcore": count_fvcore}
)
