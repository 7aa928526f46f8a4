"""What a model reference says, parsed once: ``mobilenet@alpha=0.5,res=160``,
``resnet50@separable``, ``torchvision:resnet18``, ``pkg.mod:factory``, ``file.py:factory``,
``spec.yaml``; and factory arguments ``NAME=VALUE``. Pure text in, plain values out."""

from __future__ import annotations

import ast
import fnmatch
import functools
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from cnnprof.errors import OptionError, did_you_mean

# Keys of a variant reference, NAME@key=value,key=value → the option each sets and its type.
# Multiplier keys name a field of `Multipliers`; the others a field of the request.
VARIANT_KEYS: Mapping[str, tuple[str, type]] = MappingProxyType(
    {
        "alpha": ("alpha", float),
        "width": ("alpha", float),
        "rho": ("rho", float),
        "res": ("resolution", int),
        "resolution": ("resolution", int),
        "depth": ("depth", float),
        "phi": ("phi", float),
        "classes": ("num_classes", int),
        "num_classes": ("num_classes", int),
        "batch": ("batch", int),
        "train": ("train", str),
    }
)
MULTIPLIER_KEYS = frozenset({"alpha", "rho", "resolution", "depth", "phi", "num_classes"})


@functools.cache
def design_keys() -> frozenset[str]:
    """A generated family's design-space parameters (RegNet: d, w0, wa, wm, g, b, se): reference
    keys too (``regnet_y_400mf@wm=2.5``), gathered under "design". Read from the generators when
    first asked: they need `arch.model`, which `cnnprof list` never loads."""
    from cnnprof.arch.generate import GENERATORS

    return frozenset(name for g in GENERATORS.values() for name in g.design) - set(VARIANT_KEYS)


def __getattr__(name: str) -> Any:
    """``DESIGN_KEYS``: `design_keys()`, as a constant."""
    if name == "DESIGN_KEYS":
        return design_keys()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


DEFAULT_TIMEOUT = 120.0  # seconds each stage of an outside model's own code may take


def is_onnx(model: object) -> bool:
    """An ONNX file: a path (text or ``os.PathLike``) ending in ``.onnx``."""
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    return isinstance(model, str) and model.lower().endswith(".onnx")


def is_outside(model: object) -> bool:
    """A model with no spec: an ``nn.Module``, a ``prefix:name`` reference or an ONNX file."""
    if not isinstance(model, str) or is_onnx(model):
        return True
    head, sep, _ = model.partition(":")
    return bool(sep) and bool(head) and not head.endswith(".yaml")


def split_reference(reference: str) -> tuple[str, dict[str, Any]]:
    """``"mobilenet@alpha=0.5,res=160"`` → ``("mobilenet", {"alpha": 0.5, "resolution": 160})``;
    flags (``@separable``) gather under ``"transforms"``."""
    from cnnprof.arch.transform import TRANSFORMS

    if is_onnx(reference):  # a path, which may hold an "@"
        return reference, {}
    model, sep, tail = reference.partition("@")
    options: dict[str, Any] = {}
    if not sep:
        return model, options
    for part in filter(None, tail.split(",")):
        key, eq, value = part.partition("=")
        if key in TRANSFORMS and not eq:
            options["transforms"] = (*options.get("transforms", ()), key)
            continue
        if key in design_keys() and eq:
            options["design"] = {**options.get("design", {}), key: literal(value)}
            continue
        if not eq and (key in VARIANT_KEYS or key in design_keys()):
            raise OptionError(f"'{reference}': variant key '{key}' needs a value ({key}=…)")
        if key not in VARIANT_KEYS or not eq:
            keys = [*VARIANT_KEYS, *TRANSFORMS, *sorted(design_keys())]
            hint = "" if key in keys else did_you_mean(key, keys)
            raise OptionError(
                f"'{reference}': unknown variant key '{key}'{hint}; known: {', '.join(keys)}"
            )
        name, kind = VARIANT_KEYS[key]
        try:
            options[name] = kind(value)
        except ValueError:
            raise OptionError(f"'{reference}': {key}={value} is not a {kind.__name__}") from None
    return model, options


def literal(text: str) -> Any:
    """A Python literal (number, bool, None, quoted text), else the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """``["wm=2.5", "d=20"]`` (``--param``) → a generated family's design overrides."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or key not in design_keys():
            known = sorted(design_keys())
            raise OptionError(
                f"--param {pair!r}{did_you_mean(key, known)}: expected NAME=VALUE with NAME one "
                f"of {', '.join(known)}"
            )
        out[key] = literal(value)
    return out


def parse_args(pairs: list[str] | None) -> dict[str, Any]:
    """``["num_classes=10", "width_mult=0.5"]`` → keyword arguments (Python literals or text)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise OptionError(f"--arg {pair!r}: expected NAME=VALUE, e.g. num_classes=10")
        out[key] = literal(value)
    return out


def matching(names: list[str], pattern: str | None) -> list[str]:
    """The names a shell-style wildcard matches (a plain word matches anywhere in a name)."""
    if pattern is None:
        return names
    pattern = pattern.lower()
    if not any(ch in pattern for ch in "*?["):
        pattern = f"*{pattern}*"
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]
