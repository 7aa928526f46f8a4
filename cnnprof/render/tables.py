"""Rich renderable of `cnnprof compare`: metrics down, models across, a bar under each value."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from cnnprof.render.common import Fit, bar


def comparison(headers: Sequence[str], rows: Sequence[Sequence[str]],
               ratios: Sequence[Sequence[float | None]], baseline: str) -> Fit:  # fmt: skip
    """Metrics down, models across; under each value a bar scaled to the largest in its row."""
    table = Table(title=f"compare · ratios to {baseline}", title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right")
    for cells, line in zip(rows, ratios, strict=True):
        known = [r for r in line if r is not None]
        top = max(known) if known else 0.0
        out = [cells[0]]
        for text, ratio in zip(cells[1:], line, strict=True):
            fill = bar(ratio / top, 12) if ratio is not None and top > 0 else ""
            out.append(f"{text}\n[cyan]{fill}[/cyan]")
        table.add_row(*out)
    return Fit(table)  # one column per model: none may leave; narrow, the names wrap
