"""cnnprof: params, MACs, FLOPs, memory and latency of convolutional networks, counted twice.

Importing cnnprof never imports torch.
"""

from cnnprof.api import count, entry, load
from cnnprof.errors import CnnprofError
from cnnprof.profile import LayerCost, Profile

__all__ = ["CnnprofError", "LayerCost", "Profile", "count", "entry", "load"]
__version__ = "0.1.0"
