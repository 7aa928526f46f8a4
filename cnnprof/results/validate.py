"""Whether a device record read from a file (a cache, a profile someone gave) can be used:
validated field by field before anything reads its figures. A record travels between machines,
so every number must be finite and within what a device can physically reach, and every string
plain text (no terminal escapes, no rich markup) before it is printed or predicts anything.
Pure data in, a reason naming the field out; and the one JSON writer of the documents cnnprof
writes, which never writes NaN or infinity (`json_text`)."""

from __future__ import annotations

import itertools
import json
import math
import re

from cnnprof.results.device import CURVES, KERNEL_FEATURES, KERNEL_TERMS, TABLES, Peaks
from cnnprof.results.vocab import LATENCY_DTYPES

# A call, a launch, a page fault, a tiny op: microseconds on any device; a second is far beyond
# the slowest, and keeps a sum of thousands of them finite. The same bound holds a kernel
# model's coefficients (seconds per unit of work: far below it).
MAX_CALL_S = 1.0
MAX_CALIBRATION_S = 1e6  # eleven days: longer than any calibration, thorough or cut short
# FLOP/s or bytes/s: one per second is below any device that runs a network; 1e18 (an
# exaFLOP/s) is a thousand times any chip.
RATE_RANGE = (1.0, 1e18)
MAX_SIZE = 2**64  # bytes moved or FLOPs of one probe of a curve
MAX_COUNT = 2**31  # output positions of a probe, channels of a block
MAX_THREADS = 2**16
# A sample's features are logs of counts (elements, channels, MACs; floored at 1e-12): within
# ±100 is e^100 ≈ 1e43 elements, beyond any tensor.
MAX_LOG_FEATURE = 100.0
# A feature's spread over the samples divides every distance: at 1e-6 a difference of 200 in
# logs squares to 4e16, still finite; a spread over samples within RECORD_LIMIT is far above it.
SCALE_RANGE = (1e-6, 1e3)
# A log residual is ln(time / line), both at least a nanosecond (the fit's floor) and at most
# hours: |ln(1e4 / 1e-9)| ≈ 30; beyond it the record was not fitted, and exp() may overflow.
MAX_RESIDUAL = 30.0
# A prediction scans a kind's samples whole for each kernel of that kind it costs. `cnnprof
# device` records at most 506 of a kind (BatchNorm, on a CPU), `--thorough` 1,607 (the kernel
# plans' networks, counted in tests/results/test_profile_samples_bound.py): five times that
# keeps a prediction from any profile within a few times a thorough calibration's.
MAX_SAMPLES = 8192
MAX_RELATIVE = 1e3  # a spread or an error as a fraction of a time: a thousandfold is no fit
MAX_TEXT = 4096  # characters of one string field: a name or a line, never a document
# What rich reads as a style tag ([bold], [/red], [@click]): a profile's text is never markup.
MARKUP = re.compile(r"\[[a-z#/@][^\[\]]*\]", re.IGNORECASE)
TEXT_FIELDS = (
    *("device", "device_name", "torch_version", "dtype", "measured_at", "allocator"),
    *("runtime", "runtime_version", "partial"),
)


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
    """What makes a record unusable (wrong types, text that is not plain, figures that are not
    finite or out of a device's range, empty or unordered curves), or None."""
    return (
        text_unusable(record)
        or figures_unusable(record)
        or roofs_unusable(record)
        or load_unusable(record)
        or kernels_unusable(record)
    )


def text_unusable(record: Peaks) -> str | None:
    """The first string field that is not plain text (a control character, a terminal escape,
    rich markup, a page of text), or None."""
    tables = {name: getattr(record.roofs, name) for name in TABLES}
    named = [(name, getattr(record, name)) for name in TEXT_FIELDS]
    named.append(("layout_kernel", record.roofs.layout_kernel))
    named += [(f"{name} key {key!r}", key) for name, table in tables.items() for key, _ in table]
    for name, value in named:
        if not isinstance(value, str):
            return f"{name} is not text"
        if len(value) > MAX_TEXT or MARKUP.search(value) or not value.isprintable():
            return f"{name} {value[:80]!r} is not plain text (markup, control characters)"
    if record.dtype not in LATENCY_DTYPES:
        return f"dtype {record.dtype!r}"
    return None


def figures_unusable(record: Peaks) -> str | None:
    """The first of a record's own figures (threads, call costs, sizes) out of its range, or
    None."""
    r = record.roofs
    for name, value, top in (
        ("threads", record.threads, MAX_THREADS),
        ("curve_pixels", r.curve_pixels, MAX_COUNT),
        ("few_pixels", r.few_pixels, MAX_COUNT),
        ("layout_block", record.layout_block, MAX_COUNT),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            return f"{name} {value!r} is not a count up to {top}"
    if record.threads < 1:
        return f"threads {record.threads} is not at least 1"
    for name, value, low, high in (
        ("module_s", record.module_s, 0.0, MAX_CALL_S),  # 0: not recorded (ONNX Runtime)
        ("run_s", record.run_s, 0.0, MAX_CALL_S),
        ("fault_s", r.fault_s, 0.0, MAX_CALL_S),
        ("calibration_s", record.calibration_s, 0.0, MAX_CALIBRATION_S),
    ):
        if not _within(value, low, high):
            return f"{name} {value!r} is not a finite figure from {low:g} to {high:g} s"
    if not all(_rate(v) for v in record.peak_rounds):
        return f"peak_rounds holds a rate that is not from {RATE_RANGE[0]:g} to {RATE_RANGE[1]:g}"
    return None


def roofs_unusable(record: Peaks) -> str | None:
    """What makes a record's roofs unusable (a rate out of range, an empty or unordered curve,
    an op's overhead not a finite call cost), or None."""
    r = record.roofs
    if not _rate(r.flops_per_s):
        return f"flops_per_s {r.flops_per_s!r} is not from {RATE_RANGE[0]:g} to {RATE_RANGE[1]:g}"
    for name in CURVES:
        curve = getattr(r, name)
        if not curve and name != "layout":
            return f"{name} is empty"
        if not all(0 < n <= MAX_SIZE and _rate(rate) for n, rate in curve):
            return f"{name} holds a value that is not finite and positive (or out of range)"
        if any(a[0] >= b[0] for a, b in itertools.pairwise(curve)):
            return f"{name} is not in ascending order"
    for name in ("byte_ceilings", "flop_ceilings"):
        if not all(_rate(v) for _, v in getattr(r, name)):
            return f"{name} holds a value that is not finite and positive (or out of range)"
    if not r.op_overhead or not all(_within(v, 0.0, MAX_CALL_S) for _, v in r.op_overhead):
        return f"op_overhead is empty or not finite (from 0 to {MAX_CALL_S:g} s)"
    return None


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
    """What makes a record's kernel models unusable (an unknown or repeated kind, a coefficient
    out of range, a scale, feature or residual that would overflow a prediction, a sample of
    the wrong length), or None."""
    seen: set[str] = set()
    for model in record.kernels:
        width = KERNEL_FEATURES.get(model.kind)
        if width is None:
            return f"kernel kind {model.kind!r}"
        if model.kind in seen:
            return f"kernel kind {model.kind!r} is given twice"
        seen.add(model.kind)
        what = f"the {model.kind} model's"
        if len(model.coefficients) != KERNEL_TERMS[model.kind]:
            return (
                f"the {model.kind} model holds {len(model.coefficients)} coefficients, not "
                f"{KERNEL_TERMS[model.kind]}"
            )
        if not all(_within(c, 0.0, MAX_CALL_S) for c in model.coefficients) or not any(
            model.coefficients
        ):
            return f"{what} coefficients are not finite and non-negative (at most {MAX_CALL_S:g})"
        if len(model.scale) != len(width) or not all(_within(v, *SCALE_RANGE) for v in model.scale):
            low, high = SCALE_RANGE
            return f"{what} scale does not fit its features (from {low:g} to {high:g})"
        if not all(_within(v, 0.0, MAX_RELATIVE) for v in (model.spread, model.loo_error)):
            return f"{what} spread or loo_error is not from 0 to {MAX_RELATIVE:g}"
        if len(model.samples) > MAX_SAMPLES:
            return (
                f"the {model.kind} model holds {len(model.samples)} samples, more than the "
                f"{MAX_SAMPLES} a kind may hold"
            )
        problem = _samples_unusable(model.samples, len(width))
        if problem:
            return f"the {model.kind} model holds a sample {problem}"
    return None


def _samples_unusable(
    samples: tuple[tuple[tuple[float, ...], float], ...], width: int
) -> str | None:
    if not samples:
        return "that does not fit its features"
    for x, residual in samples:
        if len(x) != width:
            return "that does not fit its features"
        if not all(_within(v, -MAX_LOG_FEATURE, MAX_LOG_FEATURE) for v in x):
            return f"whose features are not finite logs within ±{MAX_LOG_FEATURE:g}"
        if not _within(residual, -MAX_RESIDUAL, MAX_RESIDUAL):
            return f"whose residual is not a finite log within ±{MAX_RESIDUAL:g}"
    return None


def _within(value: object, low: float, high: float) -> bool:
    """A number (not a bool) from ``low`` to ``high``: NaN and infinities never are."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def _rate(value: object) -> bool:
    return _within(value, *RATE_RANGE)
