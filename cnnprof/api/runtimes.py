"""The runtimes a latency is measured in (`RUNTIMES`: torch eager, ONNX Runtime): how
``--runtime`` is read, and a source's model as ONNX Runtime takes it — an ONNX file as it is, a
module-backed model exported in memory first. No torch here (an export asks for it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnprof.analytic.memory import check_fits
from cnnprof.arch.reference import is_onnx
from cnnprof.errors import OptionError
from cnnprof.files import available_bytes
from cnnprof.results.timing import ONNXRUNTIME, RUNTIMES, TORCH

if TYPE_CHECKING:
    from cnnprof.api.kinds import Source
    from cnnprof.deploy.ort import OrtModel

BOTH = (TORCH, ONNXRUNTIME)  # --runtime torch,onnxruntime: interleaved, the ratio between them


def runtimes(text: str) -> tuple[str, ...]:
    """``"torch,onnxruntime"`` → ``("torch", "onnxruntime")``; an unknown or repeated name is
    an `OptionError` listing what is accepted."""
    names = tuple(name.strip() for name in text.split(","))
    if any(n not in RUNTIMES for n in names) or len(set(names)) != len(names):
        raise OptionError(
            f"--runtime {text}: expected {', '.join(RUNTIMES)}, or both: {','.join(BOTH)}"
        )
    return names


def default_runtime(model: object) -> str:
    """The runtime a model is timed in when ``--runtime`` is not given: ONNX Runtime for an ONNX
    file (only it runs one), torch eager for any other."""
    return ONNXRUNTIME if is_onnx(model) else TORCH


def onnx_model(
    source: Source, graph: bytes | str, device: str, needs: str, export: str = ""
) -> OrtModel:
    """``source``'s model as ONNX Runtime times it, from ``graph`` (its bytes, or an ONNX
    file): at the request's batch and dtype, on the source's input. Refused first, in one line,
    without onnxruntime or its provider for ``device``."""
    from cnnprof.deploy.ort import OrtModel, onnxruntime, provider

    provider(onnxruntime(needs), device)
    req, profile = source.request, source.profile()
    return OrtModel(
        graph,
        source.input_shape,
        batch=req.batch,
        dtype=req.dtype,
        model=profile.model,
        macs=profile.macs,
        export=export,
        needs=needs,
    )


def exported_model(source: Any, device: str, needs: str) -> OrtModel:
    """A module-backed source's model exported to ONNX in memory (its `exported`), then as
    `onnx_model` takes it; the timing says which exporter and opset made it."""
    from cnnprof.deploy.ort import onnxruntime, provider

    provider(onnxruntime(needs), device)  # before the export: a refusal costs nothing
    check_fits(source.profile(), available_bytes(), "cpu")  # the export runs at the batch
    exported = source.exported()
    export = (
        f"exported in memory by torch {exported.torch_version}'s {exported.exporter} "
        f"exporter, opset {exported.opset}"
    )
    return onnx_model(source, exported.data, device, needs, export)
