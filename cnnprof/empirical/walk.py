"""The analytic profile of a model with no spec: modules, shapes recorded on the meta device,
costed by closed-form formulas (the module-type table, `cnnprof.empirical.module_types`) — the
cross-check of the dispatch-level count.

Every module with a formula is walked, leaf or not; parameters that no formula row holds (a class
token, a layer-scale γ on a block, an aux head that eval skips) get a row of their own, so the
walk's rows line up with the dispatch count's. A module with no formula is listed only when it
does arithmetic (seen at dispatch level), never for an empty ``Sequential`` or an ``Identity``;
a filter-holding leaf gets the formula of what it holds where it multiply-accumulated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from cnnprof.arch.model import Shape, frozen
from cnnprof.empirical.count import to_meta
from cnnprof.empirical.inputs import Inputs, as_inputs
from cnnprof.empirical.module_types import (
    Call,
    formula_for,
    held_formula,
    module_op,
    param_kind,
)
from cnnprof.empirical.recorder import Recorder, Tracker, output_fields, record
from cnnprof.results.profile import LayerCost, Profile


def _sizes(value: Any) -> tuple[torch.Size, ...]:
    items = value if isinstance(value, (tuple, list)) else (value,)
    return tuple(v.shape for v in items if isinstance(v, torch.Tensor))


def _record_calls(
    modules: dict[str, nn.Module], batch: int
) -> tuple[dict[str, list[Call]], list[Any]]:
    """Hooks on every module with a formula and every leaf: path → its calls, in first-call
    order, filled as the forward runs; and the hooks' handles, to remove after it."""
    calls: dict[str, list[Call]] = {}
    handles = []
    for path, m in modules.items():
        if list(m.children()) and formula_for(m) is None:
            continue

        def hook(m: nn.Module, args: tuple, out: Any, path: str = path) -> None:
            shapes, result = _sizes(args), _sizes(out)
            if shapes and result:
                calls.setdefault(path, []).append(Call(shapes, result[0], batch))

        handles.append(m.register_forward_hook(hook))
    return calls, handles


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
    calls, handles = _record_calls(modules, batch)
    name = model or type(module).__name__
    try:  # the dispatch count says which formula-less modules do arithmetic
        tracker, recorder = record(root, inputs, batch=batch, rows=None, name=name, on=on)
    finally:
        for h in handles:
            h.remove()
    rows, unsupported = _formula_rows(modules, calls, tracker, recorder)
    held = {r.path for r in rows}
    return Profile(
        model=name,
        source="analytic",
        input=inputs.first,
        layers=(*rows, *_parameter_rows(root, held)),
        batch=batch,
        dtype=dtype,
        unsupported=tuple(unsupported),
        inputs=inputs.shapes,
        **output_fields(recorder),
    )


def _formula_rows(
    modules: dict[str, nn.Module],
    calls: dict[str, list[Call]],
    tracker: Tracker,
    recorder: Recorder,
) -> tuple[list[LayerCost], list[str]]:
    """A row per called module with a formula, its calls summed; and the modules with none that
    did arithmetic at dispatch level or ran an op the dispatch count could not cost either (an
    LSTM's fused kernel on the CPU), as "path (Type)"."""
    rows, unsupported = [], []
    for path, recorded in calls.items():
        m, dispatched = modules[path], tracker.rows.get(path)
        macs = dispatched.macs if dispatched else 0
        formula = formula_for(m) or held_formula(m, macs, recorded)
        if formula is None:
            worked = dispatched is not None and (dispatched.macs or sum(dispatched.flops.values()))
            if worked or path in recorder.uncosted:
                unsupported.append(f"{path} ({type(m).__name__})")
            continue
        rows.append(_with_own(_calls(formula(path, m, call) for call in recorded), m))
    outside = sorted(p for p in recorder.uncosted if p not in calls)  # a block's own forward
    unsupported += [f"{p or '(root)'} ({type(modules[p]).__name__})" for p in outside]
    return rows, unsupported


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
            kind[param_kind(m, name)] += p.numel()
        unknown = Shape(0, 0, 0)
        out.append(
            LayerCost(
                path=path or "(root)",
                op=module_op(m),
                in_shape=unknown,
                out_shape=unknown,
                weight_params=kind["weight"],
                bias_params=kind["bias"],
                norm_params=kind["norm"],
            )
        )
    return out


def _calls(costs: Iterable[LayerCost]) -> LayerCost:
    """One row for a module run several times: its work summed, its parameters once."""
    first, *rest = costs
    if not rest:
        return first
    flops = dict(first.flops_by_category)
    for cost in rest:
        for key, value in cost.flops_by_category.items():
            flops[key] = flops.get(key, 0) + value
    return replace(
        first,
        macs=first.macs + sum(c.macs for c in rest),
        flops_by_category=frozen(flops),
        live=max(c.live for c in (first, *rest)),
    )
