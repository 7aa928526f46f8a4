"""Calibrating the kernel predictor: time the kernels CNNs call, as a network calls them, and fit
a model per kernel kind (`cnnprof.analytic.predictor`).

The samples come from *synthetic networks*, drawn from the families CNNs are made of, each a chain
in which every kernel takes the previous one's output: a stem (a 3×3 or 7×7 convolution with
stride 2 on a 224×224 image, sometimes a 3×3 max pool), then stages down to a 7×7 map, each of a
few blocks of one archetype —

- inverted residual (MobileNetV2, EfficientNet): 1×1 expansion, a 3×3, 5×5 or 7×7 depthwise
  convolution, sometimes squeeze-and-excite, a 1×1 projection, and the residual add;
- bottleneck (ResNet, ResNeXt, RegNet): 1×1 reduction, a 3×3 convolution (grouped in some
  networks), 1×1 expansion, the residual add;
- basic (ResNet-18, VGG): two 3×3 convolutions, the residual add where the shapes allow;

every convolution followed by BatchNorm and the network's activation (ReLU, ReLU6, hard-swish,
SiLU, GELU), and a head: global average pool and a matrix product. Channels grow stage by stage
within what such networks hold (activations up to 1 M elements per image, weights up to 2.5 M,
multiply-accumulates up to 150 M per layer). Timed this way a kernel finds what it finds in a
network — its input just written, freed memory of similar sizes to write to, the previous kernel's
threads awake — where kernels of scattered sizes timed one after another run up to twice as slow
(measured: a BatchNorm on 384×14×14 took 65 µs in such a rotation, 21 µs in MobileNetV2). The
draw is seeded: the same plan gives the same networks everywhere.

Each network is timed as `cnnprof latency` times a model: run after run, a timestamp between
kernels, its first passes untimed. They matter: a network run right after others (their weights
and tensors in the caches, the allocator's free lists shaped by other sizes) runs its kernels up
to 1.5× slower for several passes (a 384-channel 3×3 depthwise convolution on 14×14: 87–107 µs
on the first timed pass after other networks, 70–76 µs after three untimed ones, 66 µs after
forty). A kernel's sample is its median over the timed passes. Outputs are allocated by the
kernels, as in a network, in the allocator regime the caller set (`allocator`).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import torch
from torch import nn

from cnnprof.analytic.elementwise import ACT_FLOPS
from cnnprof.analytic.predictor import Call, conv_kind, fit, lanes
from cnnprof.analytic.synthetic import SIDES, cap, channels, conv_width
from cnnprof.empirical.device import Clock
from cnnprof.errors import OutOfTime
from cnnprof.results.device import KernelModel
from cnnprof.results.timing import Deadline

# activation → (module, FLOPs per element as the formulas count them)
ACTIVATIONS: Mapping[str, tuple[Callable[[], nn.Module], int]] = MappingProxyType(
    {
        "relu": (nn.ReLU, ACT_FLOPS["relu"]),
        "relu6": (nn.ReLU6, ACT_FLOPS["relu6"]),
        "hswish": (nn.Hardswish, ACT_FLOPS["hswish"]),
        "silu": (nn.SiLU, ACT_FLOPS["silu"]),
        "gelu": (nn.GELU, ACT_FLOPS["gelu"]),
    }
)
GATES: Mapping[str, tuple[Callable[[], nn.Module], int]] = MappingProxyType(
    {
        "sigmoid": (nn.Sigmoid, ACT_FLOPS["sigmoid"]),
        "hsigmoid": (nn.Hardsigmoid, ACT_FLOPS["hsigmoid"]),
    }
)


@dataclass(frozen=True)
class KernelPlan:
    """How many synthetic networks to time at each batch, and how often."""

    batches: tuple[int, ...] = (1, 8)
    networks: tuple[int, ...] = (16, 5)  # per batch, in order
    warmup: int = 3  # untimed passes of each network before …
    passes: int = 3  # … its timed ones, all back to back
    seed: int = 0


KERNEL_PLANS: Mapping[str, KernelPlan] = MappingProxyType(
    {
        "cpu": KernelPlan(),
        "cuda": KernelPlan(batches=(1, 32, 128), networks=(8, 8, 4)),
        "mps": KernelPlan(batches=(1, 8), networks=(8, 4)),
    }
)
# The kinds a torch calibration fits (ONNX Runtime's add its reorders and reductions).
ALL_KINDS = ("conv", "pointwise", "dwconv", "linear", "maxpool", "avgpool", "norm", "act", "add")
THOROUGH = 3  # --thorough: this many times the networks, and more rounds


def more_samples(plan: KernelPlan) -> KernelPlan:
    """The plan with ``THOROUGH`` times the networks and more rounds."""
    return KernelPlan(
        batches=plan.batches,
        networks=tuple(THOROUGH * n for n in plan.networks),
        warmup=plan.warmup,
        passes=plan.passes + 2,
        seed=plan.seed,
    )


Run = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]


@dataclass
class _Op:
    call: Call | None  # None: a module call that does no arithmetic (the module-call probe)
    run: Run  # (the previous kernel's output, tensors kept for later) → output
    keep: str = ""  # keep this op's input under this name (a block's shortcut, SE's input)
    times: list[float] = field(default_factory=list)


def _module(module: nn.Module) -> Run:
    return lambda x, kept: module(x)


class _Net:
    """A synthetic network being drawn: its ops, the current shape, and how to add to it."""

    def __init__(
        self, rng: random.Random, batch: int, device: torch.device, dtype: torch.dtype
    ) -> None:
        self.rng, self.batch, self.device, self.dtype = rng, batch, device, dtype
        self.ops: list[_Op] = []
        self.act = rng.choice(tuple(ACTIVATIONS))
        self.c, self.side = 3, 224

    def _to(self, module: nn.Module) -> nn.Module:
        return module.eval().to(self.device, self.dtype)

    def conv(
        self,
        out: int,
        kernel: int,
        stride: int = 1,
        groups: int = 1,
        act: bool = True,
        keep: str = "",
    ) -> None:
        """A convolution (depthwise when ``groups`` is the channels), BatchNorm, activation."""
        cin = self.c
        out_side = (self.side + 2 * (kernel // 2) - kernel) // stride + 1
        out, groups = conv_width(out, cin, kernel, groups, out_side)
        depthwise = groups == cin and out == cin
        conv = nn.Conv2d(cin, out, kernel, stride, kernel // 2, groups=groups, bias=False)
        pixels, area = out_side * out_side, kernel * kernel
        per_group = cin // groups
        features = (self.batch, per_group, out, pixels, area, stride, groups, lanes(per_group, out))
        call = (
            Call("dwconv", (self.batch, out, pixels, area, stride, lanes(out)))
            if depthwise
            else Call(conv_kind(area), features)
        )
        self.ops.append(_Op(call, _module(self._to(conv)), keep))
        self.c, self.side = out, out_side
        elements = self.batch * out * pixels
        self.ops.append(_Op(Call("norm", (elements,)), _module(self._to(nn.BatchNorm2d(out)))))
        if act:
            module, flops = ACTIVATIONS[self.act]
            self.ops.append(_Op(Call("act", (elements, flops)), _module(self._to(module()))))

    def add(self, shortcut_shape: tuple[int, int]) -> None:
        """The residual add, where the block kept its input's shape."""
        if (self.c, self.side) == shortcut_shape:
            elements = self.batch * self.c * self.side * self.side
            self.ops.append(_Op(Call("add", (elements,)), lambda x, kept: x + kept["block"]))

    def squeeze_excite(self) -> None:
        """Global pool, 1×1 convolution down, activation, 1×1 up, gate, scale of the input."""
        c, pixels, b = self.c, self.side * self.side, self.batch
        squeeze = max(8, c // self.rng.choice((4, 16)) // 8 * 8)
        gate_name = self.rng.choice(tuple(GATES))
        gate, gate_flops = GATES[gate_name]
        act, act_flops = ACTIVATIONS[self.act]
        down = self._to(nn.Conv2d(c, squeeze, 1))
        up = self._to(nn.Conv2d(squeeze, c, 1))
        self.ops += [
            _Op(
                Call("avgpool", (b * c, pixels, 1, pixels)),
                _module(self._to(nn.AdaptiveAvgPool2d(1))),
                keep="se",
            ),
            _Op(Call("pointwise", (b, c, squeeze, 1, 1, 1, 1, lanes(c, squeeze))), _module(down)),
            _Op(Call("act", (b * squeeze, act_flops)), _module(self._to(act()))),
            _Op(Call("pointwise", (b, squeeze, c, 1, 1, 1, 1, lanes(c, squeeze))), _module(up)),
            _Op(Call("act", (b * c, gate_flops)), _module(self._to(gate()))),
            _Op(Call("add", (b * c * pixels,)), lambda g, kept: kept["se"] * g),
        ]

    def pool(self) -> None:
        kernel = self.rng.choice((2, 3))
        out = (self.side + 2 * (kernel // 2 if kernel == 3 else 0) - kernel) // 2 + 1
        pool = nn.MaxPool2d(kernel, 2, 1 if kernel == 3 else 0)
        call = Call("maxpool", (self.batch * self.c, self.side**2, out * out, kernel * kernel))
        self.ops.append(_Op(call, _module(self._to(pool))))
        self.side = out

    def head(self) -> None:
        b, c, pixels = self.batch, self.c, self.side * self.side
        classes = self.rng.choice((1000, 1000, 100, 10))
        linear = self._to(nn.Linear(c, classes))
        self.ops += [
            _Op(
                Call("avgpool", (b * c, pixels, 1, pixels)),
                _module(self._to(nn.AdaptiveAvgPool2d(1))),
            ),
            _Op(None, _module(nn.Flatten())),
            _Op(Call("linear", (b, c, classes)), _module(linear)),
        ]


def _widen(rng: random.Random, c: int, side: int, grow: tuple[float, float]) -> int:
    return min(channels(rng, int(c * grow[0]), int(c * grow[1])), cap(side))


def _inverted(net: _Net, out: int, stride: int) -> None:
    rng, shape = net.rng, (net.c, net.side)
    expand = rng.choice((1, 3, 4, 6))
    kernel = rng.choices((3, 5, 7), (6, 3, 1))[0]
    wide = min(net.c * expand, cap(net.side))
    if expand > 1:
        net.conv(wide, 1, keep="block")
        net.conv(net.c, kernel, stride, groups=net.c)
    else:
        net.conv(net.c, kernel, stride, groups=net.c, keep="block")
    if rng.random() < 0.4:
        net.squeeze_excite()
    net.conv(out, 1, act=False)
    net.add(shape)


def _bottleneck(net: _Net, out: int, stride: int) -> None:
    rng, shape = net.rng, (net.c, net.side)
    mid = max(8, out // rng.choice((1, 2, 4)) // 8 * 8)
    width = rng.choice((0, 0, 4, 8, 16, 32))  # group width (0: not grouped)
    net.conv(mid, 1, keep="block")
    mid = net.c  # as the reduction came out (within the caps)
    groups = mid // width if width and mid % width == 0 else 1
    net.conv(mid, 3, stride, groups=groups)
    net.conv(out, 1, act=False)
    net.add(shape)


def _basic(net: _Net, out: int, stride: int) -> None:
    shape = (net.c, net.side)
    net.conv(out, 3, stride, keep="block")
    net.conv(out, 3, act=False)
    net.add(shape)


BLOCKS: Mapping[str, Callable[[_Net, int, int], None]] = MappingProxyType(
    {"inverted": _inverted, "bottleneck": _bottleneck, "basic": _basic}
)


def _network(rng: random.Random, batch: int, device: torch.device, dtype: torch.dtype) -> _Net:
    net = _Net(rng, batch, device, dtype)
    net.conv(channels(rng, 16, 64), rng.choices((3, 7), (3, 1))[0], 2)
    if rng.random() < 0.3:
        net.pool()
    block = BLOCKS[rng.choices(tuple(BLOCKS), (2, 1, 1))[0]]  # lightweight networks: most kinds
    first = True
    for side in SIDES:
        if net.side < side:
            continue
        out = _widen(rng, net.c, side, (1.0, 2.5) if first else (1.3, 2.5))
        for index in range(rng.choice((1, 2, 2, 3))):
            stride = 2 if index == 0 and net.side > side else 1
            block(net, out, stride)
        first = False
    net.head()
    for op in net.ops[3::7]:  # a module that does no arithmetic, here and there
        net.ops.insert(net.ops.index(op) + 1, _Op(None, _module(nn.Identity())))
    return net


def _networks(plan: KernelPlan, device: torch.device, dtype: torch.dtype) -> list[_Net]:
    rng = random.Random(plan.seed)
    return [
        _network(rng, batch, device, dtype)
        for batch, count in zip(plan.batches, plan.networks, strict=True)
        for _ in range(count)
    ]


def _passes(net: _Net, image: torch.Tensor, clock: Clock, passes: int, timed: bool) -> None:
    """``passes`` forward passes of ``net`` back to back; with ``timed``, each kernel's time of
    each pass goes into its op's times."""
    for _ in range(passes):
        x, kept = image, {}
        stamps = [clock.stamp()]
        for op in net.ops:
            if op.keep:
                kept[op.keep] = x
            x = op.run(x, kept)
            stamps.append(clock.stamp())
        clock.finish()
        if timed:
            for op, start, end in zip(net.ops, stamps, stamps[1:]):  # noqa: B905 (one more)
                op.times.append(clock.elapsed(start, end))


# The kinds that take most of a CNN's time: a calibration cut short must have fitted these (the
# rest of the kinds, where missing, are costed on the roofline).
CORE_KINDS = ("conv", "pointwise", "dwconv")
MIN_SAMPLES = 3  # samples of a kind, at the least, for a model of it from a calibration cut short


@dataclass(frozen=True)
class Calibrated:
    models: tuple[KernelModel, ...]
    module_s: float  # a module call that does no arithmetic
    partial: str = ""  # what a calibration cut short left out ("": every network was timed)


def calibrate(
    clock: Clock,
    device: torch.device,
    dtype: torch.dtype,
    plan: KernelPlan,
    report: Callable[[float], None] = lambda fraction: None,
    deadline: Deadline | None = None,
) -> Calibrated:
    """Time the plan's synthetic networks, one after another, and fit one model per kernel kind
    (under ``torch.inference_mode``, at the thread count in effect). Past ``deadline`` no
    further network starts: the kinds with `MIN_SAMPLES` are fitted and the others named in
    ``partial``; `OutOfTime` when a kind of `CORE_KINDS` is among them."""
    nets = _networks(plan, device, dtype)
    images = {b: torch.randn(b, 3, 224, 224, device=device).to(dtype) for b in plan.batches}
    timed = 0
    for net in nets:
        if deadline is not None and timed and deadline.passed():
            break
        _passes(net, images[net.batch], clock, plan.warmup, timed=False)
        _passes(net, images[net.batch], clock, plan.passes, timed=True)
        timed += 1
        report(timed / len(nets))
    return _fitted(nets[:timed], len(nets))


def _fitted(nets: Sequence[_Net], planned: int) -> Calibrated:
    """One model per kind timed in ``nets`` (of ``planned`` networks; with fewer, only the
    kinds with `MIN_SAMPLES`)."""
    samples: dict[str, list[tuple[tuple[float, ...], float]]] = {}
    spreads: dict[str, list[float]] = {}
    idle: list[float] = []
    for op in (op for net in nets for op in net.ops):
        median = statistics.median(op.times)
        if op.call is None:
            idle.append(median)
            continue
        samples.setdefault(op.call.kind, []).append((op.call.x, median))
        low, high = _quantiles(op.times)
        spreads.setdefault(op.call.kind, []).append((high - low) / median if median else 0.0)
    enough = 1 if len(nets) == planned else MIN_SAMPLES
    models = tuple(
        fit(kind, found, statistics.median(spreads[kind]))
        for kind, found in samples.items()
        if len(found) >= enough
    )
    partial = _left_out(models, len(nets), planned)
    return Calibrated(models, statistics.median(idle) if idle else 0.0, partial)


def _left_out(models: Sequence[KernelModel], timed: int, planned: int) -> str:
    """What a calibration that timed ``timed`` of ``planned`` networks left out ("": nothing);
    `OutOfTime` when a kind of `CORE_KINDS` has no model."""
    if timed == planned:
        return ""
    fitted = {m.kind for m in models}
    core = [kind for kind in CORE_KINDS if kind not in fitted]
    if core:
        raise OutOfTime(
            f"the device calibration timed {timed} of {planned} kernel networks before its "
            f"deadline, too few for a model of {', '.join(core)} kernels"
        )
    missing = sorted({k for k in ALL_KINDS if k not in fitted})
    return f"{timed} of {planned} kernel networks timed" + (
        f"; no model of {', '.join(missing)} kernels (costed on the roofline)" if missing else ""
    )


def _quantiles(times: Sequence[float]) -> tuple[float, float]:
    """p10 and p90 of a few timed runs (the extremes when there are under three)."""
    ordered = sorted(times)
    if len(ordered) < 3:
        return ordered[0], ordered[-1]
    cuts = statistics.quantiles(ordered, n=10, method="inclusive")
    return cuts[0], cuts[-1]
