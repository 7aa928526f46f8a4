"""Rewrites of an Arch: `standard` ⇄ `separable` convolutions (MobileNet paper, Tables 3 and 4).

`standard` turns each depthwise-separable row (`dws`) into one full k×k convolution of the same
output ("Conv MobileNet"); `separable` marks every k×k convolution with k > 1 and groups = 1 —
plain `conv` rows and the convolutions inside ResNet and GoogLeNet blocks, SqueezeNet fire modules
and DenseNet layers — to be built as depthwise k×k → pointwise 1×1. Depthwise convolutions inside
inverted residuals and ShuffleNet units stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType

from cnnprof.arch.model import Arch, Layer, Row

Rewrite = Callable[[Layer], Layer]


def _dws_to_conv(layer: Layer) -> Layer:
    if layer.op != "dws":
        return layer
    a = layer.args
    args = {
        "out": a["out"],
        "k": a["k"],
        "s": a["s"],
        "p": "same",
        "groups": 1,
        "bias": a["norm"] == "none",
        "norm": a["norm"],
        "act": a["act"],
        "separable": False,
        "classifier": False,
        "fixed": a["fixed"],
        "no_shrink": a["no_shrink"],
    }
    return Layer(op="conv", path=layer.path, args=args, where=layer.where)


def _mark_separable(layer: Layer) -> Layer:
    if "separable" not in layer.args:
        return layer
    if layer.op == "conv" and (layer["groups"] != 1 or layer["k"] == 1):
        return layer
    return layer.with_args(separable=True)


TRANSFORMS: Mapping[str, Rewrite] = MappingProxyType(
    {"standard": _dws_to_conv, "separable": _mark_separable}
)


def transform(arch: Arch, name: str) -> Arch:
    """``arch`` with every row rewritten by the named transform; its name gains ``@name``."""
    rewrite = TRANSFORMS[name]
    rows = tuple(Row(layer=rewrite(row.layer), repeat=row.repeat) for row in arch.rows)
    return replace(arch, name=f"{arch.name}@{name}", rows=rows, published=())
