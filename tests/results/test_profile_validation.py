"""A device profile is a file from another machine: `parse_record` refuses, naming the field,
every figure a device cannot reach and every string that is not plain text, before anything
predicts or prints from it. Every damaged record here is a shipped profile with one field
changed (configs/devices/); the shipped ones themselves all pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cnnprof.results.validate import parse_record

DEVICES = Path(__file__).resolve().parents[2] / "configs" / "devices"
SHIPPED = sorted(DEVICES.glob("*.json"))


def _record(name: str = "amd-epyc-1t") -> dict[str, Any]:
    return json.loads((DEVICES / f"{name}.json").read_text(encoding="utf-8"))


def _samples(value: Callable[[list[float], float], tuple[list[float], float]]):
    def change(record: dict[str, Any]) -> None:
        for kernel in record["kernels"]:
            kernel["samples"] = [list(value(x, r)) for x, r in kernel["samples"]]

    return change


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda record: record.__setitem__(key, value)


def _first_kernel(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda record: record["kernels"][0].__setitem__(key, value)


# damage → the field the refusal names
DAMAGES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "module_s -1": (_set("module_s", -1.0), "module_s"),
    "module_s NaN": (_set("module_s", float("nan")), "module_s"),
    "module_s inf": (_set("module_s", float("inf")), "module_s"),
    "residuals -1000": (_samples(lambda x, r: (x, -1000.0)), "residual"),
    "residuals 1000": (_samples(lambda x, r: (x, 1000.0)), "residual"),
    "scale 1e-300": (_first_kernel("scale", [1e-300] * 8), "scale"),
    "features 1e308": (_samples(lambda x, r: ([1e308] * len(x), r)), "features"),
    "markup name": (_set("device_name", "[/bold]evil[red]x"), "device_name"),
    "escape name": (_set("device_name", "CPU\x1b[2J"), "device_name"),
    "kind twice": (lambda r: r["kernels"].append(r["kernels"][0]), "given twice"),
    "threads 0": (_set("threads", 0), "threads"),
    "coefficient 1e300": (_first_kernel("coefficients", [1e300, 0, 0, 0, 0]), "coefficients"),
    "rate 1e-300": (_set("flops_per_s", 1e-300), "flops_per_s"),
    "overhead inf": (lambda r: r["op_overhead"].__setitem__("conv", float("inf")), "op_overhead"),
    "markup allocator": (_set("allocator", "[link=file:///etc]x[/link]"), "allocator"),
}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_profile_passes(path: Path):
    record, problem = parse_record(path.read_text(encoding="utf-8"))
    assert problem is None and record is not None


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_profile_is_refused_naming_the_field(damage: str):
    change, field = DAMAGES[damage]
    record = _record()
    change(record)
    problem = parse_record(json.dumps(record))[1]
    assert problem is not None and field in problem, problem
    assert "\n" not in problem and "\x1b" not in problem


def test_a_name_with_brackets_that_are_not_markup_is_plain_text():
    record = _record()
    record["device_name"] = "Intel(R) Xeon(R) CPU [3 cores]"
    assert parse_record(json.dumps(record))[1] is None


def test_an_onnx_runtime_profile_may_take_its_profilers_cost_off_each_node():
    record = _record("intel-xeon-ort-1t")
    assert record["node_s"] < 0 and record["module_s"] == 0
    assert parse_record(json.dumps(record))[1] is None
    record["node_s"] = -2.0
    assert "node_s" in (parse_record(json.dumps(record))[1] or "")  # runtime_fields' bound
