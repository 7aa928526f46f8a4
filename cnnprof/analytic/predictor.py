"""The kernel predictor: a network's latency as the sum of the kernels its rows call, each
predicted by a small model fitted on the device to kernels of that kind timed as a network runs
them (`cnnprof.empirical.kernels` times them; `results.device.KernelModel` holds the fit).

This is how the latency-prediction literature does it (nn-Meter, LitePred: per-kernel models over
each kernel's configuration), kept small and readable:

- a row of a profile is split into the kernels eager PyTorch runs for it (`calls`): the main one
  (a convolution, by channels, kernel, stride, groups and output positions, 1×1 ones apart; a
  depthwise one; a
  matrix product; a pool), then one element-wise kernel per FLOP category (BatchNorm, the
  activation with its FLOPs per element, an add or a scale);
- a kind's model is a line over its work terms (a launch, multiply-accumulates, elements read
  and written, weights), fitted by least squares on relative error so small kernels weigh as much
  as large ones, coefficients kept non-negative; then a correction from the samples nearest in
  log feature space (inverse-distance weighted mean of their log residuals), which carries
  what a line cannot: a kernel torch switches to at some size, a cache that stops holding the
  weights, threads left idle by few positions;
- a row's time is the sum of its kernels' and, when it runs several (a conv unit's
  convolution, BatchNorm and activation) or none (an ``nn.Identity``, an empty container), one
  module call that does no arithmetic: the module that calls them; a row of a kind no model
  covers (attention, a transposed convolution, LRN …) is costed on the roofline and named in the
  prediction.

Pure Python, no torch: a saved device profile predicts any profile anywhere.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from cnnprof.analytic.roofline import layer_estimate
from cnnprof.arch.ops import ACTIVATIONS
from cnnprof.errors import CnnprofError
from cnnprof.results.device import (
    KERNEL_FEATURES,
    MAX_LANES,
    KernelModel,
    Peaks,
    Prediction,
    RowPrediction,
)
from cnnprof.results.profile import LayerCost, Profile

FEATURES = KERNEL_FEATURES
NEIGHBOURS = 4  # samples the correction averages over


def lanes(*channels: int) -> int:
    """The largest power of two, up to `MAX_LANES`, that divides every channel count."""
    width = MAX_LANES
    while width > 1 and any(c % width for c in channels):
        width //= 2
    return width


def _conv_terms(x: Sequence[float]) -> tuple[float, ...]:
    batch, per_group, out, pixels, kernel, stride, groups = x[:7]
    return (
        1.0,
        batch * pixels * out * per_group * kernel,
        batch * per_group * groups * pixels * stride * stride,
        batch * out * pixels,
        out * per_group * kernel,
    )


def _dw_terms(x: Sequence[float]) -> tuple[float, ...]:
    batch, channels, pixels, kernel, stride = x[:5]
    out = batch * channels * pixels
    return 1.0, out * kernel, out * stride * stride, out, channels * kernel


def _linear_terms(x: Sequence[float]) -> tuple[float, ...]:
    rows, n_in, n_out = x
    return 1.0, rows * n_in * n_out, rows * n_in, rows * n_out, n_in * n_out


def _pool_terms(x: Sequence[float]) -> tuple[float, ...]:
    planes, in_pixels, out_pixels, kernel = x
    return 1.0, planes * out_pixels * kernel, planes * in_pixels, planes * out_pixels


def _elementwise_terms(x: Sequence[float]) -> tuple[float, ...]:
    return 1.0, x[0]


def _act_terms(x: Sequence[float]) -> tuple[float, ...]:
    elements, flops = x
    return 1.0, elements, elements * flops


# Each kind's work terms: what its line is fitted over. The first term is one launch.
TERMS: Mapping[str, Callable[[Sequence[float]], tuple[float, ...]]] = MappingProxyType(
    {
        "conv": _conv_terms,
        "pointwise": _conv_terms,
        "dwconv": _dw_terms,
        "linear": _linear_terms,
        "maxpool": _pool_terms,
        "avgpool": _pool_terms,
        "norm": _elementwise_terms,
        "act": _act_terms,
        "add": _elementwise_terms,
        "reorder": _elementwise_terms,
        "reduce": _pool_terms,
    }
)


@dataclass(frozen=True)
class Call:
    """One kernel a row runs: its kind and its features (`FEATURES[kind]`, in order)."""

    kind: str
    x: tuple[float, ...]


# --- fitting ----------------------------------------------------------------------------------


def _solve(a: list[list[float]], b: list[float]) -> list[float] | None:
    """``a · x = b`` by Gaussian elimination with partial pivoting; None when singular."""
    n = len(b)
    m = [[*row[:], b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) < 1e-12:
            return None
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


def _line(terms: Sequence[Sequence[float]], seconds: Sequence[float]) -> tuple[float, ...]:
    """Non-negative coefficients ``c`` minimising Σ ((terms · c − t) / t)²: each sample's row
    divided by its time, columns scaled to unit size, terms whose coefficient comes out negative
    dropped one at a time (the most negative first) and the rest fitted again."""
    p = len(terms[0])
    active = list(range(p))
    rows = [[v / t for v in row] for row, t in zip(terms, seconds, strict=True)]
    while active:
        norms = [math.sqrt(sum(r[j] ** 2 for r in rows)) or 1.0 for j in active]
        a = [[r[j] / n for j, n in zip(active, norms, strict=True)] for r in rows]
        gram = [
            [sum(r[i] * r[k] for r in a) for k in range(len(active))] for i in range(len(active))
        ]
        rhs = [sum(r[i] for r in a) for i in range(len(active))]
        scaled = _solve(gram, rhs)
        if scaled is None:
            active.pop()
            continue
        coef = [c / n for c, n in zip(scaled, norms, strict=True)]
        worst = min(range(len(active)), key=lambda i: coef[i])
        if coef[worst] >= 0:
            out = [0.0] * p
            for j, c in zip(active, coef, strict=True):
                out[j] = c
            return tuple(out)
        active.pop(worst)
    return (statistics.median(seconds),) + (0.0,) * (p - 1)


def _logs(x: Sequence[float]) -> tuple[float, ...]:
    return tuple(math.log(max(v, 1e-12)) for v in x)


def line_seconds(model: KernelModel, x: Sequence[float]) -> float:
    """The fitted line at ``x``, never below a tenth of its launch term (or a nanosecond)."""
    terms = TERMS[model.kind](x)
    value = sum(c * t for c, t in zip(model.coefficients, terms, strict=True))
    return max(value, model.coefficients[0] / 10, 1e-9)


def _correction(model: KernelModel, x: Sequence[float], skip: int | None = None) -> float:
    """The inverse-distance weighted mean log residual of the nearest samples to ``x``."""
    logs = _logs(x)
    near: list[tuple[float, float]] = []
    for index, (sample, residual) in enumerate(model.samples):
        if index == skip:
            continue
        d = math.sqrt(sum(((a - b) / s) ** 2 for a, b, s in zip(logs, sample, model.scale)))  # noqa: B905
        near.append((d, residual))
    near.sort()
    chosen = near[:NEIGHBOURS]
    if not chosen:
        return 0.0
    weights = [1.0 / (d + 0.05) ** 2 for d, _ in chosen]
    return sum(w * r for w, (_, r) in zip(weights, chosen, strict=True)) / sum(weights)


def kernel_seconds(model: KernelModel, x: Sequence[float]) -> float:
    """Predicted seconds of one kernel of ``model``'s kind with features ``x``."""
    return line_seconds(model, x) * math.exp(_correction(model, x))


def fit(
    kind: str, samples: Sequence[tuple[Sequence[float], float]], spread: float = 0.0
) -> KernelModel:
    """A kind's model from timed samples: (features, median seconds) each."""
    if kind not in FEATURES:
        raise ValueError(f"no kernel kind {kind!r}")
    if not samples:
        raise ValueError(f"no samples of {kind} kernels to fit")
    xs = [tuple(float(v) for v in x) for x, _ in samples]
    ts = [max(t, 1e-9) for _, t in samples]  # a kernel timed at 0 (a coarse clock): 1 ns
    coefficients = _line([TERMS[kind](x) for x in xs], ts)
    logs = [_logs(x) for x in xs]
    scale = tuple((statistics.pstdev(column) or 1.0) for column in zip(*logs, strict=True))
    bare = KernelModel(kind, coefficients, scale, ())
    residuals = [math.log(t / line_seconds(bare, x)) for x, t in zip(xs, ts, strict=True)]
    model = KernelModel(kind, coefficients, scale, tuple(zip(logs, residuals, strict=True)), spread)
    errors = [
        abs(line_seconds(model, x) * math.exp(_correction(model, x, skip=i)) / t - 1)
        for i, (x, t) in enumerate(zip(xs, ts, strict=True))
    ]
    loo = statistics.median(errors) if len(errors) > 1 else 0.0
    return KernelModel(kind, coefficients, scale, model.samples, spread, loo)


# --- a profile's rows as kernel calls ------------------------------------------------------------

CONV_OPS = frozenset({"conv", "gconv", "dwconv"})
POOL_OPS: Mapping[str, str] = MappingProxyType(
    {"maxpool": "maxpool", "avgpool": "avgpool", "gap": "avgpool", "adaptive_pool": "avgpool"}
)
# ops whose arithmetic is only their element-wise FLOP categories (or none)
PASS_OPS = frozenset({"norm", "scale", "block", "functional", "identity", "flatten", "dropout"})
PASS_CATEGORIES: Mapping[str, str] = MappingProxyType(
    {"norm": "norm", "act": "act", "add": "add", "scale": "add"}
)
FUSED = frozenset({"mac", "bias"})  # a convolution's or a matrix product's own arithmetic


def _conv_call(row: LayerCost, batch: int) -> Call:
    x, y = row.in_shape, row.out_shape
    kernel = math.prod(row.kernel)  # positions it covers: 9 for 3×3, 1 when none
    stride = max(1, round(x.h / y.h)) if y.h else 1
    pixels = y.h * y.w
    per_output = row.macs // max(y.c * pixels, 1)  # in_per_group × kernel
    per_group = max(1, round(per_output / kernel))
    groups = max(1, round(x.c / per_group))
    if per_group == 1 and groups == y.c:
        return Call("dwconv", (batch, y.c, pixels, kernel, stride, lanes(y.c)))
    features = (batch, per_group, y.c, pixels, kernel, stride, groups, lanes(per_group, y.c))
    return Call(conv_kind(kernel), features)


def conv_kind(kernel: int) -> str:
    """A 1×1 convolution is a matrix product ("pointwise"); a larger kernel runs other
    algorithms (direct, Winograd, im2col), modelled apart ("conv")."""
    return "pointwise" if kernel == 1 else "conv"


def _se_calls(row: LayerCost, batch: int) -> list[Call]:
    """Squeeze-and-excitation: the global pool, two 1×1 convolutions on a 1×1 map, their
    activations, and the scale of the input."""
    c, pixels = row.in_shape.c, row.in_shape.h * row.in_shape.w
    squeeze = max(1, row.weight_params // (2 * c))
    per_element = row.flops_by_category.get("act", 0) / (
        squeeze + c
    )  # the activation's and the gate's
    return [
        Call("avgpool", (batch * c, pixels, 1, pixels)),
        Call("pointwise", (batch, c, squeeze, 1, 1, 1, 1, lanes(c, squeeze))),
        Call("act", (batch * squeeze, per_element)),
        Call("pointwise", (batch, squeeze, c, 1, 1, 1, 1, lanes(c, squeeze))),
        Call("act", (batch * c, per_element)),
        Call("add", (batch * row.in_shape.elements,)),
    ]


def calls(row: LayerCost, batch: int) -> tuple[Call, ...] | None:
    """The kernels a row runs, in order; None when a kind no model covers does its arithmetic."""
    main: list[Call] = []
    if row.kernel and len(row.kernel) != 2:
        return None  # a 1-D or 3-D kernel: the models know 2-D convolutions and pools
    if row.op in CONV_OPS and row.macs:
        main.append(_conv_call(row, batch))
    elif row.op == "fc" and row.macs and row.weight_params:
        n_out = row.out_shape.c
        n_in = row.weight_params // max(n_out, 1)
        main.append(Call("linear", (batch * row.macs // row.weight_params, n_in, n_out)))
    elif row.op == "se":
        return tuple(_se_calls(row, batch))
    elif row.op in POOL_OPS:
        x, y = row.in_shape, row.out_shape
        pixels = max(y.h * y.w, 1)
        per_output = row.flops_by_category.get("pool", 0) // max(y.elements, 1) + (
            row.op == "maxpool"
        )
        main.append(Call(POOL_OPS[row.op], (batch * x.c, x.h * x.w, pixels, max(per_output, 1))))
    elif (row.op not in PASS_OPS and row.op not in ACTIVATION_OPS) or row.macs:
        return None
    covered = FUSED | set(PASS_CATEGORIES) | ({"pool"} if row.op in POOL_OPS else set())
    if any(v for k, v in row.flops_by_category.items() if k not in covered):
        return None
    elements = batch * row.out_shape.elements
    for category, kind in PASS_CATEGORIES.items():
        count = row.flops_by_category.get(category, 0) * batch
        if not count or not elements:
            continue
        features = (elements, count / elements) if kind == "act" else (elements,)
        main.append(Call(kind, features))
    return tuple(main)


ACTIVATION_OPS = frozenset(ACTIVATIONS)


# --- prediction ---------------------------------------------------------------------------------


class UnsoundPrediction(CnnprofError):
    """A device profile's models predicted no latency (a figure not finite, or not above 0):
    the profile is damaged; the caller names it."""


def sound(predict: Callable[[], Prediction]) -> Prediction:
    """What ``predict`` returns when it is a latency: every row's seconds finite and ≥ 0, their
    sum finite and > 0; else (an overflow on the way too) `UnsoundPrediction`, never a number."""
    try:
        found = predict()
    except OverflowError:
        raise UnsoundPrediction("its kernel models overflow (a figure beyond any float)") from None
    rows = [r.seconds for r in found.layers]
    if not all(0 <= s < math.inf for s in rows) or not 0 < found.seconds < math.inf:
        raise UnsoundPrediction(
            f"its kernel models predict {found.seconds!r} s for {found.model}: a latency is "
            "finite and above 0"
        )
    return found


def predict(profile: Profile, device: Peaks) -> Prediction:
    """Predicted seconds of every row of ``profile`` on ``device``'s kernel models (a device
    profile calibrated with kernels, at the profile's dtype); `sound`, or `UnsoundPrediction`."""
    return sound(lambda: _predict(profile, device))


def _predict(profile: Profile, device: Peaks) -> Prediction:
    models = device.kernel_models()
    rows = []
    for row in profile.layers:
        found = calls(row, profile.batch)
        if found is not None and all(c.kind in models for c in found):
            seconds = sum(kernel_seconds(models[c.kind], c.x) for c in found)
            # a row of several kernels is a module that calls them (a conv unit, an SE block);
            # a row of none is a module call that does no arithmetic
            wrapper = device.module_s if len(found) != 1 else 0.0
            rows.append(RowPrediction(row.path, row.op, seconds + wrapper, len(found)))
            continue
        guess = layer_estimate(
            row, device.roofs, profile.batch, profile.dtype_bytes, footprint=profile.bytes_moved
        )
        rows.append(RowPrediction(row.path, row.op, guess.seconds, 0, on_roofline=True))
    return Prediction(
        profile.model, profile.batch, profile.dtype, device.device_name, device.threads, tuple(rows)
    )
