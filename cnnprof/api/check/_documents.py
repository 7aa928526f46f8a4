"""Baselines (.json) and budgets (.yaml) as validated documents: each read whole and checked
before anything runs (every entry, every field, every limit; a `CheckFileError` names the file, the
entry and the field), and the snapshot document a baseline is written as."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import cnnprof.files as files
from cnnprof.api.check._counting import counts
from cnnprof.api.check._fields import Fields, Settings, entries, parse_tolerance
from cnnprof.api.check._reference import reference as ratio_reference
from cnnprof.api.latency import named_profile
from cnnprof.api.request import DEFAULT_TIMEOUT
from cnnprof.arch.load import load_yaml
from cnnprof.errors import CheckFileError, OptionError, did_you_mean
from cnnprof.results.device import DeviceProfile
from cnnprof.results.interleaved import LatencyRatio
from cnnprof.results.metrics import BASELINE_COUNTS, BUDGET_KEYS, PREDICTED
from cnnprof.results.tables import Column
from cnnprof.results.timing import (
    DEVICES,
    MAX_PROCESSES,
    RUNTIMES,
    TORCH,
    Timing,
    process_record,
)

SNAPSHOT_SCHEMA = "cnnprof.snapshot/1"
_SETTING_KEYS = ("batch", "dtype", "input", "args", "timeout", "allow_incomplete", "runtime")
_ENTRY_KEYS = (
    "model",
    "tolerance",
    "source",
    "device",
    "reference",
    "device_profile",
    *_SETTING_KEYS,
    *BUDGET_KEYS,
    *("threads", "processes"),
)
# The limits measured on this machine: what an entry's threads: and processes: shape.
_TIMED_LIMITS = ("max_latency_ms", "max_latency_ratio")
# A budget file's own keys: its entries, and the defaults its entries may leave out.
_BUDGET_TOP_KEYS = ("models", "reference", "device_profile")
# An entry's key that a budget file may also give once at its top, and the limit it serves.
_ENTRY_LIMIT = MappingProxyType(
    {"reference": "max_latency_ratio", "device_profile": "max_predicted_ms"}
)
# What each such key names, and how, when a limit needs it.
_NEEDED = MappingProxyType(
    {
        "reference": "a reference model measured with it: give 'reference: MODEL'",
        "device_profile": (
            "the device profile to predict for: give 'device_profile: NAME_OR_FILE' "
            "(a shipped name or a file from `cnnprof device --save`)"
        ),
    }
)


# --- the values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatencyRecord:
    """A baseline's recorded latency and where it was measured."""

    median_ms: float
    device: str
    device_name: str | None
    threads: int | None
    reference: str | None = None  # the model measured with it, interleaved (snapshot --reference)
    ratio: float | None = None  # the median over that reference's, round by round
    runtime: str = TORCH  # what ran the model
    timeout: float = DEFAULT_TIMEOUT  # what bounds the reference's own code (check --timeout)


@dataclass(frozen=True)
class BaselineEntry:
    model: str
    settings: Settings
    counts: tuple[tuple[str, float], ...]  # (metric, value): the metrics this entry checks
    latency: LatencyRecord | None
    raw: Mapping[str, Any]  # the entry as read: --update keeps every key it does not own
    predict_for: DeviceProfile | None = None  # what counts.predicted_ms was predicted for


@dataclass(frozen=True)
class Baseline:
    path: Path
    entries: tuple[BaselineEntry, ...]
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BudgetEntry:
    model: str
    settings: Settings
    limits: tuple[tuple[str, float], ...]  # (budget key, limit)
    tolerance: float | None
    device: str = "cpu"
    reference: str | None = None  # what max_latency_ratio is measured against
    predict_for: DeviceProfile | None = None  # what max_predicted_ms is predicted for
    threads: int | None = None  # what its latency is measured at (None: check --threads)
    processes: int | None = None  # fresh processes it is timed in (None: check --processes)
    timeout: float = DEFAULT_TIMEOUT  # what bounds the reference's own code (check --timeout)


# --- baselines ----------------------------------------------------------------------------------


def read_baseline(path: Path, timeout: float = DEFAULT_TIMEOUT) -> Baseline:
    """The baseline in ``path``, validated whole; ``timeout`` for entries that give none."""
    content = files.read_bytes(path, "baseline", files.MAX_INPUT_BYTES)
    return baseline_from(content, path, timeout)


def baseline_from(content: bytes, path: Path, timeout: float = DEFAULT_TIMEOUT) -> Baseline:
    """A baseline read from ``content`` (the bytes of ``path``), validated whole; ``timeout``
    for entries that give none."""
    try:
        data = json.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise CheckFileError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise CheckFileError(f"{path}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
    except RecursionError:
        raise CheckFileError(f"{path}: not a baseline: nested too deeply") from None
    return _parse_baseline(data, path, timeout)


def _parse_baseline(data: Any, path: Path, timeout: float) -> Baseline:
    if not isinstance(data, dict) or data.get("schema") != SNAPSHOT_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise CheckFileError(
            f"{path}: schema {found!r} is not {SNAPSHOT_SCHEMA!r}; recreate it with "
            "`cnnprof snapshot`"
        )
    parsed = []
    for fields, model in entries(data, path, "{model, counts}", "'model' and 'counts'"):
        recorded = _counts(fields)
        settings = fields.settings(model, timeout)
        latency = _latency(fields.doc.get("latency"), fields.where, model, settings, timeout)
        prediction = _prediction(fields, settings)
        parsed.append(BaselineEntry(model, settings, recorded, latency, fields.doc, prediction))
    return Baseline(path, tuple(parsed), data)


def _counts(fields: Fields) -> tuple[tuple[str, float], ...]:
    """A baseline entry's recorded counts, each a known metric and a finite number ≥ 0."""
    counts = fields.doc.get("counts")
    if not isinstance(counts, dict) or not counts:
        raise fields.fail("counts", f"a non-empty mapping of {', '.join(BASELINE_COUNTS)}")
    recorded = []
    for metric in counts:
        if metric not in BASELINE_COUNTS:
            raise CheckFileError(
                f"{fields.where}: counts: unknown metric {metric!r}; known: "
                f"{', '.join(BASELINE_COUNTS)}"
            )
        number = Fields(counts, f"{fields.where}: counts").number(metric, positive=False)
        recorded.append((metric, number))
    return tuple(recorded)


def _prediction(fields: Fields, settings: Settings) -> DeviceProfile | None:
    """The device profile a baseline entry's counts.predicted_ms was predicted for (its
    'prediction' record names it), loaded now; None when the entry records no prediction."""
    record = fields.doc.get("prediction")
    if PREDICTED not in fields.doc["counts"]:
        if record is not None:
            raise CheckFileError(
                f"{fields.where}: field 'prediction': used only with "
                f"counts.{PREDICTED}, which this entry does not record"
            )
        return None
    if not isinstance(record, dict):
        raise CheckFileError(
            f"{fields.where}: counts.{PREDICTED} needs 'prediction' naming the "
            "device profile it was predicted for (`cnnprof snapshot "
            "--device-profile P` writes both)"
        )
    inner = Fields(record, f"{fields.where}: prediction")
    name = inner.text("device_profile", required=True) or ""
    where = f"{inner.where}: field 'device_profile'"
    return _for_runtime(_device_profile(name, where, settings.dtype), settings.runtime, where)


def _device_profile(name: str, where: str, dtype: str) -> DeviceProfile:
    """A device profile a file names, loaded and checked now for the entry's dtype (one line
    naming the file, the entry and the field)."""
    try:
        return named_profile(name, dtype, f"{where}: {name}")
    except OptionError as exc:
        raise CheckFileError(str(exc)) from None


def _latency(
    doc: Any, where: str, model: str, settings: Settings, timeout: float
) -> LatencyRecord | None:
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise CheckFileError(f"{where}: field 'latency': expected a mapping, got {doc!r}")
    fields = Fields(doc, f"{where}: latency")
    reference = fields.text("reference")
    if reference is None and "ratio" in doc:
        raise fields.fail("reference", "the model the ratio was measured against")
    if reference is not None:
        own = _own_inputs(settings)
        ratio_reference(reference, f"{where}: latency: field 'reference'", model, own_inputs=own)
    return LatencyRecord(
        median_ms=fields.number("median_ms"),
        device=fields.choice("device", "cpu", DEVICES),
        device_name=fields.text("device_name"),
        threads=fields.integer("threads", None),
        reference=reference,
        ratio=None if reference is None else fields.number("ratio"),
        runtime=fields.choice("runtime", TORCH, RUNTIMES),
        timeout=timeout,
    )


# --- budgets ------------------------------------------------------------------------------------


def read_budgets(path: Path, timeout: float = DEFAULT_TIMEOUT) -> list[BudgetEntry]:
    """The budget file in ``path``, validated whole; ``timeout`` for entries that give none."""
    text = files.read_text(path, "budget", files.MAX_INPUT_BYTES)
    doc = load_yaml(text, str(path), error=CheckFileError)
    if isinstance(doc, dict) and set(doc) - set(_BUDGET_TOP_KEYS):
        unknown = sorted(map(str, set(doc) - set(_BUDGET_TOP_KEYS)))[0]
        raise CheckFileError(
            f"{path}: unknown top-level key {unknown!r}; a budget has 'models:' "
            "and may name a default 'reference:' and 'device_profile:'"
        )
    top = Fields(doc if isinstance(doc, dict) else {}, str(path))
    default = top.text("reference", required="reference" in top.doc)
    default_profile = top.text("device_profile", required="device_profile" in top.doc)
    budgets = [
        _budget(fields, model, timeout, default, default_profile)
        for fields, model in entries(doc, path, "budget", "'model: NAME'")
    ]
    profiles = [e.predict_for.name for e in budgets if e.predict_for is not None]
    for key, given, used in (
        ("reference", default, [e.reference for e in budgets]),
        ("device_profile", default_profile, profiles),
    ):
        if given is not None and given not in used:
            raise CheckFileError(
                f"{path}: '{key}: {given}' is used by no entry; it is the default "
                f"of every entry's {_ENTRY_LIMIT[key]}"
            )
    return budgets


def _budget(
    fields: Fields, model: str, timeout: float, default: str | None, default_profile: str | None
) -> BudgetEntry:
    """One budget entry, validated; the file's default reference and device profile where the
    entry gives none."""
    entry, where = fields.doc, fields.where
    unknown = sorted(map(str, set(entry) - set(_ENTRY_KEYS)))
    if unknown:
        hint = did_you_mean(unknown[0], _ENTRY_KEYS)
        raise CheckFileError(
            f"{where}: unknown field '{unknown[0]}'{hint}; allowed: {', '.join(_ENTRY_KEYS)}"
        )
    limits = tuple((key, fields.number(key)) for key in BUDGET_KEYS if key in entry)
    if not limits:
        raise CheckFileError(f"{where}: no limit; give any of {', '.join(BUDGET_KEYS)}")
    tolerance = None
    if "tolerance" in entry:
        tolerance = _entry_tolerance(entry["tolerance"], where)
    fields.text("source")
    settings = fields.settings(model, timeout)
    return BudgetEntry(
        model,
        settings,
        limits,
        tolerance,
        fields.choice("device", "cpu", DEVICES),
        _ratio_reference(fields, model, settings, default),
        _predict_for(fields, settings, default_profile),
        *_measured_how(fields),
        timeout=timeout,
    )


def _measured_how(fields: Fields) -> tuple[int | None, int | None]:
    """An entry's own threads: and processes: for its measured limits; refused where it gives
    none (they would shape nothing) or out of range."""
    given = [key for key in ("threads", "processes") if key in fields.doc]
    if given and not any(limit in fields.doc for limit in _TIMED_LIMITS):
        raise CheckFileError(
            f"{fields.where}: field '{given[0]}': used only by "
            f"{' and '.join(_TIMED_LIMITS)}, which this entry does not give"
        )
    processes = fields.integer("processes", None)
    if processes is not None and processes > MAX_PROCESSES:
        raise fields.fail("processes", f"an integer from 1 to {MAX_PROCESSES}")
    return fields.integer("threads", None), processes


def _chosen(fields: Fields, key: str, default: str | None) -> str | None:
    """The entry's own ``key`` (reference, device_profile), else the file's; None when the entry
    does not give the limit it serves, where one of its own is refused."""
    own, limit = fields.text(key), _ENTRY_LIMIT[key]
    if limit not in fields.doc:
        if own is not None:
            raise CheckFileError(
                f"{fields.where}: field '{key}': used only by {limit}, which this "
                "entry does not give"
            )
        return None
    chosen = own or default
    if chosen is None:
        raise CheckFileError(
            f"{fields.where}: {limit} needs {_NEEDED[key]} in the entry or at the top of the file"
        )
    return chosen


def _ratio_reference(
    fields: Fields, model: str, settings: Settings, default: str | None
) -> str | None:
    """The model an entry's max_latency_ratio is measured against, checked now."""
    chosen = _chosen(fields, "reference", default)
    if chosen is None:
        return None
    where, own = f"{fields.where}: field 'reference'", _own_inputs(settings)
    return ratio_reference(chosen, where, model, own_inputs=own)


def _own_inputs(settings: Settings) -> bool:
    """An entry's model is called with inputs or factory arguments of its own."""
    return settings.input is not None or bool(settings.args)


def _predict_for(fields: Fields, settings: Settings, default: str | None) -> DeviceProfile | None:
    """The device profile an entry's max_predicted_ms is predicted for, loaded and checked for
    the entry's dtype now."""
    chosen = _chosen(fields, "device_profile", default)
    if chosen is None:
        return None
    where = f"{fields.where}: field 'device_profile'"
    return _for_runtime(_device_profile(chosen, where, settings.dtype), settings.runtime, where)


def _for_runtime(device: DeviceProfile, runtime: str, where: str) -> DeviceProfile:
    """A device profile calibrated under the entry's runtime; another is refused in one line
    (a prediction for one runtime is never checked against another's budget)."""
    calibrated = getattr(device.peaks, "runtime", TORCH) or TORCH
    if calibrated != runtime:
        raise CheckFileError(
            f"{where}: {device.name} was calibrated under {calibrated}, the entry's runtime "
            f"is {runtime}; give runtime: {calibrated}, or a profile made with "
            f"`cnnprof device --runtime {runtime} --save FILE`"
        )
    return device


def _entry_tolerance(value: Any, where: str) -> float:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise CheckFileError(f"{where}: field 'tolerance': expected 0.05 or 5%, got {value!r}")
    try:
        return parse_tolerance(value, "tolerance")
    except OptionError as exc:
        raise CheckFileError(f"{where}: field {exc}") from None


# --- the snapshot document ----------------------------------------------------------------------


def snapshot_entry(
    model: str,
    column: Column,
    timing: Timing | None = None,
    args: Mapping[str, Any] | None = None,
    ratio: LatencyRatio | None = None,
    device: DeviceProfile | None = None,
    runtime: str = TORCH,
) -> dict[str, Any]:
    """A baseline's entry for a counted model: its settings (its runtime where not torch), its
    counts, the device profile its prediction is for, and its latency (alone or as a ratio to a
    reference) where measured."""
    profile = column.profile
    entry: dict[str, Any] = {
        "model": model,
        "input": profile.input.as_list(),
        "batch": profile.batch,
        "dtype": profile.dtype,
        **({} if runtime == TORCH else {"runtime": runtime}),
        "counts": counts(column),
    }
    if device is not None:
        entry["prediction"] = device.baseline_record()
    if profile.inputs:  # an outside model: what it is called with, recounted the same way
        entry["input"] = [list(s) for s in profile.inputs]
    if args:
        entry["args"] = dict(args)
    if timing is not None:
        entry["latency"] = latency_entry(timing)
    if ratio is not None:
        entry["latency"] = ratio_entry(ratio)
    return entry


def latency_entry(timing: Timing) -> dict[str, Any]:
    """What a latency comparison needs: the figure and everything that shaped it."""
    return {
        "median_ms": round(timing.median * 1e3, 4),
        "p10_ms": round(timing.p10 * 1e3, 4),
        "p90_ms": round(timing.p90 * 1e3, 4),
        "device": timing.device,
        "device_name": timing.device_name,
        "threads": timing.threads,
        "torch": timing.torch_version,
        **timing.runtime_facts(),
        **process_record(timing, "ms", digits=4),
    }


def ratio_entry(ratio: LatencyRatio) -> dict[str, Any]:
    """A latency measured with a reference, interleaved: the model's figures, the reference's,
    and the ratio a check compares (the median of the per-round ratios, with their spread)."""
    other = ratio.reference_timing
    return {
        **latency_entry(ratio.model_timing),
        "reference": ratio.reference,
        "reference_median_ms": round(other.median * 1e3, 4),
        "reference_p10_ms": round(other.p10 * 1e3, 4),
        "reference_p90_ms": round(other.p90 * 1e3, 4),
        "ratio": round(ratio.median, 6),
        "ratio_p10": round(ratio.p10, 6),
        "ratio_p90": round(ratio.p90, 6),
        "rounds": ratio.rounds,
    }
