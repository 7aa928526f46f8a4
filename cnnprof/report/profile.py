"""Profiles and cross-checks as data for other programs: JSON (versioned), CSV and Markdown.
Returns text or plain dicts only."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from operator import attrgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cnnprof.arch.model import Published
from cnnprof.report.onnx_file import onnx_dict, onnx_notes
from cnnprof.report.text import to_csv, to_json, to_markdown
from cnnprof.report.units import human, human_bytes, share
from cnnprof.report.view import EVERY_ROW, TOTALS, View, cut_line
from cnnprof.results.profile import LayerCost, Profile, depth_key, distinct_kinds, grouped

if TYPE_CHECKING:
    from cnnprof.results.timing import Timing

SCHEMA = "cnnprof.profile/2"


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
        "kernel": row.kernel_text,
        "input": row.in_shape.as_list(),
        "output": row.out_shape.as_list(),
        "params": row.params,
        "weight_params": row.weight_params,
        "bias_params": row.bias_params,
        "norm_params": row.norm_params,
        "macs": row.macs * batch,
        "flops": row.flops * batch,
        "flops_by_category": {k: v * batch for k, v in row.flops_by_category.items() if v},
        "activations": row.out_shape.elements * batch,
    }


def shown_rows(profile: Profile, view: View, by_kind: bool = False) -> tuple[LayerCost, ...]:
    """The layer rows (or the rows summed per kind) a listing shows, in ``view``'s order and
    number."""
    from cnnprof.results.ranking import COUNT_KEYS, ranked

    rows = tuple(profile.by_kind().values()) if by_kind else profile.layers
    return ranked(rows, COUNT_KEYS, view.sort, view.top, "count")


# What a cut table's share is of: the key its rows are sorted by (MACs when unsorted).
SHARE_OF: Mapping[str, str] = MappingProxyType(
    {"macs": "MACs", "params": "params", "flops": "FLOPs", "activations": "activations"}
)


def cut_summary(profile: Profile, view: View, by_kind: bool = False) -> str | None:
    """The line under a table ``view.top`` cuts: how many of the rows (or op kinds) it shows
    and their share of what they are sorted by (the MACs when unsorted); None when it shows
    them all."""
    from cnnprof.results.ranking import COUNT_KEYS

    every = tuple(profile.by_kind().values()) if by_kind else profile.layers
    shown = shown_rows(profile, view, by_kind)
    key = view.sort if view.sort in SHARE_OF else "macs"
    part, whole = (sum(map(COUNT_KEYS[key], rows)) for rows in (shown, every))
    noun = "op kinds" if by_kind else "rows"
    return cut_line(len(shown), len(every), part, whole, SHARE_OF[key], noun)


def depth_members(profile: Profile, depth: int | None) -> dict[str, list[LayerCost]]:
    """The rows each row summed to ``depth`` holds, by its path (none without a depth)."""
    return profile.depth_groups(depth) if depth else {}


def kinds_text(kinds: Sequence[str], most: int = 3) -> str:
    """What a summed row sums, as text: "dwconv 3×3 + conv 1×1"; past ``most`` kinds, the
    first ones and how many more."""
    if len(kinds) <= most:
        return " + ".join(kinds)
    return " + ".join(kinds[: most - 1]) + f" + {len(kinds) - most + 1} more"


def kinds_cell(row: LayerCost, members: Mapping[str, Sequence[LayerCost]]) -> str:
    """What a row summed to a depth holds, as its table cell: its kind ("conv 7×7"), or the
    kinds of the rows it sums ("conv 1×1 + conv 3×3")."""
    return kinds_text(distinct_kinds(members[row.path]))


def kind_counts(profile: Profile) -> dict[str, int]:
    """How many rows each kind ("conv 1×1", "dwconv 3×3" …) sums."""
    return {kind: len(rows) for kind, rows in grouped(profile.layers, attrgetter("kind")).items()}


def profile_dict(
    profile: Profile, view: View = TOTALS, published: Published | None = None
) -> dict[str, Any]:
    """A profile as plain data: what was counted, its totals and notes, with ``published``
    figures where given, and the rows (``view.layers``) and rows per kind (``view.by_op``)."""
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "model": profile.model,
        "source": profile.source,
        "input": profile.input.as_list(),
        **({"input_from": profile.input_from} if profile.input_from else {}),
        "output": profile.output.as_list(),
        "batch": profile.batch,
        "dtype": profile.dtype,
        "options": dict(profile.options),
        "totals": totals(profile),
    }
    if published is not None:
        out["published"] = {k: v for k, v in vars(published).items() if v is not None}
    out["complete"] = profile.complete
    if profile.missing:
        out["missing"] = list(profile.missing)
    if profile.ignored or profile.unsupported:
        out["ignored"] = list(profile.ignored)
        out["unsupported"] = list(profile.unsupported)
    out.update(outside_dict(profile))
    if view.layers:
        out["layers"] = [row_dict(r, profile.batch) for r in shown_rows(profile, view)]
    if view.by_op:
        out["by_op"] = kind_records(profile, view)
    return out


# A row summed per kind has no single path, op, kernel or shape: these stay out of its record.
PER_ROW_ONLY = frozenset({"path", "op", "kernel", "input", "output", "activations"})


def kind_records(profile: Profile, view: View) -> list[dict[str, Any]]:
    """One record per kind of row ``view`` shows: the kind, how many rows it sums, their
    costs."""
    counts, batch = kind_counts(profile), profile.batch
    return [
        {
            "op_kind": r.path,
            "rows": counts[r.path],
            **{k: v for k, v in row_dict(r, batch).items() if k not in PER_ROW_ONLY},
        }
        for r in shown_rows(profile, view, by_kind=True)
    ]


def outside_dict(profile: Profile) -> dict[str, Any]:
    """How an outside model was counted: its inputs, where it ran, what eval skipped."""
    out: dict[str, Any] = {}
    if profile.inputs:
        out["inputs"] = [list(s) for s in profile.inputs]
    if profile.counted_on and profile.counted_on != "meta":
        out["counted_on"] = profile.counted_on
    if profile.not_run_in_eval:
        out["not_run_in_eval"] = list(profile.not_run_in_eval)
    if profile.several_outputs:
        out["outputs"] = {name: list(dims) for name, dims in profile.outputs}
    return {**out, **onnx_dict(profile)}


def input_label(profile: Profile) -> str:
    """The input as a title shows it; an outside model's with where it came from (a spec's is
    its own)."""
    origin = f" ({profile.input_from})" if profile.inputs and profile.input_from else ""
    return profile.input_text + origin


def notes(profile: Profile) -> list[str]:
    """One line each: what is missing from the count, what eval skipped, where it ran."""
    lines = [f"INCOMPLETE: {m}" for m in profile.missing]
    if profile.not_run_in_eval:
        lines.append("not run in eval (parameters counted): " + ", ".join(profile.not_run_in_eval))
    if profile.counted_on and profile.counted_on != "meta":
        lines.append(f"counted on {profile.counted_on}")
    return lines + onnx_notes(profile)


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

BY_OP_COLUMNS = ("op_kind", "rows", "params", "macs", "flops")


def total_record(profile: Profile) -> dict[str, Any]:
    t = totals(profile)
    record = {
        "model": profile.model,
        "input": str(profile.input),
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


def layer_record(
    row: LayerCost, batch: int, members: Mapping[str, Sequence[LayerCost]]
) -> dict[str, Any]:
    """A row as CSV holds it: shapes as the tables write them (``32×112×112``); summed to a
    depth (``members``), how many rows it sums and their kinds."""
    d = row_dict(row, batch) | {"input": str(row.in_shape), "output": str(row.out_shape)}
    record = {k: d[k] for k in LAYER_COLUMNS}
    if members:
        group = members[row.path]
        record |= {"rows": len(group), "kinds": " + ".join(distinct_kinds(group))}
    return record


def shown_seconds(profile: Profile, view: View, timing: Timing) -> list[float | None]:
    """The measured seconds of each row `shown_rows` shows, summed over the rows it sums (of
    its kind with ``view.by_op``, of its module with ``view.max_depth``); None where no row of
    it was timed."""
    seconds, depth = timing.by_path(), view.max_depth
    if view.by_op:
        key, shown = attrgetter("kind"), shown_rows(profile, view, by_kind=True)
    else:
        key, shown = _container(depth), shown_rows(summed(profile, depth), view)
    timed = grouped((r for r in profile.layers if r.path in seconds), key)
    return [sum(seconds[t.path] for t in timed[r.path]) if r.path in timed else None for r in shown]


def _container(depth: int | None) -> Callable[[LayerCost], str]:
    """A row's module ``depth`` levels deep (without a depth, the row itself)."""
    return lambda row: depth_key(row.path, depth) if depth else row.path


def profile_csv(profile: Profile, view: View, timing: Timing | None = None) -> str:
    """One table: the rows summed to ``view.max_depth`` (``view.layers``), the rows summed per
    kind (``view.by_op``) or the totals. With a measured ``timing`` the rows get their measured
    milliseconds and the totals the median and throughput."""
    shown = summed(profile, view.max_depth)
    if not (view.layers or view.by_op):
        record = total_record(shown)
        if timing is not None:
            record.update(
                latency_ms=round(timing.median * 1e3, 4), throughput=round(timing.throughput, 2)
            )
        return to_csv([record])
    if view.by_op:
        records = [{k: r[k] for k in BY_OP_COLUMNS} for r in kind_records(shown, view)]
        columns = list(BY_OP_COLUMNS)
    else:
        members = depth_members(profile, view.max_depth)
        records = [layer_record(r, shown.batch, members) for r in shown_rows(shown, view)]
        columns = [*LAYER_COLUMNS, *(("rows", "kinds") if members else ())]
    if timing is not None:
        for record, seconds in zip(records, shown_seconds(profile, view, timing), strict=True):
            record["latency_ms"] = None if seconds is None else round(seconds * 1e3, 4)
        columns.append("latency_ms")
    return to_csv(records, columns)


def profile_markdown(profile: Profile, view: View, timing: Timing | None = None) -> str:
    """The totals, the paper's figure, the notes, the rows per kind (``view.by_op``) and the
    rows summed to ``view.max_depth`` (``view.layers``), then ``timing``'s latency when
    measured."""
    shown = summed(profile, view.max_depth)
    t = totals(shown)
    peak = t["peak_activation_bytes"]
    summary = [
        ("params", f"{t['params']:,}", human(t["params"])),
        ("MACs", f"{t['macs']:,}", human(t["macs"])),
        ("FLOPs", f"{t['flops']:,}", human(t["flops"])),
        ("parameter memory", f"{t['param_bytes']:,} B", human_bytes(t["param_bytes"])),
        ("peak activations", f"{peak:,} B", human_bytes(peak)),
    ]
    title = f"**{shown.model}** — input {input_label(shown)}, batch {shown.batch}, {shown.dtype}"
    parts = [title + "\n", to_markdown(("metric", "exact", "≈"), summary)]
    if shown.published is not None:
        paper = shown.published
        parts.append(f"\nPublished ({paper.source}): {published_text(paper)}\n")
    parts += [f"\n{line}\n" for line in notes(shown)]
    if view.by_op:  # by op first, then every row: the terminal's order
        parts.append("\n" + kinds_markdown(shown, view))
    if view.layers:
        parts.append("\n" + rows_markdown(shown, view, depth_members(profile, view.max_depth)))
    if timing is not None:  # imported only when measured: a count stays light
        from cnnprof.report.latency import latency_markdown
        from cnnprof.results.latency import Measured

        parts.append("\n" + latency_markdown(Measured.alone(timing)))
    return "".join(parts)


def kinds_markdown(profile: Profile, view: View) -> str:
    """The rows summed per kind ``view`` shows: how many each sums, their costs and share of
    the MACs; under a table ``view.top`` cuts, how much of it shows."""
    counts, batch = kind_counts(profile), profile.batch
    body = [
        (
            r.path,
            counts[r.path],
            human(r.params),
            human(r.macs * batch),
            human(r.flops * batch),
            share(r.macs, profile.macs / batch),
        )
        for r in shown_rows(profile, view, by_kind=True)
    ]
    headers = ("op kind", "rows", "params", "MACs", "FLOPs", "MACs %")
    return to_markdown(headers, body) + _cut_markdown(cut_summary(profile, view, by_kind=True))


def rows_markdown(profile: Profile, view: View, members: Mapping[str, Sequence[LayerCost]]) -> str:
    """The rows ``view`` shows; summed to a depth (``members``), how many rows each sums and
    their kinds in place of op and kernel; under a table ``view.top`` cuts, how much of it
    shows."""
    batch = profile.batch
    body = [
        (
            r.path,
            *((len(members[r.path]), kinds_cell(r, members)) if members else (r.op, r.kernel_text)),
            r.in_shape,
            r.out_shape,
            human(r.params),
            human(r.macs * batch),
            share(r.macs, profile.macs / batch),
        )
        for r in shown_rows(profile, view)
    ]
    named = ("rows", "kinds") if members else ("op", "kernel")
    headers = ("path", *named, "input", "output", "params", "MACs", "MACs %")
    return to_markdown(headers, body, right=4) + _cut_markdown(cut_summary(profile, view))


def _cut_markdown(line: str | None) -> str:
    return "" if line is None else f"\n{line}\n"


def summed(profile: Profile, depth: int | None) -> Profile:
    """``profile`` with its rows summed into modules at most ``depth`` levels deep (all rows
    without a depth); no total changes."""
    return replace(profile, layers=tuple(profile.at_depth(depth))) if depth else profile


def profile_document(
    profile: Profile, view: View = EVERY_ROW, timing: Timing | None = None
) -> dict[str, Any]:
    """A count's JSON document (`count --format json`, `cnnprof.to_dict`): the rows ``view``
    shows, the paper's figure where the profile has one, ``timing``'s latency when measured."""
    data = profile_dict(summed(profile, view.max_depth), view, profile.published)
    data["totals"] = totals(profile)
    members = depth_members(profile, view.max_depth)
    for record in data.get("layers", []) if members else []:
        group = members[record["path"]]
        record.update(rows=len(group), kinds=list(distinct_kinds(group)))
    if timing is not None:  # imported only when measured: a count stays light
        from cnnprof.report.latency import layer_records, summary_record
        from cnnprof.results.latency import Measured

        measured = Measured.alone(timing)
        data["latency"] = summary_record(measured)
        if view.layers:
            data["latency"]["layers"] = layer_records(measured)
    return data


# A count (with its measured latency, if any) as the text of each format.
PROFILE_TEXT: Mapping[str, Callable[[Profile, View, Timing | None], str]] = MappingProxyType(
    {
        "json": lambda p, view, timing: to_json(profile_document(p, view, timing)),
        "csv": profile_csv,
        "md": profile_markdown,
    }
)


def present(profile: Profile, view: View, timing: Timing | None = None) -> str:
    """A count as ``view.format`` text (json, csv or md), the rows ``view`` shows."""
    return PROFILE_TEXT[view.format](profile, view, timing)


def published_text(p: Published) -> str:
    bits = []
    if p.macs is not None:
        bits.append(f"{p.macs / 1e6:g} M MACs")
    if p.params is not None:
        bits.append(f"{p.params / 1e6:g} M params")
    if p.top1 is not None:
        bits.append(f"top-1 {p.top1:g} %")
    return ", ".join(bits)
