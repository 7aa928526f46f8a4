"""Profiles as data for other programs: JSON (versioned), CSV and Markdown. Returns text only."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cnnprof.profile import FLOP_CATEGORIES, LayerCost, Profile
from cnnprof.spec.model import Published

SCHEMA = "cnnprof.profile/1"


@dataclass(frozen=True)
class Difference:
    """One row where two profiles of the same model disagree."""

    path: str
    metric: str  # "params", "macs" or "row" (present on one side only)
    left: int | None
    right: int | None


def differences(left: Profile, right: Profile) -> list[Difference]:
    """Row-by-row disagreements in params and MACs, in the left profile's order, then rows only
    the right one has."""
    right_rows = {r.path: r for r in right.rows}
    out: list[Difference] = []
    for row in left.rows:
        other = right_rows.pop(row.path, None)
        if other is None:
            out.append(Difference(row.path, "row", row.macs, None))
            continue
        for metric in ("params", "macs"):
            a, b = getattr(row, metric), getattr(other, metric)
            if a != b:
                out.append(Difference(row.path, metric, a, b))
    for path, row in right_rows.items():
        if row.params or row.macs:
            out.append(Difference(path, "row", None, row.macs))
    if left.extra_params != right.extra_params:
        out.append(Difference("(outside any row)", "params", left.extra_params, right.extra_params))
    return out


UNITS = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))


def human(value: float, digits: int = 2) -> str:
    """568740352 → '568.74 M'."""
    for scale, suffix in UNITS:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}f} {suffix}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def human_bytes(value: float) -> str:
    for scale, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= scale:
            return f"{value / scale:.2f} {suffix}"
    return f"{int(value)} B"


def totals(profile: Profile) -> dict[str, Any]:
    """The headline figures of a profile, at its batch, as plain numbers."""
    return {
        "params": profile.params,
        "params_by_kind": profile.params_by_kind,
        "buffers": profile.buffers,
        "macs": profile.macs,
        "flops": profile.flops,
        "flops_by_category": profile.flops_by_category,
        "activations": profile.activations,
        "param_bytes": profile.param_bytes,
        "peak_activation_bytes": profile.peak_activation_bytes,
        "bytes_moved": profile.bytes_moved,
    }


def row_dict(row: LayerCost, batch: int = 1) -> dict[str, Any]:
    return {
        "path": row.path,
        "op": row.op,
        "kernel": row.kernel,
        "input": row.in_shape.as_list(),
        "output": row.out_shape.as_list(),
        "params": row.params,
        "weight_params": row.weight_params,
        "bias_params": row.bias_params,
        "norm_params": row.norm_params,
        "macs": row.macs * batch,
        "flops": row.total_flops * batch,
        "flops_by_category": {k: v * batch for k, v in row.flops.items() if v},
        "activations": row.out_shape.elements * batch,
    }


def profile_dict(
    profile: Profile,
    layers: bool = False,
    by_kind: bool = False,
    published: Published | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "model": profile.model,
        "source": profile.source,
        "input": profile.input.as_list(),
        "output": profile.output.as_list(),
        "batch": profile.batch,
        "dtype": profile.dtype,
        "options": dict(profile.options),
        "totals": totals(profile),
    }
    if published is not None:
        out["published"] = {k: v for k, v in vars(published).items() if v is not None}
    if profile.ignored or profile.unsupported:
        out["ignored"] = list(profile.ignored)
        out["unsupported"] = list(profile.unsupported)
    if layers:
        out["layers"] = [row_dict(r, profile.batch) for r in profile.rows]
    if by_kind:
        out["by_op"] = [row_dict(r, profile.batch) for r in profile.by_kind().values()]
    return out


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


LAYER_COLUMNS = (
    "path",
    "op",
    "kernel",
    "input",
    "output",
    "params",
    "macs",
    "flops",
    "activations",
)
TOTAL_COLUMNS = (
    "model", "input", "batch", "dtype", "params", "weights", "biases", "norm", "buffers",
    "macs", "flops", *(f"flops_{c}" for c in FLOP_CATEGORIES),
    "param_bytes", "peak_activation_bytes",
)  # fmt: skip


def total_record(profile: Profile) -> dict[str, Any]:
    t = totals(profile)
    record = {
        "model": profile.model,
        "input": "x".join(map(str, profile.input.as_list())),
        "batch": profile.batch,
        "dtype": profile.dtype,
        "params": t["params"],
        **{k: v for k, v in t["params_by_kind"].items()},
        "buffers": t["buffers"],
        "macs": t["macs"],
        "flops": t["flops"],
        **{f"flops_{k}": v for k, v in t["flops_by_category"].items()},
        "param_bytes": t["param_bytes"],
        "peak_activation_bytes": t["peak_activation_bytes"],
    }
    return record


def layer_record(row: LayerCost, batch: int) -> dict[str, Any]:
    d = row_dict(row, batch)
    d["input"] = "x".join(map(str, d["input"]))
    d["output"] = "x".join(map(str, d["output"]))
    return {k: d[k] for k in LAYER_COLUMNS}


def to_csv(records: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def to_markdown(headers: Sequence[str], rows: Iterable[Sequence[Any]], right: int = 1) -> str:
    """A GitHub table; columns from index ``right`` on are right-aligned."""
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---" if i < right else "---:" for i in range(len(headers))) + "|")
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def profile_csv(profile: Profile, layers: bool = False, by_kind: bool = False) -> str:
    if by_kind:
        rows = profile.by_kind().values()
        return to_csv([layer_record(r, profile.batch) for r in rows], LAYER_COLUMNS)
    if layers:
        return to_csv([layer_record(r, profile.batch) for r in profile.rows], LAYER_COLUMNS)
    return to_csv([total_record(profile)], TOTAL_COLUMNS)


def profile_markdown(
    profile: Profile,
    layers: bool = False,
    by_kind: bool = False,
    published: Published | None = None,
) -> str:
    t = totals(profile)
    peak = t["peak_activation_bytes"]
    summary = [
        ("params", f"{t['params']:,}", human(t["params"])),
        ("MACs", f"{t['macs']:,}", human(t["macs"])),
        ("FLOPs", f"{t['flops']:,}", human(t["flops"])),
        ("parameter memory", f"{t['param_bytes']:,} B", human_bytes(t["param_bytes"])),
        ("peak activations", f"{peak:,} B", human_bytes(peak)),
    ]
    title = f"**{profile.model}** — input {profile.input}, batch {profile.batch}, {profile.dtype}"
    parts = [title + "\n", to_markdown(("metric", "exact", "≈"), summary)]
    if published is not None:
        parts.append(f"\nPublished ({published.source}): {published_text(published)}\n")
    if by_kind or layers:
        rows = profile.by_kind().values() if by_kind else profile.rows
        body = [
            (r.path, r.op, r.kernel, r.out_shape, human(r.params), human(r.macs * profile.batch),
             share(r.macs, profile.macs / profile.batch))
            for r in rows
        ]  # fmt: skip
        headers = ("path", "op", "kernel", "output", "params", "MACs", "MACs %")
        parts.append("\n" + to_markdown(headers, body, right=4))
    return "".join(parts)


def share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.2f} %" if whole else "–"


def published_text(p: Published) -> str:
    bits = []
    if p.macs is not None:
        bits.append(f"{p.macs / 1e6:g} M MACs")
    if p.params is not None:
        bits.append(f"{p.params / 1e6:g} M params")
    if p.top1 is not None:
        bits.append(f"top-1 {p.top1:g} %")
    return ", ".join(bits)


def cross_check_dict(check: Any) -> dict[str, Any]:
    return {
        "schema": "cnnprof.crosscheck/1",
        "agree": check.agree,
        "analytic": profile_dict(check.analytic),
        "empirical": profile_dict(check.empirical),
        "differences": [vars(d) for d in check.differences],
    }


def cross_check_records(check: Any) -> list[dict[str, Any]]:
    a, e = totals(check.analytic), totals(check.empirical)
    return [
        {"metric": key, "analytic": a[key], "empirical": e[key], "difference": e[key] - a[key]}
        for key in ("params", "macs", "flops", "buffers")
    ]


CHECK_COLUMNS = ("model", "metric", "kind", "before", "after", "delta", "limit", "status")


def check_records(results: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "model": r.model,
            "metric": r.metric,
            "kind": r.kind,
            "before": r.before,
            "after": r.after,
            "delta": round(r.delta, 6),
            "limit": r.limit,
            "status": "ok" if r.ok else "FAIL",
        }
        for r in results
    ]


def check_dict(results: Sequence[Any]) -> dict[str, Any]:
    return {
        "schema": "cnnprof.check/1",
        "passed": all(r.ok for r in results),
        "results": check_records(results),
    }


def check_markdown(results: Sequence[Any]) -> str:
    failed = sum(not r.ok for r in results)
    head = (
        f"**cnnprof check: {failed} of {len(results)} metrics over their limit** ❌\n\n"
        if failed
        else f"**cnnprof check: all {len(results)} metrics hold** ✅\n\n"
    )
    rows = [
        (r.model, r.metric, human(r.before), human(r.after), f"{100 * r.delta:+.2f} %",
         human(r.limit), "ok" if r.ok else "**FAIL**")
        for r in results
    ]  # fmt: skip
    headers = ("model", "metric", "before / limit", "after", "delta", "allowed", "status")
    return head + to_markdown(headers, rows, right=2)


# --- comparison tables: one (headers, rows) grid serves the terminal, Markdown and CSV ---------

COMPARE_METRICS = (
    ("params", "params", human),
    ("macs", "MACs", human),
    ("flops", "FLOPs", human),
    ("param_memory", "parameter memory", human_bytes),
    ("activation_memory", "peak activations", human_bytes),
    ("latency_ms", "latency median (ms)", lambda v: f"{v:.2f}"),
    ("throughput", "throughput (img/s)", lambda v: f"{v:.1f}"),
    ("trainable_params", "trainable params", human),
    ("backward_macs", "backward MACs", human),
    ("step_macs", "training step MACs", human),
    ("top1", "published top-1 (%)", lambda v: f"{v:g}"),
)


def compare_grid(comparison: Any) -> tuple[list[str], list[list[str]], list[list[float | None]]]:
    """Rows are metrics, columns models; each cell ``value (×ratio)``. Also the raw ratios."""
    cols = comparison.columns
    headers = ["metric", *(c.label for c in cols)]
    rows, ratios = [], []
    for key, title, fmt in COMPARE_METRICS:
        values = [c.value(key) for c in cols]
        if all(v is None for v in values):
            continue
        cells, line = [title], []
        for i, value in enumerate(values):
            ratio = comparison.ratio(key, i)
            line.append(ratio)
            if value is None:
                cells.append("–")
            elif i == comparison.baseline or ratio is None:
                cells.append(fmt(value))
            else:
                cells.append(f"{fmt(value)} (×{ratio:.2f})")
        rows.append(cells)
        ratios.append(line)
    return headers, rows, ratios


def compare_dict(comparison: Any) -> dict[str, Any]:
    cols = comparison.columns
    return {
        "schema": "cnnprof.compare/1",
        "baseline": cols[comparison.baseline].label,
        "models": [
            {
                "model": c.label,
                **{key: c.value(key) for key, _, _ in COMPARE_METRICS},
                "ratios": {key: comparison.ratio(key, i) for key, _, _ in COMPARE_METRICS},
            }
            for i, c in enumerate(cols)
        ],
    }


SEPARABLE_HEADERS = (
    "layer", "as written", "C_in→C_out", "k", "output", "standard MACs", "separable MACs",
    "standard params", "separable params", "ratio", "1/N + 1/k²",
)  # fmt: skip


def separable_grid(rows: Sequence[Any]) -> list[list[str]]:
    return [
        [r.path, r.written, f"{r.c_in}→{r.c_out}", f"{r.k}×{r.k}", f"{r.h}×{r.w}",
         human(r.standard_macs), human(r.separable_macs), human(r.standard_params),
         human(r.separable_params), f"{r.ratio:.4f}", f"{r.paper_ratio:.4f}"]
        for r in rows
    ]  # fmt: skip


def separable_totals(report: Any) -> list[list[str]]:
    out = []
    for name, col in (("as written", report.written), ("standard twin", report.standard),
                      ("separable twin", report.separable)):  # fmt: skip
        if col is not None:
            out.append([name, col.label, human(col.profile.macs), human(col.profile.params),
                        human(col.profile.params_by_kind["weights"])])  # fmt: skip
    return out


SEPARABLE_TOTAL_HEADERS = ("model", "reference", "MACs", "params", "weights only")


def separable_dict(report: Any) -> dict[str, Any]:
    def col(c: Any) -> Any:
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


SWEEP_FIELDS = ("params", "weight_params", "macs", "flops", "param_memory", "activation_memory",
                "latency_ms", "throughput", "paper_macs", "paper_params", "top1")  # fmt: skip
# Sweep fields left out of the terminal table (the settings columns name the model).
WIDE_ONLY = ("model", "flops", "param_memory", "activation_memory", "official")
# Terminal headers for sweep fields (JSON and CSV keep the keys).
FIELD_TITLES: dict[str, str] = {
    "resolution": "res", "weight_params": "weights", "macs": "MACs", "flops": "FLOPs",
    "param_memory": "param mem", "activation_memory": "peak act", "latency_ms": "ms",
    "throughput": "img/s", "paper_macs": "paper MACs", "paper_params": "paper params",
    "top1": "top-1", "official": "official", "official_macs": "official MACs",
    "official_params": "official params", "mnas_objective": "ACC×(LAT/T)^w", "pareto": "Pareto",
}  # fmt: skip
# How a sweep or compare cell shows each field.
FIELD_FORMATS: dict[str, Any] = {
    "params": human, "weight_params": human, "macs": human, "flops": human,
    "param_memory": human_bytes, "activation_memory": human_bytes,
    "latency_ms": lambda v: f"{v:.2f}", "throughput": lambda v: f"{v:.1f}",
    "paper_macs": lambda v: f"{v / 1e6:g} M", "paper_params": lambda v: f"{v / 1e6:g} M",
    "top1": lambda v: f"{v:g}", "official_macs": human, "official_params": human,
    "mnas_objective": lambda v: f"{v:.2f}", "pareto": lambda v: "★" if v else "",
}  # fmt: skip


def sweep_records(points: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for p in points:
        record = {"model": p.column.label, **p.settings}
        record.update({k: p.column.value(k) for k in SWEEP_FIELDS})
        if p.official is not None:
            record["official"] = p.official.label
            record["official_macs"] = p.official.profile.macs
            record["official_params"] = p.official.profile.params
        record["pareto"] = p.pareto
        if p.objective is not None:
            record["mnas_objective"] = p.objective
        out.append(record)
    return out


def sweep_grid(points: Sequence[Any], metric: str) -> tuple[list[str], list[list[str]]] | None:
    """A two-axis grid (first axis down, second across) of one metric; None if not 2-D."""
    axes = list(points[0].settings) if points else []
    if len(axes) != 2:
        return None
    rows_key, cols_key = axes
    row_values = list(dict.fromkeys(p.settings[rows_key] for p in points))
    col_values = list(dict.fromkeys(p.settings[cols_key] for p in points))
    cell = {(p.settings[rows_key], p.settings[cols_key]): p.column.value(metric) for p in points}
    fmt = dict((k, f) for k, _, f in COMPARE_METRICS)[metric]
    headers = [f"{rows_key} \\ {cols_key}", *(f"{v:g}" for v in col_values)]
    rows = [[f"{r:g}", *("–" if cell[(r, c)] is None else fmt(cell[(r, c)]) for c in col_values)]
            for r in row_values]  # fmt: skip
    return headers, rows


def training_dict(cost: Any, measured: Any = None) -> dict[str, Any]:
    out = {
        "mode": cost.mode,
        "trainable_params": cost.trainable_params,
        "frozen_params": cost.frozen_params,
        "forward_macs": cost.forward_macs,
        "backward_macs": cost.backward_macs,
        "weight_grad_macs": cost.weight_grad_macs,
        "input_grad_macs": cost.input_grad_macs,
        "step_macs": cost.step_macs,
        "saved_activation_bytes": cost.saved_activation_bytes,
        "gradient_bytes": cost.gradient_bytes,
        "optimizer_bytes": cost.optimizer_bytes,
        "trainable_rows": list(cost.trainable),
    }
    if measured is not None:
        from dataclasses import asdict

        out["measured"] = {k: v for k, v in asdict(measured).items() if k != "grouped"}
        out["measured"]["grouped_convolutions"] = len(measured.grouped)
        out["measured"]["grouped_torch_macs"] = sum(g.torch_macs for g in measured.grouped)
        out["measured"]["grouped_correct_macs"] = sum(g.correct_macs for g in measured.grouped)
    return out


def training_lines(cost: Any, measured: Any = None) -> list[tuple[str, str, str]]:
    """(label, value, note) rows for the training panel."""
    opt = cost.optimizer_bytes
    rows = [
        ("trainable params", f"{cost.trainable_params:,}", f"frozen {cost.frozen_params:,}"),
        ("forward MACs", human(cost.forward_macs), "whole network"),
        ("backward MACs", human(cost.backward_macs),
         f"weight-grad {human(cost.weight_grad_macs)} · input-grad {human(cost.input_grad_macs)}"),
        ("training step MACs", human(cost.step_macs), "forward + backward, at the batch"),
        ("kept for backward", human_bytes(cost.saved_activation_bytes), "activations"),
        ("gradients", human_bytes(cost.gradient_bytes), "one per trainable parameter"),
        ("optimizer state", f"SGD-momentum {human_bytes(opt['sgd_momentum'])}",
         f"Adam {human_bytes(opt['adam'])}"),
    ]  # fmt: skip
    if measured is not None:
        same = measured.backward_macs == cost.backward_macs
        verdict = "equals the analytic count" if same else "DIFFERS from the analytic count"
        rows.append(("measured backward", human(measured.backward_macs), verdict))
        if measured.grouped:
            wrong = sum(g.torch_macs for g in measured.grouped)
            right = sum(g.correct_macs for g in measured.grouped)
            rows.append((
                "torch's counter", human(measured.torch_backward_macs),
                f"its convolution_backward formula ignores groups: {len(measured.grouped)} "
                f"grouped convs cost {human(wrong)} there, {human(right)} groups-aware "
                f"(×{wrong / right:.0f})",
            ))  # fmt: skip
    return rows
