"""A CI check you can trust: every write is atomic (the old file survives any failure), concurrent
updaters neither expose a partial file nor lose a write, user code is a bounded guest, baselines
and budgets are validated whole, and every bad input is one line and exit 2.

Failures are simulated without root: writes monkeypatched to fail midway, a directory that
refuses new files, updaters racing in subprocesses.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_error, run
from test_check import GROWN_SPEC

import cnnprof.files as files
from cnnprof.api.check import parse_tolerance
from cnnprof.errors import OptionError

ROOT = Path(__file__).resolve().parents[2]
GUESTS = "tests.factories.guests"


def _spec(directory: Path, extra: str = "") -> Path:
    path = directory / "tiny.yaml"
    path.write_text(GROWN_SPEC.replace("{extra}", extra))
    return path


def _snapshot(directory: Path, *models: str, options: tuple[str, ...] = ()) -> Path:
    out = directory / "baseline.json"
    result = run("snapshot", *models, *options, "-o", str(out), "--force")
    assert result.exit_code == 0, result.output
    return out


def _cli(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """cnnprof in its own process (for what only a process shows: the environment, stdout)."""
    return subprocess.run(
        [sys.executable, "-m", "cnnprof", *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=120,
        **kwargs,
    )  # type: ignore[call-overload]


# --- atomic writes ------------------------------------------------------------------------------


def _temporaries(directory: Path) -> list[Path]:
    return list(directory.glob(".cnnprof-*"))


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_a_write_failing_midway_leaves_the_old_output(tmp_path, monkeypatch, failing):
    out = tmp_path / "counts.json"
    out.write_text("the good file\n")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if failing == "write":  # the first bytes go out, then the disk is full
        real = os.fdopen

        def half(fd: int, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            fh = real(fd, *args, **kwargs)
            written = fh.write

            def write(data: bytes) -> int:
                written(data[: len(data) // 2])
                full()
                return 0

            fh.write = write
            return fh

        monkeypatch.setattr(files.os, "fdopen", half)
    else:
        monkeypatch.setattr(files.os, failing, full)
    err = assert_error(run("count", "lenet5", "-f", "json", "-o", str(out), "--force"))
    assert "No space left on device" in err and "unchanged" in err
    assert out.read_text() == "the good file\n"
    assert _temporaries(tmp_path) == []


def test_a_directory_that_refuses_new_files_leaves_the_old_output(tmp_path, monkeypatch):
    out = tmp_path / "counts.txt"
    out.write_text("the good file\n")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    assert_error(run("count", "lenet5", "-o", str(out), "--force"), "Permission denied")
    assert out.read_text() == "the good file\n"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_directory_leaves_the_old_output(tmp_path):
    out = tmp_path / "counts.txt"
    out.write_text("the good file\n")
    tmp_path.chmod(0o555)
    try:
        assert_error(run("count", "lenet5", "-o", str(out), "--force"), "cannot write")
    finally:
        tmp_path.chmod(0o755)
    assert out.read_text() == "the good file\n"


def test_a_read_only_baseline_is_not_updated(tmp_path):
    baseline = _snapshot(tmp_path, str(_spec(tmp_path)))
    before = baseline.read_text()
    baseline.chmod(0o444)
    _spec(tmp_path, extra="  - {op: dws, out: 32}\n")
    assert_error(run("check", str(baseline), "--update"), "read-only")
    assert baseline.read_text() == before


def test_the_new_file_keeps_the_old_ones_permissions(tmp_path):
    out = tmp_path / "counts.txt"
    out.write_text("old\n")
    out.chmod(0o640)
    assert run("count", "lenet5", "-o", str(out), "--force").exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o640 and "lenet5" in out.read_text()


UPDATER = """
import sys
from pathlib import Path
import cnnprof.files as files
files.update(Path(sys.argv[1]), lambda old: old + sys.argv[2].encode(), "--update")
"""


@pytest.mark.slow
def test_concurrent_updaters_queue_and_lose_nothing(tmp_path):
    target = tmp_path / "log.txt"
    target.write_text("")
    marks = [chr(ord("a") + i) for i in range(12)]
    procs = [
        subprocess.Popen([sys.executable, "-c", UPDATER, str(target), mark], cwd=ROOT)
        for mark in marks
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    assert sorted(target.read_text()) == marks, "every updater's write is there, once"


def test_an_update_refuses_a_file_changed_under_it(tmp_path):
    target = tmp_path / "baseline.json"
    target.write_text("one\n")

    def change(old: bytes) -> bytes:
        target.write_text("someone else's\n")  # a writer that does not take the lock
        return old + b"two\n"

    with pytest.raises(OptionError, match="changed by another process"):
        files.update(target, change, "--update")
    assert target.read_text() == "someone else's\n"


@pytest.mark.slow
def test_concurrent_check_updates_never_expose_a_partial_baseline(tmp_path):
    baseline = _snapshot(tmp_path, str(_spec(tmp_path)), "lenet5")
    _spec(tmp_path, extra="  - {op: dws, out: 32}\n")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cnnprof", "check", str(baseline), "--update"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    reads = 0
    while any(p.poll() is None for p in procs):
        data = json.loads(baseline.read_text())  # a partial file would not parse
        assert len(data["models"]) == 2
        reads += 1
    assert [p.wait() for p in procs] == [0] * len(procs), [p.stderr.read() for p in procs]
    assert reads > 0 and _temporaries(tmp_path) == []
    assert run("check", str(baseline)).exit_code == 0


# --- check --update: settings and keys kept ----------------------------------------------------


def test_update_keeps_settings_and_keys_and_says_what_changed(tmp_path):
    spec = _spec(tmp_path)
    baseline = _snapshot(tmp_path, str(spec), options=("--batch", "8", "--dtype", "float16"))
    data = json.loads(baseline.read_text())
    data["owner"] = "vision team"
    data["models"][0]["note"] = "pinned for the v2 release"
    del data["models"][0]["counts"]["flops"]  # a metric the team chose not to check
    baseline.write_text(json.dumps(data))
    _spec(tmp_path, extra="  - {op: dws, out: 32}\n")
    report = tmp_path / "report.md"
    result = run("check", str(baseline), "--update", "-f", "md", "-o", str(report))
    assert result.exit_code == 0, result.output
    assert "macs:" in result.stderr and "→" in result.stderr
    assert "**FAIL**" in report.read_text(), "-o gets the check's report"
    after = json.loads(baseline.read_text())
    entry = after["models"][0]
    assert (entry["batch"], entry["dtype"]) == (8, "float16")
    assert after["owner"] == "vision team" and entry["note"] == "pinned for the v2 release"
    assert "flops" not in entry["counts"]
    assert entry["counts"]["macs"] > data["models"][0]["counts"]["macs"]
    assert run("check", str(baseline)).exit_code == 0


def test_update_of_a_budget_is_refused_before_anything_runs(tmp_path):
    budget = tmp_path / "budget.yaml"
    budget.write_text("models:\n  - {model: lenet5, max_macs: 1M}\n")
    assert_error(run("check", str(budget), "--update"), "edit a budget .yaml by hand")


# --- user code is a guest -----------------------------------------------------------------------

torch_only = pytest.mark.torch


@torch_only
@pytest.mark.parametrize(
    ("factory", "fragments"),
    [
        ("exits_zero", ("construct called sys.exit(0)",)),
        ("exits_three", ("construct called sys.exit(3)",)),
        ("raises_base", ("construct failed: Fatal: the factory gave up",)),
        ("forward_exits", ("forward called sys.exit(0)",)),
    ],
)
def test_user_code_that_exits_or_raises_anything_is_exit_2(factory, fragments):
    assert_error(run("count", f"{GUESTS}:{factory}"), f"{GUESTS}:{factory}", *fragments)


@torch_only
def test_a_baseline_naming_an_exiting_factory_does_not_pass(tmp_path):
    baseline = tmp_path / "baseline.json"
    entry = {"model": f"{GUESTS}:exits_zero", "counts": {"macs": 1}}
    baseline.write_text(json.dumps({"schema": "cnnprof.snapshot/1", "models": [entry]}))
    assert_error(run("check", str(baseline)), "sys.exit(0)")


@torch_only
def test_an_import_that_exits_is_exit_2(tmp_path, monkeypatch):
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit(0)\n")
    monkeypatch.chdir(tmp_path)
    assert_error(run("count", "exits_on_import.py:make"), "import called sys.exit(0)")


@torch_only
def test_what_a_factory_prints_stays_out_of_the_json():
    """Its worker's prints go nowhere (tests/api/test_guest_worker.py: to stderr on request)."""
    result = run("count", f"{GUESTS}:loud", "-f", "json", "--input", "3,16,16")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"] == f"{GUESTS}:loud"
    assert "hello from the factory" not in result.stdout + result.stderr


@torch_only
@pytest.mark.slow
def test_a_factory_that_never_returns_stops_at_the_timeout():
    start = time.monotonic()
    assert_error(
        run("count", f"{GUESTS}:never_returns", "--timeout", "1"),
        "its own code did not finish within 1 s (--timeout)",
    )
    assert time.monotonic() - start < 10


@torch_only
@pytest.mark.slow
def test_a_baseline_entry_stops_at_the_timeout_check_is_given(tmp_path):
    """`check baseline.json --timeout N` bounds every entry that sets no timeout of its own (the
    value once stopped short of the baseline's entries, which then waited 120 s)."""
    (tmp_path / "sleeps.py").write_text("import time\n\n\ndef make():\n    time.sleep(60)\n")
    entry = {"model": f"{tmp_path / 'sleeps.py'}:make", "counts": {"macs": 1}}
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"schema": "cnnprof.snapshot/1", "models": [entry]}))
    start = time.monotonic()
    result = _cli("check", str(baseline), "--timeout", "2")
    elapsed = time.monotonic() - start
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "its own code did not finish within 2 s (--timeout)" in result.stderr
    assert elapsed < 10, "stopped at --timeout 2, not after the factory's 60 s"


@torch_only
def test_check_timeout_bounds_the_outside_entries_of_a_mixed_baseline(tmp_path, monkeypatch):
    """A snapshot of a registry model and a factory: `check --timeout` bounds the factory and
    leaves the registry entry (no code of its own to bound) to be counted as always."""
    (tmp_path / "small.py").write_text(
        "from torch import nn\n\n\ndef make():\n    return nn.Linear(2, 2)\n"
    )
    monkeypatch.chdir(tmp_path)
    made = run("snapshot", "lenet5", "small.py:make", "--input", "2", "-o", "mixed.json")
    assert made.exit_code == 0, made.stderr
    result = run("check", "mixed.json", "--timeout", "5")
    assert result.exit_code == 0, result.stderr
    entry = tmp_path / "entry.json"
    doc = json.loads((tmp_path / "mixed.json").read_text())
    doc["models"][0]["timeout"] = 5
    entry.write_text(json.dumps(doc))
    assert_error(run("check", str(entry)), "--timeout 5", "lenet5 is a spec")


@torch_only
@pytest.mark.parametrize(
    ("reference", "why"),
    [
        ("os:system", "os is not a model library"),
        ("subprocess:run", "subprocess is not a model library"),
        ("builtins:exec", "builtins is not a model library"),
        ("json:JSONDecoder", "the class JSONDecoder is not a model factory"),
    ],
)
def test_what_is_clearly_not_a_factory_is_refused_before_it_is_called(tmp_path, reference, why):
    marker = tmp_path / "ran"
    assert_error(run("count", reference, "--arg", f"command=touch {marker}"), why)
    assert not marker.exists()


@torch_only
def test_latency_stops_at_its_budget_with_a_slow_forward(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPROF_CACHE_DIR", str(tmp_path))
    start = time.monotonic()
    result = run("latency", f"{GUESTS}:slow_forward", "--budget", "1", "--input", "3,8,8")
    elapsed = time.monotonic() - start
    *notes, error = result.stderr.splitlines()  # the budget too short to calibrate, said first
    assert result.exit_code == 2 and all(n.startswith("cnnprof: note: ") for n in notes)
    assert error.startswith("cnnprof: error: ") and "forward did not finish within" in error
    assert elapsed < 1 + 3.0, "stopped at the budget, not after the slow forward (3 s)"


# --- validation before anything runs ------------------------------------------------------------


def _baseline(tmp_path: Path, **change: object) -> Path:
    entry = {"model": "lenet5", "batch": 1, "dtype": "float32", "counts": {"macs": 1, "params": 1}}
    entry.update(change)
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"schema": "cnnprof.snapshot/1", "models": [entry]}))
    return path


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"batch": "8"}, ("entry 1 (lenet5): field 'batch'", "integer ≥ 1")),
        ({"dtype": "float8"}, ("field 'dtype'",)),
        ({"counts": {}}, ("field 'counts'", "non-empty")),
        ({"counts": {"macs": None}}, ("counts: field 'macs'",)),
        ({"counts": {"macs": "many"}}, ("counts: field 'macs'",)),
        ({"counts": {"macs": -1}}, ("counts: field 'macs'",)),
        ({"counts": {"cats": 3}}, ("unknown metric 'cats'",)),
        ({"latency": {"median_ms": 1, "device": "tpu"}}, ("latency: field 'device'",)),
        ({"latency": {"median_ms": float("inf")}}, ("latency: field 'median_ms'",)),
        ({"model": None}, ("field 'model'",)),
        ({"input": [3, 0, 32]}, ("field 'input'",)),
    ],
)
def test_bad_baseline_entries_are_named_before_anything_runs(tmp_path, change, fragments):
    assert_error(run("check", str(_baseline(tmp_path, **change))), "baseline.json", *fragments)


def test_a_bad_second_entry_stops_the_check_before_the_first_is_counted(tmp_path, monkeypatch):
    from cnnprof.api.check import _counting as counting

    counted = []
    monkeypatch.setattr(counting, "profile_analytic", lambda req: counted.append(req) or 1 / 0)
    path = tmp_path / "baseline.json"
    good = {"model": "lenet5", "counts": {"macs": 1}}
    bad = {"model": "lenet5", "counts": {"macs": 1}, "batch": 0}
    path.write_text(json.dumps({"schema": "cnnprof.snapshot/1", "models": [good, bad]}))
    assert_error(run("check", str(path)), "entry 2 (lenet5): field 'batch'")
    assert counted == []


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("models: []\n", "'models' is empty"),
        ("models:\n  - {model: lenet5, max_macs: .inf}\n", "field 'max_macs'"),
        ("models:\n  - {model: lenet5, max_macs: '1e400G'}\n", "field 'max_macs'"),
        ("models:\n  - {model: lenet5, max_macs: null}\n", "field 'max_macs'"),
        ("models:\n  - {model: lenet5, max_macs: 0}\n", "field 'max_macs'"),
        ("models:\n  - {model: lenet5, max_macs: 1M, tolerance: 5}\n", "tolerance 5"),
        ("models:\n  - {model: lenet5, max_macs: 1M, batch: '8'}\n", "field 'batch'"),
        ("models:\n  - {model: lenet5, max_macs: 1M, device: tpu}\n", "field 'device'"),
        ("models:\n  - {model: lenet5, max_macs: 1M}\nextra: 1\n", "unknown top-level key"),
    ],
)
def test_bad_budgets_are_named_before_anything_runs(tmp_path, content, fragment):
    path = tmp_path / "budget.yaml"
    path.write_text(content)
    assert_error(run("check", str(path)), fragment)


def test_models_empty_in_a_baseline_does_not_pass(tmp_path):
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"schema": "cnnprof.snapshot/1", "models": []}))
    assert_error(run("check", str(path)), "'models' is empty")


def test_tolerance_is_a_fraction_or_a_percentage():
    assert parse_tolerance("5%") == pytest.approx(0.05)
    assert parse_tolerance("0.05") == pytest.approx(0.05)
    assert parse_tolerance(0.01) == pytest.approx(0.01)
    assert parse_tolerance("100%") == 1.0
    # A bare 1 doubles every limit where 1 % was likely meant: refused, as 5 is.
    for bad in ("1", "1.0", "5", "-1%", "nan", "inf", "1e400%", "five"):
        with pytest.raises(OptionError):
            parse_tolerance(bad)


def test_a_bare_tolerance_above_one_is_refused_with_a_hint(tmp_path):
    baseline = _snapshot(tmp_path, "lenet5")
    assert_error(run("check", str(baseline), "--tolerance", "5"), "write 5% for 5 percent")


def test_a_regression_of_14_percent_fails_at_5_percent(tmp_path):
    baseline = _snapshot(tmp_path, "lenet5")
    data = json.loads(baseline.read_text())
    data["models"][0]["counts"] = {"macs": data["models"][0]["counts"]["macs"] / 1.137}
    baseline.write_text(json.dumps(data))
    assert run("check", str(baseline), "--tolerance", "5%").exit_code == 1


# --- every bad input: one line, exit 2 ----------------------------------------------------------


def test_a_fifo_is_refused_not_read(tmp_path):
    fifo = tmp_path / "x.json"
    os.mkfifo(fifo)
    assert_error(run("check", str(fifo)), "is a FIFO, not a regular file")
    assert_error(run("count", str(tmp_path / "x.yaml")), "x.yaml")
    os.mkfifo(tmp_path / "y.yaml")
    assert_error(run("count", str(tmp_path / "y.yaml")), "is a FIFO")
    assert_error(run("count", "lenet5", "-o", str(fifo), "--force"), "is a FIFO")


def test_a_file_name_over_the_system_limit_is_exit_2(tmp_path):
    assert_error(run("count", "lenet5", "-o", str(tmp_path / ("x" * 300 + ".txt"))))


def test_null_width_in_a_spec_is_exit_2(tmp_path):
    spec = tmp_path / "t.yaml"
    spec.write_text(GROWN_SPEC.replace("{extra}", "") + "variants:\n  t: {width: null}\n")
    assert_error(run("count", str(spec)), "field 'width'")


def test_yaml_aliases_that_expand_without_end_are_refused_fast(tmp_path):
    rows = "\n".join(f"  - {{op: conv, out: {8 + i}, k: 3}}" for i in range(20))
    variants = "\n".join(f"  v{i}: {{layers: *rows}}" for i in range(5000))
    spec = tmp_path / "bomb.yaml"
    spec.write_text(
        f"family: bomb\npaper: p\ninput: [3, 32, 32]\nlayers: &rows\n{rows}\n"
        f"variants:\n{variants}\n"
    )
    start = time.monotonic()
    assert_error(run("count", str(spec)), "expands to more than")
    assert time.monotonic() - start < 10


def test_a_sweep_grid_is_bounded_before_it_is_built():
    assert_error(run("sweep", "mobilenet", "--alpha", "0..1000000000"), "1,000,000,001 points")
    assert_error(
        run("sweep", "mobilenet", "--alpha", "1..200", "--resolution", "100..300"),
        "40,200 points",
        "--max-points",
    )
    args = ("sweep", "lenet5", "--resolution", "32..44", "--depth", "1,2", "--max-points", "30")
    assert run(*args).exit_code == 0


def test_a_plot_over_its_own_output_is_refused(tmp_path):
    out = str(tmp_path / "x.png")
    assert_error(
        run("sweep", "mobilenet", "--alpha", "1,0.5", "--plot", out, "-o", out), "the same file"
    )


@torch_only
def test_threads_above_the_cores_are_refused():
    assert_error(run("latency", "lenet5", "--threads", "99999999999"), "cores")


@torch_only
def test_a_size_that_overflows_torch_is_exit_2(tmp_path):
    spec = tmp_path / "t.yaml"
    huge = GROWN_SPEC.replace("s: 2}", "p: 1000000000}").replace("{extra}", "")
    spec.write_text(huge)
    assert_error(run("count", str(spec), "--empirical"))


@pytest.mark.slow
def test_stdout_on_a_full_disk_is_exit_2():
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "cnnprof", "count", "lenet5"],
            cwd=ROOT,
            text=True,
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    assert result.returncode == 2, result.stderr
    assert result.stderr == "cnnprof: error: cannot write to stdout: No space left on device\n"


@pytest.mark.slow
def test_a_narrow_stdout_encoding_is_exit_2():
    result = _cli("count", "mobilenet", env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert result.returncode == 2 and "PYTHONIOENCODING=utf-8" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.slow
def test_warnings_as_errors_start_cleanly():
    result = _cli("count", "mobilenet", env={**os.environ, "PYTHONWARNINGS": "error"})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


# --- the peaks cache ----------------------------------------------------------------------------


@torch_only
@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.update(flops_per_s="fast"),
        lambda d: d.update(flops_per_s=0),
        lambda d: d.update(bandwidth=[]),
        lambda d: d.update(op_overhead=[]),
        lambda d: d.update(conv_curve=[[1, -5.0]]),
        lambda d: d.update(threads=None),
        lambda d: d.update(kernels=[]),  # a calibration from before the kernel models
        lambda d: d["kernels"][0].update(coefficients=[1e-6]),  # a term short
    ],
)
def test_a_cache_with_wrong_values_is_measured_again_with_a_note(tmp_path, monkeypatch, damage):
    from cnnprof.empirical import peaks as peaks_module
    from cnnprof.protocol.records import read_cached

    monkeypatch.setenv("CNNPROF_CACHE_DIR", str(tmp_path))
    record = peaks_module.Peaks.from_dict(_fake_peaks())
    path = peaks_module.cache_path(record.device_name, record.torch_version, 1, "float32")
    path.parent.mkdir(parents=True)
    data = _fake_peaks()
    damage(data)
    path.write_text(json.dumps(data))
    notes: list[str] = []
    assert read_cached(path, notes) is None
    assert "cached device peaks not used" in notes[0]
    path.write_text(json.dumps(_fake_peaks()))
    assert read_cached(path, []) == record


def _fake_peaks() -> dict[str, object]:
    curve = [[1000, 1e9], [2000, 2e9]]
    return {
        "schema": "cnnprof.device/1",
        "device": "cpu",
        "device_name": "Test CPU",
        "torch_version": "2.13.0",
        "threads": 1,
        "dtype": "float32",
        "measured_at": "2026-01-01T00:00:00+00:00",
        "flops_per_s": 1e11,
        "conv_curve": curve,
        "bandwidth": curve,
        "op_overhead": {"conv": 1e-6},
        "byte_ceilings": {},
        "flop_ceilings": {},
        "kxk_curve": curve,
        "layout": [],
        "layout_kernel": "",
        "fault_s": 0.0,
        "curve_pixels": 784,
        "conv_curve_few": curve,
        "kxk_curve_few": curve,
        "few_pixels": 49,
        "kernels": [
            {
                "kind": "norm",
                "coefficients": [1e-6, 1e-10],
                "scale": [1.0],
                "samples": [[[0.0], 0.0]],
            }
        ],
    }


def test_a_fifo_in_place_of_the_peaks_cache_is_not_read(tmp_path):
    from cnnprof.protocol.records import read_cached

    path = tmp_path / "peaks.json"
    os.mkfifo(path)
    notes: list[str] = []
    assert read_cached(path, notes) is None
    assert "is a FIFO" in notes[0]


@torch_only
def test_the_microbenchmark_is_bounded(tmp_path, monkeypatch):
    from cnnprof.empirical import peaks as peaks_module
    from cnnprof.errors import OutOfTime
    from cnnprof.results.device import DeviceQuery

    monkeypatch.setenv("CNNPROF_CACHE_DIR", str(tmp_path))
    start = time.monotonic()
    with pytest.raises(OutOfTime, match=r"microbenchmark took over 0\.5 s"):
        peaks_module.peaks(DeviceQuery("cpu", "float32", 1, within=0.5))
    assert time.monotonic() - start < 3
    assert list(tmp_path.rglob("*.json")) == [], "nothing half-measured is cached"


@torch_only
def test_latency_with_a_cold_cache_stays_within_its_budget(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPROF_CACHE_DIR", str(tmp_path))
    start = time.monotonic()
    result = run("latency", "lenet5", "--budget", "2", "-f", "json")
    elapsed = time.monotonic() - start
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert any("no roofline prediction" in n for n in data["notes"]) or "roofs" in data
    assert elapsed < 2 * 1.2 + 1, "the budget covers peaks, warm-up and runs"
