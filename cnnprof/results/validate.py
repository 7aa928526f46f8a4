"""Whether a device record read from a file (a cache, a profile someone gave) can be used:
validated field by field before anything reads its figures. Pure data in, a reason out."""

from __future__ import annotations

import itertools
import json
import math

from cnnprof.results.device import CURVES, KERNEL_FEATURES, KERNEL_TERMS, Peaks
from cnnprof.results.vocab import LATENCY_DTYPES


def parse_record(text: str) -> tuple[Peaks | None, str | None]:
    """A device record from its JSON text, and what makes it unusable for a prediction
    (malformed, or holding no kernel models), or None when it is usable."""
    try:
        record = Peaks.from_dict(json.loads(text))
        problem = unusable(record)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return record, problem if problem or record.kernels else "it holds no kernel models"


def unusable(record: Peaks) -> str | None:
    """What makes a cached record unusable (wrong types, values that are not finite and
    positive, empty or unordered curves), or None."""
    r = record.roofs
    for name in ("device", "device_name", "torch_version", "dtype", "measured_at"):
        if not isinstance(getattr(record, name), str):
            return f"{name} is not text"
    if record.dtype not in LATENCY_DTYPES:
        return f"dtype {record.dtype!r}"
    for name, value in (
        ("threads", record.threads),
        ("curve_pixels", r.curve_pixels),
        ("few_pixels", r.few_pixels),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{name} {value!r} is not a count"
    if not _positive(r.flops_per_s):
        return f"flops_per_s {r.flops_per_s!r}"
    if not (isinstance(r.fault_s, (int, float)) and 0 <= r.fault_s < math.inf):
        return f"fault_s {r.fault_s!r}"
    for name in CURVES:
        curve = getattr(r, name)
        if not curve and name != "layout":
            return f"{name} is empty"
        if not all(n > 0 and _positive(rate) for n, rate in curve):
            return f"{name} holds a value that is not finite and positive"
        if any(a[0] >= b[0] for a, b in itertools.pairwise(curve)):
            return f"{name} is not in ascending order"
    for name in ("byte_ceilings", "flop_ceilings"):
        if not all(_positive(v) for _, v in getattr(r, name)):
            return f"{name} holds a value that is not finite and positive"
    if not r.op_overhead or not all(0 <= v < math.inf for _, v in r.op_overhead):
        return "op_overhead is empty or not finite"
    return load_unusable(record) or kernels_unusable(record)


def load_unusable(record: Peaks) -> str | None:
    """What makes a record's load during its calibration unusable (a figure that is negative
    or not finite, no cores), or None."""
    load = record.load
    if load is None:
        return None
    figures = (load.load_average, load.others_share, load.steal_share, load.window_s)
    if not all(0 <= v < math.inf for v in figures) or load.cores < 1:
        return "load holds a figure that is not finite and non-negative"
    return None


def kernels_unusable(record: Peaks) -> str | None:
    """What makes a record's kernel models unusable (an unknown kind, a coefficient that is not
    finite and non-negative, a sample of the wrong length), or None."""
    for model in record.kernels:
        width = KERNEL_FEATURES.get(model.kind)
        if width is None:
            return f"kernel kind {model.kind!r}"
        if len(model.coefficients) != KERNEL_TERMS[model.kind]:
            return (
                f"the {model.kind} model holds {len(model.coefficients)} coefficients, not "
                f"{KERNEL_TERMS[model.kind]}"
            )
        if not all(0 <= c < math.inf for c in model.coefficients) or not any(model.coefficients):
            return f"the {model.kind} model's coefficients are not finite and non-negative"
        if len(model.scale) != len(width) or not all(_positive(v) for v in model.scale):
            return f"the {model.kind} model's scale does not fit its features"
        if not model.samples or any(
            len(x) != len(width) or not all(map(math.isfinite, x)) or not math.isfinite(r)
            for x, r in model.samples
        ):
            return f"the {model.kind} model holds a sample that does not fit its features"
    return None


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf
