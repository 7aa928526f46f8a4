"""Where a model comes from, resolved once: a `SpecSource` (registry name, variant reference or
YAML: rows, multipliers, published figures) or an `OutsideSource` (torchvision, timm, a user's
factory or ``nn.Module``: constructed, no spec). Each gives its analytic profile, its module on a
device and its input.

This module is the one door into `cnnprof.empirical` and the one torch gate: each function below
that needs torch asks `require_torch` first, which, without torch, ends in one line naming the
extra to install; then it imports what it needs from `cnnprof.empirical` by name.
"""

from __future__ import annotations

import copy
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cnnprof.analytic.engine import profile as analytic_profile
from cnnprof.api.request import Request
from cnnprof.errors import MissingExtra, OptionError
from cnnprof.results.device import Peaks
from cnnprof.results.profile import Profile
from cnnprof.results.timing import LatencySettings, Timing
from cnnprof.results.training import MeasuredStep
from cnnprof.spec.model import Arch, Published, Shape
from cnnprof.spec.reference import is_outside
from cnnprof.spec.registry import lookup
from cnnprof.spec.transform import transform

if TYPE_CHECKING:
    from torch import nn

Progress = Callable[[str, float], None]  # (stage, fraction of that stage done)


def require_torch(needs: str) -> None:
    """`MissingExtra` saying what ``needs`` torch (e.g. "--empirical needs torch: pip install
    'cnnprof[torch]'") when it cannot be imported."""
    try:
        importlib.import_module("torch")
    except ImportError:
        raise MissingExtra(f"{needs} needs torch: pip install 'cnnprof[torch]'") from None


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
        """What differs from the spec as written, for titles (``alpha=0.5``, ``wm=2.5``)."""
        design = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in
                  self.arch.design.items()]  # fmt: skip
        return ", ".join(filter(None, [self.arch.multipliers.describe(), *design]))

    def profile(self) -> Profile:
        return self._profile

    @functools.cached_property
    def _profile(self) -> Profile:
        return analytic_profile(self.arch, batch=self.request.batch, dtype=self.request.dtype)

    def module(self, device: str, needs: str = "--empirical", fresh: bool = False) -> nn.Module:
        """The spec built as an ``nn.Module`` on ``device`` (meta: no weights); always a new
        one, so ``fresh`` changes nothing."""
        require_torch(needs)
        from cnnprof.empirical.build import build

        return build(self.arch, device)


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
        return self._profile

    @functools.cached_property
    def _profile(self) -> Profile:
        module = self.module("meta")
        from cnnprof.empirical.walk import walk

        return walk(module, self.input_shape, batch=self.request.batch, dtype=self.request.dtype,
                    model=self.request.name)  # fmt: skip

    def module(self, device: str, needs: str = "", fresh: bool = False) -> nn.Module:
        """The model on ``device``: constructed there from its reference, or the module the
        user gave (a copy when ``fresh``: a measurement must not move the caller's module)."""
        model = self.request.model
        if not isinstance(model, str):
            return copy.deepcopy(model) if fresh else model
        require_torch(needs or self._needs)
        from cnnprof.empirical.outside import construct

        args = dict(self.request.args or {})
        if self.request.multipliers.num_classes is not None:
            args.setdefault("num_classes", self.request.multipliers.num_classes)
        return construct(model, args, device)


Source = SpecSource | OutsideSource


def resolve(request: Request) -> Source:
    """The source of ``request``'s model; options a source cannot honour are refused here."""
    if not is_outside(request.model):
        arch = lookup(request.model).arch(request.multipliers, design=request.design)
        for name in request.transforms:
            arch = transform(arch, name)
        if request.input is not None or request.args:
            given = "--input" if request.input is not None else "--arg"
            raise OptionError(
                f"{given} is for outside models; {request.name} is a spec: use --resolution, "
                "--rho or the variant's own options"
            )
        return SpecSource(request, arch)
    if not isinstance(request.model, str) and (request.args or request.multipliers.num_classes):
        raise OptionError(
            "--arg and --num-classes construct a model from its reference; a module given "
            "directly is counted as it is"
        )
    scaling = request.multipliers.spec_only()
    if scaling:
        raise OptionError(
            f"{scaling[0]} needs a spec (registry name or YAML); outside models take "
            "--input C,H,W, --resolution and --arg NAME=VALUE"
        )
    if request.design:
        raise OptionError(
            f"design parameters ({', '.join(request.design)}) shape a generated spec (RegNet); "
            "outside models have none"
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


# --- the other doors into empirical/, each behind the torch gate --------------------------------


def count_module(source: Source, counter: str) -> Profile:
    """What the source's module executes, counted by ``counter`` ("torch": on the meta device;
    "fvcore": real tensors on the CPU, on a copy of a module the caller gave)."""
    device = "cpu" if counter == "fvcore" else "meta"
    module = source.module(device, needs="--empirical", fresh=device != "meta")
    rows = None if source.outside else [r.path for r in source.profile().rows]
    from cnnprof.empirical.count import COUNTERS

    req = source.request
    return COUNTERS[counter](module, source.input_shape, batch=req.batch, dtype=req.dtype,
                             rows=rows, model=req.name)  # fmt: skip


def train_step(source: Source, trainable: tuple[str, ...]) -> MeasuredStep:
    """A real forward and backward on meta with the ``trainable`` rows trainable."""
    module = source.module("meta", needs="--empirical")
    from cnnprof.empirical.training import training_step

    return training_step(module, source.input_shape, trainable, source.request.batch)


def time_model(
    source: Source, settings: LatencySettings, progress: Progress | None, needs: str
) -> Timing:
    """The source's model timed on ``settings.device`` with random weights (a module the caller
    gave is copied first); per-row times follow the analytic rows."""
    require_torch(needs)
    from cnnprof.empirical.latency import check_device, measure

    req = source.request
    check_device(settings.device, req.dtype)
    profile = source.profile()
    module = source.module(settings.device, needs=needs, fresh=True)
    return measure(
        module, source.input_shape, batch=req.batch, dtype=req.dtype, settings=settings,
        rows=profile.rows, macs=profile.macs, model=profile.model, progress=progress,
    )  # fmt: skip


def device_peaks(
    device: str, dtype: str, threads: int | None, *, refresh: bool, progress: Progress | None,
    needs: str,
) -> Peaks:  # fmt: skip
    """The device's measured peaks, from the cache or measured now (and cached)."""
    require_torch(needs)
    from cnnprof.empirical.peaks import peaks

    return peaks(device, dtype, threads, refresh=refresh, progress=progress)


def peaks_cache(measured: Peaks) -> str | None:
    """Where ``measured`` is cached, if it is."""
    require_torch("cnnprof device")
    from cnnprof.empirical.peaks import cache_path

    path = cache_path(
        measured.device_name, measured.torch_version, measured.threads, measured.dtype
    )
    return str(path) if path.is_file() else None


def this_machine(needs: str) -> tuple[Callable[[str], str], int]:
    """How this machine names a device ("cpu" → its CPU's model), and torch's thread count."""
    require_torch(needs)
    from cnnprof.empirical.latency import device_name, thread_count

    return device_name, thread_count()
