"""Where cnnprof keeps what it can compute again — the device peaks, the registry's catalogue —
below every stage: the user cache directory (platformdirs), or ``$CNNPROF_CACHE_DIR``. A cache
that cannot be read or written only means computing again."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import platformdirs

from cnnprof.errors import CnnprofError
from cnnprof.files import write


def cache_dir() -> Path:
    override = os.environ.get("CNNPROF_CACHE_DIR")
    return Path(override) if override else platformdirs.user_cache_path("cnnprof")


def read_json(path: Path) -> Any:
    """The JSON in ``path``; None when it is missing, not a regular file or unreadable."""
    try:
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` atomically (`files.write`: a reader never sees half a file); nothing when
    the directory refuses it — a cache that cannot be written only means computing again."""
    with contextlib.suppress(OSError, CnnprofError):
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path, json.dumps(data, indent=1) + "\n", "cache")
