"""Output fits any terminal (issue 16): every command at 60, 80 and 120 columns and piped with no
COLUMNS; nothing essential is cut ('…' never appears; model names, paths and numbers are whole),
and a table too wide for the width leaves its low-value columns out and says so."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnnprof.cli import app

COMMANDS = {
    "list": (["list"], ["efficientnet_b7", "724.41 M"]),
    "count": (["count", "mobilenet", "--layers"], ["mobilenet_v1", "1.pw", "568.74 M"]),
    "count by op": (["count", "resnet50", "--by", "op"], ["conv 1×1"]),
    "compare": (["compare", "mobilenet", "mobilenet@alpha=0.5,res=160"], ["568.74 M", "76.52 M"]),
    "separable": (["separable", "mobilenet", "--layers"], ["mobilenet@standard", "568.74 M"]),
    "sweep": (
        ["sweep", "mobilenet", "--alpha", "1,0.5", "--resolution", "224,128"],
        ["149.50 M", "49.16 M"],
    ),
    "check": (["check", "configs/budgets/zoo.yaml"], ["efficientnet_b7", "mobilenet@alpha=0.5"]),
}


def _run(args: list[str], columns: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    result = CliRunner(env=env).invoke(app, args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


@pytest.mark.parametrize("columns", ["60", "80", "120", None], ids=["60", "80", "120", "piped"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_fits_without_cutting(name: str, columns: str | None) -> None:
    args, whole = COMMANDS[name]
    out = _run(args, columns)
    assert "…" not in out
    for text in whole:
        assert text in out, (text, out)
    if columns is not None:
        assert max(map(len, out.splitlines())) <= int(columns)


def test_piped_output_takes_the_width_the_table_needs() -> None:
    out = _run(["count", "mobilenet", "--layers"], None)
    assert "left out" not in out
    assert "32×112×112" in out and "% params" in out


def test_a_narrow_terminal_leaves_low_value_columns_out_and_says_so() -> None:
    out = _run(["count", "resnet50", "--layers"], "60")
    assert "left out at 60 columns:" in out and "% params" in out.split("left out")[1]
    assert "conv5.2.conv3" in out


MEASURED = {
    "latency": (["latency", "lenet5", "--runs", "3", "--layers"], ["lenet5", "median"]),
    "device": (["device", "--threads", "1"], ["peak compute", "GFLOP/s"]),
}


@pytest.mark.torch
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
@pytest.mark.parametrize("columns", ["60", "80", "120", None], ids=["60", "80", "120", "piped"])
@pytest.mark.parametrize("name", list(MEASURED))
def test_measured_commands_fit_without_cutting(
    name: str, columns: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_latency import TINY_KERNELS, TINY_PLAN

    from cnnprof.empirical import peaks as peaks_module
    from cnnprof.results import judge

    monkeypatch.setenv("CNNPROF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(peaks_module, "PLANS", {"cpu": TINY_PLAN})
    monkeypatch.setattr(peaks_module, "KERNEL_PLANS", {"cpu": TINY_KERNELS})
    monkeypatch.setattr(judge, "refusals", lambda measured: [])  # tiny plans fit loosely
    args, whole = MEASURED[name]
    out = _run(args, columns)
    assert "…" not in out
    for text in whole:
        assert text in out, (text, out)
    if columns is not None:
        assert max(map(len, out.splitlines())) <= int(columns)
