"""A model exported to ONNX by torch, in memory: built on the CPU in eval mode with seeded
random weights (nothing downloaded), called with seeded random inputs at the request's batch,
and written by the TorchScript exporter (``torch.onnx.export(dynamo=False)``) or the dynamo
one. What the exporter prints (progress lines, warnings, logging, C++ messages) is kept out of
cnnprof's output; its failure is one `LoadError` line.

The BatchNorm layers that ran are listed with what folding each would remove (`Norm`); which of
them the exporter folded is read from the graph (``cnnprof.deploy``), not here: no onnx below it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import sys
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd

from cnnprof.arch.model import Shape
from cnnprof.empirical.device import first_line
from cnnprof.empirical.inputs import Inputs, as_inputs, fixed_seed
from cnnprof.errors import LoadError, MissingExtra
from cnnprof.results.export import Exported, Norm

# Layers an exporter folds a BatchNorm into when the BatchNorm takes their output as it is.
FOLDS_INTO = (_ConvNd, nn.Linear)
NORM_TENSORS = ("weight", "bias", "running_mean", "running_var")
# Each exporter's name → whether it is torch.onnx.export's dynamo one.
DYNAMO: Mapping[str, bool] = MappingProxyType({"torchscript": False, "dynamo": True})


def torch_version() -> str:
    """torch's version without its local build tag: ``2.13.0``."""
    return torch.__version__.split("+")[0]


def export(
    build: Callable[[], nn.Module],
    inputs: Inputs | Shape,
    batch: int,
    *,
    exporter: str,
    opset: int,
    model: str,
) -> tuple[Exported, tuple[Norm, ...]]:
    """The model ``build`` makes (called here, with seed 0) exported by ``exporter`` at
    ``opset``, with nothing folded yet recorded; and the BatchNorm layers that ran."""
    if DYNAMO[exporter]:
        _require_onnxscript()
    with fixed_seed():
        module = build().to("cpu").eval()
        _distinct(module)
        args = as_inputs(inputs).tensors(batch, "cpu")
    data = _write(module, args, exporter=exporter, opset=opset, model=model)
    return Exported(data, model, exporter, opset, torch_version()), _norms(module, args)


def _require_onnxscript() -> None:
    """torch's dynamo exporter writes through onnxscript (looked for, not imported: deploy/
    alone imports the onnx packages)."""
    if importlib.util.find_spec("onnxscript") is None:
        raise MissingExtra.of(
            "onnxscript", "--exporter dynamo", " (or use the default, --exporter torchscript)"
        )


@torch.no_grad()
def _distinct(module: nn.Module) -> None:
    """Every parameter and running statistic that holds one value throughout (a BatchNorm's γ
    of ones, a bias of zeros) made distinct, in place: exporters store equal tensors once, and
    a count of the file would then see fewer parameters than the model has."""
    stats = [b for m in module.modules() if isinstance(m, _BatchNorm) for b in m.buffers()]
    for tensor in [*module.parameters(), *stats]:
        if (
            tensor.is_floating_point()
            and tensor.numel() > 1
            and bool((tensor == tensor.flatten()[0]).all())
        ):
            tensor.add_(torch.rand_like(tensor).mul_(0.01))


def _norms(module: nn.Module, args: tuple[Any, ...]) -> tuple[Norm, ...]:
    """The BatchNorm layers that run in a forward (after the export, which ran it), in order,
    each with the bias folding adds to the convolution or linear layer whose output it takes as
    it is (none where that layer has a bias)."""
    made: dict[int, tuple[weakref.ref, nn.Module]] = {}
    found: dict[str, Norm] = {}

    def produced(layer: nn.Module, _: Any, out: Any) -> None:
        if isinstance(out, torch.Tensor):
            made[id(out)] = (weakref.ref(out), layer)

    def consumer(path: str) -> Callable[..., None]:
        def consumed(norm: nn.Module, given: tuple[Any, ...], _: Any) -> None:
            ref, layer = made.get(id(given[0]) if given else 0, (None, None))
            fed = layer if ref is not None and ref() is given[0] else None
            found.setdefault(path, _norm(path, norm, fed))

        return consumed

    handles = []
    for path, layer in module.named_modules():
        if isinstance(layer, _BatchNorm):
            handles.append(layer.register_forward_hook(consumer(path)))
        elif isinstance(layer, FOLDS_INTO):
            handles.append(layer.register_forward_hook(produced))
    try:
        with torch.no_grad():
            module(*args)
    finally:
        for handle in handles:
            handle.remove()
    return tuple(found.values())


def _norm(path: str, norm: nn.Module, fed_by: nn.Module | None) -> Norm:
    own = {name: getattr(norm, name, None) for name in NORM_TENSORS}
    tensors = tuple(f"{path}.{n}" if path else n for n, t in own.items() if t is not None)
    size = {name: t.numel() if t is not None else 0 for name, t in own.items()}
    gained = 0
    if fed_by is not None and getattr(fed_by, "bias", None) is None:
        gained = norm.num_features
    return Norm(
        path,
        tensors,
        affine=size["weight"] + size["bias"],
        stats=size["running_mean"] + size["running_var"],
        gained=gained,
    )


def _write(
    module: nn.Module, args: tuple[Any, ...], *, exporter: str, opset: int, model: str
) -> bytes:
    """The ONNX file's bytes; a failure is one line naming the model and the exporter's."""
    buffer = io.BytesIO()
    try:
        with _quiet():
            torch.onnx.export(
                module,
                args,
                buffer,
                dynamo=DYNAMO[exporter],
                opset_version=opset,
                external_data=False,
            )
    except Exception as exc:
        said = first_line(exc) or type(exc).__name__
        raise LoadError(
            f"{model}: the {exporter} exporter (opset {opset}) failed: {said}"
        ) from None
    return buffer.getvalue()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Nothing printed inside reaches the terminal: Python's streams, logging and warnings, and
    what native code writes to file descriptors 1 and 2, all go to the null device."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    saved = {fd: _dup(fd) for fd in (1, 2)}
    null = os.open(os.devnull, os.O_WRONLY)
    disabled = logging.root.manager.disable
    try:
        for fd, copy in saved.items():
            if copy is not None:
                os.dup2(null, fd)
        logging.disable(logging.CRITICAL)
        with (
            open(os.devnull, "w") as sink,
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(disabled)
        for fd, copy in saved.items():
            if copy is not None:
                os.dup2(copy, fd)
                os.close(copy)
        os.close(null)


def _dup(fd: int) -> int | None:
    """A copy of descriptor ``fd``; None when it is closed (nothing to keep quiet there)."""
    try:
        return os.dup(fd)
    except OSError:
        return None
