"""A device's calibration (`cnnprof device`) as data for other programs: JSON (the device
profile), CSV and Markdown; text or plain dicts only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from cnnprof.report.text import to_csv, to_json, to_markdown
from cnnprof.report.units import flop_size, human_bytes, threads
from cnnprof.report.view import View
from cnnprof.results.device import Peaks, Roofs, calibration_line
from cnnprof.results.runtime import ROOF_LABELS


def roofs_dict(roofs: Roofs) -> dict[str, Any]:
    return {
        "flops_per_s": roofs.flops_per_s,
        "bandwidth": [{"bytes": n, "bytes_per_s": b} for n, b in roofs.bandwidth],
        "conv_curve": [{"flops": f, "flops_per_s": r} for f, r in roofs.conv_curve],
        "kxk_curve": [{"flops": f, "flops_per_s": r} for f, r in roofs.kxk_curve],
        "curve_pixels": roofs.curve_pixels,
        "conv_curve_few": [{"flops": f, "flops_per_s": r} for f, r in roofs.conv_curve_few],
        "kxk_curve_few": [{"flops": f, "flops_per_s": r} for f, r in roofs.kxk_curve_few],
        "few_pixels": roofs.few_pixels,
        "layout": [{"bytes": n, "bytes_per_s": b} for n, b in roofs.layout],
        "layout_kernel": roofs.layout_kernel,
        "fault_s": roofs.fault_s,
        "byte_ceilings": dict(roofs.byte_ceilings),
        "flop_ceilings": dict(roofs.flop_ceilings),
        "op_overhead_s": dict(roofs.op_overhead),
        "ridge_flops_per_byte": roofs.ridge,
    }


def peaks_records(peaks: Peaks) -> list[dict[str, Any]]:
    """One record per measured figure of a `Peaks`: what, at which size, how much."""
    records = [
        {"metric": "compute", "size": "", "value": peaks.roofs.flops_per_s, "unit": "FLOP/s"}
    ]
    records += [
        {"metric": "bandwidth", "size": n, "value": b, "unit": "B/s"}
        for n, b in peaks.roofs.bandwidth
    ]
    records += [
        {"metric": label, "size": f, "value": r, "unit": "FLOP/s"}
        for label, curve in peaks.conv_curves()
        for f, r in curve
    ]
    reorder = f"{peaks.roofs.layout_kernel} reorder"
    records += [
        {"metric": reorder, "size": n, "value": b, "unit": "B/s"} for n, b in peaks.roofs.layout
    ]
    records.append({"metric": "page fault", "size": "", "value": peaks.roofs.fault_s, "unit": "s"})
    records += [
        {"metric": f"ceiling {k}", "size": "", "value": v, "unit": "B/s"}
        for k, v in peaks.roofs.byte_ceilings
    ]
    records += [
        {"metric": f"ceiling {k}", "size": "", "value": v, "unit": "FLOP/s"}
        for k, v in peaks.roofs.flop_ceilings
    ]
    records += [
        {"metric": f"overhead {k}", "size": "", "value": v, "unit": "s"}
        for k, v in peaks.roofs.op_overhead
    ]
    records += [
        {
            "metric": f"kernel model {label}",
            "size": samples,
            "value": loo,
            "unit": "error from its neighbours",
        }
        for label, samples, loo, _ in kernel_rows(peaks)
    ]
    return records


def kernel_rows(peaks: Peaks) -> list[tuple[str, int, float, float]]:
    """(kind, samples, median error of a sample from its neighbours, spread of the timed runs)
    per kernel model."""
    return [(k.kind, len(k.samples), k.loo_error, k.spread) for k in peaks.kernels]


def peaks_markdown(peaks: Peaks) -> str:
    title = (
        f"**{peaks.device_name}** ({peaks.device}), {peaks.dtype}, {threads(peaks.threads)}, "
        f"{calibration_line(peaks)}\n\n"
    )
    labels = ROOF_LABELS[peaks.runtime]
    rows = [("peak compute", labels.peak_short, f"{peaks.roofs.flops_per_s / 1e9:,.1f} GFLOP/s")]
    rows += [
        ("bandwidth", labels.bandwidth.format(moved=human_bytes(n)), f"{b / 1e9:,.1f} GB/s")
        for n, b in peaks.roofs.bandwidth
    ]
    rows += [
        (label, flop_size(f), f"{r / 1e9:,.1f} GFLOP/s")
        for label, curve in peaks.conv_curves()
        for f, r in curve
    ]
    rows += [
        (
            f"{peaks.roofs.layout_kernel} reorder",
            f"NCHW moving {human_bytes(n)}",
            f"{b / 1e9:,.1f} GB/s",
        )
        for n, b in peaks.roofs.layout
    ]
    if labels.fault_measured:
        fault = f"{peaks.roofs.fault_s * 1e6:.2f} µs"
        rows.append(("page fault", "fresh memory from the system", fault))
    rows += [("kernel ceiling", k, f"{v / 1e9:,.1f} GB/s") for k, v in peaks.roofs.byte_ceilings]
    rows += [("kernel ceiling", k, f"{v / 1e9:,.2f} GFLOP/s") for k, v in peaks.roofs.flop_ceilings]
    rows += [
        ("overhead", labels.overhead.format(kind=k), f"{v * 1e6:.1f} µs")
        for k, v in peaks.roofs.op_overhead
    ]
    rows += [
        ("kernel model", f"{kind}, {n} samples", f"{100 * loo:.1f} % from its neighbours")
        for kind, n, loo, _ in kernel_rows(peaks)
    ]
    return title + to_markdown(("metric", "measured on", "value"), rows, right=2)


PEAKS_TEXT: Mapping[str, Callable[[Peaks], str]] = MappingProxyType(
    {
        "json": lambda peaks: to_json(peaks.to_dict()),
        "csv": lambda peaks: to_csv(peaks_records(peaks)),
        "md": peaks_markdown,
    }
)


def present_peaks(peaks: Peaks, view: View) -> str:
    """A device's calibration as ``view.format`` text; its JSON is the device profile
    `cnnprof device --save` writes."""
    return PEAKS_TEXT[view.format](peaks)
