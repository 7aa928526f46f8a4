"""Rows written by a rule instead of by hand: one generator per design space, in one table.

A family file puts a ``{generate: NAME}`` row where the rule's rows belong and gives each variant
the rule's parameters under ``design:``; the loader validates them against the generator's schema
and splices the rows it writes into the variant. Pure Python: a RegNet is expanded in
microseconds, so `cnnprof list` stays instant.

RegNet — Radosavovic et al. 2020, "Designing Network Design Spaces", arXiv 2003.13678, Sec. 3.3:
block j of d gets the width u_j = w0 + wa·j (Eq. 2); its quantized capacity
s_j = round(log(u_j / w0) / log(wm)) (Eq. 3); its width w0·wm^s_j rounded to a multiple of 8
(Eq. 4). Consecutive blocks of one width form a stage, stride 2 on its first block. The steps below
are those of torchvision's ``BlockParams.from_init_params`` and
``_adjust_widths_groups_compatibilty`` (the reference code whose figures the registry reproduces):
each stage's bottleneck width w/b is made a multiple of the group width g, g itself capped at w/b
(``rounding: pycls`` rounds that multiple as the authors' pycls does, see GROUP_ROUNDING).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cnnprof.arch.model import divisible
from cnnprof.arch.ops import MAX_CHANNELS, MAX_MULTIPLIER, MAX_REPEAT, REQUIRED, Field
from cnnprof.errors import ShapeError

REGNET_QUANTUM = 8  # block widths are multiples of 8 (Eq. 4)
REGNET_STRIDE = 2  # every stage halves the map on its first block

RowDoc = dict[str, Any]


@dataclass(frozen=True)
class Generator:
    """A rule: its parameters (kinds and ranges), what else they must satisfy, and the writer.

    ``check`` returns "" or what is wrong beyond the ranges; ``write`` takes the parameters and a
    width multiplier and returns rows as a family file would spell them.
    """

    design: Mapping[str, Field]
    check: Callable[[Mapping[str, Any]], str]
    write: Callable[..., list[RowDoc]]


# How a stage's inner width w/b becomes a multiple of its group width g. torchvision
# (_make_divisible): nearest multiple, halves up, never below 90 %. pycls, the authors' code
# (adjust_block_compatibility), whose figures the paper and its MODEL_ZOO print: nearest multiple,
# halves to even, at least g (pycls uses lcm(g, 1/b) when 1/b > 1; not modelled).
GROUP_ROUNDING: Mapping[str, Callable[[int, int], int]] = MappingProxyType(
    {
        "torchvision": lambda inner, g: divisible(inner, divisor=g, minimum=g),
        "pycls": lambda inner, g: max(g, round(inner / g) * g),
    }
)

# The paper's symbols: d depth (blocks), w0 initial width, wa slope, wm width multiplier per
# stage, g group width, b bottleneck ratio (inner width w/b; torchvision's
# bottleneck_multiplier is 1/b), se the SE ratio of a block's input channels (RegNetY: 0.25);
# rounding: a name in GROUP_ROUNDING.
REGNET_DESIGN: Mapping[str, Field] = MappingProxyType(
    {
        "d": Field("int", REQUIRED, low=1, high=MAX_REPEAT),
        "w0": Field("int", REQUIRED, low=REGNET_QUANTUM, high=MAX_CHANNELS),
        "wa": Field("float", REQUIRED, low=0, high=MAX_CHANNELS),
        "wm": Field("float", REQUIRED, low=1, high=MAX_MULTIPLIER),
        "g": Field("int", REQUIRED, low=1, high=MAX_CHANNELS),
        "b": Field("float", 1.0, low=1 / MAX_MULTIPLIER, high=MAX_MULTIPLIER),
        "se": Field("float", 0.0, low=0, high=1),
        "rounding": Field("choice", "torchvision", choices=tuple(GROUP_ROUNDING)),
    }
)


def regnet_check(design: Mapping[str, Any]) -> str:
    """torchvision's own refusals: w0 a multiple of 8, wm above 1."""
    if design["w0"] % REGNET_QUANTUM:
        return f"w0 = {design['w0']} must be a multiple of {REGNET_QUANTUM}"
    if design["wm"] <= 1:
        return f"wm = {design['wm']} must be above 1 (each stage is wm times wider)"
    return ""


def f32(value: float) -> float:
    """``value`` rounded to the nearest single-precision float."""
    return struct.unpack("f", struct.pack("f", value))[0]


def regnet_block_widths(*, d: int, w0: float, wa: float, wm: float) -> list[int]:
    """Eqs. 2–4: the quantized width of each of the d blocks.

    Each step is rounded to single precision as torchvision's float32 tensors round it, so that
    ties in the quantization (w0·wm^s = 8·61.5) fall the same way; Python's round, like torch's,
    rounds half to even.
    """
    log_wm = f32(math.log(wm))
    w0, wa, wm = f32(w0), f32(wa), f32(wm)
    widths = []
    for j in range(d):
        u = f32(f32(j * wa) + w0)
        capacity = round(f32(f32(math.log(f32(u / w0))) / log_wm))
        width = f32(w0 * f32(wm**capacity))
        widths.append(round(width / REGNET_QUANTUM) * REGNET_QUANTUM)
    return widths


def regnet_stages(block_widths: list[int]) -> list[tuple[int, int]]:
    """Runs of equal widths: (width, blocks) per stage."""
    stages: list[tuple[int, int]] = []
    for width in block_widths:
        if stages and stages[-1][0] == width:
            stages[-1] = (width, stages[-1][1] + 1)
        else:
            stages.append((width, 1))
    return stages


def regnet_rows(design: Mapping[str, Any], *, width: float = 1.0) -> list[RowDoc]:
    """One ``bottleneck`` row per stage (``stage1`` …), stride 2 on its first block.

    ``width`` multiplies w0 and wa, so every u_j scales and the stage structure stays; the widths
    are quantized again by the rule (their own rounding, so the rows are ``fixed`` against a
    second, generic rounding by the width multiplier).
    """
    blocks = regnet_block_widths(
        d=design["d"], w0=design["w0"] * width, wa=design["wa"] * width, wm=design["wm"]
    )
    if min(blocks) < REGNET_QUANTUM:
        raise ShapeError(
            f"RegNet widths vanish: w0 = {design['w0']} × width {width:g} quantizes to "
            f"{min(blocks)} channels; use a larger width"
        )
    multiplier = 1 / design["b"]
    rows = []
    for index, (stage_width, blocks_in_stage) in enumerate(regnet_stages(blocks), start=1):
        inner = int(stage_width * multiplier)
        if inner < 1:
            raise ShapeError(
                f"RegNet stage {index}: width {stage_width} / b = {design['b']:g} "
                "leaves no inner channels; use a smaller b"
            )
        group_width = min(design["g"], inner)
        inner = GROUP_ROUNDING[design["rounding"]](inner, group_width)
        out = int(inner / multiplier)
        mid = round(out * multiplier)  # as torchvision's BottleneckTransform computes it
        rows.append(
            {
                "name": f"stage{index}",
                "op": "bottleneck",
                "mid": mid,
                "out": out,
                "groups": mid // group_width,
                "se": design["se"],
                "s": REGNET_STRIDE,
                "repeat": blocks_in_stage,
                "fixed": True,
            }
        )
    return rows


GENERATORS: Mapping[str, Generator] = MappingProxyType(
    {"regnet": Generator(design=REGNET_DESIGN, check=regnet_check, write=regnet_rows)}
)
