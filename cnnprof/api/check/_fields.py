"""Typed reads of a baseline's or a budget's fields: tolerances, numbers with a unit, input shapes
and an entry's settings. Unknown metrics, wrong types, null, non-finite or negative values, empty
entries and empty model lists are refused, naming the file, the entry and the field."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cnnprof.api.request import DEFAULT_TIMEOUT
from cnnprof.arch.reference import is_outside
from cnnprof.errors import CheckFileError, OptionError
from cnnprof.results.check import Settings
from cnnprof.results.profile import DTYPE_BYTES
from cnnprof.results.timing import RUNTIMES, TORCH

_UNITS = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
# Bytes as `count` and `check` show them (KiB, MiB …: powers of 1024), for the memory limits.
_UNITS.update({f"{prefix}iB": 1024.0 ** (i + 1) for i, prefix in enumerate("KMGT")})


def parse_tolerance(text: str | float, name: str = "--tolerance") -> float:
    """A growth allowed, as a fraction: ``"5%"`` → 0.05, ``"0.05"`` → 0.05. A bare number of 1
    or more is refused (``5`` would mean 500 %, and ``1`` doubles every limit where 1 % was
    likely meant: ``100%`` says it), as is anything negative, non-finite or malformed."""
    given = str(text).strip()
    if isinstance(text, bool):
        given = "?"
    match = re.fullmatch(r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%?)", given)
    if not match:
        raise OptionError(f"{name} {text}: expected a fraction like 0.05 or a percentage like 5%")
    value = float(match.group(1))
    if match.group(2):
        value /= 100
    elif value >= 1:
        raise OptionError(
            f"{name} {text}: a bare number is a fraction (1 = 100 %); write "
            f"{text}% for {text} percent, or {value / 100:g}"
        )
    if not math.isfinite(value):
        raise OptionError(f"{name} {text}: expected a finite tolerance")
    return value


class Fields:
    """Typed reads of one entry's fields; every error names the file, the entry and the field."""

    def __init__(self, doc: Mapping[str, Any], where: str) -> None:
        self.doc, self.where = doc, where

    def fail(self, key: str, expected: str) -> CheckFileError:
        return CheckFileError(
            f"{self.where}: field '{key}': expected {expected}, got {self.doc.get(key)!r}"
        )

    def integer(self, key: str, default: int | None, minimum: int = 1) -> int | None:
        value = self.doc.get(key, default)
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"an integer ≥ {minimum}")
        return value

    def number(self, key: str, *, positive: bool = True) -> float:
        value = self.doc.get(key)
        if isinstance(value, str):
            value = _number(value, f"{self.where}: field '{key}'")
        least = "> 0" if positive else "≥ 0"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"a number {least}")
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise self.fail(key, f"a finite number {least}")
        return value

    def choice(self, key: str, default: str, choices: Sequence[str]) -> str:
        value = self.doc.get(key, default)
        if value not in choices:
            raise self.fail(key, f"one of {', '.join(choices)}")
        return value

    def text(self, key: str, required: bool = False) -> str | None:
        value = self.doc.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "a non-empty string")
        return value

    def settings(self, model: str, timeout: float) -> Settings:
        """The entry's settings; ``timeout`` where an outside model's entry gives none."""
        shape = self.doc.get("input")
        shapes = None
        if shape is not None:
            shapes = tuple(_shape(s) for s in shape) if _nested(shape) else (_shape(shape),)
            if not shapes or None in shapes:
                raise self.fail("input", "sizes like [3, 224, 224] or a list of them, each ≥ 1")
        incomplete = self.doc.get("allow_incomplete", False)
        if not isinstance(incomplete, bool):
            raise self.fail("allow_incomplete", "true or false")
        args = self.doc.get("args")
        if args is not None and not (
            isinstance(args, dict) and all(isinstance(k, str) and k.isidentifier() for k in args)
        ):
            raise self.fail("args", "a mapping of factory argument names to values")
        outside = is_outside(model)
        if args and not outside:
            raise self.fail("args", "no factory arguments: the model is a spec")
        return Settings(
            batch=self.integer("batch", 1) or 1,
            dtype=self.choice("dtype", "float32", tuple(DTYPE_BYTES)),
            input=shapes if outside else None,  # type: ignore[arg-type]
            args=args or None,
            # a command-wide --timeout bounds the outside models' own code; a spec has none
            timeout=self.number("timeout")
            if "timeout" in self.doc
            else (timeout if outside else DEFAULT_TIMEOUT),
            allow_incomplete=incomplete,
            runtime=self.choice("runtime", TORCH, RUNTIMES),
        )


def _nested(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], list)


def _shape(value: Any) -> tuple[int, ...] | None:
    """``[3, 224, 224]`` → a shape; None unless a non-empty list of integers ≥ 1."""
    ok = (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
    )
    return tuple(value) if ok else None


def _number(text: str, where: str) -> float:
    """``"4.3M"``, ``"600e6"``, ``"1.5G"``, ``"10MiB"`` → a number (not yet checked for range)."""
    match = re.fullmatch(r"\s*([0-9.eE+-]+)\s*([KMGT]iB|[KMGT]?)\s*", text)
    try:
        if not match:
            raise ValueError
        return float(match.group(1)) * _UNITS[match.group(2)]
    except ValueError:
        raise CheckFileError(
            f"{where}: expected a number like 4.3M, 600e6 or 10MiB, got {text!r}"
        ) from None


def _models(doc: Any, path: Path, what: str) -> list[Any]:
    entries = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise CheckFileError(f"{path}: expected 'models:' with a list of {what} entries")
    if not entries:
        raise CheckFileError(
            f"{path}: 'models' is empty: a check of nothing would pass; name at least one model"
        )
    return entries


def entries(doc: Any, path: Path, what: str, shape: str) -> list[tuple[Fields, str]]:
    """Each entry of ``doc['models']`` as (its fields, its model), every one a mapping that
    names a model; errors name the file and the entry."""
    out = []
    for index, entry in enumerate(_models(doc, path, what), 1):
        model = entry.get("model") if isinstance(entry, dict) else None
        where = f"{path}: entry {index}" + (f" ({model})" if isinstance(model, str) else "")
        if not isinstance(entry, dict):
            raise CheckFileError(f"{where}: expected a mapping with {shape}")
        fields = Fields(entry, where)
        out.append((fields, fields.text("model", required=True) or ""))
    return out
