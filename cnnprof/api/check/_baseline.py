"""A baseline checked: every entry counted again (and timed again where its latency can be
compared here), compared with what it recorded, and, for ``check --update``, the baseline
document with today's figures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cnnprof.api.check._counting import (
    completeness,
    counted,
    counted_with,
    counts,
    entry_request,
    guarded,
    latency_ratio,
    ms_result,
    predicted_on,
    profile_notes,
    ratio_result,
)
from cnnprof.api.check._documents import (
    Baseline,
    BaselineEntry,
    LatencyRecord,
    latency_entry,
    ratio_entry,
)
from cnnprof.api.latency import Machine
from cnnprof.errors import CheckFileError, OptionError
from cnnprof.results.check import CheckResult
from cnnprof.results.device import DESCRIBING, PROFILE_HASH
from cnnprof.results.interleaved import LatencyRatio
from cnnprof.results.metrics import PREDICTED
from cnnprof.results.tables import Column
from cnnprof.results.timing import Timing
from cnnprof.version import __version__


@dataclass(frozen=True)
class Recount:
    """One baseline entry counted again (and timed again where it can be compared)."""

    entry: BaselineEntry
    column: Column  # counted, and predicted where the baseline records a prediction
    timing: Timing | None
    ratio: LatencyRatio | None = None  # when the baseline's latency was taken with a reference


def recount(
    baseline: Baseline,
    machine: Callable[[], Machine] | None,
    notes: list[str],
    failed: list[tuple[str, str]] | None = None,
) -> list[Recount]:
    """Every entry counted with its own settings, and predicted for its device profile where
    it records a prediction (a note when that profile is not the calibration it recorded);
    latency measured where it was recorded on this device with this thread count (otherwise a
    note says why it is not). An entry whose model fails goes to ``failed`` (one line; raised
    without it), and the others are recounted."""
    out = []
    here: list[Machine] = []  # made once, on the first entry that measures
    for entry in baseline.entries:
        with guarded(entry.model, failed):
            out.append(_recounted(entry, machine, here, notes))
    predicted = [r.entry.predict_for for r in out]
    notes += profile_notes(predicted, [r.column for r in out])
    return out


def _recounted(
    entry: BaselineEntry,
    machine: Callable[[], Machine] | None,
    here: list[Machine],
    notes: list[str],
) -> Recount:
    column = counted(entry.model, entry.settings, entry.predict_for)
    notes += _recalibrated(entry)
    timing = ratio = None
    if entry.latency is not None and machine is None:
        notes.append(f"{entry.model}: latency not measured (no machine to measure it on)")
    elif entry.latency is not None and machine is not None:
        here[:] = here or [machine()]
        timing, ratio = _timed(entry, entry.latency, here[0], notes)
    return Recount(entry, column, timing, ratio)


def _timed(
    entry: BaselineEntry, record: LatencyRecord, here: Machine, notes: list[str]
) -> tuple[Timing | None, LatencyRatio | None]:
    """An entry's latency measured again, alone or as a ratio to its reference, as it was
    recorded; nothing (and a note) where the thread count differs, or the machine does and no
    reference rides along to cancel it."""
    if record.runtime != entry.settings.runtime:
        notes.append(
            f"{entry.model}: latency skipped: the baseline was measured under "
            f"{record.runtime}, the entry's runtime is {entry.settings.runtime}"
        )
        return None, None
    name = here.device_name(record.device)
    moved = record.device_name != name
    if here.chosen and record.threads != here.threads:
        raise OptionError(
            f"check --threads {here.threads}: the baseline's latency of {entry.model} was "
            f"recorded at {record.threads} threads; give --threads {record.threads}, or record "
            f"it again with `cnnprof snapshot --latency --threads {here.threads}`"
        )
    if record.threads != here.threads or (moved and record.reference is None):
        notes.append(
            f"{entry.model}: latency skipped: the baseline was measured on "
            f"{record.device_name} with {record.threads} threads, this is "
            f"{name} with {here.threads}"
        )
        return None, None
    if record.reference is None:
        req = entry_request(entry.model, entry.settings)
        return here.measure(req, record.device, record.runtime), None
    if moved:
        notes.append(
            f"{entry.model}: latency ratio to {record.reference} compared "
            f"across machines: the baseline's was measured on "
            f"{record.device_name}, this is {name}"
        )
    ratio = latency_ratio(
        here, entry.model, entry.settings, record.reference, record.device, record.timeout
    )
    return None, ratio


def unchanged_profiles(baseline: Baseline) -> list[str]:
    """`CheckFileError` for an entry whose device profile's content is not the one its baseline
    recorded (`PROFILE_HASH`: the file replaced, or the name edited to another profile); a note
    for each entry recorded before baselines kept it, checked as before."""
    notes = []
    for index, entry in enumerate(baseline.entries, start=1):
        if entry.predict_for is None:
            continue
        recorded, name = entry.raw["prediction"].get(PROFILE_HASH), entry.predict_for.name
        if recorded is None:
            notes.append(
                f"{entry.model}: {PREDICTED}: the baseline records no {PROFILE_HASH} of device "
                f"profile {name}: its content is not verified; `check --update` records it"
            )
        elif recorded != entry.predict_for.content_hash:
            raise CheckFileError(
                f"{baseline.path}: entry {index} ({entry.model}): field "
                f"'prediction.{PROFILE_HASH}': device profile {name}: the profile changed since "
                "this baseline: re-snapshot or --update"
            )
    return notes


def _recalibrated(entry: BaselineEntry) -> list[str]:
    """A note when the device profile an entry names now holds another calibration than the
    one its prediction was recorded with: the figures compare two calibrations."""
    if entry.predict_for is None:
        return []
    then, now = dict(entry.raw["prediction"]), entry.predict_for.record()
    named = [k for k in now if k not in ("device_profile", *DESCRIBING)]
    changed = [k for k in named if then.get(k) != now[k]]
    if not changed:
        return []
    differences = ", ".join(f"{k} {then.get(k)} → {now[k]}" for k in changed)
    return [
        f"{entry.model}: {PREDICTED}: device profile {entry.predict_for.name} is not the "
        f"calibration the baseline was predicted with ({differences}); "
        "`check --update` records this one"
    ]


def compare_baseline(
    recounts: Sequence[Recount], tolerance: float, latency_tolerance: float
) -> list[CheckResult]:
    """Each recount against what its entry recorded: counts within ``tolerance``, latency
    within ``latency_tolerance``."""
    results = []
    for r in recounts:
        model = r.entry.model
        mine = completeness(model, r.column.profile, r.entry.settings.allow_incomplete)
        now = counts(r.column)
        for metric, before in r.entry.counts:
            on = predicted_on(metric, r.entry.predict_for)
            limit = before * (1 + tolerance)
            mine.append(
                CheckResult(
                    model, metric, before, now[metric], limit, "baseline", device_profile=on
                )
            )
        record = r.entry.latency
        if r.timing is not None and record is not None:
            before = record.median_ms
            limit = before * (1 + latency_tolerance)
            mine.append(ms_result(model, "baseline", before, r.timing, limit))
        if r.ratio is not None and record is not None and record.ratio is not None:
            before = record.ratio
            limit = before * (1 + latency_tolerance)
            mine.append(ratio_result(model, "baseline", before, r.ratio, limit))
        results += counted_with(mine, r.entry.settings)
    return results


def updated(baseline: Baseline, recounts: Sequence[Recount]) -> tuple[dict[str, Any], list[str]]:
    """The baseline with today's figures: each entry keeps its settings and every key but the
    counts it checks and the latency re-measured here; (new document, what changed)."""
    models, changes = [], []
    for r in recounts:
        entry = dict(r.entry.raw)
        if r.entry.predict_for is not None:
            entry["prediction"] = {**entry["prediction"], **r.entry.predict_for.baseline_record()}
        entry["counts"] = dict(entry["counts"])
        now = counts(r.column)
        for metric, before in r.entry.counts:
            entry["counts"][metric] = now[metric]
            if now[metric] != before:
                changes.append(
                    f"{r.entry.model} {metric}: {_shown(before)} → {_shown(now[metric])}"
                )
        changes += _new_latency(r, entry)
        models.append(entry)
    return {**baseline.raw, "cnnprof": __version__, "models": models}, changes


def _new_latency(r: Recount, entry: dict[str, Any]) -> list[str]:
    """The latency measured again written into ``entry``; what changed."""
    record, changes = r.entry.latency, []
    if r.timing is not None and record is not None:
        fresh = latency_entry(r.timing)
        entry["latency"] = {**entry["latency"], **fresh}
        if fresh["median_ms"] != record.median_ms:
            changes.append(
                f"{r.entry.model} latency_ms: {record.median_ms:g} → {fresh['median_ms']:g}"
            )
    if r.ratio is not None and record is not None:
        fresh = ratio_entry(r.ratio)
        entry["latency"] = {**entry["latency"], **fresh}
        if fresh["ratio"] != record.ratio:
            changes.append(f"{r.entry.model} latency_ratio: {record.ratio:g} → {fresh['ratio']:g}")
    return changes


def _shown(value: float) -> str:
    """A figure as it changed, every digit kept (1,814,073,856, not 1.81407e+09)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"
