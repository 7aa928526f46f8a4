"""--processes N: a latency timed in N fresh worker processes (pyperf's answer to a spread one
process does not show; issue 24: three fresh runs of one model at 2 threads gave medians 21.5,
27.9 and 16.5 ms, each run's p10–p90 excluding the others), and --threads on every command that
measures. Fast tests use fake workers and fake machines; one tiny real run goes through the CLI."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from conftest import assert_error, run
from test_latency_ratio import _timing

from cnnprof.api import worker
from cnnprof.api.check import _documents as documents
from cnnprof.api.latency import Machine
from cnnprof.api.request import Request, request
from cnnprof.errors import CheckFileError, LoadError, OptionError, OutOfTime
from cnnprof.report.check import check_records, measured_notes
from cnnprof.report.processes import between_note, measured_title
from cnnprof.results.check import CheckResult
from cnnprof.results.interleaved import Interleaved, LatencyRatio
from cnnprof.results.timing import (
    DEFAULT_PROCESSES,
    MAX_PROCESSES,
    Deadline,
    LatencySettings,
    Timing,
    pooled,
    process_record,
)

# --- the settings ----------------------------------------------------------------------------


def test_one_process_is_the_default_and_one_constant():
    assert DEFAULT_PROCESSES == 1
    assert LatencySettings().processes == DEFAULT_PROCESSES


@pytest.mark.parametrize("count", [0, -1, MAX_PROCESSES + 1])
def test_a_process_count_out_of_range_is_refused(count: int):
    with pytest.raises(OptionError, match=f"--processes {count}: expected 1 to {MAX_PROCESSES}"):
        LatencySettings(processes=count)


def test_per_row_times_come_from_one_process():
    with pytest.raises(
        OptionError, match=r"--processes 2: per-row times \(--layers, --by op\) come from one"
    ):
        LatencySettings(processes=2, layers=True)
    assert LatencySettings(processes=1, layers=True).layers


# --- the arithmetic: the median of the medians, the range between processes -------------------

# The three fresh runs (ms): medians 21.5, 27.9, 16.5, each with a p10–p90 of about 2 ms.
RUNS = (
    [20.5, 21.0, 21.5, 22.0, 22.5],
    [26.9, 27.4, 27.9, 28.4, 28.9],
    [15.5, 16.0, 16.5, 17.0, 17.5],
)


def _fresh() -> Timing:
    return pooled([_timing("m", [s / 1e3 for s in run]) for run in RUNS])


def test_the_median_is_the_median_of_the_process_medians_and_the_runs_are_pooled():
    t = _fresh()
    assert t.process_medians == pytest.approx((0.0215, 0.0279, 0.0165))
    assert t.median == pytest.approx(0.0215)
    assert t.runs == 15
    assert t.processes == 3
    assert (t.between_min, t.between_max) == pytest.approx((0.0165, 0.0279))
    assert t.warmup_runs == 3  # one each


def test_a_range_wider_than_one_process_spread_says_so():
    t = _fresh()
    assert t.within_width == pytest.approx(0.0016)  # the median of the three p10–p90 widths
    assert t.between_exceeds_within
    note = between_note(t)
    assert note == (
        "m: the medians of 3 fresh processes ranged 16.500–27.900 ms, wider than one "
        "process's p10–p90 (1.600 ms): one run's spread understates the next run's"
    )
    record = process_record(t)
    assert record["processes"] == 3
    assert record["between_exceeds_within"] is True
    assert record["process_medians_s"] == pytest.approx([0.0215, 0.0279, 0.0165])


def test_processes_that_agree_raise_no_flag_and_one_process_has_no_range():
    agree = pooled([_timing("m", [0.010, 0.011, 0.012, 0.013]) for _ in range(3)])
    assert not agree.between_exceeds_within
    assert between_note(agree) is None
    one = _timing("m", [0.010, 0.012])
    assert one.processes == 1 and not one.between_exceeds_within
    record = process_record(one, "ms", "latency_")
    assert record == {
        "latency_processes": 1,
        "latency_process_medians_ms": [],
        "latency_between_min_ms": None,
        "latency_between_max_ms": None,
        "latency_between_exceeds_within": None,
    }


def test_a_title_names_the_threads_and_processes():
    assert measured_title([None, _fresh()]) == " · latency at 2 threads, 3 processes"
    assert measured_title([_timing("a", [1.0], threads=1)]) == " · latency at 1 thread"
    assert measured_title([None]) == ""


# --- the rounds: fresh workers interleaved across models -------------------------------------


class FakeWorkers:
    """Workers that measure nothing: each returns a timing of the model at the next median, and
    records who asked with which settings."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, LatencySettings]] = []

    def __call__(self, req: Request, settings: LatencySettings, needs: str) -> Timing:
        self.asked.append((req.label, settings))
        median = 0.001 * len(self.asked)
        return _timing(req.label, [median * 0.9, median, median * 1.1])


def test_workers_take_turns_round_by_round_each_with_a_share_of_the_budget():
    fake, progress = FakeWorkers(), []
    requests = [request("lenet5"), request("resnet18")]
    settings = LatencySettings(processes=3, budget=60.0)
    found = worker.together_in_processes(
        requests,
        settings,
        Deadline(120.0),
        lambda stage, done: progress.append(done),
        run=fake,
    )
    assert [label for label, _ in fake.asked] == ["lenet5", "resnet18"] * 3
    assert all(s.processes == 1 for _, s in fake.asked)
    assert fake.asked[0][1].budget == pytest.approx(20.0, rel=0.01)  # 120 s over 6 workers
    assert progress == pytest.approx([0.0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1.0])
    lenet, resnet = found.timings
    assert lenet.process_medians == pytest.approx((0.001, 0.003, 0.005))
    assert resnet.process_medians == pytest.approx((0.002, 0.004, 0.006))
    flat = [m for r in found.rounds for m in r]
    assert flat == pytest.approx([0.001, 0.002, 0.003, 0.004, 0.005, 0.006])
    assert LatencyRatio.of(found, "resnet18").rounds == 3  # a ratio per round of processes


def test_a_spent_budget_starts_no_further_round_and_says_so():
    fake = FakeWorkers()
    spent = Deadline(1.0, start=time.perf_counter() - 5.0)
    found = worker.timed_in_processes(
        request("lenet5"), LatencySettings(processes=3), spent, run=fake
    )
    assert len(fake.asked) == 1  # every model gets one process
    assert found.budget_hit


# --- a worker that dies or never answers: one line naming the model ---------------------------


def exits(writer: Connection, job: worker.Job) -> None:
    os._exit(3)


def hangs(writer: Connection, job: worker.Job) -> None:
    time.sleep(60)


def refuses(writer: Connection, job: worker.Job) -> None:
    writer.send(("error", OptionError(f"{job.request.label}: refused in the worker")))


@pytest.mark.slow
def test_a_worker_that_exits_without_a_timing_is_one_error():
    settings = LatencySettings(budget=5.0)
    with pytest.raises(LoadError, match=r"^lenet5: a fresh worker process exited with code 3"):
        worker.in_fresh_process(request("lenet5"), settings, "test", target=exits)


@pytest.mark.slow
def test_a_worker_that_never_answers_is_stopped():
    settings = LatencySettings(budget=1.0)
    started = time.monotonic()
    with pytest.raises(OutOfTime, match=r"^lenet5: a fresh worker process sent no timing"):
        worker.in_fresh_process(request("lenet5"), settings, "test", target=hangs, grace=2.0)
    assert time.monotonic() - started < 30


@pytest.mark.slow
def test_a_worker_error_is_raised_as_it_was():
    with pytest.raises(OptionError, match="lenet5: refused in the worker"):
        worker.in_fresh_process(request("lenet5"), LatencySettings(), "test", target=refuses)


# --- budgets: threads: and processes: ---------------------------------------------------------


def _budgets(tmp_path: Path, text: str) -> list[documents.BudgetEntry]:
    path = tmp_path / "budget.yaml"
    path.write_text(text)
    return documents.read_budgets(path)


def test_a_budget_entry_names_its_threads_and_processes(tmp_path: Path):
    (entry, other) = _budgets(
        tmp_path,
        "models:\n  - {model: lenet5, max_latency_ms: 5, threads: 1, processes: 3}\n"
        "  - {model: resnet18, max_latency_ms: 50}\n",
    )
    assert (entry.threads, entry.processes) == (1, 3)
    assert (other.threads, other.processes) == (None, None)


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("{model: lenet5, max_macs: 5M, threads: 1}", "field 'threads': used only by"),
        ("{model: lenet5, max_latency_ms: 5, processes: 0}", "field 'processes': expected"),
        ("{model: lenet5, max_latency_ms: 5, processes: 33}", "an integer from 1 to 32"),
        ("{model: lenet5, max_latency_ms: 5, threads: two}", "field 'threads': expected"),
    ],
)
def test_a_bad_threads_or_processes_key_is_refused(tmp_path: Path, entry: str, fragment: str):
    with pytest.raises(CheckFileError, match=fragment):
        _budgets(tmp_path, f"models:\n  - {entry}\n")


class FakeMachine:
    """A machine measuring nothing, that remembers at which threads and processes each
    measurement was asked for (through `Machine.at`)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int, int]] = []

    def machine(self, threads: int | None = None, processes: int = 1) -> Machine:
        count = threads or 2

        def measure(req: Request, device: str, runtime: str) -> Timing:
            self.asked.append((req.label, count, processes))
            return _timing(req.label, [0.001] * 5, threads=count)

        def together(requests: Sequence[Request], device: str, runtime: str) -> Interleaved:
            raise AssertionError("no ratio here")

        return Machine(
            lambda _: "Test CPU",
            count,
            measure,
            together,
            processes,
            threads is not None,
            self.machine,
        )


def test_check_measures_each_entry_at_its_own_threads_and_processes(tmp_path, monkeypatch):
    fake = FakeMachine()
    monkeypatch.setattr(
        "cnnprof.cli.measure.machine", lambda _needs, threads, processes: fake.machine(threads)
    )
    path = tmp_path / "budget.yaml"
    path.write_text(
        "models:\n  - {model: lenet5, max_latency_ms: 5, threads: 1, processes: 2}\n"
        "  - {model: resnet18, max_latency_ms: 50}\n"
    )
    result = run("check", str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    assert fake.asked == [("lenet5", 1, 2), ("resnet18", 2, 1)]
    data = json.loads(result.stdout)
    measured = [r for r in data["results"] if r["metric"] == "latency_ms"]
    assert [(r["threads"], r["processes"]) for r in measured] == [(1, 1), (2, 1)]
    assert "lenet5: latency_ms measured at 1 thread" in data["notes"]


def test_check_threads_other_than_the_baseline_recorded_is_refused(tmp_path, monkeypatch):
    fake = FakeMachine()
    monkeypatch.setattr(
        "cnnprof.cli.measure.machine", lambda _needs, threads, processes: fake.machine(threads)
    )
    baseline = tmp_path / "baseline.json"
    entry = {
        "model": "lenet5",
        "counts": {"params": 61706},
        "latency": {"median_ms": 1.0, "device": "cpu", "device_name": "Test CPU", "threads": 2},
    }
    baseline.write_text(json.dumps({"schema": "cnnprof.snapshot/1", "models": [entry]}))
    assert_error(
        run("check", str(baseline), "--threads", "1"),
        "check --threads 1: the baseline's latency of lenet5 was recorded at 2 threads",
        "give --threads 2",
    )
    result = run("check", str(baseline), "--threads", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    assert fake.asked == [("lenet5", 2, 1)]


def test_a_measured_check_result_carries_its_threads_and_processes():
    t = _fresh()
    result = CheckResult("m", "latency_ms", 30.0, t.median * 1e3, 33.0, "budget", timing=t)
    (record,) = check_records([result])
    assert record["threads"] == 2 and record["processes"] == 3
    assert (record["between_min"], record["between_max"]) == pytest.approx((16.5, 27.9))
    notes = measured_notes([result])
    assert notes[0].startswith("m: latency_ms measured at 2 threads, medians 16.500–27.900 ms")
    assert "one run's spread understates the next run's" in notes[1]


# --- the CLI: refused where it would do nothing or cannot hold -------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("compare", "lenet5", "resnet18", "--threads", "1"), ("--threads 1", "add --latency")),
        (("sweep", "mobilenet", "--alpha", "1,0.5", "--processes", "2"), ("add --latency",)),
        (("snapshot", "lenet5", "--processes", "2"), ("--processes 2", "add --latency")),
        (("snapshot", "lenet5", "--threads", "1"), ("--threads 1", "add --latency")),
        (("latency", "lenet5", "--processes", "0"), ("--processes 0: expected 1 to 32",)),
        (
            ("latency", "lenet5", "--layers", "--processes", "2"),
            ("per-row times (--layers, --by op) come from one",),
        ),
        (("latency", "lenet5", "--plot", "x.png", "--processes", "2"), ("--plot --processes 2",)),
        (("check", "configs/budgets/zoo.yaml", "--processes", "40"), ("--processes 40",)),
    ],
)
def test_processes_and_threads_are_refused_where_they_would_do_nothing(args, fragments):
    assert_error(run(*args), *fragments)


@pytest.mark.torch
def test_two_runtimes_in_fresh_processes_are_refused():
    pytest.importorskip("onnxruntime")
    assert_error(
        run("latency", "lenet5", "--runtime", "torch,onnxruntime", "--processes", "2"),
        "--processes 2 --runtime torch,onnxruntime",
        "give --processes 1",
    )


def test_compare_passes_threads_and_processes_to_its_measurement(monkeypatch):
    asked: list[dict] = []

    def together(requests: Sequence[Request], **options: object) -> list[Timing]:
        asked.append(options)
        return [
            pooled([_timing(r.label, [0.001 * (i + 1)] * 3, threads=1) for _ in range(2)])
            for i, r in enumerate(requests)
        ]

    monkeypatch.setattr("cnnprof.cli.measure.measure_together", together)
    args = ("compare", "lenet5", "resnet18", "--latency", "--threads", "1", "--processes", "2")
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    assert asked == [{"threads": 1, "processes": 2}]
    data = json.loads(result.stdout)
    assert (data["threads"], data["processes"]) == (1, 2)
    assert data["models"][0]["latency_processes"] == 2
    table = " ".join(run(*args).stdout.split())
    assert "compare · ratios to lenet5 · latency at 1 thread, 2 processes" in table
    assert "latency range (ms)" in table


# --- one tiny real run through the CLI: structure only -----------------------------------------


@pytest.mark.torch
@pytest.mark.slow
def test_a_real_run_in_two_fresh_processes():
    args = (
        "latency",
        "lenet5",
        "--processes",
        "2",
        "--threads",
        "1",
        "--runs",
        "5",
        "--warmup",
        "2",
    )
    result = run(*args, "--budget", "20", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["processes"] == 2 and data["threads"] == 1
    assert len(data["process_medians_s"]) == 2
    assert data["between_min_s"] <= data["median_s"] <= data["between_max_s"]
    assert data["runs"] == len(data["samples_s"]) >= 2
    assert isinstance(data["between_exceeds_within"], bool)


def test_check_says_when_threads_set_nothing():
    result = run("check", "configs/budgets/zoo.yaml", "--threads", "1", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "--threads 1: no latency in configs/budgets/zoo.yaml was measured here" in (
        result.stderr
    )


def test_sweep_shows_the_threads_and_each_point_range(monkeypatch):
    def together(requests: Sequence[Request], **options: object) -> list[Timing]:
        return [
            pooled([_timing(r.label, [0.001 * (i + j + 1)] * 3, threads=1) for j in range(3)])
            for i, r in enumerate(requests)
        ]

    monkeypatch.setattr("cnnprof.cli.measure.measure_together", together)
    args = ("sweep", "mobilenet", "--alpha", "1,0.5", "--latency", "--processes", "3")
    table = " ".join(run(*args, "--threads", "1").stdout.split())
    assert "every configuration · latency at 1 thread, 3 processes" in table
    assert "range ms" in table and "1.00–3.00 (3 processes)" in table
    data = json.loads(run(*args, "--format", "json").stdout)
    assert data["processes"] == 3
    assert [p["latency_between_max_ms"] for p in data["points"]] == pytest.approx([3.0, 4.0])
    csv = run(*args, "--format", "csv").stdout
    assert "latency_process_medians_ms" not in csv and "latency_between_min_ms" in csv
