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


# Issue 25: narrow terminals keep what matters — each table's answer stays, context leaves first.
NARROW = ["60", "80"]


def _header(out: str, first: str) -> str:
    """The header line of the table whose first column is ``first``."""
    return next(line for line in out.splitlines() if line.startswith(f"┃ {first} "))


@pytest.mark.parametrize("columns", NARROW)
def test_a_narrow_sweep_keeps_the_pareto_mark_and_top1(columns: str) -> None:
    out = _run(["sweep", "mobilenet", "--alpha", "1,0.75,0.5,0.25", "--pareto"], columns)
    header = _header(out, "alpha")
    assert "Pareto" in header and "top-1" in header and "MACs" in header
    assert out.count("★") == 4  # every width multiplier is on the MACs / top-1 frontier
    # MobileNet paper (Howard et al. 2017), Table 6: top-1 of 1.0, 0.75, 0.5, 0.25 MobileNet-224
    for top1 in ("70.6", "68.4", "63.7", "50.6"):
        assert top1 in out
    assert "weights" in out.split("left out at")[1]  # the context leaves first


@pytest.mark.parametrize("columns", NARROW)
def test_a_narrow_separable_keeps_the_separable_macs_and_the_ratio(columns: str) -> None:
    out = _run(["separable", "mobilenet", "--layers"], columns)
    header = _header(out, "layer")
    assert "separable MACs" in header and "ratio" in header
    # layer 1 (32→64, 3×3 at 112×112): (9·32 + 32·64)·112² = 29.30 M MACs, the ratio
    # 1/N + 1/D_K² = 1/64 + 1/9 = 0.1267 (Howard et al. 2017, Sec. 3.1)
    assert "29.30 M" in out and "0.1267" in out
    assert "1/N + 1/k²" in out.split("left out at")[-1]


@pytest.mark.parametrize("columns", NARROW)
def test_a_narrow_compare_breaks_no_model_name_inside_a_word(columns: str) -> None:
    models = ["mobilenet@alpha=0.5,res=160", "efficientnet_b0", "resnet50"]
    out = _run(["compare", *models], columns)
    assert max(map(len, out.splitlines())) <= int(columns)
    header = out.split("┡")[0]
    for word in ("mobilenet", "@alpha=0.5,", "res=160", "efficientnet_b0", "resnet50"):
        assert word in header, (word, header)
    assert "(×50.41)" in out  # resnet50's MACs over the baseline's, on a line of its own


@pytest.mark.parametrize("columns", NARROW)
def test_more_models_than_a_narrow_terminal_holds_go_in_several_tables(columns: str) -> None:
    """Four models at 60 columns: rather than break a name (or a metric) inside a word, the
    models go in tables one under the other, the metric column in each."""
    models = ["mobilenet", "mobilenet@alpha=0.5,res=160", "efficientnet_b0", "resnet50"]
    out = _run(["compare", *models, "--pareto"], columns)
    assert max(map(len, out.splitlines())) <= int(columns)
    headers = " ".join(table.split("┡")[0] for table in out.split("┏")[1:])
    for word in ("mobilenet", "@alpha=0.5,", "res=160", "efficientnet_b0", "resnet50"):
        assert word in headers, (word, headers)
    assert "activations" in out and out.count("★") == 3  # two on the frontier, one in the note
    assert "(×6.78)" in out  # resnet50's MACs over mobilenet's 568.74 M: 3.86 G


def test_a_wide_compare_keeps_each_name_and_ratio_on_one_line() -> None:
    out = _run(["compare", "mobilenet@alpha=0.5,res=160", "efficientnet_b0", "resnet50"], "120")
    assert "mobilenet@alpha=0.5,res=160" in out and "3.86 G (×50.41)" in out


def test_importance_keeps_the_answer_and_drops_the_context_first() -> None:
    from cnnprof.render.common import Importance, name_lines

    headers = ["name", "a", "b", "c", "d"]
    assert Importance().drop_order(headers, 1) == ["d", "c", "b"]
    assert Importance(answer=("d",), context=("b",)).drop_order(headers, 1) == ["b", "c", "a"]
    assert Importance(answer=("x",)).drop_order(headers, 1) == ["d", "c", "b"]
    assert name_lines("mobilenet@alpha=0.5,res=160") == "mobilenet\n@alpha=0.5,\nres=160"
    assert name_lines("resnet50") == "resnet50"


@pytest.mark.parametrize("width", [60, 80])
def test_a_narrow_rich_console_keeps_the_answer_too(width: int) -> None:
    """The same columns stay when a program prints the table on its own rich console."""
    import io

    from rich.console import Console

    from cnnprof.api.request import request
    from cnnprof.api.tables import separable, sweep_model, sweep_settings
    from cnnprof.render.tables import present
    from cnnprof.report.view import View

    def shown(result: object, view: View) -> str:
        console = Console(file=io.StringIO(), record=True, width=width)
        console.print(present(result, view))  # type: ignore[arg-type]
        return console.export_text()

    swept = shown(sweep_model("mobilenet", sweep_settings("1,0.5", None, None, None)), View())
    assert "Pareto" in _header(swept, "alpha") and "top-1" in _header(swept, "alpha")
    layers = shown(separable(request("mobilenet")), View(layers=True))
    assert "separable MACs" in _header(layers, "layer") and "ratio" in _header(layers, "layer")
