"""A check never passes having checked nothing: a budget entry that produced no result is an
error, a latency ratio to the model itself under another name is refused before anything is
measured, and `check baseline.json --timeout N` bounds the baseline's outside models."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import assert_error, run

import cnnprof
from cnnprof.api import check as checks
from cnnprof.api.check._documents import read_baseline, read_budgets
from cnnprof.api.request import DEFAULT_TIMEOUT, Request
from cnnprof.errors import CheckFileError, OptionError

ROOT = Path(__file__).resolve().parents[2]
NOTHING = "not checked (no machine to measure it on), and the entry has no other limit"


def _file(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


# --- an entry that produced no result ------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "reference"),
    [("max_latency_ms", None), ("max_latency_ratio", "resnet18")],
)
def test_an_entry_checked_for_nothing_is_an_error_never_a_pass(limit, reference):
    """Without a machine an entry whose only limit is measured gives no result: an error, not
    an empty list that `all(r.ok ...)` reads as a pass."""
    entry = checks.BudgetEntry(
        "lenet5", checks.Settings(), ((limit, 1.0),), None, reference=reference
    )
    with pytest.raises(OptionError, match=re.escape(f"lenet5: {limit} {NOTHING}")):
        checks.check_budgets([entry], 0.0)


def test_a_budget_file_checked_for_nothing_is_refused(tmp_path):
    path = _file(tmp_path, "b.yaml", "models:\n  - {model: lenet5, max_latency_ms: 1000}\n")
    with pytest.raises(OptionError, match=re.escape(f"lenet5: max_latency_ms {NOTHING}")):
        checks.run_check(path)


def test_an_entry_with_a_count_too_is_checked_with_a_note(tmp_path):
    path = _file(
        tmp_path, "b.yaml", "models:\n  - {model: lenet5, max_macs: 1G, max_latency_ms: 1000}\n"
    )
    report = checks.run_check(path)
    assert [r.metric for r in report] == ["macs"] and report.passed
    assert "lenet5: max_latency_ms not checked (no machine to measure it on)" in report.notes


@pytest.mark.torch
@pytest.mark.slow
def test_the_api_check_of_a_latency_only_budget_measures_it(tmp_path):
    """`cnnprof.check` measures a latency-only entry, as `cnnprof check` does: one result."""
    path = _file(tmp_path, "b.yaml", "models:\n  - {model: lenet5, max_latency_ms: 1000}\n")
    report = cnnprof.check(path, threads=1)
    assert [r.metric for r in report] == ["latency_ms"]
    cli = run("check", str(path), "--threads", "1", "--format", "json")
    assert cli.exit_code == 0, cli.output
    assert [r["metric"] for r in json.loads(cli.stdout)["results"]] == ["latency_ms"]


# --- a ratio to the model itself, under another name ---------------------------------------------

SPELLINGS = [
    ("mobilenet_v1", "mobilenet"),  # a registry alias
    ("mobilenet", "MobileNet"),
    ("mobilenet", "mobilenet@alpha=1.0"),  # a variant at the spec's own defaults
    ("mobilenet", "mobilenet@resolution=224"),
    ("mobilenet@separable", "mobilenet_v1@separable"),
    ("lenet5", str(ROOT / "configs/models/lenet5.yaml")),  # the registry's spec file
]


@pytest.mark.parametrize(("model", "reference"), SPELLINGS)
def test_a_budget_ratio_to_the_model_under_another_name_is_refused(tmp_path, model, reference):
    text = (
        f"models:\n  - model: '{model}'\n    max_latency_ratio: 2\n    reference: '{reference}'\n"
    )
    path = _file(tmp_path, "b.yaml", text)
    assert_error(
        run("check", str(path)),
        f"field 'reference': {reference} is {model} under another name",
        "a ratio to itself is 1 on any machine",
    )
    with pytest.raises(CheckFileError, match="under another name"):
        cnnprof.check(path)


def test_the_file_s_default_reference_is_refused_for_its_alias(tmp_path):
    text = "reference: mobilenet\nmodels:\n  - {model: mobilenet_v1, max_latency_ratio: 2}\n"
    assert_error(
        run("check", str(_file(tmp_path, "b.yaml", text))),
        "entry 1 (mobilenet_v1): field 'reference': mobilenet is mobilenet_v1 under another name",
    )


def test_an_outside_model_is_its_own_reference_by_another_path(tmp_path, monkeypatch):
    """`./net.py:make` is `net.py:make`; with inputs of its own the model is another
    configuration of the same factory, and is measured."""
    monkeypatch.chdir(tmp_path)
    _file(tmp_path, "net.py", "def make():\n    raise AssertionError('never called')\n")
    entry = "  - model: net.py:make\n    max_latency_ratio: 2\n    reference: ./net.py:make\n"
    path = _file(tmp_path, "b.yaml", "models:\n" + entry)
    assert_error(run("check", str(path)), "./net.py:make is net.py:make under another name")
    own = _file(tmp_path, "own.yaml", "models:\n" + entry + "    input: [3, 8, 8]\n")
    assert read_budgets(own)[0].reference == "./net.py:make"


@pytest.mark.parametrize(
    ("model", "reference"), [("mobilenet", "mobilenet@alpha=0.5"), ("mobilenet", "resnet18")]
)
def test_another_model_is_a_reference(tmp_path, model, reference):
    text = (
        f"models:\n  - model: '{model}'\n    max_latency_ratio: 2\n    reference: '{reference}'\n"
    )
    assert read_budgets(_file(tmp_path, "b.yaml", text))[0].reference == reference


def test_a_baseline_ratio_to_the_model_under_another_name_is_refused(tmp_path):
    latency = {
        "median_ms": 10.0,
        "device": "cpu",
        "device_name": "Test CPU",
        "threads": 1,
        "reference": "mobilenet",
        "ratio": 1.0,
    }
    entry = {"model": "mobilenet_v1", "counts": {"macs": 1}, "latency": latency}
    doc = {"schema": "cnnprof.snapshot/1", "models": [entry]}
    path = _file(tmp_path, "baseline.json", json.dumps(doc))
    with pytest.raises(CheckFileError, match="mobilenet is mobilenet_v1 under another name"):
        read_baseline(path)
    assert_error(run("check", str(path)), "latency: field 'reference'", "under another name")


def test_a_snapshot_against_a_model_s_alias_is_refused_before_measuring():
    def never() -> None:
        raise AssertionError("measured")

    with pytest.raises(OptionError, match="--reference: mobilenet is mobilenet_v1 under"):
        checks.snapshot(["resnet18", "mobilenet_v1"], machine=never, reference="mobilenet")
    with pytest.raises(OptionError, match="under another name"):
        cnnprof.snapshot(["mobilenet_v1"], latency=True, reference="mobilenet")
    assert_error(
        run("snapshot", "mobilenet_v1", "--latency", "--reference", "mobilenet"),
        "--reference: mobilenet is mobilenet_v1 under another name",
    )


# --- check baseline.json --timeout ---------------------------------------------------------------


@pytest.mark.torch
def test_a_baseline_entry_stops_at_a_short_timeout(tmp_path):
    """`check baseline.json --timeout 1` stops an entry whose factory sleeps 3 s, naming it
    (the slow test in test_check_trust.py stops a 60 s one at --timeout 2)."""
    factory = _file(tmp_path, "sleeps.py", "import time\n\n\ndef make():\n    time.sleep(3)\n")
    doc = {
        "schema": "cnnprof.snapshot/1",
        "models": [{"model": f"{factory}:make", "counts": {"macs": 1}}],
    }
    path = _file(tmp_path, "baseline.json", json.dumps(doc))
    assert_error(  # the message itself says the factory was stopped: its sleep never ended
        run("check", str(path), "--timeout", "1"),
        f"{factory}:make",
        "did not finish within 1 s (--timeout)",
    )


class _Stop(Exception):
    """What the stub machine raises once it has seen the requests it was asked to measure."""


class _Stub:
    """A machine that records what it is asked to measure together, and measures nothing."""

    def __init__(self) -> None:
        self.seen: list[Request] = []

    def __call__(self) -> _Stub:  # made as a check makes its machine
        return self

    def at(self, threads: object, processes: object) -> _Stub:
        return self

    def together(self, requests: Sequence[Request], device: str, runtime: str) -> None:
        self.seen += requests
        raise _Stop


def test_the_timeout_bounds_an_outside_reference_too(tmp_path, monkeypatch):
    """A ratio's outside reference runs its own code: the command's --timeout bounds it, as it
    bounds the entries' models (a spec reference keeps the default: it runs none)."""
    monkeypatch.chdir(tmp_path)
    _file(tmp_path, "ref.py", "def make():\n    raise AssertionError('never run')\n")
    for reference, bound in (("ref.py:make", 7.0), ("resnet18", DEFAULT_TIMEOUT)):
        text = f"models:\n  - {{model: lenet5, max_latency_ratio: 2, reference: '{reference}'}}\n"
        stub = _Stub()
        with pytest.raises(_Stop):
            checks.run_check(_file(tmp_path, "b.yaml", text), machine=stub, timeout=7)
        assert [(r.model, r.timeout) for r in stub.seen] == [
            ("lenet5", DEFAULT_TIMEOUT),
            (reference, bound),
        ]


@pytest.mark.torch
def test_snapshot_timeout_bounds_an_outside_reference(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _file(tmp_path, "net.py", "from torch import nn\n\n\ndef make():\n    return nn.Linear(2, 2)\n")
    _file(tmp_path, "ref.py", "def make():\n    raise AssertionError('never run')\n")
    stub = _Stub()
    with pytest.raises(_Stop):
        checks.snapshot(
            ["net.py:make"], input=[(2,)], machine=stub, reference="./ref.py:make", timeout=7
        )
    assert [r.timeout for r in stub.seen] == [7, 7]


@pytest.mark.torch
@pytest.mark.slow
def test_check_timeout_stops_a_reference_that_sleeps(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _file(tmp_path, "sleeps.py", "import time\n\n\ndef make():\n    time.sleep(3)\n")
    text = "models:\n  - {model: lenet5, max_latency_ratio: 2, reference: sleeps.py:make}\n"
    path = _file(tmp_path, "b.yaml", text)
    assert_error(
        run("check", str(path), "--timeout", "1", "--threads", "1"),
        "sleeps.py:make: its own code did not finish within 1 s (--timeout)",
    )
