"""`Request`: everything that changes an answer — the model, its `Multipliers` and the run's
settings — built once from a reference and the options, and checked when built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cnnprof.analytic.engine import check_run_options
from cnnprof.errors import OptionError
from cnnprof.spec.model import Shape
from cnnprof.spec.multipliers import Multipliers
from cnnprof.spec.reference import MULTIPLIER_KEYS, split_reference

DEFAULT_INPUT = Shape(3, 224, 224)


@dataclass(frozen=True)
class Request:
    """The model (a name, a reference, or an ``nn.Module``) and every option that shapes a count."""

    model: Any
    multipliers: Multipliers = field(default_factory=Multipliers)
    batch: int = 1
    dtype: str = "float32"
    input: tuple[int, ...] | None = None  # outside models: C,H,W
    args: Mapping[str, Any] | None = None  # outside models: factory keyword arguments
    transforms: tuple[str, ...] = ()  # "standard", "separable" (spec models only)
    train: str | None = None  # "head", "all" or "from:PATH": the cost of a training step

    def __post_init__(self) -> None:
        check_run_options(self.batch, self.dtype)

    @property
    def name(self) -> str:
        return self.model if isinstance(self.model, str) else type(self.model).__name__

    @property
    def label(self) -> str:
        """The reference as a user would write it, e.g. ``mobilenet@alpha=0.5,res=160``."""
        keys = self.multipliers.reference_keys() + list(self.transforms)
        keys += [f"train={self.train}"] if self.train else []
        return self.name + ("@" + ",".join(keys) if keys else "")

    def input_shape(self) -> Shape:
        """The input an outside model is given: ``input``, else ``resolution`` square, else 224²."""
        if self.input is not None:
            return Shape(*self.input)
        resolution = self.multipliers.resolution
        return DEFAULT_INPUT if resolution is None else Shape(3, resolution, resolution)

    def with_multipliers(self, **changes: Any) -> Request:
        return replace(self, multipliers=replace(self.multipliers, **changes))


def request(reference: Any, multipliers: Multipliers | None = None, **options: Any) -> Request:
    """A `Request` from a reference (variant keys included) plus options; the reference's own keys
    win. ``options`` may also name multipliers (``alpha=0.5``): they join ``multipliers``."""
    scaling = {k: options.pop(k) for k in list(options) if k in MULTIPLIER_KEYS}
    if isinstance(reference, str):
        reference, own = split_reference(reference)
        scaling.update({k: own.pop(k) for k in list(own) if k in MULTIPLIER_KEYS})
        options.update(own)
    try:
        base = multipliers or Multipliers()
        return Request(reference, replace(base, **scaling), **options)
    except TypeError as exc:
        raise OptionError(f"unknown option: {exc}") from None
