"""What a latency's title says: the model as the user wrote it (``mobilenet@alpha=0.25``, not
the registry's ``mobilenet_v1``), the device, the batch, the dtype and the threads."""

from __future__ import annotations

from cnnprof.report.processes import fresh_words
from cnnprof.report.units import threads
from cnnprof.results.device import Peaks, Prediction
from cnnprof.results.timing import TORCH, Timing


def timing_title(timing: Timing, label: str = "") -> str:
    """``mobilenet · <cpu> (cpu) · batch 1 · float32 · 2 threads``: what a measurement was, of
    the model as ``label`` names it (as the user wrote it) when given."""
    t = timing
    layout = " · channels-last" if t.channels_last else ""
    runtime = ("" if t.runtime == TORCH else f" · {t.runtime}") + fresh_words(t)
    return (
        f"{label or t.model} · {t.device_name} ({t.device}) · batch {t.batch} · {t.dtype} · "
        f"{threads(t.threads)}{layout}{runtime}"
    )


def prediction_title(prediction: Prediction, device: Peaks, label: str = "") -> str:
    """``resnet50 · predicted for <cpu> (cpu) · batch 1 · float32 · 2 threads`` (``label``: the
    model as the user wrote it)."""
    p = prediction
    return (
        f"{label or p.model} · predicted for {device.device_name} ({device.device}) · "
        f"batch {p.batch} · {p.dtype} · {threads(p.threads)}"
    )
