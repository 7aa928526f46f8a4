"""`cnnprof device --runtime onnxruntime`: the calibration's structure on a tiny plan (no speeds
asserted: the machine is shared), the record it makes, the rewrites `analytic.ort_calls` predicts
held against the graph ONNX Runtime itself optimises, and a device profile of one runtime refused
for predicting the other."""

from __future__ import annotations

import collections
import io
import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnnprof.analytic.ort_calls import kernels
from cnnprof.cli.app import app
from cnnprof.results import judge
from cnnprof.results.device import DeviceProfile
from cnnprof.results.validate import parse_record

pytest.importorskip("onnxruntime")

from cnnprof.deploy.calibrate import OrtPlan, _options, _session, calibrate, layout_block
from cnnprof.deploy.networks import network
from cnnprof.deploy.ort_nodes import graph_nodes, onnx_modules
from cnnprof.deploy.ort_peaks import ort_peaks
from cnnprof.deploy.shapes import shaped

TINY = OrtPlan(batches=(1,), networks=(1,), warmup=1, passes=2)


@pytest.fixture(scope="module")
def calibrated():
    return calibrate(TINY, threads=1)


def test_a_calibration_records_its_kinds_runtime_and_version(calibrated):
    import onnxruntime

    kinds = {m.kind for m in calibrated.models}
    assert {"conv", "pointwise", "linear", "avgpool"} <= kinds
    assert set(calibrated.samples) == kinds
    assert calibrated.version == onnxruntime.__version__
    assert all(len(m.samples) == len(calibrated.samples[m.kind]) for m in calibrated.models)
    record = ort_peaks(calibrated, threads=1)
    assert (record.runtime, record.runtime_version, record.threads) == (
        "onnxruntime",
        onnxruntime.__version__,
        1,
    )
    back, problem = parse_record(json.dumps(record.to_dict()))
    assert problem is None and back == record
    assert record.runtime_label == f"onnxruntime {onnxruntime.__version__}"


def test_a_torch_record_reads_as_before():
    """A record written before runtimes were recorded (the shipped eager profiles) is torch's,
    and writes no runtime keys."""
    from cnnprof.api.latency import shipped_profiles

    text = shipped_profiles()["amd-epyc-1t"].read_text(encoding="utf-8")
    record, problem = parse_record(text)
    assert problem is None and record.runtime == "torch"
    assert "runtime" not in record.to_dict()
    data = json.loads(text) | {"runtime": "tflite"}
    assert (
        parse_record(json.dumps(data))[1]
        == "ValueError: runtime 'tflite' is not one of torch, onnxruntime"
    )


def _optimised(model, tmp_path: Path) -> collections.Counter:
    _, onnx = onnx_modules()
    path = tmp_path / "optimised.onnx"
    _session(model, _options(1, optimized=str(path)))
    return collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node)


@pytest.mark.parametrize("seed", [0, 3])
def test_the_predicted_kernels_are_the_ones_onnx_runtime_runs(seed: int, tmp_path: Path):
    """Node for node (by op type) what the optimised model holds; ONNX Runtime writes a fused
    convolution as Conv (blocked) or FusedConv."""
    block = layout_block(1, tmp_path)
    model = network(random.Random(seed), 1).model()
    predicted = collections.Counter(k.op for k in kernels(graph_nodes(shaped(model)), block))
    found = _optimised(model, tmp_path)
    found["Conv"] += found.pop("FusedConv", 0)
    assert predicted == found


def test_a_profile_of_one_runtime_is_refused_for_the_other(calibrated):
    from cnnprof.api.latency import predicted_for
    from cnnprof.api.request import Request
    from cnnprof.api.sources import resolve
    from cnnprof.errors import OptionError

    device = DeviceProfile("ort.json", ort_peaks(calibrated, threads=1))
    profile = resolve(Request("mobilenet")).profile()
    with pytest.raises(
        OptionError,
        match=r"ort\.json: calibrated in onnxruntime .*, it predicts "
        r"onnxruntime latency, not torch; calibrate one in torch",
    ):
        predicted_for(profile, device, runtime="torch")
    assert predicted_for(profile, device).seconds > 0  # said plainly: the runtime's own


def test_latency_with_a_torch_profile_for_onnxruntime_is_one_line():
    args = ["latency", "mobilenet", "--runtime", "onnxruntime", "--device-profile", "amd-epyc-1t"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "calibrated in torch" in result.output and "not onnxruntime" in result.output
    assert "Traceback" not in result.output


def test_an_onnxruntime_profile_predicts_its_runtime(calibrated, tmp_path: Path):
    saved = tmp_path / "ort.json"
    saved.write_text(json.dumps(ort_peaks(calibrated, threads=1).to_dict()), encoding="utf-8")
    args = ["latency", "resnet18", "--device-profile", str(saved), "--format", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["runtime"].startswith("onnxruntime ") and found["predicted_s"] > 0


def test_a_calibration_defaults_to_the_cores_latency_runs_on(monkeypatch: pytest.MonkeyPatch):
    """`device --runtime onnxruntime` and `latency --runtime onnxruntime` default alike: one
    thread per core this process may run on (its affinity), not every core of the machine."""
    from cnnprof.api import ort_device

    monkeypatch.setattr(ort_device, "cpu_cores", lambda: 3)
    assert ort_device.ort_threads(None) == 3 and ort_device.ort_threads(2) == 2


def test_a_shipped_onnxruntime_profile_says_what_its_roofs_were_read_off():
    """An ONNX Runtime record's roofs come from its calibration's kernels: its tables name them
    so (no matmul, no copies, no page-fault probe, one curve per kernel), in text and Markdown."""
    path = Path(__file__).resolve().parents[2] / "configs" / "devices" / "intel-xeon-ort-1t.json"
    record, problem = parse_record(path.read_text(encoding="utf-8"))
    assert problem is None and record is not None and record.runtime == "onnxruntime"
    assert [label for label, _ in record.conv_curves()] == ["1×1 conv kernels", "k×k conv kernels"]
    from rich.console import Console

    from cnnprof.render.latency import peaks_table
    from cnnprof.report.peaks import peaks_markdown

    console = Console(width=120, record=True, file=io.StringIO())
    console.print(peaks_table(record))
    for shown in (console.export_text(), peaks_markdown(record)):
        text = " ".join(shown.split())
        assert "page fault" not in text and "copy moving" not in text and "matmul" not in text
        assert "fastest convolution kernel" in text and "smallest conv kernel" in text


def test_a_damaged_onnxruntime_cache_is_said_and_measured_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The ONNX Runtime cache is read as eager's is: a damaged record is not used, and the notes
    say so, before it is measured again (with the quick plan here) and cached anew."""
    from cnnprof.api import ort_device

    monkeypatch.setenv("CNNPROF_CACHE_DIR", str(tmp_path))
    quick = ort_device.ORT_PLANS["quick"]
    monkeypatch.setattr(ort_device, "calibrate", lambda _, n, report: calibrate(quick, n, report))
    monkeypatch.setattr(judge, "refusals", lambda measured: [])  # a quick plan fits loosely
    first = ort_device.ort_calibration(1).peaks
    (path,) = (tmp_path / "peaks").glob("*onnxruntime*.json")
    assert ort_device.ort_calibration(1).peaks == first, "read back from the cache"
    path.write_text("{not json", encoding="utf-8")
    notes: list[str] = []
    again = ort_device.ort_calibration(1, notes=notes).peaks
    assert again.runtime == "onnxruntime" and "cached device peaks not used" in notes[0]
    assert json.loads(path.read_text(encoding="utf-8"))["runtime"] == "onnxruntime"


def test_a_refused_onnxruntime_calibration_is_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The ONNX Runtime calibration is judged as eager's is: refused, it is returned with the
    reasons and the load it ran under, and not cached; accepted, it is cached."""
    from cnnprof.api import ort_device

    monkeypatch.setenv("CNNPROF_CACHE_DIR", str(tmp_path))
    quick = ort_device.ORT_PLANS["quick"]
    monkeypatch.setattr(ort_device, "calibrate", lambda _, n, report: calibrate(quick, n, report))
    monkeypatch.setattr(judge, "refusals", lambda measured: ["too noisy"])
    refused = ort_device.ort_calibration(1)
    assert refused.refused == ("too noisy",) and refused.cache is None
    assert not list(tmp_path.glob("peaks/*.json"))
    monkeypatch.setattr(judge, "refusals", lambda measured: [])
    accepted = ort_device.ort_calibration(1)
    assert accepted.cached_to and list(tmp_path.glob("peaks/*onnxruntime*.json"))
