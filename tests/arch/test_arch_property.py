"""Property: for any valid spec, the analytic formulas and the built, counted nn.Module agree on
params and MACs exactly, row by row.

Hypothesis writes random family files — a stem of conv / dwconv / pwconv / dws / mbconv /
fused_mbconv / bottleneck / convnext / layernorm / pool rows with random kernels, strides,
paddings ('same' included), groups, biases, norms and activations, and ShuffleNet / SqueezeNet /
DenseNet blocks, then gap and a classifier fc — on a small input (3–16 channels, 16–48 px). The
generator tracks the feature map so that nearly every spec is valid; the few whose map still
vanishes raise `ShapeError` and are rejected.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from cnnprof.analytic.engine import profile  # noqa: E402
from cnnprof.analytic.layers import out_size  # noqa: E402
from cnnprof.arch.load import parse_family  # noqa: E402
from cnnprof.arch.ops import ACTIVATIONS  # noqa: E402
from cnnprof.arch.scale import resolve  # noqa: E402
from cnnprof.empirical.build import build  # noqa: E402
from cnnprof.empirical.count import count  # noqa: E402
from cnnprof.errors import CnnprofError, ShapeError  # noqa: E402
from cnnprof.results.profile import differences  # noqa: E402

PROPERTY = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

norms = st.sampled_from(["none", "bn"])
acts = st.sampled_from(ACTIVATIONS)
channels = st.integers(1, 24)
OPS = [
    "conv",
    "dwconv",
    "pwconv",
    "dws",
    "mbconv",
    "fused_mbconv",
    "bottleneck",
    "convnext",
    "layernorm",
    "maxpool",
    "avgpool",
]
BLOCKS = ["shuffle", "fire", "dense", "transition", "norm"]


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _window(draw: Any, size: int, k_max: int) -> tuple[int, int | str]:
    """A kernel and a padding (a number or 'same') that fit a map of ``size``."""
    k = draw(st.integers(1, k_max))
    p = draw(st.one_of(st.just("same"), st.integers(0, 3)))
    pad = k // 2 if p == "same" else p
    return min(k, size + 2 * pad), p


def _stride(draw: Any, size: int) -> int:
    # Small maps get stride 1 mostly, so that specs keep some depth before they vanish.
    return draw(st.integers(1, 3 if size > 3 else 1))


@st.composite
def specs(draw: Any) -> tuple[dict[str, Any], list[str]]:
    c = draw(st.integers(3, 16))
    h = w = draw(st.integers(16, 48))
    doc: dict[str, Any] = {
        "family": "prop",
        "paper": "hypothesis",
        "input": [c, h, w],
        "defaults": {"norm": draw(norms), "act": draw(acts)},
        "layers": [],
    }
    kinds = []
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(OPS + BLOCKS))
        row: dict[str, Any] = {"op": op}
        if op in BLOCKS:
            c, h, w = _block(draw, row, c, h, w)
        elif op in ("conv", "dwconv"):
            k, p = _window(draw, min(h, w), 7)
            s = _stride(draw, min(h, w))
            row.update(k=k, s=s, p=p)
            pad = k // 2 if p == "same" else p
            if op == "conv":
                # groups divides both channel counts: draw it from the input's divisors, then
                # the output as a multiple of it
                groups = draw(st.sampled_from(_divisors(c)))
                out = groups * draw(st.integers(1, max(1, 24 // groups)))
                assert math.gcd(c, out) % groups == 0
                row.update(out=out, groups=groups)
                if groups > 1:
                    kinds.append("grouped conv")
                c = out
            row.update(bias=draw(st.booleans()), norm=draw(norms), act=draw(acts))
            h, w = out_size(h, k, s, pad), out_size(w, k, s, pad)
        elif op == "pwconv":
            row.update(
                out=draw(channels), bias=draw(st.booleans()), norm=draw(norms), act=draw(acts)
            )
            c = row["out"]
        elif op == "bottleneck":
            s = _stride(draw, min(h, w))
            groups = draw(st.sampled_from([1, 1, 2, 3, 4]))
            row.update(
                mid=groups * draw(st.integers(1, 6)),
                out=draw(channels),
                s=s,
                groups=groups,
                se=draw(st.sampled_from([0, 0.25])),
                stride_at=draw(st.sampled_from(["1x1", "3x3"])),
                norm=draw(norms),
                act=draw(acts),
            )
            if draw(st.integers(0, 3)) == 0:
                row["repeat"] = 2
            h, w = out_size(h, 1, s, 0), out_size(w, 1, s, 0)
            c = row["out"]
        elif op == "convnext":  # stride 1, channels kept
            row.update(
                k=draw(st.sampled_from([3, 5, 7])),
                t=draw(st.sampled_from([1, 2, 4])),
                layer_scale=draw(st.booleans()),
                act=draw(acts),
            )
            if draw(st.integers(0, 3)) == 0:
                row["repeat"] = 2
        elif op == "layernorm":
            pass
        elif op in ("dws", "mbconv", "fused_mbconv"):
            k = draw(st.sampled_from([3, 5]))
            s = _stride(draw, min(h, w))
            row.update(out=draw(channels), k=k, s=s, norm=draw(norms), act=draw(acts))
            if op in ("mbconv", "fused_mbconv"):
                row.update(
                    t=draw(st.sampled_from([1, 1.5, 2, 3, 4, 6])),
                    se=draw(st.sampled_from([0, 0.25])),
                    skip=draw(st.booleans()),
                )
            if op == "mbconv":  # MobileNetV3's rounding and SE choices
                row.update(
                    exp_divisor=draw(st.sampled_from([1, 8])),
                    se_of=draw(st.sampled_from(["in", "mid"])),
                    se_divisor=draw(st.sampled_from([1, 8])),
                    se_act=draw(st.sampled_from(["block", "relu", "hswish"])),
                    se_gate=draw(st.sampled_from(["sigmoid", "hsigmoid"])),
                )
            if op in ("mbconv", "fused_mbconv") and draw(st.booleans()):
                row.update(out=c, s=1)  # stride 1 and out == in: the residual path
                s = 1
            if draw(st.integers(0, 3)) == 0:
                row["repeat"] = 2  # stride on the first only
            h, w = out_size(h, k, s, k // 2), out_size(w, k, s, k // 2)
            c = row["out"]
        else:  # pools: torch wants padding ≤ k/2 (larger is refused, see the test below)
            k = min(draw(st.integers(2, 3)), h, w)
            s = draw(st.one_of(st.none(), st.integers(1, 3)))
            p = draw(st.integers(0, k // 2))
            ceil = draw(st.booleans())
            row.update(k=k, p=p, ceil=ceil)
            if s is not None:
                row["s"] = s
            stride = s or k
            h, w = out_size(h, k, stride, p, ceil=ceil), out_size(w, k, stride, p, ceil=ceil)
        doc["layers"].append(row)
        kinds.append(op)
    doc["layers"].append({"op": "gap"})
    doc["layers"].append({"op": "fc", "out": draw(st.integers(1, 12)), "classifier": True})
    return doc, kinds


def _block(draw: Any, row: dict[str, Any], c: int, h: int, w: int) -> tuple[int, int, int]:
    """Fill a ShuffleNet / SqueezeNet / DenseNet row that fits a c×h×w map; its output map."""
    op = row["op"]
    row.update(norm=draw(norms), act=draw(acts))
    if op == "shuffle":  # stride 1 keeps an even channel count; stride 2 makes any even one
        s = 1 if c % 2 == 0 and draw(st.booleans()) else 2
        out = c if s == 1 else 2 * draw(st.integers(1, 8))
        row.update(out=out, s=s, k=draw(st.sampled_from([3, 5])))
        if s == 1 and draw(st.booleans()):
            row["repeat"] = 2
        return out, out_size(h, row["k"], s, row["k"] // 2), out_size(w, row["k"], s, row["k"] // 2)
    if op == "fire":
        row.update(squeeze=draw(channels), e1=draw(channels), e3=draw(channels))
        row.update(bias=draw(st.booleans()), separable=draw(st.booleans()))
        return row["e1"] + row["e3"], h, w
    if op == "dense":
        repeat = draw(st.integers(1, 3))
        row.update(growth=draw(st.integers(1, 8)), bn_size=draw(st.integers(1, 4)), repeat=repeat)
        row["separable"] = draw(st.booleans())
        return c + repeat * row["growth"], h, w
    if op == "transition":
        row["compression"] = draw(st.sampled_from([0.5, 1.0]))
        return max(1, int(c * row["compression"])), h // 2, w // 2
    return c, h, w  # norm


@PROPERTY
@given(specs())
@pytest.mark.slow
def test_analytic_equals_empirical_for_any_spec(case: tuple[dict[str, Any], list[str]]) -> None:
    doc, kinds = case
    text = yaml.safe_dump(doc, sort_keys=False)
    family = parse_family(text, "property.yaml")
    arch = resolve(family, "prop")
    try:
        analytic = profile(arch)
    except ShapeError:
        event("rejected: the feature map vanishes")
        assume(False)
    network = build(arch)
    empirical = count(network, arch.input, rows=[r.path for r in analytic.layers])
    event("valid")
    for op in kinds:
        event(f"op {op}")
    assert empirical.params == analytic.params, text
    assert empirical.macs == analytic.macs, text
    assert differences(analytic, empirical) == [], text
    assert [r.out_shape for r in empirical.layers] == [r.out_shape for r in analytic.layers], text
    assert empirical.unsupported == (), text
    assert dict(empirical.flops_by_category) == dict(analytic.flops_by_category), text


# A pool whose padding exceeds half its window: torch refuses it ("pad should be at most half of
# effective kernel size"), so the analytic side must too, with a message naming the row — not
# profile it and leave build to crash with a RuntimeError (CLI exit 3, "internal error"), as it
# used to.
POOL_PAD = """
family: pad
paper: test
input: [3, 16, 16]
layers:
  - {op: conv, out: 8, k: 3}
  - {op: maxpool, k: 2, p: 2}
  - {op: gap}
  - {op: fc, out: 10, classifier: true}
"""


def test_pool_padding_beyond_half_the_window_is_refused() -> None:
    with pytest.raises(CnnprofError, match="'1'"):
        profile(resolve(parse_family(POOL_PAD, "pad.yaml"), "pad"))


@pytest.mark.parametrize("ceil", [False, True])
@pytest.mark.parametrize("p", [0, 1, 2, 3])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("op", ["maxpool", "avgpool"])
def test_pool_padding_refused_exactly_when_torch_refuses(
    op: str, k: int, p: int, ceil: bool
) -> None:
    text = POOL_PAD.replace(
        "{op: maxpool, k: 2, p: 2}", f"{{op: {op}, k: {k}, p: {p}, ceil: {str(ceil).lower()}}}"
    )
    arch = resolve(parse_family(text, "pad.yaml"), "pad")
    try:
        analytic = profile(arch)
    except ShapeError:
        analytic = None
    import torch

    pool = {"maxpool": torch.nn.MaxPool2d, "avgpool": torch.nn.AvgPool2d}[op](
        k, k, p, ceil_mode=ceil
    )
    try:
        pool(torch.empty(1, *arch.input.as_list(), device="meta"))
        torch_refuses = False
    except RuntimeError:
        torch_refuses = True
    assert (analytic is None) == torch_refuses == (p > k // 2)
    if analytic is not None:
        network = build(arch)
        empirical = count(network, arch.input, rows=[r.path for r in analytic.layers])
        assert [r.out_shape for r in empirical.layers] == [r.out_shape for r in analytic.layers]
        assert dict(empirical.flops_by_category) == dict(analytic.flops_by_category)
