"""The registry's catalogue for `cnnprof list`: every shipped model counted at its default input,
kept in the cache so that a new process lists the registry without parsing and counting it.
Light to import: the registry and the analytic engine load only when the cache is missing."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from cnnprof.arch.reference import matching
from cnnprof.arch.shipped import shipped_key
from cnnprof.cache import cache_dir, read_json, write_json
from cnnprof.results.catalog import CatalogEntry

if TYPE_CHECKING:
    from cnnprof.arch.registry import Entry


def catalog(pattern: str | None = None) -> list[CatalogEntry]:
    """Registry models (optionally matching a wildcard), each counted at its default input.
    Kept in the cache, keyed by the shipped family files' bytes and cnnprof's version: a new
    process lists the registry without parsing and counting it again."""
    path = cache_dir() / "catalog" / f"{shipped_key()}.json"
    entries = _read_catalog(path)
    if entries is None:
        from cnnprof.arch.registry import default_registry

        entries = [_summary(entry) for entry in default_registry().entries.values()]
        write_json(path, [asdict(e) for e in entries])
    chosen = set(matching([e.name for e in entries], pattern))
    return [e for e in entries if e.name in chosen]


def _summary(entry: Entry) -> CatalogEntry:
    from cnnprof.analytic.engine import profile as analytic_profile

    p = analytic_profile(entry.arch())
    return CatalogEntry(
        name=entry.name,
        aliases=tuple(entry.variant.aliases),
        family=entry.family.name,
        input=tuple(p.input.as_list()),
        params=p.params,
        macs=p.macs,
        paper=entry.paper,
    )


def _read_catalog(path: Path) -> list[CatalogEntry] | None:
    """The cached catalogue; None when absent or not what this version writes."""
    data = read_json(path)
    try:
        entries = [
            CatalogEntry(**{**d, "aliases": tuple(d["aliases"]), "input": tuple(d["input"])})
            for d in data
        ]
    except (TypeError, KeyError):
        return None
    typed = all(isinstance(e.name, str) and isinstance(e.macs, int) for e in entries)
    return entries if entries and typed else None
