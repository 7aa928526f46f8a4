"""What a count of an ONNX file adds to a profile's document and notes: where the file came
from, the initializers that are not parameters, and what its exporter folded (the torch count
of the model has it)."""

from __future__ import annotations

from typing import Any

from cnnprof.results.profile import Profile


def onnx_dict(profile: Profile) -> dict[str, Any]:
    """What an ONNX file's count adds: where the file came from, the initializers that are not
    parameters, and what its exporter folded (the torch count has it)."""
    out: dict[str, Any] = {}
    if profile.origin:
        out["onnx"] = dict(profile.origin)
    if profile.constants:
        out["constants"] = {
            "initializers": len(profile.constants),
            "elements": sum(n for _, n in profile.constants),
            "names": [name for name, _ in profile.constants],
        }
    if profile.folded_params or profile.folded_buffers:
        out["folded"] = {"params": profile.folded_params, "buffers": profile.folded_buffers}
    return out


def onnx_notes(profile: Profile) -> list[str]:
    """An ONNX file's lines: where it came from, its constants, what its exporter folded."""
    lines = []
    if profile.origin:
        lines.append("ONNX file: " + " · ".join(f"{k} {v}" for k, v in profile.origin))
    if profile.constants:
        elements = sum(n for _, n in profile.constants)
        lines.append(
            f"constants, not parameters: {len(profile.constants):,} initializers, "
            f"{elements:,} elements (shapes, indices, axes, scalars)"
        )
    folded = []
    if profile.folded_params:
        folded.append(
            f"{profile.folded_params:,} parameters fewer than the model's (BatchNorm γ and β, "
            "less the biases the convolutions gained)"
        )
    if profile.folded_buffers:
        folded.append(f"{profile.folded_buffers:,} running statistics (buffers)")
    if folded:
        lines.append(f"BatchNorm folded into convolutions at export: {' and '.join(folded)}")
    return lines
