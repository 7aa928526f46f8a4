"""docs/formats.md is the schema of every JSON document cnnprof writes: each command's output is
walked field by field, and a field the page does not describe, or a number-unit field holding
text, fails the test (issue 16: "a schema test for every command's JSON")."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import NUMERIC_UNITS, run

DOC = Path(__file__).resolve().parents[2] / "docs" / "formats.md"


def _schemas() -> dict[str, dict[str, str]]:
    """Schema id → {field path: unit}, read from the page's tables."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"## (cnnprof\.\S+)", line)
        if heading:
            current = out.setdefault(heading.group(1), {})
        field = re.match(r"\| `([^`]+)` \|([^|]*)\|", line)
        if field and current is not None:
            current[field.group(1)] = field.group(2).strip()
    return out


SCHEMAS = _schemas()


def _fields(value: Any, path: str, known: dict[str, str], out: dict[str, list[Any]]) -> None:
    if f"{path}.*" in known:
        out.setdefault(f"{path}.*", [])
        return
    if isinstance(value, dict):
        if "schema" in value and path:  # a nested document: checked against its own schema
            check_document(value)
            out.setdefault(path, [])
            return
        for key, item in value.items():
            _fields(item, f"{path}.{key}" if path else key, known, out)
    elif isinstance(value, list):
        if not value and not any(k.startswith(path + "[]") for k in known):
            out.setdefault(path + "[]", [])  # an empty list the page does not describe
        for item in value:
            _fields(item, path + "[]", known, out)
    else:
        out.setdefault(path, []).append(value)


def check_document(document: dict[str, Any]) -> None:
    schema = document.get("schema")
    assert schema in SCHEMAS, f"{schema}: no section in docs/formats.md"
    known = SCHEMAS[schema]
    found: dict[str, list[Any]] = {}
    _fields(document, "", known, found)
    undocumented = sorted(set(found) - set(known))
    assert not undocumented, f"{schema}: fields not in docs/formats.md: {undocumented}"
    for path, values in found.items():
        if known[path] in NUMERIC_UNITS:
            wrong = [v for v in values if v is not None and not isinstance(v, (int, float))]
            assert not wrong, f"{schema} {path} ({known[path]}) holds {wrong[:3]}"


def _json(*args: str) -> dict[str, Any]:
    result = run(*args, "--format", "json")
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


SHIPPED_PROFILE = ("--device-profile", "amd-epyc-1t")  # predicts without measuring
ANALYTIC = {
    "list": ("list",),
    "count": ("count", "mobilenet", "--layers", "--by", "op"),
    "count depth": ("count", "mobilenet", "--layers", "--max-depth", "1"),
    "prediction by op": ("latency", "mobilenet", *SHIPPED_PROFILE, "--by", "op"),
    "prediction depth": ("latency", "resnet18", *SHIPPED_PROFILE, "-l", "--max-depth", "1"),
    "count train": ("count", "mobilenet", "--train", "head"),
    "compare": ("compare", "mobilenet", "resnet18", "mobilenet@alpha=0.5"),
    "separable": ("separable", "mobilenet", "--layers"),
    "sweep": ("sweep", "efficientnet_b0", "--phi", "0,1", "--pareto"),
    "sweep grid": ("sweep", "mobilenet", "--alpha", "1,0.5", "--resolution", "224,160"),
    "check": ("check", "configs/budgets/zoo.yaml"),
}


@pytest.mark.parametrize("name", list(ANALYTIC))
def test_every_analytic_command_matches_its_schema(name: str) -> None:
    check_document(_json(*ANALYTIC[name]))


def test_snapshot_matches_its_schema() -> None:
    result = run("snapshot", "mobilenet", "resnet18")
    assert result.exit_code == 0, result.stderr
    check_document(json.loads(result.stdout))


def test_check_names_limit_and_value_as_numbers(tmp_path: Path) -> None:
    budget = tmp_path / "budget.yaml"
    budget.write_text("models:\n  - {model: resnet18, max_macs: 4.1G}\n")
    (record,) = _json("check", str(budget))["results"]
    assert record["limit"] == 4_100_000_000 and isinstance(record["limit"], int)
    assert record["value"] == 1_814_073_344 and record["reference"] == 4_100_000_000


def test_a_field_missing_from_the_page_fails() -> None:
    with pytest.raises(AssertionError, match="not_a_field"):
        check_document({"schema": "cnnprof.list/1", "not_a_field": 1, "models": []})
    with pytest.raises(AssertionError, match="holds"):
        check_document({"schema": "cnnprof.list/1", "models": [{"params": "4.2 M"}]})


@pytest.mark.torch
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_measured_commands_match_their_schemas(tmp_path: Path, monkeypatch) -> None:
    from test_latency import TINY_KERNELS, TINY_PLAN

    from cnnprof.empirical import peaks as peaks_module
    from cnnprof.results import judge

    monkeypatch.setenv("CNNPROF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(peaks_module, "PLANS", {"cpu": TINY_PLAN})
    monkeypatch.setattr(peaks_module, "KERNEL_PLANS", {"cpu": TINY_KERNELS})
    monkeypatch.setattr(judge, "refusals", lambda measured: [])  # tiny plans fit loosely
    check_document(_json("count", "mobilenet", "--empirical", "--layers"))
    check_document(_json("latency", "lenet5", "--runs", "3", "--layers"))
    check_document(_json("device", "--threads", "1"))


# Columns that name things; every other CSV cell is a number or empty.
NAME_COLUMNS = {
    "model",
    "twin",
    "path",
    "op",
    "kernel",
    "written",
    "op_kind",
    "metric",
    "kind",
    "status",
    "official",
    "input",
    "output",
    "dtype",
}
CSV_COMMANDS = [
    ("count", "mobilenet", "--layers"),
    ("count", "mobilenet", "--by", "op"),
    ("count", "mobilenet"),
    ("compare", "mobilenet", "resnet18"),
    ("separable", "mobilenet"),
    ("separable", "mobilenet", "--layers"),
    ("sweep", "mobilenet", "-a", "1,0.5", "--pareto"),
    ("check", "configs/budgets/zoo.yaml"),
]


@pytest.mark.parametrize("args", CSV_COMMANDS, ids=" ".join)
def test_csv_holds_numbers_only(args: tuple[str, ...]) -> None:
    result = run(*args, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    for record in csv.DictReader(io.StringIO(result.stdout)):
        for column, cell in record.items():
            if column in NAME_COLUMNS or cell in ("", "True", "False"):
                continue
            float(cell)  # raises on display text such as '25.56 M (×0.18)' or '–'
