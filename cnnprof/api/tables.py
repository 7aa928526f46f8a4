"""The papers' comparison tables as use cases: model against model (`compare`), standard against
depthwise-separable convolution (`separable`), and grids of width / resolution / depth /
compound multipliers (`sweep_settings`, `official_for_phi`, `mark`). Nothing here prints."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from cnnprof.analytic.roofline import estimate
from cnnprof.api.count import training
from cnnprof.api.kinds import Source
from cnnprof.api.latency import named_profile, predicted_for
from cnnprof.api.request import DEFAULT_TIMEOUT, Request, request
from cnnprof.api.sources import resolve
from cnnprof.arch.reference import MULTIPLIER_KEYS, is_outside
from cnnprof.arch.registry import lookup
from cnnprof.errors import CnnprofError, OptionError, did_you_mean
from cnnprof.results.device import DeviceProfile
from cnnprof.results.interleaved import Interleaved
from cnnprof.results.metrics import (
    PARETO_COSTS,
    PREDICTED,
    Comparison,
    pareto_flags,
    ranked_on,
    value,
)
from cnnprof.results.profile import LayerCost, Profile
from cnnprof.results.tables import (
    MAX_SWEEP_POINTS,
    TWINS,
    Column,
    SeparableReport,
    SeparableRow,
    Sweep,
    SweepPoint,
)
from cnnprof.results.timing import Timing

# Times the requests' models, all together (interleaved), one timing per request.
Measure = Callable[[Sequence[Request]], Sequence[Timing]]
# Times the requests' models in one run, interleaved round by round (see `measure_together`).
Interleave = Callable[[Sequence[Request]], Interleaved]
# A swept axis: its values, or their text ("1,0.75,0.5"; a whole-number range "0..7").
Axis = str | Sequence[float] | None


def column(
    model: Request | Source, timing: Timing | None = None, device: DeviceProfile | None = None
) -> Column:
    """A model's column (a request, or its source already resolved): counted, with ``timing``
    when measured, and predicted for ``device`` when given (no torch for a spec)."""
    source = resolve(model) if isinstance(model, Request) else model
    request = source.request
    profile = source.profile()
    cost = training(request, profile) if request.train else None
    predicted = None if device is None else predicted_for(profile, device, source=source)
    return Column(request.label, profile, source.published, timing, cost, predicted)


# --- compare ----------------------------------------------------------------------------------


def compare(
    models: Sequence[Any],
    *,
    baseline: str | None = None,
    batch: int = 1,
    device_profile: str | None = None,
    input: tuple[tuple[int, ...], ...] | None = None,
    args: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    measure: Measure | None = None,
    pareto: bool = False,
    pareto_by: str | None = None,
    partial: bool = False,
) -> Comparison:
    """The models side by side, ratios against ``baseline`` (default: the first). ``input``,
    ``args`` and ``timeout`` go to the outside models among them; ``measure`` times them all,
    together; ``device_profile`` (a saved profile's file or a shipped name) adds their predicted
    latency. ``pareto`` (or a ``pareto_by`` cost) marks the models on the frontier of top-1
    against that cost (default: the one `sweep` takes, `ranked_on`). With ``partial``, a model
    that fails is named in ``failed`` and the others kept (no ratios when the baseline failed)."""
    cost = pareto_cost(pareto_by, measure is not None, device_profile is not None)
    outside = _outside_options(models, input=input, args=args, timeout=timeout)
    requests = [request(m, batch=batch, **(outside if is_outside(m) else {})) for m in models]
    if len(requests) < 2:
        raise OptionError("compare needs at least two models")
    labels = [r.label for r in requests]
    if baseline is not None and baseline not in labels:
        raise OptionError(f"--baseline {baseline}: not one of the models ({', '.join(labels)})")
    index = 0 if baseline is None else labels.index(baseline)
    device = _device(device_profile, requests[0].dtype)
    counted, failed = _counted(requests, device, partial)
    timed, late = _timed(counted, requests, measure, partial)
    columns = [c for c in timed if c is not None]
    kept = None if timed[index] is None else sum(c is not None for c in timed[:index])
    marked = cost or (ranked_on(columns) if pareto else None)
    return Comparison(tuple(columns), kept, device, marked, MappingProxyType(failed | late))


def _outside_options(models: Sequence[Any], **given: Any) -> dict[str, Any]:
    """The options for the outside models among ``models`` (``input``, ``args``, ``timeout``),
    refused when none is named: they would do nothing."""
    if any(is_outside(m) for m in models):
        return given
    if given["input"] or given["args"]:
        raise OptionError(
            "--input/--arg: they are for outside models (torchvision:NAME, pkg.mod:make); "
            "none is named here"
        )
    if given["timeout"] != DEFAULT_TIMEOUT:
        raise OptionError(
            f"--timeout {given['timeout']:g}: it bounds an outside model's own code (import, "
            "factory, forward); none is named here (a spec is counted by cnnprof alone)"
        )
    return {}


def _counted(
    requests: Sequence[Request], device: DeviceProfile | None, partial: bool
) -> tuple[list[Column | None], dict[str, str]]:
    """Every request's `column`, in order, each request resolved first (its bad options
    refused before any model runs); with ``partial``, a `CnnprofError` raised while one model
    is counted is that model's failure (None in its place, its message under its reference),
    else it stops them all. The predictions for ``device`` come after, outside: a damaged
    profile is the command's failure, not one model's."""
    sources = [resolve(req) for req in requests]
    done: list[Column | None] = []
    failed: dict[str, str] = {}
    for req, source in zip(requests, sources, strict=True):
        try:
            done.append(column(source))
        except CnnprofError as exc:
            if not partial:
                raise
            done.append(None)
            failed[req.label] = _naming(req, exc)
    if device is not None:
        done = [c and _predicted(c, s, device) for c, s in zip(done, sources, strict=True)]
    return done, failed


def _predicted(counted: Column, source: Source, device: DeviceProfile) -> Column:
    """``counted`` with its latency predicted for ``device``."""
    prediction = predicted_for(counted.profile, device, source=source)
    return replace(counted, prediction=prediction)


def _naming(req: Request, exc: CnnprofError) -> str:
    """``exc``'s message naming the model it stopped by its reference (``mobilenet@res=160``):
    in place of the model's name where the message starts with it (a guest's failure does),
    else before the message."""
    message = str(exc)
    named = message.removeprefix(f"{req.name}:")
    return f"{req.label}:{named}" if named != message else f"{req.label}: {message}"


def _timed(
    counted: Sequence[Column | None],
    requests: Sequence[Request],
    measure: Measure | None,
    partial: bool,
) -> tuple[list[Column | None], dict[str, str]]:
    """The columns counted (None: failed), each with its time when ``measure`` times them, all
    together. With ``partial``, a `CnnprofError` that names one of the models (a guest's does)
    is that model's failure, and the others are measured again without it; any other (one that
    names no model, or a name several share: the points of a sweep) stops them all."""
    timed, failed = list(counted), {}
    while measure is not None and (kept := [i for i, c in enumerate(timed) if c is not None]):
        try:
            timings = measure([requests[i] for i in kept])
        except CnnprofError as exc:
            named = [i for i in kept if str(exc).startswith(f"{requests[i].name}:")]
            if not partial or len(named) != 1:
                raise
            timed[named[0]] = None
            failed[requests[named[0]].label] = _naming(requests[named[0]], exc)
            continue
        for i, timing in zip(kept, timings, strict=True):
            timed[i] = replace(counted[i], timing=timing)
        break
    return timed, failed


# What a latency cost of `--pareto-by` needs, to be known.
PARETO_NEEDS: Mapping[str, str] = MappingProxyType(
    {"latency_ms": "--latency", PREDICTED: "--device-profile"}
)


def pareto_cost(pareto_by: str | None, measured: bool, predicted: bool) -> str | None:
    """``pareto_by`` checked before anything is measured: one of `PARETO_COSTS`, a latency only
    where it is measured (``measured``) or predicted (``predicted``)."""
    if pareto_by is None:
        return None
    if pareto_by not in PARETO_COSTS:
        hint = did_you_mean(pareto_by, PARETO_COSTS)
        raise OptionError(
            f"--pareto-by {pareto_by}{hint}: expected one of {', '.join(PARETO_COSTS)}"
        )
    if not {"latency_ms": measured, PREDICTED: predicted}.get(pareto_by, True):
        raise OptionError(f"--pareto-by {pareto_by}: needs {PARETO_NEEDS[pareto_by]}")
    return pareto_by


def _device(reference: str | None, dtype: str) -> DeviceProfile | None:
    return None if reference is None else named_profile(reference, dtype)


# --- separable --------------------------------------------------------------------------------


def _kernel(row: LayerCost) -> int:
    return row.kernel[0] if row.kernel else 1


def separable_rows(profile: Profile) -> list[SeparableRow]:
    """Every k×k convolution (k > 1, groups 1) and every depthwise → 1×1 pair of a profile."""
    out = []
    rows = profile.layers
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


def separable(
    request: Request,
    *,
    measure: Interleave | None = None,
    measure_rows: Callable[[Request], Timing] | None = None,
    device_profile: str | None = None,
    partial: bool = False,
) -> SeparableReport:
    """The model as written with its per-convolution costs both ways, and its standard and
    separable twins where its source can be rewritten (why not, where it cannot); ``measure``
    times them all, interleaved; ``measure_rows`` times each alone, row by row;
    ``device_profile`` (a saved profile's file or a shipped name) predicts them, each row on
    the device's roofline too (its bound). With ``partial``, a twin that fails is named in
    ``failed`` and left out, as one not made (the model as written failing stops all)."""
    if request.train:
        raise OptionError(f"separable {request.label}: compares inference costs; leave train= out")
    source = resolve(request)
    twins, refused = {}, {}
    for name in TWINS[1:]:
        why = source.rewrite_refusal(name)
        if why is None:
            twins[name] = replace(request, transforms=(*request.transforms, name))
        else:
            refused[name] = why
    device = _device(device_profile, request.dtype)
    written = column(source, None, device)  # the twins are made from it: its failure stops all
    counted, failed = _counted(list(twins.values()), device, partial)
    made = {"written": written} | {n: c for n, c in zip(twins, counted, strict=True) if c}
    requests = {"written": request, **twins}
    measured = measure([requests[n] for n in made]) if measure else None
    timings = measured.timings if measured else [None] * len(made)
    columns = {n: replace(c, timing=t) for (n, c), t in zip(made.items(), timings, strict=True)}
    rooflines = {
        name: estimate(c.profile, device.peaks.roofs)
        for name, c in columns.items()
        if device is not None
    }
    per_row = {n: measure_rows(requests[n]) for n in made} if measure_rows else {}
    return SeparableReport(
        written=columns["written"],
        layers=tuple(separable_rows(written.profile)),
        standard=columns.get("standard"),
        separable=columns.get("separable"),
        refused=MappingProxyType(refused),
        device=device,
        rooflines=MappingProxyType(rooflines),
        interleaved=measured,
        per_row=MappingProxyType(per_row),
        failed=MappingProxyType(failed),
    )


# --- sweep ------------------------------------------------------------------------------------


def parse_list(
    text: str | None, kind: type, name: str, max_points: int = MAX_SWEEP_POINTS
) -> list[Any]:
    """``"1,0.75,0.5"`` or a whole-number range ``"0..7"``; more than ``max_points`` values are
    refused before any is made."""
    if text is None:
        return []
    try:
        if ".." in text:
            low, high = (int(v) for v in text.split(".."))
            if high < low:
                raise ValueError
            _bounded(high - low + 1, f"--{name} {text}", max_points)
            return [kind(v) for v in range(low, high + 1)]
        _bounded(text.count(",") + 1, f"--{name}", max_points)
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise OptionError(
            f"--{name} {text}: expected a list like 1,0.75,0.5 or a range like 0..7"
        ) from None


def _bounded(points: int, what: str, max_points: int) -> None:
    if points > max_points:
        raise OptionError(
            f"{what}: {points:,} points; a sweep takes at most {max_points:,} "
            "(--max-points raises the limit)"
        )


# The multipliers a sweep takes, in its axes' order, and the type of their values.
SWEPT = (("alpha", float), ("resolution", int), ("depth", float), ("phi", float))


def sweep_settings(
    alphas: Axis,
    resolutions: Axis,
    depths: Axis,
    phis: Axis,
    params: Mapping[str, Sequence[Any]] | None = None,
    max_points: int = MAX_SWEEP_POINTS,
) -> list[dict[str, Any]]:
    """Every combination of the values given (or their text: ``"1,0.75"``, ``"0..7"``), at
    most ``max_points`` of them (checked before any is made); ``params``: a generated family's
    design parameters (RegNet's wm, d, …), swept like the multipliers."""
    if max_points < 1:
        raise OptionError(f"--max-points {max_points}: expected at least 1")
    given = zip(SWEPT, (alphas, resolutions, depths, phis), strict=True)
    axes = [(name, _axis(v, kind, name, max_points)) for (name, kind), v in given]
    axes += [(name, list(values)) for name, values in (params or {}).items()]
    chosen = [(name, values) for name, values in axes if values]
    if not chosen:
        raise OptionError(
            "sweep needs at least one of --alpha, --resolution, --depth, --phi, --param"
        )
    _bounded(math.prod(len(v) for _, v in chosen), "the sweep's grid", max_points)
    names = [name for name, _ in chosen]
    return [
        dict(zip(names, combo, strict=True)) for combo in itertools.product(*(v for _, v in chosen))
    ]


def _axis(given: Axis, kind: type, name: str, max_points: int) -> list[Any]:
    """A swept axis's values as ``kind``, from their text or as given."""
    if given is None or isinstance(given, str):
        return parse_list(given, kind, name, max_points)
    return [kind(v) for v in given]


def official_for_phi(request: Request, phi: float) -> Column | None:
    """For ``efficientnet_b0 --phi i``: the official EfficientNet-B{i}, if the registry has it."""
    if not isinstance(request.model, str) or not float(phi).is_integer():
        return None
    entry = lookup(request.model)
    name = f"{entry.family.name}_b{int(phi)}"
    if name not in entry.family.variants or entry.variant.name != f"{entry.family.name}_b0":
        return None
    return column(Request(name))


MNAS_W = -0.07  # Tan et al. 2019, Eq. 2 (soft latency constraint)


def mnas_objective(top1: float, latency_ms: float, target_ms: float) -> float:
    """MnasNet's reward ACC(m) × [LAT(m) / T]^w with w = −0.07."""
    return top1 * (latency_ms / target_ms) ** MNAS_W


def frontier(columns: Sequence[Column], cost: str) -> list[bool]:
    """Pareto flags: cost against published top-1 among the configurations whose accuracy the
    paper prints; when it prints none, against params (capacity) for all of them."""
    benefit = "top1" if any(c.top1 is not None for c in columns) else "params"
    return [bool(flag) for flag in pareto_flags(columns, cost, benefit)]


def sweep_model(
    model: Any,
    settings: Sequence[dict[str, Any]],
    *,
    batch: int = 1,
    device_profile: str | None = None,
    target_ms: float | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    measure: Measure | None = None,
    pareto: bool = True,
    pareto_by: str | None = None,
    partial: bool = False,
) -> Sweep:
    """A model's `sweep` over ``settings`` (see `sweep_settings`), each point predicted for
    ``device_profile`` (a saved profile's file or a shipped name) when given; ``pareto_by``:
    the cost its Pareto flags take (default: `ranked_on`'s); ``timeout``: how long an outside
    model's own code may take; with ``partial``, a point that fails is named in ``failed``."""
    cost = pareto_cost(pareto_by, measure is not None, device_profile is not None)
    base = request(model, batch=batch, timeout=timeout)
    device = _device(device_profile, base.dtype)
    return sweep(
        base,
        settings,
        measure,
        target_ms,
        device,
        pareto=pareto,
        pareto_by=cost,
        partial=partial,
    )


def sweep(
    base: Request,
    settings: Sequence[dict[str, Any]],
    measure: Measure | None = None,
    target_ms: float | None = None,
    device: DeviceProfile | None = None,
    *,
    pareto: bool = True,
    pareto_by: str | None = None,
    partial: bool = False,
) -> Sweep:
    """One point per setting (``measure`` times them all, together, when given; each predicted
    for ``device`` when given), Pareto-marked on ``pareto_by``, else the latency `ranked_on`
    picks (else MACs); with ``target_ms``, ranked by MnasNet's objective on that latency.
    ``pareto``: the flags belong to the output. With ``partial``, a point that fails is named
    in ``failed`` and the others kept."""
    if target_ms is not None and not (math.isfinite(target_ms) and target_ms > 0):
        raise OptionError(f"--target-ms {target_ms:g}: expected a finite target > 0 ms")
    if target_ms is not None and measure is None and device is None:
        raise OptionError(
            "--target-ms needs a latency (--latency, or --device-profile to predict it) "
            "and a target > 0 ms"
        )
    requests = [_point(base, values) for values in settings]
    counted, failed = _counted(requests, device, partial)
    timed, late = _timed(counted, requests, measure, partial)
    points = []
    for values, column in zip(settings, timed, strict=True):
        if column is not None:
            official = official_for_phi(base, values["phi"]) if "phi" in values else None
            points.append(SweepPoint(column, MappingProxyType(values), official))
    latency = ranked_on([p.column for p in points])
    points = mark(points, latency, target_ms, pareto_by)
    if target_ms is not None:
        points.sort(key=lambda p: -(p.mnas_objective or float("-inf")))
    return Sweep(
        base.label,
        tuple(points),
        device,
        pareto,
        pareto_by or latency,
        MappingProxyType(failed | late),
    )


def _point(base: Request, values: Mapping[str, Any]) -> Request:
    """``base`` at one setting of the grid: its multipliers and design parameters."""
    scaling = {k: v for k, v in values.items() if k in MULTIPLIER_KEYS}
    design = {k: v for k, v in values.items() if k not in MULTIPLIER_KEYS}
    point = base.with_multipliers(**scaling)
    if design:
        point = replace(point, design=MappingProxyType({**point.design, **design}))
    return point


def mark(
    points: list[SweepPoint],
    cost: str,
    target_ms: float | None = None,
    pareto_by: str | None = None,
) -> list[SweepPoint]:
    """Pareto flags on ``pareto_by``, else ``cost`` (see `frontier`) and, with a latency target,
    MnasNet's objective on that latency (``cost``, in ms)."""
    flags = frontier([p.column for p in points], pareto_by or cost)
    out = []
    for point, flag in zip(points, flags, strict=True):
        objective = None
        latency_ms = value(point.column, cost)
        if target_ms and latency_ms is not None and point.column.top1 is not None:
            objective = mnas_objective(point.column.top1, latency_ms, target_ms)
        out.append(SweepPoint(point.column, point.settings, point.official, flag, objective))
    return out
