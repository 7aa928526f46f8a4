"""The three text writers every report uses: JSON (versioned by each caller's schema), CSV and
GitHub Markdown tables."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from cnnprof.results.json_text import json_text


def to_json(data: Any) -> str:
    """``data`` as indented JSON; a NaN or infinity in it is an error, never written."""
    return json_text(data)


def to_csv(records: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A header and a line per record; the columns are the first record's keys unless given."""
    import csv  # only a CSV output needs it

    buffer = io.StringIO()
    fields = list(records[0] if columns is None else columns)
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def to_markdown(headers: Sequence[str], rows: Iterable[Sequence[Any]], right: int = 1) -> str:
    """A GitHub table; columns from index ``right`` on are right-aligned."""
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---" if i < right else "---:" for i in range(len(headers))) + "|")
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"
