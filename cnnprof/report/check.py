"""`cnnprof check` results as data for other programs: JSON, CSV and Markdown (`present`)."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cnnprof.arch.reference import literal
from cnnprof.report.processes import between_note, process_record, range_text
from cnnprof.report.separable import failed_record
from cnnprof.report.text import to_csv, to_json, to_markdown
from cnnprof.report.units import UNIT_FORMATS, human, threads
from cnnprof.report.view import View
from cnnprof.results.check import CheckReport, CheckResult, Settings
from cnnprof.results.metrics import METRICS, PREDICTED
from cnnprof.results.timing import TORCH, Timing

# `reference`: the baseline's value, or the budget itself; `value`: today's count; `limit`: the
# largest value that passes (reference plus tolerance). All numbers, in the metric's unit. A
# measured value (latency) also has its p10–p90 spread and says when that spread holds the limit
# (`undecided`); a latency ratio names the model it was measured against and both medians; a
# predicted latency names the device profile it was predicted for.
CHECK_COLUMNS = (
    "model",
    "metric",
    "kind",
    "reference",
    "value",
    "limit",
    "delta",
    "status",
    "value_p10",
    "value_p90",
    "undecided",
    "against",
    "model_median_ms",
    "model_p10_ms",
    "model_p90_ms",
    "against_median_ms",
    "against_p10_ms",
    "against_p90_ms",
    "rounds",
    "device_profile",
)
# A measured result's columns besides: how it was measured (threads, fresh processes, their
# medians' range in the metric's unit); a check that measured nothing writes none of them.
MEASURED_COLUMNS = ("threads", "processes", "between_min", "between_max", "between_exceeds_within")


def _number(x: float) -> float | int:
    """A parsed budget such as 4.1G (4099999999.9999995 in binary) as the number it names."""
    rounded = round(float(x), 6)
    return int(rounded) if rounded.is_integer() else rounded


def _ms(timing: Timing | None, name: str) -> float | None:
    return None if timing is None else round(getattr(timing, name) * 1e3, 4)


def check_records(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    out = []
    for r in results:
        low, high = r.spread or (None, None)
        mine = r.ratio.model_timing if r.ratio else None
        other = r.ratio.reference_timing if r.ratio else None
        out.append(
            {
                "model": r.model,
                "metric": r.metric,
                "kind": r.kind,
                "reference": _number(r.before),
                "value": _number(r.after),
                "limit": _number(r.limit),
                "delta": round(r.delta, 6),
                "status": "ok" if r.ok else "FAIL",
                "value_p10": None if low is None else _number(low),
                "value_p90": None if high is None else _number(high),
                "undecided": r.undecided,
                "against": r.ratio.reference if r.ratio else None,
                **{f"model_{q}_ms": _ms(mine, q) for q in ("median", "p10", "p90")},
                **{f"against_{q}_ms": _ms(other, q) for q in ("median", "p10", "p90")},
                "rounds": r.ratio.rounds if r.ratio else None,
                "device_profile": r.device_profile,
                **_measured(r),
            }
        )
    return out


def _measured(result: CheckResult) -> dict[str, Any]:
    """How a measured result was measured: its threads and processes, and for a latency in
    ms the range of its processes' medians (nothing for a count or a prediction)."""
    timing = result.timing or (result.ratio.model_timing if result.ratio else None)
    if timing is None:
        return {}
    record = process_record(timing, "ms", digits=4)
    timed = result.timing is not None
    return {
        "threads": timing.threads,
        "processes": timing.processes,
        "between_min": record["between_min_ms"] if timed else None,
        "between_max": record["between_max_ms"] if timed else None,
        "between_exceeds_within": record["between_exceeds_within"] if timed else None,
    }


def _csv(results: Sequence[CheckResult]) -> str:
    """One row per result; the measured columns only when something was measured."""
    records = check_records(results)
    measured = any(MEASURED_COLUMNS[0] in r for r in records)
    return to_csv(records, CHECK_COLUMNS + (MEASURED_COLUMNS if measured else ()))


def check_dict(results: Sequence[CheckResult]) -> dict[str, Any]:
    return {
        "schema": "cnnprof.check/1",
        "passed": all(r.ok for r in results),
        "results": check_records(results),
    }


def status(result: CheckResult) -> str:
    """ "ok" or "FAIL", with "(undecided)" where the measured spread holds the limit."""
    word = "ok" if result.ok else "FAIL"
    return f"{word} (undecided)" if result.undecided else word


def _spread_ms(timing: Timing) -> str:
    return f"{timing.median * 1e3:.3g} ms (p10–p90 {timing.p10 * 1e3:.3g}–{timing.p90 * 1e3:.3g})"


def _how(timing: Timing) -> str:
    """``measured at 2 threads`` (and the processes' range when timed in several)."""
    fresh = f", {range_text(timing)}" if timing.processes > 1 else ""
    return f"measured at {threads(timing.threads)}{fresh}"


def measured_notes(results: Sequence[CheckResult]) -> list[str]:
    """A sentence per measured result that the table cannot hold: a ratio's two medians and
    spreads, and a verdict the spread leaves undecided."""
    notes = []
    for r in results:
        if r.timing is not None:
            notes.append(f"{r.model}: {r.metric} {_how(r.timing)}")
            notes += [n for n in (between_note(r.timing),) if n]
        if r.ratio is not None:
            q = r.ratio
            notes.append(
                f"{r.model}: latency ratio to {q.reference} {q.median:.4g} (p10–p90 "
                f"{q.p10:.4g}–{q.p90:.4g} over {q.rounds} interleaved rounds): "
                f"{_spread_ms(q.model_timing)} against {_spread_ms(q.reference_timing)}, "
                f"{_how(q.model_timing)}"
            )
        if r.undecided and r.spread is not None:
            low, high = r.spread
            verdict = "passes" if r.ok else "fails"
            notes.append(
                f"{r.model} {r.metric}: undecided: its p10–p90 {low:.4g}–{high:.4g} holds the "
                f"limit {r.limit:.4g}; judged by its median {r.after:.4g} it {verdict}, and "
                "another run may judge it the other way"
            )
    return notes


def figure(result: CheckResult, value: float) -> str:
    """A check's figure as `count` shows its metric: bytes in KiB/MiB, everything else
    as a number (568.74 M, 0.5, 16.1693)."""
    metric = METRICS.get(result.metric)
    return UNIT_FORMATS["bytes"](value) if metric and metric.unit == "bytes" else human(value)


@dataclass(frozen=True)
class NextStep:
    """What to do after a failure: a sentence, and the command it names (None: an edit)."""

    text: str
    command: str | None = None


def _options(settings: Settings | None) -> list[str]:
    """The options that count an entry's model as the check did (its batch, dtype, input and
    factory arguments), where they differ from the defaults."""
    s = settings or Settings()
    out = ["--batch", str(s.batch)] if s.batch != 1 else []
    out += ["--dtype", s.dtype] if s.dtype != "float32" else []
    for shape in s.input or ():
        out += ["--input", ",".join(map(str, shape))]
    for name, value in (s.args or {}).items():
        out += ["--arg", f"{name}={_argument(value)}"]
    return out


def _argument(value: Any) -> str:
    """A factory argument as `--arg` reads it back: text as itself where it reads as text,
    anything else (and text such as "10") as its Python literal."""
    return value if isinstance(value, str) and literal(value) == value else repr(value)


def _quoted(word: str) -> str:
    """``word`` as a shell reads it back, in double quotes where it holds single ones and
    nothing a double-quoted word expands (``"name='10'"`` rather than shlex's ``'name='"'"'…``)."""
    if "'" in word and not any(c in word for c in '"$`\\!'):
        return f'"{word}"'
    return shlex.quote(word)


def _count_again(r: CheckResult) -> list[str]:
    return ["count", r.model, "--layers"]


def _how_timed(r: CheckResult) -> list[str]:
    """The runtime (when not torch eager) and threads a measured latency was timed with."""
    runtime = (r.settings or Settings()).runtime
    timing = r.timing or (r.ratio.model_timing if r.ratio else None)
    out = ["--runtime", runtime] if runtime != TORCH else []
    return out + (["--threads", str(timing.threads)] if timing is not None else [])


def _time_again(r: CheckResult) -> list[str]:
    return ["latency", r.model, "--layers", *_how_timed(r)]


def _ratio_again(r: CheckResult) -> list[str]:
    """A latency ratio is shown by the comparison that measures both models interleaved."""
    reference = [r.ratio.reference] if r.ratio else []
    return ["compare", r.model, *reference, "--latency", *_how_timed(r)]


def _predict_again(r: CheckResult) -> list[str]:
    return ["latency", r.model, "--device-profile", r.device_profile or "", "--layers"]


# A failed metric → the command that shows where it grew, row by row (a count, the default).
_WHERE: Mapping[str, Callable[[CheckResult], list[str]]] = MappingProxyType(
    {"latency_ms": _time_again, "latency_ratio": _ratio_again, PREDICTED: _predict_again}
)
# A failure's kind of reference → what to do when the growth is intended (given the file).
_INTENDED: Mapping[str, Callable[[str], NextStep]] = MappingProxyType(
    {
        "baseline": lambda source: NextStep(
            "if the growth is intended, record it", f"cnnprof check {_quoted(source)} --update"
        ),
        "budget": lambda source: NextStep(
            f"if the growth is intended, raise its limit in {source}"
        ),
        "complete": lambda source: NextStep(
            f"if an incomplete count is expected, give its entry allow_incomplete: true in {source}"
        ),
    }
)


def next_steps(report: CheckReport) -> list[NextStep]:
    """After a failure: for each failed model, the command that shows where it grew (with the
    entry's own options, so it counts the model the check counted), and what to do when the
    growth is intended; nothing when every metric holds or ``--update`` recorded the figures."""
    failed = [r for r in report.results if not r.ok]
    if report.updated or not failed:
        return []
    where: dict[str, NextStep] = {}
    for r in failed:
        words = ["cnnprof", *_WHERE.get(r.metric, _count_again)(r), *_options(r.settings)]
        command = " ".join(map(_quoted, words))
        what = "what its count misses" if r.metric == "missing" else "where it grew"
        where.setdefault(command, NextStep(f"to see {what}", command))
    intended = {r.kind: _INTENDED[r.kind](report.source) for r in failed}
    again = [NextStep("undecided: no metric grew clearly; run the check again (exit 4)")]
    return [*where.values(), *intended.values(), *(again if report.undecided else [])]


def step_text(step: NextStep, code: str = "") -> str:
    """A next step as a line: the sentence, and its command (between ``code`` marks)."""
    return step.text if step.command is None else f"{step.text}: {code}{step.command}{code}"


def verdict(results: Sequence[CheckResult], errors: Sequence[str] = ()) -> str:
    """The check's verdict in words: how many metrics failed, and entries not checked."""
    failed = sum(not r.ok for r in results)
    said = (
        f"{failed} of {len(results)} metrics over their limit"
        if failed
        else f"all {len(results)} metrics hold"
    )
    if not errors:
        return said
    return f"{said}; {len(errors)} {'entry' if len(errors) == 1 else 'entries'} not checked"


def check_markdown(results: Sequence[CheckResult], errors: Sequence[str] = ()) -> str:
    """The md table under its verdict, and a line per entry not checked."""
    mark = "✅" if not errors and all(r.ok for r in results) else "❌"
    head = f"**cnnprof check: {verdict(results, errors)}** {mark}\n\n"
    rows = [
        (
            r.model,
            r.label,
            figure(r, r.before),
            figure(r, r.after),
            f"{100 * r.delta:+.2f} %",
            figure(r, r.limit),
            status(r) if r.ok else f"**{status(r)}**",
        )
        for r in results
    ]
    headers = ("model", "metric", "before / limit", "after", "delta", "allowed", "status")
    unchecked = "".join(f"\n**not checked:** {line}\n" for line in errors)
    return head + to_markdown(headers, rows, right=2) + unchecked


def notes(report: CheckReport) -> list[str]:
    """The check's own notes, then a sentence per measured result that the table cannot hold."""
    return [*report.notes, *measured_notes(report.results)]


def report_dict(report: CheckReport) -> dict[str, Any]:
    """A check's JSON document: its results, the entries that could not be checked, and its
    notes (`cnnprof.to_dict` of a report)."""
    found = check_dict(report.results)
    failed = failed_record(report.failed)
    return {**found, "passed": report.passed, **failed, "notes": notes(report)}


def changed(report: CheckReport) -> str:
    """What ``check --update`` says it did: the figures it changed, one a line."""
    head = f"updated {report.source}: {len(report.changes) or 'no'} figure(s) changed"
    return "\n".join([head, *(f"  {line}" for line in report.changes)])


# Each format a check is written in as text → its writer (the table is drawn by `render.check`).
WRITERS: Mapping[str, Callable[[CheckReport], str]] = MappingProxyType(
    {
        "json": lambda report: to_json(report_dict(report)),
        "csv": lambda report: _csv(report.results),
        "md": lambda report: (
            check_markdown(report.results, report.errors)
            + "".join(f"\n{step_text(step, '`')}\n" for step in next_steps(report))
            + "".join(f"\n> {n}\n" for n in notes(report))
        ),
    }
)


def present(report: CheckReport, view: View) -> str:
    """A check's report in ``view.format`` (json, csv or md)."""
    writer = WRITERS.get(view.format)
    if writer is None:
        raise ValueError(f"format {view.format!r}: a check's table is drawn by render.check")
    return writer(report)
