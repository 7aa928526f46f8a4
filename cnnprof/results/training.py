"""What a training step costs, as data: the analytic `TrainingCost` and the `MeasuredStep` of a
real forward and backward (with torch's own figure for grouped convolutions beside it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingCost:
    """Per training step at the profile's batch (MACs) and bytes at its dtype."""

    mode: str
    trainable: tuple[str, ...]  # row paths that train
    trainable_params: int
    frozen_params: int
    forward_macs: int
    weight_grad_macs: int
    input_grad_macs: int
    saved_activation_bytes: int
    gradient_bytes: int
    optimizer_bytes: dict[str, int]

    @property
    def backward_macs(self) -> int:
        return self.weight_grad_macs + self.input_grad_macs

    @property
    def step_macs(self) -> int:
        return self.forward_macs + self.backward_macs


@dataclass(frozen=True)
class GroupedBackward:
    """One grouped convolution's backward: torch's count against the groups-aware one."""

    groups: int
    torch_macs: int
    correct_macs: int


@dataclass(frozen=True)
class MeasuredStep:
    forward_macs: int
    backward_macs: int  # groups-aware
    torch_backward_macs: int  # as torch's FlopCounterMode formulas count it
    grouped: tuple[GroupedBackward, ...]
