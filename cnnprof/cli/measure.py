"""A measurement as the commands run it: with a progress bar on the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from cnnprof.api import latency
from cnnprof.api.request import Request
from cnnprof.render.progress import progress_bar
from cnnprof.results.timing import LatencySettings, Timing


def measure(req: Request, layers: bool = False, device: str = "cpu", position: str = "") -> Timing:
    """Measured latency with random weights, for a command's --latency (imports torch, through
    the API's gate); ``position`` ("2 of 5") says where it stands in multi-model work."""
    settings = LatencySettings(device=device, layers=layers)
    with progress_bar(f"{position}: {req.label}" if position else req.label) as progress:
        return latency.measure(req, settings, progress, needs="--latency")


def measure_together(requests: Sequence[Request], device: str = "cpu") -> tuple[Timing, ...]:
    """The requests' models measured in one run, interleaved round by round, so that a change of
    load weighs on all alike and their ranking holds; one progress bar for them all."""
    label = f"{len(requests)} models, interleaved"
    with progress_bar(label) as progress:
        measured = latency.measure_together(
            requests, LatencySettings(device=device), progress, needs="--latency"
        )
    return measured.timings


def machine(needs: str = "latency in a check") -> latency.Machine:
    """This machine for latency checks, each measurement with its own progress bar."""
    return latency.machine(progress_bar, needs)
