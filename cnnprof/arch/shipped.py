"""The family files cnnprof ships (package data), found without loading any of them, and the key
that a cache of anything read from them is kept under."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from cnnprof.errors import ArchError
from cnnprof.version import __version__

try:  # hashlib's own BLAKE2, without hashlib loading OpenSSL (a few ms of every start)
    from _blake2 import blake2b
except ImportError:  # an interpreter without the module: hashlib's
    from hashlib import blake2b


def models_dir() -> Path:
    """The shipped family files: ``models/`` of the package ``cnnprof.configs`` (installed, or
    the source tree's ``configs/``)."""
    spec = find_spec("cnnprof.configs")
    folders = spec.submodule_search_locations if spec is not None else None
    if not folders:
        raise ArchError("the package cnnprof.configs (the shipped families) is missing")
    return Path(folders[0]) / "models"


def shipped_key() -> str:
    """A digest of the shipped family files (names and bytes) and cnnprof's version: a cache
    kept under it is read only while neither has changed."""
    digest = blake2b(__version__.encode(), digest_size=12)
    for file in sorted(models_dir().glob("*.yaml")):
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()
