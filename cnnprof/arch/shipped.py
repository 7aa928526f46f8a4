"""The family files cnnprof ships (package data), found without loading any of them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def models_dir() -> Path:
    """The shipped family files (inside the installed package, or the source tree)."""
    return Path(str(resources.files("cnnprof.configs") / "models"))
