"""Stage ④: use cases. A reference and options in, result values out; nothing here prints.

`sources` resolves a reference once into a spec or an outside source and is the one door into
`cnnprof.empirical` (the one torch gate); `count`, `tables`, `check` and `latency` are the use
cases the CLI and the public API call.
"""

from cnnprof.api.count import (
    count,
    cross_check,
    entry,
    load,
    measured_training,
    profile_analytic,
    profile_empirical,
    training,
)
from cnnprof.api.request import Request, request
from cnnprof.arch.multipliers import Multipliers

__all__ = [
    "Multipliers",
    "Request",
    "count",
    "cross_check",
    "entry",
    "load",
    "measured_training",
    "profile_analytic",
    "profile_empirical",
    "request",
    "training",
]
