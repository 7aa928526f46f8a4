"""A measurement as the commands run it: with a progress bar on the terminal."""

from __future__ import annotations

from cnnprof.api import latency
from cnnprof.api.request import Request
from cnnprof.render.latency import progress_bar
from cnnprof.results.timing import LatencySettings, Timing


def measure(req: Request, layers: bool = False, device: str = "cpu") -> Timing:
    """Measured latency with random weights (imports torch, through the API's gate)."""
    with progress_bar(req.label) as progress:
        return latency.measure(req, LatencySettings(device=device, layers=layers), progress)


def machine() -> latency.Machine:
    """This machine for latency checks, each measurement with its own progress bar."""
    return latency.machine(progress_bar)
