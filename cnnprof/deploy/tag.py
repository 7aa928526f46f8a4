"""What cnnprof adds to an ONNX file it exported: the BatchNorm layers the exporter folded away,
read from the graph, and the file's ``metadata_props`` (the model reference, the exporter, the
parameters and buffers folded: the keys `cnnprof.deploy.graph` reads back when it counts the
file); and an ONNX file given as it is, as an `Exported` value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace

from cnnprof.deploy.graph import (
    EXPORTER_KEY,
    FOLDED_BUFFERS_KEY,
    FOLDED_PARAMS_KEY,
    SOURCE_KEY,
)
from cnnprof.deploy.load import DEFAULT_DOMAINS, load_weights, require_onnx
from cnnprof.errors import LoadError
from cnnprof.results.export import Exported, Norm

KEYS = (SOURCE_KEY, EXPORTER_KEY, FOLDED_PARAMS_KEY, FOLDED_BUFFERS_KEY)


def metadata(exported: Exported) -> Mapping[str, str]:
    """The ``metadata_props`` cnnprof writes into a file it exported."""
    values = (
        exported.source,
        exported.producer,
        str(exported.folded_params),
        str(exported.folded_buffers),
    )
    return dict(zip(KEYS, values, strict=True))


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
    folded = [n for n in norms if n.tensors and named.isdisjoint(n.tensors)]
    done = replace(
        exported,
        folded=tuple(n.path for n in folded),
        folded_params=sum(n.folded_params for n in folded),
        folded_buffers=sum(n.stats for n in folded),
        gained=sum(n.gained for n in folded),
    )
    kept = [p for p in model.metadata_props if p.key not in KEYS]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in metadata(done).items():
        model.metadata_props.add(key=key, value=value)
    return replace(done, data=model.SerializeToString())


def given(path: str | os.PathLike[str]) -> Exported:
    """An ONNX file as it is, its weights loaded (external data included), its producer as the
    exporter (what it folded is its count's to show: `cnnprof.deploy.graph`)."""
    model = load_weights(path)
    props = {p.key: p.value for p in model.metadata_props}
    opsets = [o.version for o in model.opset_import if o.domain in DEFAULT_DOMAINS]
    producer = " ".join(filter(None, [model.producer_name, model.producer_version]))
    return Exported(
        model.SerializeToString(),
        os.fspath(path),
        props.get(EXPORTER_KEY, producer),
        max(opsets, default=0),
    )
