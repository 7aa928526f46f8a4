"""The files a baseline or budget names (each entry's model and reference, every device
profile): inputs of `check` as much as the file itself, which no output may write over."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import cnnprof.files as files
from cnnprof.arch.load import load_yaml
from cnnprof.errors import CheckFileError, CnnprofError

# The keys of a baseline or budget that name a model or a device profile, and what each names.
_NAMING: Mapping[str, str] = MappingProxyType(
    {"model": "model", "reference": "reference model", "device_profile": "device profile"}
)


def named_files(path: Path) -> list[tuple[str, str]]:
    """(what it is, the name as written) for every model, reference and device profile the
    baseline or budget in ``path`` names, read without validating it (the check does that);
    none for a file that is not a regular one (a pipe is read once, by the check) or does not
    parse."""
    if not path.is_file():
        return []
    try:
        text = files.read_text(path, "check", files.MAX_INPUT_BYTES)
        if path.suffix == ".json":
            doc = json.loads(text)
        else:
            doc = load_yaml(text, str(path), error=CheckFileError)
    except (CnnprofError, ValueError, RecursionError):
        return []
    found: list[tuple[str, str]] = []
    nodes: list[Any] = [doc]
    while nodes:  # every mapping at any depth: a budget's top and entries, a baseline's records
        node = nodes.pop()
        if isinstance(node, dict):
            found += [
                (_NAMING[k], v) for k, v in node.items() if k in _NAMING and isinstance(v, str)
            ]
            nodes += reversed(node.values())
        elif isinstance(node, list):
            nodes += reversed(node)
    return found
