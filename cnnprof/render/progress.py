"""The progress every command shows on stderr while it works: one bar for a command's phases, a
one-phase bar for a measurement, a spinner for a few seconds' work. Presentation only."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# Without a terminal (a CI log), a plain line at most this often, and at each new phase.
PLAIN_EVERY_S = 5.0

Report = Callable[[str, float], None]


class Bar:
    """One bar for a whole command: its phases in order, each an equal share of the bar, so the
    bar only moves forward (a phase with nothing to do, a cached calibration, is skipped over)."""

    def __init__(self, show: Callable[[str, float], None], phases: Sequence[str]) -> None:
        self._show = show
        self._phases = tuple(phases)
        self._done = 0.0

    def phase(self, name: str) -> Report:
        """The ``progress(stage, fraction)`` callback of phase ``name``."""
        index, count = self._phases.index(name), len(self._phases)

        def report(stage: str, fraction: float) -> None:
            self._done = max(self._done, (index + min(max(fraction, 0.0), 1.0)) / count)
            self._show(f"{name} · {stage}" if stage else name, self._done)

        return report


@contextlib.contextmanager
def command_bar(label: str, phases: Sequence[str]) -> Iterator[Bar]:
    """A transient bar on stderr with the phase, elapsed time and an estimate of the time left;
    without a terminal, a plain line every few seconds instead (a CI log shows progress)."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield Bar(_plain_lines(console, label), phases)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f} %"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=1.0)

        def show(stage: str, done: float) -> None:
            progress.update(task, description=f"{label} · {stage}", completed=done)

        yield Bar(show, phases)


def _plain_lines(console: Console, label: str) -> Callable[[str, float], None]:
    started = time.monotonic()
    last = {"at": -PLAIN_EVERY_S, "phase": ""}

    def show(stage: str, done: float) -> None:
        now, phase = time.monotonic(), stage.split(" · ")[0]
        if now - last["at"] < PLAIN_EVERY_S and phase == last["phase"]:
            return
        last.update(at=now, phase=phase)
        console.print(
            f"cnnprof: {label} · {stage} · {100 * done:.0f} % · {now - started:.0f} s",
            highlight=False,
            soft_wrap=True,
        )

    return show


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Report]:
    """A one-phase `command_bar`; yields the ``progress(stage, fraction)`` callback."""
    with command_bar(label, ("measuring",)) as command:
        yield command.phase("measuring")


@contextlib.contextmanager
def spinner(message: str) -> Iterator[None]:
    """A spinner on stderr for work of a few seconds (nothing without a terminal)."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield
        return
    with console.status(message):
        yield
