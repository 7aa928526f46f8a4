"""Calibrating the kernel predictor: time the kernels CNNs call, as a network calls them, and fit
a model per kernel kind (`cnnprof.analytic.predictor`).

The samples are *units* drawn from the ranges CNNs use — a convolution (1×1 mostly, 3×3, 5×5,
7×7; strided, grouped; channels from 8 to 2048 on maps from 7×7 to 112×112, the activation per
image and the weights kept to what such networks hold; stems on 3 channels; squeeze-and-excite's
1×1 maps), a depthwise one, a matrix product, a max or average pool — each followed by what a
network runs after it: BatchNorm, an activation (ReLU, ReLU6, hard-swish, SiLU, sigmoid,
hard-sigmoid, GELU) and, for some, a residual add. The draw is seeded: the same plan gives the
same units everywhere.

Each round runs every unit once, in one fixed shuffled order, the kernels of a unit back to back
with one timestamp between each (a network's order: each small kernel after a larger one, its
threads just busy elsewhere, its weights a whole round away); the input, a view of one shared
buffer, is touched just before so that it sits in cache as the previous layer's output would.
A kernel's sample is its median over the rounds. Outputs are allocated by the kernels, as in a
network, in the allocator regime the caller set (`allocator`).
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import torch
from torch import nn

from cnnprof.analytic.formulas import ACT_FLOPS
from cnnprof.analytic.predictor import Call, fit
from cnnprof.empirical.latency import Clock
from cnnprof.results.device import KernelModel

# activation → (module, FLOPs per element as the formulas count them)
ACTIVATIONS: Mapping[str, tuple[Callable[[], nn.Module], int]] = MappingProxyType(
    {
        "relu": (nn.ReLU, ACT_FLOPS["relu"]),
        "relu6": (nn.ReLU6, ACT_FLOPS["relu6"]),
        "hswish": (nn.Hardswish, ACT_FLOPS["hswish"]),
        "silu": (nn.SiLU, ACT_FLOPS["silu"]),
        "sigmoid": (nn.Sigmoid, ACT_FLOPS["sigmoid"]),
        "hsigmoid": (nn.Hardsigmoid, ACT_FLOPS["hsigmoid"]),
        "gelu": (nn.GELU, ACT_FLOPS["gelu"]),
    }
)
SIDES = (7, 14, 28, 56, 112)
MAX_ELEMENTS = 1_000_000  # activation elements per image of a sampled layer (64×112×112: 0.8 M)
MAX_WEIGHTS = 2_500_000  # weights of a sampled layer (ResNet-50's largest 3×3: 2.4 M)
MAX_MACS = 150_000_000  # multiply-accumulates per image of a sampled layer (ResNet-50's: 116 M)


@dataclass(frozen=True)
class KernelPlan:
    """How many units of each kind to time at each batch, and how often."""

    batches: tuple[int, ...] = (1, 8)
    convs: tuple[int, ...] = (150, 50)  # per batch, in order
    depthwise: tuple[int, ...] = (50, 20)
    others: tuple[int, ...] = (24, 10)  # matrix products, pools, squeeze-excite convolutions
    rounds: int = 5
    seed: int = 0


KERNEL_PLANS: Mapping[str, KernelPlan] = MappingProxyType(
    {
        "cpu": KernelPlan(),
        "cuda": KernelPlan(
            batches=(1, 32, 128), convs=(80, 80, 40), depthwise=(30, 30, 15), others=(16, 16, 8)
        ),
        "mps": KernelPlan(batches=(1, 8), convs=(80, 40), depthwise=(30, 15), others=(16, 8)),
    }
)
THOROUGH = 3  # --thorough: this many times the units and rounds


def more_samples(plan: KernelPlan) -> KernelPlan:
    """The plan with ``THOROUGH`` times the units and more rounds."""
    return KernelPlan(
        batches=plan.batches,
        convs=tuple(THOROUGH * n for n in plan.convs),
        depthwise=tuple(THOROUGH * n for n in plan.depthwise),
        others=tuple(THOROUGH * n for n in plan.others),
        rounds=plan.rounds + 4,
        seed=plan.seed,
    )


@dataclass
class _Op:
    call: Call | None  # None: a module call that does no arithmetic (the module-call probe)
    run: Callable[[torch.Tensor], torch.Tensor]
    times: list[float]


@dataclass
class _Unit:
    shape: tuple[int, ...]  # the main op's input
    ops: list[_Op]  # the main op, then what follows it (each takes the previous one's output)


def _channels(rng: random.Random, low: int, high: int) -> int:
    """Log-uniform between ``low`` and ``high``, to a multiple of 8 (as networks round them)."""
    value = math.exp(rng.uniform(math.log(low), math.log(max(high, low))))
    return max(8, round(value / 8) * 8)


def _side(rng: random.Random) -> int:
    return rng.choice(SIDES)


def _tail(rng: random.Random, channels: int, ops: list[_Op], device: torch.device,
          dtype: torch.dtype, batch: int, out_elements: int) -> None:  # fmt: skip
    """BatchNorm, an activation and, for a third of the units, a residual add."""
    elements = batch * out_elements
    norm = nn.BatchNorm2d(channels).eval().to(device, dtype)
    ops.append(_Op(Call("norm", (elements,)), norm, []))
    name = rng.choice(tuple(ACTIVATIONS))
    module, flops = ACTIVATIONS[name]
    ops.append(_Op(Call("act", (elements, flops)), module().to(device, dtype), []))
    if rng.random() < 1 / 3:
        ops.append(_Op(Call("add", (elements,)), lambda t: t + t, []))


def _conv_unit(rng: random.Random, batch: int, device: torch.device, dtype: torch.dtype,
               depthwise: bool) -> _Unit:  # fmt: skip
    side = _side(rng)
    stem = not depthwise and rng.random() < 0.05
    if stem:
        cin, side = 3, 224
    else:
        cin = _channels(rng, 8, min(2048, MAX_ELEMENTS // (side * side)))
    kernel = (
        rng.choices((3, 5, 7), (6, 2.5, 1.5))[0]
        if depthwise
        else (
            rng.choices((3, 7), (3, 1))[0] if stem else rng.choices((1, 3, 5, 7), (55, 35, 5, 5))[0]
        )
    )
    stride = 2 if (stem or (side >= 14 and rng.random() < 0.2)) else 1
    if depthwise:
        cout, groups = cin, cin
    else:
        cout = 64 if stem else _channels(rng, max(8, cin // 4), min(2048, 6 * cin))
        groups = 1
        if not stem and rng.random() < 0.12:
            width = rng.choice((4, 8, 16, 32))
            if cin % width == 0 and cout % (cin // width) == 0:
                groups = cin // width
    out_side = (side + 2 * (kernel // 2) - kernel) // stride + 1
    while (
        not depthwise
        and cout > 8
        and (
            cout * (cin // groups) * kernel * kernel > MAX_WEIGHTS
            or cout * (cin // groups) * kernel * kernel * out_side**2 > MAX_MACS
        )
    ):
        cout = max(8, cout // 2)
        groups = groups if cout % groups == 0 else 1
    conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
    conv = conv.eval().to(device, dtype)
    pixels = out_side * out_side
    area = kernel * kernel
    call = (
        Call("dwconv", (batch, cout, pixels, area, stride))
        if depthwise
        else Call("conv", (batch, cin // groups, cout, pixels, area, stride, groups))
    )
    ops = [_Op(call, conv, [])]
    _tail(rng, cout, ops, device, dtype, batch, cout * pixels)
    return _Unit((batch, cin, side, side), ops)


def _other_unit(rng: random.Random, batch: int, device: torch.device,
                dtype: torch.dtype) -> _Unit:  # fmt: skip
    """A matrix product, a pool, or a squeeze-and-excite 1×1 convolution on a 1×1 map."""
    choice = rng.choice(("linear", "maxpool", "avgpool", "gap", "se"))
    if choice == "linear":
        n_in = _channels(rng, 128, 4096)
        n_out = rng.choice((10, 100, 1000, _channels(rng, 128, 4096)))
        while n_in * n_out > MAX_WEIGHTS * 4:
            n_in //= 2
        linear = nn.Linear(n_in, n_out).eval().to(device, dtype)
        return _Unit((batch, n_in), [_Op(Call("linear", (batch, n_in, n_out)), linear, [])])
    if choice == "se":
        c = _channels(rng, 16, 1024)
        squeeze = max(8, c // rng.choice((4, 16)))
        conv = nn.Conv2d(c, squeeze, 1).eval().to(device, dtype)
        return _Unit(
            (batch, c, 1, 1), [_Op(Call("conv", (batch, c, squeeze, 1, 1, 1, 1)), conv, [])]
        )
    side = rng.choice(SIDES[1:])
    c = _channels(rng, 16, min(2048, MAX_ELEMENTS // (side * side)))
    planes = batch * c
    if choice == "gap":
        pool: nn.Module = nn.AdaptiveAvgPool2d(1)
        call = Call("avgpool", (planes, side * side, 1, side * side))
    elif choice == "avgpool":
        pool = nn.AvgPool2d(2)
        call = Call("avgpool", (planes, side * side, (side // 2) ** 2, 4))
    else:
        kernel, stride = rng.choice(((3, 2), (2, 2), (3, 1)))
        pool = nn.MaxPool2d(kernel, stride, kernel // 2 if kernel == 3 else 0)
        out = (side + 2 * (kernel // 2 if kernel == 3 else 0) - kernel) // stride + 1
        call = Call("maxpool", (planes, side * side, out * out, kernel * kernel))
    return _Unit((batch, c, side, side), [_Op(call, pool, [])])


def _units(plan: KernelPlan, device: torch.device, dtype: torch.dtype) -> list[_Unit]:
    rng = random.Random(plan.seed)
    units: list[_Unit] = []
    for index, batch in enumerate(plan.batches):
        units += [_conv_unit(rng, batch, device, dtype, False) for _ in range(plan.convs[index])]
        units += [_conv_unit(rng, batch, device, dtype, True) for _ in range(plan.depthwise[index])]
        units += [_other_unit(rng, batch, device, dtype) for _ in range(plan.others[index])]
    for unit in units[::4]:  # a module that does no arithmetic, after some units
        unit.ops.append(_Op(None, nn.Identity(), []))
    rng.shuffle(units)
    return units


def _round(units: Sequence[_Unit], buffer: torch.Tensor, clock: Clock) -> None:
    for unit in units:
        x = buffer[: math.prod(unit.shape)].view(unit.shape)
        x.mul_(1.0)  # as the previous layer's output: just written
        stamps = [clock.stamp()]
        for op in unit.ops:
            x = op.run(x)
            stamps.append(clock.stamp())
        clock.finish()
        for op, start, end in zip(unit.ops, stamps, stamps[1:]):  # noqa: B905 (one more stamp)
            op.times.append(clock.elapsed(start, end))


@dataclass(frozen=True)
class Calibrated:
    models: tuple[KernelModel, ...]
    module_s: float  # a module call that does no arithmetic


def calibrate(
    clock: Clock,
    device: torch.device,
    dtype: torch.dtype,
    plan: KernelPlan,
    report: Callable[[float], None] = lambda fraction: None,
) -> Calibrated:
    """Time the plan's units in rotation and fit one model per kernel kind (under
    ``torch.inference_mode``, at the thread count in effect)."""
    units = _units(plan, device, dtype)
    largest = max(math.prod(u.shape) for u in units)
    buffer = torch.randn(largest, device=device).to(dtype)
    _round(units, buffer, clock)  # untimed: the first call of each kernel sets it up
    for unit in units:
        for op in unit.ops:
            op.times.clear()
    for index in range(plan.rounds):
        _round(units, buffer, clock)
        report((index + 1) / plan.rounds)
    samples: dict[str, list[tuple[tuple[float, ...], float]]] = {}
    spreads: dict[str, list[float]] = {}
    idle: list[float] = []
    for unit in units:
        for op in unit.ops:
            median = statistics.median(op.times)
            if op.call is None:
                idle.append(median)
                continue
            samples.setdefault(op.call.kind, []).append((op.call.x, median))
            low, high = _quantiles(op.times)
            spreads.setdefault(op.call.kind, []).append((high - low) / median if median else 0.0)
    models = tuple(
        fit(kind, found, statistics.median(spreads[kind])) for kind, found in samples.items()
    )
    return Calibrated(models, statistics.median(idle) if idle else 0.0)


def _quantiles(times: Sequence[float]) -> tuple[float, float]:
    """p10 and p90 of a few timed runs (the extremes when there are under three)."""
    ordered = sorted(times)
    if len(ordered) < 3:
        return ordered[0], ordered[-1]
    cuts = statistics.quantiles(ordered, n=10, method="inclusive")
    return cuts[0], cuts[-1]
