"""`Request`: everything that changes an answer — the model, its `Multipliers` and the run's
settings — built once from a reference and the options, and checked when built."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from cnnprof.analytic.engine import check_run_options
from cnnprof.arch.model import Shape
from cnnprof.arch.multipliers import Multipliers
from cnnprof.arch.reference import (
    DEFAULT_TIMEOUT,
    MULTIPLIER_KEYS,
    is_onnx,
    parse_args,
    parse_params,
    split_reference,
)
from cnnprof.errors import OptionError


@dataclass(frozen=True)
class Request:
    """The model (a name, a reference, or an ``nn.Module``) and every option that shapes a count."""

    model: Any
    multipliers: Multipliers = field(default_factory=Multipliers)
    batch: int = 1
    dtype: str = "float32"
    input: tuple[tuple[int, ...], ...] | None = None  # outside models: per-image input shapes
    args: Mapping[str, Any] | None = None  # outside models: factory keyword arguments
    transforms: tuple[str, ...] = ()  # "standard", "separable" (spec models only)
    design: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))  # RegNet: wm…
    train: str | None = None  # "head", "all" or "from:PATH": the cost of a training step
    # seconds an outside model's own code (import, construct, counting forwards) may take in all
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        timeout = self.timeout
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not 0 < timeout < math.inf
        ):
            raise OptionError(f"--timeout {timeout}: expected seconds > 0")
        if self.input is not None:  # one shape (3, 224, 224) or several ((3, 8, 8), (3, 8, 8))
            shapes = self.input if self.input and _is_shape(self.input[0]) else (self.input,)
            if not shapes or not all(_is_shape(s) and s and min(s) >= 1 for s in shapes):
                raise OptionError(f"--input {self.input}: expected sizes ≥ 1, e.g. 3,224,224")
            object.__setattr__(self, "input", tuple(tuple(int(d) for d in s) for s in shapes))
        check_run_options(self.batch, self.dtype)

    @property
    def name(self) -> str:
        return self.model if isinstance(self.model, str) else type(self.model).__name__

    @property
    def label(self) -> str:
        """The reference as a user would write it, e.g. ``mobilenet@alpha=0.5,res=160``."""
        keys = self.multipliers.reference_keys() + list(self.transforms)
        keys += [
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.design.items()
        ]
        keys += [f"train={self.train}"] if self.train else []
        return self.name + ("@" + ",".join(keys) if keys else "")

    def with_multipliers(self, **changes: Any) -> Request:
        return replace(self, multipliers=replace(self.multipliers, **changes))


def plain(request: Request) -> Request:
    """``request`` with plain mappings, as another process can receive it."""
    args = None if request.args is None else dict(request.args)
    return replace(request, design=dict(request.design), args=args)


def one_image(shapes: tuple[tuple[int, ...], ...]) -> Shape:
    """``shapes`` as the one C,H,W image a measurement runs on; other inputs are refused."""
    if len(shapes) != 1 or len(shapes[0]) != 3:
        given = " ".join(",".join(map(str, s)) for s in shapes)
        raise OptionError(f"--input {given}: this command takes one C,H,W image")
    return Shape(*shapes[0])


def _is_shape(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and all(
        isinstance(d, int) and not isinstance(d, bool) for d in value
    )


def pairs(
    given: Mapping[str, Any] | Iterable[str] | str | None,
    parse: Callable[[list[str]], dict[str, Any]],
) -> dict[str, Any] | None:
    """A keyword's NAME=VALUE pairs as a mapping: given as one (``{"num_classes": 10}``), or as
    the CLI's text (``"num_classes=10"`` or a list of them, read by ``parse``)."""
    if given is None or isinstance(given, Mapping):
        return None if given is None else dict(given)
    return parse([given] if isinstance(given, str) else list(given))


def keyword_request(
    model: Any,
    multipliers: Multipliers | None = None,
    *,
    input: Iterable[Any] | None = None,
    arg: Mapping[str, Any] | Iterable[str] | None = None,
    param: Mapping[str, Any] | Iterable[str] | None = None,
    **options: Any,
) -> Request:
    """A `Request` from the public API's keywords, named as the CLI's options: ``input`` the
    shapes (or the CLI's text, "3,224,224"), ``arg`` and ``param`` a mapping or the CLI's
    NAME=VALUE text."""
    if model is None or isinstance(model, (bool, int, float)):
        raise TypeError(
            f"expected a model: a name, a reference or an nn.Module, got {type(model).__name__}"
        )
    return request(
        model,
        multipliers,
        input=None if input is None else _sizes(input),
        args=pairs(arg, parse_args),
        design=pairs(param, parse_params) or {},
        **options,
    )


def _sizes(given: Iterable[Any]) -> tuple[Any, ...]:
    """The ``input`` keyword as `Request` holds it: the CLI's text ("3,224,224") read as its
    sizes, anything else as given."""
    if not isinstance(given, str):
        return tuple(given)
    try:
        return tuple(int(size) for size in given.split(","))
    except ValueError:
        raise OptionError(f"input={given!r}: expected sizes such as '3,224,224'") from None


def request(reference: Any, multipliers: Multipliers | None = None, **options: Any) -> Request:
    """A `Request` from a reference (variant keys included) plus options. ``options`` may also
    name multipliers (``alpha=0.5``): they join ``multipliers``. A key given both in the reference
    and as an option with another value is refused, not silently overridden."""
    known = {f.name for f in fields(Request)} - {"model", "multipliers"} | MULTIPLIER_KEYS
    unknown = sorted(set(options) - known)
    if unknown:
        raise OptionError(f"unknown option '{unknown[0]}'; known: {', '.join(sorted(known))}")
    base = multipliers or Multipliers()
    scaling = {k: options.pop(k) for k in list(options) if k in MULTIPLIER_KEYS}
    base = replace(base, **scaling)
    if is_onnx(reference):
        reference = os.fspath(reference)
    if isinstance(reference, str):
        reference, own = split_reference(reference)
        given_design = options.get("design") or {}
        for key, value in {**own.get("design", {}), **own}.items():
            if key == "design":
                continue
            if key in own.get("design", {}):
                given = given_design.get(key)
            elif key in MULTIPLIER_KEYS:
                given = getattr(base, key)
            else:
                given = options.get(key)
            default = _DEFAULTS.get(key)
            if given not in (None, default, value):
                raise OptionError(
                    f"{key}={value} in the reference and {key}={given} as an option: give it once"
                )
        base = replace(base, **{k: v for k, v in own.items() if k in MULTIPLIER_KEYS})
        if "design" in own:
            own["design"] = {**options.get("design", {}), **own["design"]}
        options.update({k: v for k, v in own.items() if k not in MULTIPLIER_KEYS})
    if "design" in options:
        options["design"] = MappingProxyType(dict(options["design"]))
    return Request(reference, base, **options)


# Each field's default, for telling an option that was given from one left alone.
_DEFAULTS: dict[str, Any] = {
    **{f.name: f.default for f in fields(Multipliers)},
    **{f.name: f.default for f in fields(Request) if f.default is not MISSING},
}
