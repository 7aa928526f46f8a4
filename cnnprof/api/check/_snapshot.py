"""`snapshot`: a versioned baseline of each model's counts, and optionally its latency (alone or
as a ratio to a reference model) and the latency predicted for a device profile."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cnnprof.api.check._counting import counted, entry_request, latency_ratio
from cnnprof.api.check._documents import SNAPSHOT_SCHEMA, snapshot_entry
from cnnprof.api.check._fields import Settings
from cnnprof.api.check._reference import check_reference
from cnnprof.api.latency import Machine, named_profile
from cnnprof.api.request import DEFAULT_TIMEOUT
from cnnprof.api.runtimes import runtimes
from cnnprof.arch.reference import is_outside
from cnnprof.errors import OptionError
from cnnprof.results.timing import TORCH
from cnnprof.version import __version__


def snapshot(
    models: Sequence[str],
    *,
    batch: int = 1,
    dtype: str = "float32",
    args: Mapping[str, Any] | None = None,
    input: Sequence[Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    machine: Callable[[], Machine] | None = None,
    reference: str | None = None,
    device_profile: str | None = None,
    runtime: str = TORCH,
) -> dict[str, Any]:
    """A versioned baseline of ``models``, each counted at ``batch`` and ``dtype`` (``args`` and
    ``input`` go to the outside models among them). With ``machine`` (made once, before anything
    is counted), each model's latency is measured on its CPU, or, with ``reference``, the ratio
    of its latency to the reference's, measured interleaved; ``device_profile`` (a shipped name
    or a saved profile's file) adds the latency predicted for that device to the counts;
    ``runtime`` (one of `RUNTIMES`) runs the models measured, and is recorded."""
    if reference is not None and machine is None:
        raise OptionError(
            "--reference: it is the model latency is measured against; give --latency too"
        )
    if len(runtimes(runtime)) != 1:
        raise OptionError(f"--runtime {runtime}: a snapshot records one runtime")
    if reference is not None:
        check_reference(reference, models, own_inputs=bool(args) or input is not None)
    device = None if device_profile is None else named_profile(device_profile, dtype)
    here = None if machine is None else machine()
    entries = []
    for model in models:
        own = (args, input) if is_outside(model) else (None, None)
        shapes = None if own[1] is None else tuple(tuple(s) for s in own[1])
        settings = Settings(
            batch=batch, dtype=dtype, input=shapes, args=own[0], timeout=timeout, runtime=runtime
        )
        column = counted(model, settings, device)
        timing = ratio = None
        if here is not None and reference is None:
            timing = here.measure(entry_request(model, settings), "cpu", runtime)
        if here is not None and reference is not None:
            ratio = latency_ratio(here, model, settings, reference, "cpu", timeout)
        entries.append(snapshot_entry(model, column, timing, own[0], ratio, device, runtime))
    return {"schema": SNAPSHOT_SCHEMA, "cnnprof": __version__, "models": entries}
