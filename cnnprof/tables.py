"""The papers' comparison tables as data: model against model, standard against depthwise-separable
convolution, and grids of width / resolution / depth / compound multipliers. Nothing here prints.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cnnprof import api
from cnnprof.errors import OptionError
from cnnprof.profile import LayerCost, Profile
from cnnprof.spec.model import Published

# The metrics a comparison or sweep reports, each read off a Profile; lower is cheaper.
METRICS: dict[str, Callable[[Profile], float]] = {
    "params": lambda p: p.params,
    "macs": lambda p: p.macs,
    "flops": lambda p: p.flops,
    "param_memory": lambda p: p.param_bytes,
    "activation_memory": lambda p: p.peak_activation_bytes,
}


@dataclass(frozen=True)
class Column:
    """One model of a comparison or one point of a sweep."""

    label: str
    profile: Profile
    published: Published | None = None  # the paper's figures for exactly this configuration
    timing: Any = None  # a latency Timing when measured
    training: Any = None  # a TrainingCost when the reference says train=…

    @property
    def top1(self) -> float | None:
        return self.published.top1 if self.published else None

    def value(self, metric: str) -> float | None:
        if metric == "top1":
            return self.top1
        if metric == "weight_params":
            return self.profile.params_by_kind["weights"]
        if metric in ("trainable_params", "backward_macs", "step_macs"):
            return None if self.training is None else getattr(self.training, metric)
        if metric.startswith("paper_"):
            return getattr(self.published, metric[len("paper_") :], None)
        if metric in ("latency_ms", "throughput"):
            if self.timing is None:
                return None
            return self.timing.median * 1e3 if metric == "latency_ms" else self.timing.throughput
        return METRICS[metric](self.profile)


def column(request: api.Request, timing: Any = None) -> Column:
    profile = api.profile_analytic(request)
    published = None
    if not api.is_outside(request.model) and not request.transforms:
        published = request.arch().published_figure()
    training = api.training(request, profile) if request.train else None
    return Column(request.label, profile, published, timing, training)


# --- compare ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    columns: tuple[Column, ...]
    baseline: int  # index of the column the ratios are taken against

    def ratio(self, metric: str, index: int) -> float | None:
        base = self.columns[self.baseline].value(metric)
        value = self.columns[index].value(metric)
        if base in (None, 0) or value is None:
            return None
        return value / base


def compare(columns: Sequence[Column], baseline: str | None = None) -> Comparison:
    if len(columns) < 2:
        raise OptionError("compare needs at least two models")
    index = 0
    if baseline is not None:
        labels = [c.label for c in columns]
        if baseline not in labels:
            raise OptionError(f"--baseline {baseline}: not one of the models ({', '.join(labels)})")
        index = labels.index(baseline)
    return Comparison(tuple(columns), index)


# --- separable --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeparableRow:
    """One convolution: its standard k×k cost and its depthwise-separable cost at the same shape."""

    path: str
    written: str  # "standard" or "separable": how the model has it
    c_in: int
    c_out: int
    k: int
    h: int
    w: int

    @property
    def standard_macs(self) -> int:
        return self.k * self.k * self.c_in * self.c_out * self.h * self.w

    @property
    def standard_params(self) -> int:
        return self.k * self.k * self.c_in * self.c_out

    @property
    def separable_macs(self) -> int:
        return (self.k * self.k * self.c_in + self.c_in * self.c_out) * self.h * self.w

    @property
    def separable_params(self) -> int:
        return self.k * self.k * self.c_in + self.c_in * self.c_out

    @property
    def ratio(self) -> float:
        return self.separable_macs / self.standard_macs

    @property
    def paper_ratio(self) -> float:
        """Howard et al. 2017, Sec. 3.1: 1/N + 1/D_K² (N output channels, D_K kernel size)."""
        return 1 / self.c_out + 1 / (self.k * self.k)


def _kernel(row: LayerCost) -> int:
    return int(row.kernel.split("×")[0]) if row.kernel else 1


def separable_rows(profile: Profile) -> list[SeparableRow]:
    """Every k×k convolution (k > 1, groups 1) and every depthwise → 1×1 pair of a profile."""
    out = []
    rows = profile.rows
    for i, row in enumerate(rows):
        k = _kernel(row)
        if row.op == "conv" and k > 1:
            y = row.out_shape
            out.append(SeparableRow(row.path, "standard", row.in_shape.c, y.c, k, y.h, y.w))
        elif row.op == "dwconv" and i + 1 < len(rows):
            nxt = rows[i + 1]
            if nxt.op == "conv" and _kernel(nxt) == 1 and nxt.in_shape == row.out_shape:
                y = nxt.out_shape
                path = row.path.rsplit(".", 1)[0] if row.path.endswith(".dw") else row.path
                out.append(SeparableRow(path, "separable", row.in_shape.c, y.c, k, y.h, y.w))
    return out


@dataclass(frozen=True)
class SeparableReport:
    written: Column
    rows: tuple[SeparableRow, ...]
    standard: Column | None  # the spec rewritten with full convolutions (spec models only)
    separable: Column | None  # the spec rewritten with depthwise-separable convolutions


def separable(request: api.Request) -> SeparableReport:
    written = column(request)
    twins: list[Column | None] = [None, None]
    if not api.is_outside(request.model):
        for i, name in enumerate(("standard", "separable")):
            twin = api.Request(**{**vars(request), "transforms": (*request.transforms, name)})
            twins[i] = column(twin)
    return SeparableReport(written, tuple(separable_rows(written.profile)), *twins)


# --- sweep ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPoint:
    column: Column
    settings: dict[str, Any]  # the swept values, e.g. {"alpha": 0.5, "resolution": 160}
    official: Column | None = None  # EfficientNet-B{φ} next to φ
    pareto: bool = False
    objective: float | None = None  # MnasNet's ACC × (LAT/T)^w, when measured


def parse_list(text: str | None, kind: type, name: str) -> list[Any]:
    """``"1,0.75,0.5"`` or a whole-number range ``"0..7"``."""
    if text is None:
        return []
    try:
        if ".." in text:
            low, high = (int(v) for v in text.split(".."))
            if high < low:
                raise ValueError
            return [kind(v) for v in range(low, high + 1)]
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise OptionError(
            f"--{name} {text}: expected a list like 1,0.75,0.5 or a range like 0..7"
        ) from None


def sweep_settings(
    alphas: list[float], resolutions: list[int], depths: list[float], phis: list[float]
) -> list[dict[str, Any]]:
    axes = [("alpha", alphas), ("resolution", resolutions), ("depth", depths), ("phi", phis)]
    given = [(name, values) for name, values in axes if values]
    if not given:
        raise OptionError("sweep needs at least one of --alpha, --resolution, --depth, --phi")
    names = [name for name, _ in given]
    return [
        dict(zip(names, combo, strict=True)) for combo in itertools.product(*(v for _, v in given))
    ]


def official_for_phi(request: api.Request, phi: float) -> Column | None:
    """For ``efficientnet_b0 --phi i``: the official EfficientNet-B{i}, if the registry has it."""
    if not isinstance(request.model, str) or not float(phi).is_integer():
        return None
    entry = api.entry(request.model)
    name = f"{entry.family.name}_b{int(phi)}"
    if name not in entry.family.variants or entry.variant.name != f"{entry.family.name}_b0":
        return None
    return column(api.Request(name))


def pareto_front(points: Sequence[tuple[float, float]]) -> list[bool]:
    """Non-dominated points when the first coordinate is a cost (lower is better) and the second
    a benefit (higher is better)."""
    flags = []
    for i, (cost, gain) in enumerate(points):
        dominated = any(
            c <= cost and g >= gain and (c < cost or g > gain)
            for j, (c, g) in enumerate(points)
            if j != i
        )
        flags.append(not dominated)
    return flags


MNAS_W = -0.07  # Tan et al. 2019, Eq. 2 (soft latency constraint)


def mnas_objective(top1: float, latency_ms: float, target_ms: float) -> float:
    """MnasNet's reward ACC(m) × [LAT(m) / T]^w with w = −0.07."""
    return top1 * (latency_ms / target_ms) ** MNAS_W


def frontier(columns: Sequence[Column], cost: str) -> list[bool]:
    """Pareto flags: cost against published top-1 among the configurations whose accuracy the
    paper prints; when it prints none, against params (capacity) for all of them."""
    known = [i for i, c in enumerate(columns) if c.top1 is not None]
    benefit = "top1" if known else "params"
    chosen = known or list(range(len(columns)))
    pairs = [(columns[i].value(cost) or 0.0, columns[i].value(benefit) or 0.0) for i in chosen]
    flags = [False] * len(columns)
    for i, flag in zip(chosen, pareto_front(pairs), strict=True):
        flags[i] = flag
    return flags


def mark(points: list[SweepPoint], cost: str, target_ms: float | None = None) -> list[SweepPoint]:
    """Pareto flags (see `frontier`) and, with a latency target, MnasNet's objective."""
    flags = frontier([p.column for p in points], cost)
    out = []
    for point, flag in zip(points, flags, strict=True):
        objective = None
        timing = point.column.timing
        if target_ms and timing is not None and point.column.top1 is not None:
            objective = mnas_objective(point.column.top1, timing.median * 1e3, target_ms)
        out.append(SweepPoint(point.column, point.settings, point.official, flag, objective))
    return out
