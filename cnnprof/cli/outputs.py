"""A command never writes over one of its own inputs: an --output (or --plot) that is the same
file as a file the command reads (its spec, model file, baseline, budget or device profile, and
the model files, specs and device profiles a baseline or budget names; through symlinks and hard
links too) is refused before any work, whatever --force says.

One guard for every command: it reads the command's parsed parameters, so no command lists its
inputs by hand. A closed standard output fails like a full one."""

from __future__ import annotations

import functools
import io
import itertools
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import click

from cnnprof.errors import OptionError

OUTPUTS = ("output", "plot")  # the parameters a command writes
MODELS = ("model", "models", "reference", "baseline")  # the parameters that name models
FILE_SUFFIXES = (".yaml", ".yml", ".json", ".py", ".onnx")  # a text argument that names a file

# What a command offers instead of writing over its input.
INSTEAD: Mapping[str, str] = MappingProxyType(
    {"check": "; --update is the way to rewrite a baseline"}
)
# A command's parameter whose file names other files the command reads (a budget's models).
LISTS: Mapping[str, str] = MappingProxyType({"check": "path"})


def _identity(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """The file ``path`` names (device and inode, links followed), None when there is none."""
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return None
    return found.st_dev, found.st_ino


def _named(text: str) -> Iterator[str]:
    """The files a text argument may read: itself, a spec.yaml[:variant], a file.py:factory, a
    reference's model before its @variant."""
    for candidate in (text, text.partition("@")[0], text.partition(":")[0]):
        if candidate.lower().endswith(FILE_SUFFIXES):
            yield candidate


def _inputs(
    command: click.Command, params: Mapping[str, Any], labels: Mapping[str | None, str]
) -> Iterator[tuple[str, str]]:
    """Every file the parameters other than the outputs name, with what it is to the command:
    a path parameter's file, a model argument's own file, an option's file."""
    paths = {param.name for param in command.params if isinstance(param.type, click.Path)}
    for name, value in params.items():
        if name in OUTPUTS:
            continue
        for item in value if isinstance(value, list | tuple) else (value,):
            if name in paths and item is not None:
                yield str(item), f"the file this command reads ({item})"
            elif isinstance(item, str):
                what = f"the file {labels.get(name)} names"
                what = "the model's own file" if name in MODELS else what
                yield from ((path, what) for path in _named(item))


def _listed(command: click.Command, params: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Every file that the file a command reads names in turn, with what it is: a baseline's or
    budget's models, references and device profiles (`LISTS`)."""
    name = LISTS.get(command.name or "")
    source = None if name is None else params.get(name)
    if source is None:
        return
    from cnnprof.api.check import named_files

    for what, text in named_files(Path(source)):
        paths = (text,) if what == "device profile" else tuple(_named(text))
        yield from ((path, f"the {what} {source} names ({text})") for path in paths)


def refuse_inputs(command: click.Command, params: Mapping[str, Any]) -> None:
    """Refuse (one line, exit 2) an output of ``command`` that is one of its inputs, or a file
    one of its input files names."""
    labels: dict[str | None, str] = {p.name: min(p.opts, key=len) for p in command.params}
    for name in OUTPUTS:
        output = params.get(name)
        target = None if output is None else _identity(output)
        if target is None:
            continue
        instead = INSTEAD.get(command.name or "", "")
        own = ((path, what, instead) for path, what in _inputs(command, params, labels))
        listed = ((path, what, "") for path, what in _listed(command, params))
        for path, what, hint in itertools.chain(own, listed):
            if _identity(path) == target:
                raise OptionError(
                    f"{labels.get(name, name)} {output}: is {what}; give another file to "
                    f"write{hint}"
                )


def guarded(command: click.Command) -> click.Command:
    """``command``, refusing an output onto its own input before its callback runs."""
    callback = command.callback
    if callback is None:
        return command

    @functools.wraps(callback)
    def run(**params: Any) -> Any:
        refuse_inputs(command, params)
        return callback(**params)

    command.callback = run
    return command


class Closed(io.TextIOBase):
    """Standard output when the shell closed it (``>&-``): writing to it is bad input, as a full
    disk is (one line, exit 2), wherever it is written from; a command with -o FILE still runs."""

    encoding = "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OptionError("cannot write to stdout: it is closed")
