"""Reading an ONNX file, which comes from elsewhere and is untrusted: its size bounded before it is
read, its weights left where they are (external data is checked, never loaded, for counting), its
opset and IR version held to what the installed ``onnx`` knows, its structure checked. Every
failure is one line (`LoadError`); without ``onnx``, one line naming the extra (`MissingExtra`).
Loading the weights, for a runtime, is `load_weights`."""

from __future__ import annotations

import importlib
import os
from math import prod
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from cnnprof.errors import LoadError, MissingExtra
from cnnprof.files import available_bytes

if TYPE_CHECKING:
    from onnx import ModelProto

# protobuf refuses a message over 2 GiB: larger models keep their weights as external data.
PROTO_LIMIT = 2**31
# A file, or the weights of a model, may use this share of the memory available now.
MEMORY_SHARE = 0.5
# The default domain of ONNX operators, by both of its names.
DEFAULT_DOMAINS = frozenset({"", "ai.onnx"})


def require_onnx(needs: str) -> ModuleType:
    """The ``onnx`` module; without it, `MissingExtra` saying what ``needs`` it."""
    try:
        return importlib.import_module("onnx")
    except ImportError:
        raise MissingExtra.of("onnx", needs) from None


def memory_limit() -> int:
    """The bytes a file or a model's weights may take: a share of the memory available now."""
    return int(available_bytes() * MEMORY_SHARE)


def _mb(size: int) -> str:
    return f"{size / 2**20:,.1f} MB" if size >= 2**20 else f"{size:,} bytes"


def _checked_size(path: Path) -> int:
    """The file's size, bounded before anything is read."""
    if not path.is_file():
        raise LoadError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise LoadError(f"{path}: empty file, not an ONNX model")
    limit = min(PROTO_LIMIT, memory_limit() // 2)  # parsed, then read again to be checked
    if size > limit:
        raise LoadError(
            f"{path}: {_mb(size)}, over the limit of {_mb(limit)} for the graph itself (an "
            "ONNX protobuf is at most 2 GiB; larger models keep their weights as external data)"
        )
    return size


def load_graph(path: str | os.PathLike[str]) -> ModelProto:
    """The model in ``path`` with its graph and initializers' descriptions, the weights held in
    external data left unread (they are checked to exist, whole); refused in one line when it is
    not an ONNX model, is truncated or malformed, or needs a newer ``onnx``."""
    onnx = require_onnx(f"{os.fspath(path)} (an ONNX file)")
    file = Path(path)
    _checked_size(file)
    try:
        model = onnx.load(str(file), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError, and whatever else a damaged file raises
        raise LoadError(f"{file}: not an ONNX model, or truncated ({_reason(exc)})") from None
    if not model.graph.node and not model.graph.output:
        raise LoadError(f"{file}: not an ONNX model (no graph in it)")
    _check_versions(onnx, model, file)
    _check_external(onnx, model, file)
    try:  # from the path: external data is looked for beside the model, not read
        onnx.checker.check_model(str(file))
    except Exception as exc:  # ValidationError; a damaged file fails here when it parsed
        raise LoadError(f"{file}: not a valid ONNX model ({_reason(exc)})") from None
    return model


def _reason(exc: BaseException) -> str:
    """The first line of an exception's message, shortened."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text[:160]


def _check_versions(onnx: Any, model: ModelProto, file: Path) -> None:
    known = onnx.defs.onnx_opset_version()
    for opset in model.opset_import:
        if opset.domain in DEFAULT_DOMAINS and opset.version > known:
            raise LoadError(
                f"{file}: opset {opset.version}, newer than onnx {onnx.__version__} knows "
                f"(up to {known}): pip install -U onnx"
            )
    if model.ir_version > onnx.IR_VERSION:
        raise LoadError(
            f"{file}: IR version {model.ir_version}, newer than onnx {onnx.__version__} knows "
            f"(up to {onnx.IR_VERSION}): pip install -U onnx"
        )


def external_tensors(model: ModelProto) -> list[Any]:
    """The initializers whose data lies in a file beside the model."""
    from onnx.external_data_helper import uses_external_data

    return [t for t in model.graph.initializer if uses_external_data(t)]


def _check_external(onnx: Any, model: ModelProto, file: Path) -> None:
    """Each external-data initializer's file exists beside the model, inside its folder, and
    holds the bytes its offset and length name."""
    base = file.resolve().parent
    for tensor in external_tensors(model):
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        target = (base / location).resolve()
        if not location or Path(location).is_absolute() or base not in target.parents:
            raise LoadError(
                f"{file}: initializer '{tensor.name}' names external data {location!r} outside "
                "the model's folder"
            )
        if not target.is_file():
            raise LoadError(
                f"{file}: external data '{location}' of initializer '{tensor.name}' is missing "
                f"(expected beside the model, in {base})"
            )
        try:
            offset, length = int(info.get("offset", 0)), int(info.get("length", -1))
        except ValueError:
            raise LoadError(f"{file}: initializer '{tensor.name}': bad external offset") from None
        needed = offset + (length if length >= 0 else 0)
        if offset < 0 or target.stat().st_size < needed:
            raise LoadError(
                f"{file}: external data '{location}' is {target.stat().st_size:,} bytes; "
                f"initializer '{tensor.name}' needs {needed:,} (truncated?)"
            )


def weight_bytes(model: ModelProto) -> int:
    """The bytes of every initializer's data, in the file or beside it."""
    from onnx import helper

    total = 0
    for tensor in model.graph.initializer:
        try:
            itemsize = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        except (KeyError, ValueError, TypeError):  # an undefined or string type
            itemsize = 1
        total += prod(tensor.dims) * itemsize
    return total


def load_weights(path: str | os.PathLike[str]) -> ModelProto:
    """The model with every weight loaded (external data included), for a runtime; refused in
    one line when its weights would take more than the memory limit."""
    model = load_graph(path)
    size, limit = weight_bytes(model), memory_limit()
    if size > limit:
        raise LoadError(
            f"{path}: its weights take {_mb(size)}, over the limit of {_mb(limit)} (half the "
            "memory available now)"
        )
    if external_tensors(model):
        from onnx.external_data_helper import load_external_data_for_model

        load_external_data_for_model(model, str(Path(path).resolve().parent))
    return model


def model_bytes(path: str | os.PathLike[str]) -> bytes:
    """The model with its weights, serialised, as a runtime session takes it."""
    return load_weights(path).SerializeToString()
