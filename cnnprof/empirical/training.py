"""A real training step (forward and backward) on the meta device, counted at dispatch level.

torch's FlopCounterMode costs `aten.convolution_backward` as if the convolution had no groups, so
a depthwise layer's backward comes out about C× too large. This counter records torch's figure and
a groups-aware one side by side: input gradient and weight gradient each cost the forward MACs of
that convolution, and only when autograd asks for them (its output mask).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from math import prod

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from cnnprof.arch.model import Shape
from cnnprof.empirical.count import to_meta
from cnnprof.errors import LoadError
from cnnprof.results.training import GroupedBackward, MeasuredStep

aten = torch.ops.aten


def _conv_backward_macs(args: tuple) -> tuple[int, int]:
    """(groups-aware MACs, groups) of aten.convolution_backward(grad_out, input, weight, …)."""
    grad_out, weight = args[0], args[2]
    groups, mask = args[9], args[10]
    forward = prod(grad_out.shape) * prod(weight.shape[1:])  # N·C_out·H·W · C_in/g·k·k
    return forward * (int(mask[0]) + int(mask[1])), groups


class _StepRecorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.backward = False
        self.forward_macs = 0
        self.backward_macs = 0
        self.torch_backward_macs = 0
        self.grouped: list[GroupedBackward] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func.overloadpacket
        if packet not in flop_registry:
            return out
        torch_macs = flop_registry[packet](*args, **kwargs, out_val=out) // 2
        if not self.backward:
            self.forward_macs += torch_macs
        elif packet is aten.convolution_backward:
            correct, groups = _conv_backward_macs(args)
            self.backward_macs += correct
            self.torch_backward_macs += torch_macs
            if groups > 1:
                self.grouped.append(GroupedBackward(groups, torch_macs, correct))
        else:
            self.backward_macs += torch_macs
            self.torch_backward_macs += torch_macs
        return out


def training_step(
    module: nn.Module, input: Shape | Iterable[int], trainable: Sequence[str], batch: int = 1
) -> MeasuredStep:
    """Run forward and backward on meta with only the modules under ``trainable`` paths
    requiring gradients; count both passes."""
    shape = input if isinstance(input, Shape) else Shape(*input)
    root = to_meta(module).eval()
    prefixes = tuple(trainable)
    for name, param in root.named_parameters():
        owner = name.rsplit(".", 1)[0]
        param.requires_grad_(any(owner == p or owner.startswith(p + ".") for p in prefixes))
    recorder = _StepRecorder()
    x = torch.empty(batch, *shape.as_list(), device="meta")
    try:
        with recorder:
            loss = root(x).sum()
            recorder.backward = True
            if loss.requires_grad:
                loss.backward()
    except Exception as exc:
        raise LoadError(f"{type(module).__name__}: training step failed: {exc}") from None
    return MeasuredStep(
        recorder.forward_macs,
        recorder.backward_macs,
        recorder.torch_backward_macs,
        tuple(recorder.grouped),
    )
