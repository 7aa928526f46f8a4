"""Where a model comes from, resolved once: a `SpecSource` (registry name, variant reference or
YAML: rows, multipliers, published figures) or an `OutsideSource` (torchvision, timm, a user's
factory or ``nn.Module``: constructed, no spec). Each gives its analytic profile, its module on a
device and its input.

This module is the one door into `cnnprof.empirical` and the one torch gate: anything that needs
torch asks `empirical()`, which, without torch, ends in one line naming the extra to install.
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from cnnprof.analytic.engine import profile as analytic_profile
from cnnprof.api.request import Request
from cnnprof.errors import MissingExtra, OptionError
from cnnprof.results.profile import Profile
from cnnprof.spec.model import Arch, Published, Shape
from cnnprof.spec.reference import is_outside
from cnnprof.spec.registry import lookup
from cnnprof.spec.transform import transform

if TYPE_CHECKING:
    from torch import nn


def empirical(name: str, needs: str) -> ModuleType:
    """``cnnprof.empirical.<name>``, imported; without torch, `MissingExtra` saying what
    ``needs`` it (e.g. "--empirical needs torch: pip install 'cnnprof[torch]'")."""
    try:
        importlib.import_module("torch")
    except ImportError:
        raise MissingExtra(f"{needs} needs torch: pip install 'cnnprof[torch]'") from None
    return importlib.import_module(f"cnnprof.empirical.{name}")


@dataclass(frozen=True)
class SpecSource:
    """A model with a spec: its rows, scaled, and optionally rewritten."""

    request: Request
    arch: Arch

    @property
    def outside(self) -> bool:
        return False

    @property
    def input_shape(self) -> Shape:
        return self.arch.input

    @property
    def published(self) -> Published | None:
        """The paper's figure for exactly this configuration (none for a rewritten spec)."""
        return None if self.request.transforms else self.arch.published_figure()

    @property
    def options(self) -> str:
        """What differs from the spec as written, for titles (``alpha=0.5``)."""
        return self.arch.multipliers.describe()

    def profile(self) -> Profile:
        return analytic_profile(self.arch, batch=self.request.batch, dtype=self.request.dtype)

    def module(self, device: str, needs: str = "--empirical") -> nn.Module:
        """The spec built as an ``nn.Module`` on ``device`` (meta: no weights)."""
        return empirical("build", needs).build(self.arch, device)


@dataclass(frozen=True)
class OutsideSource:
    """A model with no spec: constructed from its reference (or given as an ``nn.Module``)."""

    request: Request

    @property
    def outside(self) -> bool:
        return True

    @property
    def input_shape(self) -> Shape:
        return self.request.input_shape()

    @property
    def published(self) -> Published | None:
        return None

    @property
    def options(self) -> str:
        return ""

    @property
    def _needs(self) -> str:
        return f"{self.request.name} (an outside model, counted by running it)"

    def profile(self) -> Profile:
        """Leaf modules, shapes recorded on the meta device, through the formula table."""
        walk = empirical("walk", self._needs).walk
        return walk(self.module("meta"), self.input_shape, batch=self.request.batch,
                    dtype=self.request.dtype, model=self.request.name)  # fmt: skip

    def module(self, device: str, needs: str = "", fresh: bool = False) -> nn.Module:
        """The model on ``device``: constructed there from its reference, or the module the
        user gave (a copy when ``fresh``: a measurement must not move the caller's module)."""
        model = self.request.model
        if not isinstance(model, str):
            return copy.deepcopy(model) if fresh else model
        construct = empirical("outside", needs or self._needs).construct
        args = dict(self.request.args or {})
        if self.request.multipliers.num_classes is not None:
            args.setdefault("num_classes", self.request.multipliers.num_classes)
        return construct(model, args, device)


Source = SpecSource | OutsideSource


def resolve(request: Request) -> Source:
    """The source of ``request``'s model; options a source cannot honour are refused here."""
    if not is_outside(request.model):
        arch = lookup(request.model).arch(request.multipliers)
        for name in request.transforms:
            arch = transform(arch, name)
        if request.input is not None or request.args:
            given = "--input" if request.input is not None else "--arg"
            raise OptionError(
                f"{given} is for outside models; {request.name} is a spec: use --resolution, "
                "--rho or the variant's own options"
            )
        return SpecSource(request, arch)
    scaling = request.multipliers.spec_only()
    if scaling:
        raise OptionError(
            f"{scaling[0]} needs a spec (registry name or YAML); outside models take "
            "--input C,H,W, --resolution and --arg NAME=VALUE"
        )
    if request.transforms:
        raise OptionError(
            f"@{request.transforms[0]} rewrites a spec; outside models have none "
            "(`cnnprof separable` shows the per-layer what-if for them)"
        )
    shape = request.input
    if shape is not None and (len(shape) != 3 or min(shape) < 1):
        raise OptionError(f"--input {shape}: expected C,H,W with each ≥ 1")
    return OutsideSource(request)
