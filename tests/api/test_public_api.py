"""The Python API returns the values the CLI renders: `to_dict` of each equals the command's
JSON, and a `Profile`'s repr is one line (a failing assert shows it, not every row)."""

from __future__ import annotations

import json

import pytest
from conftest import run

import cnnprof


def _cli(*args: str) -> dict:
    result = run(*args, "--format", "json")
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_compare_is_the_cli_compare() -> None:
    result = cnnprof.compare("mobilenet", "resnet18")
    assert cnnprof.to_dict(result) == _cli("compare", "mobilenet", "resnet18")
    assert result.ratio("macs", 1) == pytest.approx(1_814_073_344 / 568_740_352)


def test_sweep_is_the_cli_sweep() -> None:
    points = cnnprof.sweep("mobilenet", alpha=[1, 0.5], resolution=[224, 160])
    cli = _cli("sweep", "mobilenet", "-a", "1,0.5", "-r", "224,160", "--pareto")
    assert cnnprof.to_dict(points) == cli
    assert int(points[-1].column.profile.macs / 1e6) == 76  # MobileNet Table 9 prints 76.5 M as 76


def test_separable_snapshot_and_check_are_the_cli_ones(tmp_path) -> None:
    assert cnnprof.to_dict(cnnprof.separable("mobilenet")) == _cli("separable", "mobilenet")
    baseline = cnnprof.snapshot(["mobilenet", "resnet18"])
    assert baseline == json.loads(run("snapshot", "mobilenet", "resnet18").stdout)
    path = tmp_path / "baseline.json"
    path.write_text(cnnprof.to_json(baseline))
    results = cnnprof.check(path)
    assert all(r.ok for r in results)
    assert cnnprof.to_dict(results)["results"] == _cli("check", str(path))["results"]


def test_count_to_json_and_a_short_repr() -> None:
    profile = cnnprof.count("mobilenet", alpha=0.5)
    assert json.loads(cnnprof.to_json(profile))["totals"]["macs"] == 149_497_088  # Table 6: 149 M
    text = repr(profile)
    assert "\n" not in text and len(text) < 200 and "macs=149,497,088" in text


def test_to_dict_refuses_what_it_cannot_write() -> None:
    with pytest.raises(cnnprof.CnnprofError, match="no JSON form for int"):
        cnnprof.to_dict(3)
