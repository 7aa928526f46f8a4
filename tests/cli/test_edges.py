"""The last edges of the command: an output onto the command's own input, a baseline behind a
symlink, a closed stdout; each one line and its exit code, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_error, run

SPEC = Path(__file__).parents[2] / "configs" / "models" / "vgg.yaml"


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    path = tmp_path / "baseline.json"
    assert run("snapshot", "mobilenet", "-o", str(path)).exit_code == 0
    return path


def test_count_refuses_its_spec_as_output_even_with_force(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    shutil.copy(SPEC, spec)
    before = spec.read_bytes()
    for model in (str(spec), f"{spec}@alpha=0.5"):
        assert_error(run("count", model, "-o", str(spec), "--force"), "the model's own file")
    assert spec.read_bytes() == before


def test_count_refuses_its_model_file_as_output(tmp_path: Path) -> None:
    net = tmp_path / "net.py"
    net.write_text("def build():\n    return None\n")
    assert_error(run("count", f"{net}:build", "-o", str(net), "--force"), "model's own file")
    assert_error(run("compare", "mobilenet", f"{net}:build", "--plot", str(net)), "--plot")
    assert net.read_text().startswith("def build")


def test_check_refuses_its_baseline_as_output_through_links(baseline: Path) -> None:
    before = baseline.read_bytes()
    link, hard = baseline.with_name("link.json"), baseline.with_name("hard.json")
    link.symlink_to(baseline.name)
    os.link(baseline, hard)
    for given, output in ((baseline, baseline), (link, baseline), (baseline, hard)):
        err = assert_error(run("check", str(given), "-o", str(output), "--force"))
        assert "--update is the way to rewrite a baseline" in err
    assert baseline.read_bytes() == before and link.is_symlink()


def test_an_output_apart_from_the_inputs_is_written(baseline: Path) -> None:
    out = baseline.with_name("report.json")
    result = run("check", str(baseline), "-o", str(out), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text())


def test_check_update_through_a_symlink_rewrites_the_baseline_and_keeps_the_link(
    baseline: Path,
) -> None:
    data = json.loads(baseline.read_text())
    data["models"][0]["counts"]["params"] -= 1
    baseline.write_text(json.dumps(data))
    link = baseline.with_name("link.json")
    link.symlink_to(baseline.name)
    result = run("check", str(link), "--update")
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and link.resolve() == baseline
    counts = json.loads(baseline.read_text())["models"][0]["counts"]
    assert counts["params"] == data["models"][0]["counts"]["params"] + 1
    assert [p.name for p in baseline.parent.iterdir() if p.name.startswith(".cnnprof-")] == []


def test_a_write_through_a_link_replaces_its_target_from_beside_it(tmp_path: Path) -> None:
    from cnnprof import files

    target_dir, link_dir = tmp_path / "real", tmp_path / "links"
    target_dir.mkdir()
    link_dir.mkdir()
    target = target_dir / "out.txt"
    target.write_text("old")
    target.chmod(0o640)
    link = link_dir / "out.txt"
    link.symlink_to(target)
    files.write(link, "new", "--output")
    assert link.is_symlink() and target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o640
    dangling = link_dir / "dangling.txt"
    dangling.symlink_to(target_dir / "fresh.txt")
    files.write(dangling, "made", "--output")
    assert dangling.is_symlink() and (target_dir / "fresh.txt").read_text() == "made"


def _closed_stdout(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``cnnprof ARGS >&-``: the real process, its standard output closed before it starts."""
    return subprocess.run(
        [sys.executable, "-m", "cnnprof", *args],
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        cwd=cwd,
        preexec_fn=lambda: os.close(1),
    )


@pytest.mark.parametrize(
    "args", [["count", "mobilenet"], ["list", "--format", "json"], ["--version"]]
)
def test_a_closed_stdout_is_one_line_and_exit_2(args: list[str]) -> None:
    proc = _closed_stdout(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "cnnprof: error: cannot write to stdout: it is closed\n"


def test_a_closed_stdout_does_not_stop_an_output_file(tmp_path: Path) -> None:
    proc = _closed_stdout("count", "mobilenet", "-o", "out.txt", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "mobilenet" in (tmp_path / "out.txt").read_text()


# --- a KeyboardInterrupt of the guest's own against the user's Ctrl-C --------------------------

GUESTS = "tests.factories.guests"
ROOT = Path(__file__).parents[2]


def test_a_factory_raising_keyboard_interrupt_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    assert_error(run("count", f"{GUESTS}:interrupts"), f"{GUESTS}:interrupts", "KeyboardInterrupt")


def test_a_ctrl_c_inside_a_guest_still_interrupts() -> None:
    from cnnprof.empirical.bound import Interrupted
    from cnnprof.empirical.outside import guest

    # As in a terminal (a background job, as CI may run the suite, starts with SIGINT ignored).
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(Interrupted), guest("net.py:build", "construct"):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_factorys_own_keyboard_interrupt_is_its_failure_where_sigint_is_ignored() -> None:
    """A background job ignores SIGINT: no Ctrl-C can come, so the guest's is its own."""
    from cnnprof.empirical.bound import user_interrupts

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with user_interrupts() as guests_own:
            assert guests_own and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.slow
def test_the_users_ctrl_c_during_a_factory_ends_the_command_with_130(tmp_path: Path) -> None:
    waiting = tmp_path / "waiting"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cnnprof", "count", f"{GUESTS}:waits"],
        # Ctrl-C reaches it as in a terminal, even where the suite runs with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        cwd=ROOT,
        env={**os.environ, "GUEST_WAITING": str(waiting)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not waiting.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130 and out == ""


# --- a model nested deeper than recursion goes ------------------------------------------------


@pytest.mark.parametrize("extra", [(), ("--empirical",), ("--layers",)])
def test_a_model_nested_5000_deep_is_one_line_naming_the_depth(
    monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...]
) -> None:
    monkeypatch.chdir(ROOT)
    assert_error(run("count", f"{GUESTS}:nested", *extra), f"{GUESTS}:nested", "5,001 levels")


def test_a_model_nested_a_few_levels_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run("count", f"{GUESTS}:nested", "--arg", "depth=20", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["params"] == 3 * 3 * 3 * 3 + 3  # conv 3→3, 3×3


def test_the_api_refuses_a_deep_module_given_as_is() -> None:
    import cnnprof
    from cnnprof.errors import CnnprofError
    from tests.factories.guests import nested

    with pytest.raises(CnnprofError, match="5,001 levels"):
        cnnprof.count(nested())


# --- the Python API refuses what the CLI refuses ----------------------------------------------


@pytest.mark.parametrize("models", [[], (), "mobilenet"], ids=["list", "tuple", "text"])
def test_the_api_snapshot_of_no_models_is_refused(models: object) -> None:
    import cnnprof
    from cnnprof.errors import OptionError

    with pytest.raises(OptionError, match="expected a list of models"):
        cnnprof.snapshot(models)  # type: ignore[arg-type]


def test_an_option_s_file_is_an_input_too(tmp_path: Path) -> None:
    profile = tmp_path / "device.json"
    profile.write_text("{}")
    result = run(
        "compare", "mobilenet", "--device-profile", str(profile), "-o", str(profile), "--force"
    )
    assert_error(result, "is the file --device-profile names")
    assert profile.read_text() == "{}"
