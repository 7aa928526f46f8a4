"""The runtime a latency was measured in, as data: what ran the model (torch eager, or ONNX
Runtime with its version, execution provider and graph optimisation level), the per-node times
ONNX Runtime's profiler gave, and two runtimes measured interleaved (`LatencyRatio`: ONNX
Runtime's time over eager's) as JSON, CSV and Markdown.

A torch timing's documents carry no runtime keys (torch is the default, and its version is the
``torch`` key); an ONNX Runtime timing's carry every one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from cnnprof.report.text import to_csv, to_json, to_markdown
from cnnprof.report.units import ms_fixed, percent, threads
from cnnprof.report.view import View
from cnnprof.results.interleaved import LatencyRatio
from cnnprof.results.timing import TORCH, Timing

RUNTIMES_SCHEMA = "cnnprof.runtimes/1"


def runtime_line(timing: Timing) -> str:
    """``torch 2.13.0``, or ``onnxruntime 1.32.0 · CPUExecutionProvider · ORT_ENABLE_ALL``."""
    if timing.runtime == TORCH:
        return f"torch {timing.torch_version}"
    return (
        f"{timing.runtime} {timing.runtime_version} · {timing.execution_provider} · "
        f"{timing.graph_optimization}"
    )


def runtime_record(timing: Timing) -> dict[str, Any]:
    """The runtime's keys of a latency document (none for torch eager)."""
    if timing.runtime == TORCH:
        return {}
    return {**timing.runtime_facts(), "inter_op_threads": 1, "export": timing.export or None}


def node_summary(timing: Timing) -> dict[str, Any]:
    """The per-node figures of an ONNX Runtime timing: their sum against the median."""
    total = sum(n.seconds for n in timing.nodes)
    return {
        "profiled_runs": timing.layer_runs,
        "node_sum_s": total,
        "node_ratio": total / timing.median if timing.median else None,
        "fused_nodes": sum(1 for n in timing.nodes if n.fused),
    }


def node_records(timing: Timing) -> list[dict[str, Any]]:
    """One record per node ONNX Runtime ran: its op, median time, the model's nodes it runs
    (more than one: fused) and the row its time is counted in."""
    return [
        {
            "name": n.name,
            "op": n.op,
            "measured_s": n.seconds,
            "fused": n.fused,
            "covers": list(n.covers),
            "row": n.row or None,
        }
        for n in timing.nodes
    ]


def fused_op(record: Mapping[str, Any]) -> str:
    """A timed row's op, and the row whose fused kernel runs it where ONNX Runtime fused it."""
    into = record.get("fused_into")
    return f"{record['op']} (fused into {into})" if into else record["op"]


def node_sum_line(timing: Timing) -> str:
    """``nodes sum to 94.1 % of the median (50 profiled runs, ONNX Runtime's profiler; 12
    fused kernels)``."""
    summary = node_summary(timing)
    return (
        f"nodes sum to {percent(summary['node_ratio'])} of the median "
        f"({summary['profiled_runs']} profiled runs, ONNX Runtime's profiler; "
        f"{summary['fused_nodes']} fused kernel{'' if summary['fused_nodes'] == 1 else 's'})"
    )


# --- two runtimes, interleaved ---------------------------------------------------------------


def runtimes_records(ratio: LatencyRatio) -> list[dict[str, Any]]:
    """One record per runtime: its timing's figures."""
    return [
        {
            "runtime": t.runtime,
            "version": t.runtime_version,
            "median_s": t.median,
            "p10_s": t.p10,
            "p90_s": t.p90,
            "cv": t.cv,
            "noisy": t.noisy,
            "runs": t.runs,
            "throughput": t.throughput,
        }
        for t in (ratio.model_timing, ratio.reference_timing)
    ]


def runtimes_dict(ratio: LatencyRatio) -> dict[str, Any]:
    """Both runtimes' timings and ONNX Runtime's time over eager's, round by round."""
    t = ratio.model_timing
    return {
        "schema": RUNTIMES_SCHEMA,
        "model": t.model,
        "device": t.device,
        "device_name": t.device_name,
        "threads": t.threads,
        "dtype": t.dtype,
        "batch": t.batch,
        **runtime_record(t),
        "runtimes": runtimes_records(ratio),
        "ratio": {
            "of": f"{t.runtime} / {ratio.reference}",
            "median": ratio.median,
            "p10": ratio.p10,
            "p90": ratio.p90,
            "rounds": ratio.rounds,
            "per_round": list(ratio.ratios),
        },
    }


def ratio_line(ratio: LatencyRatio) -> str:
    """``onnxruntime takes 0.41× torch's time (p10–p90 0.39–0.44, 8 rounds): 2.44× faster``."""
    m = ratio.median
    verdict = f"{1 / m:.2f}× faster" if m < 1 else f"{m:.2f}× slower"
    if ratio.p10 <= 1 <= ratio.p90:
        verdict = "no difference this run can tell"
    return (
        f"{ratio.model_timing.runtime} takes {m:.2f}× {ratio.reference}'s time "
        f"(p10–p90 {ratio.p10:.2f}–{ratio.p90:.2f}, {ratio.rounds} rounds): {verdict}"
    )


def runtimes_markdown(ratio: LatencyRatio) -> str:
    t = ratio.model_timing
    title = (
        f"**{t.model}** — {t.device_name} ({t.device}), batch {t.batch}, {t.dtype}, "
        f"{threads(t.threads)}, interleaved\n\n"
    )
    rows = [
        (
            r["runtime"],
            r["version"],
            f"{ms_fixed(r['median_s'])} ms",
            f"{ms_fixed(r['p10_s'])} / {ms_fixed(r['p90_s'])} ms",
            f"{100 * r['cv']:.1f} %",
            str(r["runs"]),
        )
        for r in runtimes_records(ratio)
    ]
    table = to_markdown(("runtime", "version", "median", "p10 / p90", "CV", "runs"), rows, 2)
    notes = [ratio_line(ratio)] + ([t.export] if t.export else [])
    return title + table + "".join(f"\n> {n}\n" for n in notes)


RUNTIMES_TEXT: Mapping[str, Callable[[LatencyRatio], str]] = MappingProxyType(
    {
        "json": lambda ratio: to_json(runtimes_dict(ratio)),
        "csv": lambda ratio: to_csv(runtimes_records(ratio)),
        "md": runtimes_markdown,
    }
)


def present_runtimes(ratio: LatencyRatio, view: View) -> str:
    """Two runtimes measured interleaved as ``view.format`` text (json, csv or md)."""
    return RUNTIMES_TEXT[view.format](ratio)
