"""A registry lookup by name reads the cached index (name → family file, alias → name) and parses
only the one family it needs; the index is built from the whole registry, every file checked,
when the cache is missing or damaged, and kept under the shipped files' key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import cnnprof.arch.registry as registry
from cnnprof.arch.registry import default_registry, lookup, shipped_index
from cnnprof.errors import UnknownModel


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache, and no index or family held from earlier lookups in this process."""
    monkeypatch.setenv("CNNPROF_CACHE_DIR", str(tmp_path))
    shipped_index.cache_clear()
    registry._shipped_family.cache_clear()
    yield tmp_path / "registry"
    shipped_index.cache_clear()
    registry._shipped_family.cache_clear()


def _parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The family files parsed from now on, by name."""
    seen: list[str] = []
    read = registry.read_family

    def counting(path):
        seen.append(Path(path).name)
        return read(path)

    monkeypatch.setattr(registry, "read_family", counting)
    return seen


def test_every_name_and_alias_finds_its_registry_entry(cache: Path):
    full = default_registry()
    for key in [*full.entries, *full.aliases]:
        assert lookup(key.upper()) == full.get(key), key
    assert len(list(cache.glob("*.json"))) == 1, "the index is written to the cache"


def test_a_warm_lookup_parses_one_family(cache: Path, monkeypatch: pytest.MonkeyPatch):
    lookup("resnet50")  # writes the index
    shipped_index.cache_clear()
    registry._shipped_family.cache_clear()
    parsed = _parsed(monkeypatch)
    assert lookup("mobilenet").name == "mobilenet_v1"
    assert parsed == ["mobilenet_v1.yaml"]


DAMAGED = (
    "{not json",
    "[1, 2]",
    '{"files": {}, "aliases": {}}',
    '{"files": {"a": "a.yaml"}, "aliases": {"b": "c"}}',
)


def test_a_damaged_index_is_built_again(cache: Path):
    lookup("resnet50")
    (file,) = cache.glob("*.json")
    for text in DAMAGED:
        file.write_text(text, encoding="utf-8")
        shipped_index.cache_clear()
        assert lookup("mobilenet").name == "mobilenet_v1", text


def test_an_unknown_name_suggests_from_the_index(cache: Path):
    with pytest.raises(UnknownModel, match="did you mean mobilenet, mobilenetv2, mobilenet_v2"):
        lookup("mobilenett")
