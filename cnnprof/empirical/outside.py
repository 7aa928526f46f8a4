"""Models from outside the registry: torchvision:NAME, timm:NAME, package.module:factory,
path/to/file.py:factory. Each is constructed with the user's arguments; failures to import,
construct or run become one-line `LoadError`s naming the reference."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from cnnprof.errors import LoadError

Factory = Callable[..., nn.Module]


def _torchvision(name: str) -> Factory:
    try:
        import torchvision.models as models
    except ImportError:
        raise LoadError(f"torchvision:{name}: torchvision is not installed") from None
    try:
        builder = models.get_model_builder(name)
    except ValueError:
        raise LoadError(f"torchvision:{name}: torchvision has no model '{name}'") from None
    return lambda **kw: builder(weights=None, **kw)


def _timm(name: str) -> Factory:
    try:
        import timm
    except ImportError:
        raise LoadError(f"timm:{name}: timm is not installed") from None
    if not timm.is_model(name):
        raise LoadError(f"timm:{name}: timm has no model '{name}'")
    return lambda **kw: timm.create_model(name, pretrained=False, **kw)


SOURCES: Mapping[str, Callable[[str], Factory]] = MappingProxyType(
    {"torchvision": _torchvision, "timm": _timm}
)


def _from_file(path: str, attr: str) -> Factory:
    file = Path(path)
    if not file.is_file():
        raise LoadError(f"{path}:{attr}: no such file")
    name = f"cnnprof_user_{abs(hash(file.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise LoadError(f"{path}:{attr}: cannot import this file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise LoadError(f"{path}:{attr}: import failed: {type(exc).__name__}: {exc}") from None
    return _attribute(module, attr, f"{path}:{attr}", path)


def _from_module(module_name: str, attr: str) -> Factory:
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # as `python -m` would: packages in the cwd import
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        reference = f"{module_name}:{attr}"
        raise LoadError(f"{reference}: import failed: {type(exc).__name__}: {exc}") from None
    return _attribute(module, attr, f"{module_name}:{attr}", module_name)


def _attribute(module: Any, attr: str, reference: str, where: str) -> Factory:
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise LoadError(f"{reference}: no callable '{attr}' in {where}")
    return factory


def factory(reference: str) -> Factory:
    head, _, tail = reference.partition(":")
    if head in SOURCES:
        return SOURCES[head](tail)
    if head.endswith(".py"):
        return _from_file(head, tail)
    return _from_module(head, tail)


def construct(reference: str, args: Mapping[str, Any], device: str = "meta") -> nn.Module:
    """The model named by ``reference``, built with ``args`` on ``device`` (meta: no weights)."""
    make = factory(reference)
    try:
        with torch.device(device):
            module = make(**args)
    except Exception as exc:
        raise LoadError(f"{reference}: construction failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(module, nn.Module):
        raise LoadError(f"{reference}: the factory returned {type(module).__name__}, not nn.Module")
    return module.eval()
