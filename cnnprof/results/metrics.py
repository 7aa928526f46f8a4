"""The one metric vocabulary: every figure compare, sweep, check and budgets read off a model.

A row is a key (the name in JSON and CSV), a title (the header people read), a unit (which picks
the formatter in `report.units`), how to read it off a `Column`, and whether lower is better.
One name per quantity: a profile's JSON, compare, sweep, snapshots and checks all say
`param_bytes` and `peak_activation_bytes`; budget files name their limits their own way
(`max_memory`, `max_param_memory`), mapped onto these keys here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from cnnprof.results.device import DeviceProfile
from cnnprof.results.shown import Shown
from cnnprof.results.tables import Column, Sweep


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    unit: str  # "count", "bytes", "ms", "images/s", "%", "fraction"
    get: Callable[[Column], float | None]
    lower_is_better: bool = True
    compare: bool = False  # a row of `cnnprof compare`
    sweep: bool = False  # a column of `cnnprof sweep`
    short: str = ""  # a narrow column's header (the title when empty)
    ratio: bool = True  # compare shows its ratio to the baseline (not for a spread's p10, p90, CV)

    @property
    def header(self) -> str:
        return self.short or self.title


def _training(name: str) -> Callable[[Column], float | None]:
    return lambda c: None if c.training is None else getattr(c.training, name)


def _paper(name: str) -> Callable[[Column], float | None]:
    return lambda c: None if c.published is None else getattr(c.published, name)


def _profile(name: str, kind: str) -> Callable[[Column], float | None]:
    return lambda c: getattr(c.profile, name)[kind]


def _latency_ms(c: Column) -> float | None:
    return None if c.timing is None else c.timing.median * 1e3


def _timing(
    name: str, scale: float = 1.0, digits: int | None = None
) -> Callable[[Column], float | None]:
    """A figure of the column's latency, scaled (and rounded to ``digits`` when given)."""

    def get(c: Column) -> float | None:
        if c.timing is None:
            return None
        number = getattr(c.timing, name) * scale
        return number if digits is None else round(number, digits)

    return get


def _predicted_ms(c: Column) -> float | None:
    """To the nanosecond: a prediction is deterministic, and a figure recorded in a baseline
    must read back as the figure recounted."""
    return None if c.prediction is None else round(c.prediction.seconds * 1e3, 6)


def _throughput(c: Column) -> float | None:
    return None if c.timing is None else c.timing.throughput


PREDICTED = "predicted_ms"  # latency predicted for a device profile: deterministic, no timing

_ROWS = (
    Metric("params", "params", "count", lambda c: c.profile.params, compare=True, sweep=True),
    Metric("weight_params", "weights", "count", _profile("params_by_kind", "weights"), sweep=True),
    Metric("macs", "MACs", "count", lambda c: c.profile.macs, compare=True, sweep=True),
    Metric("flops", "FLOPs", "count", lambda c: c.profile.flops, compare=True, sweep=True),
    Metric(
        "param_bytes",
        "parameter memory",
        "bytes",
        lambda c: c.profile.param_bytes,
        compare=True,
        sweep=True,
        short="param mem",
    ),
    Metric(
        "peak_activation_bytes",
        "peak activations",
        "bytes",
        lambda c: c.profile.peak_activation_bytes,
        compare=True,
        sweep=True,
        short="peak act",
    ),
    Metric(
        "latency_ms", "latency median (ms)", "ms", _latency_ms, compare=True, sweep=True, short="ms"
    ),
    Metric(
        "latency_p10_ms",
        "latency p10 (ms)",
        "ms",
        _timing("p10", 1e3),
        compare=True,
        sweep=True,
        short="p10 ms",
        ratio=False,
    ),
    Metric(
        "latency_p90_ms",
        "latency p90 (ms)",
        "ms",
        _timing("p90", 1e3),
        compare=True,
        sweep=True,
        short="p90 ms",
        ratio=False,
    ),
    Metric(
        "latency_cv",
        "latency CV (%)",
        "fraction",
        _timing("cv", digits=3),
        compare=True,
        sweep=True,
        short="CV %",
        ratio=False,
    ),
    Metric(
        PREDICTED,
        "predicted ms (kernel models)",
        "ms",
        _predicted_ms,
        compare=True,
        sweep=True,
        short="pred. ms",
    ),
    Metric(
        "throughput",
        "throughput (img/s)",
        "images/s",
        _throughput,
        lower_is_better=False,
        compare=True,
        sweep=True,
        short="img/s",
    ),
    Metric(
        "trainable_params", "trainable params", "count", _training("trainable_params"), compare=True
    ),
    Metric("backward_macs", "backward MACs", "count", _training("backward_macs"), compare=True),
    Metric("step_macs", "training step MACs", "count", _training("step_macs"), compare=True),
    Metric("paper_macs", "paper MACs", "paper", _paper("macs"), sweep=True),
    Metric("paper_params", "paper params", "paper", _paper("params"), sweep=True),
    Metric(
        "top1",
        "published top-1 (%)",
        "%",
        lambda c: c.top1,
        lower_is_better=False,
        compare=True,
        sweep=True,
        short="top-1",
    ),
)
METRICS: Mapping[str, Metric] = MappingProxyType({m.key: m for m in _ROWS})

# A baseline's `counts` (cnnprof.snapshot/1) name each metric as below: the metric keys
# themselves, as the baselines people already keep do.
BASELINE_COUNTS: Mapping[str, str] = MappingProxyType(
    {
        "params": "params",
        "macs": "macs",
        "flops": "flops",
        "param_bytes": "param_bytes",
        "peak_activation_bytes": "peak_activation_bytes",
        PREDICTED: PREDICTED,  # recorded with the device profile it was predicted for
    }
)
# A budget entry's limits → the metric each bounds.
BUDGET_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "max_params": "params",
        "max_macs": "macs",
        "max_flops": "flops",
        "max_memory": "peak_activation_bytes",
        "max_param_memory": "param_bytes",
        "max_latency_ms": "latency_ms",
        "max_predicted_ms": PREDICTED,  # for the entry's (or the file's) device_profile
        "max_latency_ratio": "latency_ratio",  # over a reference model measured with it
    }
)


def ranked_on(columns: Sequence[Column]) -> str:
    """The metric a sweep's Pareto flags and MnasNet's objective take: latency predicted for a
    device profile where the columns were predicted (the device a user targets; a latency also
    measured here is shown beside it), else latency measured, else MACs."""
    if any(c.prediction is not None for c in columns):
        return PREDICTED
    return "latency_ms" if any(c.timing is not None for c in columns) else "macs"


def frontier_cost(sweep: Sweep) -> str:
    """The cost a sweep's Pareto flags take against top-1: the one it was marked on (`--pareto-by`),
    else `ranked_on`'s."""
    return sweep.ranked_on or ranked_on(sweep.columns)


def value(column: Column, key: str) -> float | None:
    """The figure metric ``key`` reads off ``column`` (None: not known for it)."""
    return METRICS[key].get(column)


# The costs a Pareto frontier may take (`--pareto-by`), each against published top-1.
PARETO_COSTS = ("macs", "params", "flops", "latency_ms", PREDICTED)


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


def pareto_flags(columns: Sequence[Column], cost: str, benefit: str) -> list[bool | None]:
    """Whether each column is non-dominated on ``cost`` against ``benefit`` among the columns
    where both are known; None for the others (not ranked). A cost where higher is better
    (throughput) counts the other way round."""
    sign = 1.0 if METRICS[cost].lower_is_better else -1.0
    pairs = [(value(c, cost), value(c, benefit)) for c in columns]
    known = [i for i, (x, y) in enumerate(pairs) if x is not None and y is not None]
    front = pareto_front([(sign * (pairs[i][0] or 0.0), pairs[i][1] or 0.0) for i in known])
    flags: list[bool | None] = [None] * len(columns)
    for i, flag in zip(known, front, strict=True):
        flags[i] = flag
    return flags


@dataclass(frozen=True)
class Comparison(Shown):
    """Models side by side; ratios against one of them."""

    columns: tuple[Column, ...]
    baseline: int | None  # index of the column the ratios are taken against; None: it failed
    device: DeviceProfile | None = None  # what the columns' predicted latency is for
    pareto_by: str | None = None  # the cost its Pareto flags take (compare --pareto); None: none
    # model → why it failed (its own code, its count): left out of the columns, named apart
    failed: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def indistinct(self) -> list[tuple[str, str]]:
        """Pairs of measured models whose p10–p90 latency intervals overlap: their medians must
        not be read as a ranking."""
        timed = [c for c in self.columns if c.timing is not None]
        return [
            (a.label, b.label)
            for i, a in enumerate(timed)
            for b in timed[i + 1 :]
            if a.timing is not None
            and b.timing is not None
            and not a.timing.distinct_from(b.timing)
        ]

    def pareto(self) -> list[bool | None]:
        """Each model non-dominated on `pareto_by` against published top-1 (sweep's frontier);
        None where it is not ranked (no top-1) or no frontier was asked for."""
        if self.pareto_by is None:
            return [None] * len(self.columns)
        return pareto_flags(self.columns, self.pareto_by, "top1")

    def ratio(self, key: str, index: int) -> float | None:
        """Column ``index``'s ``key`` over the baseline's (None: unknown, or no baseline)."""
        if self.baseline is None:
            return None
        base = value(self.columns[self.baseline], key)
        mine = value(self.columns[index], key)
        if base in (None, 0) or mine is None:
            return None
        return mine / base
