"""`latency --by op` and `latency --max-depth N`: timed (or predicted) rows summed per op kind or
into their modules, grouped as `count` groups counted rows (`results.profile.grouped`): which
kind of layer, which stage, takes the time. Records and text only; nothing is measured here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from cnnprof.report.latency import (
    latency_dict,
    latency_markdown,
    prediction_document,
    prediction_markdown,
)
from cnnprof.report.profile import kinds_text
from cnnprof.report.text import to_csv, to_json, to_markdown
from cnnprof.report.units import ms_fixed, percent
from cnnprof.report.view import View, cut_line
from cnnprof.results.device import RowPrediction
from cnnprof.results.latency import Measured, Predicted
from cnnprof.results.profile import depth_key, grouped
from cnnprof.results.ranking import TIME_KEYS, ranked
from cnnprof.results.timing import LayerTime

Kinds = Mapping[str, str]  # each counted row's kind ("conv 1×1"), by its path

# Where `--max-depth` sums a node ONNX Runtime ran that is counted in no row (a layout change).
NO_ROW = "(no row)"


def group_key(view: View, kinds: Kinds) -> Callable[[LayerTime | RowPrediction], str]:
    """What a timed row is summed under: its kind (``kinds``: the count's, by path; a node in
    no row, its op) with ``view.by_op``, else its module ``view.max_depth`` levels deep."""
    if view.by_op:
        return lambda row: kinds.get(row.path, row.op)
    depth = view.max_depth or 1
    return lambda row: depth_key(row.path, depth) if row.path in kinds else NO_ROW


def _sum(name: str, rows: Sequence[LayerTime]) -> LayerTime:
    """``rows`` as one timed row (a "block"): their seconds, MACs, FLOPs and bytes added, what
    `--sort` orders groups by."""
    return LayerTime(
        path=name,
        op="block",
        seconds=sum(r.seconds for r in rows),
        macs=sum(r.macs for r in rows),
        flops=sum(r.flops for r in rows),
        bytes=sum(r.bytes for r in rows),
    )


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _of(rows: Sequence[Any], seconds: Mapping[str, float] | None) -> float | None:
    """The predicted seconds of ``rows`` added (None where nothing was predicted)."""
    return None if seconds is None else sum(seconds.get(r.path, 0.0) for r in rows)


def _named(view: View, name: str, rows: Sequence[Any], kinds: Kinds) -> dict:
    """A group's name under its key (``op_kind`` or ``path``), how many rows it sums and (in
    modules) their kinds."""
    if view.by_op:
        return {"op_kind": name, "rows": len(rows)}
    summed = tuple(dict.fromkeys(kinds.get(r.path, r.op) for r in rows))
    return {"path": name, "rows": len(rows), "kinds": list(summed)}


def measured_groups(measured: Measured, view: View, kinds: Kinds) -> list[dict[str, Any]]:
    """One record per group of timed rows, every group, largest ``view.sort`` first: their
    time and share next to their MACs and share (shares of the whole model), with the kernel
    models' and the roofline's predictions added where made."""
    timing, estimate, kernels = measured.timing, measured.estimate, measured.kernels
    groups = grouped(timing.layers, group_key(view, kinds))
    summed = tuple(_sum(name, rows) for name, rows in groups.items())
    total_s, total_macs = timing.layer_sum, sum(row.macs for row in timing.layers)
    roofline = {p: e.seconds for p, e in estimate.by_path().items()} if estimate else None
    predicted = kernels.by_path() if kernels else None
    return [
        {
            **_named(view, g.path, groups[g.path], kinds),
            "measured_s": g.seconds,
            "time_share": _share(g.seconds, total_s),
            "macs": g.macs,
            "mac_share": _share(g.macs, total_macs),
            "flops": g.flops,
            "bytes_moved": g.bytes,
            "predicted_s": _of(groups[g.path], predicted),
            "roofline_s": _of(groups[g.path], roofline),
        }
        for g in ranked(summed, TIME_KEYS, view.sort, None, "latency")
    ]


def predicted_groups(predicted: Predicted, view: View, kinds: Kinds) -> list[dict[str, Any]]:
    """One record per group of predicted rows, in network order: the kernel models' seconds
    and share, the roofline's seconds."""
    groups = grouped(predicted.kernels.layers, group_key(view, kinds))
    total = predicted.kernels.seconds
    roofline = {p: e.seconds for p, e in predicted.roofline.by_path().items()}
    records = []
    for name, members in groups.items():
        seconds = sum(r.seconds for r in members)
        records.append(
            {
                **_named(view, name, members, kinds),
                "predicted_s": seconds,
                "time_share": _share(seconds, total),
                "roofline_s": _of(members, roofline),
            }
        )
    return records


def shown(
    records: Sequence[dict[str, Any]], view: View, whole: float
) -> tuple[list[dict[str, Any]], str | None]:
    """The first ``view.top`` groups of `measured_groups`, and the line under a table that cuts
    them: how many it shows and their share of the measured time (``whole``: the rows' sum)."""
    kept = list(records[: view.top] if view.top is not None else records)
    seconds = sum(r["measured_s"] for r in kept)
    noun = "op kinds" if view.by_op else "modules"
    return kept, cut_line(len(kept), len(records), seconds, whole, "measured time", noun)


def group_title(view: View) -> str:
    """What a grouped table's rows are: op kinds, or modules to a depth."""
    return "by op" if view.by_op else f"modules to depth {view.max_depth}"


def group_headers(view: View) -> tuple[str, ...]:
    return ("op kind", "rows") if view.by_op else ("path", "rows", "kinds")


def group_cells(record: dict[str, Any]) -> tuple[str, ...]:
    """A group's name, how many rows it sums and (in modules) the kinds they are."""
    if "op_kind" in record:
        return (record["op_kind"], str(record["rows"]))
    return (record["path"], str(record["rows"]), kinds_text(record["kinds"]))


# --- as text: a measurement's, a prediction's -----------------------------------------------------


def base_view(view: View) -> View:
    """The view of what the grouped table joins: the summary, and the per-row table only with
    --layers and no --max-depth (whose table replaces it)."""
    return replace(view, layers=view.layers and view.max_depth is None)


def _flat(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records as a CSV row holds them: the kinds joined."""
    return [{**r, "kinds": " + ".join(r["kinds"])} if "kinds" in r else r for r in records]


def _key(view: View) -> str:
    return "by_op" if view.by_op else "layers"


def _measured_markdown(measured: Measured, view: View, kinds: Kinds) -> str:
    records, line = shown(measured_groups(measured, view, kinds), view, measured.timing.layer_sum)
    kernels, roofline = measured.kernels is not None, measured.estimate is not None
    body = [
        (
            *group_cells(r),
            ms_fixed(r["measured_s"]),
            percent(r["time_share"]),
            percent(r["mac_share"]),
            *([_ms_or_dash(r["predicted_s"])] if kernels else []),
            *([_ms_or_dash(r["roofline_s"])] if roofline else []),
        )
        for r in records
    ]
    headers = (*group_headers(view), "ms", "time %", "MACs %")
    right = 1 if view.by_op else 3
    headers += ("kernel models ms",) * kernels + ("roofline ms",) * roofline
    text = latency_markdown(replace(measured, notes=()), base_view(view))
    text += "\n" + to_markdown(headers, body, right) + ("" if line is None else f"\n{line}\n")
    return text + "".join(f"\n> {n}\n" for n in measured.notes)


def _measured_json(measured: Measured, view: View, kinds: Kinds) -> str:
    records = measured_groups(measured, view, kinds)
    data = latency_dict(measured, base_view(view))
    data[_key(view)] = shown(records, view, measured.timing.layer_sum)[0]
    return to_json({**data, "notes": list(measured.notes)})


def _measured_csv(measured: Measured, view: View, kinds: Kinds) -> str:
    records = measured_groups(measured, view, kinds)
    return to_csv(_flat(shown(records, view, measured.timing.layer_sum)[0]))


# A measurement with its rows summed (per op kind or into modules), as the text of each format.
MEASURED_GROUPS: Mapping[str, Callable[[Measured, View, Kinds], str]] = MappingProxyType(
    {"json": _measured_json, "csv": _measured_csv, "md": _measured_markdown}
)


def present(measured: Measured, view: View, kinds: Kinds) -> str:
    """A measurement with its timed rows summed as ``view`` asks (``kinds``: each row's kind,
    by path), as ``view.format`` text."""
    return MEASURED_GROUPS[view.format](measured, view, kinds)


def _predicted_markdown(predicted: Predicted, view: View, kinds: Kinds) -> str:
    body = [
        (
            *group_cells(r),
            ms_fixed(r["predicted_s"]),
            percent(r["time_share"]),
            _ms_or_dash(r["roofline_s"]),
        )
        for r in predicted_groups(predicted, view, kinds)
    ]
    headers = (*group_headers(view), "kernel models ms", "time %", "roofline ms")
    text = prediction_markdown(predicted, base_view(view))
    return text + "\n" + to_markdown(headers, body, right=1 if view.by_op else 3)


def _predicted_json(predicted: Predicted, view: View, kinds: Kinds) -> str:
    data = prediction_document(predicted, base_view(view))
    return to_json({**data, _key(view): predicted_groups(predicted, view, kinds)})


PREDICTED_GROUPS: Mapping[str, Callable[[Predicted, View, Kinds], str]] = MappingProxyType(
    {
        "json": _predicted_json,
        "csv": lambda p, view, kinds: to_csv(_flat(predicted_groups(p, view, kinds))),
        "md": _predicted_markdown,
    }
)


def present_prediction(predicted: Predicted, view: View, kinds: Kinds) -> str:
    """A prediction with its rows summed as ``view`` asks, as ``view.format`` text."""
    return PREDICTED_GROUPS[view.format](predicted, view, kinds)


def _ms_or_dash(seconds: float | None) -> str:
    return "–" if seconds is None else ms_fixed(seconds)
