"""No document cnnprof writes holds NaN or Infinity (not JSON: other readers refuse them): the
one writer refuses such a figure with an error saying where it is, and writes nothing."""

from __future__ import annotations

import math

import pytest

import cnnprof
from cnnprof.errors import CnnprofError
from cnnprof.report.text import to_json
from cnnprof.results.json_text import json_text, non_finite


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_figure_is_an_error_naming_where_it_is(value: float):
    document = {"models": [{"model": "lenet5", "counts": {"macs": 1, "predicted_ms": value}}]}
    with pytest.raises(CnnprofError, match=r"\$\.models\[0\]\.counts\.predicted_ms"):
        to_json(document)
    with pytest.raises(CnnprofError, match="no document is written with NaN or infinity"):
        cnnprof.to_json(document)


def test_finite_documents_are_written_as_before():
    document = {"a": [1, 2.5, None, "µs"], "b": {"c": True}}
    assert to_json(document) == json_text(document)
    assert '"µs"' in to_json(document) and "\\u00b5s" in json_text(document, ensure_ascii=True)
    assert non_finite(document) is None
