"""Say what was measured (issue 25, item 5): a latency's title names the model as the user wrote
it, variant and all, and keeps its threads and dtype on a narrow terminal; `compare --latency`
flags a noisy model as `latency` does and gives no ratio of a spread (p10, p90, CV)."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cnnprof.api.tables import compare
from cnnprof.cli import app
from cnnprof.render import latency as render
from cnnprof.render.tables import present
from cnnprof.report import tables as report
from cnnprof.report.view import View
from cnnprof.results.latency import Measured
from cnnprof.results.metrics import Comparison
from cnnprof.results.timing import Timing

VARIANT = "mobilenet@alpha=0.25,res=128"


def _timing(samples: tuple[float, ...], threads: int = 2) -> Timing:
    """A timing of mobilenet_v1 (the registry's name) at ``threads``, float32, batch 1."""
    head = ("mobilenet_v1", "cpu", "Test CPU", threads, "float32", 1, False, "2.13.0")
    return Timing(*head, samples, warmup_runs=3, warmup_stable=True, budget_hit=False)


QUIET = (0.0100, 0.0101, 0.0102, 0.0101, 0.0100)
NOISY = (0.204, 0.31, 0.52, 0.9, 1.28)  # issue 24's busy machine: CV far over 10 %


def _shown(renderable: object, width: int) -> str:
    console = Console(record=True, width=width)
    console.print(renderable)
    return console.export_text()


def _cli(columns: str, *args: str) -> str:
    env = {**{k: v for k, v in os.environ.items() if k != "COLUMNS"}, "COLUMNS": columns}
    result = CliRunner(env=env).invoke(app, ["latency", VARIANT, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("columns", ["60", "80", "120"])
def test_a_predicted_latency_is_titled_as_written_with_its_dtype_and_threads(columns: str) -> None:
    out = _cli(columns, "--device-profile", "amd-epyc-1t")
    words = " ".join(out.split())
    assert VARIANT in out and "mobilenet_v1" not in out
    assert "float32 · 1 thread" in words and "…" not in out
    assert max(map(len, out.splitlines())) <= int(columns)


def test_the_markdown_title_names_the_variant_too() -> None:
    assert _cli("100", "--device-profile", "amd-epyc-1t", "--format", "md").startswith(
        f"**{VARIANT} · predicted for"
    )


@pytest.mark.parametrize("width", [60, 100])
def test_a_measured_latency_is_titled_as_written_with_its_dtype_and_threads(width: int) -> None:
    measured = replace(Measured.alone(_timing(QUIET)), label=VARIANT)
    out = _shown(render.present(measured, View()), width)
    words = " ".join(out.split())
    assert VARIANT in out and "mobilenet_v1" not in out
    assert "float32 · 2 threads" in words and "…" not in out
    assert max(map(len, out.splitlines())) <= width


def test_the_api_names_a_prediction_as_the_request_does() -> None:
    from cnnprof.api.latency import device_profile, predict_on
    from cnnprof.api.request import request

    assert predict_on(request(VARIANT), device_profile("amd-epyc-1t")).label == VARIANT


def _measured_comparison() -> Comparison:
    return compare(
        ["mobilenet", "mobilenet@alpha=0.5"], measure=lambda reqs: [_timing(NOISY), _timing(QUIET)]
    )


def test_compare_flags_a_noisy_model_with_latencys_rule_and_words() -> None:
    result = _measured_comparison()
    words = " ".join(_shown(present(result, View()), 160).split())
    assert "noisy" in words and "yes: CV" in words
    # the words `latency` prints for a noisy timing, with the same 10 % threshold (NOISY_CV)
    assert "noisy: mobilenet: runs vary by" in words and "(over 10 %): read the p10–p90" in words
    quiet = compare(["mobilenet", "mobilenet@alpha=0.5"], measure=lambda reqs: [_timing(QUIET)] * 2)
    assert "noisy" not in _shown(present(quiet, View()), 160)


def test_compare_gives_ratios_of_the_median_not_of_the_spread() -> None:
    _, rows, _ = report.compare_grid(_measured_comparison())
    by_metric = {row[0]: row for row in rows}
    assert "(×" in by_metric["latency median (ms)"][2]
    for spread in ("latency p10 (ms)", "latency p90 (ms)", "latency CV (%)"):
        assert all("(×" not in cell for cell in by_metric[spread][1:]), by_metric[spread]
    assert "(×" in by_metric["MACs"][2] and "(×" in by_metric["params"][2]


@pytest.mark.torch
def test_the_api_names_a_measurement_as_the_request_does_and_show_titles_it_so() -> None:
    """`cnnprof.show` of the `Timing` `cnnprof.latency` returns prints the CLI's title: the model
    as written, not the registry's name."""
    pytest.importorskip("torch")
    import cnnprof
    from cnnprof.render.show import text

    tiny = "mobilenet@alpha=0.25,res=32"
    timing = cnnprof.latency(tiny, threads=1, runs=5, warmup=2)
    assert timing.model == "mobilenet_v1" and timing.label == tiny
    assert text(timing, width=120).splitlines()[0].startswith(f"╭─ {tiny} · ")
