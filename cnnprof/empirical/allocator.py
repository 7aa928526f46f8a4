"""The allocator regime a latency measurement runs in, set explicitly so that the number does not
depend on what the process did before.

torch takes CPU tensors from the C allocator. glibc's malloc serves a block above its *mmap
threshold* with fresh pages from the system and hands them back on free; the threshold moves up as
large blocks are freed, and the heap's top is trimmed back to the system past the *trim
threshold*. So the same forward pass takes thousands of minor page faults in a fresh process and
none after a long calibration that raised the threshold: up to 1.8× in wall time on mobilenet.
Both thresholds are fixed here (``mallopt``), which also stops glibc moving them:

- ``steady`` (the default): freed memory stays with the process (the largest mmap threshold
  glibc accepts, 32 MiB on 64-bit systems, and no trimming below 2 GiB): after warm-up a pass
  reuses the heap and takes no fresh pages unless a single tensor is over 32 MiB. What a
  long-running server sees.
- ``release``: a block of 128 KiB or more that the heap cannot serve from memory it already
  holds comes fresh from the system and goes back when freed, and the heap's top is trimmed past
  128 KiB (glibc's starting thresholds, held there): in a fresh process each pass pays for its
  fresh pages, as a process that frees memory back between requests does. (Memory a process
  already took into its heap serves later blocks without faults: the regime is the one of a
  fresh process, `cnnprof latency`'s.)

Elsewhere (no glibc: macOS, musl, Windows) the system's allocator is left as it is and the regime
says so. CUDA and MPS tensors come from torch's own caching allocator, which keeps freed blocks:
the regime concerns the CPU allocator only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform
from collections.abc import Callable, Mapping
from types import MappingProxyType

M_TRIM_THRESHOLD = -1  # glibc's <malloc.h> parameter numbers
M_MMAP_THRESHOLD = -3
MIB = 2**20

# regime → (mmap threshold, trim threshold) in bytes
THRESHOLDS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {"steady": (32 * MIB, 2**31 - 1), "release": (128 * 2**10, 128 * 2**10)}
)
DESCRIBE: Mapping[str, str] = MappingProxyType(
    {
        "steady": "freed memory kept by the process (glibc: mmap threshold 32 MiB, trim at 2 GiB)",
        "release": "freed memory returned to the system (glibc: mmap and trim at 128 KiB)",
    }
)


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt``, or None where the C library is not glibc."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt


def apply(regime: str) -> str:
    """Set the C allocator's regime for this process (it stays set) and return how it is
    described in the output; where it cannot be set, the description says so."""
    mallopt = _mallopt()
    if mallopt is None:
        return f"{regime} not set: the system's allocator as it is (not glibc)"
    mmap_at, trim_at = THRESHOLDS[regime]
    if not (mallopt(M_MMAP_THRESHOLD, mmap_at) and mallopt(M_TRIM_THRESHOLD, trim_at)):
        return f"{regime} not set: glibc refused the thresholds"
    return f"{regime}: {DESCRIBE[regime]}"
