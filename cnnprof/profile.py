"""The one value type every counting path returns: `Profile`, a tuple of `LayerCost` rows.

Rows hold per-image counts; a profile's totals are at its batch size. Pure data, no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cnnprof.spec.model import Shape, frozen

DTYPE_BYTES: Mapping[str, int] = frozen(
    {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}
)

# Element-wise FLOP categories, in display order. `mac` is 2 × MACs (one multiply, one add).
FLOP_CATEGORIES = ("mac", "bias", "norm", "act", "pool", "add", "scale", "lrn")


@dataclass(frozen=True)
class LayerCost:
    """One row of a profile: what one layer (or fused conv → norm → act unit) costs per image."""

    path: str
    op: str  # conv, gconv, dwconv, fc, se, maxpool, avgpool, gap, lrn, flatten, dropout, …
    in_shape: Shape
    out_shape: Shape
    kernel: str = ""  # "3×3" for convolutions and pools
    weight_params: int = 0  # conv and fc weights
    bias_params: int = 0
    norm_params: int = 0  # BatchNorm affine (γ, β)
    buffers: int = 0  # BatchNorm running mean and variance
    macs: int = 0  # multiply-accumulates of conv and fc layers
    flops: Mapping[str, int] = field(default_factory=frozen)  # by category, see FLOP_CATEGORIES
    live: int = 0  # activation elements alive while this row runs (for peak memory)

    @property
    def params(self) -> int:
        return self.weight_params + self.bias_params + self.norm_params

    @property
    def total_flops(self) -> int:
        return sum(self.flops.values())

    @property
    def kind(self) -> str:
        """Grouping key for `--by op`: "conv 1×1", "dwconv 3×3", "fc" …"""
        return f"{self.op} {self.kernel}" if self.kernel else self.op

    def bytes_moved(self, dtype_bytes: int, batch: int = 1) -> int:
        """Weights read once plus input read and output written, at the batch."""
        activations = (self.in_shape.elements + self.out_shape.elements) * batch
        return (self.params + activations) * dtype_bytes

    def evolve(self, **changes: Any) -> LayerCost:
        """A copy with some fields changed. ``dataclasses.replace`` runs ``__init__`` again and
        costs 4 µs; this copies the (already validated) fields for 0.5 µs, and the analytic
        engine makes thousands of these copies (every residual block's rows, every repeat)."""
        if not changes.keys() <= self.__dict__.keys():
            unknown = sorted(changes.keys() - self.__dict__.keys())
            raise TypeError(f"LayerCost has no field {unknown[0]!r}")
        copy = object.__new__(LayerCost)
        copy.__dict__.update(self.__dict__, **changes)
        return copy

    def plus_flops(self, **extra: int) -> LayerCost:
        merged = dict(self.flops)
        for key, value in extra.items():
            if value:
                merged[key] = merged.get(key, 0) + value
        return self.evolve(flops=frozen(merged))


@dataclass(frozen=True)
class Profile:
    """Rows plus the context that produced them. Totals are at ``batch``."""

    model: str
    source: str  # "analytic", "torch" (FlopCounterMode) or "fvcore"
    input: Shape
    rows: tuple[LayerCost, ...]
    batch: int = 1
    dtype: str = "float32"
    options: Mapping[str, Any] = field(default_factory=frozen)
    ignored: tuple[str, ...] = ()  # ops seen and deliberately not counted
    unsupported: tuple[str, ...] = ()  # ops seen that no formula covers
    extra_params: int = 0  # parameters outside any row (shared or loose), counted once

    @property
    def dtype_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows) + self.extra_params

    @property
    def params_by_kind(self) -> dict[str, int]:
        return {
            "weights": sum(r.weight_params for r in self.rows),
            "biases": sum(r.bias_params for r in self.rows),
            "norm": sum(r.norm_params for r in self.rows),
        }

    @property
    def buffers(self) -> int:
        return sum(r.buffers for r in self.rows)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.rows) * self.batch

    @property
    def flops_by_category(self) -> dict[str, int]:
        totals = dict.fromkeys(FLOP_CATEGORIES, 0)
        for row in self.rows:
            for key, value in row.flops.items():
                totals[key] = totals.get(key, 0) + value
        return {k: v * self.batch for k, v in totals.items()}

    @property
    def flops(self) -> int:
        return sum(self.flops_by_category.values())

    @property
    def activations(self) -> int:
        """Output elements of every row, summed, at the batch."""
        return sum(r.out_shape.elements for r in self.rows) * self.batch

    @property
    def param_bytes(self) -> int:
        return self.params * self.dtype_bytes

    @property
    def peak_activation_bytes(self) -> int:
        """Largest set of activations alive at once during inference, at the batch."""
        live = max((r.live for r in self.rows), default=0)
        return max(live, self.input.elements) * self.batch * self.dtype_bytes

    @property
    def bytes_moved(self) -> int:
        return sum(r.bytes_moved(self.dtype_bytes, self.batch) for r in self.rows)

    @property
    def output(self) -> Shape:
        return self.rows[-1].out_shape if self.rows else self.input

    def by_kind(self) -> dict[str, LayerCost]:
        """Rows summed per kind ("conv 1×1", "dwconv 3×3" …), in order of first appearance."""
        groups: dict[str, LayerCost] = {}
        for row in self.rows:
            key = row.kind
            if key not in groups:
                groups[key] = replace(row, path=key)
                continue
            g = groups[key]
            flops = dict(g.flops)
            for cat, value in row.flops.items():
                flops[cat] = flops.get(cat, 0) + value
            groups[key] = replace(
                g,
                weight_params=g.weight_params + row.weight_params,
                bias_params=g.bias_params + row.bias_params,
                norm_params=g.norm_params + row.norm_params,
                buffers=g.buffers + row.buffers,
                macs=g.macs + row.macs,
                flops=frozen(flops),
            )
        return groups
