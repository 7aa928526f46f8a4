"""A training step's cost as data for other programs: JSON (with the profile it was costed on),
CSV and Markdown. Returns text or plain dicts only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cnnprof.report.profile import profile_dict
from cnnprof.report.text import to_csv, to_json, to_markdown
from cnnprof.report.units import human, human_bytes
from cnnprof.report.view import View
from cnnprof.results.profile import Profile

if TYPE_CHECKING:
    from cnnprof.results.training import MeasuredStep, TrainingCost


def training_dict(cost: TrainingCost, measured: MeasuredStep | None = None) -> dict[str, Any]:
    out = {
        "mode": cost.mode,
        "trainable_params": cost.trainable_params,
        "frozen_params": cost.frozen_params,
        "forward_macs": cost.forward_macs,
        "backward_macs": cost.backward_macs,
        "weight_grad_macs": cost.weight_grad_macs,
        "input_grad_macs": cost.input_grad_macs,
        "step_macs": cost.step_macs,
        "saved_activation_bytes": cost.saved_activation_bytes,
        "gradient_bytes": cost.gradient_bytes,
        "optimizer_bytes": cost.optimizer_bytes,
        "trainable_rows": list(cost.trainable),
    }
    if measured is not None:
        out["measured"] = {k: v for k, v in asdict(measured).items() if k != "grouped"}
        out["measured"]["grouped_convolutions"] = len(measured.grouped)
        out["measured"]["grouped_torch_macs"] = sum(g.torch_macs for g in measured.grouped)
        out["measured"]["grouped_correct_macs"] = sum(g.correct_macs for g in measured.grouped)
    return out


def training_lines(
    cost: TrainingCost, measured: MeasuredStep | None = None
) -> list[tuple[str, str, str]]:
    """(label, value, note) rows for the training panel."""
    opt = cost.optimizer_bytes
    rows = [
        ("trainable params", f"{cost.trainable_params:,}", f"frozen {cost.frozen_params:,}"),
        ("forward MACs", human(cost.forward_macs), "whole network"),
        (
            "backward MACs",
            human(cost.backward_macs),
            f"weight-grad {human(cost.weight_grad_macs)} · "
            f"input-grad {human(cost.input_grad_macs)}",
        ),
        ("training step MACs", human(cost.step_macs), "forward + backward, at the batch"),
        ("kept for backward", human_bytes(cost.saved_activation_bytes), "activations"),
        ("gradients", human_bytes(cost.gradient_bytes), "one per trainable parameter"),
        (
            "optimizer state",
            f"SGD-momentum {human_bytes(opt['sgd_momentum'])}",
            f"Adam {human_bytes(opt['adam'])}",
        ),
    ]
    if measured is not None:
        same = measured.backward_macs == cost.backward_macs
        verdict = "equals the analytic count" if same else "DIFFERS from the analytic count"
        rows.append(("measured backward", human(measured.backward_macs), verdict))
        if measured.grouped:
            wrong = sum(g.torch_macs for g in measured.grouped)
            right = sum(g.correct_macs for g in measured.grouped)
            rows.append(
                (
                    "torch's counter",
                    human(measured.torch_backward_macs),
                    f"its convolution_backward formula ignores groups: {len(measured.grouped)} "
                    f"grouped convs cost {human(wrong)} there, {human(right)} groups-aware "
                    f"(×{wrong / right:.0f})",
                )
            )
    return rows


TRAINING_COLUMNS = ("metric", "value", "note")


def _json(profile: Profile, cost: TrainingCost, measured: MeasuredStep | None) -> str:
    return to_json({**profile_dict(profile), "training": training_dict(cost, measured)})


def _csv(_: Profile, cost: TrainingCost, measured: MeasuredStep | None) -> str:
    lines = training_lines(cost, measured)
    return to_csv([dict(zip(TRAINING_COLUMNS, r, strict=True)) for r in lines], TRAINING_COLUMNS)


def _markdown(_: Profile, cost: TrainingCost, measured: MeasuredStep | None) -> str:
    return to_markdown(TRAINING_COLUMNS, training_lines(cost, measured))


# A training step's cost (and its measured backward, when given) as the text of each format.
TRAINING_TEXT: Mapping[str, Callable[[Profile, TrainingCost, MeasuredStep | None], str]] = (
    MappingProxyType({"json": _json, "csv": _csv, "md": _markdown})
)


def present(profile: Profile, cost: TrainingCost, measured: MeasuredStep | None, view: View) -> str:
    """A training step's cost as ``view.format`` text (json, csv or md)."""
    return TRAINING_TEXT[view.format](profile, cost, measured)
