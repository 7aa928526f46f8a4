"""A cross-check (a model counted by formulas and as it runs) as data for other programs: JSON
(versioned), CSV and Markdown, and what explains where the two differ. Text or plain dicts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from cnnprof.report.profile import profile_dict, totals
from cnnprof.report.text import to_csv, to_json, to_markdown
from cnnprof.report.units import exact
from cnnprof.report.view import TOTALS, View
from cnnprof.results.profile import CrossCheck, FlopGap, LayerCost


def cross_check_dict(check: CrossCheck) -> dict[str, Any]:
    return {
        "schema": "cnnprof.crosscheck/1",
        "agree": check.agree,
        "complete": check.complete,
        "not_costed": {side: list(names) for side, names in check.not_costed.items()},
        "analytic": profile_dict(check.analytic),
        "empirical": profile_dict(check.empirical),
        "differences": [vars(d) for d in check.differences],
        **({"flop_differences": gaps} if (gaps := flop_gap_records(check)) else {}),
    }


def side_label(check: CrossCheck) -> str:
    """What the formula side's column is titled: an outside model's is its module walk."""
    return "module walk" if check.walked else "analytic"


# Work of each FLOP category a forward may do outside any module's formula, as a user writes it.
# fmt: off
CALLS: Mapping[str, str] = MappingProxyType({
    "mac": "products such as x @ w", "bias": "bias additions",
    "norm": "normalisations such as F.layer_norm", "act": "activations such as F.relu",
    "pool": "pooling such as F.max_pool2d", "add": "additions such as x + y",
    "scale": "scalings such as x * s", "lrn": "local response norms",
    "other": "other element-wise arithmetic",
})
# fmt: on


def gap_place(gap: FlopGap) -> str:
    """Whose forward does the FLOPs one side alone counts."""
    if gap.held:
        return "its own forward"
    return "the model's forward" if gap.path == "(root)" else "the block's forward"


def flop_gap_records(check: CrossCheck) -> list[dict[str, Any]]:
    """The rows whose FLOPs differ, by category, at the batch (``left`` the formula side's,
    ``right`` the empirical count's, as in `differences`); whose forward does the work."""
    batch = check.analytic.batch
    return [
        {
            "path": g.path,
            "category": g.category,
            "left": g.left * batch,
            "right": g.right * batch,
            "where": gap_place(g),
        }
        for g in check.flop_gaps
    ]


def flop_gap_line(check: CrossCheck) -> str | None:
    """Why the FLOPs differ, in a sentence (an outside model's: work in a forward outside its
    modules' formulas, the calls that do it); None when they do not."""
    gaps = check.flop_gaps
    if not gaps:
        return None
    delta = f"{check.empirical.flops - check.analytic.flops:+,}"
    if not check.walked:
        return f"FLOPs differ by {delta}, in these rows:"
    calls = dict.fromkeys(CALLS.get(g.category, g.category) for g in gaps if g.right > g.left)
    outside = f" ({'; '.join(calls)})" if calls else ""
    return (
        f"FLOPs differ by {delta}: the module walk costs each module by its type's formula "
        f"alone, the empirical count every op a forward runs; work a forward does outside "
        f"those formulas{outside} is in the empirical count only, in these rows:"
    )


def flop_gap_markdown(check: CrossCheck) -> str:
    """The sentence and the rows whose FLOPs differ; empty when none do."""
    line = flop_gap_line(check)
    if line is None:
        return ""
    rows = [gap_cells(r) for r in flop_gap_records(check)]
    headers = ("row", "FLOPs", "where", side_label(check), "empirical", "difference")
    return f"\n{line}\n\n" + to_markdown(headers, rows, right=3)


def gap_cells(record: dict[str, Any]) -> tuple[str, ...]:
    """A record of `flop_gap_records` as the text of its cells: row, category, where, the two
    counts and their difference."""
    left, right = record["left"], record["right"]
    counts = (f"{left:,}", f"{right:,}", f"{right - left:+,}")
    return (record["path"], record["category"], record["where"], *counts)


def verdict_line(check: CrossCheck) -> str:
    """The cross-check's verdict in one line: agreement, then what each side could not cost."""
    if check.agree:
        head = "params and MACs agree exactly"
    elif check.equal:
        head = "params and MACs equal, NOT AGREED: the empirical count is incomplete"
    else:
        head = "params or MACs DISAGREE"
    gaps = [
        f"{side} misses {', '.join(names)}" for side, names in check.not_costed.items() if names
    ]
    return "; ".join([head, *gaps])


def cross_check_records(check: CrossCheck) -> list[dict[str, Any]]:
    a, e = totals(check.analytic), totals(check.empirical)
    return [
        {"metric": key, "analytic": a[key], "empirical": e[key], "difference": e[key] - a[key]}
        for key in ("params", "macs", "flops", "buffers")
    ]


ROW_COMPARISON_COLUMNS = (
    "path",
    "op",
    "analytic_params",
    "empirical_params",
    "analytic_macs",
    "empirical_macs",
    "agree",
)


def row_comparison(check: CrossCheck) -> list[dict[str, Any]]:
    """Every row both ways (params and MACs at the batch), in the analytic order, then rows only
    the empirical count has; a side without the row reads None."""
    batch = check.analytic.batch
    theirs = {r.path: r for r in check.empirical.layers}
    records = []
    for row in check.analytic.layers:
        other = theirs.pop(row.path, None)
        records.append(_compared(row.path, row.op, row, other, batch))
    for path, other in theirs.items():  # as `differences` has it: a free row is no difference
        if other.params or other.macs:
            records.append(_compared(path, other.op, None, other, batch))
    return records


def _compared(
    path: str, op: str, left: LayerCost | None, right: LayerCost | None, batch: int
) -> dict[str, Any]:
    a_params = None if left is None else left.params
    e_params = None if right is None else right.params
    a_macs = None if left is None else left.macs * batch
    e_macs = None if right is None else right.macs * batch
    return {
        "path": path,
        "op": op,
        "analytic_params": a_params,
        "empirical_params": e_params,
        "analytic_macs": a_macs,
        "empirical_macs": e_macs,
        "agree": (a_params, a_macs) == (e_params, e_macs),
    }


def comparison_cells(record: dict[str, Any]) -> tuple[str, ...]:
    """A row of `row_comparison` as the text of its cells: path, op, the four counts, and
    whether they agree (= or ≠), in `ROW_COMPARISON_COLUMNS` order."""
    counts = (exact(record[k]) for k in ROW_COMPARISON_COLUMNS[2:-1])
    return (record["path"], record["op"], *counts, "=" if record["agree"] else "≠")


def row_comparison_markdown(check: CrossCheck) -> str:
    rows = [comparison_cells(r) for r in row_comparison(check)]
    side = side_label(check)
    headers = ("path", "op", f"params ({side})", "params (empirical)")
    headers += (f"MACs ({side})", "MACs (empirical)", "")
    return to_markdown(headers, rows, right=2)


def cross_check_document(check: CrossCheck, view: View = TOTALS) -> dict[str, Any]:
    """A cross-check's JSON document; with ``view.layers``, every row both ways."""
    data = cross_check_dict(check)
    if view.layers:
        data["layers"] = row_comparison(check)
    return data


def _cross_check_csv(check: CrossCheck, view: View) -> str:
    if view.layers:
        return to_csv(row_comparison(check), ROW_COMPARISON_COLUMNS)
    return to_csv(cross_check_records(check))


def _cross_check_markdown(check: CrossCheck, view: View) -> str:
    records = cross_check_records(check)
    headers = ("metric", side_label(check), "empirical", "difference")
    text = to_markdown(headers, [tuple(r.values()) for r in records]) + flop_gap_markdown(check)
    return text + ("\n" + row_comparison_markdown(check) if view.layers else "")


CROSS_CHECK_TEXT: Mapping[str, Callable[[CrossCheck, View], str]] = MappingProxyType(
    {
        "json": lambda check, view: to_json(cross_check_document(check, view)),
        "csv": _cross_check_csv,
        "md": _cross_check_markdown,
    }
)


def present_cross_check(check: CrossCheck, view: View) -> str:
    """Analytic against empirical as ``view.format`` text; every row with ``view.layers``."""
    return CROSS_CHECK_TEXT[view.format](check, view)
