"""Rich renderables for the terminal: presentation only, nothing here computes a count."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cnnprof.profile import LayerCost, Profile
from cnnprof.report import human, human_bytes, published_text, share
from cnnprof.spec.model import Published

BAR_WIDTH = 20


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar with eighth-block resolution."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + ("" if rest == 0 else " ▏▎▍▌▋▊▉"[rest])


def summary(profile: Profile, title: str = "", published: Published | None = None) -> Panel:
    """The headline panel of `cnnprof count`."""
    kinds = profile.params_by_kind
    cats = {k: v for k, v in profile.flops_by_category.items() if v}
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    grid.add_column(style="dim")
    grid.add_row(
        "params", human(profile.params),
        f"weights {human(kinds['weights'])} · biases {human(kinds['biases'])} · "
        f"norm {human(kinds['norm'])}; buffers {human(profile.buffers)} (not counted)",
    )  # fmt: skip
    grid.add_row("MACs", human(profile.macs), "conv + fc multiply-accumulates")
    grid.add_row(
        "FLOPs", human(profile.flops), " · ".join(f"{k} {human(v)}" for k, v in cats.items())
    )
    grid.add_row("parameter memory", human_bytes(profile.param_bytes), profile.dtype)
    grid.add_row(
        "peak activations",
        human_bytes(profile.peak_activation_bytes),
        f"inference, batch {profile.batch}; output {profile.output}",
    )
    if published is not None:
        grid.add_row("paper", published.source, published_text(published))
    heading = title or f"{profile.model} · input {profile.input} · batch {profile.batch}"
    return Panel(grid, title=heading, title_align="left", subtitle=profile.source)


def layer_table(profile: Profile, rows: Sequence[LayerCost], grouped: bool = False) -> Table:
    """Per-row costs with a bar for each row's share of MACs."""
    b = profile.batch
    total_macs = profile.macs / b
    total_params = profile.params
    table = Table(
        title=("by op" if grouped else "layers") + f" · MACs at batch {b}",
        title_justify="left",
        show_edge=False,
    )
    table.add_column("op kind" if grouped else "path", no_wrap=True)
    if not grouped:
        table.add_column("op")
    table.add_column("kernel" if not grouped else "rows", justify="right")
    if not grouped:
        table.add_column("output", justify="right", no_wrap=True)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("% params", justify="right", no_wrap=True)
    table.add_column("MACs", justify="right", no_wrap=True)
    table.add_column("% MACs", justify="right")
    table.add_column("", no_wrap=True, style="cyan")
    counts = _counts(profile.rows) if grouped else {}
    for row in rows:
        cells = [row.path]
        if not grouped:
            cells += [row.op, row.kernel, str(row.out_shape)]
        else:
            cells += [str(counts[row.path])]
        cells += [
            human(row.params),
            share(row.params, total_params),
            human(row.macs * b),
            share(row.macs, total_macs),
            bar(row.macs / total_macs if total_macs else 0.0),
        ]
        table.add_row(*cells)
    return table


def _counts(rows: Sequence[LayerCost]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.kind] = counts.get(row.kind, 0) + 1
    return counts


def model_list(records: Sequence[dict[str, object]]) -> Table:
    table = Table(title="cnnprof registry (analytic, default input)", title_justify="left")
    for name, justify in (("name", "left"), ("aliases", "left"), ("family", "left"),
                          ("input", "right"), ("params", "right"), ("MACs", "right"),
                          ("paper", "left")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in records:
        cells = (
            str(r["name"]), ", ".join(r["aliases"]), str(r["family"]),  # type: ignore[arg-type]
            "×".join(map(str, r["input"])), human(r["params"]), human(r["macs"]),  # type: ignore
            str(r["paper"]).split(",")[0],
        )  # fmt: skip
        table.add_row(*map(Text, cells))  # Text, not str: no markup to parse (13 % of the render)
    return table


def group(*items: RenderableType) -> Group:
    return Group(*items)


def note(text: str) -> Text:
    return Text(text, style="dim")


def cross_check(check: object, limit: int = 10) -> Group:
    """Analytic and empirical side by side, then the first rows that differ."""
    a, e = check.analytic, check.empirical  # type: ignore[attr-defined]
    table = Table(title=f"{a.model}: analytic vs empirical ({e.source})", title_justify="left")
    for name in ("metric", "analytic", "empirical", "difference"):
        table.add_column(name, justify="left" if name == "metric" else "right")
    metrics = [("params", a.params, e.params), ("MACs", a.macs, e.macs),
               ("FLOPs", a.flops, e.flops), ("buffers", a.buffers, e.buffers)]  # fmt: skip
    for category in a.flops_by_category:
        left, right = a.flops_by_category[category], e.flops_by_category.get(category, 0)
        if left or right:
            metrics.append((f"  FLOPs {category}", left, right))
    for name, left, right in metrics:
        delta = "=" if left == right else f"{right - left:+,}"
        table.add_row(name, f"{left:,}", f"{right:,}", delta)
    parts: list[RenderableType] = [table]
    diffs = check.differences  # type: ignore[attr-defined]
    if diffs:
        rows = Table(title=f"first rows that differ ({len(diffs)} in all)", title_justify="left")
        for name in ("row", "metric", "analytic", "empirical"):
            rows.add_column(name, justify="left" if name in ("row", "metric") else "right")
        for d in diffs[:limit]:
            rows.add_row(d.path, d.metric, _number(d.left), _number(d.right))
        parts.append(rows)
    verdict = "params and MACs agree exactly" if check.agree else "params or MACs DISAGREE"  # type: ignore[attr-defined]
    parts.append(Text(verdict, style="green" if check.agree else "bold red"))  # type: ignore[attr-defined]
    if e.unsupported:
        parts.append(
            Text("unsupported ops (not counted): " + ", ".join(e.unsupported), style="yellow")
        )
    if e.ignored:
        parts.append(note("ignored (no arithmetic): " + ", ".join(e.ignored)))
    if a.unsupported:
        parts.append(Text("no formula for: " + ", ".join(a.unsupported), style="yellow"))
    return Group(*parts)


def _number(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def check_table(results: Sequence[object], source: str) -> Group:
    """Before / after / delta per model and metric; failing cells marked."""
    table = Table(title=f"cnnprof check {source}", title_justify="left")
    for name in ("model", "metric", "before / limit", "after", "delta", "allowed", "status"):
        table.add_column(name, justify="left" if name in ("model", "metric") else "right")
    failed = 0
    for r in results:
        ok = r.ok  # type: ignore[attr-defined]
        failed += not ok
        style = "" if ok else "bold red"
        table.add_row(
            r.model, r.metric, human(r.before), Text(human(r.after), style=style),  # type: ignore[attr-defined]
            Text(f"{100 * r.delta:+.2f} %", style=style), human(r.limit),  # type: ignore[attr-defined]
            Text("ok", style="green") if ok else Text("FAIL", style="bold red"),
        )  # fmt: skip
    verdict = (
        Text(f"{failed} of {len(results)} metrics over their limit", style="bold red")
        if failed
        else Text(f"all {len(results)} metrics hold", style="green")
    )
    return Group(table, verdict)


def grid(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> Table:
    """A plain table: the first ``left`` columns left-aligned, numbers right-aligned."""
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i < left else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def comparison(headers: Sequence[str], rows: Sequence[Sequence[str]],
               ratios: Sequence[Sequence[float | None]], baseline: str) -> Table:  # fmt: skip
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
    return table


def training(lines: Sequence[tuple[str, str, str]], mode: str) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    grid.add_column(style="dim")
    for label, value, comment in lines:
        grid.add_row(label, value, comment)
    return Panel(grid, title=f"training step · --train {mode}", title_align="left")
