"""`cnnprof list` as data for other programs: JSON (versioned), CSV and Markdown. Light: no
profile values."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from types import MappingProxyType
from typing import Any

from cnnprof.report.text import to_csv, to_json, to_markdown
from cnnprof.report.units import human
from cnnprof.report.view import View
from cnnprof.results.catalog import CatalogEntry

SCHEMA = "cnnprof.list/1"


def records(entries: Sequence[CatalogEntry]) -> list[dict[str, Any]]:
    """One plain record per registry entry, its aliases and input as lists."""
    return [{**asdict(e), "aliases": list(e.aliases), "input": list(e.input)} for e in entries]


def _csv(entries: Sequence[CatalogEntry]) -> str:
    flat = [
        {**r, "aliases": " ".join(r["aliases"]), "input": "×".join(map(str, r["input"]))}
        for r in records(entries)
    ]
    return to_csv(flat, list(flat[0]) if flat else ["name"])


def _markdown(entries: Sequence[CatalogEntry]) -> str:
    rows = [
        (
            r["name"],
            ", ".join(r["aliases"]),
            r["family"],
            human(r["params"]),
            human(r["macs"]),
            r["paper"],
        )
        for r in records(entries)
    ]
    return to_markdown(("name", "aliases", "family", "params", "MACs", "paper"), rows, right=3)


LIST_TEXT: Mapping[str, Callable[[Sequence[CatalogEntry]], str]] = MappingProxyType(
    {
        "json": lambda entries: to_json({"schema": SCHEMA, "models": records(entries)}),
        "csv": _csv,
        "md": _markdown,
    }
)


def present(entries: Sequence[CatalogEntry], view: View) -> str:
    """The registry's entries as ``view.format`` text (json, csv or md)."""
    return LIST_TEXT[view.format](entries)
