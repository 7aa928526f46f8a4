"""Counting use cases: a request in, a `Profile`, a `CrossCheck` or a training cost out.
Nothing here prints; torch is reached only through `sources`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from cnnprof.api.keywords import keywords
from cnnprof.api.kinds import Source
from cnnprof.api.request import DEFAULT_TIMEOUT, Request, keyword_request
from cnnprof.api.sources import resolve
from cnnprof.arch.model import Arch
from cnnprof.arch.multipliers import Multipliers
from cnnprof.arch.registry import Entry, lookup
from cnnprof.errors import OptionError
from cnnprof.results.profile import CrossCheck, Profile
from cnnprof.results.vocab import COUNTERS

if TYPE_CHECKING:
    from cnnprof.results.training import MeasuredStep, TrainingCost


def profile_analytic(model: Request | Source) -> Profile:
    """The default count of a request's model (or a source already resolved): closed-form from
    the spec, or (outside models, which have none) the complete dispatch-level count of what the
    module runs; with the paper's figure for exactly this configuration, where there is one."""
    source = resolve(model) if isinstance(model, Request) else model
    return replace(source.profile(), published=source.published)


def profile_empirical(req: Request, counter: str = "torch") -> Profile:
    """Counts of what the real nn.Module executes (meta device; fvcore: real CPU tensors)."""
    _check_counter(counter)
    return resolve(req).counted(counter)


def cross_check(req: Request, counter: str = "torch") -> CrossCheck:
    """Two independent opinions: the spec's formulas (an outside model's: its modules walked
    through the formula table) against what the module executes."""
    _check_counter(counter)
    return resolve(req).cross_check(counter)


def _check_counter(counter: str) -> None:
    if counter not in COUNTERS:
        raise OptionError(f"--counter {counter}: expected one of {', '.join(COUNTERS)}")


def training(req: Request, profile: Profile | None = None) -> TrainingCost:
    """The analytic cost of one training step under ``req.train``."""
    from cnnprof.analytic.training import training_cost

    return training_cost(profile or profile_analytic(req), req.train or "all")


def measured_training(req: Request, cost: TrainingCost) -> MeasuredStep:
    """A real forward and backward on meta with the same rows trainable (empirical check)."""
    return resolve(req).trained(cost.trainable)


@keywords("count")
def count(
    model: Any,
    *,
    multipliers: Multipliers,
    batch: int = 1,
    dtype: str = "float32",
    input: Iterable[Any] | None = None,
    arg: Mapping[str, Any] | Iterable[str] | None = None,
    param: Mapping[str, Any] | Iterable[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    empirical: bool = False,
    counter: str = "torch",
) -> Profile:
    """Params, MACs, FLOPs and memory of ``model``: a registry name or variant reference
    (``mobilenet@alpha=0.5``), a spec.yaml, an outside reference (``torchvision:resnet18``,
    ``pkg.mod:factory``, ``file.py:factory``) or an ``nn.Module``; the keywords are `cnnprof
    count`'s options (the multipliers ``alpha`` … ``num_classes`` where ``multipliers`` stands;
    ``arg`` and ``param``: a mapping, or the CLI's NAME=VALUE text). Analytic by default;
    ``empirical=True`` counts the running module."""
    req = keyword_request(
        model,
        multipliers,
        batch=batch,
        dtype=dtype,
        input=input,
        arg=arg,
        param=param,
        timeout=timeout,
    )
    _check_counter(counter)
    if counter != "torch" and not empirical:
        raise OptionError(f"counter={counter}: chooses the empirical counter; add empirical=True")
    source = resolve(req)
    profile = source.counted(counter) if empirical else profile_analytic(source)
    return replace(profile, given=source.options)


def entry(model: str) -> Entry:
    """A registry name or alias, or a path to a YAML family file (``spec.yaml[:variant]``)."""
    return lookup(model)


def load(model: str, multipliers: Multipliers | None = None, **scaling: float | int | None) -> Arch:
    """The architecture of ``model`` with the multipliers applied (a `Multipliers`, or its fields
    as keywords: ``load("mobilenet", alpha=0.5)``)."""
    return lookup(model).arch(replace(multipliers or Multipliers(), **scaling))
