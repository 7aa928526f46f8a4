"""Regression guards: snapshots of counts, budgets, and the check that compares a recount with them.

A baseline (.json) or budget (.yaml) is read whole and validated before anything runs: every
entry, every field, every limit (a typed parse; unknown metrics, wrong types, null, non-finite or
negative values, empty entries and empty model lists are refused, naming the file, the entry and
the field). ``check --update`` rewrites a baseline under a lock, atomically, keeping each entry's
settings and every key it does not own.

Pure data in and out: the CLI prints the results and turns a failure into exit code 1.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import cnnprof.files as files
from cnnprof.api.count import profile_analytic
from cnnprof.api.latency import Machine, named_profile, predicted_for
from cnnprof.api.request import DEFAULT_TIMEOUT, Request, request
from cnnprof.api.sources import resolve
from cnnprof.arch.load import load_yaml
from cnnprof.arch.reference import is_outside
from cnnprof.errors import CnnprofError, OptionError, SpecError
from cnnprof.results import metrics
from cnnprof.results.check import CheckResult
from cnnprof.results.device import DeviceProfile, roofline_note
from cnnprof.results.interleaved import LatencyRatio
from cnnprof.results.metrics import BASELINE_COUNTS, BUDGET_KEYS, PREDICTED
from cnnprof.results.profile import DTYPE_BYTES, Profile
from cnnprof.results.tables import Column
from cnnprof.results.timing import DEVICES, Timing
from cnnprof.version import __version__

SNAPSHOT_SCHEMA = "cnnprof.snapshot/1"
COUNT_NAMES = {key: name for name, key in BASELINE_COUNTS.items()}  # how checks name a metric
SETTING_KEYS = ("batch", "dtype", "input", "args", "timeout", "allow_incomplete")
ENTRY_KEYS = ("model", "tolerance", "source", "device", "reference", "device_profile",
              *SETTING_KEYS, *BUDGET_KEYS)  # fmt: skip
# A budget file's own keys: its entries, and the defaults its entries may leave out.
BUDGET_TOP_KEYS = ("models", "reference", "device_profile")
UNITS = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
OWNED = ("counts", "latency", "prediction")  # what --update rewrites; every other key is kept


# --- tolerances ---------------------------------------------------------------------------------


def parse_tolerance(text: str | float, name: str = "--tolerance") -> float:
    """A growth allowed, as a fraction: ``"5%"`` → 0.05, ``"0.05"`` → 0.05. A bare number above 1
    is refused (``5`` would mean 500 %), as is anything negative, non-finite or malformed."""
    given = str(text).strip()
    if isinstance(text, bool):
        given = "?"
    match = re.fullmatch(r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%?)", given)
    if not match:
        raise OptionError(f"{name} {text}: expected a fraction like 0.05 or a percentage like 5%")
    value = float(match.group(1))
    if match.group(2):
        value /= 100
    elif value > 1:
        raise OptionError(f"{name} {text}: a bare number is a fraction (1 = 100 %); write "
                          f"{text}% for {text} percent, or {value / 100:g}")  # fmt: skip
    if not math.isfinite(value):
        raise OptionError(f"{name} {text}: expected a finite tolerance")
    return value


# --- validated entries --------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How an entry's model is counted: what shapes the counts (and its time limit)."""

    batch: int = 1
    dtype: str = "float32"
    input: tuple[tuple[int, ...], ...] | None = None  # outside models only: the input shapes
    args: Mapping[str, Any] | None = None  # outside models only: factory keyword arguments
    timeout: float = DEFAULT_TIMEOUT
    allow_incomplete: bool = False  # an incomplete count passes (otherwise it fails)


@dataclass(frozen=True)
class LatencyRecord:
    """A baseline's recorded latency and where it was measured."""

    median_ms: float
    device: str
    device_name: str | None
    threads: int | None
    reference: str | None = None  # the model measured with it, interleaved (snapshot --reference)
    ratio: float | None = None  # the median over that reference's, round by round


@dataclass(frozen=True)
class BaselineEntry:
    model: str
    settings: Settings
    counts: tuple[tuple[str, float], ...]  # (metric, value): the metrics this entry guards
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


class _Fields:
    """Typed reads of one entry's fields; every error names the file, the entry and the field."""

    def __init__(self, doc: Mapping[str, Any], where: str) -> None:
        self.doc, self.where = doc, where

    def fail(self, key: str, expected: str) -> SpecError:
        return SpecError(f"{self.where}: field '{key}': expected {expected}, "
                         f"got {self.doc.get(key)!r}")  # fmt: skip

    def integer(self, key: str, default: int | None, minimum: int = 1) -> int | None:
        value = self.doc.get(key, default)
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"an integer ≥ {minimum}")
        return value

    def number(self, key: str, *, positive: bool = True) -> float:
        value = self.doc.get(key)
        if isinstance(value, str):
            value = _number(value, f"{self.where}: field '{key}'")
        least = "> 0" if positive else "≥ 0"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"a number {least}")
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise self.fail(key, f"a finite number {least}")
        return value

    def choice(self, key: str, default: str, choices: Sequence[str]) -> str:
        value = self.doc.get(key, default)
        if value not in choices:
            raise self.fail(key, f"one of {', '.join(choices)}")
        return value

    def text(self, key: str, required: bool = False) -> str | None:
        value = self.doc.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "a non-empty string")
        return value

    def settings(self, model: str, timeout: float) -> Settings:
        shape = self.doc.get("input")
        shapes = None
        if shape is not None:
            shapes = tuple(_shape(s) for s in shape) if _nested(shape) else (_shape(shape),)
            if not shapes or None in shapes:
                raise self.fail("input", "sizes like [3, 224, 224] or a list of them, each ≥ 1")
        incomplete = self.doc.get("allow_incomplete", False)
        if not isinstance(incomplete, bool):
            raise self.fail("allow_incomplete", "true or false")
        args = self.doc.get("args")
        if args is not None and not (
            isinstance(args, dict) and all(isinstance(k, str) and k.isidentifier() for k in args)
        ):
            raise self.fail("args", "a mapping of factory argument names to values")
        outside = is_outside(model)
        if args and not outside:
            raise self.fail("args", "no factory arguments: the model is a spec")
        return Settings(
            batch=self.integer("batch", 1) or 1,
            dtype=self.choice("dtype", "float32", tuple(DTYPE_BYTES)),
            input=shapes if outside else None,  # type: ignore[arg-type]
            args=args or None,
            timeout=self.number("timeout") if "timeout" in self.doc else timeout,
            allow_incomplete=incomplete,
        )


def _nested(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], list)


def _shape(value: Any) -> tuple[int, ...] | None:
    """``[3, 224, 224]`` → a shape; None unless a non-empty list of integers ≥ 1."""
    ok = isinstance(value, list) and bool(value) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value
    )  # fmt: skip
    return tuple(value) if ok else None


def _number(text: str, where: str) -> float:
    """``"4.3M"``, ``"600e6"``, ``"1.5G"`` → a number (not yet checked for range)."""
    match = re.fullmatch(r"\s*([0-9.eE+-]+)\s*([KMGT]?)\s*", text)
    try:
        if not match:
            raise ValueError
        return float(match.group(1)) * UNITS[match.group(2)]
    except ValueError:
        raise SpecError(f"{where}: expected a number like 4.3M or 600e6, got {text!r}") from None


def _models(doc: Any, path: Path, what: str) -> list[Any]:
    entries = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise SpecError(f"{path}: expected 'models:' with a list of {what} entries")
    if not entries:
        raise SpecError(f"{path}: 'models' is empty: a check of nothing would pass; name at "
                        "least one model")  # fmt: skip
    return entries


def _entries(doc: Any, path: Path, what: str, shape: str) -> list[tuple[_Fields, str]]:
    """Each entry of ``doc['models']`` as (its fields, its model), every one a mapping that
    names a model; errors name the file and the entry."""
    out = []
    for index, entry in enumerate(_models(doc, path, what), 1):
        model = entry.get("model") if isinstance(entry, dict) else None
        where = f"{path}: entry {index}" + (f" ({model})" if isinstance(model, str) else "")
        if not isinstance(entry, dict):
            raise SpecError(f"{where}: expected a mapping with {shape}")
        fields = _Fields(entry, where)
        out.append((fields, fields.text("model", required=True) or ""))
    return out


def parse_baseline(data: Any, path: Path, timeout: float = DEFAULT_TIMEOUT) -> Baseline:
    """A baseline document, validated whole (`SpecError` naming file, entry and field);
    ``timeout`` for entries that give none."""
    if not isinstance(data, dict) or data.get("schema") != SNAPSHOT_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise SpecError(f"{path}: schema {found!r} is not {SNAPSHOT_SCHEMA!r}; recreate it with "
                        "`cnnprof snapshot`")  # fmt: skip
    entries = []
    for fields, model in _entries(data, path, "{model, counts}", "'model' and 'counts'"):
        doc, where = fields.doc, fields.where
        counts = doc.get("counts")
        if not isinstance(counts, dict) or not counts:
            raise fields.fail("counts", f"a non-empty mapping of {', '.join(BASELINE_COUNTS)}")
        recorded = []
        for metric in counts:
            if metric not in BASELINE_COUNTS:
                raise SpecError(f"{where}: counts: unknown metric {metric!r}; known: "
                                f"{', '.join(BASELINE_COUNTS)}")  # fmt: skip
            number = _Fields(counts, f"{where}: counts").number(metric, positive=False)
            recorded.append((metric, number))
        settings = fields.settings(model, timeout)
        entries.append(BaselineEntry(model, settings, tuple(recorded),
                                     _latency(doc.get("latency"), where), doc,
                                     _prediction(fields, settings)))  # fmt: skip
    return Baseline(path, tuple(entries), data)


def _prediction(fields: _Fields, settings: Settings) -> DeviceProfile | None:
    """The device profile a baseline entry's counts.predicted_ms was predicted for (its
    'prediction' record names it), loaded now; None when the entry records no prediction."""
    record = fields.doc.get("prediction")
    if PREDICTED not in fields.doc["counts"]:
        if record is not None:
            raise SpecError(f"{fields.where}: field 'prediction': used only with "
                            f"counts.{PREDICTED}, which this entry does not record")  # fmt: skip
        return None
    if not isinstance(record, dict):
        raise SpecError(f"{fields.where}: counts.{PREDICTED} needs 'prediction' naming the "
                        "device profile it was predicted for (`cnnprof snapshot "
                        "--device-profile P` writes both)")  # fmt: skip
    inner = _Fields(record, f"{fields.where}: prediction")
    name = inner.text("device_profile", required=True) or ""
    return _device_profile(name, f"{inner.where}: field 'device_profile'", settings.dtype)


def _device_profile(name: str, where: str, dtype: str) -> DeviceProfile:
    """A device profile a file names, loaded and checked now for the entry's dtype (one line
    naming the file, the entry and the field)."""
    try:
        return named_profile(name, dtype, f"{where}: {name}")
    except OptionError as exc:
        raise SpecError(str(exc)) from None


def _latency(doc: Any, where: str) -> LatencyRecord | None:
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise SpecError(f"{where}: field 'latency': expected a mapping, got {doc!r}")
    fields = _Fields(doc, f"{where}: latency")
    reference = fields.text("reference")
    if reference is None and "ratio" in doc:
        raise fields.fail("reference", "the model the ratio was measured against")
    if reference is not None:
        _reference(reference, f"{where}: latency: field 'reference'")
    return LatencyRecord(
        median_ms=fields.number("median_ms"),
        device=fields.choice("device", "cpu", DEVICES),
        device_name=fields.text("device_name"),
        threads=fields.integer("threads", None),
        reference=reference,
        ratio=None if reference is None else fields.number("ratio"),
    )


def _reference(
    name: str, where: str, model: str | None = None, error: type[CnnprofError] = SpecError
) -> str:
    """A reference model, checked now (``where`` names the field in the message): an unknown
    name or a bad variant is refused before anything runs (an outside reference's own code is
    checked when it is measured)."""
    try:
        resolve(request(name))
    except CnnprofError as exc:
        raise error(f"{where}: {exc}") from None
    if name == model:
        raise error(f"{where}: {name} is the model itself; a ratio to itself is 1 on any "
                    "machine — name another model")  # fmt: skip
    return name


def read_baseline(path: Path, timeout: float = DEFAULT_TIMEOUT) -> Baseline:
    """The baseline in ``path``, validated whole."""
    content = files.read_bytes(path, "baseline", files.MAX_INPUT_BYTES)
    return _baseline_from(content, path, timeout)


def _baseline_from(content: bytes, path: Path, timeout: float = DEFAULT_TIMEOUT) -> Baseline:
    try:
        data = json.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
    except RecursionError:
        raise SpecError(f"{path}: not a baseline: nested too deeply") from None
    return parse_baseline(data, path)


def read_budgets(path: Path, timeout: float = DEFAULT_TIMEOUT) -> list[BudgetEntry]:
    """The budget file in ``path``, validated whole; ``timeout`` for entries that give none."""
    text = files.read_text(path, "budget", files.MAX_INPUT_BYTES)
    doc = load_yaml(text, str(path))
    if isinstance(doc, dict) and set(doc) - set(BUDGET_TOP_KEYS):
        unknown = sorted(map(str, set(doc) - set(BUDGET_TOP_KEYS)))[0]
        raise SpecError(f"{path}: unknown top-level key {unknown!r}; a budget has 'models:' "
                        "and may name a default 'reference:' and 'device_profile:'")  # fmt: skip
    top = _Fields(doc if isinstance(doc, dict) else {}, str(path))
    default = top.text("reference", required="reference" in top.doc)
    default_profile = top.text("device_profile", required="device_profile" in top.doc)
    entries = []
    for fields, model in _entries(doc, path, "budget", "'model: NAME'"):
        entry, where = fields.doc, fields.where
        unknown = sorted(map(str, set(entry) - set(ENTRY_KEYS)))
        if unknown:
            raise SpecError(
                f"{where}: unknown field '{unknown[0]}'; allowed: {', '.join(ENTRY_KEYS)}"
            )
        limits = tuple((key, fields.number(key)) for key in BUDGET_KEYS if key in entry)
        if not limits:
            raise SpecError(f"{where}: no limit; give any of {', '.join(BUDGET_KEYS)}")
        tolerance = None
        if "tolerance" in entry:
            tolerance = _entry_tolerance(entry["tolerance"], where)
        fields.text("source")
        settings = fields.settings(model, timeout)
        entries.append(BudgetEntry(model, settings, limits, tolerance,
                                   fields.choice("device", "cpu", DEVICES),
                                   _ratio_reference(fields, model, default),
                                   _predict_for(fields, settings, default_profile)))  # fmt: skip
    profiles = [e.predict_for.name for e in entries if e.predict_for is not None]
    for key, given, used in (("reference", default, [e.reference for e in entries]),
                             ("device_profile", default_profile, profiles)):  # fmt: skip
        if given is not None and given not in used:
            raise SpecError(f"{path}: '{key}: {given}' is used by no entry; it is the default "
                            f"of every entry's {ENTRY_LIMIT[key]}")  # fmt: skip
    return entries


def check_reference(reference: str, models: Sequence[str]) -> None:
    """``snapshot --reference``: a model known now, and none of the models it is measured with."""
    itself = reference if reference in models else None
    _reference(reference, "--reference", itself, OptionError)


# An entry's key that a budget file may also give once at its top, and the limit it serves.
ENTRY_LIMIT = MappingProxyType(
    {"reference": "max_latency_ratio", "device_profile": "max_predicted_ms"}
)
NEEDED = MappingProxyType({  # what each such key names, and how, when a limit needs it
    "reference": "a reference model measured with it: give 'reference: MODEL'",
    "device_profile": "the device profile to predict for: give 'device_profile: NAME_OR_FILE' "
                      "(a shipped name or a file from `cnnprof device --save`)",
})  # fmt: skip


def _chosen(fields: _Fields, key: str, default: str | None) -> str | None:
    """The entry's own ``key`` (reference, device_profile), else the file's; None when the entry
    does not give the limit it serves, where one of its own is refused."""
    own, limit = fields.text(key), ENTRY_LIMIT[key]
    if limit not in fields.doc:
        if own is not None:
            raise SpecError(f"{fields.where}: field '{key}': used only by {limit}, which this "
                            "entry does not give")  # fmt: skip
        return None
    chosen = own or default
    if chosen is None:
        raise SpecError(f"{fields.where}: {limit} needs {NEEDED[key]} in the entry or at the "
                        "top of the file")  # fmt: skip
    return chosen


def _ratio_reference(fields: _Fields, model: str, default: str | None) -> str | None:
    """The model an entry's max_latency_ratio is measured against, checked now."""
    chosen = _chosen(fields, "reference", default)
    return None if chosen is None else _reference(chosen, f"{fields.where}: field 'reference'",
                                                  model)  # fmt: skip


def _predict_for(fields: _Fields, settings: Settings, default: str | None) -> DeviceProfile | None:
    """The device profile an entry's max_predicted_ms is predicted for, loaded and checked for
    the entry's dtype now."""
    chosen = _chosen(fields, "device_profile", default)
    if chosen is None:
        return None
    return _device_profile(chosen, f"{fields.where}: field 'device_profile'", settings.dtype)


def _entry_tolerance(value: Any, where: str) -> float:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SpecError(f"{where}: field 'tolerance': expected 0.05 or 5%, got {value!r}")
    try:
        return parse_tolerance(value, "tolerance")
    except OptionError as exc:
        raise SpecError(f"{where}: field {exc}") from None


# --- counting -----------------------------------------------------------------------------------


def measure(
    model: str,
    batch: int = 1,
    dtype: str = "float32",
    args: Mapping[str, Any] | None = None,
    input: Sequence[Any] | None = None,
    *,
    settings: Settings | None = None,
) -> Profile:
    """The default profile of a model reference (registry name, variant reference, outside);
    ``args`` and ``input`` go to an outside model's factory and forward; an entry's
    ``settings``, when given, win over all of them."""
    if settings is None:
        shapes = None if input is None else tuple(tuple(s) if isinstance(s, list) else s
                                                  for s in input)  # fmt: skip
        settings = Settings(batch=batch, dtype=dtype, input=shapes, args=args)
    return profile_analytic(entry_request(model, settings))


def entry_request(model: str, settings: Settings) -> Request:
    """What an entry names, counted and measured with the entry's own settings."""
    s = settings
    return request(model, batch=s.batch, dtype=s.dtype, input=s.input, args=s.args,
                   timeout=s.timeout)  # fmt: skip


def latency_ratio(
    here: Machine, model: str, settings: Settings, reference: str, device: str
) -> LatencyRatio:
    """``model`` measured with ``reference`` in one run, interleaved, on ``device``; the
    reference at the entry's batch and dtype."""
    pair = (entry_request(model, settings),
            request(reference, batch=settings.batch, dtype=settings.dtype))  # fmt: skip
    return LatencyRatio.of(here.together(pair, device), reference)


def completeness(model: str, profile: Profile, allowed: bool) -> list[CheckResult]:
    """A failing result for an incomplete count (its missing items against none allowed),
    unless the entry allows it; nothing when the count is complete."""
    if profile.complete:
        return []
    missing = len(profile.missing)
    return [CheckResult(model, "missing", 0, missing, missing if allowed else 0, "complete")]


def counted(model: str, settings: Settings, device: DeviceProfile | None = None) -> Column:
    """An entry's model counted with its settings, and its latency predicted for ``device``
    when given (deterministic: no timing, no torch for a spec)."""
    profile = measure(model, settings=settings)
    return Column(
        model, profile, prediction=None if device is None else predicted_for(profile, device)
    )


def counts(column: Column) -> dict[str, float]:
    """A baseline's counts of a column: every count, and the predicted latency where the
    column was predicted."""
    found = {name: metrics.value(column, key) for name, key in BASELINE_COUNTS.items()}
    return {name: number for name, number in found.items() if number is not None}


def _on(metric: str, device: DeviceProfile | None) -> str | None:
    """The device profile a result's figure was predicted for (None: a count or a
    measurement)."""
    return device.name if device is not None and metric == PREDICTED else None


def _profile_notes(devices: Sequence[DeviceProfile | None], columns: Sequence[Column]) -> list[str]:
    """One line per device profile used (what its predictions are for), and one per model
    whose prediction costs rows on the roofline."""
    named = {d.name: d for d in devices if d is not None}
    notes = [f"{PREDICTED}: {d.describe()}" for d in named.values()]
    return notes + [n for c in columns if (n := roofline_note(c.label, c.prediction))]


def snapshot_entry(
    model: str, column: Column, timing: Timing | None = None,
    args: Mapping[str, Any] | None = None, ratio: LatencyRatio | None = None,
    device: DeviceProfile | None = None,
) -> dict[str, Any]:  # fmt: skip
    profile = column.profile
    entry: dict[str, Any] = {
        "model": model,
        "input": profile.input.as_list(),
        "batch": profile.batch,
        "dtype": profile.dtype,
        "counts": counts(column),
    }
    if device is not None:
        entry["prediction"] = device.record()
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


def snapshot(
    models: Sequence[str],
    batch: int = 1,
    dtype: str = "float32",
    measure_latency: Callable[[str, Settings], Timing] | None = None,
    args: Mapping[str, Any] | None = None,
    input: Sequence[Any] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    measure_ratio: Callable[[str, Settings], LatencyRatio] | None = None,
    device: DeviceProfile | None = None,
) -> dict[str, Any]:
    """A versioned baseline; ``measure_latency(model, settings)`` adds a latency entry per model
    (measured at the entry's batch, dtype, input and arguments), or
    ``measure_ratio(model, settings)`` one measured with a reference (see `latency_ratio`);
    ``device`` adds the latency predicted for that device profile to the counts;
    ``args`` and ``input`` go to the outside models among ``models``."""
    entries = []
    for model in models:
        own = (args, input) if is_outside(model) else (None, None)
        shapes = None if own[1] is None else tuple(tuple(s) for s in own[1])
        settings = Settings(batch=batch, dtype=dtype, input=shapes, args=own[0], timeout=timeout)
        column = counted(model, settings, device)
        timing = measure_latency(model, settings) if measure_latency else None
        ratio = measure_ratio(model, settings) if measure_ratio else None
        entries.append(snapshot_entry(model, column, timing, own[0], ratio, device))
    return {"schema": SNAPSHOT_SCHEMA, "cnnprof": __version__, "models": entries}


# --- checking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recount:
    """One baseline entry counted again (and timed again where it can be compared)."""

    entry: BaselineEntry
    column: Column  # counted, and predicted where the baseline records a prediction
    timing: Timing | None
    ratio: LatencyRatio | None = None  # when the baseline's latency was taken with a reference


def recount(
    baseline: Baseline, machine: Callable[[], Machine] | None, notes: list[str]
) -> list[Recount]:
    """Every entry counted with its own settings, and predicted for its device profile where
    it records a prediction (a note when that profile is not the calibration it recorded);
    latency measured where it was recorded on this device with this thread count (otherwise a
    note says why it is not)."""
    out = []
    here: Machine | None = None
    for entry in baseline.entries:
        column = counted(entry.model, entry.settings, entry.predict_for)
        notes += _recalibrated(entry)
        timing = ratio = None
        record = entry.latency
        if record is not None and machine is None:
            notes.append(f"{entry.model}: latency not measured (no machine to measure it on)")
        elif record is not None and machine is not None:
            here = here or machine()
            name = here.device_name(record.device)
            moved = record.device_name != name
            if record.threads != here.threads or (moved and record.reference is None):
                notes.append(
                    f"{entry.model}: latency skipped: the baseline was measured on "
                    f"{record.device_name} with {record.threads} threads, this is "
                    f"{name} with {here.threads}"
                )
            elif record.reference is not None:
                if moved:
                    notes.append(f"{entry.model}: latency ratio to {record.reference} compared "
                                 f"across machines: the baseline's was measured on "
                                 f"{record.device_name}, this is {name}")  # fmt: skip
                ratio = latency_ratio(here, entry.model, entry.settings, record.reference,
                                      record.device)  # fmt: skip
            else:
                timing = here.measure(entry_request(entry.model, entry.settings), record.device)
        out.append(Recount(entry, column, timing, ratio))
    notes += _profile_notes([e.predict_for for e in baseline.entries], [r.column for r in out])
    return out


def _recalibrated(entry: BaselineEntry) -> list[str]:
    """A note when the device profile an entry names now holds another calibration than the
    one its prediction was recorded with: the figures compare two calibrations."""
    if entry.predict_for is None:
        return []
    then, now = dict(entry.raw["prediction"]), entry.predict_for.record()
    changed = [k for k in now if k != "device_profile" and then.get(k) != now[k]]
    if not changed:
        return []
    differences = ", ".join(f"{k} {then.get(k)} → {now[k]}" for k in changed)
    return [f"{entry.model}: {PREDICTED}: device profile {entry.predict_for.name} is not the "
            f"calibration the baseline was predicted with ({differences}); "
            "`check --update` records this one"]  # fmt: skip


def _ms_result(model: str, kind: str, before: float, timing: Timing, limit: float) -> CheckResult:
    """A measured latency against a baseline's or a budget's milliseconds."""
    return CheckResult(model, "latency_ms", before, timing.median * 1e3, limit, kind,
                       spread=(timing.p10 * 1e3, timing.p90 * 1e3))  # fmt: skip


def _ratio_result(
    model: str, kind: str, before: float, ratio: LatencyRatio, limit: float
) -> CheckResult:
    """A latency ratio against a baseline's or a budget's; judged by its median (its p10–p90
    spread says when the verdict is undecided)."""
    return CheckResult(model, "latency_ratio", before, ratio.median, limit, kind,
                       spread=(ratio.p10, ratio.p90), ratio=ratio)  # fmt: skip


def compare_baseline(
    recounts: Sequence[Recount], tolerance: float, latency_tolerance: float
) -> list[CheckResult]:
    results = []
    for r in recounts:
        model = r.entry.model
        results += completeness(model, r.column.profile, r.entry.settings.allow_incomplete)
        now = counts(r.column)
        for metric, before in r.entry.counts:
            after = now[metric]
            on = _on(metric, r.entry.predict_for)
            results.append(CheckResult(model, metric, before, after, before * (1 + tolerance),
                                       "baseline", device_profile=on))  # fmt: skip
        record = r.entry.latency
        if r.timing is not None and record is not None:
            before = record.median_ms
            results.append(_ms_result(model, "baseline", before, r.timing,
                                      before * (1 + latency_tolerance)))  # fmt: skip
        if r.ratio is not None and record is not None and record.ratio is not None:
            before = record.ratio
            results.append(_ratio_result(model, "baseline", before, r.ratio,
                                         before * (1 + latency_tolerance)))  # fmt: skip
    return results


def updated(baseline: Baseline, recounts: Sequence[Recount]) -> tuple[dict[str, Any], list[str]]:
    """The baseline with today's figures: each entry keeps its settings and every key but the
    counts it guards and the latency re-measured here; (new document, what changed)."""
    models, changes = [], []
    for r in recounts:
        entry = dict(r.entry.raw)
        new_counts = dict(entry["counts"])
        now = counts(r.column)
        if r.entry.predict_for is not None:
            entry["prediction"] = {**entry["prediction"], **r.entry.predict_for.record()}
        for metric, before in r.entry.counts:
            after = now[metric]
            new_counts[metric] = after
            if after != before:
                changes.append(f"{r.entry.model} {metric}: {_shown(before)} → {_shown(after)}")
        entry["counts"] = new_counts
        if r.timing is not None and r.entry.latency is not None:
            fresh = latency_entry(r.timing)
            entry["latency"] = {**entry["latency"], **fresh}
            before_ms = r.entry.latency.median_ms
            if fresh["median_ms"] != before_ms:
                changes.append(
                    f"{r.entry.model} latency_ms: {before_ms:g} → {fresh['median_ms']:g}"
                )
        if r.ratio is not None and r.entry.latency is not None:
            fresh = ratio_entry(r.ratio)
            entry["latency"] = {**entry["latency"], **fresh}
            if fresh["ratio"] != r.entry.latency.ratio:
                changes.append(f"{r.entry.model} latency_ratio: {r.entry.latency.ratio:g} → "
                               f"{fresh['ratio']:g}")  # fmt: skip
        models.append(entry)
    return {**baseline.raw, "cnnprof": __version__, "models": models}, changes


def _shown(value: float) -> str:
    """A figure as it changed, every digit kept (1,814,073,856, not 1.81407e+09)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


def _budget_ms(here: Machine, entry: BudgetEntry, limit: float, allowed: float) -> CheckResult:
    timing = here.measure(entry_request(entry.model, entry.settings), entry.device)
    return _ms_result(entry.model, "budget", limit, timing, allowed)


def _budget_ratio(here: Machine, entry: BudgetEntry, limit: float, allowed: float) -> CheckResult:
    ratio = latency_ratio(here, entry.model, entry.settings, entry.reference or "", entry.device)
    return _ratio_result(entry.model, "budget", limit, ratio, allowed)


# The budget limits measured on this machine (latency), each checked by its own function; every
# other limit is checked as a count, max_predicted_ms too: a prediction for a device profile is
# deterministic and needs no machine.
MEASURED_LIMITS: Mapping[str, Callable[[Machine, BudgetEntry, float, float], CheckResult]] = (
    MappingProxyType({"max_latency_ms": _budget_ms, "max_latency_ratio": _budget_ratio})
)


def check_budgets(
    entries: Sequence[BudgetEntry],
    tolerance: float,
    latency_tolerance: float = 0.10,
    machine: Callable[[], Machine] | None = None,
    notes: list[str] | None = None,
) -> list[CheckResult]:
    """Every entry counted against its limits, and measured against its latency limits with
    ``machine`` (made before anything is counted, so a missing torch or device stops the check
    first; without one, a note says which limits were not checked)."""
    measured = any(key in MEASURED_LIMITS for e in entries for key, _ in e.limits)
    here = machine() if machine is not None and measured else None
    results, columns = [], []
    for entry in entries:
        column = counted(entry.model, entry.settings, entry.predict_for)
        columns.append(column)
        results += completeness(entry.model, column.profile, entry.settings.allow_incomplete)
        slack = 1 + (tolerance if entry.tolerance is None else entry.tolerance)
        for key, limit in entry.limits:
            if key in MEASURED_LIMITS:
                continue
            name = COUNT_NAMES[BUDGET_KEYS[key]]
            after = metrics.value(column, BUDGET_KEYS[key])
            if after is None:
                raise ValueError(f"{key}: {BUDGET_KEYS[key]} is not read off {entry.model}")
            results.append(CheckResult(entry.model, name, limit, after, limit * slack, "budget",
                                       device_profile=_on(name, entry.predict_for)))  # fmt: skip
        for key, limit in entry.limits:
            if key not in MEASURED_LIMITS:
                continue
            if here is None:
                if notes is not None:
                    notes.append(f"{entry.model}: {key} not checked (no machine to measure it "
                                 "on)")  # fmt: skip
                continue
            allowed = limit * (1 + latency_tolerance)
            results.append(MEASURED_LIMITS[key](here, entry, limit, allowed))
    if notes is not None:
        notes += _profile_notes([e.predict_for for e in entries], columns)
    return results


def run_check(
    path: Path,
    tolerance: float,
    latency_tolerance: float = 0.10,
    machine: Callable[[], Machine] | None = None,
    notes: list[str] | None = None,
    *,
    update: bool = False,
    changes: list[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[CheckResult]:
    """Recount every model named in a baseline (.json) or budget (.yaml) file, validated whole
    first. Latency entries are measured with ``machine`` (given only when latency may be
    measured); a baseline's latency measured on another device or thread count is skipped, and
    a note says so. ``update``: the baseline is rewritten with today's figures (locked against
    other updaters, replaced atomically), and ``changes`` lists what changed. ``timeout``: the
    seconds each stage of an outside model's code may take, where an entry gives none."""
    notes = [] if notes is None else notes
    for name, value in (("--tolerance", tolerance), ("--latency-tolerance", latency_tolerance)):
        if not 0 <= value < math.inf:
            raise OptionError(f"{name} {value:g}: must be a finite fraction ≥ 0")
    if path.suffix not in (".json", ".yaml", ".yml"):
        raise OptionError(f"{path}: expected a baseline .json or a budget .yaml")
    if not files.exists(path, "check"):
        raise OptionError(f"{path}: no such file")
    if path.suffix != ".json":
        if update:
            raise OptionError("--update rewrites a baseline .json; edit a budget .yaml by hand")
        return check_budgets(
            read_budgets(path, timeout), tolerance, latency_tolerance, machine, notes
        )
    if not update:
        baseline = read_baseline(path, timeout)
        return compare_baseline(recount(baseline, machine, notes), tolerance, latency_tolerance)
    results: list[CheckResult] = []

    def change(content: bytes) -> bytes:
        baseline = _baseline_from(content, path, timeout)
        recounts = recount(baseline, machine, notes)
        results.extend(compare_baseline(recounts, tolerance, latency_tolerance))
        document, changed = updated(baseline, recounts)
        if changes is not None:
            changes.extend(changed)
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    files.update(path, change, "--update")
    return results
