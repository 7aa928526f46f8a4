"""A model exported to ONNX: the file's bytes and what the export did (`Exported`), the
BatchNorm layers an exporter may fold into the layer before them (`Norm`), and the export's
count held to the model's own (`ExportCheck`).

An exporter folds an eval-mode BatchNorm that directly follows a convolution into it: γ, β and
the running statistics disappear from the graph, the convolution's weight is rescaled and it
gains a bias where it had none. So the file holds fewer parameters than the model, by γ and β
less the biases gained: `Exported.folded_params`, which the file's metadata records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cnnprof.errors import OptionError
from cnnprof.results.profile import Profile


@dataclass(frozen=True)
class Exporter:
    """One of torch's ONNX exporters: the opsets it writes, and the one cnnprof asks for by
    default (tested with every registry model)."""

    opsets: range
    default: int


# torch.onnx.export(dynamo=False): the TorchScript exporter, fast and the broadest; it writes
# opsets up to 20 (it folds BatchNorm from 9, where its constant folding starts).
# dynamo=True: torch.export, then onnxscript; it writes opset 18 and later.
EXPORTERS: Mapping[str, Exporter] = MappingProxyType(
    {
        "torchscript": Exporter(opsets=range(9, 21), default=17),
        "dynamo": Exporter(opsets=range(18, 24), default=18),
    }
)


def opset_for(exporter: str, opset: int | None) -> int:
    """The opset ``exporter`` writes: ``opset``, or its default; one it cannot write, or an
    unknown exporter, is an `OptionError`."""
    found = EXPORTERS.get(exporter)
    if found is None:
        raise OptionError(f"--exporter {exporter}: expected one of {', '.join(EXPORTERS)}")
    if opset is None:
        return found.default
    lowest, highest = found.opsets[0], found.opsets[-1]
    if isinstance(opset, bool) or opset not in found.opsets:
        raise OptionError(
            f"--opset {opset}: the {exporter} exporter writes opsets {lowest} to {highest}"
        )
    return opset


@dataclass(frozen=True)
class Norm:
    """A BatchNorm layer of the model that ran in the forward: its path, its tensors' names as
    the model names them, its γ and β elements (``affine``), its running mean and variance
    elements (``stats``), and the bias elements folding it adds to the layer that feeds it
    (``gained``: that layer's outputs when it has no bias, else 0)."""

    path: str
    tensors: tuple[str, ...]
    affine: int
    stats: int
    gained: int = 0

    @property
    def folded_params(self) -> int:
        """The parameters the model loses when this layer is folded away: γ and β less the
        bias gained."""
        return self.affine - self.gained


@dataclass(frozen=True)
class Exported:
    """A model as an ONNX file in memory: its bytes, the reference it came from, the exporter
    and opset that wrote it (a file given as it is: its producer), torch's version when torch
    wrote it here, and the BatchNorm layers folded away with what that removed."""

    data: bytes = field(repr=False)
    source: str
    exporter: str  # "torchscript" or "dynamo"; a file given as it is: its producer
    opset: int
    torch_version: str = ""  # empty: not exported here
    folded: tuple[str, ...] = ()  # the BatchNorm layers folded, by path
    folded_params: int = 0  # parameters the model has and the file does not (γ, β − gained)
    folded_buffers: int = 0  # running mean and variance elements folded away
    gained: int = 0  # bias elements the convolutions gained from the folding

    @property
    def producer(self) -> str:
        """Who wrote it: ``torch 2.13.0 torchscript``."""
        return (
            f"torch {self.torch_version} {self.exporter}" if self.torch_version else self.exporter
        )


@dataclass(frozen=True)
class ExportCheck:
    """An export written to ``path``, with the model's own count (``model``) and the count of
    the file (``file``): MACs must be equal, params equal or less by exactly the folded ones."""

    exported: Exported
    path: str
    model: Profile
    file: Profile

    @property
    def macs_difference(self) -> int:
        """The file's MACs less the model's (0: equal)."""
        return self.file.macs - self.model.macs

    @property
    def params_difference(self) -> int:
        """The model's params less the file's (0: equal; the folded ones: explained)."""
        return self.model.params - self.file.params

    @property
    def agree(self) -> bool:
        """MACs equal and params equal but for what was folded."""
        return self.macs_difference == 0 and self.params_difference == self.exported.folded_params
