"""Where a model comes from, resolved once into a source: a `SpecSource` (registry name, variant
reference or YAML: rows, multipliers, published figures) or an `OutsideSource` (torchvision,
timm, a user's factory or ``nn.Module``: constructed, no spec). Callers ask a source what the
`Source` protocol names (its profile, its cross-check, whether it can be rewritten, how it is
timed), never which kind it is: only `resolve` knows the kinds (`KINDS`), so a new kind is one
class and one line there.

A source whose model is a user's code named by a reference (its ``guest``) is answered from a
worker process (`guest.supervise`). This module is the torch gate, and the door into
`cnnprof.empirical` for a model's source (`doors` for the device's): each function below that
needs torch asks `require_torch` first, which, without torch, ends in one line naming the extra
to install; then it imports what it needs from `cnnprof.empirical` by name.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from math import prod
from typing import TYPE_CHECKING, Any

from cnnprof.analytic.engine import profile as analytic_profile
from cnnprof.api.exporting import Exporting
from cnnprof.api.guest import supervise
from cnnprof.api.kinds import Kind, Source
from cnnprof.api.onnx_source import OnnxSource
from cnnprof.api.request import Request, one_image
from cnnprof.arch.model import Arch, Published, Shape
from cnnprof.arch.reference import DEFAULT_TIMEOUT, is_outside
from cnnprof.arch.registry import lookup
from cnnprof.arch.transform import transform
from cnnprof.errors import CnnprofError, LoadError, MissingExtra, OptionError, OutOfTime
from cnnprof.results.profile import CrossCheck, Profile
from cnnprof.results.vocab import Progress

if TYPE_CHECKING:
    from torch import nn

    from cnnprof.empirical.inputs import Inputs
    from cnnprof.empirical.outside import Chosen
    from cnnprof.empirical.recorder import MetaFailed
    from cnnprof.protocol.interleave import Contender
    from cnnprof.results.timing import Deadline, LatencySettings, Timing
    from cnnprof.results.training import MeasuredStep


def require_torch(needs: str) -> None:
    """`MissingExtra` saying what ``needs`` torch (e.g. "--empirical needs torch: pip install
    torch --index-url …/whl/cpu, then …") when it cannot be imported."""
    try:
        with warnings.catch_warnings():
            # The CPU wheel comes without numpy, which cnnprof does without (empirical.latency).
            warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
            importlib.import_module("torch")
    except ImportError:
        raise MissingExtra.of("torch", needs) from None


class ModuleSource(Exporting, ABC):
    """What a source whose model is a torch ``nn.Module`` does by running that module: count
    it, train it, time it. A kind of it gives the module and the rest of `Source`."""

    request: Request  # each kind's own field
    input_shape: Shape  # each kind's own property
    profile: Callable[[], Profile]  # each kind's own count

    @abstractmethod
    def formulas(self) -> Profile:
        """The formula side of the cross-check."""

    @abstractmethod
    def row_paths(self) -> list[str] | None:
        """The rows a count of the module attributes its work to (None: its own modules)."""

    @abstractmethod
    def running(self, budget: float | None = None) -> AbstractContextManager[None]: ...

    @abstractmethod
    def module(self, device: str, needs: str = "", fresh: bool = False) -> nn.Module:
        """The model on ``device`` (a new one when ``fresh``)."""

    def counted(self, counter: str) -> Profile:
        """What the module executes, counted by ``counter`` ("torch": on the meta device;
        "fvcore": real tensors on the CPU, on a copy of a module the caller gave)."""
        device = "cpu" if counter == "fvcore" else "meta"
        module = self.module(device, needs="--empirical", fresh=device != "meta")
        from cnnprof.empirical.count import COUNTERS

        req, shape, rows = self.request, self.input_shape, self.row_paths()
        with self.running():
            return COUNTERS[counter](
                module, shape, batch=req.batch, dtype=req.dtype, rows=rows, model=req.name
            )

    def cross_check(self, counter: str) -> CrossCheck:
        return CrossCheck.of(self.formulas(), self.counted(counter))

    def trained(self, trainable: tuple[str, ...]) -> MeasuredStep:
        """A real forward and backward on meta with the ``trainable`` rows trainable."""
        module = self.module("meta", needs="--empirical")
        from cnnprof.empirical.training import training_step

        with self.running():
            return training_step(module, self.input_shape, trainable, self.request.batch)

    def timed(
        self,
        settings: LatencySettings,
        progress: Progress | None,
        needs: str,
        *,
        deadline: Deadline | None = None,
        stop: Deadline | None = None,
    ) -> Timing:
        """The module timed on ``settings.device`` with random weights (a module the caller
        gave is copied first); per-row times follow the profile's rows. ``deadline`` (default:
        the settings' budget from now) bounds the measurement; the model's own code is stopped
        at ``stop`` (default: the deadline), so a first run may finish past a deadline that
        leaves the rest of the budget to others."""
        from cnnprof.results.timing import Deadline

        ready = self.contender(settings.device, needs, settings.runtime)
        deadline = deadline or Deadline(settings.budget)
        with self.running((stop or deadline).left()):
            return ready.timed(settings, deadline, progress, rows=self.profile().layers)

    def contender(self, device: str, needs: str, runtime: str = "torch") -> Contender:
        """The module on ``device`` with random weights (a module the caller gave is copied
        first), for an interleaved measurement; under ONNX Runtime, exported in memory."""
        from cnnprof.results.timing import ONNXRUNTIME

        if runtime == ONNXRUNTIME:
            from cnnprof.api.runtimes import exported_model

            return exported_model(self, device, needs)
        require_torch(needs)
        from cnnprof.empirical.device import check_device
        from cnnprof.empirical.interleave import ModuleContender

        req, profile = self.request, self.profile()
        check_device(device, req.dtype, fits=profile)  # before the module is built there
        module = self.module(device, needs=needs, fresh=True)
        return ModuleContender(
            module, self.input_shape, req.batch, req.dtype, profile.model, profile.macs
        )


@dataclass(frozen=True)
class SpecSource(ModuleSource):
    """A model with a spec: its rows, scaled, and optionally rewritten."""

    request: Request
    arch: Arch
    guest = False  # cnnprof's own code builds it

    @staticmethod
    def takes(model: Any) -> bool:
        return not is_outside(model)

    @classmethod
    def of(cls, request: Request) -> SpecSource:
        """The spec, scaled and rewritten; options for outside models are refused."""
        arch = lookup(request.model).arch(request.multipliers, design=request.design)
        for name in request.transforms:
            arch = transform(arch, name)
        if request.input is not None or request.args:
            given = "--input" if request.input is not None else "--arg"
            raise OptionError(
                f"{given} is for outside models; {request.name} is a spec: use --resolution, "
                "--rho or the variant's own options"
            )
        if request.timeout != DEFAULT_TIMEOUT:
            raise OptionError(
                f"--timeout {request.timeout:g} bounds an outside model's own code (import, "
                f"factory, forward); {request.name} is a spec, counted by cnnprof alone"
            )
        return cls(request, arch)

    @property
    def input_shape(self) -> Shape:
        return self.arch.input

    def running(self, budget: float | None = None) -> AbstractContextManager[None]:
        """A spec's forward is cnnprof's own code: no boundary."""
        return contextlib.nullcontext()

    @property
    def published(self) -> Published | None:
        """The paper's figure for exactly this configuration (none for a rewritten spec)."""
        return None if self.request.transforms else self.arch.published_figure()

    @property
    def options(self) -> str:
        """What differs from the spec as written, for titles (``alpha=0.5``, ``wm=2.5``)."""
        design = [
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in self.arch.design.items()
        ]
        return ", ".join(filter(None, [self.arch.multipliers.describe(), *design]))

    def profile(self) -> Profile:
        return self._profile

    @functools.cached_property
    def _profile(self) -> Profile:
        req = self.request
        profile = analytic_profile(self.arch, batch=req.batch, dtype=req.dtype)
        scaled = req.multipliers.resolution is not None or req.multipliers.rho is not None
        return replace(profile, input_from="--resolution" if scaled else "model config")

    def formulas(self) -> Profile:
        """The spec's own count: closed-form, row by row."""
        return self.profile()

    def row_paths(self) -> list[str]:
        return [r.path for r in self.profile().layers]

    def rewrite_refusal(self, transform: str) -> None:
        """Every spec can be rewritten."""

    def module(self, device: str, needs: str = "--empirical", fresh: bool = False) -> nn.Module:
        """The spec built as an ``nn.Module`` on ``device`` (meta: no weights); always a new
        one, so ``fresh`` changes nothing."""
        require_torch(needs)
        from cnnprof.empirical.build import build

        return build(self.arch, device)


# A real-memory fallback may use this share of the memory the machine has available.
REAL_MEMORY_SHARE = 0.5
# Live tensors assumed at once, each as large as the largest one seen on meta, for the estimate.
LIVE_TENSORS = 4


@dataclass(frozen=True)
class OutsideSource(ModuleSource):
    """A model with no spec: constructed from its reference (or given as an ``nn.Module``).
    Counted at the dispatch level (every op torch runs, every parameter); the formula walk of
    its modules is the cross-check."""

    request: Request

    takes = staticmethod(is_outside)

    @classmethod
    def of(cls, request: Request) -> OutsideSource:
        """The outside model's source; options only a spec can honour are refused."""
        source = cls(request)
        if not isinstance(request.model, str) and (request.args or request.multipliers.num_classes):
            raise OptionError(
                "--arg and --num-classes construct a model from its reference; a module given "
                "directly is counted as it is"
            )
        scaling = request.multipliers.spec_only()
        if scaling:
            raise OptionError(
                f"{scaling[0]} needs a spec (registry name or YAML); outside models take "
                "--input SIZES (repeatable), --resolution and --arg NAME=VALUE"
            )
        if request.design:
            raise OptionError(
                f"design parameters ({', '.join(request.design)}) shape a generated spec "
                "(RegNet); outside models have none"
            )
        refused = [why for t in request.transforms if (why := source.rewrite_refusal(t))]
        if refused:
            raise OptionError(refused[0])
        return source

    @property
    def input_shape(self) -> Shape:
        return one_image(self.inputs().shapes)

    published = None  # no paper's figure, and no options for titles: it is counted as it is
    options = ""

    @property
    def guest(self) -> bool:
        """Built by a user's code (or a library's) that a reference names."""
        return isinstance(self.request.model, str)

    @property
    def needs(self) -> str:
        """What needs torch, for the line saying it is missing."""
        return f"{self.request.name} (an outside model, counted by running it)"

    def inputs(self) -> Inputs:
        """The `Inputs` the model is called with (`choose_inputs`)."""
        return self._chosen.inputs

    @functools.cached_property
    def _chosen(self) -> Chosen:
        require_torch(self.needs)
        from cnnprof.empirical.outside import choose_inputs

        req, model = self.request, self.request.model
        reference = model if isinstance(model, str) else ""
        return choose_inputs(reference, self._meta[0], req.input, req.multipliers.resolution)

    @functools.cached_property
    def _meta(self) -> tuple[nn.Module, str]:
        return self._built()

    def profile(self) -> Profile:
        """The dispatch-level count: on the meta device, or, when the forward cannot run there,
        on the CPU with real tensors after a memory estimate (the profile says which)."""
        return self._profile

    @functools.cached_property
    def _profile(self) -> Profile:
        require_torch(self.needs)
        from cnnprof.empirical.count import count

        return self._run(count)

    def formulas(self) -> Profile:
        """The cross-check: modules with shapes recorded on the meta device, through the
        formula table."""
        require_torch(self.needs)
        from cnnprof.empirical.walk import walk

        return self._run(walk)

    def row_paths(self) -> None:
        """A count attributes the work to the model's own modules."""

    def counted(self, counter: str) -> Profile:
        """The torch count is the default count; fvcore's runs a copy on the CPU."""
        return self.profile() if counter == "torch" else super().counted(counter)

    def rewrite_refusal(self, transform: str) -> str | None:
        """``separable`` is module surgery (`separable_twin`); ``standard`` would merge each
        depthwise convolution with the pointwise one after it, which no surgery on the modules
        alone can make (they do not say how the forward joins them)."""
        if transform == "separable":
            return None
        return (
            f"@{transform} merges each depthwise convolution with the pointwise one after it; "
            f"{self.request.name} is an outside model, whose modules do not say how its "
            "forward joins them (only a spec can be rewritten that way)"
        )

    def _rewritten(self, module: nn.Module) -> nn.Module:
        """A copy of ``module`` with the request's transforms made (`separable_twin`), or
        ``module`` itself when there are none."""
        if not self.request.transforms:
            return module
        from cnnprof.empirical.rewrite import separable_twin

        return separable_twin(module)

    def _run(self, counter: Callable[..., Profile]) -> Profile:
        from cnnprof.empirical.recorder import MetaFailed

        req, inputs = self.request, self.inputs()
        module, how = self._meta
        settings = {"batch": req.batch, "dtype": req.dtype, "model": req.name}
        with self.running(), self._chosen.hinting():
            try:
                profile = counter(module, inputs, **settings)
            except MetaFailed as failed:
                real, how = self._real(module, inputs, failed)
                profile = counter(real, inputs, on="real", **settings)
        return replace(profile, counted_on=how, input_from=self._chosen.origin)

    def _built(self) -> tuple[nn.Module, str]:
        """The model with its weights on meta, and how it was built."""
        from cnnprof.empirical.outside import construct, parameters_on_meta, refuse_deep

        model = self.request.model
        if not isinstance(model, str):
            refuse_deep(self.request.name, model)
            return self._rewritten(model), "meta"

        args = self._args()
        try:
            built = construct(model, args, "meta", timeout=self.request.timeout)
            return self._rewritten(built), "meta"
        except CnnprofError as on_meta:
            if isinstance(on_meta, OutOfTime):  # the model's time is spent: no second attempt
                raise
            try:
                with parameters_on_meta():
                    built = construct(model, args, "cpu", timeout=self.request.timeout)
            except CnnprofError:
                raise on_meta from None
        return (
            self._rewritten(built),
            "meta (built on the CPU, each parameter moved to meta as it was made: "
            "the factory computes with real tensors)",
        )

    def _real(self, module: nn.Module, inputs: Inputs, failed: MetaFailed) -> tuple[nn.Module, str]:
        """The model with real weights on the CPU, if the estimate of its memory fits."""
        from cnnprof.empirical.count import tensor_bytes
        from cnnprof.empirical.inputs import fixed_seed
        from cnnprof.files import available_bytes

        batch = self.request.batch
        largest = max(failed.largest, batch * max(prod(s) for s in inputs.shapes))
        estimate = tensor_bytes(module) + LIVE_TENSORS * largest * 4
        limit = int(available_bytes() * REAL_MEMORY_SHARE)
        why = f"the forward cannot run on meta ({str(failed).split(': ', 2)[-1][:80]})"
        if estimate > limit:
            raise LoadError(
                f"{self.request.name}: {why}; running it on the CPU would need about "
                f"{estimate / 2**20:,.0f} MB, over the limit of {limit / 2**20:,.0f} MB "
                "(half the memory available now)"
            )
        with fixed_seed():  # the same weights every run
            real = self.module("cpu", fresh=True)
        given = " + ".join("×".join(map(str, s)) for s in inputs.shapes)
        form = f"a list of {batch} image(s) {given}" if inputs.image_list else given
        return real, (
            f"cpu with real tensors: {why}; estimated {estimate / 2**20:,.1f} MB "
            f"(limit {limit / 2**20:,.0f} MB); random input {form} (seed 0): what depends on "
            "the data (how many proposals a detector keeps) is counted for this input only"
        )

    def _args(self) -> dict[str, Any]:
        args = dict(self.request.args or {})
        if self.request.multipliers.num_classes is not None:
            args.setdefault("num_classes", self.request.multipliers.num_classes)
        return args

    def running(self, budget: float | None = None) -> AbstractContextManager[None]:
        """The boundary the model's own code runs in (a guest): a timed measurement for at
        most what is left of its time budget (``budget`` seconds), other work for at most the
        request's timeout."""
        require_torch(self.needs)
        from cnnprof.empirical.outside import guest
        from cnnprof.results.timing import budget_left

        if budget is not None:
            left = max(budget, 0.0)
            return guest(self.request.name, "forward", left, budget_left(left))
        return guest(self.request.name, "forward", self.request.timeout)

    def module(self, device: str, needs: str = "", fresh: bool = False) -> nn.Module:
        """The model on ``device``: constructed there from its reference (on meta also when the
        factory computes with real tensors), or the module the user gave (a copy when
        ``fresh``: a measurement must not move the caller's module)."""
        model = self.request.model
        if not isinstance(model, str):
            return self._rewritten(copy.deepcopy(model) if fresh else model)
        require_torch(needs or self.needs)
        if device == "meta":
            return self._built()[0]
        from cnnprof.empirical.outside import construct

        built = construct(model, self._args(), device, timeout=self.request.timeout)
        return self._rewritten(built)


# The kinds of source, asked in order: the first that takes a model's reference resolves it.
KINDS: tuple[Kind, ...] = (OnnxSource, SpecSource, OutsideSource)


def resolve(request: Request, *, supervised: bool = True) -> Source:
    """The source of ``request``'s model, of the first kind that takes its reference; options
    that kind cannot honour are refused here. A user's code runs in a worker process
    (`guest.supervise`), unless not ``supervised`` (inside such a worker)."""
    source = next(k for k in KINDS if k.takes(request.model)).of(request)
    return supervise(source) if supervised else source
