"""The op vocabulary of a spec row: each op's fields, their kinds and defaults. Pure data.

The loader validates rows against these schemas; `analytic.formulas` and `empirical.build` each
register exactly one function per op named here (a test checks the three tables agree).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

T = TypeVar("T")

REQUIRED = object()
MAX_MULTIPLIER = 64.0  # largest width / depth / resolution multiplier a spec or option may give
MAX_REPEAT = 1000
MAX_CHANNELS = 1_000_000

ACTIVATIONS = ("none", "relu", "relu6", "sigmoid", "silu", "tanh", "hswish", "hsigmoid", "gelu")
ACTIVATION_ALIASES = {"swish": "silu", "linear": "none", "identity": "none"}
NORMS = ("none", "bn")


@dataclass(frozen=True)
class Field:
    """One field of a row: its kind (``int``, ``float``, ``bool``, ``choice``, ``padding``)."""

    kind: str
    default: Any = REQUIRED
    low: float | None = None  # smallest allowed value (inclusive)
    high: float | None = None  # largest allowed value (inclusive)
    choices: tuple[str, ...] = ()
    channels: bool = False  # a channel count that a width multiplier scales
    inherit: str = ""  # take the default from the file's `defaults:` under this name

    def describe(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "padding":
            return "a whole number ≥ 0 or 'same'"
        if self.kind == "bool":
            return "true or false"
        bound = f" ≥ {self.low:g}" if self.low is not None else ""
        bound += f" and ≤ {self.high:g}" if self.high is not None else ""
        noun = "a whole number" if self.kind == "int" else "a number"
        return noun + bound


def _channels(default: Any = REQUIRED) -> Field:
    return Field("int", default, low=1, high=MAX_CHANNELS, channels=True)


def _int(default: Any = REQUIRED, low: float = 1) -> Field:
    return Field("int", default, low=low)


NORM = Field("choice", choices=NORMS, inherit="norm")
ACT = Field("choice", choices=ACTIVATIONS, inherit="act")
# How an inverted residual's squeeze-excite is shaped (MobileNetV3 differs from EfficientNet).
SE_GATES = ("sigmoid", "hsigmoid")
SE_BASES = ("in", "mid")  # the SE ratio is of the block's input or of its expanded channels
SE_ACTS = ("block", *ACTIVATIONS)  # "block": the block's own activation
BIAS = Field("bool", inherit="bias")
PADDING = Field("padding", "same")
# `separable: true` turns a unit's k×k (k > 1) convolutions into depthwise k×k → pointwise 1×1
# (the `separable` transform sets it; it can be written in a spec too).
SEPARABLE = Field("bool", False)

# Fields any row may carry, whatever its op.
COMMON: Mapping[str, Field] = {
    "name": Field("str", ""),
    "repeat": Field("int", None, low=1, high=MAX_REPEAT),
    "fixed": Field("bool", False),  # width multipliers leave this row's channels alone
    "no_shrink": Field("bool", False),  # width multipliers below 1 leave it alone
}

OPS: Mapping[str, Mapping[str, Field]] = {
    # full convolution (groups > 1 gives a grouped one): conv → norm → act
    "conv": {
        "out": _channels(),
        "k": _int(3),
        "s": _int(1),
        "p": PADDING,
        "groups": _int(1),
        "bias": BIAS,
        "norm": NORM,
        "act": ACT,
        "separable": SEPARABLE,
        "classifier": Field("bool", False),  # a 1×1 conv classifier (SqueezeNet's conv10)
    },
    "dwconv": {"k": _int(3), "s": _int(1), "p": PADDING, "bias": BIAS, "norm": NORM, "act": ACT},
    "pwconv": {"out": _channels(), "bias": BIAS, "norm": NORM, "act": ACT},
    # depthwise k×k (stride s) → pointwise 1×1, each with norm and act (MobileNet v1)
    "dws": {"out": _channels(), "k": _int(3), "s": _int(1), "norm": NORM, "act": ACT},
    # inverted residual: 1×1 expand (t) → k×k depthwise → [SE] → 1×1 linear projection
    "mbconv": {
        "out": _channels(),
        "t": Field("float", 1.0, low=1, high=MAX_MULTIPLIER),
        "exp_divisor": Field("int", low=1, high=MAX_CHANNELS, inherit="exp_divisor"),
        "k": _int(3),
        "s": _int(1),
        "se": Field("float", 0.0, low=0, high=1),  # SE ratio, of the channels se_of names
        "se_of": Field("choice", choices=SE_BASES, inherit="se_of"),
        "se_divisor": Field("int", low=1, high=MAX_CHANNELS, inherit="se_divisor"),
        "se_act": Field("choice", choices=SE_ACTS, inherit="se_act"),
        "se_gate": Field("choice", choices=SE_GATES, inherit="se_gate"),
        "skip": Field("bool", True),  # residual when stride 1 and channels match
        "norm": NORM,
        "act": ACT,
    },
    # fused inverted residual (EfficientNetV2): k×k expand (t) → [SE] → 1×1 linear projection;
    # with t = 1 a single k×k conv (with norm and act) does the work of both
    "fused_mbconv": {
        "out": _channels(),
        "t": Field("float", 1.0, low=1, high=MAX_MULTIPLIER),
        "k": _int(3),
        "s": _int(1),
        "se": Field("float", 0.0, low=0, high=1),  # SE ratio, of the block's input channels
        "skip": Field("bool", True),  # residual when stride 1 and channels match
        "norm": NORM,
        "act": ACT,
    },
    "basic": {"out": _channels(), "s": _int(1), "norm": NORM, "act": ACT, "separable": SEPARABLE},
    # 1×1 → 3×3 (split into `groups`: ResNeXt's cardinality, RegNet's width / group width) → [SE]
    # → 1×1; a wide ResNet is one with a larger `mid`
    "bottleneck": {
        "mid": _channels(),
        "out": _channels(),
        "s": _int(1),
        "stride_at": Field("choice", choices=("1x1", "3x3"), inherit="stride_at"),
        "groups": _int(1),
        "se": Field("float", 0.0, low=0, high=1),  # SE ratio, of the block's input channels
        "norm": NORM,
        "act": ACT,
        "separable": SEPARABLE,
    },
    # ConvNeXt block: k×k depthwise (bias) → LayerNorm → 1×1 (t×, bias) → act → 1×1 (bias) →
    # [layer scale] → residual add; channels stay as they come in
    "convnext": {
        "k": _int(7),
        "t": Field("float", 4.0, low=1, high=MAX_MULTIPLIER),
        "layer_scale": Field("bool", True),
        "act": Field("choice", "gelu", choices=ACTIVATIONS),
    },
    # GoogLeNet: 1×1 | 1×1 → 3×3 | 1×1 → 5×5 | 3×3 max-pool → 1×1, concatenated
    "inception": {
        "b1": _channels(),
        "b3r": _channels(),
        "b3": _channels(),
        "b5r": _channels(),
        "b5": _channels(),
        "pool": _channels(),
        "norm": NORM,
        "act": ACT,
        "separable": SEPARABLE,
    },
    # ShuffleNetV2 unit: stride 1 splits the channels in half, one half through 1×1 → k×k
    # depthwise → 1×1; stride 2 runs two branches on the whole input; concatenate, shuffle
    "shuffle": {"out": _channels(), "k": _int(3), "s": _int(1), "norm": NORM, "act": ACT},
    # SqueezeNet fire module: squeeze 1×1 → expand 1×1 (e1) | expand 3×3 (e3), concatenated
    "fire": {
        "squeeze": _channels(),
        "e1": _channels(),
        "e3": _channels(),
        "bias": BIAS,
        "norm": NORM,
        "act": ACT,
        "separable": SEPARABLE,
    },
    # DenseNet layer: norm → act → 1×1 (bn_size × growth) → norm → act → 3×3 (growth), its output
    # concatenated to its input
    "dense": {
        "growth": _channels(),
        "bn_size": Field("int", 4, low=1, high=MAX_MULTIPLIER),
        "norm": NORM,
        "act": ACT,
        "separable": SEPARABLE,
    },
    # DenseNet transition: norm → act → 1×1 to ⌊compression × C⌋ channels → 2×2 average pool
    "transition": {
        "compression": Field("float", 0.5, low=0, high=1),
        "norm": NORM,
        "act": ACT,
    },
    # normalisation and activation on their own (DenseNet's final BN and ReLU)
    "norm": {"norm": NORM, "act": ACT},
    "maxpool": {"k": _int(2), "s": _int(None), "p": _int(0, low=0), "ceil": Field("bool", False)},
    "avgpool": {"k": _int(2), "s": _int(None), "p": _int(0, low=0), "ceil": Field("bool", False)},
    "gap": {},
    "layernorm": {},  # LayerNorm over the channels at each position (ConvNeXt's LayerNorm2d)
    "lrn": {
        "size": _int(5),
        "alpha": Field("float", 1e-4, low=0),
        "beta": Field("float", 0.75, low=0),
        "k": Field("float", 2.0, low=0),
    },
    "flatten": {},
    "dropout": {"p": Field("float", 0.5, low=0)},
    # fully connected on a vector; `classifier: true` marks the class layer (--num-classes sets it)
    "fc": {
        "out": _channels(),
        "bias": Field("bool", True),
        "act": Field("choice", "none", choices=ACTIVATIONS),
        "classifier": Field("bool", False),
    },
}

# What the file's `defaults:` may set, and the built-in value when it does not.
DEFAULTS: Mapping[str, Field] = {
    "norm": Field("choice", "bn", choices=NORMS),
    "act": Field("choice", "relu", choices=ACTIVATIONS),
    "bias": Field("bool", None),  # None: a conv has a bias exactly when it has no norm
    "stride_at": Field("choice", "1x1", choices=("1x1", "3x3")),
    # an inverted residual's c_in·t: 1 rounds to the nearest whole number (MobileNetV2,
    # EfficientNet); 8 to a multiple of 8, ≥ 90 % (MobileNetV3's expand_input_by_factor)
    "exp_divisor": Field("int", 1, low=1, high=MAX_CHANNELS),
    "se_of": Field("choice", "in", choices=SE_BASES),
    "se_divisor": Field("int", 1, low=1, high=MAX_CHANNELS),  # 1: floor; 8: torchvision's rounding
    "se_act": Field("choice", "block", choices=SE_ACTS),
    "se_gate": Field("choice", "sigmoid", choices=SE_GATES),
}


def op_table(entries: Iterable[tuple[str, T]], what: str) -> Mapping[str, T]:
    """A read-only op → function table covering the whole vocabulary, each op exactly once."""
    table: dict[str, T] = {}
    for op, function in entries:
        if op in table or op not in OPS:
            raise ValueError(f"{what} for op '{op}': registered twice or not in the vocabulary")
        table[op] = function
    missing = sorted(set(OPS) - set(table))
    if missing:
        raise ValueError(f"no {what} for ops: {', '.join(missing)}")
    return MappingProxyType(table)
