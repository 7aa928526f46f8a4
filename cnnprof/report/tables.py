"""The comparison tables (compare, separable, sweep) as data: one (headers, rows) grid serves the
terminal, Markdown and CSV; JSON keeps the numbers. `present` writes a result as JSON, CSV or
Markdown; its JSON is `cnnprof.to_json`'s."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from cnnprof.report import separable
from cnnprof.report.processes import (
    between_notes,
    measured_record,
    measured_title,
    noisy_words,
    process_record,
    scalars,
)
from cnnprof.report.separable import failed_record, separable_dict
from cnnprof.report.text import to_csv, to_json, to_markdown
from cnnprof.report.units import UNIT_FORMATS, human
from cnnprof.report.view import View
from cnnprof.results.device import DeviceProfile, roofline_note
from cnnprof.results.metrics import (
    METRICS,
    PREDICTED,
    Comparison,
    frontier_cost,
    ranked_on,
    value,
)
from cnnprof.results.tables import Column, SeparableReport, Sweep, SweepPoint
from cnnprof.results.timing import Timing

COMPARE_KEYS = tuple(key for key, m in METRICS.items() if m.compare)
SWEEP_FIELDS = tuple(key for key, m in METRICS.items() if m.sweep)


def cell(key: str, number: float | None) -> str:
    """A metric's value as a table shows it; "–" when not known."""
    return "–" if number is None else UNIT_FORMATS[METRICS[key].unit](number)


def compare_grid(
    comparison: Comparison,
) -> tuple[list[str], list[list[str]], list[list[float | None] | None]]:
    """Rows are metrics, columns models; each cell ``value (×ratio)``. Also the raw ratios
    (None: a row without any, a spread's or a flag's), which scale the bars: the values
    themselves when there is no baseline (it failed)."""
    cols = comparison.columns
    headers = ["metric", *(c.label for c in cols)]
    rows: list[list[str]] = []
    ratios: list[list[float | None] | None] = []
    for key in COMPARE_KEYS:
        values = [value(c, key) for c in cols]
        if all(v is None for v in values):
            continue
        cells, line = [METRICS[key].title], []
        for i, number in enumerate(values):
            ratio = comparison.ratio(key, i) if METRICS[key].ratio else None
            line.append(number if comparison.baseline is None else ratio)
            if number is None or i == comparison.baseline or ratio is None:
                cells.append(cell(key, number))
            else:
                cells.append(f"{cell(key, number)} (×{ratio:.2f})")
        rows.append(cells)
        ratios.append(line if METRICS[key].ratio else None)
    if any(c.timing is not None and c.timing.processes > 1 for c in cols):
        rows.append(["latency range (ms)", *(_range_cell(c) for c in cols)])
        ratios.append([None] * len(cols))
    for title, cells in _flag_rows(comparison):
        rows.append([title, *cells])
        ratios.append(None)
    return headers, rows, ratios


# How compare's Pareto row shows a model: on the frontier, dominated, not ranked (no top-1).
PARETO_CELLS: Mapping[bool | None, str] = MappingProxyType(
    {True: "★", False: "", None: "not ranked"}
)


def _flag_rows(comparison: Comparison) -> list[tuple[str, list[str]]]:
    """The rows that flag models: noisy (a measured model's CV over `NOISY_CV`, as `latency`
    says) and the Pareto frontier (with --pareto)."""
    timings = _timings(comparison.columns)
    out = []
    if any(t is not None and t.noisy for t in timings):
        noisy = [f"yes: CV {100 * t.cv:.0f} %" if t and t.noisy else "" for t in timings]
        out.append(("noisy", noisy))
    if comparison.pareto_by is not None:
        out.append(("Pareto", [PARETO_CELLS[flag] for flag in comparison.pareto()]))
    return out


def _range_cell(column: Column) -> str:
    """The process medians' range of a model timed in fresh processes (``–`` otherwise)."""
    t = column.timing
    if t is None or t.processes == 1:
        return "–"
    low, high = (cell("latency_ms", m * 1e3) for m in (t.between_min, t.between_max))
    return f"{low}–{high} ({t.processes} processes)"


def compare_title(comparison: Comparison) -> str:
    """``compare · ratios to mobilenet``, and the threads (and processes) latency was measured
    at."""
    if comparison.baseline is None:
        ratios = "no ratios: the baseline failed"
    else:
        ratios = f"ratios to {comparison.columns[comparison.baseline].label}"
    return f"compare · {ratios}" + measured_title(_timings(comparison.columns))


def _timings(columns: Sequence[Column]) -> list[Timing | None]:
    return [c.timing for c in columns]


def _latency_keys(column: Column) -> dict[str, Any]:
    """A measured model's processes, their medians and range (ms); nothing when not measured."""
    return {} if column.timing is None else process_record(column.timing, "ms", "latency_")


def compare_dict(comparison: Comparison) -> dict[str, Any]:
    cols = comparison.columns
    return {
        "schema": "cnnprof.compare/2",
        "baseline": None if comparison.baseline is None else cols[comparison.baseline].label,
        "models": [
            {
                "model": c.label,
                **{key: value(c, key) for key in COMPARE_KEYS},
                "ratios": {key: comparison.ratio(key, i) for key in COMPARE_KEYS},
                **_latency_keys(c),
                **_pareto_key(comparison, i),
            }
            for i, c in enumerate(cols)
        ],
        "indistinct_latency": [list(pair) for pair in comparison.indistinct()],
        "device_profile": _device(comparison.device),
        **measured_record(_timings(cols)),
        **({} if comparison.pareto_by is None else {"ranked_on": comparison.pareto_by}),
        **failed_record(comparison.failed),
    }


def _pareto_key(comparison: Comparison, index: int) -> dict[str, bool | None]:
    """With --pareto, a model's flag: on the frontier, dominated, or None (not ranked)."""
    return {} if comparison.pareto_by is None else {"pareto": comparison.pareto()[index]}


def _device(device: DeviceProfile | None) -> dict[str, Any] | None:
    return None if device is None else device.record()


def prediction_notes(device: DeviceProfile | None, columns: Sequence[Column]) -> list[str]:
    """The sentences under a table with predicted latency: which device profile it is for, and
    each model whose prediction costs rows on the roofline."""
    if device is None:
        return []
    notes = [roofline_note(c.label, c.prediction) for c in columns]
    return [
        f"{PREDICTED}: the kernel models' latency, {device.describe()}",
        *(n for n in notes if n),
    ]


def compare_notes(comparison: Comparison) -> list[str]:
    """The sentences under a comparison: which latencies overlap and which are noisy, what
    predictions are for, what the Pareto frontier takes."""
    notes = [n for n in (indistinct_note(comparison),) if n]
    notes += between_notes(_timings(comparison.columns))
    notes += [
        f"noisy: {c.label}: {noisy_words(t)}"
        for c in comparison.columns
        if (t := c.timing) is not None and t.noisy
    ]
    return (
        notes + prediction_notes(comparison.device, comparison.columns) + pareto_notes(comparison)
    )


def pareto_notes(comparison: Comparison) -> list[str]:
    """With --pareto: what the frontier takes, and the models it could not rank."""
    if comparison.pareto_by is None:
        return []
    cost = METRICS[comparison.pareto_by].title
    flags = zip(comparison.columns, comparison.pareto(), strict=True)
    unranked = [c.label for c, flag in flags if flag is None]
    note = (
        f"Pareto: ★ marks the frontier of published top-1 against {cost} (no other model is "
        "as accurate for less, or more accurate for as much)"
    )
    if unranked:
        note += f"; not ranked (no published top-1): {', '.join(unranked)}"
    return [note]


def compare_records(comparison: Comparison) -> list[dict[str, Any]]:
    """One CSV row per model: every metric as a number, then each ratio in its own column."""
    out = []
    for i, c in enumerate(comparison.columns):
        record: dict[str, Any] = {"model": c.label}
        record.update({key: value(c, key) for key in COMPARE_KEYS})
        record.update({f"{key}_ratio": comparison.ratio(key, i) for key in COMPARE_KEYS})
        record["device_profile"] = None if comparison.device is None else comparison.device.name
        out.append({**record, **scalars(_latency_keys(c)), **_pareto_key(comparison, i)})
    return out


def indistinct_note(comparison: Comparison) -> str | None:
    """The sentence under a latency comparison whose intervals overlap."""
    pairs = comparison.indistinct()
    if not pairs:
        return None
    named = "; ".join(f"{a} and {b}" for a, b in pairs)
    return (
        f"latency cannot tell apart {named}: their p10–p90 ranges overlap, so the medians "
        "do not rank them"
    )


# Sweep fields left out of the terminal table (the settings columns name the model).
WIDE_ONLY = ("model", "flops", "param_bytes", "peak_activation_bytes", "official")


# Terminal headers of the sweep fields that are not metrics (JSON and CSV keep the keys).
# fmt: off
FIELD_TITLES: Mapping[str, str] = MappingProxyType({
    "resolution": "res", "official": "official", "official_macs": "official MACs",
    "official_params": "official params", "mnas_objective": "ACC×(LAT/T)^w", "pareto": "Pareto",
    "latency_range": "range ms",
})
# fmt: on


def sweep_title(key: str) -> str:
    return METRICS[key].header if key in METRICS else FIELD_TITLES.get(key, key)


# How a sweep cell shows the fields that are not metrics.
# fmt: off
FIELD_FORMATS: Mapping[str, Callable[[Any], str]] = MappingProxyType({
    "official_macs": human, "official_params": human,
    "mnas_objective": lambda v: f"{v:.2f}", "pareto": lambda v: "★" if v else "",
})
# fmt: on


def sweep_cell(key: str, number: Any) -> str:
    if key in METRICS:
        return cell(key, number)
    if number is None:
        return "–"
    fmt = FIELD_FORMATS.get(key)
    return fmt(number) if fmt else (f"{number:g}" if isinstance(number, float) else str(number))


SWEEP_SCHEMA = "cnnprof.sweep/2"


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
        if p.mnas_objective is not None:
            record["mnas_objective"] = p.mnas_objective
        out.append({**record, **_latency_keys(p.column)})
    return out


def sweep_comparison(points: Sequence[SweepPoint]) -> Comparison:
    """The points as a comparison (against the first), to say which latencies overlap."""
    return Comparison(tuple(p.column for p in points), 0)


def sweep_dict(sweep: Sweep) -> dict[str, Any]:
    """The points, and the metric their Pareto flags and MnasNet's objective were taken on
    (its flags only when ``sweep.pareto``); the device profile the points were predicted for."""
    records = sweep_records(sweep.points)
    if not sweep.pareto:
        for record in records:
            record.pop("pareto")
    return {
        "schema": SWEEP_SCHEMA,
        "points": records,
        "ranked_on": frontier_cost(sweep),
        "indistinct_latency": [list(pair) for pair in sweep_comparison(sweep.points).indistinct()],
        "device_profile": _device(sweep.device),
        **measured_record(_timings(sweep.columns)),
        **failed_record(sweep.failed),
    }


def sweep_notes(sweep: Sweep) -> list[str]:
    """The sentences under a sweep's table: what its predictions are for, and which latency its
    ranking takes when it was also measured here."""
    notes = prediction_notes(sweep.device, sweep.columns) + between_notes(_timings(sweep.columns))
    if sweep.device is not None and any(c.timing is not None for c in sweep.columns):
        both = frontier_cost(sweep) == PREDICTED  # not when --pareto-by chose another cost
        what = "the Pareto flags and ACC×(LAT/T)^w take" if both else "ACC×(LAT/T)^w takes"
        notes.append(
            f"{what} {ranked_on(sweep.columns)}, the device "
            "profile's prediction, not the latency measured here"
        )
    return notes


def sweep_title_words(sweep: Sweep) -> str:
    """`` · latency at 2 threads`` when the points' latency was measured (empty otherwise)."""
    return measured_title(_timings(sweep.columns))


def sweep_table(sweep: Sweep, wide: bool = True) -> tuple[list[str], list[list[str]]]:
    """Every configuration, one row each, with the fields known for any of them; narrow (the
    terminal), without the `WIDE_ONLY` ones."""
    points = zip(sweep_dict(sweep)["points"], sweep.points, strict=True)
    records = [_range_field(r, p.column) for r, p in points]
    keys = [k for k in records[0] if any(r.get(k) is not None for r in records)]
    if not wide:
        keys = [k for k in keys if k not in WIDE_ONLY]
    rows = [[sweep_cell(k, r.get(k)) for k in keys] for r in records]
    return [sweep_title(k) for k in keys], rows


# Sweep columns that leave first on a narrow terminal: the paper's figures and the weights beside
# the counts.
SWEEP_CONTEXT = tuple(sweep_title(k) for k in ("weight_params", "paper_params", "paper_macs"))


def sweep_answer(sweep: Sweep) -> tuple[str, ...]:
    """The sweep columns a narrow terminal keeps: the swept settings, the Pareto mark (with
    --pareto), MnasNet's objective, top-1 and the cost the points are ranked on."""
    keys = [*(sweep.points[0].settings if sweep.points else ()), "mnas_objective", "top1"]
    keys += ["pareto"] if sweep.pareto else []
    return tuple(sweep_title(k) for k in (*keys, frontier_cost(sweep)))


def _range_field(record: dict[str, Any], column: Column) -> dict[str, Any]:
    """A point's record as its table row shows it: the processes' range as one cell, in place
    of their keys (which JSON and CSV keep)."""
    shown = {k: v for k, v in record.items() if k not in _latency_keys(column)}
    several = column.timing is not None and column.timing.processes > 1
    return {**shown, "latency_range": _range_cell(column) if several else None}


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


# --- the presenter: a result in JSON, CSV or Markdown -----------------------------------------


def _md_grid(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return f"**{title}**\n\n" + to_markdown(headers, rows)


def _md_notes(notes: Sequence[str]) -> str:
    return "".join(f"\n> {n}\n" for n in notes)


def _json(result: Any, view: View) -> str:
    return to_json(DOCUMENTS[type(result)](result))


def _compare_csv(comparison: Comparison, view: View) -> str:
    """One row per model, the columns known for any of them."""
    records = compare_records(comparison)
    known = [k for k in records[0] if any(r[k] is not None for r in records)]
    return to_csv([{k: r[k] for k in known} for r in records], known)


def _compare_md(comparison: Comparison, view: View) -> str:
    headers, rows, _ = compare_grid(comparison)
    title = compare_title(comparison)
    return _md_grid(title, headers, rows) + _md_notes(compare_notes(comparison))


def _sweep_csv(sweep: Sweep, view: View) -> str:
    """One table: the device profile a prediction is for, as a column."""
    records = [scalars(r) for r in sweep_dict(sweep)["points"]]
    if sweep.device is not None:
        records = [{**r, "device_profile": sweep.device.name} for r in records]
    return to_csv(records)


def _sweep_md(sweep: Sweep, view: View) -> str:
    """The grid of ``view.metric`` (two swept axes), every configuration, the notes."""
    grid, words = sweep_grid(sweep.points, view.metric), sweep_title_words(sweep)
    text = f"**{view.metric}{words}**\n\n" + to_markdown(*grid) + "\n" if grid else ""
    head = f"**every configuration{words}**\n\n" if words else ""
    return text + head + to_markdown(*sweep_table(sweep)) + _md_notes(sweep_notes(sweep))


# Each result's JSON document: what `cnnprof.to_json` writes for it too.
DOCUMENTS: Mapping[type, Callable[[Any], dict[str, Any]]] = MappingProxyType(
    {Comparison: compare_dict, SeparableReport: separable_dict, Sweep: sweep_dict}
)

# Result type → format → its writer.
WRITERS: Mapping[type, Mapping[str, Callable[[Any, View], str]]] = MappingProxyType(
    {
        Comparison: MappingProxyType({"json": _json, "csv": _compare_csv, "md": _compare_md}),
        SeparableReport: separable.WRITERS,
        Sweep: MappingProxyType({"json": _json, "csv": _sweep_csv, "md": _sweep_md}),
    }
)


def present(result: Comparison | SeparableReport | Sweep, view: View) -> str:
    """``result`` as ``view.format``: JSON (its `DOCUMENTS` entry), CSV or Markdown."""
    writers = WRITERS[type(result)]
    if view.format not in writers:
        raise ValueError(f"format {view.format!r}: a report writes {', '.join(writers)}")
    return writers[view.format](result, view)
