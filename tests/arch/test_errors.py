"""Two errors for two kinds of user file: a malformed architecture file is an `ArchError`, a
malformed baseline or budget a `CheckFileError`; neither is the other, both exit 2. A mistyped
name is answered with the closest one the file could have meant (issue 25, item 8)."""

from __future__ import annotations

import re

import pytest

from cnnprof.arch.load import check_design, load_yaml, parse_family
from cnnprof.errors import ArchError, CheckFileError, did_you_mean


def test_a_malformed_family_is_an_arch_error():
    with pytest.raises(ArchError, match=r"^f.yaml: field 'family': expected text") as caught:
        parse_family(
            "family: 3\npaper: x\ninput: [3, 8, 8]\nlayers: [{op: conv, out: 8}]\n", "f.yaml"
        )
    assert not isinstance(caught.value, CheckFileError) and caught.value.exit_code == 2


@pytest.mark.parametrize("error", [ArchError, CheckFileError])
def test_yaml_that_does_not_parse_raises_the_readers_error(error: type[Exception]):
    with pytest.raises(error, match=r"^b.yaml, line 2: not valid YAML") as caught:
        load_yaml("models: [", "b.yaml", error)
    assert type(caught.value) is error and caught.value.exit_code == 2


FAMILY = "family: f\npaper: x\ninput: [3, 8, 8]\n{defaults}layers: [{row}]\n"
REGNET = {"d": 3, "w0": 16, "wa": 8.0, "wm": 2.0, "g": 8}  # RegNet's design space (Radosavovic
# et al. 2020, section 3.3): depth, initial width, slope, quantization and group width


@pytest.mark.parametrize(
    ("defaults", "row", "suggestion"),
    [
        ("", "{op: cnov, out: 8}", "unknown op 'cnov' (did you mean 'conv'?)"),
        ("", "{op: conv, ouut: 8}", "unknown field 'ouut' (did you mean 'out'?)"),
        ("defaults: {nrom: bn}\n", "{op: conv, out: 8}", "(did you mean 'norm'?)"),
    ],
)
def test_a_mistyped_yaml_field_gets_the_closest_name(defaults: str, row: str, suggestion: str):
    with pytest.raises(ArchError, match=re.escape(suggestion)):
        parse_family(FAMILY.format(defaults=defaults, row=row), "f.yaml")


def test_a_mistyped_design_parameter_gets_the_closest_name():
    with pytest.raises(ArchError, match=re.escape("unknown parameter 'wn' (did you mean 'wm'?)")):
        check_design("regnet", {**REGNET, "wn": 2.0}, "design")


def test_no_suggestion_when_nothing_is_close():
    assert did_you_mean("zzz", ["alpha", "width"]) == ""
    assert did_you_mean("aplha", ["alpha", "width"]) == " (did you mean 'alpha'?)"
