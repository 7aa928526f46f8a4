"""Width (alpha), resolution (rho), depth and compound (phi) multipliers, applied once.

`resolve` turns a family's variant plus the user's multipliers into an `Arch` whose rows carry the
final channel counts and repeats. Multipliers compose with a variant's official ones
(EfficientNet-B3 at alpha 0.5 has width 1.2 × 0.5).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from cnnprof.arch.load import check_design, write_rows
from cnnprof.arch.model import (
    ROUND_RULES,
    Arch,
    Channels,
    Family,
    Layer,
    Row,
    Shape,
    Variant,
    divisible,
    frozen,
)
from cnnprof.arch.multipliers import MAX_RESOLUTION, Multipliers
from cnnprof.arch.ops import OPS
from cnnprof.errors import OptionError

MAX_LAYERS = 20000


def _floor(channels: int, width: float, rule: Channels) -> int:
    return max(rule.min, int(round(channels * width, 9)))


def _divisible(channels: int, width: float, rule: Channels) -> int:
    return divisible(channels * width, divisor=rule.divisor, minimum=max(rule.min, rule.divisor))


def _tabulated(channels: int, width: float, rule: Channels) -> int:
    column = rule.column(width)
    counts = dict(rule.table).get(channels)
    if column is None or counts is None:
        widths = ", ".join(f"{w:g}" for w in rule.widths)
        raise OptionError(
            f"{channels} channels at width {width:g}: the family's channel table has no such "
            f"entry (its widths: {widths})"
        )
    return counts[column]


# Width-multiplier rounding rules, by the name a family file gives in `channels: {round: …}`.
ROUNDING: Mapping[str, Callable[[int, float, Channels], int]] = MappingProxyType(
    {"floor": _floor, "divisible": _divisible, "table": _tabulated}
)
# The least a scaled channel count c·w must reach for each rule not to round it up to its
# minimum: floor keeps int(c·w), divisible rounds c·w to the nearest multiple of the divisor.
UNROUNDED: Mapping[str, Callable[[Channels], float | None]] = MappingProxyType(
    {
        "floor": lambda rule: max(rule.min, 1),
        "divisible": lambda rule: (
            -(-max(rule.min, rule.divisor) // rule.divisor) * rule.divisor - rule.divisor / 2
        ),
        "table": lambda rule: None,  # only the tabulated widths are taken
    }
)
# the loader accepts exactly the rules scaling knows
if set(ROUNDING) != set(ROUND_RULES) or set(UNROUNDED) != set(ROUND_RULES):
    raise ValueError(f"rounding rules {sorted(ROUNDING)} are not the model's {ROUND_RULES}")


def round_channels(channels: int, width: float, rule: Channels) -> int:
    """Scale a channel count by ``width`` with the family's rounding rule.

    floor: ``max(min, int(c·w))`` (MobileNet v1). divisible: nearest multiple of ``divisor``, never
    below the divisor and never below 90 % of ``c·w`` (MobileNet v2, MnasNet, EfficientNet).
    table: the family's own table of counts per width (ShuffleNetV2); other widths are refused.
    """
    return ROUNDING[rule.round](channels, width, rule)


def round_repeats(repeats: int, depth: float) -> int:
    """Repeats times the depth multiplier, rounded up (rounded to 1e-9 first: 1.1 × 10 is 11)."""
    return max(1, math.ceil(round(repeats * depth, 9)))


def resolve(
    family: Family,
    variant_name: str,
    multipliers: Multipliers | None = None,
    *,
    design: Mapping[str, Any] | None = None,
) -> Arch:
    """The variant with every multiplier applied: the one place where scaling happens.

    ``design`` overrides some of a generated variant's design-space parameters (RegNet's
    ``{"wm": 2.5}``); its generated rows are then written again. A generated variant's width
    multiplier goes to its generator (RegNet: w0 and wa), whose own rounding sets the widths.
    """
    m = multipliers or Multipliers()
    variant = family.variants[variant_name]
    width, depth_mult, scale = _compounded(family, variant, m)
    shape = _input_shape(family, variant, m, scale)
    if family.channels.widths and family.channels.column(width) is None:
        widths = ", ".join(f"{w:g}" for w in family.channels.widths)
        raise OptionError(
            f"{variant_name}: width {width:g} (the variant's {variant.width:g} × --alpha "
            f"{m.alpha:g}): {family.name} tabulates its channels for widths {widths} only; "
            "choose --alpha so that the width is one of them"
        )
    classes = m.num_classes if m.num_classes is not None else variant.num_classes
    written = generated_rows(variant, design or {}, width)
    _check_width(written, width, family.channels, m, variant_name)
    rows = tuple(_scale_row(row, width, depth_mult, classes, family.channels) for row in written)
    layers = sum(row.repeat or 1 for row in rows)
    if layers > MAX_LAYERS:
        raise OptionError(f"depth {depth_mult:g} gives {layers} rows; at most {MAX_LAYERS}")
    return Arch(
        name=variant.name,
        family=family.name,
        paper=variant.paper or family.paper,
        input=shape,
        rows=rows,
        channels=family.channels,
        compound=family.compound,
        published=variant.published,
        aliases=variant.aliases,
        source=family.source,
        multipliers=replace(m, num_classes=classes),
        design=frozen(design or {}),
        note=variant.note,
        width=width,
        depth=depth_mult,
    )


def _check_width(
    rows: tuple[Row, ...], width: float, rule: Channels, m: Multipliers, name: str
) -> None:
    """Refuse a width that rounds every layer it scales below the rounding's minimum (each is
    raised to it: the same network at any smaller --alpha), naming the smallest --alpha at
    which one layer reaches it."""
    least = UNROUNDED[rule.round](rule)
    widest = max(
        (
            row.layer[key]
            for row in rows
            if not any(row.layer.get(flag) for flag in ("classifier", "fixed", "no_shrink"))
            for key, field in OPS[row.layer.op].items()
            if field.channels
        ),
        default=0,
    )
    if least is None or not widest or round(widest * width, 9) >= least:
        return
    smallest = least / widest / (width / m.alpha)
    step = 10.0 ** (math.floor(math.log10(smallest)) - 2)  # three digits, rounded up
    raise OptionError(
        f"--alpha {m.alpha:g}: at width {width:g} every layer of {name} rounds below the "
        f"fewest channels its rounding keeps (its widest has {widest}); the smallest --alpha "
        f"is {math.ceil(round(smallest / step, 9)) * step:.3g}"
    )


def _compounded(family: Family, variant: Variant, m: Multipliers) -> tuple[float, float, float]:
    """Width, depth and resolution scale: the variant's own times the user's multipliers, times
    the family's compound coefficients raised to phi (EfficientNet's compound scaling)."""
    width, depth, scale = variant.width * m.alpha, variant.depth * m.depth, m.rho or 1.0
    if m.phi is None:
        return width, depth, scale
    if family.compound is None:
        raise OptionError(
            f"--phi: family '{family.name}' declares no compound coefficients "
            "(EfficientNet does); use --alpha, --depth and --resolution instead"
        )
    compound = family.compound
    return (
        width * compound.beta**m.phi,
        depth * compound.alpha**m.phi,
        scale * compound.gamma**m.phi,
    )


def _input_shape(family: Family, variant: Variant, m: Multipliers, scale: float) -> Shape:
    """The input after scaling: --resolution as given, else the variant's side times ``scale``
    (the family's aspect ratio kept); refused outside 1…MAX_RESOLUTION pixels."""
    base = family.input
    if m.resolution is not None:
        shape = Shape(base.c, m.resolution, m.resolution)
    else:
        h = round((variant.resolution or base.h) * scale)
        shape = Shape(base.c, h, max(1, round(h * (base.w / base.h))))
    if min(shape.h, shape.w) < 1 or max(shape.h, shape.w) > MAX_RESOLUTION:
        raise OptionError(
            f"the scaled input is {shape.h}×{shape.w} pixels: choose a resolution in 1…"
            f"{MAX_RESOLUTION}"
        )
    return shape


def generated_rows(variant: Variant, design: Mapping[str, Any], width: float) -> tuple[Row, ...]:
    """The variant's rows, its generated ones written again when ``design`` overrides parameters
    or ``width`` is not 1 (written rows keep the generic rounding, applied by the caller)."""
    generated = variant.generated
    if generated is None:
        if design:
            raise OptionError(
                f"design parameters ({', '.join(design)}): '{variant.name}' is written row by "
                "row, not generated; they apply to generated families (RegNet)"
            )
        return variant.rows
    if not design and width == 1.0:
        return variant.rows
    values = check_design(
        generated.generator, {**generated.design, **design}, f"'{variant.name}' design", OptionError
    )
    rows = write_rows(generated, design=values, width=width)
    before, after = variant.rows[: generated.at], variant.rows[generated.at + generated.count :]
    return (*before, *rows, *after)


def _scale_row(
    row: Row, width: float, depth: float, num_classes: int | None, rule: Channels
) -> Row:
    layer = row.layer
    repeat = None if row.repeat is None else round_repeats(row.repeat, depth)
    return Row(layer=_scale_layer(layer, width, num_classes, rule), repeat=repeat)


def _scale_layer(layer: Layer, width: float, num_classes: int | None, rule: Channels) -> Layer:
    if layer.get("classifier"):
        return layer if num_classes is None else layer.with_args(out=num_classes)
    if layer.get("fixed"):
        return layer
    if layer.get("no_shrink"):
        width = max(1.0, width)
    schema = OPS[layer.op]
    rounded = {
        key: round_channels(layer[key], width, rule)
        for key, field in schema.items()
        if field.channels
    }
    changes = {key: value for key, value in rounded.items() if value != layer[key]}
    return layer.with_args(**changes) if changes else layer
