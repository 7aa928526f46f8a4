"""The dispatch counter: every aten op an nn.Module runs, seen at dispatch level (on the meta
device: no weights, no activations allocated) and costed by `op_costs`, each attributed to the
row (a spec's row path, or the innermost running module of an outside model) whose module was
running; then each row as a `LayerCost`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from cnnprof.analytic.elementwise import LRN_EXTRA
from cnnprof.arch.model import Shape, frozen, shape_of
from cnnprof.empirical.inputs import Inputs
from cnnprof.empirical.meta_shapes import META_SHORTCUTS, all_meta
from cnnprof.empirical.module_types import kernel_of, module_op, param_kind
from cnnprof.empirical.op_costs import (
    ELEMENTWISE,
    FUSED_MACS,
    IGNORED,
    NAMED,
    bias_elements,
    first,
    numel,
)
from cnnprof.empirical.outside import meta_specific, why
from cnnprof.errors import LoadError
from cnnprof.results.profile import LayerCost


@dataclass
class Row:
    """One row while the forward runs: what its module's ops and tensors add up to, at the batch
    (mutable: the recorder adds to it op by op)."""

    path: str
    module: nn.Module | None = None
    in_shape: Shape | None = None
    out_shape: Shape | None = None
    macs: int = 0
    flops: Counter = field(default_factory=Counter)
    params: Counter = field(default_factory=Counter)  # by `param_kind`: weight, bias, norm
    buffers: int = 0


def tensor_shape(value: Any) -> Shape | None:
    """A row's shape per image of a module's (first) input or output; None when not a tensor of
    at least a batch and one more dim."""
    value = first(value)
    if not isinstance(value, torch.Tensor) or value.dim() < 2:
        return None
    return shape_of(value.shape[1:])


class Recorder(TorchDispatchMode):
    """Sees every aten op; attributes its cost to the row whose module is running."""

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self.tracker = tracker
        self.ignored: Counter = Counter()
        self.unsupported: Counter = Counter()
        self.largest = 0  # elements of the largest tensor an op returned
        self.used: set[int] = set()  # ids of the tensors ops read (parameters among them)
        self.uncosted: set[str] = set()  # paths of the modules an unsupported op ran in
        self.outputs: tuple[tuple[str, tuple[int, ...]], ...] = ()  # see `returned`

    def dispatch(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        shortcut = META_SHORTCUTS.get(func.overloadpacket)
        meta = shortcut is not None and all_meta(args) and not kwargs
        out = shortcut(*args) if meta else func(*args, **kwargs)
        self.largest = max(self.largest, numel(first(out)))
        self.used.update(id(a) for a in args if isinstance(a, torch.Tensor))
        packet = func.overloadpacket
        if packet in flop_registry:
            row = self.tracker.current_row()
            flops = flop_registry[packet](*args, **kwargs, out_val=out)
            row.macs += flops // 2
            row.flops["mac"] += flops
            bias = bias_elements(packet, args, out)
            if bias:
                row.flops["bias"] += bias
        elif packet in FUSED_MACS:
            macs = FUSED_MACS[packet](args, kwargs, out)
            row = self.tracker.current_row()
            row.macs += macs
            row.flops["mac"] += 2 * macs
        elif self.tracker.inside_lrn():
            self.ignored["(inside LocalResponseNorm: costed by its formula)"] += 1
        elif packet in ELEMENTWISE:
            category, cost = ELEMENTWISE[packet]
            self.tracker.current_row().flops[category] += cost(args, kwargs, out)
        elif packet in IGNORED:
            self.ignored[str(packet)] += 1
        elif str(packet) in NAMED:
            category, cost = NAMED[str(packet)]
            self.tracker.current_row().flops[category] += cost(args, kwargs, out)
        else:
            self.unsupported[f"{packet} in {self.tracker.running()}"] += 1
            self.uncosted.add(self.tracker.stack[-1] if self.tracker.stack else "")
        return out


# TorchDispatchMode wraps a subclass's __torch_dispatch__ so that torch.compile skips it, which
# imports torch._dynamo (most of a second) on the first op; cnnprof never compiles, so the mode
# dispatches through the plain method.
Recorder.__torch_dispatch__ = Recorder.dispatch  # type: ignore[method-assign]


class Tracker:
    """Keeps the stack of running modules and maps each to its row."""

    def __init__(self, root: nn.Module, rows: Sequence[str] | None) -> None:
        self.names = {id(m): name for name, m in root.named_modules()}
        self.modules = dict(root.named_modules())
        self.fixed_rows = rows is not None
        self.rows: dict[str, Row] = {}
        for path in rows or ():
            if path not in self.modules:
                raise LoadError(f"row '{path}' has no module of that path in the built network")
            self.rows[path] = Row(path, self.modules[path])
        self.stack: list[str] = []
        self.last: Row | None = None
        self.order: list[str] = []
        self.entered: set[str] = set()
        self.handles: list[Any] = []
        for module in self.modules.values():
            self.handles.append(module.register_forward_pre_hook(self._enter))
            self.handles.append(module.register_forward_hook(self._leave, always_call=True))

    def owner(self, path: str) -> Row | None:
        if self.fixed_rows:
            while True:
                if path in self.rows:
                    return self.rows[path]
                if "." not in path:
                    return None
                path = path.rsplit(".", 1)[0]
        if path not in self.rows:
            self.rows[path] = Row(path, self.modules.get(path))
        return self.rows[path]

    def running(self) -> str:
        """The innermost running module, as a user would name it."""
        return (self.stack[-1] if self.stack else "") or "(root)"

    def current_row(self) -> Row:
        return self.current_row_for(self.stack[-1] if self.stack else "")

    def current_row_for(self, path: str) -> Row:
        row = self.owner(path)
        if row is None:  # an op in a block's own forward (residual add): the last row run
            row = self.last or self.owner_or_root()
        return row

    def owner_or_root(self) -> Row:
        return self.rows.setdefault("", Row("", None))

    def _enter(self, module: nn.Module, args: tuple) -> None:
        path = self.names.get(id(module), "")
        self.stack.append(path)
        self.entered.add(path)
        if not self.fixed_rows and not list(module.children()):
            self.owner(path)  # leaf modules are rows even when they do no arithmetic
        row = self.rows.get(path)
        if row is not None and row.in_shape is None:
            row.in_shape = tensor_shape(args)
            self.order.append(path)

    def inside_lrn(self) -> bool:
        """LRN runs as several element-wise ops; it is costed whole, by its formula, on exit."""
        return bool(self.stack) and isinstance(
            self.modules.get(self.stack[-1]), nn.LocalResponseNorm
        )

    def _leave(self, module: nn.Module, args: tuple, output: Any) -> None:
        path = self.stack.pop() if self.stack else ""
        if isinstance(module, nn.LocalResponseNorm):
            per_element = 2 * module.size + LRN_EXTRA
            self.current_row_for(path).flops["lrn"] += per_element * numel(first(output))
        row = self.rows.get(path)
        if row is not None:
            if row.out_shape is None:
                row.out_shape = tensor_shape(output)
            self.last = row

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


def count_params(root: nn.Module, tracker: Tracker) -> int:
    """Parameters and float buffers per row, each tensor once; returns those outside any row.
    An outside model's module that holds parameters is a row even when nothing else made it one
    (a class token on the root, a layer-scale γ on a block, an aux head that eval skips)."""
    seen: set[int] = set()
    loose = 0
    for path, module in root.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                continue
            seen.add(id(param))
            row = tracker.owner(path)
            if row is None:
                loose += param.numel()
            else:
                row.params[param_kind(module, name)] += param.numel()
        for _, buf in module.named_buffers(recurse=False):
            row = tracker.owner(path) if tracker.fixed_rows else tracker.rows.get(path)
            if row is not None and buf.is_floating_point():
                row.buffers += buf.numel()
    return loose


class MetaFailed(LoadError):
    """The forward could not run on the meta device (data-dependent control flow, ``.item()``);
    ``largest`` is the largest tensor, in elements, it produced before it stopped."""

    def __init__(self, message: str, largest: int) -> None:
        super().__init__(message)
        self.largest = largest


def record(
    root: nn.Module, inputs: Inputs, *, batch: int, rows: Sequence[str] | None, name: str, on: str
) -> tuple[Tracker, Recorder]:
    """Run ``root`` once on ``inputs`` at ``batch`` with every op recorded into ``rows`` (None:
    a row per module that does arithmetic or is a leaf). A forward that fails raises
    `MetaFailed` on meta when the meta device is to blame (the caller may retry on the CPU), else
    `LoadError`, naming ``name``."""
    tracker = Tracker(root, rows)
    recorder = Recorder(tracker)
    try:
        with torch.no_grad():
            param = next(root.parameters(), None)
            x = inputs.tensors(batch, param.device.type if param is not None else "meta")
            with recorder:
                out = root(*x)
            recorder.outputs = returned(out, batch=-1 if inputs.image_list else batch)
    except Exception as exc:  # a user's forward can raise anything; say which and stop
        message = f"{name}: forward failed: {why(exc)}"
        if on == "meta" and meta_specific(exc):
            raise MetaFailed(message, recorder.largest) from None
        raise LoadError(message) from None
    finally:
        tracker.close()
    return tracker, recorder


def returned(value: Any, *, batch: int, name: str = "") -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Every tensor a forward returned, as (name, dims per image): "" for a lone tensor, the
    position in a tuple or list, the key of a dict (a named tuple's field), joined by "." when
    nested. A leading dim of ``batch`` is the batch's (-1: none is: a detection model's list
    of images returns a list of per-image results)."""
    if isinstance(value, torch.Tensor):
        dims = tuple(value.shape)
        return ((name, dims[1:] if dims[:1] == (batch,) else dims),)
    if isinstance(value, Mapping):
        items: Any = value.items()
    elif isinstance(value, tuple) and hasattr(value, "_fields"):
        items = zip(value._fields, value, strict=True)
    elif isinstance(value, (tuple, list)):
        items = enumerate(value)
    else:
        return ()
    return tuple(
        found
        for key, item in items
        for found in returned(item, batch=batch, name=f"{name}.{key}" if name else str(key))
    )


def output_fields(recorder: Recorder) -> dict[str, Any]:
    """A profile's ``outputs`` and ``returned`` (the first tensor as a row's shape) from what
    the recorded forward returned."""
    outputs = recorder.outputs
    return {"outputs": outputs, "returned": shape_of(outputs[0][1]) if outputs else None}


def layer_cost(row: Row, batch: int) -> LayerCost:
    """The row as a profile's row, per image."""
    unknown = Shape(0, 0, 0)
    return LayerCost(
        path=row.path or "(root)",
        op=module_op(row.module),
        in_shape=row.in_shape or unknown,
        out_shape=row.out_shape or unknown,
        kernel=kernel_of(row.module),
        weight_params=row.params["weight"],
        bias_params=row.params["bias"],
        norm_params=row.params["norm"],
        buffers=row.buffers,
        macs=row.macs // batch,
        flops_by_category=frozen({k: v // batch for k, v in row.flops.items()}),
        live=(row.in_shape or unknown).elements + (row.out_shape or unknown).elements,
    )
