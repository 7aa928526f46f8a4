"""The public API: name a model, get data back. Nothing here prints; torch is imported only
when an empirical path or an outside model is asked for."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnprof.analytic.engine import check_run_options
from cnnprof.analytic.engine import profile as analytic_profile
from cnnprof.analytic.training import TrainingCost, training_cost
from cnnprof.errors import OptionError, UnknownModel
from cnnprof.profile import Profile
from cnnprof.registry import Entry, default_registry
from cnnprof.report import Difference, differences
from cnnprof.spec.load import read_family
from cnnprof.spec.model import Arch, Shape
from cnnprof.spec.scale import check_options
from cnnprof.spec.transform import TRANSFORMS, transform

if TYPE_CHECKING:
    from torch import nn

DEFAULT_INPUT = Shape(3, 224, 224)
COUNTER_NAMES = ("torch", "fvcore")


def is_outside(model: object) -> bool:
    """A model with no spec: an ``nn.Module`` or a ``prefix:name`` reference."""
    if not isinstance(model, str):
        return True
    head, sep, _ = model.partition(":")
    return bool(sep) and bool(head) and not head.endswith(".yaml")


def parse_args(pairs: list[str] | None) -> dict[str, Any]:
    """``["num_classes=10", "width_mult=0.5"]`` → keyword arguments (Python literals or text)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise OptionError(f"--arg {pair!r}: expected NAME=VALUE, e.g. num_classes=10")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def entry(model: str) -> Entry:
    """A registry name or alias, or a path to a YAML family file (``spec.yaml`` or
    ``spec.yaml:variant``)."""
    path, yaml_suffix, variant = model.partition(".yaml")
    if yaml_suffix and (variant == "" or variant.startswith(":")):
        file = Path(path + ".yaml")
        if not file.is_file():
            raise UnknownModel(f"spec file '{file}' does not exist")
        family = read_family(file)
        name = variant[1:] or next(iter(family.variants))
        if name not in family.variants:
            known = ", ".join(family.variants)
            raise UnknownModel(f"'{file}' has no variant '{name}'; it has: {known}")
        return Entry(family, family.variants[name])
    return default_registry().get(model)


def load(
    model: str,
    *,
    alpha: float = 1.0,
    depth: float = 1.0,
    resolution: int | None = None,
    rho: float | None = None,
    phi: float | None = None,
    num_classes: int | None = None,
) -> Arch:
    """The architecture of ``model`` with the multipliers applied."""
    return entry(model).arch(
        alpha=alpha, depth=depth, resolution=resolution, rho=rho, phi=phi, num_classes=num_classes
    )


@dataclass(frozen=True)
class Request:
    """Everything that changes a count: the model and every option."""

    model: Any  # a name, a reference, or an nn.Module
    alpha: float = 1.0
    depth: float = 1.0
    resolution: int | None = None
    rho: float | None = None
    phi: float | None = None
    num_classes: int | None = None
    batch: int = 1
    dtype: str = "float32"
    input: tuple[int, int, int] | None = None
    args: Mapping[str, Any] | None = None
    transforms: tuple[str, ...] = ()  # "standard", "separable" (spec models only)
    train: str | None = None  # "head", "all" or "from:PATH": the cost of a training step

    def arch(self) -> Arch:
        arch = load(
            self.model, alpha=self.alpha, depth=self.depth, resolution=self.resolution,
            rho=self.rho, phi=self.phi, num_classes=self.num_classes,
        )  # fmt: skip
        for name in self.transforms:
            arch = transform(arch, name)
        return arch

    @property
    def label(self) -> str:
        """The reference as a user would write it, e.g. ``mobilenet@alpha=0.5,res=160``."""
        name = self.model if isinstance(self.model, str) else type(self.model).__name__
        keys = [f"alpha={self.alpha:g}"] if self.alpha != 1.0 else []
        keys += [f"depth={self.depth:g}"] if self.depth != 1.0 else []
        keys += [f"res={self.resolution}"] if self.resolution is not None else []
        keys += [f"rho={self.rho:g}"] if self.rho is not None else []
        keys += [f"phi={self.phi:g}"] if self.phi is not None else []
        keys += [f"classes={self.num_classes}"] if self.num_classes is not None else []
        keys += list(self.transforms)
        keys += [f"train={self.train}"] if self.train else []
        return name + ("@" + ",".join(keys) if keys else "")

    def input_shape(self) -> Shape:
        if self.input is not None:
            return Shape(*self.input)
        if self.resolution is not None:
            return Shape(3, self.resolution, self.resolution)
        return DEFAULT_INPUT

    def check_outside(self) -> None:
        scaling = {"--alpha": self.alpha != 1.0, "--depth": self.depth != 1.0,
                   "--rho": self.rho is not None, "--phi": self.phi is not None}  # fmt: skip
        given = [k for k, v in scaling.items() if v]
        if given:
            raise OptionError(
                f"{given[0]} needs a spec (registry name or YAML); outside models take "
                "--input C,H,W, --resolution and --arg NAME=VALUE"
            )
        if self.transforms:
            raise OptionError(
                f"@{self.transforms[0]} rewrites a spec; outside models have none "
                "(`cnnprof separable` shows the per-layer what-if for them)"
            )
        if self.input is not None and (len(self.input) != 3 or min(self.input) < 1):
            raise OptionError(f"--input {self.input}: expected C,H,W with each ≥ 1")


def outside_module(request: Request, device: str) -> nn.Module:
    if isinstance(request.model, str):
        from cnnprof.empirical.outside import construct

        args = dict(request.args or {})
        if request.num_classes is not None:
            args.setdefault("num_classes", request.num_classes)
        return construct(request.model, args, device)
    return request.model


# Keys of a variant reference, NAME@key=value,key=value → Request field and type.
VARIANT_KEYS: Mapping[str, tuple[str, type]] = {
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


def split_reference(reference: str) -> tuple[str, dict[str, Any]]:
    """``"mobilenet@alpha=0.5,res=160"`` → ``("mobilenet", {"alpha": 0.5, "resolution": 160})``."""
    model, sep, tail = reference.partition("@")
    options: dict[str, Any] = {}
    if not sep:
        return model, options
    for part in filter(None, tail.split(",")):
        key, eq, value = part.partition("=")
        if key in TRANSFORMS and not eq:
            options["transforms"] = (*options.get("transforms", ()), key)
            continue
        if key not in VARIANT_KEYS or not eq:
            known = ", ".join([*VARIANT_KEYS, *TRANSFORMS])
            raise OptionError(f"'{reference}': unknown variant key '{key}'; known: {known}")
        name, kind = VARIANT_KEYS[key]
        try:
            options[name] = kind(value)
        except ValueError:
            raise OptionError(f"'{reference}': {key}={value} is not a {kind.__name__}") from None
    return model, options


def request(reference: Any, **options: Any) -> Request:
    """A Request from a reference string (variant keys included) plus explicit options; the
    reference's own keys win."""
    if isinstance(reference, str):
        reference, own = split_reference(reference)
        options.update(own)
    check_options(
        options.get("alpha", 1.0), options.get("depth", 1.0), options.get("resolution"),
        options.get("rho"), options.get("phi"), options.get("num_classes"),
    )  # fmt: skip
    return Request(reference, **options)


def profile_analytic(request: Request) -> Profile:
    """Closed-form counts: from the spec, or (outside models) from leaf modules and formulas."""
    check_run_options(request.batch, request.dtype)
    if not is_outside(request.model):
        return analytic_profile(request.arch(), batch=request.batch, dtype=request.dtype)
    request.check_outside()
    from cnnprof.empirical.walk import walk

    return walk(outside_module(request, "meta"), request.input_shape(), batch=request.batch,
                dtype=request.dtype, model=_name(request.model))  # fmt: skip


def profile_empirical(request: Request, counter: str = "torch") -> Profile:
    """Counts of what the real nn.Module executes (meta device; fvcore: real CPU tensors)."""
    check_run_options(request.batch, request.dtype)
    if counter not in COUNTER_NAMES:
        raise OptionError(f"--counter {counter}: expected one of {', '.join(COUNTER_NAMES)}")
    from cnnprof.empirical.count import COUNTERS

    device = "cpu" if counter == "fvcore" else "meta"
    if is_outside(request.model):
        request.check_outside()
        module, shape, rows = outside_module(request, device), request.input_shape(), None
    else:
        from cnnprof.empirical.build import build

        arch = request.arch()
        rows = [r.path for r in analytic_profile(arch).rows]
        module, shape = build(arch, device), arch.input
    return COUNTERS[counter](module, shape, batch=request.batch, dtype=request.dtype, rows=rows,
                             model=_name(request.model))  # fmt: skip


@dataclass(frozen=True)
class CrossCheck:
    """The same model counted both ways, and where they differ (params and MACs, by row)."""

    analytic: Profile
    empirical: Profile
    differences: tuple[Difference, ...]

    @property
    def agree(self) -> bool:
        return (
            self.analytic.params == self.empirical.params
            and self.analytic.macs == self.empirical.macs
        )


def training(request: Request, profile: Profile | None = None) -> TrainingCost:
    """The analytic cost of one training step under ``request.train``."""
    return training_cost(profile or profile_analytic(request), request.train or "all")


def measured_training(request: Request, cost: TrainingCost) -> Any:
    """A real forward and backward on meta with the same rows trainable (empirical check)."""
    from cnnprof.empirical.training import training_step

    if is_outside(request.model):
        request.check_outside()
        module, shape = outside_module(request, "meta"), request.input_shape()
    else:
        from cnnprof.empirical.build import build

        arch = request.arch()
        module, shape = build(arch), arch.input
    return training_step(module, shape, cost.trainable, request.batch)


def cross_check(request: Request, counter: str = "torch") -> CrossCheck:
    a, e = profile_analytic(request), profile_empirical(request, counter)
    return CrossCheck(a, e, tuple(differences(a, e)))


def count(
    model: Any,
    *,
    alpha: float = 1.0,
    depth: float = 1.0,
    resolution: int | None = None,
    rho: float | None = None,
    phi: float | None = None,
    num_classes: int | None = None,
    batch: int = 1,
    dtype: str = "float32",
    input: Iterable[int] | None = None,
    args: Mapping[str, Any] | None = None,
    empirical: bool = False,
    counter: str = "torch",
) -> Profile:
    """Params, MACs, FLOPs and memory of ``model``: a registry name, a spec.yaml, an outside
    reference (``torchvision:resnet18``, ``pkg.mod:factory``, ``file.py:factory``) or an
    ``nn.Module``. Analytic by default; ``empirical=True`` counts the running module."""
    req = request(
        model, alpha=alpha, depth=depth, resolution=resolution, rho=rho, phi=phi,
        num_classes=num_classes, batch=batch, dtype=dtype,
        input=None if input is None else tuple(input), args=args,
    )  # fmt: skip
    return profile_empirical(req, counter) if empirical else profile_analytic(req)


def _name(model: Any) -> str:
    return model if isinstance(model, str) else type(model).__name__
