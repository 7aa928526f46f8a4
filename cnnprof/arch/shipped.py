"""The family files cnnprof ships (package data), found without loading any of them, and the key
that a cache of anything read from them is kept under."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

from cnnprof.version import __version__


def models_dir() -> Path:
    """The shipped family files (inside the installed package, or the source tree)."""
    return Path(str(resources.files("cnnprof.configs") / "models"))


def shipped_key() -> str:
    """A digest of the shipped family files (names and bytes) and cnnprof's version: a cache
    kept under it is read only while neither has changed."""
    digest = hashlib.sha256(__version__.encode())
    for file in sorted(models_dir().glob("*.yaml")):
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:24]
