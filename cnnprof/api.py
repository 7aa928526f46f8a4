"""The public API: name a model, get data back. Nothing here prints; torch is imported only
when an empirical path is asked for."""

from __future__ import annotations

from pathlib import Path

from cnnprof.analytic.engine import profile as analytic_profile
from cnnprof.errors import UnknownModel
from cnnprof.profile import Profile
from cnnprof.registry import Entry, default_registry
from cnnprof.spec.load import read_family
from cnnprof.spec.model import Arch


def entry(model: str) -> Entry:
    """A registry name or alias, or a path to a YAML family file (``spec.yaml`` or
    ``spec.yaml:variant``)."""
    path, _, variant = model.partition(".yaml")
    if _ and (variant == "" or variant.startswith(":")):
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


def count(
    model: str,
    *,
    alpha: float = 1.0,
    depth: float = 1.0,
    resolution: int | None = None,
    rho: float | None = None,
    phi: float | None = None,
    num_classes: int | None = None,
    batch: int = 1,
    dtype: str = "float32",
) -> Profile:
    """Params, MACs, FLOPs and memory of ``model``, counted analytically."""
    arch = load(
        model, alpha=alpha, depth=depth, resolution=resolution, rho=rho, phi=phi,
        num_classes=num_classes,
    )  # fmt: skip
    return analytic_profile(arch, batch=batch, dtype=dtype)
