"""Which kernel torch runs for each convolution: its fixed cost differs by a factor of ten.

PyTorch picks a convolution kernel per call from the shapes, the thread count and the device
(``aten/src/ATen/native/Convolution.cpp``, ``select_conv_backend``). On a CPU at batch 1 a small
1×1 convolution runs the native kernel (a matrix product, microseconds of fixed cost) while a
depthwise, a 5×5 or a larger convolution goes to oneDNN, whose every call costs tens of
microseconds before any arithmetic. A roofline that charged one launch cost for all of them
would be wrong by that much on every light layer, so the device peaks measure the fixed cost of
each kernel and this module asks torch, convolution by convolution, which one it dispatches to.

The answer comes from ``torch._C._select_conv_backend`` (the function torch's own tests use);
where it is missing or refuses, the kernel is unknown and the roofline uses the generic figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

ConvModule = nn.modules.conv._ConvNd


def _padding(conv: ConvModule) -> list[int]:
    """Numeric padding, also for the string forms ``"same"`` and ``"valid"``."""
    if conv.padding == "valid":
        return [0] * len(conv.kernel_size)
    if conv.padding == "same":
        return [d * (k - 1) // 2 for d, k in zip(conv.dilation, conv.kernel_size, strict=True)]
    return list(conv.padding)


def conv_backend(conv: ConvModule, x: torch.Tensor) -> str | None:
    """The kernel torch dispatches ``conv(x)`` to ("mkldnn", "slow2d", "cudnn", …); None when
    torch will not say."""
    select = getattr(torch._C, "_select_conv_backend", None)
    if select is None:
        return None
    try:
        backend = select(
            x,
            conv.weight,
            conv.bias,
            list(conv.stride),
            _padding(conv),
            list(conv.dilation),
            conv.transposed,
            list(conv.output_padding),
            conv.groups,
        )
    except (RuntimeError, TypeError, ValueError):
        return None
    return str(backend).rsplit(".", 1)[-1].lower()


def owner(path: str, rows: Sequence[str]) -> str | None:
    """The row a module belongs to: the row path that is the module's path or its longest
    ancestor."""
    best = None
    for row in rows:
        inside = path == row or path.startswith(f"{row}.") or row == ""
        if inside and (best is None or len(row) > len(best)):
            best = row
    return best


def conv_kernels(
    net: nn.Module, run: Callable[[], object], rows: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """Run ``run`` once with a hook on every convolution of ``net``; row path → the kernels its
    convolutions were dispatched to, in call order. Rows without convolutions are left out."""
    found: dict[str, list[str]] = {}
    handles = []

    def hook(row: str, conv: ConvModule) -> Callable[..., None]:
        def record(_: nn.Module, args: tuple[object, ...]) -> None:
            x = args[0] if args else None
            backend = conv_backend(conv, x) if isinstance(x, torch.Tensor) else None
            found.setdefault(row, []).append(backend or "")

        return record

    for path, module in net.named_modules():
        row = owner(path, rows) if isinstance(module, ConvModule) else None
        if row is not None:
            handles.append(module.register_forward_pre_hook(hook(row, module)))
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return {row: tuple(kernels) for row, kernels in found.items()}
