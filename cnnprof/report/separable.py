"""`cnnprof separable` as data: the model and its twins (with their time where it was measured or
predicted, and the ratios against the standard twin: how many times fewer MACs, how many times
faster), every convolution both ways (with each form's predicted time and its roofline bound),
and each twin's share of MACs, params and time per op kind (the MobileNet paper's Table 2). One
(headers, rows) grid serves the terminal, Markdown and CSV; JSON keeps the numbers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from cnnprof.report.profile import kind_counts
from cnnprof.report.text import to_csv, to_json, to_markdown
from cnnprof.report.units import human, ms_short
from cnnprof.report.view import TOTALS, View
from cnnprof.results.device import roofline_note
from cnnprof.results.metrics import PREDICTED, value
from cnnprof.results.tables import Column, SeparableReport, SeparableRow

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
LAYER_TIME_HEADERS = (
    "layer", "standard ms", "bound", "separable ms", "dw bound", "pw bound", "fewer MACs",
    "faster",
)
SEPARABLE_TOTAL_HEADERS = ("model", "reference", "MACs", "params", "weights only")
BY_OP_HEADERS = ("op kind", "rows", "% MACs", "% weights", "% params", "pred. ms", "% time")
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


# --- every convolution's predicted time, both ways ----------------------------------------------


def form_time(
    report: SeparableReport, row: SeparableRow, form: str
) -> tuple[float, tuple[str, ...]] | None:
    """``row`` in ``form`` (``standard``: one k×k convolution; ``separable``: its depthwise and
    pointwise rows): predicted seconds and each row's roofline bound, read off the twin of that
    form, else the model as written where it has that form (None: not predicted)."""
    paths = (row.path,) if form == "standard" else (f"{row.path}.dw", f"{row.path}.pw")
    columns = dict(report.twins())
    for name in (form, "written"):
        column, roofline = columns.get(name), report.rooflines.get(name)
        if column is None or column.prediction is None or roofline is None:
            continue
        seconds, rows = column.prediction.by_path(), roofline.by_path()
        if all(p in seconds and p in rows for p in paths):
            return sum(seconds[p] for p in paths), tuple(rows[p].bound for p in paths)
    return None


def layer_times(report: SeparableReport, row: SeparableRow) -> dict[str, Any]:
    """A convolution's predicted time both ways, each form's roofline bound, and how many times
    faster the separable form is predicted to run."""
    standard, separable = form_time(report, row, "standard"), form_time(report, row, "separable")
    faster = standard[0] / separable[0] if standard and separable and separable[0] else None
    return {
        "standard_predicted_ms": standard[0] * 1e3 if standard else None,
        "separable_predicted_ms": separable[0] * 1e3 if separable else None,
        "standard_bound": standard[1][0] if standard else None,
        "depthwise_bound": separable[1][0] if separable else None,
        "pointwise_bound": separable[1][1] if separable else None,
        "predicted_faster_ratio": faster,
    }


def layer_time_grid(report: SeparableReport) -> list[list[str]]:
    out = []
    for row in report.rows:
        t = layer_times(report, row)
        out.append(
            [
                row.path,
                _ms(t["standard_predicted_ms"]),
                t["standard_bound"] or "–",
                _ms(t["separable_predicted_ms"]),
                t["depthwise_bound"] or "–",
                t["pointwise_bound"] or "–",
                _times(1 / row.ratio),
                _times(t["predicted_faster_ratio"]),
            ]
        )
    return out


def _ms(ms: float | None) -> str:
    return "–" if ms is None else ms_short(ms / 1e3)


def _times(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:.2f}×"


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.2f} %"


# --- by op: the MobileNet paper's Table 2, per twin ---------------------------------------------


def by_op_records(column: Column) -> list[dict[str, Any]]:
    """Per op kind of ``column``'s rows: how many, their MACs (at the batch) and params, each a
    share of the model's; with a prediction, their predicted time and its share. The paper's
    params are conv and fc weights only (`weight_share` reproduces its Table 2)."""
    profile, prediction = column.profile, column.prediction
    seconds = prediction.by_path() if prediction else {}
    per_kind: dict[str, float] = {}
    for row in profile.rows:
        per_kind[row.kind] = per_kind.get(row.kind, 0.0) + seconds.get(row.path, 0.0)
    counts, batch = kind_counts(profile), profile.batch
    weights = profile.params_by_kind["weights"]
    out = []
    for kind, r in profile.by_kind().items():
        record = {
            "op_kind": kind,
            "rows": counts[kind],
            "macs": r.macs * batch,
            "weight_params": r.weight_params,
            "params": r.params,
            "mac_share": _share(r.macs * batch, profile.macs),
            "weight_share": _share(r.weight_params, weights),
            "param_share": _share(r.params, profile.params),
        }
        if prediction is not None:
            record["predicted_ms"] = per_kind[kind] * 1e3
            record["time_share"] = _share(per_kind[kind], prediction.seconds)
        out.append(record)
    return out


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def by_op_grid(column: Column) -> list[list[str]]:
    return [
        [
            r["op_kind"],
            str(r["rows"]),
            _pct(r["mac_share"]),
            _pct(r["weight_share"]),
            _pct(r["param_share"]),
            _ms(r.get("predicted_ms")),
            _pct(r.get("time_share")),
        ]
        for r in by_op_records(column)
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


# The time columns of the models' table: header, the record's key, how a cell shows it.
# fmt: off
TIME_COLUMNS: tuple[tuple[str, str, Callable[[dict[str, Any]], str]], ...] = (
    ("ms (p10–p90)", "latency_ms", lambda r: (
        f"{_ms(r['latency_ms'])} ({_ms(r['latency_p10_ms'])}–{_ms(r['latency_p90_ms'])})")),
    ("pred. ms", PREDICTED, lambda r: _ms(r[PREDICTED])),
    ("fewer MACs", "macs_fewer_ratio", lambda r: _times(r["macs_fewer_ratio"])),
    ("faster", "latency_faster_ratio", lambda r: (
        f"{_times(r['latency_faster_ratio'])} ({r['latency_faster_p10_ratio']:.2f}–"
        f"{r['latency_faster_p90_ratio']:.2f})")),
    ("faster pred.", "predicted_faster_ratio", lambda r: _times(r["predicted_faster_ratio"])),
)
# fmt: on


def totals_table(report: SeparableReport) -> tuple[list[str], list[list[str]]]:
    """One row per model: its counts, and the time columns known for any of them."""
    records = [(name, twin_record(report, name, c)) for name, c in report.twins()]
    shown = [col for col in TIME_COLUMNS if any(r.get(col[1]) is not None for _, r in records)]
    headers = [*SEPARABLE_TOTAL_HEADERS, *(header for header, _, _ in shown)]
    rows = []
    for name, r in records:
        cells = [TITLES[name], r["model"], human(r["macs"]), human(r["params"])]
        cells.append(human(r["weight_params"]))
        cells += [show(r) if r[key] is not None else "–" for _, key, show in shown]
        rows.append(cells)
    return headers, rows


def separable_title(report: SeparableReport) -> str:
    """The models' table's title; with a measurement, the threads it ran on."""
    title = "standard vs depthwise-separable"
    timing = report.written.timing
    if timing is None:
        return title
    return f"{title} · measured, {timing.threads} thread{'s' * (timing.threads != 1)}"


def _reads(ratio: float, more: str, less: str) -> str:
    """A ratio of the reference over a model as people say it: "2.90× faster", "1.18× slower"."""
    return f"{ratio:.2f}× {more}" if ratio >= 1 else f"{1 / ratio:.2f}× {less}"


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
        notes.append(
            f"measured in one run on {timing.device_name}, {timing.threads} thread"
            f"{'s' * (timing.threads != 1)}, the models interleaved: each one's "
            f"median (p10–p90) over its runs; faster: the median (p10–p90) over "
            f"{len(report.interleaved.rounds)} rounds of the reference's time over the model's"
        )
        if (view.by_op or view.layers) and report.device is None:
            notes.append(
                "per-row time is predicted (--device-profile): an interleaved run times whole "
                "models"
            )
    if report.device is not None:
        bound = "; bound: the roofline's, on its roofs" if view.layers else ""
        notes.append(f"{PREDICTED}: {report.device.describe()}{bound}")
        notes += [n for _, c in report.twins() if (n := roofline_note(c.label, c.prediction))]
    return notes + verdicts(report)


def separable_dict(report: SeparableReport, view: View = TOTALS) -> dict[str, Any]:
    """The models (each with its rows per op kind with ``view.by_op``) and every convolution;
    the time-related keys only where a time is known."""
    twins = {name: twin_record(report, name, c) for name, c in report.twins()}
    if view.by_op:
        for name, column in report.twins():
            twins[name]["by_op"] = by_op_records(column)
    out: dict[str, Any] = {"schema": SCHEMA}
    out.update({name: twins.get(name) for name in TITLES})
    if report.timed:
        out["reference"] = report.reference
    if report.refused:
        out["refused"] = dict(report.refused)
    out["layers"] = [_layer_dict(report, r) for r in report.rows]
    if report.interleaved is not None:
        timing = report.written.timing
        out["measured"] = {
            "device_name": timing.device_name if timing else None,
            "threads": timing.threads if timing else None,
            "rounds": len(report.interleaved.rounds),
        }
    if report.device is not None:
        out["device_profile"] = report.device.record()
    return out


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
    return record | (layer_times(report, r) if report.device is not None else {})


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
    kind; with ``view.layers`` every convolution, and its predicted time both ways where
    predicted."""
    out: list[Table] = [("models", separable_title(report), *totals_table(report), 2)]
    if view.by_op:
        for name, column in report.twins():
            title = f"by op · {TITLES[name]} · {column.label}"
            headers = BY_OP_HEADERS if column.prediction else BY_OP_HEADERS[:-2]
            rows = [r[: len(headers)] for r in by_op_grid(column)]
            out.append((title, title, headers, rows, 1))
    if view.layers:
        title = "every convolution: its cost both ways"
        out.append(("convolutions", title, SEPARABLE_HEADERS, separable_grid(report.rows), 2))
        if report.device is not None:
            title = "every convolution: its predicted time both ways"
            grid = layer_time_grid(report)
            out.append(("predicted time", title, LAYER_TIME_HEADERS, grid, 1))
    return out


def _csv(report: SeparableReport, view: View) -> str:
    records = separable_records(report, view)
    return to_csv(records, list(records[0]) if records else ["path"])


def _markdown(report: SeparableReport, view: View) -> str:
    """The tables, the notes under them."""
    grids = [
        f"**{name}**\n\n" + to_markdown(h, rows) for name, _, h, rows, _ in tables(report, view)
    ]
    notes = separable_notes(report, view)
    text = "\n".join(grids)
    return text + "".join(f"\n> {n}\n" for n in notes)


WRITERS: Mapping[str, Callable[[SeparableReport, View], str]] = MappingProxyType(
    {"json": lambda r, view: to_json(separable_dict(r, view)), "csv": _csv, "md": _markdown}
)


def present(report: SeparableReport, view: View) -> str:
    """``report`` as ``view.format``: JSON, CSV or Markdown."""
    if view.format not in WRITERS:
        raise ValueError(f"format {view.format!r}: a report writes {', '.join(WRITERS)}")
    return WRITERS[view.format](report, view)
