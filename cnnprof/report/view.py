"""How a result is shown: its format and the view options, one value (as torchinfo's
`FormattingOptions`). Each result family has one presenter per stage: `report.<family>.present`
writes JSON, CSV and Markdown, `render.<family>.present` draws the table and hands the other
formats to report; a command only builds a `View` and emits what the presenter returns."""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("table", "json", "csv", "md")


@dataclass(frozen=True)
class View:
    """The format and what of the result to show: per-layer rows, rows grouped by op kind, their
    order and how many, and the module depth the rows are summed to."""

    format: str = "table"
    layers: bool = False
    by_op: bool = False
    sort: str | None = None
    top: int | None = None
    max_depth: int | None = None
    metric: str = "macs"  # the figure in each cell of a sweep's two-axis grid

    @property
    def grouped(self) -> bool:
        """Rows summed: per op kind (``by_op``) or into modules (``max_depth``)."""
        return self.by_op or self.max_depth is not None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format {self.format!r} is not one of {', '.join(FORMATS)}")


# What `cnnprof.to_dict` shows of a result: its totals, or every row in network order where a
# result has rows to show (a count, a prediction).
TOTALS = View(format="json")
EVERY_ROW = View(format="json", layers=True)


def cut_line(shown: int, total: int, part: float, whole: float, of: str, noun: str) -> str | None:
    """What a table cut by ``--top`` still holds, said under it: "10 of 54 rows, 87.3 % of
    MACs" (``part`` of ``whole`` in the shown rows); None when it shows every row."""
    if shown >= total:
        return None
    share = f", {100 * part / whole:.1f} % of {of}" if whole else ""
    return f"{shown} of {total} {noun}{share}"
