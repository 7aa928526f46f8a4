"""A user's model in a supervised worker process (`cnnprof.api.guest`, `cnnprof.api.supervised`):
every way its code can end the process is one line naming the model, exit 2; its prints stay out
of cnnprof's output; its directory changes stay in its process; a deadline holds from any thread."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("torch")

from conftest import assert_error, run

import cnnprof
from cnnprof.api import supervised
from cnnprof.api.guest import GuestSource
from cnnprof.api.request import request
from cnnprof.api.sources import OutsideSource, resolve
from cnnprof.errors import LoadError, OutOfTime

pytestmark = pytest.mark.torch

FACTORIES = Path(__file__).parents[1] / "factories"
DEFIANT = str(FACTORIES / "defiant.py")
GUESTS = str(FACTORIES / "guests.py")
SMALL = ("--input", "3,16,16")


def test_a_reference_to_user_code_is_supervised_and_a_spec_or_a_module_is_not():
    assert isinstance(resolve(request(f"{GUESTS}:loud")), GuestSource)
    assert isinstance(resolve(request(f"{GUESTS}:loud"), supervised=False), OutsideSource)
    assert not isinstance(resolve(request("mobilenet")), GuestSource)
    module = resolve(request(f"{GUESTS}:loud"), supervised=False).module("meta")
    assert not isinstance(resolve(request(module)), GuestSource)


def test_a_factory_argument_that_cannot_be_sent_keeps_the_model_in_process():
    source = resolve(request(f"{GUESTS}:loud", args={"unsendable": lambda: None}))
    assert isinstance(source, OutsideSource)


def test_the_counts_are_those_of_the_same_model_in_process():
    req = request(f"{GUESTS}:loud", input=(3, 16, 16))
    supervised_count = resolve(req).profile()
    in_process = resolve(req, supervised=False).profile()
    assert supervised_count.macs == in_process.macs == 4 * 3 * 9 * 14 * 14
    assert supervised_count.params == in_process.params == 4 * 3 * 9 + 4


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        ("exits_process", "the process running the model's code exited with code 0"),
        ("kills_itself", "the process running the model's code was killed by SIGKILL"),
        ("closes_everything", "before it answered"),
    ],
)
def test_a_factory_that_ends_its_process_is_one_line_naming_it(factory: str, expected: str):
    err = assert_error(run("count", f"{DEFIANT}:{factory}", *SMALL), expected)
    assert f"{DEFIANT}:{factory}: " in err


def test_a_factory_that_closes_stdout_is_counted():
    result = run("count", f"{DEFIANT}:closes_stdout", *SMALL, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["params"] == 4 * 3 * 9 + 4


def test_a_factory_that_changes_directory_leaves_a_relative_output_where_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("GUEST_ELSEWHERE", str(elsewhere))
    monkeypatch.chdir(tmp_path)
    result = run("count", f"{DEFIANT}:changes_directory", *SMALL, "-f", "json", "-o", "out.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out.json").read_text())["totals"]["params"] == 4 * 3 * 9 + 4
    assert not (elsewhere / "out.json").exists()


def test_what_the_factory_prints_stays_out_unless_asked(monkeypatch: pytest.MonkeyPatch):
    quiet = run("count", f"{GUESTS}:loud", *SMALL)
    assert quiet.exit_code == 0, quiet.output
    assert "hello from the factory" not in quiet.stdout + quiet.stderr
    assert "params" in quiet.stdout


def test_what_the_factory_prints_goes_to_stderr_on_request(tmp_path: Path):
    import os
    import subprocess
    import sys

    env = {**os.environ, supervised.SHOW_OUTPUT: "1"}
    done = subprocess.run(
        [sys.executable, "-m", "cnnprof", "count", f"{GUESTS}:loud", *SMALL],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "hello from the factory" in done.stderr
    assert "hello from the factory" not in done.stdout


def test_a_factory_raising_keyboard_interrupt_is_its_failure():
    assert_error(run("count", f"{GUESTS}:interrupts", *SMALL), f"{GUESTS}:interrupts")


def _raised_in_a_thread(call: Callable[[], object]) -> tuple[BaseException, float]:
    """What ``call`` raised in a thread of its own (not the main one), and the seconds it took."""
    found: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:  # what the thread saw, checked by the caller
            found.append(exc)

    start = time.monotonic()
    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    assert not thread.is_alive() and len(found) == 1, found
    return found[0], time.monotonic() - start


def test_a_hang_is_stopped_at_the_timeout_from_a_thread():
    """SIGALRM reaches only the main thread; the parent's deadline reaches every one."""
    raised, took = _raised_in_a_thread(lambda: cnnprof.count(f"{GUESTS}:never_returns", timeout=1))
    assert isinstance(raised, OutOfTime) and "1 s (--timeout)" in str(raised), raised
    assert took < 30  # the worker's start (torch's import) and 1 s + grace


def test_a_check_from_a_thread_stops_an_entry_at_its_timeout(tmp_path: Path):
    """`cnnprof.check` from a thread: the entry's own ``timeout:`` holds (issue #27)."""
    budget = tmp_path / "budgets.yaml"
    budget.write_text(
        f"models:\n  - model: '{GUESTS}:never_returns'\n    timeout: 1\n    max_params: 1K\n"
    )
    raised, took = _raised_in_a_thread(lambda: cnnprof.check(budget))
    assert isinstance(raised, LoadError), raised
    assert "did not finish within 1 s (--timeout)" in str(raised)
    assert took < 30


def test_the_timeout_is_the_models_not_each_attempts(tmp_path: Path):
    """A factory that hangs on meta is not retried on the CPU with a second full timeout."""
    start = time.monotonic()
    with pytest.raises(OutOfTime, match=r"2 s \(--timeout\)"):
        cnnprof.count(f"{GUESTS}:never_returns", timeout=2)
    assert time.monotonic() - start < 2 * 2 + 10  # one timeout, the start and the grace


def test_a_model_that_ended_its_process_fails_again_and_a_fresh_one_starts():
    source = resolve(request(f"{DEFIANT}:exits_process", input=(3, 16, 16)))
    with pytest.raises(LoadError) as first:
        source.profile()
    with pytest.raises(LoadError) as again:
        source.cross_check("torch")
    assert str(first.value) == str(again.value)


def test_the_points_of_one_factory_share_a_worker_and_others_do_not():
    one, two = (resolve(request(f"{GUESTS}:loud", resolution=r)) for r in (16, 24))
    other = resolve(request(f"{DEFIANT}:quick", input=(3, 16, 16)))
    assert one._worker is two._worker and one._worker is not other._worker
    assert one.profile().macs < two.profile().macs


def test_an_unreadable_answer_is_one_line():
    assert isinstance(supervised.rebuilt("NoSuchError", "m: what"), LoadError)
    assert isinstance(supervised.rebuilt("OutOfTime", "m: late"), OutOfTime)
