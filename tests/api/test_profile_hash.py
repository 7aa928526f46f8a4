"""A baseline keeps its device profile's content hash beside the profile's name: `check`
refuses to compare against a profile whose content differs since (the file replaced, or the
name edited to another shipped profile), and `--update` records the one there now. A baseline
written before the hash was is checked as before, with a note. Profiles are the shipped ones
(configs/devices/); nothing is timed."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import assert_error, run

from cnnprof.api.latency import named_profile

DEVICES = Path(__file__).resolve().parents[2] / "configs" / "devices"
CHANGED = "the profile changed since this baseline: re-snapshot or --update"


def _baseline(directory: Path) -> tuple[Path, Path]:
    profile, baseline = directory / "device.json", directory / "baseline.json"
    profile.write_bytes((DEVICES / "amd-epyc-1t.json").read_bytes())
    made = run("snapshot", "lenet5", "--device-profile", str(profile), "-o", str(baseline))
    assert made.exit_code == 0, made.stderr
    return profile, baseline


def _prediction(baseline: Path) -> dict:
    return json.loads(baseline.read_text(encoding="utf-8"))["models"][0]["prediction"]


def test_a_snapshot_records_the_profiles_hash_beside_its_name(tmp_path: Path):
    profile, baseline = _baseline(tmp_path)
    keys = list(_prediction(baseline))
    assert keys[:2] == ["device_profile", "profile_sha256"]
    expected = named_profile(str(profile), "float32").content_hash
    assert _prediction(baseline)["profile_sha256"] == expected
    assert run("check", str(baseline)).exit_code == 0


def test_a_profile_file_replaced_since_is_refused_until_updated(tmp_path: Path):
    profile, baseline = _baseline(tmp_path)
    profile.write_bytes((DEVICES / "amd-epyc-2t.json").read_bytes())
    assert_error(run("check", str(baseline)), str(baseline), "prediction.profile_sha256", CHANGED)
    updated = run("check", str(baseline), "--update")
    assert updated.exit_code == 0, updated.stderr
    assert run("check", str(baseline)).exit_code == 0


def test_a_profile_renamed_to_another_shipped_one_is_refused(tmp_path: Path):
    _, baseline = _baseline(tmp_path)
    document = json.loads(baseline.read_text(encoding="utf-8"))
    document["models"][0]["prediction"]["device_profile"] = "amd-epyc-2t"
    baseline.write_text(json.dumps(document), encoding="utf-8")
    assert_error(run("check", str(baseline)), "amd-epyc-2t", CHANGED)


def test_a_baseline_without_a_hash_is_checked_as_before_with_a_note(tmp_path: Path):
    _, baseline = _baseline(tmp_path)
    document = json.loads(baseline.read_text(encoding="utf-8"))
    del document["models"][0]["prediction"]["profile_sha256"]
    baseline.write_text(json.dumps(document), encoding="utf-8")
    result = run("check", str(baseline))
    assert result.exit_code == 0, result.stderr
    assert "records no profile_sha256" in " ".join(result.stdout.split())
    assert run("check", str(baseline), "--update").exit_code == 0
    assert "profile_sha256" in _prediction(baseline)
