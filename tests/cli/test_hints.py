"""A mistake answered with what to do (issue 25, items 2 and 8): a missing package with the command
that installs it the way the README does (torch from its CPU wheels, torchvision and timm at the
zoo's pins), a mistyped name with the closest one, a list where one value is taken with the
`cnnprof sweep` that takes it; each in one line, exit 2, before any work."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from conftest import assert_error, run

from cnnprof.errors import INSTALL, MissingExtra

ROOT = Path(__file__).resolve().parents[2]
FACTORY_FILE = "tests/factories/custom_cnn.py"


def test_the_torch_hint_is_the_readmes_cpu_wheel_command():
    """README, "Use in CI": torch from pytorch's CPU index first, then the extra."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    cpu = "pip install torch --index-url https://download.pytorch.org/whl/cpu"
    assert cpu in readme
    assert INSTALL["torch"] == f"{cpu}, then pip install 'cnnprof[torch]'"
    error = MissingExtra.of("torch", "--empirical")
    assert str(error) == f"--empirical needs torch: {INSTALL['torch']}" and error.exit_code == 2


def test_torchvision_and_timm_hints_are_the_zoos_pins():
    """The Makefile's ZOO_PINS (the zoo's environment, `make zoo`) are the versions named."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    pins = re.search(r"^ZOO_PINS\s*\?=\s*(.+)$", makefile, re.M)
    assert pins is not None
    for pin in pins.group(1).split():
        assert pin in INSTALL["timm"], pin
    for package in ("torchvision", "timm"):
        assert "make zoo" in INSTALL[package] and "whl/cpu" in INSTALL[package]


def test_the_readme_says_what_its_torchvision_examples_need():
    """The Faster R-CNN and RAFT examples name the zoo's environment and the hint's command."""
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    passage = readme.split("This example and RAFT's below need torchvision")[1][:300]
    assert "`make zoo`" in passage
    assert INSTALL["torchvision"].split(" (or")[0] in passage


@pytest.mark.torch
@pytest.mark.parametrize("source", ["torchvision", "timm"])
def test_an_outside_library_that_is_missing_says_how_to_install_it(source: str):
    if importlib.util.find_spec(source) is not None:
        pytest.skip(f"{source} is installed")
    assert_error(run("count", f"{source}:resnet18"), f"needs {source}: {INSTALL[source]}")


@pytest.mark.parametrize(
    "args",
    [
        ("compare", "mobilenet", "resnet18", "--plot", "out.png"),
        ("sweep", "mobilenet", "--alpha", "1,0.5", "--plot", "out.png"),
        pytest.param(("latency", "mobilenet", "--plot", "out.png"), marks=pytest.mark.torch),
    ],
)
def test_plot_without_matplotlib_fails_before_any_work(
    args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    for name in ("tables.compare", "tables.sweep_model", "latency.measure"):
        monkeypatch.setattr(f"cnnprof.api.{name}", pytest.fail)  # nothing is computed
    assert_error(run(*args), "--plot needs matplotlib: pip install 'cnnprof[plot]'")


def test_a_plot_into_a_missing_folder_fails_before_any_work(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("cnnprof.api.tables.compare", pytest.fail)  # nothing is computed
    args = ("compare", "mobilenet", "resnet18", "--plot", "/nonexistent/folder/x.png")
    assert_error(run(*args), "--plot /nonexistent/folder/x.png: cannot write: no folder")


def _budget(tmp_path: Path) -> str:
    path = tmp_path / "budget.yaml"
    path.write_text("models:\n  - model: mobilenet\n    max_mac: 600M\n", encoding="utf-8")
    return str(path)


MISTAKES = [
    (("count", "mobilenet@aplha=0.5"), "unknown variant key 'aplha' (did you mean 'alpha'?)"),
    (("count", "mobilenet@alpha"), "variant key 'alpha' needs a value (alpha=…)"),
    (("count", "regnet_y_400mf@wm"), "variant key 'wm' needs a value (wm=…)"),
    (("count", "regnet_y_400mf", "--param", "wn=2"), "--param 'wn=2' (did you mean 'wm'?)"),
    (
        ("count", "configs/models/mobilenet_v1.yaml:mobilenet_v1x"),
        "no variant 'mobilenet_v1x' (did you mean 'mobilenet_v1'?)",
    ),
    (("count", FACTORY_FILE), f"name its factory, {FACTORY_FILE}:FACTORY", "CustomCNN, make,"),
    (
        ("count", "mobilenet", "--alpha", "1,5"),
        "--alpha 1,5: count takes one value (a decimal point is '.': 1.5)",
        "`cnnprof sweep MODEL --alpha 1,5`",
    ),
    (("count", "mobilenet", "--alpha", "1,0.5"), "`cnnprof sweep MODEL --alpha 1,0.5`"),
    (("count", "mobilenet", "-r", "224,192"), "`cnnprof sweep MODEL --resolution 224,192`"),
    (("count", "efficientnet_b0", "--phi", "0..7"), "`cnnprof sweep MODEL --phi 0..7`"),
    (
        ("count", "regnet_y_400mf", "--param", "wm=2,2.5"),
        "`cnnprof sweep regnet_y_400mf --param wm=2,2.5`",
    ),
    (("count", "mobilenet", "--rho", "1,0.5"), "--rho 1,0.5: count takes one value"),
]


@pytest.mark.parametrize(("args", *["fragments"]), [(a, f) for a, *f in MISTAKES])
def test_a_mistake_gets_what_was_meant(args: tuple[str, ...], fragments: list[str]):
    assert_error(run(*args), *fragments)


def test_a_mistyped_budget_field_gets_the_closest(tmp_path: Path):
    assert_error(
        run("check", _budget(tmp_path)), "unknown field 'max_mac' (did you mean 'max_macs'?)"
    )


@pytest.mark.torch
@pytest.mark.parametrize("reference", [f"{FACTORY_FILE}:mak", "tests.factories.custom_cnn:mak"])
def test_a_mistyped_factory_gets_the_closest_and_the_modules_callables(
    reference: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(ROOT)
    assert_error(
        run("count", reference), "no callable 'mak'", "(did you mean 'make'?)", "it defines MyConv"
    )


def test_the_sweep_pointed_to_runs():
    result = run("sweep", "mobilenet", "--alpha", "1,0.5")
    assert result.exit_code == 0, result.stderr


def test_a_mistyped_command_is_suggested_once():
    err = assert_error(run("cuont", "mobilenet"), "No such command 'cuont'.")
    assert err.count("Did you mean 'count'?") == 1, err
