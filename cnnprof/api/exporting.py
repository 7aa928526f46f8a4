"""A model as ONNX in memory: every source whose model is an ``nn.Module`` gives it
(`Exporting.exported`, a base of `sources.ModuleSource`).

torch's side (building the model, the exporter) is `cnnprof.empirical.export`, reached from
here and from `sources` alone; the graph's side (what was folded, the metadata) is
`cnnprof.deploy`. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from cnnprof.api.request import Request
from cnnprof.arch.model import Shape
from cnnprof.errors import MissingExtra, OptionError
from cnnprof.results.export import Exported, opset_for

if TYPE_CHECKING:
    from torch import nn

    from cnnprof.results.profile import Profile

NEEDS = "cnnprof export"
FLOAT32_BYTES = 4  # the weights are exported as built: float32


class Exporting:
    """What a source whose model is an ``nn.Module`` does to give it as ONNX (a base of
    `sources.ModuleSource`, which gives the members declared here)."""

    request: Request
    input_shape: Shape
    running: Callable[..., AbstractContextManager[None]]
    module: Callable[..., nn.Module]
    profile: Callable[[], Profile]

    def exported(self, exporter: str = "torchscript", opset: int | None = None) -> Exported:
        """Its model as ONNX in memory: built on the CPU in eval mode with seeded random
        weights (never downloaded), called at the request's batch and input, written by torch's
        ``exporter`` at ``opset`` (default: the exporter's own, `EXPORTERS`) and tagged with
        what was folded; the model's own code runs inside the source's boundary."""
        from cnnprof.deploy.load import PROTO_LIMIT, require_onnx
        from cnnprof.deploy.tag import tagged

        opset = opset_for(exporter, opset)
        require_onnx(NEEDS)
        weights = self.profile().params * FLOAT32_BYTES
        if weights >= PROTO_LIMIT:
            raise OptionError(
                f"{self.request.label}: {weights / 2**30:.2f} GiB of float32 weights, over the "
                "2 GiB an ONNX file holds without external data, which export does not write"
            )
        try:
            from cnnprof.empirical.export import export as torch_export
        except ImportError:
            raise MissingExtra.of("torch", NEEDS) from None

        own_inputs = getattr(self, "inputs", None)  # an outside model's, with their convention
        inputs = own_inputs() if callable(own_inputs) else self.input_shape
        with self.running():
            raw, norms = torch_export(
                lambda: self.module("cpu", needs=NEEDS, fresh=True),
                inputs,
                self.request.batch,
                exporter=exporter,
                opset=opset,
                model=self.request.label,
            )
        return tagged(raw, norms)
