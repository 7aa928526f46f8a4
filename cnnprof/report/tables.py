"""The comparison tables (compare, separable, sweep) as data: one (headers, rows) grid serves the
terminal, Markdown and CSV; JSON keeps the numbers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from cnnprof.report.units import UNIT_FORMATS, human
from cnnprof.results.device import DeviceProfile, roofline_note
from cnnprof.results.metrics import METRICS, PREDICTED, Comparison, ranked_on, value
from cnnprof.results.tables import Column, SeparableReport, SeparableRow, SweepPoint

COMPARE_KEYS = tuple(key for key, m in METRICS.items() if m.compare)
SWEEP_FIELDS = tuple(key for key, m in METRICS.items() if m.sweep)


def cell(key: str, number: float | None) -> str:
    """A metric's value as a table shows it; "–" when not known."""
    return "–" if number is None else UNIT_FORMATS[METRICS[key].unit](number)


def compare_grid(
    comparison: Comparison,
) -> tuple[list[str], list[list[str]], list[list[float | None]]]:
    """Rows are metrics, columns models; each cell ``value (×ratio)``. Also the raw ratios."""
    cols = comparison.columns
    headers = ["metric", *(c.label for c in cols)]
    rows, ratios = [], []
    for key in COMPARE_KEYS:
        values = [value(c, key) for c in cols]
        if all(v is None for v in values):
            continue
        cells, line = [METRICS[key].title], []
        for i, number in enumerate(values):
            ratio = comparison.ratio(key, i)
            line.append(ratio)
            if number is None or i == comparison.baseline or ratio is None:
                cells.append(cell(key, number))
            else:
                cells.append(f"{cell(key, number)} (×{ratio:.2f})")
        rows.append(cells)
        ratios.append(line)
    return headers, rows, ratios


def compare_dict(comparison: Comparison) -> dict[str, Any]:
    cols = comparison.columns
    return {
        "schema": "cnnprof.compare/1",
        "baseline": cols[comparison.baseline].label,
        "models": [
            {
                "model": c.label,
                **{key: value(c, key) for key in COMPARE_KEYS},
                "ratios": {key: comparison.ratio(key, i) for key in COMPARE_KEYS},
            }
            for i, c in enumerate(cols)
        ],
        "indistinct_latency": [list(pair) for pair in comparison.indistinct()],
        "device_profile": _device(comparison.device),
    }


def _device(device: DeviceProfile | None) -> dict[str, Any] | None:
    return None if device is None else device.record()


def prediction_notes(device: DeviceProfile | None, columns: Sequence[Column]) -> list[str]:
    """The sentences under a table with predicted latency: which device profile it is for, and
    each model whose prediction costs rows on the roofline."""
    if device is None:
        return []
    notes = [roofline_note(c.label, c.prediction) for c in columns]
    return [f"{PREDICTED}: {device.describe()}", *(n for n in notes if n)]


def compare_records(comparison: Comparison) -> list[dict[str, Any]]:
    """One CSV row per model: every metric as a number, then each ratio in its own column."""
    out = []
    for i, c in enumerate(comparison.columns):
        record: dict[str, Any] = {"model": c.label}
        record.update({key: value(c, key) for key in COMPARE_KEYS})
        record.update({f"{key}_ratio": comparison.ratio(key, i) for key in COMPARE_KEYS})
        record["device_profile"] = None if comparison.device is None else comparison.device.name
        out.append(record)
    return out


def indistinct_note(comparison: Comparison) -> str | None:
    """The sentence under a latency comparison whose intervals overlap."""
    pairs = comparison.indistinct()
    if not pairs:
        return None
    named = "; ".join(f"{a} and {b}" for a, b in pairs)
    return (f"latency cannot tell apart {named}: their p10–p90 ranges overlap, so the medians "
            "do not rank them")  # fmt: skip


SEPARABLE_HEADERS = (
    "layer", "as written", "C_in→C_out", "k", "output", "standard MACs", "separable MACs",
    "standard params", "separable params", "ratio", "1/N + 1/k²",
)  # fmt: skip


def separable_grid(rows: Sequence[SeparableRow]) -> list[list[str]]:
    return [
        [r.path, r.written, f"{r.c_in}→{r.c_out}", f"{r.k}×{r.k}", f"{r.h}×{r.w}",
         human(r.standard_macs), human(r.separable_macs), human(r.standard_params),
         human(r.separable_params), f"{r.ratio:.4f}", f"{r.paper_ratio:.4f}"]
        for r in rows
    ]  # fmt: skip


def separable_totals(report: SeparableReport) -> list[list[str]]:
    out = []
    for name, col in (("as written", report.written), ("standard twin", report.standard),
                      ("separable twin", report.separable)):  # fmt: skip
        if col is not None:
            out.append([name, col.label, human(col.profile.macs), human(col.profile.params),
                        human(col.profile.params_by_kind["weights"])])  # fmt: skip
    return out


SEPARABLE_TOTAL_HEADERS = ("model", "reference", "MACs", "params", "weights only")


def separable_dict(report: SeparableReport) -> dict[str, Any]:
    def col(c: Column | None) -> dict[str, Any] | None:
        if c is None:
            return None
        return {"model": c.label, "macs": c.profile.macs, "params": c.profile.params,
                "weight_params": c.profile.params_by_kind["weights"]}  # fmt: skip

    return {
        "schema": "cnnprof.separable/1",
        "written": col(report.written),
        "standard": col(report.standard),
        "separable": col(report.separable),
        "layers": [
            {"path": r.path, "written": r.written, "c_in": r.c_in, "c_out": r.c_out, "k": r.k,
             "output": [r.h, r.w], "standard_macs": r.standard_macs,
             "separable_macs": r.separable_macs, "standard_params": r.standard_params,
             "separable_params": r.separable_params, "ratio": r.ratio,
             "paper_ratio": r.paper_ratio}
            for r in report.rows
        ],
    }  # fmt: skip


def separable_records(report: SeparableReport, layers: bool) -> list[dict[str, Any]]:
    """CSV holds one table of numbers: the model and its two twins, or (``layers``) every
    convolution, its output as height and width columns."""
    data = separable_dict(report)
    if not layers:
        return [{"twin": twin, **data[twin]} for twin in ("written", "standard", "separable")
                if data[twin] is not None]  # fmt: skip
    out = []
    for row in data["layers"]:
        h, w = row.pop("output")
        out.append({**row, "output_h": h, "output_w": w})
    return out


# Sweep fields left out of the terminal table (the settings columns name the model).
WIDE_ONLY = ("model", "flops", "param_bytes", "peak_activation_bytes", "official")


# Terminal headers of the sweep fields that are not metrics (JSON and CSV keep the keys).
FIELD_TITLES: Mapping[str, str] = MappingProxyType({
    "resolution": "res", "official": "official", "official_macs": "official MACs",
    "official_params": "official params", "mnas_objective": "ACC×(LAT/T)^w", "pareto": "Pareto",
})  # fmt: skip


def sweep_title(key: str) -> str:
    return METRICS[key].header if key in METRICS else FIELD_TITLES.get(key, key)


# How a sweep cell shows the fields that are not metrics.
FIELD_FORMATS: Mapping[str, Callable[[Any], str]] = MappingProxyType({
    "official_macs": human, "official_params": human,
    "mnas_objective": lambda v: f"{v:.2f}", "pareto": lambda v: "★" if v else "",
})  # fmt: skip


def sweep_cell(key: str, number: Any) -> str:
    if key in METRICS:
        return cell(key, number)
    if number is None:
        return "–"
    fmt = FIELD_FORMATS.get(key)
    return fmt(number) if fmt else (f"{number:g}" if isinstance(number, float) else str(number))


SWEEP_SCHEMA = "cnnprof.sweep/1"


def sweep_records(points: Sequence[SweepPoint]) -> list[dict[str, Any]]:
    out = []
    for p in points:
        record = {"model": p.column.label, **p.settings}
        record.update({k: value(p.column, k) for k in SWEEP_FIELDS})
        if p.official is not None:
            record["official"] = p.official.label
            record["official_macs"] = p.official.profile.macs
            record["official_params"] = p.official.profile.params
        record["pareto"] = p.pareto
        if p.objective is not None:
            record["mnas_objective"] = p.objective
        out.append(record)
    return out


def sweep_comparison(points: Sequence[SweepPoint]) -> Comparison:
    """The points as a comparison (against the first), to say which latencies overlap."""
    return Comparison(tuple(p.column for p in points), 0)


def sweep_dict(
    points: Sequence[SweepPoint], pareto: bool = True, device: DeviceProfile | None = None
) -> dict[str, Any]:
    """The points, and the metric their Pareto flags and MnasNet's objective were taken on;
    ``device``: the device profile the points were predicted for."""
    records = sweep_records(points)
    if not pareto:
        for record in records:
            record.pop("pareto")
    indistinct = sweep_comparison(points).indistinct()
    cost = ranked_on([p.column for p in points])
    return {"schema": SWEEP_SCHEMA, "points": records, "ranked_on": cost,
            "indistinct_latency": [list(pair) for pair in indistinct],
            "device_profile": _device(device)}  # fmt: skip


def sweep_grid(
    points: Sequence[SweepPoint], metric: str
) -> tuple[list[str], list[list[str]]] | None:
    """A two-axis grid (first axis down, second across) of one metric; None if not 2-D."""
    axes = list(points[0].settings) if points else []
    if len(axes) != 2:
        return None
    rows_key, cols_key = axes
    row_values = list(dict.fromkeys(p.settings[rows_key] for p in points))
    col_values = list(dict.fromkeys(p.settings[cols_key] for p in points))
    cells = {(p.settings[rows_key], p.settings[cols_key]): value(p.column, metric) for p in points}
    headers = [f"{rows_key} \\ {cols_key}", *(f"{v:g}" for v in col_values)]
    rows = [[f"{r:g}", *(cell(metric, cells[(r, c)]) for c in col_values)] for r in row_values]
    return headers, rows
