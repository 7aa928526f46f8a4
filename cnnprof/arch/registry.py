"""The registry: model names and aliases → (family, variant), with did-you-mean suggestions.

One object, built once from the YAML files shipped in ``configs/models`` (package data). A lookup
by name reads the cached index of names → family files and parses the one family it needs.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cnnprof.files as files
from cnnprof.arch.load import family_of, read_doc, read_family
from cnnprof.arch.model import Arch, Family, Variant, frozen
from cnnprof.arch.multipliers import Multipliers
from cnnprof.arch.reference import matching
from cnnprof.arch.scale import resolve
from cnnprof.arch.shipped import models_dir, shipped_key
from cnnprof.cache import cache_dir, read_json, read_shared, write_json, write_shared
from cnnprof.errors import ArchError, UnknownModel, close_matches, did_you_mean


@dataclass(frozen=True)
class Entry:
    """One registry model: its family and variant."""

    family: Family
    variant: Variant

    @property
    def name(self) -> str:
        return self.variant.name

    @property
    def paper(self) -> str:
        return self.variant.paper or self.family.paper

    def arch(
        self, multipliers: Multipliers | None = None, *, design: Mapping[str, Any] | None = None
    ) -> Arch:
        """The variant scaled by ``multipliers``; ``design`` overrides a generated variant's
        design-space parameters (RegNet's ``{"wm": 2.5}``)."""
        return resolve(self.family, self.variant.name, multipliers, design=design)


@dataclass(frozen=True)
class Registry:
    entries: Mapping[str, Entry]
    aliases: Mapping[str, str]

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> Registry:
        return cls.from_families(read_family(path) for path in sorted(paths))

    @classmethod
    def from_families(cls, families: Iterable[Family]) -> Registry:
        entries: dict[str, Entry] = {}
        aliases: dict[str, str] = {}
        for family in families:
            for variant in family.variants.values():
                for key in (variant.name, *variant.aliases):
                    if key in entries or key in aliases:
                        raise ArchError(
                            f"{family.source}: model name '{key}' is already registered"
                        )
                entries[variant.name] = Entry(family, variant)
                aliases.update(dict.fromkeys(variant.aliases, variant.name))
        return cls(frozen(entries), frozen(aliases))

    def names(self, pattern: str | None = None) -> list[str]:
        """Registry names in file order, optionally filtered by a shell-style wildcard."""
        return matching(list(self.entries), pattern)

    def canonical(self, name: str) -> str | None:
        return _canonical(name, self.entries, self.aliases)

    def get(self, name: str) -> Entry:
        key = self.canonical(name)
        if key is None:
            raise UnknownModel(unknown_message(name, [*self.entries, *self.aliases]))
        return self.entries[key]


def _canonical(name: str, names: Mapping[str, Any], aliases: Mapping[str, str]) -> str | None:
    """The registry name ``name`` stands for (any case, an alias followed), or None."""
    key = name.strip().lower()
    return key if key in names else aliases.get(key)


def unknown_message(name: str, choices: list[str]) -> str:
    """The error for a name no source knows, with the registry names closest to it; for a Python
    file named without its factory, the functions and classes it defines."""
    if name.endswith(".py") and files.exists(Path(name), "model"):
        return f"'{name}' is a file: name its factory, {name}:FACTORY ({_defined(Path(name))})"
    close = close_matches(name.lower(), choices)
    hint = f"did you mean {', '.join(close)}?" if close else "see `cnnprof list`"
    return (
        f"unknown model '{name}': {hint} (outside models: torchvision:NAME, timm:NAME, "
        "package.module:factory, file.py:factory, spec.yaml)"
    )


def _defined(path: Path) -> str:
    """What ``path`` defines at its top level (read, not run: no import, no torch)."""
    try:
        tree = ast.parse(files.read_text(path, "model"))
    except SyntaxError as exc:
        return f"it does not parse: line {exc.lineno}: {exc.msg}"
    kinds = (ast.FunctionDef, ast.ClassDef)
    names = [node.name for node in tree.body if isinstance(node, kinds)]
    return f"it defines {', '.join(names)}" if names else "it defines no function or class"


@functools.lru_cache(maxsize=1)
def default_registry() -> Registry:
    return Registry.from_files(models_dir().glob("*.yaml"))


@dataclass(frozen=True)
class Index:
    """The registry without its families: each name's family file and each alias's name."""

    files: Mapping[str, str]
    aliases: Mapping[str, str]

    @classmethod
    def of(cls, registry: Registry) -> Index:
        files = {name: Path(e.family.source).name for name, e in registry.entries.items()}
        return cls(frozen(files), registry.aliases)


@functools.lru_cache(maxsize=1)
def shipped_index() -> Index:
    """The index of the shipped registry, kept in the cache under the files' key: a new process
    finds a model's family without parsing the others. Built from the whole registry (every
    file parsed and checked) when the cache is missing, damaged or from other files."""
    path = cache_dir() / "registry" / f"{shipped_key()}.json"
    index = _read_index(path)
    return index if index is not None else _rebuilt_index(path)


def _rebuilt_index(path: Path) -> Index:
    """The index built from the whole registry and kept at ``path``; what other files' keys
    left in the cache is removed."""
    index = Index.of(default_registry())
    write_json(path, {"files": dict(index.files), "aliases": dict(index.aliases)})
    for stale in path.parent.glob("*"):
        if stale.name not in (path.name, path.stem):
            with contextlib.suppress(OSError):
                shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    return index


def _read_index(path: Path) -> Index | None:
    """The cached index; None when absent or not what this version writes."""
    data = read_json(path)
    try:
        names, aliases = dict(data["files"]), dict(data["aliases"])
    except (TypeError, KeyError, ValueError):
        return None
    texts = [*names, *names.values(), *aliases]
    if (
        not names
        or not all(isinstance(t, str) for t in texts)
        or set(aliases.values()) - set(names)
        or not all((models_dir() / file).is_file() for file in set(names.values()))
    ):
        return None
    return Index(frozen(names), frozen(aliases))


@functools.cache
def _shipped_family(file: str) -> Family:
    """A shipped family by file name. Its file's data is kept in the cache as JSON under the
    files' key, so that a new process needs no YAML parser to look a model up; it is read from
    the YAML file (and kept) when the cache is missing, damaged or from other files."""
    path = models_dir() / file
    kept = cache_dir() / "registry" / shipped_key() / f"{Path(file).stem}.json"
    doc = read_shared(kept)
    if doc is not None:
        with contextlib.suppress(ArchError):
            return family_of(doc, str(path))
    doc = read_doc(path)
    write_shared(kept, doc)
    return family_of(doc, str(path))


def registered(name: str) -> Entry:
    """A registry model by name or alias, its family alone parsed (the cached index says which)."""
    index = shipped_index()
    canonical = _canonical(name, index.files, index.aliases)
    family = None if canonical is None else _shipped_family(index.files[canonical])
    if family is None or canonical not in family.variants:
        # a miss is checked against the whole registry, and a cached index that was wrong is
        # rebuilt: a damaged cache never hides a model nor names a wrong family
        registry = default_registry()
        if Index.of(registry) != index:
            shipped_index.cache_clear()
            _rebuilt_index(cache_dir() / "registry" / f"{shipped_key()}.json")
        canonical = _canonical(name, registry.entries, registry.aliases)
        if canonical is None:
            raise UnknownModel(unknown_message(name, [*registry.entries, *registry.aliases]))
        return registry.entries[canonical]
    return Entry(family, family.variants[canonical])


def lookup(model: str) -> Entry:
    """A registry name or alias, or a path to a YAML family file (``spec.yaml`` or
    ``spec.yaml:variant``)."""
    path, yaml_suffix, variant = model.partition(".yaml")
    if yaml_suffix and (variant == "" or variant.startswith(":")):
        file = Path(path + ".yaml")
        if not files.exists(file, "spec"):
            raise UnknownModel(f"spec file '{file}' does not exist")
        family = read_family(file)
        name = variant[1:] or next(iter(family.variants))
        if name not in family.variants:
            known = ", ".join(family.variants)
            hint = did_you_mean(name, family.variants)
            raise UnknownModel(f"'{file}' has no variant '{name}'{hint}; it has: {known}")
        return Entry(family, family.variants[name])
    return registered(model)
