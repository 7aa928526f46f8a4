"""How a latency measured in fresh processes is written: the keys every document with latency
carries (its threads, its processes, their medians and range), the words a title adds, and the
note that says when the processes disagree more than one process's runs do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cnnprof.report.units import ms_short, threads
from cnnprof.results.timing import NOISY_CV, Timing, process_record


def scalars(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its lists: a CSV row holds numbers (the process medians stay in JSON)."""
    return {k: v for k, v in record.items() if not isinstance(v, list)}


def fresh_words(timing: Timing) -> str:
    """`` · 3 processes`` in a title when timed in fresh processes (empty: one)."""
    return f" · {timing.processes} processes" if timing.processes > 1 else ""


def range_text(timing: Timing) -> str:
    """``medians 16.5–27.9 ms over 3 fresh processes``, and when that range is wider than one
    process's p10–p90, that it is the figure to trust (one process: its p10–p90)."""
    if timing.processes == 1:
        return f"p10–p90 {ms_short(timing.p10)}–{ms_short(timing.p90)} ms"
    low, high = ms_short(timing.between_min), ms_short(timing.between_max)
    text = f"medians {low}–{high} ms over {timing.processes} fresh processes"
    if timing.between_exceeds_within:
        text += (
            f", wider than one process's p10–p90 ({ms_short(timing.within_width)} ms): "
            "one run's spread understates the next run's"
        )
    return text


def noisy_words(timing: Timing) -> str:
    """What a noisy timing (`Timing.noisy`) means: ``runs vary by 36 % (over 10 %): read the
    p10–p90 range, not the median alone``."""
    return (
        f"runs vary by {100 * timing.cv:.0f} % (over {100 * NOISY_CV:.0f} %): read the p10–p90 "
        "range, not the median alone"
    )


def between_note(timing: Timing) -> str | None:
    """The sentence when the process medians range wider than one process's p10–p90."""
    if not timing.between_exceeds_within:
        return None
    return (
        f"{timing.model}: the medians of {timing.processes} fresh processes ranged "
        f"{ms_short(timing.between_min)}–{ms_short(timing.between_max)} ms, wider than one "
        f"process's p10–p90 ({ms_short(timing.within_width)} ms): one run's spread "
        "understates the next run's"
    )


def between_notes(timings: Sequence[Timing | None]) -> list[str]:
    return [n for t in timings if t is not None and (n := between_note(t))]


def measured_title(timings: Sequence[Timing | None]) -> str:
    """`` · latency at 2 threads, 3 processes`` for a table with latency measured (the first
    measured model's threads: one run measures every model at them); empty without."""
    timed = [t for t in timings if t is not None]
    if not timed:
        return ""
    first = timed[0]
    counts = sorted({t.threads for t in timed})
    shown = threads(first.threads) if len(counts) == 1 else "/".join(map(str, counts)) + " threads"
    fresh = f", {first.processes} processes" if first.processes > 1 else ""
    return f" · latency at {shown}{fresh}"


def measured_record(timings: Sequence[Timing | None]) -> dict[str, Any]:
    """A table document's latency context: its threads and processes (empty without latency)."""
    timed = [t for t in timings if t is not None]
    if not timed:
        return {}
    return {"threads": timed[0].threads, "processes": timed[0].processes}


__all__ = [
    "between_note",
    "between_notes",
    "fresh_words",
    "measured_record",
    "measured_title",
    "noisy_words",
    "process_record",
    "range_text",
    "scalars",
]
