"""A model as an ONNX file: every source whose model is an ``nn.Module`` gives it as ONNX in
memory (`Exporting.exported`, a part of `sources.ModuleSource`), and `cnnprof export` writes it
and holds the count of the file to the model's own (`export`).

torch's side (building the model, the exporter) is `cnnprof.empirical.export`, reached from
here and from `sources` alone; the graph's side (what was folded, the metadata) is
`cnnprof.deploy`. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cnnprof.files as files
from cnnprof.api.kinds import Source
from cnnprof.api.request import Request
from cnnprof.arch.model import Shape
from cnnprof.deploy.tag import require_onnx, tagged
from cnnprof.errors import OptionError
from cnnprof.results.export import Exported, ExportCheck, opset_for

if TYPE_CHECKING:
    from torch import nn

    from cnnprof.results.profile import Profile

NEEDS = "cnnprof export"


class Exporting:
    """What a source whose model is an ``nn.Module`` does to give it as ONNX (a base of
    `sources.ModuleSource`, which gives the members declared here)."""

    request: Request
    input_shape: Shape
    running: Callable[..., AbstractContextManager[None]]
    module: Callable[..., nn.Module]

    def exported(self, exporter: str = "torchscript", opset: int | None = None) -> Exported:
        """Its model as ONNX in memory: built on the CPU in eval mode with seeded random
        weights (never downloaded), called at the request's batch and input, written by torch's
        ``exporter`` at ``opset`` (default: the exporter's own, `EXPORTERS`) and tagged with
        what was folded; the model's own code runs inside the source's boundary."""
        opset = opset_for(exporter, opset)
        require_onnx(NEEDS)
        from cnnprof.empirical.export import export as torch_export

        own_inputs = getattr(self, "inputs", None)  # an outside model's, with their convention
        inputs = own_inputs() if callable(own_inputs) else self.input_shape
        with self.running():
            raw, norms = torch_export(
                lambda: self.module("cpu", needs=NEEDS, fresh=True),
                inputs,
                self.request.batch,
                exporter=exporter,
                opset=opset,
                model=self.request.label,
            )
        return tagged(raw, norms)


def check_target(output: Path | None, model: Any) -> Path:
    """Where `cnnprof export` writes: a file, given, not a directory, and not the model's."""
    if output is None:
        raise OptionError("cnnprof export needs -o FILE.onnx: where to write the model")
    if output.is_dir():
        raise OptionError(f"-o {output}: is a directory; give the file to write, e.g. model.onnx")
    if isinstance(model, str) and model.lower().endswith(".onnx"):
        raise OptionError(
            f"{model} is an ONNX file already; `cnnprof count {model}` counts it, and export "
            "writes models cnnprof builds (registry, torchvision, timm, a factory)"
        )
    return output


def export(
    source: Source,
    output: Path,
    *,
    exporter: str = "torchscript",
    opset: int | None = None,
    count: Callable[[bytes, Request], Profile],
) -> ExportCheck:
    """``source``'s model exported and written to ``output`` (atomically: a failed write leaves
    what was there), with its own count and ``count`` of the file's bytes."""
    check_target(output, source.request.model)
    exported = source.exported(exporter=exporter, opset=opset)
    model = source.profile()
    file = count(exported.data, source.request)
    files.write(output, exported.data, "-o")
    return ExportCheck(exported, str(output), model, file)
