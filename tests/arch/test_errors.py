"""Two errors for two kinds of user file: a malformed architecture file is an `ArchError`, a
malformed baseline or budget a `CheckFileError`; neither is the other, both exit 2."""

from __future__ import annotations

import pytest

from cnnprof.arch.load import load_yaml, parse_family
from cnnprof.errors import ArchError, CheckFileError


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
