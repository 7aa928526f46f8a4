"""Malformed family documents: every failure is a `CnnprofError`, never a bare Python error.

The documents go through the whole analytic path — `parse_family` (YAML → Family), then
`resolve` (multipliers) and `analytic.engine.profile` — so that a value the loader lets through
but the formulas cannot handle is caught too. Two generators: structured documents (dicts dumped
with ``yaml.safe_dump``, mostly plausible, with wrong types, missing fields, unknown ops, zero or
negative sizes, absurd strides and kernels, bad groups, non-mapping rows) and raw text.

The generators include non-finite and overflowing numbers, unhashable ops and rows whose keys
mix types; the inputs that once escaped as bare Python errors are pinned at the end of this file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from cnnprof.analytic.engine import profile
from cnnprof.arch.load import parse_family, read_family
from cnnprof.arch.multipliers import Multipliers
from cnnprof.arch.ops import COMMON, DEFAULTS, OPS, REQUIRED, Field
from cnnprof.arch.scale import resolve
from cnnprof.errors import CnnprofError

# The suite runs the same 300 examples every time (derandomized: no flaky CI). For a search, set
# CNNPROF_FUZZ_EXAMPLES=20000: random seeds.
EXPLORE = "CNNPROF_FUZZ_EXAMPLES" in os.environ
FUZZ = settings(
    max_examples=int(os.environ.get("CNNPROF_FUZZ_EXAMPLES", "300")),
    deadline=None,
    derandomize=not EXPLORE,
    database=None if not EXPLORE else settings.default.database,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

OP_NAMES = sorted(OPS)


MULTIPLIERS: list[dict[str, Any]] = [
    {},
    {"alpha": 0.5},
    {"alpha": 1.4, "resolution": 17},
    {"depth": 2.0},
    {"phi": 1.0},  # a family without compound coefficients must refuse it cleanly
]


def note(what: str) -> None:
    """Tally for --hypothesis-show-statistics (how far the documents get)."""
    if currently_in_test_context():
        event(what)


def run_through(text: str) -> None:
    """Parse, resolve every variant (as written and with multipliers), profile. Only
    `CnnprofError` may come out."""
    try:
        family = parse_family(text, "fuzz.yaml")
    except CnnprofError as exc:
        note(f"refused by the loader: {type(exc).__name__}")
        return
    for name in list(family.variants)[:3]:
        for options in MULTIPLIERS:
            try:
                profile(resolve(family, name, Multipliers(**options)))
                note("profiled")
            except CnnprofError as exc:
                note(f"refused by resolve/profile: {type(exc).__name__}")


# --- values -----------------------------------------------------------------------------------
#
# Each document draws a chaos level. 0: every value of the right type and in range — only the
# architecture can be wrong (a map that vanishes under a huge kernel or stride, groups that do
# not divide, an fc on a map, names used twice). 1: numbers out of range (zero, negative), missing
# fields, unknown ops, rows that are not mappings. 2 and 3: any type anywhere, unknown keys.

sizes = st.one_of(
    st.integers(-3, 40),
    st.sampled_from([0, -1, 1, 2, 3, 224, 10**6, 10**9, 2**31, -(10**6)]),
)
good_sizes = st.one_of(st.integers(1, 40), st.sampled_from([1, 2, 3, 7, 224, 10**6]))
floats = st.one_of(
    st.floats(-10.0, 1e4, allow_nan=False, allow_infinity=False),
    st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, 10**400]),
)
words = st.one_of(
    st.sampled_from(["same", "valid", "bn", "relu", "swish", "linear", "1x1", "3x3", "", "none"]),
    st.text(max_size=6),
)
scalars = st.one_of(st.none(), st.booleans(), sizes, floats, words)
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def plausible(key: str, field: Field, chaos: int) -> st.SearchStrategy[Any]:
    """A value of the field's kind; in range at chaos 0, else sometimes zero, negative, absurd."""
    if key == "repeat":  # bounded: `repeat: 10**9` is a (valid) billion layers
        return st.integers(1, 3) if chaos == 0 else st.integers(-1, 4)
    if key == "name":
        names = st.text("abcdefgh", min_size=2, max_size=4) | st.sampled_from(["0", "1", "2.0"])
        return names if chaos == 0 else words
    if field.kind == "int":
        if chaos:
            return sizes
        low = int(field.low) if field.low is not None else 1
        return good_sizes if low >= 1 else st.one_of(st.integers(low, 6), st.just(10**6))
    if field.kind == "float":
        if chaos:
            return st.one_of(floats, st.integers(-2, 8))
        low = field.low if field.low is not None else 0.0
        return st.one_of(st.floats(low, low + 16, allow_nan=False), st.integers(int(low), 8))
    if field.kind == "bool":
        return st.booleans()
    if field.kind == "choice":
        aliases = ["swish", "identity"] + (["bogus"] if chaos else [])
        return st.sampled_from([*field.choices, *(a for a in aliases if field.inherit == "act")])
    if field.kind == "padding":
        low = -2 if chaos else 0
        return st.one_of(st.just("same"), st.integers(low, 6), st.just(10**6))
    return words


@st.composite
def rows(draw: st.DrawFn, chaos: int) -> Any:
    kind = draw(st.integers(0, 19))
    if kind == 0 and chaos:  # not a mapping at all
        return draw(st.one_of(scalars, st.lists(scalars, max_size=3)))
    if kind == 1 and chaos:  # an op outside the vocabulary, unhashable ones included
        op = draw(st.one_of(words, sizes, st.none(), st.booleans(), st.lists(words, max_size=2)))
    else:
        # fc needs a 1×1 map: drawn less often, so that more documents get through
        op = draw(st.sampled_from([o for o in OP_NAMES if o != "fc"] * 3 + ["fc"]))
    schema = {**OPS.get(op, {}), **COMMON} if isinstance(op, str) else {}
    row: dict[str, Any] = {"op": op}
    for key, field in schema.items():
        roll = draw(st.integers(0, 9))
        if roll == 0 and chaos:
            continue  # missing: required fields must be reported
        if field.default is not REQUIRED and roll < (9 if key == "name" else 6):
            continue  # optional fields keep their defaults most of the time
        if roll == 9 and chaos > 1:
            row[key] = draw(anything)  # any type at all
        else:
            row[key] = draw(plausible(key, field, chaos))
    if chaos > 1 and draw(st.integers(0, 7)) == 0:
        row[draw(st.text(min_size=1, max_size=6))] = draw(scalars)  # unknown field
    return row


def variant(chaos: int) -> st.SearchStrategy[Any]:
    if chaos == 0:
        optional = {
            "aliases": st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True),
            "width": st.floats(0.1, 4.0),
            "depth": st.floats(0.2, 3.0),
            "resolution": st.integers(1, 300),
            "num_classes": st.integers(1, 1000),
            "published": st.lists(
                st.fixed_dictionaries({"source": st.just("Table 1")}, optional={"macs": floats}),
                max_size=2,
            ),
        }
        return st.fixed_dictionaries({}, optional=optional)
    optional = {
        "aliases": st.lists(words, max_size=2) | scalars,
        "width": st.floats(-1.0, 8.0, allow_nan=False) | words,
        "depth": st.floats(-1.0, 4.0, allow_nan=False),
        "resolution": sizes,
        "num_classes": sizes,
        "paper": scalars,
        "published": st.lists(
            st.fixed_dictionaries(
                {"source": words}, optional={"macs": floats | words, "width": floats}
            ),
            max_size=2,
        )
        | scalars,
        "layers": st.lists(rows(chaos), max_size=4),
    }
    return st.fixed_dictionaries({}, optional=optional) | scalars


@st.composite
def families(draw: st.DrawFn) -> dict[Any, Any]:
    chaos = draw(st.sampled_from([0, 0, 0, 0, 1, 1, 1, 2, 2, 3]))
    side = st.one_of(st.integers(1, 300), st.just(10**6))
    shapes = [st.tuples(st.integers(1, 8), side, side).map(list)]
    if chaos:
        shapes.append(st.lists(sizes, max_size=5))
    if chaos > 1:
        shapes.append(anything)
    doc: dict[Any, Any] = {
        "family": draw(st.sampled_from(["fuzz"] * 4) | words | sizes) if chaos > 1 else "fuzz",
        "paper": draw(st.sampled_from(["p"] * 4) | scalars) if chaos > 1 else "p",
        "input": draw(st.one_of(*shapes)),
        "layers": draw(st.lists(rows(chaos), min_size=0 if chaos > 1 else 1, max_size=8)),
    }
    if draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(list(DEFAULTS)), unique=True, max_size=4))
        defaults = {k: draw(plausible(k, DEFAULTS[k], chaos)) for k in chosen}
        if chaos > 1 and draw(st.booleans()):  # a wrong type, or a key defaults do not take
            defaults[draw(st.sampled_from([*DEFAULTS, "stride"]))] = draw(anything)
        doc["defaults"] = defaults
    if draw(st.booleans()):
        doc["channels"] = {
            "round": draw(st.sampled_from(["floor", "divisible"] + (["ceil"] if chaos else []))),
            "divisor": draw(sizes if chaos else good_sizes),
            "min": draw(sizes if chaos else good_sizes),
        }
    if draw(st.booleans()):
        value = floats if chaos else st.floats(0.5, 2.0)
        doc["compound"] = {k: draw(value) for k in ("alpha", "beta", "gamma")}
    if draw(st.booleans()):
        doc["variants"] = draw(
            st.dictionaries(
                st.one_of(st.sampled_from(["fuzz", "v1", "v2"]), st.text(min_size=1, max_size=5))
                if chaos < 2
                else st.one_of(st.text(min_size=1, max_size=5), sizes),
                variant(chaos),
                max_size=3,
            )
        )
    if chaos > 1:  # drop a key or add one the format does not know
        keys = sorted(doc, key=str)
        if draw(st.integers(0, 3)) == 0:
            del doc[draw(st.sampled_from(keys))]
        if draw(st.integers(0, 3)) == 0:
            doc[draw(st.one_of(st.text(max_size=5), sizes))] = draw(scalars)
    return doc


# --- the properties ---------------------------------------------------------------------------


@FUZZ
@given(families())
@pytest.mark.slow
def test_structured_documents(doc: dict[Any, Any]):
    run_through(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


@FUZZ
@given(families(), st.sampled_from([None, "[", "]", "{", ": :", "- -", "&a", "*b", "\t", "'"]))
@pytest.mark.slow
def test_structured_documents_as_text(doc: dict[Any, Any], garbage: str | None):
    """The same documents as flow-style YAML, sometimes with a stray token spliced in."""
    text = yaml.safe_dump(doc, default_flow_style=True, allow_unicode=True)
    if garbage is not None:
        text = text[: len(text) // 2] + garbage + text[len(text) // 2 :]
    run_through(text)


YAML_CHARS = "{}[]:,-#&*!|>'\"%@`?~ \n\t0123456789.eE+_abcdefghijklmnopqrstuvwxyz"


@FUZZ
@given(st.one_of(st.text(max_size=200), st.text(alphabet=YAML_CHARS, max_size=200)))
def test_garbage_text(text: str):
    run_through(text)


VALID = """\
family: fuzz
paper: p
input: [3, 32, 32]
layers:
  - {op: conv, out: 8, k: 3, s: 2}
  - {op: dws, out: 16}
  - {op: mbconv, out: 16, t: 6, se: 0.25}
  - {op: maxpool, k: 2}
  - {op: gap}
  - {op: fc, out: 10, classifier: true}
"""


@FUZZ
@given(
    st.integers(0, VALID.count("\n") - 1),
    st.one_of(st.text(alphabet=YAML_CHARS, max_size=40), st.text(max_size=20)),
)
def test_one_line_replaced(line: int, replacement: str):
    """A valid document with one line replaced by garbage."""
    lines = VALID.splitlines()
    lines[line] = replacement
    run_through("\n".join(lines) + "\n")


def test_valid_document_profiles():
    """The base of the mutations above is itself valid (else they would test nothing)."""
    family = parse_family(VALID, "fuzz.yaml")
    p = profile(resolve(family, "fuzz"))
    assert p.output.as_list() == [10, 1, 1]
    assert p.macs > 0


@pytest.mark.parametrize(
    "row",
    [
        "{op: conv, out: 8, s: 1000000}",
        "{op: conv, out: 8, k: 1000001}",
        "{op: conv, out: 8, k: 1000000, p: 0}",
        "{op: conv, out: 6, groups: 4}",
        "{op: conv, out: 8, groups: 3}",
        "{op: maxpool, k: 1000000}",
        "{op: avgpool, k: 2, s: 1000000}",
        "{op: dwconv, k: 999999, p: 0}",
        "{op: conv, out: 0}",
        "{op: conv, out: -8}",
        "{op: conv, k: 0, out: 8}",
        "{op: fc, out: 10}",
        "{op: mbconv, out: 8, t: 0.5}",
        "{op: mbconv, out: 8, t: abc}",  # text for a number: refused, not a TypeError
        "{op: inception, b1: 1}",
        "[op, conv]",
        "conv",
        "{op: Conv, out: 8}",
        "{op: conv, out: 8, stride: 2}",
    ],
)
def test_absurd_rows(row: str):
    run_through(VALID.replace("{op: dws, out: 16}", row))


# --- YAML is read with a safe loader ----------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system",
        "!!python/object/apply:subprocess.call",
        "!!python/object/new:os.system",
    ],
)
def test_python_tags_are_refused(tmp_path: Path, tag: str):
    marker = tmp_path / "pwned"
    command = f"touch {marker}"
    argument = f"[{command!r}]" if "subprocess" not in tag else f"[[touch, {marker}]]"
    for text in (
        f"{tag} {argument}\n",
        VALID.replace("paper: p", f"paper: {tag} {argument}"),
    ):
        with pytest.raises(CnnprofError, match="not valid YAML"):
            parse_family(text, "fuzz.yaml")
        assert not marker.exists()
    spec = tmp_path / "evil.yaml"
    spec.write_text(f"{tag} {argument}\n", encoding="utf-8")
    with pytest.raises(CnnprofError, match=r"evil\.yaml"):
        read_family(spec)
    assert not marker.exists()


def test_python_name_tag_is_refused():
    with pytest.raises(CnnprofError, match="not valid YAML"):
        parse_family("family: !!python/name:os.system ''\n", "fuzz.yaml")


# --- inputs that once escaped as bare Python errors (regressions) ------------------------------

ROW_CRASHES = [
    pytest.param(
        "{op: [conv], out: 8}",
        id="unhashable op (list): TypeError in load.parse_row `op not in OPS`",
    ),
    pytest.param(
        "{op: {a: 1}, out: 8}",
        id="unhashable op (mapping): TypeError in load.parse_row `op not in OPS`",
    ),
    pytest.param(
        "{op: conv, out: 8, 1: 2, foo: 3}",
        id="int and str unknown keys: TypeError in load.parse_row sorted(...)",
    ),
    pytest.param(
        "{op: conv, out: 8, ~: 2, foo: 3}",
        id="null and str unknown keys: TypeError in load.parse_row sorted(...)",
    ),
    pytest.param(
        "{op: conv, out: 8, 2020-01-01: 1, foo: 2}",
        id="date and str unknown keys: TypeError in load.parse_row sorted(...)",
    ),
    pytest.param(
        "{op: mbconv, out: 8, t: .inf}",
        id="t .inf: OverflowError in formulas.mbconv_mid",
    ),
    pytest.param(
        "{op: mbconv, out: 8, t: 1.0e+308}",
        id="t 1e308: OverflowError in formulas.mbconv_mid",
    ),
    pytest.param(
        "{op: mbconv, out: 8, se: .inf}",
        id="se .inf: OverflowError in formulas.se_squeeze",
    ),
    pytest.param(
        "{op: mbconv, out: 8, se: '0.0- -'}",
        id="se text: TypeError in load._value (text passed as a float, then compared)",
    ),
    pytest.param(
        "{op: mbconv, out: 8, t: " + "9" * 400 + "}",
        id="t a 400-digit int: OverflowError in load._value float()",
    ),
]


@pytest.mark.parametrize("row", ROW_CRASHES)
def test_known_row_crashes(row: str):
    run_through(VALID.replace("{op: dws, out: 16}", row))


VARIANT_CRASHES = [
    pytest.param("{width: .inf}", id="width .inf: OverflowError in scale.round_channels"),
    pytest.param("{width: .nan}", id="width .nan: ValueError in scale.round_channels"),
    pytest.param("{width: nan}", id="width 'nan' (text): ValueError in scale.round_channels"),
    pytest.param("{width: 1.0e+308}", id="width 1e308: OverflowError in scale.round_channels"),
    pytest.param(
        "{width: " + "9" * 400 + "}", id="width a 400-digit int: OverflowError in load._number"
    ),
    pytest.param("{depth: .inf}", id="depth .inf: OverflowError in scale.round_repeats"),
]


@pytest.mark.parametrize("variant", VARIANT_CRASHES)
def test_known_variant_crashes(variant: str):
    text = VALID.replace("{op: dws, out: 16}", "{op: dws, out: 16, repeat: 2}")
    run_through(text + f"variants:\n  fuzz: {variant}\n")
