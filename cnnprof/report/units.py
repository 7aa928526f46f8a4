"""Numbers as people read them: 568.74 M, 5.08 MiB, 29.737 ms. One formatter per unit of
`results.metrics` (`UNIT_FORMATS`), so every table shows a metric the same way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

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


def share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.2f} %" if whole else "–"


def milliseconds(value: float) -> str:
    return f"{value:.2f}"


def per_second(value: float) -> str:
    return f"{value:.1f}"


def general(value: float) -> str:
    return f"{value:g}"


def millions(value: float) -> str:
    return f"{value / 1e6:g} M"


def fraction_as_percent(value: float) -> str:
    """0.031 → '3.1' (for a column whose header says %): a fraction's tenths of a percent."""
    return general(round(100 * value, 1))


# How each unit of `results.metrics.METRICS` is shown in a table cell.
UNIT_FORMATS: Mapping[str, Callable[[float], str]] = MappingProxyType(
    {
        "count": human,
        "bytes": human_bytes,
        "ms": milliseconds,
        "images/s": per_second,
        "%": general,
        "fraction": fraction_as_percent,
        "paper": millions,
    }
)


def threads(count: int) -> str:
    return f"{count} thread" if count == 1 else f"{count} threads"


def ms_fixed(seconds: float) -> str:
    """Seconds as milliseconds with three decimals: 0.029737 → '29.737' (Markdown, reports)."""
    return f"{seconds * 1e3:.3f}"


def ms_short(seconds: float) -> str:
    """Seconds as milliseconds for a narrow column: three decimals below 100 ms, one above."""
    return f"{seconds * 1e3:,.3f}" if seconds < 0.1 else f"{seconds * 1e3:,.1f}"


def flop_size(flops: float) -> str:
    """A probe's FLOPs: in MFLOP, in kFLOP below a tenth of one."""
    return f"{flops / 1e6:,.1f} MFLOP" if flops >= 1e5 else f"{flops / 1e3:,.0f} kFLOP"


def fault_count(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def exact(count: int | None) -> str:
    """1234567 → '1,234,567'; '–' when unknown (a row one side of a comparison lacks)."""
    return "–" if count is None else f"{count:,}"


def percent(fraction: float | None) -> str:
    """0.123 → '12.3 %'; '–' when unknown."""
    return "–" if fraction is None else f"{100 * fraction:.1f} %"


def percent_number(fraction: float | None) -> str:
    """0.123 → '12.3' (for a column whose header says %); '–' when unknown."""
    return "–" if fraction is None else f"{100 * fraction:.1f}"
