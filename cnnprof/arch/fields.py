"""Typed reads of a YAML document's fields, for the family reader: each value checked against
what its field takes, and every error an `ArchError` naming where (file, row, field)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import Any

from cnnprof.arch.ops import ACTIVATION_ALIASES, MAX_MULTIPLIER, Field
from cnnprof.errors import ArchError, did_you_mean


def checked(value: Any, field: Field, where: str) -> Any:
    """``value`` as its field takes it (an activation's alias resolved, a number made finite)."""
    kind = field.kind
    ok = True
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = _finite(value) if ok else value
        ok = ok and value is not None
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "str":
        ok = isinstance(value, (str, int)) and not isinstance(value, bool)
        value = str(value) if ok else value
    elif kind == "choice":
        value = ACTIVATION_ALIASES.get(value, value) if isinstance(value, str) else value
        ok = value in field.choices
    elif kind == "padding":
        ok = value == "same" or (isinstance(value, int) and not isinstance(value, bool))
    if ok and kind in ("int", "float", "padding") and value != "same":
        low = field.low if field.low is not None else (0 if kind == "padding" else None)
        ok = (low is None or value >= low) and (field.high is None or value <= field.high)
    if not ok:
        raise ArchError(f"{where}: expected {field.describe()}, got {value!r}")
    return value


def mapping(doc: Any, where: str, what: str) -> None:
    if not isinstance(doc, dict):
        raise ArchError(f"{where}: {what}: expected a mapping, got {type(doc).__name__}")


def known_keys(doc: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(k) for k in set(doc) - set(allowed))
    if unknown:
        hint = did_you_mean(unknown[0], allowed)
        raise ArchError(
            f"{where}: unknown field '{unknown[0]}'{hint}; allowed: {', '.join(allowed)}"
        )


def text(doc: Mapping[str, Any], key: str, where: str, required: bool = False) -> str:
    value = doc.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value:
        raise ArchError(f"{where}: field '{key}': expected text, got {value!r}")
    return value


def number(
    doc: Mapping[str, Any], key: str, where: str, default: Any, positive: bool = False
) -> Any:
    if key not in doc:
        return default
    value = doc[key]
    number = None
    if isinstance(value, str):  # YAML 1.1 reads 569e6 as text; accept plain numbers written so
        with contextlib.suppress(ValueError):
            number = _finite(float(value))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = _finite(value)
    if number is None or (positive and not 0 < number <= MAX_MULTIPLIER):
        need = f"a finite number in (0, {MAX_MULTIPLIER:g}]" if positive else "a finite number"
        raise ArchError(f"{where}: field '{key}': expected {need}, got {value!r}")
    return number


def _finite(value: float) -> float | None:
    """``value`` as a float, or None when it is not finite or too large for a float."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def whole(value: Any, where: str, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ArchError(f"{where}: field '{key}': expected a whole number > 0, got {value!r}")
    return value
