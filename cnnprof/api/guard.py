"""Regression guards: snapshots of counts, budgets, and the check that compares a recount with them.

Pure data in and out: the CLI prints the results and turns a failure into exit code 1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from cnnprof.api.count import profile_analytic
from cnnprof.api.latency import Machine
from cnnprof.api.request import request
from cnnprof.errors import OptionError, SpecError
from cnnprof.results.check import CheckResult
from cnnprof.results.metrics import BASELINE_COUNTS, BUDGET_KEYS, METRICS
from cnnprof.results.profile import Profile
from cnnprof.results.tables import Column
from cnnprof.results.timing import Timing
from cnnprof.spec.reference import is_outside
from cnnprof.version import __version__

SNAPSHOT_SCHEMA = "cnnprof.snapshot/1"
COUNT_NAMES = {key: name for name, key in BASELINE_COUNTS.items()}  # how checks name a metric
ENTRY_KEYS = ("model", "batch", "dtype", "tolerance", "source", "device", "args", "input",
              "allow_incomplete", *BUDGET_KEYS)  # fmt: skip


def parse_tolerance(text: str) -> float:
    """``"0.5%"`` → 0.005; ``"0.01"`` → 0.01. Negative or malformed → OptionError."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%?)\s*", text)
    if not match:
        raise OptionError(f"--tolerance {text}: expected a percentage ≥ 0, e.g. 0.5%")
    value = float(match.group(1))
    return value / 100 if match.group(2) else value


def measure(
    model: str, batch: int = 1, dtype: str = "float32", args: Mapping[str, Any] | None = None,
    input: Sequence[Any] | None = None,
) -> Profile:  # fmt: skip
    """The default profile of a model reference (registry name, variant reference, outside);
    ``args`` and ``input`` go to an outside model's factory and forward."""
    shapes = None if input is None else tuple(tuple(s) if isinstance(s, list) else s
                                              for s in input)  # fmt: skip
    return profile_analytic(request(model, batch=batch, dtype=dtype, args=args, input=shapes))


def _measure_entry(entry: Mapping[str, Any]) -> Profile:
    """An entry's model recounted; its ``args`` and ``input`` are an outside model's."""
    model = entry["model"]
    own = (entry.get("args"), entry.get("input")) if is_outside(model) else (None, None)
    return measure(model, entry.get("batch", 1), entry.get("dtype", "float32"), *own)


def completeness(model: str, profile: Profile, allowed: bool) -> list[CheckResult]:
    """A failing result for an incomplete count (its missing items against none allowed),
    unless the entry allows it; nothing when the count is complete."""
    if profile.complete:
        return []
    missing = len(profile.missing)
    return [CheckResult(model, "missing", 0, missing, missing if allowed else 0, "complete")]


def snapshot_entry(
    model: str, profile: Profile, timing: Timing | None = None,
    args: Mapping[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    entry: dict[str, Any] = {
        "model": model,
        "input": profile.input.as_list(),
        "batch": profile.batch,
        "dtype": profile.dtype,
        "counts": {name: _count(profile, key) for name, key in BASELINE_COUNTS.items()},
    }
    if profile.inputs:  # an outside model: what it is called with, recounted the same way
        entry["input"] = [list(s) for s in profile.inputs]
    if args:
        entry["args"] = dict(args)
    if timing is not None:
        entry["latency"] = latency_entry(timing)
    return entry


def _count(profile: Profile, key: str) -> float:
    value = METRICS[key].get(Column(profile.model, profile))
    if value is None:
        raise ValueError(f"metric {key} is not read off a profile")
    return value


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


def snapshot(
    models: Sequence[str],
    batch: int = 1,
    dtype: str = "float32",
    measure_latency: Callable[[str], Timing] | None = None,
    args: Mapping[str, Any] | None = None,
    input: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """A versioned baseline; ``measure_latency(model)`` adds a latency entry per model;
    ``args`` and ``input`` go to the outside models among ``models``."""
    entries = []
    for model in models:
        timing = measure_latency(model) if measure_latency else None
        own = (args, input) if is_outside(model) else (None, None)
        profile = measure(model, batch, dtype, *own)
        entries.append(snapshot_entry(model, profile, timing, own[0]))
    return {"schema": SNAPSHOT_SCHEMA, "cnnprof": __version__, "models": entries}


def read_baseline(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OptionError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
    if not isinstance(data, dict) or data.get("schema") != SNAPSHOT_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise SpecError(f"{path}: schema {found!r} is not {SNAPSHOT_SCHEMA!r}; recreate it with "
                        "`cnnprof snapshot`")  # fmt: skip
    models = data.get("models")
    ok = isinstance(models, list) and all(
        isinstance(m, dict)
        and isinstance(m.get("model"), str)
        and isinstance(m.get("counts"), dict)
        for m in models
    )
    if not ok:
        raise SpecError(f"{path}: 'models' must be a list of {{model, counts}} entries")
    return data


def check_baseline(
    data: Mapping[str, Any],
    tolerance: float,
    latency_tolerance: float = 0.10,
    machine: Callable[[], Machine] | None = None,
    notes: list[str] | None = None,
) -> list[CheckResult]:
    """Recount a baseline's models; latency skipped on another device is said in ``notes``."""
    notes = [] if notes is None else notes
    results = []
    here: Machine | None = None
    for entry in data["models"]:
        profile = _measure_entry(entry)
        results += completeness(entry["model"], profile, bool(entry.get("allow_incomplete")))
        for metric, before in entry["counts"].items():
            if metric not in BASELINE_COUNTS or not isinstance(before, (int, float)):
                continue
            after = _count(profile, BASELINE_COUNTS[metric])
            results.append(
                CheckResult(
                    entry["model"], metric, before, after, before * (1 + tolerance), "baseline"
                )
            )
        latency = entry.get("latency")
        if not isinstance(latency, dict) or machine is None:
            continue
        here = here or machine()
        device = str(latency.get("device", "cpu"))
        name = here.device_name(device)
        if (latency.get("device_name"), latency.get("threads")) != (name, here.threads):
            notes.append(
                f"{entry['model']}: latency skipped: the baseline was measured on "
                f"{latency.get('device_name')} with {latency.get('threads')} threads, this is "
                f"{name} with {here.threads}"
            )
            continue
        timing = here.measure(entry["model"], device)
        before = float(latency["median_ms"])
        results.append(CheckResult(entry["model"], "latency_ms", before, timing.median * 1e3,
                              before * (1 + latency_tolerance), "baseline"))  # fmt: skip
    return results


def read_budgets(path: Path) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OptionError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    entries = data.get("models") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise SpecError(f"{path}: expected 'models:' with a list of budget entries")
    for i, entry in enumerate(entries, 1):
        where = f"{path}: entry {i}"
        if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
            raise SpecError(f"{where}: expected a mapping with 'model: NAME'")
        unknown = sorted(set(entry) - set(ENTRY_KEYS))
        if unknown:
            raise SpecError(
                f"{where}: unknown field '{unknown[0]}'; allowed: {', '.join(ENTRY_KEYS)}"
            )
        if "tolerance" in entry:
            entry["tolerance"] = parse_tolerance(str(entry["tolerance"]))
        if not isinstance(entry.get("args", {}), dict) or not isinstance(entry.get("input", []),
                                                                         list):  # fmt: skip
            raise SpecError(f"{where}: 'args' is a mapping of factory arguments, 'input' a list "
                            "of sizes ([3, 224, 224]) or of such lists")  # fmt: skip
        limits = [k for k in BUDGET_KEYS if k in entry]
        if not limits:
            raise SpecError(f"{where}: no limit; give any of {', '.join(BUDGET_KEYS)}")
        for key in limits:
            value = entry[key]
            if isinstance(value, str):
                value = _number(value, f"{where}: field '{key}'")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise SpecError(f"{where}: field '{key}': expected a number > 0, got {value!r}")
            entry[key] = value
    return entries


def _number(text: str, where: str) -> float:
    """``"4.3M"``, ``"600e6"``, ``"1.5G"`` → a number."""
    match = re.fullmatch(r"\s*([0-9.eE+-]+)\s*([KMGT]?)\s*", text)
    if not match:
        raise SpecError(f"{where}: expected a number like 4.3M or 600e6, got {text!r}")
    try:
        value = float(match.group(1))
    except ValueError:
        raise SpecError(f"{where}: expected a number like 4.3M or 600e6, got {text!r}") from None
    return value * {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[match.group(2)]


def check_budgets(
    entries: Sequence[Mapping[str, Any]],
    tolerance: float,
    latency_tolerance: float = 0.10,
    machine: Callable[[], Machine] | None = None,
) -> list[CheckResult]:
    results = []
    here: Machine | None = None
    for entry in entries:
        profile = _measure_entry(entry)
        results += completeness(entry["model"], profile, bool(entry.get("allow_incomplete")))
        slack = 1 + entry.get("tolerance", tolerance)
        for key, metric in BUDGET_KEYS.items():
            if key in entry and metric != "latency_ms":
                limit, after = entry[key], _count(profile, metric)
                name = COUNT_NAMES[metric]
                result = CheckResult(entry["model"], name, limit, after, limit * slack, "budget")
                results.append(result)
        if "max_latency_ms" in entry and machine is not None:
            here = here or machine()
            timing = here.measure(entry["model"], entry.get("device", "cpu"))
            limit = entry["max_latency_ms"]
            results.append(CheckResult(entry["model"], "latency_ms", limit, timing.median * 1e3,
                                  limit * (1 + latency_tolerance), "budget"))  # fmt: skip
    return results


def run_check(
    path: Path,
    tolerance: float,
    latency_tolerance: float = 0.10,
    machine: Callable[[], Machine] | None = None,
    notes: list[str] | None = None,
) -> list[CheckResult]:
    """Recount every model named in a baseline (.json) or budget (.yaml) file. Latency entries
    are measured with ``machine`` (given only when latency may be measured); a baseline's latency
    measured on another device or thread count is skipped, and a note says so."""
    for name, value in (("--tolerance", tolerance), ("--latency-tolerance", latency_tolerance)):
        if value < 0:
            raise OptionError(f"{name} {value:g}: must be ≥ 0")
    if not path.exists():
        raise OptionError(f"{path}: no such file")
    if path.suffix == ".json":
        data = read_baseline(path)
        return check_baseline(data, tolerance, latency_tolerance, machine, notes)
    if path.suffix in (".yaml", ".yml"):
        return check_budgets(read_budgets(path), tolerance, latency_tolerance, machine)
    raise OptionError(f"{path}: expected a baseline .json or a budget .yaml")
