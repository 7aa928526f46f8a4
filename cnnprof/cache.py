"""The user's cache directory: ``$CNNPROF_CACHE_DIR``, else ``$XDG_CACHE_HOME/cnnprof``, else
``~/.cache/cnnprof``. Caches are keyed on everything that changes their content; a cache that
cannot be read or written is simply not used."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    override = os.environ.get("CNNPROF_CACHE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "cnnprof"
