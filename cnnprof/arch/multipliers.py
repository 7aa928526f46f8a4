"""`Multipliers`: how a written spec is scaled (width, depth, resolution, compound, classes).

A value checked once, when built; described once for titles and once for variant references.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cnnprof.arch.ops import MAX_MULTIPLIER
from cnnprof.errors import OptionError

MAX_RESOLUTION = 16384

# option: (lowest allowed, whether the lowest itself is allowed, highest, what to give)
LIMITS: Mapping[str, tuple[float, bool, float, str]] = MappingProxyType(
    {
        "alpha": (0, False, MAX_MULTIPLIER, "a width multiplier > 0 and ≤ 64, e.g. 0.5"),
        "depth": (0, False, MAX_MULTIPLIER, "a depth multiplier > 0 and ≤ 64, e.g. 1.2"),
        "resolution": (0, False, MAX_RESOLUTION, "pixels > 0 and ≤ 16384, e.g. 160"),
        "rho": (0, False, MAX_MULTIPLIER, "a resolution multiplier > 0 and ≤ 64"),
        "phi": (0, True, 20, "a compound coefficient ≥ 0 and ≤ 20, e.g. 2"),
        "num_classes": (1, True, 10**7, "a count ≥ 1 and ≤ 10⁷"),
    }
)
WHOLE = frozenset({"resolution", "num_classes"})  # whole numbers only


@dataclass(frozen=True)
class Multipliers:
    """How a written spec is scaled: width ``alpha``, ``depth`` (repeats), the input (``resolution``
    in pixels or ``rho``), the compound coefficient ``phi`` and the classifier's ``num_classes``.
    Checked once, when built: a `Multipliers` that exists is in range."""

    alpha: float = 1.0
    depth: float = 1.0
    resolution: int | None = None
    rho: float | None = None
    phi: float | None = None
    num_classes: int | None = None

    def __post_init__(self) -> None:
        for name, (low, low_ok, high, need) in LIMITS.items():
            value = getattr(self, name)
            if value is None:
                continue
            whole = name in WHOLE
            kinds = (int,) if whole else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise OptionError(f"--{_flag(name)} {value!r}: expected {need}")
            above = value >= low if low_ok else value > low
            if not (math.isfinite(value) and above and value <= high):
                raise OptionError(f"--{_flag(name)} {value}: expected {need}")
        if self.resolution is not None and self.rho is not None:
            raise OptionError("--resolution and --rho both given: give one of them")

    def describe(self) -> str:
        """``phi=2, alpha=0.5, resolution=160``: what differs from the spec as written."""
        parts = [f"phi={self.phi:g}"] if self.phi is not None else []
        parts += [f"alpha={self.alpha:g}"] if self.alpha != 1.0 else []
        parts += [f"depth={self.depth:g}"] if self.depth != 1.0 else []
        parts += [f"resolution={self.resolution}"] if self.resolution is not None else []
        parts += [f"rho={self.rho:g}"] if self.rho is not None else []
        parts += [f"num_classes={self.num_classes}"] if self.num_classes is not None else []
        return ", ".join(parts)

    def reference_keys(self) -> list[str]:
        """The variant-reference keys that give these multipliers (``alpha=0.5``, ``res=160``)."""
        keys = [f"alpha={self.alpha:g}"] if self.alpha != 1.0 else []
        keys += [f"depth={self.depth:g}"] if self.depth != 1.0 else []
        keys += [f"res={self.resolution}"] if self.resolution is not None else []
        keys += [f"rho={self.rho:g}"] if self.rho is not None else []
        keys += [f"phi={self.phi:g}"] if self.phi is not None else []
        keys += [f"classes={self.num_classes}"] if self.num_classes is not None else []
        return keys

    def spec_only(self) -> list[str]:
        """The options given that only a spec can honour (outside models have no rows to scale)."""
        given = {
            "--alpha": self.alpha != 1.0,
            "--depth": self.depth != 1.0,
            "--rho": self.rho is not None,
            "--phi": self.phi is not None,
        }
        return [name for name, on in given.items() if on]


def _flag(name: str) -> str:
    return name.replace("_", "-")
