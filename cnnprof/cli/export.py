"""`cnnprof export`: parse, call the API, hand the result to render."""

from __future__ import annotations

from cnnprof.arch.multipliers import Multipliers
from cnnprof.cli.options import (
    ExporterName,
    ExporterOpt,
    Force,
    Format,
    FormatOpt,
    Model,
    OnnxFile,
    Opset,
    RunOptions,
    check_output,
    emit,
    refuse,
    view_of,
    with_multipliers,
    with_run_options,
)
from cnnprof.report.export import FORMATS


@with_multipliers
@with_run_options
def export(
    model: Model,
    multipliers: Multipliers,
    run: RunOptions,
    output: OnnxFile = None,
    exporter: ExporterOpt = ExporterName.torchscript,
    opset: Opset = None,
    fmt: FormatOpt = Format.table,
    force: Force = False,
) -> None:
    """Write MODEL as an ONNX file and count the file against the model.

    The model is built on the CPU in eval mode with seeded random weights (nothing downloaded)
    and exported with torch's exporter at --batch and its input. The output says which
    exporter and opset wrote it, which BatchNorm layers it folded into the convolutions before
    them, and the file's count against the model's: MACs equal; params equal, or fewer by
    exactly the parameters folded.
    Needs torch and onnx (pip install 'cnnprof\\[torch,onnx]')."""
    from cnnprof.api.export import check_target, export
    from cnnprof.render import export as render
    from cnnprof.render.progress import spinner

    if fmt.value not in FORMATS:
        refuse(f"--format {fmt.value}", f"export reports in {' or '.join(FORMATS)}")
    if run.dtype.value != "float32":
        refuse(f"--dtype {run.dtype.value}", "export writes the model's float32 weights")
    check_output(check_target(output, model), force, "-o")
    req = run.request(model, multipliers)
    with spinner(f"exporting {req.label} ({exporter.value})"):
        check = export(req, output, exporter=exporter.value, opset=opset)
    emit(render.present(check, view_of(fmt)), None, False)
