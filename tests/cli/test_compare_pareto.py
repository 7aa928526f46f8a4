"""`compare --pareto` marks the models no other beats on published top-1 for less cost (issue 25,
item 4), with sweep's own frontier: in the table, the JSON, the CSV and the chart; models without
a published top-1 are not ranked, and a note says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_error, run

from cnnprof.api.tables import compare
from cnnprof.render import charts

# MobileNet paper (Howard et al. 2017), Table 7: 0.5 MobileNet-160, 60.2 % at 76 M MACs; Table 6:
# 1.0 MobileNet-224, 70.6 % at 569 M; EfficientNet paper (Tan & Le 2019), Table 2: B0, 77.1 % at
# 0.39 B FLOPs (multiply-adds). ResNet-50 has no top-1 in the registry.
MODELS = ["mobilenet@alpha=0.5,res=160", "efficientnet_b0", "resnet50", "mobilenet"]


def _json(*args: str) -> dict[str, Any]:
    result = run("compare", *MODELS, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_table_marks_the_frontier_and_says_which_models_are_not_ranked() -> None:
    result = run("compare", *MODELS, "--pareto")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("│ Pareto"))
    cells = [c.strip() for c in row.strip("│").split("│")][1:]
    assert cells == ["★", "★", "not ranked", ""]  # 1.0 MobileNet-224 loses to B0 on both
    assert "not ranked (no published top-1): resnet50" in " ".join(result.stdout.split())


def test_json_and_csv_carry_the_flags_only_when_asked() -> None:
    marked = _json("--pareto")
    assert marked["ranked_on"] == "macs"
    assert [m["pareto"] for m in marked["models"]] == [True, True, None, False]
    plain = _json()
    assert "ranked_on" not in plain and all("pareto" not in m for m in plain["models"])
    csv = run("compare", *MODELS, "--pareto", "--format", "csv").stdout.splitlines()
    assert csv[0].endswith(",pareto") and csv[1].endswith(",True") and csv[4].endswith(",False")


def test_pareto_by_picks_the_cost_and_implies_pareto() -> None:
    by_params = _json("--pareto-by", "params")
    assert by_params["ranked_on"] == "params"
    # on params (1.33 M, 5.29 M, 4.23 M) the 1.0 MobileNet is no longer beaten by B0
    assert [m["pareto"] for m in by_params["models"]] == [True, True, None, True]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--pareto-by", "latency"], "(did you mean 'latency_ms'?): expected one of macs, params"),
        (["--pareto-by", "latency_ms"], "needs --latency"),
        (["--pareto-by", "predicted_ms"], "needs --device-profile"),
    ],
)
def test_a_cost_that_cannot_rank_is_one_line_and_exit_2(args: list[str], fragment: str) -> None:
    assert_error(run("compare", *MODELS, *args), fragment)


def test_compare_marks_what_sweep_marks_on_the_same_configurations() -> None:
    """One frontier, the sweep's: the same four width multipliers give the same flags."""
    sweep = run("sweep", "mobilenet", "--alpha", "1,0.75,0.5,0.25", "--pareto", "--format", "json")
    points = json.loads(sweep.stdout)["points"]
    models = [p["model"] for p in points]
    marked = json.loads(run("compare", *models, "--pareto", "--format", "json").stdout)
    assert [m["pareto"] for m in marked["models"]] == [p["pareto"] for p in points]
    assert marked["ranked_on"] == json.loads(sweep.stdout)["ranked_on"]


def test_the_chart_draws_the_frontier(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    drawn: dict[str, Any] = {}
    monkeypatch.setattr(
        charts,
        "scatter",
        lambda path, labels, x, y, frontier, *a, **k: drawn.update(
            labels=labels, frontier=frontier
        ),
    )
    charts.models_chart(tmp_path / "c.png", compare(MODELS, pareto=True))
    flags = dict(zip(drawn["labels"], drawn["frontier"], strict=True))
    assert flags == {MODELS[0]: True, MODELS[1]: True, MODELS[3]: False}  # resnet50: no top-1


def test_the_python_api_marks_as_the_cli_does() -> None:
    import cnnprof

    assert cnnprof.compare(*MODELS, pareto=True).pareto() == [True, True, None, False]
    assert cnnprof.compare(*MODELS).pareto() == [None] * 4


def test_sweep_takes_the_same_option() -> None:
    """`sweep --pareto-by params`: at equal params a lower resolution only loses accuracy (MobileNet
    paper, Tables 6 and 7: 1.0 at 224 70.6 %, at 160 67.2 %; 0.5 at 224 63.7 %, at 160 60.2 %)."""
    args = ["--alpha", "1,0.5", "--resolution", "224,160", "--pareto-by", "params"]
    result = run("sweep", "mobilenet", *args, "--format", "json")
    document = json.loads(result.stdout)
    assert document["ranked_on"] == "params"
    assert [p["pareto"] for p in document["points"]] == [True, False, True, False]
    assert_error(run("sweep", "mobilenet", "--alpha", "1,0.5", "--pareto-by", "top1"), "macs")
