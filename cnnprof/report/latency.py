"""Latency and device peaks as data for other programs: JSON (versioned), CSV and Markdown, as
text or plain dicts only. Times are in seconds in JSON and CSV, milliseconds in Markdown."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from cnnprof.report.peaks import roofs_dict
from cnnprof.report.processes import process_record, range_text, scalars
from cnnprof.report.runtime import (
    fused_op,
    node_records,
    node_sum_line,
    node_summary,
    runtime_line,
    runtime_record,
)
from cnnprof.report.text import to_csv, to_json, to_markdown
from cnnprof.report.titles import prediction_title
from cnnprof.report.units import fault_count, human_bytes, ms_fixed, percent, threads
from cnnprof.report.view import EVERY_ROW, View, cut_line
from cnnprof.results.device import calibration_line, calibration_record
from cnnprof.results.latency import Measured, Predicted
from cnnprof.results.ranking import TIME_KEYS, ranked
from cnnprof.results.timing import TORCH

SCHEMA = "cnnprof.latency/2"
PREDICTION_SCHEMA = "cnnprof.prediction/2"


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def layer_records(measured: Measured, view: View = EVERY_ROW) -> list[dict[str, Any]]:
    """One record per timed row (largest ``view.sort`` first, the first ``view.top``): time and
    its share next to MACs and their share, shares of the whole model whatever is shown; the
    roofline's and the kernel models' predictions where made."""
    timing, estimate = measured.timing, measured.estimate
    total_s, total_macs = timing.layer_sum, sum(layer.macs for layer in timing.layers)
    predicted = estimate.by_path() if estimate else {}
    by_kernels = measured.kernels.by_path() if measured.kernels else {}
    kernels = timing.kernel_map()
    out = []
    for layer in ranked(timing.layers, TIME_KEYS, view.sort, view.top, "latency"):
        guess = predicted.get(layer.path)
        out.append(
            {
                "path": layer.path,
                "op": layer.op,
                "measured_s": layer.seconds,
                "time_share": _share(layer.seconds, total_s),
                "macs": layer.macs,
                "mac_share": _share(layer.macs, total_macs),
                "gmacs_per_s": layer.gmacs_per_s,
                "flops": layer.flops,
                "bytes_moved": layer.bytes,
                "intensity": layer.intensity,
                "page_faults": layer.page_faults,
                "roofline_s": guess.seconds if guess else None,
                "predicted_s": by_kernels.get(layer.path),
                "bound": guess.bound if guess else None,
                "kernels": list(kernels.get(layer.path, ())),
                **({} if timing.runtime == TORCH else {"fused_into": layer.fused_into or None}),
            }
        )
    return out


def rows_cut(measured: Measured, view: View) -> str | None:
    """The line under a timed layer table ``view.top`` cuts: how many rows it shows and their
    share of the measured time (of the rows' sum); None when it shows them all."""
    rows = measured.timing.layers
    kept = ranked(rows, TIME_KEYS, view.sort, view.top, "latency")
    seconds = sum(row.seconds for row in kept)
    whole = measured.timing.layer_sum
    return cut_line(len(kept), len(rows), seconds, whole, "measured time", "rows")


def summary_record(measured: Measured) -> dict[str, Any]:
    """The headline figures of a measurement, as plain numbers."""
    timing, estimate, kernels = measured.timing, measured.estimate, measured.kernels
    out: dict[str, Any] = {
        "model": timing.model,
        "device": timing.device,
        "device_name": timing.device_name,
        "threads": timing.threads,
        "dtype": timing.dtype,
        "batch": timing.batch,
        "channels_last": timing.channels_last,
        "allocator": timing.allocator,
        "torch": timing.torch_version or None,
        **runtime_record(timing),
        "runs": timing.runs,
        "warmup_runs": timing.warmup_runs,
        "warmup_stable": timing.warmup_stable,
        "budget_hit": timing.budget_hit,
        "median_s": timing.median,
        "p10_s": timing.p10,
        "p90_s": timing.p90,
        "iqr_s": timing.iqr,
        "cv": timing.cv,
        "noisy": timing.noisy,
        **process_record(timing),
        "throughput": timing.throughput,
        "macs": timing.macs,
        "gmacs_per_s": timing.macs / timing.median / 1e9 if timing.median else 0.0,
    }
    if estimate is not None:
        out["roofline_s"] = estimate.seconds
        out["roofline_ratio"] = estimate.seconds / timing.median
        out["memory_bound_share"] = estimate.share_bound("memory")
        out["page_faults_s"] = estimate.all_faults_s
    if kernels is not None:
        out["predicted_s"] = kernels.seconds
        out["predicted_ratio"] = kernels.seconds / timing.median
    out["page_faults"] = timing.page_faults
    if timing.nodes:
        out.update(node_summary(timing))
    if timing.layers:
        out["layer_runs"] = timing.layer_runs
        out["layer_sum_s"] = timing.layer_sum
        out["layer_ratio"] = timing.layer_ratio
        out["hook_overhead_s"] = timing.hook_overhead
    return out


def latency_dict(measured: Measured, view: View = EVERY_ROW) -> dict[str, Any]:
    """A measurement's JSON document without its notes: the summary, every sample, the
    device's roofs where measured, and the timed rows ``view`` orders."""
    timing = measured.timing
    out: dict[str, Any] = {"schema": SCHEMA, **summary_record(measured)}
    out["samples_s"] = list(timing.samples)
    if measured.peaks is not None:
        out |= {"roofs": roofs_dict(measured.peaks.roofs), **calibration_record(measured.peaks)}
    if timing.layers:
        out["layers"] = layer_records(measured, view)
    if timing.nodes:
        out["nodes"] = node_records(timing)
    return out


def latency_csv(measured: Measured, view: View = EVERY_ROW) -> str:
    """The timed rows ``view`` orders, or the summary when no row was timed."""
    if measured.timing.layers:
        return to_csv(layer_records(measured, view))
    return to_csv([scalars(summary_record(measured))])


def latency_markdown(measured: Measured, view: View = EVERY_ROW) -> str:
    """The summary, the timed rows ``view`` orders, then the notes."""
    t, estimate, kernels = measured.timing, measured.estimate, measured.kernels
    title = (
        f"**{measured.label or t.model}** — {t.device_name} ({t.device}), batch {t.batch}, "
        f"{t.dtype}, {threads(t.threads)}, {runtime_line(t)}"
    )
    rows = [
        ("median", f"{ms_fixed(t.median)} ms"),
        ("p10 / p90", f"{ms_fixed(t.p10)} / {ms_fixed(t.p90)} ms"),
        ("IQR · CV", f"{ms_fixed(t.iqr)} ms · {100 * t.cv:.1f} %"),
        ("runs", f"{t.runs} (after {t.warmup_runs} warm-up)"),
        *([("processes", range_text(t))] if t.processes > 1 else []),
        *(
            [("noisy", f"yes: CV {100 * t.cv:.0f} %, read p10–p90, not the median alone")]
            if t.noisy
            else []
        ),
        ("throughput", f"{t.throughput:,.1f} images/s"),
    ]
    if estimate is not None:
        rows.append(
            ("roofline", f"{ms_fixed(estimate.seconds)} ms ({estimate.seconds / t.median:.2f}×)")
        )
    if kernels is not None:
        rows.append(
            ("kernel models", f"{ms_fixed(kernels.seconds)} ms ({kernels.seconds / t.median:.2f}×)")
        )
    if t.layer_ratio is not None:
        rows.append(("per-layer sum", f"{ms_fixed(t.layer_sum)} ms ({t.layer_ratio:.3f}× median)"))
    if t.nodes:
        rows.append(("per node", node_sum_line(t)))
    if t.export:
        rows.append(("exported", t.export))
    parts = [title + "\n\n", to_markdown(("metric", "value"), rows)]
    if t.layers and (view.layers or not view.grouped):  # summed rows: their own table
        cut = rows_cut(measured, view)
        parts.append("\n" + _layers_markdown(measured, view) + (f"\n{cut}\n" if cut else ""))
    parts += [f"\n> {n}\n" for n in measured.notes]
    return "".join(parts)


def _layers_markdown(measured: Measured, view: View) -> str:
    """The timed rows ``view`` orders, beside the kernel models' and the roofline's times."""
    faulting, kernels = measured.timing.faulting, measured.kernels
    body = [
        (
            r["path"],
            fused_op(r),
            ms_fixed(r["measured_s"]),
            percent(r["time_share"]),
            percent(r["mac_share"]),
            f"{r['gmacs_per_s']:.1f}",
            human_bytes(r["bytes_moved"]),
            f"{r['intensity']:.1f}",
            *([fault_count(r["page_faults"])] if faulting else []),
            *([_ms_or_dash(r["predicted_s"])] if kernels else []),
            _ms_or_dash(r["roofline_s"]),
            r["bound"] or "–",
        )
        for r in layer_records(measured, view)
    ]
    headers = (
        "path",
        "op",
        "ms",
        "time %",
        "MACs %",
        "GMAC/s",
        "bytes",
        "FLOP/B",
        *(["faults"] if faulting else []),
        *(["kernel models ms"] if kernels else []),
        "roofline ms",
        "bound",
    )
    return to_markdown(headers, body, right=2)


def _ms_or_dash(seconds: float | None) -> str:
    return "–" if seconds is None else ms_fixed(seconds)


# --- a prediction for a device profile (no measurement) -------------------------------------------


def prediction_records(predicted: Predicted) -> list[dict[str, Any]]:
    """One record per row: the kernel models' seconds and share, the roofline's seconds and
    bound (rows no kernel model covers are costed on the roofline and say so)."""
    prediction = predicted.kernels
    total = prediction.seconds
    on_roofs = predicted.roofline.by_path()
    out = []
    for row in prediction.layers:
        roof = on_roofs.get(row.path)
        out.append(
            {
                "path": row.path,
                "op": row.op,
                "predicted_s": row.seconds,
                "time_share": _share(row.seconds, total),
                "kernel_calls": row.kernels,
                "on_roofline": row.on_roofline,
                "roofline_s": roof.seconds if roof else None,
                "bound": roof.bound if roof else None,
            }
        )
    return out


def prediction_summary(predicted: Predicted, flat: bool = False) -> dict[str, Any]:
    """A prediction's headline figures and the profile it came from (``flat``: for a CSV row)."""
    prediction, roofline, device = predicted.kernels, predicted.roofline, predicted.device
    return {
        "model": prediction.model,
        "device": device.device,
        "device_name": device.device_name,
        "threads": prediction.threads,
        "dtype": prediction.dtype,
        "batch": prediction.batch,
        "torch": device.torch_version,
        **({} if device.runtime == "torch" else {"runtime": device.runtime_label}),
        "calibrated_at": device.measured_at,
        **calibration_record(device, flat),
        "allocator": device.allocator,
        "predicted_s": prediction.seconds,
        "roofline_s": roofline.seconds,
        "rows_on_roofline": list(prediction.on_roofline),
        **({"count_missing": list(prediction.missing)} if prediction.missing else {}),
    }


def prediction_document(predicted: Predicted, view: View = EVERY_ROW) -> dict[str, Any]:
    """A prediction's JSON document (`latency --device-profile --format json`,
    `cnnprof.to_dict`); a row each with ``view.layers``."""
    out: dict[str, Any] = {"schema": PREDICTION_SCHEMA, **prediction_summary(predicted)}
    if view.layers:
        out["layers"] = prediction_records(predicted)
    return out


def prediction_csv(predicted: Predicted, view: View) -> str:
    """A row each with ``view.layers``, else the summary."""
    if view.layers:
        return to_csv(prediction_records(predicted))
    record = prediction_summary(predicted, flat=True)
    record["rows_on_roofline"] = " ".join(record["rows_on_roofline"])
    if "count_missing" in record:
        record["count_missing"] = "; ".join(record["count_missing"])
    return to_csv([record])


def prediction_markdown(predicted: Predicted, view: View) -> str:
    """The summary, and with ``view.layers`` a row each."""
    p, roofline, device = predicted.kernels, predicted.roofline, predicted.device
    rows = [
        ("predicted", f"{ms_fixed(p.seconds)} ms (kernel models)"),
        ("roofline", f"{ms_fixed(roofline.seconds)} ms"),
        ("calibration", calibration_line(device)),
    ]
    if p.on_roofline:
        rows.append(("on the roofline", f"{len(p.on_roofline)} rows no kernel model covers"))
    title = prediction_title(p, device, predicted.label)
    parts = [f"**{title}**\n\n", to_markdown(("metric", "value"), rows)]
    if view.layers:
        body = [
            (
                r["path"],
                r["op"],
                ms_fixed(r["predicted_s"]),
                percent(r["time_share"]),
                _ms_or_dash(r["roofline_s"]),
                r["bound"] or "–",
                "roofline" if r["on_roofline"] else "kernels",
            )
            for r in prediction_records(predicted)
        ]
        headers = ("path", "op", "kernel models ms", "time %", "roofline ms", "bound", "from")
        parts.append("\n" + to_markdown(headers, body, right=2))
    return "".join(parts)


# --- each result as the text of a format ----------------------------------------------------------


MEASURED_TEXT: Mapping[str, Callable[[Measured, View], str]] = MappingProxyType(
    {
        "json": lambda m, view: to_json({**latency_dict(m, view), "notes": list(m.notes)}),
        "csv": latency_csv,
        "md": latency_markdown,
    }
)


def present(measured: Measured, view: View) -> str:
    """A measurement (and the device's predictions of it) as ``view.format`` text (json, csv or
    md), the timed rows ``view`` shows."""
    return MEASURED_TEXT[view.format](measured, view)


def notes_apart(measured: Measured, view: View) -> tuple[str, ...]:
    """The notes ``view.format`` has no place for (a CSV file holds one table): the command
    says them on stderr."""
    return measured.notes if view.format == "csv" else ()


PREDICTED_TEXT: Mapping[str, Callable[[Predicted, View], str]] = MappingProxyType(
    {
        "json": lambda p, view: to_json(prediction_document(p, view)),
        "csv": prediction_csv,
        "md": prediction_markdown,
    }
)


def present_prediction(predicted: Predicted, view: View) -> str:
    """A prediction for a device profile as ``view.format`` text (json, csv or md)."""
    return PREDICTED_TEXT[view.format](predicted, view)
