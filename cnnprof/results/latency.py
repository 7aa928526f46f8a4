"""What `cnnprof latency` finds: a measurement with the device's predictions beside it, or a
prediction for a saved device profile alone. Values only."""

from __future__ import annotations

from dataclasses import dataclass

from cnnprof.results.device import Estimate, Peaks, Prediction
from cnnprof.results.shown import Shown
from cnnprof.results.timing import Timing


@dataclass(frozen=True)
class Measured:
    """What `cnnprof latency` found within its budget; ``notes`` says what it could not do."""

    timing: Timing
    peaks: Peaks | None
    estimate: Estimate | None
    notes: tuple[str, ...]
    calibration_s: float | None = None  # seconds the device's peaks took, when measured now
    kernels: Prediction | None = None  # the kernel predictor's, where calibrated
    label: str = ""  # the model as the request named it, for titles ("": the timing's model)

    @classmethod
    def alone(cls, timing: Timing) -> Measured:
        """A timing with nothing predicted beside it (`count --latency`, `cnnprof.to_dict` of a
        `Timing`): the writers of a measurement take it as they take a full one."""
        return cls(timing, peaks=None, estimate=None, notes=(), label=timing.label)


@dataclass(frozen=True)
class Predicted(Shown):
    """A model's latency predicted for a device profile: the kernel models' and the roofline's
    (the roofline without the kernels torch picks, which only a run can tell)."""

    kernels: Prediction
    roofline: Estimate
    device: Peaks
    label: str = ""  # the model as the request named it, for titles ("": the prediction's model)
