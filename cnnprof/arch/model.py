"""Architecture as data: frozen values for shapes, rows and whole networks. No torch here."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from cnnprof.arch.multipliers import Multipliers


@dataclass(frozen=True)
class Shape:
    """A feature map per image: channels × height × width (a vector is C×1×1)."""

    c: int
    h: int
    w: int

    @property
    def elements(self) -> int:
        return self.c * self.h * self.w

    def __str__(self) -> str:
        return f"{self.c}×{self.h}×{self.w}"

    def as_list(self) -> list[int]:
        return [self.c, self.h, self.w]


def shape_of(dims: Sequence[int]) -> Shape:
    """A row's shape per image from a tensor's dims after the batch, as every count shapes them:
    (C,) is C×1×1, (L, C) a sequence of C features, (C, H, W, …) is C × H × (W·…)."""
    dims = list(dims) or [1]
    if len(dims) == 1:
        return Shape(dims[0], 1, 1)
    if len(dims) == 2:
        return Shape(dims[-1], dims[0], 1)
    return Shape(dims[0], dims[1], math.prod(dims[2:]))


def frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only view of a copy of ``mapping``."""
    return MappingProxyType(dict(mapping or {}))


V = TypeVar("V")


def evolve(value: V, **changes: Any) -> V:
    """``dataclasses.replace(value, **changes)`` for this package's frozen values (plain
    dataclasses: no slots, no ``__post_init__``), without re-running the frozen ``__init__`` field
    by field: the analytic engine derives thousands of layers and rows per registry listing, and
    ``replace`` was a third of its time."""
    fields = vars(value)
    if not changes.keys() <= fields.keys():
        unknown = sorted(changes.keys() - fields.keys())
        raise TypeError(f"{type(value).__name__} has no field {unknown[0]!r}")
    copy = object.__new__(type(value))
    vars(copy).update(fields, **changes)
    return copy


@dataclass(frozen=True)
class Layer:
    """One row of an architecture table, after defaults and multipliers are applied.

    ``path`` is the row's address (``"3"``, ``"8.2"`` for the third repeat, or a name such as
    ``"inception4a"``); the empirical builder gives its module the same path.
    ``args`` holds the op's fields (``out``, ``k``, ``s`` …) exactly as the op's schema names them.
    """

    op: str
    path: str
    args: Mapping[str, Any] = field(default_factory=frozen)
    where: str = ""  # "file.yaml, row 7" for error messages

    def __getitem__(self, key: str) -> Any:
        return self.args[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.args.get(key, default)

    def with_args(self, **changes: Any) -> Layer:
        return evolve(self, args=frozen({**self.args, **changes}))


@dataclass(frozen=True)
class Row:
    """A row as written in a spec, before repeats are expanded: ``repeat`` copies of ``layer``."""

    layer: Layer
    repeat: int | None = None  # None: the row declares no repeat, so --depth leaves it alone


@dataclass(frozen=True)
class Channels:
    """How a width multiplier rounds channel counts (a family's rule)."""

    round: str = "floor"  # floor: int(c·α); divisible: multiple of `divisor`, never below 90 %;
    # table: looked up in `table` (ShuffleNetV2's channels per width are tabulated, not computed)
    divisor: int = 8
    min: int = 1
    widths: tuple[float, ...] = ()  # table: the widths it has a column for
    table: tuple[tuple[int, tuple[int, ...]], ...] = ()  # table: (count at width 1, per width)

    def column(self, width: float) -> int | None:
        """The table's column for ``width``, or None when it has none."""
        return next((i for i, w in enumerate(self.widths) if abs(w - width) < 1e-9), None)


ROUND_RULES = ("floor", "divisible", "table")  # how a width multiplier rounds channels (`scale`)


def divisible(value: float, *, divisor: int, minimum: int) -> int:
    """``value`` rounded to the nearest multiple of ``divisor``, at least ``minimum``, and never
    below 90 % of ``value`` (the MobileNet v2 rule, torchvision's ``_make_divisible``)."""
    rounded = max(minimum, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


@dataclass(frozen=True)
class Compound:
    """EfficientNet-style compound scaling coefficients: depth α^φ, width β^φ, resolution γ^φ."""

    alpha: float
    beta: float
    gamma: float


@dataclass(frozen=True)
class Published:
    """A figure the paper prints for one configuration, with its source."""

    source: str
    width: float = 1.0
    resolution: int | None = None
    top1: float | None = None
    macs: float | None = None
    params: float | None = None


@dataclass(frozen=True)
class Arch:
    """A whole network as data: the rows of its table plus what the family declares."""

    name: str
    family: str
    paper: str
    input: Shape
    rows: tuple[Row, ...]
    channels: Channels = Channels()
    compound: Compound | None = None
    published: tuple[Published, ...] = ()
    aliases: tuple[str, ...] = ()
    source: str = ""
    multipliers: Multipliers = field(default_factory=Multipliers)
    design: Mapping[str, Any] = field(default_factory=frozen)  # a generator's overrides (RegNet)
    note: str = ""
    width: float = 1.0  # effective width multiplier (variant's × user's)
    depth: float = 1.0  # effective depth multiplier

    def published_figure(self) -> Published | None:
        """The paper's figure for exactly this width and resolution, if it prints one."""
        m = self.multipliers
        if m.num_classes is not None or m.depth != 1.0 or self.design:
            return None
        for p in self.published:
            same_res = (p.resolution or self.input.h) == self.input.h
            if same_res and abs(p.width - self.width) < 1e-9:
                return p
        return None

    def expanded(self) -> tuple[tuple[Row, tuple[Layer, ...]], ...]:
        """Each row with its layers: one for a plain row, ``repeat`` for a repeated one
        (paths ``row.0``, ``row.1`` …; stride applies to the first repeat only)."""
        out = []
        for row in self.rows:
            first = row.layer
            if row.repeat is None:
                out.append((row, (first,)))
                continue
            first = row.layer
            rest = first.with_args(s=1) if "s" in first.args else first
            copies = tuple(
                evolve(first if i == 0 else rest, path=f"{first.path}.{i}")
                for i in range(row.repeat)
            )
            out.append((row, copies))
        return tuple(out)

    @property
    def layers(self) -> tuple[Layer, ...]:
        """Rows with repeats expanded, in order."""
        return tuple(layer for _, layers in self.expanded() for layer in layers)


@dataclass(frozen=True)
class Generated:
    """Rows a generator wrote from a variant's design-space parameters (RegNet's body).

    They sit at ``rows[at : at + count]`` of the variant; ``design`` and ``defaults`` are kept so
    that the rows can be written again with other parameters or another width.
    """

    generator: str  # a name in spec.generate.GENERATORS
    design: Mapping[str, Any]
    defaults: Mapping[str, Any]
    at: int
    count: int
    where: str = ""


@dataclass(frozen=True)
class Variant:
    """A named model of a family: its own rows (or the family's) and its official multipliers."""

    name: str
    rows: tuple[Row, ...]
    aliases: tuple[str, ...] = ()
    width: float = 1.0
    depth: float = 1.0
    resolution: int | None = None
    num_classes: int | None = None
    paper: str = ""
    note: str = ""
    published: tuple[Published, ...] = ()
    generated: Generated | None = None


@dataclass(frozen=True)
class Family:
    """One YAML file: a paper's table, its rounding rule, and the variants it names."""

    name: str
    paper: str
    input: Shape
    variants: Mapping[str, Variant]
    channels: Channels = Channels()
    compound: Compound | None = None
    source: str = ""
