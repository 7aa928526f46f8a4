"""The load on this machine as a command tells it before measuring: a note when other processes
leave fewer free cores than the threads asked (`cnnprof.protocol.load`, no runtime)."""

from __future__ import annotations

from cnnprof.errors import MissingExtra
from cnnprof.protocol.load import sample_load
from cnnprof.results.judge import OTHERS_SLACK
from cnnprof.results.load import Load
from cnnprof.results.timing import ONNXRUNTIME, TORCH, cpu_cores


def _torch() -> None:
    from cnnprof.api.sources import require_torch

    require_torch("torch")


def _onnxruntime() -> None:
    from cnnprof.deploy.ort import onnxruntime

    onnxruntime("onnxruntime")


# Runtime → its gate: the trial import that refuses (`MissingExtra`) when it is missing or broken.
_IMPORT = {TORCH: _torch, ONNXRUNTIME: _onnxruntime}


def importable(runtime: str) -> bool:
    """Whether ``runtime`` imports here: when it does not, its measurement refuses in one line
    (and nothing need be said before that line)."""
    try:
        _IMPORT[runtime]()
    except MissingExtra:
        return False
    return True


def load_note(threads: int | None, load: Load | None = None, runtime: str = TORCH) -> str | None:
    """The sentence to say before measuring at ``threads`` (None: one per core) in ``runtime``
    when the load on the machine (``load``, else sampled now for `LOAD_WINDOW_S`) leaves fewer
    free cores than that, by more than the judge's `OTHERS_SLACK`; None when it leaves enough,
    or is unknown, or the runtime does not import (the measurement then refuses in one line,
    with nothing said before it; it imports the runtime next, so importing it here costs
    nothing)."""
    if not importable(runtime):
        return None
    load = load or sample_load()
    asked = threads or cpu_cores()
    if load is None or load.free_cores >= asked - OTHERS_SLACK:  # a little load is no crowd
        return None
    advice = "a quieter machine" if asked == 1 else "`--threads 1` or a quieter machine"
    return (
        f"the machine is busy ({load.describe()}): about {load.free_cores:.1f} of its "
        f"{load.cores} cores are free for {asked} thread{'s' * (asked != 1)}, and the times "
        f"will vary with the load; {advice} gives steadier ones"
    )
