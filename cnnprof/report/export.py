"""`cnnprof export` as words and as data: what was written, by which exporter and opset, what
it folded, and the file's count against the model's, each difference named (`verdicts`); JSON
for other programs (versioned)."""

from __future__ import annotations

from typing import Any

from cnnprof.report.profile import totals
from cnnprof.report.text import to_json
from cnnprof.report.view import View
from cnnprof.results.export import ExportCheck
from cnnprof.results.profile import Profile

SCHEMA = "cnnprof.export/1"
FORMATS = ("table", "json")  # what `cnnprof export` reports in


def facts(check: ExportCheck) -> tuple[tuple[str, str], ...]:
    """What was written, from what, by whom, and what it folded: (label, words)."""
    e, model = check.exported, check.model
    return (
        ("wrote", f"{check.path}, {len(e.data) / 2**20:,.1f} MB"),
        ("exporter", f"{e.producer}, opset {e.opset}"),
        ("model", f"{e.source}, batch {model.batch}, input {model.input_text}"),
        ("folded", folding(check)),
    )


def folding(check: ExportCheck) -> str:
    """What the exporter folded, in words."""
    e = check.exported
    if not e.folded:
        return "nothing"
    gained = f", less the {e.gained:,} biases the convolutions gained" if e.gained else ""
    return (
        f"{len(e.folded)} BatchNorm into the convolutions before them: {e.folded_params:,} "
        f"parameters fewer (γ and β {e.folded_params + e.gained:,}{gained}) and "
        f"{e.folded_buffers:,} buffers (running mean and variance)"
    )


def verdicts(check: ExportCheck) -> tuple[str, str]:
    """The file's MACs and params against the model's, each said in words."""
    macs = check.macs_difference
    if macs == 0:
        said_macs = "equal"
    else:
        said_macs = f"{abs(macs):,} {'more' if macs > 0 else 'fewer'} in the file"
    params, folded = check.params_difference, check.exported.folded_params
    if params == 0:
        said_params = "equal"
    elif params == folded:
        said_params = f"{params:,} fewer: exactly those folded"
    else:
        fewer = f"{abs(params):,} {'fewer' if params > 0 else 'more'}"
        said_params = f"{fewer} in the file, {folded:,} folded: {params - folded:,} unexplained"
    return said_macs, said_params


def _count(profile: Profile) -> dict[str, Any]:
    """A count's headline figures (`report.profile.totals`), by whom and how complete."""
    return {
        "counted_by": profile.source,
        **totals(profile),
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
