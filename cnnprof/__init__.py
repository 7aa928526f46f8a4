"""cnnprof: params, MACs, FLOPs, memory and latency of convolutional networks, counted twice.

The Python API returns the values the CLI renders: `count` a `Profile`, `compare` a
`Comparison`, `sweep` a `Sweep` (a sequence of `SweepPoint`), `separable` a
`SeparableReport`, `latency` a `Timing` (a `Predicted` for a device profile, a `LatencyRatio`
for two runtimes), `snapshot` a baseline document, `check` a `CheckReport` (a sequence of
`CheckResult`, with its notes and changes). Each function takes its command's options as
keywords by the same names (``--min-time`` is ``min_time``). `show(result)` prints the table the
CLI prints (IPython and Jupyter display it too); `to_dict(result)` and `to_json(result)` give the
JSON the CLI's ``--format json`` writes for any of them.

Importing cnnprof never imports torch.
"""

from __future__ import annotations

from typing import Any

from cnnprof.errors import CnnprofError
from cnnprof.version import __version__

# Name → the module that defines it: imported when first used, so that `import cnnprof` (and the
# CLI, which imports the package first) pays only for what a command needs.
_LAZY = {
    "Multipliers": "cnnprof.arch.multipliers",
    "count": "cnnprof.api.count",
    "entry": "cnnprof.api",
    "load": "cnnprof.api",
    "compare": "cnnprof.api.public",
    "sweep": "cnnprof.api.public",
    "separable": "cnnprof.api.public",
    "latency": "cnnprof.api.public",
    "snapshot": "cnnprof.api.public",
    "check": "cnnprof.api.public",
    "show": "cnnprof.render.show",
    "to_dict": "cnnprof.report.data",
    "to_json": "cnnprof.report.data",
    "CheckReport": "cnnprof.results.check",
    "CheckResult": "cnnprof.results.check",
    "Comparison": "cnnprof.results.metrics",
    "LatencyRatio": "cnnprof.results.interleaved",
    "LatencySettings": "cnnprof.results.timing",
    "LayerCost": "cnnprof.results.profile",
    "Predicted": "cnnprof.results.latency",
    "Profile": "cnnprof.results.profile",
    "SeparableReport": "cnnprof.results.tables",
    "Sweep": "cnnprof.results.tables",
    "SweepPoint": "cnnprof.results.tables",
    "Timing": "cnnprof.results.timing",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'cnnprof' has no attribute {name!r}")
    import sys

    import cnnprof.api.count
    import cnnprof.api.public
    import cnnprof.arch.multipliers
    import cnnprof.render.show
    import cnnprof.report.data
    import cnnprof.results.check
    import cnnprof.results.interleaved
    import cnnprof.results.latency
    import cnnprof.results.metrics
    import cnnprof.results.profile
    import cnnprof.results.shown
    import cnnprof.results.tables
    import cnnprof.results.timing

    globals().update({key: getattr(sys.modules[module], key) for key, module in _LAZY.items()})
    # IPython and Jupyter display a result as `show` prints it (results/ cannot import render/)
    cnnprof.results.shown.register(cnnprof.render.show.text)
    return globals()[name]


__all__ = [
    "CheckReport",
    "CheckResult",
    "CnnprofError",
    "Comparison",
    "LatencyRatio",
    "LatencySettings",
    "LayerCost",
    "Multipliers",
    "Predicted",
    "Profile",
    "SeparableReport",
    "Sweep",
    "SweepPoint",
    "Timing",
    "__version__",
    "check",
    "compare",
    "count",
    "entry",
    "latency",
    "load",
    "separable",
    "show",
    "snapshot",
    "sweep",
    "to_dict",
    "to_json",
]
