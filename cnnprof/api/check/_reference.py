"""The model a latency ratio is measured against, checked before anything runs: a name that
resolves, and never the model itself, under its own name or another (a ratio to itself is 1 on
any machine, so a limit on it would hold whatever the model became)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cnnprof.api.count import profile_analytic
from cnnprof.api.request import request
from cnnprof.api.sources import resolve
from cnnprof.arch.reference import is_onnx, is_outside
from cnnprof.errors import CheckFileError, CnnprofError, OptionError


def _configuration(name: str) -> Any:
    """What a model name computes, to tell two spellings of one model: a spec's input and
    layers as counted, whatever their names (an alias, a variant at its defaults, a spec's
    file by another path all give the same), an outside model's file (links followed) and
    factory; None for a name that does not resolve (its count reports it)."""
    if is_onnx(name):
        return os.path.realpath(name)
    if is_outside(name):
        head, _, tail = name.partition(":")
        return (os.path.realpath(head) if head.endswith(".py") else head), tail
    try:
        profile = profile_analytic(request(name))
    except CnnprofError:
        return None
    return profile.input, [replace(layer, path="") for layer in profile.layers]


def _itself(name: str, model: str, where: str, error: type[CnnprofError], own_inputs: bool) -> None:
    """Refuse ``name`` where it is ``model``, spelled the same or not. ``own_inputs``: the model
    is called with inputs or arguments of its own, so an outside reference of the same factory,
    called without them, is another configuration."""
    if name == model:
        raise error(
            f"{where}: {name} is the model itself; a ratio to itself is 1 on any "
            "machine — name another model"
        )
    if own_inputs and is_outside(model):
        return
    same = _configuration(name)
    if same is not None and same == _configuration(model):
        raise error(
            f"{where}: {name} is {model} under another name; a ratio to itself is 1 on any "
            "machine — name another model"
        )


def reference(
    name: str,
    where: str,
    model: str | None = None,
    error: type[CnnprofError] = CheckFileError,
    own_inputs: bool = False,
) -> str:
    """A reference model, checked now (``where`` names the field in the message): an unknown
    name or a bad variant is refused before anything runs (an outside reference's own code is
    checked when it is measured), and so is ``model`` itself under any name."""
    try:
        resolve(request(name))
    except CnnprofError as exc:
        raise error(f"{where}: {exc}") from None
    if model is not None:
        _itself(name, model, where, error, own_inputs)
    return name


def check_reference(name: str, models: Sequence[str], own_inputs: bool = False) -> None:
    """``snapshot --reference``: a model known now, and none of the models it is measured with,
    under any name; ``own_inputs``: the outside models get inputs or arguments of their own."""
    reference(name, "--reference", error=OptionError)
    for model in sorted(models, key=lambda m: m != name):  # the same spelling named first
        _itself(name, model, "--reference", OptionError, own_inputs)
