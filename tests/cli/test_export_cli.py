"""`cnnprof export` on the command line: the file written and the report; every bad input one
line and exit 2, the user's files untouched."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import assert_error, run
from test_formats import check_document

pytest.importorskip("torch")
pytest.importorskip("onnx")

pytestmark = pytest.mark.torch


def test_export_writes_the_file_and_reports_the_count(tmp_path: Path):
    out = tmp_path / "lenet.onnx"
    result = run("export", "lenet5", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert out.is_file()
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"wrote     {out}, ") and "torchscript, opset 17" in lines[1]
    assert lines[3].startswith("folded    nothing")
    assert "equal" in result.stdout and "unexplained" not in result.stdout
    assert result.stderr == ""


def test_export_as_json_with_the_dynamo_exporter_prints_nothing_else(tmp_path: Path):
    out = tmp_path / "m.onnx"
    result = run(
        "export",
        "mobilenet",
        "--alpha",
        "0.25",
        "-o",
        str(out),
        "-f",
        "json",
        "--exporter",
        "dynamo",
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)  # the whole of stdout: no exporter's progress lines
    assert doc["schema"] == "cnnprof.export/1" and doc["exporter"] == "dynamo"
    assert doc["opset"] == 18 and doc["agree"] is True
    assert doc["macs_difference"] == 0
    assert doc["params_difference"] == doc["folded"]["params"] > 0
    assert len(doc["folded"]["layers"]) == 27
    check_document(doc)  # every field described in docs/formats.md


def test_an_existing_file_is_kept_without_force(tmp_path: Path):
    out = tmp_path / "keep.onnx"
    out.write_bytes(b"mine")
    assert_error(run("export", "lenet5", "-o", str(out)), "the file exists; add --force")
    assert out.read_bytes() == b"mine"
    assert run("export", "lenet5", "-o", str(out), "--force").exit_code == 0
    assert out.read_bytes() != b"mine"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["lenet5"], "needs -o FILE.onnx"),
        (["lenet5", "-o", "."], "is a directory"),
        (["model.onnx", "-o", "x.onnx"], "model.onnx is an ONNX file already"),
        (["lenet5", "-o", "x.onnx", "--exporter", "tflite"], "--exporter"),
        (["lenet5", "-o", "x.onnx", "--opset", "30"], "writes opsets 9 to 20"),
        (["lenet5", "-o", "x.onnx", "--format", "csv"], "export reports in table or json"),
        (["lenet5", "-o", "x.onnx", "--dtype", "float16"], "writes the model's float32"),
        (["tests.factories.export_fails:make", "-o", "x.onnx"], "the torchscript exporter"),
    ],
)
def test_bad_input_is_one_line(argv: list[str], said: str, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_error(run("export", *argv), said)
    assert not (tmp_path / "x.onnx").exists()


def test_the_models_own_file_is_never_overwritten(tmp_path: Path):
    factory = tmp_path / "net.py"
    source = Path(__file__).parents[1] / "factories" / "custom_cnn.py"
    factory.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    before = factory.read_bytes()
    result = run("export", f"{factory}:make", "-o", str(factory), "--force")
    assert_error(result, "is the model's own file")
    assert factory.read_bytes() == before


def test_without_onnx_export_names_the_extra(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` fails as if not installed
    result = run("export", "lenet5", "-o", str(tmp_path / "x.onnx"))
    assert_error(result, "cnnprof export needs onnx: pip install 'cnnprof[onnx]'")


def test_a_target_not_named_onnx_is_refused_and_nothing_written(tmp_path: Path):
    out = tmp_path / "out.txt"
    assert_error(run("export", "lenet5", "-o", str(out)), f"-o {out}", "ending in .onnx")
    assert not out.exists()


def test_help_names_the_extras_to_install():
    result = run("export", "--help")
    assert "pip install 'cnnprof[torch,onnx]'" in " ".join(result.stdout.split())
