"""JSON text as every document cnnprof writes it: never NaN or an infinity, which are not JSON
(a figure that is one is an error naming where it is). Its own module, so that a command that
writes JSON loads no more than this."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from cnnprof.errors import CnnprofError


def json_text(data: Any, *, ensure_ascii: bool = False) -> str:
    """``data`` as indented JSON text, written by every document cnnprof writes: NaN and the
    infinities are not JSON (other readers refuse them), so a figure that is one is a
    `CnnprofError` naming where it is, never written."""
    try:
        return json.dumps(data, indent=2, ensure_ascii=ensure_ascii, allow_nan=False) + "\n"
    except ValueError:
        where = non_finite(data) or "a value"
        raise CnnprofError(
            f"{where} is not a finite number: no document is written with NaN or infinity"
        ) from None


def non_finite(data: Any, where: str = "$") -> str | None:
    """Where in ``data`` (``$.models[0].counts.predicted_ms``) its first NaN or infinity is, or
    None."""
    if isinstance(data, float) and not math.isfinite(data):
        return f"{where} ({data!r})"
    if isinstance(data, Mapping):
        items: Any = ((f"{where}.{k}", v) for k, v in data.items())
    elif isinstance(data, (list, tuple)):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(data))
    else:
        return None
    return next(filter(None, (non_finite(v, w) for w, v in items)), None)
