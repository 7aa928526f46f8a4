"""The shapes of the synthetic networks a device's kernels are calibrated on, whatever runs them
(torch eager: `cnnprof.empirical.kernels`; ONNX Runtime: `cnnprof.deploy.networks`): the map
sides of their stages, the bounds of a layer, and how channel counts are drawn and capped."""

from __future__ import annotations

import math
import random

SIDES = (112, 56, 28, 14, 7)  # the stages' maps after a stride-2 stem on 224×224
MAX_ELEMENTS = 1_000_000  # activation elements per image of a layer (64×112×112: 0.8 M)
MAX_WEIGHTS = 2_500_000  # weights of a layer (ResNet-50's largest 3×3: 2.4 M)
MAX_MACS = 150_000_000  # multiply-accumulates per image of a layer (ResNet-50's: 116 M)


def channels(rng: random.Random, low: int, high: int) -> int:
    """Log-uniform between ``low`` and ``high``, to a multiple of 8, 16 or 32 (as networks round
    them)."""
    value = math.exp(rng.uniform(math.log(low), math.log(max(high, low))))
    step = rng.choice((8, 16, 32))
    return max(step, round(value / step) * step)


def cap(side: int) -> int:
    """The most channels a layer on a ``side``² map may have, a multiple of 8 (as networks
    round them: SIMD kernels run their fast path on whole vectors of channels)."""
    return min(2048, max(8, MAX_ELEMENTS // (side * side) // 8 * 8))


def conv_width(out: int, cin: int, kernel: int, groups: int, out_side: int) -> tuple[int, int]:
    """A convolution's output channels and groups within the bounds: groups that no longer
    divide the channels dropped, the output halved (to a multiple of 8) while its weights or
    multiply-accumulates exceed them; a depthwise one is left as it is."""
    if groups > 1 and (cin % groups or out % groups):
        groups = 1  # a width an earlier cap changed: ungrouped
    depthwise = groups == cin and out == cin
    while (
        not depthwise
        and out > 8
        and (
            out * (cin // groups) * kernel * kernel > MAX_WEIGHTS
            or out * (cin // groups) * kernel * kernel * out_side**2 > MAX_MACS
        )
    ):
        out = max(8, out // 2 // 8 * 8)
        groups = groups if out % groups == 0 else 1
    return out, groups
