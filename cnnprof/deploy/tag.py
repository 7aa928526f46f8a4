"""What cnnprof adds to an ONNX file it exported: the BatchNorm layers the exporter folded away,
read from the graph, and the file's ``metadata_props`` (`METADATA_KEYS`: the model reference,
the exporter, the parameters and buffers folded), which a count of the file reads back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cnnprof.errors import LoadError, MissingExtra
from cnnprof.results.export import METADATA_KEYS, Exported, Norm


def require_onnx(needs: str) -> Any:
    """The ``onnx`` module; without it, `MissingExtra` saying what ``needs`` it."""
    try:
        import onnx
    except ImportError:
        raise MissingExtra(f"{needs} needs onnx: pip install 'cnnprof[onnx]'") from None
    return onnx


def tagged(exported: Exported, norms: Sequence[Norm]) -> Exported:
    """``exported`` with the layers of ``norms`` the exporter folded recorded (those none of
    whose tensors the graph still names) and its metadata written into its bytes."""
    onnx = require_onnx("cnnprof export")
    try:
        model = onnx.load_from_string(exported.data)
    except Exception as exc:  # the exporter wrote what onnx cannot read
        raise LoadError(f"{exported.source}: the exported file does not parse: {exc}") from None
    graph = model.graph
    named = {t.name for t in graph.initializer} | {i.name for i in graph.input}
    named |= {name for node in graph.node for name in node.input}
    folded = tuple(n for n in norms if n.tensors and named.isdisjoint(n.tensors))
    done = replace(exported, folded=folded)
    kept = [p for p in model.metadata_props if p.key not in METADATA_KEYS]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in done.metadata.items():
        model.metadata_props.add(key=key, value=value)
    return replace(done, data=model.SerializeToString())
