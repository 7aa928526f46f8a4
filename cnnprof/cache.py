"""Where cnnprof keeps what it can compute again — the device peaks, the registry's catalogue —
below every stage: the user cache directory (platformdirs), or ``$CNNPROF_CACHE_DIR``. A cache
that cannot be read or written only means computing again."""

from __future__ import annotations

import contextlib
import functools
import json
import operator
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


def write_shared(path: Path, data: Any) -> None:
    """Write plain ``data`` as `read_shared` gives it back: equal, and one object wherever
    ``data`` holds one list or mapping in two places (a YAML alias). Nothing is written when JSON
    cannot hold it (a number as a key, a date, NaN)."""
    kept = {"data": data, "links": _links(data)}
    try:
        back = _relinked(json.loads(json.dumps(kept)))
    except (TypeError, ValueError):
        return
    if back == data and _links(back) == kept["links"]:
        write_json(path, kept)


def read_shared(path: Path) -> Any:
    """What `write_shared` wrote to ``path``; None when it is missing or damaged."""
    try:
        return _relinked(read_json(path))
    except (TypeError, KeyError, IndexError, ValueError):
        return None


def _links(data: Any) -> list[tuple[list[Any], list[Any]]]:
    """Each place below ``data`` (its keys and indices from the top) that holds a list or mapping
    already seen, with the place where it was first seen (depth first, in order)."""
    first: dict[int, list[Any]] = {}
    links: list[tuple[list[Any], list[Any]]] = []
    stack: list[tuple[list[Any], Any]] = [([], data)]
    while stack:
        where, node = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        if id(node) in first:
            links.append((where, first[id(node)]))
            continue
        first[id(node)] = where
        keys = list(node) if isinstance(node, dict) else range(len(node))
        stack.extend(([*where, k], node[k]) for k in reversed(keys))
    return links


def _relinked(kept: Any) -> Any:
    """``kept["data"]`` with each of ``kept["links"]`` made one object again."""
    data = kept["data"]
    for later, first in kept["links"]:
        if not later or later[: len(first)] == first:  # the top, or a value inside itself
            raise ValueError(later)
        parent = functools.reduce(operator.getitem, later[:-1], data)
        parent[later[-1]] = functools.reduce(operator.getitem, first, data)
    return data
