"""`cnnprof export`: a model written as an ONNX file, and the count of that file held to the
model's own (MACs equal; params equal but for the BatchNorm folded away). Nothing here prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cnnprof.files as files
from cnnprof.api.request import Request
from cnnprof.api.sources import resolve
from cnnprof.errors import OptionError
from cnnprof.results.export import ExportCheck


def check_target(output: Path | None, model: Any) -> Path:
    """Where `cnnprof export` writes: a file, given, not a directory, named ``.onnx`` (what
    `cnnprof count` reads as ONNX), and not the model's own file (a factory's ``file.py``, a
    spec's YAML)."""
    if output is None:
        raise OptionError("cnnprof export needs -o FILE.onnx: where to write the model")
    if output.is_dir():
        raise OptionError(f"-o {output}: is a directory; give the file to write, e.g. model.onnx")
    given = Path(model.split(":")[0]) if isinstance(model, str) else None  # file.py:make, a.yaml
    if given is not None and given.is_file() and output.is_file() and given.samefile(output):
        raise OptionError(f"-o {output}: is the model's own file; give another file to write")
    if isinstance(model, str) and model.lower().endswith(".onnx"):
        raise OptionError(
            f"{model} is an ONNX file already; `cnnprof count {model}` counts it, and export "
            "writes models cnnprof builds (registry, torchvision, timm, a factory)"
        )
    if output.suffix.lower() != ".onnx":
        raise OptionError(
            f"-o {output}: export writes an ONNX file, read back by its suffix; give a name "
            "ending in .onnx"
        )
    return output


def export(
    req: Request, output: Path | None, *, exporter: str = "torchscript", opset: int | None = None
) -> ExportCheck:
    """``req``'s model exported and written to ``output`` (atomically: a failed write leaves
    what was there), with its own count and the count of the file written."""
    from cnnprof.deploy.graph import count

    target = check_target(output, req.model)
    source = resolve(req)
    exported = source.exported(exporter=exporter, opset=opset)
    model = source.profile()
    files.write(target, exported.data, "-o")
    file = count(target, batch=req.batch, dtype=req.dtype)
    return ExportCheck(exported, str(target), model, file)
