"""What a training step costs when only part of a network trains (transfer learning).

Backward MACs split in two, per row (groups-aware: a depthwise convolution's backward is 2× its
forward, never C×):
- weight gradient: the row's forward MACs again, for rows that train;
- input gradient: the row's forward MACs again, for rows *after* the first trainable one (the
  gradient must flow back to it; nothing before it trains, so no input gradient is needed there).
Memory kept for backward: each row's input from the first trainable row on. Optimizer state:
SGD with momentum keeps one buffer per trainable parameter, Adam two, besides the gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

from cnnprof.errors import OptionError
from cnnprof.results.profile import LayerCost, Profile
from cnnprof.results.training import TrainingCost

OPTIMIZER_STATES = {"sgd_momentum": 1, "adam": 2}


def trainable_rows(rows: Sequence[LayerCost], mode: str) -> list[int]:
    """Indices of the rows that train: ``all``, ``head`` (the last layer with weights) or
    ``from:PATH`` (that row and everything after it)."""
    if mode == "all":
        return list(range(len(rows)))
    if mode == "head":
        weighted = [i for i, r in enumerate(rows) if r.weight_params]
        if not weighted:
            raise OptionError("--train head: the model has no layer with weights")
        return [weighted[-1]]
    kind, _, path = mode.partition(":")
    if kind != "from" or not path:
        raise OptionError(f"--train {mode}: expected head, all or from:PATH (e.g. from:14)")
    for i, row in enumerate(rows):
        if row.path == path or row.path.startswith(path + "."):
            return list(range(i, len(rows)))
    known = ", ".join(dict.fromkeys(r.path.split(".")[0] for r in rows))
    raise OptionError(f"--train from:{path}: no row '{path}'; top-level rows: {known}")


def training_cost(profile: Profile, mode: str) -> TrainingCost:
    rows = profile.layers
    chosen = trainable_rows(rows, mode)
    first = chosen[0]
    trains = set(chosen)
    weight_grad = sum(rows[i].macs for i in chosen if rows[i].weight_params)
    input_grad = sum(r.macs for r in rows[first + 1 :])
    trainable = sum(rows[i].params for i in chosen)
    saved = sum(r.in_shape.elements for r in rows[first:]) * profile.batch * profile.dtype_bytes
    grads = trainable * profile.dtype_bytes
    return TrainingCost(
        mode=mode,
        trainable=tuple(rows[i].path for i in sorted(trains)),
        trainable_params=trainable,
        frozen_params=profile.params - trainable,
        forward_macs=profile.macs,
        weight_grad_macs=weight_grad * profile.batch,
        input_grad_macs=input_grad * profile.batch,
        saved_activation_bytes=saved,
        gradient_bytes=grads,
        optimizer_bytes={name: n * grads for name, n in OPTIMIZER_STATES.items()},
    )
