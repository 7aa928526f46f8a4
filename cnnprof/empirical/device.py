"""The device a measurement runs on: its clock, whether it is there and runs a dtype, what the
hardware calls itself, torch's thread count, and the process's page faults.

On CPU a run is timed with ``time.perf_counter``; on CUDA with a pair of CUDA events read after the
end event has synchronised (so queued work is never mistaken for finished work); on MPS between
two ``torch.mps.synchronize`` calls.
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Callable, Iterator
from types import MappingProxyType
from typing import Any

import torch
from torch.nn import functional as F

from cnnprof.analytic.memory import check_fits
from cnnprof.errors import OptionError
from cnnprof.files import available_bytes
from cnnprof.protocol.machine import cpu_name
from cnnprof.results.profile import Profile
from cnnprof.results.vocab import LATENCY_DTYPES, check_dtype

TORCH_DTYPES = MappingProxyType(
    {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
)


class Clock:
    """Timestamps on the host: ``perf_counter``. Subclasses take them on the device."""

    def stamp(self) -> Any:
        return time.perf_counter()

    def finish(self) -> None:
        """Wait until every stamp taken so far can be read."""

    def elapsed(self, start: Any, end: Any) -> float:
        return end - start

    def time(self, fn: Callable[[], object]) -> float:
        """Seconds one call of ``fn`` takes, its device work included."""
        start = self.stamp()
        fn()
        end = self.stamp()
        self.finish()
        return self.elapsed(start, end)


class CudaClock(Clock):
    """CUDA events on the current stream; read only after the last one has completed."""

    def stamp(self) -> Any:
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def finish(self) -> None:
        torch.cuda.synchronize()

    def elapsed(self, start: Any, end: Any) -> float:
        return start.elapsed_time(end) / 1e3  # elapsed_time is in milliseconds


class MpsClock(Clock):
    """Host time between synchronisations (MPS work is asynchronous too)."""

    def stamp(self) -> Any:
        torch.mps.synchronize()
        return time.perf_counter()


CLOCKS: MappingProxyType[str, type[Clock]] = MappingProxyType(
    {"cpu": Clock, "cuda": CudaClock, "mps": MpsClock}
)


def minor_faults() -> int | None:
    """Minor page faults of this process so far, all its threads (None where the system does
    not count them)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def check_device(device: str, dtype: str = "float32", fits: Profile | None = None) -> torch.device:
    """The torch device for ``device``, after checking it exists and runs ``dtype`` (and, with
    ``fits``, that the profile's batch fits in its free memory)."""
    check_dtype(dtype, timed=True)
    if device == "cuda" and not torch.cuda.is_available():
        why = "torch was built without CUDA" if torch.version.cuda is None else "no GPU is visible"
        raise OptionError(
            f"--device cuda: CUDA is not available (torch {torch.__version__}: {why}); "
            "use --device cpu"
        )
    if device == "mps" and not _mps_available():
        raise OptionError("--device mps: Apple's MPS backend is not available here; use cpu")
    if device not in CLOCKS:
        raise OptionError(f"--device {device}: expected one of {', '.join(CLOCKS)}")
    target = torch.device(device)
    failed = probe_failure(target, dtype)
    if failed is not None:
        runs = [d for d in LATENCY_DTYPES if d != dtype and probe_failure(target, d) is None]
        raise OptionError(
            f"--dtype {dtype}: not supported on {target.type} ({failed}); it runs "
            f"{', '.join(f'--dtype {d}' for d in runs) or 'none of them'}"
        )
    if fits is not None:
        check_memory(target, fits)
    return target


def probe_failure(device: torch.device, dtype: str) -> str | None:
    """Why a tiny convolution (a dense one and a strided depthwise one) and a matrix product in
    ``dtype`` fail on ``device`` (a kernel missing from this build); None when they run."""
    kind = TORCH_DTYPES[dtype]
    try:
        with torch.inference_mode():
            x = torch.ones(1, 4, 6, 6, dtype=kind, device=device)
            F.conv2d(x, torch.ones(4, 4, 3, 3, dtype=kind, device=device), padding=1)
            F.conv2d(x, torch.ones(4, 1, 3, 3, dtype=kind, device=device), stride=2, groups=4)
            a = torch.ones(8, 8, dtype=kind, device=device)
            torch.matmul(a, a)
    except (RuntimeError, TypeError, NotImplementedError) as exc:
        return first_line(exc) or type(exc).__name__
    return None


def check_memory(device: torch.device, profile: Profile) -> None:
    """`check_fits` on the memory ``device`` has free now: the GPU's own on CUDA, the
    machine's elsewhere."""
    free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else available_bytes()
    check_fits(profile, free, device.type)


def first_line(exc: BaseException) -> str:
    """An error's first line; empty when it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def device_name(device: str | torch.device) -> str:
    """What the hardware calls itself: the GPU's name, or the CPU's model name."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return f"Apple MPS ({platform.machine()})"
    return cpu_name()


def thread_count() -> int:
    """torch's intra-op thread count now."""
    return torch.get_num_threads()


@contextlib.contextmanager
def threads(count: int | None) -> Iterator[int]:
    """Set torch's intra-op thread count for the block (None: keep it); yield the count in
    effect; restore the previous one afterwards."""
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
