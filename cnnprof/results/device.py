"""A device as data: the roofs it was measured to reach (`Roofs`: curves and tables, read by
size and kind), the record of one measurement (`Peaks`: the roofs plus where, when and with
what), and the roofline's predictions (`Estimate`). What an op costs on the roofs is the
roofline's model, in `cnnprof.analytic.roofline`.

Pure Python, no torch: the microbenchmark in `cnnprof.empirical.peaks` fills a `Peaks`; the roofline
in `cnnprof.analytic.roofline` reads its `Roofs`; report and render show both.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

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
    rows: tuple[LayerEstimate, ...]
    page_faults: float = 0.0  # minor page faults per forward pass, counted in the run
    faults_s: float = 0.0  # what those no row was charged for cost at the device's rate

    @property
    def rows_s(self) -> float:
        return sum(r.seconds for r in self.rows)

    @property
    def seconds(self) -> float:
        return self.rows_s + self.faults_s

    @property
    def all_faults_s(self) -> float:
        """Seconds of page faults in the prediction: the rows' own and the rest of the pass's."""
        return self.faults_s + sum(r.faults_s for r in self.rows)

    def by_path(self) -> dict[str, LayerEstimate]:
        return {r.path: r for r in self.rows}

    def share_bound(self, bound: str) -> float:
        """Share of the predicted time spent in rows with this bound."""
        total = self.seconds
        part = sum(r.seconds for r in self.rows if r.bound == bound)
        return part / total if total else 0.0


PEAKS_SCHEMA = "cnnprof.peaks/3"
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

    def conv_curves(self) -> tuple[tuple[str, Curve], ...]:
        """The convolution curves, each labelled with its kernel and output positions."""
        r = self.roofs
        return (
            (f"1×1 conv, {r.curve_pixels:,} px", r.conv_curve),
            (f"3×3 conv, {r.curve_pixels:,} px", r.kxk_curve),
            (f"1×1 conv, {r.few_pixels:,} px", r.conv_curve_few),
            (f"3×3 conv, {r.few_pixels:,} px", r.kxk_curve_few),
        )

    def to_dict(self) -> dict[str, Any]:
        """The versioned record (`cnnprof.peaks/3`): curves as lists, tables as mappings."""
        data = {k: v for k, v in asdict(self).items() if k != "roofs"}
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
        own = {f.name: data[f.name] for f in fields(cls) if f.name not in ("roofs", "peak_rounds")}
        rounds = tuple(float(v) for v in data.get("peak_rounds", ()))
        return cls(**own, roofs=Roofs(**roofs), peak_rounds=rounds)
