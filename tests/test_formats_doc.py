"""docs/formats.md gives one name one unit and one meaning, in every document (issue 24: "a test
reads docs/formats.md and fails when one key carries two descriptions or two units").

A script written against one document reads the same key in another; the rules:
- a name carries one unit wherever it sits (compared by its leaf: `layers[].predicted_s` and
  `predicted_s` are one name; an empty cell: the unit stated elsewhere); a list of dimensions
  (`C, H, W`, `H, W`, `sizes`) is one unit, its dims being part of the meaning;
- a name's ending is its unit: `_s` seconds, `_ms` milliseconds, `_bytes` bytes, `_share` and
  `cv` fractions, `_ratio` ratios (a coefficient of variation is never a percentage);
- a key holding a number means one thing in every document: the rows of one key path
  (`predicted_s`, `layers[].time_share`) are described identically, or left empty ("as
  described above"), or refer to another document ("as in `cnnprof.latency/2` …"). The path,
  not the leaf, since a container qualifies its fields (`folded.params` are the parameters the
  file does not hold, `by_op[].macs` a sum over rows): one leaf's unit is checked above;
- `predicted_*` is the kernel models' prediction and `roofline_*` the roofline's estimate:
  every described row of such a key names its predictor;
- `schema` is the section's own heading.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import NUMERIC_UNITS

DOC = Path(__file__).resolve().parents[1] / "docs" / "formats.md"
DIMS = re.compile(r"[A-Z](, [A-Z])*|sizes")
# A name's ending → the unit it promises (checked in order: `_per_s` before `_s`).
SUFFIX_UNITS = (
    ("_per_s", None),
    ("_ms", "ms"),
    ("_s", "s"),
    ("_bytes", "bytes"),
    ("_share", "fraction"),
    ("cv", "fraction"),
    ("_ratio", "ratio"),
)
PREDICTORS = (("predicted_", "kernel models"), ("roofline_", "roofline"))
ROW = re.compile(r"\| (`[^|]*`) \|([^|]*)\|(.*)\|\s*$")


def rows(text: str) -> list[tuple[str, str, str, str]]:
    """(section, key, unit, description) for every key of every table under a schema heading;
    a cell naming several keys (`median_s`, `p10_s`) gives a row each."""
    out, section = [], None
    for line in text.splitlines():
        heading = re.match(r"## (cnnprof\.\S+)", line)
        if heading:
            section = heading.group(1)
            continue
        row = ROW.match(line)
        if row and section:
            unit, meaning = row.group(2).strip(), row.group(3).strip()
            out += [(section, k, unit, meaning) for k in re.findall(r"`([^`]+)`", row.group(1))]
    return out


def leaf(key: str) -> str:
    """``layers[].predicted_s`` → ``predicted_s``; ``input[][]`` → ``input``."""
    return key.replace("[]", "").rsplit(".", 1)[-1]


def _unit(unit: str) -> str:
    return "dims" if DIMS.fullmatch(unit) else unit


def _by_leaf(found: list[tuple[str, str, str, str]]) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for section, key, unit, meaning in found:
        if leaf(key) not in ("*", "schema"):
            out[leaf(key)].append((f"{section} {key}", _unit(unit), meaning))
    return out


def two_units(found: list[tuple[str, str, str, str]]) -> list[str]:
    """Each key whose rows name more than one unit."""
    return [
        f"{name}: {sorted({u for _, u, _ in uses if u})}"
        for name, uses in _by_leaf(found).items()
        if len({u for _, u, _ in uses if u}) > 1
    ]


def two_meanings(found: list[tuple[str, str, str, str]]) -> list[str]:
    """Each key path holding a number that its rows describe in more than one way."""
    said: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for section, key, unit, meaning in found:
        if unit in NUMERIC_UNITS and meaning and not meaning.startswith("as in `cnnprof."):
            said[key.replace("[]", "")][meaning].append(section)
    return [
        f"{path}: " + " | ".join(f"{', '.join(where)}: {m}" for m, where in meanings.items())
        for path, meanings in said.items()
        if len(meanings) > 1
    ]


def unnamed_predictor(found: list[tuple[str, str, str, str]]) -> list[str]:
    """Each described `predicted_*` row that does not say "kernel models", `roofline_*` row
    that does not say "roofline"."""
    return [
        f"{section} {key}: {meaning}"
        for section, key, _, meaning in found
        for prefix, words in PREDICTORS
        if leaf(key).startswith(prefix)
        and meaning
        and not meaning.startswith("as in `cnnprof.")
        and words not in meaning
    ]


def wrong_suffix(found: list[tuple[str, str, str, str]]) -> list[str]:
    """Each key whose unit is not the one its name's ending promises."""
    out = []
    for section, key, unit, _ in found:
        name = leaf(key)
        promised = next((u for end, u in SUFFIX_UNITS if name.endswith(end)), None)
        if promised is not None and unit and unit != promised:
            out.append(f"{section} {key}: {unit}, its name says {promised}")
    return out


def wrong_schema(found: list[tuple[str, str, str, str]]) -> list[str]:
    return [
        f"{section}: schema {meaning}"
        for section, key, _, meaning in found
        if key == "schema" and not meaning.startswith(f"`{section}`")
    ]


FOUND = rows(DOC.read_text(encoding="utf-8"))
RULES = {
    "two units": two_units,
    "two meanings": two_meanings,
    "predictor named": unnamed_predictor,
    "unit against name": wrong_suffix,
    "schema": wrong_schema,
}


@pytest.mark.parametrize("rule", list(RULES))
def test_formats_doc_gives_each_key_one_unit_and_one_meaning(rule: str) -> None:
    broken = RULES[rule](FOUND)
    assert not broken, f"docs/formats.md, {rule}:\n" + "\n".join(broken)


def test_the_rules_catch_what_issue_24_found() -> None:
    """The two documents that disagreed before: `predicted_s` the roofline in one and the kernel
    models in the other; `latency_cv` a percentage where `cv` is a fraction."""
    page = """
## cnnprof.latency/1 — x
| `predicted_s` | s | the roofline's estimate |
| `cv` | fraction | standard deviation over mean |
## cnnprof.prediction/1 — y
| `schema` | | `cnnprof.prediction/1` |
| `predicted_s` | s | the kernel models' prediction |
| `layers[].predicted_s` | | |
| `layers[].input[]` | C, H, W | |
| `models[].input[][]` | sizes | as in `cnnprof.latency/1` |
| `models[].latency_cv` | % | coefficient of variation, in percent |
| `layers[].cv` | % | |
"""
    found = rows(page)
    assert [leaf(k) for _, k, _, _ in found][-3:] == ["input", "latency_cv", "cv"]
    assert two_meanings(found) == [
        "predicted_s: cnnprof.latency/1: the roofline's estimate | "
        "cnnprof.prediction/1: the kernel models' prediction"
    ]
    assert unnamed_predictor(found) == ["cnnprof.latency/1 predicted_s: the roofline's estimate"]
    assert two_units(found) == ["cv: ['%', 'fraction']"]
    assert wrong_suffix(found) == [
        "cnnprof.prediction/1 models[].latency_cv: %, its name says fraction",
        "cnnprof.prediction/1 layers[].cv: %, its name says fraction",
    ]
    assert wrong_schema(found) == []
    assert wrong_schema([("cnnprof.x/2", "schema", "", "`cnnprof.x/1`")]) == [
        "cnnprof.x/2: schema `cnnprof.x/1`"
    ]
