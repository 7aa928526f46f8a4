"""A second, independent opinion on a count: fvcore's FlopCountAnalysis, mapped into cnnprof's
rows and FLOP categories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

import torch
from torch import nn

from cnnprof.arch.model import Shape
from cnnprof.empirical.recorder import Tracker, count_params, layer_cost
from cnnprof.errors import LoadError
from cnnprof.results.profile import Profile

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
    tracker = Tracker(root, rows)
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
    loose = count_params(root, tracker)
    ordered = [tracker.rows[p] for p in leaves if p in tracker.rows]
    unsupported = analysis.unsupported_ops()
    return Profile(
        model=model or type(module).__name__,
        source="fvcore",
        input=shape,
        layers=tuple(layer_cost(r, batch) for r in ordered),
        batch=batch,
        dtype=dtype,
        unsupported=tuple(f"{op} ×{n}" for op, n in sorted(unsupported.items())),
        extra_params=loose,
    )
