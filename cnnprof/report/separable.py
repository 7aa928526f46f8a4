"""`cnnprof separable` as data: the model and its twins (with their time where it was measured or
predicted, and the ratios against the standard twin: how many times fewer MACs, how many times
faster), every convolution both ways, and row by row what `separable_rows` adds. One (headers,
rows) grid serves the terminal, Markdown and CSV; JSON keeps the numbers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from cnnprof.report.processes import between_notes
from cnnprof.report.separable_rows import (
    ColumnSpec,
    by_op_records,
    by_op_table,
    cell,
    layer_time_table,
    layer_times,
    ms,
    shown,
    times,
)
from cnnprof.report.text import to_csv, to_json, to_markdown
from cnnprof.report.units import human, threads
from cnnprof.report.view import TOTALS, View
from cnnprof.results.device import roofline_note
from cnnprof.results.metrics import PREDICTED, value
from cnnprof.results.tables import Column, SeparableReport, SeparableRow
from cnnprof.results.timing import Timing

SCHEMA = "cnnprof.separable/1"  # keys added with --latency, --device-profile, --by op only

# A model's time, as compare names it: measured (median, p10, p90) and predicted.
TIME_METRICS = ("latency_ms", "latency_p10_ms", "latency_p90_ms", PREDICTED)

# How the tables name each model of the report (`TWINS`).
# fmt: off
TITLES: Mapping[str, str] = MappingProxyType(
    {"written": "as written", "standard": "standard twin", "separable": "separable twin"}
)
SEPARABLE_HEADERS = (
    "layer", "as written", "C_in→C_out", "k", "output", "standard MACs", "separable MACs",
    "standard params", "separable params", "ratio", "1/N + 1/k²",
)
# fmt: on


def separable_grid(rows: Sequence[SeparableRow]) -> list[list[str]]:
    return [
        [
            r.path,
            r.written,
            f"{r.c_in}→{r.c_out}",
            f"{r.k}×{r.k}",
            f"{r.h}×{r.w}",
            human(r.standard_macs),
            human(r.separable_macs),
            human(r.standard_params),
            human(r.separable_params),
            f"{r.ratio:.4f}",
            f"{r.paper_ratio:.4f}",
        ]
        for r in rows
    ]


# --- the model and its twins --------------------------------------------------------------------


def twin_record(report: SeparableReport, name: str, column: Column) -> dict[str, Any]:
    """A model's counts; where a time is known, its time and the ratios against the reference
    (`SeparableReport.reference`)."""
    record: dict[str, Any] = {
        "model": column.label,
        "macs": column.profile.macs,
        "params": column.profile.params,
        "weight_params": column.profile.params_by_kind["weights"],
    }
    if not report.timed:
        return record
    measured = report.latency_faster(name)
    record.update({key: value(column, key) for key in TIME_METRICS})
    record.update(
        {
            "macs_fewer_ratio": report.macs_fewer(name),
            "latency_faster_ratio": measured[0] if measured else None,
            "latency_faster_p10_ratio": measured[1] if measured else None,
            "latency_faster_p90_ratio": measured[2] if measured else None,
            "predicted_faster_ratio": report.predicted_faster(name),
        }
    )
    return record


def _spread(
    header: str,
    keys: tuple[str, str, str],
    show: Callable[[float], str],
    bound: Callable[[float], str],
) -> ColumnSpec:
    """A column of a median with its p10–p90 (``keys``): ``12.300 (11.900–12.800)``."""
    key, low, high = keys

    def text(r: Mapping[str, Any]) -> str:
        if r.get(key) is None:
            return "–"
        return f"{show(r[key])} ({bound(r[low])}–{bound(r[high])})"

    return header, key, text


LATENCY = ("latency_ms", "latency_p10_ms", "latency_p90_ms")
FASTER = ("latency_faster_ratio", "latency_faster_p10_ratio", "latency_faster_p90_ratio")
# The models' table: the counts, then the time columns known for any model.
# fmt: off
TOTAL_COLUMNS: tuple[ColumnSpec, ...] = (
    ("model", "twin", cell("twin", TITLES.__getitem__)),
    ("reference", "model", cell("model", str)),
    ("MACs", "macs", cell("macs", human)),
    ("params", "params", cell("params", human)),
    ("weights only", "weight_params", cell("weight_params", human)),
    _spread("ms (p10–p90)", LATENCY, ms, ms),
    ("pred. ms", PREDICTED, cell(PREDICTED, ms)),
    ("fewer MACs", "macs_fewer_ratio", cell("macs_fewer_ratio", times)),
    _spread("faster", FASTER, times, lambda v: f"{v:.2f}"),
    ("faster pred.", "predicted_faster_ratio", cell("predicted_faster_ratio", times)),
)
# fmt: on


def totals_table(report: SeparableReport) -> tuple[list[str], list[list[str]]]:
    """One row per model: its counts, and the time columns known for any of them."""
    records = [{"twin": name, **twin_record(report, name, c)} for name, c in report.twins()]
    return shown(records, TOTAL_COLUMNS)


def _measured_on(timing: Timing) -> str:
    """``1 thread`` or ``2 threads, 3 processes``."""
    fresh = f", {timing.processes} processes" if timing.processes > 1 else ""
    return threads(timing.threads) + fresh


def separable_title(report: SeparableReport) -> str:
    """The models' table's title; with a measurement, the threads and processes it ran in."""
    title = "standard vs depthwise-separable"
    timing = report.written.timing
    return title if timing is None else f"{title} · measured, {_measured_on(timing)}"


def _reads(ratio: float, more: str, less: str) -> str:
    """A ratio of the reference over a model as people say it: "2.90× faster", "1.18× slower"
    ("1.00× faster" for one that rounds to 1)."""
    return f"{ratio:.2f}× {more}" if ratio >= 0.995 else f"{1 / ratio:.2f}× {less}"


def verdicts(report: SeparableReport) -> list[str]:
    """One line per model beside the reference: "8.56× fewer MACs, 2.90× faster measured"."""
    if not report.timed:
        return []
    reference = dict(report.twins())[report.reference].label
    out = []
    for name, column in report.twins():
        if name == report.reference:
            continue
        parts = [_reads(report.macs_fewer(name), "fewer MACs", "more MACs")]
        measured = report.latency_faster(name)
        if measured is not None:
            parts.append(_reads(measured[0], "faster", "slower") + " measured")
        predicted = report.predicted_faster(name)
        if predicted is not None:
            parts.append(_reads(predicted, "faster", "slower") + " predicted")
        out.append(f"{column.label} against {reference}: " + ", ".join(parts))
    return out


def separable_notes(report: SeparableReport, view: View) -> list[str]:
    """The sentences under the tables: the twins not made and why, how the time was measured
    and what it was predicted for, and one line per model with its ratios."""
    notes = [
        f"no {name} twin: {why}"
        + ("; the ratios are against the model as written" if report.timed else "")
        for name, why in report.refused.items()
    ]
    timing = report.written.timing
    if timing is not None and report.interleaved is not None:
        fresh = " (of its processes' medians)" if timing.processes > 1 else ""
        notes.append(
            f"measured in one run on {timing.device_name}, {_measured_on(timing)}, the models "
            f"interleaved: each one's median{fresh} (p10–p90) over its runs; faster: the median "
            f"(p10–p90) over {len(report.interleaved.rounds)} rounds of the reference's time "
            "over the model's"
        )
        notes += between_notes([c.timing for _, c in report.twins()])
        if report.per_row:
            notes.append(
                "per-row time measured with each model alone, a hook on every row (as "
                "`latency --layers`): ms and % time are of the per-row sum"
            )
    if report.device is not None:
        bound = "; bound: the roofline's, on its roofs" if view.layers else ""
        notes.append(f"{PREDICTED}: {report.device.describe()}{bound}")
        notes += [n for _, c in report.twins() if (n := roofline_note(c.label, c.prediction))]
    return notes + verdicts(report)


def failed_record(failed: Mapping[str, str] | Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The models that failed, each with its error (``failed``: model → message, or pairs of
    them), under ``failed``; nothing when none did (a whole result's document is as it always
    was)."""
    pairs = failed.items() if isinstance(failed, Mapping) else failed
    return {"failed": [{"model": m, "error": e} for m, e in pairs]} if failed else {}


def separable_dict(report: SeparableReport, view: View = TOTALS) -> dict[str, Any]:
    """The models (each with its rows per op kind with ``view.by_op``) and every convolution;
    the time-related keys only where a time is known."""
    twins = {name: twin_record(report, name, c) for name, c in report.twins()}
    if view.by_op:
        for name, _ in report.twins():
            twins[name]["by_op"] = by_op_records(report, name)
    out: dict[str, Any] = {"schema": SCHEMA}
    out.update({name: twins.get(name) for name in TITLES})
    if report.timed:
        out["reference"] = report.reference
    if report.refused:
        out["refused"] = dict(report.refused)
    out["layers"] = [_layer_dict(report, r) for r in report.layers]
    if report.interleaved is not None:
        timing = report.written.timing
        out["measured"] = {
            "device_name": timing.device_name if timing else None,
            "threads": timing.threads if timing else None,
            "processes": timing.processes if timing else None,
            "rounds": len(report.interleaved.rounds),
        }
    if report.device is not None:
        out["device_profile"] = report.device.record()
    return out | failed_record(report.failed)


def _layer_dict(report: SeparableReport, r: SeparableRow) -> dict[str, Any]:
    record = {
        "path": r.path,
        "written": r.written,
        "c_in": r.c_in,
        "c_out": r.c_out,
        "k": r.k,
        "output": [r.h, r.w],
        "standard_macs": r.standard_macs,
        "separable_macs": r.separable_macs,
        "standard_params": r.standard_params,
        "separable_params": r.separable_params,
        "ratio": r.ratio,
        "paper_ratio": r.paper_ratio,
    }
    return record | layer_times(report, r)


def separable_records(report: SeparableReport, view: View) -> list[dict[str, Any]]:
    """CSV holds one table of numbers: the model and its twins, or (``view.layers``) every
    convolution, its output as height and width columns, or (``view.by_op``) every twin's
    rows per op kind, the twin in a column."""
    data = separable_dict(report, view)
    if view.by_op:
        return [
            {"twin": name, "model": data[name]["model"], **record}
            for name in TITLES
            if data[name] is not None
            for record in data[name].pop("by_op")
        ]
    if not view.layers:
        return [{"twin": twin, **data[twin]} for twin in TITLES if data[twin] is not None]
    out = []
    for row in data["layers"]:
        h, w = row.pop("output")
        out.append({**row, "output_h": h, "output_w": w})
    return out


# One table of the report: its short name (Markdown's heading), its title, headers, rows, and how
# many of its first columns are names (left-aligned on the terminal).
Table = tuple[str, str, Sequence[str], list[list[str]], int]


def tables(report: SeparableReport, view: View) -> list[Table]:
    """Every table ``view`` shows: the models; with ``view.by_op`` each twin's rows per op
    kind; with ``view.layers`` every convolution, and its time both ways where known."""
    out: list[Table] = [("models", separable_title(report), *totals_table(report), 2)]
    if view.by_op:
        for name, column in report.twins():
            title = f"by op · {TITLES[name]} · {column.label}"
            out.append((title, title, *by_op_table(report, name), 1))
    if view.layers:
        title = "every convolution: its cost both ways"
        out.append(("convolutions", title, SEPARABLE_HEADERS, separable_grid(report.layers), 2))
        if report.device is not None or report.per_row:
            title = "every convolution: its time both ways"
            out.append(("time", title, *layer_time_table(report), 1))
    return out


def _csv(report: SeparableReport, view: View) -> str:
    """One table, the columns known for any of its rows."""
    records = separable_records(report, view)
    known = [k for k in records[0] if any(r[k] is not None for r in records)] if records else []
    return to_csv([{k: r[k] for k in known} for r in records], known or ["path"])


def _markdown(report: SeparableReport, view: View) -> str:
    """The tables, the notes under them."""
    grids = [
        f"**{name}**\n\n" + to_markdown(h, rows) for name, _, h, rows, _ in tables(report, view)
    ]
    notes = separable_notes(report, view)
    text = "\n".join(grids)
    return text + "".join(f"\n> {n}\n" for n in notes)


# Format → its writer (`report.tables.present` dispatches to these).
WRITERS: Mapping[str, Callable[[SeparableReport, View], str]] = MappingProxyType(
    {"json": lambda r, view: to_json(separable_dict(r, view)), "csv": _csv, "md": _markdown}
)
