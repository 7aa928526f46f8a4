"""A registry lookup by name reads the cached index (name → family file, alias → name) and builds
only the one family it needs; the index is built from the whole registry, every file checked,
when the cache is missing or damaged, and kept under the shipped files' key. The family's data is
kept too, as JSON: a later lookup builds it with no YAML parser, the same `Family`."""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

import cnnprof.arch.registry as registry
from cnnprof.arch.registry import default_registry, lookup, shipped_index
from cnnprof.cache import read_shared, write_shared
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


def _built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The families built from now on (from their file or from the cache), by file name."""
    seen: list[str] = []
    build = registry.family_of

    def counting(doc, where):
        seen.append(Path(where).name)
        return build(doc, where)

    monkeypatch.setattr(registry, "family_of", counting)
    return seen


def _no_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path):
        raise AssertionError(f"{path} parsed: the cached family was not used")

    monkeypatch.setattr(registry, "read_doc", refuse)


def test_every_name_and_alias_finds_its_registry_entry(cache: Path):
    full = default_registry()
    for key in [*full.entries, *full.aliases]:
        assert lookup(key.upper()) == full.get(key), key
    assert len(list(cache.glob("*.json"))) == 1, "the index is written to the cache"


def test_a_warm_lookup_builds_one_family(cache: Path, monkeypatch: pytest.MonkeyPatch):
    lookup("resnet50")  # writes the index
    shipped_index.cache_clear()
    registry._shipped_family.cache_clear()
    built = _built(monkeypatch)
    assert lookup("mobilenet").name == "mobilenet_v1"
    assert built == ["mobilenet_v1.yaml"]


def test_a_family_read_from_the_cache_is_the_one_in_its_file(
    cache: Path, monkeypatch: pytest.MonkeyPatch
):
    """Every shipped family, shared rows included (a YAML alias: convnext's variants share rows,
    and errors name the variant that first wrote them), equal to the registry's own."""
    full = default_registry()
    files = {Path(e.family.source).name for e in full.entries.values()}
    for file in files:
        registry._shipped_family(file)  # kept in the cache
    registry._shipped_family.cache_clear()
    kept = {p.stem for p in cache.glob("*/*.json")}
    assert "convnext" in kept and len(kept) >= len(files) - 1  # shufflenet's keys are numbers
    for name, entry in full.entries.items():
        assert registry._shipped_family(Path(entry.family.source).name) == entry.family, name
    registry._shipped_family.cache_clear()
    _no_yaml(monkeypatch)
    assert lookup("convnext_small") == full.get("convnext_small")


DAMAGED_FAMILY = (
    "{not json",
    '{"data": {}, "links": []}',
    '{"data": {"family": 1}}',
    '{"data": {"a": [1]}, "links": [[["a", 0], ["a"]]]}',
    '{"data": {"a": [1]}, "links": [[[], ["a"]]]}',
    '{"data": {"a": [1]}, "links": [[["b", 0], ["a"]]]}',
)


def test_a_damaged_family_is_read_from_its_file(cache: Path):
    expected = lookup("mobilenet")
    (file,) = cache.glob("*/mobilenet_v1.json")
    for text in DAMAGED_FAMILY:
        file.write_text(text, encoding="utf-8")
        registry._shipped_family.cache_clear()
        assert lookup("mobilenet") == expected, text


def test_what_json_cannot_hold_is_not_kept(tmp_path: Path):
    shared = [1, {"k": 2}]
    write_shared(tmp_path / "a.json", {"x": shared, "y": shared})
    back = read_shared(tmp_path / "a.json")
    assert back == {"x": shared, "y": shared} and back["x"] is back["y"]
    for data in ({1: "a"}, {"n": math.nan}, {"d": datetime.date(2020, 1, 1)}):
        write_shared(tmp_path / "b.json", data)
        assert not (tmp_path / "b.json").exists(), data


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


@pytest.mark.parametrize(
    "wrong",
    [
        '{"files": {"mobilenet_v1": "resnet.yaml"}, "aliases": {"mobilenet": "mobilenet_v1"}}',
        '{"files": {"resnet50": "resnet.yaml"}, "aliases": {}}',
        '{"files": {"mobilenet_v1": "nope.yaml"}, "aliases": {"mobilenet": "mobilenet_v1"}}',
    ],
    ids=["wrong family", "name missing", "no such file"],
)
def test_an_index_that_reads_but_is_wrong_is_built_again(cache: Path, wrong: str):
    """A cached index of the right form but the wrong content never hides a model or names a
    wrong family: a miss is checked against the whole registry and the index is rebuilt."""
    lookup("resnet50")
    (file,) = cache.glob("*.json")
    file.write_text(wrong, encoding="utf-8")
    shipped_index.cache_clear()
    registry._shipped_family.cache_clear()
    assert lookup("mobilenet").name == "mobilenet_v1"
    shipped_index.cache_clear()
    assert shipped_index() == registry.Index.of(default_registry()), "and written again"


def test_a_new_index_removes_what_other_files_keys_left(cache: Path):
    """Each edit of a family file makes a new key; the index built for it removes the old
    ones, so the cache does not grow with every edit."""
    cache.mkdir(parents=True)
    (cache / "oldkey.json").write_text("{}", encoding="utf-8")
    (cache / "oldkey").mkdir()
    (cache / "oldkey" / "mobilenet.json").write_text("{}", encoding="utf-8")
    lookup("resnet50")
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [f"{registry.shipped_key()}.json", registry.shipped_key()]
    )
