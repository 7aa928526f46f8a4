"""The names the options choose from, in one light module: the CLI builds its choices from
these without loading the values that use them, and every stage checks a name against the same
table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from cnnprof.errors import OptionError

# Element types: bytes per value (memory at --dtype), and whether latency is measured in it.
# fmt: off
DTYPES: Mapping[str, tuple[int, bool]] = MappingProxyType({
    "float32": (4, True),
    "float16": (2, True),
    "bfloat16": (2, True),
    "float64": (8, False),
    "int8": (1, False),
})
# fmt: on
DTYPE_BYTES: Mapping[str, int] = MappingProxyType({k: size for k, (size, _) in DTYPES.items()})
LATENCY_DTYPES = tuple(k for k, (_, timed) in DTYPES.items() if timed)
DEVICES = ("cpu", "cuda", "mps")
# How the C allocator treats freed memory while latency is measured (`cnnprof.empirical.allocator`).
ALLOCATORS = ("steady", "release")
# What a long measurement reports as it goes: (stage, fraction of that stage done).
Progress = Callable[[str, float], None]
# What counts the running module for --empirical: torch's FlopCounterMode on meta, or fvcore.
COUNTERS = ("torch", "fvcore")
# `--sort` keys of a counted layer row (`count --layers`) and of a timed one (`latency --layers`),
# each with the attribute of the row it ranks by.
COUNT_SORT: Mapping[str, str] = MappingProxyType(
    {
        "macs": "macs",
        "params": "params",
        "flops": "flops",
        "activations": "out_shape.elements",
    }
)
TIME_SORT: Mapping[str, str] = MappingProxyType(
    {"time": "seconds", "macs": "macs", "flops": "flops", "bytes": "bytes"}
)
SORT_KEYS = tuple(dict.fromkeys([*COUNT_SORT, *TIME_SORT]))
MAX_BATCH = 2**31 - 1  # the largest batch a C int holds


def check_batch(batch: int) -> None:
    """A batch size ≥ 1 that a C int holds (tensor sizes, ONNX dimensions), or `OptionError`
    naming the option."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise OptionError(f"--batch {batch}: expected a batch size ≥ 1")
    if batch > MAX_BATCH:
        raise OptionError(f"--batch {batch}: expected a batch size ≥ 1 and ≤ {MAX_BATCH}")


def check_dtype(dtype: str, timed: bool = False) -> None:
    """A known dtype (``timed``: one latency is measured in), or `OptionError` naming the option."""
    if timed and dtype not in LATENCY_DTYPES:
        raise OptionError(f"--dtype {dtype}: latency runs in one of {', '.join(LATENCY_DTYPES)}")
    if dtype not in DTYPES:
        raise OptionError(f"--dtype {dtype}: expected one of {', '.join(DTYPES)}")
