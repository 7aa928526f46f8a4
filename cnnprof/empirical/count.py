"""Count what an nn.Module actually executes, into the same `Profile` the analytic path returns.

Default counter (`count`): every aten op is seen at dispatch level (`recorder`), on the meta
device (no weights, no activations allocated); convolutions and matrix products are costed by
torch's own FlopCounterMode formulas, element-wise ops by cnnprof's per-element table
(`op_costs`), and anything else is either deliberately free (listed) or reported as unsupported
with the module that called it. The other counter is fvcore's (`fvcore_count`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType

from torch import nn

from cnnprof.arch.model import Shape
from cnnprof.empirical.fvcore_count import count_fvcore
from cnnprof.empirical.inputs import Inputs, as_inputs
from cnnprof.empirical.recorder import count_params, layer_cost, output_fields, record
from cnnprof.results.profile import Profile


def not_run(root: nn.Module, entered: set[str], used: set[int]) -> tuple[str, ...]:
    """The outermost modules that never ran (eval skips them) and hold parameters within that
    no op read (a parent may use a child's weights itself, as MultiheadAttention does)."""
    out: dict[str, None] = {}
    for path, module in root.named_modules():
        own = list(module.parameters(recurse=False))
        if path in entered or not own or any(id(p) in used for p in own):
            continue
        parts = path.split(".")
        prefixes = (".".join(parts[:i]) for i in range(1, len(parts) + 1))
        out.setdefault(next(p for p in prefixes if p not in entered))
    return tuple(out)


def tensor_bytes(module: nn.Module) -> int:
    """Bytes of ``module``'s parameters and buffers, once each, at their dtypes (meta too)."""
    tensors = {id(t): t for t in [*module.parameters(), *module.buffers()]}
    return sum(t.numel() * t.element_size() for t in tensors.values())


def to_meta(module: nn.Module) -> nn.Module:
    """``module`` if it is already on meta, else a meta copy (the caller's module is untouched)."""
    if all(p.device.type == "meta" for p in module.parameters()):
        return module
    return copy.deepcopy(module).to("meta")


def count(
    module: nn.Module,
    input: Shape | Iterable[int] | Inputs,
    *,
    batch: int = 1,
    dtype: str = "float32",
    rows: Sequence[str] | None = None,
    model: str = "",
    on: str = "meta",
) -> Profile:
    """Count ``module`` at ``batch`` × ``input`` (a shape, or the `Inputs` of an outside model).

    ``rows`` are the row paths to report (a spec's, so rows align with the analytic profile);
    without them every module that runs an op, holds parameters, or is a leaf is a row. ``on``
    is "meta" (a meta copy, no memory) or "real" (the module where it is: a model that cannot
    run on meta, built on the CPU after a memory check).
    """
    inputs = as_inputs(input)
    root = (to_meta(module) if on == "meta" else module).eval()
    name = model or type(module).__name__
    tracker, recorder = record(root, inputs, batch=batch, rows=rows, name=name, on=on)
    loose = count_params(root, tracker)
    ordered = [tracker.rows[p] for p in (rows or tracker.order) if p in tracker.rows]
    extra = [r for p, r in tracker.rows.items() if p not in set(rows or tracker.order)]
    return Profile(
        model=name,
        source="torch",
        input=inputs.first,
        layers=tuple(layer_cost(r, batch) for r in [*ordered, *extra]),
        batch=batch,
        dtype=dtype,
        ignored=tuple(sorted(recorder.ignored)),
        unsupported=tuple(f"{op} ×{n}" for op, n in sorted(recorder.unsupported.items())),
        extra_params=loose,
        not_run_in_eval=() if rows is not None else not_run(root, tracker.entered, recorder.used),
        inputs=() if rows is not None else inputs.shapes,
        counted_on=on,
        **({} if rows is not None else output_fields(recorder)),
    )


COUNTERS: Mapping[str, Callable[..., Profile]] = MappingProxyType(
    {"torch": count, "fvcore": count_fvcore}
)
