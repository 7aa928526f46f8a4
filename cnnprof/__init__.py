"""cnnprof: params, MACs, FLOPs, memory and latency of convolutional networks, counted twice.

Importing cnnprof never imports torch.
"""

from cnnprof.api import Multipliers, count, entry, load
from cnnprof.errors import CnnprofError
from cnnprof.results.profile import LayerCost, Profile
from cnnprof.version import __version__

__all__ = [
    "CnnprofError",
    "LayerCost",
    "Multipliers",
    "Profile",
    "__version__",
    "count",
    "entry",
    "load",
]
