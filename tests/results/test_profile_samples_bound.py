"""A device profile holds at most `MAX_SAMPLES` samples per kernel kind (issue 27, §4: a profile
just under the 16 MiB size limit made one prediction take 66 s, each predicted kernel scanning
its kind's samples whole). Over the bound: one line naming the file and the field, exit 2; at it:
a prediction as from any profile. Fixtures are a shipped profile (configs/devices/) with one
kind's samples duplicated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_error, run

from cnnprof.results.validate import MAX_SAMPLES, parse_record

DEVICES = Path(__file__).resolve().parents[2] / "configs" / "devices"
KIND = "conv"  # k×k convolutions: MobileNet has one (its stem), so a prediction stays quick


def _with_samples(tmp_path: Path, count: int, kind: str = KIND) -> Path:
    """amd-epyc-1t with ``kind``'s samples repeated to ``count``, saved under ``tmp_path``."""
    record: dict[str, Any] = json.loads((DEVICES / "amd-epyc-1t.json").read_text("utf-8"))
    model = next(k for k in record["kernels"] if k["kind"] == kind)
    model["samples"] = [model["samples"][i % len(model["samples"])] for i in range(count)]
    path = tmp_path / f"{kind}-{count}.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def test_a_profile_over_the_bound_is_refused_naming_the_file_and_the_field(tmp_path: Path):
    path = _with_samples(tmp_path, MAX_SAMPLES + 1)
    problem = parse_record(path.read_text("utf-8"))[1]
    assert (
        problem
        == f"the conv model holds {MAX_SAMPLES + 1} samples, more than the 8192 a kind may hold"
    )
    err = assert_error(run("latency", "mobilenet", "--device-profile", str(path)))
    assert str(path) in err and "samples" in err and "conv model" in err


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_every_command_that_predicts_refuses_it(tmp_path: Path, command: str):
    path = _with_samples(tmp_path, 2 * MAX_SAMPLES, kind="norm")
    models = ["mobilenet", "resnet18"] if command == "compare" else ["mobilenet"]
    extra = ["--alpha", "1,0.5"] if command == "sweep" else []
    err = assert_error(run(command, *models, *extra, "--device-profile", str(path)))
    assert str(path) in err and "norm model holds 16384 samples" in err


def test_a_profile_at_the_bound_predicts(tmp_path: Path):
    path = _with_samples(tmp_path, MAX_SAMPLES)
    assert parse_record(path.read_text("utf-8"))[1] is None
    shown = run("latency", "mobilenet", "--device-profile", str(path), "--format", "json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["predicted_s"] > 0


def test_the_bound_is_five_times_what_a_thorough_calibration_records():
    """The kernel plans' networks (drawn on meta, nothing timed): a kind's samples are its
    kernel calls over every network of the plan, `--thorough` three times the networks."""
    torch = pytest.importorskip("torch")
    from cnnprof.empirical.kernels import KERNEL_PLANS, _networks, more_samples

    largest = 0
    for plan in KERNEL_PLANS.values():
        nets = _networks(more_samples(plan), torch.device("meta"), torch.float32)
        calls: dict[str, int] = {}
        for op in (op for net in nets for op in net.ops if op.call is not None):
            calls[op.call.kind] = calls.get(op.call.kind, 0) + 1
        largest = max(largest, *calls.values())
    assert largest == 1607  # BatchNorm on a CPU, thorough
    assert 4 * largest <= MAX_SAMPLES <= 8 * largest
