"""A device as data: the roofs it was measured to reach (`Roofs`: curves and tables, read by
size and kind), the record of one measurement (`Peaks`: the roofs plus where, when and with
what), and the roofline's predictions (`Estimate`). What an op costs on the roofs is the
roofline's model, in `cnnprof.analytic.roofline`.

Pure Python, no torch: the microbenchmark in `cnnprof.empirical.peaks` fills a `Peaks`; the roofline
in `cnnprof.analytic.roofline` reads its `Roofs`; report and render show both.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import statistics
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from types import MappingProxyType
from typing import Any

from cnnprof.results.load import Load, describe_load
from cnnprof.results.runtime import ROOF_LABELS, RUNTIME_FIELDS, TORCH, runtime_fields

Curve = tuple[tuple[int, float], ...]  # (bytes moved, bytes/s) or (FLOPs, FLOP/s), ascending
Table = tuple[tuple[str, float], ...]

CHANNELS_LAST = "/channels_last"  # suffix of a ceiling measured in channels-last format


def interpolate(curve: Curve, nbytes: float) -> float:
    """A measured curve at ``nbytes``: log-linear between points, flat beyond them."""
    if nbytes <= curve[0][0]:
        return curve[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(curve):
        if nbytes <= x1:
            t = (math.log(nbytes) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return y0 + t * (y1 - y0)
    return curve[-1][1]


@dataclass(frozen=True)
class Roofs:
    """A device's measured limits at one dtype and thread count."""

    flops_per_s: float  # peak compute (large matrix product)
    conv_curve: Curve  # 1×1 convolutions: (FLOPs, FLOP/s it reaches), ascending
    bandwidth: Curve  # streaming: copy_ into an existing tensor
    op_overhead: Table  # (op kind, seconds of a tiny op of that kind)
    byte_ceilings: Table = ()  # (op kind, bytes/s) of kernels streaming slower than a copy
    flop_ceilings: Table = ()  # (op kind, FLOP/s) of kernels computing slower than a matmul
    kxk_curve: Curve = ()  # convolutions with larger kernels (3×3): (FLOPs, FLOP/s), ascending
    layout: Curve = ()  # reorders to and from a blocked layout: (bytes moved, bytes/s)
    layout_kernel: str = ""  # the convolution kernel that reorders NCHW tensors ("mkldnn")
    fault_s: float = 0.0  # seconds per minor page fault (a fresh page from the system)
    curve_pixels: int = 0  # output positions (batch × height × width) of the curves' probes
    conv_curve_few: Curve = ()  # 1×1 convolutions on few positions (a 7×7 map): FLOPs, FLOP/s
    kxk_curve_few: Curve = ()  # 3×3 convolutions on few positions
    few_pixels: int = 0  # output positions of the few-position probes

    def bytes_per_s(self, nbytes: float) -> float:
        """Streaming bandwidth for an op moving ``nbytes``."""
        return interpolate(self.bandwidth, nbytes)

    def op_bytes_ceiling(self, kind: str, channels_last: bool = False) -> float | None:
        """The measured bytes/s ceiling of an op kind's kernel, if it has one."""
        return ceiling(self.byte_ceilings, kind, channels_last)

    @property
    def dram_bytes_per_s(self) -> float:
        """Streaming bandwidth of the largest copy measured: the memory roof."""
        return self.bandwidth[-1][1]

    @property
    def cache_bytes_per_s(self) -> float:
        """Streaming bandwidth of a copy of a 1 MiB tensor (an activation at batch 1, held in
        cache): the cache roof."""
        return self.bytes_per_s(2 * 2**20)

    @property
    def ridge(self) -> float:
        """FLOPs per byte where the memory roof meets the compute roof."""
        return self.flops_per_s / self.dram_bytes_per_s


def ceiling(table: Table, kind: str, channels_last: bool) -> float | None:
    """A kind's measured figure in ``table``, its channels-last one when asked and measured."""
    ceilings = dict(table)
    if channels_last and f"{kind}{CHANNELS_LAST}" in ceilings:
        return ceilings[f"{kind}{CHANNELS_LAST}"]
    return ceilings.get(kind)


@dataclass(frozen=True)
class OpEstimate:
    """One op of a row on the roofline."""

    kind: str  # conv, dwconv, linear, pool, maxpool, norm, act, add
    flops: int
    bytes: int  # read + written
    compute_s: float
    memory_s: float
    overhead_s: float
    layout_s: float = 0.0  # reordering its input and output, before and after the kernel

    @property
    def seconds(self) -> float:
        return max(self.compute_s, self.memory_s) + self.overhead_s + self.layout_s

    @property
    def bound(self) -> str:
        return "compute" if self.compute_s >= self.memory_s + self.layout_s else "memory"


@dataclass(frozen=True)
class LayerEstimate:
    """A row's predicted time: the sum of its ops'."""

    path: str
    op: str
    flops: int  # at the batch
    bytes: int  # weights + input + output, at the batch and dtype (the profile's bytes moved)
    ops: tuple[OpEstimate, ...]
    page_faults: float = 0.0  # fresh pages the row took per pass, where counted
    faults_s: float = 0.0  # what they cost at the device's measured rate

    @property
    def seconds(self) -> float:
        return sum(o.seconds for o in self.ops) + self.faults_s

    @property
    def overhead_s(self) -> float:
        return sum(o.overhead_s for o in self.ops)

    @property
    def bound(self) -> str:
        """Compute-bound when its compute-limited ops take at least half its time; page faults
        (fresh memory from the system) count on the memory side."""
        compute = sum(o.seconds for o in self.ops if o.bound == "compute")
        return "compute" if self.ops and compute >= self.seconds - compute else "memory"

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes if self.bytes else 0.0


@dataclass(frozen=True)
class Estimate:
    """The roofline prediction of a whole profile."""

    model: str
    batch: int
    dtype: str
    layers: tuple[LayerEstimate, ...]
    page_faults: float = 0.0  # minor page faults per forward pass, counted in the run
    faults_s: float = 0.0  # what those no row was charged for cost at the device's rate

    @property
    def layers_s(self) -> float:
        return sum(r.seconds for r in self.layers)

    @property
    def seconds(self) -> float:
        return self.layers_s + self.faults_s

    @property
    def all_faults_s(self) -> float:
        """Seconds of page faults in the prediction: the rows' own and the rest of the pass's."""
        return self.faults_s + sum(r.faults_s for r in self.layers)

    def by_path(self) -> dict[str, LayerEstimate]:
        return {r.path: r for r in self.layers}

    def share_bound(self, bound: str) -> float:
        """Share of the predicted time spent in rows with this bound."""
        total = self.seconds
        part = sum(r.seconds for r in self.layers if r.bound == bound)
        return part / total if total else 0.0


CONV_FEATURES = ("batch", "in_per_group", "out", "pixels", "kernel", "stride", "groups", "lanes")
# The kernel kinds the predictor models and each one's features, in the order a sample holds them.
KERNEL_FEATURES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "conv": CONV_FEATURES,
        "pointwise": CONV_FEATURES,
        "dwconv": ("batch", "channels", "pixels", "kernel", "stride", "lanes"),
        "linear": ("rows", "in", "out"),
        "maxpool": ("planes", "in_pixels", "out_pixels", "kernel"),
        "avgpool": ("planes", "in_pixels", "out_pixels", "kernel"),
        "norm": ("elements",),
        "act": ("elements", "flops"),  # flops: per element (the activation's definition)
        "add": ("elements",),
        "reorder": ("elements",),  # ONNX Runtime: a tensor to or from its blocked layout
        "reduce": ("planes", "in_pixels", "out_pixels", "kernel"),  # … a mean over the map
    }
)
# How many work terms each kind's line is fitted over (`cnnprof.analytic.predictor.TERMS`).
KERNEL_TERMS: Mapping[str, int] = MappingProxyType(
    {
        "conv": 5,
        "pointwise": 5,
        "dwconv": 5,
        "linear": 5,
        "maxpool": 4,
        "avgpool": 4,
        "norm": 2,
        "act": 3,
        "add": 2,
        "reorder": 2,
        "reduce": 4,
    }
)
RECORD_LIMIT = 16 * 2**20  # bytes of a device record read back (a thorough one holds ~1 MB)
# lanes: the largest power of two up to 64 that divides the channels (in per group and out):
# SIMD kernels run their fast path on whole vectors of channels, and a convolution on 56
# channels runs slower per MAC than one on 64.
MAX_LANES = 64


@dataclass(frozen=True)
class KernelModel:
    """What one kind of kernel costs on a device, fitted to timed samples of it
    (`cnnprof.analytic.predictor`): a weighted least-squares line over its work terms (launch,
    multiply-accumulates, elements read and written, weights) and, on top, the residual of the
    nearest samples in log feature space. Data, not code: it travels in a device profile."""

    kind: str  # conv (k×k), pointwise (1×1), dwconv, linear, maxpool, avgpool, norm, act, add
    coefficients: tuple[float, ...]  # seconds per unit of each work term, the first the launch
    scale: tuple[float, ...]  # spread of each log feature over the samples (the distance's unit)
    samples: tuple[tuple[tuple[float, ...], float], ...]  # (log features, log residual of the line)
    spread: float = 0.0  # median (p90 − p10) / median of the samples' timed runs
    loo_error: float = 0.0  # median relative error of each sample predicted without its own
    # residual (from its neighbours'; the line is fitted on all samples)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KernelModel:
        return cls(
            kind=str(data["kind"]),
            coefficients=tuple(float(v) for v in data["coefficients"]),
            scale=tuple(float(v) for v in data["scale"]),
            samples=tuple((tuple(float(v) for v in x), float(r)) for x, r in data["samples"]),
            spread=float(data.get("spread", 0.0)),
            loo_error=float(data.get("loo_error", 0.0)),
        )


@dataclass(frozen=True)
class RowPrediction:
    path: str
    op: str
    seconds: float
    kernels: int  # kernel calls predicted (0: one module call, or the roofline)
    on_roofline: bool = False  # no kernel model covers this row: costed on the roofline


@dataclass(frozen=True)
class Prediction:
    """A profile's predicted latency on a device profile's kernel models."""

    model: str
    batch: int
    dtype: str
    device_name: str
    threads: int
    layers: tuple[RowPrediction, ...]
    # what keeps the count predicted from being complete (`Profile.missing`): work left out
    missing: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.layers)

    @property
    def on_roofline(self) -> tuple[str, ...]:
        return tuple(r.path for r in self.layers if r.on_roofline)

    def by_path(self) -> dict[str, float]:
        return {r.path: r.seconds for r in self.layers}


def roofline_note(label: str, prediction: Prediction | None) -> str | None:
    """The sentence for a prediction that costs rows no kernel model covers on the roofline
    (a guess of another kind inside the figure), or None."""
    rows = () if prediction is None else prediction.on_roofline
    if not rows:
        return None
    shown = ", ".join(rows[:3]) + (f" and {len(rows) - 3} more" if len(rows) > 3 else "")
    return (
        f"{label}: predicted_ms costs {len(rows)} row{'s' * (len(rows) != 1)} on the "
        f"roofline, no kernel model of the device profile covering them ({shown})"
    )


PEAKS_SCHEMA = "cnnprof.device/1"
CURVES = ("conv_curve", "kxk_curve", "conv_curve_few", "kxk_curve_few", "layout", "bandwidth")
TABLES = ("byte_ceilings", "flop_ceilings", "op_overhead")


@dataclass(frozen=True)
class Peaks:
    """One measurement of a device: its roofs at one dtype and thread count, and what it was."""

    device: str  # cpu, cuda, mps
    device_name: str
    torch_version: str
    threads: int
    dtype: str
    measured_at: str  # ISO 8601, UTC
    roofs: Roofs
    peak_rounds: tuple[float, ...] = ()  # the matmul peak each round of the benchmark reached
    kernels: tuple[KernelModel, ...] = ()  # the per-kernel predictor, where calibrated
    allocator: str = ""  # the allocator regime the kernels were timed in
    module_s: float = 0.0  # seconds of calling a module that does no arithmetic (nn.Identity)
    calibration_s: float = 0.0  # seconds the calibration took
    runtime: str = "torch"  # what ran the kernels: torch (eager) or onnxruntime
    runtime_version: str = ""  # the runtime's version ("": torch's, torch_version)
    run_s: float = 0.0  # ONNX Runtime: seconds a session's run adds to its nodes' …
    node_s: float = 0.0  # … and seconds it adds per node it runs
    layout_block: int = 0  # ONNX Runtime: channels per block of its blocked layout (0: none)
    load: Load | None = None  # the machine's load during the calibration (None: not recorded)
    partial: str = ""  # what a calibration cut short by its deadline left out ("": complete)

    @property
    def error(self) -> float | None:
        """The profile's error: the median of its kernel models' leave-one-out errors (None
        without kernel models)."""
        errors = [k.loo_error for k in self.kernels]
        return statistics.median(errors) if errors else None

    @property
    def runtime_label(self) -> str:
        """``torch 2.13.0`` or ``onnxruntime 1.32.0``: what the kernels were timed in."""
        return f"{self.runtime} {self.runtime_version or self.torch_version}"

    def kernel_models(self) -> dict[str, KernelModel]:
        return {k.kind: k for k in self.kernels}

    def conv_curves(self) -> tuple[tuple[str, Curve], ...]:
        """The convolution curves, labelled with their kernel and output positions (ROOF_LABELS)."""
        r = self.roofs
        if not ROOF_LABELS[self.runtime].few_curves:
            return (("1×1 conv kernels", r.conv_curve), ("k×k conv kernels", r.kxk_curve))
        return (
            (f"1×1 conv, {r.curve_pixels:,} px", r.conv_curve),
            (f"3×3 conv, {r.curve_pixels:,} px", r.kxk_curve),
            (f"1×1 conv, {r.few_pixels:,} px", r.conv_curve_few),
            (f"3×3 conv, {r.few_pixels:,} px", r.kxk_curve_few),
        )

    def to_dict(self) -> dict[str, Any]:
        """The versioned record (`cnnprof.device/1`): curves as lists, tables as mappings."""
        data = {k: v for k, v in asdict(self).items() if k not in ("roofs", "kernels")}
        if self.runtime == TORCH:  # an eager record reads as before (no runtime keys)
            for key in RUNTIME_FIELDS:
                data.pop(key)
        for key, absent in (("load", None), ("partial", "")):  # written where there is one
            if data[key] == absent:
                data.pop(key)
        data["kernels"] = [asdict(k) for k in self.kernels]
        roofs = asdict(self.roofs)
        for key in CURVES:
            roofs[key] = [list(p) for p in getattr(self.roofs, key)]
        for key in TABLES:
            roofs[key] = dict(getattr(self.roofs, key))
        return {"schema": PEAKS_SCHEMA, **data, **roofs}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Peaks:
        if data.get("schema") != PEAKS_SCHEMA:
            raise ValueError(f"not a {PEAKS_SCHEMA} record")
        roofs: dict[str, Any] = {f.name: data[f.name] for f in fields(Roofs)}
        for key in CURVES:
            roofs[key] = tuple((int(n), float(b)) for n, b in roofs[key])
        for key in TABLES:
            roofs[key] = tuple((str(k), float(v)) for k, v in roofs[key].items())
        optional = (
            *("roofs", "peak_rounds", "kernels", "allocator", "module_s", "calibration_s"),
            *("load", "partial", *RUNTIME_FIELDS),
        )
        own = {f.name: data[f.name] for f in fields(cls) if f.name not in optional}
        return cls(
            **own,
            **runtime_fields(data),
            roofs=Roofs(**roofs),
            peak_rounds=tuple(float(v) for v in data.get("peak_rounds", ())),
            kernels=tuple(KernelModel.from_dict(k) for k in data.get("kernels", ())),
            allocator=str(data.get("allocator", "")),
            module_s=float(data.get("module_s", 0.0)),
            calibration_s=float(data.get("calibration_s", 0.0)),
            load=None if data.get("load") is None else Load.from_dict(data["load"]),
            partial=str(data.get("partial", "")),
        )


@dataclass(frozen=True)
class DeviceProfile:
    """A device profile as a command or a file names it: the shipped name or the file given,
    and the calibration it holds. Predictions for it say which one they are for."""

    name: str
    peaks: Peaks

    def record(self) -> dict[str, Any]:
        """What identifies the calibration, as a baseline and a document record it, and what
        describes it (`DESCRIBING`: its error, the load it was made under)."""
        p = self.peaks
        return {
            "device_profile": self.name,
            "device": p.device,
            "device_name": p.device_name,
            "threads": p.threads,
            "dtype": p.dtype,
            "torch": p.torch_version,
            "calibrated_at": p.measured_at,
            **({} if p.runtime == TORCH else {"runtime": p.runtime_label}),
            **calibration_record(p),
        }

    @property
    def content_hash(self) -> str:
        """The SHA-256 of the calibration's content (its record, keys sorted): a baseline keeps
        it, so a profile file replaced or renamed since is never compared against silently."""
        text = json.dumps(self.peaks.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def baseline_record(self) -> dict[str, Any]:
        """`record`, with `content_hash` beside the profile's name: what a baseline keeps."""
        record = self.record()
        return {
            "device_profile": record.pop("device_profile"),
            PROFILE_HASH: self.content_hash,
            **record,
        }

    def describe(self) -> str:
        """``predicted for Test CPU, 2 threads, float32 (device profile NAME: torch …,
        calibrated …, error 7 %, load 0.3, others 2 % CPU)``."""
        p = self.peaks
        return (
            f"predicted for {p.device_name}, {p.threads} thread{'s' * (p.threads != 1)}, "
            f"{p.dtype} (device profile {self.name}: {calibration_line(p)})"
        )


# The key of a baseline's prediction record holding its device profile's `content_hash`.
PROFILE_HASH = "profile_sha256"
# The keys of `DeviceProfile.record` that describe a calibration rather than name it: a baseline
# recorded without them holds the same calibration.
DESCRIBING = ("profile_error", "calibration_load")


def calibration_record(peaks: Peaks, flat: bool = False) -> dict[str, Any]:
    """How far a calibration's kernel models are from their own samples (the profile's error,
    a fraction) and the load it was made under, as documents record them (`DESCRIBING`); with
    ``flat``, the load spread over ``calibration_load.*`` columns (a CSV row holds no mapping;
    empty where it was not recorded)."""
    load = None if peaks.load is None else peaks.load.to_dict()
    if not flat:
        return {"profile_error": peaks.error, "calibration_load": load}
    columns = load or dict.fromkeys(asdict(Load(0, 0, 0, 1)))
    return {"profile_error": peaks.error} | {f"calibration_load.{k}": v for k, v in columns.items()}


def calibration_quality(peaks: Peaks) -> str:
    """``error 7 %, load 0.3, others 2 % CPU``: how close a calibration's kernel models came to
    their own samples (the profile's error), the load it was made under, and what a calibration
    cut short left out."""
    error = peaks.error
    told = "error not recorded" if error is None else f"error {100 * error:.0f} %"
    partial = f", partial: {peaks.partial}" if peaks.partial else ""
    return f"{told}, {describe_load(peaks.load)}{partial}"


def calibration_line(peaks: Peaks) -> str:
    """``torch 2.13.0, calibrated 2026-11-29T22:54:47+00:00, error 7 %, load 0.3, others 2 %
    CPU``: what a calibration was made with, when, and `calibration_quality`."""
    return f"{peaks.runtime_label}, calibrated {peaks.measured_at}, {calibration_quality(peaks)}"


@dataclass(frozen=True)
class DeviceQuery:
    """Which device calibration to read or measure, and how: the device kind and the dtype and
    thread count (None: torch's current one) it runs in; ``refresh`` measures afresh,
    ``thorough`` afresh on more samples; ``within`` bounds a measurement in seconds (None: no
    bound); ``cached_only`` reads the cache and measures nothing."""

    device: str = "cpu"
    dtype: str = "float32"
    threads: int | None = None
    refresh: bool = False
    thorough: bool = False
    within: float | None = None
    cached_only: bool = False
