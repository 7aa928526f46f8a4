"""Stage ④: use cases. A reference and options in, result values out; nothing here prints.

`sources` resolves a reference once into a spec or an outside source and is the one door into
`cnnprof.empirical` (the one torch gate); `count`, `tables`, `guard` and `latency` are the use
cases the CLI and the public API call.
"""

from cnnprof.api.count import (
    count,
    cross_check,
    measured_training,
    profile_analytic,
    profile_empirical,
    training,
)
from cnnprof.api.request import Request, request
from cnnprof.spec.model import Arch
from cnnprof.spec.multipliers import Multipliers
from cnnprof.spec.registry import Entry, lookup


def entry(model: str) -> Entry:
    """A registry name or alias, or a path to a YAML family file (``spec.yaml[:variant]``)."""
    return lookup(model)


def load(model: str, multipliers: Multipliers | None = None, **scaling: float | int | None) -> Arch:
    """The architecture of ``model`` with the multipliers applied (a `Multipliers`, or its fields
    as keywords: ``load("mobilenet", alpha=0.5)``)."""
    from dataclasses import replace

    return lookup(model).arch(replace(multipliers or Multipliers(), **scaling))


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
