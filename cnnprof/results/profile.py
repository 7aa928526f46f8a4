"""The one value type every counting path returns: `Profile`, a tuple of `LayerCost` rows; and
what two profiles of the same model disagree on (`Difference`, `CrossCheck`).

Rows hold per-image counts; a profile's totals are at its batch size. Pure data, no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import reduce
from typing import Any, TypeVar

from cnnprof.arch.model import Published, Shape, evolve, frozen
from cnnprof.arch.ops import ACTIVATIONS
from cnnprof.results.shown import Shown
from cnnprof.results.vocab import DTYPE_BYTES

# Element-wise FLOP categories, in display order. `mac` is 2 × MACs (one multiply, one add);
# `other` is the element-wise arithmetic of an outside model that fits none of the rest
# (comparisons, exp, sqrt, reductions, resampling).
FLOP_CATEGORIES = ("mac", "bias", "norm", "act", "pool", "add", "scale", "lrn", "other")

# What a row can be (`LayerCost.op`): a convolution by kind, a matrix product, a pool, a norm, an
# activation, a reshaping op; for an outside model's row, "block" (a module whose arithmetic sits
# in its children) or "functional" (work done in a forward outside any module).
LAYER_OPS = frozenset(
    {
        *("conv", "gconv", "dwconv", "convT", "fc", "se", "norm", "layernorm", "scale", "lrn"),
        "attention",
        *("maxpool", "avgpool", "gap", "adaptive_pool", "upsample", "softmax"),
        *("flatten", "dropout", "identity", "block", "functional"),
        *ACTIVATIONS,
        *("hsigmoid", "gelu", "leaky_relu", "prelu", "elu"),  # activations of outside models
    }
)


@dataclass(frozen=True)
class LayerCost:
    """One row of a profile: what one layer (or fused conv → norm → act unit) costs per image."""

    path: str
    op: str  # one of LAYER_OPS
    in_shape: Shape
    out_shape: Shape
    kernel: tuple[int, ...] = ()  # a convolution's or pool's size per spatial dim: (3, 3)
    weight_params: int = 0  # conv and fc weights
    bias_params: int = 0
    norm_params: int = 0  # BatchNorm affine (γ, β)
    buffers: int = 0  # BatchNorm running mean and variance
    macs: int = 0  # multiply-accumulates of conv and fc layers
    flops_by_category: Mapping[str, int] = field(
        default_factory=frozen
    )  # by category, see FLOP_CATEGORIES
    live: int = 0  # activation elements alive while this row runs (for peak memory)

    def __post_init__(self) -> None:
        if self.op not in LAYER_OPS:
            raise ValueError(f"LayerCost.op {self.op!r} is not one of LAYER_OPS")

    @property
    def params(self) -> int:
        return self.weight_params + self.bias_params + self.norm_params

    @property
    def flops(self) -> int:
        return sum(self.flops_by_category.values())

    @property
    def kernel_text(self) -> str:
        """The kernel as rows show it: "3×3", "3" (1-D), "2×2×2" (3-D); "" when none."""
        return "×".join(map(str, self.kernel))

    @property
    def kind(self) -> str:
        """Grouping key for `--by op`: "conv 1×1", "dwconv 3×3", "fc" …"""
        return f"{self.op} {self.kernel_text}" if self.kernel else self.op

    def bytes_moved(self, dtype_bytes: int, batch: int = 1) -> int:
        """Weights read once plus input read and output written, at the batch."""
        activations = (self.in_shape.elements + self.out_shape.elements) * batch
        return (self.params + activations) * dtype_bytes

    def plus_flops(self, **extra: int) -> LayerCost:
        merged = dict(self.flops_by_category)
        for key, value in extra.items():
            if value:
                merged[key] = merged.get(key, 0) + value
        return evolve(self, flops_by_category=frozen(merged))


@dataclass(frozen=True)
class Profile(Shown):
    """Rows plus the context that produced them. Totals are at ``batch``."""

    model: str
    source: str  # "analytic", "torch" (FlopCounterMode) or "fvcore"
    input: Shape
    layers: tuple[LayerCost, ...]
    batch: int = 1
    dtype: str = "float32"
    options: Mapping[str, Any] = field(default_factory=frozen)
    ignored: tuple[str, ...] = ()  # ops seen and deliberately not counted
    unsupported: tuple[str, ...] = ()  # ops seen that no formula covers, with who called them
    extra_params: int = 0  # parameters outside any row (shared or loose), counted once
    not_run_in_eval: tuple[str, ...] = ()  # modules holding parameters that eval skipped
    inputs: tuple[tuple[int, ...], ...] = ()  # an outside model's inputs per image, any rank
    counted_on: str = ""  # how an outside model ran: "meta", or why and how it ran elsewhere
    # What an outside model's forward returned: each tensor as (name, dims per image), the name
    # "" for a lone tensor, else its place ("0", "logits", "aux.1"); and the first as a row's shape.
    outputs: tuple[tuple[str, tuple[int, ...]], ...] = ()
    returned: Shape | None = None
    unseen: tuple[str, ...] = ()  # rows of the default count whose MACs no formula of the walk sees
    # where the input came from: "model config", "--input", "--resolution" or "default"
    input_from: str = ""
    published: Published | None = None  # the paper's figure for exactly this configuration
    # An ONNX file's: initializers that are not parameters (shapes, indices, scalars) as
    # (name, elements); the BatchNorm parameters and running statistics its exporter folded into
    # convolutions (the torch count has them); where it came from: (what, text), e.g. opset.
    constants: tuple[tuple[str, int], ...] = ()
    folded_params: int = 0
    folded_buffers: int = 0
    origin: tuple[tuple[str, str], ...] = ()
    # what the count's options changed from the model as written, as its title says it
    # ("alpha=0.5, resolution=160"; empty: nothing, or not counted through `cnnprof.count`)
    given: str = ""

    @property
    def complete(self) -> bool:
        """Every op costed or deliberately free, and every parameter in a row."""
        return not self.missing

    @property
    def missing(self) -> tuple[str, ...]:
        """What keeps the count from being complete, one line each (empty when complete)."""
        out = tuple(f"unsupported: {op}" for op in self.unsupported)
        out += tuple(f"not seen by the walk: {row}" for row in self.unseen)
        if self.extra_params:
            out += (f"{self.extra_params:,} parameters in no row",)
        return out

    @property
    def input_text(self) -> str:
        """The input as given: ``3×224×224``; several inputs joined by `` + ``."""
        if not self.inputs:
            return str(self.input)
        return " + ".join("×".join(map(str, dims)) for dims in self.inputs)

    def __repr__(self) -> str:
        """One line (a failing ``assert profile.params < …`` shows this, not every row)."""
        return (
            f"Profile({self.model!r}, {self.source}, input {self.input}, batch {self.batch}: "
            f"params={self.params:,}, macs={self.macs:,}, flops={self.flops:,}, "
            f"{len(self.layers)} rows)"
        )

    @property
    def dtype_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def params(self) -> int:
        return sum(r.params for r in self.layers) + self.extra_params

    @property
    def params_by_kind(self) -> dict[str, int]:
        return {
            "weights": sum(r.weight_params for r in self.layers),
            "biases": sum(r.bias_params for r in self.layers),
            "norm": sum(r.norm_params for r in self.layers),
        }

    @property
    def buffers(self) -> int:
        return sum(r.buffers for r in self.layers)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.layers) * self.batch

    @property
    def flops_by_category(self) -> dict[str, int]:
        totals = dict.fromkeys(FLOP_CATEGORIES, 0)
        for row in self.layers:
            for key, value in row.flops_by_category.items():
                totals[key] = totals.get(key, 0) + value
        return {k: v * self.batch for k, v in totals.items()}

    @property
    def flops(self) -> int:
        return sum(self.flops_by_category.values())

    @property
    def activations(self) -> int:
        """Output elements of every row, summed, at the batch."""
        return sum(r.out_shape.elements for r in self.layers) * self.batch

    @property
    def param_bytes(self) -> int:
        return self.params * self.dtype_bytes

    @property
    def peak_activation_bytes(self) -> int:
        """Largest set of activations alive at once during inference, at the batch."""
        live = max((r.live for r in self.layers), default=0)
        return max(live, self.input.elements) * self.batch * self.dtype_bytes

    @property
    def bytes_moved(self) -> int:
        return sum(r.bytes_moved(self.dtype_bytes, self.batch) for r in self.layers)

    @property
    def output(self) -> Shape:
        """What the forward returned (its first tensor), where it was recorded; else the last
        row's output (rows of parameters alone, which never ran, have none)."""
        if self.returned is not None:
            return self.returned
        shapes = [r.out_shape for r in self.layers if r.out_shape.elements]
        return shapes[-1] if shapes else self.input

    @property
    def several_outputs(self) -> bool:
        """The forward returned more than one lone tensor (a tuple, a list, a dict)."""
        return len(self.outputs) > 1 or any(name for name, _ in self.outputs)

    @property
    def output_text(self) -> str:
        """The output as a header shows it: ``1000×1×1``; several as ``logits: 7, aux: 3``."""
        if not self.several_outputs:
            return str(self.output)
        return ", ".join(
            f"{name}: {'×'.join(map(str, dims)) or 'scalar'}" for name, dims in self.outputs
        )

    def at_depth(self, depth: int) -> list[LayerCost]:
        """Rows summed into their containers ``depth`` levels below the root (``features.3``
        at depth 2), in order of first appearance; a container summing several rows is a
        "block" (`depth_groups` says which kinds it sums). Rows no deeper than ``depth`` stay
        as they are."""
        return [_summed(path, rows) for path, rows in self.depth_groups(depth).items()]

    def depth_groups(self, depth: int) -> dict[str, list[LayerCost]]:
        """The rows each container ``depth`` levels below the root holds, in order."""
        return grouped(self.layers, lambda row: depth_key(row.path, depth))

    def by_kind(self) -> dict[str, LayerCost]:
        """Rows summed per kind ("conv 1×1", "dwconv 3×3" …), in order of first appearance."""
        groups = grouped(self.layers, lambda row: row.kind)
        return {k: reduce(_plus, rows[1:], replace(rows[0], path=k)) for k, rows in groups.items()}

    def kind_by_path(self) -> dict[str, str]:
        """Each row's kind by its path (what `--by op` groups timed rows by)."""
        return {row.path: row.kind for row in self.layers}


Row = TypeVar("Row")


def grouped(rows: Iterable[Row], key: Callable[[Row], str]) -> dict[str, list[Row]]:
    """``rows`` by ``key``, groups in order of first appearance: what `--by op` and
    `--max-depth` sum, for counted rows and timed ones alike."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return groups


def depth_key(path: str, depth: int) -> str:
    """The container ``depth`` levels below the root holding the row at ``path``
    (``features.3.conv`` → ``features.3`` at depth 2)."""
    return ".".join(path.split(".")[:depth])


def distinct_kinds(rows: Iterable[LayerCost]) -> tuple[str, ...]:
    """The kinds of ``rows``, each once, in order of first appearance."""
    return tuple(dict.fromkeys(row.kind for row in rows))


def _summed(path: str, rows: list[LayerCost]) -> LayerCost:
    """``rows`` as the one row of their container at ``path``: costs added, the first input
    and the last output; a "block" without a kernel when it sums several."""
    total = replace(rows[0], path=path)
    for row in rows[1:]:
        total = _plus(total, row)
        if row.out_shape.elements:  # a container's output is its last row's
            total = replace(total, out_shape=row.out_shape)
    return total if len(rows) == 1 else replace(total, op="block", kernel=())


def _plus(group: LayerCost, row: LayerCost) -> LayerCost:
    """``group`` with ``row``'s parameters, buffers, MACs and FLOPs added."""
    flops = dict(group.flops_by_category)
    for cat, value in row.flops_by_category.items():
        flops[cat] = flops.get(cat, 0) + value
    return replace(
        group,
        weight_params=group.weight_params + row.weight_params,
        bias_params=group.bias_params + row.bias_params,
        norm_params=group.norm_params + row.norm_params,
        buffers=group.buffers + row.buffers,
        macs=group.macs + row.macs,
        flops_by_category=frozen(flops),
        live=max(group.live, row.live),
    )


@dataclass(frozen=True)
class Difference:
    """One row where two profiles of the same model disagree."""

    path: str
    metric: str  # "params", "macs" or "row" (present on one side only)
    left: int | None
    right: int | None


def differences(left: Profile, right: Profile) -> list[Difference]:
    """Row-by-row disagreements in params and MACs, in the left profile's order, then rows only
    the right one has."""
    right_rows = {r.path: r for r in right.layers}
    out: list[Difference] = []
    for row in left.layers:
        other = right_rows.pop(row.path, None)
        if other is None:
            out.append(Difference(row.path, "row", row.macs, None))
            continue
        for metric in ("params", "macs"):
            a, b = getattr(row, metric), getattr(other, metric)
            if a != b:
                out.append(Difference(row.path, metric, a, b))
    for path, row in right_rows.items():
        if row.params or row.macs:
            out.append(Difference(path, "row", None, row.macs))
    if left.extra_params != right.extra_params:
        out.append(Difference("(outside any row)", "params", left.extra_params, right.extra_params))
    return out


def unseen_rows(walk: Profile, count: Profile) -> tuple[str, ...]:
    """The rows of the default ``count`` whose MACs the formula ``walk`` cannot see (work in
    ``(root)``'s or a block's own forward, no module's formula), when the walk's MACs fall short
    of the count's; a module the walk already names as having no formula is not repeated."""
    if walk.macs >= count.macs:
        return ()
    held = {r.path for r in walk.layers} | {u.rsplit(" (", 1)[0] for u in walk.unsupported}
    return tuple(r.path for r in count.layers if r.macs and r.path not in held)


@dataclass(frozen=True)
class FlopGap:
    """FLOPs of one category that two profiles of the same model count differently in one
    row (per image); ``held``: the left profile has the row."""

    path: str
    category: str  # one of FLOP_CATEGORIES
    left: int
    right: int
    held: bool


def flop_gaps(left: Profile, right: Profile) -> tuple[FlopGap, ...]:
    """The rows whose FLOPs differ, by category: in the right profile's order, then rows
    only the left one has."""
    mine = {r.path: r for r in left.layers}
    out: list[FlopGap] = []
    for row in right.layers:
        other = mine.pop(row.path, None)
        theirs = {} if other is None else other.flops_by_category
        out += _gaps(row.path, theirs, row.flops_by_category, held=other is not None)
    for path, row in mine.items():
        out += _gaps(path, row.flops_by_category, {}, held=True)
    return tuple(out)


def _gaps(
    path: str, left: Mapping[str, int], right: Mapping[str, int], held: bool
) -> list[FlopGap]:
    categories = dict.fromkeys([*FLOP_CATEGORIES, *left, *right])
    return [
        FlopGap(path, cat, left.get(cat, 0), right.get(cat, 0), held)
        for cat in categories
        if left.get(cat, 0) != right.get(cat, 0)
    ]


@dataclass(frozen=True)
class CrossCheck:
    """The same model counted both ways, and where they differ (params and MACs, by row)."""

    analytic: Profile
    empirical: Profile
    differences: tuple[Difference, ...]

    @classmethod
    def of(cls, analytic: Profile, empirical: Profile) -> CrossCheck:
        """The check, the formula side marked with the rows of the count it cannot see."""
        unseen = unseen_rows(analytic, empirical)
        if unseen:
            analytic = replace(analytic, unseen=(*analytic.unseen, *unseen))
        return cls(analytic, empirical, tuple(differences(analytic, empirical)))

    @property
    def walked(self) -> bool:
        """The formula side walked an outside model's modules (a spec's is its own count)."""
        return bool(self.analytic.inputs)

    @property
    def flop_gaps(self) -> tuple[FlopGap, ...]:
        """The rows whose FLOPs differ, by category, formula side against empirical."""
        return flop_gaps(self.analytic, self.empirical)

    @property
    def equal(self) -> bool:
        """Params and MACs equal, analytic against empirical."""
        return (
            self.analytic.params == self.empirical.params
            and self.analytic.macs == self.empirical.macs
        )

    @property
    def agree(self) -> bool:
        """Params and MACs equal and the empirical count complete: an op it could not cost may
        hold any amount, so both sides missing the same op is no agreement."""
        return self.equal and self.empirical.complete

    @property
    def complete(self) -> bool:
        """Both sides cost every op (or leave it deliberately free) and hold every parameter."""
        return self.analytic.complete and self.empirical.complete

    @property
    def not_costed(self) -> dict[str, tuple[str, ...]]:
        """What each side could not cost, by name: the formula side's modules with no formula
        and rows it cannot see, the empirical side's unsupported ops with their modules."""
        return {
            "analytic": (*self.analytic.unsupported, *self.analytic.unseen),
            "empirical": self.empirical.unsupported,
        }
