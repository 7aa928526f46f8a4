"""Layer tables say what they hold (issue 25, items 6, 7 and 10): a table cut by --top says how
many rows it shows and their share; rows summed by --max-depth say what they sum; the by-op
Markdown table has its own header; CSV writes shapes with ×; `latency` sums its timed rows per
op kind and into modules as `count` sums counted ones; a cross-check says why FLOPs differ.

Every expected figure is computed here from the analytic count itself (`cnnprof.count`), or, for
`tests/factories/custom_cnn.py`, from the model's own layers (named beside each figure)."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
from dataclasses import replace

import pytest
from conftest import assert_error, run
from test_predictor_names import _timing

import cnnprof
from cnnprof.results.latency import Measured
from cnnprof.results.timing import LayerTime


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def _cut(shown: int, total: int, share: float, of: str, noun: str = "rows") -> str:
    return f"{shown} of {total} {noun}, {100 * share:.1f} % of {of}"


# --- count --top: the line under a cut table ----------------------------------------------------


def test_count_top_says_how_many_rows_and_their_share_of_macs() -> None:
    profile = cnnprof.count("mobilenet")
    first = profile.layers[:5]
    line = _cut(5, len(profile.layers), sum(r.macs for r in first) / profile.macs, "MACs")
    assert line == "5 of 29 rows, 11.9 % of MACs"
    for fmt in ("table", "md"):
        assert line in ok("count", "mobilenet", "--layers", "--top", "5", "-f", fmt)


def test_count_top_by_op_counts_op_kinds_largest_first() -> None:
    kinds = sorted(cnnprof.count("mobilenet").by_kind().values(), key=lambda r: -r.macs)
    share = sum(r.macs for r in kinds[:2]) / sum(r.macs for r in kinds)
    line = _cut(2, len(kinds), share, "MACs", "op kinds")
    for fmt in ("table", "md"):
        text = ok("count", "mobilenet", "--by", "op", "--sort", "macs", "--top", "2", "-f", fmt)
        assert line in text


@pytest.mark.parametrize("args", [("--sort", "macs"), ("--top", "29"), ()])
def test_a_table_that_shows_every_row_says_nothing_more(args: tuple[str, ...]) -> None:
    assert " of 29 rows" not in ok("count", "mobilenet", "--layers", *args)


# --- count --max-depth: summed rows say what they sum -------------------------------------------


def test_a_summed_row_is_a_block_of_its_kinds_in_every_format() -> None:
    """resnet50's conv2.0 (a bottleneck: 1×1, 3×3, 1×1 and the 1×1 downsample) was shown as one
    `conv 1×1`; it sums four rows of two kinds."""
    args = ("count", "resnet50", "--layers", "--max-depth", "2")
    (record,) = [r for r in json.loads(ok(*args, "-f", "json"))["layers"] if r["path"] == "conv2.0"]
    assert (record["op"], record["kernel"]) == ("block", "")
    assert (record["rows"], record["kinds"]) == (4, ["conv 1×1", "conv 3×3"])
    rows = {r["path"]: r for r in csv.DictReader(io.StringIO(ok(*args, "-f", "csv")))}
    assert (rows["conv2.0"]["rows"], rows["conv2.0"]["kinds"]) == ("4", "conv 1×1 + conv 3×3")
    assert [rows["conv1"][k] for k in ("op", "kernel", "rows")] == ["conv", "7×7", "1"]
    md = ok(*args, "-f", "md")
    assert "| path | rows | kinds | input |" in md
    assert "| conv2.0 | 4 | conv 1×1 + conv 3×3 | 64×56×56 |" in md
    assert "| conv1 | 1 | conv 7×7 |" in md
    assert re.search(r"conv2\.0 +│ +4 │ conv 1×1 \+ conv 3×3 ", ok(*args))


def test_summed_rows_keep_the_totals() -> None:
    profile = cnnprof.count("resnet50")
    summed = profile.at_depth(1)
    assert sum(r.macs for r in summed) == profile.macs
    assert sum(len(g) for g in profile.depth_groups(1).values()) == len(profile.layers)
    assert {r.op for r in summed if len(profile.depth_groups(1)[r.path]) > 1} == {"block"}


# --- count --by op --format md; CSV shapes ------------------------------------------------------


def test_by_op_markdown_has_its_own_header() -> None:
    md = ok("count", "mobilenet", "--by", "op", "-f", "md")
    assert "| op kind | rows | params | MACs | FLOPs | MACs % |" in md
    assert "| dwconv 3×3 | 13 |" in md  # 13 depthwise rows in MobileNet v1 (paper, Table 1)
    assert "| path |" not in md and "32×112×112" not in md


@pytest.mark.parametrize(
    "args",
    [("count", "mobilenet", "--layers"), ("count", "mobilenet"), ("list", "mobile*")],
    ids=" ".join,
)
def test_csv_writes_shapes_with_the_multiplication_sign(args: tuple[str, ...]) -> None:
    text = ok(*args, "-f", "csv")
    assert "3×224×224" in text
    assert not re.search(r"\dx\d", text)


# --- latency --by op and --max-depth --------------------------------------------------------------


def _timed(model: str) -> Measured:
    """A measurement of ``model`` with every row timed: 1 µs plus 1 ns per thousand MACs (made
    up: the grouping is checked, not the times)."""
    profile = cnnprof.count(model)
    layers = tuple(
        LayerTime(r.path, r.op, 1e-6 + r.macs * 1e-12, r.macs, r.flops, r.bytes_moved(4))
        for r in profile.layers
    )
    timing = replace(
        _timing(profile.model, (20.0, 21.0, 22.0)), macs=profile.macs, layers=layers, layer_runs=3
    )
    return Measured(timing, peaks=None, estimate=None, notes=())


@pytest.fixture
def timed(monkeypatch) -> Measured:
    """`latency mobilenet` measures nothing: its rows get made-up times."""
    measured = _timed("mobilenet")
    monkeypatch.setattr("cnnprof.api.latency.measure_and_predict", lambda *args, **kwargs: measured)
    return measured


def test_latency_by_op_sums_time_per_kind_as_count_groups_rows(timed: Measured) -> None:
    profile = cnnprof.count("mobilenet")
    kinds = profile.kind_by_path()
    data = json.loads(ok("latency", "mobilenet", "--by", "op", "-f", "json"))
    expected: dict[str, list[float]] = {}
    for layer in timed.timing.layers:
        expected.setdefault(kinds[layer.path], []).append(layer.seconds)
    assert [r["op_kind"] for r in data["by_op"]] == list(profile.by_kind())
    assert [r["rows"] for r in data["by_op"]] == [len(v) for v in expected.values()]
    assert [r["measured_s"] for r in data["by_op"]] == pytest.approx(
        [sum(v) for v in expected.values()]
    )
    assert sum(r["time_share"] for r in data["by_op"]) == pytest.approx(1.0)
    table = ok("latency", "mobilenet", "--by", "op")
    assert "by op · per-row times summed" in table and "layers · median" not in table


@pytest.mark.parametrize("args", [("--by", "op"), ("--layers", "--max-depth", "2")])
def test_latency_groups_match_the_documented_schema(timed: Measured, args: tuple[str, ...]) -> None:
    from test_formats import check_document

    check_document(json.loads(ok("latency", "mobilenet", *args, "-f", "json")))


def test_latency_max_depth_sums_time_per_module(timed: Measured) -> None:
    profile = cnnprof.count("mobilenet")
    groups = profile.depth_groups(1)
    data = json.loads(ok("latency", "mobilenet", "--layers", "--max-depth", "1", "-f", "json"))
    assert [r["path"] for r in data["layers"]] == list(groups)
    assert [r["rows"] for r in data["layers"]] == [len(g) for g in groups.values()]
    assert data["layers"][1]["kinds"] == ["dwconv 3×3", "conv 1×1"]
    md = ok("latency", "mobilenet", "--layers", "--max-depth", "1", "-f", "md")
    assert "| path | rows | kinds | ms | time % | MACs % |" in md and "| 1.dw |" not in md
    text = ok("latency", "mobilenet", "-l", "--max-depth", "1", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[1]["kinds"] == "dwconv 3×3 + conv 1×1"


def test_latency_top_says_how_much_of_the_measured_time_it_shows(timed: Measured) -> None:
    layers = sorted(timed.timing.layers, key=lambda t: -t.seconds)
    share = sum(t.seconds for t in layers[:3]) / timed.timing.layer_sum
    line = _cut(3, len(layers), share, "measured time")
    for fmt in ("table", "md"):
        text = ok("latency", "mobilenet", "-l", "--sort", "time", "--top", "3", "-f", fmt)
        assert line in text
    by_op = ok("latency", "mobilenet", "--by", "op", "--top", "2")
    assert re.search(r"2 of 5 op kinds, [\d.]+ % of measured time", by_op)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--max-depth", "1"), "--max-depth 1"),
        (("--layers", "--max-depth", "1", "--by", "op"), "--max-depth 1"),
        (("--layers", "--by", "op", "-f", "csv"), "--layers with --by op in CSV"),
        (("--by", "op", "--runtime", "torch,onnxruntime"), "--by op --runtime"),
    ],
)
def test_latency_refuses_what_it_cannot_sum(args: tuple[str, ...], fragment: str) -> None:
    assert_error(run("latency", "mobilenet", *args), fragment)


def test_a_prediction_sums_its_rows_the_same_way() -> None:
    """Predicted per-row times (no measurement) summed per kind and per module add up to the
    prediction."""
    base = ("latency", "mobilenet", "--device-profile", "amd-epyc-1t", "-f", "json")
    whole = json.loads(ok(*base, "--layers"))
    by_op = json.loads(ok(*base, "--by", "op"))["by_op"]
    assert [r["op_kind"] for r in by_op] == list(cnnprof.count("mobilenet").by_kind())
    assert sum(r["predicted_s"] for r in by_op) == pytest.approx(whole["predicted_s"])
    modules = json.loads(ok(*base, "--layers", "--max-depth", "1"))["layers"]
    assert sum(r["rows"] for r in modules) == len(whole["layers"])
    assert sum(r["roofline_s"] for r in modules) == pytest.approx(whole["roofline_s"])


# --- a cross-check's FLOPs explained ----------------------------------------------------------


CUSTOM = ("tests/factories/custom_cnn.py:make", "--arg", "num_classes=7", "--input", "3,32,32")


@pytest.mark.torch
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_the_cross_check_says_which_rows_hold_the_flops_the_walk_cannot_see() -> None:
    """custom_cnn.py: `F.relu` in MyConv.forward after the stem (16×32×32 = 16,384 outputs) and
    after dw (32×8×8 = 2,048), `F.max_pool2d(x, 2)` in the model's forward (16×16×16 = 4,096
    outputs, 3 comparisons each: 12,288): 30,720 FLOPs in all."""
    from test_formats import check_document

    args = ("count", *CUSTOM, "--empirical")
    table = ok(*args)
    assert "module walk" in table and "analytic" not in table
    assert "FLOPs differ by +30,720" in table
    assert "F.relu" in table and "F.max_pool2d" in table
    data = json.loads(ok(*args, "-f", "json"))
    check_document(data)
    gaps = [(g["path"], g["category"], g["right"] - g["left"]) for g in data["flop_differences"]]
    assert gaps == [("stem", "act", 16_384), ("dw", "act", 2_048), ("(root)", "pool", 12_288)]
    places = [g["where"] for g in data["flop_differences"]]
    assert places == ["its own forward"] * 2 + ["the model's forward"]
    md = ok(*args, "-f", "md")
    assert "| metric | module walk | empirical | difference |" in md
    assert "| (root) | pool | the model's forward | 0 | 12,288 | +12,288 |" in md


@pytest.mark.torch
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_a_spec_that_agrees_keeps_its_analytic_title_and_explains_nothing() -> None:
    table = ok("count", "lenet5", "--empirical")
    assert "analytic vs empirical" in table and "FLOPs differ" not in table
    assert "flop_differences" not in json.loads(ok("count", "lenet5", "--empirical", "-f", "json"))


def test_count_latency_sums_the_measured_times_of_a_summed_row(monkeypatch) -> None:
    """`count --latency --layers --max-depth 1`: a module's milliseconds are its rows'."""
    timing = _timed("mobilenet").timing
    monkeypatch.setattr("cnnprof.cli.measure.measure", lambda *args, **kwargs: timing)
    args = ("count", "mobilenet", "--latency", "--layers", "--max-depth", "1", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(ok(*args))))
    groups = cnnprof.count("mobilenet").depth_groups(1)
    seconds = timing.by_path()
    expected = [round(sum(seconds[r.path] for r in g) * 1e3, 4) for g in groups.values()]
    assert [float(r["latency_ms"]) for r in rows] == pytest.approx(expected)


def test_the_share_under_a_cut_table_is_of_what_it_is_sorted_by() -> None:
    """MobileNet v1 (Howard et al. 2017, Table 1): its three largest rows by params are the
    1024→1024 pointwise (1,048,576 weights + 2,048 BN), the fc (1,025,000) and the 512→1024
    pointwise (524,288 + 2,048): 2,601,960 of its 4,231,976 params, 61.5 %, not a MACs share."""
    out = run("count", "mobilenet", "--layers", "--sort", "params", "--top", "3").stdout
    assert "3 of 29 rows, 61.5 % of params" in out and "% of MACs" not in out
