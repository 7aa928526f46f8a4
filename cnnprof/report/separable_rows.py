"""`cnnprof separable` row by row: every convolution's time both ways (measured, each twin alone
with per-row hooks; predicted, with each row's roofline bound) and each twin's share of MACs,
params and time per op kind (the MobileNet paper's Table 2). A column a table shows only where
some row knows it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cnnprof.report.profile import kind_counts
from cnnprof.report.units import ms_short
from cnnprof.results.tables import SeparableReport, SeparableRow

# Where a row's time comes from: measured (each twin alone, per-row hooks) or predicted.
SOURCES = ("measured", "predicted")

# A table's column: its header, the record's key, how a cell shows the record.
ColumnSpec = tuple[str, str, Callable[[Mapping[str, Any]], str]]


def ms(value: float | None) -> str:
    return "–" if value is None else ms_short(value / 1e3)


def times(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:.2f}×"


def pct(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.2f} %"


def cell(key: str, show: Callable[[Any], str]) -> Callable[[Mapping[str, Any]], str]:
    """A cell showing ``record[key]`` (a dash where it is not known)."""
    return lambda record: "–" if record.get(key) is None else show(record[key])


def shown(
    records: Sequence[Mapping[str, Any]], columns: Sequence[ColumnSpec]
) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the ``columns`` some record knows."""
    kept = [c for c in columns if any(r.get(c[1]) is not None for r in records)]
    return [c[0] for c in kept], [[show(r) for _, _, show in kept] for r in records]


def row_seconds(report: SeparableReport, name: str, source: str) -> dict[str, float] | None:
    """Twin ``name``'s seconds per row from ``source`` (one of `SOURCES`; None: not known)."""
    if source == "measured":
        timing = report.per_row.get(name)
        return timing.by_path() if timing is not None and timing.layers else None
    column = dict(report.twins()).get(name)
    prediction = None if column is None else column.prediction
    return None if prediction is None else prediction.by_path()


# --- every convolution's time, both ways -----------------------------------------------------


def form_time(
    report: SeparableReport, row: SeparableRow, form: str, source: str
) -> tuple[float, tuple[str, ...]] | None:
    """``row`` in ``form`` (``standard``: one k×k convolution; ``separable``: its depthwise and
    pointwise rows), read off the twin of that form, else the model as written where it has
    that form: seconds from ``source``, and each row's roofline bound where predicted (None:
    not known)."""
    paths = (row.path,) if form == "standard" else (f"{row.path}.dw", f"{row.path}.pw")
    for name in (form, "written"):
        seconds = row_seconds(report, name, source)
        if seconds is None or not all(p in seconds for p in paths):
            continue
        roofline = report.rooflines.get(name)
        rows = roofline.by_path() if roofline is not None and source == "predicted" else {}
        bounds = tuple(rows[p].bound for p in paths) if all(p in rows for p in paths) else ()
        return sum(seconds[p] for p in paths), bounds
    return None


def layer_times(report: SeparableReport, row: SeparableRow) -> dict[str, Any]:
    """A convolution's time both ways, from each source known (measured, predicted), how many
    times faster the separable form runs, and (predicted) each form's roofline bound."""
    out: dict[str, Any] = {}
    for source in SOURCES:
        if not any(row_seconds(report, name, source) for name, _ in report.twins()):
            continue
        standard = form_time(report, row, "standard", source)
        separable = form_time(report, row, "separable", source)
        out[f"standard_{source}_ms"] = standard[0] * 1e3 if standard else None
        out[f"separable_{source}_ms"] = separable[0] * 1e3 if separable else None
        both = standard and separable and separable[0]
        out[f"{source}_faster_ratio"] = standard[0] / separable[0] if both else None
        if source == "predicted":
            out["standard_bound"] = standard[1][0] if standard and standard[1] else None
            out["depthwise_bound"] = separable[1][0] if separable and separable[1] else None
            out["pointwise_bound"] = separable[1][1] if separable and separable[1] else None
    return out


# fmt: off
LAYER_TIME_COLUMNS: tuple[ColumnSpec, ...] = (
    ("layer", "path", cell("path", str)),
    ("standard ms", "standard_measured_ms", cell("standard_measured_ms", ms)),
    ("separable ms", "separable_measured_ms", cell("separable_measured_ms", ms)),
    ("faster", "measured_faster_ratio", cell("measured_faster_ratio", times)),
    ("standard pred. ms", "standard_predicted_ms", cell("standard_predicted_ms", ms)),
    ("bound", "standard_bound", cell("standard_bound", str)),
    ("separable pred. ms", "separable_predicted_ms", cell("separable_predicted_ms", ms)),
    ("dw bound", "depthwise_bound", cell("depthwise_bound", str)),
    ("pw bound", "pointwise_bound", cell("pointwise_bound", str)),
    ("fewer MACs", "macs_fewer_ratio", cell("macs_fewer_ratio", times)),
    ("faster pred.", "predicted_faster_ratio", cell("predicted_faster_ratio", times)),
)
# fmt: on


def layer_time_table(report: SeparableReport) -> tuple[list[str], list[list[str]]]:
    """Every convolution's time both ways, the columns known."""
    records = [
        {"path": r.path, **layer_times(report, r), "macs_fewer_ratio": 1 / r.ratio}
        for r in report.layers
    ]
    return shown(records, LAYER_TIME_COLUMNS)


# --- by op: the MobileNet paper's Table 2, per twin ------------------------------------------


def by_op_records(report: SeparableReport, name: str) -> list[dict[str, Any]]:
    """Per op kind of twin ``name``'s rows: how many, their MACs (at the batch) and params,
    each a share of the model's; where per-row time is known, their time and its share of the
    per-row sum, measured and predicted. The paper's params are conv and fc weights only
    (`weight_share` reproduces its Table 2)."""
    profile = dict(report.twins())[name].profile
    counts, batch = kind_counts(profile), profile.batch
    weights = profile.params_by_kind["weights"]
    out = [
        {
            "op_kind": kind,
            "rows": counts[kind],
            "macs": r.macs * batch,
            "weight_params": r.weight_params,
            "params": r.params,
            "mac_share": _share(r.macs * batch, profile.macs),
            "weight_share": _share(r.weight_params, weights),
            "param_share": _share(r.params, profile.params),
        }
        for kind, r in profile.by_kind().items()
    ]
    for source in SOURCES:
        seconds = row_seconds(report, name, source)
        if seconds is None:
            continue
        per_kind: dict[str, float] = {}
        for row in profile.layers:
            per_kind[row.kind] = per_kind.get(row.kind, 0.0) + seconds.get(row.path, 0.0)
        for record in out:
            kind_s = per_kind[record["op_kind"]]
            record[f"{source}_ms"] = kind_s * 1e3
            record[f"{source}_share"] = _share(kind_s, sum(per_kind.values()))
    return out


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


# fmt: off
BY_OP_COLUMNS: tuple[ColumnSpec, ...] = (
    ("op kind", "op_kind", cell("op_kind", str)),
    ("rows", "rows", cell("rows", str)),
    ("% MACs", "mac_share", cell("mac_share", pct)),
    ("% weights", "weight_share", cell("weight_share", pct)),
    ("% params", "param_share", cell("param_share", pct)),
    ("ms", "measured_ms", cell("measured_ms", ms)),
    ("% time", "measured_share", cell("measured_share", pct)),
    ("pred. ms", "predicted_ms", cell("predicted_ms", ms)),
    ("% pred. time", "predicted_share", cell("predicted_share", pct)),
)
# fmt: on


def by_op_table(report: SeparableReport, name: str) -> tuple[list[str], list[list[str]]]:
    return shown(by_op_records(report, name), BY_OP_COLUMNS)
