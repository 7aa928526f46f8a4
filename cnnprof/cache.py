"""Where cnnprof keeps what it can compute again — the device peaks, the registry's catalogue —
below every stage: the user cache directory (platformdirs), or ``$CNNPROF_CACHE_DIR``. A cache
that cannot be read or written only means computing again."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import platformdirs


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
    """Write ``data`` to a temporary file beside ``path`` and put it in place in one step, so a
    reader never sees half a file; nothing when the directory refuses it."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(data, indent=1) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
