"""The command line: `cnnprof list` and `cnnprof count`, their formats and their errors.

Every error is exit code 2 and exactly one line on stderr, "cnnprof: error: …", never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import assert_error, run
from typer.testing import Result

import cnnprof

MOBILENET_MACS = 568_740_352  # Howard et al. 2017, Table 6: 569 M (see test_mobilenet_v1.py)


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert result.stderr == ""
    return result


def count_json(*args: str) -> dict:
    return json.loads(ok("count", *args, "--format", "json").stdout)


# --- list -------------------------------------------------------------------------------------


def test_list_table():
    out = ok("list").stdout
    assert "mobilenet_v1" in out
    assert "mobilenet" in out  # the alias
    assert "568.74 M" in out  # MACs at the default input


def test_list_json():
    data = json.loads(ok("list", "--format", "json").stdout)
    assert data["schema"] == "cnnprof.list/1"
    models = {m["name"]: m for m in data["models"]}
    m = models["mobilenet_v1"]
    assert m["aliases"] == ["mobilenet"]
    assert m["family"] == "mobilenet_v1"
    assert m["input"] == [3, 224, 224]
    assert m["macs"] == MOBILENET_MACS
    assert m["params"] == 4_231_976
    assert "Howard" in m["paper"]


def test_list_csv():
    rows = list(csv.DictReader(io.StringIO(ok("list", "-f", "csv").stdout)))
    assert rows, "no rows"
    assert list(rows[0]) == ["name", "aliases", "family", "input", "params", "macs", "paper"]
    row = next(r for r in rows if r["name"] == "mobilenet_v1")
    assert row["input"] == "3×224×224"  # CSV writes shapes as every other output does
    assert int(row["macs"]) == MOBILENET_MACS


def test_list_markdown():
    out = ok("list", "--format", "md").stdout
    lines = out.splitlines()
    assert lines[0] == "| name | aliases | family | params | MACs | paper |"
    assert lines[1].startswith("|---|")
    assert any(line.startswith("| mobilenet_v1 | mobilenet |") for line in lines[2:])


@pytest.mark.parametrize("pattern", ["mobilenet_v1", "net_v1", "mobile*", "*_v1", "mobilenet_v?"])
def test_list_pattern(pattern: str):
    """A plain word matches as a substring; *, ? and [...] are shell wildcards."""
    data = json.loads(ok("list", pattern, "--format", "json").stdout)
    names = [m["name"] for m in data["models"]]
    assert "mobilenet_v1" in names


def test_list_pattern_filters():
    everything = json.loads(ok("list", "-f", "json").stdout)["models"]
    filtered = json.loads(ok("list", "mobilenet_v1", "-f", "json").stdout)["models"]
    assert [m["name"] for m in filtered] == ["mobilenet_v1"]
    assert len(everything) >= len(filtered)


def test_list_wildcard_is_anchored():
    """With a wildcard the pattern matches the whole name, not a part of it."""
    assert_error(run("list", "obilenet_v1*"), "obilenet_v1*")


@pytest.mark.parametrize("pattern", ["zzz_no_such_model", "mobilenet_v9*", "x?y"])
def test_list_pattern_matching_nothing(pattern: str):
    assert_error(run("list", pattern), pattern)


# --- count: formats ---------------------------------------------------------------------------


def test_count_table():
    out = ok("count", "mobilenet").stdout
    assert "mobilenet_v1" in out
    assert "568.74 M" in out
    assert "Table 6" in out  # the paper's figure for this configuration


def test_count_json():
    data = count_json("mobilenet")
    assert data["schema"] == "cnnprof.profile/2"
    assert data["model"] == "mobilenet_v1"
    assert data["source"] == "analytic"
    assert data["input"] == [3, 224, 224]
    assert data["output"] == [1000, 1, 1]
    assert data["totals"]["macs"] == MOBILENET_MACS
    assert data["totals"]["flops"] >= 2 * MOBILENET_MACS  # FLOPs are never MACs
    assert data["published"]["source"] == "Table 6"
    assert "layers" not in data and "by_op" not in data


def test_count_csv():
    rows = list(csv.DictReader(io.StringIO(ok("count", "mobilenet", "-f", "csv").stdout)))
    assert len(rows) == 1
    assert rows[0]["model"] == "mobilenet_v1"
    assert int(rows[0]["macs"]) == MOBILENET_MACS
    assert int(rows[0]["params"]) == 4_231_976
    assert int(rows[0]["weights"]) == 4_209_088


def test_count_markdown():
    out = ok("count", "mobilenet", "-f", "md").stdout
    assert out.startswith("**mobilenet_v1**")
    assert "| MACs | 568,740,352 | 568.74 M |" in out
    assert "Published (Table 6)" in out


def test_count_layers():
    data = count_json("mobilenet", "--layers")
    assert len(data["layers"]) == 29
    assert data["layers"][0]["path"] == "0"
    assert data["layers"][1]["path"] == "1.dw"
    assert sum(r["macs"] for r in data["layers"]) == MOBILENET_MACS
    table = ok("count", "mobilenet", "--layers").stdout
    assert "1.dw" in table and "7.4.pw" in table
    rows = list(csv.DictReader(io.StringIO(ok("count", "mobilenet", "-l", "-f", "csv").stdout)))
    assert len(rows) == 29
    md = ok("count", "mobilenet", "--layers", "-f", "md").stdout
    assert "| 7.4.pw |" in md


def test_count_by_op():
    data = count_json("mobilenet", "--by", "op")
    kinds = [g["op_kind"] for g in data["by_op"]]
    assert kinds == ["conv 3×3", "dwconv 3×3", "conv 1×1", "gap", "fc"]
    assert [g["rows"] for g in data["by_op"]] == [1, 13, 13, 1, 1]  # MobileNet Table 1
    table = ok("count", "mobilenet", "--by", "op").stdout
    assert "dwconv 3×3" in table and "94.86 %" in table
    rows = list(
        csv.DictReader(io.StringIO(ok("count", "mobilenet", "--by", "op", "-f", "csv").stdout))
    )
    assert [r["op_kind"] for r in rows] == kinds
    assert list(rows[0]) == ["op_kind", "rows", "params", "macs", "flops"]


def test_count_batch_scales_macs_linearly():
    one = count_json("mobilenet")["totals"]
    for batch in (2, 8):
        data = count_json("mobilenet", "--batch", str(batch))
        assert data["batch"] == batch
        assert data["totals"]["macs"] == batch * one["macs"]
        assert data["totals"]["flops"] == batch * one["flops"]
        assert data["totals"]["params"] == one["params"]  # params do not grow with the batch


def test_count_dtype_float16_halves_param_bytes():
    f32 = count_json("mobilenet")
    f16 = count_json("mobilenet", "--dtype", "float16")
    assert f16["dtype"] == "float16"
    assert f32["totals"]["param_bytes"] == 4 * f32["totals"]["params"]
    assert 2 * f16["totals"]["param_bytes"] == f32["totals"]["param_bytes"]
    assert 2 * f16["totals"]["peak_activation_bytes"] == f32["totals"]["peak_activation_bytes"]
    assert f16["totals"]["macs"] == f32["totals"]["macs"]


def test_count_multipliers():
    data = count_json("mobilenet", "--alpha", "0.5", "--resolution", "160")
    assert data["input"] == [3, 160, 160]
    assert data["options"]["alpha"] == 0.5
    assert data["published"]["source"] == "Table 9"


def test_count_help_states_conventions():
    result = ok("count", "--help")
    text = " ".join(result.stdout.replace("│", " ").split())
    for phrase in (
        "biases and BatchNorm affine included",
        "buffers apart",
        "MACs are conv and fc multiply-accumulates",
        "FLOPs are 2·MACs plus element-wise work",
    ):
        assert phrase in text, phrase


# --- count: --output --------------------------------------------------------------------------


def test_output_writes_file(tmp_path: Path):
    target = tmp_path / "mobilenet.json"
    result = ok("count", "mobilenet", "-f", "json", "--output", str(target))
    assert result.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8"))["totals"]["macs"] == MOBILENET_MACS
    # same bytes as the terminal gets
    assert target.read_text(encoding="utf-8") == ok("count", "mobilenet", "-f", "json").stdout


def test_output_table_to_file(tmp_path: Path):
    target = tmp_path / "mobilenet.txt"
    ok("count", "mobilenet", "-o", str(target))
    text = target.read_text(encoding="utf-8")
    assert "568.74 M" in text
    assert "\x1b[" not in text  # no terminal escapes in a file


def test_output_refuses_existing_file(tmp_path: Path):
    target = tmp_path / "taken.json"
    target.write_text("precious\n", encoding="utf-8")
    err = assert_error(run("count", "mobilenet", "-f", "json", "-o", str(target)), "--force")
    assert str(target) in err
    assert target.read_text(encoding="utf-8") == "precious\n"
    assert_error(run("list", "-f", "json", "-o", str(target)), "--force")
    assert target.read_text(encoding="utf-8") == "precious\n"


def test_output_force_overwrites(tmp_path: Path):
    target = tmp_path / "taken.json"
    target.write_text("precious\n", encoding="utf-8")
    ok("count", "mobilenet", "-f", "json", "-o", str(target), "--force")
    assert json.loads(target.read_text(encoding="utf-8"))["schema"] == "cnnprof.profile/2"


def test_output_into_missing_directory(tmp_path: Path):
    assert_error(
        run("count", "mobilenet", "-o", str(tmp_path / "no" / "such" / "dir.json")), "cannot write"
    )


# --- count: a YAML spec as the model ----------------------------------------------------------

TINY = """\
family: tiny
paper: "a test network"
input: [3, 32, 32]
defaults: {norm: bn, act: relu}
layers:
  - {op: conv, out: 8, k: 5, p: 0}        # 32 → 28
  - {op: maxpool, k: 2}                   # 28 → 14
  - {op: conv, out: 16, k: 5, p: 0, name: shrink}   # 14 → 10
  - {op: maxpool, k: 2}                   # 10 → 5
  - {op: flatten}
  - {op: fc, out: 10, classifier: true}
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    return path


def test_count_yaml_path(tiny: Path):
    data = count_json(str(tiny))
    assert data["model"] == "tiny"
    assert data["output"] == [10, 1, 1]
    expected = 5 * 5 * 3 * 8 * 28 * 28 + 5 * 5 * 8 * 16 * 10 * 10 + 16 * 5 * 5 * 10
    assert data["totals"]["macs"] == expected


def test_resolution_too_small_names_the_row(tiny: Path):
    # 12 → conv 5×5 → 8 → pool → 4 → conv 5×5 without padding: nothing left
    err = assert_error(run("count", str(tiny), "--resolution", "12"), "vanishes", "'shrink'")
    assert "4×4" in err
    # a map that vanishes in a pool, in an unnamed row
    assert_error(run("count", str(tiny), "--resolution", "5"), "vanishes", "row '1'")


def test_malformed_yaml_file(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("family: broken\nlayers: [ {op: conv, out: 8\n", encoding="utf-8")
    assert_error(run("count", str(path)), str(path), "not valid YAML")


def test_unknown_op_in_yaml(tmp_path: Path):
    path = tmp_path / "ops.yaml"
    path.write_text(
        TINY.replace("{op: maxpool, k: 2}                   # 10", "{op: maxpoool, k: 2}  # 10")
    )
    err = assert_error(run("count", str(path)), str(path), "row 4", "field 'op'", "'maxpoool'")
    assert "allowed: " in err
    for op in ("avgpool", "conv", "dws", "fc", "maxpool", "mbconv"):
        assert op in err.split("allowed: ", 1)[1]


def test_yaml_variant(tiny: Path):
    """`file.yaml:variant` picks a variant; its width multiplies the user's alpha."""
    path = tiny.with_name("variants.yaml")
    path.write_text(TINY + "variants:\n  tiny: {}\n  half: {width: 0.5}\n", encoding="utf-8")
    full = count_json(str(path))
    half = count_json(f"{path}:half")
    assert half["model"] == "half"
    assert half["totals"]["macs"] < full["totals"]["macs"]
    assert count_json(f"{path}:tiny", "--alpha", "0.5")["totals"] == half["totals"]
    assert_error(run("count", f"{path}:nope"), "'nope'", "tiny, half")


def test_yaml_variant_num_classes(tiny: Path):
    path = tiny.with_name("classes.yaml")
    path.write_text(TINY + "variants:\n  tiny: {num_classes: 7}\n", encoding="utf-8")
    assert count_json(str(path))["output"] == [7, 1, 1]


def test_missing_yaml_file(tmp_path: Path):
    assert_error(run("count", str(tmp_path / "absent.yaml")), "absent.yaml", "does not exist")


# --- count: errors ----------------------------------------------------------------------------


def test_unknown_model_suggests_closest():
    err = assert_error(run("count", "mobilenett"), "'mobilenett'", "did you mean")
    assert "mobilenet" in err.split("did you mean", 1)[1]


def test_unknown_model_without_close_match():
    assert_error(run("count", "qqqqqqqqqq"), "'qqqqqqqqqq'", "cnnprof list")


@pytest.mark.parametrize("alpha", ["0", "-0.5", "nan"])
def test_alpha_not_positive(alpha: str):
    assert_error(run("count", "mobilenet", "--alpha", alpha), "--alpha", "> 0")


@pytest.mark.parametrize("resolution", ["0", "-224"])
def test_resolution_not_positive(resolution: str):
    assert_error(run("count", "mobilenet", "--resolution", resolution), "--resolution", "> 0")


def test_rho_not_positive():
    assert_error(run("count", "mobilenet", "--rho", "0"), "--rho", "> 0")


def test_rho_and_resolution_together():
    assert_error(
        run("count", "mobilenet", "--rho", "0.714", "--resolution", "160"), "--resolution", "--rho"
    )


def test_bad_dtype():
    err = assert_error(run("count", "mobilenet", "--dtype", "float8"), "--dtype", "float8")
    assert "float16" in err and "float32" in err


@pytest.mark.parametrize("batch", ["0", "-1"])
def test_batch_below_one(batch: str):
    assert_error(run("count", "mobilenet", "--batch", batch), "--batch", "≥ 1")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["count"], id="missing model"),
        pytest.param(["count", "mobilenet", "--no-such-option"], id="unknown option"),
        pytest.param(["count", "mobilenet", "--format", "xml"], id="bad format"),
        pytest.param(["count", "mobilenet", "--alpha", "half"], id="alpha not a number"),
        pytest.param(["count", "mobilenet", "--by", "layer"], id="bad --by"),
        pytest.param(["nonsense"], id="unknown command"),
    ],
)
def test_usage_errors(args: list[str]):
    assert_error(run(*args))


@pytest.mark.parametrize(
    "option", ["--alpha", "--rho", "--depth"], ids=["alpha inf", "rho inf", "depth inf"]
)
def test_infinite_multiplier(option: str):
    assert_error(run("count", "mobilenet", option, "inf"), option)


def test_yaml_file_not_utf8(tmp_path: Path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("family: caf\xe9\npaper: p\n".encode("latin-1"))
    assert_error(run("count", str(path)), str(path))


# --- the real process: what a shell sees ------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["count", "mobilenett"], ["count", "mobilenet", "--alpha", "0"], ["list", "zzz_nothing"]],
    ids=["unknown model", "alpha 0", "list nothing"],
)
@pytest.mark.slow
def test_errors_in_a_real_process(args: list[str]):
    proc = subprocess.run(
        [sys.executable, "-m", "cnnprof", *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("cnnprof: error: ")
    assert proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


# --- every flag works with every format, or is refused -----------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("count", "mobilenet", "--counter", "fvcore"), "add --empirical"),
        (("count", "mobilenet", "--train", "head", "--layers"), "--train with --layers"),
        (("count", "mobilenet", "--train", "head", "--by", "op"), "--train with --by"),
        (("count", "mobilenet", "--empirical", "--by", "op"), "--empirical with --by op"),
        (("count", "mobilenet", "--empirical", "--latency"), "--empirical with --latency"),
        (("count", "mobilenet", "--layers", "--by", "op", "-f", "csv"), "one table"),
        (("count", "mobilenet", "--input", "3,32,32"), "--input is for outside models"),
        (("count", "mobilenet", "--arg", "num_classes=3"), "--arg is for outside models"),
        (("count", "mobilenet", "--timeout", "5"), "--timeout 5 bounds an outside model"),
    ],
)
def test_options_that_would_do_nothing_are_refused(args: tuple[str, ...], fragment: str):
    assert_error(run(*args), fragment)


def test_layers_and_by_op_give_both_tables_in_every_format_that_holds_two():
    """`--layers --by op`: the per-op summary and every row, in JSON, Markdown and the table."""
    rows = len(cnnprof.count("mobilenet").layers)
    kinds = len(cnnprof.count("mobilenet").by_kind())
    data = json.loads(run("count", "mobilenet", "--layers", "--by", "op", "-f", "json").stdout)
    assert (len(data["layers"]), len(data["by_op"])) == (rows, kinds)
    md = run("count", "mobilenet", "--layers", "--by", "op", "-f", "md").stdout
    assert md.count("| path | op |") == 1 and md.count("| op kind | rows |") == 1
    table = run("count", "mobilenet", "--layers", "--by", "op").stdout
    assert "by op · MACs at batch 1" in table and "layers · MACs at batch 1" in table


@pytest.mark.torch
@pytest.mark.parametrize("fmt", ["table", "json", "csv", "md"])
def test_empirical_layers_compares_every_row(fmt: str):
    """`--empirical --layers` shows each row counted both ways, in every format."""
    rows = len(cnnprof.count("lenet5").layers)
    out = run("count", "lenet5", "--empirical", "--layers", "-f", fmt)
    assert out.exit_code == 0, out.stderr
    if fmt == "json":
        layers = json.loads(out.stdout)["layers"]
        assert len(layers) == rows and all(r["agree"] for r in layers)
        assert layers[0]["analytic_params"] == layers[0]["empirical_params"] > 0
    elif fmt == "csv":
        lines = out.stdout.strip().splitlines()
        assert lines[0].startswith("path,op,analytic_params") and len(lines) == rows + 1
    elif fmt == "md":
        assert "params (analytic)" in out.stdout and out.stdout.count("| = |") == rows
    else:
        assert "rows · analytic vs empirical" in out.stdout


def test_empirical_layers_marks_a_row_that_differs():
    """A row the two counts disagree on is shown as differing (≠ in Markdown, agree false)."""
    from cnnprof.report.cross_check import row_comparison
    from cnnprof.results.profile import CrossCheck

    analytic = cnnprof.count("lenet5")
    changed = replace(analytic.layers[0], weight_params=analytic.layers[0].weight_params + 1)
    empirical = replace(analytic, layers=(changed, *analytic.layers[1:]), source="torch")
    records = row_comparison(CrossCheck.of(analytic, empirical))
    assert [r["agree"] for r in records] == [False] + [True] * (len(records) - 1)
