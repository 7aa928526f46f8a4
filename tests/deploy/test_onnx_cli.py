"""An ONNX file on the command line: every command that takes MODEL takes one, and each bad file
(not ONNX, truncated, missing external data, a too-new opset, shapes that need --input, too
large, no onnx installed) ends in one line and exit 2, no traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")

import numpy as np  # noqa: E402
from conftest import assert_error, run  # noqa: E402
from onnx_graphs import model, node, save, weight  # noqa: E402

from cnnprof.deploy import load  # noqa: E402


def small(dims=(1, 3, 8, 8), metadata=None) -> onnx.ModelProto:
    """Conv 3×3 (3 → 4, 108 weights + 4 biases) → Relu → global pool → Flatten → Gemm 4 → 10
    (40 + 10): 162 parameters; MACs 108·64 + 40 = 6,952 per image."""
    nodes = [
        node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        node("Relu", ["c"], ["r"]),
        node("GlobalAveragePool", ["r"], ["g"]),
        node("Flatten", ["g"], ["f"]),
        node("Gemm", ["f", "fw", "fb"], ["y"], transB=1),
    ]
    inits = [weight("w", 4, 3, 3, 3), weight("b", 4), weight("fw", 10, 4), weight("fb", 10)]
    outputs = {"y": (dims[0], 10)} if metadata else ["y"]
    return model(nodes, {"x": dims}, outputs, inits, metadata=metadata)


@pytest.fixture
def onnx_file(tmp_path: Path) -> str:
    return save(small(), tmp_path)


def test_count_an_onnx_file(onnx_file: str):
    result = run("count", onnx_file, "--layers")
    assert result.exit_code == 0, result.output
    assert "6.95 K" in result.stdout and "ONNX file: opset 17" in result.stdout
    for row in ("conv", "relu", "globalaveragepool", "gemm"):
        assert row in result.stdout


def test_count_json_by_op(onnx_file: str):
    result = run("count", onnx_file, "--by", "op", "--format", "json")
    data = json.loads(result.stdout)
    assert (data["source"], data["totals"]["macs"], data["totals"]["params"]) == ("onnx", 6952, 162)
    assert [r["op_kind"] for r in data["by_op"]] == ["conv 3×3", "relu", "gap", "fc"]
    assert data["ignored"] == ["Flatten"] and data["complete"] is True
    assert data["onnx"]["opset"] == "17"


@pytest.mark.parametrize("fmt", ["csv", "md"])
def test_count_csv_and_markdown(onnx_file: str, fmt: str):
    result = run("count", onnx_file, "--layers", "--format", fmt, "--sort", "macs", "--top", "2")
    assert result.exit_code == 0 and "conv" in result.stdout


def test_folding_and_constants_are_shown(tmp_path: Path):
    metadata = {"cnnprof.folded_params": "53120", "cnnprof.folded_buffers": "53120"}
    path = save(small(metadata=metadata), tmp_path)
    result = run("count", path)
    text = " ".join(result.stdout.split())
    assert "BatchNorm folded into convolutions at export: 53,120 parameters fewer" in text
    assert "and 53,120 running statistics (buffers)" in text
    data = json.loads(run("count", path, "--format", "json").stdout)
    assert data["folded"] == {"params": 53120, "buffers": 53120}


def test_compare_an_onnx_file_with_a_registry_model(onnx_file: str):
    result = run("compare", onnx_file, "mobilenet", "--format", "json")
    assert result.exit_code == 0, result.output
    assert onnx_file in result.stdout and "mobilenet" in result.stdout


def test_snapshot_and_check_an_onnx_file(onnx_file: str, tmp_path: Path):
    result = run("snapshot", onnx_file, "-o", str(tmp_path / "base.json"))
    assert result.exit_code == 0, result.output
    budget = tmp_path / "budget.yaml"
    budget.write_text(f"models:\n  - model: {onnx_file}\n    max_macs: 7000\n", encoding="utf-8")
    assert run("check", str(budget)).exit_code == 0
    budget.write_text(budget.read_text().replace("7000", "6000"), encoding="utf-8")
    assert run("check", str(budget)).exit_code == 1


def test_check_fails_an_incomplete_onnx_count_unless_allowed(tmp_path: Path):
    fancy = onnx.helper.make_node("Fancy", ["x"], ["y"], name="fancy", domain="com.example")
    made = model([fancy], {"x": (1, 4)}, {"y": (1, 4)}, domains={"com.example": 1})
    path = save(made, tmp_path)
    budget = tmp_path / "budget.yaml"
    budget.write_text(f"models:\n  - model: {path}\n    max_params: 10\n", encoding="utf-8")
    result = run("check", str(budget), "--format", "json")
    assert result.exit_code == 1 and '"missing"' in result.stdout
    budget.write_text(budget.read_text() + "    allow_incomplete: true\n", encoding="utf-8")
    assert run("check", str(budget)).exit_code == 0
    assert "INCOMPLETE: unsupported: com.example::Fancy" in run("count", path).stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["count", "--alpha", "0.5"], "alpha=0.5: "),
        (["count", "--empirical"], "counted from its graph by formula alone"),
        (["sweep", "--alpha", "1,0.5"], "multipliers scale a spec"),
        (["latency", "--runtime", "torch"], "--runtime onnxruntime"),
        (["count", "--arg", "k=1"], "--arg constructs a Python model"),
    ],
)
def test_what_cannot_apply_to_an_onnx_file_is_refused(onnx_file: str, args, expected):
    assert_error(run(args[0], onnx_file, *args[1:]), expected)


def test_a_rewrite_is_refused(onnx_file: str):
    assert_error(run("count", f"{onnx_file}@separable"), "@separable rewrites a spec")


def test_dynamic_dims_need_input(tmp_path: Path):
    path = save(small(("N", 3, "H", "W")), tmp_path)
    assert_error(run("count", path), "input 'x' has dims N×3×H×W", "--input")
    result = run("count", path, "--input", "3,8,8", "--batch", "2", "--format", "json")
    assert json.loads(result.stdout)["totals"]["macs"] == 2 * 6952


# --- bad files --------------------------------------------------------------------------------


def test_not_an_onnx_file(tmp_path: Path):
    path = tmp_path / "notes.onnx"
    path.write_text("these are notes, not a model\n" * 20, encoding="utf-8")
    assert_error(run("count", str(path)), "notes.onnx", "not")


def test_an_empty_file(tmp_path: Path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    assert_error(run("count", str(path)), "empty file")


def test_a_missing_file(tmp_path: Path):
    assert_error(run("count", str(tmp_path / "absent.onnx")), "no such file")


def test_a_truncated_file(onnx_file: str):
    data = Path(onnx_file).read_bytes()
    Path(onnx_file).write_bytes(data[: len(data) * 2 // 3])
    assert_error(run("count", onnx_file), "model.onnx")


def test_missing_and_short_external_data(tmp_path: Path):
    made = small()
    path = tmp_path / "model.onnx"
    onnx.save(made, str(path), save_as_external_data=True, location="w.bin", size_threshold=0)
    assert run("count", str(path)).exit_code == 0
    weights = tmp_path / "w.bin"
    weights.write_bytes(weights.read_bytes()[:100])
    assert_error(run("count", str(path)), "external data 'w.bin'", "truncated")
    weights.unlink()
    assert_error(run("count", str(path)), "external data 'w.bin'", "missing")


def test_external_data_outside_the_folder_is_refused(tmp_path: Path):
    made = small()
    path = tmp_path / "model.onnx"
    onnx.save(made, str(path), save_as_external_data=True, location="w.bin", size_threshold=0)
    loaded = onnx.load(str(path), load_external_data=False)
    for tensor in loaded.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../w.bin"
    onnx.save(loaded, str(path))
    assert_error(run("count", str(path)), "outside the model's folder")


def test_an_opset_newer_than_onnx_knows(tmp_path: Path):
    made = small()
    made.opset_import[0].version = onnx.defs.onnx_opset_version() + 5
    path = tmp_path / "new.onnx"
    path.write_bytes(made.SerializeToString())
    assert_error(run("count", str(path)), "newer than onnx", "pip install -U onnx")


def test_a_file_over_the_memory_limit(onnx_file: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(load, "memory_limit", lambda: 100)
    assert_error(run("count", onnx_file), "over the limit of")


def test_weights_over_the_memory_limit_are_not_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # a 64×64 float weight (16,384 bytes) beside a graph of a few hundred bytes: counted, and
    # loaded for a runtime only while it fits
    made = model([node("Gemm", ["x", "w"])], {"x": (1, 64)}, ["y"], [weight("w", 64, 64)])
    path = tmp_path / "model.onnx"
    onnx.save(made, str(path), save_as_external_data=True, location="w.bin", size_threshold=0)
    assert len(load.load_weights(path).graph.initializer[0].raw_data) == 16_384
    monkeypatch.setattr(load, "memory_limit", lambda: 2000)
    with pytest.raises(load.LoadError, match="its weights take 16,384 bytes"):
        load.load_weights(path)
    assert run("count", str(path)).exit_code == 0


def test_without_onnx_the_extra_is_named(onnx_file: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert_error(run("count", onnx_file), "needs onnx: pip install 'cnnprof[onnx]'")


def test_the_json_of_an_onnx_count_matches_its_schema(tmp_path: Path):
    from test_formats import check_document

    metadata = {"cnnprof.folded_params": "8", "cnnprof.source": "tiny"}
    made = small(metadata=metadata)
    made.graph.initializer.append(onnx.numpy_helper.from_array(np.array([1, 10]), "unused"))
    path = save(made, tmp_path)
    data = json.loads(run("count", path, "--layers", "--by", "op", "--format", "json").stdout)
    assert data["constants"] == {"initializers": 1, "elements": 2, "names": ["unused"]}
    check_document(data)
    check_document(json.loads(run("compare", path, "mobilenet", "--format", "json").stdout))


def test_a_path_object_and_a_folder_with_an_at_sign(tmp_path: Path):
    import cnnprof

    folder = tmp_path / "run@2"
    folder.mkdir()
    path = Path(save(small(("N", 3, 8, 8)), folder))
    profile = cnnprof.count(path, batch=2)
    assert (profile.model, profile.source, profile.macs) == (str(path), "onnx", 2 * 6952)
    assert run("count", str(path)).exit_code == 0
