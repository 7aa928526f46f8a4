"""`cnnprof export` as words and as data: what was written, by which exporter and opset, what
it folded, and the file's count against the model's, each difference named (`verdicts`); JSON
for other programs (versioned)."""

from __future__ import annotations

from typing import Any

from cnnprof.report.text import to_json
from cnnprof.report.view import View
from cnnprof.results.export import ExportCheck
from cnnprof.results.profile import Profile

SCHEMA = "cnnprof.export/1"
FORMATS = ("table", "json")  # what `cnnprof export` reports in


def written(check: ExportCheck) -> str:
    """The file, its size, and who wrote it from what."""
    e, model = check.exported, check.model
    return (
        f"{check.path}: {len(e.data) / 2**20:,.1f} MB, {e.source} exported by {e.producer} "
        f"at opset {e.opset} (batch {model.batch}, input {model.input_text})"
    )


def folding(check: ExportCheck) -> str:
    """What the exporter folded, in words."""
    e = check.exported
    if not e.folded:
        return "folded nothing: every BatchNorm (if any) is in the file as it ran"
    gained = f", less {e.gained:,} biases the convolutions gained" if e.gained else ""
    return (
        f"folded {len(e.folded)} BatchNorm into the convolutions before them: "
        f"{e.folded_params:,} parameters ({e.folded_params + e.gained:,} γ and β{gained}), "
        f"{e.folded_buffers:,} buffers (running mean and variance)"
    )


def verdicts(check: ExportCheck) -> tuple[str, str]:
    """The file's MACs and params against the model's, each said in words."""
    macs = check.macs_difference
    if macs == 0:
        said_macs = "equal"
    else:
        said_macs = f"the file has {abs(macs):,} {'more' if macs > 0 else 'fewer'}"
    params, folded = check.params_difference, check.exported.folded_params
    if params == 0:
        said_params = "equal"
    elif params == folded:
        said_params = f"the file has {params:,} fewer: exactly the parameters folded"
    else:
        fewer = f"{abs(params):,} {'fewer' if params > 0 else 'more'}"
        said_params = (
            f"the file has {fewer}, {folded:,} of them folded: {params - folded:,} unexplained"
        )
    return said_macs, said_params


def _count(profile: Profile) -> dict[str, Any]:
    return {
        "counted_by": profile.source,
        "params": profile.params,
        "macs": profile.macs,
        "flops": profile.flops,
        "complete": profile.complete,
        "missing": list(profile.missing),
    }


def record(check: ExportCheck) -> dict[str, Any]:
    """The export as one plain record."""
    e = check.exported
    macs, params = verdicts(check)
    return {
        "schema": SCHEMA,
        "file": check.path,
        "bytes": len(e.data),
        "model": e.source,
        "exporter": e.exporter,
        "torch": e.torch_version,
        "opset": e.opset,
        "batch": check.model.batch,
        "input": [list(dims) for dims in check.model.inputs] or [check.model.input.as_list()],
        "folded": {
            "layers": list(e.folded),
            "params": e.folded_params,
            "buffers": e.folded_buffers,
            "biases_gained": e.gained,
        },
        "model_count": _count(check.model),
        "file_count": _count(check.file),
        "macs_difference": check.macs_difference,
        "params_difference": check.params_difference,
        "agree": check.agree,
        "verdict": {"macs": macs, "params": params},
    }


def present(check: ExportCheck, view: View) -> str:
    """The export as JSON."""
    return to_json(record(check))
