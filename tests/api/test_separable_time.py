"""`cnnprof separable` with time: the model and its twins measured interleaved (faked here: the
rounds are chosen, so the logic is tested, not this machine's load) or predicted for a shipped
device profile (deterministic: the figures are the predictor's own), the ratios against the
standard twin, the MobileNet paper's Table 2 by op kind, and each convolution's predicted time
both ways with its roofline bound."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

import pytest
from conftest import assert_error, run
from test_formats import check_document
from test_latency_ratio import _timing as timing

from cnnprof.api.latency import named_profile, predicted_for
from cnnprof.api.request import Request, request
from cnnprof.api.sources import resolve
from cnnprof.api.tables import separable
from cnnprof.report import separable as report
from cnnprof.report import separable_rows as by_row
from cnnprof.report.view import View
from cnnprof.results.interleaved import Interleaved
from cnnprof.results.timing import LayerTime, Timing
from tests.test_no_torch import no_torch_path, run_python

__all__ = ["no_torch_path"]  # the stub's fixture, used by name

PROFILE = "amd-epyc-1t"  # shipped: configs/devices/amd-epyc-1t.json


def _timing(model: str, samples: Sequence[float]) -> Timing:
    return timing(model, samples, threads=1)


def _fake(ms_per_round: Sequence[Sequence[float]]):
    """A measurement that runs nothing: model i takes ``ms_per_round[r][i]`` in round r."""
    asked: list[Sequence[Request]] = []

    def measure(requests: Sequence[Request]) -> Interleaved:
        asked.append(requests)
        rounds = tuple(tuple(ms / 1e3 for ms in r) for r in ms_per_round)
        timings = tuple(
            _timing(req.label, [r[i] for r in rounds]) for i, req in enumerate(requests)
        )
        return Interleaved(timings, rounds)

    return measure, asked


def test_measured_twins_are_interleaved_and_their_ratios_read_round_by_round():
    """A round where everything ran three times slower (a busy machine) leaves the per-round
    ratio alone: written 10 ms, standard 30 ms, separable 9 ms → 3× and 3.33× faster."""
    measure, asked = _fake([(10, 30, 9), (30, 90, 27), (10, 30, 9), (10, 30, 9), (10, 30, 9)])
    result = separable(request("mobilenet"), measure=measure)
    assert [r.label for r in asked[0]] == ["mobilenet", "mobilenet@standard", "mobilenet@separable"]
    assert result.reference == "standard"
    assert result.latency_faster("written") == pytest.approx((3.0, 3.0, 3.0))
    assert result.latency_faster("separable")[0] == pytest.approx(30 / 9)
    assert result.latency_faster("standard")[0] == pytest.approx(1.0)
    assert result.macs_fewer("written") == pytest.approx(4_867_293_184 / 568_740_352)
    record = report.twin_record(result, "written", result.written)
    assert record["latency_ms"] == pytest.approx(10.0)
    assert record["predicted_ms"] is None and record["latency_faster_ratio"] == pytest.approx(3)
    lines = report.separable_notes(result, View())
    assert "mobilenet against mobilenet@standard: 8.56× fewer MACs, 3.00× faster measured" in lines
    assert any("1 thread, the models interleaved" in n and "5 rounds" in n for n in lines)
    headers, rows = report.totals_table(result)
    assert headers[-3:] == ["ms (p10–p90)", "fewer MACs", "faster"]
    assert rows[0][-3:] == ["10.000 (10.000–22.000)", "8.56×", "3.00× (3.00–3.00)"]


def test_a_slower_model_reads_slower():
    measure, _ = _fake([(20, 10, 20)] * 5)
    result = separable(request("mobilenet"), measure=measure)
    line = report.verdicts(result)[0]
    assert line == "mobilenet against mobilenet@standard: 8.56× fewer MACs, 2.00× slower measured"


def test_predicted_ratios_are_the_ratios_of_the_predicted_totals():
    """Deterministic: each twin's predicted time is the predictor's own for that model, and the
    ratio is the standard twin's over the model's."""
    result = separable(request("mobilenet"), device_profile=PROFILE)
    device = named_profile(PROFILE, "float32")
    seconds = {}
    for name, ref in (("written", "mobilenet"), ("standard", "mobilenet@standard")):
        source = resolve(request(ref))
        seconds[name] = predicted_for(source.profile(), device, source=source).seconds
    assert result.written.prediction.seconds == pytest.approx(seconds["written"], rel=1e-12)
    assert result.predicted_faster("written") == pytest.approx(
        seconds["standard"] / seconds["written"], rel=1e-12
    )
    assert result.predicted_faster("standard") == 1.0
    assert result.latency_faster("written") is None


def test_every_convolution_predicted_both_ways_with_its_bound():
    """Row 1 of MobileNet: the standard twin's row ``1``, the separable twin's ``1.dw`` and
    ``1.pw``; the depthwise row is memory-bound on the roofline, the full 3×3 compute-bound."""
    result = separable(request("mobilenet"), device_profile=PROFILE)
    row = next(r for r in result.layers if r.path == "1")
    times = by_row.layer_times(result, row)
    standard = result.standard.prediction.by_path()["1"]
    pair = result.separable.prediction.by_path()
    assert times["standard_predicted_ms"] == pytest.approx(standard * 1e3)
    assert times["separable_predicted_ms"] == pytest.approx((pair["1.dw"] + pair["1.pw"]) * 1e3)
    assert times["predicted_faster_ratio"] == pytest.approx(
        standard / (pair["1.dw"] + pair["1.pw"])
    )
    assert (times["standard_bound"], times["depthwise_bound"]) == ("compute", "memory")
    assert all(by_row.layer_times(result, r)["pointwise_bound"] for r in result.layers)


def test_by_op_is_the_mobilenet_papers_table_2_and_its_shares_add_up():
    """Howard et al. 2017, Table 2 (MACs / params, conv and fc weights only): Conv 1×1 94.86 % /
    74.59 %; Conv DW 3×3 3.06 % / 1.06 %; Conv 3×3 1.91 % (printed 1.19 %, a misprint: the
    column must add to 100) / 0.02 %; FC 0.18 % / 24.33 %."""
    result = separable(request("mobilenet"), device_profile=PROFILE)
    table = {r["op_kind"]: r for r in by_row.by_op_records(result, "written")}
    paper = {"conv 1×1": (94.86, 74.59), "dwconv 3×3": (3.06, 1.06), "conv 3×3": (1.91, 0.02)}
    paper["fc"] = (0.18, 24.33)
    for kind, (macs, weights) in paper.items():
        assert round(100 * table[kind]["mac_share"], 2) == macs
        assert round(100 * table[kind]["weight_share"], 2) == weights
    for name, column in result.twins():
        records = by_row.by_op_records(result, name)
        for share in ("mac_share", "weight_share", "param_share", "predicted_share"):
            assert sum(r[share] for r in records) == pytest.approx(1.0)
        assert sum(r["predicted_ms"] for r in records) == pytest.approx(
            column.prediction.seconds * 1e3
        )


def test_without_a_time_the_output_is_as_before():
    result = separable(request("mobilenet"))
    assert not result.timed and result.refused == {}
    data = report.separable_dict(result)
    assert list(data) == ["schema", "written", "standard", "separable", "layers"]
    assert list(data["written"]) == ["model", "macs", "params", "weight_params"]
    assert report.separable_notes(result, View()) == []


def test_documents_match_the_schema():
    for args in (
        ("--device-profile", PROFILE, "--by", "op", "--layers"),
        ("--device-profile", PROFILE),
    ):
        result = run("separable", "mobilenet", *args, "-f", "json")
        assert result.exit_code == 0, result.stderr
        check_document(json.loads(result.stdout))
    measure, _ = _fake([(10, 30, 9)] * 5)
    measured = separable(request("mobilenet"), measure=measure)
    check_document(report.separable_dict(measured, View(format="json", by_op=True)))


def test_csv_and_markdown_carry_the_time():
    csv = run("separable", "mobilenet", "--device-profile", PROFILE, "--by", "op", "-f", "csv")
    assert csv.exit_code == 0, csv.stderr
    header, first = csv.stdout.splitlines()[:2]
    assert header.startswith("twin,model,op_kind,rows,macs")
    assert header.endswith("predicted_ms,predicted_share")
    assert first.startswith("written,mobilenet,conv 3×3,1,")
    md = run("separable", "mobilenet", "--device-profile", PROFILE, "--layers", "-f", "md")
    assert md.exit_code == 0, md.stderr
    assert "**time**" in md.stdout and "| standard pred. ms | bound |" in md.stdout
    assert "> mobilenet against mobilenet@standard: 8.56× fewer MACs" in md.stdout


def test_the_cli_refuses_what_it_cannot_do():
    assert_error(run("separable", "mobilenet", "--threads", "1"), "add --latency")
    both = run("separable", "mobilenet", "--layers", "--by", "op", "-f", "csv")
    assert_error(both, "a CSV file holds one table")


def test_an_onnx_like_refusal_is_said_in_the_notes(monkeypatch: pytest.MonkeyPatch):
    """A twin a source cannot make is left out with its reason; with a time, the ratios are
    against the model as written."""
    from cnnprof.api.sources import SpecSource

    monkeypatch.setattr(
        SpecSource, "rewrite_refusal", lambda self, t: "no" if t == "standard" else None
    )
    result = separable(request("mobilenet"), device_profile=PROFILE)
    assert result.standard is None and result.reference == "written"
    assert result.predicted_faster("written") == 1.0
    notes = report.separable_notes(result, View())
    assert notes[0] == "no standard twin: no; the ratios are against the model as written"
    data = report.separable_dict(result)
    assert data["refused"] == {"standard": "no"} and data["reference"] == "written"


@pytest.mark.slow
def test_the_prediction_needs_no_torch(no_torch_path):
    """A spec model and its twins predicted with torch refused at import: the same figures."""
    args = ["-m", "cnnprof", "separable", "mobilenet", "--device-profile", PROFILE, "-f", "json"]
    proc = run_python([*args, "--by", "op", "--layers"], no_torch_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    result = separable(request("mobilenet"), device_profile=PROFILE)
    assert data["written"]["predicted_faster_ratio"] == pytest.approx(
        result.predicted_faster("written"), rel=1e-12
    )
    assert data["separable"]["by_op"][0]["op_kind"] == "dwconv 3×3"


def _per_row(req: Request) -> Timing:
    """A row-by-row measurement that runs nothing: each row 10 µs plus 1 ns per MAC."""
    profile = resolve(req).profile()
    layers = tuple(
        LayerTime(r.path, r.op, 1e-5 + r.macs * 1e-9, r.macs, r.flops, 1) for r in profile.layers
    )
    return replace(_timing(req.label, [sum(t.seconds for t in layers)] * 5), layers=layers)


def test_measured_row_by_row_by_op_and_every_convolution():
    measure, _ = _fake([(10, 30, 9)] * 5)
    result = separable(request("mobilenet"), measure=measure, measure_rows=_per_row)
    assert set(result.per_row) == {"written", "standard", "separable"}
    for name, _ in result.twins():
        records = by_row.by_op_records(result, name)
        assert sum(r["measured_share"] for r in records) == pytest.approx(1.0)
        assert all("predicted_ms" not in r for r in records)
    times = by_row.layer_times(result, next(r for r in result.layers if r.path == "1"))
    standard = 1e-5 + 231_211_008 * 1e-9  # row 1 as one 3×3 convolution, 32 → 64 at 112×112
    assert times["standard_measured_ms"] == pytest.approx(standard * 1e3)
    assert times["measured_faster_ratio"] > 1 and "standard_bound" not in times
    headers, _ = by_row.by_op_table(result, "written")
    assert headers[-2:] == ["ms", "% time"]
    notes = report.separable_notes(result, View(by_op=True))
    assert any(n.startswith("per-row time measured with each model alone") for n in notes)
    check_document(report.separable_dict(result, View(format="json", by_op=True)))


def test_measured_in_fresh_processes_says_so():
    """Each round one fresh process (`--processes`): the title and the document say how many,
    and a between-process range wider than one process's p10–p90 is said in the notes."""
    measure, _ = _fake([(10, 30, 9), (14, 42, 12)])

    def in_processes(requests: Sequence[Request]) -> Interleaved:
        measured = measure(requests)
        timings = tuple(
            replace(t, process_medians=tuple(r[i] for r in measured.rounds))
            for i, t in enumerate(measured.timings)
        )
        return Interleaved(timings, measured.rounds)

    result = separable(request("mobilenet"), measure=in_processes)
    assert report.separable_title(result).endswith("· measured, 1 thread, 2 processes")
    data = report.separable_dict(result)
    assert data["measured"]["processes"] == 2 and data["measured"]["rounds"] == 2
    assert data["written"]["latency_ms"] == pytest.approx(12.0)
    notes = report.separable_notes(result, View())
    assert any("median (of its processes' medians)" in n for n in notes)
    assert any("medians of 2 fresh processes ranged" in n for n in notes)


def test_processes_need_latency():
    assert_error(run("separable", "mobilenet", "--processes", "2"), "add --latency")
