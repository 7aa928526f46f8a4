"""The names the options choose from, in one light module: the CLI builds its choices from
these without loading the values that use them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

# Element types and their bytes per value (memory at --dtype).
DTYPE_BYTES: Mapping[str, int] = MappingProxyType(
    {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}
)
DEVICES = ("cpu", "cuda", "mps")
LATENCY_DTYPES = ("float32", "float16", "bfloat16")
# How the C allocator treats freed memory while latency is measured (`cnnprof.empirical.allocator`).
ALLOCATORS = ("steady", "release")
# What a long measurement reports as it goes: (stage, fraction of that stage done).
Progress = Callable[[str, float], None]
