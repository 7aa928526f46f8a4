"""`compare`, `sweep` and `separable` with a model that fails (issue 27, section 2): the rows of
the models that worked are kept, each failed model is one line on stderr naming it and why, and
the command exits 2; `--timeout` bounds the outside models' own code there, as in `count`. Bad
input found before any model runs stays one line, with no table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Result, assert_error, run
from test_formats import check_document

import cnnprof
from cnnprof.errors import LoadError, OptionError

pytestmark = pytest.mark.torch

FACTORIES = """
import sys
import time

from torch import nn


class Picky(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        if x.shape[-1] < 16:
            raise ValueError("needs 16 pixels or more")
        return self.conv(x)


class RealFails(Picky):
    def forward(self, x):
        if x.device.type != "meta":  # counted on meta; fails when measured on the CPU
            raise ValueError("fails on real tensors")
        return self.conv(x)


class Fragile(Picky):
    def forward(self, x):
        _ = self.conv.weight  # a separable twin's convolution has no weight of its own
        return self.conv(x)


def good():
    return Picky()


def picky():
    return Picky()


def fragile():
    return Fragile()


def real_fails():
    return RealFails()


def raises():
    raise RuntimeError("factory broke")


def exits():
    sys.exit(3)


def interrupts():
    raise KeyboardInterrupt


def hangs():
    time.sleep(60)
"""

# mobilenet's MACs as compare shows them (Howard et al. 2017, Table 8: 569 M mult-adds).
MOBILENET_MACS = "568.74 M"


@pytest.fixture
def nets(tmp_path: Path) -> str:
    """The factories' file, as the prefix of a reference (``nets + "raises"``)."""
    path = tmp_path / "nets.py"
    path.write_text(FACTORIES)
    return f"{path}:"


def failed_lines(result: Result, *names: str) -> list[str]:
    """Exit 2, no traceback, and one line on stderr per name, in order, each naming it."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == len(names), result.stderr
    for line, name in zip(lines, names, strict=True):
        assert line.startswith(f"cnnprof: error: {name}: "), line
    return lines


@pytest.mark.parametrize(
    ("factory", "options", "why"),
    [
        ("raises", (), "RuntimeError: factory broke"),
        ("exits", (), "sys.exit(3)"),
        ("interrupts", (), "KeyboardInterrupt"),
        ("hangs", ("--timeout", "1"), "did not finish within 1 s (--timeout)"),
    ],
)
def test_compare_keeps_the_rows_of_the_models_that_worked(
    nets: str, factory: str, options: tuple[str, ...], why: str
) -> None:
    result = run("compare", "mobilenet", nets + factory, *options)
    (line,) = failed_lines(result, nets + factory)
    assert why in line
    assert "mobilenet" in result.stdout and MOBILENET_MACS in result.stdout
    assert "ratios to mobilenet" in result.stdout


def test_compare_json_carries_the_good_rows_and_the_failures(nets: str) -> None:
    result = run("compare", "mobilenet", nets + "raises", nets + "good", "--format", "json")
    failed_lines(result, nets + "raises")
    doc = json.loads(result.stdout)
    check_document(doc)
    assert [m["model"] for m in doc["models"]] == ["mobilenet", nets + "good"]
    assert doc["baseline"] == "mobilenet"
    (failed,) = doc["failed"]
    assert failed["model"] == nets + "raises" and "factory broke" in failed["error"]


def test_a_comparison_without_failures_has_no_failed_field() -> None:
    result = run("compare", "mobilenet", "resnet18", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "failed" not in json.loads(result.stdout)


@pytest.mark.parametrize("fmt", ["csv", "md"])
def test_compare_csv_and_markdown_keep_the_good_rows(nets: str, fmt: str) -> None:
    result = run("compare", "mobilenet", nets + "exits", "--format", fmt)
    failed_lines(result, nets + "exits")
    assert "mobilenet" in result.stdout and nets + "exits" not in result.stdout


@pytest.mark.slow
def test_a_model_that_fails_when_measured_leaves_the_others_measured(nets: str) -> None:
    result = run("compare", "lenet5", nets + "real_fails", nets + "good", "--latency")
    assert result.exit_code == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("cnnprof: error:")]
    assert len(errors) == 1 and "fails on real tensors" in errors[0], result.stderr
    assert errors[0].startswith(f"cnnprof: error: {nets}real_fails: forward failed")
    assert "latency median" in result.stdout and nets + "good" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_no_ratios_to_a_baseline_that_failed(nets: str) -> None:
    """The ratios are to the model the user chose (or the first): when it fails, none are shown
    rather than ratios to a model nobody chose."""
    result = run("compare", nets + "raises", "mobilenet", "resnet18")
    failed_lines(result, nets + "raises")
    assert "no ratios: the baseline failed" in result.stdout
    assert "(×" not in result.stdout and MOBILENET_MACS in result.stdout
    chosen = run(
        "compare", "mobilenet", nets + "raises", "--baseline", nets + "raises", "-f", "json"
    )
    failed_lines(chosen, nets + "raises")
    doc = json.loads(chosen.stdout)
    check_document(doc)
    assert doc["baseline"] is None
    assert all(r is None for r in doc["models"][0]["ratios"].values())


def test_every_model_failed_is_the_error_lines_alone(nets: str) -> None:
    result = run("compare", nets + "raises", nets + "exits")
    failed_lines(result, nets + "raises", nets + "exits")
    assert result.stdout == ""


def test_bad_input_before_any_work_is_one_line_and_no_table(nets: str) -> None:
    assert_error(run("compare", "mobilenet", nets + "good", "nosuchnet"), "nosuchnet")
    assert_error(run("compare", "mobilenet", nets + "good", "--baseline", "vgg16"), "--baseline")
    assert_error(run("sweep", "mobilenet", "--alpha", "1,abc"), "--alpha")
    assert_error(run("compare", "mobilenet", nets + "good", "--timeout", "0"), "--timeout 0")


def test_compare_timeout_goes_to_the_outside_models_only(nets: str) -> None:
    """A spec beside an outside model is not refused for --timeout: it runs no code of the
    user's; with no outside model at all, --timeout would do nothing and is refused."""
    result = run("compare", "mobilenet", nets + "good", "--timeout", "30")
    assert result.exit_code == 0, result.stderr
    assert_error(
        run("compare", "mobilenet", "resnet18", "--timeout", "30"), "--timeout 30", "none is named"
    )


def test_sweep_keeps_the_points_that_worked(nets: str) -> None:
    result = run("sweep", nets + "picky", "--resolution", "32,8,16")
    (line,) = failed_lines(result, nets + "picky@res=8")
    assert "needs 16 pixels or more" in line
    rows = [r for r in result.stdout.splitlines() if r.startswith("│")]
    assert [r.split("│")[1].strip() for r in rows] == ["32", "16"]


def test_sweep_where_every_point_failed(nets: str) -> None:
    result = run("sweep", nets + "exits", "--resolution", "32,16", "--format", "json")
    failed_lines(result, nets + "exits@res=32", nets + "exits@res=16")
    assert result.stdout == ""


def test_sweep_json_carries_the_failures(nets: str) -> None:
    result = run("sweep", nets + "picky", "--resolution", "32,8", "--format", "json")
    failed_lines(result, nets + "picky@res=8")
    doc = json.loads(result.stdout)
    check_document(doc)
    assert [p["resolution"] for p in doc["points"]] == [32]
    assert [f["model"] for f in doc["failed"]] == [nets + "picky@res=8"]


def test_sweep_and_separable_refuse_timeout_for_a_spec() -> None:
    for command in (("sweep", "mobilenet", "--alpha", "1,0.5"), ("separable", "mobilenet")):
        assert_error(run(*command, "--timeout", "5"), "--timeout 5", "mobilenet is a spec")


def test_separable_keeps_the_model_when_its_twin_fails(nets: str) -> None:
    result = run("separable", nets + "fragile")
    (line,) = failed_lines(result, nets + "fragile@separable")
    assert "AttributeError" in line
    assert "as written" in result.stdout and "separable twin" not in result.stdout
    doc = json.loads(run("separable", nets + "fragile", "--format", "json").stdout)
    check_document(doc)
    assert doc["separable"] is None and doc["failed"][0]["model"] == nets + "fragile@separable"


@pytest.mark.parametrize(
    ("factory", "options"),
    [("raises", ()), ("interrupts", ()), ("hangs", ("--timeout", "1"))],
)
def test_separable_of_a_model_that_fails_is_one_line(
    nets: str, factory: str, options: tuple[str, ...]
) -> None:
    """The twins are made from the model as written: when it fails, nothing is left to show."""
    assert_error(run("separable", nets + factory, *options), nets + factory)


def test_the_api_takes_timeout_and_raises_a_models_failure(nets: str) -> None:
    comparison = cnnprof.compare("mobilenet", nets + "good", timeout=30)
    assert [c.label for c in comparison.columns] == ["mobilenet", nets + "good"]
    assert not comparison.failed
    with pytest.raises(LoadError, match="factory broke"):
        cnnprof.compare("mobilenet", nets + "raises")
    assert cnnprof.separable(nets + "good", timeout=30).separable is not None
    assert len(cnnprof.sweep(nets + "good", resolution="32,16", timeout=30)) == 2
    with pytest.raises(OptionError, match="mobilenet is a spec"):
        cnnprof.sweep("mobilenet", alpha="1,0.5", timeout=5)
