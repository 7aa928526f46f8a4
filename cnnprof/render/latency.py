"""Rich renderables of `cnnprof latency` and `cnnprof device`: presentation only, nothing here
measures or computes a figure."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cnnprof.render.common import Fit, Titled, bar, note, panel_grid
from cnnprof.report import latency as report
from cnnprof.report import peaks as report_peaks
from cnnprof.report import runtime as runtime_report
from cnnprof.report.latency import (
    layer_records,
    prediction_records,
)
from cnnprof.report.peaks import kernel_rows
from cnnprof.report.processes import noisy_words, range_text
from cnnprof.report.runtime import fused_op, node_sum_line, ratio_line, runtime_line
from cnnprof.report.titles import prediction_title, timing_title
from cnnprof.report.units import (
    fault_count,
    flop_size,
    human,
    human_bytes,
    ms_short,
    percent_number,
    threads,
)
from cnnprof.report.view import View
from cnnprof.results.device import Estimate, Peaks, Prediction, calibration_quality
from cnnprof.results.interleaved import LatencyRatio
from cnnprof.results.latency import Measured, Predicted
from cnnprof.results.load import describe_load
from cnnprof.results.runtime import ROOF_LABELS
from cnnprof.results.timing import TORCH, Timing


def summary(measured: Measured) -> Titled:
    """The headline panel of `cnnprof latency`."""
    t, estimate = measured.timing, measured.estimate
    grid = panel_grid()
    warm = "its median settled" if t.warmup_stable else "its median had not yet settled"
    grid.add_row(
        "median", f"{ms_short(t.median)} ms", f"p10 {ms_short(t.p10)} · p90 {ms_short(t.p90)} ms"
    )
    grid.add_row("spread", f"{100 * t.cv:.1f} % CV", f"IQR {ms_short(t.iqr)} ms")
    if t.noisy:
        grid.add_row(
            Text("noisy", style="bold yellow"),
            "",
            Text(
                noisy_words(t)
                + "; a quieter machine"
                + (" or --threads 1 (one core is steadier to share)" if t.threads > 1 else "")
                + " helps",
                style="yellow",
            ),
        )
    grid.add_row("runs", str(t.runs), f"after {t.warmup_runs} warm-up runs ({warm})")
    if t.processes > 1:
        style = "yellow" if t.between_exceeds_within else ""
        grid.add_row("processes", str(t.processes), Text(range_text(t), style=style))
    grid.add_row("throughput", f"{t.throughput:,.1f}", "images/s at the median")
    if t.macs:
        grid.add_row("MACs", human(t.macs), f"{t.macs / t.median / 1e9:,.1f} GMAC/s achieved")
    _predicted_rows(grid, t, estimate, measured.kernels, measured.peaks)
    if t.allocator:
        grid.add_row("allocator", t.allocator.split(":")[0], t.allocator.partition(": ")[2])
    if t.page_faults is not None:
        cost = (
            f", {ms_short(estimate.all_faults_s)} ms in the roofline"
            if estimate is not None
            else ""
        )
        grid.add_row(
            "page faults",
            f"{t.page_faults:,.0f}",
            f"per run: fresh memory from the system{cost}",
        )
    if t.layer_ratio is not None and t.runtime == TORCH:
        grid.add_row(
            "per-layer sum",
            f"{ms_short(t.layer_sum)} ms",
            f"{t.layer_ratio:.3f}× the median ({t.layer_runs} hooked runs; "
            f"{t.hook_overhead * 1e6:.2f} µs hook cost per row subtracted)",
        )
    if t.budget_hit:
        grid.add_row("budget", "reached", "the time budget stopped the runs early")
    _runtime_rows(grid, t)
    return Titled(grid, escape(timing_title(t, measured.label)), subtitle=escape(runtime_line(t)))


def _runtime_rows(grid: Table, timing: Timing) -> None:
    """What ran the model, when it was not torch eager: how the session was set up, how the
    model became ONNX, and the per-node times against the median."""
    if timing.runtime == TORCH:
        return
    grid.add_row(
        "runtime",
        f"{timing.runtime} {timing.runtime_version}",
        f"{timing.execution_provider}, graph optimisation {timing.graph_optimization}, "
        f"{threads(timing.threads)} intra-op, 1 inter-op, sequential",
    )
    if timing.export:
        grid.add_row("exported", "", timing.export)
    if timing.nodes:
        grid.add_row("per-node sum", f"{ms_short(timing.layer_sum)} ms", node_sum_line(timing))


def _predicted_rows(
    grid: Table,
    timing: Timing,
    estimate: Estimate | None,
    kernels: Prediction | None,
    peaks: Peaks | None = None,
) -> None:
    """The roofline's and the kernel models' predictions beside the median, where made (the
    kernel models' with their calibration's error and load)."""
    if estimate is not None:
        ratio = estimate.seconds / timing.median
        grid.add_row(
            "roofline",
            f"{ms_short(estimate.seconds)} ms",
            f"{ratio:.2f}× the median; {100 * estimate.share_bound('memory'):.0f} % of it in "
            "memory-bound rows",
        )
    if kernels is not None:
        left = kernels.on_roofline
        covered = f", {len(left)} rows on the roofline" if left else ""
        grid.add_row(
            "kernel models",
            f"{ms_short(kernels.seconds)} ms",
            f"{kernels.seconds / timing.median:.2f}× the median: the sum of each kernel's "
            f"prediction from this device's calibration{covered}"
            + (f" ({calibration_quality(peaks)})" if peaks is not None else ""),
        )


# The timed layer table's columns leave in this order when the terminal is narrow.
LAYER_DROP = ("time", "faults", "FLOP/B", "bytes", "GMAC/s", "% MACs", "bound", "roofline ms", "op")


def layer_table(measured: Measured, view: View) -> Fit:
    """Per-row time with its share next to the share of MACs, the kernel models' prediction and
    the roofline's view; the rows ``view`` orders."""
    timing, estimate, kernels = measured.timing, measured.estimate, measured.kernels
    table = Table(
        title=f"layers · median of {timing.layer_runs} {_runs_kind(timing)} at batch "
        f"{timing.batch}",
        title_justify="left",
        show_edge=False,
    )
    table.add_column("path", no_wrap=True)
    table.add_column("op")
    for name in ("ms", "% time", "% MACs"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("time", no_wrap=True, style="cyan")
    for name in ("GMAC/s", "bytes", "FLOP/B"):
        table.add_column(name, justify="right", no_wrap=True)
    if timing.faulting:
        table.add_column("faults", justify="right", no_wrap=True)
    if kernels is not None:
        table.add_column("predicted ms", justify="right", no_wrap=True)
    if estimate is not None:
        table.add_column("roofline ms", justify="right", no_wrap=True)
        table.add_column("bound", no_wrap=True)
    for r in layer_records(measured, view):
        cells = [
            r["path"],
            fused_op(r),
            ms_short(r["measured_s"]),
            percent_number(r["time_share"]),
            percent_number(r["mac_share"]),
            bar(r["time_share"] or 0.0, 12),
            f"{r['gmacs_per_s']:,.1f}" if r["macs"] else "–",
            human_bytes(r["bytes_moved"]),
            f"{r['intensity']:.1f}",
        ]
        if timing.faulting:
            cells.append(fault_count(r["page_faults"]))
        if kernels is not None:
            cells.append(_ms_or_dash(r["predicted_s"]))
        if estimate is not None:
            bound = r["bound"] or ""
            cells += [
                _ms_or_dash(r["roofline_s"]),
                Text(bound, style="yellow" if bound == "memory" else "green"),
            ]
        table.add_row(*cells)
    return Fit(table, LAYER_DROP)


def _runs_kind(timing: Timing) -> str:
    return "hooked runs" if timing.runtime == TORCH else "runs of ONNX Runtime's profiler"


def _ms_or_dash(seconds: float | None) -> str:
    return "–" if seconds is None else ms_short(seconds)


def latency_view(measured: Measured, view: View) -> Group:
    """The summary panel, and with ``view.layers`` the timed rows (where rows were timed)."""
    parts: list = [summary(measured)]
    if view.layers and measured.timing.layers:
        parts.append(layer_table(measured, view))
        parts += [note(cut)] if (cut := report.rows_cut(measured, view)) else []
        parts += predictors_caption(
            kernels=measured.kernels is not None, roofline=measured.estimate is not None
        )
    return Group(*parts)


def predictors_caption(*, kernels: bool, roofline: bool) -> list[Text]:
    """The line under a layer table naming the predictor behind each predicted column (none
    when the table has no predicted column)."""
    named = [
        *(["predicted ms: the kernel models' prediction"] if kernels else []),
        *(["roofline ms: the roofline's estimate"] if roofline else []),
    ]
    return [Text(" · ".join(named), style="dim")] if named else []


def prediction_view(predicted: Predicted, view: View) -> Group:
    """`cnnprof latency --device-profile`: the kernel models' prediction, the roofline's, and
    where the profile came from; with ``view.layers`` a row each."""
    p, roofline, device = predicted.kernels, predicted.roofline, predicted.device
    grid = panel_grid()
    memory = roofline.share_bound("memory")
    summed = "summed from the device profile's kernel models"
    grid.add_row("predicted", f"{ms_short(p.seconds)} ms", summed)
    share = f"{100 * memory:.0f} % of it in memory-bound rows"
    grid.add_row("roofline", f"{ms_short(roofline.seconds)} ms", share)
    if p.on_roofline:
        grid.add_row(
            "on the roofline",
            str(len(p.on_roofline)),
            "rows no kernel model covers: "
            + ", ".join(p.on_roofline[:4])
            + (" …" if len(p.on_roofline) > 4 else ""),
        )
    regime = device.allocator or "allocator not recorded"
    grid.add_row(
        "calibrated",
        device.measured_at[:16].replace("T", " "),
        escape(f"{device.runtime_label}; {regime}"),
    )
    grid.add_row("error", *_profile_error(device))
    parts: list = [Titled(grid, escape(prediction_title(p, device, predicted.label)))]
    if view.layers:
        table = Table(
            title=f"layers · predicted at batch {p.batch}", title_justify="left", show_edge=False
        )
        table.add_column("path", no_wrap=True)
        table.add_column("op")
        for name in ("predicted ms", "% time"):
            table.add_column(name, justify="right", no_wrap=True)
        table.add_column("time", no_wrap=True, style="cyan")
        table.add_column("roofline ms", justify="right", no_wrap=True)
        table.add_column("bound", no_wrap=True)
        for r in prediction_records(predicted):
            bound = r["bound"] or ""
            table.add_row(
                r["path"],
                r["op"],
                ms_short(r["predicted_s"]) + (" ᴿ" if r["on_roofline"] else ""),
                percent_number(r["time_share"]),
                bar(r["time_share"] or 0.0, 12),
                _ms_or_dash(r["roofline_s"]),
                Text(bound, style="yellow" if bound == "memory" else "green"),
            )
        parts.append(Fit(table, ("time", "bound", "roofline ms", "op")))
        parts += predictors_caption(kernels=True, roofline=True)
        if p.on_roofline:
            parts.append(
                Text("ᴿ no kernel model covers the row: costed on the roofline", style="dim")
            )
    if p.missing:
        parts.append(Text(incomplete_note(p.missing), style="yellow"))
    return Group(*parts)


def _profile_error(device: Peaks) -> tuple[str, str]:
    """The profile's own error and what it is, with the load it was calibrated under."""
    error = "–" if device.error is None else f"{100 * device.error:.0f} %"
    partial = f"; partial: {device.partial}" if device.partial else ""
    what = "the profile's: its kernel models' median leave-one-out error"
    return error, f"{what}; {describe_load(device.load)}{partial}"


def incomplete_note(missing: Sequence[str]) -> str:
    """The note under a prediction of an incomplete count (``missing``: `Profile.missing`):
    its figure leaves out the work no formula counted."""
    shown = "; ".join(missing[:3]) + (f"; and {len(missing) - 3} more" if len(missing) > 3 else "")
    return f"the count is incomplete ({shown}): the prediction leaves their work out"


def peaks_table(peaks: Peaks, cache: str | None = None) -> Group:
    """What `cnnprof device` shows: the device's measured roofs."""
    p = peaks
    table = Table(
        title=escape(
            f"{p.device_name} ({p.device}) · {p.dtype} · {threads(p.threads)} · {p.runtime_label}"
        ),
        title_justify="left",
    )
    table.add_column("metric")
    table.add_column("measured on")
    table.add_column("value", justify="right")
    labels = ROOF_LABELS[p.runtime]
    table.add_row("peak compute", labels.peak, f"{p.roofs.flops_per_s / 1e9:,.1f} GFLOP/s")
    for label, curve in p.conv_curves():
        for flops, rate in curve:
            table.add_row(label, flop_size(flops), f"{rate / 1e9:,.1f} GFLOP/s")
    for moved, rate in p.roofs.bandwidth:
        where = labels.bandwidth.format(moved=human_bytes(moved))
        table.add_row("bandwidth", where, f"{rate / 1e9:,.1f} GB/s")
    for moved, rate in p.roofs.layout:
        table.add_row(
            f"{p.roofs.layout_kernel} reorder",
            f"NCHW moving {human_bytes(moved)}",
            f"{rate / 1e9:,.1f} GB/s",
        )
    if labels.fault_measured:
        fault = f"{p.roofs.fault_s * 1e6:,.2f} µs"
        table.add_row("page fault", "fresh memory from the system", fault)
    for kind, rate in p.roofs.byte_ceilings:
        table.add_row("kernel ceiling", _kernel(kind), f"{rate / 1e9:,.1f} GB/s")
    for kind, rate in p.roofs.flop_ceilings:
        table.add_row("kernel ceiling", _kernel(kind), f"{rate / 1e9:,.2f} GFLOP/s")
    for kind, seconds in p.roofs.op_overhead:
        where = labels.overhead.format(kind=kind)
        table.add_row("per-op overhead", where, f"{seconds * 1e6:,.1f} µs")
    table.add_row("ridge point", "peak ÷ largest-copy bandwidth", f"{p.roofs.ridge:,.1f} FLOP/B")
    for kind, samples, loo, spread in kernel_rows(p):
        table.add_row(
            "kernel model",
            f"{kind}, {samples} samples (runs ±{100 * spread / 2:.0f} %)",
            f"{100 * loo:.1f} % error from its neighbours",
        )
    if p.allocator:
        table.add_row("allocator", "while the kernels were timed", p.allocator.split(":")[0])
    lines: list = [Fit(table)]
    where = f"cached {cache}" if cache else "not cached"
    quality = calibration_quality(p)
    lines.append(
        Text(f"measured {p.measured_at} ({quality}); {where}; --refresh remeasures", style="dim")
    )
    return Group(*lines)


def _kernel(kind: str) -> str:
    """'dwconv/channels_last' → 'dwconv 3×3, channels-last'."""
    name, _, layout = kind.partition("/")
    return f"{name} 3×3" + (f", {layout.replace('_', '-')}" if layout else "")


def present(measured: Measured, view: View) -> RenderableType:
    """A measurement as ``view`` shows it: the summary, the timed rows with ``view.layers``,
    and what could not be done; a table, or the text of another format."""
    if view.format != "table":
        return report.present(measured, view)
    return Group(latency_view(measured, view), *map(note, measured.notes))


def present_prediction(predicted: Predicted, view: View) -> RenderableType:
    """A prediction for a device profile; a row each with ``view.layers``."""
    if view.format != "table":
        return report.present_prediction(predicted, view)
    return prediction_view(predicted, view)


def present_peaks(peaks: Peaks, view: View, cache: str | None = None) -> RenderableType:
    """A device's calibration, and where it is cached."""
    if view.format != "table":
        return report_peaks.present_peaks(peaks, view)
    return peaks_table(peaks, cache)


def runtimes_view(ratio: LatencyRatio) -> Group:
    """`latency --runtime torch,onnxruntime`: each runtime's timing, interleaved, and the
    ratio of their times with its spread across rounds."""
    t = ratio.model_timing
    table = Table(
        title=escape(f"{timing_title(ratio.reference_timing)} · interleaved"),
        title_justify="left",
        show_edge=False,
    )
    table.add_column("runtime")
    for name in ("median ms", "p10 ms", "p90 ms", "CV", "runs", "images/s"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("setup")
    for timing in (ratio.model_timing, ratio.reference_timing):
        table.add_row(
            f"{timing.runtime} {timing.runtime_version}",
            ms_short(timing.median),
            ms_short(timing.p10),
            ms_short(timing.p90),
            f"{100 * timing.cv:.1f} %",
            str(timing.runs),
            f"{timing.throughput:,.1f}",
            "eager" if timing.runtime == TORCH else runtime_line(timing).partition(" · ")[2],
        )
    lines: list = [Fit(table), Text(ratio_line(ratio), style="bold")]
    if t.export:
        lines.append(Text(t.export, style="dim"))
    return Group(*lines)


def present_runtimes(ratio: LatencyRatio, view: View) -> RenderableType:
    """Two runtimes measured interleaved, as ``view`` shows them."""
    if view.format != "table":
        return runtime_report.present_runtimes(ratio, view)
    return runtimes_view(ratio)
