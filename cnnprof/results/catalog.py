"""The registry's catalogue as `cnnprof list` shows it: one light value, apart from the tables'
results so that listing loads none of them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogEntry:
    """One registry model as `cnnprof list` shows it: counts at its default input."""

    name: str
    aliases: tuple[str, ...]
    family: str
    input: tuple[int, ...]
    params: int
    macs: int
    paper: str
