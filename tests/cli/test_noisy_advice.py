"""A noisy measurement's advice names what helps on a shared machine (issue 24: at 2 threads
mobilenet measured 204–1,280 ms on a busy machine, and the advice named --min-time, which did
not help): a quieter machine, and --threads 1 where more threads ran."""

from __future__ import annotations

import pytest
from rich.console import Console

from cnnprof.render import latency as render
from cnnprof.report.view import View
from cnnprof.results.latency import Measured
from cnnprof.results.timing import Timing


def _noisy(threads: int) -> str:
    timing = Timing(
        model="mobilenet_v1",
        device="cpu",
        device_name="Test CPU",
        threads=threads,
        dtype="float32",
        batch=1,
        channels_last=False,
        torch_version="2.13.0",
        samples=(0.204, 0.31, 0.52, 0.9, 1.28),
        warmup_runs=3,
        warmup_stable=True,
        budget_hit=False,
    )
    console = Console(record=True, width=200)
    console.print(render.present(Measured.alone(timing), View()))
    return " ".join(console.export_text().split())


@pytest.mark.parametrize(("threads", "suggested"), [(2, True), (1, False)])
def test_noisy_advice_suggests_one_thread_where_more_ran(threads: int, suggested: bool):
    text = _noisy(threads)
    assert "noisy" in text and "a quieter machine" in text
    assert "--min-time" not in text
    assert ("--threads 1" in text) is suggested
