"""`cnnprof list`'s catalogue: counted once, kept in the cache keyed by the shipped files and the
version, read back by later processes, and counted again when the cache is missing or damaged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnprof.analytic.engine import profile
from cnnprof.arch.registry import default_registry
from cnnprof.catalog import catalog


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CNNPROF_CACHE_DIR", str(tmp_path))
    return tmp_path / "catalog"


def test_the_catalogue_is_the_registry_counted(cache: Path):
    entries = catalog()
    registry = default_registry()
    assert [e.name for e in entries] == registry.names()
    for e in entries[::7]:
        p = profile(registry.get(e.name).arch())
        assert (e.params, e.macs, e.input) == (p.params, p.macs, tuple(p.input.as_list()))
    assert len(list(cache.glob("*.json"))) == 1, "written to the cache"


def test_a_later_call_reads_the_cache_and_a_damaged_one_is_counted_again(cache: Path):
    first = catalog()
    (file,) = cache.glob("*.json")
    data = json.loads(file.read_text())
    data[0]["macs"] = 1  # a marker only the cache can hold
    file.write_text(json.dumps(data))
    assert catalog()[0].macs == 1, "read back, not counted again"
    file.write_text("{not json")
    assert catalog() == first, "a damaged cache is counted again"
    assert [e.name for e in catalog("resnet*")] == default_registry().names("resnet*")
