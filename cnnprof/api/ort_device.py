"""`cnnprof device --runtime onnxruntime`: the device's calibration under ONNX Runtime, from its
own cache or measured now with onnx and onnxruntime only (no torch), and cached."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType

from cnnprof.analytic import ort_predict, predictor
from cnnprof.analytic.ort_calls import Node
from cnnprof.api.kinds import Source
from cnnprof.api.machine_load import load_note
from cnnprof.api.onnx_source import OnnxSource
from cnnprof.deploy.calibrate import ORT_PLANS, calibrate
from cnnprof.deploy.ort_nodes import graph_nodes, onnxruntime_module
from cnnprof.deploy.ort_peaks import ort_cache_path, ort_peaks
from cnnprof.errors import OptionError
from cnnprof.protocol.load import load_between, snapshot
from cnnprof.protocol.machine import cpu_name
from cnnprof.protocol.records import calibrated
from cnnprof.results.device import DeviceProfile, Peaks, Prediction
from cnnprof.results.judge import Calibration
from cnnprof.results.profile import Profile
from cnnprof.results.runtime import ONNXRUNTIME, TORCH
from cnnprof.results.timing import cpu_cores
from cnnprof.results.vocab import Progress

NEEDS = "cnnprof device --runtime onnxruntime"


def ort_threads(threads: int | None) -> int:
    """The intra-op threads a calibration runs at: the ones given, else one per core this
    process may run on (`cpu_cores`, as `latency --runtime onnxruntime` runs its session)."""
    return threads if threads is not None else cpu_cores()


def ort_calibration(
    threads: int | None,
    *,
    refresh: bool = False,
    plan: str = "default",
    progress: Progress | None = None,
    notes: list[str] | None = None,
    before: Callable[[str], None] | None = None,
) -> Calibration:
    """This CPU's calibration under ONNX Runtime at ``threads`` (float32): the cached one unless
    ``refresh`` (or a plan other than the default is asked for), else measured now, with the
    machine's load over it, and cached when the judge accepts it (`judge.refusals`). ``before``
    gets, before measuring, a load that leaves fewer free cores than the threads (`load_note`)."""
    ort = onnxruntime_module(NEEDS)
    count = ort_threads(threads)
    path = ort_cache_path(cpu_name(), ort.__version__, count, "float32")

    def report(fraction: float) -> None:
        if progress is not None:
            progress("onnxruntime kernels", fraction)

    def measure() -> Peaks:
        busy = load_note(count)
        if busy is not None and before is not None:
            before(busy)
        start = snapshot()
        measured = ort_peaks(calibrate(ORT_PLANS[plan], count, report), count)
        return replace(measured, load=load_between(start, snapshot()))

    return calibrated(
        path,
        measure,
        use_cache=not refresh and plan == "default",
        uncached=lambda _: None if plan == "default" else f"a {plan} calibration is not cached",
        notes=notes,
    )


def ort_cache(measured: Peaks) -> str | None:
    """Where an ONNX Runtime calibration is cached, if it is."""
    path = ort_cache_path(
        measured.device_name, measured.runtime_version, measured.threads, measured.dtype
    )
    return str(path) if path.is_file() else None


# --- predictions for the runtime a device profile was calibrated in --------------------------


def _ort_prediction(profile: Profile, device: Peaks, source: Source | None) -> Prediction:
    nodes = None if source is None else onnx_nodes(source)
    return ort_predict.predict(profile, device, nodes)


Predictor = Callable[[Profile, Peaks, Source | None], Prediction]
PREDICTORS: Mapping[str, Predictor] = MappingProxyType(
    {
        TORCH: lambda profile, device, source: predictor.predict(profile, device),
        ONNXRUNTIME: _ort_prediction,
    }
)


def kernel_prediction(profile: Profile, device: Peaks, source: Source | None = None) -> Prediction:
    """``profile``'s latency on ``device``'s kernel models, for the runtime they were timed in
    (ONNX Runtime's on the graph it runs, read from the file where ``source`` is an ONNX
    file)."""
    return PREDICTORS[device.runtime](profile, device, source)


def check_runtime(device: DeviceProfile, runtime: str | None) -> None:
    """`OptionError` when a prediction for ``runtime`` (None: not asked for) would use a profile
    calibrated in another, or for two runtimes: a profile predicts only the runtime its kernels
    were timed in."""
    from cnnprof.api.runtimes import runtimes

    calibrated = device.peaks.runtime
    if runtime is None:
        return
    if len(runtimes(runtime)) > 1:
        raise OptionError(
            f"--runtime {runtime} with {device.name}: a profile predicts one runtime, the one "
            f"it was calibrated in ({device.peaks.runtime_label}); give --runtime {calibrated}, "
            "or leave --runtime out"
        )
    if runtime == calibrated:
        return
    raise OptionError(
        f"{device.name}: calibrated in {device.peaks.runtime_label}, it predicts {calibrated} "
        f"latency, not {runtime}; calibrate one in {runtime} (`cnnprof device --runtime "
        f"{runtime} --save FILE`), or give --runtime {calibrated} or none"
    )


def onnx_nodes(source: Source) -> tuple[Node, ...] | None:
    """An ONNX file's nodes, for predicting the graph ONNX Runtime runs; None for a model of
    another kind (predicted from its rows)."""
    if not isinstance(source, OnnxSource):
        return None
    from cnnprof.deploy.load import load_graph
    from cnnprof.deploy.shapes import shaped

    req = source.request
    model = load_graph(req.model)
    return graph_nodes(shaped(model, batch=req.batch, input=req.input, file=str(req.model)))
